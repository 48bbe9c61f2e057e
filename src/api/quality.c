/* quality.c - the quality standards through the API (docs/QUALITY.md): rule
 * sets per model, uploaded by the manufacturer's engineers, every version
 * kept; GET /api/v1/compliance over the machines the caller sees whose
 * customer consented to the quality purpose. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "fleet/inventory.h"
#include "quality/compliance.h"
#include "quality/ruleset.h"

#define SPAN_MAX_DAYS 92

/* ---- rule sets ---- */

/* The manufacturer's engineers (and its administrators) write the standards. */
static int may_write_rules(struct api *a, const struct caller *s)
{
	struct store *st = vault_store(a->vault);
	struct store_org org;

	return (strcmp(s->role->name, "engineer") == 0 || strcmp(s->role->name, "admin") == 0) &&
	       st->ops->org_get(st, s->user.org_id, &org) == CC_OK && org.kind == ORG_MANUFACTURER;
}

void api_rulesets_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *model = http_query(r, "model");
	json_t *list = NULL;

	if (s == NULL)
		return;
	if (model != NULL && strcmp(model, "*") != 0 && !inventory_name_valid(model)) {
		http_reply_error(r, 400, "invalid", "model: a machine model, or *");
		return;
	}
	if (compliance_rules_list_json(vault_store(a->vault), model, &list) != CC_OK) {
		http_reply_error(r, 500, "internal", "the rule sets could not be read");
		return;
	}
	if (api_audit_access(r, s, "quality.rules.list", NULL, "ok") != CC_OK) {
		json_decref(list);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "rulesets", list));
}

void api_rulesets_show(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *model = http_param(r, "model"), *version = http_query(r, "version");
	int64_t v = 0;
	json_t *doc = NULL;
	int rc;

	if (s == NULL)
		return;
	if (model == NULL || (strcmp(model, "*") != 0 && !inventory_name_valid(model)) ||
	    api_parse_ms(version, 0, &v) != CC_OK || v < 0) {
		http_reply_error(r, 400, "invalid", "model: a machine model, or *; version: a version number (0: shipped)");
		return;
	}
	rc = compliance_rules_show_json(vault_store(a->vault), model, version != NULL, v, &doc);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", "no such rule set version");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the rule sets could not be read");
		return;
	}
	if (api_audit_access(r, s, "quality.rules.show", NULL, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_rulesets_upload(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_ruleset row;
	char why[QUALITY_WHY_MAX];
	char *text;
	int rc;

	if (s == NULL)
		return;
	if (!may_write_rules(a, s)) {
		if (api_audit_access(r, s, "quality.rules.upload", NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "the manufacturer's engineers write the quality standards");
		return;
	}
	text = json_dumps(http_body(r), JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL) {
		http_reply_error(r, 500, "internal", "the rule set could not be read");
		return;
	}
	rc = compliance_rules_upload(vault_store(a->vault), text, strlen(text), s->actor, clock_now_ms(), why,
	                             sizeof(why), &row);
	free(text);
	if (rc == CC_ERR_INVALID) {
		if (api_audit_access(r, s, "quality.rules.upload", NULL, "error") == CC_OK)
			http_reply_error(r, 400, "invalid", why);
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the rule set could not be stored");
		return;
	}
	if (api_audit_access(r, s, "quality.rules.upload", NULL, "ok") == CC_OK)
		http_reply_json(r, 201, json_pack("{s:s, s:I, s:I}", "model", row.model, "version", (json_int_t)row.version,
		                                  "created_ms", (json_int_t)row.created_ms));
}

/* ---- compliance ---- */

void api_compliance(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct api_report_scope sc = { 0 };
	int64_t now = clock_now_ms(), from, to;
	json_t *doc = NULL;
	int rc;

	if (s == NULL)
		return;
	if (api_parse_ms(http_query(r, "to"), now, &to) != CC_OK ||
	    api_parse_ms(http_query(r, "from"), (to < now ? to : now) - 7 * COMPLIANCE_DAY_MS, &from) != CC_OK ||
	    from < 0 || from >= to || from >= now || to - from > SPAN_MAX_DAYS * COMPLIANCE_DAY_MS) {
		http_reply_error(r, 400, "invalid", "from, to: epoch ms, from before to and before now, at most 92 days "
		                                    "apart (default the last 7 days)");
		return;
	}
	if (api_report_scope(r, s, "org", &sc) != CC_OK)
		goto out;
	rc = compliance_report(a->vault, sc.machines, sc.n, from, to, now, (s->role->classes & CLASS_TECHNICAL) != 0,
	                       (s->role->classes & CLASS_USAGE) != 0, &doc);
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the compliance could not be computed");
		goto out;
	}
	if (api_audit_access(r, s, "quality.compliance", NULL, "ok") != CC_OK)
		goto out;
	json_object_set_new(doc, "excluded_without_consent", json_integer(sc.excluded));
	http_reply_json(r, 200, doc);
	doc = NULL;
out:
	json_decref(doc);
	api_report_scope_free(&sc);
}
