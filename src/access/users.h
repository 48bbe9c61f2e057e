/*
 * users.h - people's accounts: login, role, organisation, password, and
 * personal fields sealed under their organisation's data key.
 *
 * Logins follow the slug rules of inventory.h. Display name and e-mail are
 * personal data: they exist in clear only in memory, never in the store.
 *
 * A login is a handle, not a person's name: the audit log names actors by
 * it ("user:LOGIN") and cannot be rewritten, so once the account is deleted
 * the login is all that stays, a pseudonym, and it is never given to another
 * account (docs/ARCHITECTURE.md, "Deleting an account").
 */
#ifndef CC_ACCESS_USERS_H
#define CC_ACCESS_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "vault/vault.h"

struct user_profile {
	char display_name[CC_PERSONAL_FIELD_MAX + 1];
	char email[CC_PERSONAL_FIELD_MAX + 1];
};

struct user_info {
	int64_t id;
	char login[CC_NAME_MAX + 1];
	char role[24];
	char org[CC_NAME_MAX + 1];
	int64_t org_id;
	int64_t created_ms;
	int totp_enabled; /* sign-in needs a one-time code too */
	int64_t deletion_requested_ms; /* when the person asked for deletion; 0: not asked */
	/* The account or its organisation (or one above) is deactivated: it
	 * signs in no more, its sessions and its organisations' tokens fail. */
	int deactivated;
	struct user_profile profile;
};

/* Adds a user of org with role; password is hashed with Argon2id.
 * CC_ERR_EXISTS for a login in use, or one a deleted account had. */
int users_add(struct vault *v, const char *org, const char *login, const char *role,
              const struct user_profile *profile, const char *password, struct user_info *out);
/* The same with the hash made already (users_password_hash, e.g. on the
 * API's password worker, so that no Argon2id runs on the event loop). */
int users_add_hashed(struct vault *v, const char *org, const char *login, const char *role,
                     const struct user_profile *profile, const char *password_hash, struct user_info *out);

/* Lists users (of org, or all when org is NULL), personal fields opened. */
int users_list(struct vault *v, const char *org,
               int (*each)(void *ctx, const struct user_info *u), void *ctx);

/* Finds an account by login, personal fields opened, and copies its
 * password hash (for verification elsewhere, e.g. off the event loop).
 * CC_ERR_NOTFOUND for an unknown login. */
int users_find(struct vault *v, const char *login, struct user_info *out, char *password_hash, size_t cap);

/* An account by id, personal fields opened. CC_ERR_NOTFOUND if gone. */
int users_get(struct vault *v, int64_t id, struct user_info *out);

/*
 * Deleting an account. The person asks (users_deletion_request: a time on
 * the account, shown to admins); an admin confirms (users_delete), with or
 * without a request. Deletion ends every session, takes the grants made to
 * the account, destroys the sealed personal fields with the row, and
 * retires the login for good. API tokens the person issued stay: they
 * belong to their organisation's partner systems; their created_by keeps
 * the login, now a pseudonym.
 */
/* Records the request; idempotent: the first request's time stays and lands
 * in *at_ms. CC_ERR_NOTFOUND for an unknown (or tampered) account. */
int users_deletion_request(struct vault *v, int64_t user_id, int64_t *at_ms);

struct user_deleted {
	char login[CC_NAME_MAX + 1];
	char role[24];
	char org[CC_NAME_MAX + 1];
	int64_t requested_ms; /* when the person asked for it; 0: they did not */
	int shredded;         /* 1: no file of the store holds the row's bytes any more */
};

/* Deletes the account login, in one transaction. scope_org_id bounds it to
 * an organisation's subtree (0: none, the CLI); self_id is the deleting
 * account (0: none). CC_ERR_NOTFOUND for an unknown account or one outside
 * the scope, CC_ERR_PERM for one's own, CC_ERR_STATE for the last admin of
 * the root organisation (the platform must keep one). */
int users_delete(struct vault *v, const char *login, int64_t scope_org_id, int64_t self_id,
                 struct user_deleted *out);

/*
 * TOTP (RFC 6238, crypto/totp.h) as a second factor. The secret is sealed
 * under the account's organisation key, bound to the account. Enrolment
 * makes a new secret (replacing any other) that counts only once confirmed
 * with a first code; every accepted code moves the account's last step
 * forward, so a code is good once.
 */
/* A new secret for the account: its otpauth:// URI into uri (TOTP_URI_MAX). */
int users_totp_enrol(struct vault *v, int64_t user_id, const char *issuer, char *uri, size_t cap);
/* Turns TOTP on with the first code of the enrolled secret: CC_ERR_AUTH for
 * a wrong code, CC_ERR_STATE when nothing is enrolled. */
int users_totp_confirm(struct vault *v, int64_t user_id, const char *code);
/* Checks a sign-in code: CC_OK, or CC_ERR_AUTH (wrong, replayed, or TOTP
 * not turned on). */
int users_totp_check(struct vault *v, int64_t user_id, const char *code);
/* Turns TOTP off and forgets the secret. */
int users_totp_disable(struct vault *v, int64_t user_id);

/*
 * Setting a password: every path (init's admin, user add, change, reset)
 * goes through password_quality (crypto/password.h), whose reason for a
 * refusal lands in why (PASSWORD_WHY_MAX). users_password_hash checks and
 * hashes (thread-safe, no store: for the password worker); users_password_store
 * writes a hash made so; users_password_set does both (the CLI).
 */
int users_password_hash(const char *login, const char *password, char *hash, size_t cap, char *why, size_t whycap);
int users_password_store(struct vault *v, int64_t user_id, const char *hash);
int users_password_set(struct vault *v, const char *login, const char *password, char *why, size_t whycap);

/* Verifies a password against a hash from users_find; with hash NULL (an
 * unknown login) it spends the same time and fails. Thread-safe: no store. */
int users_verify_password(const char *password, const char *hash);

/* Checks a login's password: 0, or CC_ERR_AUTH for an unknown login or a
 * wrong password alike (and in about the same time). */
int users_authenticate(struct vault *v, const char *login, const char *password, struct user_info *out);

#endif
