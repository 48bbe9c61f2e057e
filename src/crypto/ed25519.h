/*
 * ed25519.h - Ed25519 signatures (RFC 8032) through OpenSSL.
 *
 * A private key is its 32-byte seed; a public key its 32 raw bytes. Public
 * keys travel as PEM SubjectPublicKeyInfo, so anyone can check a signature
 * with nothing but openssl:
 *   openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in data -sigfile data.sig
 * Verification is a yes/no answer: every failure (bad key, bad length, bad
 * signature) is CC_ERR_AUTH, so callers cannot tell a forgery from garbage.
 */
#ifndef CC_CRYPTO_ED25519_H
#define CC_CRYPTO_ED25519_H

#include <stddef.h>
#include <stdint.h>

#define ED25519_SEED_LEN 32
#define ED25519_PUBLIC_LEN 32
#define ED25519_SIG_LEN 64

/* A fresh random seed. */
int ed25519_generate(uint8_t seed[ED25519_SEED_LEN]);

/* The public key belonging to seed. */
int ed25519_public(const uint8_t seed[ED25519_SEED_LEN], uint8_t pub[ED25519_PUBLIC_LEN]);

int ed25519_sign(const uint8_t seed[ED25519_SEED_LEN], const void *data, size_t len,
                 uint8_t sig[ED25519_SIG_LEN]);

/* CC_OK when sig is pub's signature of data, CC_ERR_AUTH otherwise. */
int ed25519_verify(const uint8_t pub[ED25519_PUBLIC_LEN], const void *data, size_t len,
                   const uint8_t sig[ED25519_SIG_LEN]);

/* The public key as PEM text (malloc'd, NUL-terminated; caller frees). */
int ed25519_public_pem(const uint8_t pub[ED25519_PUBLIC_LEN], char **pem);

/* Reads a PEM public key; CC_ERR_INVALID unless it is an Ed25519 key. */
int ed25519_public_from_pem(const char *pem, size_t len, uint8_t pub[ED25519_PUBLIC_LEN]);

/* SHA-256 of the raw public key, as 64 lowercase hex digits plus NUL: the
 * key's short name in documents and logs. */
int ed25519_key_id(const uint8_t pub[ED25519_PUBLIC_LEN], char id[65]);

#endif
