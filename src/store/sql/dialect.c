#include "store/sql/dialect.h"

#include <stddef.h>

/* Prefix and serial are matched as plain text: no LIKE, whose '_' and '%'
 * are legal in actions and serials. PostgreSQL: strpos for instr, and the
 * casts it needs to type a parameter compared only with NULL or a literal
 * (a bare ?3 = 0 would be a 32-bit integer: a millisecond time overflows it). */
#define AUDIT_COLUMNS "seq, ts_ms, customer_id, actor, source, action, machines, data_class, purpose, outcome, hash"
#define AUDIT_SQLITE                                                                                              \
	"SELECT " AUDIT_COLUMNS " FROM audit WHERE seq >= ?1 AND (?8 = 0 OR seq < ?8) AND ts_ms >= ?2 "             \
	"AND (?3 = 0 OR ts_ms < ?3) AND (?4 IS NULL OR substr(action, 1, length(?4)) = ?4) "                        \
	"AND (?5 IS NULL OR instr(',' || machines || ',', ',' || ?5 || ',') > 0) "                                   \
	"AND (?6 = 0 OR customer_id = ?6) AND (?9 IS NULL OR actor = ?9) "
#define AUDIT_PG                                                                                                  \
	"SELECT " AUDIT_COLUMNS " FROM audit WHERE seq >= ?1 AND (CAST(?8 AS BIGINT) = 0 OR seq < ?8) AND ts_ms >= ?2 " \
	"AND (CAST(?3 AS BIGINT) = 0 OR ts_ms < ?3) AND (CAST(?4 AS TEXT) IS NULL OR substr(action, 1, length(?4)) = ?4) " \
	"AND (CAST(?5 AS TEXT) IS NULL OR strpos(',' || machines || ',', ',' || ?5 || ',') > 0) "                   \
	"AND (CAST(?6 AS BIGINT) = 0 OR customer_id = ?6) AND (CAST(?9 AS TEXT) IS NULL OR actor = ?9) "

static const char *const texts[SQL_STMT_COUNT][2] = {
	[SQL_AUDIT_EACH] = { AUDIT_SQLITE "ORDER BY seq LIMIT ?7", AUDIT_PG "ORDER BY seq LIMIT ?7" },
	[SQL_AUDIT_EACH_DESC] = { AUDIT_SQLITE "ORDER BY seq DESC LIMIT ?7", AUDIT_PG "ORDER BY seq DESC LIMIT ?7" },
	/* A machine deleted a moment ago has no state to keep: a no-op, not an
	 * error. PostgreSQL types the parameters of INSERT ... SELECT as text
	 * unless cast; GREATEST is its two-argument max. */
	[SQL_STATE_SET] = {
		"INSERT INTO machine_state(machine_id, online, last_seen_ms, changed_ms, disconnect_reason, info) "
		"SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM machines WHERE id = ?1) "
		"ON CONFLICT(machine_id) DO UPDATE SET "
		"online = ?2, last_seen_ms = max(last_seen_ms, ?3), "
		"changed_ms = CASE WHEN online <> ?2 THEN ?4 ELSE changed_ms END, "
		"disconnect_reason = CASE WHEN ?2 = 0 THEN ?5 ELSE disconnect_reason END, "
		"info = IFNULL(?6, info)",
		"INSERT INTO machine_state(machine_id, online, last_seen_ms, changed_ms, disconnect_reason, info) "
		"SELECT CAST(?1 AS BIGINT), CAST(?2 AS INTEGER), CAST(?3 AS BIGINT), CAST(?4 AS BIGINT), CAST(?5 AS TEXT), "
		"CAST(?6 AS BYTEA) WHERE EXISTS (SELECT 1 FROM machines WHERE id = ?1) "
		"ON CONFLICT(machine_id) DO UPDATE SET "
		"online = ?2, last_seen_ms = GREATEST(machine_state.last_seen_ms, ?3), "
		"changed_ms = CASE WHEN machine_state.online <> ?2 THEN ?4 ELSE machine_state.changed_ms END, "
		"disconnect_reason = CASE WHEN ?2 = 0 THEN ?5 ELSE machine_state.disconnect_reason END, "
		"info = COALESCE(?6, machine_state.info)",
	},
	[SQL_STATE_TOUCH] = {
		"UPDATE machine_state SET last_seen_ms = max(last_seen_ms, ?) WHERE machine_id = ?",
		"UPDATE machine_state SET last_seen_ms = GREATEST(last_seen_ms, ?) WHERE machine_id = ?",
	},
	[SQL_REPORT_PUT] = {
		"INSERT OR IGNORE INTO reports(machine_id, seq, ts_ms, body) VALUES (?, ?, ?, ?)",
		"INSERT INTO reports(machine_id, seq, ts_ms, body) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
	},
	[SQL_ROLLUP_PUT] = {
		"INSERT OR REPLACE INTO rollups(machine_id, width_ms, start_ms, body) VALUES (?, ?, ?, ?)",
		"INSERT INTO rollups(machine_id, width_ms, start_ms, body) VALUES (?, ?, ?, ?) "
		"ON CONFLICT (machine_id, width_ms, start_ms) DO UPDATE SET body = excluded.body",
	},
	[SQL_DAY_MARK] = {
		"INSERT OR IGNORE INTO event_days_dirty(day_ms, machine_id) VALUES (?, ?)",
		"INSERT INTO event_days_dirty(day_ms, machine_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
	},
	[SQL_CLEANING_PUT] = {
		"INSERT INTO last_cleanings(machine_id, program, ts_ms) VALUES (?, ?, ?) "
		"ON CONFLICT(machine_id, program) DO UPDATE SET ts_ms = max(ts_ms, excluded.ts_ms)",
		"INSERT INTO last_cleanings(machine_id, program, ts_ms) VALUES (?, ?, ?) "
		"ON CONFLICT(machine_id, program) DO UPDATE SET ts_ms = GREATEST(last_cleanings.ts_ms, excluded.ts_ms)",
	},
	[SQL_DESCALE_WATER_PUT] = {
		"INSERT OR REPLACE INTO descale_water(machine_id, sealed) VALUES (?, ?)",
		"INSERT INTO descale_water(machine_id, sealed) VALUES (?, ?) "
		"ON CONFLICT (machine_id) DO UPDATE SET sealed = excluded.sealed",
	},
	[SQL_MONTH_START] = {
		"SELECT CAST(strftime('%s', ?1 / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000",
		"SELECT CAST(extract(epoch FROM date_trunc('month', to_timestamp(CAST(?1 AS BIGINT) / 1000.0) "
		"AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') * 1000 AS BIGINT)",
	},
	[SQL_ALERT_LIST] = {
		"SELECT a.id, a.machine_id, a.rule, a.cause, a.severity, a.state, a.opened_ms, "
		"a.acknowledged_ms, a.acknowledged_by, a.resolved_ms, a.resolved_by, a.level, a.level_ms, "
		"a.last_notified_ms FROM alerts a JOIN machines m ON m.id = a.machine_id "
		"WHERE (?1 = 0 OR a.id < ?1) AND (?2 = 0 OR a.state <> 'resolved') "
		"AND (?3 IS NULL OR a.state = ?3) AND (?4 IS NULL OR a.severity = ?4) "
		"AND (?5 IS NULL OR a.rule = ?5) AND (?6 = 0 OR a.machine_id = ?6) "
		"AND (?7 = 0 OR m.customer_id = ?7) AND (?8 = 0 OR m.site_id = ?8) "
		"ORDER BY a.id DESC",
		"SELECT a.id, a.machine_id, a.rule, a.cause, a.severity, a.state, a.opened_ms, "
		"a.acknowledged_ms, a.acknowledged_by, a.resolved_ms, a.resolved_by, a.level, a.level_ms, "
		"a.last_notified_ms FROM alerts a JOIN machines m ON m.id = a.machine_id "
		"WHERE (CAST(?1 AS BIGINT) = 0 OR a.id < ?1) AND (CAST(?2 AS INTEGER) = 0 OR a.state <> 'resolved') "
		"AND (CAST(?3 AS TEXT) IS NULL OR a.state = ?3) AND (CAST(?4 AS TEXT) IS NULL OR a.severity = ?4) "
		"AND (CAST(?5 AS TEXT) IS NULL OR a.rule = ?5) AND (CAST(?6 AS BIGINT) = 0 OR a.machine_id = ?6) "
		"AND (CAST(?7 AS BIGINT) = 0 OR m.customer_id = ?7) AND (CAST(?8 AS BIGINT) = 0 OR m.site_id = ?8) "
		"ORDER BY a.id DESC",
	},
	[SQL_ALERT_RULE_SET] = {
		"INSERT OR REPLACE INTO alert_rules(org_id, rule, enabled, params) VALUES (?, ?, ?, ?)",
		"INSERT INTO alert_rules(org_id, rule, enabled, params) VALUES (?, ?, ?, ?) "
		"ON CONFLICT (org_id, rule) DO UPDATE SET enabled = excluded.enabled, params = excluded.params",
	},
	/* INSERT ... SELECT: PostgreSQL types a bare parameter there as text. */
	[SQL_POLICY_PUBLISH] = {
		"INSERT INTO policy_versions(version, last_updated, purposes, text, published_ms) "
		"SELECT IFNULL(MAX(version), 0) + 1, ?, ?, ?, ? FROM policy_versions "
		"RETURNING version",
		"INSERT INTO policy_versions(version, last_updated, purposes, text, published_ms) "
		"SELECT COALESCE(MAX(version), 0) + 1, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT) "
		"FROM policy_versions RETURNING version",
	},
	[SQL_CONSENT_ADD] = {
		"INSERT OR IGNORE INTO consents(customer_id, version, login, at_ms, language) VALUES (?, ?, ?, ?, ?)",
		"INSERT INTO consents(customer_id, version, login, at_ms, language) VALUES (?, ?, ?, ?, ?) "
		"ON CONFLICT DO NOTHING",
	},
	[SQL_RULESET_ADD] = {
		"INSERT INTO quality_rulesets(model, version, created_ms, author, doc) "
		"SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4 FROM quality_rulesets WHERE model = ?1 "
		"RETURNING version",
		"INSERT INTO quality_rulesets(model, version, created_ms, author, doc) "
		"SELECT CAST(?1 AS TEXT), COALESCE(MAX(version), 0) + 1, CAST(?2 AS BIGINT), CAST(?3 AS TEXT), "
		"CAST(?4 AS TEXT) FROM quality_rulesets WHERE model = ?1 RETURNING version",
	},
	[SQL_RETENTION_TERM_SET] = {
		"INSERT OR REPLACE INTO retention_terms(org_id, kind, days, set_by, set_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
		"INSERT INTO retention_terms(org_id, kind, days, set_by, set_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
		"ON CONFLICT (org_id, kind) DO UPDATE SET days = excluded.days, set_by = excluded.set_by, "
		"set_ms = excluded.set_ms",
	},
	[SQL_REVOKE_MACHINE_CERTS] = {
		"INSERT OR IGNORE INTO revoked_certs(fingerprint, cert_pem, revoked_ms) "
		"SELECT m.cert_fingerprint, c.cert_pem, m.revoked_ms FROM machines m "
		"JOIN machine_certs c ON c.machine_id = m.id WHERE m.id = ?1 "
		"UNION ALL SELECT m.prev_cert_fingerprint, c.prev_cert_pem, m.revoked_ms FROM machines m "
		"JOIN machine_certs c ON c.machine_id = m.id WHERE m.id = ?1 AND m.prev_cert_fingerprint <> ''",
		"INSERT INTO revoked_certs(fingerprint, cert_pem, revoked_ms) "
		"SELECT m.cert_fingerprint, c.cert_pem, m.revoked_ms FROM machines m "
		"JOIN machine_certs c ON c.machine_id = m.id WHERE m.id = ?1 "
		"UNION ALL SELECT m.prev_cert_fingerprint, c.prev_cert_pem, m.revoked_ms FROM machines m "
		"JOIN machine_certs c ON c.machine_id = m.id WHERE m.id = ?1 AND m.prev_cert_fingerprint <> '' "
		"ON CONFLICT DO NOTHING",
	},
	[SQL_REVOKED_CERT_ADD] = {
		"INSERT OR IGNORE INTO revoked_certs(fingerprint, cert_pem, revoked_ms) VALUES (?, ?, ?)",
		"INSERT INTO revoked_certs(fingerprint, cert_pem, revoked_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
	},
	[SQL_REFUSAL_COUNT] = {
		"INSERT INTO refusals(machine_id, reason, count, last_ms) "
		"SELECT ?1, ?2, 1, ?3 WHERE EXISTS (SELECT 1 FROM machines WHERE id = ?1) "
		"ON CONFLICT(machine_id, reason) DO UPDATE SET count = count + 1, last_ms = ?3",
		"INSERT INTO refusals(machine_id, reason, count, last_ms) "
		"SELECT CAST(?1 AS BIGINT), CAST(?2 AS TEXT), 1, CAST(?3 AS BIGINT) "
		"WHERE EXISTS (SELECT 1 FROM machines WHERE id = ?1) "
		"ON CONFLICT(machine_id, reason) DO UPDATE SET count = refusals.count + 1, last_ms = ?3",
	},
	[SQL_STATE_CHANGE_ADD] = {
		"INSERT OR REPLACE INTO state_changes(machine_id, at_ms, kind, code, value, reason) "
		"SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM machines WHERE id = ?1)",
		"INSERT INTO state_changes(machine_id, at_ms, kind, code, value, reason) "
		"SELECT CAST(?1 AS BIGINT), CAST(?2 AS BIGINT), CAST(?3 AS INTEGER), CAST(?4 AS TEXT), CAST(?5 AS BIGINT), "
		"CAST(?6 AS TEXT) WHERE EXISTS (SELECT 1 FROM machines WHERE id = ?1) "
		"ON CONFLICT (machine_id, at_ms, kind, code) DO UPDATE SET value = excluded.value, reason = excluded.reason",
	},
};

const char *sql_text(enum sql_dialect d, enum sql_stmt id)
{
	if ((unsigned)id >= SQL_STMT_COUNT || (unsigned)d > SQL_POSTGRESQL)
		return NULL;
	return texts[id][d];
}
