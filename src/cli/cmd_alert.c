/* cmd_alert.c - `alert list|show|ack|resolve|comment` and `alert-rule list|set`:
 * the CLI's twins of /api/v1/alerts and /api/v1/alert-rules (alerts/alerts.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "ingest/privacy.h"

#define MOD "cli"

static int parse_id(const char *text, int64_t *id)
{
	char *end;
	long long v = text != NULL ? strtoll(text, &end, 10) : 0;

	if (text == NULL || end == text || *end != '\0' || v <= 0) {
		log_error(MOD, "an alert id is a positive number");
		return CC_ERR_INVALID;
	}
	*id = v;
	return CC_OK;
}

static json_t *alert_doc(struct store *s, const struct store_alert *al)
{
	struct store_machine m;
	char t1[40], t2[40], t3[40];

	if (s->ops->machine_get(s, al->machine_id, &m) != CC_OK)
		snprintf(m.serial, sizeof(m.serial), "?");
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id", (json_int_t)al->id,
	                 "serial", m.serial, "rule", al->rule, "cause", al->cause, "severity", al->severity, "state",
	                 al->state, "opened", cli_time(al->opened_ms, t1, sizeof(t1)), "acknowledged",
	                 cli_time(al->acknowledged_ms, t2, sizeof(t2)), "acknowledged_by", al->acknowledged_by,
	                 "resolved", cli_time(al->resolved_ms, t3, sizeof(t3)), "resolved_by", al->resolved_by, "level",
	                 (json_int_t)al->level);
}

struct list_ctx {
	struct cli_args *a;
	json_t *rows;
	size_t limit;
};

static int list_row(void *arg, const struct store_alert *al)
{
	struct list_ctx *l = arg;
	struct store *s = vault_store(l->a->vault);
	json_t *doc;

	if (json_array_size(l->rows) >= l->limit)
		return 1;
	doc = alert_doc(s, al);
	if (doc == NULL)
		return CC_ERR_NOMEM;
	return json_array_append_new(l->rows, doc) == 0 ? 0 : CC_ERR_NOMEM;
}

static int run_alert_list(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_alert_filter f;
	struct list_ctx l = { a, json_array(), 1000 };
	const char *state = cli_get(a, "state"), *serial = cli_get(a, "serial"), *customer = cli_get(a, "customer");
	size_t i;
	int rc;

	memset(&f, 0, sizeof(f));
	if (l.rows == NULL)
		return CC_ERR_NOMEM;
	if (state != NULL && strcmp(state, "unresolved") == 0)
		f.unresolved = 1;
	else if (state != NULL && strcmp(state, "open") != 0 && strcmp(state, "acknowledged") != 0 &&
	         strcmp(state, "resolved") != 0) {
		log_error(MOD, "--state is open, acknowledged, resolved or unresolved");
		json_decref(l.rows);
		return CC_ERR_INVALID;
	} else {
		f.state = state;
	}
	f.severity = cli_get(a, "severity");
	f.rule = cli_get(a, "rule");
	if (cli_get(a, "limit") != NULL)
		l.limit = (size_t)strtoul(cli_get(a, "limit"), NULL, 10);
	if (serial != NULL) {
		struct store_machine m;

		if (s->ops->machine_find(s, serial, &m) != CC_OK) {
			log_error(MOD, "no such machine: %s", serial);
			json_decref(l.rows);
			return CC_ERR_NOTFOUND;
		}
		f.machine_id = m.id;
	}
	if (customer != NULL) {
		struct store_org o;

		if (s->ops->org_find(s, customer, &o) != CC_OK || o.kind != ORG_CUSTOMER) {
			log_error(MOD, "no such customer: %s", customer);
			json_decref(l.rows);
			return CC_ERR_NOTFOUND;
		}
		f.customer_id = o.id;
	}
	rc = s->ops->alert_list(s, &f, list_row, &l);
	if (rc < 0) {
		json_decref(l.rows);
		return rc;
	}
	if (a->json)
		return cli_print_json(json_pack("{s:o}", "alerts", l.rows));
	printf("%-6s %-16s %-32s %-9s %-13s %-25s %s\n", "ID", "SERIAL", "CAUSE", "SEVERITY", "STATE", "OPENED",
	       "LEVEL");
	for (i = 0; i < json_array_size(l.rows); i++) {
		json_t *r = json_array_get(l.rows, i);

		printf("%-6lld %-16s %-32s %-9s %-13s %-25s %lld\n", (long long)json_integer_value(json_object_get(r, "id")),
		       json_string_value(json_object_get(r, "serial")), json_string_value(json_object_get(r, "cause")),
		       json_string_value(json_object_get(r, "severity")), json_string_value(json_object_get(r, "state")),
		       json_string_value(json_object_get(r, "opened")),
		       (long long)json_integer_value(json_object_get(r, "level")));
	}
	json_decref(l.rows);
	return CC_OK;
}

struct history_ctx {
	struct vault *v;
	const struct store_alert *al;
	int64_t customer_id;
	json_t *list;
};

static int history_row(void *arg, const struct store_alert_event *e)
{
	struct history_ctx *h = arg;
	char at[40];
	json_t *item = json_pack("{s:s, s:s, s:s, s:s}", "at", cli_time(e->at_ms, at, sizeof(at)), "who", e->who, "what",
	                         e->what, "detail", e->detail);

	if (item == NULL)
		return CC_ERR_NOMEM;
	if (e->note_len > 0) {
		char *text = NULL;

		if (alerts_comment_open(h->v, h->al, h->customer_id, e, &text) == CC_OK)
			json_object_set_new(item, "text", json_string(text));
		free(text);
	}
	return json_array_append_new(h->list, item) == 0 ? 0 : CC_ERR_NOMEM;
}

static int print_alert(struct cli_args *a, int64_t id)
{
	struct store *s = vault_store(a->vault);
	struct store_alert al;
	struct store_machine m;
	struct history_ctx h;
	json_t *doc;
	size_t i;
	int rc = s->ops->alert_get(s, id, &al);

	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such alert: %lld", (long long)id);
	if (rc == CC_OK)
		rc = s->ops->machine_get(s, al.machine_id, &m);
	if (rc != CC_OK)
		return rc;
	doc = alert_doc(s, &al);
	h.v = a->vault, h.al = &al, h.customer_id = m.customer_id, h.list = json_array();
	rc = doc == NULL || h.list == NULL ? CC_ERR_NOMEM : s->ops->alert_events(s, al.id, history_row, &h);
	if (rc < 0 || doc == NULL) {
		json_decref(doc);
		json_decref(h.list);
		return rc < 0 ? rc : CC_ERR_NOMEM;
	}
	json_object_set_new(doc, "history", h.list);
	if (a->json)
		return cli_print_json(doc);
	printf("alert %lld: %s on %s, %s, %s since %s, level %lld\n", (long long)al.id, al.cause, m.serial, al.severity,
	       al.state, json_string_value(json_object_get(doc, "opened")), (long long)al.level);
	for (i = 0; i < json_array_size(h.list); i++) {
		json_t *e = json_array_get(h.list, i);

		printf("  %-25s %-13s %-24s %s%s\n", json_string_value(json_object_get(e, "at")),
		       json_string_value(json_object_get(e, "what")), json_string_value(json_object_get(e, "who")),
		       json_string_value(json_object_get(e, "detail")),
		       json_object_get(e, "text") ? json_string_value(json_object_get(e, "text")) : "");
	}
	json_decref(doc);
	return CC_OK;
}

static int run_alert_show(struct cli_args *a)
{
	int64_t id;
	int rc = parse_id(cli_get(a, "id"), &id);

	return rc == CC_OK ? print_alert(a, id) : rc;
}

static int act(struct cli_args *a, enum alert_action action)
{
	char actor[CC_NAME_MAX + 8];
	int64_t id;
	int privacy = PRIVACY_NONE, rc = parse_id(cli_get(a, "id"), &id);

	if (rc != CC_OK)
		return rc;
	cli_actor(actor, sizeof(actor));
	rc = alerts_act(a->vault, id, action, actor, cli_get(a, "text"), &privacy);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such alert: %lld", (long long)id);
	else if (rc == CC_ERR_STATE)
		log_error(MOD, "alert %lld is not %s", (long long)id, action == ALERT_ACKNOWLEDGE ? "open" : "unresolved");
	else if (rc == CC_ERR_INVALID && privacy != PRIVACY_NONE)
		log_error(MOD, "the comment looks like personal data (%s): not kept",
		          privacy_reason_name((enum privacy_reason)privacy));
	else if (rc == CC_ERR_INVALID)
		log_error(MOD, "--text: 1 to %d characters", ALERT_COMMENT_MAX);
	return rc == CC_OK ? print_alert(a, id) : rc;
}

static int run_alert_ack(struct cli_args *a) { return act(a, ALERT_ACKNOWLEDGE); }
static int run_alert_resolve(struct cli_args *a) { return act(a, ALERT_RESOLVE); }
static int run_alert_comment(struct cli_args *a) { return act(a, ALERT_COMMENT); }

/* ---- rules ---- */

static int find_org(struct cli_args *a, struct store_org *o)
{
	struct store *s = vault_store(a->vault);
	const char *name = cli_get(a, "org");
	int rc;

	if (name == NULL) {
		/* The root: the shipped defaults as the manufacturer sets them. */
		rc = s->ops->org_get(s, 1, o);
		while (rc == CC_OK && o->parent_id != 0)
			rc = s->ops->org_get(s, o->parent_id, o);
		return rc;
	}
	rc = s->ops->org_find(s, name, o);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such organisation: %s", name);
	return rc;
}

static int print_rules(struct cli_args *a, const struct store_org *o)
{
	struct store *s = vault_store(a->vault);
	const struct alert_rule *rules;
	json_t *list = json_array();
	size_t n, i;

	rules = alert_rules(&n);
	if (!a->json)
		printf("%-16s %-8s %-9s %-10s %-16s %s\n", "RULE", "ENABLED", "SEVERITY", "CLASS", "SET BY", "PARAMETERS");
	for (i = 0; i < n; i++) {
		struct alert_rule_config c;
		struct store_org from;
		json_t *params = json_object();
		char *text;
		int k, rc = alerts_rule_config(s, o->id, &rules[i], &c);

		if (rc != CC_OK) {
			json_decref(params);
			json_decref(list);
			return rc;
		}
		for (k = 0; k < ALERT_PARAMS_MAX && rules[i].params[k].name != NULL; k++)
			json_object_set_new(params, rules[i].params[k].name, json_integer(c.p[k]));
		json_object_set_new(params, ALERT_ESCALATE_PARAM, json_integer(c.escalate_s));
		if (c.from_org == 0 || s->ops->org_get(s, c.from_org, &from) != CC_OK)
			snprintf(from.name, sizeof(from.name), "default");
		if (!a->json) {
			text = json_dumps(params, JSON_COMPACT);
			printf("%-16s %-8s %-9s %-10s %-16s %s\n", rules[i].id, c.enabled ? "yes" : "no", rules[i].severity,
			       rules[i].data_class, from.name, text != NULL ? text : "");
			free(text);
		}
		json_array_append_new(list, json_pack("{s:s, s:b, s:s, s:s, s:s, s:o}", "rule", rules[i].id, "enabled",
		                                      c.enabled, "severity", rules[i].severity, "data_class",
		                                      rules[i].data_class, "set_by", from.name, "params", params));
	}
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:o}", "org", o->name, "rules", list));
	json_decref(list);
	return CC_OK;
}

static int run_rule_list(struct cli_args *a)
{
	struct store_org o;
	int rc = find_org(a, &o);

	return rc == CC_OK ? print_rules(a, &o) : rc;
}

static int run_rule_set(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	const struct alert_rule *r = alert_rule_find(cli_get(a, "rule"));
	struct alert_rule_config now;
	struct store_org o;
	json_t *merged, *given = NULL;
	char why[128] = "", *text;
	int k, enabled, rc = find_org(a, &o);

	if (rc != CC_OK)
		return rc;
	if (r == NULL) {
		log_error(MOD, "no such rule (see alert-rule list)");
		return CC_ERR_INVALID;
	}
	if (cli_flag(a, "enable") && cli_flag(a, "disable")) {
		log_error(MOD, "--enable or --disable, not both");
		return CC_ERR_INVALID;
	}
	if (cli_get(a, "params") != NULL) {
		given = json_loads(cli_get(a, "params"), JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(given)) {
			json_decref(given);
			log_error(MOD, "--params is a JSON object, e.g. '{\"offline_seconds\": 900}'");
			return CC_ERR_INVALID;
		}
	}
	rc = alerts_rule_config(s, o.id, r, &now);
	if (rc != CC_OK) {
		json_decref(given);
		return rc;
	}
	merged = json_object();
	for (k = 0; k < ALERT_PARAMS_MAX && r->params[k].name != NULL; k++)
		json_object_set_new(merged, r->params[k].name, json_integer(now.p[k]));
	json_object_set_new(merged, ALERT_ESCALATE_PARAM, json_integer(now.escalate_s));
	if (given != NULL)
		json_object_update(merged, given);
	json_decref(given);
	text = json_dumps(merged, JSON_COMPACT);
	json_decref(merged);
	if (text == NULL)
		return CC_ERR_NOMEM;
	enabled = cli_flag(a, "enable") ? 1 : cli_flag(a, "disable") ? 0 : now.enabled;
	rc = alerts_rule_set(s, o.id, r->id, enabled, text, why, sizeof(why));
	free(text);
	if (rc == CC_ERR_INVALID)
		log_error(MOD, "%s", why);
	return rc == CC_OK ? print_rules(a, &o) : rc;
}

const struct cli_cmd cli_alert_cmds[] = {
	{ "alert", "list", "alerts, newest first (docs/OPERATIONS.md \"Alerts\")", NULL, 1,
	  { { "state", "STATE", "open, acknowledged, resolved or unresolved", 0 },
	    { "severity", "SEV", "info, warning or critical", 0 },
	    { "rule", "RULE", "one rule's alerts", 0 },
	    { "serial", "S", "one machine's alerts", 0 },
	    { "customer", "ORG", "one customer's machines' alerts", 0 },
	    { "limit", "N", "at most N (default 1000)", 0 },
	    CLI_END_OPTS },
	  run_alert_list },
	{ "alert", "show", "one alert with its history: who did what when", "id", 1,
	  { { "id", "ID", "the alert", 1 }, CLI_END_OPTS }, run_alert_show },
	{ "alert", "ack", "acknowledge an open alert (it stops escalating)", "id", 1,
	  { { "id", "ID", "the alert", 1 }, CLI_END_OPTS }, run_alert_ack },
	{ "alert", "resolve", "resolve an alert by hand", "id", 1,
	  { { "id", "ID", "the alert", 1 }, CLI_END_OPTS }, run_alert_resolve },
	{ "alert", "comment", "comment on an alert (no personal data; sealed)", "id", 1,
	  { { "id", "ID", "the alert", 1 }, { "text", "TEXT", "the comment, at most 280 characters", 1 }, CLI_END_OPTS },
	  run_alert_comment },
	CLI_END_CMDS,
};

const struct cli_cmd cli_alert_rule_cmds[] = {
	{ "alert-rule", "list", "the alert rules in force for an organisation (inherited, or the defaults)", NULL, 1,
	  { { "org", "ORG", "the organisation (default: the manufacturer)", 0 }, CLI_END_OPTS }, run_rule_list },
	{ "alert-rule", "set", "set an organisation's own setting of a rule; its subtree inherits it", NULL, 1,
	  { { "org", "ORG", "the organisation (default: the manufacturer)", 0 },
	    { "rule", "RULE", "the rule (alert-rule list)", 1 },
	    { "enable", NULL, "turn the rule on", 0 },
	    { "disable", NULL, "turn the rule off", 0 },
	    { "params", "JSON", "parameters to change, e.g. '{\"offline_seconds\": 900}'", 0 },
	    CLI_END_OPTS },
	  run_rule_set },
	CLI_END_CMDS,
};
