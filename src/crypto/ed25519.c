/* ed25519.c - see ed25519.h. */
#include "crypto/ed25519.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/err.h"

int ed25519_generate(uint8_t seed[ED25519_SEED_LEN])
{
	return RAND_bytes(seed, ED25519_SEED_LEN) == 1 ? CC_OK : CC_ERR_CRYPTO;
}

static EVP_PKEY *private_key(const uint8_t seed[ED25519_SEED_LEN])
{
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, ED25519_SEED_LEN);
}

int ed25519_public(const uint8_t seed[ED25519_SEED_LEN], uint8_t pub[ED25519_PUBLIC_LEN])
{
	EVP_PKEY *key = private_key(seed);
	size_t len = ED25519_PUBLIC_LEN;
	int ok = key != NULL && EVP_PKEY_get_raw_public_key(key, pub, &len) == 1 && len == ED25519_PUBLIC_LEN;

	EVP_PKEY_free(key);
	ERR_clear_error();
	return ok ? CC_OK : CC_ERR_CRYPTO;
}

int ed25519_sign(const uint8_t seed[ED25519_SEED_LEN], const void *data, size_t len,
                 uint8_t sig[ED25519_SIG_LEN])
{
	EVP_PKEY *key = private_key(seed);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t siglen = ED25519_SIG_LEN;
	/* Ed25519 is one-shot: no digest is named, the whole message is signed. */
	int ok = key != NULL && md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, key) == 1 &&
	         EVP_DigestSign(md, sig, &siglen, data, len) == 1 && siglen == ED25519_SIG_LEN;

	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ok ? CC_OK : CC_ERR_CRYPTO;
}

int ed25519_verify(const uint8_t pub[ED25519_PUBLIC_LEN], const void *data, size_t len,
                   const uint8_t sig[ED25519_SIG_LEN])
{
	EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, ED25519_PUBLIC_LEN);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = key != NULL && md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
	         EVP_DigestVerify(md, sig, ED25519_SIG_LEN, data, len) == 1;

	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ok ? CC_OK : CC_ERR_AUTH;
}

int ed25519_public_pem(const uint8_t pub[ED25519_PUBLIC_LEN], char **pem)
{
	EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, ED25519_PUBLIC_LEN);
	BIO *bio = BIO_new(BIO_s_mem());
	char *text;
	long n;
	int rc = CC_ERR_CRYPTO;

	*pem = NULL;
	if (key != NULL && bio != NULL && PEM_write_bio_PUBKEY(bio, key) == 1) {
		n = BIO_get_mem_data(bio, &text);
		*pem = n > 0 ? malloc((size_t)n + 1) : NULL;
		if (*pem != NULL) {
			memcpy(*pem, text, (size_t)n);
			(*pem)[n] = '\0';
			rc = CC_OK;
		} else {
			rc = CC_ERR_NOMEM;
		}
	}
	BIO_free(bio);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

int ed25519_public_from_pem(const char *pem, size_t len, uint8_t pub[ED25519_PUBLIC_LEN])
{
	BIO *bio = len <= 4096 ? BIO_new_mem_buf(pem, (int)len) : NULL;
	EVP_PKEY *key = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	size_t n = ED25519_PUBLIC_LEN;
	int ok = key != NULL && EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 &&
	         EVP_PKEY_get_raw_public_key(key, pub, &n) == 1 && n == ED25519_PUBLIC_LEN;

	EVP_PKEY_free(key);
	BIO_free(bio);
	ERR_clear_error();
	return ok ? CC_OK : CC_ERR_INVALID;
}

int ed25519_key_id(const uint8_t pub[ED25519_PUBLIC_LEN], char id[65])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t sum[SHA256_DIGEST_LENGTH];

	if (SHA256(pub, ED25519_PUBLIC_LEN, sum) == NULL)
		return CC_ERR_CRYPTO;
	for (size_t i = 0; i < sizeof(sum); i++) {
		id[2 * i] = hex[sum[i] >> 4];
		id[2 * i + 1] = hex[sum[i] & 15];
	}
	id[64] = '\0';
	return CC_OK;
}
