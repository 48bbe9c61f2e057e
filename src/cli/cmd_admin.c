/* cmd_admin.c - keys, customers and users: `key`, `customer`, `user`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "access/users.h"
#include "cli/cli.h"
#include "cli/table.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/keyring.h"
#include "crypto/password.h"
#include "common/clock.h"
#include "common/file.h"
#include "crypto/ca.h"
#include "access/credentials.h"
#include "access/grants.h"
#include "access/policy.h"
#include "access/policy_doc.h"
#include "fleet/erasure.h"
#include "fleet/inventory.h"
#include "records/export.h"
#include "setup/setup.h"

#define MOD "cli"

static int run_key_generate(struct cli_args *a)
{
	uint8_t key[KEYRING_MASTER_LEN];
	const char *out = cli_get(a, "out");
	int rc = keyring_master_generate(out, key);

	crypto_wipe(key, sizeof(key));
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s}", "key_file", out));
	printf("wrote a new master key to %s (mode 0600)\n", out);
	return CC_OK;
}

static int run_key_rotate(struct cli_args *a)
{
	int rc = vault_rotate_master(a->vault, cli_get(a, "new-key-file"));

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:b, s:s}", "rotated", 1, "master_key",
		                                vault_path(a->vault, VAULT_MASTER_KEY)));
	printf("every key re-wrapped; the master key is now %s\n", vault_path(a->vault, VAULT_MASTER_KEY));
	return CC_OK;
}

static int run_customer_delete(struct cli_args *a)
{
	const char *name = cli_get(a, "customer");
	char *receipt = NULL;
	int rc;

	if (!cli_flag(a, "yes")) {
		log_error(MOD, "deleting customer '%s' destroys its data for good; add --yes to confirm", name);
		return CC_ERR_INVALID;
	}
	rc = erasure_delete_customer(a->vault, name, "cli", &receipt);
	if (rc != CC_OK)
		return rc;
	if (a->json) {
		json_t *doc = json_loads(receipt, 0, NULL);

		free(receipt);
		if (doc != NULL) {
			json_object_set_new(doc, "customer", json_string(name));
			json_object_set_new(doc, "deleted", json_true());
			json_object_set_new(doc, "key_destroyed", json_true());
		}
		return cli_print_json(doc);
	}
	printf("deleted customer %s: data key destroyed, rows deleted, certificates revoked.\n"
	       "Signed deletion receipt (keep it):\n%s\n", name, receipt);
	free(receipt);
	return CC_OK;
}

static int write_file(void *ctx, const char *data, size_t len)
{
	return fwrite(data, 1, len, (FILE *)ctx) == len ? CC_OK : CC_ERR_IO;
}

/* --out DIR: the three CSV tables as DIR/telemetry.csv, events.csv and
 * reports.csv, new files readable by their owner only (decrypted data). */
static int export_tables(struct cli_args *a, int64_t customer_id, const char *dir)
{
	static const struct { enum record_kind kind; const char *file; } tables[] = {
		{ RECORD_TELEMETRY, "telemetry.csv" }, { RECORD_EVENT, "events.csv" }, { RECORD_REPORT, "reports.csv" },
	};
	char path[VAULT_PATH_MAX];
	size_t i;
	int rc = file_mkdirs(dir, 0700);

	/* All or none: an earlier export there is not half overwritten. */
	for (i = 0; rc == CC_OK && i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (file_join(path, sizeof(path), dir, tables[i].file) != CC_OK)
			return CC_ERR_LIMIT;
		if (file_exists(path)) {
			log_error(MOD, "%s exists already: export into a new directory", path);
			return CC_ERR_EXISTS;
		}
	}
	for (i = 0; rc == CC_OK && i < sizeof(tables) / sizeof(tables[0]); i++) {
		int fd;
		FILE *f;

		if (file_join(path, sizeof(path), dir, tables[i].file) != CC_OK)
			return CC_ERR_LIMIT;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			log_error(MOD, "cannot create %s: %s", path, strerror(errno));
			return errno == EEXIST ? CC_ERR_EXISTS : CC_ERR_IO;
		}
		f = fdopen(fd, "w");
		if (f == NULL) {
			close(fd);
			return CC_ERR_NOMEM;
		}
		rc = export_customer(a->vault, customer_id, EXPORT_CSV, tables[i].kind, write_file, f);
		if (fclose(f) != 0 && rc == CC_OK)
			rc = CC_ERR_IO;
		if (rc != CC_OK)
			unlink(path); /* no table that looks whole and is not */
		if (rc == CC_OK && !a->json)
			printf("wrote %s\n", path);
	}
	if (rc == CC_OK && a->json)
		rc = cli_print_json(json_pack("{s:s, s:[s, s, s]}", "dir", dir, "files", tables[0].file, tables[1].file,
		                              tables[2].file));
	return rc;
}

static int write_stdout(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	return fwrite(data, 1, len, stdout) == len ? CC_OK : CC_ERR_IO;
}

static int run_customer_export(struct cli_args *a)
{
	struct store_org cust;
	enum export_format format;
	enum record_kind table;
	const char *out = cli_get(a, "out");
	int rc = export_format_parse(cli_get(a, "format"), &format);

	if (rc != CC_OK) {
		log_error(MOD, "--format is json or csv");
		return rc;
	}
	if (export_table_parse(cli_get(a, "table"), &table) != CC_OK ||
	    (format != EXPORT_CSV && (cli_get(a, "table") != NULL || out != NULL)) ||
	    (out != NULL && cli_get(a, "table") != NULL)) {
		log_error(MOD, "with --format csv: --table telemetry, events or reports (standard output), "
		          "or --out DIR (all three)");
		return CC_ERR_INVALID;
	}
	rc = inventory_org_find(a->vault, cli_get(a, "customer"), &cust);
	if (rc == CC_OK && cust.kind != ORG_CUSTOMER) {
		log_error(MOD, "'%s' is not a customer", cust.name);
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK && out != NULL)
		return export_tables(a, cust.id, out);
	if (rc == CC_OK)
		rc = export_customer(a->vault, cust.id, format, table, write_stdout, NULL);
	return rc;
}

static int run_user_add(struct cli_args *a)
{
	struct user_profile p;
	struct user_info u;
	char password[PASSWORD_MAX_LEN + 2];
	char generated[24];
	const char *name = cli_get(a, "name"), *email = cli_get(a, "email");
	int rc, made_up = 0;

	memset(&p, 0, sizeof(p));
	if ((name && strlen(name) > CC_PERSONAL_FIELD_MAX) || (email && strlen(email) > CC_PERSONAL_FIELD_MAX)) {
		log_error(MOD, "--name and --email take at most %d bytes", CC_PERSONAL_FIELD_MAX);
		return CC_ERR_INVALID;
	}
	snprintf(p.display_name, sizeof(p.display_name), "%s", name ? name : "");
	snprintf(p.email, sizeof(p.email), "%s", email ? email : "");
	if (cli_flag(a, "password-stdin")) {
		rc = cli_read_line_stdin(password, sizeof(password));
	} else {
		rc = password_generate(generated, sizeof(generated), 20);
		snprintf(password, sizeof(password), "%s", generated);
		made_up = 1;
	}
	if (rc == CC_OK)
		rc = users_add(a->vault, cli_get(a, "org"), cli_get(a, "login"), cli_get(a, "role"), &p,
		               password, &u);
	crypto_wipe(password, sizeof(password));
	if (rc != CC_OK) {
		crypto_wipe(generated, sizeof(generated));
		return rc;
	}
	if (a->json) {
		json_t *doc = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)u.id, "login", u.login,
		                        "role", u.role, "org", u.org);
		if (doc != NULL && made_up)
			json_object_set_new(doc, "password", json_string(generated));
		rc = cli_print_json(doc);
	} else {
		printf("added user %s (%s) in %s\n", u.login, u.role, u.org);
		if (made_up)
			printf("password: %s   (shown once)\n", generated);
	}
	crypto_wipe(generated, sizeof(generated));
	crypto_wipe(&u, sizeof(u));
	return rc;
}

/* An admin's reset: the new password from standard input (one line); the
 * account's sessions end, wherever they are. */
static int run_user_passwd(struct cli_args *a)
{
	const char *login = cli_get(a, "login");
	char password[PASSWORD_MAX_LEN + 2], why[PASSWORD_WHY_MAX];
	struct user_info u;
	char hash[CC_PASSWORD_HASH_MAX + 1];
	int rc;

	rc = users_find(a->vault, login, &u, hash, sizeof(hash));
	crypto_wipe(hash, sizeof(hash));
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no account '%s'", login);
	if (rc != CC_OK)
		return rc;
	rc = cli_read_line_stdin(password, sizeof(password));
	if (rc != CC_OK)
		log_error(MOD, "could not read a password (one line, at most %d bytes) from standard input",
		          PASSWORD_MAX_LEN);
	if (rc == CC_OK) {
		rc = users_password_set(a->vault, login, password, why, sizeof(why));
		if (rc == CC_ERR_INVALID)
			log_error(MOD, "password refused: %s", why);
	}
	crypto_wipe(password, sizeof(password));
	if (rc == CC_OK)
		rc = credentials_end_sessions(a->vault, u.id, 0);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		rc = cli_print_json(json_pack("{s:s, s:b}", "login", u.login, "sessions_ended", 1));
	else
		printf("password of %s set; its sessions ended\n", u.login);
	crypto_wipe(&u, sizeof(u));
	return rc;
}

struct user_lister {
	struct cli_args *a;
	json_t *rows;
	struct cli_table *table;
};

static int list_user(void *arg, const struct user_info *u)
{
	struct user_lister *l = arg;
	char when[40], asked[40];
	const char *requested = u->deletion_requested_ms != 0
	                        ? cli_time(u->deletion_requested_ms, asked, sizeof(asked)) : NULL;

	if (l->a->json)
		return json_array_append_new(l->rows, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s*}",
		                              "id", (json_int_t)u->id, "login", u->login, "role", u->role,
		                              "org", u->org, "display_name", u->profile.display_name,
		                              "email", u->profile.email, "created",
		                              cli_time(u->created_ms, when, sizeof(when)), "deletion_requested",
		                              requested)) ? CC_ERR_NOMEM : 0;
	return cli_table_add(l->table, u->login, u->role, u->org, u->profile.display_name, u->profile.email,
	                     cli_time_s(u->created_ms, when, sizeof(when)),
	                     cli_time_s(u->deletion_requested_ms, asked, sizeof(asked)));
}

static int run_user_list(struct cli_args *a)
{
	static const char *const headers[] = { "LOGIN", "ROLE", "ORG", "NAME", "E-MAIL", "CREATED",
		                               "DELETION REQUESTED", NULL };
	struct user_lister l = { a, json_array(), cli_table_new(headers) };
	int rc = l.rows != NULL && l.table != NULL ? CC_OK : CC_ERR_NOMEM;

	if (rc == CC_OK)
		rc = users_list(a->vault, cli_get(a, "org"), list_user, &l);
	return cli_list_done(a, rc, l.rows, l.table);
}

/* An admin's deletion of an account (asked for by its person or not). */
static int run_user_delete(struct cli_args *a)
{
	const char *login = cli_get(a, "login");
	struct user_deleted d;
	char asked[40];
	int rc;

	if (!cli_flag(a, "yes")) {
		log_error(MOD, "deleting account '%s' ends its sessions and destroys its personal fields for good; "
		          "add --yes to confirm", login);
		return CC_ERR_INVALID;
	}
	rc = users_delete(a->vault, login, 0, 0, &d);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no account '%s'", login);
	if (rc == CC_ERR_STATE)
		log_error(MOD, "'%s' is the last admin of the platform's organisation, which must keep one: "
		          "add another admin there first", login);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s, s:s, s:b, s:b, s:s?, s:b}", "login", d.login, "role",
		                                d.role, "org", d.org, "deleted", 1, "requested", d.requested_ms != 0,
		                                "deletion_requested", d.requested_ms != 0
		                                ? cli_time(d.requested_ms, asked, sizeof(asked)) : NULL,
		                                "login_retired", 1));
	if (d.requested_ms != 0)
		printf("deleted account %s (%s in %s), as its person asked on %s\n", d.login, d.role, d.org,
		       cli_time(d.requested_ms, asked, sizeof(asked)));
	else
		printf("deleted account %s (%s in %s); its person had not asked\n", d.login, d.role, d.org);
	printf("its sessions ended, grants to it went, its personal fields are destroyed; the login is never "
	       "given again and stays in the audit log as a pseudonym\n");
	return CC_OK;
}

static int run_ca_server_cert(struct cli_args *a)
{
	const char *dir = cli_get(a, "out");
	char crt[VAULT_PATH_MAX], key[VAULT_PATH_MAX], ca[VAULT_PATH_MAX];
	char *cert_pem = NULL, *key_pem = NULL, *ca_pem = NULL;
	size_t ca_len = 0;
	int rc;

	if (file_join(crt, sizeof(crt), dir, "server.crt") != CC_OK ||
	    file_join(key, sizeof(key), dir, "server.key") != CC_OK ||
	    file_join(ca, sizeof(ca), dir, "ca.crt") != CC_OK)
		return CC_ERR_LIMIT;
	rc = setup_issue_server_cert(a->vault, cli_get(a, "san"), &cert_pem, &key_pem);
	if (rc == CC_OK)
		rc = file_read_all(vault_path(a->vault, VAULT_CA_CERT), 1 << 20, (unsigned char **)&ca_pem, &ca_len);
	if (rc == CC_OK && mkdir(dir, 0700) != 0 && errno != EEXIST)
		rc = CC_ERR_IO;
	if (rc == CC_OK)
		rc = file_write_new(key, key_pem, strlen(key_pem), 0600);
	if (rc == CC_OK)
		rc = file_write_new(crt, cert_pem, strlen(cert_pem), 0644);
	if (rc == CC_OK)
		rc = file_write_new(ca, ca_pem, ca_len, 0644);
	free(cert_pem);
	ca_free_secret(key_pem);
	free(ca_pem);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s, s:s}", "certificate", crt, "key", key, "ca", ca));
	printf("wrote %s, %s (0600) and %s\n", crt, key, ca);
	return CC_OK;
}

/* The installation's own listeners' certificate, replaced: a new key in
 * the keyring, then the certificate (atomically). A daemon reading both at
 * once in between finds them unmatched and keeps its current pair. */
static int run_ca_rotate_server_cert(struct cli_args *a)
{
	char *cert_pem = NULL, *key_pem = NULL;
	int rc = setup_issue_server_cert(a->vault, cli_get(a, "san"), &cert_pem, &key_pem);

	if (rc == CC_OK)
		rc = vault_secret_put(a->vault, "server-key", key_pem, strlen(key_pem));
	if (rc == CC_OK)
		rc = file_write_atomic(vault_path(a->vault, VAULT_SERVER_CERT), cert_pem, strlen(cert_pem), 0644);
	free(cert_pem);
	ca_free_secret(key_pem);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s}", "certificate", vault_path(a->vault, VAULT_SERVER_CERT),
		                                "reload", "SIGHUP"));
	printf("replaced %s and its key; send the daemon SIGHUP for new connections to get it "
	       "(connections open now keep theirs)\n", vault_path(a->vault, VAULT_SERVER_CERT));
	return CC_OK;
}

static int run_grant_add(struct cli_args *a)
{
	struct grant_request req;
	char until[40];
	int64_t id = 0;
	int rc;

	memset(&req, 0, sizeof(req));
	req.login = cli_get(a, "login");
	req.serial = cli_get(a, "serial");
	req.customer = cli_get(a, "customer");
	req.site = cli_get(a, "site");
	req.purpose = cli_get(a, "purpose");
	rc = cli_parse_time(cli_get(a, "expires"), &req.expires_ms);
	if (rc == CC_OK)
		rc = grants_add(a->vault, &req, "cli", 0, &id);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "login", req.login, "expires",
		                                cli_time(req.expires_ms, until, sizeof(until))));
	printf("grant %lld: %s may see %s%s%s for %s until %s\n", (long long)id, req.login,
	       req.serial ? req.serial : req.site, req.serial ? "" : " of ", req.serial ? "" : req.customer,
	       req.purpose, cli_time_s(req.expires_ms, until, sizeof(until)));
	return CC_OK;
}

/* "in force", "expired" or "revoked": what a listing says of a grant or token. */
static const char *standing(int64_t revoked_ms, int64_t expires_ms)
{
	return revoked_ms != 0 ? "revoked" : expires_ms <= clock_now_ms() ? "expired" : "in force";
}

struct grant_lister {
	struct cli_args *a;
	struct store *s;
	json_t *rows;
	struct cli_table *table;
};

static int print_grant(void *arg, const struct store_grant *g)
{
	struct grant_lister *l = arg;
	struct store_user u;
	struct store_machine m;
	struct store_site site;
	struct store_org cust;
	char expires[40], created[40], revoked[40], id[24];
	const char *login = NULL, *serial = NULL, *site_name = NULL, *customer = NULL;
	int rc;

	if (l->s->ops->user_get(l->s, g->user_id, &u) == CC_OK)
		login = u.login;
	if (g->machine_id != 0 && l->s->ops->machine_get(l->s, g->machine_id, &m) == CC_OK)
		serial = m.serial;
	if (g->site_id != 0 && l->s->ops->site_get(l->s, g->site_id, &site) == CC_OK)
		site_name = site.name;
	if (l->s->ops->org_get(l->s, g->customer_id, &cust) == CC_OK)
		customer = cust.name;
	if (l->a->json) {
		rc = json_array_append_new(l->rows, json_pack(
			"{s:I, s:s?, s:s?, s:s?, s:s?, s:s, s:s, s:s, s:s, s:s?, s:b, s:I, s:I, s:I}",
			"id", (json_int_t)g->id, "login", login, "serial", serial, "site", site_name,
			"customer", customer, "purpose", g->purpose, "state", standing(g->revoked_ms, g->expires_ms),
			"created", cli_time(g->created_ms, created, sizeof(created)),
			"expires", cli_time(g->expires_ms, expires, sizeof(expires)),
			"revoked_at", g->revoked_ms ? cli_time(g->revoked_ms, revoked, sizeof(revoked)) : NULL,
			"revoked", g->revoked_ms != 0, "user_id", (json_int_t)g->user_id,
			"machine_id", (json_int_t)g->machine_id, "site_id", (json_int_t)g->site_id)) ? CC_ERR_NOMEM : 0;
	} else {
		snprintf(id, sizeof(id), "%lld", (long long)g->id);
		rc = cli_table_add(l->table, id, login, serial, site_name, customer, g->purpose,
		                   cli_time_s(g->expires_ms, expires, sizeof(expires)), standing(g->revoked_ms, g->expires_ms));
	}
	crypto_wipe(&u, sizeof(u));
	return rc;
}

static int run_grant_list(struct cli_args *a)
{
	static const char *const headers[] = { "ID", "LOGIN", "MACHINE", "SITE", "CUSTOMER", "PURPOSE", "EXPIRES",
		                               "STATE", NULL };
	struct grant_lister l = { a, vault_store(a->vault), json_array(), cli_table_new(headers) };
	int rc = l.rows != NULL && l.table != NULL ? CC_OK : CC_ERR_NOMEM;

	if (rc == CC_OK)
		rc = grants_list(a->vault, 0, print_grant, &l);
	return cli_list_done(a, rc, l.rows, l.table);
}

static int run_grant_revoke(struct cli_args *a)
{
	int64_t id = 0;
	int rc = cli_parse_time(cli_get(a, "id"), &id); /* a plain non-negative integer */

	if (rc == CC_OK)
		rc = grants_revoke(a->vault, id, 0);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:b}", "id", (json_int_t)id, "revoked", 1));
	printf("grant %lld revoked\n", (long long)id);
	return CC_OK;
}

const struct cli_cmd cli_grant_cmds[] = {
	{ "grant", "add", "give a subcontractor one machine or site, or site staff their own site, for a purpose, until an expiry", NULL, 1,
	  { { "login", "LOGIN", "the subcontractor's or site staff's login", 1 },
	    { "serial", "S", "the machine, or", 0 },
	    { "site", "SITE", "a site of --customer", 0 },
	    { "customer", "ORG", "the customer of --site", 0 },
	    { "purpose", "P", "downtime, quality, support or updates", 1 },
	    { "expires", "TIME", "when it ends (epoch ms or YYYY-MM-DDTHH:MM:SSZ), at most 366 days ahead", 1 },
	    CLI_END_OPTS },
	  run_grant_add },
	{ "grant", "list", "list grants", NULL, 1, { CLI_END_OPTS }, run_grant_list },
	{ "grant", "revoke", "revoke a grant at once", "id", 1,
	  { { "id", "ID", "the grant", 1 }, CLI_END_OPTS }, run_grant_revoke },
	CLI_END_CMDS,
};

/* The token is printed once: the store keeps its hash only. */
static int run_token_add(struct cli_args *a)
{
	struct token_request req;
	char token[CREDENTIAL_TOKEN_TEXT_MAX];
	int64_t id = 0, rate = 60;
	int rc;

	memset(&req, 0, sizeof(req));
	req.name = cli_get(a, "name");
	req.org = cli_get(a, "org");
	req.role = cli_get(a, "role");
	rc = cli_parse_time(cli_get(a, "expires"), &req.expires_ms);
	if (rc == CC_OK && cli_get(a, "rate") != NULL)
		rc = cli_parse_time(cli_get(a, "rate"), &rate); /* a plain non-negative integer */
	req.rate_per_min = rate;
	if (rc == CC_OK)
		rc = credentials_token_new(a->vault, &req, "cli", 0, token, &id);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		rc = cli_print_json(json_pack("{s:I, s:s, s:s, s:s, s:I, s:s}", "id", (json_int_t)id, "name", req.name,
		                              "org", req.org, "role", req.role, "rate_per_min", (json_int_t)rate,
		                              "token", token));
	else
		printf("token %lld (%s, %s of %s, %lld requests/min): %s\n", (long long)id, req.name, req.role, req.org,
		       (long long)rate, token);
	crypto_wipe(token, sizeof(token));
	return rc;
}

struct token_lister {
	struct cli_args *a;
	struct store *s;
	json_t *rows;
	struct cli_table *table;
};

/* Revoked and expired tokens are listed too, marked: they explain a partner's 401. */
static int print_token(void *arg, const struct store_credential *c)
{
	struct token_lister *l = arg;
	struct store_org org;
	char expires[40], created[40], revoked[40], id[24], rate[24];
	const char *org_name = l->s->ops->org_get(l->s, c->org_id, &org) == CC_OK ? org.name : NULL;
	const char *state = standing(c->revoked_ms, c->expires_ms);

	if (l->a->json)
		return json_array_append_new(l->rows, json_pack(
			"{s:I, s:s, s:s?, s:s, s:s, s:b, s:s, s:s, s:s?, s:I, s:s, s:I}",
			"id", (json_int_t)c->id, "name", c->name, "org", org_name, "role", c->role, "state", state,
			"in_force", strcmp(state, "in force") == 0,
			"created", cli_time(c->created_ms, created, sizeof(created)),
			"expires", cli_time(c->expires_ms, expires, sizeof(expires)),
			"revoked_at", c->revoked_ms ? cli_time(c->revoked_ms, revoked, sizeof(revoked)) : NULL,
			"rate_per_min", (json_int_t)c->rate_per_min, "created_by", c->created_by,
			"org_id", (json_int_t)c->org_id)) ? CC_ERR_NOMEM : 0;
	snprintf(id, sizeof(id), "%lld", (long long)c->id);
	snprintf(rate, sizeof(rate), "%lld/min", (long long)c->rate_per_min);
	return cli_table_add(l->table, id, c->name, org_name, c->role, rate,
	                     cli_time_s(c->created_ms, created, sizeof(created)),
	                     cli_time_s(c->expires_ms, expires, sizeof(expires)), state);
}

static int run_token_list(struct cli_args *a)
{
	static const char *const headers[] = { "ID", "NAME", "ORG", "ROLE", "RATE", "CREATED", "EXPIRES", "STATE",
		                               NULL };
	struct token_lister l = { a, vault_store(a->vault), json_array(), cli_table_new(headers) };
	int rc = l.rows != NULL && l.table != NULL ? CC_OK : CC_ERR_NOMEM;

	if (rc == CC_OK)
		rc = credentials_token_list(a->vault, 0, print_token, &l);
	return cli_list_done(a, rc, l.rows, l.table);
}

static int run_token_revoke(struct cli_args *a)
{
	int64_t id = 0;
	int rc = cli_parse_time(cli_get(a, "id"), &id);

	if (rc == CC_OK)
		rc = credentials_token_revoke(a->vault, id, 0);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:b}", "id", (json_int_t)id, "revoked", 1));
	printf("token %lld revoked\n", (long long)id);
	return CC_OK;
}

const struct cli_cmd cli_token_cmds[] = {
	{ "token", "add", "issue an API token for a partner system (printed once)", NULL, 1,
	  { { "name", "NAME", "a label for the token", 1 },
	    { "org", "ORG", "the organisation it acts for", 1 },
	    { "role", "ROLE", "the role it acts in (not admin, subcontractor or site_staff)", 1 },
	    { "expires", "TIME", "when it ends (epoch ms or YYYY-MM-DDTHH:MM:SSZ), at most 366 days ahead", 1 },
	    { "rate", "N", "requests per minute (default 60)", 0 },
	    CLI_END_OPTS },
	  run_token_add },
	{ "token", "list", "list API tokens (never the tokens themselves)", NULL, 1, { CLI_END_OPTS }, run_token_list },
	{ "token", "revoke", "revoke an API token at once", "id", 1,
	  { { "id", "ID", "the token's id", 1 }, CLI_END_OPTS }, run_token_revoke },
	CLI_END_CMDS,
};

/* A rendered version as plain text (facts as bullets under each clause's prose). */
static void print_policy(const json_t *r)
{
	const json_t *c, *line;
	size_t i, j;

	printf("%s\n%s: %s, %s %lld%s\n", json_string_value(json_object_get(r, "title")),
	       json_string_value(json_object_get(r, "last_updated_label")),
	       json_string_value(json_object_get(r, "last_updated")),
	       json_string_value(json_object_get(r, "version_label")),
	       (long long)json_integer_value(json_object_get(r, "version")),
	       json_is_true(json_object_get(r, "draft")) ? " (draft)" : "");
	json_array_foreach(json_object_get(r, "clauses"), i, c) {
		printf("\n%s\n%s\n", json_string_value(json_object_get(c, "title")), json_string_value(json_object_get(c, "text")));
		json_array_foreach(json_object_get(c, "facts"), j, line)
			printf("  - %s\n", json_string_value(line));
	}
}

/* doc (stolen) in --lang, as JSON or text; a plain-text version as it is. */
static int show_policy(struct cli_args *a, json_t *doc, const struct store_policy *p, int draft)
{
	const char *lang = doc != NULL ? policy_doc_language(doc, cli_get(a, "lang"), NULL) : NULL;
	json_t *r = lang != NULL ? policy_doc_render(doc, lang) : NULL;
	int rc = CC_OK;

	json_decref(doc);
	if (doc != NULL && r == NULL) {
		log_error(MOD, "the policy has no text in that language");
		return CC_ERR_NOTFOUND;
	}
	if (r == NULL) {
		if (a->json)
			return cli_print_json(json_pack("{s:I, s:s, s:s, s:s}", "version", (json_int_t)p->version,
			                                "last_updated", p->last_updated, "purposes", p->purposes, "text", p->text));
		printf("version %lld, last updated %s, purposes %s\n\n%s\n", (long long)p->version, p->last_updated,
		       p->purposes, p->text);
		return CC_OK;
	}
	json_object_set_new(r, "version", json_integer(draft ? p->version + 1 : p->version));
	json_object_set_new(r, "last_updated", json_string(draft ? "-" : p->last_updated));
	json_object_set_new(r, "draft", json_boolean(draft));
	if (a->json)
		return cli_print_json(r);
	print_policy(r);
	json_decref(r);
	return rc;
}

static int run_policy_show(struct cli_args *a)
{
	struct store_policy *p = malloc(sizeof(*p));
	int rc = p ? policy_current(a->vault, p) : CC_ERR_NOMEM;

	if (rc == CC_OK)
		rc = show_policy(a, policy_doc_parse(p->text), p, 0);
	free(p);
	return rc;
}

static int run_policy_draft(struct cli_args *a)
{
	struct store_policy *p = malloc(sizeof(*p));
	json_t *draft = NULL;
	int rc = p ? policy_current(a->vault, p) : CC_ERR_NOMEM;

	if (rc == CC_OK)
		rc = policy_draft_get(a->vault, &draft);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no draft: the published version says what the running configuration does");
	if (rc == CC_OK)
		rc = show_policy(a, draft, p, 1);
	free(p);
	return rc;
}

static int run_policy_publish(struct cli_args *a)
{
	int64_t version = 0;
	int rc = policy_draft_publish(a->vault, cli_get(a, "last-updated"), &version);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I}", "version", (json_int_t)version));
	printf("published policy version %lld; purposes it adds need each customer's consent\n", (long long)version);
	return CC_OK;
}

static int run_policy_prose(struct cli_args *a)
{
	unsigned char *text = NULL;
	size_t len = 0;
	int rc = file_read_all(cli_get(a, "text-file"), CC_POLICY_CLAUSE_MAX, &text, &len);

	if (rc == CC_OK) {
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			text[--len] = '\0';
		rc = policy_draft_set_prose(a->vault, cli_get(a, "lang"), cli_get(a, "clause"), (const char *)text);
		if (rc == CC_ERR_INVALID)
			log_error(MOD, "--clause is one of controller, collected, purposes, access, never_collected, "
			          "retention, at_rest, in_transit, security, changes; --lang a language code such as hu");
	}
	free(text);
	if (rc == CC_OK && !a->json)
		printf("the draft's %s text of '%s' is replaced\n", cli_get(a, "lang"), cli_get(a, "clause"));
	return rc == CC_OK && a->json ? cli_print_json(json_pack("{s:b}", "ok", 1)) : rc;
}

static int run_policy_controller(struct cli_args *a)
{
	int rc = policy_controller_set(a->vault, cli_get(a, "name"), cli_get(a, "address"), cli_get(a, "contact"));

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(policy_controller_get(a->vault));
	printf("the data controller is named; publish the draft to show it in the policy\n");
	return CC_OK;
}

static int run_consent_record(struct cli_args *a)
{
	struct store_org cust;
	int64_t version = 0;
	int rc = inventory_org_find(a->vault, cli_get(a, "customer"), &cust);

	if (rc == CC_OK && cust.kind != ORG_CUSTOMER) {
		log_error(MOD, "'%s' is not a customer", cust.name);
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK && !inventory_name_valid(cli_get(a, "by"))) {
		log_error(MOD, "--by takes the login of the customer's manager who gave it, not a person's name");
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK)
		rc = cli_parse_time(cli_get(a, "version"), &version); /* a plain non-negative integer */
	if (rc == CC_OK)
		rc = policy_consent(a->vault, cust.id, version, cli_get(a, "lang"), cli_get(a, "by"));
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:I}", "customer", cust.name, "version", (json_int_t)version));
	printf("recorded: %s consents to policy version %lld\n", cust.name, (long long)version);
	return CC_OK;
}

const struct cli_cmd cli_policy_cmds[] = {
	{ "policy", "show", "the current version (--lang: one of its languages)", NULL, 1,
	  { { "lang", "LANG", "the language (default English)", 0 }, CLI_END_OPTS }, run_policy_show },
	{ "policy", "draft", "the draft the running configuration made, waiting to be published", NULL, 1,
	  { { "lang", "LANG", "the language (default English)", 0 }, CLI_END_OPTS }, run_policy_draft },
	{ "policy", "publish", "publish the draft as the next version", NULL, 1,
	  { { "last-updated", "DATE", "YYYY-MM-DD (default: today)", 0 }, CLI_END_OPTS }, run_policy_publish },
	{ "policy", "prose", "replace the draft's text of one clause in one language", NULL, 1,
	  { { "lang", "LANG", "the language, e.g. en or hu", 1 },
	    { "clause", "ID", "controller, collected, purposes, access, never_collected, retention, at_rest, "
	      "in_transit, security or changes", 1 },
	    { "text-file", "F", "the new text (the facts under it are not editable)", 1 },
	    CLI_END_OPTS },
	  run_policy_prose },
	{ "policy", "controller", "name the data controller the policy names", NULL, 1,
	  { { "name", "NAME", "the organisation responsible for the data", 1 },
	    { "address", "ADDRESS", "its postal address", 1 },
	    { "contact", "CONTACT", "how people reach it (e-mail or phone of the office)", 1 },
	    CLI_END_OPTS },
	  run_policy_controller },
	CLI_END_CMDS,
};

const struct cli_cmd cli_consent_cmds[] = {
	{ "consent", "record", "record a customer's consent to a policy version", NULL, 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "version", "N", "the policy version", 1 },
	    { "by", "LOGIN", "the account that gave it: a customer_manager or admin of that customer", 1 },
	    { "lang", "LANG", "the language of the text it was given on (default en)", 0 },
	    CLI_END_OPTS },
	  run_consent_record },
	CLI_END_CMDS,
};

const struct cli_cmd cli_ca_cmds[] = {
	{ "ca", "server-cert", "issue a server certificate from the fleet CA (e.g. for a scale-out broker)",
	  NULL, 1,
	  { { "san", "LIST", "DNS names and IP addresses, comma-separated", 1 },
	    { "out", "DIR", "where to write server.crt, server.key and ca.crt", 1 },
	    CLI_END_OPTS },
	  run_ca_server_cert },
	{ "ca", "rotate-server", "replace this installation's listener certificate and key (new ones from the "
	  "fleet CA; the daemon takes them on SIGHUP)",
	  NULL, 1, { { "san", "LIST", "DNS names and IP addresses, comma-separated", 1 }, CLI_END_OPTS },
	  run_ca_rotate_server_cert },
	CLI_END_CMDS,
};

const struct cli_cmd cli_key_cmds[] = {
	{ "key", "generate", "write a new random master key to a new file (0600)", NULL, 0,
	  { { "out", "FILE", "the file to create", 1 }, CLI_END_OPTS }, run_key_generate },
	{ "key", "rotate-master", "re-wrap every key under a new master key", NULL, 1,
	  { { "new-key-file", "F", "the new master key (from 'key generate')", 1 }, CLI_END_OPTS },
	  run_key_rotate },
	CLI_END_CMDS,
};

const struct cli_cmd cli_customer_cmds[] = {
	{ "customer", "delete", "delete a customer: destroy its data key, rows and certificates",
	  "customer", 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "yes", NULL, "confirm: this cannot be undone", 0 },
	    CLI_END_OPTS },
	  run_customer_delete },
	{ "customer", "export", "everything stored for a customer's machines, decrypted, on standard output",
	  "customer", 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "format", "F", "json (default: everything, one document) or csv (one table, see --table)", 0 },
	    { "table", "T", "with csv: telemetry (default), events or reports", 0 },
	    { "out", "DIR", "with csv: write all three tables as DIR/telemetry.csv, events.csv, reports.csv", 0 },
	    CLI_END_OPTS },
	  run_customer_export },
	CLI_END_CMDS,
};

const struct cli_cmd cli_user_cmds[] = {
	{ "user", "add", "add a person's account", NULL, 1,
	  { { "org", "ORG", "the organisation the person works for", 1 },
	    { "login", "LOGIN", "a handle, not the person's name (e.g. tech-07): the audit log keeps it for good, "
	      "and it is never given again", 1 },
	    { "role", "ROLE", "admin, engineer, technician, service_manager, sales, "
	                      "customer_manager, subcontractor, site_staff or auditor", 1 },
	    { "name", "TEXT", "display name (stored encrypted)", 0 },
	    { "email", "ADDR", "e-mail address (stored encrypted)", 0 },
	    { "password-stdin", NULL, "read the password from standard input (else one is generated)", 0 },
	    CLI_END_OPTS },
	  run_user_add },
	{ "user", "passwd", "set an account's password (read from standard input); ends its sessions", "login", 1,
	  { { "login", "LOGIN", "the account", 1 }, CLI_END_OPTS },
	  run_user_passwd },
	{ "user", "list", "list accounts", NULL, 1,
	  { { "org", "ORG", "only this organisation's", 0 }, CLI_END_OPTS }, run_user_list },
	{ "user", "delete", "delete an account: sessions end, grants to it go, personal fields destroyed, login retired",
	  "login", 1,
	  { { "login", "LOGIN", "the account", 1 },
	    { "yes", NULL, "confirm: this cannot be undone", 0 },
	    CLI_END_OPTS },
	  run_user_delete },
	{ "user", "deactivate", "deactivate an account: it cannot sign in, its sessions end at once", "login", 1,
	  { { "login", "LOGIN", "the account", 1 }, CLI_END_OPTS }, cli_run_user_deactivate },
	{ "user", "activate", "activate a deactivated account again", "login", 1,
	  { { "login", "LOGIN", "the account", 1 }, CLI_END_OPTS }, cli_run_user_activate },
	{ "user", "notifications", "show or change which notification e-mails a person gets, when, in which language",
	  "login", 1,
	  { { "login", "LOGIN", "the account", 1 },
	    { "email", "on|off", "e-mail notifications at all", 0 },
	    { "kinds", "LIST", "comma-separated kinds (alert.opened, alert.resolved, test, ...); \"\" every kind", 0 },
	    { "sites", "LIST", "comma-separated site names; \"\" every site", 0 },
	    { "quiet", "HH:MM-HH:MM", "quiet hours in the person's time zone (e-mails wait until they end); \"\" none", 0 },
	    { "tz", "ZONE", "the person's time zone, e.g. Europe/Budapest", 0 },
	    { "lang", "en|hu", "the language of the e-mails", 0 },
	    CLI_END_OPTS },
	  cli_run_user_notifications },
	CLI_END_CMDS,
};
