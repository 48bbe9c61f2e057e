#include "access/credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "fleet/inventory.h"
#include "fleet/manage.h"

#define MOD "credentials"
#define TOKEN_BYTES 32
#define CSRF_BYTES 16

static void hash_text(const char *text, uint8_t out[32])
{
	SHA256((const unsigned char *)text, strlen(text), out);
}

/* 256 random bits as hex, behind prefix; its hash into *hash. */
static int new_token(const char *prefix, char token[CREDENTIAL_TOKEN_TEXT_MAX], uint8_t hash[32])
{
	uint8_t raw[TOKEN_BYTES];
	size_t n = strlen(prefix);
	int rc = crypto_random(raw, sizeof(raw));

	if (rc == CC_OK) {
		memcpy(token, prefix, n);
		rc = hex_encode(raw, sizeof(raw), token + n, CREDENTIAL_TOKEN_TEXT_MAX - n);
	}
	crypto_wipe(raw, sizeof(raw));
	if (rc == CC_OK)
		hash_text(token, hash);
	return rc;
}

int credentials_session_new(struct vault *v, const struct user_info *u, int flags, int64_t ttl_s,
                            char token[CREDENTIAL_TOKEN_TEXT_MAX], char csrf[CREDENTIAL_CSRF_HEX + 1],
                            int64_t *expires_ms)
{
	struct store *s = vault_store(v);
	struct store_credential c;
	uint8_t raw[CSRF_BYTES];
	int64_t id;
	int rc;

	memset(&c, 0, sizeof(c));
	c.kind = CREDENTIAL_SESSION;
	c.user_id = u->id;
	c.org_id = u->org_id;
	c.flags = flags;
	snprintf(c.role, sizeof(c.role), "%s", u->role);
	snprintf(c.name, sizeof(c.name), "%s", u->login);
	snprintf(c.created_by, sizeof(c.created_by), "%s", u->login);
	c.created_ms = clock_now_ms();
	c.expires_ms = c.created_ms + ttl_s * 1000;
	rc = new_token("", token, c.token_hash);
	if (rc == CC_OK)
		rc = crypto_random(raw, sizeof(raw));
	if (rc == CC_OK)
		rc = hex_encode(raw, sizeof(raw), csrf, CREDENTIAL_CSRF_HEX + 1);
	if (rc == CC_OK) {
		hash_text(csrf, c.csrf_hash);
		rc = s->ops->credential_add(s, &c, &id);
	}
	crypto_wipe(raw, sizeof(raw));
	if (rc != CC_OK) {
		crypto_wipe(token, CREDENTIAL_TOKEN_TEXT_MAX);
		crypto_wipe(csrf, CREDENTIAL_CSRF_HEX + 1);
		return rc;
	}
	*expires_ms = c.expires_ms;
	return CC_OK;
}

static int token_role_allowed(const char *role)
{
	const struct role *r = role != NULL ? role_find(role) : NULL;

	return r != NULL && !r->manages_org && !r->granted_only;
}

int credentials_token_new(struct vault *v, const struct token_request *req, const char *created_by,
                          int64_t scope_org_id, char token[CREDENTIAL_TOKEN_TEXT_MAX], int64_t *id)
{
	struct store *s = vault_store(v);
	struct store_credential c;
	struct store_org org;
	int64_t now = clock_now_ms();
	int rc;

	if (req->name == NULL || !inventory_name_valid(req->name) || !token_role_allowed(req->role) ||
	    req->expires_ms <= now || req->expires_ms > now + (int64_t)CREDENTIAL_TOKEN_MAX_DAYS * 86400000 ||
	    req->rate_per_min < 1 || req->rate_per_min > CREDENTIAL_RATE_MAX)
		return CC_ERR_INVALID;
	if (req->org == NULL || !inventory_name_valid(req->org) || s->ops->org_find(s, req->org, &org) != CC_OK ||
	    (scope_org_id != 0 && !inventory_org_contains(s, scope_org_id, org.id)))
		return CC_ERR_NOTFOUND;
	memset(&c, 0, sizeof(c));
	c.kind = CREDENTIAL_API_TOKEN;
	c.org_id = org.id;
	snprintf(c.role, sizeof(c.role), "%s", req->role);
	snprintf(c.name, sizeof(c.name), "%s", req->name);
	snprintf(c.created_by, sizeof(c.created_by), "%s", created_by);
	c.created_ms = now;
	c.expires_ms = req->expires_ms;
	c.rate_per_min = req->rate_per_min;
	rc = new_token(CREDENTIAL_TOKEN_PREFIX, token, c.token_hash);
	if (rc == CC_OK)
		rc = s->ops->credential_add(s, &c, id);
	if (rc != CC_OK)
		crypto_wipe(token, CREDENTIAL_TOKEN_TEXT_MAX);
	return rc;
}

/* The plausible shapes: 64 hex digits, or the prefix and 64 hex digits. */
static int token_well_formed(const char *token)
{
	size_t n;

	if (token == NULL)
		return 0;
	if (strncmp(token, CREDENTIAL_TOKEN_PREFIX, strlen(CREDENTIAL_TOKEN_PREFIX)) == 0)
		token += strlen(CREDENTIAL_TOKEN_PREFIX);
	n = strspn(token, "0123456789abcdef");
	return n == 2 * TOKEN_BYTES && token[n] == '\0';
}

int credentials_resolve(struct vault *v, const char *token, int64_t now_ms, struct caller *out)
{
	struct store *s = vault_store(v);
	struct caller *c;
	uint8_t hash[32];
	int rc;

	if (!token_well_formed(token))
		return CC_ERR_AUTH;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CC_ERR_NOMEM;
	hash_text(token, hash);
	rc = s->ops->credential_find(s, hash, &c->cred);
	/* The lookup went by hash; the comparison that decides is constant-time. */
	if (rc == CC_OK && (!crypto_equal(hash, c->cred.token_hash, sizeof(hash)) || c->cred.revoked_ms != 0 ||
	                    c->cred.expires_ms <= now_ms))
		rc = CC_ERR_AUTH;
	if (rc == CC_OK && c->cred.kind == CREDENTIAL_SESSION) {
		rc = users_get(v, c->cred.user_id, &c->user);
		if (rc == CC_OK && c->user.deactivated)
			rc = CC_ERR_AUTH; /* deactivated: every session fails at once */
		snprintf(c->actor, sizeof(c->actor), "user:%s", c->user.login);
	} else if (rc == CC_OK && c->cred.kind == CREDENTIAL_API_TOKEN) {
		struct store_org org;

		rc = s->ops->org_get(s, c->cred.org_id, &org);
		if (rc == CC_OK && !manage_org_active(s, org.id))
			rc = CC_ERR_AUTH; /* its organisation (or one above) is deactivated */
		if (rc == CC_OK) {
			snprintf(c->user.login, sizeof(c->user.login), "%s", c->cred.name);
			snprintf(c->user.role, sizeof(c->user.role), "%s", c->cred.role);
			snprintf(c->user.org, sizeof(c->user.org), "%s", org.name);
			c->user.org_id = org.id;
			snprintf(c->actor, sizeof(c->actor), "token:%s", c->cred.name);
		}
	} else if (rc == CC_OK) {
		rc = CC_ERR_AUTH;
	}
	if (rc == CC_OK) {
		c->role = role_find(c->user.role);
		/* A token whose role became one tokens may not hold fails closed. */
		if (c->role == NULL || (c->cred.kind == CREDENTIAL_API_TOKEN && !token_role_allowed(c->user.role)))
			rc = CC_ERR_AUTH;
	}
	if (rc == CC_OK)
		*out = *c;
	else if (rc == CC_ERR_NOTFOUND)
		rc = CC_ERR_AUTH;
	crypto_wipe(c, sizeof(*c));
	free(c);
	return rc;
}

int credentials_csrf_ok(const struct caller *c, const char *csrf)
{
	uint8_t hash[32];

	if (c->cred.kind != CREDENTIAL_SESSION || csrf == NULL || strlen(csrf) != CREDENTIAL_CSRF_HEX)
		return 0;
	hash_text(csrf, hash);
	return crypto_equal(hash, c->cred.csrf_hash, sizeof(hash));
}

int credentials_end(struct vault *v, const char *token)
{
	struct store *s = vault_store(v);
	struct store_credential c;
	uint8_t hash[32];
	int rc;

	if (!token_well_formed(token))
		return CC_ERR_AUTH;
	hash_text(token, hash);
	rc = s->ops->credential_find(s, hash, &c);
	if (rc == CC_OK)
		rc = s->ops->credential_revoke(s, c.id, clock_now_ms());
	return rc == CC_ERR_STATE ? CC_OK : rc;
}

int credentials_token_revoke(struct vault *v, int64_t id, int64_t scope_org_id)
{
	struct store *s = vault_store(v);
	struct store_credential c;
	int rc = s->ops->credential_get(s, id, &c);

	if (rc == CC_OK && (c.kind != CREDENTIAL_API_TOKEN ||
	                    (scope_org_id != 0 && !inventory_org_contains(s, scope_org_id, c.org_id))))
		rc = CC_ERR_NOTFOUND;
	if (rc == CC_OK)
		rc = s->ops->credential_revoke(s, id, clock_now_ms());
	return rc;
}

struct token_lister {
	struct store *s;
	int64_t scope;
	int (*each)(void *, const struct store_credential *);
	void *ctx;
};

static int list_in_scope(void *arg, const struct store_credential *c)
{
	struct token_lister *l = arg;

	if (l->scope != 0 && !inventory_org_contains(l->s, l->scope, c->org_id))
		return 0;
	return l->each(l->ctx, c);
}

int credentials_token_list(struct vault *v, int64_t scope_org_id,
                           int (*each)(void *ctx, const struct store_credential *c), void *ctx)
{
	struct token_lister l = { vault_store(v), scope_org_id, each, ctx };

	return l.s->ops->credential_list(l.s, CREDENTIAL_API_TOKEN, list_in_scope, &l);
}

int credentials_end_sessions(struct vault *v, int64_t user_id, int64_t except_id)
{
	struct store *s = vault_store(v);

	return s->ops->credential_revoke_sessions(s, user_id, except_id, clock_now_ms());
}

int credentials_purge(struct vault *v, int64_t now_ms)
{
	struct store *s = vault_store(v);

	return s->ops->credential_purge(s, now_ms);
}
