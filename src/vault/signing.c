/* signing.c - see signing.h. */
#include "vault/signing.h"

#include <string.h>

#include <openssl/crypto.h>

#include "common/codec.h"
#include "common/err.h"

#define SIGNING_SECRET "signing-ed25519"

int signing_key_load(struct vault *v, struct signing_key *k)
{
	size_t len = 0;
	int created = 0;
	int rc = vault_secret_get_or_create(v, SIGNING_SECRET, ED25519_SEED_LEN, k->seed, sizeof(k->seed), &len,
	                                    &created);

	if (rc == CC_OK && len != ED25519_SEED_LEN)
		rc = CC_ERR_CORRUPT;
	if (rc == CC_OK)
		rc = ed25519_public(k->seed, k->pub);
	if (rc == CC_OK)
		rc = ed25519_key_id(k->pub, k->id);
	if (rc != CC_OK)
		signing_key_wipe(k);
	return rc;
}

void signing_key_wipe(struct signing_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

int signing_sign_b64(const struct signing_key *k, const void *data, size_t len, char out[SIGNING_SIG_B64_LEN])
{
	uint8_t sig[ED25519_SIG_LEN];
	int rc = ed25519_sign(k->seed, data, len, sig);

	if (rc == CC_OK)
		rc = b64_encode(sig, sizeof(sig), out, SIGNING_SIG_B64_LEN);
	return rc;
}
