/* cmd_config.c - `config show|set|history`: a machine's remote
 * configuration (fleet/machine_config.h), the twins of
 * /api/v1/machines/{serial}/config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "fleet/inventory.h"
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
	CLI_END_CMDS,
};
