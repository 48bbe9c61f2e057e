/*
 * cmd_audit.c - `audit verify|list`, and the audit record every command run
 * on a data directory leaves behind (called from main.c).
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access/audit.h"
#include "cli/cli.h"
#include "cli/table.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"

#define MOD "cli"

/* ---- which commands leave which record ---- */

struct audit_rule {
	const char *noun, *verb;
	int audited;
	int machine_data;
	const char *data_class, *purpose;
};

/*
 * Commands not listed here that open a data directory are changes: class
 * "admin", purpose "administration". Inventory reads (names, serials,
 * certificates; no machine data) are not audited: they would make every
 * listing a write to the database.
 */
static const struct audit_rule rules[] = {
	{ "telemetry", "get", 1, 1, "technical", "support" },
	{ "events", "get", 1, 1, "technical", "support" },
	{ "machine", "status", 1, 1, "status", "support" },
	{ "report", "availability", 1, 1, "status", "downtime" },
	{ "report", "health", 1, 1, "status", "support" },
	{ "report", "compliance", 1, 1, "technical,usage", "quality" },
	{ "report", "beverages", 1, 1, "usage", "quality" },
	{ "report", "forecasts", 1, 1, "service", "support" },
	{ "quality-rule", "list", 1, 0, "technical", "quality" },
	{ "quality-rule", "show", 1, 0, "technical", "quality" },
	{ "quality-rule", "upload", 1, 0, "technical", "quality" },
	{ "maintenance", "start", 1, 0, "status", "downtime" },
	{ "maintenance", "end", 1, 0, "status", "downtime" },
	{ "machine", "search", 1, 1, "status", "support" },
	{ "alert", "list", 1, 1, "status", "downtime" },
	{ "alert", "show", 1, 1, "status", "downtime" },
	{ "alert", "ack", 1, 0, "status", "downtime" },
	{ "alert", "resolve", 1, 0, "status", "downtime" },
	{ "alert", "comment", 1, 0, "status", "downtime" },
	{ "ticket", "list", 1, 1, "service", "support" },
	{ "ticket", "show", 1, 1, "service", "support" },
	{ "ticket", "open", 1, 0, "service", "support" },
	{ "ticket", "comment", 1, 0, "service", "support" },
	{ "ticket", "assign", 1, 0, "service", "support" },
	{ "ticket", "state", 1, 0, "service", "support" },
	{ "ticket", "close", 1, 0, "service", "support" },
	{ "audit", "verify", 1, 0, "audit", "administration" },
	{ "audit", "list", 1, 0, "audit", "administration" },
	{ "release-key", "add", 1, 0, "admin", "updates" },
	{ "release-key", "revoke", 1, 0, "admin", "updates" },
	{ "artifact", "add", 1, 0, "admin", "updates" },
	{ "artifact", "offer", 1, 0, "admin", "updates" },
	{ "artifact", "status", 1, 1, "technical", "updates" },
	{ "diagnostics", "request", 1, 0, "technical", "support" },
	{ "diagnostics", "list", 1, 0, "technical", "support" },
	{ "diagnostics", "show", 1, 0, "technical", "support" },
	{ "diagnostics", "download", 1, 1, "technical", "support" },
	{ "config", "show", 1, 0, "technical", "support" },
	{ "config", "set", 1, 0, "technical", "support" },
	{ "config", "history", 1, 0, "technical", "support" },
	{ "config", "effective", 1, 0, "technical", "support" },
	{ "config", "templates", 1, 0, "technical", "support" },
	{ "config", "template-set", 1, 0, "technical", "support" },
	{ "config", "limits-set", 1, 0, "technical", "support" },
	{ "rollout", "create", 1, 0, "admin", "updates" },
	{ "rollout", "pause", 1, 0, "admin", "updates" },
	{ "rollout", "resume", 1, 0, "admin", "updates" },
	{ "rollout", "abort", 1, 0, "admin", "updates" },
	{ "rollout", "list", 0, 0, NULL, NULL },
	{ "rollout", "show", 0, 0, NULL, NULL },
	{ "release-key", "list", 0, 0, NULL, NULL },
	{ "artifact", "list", 0, 0, NULL, NULL },
	{ "artifact", "show", 0, 0, NULL, NULL },
	{ "org", "list", 0, 0, NULL, NULL },
	{ "retention", "show", 0, 0, NULL, NULL },
	{ "site", "list", 0, 0, NULL, NULL },
	{ "group", "list", 0, 0, NULL, NULL },
	{ "group", "show", 0, 0, NULL, NULL },
	{ "machine", "list", 0, 0, NULL, NULL },
	{ "machine", "show", 0, 0, NULL, NULL },
	{ "user", "list", 0, 0, NULL, NULL },
	{ "webhook", "list", 0, 0, NULL, NULL },
	{ "webhook", "deliveries", 0, 0, NULL, NULL },
};

static const struct audit_rule default_rule = { NULL, NULL, 1, 0, "admin", "administration" };

static const struct audit_rule *rule_for(const struct cli_cmd *c)
{
	size_t i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (strcmp(rules[i].noun, c->noun) == 0 && c->verb != NULL && strcmp(rules[i].verb, c->verb) == 0)
			return &rules[i];
	return &default_rule;
}

void cli_audit_start(struct cli_audit *au, const struct cli_cmd *c)
{
	const struct audit_rule *r = rule_for(c);
	struct passwd *pw = getpwuid(getuid());
	size_t i;

	memset(au, 0, sizeof(*au));
	au->audited = c->needs_data && r->audited;
	au->machine_data = r->machine_data;
	au->data_class = r->data_class;
	au->purpose = r->purpose;
	/* The person at the keyboard, taken before leaving root for the data
	 * directory's owner. Odd characters in a name become '_'. */
	if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
		snprintf(au->actor, sizeof(au->actor), "cli:%.64s", pw->pw_name);
	else
		snprintf(au->actor, sizeof(au->actor), "cli:uid-%lu", (unsigned long)getuid());
	for (i = 4; au->actor[i] != '\0'; i++) {
		char ch = au->actor[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			au->actor[i] = '_';
	}
}

/* The customer whose machines or data the command is about, 0 if none. */
static int64_t involved_customer(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_machine m;
	struct store_org o;
	const char *serial = cli_get(a, "serial"), *org = cli_get(a, "customer");

	if (serial != NULL && s->ops->machine_find(s, serial, &m) == CC_OK)
		return m.customer_id;
	if (org == NULL)
		org = cli_get(a, "org");
	if (org == NULL && strcmp(a->cmd->noun, "org") == 0)
		org = cli_get(a, "name");
	if (org != NULL && s->ops->org_find(s, org, &o) == CC_OK && o.kind == ORG_CUSTOMER)
		return o.id;
	return 0;
}

/* "S1,S2,...": the serials of a job (`job create --serial`), recorded as
 * they are when they fit. */
static int serial_list_valid(const char *list)
{
	char serial[CC_SERIAL_MAX + 1];
	const char *p = list, *comma;
	size_t n;

	if (strlen(list) > CC_AUDIT_MACHINES_MAX)
		return 0;
	for (;;) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || n > CC_SERIAL_MAX)
			return 0;
		memcpy(serial, p, n);
		serial[n] = '\0';
		if (!inventory_serial_valid(serial))
			return 0;
		if (comma == NULL)
			return 1;
		p = comma + 1;
	}
}

int cli_audit_prepare(struct cli_args *a, struct cli_audit *au)
{
	const char *serial;
	int rc;

	if (!au->audited || a->vault == NULL)
		return CC_OK;
	serial = cli_get(a, "serial");
	if (serial != NULL && (inventory_serial_valid(serial) || serial_list_valid(serial)))
		snprintf(au->machines, sizeof(au->machines), "%s", serial);
	else if (serial == NULL && au->machine_data)
		snprintf(au->machines, sizeof(au->machines), "*");
	au->customer_id = involved_customer(a);
	if (au->machine_data) {
		rc = audit_ready(a->vault);
		if (rc != CC_OK) {
			log_error(MOD, "refusing to show machine data: this read could not be audited (%s)",
			          cc_strerror(rc));
			return rc;
		}
	}
	return CC_OK;
}

int cli_audit_finish(struct cli_args *a, struct cli_audit *au, int rc)
{
	struct audit_event e;
	struct store *s;
	char action[CC_AUDIT_ACTION_MAX + 1];
	int arc;

	if (!au->audited || a->vault == NULL)
		return rc;
	s = vault_store(a->vault);
	if (rc != CC_OK && s->ops->in_transaction(s))
		s->ops->rollback(s);
	if (au->customer_id == 0 && rc == CC_OK)
		au->customer_id = involved_customer(a); /* made by the command */
	snprintf(action, sizeof(action), "%s.%s", a->cmd->noun, a->cmd->verb ? a->cmd->verb : "run");
	memset(&e, 0, sizeof(e));
	e.actor = au->actor;
	e.source = "";
	e.action = action;
	e.machines = au->machines;
	e.data_class = au->data_class;
	e.purpose = au->purpose;
	e.outcome = rc == CC_OK ? "ok" : rc == CC_ERR_PERM || rc == CC_ERR_AUTH ? "denied" : "error";
	e.customer_id = au->customer_id;
	arc = audit_append(a->vault, &e);
	if (arc != CC_OK) {
		if (rc == CC_OK) {
			log_error(MOD, "the command was carried out, but its audit record could not be written (%s)",
			          cc_strerror(arc));
			rc = arc;
		} else {
			log_error(MOD, "its audit record could not be written either (%s)", cc_strerror(arc));
		}
	}
	return rc;
}

/* ---- audit verify ---- */

static int run_audit_verify(struct cli_args *a)
{
	struct audit_report r;
	char head[2 * AUDIT_HASH_LEN + 1];
	int rc = audit_verify(a->vault, &r);

	if (rc != CC_OK && rc != CC_ERR_CORRUPT)
		return rc;
	hex_encode(r.head_hash, sizeof(r.head_hash), head, sizeof(head));
	if (a->json) {
		int prc;

		if (rc == CC_OK)
			prc = cli_print_json(json_pack("{s:b, s:I, s:s}", "intact", 1, "records",
			                               (json_int_t)r.records, "head_hash", head));
		else
			prc = cli_print_json(json_pack("{s:b, s:s, s:I, s:I, s:s, s:s}", "intact", 0, "damage",
			                               audit_damage_name(r.damage), "seq", (json_int_t)r.bad_seq,
			                               "verified_records", (json_int_t)r.records,
			                               "verified_head_hash", head, "detail", r.detail));
		return rc != CC_OK ? rc : prc;
	}
	if (rc == CC_OK)
		printf("audit log intact: %lld records, head hash %s\n", (long long)r.records, head);
	else
		printf("audit log damaged at seq %lld: %s: %s\n", (long long)r.bad_seq,
		       audit_damage_name(r.damage), r.detail);
	return rc;
}

/* ---- audit list ---- */


struct audit_printer {
	struct cli_args *a;
	struct store *s;
	size_t count;
	struct cli_table *table;
};

static json_t *machines_json(const char *list)
{
	json_t *arr = json_array();
	const char *p = list, *comma;

	if (arr == NULL || *list == '\0')
		return arr;
	for (;;) {
		comma = strchr(p, ',');
		if (json_array_append_new(arr, json_stringn(p, comma ? (size_t)(comma - p) : strlen(p))) != 0) {
			json_decref(arr);
			return NULL;
		}
		if (comma == NULL)
			return arr;
		p = comma + 1;
	}
}

static int print_audit(void *arg, const struct store_audit *r)
{
	struct audit_printer *p = arg;
	struct store_org o;
	char when[40], hash[2 * AUDIT_HASH_LEN + 1] = "";
	const char *customer = NULL;

	if (r->customer_id != 0 && p->s->ops->org_get(p->s, r->customer_id, &o) == CC_OK)
		customer = o.name;
	if (r->hash_len == AUDIT_HASH_LEN)
		hex_encode(r->hash, AUDIT_HASH_LEN, hash, sizeof(hash));
	cli_time(r->ts_ms, when, sizeof(when));
	if (p->a->json) {
		json_t *row = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:o*, s:s, s:s, s:s, s:I, s:s?, s:s}",
		                        "seq", (json_int_t)r->seq, "time", when, "ts_ms", (json_int_t)r->ts_ms,
		                        "actor", r->actor, "source", r->source, "action", r->action,
		                        "machines", machines_json(r->machines), "data_class", r->data_class,
		                        "purpose", r->purpose, "outcome", r->outcome,
		                        "customer_id", (json_int_t)r->customer_id, "customer", customer,
		                        "hash", hash);
		int rc;

		if (row == NULL)
			return CC_ERR_NOMEM;
		/* Streamed, one element at a time: the log can be longer than memory. */
		fputs(p->count == 0 ? "[\n" : ",\n", stdout);
		rc = json_dumpf(row, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) == 0 ? 0 : CC_ERR_IO;
		json_decref(row);
		p->count++;
		return rc;
	}
	p->count++;
	{
		char seq[24], at[40];

		snprintf(seq, sizeof(seq), "%lld", (long long)r->seq);
		return cli_table_add(p->table, seq, cli_time_s(r->ts_ms, at, sizeof(at)), r->actor, r->action,
		                     r->outcome, r->data_class, r->purpose, r->machines, customer);
	}
}

static int run_audit_list(struct cli_args *a)
{
	static const char *const headers[] = { "SEQ", "TIME", "ACTOR", "ACTION", "OUTCOME", "CLASS", "PURPOSE",
		                               "MACHINES", "CUSTOMER", NULL };
	struct audit_printer p = { a, vault_store(a->vault), 0, NULL };
	struct audit_filter f;
	const char *limit = cli_get(a, "limit"), *serial = cli_get(a, "serial");
	const char *customer = cli_get(a, "customer");
	int rc = CC_OK;

	memset(&f, 0, sizeof(f));
	if (cli_get(a, "from") != NULL)
		rc = cli_parse_time(cli_get(a, "from"), &f.from_ms);
	if (rc == CC_OK && cli_get(a, "to") != NULL)
		rc = cli_parse_time(cli_get(a, "to"), &f.to_ms);
	if (rc == CC_OK && limit != NULL) {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(limit, &end, 10);
		if (errno != 0 || end == limit || *end != '\0' || n < 1 || n > CC_LIST_MAX) {
			log_error(MOD, "--limit takes a number from 1 to %d", CC_LIST_MAX);
			rc = CC_ERR_INVALID;
		}
		f.limit = (size_t)n;
	}
	if (rc == CC_OK && serial != NULL && !inventory_serial_valid(serial)) {
		log_error(MOD, "'%s' is not a serial", serial);
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK && customer != NULL) {
		struct store_org o;

		rc = inventory_org_find(a->vault, customer, &o);
		f.customer_id = o.id;
	}
	if (rc != CC_OK)
		return rc;
	f.action_prefix = cli_get(a, "action");
	f.serial = serial;
	f.newest_first = cli_flag(a, "newest");
	if (!a->json && (p.table = cli_table_new(headers)) == NULL)
		return CC_ERR_NOMEM;
	rc = audit_list(a->vault, &f, print_audit, &p);
	if (a->json) {
		/* Close the document even after a failure, so that it still parses. */
		fputs(p.count == 0 ? "[]\n" : "\n]\n", stdout);
	} else if (rc == CC_OK) {
		return cli_table_print(p.table);
	}
	cli_table_free(p.table);
	return rc;
}

const struct cli_cmd cli_audit_cmds[] = {
	{ "audit", "verify", "check the audit log's hash chain and keyed checkpoint (exit 7: tampered)",
	  NULL, 1, { CLI_END_OPTS }, run_audit_verify },
	{ "audit", "list", "list audit records: who did what to which machines, when, why", NULL, 1,
	  { { "from", "TIME", "from this time (epoch ms or YYYY-MM-DDTHH:MM:SSZ), inclusive", 0 },
	    { "to", "TIME", "until this time, exclusive", 0 },
	    { "action", "PREFIX", "only actions starting with this (e.g. telemetry. or machine.add)", 0 },
	    { "serial", "S", "only records naming this machine", 0 },
	    { "customer", "ORG", "only records about this customer's machines or data", 0 },
	    { "limit", "N", "at most N records", 0 },
	    { "newest", NULL, "newest first", 0 },
	    CLI_END_OPTS },
	  run_audit_list },
	CLI_END_CMDS,
};
