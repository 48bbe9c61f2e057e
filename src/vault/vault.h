/*
 * vault.h - an opened data directory: master key, keyring, store, and the
 * envelope encryption between them.
 *
 * Layout of a data directory DIR (0700); the 256-bit master key is beside it
 * as DIR.master.key, 0600 (or elsewhere: --master-key-file, $CC_MASTER_KEY_FILE):
 *   keyring            data keys and private keys, each sealed by the master key, 0600
 *   coffeecloud.db     the SQLite store (+ -wal, -shm), only ciphertext and index columns
 *   coffeecloud-inbox.db  where telemetry and events land first (store/sqlite/inbox.h)
 *   ca.crt             the fleet CA certificate (public)
 *   server.crt         the listeners' certificate (public); its key is in the keyring
 *   ca.crl             revoked machine certificates (public)
 *   artifacts/         software update files, named by their SHA-256 (fleet/updates.h)
 *
 * Each organisation has its own random 256-bit data key ("org:<id>" in the
 * keyring). Payloads are sealed with AES-256-GCM under the key of the
 * organisation that owns them, with associated data built from their row
 * (struct seal_ad), so a blob moved to any other row fails to open.
 * Destroying an organisation's key (crypto-shredding) makes its rows
 * unreadable in every copy of the database, old backups included.
 *
 * The store a vault hands out (vault_store) checks the integrity MAC of
 * every row that decides access on each read and keeps it on each write
 * (src/vault/rowmac.h): a row edited outside CoffeeCloud is not found.
 */
#ifndef CC_VAULT_VAULT_H
#define CC_VAULT_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define VAULT_PATH_MAX 4096

enum vault_file {
	VAULT_MASTER_KEY,
	VAULT_KEYRING,
	VAULT_DB,
	VAULT_CA_CERT,
	VAULT_SERVER_CERT,
	VAULT_CRL,
	VAULT_ARTIFACTS, /* a directory: update artifacts by SHA-256 (fleet/updates.h) */
};

/* What a sealed blob is, and the row it belongs to. */
enum seal_kind {
	SEAL_TELEMETRY = 1,
	SEAL_EVENT = 2,
	SEAL_USER_PROFILE = 3,
	SEAL_MACHINE_INFO = 4,
	SEAL_COMMAND = 5,
	SEAL_REPORT = 6,
	SEAL_TOTP = 7,
	SEAL_ROLLUP = 8, /* seq: the width in ms, ts_ms: the start */
	SEAL_WEBHOOK_SECRET = 9, /* subject: the endpoint, name: its URL */
	SEAL_NOTIFICATION = 10,  /* subject: the endpoint, ts: queued, name: the message id */
	SEAL_ALERT_NOTE = 11,/* subject: the alert, seq: the event's time */
	SEAL_DIAGNOSTICS = 12, /* subject: the bundle, seq: the chunk's offset, ts: requested, name: serial */
	SEAL_TICKET = 13,    /* subject: the ticket, seq: the history line (0 with name title / description) */
	SEAL_MACHINE_CONFIG = 14, /* subject: the machine, seq: the version (0: the report), name: desired / why / reported */
	SEAL_DESCALE_WATER = 17,  /* subject: the machine; the water brewed since its last descale */
};

struct seal_ad {
	enum seal_kind kind;
	int64_t org_id;     /* owner of the data key */
	int64_t subject_id; /* machine id, user id... */
	int64_t seq;
	int64_t ts_ms;
	const char *name;   /* serial, login... (may be NULL) */
};

struct vault;

struct vault_create_opts {
	const char *dir;
	/* NULL: $CC_MASTER_KEY_FILE, else the systemd credential
	 * $CREDENTIALS_DIRECTORY/master.key if it exists, else DIR.master.key
	 * beside the directory (vault_default_key_path; generated unless it
	 * exists). A named file that does not exist yet is generated. */
	const char *master_key_file;
};

/* Creates a data directory: the directory (0700, refused if it holds
 * anything), the master key (or reads the given one), an empty keyring and a
 * migrated database. Returns the opened vault. */
int vault_create(const struct vault_create_opts *opts, struct vault **out);

/* The managed place of a data directory's master key: "DIR.master.key",
 * beside the directory and not in it, so that a copy of the directory
 * alone decrypts nothing (docs/ARCHITECTURE.md, "The data directory"). */
int vault_default_key_path(const char *dir, char *out, size_t cap);

/* Opens an existing data directory. master_key_file NULL means
 * $CC_MASTER_KEY_FILE, else $CREDENTIALS_DIRECTORY/master.key (a systemd
 * credential) if it exists, else DIR.master.key, else (a directory made
 * before that rule) DIR/master.key. Checks the directory and secret
 * modes first (CC_ERR_PERM), then the master key against the keyring
 * (CC_ERR_AUTH), then opens the store (CC_ERR_CORRUPT for a damaged file). */
int vault_open(const char *dir, const char *master_key_file, struct vault **out);

/* Commits nothing; closes the store and wipes every key. Accepts NULL. */
void vault_close(struct vault *v);

/* Verifies modes of the directory and every secret file, the master key, the
 * keyring entries and the database integrity; logs each finding. */
int vault_check(struct vault *v);

/* 1 when the master key file lies inside the data directory: then a copy
 * of the directory (a backup, a stolen disk) decrypts everything. Callers
 * that create or run an installation warn about it. */
int vault_master_key_inside(const struct vault *v);

/* The store of this data directory (owned by the vault). */
struct store *vault_store(struct vault *v);

/* Full path of one file of the data directory. */
const char *vault_path(const struct vault *v, enum vault_file which);

/* Generates and persists a new data key for org_id (fails if one exists). */
int vault_org_key_create(struct vault *v, int64_t org_id);

/* Destroys org_id's data key, on disk and in memory: crypto-shredding. */
int vault_org_key_destroy(struct vault *v, int64_t org_id);

/* Reads the keyring file again and forgets every unwrapped data key this
 * vault holds whose entry is gone: how an erasure made by another process
 * (or another vault of this one) reaches this vault's cache. dropped(ctx,
 * org_id) is called for each key forgotten (may be NULL). Returns how many. */
int vault_keys_refresh(struct vault *v, void (*dropped)(void *ctx, int64_t org_id), void *ctx);

/* 1 if this vault holds org_id's data key unwrapped in memory (for tests
 * and diagnostics; the key itself never leaves the vault). */
int vault_org_key_cached(const struct vault *v, int64_t org_id);

/* 1 if org_id has a data key. */
int vault_org_key_exists(struct vault *v, int64_t org_id);

/* Seals pt under org_id's data key. *blob is malloc'd, caller frees. */
int vault_seal(struct vault *v, const struct seal_ad *ad, const void *pt, size_t ptlen,
               uint8_t **blob, size_t *bloblen);

/* The same into the caller's buffer of cap bytes (a fixed-size row field):
 * *bloblen is set; CC_ERR_LIMIT when it does not fit (ptlen + 28 bytes). */
int vault_seal_into(struct vault *v, const struct seal_ad *ad, const void *pt, size_t ptlen, uint8_t *blob,
                    size_t cap, size_t *bloblen);

/* Opens a blob; *pt is malloc'd with a NUL after the data (not counted), the
 * caller frees it. CC_ERR_AUTH when it does not belong to that row or key;
 * CC_ERR_NOTFOUND when org_id's key has been destroyed. */
int vault_unseal(struct vault *v, const struct seal_ad *ad, const uint8_t *blob, size_t bloblen,
                 uint8_t **pt, size_t *ptlen);

/* Named private secrets other than data keys ("ca-key", "server-key"). */
int vault_secret_put(struct vault *v, const char *name, const void *secret, size_t len);
/* *out is malloc'd and NUL-terminated; free with vault_secret_free. */
int vault_secret_get(struct vault *v, const char *name, char **out, size_t *len);
void vault_secret_free(char *secret, size_t len);

/* Reads the named secret from the keyring file as it is now (another
 * process may have made it); when absent and create_len > 0, makes a random
 * one of that length under the keyring lock and sets *created. CC_ERR_NOTFOUND
 * when absent and create_len is 0. */
int vault_secret_get_or_create(struct vault *v, const char *name, size_t create_len, uint8_t *out, size_t cap,
                               size_t *len, int *created);

/* Verifies the integrity MAC of every row that decides access (organisations,
 * machines, users, grants, credentials) and logs each one that fails, by
 * table and id. CC_ERR_CORRUPT when any fails. Part of vault_check. */
int vault_rows_check(struct vault *v);

/* Re-wraps every keyring entry under the key in new_key_file and makes it
 * the master key: the old key no longer opens anything. When the old key
 * lived in its managed place (DIR.master.key), that file is replaced by the new key. */
int vault_rotate_master(struct vault *v, const char *new_key_file);

#endif
