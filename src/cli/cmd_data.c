/* cmd_data.c - what the machines sent: `machine status`, `telemetry get`, `events get`. */
#define _GNU_SOURCE /* strptime, timegm */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
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

struct record_printer {
	struct cli_args *a;
	json_t *rows;
	size_t count;
};

static int print_record(void *arg, const struct record_out *r)
{
	struct record_printer *p = arg;
	char when[40];

	p->count++;
	if (p->a->json) {
		json_t *body = json_loadb(r->body, r->body_len, 0, NULL);

		return json_array_append_new(p->rows, json_pack("{s:I, s:s, s:o*}", "seq", (json_int_t)r->seq,
		                              "time", cli_time(r->ts_ms, when, sizeof(when)), "body", body))
		               ? CC_ERR_NOMEM : 0;
	}
	printf("%-12lld %s %.*s\n", (long long)r->seq, cli_time(r->ts_ms, when, sizeof(when)),
	       (int)r->body_len, r->body);
	return 0;
}

static int run_records(struct cli_args *a, enum record_kind kind)
{
	struct record_printer p = { a, json_array(), 0 };
	struct store_machine m;
	int64_t from, to;
	int rc = time_range(a, &from, &to);

	if (p.rows == NULL)
		return CC_ERR_NOMEM;
	if (rc == CC_OK)
		rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);
	if (rc == CC_OK)
		rc = records_get(a->vault, &m, kind, from, to, print_record, &p);
	if (rc == CC_OK && a->json)
		return cli_print_json(p.rows);
	json_decref(p.rows);
	return rc;
}

static int run_telemetry_get(struct cli_args *a) { return run_records(a, RECORD_TELEMETRY); }
static int run_events_get(struct cli_args *a) { return run_records(a, RECORD_EVENT); }

struct status_printer {
	struct cli_args *a;
	json_t *rows;
};

static int print_status(void *arg, const struct store_machine *m)
{
	struct status_printer *p = arg;
	struct store *s = vault_store(p->a->vault);
	struct store_machine_state st;
	char seen[40], changed[40];
	char *info = NULL;
	json_t *info_doc = NULL;
	const char *sw = NULL;
	int known = s->ops->machine_state_get(s, m->id, &st) == CC_OK;

	if (!known)
		memset(&st, 0, sizeof(st));
	if (known && records_open_info(p->a->vault, m, &st, &info) == CC_OK) {
		info_doc = json_loads(info, 0, NULL);
		sw = json_string_value(json_object_get(info_doc, "sw"));
	}
	if (p->a->json) {
		int rc = json_array_append_new(p->rows, json_pack(
			"{s:s, s:s, s:b, s:s?, s:s?, s:s?, s:O?, s:b}", "serial", m->serial, "state",
			!known ? "never seen" : st.online ? "online" : "offline", "online", known && st.online,
			"last_seen", known ? cli_time(st.last_seen_ms, seen, sizeof(seen)) : NULL,
			"since", known ? cli_time(st.changed_ms, changed, sizeof(changed)) : NULL,
			"last_disconnect_reason", known && st.disconnect_reason[0] ? st.disconnect_reason : NULL,
			"info", info_doc, "revoked", m->revoked_ms != 0));
		json_decref(info_doc);
		free(info);
		return rc ? CC_ERR_NOMEM : 0;
	}
	printf("%-20s %-10s %-25s %-10s %s\n", m->serial, !known ? "never" : st.online ? "online" : "offline",
	       known ? cli_time(st.last_seen_ms, seen, sizeof(seen)) : "-", sw ? sw : "-",
	       known && !st.online ? st.disconnect_reason : "");
	json_decref(info_doc);
	free(info);
	return 0;
}

int cli_run_machine_status(struct cli_args *a)
{
	struct status_printer p = { a, json_array() };
	struct store *s = vault_store(a->vault);
	const char *serial = cli_get(a, "serial");
	int rc;

	if (p.rows == NULL)
		return CC_ERR_NOMEM;
	if (!a->json)
		printf("%-20s %-10s %-25s %-10s %s\n", "SERIAL", "STATE", "LAST SEEN", "SOFTWARE",
		       "LAST DISCONNECT");
	if (serial != NULL) {
		struct store_machine m;

		rc = inventory_machine_find(a->vault, serial, &m);
		if (rc == CC_OK)
			rc = print_status(&p, &m);
	} else {
		rc = s->ops->machine_list(s, 0, print_status, &p);
	}
	if (rc == CC_OK && a->json) {
		json_t *doc = serial != NULL ? json_incref(json_array_get(p.rows, 0)) : json_incref(p.rows);

		json_decref(p.rows);
		return cli_print_json(doc);
	}
	json_decref(p.rows);
	return rc;
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
