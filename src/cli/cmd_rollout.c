/*
 * cmd_rollout.c - `rollout create|list|show|pause|resume|abort`: staged
 * rollouts of an artifact (docs/UPDATES.md "Staged rollouts"), the twins
 * of /api/v1/rollouts. The daemon's timer moves them; these commands only
 * write what the timer reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "fleet/config_doc.h"
#include "fleet/rollouts.h"

#define MOD "cli"

/* "1,10,50,100" into a JSON array; NULL when not that. */
static json_t *phases_of(const char *text)
{
	json_t *a = json_array();
	const char *p = text;

	while (a != NULL && *p != '\0') {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || (*end != ',' && *end != '\0')) {
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, json_integer(v));
		p = *end == ',' ? end + 1 : end;
	}
	return a;
}

/* "S1,S2" into a JSON array of strings. */
static json_t *serials_of(const char *text)
{
	json_t *a = json_array();
	const char *p = text;

	while (a != NULL && *p != '\0') {
		size_t n = strcspn(p, ",");

		json_array_append_new(a, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return a;
}

static int int_opt(struct cli_args *a, const char *name, json_t *req)
{
	const char *v = cli_get(a, name);
	char *end;
	long long n;

	if (v == NULL)
		return CC_OK;
	n = strtoll(v, &end, 10);
	if (end == v || *end != '\0') {
		log_error(MOD, "--%s: a whole number", name);
		return CC_ERR_INVALID;
	}
	json_object_set_new(req,
	                    strcmp(name, "min-reports") == 0     ? "min_reports"
	                    : strcmp(name, "health-margin") == 0 ? "health_margin"
	                    : strcmp(name, "compliance-margin") == 0 ? "compliance_margin"
	                                                         : name,
	                    json_integer(n));
	return CC_OK;
}

static int run_create(struct cli_args *a)
{
	const char *group = cli_get(a, "group"), *serials = cli_get(a, "serials");
	const char *filters[] = { "model", "version", "site", "customer" };
	json_t *req = json_object(), *target = json_object(), *filter = json_object(), *doc = NULL;
	char actor[CC_NAME_MAX + 8], why[ROLLOUTS_WHY_MAX];
	int kinds = 0, rc = CC_OK;

	if (req == NULL || target == NULL || filter == NULL) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	if (cli_get(a, "config") != NULL) {
		unsigned char *text = NULL;
		size_t len = 0;
		json_t *config;

		if ((rc = file_read_all(cli_get(a, "config"), CONFIG_DOC_MAX, &text, &len)) != CC_OK)
			goto out;
		config = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, NULL);
		free(text);
		if (config == NULL) {
			log_error(MOD, "%s: not a JSON document", cli_get(a, "config"));
			rc = CC_ERR_INVALID;
			goto out;
		}
		json_object_set_new(req, "config", config);
	}
	if (cli_flag(a, "no-take-back"))
		json_object_set_new(req, "take_back", json_false());
	if (cli_flag(a, "effective"))
		json_object_set_new(req, "effective", json_true());
	if (cli_get(a, "artifact") != NULL)
		json_object_set_new(req, "artifact", json_string(cli_get(a, "artifact")));
	if (cli_get(a, "reason") != NULL)
		json_object_set_new(req, "reason", json_string(cli_get(a, "reason")));
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		if (cli_get(a, filters[i]) != NULL)
			json_object_set_new(filter, filters[i], json_string(cli_get(a, filters[i])));
	if (group != NULL) {
		char *end;
		long long id = strtoll(group, &end, 10);

		kinds++;
		json_object_set_new(target, "group", json_integer(end != group && *end == '\0' ? id : 0));
	}
	if (serials != NULL) {
		kinds++;
		json_object_set_new(target, "serials", serials_of(serials));
	}
	if (json_object_size(filter) > 0) {
		kinds++;
		json_object_set(target, "filter", filter);
	}
	if (kinds != 1) {
		log_error(MOD, "the target: one of --group ID, --serials S1,S2, or a filter (--model, --version, "
		               "--site, --customer)");
		rc = CC_ERR_INVALID;
		goto out;
	}
	json_object_set(req, "target", target);
	if (cli_get(a, "phases") != NULL) {
		json_t *p = phases_of(cli_get(a, "phases"));

		if (p == NULL) {
			log_error(MOD, "--phases: percentages separated by commas (1,10,50,100)");
			rc = CC_ERR_INVALID;
			goto out;
		}
		json_object_set_new(req, "phases", p);
	}
	if ((rc = int_opt(a, "soak", req)) != CC_OK || (rc = int_opt(a, "threshold", req)) != CC_OK ||
	    (rc = int_opt(a, "min-reports", req)) != CC_OK || (rc = int_opt(a, "health-margin", req)) != CC_OK ||
	    (rc = int_opt(a, "compliance-margin", req)) != CC_OK)
		goto out;
	if (cli_get(a, "window") != NULL)
		json_object_set_new(req, "window", json_string(cli_get(a, "window")));
	cli_actor(actor, sizeof(actor));
	rc = rollouts_create(a->vault, req, actor, &doc, why);
	if (why[0] != '\0')
		log_error(MOD, "%s", why);
	if (rc != CC_OK)
		goto out;
	if (a->json) {
		rc = cli_print_json(doc);
		doc = NULL;
		goto out;
	}
	printf("rollout %lld started: %lld machines, %lld skipped (in another active rollout), %lld not fitting\n",
	       (long long)json_integer_value(json_object_get(doc, "id")),
	       (long long)json_integer_value(json_object_get(doc, "machines_total")),
	       (long long)json_integer_value(json_object_get(doc, "skipped")),
	       (long long)json_integer_value(json_object_get(doc, "unfit")));
out:
	json_decref(doc);
	json_decref(filter);
	json_decref(target);
	json_decref(req);
	return rc;
}

static int rollout_id(struct cli_args *a, int64_t *id)
{
	const char *text = cli_get(a, "id");
	char *end;
	long long v = strtoll(text, &end, 10);

	if (end == text || *end != '\0' || v <= 0) {
		log_error(MOD, "no such rollout (see rollout list)");
		return CC_ERR_NOTFOUND;
	}
	*id = v;
	return CC_OK;
}

static int run_list(struct cli_args *a)
{
	json_t *doc = NULL, *r;
	size_t i;
	int rc = rollouts_list_json(a->vault, cli_get(a, "state"), &doc);

	if (rc == CC_ERR_INVALID)
		log_error(MOD, "--state: running, paused, halted, aborted or completed");
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	printf("%-6s %-10s %-6s %-16s %s\n", "ID", "STATE", "PHASE", "ARTIFACT", "HALT REASON");
	json_array_foreach(json_object_get(doc, "rollouts"), i, r) {
		int config = strcmp(json_string_value(json_object_get(r, "kind")), "config") == 0;

		printf("%-6lld %-10s %-6lld %-16.16s %s\n", (long long)json_integer_value(json_object_get(r, "id")),
		       json_string_value(json_object_get(r, "state")),
		       (long long)json_integer_value(json_object_get(r, "phase")),
		       config ? "(configuration)" : json_string_value(json_object_get(r, "artifact")),
		       json_string_value(json_object_get(r, "halt_reason")));
	}
	json_decref(doc);
	return CC_OK;
}

static int print_rollout(struct cli_args *a, int64_t id)
{
	json_t *doc = NULL, *m, *counts;
	const char *k;
	size_t i;
	int rc = rollouts_json(a->vault, id, &doc);

	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such rollout (see rollout list)");
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	if (strcmp(json_string_value(json_object_get(doc, "kind")), "config") == 0)
		printf("configuration rollout: %s\n", json_string_value(json_object_get(doc, "reason")));
	printf("rollout %lld: %s, phase %lld, %lld of %lld machines finished (%lld %%)\n", (long long)id,
	       json_string_value(json_object_get(doc, "state")),
	       (long long)json_integer_value(json_object_get(doc, "phase")),
	       (long long)(json_integer_value(json_object_get(doc, "machines_total")) *
	                   json_integer_value(json_object_get(doc, "finished_percent")) / 100),
	       (long long)json_integer_value(json_object_get(doc, "machines_total")),
	       (long long)json_integer_value(json_object_get(doc, "finished_percent")));
	if (json_string_length(json_object_get(doc, "halt_reason")) > 0)
		printf("halted: %s\n", json_string_value(json_object_get(doc, "halt_reason")));
	counts = json_object_get(doc, "counts");
	json_object_foreach(counts, k, m)
		if (json_integer_value(m) > 0)
			printf("  %-12s %lld\n", k, (long long)json_integer_value(m));
	printf("%-20s %-6s %-12s %-4s %s\n", "SERIAL", "PHASE", "STATE", "%", "REASON");
	json_array_foreach(json_object_get(doc, "machines"), i, m)
		printf("%-20s %-6lld %-12s %-4lld %s\n", json_string_value(json_object_get(m, "serial")),
		       (long long)json_integer_value(json_object_get(m, "phase")),
		       json_string_value(json_object_get(m, "state")),
		       (long long)json_integer_value(json_object_get(m, "percent")),
		       json_string_value(json_object_get(m, "reason")));
	json_decref(doc);
	return CC_OK;
}

static int run_show(struct cli_args *a)
{
	int64_t id;
	int rc = rollout_id(a, &id);

	return rc == CC_OK ? print_rollout(a, id) : rc;
}

static int act(struct cli_args *a, const char *action)
{
	char actor[CC_NAME_MAX + 8], why[ROLLOUTS_WHY_MAX];
	int64_t id;
	int rc = rollout_id(a, &id);

	if (rc != CC_OK)
		return rc;
	cli_actor(actor, sizeof(actor));
	rc = rollouts_act(a->vault, id, action, actor, why);
	if (why[0] != '\0')
		log_error(MOD, "%s", why);
	if (rc != CC_OK)
		return rc;
	return print_rollout(a, id);
}

static int run_pause(struct cli_args *a) { return act(a, "pause"); }
static int run_resume(struct cli_args *a) { return act(a, "resume"); }
static int run_abort(struct cli_args *a) { return act(a, "abort"); }

const struct cli_cmd cli_rollout_cmds[] = {
	{ "rollout", "create",
	  "start a staged rollout of an artifact or a configuration to a group, a list or a filter of machines", NULL,
	  1,
	  { { "artifact", "SHA", "the artifact's SHA-256 (artifact list)", 0 },
	    { "config", "FILE", "instead of an artifact: a configuration document (docs/CONFIGURATION-REMOTE.md)", 0 },
	    { "effective", NULL, "instead of --config: each machine gets its own effective document (templates)", 0 },
	    { "reason", "TEXT", "with --config or --effective: why it changes", 0 },
	    { "group", "ID", "target: a group's id", 0 },
	    { "serials", "S1,S2", "target: these machines (at most 200)", 0 },
	    { "model", "M", "target filter: this model", 0 },
	    { "version", "V", "target filter: machines reporting this software version", 0 },
	    { "site", "NAME", "target filter: this site", 0 },
	    { "customer", "NAME", "target filter: this customer", 0 },
	    { "phases", "P1,P2", "cumulative percentages (default 1,10,50,100)", 0 },
	    { "soak", "SECONDS", "between a phase's end and the next (default 3600)", 0 },
	    { "threshold", "PCT", "a phase's failures that halt it, above this % (default 10)", 0 },
	    { "min-reports", "N", "finished machines before a phase is judged (default 1)", 0 },
	    { "health-margin", "POINTS",
	      "availability the updated machines may lose against the others over a soak (default 5; 100: off)", 0 },
	    { "compliance-margin", "POINTS",
	      "brews in spec the changed machines may lose against the others over a soak (default 10; 100: off)", 0 },
	    { "no-take-back", NULL, "configuration: a halt or abort leaves the machines the document it set", 0 },
	    { "window", "HOURS", "maintenance hours in each site's local time (\"mon-fri 01:00-05:00\")", 0 },
	    CLI_END_OPTS },
	  run_create },
	{ "rollout", "list", "the rollouts, newest first", NULL, 1,
	  { { "state", "S", "only these: running, paused, halted, aborted, completed", 0 }, CLI_END_OPTS }, run_list },
	{ "rollout", "show", "one rollout: progress per state and phase, each machine", "id", 1,
	  { { "id", "ID", "the rollout", 1 }, CLI_END_OPTS }, run_show },
	{ "rollout", "pause", "pause a running rollout: no new offers", "id", 1,
	  { { "id", "ID", "the rollout", 1 }, CLI_END_OPTS }, run_pause },
	{ "rollout", "resume", "resume a paused rollout", "id", 1, { { "id", "ID", "the rollout", 1 }, CLI_END_OPTS },
	  run_resume },
	{ "rollout", "abort", "abort a rollout: offers not yet taken are withdrawn, its machines freed", "id", 1,
	  { { "id", "ID", "the rollout", 1 }, CLI_END_OPTS }, run_abort },
	CLI_END_CMDS,
};
