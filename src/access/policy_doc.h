/*
 * policy_doc.h - the privacy policy as a document whose facts are what the
 * running code enforces (docs/ARCHITECTURE.md, "The privacy policy").
 *
 * A document (format 2) is a JSON object
 *     {"format": 2, "facts": {...}, "texts": {"en": {...}, "hu": {...}}}
 * where facts are built here from inputs the daemon reads off its own
 * tables and listeners (the purposes its routes declare, the role table,
 * the TLS versions and suites of each listener, the kinds of data the
 * privacy filter refuses, the retention settings, the data controller), and
 * texts hold the editable prose of each clause in each language. The prose
 * surrounds the facts; nothing in a text can change a fact. Default texts
 * ship in share/policy/LANG.json, compiled in. Pure: no I/O, no store.
 */
#ifndef CC_ACCESS_POLICY_DOC_H
#define CC_ACCESS_POLICY_DOC_H

#include <stdint.h>

#include <jansson.h>

#define POLICY_DOC_FORMAT 2
#define POLICY_DEFAULT_LANGUAGE "en"

/* The clauses of every version, in the order they are shown. */
extern const char *const policy_doc_clauses[];

struct policy_facts_in {
	const char *const *purposes; /* purposes the served routes declare, NULL-terminated, repeats allowed */
	const json_t *controller;    /* {"name","address","contact"}; NULL: not yet named */
	const json_t *machines_tls;  /* {"versions":[...],"ciphers":[...]} of the machines' listener, or NULL */
	const json_t *people_tls;    /* the same for the HTTPS listener, or NULL */
	const json_t *retention;     /* [{"record": name, "days": n}] (0: until erasure, -1: always) or NULL */
	int totp_required_for_admins;
};

/* The facts of the running configuration (a new reference), or NULL. */
json_t *policy_doc_facts(const struct policy_facts_in *in);

/* The compiled-in texts: {"en": {...}, "hu": {...}} (a new reference). */
json_t *policy_doc_default_texts(void);

/* A document of these facts and texts (both stolen), or NULL. */
json_t *policy_doc_new(json_t *facts, json_t *texts);

/* Parses a stored version's text: a format-2 document (new reference), or
 * NULL for the plain-text versions that came before. */
json_t *policy_doc_parse(const char *text);

/* The language to show: ?lang= if the document has it, else the first
 * language of Accept-Language it has (q-values honoured), else English. */
const char *policy_doc_language(const json_t *doc, const char *lang_param, const char *accept_language);

/* The document in one language: {"language", "languages", "title",
 * "clauses": [{"id", "title", "text", "facts": [lines]}]} (new reference). */
json_t *policy_doc_render(const json_t *doc, const char *lang);

/* A rendered document (with "version" and "last_updated" added by the
 * caller) as a self-contained HTML page; malloc'd, the caller frees. */
char *policy_doc_html(const json_t *rendered);

#endif
