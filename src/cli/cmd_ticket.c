/* cmd_ticket.c - `ticket open|list|show|comment|assign|state|close`: the
 * CLI's twins of /api/v1/tickets (fleet/tickets.h). The operator with the
 * master key acts on the service side of every ticket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "fleet/tickets.h"
#include "ingest/privacy.h"

#define MOD "cli"
#define LIST_DEFAULT 1000

static int parse_id(const char *text, int64_t *id)
{
	char *end;
	long long v = text != NULL ? strtoll(text, &end, 10) : 0;

	if (text == NULL || end == text || *end != '\0' || v <= 0) {
		log_error(MOD, "a ticket id is a positive number");
		return CC_ERR_INVALID;
	}
	*id = v;
	return CC_OK;
}

/* Why a text was refused: the field and the detector, never the text. */
static int refused(int rc, const struct ticket_refusal *why, const char *shape)
{
	if (rc != CC_ERR_INVALID)
		return rc;
	if (why->privacy != PRIVACY_NONE)
		log_error(MOD, "the %s looks like personal data (%s): nothing was kept", why->field ? why->field : "text",
		          privacy_reason_name((enum privacy_reason)why->privacy));
	else
		log_error(MOD, "%s%s%s", shape, why->field ? "; wrong: " : "", why->field ? why->field : "");
	return rc;
}

static void print_line(json_t *t)
{
	json_t *assignee = json_object_get(t, "assignee");

	printf("%-6lld %-16s %-16s %-17s %-12s %-25s %s\n", (long long)json_integer_value(json_object_get(t, "id")),
	       json_string_value(json_object_get(t, "serial")), json_string_value(json_object_get(t, "state")),
	       json_is_string(assignee) ? json_string_value(assignee) : "-",
	       json_is_integer(json_object_get(t, "alert")) ? "alert" : "-",
	       json_string_value(json_object_get(t, "opened")), json_string_value(json_object_get(t, "title")));
}

static int print_ticket(struct cli_args *a, int64_t id)
{
	struct store *s = vault_store(a->vault);
	struct store_ticket *t = calloc(1, sizeof(*t));
	json_t *doc = NULL, *h;
	size_t i;
	int rc = t != NULL ? s->ops->tickets->get(s, id, t) : CC_ERR_NOMEM;

	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such ticket: %lld", (long long)id);
	if (rc == CC_OK && (doc = tickets_doc(a->vault, t, 1)) == NULL)
		rc = CC_ERR_NOMEM;
	free(t);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	printf("%-6s %-16s %-16s %-17s %-12s %-25s %s\n", "ID", "SERIAL", "STATE", "ASSIGNEE", "FROM", "OPENED", "TITLE");
	print_line(doc);
	if (json_is_string(json_object_get(doc, "description")))
		printf("\n%s\n", json_string_value(json_object_get(doc, "description")));
	printf("\n");
	h = json_object_get(doc, "history");
	for (i = 0; i < json_array_size(h); i++) {
		json_t *e = json_array_get(h, i), *report = json_object_get(e, "report");
		char *rtext = report != NULL ? json_dumps(report, JSON_COMPACT) : NULL;
		const char *detail = json_string_value(json_object_get(e, "detail"));
		const char *text = json_string_value(json_object_get(e, "text"));

		printf("  %-25s %-10s %-24s %s%s%s\n", json_string_value(json_object_get(e, "at")),
		       json_string_value(json_object_get(e, "what")), json_string_value(json_object_get(e, "who")),
		       detail ? detail : "", detail && (text || rtext) ? " " : "", text ? text : rtext ? rtext : "");
		free(rtext);
	}
	json_decref(doc);
	return CC_OK;
}

struct list_ctx {
	struct cli_args *a;
	json_t *rows;
	size_t limit;
	int rc;
};

static int list_row(void *arg, const struct store_ticket *t)
{
	struct list_ctx *l = arg;
	json_t *doc;

	if (json_array_size(l->rows) >= l->limit)
		return 1;
	doc = tickets_doc(l->a->vault, t, 0);
	if (doc == NULL) {
		l->rc = CC_ERR_NOMEM;
		return 1;
	}
	json_array_append_new(l->rows, doc);
	return 0;
}

static int run_list(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_ticket_filter f;
	struct list_ctx l = { a, json_array(), LIST_DEFAULT, CC_OK };
	const char *state = cli_get(a, "state"), *serial = cli_get(a, "serial"), *customer = cli_get(a, "customer");
	size_t i;
	int rc;

	memset(&f, 0, sizeof(f));
	if (l.rows == NULL)
		return CC_ERR_NOMEM;
	if (state != NULL && strcmp(state, "unclosed") != 0 && !tickets_state_valid(state)) {
		log_error(MOD, "--state is open, assigned, in_progress, waiting_customer, resolved, closed or unclosed");
		json_decref(l.rows);
		return CC_ERR_INVALID;
	}
	f.unclosed = state != NULL && strcmp(state, "unclosed") == 0;
	f.state = f.unclosed ? NULL : state;
	if (cli_get(a, "limit") != NULL)
		l.limit = (size_t)strtoul(cli_get(a, "limit"), NULL, 10);
	if (serial != NULL) {
		struct store_machine m;

		if (s->ops->machine_find(s, serial, &m) != CC_OK) {
			log_error(MOD, "no such machine: %s", serial);
			json_decref(l.rows);
			return CC_ERR_NOTFOUND;
		}
		f.machine_id = m.id;
	}
	if (customer != NULL) {
		struct store_org o;

		if (s->ops->org_find(s, customer, &o) != CC_OK || o.kind != ORG_CUSTOMER) {
			log_error(MOD, "no such customer: %s", customer);
			json_decref(l.rows);
			return CC_ERR_NOTFOUND;
		}
		f.customer_id = o.id;
	}
	rc = s->ops->tickets->list(s, &f, list_row, &l);
	if (rc < 0 || l.rc != CC_OK) {
		json_decref(l.rows);
		return rc < 0 ? rc : l.rc;
	}
	if (a->json)
		return cli_print_json(json_pack("{s:o}", "tickets", l.rows));
	printf("%-6s %-16s %-16s %-17s %-12s %-25s %s\n", "ID", "SERIAL", "STATE", "ASSIGNEE", "FROM", "OPENED", "TITLE");
	for (i = 0; i < json_array_size(l.rows); i++)
		print_line(json_array_get(l.rows, i));
	json_decref(l.rows);
	return CC_OK;
}

static int run_show(struct cli_args *a)
{
	int64_t id;
	int rc = parse_id(cli_get(a, "id"), &id);

	return rc == CC_OK ? print_ticket(a, id) : rc;
}

static int run_open(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_machine m;
	struct ticket_open req;
	struct ticket_refusal why = { NULL, PRIVACY_NONE };
	char actor[CC_NAME_MAX + 8], shape[96];
	int64_t id = 0, alert = 0;
	int rc;

	if (cli_get(a, "alert") != NULL && parse_id(cli_get(a, "alert"), &alert) != CC_OK)
		return CC_ERR_INVALID;
	if (s->ops->machine_find(s, cli_get(a, "serial"), &m) != CC_OK) {
		log_error(MOD, "no such machine: %s", cli_get(a, "serial"));
		return CC_ERR_NOTFOUND;
	}
	cli_actor(actor, sizeof(actor));
	memset(&req, 0, sizeof(req));
	req.m = &m;
	req.alert_id = alert;
	req.title = cli_get(a, "title");
	req.description = cli_get(a, "description");
	req.who = actor;
	rc = tickets_open(a->vault, &req, &why, &id);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such alert of %s: %lld", m.serial, (long long)alert);
	snprintf(shape, sizeof(shape), "--title: 1 to %d characters; --description: at most %d", TICKET_TITLE_MAX,
	         TICKET_TEXT_MAX);
	rc = refused(rc, &why, shape);
	return rc == CC_OK ? print_ticket(a, id) : rc;
}

/* A change's failure in words. */
static int changed(struct cli_args *a, int64_t id, int rc)
{
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such ticket: %lld", (long long)id);
	else if (rc == CC_ERR_STATE)
		log_error(MOD, "ticket %lld does not allow this in its state (ticket show %lld)", (long long)id,
		          (long long)id);
	return rc == CC_OK ? print_ticket(a, id) : rc;
}

static int run_comment(struct cli_args *a)
{
	struct ticket_refusal why = { NULL, PRIVACY_NONE };
	char actor[CC_NAME_MAX + 8], shape[64];
	int64_t id;
	int rc = parse_id(cli_get(a, "id"), &id);

	if (rc != CC_OK)
		return rc;
	cli_actor(actor, sizeof(actor));
	snprintf(shape, sizeof(shape), "--text: 1 to %d characters", TICKET_TEXT_MAX);
	rc = refused(tickets_comment(a->vault, id, actor, cli_get(a, "text"), &why), &why, shape);
	return rc == CC_ERR_INVALID ? rc : changed(a, id, rc);
}

static int run_assign(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_ticket *t = calloc(1, sizeof(*t));
	struct store_machine m;
	struct user_info u;
	char actor[CC_NAME_MAX + 8], hash[512];
	const char *login = cli_get(a, "login");
	int64_t id;
	int rc = t == NULL ? CC_ERR_NOMEM : parse_id(cli_get(a, "id"), &id);

	if (rc == CC_OK)
		rc = s->ops->tickets->get(s, id, t);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such ticket: %lld", (long long)id);
	if (rc == CC_OK)
		rc = s->ops->machine_get(s, t->machine_id, &m);
	free(t);
	if (rc != CC_OK)
		return rc;
	if (!inventory_name_valid(login) || users_find(a->vault, login, &u, hash, sizeof(hash)) != CC_OK ||
	    !tickets_may_assign(a->vault, &m, &u)) {
		memset(hash, 0, sizeof(hash));
		log_error(MOD, "--login: an account of the service company that serves %s (or a subcontractor granted it)",
		          m.serial);
		return CC_ERR_INVALID;
	}
	memset(hash, 0, sizeof(hash));
	cli_actor(actor, sizeof(actor));
	return changed(a, id, tickets_assign(a->vault, id, actor, &u));
}

static int run_state(struct cli_args *a)
{
	char actor[CC_NAME_MAX + 8];
	int64_t id;
	int rc = parse_id(cli_get(a, "id"), &id);

	if (rc != CC_OK)
		return rc;
	cli_actor(actor, sizeof(actor));
	rc = tickets_set_state(a->vault, id, actor, TICKET_SERVICE, cli_get(a, "state"));
	if (rc == CC_ERR_INVALID) {
		log_error(MOD, "--state: in_progress, waiting_customer, resolved, or open to reopen");
		return rc;
	}
	return changed(a, id, rc);
}

/* "a,b,c" as a JSON array of strings (empty items left out). */
static json_t *split(const char *list)
{
	json_t *out = json_array();
	const char *p = list, *comma;

	while (out != NULL && p != NULL && *p != '\0') {
		comma = strchr(p, ',');
		if (comma != p)
			json_array_append_new(out, json_stringn(p, comma ? (size_t)(comma - p) : strlen(p)));
		p = comma ? comma + 1 : NULL;
	}
	return out;
}

static int run_close(struct cli_args *a)
{
	struct ticket_refusal why = { NULL, PRIVACY_NONE };
	char actor[CC_NAME_MAX + 8];
	json_t *report;
	int64_t id;
	int rc = parse_id(cli_get(a, "id"), &id);

	if (rc != CC_OK)
		return rc;
	report = json_pack("{s:s}", "work", cli_get(a, "work"));
	if (report == NULL)
		return CC_ERR_NOMEM;
	if (cli_get(a, "parts") != NULL)
		json_object_set_new(report, "parts", split(cli_get(a, "parts")));
	if (cli_get(a, "counters-reset") != NULL)
		json_object_set_new(report, "counters_reset", split(cli_get(a, "counters-reset")));
	cli_actor(actor, sizeof(actor));
	rc = tickets_close(a->vault, id, actor, TICKET_SERVICE, report, &why);
	json_decref(report);
	rc = refused(rc, &why, "--work: the work done; --parts: part numbers or names, comma-separated; "
	                       "--counters-reset: brew_unit, grinder_burrs, water_filter, descaling");
	return rc == CC_ERR_INVALID ? rc : changed(a, id, rc);
}

const struct cli_cmd cli_ticket_cmds[] = {
	{ "ticket", "open", "open a service ticket for a machine (no personal data; docs/OPERATIONS.md)", NULL, 1,
	  { { "serial", "S", "the machine", 1 },
	    { "title", "TEXT", "at most 120 characters", 1 },
	    { "description", "TEXT", "at most 2000 characters", 0 },
	    { "alert", "ID", "an alert of the machine to open it from", 0 },
	    CLI_END_OPTS },
	  run_open },
	{ "ticket", "list", "service tickets, newest first", NULL, 1,
	  { { "serial", "S", "one machine's tickets", 0 },
	    { "customer", "ORG", "one customer's machines' tickets", 0 },
	    { "state", "STATE", "open, assigned, in_progress, waiting_customer, resolved, closed or unclosed", 0 },
	    { "limit", "N", "at most N (default 1000)", 0 },
	    CLI_END_OPTS },
	  run_list },
	{ "ticket", "show", "one ticket with its history: who did what when", "id", 1,
	  { { "id", "ID", "the ticket", 1 }, CLI_END_OPTS }, run_show },
	{ "ticket", "comment", "comment on a ticket (no personal data; sealed)", "id", 1,
	  { { "id", "ID", "the ticket", 1 }, { "text", "TEXT", "the comment, at most 2000 characters", 1 }, CLI_END_OPTS },
	  run_comment },
	{ "ticket", "assign", "assign a ticket to an account of the service company that serves the machine", "id", 1,
	  { { "id", "ID", "the ticket", 1 }, { "login", "LOGIN", "the assignee", 1 }, CLI_END_OPTS }, run_assign },
	{ "ticket", "state", "move a ticket: in_progress, waiting_customer, resolved, or open to reopen", "id", 1,
	  { { "id", "ID", "the ticket", 1 }, { "state", "STATE", "the state to reach", 1 }, CLI_END_OPTS }, run_state },
	{ "ticket", "close", "close a ticket with a service report", "id", 1,
	  { { "id", "ID", "the ticket", 1 },
	    { "work", "TEXT", "the work done, at most 2000 characters", 1 },
	    { "parts", "LIST", "parts replaced: part numbers or names, comma-separated (at most 16)", 0 },
	    { "counters-reset", "LIST", "service counters reset: brew_unit, grinder_burrs, water_filter, descaling", 0 },
	    CLI_END_OPTS },
	  run_close },
	CLI_END_CMDS,
};
