/*
 * store_sqlite.c - the embedded backend: one SQLite file in WAL mode, and the
 * inbox beside it (inbox.h) where telemetry and events land first.
 *
 * synchronous=FULL: a commit that returned is on disk, which is what lets the
 * daemon acknowledge a machine's message after it. secure_delete=ON: deleted
 * rows are overwritten, so erased ciphertext does not linger in free pages.
 *
 * Inbox and tables read as one. The main database's meta "inbox-applied"
 * says up to which inbox id rows were moved (in the same transaction as the
 * move); rows above it are read from the inbox, merged by seq, the table's
 * copy winning over a duplicate. The two files have two snapshots: the
 * inbox's is always taken first (begin_read, and each read outside a
 * transaction), so a row deleted from the inbox is always already in the
 * table snapshot. inbox "deleted-through" > "inbox-applied" would prove the
 * opposite order; reads check it and refuse rather than miss rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "store/sql/dialect.h"
#include "store/sqlite/handle.h"
#include "store/sqlite/inbox.h"
#include "store/sqlite/schema.h"
#include "store/store.h"

#define MOD "store"

struct sqlite_store {
	struct store base;
	sqlite3 *db;
	char path[4096];
	sqlite3_stmt *put_telemetry;
	sqlite3_stmt *put_event;
	sqlite3_stmt *put_report;
	struct inbox *inbox;
	sqlite3_stmt *rollup_read, *rollup_write; /* kept: a round reads and writes thousands */
	sqlite3_stmt *day_mark, *day_undigest;     /* kept: a round marks a day per machine */
	int settling; /* this connection moves the inbox: it got the larger page cache */
};

/* The connection that moves the inbox writes about one page per machine
 * per round; with SQLite's default 2 MiB cache those pages spill and are
 * read back within the round. */
#define SETTLE_CACHE_KIB 65536

/* Every connection: the pages a pass over a fleet of 10,000 machines reads
 * (machines, machine_state, the serial index: about 700 pages, 2.8 MiB)
 * stay in the cache from one fleet list to the next, instead of being read
 * again through the OS at every one (SQLite's default is 2 MiB). Pages are
 * allocated as they are used: a connection that reads less holds less. */
#define CONNECTION_CACHE_SIZE "-8192" /* KiB */

#define INBOX_APPLIED "inbox-applied"

/* Through impl, so that a wrapper of the handle (the vault's integrity layer)
 * can hand any op it does not override straight to this backend. */
#define SQ(s) ((s) != NULL ? (struct sqlite_store *)((s)->impl) : NULL)

extern const struct store_ops store_sqlite_ops;

/* Maps a SQLite result to our codes, logging what happened with the file name. */
static int db_fail(struct sqlite_store *s, int rc, const char *what)
{
	int primary = rc & 0xff;

	switch (primary) {
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return CC_ERR_EXISTS;
		log_error(MOD, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
		return CC_ERR_INVALID;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		log_error(MOD, "%s: the database file is damaged or not a CoffeeCloud database (%s)",
		          s->path, sqlite3_errstr(rc));
		return CC_ERR_CORRUPT;
	case SQLITE_NOMEM:
		return CC_ERR_NOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
		log_error(MOD, "%s: %s: %s", s->path, what, sqlite3_errstr(rc));
		return CC_ERR_IO;
	default:
		log_error(MOD, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
		return primary == SQLITE_IOERR || primary == SQLITE_FULL ? CC_ERR_IO : CC_ERR_DB;
	}
}

static int exec(struct sqlite_store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? CC_OK : db_fail(s, rc, what);
}

static int prepare(struct sqlite_store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? CC_OK : db_fail(s, rc, "prepare");
}

/* Runs a prepared write to completion and finalizes it. */
static int step_done(struct sqlite_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, what);
}

static void copy_text(char *out, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(out, t, n);
	out[n] = '\0';
}

static void bind_text(sqlite3_stmt *st, int idx, const char *text)
{
	sqlite3_bind_text(st, idx, text, -1, SQLITE_STATIC);
}

/* An integrity MAC as stored (opaque to the backend): NULL reads as length 0,
 * an odd length keeps its length and no bytes, so it can never verify. */
static void read_mac(sqlite3_stmt *st, int col, uint8_t mac[STORE_MAC_LEN], size_t *len)
{
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	*len = n;
	if (n == STORE_MAC_LEN)
		memcpy(mac, sqlite3_column_blob(st, col), n);
}

static void bind_id_or_null(sqlite3_stmt *st, int idx, int64_t id)
{
	if (id == 0)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_int64(st, idx, id);
}

static int count_row(void *arg, int ncol, char **val, char **name)
{
	(void)ncol;
	(void)val;
	(void)name;
	(*(int *)arg)++;
	return 0;
}

/* A migration that rebuilds a table drops the old one: with foreign keys
 * on, that would delete, or cascade to, every row that refers to it. Such
 * a migration runs with them off (the pragma is a no-op inside a
 * transaction) and is checked against them before its commit (SQLite's
 * generalized ALTER TABLE procedure). Only such a one: the check reads
 * every table that refers to another, on an old store every record. */
static int migrate_one(struct sqlite_store *s, size_t i)
{
	char bump[64];
	int rebuild = strstr(sqlite_migrations[i], "DROP TABLE") != NULL, violations = 0, rc = CC_OK;

	snprintf(bump, sizeof(bump), "PRAGMA user_version = %zu", i + 1);
	if (rebuild)
		rc = exec(s, "PRAGMA foreign_keys = OFF", "migration");
	if (rc == CC_OK)
		rc = exec(s, "BEGIN IMMEDIATE", "migration");
	if (rc == CC_OK)
		rc = exec(s, sqlite_migrations[i], "migration");
	if (rc == CC_OK && rebuild) {
		rc = sqlite3_exec(s->db, "PRAGMA foreign_key_check", count_row, &violations, NULL);
		rc = rc != SQLITE_OK ? db_fail(s, rc, "migration") : violations == 0 ? CC_OK : CC_ERR_CORRUPT;
		if (violations != 0)
			log_error(MOD, "%s: migration to version %zu leaves %d rows that refer to no row", s->path,
			          i + 1, violations);
	}
	if (rc == CC_OK)
		rc = exec(s, bump, "migration");
	if (rc == CC_OK)
		rc = exec(s, "COMMIT", "migration");
	if (rc != CC_OK)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	if (rebuild) {
		int on = exec(s, "PRAGMA foreign_keys = ON", "migration");

		rc = rc == CC_OK ? on : rc;
	}
	return rc;
}

static int migrate(struct sqlite_store *s)
{
	sqlite3_stmt *st = NULL;
	int version, rc;
	size_t i;

	rc = prepare(s, "PRAGMA user_version", &st);
	if (rc != CC_OK)
		return rc;
	rc = sqlite3_step(st);
	version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return db_fail(s, rc, "reading the schema version");
	if (version < 0 || (size_t)version > sqlite_migration_count) {
		log_error(MOD, "%s: schema version %d is newer than this program (%zu)", s->path,
		          version, sqlite_migration_count);
		return CC_ERR_STATE;
	}
	for (i = (size_t)version; i < sqlite_migration_count; i++) {
		rc = migrate_one(s, i);
		if (rc != CC_OK)
			return rc;
		log_debug(MOD, "%s: schema migrated to version %zu", s->path, i + 1);
	}
	return CC_OK;
}

/* The inbox id up to which rows were moved into their tables; 0: none. */
static int applied_through(struct sqlite_store *s, int64_t *id)
{
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT value FROM meta WHERE key = '" INBOX_APPLIED "'", &st);

	if (rc != CC_OK)
		return rc;
	rc = sqlite3_step(st);
	*id = rc == SQLITE_ROW ? strtoll((const char *)sqlite3_column_text(st, 0), NULL, 10) : 0;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "reading the inbox position");
	sqlite3_finalize(st);
	return rc;
}

static void sq_close(struct store *base)
{
	struct sqlite_store *s = SQ(base);

	if (s == NULL)
		return;
	sqlite3_finalize(s->put_telemetry);
	sqlite3_finalize(s->put_event);
	sqlite3_finalize(s->put_report);
	sqlite3_finalize(s->rollup_read);
	sqlite3_finalize(s->rollup_write);
	sqlite3_finalize(s->day_mark);
	sqlite3_finalize(s->day_undigest);
	inbox_close(s->inbox);
	sqlite3_close(s->db);
	free(s);
}

static int sq_open(const char *location, int create, struct store **out)
{
	struct sqlite_store *s;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	int rc;

	if (strlen(location) >= sizeof(s->path))
		return CC_ERR_LIMIT;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CC_ERR_NOMEM;
	s->base.ops = &store_sqlite_ops;
	s->base.impl = &s->base;
	memcpy(s->path, location, strlen(location) + 1);

	rc = sqlite3_open_v2(location, &s->db, flags, NULL);
	if (rc != SQLITE_OK) {
		log_error(MOD, "%s: cannot open the database: %s", location, sqlite3_errstr(rc));
		rc = rc == SQLITE_CANTOPEN ? CC_ERR_NOTFOUND : CC_ERR_IO;
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 10000);
	/* The first statement reads the header: a file that is not a database fails here. */
	rc = exec(s, "PRAGMA journal_mode = WAL", "opening");
	if (rc == CC_OK)
		rc = exec(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
		             "PRAGMA secure_delete = ON; PRAGMA trusted_schema = OFF;"
		             "PRAGMA cache_size = " CONNECTION_CACHE_SIZE, "opening");
	if (rc == CC_OK)
		rc = migrate(s);
	/* Touch every table's root page so a truncated file is caught at open. */
	if (rc == CC_OK)
		rc = exec(s, "SELECT count(*) FROM orgs; SELECT count(*) FROM machines;"
		             "SELECT count(*) FROM users", "opening");
	if (rc == CC_OK)
		rc = prepare(s, "INSERT OR IGNORE INTO telemetry(machine_id, seq, ts_ms, body) "
		                "VALUES (?, ?, ?, ?)", &s->put_telemetry);
	if (rc == CC_OK)
		rc = prepare(s, "INSERT OR IGNORE INTO events(machine_id, seq, ts_ms, body) "
		                "VALUES (?, ?, ?, ?)", &s->put_event);
	if (rc == CC_OK)
		rc = prepare(s, sql_text(SQL_SQLITE, SQL_REPORT_PUT), &s->put_report);
	if (rc == CC_OK)
		rc = inbox_open(location, &s->inbox);
	if (rc == CC_OK) {
		int64_t applied = 0;

		rc = applied_through(s, &applied);
		if (rc == CC_OK && applied > 0)
			rc = inbox_raise_ids(s->inbox, applied);
	}
	if (rc != CC_OK)
		goto fail;
	*out = &s->base;
	return CC_OK;
fail:
	sq_close(&s->base);
	return rc;
}

struct check_ctx {
	struct sqlite_store *s;
	int bad;
};

static int check_row(void *arg, int ncol, char **values, char **names)
{
	struct check_ctx *c = arg;

	(void)names;
	if (ncol > 0 && values[0] != NULL && strcmp(values[0], "ok") != 0) {
		c->bad++;
		log_error(MOD, "%s: integrity: %s", c->s->path, values[0]);
	}
	return 0;
}

static int sq_check(struct store *base)
{
	struct sqlite_store *s = SQ(base);
	struct check_ctx c = { s, 0 };
	int rc;

	rc = sqlite3_exec(s->db, "PRAGMA integrity_check; PRAGMA foreign_key_check",
	                  check_row, &c, NULL);
	if (rc != SQLITE_OK)
		return db_fail(s, rc, "integrity check");
	if (c.bad)
		return CC_ERR_CORRUPT;
	return inbox_check(s->inbox);
}

static int sq_begin(struct store *s) { return exec(SQ(s), "BEGIN IMMEDIATE", "begin"); }

static int sq_commit(struct store *base)
{
	struct sqlite_store *s = SQ(base);

	inbox_end_read(s->inbox);
	return exec(s, "COMMIT", "commit");
}

static void sq_rollback(struct store *base)
{
	struct sqlite_store *s = SQ(base);

	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	inbox_end_read(s->inbox);
}

/* The inbox's snapshot first, then the main database's (see the top). */
static int sq_begin_read(struct store *base)
{
	struct sqlite_store *s = SQ(base);
	int rc = inbox_begin_read(s->inbox);

	if (rc == CC_OK)
		rc = exec(s, "BEGIN DEFERRED; SELECT count(*) FROM meta", "begin");
	if (rc != CC_OK)
		sq_rollback(base);
	return rc;
}
static int sq_in_transaction(struct store *s) { return !sqlite3_get_autocommit(SQ(s)->db); }

static int sq_savepoint(struct store *s) { return exec(SQ(s), "SAVEPOINT item", "savepoint"); }
static int sq_savepoint_release(struct store *s) { return exec(SQ(s), "RELEASE item", "savepoint"); }

static void sq_savepoint_rollback(struct store *base)
{
	sqlite3_exec(SQ(base)->db, "ROLLBACK TO item; RELEASE item", NULL, NULL, NULL);
}

static int sq_meta_get(struct store *base, const char *key, char *out, size_t cap)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc;

	rc = prepare(s, "SELECT value FROM meta WHERE key = ?", &st);
	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_text(out, cap, st, 0);
		rc = CC_OK;
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : db_fail(s, rc, "meta");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_meta_set(struct store *base, const char *key, const char *value)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc;

	rc = prepare(s, "INSERT INTO meta(key, value) VALUES (?, ?) "
	                "ON CONFLICT(key) DO UPDATE SET value = excluded.value", &st);
	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, key);
	bind_text(st, 2, value);
	return step_done(s, st, "meta");
}

static int sq_meta_bump(struct store *base, const char *key)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc;

	rc = prepare(s, "INSERT INTO meta(key, value) VALUES (?, '1') "
	                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1", &st);
	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, key);
	return step_done(s, st, "meta");
}

/* Runs an INSERT and reports the new row id. */
static int insert_row(struct sqlite_store *s, sqlite3_stmt *st, const char *what, int64_t *id)
{
	int rc = step_done(s, st, what);

	if (rc == CC_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

/* ---- organisations ---- */

#define ORG_COLUMNS "id, IFNULL(parent_id, 0), kind, name, created_ms, mac, deactivated_ms"

static void read_org(sqlite3_stmt *st, struct store_org *o)
{
	memset(o, 0, sizeof(*o));
	o->id = sqlite3_column_int64(st, 0);
	o->parent_id = sqlite3_column_int64(st, 1);
	o->kind = (enum org_kind)sqlite3_column_int(st, 2);
	copy_text(o->name, sizeof(o->name), st, 3);
	o->created_ms = sqlite3_column_int64(st, 4);
	read_mac(st, 5, o->mac, &o->mac_len);
	o->deactivated_ms = sqlite3_column_int64(st, 6);
}

static int sq_org_add(struct store *base, const struct store_org *o, int64_t *id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc;

	rc = prepare(s, "INSERT INTO orgs(parent_id, kind, name, created_ms) VALUES (?, ?, ?, ?)", &st);
	if (rc != CC_OK)
		return rc;
	bind_id_or_null(st, 1, o->parent_id);
	sqlite3_bind_int(st, 2, (int)o->kind);
	bind_text(st, 3, o->name);
	sqlite3_bind_int64(st, 4, o->created_ms);
	return insert_row(s, st, "adding an organisation", id);
}

/* Runs a single-row SELECT; read() fills out from the row. */
static int select_one(struct sqlite_store *s, sqlite3_stmt *st, void (*read)(sqlite3_stmt *, void *),
                      void *out, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		read(st, out);
		rc = CC_OK;
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : db_fail(s, rc, what);
	}
	sqlite3_finalize(st);
	return rc;
}

static void read_org_v(sqlite3_stmt *st, void *out) { read_org(st, out); }

static int sq_org_get(struct store *base, int64_t id, struct store_org *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " ORG_COLUMNS " FROM orgs WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return select_one(s, st, read_org_v, out, "reading an organisation");
}

static int sq_org_find(struct store *base, const char *name, struct store_org *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " ORG_COLUMNS " FROM orgs WHERE name = ?", &st);

	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, name);
	return select_one(s, st, read_org_v, out, "reading an organisation");
}

/* Steps through a SELECT, handing each row to emit(); stops early, returning
 * its value, when emit returns non-zero. */
static int select_each(struct sqlite_store *s, sqlite3_stmt *st,
                       int (*emit)(void *, sqlite3_stmt *), void *arg, const char *what)
{
	int rc, stop = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		stop = emit(arg, st);
		if (stop != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, what);
}

/* A type-safe bridge from a row reader to a list op's typed callback. */
#define DEFINE_EMITTER(type, reader)                                            \
	struct type##_emitter {                                                 \
		int (*each)(void *, const struct store_##type *);               \
		void *ctx;                                                      \
	};                                                                      \
	static int emit_##type(void *arg, sqlite3_stmt *st)                     \
	{                                                                       \
		struct type##_emitter *e = arg;                                 \
		struct store_##type row;                                        \
		reader(st, &row);                                               \
		return e->each(e->ctx, &row);                                   \
	}

DEFINE_EMITTER(org, read_org_v)

static int sq_org_list(struct store *base, int (*each)(void *, const struct store_org *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct org_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " ORG_COLUMNS " FROM orgs ORDER BY id", &st);

	if (rc != CC_OK)
		return rc;
	return select_each(s, st, emit_org, &e, "listing organisations");
}

static int count_where(struct sqlite_store *s, const char *sql, int64_t id, int64_t *count)
{
	sqlite3_stmt *st;
	int rc = prepare(s, sql, &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(st, 0);
		rc = CC_OK;
	} else {
		rc = db_fail(s, rc, "counting");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_org_delete(struct store *base, int64_t id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int64_t children = 0;
	int rc;

	rc = count_where(s, "SELECT count(*) FROM orgs WHERE parent_id = ?", id, &children);
	if (rc != CC_OK)
		return rc;
	if (children > 0)
		return CC_ERR_STATE;
	/* Cascades (foreign keys) remove sites, groups, machines, their records and users. */
	rc = prepare(s, "DELETE FROM orgs WHERE id = ?", &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = step_done(s, st, "deleting an organisation");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

/* ---- sites and groups ---- */

static void read_site(sqlite3_stmt *st, void *out)
{
	struct store_site *x = out;

	memset(x, 0, sizeof(*x));
	x->id = sqlite3_column_int64(st, 0);
	x->customer_id = sqlite3_column_int64(st, 1);
	copy_text(x->name, sizeof(x->name), st, 2);
	x->created_ms = sqlite3_column_int64(st, 3);
	copy_text(x->address, sizeof(x->address), st, 4);
	x->has_position = sqlite3_column_type(st, 5) != SQLITE_NULL && sqlite3_column_type(st, 6) != SQLITE_NULL;
	x->lat_e2 = sqlite3_column_int64(st, 5);
	x->lon_e2 = sqlite3_column_int64(st, 6);
	copy_text(x->timezone, sizeof(x->timezone), st, 7);
	copy_text(x->hours, sizeof(x->hours), st, 8);
}

DEFINE_EMITTER(site, read_site)

#define SITE_COLUMNS "id, customer_id, name, created_ms, address, lat_e2, lon_e2, timezone, hours"

static void bind_place(sqlite3_stmt *st, int first, const struct store_site *x)
{
	bind_text(st, first, x->address);
	if (x->has_position) {
		sqlite3_bind_int64(st, first + 1, x->lat_e2);
		sqlite3_bind_int64(st, first + 2, x->lon_e2);
	} else {
		sqlite3_bind_null(st, first + 1);
		sqlite3_bind_null(st, first + 2);
	}
	bind_text(st, first + 3, x->timezone);
	bind_text(st, first + 4, x->hours);
}

static int sq_site_add(struct store *base, const struct store_site *x, int64_t *id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "INSERT INTO sites(customer_id, name, created_ms, address, lat_e2, lon_e2, timezone, hours) "
	                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, x->customer_id);
	bind_text(st, 2, x->name);
	sqlite3_bind_int64(st, 3, x->created_ms);
	bind_place(st, 4, x);
	return insert_row(s, st, "adding a site", id);
}

static int sq_site_update(struct store *base, const struct store_site *x)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE sites SET address = ?, lat_e2 = ?, lon_e2 = ?, timezone = ?, hours = ? WHERE id = ?",
	                 &st);

	if (rc != CC_OK)
		return rc;
	bind_place(st, 1, x);
	sqlite3_bind_int64(st, 6, x->id);
	rc = step_done(s, st, "updating a site");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

static int sq_site_get(struct store *base, int64_t id, struct store_site *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " SITE_COLUMNS " FROM sites WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return select_one(s, st, read_site, out, "reading a site");
}

static int sq_site_find(struct store *base, int64_t customer_id, const char *name, struct store_site *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " SITE_COLUMNS " FROM sites "
	                    "WHERE customer_id = ? AND name = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, customer_id);
	bind_text(st, 2, name);
	return select_one(s, st, read_site, out, "reading a site");
}

static int sq_site_list(struct store *base, int64_t customer_id,
                        int (*each)(void *, const struct store_site *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct site_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " SITE_COLUMNS " FROM sites "
	                    "WHERE ?1 = 0 OR customer_id = ?1 ORDER BY id", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, customer_id);
	return select_each(s, st, emit_site, &e, "listing sites");
}

static void read_group(sqlite3_stmt *st, void *out)
{
	struct store_group *x = out;

	memset(x, 0, sizeof(*x));
	x->id = sqlite3_column_int64(st, 0);
	x->customer_id = sqlite3_column_int64(st, 1);
	x->parent_id = sqlite3_column_int64(st, 2);
	copy_text(x->name, sizeof(x->name), st, 3);
	x->created_ms = sqlite3_column_int64(st, 4);
	copy_text(x->filter, sizeof(x->filter), st, 5);
}

DEFINE_EMITTER(group, read_group)

#define GROUP_COLUMNS "id, customer_id, IFNULL(parent_id, 0), name, created_ms, filter"

static int sq_group_add(struct store *base, const struct store_group *x, int64_t *id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "INSERT INTO machine_groups(customer_id, parent_id, name, created_ms, filter) "
	                    "VALUES (?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, x->customer_id);
	bind_id_or_null(st, 2, x->parent_id);
	bind_text(st, 3, x->name);
	sqlite3_bind_int64(st, 4, x->created_ms);
	bind_text(st, 5, x->filter);
	return insert_row(s, st, "adding a group", id);
}

static int sq_group_get(struct store *base, int64_t id, struct store_group *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " GROUP_COLUMNS " FROM machine_groups WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return select_one(s, st, read_group, out, "reading a group");
}

/* One statement with two ids bound; CC_ERR_NOTFOUND when it changed nothing. */
static int change_pair(struct sqlite_store *s, const char *sql, int64_t a, int64_t b, const char *what)
{
	sqlite3_stmt *st;
	int rc = prepare(s, sql, &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	rc = step_done(s, st, what);
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

static int sq_group_member_add(struct store *base, int64_t group_id, int64_t machine_id)
{
	int rc = change_pair(SQ(base), "INSERT OR IGNORE INTO group_machines(group_id, machine_id) VALUES (?, ?)",
	                     group_id, machine_id, "adding a machine to a group");

	return rc == CC_ERR_NOTFOUND ? CC_ERR_EXISTS : rc;
}

static int sq_group_member_remove(struct store *base, int64_t group_id, int64_t machine_id)
{
	return change_pair(SQ(base), "DELETE FROM group_machines WHERE group_id = ? AND machine_id = ?", group_id,
	                   machine_id, "taking a machine out of a group");
}

static int sq_group_unlist_machine(struct store *base, int64_t machine_id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "DELETE FROM group_machines WHERE machine_id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	return step_done(s, st, "taking a machine out of its groups");
}

static int sq_group_find(struct store *base, int64_t customer_id, const char *name, struct store_group *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " GROUP_COLUMNS " FROM machine_groups "
	                    "WHERE customer_id = ? AND name = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, customer_id);
	bind_text(st, 2, name);
	return select_one(s, st, read_group, out, "reading a group");
}

static int sq_group_list(struct store *base, int64_t customer_id,
                         int (*each)(void *, const struct store_group *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct group_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " GROUP_COLUMNS " FROM machine_groups "
	                    "WHERE ?1 = 0 OR customer_id = ?1 ORDER BY id", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, customer_id);
	return select_each(s, st, emit_group, &e, "listing groups");
}

/* ---- machines ---- */

/* A machine retired by a move keeps its real serial in origin_serial. The
 * certificates live in machine_certs, out of the rows a scan of the fleet
 * reads (schema.c, 18 -> 19). */
#define MACHINE_COLUMNS "m.id, CASE WHEN m.origin_serial <> '' THEN m.origin_serial ELSE m.serial END, " \
                        "m.model, m.customer_id, IFNULL(m.site_id, 0), m.cert_fingerprint, " \
                        "m.created_ms, m.revoked_ms, IFNULL(c.cert_pem, ''), m.mac, m.cert_not_after_ms, " \
                        "m.prev_cert_fingerprint, m.prev_cert_until_ms, m.decommissioned_ms, m.origin_serial <> ''"
#define MACHINE_FROM "machines m LEFT JOIN machine_certs c ON c.machine_id = m.id"

static void read_machine(sqlite3_stmt *st, void *out)
{
	struct store_machine *m = out;

	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(st, 0);
	copy_text(m->serial, sizeof(m->serial), st, 1);
	copy_text(m->model, sizeof(m->model), st, 2);
	m->customer_id = sqlite3_column_int64(st, 3);
	m->site_id = sqlite3_column_int64(st, 4);
	copy_text(m->cert_fingerprint, sizeof(m->cert_fingerprint), st, 5);
	m->created_ms = sqlite3_column_int64(st, 6);
	m->revoked_ms = sqlite3_column_int64(st, 7);
	copy_text(m->cert_pem, sizeof(m->cert_pem), st, 8);
	read_mac(st, 9, m->mac, &m->mac_len);
	m->cert_not_after_ms = sqlite3_column_int64(st, 10);
	copy_text(m->prev_cert_fingerprint, sizeof(m->prev_cert_fingerprint), st, 11);
	m->prev_cert_until_ms = sqlite3_column_int64(st, 12);
	m->decommissioned_ms = sqlite3_column_int64(st, 13);
	m->moved = sqlite3_column_int(st, 14);
}

DEFINE_EMITTER(machine, read_machine)

/* The row and its certificate, both or neither (a savepoint of its own:
 * callers need not be in a transaction). */
static int sq_machine_add(struct store *base, const struct store_machine *m, int64_t *id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = exec(s, "SAVEPOINT machine_add", "adding a machine");

	if (rc != CC_OK)
		return rc;
	rc = prepare(s, "INSERT INTO machines(serial, model, customer_id, site_id, cert_fingerprint, "
	                "created_ms, revoked_ms, cert_not_after_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &st);
	if (rc == CC_OK) {
		bind_text(st, 1, m->serial);
		bind_text(st, 2, m->model);
		sqlite3_bind_int64(st, 3, m->customer_id);
		bind_id_or_null(st, 4, m->site_id);
		bind_text(st, 5, m->cert_fingerprint);
		sqlite3_bind_int64(st, 6, m->created_ms);
		sqlite3_bind_int64(st, 7, m->revoked_ms);
		sqlite3_bind_int64(st, 8, m->cert_not_after_ms);
		rc = insert_row(s, st, "adding a machine", id);
	}
	if (rc == CC_OK)
		rc = prepare(s, "INSERT INTO machine_certs(machine_id, cert_pem) VALUES (?, ?)", &st);
	if (rc == CC_OK) {
		sqlite3_bind_int64(st, 1, *id);
		bind_text(st, 2, m->cert_pem);
		rc = step_done(s, st, "adding a machine");
	}
	if (rc == CC_OK)
		return exec(s, "RELEASE machine_add", "adding a machine");
	sqlite3_exec(s->db, "ROLLBACK TO machine_add; RELEASE machine_add", NULL, NULL, NULL);
	return rc;
}

static int sq_machine_cert_set(struct store *base, int64_t id, const struct store_machine *m, int64_t prev_until_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = exec(s, "SAVEPOINT machine_cert", "renewing a machine certificate");

	if (rc != CC_OK)
		return rc;
	rc = prepare(s, "UPDATE machines SET prev_cert_fingerprint = cert_fingerprint, prev_cert_until_ms = ?1, "
	                "cert_fingerprint = ?2, cert_not_after_ms = ?3 WHERE id = ?4 AND revoked_ms = 0", &st);
	if (rc == CC_OK) {
		sqlite3_bind_int64(st, 1, prev_until_ms);
		bind_text(st, 2, m->cert_fingerprint);
		sqlite3_bind_int64(st, 3, m->cert_not_after_ms);
		sqlite3_bind_int64(st, 4, id);
		rc = step_done(s, st, "renewing a machine certificate");
	}
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_STATE;
	if (rc == CC_OK)
		rc = prepare(s, "UPDATE machine_certs SET prev_cert_pem = cert_pem, cert_pem = ?1 "
		                "WHERE machine_id = ?2", &st);
	if (rc == CC_OK) {
		bind_text(st, 1, m->cert_pem);
		sqlite3_bind_int64(st, 2, id);
		rc = step_done(s, st, "renewing a machine certificate");
	}
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_STATE;
	if (rc == CC_OK)
		return exec(s, "RELEASE machine_cert", "renewing a machine certificate");
	sqlite3_exec(s->db, "ROLLBACK TO machine_cert; RELEASE machine_cert", NULL, NULL, NULL);
	return rc;
}

static int sq_machine_find(struct store *base, const char *serial, struct store_machine *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " MACHINE_COLUMNS " FROM " MACHINE_FROM " WHERE m.serial = ?", &st);

	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, serial);
	return select_one(s, st, read_machine, out, "reading a machine");
}

static int sq_machine_get(struct store *base, int64_t id, struct store_machine *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " MACHINE_COLUMNS " FROM " MACHINE_FROM " WHERE m.id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return select_one(s, st, read_machine, out, "reading a machine");
}

static int sq_machine_list(struct store *base, int64_t customer_id,
                           int (*each)(void *, const struct store_machine *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct machine_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " MACHINE_COLUMNS " FROM " MACHINE_FROM " "
	                    "WHERE ?1 = 0 OR m.customer_id = ?1 ORDER BY m.serial", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, customer_id);
	return select_each(s, st, emit_machine, &e, "listing machines");
}

/* ---- the fleet list: machines with their live state and site, one query ---- */

#define STATUS_COLUMNS "m.id, CASE WHEN m.origin_serial <> '' THEN m.origin_serial ELSE m.serial END, " \
                       "m.model, m.customer_id, IFNULL(m.site_id, 0), m.cert_fingerprint, " \
                       "m.created_ms, m.revoked_ms, m.mac, ms.machine_id IS NOT NULL, IFNULL(ms.online, 0), " \
                       "IFNULL(ms.last_seen_ms, 0), IFNULL(ms.changed_ms, 0), IFNULL(ms.disconnect_reason, ''), " \
                       "ms.info, IFNULL(s.name, ''), m.prev_cert_fingerprint, m.prev_cert_until_ms, " \
                       "m.cert_not_after_ms, m.decommissioned_ms, m.origin_serial <> '', m.serial"

/* Field by field: the row struct is large (cert_pem), and a list of
 * 10,000 does not clear 4 KiB per row. */
static void read_machine_status(sqlite3_stmt *st, struct store_machine_status *x)
{
	size_t n = (size_t)sqlite3_column_bytes(st, 14);

	x->m.id = sqlite3_column_int64(st, 0);
	copy_text(x->m.serial, sizeof(x->m.serial), st, 1);
	copy_text(x->m.model, sizeof(x->m.model), st, 2);
	x->m.customer_id = sqlite3_column_int64(st, 3);
	x->m.site_id = sqlite3_column_int64(st, 4);
	copy_text(x->m.cert_fingerprint, sizeof(x->m.cert_fingerprint), st, 5);
	x->m.cert_pem[0] = '\0';
	x->m.created_ms = sqlite3_column_int64(st, 6);
	x->m.revoked_ms = sqlite3_column_int64(st, 7);
	memset(x->m.mac, 0, sizeof(x->m.mac));
	read_mac(st, 8, x->m.mac, &x->m.mac_len);
	x->has_state = sqlite3_column_int(st, 9);
	x->st.machine_id = x->has_state ? x->m.id : 0;
	x->st.online = sqlite3_column_int(st, 10);
	x->st.last_seen_ms = sqlite3_column_int64(st, 11);
	x->st.changed_ms = sqlite3_column_int64(st, 12);
	copy_text(x->st.disconnect_reason, sizeof(x->st.disconnect_reason), st, 13);
	x->st.info_len = 0;
	if (n > 0 && n <= sizeof(x->st.info)) {
		memcpy(x->st.info, sqlite3_column_blob(st, 14), n);
		x->st.info_len = n;
	}
	copy_text(x->site, sizeof(x->site), st, 15);
	copy_text(x->m.prev_cert_fingerprint, sizeof(x->m.prev_cert_fingerprint), st, 16);
	x->m.prev_cert_until_ms = sqlite3_column_int64(st, 17);
	x->m.cert_not_after_ms = sqlite3_column_int64(st, 18);
	x->m.decommissioned_ms = sqlite3_column_int64(st, 19);
	x->m.moved = sqlite3_column_int(st, 20);
	copy_text(x->key, sizeof(x->key), st, 21);
}

/* Reasons a machine goes offline that are no trouble of its own. */
#define CLEAN_LEAVE "('', 'disconnected by the machine', 'daemon restarted')"

/* Machines out of service are left out of every status but theirs and all. */
static const char *status_condition(enum store_machine_status_filter f)
{
	switch (f) {
	case STORE_STATUS_ANY: return " AND m.decommissioned_ms = 0";
	case STORE_STATUS_ONLINE: return " AND ms.online = 1 AND m.decommissioned_ms = 0";
	case STORE_STATUS_OFFLINE: return " AND IFNULL(ms.online, 0) = 0 AND m.decommissioned_ms = 0";
	case STORE_STATUS_REVOKED: return " AND m.revoked_ms <> 0 AND m.decommissioned_ms = 0";
	case STORE_STATUS_DECOMMISSIONED: return " AND m.decommissioned_ms <> 0";
	case STORE_STATUS_ALL: return "";
	}
	return " AND 0";
}

static const char *error_condition(enum store_error_filter f)
{
	switch (f) {
	case STORE_ERROR_ANY: return "";
	case STORE_ERROR_CONNECTION:
		return " AND IFNULL(ms.online, 1) = 0 AND ms.disconnect_reason NOT IN " CLEAN_LEAVE;
	case STORE_ERROR_REFUSED: return " AND EXISTS (SELECT 1 FROM refusals r WHERE r.machine_id = m.id)";
	case STORE_ERROR_EITHER:
		return " AND ((IFNULL(ms.online, 1) = 0 AND ms.disconnect_reason NOT IN " CLEAN_LEAVE ") "
		       "OR EXISTS (SELECT 1 FROM refusals r WHERE r.machine_id = m.id))";
	case STORE_ERROR_NONE:
		return " AND NOT (IFNULL(ms.online, 1) = 0 AND ms.disconnect_reason NOT IN " CLEAN_LEAVE ") "
		       "AND NOT EXISTS (SELECT 1 FROM refusals r WHERE r.machine_id = m.id)";
	}
	return " AND 0";
}

static const char *const sort_columns[] = {
	[STORE_SORT_SERIAL] = "m.serial", [STORE_SORT_MODEL] = "m.model", [STORE_SORT_CUSTOMER] = "o.name",
	[STORE_SORT_SITE] = "IFNULL(s.name, '')", [STORE_SORT_LAST_SEEN] = "IFNULL(ms.last_seen_ms, 0)",
	[STORE_SORT_ONLINE] = "IFNULL(ms.online, 0)", [STORE_SORT_CREATED] = "m.created_ms",
};

static int sq_machine_status_list(struct store *base, const struct store_machine_filter *f,
                                  int (*each)(void *, const struct store_machine_status *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct store_machine_status *row = malloc(sizeof(*row));
	sqlite3_stmt *st = NULL;
	char sql[3072], order[256] = "";
	size_t used = 0;
	int rc, stop = 0, i, customer_sort = 0;

	if (row == NULL)
		return CC_ERR_NOMEM;
	for (i = 0; i < f->nsort && i < STORE_SORT_MAX; i++) {
		if ((unsigned)f->sort[i] >= sizeof(sort_columns) / sizeof(sort_columns[0])) {
			free(row);
			return CC_ERR_INVALID;
		}
		customer_sort |= f->sort[i] == STORE_SORT_CUSTOMER;
		used += (size_t)snprintf(order + used, sizeof(order) - used, "%s %s, ", sort_columns[f->sort[i]],
		                         f->sort_desc[i] ? "DESC" : "ASC");
		if (used >= sizeof(order)) {
			free(row);
			return CC_ERR_LIMIT;
		}
	}
	/* Only the filters asked for are in the statement, so that the planner
	 * can start from the site's or the customer's index; the key set
	 * (serial > ?1) starts a page where the last one ended. */
	snprintf(sql, sizeof(sql),
	         "SELECT " STATUS_COLUMNS " FROM machines m "
	         "LEFT JOIN machine_state ms ON ms.machine_id = m.id "
	         "LEFT JOIN sites s ON s.id = m.site_id%s "
	         "WHERE m.serial > ?1%s%s%s%s%s%s%s%s ORDER BY %sm.serial",
	         /* the customer's name only to sort by it: a join per row otherwise spent for nothing */
	         customer_sort ? " LEFT JOIN orgs o ON o.id = m.customer_id" : "",
	         f->customer_id != 0 ? " AND m.customer_id = ?2" : "",
	         /* a site's name is its customer's: so the planner starts from
	          * the site (sites' unique index), not from every machine of the customer */
	         f->site != NULL ? f->customer_id != 0 ? " AND s.name = ?3 AND s.customer_id = ?2" : " AND s.name = ?3"
	                         : "",
	         status_condition(f->status),
	         f->model != NULL ? " AND m.model = ?4" : "",
	         f->group_id != 0 ? " AND m.id IN (WITH RECURSIVE g(id) AS (SELECT ?5 UNION "
	                            "SELECT c.id FROM machine_groups c JOIN g ON c.parent_id = g.id) "
	                            "SELECT gm.machine_id FROM group_machines gm JOIN g ON gm.group_id = g.id)" : "",
	         f->seen_after_ms != 0 ? " AND ms.last_seen_ms >= ?6" : "",
	         f->seen_before_ms != 0 ? " AND IFNULL(ms.last_seen_ms, 0) < ?7" : "",
	         error_condition(f->error), order);
	rc = prepare(s, sql, &st);
	if (rc != CC_OK)
		goto out;
	bind_text(st, 1, f->after_serial != NULL && f->nsort == 0 ? f->after_serial : "");
	if (f->customer_id != 0)
		sqlite3_bind_int64(st, 2, f->customer_id);
	if (f->site != NULL)
		bind_text(st, 3, f->site);
	if (f->model != NULL)
		bind_text(st, 4, f->model);
	if (f->group_id != 0)
		sqlite3_bind_int64(st, 5, f->group_id);
	if (f->seen_after_ms != 0)
		sqlite3_bind_int64(st, 6, f->seen_after_ms);
	if (f->seen_before_ms != 0)
		sqlite3_bind_int64(st, 7, f->seen_before_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_machine_status(st, row);
		stop = each(ctx, row);
		if (stop != 0)
			break;
	}
	rc = stop != 0 ? stop : rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "listing machines");
out:
	sqlite3_finalize(st);
	free(row);
	return rc;
}

/* ---- columns of access rows changed after insert (the vault re-seals) ---- */

static int sq_row_set(struct store *base, enum store_column col, int64_t id, int64_t value)
{
	static const char *const sql[] = {
		[STORE_COL_MACHINE_SITE] = "UPDATE machines SET site_id = NULLIF(?1, 0) WHERE id = ?2",
		[STORE_COL_MACHINE_DECOMMISSIONED] = "UPDATE machines SET decommissioned_ms = ?1 WHERE id = ?2",
		/* '~' is no serial's character and sorts after them all: the
		 * serial is free for the row that carries the machine on. */
		[STORE_COL_MACHINE_RETIRED] = "UPDATE machines SET decommissioned_ms = ?1, origin_serial = serial, "
		                              "serial = '~' || id WHERE id = ?2 AND origin_serial = ''",
		[STORE_COL_ORG_DEACTIVATED] = "UPDATE orgs SET deactivated_ms = ?1 WHERE id = ?2",
		[STORE_COL_USER_DEACTIVATED] = "UPDATE users SET deactivated_ms = ?1 WHERE id = ?2",
	};
	struct sqlite_store *s = SQ(base);

	if ((int)col < STORE_COL_MACHINE_SITE || (int)col > STORE_COL_USER_DEACTIVATED)
		return CC_ERR_INVALID;
	return change_pair(s, sql[col], value, id, "changing an access row");
}

static int sq_machine_revoke(struct store *base, int64_t id, int64_t revoked_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE machines SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, revoked_ms);
	sqlite3_bind_int64(st, 2, id);
	rc = step_done(s, st, "revoking a machine");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		return CC_ERR_STATE;
	if (rc == CC_OK)
		rc = prepare(s, sql_text(SQL_SQLITE, SQL_REVOKE_MACHINE_CERTS), &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return step_done(s, st, "revoking a machine");
}

static int sq_revoked_cert_add(struct store *base, const struct store_revoked_cert *c)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_REVOKED_CERT_ADD), &st);

	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, c->fingerprint);
	bind_text(st, 2, c->cert_pem);
	sqlite3_bind_int64(st, 3, c->revoked_ms);
	return step_done(s, st, "listing a revoked certificate");
}

static void read_revoked_cert(sqlite3_stmt *st, void *out)
{
	struct store_revoked_cert *c = out;

	memset(c, 0, sizeof(*c));
	copy_text(c->fingerprint, sizeof(c->fingerprint), st, 0);
	copy_text(c->cert_pem, sizeof(c->cert_pem), st, 1);
	c->revoked_ms = sqlite3_column_int64(st, 2);
}

DEFINE_EMITTER(revoked_cert, read_revoked_cert)

static int sq_revoked_cert_list(struct store *base,
                                int (*each)(void *, const struct store_revoked_cert *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct revoked_cert_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT fingerprint, cert_pem, revoked_ms FROM revoked_certs "
	                    "ORDER BY revoked_ms, fingerprint", &st);

	if (rc != CC_OK)
		return rc;
	return select_each(s, st, emit_revoked_cert, &e, "listing revoked certificates");
}

/* ---- users ---- */

#define USER_COLUMNS                                                                       \
	"id, org_id, login, role, password_hash, profile, created_ms, totp, totp_enabled, totp_last_step, mac, " \
	"deletion_requested_ms, deactivated_ms"

static void read_user(sqlite3_stmt *st, void *out)
{
	struct store_user *u = out;
	size_t n = (size_t)sqlite3_column_bytes(st, 5);

	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(st, 0);
	u->org_id = sqlite3_column_int64(st, 1);
	copy_text(u->login, sizeof(u->login), st, 2);
	copy_text(u->role, sizeof(u->role), st, 3);
	copy_text(u->password_hash, sizeof(u->password_hash), st, 4);
	/* An oversized profile cannot have been written by us: leave it empty so it fails to open. */
	if (n <= sizeof(u->profile)) {
		if (n > 0)
			memcpy(u->profile, sqlite3_column_blob(st, 5), n);
		u->profile_len = n;
	}
	u->created_ms = sqlite3_column_int64(st, 6);
	n = (size_t)sqlite3_column_bytes(st, 7);
	if (n > 0 && n <= sizeof(u->totp)) {
		memcpy(u->totp, sqlite3_column_blob(st, 7), n);
		u->totp_len = n;
	}
	u->totp_enabled = sqlite3_column_int(st, 8);
	u->totp_last_step = sqlite3_column_int64(st, 9);
	read_mac(st, 10, u->mac, &u->mac_len);
	u->deletion_requested_ms = sqlite3_column_int64(st, 11);
	u->deactivated_ms = sqlite3_column_int64(st, 12);
}

DEFINE_EMITTER(user, read_user)

static int sq_user_add(struct store *base, const struct store_user *u, int64_t *id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	/* A retired login (a deleted account's) inserts nothing: one statement,
	 * so no deletion can slip between a check and the insert. */
	int rc = prepare(s, "INSERT INTO users(org_id, login, role, password_hash, profile, created_ms) "
	                    "SELECT ?1, ?2, ?3, ?4, ?5, ?6 "
	                    "WHERE NOT EXISTS (SELECT 1 FROM retired_logins WHERE login = ?2)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, u->org_id);
	bind_text(st, 2, u->login);
	bind_text(st, 3, u->role);
	bind_text(st, 4, u->password_hash);
	sqlite3_bind_blob(st, 5, u->profile, (int)u->profile_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, u->created_ms);
	rc = step_done(s, st, "adding a user");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_STATE;
	if (rc == CC_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static int sq_user_find(struct store *base, const char *login, struct store_user *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " USER_COLUMNS " FROM users WHERE login = ?", &st);

	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, login);
	return select_one(s, st, read_user, out, "reading a user");
}

static int sq_user_get(struct store *base, int64_t id, struct store_user *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " USER_COLUMNS " FROM users WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return select_one(s, st, read_user, out, "reading a user");
}

static int sq_user_totp_set(struct store *base, int64_t user_id, const uint8_t *sealed, size_t len, int enabled)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE users SET totp = ?1, totp_enabled = ?2, "
	                    /* Turning on keeps the step of the confirming code: it is spent. */
	                    "totp_last_step = CASE WHEN ?2 = 1 THEN totp_last_step ELSE 0 END WHERE id = ?3", &st);

	if (rc != CC_OK)
		return rc;
	if (len > 0)
		sqlite3_bind_blob(st, 1, sealed, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_int(st, 2, len > 0 && enabled);
	sqlite3_bind_int64(st, 3, user_id);
	rc = step_done(s, st, "setting a user's TOTP secret");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

static int sq_user_password_set(struct store *base, int64_t user_id, const char *password_hash)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE users SET password_hash = ?1 WHERE id = ?2", &st);

	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, password_hash);
	sqlite3_bind_int64(st, 2, user_id);
	rc = step_done(s, st, "setting a user's password");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

static int sq_user_totp_step(struct store *base, int64_t user_id, int64_t step)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE users SET totp_last_step = ?1 WHERE id = ?2 AND totp_last_step < ?1", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, step);
	sqlite3_bind_int64(st, 2, user_id);
	rc = step_done(s, st, "recording a TOTP code's use");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_STATE;
	return rc;
}

static int sq_user_list(struct store *base, int64_t org_id,
                        int (*each)(void *, const struct store_user *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct user_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " USER_COLUMNS " FROM users WHERE ?1 = 0 OR org_id = ?1 ORDER BY login", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return select_each(s, st, emit_user, &e, "listing users");
}

static int sq_user_deletion_request(struct store *base, int64_t user_id, int64_t at_ms, int64_t *requested_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE users SET deletion_requested_ms = "
	                    "CASE WHEN deletion_requested_ms = 0 THEN ?2 ELSE deletion_requested_ms END "
	                    "WHERE id = ?1 RETURNING deletion_requested_ms", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_int64(st, 2, at_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*requested_ms = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st); /* to the end, so that the update is done */
	}
	if (rc == SQLITE_DONE)
		rc = sqlite3_changes(s->db) == 0 ? CC_ERR_NOTFOUND : CC_OK;
	else
		rc = db_fail(s, rc, "recording a deletion request");
	sqlite3_finalize(st);
	return rc;
}

static int sq_user_delete(struct store *base, int64_t user_id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	/* Foreign keys take the sessions and the grants made to the account;
	 * the trigger users_retire_login (schema.c) retires the login. */
	int rc = prepare(s, "DELETE FROM users WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, user_id);
	rc = step_done(s, st, "deleting a user");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

static int sq_login_retired(struct store *base, const char *login)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT 1 FROM retired_logins WHERE login = ?", &st);

	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, login);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : db_fail(s, rc, "reading retired logins");
	sqlite3_finalize(st);
	return rc;
}

struct orphans {
	struct sqlite_store *s;
	int64_t ids[256];
	size_t n;
};

static int collect_orphan(void *arg, int64_t machine_id)
{
	struct orphans *o = arg;
	int64_t count = 0;

	if (count_where(o->s, "SELECT count(*) FROM machines WHERE id = ?", machine_id, &count) != CC_OK)
		return 1;
	if (count == 0 && o->n < sizeof(o->ids) / sizeof(o->ids[0]))
		o->ids[o->n++] = machine_id;
	return 0;
}

/* Records in the inbox of machines that no longer exist (an erased
 * customer's) go now, not at the next round. */
static int forget_orphans(struct sqlite_store *s)
{
	struct orphans o;
	size_t i;
	int rc;

	do {
		o.s = s;
		o.n = 0;
		rc = inbox_machines(s->inbox, collect_orphan, &o);
		if (rc > 0)
			return CC_ERR_DB;
		for (i = 0; i < o.n && rc == CC_OK; i++)
			rc = inbox_forget_machine(s->inbox, o.ids[i]);
	} while (rc == CC_OK && o.n == sizeof(o.ids) / sizeof(o.ids[0]));
	return rc;
}

static int sq_shred(struct store *base)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = forget_orphans(s);

	if (rc == CC_OK)
		rc = inbox_shred(s->inbox);
	if (rc != CC_OK)
		return rc;
	rc = prepare(s, "PRAGMA wal_checkpoint(TRUNCATE)", &st);
	if (rc != CC_OK)
		return rc;
	rc = sqlite3_step(st);
	/* One row: busy (1 when a reader or writer kept it from finishing), WAL frames, checkpointed frames. */
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_int(st, 0) == 0 ? CC_OK : CC_ERR_STATE;
	else
		rc = db_fail(s, rc, "checkpointing");
	sqlite3_finalize(st);
	return rc;
}

/* ---- live state ---- */

static int sq_machine_state_set(struct store *base, const struct store_machine_state *x)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_STATE_SET), &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, x->machine_id);
	sqlite3_bind_int(st, 2, x->online ? 1 : 0);
	sqlite3_bind_int64(st, 3, x->last_seen_ms);
	sqlite3_bind_int64(st, 4, x->changed_ms);
	bind_text(st, 5, x->disconnect_reason);
	if (x->info_len > 0)
		sqlite3_bind_blob(st, 6, x->info, (int)x->info_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	return step_done(s, st, "storing machine state");
}

static int sq_machine_state_touch(struct store *base, int64_t machine_id, int64_t last_seen_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_STATE_TOUCH), &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, last_seen_ms);
	sqlite3_bind_int64(st, 2, machine_id);
	return step_done(s, st, "storing machine state");
}

static void read_state(sqlite3_stmt *st, void *out)
{
	struct store_machine_state *x = out;
	size_t n = (size_t)sqlite3_column_bytes(st, 5);

	memset(x, 0, sizeof(*x));
	x->machine_id = sqlite3_column_int64(st, 0);
	x->online = sqlite3_column_int(st, 1);
	x->last_seen_ms = sqlite3_column_int64(st, 2);
	x->changed_ms = sqlite3_column_int64(st, 3);
	copy_text(x->disconnect_reason, sizeof(x->disconnect_reason), st, 4);
	if (n > 0 && n <= sizeof(x->info)) {
		memcpy(x->info, sqlite3_column_blob(st, 5), n);
		x->info_len = n;
	}
}

static int sq_machine_state_get(struct store *base, int64_t machine_id, struct store_machine_state *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT machine_id, online, last_seen_ms, changed_ms, disconnect_reason, info "
	                    "FROM machine_state WHERE machine_id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	return select_one(s, st, read_state, out, "reading machine state");
}

/* ---- refusals and commands ---- */

static int sq_refusal_count(struct store *base, int64_t machine_id, const char *reason, int64_t at_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_REFUSAL_COUNT), &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	bind_text(st, 2, reason);
	sqlite3_bind_int64(st, 3, at_ms);
	return step_done(s, st, "counting a refusal");
}

static int sq_refusal_list(struct store *base, int64_t machine_id,
                           int (*each)(void *, const char *, int64_t, int64_t), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT reason, count, last_ms FROM refusals WHERE machine_id = ? ORDER BY reason", &st);
	int stop = 0;

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		stop = each(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
		            sqlite3_column_int64(st, 2));
		if (stop != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "listing refusals");
}

static int sq_state_change_add(struct store *base, const struct store_state_change *c)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_STATE_CHANGE_ADD), &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, c->machine_id);
	sqlite3_bind_int64(st, 2, c->at_ms);
	sqlite3_bind_int(st, 3, (int)c->kind);
	bind_text(st, 4, c->code);
	sqlite3_bind_int64(st, 5, c->value);
	bind_text(st, 6, c->reason);
	return step_done(s, st, "storing a state change");
}

static void state_change_of(sqlite3_stmt *st, struct store_state_change *c)
{
	c->machine_id = sqlite3_column_int64(st, 0);
	c->at_ms = sqlite3_column_int64(st, 1);
	c->kind = (enum store_state_kind)sqlite3_column_int(st, 2);
	copy_text(c->code, sizeof(c->code), st, 3); /* a report reads 100,000s of rows: no snprintf */
	c->value = sqlite3_column_int64(st, 4);
	copy_text(c->reason, sizeof(c->reason), st, 5);
}

/* One pass over the primary key, (machine, time) order: no sort. NOT
 * INDEXED keeps the planner off the time index, which would need one. */
static int sq_state_changes(struct store *base, int64_t machine_id, int64_t from_ms, int64_t to_ms,
                            int (*each)(void *, const struct store_state_change *, int), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	struct store_state_change c;
	int rc, stop = 0;

	rc = machine_id != 0
	             ? prepare(s, "SELECT machine_id, at_ms, kind, code, value, reason FROM state_changes "
	                          "WHERE machine_id = ?1 AND at_ms < ?2 ORDER BY at_ms", &st)
	             : prepare(s, "SELECT machine_id, at_ms, kind, code, value, reason FROM state_changes NOT INDEXED "
	                          "WHERE at_ms < ?2 ORDER BY machine_id, at_ms", &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		state_change_of(st, &c);
		stop = each(ctx, &c, c.at_ms < from_ms);
		if (stop != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "reading state changes");
}

static int sq_command_add(struct store *base, const struct store_command *c, int64_t *id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "INSERT INTO commands(machine_id, name, body, created_ms, job_id, deadline_ms) "
	                    "VALUES (?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, c->machine_id);
	bind_text(st, 2, c->name);
	sqlite3_bind_blob(st, 3, c->body, (int)c->body_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, c->created_ms);
	sqlite3_bind_int64(st, 5, c->job_id);
	sqlite3_bind_int64(st, 6, c->deadline_ms);
	return insert_row(s, st, "adding a command", id);
}

static void read_command(sqlite3_stmt *st, void *out)
{
	struct store_command *c = out;
	size_t n = (size_t)sqlite3_column_bytes(st, 3);

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	c->machine_id = sqlite3_column_int64(st, 1);
	copy_text(c->name, sizeof(c->name), st, 2);
	if (n <= sizeof(c->body)) {
		if (n > 0)
			memcpy(c->body, sqlite3_column_blob(st, 3), n);
		c->body_len = n;
	}
	c->created_ms = sqlite3_column_int64(st, 4);
	c->delivered_ms = sqlite3_column_int64(st, 5);
	c->failed_ms = sqlite3_column_int64(st, 6);
	copy_text(c->failure, sizeof(c->failure), st, 7);
	c->job_id = sqlite3_column_int64(st, 8);
	c->deadline_ms = sqlite3_column_int64(st, 9);
	c->accepted_ms = sqlite3_column_int64(st, 10);
	c->ended_ms = sqlite3_column_int64(st, 11);
	copy_text(c->end_state, sizeof(c->end_state), st, 12);
	copy_text(c->detail, sizeof(c->detail), st, 13);
	c->late_results = sqlite3_column_int64(st, 14);
}

#define COMMAND_COLUMNS "id, machine_id, name, body, created_ms, delivered_ms, failed_ms, failure, " \
	"job_id, deadline_ms, accepted_ms, ended_ms, end_state, detail, late_results"

DEFINE_EMITTER(command, read_command)

static int sq_command_pending(struct store *base, int64_t machine_id,
                              int (*each)(void *, const struct store_command *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct command_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " COMMAND_COLUMNS " FROM commands "
	                    "WHERE machine_id = ? AND delivered_ms = 0 AND ended_ms = 0 ORDER BY id", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	return select_each(s, st, emit_command, &e, "listing commands");
}

static int sq_command_delivered(struct store *base, int64_t id, int64_t at_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE commands SET delivered_ms = ? WHERE id = ? AND delivered_ms = 0", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_int64(st, 2, id);
	return step_done(s, st, "marking a command delivered");
}

static int sq_command_failed(struct store *base, int64_t id, int64_t at_ms, const char *reason)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE commands SET failed_ms = ?1, failure = ?2, ended_ms = ?1, end_state = 'failed' "
	                    "WHERE id = ?3 AND delivered_ms = 0 AND ended_ms = 0", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	bind_text(st, 2, reason);
	sqlite3_bind_int64(st, 3, id);
	return step_done(s, st, "marking a command failed");
}

static int sq_command_list(struct store *base, int64_t machine_id,
                           int (*each)(void *, const struct store_command *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct command_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " COMMAND_COLUMNS " FROM commands WHERE machine_id = ? ORDER BY id DESC", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	return select_each(s, st, emit_command, &e, "listing commands");
}

static void read_command_v(sqlite3_stmt *st, void *out) { read_command(st, out); }

static int sq_command_get(struct store *base, int64_t id, struct store_command *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " COMMAND_COLUMNS " FROM commands WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return select_one(s, st, read_command_v, out, "reading a command");
}

/* Each report moves an open command forward only: a repeated "accepted"
 * (QoS 1 redelivers) changes nothing; reaching an end implies the steps
 * before it (a machine that answers at once skips "accepted"). */
static int sq_command_result(struct store *base, int64_t id, int64_t machine_id,
                             enum store_command_report report, const char *text, int64_t at_ms, int *late)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	const char *sql;
	int rc;

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
	rc = prepare(s, sql, &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, machine_id);
	if (report != STORE_REPORT_ACCEPTED)
		bind_text(st, 4, text != NULL ? text : "");
	rc = step_done(s, st, "recording a command's result");
	if (rc != CC_OK || sqlite3_changes(s->db) > 0)
		return rc;
	rc = prepare(s, "UPDATE commands SET late_results = late_results + 1 "
	                "WHERE id = ? AND machine_id = ? AND ended_ms > 0", &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, machine_id);
	rc = step_done(s, st, "counting a late result");
	*late = rc == CC_OK && sqlite3_changes(s->db) > 0;
	return rc;
}

static int sq_command_next_deadline(struct store *base, int64_t *deadline_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT MIN(deadline_ms) FROM commands WHERE ended_ms = 0 AND deadline_ms > 0", &st);

	if (rc != CC_OK)
		return rc;
	rc = sqlite3_step(st);
	*deadline_ms = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? CC_OK : db_fail(s, rc, "reading the next deadline");
}

static int sq_command_expire(struct store *base, int64_t now_ms, int64_t *count)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE commands SET ended_ms = ?1, end_state = 'timed_out' "
	                    "WHERE ended_ms = 0 AND deadline_ms > 0 AND deadline_ms <= ?1", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, now_ms);
	rc = step_done(s, st, "timing out commands");
	*count = rc == CC_OK ? sqlite3_changes(s->db) : 0;
	return rc;
}

static int sq_command_cancel(struct store *base, int64_t id, int64_t at_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE commands SET ended_ms = ?, end_state = 'cancelled' WHERE id = ? AND ended_ms = 0",
	                 &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_int64(st, 2, id);
	rc = step_done(s, st, "cancelling a command");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_STATE;
	return rc;
}

static int sq_command_list_job(struct store *base, int64_t job_id,
                               int (*each)(void *, const struct store_command *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct command_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " COMMAND_COLUMNS " FROM commands WHERE job_id = ? ORDER BY id", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, job_id);
	return select_each(s, st, emit_command, &e, "listing a job's commands");
}

#define JOB_COLUMNS "id, name, created_by, target, created_ms, timeout_ms, cancelled_ms, cancelled_by"

static void read_job(sqlite3_stmt *st, void *out)
{
	struct store_job *j = out;

	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(st, 0);
	copy_text(j->name, sizeof(j->name), st, 1);
	copy_text(j->created_by, sizeof(j->created_by), st, 2);
	copy_text(j->target, sizeof(j->target), st, 3);
	j->created_ms = sqlite3_column_int64(st, 4);
	j->timeout_ms = sqlite3_column_int64(st, 5);
	j->cancelled_ms = sqlite3_column_int64(st, 6);
	copy_text(j->cancelled_by, sizeof(j->cancelled_by), st, 7);
}

DEFINE_EMITTER(job, read_job)

static int sq_job_add(struct store *base, const struct store_job *j, int64_t *id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "INSERT INTO jobs(name, created_by, target, created_ms, timeout_ms) VALUES (?, ?, ?, ?, ?)",
	                 &st);

	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, j->name);
	bind_text(st, 2, j->created_by);
	bind_text(st, 3, j->target);
	sqlite3_bind_int64(st, 4, j->created_ms);
	sqlite3_bind_int64(st, 5, j->timeout_ms);
	return insert_row(s, st, "adding a job", id);
}

static int sq_job_get(struct store *base, int64_t id, struct store_job *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return select_one(s, st, read_job, out, "reading a job");
}

static int sq_job_cancelled(struct store *base, int64_t id, int64_t at_ms, const char *by)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE jobs SET cancelled_ms = ?, cancelled_by = ? WHERE id = ? AND cancelled_ms = 0",
	                 &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	bind_text(st, 2, by);
	sqlite3_bind_int64(st, 3, id);
	return step_done(s, st, "cancelling a job");
}

static int sq_job_list(struct store *base, int64_t before, int (*each)(void *, const struct store_job *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct job_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " JOB_COLUMNS " FROM jobs WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, before);
	return select_each(s, st, emit_job, &e, "listing jobs");
}

/* ---- grants ---- */

#define GRANT_COLUMNS "id, user_id, IFNULL(machine_id, 0), IFNULL(site_id, 0), customer_id, purpose, " \
                      "created_by, created_ms, expires_ms, revoked_ms, mac"

static void read_grant(sqlite3_stmt *st, void *out)
{
	struct store_grant *g = out;

	memset(g, 0, sizeof(*g));
	g->id = sqlite3_column_int64(st, 0);
	g->user_id = sqlite3_column_int64(st, 1);
	g->machine_id = sqlite3_column_int64(st, 2);
	g->site_id = sqlite3_column_int64(st, 3);
	g->customer_id = sqlite3_column_int64(st, 4);
	copy_text(g->purpose, sizeof(g->purpose), st, 5);
	copy_text(g->created_by, sizeof(g->created_by), st, 6);
	g->created_ms = sqlite3_column_int64(st, 7);
	g->expires_ms = sqlite3_column_int64(st, 8);
	g->revoked_ms = sqlite3_column_int64(st, 9);
	read_mac(st, 10, g->mac, &g->mac_len);
}

DEFINE_EMITTER(grant, read_grant)

static int sq_grant_add(struct store *base, const struct store_grant *g, int64_t *id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "INSERT INTO grants(user_id, machine_id, site_id, customer_id, purpose, created_by, "
	                    "created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, g->user_id);
	bind_id_or_null(st, 2, g->machine_id);
	bind_id_or_null(st, 3, g->site_id);
	sqlite3_bind_int64(st, 4, g->customer_id);
	bind_text(st, 5, g->purpose);
	bind_text(st, 6, g->created_by);
	sqlite3_bind_int64(st, 7, g->created_ms);
	sqlite3_bind_int64(st, 8, g->expires_ms);
	return insert_row(s, st, "adding a grant", id);
}

static int sq_grant_get(struct store *base, int64_t id, struct store_grant *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " GRANT_COLUMNS " FROM grants WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return select_one(s, st, read_grant, out, "reading a grant");
}

static int sq_grant_list(struct store *base, int64_t user_id,
                         int (*each)(void *, const struct store_grant *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct grant_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " GRANT_COLUMNS " FROM grants WHERE ?1 = 0 OR user_id = ?1 ORDER BY id DESC", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, user_id);
	return select_each(s, st, emit_grant, &e, "listing grants");
}

static int sq_grant_revoke(struct store *base, int64_t id, int64_t at_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE grants SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_int64(st, 2, id);
	rc = step_done(s, st, "revoking a grant");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_STATE;
	return rc;
}

static int sq_grant_covers(struct store *base, int64_t user_id, int64_t machine_id, int64_t site_id,
                           const char *purpose, int64_t now_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT 1 FROM grants WHERE user_id = ?1 AND revoked_ms = 0 AND expires_ms > ?4 "
	                    "AND purpose = ?5 AND (machine_id = ?2 OR (?3 <> 0 AND site_id = ?3)) LIMIT 1", &st);

	if (rc != CC_OK)
		return 0;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_int64(st, 2, machine_id);
	sqlite3_bind_int64(st, 3, site_id);
	sqlite3_bind_int64(st, 4, now_ms);
	bind_text(st, 5, purpose);
	rc = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc; /* any failure is "not covered": access fails closed */
}

/* ---- policy and consent ---- */

static int sq_policy_publish(struct store *base, const struct store_policy *p, int64_t *version)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_POLICY_PUBLISH), &st);

	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, p->last_updated);
	bind_text(st, 2, p->purposes);
	bind_text(st, 3, p->text);
	sqlite3_bind_int64(st, 4, p->published_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int64(st, 0);
	rc = rc == SQLITE_ROW ? CC_OK : db_fail(s, rc, "publishing a policy");
	sqlite3_finalize(st);
	return rc;
}

static void read_policy(sqlite3_stmt *st, void *out)
{
	struct store_policy *p = out;

	memset(p, 0, sizeof(*p));
	p->version = sqlite3_column_int64(st, 0);
	copy_text(p->last_updated, sizeof(p->last_updated), st, 1);
	copy_text(p->purposes, sizeof(p->purposes), st, 2);
	copy_text(p->text, sizeof(p->text), st, 3);
	p->published_ms = sqlite3_column_int64(st, 4);
}

DEFINE_EMITTER(policy, read_policy)

static int sq_policy_each(struct store *base, int (*each)(void *, const struct store_policy *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct policy_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT version, last_updated, purposes, text, published_ms FROM policy_versions "
	                    "ORDER BY version", &st);

	if (rc != CC_OK)
		return rc;
	return select_each(s, st, emit_policy, &e, "listing policy versions");
}

static int sq_consent_add(struct store *base, int64_t customer_id, int64_t version, const char *language,
                          const char *login, int64_t at_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_CONSENT_ADD), &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, customer_id);
	sqlite3_bind_int64(st, 2, version);
	bind_text(st, 3, login);
	sqlite3_bind_int64(st, 4, at_ms);
	bind_text(st, 5, language);
	return step_done(s, st, "recording a consent");
}

static int sq_consent_latest(struct store *base, int64_t customer_id, int64_t *version)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT IFNULL(MAX(version), 0) FROM consents WHERE customer_id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, customer_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int64(st, 0);
	rc = rc == SQLITE_ROW ? CC_OK : db_fail(s, rc, "reading consents");
	sqlite3_finalize(st);
	return rc;
}

/* ---- records ---- */

static int sq_records_put(struct store *base, const struct store_record *recs, size_t n, size_t *inserted)
{
	struct sqlite_store *s = SQ(base);
	size_t i, added = 0, arriving = 0;

	for (i = 0; i < n; i++)
		arriving += recs[i].kind == RECORD_TELEMETRY || recs[i].kind == RECORD_EVENT;
	if (arriving == n) {
		int rc = inbox_append(s->inbox, recs, n, clock_now_ms());

		if (rc == CC_OK)
			*inserted = n;
		return rc;
	}
	if (arriving != 0)
		return CC_ERR_INVALID; /* one kind of path per call: reports alone, or machine records alone */
	for (i = 0; i < n; i++) {
		sqlite3_stmt *st = recs[i].kind == RECORD_EVENT ? s->put_event : s->put_telemetry;
		int rc;

		if (recs[i].kind == RECORD_REPORT)
			st = s->put_report;
		else if (recs[i].kind != RECORD_EVENT && recs[i].kind != RECORD_TELEMETRY)
			return CC_ERR_INVALID;
		sqlite3_bind_int64(st, 1, recs[i].machine_id);
		sqlite3_bind_int64(st, 2, recs[i].seq);
		sqlite3_bind_int64(st, 3, recs[i].ts_ms);
		sqlite3_bind_blob(st, 4, recs[i].body, (int)recs[i].body_len, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE)
			return db_fail(s, rc, "storing records");
		added += (size_t)sqlite3_changes(s->db);
	}
	*inserted = added;
	return CC_OK;
}


static const char *record_table(enum record_kind kind)
{
	return kind == RECORD_EVENT ? "events" : kind == RECORD_REPORT ? "reports" : "telemetry";
}

/* Inbox rows of one machine and kind not yet moved, copied (the table is
 * read while they wait), then ordered by seq with one row per seq. */
struct arrival {
	int64_t id, seq, ts_ms;
	uint8_t *body;
	size_t body_len;
};

struct arrivals {
	struct arrival *v;
	size_t n, cap;
	int64_t from_ms, to_ms, after_seq;
	int rc;
};

static void arrivals_free(struct arrivals *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i].body);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

static int collect_arrival(void *arg, const struct inbox_row *row)
{
	struct arrivals *a = arg;
	struct arrival *x;

	if (row->rec.ts_ms < a->from_ms || row->rec.ts_ms >= a->to_ms || row->rec.seq <= a->after_seq)
		return 0;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct arrival *grown = realloc(a->v, cap * sizeof(*grown));

		if (grown == NULL)
			goto nomem;
		a->v = grown;
		a->cap = cap;
	}
	x = &a->v[a->n];
	x->body = malloc(row->rec.body_len ? row->rec.body_len : 1);
	if (x->body == NULL)
		goto nomem;
	if (row->rec.body_len > 0)
		memcpy(x->body, row->rec.body, row->rec.body_len);
	x->body_len = row->rec.body_len;
	x->id = row->id;
	x->seq = row->rec.seq;
	x->ts_ms = row->rec.ts_ms;
	a->n++;
	return 0;
nomem:
	a->rc = CC_ERR_NOMEM;
	return 1;
}

static int by_seq_then_id(const void *pa, const void *pb)
{
	const struct arrival *a = pa, *b = pb;

	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Reads the arrivals of (machine, kind) above "inbox-applied", checking
 * that the two snapshots fit together. */
static int read_arrivals(struct sqlite_store *s, int64_t machine_id, enum record_kind kind, struct arrivals *a)
{
	int64_t applied = 0, deleted = 0;
	int own_read = !inbox_in_read(s->inbox);
	size_t i, kept;
	int rc;

	if (kind != RECORD_TELEMETRY && kind != RECORD_EVENT)
		return CC_OK;
	rc = inbox_begin_read(s->inbox);
	if (rc == CC_OK)
		rc = inbox_deleted_through(s->inbox, &deleted);
	if (rc == CC_OK)
		rc = applied_through(s, &applied);
	if (rc == CC_OK && deleted > applied) {
		log_error(MOD, "%s: the inbox was read after the tables (rows %lld..%lld would be missed); "
		          "not answering from that view", s->path, (long long)applied, (long long)deleted);
		rc = CC_ERR_STATE;
	}
	if (rc == CC_OK) {
		rc = inbox_scan(s->inbox, applied, machine_id, kind, 0, collect_arrival, a);
		if (rc > 0)
			rc = a->rc;
	}
	if (own_read)
		inbox_end_read(s->inbox);
	if (rc != CC_OK) {
		arrivals_free(a);
		return rc;
	}
	if (a->n > 1)
		qsort(a->v, a->n, sizeof(*a->v), by_seq_then_id);
	for (i = 0, kept = 0; i < a->n; i++) {
		if (kept > 0 && a->v[kept - 1].seq == a->v[i].seq) {
			free(a->v[i].body);
			continue;
		}
		a->v[kept++] = a->v[i];
	}
	a->n = kept;
	return CC_OK;
}

static int emit_arrival(const struct arrival *x, int64_t machine_id, enum record_kind kind,
                        int (*each)(void *, const struct store_record *), void *ctx)
{
	struct store_record rec = { machine_id, kind, x->seq, x->ts_ms, x->body, x->body_len };

	return each(ctx, &rec);
}

/* The lowest and highest seq of (machine, kind)'s stored records with
 * from_ms <= ts_ms < to_ms, from the time index alone; none: lo > hi. */
static int seq_bounds(struct sqlite_store *s, int64_t machine_id, enum record_kind kind, int64_t from_ms,
                      int64_t to_ms, int64_t *lo, int64_t *hi)
{
	char sql[128];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT min(seq), max(seq) FROM %s WHERE machine_id = ? AND ts_ms >= ? AND ts_ms < ?",
	         record_table(kind));
	rc = prepare(s, sql, &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*lo = sqlite3_column_int64(st, 0);
		*hi = sqlite3_column_int64(st, 1);
	} else {
		*lo = 1;
		*hi = 0;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? CC_OK : db_fail(s, rc, "reading records");
}

static int sq_records_get(struct store *base, int64_t machine_id, enum record_kind kind,
                          int64_t from_ms, int64_t to_ms, int64_t after_seq,
                          int (*each)(void *, const struct store_record *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct arrivals a = { NULL, 0, 0, from_ms, to_ms, after_seq, CC_OK };
	int64_t lo, hi;
	char sql[192];
	struct store_record rec;
	sqlite3_stmt *st;
	size_t next = 0;
	int rc, stop = 0;

	/* The inbox first: its snapshot must not be younger than the table's. */
	rc = read_arrivals(s, machine_id, kind, &a);
	if (rc != CC_OK)
		return rc;
	/* Left to itself, SQLite walks the primary key (machine, seq) for the
	 * ORDER BY, through every record the machine ever sent, bodies and
	 * all, to find a day's. On a first read of a time range the time index
	 * bounds its seqs first (no bodies read; seq grows with time, so the
	 * walk is short). A cursor's next page starts at its seq and stops
	 * when full, and a read of everything has nothing to bound. */
	lo = INT64_MIN;
	hi = INT64_MAX;
	if (after_seq <= 0 && (from_ms > 0 || to_ms != INT64_MAX))
		rc = seq_bounds(s, machine_id, kind, from_ms, to_ms, &lo, &hi);
	if (rc != CC_OK) {
		arrivals_free(&a);
		return rc;
	}
	snprintf(sql, sizeof(sql), "SELECT seq, ts_ms, body FROM %s WHERE machine_id = ? AND seq >= ? AND seq <= ? "
	         "AND ts_ms >= ? AND ts_ms < ? AND seq > ? ORDER BY seq", record_table(kind));
	rc = prepare(s, sql, &st);
	if (rc != CC_OK) {
		arrivals_free(&a);
		return rc;
	}
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, lo);
	sqlite3_bind_int64(st, 3, hi);
	sqlite3_bind_int64(st, 4, from_ms);
	sqlite3_bind_int64(st, 5, to_ms);
	sqlite3_bind_int64(st, 6, after_seq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rec.machine_id = machine_id;
		rec.kind = kind;
		rec.seq = sqlite3_column_int64(st, 0);
		rec.ts_ms = sqlite3_column_int64(st, 1);
		rec.body = sqlite3_column_blob(st, 2);
		rec.body_len = (size_t)sqlite3_column_bytes(st, 2);
		while (stop == 0 && next < a.n && a.v[next].seq < rec.seq)
			stop = emit_arrival(&a.v[next++], machine_id, kind, each, ctx);
		if (next < a.n && a.v[next].seq == rec.seq)
			next++; /* moved already: the table's copy is the record */
		if (stop == 0)
			stop = each(ctx, &rec);
		if (stop != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop == 0 && (rc == SQLITE_DONE))
		while (stop == 0 && next < a.n)
			stop = emit_arrival(&a.v[next++], machine_id, kind, each, ctx);
	arrivals_free(&a);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "reading records");
}

/* Moving the inbox into the tables (inbox.h explains why). */
struct settle {
	struct sqlite_store *s;
	const struct store_settle_hooks *hooks;
	sqlite3_stmt *put[RECORD_EVENT + 1];
	int64_t (*seen)[2]; /* (machine, latest arrival) per row, sorted later */
	size_t nseen;
	int64_t last_id;
	size_t moved;
	int rc;
};

static int settle_row(void *arg, const struct inbox_row *row)
{
	struct settle *t = arg;
	sqlite3_stmt *st = t->put[row->rec.kind == RECORD_EVENT ? RECORD_EVENT : RECORD_TELEMETRY];
	int rc;

	sqlite3_bind_int64(st, 1, row->rec.machine_id);
	sqlite3_bind_int64(st, 2, row->rec.seq);
	sqlite3_bind_int64(st, 3, row->rec.ts_ms);
	sqlite3_bind_blob(st, 4, row->rec.body, (int)row->rec.body_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		t->rc = db_fail(t->s, rc, "moving records from the inbox");
		return 1;
	}
	if (sqlite3_changes(t->s->db) > 0 && t->hooks != NULL && t->hooks->row != NULL) {
		rc = t->hooks->row(t->hooks->ctx, &row->rec);
		if (rc != CC_OK) {
			t->rc = rc < 0 ? rc : CC_ERR_INVALID;
			return 1;
		}
	}
	t->seen[t->nseen][0] = row->rec.machine_id;
	t->seen[t->nseen][1] = row->at_ms;
	t->nseen++;
	t->last_id = row->id;
	t->moved++;
	return 0;
}

static int by_machine(const void *pa, const void *pb)
{
	const int64_t *a = pa, *b = pb;

	if (a[0] != b[0])
		return a[0] < b[0] ? -1 : 1;
	return a[1] < b[1] ? -1 : a[1] > b[1];
}

static int any_row(void *ctx, const struct inbox_row *row)
{
	(void)ctx;
	(void)row;
	return 1;
}

static int sq_records_settle(struct store *base, size_t max_rows, const struct store_settle_hooks *hooks,
                             size_t *moved)
{
	struct sqlite_store *s = SQ(base);
	struct settle t;
	sqlite3_stmt *touch = NULL;
	char applied_text[24];
	int64_t applied = 0;
	size_t i;
	int rc;

	memset(&t, 0, sizeof(t));
	t.s = s;
	t.hooks = hooks;
	*moved = 0;
	if (max_rows == 0)
		return CC_OK;
	/* Nothing waiting: no write transaction at all (an idle daemon's rounds cost a read). */
	rc = applied_through(s, &applied);
	if (rc == CC_OK)
		rc = inbox_scan(s->inbox, applied, 0, 0, 1, any_row, NULL);
	if (rc == CC_OK)
		return CC_OK;
	if (rc != 1)
		return rc;
	t.seen = malloc(max_rows * sizeof(*t.seen));
	if (t.seen == NULL)
		return CC_ERR_NOMEM;
	if (!s->settling) {
		char pragma[64];

		snprintf(pragma, sizeof(pragma), "PRAGMA cache_size = -%d", SETTLE_CACHE_KIB);
		if (exec(s, pragma, "moving records from the inbox") == CC_OK)
			s->settling = 1;
	}
	rc = exec(s, "BEGIN IMMEDIATE", "moving records from the inbox");
	if (rc == CC_OK)
		rc = applied_through(s, &applied);
	/* A record of a machine deleted meanwhile goes nowhere (its key is
	 * gone with its customer's). */
	if (rc == CC_OK)
		rc = prepare(s, "INSERT OR IGNORE INTO telemetry(machine_id, seq, ts_ms, body) SELECT ?1, ?2, ?3, ?4 "
		                "WHERE EXISTS (SELECT 1 FROM machines WHERE id = ?1)", &t.put[RECORD_TELEMETRY]);
	if (rc == CC_OK)
		rc = prepare(s, "INSERT OR IGNORE INTO events(machine_id, seq, ts_ms, body) SELECT ?1, ?2, ?3, ?4 "
		                "WHERE EXISTS (SELECT 1 FROM machines WHERE id = ?1)", &t.put[RECORD_EVENT]);
	if (rc == CC_OK)
		rc = prepare(s, "UPDATE machine_state SET last_seen_ms = max(last_seen_ms, ?) WHERE machine_id = ?",
		             &touch);
	if (rc == CC_OK) {
		rc = inbox_scan(s->inbox, applied, 0, 0, max_rows, settle_row, &t);
		if (rc > 0)
			rc = t.rc;
	}
	/* One last-seen update per machine per round. */
	if (rc == CC_OK && t.nseen > 0) {
		qsort(t.seen, t.nseen, sizeof(*t.seen), by_machine);
		for (i = 0; i < t.nseen && rc == CC_OK; i++) {
			if (i + 1 < t.nseen && t.seen[i + 1][0] == t.seen[i][0])
				continue; /* the last of each machine's run holds its latest arrival */
			sqlite3_bind_int64(touch, 1, t.seen[i][1]);
			sqlite3_bind_int64(touch, 2, t.seen[i][0]);
			rc = sqlite3_step(touch);
			sqlite3_reset(touch);
			rc = rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "storing machine state");
		}
	}
	if (rc == CC_OK && t.moved > 0) {
		snprintf(applied_text, sizeof(applied_text), "%lld", (long long)t.last_id);
		rc = sq_meta_set(base, INBOX_APPLIED, applied_text);
	}
	if (rc == CC_OK && t.moved > 0 && hooks != NULL && hooks->finish != NULL)
		rc = hooks->finish(hooks->ctx, base);
	sqlite3_finalize(t.put[RECORD_TELEMETRY]);
	sqlite3_finalize(t.put[RECORD_EVENT]);
	sqlite3_finalize(touch);
	free(t.seen);
	if (rc == CC_OK)
		rc = exec(s, "COMMIT", "moving records from the inbox");
	if (rc != CC_OK) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	/* Moved and committed: the inbox may let them go. A failure here only
	 * delays that (reads skip ids up to "inbox-applied"). */
	if (t.moved > 0 && inbox_delete_through(s->inbox, t.last_id) != CC_OK)
		log_warn(MOD, "%s: moved records stay in the inbox until the next round", s->path);
	*moved = t.moved;
	return CC_OK;
}

/* ---- audit ---- */

#define AUDIT_COLUMNS "seq, ts_ms, customer_id, actor, source, action, machines, data_class, " \
                      "purpose, outcome, hash"

static void read_audit(sqlite3_stmt *st, void *out)
{
	struct store_audit *a = out;
	size_t n = (size_t)sqlite3_column_bytes(st, 10);
	const void *hash = sqlite3_column_blob(st, 10);

	memset(a, 0, sizeof(*a));
	a->seq = sqlite3_column_int64(st, 0);
	a->ts_ms = sqlite3_column_int64(st, 1);
	a->customer_id = sqlite3_column_int64(st, 2);
	copy_text(a->actor, sizeof(a->actor), st, 3);
	copy_text(a->source, sizeof(a->source), st, 4);
	copy_text(a->action, sizeof(a->action), st, 5);
	copy_text(a->machines, sizeof(a->machines), st, 6);
	copy_text(a->data_class, sizeof(a->data_class), st, 7);
	copy_text(a->purpose, sizeof(a->purpose), st, 8);
	copy_text(a->outcome, sizeof(a->outcome), st, 9);
	/* A hash of any other length is damage; say so through hash_len. */
	a->hash_len = n;
	if (n == sizeof(a->hash) && hash != NULL)
		memcpy(a->hash, hash, n);
}

DEFINE_EMITTER(audit, read_audit)

static int sq_audit_head(struct store *base, int64_t *seq, uint8_t hash[STORE_AUDIT_HASH_LEN])
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &st);

	if (rc != CC_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) == STORE_AUDIT_HASH_LEN && sqlite3_column_blob(st, 1) != NULL) {
			*seq = sqlite3_column_int64(st, 0);
			memcpy(hash, sqlite3_column_blob(st, 1), STORE_AUDIT_HASH_LEN);
			rc = CC_OK;
		} else {
			rc = CC_ERR_CORRUPT;
		}
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : db_fail(s, rc, "reading the audit log");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_audit_insert(struct store *base, const struct store_audit *a)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "INSERT INTO audit(" AUDIT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, a->seq);
	sqlite3_bind_int64(st, 2, a->ts_ms);
	sqlite3_bind_int64(st, 3, a->customer_id);
	bind_text(st, 4, a->actor);
	bind_text(st, 5, a->source);
	bind_text(st, 6, a->action);
	bind_text(st, 7, a->machines);
	bind_text(st, 8, a->data_class);
	bind_text(st, 9, a->purpose);
	bind_text(st, 10, a->outcome);
	sqlite3_bind_blob(st, 11, a->hash, (int)a->hash_len, SQLITE_STATIC);
	return step_done(s, st, "appending to the audit log");
}

static int sq_audit_each(struct store *base, const struct store_audit_filter *f,
                         int (*each)(void *, const struct store_audit *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct audit_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, f->newest_first ? SQL_AUDIT_EACH_DESC : SQL_AUDIT_EACH), &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, f->from_seq);
	sqlite3_bind_int64(st, 2, f->from_ms);
	sqlite3_bind_int64(st, 3, f->to_ms);
	if (f->action_prefix != NULL)
		bind_text(st, 4, f->action_prefix);
	if (f->serial != NULL)
		bind_text(st, 5, f->serial);
	sqlite3_bind_int64(st, 6, f->customer_id);
	sqlite3_bind_int64(st, 7, f->limit > 0 && f->limit < (size_t)INT64_MAX ? (int64_t)f->limit : -1);
	sqlite3_bind_int64(st, 8, f->before_seq);
	if (f->actor != NULL)
		bind_text(st, 9, f->actor);
	return select_each(s, st, emit_audit, &e, "reading the audit log");
}

static int sq_records_unsettled(struct store *base, int64_t machine_id, enum record_kind kind, int64_t from_ms,
                                int64_t to_ms, int (*each)(void *, const struct store_record *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct arrivals a = { NULL, 0, 0, from_ms, to_ms, INT64_MIN, CC_OK };
	sqlite3_stmt *moved = NULL;
	char sql[96];
	size_t i;
	int rc = read_arrivals(s, machine_id, kind, &a), stop = 0;

	/* A retransmission of a record moved already is not a new record. */
	snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE machine_id = ? AND seq = ?", record_table(kind));
	if (rc == CC_OK && a.n > 0)
		rc = prepare(s, sql, &moved);
	for (i = 0; rc == CC_OK && stop == 0 && i < a.n; i++) {
		int step;

		sqlite3_bind_int64(moved, 1, machine_id);
		sqlite3_bind_int64(moved, 2, a.v[i].seq);
		step = sqlite3_step(moved);
		sqlite3_reset(moved);
		if (step == SQLITE_DONE)
			stop = emit_arrival(&a.v[i], machine_id, kind, each, ctx);
		else if (step != SQLITE_ROW)
			rc = db_fail(s, step, "reading records");
	}
	sqlite3_finalize(moved);
	arrivals_free(&a);
	return rc != CC_OK ? rc : stop;
}

/* ---- roll-ups ---- */

static int sq_rollup_get(struct store *base, int64_t machine_id, int64_t width_ms, int64_t start_ms, uint8_t *out,
                         size_t cap, size_t *len)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = s->rollup_read != NULL ? CC_OK
	         : prepare(s, "SELECT body FROM rollups WHERE machine_id = ? AND width_ms = ? AND start_ms = ?",
	                   &s->rollup_read);

	if (rc != CC_OK)
		return rc;
	st = s->rollup_read;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, width_ms);
	sqlite3_bind_int64(st, 3, start_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);

		*len = n;
		if (n > cap) {
			rc = CC_ERR_LIMIT;
		} else {
			if (n > 0)
				memcpy(out, sqlite3_column_blob(st, 0), n);
			rc = CC_OK;
		}
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : db_fail(s, rc, "reading a roll-up");
	}
	sqlite3_reset(st);
	return rc;
}

static int sq_rollup_put(struct store *base, int64_t machine_id, int64_t width_ms, int64_t start_ms,
                         const uint8_t *body, size_t len)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = s->rollup_write != NULL
	         ? CC_OK
	         : prepare(s, sql_text(SQL_SQLITE, SQL_ROLLUP_PUT), &s->rollup_write);

	if (rc != CC_OK)
		return rc;
	st = s->rollup_write;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, width_ms);
	sqlite3_bind_int64(st, 3, start_ms);
	sqlite3_bind_blob(st, 4, body, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "storing a roll-up");
}

static int sq_rollup_each(struct store *base, int64_t machine_id, int64_t width_ms, int64_t from_ms, int64_t to_ms,
                          int (*each)(void *, int64_t, const uint8_t *, size_t), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT start_ms, body FROM rollups WHERE machine_id = ? AND width_ms = ? "
	                    "AND start_ms >= ? AND start_ms < ? ORDER BY start_ms", &st), stop = 0;

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, width_ms);
	sqlite3_bind_int64(st, 3, from_ms);
	sqlite3_bind_int64(st, 4, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		stop = each(ctx, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
		            (size_t)sqlite3_column_bytes(st, 1));
		if (stop != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "reading roll-ups");
}

static int sq_rollup_purge(struct store *base, int64_t machine_id, int64_t width_ms, int64_t before_ms,
                           int64_t limit, int64_t *deleted)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "DELETE FROM rollups WHERE machine_id = ?1 AND width_ms = ?2 AND start_ms IN "
	                    "(SELECT start_ms FROM rollups WHERE machine_id = ?1 AND width_ms = ?2 AND start_ms < ?3 "
	                    "ORDER BY start_ms LIMIT ?4)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, width_ms);
	sqlite3_bind_int64(st, 3, before_ms);
	sqlite3_bind_int64(st, 4, limit);
	rc = step_done(s, st, "deleting roll-ups past their retention");
	if (rc == CC_OK)
		*deleted = sqlite3_changes(s->db);
	return rc;
}

/* ---- last cleanings ---- */

static int sq_last_cleaning_put(struct store *base, int64_t machine_id, const char *program, int64_t ts_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_CLEANING_PUT), &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_text(st, 2, program, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ts_ms);
	return step_done(s, st, "keeping a machine's last cleaning");
}

static int sq_last_cleanings_each(struct store *base, int (*each)(void *, int64_t, const char *, int64_t), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT machine_id, program, ts_ms FROM last_cleanings ORDER BY machine_id", &st), stop = 0;

	if (rc != CC_OK)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		stop = each(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
		            sqlite3_column_int64(st, 2));
		if (stop != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "reading the last cleanings");
}

static int sq_descale_water_put(struct store *base, int64_t machine_id, const uint8_t *sealed, size_t len)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_DESCALE_WATER_PUT), &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_blob(st, 2, sealed, (int)len, SQLITE_STATIC);
	return step_done(s, st, "keeping a machine's water since its descale");
}

static int sq_descale_water_each(struct store *base, int (*each)(void *, int64_t, const uint8_t *, size_t), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT machine_id, sealed FROM descale_water ORDER BY machine_id", &st), stop = 0;

	if (rc != CC_OK)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		stop = each(ctx, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
		            (size_t)sqlite3_column_bytes(st, 1));
		if (stop != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "reading the water since each descale");
}

/* ---- days of events to digest ---- */

static int sq_event_day_touch(struct store *base, int64_t machine_id, int64_t day_ms, int64_t wdigest)
{
	struct sqlite_store *s = SQ(base);
	int rc = s->day_mark != NULL ? CC_OK
	         : prepare(s, sql_text(SQL_SQLITE, SQL_DAY_MARK), &s->day_mark);

	if (rc == CC_OK && s->day_undigest == NULL)
		rc = prepare(s, "DELETE FROM rollups WHERE machine_id = ? AND width_ms = ? AND start_ms = ?",
		             &s->day_undigest);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(s->day_mark, 1, day_ms);
	sqlite3_bind_int64(s->day_mark, 2, machine_id);
	rc = sqlite3_step(s->day_mark);
	sqlite3_reset(s->day_mark);
	if (rc != SQLITE_DONE)
		return db_fail(s, rc, "marking a day of events");
	sqlite3_bind_int64(s->day_undigest, 1, machine_id);
	sqlite3_bind_int64(s->day_undigest, 2, wdigest);
	sqlite3_bind_int64(s->day_undigest, 3, day_ms);
	rc = sqlite3_step(s->day_undigest);
	sqlite3_reset(s->day_undigest);
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "dropping a day's digest");
}

static int sq_event_days_dirty(struct store *base, int64_t before_ms, size_t limit,
                               int (*each)(void *, int64_t, int64_t), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT machine_id, day_ms FROM event_days_dirty WHERE day_ms < ? "
	                    "ORDER BY day_ms, machine_id LIMIT ?", &st), stop = 0;

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		stop = each(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
		if (stop != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : db_fail(s, rc, "reading the days of events to digest");
}

static int sq_event_day_clean(struct store *base, int64_t machine_id, int64_t day_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "DELETE FROM event_days_dirty WHERE machine_id = ? AND day_ms = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, day_ms);
	return step_done(s, st, "unmarking a day of events");
}

static int sq_records_last_seq(struct store *base, int64_t machine_id, enum record_kind kind, int64_t *seq)
{
	struct sqlite_store *s = SQ(base);
	struct arrivals a = { NULL, 0, 0, INT64_MIN, INT64_MAX, INT64_MIN, CC_OK };
	char sql[96];
	sqlite3_stmt *st;
	int rc;

	/* The inbox first: its snapshot must not be younger than the table's. */
	rc = read_arrivals(s, machine_id, kind, &a);
	if (rc != CC_OK)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT IFNULL(max(seq), 0) FROM %s WHERE machine_id = ?", record_table(kind));
	rc = prepare(s, sql, &st);
	if (rc == CC_OK) {
		sqlite3_bind_int64(st, 1, machine_id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*seq = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		rc = rc == SQLITE_ROW ? CC_OK : db_fail(s, rc, "reading the last record number");
	}
	if (rc == CC_OK && a.n > 0 && a.v[a.n - 1].seq > *seq)
		*seq = a.v[a.n - 1].seq;
	arrivals_free(&a);
	return rc;
}

static int sq_records_purge(struct store *base, int64_t machine_id, enum record_kind kind, int64_t before_ms,
                            int64_t limit, int64_t *deleted)
{
	struct sqlite_store *s = SQ(base);
	const char *t = record_table(kind);
	char sql[256];
	sqlite3_stmt *st;
	int rc;

	/* (machine_id, ts_ms) is indexed: the oldest of one machine's range. */
	snprintf(sql, sizeof(sql),
	         "DELETE FROM %s WHERE machine_id = ?1 AND seq IN "
	         "(SELECT seq FROM %s WHERE machine_id = ?1 AND ts_ms < ?2 ORDER BY ts_ms LIMIT ?3)", t, t);
	rc = prepare(s, sql, &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, before_ms);
	sqlite3_bind_int64(st, 3, limit);
	rc = step_done(s, st, "deleting records past their retention");
	if (rc == CC_OK)
		*deleted = sqlite3_changes(s->db);
	return rc;
}

/* Before 10000-01-01: what both dialects' date functions take. */
#define YEAR_10000_MS INT64_C(253402300800000)

/* SQLite has no partitions: the months' rows are deleted. */
static int sq_records_drop_months(struct store *base, enum record_kind kind, int64_t before_ms, int64_t *cut_ms)
{
	struct sqlite_store *s = SQ(base);
	char sql[64];
	sqlite3_stmt *st;
	int64_t cut = 0;
	int rc;

	if ((kind != RECORD_TELEMETRY && kind != RECORD_EVENT) || before_ms < 0 || before_ms >= YEAR_10000_MS)
		return CC_ERR_INVALID;
	rc = count_where(s, sql_text(SQL_SQLITE, SQL_MONTH_START), before_ms, &cut);
	if (rc != CC_OK)
		return rc;
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE ts_ms < ?", record_table(kind));
	rc = prepare(s, sql, &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, cut);
	rc = step_done(s, st, "deleting months of records");
	if (rc == CC_OK)
		*cut_ms = cut;
	return rc;
}

/* ---- credentials ---- */

#define CREDENTIAL_COLUMNS "id, token_hash, kind, IFNULL(user_id, 0), org_id, role, name, csrf_hash, flags, " \
	"created_by, created_ms, expires_ms, revoked_ms, rate_per_min, mac"

static void copy_hash(uint8_t out[32], sqlite3_stmt *st, int col)
{
	/* Anything but 32 bytes cannot have been written by us: it stays zero and matches nothing. */
	if (sqlite3_column_bytes(st, col) == 32)
		memcpy(out, sqlite3_column_blob(st, col), 32);
}

static void read_credential(sqlite3_stmt *st, void *out)
{
	struct store_credential *c = out;

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	copy_hash(c->token_hash, st, 1);
	c->kind = sqlite3_column_int(st, 2);
	c->user_id = sqlite3_column_int64(st, 3);
	c->org_id = sqlite3_column_int64(st, 4);
	copy_text(c->role, sizeof(c->role), st, 5);
	copy_text(c->name, sizeof(c->name), st, 6);
	copy_hash(c->csrf_hash, st, 7);
	c->flags = sqlite3_column_int(st, 8);
	copy_text(c->created_by, sizeof(c->created_by), st, 9);
	c->created_ms = sqlite3_column_int64(st, 10);
	c->expires_ms = sqlite3_column_int64(st, 11);
	c->revoked_ms = sqlite3_column_int64(st, 12);
	c->rate_per_min = sqlite3_column_int64(st, 13);
	read_mac(st, 14, c->mac, &c->mac_len);
}

DEFINE_EMITTER(credential, read_credential)

static int sq_credential_add(struct store *base, const struct store_credential *c, int64_t *id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "INSERT INTO credentials(token_hash, kind, user_id, org_id, role, name, csrf_hash, flags, "
	                    "created_by, created_ms, expires_ms, rate_per_min) "
	                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_blob(st, 1, c->token_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, c->kind);
	bind_id_or_null(st, 3, c->user_id);
	sqlite3_bind_int64(st, 4, c->org_id);
	bind_text(st, 5, c->role);
	bind_text(st, 6, c->name);
	if (c->kind == CREDENTIAL_SESSION)
		sqlite3_bind_blob(st, 7, c->csrf_hash, 32, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_int(st, 8, c->flags);
	bind_text(st, 9, c->created_by);
	sqlite3_bind_int64(st, 10, c->created_ms);
	sqlite3_bind_int64(st, 11, c->expires_ms);
	sqlite3_bind_int64(st, 12, c->rate_per_min);
	return insert_row(s, st, "adding a credential", id);
}

static int sq_credential_find(struct store *base, const uint8_t token_hash[32], struct store_credential *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " CREDENTIAL_COLUMNS " FROM credentials WHERE token_hash = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_blob(st, 1, token_hash, 32, SQLITE_STATIC);
	return select_one(s, st, read_credential, out, "reading a credential");
}

static int sq_credential_get(struct store *base, int64_t id, struct store_credential *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " CREDENTIAL_COLUMNS " FROM credentials WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return select_one(s, st, read_credential, out, "reading a credential");
}

static int sq_credential_list(struct store *base, int kind,
                              int (*each)(void *, const struct store_credential *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct credential_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " CREDENTIAL_COLUMNS " FROM credentials WHERE kind = ? ORDER BY id", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int(st, 1, kind);
	return select_each(s, st, emit_credential, &e, "listing credentials");
}

static int sq_credential_revoke(struct store *base, int64_t id, int64_t at_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE credentials SET revoked_ms = CASE WHEN revoked_ms = 0 THEN ?1 ELSE revoked_ms END "
	                    "WHERE id = ?2 RETURNING revoked_ms = ?1", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_int(st, 0) ? CC_OK : CC_ERR_STATE;
	else
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : db_fail(s, rc, "revoking a credential");
	sqlite3_finalize(st);
	return rc;
}

static int sq_credential_revoke_sessions(struct store *base, int64_t user_id, int64_t except_id, int64_t at_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE credentials SET revoked_ms = ?1 "
	                    "WHERE kind = ?2 AND user_id = ?3 AND id <> ?4 AND revoked_ms = 0", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_int(st, 2, CREDENTIAL_SESSION);
	sqlite3_bind_int64(st, 3, user_id);
	sqlite3_bind_int64(st, 4, except_id);
	return step_done(s, st, "ending a user's sessions");
}

static int sq_credential_purge(struct store *base, int64_t now_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "DELETE FROM credentials WHERE kind = ? AND (expires_ms < ? OR revoked_ms <> 0)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int(st, 1, CREDENTIAL_SESSION);
	sqlite3_bind_int64(st, 2, now_ms);
	return step_done(s, st, "purging expired sessions");
}

/* ---- integrity MACs ---- */

static int sq_row_mac_set(struct store *base, enum store_table table, int64_t id, const uint8_t *mac, size_t len)
{
	static const char *const sql[] = {
		[STORE_TABLE_ORGS] = "UPDATE orgs SET mac = ? WHERE id = ?",
		[STORE_TABLE_MACHINES] = "UPDATE machines SET mac = ? WHERE id = ?",
		[STORE_TABLE_USERS] = "UPDATE users SET mac = ? WHERE id = ?",
		[STORE_TABLE_GRANTS] = "UPDATE grants SET mac = ? WHERE id = ?",
		[STORE_TABLE_CREDENTIALS] = "UPDATE credentials SET mac = ? WHERE id = ?",
	};
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc;

	if ((int)table < STORE_TABLE_ORGS || (int)table > STORE_TABLE_CREDENTIALS)
		return CC_ERR_INVALID;
	rc = prepare(s, sql[table], &st);
	if (rc != CC_OK)
		return rc;
	if (len > 0)
		sqlite3_bind_blob(st, 1, mac, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_int64(st, 2, id);
	rc = step_done(s, st, "storing a row's integrity MAC");
	if (rc == CC_OK && sqlite3_changes(s->db) == 0)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

sqlite3 *sqlite_store_db(struct store *base)
{
	return SQ(base)->db;
}

int sqlite_store_fail(struct store *base, int rc, const char *what)
{
	return db_fail(SQ(base), rc, what);
}

int sqlite_store_prepare(struct store *base, const char *sql, sqlite3_stmt **st)
{
	return prepare(SQ(base), sql, st);
}

int sqlite_store_step_done(struct store *base, sqlite3_stmt *st, const char *what)
{
	return step_done(SQ(base), st, what);
}

void sqlite_copy_text(char *out, size_t cap, sqlite3_stmt *st, int col)
{
	copy_text(out, cap, st, col);
}

/* ---- alerts ---- */

#define ALERT_COLUMNS "id, machine_id, rule, cause, severity, state, opened_ms, acknowledged_ms, " \
                      "acknowledged_by, resolved_ms, resolved_by, level, level_ms, last_notified_ms"

static void read_alert(sqlite3_stmt *st, void *out)
{
	struct store_alert *a = out;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	a->machine_id = sqlite3_column_int64(st, 1);
	copy_text(a->rule, sizeof(a->rule), st, 2);
	copy_text(a->cause, sizeof(a->cause), st, 3);
	copy_text(a->severity, sizeof(a->severity), st, 4);
	copy_text(a->state, sizeof(a->state), st, 5);
	a->opened_ms = sqlite3_column_int64(st, 6);
	a->acknowledged_ms = sqlite3_column_int64(st, 7);
	copy_text(a->acknowledged_by, sizeof(a->acknowledged_by), st, 8);
	a->resolved_ms = sqlite3_column_int64(st, 9);
	copy_text(a->resolved_by, sizeof(a->resolved_by), st, 10);
	a->level = sqlite3_column_int64(st, 11);
	a->level_ms = sqlite3_column_int64(st, 12);
	a->last_notified_ms = sqlite3_column_int64(st, 13);
}

DEFINE_EMITTER(alert, read_alert)

static int sq_alert_open(struct store *base, const struct store_alert *a, int64_t *id)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "INSERT INTO alerts(machine_id, rule, cause, severity, state, opened_ms, level, level_ms) "
	                    "VALUES (?, ?, ?, ?, 'open', ?, 0, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, a->machine_id);
	bind_text(st, 2, a->rule);
	bind_text(st, 3, a->cause);
	bind_text(st, 4, a->severity);
	sqlite3_bind_int64(st, 5, a->opened_ms);
	sqlite3_bind_int64(st, 6, a->opened_ms);
	return insert_row(s, st, "opening an alert", id);
}

static int sq_alert_get(struct store *base, int64_t id, struct store_alert *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " ALERT_COLUMNS " FROM alerts WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return select_one(s, st, read_alert, out, "reading an alert");
}

static int sq_alert_find_open(struct store *base, int64_t machine_id, const char *cause, struct store_alert *out)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT " ALERT_COLUMNS " FROM alerts WHERE machine_id = ? AND cause = ? "
	                    "AND state <> 'resolved'", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	bind_text(st, 2, cause);
	return select_one(s, st, read_alert, out, "reading an alert");
}

static int sq_alert_update(struct store *base, const struct store_alert *a)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "UPDATE alerts SET state = ?, acknowledged_ms = ?, acknowledged_by = ?, resolved_ms = ?, "
	                    "resolved_by = ?, level = ?, level_ms = ?, last_notified_ms = ? WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, a->state);
	sqlite3_bind_int64(st, 2, a->acknowledged_ms);
	bind_text(st, 3, a->acknowledged_by);
	sqlite3_bind_int64(st, 4, a->resolved_ms);
	bind_text(st, 5, a->resolved_by);
	sqlite3_bind_int64(st, 6, a->level);
	sqlite3_bind_int64(st, 7, a->level_ms);
	sqlite3_bind_int64(st, 8, a->last_notified_ms);
	sqlite3_bind_int64(st, 9, a->id);
	return step_done(s, st, "updating an alert");
}

static int sq_alert_list(struct store *base, const struct store_alert_filter *f,
                         int (*each)(void *, const struct store_alert *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct alert_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_ALERT_LIST), &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, f->before_id);
	sqlite3_bind_int(st, 2, f->unresolved);
	bind_text(st, 3, f->state);
	bind_text(st, 4, f->severity);
	bind_text(st, 5, f->rule);
	sqlite3_bind_int64(st, 6, f->machine_id);
	sqlite3_bind_int64(st, 7, f->customer_id);
	sqlite3_bind_int64(st, 8, f->site_id);
	return select_each(s, st, emit_alert, &e, "listing alerts");
}

static void read_alert_event(sqlite3_stmt *st, void *out)
{
	struct store_alert_event *e = out;
	size_t n = (size_t)sqlite3_column_bytes(st, 6);

	memset(e, 0, sizeof(*e));
	e->seq = sqlite3_column_int64(st, 0);
	e->alert_id = sqlite3_column_int64(st, 1);
	e->at_ms = sqlite3_column_int64(st, 2);
	copy_text(e->who, sizeof(e->who), st, 3);
	copy_text(e->what, sizeof(e->what), st, 4);
	copy_text(e->detail, sizeof(e->detail), st, 5);
	if (n > 0 && n <= sizeof(e->note)) {
		memcpy(e->note, sqlite3_column_blob(st, 6), n);
		e->note_len = n;
	}
}

DEFINE_EMITTER(alert_event, read_alert_event)

static int sq_alert_event_add(struct store *base, const struct store_alert_event *e)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, "INSERT INTO alert_events(alert_id, at_ms, who, what, detail, note) VALUES (?, ?, ?, ?, ?, ?)",
	                 &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, e->alert_id);
	sqlite3_bind_int64(st, 2, e->at_ms);
	bind_text(st, 3, e->who);
	bind_text(st, 4, e->what);
	bind_text(st, 5, e->detail);
	if (e->note_len > 0)
		sqlite3_bind_blob(st, 6, e->note, (int)e->note_len, SQLITE_STATIC);
	return step_done(s, st, "adding to an alert's history");
}

static int sq_alert_events(struct store *base, int64_t alert_id,
                           int (*each)(void *, const struct store_alert_event *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct alert_event_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT seq, alert_id, at_ms, who, what, detail, note FROM alert_events WHERE alert_id = ? "
	                    "ORDER BY seq", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, alert_id);
	return select_each(s, st, emit_alert_event, &e, "reading an alert's history");
}

static int sq_alert_rule_set(struct store *base, int64_t org_id, const char *rule, int enabled, const char *params)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_ALERT_RULE_SET), &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, rule);
	sqlite3_bind_int(st, 3, enabled != 0);
	bind_text(st, 4, params);
	return step_done(s, st, "setting an alert rule");
}

struct alert_rule_emitter {
	int (*each)(void *, int64_t, const char *, int, const char *);
	void *ctx;
};

static int emit_alert_rule(void *arg, sqlite3_stmt *st)
{
	struct alert_rule_emitter *e = arg;

	return e->each(e->ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
	               sqlite3_column_int(st, 2), (const char *)sqlite3_column_text(st, 3));
}

static int sq_alert_rule_list(struct store *base, int64_t org_id,
                              int (*each)(void *, int64_t, const char *, int, const char *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct alert_rule_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT org_id, rule, enabled, params FROM alert_rules WHERE ?1 = 0 OR org_id = ?1 "
	                    "ORDER BY org_id, rule", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return select_each(s, st, emit_alert_rule, &e, "listing alert rules");
}

static int sq_ruleset_add(struct store *base, const struct store_ruleset *r, const char *doc, int64_t *version)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, sql_text(SQL_SQLITE, SQL_RULESET_ADD), &st);

	if (rc != CC_OK)
		return rc;
	bind_text(st, 1, r->model);
	sqlite3_bind_int64(st, 2, r->created_ms);
	bind_text(st, 3, r->author);
	bind_text(st, 4, doc);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return db_fail(s, rc, "adding a quality rule set");
	}
	*version = sqlite3_column_int64(st, 0);
	return step_done(s, st, "adding a quality rule set");
}

struct ruleset_emitter {
	int (*each)(void *, const struct store_ruleset *, const char *);
	void *ctx;
};

static int emit_ruleset(void *arg, sqlite3_stmt *st)
{
	struct ruleset_emitter *e = arg;
	struct store_ruleset r;

	memset(&r, 0, sizeof(r));
	copy_text(r.model, sizeof(r.model), st, 0);
	r.version = sqlite3_column_int64(st, 1);
	r.created_ms = sqlite3_column_int64(st, 2);
	copy_text(r.author, sizeof(r.author), st, 3);
	return e->each(e->ctx, &r, (const char *)sqlite3_column_text(st, 4));
}

static int sq_ruleset_list(struct store *base, const char *model,
                           int (*each)(void *, const struct store_ruleset *, const char *), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct ruleset_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT model, version, created_ms, author, doc FROM quality_rulesets "
	                    "WHERE ?1 IS NULL OR model = ?1 ORDER BY model, version", &st);

	if (rc != CC_OK)
		return rc;
	if (model != NULL)
		bind_text(st, 1, model);
	return select_each(s, st, emit_ruleset, &e, "listing quality rule sets");
}

static int sq_retention_term_set(struct store *base, int64_t org_id, const char *kind, int64_t days,
                                 const char *set_by, int64_t at_ms)
{
	struct sqlite_store *s = SQ(base);
	sqlite3_stmt *st;
	int rc = prepare(s, days > 0 ? sql_text(SQL_SQLITE, SQL_RETENTION_TERM_SET)
	                             : "DELETE FROM retention_terms WHERE org_id = ?1 AND kind = ?2", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, kind);
	if (days > 0) {
		sqlite3_bind_int64(st, 3, days);
		bind_text(st, 4, set_by);
		sqlite3_bind_int64(st, 5, at_ms);
	}
	return step_done(s, st, "setting a customer's retention");
}

struct retention_term_emitter {
	int (*each)(void *, int64_t, const char *, int64_t);
	void *ctx;
};

static int emit_retention_term(void *arg, sqlite3_stmt *st)
{
	struct retention_term_emitter *e = arg;

	return e->each(e->ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
	               sqlite3_column_int64(st, 2));
}

static int sq_retention_term_list(struct store *base, int64_t org_id,
                                  int (*each)(void *, int64_t, const char *, int64_t), void *ctx)
{
	struct sqlite_store *s = SQ(base);
	struct retention_term_emitter e = { each, ctx };
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT org_id, kind, days FROM retention_terms WHERE ?1 = 0 OR org_id = ?1 "
	                    "ORDER BY org_id, kind", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return select_each(s, st, emit_retention_term, &e, "listing customers' retention");
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.notify = &sqlite_notify_ops,
	.updates = &sqlite_update_ops,
	.diagnostics = &sqlite_diag_ops,
	.tickets = &sqlite_ticket_ops,
	.machine_config = &sqlite_machine_config_ops,
	.rollouts = &sqlite_rollout_ops,
	.open = sq_open,
	.close = sq_close,
	.check = sq_check,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.begin_read = sq_begin_read,
	.in_transaction = sq_in_transaction,
	.savepoint = sq_savepoint,
	.savepoint_release = sq_savepoint_release,
	.savepoint_rollback = sq_savepoint_rollback,
	.meta_get = sq_meta_get,
	.meta_set = sq_meta_set,
	.meta_bump = sq_meta_bump,
	.org_add = sq_org_add,
	.org_get = sq_org_get,
	.org_find = sq_org_find,
	.org_list = sq_org_list,
	.org_delete = sq_org_delete,
	.site_add = sq_site_add,
	.site_get = sq_site_get,
	.site_find = sq_site_find,
	.site_list = sq_site_list,
	.group_add = sq_group_add,
	.group_find = sq_group_find,
	.site_update = sq_site_update,
	.group_get = sq_group_get,
	.group_member_add = sq_group_member_add,
	.group_member_remove = sq_group_member_remove,
	.group_unlist_machine = sq_group_unlist_machine,
	.row_set = sq_row_set,
	.group_list = sq_group_list,
	.machine_add = sq_machine_add,
	.machine_find = sq_machine_find,
	.machine_get = sq_machine_get,
	.machine_list = sq_machine_list,
	.machine_status_list = sq_machine_status_list,
	.machine_revoke = sq_machine_revoke,
	.machine_cert_set = sq_machine_cert_set,
	.revoked_cert_add = sq_revoked_cert_add,
	.revoked_cert_list = sq_revoked_cert_list,
	.user_add = sq_user_add,
	.user_find = sq_user_find,
	.user_get = sq_user_get,
	.user_totp_set = sq_user_totp_set,
	.user_totp_step = sq_user_totp_step,
	.user_list = sq_user_list,
	.user_password_set = sq_user_password_set,
	.user_deletion_request = sq_user_deletion_request,
	.user_delete = sq_user_delete,
	.login_retired = sq_login_retired,
	.shred = sq_shred,
	.machine_state_set = sq_machine_state_set,
	.machine_state_touch = sq_machine_state_touch,
	.machine_state_get = sq_machine_state_get,
	.refusal_count = sq_refusal_count,
	.state_change_add = sq_state_change_add,
	.state_changes = sq_state_changes,
	.refusal_list = sq_refusal_list,
	.command_add = sq_command_add,
	.command_pending = sq_command_pending,
	.command_delivered = sq_command_delivered,
	.command_failed = sq_command_failed,
	.command_list = sq_command_list,
	.command_get = sq_command_get,
	.command_result = sq_command_result,
	.command_next_deadline = sq_command_next_deadline,
	.command_expire = sq_command_expire,
	.command_cancel = sq_command_cancel,
	.command_list_job = sq_command_list_job,
	.job_add = sq_job_add,
	.alert_open = sq_alert_open,
	.alert_get = sq_alert_get,
	.alert_find_open = sq_alert_find_open,
	.alert_update = sq_alert_update,
	.alert_list = sq_alert_list,
	.alert_event_add = sq_alert_event_add,
	.alert_events = sq_alert_events,
	.alert_rule_set = sq_alert_rule_set,
	.alert_rule_list = sq_alert_rule_list,
	.ruleset_add = sq_ruleset_add,
	.retention_term_set = sq_retention_term_set,
	.retention_term_list = sq_retention_term_list,
	.ruleset_list = sq_ruleset_list,
	.job_get = sq_job_get,
	.job_cancelled = sq_job_cancelled,
	.job_list = sq_job_list,
	.grant_add = sq_grant_add,
	.grant_get = sq_grant_get,
	.grant_list = sq_grant_list,
	.grant_revoke = sq_grant_revoke,
	.grant_covers = sq_grant_covers,
	.policy_publish = sq_policy_publish,
	.policy_each = sq_policy_each,
	.consent_add = sq_consent_add,
	.consent_latest = sq_consent_latest,
	.records_put = sq_records_put,
	.records_settle = sq_records_settle,
	.records_unsettled = sq_records_unsettled,
	.rollup_get = sq_rollup_get,
	.rollup_put = sq_rollup_put,
	.rollup_each = sq_rollup_each,
	.rollup_purge = sq_rollup_purge,
	.last_cleaning_put = sq_last_cleaning_put,
	.last_cleanings_each = sq_last_cleanings_each,
	.descale_water_put = sq_descale_water_put,
	.descale_water_each = sq_descale_water_each,
	.event_day_touch = sq_event_day_touch,
	.event_days_dirty = sq_event_days_dirty,
	.event_day_clean = sq_event_day_clean,
	.records_get = sq_records_get,
	.records_last_seq = sq_records_last_seq,
	.records_purge = sq_records_purge,
	.records_drop_months = sq_records_drop_months,
	.credential_add = sq_credential_add,
	.credential_find = sq_credential_find,
	.credential_get = sq_credential_get,
	.credential_list = sq_credential_list,
	.credential_revoke = sq_credential_revoke,
	.credential_purge = sq_credential_purge,
	.credential_revoke_sessions = sq_credential_revoke_sessions,
	.audit_head = sq_audit_head,
	.audit_insert = sq_audit_insert,
	.audit_each = sq_audit_each,
	.row_mac_set = sq_row_mac_set,
};
