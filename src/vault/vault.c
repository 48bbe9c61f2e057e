#include "vault/vault.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/keyring.h"
#include "vault/rowmac.h"

#define MOD "vault"
#define DATA_KEY_LEN 32
#define AD_MAX (4 + 1 + 4 * 8 + 1 + 255)

static const char *const file_names[] = {
	[VAULT_MASTER_KEY] = "master.key",
	[VAULT_KEYRING] = "keyring",
	[VAULT_DB] = "coffeecloud.db",
	[VAULT_CA_CERT] = "ca.crt",
	[VAULT_SERVER_CERT] = "server.crt",
	[VAULT_CRL] = "ca.crl",
	[VAULT_ARTIFACTS] = "artifacts",
};
#define VAULT_FILE_COUNT (sizeof(file_names) / sizeof(file_names[0]))

struct data_key {
	int64_t org_id;
	uint8_t key[DATA_KEY_LEN];
};

struct vault {
	char dir[VAULT_PATH_MAX];
	char paths[VAULT_FILE_COUNT][VAULT_PATH_MAX];
	char master_path[VAULT_PATH_MAX];
	int master_is_internal;
	struct keyring *keyring;
	struct store *store;
	/* Unwrapped data keys, filled on first use. */
	struct data_key *keys;
	size_t nkeys, capkeys;
};

int vault_default_key_path(const char *dir, char *out, size_t cap)
{
	static const char suffix[] = ".master.key";
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || n + sizeof(suffix) > cap)
		return CC_ERR_LIMIT;
	memcpy(out, dir, n);
	memcpy(out + n, suffix, sizeof(suffix));
	return CC_OK;
}

static int set_paths(struct vault *v, const char *dir, const char *master_key_file)
{
	size_t i;
	int rc;

	if (strlen(dir) >= sizeof(v->dir))
		return CC_ERR_LIMIT;
	memcpy(v->dir, dir, strlen(dir) + 1);
	for (i = 0; i < VAULT_FILE_COUNT; i++) {
		rc = file_join(v->paths[i], sizeof(v->paths[i]), dir, file_names[i]);
		if (rc != CC_OK)
			return rc;
	}
	if (master_key_file == NULL || *master_key_file == '\0')
		master_key_file = getenv("CC_MASTER_KEY_FILE");
	if (master_key_file == NULL || *master_key_file == '\0') {
		/* A systemd credential (LoadCredential=/LoadCredentialEncrypted=master.key). */
		const char *creds = getenv("CREDENTIALS_DIRECTORY");

		if (creds != NULL && *creds == '/' &&
		    file_join(v->master_path, sizeof(v->master_path), creds, "master.key") == CC_OK &&
		    file_exists(v->master_path))
			return CC_OK;
	}
	if (master_key_file == NULL || *master_key_file == '\0') {
		/* The managed default: beside the directory, not in it. A data
		 * directory made before this rule keeps DIR/master.key (and is
		 * warned about). Rotation replaces a managed key in place. */
		v->master_is_internal = 1;
		rc = vault_default_key_path(dir, v->master_path, sizeof(v->master_path));
		if (rc != CC_OK)
			return rc;
		if (!file_exists(v->master_path) && file_exists(v->paths[VAULT_MASTER_KEY]))
			memcpy(v->master_path, v->paths[VAULT_MASTER_KEY], strlen(v->paths[VAULT_MASTER_KEY]) + 1);
		return CC_OK;
	}
	if (strlen(master_key_file) >= sizeof(v->master_path))
		return CC_ERR_LIMIT;
	memcpy(v->master_path, master_key_file, strlen(master_key_file) + 1);
	return CC_OK;
}

static void forget_keys(struct vault *v)
{
	crypto_wipe(v->keys, v->capkeys * sizeof(*v->keys));
	free(v->keys);
	v->keys = NULL;
	v->nkeys = v->capkeys = 0;
}

void vault_close(struct vault *v)
{
	if (v == NULL)
		return;
	if (v->store != NULL)
		v->store->ops->close(v->store);
	keyring_free(v->keyring);
	forget_keys(v);
	free(v);
}

static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

static int make_private_dir(const char *dir)
{
	if (mkdir(dir, 0700) != 0) {
		if (errno != EEXIST) {
			log_error(MOD, "%s: cannot create: %s", dir, strerror(errno));
			return CC_ERR_IO;
		}
		if (!dir_is_empty(dir)) {
			log_error(MOD, "%s: exists and is not empty; refusing to initialise over it", dir);
			return CC_ERR_EXISTS;
		}
	}
	if (chmod(dir, 0700) != 0) {
		log_error(MOD, "%s: cannot set mode 0700: %s", dir, strerror(errno));
		return CC_ERR_IO;
	}
	return CC_OK;
}

static int make_key_parent(const char *key_path)
{
	char parent[VAULT_PATH_MAX];
	char *slash;

	if (strlen(key_path) >= sizeof(parent))
		return CC_ERR_LIMIT;
	memcpy(parent, key_path, strlen(key_path) + 1);
	slash = strrchr(parent, '/');
	if (slash == NULL || slash == parent)
		return CC_OK;
	*slash = '\0';
	if (file_exists(parent))
		return CC_OK;
	if (mkdir(parent, 0700) != 0) {
		log_error(MOD, "%s: cannot create the master key's directory: %s", parent, strerror(errno));
		return CC_ERR_IO;
	}
	return CC_OK;
}

static int open_store(struct vault *v, int create)
{
	const struct store_ops *ops = store_backend_find("sqlite");
	int rc = ops->open(v->paths[VAULT_DB], create, &v->store);

	/* Every caller reaches the rows through the integrity wrapper. */
	if (rc == CC_OK)
		rc = rowmac_attach(v, &v->store);
	return rc;
}

int vault_create(const struct vault_create_opts *opts, struct vault **out)
{
	uint8_t master[KEYRING_MASTER_LEN];
	struct vault *v;
	int rc;

	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return CC_ERR_NOMEM;
	rc = set_paths(v, opts->dir, opts->master_key_file);
	if (rc == CC_OK)
		rc = make_private_dir(opts->dir);
	if (rc != CC_OK)
		goto out;
	/* A key file named outside the directory that does not exist yet is made
	 * there, in a private directory made for it if need be (/etc/coffeecloud). */
	if (!v->master_is_internal && !file_exists(v->master_path))
		rc = make_key_parent(v->master_path);
	if (rc == CC_OK && !file_exists(v->master_path))
		rc = keyring_master_generate(v->master_path, master);
	else
		rc = keyring_master_read(v->master_path, master);
	if (rc == CC_OK)
		rc = keyring_new(v->paths[VAULT_KEYRING], master, &v->keyring);
	crypto_wipe(master, sizeof(master));
	if (rc == CC_OK)
		rc = keyring_save(v->keyring);
	if (rc == CC_OK)
		rc = open_store(v, 1);
	/* SQLite creates the file per the umask; the -wal and -shm files follow its mode. */
	if (rc == CC_OK && chmod(v->paths[VAULT_DB], 0600) != 0)
		rc = CC_ERR_IO;
	if (rc != CC_OK)
		goto out;
	*out = v;
	v = NULL;
out:
	vault_close(v);
	return rc;
}

static int check_modes(struct vault *v)
{
	int rc = file_check_private(v->dir);

	if (rc == CC_ERR_NOTFOUND) {
		log_error(MOD, "%s: no such data directory (create one with: coffeecloud init --data %s)",
		          v->dir, v->dir);
		return rc;
	}
	if (rc != CC_OK)
		return rc;
	rc = file_check_private(v->paths[VAULT_KEYRING]);
	if (rc == CC_ERR_NOTFOUND) {
		log_error(MOD, "%s: missing; is %s a CoffeeCloud data directory?",
		          v->paths[VAULT_KEYRING], v->dir);
		return rc;
	}
	if (rc != CC_OK)
		return rc;
	rc = file_check_private(v->paths[VAULT_DB]);
	if (rc != CC_OK && rc != CC_ERR_NOTFOUND)
		return rc;
	rc = file_check_private(v->master_path);
	if (rc == CC_ERR_NOTFOUND) {
		log_error(MOD, "%s: no master key there (pass --master-key-file or set CC_MASTER_KEY_FILE)",
		          v->master_path);
	}
	return rc;
}

/* Loads the keyring with the configured master key. A rotation interrupted
 * between its two renames leaves master.key.new: whichever key opens the
 * keyring is the right one, and the directory is put back in order. */
static int load_keyring(struct vault *v)
{
	uint8_t master[KEYRING_MASTER_LEN];
	char pending[VAULT_PATH_MAX + 8];
	int rc;

	snprintf(pending, sizeof(pending), "%s.new", v->master_path);
	rc = keyring_master_read(v->master_path, master);
	if (rc == CC_OK)
		rc = keyring_load(v->paths[VAULT_KEYRING], master, &v->keyring);
	if (rc == CC_ERR_AUTH && v->master_is_internal && file_exists(pending)) {
		rc = keyring_master_read(pending, master);
		if (rc == CC_OK)
			rc = keyring_load(v->paths[VAULT_KEYRING], master, &v->keyring);
		if (rc == CC_OK) {
			log_warn(MOD, "finishing an interrupted master key rotation");
			if (rename(pending, v->master_path) != 0 || file_sync_parent_dir(v->master_path) != CC_OK)
				rc = CC_ERR_IO;
		}
	} else if (rc == CC_OK && v->master_is_internal && file_exists(pending)) {
		unlink(pending); /* a rotation that never reached its commit point */
	}
	crypto_wipe(master, sizeof(master));
	return rc;
}

int vault_open(const char *dir, const char *master_key_file, struct vault **out)
{
	struct vault *v;
	int rc;

	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return CC_ERR_NOMEM;
	rc = set_paths(v, dir, master_key_file);
	if (rc == CC_OK)
		rc = check_modes(v);
	if (rc == CC_OK)
		rc = load_keyring(v);
	if (rc == CC_OK && !file_exists(v->paths[VAULT_DB])) {
		log_error(MOD, "%s: missing", v->paths[VAULT_DB]);
		rc = CC_ERR_NOTFOUND;
	}
	if (rc == CC_OK)
		rc = open_store(v, 0);
	if (rc != CC_OK) {
		vault_close(v);
		return rc;
	}
	*out = v;
	return CC_OK;
}

int vault_check(struct vault *v)
{
	static const enum vault_file secret_files[] = { VAULT_KEYRING, VAULT_DB };
	int rc = file_check_private(v->dir), worst = rc;
	size_t i;

	for (i = 0; i < sizeof(secret_files) / sizeof(secret_files[0]); i++) {
		rc = file_check_private(v->paths[secret_files[i]]);
		if (rc != CC_OK && rc != CC_ERR_NOTFOUND)
			worst = rc;
	}
	rc = file_check_private(v->master_path);
	if (rc != CC_OK)
		worst = rc;
	rc = v->store->ops->check(v->store);
	if (rc != CC_OK) {
		log_error(MOD, "%s: integrity check failed", v->paths[VAULT_DB]);
		worst = rc;
	}
	rc = vault_rows_check(v);
	if (rc != CC_OK)
		worst = rc;
	return worst;
}

int vault_rows_check(struct vault *v)
{
	int bad = 0, rc = rowmac_check_all(v->store, &bad);

	if (rc == CC_OK && bad > 0) {
		log_error(MOD, "%d access row(s) do not match their integrity MAC", bad);
		rc = CC_ERR_CORRUPT;
	}
	return rc;
}

struct store *vault_store(struct vault *v) { return v->store; }

int vault_master_key_inside(const struct vault *v)
{
	char dir[PATH_MAX], key[PATH_MAX];
	size_t n;

	if (realpath(v->dir, dir) == NULL || realpath(v->master_path, key) == NULL)
		return 0;
	n = strlen(dir);
	return strncmp(key, dir, n) == 0 && (key[n] == '/' || key[n] == '\0');
}

const char *vault_path(const struct vault *v, enum vault_file which)
{
	if (which == VAULT_MASTER_KEY)
		return v->master_path;
	return v->paths[which];
}

static void org_key_name(int64_t org_id, char *out, size_t cap)
{
	snprintf(out, cap, "org:%lld", (long long)org_id);
}

/* Applies one change to the keyring under the cross-process lock, starting
 * from the file as it is now so that no other writer's change is lost. */
static int keyring_update(struct vault *v, int (*change)(struct keyring *, void *), void *arg)
{
	uint8_t master[KEYRING_MASTER_LEN];
	struct keyring *fresh = NULL;
	int lock, rc;

	lock = keyring_lock(v->paths[VAULT_KEYRING]);
	if (lock < 0)
		return lock;
	rc = keyring_master_read(v->master_path, master);
	if (rc == CC_OK)
		rc = keyring_load(v->paths[VAULT_KEYRING], master, &fresh);
	crypto_wipe(master, sizeof(master));
	if (rc == CC_OK)
		rc = change(fresh, arg);
	if (rc == CC_OK)
		rc = keyring_save(fresh);
	keyring_unlock(lock);
	if (rc != CC_OK) {
		keyring_free(fresh);
		return rc;
	}
	keyring_free(v->keyring);
	v->keyring = fresh;
	return CC_OK;
}

struct named_secret {
	const char *name;
	const void *secret;
	size_t len;
	int must_be_new;
};

static int change_put(struct keyring *kr, void *arg)
{
	struct named_secret *ns = arg;

	if (ns->must_be_new && keyring_has(kr, ns->name))
		return CC_ERR_EXISTS;
	return keyring_set(kr, ns->name, ns->secret, ns->len);
}

static int change_remove(struct keyring *kr, void *arg)
{
	return keyring_remove(kr, ((struct named_secret *)arg)->name);
}

int vault_org_key_create(struct vault *v, int64_t org_id)
{
	uint8_t key[DATA_KEY_LEN];
	char name[KEYRING_NAME_MAX + 1];
	struct named_secret ns = { name, key, sizeof(key), 1 };
	int rc;

	org_key_name(org_id, name, sizeof(name));
	rc = crypto_random(key, sizeof(key));
	if (rc == CC_OK)
		rc = keyring_update(v, change_put, &ns);
	crypto_wipe(key, sizeof(key));
	return rc;
}

int vault_org_key_destroy(struct vault *v, int64_t org_id)
{
	char name[KEYRING_NAME_MAX + 1];
	struct named_secret ns = { name, NULL, 0, 0 };
	size_t i;
	int rc;

	org_key_name(org_id, name, sizeof(name));
	rc = keyring_update(v, change_remove, &ns);
	for (i = 0; i < v->nkeys; i++) {
		if (v->keys[i].org_id == org_id) {
			v->keys[i] = v->keys[--v->nkeys];
			crypto_wipe(&v->keys[v->nkeys], sizeof(v->keys[0]));
			break;
		}
	}
	return rc;
}

int vault_org_key_exists(struct vault *v, int64_t org_id)
{
	char name[KEYRING_NAME_MAX + 1];

	org_key_name(org_id, name, sizeof(name));
	return keyring_has(v->keyring, name);
}

/* Another process (the CLI) may have added organisations since we loaded
 * the keyring: read it again. */
static int reload_keyring(struct vault *v)
{
	uint8_t master[KEYRING_MASTER_LEN];
	struct keyring *fresh = NULL;
	int rc = keyring_master_read(v->master_path, master);

	if (rc == CC_OK)
		rc = keyring_load(v->paths[VAULT_KEYRING], master, &fresh);
	crypto_wipe(master, sizeof(master));
	if (rc != CC_OK)
		return rc;
	keyring_free(v->keyring);
	v->keyring = fresh;
	return CC_OK;
}

int vault_keys_refresh(struct vault *v, void (*dropped)(void *ctx, int64_t org_id), void *ctx)
{
	char name[KEYRING_NAME_MAX + 1];
	size_t i = 0;
	int rc = reload_keyring(v), n = 0;

	if (rc != CC_OK)
		return rc;
	while (i < v->nkeys) {
		int64_t org_id = v->keys[i].org_id;

		org_key_name(org_id, name, sizeof(name));
		if (keyring_has(v->keyring, name)) {
			i++;
			continue;
		}
		v->keys[i] = v->keys[--v->nkeys];
		crypto_wipe(&v->keys[v->nkeys], sizeof(v->keys[0]));
		n++;
		if (dropped != NULL)
			dropped(ctx, org_id);
	}
	return n;
}

int vault_org_key_cached(const struct vault *v, int64_t org_id)
{
	size_t i;

	for (i = 0; i < v->nkeys; i++)
		if (v->keys[i].org_id == org_id)
			return 1;
	return 0;
}

/* Finds org_id's unwrapped data key, unwrapping it on first use. */
static int data_key(struct vault *v, int64_t org_id, const uint8_t **key)
{
	char name[KEYRING_NAME_MAX + 1];
	struct data_key *slot;
	size_t i, len;
	int rc;

	for (i = 0; i < v->nkeys; i++) {
		if (v->keys[i].org_id == org_id) {
			*key = v->keys[i].key;
			return CC_OK;
		}
	}
	if (v->nkeys == v->capkeys) {
		/* Grow by copying, so no stale key bytes are left in freed memory. */
		size_t used = v->nkeys, cap = v->capkeys ? v->capkeys * 2 : 16;
		struct data_key *grown = calloc(cap, sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		if (used > 0)
			memcpy(grown, v->keys, used * sizeof(*grown));
		forget_keys(v);
		v->keys = grown;
		v->capkeys = cap;
		v->nkeys = used;
	}
	org_key_name(org_id, name, sizeof(name));
	slot = &v->keys[v->nkeys];
	rc = keyring_get(v->keyring, name, slot->key, sizeof(slot->key), &len);
	if (rc == CC_ERR_NOTFOUND && reload_keyring(v) == CC_OK)
		rc = keyring_get(v->keyring, name, slot->key, sizeof(slot->key), &len);
	if (rc == CC_OK && len != DATA_KEY_LEN)
		rc = CC_ERR_CORRUPT;
	if (rc != CC_OK) {
		crypto_wipe(slot, sizeof(*slot));
		return rc;
	}
	slot->org_id = org_id;
	v->nkeys++;
	*key = slot->key;
	return CC_OK;
}

static void put64(uint8_t *p, int64_t x)
{
	uint64_t u = (uint64_t)x;
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(u & 0xff);
		u >>= 8;
	}
}

/* Serialises the row identity that a blob is bound to. */
static size_t build_ad(const struct seal_ad *ad, uint8_t out[AD_MAX])
{
	size_t namelen = ad->name ? strlen(ad->name) : 0, n = 0;

	if (namelen > 255)
		namelen = 255;
	memcpy(out, "CCAD", 4);
	n = 4;
	out[n++] = (uint8_t)ad->kind;
	put64(out + n, ad->org_id);
	put64(out + n + 8, ad->subject_id);
	put64(out + n + 16, ad->seq);
	put64(out + n + 24, ad->ts_ms);
	n += 32;
	out[n++] = (uint8_t)namelen;
	if (namelen > 0)
		memcpy(out + n, ad->name, namelen);
	return n + namelen;
}

int vault_seal(struct vault *v, const struct seal_ad *ad, const void *pt, size_t ptlen,
               uint8_t **blob, size_t *bloblen)
{
	uint8_t adbuf[AD_MAX];
	const uint8_t *key;
	uint8_t *out;
	size_t adlen = build_ad(ad, adbuf);
	int rc;

	rc = data_key(v, ad->org_id, &key);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "organisation %lld has no data key", (long long)ad->org_id);
	if (rc != CC_OK)
		return rc;
	out = malloc(ptlen + AEAD_OVERHEAD);
	if (out == NULL)
		return CC_ERR_NOMEM;
	rc = aead_seal(key, adbuf, adlen, pt, ptlen, out, ptlen + AEAD_OVERHEAD, bloblen);
	if (rc != CC_OK) {
		free(out);
		return rc;
	}
	*blob = out;
	return CC_OK;
}

int vault_seal_into(struct vault *v, const struct seal_ad *ad, const void *pt, size_t ptlen, uint8_t *blob,
                    size_t cap, size_t *bloblen)
{
	uint8_t adbuf[AD_MAX];
	const uint8_t *key;
	size_t adlen = build_ad(ad, adbuf);
	int rc;

	if (cap < AEAD_OVERHEAD || ptlen > cap - AEAD_OVERHEAD)
		return CC_ERR_LIMIT;
	rc = data_key(v, ad->org_id, &key);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "organisation %lld has no data key", (long long)ad->org_id);
	if (rc != CC_OK)
		return rc;
	return aead_seal(key, adbuf, adlen, pt, ptlen, blob, cap, bloblen);
}

int vault_unseal(struct vault *v, const struct seal_ad *ad, const uint8_t *blob, size_t bloblen,
                 uint8_t **pt, size_t *ptlen)
{
	uint8_t adbuf[AD_MAX];
	const uint8_t *key;
	uint8_t *out;
	size_t adlen = build_ad(ad, adbuf);
	int rc;

	rc = data_key(v, ad->org_id, &key);
	if (rc != CC_OK)
		return rc;
	if (bloblen < AEAD_OVERHEAD)
		return CC_ERR_CORRUPT;
	out = malloc(bloblen - AEAD_OVERHEAD + 1);
	if (out == NULL)
		return CC_ERR_NOMEM;
	rc = aead_open(key, adbuf, adlen, blob, bloblen, out, bloblen - AEAD_OVERHEAD, ptlen);
	if (rc != CC_OK) {
		free(out);
		return rc;
	}
	out[*ptlen] = '\0';
	*pt = out;
	return CC_OK;
}

int vault_secret_put(struct vault *v, const char *name, const void *secret, size_t len)
{
	struct named_secret ns = { name, secret, len, 0 };

	return keyring_update(v, change_put, &ns);
}

int vault_secret_get(struct vault *v, const char *name, char **out, size_t *len)
{
	char *buf = malloc(KEYRING_SECRET_MAX + 1);
	int rc;

	if (buf == NULL)
		return CC_ERR_NOMEM;
	rc = keyring_get(v->keyring, name, (uint8_t *)buf, KEYRING_SECRET_MAX, len);
	if (rc != CC_OK) {
		free(buf);
		return rc;
	}
	buf[*len] = '\0';
	*out = buf;
	return CC_OK;
}

struct get_or_create {
	const char *name;
	size_t create_len;
	uint8_t *out;
	size_t cap, *len;
	int *created;
};

static int change_get_or_create(struct keyring *kr, void *arg)
{
	struct get_or_create *g = arg;
	int rc = keyring_get(kr, g->name, g->out, g->cap, g->len);

	if (rc != CC_ERR_NOTFOUND || g->create_len == 0)
		return rc;
	if (g->create_len > g->cap)
		return CC_ERR_LIMIT;
	rc = crypto_random(g->out, g->create_len);
	if (rc == CC_OK)
		rc = keyring_set(kr, g->name, g->out, g->create_len);
	if (rc == CC_OK) {
		*g->len = g->create_len;
		*g->created = 1;
	}
	return rc;
}

int vault_secret_get_or_create(struct vault *v, const char *name, size_t create_len, uint8_t *out, size_t cap,
                               size_t *len, int *created)
{
	struct get_or_create g = { name, create_len, out, cap, len, created };

	*created = 0;
	return keyring_update(v, change_get_or_create, &g);
}

void vault_secret_free(char *secret, size_t len)
{
	if (secret == NULL)
		return;
	crypto_wipe(secret, len);
	free(secret);
}

int vault_rotate_master(struct vault *v, const char *new_key_file)
{
	uint8_t old_master[KEYRING_MASTER_LEN], new_master[KEYRING_MASTER_LEN];
	char pending[VAULT_PATH_MAX + 8];
	struct keyring *fresh = NULL;
	int lock, rc;

	rc = keyring_master_read(new_key_file, new_master);
	if (rc != CC_OK)
		return rc;
	lock = keyring_lock(v->paths[VAULT_KEYRING]);
	if (lock < 0) {
		crypto_wipe(new_master, sizeof(new_master));
		return lock;
	}
	rc = keyring_master_read(v->master_path, old_master);
	if (rc == CC_OK && crypto_equal(old_master, new_master, sizeof(new_master))) {
		log_error(MOD, "the new master key is the current one");
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK)
		rc = keyring_load(v->paths[VAULT_KEYRING], old_master, &fresh);
	if (rc == CC_OK)
		rc = keyring_rewrap(fresh, new_master);
	/* The internal key file changes too: park the new key beside it first,
	 * so that a crash at any point leaves a key that opens the keyring. */
	snprintf(pending, sizeof(pending), "%s.new", v->master_path);
	if (rc == CC_OK && v->master_is_internal)
		rc = keyring_master_write(pending, new_master, 1);
	if (rc == CC_OK)
		rc = keyring_save(fresh); /* the commit point */
	if (rc == CC_OK && v->master_is_internal) {
		if (rename(pending, v->master_path) != 0 || file_sync_parent_dir(v->master_path) != CC_OK) {
			log_error(MOD, "%s: could not be replaced; the new key waits in %s", v->master_path,
			          pending);
			rc = CC_ERR_IO;
		}
	} else if (rc != CC_OK && v->master_is_internal) {
		unlink(pending);
	}
	keyring_unlock(lock);
	crypto_wipe(old_master, sizeof(old_master));
	crypto_wipe(new_master, sizeof(new_master));
	if (rc != CC_OK) {
		keyring_free(fresh);
		return rc;
	}
	if (!v->master_is_internal && strlen(new_key_file) < sizeof(v->master_path))
		memcpy(v->master_path, new_key_file, strlen(new_key_file) + 1);
	keyring_free(v->keyring);
	v->keyring = fresh;
	return CC_OK;
}
