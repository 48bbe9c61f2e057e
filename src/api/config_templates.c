/* config_templates.c - configuration templates and customers' limits through
 * the API (fleet/config_templates.h, docs/CONFIGURATION-REMOTE.md):
 * templates of organisations in the caller's subtree, for the roles of the
 * technical class; limits on a customer, set by the manufacturer's own;
 * a machine's effective configuration with where each value comes from.
 * Every read and change is audited; a refused document is quoted nowhere. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fleet/config_templates.h"
#include "fleet/inventory.h"
#include "ingest/privacy.h"

/* The organisation named, in the caller's subtree; else 404 as for none. */
static int find_org(struct http_req *r, const struct caller *s, const char *name, struct store_org *org)
{
	struct store *st = vault_store(((struct api *)http_app(r))->vault);

	if (name == NULL || s->role->granted_only || !inventory_name_valid(name) || st->ops->org_find(st, name, org) != CC_OK ||
	    !inventory_org_contains(st, s->user.org_id, org->id)) {
		http_reply_error(r, 404, "not_found", "no such organisation");
		return CC_ERR_NOTFOUND;
	}
	return CC_OK;
}

int api_caller_is_customer(struct http_req *r, const struct caller *s)
{
	struct store *st = vault_store(((struct api *)http_app(r))->vault);
	struct store_org org;

	return st->ops->org_get(st, s->user.org_id, &org) == CC_OK && org.kind == ORG_CUSTOMER;
}

int api_config_within_limits(struct http_req *r, const struct caller *s, int64_t customer_id, const char *model,
                             const json_t *config, const char *action, const struct store_machine *m)
{
	struct api *a = http_app(r);
	struct config_doc *doc;
	char why[CONFIG_WHY_MAX + 64], msg[CONFIG_WHY_MAX + 128];
	int rc = CC_OK;

	if (!api_caller_is_customer(r, s))
		return CC_OK;
	/* Judged first: a document the schema refuses is refused as such, by the caller. */
	if ((doc = malloc(sizeof(*doc))) == NULL)
		return CC_OK;
	if (config_doc_check(model, config, doc, NULL, why, sizeof(why)) == CC_OK)
		rc = config_limits_check(a->vault, customer_id, model, config, why, sizeof(why));
	free(doc);
	if (rc != CC_ERR_PERM)
		return CC_OK;
	snprintf(msg, sizeof(msg), "%s; nothing was stored", why);
	if (api_audit_access(r, s, action, m, "denied") == CC_OK)
		http_reply_error(r, 403, "forbidden", msg);
	return rc;
}

void api_config_templates_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_org org;
	json_t *doc;

	if (s == NULL || find_org(r, s, http_query(r, "org"), &org) != CC_OK)
		return;
	doc = config_templates_json(a->vault, &org);
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the templates could not be read");
		return;
	}
	if (api_audit_access(r, s, "config.templates", NULL, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_config_template_set(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct machine_config_refusal ref;
	struct store_org org;
	const json_t *config = json_object_get(http_body(r), "config");
	const char *model = api_field(r, "model");
	char msg[CONFIG_WHY_MAX + 96];
	json_t *doc;
	int rc;

	if (s == NULL || find_org(r, s, api_field(r, "org"), &org) != CC_OK)
		return;
	if (!json_is_object(config) || model == NULL) {
		if (api_audit_access(r, s, "config.template.set", NULL, "denied") == CC_OK)
			http_reply_error(r, 400, "invalid", "send org, model, config (recipes, settings) and reason");
		return;
	}
	if (org.kind == ORG_CUSTOMER &&
	    api_config_within_limits(r, s, org.id, model, config, "config.template.set", NULL) != CC_OK)
		return;
	rc = config_template_set(a->vault, &org, model, config, api_field(r, "reason"), s->actor, &ref);
	if (rc == CC_ERR_INVALID) {
		if (ref.privacy != PRIVACY_NONE && strcmp(ref.field, "config") == 0)
			snprintf(msg, sizeof(msg), "%s: configuration carries no prices, currencies, payment or personal "
			         "data; nothing was stored", ref.why);
		else
			snprintf(msg, sizeof(msg), "%s; nothing was stored", ref.why);
		if (api_audit_access(r, s, "config.template.set", NULL, "denied") == CC_OK)
			http_reply_error(r, 400, "invalid", msg);
		return;
	}
	if (api_audit_access(r, s, "config.template.set", NULL, rc == CC_OK ? "ok" : "error") != CC_OK)
		return;
	doc = rc == CC_OK ? config_templates_json(a->vault, &org) : NULL;
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the template could not be stored");
		return;
	}
	http_reply_json(r, 201, doc);
}

void api_config_limits_set(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store *st = vault_store(a->vault);
	struct store_org cust, own;
	const char *model = api_field(r, "model");
	char why[200];
	json_t *doc;
	int rc;

	if (s == NULL || api_find_customer(r, s, api_field(r, "customer"), &cust) != CC_OK)
		return;
	if (st->ops->org_get(st, s->user.org_id, &own) != CC_OK || own.kind != ORG_MANUFACTURER) {
		if (api_audit_access(r, s, "config.limits.set", NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "the manufacturer sets what customers may change");
		return;
	}
	rc = config_limits_set(a->vault, &cust, model, json_object_get(http_body(r), "limits"), s->actor, why,
	                       sizeof(why));
	if (rc == CC_ERR_INVALID) {
		if (api_audit_access(r, s, "config.limits.set", NULL, "denied") == CC_OK)
			http_reply_error(r, 400, "invalid", why);
		return;
	}
	if (api_audit_access(r, s, "config.limits.set", NULL, rc == CC_OK ? "ok" : "error") != CC_OK)
		return;
	doc = rc == CC_OK ? config_templates_json(a->vault, &cust) : NULL;
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the limits could not be stored");
		return;
	}
	http_reply_json(r, 201, doc);
}

void api_machine_config_effective(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	json_t *doc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	doc = config_effective_json(a->vault, &m);
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the configuration could not be read");
		return;
	}
	if (api_audit_access(r, s, "config.effective", &m, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}
