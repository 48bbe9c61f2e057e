/*
 * fuzz_diag_manifest.c - the manifest of a diagnostics bundle
 * (fleet/diag_bundle.h) from hostile bytes: no crash; what is accepted is a
 * first line of at most DIAG_MANIFEST_MAX bytes, a JSON object in which the
 * privacy filter finds nothing; what is refused says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "fleet/diag_bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum privacy_reason privacy;
	const char *why = NULL;
	size_t mlen = 0;
	json_t *doc;
	int rc = diag_manifest_check(data, size, NULL, &mlen, &why, &privacy);

	if (why == NULL)
		abort();
	if (rc != CC_OK) {
		if (rc != CC_ERR_INVALID || why[0] == '\0' || mlen != 0)
			abort();
		return 0;
	}
	if (why[0] != '\0' || privacy != PRIVACY_NONE || mlen > DIAG_MANIFEST_MAX || mlen >= size || data[mlen] != '\n' ||
	    memchr(data, '\n', mlen) != NULL)
		abort();
	doc = json_loadb((const char *)data, mlen, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc) || privacy_scan_json(doc) != PRIVACY_NONE)
		abort();
	json_decref(doc);
	return 0;
}
