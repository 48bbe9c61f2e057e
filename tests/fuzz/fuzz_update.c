/* fuzz_update.c - what a machine parses from the network before it updates:
 * signed artifact metadata and the server's offer (update/update.h). Every
 * document that parses must re-encode to its own bytes (canonical), and the
 * verifier must answer, never crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "update/update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip_meta(const char *doc, size_t len)
{
	struct update_meta m;
	char *enc = NULL;
	size_t n = 0;

	if (update_meta_parse(doc, len, &m) != CC_OK)
		return;
	if (update_meta_encode(&m, &enc, &n) != CC_OK || n != len || memcmp(enc, doc, len) != 0)
		__builtin_trap();
	free(enc);
}

static void roundtrip_offer(const char *doc, size_t len)
{
	struct update_offer o;
	char *enc = NULL;
	size_t n = 0;

	if (update_offer_parse(doc, len, &o) != CC_OK)
		return;
	if (update_offer_encode(&o, &enc, &n) != CC_OK || n != len || memcmp(enc, doc, len) != 0)
		__builtin_trap();
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct update_key keys[1];
	const struct update_trust trust = { keys, 1, keys, 1 };
	const struct update_facts facts = { "SN-1", "barista-2", "1.0.0", 1800000000 };
	const char *doc = (const char *)data, *inner;
	size_t innerlen;
	uint8_t sig[ED25519_SIG_LEN];
	struct update_meta m;
	char v[CC_UPDATE_VERSION_MAX + 1];

	log_set_level(LOG_LEVEL_SILENT);
	roundtrip_meta(doc, size);
	roundtrip_offer(doc, size);
	if (update_envelope_split(doc, size, &inner, &innerlen, sig) == CC_OK) {
		roundtrip_meta(inner, innerlen);
		roundtrip_offer(inner, innerlen);
	}
	(void)update_check(doc, size, doc, size, &trust, &facts, &m);
	if (size < sizeof(v)) {
		memcpy(v, data, size);
		v[size] = '\0';
		if (update_version_valid(v) && update_version_cmp(v, v) != 0)
			__builtin_trap();
	}
	return 0;
}
