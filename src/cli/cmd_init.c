/* cmd_init.c - `coffeecloud init`: create or re-check a data directory. */
#include <stdio.h>
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

#include "cli/cli.h"
#include "vault/vault.h"
#include "common/limits.h"
#include "access/policy.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "common/file.h"
#include "crypto/keyring.h"
#include "crypto/password.h"
#include "daemon/privdrop.h"
#include "setup/setup.h"

#define MOD "init"

static int run_check(struct cli_args *a)
{
	const char *dir = cli_get(a, "data");
	int rc = setup_check(dir, cli_get(a, "master-key-file"));

	if (a->json)
		cli_print_json(json_pack("{s:s, s:b, s:s}", "data", dir, "ok", rc == CC_OK,
		                         "result", cc_strerror(rc)));
	else if (rc == CC_OK)
		printf("%s: ok (modes, master key, keyring, database integrity)\n", dir);
	else
		fprintf(stderr, "%s: check failed: %s\n", dir, cc_strerror(rc));
	return rc;
}

/* 1 if dir does not exist or is an empty directory. */
static int dir_new_or_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (d == NULL)
		return errno == ENOENT;
	while (empty && (e = readdir(d)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* As root: make the directory, give it to the service account, and create
 * everything in it as that account. */
/* As root, with the key in its managed place beside the directory (no key
 * named): that place is in the parent directory, where the service account
 * may not write, so root makes the key and gives it to the account. *made
 * is set when this made it (to be removed if init fails). */
static int give_default_key(const char *dir, const struct passwd *pw, int *made)
{
	char path[VAULT_PATH_MAX];
	uint8_t key[KEYRING_MASTER_LEN];
	int rc = vault_default_key_path(dir, path, sizeof(path));

	if (rc != CC_OK || file_exists(path))
		return rc;
	rc = keyring_master_generate(path, key);
	crypto_wipe(key, sizeof(key));
	if (rc == CC_OK && chown(path, pw->pw_uid, pw->pw_gid) != 0) {
		log_error(MOD, "%s: cannot give it to %s: %s", path, pw->pw_name, strerror(errno));
		unlink(path);
		rc = CC_ERR_IO;
	}
	if (rc == CC_OK)
		*made = 1;
	return rc;
}

static int become_owner(const char *dir, const char *user, int key_named, int *made_key)
{
	struct passwd *pw = getpwnam(user);
	int rc;

	if (pw == NULL) {
		log_error(MOD, "account '%s' does not exist (create it: useradd --system %s)", user, user);
		return CC_ERR_NOTFOUND;
	}
	if (geteuid() != 0) {
		log_error(MOD, "--owner needs root");
		return CC_ERR_PERM;
	}
	/* Refused before anything changes: a directory init would refuse keeps its owner. */
	if (!dir_new_or_empty(dir)) {
		log_error(MOD, "%s: exists and is not empty; nothing was changed", dir);
		return CC_ERR_EXISTS;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error(MOD, "%s: cannot create: %s", dir, strerror(errno));
		return CC_ERR_IO;
	}
	if (chown(dir, pw->pw_uid, pw->pw_gid) != 0) {
		log_error(MOD, "%s: cannot give it to %s: %s", dir, user, strerror(errno));
		return CC_ERR_IO;
	}
	if (!key_named && (rc = give_default_key(dir, pw, made_key)) != CC_OK)
		return rc;
	return privdrop_to(user, dir);
}

static int run_init(struct cli_args *a)
{
	struct setup_opts o;
	struct setup_result r;
	char password[PASSWORD_MAX_LEN + 2];
	int rc, owner_made_key = 0;

	if (cli_flag(a, "check"))
		return run_check(a);
	memset(&o, 0, sizeof(o));
	o.dir = cli_get(a, "data");
	o.master_key_file = cli_get(a, "master-key-file");
	if (o.master_key_file == NULL && getenv("CC_MASTER_KEY_FILE") && *getenv("CC_MASTER_KEY_FILE"))
		o.master_key_file = getenv("CC_MASTER_KEY_FILE");
	o.manufacturer = cli_get(a, "manufacturer") ? cli_get(a, "manufacturer") : "manufacturer";
	o.admin_login = cli_get(a, "admin") ? cli_get(a, "admin") : "admin";
	o.sans = cli_get(a, "san");
	/* Checked before anything is made: a refused command changes nothing. */
	if ((cli_get(a, "controller-name") || cli_get(a, "controller-address") || cli_get(a, "controller-contact")) &&
	    !policy_controller_valid(cli_get(a, "controller-name"), cli_get(a, "controller-address"),
	                             cli_get(a, "controller-contact"))) {
		log_error(MOD, "the data controller takes --controller-name, --controller-address and "
		          "--controller-contact together, each one line of 1 to %d characters", CC_CONTROLLER_FIELD_MAX);
		return CC_ERR_INVALID;
	}
	if (cli_get(a, "owner") != NULL) {
		rc = become_owner(o.dir, cli_get(a, "owner"),
		                  o.master_key_file != NULL || (getenv("CREDENTIALS_DIRECTORY") != NULL &&
		                                                *getenv("CREDENTIALS_DIRECTORY") != '\0'),
		                  &owner_made_key);
		if (rc != CC_OK)
			return rc;
	}
	if (cli_flag(a, "password-stdin")) {
		rc = cli_read_line_stdin(password, sizeof(password));
		if (rc != CC_OK) {
			log_error(MOD, "could not read a password from standard input");
			return CC_ERR_INVALID;
		}
		o.admin_password = password;
	}
	rc = setup_init(&o, &r);
	crypto_wipe(password, sizeof(password));
	if (rc != CC_OK && owner_made_key) {
		char path[VAULT_PATH_MAX];

		if (vault_default_key_path(o.dir, path, sizeof(path)) == CC_OK)
			(void)unlink(path); /* as root-made, it may outlive a refused init if the parent is root's */
	}
	if (rc != CC_OK) {
		log_error(MOD, "%s: not initialised: %s", o.dir, cc_strerror(rc));
		return rc;
	}
	if (r.master_key_inside)
		log_warn(MOD, "WARNING: the master key is inside the data directory (%s): a copy of the directory "
		         "(a backup, a stolen disk) decrypts everything. For production, init with "
		         "--master-key-file /etc/coffeecloud/master.key (or a systemd credential) and keep an "
		         "offline copy of the key apart from the backups (README, \"Keys\")", r.master_key_file);
	if (cli_get(a, "controller-name") != NULL) {
		struct vault *v = NULL;

		rc = vault_open(o.dir, r.master_key_file, &v);
		if (rc == CC_OK)
			rc = policy_controller_set(v, cli_get(a, "controller-name"), cli_get(a, "controller-address"),
			                           cli_get(a, "controller-contact"));
		vault_close(v);
		if (rc != CC_OK) {
			crypto_wipe(&r, sizeof(r));
			log_error(MOD, "%s: the data controller could not be stored: %s", o.dir, cc_strerror(rc));
			return rc;
		}
	} else {
		log_warn(MOD, "the privacy policy names no data controller yet: "
		         "coffeecloud policy controller --name ... --address ... --contact ...");
	}
	if (a->json) {
		json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:b}", "data", o.dir, "manufacturer", o.manufacturer,
		                        "admin", o.admin_login, "master_key_file", r.master_key_file,
		                        "master_key_inside", r.master_key_inside);
		if (doc != NULL && r.password_generated)
			json_object_set_new(doc, "admin_password", json_string(r.admin_password));
		cli_print_json(doc);
	} else {
		printf("initialised %s\n"
		       "  master key      %s%s\n"
		       "  fleet CA        %s/ca.crt\n"
		       "  server cert     %s/server.crt\n"
		       "  database        %s/coffeecloud.db\n"
		       "  manufacturer    %s\n"
		       "  admin login     %s\n",
		       o.dir, r.master_key_file, r.master_key_inside ? " (INSIDE the data directory: see the warning)" : "",
		       o.dir, o.dir, o.dir, o.manufacturer, o.admin_login);
		if (r.password_generated)
			printf("  admin password  %s   (shown once: store it now)\n", r.admin_password);
	}
	crypto_wipe(&r, sizeof(r));
	return CC_OK;
}

const struct cli_cmd cli_init_cmds[] = {
	{ "init", NULL, "create a data directory: master key, fleet CA, database, first admin",
	  NULL, 0,
	  { { "data", "DIR", "the data directory to create (must be new or empty)", 1 },
	    { "admin", "NAME", "login of the first admin (default: admin)", 0 },
	    { "manufacturer", "NAME", "name of the root organisation (default: manufacturer)", 0 },
	    { "san", "LIST", "server certificate names, comma-separated (default: " SETUP_DEFAULT_SANS ")", 0 },
	    { "master-key-file", "F", "the master key, outside the data directory (generated when F does not exist; "
	      "default: $CREDENTIALS_DIRECTORY/master.key if set, else DIR.master.key beside the directory)", 0 },
	    { "password-stdin", NULL, "read the admin password from standard input", 0 },
	    { "owner", "USER", "as root: give the directory to this service account (the daemon's user)", 0 },
	    { "check", NULL, "verify an existing data directory instead of creating one", 0 },
	    { "controller-name", "NAME", "the data controller the privacy policy names (with the next two)", 0 },
	    { "controller-address", "ADDRESS", "its postal address", 0 },
	    { "controller-contact", "CONTACT", "how people reach it", 0 },
	    CLI_END_OPTS },
	  run_init },
	CLI_END_CMDS,
};
