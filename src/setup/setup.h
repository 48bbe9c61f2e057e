/*
 * setup.h - creating and checking a data directory (`coffeecloud init`).
 *
 * init makes, in a new or empty directory: the master key (unless one is
 * given), the keyring, the fleet CA (ECDSA P-256, 10 years, key sealed in the
 * keyring), the listeners' server certificate (SANs given, key in the
 * keyring), an empty CRL, the database, the root manufacturer organisation
 * and the first admin account. It never overwrites anything; when a step
 * fails, what it had made is removed again.
 */
#ifndef CC_SETUP_SETUP_H
#define CC_SETUP_SETUP_H

#include "vault/vault.h"

#define SETUP_DEFAULT_SANS "localhost,127.0.0.1,::1"
#define SETUP_CA_DAYS 3650
#define SETUP_SERVER_DAYS 825
#define SETUP_PASSWORD_LEN 20

struct setup_opts {
	const char *dir;
	const char *master_key_file; /* NULL: as vault_create_opts; generated when missing */
	const char *manufacturer;    /* root organisation's name */
	const char *admin_login;
	const char *admin_password;  /* NULL: generate one into the result */
	const char *sans;            /* comma-separated DNS names and IPs */
};

struct setup_result {
	char admin_password[SETUP_PASSWORD_LEN + 1]; /* set when generated */
	int password_generated;
	char master_key_file[VAULT_PATH_MAX]; /* where the master key is */
	int master_key_inside;                /* 1: inside the data directory (warn) */
};

int setup_init(const struct setup_opts *opts, struct setup_result *result);

/* Issues another TLS server certificate from the fleet CA, e.g. for the
 * MQTT brokers of a scale-out deployment, which machines must trust as they
 * trust the daemon. *cert_pem is free()d, *key_pem ca_free_secret()ed. */
int setup_issue_server_cert(struct vault *v, const char *san_list, char **cert_pem, char **key_pem);

/* Re-verifies a data directory: modes of the directory and secrets, the
 * master key, every keyring entry the database refers to, the database's
 * integrity and the audit log's chain. Logs every finding; 0 only when all is well. */
int setup_check(const char *dir, const char *master_key_file);

#endif
