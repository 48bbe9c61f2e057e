/* fuzz_report.c - what people send the API besides JSON bodies' shape:
 * service reports (jansson + reports_check: the privacy filter and the
 * field rules), and the text codecs behind cursors (hex) and TOTP secrets
 * (base32). The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/codec.h"
#include "common/log.h"
#include "records/reports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[256];
	char *text;
	json_t *doc;

	log_set_level(LOG_LEVEL_SILENT);
	if (size == 0 || size > 64 * 1024)
		return 0;
	if (data[0] % 2 == 0) {
		doc = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
		if (doc != NULL)
			(void)reports_check(doc);
		json_decref(doc);
		return 0;
	}
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	(void)hex_decode(text, out, sizeof(out));
	(void)b32_decode(text, out, sizeof(out));
	free(text);
	return 0;
}
