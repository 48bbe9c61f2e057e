/* policy.c - the public privacy policy, its versions, and customers' consent. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "common/err.h"
#include "common/limits.h"
#include "fleet/inventory.h"

static json_t *policy_json(const struct store_policy *p)
{
	json_t *purposes = json_array();
	char buf[CC_POLICY_PURPOSES_MAX + 1], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", p->purposes);
	for (tok = strtok_r(buf, ",", &save); purposes != NULL && tok != NULL; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(purposes, json_string(tok));
	return json_pack("{s:I, s:s, s:o, s:s}", "version", (json_int_t)p->version, "last_updated",
	                 p->last_updated, "purposes", purposes, "text", p->text);
}

void api_policy(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store_policy *p = malloc(sizeof(*p));

	if (p == NULL || policy_current(a->vault, p) != CC_OK) {
		free(p);
		http_reply_error(r, 503, "unavailable", "the policy could not be read");
		return;
	}
	http_reply_json(r, 200, policy_json(p));
	free(p);
}

static int add_policy(void *arg, const struct store_policy *p)
{
	return json_array_append_new(arg, policy_json(p)) == 0 ? 0 : CC_ERR_NOMEM;
}

void api_policy_versions(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	json_t *list;

	if (s == NULL)
		return;
	list = json_array();
	if (list == NULL || st->ops->policy_each(st, add_policy, list) != CC_OK) {
		json_decref(list);
		http_reply_error(r, 500, "internal", "the policy versions could not be read");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "versions", list));
}

/* The manufacturer's admins only (the route's access level): the policy is
 * the platform's, one for every customer. */
void api_policy_publish(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	json_t *body = http_body(r), *list, *item;
	char purposes[CC_POLICY_PURPOSES_MAX + 1] = "";
	int64_t version = 0;
	size_t i, used = 0;

	if (s == NULL)
		return;
	list = json_object_get(body, "purposes");
	json_array_foreach(list, i, item) {
		const char *name = json_string_value(item);
		int n = snprintf(purposes + used, sizeof(purposes) - used, "%s%s", used ? "," : "", name ? name : "");

		if (name == NULL || n < 0 || (size_t)n >= sizeof(purposes) - used) {
			purposes[0] = '\0';
			break;
		}
		used += (size_t)n;
	}
	if (policy_publish(a->vault, json_string_value(json_object_get(body, "text")), purposes,
	                   json_string_value(json_object_get(body, "last_updated")), &version) != CC_OK) {
		http_reply_error(r, 400, "invalid", "send text, purposes (a list of names) and last_updated (YYYY-MM-DD)");
		return;
	}
	if (api_audit_access(r, s, "policy.publish", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, json_pack("{s:I}", "version", (json_int_t)version));
}

/* A customer's consent to a policy version: by its own managers
 * (policy_may_consent, the rule the CLI follows too). */
void api_consent(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	json_t *body = http_body(r);
	struct store_org cust;
	json_t *version;
	int rc;

	if (s == NULL || api_find_customer(r, s, json_string_value(json_object_get(body, "customer")), &cust) != CC_OK)
		return;
	if (!policy_may_consent(&s->user, cust.id)) {
		if (api_audit_access(r, s, "consent.record", NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "a customer's consent is given by its own managers");
		return;
	}
	version = json_object_get(body, "version");
	rc = json_is_integer(version) ? policy_consent(a->vault, cust.id, json_integer_value(version), s->user.login)
	                              : CC_ERR_NOTFOUND;
	if (rc != CC_OK) {
		http_reply_error(r, 404, "not_found", "no such policy version");
		return;
	}
	if (api_audit_access(r, s, "consent.record", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, json_pack("{s:s, s:I}", "customer", cust.name, "version", json_integer_value(version)));
}
