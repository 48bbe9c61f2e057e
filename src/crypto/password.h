/*
 * password.h - password hashing with Argon2id (libargon2).
 *
 * Parameters: 3 passes over 64 MiB, 1 lane, 16-byte random salt, 32-byte
 * hash, stored as a PHC string ("$argon2id$v=19$m=65536,t=3,p=1$...").
 * The parameters travel inside the string, so they can be raised later
 * without invalidating stored hashes. Verification is constant-time.
 */
#ifndef CC_CRYPTO_PASSWORD_H
#define CC_CRYPTO_PASSWORD_H

#include <stddef.h>

#define PASSWORD_MIN_LEN 12
#define PASSWORD_MAX_LEN 1024

/* Hashes password into out (cap >= CC_PASSWORD_HASH_MAX + 1). CC_ERR_INVALID
 * when the password is shorter than PASSWORD_MIN_LEN or longer than the max. */
int password_hash(const char *password, char *out, size_t cap);

/* 0 if password matches the PHC string; CC_ERR_AUTH if not; CC_ERR_INVALID
 * for a string that is not an Argon2id hash. */
int password_verify(const char *password, const char *encoded);

/* A fresh random password of len characters from an unambiguous alphabet
 * into out (cap > len). */
int password_generate(char *out, size_t cap, size_t len);

#endif
