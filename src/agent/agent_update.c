/*
 * agent_update.c - the update flow on the machine (docs/UPDATES.md, the
 * agent's side): the offer verified by update_check() before a byte is
 * downloaded, the download checked as it arrives (never past the signed
 * size, the signed SHA-256 at the end), resumed with Range after a cut,
 * installed to the inactive slot through the firmware's callbacks, and
 * confirmed or rolled back after the reboot. Each step is reported.
 *
 * What survives a power cut is in storage, written before the step it
 * guards: "update" = "<state> <sha256> <version> <size> <got>" while an
 * update is under way (state downloading, installing or rebooting),
 * "report" = "<sha256> <state> <reason>" until a final report has reached
 * the server, "installed" = the confirmed version, the anti-rollback floor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/internal.h"
#include "common/err.h"

#define OFFER_ANSWER_MAX (4 * CC_UPDATE_DOC_MAX)
#define SAVE_EVERY (256 * 1024) /* bytes between two records of the download's progress */
#define SLICE (64 * 1024)

struct record {
	char state[16];
	char sha[65];
	char version[CC_UPDATE_VERSION_MAX + 1];
	uint64_t size, got;
};

static int load(cc_agent *a, struct record *r)
{
	char buf[256];
	unsigned long long size, got;
	int rc = cc_ag_get(a, "update", buf, sizeof(buf));

	if (rc != 0)
		return rc;
	if (sscanf(buf, "%15s %64s %64s %llu %llu", r->state, r->sha, r->version, &size, &got) != 5 ||
	    strlen(r->sha) != 64 || got > size)
		return CC_AGENT_ESTORAGE;
	r->size = size;
	r->got = got;
	return 0;
}

static int save(cc_agent *a, const struct record *r)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s %s %s %" PRIu64 " %" PRIu64, r->state, r->sha, r->version, r->size, r->got);
	return cc_ag_put(a, "update", buf);
}

static void note(struct cc_update_result *res, const char *sha, const char *version, const char *state,
                 const char *reason)
{
	if (res == NULL)
		return;
	if (sha != NULL)
		snprintf(res->sha256, sizeof(res->sha256), "%s", sha);
	if (version != NULL)
		snprintf(res->version, sizeof(res->version), "%s", version);
	snprintf(res->state, sizeof(res->state), "%s", state);
	snprintf(res->reason, sizeof(res->reason), "%s", reason != NULL ? reason : "");
}

/* One progress report; OK once the server has taken it or will never take
 * it (404: no rollout of it, 409: already finished). */
static int report(cc_agent *a, const char *sha, const char *state, int percent, const char *reason)
{
	char body[256];
	long status;
	int rc;

	snprintf(body, sizeof(body), "{\"sha256\":\"%s\",\"state\":\"%s\"", sha, state);
	if (percent >= 0)
		snprintf(body + strlen(body), sizeof(body) - strlen(body), ",\"percent\":%d", percent);
	if (reason != NULL && reason[0] != '\0')
		snprintf(body + strlen(body), sizeof(body) - strlen(body), ",\"reason\":\"%s\"", reason);
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "}");
	if ((rc = cc_ag_http_post(a, "/api/v1/machine/update/progress", body, &status)) != 0)
		return rc;
	if (status != 200)
		cc_ag_log(a, "progress %s %s: HTTP %ld", state, reason != NULL ? reason : "", status);
	return status >= 500 ? CC_AGENT_ENET : CC_AGENT_OK;
}

/* A final report is kept until it has been delivered. */
static int flush_final(cc_agent *a)
{
	char buf[160], sha[65], state[16], reason[32];
	int rc = cc_ag_get(a, "report", buf, sizeof(buf));

	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (sscanf(buf, "%64s %15s %31s", sha, state, reason) != 3)
		return cc_ag_del(a, "report");
	if ((rc = report(a, sha, state, -1, strcmp(reason, "-") == 0 ? NULL : reason)) != 0)
		return rc;
	return cc_ag_del(a, "report");
}

static int final(cc_agent *a, const char *sha, const char *state, const char *reason)
{
	char buf[160];
	int rc;

	snprintf(buf, sizeof(buf), "%s %s %s", sha, state, reason != NULL ? reason : "-");
	if ((rc = cc_ag_put(a, "report", buf)) != 0)
		return rc;
	cc_ag_log(a, "update %.12s: %s %s", sha, state, reason != NULL ? reason : "");
	(void)flush_final(a); /* not delivered now: at the next start or update */
	return 0;
}

int cc_agent_start(cc_agent *a, struct cc_update_result *res)
{
	struct record r;
	char running[CC_UPDATE_VERSION_MAX + 1];
	int rc;

	if (res != NULL)
		memset(res, 0, sizeof(*res));
	(void)flush_final(a);
	if ((rc = load(a, &r)) != 0)
		return rc == 1 ? CC_AGENT_OK : rc;
	if (strcmp(r.state, "downloading") == 0) {
		note(res, r.sha, r.version, "downloading", NULL);
		return CC_AGENT_OK; /* resumed by the next cc_agent_update */
	}
	if (a->cfg.fw.running_version == NULL ||
	    a->cfg.fw.running_version(a->cfg.fw.ud, running, sizeof(running)) != 0)
		running[0] = '\0';
	if (strcmp(running, r.version) == 0) {
		/* The new slot booted. It stays only if it works. */
		if ((a->cfg.fw.health_check == NULL || a->cfg.fw.health_check(a->cfg.fw.ud) == 0) &&
		    a->cfg.fw.confirm != NULL && a->cfg.fw.confirm(a->cfg.fw.ud) == 0) {
			if ((rc = cc_ag_put(a, "installed", r.version)) != 0)
				return rc;
			note(res, r.sha, r.version, "succeeded", NULL);
			if ((rc = final(a, r.sha, "succeeded", NULL)) != 0 || (rc = cc_ag_del(a, "update")) != 0)
				return rc;
			return CC_AGENT_OK;
		}
		note(res, r.sha, r.version, "rolled_back", "health-check-failed");
		if ((rc = final(a, r.sha, "rolled_back", "health-check-failed")) != 0 ||
		    (rc = cc_ag_del(a, "update")) != 0)
			return rc;
		if (a->cfg.fw.rollback == NULL || a->cfg.fw.rollback(a->cfg.fw.ud) != 0)
			return CC_AGENT_EFIRMWARE;
		if (a->cfg.fw.reboot != NULL)
			a->cfg.fw.reboot(a->cfg.fw.ud);
		return CC_AGENT_REBOOT;
	}
	/* The old slot runs: the install was cut short (a power cut before the
	 * new slot was activated), or the new slot did not boot and the
	 * bootloader went back. */
	int installing = strcmp(r.state, "installing") == 0;
	const char *state = installing ? "failed" : "rolled_back";
	const char *reason = installing ? "install-failed" : "boot-failed";
	note(res, r.sha, r.version, state, reason);
	if ((rc = final(a, r.sha, state, reason)) != 0 || (rc = cc_ag_del(a, "update")) != 0)
		return rc;
	return CC_AGENT_OK;
}

struct fetch {
	cc_agent *a;
	struct update_download d;
	struct record *r;
	uint64_t saved, fetched;
	int started, too_large, broken;
};

static size_t sink(void *ctx, const void *p, size_t n, long status, uint64_t range_start)
{
	struct fetch *f = ctx;
	cc_agent *a = f->a;
	struct update_meta m;

	if (!f->started) {
		f->started = 1;
		if (status == 200 && f->r->got > 0) {
			/* The server sent the whole file: start again from byte 0. */
			update_download_free(&f->d);
			memset(&m, 0, sizeof(m));
			m.size = f->r->size;
			snprintf(m.sha256, sizeof(m.sha256), "%s", f->r->sha);
			if (update_download_begin(&f->d, &m) != CC_OK ||
			    a->cfg.fw.slot_begin(a->cfg.fw.ud, f->r->size) != 0) {
				f->broken = 1;
				return 0;
			}
			f->r->got = f->saved = 0;
		} else if (status == 206 && range_start != f->r->got) {
			return 0;
		} else if (status != 200 && status != 206) {
			return 0;
		}
	}
	if (update_download_feed(&f->d, p, n) != UPDATE_ACCEPT) {
		f->too_large = 1; /* endless data: not one byte past the signed size */
		return 0;
	}
	if (a->cfg.fw.slot_write(a->cfg.fw.ud, f->r->got, p, n) != 0) {
		f->broken = 1;
		return 0;
	}
	f->r->got += n;
	f->fetched += n;
	if (f->r->got - f->saved >= SAVE_EVERY) {
		if (save(a, f->r) != 0) {
			f->broken = 1;
			return 0;
		}
		f->saved = f->r->got;
	}
	return n;
}

/* The part already in the slot goes through the hash again. */
static int rehash(cc_agent *a, struct update_download *d, uint64_t got)
{
	uint8_t *buf = cc_ag_malloc(a, SLICE);
	int rc = 0;

	if (buf == NULL)
		return CC_AGENT_ENOMEM;
	for (uint64_t off = 0; off < got && rc == 0;) {
		size_t n = got - off < SLICE ? (size_t)(got - off) : SLICE;
		if (a->cfg.fw.slot_read(a->cfg.fw.ud, off, buf, n) != 0 ||
		    update_download_feed(d, buf, n) != UPDATE_ACCEPT)
			rc = CC_AGENT_EFIRMWARE;
		off += n;
	}
	cc_ag_free(a, buf);
	return rc;
}

/* The sha256 a refused offer names, for the report: the metadata's if it
 * parses (unverified: only to say which offer was refused), else none. */
static void refused_sha(const char *meta, char sha[65])
{
	const char *inner;
	size_t innerlen;
	uint8_t sig[ED25519_SIG_LEN];
	struct update_meta m;

	sha[0] = '\0';
	if (meta != NULL && update_envelope_split(meta, strlen(meta), &inner, &innerlen, sig) == CC_OK &&
	    update_meta_parse(inner, innerlen, &m) == CC_OK)
		memcpy(sha, m.sha256, 65);
}

static int refuse(cc_agent *a, struct cc_update_result *res, const char *sha, const char *version,
                  const char *reason)
{
	note(res, sha, version, "failed", reason);
	if (sha != NULL && sha[0] != '\0')
		(void)final(a, sha, "failed", reason);
	else
		cc_ag_log(a, "update refused: %s", reason);
	return CC_AGENT_EREFUSED;
}

static int run(cc_agent *a, struct cc_update_result *res, const char *meta, const char *offer)
{
	struct update_trust trust = { a->release, a->nrelease, a->server, a->nserver };
	char installed[CC_UPDATE_VERSION_MAX + 1], sha[65];
	struct update_meta m;
	struct record r;
	struct fetch f;
	enum update_verdict v;
	long status;
	int rc;

	if ((rc = cc_agent_installed_version(a, installed, sizeof(installed))) != 0)
		return rc;
	struct update_facts facts = { a->serial, a->model, installed, cc_ag_now_ms(a) / 1000 };
	v = update_check(meta, strlen(meta), offer, strlen(offer), &trust, &facts, &m);
	if (v != UPDATE_ACCEPT) {
		refused_sha(meta, sha);
		return refuse(a, res, sha, NULL, update_verdict_name(v));
	}
	note(res, m.sha256, m.version, "downloading", NULL);

	memset(&f, 0, sizeof(f));
	if ((rc = load(a, &r)) < 0)
		return rc;
	if (rc != 0 || strcmp(r.state, "downloading") != 0 || strcmp(r.sha, m.sha256) != 0 || r.size != m.size) {
		memset(&r, 0, sizeof(r));
		snprintf(r.state, sizeof(r.state), "downloading");
		memcpy(r.sha, m.sha256, 65);
		snprintf(r.version, sizeof(r.version), "%s", m.version);
		r.size = m.size;
		if (a->cfg.fw.slot_begin(a->cfg.fw.ud, m.size) != 0)
			return refuse(a, res, m.sha256, m.version, "install-failed");
		if ((rc = save(a, &r)) != 0)
			return rc;
	}
	if (update_download_begin(&f.d, &m) != CC_OK)
		return CC_AGENT_ENOMEM;
	if (r.got > 0 && rehash(a, &f.d, r.got) != 0) {
		update_download_free(&f.d);
		(void)cc_ag_del(a, "update");
		return refuse(a, res, m.sha256, m.version, "install-failed");
	}
	if (res != NULL)
		res->resumed_at = r.got;
	f.a = a;
	f.r = &r;
	f.saved = r.got;
	(void)report(a, m.sha256, "downloading", (int)(r.got * 100 / r.size), NULL);
	char path[128];
	snprintf(path, sizeof(path), "/api/v1/machine/artifacts/%s", m.sha256);
	/* In slices of a tenth (at least 256 KiB), a progress report after each. */
	uint64_t slice = r.size / 10 > SAVE_EVERY ? r.size / 10 : SAVE_EVERY;
	rc = 0;
	while (r.got < r.size) {
		uint64_t before = r.got, to = r.got + slice - 1 < r.size - 1 ? r.got + slice - 1 : r.size - 1;
		f.started = 0;
		rc = cc_ag_http_download(a, path, r.got, to, sink, &f, &status);
		if (rc != 0 || f.too_large || f.broken || r.got == before)
			break;
		if (r.got < r.size)
			(void)report(a, m.sha256, "downloading", (int)(r.got * 100 / r.size), NULL);
	}
	if (res != NULL)
		res->fetched = f.fetched;
	if (f.too_large || f.broken) {
		update_download_free(&f.d);
		(void)cc_ag_del(a, "update");
		return refuse(a, res, m.sha256, m.version, f.too_large ? "too-large" : "install-failed");
	}
	if (save(a, &r) != 0 || rc != 0 || r.got < r.size) {
		update_download_free(&f.d);
		cc_ag_log(a, "download of %.12s stopped at %" PRIu64 " of %" PRIu64 " bytes: resumed later",
		          m.sha256, r.got, r.size);
		return CC_AGENT_ENET;
	}
	(void)report(a, m.sha256, "downloading", 100, NULL);
	(void)report(a, m.sha256, "verifying", -1, NULL);
	if (update_download_finish(&f.d) != UPDATE_ACCEPT) {
		(void)cc_ag_del(a, "update");
		return refuse(a, res, m.sha256, m.version, "hash-mismatch");
	}

	snprintf(r.state, sizeof(r.state), "installing");
	if ((rc = save(a, &r)) != 0)
		return rc;
	note(res, NULL, NULL, "installing", NULL);
	(void)report(a, m.sha256, "installing", -1, NULL);
	if (a->cfg.fw.install(a->cfg.fw.ud, m.version) != 0 || a->cfg.fw.activate(a->cfg.fw.ud) != 0) {
		(void)cc_ag_del(a, "update");
		return refuse(a, res, m.sha256, m.version, "install-failed");
	}
	snprintf(r.state, sizeof(r.state), "rebooting");
	if ((rc = save(a, &r)) != 0)
		return rc;
	note(res, NULL, NULL, "rebooting", NULL);
	(void)report(a, m.sha256, "rebooting", -1, NULL);
	a->cfg.fw.reboot(a->cfg.fw.ud);
	return CC_AGENT_REBOOT;
}

int cc_agent_update(cc_agent *a, struct cc_update_result *res)
{
	static const char *const names[] = { "offer", "metadata" };
	char *body = NULL, *v[2];
	size_t len;
	long status;
	struct record r;
	int rc;

	if (res != NULL)
		memset(res, 0, sizeof(*res));
	if (a->cfg.fw.slot_begin == NULL || a->cfg.fw.slot_write == NULL || a->cfg.fw.slot_read == NULL ||
	    a->cfg.fw.install == NULL || a->cfg.fw.activate == NULL || a->cfg.fw.reboot == NULL)
		return CC_AGENT_EINVAL;
	(void)flush_final(a);
	if ((rc = load(a, &r)) < 0)
		return rc;
	if (rc == 0 && strcmp(r.state, "downloading") != 0)
		return CC_AGENT_ESTATE; /* cc_agent_start finishes an install first */
	if ((rc = cc_ag_http_get(a, "/api/v1/machine/update", &body, &len, OFFER_ANSWER_MAX, &status)) != 0)
		return rc;
	if (status == 404) {
		cc_ag_free(a, body);
		return CC_AGENT_NO_UPDATE;
	}
	if (status != 200) {
		cc_ag_log(a, "offer: HTTP %ld", status);
		cc_ag_free(a, body);
		return CC_AGENT_ENET;
	}
	rc = cc_ag_json_strings(a, body != NULL ? body : "", len, names, v, 2);
	cc_ag_free(a, body);
	if (rc == CC_AGENT_ENOMEM)
		return rc;
	if (rc != 0 || v[0] == NULL || v[1] == NULL) {
		char sha[65];
		refused_sha(v[1], sha);
		cc_ag_free(a, v[0]);
		cc_ag_free(a, v[1]);
		return refuse(a, res, sha, NULL, rc != 0 || v[1] == NULL ? "malformed" : "offer-malformed");
	}
	rc = run(a, res, v[1], v[0]);
	cc_ag_free(a, v[0]);
	cc_ag_free(a, v[1]);
	return rc;
}
