#include "records/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "records/records.h"
#include "store/store.h"

struct export {
	struct vault *v;
	enum export_format format;
	int (*write)(void *, const char *, size_t);
	void *ctx;
	const struct store_machine *m;
	const char *kind;
	int first_machine, first_record;
	int rc;
};

static int out(struct export *e, const char *s, size_t n)
{
	if (e->rc == CC_OK && n > 0)
		e->rc = e->write(e->ctx, s, n);
	return e->rc;
}

static int outs(struct export *e, const char *s) { return out(e, s, strlen(s)); }

/* CSV field: quoted, inner quotes doubled (RFC 4180). */
static int out_csv_field(struct export *e, const char *s, size_t n)
{
	size_t i, start = 0;

	outs(e, "\"");
	for (i = 0; i < n; i++) {
		if (s[i] == '"') {
			out(e, s + start, i + 1 - start);
			outs(e, "\"");
			start = i + 1;
		}
	}
	out(e, s + start, n - start);
	return outs(e, "\"");
}

static int one_record(void *arg, const struct record_out *r)
{
	struct export *e = arg;
	char head[128], when[40];

	clock_format_iso(r->ts_ms, when, sizeof(when));
	if (e->format == EXPORT_CSV) {
		snprintf(head, sizeof(head), "%s,%s,%lld,%s,", e->m->serial, e->kind, (long long)r->seq, when);
		outs(e, head);
		out_csv_field(e, r->body, r->body_len);
		outs(e, "\r\n");
	} else {
		snprintf(head, sizeof(head), "%s{\"seq\":%lld,\"time\":\"%s\",\"body\":", e->first_record ? "" : ",",
		         (long long)r->seq, when);
		e->first_record = 0;
		outs(e, head);
		out(e, r->body, r->body_len); /* stored bodies are JSON that ingest validated */
		outs(e, "}");
	}
	return e->rc;
}

static int one_machine(void *arg, const struct store_machine *m)
{
	struct export *e = arg;
	char head[256];
	int rc;

	e->m = m;
	if (e->format == EXPORT_JSON) {
		snprintf(head, sizeof(head), "%s{\"serial\":\"%s\",\"model\":\"%s\",\"telemetry\":[",
		         e->first_machine ? "" : ",", m->serial, m->model);
		e->first_machine = 0;
		outs(e, head);
	}
	e->kind = "telemetry";
	e->first_record = 1;
	rc = records_get(e->v, m, RECORD_TELEMETRY, 0, INT64_MAX, one_record, e);
	if (e->format == EXPORT_JSON)
		outs(e, "],\"events\":[");
	e->kind = "event";
	e->first_record = 1;
	if (rc == CC_OK)
		rc = records_get(e->v, m, RECORD_EVENT, 0, INT64_MAX, one_record, e);
	if (e->format == EXPORT_JSON)
		outs(e, "],\"reports\":[");
	e->kind = "report";
	e->first_record = 1;
	if (rc == CC_OK)
		rc = records_get(e->v, m, RECORD_REPORT, 0, INT64_MAX, one_record, e);
	if (e->format == EXPORT_JSON)
		outs(e, "]}");
	if (rc != CC_OK && e->rc == CC_OK)
		e->rc = rc;
	return e->rc;
}

int export_customer(struct vault *v, int64_t customer_id, enum export_format format,
                    int (*write)(void *ctx, const char *data, size_t len), void *ctx)
{
	struct store *s = vault_store(v);
	struct export e = { v, format, write, ctx, NULL, NULL, 1, 1, CC_OK };
	struct store_org org;
	char head[256], when[40];
	int rc = s->ops->org_get(s, customer_id, &org);

	if (rc != CC_OK)
		return rc;
	clock_format_iso(clock_now_ms(), when, sizeof(when));
	if (format == EXPORT_CSV) {
		outs(&e, "serial,kind,seq,time,body\r\n");
	} else {
		snprintf(head, sizeof(head), "{\"customer\":\"%s\",\"exported\":\"%s\",\"machines\":[", org.name, when);
		outs(&e, head);
	}
	rc = s->ops->machine_list(s, customer_id, one_machine, &e);
	if (format == EXPORT_JSON)
		outs(&e, "]}\n");
	return rc != CC_OK ? rc : e.rc;
}

int export_format_parse(const char *name, enum export_format *out_format)
{
	if (name == NULL || strcmp(name, "json") == 0) {
		*out_format = EXPORT_JSON;
		return CC_OK;
	}
	if (strcmp(name, "csv") == 0) {
		*out_format = EXPORT_CSV;
		return CC_OK;
	}
	return CC_ERR_INVALID;
}
