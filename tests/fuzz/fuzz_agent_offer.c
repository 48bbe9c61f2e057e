/* fuzz_agent_offer.c - what libcoffeecloud-agent parses from the network:
 * the server's answer to GET /api/v1/machine/update (a JSON object whose
 * strings are the signed offer and metadata), then the verdict on them.
 * Decoded strings are NUL-terminated with no NUL inside; a string the agent
 * quotes reads back as itself; the verifier answers, never crashes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quote_roundtrip(cc_agent *a, const uint8_t *data, size_t size)
{
	static const char *const names[] = { "x" };
	char raw[512], doc[3200] = "{\"x\":", *v[1];
	size_t n = size < sizeof(raw) - 1 ? size : sizeof(raw) - 1;

	memcpy(raw, data, n);
	raw[n] = '\0';
	if (cc_ag_json_quote(raw, doc, sizeof(doc) - 1) != 0)
		__builtin_trap();
	memcpy(doc + strlen(doc), "}", 2);
	if (cc_ag_json_strings(a, doc, strlen(doc), names, v, 1) != CC_AGENT_OK || v[0] == NULL ||
	    strcmp(v[0], raw) != 0)
		__builtin_trap();
	free(v[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "offer", "metadata", "serial", "artifact" };
	static struct update_key keys[1];
	const struct update_trust trust = { keys, 1, keys, 1 };
	const struct update_facts facts = { "SN-1", "barista-pro", "1.0.0", 1800000000 };
	struct update_meta m;
	cc_agent a;
	char *v[4];

	memset(&a, 0, sizeof(a)); /* the C library's allocator */
	if (cc_ag_json_strings(&a, (const char *)data, size, names, v, 4) == CC_AGENT_OK) {
		for (size_t i = 0; i < 4; i++)
			if (v[i] != NULL && strlen(v[i]) > size)
				__builtin_trap();
		if (v[0] != NULL && v[1] != NULL)
			(void)update_check(v[1], strlen(v[1]), v[0], strlen(v[0]), &trust, &facts, &m);
		for (size_t i = 0; i < 4; i++)
			free(v[i]);
	}
	quote_roundtrip(&a, data, size);
	return 0;
}
