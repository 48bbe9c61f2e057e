#include "fleet/diagnostics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/diag_bundle.h"
#include "fleet/jobs.h"

#define MOD "diagnostics"

const char *diagnostics_state_name(enum store_diag_state s)
{
	static const char *const names[] = { "", "requested", "uploading", "complete", "failed", "expired" };

	return s >= DIAG_REQUESTED && s <= DIAG_EXPIRED ? names[s] : "failed";
}

static void chunk_ad(struct seal_ad *ad, const struct store_diag *d, const char *serial, int64_t offset)
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = SEAL_DIAGNOSTICS;
	ad->org_id = d->customer_id;
	ad->subject_id = d->id;
	ad->seq = offset;
	ad->ts_ms = d->requested_ms;
	ad->name = serial;
}

int diagnostics_request(struct vault *v, const struct store_machine *m, const char *by, int64_t max_bytes,
                        struct store_diag *out)
{
	struct store *s = vault_store(v);
	struct job_request req;
	const char *serials[1] = { m->serial };
	char body[256], bad[CC_SERIAL_MAX + 1];
	int64_t job = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->machine_id = m->id;
	out->customer_id = m->customer_id;
	snprintf(out->requested_by, sizeof(out->requested_by), "%s", by);
	out->requested_ms = clock_now_ms();
	out->expires_ms = out->requested_ms + DIAG_TTL_MS;
	out->max_bytes = max_bytes;
	out->state = DIAG_REQUESTED;
	rc = s->ops->diagnostics->add(s, out);
	if (rc != CC_OK)
		return rc;
	/* The machine learns where to put it and how much it may send. */
	snprintf(body, sizeof(body), "{\"bundle\":%lld,\"upload\":\"/api/v1/machine/diagnostics/%lld\",\"max_bytes\":%lld}",
	         (long long)out->id, (long long)out->id, (long long)max_bytes);
	memset(&req, 0, sizeof(req));
	req.name = "diagnostics";
	req.body = body;
	req.created_by = by;
	req.timeout_s = DIAG_TTL_MS / 1000;
	req.kind = JOB_TARGET_SERIALS;
	req.serials = serials;
	req.nserials = 1;
	rc = jobs_create(v, &req, &job, bad);
	if (rc != CC_OK) {
		out->state = DIAG_FAILED;
		snprintf(out->reason, sizeof(out->reason), "the command could not be sent");
	}
	out->job_id = job;
	if (s->ops->diagnostics->update(s, out) != CC_OK && rc == CC_OK)
		rc = CC_ERR_DB;
	return rc;
}

/* Ends an open bundle as failed or expired: what it held goes. */
static int end_bundle(struct store *s, struct store_diag *d, enum store_diag_state state, const char *reason)
{
	int rc = s->ops->diagnostics->chunks_drop(s, d->id);

	d->state = state;
	d->completed_ms = clock_now_ms();
	snprintf(d->reason, sizeof(d->reason), "%s", reason);
	if (rc == CC_OK)
		rc = s->ops->diagnostics->update(s, d);
	return rc;
}

static int seal_slice(struct vault *v, struct store_diag *d, const char *serial, int64_t offset,
                      const uint8_t *data, size_t len)
{
	struct store *s = vault_store(v);
	size_t done = 0;
	int rc = CC_OK;

	while (done < len && rc == CC_OK) {
		size_t n = len - done < STORE_DIAG_CHUNK ? len - done : STORE_DIAG_CHUNK;
		struct seal_ad ad;
		uint8_t *blob = NULL;
		size_t bloblen = 0;

		chunk_ad(&ad, d, serial, offset + (int64_t)done);
		rc = vault_seal(v, &ad, data + done, n, &blob, &bloblen);
		if (rc == CC_OK)
			rc = s->ops->diagnostics->chunk_add(s, d->id, offset + (int64_t)done, blob, bloblen);
		free(blob);
		done += n;
	}
	return rc;
}

/* Reads the whole bundle back: its digest, the head the manifest is in,
 * and every log line through the privacy filter (diag_bundle.h: refused,
 * not redacted). *line: the log line refused, 0 for none. */
static int verify(struct vault *v, const struct store_diag *d, const char *serial, const char *want_hex,
                  const char **why, enum privacy_reason *privacy, int64_t *line)
{
	struct diag_lines *lines = malloc(sizeof(*lines));
	enum privacy_reason in_lines = PRIVACY_NONE;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[32];
	unsigned int dlen = 0;
	char hex[65];
	uint8_t *head = malloc(DIAG_MANIFEST_MAX + 1);
	size_t headlen = 0, mlen;
	int64_t at = 0, off;
	int rc = md != NULL && head != NULL && lines != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
	             ? CC_OK : CC_ERR_NOMEM;

	*why = "";
	*line = 0;
	if (lines != NULL)
		diag_lines_init(lines);
	while (rc == CC_OK) {
		uint8_t *pt = NULL;
		size_t len = 0;

		rc = diagnostics_chunk(v, d, serial, at, &off, &pt, &len);
		if (rc == CC_ERR_NOTFOUND) {
			rc = CC_OK;
			break;
		}
		if (rc == CC_OK && off != at)
			rc = CC_ERR_CORRUPT;
		if (rc == CC_OK && EVP_DigestUpdate(md, pt, len) != 1)
			rc = CC_ERR_CRYPTO;
		if (rc == CC_OK)
			in_lines = diag_lines_feed(lines, pt, len);
		if (rc == CC_OK && headlen < DIAG_MANIFEST_MAX + 1) {
			size_t n = DIAG_MANIFEST_MAX + 1 - headlen < len ? DIAG_MANIFEST_MAX + 1 - headlen : len;
			memcpy(head + headlen, pt, n);
			headlen += n;
		}
		at += (int64_t)len;
		free(pt);
	}
	if (rc == CC_OK && (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || hex_encode(digest, 32, hex, sizeof(hex)) != CC_OK))
		rc = CC_ERR_CRYPTO;
	if (rc == CC_OK && (strlen(want_hex) != 64 || CRYPTO_memcmp(hex, want_hex, 64) != 0)) {
		*why = "the bundle's SHA-256 is not the one declared: upload it again";
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK)
		rc = diag_manifest_check(head, headlen, serial, &mlen, why, privacy);
	if (rc == CC_OK && (in_lines = diag_lines_end(lines)) != PRIVACY_NONE) {
		*why = "a log line holds personal or financial data";
		*privacy = in_lines;
		*line = lines->refused;
		rc = CC_ERR_INVALID;
	}
	EVP_MD_CTX_free(md);
	free(head);
	if (lines != NULL)
		OPENSSL_cleanse(lines, sizeof(*lines)); /* it held plain text of the bundle */
	free(lines);
	return rc;
}

static int sha_text_valid(const char *t)
{
	size_t i;

	if (t == NULL || strlen(t) != 64)
		return 0;
	for (i = 0; i < 64; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return 0;
	return 1;
}

int diagnostics_append(struct vault *v, const struct store_machine *m, int64_t id, int64_t offset,
                       const uint8_t *data, size_t len, int final, const char *sha256, struct store_diag *out,
                       char why[DIAG_WHY_MAX], enum privacy_reason *privacy)
{
	struct store *s = vault_store(v);
	const char *reason = "";
	char refused[STORE_DIAG_REASON_MAX + 1];
	int64_t line = 0;
	int rc, verdict = CC_OK;

	why[0] = '\0';
	*privacy = PRIVACY_NONE;
	memset(out, 0, sizeof(*out));
	if (final && !sha_text_valid(sha256)) {
		snprintf(why, DIAG_WHY_MAX, "sha256: the whole bundle's SHA-256, 64 lower-case hex digits, with final");
		return CC_ERR_INVALID;
	}
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->diagnostics->get(s, id, out);
	/* Another machine's bundle is not found, as one that does not exist. */
	if (rc == CC_OK && out->machine_id != m->id)
		rc = CC_ERR_NOTFOUND;
	if (rc == CC_ERR_NOTFOUND) {
		snprintf(why, DIAG_WHY_MAX, "no such diagnostics request for this machine");
		goto out;
	}
	if (rc != CC_OK)
		goto out;
	if ((out->state == DIAG_REQUESTED || out->state == DIAG_UPLOADING) && clock_now_ms() >= out->expires_ms) {
		rc = end_bundle(s, out, DIAG_EXPIRED, "not uploaded in time");
		verdict = CC_ERR_STATE;
	} else if (out->state != DIAG_REQUESTED && out->state != DIAG_UPLOADING) {
		verdict = CC_ERR_STATE;
	} else if (offset != out->received) {
		snprintf(why, DIAG_WHY_MAX, "the upload is at byte %lld: send from there", (long long)out->received);
		verdict = CC_ERR_STATE;
	} else if ((int64_t)len > out->max_bytes - out->received) {
		verdict = CC_ERR_LIMIT;
		snprintf(why, DIAG_WHY_MAX, "the bundle is larger than its limit of %lld bytes", (long long)out->max_bytes);
		rc = end_bundle(s, out, DIAG_FAILED, "larger than its limit");
	} else {
		rc = seal_slice(v, out, m->serial, offset, data, len);
		out->received += (int64_t)len;
		out->state = DIAG_UPLOADING;
		if (rc == CC_OK && final) {
			rc = verify(v, out, m->serial, sha256, &reason, privacy, &line);
			if (rc == CC_ERR_INVALID && line > 0) {
				/* Which line and which detector: never the line itself. */
				snprintf(refused, sizeof(refused), "log line %lld holds personal or financial data",
				         (long long)line);
				reason = refused;
			}
			if (rc == CC_ERR_INVALID) {
				verdict = CC_ERR_INVALID;
				snprintf(why, DIAG_WHY_MAX, "bundle refused: %s", reason);
				rc = end_bundle(s, out, DIAG_FAILED, reason);
			} else if (rc == CC_OK) {
				out->state = DIAG_COMPLETE;
				out->completed_ms = clock_now_ms();
				snprintf(out->sha256, sizeof(out->sha256), "%s", sha256);
			}
		}
		if (rc == CC_OK && verdict == CC_OK)
			rc = s->ops->diagnostics->update(s, out);
	}
	if (verdict == CC_ERR_STATE && why[0] == '\0')
		snprintf(why, DIAG_WHY_MAX, "this diagnostics request is %s: ask for a new one",
		         diagnostics_state_name(out->state));
out:
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	else
		s->ops->rollback(s);
	if (rc == CC_OK && verdict != CC_OK)
		rc = verdict;
	if (rc == CC_ERR_INVALID && *privacy != PRIVACY_NONE)
		log_warn(MOD, "a diagnostics bundle of %s was refused: %s in its %s (its content is not logged)",
		         m->serial, privacy_reason_name(*privacy), line > 0 ? "log lines" : "manifest");
	return rc;
}

int diagnostics_chunk(struct vault *v, const struct store_diag *d, const char *serial, int64_t from,
                      int64_t *offset, uint8_t **pt, size_t *len)
{
	struct store *s = vault_store(v);
	struct seal_ad ad;
	uint8_t *blob = NULL;
	size_t bloblen = 0;
	int rc = s->ops->diagnostics->chunk_next(s, d->id, from, offset, &blob, &bloblen);

	*pt = NULL;
	*len = 0;
	if (rc != CC_OK)
		return rc;
	chunk_ad(&ad, d, serial, *offset);
	rc = vault_unseal(v, &ad, blob, bloblen, pt, len);
	free(blob);
	/* A shredded key: the bundle is gone, not damaged. */
	return rc == CC_ERR_NOTFOUND ? CC_ERR_AUTH : rc;
}

json_t *diagnostics_json(const struct store_diag *d, const char *serial)
{
	char req[40], exp[40], done[40];
	json_t *doc;

	clock_format_iso(d->requested_ms, req, sizeof(req));
	clock_format_iso(d->expires_ms, exp, sizeof(exp));
	doc = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id", (json_int_t)d->id, "serial", serial,
	                "state", diagnostics_state_name(d->state), "requested_by", d->requested_by, "requested", req,
	                "expires", exp, "max_bytes", (json_int_t)d->max_bytes, "received", (json_int_t)d->received,
	                "job", (json_int_t)d->job_id);
	if (doc == NULL)
		return NULL;
	if (d->completed_ms > 0) {
		clock_format_iso(d->completed_ms, done, sizeof(done));
		json_object_set_new(doc, d->state == DIAG_COMPLETE ? "completed" : "ended", json_string(done));
	}
	if (d->state == DIAG_COMPLETE)
		json_object_set_new(doc, "sha256", json_string(d->sha256));
	if (d->reason[0] != '\0')
		json_object_set_new(doc, "reason", json_string(d->reason));
	return doc;
}

int diagnostics_sweep(struct vault *v, int64_t retention_days, int64_t *n)
{
	struct store *s = vault_store(v);
	int64_t now = clock_now_ms();

	return s->ops->diagnostics->sweep(s, now, retention_days > 0 ? now - retention_days * 86400000LL : 0, n);
}
