/* backup.c - backup_create and backup_restore (backup.h). */
#include "ops/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "access/audit.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "crypto/keyring.h"
#include "store/backup.h"
#include "vault/vault.h"

#define MOD "backup"
#define FILES_MAX 64
#define MANIFEST_MAX (256 * 1024)
#define PATH_CAP (VAULT_PATH_MAX + 256)

struct entry {
	char name[128];
	int64_t bytes;
	unsigned mode;
	char sha256[65];
};

/* A name a backup may hold: one plain path segment. */
static int plain_name(const char *n)
{
	size_t i, len = strlen(n);

	if (len == 0 || len >= sizeof(((struct entry *)0)->name) || n[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') ||
		      n[i] == '.' || n[i] == '_' || n[i] == '-'))
			return 0;
	return 1;
}

/* Copies src to a new file dst (mode), streaming, with its SHA-256 and size;
 * synced. */
static int copy_file(const char *src, const char *dst, unsigned mode, char sha_hex[65], int64_t *bytes)
{
	unsigned char buf[65536], md[32];
	unsigned int mdlen = 0;
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = CC_OK;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ssize_t n;

	*bytes = 0;
	if (in < 0 || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = in < 0 ? CC_ERR_IO : CC_ERR_NOMEM;
		goto done;
	}
	if (dst != NULL && (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
		rc = errno == EEXIST ? CC_ERR_EXISTS : CC_ERR_IO;
		goto done;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		ssize_t off = 0;

		EVP_DigestUpdate(ctx, buf, (size_t)n);
		*bytes += n;
		while (out >= 0 && off < n) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = CC_ERR_IO;
				goto done;
			}
			off += w;
		}
	}
	if (n < 0 || (out >= 0 && (fchmod(out, mode) != 0 || fsync(out) != 0)) ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
		rc = CC_ERR_IO;
		goto done;
	}
	hex_encode(md, 32, sha_hex, 65);
done:
	if (rc != CC_OK)
		log_error(MOD, "cannot copy %s%s%s: %s", src, dst ? " to " : "", dst ? dst : "", strerror(errno));
	EVP_MD_CTX_free(ctx);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

static int digest_of(const char *path, char sha_hex[65], int64_t *bytes)
{
	return copy_file(path, NULL, 0, sha_hex, bytes);
}

/* Files of the data directory copied as they are: everything but the store
 * (copied through SQLite), its journals, locks, temporary files and any
 * master key someone left inside. */
static int copied_as_is(const char *name)
{
	static const char *const skip_prefix[] = { "coffeecloud.db", "coffeecloud-inbox.db", "master.key" };
	size_t i, n = strlen(name);

	for (i = 0; i < sizeof(skip_prefix) / sizeof(skip_prefix[0]); i++)
		if (strncmp(name, skip_prefix[i], strlen(skip_prefix[i])) == 0)
			return 0;
	if (strcmp(name, "keyring") == 0)
		return 0; /* under its lock, apart */
	if ((n > 5 && strcmp(name + n - 5, ".lock") == 0) || (n > 4 && strcmp(name + n - 4, ".tmp") == 0))
		return 0;
	return plain_name(name);
}

static json_t *manifest_of(const struct entry *e, size_t n)
{
	json_t *files = json_array(), *doc;
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(files, json_pack("{s:s, s:I, s:s, s:s}", "name", e[i].name, "bytes",
		                                       (json_int_t)e[i].bytes, "mode", (e[i].mode & 077) ? "0644" : "0600",
		                                       "sha256", e[i].sha256));
	doc = json_pack("{s:s, s:s, s:I, s:o}", "format", BACKUP_FORMAT, "version", CC_VERSION, "created_ms",
	                (json_int_t)clock_now_ms(), "files", files);
	return doc;
}

static int add_entry(struct entry *e, size_t *n, const char *dest, const char *name, unsigned mode)
{
	char path[PATH_CAP];

	if (*n >= FILES_MAX)
		return CC_ERR_LIMIT;
	snprintf(e[*n].name, sizeof(e[*n].name), "%s", name);
	e[*n].mode = mode;
	if (file_join(path, sizeof(path), dest, name) != CC_OK || digest_of(path, e[*n].sha256, &e[*n].bytes) != CC_OK)
		return CC_ERR_IO;
	(*n)++;
	return CC_OK;
}

static void remove_tree(const char *dir, const struct entry *e, size_t n, int with_manifest)
{
	char path[PATH_CAP];
	size_t i;

	for (i = 0; i < n; i++)
		if (file_join(path, sizeof(path), dir, e[i].name) == CC_OK)
			unlink(path);
	if (with_manifest && file_join(path, sizeof(path), dir, BACKUP_MANIFEST) == CC_OK)
		unlink(path);
	rmdir(dir);
}

int backup_create(struct vault *v, const char *dest, json_t **summary)
{
	const char *dir = vault_path(v, VAULT_KEYRING);
	char data_dir[VAULT_PATH_MAX], src[PATH_CAP], dst[PATH_CAP];
	const char *db_names[STORE_BACKUP_FILES_MAX];
	struct entry *e = calloc(FILES_MAX, sizeof(*e));
	size_t n = 0, ndb = 0, i;
	char *text = NULL;
	json_t *doc = NULL;
	struct dirent *de;
	DIR *d = NULL;
	int rc, lock;

	if (e == NULL)
		return CC_ERR_NOMEM;
	snprintf(data_dir, sizeof(data_dir), "%s", dir);
	if (strrchr(data_dir, '/') != NULL)
		*strrchr(data_dir, '/') = '\0';
	if (file_exists(dest)) {
		log_error(MOD, "%s exists: a backup goes into a new directory", dest);
		free(e);
		return CC_ERR_EXISTS;
	}
	if (mkdir(dest, 0700) != 0) {
		log_error(MOD, "cannot create %s: %s", dest, strerror(errno));
		free(e);
		return CC_ERR_IO;
	}
	/* 1. The store, consistent while the daemon writes. */
	rc = store_backup(vault_path(v, VAULT_DB), dest, db_names, &ndb);
	for (i = 0; rc == CC_OK && i < ndb; i++)
		rc = add_entry(e, &n, dest, db_names[i], 0600);
	/* 2. The keyring, after the store: every organisation in the copy has its key. */
	if (rc == CC_OK) {
		lock = keyring_lock(vault_path(v, VAULT_KEYRING));
		if (lock < 0)
			rc = CC_ERR_IO;
		if (rc == CC_OK && file_join(dst, sizeof(dst), dest, "keyring") == CC_OK) {
			rc = copy_file(vault_path(v, VAULT_KEYRING), dst, 0600, e[n].sha256, &e[n].bytes);
			if (rc == CC_OK) {
				snprintf(e[n].name, sizeof(e[n].name), "keyring");
				e[n++].mode = 0600;
			}
		}
		if (lock >= 0)
			keyring_unlock(lock);
	}
	/* 3. The public files, and whatever else the directory keeps. */
	if (rc == CC_OK && (d = opendir(data_dir)) == NULL)
		rc = CC_ERR_IO;
	while (rc == CC_OK && (de = readdir(d)) != NULL) {
		struct stat st;

		if (!copied_as_is(de->d_name) || file_join(src, sizeof(src), data_dir, de->d_name) != CC_OK ||
		    lstat(src, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n >= FILES_MAX || file_join(dst, sizeof(dst), dest, de->d_name) != CC_OK) {
			rc = CC_ERR_LIMIT;
			break;
		}
		e[n].mode = (st.st_mode & 077) ? 0644 : 0600;
		rc = copy_file(src, dst, e[n].mode, e[n].sha256, &e[n].bytes);
		if (rc == CC_OK) {
			snprintf(e[n].name, sizeof(e[n].name), "%.127s", de->d_name);
			n++;
		}
	}
	if (d != NULL)
		closedir(d);
	/* 4. The manifest last: its presence says the backup is whole. */
	if (rc == CC_OK) {
		doc = manifest_of(e, n);
		text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		rc = text == NULL ? CC_ERR_NOMEM : CC_OK;
	}
	if (rc == CC_OK && file_join(dst, sizeof(dst), dest, BACKUP_MANIFEST) == CC_OK)
		rc = file_write_new(dst, text, strlen(text), 0600);
	if (rc == CC_OK)
		rc = file_sync_parent_dir(dst);
	free(text);
	if (rc != CC_OK) {
		log_error(MOD, "the backup into %s failed (%s): removed", dest, cc_strerror(rc));
		json_decref(doc);
		/* The store's copies may be there without an entry yet. */
		for (i = 0; i < ndb; i++)
			if (file_join(dst, sizeof(dst), dest, db_names[i]) == CC_OK)
				unlink(dst);
		remove_tree(dest, e, n, 0);
		free(e);
		return rc;
	}
	*summary = doc;
	free(e);
	return CC_OK;
}

/* ---- restore ---- */

static int read_manifest(const char *from, struct entry *e, size_t *n, char *why, size_t whycap)
{
	char path[PATH_CAP];
	unsigned char *text = NULL;
	size_t len = 0, i;
	json_error_t jerr;
	json_t *doc, *files, *f;
	const char *format;
	int rc = file_join(path, sizeof(path), from, BACKUP_MANIFEST);

	if (rc == CC_OK)
		rc = file_read_all(path, MANIFEST_MAX, &text, &len);
	if (rc != CC_OK) {
		snprintf(why, whycap, "%s has no readable %s: not a backup, or an unfinished one", from, BACKUP_MANIFEST);
		return rc == CC_ERR_NOTFOUND ? CC_ERR_NOTFOUND : CC_ERR_CORRUPT;
	}
	doc = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	format = json_string_value(json_object_get(doc, "format"));
	files = json_object_get(doc, "files");
	if (doc == NULL || format == NULL || strcmp(format, BACKUP_FORMAT) != 0 || !json_is_array(files) ||
	    json_array_size(files) == 0 || json_array_size(files) > FILES_MAX) {
		snprintf(why, whycap, "%s is not a %s manifest", BACKUP_MANIFEST, BACKUP_FORMAT);
		json_decref(doc);
		return CC_ERR_CORRUPT;
	}
	*n = 0;
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *sha = json_string_value(json_object_get(f, "sha256"));
		const char *mode = json_string_value(json_object_get(f, "mode"));
		json_t *bytes = json_object_get(f, "bytes");
		size_t j;

		if (name == NULL || !plain_name(name) || strcmp(name, BACKUP_MANIFEST) == 0 || sha == NULL ||
		    strlen(sha) != 64 || mode == NULL || (strcmp(mode, "0600") != 0 && strcmp(mode, "0644") != 0) ||
		    !json_is_integer(bytes) || json_integer_value(bytes) < 0) {
			snprintf(why, whycap, "%s: entry %zu is malformed", BACKUP_MANIFEST, i + 1);
			json_decref(doc);
			return CC_ERR_CORRUPT;
		}
		for (j = 0; j < *n; j++)
			if (strcmp(e[j].name, name) == 0) {
				snprintf(why, whycap, "%s names %s twice", BACKUP_MANIFEST, name);
				json_decref(doc);
				return CC_ERR_CORRUPT;
			}
		snprintf(e[*n].name, sizeof(e[*n].name), "%s", name);
		snprintf(e[*n].sha256, sizeof(e[*n].sha256), "%s", sha);
		e[*n].bytes = json_integer_value(bytes);
		e[*n].mode = strcmp(mode, "0644") == 0 ? 0644 : 0600;
		(*n)++;
	}
	json_decref(doc);
	for (i = 0; i < *n && strcmp(e[i].name, "keyring") != 0; i++)
		;
	if (i == *n) {
		snprintf(why, whycap, "the backup holds no keyring");
		return CC_ERR_CORRUPT;
	}
	return CC_OK;
}

int backup_restore(const char *from, const char *dir, const char *master_key_file, const char *actor,
                   struct backup_restore_report *out)
{
	struct entry *e = calloc(FILES_MAX, sizeof(*e));
	char src[PATH_CAP], dst[PATH_CAP], sha[65];
	size_t n = 0, done = 0, i;
	struct vault *v = NULL;
	struct audit_report ar;
	int rc;

	memset(out, 0, sizeof(*out));
	if (e == NULL)
		return CC_ERR_NOMEM;
	rc = read_manifest(from, e, &n, out->detail, sizeof(out->detail));
	if (rc != CC_OK) {
		free(e);
		return rc;
	}
	if (file_exists(dir)) {
		snprintf(out->detail, sizeof(out->detail), "%s exists: a restore makes a new data directory", dir);
		free(e);
		return CC_ERR_EXISTS;
	}
	if (mkdir(dir, 0700) != 0) {
		snprintf(out->detail, sizeof(out->detail), "cannot create %s: %s", dir, strerror(errno));
		free(e);
		return CC_ERR_IO;
	}
	for (i = 0; i < n && rc == CC_OK; i++) {
		int64_t bytes = 0;

		rc = file_join(src, sizeof(src), from, e[i].name);
		if (rc == CC_OK)
			rc = file_join(dst, sizeof(dst), dir, e[i].name);
		if (rc == CC_OK)
			rc = copy_file(src, dst, e[i].mode, sha, &bytes);
		if (rc == CC_OK || file_exists(dst))
			done = i + 1;
		if (rc == CC_OK && (bytes != e[i].bytes || strcmp(sha, e[i].sha256) != 0)) {
			snprintf(out->detail, sizeof(out->detail), "%s does not match the manifest (damaged or altered)",
			         e[i].name);
			rc = CC_ERR_CORRUPT;
		} else if (rc != CC_OK) {
			snprintf(out->detail, sizeof(out->detail), "cannot copy %s: %s", e[i].name, cc_strerror(rc));
		}
		out->files += rc == CC_OK;
		out->bytes += rc == CC_OK ? bytes : 0;
	}
	if (rc == CC_OK && file_join(dst, sizeof(dst), dir, "keyring") == CC_OK)
		rc = file_sync_parent_dir(dst);
	if (rc == CC_OK) {
		rc = vault_open(dir, master_key_file, &v);
		if (rc == CC_ERR_AUTH)
			snprintf(out->detail, sizeof(out->detail), "the master key does not open this backup's keyring "
			         "(another installation's key, or the wrong file): nothing was restored");
		else if (rc != CC_OK)
			snprintf(out->detail, sizeof(out->detail), "the restored directory does not open: %s", cc_strerror(rc));
	}
	if (rc == CC_OK) {
		rc = audit_verify(v, &ar);
		if (rc == CC_OK) {
			out->audit_records = ar.records;
		} else {
			snprintf(out->detail, sizeof(out->detail), "the audit log of the backup does not verify: %.150s",
			         rc == CC_ERR_CORRUPT ? ar.detail : cc_strerror(rc));
			rc = CC_ERR_CORRUPT;
		}
	}
	if (rc == CC_OK) {
		struct audit_event ev = { 0, actor, "", "backup.restore", "", "admin", "administration", "ok", 0 };

		rc = audit_append(v, &ev);
		if (rc != CC_OK)
			snprintf(out->detail, sizeof(out->detail), "cannot record the restore in the audit log: %s",
			         cc_strerror(rc));
	}
	vault_close(v);
	if (rc != CC_OK) {
		/* Nothing half-made stays: the store's journals too. */
		static const char *const extra[] = { "coffeecloud.db-wal", "coffeecloud.db-shm", "coffeecloud-inbox.db-wal",
			                             "coffeecloud-inbox.db-shm", "keyring.lock" };

		for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
			if (file_join(dst, sizeof(dst), dir, extra[i]) == CC_OK)
				unlink(dst);
		remove_tree(dir, e, done, 0);
		if (file_exists(dir))
			log_warn(MOD, "%s could not be removed entirely: delete it by hand", dir);
	}
	free(e);
	return rc;
}
