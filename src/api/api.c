/* api.c - the route table, and the api object's life. */
#include "api/internal.h"

#include <stdlib.h>

#include "common/err.h"
#include "common/strmap.h"

void api_openapi(struct http_req *r)
{
	http_reply_json(r, 200, http_openapi(api_routes(), "CoffeeCloud API", "1"));
}

static const struct http_route routes[] = {
	{ EVHTTP_REQ_GET, "/policy", "none", "none", 1, api_policy, "the current privacy policy" },
	{ EVHTTP_REQ_GET, "/api/v1/openapi.json", "none", "none", 1, api_openapi, "this document" },
	{ EVHTTP_REQ_POST, "/api/v1/auth/login", "none", "none", 1, api_login, "sign in: a session token" },
	{ EVHTTP_REQ_POST, "/api/v1/auth/logout", "none", "none", 0, api_logout, "end the session" },
	{ EVHTTP_REQ_GET, "/api/v1/me", "none", "none", 0, api_me, "who is signed in (or which API token)" },
	{ EVHTTP_REQ_POST, "/api/v1/me/totp", "none", "none", 0, api_totp_enrol,
	  "a new TOTP secret as an otpauth:// URI (a current code replaces one in force)" },
	{ EVHTTP_REQ_POST, "/api/v1/me/totp/confirm", "none", "none", 0, api_totp_confirm,
	  "turn TOTP on with the first code" },
	{ EVHTTP_REQ_DELETE, "/api/v1/me/totp", "none", "none", 0, api_totp_disable,
	  "turn TOTP off (with a current code)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines", "support", "status", 0, api_machines, "machines the caller sees" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}", "support", "status", 0, api_machine, "one machine's status" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/telemetry", "support", "technical", 0, api_telemetry,
	  "a machine's telemetry, metrics of the caller's classes only (from, to: epoch ms; metric; "
	  "step: mean per bucket of step ms; limit, cursor)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/events", "support", "technical", 0, api_events,
	  "a machine's events, types of the caller's classes only (from, to: epoch ms; type; limit, cursor)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/reports", "support", "service", 0, api_reports_list,
	  "installation and service reports of a machine (from, to: epoch ms; limit, cursor)" },
	{ EVHTTP_REQ_POST, "/api/v1/machines/{serial}/reports", "support", "service", 0, api_reports_add,
	  "file an installation or service report (type, summary, performed, parts, duration_min)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/quality", "quality", "technical", 0, api_quality,
	  "espresso brews against the standard (90-96 degC, 20-30 s), from, to: epoch ms" },
	{ EVHTTP_REQ_GET, "/api/v1/policy/versions", "none", "none", 0, api_policy_versions,
	  "every version of the privacy policy" },
	{ EVHTTP_REQ_POST, "/api/v1/policy/versions", "administration", "admin", 0, api_policy_publish,
	  "publish a new policy version (text, purposes, last_updated)" },
	{ EVHTTP_REQ_POST, "/api/v1/consents", "administration", "none", 0, api_consent,
	  "record a customer's consent to a policy version" },
	{ EVHTTP_REQ_GET, "/api/v1/customers/{id}/export", "administration", "none", 0, api_export,
	  "everything stored for a customer's machines, decrypted (format=json|csv)" },
	{ EVHTTP_REQ_DELETE, "/api/v1/customers/{id}", "administration", "admin", 0, api_customer_delete,
	  "erase a customer: certificates revoked, rows deleted, data key destroyed; a signed receipt" },
	{ EVHTTP_REQ_GET, "/api/v1/audit", "administration", "audit", 0, api_audit_list,
	  "audit records (from, to: epoch ms; action; serial; limit <= 1000), newest first" },
	{ EVHTTP_REQ_GET, "/api/v1/customers/{id}/access-report", "administration", "none", 0, api_access_report,
	  "who read which of a customer's machines' data, when and why" },
	{ EVHTTP_REQ_GET, "/api/v1/orgs", "administration", "admin", 0, api_orgs_list,
	  "organisations in the caller's subtree (admins)" },
	{ EVHTTP_REQ_POST, "/api/v1/orgs", "administration", "admin", 0, api_orgs_add,
	  "add a distributor or customer under an organisation of the caller's subtree" },
	{ EVHTTP_REQ_GET, "/api/v1/users", "administration", "admin", 0, api_users_list,
	  "accounts in the caller's subtree, personal fields opened (admins; audited)" },
	{ EVHTTP_REQ_POST, "/api/v1/users", "administration", "admin", 0, api_users_add,
	  "add an account (login, role, org, password, display_name, email)" },
	{ EVHTTP_REQ_GET, "/api/v1/grants", "administration", "admin", 0, api_grants_list,
	  "grants in the caller's organisation (admins, service managers)" },
	{ EVHTTP_REQ_POST, "/api/v1/grants", "administration", "admin", 0, api_grants_add,
	  "grant a subcontractor one machine or site, for a purpose, until an expiry" },
	{ EVHTTP_REQ_DELETE, "/api/v1/grants/{id}", "administration", "admin", 0, api_grants_delete,
	  "revoke a grant" },
	{ EVHTTP_REQ_GET, "/api/v1/tokens", "administration", "admin", 0, api_tokens_list,
	  "API tokens of partner systems in the caller's subtree (admins)" },
	{ EVHTTP_REQ_POST, "/api/v1/tokens", "administration", "admin", 0, api_tokens_add,
	  "issue an API token (name, org, role, expires, rate_per_min); shown once" },
	{ EVHTTP_REQ_DELETE, "/api/v1/tokens/{id}", "administration", "admin", 0, api_tokens_delete,
	  "revoke an API token" },
	{ EVHTTP_REQ_POST, "/api/v1/me/password", "none", "none", 0, api_password_change,
	  "change one's password (current_password, new_password); ends one's other sessions" },
	{ EVHTTP_REQ_POST, "/api/v1/users/{login}/password", "administration", "admin", 0, api_password_reset,
	  "set an account's password (new_password; admins, in their subtree; audited); ends its sessions" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};

const struct http_route *api_routes(void) { return routes; }

int api_new(struct event_base *base, struct vault *vault, const struct api_opts *opts, struct api **out)
{
	struct api *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return CC_ERR_NOMEM;
	a->base = base;
	a->vault = vault;
	a->opts = *opts;
	if (strmap_new(&a->buckets) != CC_OK || api_logins_start(a) != CC_OK) {
		strmap_free(a->buckets);
		free(a);
		return CC_ERR_NOMEM;
	}
	*out = a;
	return CC_OK;
}

static int free_value(void *ctx, const char *key, void *value)
{
	(void)ctx;
	(void)key;
	free(value);
	return 0;
}

void api_free(struct api *a)
{
	if (a == NULL)
		return;
	api_logins_stop(a);
	api_exports_stop(a);
	strmap_foreach(a->buckets, free_value, NULL);
	strmap_free(a->buckets);
	free(a);
}
