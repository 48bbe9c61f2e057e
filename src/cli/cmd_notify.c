/*
 * cmd_notify.c - `webhook add|list|remove|rotate|enable|deliveries` and
 * `notify test`: an organisation's webhook endpoints, their delivery log,
 * and a test notification (the daemon delivers; docs/OPERATIONS.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/err.h"
#include "crypto/aead.h"
#include "fleet/inventory.h"
#include "access/users.h"
#include "notify/outbox.h"
#include "notify/prefs.h"
#include "notify/webhook.h"

static const char *const state_names[] = { "pending", "delivered", "failed", "gone" };

static const char *state_name(int state)
{
	return state >= 0 && state <= 3 ? state_names[state] : "?";
}

static int find_org(struct cli_args *a, int64_t *org_id, char *name, size_t cap)
{
	struct store_org org;
	const char *want = cli_get(a, "org");
	int rc = inventory_org_find(a->vault, want, &org);

	if (rc != CC_OK) {
		fprintf(stderr, "coffeecloud: no organisation %s\n", want);
		return rc;
	}
	*org_id = org.id;
	if (name != NULL)
		snprintf(name, cap, "%s", org.name);
	return CC_OK;
}

static int parse_id(const char *text, int64_t *id)
{
	char *end = NULL;
	long long v = strtoll(text, &end, 10);

	if (end == text || *end != '\0' || v <= 0) {
		fprintf(stderr, "coffeecloud: expected a webhook id (a positive number)\n");
		return CC_ERR_INVALID;
	}
	*id = v;
	return CC_OK;
}

static int print_secret(struct cli_args *a, int64_t id, const char *url, char *secret, const char *what)
{
	int rc;

	if (a->json)
		rc = cli_print_json(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "url", url, "secret", secret));
	else {
		printf("webhook %lld %s: %s\nsecret: %s\n(shown once: give it to the receiver, which verifies the "
		       "webhook-signature header with it)\n", (long long)id, url, what, secret);
		rc = CC_OK;
	}
	crypto_wipe(secret, WEBHOOK_SECRET_TEXT_MAX);
	return rc;
}

static int run_add(struct cli_args *a)
{
	char secret[WEBHOOK_SECRET_TEXT_MAX], why[200];
	const char *url = cli_get(a, "url");
	int allow_private = cli_flag(a, "allow-private");
	int64_t org_id = 0, id = 0;
	int rc = find_org(a, &org_id, NULL, 0);

	if (rc != CC_OK)
		return rc;
	rc = webhook_url_check(url, allow_private, 1, why, sizeof(why));
	if (rc != CC_OK) {
		fprintf(stderr, "coffeecloud: refused: %s\n", why);
		return rc;
	}
	rc = webhook_create(a->vault, org_id, url, &id, secret);
	if (rc != CC_OK) {
		fprintf(stderr, "coffeecloud: the webhook could not be added: %s\n", cc_strerror(rc));
		return rc;
	}
	return print_secret(a, id, url, secret, "added");
}

static int run_rotate(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_webhook w;
	char secret[WEBHOOK_SECRET_TEXT_MAX];
	int64_t id = 0;
	int rc = parse_id(cli_get(a, "id"), &id);

	if (rc == CC_OK && (rc = s->ops->notify->webhook_get(s, id, &w)) != CC_OK)
		fprintf(stderr, "coffeecloud: no webhook %lld\n", (long long)id);
	if (rc == CC_OK && (rc = webhook_rotate(a->vault, id, secret)) != CC_OK)
		fprintf(stderr, "coffeecloud: the secret could not be rotated: %s\n", cc_strerror(rc));
	if (rc != CC_OK)
		return rc;
	return print_secret(a, id, w.url, secret, "new secret (the previous one stays valid for 24 hours)");
}

static int run_remove(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	int64_t id = 0;
	int rc = parse_id(cli_get(a, "id"), &id);

	if (rc == CC_OK) {
		rc = s->ops->begin(s);
		if (rc == CC_OK)
			rc = s->ops->notify->webhook_remove(s, id, clock_now_ms());
		rc = rc == CC_OK ? s->ops->commit(s) : (s->ops->rollback(s), rc);
		if (rc == CC_ERR_NOTFOUND)
			fprintf(stderr, "coffeecloud: no webhook %lld\n", (long long)id);
	}
	if (rc == CC_OK && a->json)
		return cli_print_json(json_pack("{s:I, s:b}", "id", (json_int_t)id, "removed", 1));
	if (rc == CC_OK)
		printf("webhook %lld removed (its undelivered notifications end as gone)\n", (long long)id);
	return rc;
}

static int run_enable(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	int64_t id = 0;
	int rc = parse_id(cli_get(a, "id"), &id);

	if (rc == CC_OK && (rc = s->ops->notify->webhook_disable(s, id, 0)) == CC_ERR_NOTFOUND)
		fprintf(stderr, "coffeecloud: no webhook %lld\n", (long long)id);
	if (rc == CC_OK && a->json)
		return cli_print_json(json_pack("{s:I, s:b}", "id", (json_int_t)id, "enabled", 1));
	if (rc == CC_OK)
		printf("webhook %lld enabled\n", (long long)id);
	return rc;
}

struct list_ctx {
	struct cli_args *a;
	json_t *rows;
	struct cli_table *t;
};

static int list_one(void *ctx, const struct store_webhook *w)
{
	struct list_ctx *l = ctx;
	struct store *s = vault_store(l->a->vault);
	struct store_org org;
	char created[32], disabled[32], rotated[32];

	if (s->ops->org_get(s, w->org_id, &org) != CC_OK)
		snprintf(org.name, sizeof(org.name), "%lld", (long long)w->org_id);
	cli_time(w->created_ms, created, sizeof(created));
	cli_time(w->disabled_ms, disabled, sizeof(disabled));
	cli_time(w->prev_until_ms, rotated, sizeof(rotated));
	if (l->rows != NULL)
		return json_array_append_new(
		           l->rows, json_pack("{s:I, s:s, s:s, s:s, s:b, s:s?, s:I, s:s?}", "id", (json_int_t)w->id,
		                              "org", org.name, "url", w->url, "created", created, "enabled",
		                              w->disabled_ms == 0, "disabled", w->disabled_ms ? disabled : NULL,
		                              "failures", (json_int_t)w->failures, "previous_secret_until",
		                              w->prev_until_ms > clock_now_ms() ? rotated : NULL)) == 0
		           ? 0
		           : CC_ERR_NOMEM;
	{
		char id[24], failures[24];

		snprintf(id, sizeof(id), "%lld", (long long)w->id);
		snprintf(failures, sizeof(failures), "%lld", (long long)w->failures);
		return cli_table_add(l->t, id, org.name, w->url, w->disabled_ms ? "disabled" : "enabled", failures,
		                     created);
	}
}

static int run_list(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct list_ctx l = { a, NULL, NULL };
	int64_t org_id = 0;
	int rc = cli_get(a, "org") ? find_org(a, &org_id, NULL, 0) : CC_OK;

	if (rc != CC_OK)
		return rc;
	if (a->json)
		l.rows = json_array();
	else
		{
		static const char *const head[] = { "ID", "ORG", "URL", "STATE", "FAILURES", "CREATED", NULL };

		l.t = cli_table_new(head);
	}
	if (l.rows == NULL && l.t == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->notify->webhook_list(s, org_id, list_one, &l);
	if (a->json)
		return rc == CC_OK ? cli_print_json(json_pack("{s:o}", "webhooks", l.rows)) : (json_decref(l.rows), rc);
	if (rc == CC_OK)
		return cli_table_print(l.t);
	cli_table_free(l.t);
	return rc;
}

struct deliveries_ctx {
	struct cli_args *a;
	json_t *rows, *attempts;
	struct cli_table *t;
	const struct store_notification *n;
};

static int attempt_one(void *ctx, const struct store_notify_attempt *at)
{
	struct deliveries_ctx *c = ctx;
	char when[32];

	cli_time(at->at_ms, when, sizeof(when));
	if (c->attempts != NULL)
		return json_array_append_new(c->attempts,
		                             json_pack("{s:I, s:s, s:I, s:I, s:s}", "attempt", (json_int_t)at->attempt,
		                                       "at", when, "status", (json_int_t)at->status, "duration_ms",
		                                       (json_int_t)at->duration_ms, "error", at->error)) == 0
		           ? 0
		           : CC_ERR_NOMEM;
	{
		char attempt[24], status[24], ms[24];

		snprintf(attempt, sizeof(attempt), "%lld", (long long)at->attempt);
		snprintf(status, sizeof(status), "%lld", (long long)at->status);
		snprintf(ms, sizeof(ms), "%lld", (long long)at->duration_ms);
		return cli_table_add(c->t, c->n->msg_id, c->n->kind, state_name(c->n->state), attempt, when, status, ms,
		                     at->error[0] ? at->error : "-");
	}
}

static int delivery_one(void *ctx, const struct store_notification *n)
{
	struct deliveries_ctx *c = ctx;
	struct store *s = vault_store(c->a->vault);
	char created[32], next[32];
	int rc;

	c->n = n;
	cli_time(n->created_ms, created, sizeof(created));
	cli_time(n->state == NOTIFY_PENDING ? n->next_ms : 0, next, sizeof(next));
	if (c->rows != NULL) {
		c->attempts = json_array();
		if (c->attempts == NULL)
			return CC_ERR_NOMEM;
	}
	rc = s->ops->notify->attempts_of(s, n->id, attempt_one, c);
	if (rc == CC_OK && c->rows != NULL)
		rc = json_array_append_new(c->rows, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s?, s:o}", "id",
		                                              n->msg_id, "kind", n->kind, "state", state_name(n->state),
		                                              "created", created, "attempts", (json_int_t)n->attempts,
		                                              "last_status", (json_int_t)n->last_status, "next_attempt",
		                                              n->state == NOTIFY_PENDING ? next : NULL, "log",
		                                              c->attempts)) == 0
		         ? CC_OK
		         : CC_ERR_NOMEM;
	else if (c->rows != NULL)
		json_decref(c->attempts);
	if (rc == CC_OK && c->t != NULL && n->attempts == 0)
		rc = cli_table_add(c->t, n->msg_id, n->kind, state_name(n->state), "0", "-", "-", "-", "-");
	return rc;
}

static int run_deliveries(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_webhook w;
	struct deliveries_ctx c = { a, NULL, NULL, NULL, NULL };
	int64_t id = 0, limit = 50;
	const char *lim = cli_get(a, "limit");
	int rc = parse_id(cli_get(a, "id"), &id);

	if (rc == CC_OK && lim != NULL && (parse_id(lim, &limit) != CC_OK || limit > 10000)) {
		fprintf(stderr, "coffeecloud: --limit: 1 to 10000\n");
		return CC_ERR_INVALID;
	}
	if (rc == CC_OK && (rc = s->ops->notify->webhook_get(s, id, &w)) != CC_OK)
		fprintf(stderr, "coffeecloud: no webhook %lld\n", (long long)id);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		c.rows = json_array();
	else
		{
		static const char *const head[] = { "WEBHOOK-ID", "KIND", "STATE", "ATTEMPT", "AT", "STATUS", "MS",
			                            "ERROR", NULL };

		c.t = cli_table_new(head);
	}
	if (c.rows == NULL && c.t == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->notify->outbox_of_webhook(s, id, (size_t)limit, delivery_one, &c);
	if (a->json)
		return rc == CC_OK ? cli_print_json(json_pack("{s:I, s:s, s:o}", "webhook", (json_int_t)id, "url", w.url,
		                                              "notifications", c.rows))
		                   : (json_decref(c.rows), rc);
	if (rc == CC_OK)
		return cli_table_print(c.t);
	cli_table_free(c.t);
	return rc;
}

static int run_test(struct cli_args *a)
{
	char name[CC_NAME_MAX + 1];
	const char *text = cli_get(a, "text");
	int64_t org_id = 0;
	size_t queued = 0;
	json_t *data;
	int rc = find_org(a, &org_id, name, sizeof(name));

	if (rc != CC_OK)
		return rc;
	if (text != NULL && strlen(text) > 200) {
		fprintf(stderr, "coffeecloud: --text: at most 200 characters\n");
		return CC_ERR_INVALID;
	}
	data = json_pack("{s:s, s:s}", "org", name, "text", text ? text : "a test notification from CoffeeCloud");
	rc = data ? notify_enqueue(a->vault, org_id, NOTIFY_KIND_TEST, data, &queued) : CC_ERR_NOMEM;
	json_decref(data);
	if (rc != CC_OK) {
		fprintf(stderr, "coffeecloud: the test notification could not be queued: %s\n", cc_strerror(rc));
		return rc;
	}
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:I}", "org", name, "queued", (json_int_t)queued));
	printf("test notification queued for %zu destination(s) of %s (the daemon delivers it)\n", queued, name);
	return CC_OK;
}

static json_t *csv_array(const char *csv)
{
	json_t *arr = json_array();
	const char *p = csv;

	while (arr != NULL && *p) {
		size_t n = strcspn(p, ",");

		if (n > 0)
			json_array_append_new(arr, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return arr;
}

int cli_run_user_notifications(struct cli_args *a)
{
	struct user_info *u = calloc(1, sizeof(*u));
	struct store_notify_prefs p;
	const char *login = cli_get(a, "login"), *email = cli_get(a, "email");
	json_t *changes = json_object(), *shown;
	char why[300], hash[512];
	int rc = u && changes ? users_find(a->vault, login, u, hash, sizeof(hash)) : CC_ERR_NOMEM;

	crypto_wipe(hash, sizeof(hash));
	if (rc == CC_ERR_NOTFOUND)
		fprintf(stderr, "coffeecloud: no account %s\n", login);
	if (rc == CC_OK)
		rc = notify_prefs_get(a->vault, u->id, &p);
	if (rc == CC_OK && email != NULL) {
		if (strcmp(email, "on") != 0 && strcmp(email, "off") != 0) {
			fprintf(stderr, "coffeecloud: --email: on or off\n");
			rc = CC_ERR_INVALID;
		} else {
			json_object_set_new(changes, "email", json_boolean(strcmp(email, "on") == 0));
		}
	}
	if (rc == CC_OK && cli_get(a, "kinds"))
		json_object_set_new(changes, "kinds", csv_array(cli_get(a, "kinds")));
	if (rc == CC_OK && cli_get(a, "sites"))
		json_object_set_new(changes, "sites", csv_array(cli_get(a, "sites")));
	if (rc == CC_OK && cli_get(a, "quiet"))
		json_object_set_new(changes, "quiet", json_string(cli_get(a, "quiet")));
	if (rc == CC_OK && cli_get(a, "tz"))
		json_object_set_new(changes, "tz", json_string(cli_get(a, "tz")));
	if (rc == CC_OK && cli_get(a, "lang"))
		json_object_set_new(changes, "language", json_string(cli_get(a, "lang")));
	if (rc == CC_OK && json_object_size(changes) > 0) {
		rc = notify_prefs_apply(&p, changes, why, sizeof(why));
		if (rc != CC_OK)
			fprintf(stderr, "coffeecloud: %s\n", why);
		else
			rc = notify_prefs_set(a->vault, &p);
	}
	json_decref(changes);
	if (rc == CC_OK) {
		shown = notify_prefs_json(&p);
		if (a->json) {
			json_object_set_new(shown, "login", json_string(u->login));
			rc = cli_print_json(shown);
		} else {
			printf("%s: e-mail %s; kinds: %s; sites: %s; quiet hours: %s (%s); language: %s\n", u->login,
			       p.email ? "on" : "off", p.kinds[0] ? p.kinds : "all", p.sites[0] ? p.sites : "all",
			       p.quiet[0] ? p.quiet : "none", p.tz, p.language);
			json_decref(shown);
		}
	}
	if (u != NULL)
		crypto_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

const struct cli_cmd cli_webhook_cmds[] = {
	{ "webhook", "add", "add an organisation's webhook endpoint (https); prints its signing secret once", NULL, 1,
	  { { "org", "O", "the organisation whose notifications it receives (and those of its customers)", 1 },
	    { "url", "URL", "https:// target; internal addresses are refused", 1 },
	    { "allow-private", NULL, "allow a loopback or private target (the daemon must allow it too: "
	                             "webhook_allow_private)", 0 }, CLI_END_OPTS },
	  run_add },
	{ "webhook", "list", "webhook endpoints, their state and consecutive failures", NULL, 1,
	  { { "org", "O", "only this organisation's", 0 }, CLI_END_OPTS }, run_list },
	{ "webhook", "remove", "remove an endpoint (its undelivered notifications end as gone)", "id", 1,
	  { { "id", "ID", "the webhook", 1 }, CLI_END_OPTS }, run_remove },
	{ "webhook", "rotate", "a new signing secret; the previous one stays valid for 24 hours", "id", 1,
	  { { "id", "ID", "the webhook", 1 }, CLI_END_OPTS }, run_rotate },
	{ "webhook", "enable", "enable an endpoint disabled after persistent failure", "id", 1,
	  { { "id", "ID", "the webhook", 1 }, CLI_END_OPTS }, run_enable },
	{ "webhook", "deliveries", "an endpoint's notifications, newest first, with every attempt", "id", 1,
	  { { "id", "ID", "the webhook", 1 }, { "limit", "N", "at most N notifications (default 50)", 0 },
	    CLI_END_OPTS },
	  run_deliveries },
	CLI_END_CMDS,
};

const struct cli_cmd cli_notify_cmds[] = {
	{ "notify", "test", "queue a test notification to every destination of an organisation", NULL, 1,
	  { { "org", "O", "the organisation", 1 }, { "text", "T", "the text it carries", 0 }, CLI_END_OPTS },
	  run_test },
	CLI_END_CMDS,
};
