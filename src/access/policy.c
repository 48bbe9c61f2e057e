#include "access/policy.h"

#include <time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "access/policy_doc.h"
#include "crypto/aead.h"

#define MOD "policy"

static int names(const char *list, const char *purpose)
{
	size_t n = strlen(purpose);
	const char *p = list;

	while ((p = strstr(p, purpose)) != NULL) {
		if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
		p += n;
	}
	return 0;
}

struct latest {
	struct store_policy *out;
	int found;
};

static int keep_latest(void *arg, const struct store_policy *p)
{
	struct latest *l = arg;

	*l->out = *p;
	l->found = 1;
	return 0;
}

int policy_current(struct vault *v, struct store_policy *out)
{
	struct store *s = vault_store(v);
	struct latest l = { out, 0 };
	int rc = s->ops->policy_each(s, keep_latest, &l);

	if (rc == CC_OK && !l.found)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

static int purposes_valid(const char *list)
{
	size_t i, len = strlen(list);

	if (len == 0 || len > CC_POLICY_PURPOSES_MAX || list[0] == ',' || list[len - 1] == ',')
		return 0;
	for (i = 0; i < len; i++)
		if (!((list[i] >= 'a' && list[i] <= 'z') || list[i] == '_' || (list[i] == ',' && list[i + 1] != ',')))
			return 0;
	return 1;
}

int policy_publish(struct vault *v, const char *text, const char *purposes, const char *last_updated,
                   int64_t *version)
{
	struct store *s = vault_store(v);
	struct store_policy *p;
	int rc;

	if (text == NULL || strlen(text) == 0 || strlen(text) > CC_POLICY_TEXT_MAX || purposes == NULL ||
	    !purposes_valid(purposes) || last_updated == NULL || strlen(last_updated) != 10) {
		log_error(MOD, "a policy needs a text (at most %d bytes), purposes (a,b,c) and a date YYYY-MM-DD",
		          CC_POLICY_TEXT_MAX);
		return CC_ERR_INVALID;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return CC_ERR_NOMEM;
	memcpy(p->text, text, strlen(text) + 1);
	memcpy(p->purposes, purposes, strlen(purposes) + 1);
	memcpy(p->last_updated, last_updated, 11);
	p->published_ms = clock_now_ms();
	rc = s->ops->policy_publish(s, p, version);
	free(p);
	return rc;
}

struct first {
	const char *purpose;
	int64_t version; /* the first that names the purpose; 0: none */
};

static int find_first(void *arg, const struct store_policy *p)
{
	struct first *f = arg;

	if (f->version == 0 && names(p->purposes, f->purpose))
		f->version = p->version;
	return 0;
}

int policy_allows(struct vault *v, int64_t customer_id, const char *purpose)
{
	struct store *s = vault_store(v);
	struct first f = { purpose, 0 };
	int64_t consented = 0;

	if (strcmp(purpose, "none") == 0 || strcmp(purpose, "administration") == 0)
		return 1;
	if (s->ops->policy_each(s, find_first, &f) != CC_OK || f.version == 0)
		return 0; /* fail closed */
	if (f.version == 1)
		return 1;
	if (s->ops->consent_latest(s, customer_id, &consented) != CC_OK)
		return 0;
	return consented >= f.version;
}

int policy_may_consent(const struct user_info *by, int64_t customer_id)
{
	return by->org_id == customer_id &&
	       (strcmp(by->role, "customer_manager") == 0 || strcmp(by->role, "admin") == 0);
}

int policy_consent(struct vault *v, int64_t customer_id, int64_t version, const char *language, const char *login)
{
	struct store *s = vault_store(v);
	struct store_policy *cur = calloc(1, sizeof(*cur));
	struct user_info *by = malloc(sizeof(*by));
	char hash[CC_PASSWORD_HASH_MAX + 1];
	int rc = by != NULL ? users_find(v, login, by, hash, sizeof(hash)) : CC_ERR_NOMEM;

	if (rc == CC_OK && !policy_may_consent(by, customer_id)) {
		log_error(MOD, "a customer's consent is given by its own customer managers or admins, not by this account");
		rc = CC_ERR_PERM;
	}
	crypto_wipe(by, sizeof(*by));
	crypto_wipe(hash, sizeof(hash));
	free(by);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such account");
	if (rc == CC_OK)
		rc = cur != NULL ? policy_version_get(v, version, cur) : CC_ERR_NOMEM;
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "there is no policy version %lld", (long long)version);
	if (rc == CC_OK) {
		json_t *doc = policy_doc_parse(cur->text);

		if (language == NULL)
			language = POLICY_DEFAULT_LANGUAGE;
		/* Plain-text versions came in English only. */
		if (doc != NULL ? json_object_get(json_object_get(doc, "texts"), language) == NULL
		                : strcmp(language, POLICY_DEFAULT_LANGUAGE) != 0) {
			log_error(MOD, "policy version %lld has no text in that language", (long long)version);
			rc = CC_ERR_NOTFOUND;
		}
		json_decref(doc);
	}
	free(cur);
	if (rc == CC_OK)
		rc = s->ops->consent_add(s, customer_id, version, language, login, clock_now_ms());
	return rc;
}

struct one_version {
	int64_t version;
	struct store_policy *out;
	int found;
};

static int keep_version(void *arg, const struct store_policy *p)
{
	struct one_version *o = arg;

	if (p->version == o->version) {
		*o->out = *p;
		o->found = 1;
	}
	return 0;
}

int policy_version_get(struct vault *v, int64_t version, struct store_policy *out)
{
	struct store *s = vault_store(v);
	struct one_version o = { version, out, 0 };
	int rc = s->ops->policy_each(s, keep_version, &o);

	return rc == CC_OK && !o.found ? CC_ERR_NOTFOUND : rc;
}

/* ---- drafts and the data controller ---- */

#define DRAFT_KEY "policy-draft"
#define CONTROLLER_KEY "policy-controller"

static int meta_json(struct vault *v, const char *key, json_t **out)
{
	struct store *s = vault_store(v);
	char *buf = malloc(CC_POLICY_TEXT_MAX + 1);
	int rc = buf != NULL ? s->ops->meta_get(s, key, buf, CC_POLICY_TEXT_MAX + 1) : CC_ERR_NOMEM;

	if (rc == CC_OK && buf[0] == '\0')
		rc = CC_ERR_NOTFOUND; /* cleared */
	if (rc == CC_OK && (*out = json_loads(buf, 0, NULL)) == NULL)
		rc = CC_ERR_CORRUPT;
	free(buf);
	return rc;
}

static int meta_json_set(struct vault *v, const char *key, const json_t *doc)
{
	struct store *s = vault_store(v);
	char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc;

	if (doc != NULL && text == NULL)
		return CC_ERR_NOMEM;
	if (text != NULL && strlen(text) > CC_POLICY_TEXT_MAX) {
		log_error(MOD, "the policy document is larger than %d bytes", CC_POLICY_TEXT_MAX);
		free(text);
		return CC_ERR_LIMIT;
	}
	rc = s->ops->meta_set(s, key, text != NULL ? text : "");
	free(text);
	return rc;
}

/* The current version as a document, or NULL for a plain-text one. */
static json_t *current_doc(struct vault *v)
{
	struct store_policy *cur = calloc(1, sizeof(*cur));
	json_t *doc = NULL;

	if (cur != NULL && policy_current(v, cur) == CC_OK)
		doc = policy_doc_parse(cur->text);
	free(cur);
	return doc;
}

int policy_draft_get(struct vault *v, json_t **out)
{
	return meta_json(v, DRAFT_KEY, out);
}

int policy_facts_in_force(struct vault *v, json_t **out)
{
	json_t *doc = NULL;

	if (policy_draft_get(v, &doc) != CC_OK)
		doc = current_doc(v);
	*out = json_incref(json_object_get(doc, "facts"));
	json_decref(doc);
	return *out != NULL ? CC_OK : CC_ERR_NOTFOUND;
}

int policy_draft_refresh(struct vault *v, json_t *facts, int *changed)
{
	json_t *cur = current_doc(v), *draft = NULL, *texts;
	int rc = CC_OK;

	*changed = 0;
	if (cur != NULL && json_equal(json_object_get(cur, "facts"), facts)) {
		/* What runs is what was published: no draft. */
		if (policy_draft_get(v, &draft) == CC_OK)
			rc = meta_json_set(v, DRAFT_KEY, NULL);
		goto out;
	}
	if (policy_draft_get(v, &draft) == CC_OK && json_equal(json_object_get(draft, "facts"), facts))
		goto out; /* that draft is waiting already (with any prose edited since) */
	texts = cur != NULL ? json_deep_copy(json_object_get(cur, "texts")) : policy_doc_default_texts();
	json_decref(draft);
	draft = policy_doc_new(json_deep_copy(facts), texts);
	rc = draft != NULL ? meta_json_set(v, DRAFT_KEY, draft) : CC_ERR_NOMEM;
	if (rc == CC_OK) {
		*changed = 1;
		log_info(MOD, "the running configuration differs from the published privacy policy: a draft "
		         "waits for the platform's admins to publish it");
	}
out:
	json_decref(cur);
	json_decref(draft);
	return rc;
}

int policy_draft_set_prose(struct vault *v, const char *lang, const char *clause, const char *prose)
{
	json_t *draft = NULL, *texts, *text, *c;
	size_t i, len;
	int rc, known = 0;

	for (i = 0; policy_doc_clauses[i] != NULL; i++)
		known |= clause != NULL && strcmp(policy_doc_clauses[i], clause) == 0;
	len = lang != NULL ? strlen(lang) : 0;
	if (!known || prose == NULL || strlen(prose) > CC_POLICY_CLAUSE_MAX || len < 2 || len > 8 ||
	    strspn(lang, "abcdefghijklmnopqrstuvwxyz") != len)
		return CC_ERR_INVALID;
	rc = policy_draft_get(v, &draft);
	if (rc != CC_OK)
		return rc;
	texts = json_object_get(draft, "texts");
	text = json_object_get(texts, lang);
	if (text == NULL) {
		text = json_deep_copy(json_object_get(texts, POLICY_DEFAULT_LANGUAGE));
		if (text == NULL || json_object_set_new(texts, lang, text) != 0) {
			json_decref(draft);
			return CC_ERR_INVALID;
		}
		json_object_set_new(text, "language", json_string(lang));
	}
	c = json_object_get(json_object_get(text, "clauses"), clause);
	rc = c != NULL && json_object_set_new(c, "prose", json_string(prose)) == 0 ? meta_json_set(v, DRAFT_KEY, draft)
	                                                                          : CC_ERR_INVALID;
	json_decref(draft);
	return rc;
}

int policy_draft_publish(struct vault *v, const char *last_updated, int64_t *version)
{
	json_t *draft = NULL, *p;
	char purposes[CC_POLICY_PURPOSES_MAX + 1] = "", today[16], *text = NULL;
	size_t i, used = 0;
	int rc = policy_draft_get(v, &draft);

	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "there is no draft: the published policy says what the running configuration does");
	if (rc != CC_OK)
		return rc;
	json_array_foreach(json_object_get(json_object_get(draft, "facts"), "purposes"), i, p) {
		int n = snprintf(purposes + used, sizeof(purposes) - used, "%s%s", used ? "," : "", json_string_value(p));

		if (n < 0 || (size_t)n >= sizeof(purposes) - used) {
			json_decref(draft);
			return CC_ERR_LIMIT;
		}
		used += (size_t)n;
	}
	if (last_updated == NULL) {
		time_t now = (time_t)(clock_now_ms() / 1000);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(today, sizeof(today), "%Y-%m-%d", &tm);
		last_updated = today;
	}
	text = json_dumps(draft, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(draft);
	if (text == NULL)
		return CC_ERR_NOMEM;
	/* A version that serves no purpose at all still publishes: "none" stands for it. */
	rc = policy_publish(v, text, used ? purposes : "none", last_updated, version);
	free(text);
	if (rc == CC_OK)
		rc = meta_json_set(v, DRAFT_KEY, NULL);
	return rc;
}

json_t *policy_controller_get(struct vault *v)
{
	json_t *c = NULL;

	if (meta_json(v, CONTROLLER_KEY, &c) != CC_OK)
		c = json_pack("{s:s, s:s, s:s}", "name", "", "address", "", "contact", "");
	return c;
}

static int field_ok(const char *s)
{
	size_t i, n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > CC_CONTROLLER_FIELD_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return 0;
	return 1;
}

int policy_controller_valid(const char *name, const char *address, const char *contact)
{
	return field_ok(name) && field_ok(address) && field_ok(contact);
}

int policy_controller_set(struct vault *v, const char *name, const char *address, const char *contact)
{
	json_t *c, *base = NULL, *facts;
	int rc, changed;

	if (!policy_controller_valid(name, address, contact)) {
		log_error(MOD, "the data controller needs a name, an address and a contact, each of 1 to %d characters "
		          "on one line", CC_CONTROLLER_FIELD_MAX);
		return CC_ERR_INVALID;
	}
	c = json_pack("{s:s, s:s, s:s}", "name", name, "address", address, "contact", contact);
	if (c == NULL || !json_is_string(json_object_get(c, "name")))
		rc = CC_ERR_INVALID; /* not UTF-8 */
	else
		rc = meta_json_set(v, CONTROLLER_KEY, c);
	/* The facts of the draft, or else of the current version, with the new
	 * controller; a plain-text current version waits for the daemon's draft. */
	if (rc == CC_OK && policy_draft_get(v, &base) != CC_OK)
		base = current_doc(v);
	if (rc == CC_OK && base != NULL && (facts = json_deep_copy(json_object_get(base, "facts"))) != NULL) {
		json_object_set(facts, "controller", c);
		rc = policy_draft_refresh(v, facts, &changed);
		json_decref(facts);
	}
	json_decref(base);
	json_decref(c);
	return rc;
}
