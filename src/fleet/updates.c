/* updates.c - see updates.h. */
#include "fleet/updates.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "fleet/inventory.h"
#include "update/release.h"
#include "vault/signing.h"

#define MOD "updates"
#define SLICE (64 * 1024)

int updates_key_add(struct vault *v, const char *pem, size_t len, const char *label, const char *by, char id[65])
{
	struct store *s = vault_store(v);
	struct store_release_key k;
	uint8_t pub[ED25519_PUBLIC_LEN];
	char *canon = NULL;
	int rc;

	memset(&k, 0, sizeof(k));
	if (label == NULL || strlen(label) > STORE_RELEASE_LABEL_MAX || strlen(by) > STORE_UPDATE_WHO_MAX) {
		log_error(MOD, "a release key's label is 0-%d characters", STORE_RELEASE_LABEL_MAX);
		return CC_ERR_INVALID;
	}
	for (const char *p = label; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			log_error(MOD, "a release key's label is one line of text");
			return CC_ERR_INVALID;
		}
	if (len > 4096 || ed25519_public_from_pem(pem, len, pub) != CC_OK) {
		log_error(MOD, "not an Ed25519 public key in PEM (the release.pub of `coffeecloud release keygen`)");
		return CC_ERR_INVALID;
	}
	/* Stored as we write it: one spelling per key. */
	rc = ed25519_public_pem(pub, &canon);
	if (rc == CC_OK)
		rc = ed25519_key_id(pub, k.key_id);
	if (rc != CC_OK || strlen(canon) > STORE_RELEASE_PEM_MAX) {
		free(canon);
		return rc != CC_OK ? rc : CC_ERR_INVALID;
	}
	snprintf(k.pem, sizeof(k.pem), "%s", canon);
	free(canon);
	snprintf(k.label, sizeof(k.label), "%s", label);
	snprintf(k.added_by, sizeof(k.added_by), "%s", by);
	k.added_ms = clock_now_ms();
	rc = s->ops->updates->release_key_add(s, &k);
	if (rc == CC_ERR_EXISTS)
		log_error(MOD, "release key %.16s... is known already (a revoked key is never trusted again)", k.key_id);
	if (rc == CC_OK)
		memcpy(id, k.key_id, sizeof(k.key_id));
	return rc;
}

static int key_id_valid(const char *id)
{
	size_t i;
	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return i == 64;
}

int updates_key_revoke(struct vault *v, const char *key_id, const char *by)
{
	struct store *s = vault_store(v);
	int rc;

	if (!key_id_valid(key_id)) {
		log_error(MOD, "a release key id is 64 lowercase hex digits (see release-key list)");
		return CC_ERR_INVALID;
	}
	rc = s->ops->updates->release_key_revoke(s, key_id, clock_now_ms(), by);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such release key");
	else if (rc == CC_ERR_STATE)
		log_error(MOD, "that release key is revoked already");
	return rc;
}

static int key_to_json(void *ctx, const struct store_release_key *k)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I}", "key_id", k->key_id, "label", k->label, "public_key",
	                      k->pem, "added_ms", (json_int_t)k->added_ms, "added_by", k->added_by, "revoked_ms",
	                      (json_int_t)k->revoked_ms);

	if (o == NULL)
		return CC_ERR_NOMEM;
	json_object_set_new(o, "revoked_by", k->revoked_ms != 0 ? json_string(k->revoked_by) : json_null());
	return json_array_append_new(ctx, o) == 0 ? 0 : CC_ERR_NOMEM;
}

int updates_keys_json(struct vault *v, json_t **out)
{
	struct store *s = vault_store(v);
	json_t *list = json_array();
	int rc = list != NULL ? s->ops->updates->release_key_list(s, key_to_json, list) : CC_ERR_NOMEM;

	if (rc != CC_OK) {
		json_decref(list);
		return rc;
	}
	*out = json_pack("{s:o}", "release_keys", list);
	return *out != NULL ? CC_OK : CC_ERR_NOMEM;
}

/* ---- the trusted keys as the verifier takes them ---- */

struct keyset {
	struct update_key keys[64];
	size_t n;
};

static int collect_key(void *ctx, const struct store_release_key *k)
{
	struct keyset *ks = ctx;

	if (ks->n == sizeof(ks->keys) / sizeof(ks->keys[0]))
		return 0; /* more than anyone rotates through; the oldest 64 are read */
	if (ed25519_public_from_pem(k->pem, strlen(k->pem), ks->keys[ks->n].pub) != CC_OK)
		return 0;
	ks->keys[ks->n++].revoked = k->revoked_ms != 0;
	return 0;
}

static int load_keys(struct vault *v, struct keyset *ks)
{
	struct store *s = vault_store(v);

	ks->n = 0;
	return s->ops->updates->release_key_list(s, collect_key, ks);
}

/* ---- artifacts ---- */

static int sha_valid(const char *sha)
{
	return sha != NULL && key_id_valid(sha);
}

static int artifacts_dir(struct vault *v)
{
	const char *dir = vault_path(v, VAULT_ARTIFACTS);

	return mkdir(dir, 0700) == 0 || errno == EEXIST ? CC_OK : CC_ERR_IO;
}

/* Copies fd into path, at most size + 1 bytes read, hashed on the way. */
static enum update_verdict copy_checked(int fd, const char *path, const struct update_meta *m, int *io)
{
	struct update_download d;
	unsigned char *buf = malloc(SLICE);
	int out = -1;
	enum update_verdict verdict = UPDATE_HASH_MISMATCH;
	ssize_t n;

	*io = CC_OK;
	if (buf == NULL || update_download_begin(&d, m) != CC_OK) {
		free(buf);
		*io = CC_ERR_NOMEM;
		return UPDATE_HASH_MISMATCH;
	}
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		log_error(MOD, "%s: %s", path, strerror(errno));
		*io = CC_ERR_IO;
		goto out;
	}
	for (;;) {
		n = read(fd, buf, SLICE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*io = CC_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		if (update_download_feed(&d, buf, (size_t)n) != UPDATE_ACCEPT) {
			verdict = UPDATE_TOO_LARGE;
			goto out;
		}
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				log_error(MOD, "%s: %s", path, strerror(errno));
				*io = CC_ERR_IO;
				goto out;
			}
			done += w;
		}
	}
	if (fsync(out) != 0) {
		*io = CC_ERR_IO;
		goto out;
	}
	verdict = update_download_finish(&d);
out:
	update_download_free(&d);
	if (out >= 0)
		close(out);
	free(buf);
	return verdict;
}

static void join_models(const struct update_meta *m, char *out, size_t cap)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < m->nmodels; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i > 0 ? "," : "", m->models[i]);
}

/* The metadata as the server takes it in: verified against the trusted
 * keys, unexpired, valid model names, not stored already. */
static int check_meta(struct vault *v, const char *meta, size_t metalen, struct update_meta *m,
                      char why[UPDATES_WHY_MAX])
{
	struct store *s = vault_store(v);
	struct keyset ks;
	struct update_trust trust = { ks.keys, 0, NULL, 0 };
	struct store_artifact a;
	enum update_verdict verdict;
	int rc;

	why[0] = '\0';
	rc = load_keys(v, &ks);
	if (rc != CC_OK)
		return rc;
	trust.nrelease = ks.n;
	verdict = update_check_meta(meta, metalen, &trust, NULL, m);
	if (verdict != UPDATE_ACCEPT) {
		snprintf(why, UPDATES_WHY_MAX, "metadata refused: %s", update_verdict_name(verdict));
		return verdict == UPDATE_MALFORMED ? CC_ERR_INVALID : CC_ERR_AUTH;
	}
	if (m->expires * 1000 <= clock_now_ms()) {
		snprintf(why, UPDATES_WHY_MAX, "metadata refused: expired");
		return CC_ERR_INVALID;
	}
	for (size_t i = 0; i < m->nmodels; i++)
		if (!inventory_name_valid(m->models[i])) {
			snprintf(why, UPDATES_WHY_MAX, "metadata refused: a model is not a valid name");
			return CC_ERR_INVALID;
		}
	rc = s->ops->updates->artifact_get(s, m->sha256, &a, NULL);
	if (rc == CC_OK) {
		snprintf(why, UPDATES_WHY_MAX, "artifact %.16s... is stored already", m->sha256);
		return CC_ERR_EXISTS;
	}
	return rc == CC_ERR_NOTFOUND ? artifacts_dir(v) : rc;
}

static void part_paths(struct vault *v, const char *sha, char *part, char *final, char *metapath, size_t cap)
{
	snprintf(part, cap, "%s/.%s.part", vault_path(v, VAULT_ARTIFACTS), sha);
	snprintf(final, cap, "%s/%s", vault_path(v, VAULT_ARTIFACTS), sha);
	snprintf(metapath, cap, "%s/.%s.meta", vault_path(v, VAULT_ARTIFACTS), sha);
}

/* A checked part file becomes the artifact: renamed, then its row. */
static int publish(struct vault *v, const struct update_meta *m, const char *meta, const char *part,
                   const char *final, const char *by)
{
	struct store *s = vault_store(v);
	struct store_artifact a;
	int rc;

	memset(&a, 0, sizeof(a));
	memcpy(a.sha256, m->sha256, sizeof(a.sha256));
	memcpy(a.version, m->version, sizeof(a.version));
	join_models(m, a.models, sizeof(a.models));
	a.size = (int64_t)m->size;
	memcpy(a.key_id, m->key_id, sizeof(a.key_id));
	a.expires_ms = m->expires * 1000;
	a.added_ms = clock_now_ms();
	snprintf(a.added_by, sizeof(a.added_by), "%s", by);
	if (rename(part, final) != 0 || file_sync_parent_dir(final) != CC_OK) {
		(void)unlink(part);
		return CC_ERR_IO;
	}
	rc = s->ops->updates->artifact_add(s, &a, meta);
	if (rc != CC_OK && rc != CC_ERR_EXISTS)
		(void)unlink(final);
	return rc;
}

int updates_artifact_add(struct vault *v, int fd, const char *meta, size_t metalen, const char *by,
                         struct update_meta *m, char why[UPDATES_WHY_MAX])
{
	char part[VAULT_PATH_MAX + 80], final[VAULT_PATH_MAX + 80], metapath[VAULT_PATH_MAX + 80];
	enum update_verdict verdict;
	int rc = check_meta(v, meta, metalen, m, why), io = CC_OK;

	if (rc != CC_OK)
		return rc;
	part_paths(v, m->sha256, part, final, metapath, sizeof(part));
	/* A part file is what a crashed or abandoned upload left: never a published artifact. */
	(void)unlink(part);
	(void)unlink(metapath);
	verdict = copy_checked(fd, part, m, &io);
	if (io != CC_OK || verdict != UPDATE_ACCEPT) {
		(void)unlink(part);
		if (io != CC_OK)
			return io;
		snprintf(why, UPDATES_WHY_MAX, "file refused: %s", verdict == UPDATE_TOO_LARGE
		                                                        ? "more bytes than the signed size"
		                                                        : "its size or SHA-256 is not the signed one");
		return CC_ERR_INVALID;
	}
	return publish(v, m, meta, part, final, by);
}

/* ---- the upload in slices (the API) ---- */

int updates_upload_begin(struct vault *v, const char *meta, size_t metalen, struct update_meta *m,
                         char why[UPDATES_WHY_MAX])
{
	char part[VAULT_PATH_MAX + 80], final[VAULT_PATH_MAX + 80], metapath[VAULT_PATH_MAX + 80];
	int fd, rc = check_meta(v, meta, metalen, m, why);

	if (rc != CC_OK)
		return rc;
	part_paths(v, m->sha256, part, final, metapath, sizeof(part));
	rc = file_write_atomic(metapath, meta, metalen, 0600);
	if (rc != CC_OK)
		return rc;
	/* Starting again discards what an earlier attempt sent. */
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return CC_ERR_IO;
	close(fd);
	return CC_OK;
}

static void upload_drop(const char *part, const char *metapath)
{
	(void)unlink(part);
	(void)unlink(metapath);
}

int updates_upload_append(struct vault *v, const char *sha256, uint64_t offset, const void *data, size_t len,
                          const char *by, uint64_t *received, int *done, char why[UPDATES_WHY_MAX])
{
	char part[VAULT_PATH_MAX + 80], final[VAULT_PATH_MAX + 80], metapath[VAULT_PATH_MAX + 80];
	unsigned char *meta = NULL;
	size_t metalen = 0;
	struct update_meta m;
	struct stat sb;
	int fd = -1, rc, io = CC_OK;

	why[0] = '\0';
	*done = 0;
	*received = 0;
	if (!sha_valid(sha256))
		return CC_ERR_NOTFOUND;
	part_paths(v, sha256, part, final, metapath, sizeof(part));
	if (file_read_all(metapath, CC_UPDATE_DOC_MAX, &meta, &metalen) != CC_OK) {
		snprintf(why, UPDATES_WHY_MAX, "no upload of this artifact is under way: POST its metadata first");
		return CC_ERR_NOTFOUND;
	}
	/* Checked again: a key revoked while the upload runs stops it. */
	rc = check_meta(v, (const char *)meta, metalen, &m, why);
	if (rc == CC_OK && strcmp(m.sha256, sha256) != 0)
		rc = CC_ERR_CORRUPT;
	if (rc != CC_OK) {
		if (rc != CC_ERR_EXISTS)
			upload_drop(part, metapath);
		goto out;
	}
	fd = open(part, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		snprintf(why, UPDATES_WHY_MAX, "no upload of this artifact is under way: POST its metadata first");
		rc = CC_ERR_NOTFOUND;
		goto out;
	}
	*received = (uint64_t)sb.st_size;
	if (offset != *received) {
		snprintf(why, UPDATES_WHY_MAX, "the upload is at byte %llu: send from there",
		         (unsigned long long)*received);
		rc = CC_ERR_STATE;
		goto out;
	}
	if (len > m.size - offset) {
		/* Endless data: the upload is over, nothing of it is kept. */
		upload_drop(part, metapath);
		snprintf(why, UPDATES_WHY_MAX, "file refused: more bytes than the signed size");
		rc = CC_ERR_INVALID;
		goto out;
	}
	for (size_t put = 0; put < len;) {
		ssize_t w = write(fd, (const unsigned char *)data + put, len - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = CC_ERR_IO;
			goto out;
		}
		put += (size_t)w;
	}
	if (fsync(fd) != 0) {
		rc = CC_ERR_IO;
		goto out;
	}
	*received = offset + len;
	if (*received < m.size)
		goto out;
	close(fd);
	fd = -1;
	/* Complete: the bytes on disk, hashed a slice at a time, must be the signed ones. */
	{
		char got[65];
		uint64_t size = 0;

		io = update_hash_file(part, got, &size);
		if (io != CC_OK || size != m.size || strcmp(got, m.sha256) != 0) {
			upload_drop(part, metapath);
			if (io == CC_OK)
				snprintf(why, UPDATES_WHY_MAX, "file refused: its SHA-256 is not the signed one");
			rc = io != CC_OK ? io : CC_ERR_INVALID;
			goto out;
		}
	}
	rc = publish(v, &m, (const char *)meta, part, final, by);
	(void)unlink(metapath);
	if (rc == CC_OK)
		*done = 1;
out:
	if (fd >= 0)
		close(fd);
	free(meta);
	return rc;
}

static json_t *artifact_json(const struct store_artifact *a)
{
	json_t *models = json_array(), *o;
	char iso[40], *copy = strdup(a->models), *save = NULL;

	if (copy == NULL || models == NULL) {
		free(copy);
		json_decref(models);
		return NULL;
	}
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
		json_array_append_new(models, json_string(t));
	free(copy);
	clock_format_iso(a->expires_ms, iso, sizeof(iso));
	o = json_pack("{s:s, s:s, s:o, s:I, s:s, s:s, s:I, s:s}", "sha256", a->sha256, "version", a->version, "models",
	              models, "size", (json_int_t)a->size, "key_id", a->key_id, "expires", iso, "added_ms",
	              (json_int_t)a->added_ms, "added_by", a->added_by);
	return o;
}

static int artifact_to_json(void *ctx, const struct store_artifact *a)
{
	json_t *o = artifact_json(a);
	return o != NULL && json_array_append_new(ctx, o) == 0 ? 0 : CC_ERR_NOMEM;
}

int updates_artifacts_json(struct vault *v, json_t **out)
{
	struct store *s = vault_store(v);
	json_t *list = json_array();
	int rc = list != NULL ? s->ops->updates->artifact_list(s, artifact_to_json, list) : CC_ERR_NOMEM;

	if (rc != CC_OK) {
		json_decref(list);
		return rc;
	}
	*out = json_pack("{s:o}", "artifacts", list);
	return *out != NULL ? CC_OK : CC_ERR_NOMEM;
}

int updates_artifact_json(struct vault *v, const char *sha256, json_t **out)
{
	struct store *s = vault_store(v);
	struct store_artifact a;
	struct update_meta m;
	const char *inner;
	size_t innerlen;
	uint8_t sig[ED25519_SIG_LEN];
	char *meta = NULL;
	int rc;

	if (!sha_valid(sha256))
		return CC_ERR_NOTFOUND;
	rc = s->ops->updates->artifact_get(s, sha256, &a, &meta);
	if (rc != CC_OK)
		return rc;
	*out = artifact_json(&a);
	if (*out != NULL && update_envelope_split(meta, strlen(meta), &inner, &innerlen, sig) == CC_OK &&
	    update_meta_parse(inner, innerlen, &m) == CC_OK) {
		json_object_set_new(*out, "min_from_version", json_string(m.min_from));
		json_object_set_new(*out, "notes", json_string(m.notes));
	}
	if (*out != NULL)
		json_object_set_new(*out, "metadata", json_string(meta));
	free(meta);
	return *out != NULL ? CC_OK : CC_ERR_NOMEM;
}

int updates_artifact_file(struct vault *v, const char *sha256, char *path, size_t cap, int64_t *size)
{
	struct store *s = vault_store(v);
	struct store_artifact a;
	int rc;

	if (!sha_valid(sha256))
		return CC_ERR_NOTFOUND;
	rc = s->ops->updates->artifact_get(s, sha256, &a, NULL);
	if (rc != CC_OK)
		return rc;
	if ((size_t)snprintf(path, cap, "%s/%s", vault_path(v, VAULT_ARTIFACTS), a.sha256) >= cap)
		return CC_ERR_LIMIT;
	*size = a.size;
	return CC_OK;
}

/* ---- offers ---- */

static int key_trusted(struct vault *v, const char *key_id)
{
	struct keyset ks;
	char id[65];

	if (load_keys(v, &ks) != CC_OK)
		return 0;
	for (size_t i = 0; i < ks.n; i++)
		if (ed25519_key_id(ks.keys[i].pub, id) == CC_OK && strcmp(id, key_id) == 0)
			return !ks.keys[i].revoked;
	return 0;
}

static int model_in(const char *models, const char *model)
{
	size_t n = strlen(model);

	for (const char *p = models; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if (len == n && memcmp(p, model, n) == 0)
			return 1;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int updates_offer(struct vault *v, const char *serial, const char *sha256, const char *by,
                  char why[UPDATES_WHY_MAX])
{
	struct store *s = vault_store(v);
	struct store_machine m;
	struct store_artifact a;
	int rc;

	why[0] = '\0';
	if (serial == NULL || !inventory_serial_valid(serial)) {
		snprintf(why, UPDATES_WHY_MAX, "not a valid serial");
		return CC_ERR_INVALID;
	}
	rc = s->ops->machine_find(s, serial, &m);
	if (rc == CC_ERR_NOTFOUND)
		snprintf(why, UPDATES_WHY_MAX, "no such machine");
	if (rc != CC_OK)
		return rc;
	if (m.revoked_ms != 0 || m.decommissioned_ms != 0 || m.moved) {
		snprintf(why, UPDATES_WHY_MAX, "the machine is not in service");
		return CC_ERR_STATE;
	}
	rc = sha_valid(sha256) ? s->ops->updates->artifact_get(s, sha256, &a, NULL) : CC_ERR_NOTFOUND;
	if (rc == CC_ERR_NOTFOUND)
		snprintf(why, UPDATES_WHY_MAX, "no such artifact");
	if (rc != CC_OK)
		return rc;
	if (!model_in(a.models, m.model)) {
		snprintf(why, UPDATES_WHY_MAX, "the artifact is not for model %s", m.model);
		return CC_ERR_INVALID;
	}
	if (a.expires_ms <= clock_now_ms()) {
		snprintf(why, UPDATES_WHY_MAX, "the artifact's metadata has expired: sign it again");
		return CC_ERR_STATE;
	}
	if (!key_trusted(v, a.key_id)) {
		snprintf(why, UPDATES_WHY_MAX, "the artifact's release key is revoked");
		return CC_ERR_STATE;
	}
	return s->ops->updates->offer_set(s, m.id, a.sha256, clock_now_ms(), by);
}

int updates_offer_doc(struct vault *v, const struct store_machine *m, char **offer, char **meta, char sha256[65])
{
	struct store *s = vault_store(v);
	struct store_artifact a;
	struct update_offer o;
	struct signing_key k;
	char *inner = NULL, *doc = NULL, *md = NULL, sha[65];
	size_t innerlen = 0, doclen = 0;
	int64_t at_ms = 0, now = clock_now_ms() / 1000;
	int rc = s->ops->updates->offer_get(s, m->id, sha, &at_ms);

	if (rc == CC_OK)
		rc = s->ops->updates->artifact_get(s, sha, &a, &md);
	if (rc != CC_OK)
		return rc;
	if (!key_trusted(v, a.key_id)) {
		free(md);
		return CC_ERR_NOTFOUND;
	}
	rc = signing_key_load(v, &k);
	if (rc != CC_OK) {
		free(md);
		return rc;
	}
	memset(&o, 0, sizeof(o));
	memcpy(o.key_id, k.id, sizeof(o.key_id));
	snprintf(o.serial, sizeof(o.serial), "%s", m->serial);
	memcpy(o.sha256, a.sha256, sizeof(o.sha256));
	memcpy(o.version, a.version, sizeof(o.version));
	o.issued = now;
	o.expires = now + UPDATES_OFFER_TTL_S;
	rc = update_offer_encode(&o, &inner, &innerlen);
	if (rc == CC_OK)
		rc = update_envelope(k.seed, inner, innerlen, &doc, &doclen);
	signing_key_wipe(&k);
	free(inner);
	if (rc != CC_OK) {
		free(md);
		return rc;
	}
	if (sha256 != NULL)
		memcpy(sha256, a.sha256, 65);
	*offer = doc;
	*meta = md;
	return CC_OK;
}

int updates_status_json(struct vault *v, const struct store_machine *m, json_t **out)
{
	struct store *s = vault_store(v);
	struct store_offer o;
	struct store_artifact a;
	struct store_rollout_machine row;
	struct store_rollout r;
	json_t *offer = json_null(), *rollout = json_null(), *rollout_state = json_null(), *phase = json_null();
	int rc = s->ops->begin_read(s);

	if (rc != CC_OK)
		return rc;
	rc = s->ops->updates->offer_status(s, m->id, &o);
	if (rc == CC_OK)
		rc = s->ops->updates->artifact_get(s, o.sha256, &a, NULL);
	/* A rollout's offer names its rollout; one made to the machine alone, none. */
	if (rc == CC_OK && s->ops->rollouts->active_of(s, m->id, &row) == CC_OK &&
	    s->ops->rollouts->get(s, row.rollout_id, &r) == CC_OK && strcmp(r.sha256, o.sha256) == 0) {
		rollout = json_integer(row.rollout_id);
		rollout_state = json_string(r.state);
		phase = json_integer(row.phase + 1);
	}
	if (rc == CC_OK) {
		offer = json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:s, s:I, s:s, s:I}", "sha256", o.sha256, "version",
		                  a.version, "offered_ms", (json_int_t)o.offered_ms, "offered_by", o.offered_by,
		                  "rollout", rollout, "rollout_state", rollout_state, "phase", phase, "state", o.state,
		                  "percent", (json_int_t)o.percent, "reason", o.reason, "updated_ms",
		                  (json_int_t)o.updated_ms);
	} else {
		json_decref(rollout);
		json_decref(rollout_state);
		json_decref(phase);
	}
	s->ops->rollback(s);
	if (rc != CC_OK && rc != CC_ERR_NOTFOUND)
		return rc;
	*out = json_pack("{s:s, s:o}", "serial", m->serial, "offer", offer);
	return *out != NULL ? CC_OK : CC_ERR_NOMEM;
}
