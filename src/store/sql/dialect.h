/*
 * dialect.h - the statements whose text differs between SQLite and
 * PostgreSQL, in one place (docs/STORE.md "Where the SQL dialects differ").
 *
 * Most SQL is one text for both backends (with ?N placeholders, which the
 * PostgreSQL backend rewrites, store/sql/params.h). A statement that cannot
 * be (SQLite's instr against strpos, two-argument max against GREATEST,
 * INSERT OR REPLACE, a parameter PostgreSQL cannot type without a cast)
 * gets an id here and one text per dialect; both backends take it from
 * sql_text(), so a feature writes its query once, in this table. Both texts
 * of an id take the same parameters in the same order (tests/unit/
 * test_sql_dialect.c checks the numbering).
 */
#ifndef CC_STORE_SQL_DIALECT_H
#define CC_STORE_SQL_DIALECT_H

enum sql_dialect { SQL_SQLITE = 0, SQL_POSTGRESQL = 1 };

enum sql_stmt {
	SQL_AUDIT_EACH,       /* the audit log filtered, by seq */
	SQL_AUDIT_EACH_DESC,  /* the same, newest first */
	SQL_STATE_SET,        /* a machine's live state, upserted */
	SQL_STATE_TOUCH,      /* its last-seen time, only forward */
	SQL_REPORT_PUT,       /* a report, a duplicate skipped */
	SQL_ROLLUP_PUT,       /* a roll-up, replaced */
	SQL_DAY_MARK,         /* a day of events marked, once */
	SQL_CLEANING_PUT,     /* a last cleaning, the later time kept */
	SQL_DESCALE_WATER_PUT, /* the water since a descale, replaced */
	SQL_MONTH_START,      /* the start of a time's month, UTC, in ms */
	SQL_ALERT_LIST,       /* alerts filtered, newest first */
	SQL_ALERT_RULE_SET,   /* an organisation's rule setting, replaced */
	SQL_POLICY_PUBLISH,   /* the next policy version */
	SQL_CONSENT_ADD,      /* a customer's consent, once */
	SQL_RULESET_ADD,      /* a model's next rule set version */
	SQL_RETENTION_TERM_SET, /* a customer's retention for a kind, replaced */
	SQL_REVOKE_MACHINE_CERTS, /* a revoked machine's certificates onto the CRL, once */
	SQL_REVOKED_CERT_ADD, /* a certificate onto the CRL, once */
	SQL_REFUSAL_COUNT,    /* one more refusal of a machine for a reason */
	SQL_STATE_CHANGE_ADD, /* a change of a machine's state, replaced */
	SQL_STMT_COUNT
};

/* The text of id in dialect d; never NULL for ids below SQL_STMT_COUNT. */
const char *sql_text(enum sql_dialect d, enum sql_stmt id);

#endif
