/* haccp.c - GET /api/v1/haccp/cleaning-report: the signed cleaning report of
 * one site (quality/haccp.h, docs/QUALITY.md) as JSON, CSV (the signed
 * text, its signature in a header), the signature alone (format=sig) or a
 * printable page. Scope and consent as for compliance (quality.c): a
 * customer in the caller's subtree that consented to the quality purpose;
 * granted-only roles see machines, never a site, so none. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "access/grants.h"
#include "access/policy.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "fleet/inventory.h"
#include "quality/compliance.h"
#include "quality/haccp.h"

#define SPAN_MAX_DAYS 92

enum format { F_JSON, F_CSV, F_SIG, F_HTML };

static int format_of(const char *text)
{
	static const char *const names[] = { "json", "csv", "sig", "html" };
	int i;

	if (text == NULL)
		return F_JSON;
	for (i = 0; i < 4; i++)
		if (strcmp(text, names[i]) == 0)
			return i;
	return -1;
}

struct site_search {
	struct store *st;
	int64_t scope_org;
	const char *name;
	struct store_site found;
	int n;
	/* A granted role (site staff, subcontractors): sites granted to it whole, for the route's purpose. */
	struct vault *v;
	int64_t granted_user;
	const char *purpose;
};

static int in_search(const struct site_search *ss, const struct store_site *site)
{
	if (ss->granted_user != 0)
		return grants_cover_site(ss->v, ss->granted_user, site->id, ss->purpose);
	return inventory_org_contains(ss->st, ss->scope_org, site->customer_id);
}

static int same_name(void *ctx, const struct store_site *site)
{
	struct site_search *ss = ctx;

	if (strcmp(site->name, ss->name) == 0 && in_search(ss, site)) {
		if (ss->n++ == 0)
			ss->found = *site;
	}
	return 0;
}

/* The site: of the customer org= names, else of the caller's own customer,
 * else the one site of that name in the caller's scope. 404 (or 400 when
 * the name is ambiguous) replied here. */
static int find_site(struct http_req *r, const struct caller *s, struct store_site *site, struct store_org *cust)
{
	struct store *st = vault_store(((struct api *)http_app(r))->vault);
	const char *name = http_query(r, "site"), *org = http_query(r, "org");
	struct store_org own;
	struct site_search ss;

	if (org != NULL) {
		if (api_find_customer(r, s, org, cust) != CC_OK)
			return CC_ERR_NOTFOUND;
	} else if (!s->role->granted_only && st->ops->org_get(st, s->user.org_id, &own) == CC_OK &&
	           own.kind == ORG_CUSTOMER) {
		*cust = own;
	} else {
		memset(&ss, 0, sizeof(ss));
		ss.st = st;
		ss.scope_org = s->user.org_id;
		ss.name = name;
		if (s->role->granted_only) {
			ss.v = ((struct api *)http_app(r))->vault;
			ss.granted_user = s->user.id;
			ss.purpose = http_route(r)->purpose;
		}
		if (st->ops->site_list(st, 0, same_name, &ss) != CC_OK) {
			http_reply_error(r, 500, "internal", "the sites could not be read");
			return CC_ERR_IO;
		}
		if (ss.n > 1) {
			http_reply_error(r, 400, "invalid", "org: several customers have a site of that name: name the customer");
			return CC_ERR_INVALID;
		}
		if (ss.n == 0 || st->ops->org_get(st, ss.found.customer_id, cust) != CC_OK) {
			http_reply_error(r, 404, "not_found", "no such site");
			return CC_ERR_NOTFOUND;
		}
	}
	if (st->ops->site_find(st, cust->id, name, site) != CC_OK) {
		http_reply_error(r, 404, "not_found", "no such site");
		return CC_ERR_NOTFOUND;
	}
	return CC_OK;
}

/* The page may use its own inline style and nothing else. */
static int page_csp(char *out, size_t cap)
{
	const char *style = haccp_page_style();
	unsigned char md[32];
	unsigned int mdlen = 0;
	char b64[48];

	if (EVP_Digest(style, strlen(style), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md) ||
	    b64_encode(md, sizeof(md), b64, sizeof(b64)) != CC_OK)
		return CC_ERR_CRYPTO;
	snprintf(out, cap, "default-src 'none'; style-src 'sha256-%s'; frame-ancestors 'none'", b64);
	return CC_OK;
}

static void reply(struct http_req *r, int format, json_t *doc)
{
	const char *sig = json_string_value(json_object_get(doc, "signature"));
	char disposition[CC_NAME_MAX + 96], csp[160];
	char *html;

	snprintf(disposition, sizeof(disposition), "attachment; filename=\"haccp-%s-%s.%s\"",
	         json_string_value(json_object_get(doc, "site")), json_string_value(json_object_get(doc, "from_utc")),
	         format == F_SIG ? "csv.sig" : "csv");
	/* The CSV's colons in a file name are refused by some systems. */
	for (html = strchr(disposition, ':'); html != NULL; html = strchr(html, ':'))
		*html = '-';
	http_add_header(r, "X-Signing-Key-Id", json_string_value(json_object_get(doc, "key_id")));
	switch (format) {
	case F_CSV:
		http_add_header(r, "X-Signature", sig);
		http_add_header(r, "Content-Disposition", disposition);
		http_reply_text(r, 200, "text/csv; charset=utf-8", json_string_value(json_object_get(doc, "csv")));
		break;
	case F_SIG: {
		char line[SIGNING_SIG_B64_LEN + 1];

		snprintf(line, sizeof(line), "%s\n", sig);
		http_add_header(r, "Content-Disposition", disposition);
		http_reply_text(r, 200, "text/plain; charset=utf-8", line);
		break;
	}
	case F_HTML:
		html = haccp_report_html(doc);
		if (html == NULL || page_csp(csp, sizeof(csp)) != CC_OK)
			http_reply_error(r, 500, "internal", "the report could not be rendered");
		else
			http_reply_page(r, "text/html; charset=utf-8", html, strlen(html), csp);
		free(html);
		break;
	default:
		http_reply_json(r, 200, json_incref(doc));
	}
}

void api_haccp_report(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *site_name = http_query(r, "site");
	int format = format_of(http_query(r, "format"));
	struct store_site site;
	struct store_org cust;
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
	if (site_name == NULL || !inventory_name_valid(site_name) || format < 0) {
		http_reply_error(r, 400, "invalid", "site: a site's name (required); format: json, csv, sig or html");
		return;
	}
	if (find_site(r, s, &site, &cust) != CC_OK)
		return;
	if (!policy_allows(a->vault, cust.id, http_route(r)->purpose)) {
		if (api_audit_access(r, s, "quality.haccp_report", NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "consent_required",
			                 "the customer has not consented to this purpose in the current policy");
		return;
	}
	rc = haccp_site_report(a->vault, &cust, &site, from, to, now, &doc);
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the cleaning report could not be made");
		return;
	}
	if (api_audit_access(r, s, "quality.haccp_report", NULL, "ok") == CC_OK)
		reply(r, format, doc);
	json_decref(doc);
}
