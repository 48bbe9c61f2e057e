/* caller.c - who is calling and what they may see: tokens, sessions, data classes, scope, audit of every access. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "api/audit_queue.h"
#include "access/credentials.h"
#include "access/grants.h"
#include "access/policy.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "common/strmap.h"
#include "crypto/aead.h"
#include "fleet/inventory.h"
#include "ingest/catalogue.h"

const char *api_iso_time(int64_t ms, char *buf, size_t cap)
{
	clock_format_iso(ms, buf, cap);
	return buf;
}

/* The value of the cookie named exactly name in a Cookie header (RFC 6265
 * 5.4: "name=value" pairs separated by "; "), copied into out; 0 when there
 * is none, -1 when the header is malformed, names it twice or its value does
 * not fit: a session cookie that is not unambiguous is no cookie. */
static int cookie_value(const char *header, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = header;
	int found = 0;

	while (*p != '\0') {
		const char *pair = p, *eq, *end = strchr(p, ';');
		size_t len;

		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - pair);
		eq = memchr(pair, '=', len);
		if (eq == NULL || eq == pair)
			return -1;
		if ((size_t)(eq - pair) == nlen && memcmp(pair, name, nlen) == 0) {
			size_t vlen = (size_t)(end - eq - 1);

			if (found || vlen >= cap)
				return -1;
			memcpy(out, eq + 1, vlen);
			out[vlen] = '\0';
			found = 1;
		}
		if (*end == '\0')
			break;
		if (end[1] != ' ') /* the separator is "; " */
			return -1;
		p = end + 2;
	}
	return found;
}

/* The bearer token or session cookie of the request, or NULL. The cookie's
 * token is copied out of the header into buf. */
const char *api_request_token(struct http_req *r, int *from_cookie, char buf[CREDENTIAL_TOKEN_TEXT_MAX])
{
	const char *h = http_header(r, "Authorization");
	const char *c = http_header(r, "Cookie");

	*from_cookie = 0;
	if (h != NULL && strncmp(h, "Bearer ", 7) == 0)
		return h + 7;
	if (c != NULL && cookie_value(c, "cc_session", buf, CREDENTIAL_TOKEN_TEXT_MAX) == 1) {
		size_t n = strspn(buf, "0123456789abcdef");

		if (n == 2 * TOKEN_BYTES && buf[n] == '\0') {
			*from_cookie = 1;
			return buf;
		}
		crypto_wipe(buf, CREDENTIAL_TOKEN_TEXT_MAX);
	}
	return NULL;
}

struct bucket {
	double tokens;
	int64_t last_ms;
};

/* An API token's rate limit: a bucket of rate_per_min requests, refilled
 * continuously. 0, or the seconds to wait. */
static int64_t rate_limited(struct api *a, const struct store_credential *c)
{
	char key[24];
	struct bucket *b;
	int64_t now = clock_now_ms();
	double per_ms = (double)c->rate_per_min / 60000.0;

	snprintf(key, sizeof(key), "%lld", (long long)c->id);
	b = strmap_get(a->buckets, key);
	if (b == NULL) {
		b = calloc(1, sizeof(*b));
		if (b == NULL || strmap_put(a->buckets, key, b) != CC_OK) {
			free(b);
			return 1; /* fail closed */
		}
		b->tokens = (double)c->rate_per_min;
		b->last_ms = now;
	}
	b->tokens += (double)(now - b->last_ms) * per_ms;
	if (b->tokens > (double)c->rate_per_min)
		b->tokens = (double)c->rate_per_min;
	b->last_ms = now;
	if (b->tokens < 1.0)
		return (int64_t)((1.0 - b->tokens) / per_ms / 1000.0) + 1;
	b->tokens -= 1.0;
	return 0;
}

/* Routes a session that must first enrol TOTP may use. */
static int enrolment_route(const struct http_route *route)
{
	return route->handle == api_me || route->handle == api_logout || route->handle == api_totp_enrol ||
	       route->handle == api_totp_confirm;
}

/* The credential of the request, resolved; NULL after replying 401/403/429. */
static struct caller *authenticate(struct http_req *r)
{
	struct api *a = http_app(r);
	char buf[CREDENTIAL_TOKEN_TEXT_MAX];
	int from_cookie;
	const char *token = api_request_token(r, &from_cookie, buf);
	struct caller *s = &a->caller;
	int64_t wait_s;
	int rc;

	if (token == NULL) {
		http_reply_error(r, 401, "unauthorized", "sign in first");
		return NULL;
	}
	rc = credentials_resolve(a->vault, token, clock_now_ms(), s);
	crypto_wipe(buf, sizeof(buf));
	if (rc != CC_OK) {
		if (rc == CC_ERR_AUTH)
			http_reply_error(r, 401, "unauthorized", "the session or token is unknown, expired or revoked");
		else
			http_reply_error(r, 503, "unavailable", "the credential could not be checked");
		return NULL;
	}
	/* A browser's cookie rides along with any request: writes also need the CSRF token. */
	if (from_cookie && http_route(r)->method != EVHTTP_REQ_GET &&
	    !credentials_csrf_ok(s, http_header(r, "X-CSRF-Token"))) {
		http_reply_error(r, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
		return NULL;
	}
	if ((s->cred.flags & CREDENTIAL_ENROL_ONLY) && !enrolment_route(http_route(r))) {
		http_reply_error(r, 403, "totp_enrolment_required",
		                 "accounts of your role need a second factor: enrol at /api/v1/me/totp first");
		return NULL;
	}
	if (s->cred.kind == CREDENTIAL_API_TOKEN && (wait_s = rate_limited(a, &s->cred)) > 0) {
		char after[24];

		snprintf(after, sizeof(after), "%lld", (long long)wait_s);
		http_add_header(r, "Retry-After", after);
		http_reply_error(r, 429, "rate_limited", "this API token is over its rate limit");
		return NULL;
	}
	return s;
}

/* Each class named in list (comma-separated), as a bit set; 0 for "none". */
static unsigned classes_of(const char *list)
{
	static const struct { const char *name; unsigned bit; } classes[] = {
		{ "status", CLASS_STATUS }, { "technical", CLASS_TECHNICAL }, { "service", CLASS_SERVICE },
		{ "usage", CLASS_USAGE }, { "audit", CLASS_AUDIT },
	};
	unsigned bits = 0;
	size_t i, n;

	while (*list != '\0') {
		n = strcspn(list, ",");
		for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
			if (strlen(classes[i].name) == n && strncmp(classes[i].name, list, n) == 0)
				bits |= classes[i].bit;
		list += n;
		if (*list == ',')
			list++;
	}
	return bits;
}

int api_role_sees(const struct caller *s, const char *data_class)
{
	if (strcmp(data_class, "none") == 0)
		return 1;
	if (strcmp(data_class, "admin") == 0)
		return s->role->manages_org;
	return (s->role->classes & classes_of(data_class)) != 0;
}

const char *api_classes_served(const struct caller *s, const char *data_class, char *buf, size_t cap)
{
	unsigned seen = s->role->classes & classes_of(data_class);
	size_t used = 0;
	int i;

	if (strcmp(data_class, "none") == 0)
		return "audit"; /* routes open to several roles (the access report) read audit data */
	if (seen == 0)
		return data_class; /* "admin", or a refused attempt: what was asked for */
	buf[0] = '\0';
	for (i = 0; i < 5; i++) {
		if (seen & (1u << i)) {
			int n = snprintf(buf + used, cap - used, "%s%s", used ? "," : "", catalogue_class_name(1u << i));

			if (n < 0 || (size_t)n >= cap - used)
				break;
			used += (size_t)n;
		}
	}
	return buf;
}

/* Records a person's access to machine data. Reads fail closed: when the
 * record cannot be written, the data is not served. */
static int audit_access(struct http_req *r, const struct caller *s, const char *action,
                        const struct store_machine *m, const char *outcome, int now)
{
	struct api *a = http_app(r);
	struct audit_event e;
	char classes[64];
	int rc;

	memset(&e, 0, sizeof(e));
	e.actor = s->actor;
	e.source = http_source(r);
	e.action = action;
	e.machines = m != NULL ? m->serial : "*";
	e.data_class = api_classes_served(s, http_route(r)->data_class, classes, sizeof(classes));
	e.purpose = http_route(r)->purpose;
	e.outcome = outcome;
	e.customer_id = m != NULL ? m->customer_id : 0;
	if (!now && a->audits != NULL && audit_queue_add(a->audits, r, &e) == CC_OK)
		return CC_OK;
	rc = audit_append(a->vault, &e);
	if (rc != CC_OK) {
		log_error(MOD, "the access of %s could not be recorded: refused", s->actor);
		http_reply_error(r, 503, "audit_unavailable", "the access could not be recorded, so it is refused");
	}
	return rc;
}

int api_audit_access(struct http_req *r, const struct caller *s, const char *action,
                     const struct store_machine *m, const char *outcome)
{
	return audit_access(r, s, action, m, outcome, 0);
}

int api_audit_access_now(struct http_req *r, const struct caller *s, const char *action,
                         const struct store_machine *m, const char *outcome)
{
	return audit_access(r, s, action, m, outcome, 1);
}

/* Is the caller an administrator of the root organisation (the manufacturer)? */
static int platform_admin(struct api *a, const struct caller *s)
{
	struct store *st = vault_store(a->vault);
	struct store_org org;

	return s->role->manages_org && st->ops->org_get(st, s->user.org_id, &org) == CC_OK &&
	       org.kind == ORG_MANUFACTURER && org.parent_id == 0;
}

/* The route's access level against the caller: NULL, or why not. */
static const char *access_refused(struct api *a, const struct caller *s, const struct http_route *route)
{
	int person = s->cred.kind == CREDENTIAL_SESSION;

	switch (route->access) {
	case HTTP_SIGNED_IN:
		return NULL;
	case HTTP_PERSON:
		return person ? NULL : "this belongs to a person's account, not to an API token";
	case HTTP_DATA:
		return api_role_sees(s, route->data_class) ? NULL : "your role does not see this data";
	case HTTP_GRANTS:
		if (!s->role->manages_grants)
			return "only admins and service managers manage grants";
		/* A grant hands a named person access to machine data: a person decides it, by name. */
		return person ? NULL : "grants are made by people signed in, not by API tokens";
	case HTTP_ADMIN:
		return s->role->manages_org ? NULL : "only administrators do this";
	case HTTP_PLATFORM:
		return platform_admin(a, s) ? NULL : "only the platform's (the manufacturer's) administrators do this";
	case HTTP_OPEN:
		break;
	}
	return "refused"; /* an access level this guard does not know: fail closed */
}

/* The machine named in the path, if the caller may see it; else 404, the
 * same answer as for a serial that does not exist. */
static int find_machine(struct http_req *r, const struct caller *s, struct store_machine *m)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	const char *serial = http_param(r, "serial");

	if (serial == NULL || !inventory_serial_valid(serial) || st->ops->machine_find(st, serial, m) != CC_OK ||
	    !api_machine_visible(a, s, m, http_route(r)->purpose)) {
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

int api_guard(struct http_req *r)
{
	struct api *a = http_app(r);
	const struct http_route *route = http_route(r);
	struct caller *s;
	const char *why;

	a->guarded = NULL;
	a->has_machine = 0;
	/* A purpose this installation does not use: the route is not served. */
	if (!api_purpose_enabled(a, route->purpose)) {
		http_reply_error(r, 404, "not_found", "no such resource");
		return CC_ERR_NOTFOUND;
	}
	s = authenticate(r);
	if (s == NULL)
		return CC_ERR_AUTH;
	why = access_refused(a, s, route);
	if (why != NULL) {
		/* Refused access attempts are part of the record too. */
		if (api_audit_access(r, s, route->pattern, NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", why);
		return CC_ERR_PERM;
	}
	if (http_param(r, "serial") != NULL) {
		int rc = find_machine(r, s, &a->machine);

		if (rc != CC_OK)
			return rc;
		a->has_machine = 1;
	}
	a->guarded = r;
	return CC_OK;
}

struct caller *api_caller(struct http_req *r)
{
	struct api *a = http_app(r);

	if (a->guarded != r) {
		/* A handler of an open route asking for a caller: a bug, refused. */
		http_reply_error(r, 500, "internal", "the request was not authorized");
		return NULL;
	}
	return &a->caller;
}

int api_machine_visible(struct api *a, const struct caller *s, const struct store_machine *m, const char *purpose)
{
	if (s->role->granted_only)
		/* in force (not expired, not revoked), and for the purpose the route serves */
		return grants_cover(a->vault, s->user.id, m, purpose);
	return inventory_org_contains(vault_store(a->vault), s->user.org_id, m->customer_id);
}

int api_find_machine(struct http_req *r, const struct caller *s, struct store_machine *m)
{
	struct api *a = http_app(r);

	(void)s;
	if (a->guarded != r || !a->has_machine) {
		http_reply_error(r, 404, "not_found", "no such machine");
		return CC_ERR_NOTFOUND;
	}
	*m = a->machine;
	return CC_OK;
}

int api_find_customer(struct http_req *r, const struct caller *s, const char *name, struct store_org *cust)
{
	struct store *st = vault_store(((struct api *)http_app(r))->vault);

	/* Subcontractors have granted machines, never a customer's scope. */
	if (name == NULL || s->role->granted_only || !inventory_name_valid(name) || st->ops->org_find(st, name, cust) != CC_OK ||
	    cust->kind != ORG_CUSTOMER || !inventory_org_contains(st, s->user.org_id, cust->id)) {
		http_reply_error(r, 404, "not_found", "no such customer");
		return CC_ERR_NOTFOUND;
	}
	return CC_OK;
}

const char *api_field(struct http_req *r, const char *name)
{
	return json_string_value(json_object_get(http_body(r), name));
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

int api_parse_bool(const char *text, int *out)
{
	*out = 0;
	if (text == NULL || strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
		return CC_OK;
	if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0) {
		*out = 1;
		return CC_OK;
	}
	return CC_ERR_INVALID;
}

int api_page_params(struct http_req *r, size_t dflt, size_t max, struct api_page *out)
{
	const char *cursor = http_query(r, "cursor");
	int64_t limit;
	uint8_t key[API_CURSOR_KEY_MAX];
	size_t n;

	memset(out, 0, sizeof(*out));
	if (api_parse_ms(http_query(r, "limit"), (int64_t)dflt, &limit) != CC_OK || limit < 1 || (size_t)limit > max) {
		char msg[64];

		snprintf(msg, sizeof(msg), "limit is 1 to %zu", max);
		http_reply_error(r, 400, "invalid", msg);
		return CC_ERR_INVALID;
	}
	out->limit = (size_t)limit;
	if (cursor == NULL)
		return CC_OK;
	n = strlen(cursor) / 2;
	if (strlen(cursor) % 2 != 0 || n == 0 || n > API_CURSOR_KEY_MAX || hex_decode(cursor, key, sizeof(key)) != (int)n ||
	    memchr(key, '\0', n) != NULL) {
		http_reply_error(r, 400, "invalid", "cursor: send back a next_cursor as it was given");
		return CC_ERR_INVALID;
	}
	memcpy(out->after, key, n);
	out->after[n] = '\0';
	out->has_cursor = 1;
	return CC_OK;
}

int64_t api_page_after_int(const struct api_page *p)
{
	int64_t v = 0;

	return p->has_cursor && api_parse_ms(p->after, 0, &v) == CC_OK ? v : 0;
}

void api_page_next(json_t *doc, const char *key)
{
	char hex[2 * API_CURSOR_KEY_MAX + 1];
	size_t n = strlen(key);

	if (doc != NULL && n > 0 && n <= API_CURSOR_KEY_MAX &&
	    hex_encode((const uint8_t *)key, n, hex, sizeof(hex)) == CC_OK)
		json_object_set_new(doc, "next_cursor", json_string(hex));
}

void api_page_next_int(json_t *doc, int64_t key)
{
	char text[24];

	snprintf(text, sizeof(text), "%lld", (long long)key);
	api_page_next(doc, text);
}

/* A key of an item as text: strings as they are, integers in decimal. */
static const char *item_key(json_t *item, const char *field, char buf[24])
{
	json_t *k = json_object_get(item, field);

	if (json_is_integer(k)) {
		snprintf(buf, 24, "%lld", (long long)json_integer_value(k));
		return buf;
	}
	return json_is_string(k) ? json_string_value(k) : "";
}

static const char *sort_field;

static int by_key(const void *pa, const void *pb)
{
	json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	json_t *ka = json_object_get(a, sort_field), *kb = json_object_get(b, sort_field);

	if (json_is_integer(ka) && json_is_integer(kb))
		return json_integer_value(ka) < json_integer_value(kb) ? -1 : json_integer_value(ka) > json_integer_value(kb);
	return strcmp(json_is_string(ka) ? json_string_value(ka) : "", json_is_string(kb) ? json_string_value(kb) : "");
}

static int after_cursor(json_t *item, const char *field, const struct api_page *pg)
{
	char buf[24];
	json_t *k = json_object_get(item, field);

	if (!pg->has_cursor)
		return 1;
	if (json_is_integer(k))
		return json_integer_value(k) > api_page_after_int(pg);
	return strcmp(item_key(item, field, buf), pg->after) > 0;
}

int api_page_cut(json_t *doc, const char *name, const char *field, const struct api_page *pg)
{
	json_t *list = json_object_get(doc, name), *page = json_array(), **items;
	size_t i, n = json_array_size(list);
	char buf[24];

	items = calloc(n ? n : 1, sizeof(*items));
	if (items == NULL || page == NULL) {
		free(items);
		json_decref(page);
		return CC_ERR_NOMEM;
	}
	for (i = 0; i < n; i++)
		items[i] = json_array_get(list, i);
	sort_field = field; /* the loop thread's only: qsort has no context argument */
	qsort(items, n, sizeof(*items), by_key);
	for (i = 0; i < n; i++) {
		if (!after_cursor(items[i], field, pg))
			continue;
		if (json_array_size(page) == pg->limit) {
			api_page_next(doc, item_key(json_array_get(page, pg->limit - 1), field, buf));
			break;
		}
		json_array_append(page, items[i]);
	}
	free(items);
	return json_object_set_new(doc, name, page) == 0 ? CC_OK : CC_ERR_NOMEM;
}

void api_reply_list(struct http_req *r, const char *name, json_t *list, const char *field)
{
	struct api_page pg;
	json_t *doc;

	if (api_page_params(r, 100, 1000, &pg) != CC_OK) {
		json_decref(list);
		return;
	}
	doc = json_pack("{s:o}", name, list);
	if (doc == NULL || api_page_cut(doc, name, field, &pg) != CC_OK) {
		json_decref(doc);
		http_reply_error(r, 500, "internal", "the listing could not be made");
		return;
	}
	http_reply_json(r, 200, doc);
}
