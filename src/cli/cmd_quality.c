/* cmd_quality.c - `quality-rule list|show|upload` and `report compliance`:
 * the CLI's twins of /api/v1/quality/rulesets and /api/v1/compliance
 * (quality/compliance.h, docs/QUALITY.md). The admin CLI sees the whole
 * fleet, like `report availability`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "quality/compliance.h"
#include "quality/ruleset.h"

#define MOD "cli"

static int model_valid(const char *model)
{
	return model != NULL && (strcmp(model, "*") == 0 || inventory_name_valid(model));
}

static int run_rule_list(struct cli_args *a)
{
	const char *model = cli_get(a, "model");
	json_t *list = NULL, *r;
	size_t i;
	int rc;

	if (model != NULL && !model_valid(model)) {
		log_error(MOD, "--model: a machine model, or *");
		return CC_ERR_INVALID;
	}
	rc = compliance_rules_list_json(vault_store(a->vault), model, &list);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:o}", "rulesets", list));
	printf("%-16s %-8s %-24s %-22s %s\n", "MODEL", "VERSION", "CREATED", "AUTHOR", "NAME");
	json_array_foreach(list, i, r) {
		char when[40] = "shipped";
		json_int_t created = json_integer_value(json_object_get(r, "created_ms"));

		if (created > 0)
			cli_time(created, when, sizeof(when));
		printf("%-16s %-8lld %-24s %-22s %s\n", json_string_value(json_object_get(r, "model")),
		       (long long)json_integer_value(json_object_get(r, "version")), when,
		       json_is_string(json_object_get(r, "author")) ? json_string_value(json_object_get(r, "author")) : "-",
		       json_is_string(json_object_get(r, "name")) ? json_string_value(json_object_get(r, "name")) : "");
	}
	json_decref(list);
	return CC_OK;
}

static int run_rule_show(struct cli_args *a)
{
	const char *model = cli_get(a, "model"), *version = cli_get(a, "version");
	long long v = 0;
	char *end = NULL;
	json_t *doc = NULL;
	int rc;

	if (!model_valid(model)) {
		log_error(MOD, "--model: a machine model, or *");
		return CC_ERR_INVALID;
	}
	if (version != NULL && ((v = strtoll(version, &end, 10)) < 0 || end == version || *end != '\0')) {
		log_error(MOD, "--version: a version number (0: the shipped one)");
		return CC_ERR_INVALID;
	}
	rc = compliance_rules_show_json(vault_store(a->vault), model, version != NULL, v, &doc);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such rule set version (see quality-rule list)");
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	/* The document alone, as people edit it and upload it again. */
	{
		char *text = json_dumps(json_object_get(doc, "document"), JSON_INDENT(2));

		printf("%s\n", text != NULL ? text : "");
		free(text);
	}
	json_decref(doc);
	return CC_OK;
}

static int run_rule_upload(struct cli_args *a)
{
	struct store_ruleset row;
	char why[QUALITY_WHY_MAX], actor[CC_NAME_MAX + 8];
	unsigned char *text = NULL;
	size_t len = 0;
	int rc = file_read_all(cli_get(a, "file"), QUALITY_DOC_MAX, &text, &len);

	if (rc != CC_OK) {
		log_error(MOD, "--file: a readable rule set of at most %d bytes", QUALITY_DOC_MAX);
		return rc;
	}
	cli_actor(actor, sizeof(actor));
	rc = compliance_rules_upload(vault_store(a->vault), (const char *)text, len, actor, clock_now_ms(), why,
	                             sizeof(why), &row);
	free(text);
	if (rc == CC_ERR_INVALID)
		log_error(MOD, "the rule set is refused: %s", why);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:I, s:I}", "model", row.model, "version", (json_int_t)row.version,
		                                "created_ms", (json_int_t)row.created_ms));
	printf("%s: version %lld stored\n", row.model, (long long)row.version);
	return CC_OK;
}

/* ---- report compliance ---- */

struct collector {
	struct store *st;
	const char *serial;
	struct cli_report_targets *ts;
	size_t cap;
};

static int add_target(void *ctx, const struct store_machine_status *row)
{
	struct collector *c = ctx;
	struct cli_report_targets *ts = c->ts;
	struct store_org org;

	if (c->serial != NULL && strcmp(c->serial, row->m.serial) != 0)
		return 0;
	if (ts->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 32;
		struct compliance_target *grown = realloc(ts->t, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		ts->t = grown;
		c->cap = cap;
	}
	memset(&ts->t[ts->n], 0, sizeof(ts->t[0]));
	ts->t[ts->n].m = row->m;
	snprintf(ts->t[ts->n].site, sizeof(ts->t[ts->n].site), "%s", row->site);
	snprintf(ts->t[ts->n].customer, sizeof(ts->t[ts->n].customer), "%s",
	         c->st->ops->org_get(c->st, row->m.customer_id, &org) == CC_OK ? org.name : "?");
	ts->n++;
	return 0;
}

int cli_report_targets(struct cli_args *a, struct cli_report_targets *ts)
{
	struct store *s = vault_store(a->vault);
	struct collector c = { s, cli_get(a, "serial"), ts, 0 };
	struct store_machine_filter f;
	int rc;

	memset(&f, 0, sizeof(f));
	memset(ts, 0, sizeof(*ts));
	rc = cli_report_scope(a, &f);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->machine_status_list(s, &f, add_target, &c);
	if (rc == CC_OK && c.serial != NULL && ts->n == 0) {
		log_error(MOD, "no such machine");
		rc = CC_ERR_NOTFOUND;
	}
	return rc;
}

static const char *pct_text(json_t *v, char *buf, size_t cap)
{
	if (!json_is_number(v))
		return "";
	snprintf(buf, cap, "%.1f", json_number_value(v));
	return buf;
}

static int add_row(struct cli_table *t, const char *key, const char *site, json_t *o)
{
	json_t *cl = json_object_get(o, "cleanings"), *c;
	long long done = 0, due = 0, overdue = 0;
	char brews[24], pct[16], bb[24], tb[24], clean[48], od[24];
	const char *name;

	json_object_foreach(cl, name, c) {
		done += json_integer_value(json_object_get(c, "done"));
		due += json_integer_value(json_object_get(c, "due"));
		overdue += json_integer_value(json_object_get(c, "overdue"));
	}
	snprintf(brews, sizeof(brews), "%lld", (long long)json_integer_value(json_object_get(o, "brews")));
	snprintf(bb, sizeof(bb), "%lld", (long long)json_integer_value(json_object_get(o, "brew_breaches")));
	snprintf(tb, sizeof(tb), "%lld", (long long)json_integer_value(json_object_get(o, "telemetry_breaches")));
	snprintf(clean, sizeof(clean), "%lld/%lld", done, due);
	snprintf(od, sizeof(od), "%lld", overdue);
	return cli_table_add(t, key, site, brews, pct_text(json_object_get(o, "in_spec_pct"), pct, sizeof(pct)), bb, tb,
	                     clean, od);
}

static int run_compliance(struct cli_args *a)
{
	struct cli_report_targets ts;
	int64_t now = clock_now_ms(), from, to = now;
	json_t *doc = NULL, *m;
	size_t i;
	int rc;

	memset(&ts, 0, sizeof(ts));
	if (cli_get(a, "to") != NULL && cli_parse_time(cli_get(a, "to"), &to) != CC_OK)
		to = -1;
	from = (to < now ? to : now) - 7 * COMPLIANCE_DAY_MS;
	if (to < 0 || (cli_get(a, "from") != NULL && cli_parse_time(cli_get(a, "from"), &from) != CC_OK) ||
	    from < 0 || from >= to || from >= now || to - from > 92 * COMPLIANCE_DAY_MS) {
		log_error(MOD, "--from and --to: a period that starts before now, at most 92 days (epoch ms or "
		               "YYYY-MM-DDTHH:MM:SSZ)");
		return CC_ERR_INVALID;
	}
	rc = cli_report_targets(a, &ts);
	if (rc == CC_OK)
		rc = compliance_report(a->vault, ts.t, ts.n, from, to, now, 1, 1, &doc);
	free(ts.t);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	{
		static const char *const heads[] = { "MACHINE", "SITE", "BREWS", "IN_SPEC_%", "BREW_BREACHES",
			                             "TELEMETRY_BREACHES", "CLEANINGS_DONE/DUE", "OVERDUE", NULL };
		struct cli_table *t = cli_table_new(heads);
		char f1[40], f2[40];

		printf("quality compliance from %s to %s (docs/QUALITY.md)\n", cli_time(from, f1, sizeof(f1)),
		       cli_time(to, f2, sizeof(f2)));
		rc = t != NULL ? CC_OK : CC_ERR_NOMEM;
		json_array_foreach(json_object_get(doc, "machines"), i, m) {
			json_t *site = json_object_get(m, "site");

			if (rc == CC_OK)
				rc = add_row(t, json_string_value(json_object_get(m, "serial")),
				             json_is_string(site) ? json_string_value(site) : "-", m);
		}
		if (rc == CC_OK)
			rc = add_row(t, "TOTAL", "", json_object_get(doc, "total"));
		if (rc == CC_OK)
			rc = cli_table_print(t);
		else
			cli_table_free(t);
	}
	json_decref(doc);
	return rc;
}

/* `report compliance` is a row of the report noun's table (cmd_report.c). */
int cli_run_report_compliance(struct cli_args *a)
{
	return run_compliance(a);
}

const struct cli_cmd cli_quality_rule_cmds[] = {
	{ "quality-rule", "list", "the quality rule sets: every version of every model's, and the shipped ones "
	                          "(version 0)", NULL, 1,
	  { { "model", "M", "one model's (or *: models without their own)", 0 }, CLI_END_OPTS }, run_rule_list },
	{ "quality-rule", "show", "one model's rule set document: the newest, or --version (0: the shipped one)", NULL, 1,
	  { { "model", "M", "the model (or *)", 1 }, { "version", "N", "that version", 0 }, CLI_END_OPTS },
	  run_rule_show },
	{ "quality-rule", "upload", "validate a rule set document (docs/QUALITY.md) and store it as its model's next "
	                            "version", NULL, 1,
	  { { "file", "FILE", "the JSON document", 1 }, CLI_END_OPTS }, run_rule_upload },
	CLI_END_CMDS,
};
