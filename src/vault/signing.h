/*
 * signing.h - the installation's Ed25519 signing key.
 *
 * One key per installation signs what the server vouches for to people
 * outside it (cleaning reports for inspectors, update freshness metadata).
 * Its seed lives in the keyring under "signing-ed25519", made on first use
 * under the keyring lock, so every process of the installation signs with
 * the same key. The public key is published at GET /api/v1/signing-key.
 */
#ifndef CC_VAULT_SIGNING_H
#define CC_VAULT_SIGNING_H

#include "crypto/ed25519.h"
#include "vault/vault.h"

struct signing_key {
	uint8_t seed[ED25519_SEED_LEN];
	uint8_t pub[ED25519_PUBLIC_LEN];
	char id[65]; /* ed25519_key_id of pub */
};

/* Loads (or on first use makes) the key; wipe it with signing_key_wipe. */
int signing_key_load(struct vault *v, struct signing_key *k);
void signing_key_wipe(struct signing_key *k);

/* Signs data and writes the signature base64-encoded (88 characters + NUL). */
#define SIGNING_SIG_B64_LEN 89
int signing_sign_b64(const struct signing_key *k, const void *data, size_t len, char out[SIGNING_SIG_B64_LEN]);

#endif
