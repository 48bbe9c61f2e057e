/* provision.c - registering machines, renewing their certificates and the
 * certificate audit, for admins in their subtree (fleet/provision.h).
 * Only CSRs are taken: the server never hands out a private key over HTTP. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "access/audit.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/ca.h"
#include "fleet/provision.h"
#include "http/server.h"

/* Machines in one API batch: 1 MiB of body holds about this many CSRs. */
#define API_BATCH_MAX 1000

static int validity_field(struct http_req *r, json_t *body, int *days)
{
	json_t *v = json_object_get(body, "validity_days");

	*days = 0;
	if (v == NULL)
		return CC_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > CA_DAYS_MAX) {
		http_reply_error(r, 400, "invalid", "validity_days: a whole number of days, 1-36500");
		return CC_ERR_INVALID;
	}
	*days = (int)json_integer_value(v);
	return CC_OK;
}

/* A string member, or NULL (absent, null or not a string: the row check names it). */
static const char *member(json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

static void reply_issues(struct http_req *r, const struct provision_report *rep, int rc)
{
	json_t *list = json_array();
	size_t i;
	int taken = rep->n > 0;

	for (i = 0; list != NULL && i < rep->n; i++) {
		json_array_append_new(list, json_pack("{s:I, s:s, s:s}", "line", (json_int_t)rep->issues[i].line,
		                                      "field", rep->issues[i].field, "why", rep->issues[i].why));
		taken = taken && strstr(rep->issues[i].why, "exists already") != NULL;
	}
	if (rep->n == 0) {
		json_decref(list);
		http_reply_error(r, rc == CC_ERR_LIMIT ? 413 : 500, rc == CC_ERR_LIMIT ? "too_large" : "internal",
		                 rc == CC_ERR_LIMIT ? "too many machines" : "the machines could not be registered");
		return;
	}
	http_reply_json(r, taken ? 409 : 400,
	                json_pack("{s:{s:s, s:s, s:o, s:I}}", "error", "code", taken ? "conflict" : "invalid", "message",
	                          "nothing was registered: see rows (line: the item's position, from 1)", "rows", list,
	                          "more_rows", (json_int_t)rep->more));
}

/* The audit records of a registration: the serials, as many records as
 * the machines column needs. */
static int audit_serials(struct http_req *r, const struct caller *s, const char *action,
                         const struct provision_row *rows, size_t n)
{
	struct api *a = http_app(r);
	struct audit_event e;
	char list[CC_AUDIT_MACHINES_MAX + 1];
	size_t i = 0, len;
	int rc = CC_OK;

	memset(&e, 0, sizeof(e));
	e.actor = s->actor;
	e.source = http_source(r);
	e.action = action;
	e.machines = list;
	e.data_class = "admin";
	e.purpose = http_route(r)->purpose;
	e.outcome = "ok";
	while (i < n && rc == CC_OK) {
		len = 0;
		list[0] = '\0';
		while (i < n && len + strlen(rows[i].serial) + 1 <= CC_AUDIT_MACHINES_MAX) {
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? "," : "", rows[i].serial);
			i++;
		}
		rc = audit_append(a->vault, &e);
	}
	if (rc != CC_OK) {
		log_error(MOD, "the registration by %s could not be recorded", s->actor);
		http_reply_error(r, 503, "audit_unavailable", "the registration could not be recorded");
	}
	return rc;
}

struct issued {
	json_t *list;
};

static int collect_issued(void *ctx, size_t i, const struct machine_bundle *b)
{
	struct issued *out = ctx;
	char until[40];

	(void)i;
	return json_array_append_new(out->list, json_pack("{s:s, s:s, s:s, s:s}", "serial", b->machine.serial,
	                                                  "certificate", b->cert_pem, "cert_sha256",
	                                                  b->machine.cert_fingerprint, "not_after",
	                                                  api_iso_time(b->machine.cert_not_after_ms, until,
	                                                               sizeof(until))))
	       ? CC_ERR_NOMEM : CC_OK;
}

static int read_ca(struct api *a, char **pem)
{
	size_t len;

	return file_read_all(vault_path(a->vault, VAULT_CA_CERT), CC_SMALL_FILE_MAX, (unsigned char **)pem, &len);
}

static void register_rows(struct http_req *r, const struct caller *s, const struct provision_row *rows, size_t n,
                          int days, int single)
{
	struct api *a = http_app(r);
	struct provision_report *rep = calloc(1, sizeof(*rep));
	size_t i, unknown = 0;
	struct provision_opts o;
	struct issued out = { json_array() };
	char *ca = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	o.days = days;
	o.scope_org_id = s->user.org_id;
	o.csr_required = 1;
	o.deliver = collect_issued;
	o.ctx = &out;
	rc = rep == NULL || out.list == NULL ? CC_ERR_NOMEM : read_ca(a, &ca);
	if (rc == CC_OK)
		rc = provision_batch(a->vault, rows, n, &o, rep);
	for (i = 0; rc != CC_OK && rep != NULL && i < rep->n; i++)
		unknown += strcmp(rep->issues[i].field, "customer") == 0 && strcmp(rep->issues[i].why, "no such customer") == 0;
	if (rc != CC_OK && rep != NULL && rep->n > 0 && unknown == rep->n)
		/* Out of the caller's subtree reads as absent, as on every route. */
		http_reply_error(r, 404, "not_found", "no such customer");
	else if (rc != CC_OK) {
		if (rep != NULL)
			reply_issues(r, rep, rc);
		else
			http_reply_error(r, 500, "internal", "the machines could not be registered");
	} else if (audit_serials(r, s, single ? "machine.add" : "machine.import", rows, n) == CC_OK) {
		if (single) {
			json_t *one = json_incref(json_array_get(out.list, 0));

			json_object_set_new(one, "ca", json_string(ca));
			http_reply_json(r, 201, one);
		} else {
			http_reply_json(r, 201, json_pack("{s:I, s:O, s:s}", "registered", (json_int_t)n, "machines",
			                                  out.list, "ca", ca));
		}
	}
	json_decref(out.list);
	free(ca);
	free(rep);
}

void api_machines_add(struct http_req *r)
{
	struct caller *s = api_caller(r);
	json_t *body = http_body(r);
	struct provision_row row;
	int days;

	if (s == NULL || validity_field(r, body, &days) != CC_OK)
		return;
	memset(&row, 0, sizeof(row));
	row.line = 1;
	row.serial = member(body, "serial");
	row.model = member(body, "model");
	row.customer = member(body, "customer");
	row.site = member(body, "site");
	row.csr_pem = member(body, "csr");
	register_rows(r, s, &row, 1, days, 1);
}

/* A text/csv body, RFC 4180: fields separated by commas, records by
 * (CR)LF; a field in double quotes may hold commas, newlines (a PEM CSR)
 * and "" for a quote. Parsed in place: text is the NUL-terminated copy of
 * the body and each field ends up NUL-terminated inside it. */
struct csv {
	char *p;
	long line; /* the physical line the cursor is on */
};

/* The next field; *end_of_record set when it closes its record. NULL for a
 * malformed field (a quote inside an unquoted one, an unclosed quote). */
static char *csv_field(struct csv *c, int *end_of_record)
{
	char *start = c->p, *out = c->p;

	*end_of_record = 0;
	if (*c->p == '"') {
		c->p++;
		for (;;) {
			if (*c->p == '\0')
				return NULL;
			if (*c->p == '"' && c->p[1] == '"') {
				*out++ = '"';
				c->p += 2;
				continue;
			}
			if (*c->p == '"') {
				c->p++;
				break;
			}
			if (*c->p == '\n')
				c->line++;
			*out++ = *c->p++;
		}
	} else {
		while (*c->p != '\0' && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
			if (*c->p == '"')
				return NULL;
			*out++ = *c->p++;
		}
	}
	if (*c->p == '\r')
		c->p++;
	if (*c->p == ',') {
		c->p++;
	} else if (*c->p == '\n' || *c->p == '\0') {
		if (*c->p == '\n') {
			c->p++;
			c->line++;
		}
		*end_of_record = 1;
	} else {
		return NULL;
	}
	*out = '\0';
	return start;
}

enum { CSV_SERIAL, CSV_MODEL, CSV_CUSTOMER, CSV_SITE, CSV_CSR, CSV_COLS };
static const char *const csv_names[CSV_COLS] = { "serial", "model", "customer", "site", "csr" };

/* Rows from a CSV body; replies 400 itself for a malformed one. */
static int csv_rows(struct http_req *r, char *text, struct provision_row *rows, size_t *n)
{
	struct csv c = { text, 1 };
	int col[CSV_COLS] = { -1, -1, -1, -1, -1 }, i, k, eor = 0;
	char *f;
	char why[96];

	for (i = 0; !eor; i++) {
		if ((f = csv_field(&c, &eor)) == NULL || i >= CSV_COLS)
			goto bad_header;
		for (k = 0; k < CSV_COLS && strcmp(f, csv_names[k]) != 0; k++)
			;
		if (k == CSV_COLS || col[k] >= 0)
			goto bad_header;
		col[k] = i;
	}
	if (col[CSV_SERIAL] < 0 || col[CSV_MODEL] < 0 || col[CSV_CUSTOMER] < 0 || col[CSV_CSR] < 0)
		goto bad_header;
	*n = 0;
	while (*c.p != '\0') {
		long line = c.line;
		char *v[CSV_COLS + 1] = { NULL };

		if (*n == API_BATCH_MAX) {
			http_reply_error(r, 413, "too_large", "at most 1000 machines per batch");
			return CC_ERR_LIMIT;
		}
		for (i = 0, eor = 0; !eor; i++) {
			if ((f = csv_field(&c, &eor)) == NULL || i > CSV_COLS) {
				snprintf(why, sizeof(why), "line %ld: malformed (quotes, or more fields than the header)", line);
				http_reply_error(r, 400, "invalid", why);
				return CC_ERR_INVALID;
			}
			v[i] = f;
		}
		if (i == 1 && v[0][0] == '\0')
			continue; /* an empty line */
		memset(&rows[*n], 0, sizeof(rows[0]));
		rows[*n].line = line;
		for (k = 0; k < CSV_COLS; k++) {
			const char *x = col[k] >= 0 && col[k] < i ? v[col[k]] : NULL;

			x = x != NULL && x[0] != '\0' ? x : NULL;
			switch (k) {
			case CSV_SERIAL: rows[*n].serial = x; break;
			case CSV_MODEL: rows[*n].model = x; break;
			case CSV_CUSTOMER: rows[*n].customer = x; break;
			case CSV_SITE: rows[*n].site = x; break;
			case CSV_CSR: rows[*n].csr_pem = x; break;
			}
		}
		(*n)++;
	}
	if (*n > 0)
		return CC_OK;
	http_reply_error(r, 400, "invalid", "no machines in the CSV");
	return CC_ERR_INVALID;
bad_header:
	http_reply_error(r, 400, "invalid", "the first line names the columns: serial,model,customer[,site],csr");
	return CC_ERR_INVALID;
}

static void batch_csv(struct http_req *r, const struct caller *s)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(http_evrequest(r));
	size_t len = evbuffer_get_length(in), n = 0;
	const char *days_text = http_query(r, "validity_days");
	int64_t days = 0;
	char *text = NULL;
	struct provision_row *rows = NULL;

	if (days_text != NULL && (api_parse_ms(days_text, 0, &days) != CC_OK || days < 1 || days > CA_DAYS_MAX)) {
		http_reply_error(r, 400, "invalid", "validity_days: a whole number of days, 1-36500");
		return;
	}
	if (len > HTTP_BODY_MAX) {
		http_reply_error(r, 413, "too_large", "the request body is too large");
		return;
	}
	text = malloc(len + 1);
	rows = calloc(API_BATCH_MAX, sizeof(*rows));
	if (text == NULL || rows == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		goto out;
	}
	if (evbuffer_copyout(in, text, len) != (ev_ssize_t)len || memchr(text, '\0', len) != NULL) {
		http_reply_error(r, 400, "invalid", "the body is not text");
		goto out;
	}
	text[len] = '\0';
	if (csv_rows(r, text, rows, &n) == CC_OK)
		register_rows(r, s, rows, n, (int)days, 0);
out:
	free(rows);
	free(text);
}

/* JSON ({"machines": [...], "validity_days": n}) or text/csv (a header line
 * naming serial,model,customer[,site],csr; validity_days in the query). */
void api_machines_batch(struct http_req *r)
{
	struct caller *s = api_caller(r);
	const char *type = http_header(r, "Content-Type");
	json_t *body, *list, *item;
	struct provision_row *rows;
	size_t n, i;
	int days;

	if (s == NULL)
		return;
	if (type != NULL && strncmp(type, "text/csv", 8) == 0) {
		batch_csv(r, s);
		return;
	}
	body = json_incref(http_body(r)); /* declared fields: checked by the dispatcher */
	list = json_object_get(body, "machines");
	if (validity_field(r, body, &days) != CC_OK) {
		json_decref(body);
		return;
	}
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > API_BATCH_MAX) {
		json_decref(body);
		http_reply_error(r, 400, "invalid", "machines: an array of 1-1000 {serial, model, customer, site, csr}");
		return;
	}
	n = json_array_size(list);
	rows = calloc(n, sizeof(*rows));
	if (rows == NULL) {
		json_decref(body);
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	json_array_foreach(list, i, item) {
		rows[i].line = (long)i + 1;
		rows[i].serial = member(item, "serial");
		rows[i].model = member(item, "model");
		rows[i].customer = member(item, "customer");
		rows[i].site = member(item, "site");
		rows[i].csr_pem = member(item, "csr");
	}
	register_rows(r, s, rows, n, days, 0);
	free(rows);
	json_decref(body);
}

void api_machine_renew(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	json_t *body = http_body(r);
	struct store_machine *m = calloc(1, sizeof(*m));
	const char *why = NULL, *csr = member(body, "csr");
	char *cert = NULL, *ca = NULL, until[40], prev_until[40];
	int days = 0, rc;

	if (m == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	if (s == NULL || api_find_machine(r, s, m) != CC_OK || validity_field(r, body, &days) != CC_OK)
		goto out;
	if (csr == NULL) {
		http_reply_error(r, 400, "invalid", "csr: the machine's CSR (PEM, EC P-256) for its new key");
		goto out;
	}
	rc = provision_renew(a->vault, m->serial, csr, days, &cert, m, &why);
	if (rc == CC_OK)
		rc = read_ca(a, &ca);
	if (rc != CC_OK) {
		if (why != NULL)
			http_reply_error(r, rc == CC_ERR_STATE ? 409 : 400, rc == CC_ERR_STATE ? "conflict" : "invalid", why);
		else
			http_reply_error(r, 500, "internal", "the certificate could not be renewed");
		goto out;
	}
	if (api_audit_access(r, s, "machine.renew", m, "ok") != CC_OK)
		goto out;
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "serial", m->serial, "certificate", cert,
	                                  "ca", ca, "cert_sha256", m->cert_fingerprint, "not_after",
	                                  api_iso_time(m->cert_not_after_ms, until, sizeof(until)),
	                                  "previous_accepted_until",
	                                  api_iso_time(m->prev_cert_until_ms, prev_until, sizeof(prev_until))));
out:
	free(cert);
	free(ca);
	free(m);
}

static int audit_row(void *ctx, const struct provision_cert_row *row)
{
	json_t *list = ctx, *findings = json_array();
	char until[40];

	if (findings == NULL)
		return CC_ERR_NOMEM;
	if (row->findings & PROVISION_EXPIRING)
		json_array_append_new(findings, json_string("expiring"));
	if (row->findings & PROVISION_REVOKED_ONLINE)
		json_array_append_new(findings, json_string("revoked_connected"));
	if (row->findings & PROVISION_NEVER_SEEN)
		json_array_append_new(findings, json_string("never_seen"));
	return json_array_append_new(list, json_pack("{s:s, s:s, s:s?, s:s, s:o}", "serial", row->m->serial,
	                                             "customer", row->customer, "not_after",
	                                             row->m->cert_not_after_ms
	                                                 ? api_iso_time(row->m->cert_not_after_ms, until, sizeof(until))
	                                                 : NULL,
	                                             "cert_sha256", row->m->cert_fingerprint, "findings", findings))
	       ? CC_ERR_NOMEM : CC_OK;
}

void api_certificates_audit(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *text = http_query(r, "expiring_days");
	int64_t days = 30;
	json_t *list = json_array();

	if (s == NULL || list == NULL) {
		json_decref(list);
		return;
	}
	if (text != NULL && (api_parse_ms(text, 30, &days) != CC_OK || days < 0 || days > CA_DAYS_MAX)) {
		json_decref(list);
		http_reply_error(r, 400, "invalid", "expiring_days: a whole number of days, 0-36500");
		return;
	}
	if (provision_cert_audit(a->vault, s->user.org_id, clock_now_ms(), days * 86400000, audit_row, list) != CC_OK) {
		json_decref(list);
		http_reply_error(r, 500, "internal", "the certificates could not be listed");
		return;
	}
	if (api_audit_access(r, s, "machine.certs", NULL, "ok") != CC_OK) {
		json_decref(list);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:I, s:o}", "expiring_days", (json_int_t)days, "machines", list));
}
