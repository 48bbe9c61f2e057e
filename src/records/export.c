#include "records/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "fleet/tickets.h"
#include "ingest/catalogue.h"
#include "records/fields.h"
#include "records/records.h"
#include "store/store.h"

/* Where an export stands: the machines (read at the start), which one and
 * which kind of record is being written, and after which seq it goes on. */
enum export_phase { PHASE_HEAD, PHASE_MACHINE, PHASE_RECORDS, PHASE_TICKETS, PHASE_TAIL, PHASE_DONE };

/* A CSV table's columns after serial, seq and time: the catalogue's metrics
 * or fields, then "other" for any name the catalogue no longer has. */
#define CSV_COLS_MAX 96

struct export {
	struct vault *v;
	enum export_format format;
	enum record_kind table;          /* CSV: which records */
	const char *cols[CSV_COLS_MAX];
	size_t ncols;
	/* CSV: the cells of the record being written */
	char *cell[CSV_COLS_MAX];
	size_t cell_len[CSV_COLS_MAX];
	int cell_number[CSV_COLS_MAX];
	int64_t customer_id;
	struct store_machine *machines;
	size_t nmachines, cap, machine; /* machine: the index being written */
	enum export_phase phase;
	enum record_kind kind;
	int64_t after_seq;
	int64_t ticket_before;           /* JSON: the machine's tickets go on below this id (0: from the newest) */
	size_t budget;                   /* records left in this step */
	int first_record;
	/* the current step's output */
	int (*write)(void *, const char *, size_t);
	void *ctx;
	int rc;
};

static const char *const kind_lists[] = { NULL, "telemetry", "events", "reports" };

static int out(struct export *e, const char *s, size_t n)
{
	if (e->rc == CC_OK && n > 0)
		e->rc = e->write(e->ctx, s, n);
	return e->rc;
}

static int outs(struct export *e, const char *s) { return out(e, s, strlen(s)); }

/*
 * One CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line
 * break, inner quotes doubled. A text cell that a spreadsheet would take
 * for a formula (= + - @, tab, CR first) gets a leading apostrophe, which
 * spreadsheets show as text. Numbers as the machine wrote them are left
 * alone: a JSON number is never a formula (-3.5 stays a number).
 */
static int out_csv_cell(struct export *e, const char *s, size_t n, int number)
{
	int formula = !number && n > 0 && strchr("=+-@\t\r", s[0]) != NULL;
	int quote = formula;
	size_t i, start = 0;

	for (i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (!quote)
		return out(e, s, n);
	outs(e, formula ? "\"'" : "\"");
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

static int set_cell(struct export *e, size_t col, const char *value, size_t len, int number)
{
	char *grown;
	size_t sep = col == e->ncols - 1 && e->cell_len[col] > 0 ? 2 : 0; /* "other" gathers */

	if (e->cell_len[col] > 0 && sep == 0)
		return CC_OK; /* a name twice: the first holds */
	grown = realloc(e->cell[col], e->cell_len[col] + sep + len + 1);
	if (grown == NULL)
		return CC_ERR_NOMEM;
	e->cell[col] = grown;
	memcpy(grown + e->cell_len[col], "; ", sep);
	memcpy(grown + e->cell_len[col] + sep, value, len);
	e->cell_len[col] += sep + len;
	grown[e->cell_len[col]] = '\0';
	e->cell_number[col] = number && sep == 0;
	return CC_OK;
}

/* Fields of one record into the cells of their columns. */
static int csv_field(void *arg, const char *name, size_t name_len, const char *value, size_t value_len, int is_text)
{
	struct export *e = arg;
	char when[40], other[CATALOGUE_NAME_MAX + 2 * CATALOGUE_STRING_MAX + 64];
	size_t col;

	for (col = 0; col + 1 < e->ncols; col++)
		if (strlen(e->cols[col]) == name_len && memcmp(e->cols[col], name, name_len) == 0)
			break;
	if (col + 1 == e->ncols) {
		int n = snprintf(other, sizeof(other), "%.*s=%.*s", (int)(name_len > 64 ? 64 : name_len), name,
		                 (int)(value_len > 64 ? 64 : value_len), value);

		return set_cell(e, col, other, n < 0 ? 0 : (size_t)n < sizeof(other) ? (size_t)n : sizeof(other) - 1, 0);
	}
	/* A report's times are epoch ms in its body; a table shows them as times. */
	if (e->table == RECORD_REPORT && !is_text && value_len < 20 &&
	    (strcmp(e->cols[col], "performed") == 0 || strcmp(e->cols[col], "submitted") == 0)) {
		char digits[24];

		memcpy(digits, value, value_len);
		digits[value_len] = '\0';
		clock_format_iso(strtoll(digits, NULL, 10), when, sizeof(when));
		return set_cell(e, col, when, strlen(when), 0);
	}
	return set_cell(e, col, value, value_len, !is_text);
}

static int csv_record(struct export *e, const struct store_machine *m, const struct record_out *r)
{
	char seq[24], when[40];
	size_t col;
	int rc;

	for (col = 0; col < e->ncols; col++)
		e->cell_len[col] = 0;
	rc = record_fields(e->table, r->body, r->body_len, csv_field, e);
	if (rc != CC_OK)
		return e->rc = rc;
	snprintf(seq, sizeof(seq), "%lld", (long long)r->seq);
	clock_format_iso(r->ts_ms, when, sizeof(when));
	out_csv_cell(e, m->serial, strlen(m->serial), 0);
	outs(e, ",");
	outs(e, seq);
	outs(e, ",");
	outs(e, when);
	for (col = 0; col < e->ncols; col++) {
		outs(e, ",");
		out_csv_cell(e, e->cell[col] != NULL ? e->cell[col] : "", e->cell_len[col], e->cell_number[col]);
	}
	return outs(e, "\r\n");
}

static int one_record(void *arg, const struct record_out *r)
{
	struct export *e = arg;
	const struct store_machine *m = &e->machines[e->machine];
	char head[128], when[40];

	if (e->budget == 0)
		return 1; /* this step is full: go on from after_seq next time */
	if (e->format == EXPORT_CSV) {
		csv_record(e, m, r);
	} else {
		clock_format_iso(r->ts_ms, when, sizeof(when));
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

static void add_column(struct export *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->ncols; i++)
		if (strcmp(e->cols[i], name) == 0)
			return;
	if (e->ncols < CSV_COLS_MAX - 1)
		e->cols[e->ncols++] = name;
}

/* The columns of a CSV table: what the catalogue lets these machines send. */
static void csv_columns(struct export *e)
{
	static const char *const report_fields[] = { "type", "work", "parts", "outcome", "duration_min",
		                                     "travel_min", "performed", "submitted", "author", "note" };
	const struct catalogue_metric *metric;
	const struct catalogue_event *ev;
	size_t i, j;

	if (e->table == RECORD_TELEMETRY) {
		for (i = 0; (metric = catalogue_metric_at(NULL, i)) != NULL; i++)
			add_column(e, metric->name);
		for (j = 0; j < e->nmachines; j++)
			for (i = 0; (metric = catalogue_metric_at(e->machines[j].model, i)) != NULL; i++)
				add_column(e, metric->name);
	} else if (e->table == RECORD_EVENT) {
		add_column(e, "type");
		for (i = 0; (ev = catalogue_event_at(i)) != NULL; i++)
			for (j = 0; j < ev->nfields; j++)
				add_column(e, ev->fields[j].name);
	} else {
		for (i = 0; i < sizeof(report_fields) / sizeof(report_fields[0]); i++)
			add_column(e, report_fields[i]);
	}
	e->cols[e->ncols++] = "other";
}

static int csv_header(struct export *e)
{
	size_t i;

	outs(e, "serial,seq,time");
	for (i = 0; i < e->ncols; i++) {
		outs(e, ",");
		outs(e, e->cols[i]);
	}
	return outs(e, "\r\n");
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

int export_open(struct vault *v, int64_t customer_id, enum export_format format, enum record_kind table,
                struct export **out_export)
{
	struct store *s = vault_store(v);
	struct export *e = calloc(1, sizeof(*e));
	int rc;

	if (e == NULL)
		return CC_ERR_NOMEM;
	e->v = v;
	e->format = format;
	e->customer_id = customer_id;
	e->table = table;
	rc = s->ops->machine_list(s, customer_id, keep_machine, e);
	if (rc != CC_OK) {
		export_close(e);
		return rc;
	}
	if (format == EXPORT_CSV)
		csv_columns(e);
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
	if (e->format == EXPORT_JSON && e->kind != RECORD_REPORT) {
		e->kind++;
		e->after_seq = 0;
		e->first_record = 1;
		if (e->format == EXPORT_JSON) {
			snprintf(head, sizeof(head), "],\"%s\":[", kind_lists[e->kind]);
			outs(e, head);
		}
		return e->rc;
	}
	if (e->format == EXPORT_JSON) {
		/* The machine's service tickets follow its records (JSON only: a
		 * ticket's history does not fit a spreadsheet's rows). */
		outs(e, "],\"tickets\":[");
		e->ticket_before = 0;
		e->first_record = 1;
		e->phase = PHASE_TICKETS;
		return e->rc;
	}
	e->machine++;
	e->phase = PHASE_MACHINE;
	return e->rc;
}

/* One ticket with its whole history, its words opened: tickets_doc is the
 * one place a ticket becomes JSON (the API shows the same document). */
static int one_ticket(void *arg, const struct store_ticket *t)
{
	struct export *e = arg;
	json_t *doc;
	char *text;

	if (e->budget == 0)
		return 1;
	doc = tickets_doc(e->v, t, 1);
	text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (text == NULL)
		return e->rc = CC_ERR_NOMEM;
	if (!e->first_record)
		outs(e, ",");
	e->first_record = 0;
	outs(e, text);
	free(text);
	e->ticket_before = t->id;
	e->budget--;
	return e->rc;
}

static int tickets_step(struct export *e)
{
	struct store *s = vault_store(e->v);
	struct store_ticket_filter f;
	int rc;

	memset(&f, 0, sizeof(f));
	f.machine_id = e->machines[e->machine].id;
	f.before_id = e->ticket_before;
	rc = s->ops->tickets->list(s, &f, one_ticket, e);
	if (rc < 0 || e->rc != CC_OK)
		return rc < 0 ? rc : e->rc;
	if (rc == 1)
		return CC_OK; /* the budget ran out: on from ticket_before next time */
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
			if (e->format == EXPORT_CSV) {
				csv_header(e);
			} else {
				snprintf(head, sizeof(head), "{\"customer\":\"%s\",\"exported\":\"%s\",\"machines\":[",
				         org.name, when);
				outs(e, head);
			}
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
			e->kind = e->format == EXPORT_CSV ? e->table : RECORD_TELEMETRY;
			e->after_seq = 0;
			e->first_record = 1;
			e->phase = PHASE_RECORDS;
			break;
		case PHASE_RECORDS:
			rc = records_step(e);
			break;
		case PHASE_TICKETS:
			rc = tickets_step(e);
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
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < CSV_COLS_MAX; i++)
		free(e->cell[i]);
	free(e->machines);
	free(e);
}

int export_customer(struct vault *v, int64_t customer_id, enum export_format format, enum record_kind table,
                    int (*write)(void *ctx, const char *data, size_t len), void *ctx)
{
	struct export *e = NULL;
	int done = 0, rc = export_open(v, customer_id, format, table, &e);

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

int export_table_parse(const char *name, enum record_kind *out_table)
{
	if (name == NULL || strcmp(name, "telemetry") == 0)
		*out_table = RECORD_TELEMETRY;
	else if (strcmp(name, "events") == 0)
		*out_table = RECORD_EVENT;
	else if (strcmp(name, "reports") == 0)
		*out_table = RECORD_REPORT;
	else
		return CC_ERR_INVALID;
	return CC_OK;
}
