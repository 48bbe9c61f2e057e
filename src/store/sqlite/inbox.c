#include "store/sqlite/inbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/log.h"

#define MOD "store"
#define INBOX_BUSY_TRIES 100000 /* x 100 µs: 10 s */

struct inbox {
	sqlite3 *db;
	char path[4096];
	sqlite3_stmt *append;
	int reading;
};

/* Ids must never be reused, or "applied through id N" (kept in the main
 * database) would hide new rows. A new rowid is one more than the largest
 * in the table, so no deletion here ever takes the row with the largest id
 * (it goes with a later round): cheaper than AUTOINCREMENT, which would
 * write its counter's page in every append. */
static const char schema[] =
	"CREATE TABLE IF NOT EXISTS records("
	"  id INTEGER PRIMARY KEY,"
	"  machine_id INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  ts_ms INTEGER NOT NULL,"
	"  at_ms INTEGER NOT NULL,"
	"  body BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;";

static int fail(struct inbox *ib, int rc, const char *what)
{
	int primary = rc & 0xff;

	if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
		log_error(MOD, "%s: the inbox file is damaged (%s)", ib->path, sqlite3_errstr(rc));
		return CC_ERR_CORRUPT;
	}
	if (primary == SQLITE_NOMEM)
		return CC_ERR_NOMEM;
	log_error(MOD, "%s: %s: %s", ib->path, what, sqlite3_errmsg(ib->db));
	return primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN ||
	               primary == SQLITE_READONLY || primary == SQLITE_PERM
	       ? CC_ERR_IO
	       : CC_ERR_DB;
}

static int exec(struct inbox *ib, const char *sql, const char *what)
{
	int rc = sqlite3_exec(ib->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? CC_OK : fail(ib, rc, what);
}

static int prepare(struct inbox *ib, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(ib->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? CC_OK : fail(ib, rc, "prepare");
}

/* SQLite's own busy timeout sleeps 1, 2, 5, 10... ms between tries: an
 * append that meets one of the settler's short deletions would wait for
 * the next step of that ladder, not for the deletion. Try again every
 * 100 µs instead, for 10 s at most (then SQLITE_BUSY, as before). */
static int busy_wait(void *arg, int tries)
{
	struct timespec pause = { 0, 100000 };

	(void)arg;
	if (tries >= INBOX_BUSY_TRIES)
		return 0;
	nanosleep(&pause, NULL);
	return 1;
}

int inbox_path(const char *main_path, char *out, size_t cap)
{
	size_t n = strlen(main_path);
	int len;

	if (n > 3 && strcmp(main_path + n - 3, ".db") == 0)
		len = snprintf(out, cap, "%.*s-inbox.db", (int)(n - 3), main_path);
	else
		len = snprintf(out, cap, "%s-inbox", main_path);
	return len < 0 || (size_t)len >= cap ? CC_ERR_LIMIT : CC_OK;
}

void inbox_close(struct inbox *ib)
{
	if (ib == NULL)
		return;
	sqlite3_finalize(ib->append);
	sqlite3_close(ib->db);
	free(ib);
}

int inbox_open(const char *main_path, struct inbox **out)
{
	struct inbox *ib = calloc(1, sizeof(*ib));
	struct stat before, owner;
	int existed, rc;

	if (ib == NULL)
		return CC_ERR_NOMEM;
	rc = inbox_path(main_path, ib->path, sizeof(ib->path));
	if (rc != CC_OK)
		goto fail;
	existed = stat(ib->path, &before) == 0;
	rc = sqlite3_open_v2(ib->path, &ib->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		log_error(MOD, "%s: cannot open the inbox: %s", ib->path, sqlite3_errstr(rc));
		rc = CC_ERR_IO;
		goto fail;
	}
	sqlite3_extended_result_codes(ib->db, 1);
	sqlite3_busy_handler(ib->db, busy_wait, NULL);
	/* Checkpoints happen after each round's deletion (inbox_delete_through),
	 * never inside an append's commit. */
	sqlite3_wal_autocheckpoint(ib->db, 0);
	/* Small pages: an append of a few messages writes its last page whole. */
	rc = exec(ib, "PRAGMA page_size = 1024", "opening the inbox");
	if (rc == CC_OK)
		rc = exec(ib, "PRAGMA journal_mode = WAL", "opening the inbox");
	if (rc == CC_OK)
		rc = exec(ib, "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; PRAGMA trusted_schema = OFF",
		          "opening the inbox");
	if (rc == CC_OK)
		rc = exec(ib, schema, "creating the inbox");
	if (rc == CC_OK)
		rc = prepare(ib, "INSERT INTO records(machine_id, kind, seq, ts_ms, at_ms, body) "
		                 "VALUES (?, ?, ?, ?, ?, ?)", &ib->append);
	if (rc != CC_OK)
		goto fail;
	if (!existed && geteuid() == 0 && stat(main_path, &owner) == 0 &&
	    chown(ib->path, owner.st_uid, owner.st_gid) != 0) {
		log_error(MOD, "%s: cannot give the inbox the owner of the database", ib->path);
		rc = CC_ERR_IO;
		goto fail;
	}
	*out = ib;
	return CC_OK;
fail:
	inbox_close(ib);
	return rc;
}

int inbox_append(struct inbox *ib, const struct store_record *recs, size_t n, int64_t at_ms)
{
	size_t i;
	int rc;

	if (n == 0)
		return CC_OK;
	rc = exec(ib, "BEGIN IMMEDIATE", "appending to the inbox");
	for (i = 0; i < n && rc == CC_OK; i++) {
		sqlite3_stmt *st = ib->append;
		int step;

		if (recs[i].kind != RECORD_TELEMETRY && recs[i].kind != RECORD_EVENT) {
			rc = CC_ERR_INVALID;
			break;
		}
		sqlite3_bind_int64(st, 1, recs[i].machine_id);
		sqlite3_bind_int(st, 2, (int)recs[i].kind);
		sqlite3_bind_int64(st, 3, recs[i].seq);
		sqlite3_bind_int64(st, 4, recs[i].ts_ms);
		sqlite3_bind_int64(st, 5, at_ms);
		sqlite3_bind_blob(st, 6, recs[i].body, (int)recs[i].body_len, SQLITE_STATIC);
		step = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (step != SQLITE_DONE)
			rc = fail(ib, step, "appending to the inbox");
	}
	if (rc == CC_OK)
		rc = exec(ib, "COMMIT", "appending to the inbox");
	if (rc != CC_OK)
		sqlite3_exec(ib->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int inbox_begin_read(struct inbox *ib)
{
	int rc;

	if (ib->reading)
		return CC_OK;
	/* BEGIN alone takes no snapshot; the first read does, and the caller
	 * needs this one taken before the main database's. */
	rc = exec(ib, "BEGIN DEFERRED; SELECT count(*) FROM state", "reading the inbox");
	if (rc != CC_OK) {
		sqlite3_exec(ib->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	ib->reading = 1;
	return CC_OK;
}

void inbox_end_read(struct inbox *ib)
{
	if (!ib->reading)
		return;
	sqlite3_exec(ib->db, "ROLLBACK", NULL, NULL, NULL);
	ib->reading = 0;
}

int inbox_in_read(const struct inbox *ib)
{
	return ib->reading;
}

int inbox_scan(struct inbox *ib, int64_t after_id, int64_t machine_id, enum record_kind kind, size_t limit,
               int (*each)(void *ctx, const struct inbox_row *row), void *ctx)
{
	sqlite3_stmt *st;
	struct inbox_row row;
	int rc, stop = 0;

	rc = prepare(ib, "SELECT id, at_ms, machine_id, kind, seq, ts_ms, body FROM records "
	                 "WHERE id > ?1 AND (?2 = 0 OR machine_id = ?2) AND (?3 = 0 OR kind = ?3) "
	                 "ORDER BY id LIMIT ?4", &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_int64(st, 2, machine_id);
	sqlite3_bind_int(st, 3, (int)kind);
	sqlite3_bind_int64(st, 4, limit > 0 ? (sqlite3_int64)limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row.id = sqlite3_column_int64(st, 0);
		row.at_ms = sqlite3_column_int64(st, 1);
		row.rec.machine_id = sqlite3_column_int64(st, 2);
		row.rec.kind = (enum record_kind)sqlite3_column_int(st, 3);
		row.rec.seq = sqlite3_column_int64(st, 4);
		row.rec.ts_ms = sqlite3_column_int64(st, 5);
		row.rec.body = sqlite3_column_blob(st, 6);
		row.rec.body_len = (size_t)sqlite3_column_bytes(st, 6);
		stop = each(ctx, &row);
		if (stop != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : fail(ib, rc, "reading the inbox");
}

static int read_state(struct inbox *ib, const char *key, int64_t *value)
{
	sqlite3_stmt *st;
	int rc = prepare(ib, "SELECT value FROM state WHERE key = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*value = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? CC_OK : fail(ib, rc, "reading the inbox");
	sqlite3_finalize(st);
	return rc;
}

int inbox_deleted_through(struct inbox *ib, int64_t *id)
{
	return read_state(ib, "deleted-through", id);
}

static int run_bound(struct inbox *ib, const char *sql, int64_t value, const char *what)
{
	sqlite3_stmt *st;
	int rc = prepare(ib, sql, &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, value);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CC_OK : fail(ib, rc, what);
}

/* Rows per deletion transaction. */
#define INBOX_DELETE_SLICE 1000
/* Frames in the inbox's log above which a round also restarts it. */
#define INBOX_LOG_RESTART_FRAMES 2048

int inbox_delete_through(struct inbox *ib, int64_t through)
{
	int frames = 0, copied = 0;
	int64_t from = 0;
	int rc = CC_OK;

	/* Moved rows live on in their table: no need to overwrite them here,
	 * nor to wait for the disk (a deletion lost in a crash leaves rows that
	 * every reader skips as moved). Slices, so appends wait for one slice
	 * at most, never for the whole round. */
	sqlite3_exec(ib->db, "PRAGMA secure_delete = FAST; PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	while (rc == CC_OK && from < through) {
		int64_t upto = from + INBOX_DELETE_SLICE < through ? from + INBOX_DELETE_SLICE : through;

		rc = exec(ib, "BEGIN IMMEDIATE", "emptying the inbox");
		if (rc == CC_OK && from == 0) {
			sqlite3_stmt *st;

			/* Start at the oldest row, not at id 1. */
			rc = prepare(ib, "SELECT IFNULL(min(id), ?1) FROM records", &st);
			if (rc == CC_OK) {
				sqlite3_bind_int64(st, 1, through);
				if (sqlite3_step(st) == SQLITE_ROW)
					from = sqlite3_column_int64(st, 0) - 1;
				sqlite3_finalize(st);
				upto = from + INBOX_DELETE_SLICE < through ? from + INBOX_DELETE_SLICE : through;
			}
		}
		if (rc == CC_OK)
			rc = run_bound(ib, "DELETE FROM records WHERE id <= ?1 AND id < (SELECT max(id) FROM records)",
			               upto, "emptying the inbox");
		if (rc == CC_OK)
			rc = run_bound(ib, "INSERT INTO state(key, value) VALUES ('deleted-through', ?1) "
			                   "ON CONFLICT(key) DO UPDATE SET value = max(value, ?1)",
			               upto, "emptying the inbox");
		if (rc == CC_OK)
			rc = exec(ib, "COMMIT", "emptying the inbox");
		if (rc != CC_OK)
			sqlite3_exec(ib->db, "ROLLBACK", NULL, NULL, NULL);
		from = upto;
	}
	sqlite3_exec(ib->db, "PRAGMA secure_delete = ON; PRAGMA synchronous = FULL", NULL, NULL, NULL);
	if (rc != CC_OK)
		return rc;
	/* Passive: copies what no reader still needs and never waits. But
	 * appends go on meanwhile, so the log is never found all copied and
	 * would grow for ever: once it is long, a RESTART finishes the little
	 * that is left (appends wait for that moment) and lets the next append
	 * start the log from its beginning. */
	sqlite3_wal_checkpoint_v2(ib->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
	if (frames > INBOX_LOG_RESTART_FRAMES)
		sqlite3_wal_checkpoint_v2(ib->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
	return CC_OK;
}

int inbox_forget_machine(struct inbox *ib, int64_t machine_id)
{
	return run_bound(ib, "DELETE FROM records WHERE machine_id = ?1 AND id < (SELECT max(id) FROM records)",
	                 machine_id, "deleting from the inbox");
}

int inbox_machines(struct inbox *ib, int (*each)(void *ctx, int64_t machine_id), void *ctx)
{
	sqlite3_stmt *st;
	int rc = prepare(ib, "SELECT DISTINCT machine_id FROM records", &st), stop = 0;

	if (rc != CC_OK)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((stop = each(ctx, sqlite3_column_int64(st, 0))) != 0)
			break;
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : fail(ib, rc, "reading the inbox");
}

/* After a lost or replaced inbox file: a placeholder row at floor (read
 * by nobody: everything up to floor counts as moved) sets the next id. */
int inbox_raise_ids(struct inbox *ib, int64_t floor)
{
	return run_bound(ib, "INSERT INTO records(id, machine_id, kind, seq, ts_ms, at_ms, body) "
	                     "SELECT ?1, 0, 0, 0, 0, 0, x'' "
	                     "WHERE ?1 > (SELECT IFNULL(max(id), 0) FROM records)", floor, "opening the inbox");
}

static int check_row(void *arg, int ncol, char **values, char **names)
{
	struct inbox *ib = arg;

	(void)names;
	if (ncol > 0 && values[0] != NULL && strcmp(values[0], "ok") != 0) {
		log_error(MOD, "%s: integrity: %s", ib->path, values[0]);
		return 1;
	}
	return 0;
}

int inbox_check(struct inbox *ib)
{
	int rc = sqlite3_exec(ib->db, "PRAGMA integrity_check", check_row, ib, NULL);

	if (rc == SQLITE_ABORT)
		return CC_ERR_CORRUPT;
	return rc == SQLITE_OK ? CC_OK : fail(ib, rc, "checking the inbox");
}

int inbox_shred(struct inbox *ib)
{
	int busy = 0;
	int rc = sqlite3_wal_checkpoint_v2(ib->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

	if (rc == SQLITE_BUSY)
		busy = 1;
	else if (rc != SQLITE_OK)
		return fail(ib, rc, "checkpointing the inbox");
	return busy ? CC_ERR_STATE : CC_OK;
}
