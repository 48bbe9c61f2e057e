/* machine_config_sqlite.c - desired and reported configuration in SQLite (store/machine_config.h). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/machine_config.h"
#include "store/sqlite/handle.h"

#define VERSION_COLUMNS "machine_id, version, at_ms, job_id, who, doc, why"

static void copy_blob(uint8_t *out, size_t cap, size_t *len, sqlite3_stmt *st, int col)
{
	const void *b = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	/* A blob longer than its room was not written by us: it reads as none (it would not open anyway). */
	*len = b != NULL && n <= cap ? n : 0;
	if (*len > 0)
		memcpy(out, b, n);
}

static void read_version(sqlite3_stmt *st, struct store_config_version *v)
{
	memset(v, 0, sizeof(*v));
	v->machine_id = sqlite3_column_int64(st, 0);
	v->version = sqlite3_column_int64(st, 1);
	v->at_ms = sqlite3_column_int64(st, 2);
	v->job_id = sqlite3_column_int64(st, 3);
	sqlite_copy_text(v->who, sizeof(v->who), st, 4);
	copy_blob(v->doc, sizeof(v->doc), &v->doc_len, st, 5);
	copy_blob(v->why, sizeof(v->why), &v->why_len, st, 6);
}

static int desired_add(struct store *s, const struct store_config_version *v)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO machine_config_desired(" VERSION_COLUMNS ") "
	                                 "VALUES (?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, v->machine_id);
	sqlite3_bind_int64(st, 2, v->version);
	sqlite3_bind_int64(st, 3, v->at_ms);
	sqlite3_bind_int64(st, 4, v->job_id);
	sqlite3_bind_text(st, 5, v->who, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, v->doc, (int)v->doc_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, v->why, (int)v->why_len, SQLITE_STATIC);
	return sqlite_store_step_done(s, st, "machine_config_desired_add");
}

static int one_version(struct store *s, sqlite3_stmt *st, struct store_config_version *out, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		read_version(st, out);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? CC_OK : rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, what);
}

static int desired_latest(struct store *s, int64_t machine_id, struct store_config_version *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " VERSION_COLUMNS " FROM machine_config_desired WHERE machine_id = ? "
	                                 "ORDER BY version DESC LIMIT 1", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	return one_version(s, st, out, "machine_config_desired_latest");
}

static int desired_get(struct store *s, int64_t machine_id, int64_t version, struct store_config_version *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " VERSION_COLUMNS " FROM machine_config_desired "
	                                 "WHERE machine_id = ? AND version = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, version);
	return one_version(s, st, out, "machine_config_desired_get");
}

static int each_version(struct store *s, sqlite3_stmt *st, int (*each)(void *ctx, const struct store_config_version *v),
                        void *ctx, const char *what)
{
	static __thread struct store_config_version v; /* 9 KiB: off the stack of the loop */
	int rc, stop = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_version(st, &v);
		if ((stop = each(ctx, &v)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, what);
}

static int desired_list(struct store *s, int64_t machine_id, int64_t before,
                        int (*each)(void *ctx, const struct store_config_version *v), void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " VERSION_COLUMNS " FROM machine_config_desired WHERE machine_id = ?1 "
	                                 "AND (?2 = 0 OR version < ?2) ORDER BY version DESC", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, before);
	return each_version(s, st, each, ctx, "machine_config_desired_list");
}

static int desired_between(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
                           int (*each)(void *ctx, const struct store_config_version *v), void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " VERSION_COLUMNS " FROM machine_config_desired WHERE machine_id = ? "
	                                 "AND at_ms >= ? AND at_ms < ? ORDER BY version", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	return each_version(s, st, each, ctx, "machine_config_desired_between");
}

static int reported_put(struct store *s, const struct store_config_reported *r)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT OR REPLACE INTO machine_config_reported(machine_id, at_ms, version, "
	                                 "rejected, body) VALUES (?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, r->machine_id);
	sqlite3_bind_int64(st, 2, r->at_ms);
	sqlite3_bind_int64(st, 3, r->version);
	sqlite3_bind_int(st, 4, r->rejected != 0);
	sqlite3_bind_blob(st, 5, r->body, (int)r->body_len, SQLITE_STATIC);
	return sqlite_store_step_done(s, st, "machine_config_reported_put");
}

static int reported_get(struct store *s, int64_t machine_id, struct store_config_reported *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT machine_id, at_ms, version, rejected, body FROM machine_config_reported "
	                                 "WHERE machine_id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->machine_id = sqlite3_column_int64(st, 0);
		out->at_ms = sqlite3_column_int64(st, 1);
		out->version = sqlite3_column_int64(st, 2);
		out->rejected = sqlite3_column_int(st, 3);
		copy_blob(out->body, sizeof(out->body), &out->body_len, st, 4);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? CC_OK : rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "reported_get");
}

#define TEMPLATE_COLUMNS "org_id, model, what, at_ms, who, doc, why"

static void read_template(sqlite3_stmt *st, struct store_config_template *t)
{
	memset(t, 0, sizeof(*t));
	t->org_id = sqlite3_column_int64(st, 0);
	sqlite_copy_text(t->model, sizeof(t->model), st, 1);
	sqlite_copy_text(t->what, sizeof(t->what), st, 2);
	t->at_ms = sqlite3_column_int64(st, 3);
	sqlite_copy_text(t->who, sizeof(t->who), st, 4);
	sqlite_copy_text(t->doc, sizeof(t->doc), st, 5);
	sqlite_copy_text(t->why, sizeof(t->why), st, 6);
}

static int template_put(struct store *s, const struct store_config_template *t)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT OR REPLACE INTO config_templates(" TEMPLATE_COLUMNS ") "
	                                 "VALUES (?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, t->org_id);
	sqlite3_bind_text(st, 2, t->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, t->what, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, t->at_ms);
	sqlite3_bind_text(st, 5, t->who, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, t->doc, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, t->why, -1, SQLITE_STATIC);
	return sqlite_store_step_done(s, st, "config_template_put");
}

static int template_get(struct store *s, int64_t org_id, const char *model, const char *what,
                        struct store_config_template *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " TEMPLATE_COLUMNS " FROM config_templates "
	                                 "WHERE org_id = ? AND model = ? AND what = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, what, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_template(st, out);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? CC_OK : rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "config_template_get");
}

static int template_list(struct store *s, int64_t org_id,
                         int (*each)(void *ctx, const struct store_config_template *t), void *ctx)
{
	sqlite3_stmt *st;
	struct store_config_template *t = malloc(sizeof(*t));
	int rc, stop = 0;

	if (t == NULL)
		return CC_ERR_NOMEM;
	rc = sqlite_store_prepare(s, "SELECT " TEMPLATE_COLUMNS " FROM config_templates "
	                             "WHERE ?1 = 0 OR org_id = ?1 ORDER BY org_id, model, what", &st);
	if (rc != CC_OK) {
		free(t);
		return rc;
	}
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_template(st, t);
		if ((stop = each(ctx, t)) != 0)
			break;
	}
	sqlite3_finalize(st);
	free(t);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, "config_template_list");
}

const struct store_machine_config_ops sqlite_machine_config_ops = {
	.desired_add = desired_add,
	.desired_latest = desired_latest,
	.desired_get = desired_get,
	.desired_list = desired_list,
	.desired_between = desired_between,
	.reported_put = reported_put,
	.reported_get = reported_get,
	.template_put = template_put,
	.template_get = template_get,
	.template_list = template_list,
};
