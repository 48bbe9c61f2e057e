/* updates.c - software updates through the API (docs/UPDATES.md).
 *
 * People: the release keys the platform trusts (its administrators), the
 * artifacts and offers (the manufacturer's engineers and administrators).
 * Machines: their current offer, freshly signed, and the download of the
 * offered artifact - both on people's HTTPS listener, authenticated by the
 * machine's own certificate (mutual TLS: asked for, not required, by that
 * listener; checked here against the fleet CA, the CRL and the machine's
 * row), never by a credential. A download honours one Range; its first
 * 64 KiB go out behind the headers, the rest from the sender thread
 * (http/sender.h), a 64 KiB read at a time as the client takes it. */
#include "api/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "daemon/tls.h"
#include "http/sender.h"
#include "fleet/provision.h"
#include "fleet/updates.h"

#define SLICE (64 * 1024)

/* ---- people ---- */

/* The manufacturer's engineers and administrators release software. */
static int may_release(struct api *a, const struct caller *s)
{
	struct store *st = vault_store(a->vault);
	struct store_org org;

	return (strcmp(s->role->name, "engineer") == 0 || strcmp(s->role->name, "admin") == 0) &&
	       st->ops->org_get(st, s->user.org_id, &org) == CC_OK && org.kind == ORG_MANUFACTURER;
}

struct caller *api_releaser(struct http_req *r, const char *action)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);

	if (s == NULL)
		return NULL;
	if (!may_release(a, s)) {
		if (api_audit_access(r, s, action, NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "the manufacturer's engineers release software");
		return NULL;
	}
	return s;
}

void api_release_keys_list(struct http_req *r)
{
	struct api *a = http_app(r);
	json_t *doc = NULL;

	if (api_caller(r) == NULL)
		return;
	if (updates_keys_json(a->vault, &doc) != CC_OK) {
		http_reply_error(r, 500, "internal", "the release keys could not be read");
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_release_keys_add(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *pem = api_field(r, "public_key"), *label = api_field(r, "label");
	char id[65];
	int rc;

	if (s == NULL)
		return;
	if (pem == NULL) {
		http_reply_error(r, 400, "invalid", "public_key: the release key's public half, PEM");
		return;
	}
	rc = updates_key_add(a->vault, pem, strlen(pem), label != NULL ? label : "", s->actor, id);
	if (rc == CC_ERR_INVALID || rc == CC_ERR_EXISTS) {
		if (api_audit_access(r, s, "release-key.add", NULL, "error") == CC_OK)
			http_reply_error(r, rc == CC_ERR_EXISTS ? 409 : 400, rc == CC_ERR_EXISTS ? "conflict" : "invalid",
			                 rc == CC_ERR_EXISTS ? "that key is known already (a revoked key is never trusted again)"
			                                     : "public_key: an Ed25519 public key in PEM; label: one line of "
			                                       "at most 64 characters");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the key could not be stored");
		return;
	}
	if (api_audit_access(r, s, "release-key.add", NULL, "ok") == CC_OK)
		http_reply_json(r, 201, json_pack("{s:s, s:s}", "key_id", id, "label", label != NULL ? label : ""));
}

void api_release_keys_revoke(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *id = http_param(r, "id");
	int rc;

	if (s == NULL)
		return;
	rc = updates_key_revoke(a->vault, id, s->actor);
	if (rc == CC_ERR_NOTFOUND || rc == CC_ERR_INVALID) {
		http_reply_error(r, 404, "not_found", "no such release key");
		return;
	}
	if (rc == CC_ERR_STATE) {
		http_reply_error(r, 409, "conflict", "that release key is revoked already");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the key could not be revoked");
		return;
	}
	if (api_audit_access(r, s, "release-key.revoke", NULL, "ok") == CC_OK)
		http_reply_json(r, 200, json_pack("{s:s, s:b}", "key_id", id, "revoked", 1));
}

void api_artifacts_list(struct http_req *r)
{
	struct api *a = http_app(r);
	json_t *doc = NULL;

	if (api_releaser(r, "artifact.list") == NULL)
		return;
	if (updates_artifacts_json(a->vault, &doc) != CC_OK) {
		http_reply_error(r, 500, "internal", "the artifacts could not be read");
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_artifacts_show(struct http_req *r)
{
	struct api *a = http_app(r);
	json_t *doc = NULL;
	int rc;

	if (api_releaser(r, "artifact.show") == NULL)
		return;
	rc = updates_artifact_json(a->vault, http_param(r, "sha256"), &doc);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", "no such artifact");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the artifact could not be read");
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_artifacts_offer(struct http_req *r)
{
	struct api *a = http_app(r);
	/* api_releaser() may have replied, and r is gone then: nothing of r before the check. */
	struct caller *s = api_releaser(r, "artifact.offer");
	const char *sha, *serial;
	char why[UPDATES_WHY_MAX];
	int rc;

	if (s == NULL)
		return;
	sha = http_param(r, "sha256");
	serial = api_field(r, "serial");
	rc = updates_offer(a->vault, serial, sha, s->actor, why);
	if (rc != CC_OK && rc != CC_ERR_NOTFOUND && rc != CC_ERR_INVALID && rc != CC_ERR_STATE) {
		http_reply_error(r, 500, "internal", "the offer could not be stored");
		return;
	}
	if (api_audit_access(r, s, "artifact.offer", NULL, rc == CC_OK ? "ok" : "error") != CC_OK)
		return;
	if (rc == CC_OK)
		http_reply_json(r, 201, json_pack("{s:s, s:s}", "serial", serial, "sha256", sha));
	else
		http_reply_error(r, rc == CC_ERR_NOTFOUND ? 404 : rc == CC_ERR_STATE ? 409 : 400,
		                 rc == CC_ERR_NOTFOUND ? "not_found" : rc == CC_ERR_STATE ? "conflict" : "invalid", why);
}

/* ---- machines ---- */

void api_machine_update(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store_machine m;
	char *offer = NULL, *meta = NULL, sha[65], url[128];
	int rc;

	if (api_machine_caller(r, &m) != CC_OK)
		return;
	rc = updates_offer_doc(a->vault, &m, &offer, &meta, sha);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", "no update is offered to this machine");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the offer could not be made");
		return;
	}
	snprintf(url, sizeof(url), "/api/v1/machine/artifacts/%s", sha);
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:s}", "serial", m.serial, "offer", offer, "metadata", meta,
	                                  "artifact", url));
	free(offer);
	free(meta);
}

/* A download being sent, a slice at a time. */
struct download {
	struct api *api;
	struct http_req *r;
	int fd;
	uint64_t off, end, size; /* bytes [off, end) still to send, of the artifact's size */
	int ranged;              /* answered 206 with Content-Range */
	int active, queued;      /* being sent, or waiting in line for a place */
	int64_t waiting_since;   /* the line's order */
	struct evbuffer *buf;
	struct http_send *send; /* the rest, on the sender thread */
	char serial[CC_SERIAL_MAX + 1];
	struct download *next; /* a->downloads */
};

static void download_start(struct download *d);

/* The download that has waited longest, or NULL. */
static struct download *next_in_line(struct api *a)
{
	struct download *d, *first = NULL;

	for (d = a->downloads; d != NULL; d = d->next)
		if (d->queued && (first == NULL || d->waiting_since < first->waiting_since))
			first = d;
	return first;
}

static void download_free(struct download *d)
{
	struct api *a = d->api;
	struct download **p;
	int was_active = d->active, was_queued = d->queued;

	for (p = &d->api->downloads; *p != NULL; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	http_send_cancel(d->send);
	if (d->fd >= 0)
		close(d->fd);
	if (d->buf != NULL)
		evbuffer_free(d->buf);
	free(d);
	if (was_queued)
		a->downloads_waiting--;
	if (was_active) {
		a->downloads_active--;
		if (!a->stopping_downloads && (d = next_in_line(a)) != NULL)
			download_start(d);
	}
}

void api_downloads_stop(struct api *a)
{
	a->stopping_downloads = 1;
	while (a->downloads != NULL)
		download_free(a->downloads);
	http_sender_free(a->sender);
	a->sender = NULL;
}

static void download_gone(void *arg)
{
	struct download *d = arg;

	log_info(MOD, "the download of %s stopped: the client left (resumable with Range)", d->serial);
	download_free(d);
}

static void download_finish(void *arg)
{
	struct download *d = arg;

	http_stream_end(d->r);
	download_free(d);
}

static void download_next(void *arg);

/* A slice through the loop's buffers: the first (behind the headers), and
 * all of them when the sender thread is not to be had. */
static void download_slice(void *arg)
{
	struct download *d = arg;
	unsigned char chunk[SLICE];
	size_t want = d->end - d->off < SLICE ? (size_t)(d->end - d->off) : SLICE;
	ssize_t n;

	do
		n = pread(d->fd, chunk, want, (off_t)d->off);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || evbuffer_add(d->buf, chunk, (size_t)n) != 0) {
		/* The client sees fewer bytes than Content-Length and resumes. */
		log_error(MOD, "the download of %s stopped early: the artifact could not be read", d->serial);
		download_finish(d);
		return;
	}
	d->off += (uint64_t)n;
	http_stream_chunk(d->r, d->buf, d->off == d->end ? download_finish : download_next, d);
}

static void download_sent(void *arg, int ok)
{
	struct download *d = arg;

	d->send = NULL;
	d->off = d->end;
	if (ok)
		download_finish(d);
	/* else the connection was shut down: download_gone follows. */
}

/* Everything so far is out: the rest goes from the sender thread, straight
 * from the file into the TLS connection, off the loop (http/sender.h). */
static void download_next(void *arg)
{
	struct download *d = arg;
	struct api *a = d->api;

	if (a->sender == NULL && !a->sender_failed && http_sender_new(a->base, &a->sender) != CC_OK) {
		a->sender_failed = 1;
		log_error(MOD, "the sender thread could not start: downloads go through the event loop");
	}
	if (a->sender != NULL &&
	    http_send_file(a->sender, d->r, d->fd, d->off, d->end - d->off, download_sent, d, &d->send) == CC_OK)
		return;
	download_slice(d);
}

/* One "bytes=A-B", "bytes=A-" or "bytes=-N" within size: 0 and [*from, *to);
 * 1 for a header to ignore (absent, several ranges, not bytes); -1 when
 * unsatisfiable (416). */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
	unsigned long long a = 0, b = 0;
	char *end;

	*from = 0;
	*to = size;
	if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 1;
	h += 6;
	if (*h == '-') {
		if (h[1] < '0' || h[1] > '9')
			return 1;
		errno = 0;
		b = strtoull(h + 1, &end, 10);
		if (errno != 0 || *end != '\0')
			return 1;
		if (b == 0)
			return -1;
		*from = b >= size ? 0 : size - b;
		return 0;
	}
	if (*h < '0' || *h > '9')
		return 1;
	errno = 0;
	a = strtoull(h, &end, 10);
	if (errno != 0 || *end != '-')
		return 1;
	if (end[1] != '\0') {
		const char *bs = end + 1;
		if (*bs < '0' || *bs > '9')
			return 1;
		b = strtoull(bs, &end, 10);
		if (errno != 0 || *end != '\0' || b < a)
			return 1;
	} else {
		b = size - 1;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = (b >= size ? size - 1 : b) + 1;
	return 0;
}

void api_machine_artifact(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct store_machine m;
	const char *sha = http_param(r, "sha256");
	char offered[65], path[VAULT_PATH_MAX + 80], range[96];
	int64_t at = 0, size = 0;
	uint64_t from, to;
	struct download *d;
	struct stat sb;
	int fd, kind;

	if (api_machine_caller(r, &m) != CC_OK)
		return;
	/* Only what the machine is offered now: 404 for anything else, as for
	 * an artifact that does not exist. */
	if (st->ops->updates->offer_get(st, m.id, offered, &at) != CC_OK || sha == NULL || strcmp(offered, sha) != 0 ||
	    updates_artifact_file(a->vault, sha, path, sizeof(path), &size) != CC_OK) {
		http_reply_error(r, 404, "not_found", "this artifact is not offered to this machine");
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0 || (int64_t)sb.st_size != size) {
		if (fd >= 0)
			close(fd);
		log_error(MOD, "artifact %.16s...: its file is missing or not the stored size", sha);
		http_reply_error(r, 500, "internal", "the artifact could not be read");
		return;
	}
	if (a->downloads_active >= a->opts.downloads_max && a->downloads_waiting >= 4 * a->opts.downloads_max) {
		close(fd);
		http_add_header(r, "Retry-After", "30");
		http_reply_error(r, 503, "busy", "too many downloads at once: try again later (resume with Range)");
		return;
	}
	kind = parse_range(http_header(r, "Range"), (uint64_t)size, &from, &to);
	if (kind < 0) {
		snprintf(range, sizeof(range), "bytes */%" PRId64, size);
		http_add_header(r, "Content-Range", range);
		close(fd);
		http_reply_error(r, 416, "range_not_satisfiable", "the range is outside the artifact");
		return;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL || (d->buf = evbuffer_new()) == NULL) {
		free(d);
		close(fd);
		http_reply_error(r, 503, "unavailable", "try again");
		return;
	}
	d->api = a;
	d->r = r;
	d->fd = fd;
	d->off = from;
	d->end = to;
	d->size = (uint64_t)size;
	d->ranged = kind == 0;
	d->waiting_since = ++a->downloads_seq;
	snprintf(d->serial, sizeof(d->serial), "%s", m.serial);
	d->next = a->downloads;
	a->downloads = d;
	http_req_later(r, download_gone, d);
	log_info(MOD, "%s downloads %.16s... bytes %" PRIu64 "-%" PRIu64 " of %" PRId64, m.serial, sha, from, to, size);
	if (a->downloads_active < a->opts.downloads_max) {
		download_start(d);
		return;
	}
	/* A bounded line: each download holds a file, a socket and up to a
	 * slice of memory, and a thousand machines asking at once must not
	 * take the listener down. */
	d->queued = 1;
	a->downloads_waiting++;
	log_info(MOD, "%s waits in line for its download (%" PRId64 " being sent, %" PRId64 " waiting)", m.serial,
	         a->downloads_active, a->downloads_waiting);
}

/* Sends the headers and the first slice of a download given its place. */
static void download_start(struct download *d)
{
	struct api *a = d->api;
	char range[96];

	if (d->queued) {
		d->queued = 0;
		a->downloads_waiting--;
	}
	d->active = 1;
	a->downloads_active++;
	if (d->ranged) {
		snprintf(range, sizeof(range), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, d->off, d->end - 1, d->size);
		http_stream_begin_sized(d->r, 206, "application/octet-stream", d->end - d->off, range);
	} else {
		http_stream_begin_sized(d->r, 200, "application/octet-stream", d->end - d->off, NULL);
	}
	download_slice(d);
}

/* ---- the upload, in slices ---- */

/* Starts (or starts over) an artifact's upload: its signed metadata first,
 * checked before a byte of the file is taken. */
void api_artifacts_upload(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_releaser(r, "artifact.upload");
	const char *meta;
	struct update_meta m;
	char why[UPDATES_WHY_MAX], url[128];
	int rc;

	if (s == NULL)
		return;
	meta = api_field(r, "metadata");
	if (meta == NULL) {
		http_reply_error(r, 400, "invalid", "metadata: the signed metadata document (release sign)");
		return;
	}
	rc = updates_upload_begin(a->vault, meta, strlen(meta), &m, why);
	if (rc != CC_OK && rc != CC_ERR_INVALID && rc != CC_ERR_AUTH && rc != CC_ERR_EXISTS) {
		http_reply_error(r, 500, "internal", "the upload could not be started");
		return;
	}
	if (api_audit_access(r, s, "artifact.upload", NULL, rc == CC_OK ? "ok" : "error") != CC_OK)
		return;
	if (rc != CC_OK) {
		http_reply_error(r, rc == CC_ERR_EXISTS ? 409 : rc == CC_ERR_AUTH ? 403 : 400,
		                 rc == CC_ERR_EXISTS ? "conflict" : rc == CC_ERR_AUTH ? "untrusted" : "invalid", why);
		return;
	}
	snprintf(url, sizeof(url), "/api/v1/artifacts/%s/content", m.sha256);
	http_reply_json(r, 201, json_pack("{s:s, s:s, s:I, s:I, s:s}", "sha256", m.sha256, "version", m.version, "size",
	                                  (json_int_t)m.size, "received", (json_int_t)0, "upload", url));
}

/* One slice of the file (the raw body, at most a request body's limit) at
 * ?offset=, the bytes received so far; the last one publishes the artifact. */
void api_artifacts_content(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_releaser(r, "artifact.upload");
	const char *sha, *off;
	struct evbuffer *in;
	size_t len;
	unsigned char *data;
	char why[UPDATES_WHY_MAX];
	uint64_t received = 0;
	int64_t offset = -1;
	int rc, done = 0;

	if (s == NULL)
		return;
	sha = http_param(r, "sha256");
	off = http_query(r, "offset");
	in = evhttp_request_get_input_buffer(http_evrequest(r));
	len = in != NULL ? evbuffer_get_length(in) : 0;
	data = len > 0 ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
	if (api_parse_ms(off, -1, &offset) != CC_OK || offset < 0 || (len > 0 && data == NULL)) {
		http_reply_error(r, 400, "invalid", "offset: the bytes received so far (0 for the first slice)");
		return;
	}
	rc = updates_upload_append(a->vault, sha, (uint64_t)offset, data, len, s->actor, &received, &done, why);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", why[0] ? why : "no such upload");
		return;
	}
	if (rc == CC_ERR_STATE) {
		http_reply_json(r, 409, json_pack("{s:{s:s, s:s}, s:I}", "error", "code", "conflict", "message", why,
		                                  "received", (json_int_t)received));
		return;
	}
	if (rc != CC_OK && rc != CC_ERR_INVALID && rc != CC_ERR_AUTH && rc != CC_ERR_EXISTS) {
		http_reply_error(r, 500, "internal", "the slice could not be stored");
		return;
	}
	if ((rc != CC_OK || done) && api_audit_access(r, s, "artifact.add", NULL, rc == CC_OK ? "ok" : "error") != CC_OK)
		return;
	if (rc != CC_OK) {
		http_reply_error(r, rc == CC_ERR_EXISTS ? 409 : rc == CC_ERR_AUTH ? 403 : 400,
		                 rc == CC_ERR_EXISTS ? "conflict" : rc == CC_ERR_AUTH ? "untrusted" : "invalid", why);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:s, s:I, s:b}", "sha256", sha, "received", (json_int_t)received,
	                                  "complete", done));
}
