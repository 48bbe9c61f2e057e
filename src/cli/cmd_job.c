/* cmd_job.c - `job create|list|show|cancel`: one command for many machines (fleet/jobs.h). */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "fleet/jobs.h"

#define MOD "cli"
#define SERIALS_MAX 1000

void cli_actor(char *out, size_t cap)
{
	struct passwd *pw = getpwuid(getuid());
	size_t i;

	if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
		snprintf(out, cap, "cli:%.64s", pw->pw_name);
	else
		snprintf(out, cap, "cli:uid-%lu", (unsigned long)getuid());
	for (i = 4; out[i] != '\0'; i++) {
		char ch = out[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == '-'))
			out[i] = '_';
	}
}

static int parse_id(const char *text, int64_t *id)
{
	char *end;
	long long v = text != NULL ? strtoll(text, &end, 10) : 0;

	if (text == NULL || end == text || *end != '\0' || v <= 0) {
		log_error(MOD, "a job id is a positive number");
		return CC_ERR_INVALID;
	}
	*id = v;
	return CC_OK;
}

static int report_create_error(int rc, const char *bad)
{
	if (rc == CC_ERR_NOTFOUND && bad[0] != '\0')
		log_error(MOD, "no such machine: %s", bad);
	else if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no machine matches the targets");
	else if (rc == CC_ERR_STATE && bad[0] != '\0')
		log_error(MOD, "machine '%s' is revoked", bad);
	return rc;
}

static int print_job(struct cli_args *a, int64_t id, int with_targets)
{
	struct store *s = vault_store(a->vault);
	struct store_job j;
	json_t *doc, *t;
	size_t i;
	int rc = s->ops->job_get(s, id, &j);

	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such job: %lld", (long long)id);
	if (rc != CC_OK)
		return rc;
	doc = jobs_json(a->vault, &j, with_targets, NULL, NULL, &rc);
	if (doc == NULL)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	printf("job %lld: %s to %lld machine(s), by %s at %s, timeout %llds%s\n", (long long)j.id, j.name,
	       (long long)json_integer_value(json_object_get(doc, "targets_total")), j.created_by,
	       json_string_value(json_object_get(doc, "created")), (long long)(j.timeout_ms / 1000),
	       j.cancelled_ms ? " (cancelled)" : "");
	printf("%-20s %-13s %-25s %-25s %-25s %-25s %s\n", "SERIAL", "STATE", "QUEUED", "SENT", "ACKNOWLEDGED",
	       "ENDED", "REASON/RESULT");
	json_array_foreach(json_object_get(doc, "targets"), i, t) {
		const char *why = json_string_value(json_object_get(t, "reason"));
		const char *res = json_string_value(json_object_get(t, "result"));
#define TS(k) (json_string_value(json_object_get(t, k)) ? json_string_value(json_object_get(t, k)) : "-")
		printf("%-20s %-13s %-25s %-25s %-25s %-25s %s\n", TS("serial"), TS("state"), TS("queued"), TS("sent"),
		       TS("acknowledged"), TS("ended"), why ? why : res ? res : "");
#undef TS
	}
	json_decref(doc);
	return CC_OK;
}

static int run_job_create(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct job_request req;
	struct store_org org;
	char actor[CC_NAME_MAX + 8], bad[CC_SERIAL_MAX + 1];
	const char *serials[SERIALS_MAX];
	const char *status = cli_get(a, "status"), *timeout = cli_get(a, "timeout");
	char *list = NULL, *save = NULL, *tok;
	int filtered = cli_get(a, "customer") || cli_get(a, "site") || status || cli_get(a, "model");
	int64_t id = 0;
	int rc = CC_OK;

	memset(&req, 0, sizeof(req));
	cli_actor(actor, sizeof(actor));
	req.name = cli_get(a, "command");
	req.body = cli_get(a, "body");
	req.created_by = actor;
	if (timeout != NULL && parse_id(timeout, &req.timeout_s) != CC_OK)
		return CC_ERR_INVALID;
	if ((cli_get(a, "serial") != NULL) + filtered + (cli_get(a, "group") != NULL) != 1) {
		log_error(MOD, "name the targets: --serial S[,S...], or a filter (--customer, --site, --status, --model), "
		               "or --group");
		return CC_ERR_INVALID;
	}
	if (cli_get(a, "serial") != NULL) {
		req.kind = JOB_TARGET_SERIALS;
		req.serials = serials;
		list = strdup(cli_get(a, "serial"));
		if (list == NULL)
			return CC_ERR_NOMEM;
		for (tok = strtok_r(list, ",", &save); tok != NULL && rc == CC_OK; tok = strtok_r(NULL, ",", &save)) {
			if (req.nserials == SERIALS_MAX) {
				log_error(MOD, "at most %d serials; use a filter for more", SERIALS_MAX);
				rc = CC_ERR_LIMIT;
			} else {
				serials[req.nserials++] = tok;
			}
		}
	} else if (cli_get(a, "group") != NULL) {
		req.kind = JOB_TARGET_GROUP;
		req.group = cli_get(a, "group");
	} else {
		req.kind = JOB_TARGET_FILTER;
		req.filter.status = STORE_STATUS_ANY;
		if (cli_get(a, "customer") != NULL) {
			rc = s->ops->org_find(s, cli_get(a, "customer"), &org);
			if (rc == CC_OK && org.kind != ORG_CUSTOMER)
				rc = CC_ERR_NOTFOUND;
			if (rc == CC_ERR_NOTFOUND)
				log_error(MOD, "no such customer: %s", cli_get(a, "customer"));
			req.filter.customer_id = org.id;
		}
		req.filter.site = cli_get(a, "site");
		req.model = cli_get(a, "model");
		if (status != NULL && strcmp(status, "online") == 0)
			req.filter.status = STORE_STATUS_ONLINE;
		else if (status != NULL && strcmp(status, "offline") == 0)
			req.filter.status = STORE_STATUS_OFFLINE;
		else if (status != NULL) {
			log_error(MOD, "--status is online or offline");
			rc = CC_ERR_INVALID;
		}
	}
	if (rc == CC_OK)
		rc = report_create_error(jobs_create(a->vault, &req, &id, bad), bad);
	free(list);
	if (rc != CC_OK)
		return rc;
	if (!a->json)
		printf("created job %lld; its commands are delivered when the machines are subscribed\n", (long long)id);
	return print_job(a, id, 1);
}

static int list_row(void *arg, const struct store_job *j)
{
	struct cli_args *a = arg;
	json_t *rows = a->scratch, *doc, *c;
	int rc;

	doc = jobs_json(a->vault, j, 0, NULL, NULL, &rc);
	if (doc == NULL)
		return rc == CC_ERR_NOTFOUND ? 0 : rc; /* its machines were deleted */
	if (a->json)
		return json_array_append_new(rows, doc) == 0 ? 0 : CC_ERR_NOMEM;
	c = json_object_get(doc, "counts");
#define N(k) (long long)json_integer_value(json_object_get(c, k))
	printf("%-6lld %-13s %-25s %-20s %6lld %6lld %6lld %6lld %6lld %6lld %8lld %6lld%s\n", (long long)j->id, j->name,
	       json_string_value(json_object_get(doc, "created")), j->created_by,
	       (long long)json_integer_value(json_object_get(doc, "targets_total")), N("queued"), N("sent"),
	       N("acknowledged"), N("succeeded"), N("failed"), N("timed_out"), N("cancelled"),
	       j->cancelled_ms ? " cancelled" : "");
#undef N
	json_decref(doc);
	return 0;
}

static int run_job_list(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	json_t *rows = json_array();
	int rc;

	if (rows == NULL)
		return CC_ERR_NOMEM;
	a->scratch = rows;
	if (!a->json)
		printf("%-6s %-13s %-25s %-20s %6s %6s %6s %6s %6s %6s %8s %6s\n", "ID", "COMMAND", "CREATED", "BY",
		       "TOTAL", "QUEUED", "SENT", "ACKED", "OK", "FAILED", "TIMEDOUT", "CANCEL");
	rc = s->ops->job_list(s, 0, list_row, a);
	if (rc == CC_OK && a->json)
		return cli_print_json(rows);
	json_decref(rows);
	return rc;
}

static int run_job_show(struct cli_args *a)
{
	int64_t id;
	int rc = parse_id(cli_get(a, "id"), &id);

	return rc == CC_OK ? print_job(a, id, 1) : rc;
}

static int run_job_cancel(struct cli_args *a)
{
	char actor[CC_NAME_MAX + 8];
	int64_t id, n = 0;
	int rc = parse_id(cli_get(a, "id"), &id);

	if (rc != CC_OK)
		return rc;
	cli_actor(actor, sizeof(actor));
	rc = jobs_cancel(a->vault, id, actor, NULL, NULL, &n);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such job: %lld", (long long)id);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:I}", "id", (json_int_t)id, "cancelled", (json_int_t)n));
	printf("job %lld: %lld open command(s) cancelled\n", (long long)id, (long long)n);
	return CC_OK;
}

const struct cli_cmd cli_job_cmds[] = {
	{ "job", "create", "send a command to machines: a serial, a list, or a filter; tracked per machine", NULL, 1,
	  { { "command", "NAME", "update-offer, diagnostics or config", 1 },
	    { "body", "JSON", "a JSON object (default {})", 0 },
	    { "serial", "S[,S...]", "these machines", 0 },
	    { "customer", "ORG", "filter: the customer's machines", 0 },
	    { "site", "SITE", "filter: machines at this site", 0 },
	    { "status", "STATUS", "filter: online or offline", 0 },
	    { "model", "M", "filter: machines of this model", 0 },
	    { "group", "ID", "the machines of a group (its id: group list --json), listed or dynamic", 0 },
	    { "timeout", "SEC", "open commands end as timed out after this (default 3600, at most 604800)", 0 },
	    CLI_END_OPTS },
	  run_job_create },
	{ "job", "list", "jobs, newest first, with how many targets are in each state", NULL, 1,
	  { CLI_END_OPTS }, run_job_list },
	{ "job", "show", "one job: each target's state with its times, and reasons", "id", 1,
	  { { "id", "ID", "the job", 1 }, CLI_END_OPTS }, run_job_show },
	{ "job", "cancel", "cancel a job's open commands (late results are ignored, counted)", "id", 1,
	  { { "id", "ID", "the job", 1 }, CLI_END_OPTS }, run_job_cancel },
	CLI_END_CMDS,
};
