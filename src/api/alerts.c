/* alerts.c - /api/v1/alerts and /api/v1/alert-rules (alerts/alerts.h): the
 * alerts of the machines in the caller's scope, people's actions on them,
 * and each organisation's rule settings (admins). */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "alerts/alerts.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "ingest/privacy.h"

#define ALERTS_PAGE_MAX 500
#define SCOPE_CACHE 32

static const char *const level_names[ALERT_LEVELS] = { "customer", "distributor", "manufacturer" };

struct alert_scope {
	struct api *a;
	const struct caller *s;
	const char *purpose;
	struct store_machine m; /* the last machine looked up */
	int have, verdict;
	struct {
		int64_t customer_id;
		int verdict;
	} cache[SCOPE_CACHE];
	size_t cached;
};

/* Does the caller see the alerts of this machine? 1 yes, 0 out of scope,
 * -1 in scope but its customer has not consented to the purpose. Judged
 * once per customer outside grants. */
static int sees_machine(struct alert_scope *sc, int64_t machine_id)
{
	struct store *st = vault_store(sc->a->vault);
	size_t i;

	if (sc->have && sc->m.id == machine_id)
		return sc->verdict;
	sc->have = st->ops->machine_get(st, machine_id, &sc->m) == CC_OK;
	if (!sc->have)
		return 0;
	if (!sc->s->role->granted_only)
		for (i = 0; i < sc->cached; i++)
			if (sc->cache[i].customer_id == sc->m.customer_id)
				return sc->verdict = sc->cache[i].verdict;
	sc->verdict = !api_machine_visible(sc->a, sc->s, &sc->m, sc->purpose)          ? 0
	              : policy_allows(sc->a->vault, sc->m.customer_id, sc->purpose) ? 1
	                                                                              : -1;
	if (!sc->s->role->granted_only && sc->cached < SCOPE_CACHE) {
		sc->cache[sc->cached].customer_id = sc->m.customer_id;
		sc->cache[sc->cached++].verdict = sc->verdict;
	}
	return sc->verdict;
}

/* An alert as the caller may read it: the cause's detail (an error code, a
 * consumable) is of the rule's data class; without it, the rule alone. */
static json_t *alert_json(const struct caller *s, const struct store_alert *al, const char *serial)
{
	const struct alert_rule *rule = alert_rule_find(al->rule);
	json_t *doc = json_object();
	char iso[40];
	int detail = rule != NULL && api_role_sees(s, rule->data_class);

	json_object_set_new(doc, "id", json_integer(al->id));
	json_object_set_new(doc, "serial", json_string(serial));
	json_object_set_new(doc, "rule", json_string(al->rule));
	json_object_set_new(doc, "cause", json_string(detail ? al->cause : al->rule));
	json_object_set_new(doc, "severity", json_string(al->severity));
	json_object_set_new(doc, "state", json_string(al->state));
	json_object_set_new(doc, "opened", json_string(api_iso_time(al->opened_ms, iso, sizeof(iso))));
	json_object_set_new(doc, "opened_ms", json_integer(al->opened_ms));
	if (al->acknowledged_ms != 0) {
		json_object_set_new(doc, "acknowledged", json_string(api_iso_time(al->acknowledged_ms, iso, sizeof(iso))));
		json_object_set_new(doc, "acknowledged_by", json_string(al->acknowledged_by));
	}
	if (al->resolved_ms != 0) {
		json_object_set_new(doc, "resolved", json_string(api_iso_time(al->resolved_ms, iso, sizeof(iso))));
		json_object_set_new(doc, "resolved_by", json_string(al->resolved_by));
	}
	json_object_set_new(doc, "level", json_integer(al->level));
	json_object_set_new(doc, "level_name",
	                    json_string(al->level >= 0 && al->level < ALERT_LEVELS ? level_names[al->level] : "unknown"));
	return doc;
}

struct alert_lister {
	struct alert_scope *sc;
	const char *site;
	json_t *list;
	size_t limit;
	int64_t last_id;
	int more;
};

/* The ticket opened from the alert, if any (fleet/tickets.h). */
static void add_ticket(struct store *st, const struct store_alert *al, json_t *doc)
{
	struct store_ticket *t = calloc(1, sizeof(*t));

	if (t != NULL && st->ops->tickets->find_by_alert(st, al->id, t) == CC_OK)
		json_object_set_new(doc, "ticket", json_integer(t->id));
	free(t);
}

static int list_one(void *ctx, const struct store_alert *al)
{
	struct alert_lister *l = ctx;
	struct store *st = vault_store(l->sc->a->vault);

	if (sees_machine(l->sc, al->machine_id) != 1)
		return 0;
	if (l->site != NULL) {
		struct store_site site;

		if (l->sc->m.site_id == 0 || st->ops->site_get(st, l->sc->m.site_id, &site) != CC_OK ||
		    strcmp(site.name, l->site) != 0)
			return 0;
	}
	if (json_array_size(l->list) == l->limit) {
		l->more = 1;
		return 1;
	}
	{
		json_t *doc = alert_json(l->sc->s, al, l->sc->m.serial);

		add_ticket(st, al, doc);
		json_array_append_new(l->list, doc);
	}
	l->last_id = al->id;
	return 0;
}

static int one_of(const char *v, const char *const *allowed)
{
	for (; *allowed != NULL; allowed++)
		if (strcmp(v, *allowed) == 0)
			return 1;
	return 0;
}

void api_alerts_list(struct http_req *r)
{
	static const char *const states[] = { "open", "acknowledged", "resolved", "unresolved", NULL };
	static const char *const severities[] = { "info", "warning", "critical", NULL };
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store *st = vault_store(a->vault);
	struct alert_scope sc;
	struct alert_lister l;
	struct store_alert_filter f;
	struct api_page pg;
	const char *state = http_query(r, "state"), *severity = http_query(r, "severity");
	const char *rule = http_query(r, "rule"), *serial = http_query(r, "serial");
	const char *customer = http_query(r, "customer");
	json_t *doc;
	int rc;

	if (s == NULL || api_page_params(r, 50, ALERTS_PAGE_MAX, &pg) != CC_OK)
		return;
	memset(&sc, 0, sizeof(sc));
	sc.a = a;
	sc.s = s;
	sc.purpose = http_route(r)->purpose;
	memset(&f, 0, sizeof(f));
	memset(&l, 0, sizeof(l));
	l.site = http_query(r, "site");
	if ((state != NULL && !one_of(state, states)) || (severity != NULL && !one_of(severity, severities)) ||
	    (rule != NULL && alert_rule_find(rule) == NULL) || (l.site != NULL && !inventory_name_valid(l.site))) {
		http_reply_error(r, 400, "invalid",
		                 "state: open, acknowledged, resolved or unresolved; severity: info, warning or critical; "
		                 "rule: a rule of GET /api/v1/alert-rules; site: a site's name");
		return;
	}
	f.unresolved = state != NULL && strcmp(state, "unresolved") == 0;
	f.state = state != NULL && !f.unresolved ? state : NULL;
	f.severity = severity;
	f.rule = rule;
	f.before_id = pg.has_cursor ? api_page_after_int(&pg) : 0;
	if (serial != NULL) {
		struct store_machine m;

		int v = st->ops->machine_find(st, serial, &m) == CC_OK ? sees_machine(&sc, m.id) : 0;

		if (v != 1) {
			if (v < 0)
				http_reply_error(r, 403, "consent_required",
				                 "the machine's customer has not consented to this purpose in the current policy");
			else
				http_reply_error(r, 404, "not_found", "no such machine");
			return;
		}
		f.machine_id = m.id;
	}
	if (customer != NULL) {
		struct store_org org;

		if (api_find_customer(r, s, customer, &org) != CC_OK)
			return;
		f.customer_id = org.id;
	}
	l.sc = &sc;
	l.list = json_array();
	l.limit = pg.limit;
	rc = st->ops->alert_list(st, &f, list_one, &l);
	if (rc < 0) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the alerts could not be read");
		return;
	}
	if (api_audit_access(r, s, "alert.list", f.machine_id ? &sc.m : NULL, "ok") != CC_OK) {
		json_decref(l.list);
		return;
	}
	doc = json_object();
	json_object_set_new(doc, "alerts", l.list);
	if (l.more)
		api_page_next_int(doc, l.last_id);
	http_reply_json(r, 200, doc);
}

static int path_alert(struct http_req *r, struct alert_scope *sc, struct store_alert *al)
{
	struct store *st = vault_store(sc->a->vault);
	const char *text = http_param(r, "id");
	char *end;
	long long id = text != NULL ? strtoll(text, &end, 10) : 0;
	int v = text != NULL && end != text && *end == '\0' && id > 0 && st->ops->alert_get(st, id, al) == CC_OK
	        ? sees_machine(sc, al->machine_id) : 0;

	if (v < 0) {
		http_reply_error(r, 403, "consent_required",
		                 "the machine's customer has not consented to this purpose in the current policy");
		return CC_ERR_NOTFOUND;
	}
	if (v == 0) {
		http_reply_error(r, 404, "not_found", "no such alert");
		return CC_ERR_NOTFOUND;
	}
	return CC_OK;
}

struct history {
	struct api *a;
	const struct store_alert *al;
	int64_t customer_id;
	json_t *list;
};

static int history_one(void *ctx, const struct store_alert_event *e)
{
	struct history *h = ctx;
	json_t *item = json_object();
	char iso[40];

	json_object_set_new(item, "at", json_string(api_iso_time(e->at_ms, iso, sizeof(iso))));
	json_object_set_new(item, "at_ms", json_integer(e->at_ms));
	json_object_set_new(item, "who", json_string(e->who));
	json_object_set_new(item, "what", json_string(e->what));
	if (e->detail[0] != '\0')
		json_object_set_new(item, "detail", json_string(e->detail));
	if (e->note_len > 0) {
		char *text = NULL;

		/* A comment whose customer's key is gone is gone with it. */
		if (alerts_comment_open(h->a->vault, h->al, h->customer_id, e, &text) == CC_OK)
			json_object_set_new(item, "text", json_string(text));
		free(text);
	}
	json_array_append_new(h->list, item);
	return 0;
}

static json_t *alert_with_history(struct api *a, const struct caller *s, const struct store_alert *al,
                                  const struct store_machine *m)
{
	struct store *st = vault_store(a->vault);
	struct history h = { a, al, m->customer_id, json_array() };
	json_t *doc = alert_json(s, al, m->serial);

	if (st->ops->alert_events(st, al->id, history_one, &h) < 0) {
		json_decref(h.list);
		json_decref(doc);
		return NULL;
	}
	json_object_set_new(doc, "history", h.list);
	add_ticket(st, al, doc);
	return doc;
}

void api_alerts_get(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct alert_scope sc;
	struct store_alert al;
	json_t *doc;

	if (s == NULL)
		return;
	memset(&sc, 0, sizeof(sc));
	sc.a = a, sc.s = s, sc.purpose = http_route(r)->purpose;
	if (path_alert(r, &sc, &al) != CC_OK)
		return;
	doc = alert_with_history(a, s, &al, &sc.m);
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the alert could not be read");
		return;
	}
	if (api_audit_access(r, s, "alert.get", &sc.m, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}

static void act(struct http_req *r, enum alert_action action, const char *audit_action)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store *st = vault_store(a->vault);
	struct alert_scope sc;
	struct store_alert al;
	json_t *doc;
	int rc, privacy = PRIVACY_NONE;

	if (s == NULL)
		return;
	memset(&sc, 0, sizeof(sc));
	sc.a = a, sc.s = s, sc.purpose = http_route(r)->purpose;
	if (path_alert(r, &sc, &al) != CC_OK)
		return;
	rc = alerts_act(a->vault, al.id, action, s->actor, action == ALERT_COMMENT ? api_field(r, "text") : NULL,
	                &privacy);
	if (rc != CC_OK) {
		int status = rc == CC_ERR_STATE ? 409 : rc == CC_ERR_INVALID ? 400 : rc == CC_ERR_NOTFOUND ? 404 : 500;
		char msg[160];

		if (privacy != PRIVACY_NONE)
			snprintf(msg, sizeof(msg), "the comment looks like personal data (%s); comments are kept for the "
			         "fleet, not about people", privacy_reason_name((enum privacy_reason)privacy));
		else if (rc == CC_ERR_INVALID)
			snprintf(msg, sizeof(msg), "send text: 1 to %d characters", ALERT_COMMENT_MAX);
		else if (rc == CC_ERR_STATE)
			snprintf(msg, sizeof(msg), "the alert is %s", al.state);
		else
			snprintf(msg, sizeof(msg), "the alert could not be changed");
		if (api_audit_access(r, s, audit_action, &sc.m, status == 500 ? "error" : "denied") == CC_OK)
			http_reply_error(r, status, status == 409 ? "state" : status == 400 ? "invalid" : "internal", msg);
		return;
	}
	if (st->ops->alert_get(st, al.id, &al) != CC_OK || (doc = alert_with_history(a, s, &al, &sc.m)) == NULL) {
		http_reply_error(r, 500, "internal", "the alert could not be read");
		return;
	}
	if (api_audit_access(r, s, audit_action, &sc.m, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_alerts_acknowledge(struct http_req *r) { act(r, ALERT_ACKNOWLEDGE, "alert.acknowledge"); }
void api_alerts_resolve(struct http_req *r) { act(r, ALERT_RESOLVE, "alert.resolve"); }
void api_alerts_comment(struct http_req *r) { act(r, ALERT_COMMENT, "alert.comment"); }

/* ---- rules ---- */

/* ?org= or the body's org: an organisation of the caller's subtree, by
 * default its own. 404 otherwise, as for one that does not exist. */
static int rules_org(struct http_req *r, const struct caller *s, const char *name, struct store_org *org)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	int rc = name == NULL ? st->ops->org_get(st, s->user.org_id, org)
	         : !inventory_name_valid(name) ? CC_ERR_NOTFOUND : st->ops->org_find(st, name, org);

	if (rc != CC_OK || !inventory_org_contains(st, s->user.org_id, org->id)) {
		http_reply_error(r, 404, "not_found", "no such organisation");
		return CC_ERR_NOTFOUND;
	}
	return CC_OK;
}

static json_t *rules_json(struct store *st, const struct store_org *org)
{
	const struct alert_rule *rules;
	size_t n, i;
	json_t *list = json_array();

	rules = alert_rules(&n);
	for (i = 0; i < n; i++) {
		struct alert_rule_config c;
		json_t *item, *params, *bounds;
		int k;

		if (alerts_rule_config(st, org->id, &rules[i], &c) != CC_OK) {
			json_decref(list);
			return NULL;
		}
		item = json_object();
		params = json_object();
		bounds = json_object();
		json_object_set_new(item, "rule", json_string(rules[i].id));
		json_object_set_new(item, "enabled", json_boolean(c.enabled));
		json_object_set_new(item, "severity", json_string(rules[i].severity));
		json_object_set_new(item, "data_class", json_string(rules[i].data_class));
		for (k = 0; k < ALERT_PARAMS_MAX && rules[i].params[k].name != NULL; k++) {
			json_object_set_new(params, rules[i].params[k].name, json_integer(c.p[k]));
			json_object_set_new(bounds, rules[i].params[k].name,
			                    json_pack("[II]", (json_int_t)rules[i].params[k].min,
			                              (json_int_t)rules[i].params[k].max));
		}
		json_object_set_new(params, ALERT_ESCALATE_PARAM, json_integer(c.escalate_s));
		json_object_set_new(bounds, ALERT_ESCALATE_PARAM, json_pack("[ii]", 0, 30 * 86400));
		json_object_set_new(item, "params", params);
		json_object_set_new(item, "bounds", bounds);
		if (c.from_org != 0) {
			struct store_org from;

			json_object_set_new(item, "set_by",
			                    json_string(st->ops->org_get(st, c.from_org, &from) == CC_OK ? from.name : ""));
		} else {
			json_object_set_new(item, "set_by", json_string("default"));
		}
		json_array_append_new(list, item);
	}
	return json_pack("{s:s, s:o}", "org", org->name, "rules", list);
}

void api_alert_rules_get(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_org org;
	json_t *doc;

	if (s == NULL || rules_org(r, s, http_query(r, "org"), &org) != CC_OK)
		return;
	doc = rules_json(vault_store(a->vault), &org);
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the rules could not be read");
		return;
	}
	if (api_audit_access(r, s, "alert-rule.list", NULL, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_alert_rules_put(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store *st = vault_store(a->vault);
	const json_t *body = http_body(r), *enabled = json_object_get(body, "enabled");
	const json_t *params = json_object_get(body, "params");
	const char *rule = api_field(r, "rule");
	struct store_org org;
	struct alert_rule_config now;
	char why[128] = "", *text = NULL;
	json_t *doc;
	int rc;

	if (s == NULL || rules_org(r, s, api_field(r, "org"), &org) != CC_OK)
		return;
	if (rule == NULL || alert_rule_find(rule) == NULL || (enabled != NULL && !json_is_boolean(enabled)) ||
	    (params != NULL && !json_is_object(params))) {
		http_reply_error(r, 400, "invalid", "send rule (of GET /api/v1/alert-rules), and enabled (true or false), "
		                                    "params (an object of the rule's parameters)");
		return;
	}
	/* What the body leaves out stays as it is in force. */
	rc = alerts_rule_config(st, org.id, alert_rule_find(rule), &now);
	if (rc == CC_OK) {
		json_t *merged = json_object();
		const struct alert_rule *ar = alert_rule_find(rule);
		int k;

		for (k = 0; k < ALERT_PARAMS_MAX && ar->params[k].name != NULL; k++)
			json_object_set_new(merged, ar->params[k].name, json_integer(now.p[k]));
		json_object_set_new(merged, ALERT_ESCALATE_PARAM, json_integer(now.escalate_s));
		if (params != NULL)
			json_object_update(merged, (json_t *)params);
		text = json_dumps(merged, JSON_COMPACT);
		json_decref(merged);
		rc = text == NULL ? CC_ERR_NOMEM
		     : alerts_rule_set(st, org.id, rule, enabled != NULL ? json_is_true(enabled) : now.enabled, text, why,
		                       sizeof(why));
		free(text);
	}
	if (rc != CC_OK) {
		if (api_audit_access(r, s, "alert-rule.set", NULL, rc == CC_ERR_INVALID ? "denied" : "error") == CC_OK)
			http_reply_error(r, rc == CC_ERR_INVALID ? 400 : 500, rc == CC_ERR_INVALID ? "invalid" : "internal",
			                 rc == CC_ERR_INVALID ? why : "the rule could not be set");
		return;
	}
	doc = rules_json(st, &org);
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the rules could not be read");
		return;
	}
	if (api_audit_access(r, s, "alert-rule.set", NULL, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}
