/*
 * credentials.h - the bearer credentials of the people channel: sessions of
 * signed-in people and API tokens of partner systems.
 *
 * A token is 256 random bits, shown once as hex (API tokens with the prefix
 * "cct_", so secret scanners can spot a leaked one) and stored only as its
 * SHA-256, which is compared in constant time. Expired, revoked and unknown
 * tokens are refused alike. A session acts as its account, with the
 * account's role and organisation as they are now; a deleted account's
 * sessions go with it. An API token acts for an organisation in a fixed role
 * - never admin (no token can manage accounts) and never subcontractor
 * (grants name people) - until its expiry, within a rate limit the API
 * enforces. Both live in the store, so they outlive a restart and serve
 * every node of a scale-out.
 */
#ifndef CC_ACCESS_CREDENTIALS_H
#define CC_ACCESS_CREDENTIALS_H

#include <stdint.h>

#include "access/roles.h"
#include "access/users.h"
#include "store/store.h"
#include "vault/vault.h"

#define CREDENTIAL_TOKEN_PREFIX "cct_"
#define CREDENTIAL_TOKEN_TEXT_MAX (4 + 64 + 1) /* prefix + hex + NUL */
#define CREDENTIAL_CSRF_HEX 32
#define CREDENTIAL_TOKEN_MAX_DAYS 366
#define CREDENTIAL_RATE_MAX 60000 /* requests per minute */

/* A resolved credential: who is calling. */
struct caller {
	struct store_credential cred;
	struct user_info user; /* sessions: the account; tokens: name, org, role */
	const struct role *role;
	char actor[CC_NAME_MAX + 8]; /* for the audit log: "user:LOGIN" or "token:NAME" */
};

/* A session for a signed-in account: *token (hex) and *csrf are the
 * caller's to hand over, once. flags: CREDENTIAL_ENROL_ONLY or 0. */
int credentials_session_new(struct vault *v, const struct user_info *u, int flags, int64_t ttl_s,
                            char token[CREDENTIAL_TOKEN_TEXT_MAX], char csrf[CREDENTIAL_CSRF_HEX + 1],
                            int64_t *expires_ms);

struct token_request {
	const char *name;     /* a label, slug rules */
	const char *org;      /* the organisation it acts for */
	const char *role;     /* neither admin nor subcontractor */
	int64_t expires_ms;   /* in the future, within CREDENTIAL_TOKEN_MAX_DAYS */
	int64_t rate_per_min; /* 1..CREDENTIAL_RATE_MAX */
};

/* An API token. scope_org_id bounds the organisation (0: none, the CLI).
 * CC_ERR_NOTFOUND: no such organisation in scope; CC_ERR_INVALID: a bad
 * name, role, expiry or rate. */
int credentials_token_new(struct vault *v, const struct token_request *req, const char *created_by,
                          int64_t scope_org_id, char token[CREDENTIAL_TOKEN_TEXT_MAX], int64_t *id);

/* Who presents this token, now. CC_ERR_AUTH for anything not in force. */
int credentials_resolve(struct vault *v, const char *token, int64_t now_ms, struct caller *out);

/* 1 if csrf is the session's CSRF token. */
int credentials_csrf_ok(const struct caller *c, const char *csrf);

/* Ends the credential presented as token (sign-out). */
int credentials_end(struct vault *v, const char *token);

/* Revokes an API token by id; CC_ERR_NOTFOUND also outside the scope,
 * CC_ERR_STATE if revoked already. */
int credentials_token_revoke(struct vault *v, int64_t id, int64_t scope_org_id);

/* API tokens of organisations inside the scope (0: all), oldest first. */
int credentials_token_list(struct vault *v, int64_t scope_org_id,
                           int (*each)(void *ctx, const struct store_credential *c), void *ctx);

/* Ends every session of an account but except_id (a credential id; 0 ends
 * them all): after a password change, a reset or a new second factor. */
int credentials_end_sessions(struct vault *v, int64_t user_id, int64_t except_id);

/* Forgets expired and ended sessions. */
int credentials_purge(struct vault *v, int64_t now_ms);

#endif
