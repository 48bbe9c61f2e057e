/* quality.c - the quality standards through the API (docs/QUALITY.md): rule
 * sets per model, uploaded by the manufacturer's engineers, every version
 * kept; GET /api/v1/compliance over the machines the caller sees whose
 * customer consented to the quality purpose. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
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

struct customer_verdict {
	int64_t id;
	int counts; /* 1 in scope and consented, 2 in scope without consent, 0 out of scope */
	json_t *name;
};

struct scope {
	struct api *a;
	const struct caller *s;
	const char *purpose, *serial;
	struct customer_verdict *seen;
	size_t n, cap;
	struct compliance_target *machines;
	size_t nm, capm;
	int64_t excluded;
};

static int customer_counts(struct scope *sc, int64_t customer_id)
{
	struct store *st = vault_store(sc->a->vault);
	size_t i;

	for (i = 0; i < sc->n; i++)
		if (sc->seen[i].id == customer_id)
			return sc->seen[i].counts;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 16;
		struct customer_verdict *grown = realloc(sc->seen, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		sc->seen = grown;
		sc->cap = cap;
	}
	sc->seen[sc->n].id = customer_id;
	sc->seen[sc->n].name = NULL;
	sc->seen[sc->n].counts = inventory_org_contains(st, sc->s->user.org_id, customer_id)
	                                 ? (policy_allows(sc->a->vault, customer_id, sc->purpose) ? 1 : 2)
	                                 : 0;
	return sc->seen[sc->n++].counts;
}

static const char *customer_name(struct scope *sc, int64_t id);

static int pick(void *ctx, const struct store_machine_status *row)
{
	struct scope *sc = ctx;
	int v;

	if (sc->serial != NULL && strcmp(row->m.serial, sc->serial) != 0)
		return 0;
	if (sc->s->role->granted_only) {
		v = api_machine_visible(sc->a, sc->s, &row->m, sc->purpose) &&
		    policy_allows(sc->a->vault, row->m.customer_id, sc->purpose);
		if (v && customer_counts(sc, row->m.customer_id) < 0)
			return CC_ERR_NOMEM;
	} else {
		v = customer_counts(sc, row->m.customer_id);
		if (v < 0)
			return CC_ERR_NOMEM;
		if (v == 2)
			sc->excluded++;
		v = v == 1;
	}
	if (!v)
		return 0;
	if (sc->nm == sc->capm) {
		size_t cap = sc->capm ? 2 * sc->capm : 32;
		struct compliance_target *grown = realloc(sc->machines, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		sc->machines = grown;
		sc->capm = cap;
	}
	sc->machines[sc->nm].m = row->m;
	snprintf(sc->machines[sc->nm].site, sizeof(sc->machines[sc->nm].site), "%s", row->site);
	snprintf(sc->machines[sc->nm].customer, sizeof(sc->machines[sc->nm].customer), "%s",
	         customer_name(sc, row->m.customer_id));
	sc->nm++;
	return 0;
}

static const char *customer_name(struct scope *sc, int64_t id)
{
	struct store *st = vault_store(sc->a->vault);
	struct store_org org;
	size_t i;

	for (i = 0; i < sc->n; i++)
		if (sc->seen[i].id == id) {
			if (sc->seen[i].name == NULL)
				sc->seen[i].name = json_string(st->ops->org_get(st, id, &org) == CC_OK ? org.name : "?");
			return json_string_value(sc->seen[i].name);
		}
	return "?";
}

void api_compliance(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	const char *customer = http_query(r, "org"), *site = http_query(r, "site");
	struct store_machine_filter f;
	struct store_org org;
	struct scope sc;
	int64_t now = clock_now_ms(), from, to;
	json_t *doc = NULL;
	size_t i;
	int rc;

	if (s == NULL)
		return;
	memset(&f, 0, sizeof(f));
	memset(&sc, 0, sizeof(sc));
	if (api_parse_ms(http_query(r, "to"), now, &to) != CC_OK ||
	    api_parse_ms(http_query(r, "from"), (to < now ? to : now) - 7 * COMPLIANCE_DAY_MS, &from) != CC_OK ||
	    from < 0 || from >= to || from >= now || to - from > SPAN_MAX_DAYS * COMPLIANCE_DAY_MS) {
		http_reply_error(r, 400, "invalid", "from, to: epoch ms, from before to and before now, at most 92 days "
		                                    "apart (default the last 7 days)");
		return;
	}
	if (site != NULL && !inventory_name_valid(site)) {
		http_reply_error(r, 400, "invalid", "site: a site's name");
		return;
	}
	if (customer != NULL) {
		if (api_find_customer(r, s, customer, &org) != CC_OK)
			return;
		f.customer_id = org.id;
	}
	f.site = site;
	sc.a = a;
	sc.s = s;
	sc.purpose = http_route(r)->purpose;
	sc.serial = http_query(r, "machine");
	rc = st->ops->machine_status_list(st, &f, pick, &sc);
	if (rc == CC_OK && sc.serial != NULL && sc.nm == 0) {
		http_reply_error(r, 404, "not_found", "no such machine");
		goto out;
	}
	if (rc == CC_OK)
		rc = compliance_report(a->vault, sc.machines, sc.nm, from, to, now, (s->role->classes & CLASS_TECHNICAL) != 0,
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
	for (i = 0; i < sc.n; i++)
		json_decref(sc.seen[i].name);
	free(sc.seen);
	free(sc.machines);
}
