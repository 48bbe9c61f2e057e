/*
 * fuzz_keyring.c - the keyring file parser (JSON, base64, AES-GCM entries)
 * and the master key file parser take hostile bytes without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "crypto/keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The key the seed corpus was made with: 32 bytes of 0x42. */
	uint8_t master[KEYRING_MASTER_LEN];
	struct keyring *kr = NULL;
	uint8_t secret[KEYRING_SECRET_MAX];
	size_t len;

	log_set_level(LOG_LEVEL_SILENT);
	memset(master, 0x42, sizeof(master));
	if (keyring_parse("fuzz", (const char *)data, size, master, &kr) == 0) {
		(void)keyring_get(kr, "org:1", secret, sizeof(secret), &len);
		(void)keyring_get(kr, "ca-key", secret, sizeof(secret), &len);
		keyring_free(kr);
	}
	return 0;
}
