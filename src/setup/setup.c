#include "setup/setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access/audit.h"
#include "access/users.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/ca.h"
#include "crypto/password.h"
#include "fleet/inventory.h"
#include "vault/vault.h"

#define MOD "init"

static int split_sans(const char *list, char *buf, size_t cap, const char **sans, size_t *n)
{
	char *p, *save = NULL;
	size_t count = 0;

	if (strlen(list) >= cap)
		return CC_ERR_LIMIT;
	memcpy(buf, list, strlen(list) + 1);
	for (p = strtok_r(buf, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
		if (*p == '\0')
			continue;
		if (count == CC_SAN_MAX) {
			log_error(MOD, "at most %d subject alternative names", CC_SAN_MAX);
			return CC_ERR_LIMIT;
		}
		sans[count++] = p;
	}
	*n = count;
	return CC_OK;
}

static int make_pki(struct vault *v, const char *san_list)
{
	char *ca_pem = NULL, *ca_key = NULL, *srv_pem = NULL, *srv_key = NULL;
	const char *sans[CC_SAN_MAX];
	char san_buf[2048];
	size_t nsans = 0;
	int rc;

	rc = split_sans(san_list, san_buf, sizeof(san_buf), sans, &nsans);
	if (rc == CC_OK)
		rc = ca_create_root("CoffeeCloud Fleet CA", SETUP_CA_DAYS, &ca_pem, &ca_key);
	if (rc == CC_OK)
		rc = vault_secret_put(v, "ca-key", ca_key, strlen(ca_key));
	if (rc == CC_OK)
		rc = file_write_new(vault_path(v, VAULT_CA_CERT), ca_pem, strlen(ca_pem), 0644);
	if (rc == CC_OK)
		rc = ca_issue_server(ca_pem, ca_key, "coffeecloud", sans, nsans, SETUP_SERVER_DAYS,
		                     &srv_pem, &srv_key);
	if (rc == CC_OK)
		rc = vault_secret_put(v, "server-key", srv_key, strlen(srv_key));
	if (rc == CC_OK)
		rc = file_write_new(vault_path(v, VAULT_SERVER_CERT), srv_pem, strlen(srv_pem), 0644);
	free(ca_pem);
	ca_free_secret(ca_key);
	free(srv_pem);
	ca_free_secret(srv_key);
	return rc;
}

int setup_issue_server_cert(struct vault *v, const char *san_list, char **cert_pem, char **key_pem)
{
	const char *sans[CC_SAN_MAX];
	char san_buf[2048];
	char *ca_pem = NULL, *ca_key = NULL;
	size_t nsans = 0, len = 0, key_len = 0;
	int rc;

	rc = split_sans(san_list, san_buf, sizeof(san_buf), sans, &nsans);
	if (rc == CC_OK)
		rc = file_read_all(vault_path(v, VAULT_CA_CERT), CC_SMALL_FILE_MAX, (unsigned char **)&ca_pem, &len);
	if (rc == CC_OK)
		rc = vault_secret_get(v, "ca-key", &ca_key, &key_len);
	if (rc == CC_OK)
		rc = ca_issue_server(ca_pem, ca_key, "coffeecloud", sans, nsans, SETUP_SERVER_DAYS, cert_pem, key_pem);
	free(ca_pem);
	vault_secret_free(ca_key, key_len);
	return rc;
}

/* Removes what a failed init made, so that it can simply be run again. */
static void undo_init(const char *dir, const char *made_key, int dir_was_ours)
{
	static const char *const made[] = {
		"keyring", "keyring.lock", "coffeecloud.db", "coffeecloud.db-wal", "coffeecloud-inbox.db",
		"coffeecloud-inbox.db-wal", "coffeecloud-inbox.db-shm",
		"coffeecloud.db-shm", "ca.crt", "server.crt", "ca.crl",
	};
	char path[VAULT_PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(made) / sizeof(made[0]); i++)
		if (file_join(path, sizeof(path), dir, made[i]) == CC_OK)
			unlink(path);
	if (made_key != NULL)
		unlink(made_key);
	if (dir_was_ours)
		rmdir(dir);
}

int setup_init(const struct setup_opts *o, struct setup_result *r)
{
	struct vault_create_opts vo = { o->dir, o->master_key_file };
	struct user_profile profile;
	struct vault *v = NULL;
	uint8_t install_id[16];
	char install_hex[33];
	const char *password = o->admin_password;
	const char *named = o->master_key_file, *creds = getenv("CREDENTIALS_DIRECTORY");
	char cred_key[VAULT_PATH_MAX], default_key[VAULT_PATH_MAX];
	int master_internal, dir_was_ours = !file_exists(o->dir);
	const char *made_key = NULL; /* a named key file this init generates */
	int rc;

	memset(r, 0, sizeof(*r));
	if (!inventory_name_valid(o->manufacturer) || !inventory_name_valid(o->admin_login)) {
		log_error(MOD, "invalid manufacturer or admin name: use letters, digits, '.', '_' or '-'");
		return CC_ERR_INVALID;
	}
	/* Where the key comes from, as vault_create decides it (vault.h). */
	if (named == NULL || *named == '\0')
		named = getenv("CC_MASTER_KEY_FILE");
	if ((named == NULL || *named == '\0') && creds != NULL && *creds == '/' &&
	    file_join(cred_key, sizeof(cred_key), creds, "master.key") == CC_OK && file_exists(cred_key))
		named = cred_key;
	master_internal = named == NULL || *named == '\0';
	if (master_internal && vault_default_key_path(o->dir, default_key, sizeof(default_key)) == CC_OK &&
	    !file_exists(default_key))
		made_key = default_key;
	else if (!master_internal && !file_exists(named))
		made_key = named;
	rc = vault_create(&vo, &v);
	if (rc != CC_OK) {
		if (rc != CC_ERR_EXISTS) /* never touch a directory that was not ours */
			undo_init(o->dir, made_key, dir_was_ours);
		return rc;
	}
	snprintf(r->master_key_file, sizeof(r->master_key_file), "%s", vault_path(v, VAULT_MASTER_KEY));
	r->master_key_inside = vault_master_key_inside(v);
	rc = make_pki(v, o->sans ? o->sans : SETUP_DEFAULT_SANS);
	if (rc == CC_OK)
		rc = inventory_write_crl(v);
	if (rc == CC_OK)
		rc = crypto_random(install_id, sizeof(install_id));
	if (rc == CC_OK) {
		hex_encode(install_id, sizeof(install_id), install_hex, sizeof(install_hex));
		rc = vault_store(v)->ops->meta_set(vault_store(v), "installation-id", install_hex);
	}
	if (rc == CC_OK)
		rc = inventory_org_add(v, o->manufacturer, ORG_MANUFACTURER, NULL, NULL);
	if (rc == CC_OK && password == NULL) {
		rc = password_generate(r->admin_password, sizeof(r->admin_password), SETUP_PASSWORD_LEN);
		r->password_generated = rc == CC_OK;
		password = r->admin_password;
	}
	memset(&profile, 0, sizeof(profile));
	snprintf(profile.display_name, sizeof(profile.display_name), "Administrator");
	if (rc == CC_OK)
		rc = users_add(v, o->manufacturer, o->admin_login, "admin", &profile, password, NULL);
	vault_close(v);
	if (rc != CC_OK) {
		crypto_wipe(r, sizeof(*r));
		undo_init(o->dir, made_key, dir_was_ours);
	}
	return rc;
}

struct key_check {
	struct vault *v;
	int missing;
};

static int check_org_key(void *arg, const struct store_org *o)
{
	struct key_check *c = arg;

	if (!vault_org_key_exists(c->v, o->id)) {
		log_error(MOD, "organisation '%s' has no data key in the keyring", o->name);
		c->missing++;
	}
	return 0;
}

int setup_check(const char *dir, const char *master_key_file)
{
	struct key_check c = { NULL, 0 };
	struct store *s;
	int rc = vault_open(dir, master_key_file, &c.v), rc2;

	if (rc != CC_OK)
		return rc;
	rc = vault_check(c.v);
	if (vault_master_key_inside(c.v))
		log_warn(MOD, "%s: the master key is inside the data directory: a copy of the directory "
		         "(a backup, a stolen disk) decrypts everything; move it out (README, \"Keys\")",
		         vault_path(c.v, VAULT_MASTER_KEY));
	s = vault_store(c.v);
	rc2 = s->ops->org_list(s, check_org_key, &c);
	if (rc == CC_OK)
		rc = rc2 != CC_OK ? rc2 : c.missing ? CC_ERR_CORRUPT : CC_OK;
	{
		struct audit_report report;

		rc2 = audit_verify(c.v, &report);
		if (rc2 != CC_OK) {
			log_error(MOD, "audit log: %s", rc2 == CC_ERR_CORRUPT ? report.detail : cc_strerror(rc2));
			if (rc == CC_OK)
				rc = rc2;
		}
	}
	vault_close(c.v);
	return rc;
}
