/* tokens.c - API tokens for partner systems: issued, listed and revoked by admins. */
#include "api/internal.h"

#include <stdio.h>
#include <string.h>

#include "access/credentials.h"
#include "common/clock.h"
#include "common/err.h"
#include "crypto/aead.h"

/* A new token's rate when the request names none: one request a second. */
#define TOKEN_RATE_DEFAULT 60

struct token_lister {
	struct store *st;
	json_t *list;
};

static int add_token(void *arg, const struct store_credential *c)
{
	struct token_lister *l = arg;
	struct store_org org;
	char created[40], expires[40];

	if (l->st->ops->org_get(l->st, c->org_id, &org) != CC_OK)
		return 0;
	return json_array_append_new(l->list, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "id",
	                             (json_int_t)c->id, "name", c->name, "org", org.name, "role", c->role,
	                             "created_by", c->created_by,
	                             "created", api_iso_time(c->created_ms, created, sizeof(created)),
	                             "expires", api_iso_time(c->expires_ms, expires, sizeof(expires)),
	                             "rate_per_min", (json_int_t)c->rate_per_min,
	                             "in_force", c->revoked_ms == 0 && c->expires_ms > clock_now_ms()))
	               ? CC_ERR_NOMEM : 0;
}

void api_tokens_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct token_lister l = { vault_store(a->vault), NULL };

	if (s == NULL)
		return;
	l.list = json_array();
	if (l.list == NULL || credentials_token_list(a->vault, s->user.org_id, add_token, &l) != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the tokens could not be listed");
		return;
	}
	api_reply_list(r, "tokens", l.list, "id");
}

/* The token is in the answer, once; the store keeps its hash only. */
void api_tokens_add(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct token_request req;
	char token[CREDENTIAL_TOKEN_TEXT_MAX];
	json_t *body = NULL, *rate, *reply;
	int64_t id = 0;
	int rc;

	if (s == NULL || http_body_json(r, &body) != CC_OK)
		return;
	memset(&req, 0, sizeof(req));
	req.name = json_string_value(json_object_get(body, "name"));
	req.org = json_string_value(json_object_get(body, "org"));
	req.role = json_string_value(json_object_get(body, "role"));
	req.expires_ms = json_integer_value(json_object_get(body, "expires"));
	rate = json_object_get(body, "rate_per_min");
	req.rate_per_min = rate == NULL ? TOKEN_RATE_DEFAULT : json_is_integer(rate) ? json_integer_value(rate) : 0;
	rc = credentials_token_new(a->vault, &req, s->actor, s->user.org_id, token, &id);
	reply = rc == CC_OK ? json_pack("{s:I, s:s, s:s, s:s, s:I, s:s}", "id", (json_int_t)id, "name", req.name,
	                                "org", req.org, "role", req.role, "rate_per_min",
	                                (json_int_t)req.rate_per_min, "token", token)
	                    : NULL;
	crypto_wipe(token, sizeof(token));
	json_decref(body);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", "no such organisation");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, rc == CC_ERR_EXISTS ? 409 : 400, "invalid",
		                 "send name, org, role (not admin, subcontractor or site_staff), expires (epoch ms, within "
		                 "366 days) and optionally rate_per_min (1 to 60000)");
		return;
	}
	if (api_audit_access(r, s, "token.add", NULL, "ok") != CC_OK) {
		json_decref(reply);
		return;
	}
	http_reply_json(r, 201, reply);
}

void api_tokens_delete(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	int64_t id;
	int rc;

	if (s == NULL)
		return;
	if (api_parse_ms(http_param(r, "id"), 0, &id) != CC_OK || id <= 0) {
		http_reply_error(r, 404, "not_found", "no such token");
		return;
	}
	rc = credentials_token_revoke(a->vault, id, s->user.org_id);
	if (rc == CC_ERR_NOTFOUND || rc == CC_ERR_STATE) {
		http_reply_error(r, rc == CC_ERR_STATE ? 409 : 404, rc == CC_ERR_STATE ? "conflict" : "not_found",
		                 rc == CC_ERR_STATE ? "the token is revoked already" : "no such token");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the token could not be revoked");
		return;
	}
	if (api_audit_access(r, s, "token.revoke", NULL, "ok") == CC_OK)
		http_reply_json(r, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "revoked", 1));
}
