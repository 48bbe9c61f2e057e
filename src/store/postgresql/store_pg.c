/*
 * The PostgreSQL backend through libpq: IN PROGRESS (issue 14). In the
 * product only with -DCC_STORE_POSTGRESQL=ON until it passes every case of
 * tests/unit/test_store_conformance.c; test_store_conformance_pg runs the
 * cases it passes so far in every build (docs/STORE.md says which, and
 * how records, the inbox and the monthly partitions work). The slots not
 * written yet are empty, which the suite's first case names.
 *
 * Shared statements are SQLite's text with ?N placeholders, rewritten by
 * store/sql/params.h; those whose text differs come from the dialect table
 * (store/sql/dialect.h). The location is a libpq connection string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "store/sql/dialect.h"
#include "store/sql/params.h"
#include "store/store.h"

#define MOD "store"

extern const struct store_ops store_postgresql_ops;
#define SQL_MAX 8192
#define PARAMS_MAX 32

struct pg_store {
	struct store base;
	PGconn *conn;
	/* A savepoint outside a transaction opened one (SQLite's SAVEPOINT
	 * does; PostgreSQL's needs a BEGIN first): its release commits it. */
	int savepoint_began;
	/* records_put's own connection, opened at its first use: an insert
	 * there commits (durably) whatever transaction conn has open. */
	PGconn *inbox;
	char *location;
	/* Rows of a streamed list are arriving on conn: no other statement
	 * can run there until they are all read (see each_row_streamed). */
	int streaming;
};

#define PG(s) ((struct pg_store *)(s)->impl)

/* Never the server's full message: its DETAIL, and the primary message of
 * data and constraint errors (SQLSTATE classes 22, 23), quote the values
 * refused. Those are logged by SQLSTATE and constraint name only. */
static int pg_fail(struct pg_store *s, const PGresult *r, const char *what)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *constraint = r != NULL ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
	const char *primary = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0))
		log_error(MOD, "postgresql: %s: SQLSTATE %s%s%s", what, state, constraint != NULL ? ", constraint " : "",
		          constraint != NULL ? constraint : "");
	else if (primary != NULL)
		log_error(MOD, "postgresql: %s: SQLSTATE %s: %s", what, state != NULL ? state : "?", primary);
	else
		log_error(MOD, "postgresql: %s: %s", what, PQerrorMessage(s->conn));
	if (state != NULL && strcmp(state, "23505") == 0)
		return CC_ERR_EXISTS; /* unique_violation */
	if (state != NULL && strncmp(state, "23", 2) == 0)
		return CC_ERR_INVALID; /* another integrity constraint */
	return CC_ERR_DB;
}

/* Runs one shared statement with text parameters (NULL: SQL NULL); *out
 * gets the result when the caller wants rows (PQclear it). */
struct params {
	int n;
	const char *values[PARAMS_MAX];
	int lengths[PARAMS_MAX]; /* binary ones' */
	int formats[PARAMS_MAX]; /* 1: binary (blobs), 0: text */
	char numbers[PARAMS_MAX][24];
};

static void param_text(struct params *p, const char *v)
{
	p->values[p->n] = v;
	p->formats[p->n++] = 0;
}

static void param_int(struct params *p, int64_t v)
{
	snprintf(p->numbers[p->n], sizeof(p->numbers[p->n]), "%lld", (long long)v);
	param_text(p, p->numbers[p->n]);
}

static void param_blob(struct params *p, const void *v, size_t len)
{
	p->values[p->n] = v != NULL ? v : "";
	p->lengths[p->n] = (int)len;
	p->formats[p->n++] = 1;
}

/*
 * Fences. PostgreSQL aborts a whole transaction at its first failed
 * statement; SQLite fails the statement only, and callers rely on that
 * (try an insert, see CC_ERR_EXISTS, go on, commit: the conformance
 * suite's tx_failure_keeps_tx). Inside a transaction each statement runs
 * under a savepoint of its own, undone alone when it fails. Two more
 * round trips a statement: pipeline mode can take them back later.
 */
static int fence_open(struct pg_store *s)
{
	PGresult *r;
	int ok;

	if (PQtransactionStatus(s->conn) != PQTRANS_INTRANS)
		return 0;
	r = PQexec(s->conn, "SAVEPOINT stmt");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok;
}

static void fence_close(struct pg_store *s, int fenced, int ok)
{
	if (!fenced)
		return;
	PQclear(PQexec(s->conn, ok ? "RELEASE SAVEPOINT stmt" : "ROLLBACK TO SAVEPOINT stmt; RELEASE SAVEPOINT stmt"));
}

/* SQLite runs a statement inside a list's callback; one connection of
 * PostgreSQL's cannot while a list streams to it. Said, not garbled. */
static int busy(struct pg_store *s)
{
	if (!s->streaming)
		return 0;
	log_error(MOD, "postgresql: a store call from inside a streamed list's callback (not on this backend)");
	return 1;
}

/* Sends sql (shared text, ?N placeholders) with its parameters. */
static int send(struct pg_store *s, const char *sql, const struct params *p)
{
	char text[SQL_MAX];
	int highest = 0, rc;

	if (busy(s))
		return CC_ERR_STATE;
	rc = sql_params_pg(sql, text, sizeof(text), &highest);
	if (rc != CC_OK)
		return rc;
	if (highest != p->n)
		return CC_ERR_INVALID;
	if (!PQsendQueryParams(s->conn, text, p->n, NULL, p->values, p->lengths, p->formats, 0))
		return pg_fail(s, NULL, "sending");
	return CC_OK;
}

static int run_p(struct pg_store *s, const char *sql, const struct params *p, const char *what, PGresult **out)
{
	char text[SQL_MAX];
	int highest = 0, rc, fenced;
	PGresult *r;

	if (busy(s))
		return CC_ERR_STATE;
	rc = sql_params_pg(sql, text, sizeof(text), &highest);
	if (rc != CC_OK)
		return rc;
	if (highest != p->n)
		return CC_ERR_INVALID;
	fenced = fence_open(s);
	r = PQexecParams(s->conn, text, p->n, NULL, p->values, p->lengths, p->formats, 0);
	if (r == NULL || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)) {
		rc = pg_fail(s, r, what);
		PQclear(r);
		fence_close(s, fenced, 0);
		return rc;
	}
	fence_close(s, fenced, 1);
	if (out != NULL)
		*out = r;
	else
		PQclear(r);
	return CC_OK;
}

/* A statement with text parameters (NULL: SQL NULL). */
static int run(struct pg_store *s, const char *sql, int n, const char *const *params, const char *what,
               PGresult **out)
{
	struct params p = { 0 };
	int i;

	if (n < 0 || n > PARAMS_MAX)
		return CC_ERR_INVALID;
	for (i = 0; i < n; i++)
		param_text(&p, params[i]);
	return run_p(s, sql, &p, what, out);
}

/* Transaction control: never fenced, no parameters. */
static int exec_plain(struct pg_store *s, const char *sql, const char *what)
{
	PGresult *r;
	int rc = CC_OK;

	if (busy(s))
		return CC_ERR_STATE;
	r = PQexec(s->conn, sql);
	if (r == NULL || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK))
		rc = pg_fail(s, r, what);
	PQclear(r);
	return rc;
}

/* ---- schema ---- */

/* A migration: several statements, no parameters (the simple protocol). */
static int exec_script(struct pg_store *s, const char *sql, const char *what)
{
	PGresult *r = PQexec(s->conn, sql);
	int rc = CC_OK;

	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fail(s, r, what);
	PQclear(r);
	return rc;
}

/* Migrations, in order; the PostgreSQL text of each SQLite migration the
 * backend has caught up with. schema_version counts them. */
static const char *const migrations[] = {
	"CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL)",
	"CREATE TABLE audit("
	"  seq bigint PRIMARY KEY,"
	"  ts_ms bigint NOT NULL,"
	"  actor text NOT NULL,"
	"  source text NOT NULL,"
	"  action text NOT NULL,"
	"  machines text NOT NULL,"
	"  data_class text NOT NULL,"
	"  purpose text NOT NULL,"
	"  outcome text NOT NULL,"
	"  customer_id bigint NOT NULL,"
	"  hash bytea NOT NULL);"
	"CREATE INDEX audit_time ON audit(ts_ms);"
	"CREATE INDEX audit_customer ON audit(customer_id, ts_ms)",
	/* Ids are identities: never reused, so an AD never matches a deleted row's. */
	"CREATE TABLE orgs("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  parent_id bigint REFERENCES orgs(id),"
	"  kind integer NOT NULL CHECK (kind BETWEEN 1 AND 3),"
	"  name text NOT NULL UNIQUE,"
	"  created_ms bigint NOT NULL,"
	"  mac bytea,"
	"  deactivated_ms bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX orgs_parent ON orgs(parent_id)",
	"CREATE TABLE sites("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  customer_id bigint NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  name text NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  address text NOT NULL DEFAULT '',"
	"  lat_e2 bigint,"
	"  lon_e2 bigint,"
	"  timezone text NOT NULL DEFAULT '',"
	"  hours text NOT NULL DEFAULT '',"
	"  UNIQUE (customer_id, name))",
	"CREATE TABLE machines("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  serial text NOT NULL UNIQUE,"
	"  model text NOT NULL,"
	"  customer_id bigint NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  site_id bigint REFERENCES sites(id) ON DELETE SET NULL,"
	"  cert_fingerprint text NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  revoked_ms bigint NOT NULL DEFAULT 0,"
	"  mac bytea,"
	"  cert_not_after_ms bigint NOT NULL DEFAULT 0,"
	"  prev_cert_fingerprint text NOT NULL DEFAULT '',"
	"  prev_cert_until_ms bigint NOT NULL DEFAULT 0,"
	"  decommissioned_ms bigint NOT NULL DEFAULT 0,"
	"  origin_serial text NOT NULL DEFAULT '');"
	"CREATE INDEX machines_customer ON machines(customer_id);"
	"CREATE INDEX machines_site ON machines(site_id);"
	"CREATE TABLE machine_certs("
	"  machine_id bigint PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,"
	"  cert_pem text NOT NULL);"
	"CREATE TABLE retired_logins(login text PRIMARY KEY, retired_ms bigint NOT NULL);"
	"CREATE TABLE users("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  org_id bigint NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  login text NOT NULL UNIQUE,"
	"  role text NOT NULL,"
	"  password_hash text NOT NULL,"
	"  profile bytea NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  totp bytea,"
	"  totp_enabled integer NOT NULL DEFAULT 0,"
	"  totp_last_step bigint NOT NULL DEFAULT 0,"
	"  mac bytea,"
	"  deletion_requested_ms bigint NOT NULL DEFAULT 0,"
	"  deactivated_ms bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX users_org ON users(org_id)",
	/* Every deletion of an account retires its login, a cascade's too. */
	"CREATE FUNCTION users_retire_login() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	"  INSERT INTO retired_logins(login, retired_ms)"
	"  VALUES (OLD.login, (extract(epoch FROM clock_timestamp()) * 1000)::bigint) ON CONFLICT DO NOTHING;"
	"  RETURN OLD; END $$;"
	"CREATE TRIGGER users_retire_login AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION users_retire_login();"
	"CREATE TABLE grants("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  machine_id bigint REFERENCES machines(id) ON DELETE CASCADE,"
	"  site_id bigint REFERENCES sites(id) ON DELETE CASCADE,"
	"  customer_id bigint NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  purpose text NOT NULL,"
	"  created_by text NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  expires_ms bigint NOT NULL,"
	"  revoked_ms bigint NOT NULL DEFAULT 0,"
	"  mac bytea,"
	"  CHECK ((machine_id IS NULL) <> (site_id IS NULL)));"
	"CREATE INDEX grants_user ON grants(user_id)",
	"CREATE TABLE credentials("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  token_hash bytea NOT NULL UNIQUE,"
	"  kind integer NOT NULL,"
	"  user_id bigint REFERENCES users(id) ON DELETE CASCADE,"
	"  org_id bigint NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  role text NOT NULL,"
	"  name text NOT NULL,"
	"  csrf_hash bytea,"
	"  flags integer NOT NULL DEFAULT 0,"
	"  created_by text NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  expires_ms bigint NOT NULL,"
	"  revoked_ms bigint NOT NULL DEFAULT 0,"
	"  rate_per_min bigint NOT NULL DEFAULT 0,"
	"  mac bytea)",
	/* Records. Live state as SQLite's (its history of changes, kept there
	 * by triggers, comes with state_changes). The inbox replaces SQLite's
	 * file of its own: records_put commits there on a connection of its
	 * own, records_settle moves rows on. Telemetry and events are
	 * partitioned by month of ts_ms (UTC): retention drops a month whole.
	 * A partitioned table's unique keys must hold the partition key, so
	 * (machine_id, seq) alone is not a constraint here: settling (one
	 * round at a time, under an advisory lock) skips a seq stored already,
	 * whatever its month. Times outside 2000..2199 go to the default
	 * partition, which therefore never holds a month that gets one. */
	"CREATE TABLE machine_state("
	"  machine_id bigint PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,"
	"  online integer NOT NULL,"
	"  last_seen_ms bigint NOT NULL,"
	"  changed_ms bigint NOT NULL,"
	"  disconnect_reason text NOT NULL DEFAULT '',"
	"  info bytea);"
	"CREATE TABLE inbox("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  at_ms bigint NOT NULL,"
	"  machine_id bigint NOT NULL,"
	"  kind integer NOT NULL,"
	"  seq bigint NOT NULL,"
	"  ts_ms bigint NOT NULL,"
	"  body bytea NOT NULL);"
	"CREATE INDEX inbox_record ON inbox(machine_id, kind, seq);"
	"CREATE TABLE telemetry("
	"  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  seq bigint NOT NULL,"
	"  ts_ms bigint NOT NULL,"
	"  body bytea NOT NULL,"
	"  PRIMARY KEY (machine_id, seq, ts_ms)) PARTITION BY RANGE (ts_ms);"
	"CREATE INDEX telemetry_time ON telemetry(machine_id, ts_ms);"
	"CREATE TABLE telemetry_other PARTITION OF telemetry DEFAULT;"
	"CREATE TABLE events("
	"  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  seq bigint NOT NULL,"
	"  ts_ms bigint NOT NULL,"
	"  body bytea NOT NULL,"
	"  PRIMARY KEY (machine_id, seq, ts_ms)) PARTITION BY RANGE (ts_ms);"
	"CREATE INDEX events_time ON events(machine_id, ts_ms);"
	"CREATE TABLE events_other PARTITION OF events DEFAULT;"
	"CREATE TABLE reports("
	"  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  seq bigint NOT NULL,"
	"  ts_ms bigint NOT NULL,"
	"  body bytea NOT NULL,"
	"  PRIMARY KEY (machine_id, seq));"
	"CREATE INDEX reports_time ON reports(machine_id, ts_ms);"
	"CREATE TABLE rollups("
	"  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  width_ms bigint NOT NULL,"
	"  start_ms bigint NOT NULL,"
	"  body bytea NOT NULL,"
	"  PRIMARY KEY (machine_id, width_ms, start_ms));"
	"CREATE TABLE event_days_dirty("
	"  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  day_ms bigint NOT NULL,"
	"  PRIMARY KEY (day_ms, machine_id));"
	"CREATE TABLE last_cleanings("
	"  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  program text NOT NULL,"
	"  ts_ms bigint NOT NULL,"
	"  PRIMARY KEY (machine_id, program));"
	"CREATE TABLE descale_water("
	"  machine_id bigint PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,"
	"  sealed bytea NOT NULL);"
	/* The month of ts (ms, UTC) gets its partition of parent, once: nodes
	 * that settle at the same moment take turns on the lock. */
	"CREATE FUNCTION cc_month_partition(parent text, ts bigint) RETURNS void LANGUAGE plpgsql AS $$"
	" DECLARE m timestamp; name text; BEGIN"
	"  IF ts < 946684800000 OR ts >= 7258118400000 THEN RETURN; END IF;"
	"  m := date_trunc('month', to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC');"
	"  name := parent || '_' || to_char(m, 'YYYYMM');"
	"  IF to_regclass(name) IS NOT NULL THEN RETURN; END IF;"
	"  PERFORM pg_advisory_xact_lock(hashtext('cc_month_partition'));"
	"  IF to_regclass(name) IS NOT NULL THEN RETURN; END IF;"
	"  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)', name, parent,"
	"    (extract(epoch FROM m AT TIME ZONE 'UTC') * 1000)::bigint,"
	"    (extract(epoch FROM (m + interval '1 month') AT TIME ZONE 'UTC') * 1000)::bigint);"
	"  END $$",
	/* Commands to machines and jobs (one command to many machines). */
	"CREATE TABLE jobs("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  name text NOT NULL,"
	"  created_by text NOT NULL,"
	"  target text NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  timeout_ms bigint NOT NULL,"
	"  cancelled_ms bigint NOT NULL DEFAULT 0,"
	"  cancelled_by text NOT NULL DEFAULT '');"
	"CREATE TABLE commands("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  name text NOT NULL,"
	"  body bytea NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  delivered_ms bigint NOT NULL DEFAULT 0,"
	"  failed_ms bigint NOT NULL DEFAULT 0,"
	"  failure text NOT NULL DEFAULT '',"
	"  job_id bigint NOT NULL DEFAULT 0,"
	"  deadline_ms bigint NOT NULL DEFAULT 0,"
	"  accepted_ms bigint NOT NULL DEFAULT 0,"
	"  ended_ms bigint NOT NULL DEFAULT 0,"
	"  end_state text NOT NULL DEFAULT '',"
	"  detail text NOT NULL DEFAULT '',"
	"  late_results bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX commands_pending ON commands(machine_id, delivered_ms);"
	"CREATE INDEX commands_job ON commands(job_id) WHERE job_id > 0;"
	"CREATE INDEX commands_open ON commands(deadline_ms) WHERE ended_ms = 0 AND deadline_ms > 0",
	/* Alerts: at most one unresolved per machine and cause (the partial
	 * unique index); comments sealed; rules per organisation. */
	"CREATE TABLE alerts("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  rule text NOT NULL,"
	"  cause text NOT NULL,"
	"  severity text NOT NULL,"
	"  state text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),"
	"  opened_ms bigint NOT NULL,"
	"  acknowledged_ms bigint NOT NULL DEFAULT 0,"
	"  acknowledged_by text NOT NULL DEFAULT '',"
	"  resolved_ms bigint NOT NULL DEFAULT 0,"
	"  resolved_by text NOT NULL DEFAULT '',"
	"  level bigint NOT NULL DEFAULT 0,"
	"  level_ms bigint NOT NULL,"
	"  last_notified_ms bigint NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX alerts_cause ON alerts(machine_id, cause) WHERE state <> 'resolved';"
	"CREATE INDEX alerts_machine ON alerts(machine_id, id);"
	"CREATE TABLE alert_events("
	"  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  alert_id bigint NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,"
	"  at_ms bigint NOT NULL,"
	"  who text NOT NULL,"
	"  what text NOT NULL,"
	"  detail text NOT NULL,"
	"  note bytea);"
	"CREATE INDEX alert_events_alert ON alert_events(alert_id, seq);"
	"CREATE TABLE alert_rules("
	"  org_id bigint NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  rule text NOT NULL,"
	"  enabled integer NOT NULL,"
	"  params text NOT NULL,"
	"  PRIMARY KEY (org_id, rule))",
	/* Settings documents. The first policy version is SQLite's, word for word. */
	"CREATE TABLE policy_versions("
	"  version bigint PRIMARY KEY,"
	"  last_updated text NOT NULL,"
	"  purposes text NOT NULL,"
	"  text text NOT NULL,"
	"  published_ms bigint NOT NULL);"
	"INSERT INTO policy_versions VALUES (1, '2026-11-28', 'downtime,support,updates',"
	"  'CoffeeCloud stores machine data only: telemetry, events and the state of coffee machines. "
	"It refuses card numbers, personal and financial data at the door. People who work on a machine "
	"(technicians, service, sales, subcontractors) see only their machines and only the data classes "
	"of their role; every access is recorded. Data is used to reduce downtime, support the machines "
	"and deliver software updates.', 0);"
	"CREATE TABLE consents("
	"  customer_id bigint NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  version bigint NOT NULL REFERENCES policy_versions(version),"
	"  login text NOT NULL,"
	"  at_ms bigint NOT NULL,"
	"  language text NOT NULL DEFAULT 'en',"
	"  PRIMARY KEY (customer_id, version));"
	"CREATE TABLE quality_rulesets("
	"  model text NOT NULL,"
	"  version bigint NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  author text NOT NULL,"
	"  doc text NOT NULL,"
	"  PRIMARY KEY (model, version));"
	"CREATE TABLE retention_terms("
	"  org_id bigint NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  kind text NOT NULL CHECK (kind IN ('telemetry', 'rollups', 'events', 'reports', 'tickets')),"
	"  days bigint NOT NULL CHECK (days BETWEEN 1 AND 36500),"
	"  set_by text NOT NULL,"
	"  set_ms bigint NOT NULL,"
	"  PRIMARY KEY (org_id, kind))",
	/* Certificates: the one a renewal replaced, and the revocation list. */
	"ALTER TABLE machine_certs ADD COLUMN prev_cert_pem text NOT NULL DEFAULT '';"
	"CREATE TABLE revoked_certs("
	"  fingerprint text PRIMARY KEY,"
	"  cert_pem text NOT NULL,"
	"  revoked_ms bigint NOT NULL)",
	/* Refused messages counted per machine and reason (never their
	 * content); the history of each machine's states, link changes
	 * recorded by a trigger in the transaction that changes the live
	 * state, whichever code path does it (as SQLite's). */
	"CREATE TABLE refusals("
	"  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  reason text NOT NULL,"
	"  count bigint NOT NULL,"
	"  last_ms bigint NOT NULL,"
	"  PRIMARY KEY (machine_id, reason));"
	"CREATE TABLE state_changes("
	"  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,"
	"  at_ms bigint NOT NULL,"
	"  kind integer NOT NULL CHECK (kind BETWEEN 1 AND 3),"
	"  code text NOT NULL,"
	"  value bigint NOT NULL,"
	"  reason text NOT NULL,"
	"  PRIMARY KEY (machine_id, at_ms, kind, code));"
	"CREATE INDEX state_changes_time ON state_changes(at_ms);"
	"CREATE FUNCTION machine_state_link() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	"  IF TG_OP = 'INSERT' OR OLD.online <> NEW.online THEN"
	"    INSERT INTO state_changes VALUES (NEW.machine_id, NEW.changed_ms, 1, '', NEW.online,"
	"      CASE WHEN NEW.online <> 0 THEN '' ELSE NEW.disconnect_reason END)"
	"    ON CONFLICT (machine_id, at_ms, kind, code) DO UPDATE SET value = excluded.value, reason = excluded.reason;"
	"  END IF;"
	"  RETURN NULL; END $$;"
	"CREATE TRIGGER machine_state_link AFTER INSERT OR UPDATE OF online ON machine_state"
	"  FOR EACH ROW EXECUTE FUNCTION machine_state_link()",
};

static int migrate(struct pg_store *s)
{
	PGresult *r = NULL;
	size_t have, i;
	int rc;

	rc = exec_plain(s, "CREATE TABLE IF NOT EXISTS schema_version(version bigint NOT NULL)", "schema");
	if (rc == CC_OK)
		rc = exec_plain(s, "BEGIN", "schema");
	/* One migrator at a time: nodes that start together take turns. */
	if (rc == CC_OK)
		rc = exec_plain(s, "LOCK TABLE schema_version IN EXCLUSIVE MODE", "schema");
	if (rc == CC_OK)
		rc = run(s, "SELECT COALESCE(MAX(version), 0) FROM schema_version", 0, NULL, "schema", &r);
	if (rc != CC_OK) {
		(void)exec_plain(s, "ROLLBACK", "schema");
		return rc;
	}
	have = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (have > sizeof(migrations) / sizeof(migrations[0])) {
		log_error(MOD, "postgresql: the schema is newer (%zu) than this program knows", have);
		(void)exec_plain(s, "ROLLBACK", "schema");
		return CC_ERR_STATE;
	}
	for (i = have; i < sizeof(migrations) / sizeof(migrations[0]) && rc == CC_OK; i++)
		rc = exec_script(s, migrations[i], "migrating");
	if (rc == CC_OK && i != have) {
		char v[24];
		const char *p[1] = { v };

		snprintf(v, sizeof(v), "%zu", i);
		rc = exec_plain(s, "DELETE FROM schema_version", "schema");
		if (rc == CC_OK)
			rc = run(s, "INSERT INTO schema_version(version) VALUES (?1)", 1, p, "schema", NULL);
	}
	if (rc == CC_OK)
		return exec_plain(s, "COMMIT", "schema");
	(void)exec_plain(s, "ROLLBACK", "schema");
	return rc;
}

/* ---- connections ---- */

/* Connects to location, or (create) to the same server's maintenance
 * database to make location's database first. */
static PGconn *connect_to(const char *location, const char *dbname_override)
{
	const char *keys[3] = { "dbname", "dbname", NULL };
	const char *values[3] = { location, dbname_override, NULL };

	/* expand_dbname: the first dbname is the whole connection string; a
	 * second one, when given, overrides the database it names. */
	if (dbname_override == NULL)
		keys[1] = NULL;
	return PQconnectdbParams(keys, values, 1);
}

static int create_database(const char *location)
{
	PQconninfoOption *opts = PQconninfoParse(location, NULL), *o;
	const char *dbname = NULL;
	PGconn *admin;
	PGresult *r;
	char *quoted = NULL, sql[512];
	int rc = CC_ERR_INVALID;

	if (opts == NULL)
		return CC_ERR_INVALID;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "dbname") == 0)
			dbname = o->val;
	if (dbname == NULL || dbname[0] == '\0')
		goto out;
	admin = connect_to(location, "postgres");
	if (PQstatus(admin) != CONNECTION_OK) {
		log_error(MOD, "postgresql: cannot reach the server to create the database: %s", PQerrorMessage(admin));
		PQfinish(admin);
		rc = CC_ERR_IO;
		goto out;
	}
	quoted = PQescapeIdentifier(admin, dbname, strlen(dbname));
	/* Byte order, as SQLite's: see byte_ordered(). */
	if (quoted != NULL && (size_t)snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8' "
	                                       "LC_COLLATE 'C' LC_CTYPE 'C'", quoted) < sizeof(sql)) {
		r = PQexec(admin, sql);
		rc = PQresultStatus(r) == PGRES_COMMAND_OK ? CC_OK : CC_ERR_DB;
		if (rc != CC_OK)
			log_error(MOD, "postgresql: creating the database: %s", PQresultErrorMessage(r));
		PQclear(r);
	}
	PQfreemem(quoted);
	PQfinish(admin);
out:
	PQconninfoFree(opts);
	return rc;
}

/* Text compares and sorts byte by byte in SQLite; lists ordered by name
 * or serial, and pages that start after a serial (the fleet list's key
 * set, a retired machine's '~' serial after every other), rely on it. A
 * database of another collation would order them otherwise: refused, with
 * what to do. */
static int byte_ordered(struct pg_store *s)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc = run_p(s, "SELECT datcollate, pg_encoding_to_char(encoding) FROM pg_database "
	                  "WHERE datname = current_database()", &p, "opening", &r);

	if (rc != CC_OK)
		return rc;
	/* C.UTF-8 orders by code point, which is UTF-8's byte order. */
	if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 1), "UTF8") != 0 ||
	    (strcmp(PQgetvalue(r, 0, 0), "C") != 0 && strcmp(PQgetvalue(r, 0, 0), "POSIX") != 0 &&
	     strcmp(PQgetvalue(r, 0, 0), "C.UTF-8") != 0 && strcmp(PQgetvalue(r, 0, 0), "C.utf8") != 0)) {
		log_error(MOD, "postgresql: the database must be UTF8 with the C collation (byte order, as SQLite's); "
		          "create it with: CREATE DATABASE ... TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
		rc = CC_ERR_STATE;
	}
	PQclear(r);
	return rc;
}

/* Notices ("already exists, skipping") are not errors and not for stderr. */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void pg_close(struct store *base)
{
	struct pg_store *s;

	if (base == NULL)
		return;
	s = PG(base);
	PQfinish(s->conn);
	if (s->inbox != NULL)
		PQfinish(s->inbox);
	free(s->location);
	free(s);
}

static int pg_open(const char *location, int create, struct store **out)
{
	struct pg_store *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return CC_ERR_NOMEM;
	s->base.ops = &store_postgresql_ops;
	s->base.impl = &s->base;
	s->location = strdup(location);
	if (s->location == NULL) {
		free(s);
		return CC_ERR_NOMEM;
	}
	s->conn = connect_to(location, NULL);
	if (PQstatus(s->conn) != CONNECTION_OK && create) {
		PQfinish(s->conn);
		s->conn = NULL;
		rc = create_database(location);
		if (rc != CC_OK) {
			free(s->location);
			free(s);
			return rc;
		}
		s->conn = connect_to(location, NULL);
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		log_error(MOD, "postgresql: cannot connect: %s", PQerrorMessage(s->conn));
		pg_close(&s->base);
		return CC_ERR_NOTFOUND;
	}
	PQsetNoticeProcessor(s->conn, quiet, NULL);
	rc = exec_plain(s, "SET synchronous_commit = on", "opening");
	if (rc == CC_OK)
		rc = byte_ordered(s);
	if (rc == CC_OK)
		rc = migrate(s);
	if (rc != CC_OK) {
		pg_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return CC_OK;
}

static int pg_check(struct store *base)
{
	return exec_plain(PG(base), "SELECT count(*) FROM meta", "check");
}

/* ---- transactions ---- */

static int pg_in_transaction(struct store *base)
{
	return PQtransactionStatus(PG(base)->conn) != PQTRANS_IDLE;
}

/* READ COMMITTED, PostgreSQL's default. SQLite's BEGIN IMMEDIATE makes
 * writers take turns; which statements need a row lock (FOR UPDATE) or an
 * advisory lock to keep that guarantee across nodes is decided op by op
 * as they are written (docs/STORE.md), not by SERIALIZABLE, whose
 * serialization failures no caller retries today. */
static int pg_begin(struct store *base)
{
	PG(base)->savepoint_began = 0;
	return exec_plain(PG(base), "BEGIN", "begin");
}

/* COMMIT of a transaction PostgreSQL had aborted "succeeds" as ROLLBACK:
 * that is a failure to the caller, who believes its writes are kept. */
static int pg_commit(struct store *base)
{
	struct pg_store *s = PG(base);
	PGresult *r;
	int rc = CC_OK;

	if (busy(s))
		return CC_ERR_STATE;
	r = PQexec(s->conn, "COMMIT");
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fail(s, r, "commit");
	else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		log_error(MOD, "postgresql: commit: the transaction had failed and was rolled back");
		rc = CC_ERR_STATE;
	}
	PQclear(r);
	return rc;
}

static void pg_rollback(struct store *base)
{
	if (pg_in_transaction(base))
		(void)exec_plain(PG(base), "ROLLBACK", "rollback");
	PG(base)->savepoint_began = 0;
}

/* The snapshot is taken at the first statement, not at BEGIN: take it now,
 * as SQLite's begin_read does. */
static int pg_begin_read(struct store *base)
{
	int rc = exec_plain(PG(base), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin");

	if (rc == CC_OK)
		rc = exec_plain(PG(base), "SELECT 1", "begin");
	if (rc != CC_OK)
		pg_rollback(base);
	return rc;
}

static int pg_savepoint(struct store *base)
{
	struct pg_store *s = PG(base);
	int rc = CC_OK;

	if (!pg_in_transaction(base)) {
		rc = exec_plain(s, "BEGIN", "savepoint");
		s->savepoint_began = rc == CC_OK;
	}
	return rc == CC_OK ? exec_plain(s, "SAVEPOINT item", "savepoint") : rc;
}

static int pg_savepoint_release(struct store *base)
{
	struct pg_store *s = PG(base);
	int rc = exec_plain(s, "RELEASE SAVEPOINT item", "savepoint");

	if (rc == CC_OK && s->savepoint_began) {
		s->savepoint_began = 0;
		rc = exec_plain(s, "COMMIT", "savepoint");
	}
	return rc;
}

static void pg_savepoint_rollback(struct store *base)
{
	struct pg_store *s = PG(base);

	(void)exec_plain(s, "ROLLBACK TO SAVEPOINT item", "savepoint");
	(void)exec_plain(s, "RELEASE SAVEPOINT item", "savepoint");
	if (s->savepoint_began) {
		s->savepoint_began = 0;
		(void)exec_plain(s, "COMMIT", "savepoint");
	}
}

/* ---- meta: the same statements as SQLite's ---- */

static int pg_meta_get(struct store *base, const char *key, char *out, size_t cap)
{
	const char *p[1] = { key };
	PGresult *r = NULL;
	int rc = run(PG(base), "SELECT value FROM meta WHERE key = ?1", 1, p, "meta", &r);
	size_t n;

	if (rc != CC_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return CC_ERR_NOTFOUND;
	}
	n = (size_t)PQgetlength(r, 0, 0);
	if (cap == 0) {
		PQclear(r);
		return CC_ERR_LIMIT;
	}
	if (n >= cap)
		n = cap - 1; /* cut, as SQLite's does */
	memcpy(out, PQgetvalue(r, 0, 0), n);
	out[n] = '\0';
	PQclear(r);
	return CC_OK;
}

static int pg_meta_set(struct store *base, const char *key, const char *value)
{
	const char *p[2] = { key, value };

	return run(PG(base), "INSERT INTO meta(key, value) VALUES (?1, ?2) "
	                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", 2, p, "meta", NULL);
}

static int pg_meta_bump(struct store *base, const char *key)
{
	const char *p[1] = { key };

	return run(PG(base), "INSERT INTO meta(key, value) VALUES (?1, '1') "
	                     "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)", 1, p,
	           "meta", NULL);
}

/* ---- the audit log ---- */

#define AUDIT_COLUMNS "seq, ts_ms, customer_id, actor, source, action, machines, data_class, purpose, outcome, hash"

static void copy_value(char *out, size_t cap, const PGresult *r, int row, int col)
{
	size_t n = (size_t)PQgetlength(r, row, col);

	if (n >= cap)
		n = cap - 1;
	memcpy(out, PQgetvalue(r, row, col), n);
	out[n] = '\0';
}

static int64_t int_value(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* bytea arrives in text results as \x and hex digits. */
static size_t hex_value(uint8_t *out, size_t cap, const PGresult *r, int row, int col)
{
	const char *v = PQgetvalue(r, row, col);
	size_t len = (size_t)PQgetlength(r, row, col), i, n;

	if (len < 2 || v[0] != '\\' || v[1] != 'x' || len % 2 != 0)
		return 0;
	n = (len - 2) / 2;
	for (i = 0; i < n && i < cap; i++) {
		int hi = hex_digit(v[2 + 2 * i]), lo = hex_digit(v[3 + 2 * i]);

		if (hi < 0 || lo < 0)
			return 0;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return n; /* the stored length, even past cap: damage shows */
}

static void read_audit(const PGresult *r, int row, struct store_audit *a)
{
	uint8_t hash[STORE_AUDIT_HASH_LEN + 1];

	memset(a, 0, sizeof(*a));
	a->seq = int_value(r, row, 0);
	a->ts_ms = int_value(r, row, 1);
	a->customer_id = int_value(r, row, 2);
	copy_value(a->actor, sizeof(a->actor), r, row, 3);
	copy_value(a->source, sizeof(a->source), r, row, 4);
	copy_value(a->action, sizeof(a->action), r, row, 5);
	copy_value(a->machines, sizeof(a->machines), r, row, 6);
	copy_value(a->data_class, sizeof(a->data_class), r, row, 7);
	copy_value(a->purpose, sizeof(a->purpose), r, row, 8);
	copy_value(a->outcome, sizeof(a->outcome), r, row, 9);
	a->hash_len = hex_value(hash, sizeof(hash), r, row, 10);
	if (a->hash_len == STORE_AUDIT_HASH_LEN)
		memcpy(a->hash, hash, STORE_AUDIT_HASH_LEN);
}

static int pg_audit_head(struct store *base, int64_t *seq, uint8_t hash[STORE_AUDIT_HASH_LEN])
{
	struct params p = { 0 };
	PGresult *r = NULL;
	uint8_t h[STORE_AUDIT_HASH_LEN + 1];
	int rc = run_p(PG(base), "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &p, "reading the audit log",
	               &r);

	if (rc != CC_OK)
		return rc;
	if (PQntuples(r) == 0)
		rc = CC_ERR_NOTFOUND;
	else if (hex_value(h, sizeof(h), r, 0, 1) != STORE_AUDIT_HASH_LEN)
		rc = CC_ERR_CORRUPT;
	else {
		*seq = int_value(r, 0, 0);
		memcpy(hash, h, STORE_AUDIT_HASH_LEN);
	}
	PQclear(r);
	return rc;
}

static int pg_audit_insert(struct store *base, const struct store_audit *a)
{
	struct params p = { 0 };

	param_int(&p, a->seq);
	param_int(&p, a->ts_ms);
	param_int(&p, a->customer_id);
	param_text(&p, a->actor);
	param_text(&p, a->source);
	param_text(&p, a->action);
	param_text(&p, a->machines);
	param_text(&p, a->data_class);
	param_text(&p, a->purpose);
	param_text(&p, a->outcome);
	param_blob(&p, a->hash, a->hash_len);
	return run_p(PG(base), "INSERT INTO audit(" AUDIT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &p,
	             "appending to the audit log", NULL);
}

/* Streams the rows (single-row mode): the log is never loaded whole. */
static int pg_audit_each(struct store *base, const struct store_audit_filter *f,
                         int (*each)(void *, const struct store_audit *), void *ctx)
{
	struct pg_store *s = PG(base);
	struct params p = { 0 };
	struct store_audit a;
	PGresult *r;
	int rc, stop = 0, fenced;
	param_int(&p, f->from_seq);
	param_int(&p, f->from_ms);
	param_int(&p, f->to_ms);
	param_text(&p, f->action_prefix);
	param_text(&p, f->serial);
	param_int(&p, f->customer_id);
	param_int(&p, f->limit > 0 && f->limit < (size_t)INT64_MAX ? (int64_t)f->limit : INT64_MAX);
	param_int(&p, f->before_seq);
	param_text(&p, f->actor);
	fenced = fence_open(s);
	rc = send(s, sql_text(SQL_POSTGRESQL, f->newest_first ? SQL_AUDIT_EACH_DESC : SQL_AUDIT_EACH), &p);
	if (rc != CC_OK) {
		fence_close(s, fenced, 0);
		return rc;
	}
	if (!PQsetSingleRowMode(s->conn))
		log_error(MOD, "postgresql: single-row mode refused; reading the audit log whole");
	/* Every result is taken, even after a stop, so the connection is free. */
	s->streaming = 1;
	while ((r = PQgetResult(s->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
			int i;

			for (i = 0; i < PQntuples(r) && stop == 0 && rc == CC_OK; i++) {
				read_audit(r, i, &a);
				stop = each(ctx, &a);
			}
		} else if (rc == CC_OK) {
			rc = pg_fail(s, r, "reading the audit log");
		}
		PQclear(r);
	}
	s->streaming = 0;
	fence_close(s, fenced, rc == CC_OK);
	return rc != CC_OK ? rc : stop;
}

/* ---- lists ---- */

/* Runs sql and hands each row to emit; stops at emit's first non-zero
 * return, which it returns. The result is read whole first, so emit may
 * call the store (callers do, as SQLite lets them: settle hooks write
 * through the same connection). */
static int each_row(struct pg_store *s, const char *sql, const struct params *p,
                    int (*emit)(void *arg, const PGresult *r, int row), void *arg, const char *what)
{
	PGresult *r = NULL;
	int rc = run_p(s, sql, p, what, &r), stop = 0, i;

	for (i = 0; rc == CC_OK && stop == 0 && i < PQntuples(r); i++)
		stop = emit(arg, r, i);
	PQclear(r);
	return rc != CC_OK ? rc : stop;
}

/* The same, streamed (single-row mode): for lists that may be long (a
 * machine's records), never loaded whole. emit must not call the store
 * (busy() refuses it); the connection is drained either way. */
static int each_row_streamed(struct pg_store *s, const char *sql, const struct params *p,
                             int (*emit)(void *arg, const PGresult *r, int row), void *arg, const char *what)
{
	PGresult *r;
	int fenced = fence_open(s), rc = send(s, sql, p), stop = 0;

	if (rc != CC_OK) {
		fence_close(s, fenced, 0);
		return rc;
	}
	(void)PQsetSingleRowMode(s->conn);
	s->streaming = 1;
	while ((r = PQgetResult(s->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(r);
		int i;

		if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
			for (i = 0; i < PQntuples(r) && stop == 0 && rc == CC_OK; i++)
				stop = emit(arg, r, i);
		} else if (rc == CC_OK) {
			rc = pg_fail(s, r, what);
		}
		PQclear(r);
	}
	s->streaming = 0;
	fence_close(s, fenced, rc == CC_OK);
	return rc != CC_OK ? rc : stop;
}

/* The first row into out through read; CC_ERR_NOTFOUND when none. */
static int one_row(struct pg_store *s, const char *sql, const struct params *p, void (*read)(const PGresult *, int, void *),
                   void *out, const char *what)
{
	PGresult *r = NULL;
	int rc = run_p(s, sql, p, what, &r);

	if (rc != CC_OK)
		return rc;
	if (PQntuples(r) == 0)
		rc = CC_ERR_NOTFOUND;
	else
		read(r, 0, out);
	PQclear(r);
	return rc;
}

/* INSERT ... RETURNING id. */
static int insert_id(struct pg_store *s, const char *sql, const struct params *p, int64_t *id, const char *what)
{
	PGresult *r = NULL;
	int rc = run_p(s, sql, p, what, &r);

	if (rc != CC_OK)
		return rc;
	if (PQntuples(r) == 1)
		*id = int_value(r, 0, 0);
	else
		rc = CC_ERR_DB;
	PQclear(r);
	return rc;
}

static void param_id_or_null(struct params *p, int64_t id)
{
	if (id == 0)
		param_text(p, NULL);
	else
		param_int(p, id);
}

static void read_mac(const PGresult *r, int row, int col, uint8_t mac[STORE_MAC_LEN], size_t *len)
{
	uint8_t buf[STORE_MAC_LEN + 1];

	*len = PQgetisnull(r, row, col) ? 0 : hex_value(buf, sizeof(buf), r, row, col);
	if (*len == STORE_MAC_LEN)
		memcpy(mac, buf, STORE_MAC_LEN);
}

/* ---- organisations ---- */

#define ORG_COLUMNS "id, COALESCE(parent_id, 0), kind, name, created_ms, mac, deactivated_ms"

static void read_org(const PGresult *r, int row, void *out)
{
	struct store_org *o = out;

	memset(o, 0, sizeof(*o));
	o->id = int_value(r, row, 0);
	o->parent_id = int_value(r, row, 1);
	o->kind = (enum org_kind)int_value(r, row, 2);
	copy_value(o->name, sizeof(o->name), r, row, 3);
	o->created_ms = int_value(r, row, 4);
	read_mac(r, row, 5, o->mac, &o->mac_len);
	o->deactivated_ms = int_value(r, row, 6);
}

static int pg_org_add(struct store *base, const struct store_org *o, int64_t *id)
{
	struct params p = { 0 };

	param_id_or_null(&p, o->parent_id);
	param_int(&p, (int64_t)o->kind);
	param_text(&p, o->name);
	param_int(&p, o->created_ms);
	return insert_id(PG(base), "INSERT INTO orgs(parent_id, kind, name, created_ms) VALUES (?, ?, ?, ?) RETURNING id",
	                 &p, id, "adding an organisation");
}

static int pg_org_get(struct store *base, int64_t id, struct store_org *out)
{
	struct params p = { 0 };

	param_int(&p, id);
	return one_row(PG(base), "SELECT " ORG_COLUMNS " FROM orgs WHERE id = ?", &p, read_org, out,
	               "reading an organisation");
}

static int pg_org_find(struct store *base, const char *name, struct store_org *out)
{
	struct params p = { 0 };

	param_text(&p, name);
	return one_row(PG(base), "SELECT " ORG_COLUMNS " FROM orgs WHERE name = ?", &p, read_org, out,
	               "reading an organisation");
}

struct org_emitter {
	int (*each)(void *, const struct store_org *);
	void *ctx;
};

static int emit_org(void *arg, const PGresult *r, int row)
{
	struct org_emitter *e = arg;
	struct store_org o;

	read_org(r, row, &o);
	return e->each(e->ctx, &o);
}

static int pg_org_list(struct store *base, int (*each)(void *, const struct store_org *), void *ctx)
{
	struct params p = { 0 };
	struct org_emitter e = { each, ctx };

	return each_row(PG(base), "SELECT " ORG_COLUMNS " FROM orgs ORDER BY id", &p, emit_org, &e,
	                "listing organisations");
}

/* ---- sites ---- */

#define SITE_COLUMNS "id, customer_id, name, created_ms, address, lat_e2, lon_e2, timezone, hours"

static void read_site(const PGresult *r, int row, void *out)
{
	struct store_site *x = out;

	memset(x, 0, sizeof(*x));
	x->id = int_value(r, row, 0);
	x->customer_id = int_value(r, row, 1);
	copy_value(x->name, sizeof(x->name), r, row, 2);
	x->created_ms = int_value(r, row, 3);
	copy_value(x->address, sizeof(x->address), r, row, 4);
	x->has_position = !PQgetisnull(r, row, 5) && !PQgetisnull(r, row, 6);
	x->lat_e2 = int_value(r, row, 5);
	x->lon_e2 = int_value(r, row, 6);
	copy_value(x->timezone, sizeof(x->timezone), r, row, 7);
	copy_value(x->hours, sizeof(x->hours), r, row, 8);
}

static void param_place(struct params *p, const struct store_site *x)
{
	param_text(p, x->address);
	if (x->has_position) {
		param_int(p, x->lat_e2);
		param_int(p, x->lon_e2);
	} else {
		param_text(p, NULL);
		param_text(p, NULL);
	}
	param_text(p, x->timezone);
	param_text(p, x->hours);
}

static int pg_site_add(struct store *base, const struct store_site *x, int64_t *id)
{
	struct params p = { 0 };

	param_int(&p, x->customer_id);
	param_text(&p, x->name);
	param_int(&p, x->created_ms);
	param_place(&p, x);
	return insert_id(PG(base), "INSERT INTO sites(customer_id, name, created_ms, address, lat_e2, lon_e2, timezone, hours) "
	                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", &p, id, "adding a site");
}

static int pg_site_update(struct store *base, const struct store_site *x)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc;

	param_place(&p, x);
	param_int(&p, x->id);
	rc = run_p(PG(base), "UPDATE sites SET address = ?, lat_e2 = ?, lon_e2 = ?, timezone = ?, hours = ? WHERE id = ?",
	           &p, "updating a site", &r);
	if (rc == CC_OK && strcmp(PQcmdTuples(r), "0") == 0)
		rc = CC_ERR_NOTFOUND;
	PQclear(r);
	return rc;
}

static int pg_site_get(struct store *base, int64_t id, struct store_site *out)
{
	struct params p = { 0 };

	param_int(&p, id);
	return one_row(PG(base), "SELECT " SITE_COLUMNS " FROM sites WHERE id = ?", &p, read_site, out, "reading a site");
}

static int pg_site_find(struct store *base, int64_t customer_id, const char *name, struct store_site *out)
{
	struct params p = { 0 };

	param_int(&p, customer_id);
	param_text(&p, name);
	return one_row(PG(base), "SELECT " SITE_COLUMNS " FROM sites WHERE customer_id = ? AND name = ?", &p, read_site,
	               out, "reading a site");
}

struct site_emitter {
	int (*each)(void *, const struct store_site *);
	void *ctx;
};

static int emit_site(void *arg, const PGresult *r, int row)
{
	struct site_emitter *e = arg;
	struct store_site x;

	read_site(r, row, &x);
	return e->each(e->ctx, &x);
}

static int pg_site_list(struct store *base, int64_t customer_id, int (*each)(void *, const struct store_site *),
                        void *ctx)
{
	struct params p = { 0 };
	struct site_emitter e = { each, ctx };

	param_int(&p, customer_id);
	return each_row(PG(base), "SELECT " SITE_COLUMNS " FROM sites WHERE CAST(?1 AS BIGINT) = 0 OR customer_id = ?1 "
	                          "ORDER BY id", &p, emit_site, &e, "listing sites");
}

/* ---- several statements as one ---- */

/* Outside a transaction: one of its own; inside: a savepoint, so a
 * failure undoes these statements and not the caller's. */
static int atomic_begin(struct pg_store *s, int *own)
{
	*own = PQtransactionStatus(s->conn) == PQTRANS_IDLE;
	return exec_plain(s, *own ? "BEGIN" : "SAVEPOINT atomic", "beginning");
}

static int atomic_end(struct pg_store *s, int own, int rc)
{
	if (rc == CC_OK)
		return own ? pg_commit(&s->base) : exec_plain(s, "RELEASE SAVEPOINT atomic", "ending");
	PQclear(PQexec(s->conn, own ? "ROLLBACK" : "ROLLBACK TO SAVEPOINT atomic; RELEASE SAVEPOINT atomic"));
	return rc;
}

/* ---- machines ---- */

#define MACHINE_COLUMNS "m.id, CASE WHEN m.origin_serial <> '' THEN m.origin_serial ELSE m.serial END, " \
                        "m.model, m.customer_id, COALESCE(m.site_id, 0), m.cert_fingerprint, " \
                        "m.created_ms, m.revoked_ms, COALESCE(c.cert_pem, ''), m.mac, m.cert_not_after_ms, " \
                        "m.prev_cert_fingerprint, m.prev_cert_until_ms, m.decommissioned_ms, " \
                        "CASE WHEN m.origin_serial <> '' THEN 1 ELSE 0 END"
#define MACHINE_FROM "machines m LEFT JOIN machine_certs c ON c.machine_id = m.id"

static void read_machine(const PGresult *r, int row, void *out)
{
	struct store_machine *m = out;

	memset(m, 0, sizeof(*m));
	m->id = int_value(r, row, 0);
	copy_value(m->serial, sizeof(m->serial), r, row, 1);
	copy_value(m->model, sizeof(m->model), r, row, 2);
	m->customer_id = int_value(r, row, 3);
	m->site_id = int_value(r, row, 4);
	copy_value(m->cert_fingerprint, sizeof(m->cert_fingerprint), r, row, 5);
	m->created_ms = int_value(r, row, 6);
	m->revoked_ms = int_value(r, row, 7);
	copy_value(m->cert_pem, sizeof(m->cert_pem), r, row, 8);
	read_mac(r, row, 9, m->mac, &m->mac_len);
	m->cert_not_after_ms = int_value(r, row, 10);
	copy_value(m->prev_cert_fingerprint, sizeof(m->prev_cert_fingerprint), r, row, 11);
	m->prev_cert_until_ms = int_value(r, row, 12);
	m->decommissioned_ms = int_value(r, row, 13);
	m->moved = (int)int_value(r, row, 14);
}

/* The row and its certificate, both or neither. */
static int pg_machine_add(struct store *base, const struct store_machine *m, int64_t *id)
{
	struct pg_store *s = PG(base);
	struct params p = { 0 }, c = { 0 };
	int own, rc = atomic_begin(s, &own);

	if (rc != CC_OK)
		return rc;
	param_text(&p, m->serial);
	param_text(&p, m->model);
	param_int(&p, m->customer_id);
	param_id_or_null(&p, m->site_id);
	param_text(&p, m->cert_fingerprint);
	param_int(&p, m->created_ms);
	param_int(&p, m->revoked_ms);
	param_int(&p, m->cert_not_after_ms);
	rc = insert_id(s, "INSERT INTO machines(serial, model, customer_id, site_id, cert_fingerprint, created_ms, "
	                  "revoked_ms, cert_not_after_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", &p, id,
	               "adding a machine");
	if (rc == CC_OK) {
		param_int(&c, *id);
		param_text(&c, m->cert_pem);
		rc = run_p(s, "INSERT INTO machine_certs(machine_id, cert_pem) VALUES (?, ?)", &c, "adding a machine", NULL);
	}
	return atomic_end(s, own, rc);
}

static int pg_machine_find(struct store *base, const char *serial, struct store_machine *out)
{
	struct params p = { 0 };

	param_text(&p, serial);
	return one_row(PG(base), "SELECT " MACHINE_COLUMNS " FROM " MACHINE_FROM " WHERE m.serial = ?", &p, read_machine,
	               out, "reading a machine");
}

static int pg_machine_get(struct store *base, int64_t id, struct store_machine *out)
{
	struct params p = { 0 };

	param_int(&p, id);
	return one_row(PG(base), "SELECT " MACHINE_COLUMNS " FROM " MACHINE_FROM " WHERE m.id = ?", &p, read_machine,
	               out, "reading a machine");
}

struct machine_emitter {
	int (*each)(void *, const struct store_machine *);
	void *ctx;
};

static int emit_machine(void *arg, const PGresult *r, int row)
{
	struct machine_emitter *e = arg;
	struct store_machine *m = malloc(sizeof(*m)); /* a certificate's room: too big for a stack frame here */
	int stop;

	if (m == NULL)
		return CC_ERR_NOMEM;
	read_machine(r, row, m);
	stop = e->each(e->ctx, m);
	free(m);
	return stop;
}

static int pg_machine_list(struct store *base, int64_t customer_id, int (*each)(void *, const struct store_machine *),
                           void *ctx)
{
	struct params p = { 0 };
	struct machine_emitter e = { each, ctx };

	param_int(&p, customer_id);
	return each_row(PG(base), "SELECT " MACHINE_COLUMNS " FROM " MACHINE_FROM " "
	                          "WHERE CAST(?1 AS BIGINT) = 0 OR m.customer_id = ?1 ORDER BY m.serial",
	                &p, emit_machine, &e, "listing machines");
}

/* ---- users ---- */

/* A retired login (a deleted account's) is never given again. */
static int pg_user_add(struct store *base, const struct store_user *u, int64_t *id)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc;

	param_int(&p, u->org_id);
	param_text(&p, u->login);
	param_text(&p, u->role);
	param_text(&p, u->password_hash);
	param_blob(&p, u->profile, u->profile_len);
	param_int(&p, u->created_ms);
	rc = run_p(PG(base), "INSERT INTO users(org_id, login, role, password_hash, profile, created_ms) "
	                     "SELECT ?1, ?2, ?3, ?4, ?5, ?6 "
	                     "WHERE NOT EXISTS (SELECT 1 FROM retired_logins WHERE login = ?2) RETURNING id",
	           &p, "adding a user", &r);
	if (rc != CC_OK)
		return rc;
	if (PQntuples(r) == 1)
		*id = int_value(r, 0, 0);
	else
		rc = CC_ERR_STATE;
	PQclear(r);
	return rc;
}

static int pg_user_delete(struct store *base, int64_t user_id)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc;

	param_int(&p, user_id);
	/* Foreign keys take the grants; the trigger retires the login. */
	rc = run_p(PG(base), "DELETE FROM users WHERE id = ?", &p, "deleting a user", &r);
	if (rc == CC_OK && strcmp(PQcmdTuples(r), "0") == 0)
		rc = CC_ERR_NOTFOUND;
	PQclear(r);
	return rc;
}

static int pg_login_retired(struct store *base, const char *login)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc;

	param_text(&p, login);
	rc = run_p(PG(base), "SELECT 1 FROM retired_logins WHERE login = ?", &p, "reading retired logins", &r);
	if (rc == CC_OK)
		rc = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

/* ---- grants ---- */

#define GRANT_COLUMNS "id, user_id, COALESCE(machine_id, 0), COALESCE(site_id, 0), customer_id, purpose, " \
                      "created_by, created_ms, expires_ms, revoked_ms, mac"

static void read_grant(const PGresult *r, int row, void *out)
{
	struct store_grant *g = out;

	memset(g, 0, sizeof(*g));
	g->id = int_value(r, row, 0);
	g->user_id = int_value(r, row, 1);
	g->machine_id = int_value(r, row, 2);
	g->site_id = int_value(r, row, 3);
	g->customer_id = int_value(r, row, 4);
	copy_value(g->purpose, sizeof(g->purpose), r, row, 5);
	copy_value(g->created_by, sizeof(g->created_by), r, row, 6);
	g->created_ms = int_value(r, row, 7);
	g->expires_ms = int_value(r, row, 8);
	g->revoked_ms = int_value(r, row, 9);
	read_mac(r, row, 10, g->mac, &g->mac_len);
}

static int pg_grant_add(struct store *base, const struct store_grant *g, int64_t *id)
{
	struct params p = { 0 };

	param_int(&p, g->user_id);
	param_id_or_null(&p, g->machine_id);
	param_id_or_null(&p, g->site_id);
	param_int(&p, g->customer_id);
	param_text(&p, g->purpose);
	param_text(&p, g->created_by);
	param_int(&p, g->created_ms);
	param_int(&p, g->expires_ms);
	return insert_id(PG(base), "INSERT INTO grants(user_id, machine_id, site_id, customer_id, purpose, created_by, "
	                           "created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
	                 &p, id, "adding a grant");
}

static int pg_grant_get(struct store *base, int64_t id, struct store_grant *out)
{
	struct params p = { 0 };

	param_int(&p, id);
	return one_row(PG(base), "SELECT " GRANT_COLUMNS " FROM grants WHERE id = ?", &p, read_grant, out,
	               "reading a grant");
}

struct grant_emitter {
	int (*each)(void *, const struct store_grant *);
	void *ctx;
};

static int emit_grant(void *arg, const PGresult *r, int row)
{
	struct grant_emitter *e = arg;
	struct store_grant g;

	read_grant(r, row, &g);
	return e->each(e->ctx, &g);
}

static int pg_grant_list(struct store *base, int64_t user_id, int (*each)(void *, const struct store_grant *),
                         void *ctx)
{
	struct params p = { 0 };
	struct grant_emitter e = { each, ctx };

	param_int(&p, user_id);
	return each_row(PG(base), "SELECT " GRANT_COLUMNS " FROM grants WHERE CAST(?1 AS BIGINT) = 0 OR user_id = ?1 "
	                          "ORDER BY id DESC", &p, emit_grant, &e, "listing grants");
}

static int pg_grant_revoke(struct store *base, int64_t id, int64_t at_ms)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc;

	param_int(&p, at_ms);
	param_int(&p, id);
	rc = run_p(PG(base), "UPDATE grants SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0", &p, "revoking a grant", &r);
	if (rc == CC_OK && strcmp(PQcmdTuples(r), "0") == 0)
		rc = CC_ERR_STATE;
	PQclear(r);
	return rc;
}

static int pg_grant_covers(struct store *base, int64_t user_id, int64_t machine_id, int64_t site_id,
                           const char *purpose, int64_t now_ms)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int covered;

	param_int(&p, user_id);
	param_int(&p, machine_id);
	param_int(&p, site_id);
	param_int(&p, now_ms);
	param_text(&p, purpose);
	if (run_p(PG(base), "SELECT 1 FROM grants WHERE user_id = ?1 AND revoked_ms = 0 AND expires_ms > ?4 "
	                    "AND purpose = ?5 AND (machine_id = ?2 OR (CAST(?3 AS BIGINT) <> 0 AND site_id = ?3)) LIMIT 1",
	          &p, "checking a grant", &r) != CC_OK)
		return 0; /* any failure is "not covered": access fails closed */
	covered = PQntuples(r) == 1;
	PQclear(r);
	return covered;
}

/* ---- users read back ---- */

#define USER_COLUMNS                                                                                      \
	"id, org_id, login, role, password_hash, profile, created_ms, totp, totp_enabled, totp_last_step, mac, " \
	"deletion_requested_ms, deactivated_ms"

static void read_user(const PGresult *r, int row, void *out)
{
	struct store_user *u = out;
	size_t n;

	memset(u, 0, sizeof(*u));
	u->id = int_value(r, row, 0);
	u->org_id = int_value(r, row, 1);
	copy_value(u->login, sizeof(u->login), r, row, 2);
	copy_value(u->role, sizeof(u->role), r, row, 3);
	copy_value(u->password_hash, sizeof(u->password_hash), r, row, 4);
	/* An oversized blob cannot have been written by us: left empty, it fails to open. */
	n = hex_value(u->profile, sizeof(u->profile), r, row, 5);
	u->profile_len = n <= sizeof(u->profile) ? n : 0;
	u->created_ms = int_value(r, row, 6);
	n = PQgetisnull(r, row, 7) ? 0 : hex_value(u->totp, sizeof(u->totp), r, row, 7);
	u->totp_len = n <= sizeof(u->totp) ? n : 0;
	u->totp_enabled = (int)int_value(r, row, 8);
	u->totp_last_step = int_value(r, row, 9);
	read_mac(r, row, 10, u->mac, &u->mac_len);
	u->deletion_requested_ms = int_value(r, row, 11);
	u->deactivated_ms = int_value(r, row, 12);
}

static int pg_user_find(struct store *base, const char *login, struct store_user *out)
{
	struct params p = { 0 };

	param_text(&p, login);
	return one_row(PG(base), "SELECT " USER_COLUMNS " FROM users WHERE login = ?", &p, read_user, out,
	               "reading a user");
}

static int pg_user_get(struct store *base, int64_t id, struct store_user *out)
{
	struct params p = { 0 };

	param_int(&p, id);
	return one_row(PG(base), "SELECT " USER_COLUMNS " FROM users WHERE id = ?", &p, read_user, out, "reading a user");
}

/* An UPDATE of one row; what no row changed means is the caller's. */
static int update_one(struct pg_store *s, const char *sql, const struct params *p, int none, const char *what)
{
	PGresult *r = NULL;
	int rc = run_p(s, sql, p, what, &r);

	if (rc == CC_OK && strcmp(PQcmdTuples(r), "0") == 0)
		rc = none;
	PQclear(r);
	return rc;
}

static int pg_user_totp_set(struct store *base, int64_t user_id, const uint8_t *sealed, size_t len, int enabled)
{
	struct params p = { 0 };

	if (len > 0)
		param_blob(&p, sealed, len);
	else
		param_text(&p, NULL);
	param_int(&p, len > 0 && enabled);
	param_int(&p, user_id);
	return update_one(PG(base), "UPDATE users SET totp = ?1, totp_enabled = ?2, "
	                            "totp_last_step = CASE WHEN CAST(?2 AS INTEGER) = 1 THEN totp_last_step ELSE 0 END "
	                            "WHERE id = ?3", &p, CC_ERR_NOTFOUND, "setting a user's TOTP secret");
}

/* A code is good once: the step only moves forward, in one statement. */
static int pg_user_totp_step(struct store *base, int64_t user_id, int64_t step)
{
	struct params p = { 0 };

	param_int(&p, step);
	param_int(&p, user_id);
	return update_one(PG(base), "UPDATE users SET totp_last_step = ?1 WHERE id = ?2 AND totp_last_step < ?1", &p,
	                  CC_ERR_STATE, "recording a TOTP code's use");
}

static int pg_user_password_set(struct store *base, int64_t user_id, const char *password_hash)
{
	struct params p = { 0 };

	param_text(&p, password_hash);
	param_int(&p, user_id);
	return update_one(PG(base), "UPDATE users SET password_hash = ?1 WHERE id = ?2", &p, CC_ERR_NOTFOUND,
	                  "setting a user's password");
}

struct user_emitter {
	int (*each)(void *, const struct store_user *);
	void *ctx;
};

static int emit_user(void *arg, const PGresult *r, int row)
{
	struct user_emitter *e = arg;
	struct store_user *u = malloc(sizeof(*u));
	int stop;

	if (u == NULL)
		return CC_ERR_NOMEM;
	read_user(r, row, u);
	stop = e->each(e->ctx, u);
	free(u);
	return stop;
}

static int pg_user_list(struct store *base, int64_t org_id, int (*each)(void *, const struct store_user *), void *ctx)
{
	struct params p = { 0 };
	struct user_emitter e = { each, ctx };

	param_int(&p, org_id);
	return each_row(PG(base), "SELECT " USER_COLUMNS " FROM users WHERE CAST(?1 AS BIGINT) = 0 OR org_id = ?1 "
	                          "ORDER BY login", &p, emit_user, &e, "listing users");
}

static int pg_user_deletion_request(struct store *base, int64_t user_id, int64_t at_ms, int64_t *requested_ms)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc;

	param_int(&p, user_id);
	param_int(&p, at_ms);
	rc = run_p(PG(base), "UPDATE users SET deletion_requested_ms = "
	                     "CASE WHEN deletion_requested_ms = 0 THEN ?2 ELSE deletion_requested_ms END "
	                     "WHERE id = ?1 RETURNING deletion_requested_ms", &p, "recording a deletion request", &r);
	if (rc != CC_OK)
		return rc;
	if (PQntuples(r) == 0)
		rc = CC_ERR_NOTFOUND;
	else
		*requested_ms = int_value(r, 0, 0);
	PQclear(r);
	return rc;
}

/* ---- credentials ---- */

#define CREDENTIAL_COLUMNS "id, token_hash, kind, COALESCE(user_id, 0), org_id, role, name, csrf_hash, flags, " \
	"created_by, created_ms, expires_ms, revoked_ms, rate_per_min, mac"

/* Anything but 32 bytes cannot have been written by us: it stays zero and matches nothing. */
static void read_hash(const PGresult *r, int row, int col, uint8_t out[32])
{
	uint8_t buf[33];

	if (!PQgetisnull(r, row, col) && hex_value(buf, sizeof(buf), r, row, col) == 32)
		memcpy(out, buf, 32);
}

static void read_credential(const PGresult *r, int row, void *out)
{
	struct store_credential *c = out;

	memset(c, 0, sizeof(*c));
	c->id = int_value(r, row, 0);
	read_hash(r, row, 1, c->token_hash);
	c->kind = (int)int_value(r, row, 2);
	c->user_id = int_value(r, row, 3);
	c->org_id = int_value(r, row, 4);
	copy_value(c->role, sizeof(c->role), r, row, 5);
	copy_value(c->name, sizeof(c->name), r, row, 6);
	read_hash(r, row, 7, c->csrf_hash);
	c->flags = (int)int_value(r, row, 8);
	copy_value(c->created_by, sizeof(c->created_by), r, row, 9);
	c->created_ms = int_value(r, row, 10);
	c->expires_ms = int_value(r, row, 11);
	c->revoked_ms = int_value(r, row, 12);
	c->rate_per_min = int_value(r, row, 13);
	read_mac(r, row, 14, c->mac, &c->mac_len);
}

static int pg_credential_add(struct store *base, const struct store_credential *c, int64_t *id)
{
	struct params p = { 0 };

	param_blob(&p, c->token_hash, 32);
	param_int(&p, c->kind);
	param_id_or_null(&p, c->user_id);
	param_int(&p, c->org_id);
	param_text(&p, c->role);
	param_text(&p, c->name);
	if (c->kind == CREDENTIAL_SESSION)
		param_blob(&p, c->csrf_hash, 32);
	else
		param_text(&p, NULL);
	param_int(&p, c->flags);
	param_text(&p, c->created_by);
	param_int(&p, c->created_ms);
	param_int(&p, c->expires_ms);
	param_int(&p, c->rate_per_min);
	return insert_id(PG(base), "INSERT INTO credentials(token_hash, kind, user_id, org_id, role, name, csrf_hash, flags, "
	                           "created_by, created_ms, expires_ms, rate_per_min) "
	                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", &p, id, "adding a credential");
}

static int pg_credential_find(struct store *base, const uint8_t token_hash[32], struct store_credential *out)
{
	struct params p = { 0 };

	param_blob(&p, token_hash, 32);
	return one_row(PG(base), "SELECT " CREDENTIAL_COLUMNS " FROM credentials WHERE token_hash = ?", &p, read_credential,
	               out, "reading a credential");
}

static int pg_credential_get(struct store *base, int64_t id, struct store_credential *out)
{
	struct params p = { 0 };

	param_int(&p, id);
	return one_row(PG(base), "SELECT " CREDENTIAL_COLUMNS " FROM credentials WHERE id = ?", &p, read_credential, out,
	               "reading a credential");
}

struct credential_emitter {
	int (*each)(void *, const struct store_credential *);
	void *ctx;
};

static int emit_credential(void *arg, const PGresult *r, int row)
{
	struct credential_emitter *e = arg;
	struct store_credential c;

	read_credential(r, row, &c);
	return e->each(e->ctx, &c);
}

static int pg_credential_list(struct store *base, int kind, int (*each)(void *, const struct store_credential *),
                              void *ctx)
{
	struct params p = { 0 };
	struct credential_emitter e = { each, ctx };

	param_int(&p, kind);
	return each_row(PG(base), "SELECT " CREDENTIAL_COLUMNS " FROM credentials WHERE kind = ? ORDER BY id", &p,
	                emit_credential, &e, "listing credentials");
}

static int pg_credential_revoke(struct store *base, int64_t id, int64_t at_ms)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc;

	param_int(&p, at_ms);
	param_int(&p, id);
	rc = run_p(PG(base), "UPDATE credentials SET revoked_ms = CASE WHEN revoked_ms = 0 THEN ?1 ELSE revoked_ms END "
	                     "WHERE id = ?2 RETURNING CASE WHEN revoked_ms = ?1 THEN 1 ELSE 0 END", &p,
	           "revoking a credential", &r);
	if (rc != CC_OK)
		return rc;
	rc = PQntuples(r) == 0 ? CC_ERR_NOTFOUND : int_value(r, 0, 0) ? CC_OK : CC_ERR_STATE;
	PQclear(r);
	return rc;
}

static int pg_credential_revoke_sessions(struct store *base, int64_t user_id, int64_t except_id, int64_t at_ms)
{
	struct params p = { 0 };

	param_int(&p, at_ms);
	param_int(&p, CREDENTIAL_SESSION);
	param_int(&p, user_id);
	param_int(&p, except_id);
	return run_p(PG(base), "UPDATE credentials SET revoked_ms = ?1 "
	                       "WHERE kind = ?2 AND user_id = ?3 AND id <> ?4 AND revoked_ms = 0", &p,
	             "ending a user's sessions", NULL);
}

static int pg_credential_purge(struct store *base, int64_t now_ms)
{
	struct params p = { 0 };

	param_int(&p, CREDENTIAL_SESSION);
	param_int(&p, now_ms);
	return run_p(PG(base), "DELETE FROM credentials WHERE kind = ? AND (expires_ms < ? OR revoked_ms <> 0)", &p,
	             "purging expired sessions", NULL);
}

/* Columns of access rows: SQLite's statements (?1 the value, ?2 the row),
 * the site's NULLIF typed. */
static int pg_row_set(struct store *base, enum store_column col, int64_t id, int64_t value)
{
	static const char *const sql[] = {
		[STORE_COL_MACHINE_SITE] = "UPDATE machines SET site_id = NULLIF(CAST(?1 AS BIGINT), 0) WHERE id = ?2",
		[STORE_COL_MACHINE_DECOMMISSIONED] = "UPDATE machines SET decommissioned_ms = ?1 WHERE id = ?2",
		/* '~' is no serial's character and sorts after them all: the
		 * serial is free for the row that carries the machine on. */
		[STORE_COL_MACHINE_RETIRED] = "UPDATE machines SET decommissioned_ms = ?1, origin_serial = serial, "
		                              "serial = '~' || id WHERE id = ?2 AND origin_serial = ''",
		[STORE_COL_ORG_DEACTIVATED] = "UPDATE orgs SET deactivated_ms = ?1 WHERE id = ?2",
		[STORE_COL_USER_DEACTIVATED] = "UPDATE users SET deactivated_ms = ?1 WHERE id = ?2",
	};
	struct params p = { 0 };

	if ((int)col < STORE_COL_MACHINE_SITE || (int)col > STORE_COL_USER_DEACTIVATED)
		return CC_ERR_INVALID;
	param_int(&p, value);
	param_int(&p, id);
	return update_one(PG(base), sql[col], &p, CC_ERR_NOTFOUND, "changing an access row");
}

static int pg_row_mac_set(struct store *base, enum store_table table, int64_t id, const uint8_t *mac, size_t len)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc;

	static const char *const sql[] = {
		[STORE_TABLE_ORGS] = "UPDATE orgs SET mac = ?2 WHERE id = ?1",
		[STORE_TABLE_MACHINES] = "UPDATE machines SET mac = ?2 WHERE id = ?1",
		[STORE_TABLE_USERS] = "UPDATE users SET mac = ?2 WHERE id = ?1",
		[STORE_TABLE_GRANTS] = "UPDATE grants SET mac = ?2 WHERE id = ?1",
		[STORE_TABLE_CREDENTIALS] = "UPDATE credentials SET mac = ?2 WHERE id = ?1",
	};

	if ((size_t)table >= sizeof(sql) / sizeof(sql[0]) || sql[table] == NULL)
		return CC_ERR_INVALID;
	param_int(&p, id);
	if (len == 0)
		param_text(&p, NULL);
	else
		param_blob(&p, mac, len);
	rc = run_p(PG(base), sql[table], &p, "sealing a row", &r);
	if (rc == CC_OK && strcmp(PQcmdTuples(r), "0") == 0)
		rc = CC_ERR_NOTFOUND;
	PQclear(r);
	return rc;
}

/* ---- organisations deleted ---- */

static int pg_org_delete(struct store *base, int64_t id)
{
	struct pg_store *s = PG(base);
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc;

	param_int(&p, id);
	rc = run_p(s, "SELECT count(*) FROM orgs WHERE parent_id = ?", &p, "deleting an organisation", &r);
	if (rc != CC_OK)
		return rc;
	rc = int_value(r, 0, 0) > 0 ? CC_ERR_STATE : CC_OK;
	PQclear(r);
	if (rc != CC_OK)
		return rc;
	/* Cascades (foreign keys) remove sites, machines, their records and users. */
	return update_one(s, "DELETE FROM orgs WHERE id = ?", &p, CC_ERR_NOTFOUND, "deleting an organisation");
}

/* ---- live state ---- */

static int pg_machine_state_set(struct store *base, const struct store_machine_state *x)
{
	struct params p = { 0 };

	param_int(&p, x->machine_id);
	param_int(&p, x->online ? 1 : 0);
	param_int(&p, x->last_seen_ms);
	param_int(&p, x->changed_ms);
	param_text(&p, x->disconnect_reason);
	if (x->info_len > 0)
		param_blob(&p, x->info, x->info_len);
	else
		param_text(&p, NULL);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_STATE_SET), &p, "storing machine state", NULL);
}

static int pg_machine_state_touch(struct store *base, int64_t machine_id, int64_t last_seen_ms)
{
	struct params p = { 0 };

	param_int(&p, last_seen_ms);
	param_int(&p, machine_id);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_STATE_TOUCH), &p, "storing machine state", NULL);
}

static void read_state(const PGresult *r, int row, void *out)
{
	struct store_machine_state *x = out;
	size_t n;

	memset(x, 0, sizeof(*x));
	x->machine_id = int_value(r, row, 0);
	x->online = (int)int_value(r, row, 1);
	x->last_seen_ms = int_value(r, row, 2);
	x->changed_ms = int_value(r, row, 3);
	copy_value(x->disconnect_reason, sizeof(x->disconnect_reason), r, row, 4);
	n = PQgetisnull(r, row, 5) ? 0 : hex_value(x->info, sizeof(x->info), r, row, 5);
	x->info_len = n <= sizeof(x->info) ? n : 0;
}

static int pg_machine_state_get(struct store *base, int64_t machine_id, struct store_machine_state *out)
{
	struct params p = { 0 };

	param_int(&p, machine_id);
	return one_row(PG(base), "SELECT machine_id, online, last_seen_ms, changed_ms, disconnect_reason, info "
	                         "FROM machine_state WHERE machine_id = ?", &p, read_state, out, "reading machine state");
}

/* ---- records ---- */

static const char *record_table(enum record_kind kind)
{
	return kind == RECORD_EVENT ? "events" : kind == RECORD_REPORT ? "reports" : "telemetry";
}

/* A body column (bytea, hex in text results) handed to a callback: the
 * bytes live until free_body. */
static uint8_t *body_value(const PGresult *r, int row, int col, size_t *len)
{
	return PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), len);
}

/* The inbox connection, (re)connected when needed. */
static PGconn *inbox_conn(struct pg_store *s)
{
	PGresult *r;

	if (s->inbox != NULL && PQstatus(s->inbox) == CONNECTION_OK)
		return s->inbox;
	if (s->inbox != NULL)
		PQfinish(s->inbox);
	s->inbox = connect_to(s->location, NULL);
	if (PQstatus(s->inbox) != CONNECTION_OK) {
		log_error(MOD, "postgresql: cannot connect for records: %s", PQerrorMessage(s->inbox));
		PQfinish(s->inbox);
		s->inbox = NULL;
		return NULL;
	}
	PQsetNoticeProcessor(s->inbox, quiet, NULL);
	r = PQexec(s->inbox, "SET synchronous_commit = on");
	PQclear(r);
	return s->inbox;
}

#define INBOX_ROWS 1000 /* rows per INSERT: 5 parameters each, far below libpq's 65535 */

static int inbox_exec(struct pg_store *s, PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? CC_OK : pg_fail(s, r, "storing records");

	PQclear(r);
	return rc;
}

/* One multi-row INSERT of recs[0..n) into the inbox. */
static int inbox_insert(struct pg_store *s, PGconn *c, const struct store_record *recs, size_t n, int64_t at_ms)
{
	size_t nparams = 1 + 5 * n, i, len = 0, cap = 96 + n * 48;
	char *sql = malloc(cap), (*numbers)[24] = calloc(1 + 4 * n, sizeof(*numbers));
	const char **values = calloc(nparams, sizeof(*values));
	int *lengths = calloc(nparams, sizeof(*lengths)), *formats = calloc(nparams, sizeof(*formats));
	PGresult *r;
	int rc = CC_ERR_NOMEM;

	if (sql == NULL || numbers == NULL || values == NULL || lengths == NULL || formats == NULL)
		goto out;
	len = (size_t)snprintf(sql, cap, "INSERT INTO inbox(at_ms, machine_id, kind, seq, ts_ms, body) VALUES ");
	snprintf(numbers[0], sizeof(numbers[0]), "%lld", (long long)at_ms);
	values[0] = numbers[0];
	for (i = 0; i < n; i++) {
		size_t k = 1 + 5 * i, m = 1 + 4 * i;

		len += (size_t)snprintf(sql + len, cap - len, "%s($1, $%zu, $%zu, $%zu, $%zu, $%zu)", i ? ", " : "", k + 1,
		                        k + 2, k + 3, k + 4, k + 5);
		snprintf(numbers[m], sizeof(numbers[m]), "%lld", (long long)recs[i].machine_id);
		snprintf(numbers[m + 1], sizeof(numbers[m + 1]), "%d", (int)recs[i].kind);
		snprintf(numbers[m + 2], sizeof(numbers[m + 2]), "%lld", (long long)recs[i].seq);
		snprintf(numbers[m + 3], sizeof(numbers[m + 3]), "%lld", (long long)recs[i].ts_ms);
		values[k] = numbers[m];
		values[k + 1] = numbers[m + 1];
		values[k + 2] = numbers[m + 2];
		values[k + 3] = numbers[m + 3];
		values[k + 4] = recs[i].body != NULL ? (const char *)recs[i].body : "";
		lengths[k + 4] = (int)recs[i].body_len;
		formats[k + 4] = 1;
	}
	r = PQexecParams(c, sql, (int)nparams, NULL, values, lengths, formats, 0);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? CC_OK : pg_fail(s, r, "storing records");
	PQclear(r);
out:
	free(sql);
	free(numbers);
	free(values);
	free(lengths);
	free(formats);
	return rc;
}

/* Telemetry and events: committed in the inbox on a connection of its own
 * before this returns (synchronous_commit on: on disk), all or none, in
 * multi-row INSERTs. Duplicates are resolved when they settle. Reports:
 * their table, in the caller's transaction. */
static int pg_records_put(struct store *base, const struct store_record *recs, size_t n, size_t *inserted)
{
	struct pg_store *s = PG(base);
	size_t i, arriving = 0, added = 0;
	PGconn *c;
	int rc = CC_OK;

	for (i = 0; i < n; i++) {
		if (recs[i].kind != RECORD_TELEMETRY && recs[i].kind != RECORD_EVENT && recs[i].kind != RECORD_REPORT)
			return CC_ERR_INVALID;
		if (recs[i].body_len > INT32_MAX)
			return CC_ERR_LIMIT;
		arriving += recs[i].kind != RECORD_REPORT;
	}
	*inserted = 0;
	if (n == 0)
		return CC_OK;
	if (arriving == n) {
		c = inbox_conn(s);
		if (c == NULL)
			return CC_ERR_IO;
		if (n > INBOX_ROWS)
			rc = inbox_exec(s, c, "BEGIN");
		for (i = 0; i < n && rc == CC_OK; i += INBOX_ROWS)
			rc = inbox_insert(s, c, recs + i, n - i < INBOX_ROWS ? n - i : INBOX_ROWS, clock_now_ms());
		if (n > INBOX_ROWS && rc == CC_OK)
			rc = inbox_exec(s, c, "COMMIT");
		else if (n > INBOX_ROWS)
			(void)inbox_exec(s, c, "ROLLBACK");
		if (rc == CC_OK)
			*inserted = n;
		return rc;
	}
	if (arriving != 0)
		return CC_ERR_INVALID; /* one kind of path per call, as SQLite's */
	for (i = 0; i < n && rc == CC_OK; i++) {
		struct params p = { 0 };
		PGresult *r = NULL;

		param_int(&p, recs[i].machine_id);
		param_int(&p, recs[i].seq);
		param_int(&p, recs[i].ts_ms);
		param_blob(&p, recs[i].body, recs[i].body_len);
		rc = run_p(s, sql_text(SQL_POSTGRESQL, SQL_REPORT_PUT), &p, "storing records", &r);
		if (rc == CC_OK)
			added += strcmp(PQcmdTuples(r), "1") == 0;
		PQclear(r);
	}
	if (rc == CC_OK)
		*inserted = added;
	return rc;
}

struct record_emitter {
	int64_t machine_id;
	enum record_kind kind;
	int (*each)(void *, const struct store_record *);
	void *ctx;
};

/* Columns seq, ts_ms, body. */
static int emit_record(void *arg, const PGresult *r, int row)
{
	struct record_emitter *e = arg;
	struct store_record rec;
	uint8_t *body;
	int stop;

	rec.machine_id = e->machine_id;
	rec.kind = e->kind;
	rec.seq = int_value(r, row, 0);
	rec.ts_ms = int_value(r, row, 1);
	body = body_value(r, row, 2, &rec.body_len);
	if (body == NULL)
		return CC_ERR_NOMEM;
	rec.body = body;
	stop = e->each(e->ctx, &rec);
	PQfreemem(body);
	return stop;
}

/* The tables' records and the inbox's not settled yet, in one statement
 * (one snapshot): the first copy of a seq in the inbox, and none whose
 * seq is stored already, whatever its time. */
static int pg_records_get(struct store *base, int64_t machine_id, enum record_kind kind, int64_t from_ms,
                          int64_t to_ms, int64_t after_seq, int (*each)(void *, const struct store_record *),
                          void *ctx)
{
	struct record_emitter e = { machine_id, kind, each, ctx };
	struct params p = { 0 };
	const char *t = record_table(kind);
	char sql[1024];

	snprintf(sql, sizeof(sql),
	         "SELECT seq, ts_ms, body FROM %s WHERE machine_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 AND seq > ?4 "
	         "UNION ALL "
	         "(SELECT DISTINCT ON (seq) seq, ts_ms, body FROM inbox i WHERE machine_id = ?1 AND kind = ?5 "
	         "AND ts_ms >= ?2 AND ts_ms < ?3 AND seq > ?4 "
	         "AND NOT EXISTS (SELECT 1 FROM %s x WHERE x.machine_id = ?1 AND x.seq = i.seq) ORDER BY seq, id) "
	         "ORDER BY seq", t, t);
	param_int(&p, machine_id);
	param_int(&p, from_ms);
	param_int(&p, to_ms);
	param_int(&p, after_seq);
	param_int(&p, (int64_t)kind);
	return each_row_streamed(PG(base), sql, &p, emit_record, &e, "reading records");
}

static int pg_records_unsettled(struct store *base, int64_t machine_id, enum record_kind kind, int64_t from_ms,
                                int64_t to_ms, int (*each)(void *, const struct store_record *), void *ctx)
{
	struct record_emitter e = { machine_id, kind, each, ctx };
	struct params p = { 0 };
	char sql[512];

	snprintf(sql, sizeof(sql),
	         "SELECT DISTINCT ON (seq) seq, ts_ms, body FROM inbox i WHERE machine_id = ?1 AND kind = ?2 "
	         "AND ts_ms >= ?3 AND ts_ms < ?4 "
	         "AND NOT EXISTS (SELECT 1 FROM %s x WHERE x.machine_id = ?1 AND x.seq = i.seq) ORDER BY seq, id",
	         record_table(kind));
	param_int(&p, machine_id);
	param_int(&p, (int64_t)kind);
	param_int(&p, from_ms);
	param_int(&p, to_ms);
	return each_row_streamed(PG(base), sql, &p, emit_record, &e, "reading records");
}

static int pg_records_last_seq(struct store *base, int64_t machine_id, enum record_kind kind, int64_t *seq)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	char sql[256];
	int rc;

	snprintf(sql, sizeof(sql),
	         "SELECT GREATEST((SELECT COALESCE(max(seq), 0) FROM %s WHERE machine_id = ?1), "
	         "(SELECT COALESCE(max(seq), 0) FROM inbox WHERE machine_id = ?1 AND kind = ?2))", record_table(kind));
	param_int(&p, machine_id);
	param_int(&p, (int64_t)kind);
	rc = run_p(PG(base), sql, &p, "reading the last record number", &r);
	if (rc == CC_OK)
		*seq = int_value(r, 0, 0);
	PQclear(r);
	return rc;
}

/* Oldest first, at most limit, in the caller's transaction. Whole months
 * of every machine go with records_drop_months. */
static int pg_records_purge(struct store *base, int64_t machine_id, enum record_kind kind, int64_t before_ms,
                            int64_t limit, int64_t *deleted)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	const char *t = record_table(kind);
	char sql[320];
	int rc;

	snprintf(sql, sizeof(sql),
	         "DELETE FROM %s WHERE machine_id = ?1 AND (seq, ts_ms) IN "
	         "(SELECT seq, ts_ms FROM %s WHERE machine_id = ?1 AND ts_ms < ?2 ORDER BY ts_ms LIMIT ?3)", t, t);
	param_int(&p, machine_id);
	param_int(&p, before_ms);
	param_int(&p, limit);
	rc = run_p(PG(base), sql, &p, "deleting records past their retention", &r);
	if (rc == CC_OK)
		*deleted = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return rc;
}

/*
 * Settling: one round moves up to max_rows inbox rows (oldest first) into
 * telemetry and events in one transaction with the hooks' writes. Rounds
 * take turns across nodes on an advisory lock (a seq stored once needs
 * it: the partitioned tables cannot hold a unique (machine, seq)). The
 * round's rows are named by id, so rows committed meanwhile with lower
 * ids (identity values are taken before commit) wait for the next round
 * instead of being deleted unseen.
 */
#define SETTLE_LOCK "hashtext('cc_records_settle')"

struct settle_ctx {
	const struct store_settle_hooks *hooks;
	size_t moved;
	int rc;
};

/* Columns: moved, machine_id, kind, seq, ts_ms, body (NULL machine: nothing stored). */
static int settle_row(void *arg, const PGresult *r, int row)
{
	struct settle_ctx *t = arg;
	struct store_record rec;
	uint8_t *body;
	int rc;

	t->moved = (size_t)int_value(r, row, 0);
	if (PQgetisnull(r, row, 1) || t->hooks == NULL || t->hooks->row == NULL)
		return 0;
	rec.machine_id = int_value(r, row, 1);
	rec.kind = (enum record_kind)int_value(r, row, 2);
	rec.seq = int_value(r, row, 3);
	rec.ts_ms = int_value(r, row, 4);
	body = body_value(r, row, 5, &rec.body_len);
	if (body == NULL) {
		t->rc = CC_ERR_NOMEM;
		return 1;
	}
	rec.body = body;
	rc = t->hooks->row(t->hooks->ctx, &rec);
	PQfreemem(body);
	if (rc != CC_OK) {
		t->rc = rc < 0 ? rc : CC_ERR_INVALID;
		return 1;
	}
	return 0;
}

static int pg_records_settle(struct store *base, size_t max_rows, const struct store_settle_hooks *hooks,
                             size_t *moved)
{
	struct pg_store *s = PG(base);
	struct settle_ctx t = { hooks, 0, CC_OK };
	struct params p = { 0 };
	PGresult *r = NULL;
	char *ids = NULL;
	int rc;

	*moved = 0;
	if (max_rows == 0)
		return CC_OK;
	if (pg_in_transaction(base))
		return CC_ERR_STATE; /* a round is a transaction of its own, committed here */
	/* Nothing waiting: no transaction, no lock (an idle daemon's rounds cost a read). */
	rc = run_p(s, "SELECT EXISTS (SELECT 1 FROM inbox)", &p, "moving records from the inbox", &r);
	if (rc != CC_OK)
		return rc;
	rc = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!rc)
		return CC_OK;
	rc = exec_plain(s, "BEGIN", "moving records from the inbox");
	if (rc == CC_OK)
		rc = exec_plain(s, "SELECT pg_advisory_xact_lock(" SETTLE_LOCK ")", "moving records from the inbox");
	if (rc == CC_OK) {
		param_int(&p, max_rows < (size_t)INT64_MAX ? (int64_t)max_rows : INT64_MAX);
		rc = run_p(s, "SELECT CAST(COALESCE(array_agg(id ORDER BY id), '{}') AS TEXT) "
		              "FROM (SELECT id FROM inbox ORDER BY id LIMIT ?1) b", &p, "moving records from the inbox", &r);
		if (rc == CC_OK) {
			ids = strdup(PQgetvalue(r, 0, 0));
			rc = ids != NULL ? CC_OK : CC_ERR_NOMEM;
		}
		PQclear(r);
	}
	/* Each month the round writes to gets its partition first (rarely
	 * new: a month's first round creates it). */
	if (rc == CC_OK) {
		memset(&p, 0, sizeof(p));
		param_text(&p, ids);
		rc = run_p(s, "SELECT cc_month_partition(CASE WHEN kind = 2 THEN 'events' ELSE 'telemetry' END, ts_ms) "
		              "FROM (SELECT DISTINCT kind, ts_ms - ts_ms % 86400000 AS ts_ms FROM inbox "
		              "WHERE id = ANY(CAST(?1 AS BIGINT[]))) d", &p, "making a month's partition", NULL);
	}
	/* The move in one statement: the round's rows leave the inbox; the
	 * first copy of each (machine, kind, seq) not stored yet, of a machine
	 * that still exists (a deleted one's key went with its customer), goes
	 * to its table; each machine's last-seen time moves to its latest
	 * arrival. The rows stored come back for the hooks, by machine and seq. */
	if (rc == CC_OK)
		rc = each_row(s,
			"WITH batch AS (DELETE FROM inbox WHERE id = ANY(CAST(?1 AS BIGINT[])) "
			"  RETURNING id, at_ms, machine_id, kind, seq, ts_ms, body), "
			"fresh AS (SELECT DISTINCT ON (b.machine_id, b.kind, b.seq) b.machine_id, b.kind, b.seq, b.ts_ms, b.body "
			"  FROM batch b WHERE EXISTS (SELECT 1 FROM machines m WHERE m.id = b.machine_id) "
			"  AND NOT (b.kind = 1 AND EXISTS (SELECT 1 FROM telemetry x WHERE x.machine_id = b.machine_id AND x.seq = b.seq)) "
			"  AND NOT (b.kind = 2 AND EXISTS (SELECT 1 FROM events x WHERE x.machine_id = b.machine_id AND x.seq = b.seq)) "
			"  ORDER BY b.machine_id, b.kind, b.seq, b.id), "
			"t AS (INSERT INTO telemetry(machine_id, seq, ts_ms, body) "
			"  SELECT machine_id, seq, ts_ms, body FROM fresh WHERE kind = 1), "
			"e AS (INSERT INTO events(machine_id, seq, ts_ms, body) "
			"  SELECT machine_id, seq, ts_ms, body FROM fresh WHERE kind = 2), "
			"seen AS (UPDATE machine_state ms SET last_seen_ms = GREATEST(ms.last_seen_ms, l.at_ms) "
			"  FROM (SELECT machine_id, max(at_ms) AS at_ms FROM batch GROUP BY machine_id) l "
			"  WHERE ms.machine_id = l.machine_id) "
			"SELECT n.moved, f.machine_id, f.kind, f.seq, f.ts_ms, f.body "
			"FROM (SELECT count(*) AS moved FROM batch) n LEFT JOIN fresh f ON true "
			"ORDER BY f.machine_id, f.kind, f.seq",
			&p, settle_row, &t, "moving records from the inbox");
	free(ids);
	if (rc > 0)
		rc = t.rc;
	if (rc == CC_OK && t.moved > 0 && hooks != NULL && hooks->finish != NULL)
		rc = hooks->finish(hooks->ctx, base);
	if (rc == CC_OK)
		rc = pg_commit(base);
	if (rc != CC_OK) {
		pg_rollback(base);
		return rc;
	}
	*moved = t.moved;
	return CC_OK;
}

/* Before 10000-01-01: what both dialects' date functions take. */
#define YEAR_10000_MS INT64_C(253402300800000)

/* Whole months go as partitions: DROP TABLE, no row deleted one by one.
 * The default partition (times outside 2000..2199) is the one deleted from. */
static int pg_records_drop_months(struct store *base, enum record_kind kind, int64_t before_ms, int64_t *cut_ms)
{
	struct pg_store *s = PG(base);
	struct params p = { 0 };
	PGresult *r = NULL;
	const char *t = record_table(kind);
	char sql[160];
	int64_t cut;
	int rc, i;

	if ((kind != RECORD_TELEMETRY && kind != RECORD_EVENT) || before_ms < 0 || before_ms >= YEAR_10000_MS)
		return CC_ERR_INVALID;
	param_int(&p, before_ms);
	rc = run_p(s, sql_text(SQL_POSTGRESQL, SQL_MONTH_START), &p, "dropping months of records", &r);
	if (rc != CC_OK)
		return rc;
	cut = int_value(r, 0, 0);
	PQclear(r);
	/* Each month's bound from the catalogue: "FOR VALUES FROM ('a') TO ('b')". */
	memset(&p, 0, sizeof(p));
	param_text(&p, t);
	param_int(&p, cut);
	rc = run_p(s, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
	              "WHERE i.inhparent = to_regclass(?1) AND pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES FROM (%' "
	              "AND CAST(substring(pg_get_expr(c.relpartbound, c.oid) "
	              "FROM 'TO \\(''?(-?[0-9]+)''?\\)') AS BIGINT) <= ?2 "
	              "ORDER BY c.relname", &p, "dropping months of records", &r);
	if (rc != CC_OK)
		return rc;
	for (i = 0; i < PQntuples(r) && rc == CC_OK; i++) {
		char *quoted = PQescapeIdentifier(s->conn, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
		struct params none = { 0 };

		if (quoted == NULL) {
			rc = CC_ERR_NOMEM;
			break;
		}
		snprintf(sql, sizeof(sql), "DROP TABLE %s", quoted);
		PQfreemem(quoted);
		rc = run_p(s, sql, &none, "dropping months of records", NULL);
	}
	PQclear(r);
	if (rc == CC_OK) {
		memset(&p, 0, sizeof(p));
		param_int(&p, cut);
		snprintf(sql, sizeof(sql), "DELETE FROM %s_other WHERE ts_ms < ?", t);
		rc = run_p(s, sql, &p, "dropping months of records", NULL);
	}
	if (rc == CC_OK)
		*cut_ms = cut;
	return rc;
}

/* ---- roll-ups ---- */

static int pg_rollup_get(struct store *base, int64_t machine_id, int64_t width_ms, int64_t start_ms, uint8_t *out,
                         size_t cap, size_t *len)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	uint8_t *body;
	int rc;

	param_int(&p, machine_id);
	param_int(&p, width_ms);
	param_int(&p, start_ms);
	rc = run_p(PG(base), "SELECT body FROM rollups WHERE machine_id = ? AND width_ms = ? AND start_ms = ?", &p,
	           "reading a roll-up", &r);
	if (rc != CC_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return CC_ERR_NOTFOUND;
	}
	body = body_value(r, 0, 0, len);
	PQclear(r);
	if (body == NULL)
		return CC_ERR_NOMEM;
	if (*len > cap)
		rc = CC_ERR_LIMIT;
	else if (*len > 0)
		memcpy(out, body, *len);
	PQfreemem(body);
	return rc;
}

static int pg_rollup_put(struct store *base, int64_t machine_id, int64_t width_ms, int64_t start_ms,
                         const uint8_t *body, size_t len)
{
	struct params p = { 0 };

	param_int(&p, machine_id);
	param_int(&p, width_ms);
	param_int(&p, start_ms);
	param_blob(&p, body, len);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_ROLLUP_PUT), &p, "storing a roll-up", NULL);
}

struct rollup_emitter {
	int (*each)(void *, int64_t, const uint8_t *, size_t);
	void *ctx;
};

static int emit_rollup(void *arg, const PGresult *r, int row)
{
	struct rollup_emitter *e = arg;
	size_t len = 0;
	uint8_t *body = body_value(r, row, 1, &len);
	int stop;

	if (body == NULL)
		return CC_ERR_NOMEM;
	stop = e->each(e->ctx, int_value(r, row, 0), body, len);
	PQfreemem(body);
	return stop;
}

static int pg_rollup_each(struct store *base, int64_t machine_id, int64_t width_ms, int64_t from_ms, int64_t to_ms,
                          int (*each)(void *, int64_t, const uint8_t *, size_t), void *ctx)
{
	struct rollup_emitter e = { each, ctx };
	struct params p = { 0 };

	param_int(&p, machine_id);
	param_int(&p, width_ms);
	param_int(&p, from_ms);
	param_int(&p, to_ms);
	return each_row(PG(base), "SELECT start_ms, body FROM rollups WHERE machine_id = ? AND width_ms = ? "
	                          "AND start_ms >= ? AND start_ms < ? ORDER BY start_ms", &p, emit_rollup, &e,
	                "reading roll-ups");
}

/* A DELETE or UPDATE whose row count goes to *count. */
static int run_counted(struct pg_store *s, const char *sql, const struct params *p, int64_t *count,
                       const char *what)
{
	PGresult *r = NULL;
	int rc = run_p(s, sql, p, what, &r);

	if (rc == CC_OK)
		*count = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return rc;
}

static int pg_rollup_purge(struct store *base, int64_t machine_id, int64_t width_ms, int64_t before_ms, int64_t limit,
                           int64_t *deleted)
{
	struct params p = { 0 };

	param_int(&p, machine_id);
	param_int(&p, width_ms);
	param_int(&p, before_ms);
	param_int(&p, limit);
	return run_counted(PG(base), "DELETE FROM rollups WHERE machine_id = ?1 AND width_ms = ?2 AND start_ms IN "
	                                "(SELECT start_ms FROM rollups WHERE machine_id = ?1 AND width_ms = ?2 "
	                                "AND start_ms < ?3 ORDER BY start_ms LIMIT ?4)", &p, deleted,
	                      "deleting roll-ups past their retention");
}

/* ---- last cleanings, water since a descale ---- */

static int pg_last_cleaning_put(struct store *base, int64_t machine_id, const char *program, int64_t ts_ms)
{
	struct params p = { 0 };

	param_int(&p, machine_id);
	param_text(&p, program);
	param_int(&p, ts_ms);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_CLEANING_PUT), &p, "keeping a machine's last cleaning", NULL);
}

struct cleaning_emitter {
	int (*each)(void *, int64_t, const char *, int64_t);
	void *ctx;
};

static int emit_cleaning(void *arg, const PGresult *r, int row)
{
	struct cleaning_emitter *e = arg;

	return e->each(e->ctx, int_value(r, row, 0), PQgetvalue(r, row, 1), int_value(r, row, 2));
}

static int pg_last_cleanings_each(struct store *base, int (*each)(void *, int64_t, const char *, int64_t), void *ctx)
{
	struct cleaning_emitter e = { each, ctx };
	struct params p = { 0 };

	return each_row(PG(base), "SELECT machine_id, program, ts_ms FROM last_cleanings ORDER BY machine_id", &p,
	                emit_cleaning, &e, "reading the last cleanings");
}

static int pg_descale_water_put(struct store *base, int64_t machine_id, const uint8_t *sealed, size_t len)
{
	struct params p = { 0 };

	param_int(&p, machine_id);
	param_blob(&p, sealed, len);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_DESCALE_WATER_PUT), &p,
	             "keeping a machine's water since its descale", NULL);
}

static int pg_descale_water_each(struct store *base, int (*each)(void *, int64_t, const uint8_t *, size_t), void *ctx)
{
	struct rollup_emitter e = { each, ctx }; /* the same shape: an id and a blob */
	struct params p = { 0 };

	return each_row(PG(base), "SELECT machine_id, sealed FROM descale_water ORDER BY machine_id", &p, emit_rollup, &e,
	                "reading the water since each descale");
}

/* ---- days of events to digest ---- */

static int pg_event_day_touch(struct store *base, int64_t machine_id, int64_t day_ms, int64_t wdigest)
{
	struct params p = { 0 }, q = { 0 };
	int rc;

	param_int(&p, day_ms);
	param_int(&p, machine_id);
	rc = run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_DAY_MARK), &p, "marking a day of events", NULL);
	if (rc != CC_OK)
		return rc;
	param_int(&q, machine_id);
	param_int(&q, wdigest);
	param_int(&q, day_ms);
	return run_p(PG(base), "DELETE FROM rollups WHERE machine_id = ? AND width_ms = ? AND start_ms = ?", &q,
	             "dropping a day's digest", NULL);
}

struct day_emitter {
	int (*each)(void *, int64_t, int64_t);
	void *ctx;
};

static int emit_day(void *arg, const PGresult *r, int row)
{
	struct day_emitter *e = arg;

	return e->each(e->ctx, int_value(r, row, 0), int_value(r, row, 1));
}

static int pg_event_days_dirty(struct store *base, int64_t before_ms, size_t limit,
                               int (*each)(void *, int64_t, int64_t), void *ctx)
{
	struct day_emitter e = { each, ctx };
	struct params p = { 0 };

	param_int(&p, before_ms);
	param_int(&p, limit < (size_t)INT64_MAX ? (int64_t)limit : INT64_MAX);
	return each_row(PG(base), "SELECT machine_id, day_ms FROM event_days_dirty WHERE day_ms < ? "
	                          "ORDER BY day_ms, machine_id LIMIT ?", &p, emit_day, &e,
	                "reading the days of events to digest");
}

static int pg_event_day_clean(struct store *base, int64_t machine_id, int64_t day_ms)
{
	struct params p = { 0 };

	param_int(&p, machine_id);
	param_int(&p, day_ms);
	return run_p(PG(base), "DELETE FROM event_days_dirty WHERE machine_id = ? AND day_ms = ?", &p,
	             "unmarking a day of events", NULL);
}

/* ---- commands and jobs: SQLite's statements, a cast where PostgreSQL needs one ---- */

#define COMMAND_COLUMNS "id, machine_id, name, body, created_ms, delivered_ms, failed_ms, failure, " \
	"job_id, deadline_ms, accepted_ms, ended_ms, end_state, detail, late_results"

static void read_command(const PGresult *r, int row, void *out)
{
	struct store_command *c = out;
	size_t n;

	memset(c, 0, sizeof(*c));
	c->id = int_value(r, row, 0);
	c->machine_id = int_value(r, row, 1);
	copy_value(c->name, sizeof(c->name), r, row, 2);
	/* An oversized body cannot have been written by us: left empty, it fails to open. */
	n = hex_value(c->body, sizeof(c->body), r, row, 3);
	c->body_len = n <= sizeof(c->body) ? n : 0;
	c->created_ms = int_value(r, row, 4);
	c->delivered_ms = int_value(r, row, 5);
	c->failed_ms = int_value(r, row, 6);
	copy_value(c->failure, sizeof(c->failure), r, row, 7);
	c->job_id = int_value(r, row, 8);
	c->deadline_ms = int_value(r, row, 9);
	c->accepted_ms = int_value(r, row, 10);
	c->ended_ms = int_value(r, row, 11);
	copy_value(c->end_state, sizeof(c->end_state), r, row, 12);
	copy_value(c->detail, sizeof(c->detail), r, row, 13);
	c->late_results = int_value(r, row, 14);
}

struct command_emitter {
	int (*each)(void *, const struct store_command *);
	void *ctx;
};

static int emit_command(void *arg, const PGresult *r, int row)
{
	struct command_emitter *e = arg;
	struct store_command *c = malloc(sizeof(*c));
	int stop;

	if (c == NULL)
		return CC_ERR_NOMEM;
	read_command(r, row, c);
	stop = e->each(e->ctx, c);
	free(c);
	return stop;
}

static int pg_command_add(struct store *base, const struct store_command *c, int64_t *id)
{
	struct params p = { 0 };

	param_int(&p, c->machine_id);
	param_text(&p, c->name);
	param_blob(&p, c->body, c->body_len);
	param_int(&p, c->created_ms);
	param_int(&p, c->job_id);
	param_int(&p, c->deadline_ms);
	return insert_id(PG(base), "INSERT INTO commands(machine_id, name, body, created_ms, job_id, deadline_ms) "
	                           "VALUES (?, ?, ?, ?, ?, ?) RETURNING id", &p, id, "adding a command");
}

static int commands_where(struct store *base, const char *sql, int64_t key,
                          int (*each)(void *, const struct store_command *), void *ctx)
{
	struct command_emitter e = { each, ctx };
	struct params p = { 0 };

	param_int(&p, key);
	return each_row(PG(base), sql, &p, emit_command, &e, "listing commands");
}

static int pg_command_pending(struct store *base, int64_t machine_id,
                              int (*each)(void *, const struct store_command *), void *ctx)
{
	return commands_where(base, "SELECT " COMMAND_COLUMNS " FROM commands "
	                            "WHERE machine_id = ? AND delivered_ms = 0 AND ended_ms = 0 ORDER BY id",
	                      machine_id, each, ctx);
}

static int pg_command_list(struct store *base, int64_t machine_id,
                           int (*each)(void *, const struct store_command *), void *ctx)
{
	return commands_where(base, "SELECT " COMMAND_COLUMNS " FROM commands WHERE machine_id = ? ORDER BY id DESC",
	                      machine_id, each, ctx);
}

static int pg_command_list_job(struct store *base, int64_t job_id,
                               int (*each)(void *, const struct store_command *), void *ctx)
{
	return commands_where(base, "SELECT " COMMAND_COLUMNS " FROM commands WHERE job_id = ? ORDER BY id", job_id,
	                      each, ctx);
}

static int pg_command_get(struct store *base, int64_t id, struct store_command *out)
{
	struct params p = { 0 };

	param_int(&p, id);
	return one_row(PG(base), "SELECT " COMMAND_COLUMNS " FROM commands WHERE id = ?", &p, read_command, out,
	               "reading a command");
}

static int pg_command_delivered(struct store *base, int64_t id, int64_t at_ms)
{
	struct params p = { 0 };

	param_int(&p, at_ms);
	param_int(&p, id);
	return run_p(PG(base), "UPDATE commands SET delivered_ms = ? WHERE id = ? AND delivered_ms = 0", &p,
	             "marking a command delivered", NULL);
}

static int pg_command_failed(struct store *base, int64_t id, int64_t at_ms, const char *reason)
{
	struct params p = { 0 };

	param_int(&p, at_ms);
	param_text(&p, reason);
	param_int(&p, id);
	return run_p(PG(base), "UPDATE commands SET failed_ms = ?1, failure = ?2, ended_ms = ?1, end_state = 'failed' "
	                       "WHERE id = ?3 AND delivered_ms = 0 AND ended_ms = 0", &p, "marking a command failed",
	             NULL);
}

/* Each report moves an open command forward only (SQLite's statements):
 * a repeated "accepted" changes nothing; an end implies the steps before. */
static int pg_command_result(struct store *base, int64_t id, int64_t machine_id, enum store_command_report report,
                             const char *text, int64_t at_ms, int *late)
{
	struct pg_store *s = PG(base);
	struct params p = { 0 };
	PGresult *r = NULL;
	const char *sql;
	int rc, changed;

	*late = 0;
	if (report == STORE_REPORT_ACCEPTED)
		sql = "UPDATE commands SET accepted_ms = ?1, "
		      "delivered_ms = CASE delivered_ms WHEN 0 THEN ?1 ELSE delivered_ms END "
		      "WHERE id = ?2 AND machine_id = ?3 AND ended_ms = 0 AND accepted_ms = 0";
	else if (report == STORE_REPORT_SUCCEEDED)
		sql = "UPDATE commands SET ended_ms = ?1, end_state = 'succeeded', detail = ?4, "
		      "accepted_ms = CASE accepted_ms WHEN 0 THEN ?1 ELSE accepted_ms END, "
		      "delivered_ms = CASE delivered_ms WHEN 0 THEN ?1 ELSE delivered_ms END "
		      "WHERE id = ?2 AND machine_id = ?3 AND ended_ms = 0";
	else
		sql = "UPDATE commands SET ended_ms = ?1, end_state = 'failed', failed_ms = ?1, failure = ?4, "
		      "accepted_ms = CASE accepted_ms WHEN 0 THEN ?1 ELSE accepted_ms END, "
		      "delivered_ms = CASE delivered_ms WHEN 0 THEN ?1 ELSE delivered_ms END "
		      "WHERE id = ?2 AND machine_id = ?3 AND ended_ms = 0";
	param_int(&p, at_ms);
	param_int(&p, id);
	param_int(&p, machine_id);
	if (report != STORE_REPORT_ACCEPTED)
		param_text(&p, text != NULL ? text : "");
	rc = run_p(s, sql, &p, "recording a command's result", &r);
	changed = rc == CC_OK && strcmp(PQcmdTuples(r), "0") != 0;
	PQclear(r);
	if (rc != CC_OK || changed)
		return rc;
	memset(&p, 0, sizeof(p));
	param_int(&p, id);
	param_int(&p, machine_id);
	rc = run_p(s, "UPDATE commands SET late_results = late_results + 1 WHERE id = ? AND machine_id = ? AND ended_ms > 0",
	           &p, "counting a late result", &r);
	*late = rc == CC_OK && strcmp(PQcmdTuples(r), "0") != 0;
	PQclear(r);
	return rc;
}

static int pg_command_next_deadline(struct store *base, int64_t *deadline_ms)
{
	struct params p = { 0 };
	PGresult *r = NULL;
	int rc = run_p(PG(base), "SELECT COALESCE(MIN(deadline_ms), 0) FROM commands WHERE ended_ms = 0 AND deadline_ms > 0",
	               &p, "reading the next deadline", &r);

	*deadline_ms = rc == CC_OK ? int_value(r, 0, 0) : 0;
	PQclear(r);
	return rc;
}

static int pg_command_expire(struct store *base, int64_t now_ms, int64_t *count)
{
	struct params p = { 0 };

	param_int(&p, now_ms);
	*count = 0;
	return run_counted(PG(base), "UPDATE commands SET ended_ms = ?1, end_state = 'timed_out' "
	                                "WHERE ended_ms = 0 AND deadline_ms > 0 AND deadline_ms <= ?1", &p, count,
	                      "timing out commands");
}

static int pg_command_cancel(struct store *base, int64_t id, int64_t at_ms)
{
	struct params p = { 0 };

	param_int(&p, at_ms);
	param_int(&p, id);
	return update_one(PG(base), "UPDATE commands SET ended_ms = ?, end_state = 'cancelled' WHERE id = ? AND ended_ms = 0",
	                  &p, CC_ERR_STATE, "cancelling a command");
}

#define JOB_COLUMNS "id, name, created_by, target, created_ms, timeout_ms, cancelled_ms, cancelled_by"

static void read_job(const PGresult *r, int row, void *out)
{
	struct store_job *j = out;

	memset(j, 0, sizeof(*j));
	j->id = int_value(r, row, 0);
	copy_value(j->name, sizeof(j->name), r, row, 1);
	copy_value(j->created_by, sizeof(j->created_by), r, row, 2);
	copy_value(j->target, sizeof(j->target), r, row, 3);
	j->created_ms = int_value(r, row, 4);
	j->timeout_ms = int_value(r, row, 5);
	j->cancelled_ms = int_value(r, row, 6);
	copy_value(j->cancelled_by, sizeof(j->cancelled_by), r, row, 7);
}

struct job_emitter {
	int (*each)(void *, const struct store_job *);
	void *ctx;
};

static int emit_job(void *arg, const PGresult *r, int row)
{
	struct job_emitter *e = arg;
	struct store_job j;

	read_job(r, row, &j);
	return e->each(e->ctx, &j);
}

static int pg_job_add(struct store *base, const struct store_job *j, int64_t *id)
{
	struct params p = { 0 };

	param_text(&p, j->name);
	param_text(&p, j->created_by);
	param_text(&p, j->target);
	param_int(&p, j->created_ms);
	param_int(&p, j->timeout_ms);
	return insert_id(PG(base), "INSERT INTO jobs(name, created_by, target, created_ms, timeout_ms) "
	                           "VALUES (?, ?, ?, ?, ?) RETURNING id", &p, id, "adding a job");
}

static int pg_job_get(struct store *base, int64_t id, struct store_job *out)
{
	struct params p = { 0 };

	param_int(&p, id);
	return one_row(PG(base), "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?", &p, read_job, out, "reading a job");
}

static int pg_job_cancelled(struct store *base, int64_t id, int64_t at_ms, const char *by)
{
	struct params p = { 0 };

	param_int(&p, at_ms);
	param_text(&p, by);
	param_int(&p, id);
	return run_p(PG(base), "UPDATE jobs SET cancelled_ms = ?, cancelled_by = ? WHERE id = ? AND cancelled_ms = 0", &p,
	             "cancelling a job", NULL);
}

static int pg_job_list(struct store *base, int64_t before, int (*each)(void *, const struct store_job *), void *ctx)
{
	struct job_emitter e = { each, ctx };
	struct params p = { 0 };

	param_int(&p, before);
	return each_row(PG(base), "SELECT " JOB_COLUMNS " FROM jobs WHERE CAST(?1 AS BIGINT) = 0 OR id < ?1 ORDER BY id DESC",
	                &p, emit_job, &e, "listing jobs");
}

/* ---- alerts ---- */

#define ALERT_COLUMNS "id, machine_id, rule, cause, severity, state, opened_ms, acknowledged_ms, " \
                      "acknowledged_by, resolved_ms, resolved_by, level, level_ms, last_notified_ms"

static void read_alert(const PGresult *r, int row, void *out)
{
	struct store_alert *a = out;

	memset(a, 0, sizeof(*a));
	a->id = int_value(r, row, 0);
	a->machine_id = int_value(r, row, 1);
	copy_value(a->rule, sizeof(a->rule), r, row, 2);
	copy_value(a->cause, sizeof(a->cause), r, row, 3);
	copy_value(a->severity, sizeof(a->severity), r, row, 4);
	copy_value(a->state, sizeof(a->state), r, row, 5);
	a->opened_ms = int_value(r, row, 6);
	a->acknowledged_ms = int_value(r, row, 7);
	copy_value(a->acknowledged_by, sizeof(a->acknowledged_by), r, row, 8);
	a->resolved_ms = int_value(r, row, 9);
	copy_value(a->resolved_by, sizeof(a->resolved_by), r, row, 10);
	a->level = int_value(r, row, 11);
	a->level_ms = int_value(r, row, 12);
	a->last_notified_ms = int_value(r, row, 13);
}

struct alert_emitter {
	int (*each)(void *, const struct store_alert *);
	void *ctx;
};

static int emit_alert(void *arg, const PGresult *r, int row)
{
	struct alert_emitter *e = arg;
	struct store_alert a;

	read_alert(r, row, &a);
	return e->each(e->ctx, &a);
}

static int pg_alert_open(struct store *base, const struct store_alert *a, int64_t *id)
{
	struct params p = { 0 };

	param_int(&p, a->machine_id);
	param_text(&p, a->rule);
	param_text(&p, a->cause);
	param_text(&p, a->severity);
	param_int(&p, a->opened_ms);
	param_int(&p, a->opened_ms);
	return insert_id(PG(base), "INSERT INTO alerts(machine_id, rule, cause, severity, state, opened_ms, level, level_ms) "
	                           "VALUES (?, ?, ?, ?, 'open', ?, 0, ?) RETURNING id", &p, id, "opening an alert");
}

static int pg_alert_get(struct store *base, int64_t id, struct store_alert *out)
{
	struct params p = { 0 };

	param_int(&p, id);
	return one_row(PG(base), "SELECT " ALERT_COLUMNS " FROM alerts WHERE id = ?", &p, read_alert, out,
	               "reading an alert");
}

static int pg_alert_find_open(struct store *base, int64_t machine_id, const char *cause, struct store_alert *out)
{
	struct params p = { 0 };

	param_int(&p, machine_id);
	param_text(&p, cause);
	return one_row(PG(base), "SELECT " ALERT_COLUMNS " FROM alerts WHERE machine_id = ? AND cause = ? "
	                         "AND state <> 'resolved'", &p, read_alert, out, "reading an alert");
}

static int pg_alert_update(struct store *base, const struct store_alert *a)
{
	struct params p = { 0 };

	param_text(&p, a->state);
	param_int(&p, a->acknowledged_ms);
	param_text(&p, a->acknowledged_by);
	param_int(&p, a->resolved_ms);
	param_text(&p, a->resolved_by);
	param_int(&p, a->level);
	param_int(&p, a->level_ms);
	param_int(&p, a->last_notified_ms);
	param_int(&p, a->id);
	return run_p(PG(base), "UPDATE alerts SET state = ?, acknowledged_ms = ?, acknowledged_by = ?, resolved_ms = ?, "
	                       "resolved_by = ?, level = ?, level_ms = ?, last_notified_ms = ? WHERE id = ?", &p,
	             "updating an alert", NULL);
}

static int pg_alert_list(struct store *base, const struct store_alert_filter *f,
                         int (*each)(void *, const struct store_alert *), void *ctx)
{
	struct alert_emitter e = { each, ctx };
	struct params p = { 0 };

	param_int(&p, f->before_id);
	param_int(&p, f->unresolved);
	param_text(&p, f->state);
	param_text(&p, f->severity);
	param_text(&p, f->rule);
	param_int(&p, f->machine_id);
	param_int(&p, f->customer_id);
	param_int(&p, f->site_id);
	return each_row(PG(base), sql_text(SQL_POSTGRESQL, SQL_ALERT_LIST), &p, emit_alert, &e, "listing alerts");
}

static void read_alert_event(const PGresult *r, int row, struct store_alert_event *e)
{
	size_t n;

	memset(e, 0, sizeof(*e));
	e->seq = int_value(r, row, 0);
	e->alert_id = int_value(r, row, 1);
	e->at_ms = int_value(r, row, 2);
	copy_value(e->who, sizeof(e->who), r, row, 3);
	copy_value(e->what, sizeof(e->what), r, row, 4);
	copy_value(e->detail, sizeof(e->detail), r, row, 5);
	n = PQgetisnull(r, row, 6) ? 0 : hex_value(e->note, sizeof(e->note), r, row, 6);
	e->note_len = n <= sizeof(e->note) ? n : 0;
}

struct alert_event_emitter {
	int (*each)(void *, const struct store_alert_event *);
	void *ctx;
};

static int emit_alert_event(void *arg, const PGresult *r, int row)
{
	struct alert_event_emitter *e = arg;
	struct store_alert_event *ev = malloc(sizeof(*ev));
	int stop;

	if (ev == NULL)
		return CC_ERR_NOMEM;
	read_alert_event(r, row, ev);
	stop = e->each(e->ctx, ev);
	free(ev);
	return stop;
}

static int pg_alert_event_add(struct store *base, const struct store_alert_event *e)
{
	struct params p = { 0 };

	param_int(&p, e->alert_id);
	param_int(&p, e->at_ms);
	param_text(&p, e->who);
	param_text(&p, e->what);
	param_text(&p, e->detail);
	if (e->note_len > 0)
		param_blob(&p, e->note, e->note_len);
	else
		param_text(&p, NULL);
	return run_p(PG(base), "INSERT INTO alert_events(alert_id, at_ms, who, what, detail, note) "
	                       "VALUES (?, ?, ?, ?, ?, ?)", &p, "adding to an alert's history", NULL);
}

static int pg_alert_events(struct store *base, int64_t alert_id,
                           int (*each)(void *, const struct store_alert_event *), void *ctx)
{
	struct alert_event_emitter e = { each, ctx };
	struct params p = { 0 };

	param_int(&p, alert_id);
	return each_row(PG(base), "SELECT seq, alert_id, at_ms, who, what, detail, note FROM alert_events "
	                          "WHERE alert_id = ? ORDER BY seq", &p, emit_alert_event, &e,
	                "reading an alert's history");
}

static int pg_alert_rule_set(struct store *base, int64_t org_id, const char *rule, int enabled, const char *params)
{
	struct params p = { 0 };

	param_int(&p, org_id);
	param_text(&p, rule);
	param_int(&p, enabled != 0);
	param_text(&p, params);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_ALERT_RULE_SET), &p, "setting an alert rule", NULL);
}

struct alert_rule_emitter {
	int (*each)(void *, int64_t, const char *, int, const char *);
	void *ctx;
};

static int emit_alert_rule(void *arg, const PGresult *r, int row)
{
	struct alert_rule_emitter *e = arg;

	return e->each(e->ctx, int_value(r, row, 0), PQgetvalue(r, row, 1), (int)int_value(r, row, 2),
	               PQgetvalue(r, row, 3));
}

static int pg_alert_rule_list(struct store *base, int64_t org_id,
                              int (*each)(void *, int64_t, const char *, int, const char *), void *ctx)
{
	struct alert_rule_emitter e = { each, ctx };
	struct params p = { 0 };

	param_int(&p, org_id);
	return each_row(PG(base), "SELECT org_id, rule, enabled, params FROM alert_rules "
	                          "WHERE CAST(?1 AS BIGINT) = 0 OR org_id = ?1 ORDER BY org_id, rule", &p,
	                emit_alert_rule, &e, "listing alert rules");
}

/* ---- settings documents: policy and consent, rule sets, retention terms ---- */

static int scalar_int(struct pg_store *s, const char *sql, const struct params *p, int64_t *out, const char *what)
{
	PGresult *r = NULL;
	int rc = run_p(s, sql, p, what, &r);

	if (rc == CC_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		*out = int_value(r, 0, 0);
	else if (rc == CC_OK)
		rc = CC_ERR_DB;
	PQclear(r);
	return rc;
}

/* The next version is MAX + 1 in the statement: two publishers at once
 * collide on the key (CC_ERR_EXISTS), neither overwrites the other. */
static int pg_policy_publish(struct store *base, const struct store_policy *pol, int64_t *version)
{
	struct params p = { 0 };

	param_text(&p, pol->last_updated);
	param_text(&p, pol->purposes);
	param_text(&p, pol->text);
	param_int(&p, pol->published_ms);
	return scalar_int(PG(base), sql_text(SQL_POSTGRESQL, SQL_POLICY_PUBLISH), &p, version, "publishing a policy");
}

struct policy_emitter {
	int (*each)(void *, const struct store_policy *);
	void *ctx;
};

static int emit_policy(void *arg, const PGresult *r, int row)
{
	struct policy_emitter *e = arg;
	struct store_policy *pol = calloc(1, sizeof(*pol)); /* 64 KiB of text: not on the stack */
	int stop;

	if (pol == NULL)
		return CC_ERR_NOMEM;
	pol->version = int_value(r, row, 0);
	copy_value(pol->last_updated, sizeof(pol->last_updated), r, row, 1);
	copy_value(pol->purposes, sizeof(pol->purposes), r, row, 2);
	copy_value(pol->text, sizeof(pol->text), r, row, 3);
	pol->published_ms = int_value(r, row, 4);
	stop = e->each(e->ctx, pol);
	free(pol);
	return stop;
}

static int pg_policy_each(struct store *base, int (*each)(void *, const struct store_policy *), void *ctx)
{
	struct policy_emitter e = { each, ctx };
	struct params p = { 0 };

	return each_row(PG(base), "SELECT version, last_updated, purposes, text, published_ms FROM policy_versions "
	                          "ORDER BY version", &p, emit_policy, &e, "listing policy versions");
}

static int pg_consent_add(struct store *base, int64_t customer_id, int64_t version, const char *language,
                          const char *login, int64_t at_ms)
{
	struct params p = { 0 };

	param_int(&p, customer_id);
	param_int(&p, version);
	param_text(&p, login);
	param_int(&p, at_ms);
	param_text(&p, language);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_CONSENT_ADD), &p, "recording a consent", NULL);
}

static int pg_consent_latest(struct store *base, int64_t customer_id, int64_t *version)
{
	struct params p = { 0 };

	param_int(&p, customer_id);
	return scalar_int(PG(base), "SELECT COALESCE(MAX(version), 0) FROM consents WHERE customer_id = ?", &p, version,
	                  "reading consents");
}

static int pg_ruleset_add(struct store *base, const struct store_ruleset *rs, const char *doc, int64_t *version)
{
	struct params p = { 0 };

	param_text(&p, rs->model);
	param_int(&p, rs->created_ms);
	param_text(&p, rs->author);
	param_text(&p, doc);
	return scalar_int(PG(base), sql_text(SQL_POSTGRESQL, SQL_RULESET_ADD), &p, version, "adding a quality rule set");
}

struct ruleset_emitter {
	int (*each)(void *, const struct store_ruleset *, const char *);
	void *ctx;
};

static int emit_ruleset(void *arg, const PGresult *r, int row)
{
	struct ruleset_emitter *e = arg;
	struct store_ruleset rs;

	memset(&rs, 0, sizeof(rs));
	copy_value(rs.model, sizeof(rs.model), r, row, 0);
	rs.version = int_value(r, row, 1);
	rs.created_ms = int_value(r, row, 2);
	copy_value(rs.author, sizeof(rs.author), r, row, 3);
	return e->each(e->ctx, &rs, PQgetvalue(r, row, 4));
}

static int pg_ruleset_list(struct store *base, const char *model,
                           int (*each)(void *, const struct store_ruleset *, const char *), void *ctx)
{
	struct ruleset_emitter e = { each, ctx };
	struct params p = { 0 };

	param_text(&p, model);
	return each_row(PG(base), "SELECT model, version, created_ms, author, doc FROM quality_rulesets "
	                          "WHERE CAST(?1 AS TEXT) IS NULL OR model = ?1 ORDER BY model, version", &p,
	                emit_ruleset, &e, "listing quality rule sets");
}

static int pg_retention_term_set(struct store *base, int64_t org_id, const char *kind, int64_t days,
                                 const char *set_by, int64_t at_ms)
{
	struct params p = { 0 };

	param_int(&p, org_id);
	param_text(&p, kind);
	if (days <= 0)
		return run_p(PG(base), "DELETE FROM retention_terms WHERE org_id = ?1 AND kind = ?2", &p,
		             "setting a customer's retention", NULL);
	param_int(&p, days);
	param_text(&p, set_by);
	param_int(&p, at_ms);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_RETENTION_TERM_SET), &p, "setting a customer's retention",
	             NULL);
}

struct retention_term_emitter {
	int (*each)(void *, int64_t, const char *, int64_t);
	void *ctx;
};

static int emit_retention_term(void *arg, const PGresult *r, int row)
{
	struct retention_term_emitter *e = arg;

	return e->each(e->ctx, int_value(r, row, 0), PQgetvalue(r, row, 1), int_value(r, row, 2));
}

static int pg_retention_term_list(struct store *base, int64_t org_id,
                                  int (*each)(void *, int64_t, const char *, int64_t), void *ctx)
{
	struct retention_term_emitter e = { each, ctx };
	struct params p = { 0 };

	param_int(&p, org_id);
	return each_row(PG(base), "SELECT org_id, kind, days FROM retention_terms WHERE CAST(?1 AS BIGINT) = 0 "
	                          "OR org_id = ?1 ORDER BY org_id, kind", &p, emit_retention_term, &e,
	                "listing customers' retention");
}

/* ---- certificates: renewal, revocation, the CRL ---- */

/* Two rows change together: in a savepoint of its own inside the caller's
 * transaction, or a transaction of its own. */
static int pg_machine_cert_set(struct store *base, int64_t id, const struct store_machine *m, int64_t prev_until_ms)
{
	struct pg_store *s = PG(base);
	struct params p = { 0 }, q = { 0 };
	int began = !pg_in_transaction(base);
	int rc = exec_plain(s, began ? "BEGIN" : "SAVEPOINT machine_cert", "renewing a machine certificate");

	if (rc != CC_OK)
		return rc;
	param_int(&p, prev_until_ms);
	param_text(&p, m->cert_fingerprint);
	param_int(&p, m->cert_not_after_ms);
	param_int(&p, id);
	rc = update_one(s, "UPDATE machines SET prev_cert_fingerprint = cert_fingerprint, prev_cert_until_ms = ?1, "
	                   "cert_fingerprint = ?2, cert_not_after_ms = ?3 WHERE id = ?4 AND revoked_ms = 0", &p,
	                CC_ERR_STATE, "renewing a machine certificate");
	if (rc == CC_OK) {
		param_text(&q, m->cert_pem);
		param_int(&q, id);
		rc = update_one(s, "UPDATE machine_certs SET prev_cert_pem = cert_pem, cert_pem = ?1 WHERE machine_id = ?2",
		                &q, CC_ERR_STATE, "renewing a machine certificate");
	}
	if (rc == CC_OK)
		return began ? pg_commit(base) : exec_plain(s, "RELEASE SAVEPOINT machine_cert", "renewing a machine certificate");
	if (began)
		pg_rollback(base);
	else
		(void)exec_plain(s, "ROLLBACK TO SAVEPOINT machine_cert; RELEASE SAVEPOINT machine_cert",
		                 "renewing a machine certificate");
	return rc;
}

static int pg_machine_revoke(struct store *base, int64_t id, int64_t revoked_ms)
{
	struct params p = { 0 }, q = { 0 };
	int rc;

	param_int(&p, revoked_ms);
	param_int(&p, id);
	rc = update_one(PG(base), "UPDATE machines SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0", &p, CC_ERR_STATE,
	                "revoking a machine");
	if (rc != CC_OK)
		return rc;
	param_int(&q, id);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_REVOKE_MACHINE_CERTS), &q, "revoking a machine", NULL);
}

static int pg_revoked_cert_add(struct store *base, const struct store_revoked_cert *c)
{
	struct params p = { 0 };

	param_text(&p, c->fingerprint);
	param_text(&p, c->cert_pem);
	param_int(&p, c->revoked_ms);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_REVOKED_CERT_ADD), &p, "listing a revoked certificate", NULL);
}

struct revoked_cert_emitter {
	int (*each)(void *, const struct store_revoked_cert *);
	void *ctx;
};

static int emit_revoked_cert(void *arg, const PGresult *r, int row)
{
	struct revoked_cert_emitter *e = arg;
	struct store_revoked_cert *c = calloc(1, sizeof(*c));
	int stop;

	if (c == NULL)
		return CC_ERR_NOMEM;
	copy_value(c->fingerprint, sizeof(c->fingerprint), r, row, 0);
	copy_value(c->cert_pem, sizeof(c->cert_pem), r, row, 1);
	c->revoked_ms = int_value(r, row, 2);
	stop = e->each(e->ctx, c);
	free(c);
	return stop;
}

static int pg_revoked_cert_list(struct store *base, int (*each)(void *, const struct store_revoked_cert *), void *ctx)
{
	struct revoked_cert_emitter e = { each, ctx };
	struct params p = { 0 };

	return each_row(PG(base), "SELECT fingerprint, cert_pem, revoked_ms FROM revoked_certs "
	                          "ORDER BY revoked_ms, fingerprint", &p, emit_revoked_cert, &e,
	                "listing revoked certificates");
}

/* ---- refusals and state changes ---- */

static int pg_refusal_count(struct store *base, int64_t machine_id, const char *reason, int64_t at_ms)
{
	struct params p = { 0 };

	param_int(&p, machine_id);
	param_text(&p, reason);
	param_int(&p, at_ms);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_REFUSAL_COUNT), &p, "counting a refusal", NULL);
}

struct refusal_emitter {
	int (*each)(void *, const char *, int64_t, int64_t);
	void *ctx;
};

static int emit_refusal(void *arg, const PGresult *r, int row)
{
	struct refusal_emitter *e = arg;

	return e->each(e->ctx, PQgetvalue(r, row, 0), int_value(r, row, 1), int_value(r, row, 2));
}

static int pg_refusal_list(struct store *base, int64_t machine_id,
                           int (*each)(void *, const char *, int64_t, int64_t), void *ctx)
{
	struct refusal_emitter e = { each, ctx };
	struct params p = { 0 };

	param_int(&p, machine_id);
	return each_row(PG(base), "SELECT reason, count, last_ms FROM refusals WHERE machine_id = ? ORDER BY reason", &p,
	                emit_refusal, &e, "listing refusals");
}

static int pg_state_change_add(struct store *base, const struct store_state_change *c)
{
	struct params p = { 0 };

	param_int(&p, c->machine_id);
	param_int(&p, c->at_ms);
	param_int(&p, (int64_t)c->kind);
	param_text(&p, c->code);
	param_int(&p, c->value);
	param_text(&p, c->reason);
	return run_p(PG(base), sql_text(SQL_POSTGRESQL, SQL_STATE_CHANGE_ADD), &p, "storing a state change", NULL);
}

struct state_change_emitter {
	int64_t from_ms;
	int (*each)(void *, const struct store_state_change *, int);
	void *ctx;
};

static int emit_state_change(void *arg, const PGresult *r, int row)
{
	struct state_change_emitter *e = arg;
	struct store_state_change c;

	c.machine_id = int_value(r, row, 0);
	c.at_ms = int_value(r, row, 1);
	c.kind = (enum store_state_kind)int_value(r, row, 2);
	copy_value(c.code, sizeof(c.code), r, row, 3);
	c.value = int_value(r, row, 4);
	copy_value(c.reason, sizeof(c.reason), r, row, 5);
	return e->each(e->ctx, &c, c.at_ms < e->from_ms);
}

static int pg_state_changes(struct store *base, int64_t machine_id, int64_t from_ms, int64_t to_ms,
                            int (*each)(void *, const struct store_state_change *, int), void *ctx)
{
	struct state_change_emitter e = { from_ms, each, ctx };
	struct params p = { 0 };

	param_int(&p, machine_id);
	param_int(&p, to_ms);
	return each_row(PG(base), machine_id != 0
	                                  ? "SELECT machine_id, at_ms, kind, code, value, reason FROM state_changes "
	                                    "WHERE machine_id = ?1 AND at_ms < ?2 ORDER BY at_ms"
	                                  : "SELECT machine_id, at_ms, kind, code, value, reason FROM state_changes "
	                                    "WHERE CAST(?1 AS BIGINT) = 0 AND at_ms < ?2 ORDER BY machine_id, at_ms",
	                &p, emit_state_change, &e, "reading state changes");
}

/* The sub-tables, empty for now: the conformance suite names each hole. */
static const struct store_notify_ops pg_notify_ops;
static const struct store_update_ops pg_update_ops;
static const struct store_diag_ops pg_diag_ops;
static const struct store_ticket_ops pg_ticket_ops;
static const struct store_rollout_ops pg_rollout_ops;

const struct store_ops store_postgresql_ops = {
	.name = "postgresql",
	.notify = &pg_notify_ops,
	.updates = &pg_update_ops,
	.diagnostics = &pg_diag_ops,
	.tickets = &pg_ticket_ops,
	.rollouts = &pg_rollout_ops,
	.open = pg_open,
	.close = pg_close,
	.check = pg_check,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.begin_read = pg_begin_read,
	.in_transaction = pg_in_transaction,
	.savepoint = pg_savepoint,
	.savepoint_release = pg_savepoint_release,
	.savepoint_rollback = pg_savepoint_rollback,
	.meta_get = pg_meta_get,
	.meta_set = pg_meta_set,
	.meta_bump = pg_meta_bump,
	.audit_head = pg_audit_head,
	.audit_insert = pg_audit_insert,
	.audit_each = pg_audit_each,
	.org_add = pg_org_add,
	.org_get = pg_org_get,
	.org_find = pg_org_find,
	.org_list = pg_org_list,
	.site_add = pg_site_add,
	.site_get = pg_site_get,
	.site_find = pg_site_find,
	.site_list = pg_site_list,
	.site_update = pg_site_update,
	.machine_add = pg_machine_add,
	.machine_find = pg_machine_find,
	.machine_get = pg_machine_get,
	.machine_list = pg_machine_list,
	.user_add = pg_user_add,
	.user_find = pg_user_find,
	.user_get = pg_user_get,
	.credential_add = pg_credential_add,
	.credential_find = pg_credential_find,
	.credential_get = pg_credential_get,
	.credential_list = pg_credential_list,
	.credential_revoke = pg_credential_revoke,
	.credential_revoke_sessions = pg_credential_revoke_sessions,
	.credential_purge = pg_credential_purge,
	.user_totp_set = pg_user_totp_set,
	.user_totp_step = pg_user_totp_step,
	.user_list = pg_user_list,
	.user_password_set = pg_user_password_set,
	.user_deletion_request = pg_user_deletion_request,
	.user_delete = pg_user_delete,
	.login_retired = pg_login_retired,
	.grant_add = pg_grant_add,
	.grant_get = pg_grant_get,
	.grant_list = pg_grant_list,
	.grant_revoke = pg_grant_revoke,
	.grant_covers = pg_grant_covers,
	.row_set = pg_row_set,
	.org_delete = pg_org_delete,
	.machine_state_set = pg_machine_state_set,
	.machine_state_touch = pg_machine_state_touch,
	.machine_state_get = pg_machine_state_get,
	.records_put = pg_records_put,
	.records_settle = pg_records_settle,
	.records_unsettled = pg_records_unsettled,
	.records_get = pg_records_get,
	.records_last_seq = pg_records_last_seq,
	.records_purge = pg_records_purge,
	.records_drop_months = pg_records_drop_months,
	.rollup_get = pg_rollup_get,
	.rollup_put = pg_rollup_put,
	.rollup_each = pg_rollup_each,
	.rollup_purge = pg_rollup_purge,
	.last_cleaning_put = pg_last_cleaning_put,
	.last_cleanings_each = pg_last_cleanings_each,
	.descale_water_put = pg_descale_water_put,
	.descale_water_each = pg_descale_water_each,
	.event_day_touch = pg_event_day_touch,
	.event_days_dirty = pg_event_days_dirty,
	.event_day_clean = pg_event_day_clean,
	.command_add = pg_command_add,
	.command_pending = pg_command_pending,
	.command_delivered = pg_command_delivered,
	.command_failed = pg_command_failed,
	.command_list = pg_command_list,
	.command_get = pg_command_get,
	.command_result = pg_command_result,
	.command_next_deadline = pg_command_next_deadline,
	.command_expire = pg_command_expire,
	.command_cancel = pg_command_cancel,
	.command_list_job = pg_command_list_job,
	.job_add = pg_job_add,
	.job_get = pg_job_get,
	.job_cancelled = pg_job_cancelled,
	.job_list = pg_job_list,
	.alert_open = pg_alert_open,
	.alert_get = pg_alert_get,
	.alert_find_open = pg_alert_find_open,
	.alert_update = pg_alert_update,
	.alert_list = pg_alert_list,
	.alert_event_add = pg_alert_event_add,
	.alert_events = pg_alert_events,
	.alert_rule_set = pg_alert_rule_set,
	.alert_rule_list = pg_alert_rule_list,
	.policy_publish = pg_policy_publish,
	.policy_each = pg_policy_each,
	.consent_add = pg_consent_add,
	.consent_latest = pg_consent_latest,
	.ruleset_add = pg_ruleset_add,
	.ruleset_list = pg_ruleset_list,
	.retention_term_set = pg_retention_term_set,
	.retention_term_list = pg_retention_term_list,
	.machine_cert_set = pg_machine_cert_set,
	.machine_revoke = pg_machine_revoke,
	.revoked_cert_add = pg_revoked_cert_add,
	.revoked_cert_list = pg_revoked_cert_list,
	.refusal_count = pg_refusal_count,
	.refusal_list = pg_refusal_list,
	.state_change_add = pg_state_change_add,
	.state_changes = pg_state_changes,
	.row_mac_set = pg_row_mac_set,
};
