/*
 * keyring.h - the master key and the one file of secrets it wraps.
 *
 * The master key (256 bits, 64 hex digits in a 0600 file) never enters the
 * database. Everything it protects lives in one keyring file (JSON, 0600):
 * the per-organisation data keys, the fleet CA's private key, the server TLS
 * key. Each entry is sealed on its own with AES-256-GCM under the master key,
 * with the entry's name as associated data, so entries cannot be swapped.
 * A check entry tells a wrong master key (CC_ERR_AUTH) from a damaged file
 * (CC_ERR_CORRUPT) before anything is read or written.
 *
 * Because the keyring is one file replaced atomically, master-key rotation
 * and the destruction of a data key (crypto-shredding) are single renames.
 * A keyring in memory is private to its owner; callers that share the file
 * between processes serialise writers with keyring_lock().
 */
#ifndef CC_CRYPTO_KEYRING_H
#define CC_CRYPTO_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#define KEYRING_MASTER_LEN 32
#define KEYRING_NAME_MAX 64
#define KEYRING_SECRET_MAX 8192

struct keyring;

/* Reads a master key file: 64 hex digits, optional trailing newline, and
 * mode 0600 (else CC_ERR_PERM). */
int keyring_master_read(const char *path, uint8_t key[KEYRING_MASTER_LEN]);

/* Generates a fresh master key into a new file (0600); never overwrites. */
int keyring_master_generate(const char *path, uint8_t key[KEYRING_MASTER_LEN]);

/* Writes an existing key to a new file (0600), or atomically replaces it if
 * replace is set. */
int keyring_master_write(const char *path, const uint8_t key[KEYRING_MASTER_LEN], int replace);

/* A new, empty keyring bound to master (not yet on disk: keyring_save). */
int keyring_new(const char *path, const uint8_t master[KEYRING_MASTER_LEN], struct keyring **out);

/* Loads path and proves master opens it. CC_ERR_AUTH: wrong master key;
 * CC_ERR_CORRUPT: not a keyring; CC_ERR_PERM: file mode too open. */
int keyring_load(const char *path, const uint8_t master[KEYRING_MASTER_LEN], struct keyring **out);

/* As keyring_load, from text in memory (path only names it in messages). */
int keyring_parse(const char *path, const char *text, size_t len,
                  const uint8_t master[KEYRING_MASTER_LEN], struct keyring **out);

/* Wipes the master key and every secret, then frees. Accepts NULL. */
void keyring_free(struct keyring *kr);

/* Copies the named secret into out. CC_ERR_NOTFOUND if absent. */
int keyring_get(const struct keyring *kr, const char *name, uint8_t *out, size_t cap, size_t *len);

/* Adds or replaces the named secret in memory. */
int keyring_set(struct keyring *kr, const char *name, const void *secret, size_t len);

/* Removes the named secret in memory; CC_ERR_NOTFOUND if absent. */
int keyring_remove(struct keyring *kr, const char *name);

/* 1 if the named secret exists. */
int keyring_has(const struct keyring *kr, const char *name);

/* Writes the keyring to its file atomically (0600). */
int keyring_save(struct keyring *kr);

/* Re-seals every entry under new_master; takes effect in memory (save it). */
int keyring_rewrap(struct keyring *kr, const uint8_t new_master[KEYRING_MASTER_LEN]);

/* Takes an exclusive advisory lock serialising keyring writers between
 * processes; returns a descriptor for keyring_unlock, or a negative code. */
int keyring_lock(const char *path);
void keyring_unlock(int fd);

#endif
