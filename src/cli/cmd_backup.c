/*
 * cmd_backup.c - `backup --to DIR` (while the daemon runs) and
 * `restore --from DIR --dir NEWDIR` (ops/backup.h, docs/SERVICE.md).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "ops/backup.h"

#define MOD "cli"

static int run_backup(struct cli_args *a)
{
	json_t *manifest = NULL;
	int rc = backup_create(a->vault, cli_get(a, "to"), &manifest);

	if (rc != CC_OK)
		return rc;
	if (a->json) {
		json_object_set_new(manifest, "to", json_string(cli_get(a, "to")));
		return cli_print_json(manifest);
	}
	{
		json_t *f;
		size_t i;
		json_int_t bytes = 0;

		json_array_foreach(json_object_get(manifest, "files"), i, f)
			bytes += json_integer_value(json_object_get(f, "bytes"));
		printf("backed up %zu files (%lld bytes) into %s; the master key is not in it: keep it apart\n",
		       json_array_size(json_object_get(manifest, "files")), (long long)bytes, cli_get(a, "to"));
	}
	json_decref(manifest);
	return CC_OK;
}

static int run_restore(struct cli_args *a)
{
	struct backup_restore_report r;
	char actor[80];
	int rc;

	cli_actor(actor, sizeof(actor));
	rc = backup_restore(cli_get(a, "from"), cli_get(a, "dir"), cli_get(a, "master-key-file"), actor, &r);
	if (rc != CC_OK) {
		log_error(MOD, "restore failed: %s", r.detail[0] ? r.detail : cc_strerror(rc));
		return rc;
	}
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:I, s:I, s:I}", "restored", cli_get(a, "dir"), "files",
		                                (json_int_t)r.files, "bytes", (json_int_t)r.bytes, "audit_records",
		                                (json_int_t)r.audit_records));
	printf("restored %lld files into %s; the master key opens it, audit log intact (%lld records)\n",
	       (long long)r.files, cli_get(a, "dir"), (long long)r.audit_records);
	return CC_OK;
}

const struct cli_cmd cli_backup_cmds[] = {
	{ "backup", NULL, "copy the data directory, consistent while the daemon runs, into a new directory "
	  "(store, keyring, certificates; never the master key)",
	  NULL, 1, { { "to", "DIR", "the backup directory to create (must not exist)", 1 }, CLI_END_OPTS }, run_backup },
	CLI_END_CMDS
};

const struct cli_cmd cli_restore_cmds[] = {
	{ "restore", NULL, "make a new data directory from a backup; the master key must open it",
	  NULL, 0,
	  { { "from", "DIR", "the backup directory (with its MANIFEST.json)", 1 },
	    { "dir", "NEWDIR", "the data directory to create (must not exist)", 1 },
	    { "master-key-file", "F", "the installation's master key (default: $CC_MASTER_KEY_FILE, else "
	      "NEWDIR.master.key beside the new directory)", 0 },
	    CLI_END_OPTS }, run_restore },
	CLI_END_CMDS
};
