/* diagnostics_sqlite.c - diagnostics bundles and their sealed chunks in SQLite (store/diagnostics.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/diagnostics.h"
#include "store/sqlite/handle.h"

static const char *const state_names[] = { "", "requested", "uploading", "complete", "failed", "expired" };

static const char *state_name(enum store_diag_state st)
{
	return st >= DIAG_REQUESTED && st <= DIAG_EXPIRED ? state_names[st] : "failed";
}

static enum store_diag_state state_parse(const char *text)
{
	int i;

	for (i = DIAG_REQUESTED; i <= DIAG_EXPIRED; i++)
		if (text != NULL && strcmp(text, state_names[i]) == 0)
			return (enum store_diag_state)i;
	return DIAG_FAILED;
}

#define DIAG_COLUMNS                                                                                      \
	"id, machine_id, customer_id, requested_by, requested_ms, expires_ms, max_bytes, state, received, " \
	"sha256, reason, completed_ms, job_id"

static void read_diag(sqlite3_stmt *st, struct store_diag *d)
{
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	d->machine_id = sqlite3_column_int64(st, 1);
	d->customer_id = sqlite3_column_int64(st, 2);
	sqlite_copy_text(d->requested_by, sizeof(d->requested_by), st, 3);
	d->requested_ms = sqlite3_column_int64(st, 4);
	d->expires_ms = sqlite3_column_int64(st, 5);
	d->max_bytes = sqlite3_column_int64(st, 6);
	d->state = state_parse((const char *)sqlite3_column_text(st, 7));
	d->received = sqlite3_column_int64(st, 8);
	sqlite_copy_text(d->sha256, sizeof(d->sha256), st, 9);
	sqlite_copy_text(d->reason, sizeof(d->reason), st, 10);
	d->completed_ms = sqlite3_column_int64(st, 11);
	d->job_id = sqlite3_column_int64(st, 12);
}

static int diag_add(struct store *s, struct store_diag *d)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO diag_bundles(machine_id, customer_id, requested_by, requested_ms, "
	                                 "expires_ms, max_bytes, state) VALUES (?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, d->machine_id);
	sqlite3_bind_int64(st, 2, d->customer_id);
	sqlite3_bind_text(st, 3, d->requested_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, d->requested_ms);
	sqlite3_bind_int64(st, 5, d->expires_ms);
	sqlite3_bind_int64(st, 6, d->max_bytes);
	sqlite3_bind_text(st, 7, state_name(d->state), -1, SQLITE_STATIC);
	rc = sqlite_store_step_done(s, st, "diag_add");
	if (rc == CC_OK)
		d->id = sqlite3_last_insert_rowid(sqlite_store_db(s));
	return rc;
}

static int diag_get(struct store *s, int64_t id, struct store_diag *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " DIAG_COLUMNS " FROM diag_bundles WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_diag(st, out);
		rc = CC_OK;
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "diag_get");
	}
	sqlite3_finalize(st);
	return rc;
}

static int diag_update(struct store *s, const struct store_diag *d)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "UPDATE diag_bundles SET state = ?, received = ?, sha256 = ?, reason = ?, "
	                                 "completed_ms = ?, job_id = ? WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_text(st, 1, state_name(d->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, d->received);
	sqlite3_bind_text(st, 3, d->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, d->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, d->completed_ms);
	sqlite3_bind_int64(st, 6, d->job_id);
	sqlite3_bind_int64(st, 7, d->id);
	rc = sqlite_store_step_done(s, st, "diag_update");
	if (rc == CC_OK && sqlite3_changes(sqlite_store_db(s)) == 0)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

static int diag_list(struct store *s, int64_t machine_id, size_t limit,
                     int (*each)(void *ctx, const struct store_diag *d), void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " DIAG_COLUMNS " FROM diag_bundles WHERE machine_id = ? "
	                                 "ORDER BY id DESC LIMIT ?", &st);
	int stop = 0;

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_diag d;

		read_diag(st, &d);
		if ((stop = each(ctx, &d)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, "diag_list");
}

/* Rows a bundle's machine may be on: not moved away (origin_serial is set
 * on the row a move retired). */
#define NOT_MOVED "SELECT id FROM machines WHERE origin_serial = ''"

static int diag_page(struct store *s, const struct store_diag_filter *f,
                     int (*each)(void *ctx, const struct store_diag *d), void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(
		s,
		"SELECT " DIAG_COLUMNS " FROM diag_bundles WHERE (?1 = 0 OR id < ?1) AND (?2 = 0 OR machine_id = ?2) "
		"AND (?3 IS NULL OR machine_id IN (SELECT id FROM machines WHERE serial = ?3 OR origin_serial = ?3)) "
		"AND (?4 = 0 "
		"     OR (customer_id IN (SELECT value FROM json_each(?5)) AND machine_id IN (" NOT_MOVED ")) "
		"     OR (customer_id IN (SELECT value FROM json_each(?6)) AND machine_id NOT IN (" NOT_MOVED ")) "
		"     OR machine_id IN (SELECT value FROM json_each(?7)) "
		"     OR machine_id IN (SELECT id FROM machines WHERE origin_serial = '' "
		"                       AND site_id IN (SELECT value FROM json_each(?8)))) "
		"ORDER BY id DESC",
		&st);
	char *lists[4] = { NULL, NULL, NULL, NULL };
	int stop = 0;

	if (rc != CC_OK)
		return rc;
	if (f->scoped) {
		lists[0] = sqlite_ids_json(f->customers, f->ncustomers);
		lists[1] = sqlite_ids_json(f->moved_customers, f->nmoved_customers);
		lists[2] = sqlite_ids_json(f->machines, f->nmachines);
		lists[3] = sqlite_ids_json(f->sites, f->nsites);
		for (int i = 0; i < 4; i++)
			if (lists[i] == NULL)
				rc = CC_ERR_NOMEM;
	}
	if (rc == CC_OK) {
		sqlite3_bind_int64(st, 1, f->before_id);
		sqlite3_bind_int64(st, 2, f->machine_id);
		if (f->serial != NULL)
			sqlite3_bind_text(st, 3, f->serial, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, f->scoped != 0);
		for (int i = 0; i < 4; i++)
			sqlite3_bind_text(st, 5 + i, lists[i] != NULL ? lists[i] : "[]", -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct store_diag d;

			read_diag(st, &d);
			if ((stop = each(ctx, &d)) != 0)
				break;
		}
		rc = stop != 0 ? stop : rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, "diag_page");
	}
	sqlite3_finalize(st);
	for (int i = 0; i < 4; i++)
		free(lists[i]);
	return rc;
}

static int diag_purge(struct store *s, int64_t machine_id, int64_t before_ms, int64_t limit, int64_t *bundles,
                      int64_t *chunks)
{
	sqlite3_stmt *st;
	/* Chunks first, a bounded number: a bundle may hold 256 of 64 KiB. */
	int rc = sqlite_store_prepare(s, "DELETE FROM diag_chunks WHERE (bundle_id, pos) IN (SELECT c.bundle_id, c.pos "
	                                 "FROM diag_bundles b JOIN diag_chunks c ON c.bundle_id = b.id "
	                                 "WHERE b.machine_id = ?1 AND b.requested_ms < ?2 "
	                                 "ORDER BY c.bundle_id, c.pos LIMIT ?3)", &st);

	*bundles = *chunks = 0;
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, before_ms);
	sqlite3_bind_int64(st, 3, limit);
	rc = sqlite_store_step_done(s, st, "diag_purge");
	if (rc != CC_OK)
		return rc;
	*chunks = sqlite3_changes(sqlite_store_db(s));
	if (*chunks >= limit)
		return CC_OK;
	rc = sqlite_store_prepare(s, "DELETE FROM diag_bundles WHERE id IN (SELECT b.id FROM diag_bundles b "
	                             "WHERE b.machine_id = ?1 AND b.requested_ms < ?2 AND NOT EXISTS "
	                             "(SELECT 1 FROM diag_chunks c WHERE c.bundle_id = b.id) ORDER BY b.id LIMIT ?3)", &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, before_ms);
	sqlite3_bind_int64(st, 3, limit - *chunks);
	rc = sqlite_store_step_done(s, st, "diag_purge");
	if (rc == CC_OK)
		*bundles = sqlite3_changes(sqlite_store_db(s));
	return rc;
}

static int chunk_add(struct store *s, int64_t id, int64_t offset, const uint8_t *blob, size_t len)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO diag_chunks(bundle_id, pos, blob) VALUES (?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, offset);
	sqlite3_bind_blob(st, 3, blob, (int)len, SQLITE_STATIC);
	return sqlite_store_step_done(s, st, "diag_chunk_add");
}

static int chunk_next(struct store *s, int64_t id, int64_t from, int64_t *offset, uint8_t **blob, size_t *len)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT pos, blob FROM diag_chunks WHERE bundle_id = ? AND pos >= ? "
	                                 "ORDER BY pos LIMIT 1", &st);

	*blob = NULL;
	*len = 0;
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, from);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 1);
		const void *p = sqlite3_column_blob(st, 1);

		*offset = sqlite3_column_int64(st, 0);
		*blob = malloc(n > 0 ? (size_t)n : 1);
		if (*blob == NULL) {
			rc = CC_ERR_NOMEM;
		} else {
			if (n > 0)
				memcpy(*blob, p, (size_t)n);
			*len = (size_t)n;
			rc = CC_OK;
		}
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "diag_chunk_next");
	}
	sqlite3_finalize(st);
	return rc;
}

static int chunks_drop(struct store *s, int64_t id)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "DELETE FROM diag_chunks WHERE bundle_id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return sqlite_store_step_done(s, st, "diag_chunks_drop");
}

static int exec_int2(struct store *s, const char *sql, int64_t a, int64_t *n)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, sql, &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, a);
	rc = sqlite_store_step_done(s, st, "diag_sweep");
	if (rc == CC_OK)
		*n += sqlite3_changes(sqlite_store_db(s));
	return rc;
}

static int diag_sweep(struct store *s, int64_t now_ms, int64_t cutoff_ms, int64_t *n)
{
	int rc;

	*n = 0;
	rc = exec_int2(s, "DELETE FROM diag_chunks WHERE bundle_id IN (SELECT id FROM diag_bundles WHERE state IN "
	                  "('requested', 'uploading') AND expires_ms <= ?1)", now_ms, n);
	*n = 0;
	if (rc == CC_OK)
		rc = exec_int2(s, "UPDATE diag_bundles SET state = 'expired', reason = 'not uploaded in time' "
		                  "WHERE state IN ('requested', 'uploading') AND expires_ms <= ?1", now_ms, n);
	if (rc == CC_OK && cutoff_ms > 0)
		rc = exec_int2(s, "DELETE FROM diag_bundles WHERE requested_ms < ?1", cutoff_ms, n);
	return rc;
}

const struct store_diag_ops sqlite_diag_ops = {
	.add = diag_add,
	.get = diag_get,
	.update = diag_update,
	.list = diag_list,
	.page = diag_page,
	.purge = diag_purge,
	.chunk_add = chunk_add,
	.chunk_next = chunk_next,
	.chunks_drop = chunks_drop,
	.sweep = diag_sweep,
};
