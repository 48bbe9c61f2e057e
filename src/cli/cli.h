/*
 * cli.h - the admin command line: `coffeecloud <noun> <verb> [options]`.
 *
 * Every command is a row of a table (struct cli_cmd) naming its options; the
 * parser, --help on every level and the exit codes are shared. Commands
 * print human text by default and one JSON document with --json.
 *
 * Exit codes (also in docs/CLI.md):
 *   0 success            4 already exists
 *   1 other failure      5 unsafe permissions or permission denied
 *   2 usage error        6 wrong key or failed authentication
 *   3 not found          7 damaged data
 */
#ifndef CC_CLI_CLI_H
#define CC_CLI_CLI_H

#include <jansson.h>

#include "vault/vault.h"

#define CLI_OPTS_MAX 20

enum cli_exit {
	EXIT_OK = 0, EXIT_FAILURE_ = 1, EXIT_USAGE = 2, EXIT_NOTFOUND = 3,
	EXIT_EXISTS = 4, EXIT_PERM = 5, EXIT_KEY = 6, EXIT_CORRUPT = 7,
};

struct cli_opt {
	const char *name;  /* long option without the dashes */
	const char *arg;   /* metavariable, or NULL for a flag */
	const char *help;
	int required;
};

struct cli_args;

struct cli_cmd {
	const char *noun;
	const char *verb;
	const char *summary;
	const char *positional; /* option that a bare argument fills, or NULL */
	int needs_data;         /* takes --data DIR and opens the vault */
	const struct cli_opt opts[CLI_OPTS_MAX];
	int (*run)(struct cli_args *a);
};

struct cli_args {
	const struct cli_cmd *cmd;
	const char *values[CLI_OPTS_MAX]; /* by index in cmd->opts; flags hold "1" */
	const char *data_dir;
	const char *master_key_file;
	int json;
	struct vault *vault;              /* opened when cmd->needs_data */
	void *scratch;                    /* a command's own (e.g. a JSON list being built) */
};

/* The value of an option, or NULL when absent. */
const char *cli_get(const struct cli_args *a, const char *name);
/* 1 when a flag was given. */
int cli_flag(const struct cli_args *a, const char *name);

/* Maps a CC_ERR_* code to the documented exit code. */
int cli_exit_code(int err);

/* Prints a JSON document to stdout (and a newline), then frees it. */
int cli_print_json(json_t *doc);
/* 1 once a command has printed its JSON document (a failure then says no more on stdout). */
int cli_printed_json(void);

/* Formats ms since the epoch as ISO-8601 UTC; "-" for 0. */
const char *cli_time(int64_t ms, char *buf, size_t cap);

/* Parses epoch milliseconds or an ISO-8601 UTC time (YYYY-MM-DD[THH:MM:SS[Z]]). */
int cli_parse_time(const char *text, int64_t *out);

/* The person at the keyboard as the audit log names them ("cli:USER"), for
 * what a command records as made by someone (a job's creator). */
void cli_actor(char *out, size_t cap);

/* A report's --customer C (a customer's name) and --site X into f (site
 * points into a's values); an error after saying so: a name that is not a
 * customer's is not found. */
int cli_report_scope(const struct cli_args *a, struct store_machine_filter *f);
/* The machines of --customer, --site (cli_report_scope) and --serial as
 * quality/compliance.h targets, for the fleet reports (cmd_quality.c);
 * free t. */
struct compliance_target;
struct cli_report_targets {
	struct compliance_target *t;
	size_t n;
};
int cli_report_targets(struct cli_args *a, struct cli_report_targets *ts);

/* Reads one line (without its newline) from stdin into out. */
int cli_read_line_stdin(char *out, size_t cap);

#define CLI_END_OPTS { NULL, NULL, NULL, 0 }
#define CLI_END_CMDS { NULL, NULL, NULL, NULL, 0, { CLI_END_OPTS }, NULL }

/* The command tables of each noun, NULL-terminated by noun. */
extern const struct cli_cmd cli_init_cmds[];
extern const struct cli_cmd cli_org_cmds[];
extern const struct cli_cmd cli_site_cmds[];
extern const struct cli_cmd cli_group_cmds[];
extern const struct cli_cmd cli_machine_cmds[];
extern const struct cli_cmd cli_job_cmds[];
extern const struct cli_cmd cli_alert_cmds[];
extern const struct cli_cmd cli_alert_rule_cmds[];
extern const struct cli_cmd cli_ticket_cmds[];
extern const struct cli_cmd cli_key_cmds[];
extern const struct cli_cmd cli_ca_cmds[];
extern const struct cli_cmd cli_grant_cmds[];
extern const struct cli_cmd cli_token_cmds[];
extern const struct cli_cmd cli_policy_cmds[];
extern const struct cli_cmd cli_consent_cmds[];
extern const struct cli_cmd cli_customer_cmds[];
extern const struct cli_cmd cli_user_cmds[];
extern const struct cli_cmd cli_telemetry_cmds[];
extern const struct cli_cmd cli_events_cmds[];
extern const struct cli_cmd cli_audit_cmds[];
extern const struct cli_cmd cli_report_cmds[];
extern const struct cli_cmd cli_maintenance_cmds[];
extern const struct cli_cmd cli_webhook_cmds[];
extern const struct cli_cmd cli_notify_cmds[];
extern const struct cli_cmd cli_quality_rule_cmds[];
/* `retention show|set` (cmd_retention.c). */
extern const struct cli_cmd cli_retention_cmds[];
extern const struct cli_cmd cli_backup_cmds[];
extern const struct cli_cmd cli_restore_cmds[];
extern const struct cli_cmd cli_release_cmds[];
extern const struct cli_cmd cli_release_key_cmds[];
extern const struct cli_cmd cli_artifact_cmds[];
/* `config show|set|history` (cmd_config.c). */
extern const struct cli_cmd cli_config_cmds[];
/* `diagnostics request|list|show|download` (cmd_diagnostics.c). */
extern const struct cli_cmd cli_diagnostics_cmds[];
extern const struct cli_cmd cli_rollout_cmds[];
/* `report compliance` (cmd_quality.c). */
int cli_run_report_compliance(struct cli_args *a);
/* `report haccp` (cmd_haccp.c). */
int cli_run_report_haccp(struct cli_args *a);
/* `report beverages` and `report forecasts` (cmd_usage.c). */
int cli_run_report_beverages(struct cli_args *a);
int cli_run_report_forecasts(struct cli_args *a);

/*
 * The audit record of one run (cmd_audit.c). main.c calls, in order:
 * start before leaving root (the actor is the invoking Unix user),
 * prepare once the vault is open (before the command: a customer that the
 * command deletes is named while it exists; a read of machine data is
 * refused when it could not be audited), finish after the command (appends
 * the record, outcome ok/denied/error; returns the exit status to use).
 * Commands that open no vault are not audited.
 */
struct cli_audit {
	int audited;
	int machine_data;       /* a read of machine data: fail closed */
	const char *data_class;
	const char *purpose;
	char actor[CC_AUDIT_ACTOR_MAX + 1];
	char machines[CC_AUDIT_MACHINES_MAX + 1]; /* a serial, or a job's serials */
	int64_t customer_id;
};
void cli_audit_start(struct cli_audit *au, const struct cli_cmd *c);
int cli_audit_prepare(struct cli_args *a, struct cli_audit *au);
int cli_audit_finish(struct cli_args *a, struct cli_audit *au, int rc);

/* `user notifications`, listed in the user table, lives with the notification commands. */
int cli_run_user_notifications(struct cli_args *a);

/* `machine status`, listed in the machine table, lives with the data commands. */
int cli_run_machine_status(struct cli_args *a);
/* `machine import|renew|certs|cert-validity` live in cmd_provision.c. */
int cli_run_machine_import(struct cli_args *a);
int cli_run_machine_renew(struct cli_args *a);
int cli_run_machine_certs(struct cli_args *a);
int cli_run_machine_cert_validity(struct cli_args *a);
/* cmd_fleet.c: rows of the machine and user tables. */
int cli_run_machine_move(struct cli_args *a);
int cli_run_machine_decommission(struct cli_args *a);
int cli_run_machine_search(struct cli_args *a);
int cli_run_user_deactivate(struct cli_args *a);
int cli_run_user_activate(struct cli_args *a);

#endif
