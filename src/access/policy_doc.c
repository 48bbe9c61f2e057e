/* policy_doc.c - the policy document: facts from the code, prose around them. */
#include "access/policy_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access/roles.h"
#include "ingest/catalogue.h"
#include "ingest/privacy.h"

/* Generated from share/policy/LANG.json by cmake/embed.cmake. */
struct embedded_file {
	const char *name;
	const char *bytes;
	size_t len;
};
extern const struct embedded_file policy_texts_builtin[];

const char *const policy_doc_clauses[] = {
	"controller", "collected", "purposes", "access", "never_collected", "retention",
	"at_rest", "in_transit", "security", "changes", NULL,
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The purposes, sorted and once each; "none" and "administration" are no
 * use of customers' data. */
static json_t *purposes_json(const char *const *purposes)
{
	const char *list[64];
	size_t n = 0, i;
	json_t *out = json_array();

	for (; purposes != NULL && *purposes != NULL; purposes++) {
		if (strcmp(*purposes, "none") == 0 || strcmp(*purposes, "administration") == 0)
			continue;
		if (n == sizeof(list) / sizeof(list[0])) {
			json_decref(out); /* never a policy that leaves a purpose out */
			return NULL;
		}
		list[n++] = *purposes;
	}
	qsort(list, n, sizeof(list[0]), cmp_str);
	for (i = 0; out != NULL && i < n; i++)
		if (i == 0 || strcmp(list[i], list[i - 1]) != 0)
			json_array_append_new(out, json_string(list[i]));
	return out;
}

static json_t *classes_json(unsigned classes)
{
	json_t *out = json_array();
	unsigned bit;

	for (bit = CLASS_STATUS; out != NULL && bit <= CLASS_AUDIT; bit <<= 1)
		if (classes & bit)
			json_array_append_new(out, json_string(catalogue_class_name(bit)));
	return out;
}

json_t *policy_doc_facts(const struct policy_facts_in *in)
{
	static const enum privacy_reason refused[] = {
		PRIVACY_CARD_NUMBER, PRIVACY_EMAIL, PRIVACY_PHONE, PRIVACY_FINANCIAL_KEY,
	};
	const struct role *r;
	json_t *facts, *access = json_array(), *never = json_array(), *security, *transit;
	unsigned collected = 0;
	size_t i;

	for (r = role_table(); access != NULL && r->name != NULL; r++) {
		json_array_append_new(access, json_pack("{s:s, s:o}", "role", r->name, "classes", classes_json(r->classes)));
		collected |= r->classes;
	}
	for (i = 0; never != NULL && i < sizeof(refused) / sizeof(refused[0]); i++)
		json_array_append_new(never, json_string(privacy_reason_name(refused[i])));
	security = json_pack("[s, s, s, s, s]", "outbound_only", "refuse_at_door", "audit_log", "passwords", "totp");
	if (security != NULL && in->totp_required_for_admins)
		json_array_append_new(security, json_string("totp_required_for_admins"));
	transit = json_object();
	if (transit != NULL && in->machines_tls != NULL) {
		json_t *m = json_deep_copy(in->machines_tls);

		json_object_set_new(m, "client_certificates", json_true());
		json_object_set_new(transit, "machines", m);
	}
	if (transit != NULL && in->people_tls != NULL)
		json_object_set_new(transit, "people", json_deep_copy(in->people_tls));
	facts = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:{s:s, s:s}, s:o, s:o, s:[s]}",
	                  "controller", in->controller ? json_deep_copy(in->controller)
	                                               : json_pack("{s:s, s:s, s:s}", "name", "", "address", "",
	                                                           "contact", ""),
	                  "collected", classes_json(collected & ~(unsigned)CLASS_AUDIT),
	                  "purposes", purposes_json(in->purposes),
	                  "access", access,
	                  "never_collected", never,
	                  "retention", in->retention ? json_deep_copy(in->retention) : json_array(),
	                  "at_rest", "cipher", "AES-256-GCM", "keys", "per_customer",
	                  "in_transit", transit,
	                  "security", security,
	                  "changes", "consent");
	return facts;
}

json_t *policy_doc_default_texts(void)
{
	const struct embedded_file *f;
	json_t *texts = json_object();

	for (f = policy_texts_builtin; texts != NULL && f->name != NULL; f++) {
		json_t *t = json_loadb(f->bytes, f->len, 0, NULL);

		if (t != NULL)
			json_object_set_new(texts, f->name, t);
	}
	return texts;
}

json_t *policy_doc_new(json_t *facts, json_t *texts)
{
	if (facts == NULL || texts == NULL) {
		json_decref(facts);
		json_decref(texts);
		return NULL;
	}
	return json_pack("{s:i, s:o, s:o}", "format", POLICY_DOC_FORMAT, "facts", facts, "texts", texts);
}

json_t *policy_doc_parse(const char *text)
{
	json_t *doc = text != NULL && text[0] == '{' ? json_loads(text, 0, NULL) : NULL;

	if (doc != NULL && (json_integer_value(json_object_get(doc, "format")) != POLICY_DOC_FORMAT ||
	                    !json_is_object(json_object_get(doc, "facts")) ||
	                    !json_is_object(json_object_get(doc, "texts")))) {
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

/* Is the language tag (len bytes) one of the document's? Tags are matched
 * on their primary subtag: "hu-HU" asks for "hu". */
static const char *has_language(const json_t *doc, const char *tag, size_t len)
{
	const char *key;
	json_t *value;
	size_t n = strcspn(tag, "-_");

	if (n < len)
		len = n;
	json_object_foreach(json_object_get(doc, "texts"), key, value)
		if (strlen(key) == len && strncasecmp(key, tag, len) == 0)
			return key;
	return NULL;
}

const char *policy_doc_language(const json_t *doc, const char *lang_param, const char *accept_language)
{
	const char *best = NULL, *p = accept_language;
	double best_q = 0.0;

	if (lang_param != NULL && (best = has_language(doc, lang_param, strlen(lang_param))) != NULL)
		return best;
	/* Accept-Language: tag[;q=v], tag[;q=v], ... the highest q the document has. */
	while (p != NULL && *p != '\0') {
		size_t len;
		const char *tag, *end = p + strcspn(p, ","), *semi, *found;
		double q = 1.0;

		while (*p == ' ')
			p++;
		tag = p;
		len = strcspn(tag, ";, ");
		semi = memchr(tag, ';', (size_t)(end - tag));
		if (semi != NULL && strncmp(semi, ";q=", 3) == 0)
			q = strtod(semi + 3, NULL);
		if (len > 0 && q > best_q && (found = has_language(doc, tag, len)) != NULL) {
			best = found;
			best_q = q;
		}
		p = *end == ',' ? end + 1 : end;
	}
	if (best != NULL)
		return best;
	if (has_language(doc, POLICY_DEFAULT_LANGUAGE, strlen(POLICY_DEFAULT_LANGUAGE)) != NULL)
		return POLICY_DEFAULT_LANGUAGE;
	return NULL;
}

/* A label of the language's text; the key itself when the text lacks it,
 * so that a missing translation shows rather than hides a fact. */
static const char *label(const json_t *text, const char *key)
{
	const char *v = json_string_value(json_object_get(json_object_get(text, "labels"), key));

	return v != NULL ? v : key;
}

static const char *label_of(const json_t *text, const char *prefix, const char *name, char *key, size_t cap)
{
	snprintf(key, cap, "%s.%s", prefix, name);
	return label(text, key);
}

/* "technical: sensor telemetry..." -> "technical" */
static void short_label(const char *l, char *out, size_t cap)
{
	size_t n = strcspn(l, ":");

	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), l);
}

static void add_line(json_t *lines, const char *text)
{
	json_array_append_new(lines, json_string(text));
}

static void list_of(json_t *lines, const json_t *text, const char *prefix, const json_t *names)
{
	size_t i;
	json_t *n;
	char key[96];

	json_array_foreach(names, i, n)
		if (json_is_string(n))
			add_line(lines, label_of(text, prefix, json_string_value(n), key, sizeof(key)));
}

static void join(const json_t *list, char *out, size_t cap)
{
	size_t i, used = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(list, i, v) {
		int n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", json_string_value(v) ? json_string_value(v) : "");

		if (n < 0 || (size_t)n >= cap - used)
			return;
		used += (size_t)n;
	}
}

static void transit_line(json_t *lines, const json_t *text, const char *who_key, const json_t *tls)
{
	char versions[256], ciphers[1024], line[1600];

	if (tls == NULL)
		return;
	join(json_object_get(tls, "versions"), versions, sizeof(versions));
	join(json_object_get(tls, "ciphers"), ciphers, sizeof(ciphers));
	snprintf(line, sizeof(line), "%s: %s %s; %s %s%s%s", label(text, who_key), label(text, "transit.versions"),
	         versions, label(text, "transit.ciphers"), ciphers,
	         json_is_true(json_object_get(tls, "client_certificates")) ? "; " : "",
	         json_is_true(json_object_get(tls, "client_certificates")) ? label(text, "transit.client_certificates")
	                                                                    : "");
	add_line(lines, line);
}

/* The facts of one clause as lines in the language of text. */
static json_t *clause_facts(const char *id, const json_t *facts, const json_t *text)
{
	json_t *lines = json_array(), *v;
	char line[1024], key[96], cls[64];
	size_t i;

	if (lines == NULL)
		return NULL;
	if (strcmp(id, "controller") == 0) {
		static const char *const fields[] = { "name", "address", "contact" };
		const json_t *c = json_object_get(facts, "controller");

		for (i = 0; i < 3; i++) {
			const char *value = json_string_value(json_object_get(c, fields[i]));

			snprintf(line, sizeof(line), "%s: %s", label_of(text, "controller", fields[i], key, sizeof(key)),
			         value != NULL && value[0] ? value : label(text, "not_set"));
			add_line(lines, line);
		}
	} else if (strcmp(id, "collected") == 0) {
		list_of(lines, text, "class", json_object_get(facts, "collected"));
	} else if (strcmp(id, "purposes") == 0) {
		list_of(lines, text, "purpose", json_object_get(facts, "purposes"));
	} else if (strcmp(id, "access") == 0) {
		json_array_foreach(json_object_get(facts, "access"), i, v) {
			size_t j, used;
			json_t *c;

			used = (size_t)snprintf(line, sizeof(line), "%s: ",
			                        label_of(text, "role", json_string_value(json_object_get(v, "role")), key,
			                                 sizeof(key)));
			json_array_foreach(json_object_get(v, "classes"), j, c) {
				short_label(label_of(text, "class", json_string_value(c), key, sizeof(key)), cls, sizeof(cls));
				if (used < sizeof(line))
					used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s", j ? ", " : "", cls);
			}
			add_line(lines, line);
		}
	} else if (strcmp(id, "never_collected") == 0) {
		list_of(lines, text, "never", json_object_get(facts, "never_collected"));
	} else if (strcmp(id, "retention") == 0) {
		json_array_foreach(json_object_get(facts, "retention"), i, v) {
			json_int_t days = json_integer_value(json_object_get(v, "days"));
			const char *what = label_of(text, "retention.record", json_string_value(json_object_get(v, "record")),
			                            key, sizeof(key));

			if (days > 0)
				snprintf(line, sizeof(line), "%s: %lld %s", what, (long long)days, label(text, "retention.days"));
			else
				snprintf(line, sizeof(line), "%s: %s", what,
				         label(text, days < 0 ? "retention.kept_always" : "retention.kept_until_erasure"));
			add_line(lines, line);
		}
	} else if (strcmp(id, "at_rest") == 0) {
		const json_t *r = json_object_get(facts, "at_rest");

		snprintf(line, sizeof(line), "%s %s, %s", label(text, "at_rest.cipher"),
		         json_string_value(json_object_get(r, "cipher")), label(text, "at_rest.keys"));
		add_line(lines, line);
	} else if (strcmp(id, "in_transit") == 0) {
		const json_t *t = json_object_get(facts, "in_transit");

		transit_line(lines, text, "transit.machines", json_object_get(t, "machines"));
		transit_line(lines, text, "transit.people", json_object_get(t, "people"));
	} else if (strcmp(id, "security") == 0) {
		list_of(lines, text, "security", json_object_get(facts, "security"));
	} else if (strcmp(id, "changes") == 0) {
		list_of(lines, text, "changes", json_object_get(facts, "changes"));
	}
	return lines;
}

json_t *policy_doc_render(const json_t *doc, const char *lang)
{
	const json_t *facts = json_object_get(doc, "facts"), *texts = json_object_get(doc, "texts");
	const json_t *text = lang != NULL ? json_object_get(texts, lang) : NULL;
	json_t *clauses = json_array(), *languages = json_array(), *v;
	const char *key;
	size_t i;

	if (text == NULL || clauses == NULL || languages == NULL) {
		json_decref(clauses);
		json_decref(languages);
		return NULL;
	}
	json_object_foreach((json_t *)texts, key, v)
		json_array_append_new(languages, json_string(key));
	for (i = 0; policy_doc_clauses[i] != NULL; i++) {
		const json_t *c = json_object_get(json_object_get(text, "clauses"), policy_doc_clauses[i]);

		json_array_append_new(clauses, json_pack("{s:s, s:s, s:s, s:o}", "id", policy_doc_clauses[i], "title",
		                                         json_string_value(json_object_get(c, "title"))
		                                             ? json_string_value(json_object_get(c, "title"))
		                                             : policy_doc_clauses[i],
		                                         "text", json_string_value(json_object_get(c, "prose"))
		                                                     ? json_string_value(json_object_get(c, "prose")) : "",
		                                         "facts", clause_facts(policy_doc_clauses[i], facts, text)));
	}
	return json_pack("{s:s, s:o, s:s, s:s, s:s, s:o, s:O}", "language", lang, "languages", languages, "title",
	                 json_string_value(json_object_get(text, "title")) ? json_string_value(json_object_get(text, "title"))
	                                                                    : "Privacy policy",
	                 "version_label", label(text, "version"), "last_updated_label", label(text, "last_updated"),
	                 "clauses", clauses, "facts", facts);
}

/* ---- HTML ---- */

struct html {
	char *buf;
	size_t len, cap;
	int failed;
};

static void put(struct html *h, const char *s, size_t n)
{
	if (h->failed)
		return;
	if (h->len + n + 1 > h->cap) {
		size_t cap = (h->cap ? h->cap * 2 : 4096);
		char *nb;

		while (cap < h->len + n + 1)
			cap *= 2;
		nb = realloc(h->buf, cap);
		if (nb == NULL) {
			h->failed = 1;
			return;
		}
		h->buf = nb;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, s, n);
	h->len += n;
	h->buf[h->len] = '\0';
}

static void raw(struct html *h, const char *s) { put(h, s, strlen(s)); }

/* Text into HTML: every character that could open markup is escaped. */
static void text_out(struct html *h, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '<': raw(h, "&lt;"); break;
		case '>': raw(h, "&gt;"); break;
		case '&': raw(h, "&amp;"); break;
		case '"': raw(h, "&quot;"); break;
		case '\'': raw(h, "&#39;"); break;
		default: put(h, s, 1);
		}
	}
}

char *policy_doc_html(const json_t *rendered)
{
	struct html h = { NULL, 0, 0, 0 };
	const json_t *c, *line;
	char num[32];
	size_t i, j;

	raw(&h, "<!DOCTYPE html>\n<html lang=\"");
	text_out(&h, json_string_value(json_object_get(rendered, "language")));
	raw(&h, "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>");
	text_out(&h, json_string_value(json_object_get(rendered, "title")));
	raw(&h, "</title></head><body>\n<h1>");
	text_out(&h, json_string_value(json_object_get(rendered, "title")));
	raw(&h, "</h1>\n<p id=\"last-updated\"><strong>");
	text_out(&h, json_string_value(json_object_get(rendered, "last_updated_label")));
	raw(&h, ": ");
	text_out(&h, json_string_value(json_object_get(rendered, "last_updated")));
	raw(&h, "</strong> &middot; ");
	text_out(&h, json_string_value(json_object_get(rendered, "version_label")));
	snprintf(num, sizeof(num), " %lld", (long long)json_integer_value(json_object_get(rendered, "version")));
	raw(&h, num);
	raw(&h, "</p>\n<p>");
	json_array_foreach(json_object_get(rendered, "languages"), i, c) {
		raw(&h, i ? " | <a href=\"?lang=" : "<a href=\"?lang=");
		text_out(&h, json_string_value(c));
		raw(&h, "\">");
		text_out(&h, json_string_value(c));
		raw(&h, "</a>");
	}
	raw(&h, "</p>\n");
	json_array_foreach(json_object_get(rendered, "clauses"), i, c) {
		raw(&h, "<section id=\"");
		text_out(&h, json_string_value(json_object_get(c, "id")));
		raw(&h, "\"><h2>");
		text_out(&h, json_string_value(json_object_get(c, "title")));
		raw(&h, "</h2><p>");
		text_out(&h, json_string_value(json_object_get(c, "text")));
		raw(&h, "</p>");
		if (json_array_size(json_object_get(c, "facts")) > 0) {
			raw(&h, "<ul>");
			json_array_foreach(json_object_get(c, "facts"), j, line) {
				raw(&h, "<li>");
				text_out(&h, json_string_value(line));
				raw(&h, "</li>");
			}
			raw(&h, "</ul>");
		}
		raw(&h, "</section>\n");
	}
	raw(&h, "</body></html>\n");
	if (h.failed) {
		free(h.buf);
		return NULL;
	}
	return h.buf;
}
