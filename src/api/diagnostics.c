/* diagnostics.c - diagnostics bundles through the API (fleet/diagnostics.h,
 * docs/METRICS.md "Diagnostics bundles").
 *
 * People whose role holds the technical class ask a machine in their scope
 * for a bundle, list, show and download them; the machine uploads it with
 * its own certificate (machine_caller.c) in slices of at most 1 MiB at
 * ?offset=, the bytes received so far. A download is unsealed and sent a
 * chunk at a time as the client takes it. Request, upload (its end) and
 * download are audited; a refused bundle is quoted nowhere. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "access/audit.h"
#include "access/policy.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/diagnostics.h"
#include "fleet/inventory.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200

static void sweep(struct api *a)
{
	int64_t n = 0;

	/* Expiry only: old bundles are the retention thread's, in batches. */
	if (diagnostics_sweep(a->vault, 0, &n) != CC_OK)
		log_warn(MOD, "diagnostics requests past their time could not be expired (tried again on the next request)");
}

static int64_t max_bytes(const struct api *a)
{
	return a->opts.diagnostics_max_bytes > 0 ? a->opts.diagnostics_max_bytes : DIAG_MAX_BYTES_DEFAULT;
}

void api_diagnostics_request(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct store_diag d;
	int rc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if (m.revoked_ms != 0 || m.decommissioned_ms != 0) {
		if (api_audit_access(r, s, "diagnostics.request", &m, "denied") == CC_OK)
			http_reply_error(r, 409, "conflict", "the machine is not in service");
		return;
	}
	sweep(a);
	rc = diagnostics_request(a->vault, &m, s->actor, max_bytes(a), &d);
	if (api_audit_access(r, s, "diagnostics.request", &m, rc == CC_OK ? "ok" : "error") != CC_OK)
		return;
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the request could not be sent to the machine");
		return;
	}
	http_reply_json(r, 201, diagnostics_json(&d, m.serial));
}

/*
 * Who sees a bundle: whoever sees the machine row it was taken on (its
 * organisation's subtree, or a grant), its customer consenting. Once the
 * machine moved to another customer, that row is retired and the bundle
 * stays with the customer it was taken for, sealed under its key: its own
 * people and the manufacturer's (who build the machine and read its
 * diagnostics for that) still see it; a distributor's service follows the
 * machine to its new customer and leaves the old bundles behind, as do
 * subcontractors' grants, which name the machine as it is now.
 */
static int bundle_visible(struct api *a, const struct caller *s, const struct store_diag *d,
                          const struct store_machine *m, int manufacturer, const char *purpose)
{
	if (m->customer_id != d->customer_id)
		return 0;
	if (!m->moved)
		return api_machine_visible(a, s, m, purpose);
	return !s->role->granted_only && (s->user.org_id == d->customer_id || manufacturer);
}

static int caller_is_manufacturer(struct api *a, const struct caller *s)
{
	struct store *st = vault_store(a->vault);
	struct store_org org;

	return !s->role->granted_only && st->ops->org_get(st, s->user.org_id, &org) == CC_OK &&
	       org.kind == ORG_MANUFACTURER;
}

struct lister {
	struct api *a;
	const struct caller *s;
	const char *purpose;
	int manufacturer;
	struct store_machine m;
	int have, verdict;
	json_t *list;
	size_t limit;
	int64_t last_id;
	int more, rc;
};

/* The store narrowed the page to the scope; each bundle shown is judged by
 * its machine's verified row (a machine's bundles come together: one look). */
static int list_one(void *ctx, const struct store_diag *d)
{
	struct lister *l = ctx;
	struct store *st = vault_store(l->a->vault);
	json_t *doc;

	if (!l->have || l->m.id != d->machine_id) {
		l->have = st->ops->machine_get(st, d->machine_id, &l->m) == CC_OK;
		l->verdict = l->have && bundle_visible(l->a, l->s, d, &l->m, l->manufacturer, l->purpose) &&
		             policy_allows(l->a->vault, d->customer_id, l->purpose);
	}
	if (!l->verdict || l->m.customer_id != d->customer_id)
		return 0;
	if (json_array_size(l->list) == l->limit) {
		l->more = 1;
		return 1;
	}
	doc = diagnostics_json(d, l->m.serial);
	if (doc == NULL || json_array_append_new(l->list, doc) != 0) {
		l->rc = CC_ERR_NOMEM;
		return 1;
	}
	l->last_id = d->id;
	return 0;
}

/* {"bundles": a page, "next_cursor" when there is more}: f narrowed by the
 * caller's scope, cursor and limit from the query. NULL after a reply. */
static json_t *list_page(struct http_req *r, const struct caller *s, struct store_diag_filter *f)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	const char *purpose = http_route(r)->purpose;
	struct api_scope sc;
	struct api_page pg;
	struct lister l;
	json_t *doc;
	int rc;

	if (api_page_params(r, LIST_DEFAULT, LIST_MAX, &pg) != CC_OK)
		return NULL;
	memset(&l, 0, sizeof(l));
	memset(&sc, 0, sizeof(sc));
	l.a = a;
	l.s = s;
	l.purpose = purpose;
	l.manufacturer = caller_is_manufacturer(a, s);
	l.limit = pg.limit;
	l.list = json_array();
	f->before_id = pg.has_cursor ? api_page_after_int(&pg) : 0;
	rc = l.list != NULL ? api_scope_build(a, s, purpose, &sc) : CC_ERR_NOMEM;
	if (rc == CC_OK) {
		f->scoped = 1;
		f->customers = sc.customers;
		f->ncustomers = sc.ncustomers;
		/* Bundles of machines moved away: the customer's own, and the manufacturer's view of all. */
		f->moved_customers = l.manufacturer || (sc.ncustomers == 1 && sc.customers[0] == s->user.org_id)
		                         ? sc.customers : NULL;
		f->nmoved_customers = f->moved_customers != NULL ? sc.ncustomers : 0;
		f->machines = sc.machines;
		f->nmachines = sc.nmachines;
		f->sites = sc.sites;
		f->nsites = sc.nsites;
		rc = st->ops->diagnostics->page(st, f, list_one, &l);
	}
	api_scope_free(&sc);
	if (rc < 0 || l.rc != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the diagnostics bundles could not be read");
		return NULL;
	}
	doc = json_pack("{s:o}", "bundles", l.list);
	if (doc != NULL && l.more)
		api_page_next_int(doc, l.last_id);
	if (doc == NULL)
		http_reply_error(r, 500, "internal", "out of memory");
	return doc;
}

void api_diagnostics_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_diag_filter f;
	struct store_machine m;
	json_t *list;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	sweep(a);
	memset(&f, 0, sizeof(f));
	f.serial = m.serial; /* the rows it had before a move too, where the caller may see them */
	list = list_page(r, s, &f);
	if (list == NULL)
		return;
	if (api_audit_access(r, s, "diagnostics.list", &m, "ok") != CC_OK) {
		json_decref(list);
		return;
	}
	json_object_set_new(list, "serial", json_string(m.serial));
	http_reply_json(r, 200, list);
}

void api_diagnostics_list_all(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *serial = http_query(r, "serial");
	struct store_diag_filter f;
	json_t *list;

	if (s == NULL)
		return;
	if (serial != NULL && !inventory_serial_valid(serial)) {
		http_reply_error(r, 400, "invalid", "serial: a machine's serial");
		return;
	}
	sweep(a);
	memset(&f, 0, sizeof(f));
	f.serial = serial;
	list = list_page(r, s, &f);
	if (list == NULL)
		return;
	if (api_audit_access(r, s, "diagnostics.list", NULL, "ok") != CC_OK) {
		json_decref(list);
		return;
	}
	http_reply_json(r, 200, list);
}

/* The bundle {id} and its machine, when the caller may see them
 * (bundle_visible) and the customer it was taken for consents. Else
 * replies 404 as for none, or 403 consent_required. */
static int find_bundle(struct http_req *r, const struct caller *s, struct store_diag *d, struct store_machine *m)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	const char *text = http_param(r, "id");
	const char *purpose = http_route(r)->purpose;
	char *end;
	long long id = text != NULL ? strtoll(text, &end, 10) : 0;

	if (text == NULL || end == text || *end != '\0' || id <= 0 || st->ops->diagnostics->get(st, id, d) != CC_OK ||
	    st->ops->machine_get(st, d->machine_id, m) != CC_OK ||
	    !bundle_visible(a, s, d, m, caller_is_manufacturer(a, s), purpose)) {
		http_reply_error(r, 404, "not_found", "no such diagnostics bundle");
		return CC_ERR_NOTFOUND;
	}
	if (!policy_allows(a->vault, d->customer_id, purpose)) {
		http_reply_error(r, 403, "consent_required",
		                 "the machine's customer has not consented to this purpose in the current policy");
		return CC_ERR_PERM;
	}
	return CC_OK;
}

void api_diagnostics_show(struct http_req *r)
{
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct store_diag d;

	if (s == NULL || find_bundle(r, s, &d, &m) != CC_OK)
		return;
	if (api_audit_access(r, s, "diagnostics.show", &m, "ok") == CC_OK)
		http_reply_json(r, 200, diagnostics_json(&d, m.serial));
}

/* A download being sent, a chunk at a time. */
struct diag_download {
	struct api *api;
	struct http_req *r;
	struct store_diag d;
	char serial[CC_SERIAL_MAX + 1];
	int64_t off;
	struct evbuffer *buf;
	struct diag_download *next; /* a->diag_downloads */
};

static void download_free(struct diag_download *dl)
{
	struct diag_download **p;

	for (p = &dl->api->diag_downloads; *p != NULL; p = &(*p)->next)
		if (*p == dl) {
			*p = dl->next;
			break;
		}
	if (dl->buf != NULL)
		evbuffer_free(dl->buf);
	free(dl);
}

void api_diag_downloads_stop(struct api *a)
{
	while (a->diag_downloads != NULL)
		download_free(a->diag_downloads);
}

static void download_gone(void *arg)
{
	struct diag_download *dl = arg;

	log_info(MOD, "the download of diagnostics bundle %lld stopped: the client left", (long long)dl->d.id);
	download_free(dl);
}

static void download_finish(void *arg)
{
	struct diag_download *dl = arg;

	http_stream_end(dl->r);
	download_free(dl);
}

static void download_slice(void *arg)
{
	struct diag_download *dl = arg;
	uint8_t *pt = NULL;
	size_t len = 0;
	int64_t at = 0;
	int rc = diagnostics_chunk(dl->api->vault, &dl->d, dl->serial, dl->off, &at, &pt, &len);

	if (rc != CC_OK || at != dl->off || len == 0 || evbuffer_add(dl->buf, pt, len) != 0) {
		/* The client sees fewer bytes than Content-Length. */
		log_error(MOD, "the download of diagnostics bundle %lld stopped early: it could not be read",
		          (long long)dl->d.id);
		free(pt);
		download_finish(dl);
		return;
	}
	free(pt);
	dl->off += (int64_t)len;
	http_stream_chunk(dl->r, dl->buf, dl->off >= dl->d.received ? download_finish : download_slice, dl);
}

void api_diagnostics_content(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct diag_download *dl;

	if (s == NULL)
		return;
	dl = calloc(1, sizeof(*dl));
	if (dl == NULL || (dl->buf = evbuffer_new()) == NULL) {
		free(dl);
		http_reply_error(r, 503, "unavailable", "try again");
		return;
	}
	if (find_bundle(r, s, &dl->d, &m) != CC_OK) {
		evbuffer_free(dl->buf);
		free(dl);
		return;
	}
	if (dl->d.state != DIAG_COMPLETE || dl->d.received <= 0) {
		evbuffer_free(dl->buf);
		free(dl);
		http_reply_error(r, 409, "not_complete", "the bundle is not complete: see its state");
		return;
	}
	if (api_audit_access_now(r, s, "diagnostics.download", &m, "ok") != CC_OK) {
		evbuffer_free(dl->buf);
		free(dl);
		return;
	}
	dl->api = a;
	dl->r = r;
	snprintf(dl->serial, sizeof(dl->serial), "%s", m.serial);
	dl->next = a->diag_downloads;
	a->diag_downloads = dl;
	http_req_later(r, download_gone, dl);
	http_stream_begin_sized(r, 200, "application/octet-stream", (uint64_t)dl->d.received, NULL);
	download_slice(dl);
}

/* The audit record of a machine's upload (its end: complete or refused). */
static int audit_upload(struct http_req *r, const struct store_machine *m, const struct store_diag *d,
                        const char *outcome)
{
	struct api *a = http_app(r);
	struct audit_event e;
	char actor[CC_SERIAL_MAX + 16];

	snprintf(actor, sizeof(actor), "machine:%s", m->serial);
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.source = http_source(r);
	e.action = "diagnostics.upload";
	e.machines = m->serial;
	e.data_class = "technical";
	e.purpose = http_route(r)->purpose;
	e.outcome = outcome;
	e.customer_id = d->customer_id;
	if (audit_append(a->vault, &e) != CC_OK) {
		log_error(MOD, "the upload of %s could not be recorded: refused", m->serial);
		http_reply_error(r, 503, "audit_unavailable", "the upload could not be recorded, so it is refused");
		return CC_ERR_DB;
	}
	return CC_OK;
}

/* One slice from the machine: the raw body at ?offset= (the bytes received
 * so far); &final=1&sha256= on the last, which checks the whole. */
void api_machine_diagnostics_upload(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store_machine m;
	struct store_diag d;
	struct evbuffer *in;
	const char *idtext, *final_text;
	unsigned char *data;
	char why[DIAG_WHY_MAX], *end;
	enum privacy_reason privacy = PRIVACY_NONE;
	long long id;
	int64_t offset = -1;
	size_t len;
	int rc, final = 0;

	if (api_machine_caller(r, &m) != CC_OK)
		return;
	idtext = http_param(r, "id");
	id = idtext != NULL ? strtoll(idtext, &end, 10) : 0;
	if (idtext == NULL || end == idtext || *end != '\0' || id <= 0) {
		http_reply_error(r, 404, "not_found", "no such diagnostics request for this machine");
		return;
	}
	final_text = http_query(r, "final");
	in = evhttp_request_get_input_buffer(http_evrequest(r));
	len = in != NULL ? evbuffer_get_length(in) : 0;
	data = len > 0 ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
	if (api_parse_ms(http_query(r, "offset"), -1, &offset) != CC_OK || offset < 0 || (len > 0 && data == NULL) ||
	    (final_text != NULL && api_parse_bool(final_text, &final) != CC_OK)) {
		http_reply_error(r, 400, "invalid",
		                 "offset: the bytes received so far (0 for the first slice); final=true and sha256 on the last");
		return;
	}
	rc = diagnostics_append(a->vault, &m, id, offset, data, len, final, http_query(r, "sha256"), &d, why, &privacy);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", why);
		return;
	}
	if (rc == CC_ERR_STATE && (d.state == DIAG_REQUESTED || d.state == DIAG_UPLOADING)) {
		http_reply_json(r, 409, json_pack("{s:{s:s, s:s}, s:I}", "error", "code", "conflict", "message", why,
		                                  "received", (json_int_t)d.received));
		return;
	}
	if (rc == CC_ERR_STATE) {
		http_reply_error(r, 410, "gone", why);
		return;
	}
	if (rc == CC_ERR_INVALID && d.id == 0) { /* the query, before the bundle was looked at */
		http_reply_error(r, 400, "invalid", why);
		return;
	}
	if (rc != CC_OK && rc != CC_ERR_LIMIT && rc != CC_ERR_INVALID) {
		http_reply_error(r, 500, "internal", "the slice could not be stored");
		return;
	}
	if ((rc != CC_OK || d.state == DIAG_COMPLETE) && audit_upload(r, &m, &d, rc == CC_OK ? "ok" : "denied") != CC_OK)
		return;
	if (rc == CC_ERR_LIMIT) {
		http_reply_error(r, 413, "too_large", why);
		return;
	}
	if (rc == CC_ERR_INVALID) {
		char msg[DIAG_WHY_MAX + 32];

		if (privacy != PRIVACY_NONE)
			snprintf(msg, sizeof(msg), "%s (%s)", why, privacy_reason_name(privacy));
		else
			snprintf(msg, sizeof(msg), "%s", why);
		http_reply_error(r, 422, privacy != PRIVACY_NONE ? "not_machine_data" : "invalid", msg);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:I, s:s, s:I, s:b}", "id", (json_int_t)d.id, "state",
	                                  diagnostics_state_name(d.state), "received", (json_int_t)d.received,
	                                  "complete", d.state == DIAG_COMPLETE));
}
