/* cmd_data.c - what the machines sent: `machine status`, `telemetry get`, `events get`. */
#define _GNU_SOURCE /* strptime, timegm */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "records/fields.h"
#include "records/records.h"

#define MOD "cli"


static int time_range(struct cli_args *a, int64_t *from, int64_t *to)
{
	int rc = CC_OK;

	*from = 0;
	*to = INT64_MAX;
	if (cli_get(a, "from") != NULL)
		rc = cli_parse_time(cli_get(a, "from"), from);
	if (rc == CC_OK && cli_get(a, "to") != NULL)
		rc = cli_parse_time(cli_get(a, "to"), to);
	return rc;
}

/* The people's form: one row per record, one column per metric or field
 * seen (first seen, first), values as sent. Rows are kept packed until
 * the columns are known: [column byte][text NUL]... */
#define RECORD_COLS_MAX (CLI_TABLE_COLS_MAX - 2)

struct packed_row {
	int64_t seq, ts_ms;
	char *cells;
	size_t len;
};

struct record_printer {
	struct cli_args *a;
	enum record_kind kind;
	json_t *rows;
	char *names[RECORD_COLS_MAX];
	size_t ncols;
	struct packed_row *packed;
	size_t npacked, cap;
	struct packed_row *current;
};

/* The column of name into *col, made when new; CC_ERR_LIMIT when the
 * table has as many columns as it can show. */
static int column_of(struct record_printer *p, const char *name, size_t len, size_t *col)
{
	for (*col = 0; *col < p->ncols; (*col)++)
		if (strlen(p->names[*col]) == len && memcmp(p->names[*col], name, len) == 0)
			return CC_OK;
	if (p->ncols == RECORD_COLS_MAX)
		return CC_ERR_LIMIT;
	p->names[p->ncols] = strndup(name, len);
	if (p->names[p->ncols] == NULL)
		return CC_ERR_NOMEM;
	p->ncols++;
	return CC_OK;
}

static int pack_field(void *arg, const char *name, size_t name_len, const char *value, size_t value_len,
                      int is_text)
{
	struct record_printer *p = arg;
	struct packed_row *r = p->current;
	size_t col;
	int rc = column_of(p, name, name_len, &col);
	char *grown;

	(void)is_text;
	if (rc == CC_ERR_LIMIT)
		return 0; /* more distinct names than a message may carry */
	if (rc != CC_OK)
		return rc;
	grown = realloc(r->cells, r->len + value_len + 2);
	if (grown == NULL)
		return CC_ERR_NOMEM;
	r->cells = grown;
	r->cells[r->len] = (char)col;
	memcpy(r->cells + r->len + 1, value, value_len);
	r->cells[r->len + 1 + value_len] = '\0';
	r->len += value_len + 2;
	return 0;
}

static int print_record(void *arg, const struct record_out *r)
{
	struct record_printer *p = arg;
	char when[40];

	if (p->a->json) {
		json_t *body = json_loadb(r->body, r->body_len, 0, NULL);

		return json_array_append_new(p->rows, json_pack("{s:I, s:s, s:o*}", "seq", (json_int_t)r->seq,
		                              "time", cli_time(r->ts_ms, when, sizeof(when)), "body", body))
		               ? CC_ERR_NOMEM : 0;
	}
	if (p->npacked == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;
		struct packed_row *grown = realloc(p->packed, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		p->packed = grown;
		p->cap = cap;
	}
	p->current = &p->packed[p->npacked++];
	memset(p->current, 0, sizeof(*p->current));
	p->current->seq = r->seq;
	p->current->ts_ms = r->ts_ms;
	return record_fields(p->kind, r->body, r->body_len, pack_field, p);
}

static int print_record_table(struct record_printer *p)
{
	const char *cells[CLI_TABLE_COLS_MAX];
	struct cli_table *t = cli_table_new((const char *const[]){ "TIME", "SEQ", NULL });
	char when[40], seq[24];
	size_t i, c;
	int rc = t != NULL ? CC_OK : CC_ERR_NOMEM;

	for (c = 0; rc == CC_OK && c < p->ncols; c++)
		rc = cli_table_add_column(t, p->names[c]);
	for (i = 0; rc == CC_OK && i < p->npacked; i++) {
		const struct packed_row *r = &p->packed[i];
		size_t at = 0;

		memset(cells, 0, sizeof(cells));
		cells[0] = cli_time(r->ts_ms, when, sizeof(when));
		snprintf(seq, sizeof(seq), "%lld", (long long)r->seq);
		cells[1] = seq;
		while (at < r->len) {
			cells[2 + (unsigned char)r->cells[at]] = r->cells + at + 1;
			at += strlen(r->cells + at + 1) + 2;
		}
		rc = cli_table_row(t, cells);
	}
	if (rc == CC_OK)
		return cli_table_print(t);
	cli_table_free(t);
	return rc;
}

static int run_records(struct cli_args *a, enum record_kind kind)
{
	struct record_printer p;
	struct store_machine m;
	int64_t from, to;
	size_t i;
	int rc = time_range(a, &from, &to);

	memset(&p, 0, sizeof(p));
	p.a = a;
	p.kind = kind;
	p.rows = json_array();
	if (p.rows == NULL)
		return CC_ERR_NOMEM;
	if (rc == CC_OK)
		rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);
	if (rc == CC_OK)
		rc = records_get(a->vault, &m, kind, from, to, print_record, &p);
	if (rc == CC_OK && a->json) {
		rc = cli_print_json(p.rows);
		p.rows = NULL;
	} else if (rc == CC_OK) {
		rc = print_record_table(&p);
	}
	json_decref(p.rows);
	for (i = 0; i < p.npacked; i++)
		free(p.packed[i].cells);
	free(p.packed);
	for (i = 0; i < p.ncols; i++)
		free(p.names[i]);
	return rc;
}

static int run_telemetry_get(struct cli_args *a) { return run_records(a, RECORD_TELEMETRY); }
static int run_events_get(struct cli_args *a) { return run_records(a, RECORD_EVENT); }

struct status_printer {
	struct cli_args *a;
	json_t *rows;
	struct cli_table *table;
};

static int print_status(void *arg, const struct store_machine *m)
{
	struct status_printer *p = arg;
	struct store *s = vault_store(p->a->vault);
	struct store_machine_state st;
	struct store_org cust;
	char seen[40], changed[40];
	char *info = NULL;
	json_t *info_doc = NULL;
	const char *sw = NULL, *state;
	int rc, known = s->ops->machine_state_get(s, m->id, &st) == CC_OK;

	if (!known)
		memset(&st, 0, sizeof(st));
	if (known && records_open_info(p->a->vault, m, &st, &info) == CC_OK) {
		info_doc = json_loads(info, 0, NULL);
		sw = json_string_value(json_object_get(info_doc, "sw"));
	}
	state = !known ? "never seen" : st.online ? "online" : "offline";
	if (p->a->json) {
		rc = json_array_append_new(p->rows, json_pack(
			"{s:s, s:s, s:b, s:s?, s:s?, s:s?, s:O?, s:b}", "serial", m->serial, "state",
			state, "online", known && st.online,
			"last_seen", known ? cli_time(st.last_seen_ms, seen, sizeof(seen)) : NULL,
			"since", known ? cli_time(st.changed_ms, changed, sizeof(changed)) : NULL,
			"last_disconnect_reason", known && st.disconnect_reason[0] ? st.disconnect_reason : NULL,
			"info", info_doc, "revoked", m->revoked_ms != 0)) ? CC_ERR_NOMEM : 0;
	} else {
		if (s->ops->org_get(s, m->customer_id, &cust) != CC_OK)
			cust.name[0] = '\0';
		rc = cli_table_add(p->table, m->serial, cust.name, m->revoked_ms ? "revoked" : state,
		                   known ? cli_time_s(st.changed_ms, changed, sizeof(changed)) : NULL,
		                   known ? cli_time_s(st.last_seen_ms, seen, sizeof(seen)) : NULL, sw,
		                   known && !st.online ? st.disconnect_reason : NULL);
	}
	json_decref(info_doc);
	free(info);
	return rc;
}

int cli_run_machine_status(struct cli_args *a)
{
	static const char *const headers[] = { "SERIAL", "CUSTOMER", "STATE", "SINCE", "LAST SEEN", "SOFTWARE",
		                               "LAST DISCONNECT", NULL };
	struct status_printer p = { a, json_array(), cli_table_new(headers) };
	struct store *s = vault_store(a->vault);
	const char *serial = cli_get(a, "serial");
	int rc = p.rows != NULL && p.table != NULL ? CC_OK : CC_ERR_NOMEM;

	if (rc == CC_OK && serial != NULL) {
		struct store_machine m;

		rc = inventory_machine_find(a->vault, serial, &m);
		if (rc == CC_OK)
			rc = print_status(&p, &m);
	} else if (rc == CC_OK) {
		rc = s->ops->machine_list(s, 0, print_status, &p);
	}
	if (rc == CC_OK && a->json && serial != NULL) {
		/* One machine asked for: its object, not a list of one. */
		json_t *one = json_incref(json_array_get(p.rows, 0));

		json_decref(p.rows);
		p.rows = one;
	}
	return cli_list_done(a, rc, p.rows, p.table);
}

#define RANGE_OPTS \
	{ "serial", "S", "the machine", 1 }, \
	{ "from", "TIME", "from this time (epoch ms or YYYY-MM-DDTHH:MM:SSZ), inclusive", 0 }, \
	{ "to", "TIME", "until this time, exclusive", 0 }

const struct cli_cmd cli_telemetry_cmds[] = {
	{ "telemetry", "get", "decrypt and print a machine's telemetry", "serial", 1,
	  { RANGE_OPTS, CLI_END_OPTS }, run_telemetry_get },
	CLI_END_CMDS,
};

const struct cli_cmd cli_events_cmds[] = {
	{ "events", "get", "decrypt and print a machine's events", "serial", 1,
	  { RANGE_OPTS, CLI_END_OPTS }, run_events_get },
	CLI_END_CMDS,
};
