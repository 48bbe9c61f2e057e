/* cmd_config.c - `config show|set|history|effective`: a machine's remote
 * configuration (fleet/machine_config.h), the twins of
 * /api/v1/machines/{serial}/config; `config templates|template-set|
 * limits-set`: templates down the organisation tree and customers' limits
 * (fleet/config_templates.h), the twins of /api/v1/config/templates and
 * /api/v1/config/limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "fleet/config_templates.h"
#include "fleet/machine_config.h"
#include "ingest/privacy.h"

#define MOD "cli"

static int print_status(struct cli_args *a, json_t *doc)
{
	const json_t *rep;

	if (doc == NULL)
		return CC_ERR_NOMEM;
	if (a->json)
		return cli_print_json(doc);
	rep = json_object_get(doc, "reported");
	printf("%s (%s): %s, desired version %lld\n", json_string_value(json_object_get(doc, "serial")),
	       json_string_value(json_object_get(doc, "model")), json_string_value(json_object_get(doc, "status")),
	       (long long)json_integer_value(json_object_get(doc, "version")));
	if (json_object_get(doc, "reason") != NULL)
		printf("  the machine's reason: %s\n", json_string_value(json_object_get(doc, "reason")));
	if (json_object_get(doc, "drift") != NULL)
		printf("  differs at: %s\n", json_string_value(json_object_get(doc, "drift")));
	if (rep != NULL)
		printf("  reported: version %lld %s at %s\n", (long long)json_integer_value(json_object_get(rep, "version")),
		       json_string_value(json_object_get(rep, "state")), json_string_value(json_object_get(rep, "at")));
	json_decref(doc);
	return CC_OK;
}

static int run_show(struct cli_args *a)
{
	struct store_machine m;
	int rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);

	if (rc != CC_OK)
		return rc;
	return print_status(a, machine_config_json(a->vault, &m));
}

static int run_set(struct cli_args *a)
{
	struct store_machine m;
	struct machine_config_refusal ref;
	unsigned char *text = NULL;
	size_t len = 0;
	json_t *config;
	char actor[CC_NAME_MAX + 8];
	int64_t version = 0;
	int rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);

	if (rc != CC_OK)
		return rc;
	rc = file_read_all(cli_get(a, "file"), CONFIG_DOC_MAX, &text, &len);
	if (rc != CC_OK)
		return rc;
	config = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	if (config == NULL) {
		log_error(MOD, "%s: not a JSON document", cli_get(a, "file"));
		return CC_ERR_INVALID;
	}
	cli_actor(actor, sizeof(actor));
	rc = machine_config_set(a->vault, &m, config, cli_get(a, "reason"), actor, &ref, &version);
	json_decref(config);
	if (rc == CC_ERR_INVALID) {
		log_error(MOD, "refused, nothing stored: %s", ref.why);
		return rc;
	}
	if (rc == CC_ERR_STATE)
		log_error(MOD, "machine '%s' is not in service", m.serial);
	if (rc != CC_OK)
		return rc;
	if (!a->json)
		printf("set version %lld of %s's configuration: the machine gets the config command\n", (long long)version,
		       m.serial);
	return print_status(a, machine_config_json(a->vault, &m));
}

static int run_history(struct cli_args *a)
{
	struct store_machine m;
	json_t *doc, *versions, *v;
	size_t i;
	int rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);

	if (rc != CC_OK)
		return rc;
	doc = machine_config_history_json(a->vault, &m, 0, 1000);
	if (doc == NULL)
		return CC_ERR_NOMEM;
	if (a->json)
		return cli_print_json(doc);
	versions = json_object_get(doc, "versions");
	json_array_foreach(versions, i, v) {
		char *cfg = json_dumps(json_object_get(v, "config"), JSON_COMPACT | JSON_SORT_KEYS);

		printf("version %lld  %s  %s  %s\n  %s\n", (long long)json_integer_value(json_object_get(v, "version")),
		       json_string_value(json_object_get(v, "at")), json_string_value(json_object_get(v, "by")),
		       json_string_value(json_object_get(v, "why")) ? json_string_value(json_object_get(v, "why")) : "",
		       cfg != NULL ? cfg : "(does not open)");
		free(cfg);
	}
	json_decref(doc);
	return CC_OK;
}

static json_t *read_doc(const char *path)
{
	unsigned char *text = NULL;
	size_t len = 0;
	json_t *doc;

	if (file_read_all(path, CONFIG_DOC_MAX, &text, &len) != CC_OK)
		return NULL;
	doc = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	if (doc == NULL)
		log_error(MOD, "%s: not a JSON document", path);
	return doc;
}

static int print_doc(struct cli_args *a, json_t *doc)
{
	char *text;

	if (doc == NULL)
		return CC_ERR_NOMEM;
	if (a->json)
		return cli_print_json(doc);
	text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(doc);
	return text != NULL ? CC_OK : CC_ERR_NOMEM;
}

static int run_effective(struct cli_args *a)
{
	struct store_machine m;
	int rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);

	if (rc != CC_OK)
		return rc;
	return print_doc(a, config_effective_json(a->vault, &m));
}

static int run_templates(struct cli_args *a)
{
	struct store_org org;
	int rc = inventory_org_find(a->vault, cli_get(a, "org"), &org);

	if (rc != CC_OK)
		return rc;
	return print_doc(a, config_templates_json(a->vault, &org));
}

static int run_template_set(struct cli_args *a)
{
	struct machine_config_refusal ref;
	struct store_org org;
	char actor[CC_NAME_MAX + 8];
	json_t *config;
	int rc = inventory_org_find(a->vault, cli_get(a, "org"), &org);

	if (rc != CC_OK)
		return rc;
	if ((config = read_doc(cli_get(a, "file"))) == NULL)
		return CC_ERR_INVALID;
	cli_actor(actor, sizeof(actor));
	rc = config_template_set(a->vault, &org, cli_get(a, "model"), config, cli_get(a, "reason"), actor, &ref);
	json_decref(config);
	if (rc == CC_ERR_INVALID) {
		log_error(MOD, "refused, nothing stored: %s", ref.why);
		return rc;
	}
	if (rc != CC_OK)
		return rc;
	return print_doc(a, config_templates_json(a->vault, &org));
}

static int run_limits_set(struct cli_args *a)
{
	struct store_org org;
	char actor[CC_NAME_MAX + 8], why[200];
	json_t *limits;
	int rc = inventory_org_find(a->vault, cli_get(a, "customer"), &org);

	if (rc == CC_OK && org.kind != ORG_CUSTOMER) {
		log_error(MOD, "'%s' is not a customer", org.name);
		rc = CC_ERR_INVALID;
	}
	if (rc != CC_OK)
		return rc;
	if ((limits = read_doc(cli_get(a, "file"))) == NULL)
		return CC_ERR_INVALID;
	cli_actor(actor, sizeof(actor));
	rc = config_limits_set(a->vault, &org, cli_get(a, "model"), limits, actor, why, sizeof(why));
	json_decref(limits);
	if (rc == CC_ERR_INVALID) {
		log_error(MOD, "refused, nothing stored: %s", why);
		return rc;
	}
	if (rc != CC_OK)
		return rc;
	return print_doc(a, config_templates_json(a->vault, &org));
}

const struct cli_cmd cli_config_cmds[] = {
	{ "config", "show", "a machine's configuration: desired version, what it reports, in_sync / pending / "
	  "rejected / drifted", "serial", 1,
	  { { "serial", "S", "the machine", 1 }, CLI_END_OPTS }, run_show },
	{ "config", "set", "set a machine's desired configuration (recipes, settings; validated for its model, no "
	  "prices) and send it the config command", "serial", 1,
	  { { "serial", "S", "the machine", 1 },
	    { "file", "FILE", "the JSON document (docs/CONFIGURATION-REMOTE.md)", 1 },
	    { "reason", "TEXT", "why (kept with the version; no personal data)", 1 },
	    CLI_END_OPTS },
	  run_set },
	{ "config", "history", "every desired version of a machine's configuration: who, when, why", "serial", 1,
	  { { "serial", "S", "the machine", 1 }, CLI_END_OPTS }, run_history },
	{ "config", "effective", "a machine's effective configuration: its model's templates down the organisation "
	  "tree, its own desired version on top, where each value comes from", "serial", 1,
	  { { "serial", "S", "the machine", 1 }, CLI_END_OPTS }, run_effective },
	{ "config", "templates", "the configuration templates and limits an organisation holds", NULL, 1,
	  { { "org", "NAME", "the organisation", 1 }, CLI_END_OPTS }, run_templates },
	{ "config", "template-set", "set an organisation's configuration template for a model, inherited by the "
	  "machines below it", NULL, 1,
	  { { "org", "NAME", "the organisation (manufacturer, distributor, customer)", 1 },
	    { "model", "M", "the model", 1 },
	    { "file", "FILE", "the JSON document (docs/CONFIGURATION-REMOTE.md)", 1 },
	    { "reason", "TEXT", "why (no personal data)", 1 },
	    CLI_END_OPTS },
	  run_template_set },
	{ "config", "limits-set", "the limits within which a customer's own people may configure a model", NULL, 1,
	  { { "customer", "NAME", "the customer", 1 },
	    { "model", "M", "the model", 1 },
	    { "file", "FILE", "{\"products\": [...], \"recipe\": {field: {min, max}}, \"settings\": {...}}", 1 },
	    CLI_END_OPTS },
	  run_limits_set },
	CLI_END_CMDS,
};
