#include "notify/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "access/users.h"
#include "notify/prefs.h"
#include "notify/seal.h"
#include "notify/mail.h"

#define MOD "notify"
#define BODY_MAX (6 * 1024)
#define ANCESTORS_MAX 8 /* manufacturer > distributors > customer: a few levels */

int notify_msg_id(char out[32])
{
	uint8_t raw[12];
	int rc = crypto_random(raw, sizeof(raw));

	memcpy(out, "msg_", 4);
	if (rc == CC_OK)
		rc = hex_encode(raw, sizeof(raw), out + 4, 28) < 0 ? CC_ERR_CRYPTO : CC_OK;
	return rc;
}

static int kind_ok(const char *kind)
{
	size_t n = strlen(kind);

	return n > 0 && n <= STORE_NOTIFY_KIND_MAX && strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

void notify_body_ad(struct seal_ad *ad, const struct store_notification *n)
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = SEAL_NOTIFICATION;
	ad->org_id = n->org_id;
	ad->subject_id = n->webhook_id != 0 ? n->webhook_id : n->user_id;
	ad->seq = n->webhook_id != 0 ? 1 : 2; /* the channel */
	ad->ts_ms = n->created_ms;
	ad->name = n->msg_id;
}

struct fanout {
	struct vault *v;
	struct store_notification *n;
	const char *body;
	const char *site; /* the data's "site", "" when none */
	size_t queued;
	int rc;
};

static int queue_one(struct fanout *f)
{
	struct store *s = vault_store(f->v);
	struct seal_ad ad;
	uint8_t *blob = NULL;
	size_t len = 0;
	int rc = notify_msg_id(f->n->msg_id);

	if (rc == CC_OK) {
		notify_body_ad(&ad, f->n);
		rc = vault_seal(f->v, &ad, f->body, strlen(f->body), &blob, &len);
	}
	if (rc == CC_OK && len > sizeof(f->n->body))
		rc = CC_ERR_LIMIT;
	if (rc == CC_OK) {
		memcpy(f->n->body, blob, len);
		f->n->body_len = len;
		rc = s->ops->notify->outbox_add(s, f->n, NULL);
	}
	if (rc == CC_OK)
		f->queued++;
	free(blob);
	return rc;
}

static int each_webhook(void *ctx, const struct store_webhook *w)
{
	struct fanout *f = ctx;

	if (w->disabled_ms != 0)
		return 0;
	f->n->webhook_id = w->id;
	f->n->user_id = 0;
	return queue_one(f);
}

/* E-mail to the organisation's own people who want it; notifications about
 * the notification system itself (webhook.*) to its admins only. */
static int each_user(void *ctx, const struct user_info *u)
{
	struct fanout *f = ctx;
	struct store_notify_prefs p;

	if (u->deletion_requested_ms != 0 || !mail_address_ok(u->profile.email))
		return 0;
	if (strncmp(f->n->kind, "webhook.", 8) == 0 && strcmp(u->role, "admin") != 0)
		return 0;
	f->rc = notify_prefs_get(f->v, u->id, &p);
	if (f->rc != CC_OK)
		return 1;
	if (!notify_prefs_want(&p, f->n->kind, f->site))
		return 0;
	f->n->webhook_id = 0;
	f->n->user_id = u->id;
	f->rc = queue_one(f);
	return f->rc != CC_OK;
}

static char *body_of(const char *kind, const json_t *data, int64_t now_ms)
{
	char ts[64];
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	json_t *doc;
	char *text;

	gmtime_r(&t, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now_ms % 1000));
	doc = json_pack("{s:s, s:s, s:O}", "type", kind, "timestamp", ts, "data", data);
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(doc);
	return text;
}

int notify_enqueue(struct vault *v, int64_t org_id, const char *kind, const json_t *data, size_t *queued)
{
	struct store *s = vault_store(v);
	struct store_notification *n = NULL;
	struct fanout f;
	struct store_org org;
	int64_t now = clock_now_ms(), at = org_id;
	int own = 0, depth, rc = CC_OK;
	char *body = NULL;

	if (queued != NULL)
		*queued = 0;
	if (kind == NULL || !kind_ok(kind) || data == NULL || !json_is_object(data)) {
		log_error(MOD, "a notification needs a kind ([a-z0-9._-]) and a JSON object");
		return CC_ERR_INVALID;
	}
	body = body_of(kind, data, now);
	if (body == NULL)
		return CC_ERR_NOMEM;
	if (strlen(body) > BODY_MAX) {
		free(body);
		return CC_ERR_LIMIT;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		free(body);
		return CC_ERR_NOMEM;
	}
	n->org_id = org_id;
	snprintf(n->kind, sizeof(n->kind), "%s", kind);
	n->created_ms = now;
	n->next_ms = now;
	f = (struct fanout){ v, n, body, json_string_value(json_object_get(data, "site")), 0, CC_OK };
	if (f.site == NULL)
		f.site = "";
	if (!s->ops->in_transaction(s)) {
		rc = s->ops->begin(s);
		own = rc == CC_OK;
	}
	/* The organisation's own endpoints and people, then the endpoints of the ones above it. */
	for (depth = 0; rc == CC_OK && at != 0 && depth < ANCESTORS_MAX; depth++) {
		rc = s->ops->org_get(s, at, &org);
		if (rc == CC_OK)
			rc = s->ops->notify->webhook_list(s, at, each_webhook, &f);
		if (rc == CC_OK && depth == 0) {
			rc = users_list(v, org.name, each_user, &f);
			if (f.rc != CC_OK)
				rc = f.rc;
		}
		at = org.parent_id;
	}
	if (own)
		rc = rc == CC_OK ? s->ops->commit(s) : (s->ops->rollback(s), rc);
	if (rc == CC_OK && queued != NULL)
		*queued = f.queued;
	if (rc != CC_OK)
		log_error(MOD, "the %s notification of organisation %lld could not be queued: %s", kind,
		          (long long)org_id, cc_strerror(rc));
	free(body);
	free(n);
	return rc;
}

int notify_enqueue_user(struct vault *v, int64_t user_id, const char *kind, const json_t *data, size_t *queued)
{
	struct store_notification *n;
	struct user_info u;
	struct fanout f;
	int64_t now = clock_now_ms();
	char *body;
	int rc;

	if (queued != NULL)
		*queued = 0;
	if (kind == NULL || !kind_ok(kind) || data == NULL || !json_is_object(data))
		return CC_ERR_INVALID;
	rc = users_get(v, user_id, &u);
	if (rc != CC_OK)
		return rc;
	body = body_of(kind, data, now);
	n = calloc(1, sizeof(*n));
	if (body == NULL || n == NULL || strlen(body) > BODY_MAX) {
		rc = body == NULL || n == NULL ? CC_ERR_NOMEM : CC_ERR_LIMIT;
		free(body);
		free(n);
		return rc;
	}
	n->org_id = u.org_id;
	snprintf(n->kind, sizeof(n->kind), "%s", kind);
	n->created_ms = now;
	n->next_ms = now;
	f = (struct fanout){ v, n, body, json_string_value(json_object_get(data, "site")), 0, CC_OK };
	if (f.site == NULL)
		f.site = "";
	each_user(&f, &u);
	rc = f.rc;
	if (rc == CC_OK && queued != NULL)
		*queued = f.queued;
	free(body);
	free(n);
	return rc;
}

int notify_enqueue_webhook(struct vault *v, int64_t webhook_id, const char *kind, const json_t *data)
{
	struct store *s = vault_store(v);
	struct store_webhook w;
	struct store_notification *n;
	struct fanout f;
	int64_t now = clock_now_ms();
	char *body;
	int rc;

	if (kind == NULL || !kind_ok(kind) || data == NULL || !json_is_object(data))
		return CC_ERR_INVALID;
	rc = s->ops->notify->webhook_get(s, webhook_id, &w);
	if (rc != CC_OK)
		return rc;
	body = body_of(kind, data, now);
	n = calloc(1, sizeof(*n));
	if (body == NULL || n == NULL || strlen(body) > BODY_MAX) {
		rc = body == NULL || n == NULL ? CC_ERR_NOMEM : CC_ERR_LIMIT;
		free(body);
		free(n);
		return rc;
	}
	n->org_id = w.org_id;
	n->webhook_id = w.id;
	snprintf(n->kind, sizeof(n->kind), "%s", kind);
	n->created_ms = now;
	n->next_ms = now;
	f = (struct fanout){ v, n, body, "", 0, CC_OK };
	rc = queue_one(&f);
	free(body);
	free(n);
	return rc;
}
