/* updates_sqlite.c - release keys, artifacts and offers in SQLite (store/updates.h). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/sqlite/handle.h"
#include "store/updates.h"

static int release_key_add(struct store *s, const struct store_release_key *k)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO release_keys(key_id, pem, label, added_ms, added_by) "
	                                 "VALUES (?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_text(st, 1, k->key_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->pem, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->label, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, k->added_ms);
	sqlite3_bind_text(st, 5, k->added_by, -1, SQLITE_STATIC);
	return sqlite_store_step_done(s, st, "release_key_add");
}

static int release_key_revoke(struct store *s, const char *key_id, int64_t at_ms, const char *by)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "UPDATE release_keys SET revoked_ms = ?, revoked_by = ? "
	                                 "WHERE key_id = ? AND revoked_ms = 0", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_text(st, 2, by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, key_id, -1, SQLITE_STATIC);
	rc = sqlite_store_step_done(s, st, "release_key_revoke");
	if (rc != CC_OK || sqlite3_changes(sqlite_store_db(s)) == 1)
		return rc;
	rc = sqlite_store_prepare(s, "SELECT 1 FROM release_keys WHERE key_id = ?", &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_ROW ? CC_ERR_STATE : CC_ERR_NOTFOUND;
	sqlite3_finalize(st);
	return rc;
}

static int release_key_list(struct store *s, int (*each)(void *ctx, const struct store_release_key *k), void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT key_id, pem, label, added_ms, added_by, revoked_ms, revoked_by "
	                                 "FROM release_keys ORDER BY added_ms, key_id", &st);
	int stop = 0;

	if (rc != CC_OK)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_release_key k;

		memset(&k, 0, sizeof(k));
		sqlite_copy_text(k.key_id, sizeof(k.key_id), st, 0);
		sqlite_copy_text(k.pem, sizeof(k.pem), st, 1);
		sqlite_copy_text(k.label, sizeof(k.label), st, 2);
		k.added_ms = sqlite3_column_int64(st, 3);
		sqlite_copy_text(k.added_by, sizeof(k.added_by), st, 4);
		k.revoked_ms = sqlite3_column_int64(st, 5);
		sqlite_copy_text(k.revoked_by, sizeof(k.revoked_by), st, 6);
		if ((stop = each(ctx, &k)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, "release_key_list");
}

#define ARTIFACT_COLUMNS "sha256, version, models, size, key_id, expires_ms, added_ms, added_by"

static void read_artifact(sqlite3_stmt *st, struct store_artifact *a)
{
	memset(a, 0, sizeof(*a));
	sqlite_copy_text(a->sha256, sizeof(a->sha256), st, 0);
	sqlite_copy_text(a->version, sizeof(a->version), st, 1);
	sqlite_copy_text(a->models, sizeof(a->models), st, 2);
	a->size = sqlite3_column_int64(st, 3);
	sqlite_copy_text(a->key_id, sizeof(a->key_id), st, 4);
	a->expires_ms = sqlite3_column_int64(st, 5);
	a->added_ms = sqlite3_column_int64(st, 6);
	sqlite_copy_text(a->added_by, sizeof(a->added_by), st, 7);
}

static int artifact_add(struct store *s, const struct store_artifact *a, const char *meta)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO artifacts(" ARTIFACT_COLUMNS ", meta) "
	                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_text(st, 1, a->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->models, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, a->size);
	sqlite3_bind_text(st, 5, a->key_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, a->expires_ms);
	sqlite3_bind_int64(st, 7, a->added_ms);
	sqlite3_bind_text(st, 8, a->added_by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, meta, -1, SQLITE_STATIC);
	return sqlite_store_step_done(s, st, "artifact_add");
}

static int artifact_get(struct store *s, const char *sha256, struct store_artifact *out, char **meta)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " ARTIFACT_COLUMNS ", meta FROM artifacts WHERE sha256 = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_artifact(st, out);
		rc = CC_OK;
		if (meta != NULL) {
			const unsigned char *t = sqlite3_column_text(st, 8);
			*meta = t != NULL ? strdup((const char *)t) : NULL;
			if (*meta == NULL)
				rc = CC_ERR_NOMEM;
		}
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "artifact_get");
	}
	sqlite3_finalize(st);
	return rc;
}

static int artifact_list(struct store *s, int (*each)(void *ctx, const struct store_artifact *a), void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " ARTIFACT_COLUMNS " FROM artifacts ORDER BY added_ms DESC, sha256", &st);
	int stop = 0;

	if (rc != CC_OK)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_artifact a;

		read_artifact(st, &a);
		if ((stop = each(ctx, &a)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, "artifact_list");
}

static int offer_set(struct store *s, int64_t machine_id, const char *sha256, int64_t at_ms, const char *by)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT OR REPLACE INTO update_offers(machine_id, sha256, offered_ms, offered_by, "
	                                 "state, percent, reason, updated_ms) VALUES (?, ?, ?, ?, 'offered', 0, '', ?3)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, at_ms);
	sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
	return sqlite_store_step_done(s, st, "offer_set");
}

static int offer_get(struct store *s, int64_t machine_id, char sha256[65], int64_t *at_ms)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT sha256, offered_ms FROM update_offers WHERE machine_id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sqlite_copy_text(sha256, 65, st, 0);
		*at_ms = sqlite3_column_int64(st, 1);
		rc = CC_OK;
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "offer_get");
	}
	sqlite3_finalize(st);
	return rc;
}

static int offer_clear(struct store *s, int64_t machine_id)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "DELETE FROM update_offers WHERE machine_id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	return sqlite_store_step_done(s, st, "offer_clear");
}

static int offer_status(struct store *s, int64_t machine_id, struct store_offer *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT sha256, offered_ms, offered_by, state, percent, reason, updated_ms "
	                                 "FROM update_offers WHERE machine_id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		sqlite_copy_text(out->sha256, sizeof(out->sha256), st, 0);
		out->offered_ms = sqlite3_column_int64(st, 1);
		sqlite_copy_text(out->offered_by, sizeof(out->offered_by), st, 2);
		sqlite_copy_text(out->state, sizeof(out->state), st, 3);
		out->percent = sqlite3_column_int64(st, 4);
		sqlite_copy_text(out->reason, sizeof(out->reason), st, 5);
		out->updated_ms = sqlite3_column_int64(st, 6);
		rc = CC_OK;
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "offer_status");
	}
	sqlite3_finalize(st);
	return rc;
}

static int offer_progress(struct store *s, int64_t machine_id, const char *sha256, const char *state,
                          int64_t percent, const char *reason, int64_t at_ms)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "UPDATE update_offers SET state = ?, percent = ?, reason = ?, updated_ms = ? "
	                                 "WHERE machine_id = ? AND sha256 = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, percent);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, at_ms);
	sqlite3_bind_int64(st, 5, machine_id);
	sqlite3_bind_text(st, 6, sha256, -1, SQLITE_STATIC);
	rc = sqlite_store_step_done(s, st, "offer_progress");
	if (rc == CC_OK && sqlite3_changes(sqlite_store_db(s)) == 0)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

const struct store_update_ops sqlite_update_ops = {
	.release_key_add = release_key_add,
	.release_key_revoke = release_key_revoke,
	.release_key_list = release_key_list,
	.artifact_add = artifact_add,
	.artifact_get = artifact_get,
	.artifact_list = artifact_list,
	.offer_set = offer_set,
	.offer_get = offer_get,
	.offer_clear = offer_clear,
	.offer_status = offer_status,
	.offer_progress = offer_progress,
};
