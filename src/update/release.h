/*
 * release.h - the release key's side of updates, run where the key is
 * (offline, never on the server): make a key, sign an artifact's metadata.
 *
 * The private key is a PKCS#8 PEM file (what `openssl pkey` reads) that
 * must be private to its owner (0600); the public key a PEM
 * SubjectPublicKeyInfo, what the server and the machines are told to trust.
 */
#ifndef CC_UPDATE_RELEASE_H
#define CC_UPDATE_RELEASE_H

#include <stdint.h>

#include "update/update.h"

#define RELEASE_KEY_FILE "release.key"
#define RELEASE_PUB_FILE "release.pub"

/* Makes a key: DIR/release.key (0600) and DIR/release.pub; neither may
 * exist (CC_ERR_EXISTS). The key's id into id. */
int release_key_generate(const char *dir, char id[65]);

/* Reads a private key file (refused unless private: CC_ERR_PERM). */
int release_key_read(const char *path, uint8_t seed[ED25519_SEED_LEN]);

/* A file's SHA-256 (lowercase hex) and size, read in slices; files above
 * CC_UPDATE_ARTIFACT_MAX are CC_ERR_LIMIT. */
int update_hash_file(const char *path, char sha256[65], uint64_t *size);

/* Signs path's metadata: m's version, min_from, models, notes and expires
 * as given; size, sha256 and key_id filled here. The signed document into
 * *doc (malloc'd). */
int release_sign_file(const uint8_t seed[ED25519_SEED_LEN], const char *path, struct update_meta *m,
                      char **doc, size_t *len);

#endif
