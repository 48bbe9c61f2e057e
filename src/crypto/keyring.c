#include "crypto/keyring.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <jansson.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/aead.h"

#define MOD "keyring"
#define KEYRING_FORMAT "coffeecloud-keyring"
#define KEYRING_VERSION 1
#define CHECK_NAME "keyring-check"
static const char check_plaintext[] = "coffeecloud keyring check v1";

struct keyring {
	char path[4096];
	uint8_t master[KEYRING_MASTER_LEN];
	json_t *entries; /* name -> base64 of the sealed secret */
};

static int valid_name(const char *name)
{
	size_t len = strlen(name), i;

	if (len == 0 || len > KEYRING_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != ':' && name[i] != '.')
			return 0;
	return 1;
}

/* The associated data binds a sealed secret to its entry name. */
static void entry_ad(const char *name, char *ad, size_t cap, size_t *adlen)
{
	int n = snprintf(ad, cap, "cc-keyring-v1|%s", name);
	*adlen = n > 0 ? (size_t)n : 0;
}

static int seal_entry(const uint8_t *master, const char *name, const void *secret, size_t len,
                      json_t **out)
{
	uint8_t blob[KEYRING_SECRET_MAX + AEAD_OVERHEAD];
	char text[B64_ENCODED_LEN(sizeof(blob))];
	char ad[128];
	size_t adlen, bloblen;
	json_t *s;
	int rc;

	if (len > KEYRING_SECRET_MAX)
		return CC_ERR_LIMIT;
	entry_ad(name, ad, sizeof(ad), &adlen);
	rc = aead_seal(master, ad, adlen, secret, len, blob, sizeof(blob), &bloblen);
	if (rc == CC_OK)
		rc = b64_encode(blob, bloblen, text, sizeof(text));
	if (rc != CC_OK)
		return rc;
	s = json_string(text);
	if (s == NULL)
		return CC_ERR_NOMEM;
	*out = s;
	return CC_OK;
}

static int open_entry(const uint8_t *master, const char *name, const json_t *value,
                      uint8_t *out, size_t cap, size_t *len)
{
	uint8_t blob[KEYRING_SECRET_MAX + AEAD_OVERHEAD];
	const char *text = json_string_value(value);
	char ad[128];
	size_t adlen;
	int n;

	if (text == NULL || strlen(text) > B64_ENCODED_LEN(sizeof(blob)))
		return CC_ERR_CORRUPT;
	n = b64_decode(text, blob, sizeof(blob));
	if (n < 0)
		return CC_ERR_CORRUPT;
	entry_ad(name, ad, sizeof(ad), &adlen);
	return aead_open(master, ad, adlen, blob, (size_t)n, out, cap, len);
}

int keyring_master_read(const char *path, uint8_t key[KEYRING_MASTER_LEN])
{
	unsigned char *text = NULL;
	size_t len = 0;
	int rc;

	rc = file_read_secret(path, 4096, &text, &len);
	if (rc != CC_OK)
		return rc;
	while (len > 0 && isspace(text[len - 1]))
		text[--len] = '\0';
	if (len != 2 * KEYRING_MASTER_LEN ||
	    hex_decode((const char *)text, key, KEYRING_MASTER_LEN) != KEYRING_MASTER_LEN) {
		log_error(MOD, "%s: not a master key (expected %d hex digits)", path,
		          2 * KEYRING_MASTER_LEN);
		rc = CC_ERR_INVALID;
		crypto_wipe(key, KEYRING_MASTER_LEN);
	}
	file_free_secret(text, len);
	return rc;
}

int keyring_master_write(const char *path, const uint8_t key[KEYRING_MASTER_LEN], int replace)
{
	char text[2 * KEYRING_MASTER_LEN + 2];
	int rc;

	hex_encode(key, KEYRING_MASTER_LEN, text, sizeof(text));
	text[2 * KEYRING_MASTER_LEN] = '\n';
	text[2 * KEYRING_MASTER_LEN + 1] = '\0';
	rc = replace ? file_write_atomic(path, text, sizeof(text) - 1, 0600)
	             : file_write_new(path, text, sizeof(text) - 1, 0600);
	crypto_wipe(text, sizeof(text));
	return rc;
}

int keyring_master_generate(const char *path, uint8_t key[KEYRING_MASTER_LEN])
{
	int rc = crypto_random(key, KEYRING_MASTER_LEN);

	if (rc == CC_OK)
		rc = keyring_master_write(path, key, 0);
	if (rc != CC_OK)
		crypto_wipe(key, KEYRING_MASTER_LEN);
	return rc;
}

static int keyring_alloc(const char *path, const uint8_t *master, struct keyring **out)
{
	struct keyring *kr;

	if (strlen(path) >= sizeof(kr->path))
		return CC_ERR_LIMIT;
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL)
		return CC_ERR_NOMEM;
	memcpy(kr->path, path, strlen(path) + 1);
	memcpy(kr->master, master, KEYRING_MASTER_LEN);
	*out = kr;
	return CC_OK;
}

int keyring_new(const char *path, const uint8_t master[KEYRING_MASTER_LEN], struct keyring **out)
{
	struct keyring *kr = NULL;
	int rc;

	rc = keyring_alloc(path, master, &kr);
	if (rc != CC_OK)
		return rc;
	kr->entries = json_object();
	if (kr->entries == NULL) {
		keyring_free(kr);
		return CC_ERR_NOMEM;
	}
	*out = kr;
	return CC_OK;
}

int keyring_parse(const char *path, const char *text, size_t len,
                  const uint8_t master[KEYRING_MASTER_LEN], struct keyring **out)
{
	struct keyring *kr = NULL;
	uint8_t check[64];
	size_t checklen;
	json_t *root = NULL, *entries, *check_entry;
	json_error_t jerr;
	const char *format;
	int rc = CC_ERR_CORRUPT;

	if (len > CC_SMALL_FILE_MAX)
		return CC_ERR_LIMIT;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		log_error(MOD, "%s: not a keyring (line %d: %s)", path, jerr.line, jerr.text);
		goto out;
	}
	format = json_string_value(json_object_get(root, "format"));
	entries = json_object_get(root, "entries");
	if (format == NULL || strcmp(format, KEYRING_FORMAT) != 0 ||
	    json_integer_value(json_object_get(root, "version")) != KEYRING_VERSION ||
	    !json_is_object(entries)) {
		log_error(MOD, "%s: not a keyring of a version this program knows", path);
		goto out;
	}
	check_entry = json_object_get(entries, CHECK_NAME);
	if (check_entry == NULL) {
		log_error(MOD, "%s: keyring has no check entry", path);
		goto out;
	}
	rc = open_entry(master, CHECK_NAME, check_entry, check, sizeof(check), &checklen);
	if (rc == CC_ERR_AUTH) {
		log_error(MOD, "%s: the master key does not open this keyring (wrong master key?)", path);
		goto out;
	}
	if (rc != CC_OK || checklen != sizeof(check_plaintext) - 1 ||
	    memcmp(check, check_plaintext, checklen) != 0) {
		log_error(MOD, "%s: keyring check entry is damaged", path);
		rc = CC_ERR_CORRUPT;
		goto out;
	}
	rc = keyring_alloc(path, master, &kr);
	if (rc != CC_OK)
		goto out;
	/* Every other entry must at least be a string; they are opened on use. */
	{
		const char *name;
		json_t *value;

		json_object_foreach(entries, name, value) {
			if (!json_is_string(value) || (!valid_name(name) && strcmp(name, CHECK_NAME) != 0)) {
				log_error(MOD, "%s: keyring entry is malformed", path);
				rc = CC_ERR_CORRUPT;
				goto out;
			}
		}
	}
	kr->entries = json_deep_copy(entries);
	if (kr->entries == NULL) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	json_object_del(kr->entries, CHECK_NAME);
	*out = kr;
	kr = NULL;
out:
	json_decref(root);
	keyring_free(kr);
	return rc;
}

int keyring_load(const char *path, const uint8_t master[KEYRING_MASTER_LEN], struct keyring **out)
{
	unsigned char *text = NULL;
	size_t len = 0;
	int rc;

	rc = file_read_secret(path, CC_SMALL_FILE_MAX, &text, &len);
	if (rc != CC_OK)
		return rc;
	rc = keyring_parse(path, (const char *)text, len, master, out);
	file_free_secret(text, len);
	return rc;
}

void keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	json_decref(kr->entries);
	crypto_wipe(kr, sizeof(*kr));
	free(kr);
}

int keyring_get(const struct keyring *kr, const char *name, uint8_t *out, size_t cap, size_t *len)
{
	const json_t *value = json_object_get(kr->entries, name);
	int rc;

	if (value == NULL)
		return CC_ERR_NOTFOUND;
	rc = open_entry(kr->master, name, value, out, cap, len);
	if (rc != CC_OK)
		log_error(MOD, "%s: entry %s does not open", kr->path, name);
	return rc;
}

int keyring_has(const struct keyring *kr, const char *name)
{
	return json_object_get(kr->entries, name) != NULL;
}

int keyring_set(struct keyring *kr, const char *name, const void *secret, size_t len)
{
	json_t *sealed = NULL;
	int rc;

	if (!valid_name(name) || strcmp(name, CHECK_NAME) == 0)
		return CC_ERR_INVALID;
	rc = seal_entry(kr->master, name, secret, len, &sealed);
	if (rc != CC_OK)
		return rc;
	return json_object_set_new(kr->entries, name, sealed) == 0 ? CC_OK : CC_ERR_NOMEM;
}

int keyring_remove(struct keyring *kr, const char *name)
{
	return json_object_del(kr->entries, name) == 0 ? CC_OK : CC_ERR_NOTFOUND;
}

int keyring_save(struct keyring *kr)
{
	json_t *root = NULL, *entries = NULL, *check = NULL;
	char *text = NULL;
	int rc = CC_ERR_NOMEM;

	entries = json_deep_copy(kr->entries);
	if (entries == NULL)
		goto out;
	rc = seal_entry(kr->master, CHECK_NAME, check_plaintext, sizeof(check_plaintext) - 1, &check);
	if (rc != CC_OK)
		goto out;
	rc = CC_ERR_NOMEM;
	if (json_object_set_new(entries, CHECK_NAME, check) != 0)
		goto out;
	root = json_pack("{s:s, s:i, s:o}", "format", KEYRING_FORMAT, "version", KEYRING_VERSION,
	                 "entries", entries);
	entries = NULL; /* json_pack's "o" took it, even on failure */
	if (root == NULL)
		goto out;
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (text == NULL)
		goto out;
	rc = file_write_atomic(kr->path, text, strlen(text), 0600);
out:
	free(text);
	json_decref(root);
	json_decref(entries);
	return rc;
}

int keyring_rewrap(struct keyring *kr, const uint8_t new_master[KEYRING_MASTER_LEN])
{
	uint8_t secret[KEYRING_SECRET_MAX];
	json_t *fresh = json_object(), *sealed;
	const char *name;
	json_t *value;
	size_t len;
	int rc = CC_OK;

	if (fresh == NULL)
		return CC_ERR_NOMEM;
	json_object_foreach(kr->entries, name, value) {
		rc = open_entry(kr->master, name, value, secret, sizeof(secret), &len);
		if (rc == CC_OK)
			rc = seal_entry(new_master, name, secret, len, &sealed);
		crypto_wipe(secret, sizeof(secret));
		if (rc != CC_OK) {
			log_error(MOD, "%s: entry %s could not be re-wrapped", kr->path, name);
			json_decref(fresh);
			return rc;
		}
		if (json_object_set_new(fresh, name, sealed) != 0) {
			json_decref(fresh);
			return CC_ERR_NOMEM;
		}
	}
	json_decref(kr->entries);
	kr->entries = fresh;
	memcpy(kr->master, new_master, KEYRING_MASTER_LEN);
	return CC_OK;
}

int keyring_lock(const char *path)
{
	char lock_path[4200];
	int n = snprintf(lock_path, sizeof(lock_path), "%s.lock", path);
	int fd;

	if (n < 0 || (size_t)n >= sizeof(lock_path))
		return CC_ERR_LIMIT;
	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_error(MOD, "%s: %s", lock_path, strerror(errno));
		return CC_ERR_IO;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(fd);
			return CC_ERR_IO;
		}
	}
	return fd;
}

void keyring_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the last descriptor releases the flock */
}
