#include "records/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "records/records.h"
#include "store/store.h"

/* Where an export stands: the machines (read at the start), which one and
 * which kind of record is being written, and after which seq it goes on. */
enum export_phase { PHASE_HEAD, PHASE_MACHINE, PHASE_RECORDS, PHASE_TAIL, PHASE_DONE };

struct export {
	struct vault *v;
	enum export_format format;
	int64_t customer_id;
	struct store_machine *machines;
	size_t nmachines, cap, machine; /* machine: the index being written */
	enum export_phase phase;
	enum record_kind kind;
	int64_t after_seq;
	size_t budget;                   /* records left in this step */
	int first_record;
	/* the current step's output */
	int (*write)(void *, const char *, size_t);
	void *ctx;
	int rc;
};

static const char *const kind_names[] = { NULL, "telemetry", "event", "report" };
static const char *const kind_lists[] = { NULL, "telemetry", "events", "reports" };

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
	const struct store_machine *m = &e->machines[e->machine];
	char head[128], when[40];

	if (e->budget == 0)
		return 1; /* this step is full: go on from after_seq next time */
	clock_format_iso(r->ts_ms, when, sizeof(when));
	if (e->format == EXPORT_CSV) {
		snprintf(head, sizeof(head), "%s,%s,%lld,%s,", m->serial, kind_names[e->kind], (long long)r->seq, when);
		outs(e, head);
		out_csv_field(e, r->body, r->body_len);
		outs(e, "\r\n");
	} else {
		snprintf(head, sizeof(head), "%s{\"seq\":%lld,\"time\":\"%s\",\"body\":", e->first_record ? "" : ",",
		         (long long)r->seq, when);
		e->first_record = 0;
		outs(e, head);
		out(e, r->body, r->body_len); /* stored bodies are JSON that ingest or reports_check validated */
		outs(e, "}");
	}
	e->after_seq = r->seq;
	e->budget--;
	return e->rc;
}

static int keep_machine(void *arg, const struct store_machine *m)
{
	struct export *e = arg;

	if (e->nmachines == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 16;
		struct store_machine *grown = realloc(e->machines, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		e->machines = grown;
		e->cap = cap;
	}
	e->machines[e->nmachines++] = *m;
	return 0;
}

int export_open(struct vault *v, int64_t customer_id, enum export_format format, struct export **out_export)
{
	struct store *s = vault_store(v);
	struct export *e = calloc(1, sizeof(*e));
	int rc;

	if (e == NULL)
		return CC_ERR_NOMEM;
	e->v = v;
	e->format = format;
	e->customer_id = customer_id;
	rc = s->ops->machine_list(s, customer_id, keep_machine, e);
	if (rc != CC_OK) {
		export_close(e);
		return rc;
	}
	*out_export = e;
	return CC_OK;
}

/* One machine's records of the current kind, up to the budget; moves on to
 * the next kind or machine when they are all out. */
static int records_step(struct export *e)
{
	const struct store_machine *m = &e->machines[e->machine];
	char head[256];
	int rc = records_page(e->v, m, e->kind, 0, INT64_MAX, e->after_seq, one_record, e);

	if (rc < 0 || e->rc != CC_OK)
		return rc < 0 ? rc : e->rc;
	if (rc == 1)
		return CC_OK; /* the budget ran out inside this list */
	if (e->kind != RECORD_REPORT) {
		e->kind++;
		e->after_seq = 0;
		e->first_record = 1;
		if (e->format == EXPORT_JSON) {
			snprintf(head, sizeof(head), "],\"%s\":[", kind_lists[e->kind]);
			outs(e, head);
		}
		return e->rc;
	}
	if (e->format == EXPORT_JSON)
		outs(e, "]}");
	e->machine++;
	e->phase = PHASE_MACHINE;
	return e->rc;
}

int export_step(struct export *e, size_t max_records, int (*write)(void *ctx, const char *data, size_t len),
                void *ctx, int *done)
{
	struct store *s = vault_store(e->v);
	struct store_org org;
	char head[256], when[40];
	int rc = CC_OK;

	e->write = write;
	e->ctx = ctx;
	e->rc = CC_OK;
	e->budget = max_records ? max_records : 1;
	while (rc == CC_OK && e->rc == CC_OK && e->budget > 0 && e->phase != PHASE_DONE) {
		switch (e->phase) {
		case PHASE_HEAD:
			rc = s->ops->org_get(s, e->customer_id, &org);
			if (rc != CC_OK)
				break;
			clock_format_iso(clock_now_ms(), when, sizeof(when));
			if (e->format == EXPORT_CSV)
				snprintf(head, sizeof(head), "serial,kind,seq,time,body\r\n");
			else
				snprintf(head, sizeof(head), "{\"customer\":\"%s\",\"exported\":\"%s\",\"machines\":[",
				         org.name, when);
			outs(e, head);
			e->phase = PHASE_MACHINE;
			break;
		case PHASE_MACHINE:
			if (e->machine == e->nmachines) {
				e->phase = PHASE_TAIL;
				break;
			}
			if (e->format == EXPORT_JSON) {
				snprintf(head, sizeof(head), "%s{\"serial\":\"%s\",\"model\":\"%s\",\"telemetry\":[",
				         e->machine ? "," : "", e->machines[e->machine].serial, e->machines[e->machine].model);
				outs(e, head);
			}
			e->kind = RECORD_TELEMETRY;
			e->after_seq = 0;
			e->first_record = 1;
			e->phase = PHASE_RECORDS;
			break;
		case PHASE_RECORDS:
			rc = records_step(e);
			break;
		case PHASE_TAIL:
			if (e->format == EXPORT_JSON)
				outs(e, "]}\n");
			e->phase = PHASE_DONE;
			break;
		case PHASE_DONE:
			break;
		}
	}
	if (rc == CC_OK)
		rc = e->rc;
	if (rc == CC_OK)
		*done = e->phase == PHASE_DONE;
	return rc;
}

void export_close(struct export *e)
{
	if (e == NULL)
		return;
	free(e->machines);
	free(e);
}

int export_customer(struct vault *v, int64_t customer_id, enum export_format format,
                    int (*write)(void *ctx, const char *data, size_t len), void *ctx)
{
	struct export *e = NULL;
	int done = 0, rc = export_open(v, customer_id, format, &e);

	while (rc == CC_OK && !done)
		rc = export_step(e, 1000, write, ctx, &done);
	export_close(e);
	return rc;
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
