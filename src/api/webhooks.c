/* webhooks.c - an organisation's webhook endpoints (admins, in their
 * subtree), their delivery log and a test notification; a person's own
 * notification e-mail preferences. Secrets are in answers once, at creation
 * and rotation. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "crypto/aead.h"
#include "fleet/inventory.h"
#include "notify/outbox.h"
#include "notify/prefs.h"
#include "notify/webhook.h"

static const char *const state_names[] = { "pending", "delivered", "failed", "gone" };

/* Fields that do not apply are left out (not null). */
static json_t *webhook_json(struct store *st, const struct store_webhook *w)
{
	struct store_org org;
	char created[40], when[40];
	json_t *doc;

	if (st->ops->org_get(st, w->org_id, &org) != CC_OK)
		return NULL;
	doc = json_pack("{s:I, s:s, s:s, s:s, s:b, s:I}", "id", (json_int_t)w->id, "org", org.name, "url", w->url,
	                "created", api_iso_time(w->created_ms, created, sizeof(created)), "enabled", w->disabled_ms == 0,
	                "failures", (json_int_t)w->failures);
	if (doc != NULL && w->disabled_ms != 0)
		json_object_set_new(doc, "disabled", json_string(api_iso_time(w->disabled_ms, when, sizeof(when))));
	if (doc != NULL && w->prev_until_ms > clock_now_ms())
		json_object_set_new(doc, "previous_secret_until",
		                    json_string(api_iso_time(w->prev_until_ms, when, sizeof(when))));
	return doc;
}

struct lister {
	struct store *st;
	int64_t scope;
	json_t *list;
};

static int list_one(void *ctx, const struct store_webhook *w)
{
	struct lister *l = ctx;
	json_t *item;

	if (!inventory_org_contains(l->st, l->scope, w->org_id))
		return 0;
	item = webhook_json(l->st, w);
	return item != NULL && json_array_append_new(l->list, item) == 0 ? 0 : CC_ERR_NOMEM;
}

void api_webhooks_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct lister l = { vault_store(a->vault), 0, NULL };

	if (s == NULL)
		return;
	l.scope = s->user.org_id;
	l.list = json_array();
	if (l.list == NULL || l.st->ops->notify->webhook_list(l.st, 0, list_one, &l) != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the webhooks could not be listed");
		return;
	}
	api_reply_list(r, "webhooks", l.list, "id");
}

/* The {id} of the path, in the caller's subtree; else it has replied 404. */
static int find_webhook(struct http_req *r, const struct caller *s, struct store_webhook *w)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	int64_t id = 0;

	if (api_parse_ms(http_param(r, "id"), 0, &id) != CC_OK || id <= 0 ||
	    st->ops->notify->webhook_get(st, id, w) != CC_OK || !inventory_org_contains(st, s->user.org_id, w->org_id)) {
		http_reply_error(r, 404, "not_found", "no such webhook");
		return CC_ERR_NOTFOUND;
	}
	return CC_OK;
}

void api_webhooks_add(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_org org;
	const char *org_name, *url;
	char secret[WEBHOOK_SECRET_TEXT_MAX], why[200];
	json_t *reply;
	int64_t id = 0;
	int rc;

	if (s == NULL)
		return;
	org_name = api_field(r, "org");
	url = api_field(r, "url");
	if (org_name == NULL || st->ops->org_find(st, org_name, &org) != CC_OK ||
	    !inventory_org_contains(st, s->user.org_id, org.id)) {
		http_reply_error(r, 404, "not_found", "no such organisation");
		return;
	}
	if (url == NULL) {
		http_reply_error(r, 400, "invalid", "send org and url (https://...)");
		return;
	}
	/* A name is not resolved here (that would hold the loop): each
	 * connection to it is judged by the address it uses. */
	if (webhook_url_check(url, a->opts.webhook_allow_private, 0, why, sizeof(why)) != CC_OK) {
		http_reply_error(r, 400, "invalid", why);
		return;
	}
	rc = webhook_create(a->vault, org.id, url, &id, secret);
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the webhook could not be added");
		return;
	}
	reply = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "org", org.name, "url", url, "secret", secret);
	crypto_wipe(secret, sizeof(secret));
	if (api_audit_access(r, s, "webhook.add", NULL, "ok") != CC_OK) {
		json_decref(reply);
		return;
	}
	http_reply_json(r, 201, reply);
}

void api_webhooks_delete(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_webhook w;
	int rc;

	if (s == NULL || find_webhook(r, s, &w) != CC_OK)
		return;
	rc = st->ops->begin(st);
	if (rc == CC_OK)
		rc = st->ops->notify->webhook_remove(st, w.id, clock_now_ms());
	rc = rc == CC_OK ? st->ops->commit(st) : (st->ops->rollback(st), rc);
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the webhook could not be removed");
		return;
	}
	if (api_audit_access(r, s, "webhook.remove", NULL, "ok") == CC_OK)
		http_reply_json(r, 200, json_pack("{s:I, s:b}", "id", (json_int_t)w.id, "removed", 1));
}

void api_webhooks_rotate(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_webhook w;
	char secret[WEBHOOK_SECRET_TEXT_MAX], until[40];
	json_t *reply;

	if (s == NULL || find_webhook(r, s, &w) != CC_OK)
		return;
	if (webhook_rotate(a->vault, w.id, secret) != CC_OK) {
		http_reply_error(r, 500, "internal", "the secret could not be rotated");
		return;
	}
	reply = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)w.id, "secret", secret, "previous_secret_until",
	                  api_iso_time(clock_now_ms() + WEBHOOK_ROTATION_OVERLAP_MS, until, sizeof(until)));
	crypto_wipe(secret, sizeof(secret));
	if (api_audit_access(r, s, "webhook.rotate", NULL, "ok") != CC_OK) {
		json_decref(reply);
		return;
	}
	http_reply_json(r, 200, reply);
}

struct delivery_lister {
	struct store *st;
	json_t *list;
	json_t *log;
};

static int attempt_one(void *ctx, const struct store_notify_attempt *at)
{
	struct delivery_lister *l = ctx;
	char when[40];

	return json_array_append_new(l->log, json_pack("{s:I, s:s, s:I, s:I, s:s}", "attempt", (json_int_t)at->attempt,
	                                               "at", api_iso_time(at->at_ms, when, sizeof(when)), "status",
	                                               (json_int_t)at->status, "duration_ms",
	                                               (json_int_t)at->duration_ms, "error", at->error)) == 0
	           ? 0
	           : CC_ERR_NOMEM;
}

static int delivery_one(void *ctx, const struct store_notification *n)
{
	struct delivery_lister *l = ctx;
	char created[40], next[40];
	json_t *item;
	int rc;

	l->log = json_array();
	if (l->log == NULL)
		return CC_ERR_NOMEM;
	rc = l->st->ops->notify->attempts_of(l->st, n->id, attempt_one, l);
	if (rc != CC_OK) {
		json_decref(l->log);
		return rc;
	}
	item = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "id", n->msg_id, "kind", n->kind, "state",
	                 n->state >= 0 && n->state <= 3 ? state_names[n->state] : "?", "created",
	                 api_iso_time(n->created_ms, created, sizeof(created)), "attempts", (json_int_t)n->attempts,
	                 "last_status", (json_int_t)n->last_status, "log", l->log);
	if (item != NULL && n->state == NOTIFY_PENDING)
		json_object_set_new(item, "next_attempt", json_string(api_iso_time(n->next_ms, next, sizeof(next))));
	return item != NULL && json_array_append_new(l->list, item) == 0 ? 0 : CC_ERR_NOMEM;
}

void api_webhooks_deliveries(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_webhook w;
	struct delivery_lister l = { vault_store(a->vault), NULL, NULL };
	int64_t limit = 50;

	if (s == NULL || find_webhook(r, s, &w) != CC_OK)
		return;
	if (api_parse_ms(http_param(r, "limit"), 50, &limit) != CC_OK || limit < 1 || limit > 1000) {
		http_reply_error(r, 400, "invalid", "limit: 1 to 1000");
		return;
	}
	l.list = json_array();
	if (l.list == NULL || l.st->ops->notify->outbox_of_webhook(l.st, w.id, (size_t)limit, delivery_one, &l) != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the deliveries could not be listed");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:I, s:s, s:o}", "webhook", (json_int_t)w.id, "url", w.url,
	                                  "notifications", l.list));
}

void api_webhooks_test(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_webhook w;
	struct store_org org;
	json_t *data;
	int rc;

	if (s == NULL || find_webhook(r, s, &w) != CC_OK)
		return;
	if (st->ops->org_get(st, w.org_id, &org) != CC_OK) {
		http_reply_error(r, 404, "not_found", "no such webhook");
		return;
	}
	data = json_pack("{s:s, s:s}", "org", org.name, "text", "a test notification from CoffeeCloud");
	rc = data != NULL ? notify_enqueue_webhook(a->vault, w.id, NOTIFY_KIND_TEST, data) : CC_ERR_NOMEM;
	json_decref(data);
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the test notification could not be queued");
		return;
	}
	if (api_audit_access(r, s, "webhook.test", NULL, "ok") == CC_OK)
		http_reply_json(r, 202, json_pack("{s:I, s:I}", "id", (json_int_t)w.id, "queued", (json_int_t)1));
}

void api_me_notifications(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_notify_prefs p;

	if (s == NULL)
		return;
	if (notify_prefs_get(a->vault, s->user.id, &p) != CC_OK) {
		http_reply_error(r, 500, "internal", "the preferences could not be read");
		return;
	}
	http_reply_json(r, 200, notify_prefs_json(&p));
}

void api_me_notifications_set(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_notify_prefs p;
	json_t *body = NULL;
	char why[300];
	int rc;

	if (s == NULL || http_body_json(r, &body) != CC_OK)
		return;
	rc = notify_prefs_get(a->vault, s->user.id, &p);
	if (rc == CC_OK && notify_prefs_apply(&p, body, why, sizeof(why)) != CC_OK) {
		json_decref(body);
		http_reply_error(r, 400, "invalid", why);
		return;
	}
	json_decref(body);
	if (rc == CC_OK)
		rc = notify_prefs_set(a->vault, &p);
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the preferences could not be stored");
		return;
	}
	if (api_audit_access(r, s, "notifications.set", NULL, "ok") == CC_OK)
		http_reply_json(r, 200, notify_prefs_json(&p));
}

/* An endpoint disabled after persistent failure, enabled again (its
 * receiver was mended): deliveries resume. */
void api_webhooks_enable(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_webhook w;

	if (s == NULL || find_webhook(r, s, &w) != CC_OK)
		return;
	if (st->ops->notify->webhook_disable(st, w.id, 0) != CC_OK) {
		http_reply_error(r, 500, "internal", "the endpoint could not be enabled");
		return;
	}
	if (api_audit_access(r, s, "webhook.enable", NULL, "ok") == CC_OK)
		http_reply_json(r, 200, json_pack("{s:I, s:b}", "id", (json_int_t)w.id, "enabled", 1));
}
