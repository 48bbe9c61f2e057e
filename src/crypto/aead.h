/*
 * aead.h - AES-256-GCM sealing of payloads at rest.
 *
 * A sealed blob is self-describing:  version(1) | nonce(12) | ciphertext | tag(16).
 * Every seal takes a fresh random 96-bit nonce from OpenSSL's CSPRNG,
 * fetched in 4 KiB chunks per thread (aead.c says why that is as safe). The associated
 * data (AD) is authenticated but not stored: callers pass the same AD to open,
 * and build it from the row the blob belongs to, so a blob copied to another
 * row fails to open (CC_ERR_AUTH). Nothing here allocates.
 */
#ifndef CC_CRYPTO_AEAD_H
#define CC_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define AEAD_KEY_LEN 32
#define AEAD_NONCE_LEN 12
#define AEAD_TAG_LEN 16
#define AEAD_VERSION 1
/* Bytes a sealed blob adds to its plaintext. */
#define AEAD_OVERHEAD (1 + AEAD_NONCE_LEN + AEAD_TAG_LEN)

/* Seals pt into out (cap >= ptlen + AEAD_OVERHEAD); *outlen = ptlen + AEAD_OVERHEAD.
 * Returns 0, CC_ERR_LIMIT when out is too small, CC_ERR_CRYPTO otherwise. */
int aead_seal(const uint8_t key[AEAD_KEY_LEN], const void *ad, size_t adlen,
              const void *pt, size_t ptlen, uint8_t *out, size_t cap, size_t *outlen);

/* Opens a blob from aead_seal into out (cap >= bloblen - AEAD_OVERHEAD).
 * Returns 0; CC_ERR_AUTH when the key, AD or any bit of the blob is wrong;
 * CC_ERR_CORRUPT for a blob too short or of an unknown version. On failure
 * out holds no plaintext. */
int aead_open(const uint8_t key[AEAD_KEY_LEN], const void *ad, size_t adlen,
              const uint8_t *blob, size_t bloblen, uint8_t *out, size_t cap, size_t *outlen);

/* Raw AES-256-GCM with a caller-chosen nonce, for known-answer tests only:
 * production code must use aead_seal, which never reuses a nonce. */
int aead_gcm_encrypt_raw(const uint8_t key[AEAD_KEY_LEN], const uint8_t *iv, size_t ivlen,
                         const void *ad, size_t adlen, const void *pt, size_t ptlen,
                         uint8_t *ct, uint8_t tag[AEAD_TAG_LEN]);
int aead_gcm_decrypt_raw(const uint8_t key[AEAD_KEY_LEN], const uint8_t *iv, size_t ivlen,
                         const void *ad, size_t adlen, const void *ct, size_t ctlen,
                         const uint8_t tag[AEAD_TAG_LEN], uint8_t *pt);

/* Fills buf with n bytes from the OS CSPRNG (OpenSSL's DRBG). 0 or CC_ERR_CRYPTO. */
int crypto_random(void *buf, size_t n);

/* Overwrites n bytes at p in a way the compiler cannot elide. Accepts NULL. */
void crypto_wipe(void *p, size_t n);

/* Constant-time equality of two n-byte buffers: 1 if equal, 0 if not. */
int crypto_equal(const void *a, const void *b, size_t n);

#endif
