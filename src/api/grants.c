/* grants.c - grants of machines or sites to subcontractors, and of sites to their staff. */
#include "api/internal.h"

#include <string.h>

#include "access/grants.h"
#include "common/clock.h"
#include "common/err.h"
#include "fleet/inventory.h"

static int add_grant_json(void *arg, const struct store_grant *g)
{
	json_t *list = arg;
	char created[40], expires[40];

	clock_format_iso(g->created_ms, created, sizeof(created));
	clock_format_iso(g->expires_ms, expires, sizeof(expires));
	return json_array_append_new(list, json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:b}", "id",
	                             (json_int_t)g->id, "user_id", (json_int_t)g->user_id, "machine_id",
	                             (json_int_t)g->machine_id, "site_id", (json_int_t)g->site_id, "purpose",
	                             g->purpose, "created_by", g->created_by, "created", created, "expires",
	                             expires, "in_force", g->revoked_ms == 0 && g->expires_ms > clock_now_ms()))
	               ? CC_ERR_NOMEM : 0;
}

void api_grants_list(struct http_req *r)
{
	struct caller *s = api_caller(r);
	json_t *list;

	if (s == NULL)
		return;
	list = json_array();
	if (list == NULL || grants_list(((struct api *)http_app(r))->vault, s->user.org_id, add_grant_json, list) < 0) {
		json_decref(list);
		http_reply_error(r, 500, "internal", "the grants could not be listed");
		return;
	}
	api_reply_list(r, "grants", list, "id");
}

void api_grants_add(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct grant_request req;
	json_t *body = NULL, *expires;
	int64_t id = 0;
	int rc;

	if (s == NULL || http_body_json(r, &body) != CC_OK)
		return;
	memset(&req, 0, sizeof(req));
	req.login = json_string_value(json_object_get(body, "login"));
	req.serial = json_string_value(json_object_get(body, "serial"));
	req.customer = json_string_value(json_object_get(body, "customer"));
	req.site = json_string_value(json_object_get(body, "site"));
	req.purpose = json_string_value(json_object_get(body, "purpose"));
	expires = json_object_get(body, "expires");
	req.expires_ms = json_is_integer(expires) ? json_integer_value(expires) : 0;
	if ((req.serial && !inventory_serial_valid(req.serial)) || (req.login && !inventory_name_valid(req.login)) ||
	    (req.site && !inventory_name_valid(req.site)) || (req.customer && !inventory_name_valid(req.customer))) {
		json_decref(body);
		http_reply_error(r, 400, "invalid", "malformed names in the grant");
		return;
	}
	rc = grants_add(a->vault, &req, s->user.login, s->user.org_id, &id);
	json_decref(body);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", "no such user, machine or site in your organisation");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 400, "invalid", "a grant needs a subcontractor and one machine or site, or a site "
		                 "staff account and a site of its own customer; a purpose (downtime, quality, support, "
		                 "updates) and a future expiry (epoch ms)");
		return;
	}
	if (api_audit_access(r, s, "grant.add", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, json_pack("{s:I}", "id", (json_int_t)id));
}

void api_grants_delete(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	int64_t id;
	int rc;

	if (s == NULL)
		return;
	if (api_parse_ms(http_param(r, "id"), 0, &id) != CC_OK || id <= 0) {
		http_reply_error(r, 404, "not_found", "no such grant");
		return;
	}
	rc = grants_revoke(a->vault, id, s->user.org_id);
	if (rc == CC_ERR_NOTFOUND || rc == CC_ERR_STATE) {
		http_reply_error(r, rc == CC_ERR_STATE ? 409 : 404, rc == CC_ERR_STATE ? "conflict" : "not_found",
		                 rc == CC_ERR_STATE ? "the grant is revoked already" : "no such grant");
		return;
	}
	if (rc != CC_OK || api_audit_access(r, s, "grant.revoke", NULL, "ok") != CC_OK) {
		if (rc != CC_OK)
			http_reply_error(r, 500, "internal", "the grant could not be revoked");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "revoked", 1));
}
