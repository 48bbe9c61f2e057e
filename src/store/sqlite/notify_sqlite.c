/*
 * notify_sqlite.c - webhooks, the notification outbox and its delivery log
 * in SQLite (store/notify.h). Every op runs in the caller's transaction;
 * outbox_attempt opens its own when the caller has none, so an attempt and
 * the state it leads to are one commit: a kill -9 between them cannot leave
 * a delivered notification pending, nor a logged attempt without its state.
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "store/sqlite/handle.h"

static size_t blob_of(uint8_t *out, size_t cap, sqlite3_stmt *st, int col)
{
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	if (n > cap)
		return 0; /* larger than any blob we write: read as absent, fails to open */
	if (n > 0)
		memcpy(out, sqlite3_column_blob(st, col), n);
	return n;
}

/* Steps st, calling read + each per row; each's non-zero stops (and is returned). */
static int rows(struct store *s, sqlite3_stmt *st, int (*emit)(void *, sqlite3_stmt *), void *arg,
                const char *what)
{
	int rc, stop = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((stop = emit(arg, st)) != 0)
			break;
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, what);
}

#define WEBHOOK_COLUMNS "id, org_id, url, secret, prev_secret, prev_until_ms, created_ms, disabled_ms, failures"

static void read_webhook(sqlite3_stmt *st, struct store_webhook *w)
{
	memset(w, 0, sizeof(*w));
	w->id = sqlite3_column_int64(st, 0);
	w->org_id = sqlite3_column_int64(st, 1);
	sqlite_copy_text(w->url, sizeof(w->url), st, 2);
	w->secret_len = blob_of(w->secret, sizeof(w->secret), st, 3);
	w->prev_secret_len = blob_of(w->prev_secret, sizeof(w->prev_secret), st, 4);
	w->prev_until_ms = sqlite3_column_int64(st, 5);
	w->created_ms = sqlite3_column_int64(st, 6);
	w->disabled_ms = sqlite3_column_int64(st, 7);
	w->failures = sqlite3_column_int64(st, 8);
}

static int webhook_add(struct store *s, const struct store_webhook *w, int64_t *id)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO webhooks(org_id, url, secret, created_ms) VALUES (?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, w->org_id);
	sqlite3_bind_text(st, 2, w->url, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, w->secret, (int)w->secret_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, w->created_ms);
	rc = sqlite_store_step_done(s, st, "adding a webhook");
	if (rc == CC_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(sqlite_store_db(s));
	return rc;
}

static int webhook_get(struct store *s, int64_t id, struct store_webhook *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " WEBHOOK_COLUMNS " FROM webhooks WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_webhook(st, out);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return CC_OK;
	return rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "reading a webhook");
}

struct webhook_emit {
	int (*each)(void *, const struct store_webhook *);
	void *ctx;
};

static int emit_webhook(void *arg, sqlite3_stmt *st)
{
	struct webhook_emit *e = arg;
	struct store_webhook w;

	read_webhook(st, &w);
	return e->each(e->ctx, &w);
}

static int webhook_list(struct store *s, int64_t org_id, int (*each)(void *, const struct store_webhook *),
                        void *ctx)
{
	struct webhook_emit e = { each, ctx };
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " WEBHOOK_COLUMNS " FROM webhooks WHERE ?1 = 0 OR org_id = ?1 ORDER BY id", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return rows(s, st, emit_webhook, &e, "listing webhooks");
}

static int changed(struct store *s, int rc)
{
	if (rc == CC_OK && sqlite3_changes(sqlite_store_db(s)) == 0)
		return CC_ERR_NOTFOUND;
	return rc;
}

static int webhook_set_secret(struct store *s, int64_t id, const uint8_t *secret, size_t len, const uint8_t *prev,
                              size_t prev_len, int64_t prev_until_ms)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "UPDATE webhooks SET secret = ?, prev_secret = ?, prev_until_ms = ? WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_blob(st, 1, secret, (int)len, SQLITE_STATIC);
	if (prev_len > 0)
		sqlite3_bind_blob(st, 2, prev, (int)prev_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, prev_until_ms);
	sqlite3_bind_int64(st, 4, id);
	return changed(s, sqlite_store_step_done(s, st, "rotating a webhook secret"));
}

static int webhook_outcome(struct store *s, int64_t id, int failed, int64_t *failures)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, failed ? "UPDATE webhooks SET failures = failures + 1 WHERE id = ? RETURNING failures"
	                        : "UPDATE webhooks SET failures = 0 WHERE id = ? RETURNING failures", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && failures != NULL)
		*failures = sqlite3_column_int64(st, 0);
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, "counting a webhook's outcome");
}

static int webhook_disable(struct store *s, int64_t id, int64_t at_ms)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, at_ms != 0 ? "UPDATE webhooks SET disabled_ms = ?1 WHERE id = ?2"
	                            : "UPDATE webhooks SET disabled_ms = ?1, failures = 0 WHERE id = ?2", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_int64(st, 2, id);
	return changed(s, sqlite_store_step_done(s, st, "disabling a webhook"));
}

static int webhook_remove(struct store *s, int64_t id, int64_t at_ms)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "UPDATE outbox SET state = 3, done_ms = ? WHERE webhook_id = ? AND state = 0", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, at_ms);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite_store_step_done(s, st, "ending a webhook's notifications");
	if (rc == CC_OK)
		rc = sqlite_store_prepare(s, "DELETE FROM webhooks WHERE id = ?", &st);
	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return changed(s, sqlite_store_step_done(s, st, "removing a webhook"));
}

#define OUTBOX_COLUMNS                                                                          \
	"id, msg_id, org_id, IFNULL(webhook_id, 0), IFNULL(user_id, 0), kind, created_ms, body, " \
	"state, attempts, next_ms, last_status, done_ms"

static void read_notification(sqlite3_stmt *st, struct store_notification *n)
{
	memset(n, 0, sizeof(*n));
	n->id = sqlite3_column_int64(st, 0);
	sqlite_copy_text(n->msg_id, sizeof(n->msg_id), st, 1);
	n->org_id = sqlite3_column_int64(st, 2);
	n->webhook_id = sqlite3_column_int64(st, 3);
	n->user_id = sqlite3_column_int64(st, 4);
	sqlite_copy_text(n->kind, sizeof(n->kind), st, 5);
	n->created_ms = sqlite3_column_int64(st, 6);
	n->body_len = blob_of(n->body, sizeof(n->body), st, 7);
	n->state = sqlite3_column_int(st, 8);
	n->attempts = sqlite3_column_int64(st, 9);
	n->next_ms = sqlite3_column_int64(st, 10);
	n->last_status = sqlite3_column_int64(st, 11);
	n->done_ms = sqlite3_column_int64(st, 12);
}

struct notification_emit {
	int (*each)(void *, const struct store_notification *);
	void *ctx;
};

static int emit_notification(void *arg, sqlite3_stmt *st)
{
	struct notification_emit *e = arg;
	struct store_notification *n = sqlite3_malloc(sizeof(*n)); /* 8 KiB body: not on the stack */
	int rc;

	if (n == NULL)
		return CC_ERR_NOMEM;
	read_notification(st, n);
	rc = e->each(e->ctx, n);
	sqlite3_free(n);
	return rc;
}

static int outbox_add(struct store *s, const struct store_notification *n, int64_t *id)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO outbox(msg_id, org_id, webhook_id, user_id, kind, created_ms, body, next_ms) "
	                 "VALUES (?, ?, NULLIF(?, 0), NULLIF(?, 0), ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_text(st, 1, n->msg_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, n->org_id);
	sqlite3_bind_int64(st, 3, n->webhook_id);
	sqlite3_bind_int64(st, 4, n->user_id);
	sqlite3_bind_text(st, 5, n->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, n->created_ms);
	sqlite3_bind_blob(st, 7, n->body, (int)n->body_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, n->next_ms);
	rc = sqlite_store_step_done(s, st, "queueing a notification");
	if (rc == CC_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(sqlite_store_db(s));
	return rc;
}

static int outbox_due(struct store *s, int64_t now_ms, int64_t after_id, size_t max,
                      int (*each)(void *, const struct store_notification *), void *ctx)
{
	struct notification_emit e = { each, ctx };
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE state = 0 AND next_ms <= ? AND id > ? "
	                 "ORDER BY id LIMIT ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, after_id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	return rows(s, st, emit_notification, &e, "reading due notifications");
}

static int outbox_defer(struct store *s, int64_t id, int64_t next_ms)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "UPDATE outbox SET next_ms = ? WHERE id = ? AND state = 0", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, next_ms);
	sqlite3_bind_int64(st, 2, id);
	return sqlite_store_step_done(s, st, "deferring a notification");
}

static int outbox_next_due(struct store *s, int64_t *next_ms)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT MIN(next_ms) FROM outbox WHERE state = 0", &st);

	if (rc != CC_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_NULL)
		rc = SQLITE_DONE;
	else if (rc == SQLITE_ROW)
		*next_ms = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return CC_OK;
	return rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "reading the next due notification");
}

static int outbox_pending(struct store *s, int64_t *count)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT COUNT(*) FROM outbox WHERE state = 0", &st);

	if (rc != CC_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? CC_OK : sqlite_store_fail(s, rc, "counting pending notifications");
}

static int exec_sql(struct store *s, const char *sql)
{
	int rc = sqlite3_exec(sqlite_store_db(s), sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? CC_OK : sqlite_store_fail(s, rc, sql);
}

static int outbox_attempt(struct store *s, const struct store_notify_attempt *a, int state, int64_t next_ms)
{
	int own = sqlite3_get_autocommit(sqlite_store_db(s));
	sqlite3_stmt *st;
	int rc = own ? exec_sql(s, "BEGIN IMMEDIATE") : CC_OK;

	if (rc == CC_OK)
		rc = sqlite_store_prepare(s, "INSERT OR REPLACE INTO notify_attempts VALUES (?, ?, ?, ?, ?, ?)", &st);
	if (rc == CC_OK) {
		sqlite3_bind_int64(st, 1, a->outbox_id);
		sqlite3_bind_int64(st, 2, a->attempt);
		sqlite3_bind_int64(st, 3, a->at_ms);
		sqlite3_bind_int64(st, 4, a->status);
		sqlite3_bind_int64(st, 5, a->duration_ms);
		sqlite3_bind_text(st, 6, a->error, -1, SQLITE_STATIC);
		rc = sqlite_store_step_done(s, st, "logging a delivery attempt");
	}
	if (rc == CC_OK)
		rc = sqlite_store_prepare(s, "UPDATE outbox SET attempts = ?, last_status = ?, state = ?, next_ms = ?, "
		             "done_ms = CASE WHEN ? = 0 THEN 0 ELSE ? END WHERE id = ? AND state = 0", &st);
	if (rc == CC_OK) {
		sqlite3_bind_int64(st, 1, a->attempt);
		sqlite3_bind_int64(st, 2, a->status);
		sqlite3_bind_int(st, 3, state);
		sqlite3_bind_int64(st, 4, next_ms);
		sqlite3_bind_int(st, 5, state);
		sqlite3_bind_int64(st, 6, a->at_ms);
		sqlite3_bind_int64(st, 7, a->outbox_id);
		rc = sqlite_store_step_done(s, st, "recording a notification's state");
	}
	if (own)
		rc = rc == CC_OK ? exec_sql(s, "COMMIT") : (exec_sql(s, "ROLLBACK"), rc);
	return rc;
}

static int outbox_purge(struct store *s, int64_t before_ms, int64_t *deleted)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "DELETE FROM outbox WHERE state <> 0 AND done_ms < ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, before_ms);
	rc = sqlite_store_step_done(s, st, "deleting old notifications");
	if (rc == CC_OK && deleted != NULL)
		*deleted = sqlite3_changes(sqlite_store_db(s));
	return rc;
}

static int outbox_of_webhook(struct store *s, int64_t webhook_id, size_t max,
                             int (*each)(void *, const struct store_notification *), void *ctx)
{
	struct notification_emit e = { each, ctx };
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE webhook_id = ? ORDER BY id DESC LIMIT ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, webhook_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	return rows(s, st, emit_notification, &e, "listing a webhook's notifications");
}

struct attempt_emit {
	int (*each)(void *, const struct store_notify_attempt *);
	void *ctx;
};

static int emit_attempt(void *arg, sqlite3_stmt *st)
{
	struct attempt_emit *e = arg;
	struct store_notify_attempt a;

	memset(&a, 0, sizeof(a));
	a.outbox_id = sqlite3_column_int64(st, 0);
	a.attempt = sqlite3_column_int64(st, 1);
	a.at_ms = sqlite3_column_int64(st, 2);
	a.status = sqlite3_column_int64(st, 3);
	a.duration_ms = sqlite3_column_int64(st, 4);
	sqlite_copy_text(a.error, sizeof(a.error), st, 5);
	sqlite_copy_text(a.msg_id, sizeof(a.msg_id), st, 6);
	return e->each(e->ctx, &a);
}

static int attempts_of(struct store *s, int64_t outbox_id, int (*each)(void *, const struct store_notify_attempt *),
                       void *ctx)
{
	struct attempt_emit e = { each, ctx };
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT a.outbox_id, a.attempt, a.at_ms, a.status, a.duration_ms, a.error, o.msg_id "
	                 "FROM notify_attempts a JOIN outbox o ON o.id = a.outbox_id "
	                 "WHERE a.outbox_id = ? ORDER BY a.attempt", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, outbox_id);
	return rows(s, st, emit_attempt, &e, "listing delivery attempts");
}

static int prefs_get(struct store *s, int64_t user_id, struct store_notify_prefs *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT email, kinds, sites, quiet, tz, language FROM notify_prefs WHERE user_id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, user_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->user_id = user_id;
		out->email = sqlite3_column_int(st, 0);
		sqlite_copy_text(out->kinds, sizeof(out->kinds), st, 1);
		sqlite_copy_text(out->sites, sizeof(out->sites), st, 2);
		sqlite_copy_text(out->quiet, sizeof(out->quiet), st, 3);
		sqlite_copy_text(out->tz, sizeof(out->tz), st, 4);
		sqlite_copy_text(out->language, sizeof(out->language), st, 5);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return CC_OK;
	return rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "reading notification preferences");
}

static int prefs_set(struct store *s, const struct store_notify_prefs *p)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT OR REPLACE INTO notify_prefs VALUES (?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, p->user_id);
	sqlite3_bind_int(st, 2, p->email);
	sqlite3_bind_text(st, 3, p->kinds, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->sites, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->quiet, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, p->tz, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, p->language, -1, SQLITE_STATIC);
	return sqlite_store_step_done(s, st, "storing notification preferences");
}

const struct store_notify_ops sqlite_notify_ops = {
	.prefs_get = prefs_get,
	.prefs_set = prefs_set,
	.webhook_add = webhook_add,
	.webhook_get = webhook_get,
	.webhook_list = webhook_list,
	.webhook_set_secret = webhook_set_secret,
	.webhook_outcome = webhook_outcome,
	.webhook_disable = webhook_disable,
	.webhook_remove = webhook_remove,
	.outbox_add = outbox_add,
	.outbox_due = outbox_due,
	.outbox_defer = outbox_defer,
	.outbox_next_due = outbox_next_due,
	.outbox_pending = outbox_pending,
	.outbox_attempt = outbox_attempt,
	.outbox_purge = outbox_purge,
	.outbox_of_webhook = outbox_of_webhook,
	.attempts_of = attempts_of,
};
