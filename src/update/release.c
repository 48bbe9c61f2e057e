/* release.c - see release.h. */
#include "update/release.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "crypto/aead.h"

#define MOD "release"
#define KEY_FILE_MAX 4096

int release_key_generate(const char *dir, char id[65])
{
	uint8_t seed[ED25519_SEED_LEN], pub[ED25519_PUBLIC_LEN];
	char keypath[4096], pubpath[4096], *pubpem = NULL, *data = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	long n;
	int rc;

	if (file_join(keypath, sizeof(keypath), dir, RELEASE_KEY_FILE) != CC_OK ||
	    file_join(pubpath, sizeof(pubpath), dir, RELEASE_PUB_FILE) != CC_OK)
		return CC_ERR_INVALID;
	if (file_exists(keypath) || file_exists(pubpath)) {
		log_error(MOD, "%s already holds a release key: a key is never overwritten", dir);
		return CC_ERR_EXISTS;
	}
	rc = ed25519_generate(seed);
	if (rc == CC_OK)
		rc = ed25519_public(seed, pub);
	if (rc == CC_OK)
		rc = ed25519_key_id(pub, id);
	if (rc == CC_OK)
		rc = ed25519_public_pem(pub, &pubpem);
	if (rc != CC_OK)
		goto out;
	rc = CC_ERR_CRYPTO;
	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	bio = BIO_new(BIO_s_secmem());
	if (key == NULL || bio == NULL || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0)
		goto out;
	rc = file_mkdirs(dir, 0700);
	if (rc == CC_OK)
		rc = file_write_new(keypath, data, (size_t)n, 0600);
	if (rc == CC_OK)
		rc = file_write_new(pubpath, pubpem, strlen(pubpem), 0644);
out:
	crypto_wipe(seed, sizeof(seed));
	EVP_PKEY_free(key);
	BIO_free(bio);
	free(pubpem);
	ERR_clear_error();
	return rc;
}

int release_key_read(const char *path, uint8_t seed[ED25519_SEED_LEN])
{
	unsigned char *pem = NULL;
	size_t len = 0, seedlen = ED25519_SEED_LEN;
	EVP_PKEY *key = NULL;
	BIO *bio;
	int rc = file_read_secret(path, KEY_FILE_MAX, &pem, &len);

	if (rc != CC_OK)
		return rc;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	rc = key != NULL && EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 &&
	             EVP_PKEY_get_raw_private_key(key, seed, &seedlen) == 1 && seedlen == ED25519_SEED_LEN
	     ? CC_OK
	     : CC_ERR_INVALID;
	if (rc != CC_OK)
		log_error(MOD, "%s: not an Ed25519 private key (make one with `coffeecloud release keygen`)", path);
	EVP_PKEY_free(key);
	BIO_free(bio);
	file_free_secret(pem, len);
	ERR_clear_error();
	return rc;
}

int update_hash_file(const char *path, char sha256[65], uint64_t *size)
{
	unsigned char buf[64 * 1024], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint64_t total = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = CC_ERR_IO;
	ssize_t n;

	if (fd < 0) {
		log_error(MOD, "%s: %s", path, strerror(errno));
		EVP_MD_CTX_free(ctx);
		return errno == ENOENT ? CC_ERR_NOTFOUND : CC_ERR_IO;
	}
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = CC_ERR_CRYPTO;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		total += (uint64_t)n;
		if (total > (uint64_t)CC_UPDATE_ARTIFACT_MAX) {
			log_error(MOD, "%s: larger than %lld bytes", path, (long long)CC_UPDATE_ARTIFACT_MAX);
			rc = CC_ERR_LIMIT;
			goto out;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			rc = CC_ERR_CRYPTO;
			goto out;
		}
	}
	if (n < 0) {
		log_error(MOD, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
		rc = CC_ERR_CRYPTO;
		goto out;
	}
	hex_encode(md, 32, sha256, 65);
	*size = total;
	rc = CC_OK;
out:
	close(fd);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int release_sign_file(const uint8_t seed[ED25519_SEED_LEN], const char *path, struct update_meta *m,
                      char **doc, size_t *len)
{
	uint8_t pub[ED25519_PUBLIC_LEN];
	char *inner = NULL;
	size_t innerlen = 0;
	int rc = update_hash_file(path, m->sha256, &m->size);

	if (rc == CC_OK)
		rc = ed25519_public(seed, pub);
	if (rc == CC_OK)
		rc = ed25519_key_id(pub, m->key_id);
	if (rc != CC_OK)
		return rc;
	if (m->size == 0) {
		log_error(MOD, "%s: an empty file is no artifact", path);
		return CC_ERR_INVALID;
	}
	rc = update_meta_encode(m, &inner, &innerlen);
	if (rc != CC_OK) {
		log_error(MOD, "the metadata is out of bounds: versions are MAJOR.MINOR.PATCH[-PRE], min-from below "
		          "the version, 1-%d models, notes up to %d bytes, an expiry in years 1970-9999",
		          CC_UPDATE_MODELS_MAX, CC_UPDATE_NOTES_MAX);
		return rc;
	}
	rc = update_envelope(seed, inner, innerlen, doc, len);
	free(inner);
	return rc;
}
