/* fuzz_policy.c - what a reader sends GET /policy: the Accept-Language
 * header and ?lang= (policy_doc_language), over the default document; and a
 * stored version's text (policy_doc_parse + render + HTML), as a damaged
 * database could hand it back. The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access/policy_doc.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *doc;
	char *text;

	log_set_level(LOG_LEVEL_SILENT);
	if (size == 0 || size > 64 * 1024)
		return 0;
	if (doc == NULL) {
		struct policy_facts_in in;

		memset(&in, 0, sizeof(in));
		doc = policy_doc_new(policy_doc_facts(&in), policy_doc_default_texts());
	}
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] % 2 == 0) {
		const char *lang = policy_doc_language(doc, data[0] % 4 == 0 ? text : NULL, text);
		json_t *r = lang != NULL ? policy_doc_render(doc, lang) : NULL;

		json_decref(r);
	} else {
		json_t *parsed = policy_doc_parse(text);
		const char *lang = parsed != NULL ? policy_doc_language(parsed, NULL, "hu, en;q=0.5") : NULL;
		json_t *r = lang != NULL ? policy_doc_render(parsed, lang) : NULL;
		char *html = r != NULL ? policy_doc_html(r) : NULL;

		free(html);
		json_decref(r);
		json_decref(parsed);
	}
	free(text);
	return 0;
}
