/*
 * fuzz_privacy.c - the privacy filter's detectors over hostile bytes: raw
 * text, raw JSON text, object keys, and the parsed document when the bytes
 * happen to be JSON (any value at the top, NUL allowed in strings, any depth
 * jansson accepts: deeper than PRIVACY_DEPTH_MAX must say "unscannable"),
 * and the stricter filter for notes people write.
 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "ingest/privacy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	enum privacy_reason t, r;
	json_error_t e;
	json_t *doc;

	t = privacy_scan_text(s, size);
	if (t == PRIVACY_FINANCIAL_KEY || t == PRIVACY_UNSCANNABLE)
		abort(); /* text detectors never judge keys or depth */
	(void)privacy_scan_json_text(s, size);
	(void)privacy_key_is_financial(s, size);
	r = privacy_scan_note(s, size);
	if (r == PRIVACY_FINANCIAL_KEY || (r == PRIVACY_UNSCANNABLE && size <= PRIVACY_NOTE_SCAN_MAX))
		abort(); /* notes are text: no keys; unscannable only when too long */
	if (size <= PRIVACY_NOTE_SCAN_MAX && t != PRIVACY_NONE && r != t)
		abort(); /* the note filter is at least as strict as the text filter */

	doc = json_loadb(s, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (doc == NULL)
		return 0;
	r = privacy_scan_json(doc);
	/* a lone string is judged exactly as its text */
	if (json_is_string(doc) && r != privacy_scan_text(json_string_value(doc), json_string_length(doc)))
		abort();
	json_decref(doc);
	return 0;
}
