/* retention.c - GET and POST /api/v1/retention: how long records are kept,
 * the installation's figures and the shorter terms agreed with customers
 * (fleet/retention_terms.h, docs/OPERATIONS.md "Retention"). Everyone sees
 * the installation's figures (the privacy policy states them); a customer's
 * terms are seen in its scope, and set by the platform's admins. */
#include "api/internal.h"

#include "common/err.h"
#include "fleet/inventory.h"
#include "fleet/retention_terms.h"

struct reader {
	struct store *st;
	const struct caller *s;
};

static int in_scope(void *ctx, int64_t org_id)
{
	struct reader *rd = ctx;

	/* Subcontractors have granted machines, never a customer's scope. */
	return !rd->s->role->granted_only && inventory_org_contains(rd->st, rd->s->user.org_id, org_id);
}

void api_retention(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *customer = http_query(r, "customer");
	struct reader rd = { vault_store(a->vault), s };
	struct store_org org = { 0 };
	json_t *doc = NULL;

	if (s == NULL)
		return;
	if (customer != NULL && api_find_customer(r, s, customer, &org) != CC_OK)
		return;
	if (retention_terms_json(a->vault, a->opts.retention_days, org.id, in_scope, &rd, &doc) != CC_OK) {
		http_reply_error(r, 500, "internal", "the retention terms could not be read");
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_retention_set(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const json_t *body = http_body(r), *days = json_object_get(body, "days");
	enum retention_kind kind;
	int rc;

	if (s == NULL)
		return;
	if (retention_kind_parse(api_field(r, "kind"), &kind) != CC_OK || !json_is_integer(days) ||
	    json_integer_value(days) < 0 || json_integer_value(days) > RETENTION_DAYS_MAX ||
	    api_field(r, "customer") == NULL) {
		if (api_audit_access(r, s, "retention.set", NULL, "denied") == CC_OK)
			http_reply_error(r, 400, "invalid", "send customer, kind (telemetry, rollups, events or reports) and "
			                                    "days (1 to 36500; 0 removes the customer's term)");
		return;
	}
	rc = retention_terms_set(a->vault, api_field(r, "customer"), kind, json_integer_value(days), s->actor);
	if (rc == CC_ERR_NOTFOUND) {
		if (api_audit_access(r, s, "retention.set", NULL, "denied") == CC_OK)
			http_reply_error(r, 404, "not_found", "no such customer");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the retention term could not be stored");
		return;
	}
	if (api_audit_access(r, s, "retention.set", NULL, "ok") == CC_OK)
		http_reply_json(r, 200, json_pack("{s:s, s:s, s:I}", "customer", api_field(r, "customer"), "kind",
		                                  retention_kind_name(kind), "days", (json_int_t)json_integer_value(days)));
}
