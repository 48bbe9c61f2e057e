/* policy.c - the public privacy policy, its versions, and customers' consent. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "access/policy_doc.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "fleet/inventory.h"

int api_purpose_enabled(const struct api *a, const char *purpose)
{
	size_t n = strlen(purpose);
	const char *p = a->purposes;

	if (strcmp(purpose, "none") == 0 || strcmp(purpose, "administration") == 0)
		return 1;
	while ((p = strstr(p, purpose)) != NULL) {
		if ((p == a->purposes || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
		p += n;
	}
	return 0;
}

json_t *api_policy_facts(struct api *a)
{
	const struct http_route *r;
	const char *purposes[64];
	size_t n = 0;
	json_t *controller = policy_controller_get(a->vault), *facts;
	/* Records are kept for the configured days (0: until the customer is
	 * erased and its key destroyed); the audit log for as long as the
	 * installation runs (it names accounts and machines, never content). */
	json_t *retention = json_pack("[{s:s, s:I}, {s:s, s:I}, {s:s, s:I}, {s:s, s:I}, {s:s, s:I}, {s:s, s:I}, "
	                              "{s:s, s:i}]", "record",
	                              "telemetry", "days", (json_int_t)a->opts.retention_days[0], "record", "rollups",
	                              "days", (json_int_t)a->opts.retention_days[3], "record", "events", "days",
	                              (json_int_t)a->opts.retention_days[1], "record", "reports", "days",
	                              (json_int_t)a->opts.retention_days[2], "record", "tickets", "days",
	                              (json_int_t)a->opts.retention_days[4], "record", "diagnostics", "days",
	                              (json_int_t)a->opts.diagnostics_retention_days, "record", "audit", "days", -1);
	struct policy_facts_in in;

	/* The purposes of the routes served: declared by a route and enabled
	 * here, each once. A table with more distinct purposes than fit is a
	 * bug the policy must not hide: no facts, and the daemon does not start. */
	for (r = api_routes(); r->pattern != NULL; r++) {
		size_t i;

		if (!api_purpose_enabled(a, r->purpose))
			continue;
		for (i = 0; i < n && strcmp(purposes[i], r->purpose) != 0; i++)
			;
		if (i < n)
			continue;
		if (n + 1 == sizeof(purposes) / sizeof(purposes[0])) {
			log_error(MOD, "more purposes than the policy's facts hold");
			json_decref(controller);
			json_decref(retention);
			return NULL;
		}
		purposes[n++] = r->purpose;
	}
	purposes[n] = NULL;
	memset(&in, 0, sizeof(in));
	in.purposes = purposes;
	in.controller = controller;
	in.machines_tls = a->machines_tls;
	in.people_tls = a->people_tls;
	in.retention = retention;
	in.totp_required_for_admins = a->opts.totp_required_for_admins;
	facts = policy_doc_facts(&in);
	json_decref(controller);
	json_decref(retention);
	return facts;
}

int api_policy_refresh(struct api *a)
{
	json_t *facts = api_policy_facts(a);
	int changed = 0, rc = facts != NULL ? policy_draft_refresh(a->vault, facts, &changed) : CC_ERR_NOMEM;

	json_decref(facts);
	if (rc != CC_OK)
		log_error(MOD, "the draft of the privacy policy could not be made");
	return rc;
}

/* A version's purposes as a list ("none" stands for no purpose at all). */
static json_t *purposes_list(const struct store_policy *p)
{
	json_t *purposes = json_array();
	char buf[CC_POLICY_PURPOSES_MAX + 1], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", p->purposes);
	for (tok = strtok_r(buf, ",", &save); purposes != NULL && tok != NULL; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, "none") != 0)
			json_array_append_new(purposes, json_string(tok));
	return purposes;
}

/* A plain-text version of before the documents. */
static json_t *legacy_json(const struct store_policy *p)
{
	json_t *purposes = purposes_list(p);

	return json_pack("{s:I, s:s, s:o, s:s, s:s, s:[s]}", "version", (json_int_t)p->version, "last_updated",
	                 p->last_updated, "purposes", purposes, "text", p->text, "language",
	                 POLICY_DEFAULT_LANGUAGE, "languages", POLICY_DEFAULT_LANGUAGE);
}

/* A version (or the draft: p is the version it would follow) in the
 * language the request asks for: NULL after replying 404 for a language
 * the document lacks. */
static json_t *version_json(struct http_req *r, const struct store_policy *p, json_t *doc, int draft)
{
	const char *lang = http_query(r, "lang"), *pick;
	json_t *out;

	if (doc == NULL)
		return legacy_json(p);
	pick = policy_doc_language(doc, lang, http_header(r, "Accept-Language"));
	if (pick == NULL || (lang != NULL && strcmp(pick, lang) != 0)) {
		http_reply_error(r, 404, "not_found", "the policy has no text in that language");
		return NULL;
	}
	out = policy_doc_render(doc, pick);
	if (out == NULL) {
		http_reply_error(r, 500, "internal", "the policy could not be rendered");
		return NULL;
	}
	json_object_set_new(out, "version", json_integer(draft ? p->version + 1 : p->version));
	json_object_set_new(out, "last_updated", json_string(draft ? "-" : p->last_updated));
	json_object_set_new(out, "purposes", json_deep_copy(json_object_get(json_object_get(doc, "facts"), "purposes")));
	if (draft)
		json_object_set_new(out, "draft", json_true());
	return out;
}

/* Browsers ask for text/html first; programs get JSON. */
static int wants_html(struct http_req *r)
{
	const char *accept = http_header(r, "Accept");
	const char *html = accept != NULL ? strstr(accept, "text/html") : NULL;
	const char *json = accept != NULL ? strstr(accept, "application/json") : NULL;

	return html != NULL && (json == NULL || html < json);
}

void api_policy(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store_policy *p = malloc(sizeof(*p));
	json_t *doc, *out;
	char *html;

	if (p == NULL || policy_current(a->vault, p) != CC_OK) {
		free(p);
		http_reply_error(r, 503, "unavailable", "the policy could not be read");
		return;
	}
	doc = policy_doc_parse(p->text);
	out = version_json(r, p, doc, 0);
	json_decref(doc);
	free(p);
	if (out == NULL)
		return;
	http_add_header(r, "Vary", "Accept, Accept-Language");
	if (!wants_html(r)) {
		http_add_header(r, "Content-Language", json_string_value(json_object_get(out, "language")));
		http_reply_json(r, 200, out);
		return;
	}
	if (json_object_get(out, "clauses") == NULL) {
		/* A plain-text version: one clause of its own. */
		json_object_set_new(out, "title", json_string("Privacy policy"));
		json_object_set_new(out, "last_updated_label", json_string("Last updated"));
		json_object_set_new(out, "version_label", json_string("Version"));
		json_object_set_new(out, "clauses", json_pack("[{s:s, s:s, s:s, s:[]}]", "id", "policy", "title", "",
		                                              "text", json_string_value(json_object_get(out, "text")),
		                                              "facts"));
	}
	html = policy_doc_html(out);
	http_add_header(r, "Content-Language", json_string_value(json_object_get(out, "language")));
	json_decref(out);
	if (html == NULL) {
		http_reply_error(r, 500, "internal", "the policy could not be rendered");
		return;
	}
	http_reply_text(r, 200, "text/html; charset=utf-8", html);
	free(html);
}

static int add_version(void *arg, const struct store_policy *p)
{
	json_t *doc = policy_doc_parse(p->text), *langs = json_array(), *v;
	const char *key;

	if (doc == NULL)
		json_array_append_new(langs, json_string(POLICY_DEFAULT_LANGUAGE));
	json_object_foreach(json_object_get(doc, "texts"), key, v)
		json_array_append_new(langs, json_string(key));
	json_decref(doc);
	return json_array_append_new(arg, json_pack("{s:I, s:s, s:o, s:o}", "version", (json_int_t)p->version,
	                                            "last_updated", p->last_updated, "purposes", purposes_list(p),
	                                            "languages", langs)) == 0 ? 0 : CC_ERR_NOMEM;
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
	if (list == NULL || st->ops->policy_each(st, add_version, list) != CC_OK) {
		json_decref(list);
		http_reply_error(r, 500, "internal", "the policy versions could not be read");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "versions", list));
}

void api_policy_draft(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store_policy *p = malloc(sizeof(*p));
	json_t *draft = NULL, *out = NULL;
	int rc = p != NULL ? policy_current(a->vault, p) : CC_ERR_NOMEM;

	if (api_caller(r) == NULL) {
		free(p);
		return;
	}
	if (rc == CC_OK)
		rc = policy_draft_get(a->vault, &draft);
	if (rc == CC_ERR_NOTFOUND) {
		free(p);
		http_reply_error(r, 404, "not_found", "no draft: the published version says what this configuration does");
		return;
	}
	if (rc == CC_OK)
		out = version_json(r, p, draft, 1);
	json_decref(draft);
	free(p);
	if (rc != CC_OK)
		http_reply_error(r, 503, "unavailable", "the draft could not be read");
	else if (out != NULL)
		http_reply_json(r, 200, out);
}

void api_policy_prose(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	int rc;

	if (s == NULL)
		return;
	rc = policy_draft_set_prose(a->vault, api_field(r, "language"), api_field(r, "clause"), api_field(r, "text"));
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", "no draft to edit");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 400, "invalid", "send language (e.g. hu), clause (one of the policy's clauses) and "
		                 "text (the prose; the facts under it are not editable)");
		return;
	}
	if (api_audit_access(r, s, "policy.prose", NULL, "ok") == CC_OK)
		http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

void api_policy_controller(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	int rc;

	if (s == NULL)
		return;
	rc = policy_controller_set(a->vault, api_field(r, "name"), api_field(r, "address"), api_field(r, "contact"));
	/* Also while a plain-text version is current: the draft of this configuration, with the controller. */
	if (rc == CC_OK)
		rc = api_policy_refresh(a);
	if (rc == CC_ERR_INVALID) {
		http_reply_error(r, 400, "invalid", "send name, address and contact (each one line of at most 256 characters)");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 503, "unavailable", "the data controller could not be stored");
		return;
	}
	if (api_audit_access(r, s, "policy.controller", NULL, "ok") == CC_OK)
		http_reply_json(r, 200, policy_controller_get(a->vault));
}

/* The manufacturer's admins only (the route's access level): the policy is
 * the platform's, one for every customer. What it says is the draft the
 * running configuration made; nobody types its facts. */
void api_policy_publish(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	json_t *body = http_body(r), *date = json_object_get(body, "last_updated");
	int64_t version = 0;
	int rc;

	if (s == NULL)
		return;
	if (date != NULL && (!json_is_string(date) || strlen(json_string_value(date)) != 10)) {
		http_reply_error(r, 400, "invalid", "last_updated is a date, YYYY-MM-DD");
		return;
	}
	rc = policy_draft_publish(a->vault, json_string_value(date), &version);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 409, "conflict", "no draft: the published version says what this configuration does");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 400, "invalid", "the draft could not be published");
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

	if (s == NULL || api_find_customer(r, s, api_field(r, "customer"), &cust) != CC_OK)
		return;
	if (!policy_may_consent(&s->user, cust.id)) {
		if (api_audit_access(r, s, "consent.record", NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "a customer's consent is given by its own managers");
		return;
	}
	version = json_object_get(body, "version");
	rc = json_is_integer(version) ? policy_consent(a->vault, cust.id, json_integer_value(version),
	                                               api_field(r, "language"), s->user.login)
	                              : CC_ERR_NOTFOUND;
	if (rc != CC_OK) {
		http_reply_error(r, 404, "not_found", "no such policy version, or not in that language");
		return;
	}
	if (api_audit_access(r, s, "consent.record", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, json_pack("{s:s, s:I}", "customer", cust.name, "version", json_integer_value(version)));
}
