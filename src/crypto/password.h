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
#define PASSWORD_MAX_LEN 256   /* bytes */
#define PASSWORD_WHY_MAX 160   /* a refusal's reason, for people */

/* Hashes password into out (cap >= CC_PASSWORD_HASH_MAX + 1). CC_ERR_INVALID
 * when the password is shorter than PASSWORD_MIN_LEN or longer than the max. */
int password_hash(const char *password, char *out, size_t cap);

/*
 * Whether a new password may be set (NIST SP 800-63B 5.1.1.2): 12 to 256
 * bytes; not mostly one character, nor a short unit repeated, nor with too
 * few different characters; not containing the login (of 3 or more
 * characters, any case) or the product's name; and not a common or breached
 * password or one built on a dictionary word with digits and symbols around
 * it or letters swapped for look-alikes - by Debian's cracklib and its
 * dictionary (cracklib-runtime). 0, or CC_ERR_INVALID with the reason (never
 * the password) in why. login may be NULL. Thread-safe: cracklib is not, so
 * its calls are serialised here. A missing dictionary refuses every password
 * (fails closed) and says so.
 */
int password_quality(const char *password, const char *login, char *why, size_t cap);

/* 0 if password matches the PHC string; CC_ERR_AUTH if not; CC_ERR_INVALID
 * for a string that is not an Argon2id hash. */
int password_verify(const char *password, const char *encoded);

/* A fresh random password of len characters from an unambiguous alphabet
 * into out (cap > len), drawn again until password_quality takes it. */
int password_generate(char *out, size_t cap, size_t len);

#endif
