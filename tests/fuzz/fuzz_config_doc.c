/* fuzz_config_doc.c - a remote configuration document as a person sets it
 * (config_doc_parse) and a machine's report of it (config_report_parse);
 * what parses must come back in its canonical form and parse to itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fleet/config_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config_doc doc, again;
	static struct config_report report;
	char why[CONFIG_WHY_MAX], where[CONFIG_WHY_MAX], *text;
	const char *model = size > 0 && (data[0] & 1) ? "barista-pro" : "espresso-one";

	log_set_level(LOG_LEVEL_SILENT);
	(void)config_report_parse(model, data, size, &report, NULL, why, sizeof(why));
	if (config_doc_parse(model, (const char *)data, size, &doc, NULL, why, sizeof(why)) != 0)
		return why[0] == '\0' ? (__builtin_trap(), 0) : 0;
	text = config_doc_text(&doc);
	if (text == NULL)
		return 0;
	if (config_doc_parse(model, text, strlen(text), &again, NULL, why, sizeof(why)) != 0 ||
	    !config_doc_satisfies(&again, &doc, where, sizeof(where)) ||
	    !config_doc_satisfies(&doc, &again, where, sizeof(where)))
		__builtin_trap();
	free(text);
	return 0;
}
