/*
 * main.c - `coffeecloud`: finds the command in the tables, parses its
 * options, opens the data directory when it needs one, runs it, and
 * appends its audit record (cmd_audit.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon/privdrop.h"

#define MOD "cli"

static const struct cli_cmd *const nouns[] = {
	cli_init_cmds, cli_org_cmds, cli_site_cmds, cli_group_cmds, cli_machine_cmds, cli_job_cmds,
	cli_alert_cmds, cli_alert_rule_cmds, cli_ticket_cmds,
	cli_customer_cmds, cli_user_cmds, cli_key_cmds, cli_ca_cmds, cli_grant_cmds, cli_token_cmds,
	cli_policy_cmds, cli_consent_cmds,
	cli_telemetry_cmds, cli_events_cmds, cli_audit_cmds, cli_report_cmds, cli_maintenance_cmds,
	cli_webhook_cmds, cli_notify_cmds, cli_quality_rule_cmds, cli_retention_cmds, cli_backup_cmds,
	cli_restore_cmds,
	cli_release_cmds, cli_release_key_cmds, cli_artifact_cmds, cli_diagnostics_cmds, cli_rollout_cmds,
	cli_config_cmds,
};
#define NOUN_COUNT (sizeof(nouns) / sizeof(nouns[0]))

static void usage_top(FILE *f)
{
	size_t i;
	const struct cli_cmd *c;

	fprintf(f, "usage: coffeecloud <noun> <verb> [options]\n\n"
	           "Administers a CoffeeCloud data directory. Commands:\n");
	for (i = 0; i < NOUN_COUNT; i++)
		for (c = nouns[i]; c->noun != NULL; c++)
			fprintf(f, "  %-12s %-16s %s\n", c->noun, c->verb ? c->verb : "", c->summary);
	fprintf(f, "\n'coffeecloud <noun> --help' and 'coffeecloud <noun> <verb> --help' say more.\n"
	           "Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 exists, 5 permissions,\n"
	           "6 wrong key, 7 damaged data.\n");
}

static void usage_noun(FILE *f, const struct cli_cmd *table)
{
	const struct cli_cmd *c;

	fprintf(f, "usage: coffeecloud %s <verb> [options]\n\n", table->noun);
	for (c = table; c->noun != NULL; c++)
		fprintf(f, "  %-16s %s\n", c->verb ? c->verb : "", c->summary);
}

static void usage_cmd(FILE *f, const struct cli_cmd *c)
{
	int i;

	fprintf(f, "usage: coffeecloud %s%s%s%s%s [options]\n\n%s\n\noptions:\n", c->noun,
	        c->verb ? " " : "", c->verb ? c->verb : "", c->positional ? " " : "",
	        c->positional ? c->positional : "", c->summary);
	if (c->needs_data) {
		fprintf(f, "  --%-24s %s\n", "data DIR", "the data directory (required)");
		fprintf(f, "  --%-24s %s\n", "master-key-file F",
		        "the master key, if not DIR.master.key beside DIR ($CC_MASTER_KEY_FILE)");
	}
	for (i = 0; i < CLI_OPTS_MAX && c->opts[i].name != NULL; i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s%s%s", c->opts[i].name, c->opts[i].arg ? " " : "",
		         c->opts[i].arg ? c->opts[i].arg : "");
		fprintf(f, "  --%-24s %s%s\n", left, c->opts[i].help, c->opts[i].required ? " (required)" : "");
	}
	fprintf(f, "  --%-24s %s\n  --%-24s %s\n", "json", "print one JSON document", "help", "this text");
}

static int find_opt(const struct cli_cmd *c, const char *name)
{
	int i;

	for (i = 0; i < CLI_OPTS_MAX && c->opts[i].name != NULL; i++)
		if (strcmp(c->opts[i].name, name) == 0)
			return i;
	return -1;
}

/* Parses --name value, --name=value, flags and the one positional argument. */
static int parse_args(const struct cli_cmd *c, int argc, char **argv, struct cli_args *a)
{
	int i, idx;

	for (i = 0; i < argc; i++) {
		char name[64];
		const char *arg = argv[i], *value = NULL, *eq;
		size_t n;

		if (strncmp(arg, "--", 2) != 0) {
			idx = c->positional ? find_opt(c, c->positional) : -1;
			if (idx < 0 || a->values[idx] != NULL) {
				fprintf(stderr, "coffeecloud: unexpected argument '%s'\n", arg);
				return EXIT_USAGE;
			}
			a->values[idx] = arg;
			continue;
		}
		arg += 2;
		eq = strchr(arg, '=');
		n = eq ? (size_t)(eq - arg) : strlen(arg);
		if (n == 0 || n >= sizeof(name)) {
			fprintf(stderr, "coffeecloud: bad option '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
		memcpy(name, arg, n);
		name[n] = '\0';
		if (strcmp(name, "help") == 0) {
			usage_cmd(stdout, c);
			return -1;
		}
		if (strcmp(name, "json") == 0) {
			a->json = 1;
			continue;
		}
		idx = find_opt(c, name);
		if (idx < 0 && !(c->needs_data && (strcmp(name, "data") == 0 ||
		                                    strcmp(name, "master-key-file") == 0))) {
			fprintf(stderr, "coffeecloud: unknown option --%s (see --help)\n", name);
			return EXIT_USAGE;
		}
		if (idx >= 0 && c->opts[idx].arg == NULL) {
			if (eq != NULL) {
				fprintf(stderr, "coffeecloud: --%s takes no value\n", name);
				return EXIT_USAGE;
			}
			a->values[idx] = "1";
			continue;
		}
		if (eq != NULL) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			fprintf(stderr, "coffeecloud: --%s needs a value\n", name);
			return EXIT_USAGE;
		}
		if (idx >= 0)
			a->values[idx] = value;
		else if (strcmp(name, "data") == 0)
			a->data_dir = value;
		else
			a->master_key_file = value;
	}
	if (c->needs_data && a->data_dir == NULL) {
		fprintf(stderr, "coffeecloud: --data DIR is required (see --help)\n");
		return EXIT_USAGE;
	}
	for (i = 0; i < CLI_OPTS_MAX && c->opts[i].name != NULL; i++) {
		if (c->opts[i].required && a->values[i] == NULL) {
			fprintf(stderr, "coffeecloud: --%s is required (see --help)\n", c->opts[i].name);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

static const struct cli_cmd *find_noun(const char *noun)
{
	size_t i;

	for (i = 0; i < NOUN_COUNT; i++)
		if (strcmp(nouns[i]->noun, noun) == 0)
			return nouns[i];
	return NULL;
}

/* A failure under --json: one JSON document on stdout too, so a script
 * reads the outcome where it reads results (the exit code says the same). */
static void print_json_error(int rc)
{
	static const char *const codes[] = { "ok", "failure", "usage", "not_found", "exists", "permission",
		                              "wrong_key", "damaged" };
	int exit_code = cli_exit_code(rc);
	const char *message = log_first_error();

	cli_print_json(json_pack("{s:{s:s, s:s, s:i}}", "error", "code",
	                         exit_code >= 0 && exit_code < (int)(sizeof(codes) / sizeof(codes[0]))
	                             ? codes[exit_code] : "failure",
	                         "message", message != NULL ? message : cc_strerror(rc), "exit", exit_code));
}

int main(int argc, char **argv)
{
	const struct cli_cmd *table, *c;
	struct cli_args a;
	struct cli_audit au;
	int rc, first;

	/* Everything this program creates is private unless it says otherwise. */
	umask(077);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage_top(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("coffeecloud %s\n", CC_VERSION);
		return EXIT_OK;
	}
	table = find_noun(argv[1]);
	if (table == NULL) {
		fprintf(stderr, "coffeecloud: unknown command '%s' (see coffeecloud --help)\n", argv[1]);
		return EXIT_USAGE;
	}
	c = table;
	first = 2;
	if (table->verb != NULL) {
		if (argc < 3 || strcmp(argv[2], "--help") == 0) {
			usage_noun(argc < 3 ? stderr : stdout, table);
			return argc < 3 ? EXIT_USAGE : EXIT_OK;
		}
		for (c = table; c->noun != NULL; c++)
			if (strcmp(c->verb, argv[2]) == 0)
				break;
		if (c->noun == NULL) {
			fprintf(stderr, "coffeecloud: unknown verb '%s %s' (see coffeecloud %s --help)\n",
			        argv[1], argv[2], argv[1]);
			return EXIT_USAGE;
		}
		first = 3;
	}
	memset(&a, 0, sizeof(a));
	a.cmd = c;
	rc = parse_args(c, argc - first, argv + first, &a);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	cli_audit_start(&au, c);
	if (c->needs_data) {
		rc = privdrop_to_owner(a.data_dir);
		if (rc == CC_OK && (rc = vault_open(a.data_dir, a.master_key_file, &a.vault)) != CC_OK)
			log_error(MOD, "cannot open data directory %s: %s", a.data_dir, cc_strerror(rc));
		if (rc != CC_OK) {
			if (a.json)
				print_json_error(rc);
			return cli_exit_code(rc);
		}
	}
	rc = cli_audit_prepare(&a, &au);
	if (rc == CC_OK)
		rc = c->run(&a);
	rc = cli_audit_finish(&a, &au, rc);
	vault_close(a.vault);
	if (rc != CC_OK && a.json && !cli_printed_json())
		print_json_error(rc);
	return cli_exit_code(rc);
}
