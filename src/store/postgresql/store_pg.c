/*
 * The PostgreSQL backend through libpq: IN PROGRESS (issue 14). Built only
 * with -DCC_STORE_POSTGRESQL=ON, and not in the default build until it
 * passes tests/unit/test_store_conformance.c (docs/STORE.md). What is here:
 * connecting (and making the database when asked to create), the schema
 * version, transactions and savepoints, meta. Every other slot of the
 * table is empty, which the conformance suite's first case names.
 *
 * Shared statements are SQLite's text with ?N placeholders, rewritten by
 * store/sql/params.h; the location is a libpq connection string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/err.h"
#include "common/log.h"
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
};

#define PG(s) ((struct pg_store *)(s)->impl)

/* The server's words go to the log, never to a caller: they may quote values. */
static int pg_fail(struct pg_store *s, const PGresult *r, const char *what)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	log_error(MOD, "postgresql: %s: %s", what, r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
	if (state != NULL && strcmp(state, "23505") == 0)
		return CC_ERR_EXISTS; /* unique_violation */
	if (state != NULL && strncmp(state, "23", 2) == 0)
		return CC_ERR_INVALID; /* another integrity constraint */
	return CC_ERR_DB;
}

/* Runs one shared statement with text parameters (NULL: SQL NULL); *out
 * gets the result when the caller wants rows (PQclear it). */
static int run(struct pg_store *s, const char *sql, int n, const char *const *params, const char *what,
               PGresult **out)
{
	char text[SQL_MAX];
	int highest = 0, rc;
	PGresult *r;

	rc = sql_params_pg(sql, text, sizeof(text), &highest);
	if (rc != CC_OK)
		return rc;
	if (highest != n || n > PARAMS_MAX)
		return CC_ERR_INVALID;
	r = PQexecParams(s->conn, text, n, NULL, params, NULL, NULL, 0);
	if (r == NULL || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)) {
		rc = pg_fail(s, r, what);
		PQclear(r);
		return rc;
	}
	if (out != NULL)
		*out = r;
	else
		PQclear(r);
	return CC_OK;
}

static int exec_plain(struct pg_store *s, const char *sql, const char *what)
{
	return run(s, sql, 0, NULL, what, NULL);
}

/* ---- schema ---- */

/* Migrations, in order; the PostgreSQL text of each SQLite migration the
 * backend has caught up with. schema_version counts them. */
static const char *const migrations[] = {
	"CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL)",
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
		rc = exec_plain(s, migrations[i], "migrating");
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
	if (quoted != NULL && (size_t)snprintf(sql, sizeof(sql), "CREATE DATABASE %s", quoted) < sizeof(sql)) {
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
	s->conn = connect_to(location, NULL);
	if (PQstatus(s->conn) != CONNECTION_OK && create) {
		PQfinish(s->conn);
		s->conn = NULL;
		rc = create_database(location);
		if (rc != CC_OK) {
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

static int pg_commit(struct store *base)
{
	return exec_plain(PG(base), "COMMIT", "commit");
}

static void pg_rollback(struct store *base)
{
	if (pg_in_transaction(base))
		(void)exec_plain(PG(base), "ROLLBACK", "rollback");
	PG(base)->savepoint_began = 0;
}

static int pg_begin_read(struct store *base)
{
	return exec_plain(PG(base), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin");
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
};
