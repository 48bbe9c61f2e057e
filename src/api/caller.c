/* caller.c - who is calling and what they may see: tokens, sessions, data classes, scope, audit of every access. */
#include "api/internal.h"

#include <stdio.h>
#include <string.h>

#include "access/audit.h"
#include "access/grants.h"
#include "access/policy.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "common/strmap.h"
#include "crypto/aead.h"
#include "fleet/inventory.h"

const char *api_iso_time(int64_t ms, char *buf, size_t cap)
{
	clock_format_iso(ms, buf, cap);
	return buf;
}

/* ---- sessions ---- */

void api_token_key(const char *token, char key[2 * SHA256_DIGEST_LENGTH + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)token, strlen(token), md);
	hex_encode(md, sizeof(md), key, 2 * SHA256_DIGEST_LENGTH + 1);
}

/* The bearer token or session cookie of the request, or NULL. */
const char *api_request_token(struct http_req *r, int *from_cookie)
{
	static char cookie_token[2 * TOKEN_BYTES + 1];
	const char *h = http_header(r, "Authorization");
	const char *c = http_header(r, "Cookie"), *p;

	*from_cookie = 0;
	if (h != NULL && strncmp(h, "Bearer ", 7) == 0)
		return h + 7;
	if (c != NULL && (p = strstr(c, "cc_session=")) != NULL) {
		size_t n = strspn(p + 11, "0123456789abcdef");

		if (n == 2 * TOKEN_BYTES) {
			memcpy(cookie_token, p + 11, n);
			cookie_token[n] = '\0';
			*from_cookie = 1;
			return cookie_token;
		}
	}
	return NULL;
}

/* The caller's session, or NULL after replying 401/403. */
struct session *api_authenticate(struct http_req *r)
{
	struct api *a = http_app(r);
	char key[2 * SHA256_DIGEST_LENGTH + 1];
	int from_cookie;
	const char *token = api_request_token(r, &from_cookie);
	struct session *s;

	if (token == NULL || strlen(token) != 2 * TOKEN_BYTES) {
		http_reply_error(r, 401, "unauthorized", "sign in first");
		return NULL;
	}
	api_token_key(token, key);
	s = strmap_get(a->sessions, key);
	if (s == NULL || s->expires_ms < clock_now_ms()) {
		if (s != NULL)
			free(strmap_remove(a->sessions, key));
		http_reply_error(r, 401, "unauthorized", "the session is unknown or has expired");
		return NULL;
	}
	/* A browser's cookie rides along with any request: writes also need the CSRF token. */
	if (from_cookie && http_route(r)->method != EVHTTP_REQ_GET) {
		const char *csrf = http_header(r, "X-CSRF-Token");

		if (csrf == NULL || strlen(csrf) != strlen(s->csrf) || !crypto_equal(csrf, s->csrf, strlen(s->csrf))) {
			http_reply_error(r, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
			return NULL;
		}
	}
	return s;
}

/* Does the role see this class? "none" needs nothing. */
int api_role_sees(const struct session *s, const char *data_class)
{
	static const struct { const char *name; unsigned bit; } classes[] = {
		{ "status", CLASS_STATUS }, { "technical", CLASS_TECHNICAL }, { "service", CLASS_SERVICE },
		{ "usage", CLASS_USAGE }, { "audit", CLASS_AUDIT },
	};
	size_t i;

	if (strcmp(data_class, "none") == 0)
		return 1;
	if (strcmp(data_class, "admin") == 0)
		return s->role->manages_org;
	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcmp(classes[i].name, data_class) == 0)
			return (s->role->classes & classes[i].bit) != 0;
	return 0;
}

/* Records a person's access to machine data. Reads fail closed: when the
 * record cannot be written, the data is not served. */
int api_audit_access(struct http_req *r, const struct session *s, const char *action,
                        const struct store_machine *m, const char *outcome)
{
	struct api *a = http_app(r);
	char actor[CC_NAME_MAX + 8];
	struct audit_event e;
	int rc;

	snprintf(actor, sizeof(actor), "user:%s", s->user.login);
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.source = http_source(r);
	e.action = action;
	e.machines = m != NULL ? m->serial : "*";
	/* Routes open to several roles (the access report) read audit data. */
	e.data_class = strcmp(http_route(r)->data_class, "none") == 0 ? "audit" : http_route(r)->data_class;
	e.purpose = http_route(r)->purpose;
	e.outcome = outcome;
	e.customer_id = m != NULL ? m->customer_id : 0;
	rc = audit_append(a->vault, &e);
	if (rc != CC_OK) {
		log_error(MOD, "the access of %s could not be recorded: refused", s->user.login);
		http_reply_error(r, 503, "audit_unavailable", "the access could not be recorded, so it is refused");
	}
	return rc;
}

/* Authenticates and checks the route's data class; NULL after replying. */
struct session *api_authorize(struct http_req *r)
{
	struct session *s = api_authenticate(r);

	if (s != NULL && !api_role_sees(s, http_route(r)->data_class)) {
		/* Refused access attempts are part of the record too. */
		if (api_audit_access(r, s, http_route(r)->pattern, NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "your role does not see this data");
		return NULL;
	}
	return s;
}

int api_machine_visible(struct api *a, const struct session *s, const struct store_machine *m)
{
	if (s->role->granted_only)
		return grants_cover(a->vault, s->user.id, m); /* in force: not expired, not revoked */
	return inventory_org_contains(vault_store(a->vault), s->user.org_id, m->customer_id);
}

/* The machine named in the path, if the caller may see it; else 404, the
 * same answer as for a serial that does not exist. */
int api_find_machine(struct http_req *r, const struct session *s, struct store_machine *m)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	const char *serial = http_param(r, "serial");

	if (serial == NULL || !inventory_serial_valid(serial) || st->ops->machine_find(st, serial, m) != CC_OK ||
	    !api_machine_visible(a, s, m)) {
		http_reply_error(r, 404, "not_found", "no such machine");
		return CC_ERR_NOTFOUND;
	}
	if (!policy_allows(a->vault, m->customer_id, http_route(r)->purpose)) {
		http_reply_error(r, 403, "consent_required",
		                 "the machine's customer has not consented to this purpose in the current policy");
		return CC_ERR_PERM;
	}
	return CC_OK;
}

/* Refuses a body with fields outside allowed (NULL-terminated). */
int api_only_fields(struct http_req *r, json_t *body, const char *const *allowed)
{
	const char *key;
	json_t *value;

	json_object_foreach(body, key, value) {
		const char *const *a;

		for (a = allowed; *a != NULL && strcmp(*a, key) != 0; a++)
			;
		if (*a == NULL) {
			http_reply_error(r, 400, "invalid", "unknown field");
			return CC_ERR_INVALID;
		}
	}
	return CC_OK;
}

int api_parse_ms(const char *text, int64_t dflt, int64_t *out)
{
	char *end;
	long long v;

	if (text == NULL) {
		*out = dflt;
		return CC_OK;
	}
	v = strtoll(text, &end, 10);
	if (end == text || *end != '\0')
		return CC_ERR_INVALID;
	*out = v;
	return CC_OK;
}
