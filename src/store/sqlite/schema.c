#include "store/sqlite/schema.h"

/*
 * Clear columns are ids, identifiers (names that are slugs, serials, models),
 * times and the certificate fingerprint: what lookups and indexes need.
 * Everything about people or machine behaviour is a sealed BLOB.
 * AUTOINCREMENT: an id is never reused, so associated data that names an id
 * can never match a row of a deleted organisation or machine.
 */
const char *const sqlite_migrations[] = {
	/* 0 -> 1: the foundation */
	"CREATE TABLE meta("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE orgs("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  parent_id INTEGER REFERENCES orgs(id),"
	"  kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 3),"
	"  name TEXT NOT NULL UNIQUE,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE INDEX orgs_parent ON orgs(parent_id);"
	"CREATE TABLE sites("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  customer_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  UNIQUE (customer_id, name));"
	"CREATE TABLE machine_groups("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  customer_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  parent_id INTEGER REFERENCES machine_groups(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  UNIQUE (customer_id, name));"
	"CREATE INDEX machine_groups_parent ON machine_groups(parent_id);"
	"CREATE TABLE machines("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  serial TEXT NOT NULL UNIQUE,"
	"  model TEXT NOT NULL,"
	"  customer_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  site_id INTEGER REFERENCES sites(id) ON DELETE SET NULL,"
	"  cert_fingerprint TEXT NOT NULL,"
	"  cert_pem TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  revoked_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX machines_customer ON machines(customer_id);"
	"CREATE INDEX machines_site ON machines(site_id);"
	/* Outlives its machine row, so the CRL still lists the certificates of
	 * machines whose customer was deleted. */
	"CREATE TABLE revoked_certs("
	"  fingerprint TEXT PRIMARY KEY,"
	"  cert_pem TEXT NOT NULL,"
	"  revoked_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE users("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  login TEXT NOT NULL UNIQUE,"
	"  role TEXT NOT NULL,"
	"  password_hash TEXT NOT NULL,"
	"  profile BLOB NOT NULL,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE INDEX users_org ON users(org_id);"
	"CREATE TABLE telemetry("
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  ts_ms INTEGER NOT NULL,"
	"  body BLOB NOT NULL,"
	"  PRIMARY KEY (machine_id, seq)) WITHOUT ROWID;"
	"CREATE INDEX telemetry_time ON telemetry(machine_id, ts_ms);"
	"CREATE TABLE events("
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  ts_ms INTEGER NOT NULL,"
	"  body BLOB NOT NULL,"
	"  PRIMARY KEY (machine_id, seq)) WITHOUT ROWID;"
	"CREATE INDEX events_time ON events(machine_id, ts_ms);",

	/* 1 -> 2: the machine channel's live state */
	"CREATE TABLE machine_state("
	"  machine_id INTEGER PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,"
	"  online INTEGER NOT NULL,"
	"  last_seen_ms INTEGER NOT NULL,"
	"  changed_ms INTEGER NOT NULL,"
	"  disconnect_reason TEXT NOT NULL DEFAULT '',"
	"  info BLOB);"
	/* Messages to machines (cmd topics), kept until the machine acknowledges. */
	"CREATE TABLE commands("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  body BLOB NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  delivered_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX commands_pending ON commands(machine_id, delivered_ms);"
	/* Refused messages, counted per machine and reason (never their content). */
	"CREATE TABLE refusals("
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  reason TEXT NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  last_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (machine_id, reason)) WITHOUT ROWID;",

	/* 2 -> 3: the tamper-evident audit log (src/access/audit.h). All clear:
	 * metadata about an access, never its payload. customer_id has no
	 * foreign key on purpose: the record of who read a customer's data
	 * outlives the customer. hash chains each row to the one before; the
	 * keyed checkpoint of the last row lives in meta "audit-head". */
	"CREATE TABLE audit("
	"  seq INTEGER PRIMARY KEY,"
	"  ts_ms INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  machines TEXT NOT NULL,"
	"  data_class TEXT NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  customer_id INTEGER NOT NULL,"
	"  hash BLOB NOT NULL);"
	"CREATE INDEX audit_time ON audit(ts_ms);"
	"CREATE INDEX audit_customer ON audit(customer_id, ts_ms);",

	/* 3 -> 4: grants, time-limited access of a subcontractor to named
	 * machines or a site, for a stated purpose. */
	"CREATE TABLE grants("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  machine_id INTEGER REFERENCES machines(id) ON DELETE CASCADE,"
	"  site_id INTEGER REFERENCES sites(id) ON DELETE CASCADE,"
	"  customer_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  purpose TEXT NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL,"
	"  revoked_ms INTEGER NOT NULL DEFAULT 0,"
	"  CHECK ((machine_id IS NULL) <> (site_id IS NULL)));"
	"CREATE INDEX grants_user ON grants(user_id);",

	/* 4 -> 5: policy versions and consent. Version 1 is the policy every
	 * customer accepts by contract; later versions that add a purpose need
	 * each customer's consent before its data serves that purpose. */
	"CREATE TABLE policy_versions("
	"  version INTEGER PRIMARY KEY,"
	"  last_updated TEXT NOT NULL,"
	"  purposes TEXT NOT NULL,"
	"  text TEXT NOT NULL,"
	"  published_ms INTEGER NOT NULL);"
	"INSERT INTO policy_versions VALUES (1, '2026-11-28', 'downtime,support,updates',"
	"  'CoffeeCloud stores machine data only: telemetry, events and the state of coffee machines. "
	"It refuses card numbers, personal and financial data at the door. People who work on a machine "
	"(technicians, service, sales, subcontractors) see only their machines and only the data classes "
	"of their role; every access is recorded. Data is used to reduce downtime, support the machines "
	"and deliver software updates.', 0);"
	"CREATE TABLE consents("
	"  customer_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  version INTEGER NOT NULL REFERENCES policy_versions(version),"
	"  login TEXT NOT NULL,"
	"  at_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (customer_id, version)) WITHOUT ROWID;",

	/* 5 -> 6: the people channel's credentials, TOTP, and reports. Sessions
	 * and API tokens live here rather than in a daemon's memory, so they
	 * outlive a restart and serve every node of a scale-out. */
	"CREATE TABLE credentials("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  token_hash BLOB NOT NULL UNIQUE,"
	"  kind INTEGER NOT NULL,"
	"  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  role TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  csrf_hash BLOB,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  created_by TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL,"
	"  revoked_ms INTEGER NOT NULL DEFAULT 0,"
	"  rate_per_min INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX credentials_expiry ON credentials(kind, expires_ms);"
	"ALTER TABLE users ADD COLUMN totp BLOB;"
	"ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE reports("
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  ts_ms INTEGER NOT NULL,"
	"  body BLOB NOT NULL,"
	"  PRIMARY KEY (machine_id, seq)) WITHOUT ROWID;"
	"CREATE INDEX reports_time ON reports(machine_id, ts_ms);",

	/* 6 -> 7: the integrity MAC of every row that decides access
	 * (src/vault/rowmac.c). NULL until the vault seals the row: existing
	 * rows are sealed once, by the first process that opens the data
	 * directory with the key; after that a NULL is a mismatch. */
	"ALTER TABLE orgs ADD COLUMN mac BLOB;"
	"ALTER TABLE machines ADD COLUMN mac BLOB;"
	"ALTER TABLE users ADD COLUMN mac BLOB;"
	"ALTER TABLE grants ADD COLUMN mac BLOB;"
	"ALTER TABLE credentials ADD COLUMN mac BLOB;",

	/* 7 -> 8: which language of a version a customer's consent was given
	 * in (versions are documents in several languages from now on). */
	"ALTER TABLE consents ADD COLUMN language TEXT NOT NULL DEFAULT 'en';",

	/* 8 -> 9: a command the machine can never receive (larger than the
	 * Maximum Packet Size it announced) ends as failed, with the reason. */
	"ALTER TABLE commands ADD COLUMN failed_ms INTEGER NOT NULL DEFAULT 0; "
	"ALTER TABLE commands ADD COLUMN failure "
	"TEXT NOT NULL DEFAULT '';",

	/* 9 -> 10: a person's request to delete their account, and the logins
	 * of deleted accounts. The audit log names people by login and cannot
	 * be rewritten, so a login is never given to a later account: the
	 * trigger retires it whichever way an account row goes (an admin's
	 * deletion, or with its organisation when a customer is erased). The
	 * login is kept in clear: it is the pseudonym the audit log holds in
	 * clear anyway, and nothing else of the person stays. */
	"ALTER TABLE users ADD COLUMN deletion_requested_ms INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE retired_logins("
	"  login TEXT PRIMARY KEY,"
	"  retired_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TRIGGER users_retire_login AFTER DELETE ON users BEGIN"
	"  INSERT OR IGNORE INTO retired_logins(login, retired_ms)"
	"  VALUES (OLD.login, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));"
	"END;",

	/* 10 -> 11: telemetry roll-ups, per machine, per minute and per hour
	 * (width_ms): count, min, max and sum per metric, sealed like the
	 * records they summarise (src/records/rollup.h). Kept in step with the
	 * telemetry table: written in the transaction that moves records in. */
	"CREATE TABLE rollups("
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  width_ms INTEGER NOT NULL,"
	"  start_ms INTEGER NOT NULL,"
	"  body BLOB NOT NULL,"
	"  PRIMARY KEY (machine_id, width_ms, start_ms)) WITHOUT ROWID;",

	/* 11 -> 12: the history of each machine's states (src/fleet/downtime.h):
	 * its link (value 1 online, 0 offline; reason why it went), critical
	 * faults (code; value 1 raised, 0 cleared) and maintenance (code the
	 * reason; value the planned end, 0 ended; reason who). Clear, like
	 * machine_state: availability over a fleet is a query. Link changes
	 * are recorded by the triggers, in the transaction that changes the
	 * live state, whichever code path does it. */
	"CREATE TABLE state_changes("
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  at_ms INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 3),"
	"  code TEXT NOT NULL,"
	"  value INTEGER NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  PRIMARY KEY (machine_id, at_ms, kind, code)) WITHOUT ROWID;"
	"CREATE INDEX state_changes_time ON state_changes(at_ms);"
	"CREATE TRIGGER machine_state_link_new AFTER INSERT ON machine_state BEGIN"
	"  INSERT OR REPLACE INTO state_changes VALUES (NEW.machine_id, NEW.changed_ms, 1, '', NEW.online,"
	"    CASE WHEN NEW.online THEN '' ELSE NEW.disconnect_reason END);"
	"END;"
	"CREATE TRIGGER machine_state_link AFTER UPDATE OF online ON machine_state"
	"  WHEN OLD.online <> NEW.online BEGIN"
	"  INSERT OR REPLACE INTO state_changes VALUES (NEW.machine_id, NEW.changed_ms, 1, '', NEW.online,"
	"    CASE WHEN NEW.online THEN '' ELSE NEW.disconnect_reason END);"
	"END;"
	/* Machines seen before: their link from their live state. */
	"INSERT INTO state_changes SELECT machine_id, changed_ms, 1, '', online,"
	"  CASE WHEN online THEN '' ELSE disconnect_reason END FROM machine_state;",

	/* 12 -> 13: jobs (src/fleet/jobs.h). A job is one command for several
	 * machines; its targets are commands rows, each with its own life
	 * (queued, sent, acknowledged, then succeeded, failed, timed out or
	 * cancelled). The job keeps no customer's name: how its targets were
	 * chosen, not which customer's machines they were. Commands that failed
	 * before jobs existed end as failed. */
	"CREATE TABLE jobs("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  timeout_ms INTEGER NOT NULL,"
	"  cancelled_ms INTEGER NOT NULL DEFAULT 0,"
	"  cancelled_by TEXT NOT NULL DEFAULT '');"
	"ALTER TABLE commands ADD COLUMN job_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE commands ADD COLUMN deadline_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE commands ADD COLUMN accepted_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE commands ADD COLUMN ended_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE commands ADD COLUMN end_state TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE commands ADD COLUMN detail TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE commands ADD COLUMN late_results INTEGER NOT NULL DEFAULT 0;"
	"UPDATE commands SET ended_ms = failed_ms, end_state = 'failed' WHERE failed_ms > 0;"
	"CREATE INDEX commands_job ON commands(job_id) WHERE job_id > 0;"
	"CREATE INDEX commands_open ON commands(deadline_ms) WHERE ended_ms = 0 AND deadline_ms > 0;",

	/* 13 -> 14: certificate lifecycle (src/fleet/provision.h): the
	 * certificate's expiry, kept so audits need not parse every PEM, and
	 * after a renewal the superseded certificate, accepted until
	 * prev_cert_until_ms so a machine that missed its new one can still
	 * connect. The meta key machine-cert-days holds the default validity. */
	"ALTER TABLE machines ADD COLUMN cert_not_after_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE machines ADD COLUMN prev_cert_fingerprint TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE machines ADD COLUMN prev_cert_pem TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE machines ADD COLUMN prev_cert_until_ms INTEGER NOT NULL DEFAULT 0;",

	/* 14 -> 15: the fleet managed through the API. Sites get a place
	 * (address, coarse position in hundredths of a degree, a tz database
	 * zone); a group either lists its machines (group_machines) or carries
	 * a filter of the fleet list (dynamic); machines can be decommissioned
	 * or retired by a move to another customer (the row keeps the records
	 * sealed under the old customer: serial becomes '~' || id, the real one
	 * stays in origin_serial); organisations and accounts can be deactivated. */
	"ALTER TABLE sites ADD COLUMN address TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE sites ADD COLUMN lat_e2 INTEGER;"
	"ALTER TABLE sites ADD COLUMN lon_e2 INTEGER;"
	"ALTER TABLE sites ADD COLUMN timezone TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE machine_groups ADD COLUMN filter TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE group_machines("
	"  group_id INTEGER NOT NULL REFERENCES machine_groups(id) ON DELETE CASCADE,"
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (group_id, machine_id)) WITHOUT ROWID;"
	"CREATE INDEX group_machines_machine ON group_machines(machine_id);"
	"ALTER TABLE machines ADD COLUMN decommissioned_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE machines ADD COLUMN origin_serial TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX machines_model ON machines(model, serial);"
	"ALTER TABLE orgs ADD COLUMN deactivated_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE users ADD COLUMN deactivated_ms INTEGER NOT NULL DEFAULT 0;",

	/* 15 -> 16: notifications that are never lost (src/notify/outbox.h).
	 * webhooks: an organisation's endpoints; the signing secret sealed
	 * under its data key with the URL in the associated data (an edited URL
	 * no longer opens it), the previous secret until prev_until_ms after a
	 * rotation. outbox: one row per (notification, destination), body
	 * sealed; msg_id is the webhook-id every attempt carries. state: 0
	 * pending, 1 delivered, 2 failed, 3 gone (destination removed).
	 * notify_attempts: the delivery log, one row per attempt. */
	"CREATE TABLE webhooks("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  url TEXT NOT NULL,"
	"  secret BLOB NOT NULL,"
	"  prev_secret BLOB,"
	"  prev_until_ms INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL,"
	"  disabled_ms INTEGER NOT NULL DEFAULT 0,"
	"  failures INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX webhooks_org ON webhooks(org_id);"
	"CREATE TABLE outbox("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  msg_id TEXT NOT NULL,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  webhook_id INTEGER REFERENCES webhooks(id) ON DELETE SET NULL,"
	"  user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,"
	"  kind TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  body BLOB NOT NULL,"
	"  state INTEGER NOT NULL DEFAULT 0,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_ms INTEGER NOT NULL,"
	"  last_status INTEGER NOT NULL DEFAULT 0,"
	"  done_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX outbox_due ON outbox(state, next_ms);"
	"CREATE INDEX outbox_webhook ON outbox(webhook_id, id);"
	"CREATE TABLE notify_attempts("
	"  outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,"
	"  attempt INTEGER NOT NULL,"
	"  at_ms INTEGER NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  duration_ms INTEGER NOT NULL,"
	"  error TEXT NOT NULL,"
	"  PRIMARY KEY (outbox_id, attempt)) WITHOUT ROWID;"
	/* A person's choice of e-mails: kinds and sites ('' all), quiet hours
	 * ("HH:MM-HH:MM" in tz, '' none), language. No row: every kind, in English. */
	"CREATE TABLE notify_prefs("
	"  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"  email INTEGER NOT NULL,"
	"  kinds TEXT NOT NULL,"
	"  sites TEXT NOT NULL,"
	"  quiet TEXT NOT NULL,"
	"  tz TEXT NOT NULL,"
	"  language TEXT NOT NULL);",

	/* 16 -> 17: alerts (src/alerts/alerts.h). At most one unresolved alert
	 * per machine and cause (the rule and what it is about, e.g. an error
	 * code): the engine opens and resolves idempotently against that index.
	 * Clear columns (machine, rule, cause, states, who): alerts are status,
	 * listed over a fleet. Comments are people's notes: sealed under the
	 * customer's key. Rules per organisation; an organisation without a
	 * row inherits its parent's, then the shipped default. */
	"CREATE TABLE alerts("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  rule TEXT NOT NULL,"
	"  cause TEXT NOT NULL,"
	"  severity TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),"
	"  opened_ms INTEGER NOT NULL,"
	"  acknowledged_ms INTEGER NOT NULL DEFAULT 0,"
	"  acknowledged_by TEXT NOT NULL DEFAULT '',"
	"  resolved_ms INTEGER NOT NULL DEFAULT 0,"
	"  resolved_by TEXT NOT NULL DEFAULT '',"
	"  level INTEGER NOT NULL DEFAULT 0,"
	"  level_ms INTEGER NOT NULL,"
	"  last_notified_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX alerts_cause ON alerts(machine_id, cause) WHERE state <> 'resolved';"
	"CREATE INDEX alerts_machine ON alerts(machine_id, id);"
	"CREATE TABLE alert_events("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,"
	"  at_ms INTEGER NOT NULL,"
	"  who TEXT NOT NULL,"
	"  what TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  note BLOB);"
	"CREATE INDEX alert_events_alert ON alert_events(alert_id, seq);"
	"CREATE TABLE alert_rules("
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  rule TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL,"
	"  params TEXT NOT NULL,"
	"  PRIMARY KEY (org_id, rule)) WITHOUT ROWID;",
	/* A site's business hours as written (fleet/hours.h): availability
	 * within them, alerts that wait for opening time. */
	"ALTER TABLE sites ADD COLUMN hours TEXT NOT NULL DEFAULT '';",

	/* 18 -> 19: the certificates leave the machines row for machine_certs.
	 * A PEM (about 700 bytes) was most of a row: four machines to a 4 KiB
	 * page, so every pass over the fleet (the list, its filters, the
	 * joins by machine) read every certificate it passed. Column order
	 * would not help (the row fits its page, no overflow to skip): the
	 * pages must hold fewer bytes. DROP COLUMN would rewrite each row in
	 * place and leave as many pages, mostly empty; the table is rebuilt
	 * instead (SQLite's generalized ALTER TABLE procedure; migrate() runs
	 * it with foreign keys off, so the DROP cascades to nothing, and checks
	 * them before the commit). Ids, and so the rows' MACs, stay as they
	 * were (a MAC covers the fingerprint, not the PEM); the AUTOINCREMENT
	 * counter is carried over, so no id is ever given again. */
	"CREATE TABLE machine_certs("
	"  machine_id INTEGER PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,"
	"  cert_pem TEXT NOT NULL,"
	"  prev_cert_pem TEXT NOT NULL DEFAULT '');"
	"INSERT INTO machine_certs SELECT id, cert_pem, prev_cert_pem FROM machines ORDER BY id;"
	"CREATE TABLE machines_new("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  serial TEXT NOT NULL UNIQUE,"
	"  model TEXT NOT NULL,"
	"  customer_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  site_id INTEGER REFERENCES sites(id) ON DELETE SET NULL,"
	"  cert_fingerprint TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  revoked_ms INTEGER NOT NULL DEFAULT 0,"
	"  mac BLOB,"
	"  cert_not_after_ms INTEGER NOT NULL DEFAULT 0,"
	"  prev_cert_fingerprint TEXT NOT NULL DEFAULT '',"
	"  prev_cert_until_ms INTEGER NOT NULL DEFAULT 0,"
	"  decommissioned_ms INTEGER NOT NULL DEFAULT 0,"
	"  origin_serial TEXT NOT NULL DEFAULT '');"
	"INSERT INTO machines_new(id, serial, model, customer_id, site_id, cert_fingerprint, created_ms,"
	"  revoked_ms, mac, cert_not_after_ms, prev_cert_fingerprint, prev_cert_until_ms, decommissioned_ms,"
	"  origin_serial)"
	"  SELECT id, serial, model, customer_id, site_id, cert_fingerprint, created_ms, revoked_ms, mac,"
	"  cert_not_after_ms, prev_cert_fingerprint, prev_cert_until_ms, decommissioned_ms, origin_serial"
	"  FROM machines ORDER BY id;"
	"DELETE FROM sqlite_sequence WHERE name = 'machines_new';"
	"INSERT INTO sqlite_sequence(name, seq) SELECT 'machines_new', seq FROM sqlite_sequence"
	"  WHERE name = 'machines';"
	"DROP TABLE machines;"
	"ALTER TABLE machines_new RENAME TO machines;"
	"CREATE INDEX machines_customer ON machines(customer_id);"
	"CREATE INDEX machines_site ON machines(site_id);"
	"CREATE INDEX machines_model ON machines(model, serial);",

	/* 19 -> 20: quality rule sets (src/quality/ruleset.h): every version of
	 * every model's standard, kept, so that the version that judged a day
	 * can always be shown. The manufacturer's engineering documents, not
	 * customer data: clear text. */
	"CREATE TABLE quality_rulesets("
	"  model TEXT NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  author TEXT NOT NULL,"
	"  doc TEXT NOT NULL,"
	"  PRIMARY KEY (model, version)) WITHOUT ROWID;",

	/* 20 -> 21: retention agreed with a customer, shorter than the
	 * installation's (src/fleet/retention_terms.h). */
	"CREATE TABLE retention_terms("
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('telemetry', 'rollups', 'events', 'reports')),"
	"  days INTEGER NOT NULL CHECK (days BETWEEN 1 AND 36500),"
	"  set_by TEXT NOT NULL,"
	"  set_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (org_id, kind)) WITHOUT ROWID;",

	/* 21 -> 22: software updates (store/updates.h, docs/UPDATES.md): the release
	 * keys the platform trusts (public; a revoked one is kept, so what it
	 * signed is refused by name), the artifacts uploaded (their signed
	 * metadata; the files under DIR/artifacts/), and the one artifact each
	 * machine is offered now. */
	"CREATE TABLE release_keys("
	"  key_id TEXT PRIMARY KEY,"
	"  pem TEXT NOT NULL,"
	"  label TEXT NOT NULL,"
	"  added_ms INTEGER NOT NULL,"
	"  added_by TEXT NOT NULL,"
	"  revoked_ms INTEGER NOT NULL DEFAULT 0,"
	"  revoked_by TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
	"CREATE TABLE artifacts("
	"  sha256 TEXT PRIMARY KEY,"
	"  version TEXT NOT NULL,"
	"  models TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  key_id TEXT NOT NULL REFERENCES release_keys(key_id),"
	"  expires_ms INTEGER NOT NULL,"
	"  added_ms INTEGER NOT NULL,"
	"  added_by TEXT NOT NULL,"
	"  meta TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE update_offers("
	"  machine_id INTEGER PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,"
	"  sha256 TEXT NOT NULL REFERENCES artifacts(sha256),"
	"  offered_ms INTEGER NOT NULL,"
	"  offered_by TEXT NOT NULL);",

	/* 22 -> 23: the days of events that changed since they were digested
	 * (src/records/event_days.h). The digests themselves are roll-ups of
	 * width EVENT_DAYS_WIDTH_MS (negative: no telemetry width) in rollups.
	 * Every day that already holds events is to be digested. */
	"CREATE TABLE event_days_dirty("
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  day_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (day_ms, machine_id)) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO event_days_dirty(machine_id, day_ms)"
	"  SELECT DISTINCT machine_id, ts_ms - ts_ms % 86400000 FROM events WHERE ts_ms >= 0;",

	/* 23 -> 24: each machine's last successful cleaning per program, so
	 * that an overdue cleaning still raises its alert after a restart
	 * (alerts/alerts.c). A time per machine and program: machine data,
	 * clear text like the machines' states. Known from the next cleaning
	 * on (the events are sealed; no migration reads them). */
	"CREATE TABLE last_cleanings("
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  program TEXT NOT NULL,"
	"  ts_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (machine_id, program)) WITHOUT ROWID;",

	/* 24 -> 25: diagnostics bundles (store/diagnostics.h, fleet/diagnostics.h):
	 * a person's request to a machine, and the bundle it uploaded, sealed
	 * under its customer's key in 64 KiB chunks. */
	"CREATE TABLE diag_bundles("
	"  id INTEGER PRIMARY KEY,"
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  customer_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  requested_by TEXT NOT NULL,"
	"  requested_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL,"
	"  max_bytes INTEGER NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('requested', 'uploading', 'complete', 'failed', 'expired')),"
	"  received INTEGER NOT NULL DEFAULT 0,"
	"  sha256 TEXT NOT NULL DEFAULT '',"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  completed_ms INTEGER NOT NULL DEFAULT 0,"
	"  job_id INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX diag_bundles_machine ON diag_bundles(machine_id, id);"
	"CREATE INDEX diag_bundles_customer ON diag_bundles(customer_id);"
	"CREATE TABLE diag_chunks("
	"  bundle_id INTEGER NOT NULL REFERENCES diag_bundles(id) ON DELETE CASCADE,"
	"  pos INTEGER NOT NULL,"
	"  blob BLOB NOT NULL,"
	"  PRIMARY KEY (bundle_id, pos)) WITHOUT ROWID;",

	/* 25 -> 26: service tickets (store/tickets.h, fleet/tickets.h): a ticket
	 * per machine, its history a line per change with who and when; the
	 * people's words sealed. The customer's erasure takes them along. */
	"CREATE TABLE tickets("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  customer_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  alert_id INTEGER REFERENCES alerts(id) ON DELETE SET NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('open', 'assigned', 'in_progress', 'waiting_customer', 'resolved',"
	"                                      'closed')),"
	"  assignee TEXT NOT NULL DEFAULT '',"
	"  opened_ms INTEGER NOT NULL,"
	"  opened_by TEXT NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  closed_ms INTEGER NOT NULL DEFAULT 0,"
	"  events INTEGER NOT NULL DEFAULT 0,"
	"  title BLOB NOT NULL,"
	"  description BLOB);"
	"CREATE INDEX tickets_machine ON tickets(machine_id, id);"
	"CREATE INDEX tickets_customer ON tickets(customer_id, id);"
	"CREATE INDEX tickets_alert ON tickets(alert_id) WHERE alert_id IS NOT NULL;"
	"CREATE TABLE ticket_events("
	"  ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  at_ms INTEGER NOT NULL,"
	"  who TEXT NOT NULL,"
	"  what TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  text BLOB,"
	"  PRIMARY KEY (ticket_id, seq)) WITHOUT ROWID;",

	/* 26 -> 27: staged rollouts (store/rollouts.h, docs/UPDATES.md): each
	 * rollout, each machine's place and progress in it (one active rollout
	 * per machine: the partial unique index), and what the machines
	 * reported (their timeline). */
	"CREATE TABLE rollouts("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  sha256 TEXT NOT NULL REFERENCES artifacts(sha256),"
	"  target TEXT NOT NULL,"
	"  phases TEXT NOT NULL,"
	"  soak_ms INTEGER NOT NULL,"
	"  threshold_pct INTEGER NOT NULL,"
	"  min_reports INTEGER NOT NULL,"
	"  win TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'halted', 'aborted', 'completed')),"
	"  phase INTEGER NOT NULL,"
	"  phase_done_ms INTEGER NOT NULL,"
	"  skipped INTEGER NOT NULL,"
	"  halt_reason TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  updated_by TEXT NOT NULL,"
	"  ended_ms INTEGER NOT NULL);"
	"CREATE TABLE rollout_machines("
	"  rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,"
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  active INTEGER NOT NULL,"
	"  phase INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"
	"  percent INTEGER NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  offered_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (rollout_id, machine_id)) WITHOUT ROWID;"
	"CREATE UNIQUE INDEX rollout_machines_active ON rollout_machines(machine_id) WHERE active = 1;"
	"CREATE TABLE rollout_reports("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,"
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  at_ms INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"
	"  percent INTEGER NOT NULL,"
	"  reason TEXT NOT NULL);"
	"CREATE INDEX rollout_reports_machine ON rollout_reports(machine_id, at_ms);",
	/* 27 -> 28: a rollout's health margin (update/rollout.h
	 * rollout_health_verdict); rollouts made before keep the default. */
	"ALTER TABLE rollouts ADD COLUMN health_margin INTEGER NOT NULL DEFAULT 5;",
	/* 28 -> 29: remote configuration (store/machine_config.h,
	 * fleet/machine_config.h): every desired version per machine with who,
	 * when and why, and the machine's one retained report; documents and
	 * reasons sealed. The customer's erasure takes them along. */
	"CREATE TABLE machine_config_desired("
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  version INTEGER NOT NULL,"
	"  at_ms INTEGER NOT NULL,"
	"  job_id INTEGER NOT NULL,"
	"  who TEXT NOT NULL,"
	"  doc BLOB NOT NULL,"
	"  why BLOB NOT NULL,"
	"  PRIMARY KEY (machine_id, version)) WITHOUT ROWID;"
	"CREATE TABLE machine_config_reported("
	"  machine_id INTEGER PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,"
	"  at_ms INTEGER NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  rejected INTEGER NOT NULL,"
	"  body BLOB NOT NULL);",
	/* 29 -> 30: the water each machine brewed since its last descale
	 * (alerts/alerts.c, descaling by litres), sealed under its customer's
	 * key: how much a café brews is its business. */
	"CREATE TABLE descale_water("
	"  machine_id INTEGER PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,"
	"  sealed BLOB NOT NULL);",
	/* 30 -> 31: progress of every offer, a rollout's or one made to a single
	 * machine (`artifact offer`): the reports' history names the artifact
	 * and a rollout only when there is one (it was NOT NULL, so a directly
	 * offered machine's reports had nowhere to go), and the offer keeps the
	 * machine's latest state for its update status. */
	"CREATE TABLE rollout_reports_new("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  rollout_id INTEGER REFERENCES rollouts(id) ON DELETE CASCADE,"
	"  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  sha256 TEXT NOT NULL,"
	"  at_ms INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"
	"  percent INTEGER NOT NULL,"
	"  reason TEXT NOT NULL);"
	"INSERT INTO rollout_reports_new(seq, rollout_id, machine_id, sha256, at_ms, state, percent, reason)"
	"  SELECT rr.seq, rr.rollout_id, rr.machine_id, r.sha256, rr.at_ms, rr.state, rr.percent, rr.reason"
	"  FROM rollout_reports rr JOIN rollouts r ON r.id = rr.rollout_id;"
	"DROP TABLE rollout_reports;"
	"ALTER TABLE rollout_reports_new RENAME TO rollout_reports;"
	"CREATE INDEX rollout_reports_machine ON rollout_reports(machine_id, at_ms);"
	"ALTER TABLE update_offers ADD COLUMN state TEXT NOT NULL DEFAULT 'offered';"
	"ALTER TABLE update_offers ADD COLUMN percent INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE update_offers ADD COLUMN reason TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE update_offers ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;"
	"UPDATE update_offers SET updated_ms = offered_ms;",
	/* 31 -> 32: service tickets have a retention of their own
	 * (fleet/retention_terms.h RETAIN_TICKETS), so a customer may agree a
	 * shorter one: the table is rebuilt with the kind in its CHECK. */
	"CREATE TABLE retention_terms_new("
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('telemetry', 'rollups', 'events', 'reports', 'tickets')),"
	"  days INTEGER NOT NULL CHECK (days BETWEEN 1 AND 36500),"
	"  set_by TEXT NOT NULL,"
	"  set_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (org_id, kind)) WITHOUT ROWID;"
	"INSERT INTO retention_terms_new(org_id, kind, days, set_by, set_ms) "
	"  SELECT org_id, kind, days, set_by, set_ms FROM retention_terms;"
	"DROP TABLE retention_terms;"
	"ALTER TABLE retention_terms_new RENAME TO retention_terms;",
	/* 32 -> 33: configuration rollouts (fleet/rollouts.h): a rollout carries
	 * either an artifact (kind update) or a configuration document and the
	 * reason given for it (kind config), so the artifact becomes optional;
	 * each machine's row keeps the desired version the rollout set, which
	 * its report is matched against. The document is the manufacturer's
	 * own, as a rule set: clear text; each machine's copy is sealed under
	 * its customer's key (store/machine_config.h). */
	"CREATE TABLE rollouts_new("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind TEXT NOT NULL CHECK (kind IN ('update', 'config')),"
	"  sha256 TEXT REFERENCES artifacts(sha256),"
	"  config TEXT NOT NULL,"
	"  why TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  phases TEXT NOT NULL,"
	"  soak_ms INTEGER NOT NULL,"
	"  threshold_pct INTEGER NOT NULL,"
	"  min_reports INTEGER NOT NULL,"
	"  win TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'halted', 'aborted', 'completed')),"
	"  phase INTEGER NOT NULL,"
	"  phase_done_ms INTEGER NOT NULL,"
	"  skipped INTEGER NOT NULL,"
	"  halt_reason TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  updated_by TEXT NOT NULL,"
	"  ended_ms INTEGER NOT NULL,"
	"  health_margin INTEGER NOT NULL DEFAULT 5,"
	"  CHECK ((kind = 'update') = (sha256 IS NOT NULL)));"
	"INSERT INTO rollouts_new(id, kind, sha256, config, why, target, phases, soak_ms, threshold_pct,"
	"  min_reports, win, state, phase, phase_done_ms, skipped, halt_reason, created_ms, created_by,"
	"  updated_ms, updated_by, ended_ms, health_margin)"
	"  SELECT id, 'update', sha256, '', '', target, phases, soak_ms, threshold_pct, min_reports, win, state,"
	"  phase, phase_done_ms, skipped, halt_reason, created_ms, created_by, updated_ms, updated_by, ended_ms,"
	"  health_margin FROM rollouts ORDER BY id;"
	"DELETE FROM sqlite_sequence WHERE name = 'rollouts_new';"
	"INSERT INTO sqlite_sequence(name, seq) SELECT 'rollouts_new', seq FROM sqlite_sequence"
	"  WHERE name = 'rollouts';"
	"DROP TABLE rollouts;"
	"ALTER TABLE rollouts_new RENAME TO rollouts;"
	"ALTER TABLE rollout_machines ADD COLUMN config_version INTEGER NOT NULL DEFAULT 0;"
	/* Configuration templates per organisation and model, inherited down
	 * the tree, and the limits the manufacturer sets on a customer's own
	 * changes (fleet/config_templates.h); an organisation's erasure takes
	 * them along. Recipe values and the notes-filtered reason: clear text. */
	"CREATE TABLE config_templates("
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  model TEXT NOT NULL,"
	"  what TEXT NOT NULL CHECK (what IN ('template', 'limits')),"
	"  at_ms INTEGER NOT NULL,"
	"  who TEXT NOT NULL,"
	"  doc TEXT NOT NULL,"
	"  why TEXT NOT NULL,"
	"  PRIMARY KEY (org_id, model, what)) WITHOUT ROWID;",
	/* 33 -> 34: configuration rollouts judged on quality compliance too
	 * (fleet/rollouts.h compliance_margin: points the changed machines may
	 * lose against the rest; 100 not compared), and rolled out as each
	 * machine's own effective document (fleet/config_templates.h); a halt
	 * or an abort takes the document back (fleet/config_rollouts.h). */
	"ALTER TABLE rollouts ADD COLUMN compliance_margin INTEGER NOT NULL DEFAULT 100;"
	"ALTER TABLE rollouts ADD COLUMN effective INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE rollouts ADD COLUMN take_back INTEGER NOT NULL DEFAULT 0;",
};

const size_t sqlite_migration_count = sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]);
