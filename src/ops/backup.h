/*
 * backup.h - backing up a running installation and restoring it elsewhere
 * (docs/SERVICE.md "Back up and restore").
 *
 * A backup is a directory (0700) holding the store's files, each a
 * consistent copy taken while the daemon writes (store/backup.h: SQLite's
 * online backup API), then the keyring (read under its lock, after the
 * database, so every organisation in the copy has its key) and the public
 * files (CA and server certificates, CRL), and last MANIFEST.json: the
 * format, the version, and every file's name, size, mode and SHA-256. A
 * directory without a manifest is an unfinished backup. The master key is
 * never in it: the keyring is sealed by that key, which the operator keeps
 * elsewhere, so the backup alone decrypts nothing.
 *
 * Restoring checks every file against the manifest, writes a new data
 * directory, and opens it with the master key given (vault_open): a key
 * that does not open the keyring, a file that does not match, or an audit
 * chain that does not verify leaves nothing behind.
 */
#ifndef CC_OPS_BACKUP_H
#define CC_OPS_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct vault;

#define BACKUP_FORMAT "coffeecloud-backup/1"
#define BACKUP_MANIFEST "MANIFEST.json"

/* Writes a backup of v's data directory into dest (which must not exist).
 * *summary (the caller's to json_decref): the manifest. */
int backup_create(struct vault *v, const char *dest, json_t **summary);

struct backup_restore_report {
	int64_t files, bytes;
	int64_t audit_records; /* verified in the restored copy */
	char detail[200];      /* why it failed, for people (no secrets) */
};

/* Restores the backup at from into a new data directory dir, opened with
 * master_key_file (NULL: the usual search, vault.h). On failure nothing is
 * left at dir. CC_ERR_AUTH: the key does not open the keyring;
 * CC_ERR_CORRUPT: a file or the audit chain does not verify. */
int backup_restore(const char *from, const char *dir, const char *master_key_file, const char *actor,
                   struct backup_restore_report *out);

#endif
