#include "access/users.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access/roles.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/password.h"
#include "crypto/totp.h"
#include "fleet/inventory.h"
#include "fleet/manage.h"

#define MOD "users"

static void profile_ad(struct seal_ad *ad, int64_t org_id, const char *login)
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = SEAL_USER_PROFILE;
	ad->org_id = org_id;
	ad->name = login;
}

static int seal_profile(struct vault *v, int64_t org_id, const char *login,
                        const struct user_profile *p, struct store_user *u)
{
	struct seal_ad ad;
	json_t *doc = json_pack("{s:s, s:s}", "display_name", p->display_name, "email", p->email);
	uint8_t *blob = NULL;
	size_t bloblen = 0;
	char *text;
	int rc;

	if (doc == NULL)
		return CC_ERR_NOMEM;
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (text == NULL)
		return CC_ERR_NOMEM;
	profile_ad(&ad, org_id, login);
	rc = vault_seal(v, &ad, text, strlen(text), &blob, &bloblen);
	crypto_wipe(text, strlen(text));
	free(text);
	if (rc != CC_OK)
		return rc;
	if (bloblen > sizeof(u->profile)) {
		rc = CC_ERR_LIMIT;
	} else {
		memcpy(u->profile, blob, bloblen);
		u->profile_len = bloblen;
	}
	free(blob);
	return rc;
}

static void copy_field(char *out, size_t cap, json_t *doc, const char *key)
{
	const char *s = json_string_value(json_object_get(doc, key));
	size_t n = s ? strlen(s) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(out, s, n);
	out[n] = '\0';
}

static int open_profile(struct vault *v, const struct store_user *u, struct user_profile *p)
{
	struct seal_ad ad;
	uint8_t *text = NULL;
	size_t len = 0;
	json_t *doc;
	int rc;

	profile_ad(&ad, u->org_id, u->login);
	rc = vault_unseal(v, &ad, u->profile, u->profile_len, &text, &len);
	if (rc != CC_OK)
		return rc;
	doc = json_loadb((const char *)text, len, 0, NULL);
	crypto_wipe(text, len);
	free(text);
	if (doc == NULL)
		return CC_ERR_CORRUPT;
	copy_field(p->display_name, sizeof(p->display_name), doc, "display_name");
	copy_field(p->email, sizeof(p->email), doc, "email");
	json_decref(doc);
	return CC_OK;
}

int users_add(struct vault *v, const char *org, const char *login, const char *role,
              const struct user_profile *profile, const char *password, struct user_info *out)
{
	char hash[CC_PASSWORD_HASH_MAX + 1], why[PASSWORD_WHY_MAX];
	int rc = users_password_hash(login, password, hash, sizeof(hash), why, sizeof(why));

	if (rc == CC_ERR_INVALID)
		log_error(MOD, "password refused: %s", why);
	if (rc == CC_OK)
		rc = users_add_hashed(v, org, login, role, profile, hash, out);
	crypto_wipe(hash, sizeof(hash));
	return rc;
}

int users_add_hashed(struct vault *v, const char *org, const char *login, const char *role,
                     const struct user_profile *profile, const char *password_hash, struct user_info *out)
{
	struct store *s = vault_store(v);
	struct store_org o;
	struct store_user *u;
	int rc;

	if (!inventory_name_valid(login)) {
		log_error(MOD, "invalid login: use 1-%d letters, digits, '.', '_' or '-', and nothing shaped "
		          "like a card or phone number", CC_NAME_MAX);
		return CC_ERR_INVALID;
	}
	if (role_find(role) == NULL) {
		/* Echoed only when it has a role's shape: refused input is not logged. */
		if (role != NULL && strlen(role) <= 24 && strspn(role, "abcdefghijklmnopqrstuvwxyz_") == strlen(role))
			log_error(MOD, "unknown role '%s'", role);
		else
			log_error(MOD, "unknown role");
		return CC_ERR_INVALID;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return CC_ERR_NOMEM;
	rc = inventory_org_find(v, org, &o);
	if (rc == CC_OK && strlen(password_hash) >= sizeof(u->password_hash))
		rc = CC_ERR_INVALID;
	if (rc == CC_OK) {
		memcpy(u->password_hash, password_hash, strlen(password_hash) + 1);
		rc = seal_profile(v, o.id, login, profile, u);
	}
	if (rc == CC_OK) {
		u->org_id = o.id;
		memcpy(u->login, login, strlen(login) + 1);
		memcpy(u->role, role, strlen(role) + 1);
		u->created_ms = clock_now_ms();
		rc = s->ops->user_add(s, u, &u->id);
		if (rc == CC_ERR_EXISTS)
			log_error(MOD, "a user with login '%s' exists already", login);
		if (rc == CC_ERR_STATE) {
			log_error(MOD, "login '%s' belonged to a deleted account: the audit log names it, so it is "
			          "never given again", login);
			rc = CC_ERR_EXISTS;
		}
	}
	if (rc == CC_OK && out != NULL) {
		memset(out, 0, sizeof(*out));
		out->id = u->id;
		memcpy(out->login, u->login, sizeof(out->login));
		memcpy(out->role, u->role, sizeof(out->role));
		memcpy(out->org, o.name, sizeof(out->org));
		out->org_id = o.id;
		out->created_ms = u->created_ms;
		out->profile = *profile;
	}
	crypto_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

struct list_ctx {
	struct vault *v;
	int (*each)(void *, const struct user_info *);
	void *ctx;
	struct user_info info;
};

static int fill_info(struct vault *v, const struct store_user *u, struct user_info *info)
{
	struct store *s = vault_store(v);
	struct store_org o;
	int rc;

	memset(info, 0, sizeof(*info));
	info->id = u->id;
	memcpy(info->login, u->login, sizeof(info->login));
	memcpy(info->role, u->role, sizeof(info->role));
	info->org_id = u->org_id;
	info->created_ms = u->created_ms;
	info->totp_enabled = u->totp_enabled;
	info->deletion_requested_ms = u->deletion_requested_ms;
	info->deactivated = u->deactivated_ms != 0 || !manage_org_active(s, u->org_id);
	rc = s->ops->org_get(s, u->org_id, &o);
	if (rc == CC_OK)
		memcpy(info->org, o.name, sizeof(info->org));
	if (rc == CC_OK)
		rc = open_profile(v, u, &info->profile);
	return rc;
}

static int list_one(void *arg, const struct store_user *u)
{
	struct list_ctx *c = arg;
	int rc = fill_info(c->v, u, &c->info);

	if (rc == CC_OK)
		rc = c->each(c->ctx, &c->info);
	crypto_wipe(&c->info.profile, sizeof(c->info.profile));
	return rc;
}

int users_list(struct vault *v, const char *org,
               int (*each)(void *ctx, const struct user_info *u), void *ctx)
{
	struct store *s = vault_store(v);
	struct store_org o = { 0 };
	struct list_ctx *c;
	int rc;

	if (org != NULL) {
		rc = inventory_org_find(v, org, &o);
		if (rc != CC_OK)
			return rc;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CC_ERR_NOMEM;
	c->v = v;
	c->each = each;
	c->ctx = ctx;
	rc = s->ops->user_list(s, o.id, list_one, c);
	free(c);
	return rc;
}

int users_find(struct vault *v, const char *login, struct user_info *out, char *password_hash, size_t cap)
{
	struct store *s = vault_store(v);
	struct store_user *u = calloc(1, sizeof(*u));
	int rc;

	if (u == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->user_find(s, login, u);
	if (rc == CC_OK && strlen(u->password_hash) >= cap)
		rc = CC_ERR_LIMIT;
	if (rc == CC_OK) {
		memcpy(password_hash, u->password_hash, strlen(u->password_hash) + 1);
		rc = fill_info(v, u, out);
	}
	crypto_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

/* Verified when the login is unknown, so that the answer takes as long. */
static const char dummy_hash[] =
	"$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$"
	"Ql9VqmfMTS0mKv5DtNYhhK1wXl/Cmzh9CeL8zQn1kRk";

int users_authenticate(struct vault *v, const char *login, const char *password, struct user_info *out)
{
	struct store *s = vault_store(v);
	struct store_user *u = calloc(1, sizeof(*u));
	int rc;

	if (u == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->user_find(s, login, u);
	if (rc == CC_ERR_NOTFOUND) {
		(void)password_verify(password, dummy_hash);
		rc = CC_ERR_AUTH;
	} else if (rc == CC_OK) {
		rc = password_verify(password, u->password_hash) == CC_OK ? CC_OK : CC_ERR_AUTH;
	}
	if (rc == CC_OK && out != NULL)
		rc = fill_info(v, u, out);
	crypto_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

int users_verify_password(const char *password, const char *hash)
{
	if (hash == NULL) {
		(void)password_verify(password, dummy_hash);
		return CC_ERR_AUTH;
	}
	return password_verify(password, hash) == CC_OK ? CC_OK : CC_ERR_AUTH;
}

int users_password_hash(const char *login, const char *password, char *hash, size_t cap, char *why, size_t whycap)
{
	int rc = password_quality(password, login, why, whycap);

	if (rc == CC_OK)
		rc = password_hash(password, hash, cap);
	return rc;
}

int users_password_store(struct vault *v, int64_t user_id, const char *hash)
{
	struct store *s = vault_store(v);

	return s->ops->user_password_set(s, user_id, hash);
}

int users_password_set(struct vault *v, const char *login, const char *password, char *why, size_t whycap)
{
	struct user_info *u = malloc(sizeof(*u));
	char hash[CC_PASSWORD_HASH_MAX + 1];
	int rc = u != NULL ? users_find(v, login, u, hash, sizeof(hash)) : CC_ERR_NOMEM;

	if (rc == CC_OK)
		rc = users_password_hash(login, password, hash, sizeof(hash), why, whycap);
	if (rc == CC_OK)
		rc = users_password_store(v, u->id, hash);
	crypto_wipe(hash, sizeof(hash));
	if (u != NULL)
		crypto_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

int users_get(struct vault *v, int64_t id, struct user_info *out)
{
	struct store *s = vault_store(v);
	struct store_user *u = calloc(1, sizeof(*u));
	int rc;

	if (u == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->user_get(s, id, u);
	if (rc == CC_OK)
		rc = fill_info(v, u, out);
	crypto_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

/* ---- deletion ---- */

int users_deletion_request(struct vault *v, int64_t user_id, int64_t *at_ms)
{
	struct store *s = vault_store(v);

	return s->ops->user_deletion_request(s, user_id, clock_now_ms(), at_ms);
}

struct admins_left {
	int64_t except_id;
	int count;
};

static int count_admin(void *arg, const struct store_user *u)
{
	struct admins_left *a = arg;

	if (u->id != a->except_id && strcmp(u->role, "admin") == 0)
		a->count++;
	return 0;
}

/* The checks and the deletion, inside the caller's transaction. */
static int delete_in_tx(struct store *s, const char *login, int64_t scope_org_id, int64_t self_id,
                        struct store_user *u, struct store_org *o)
{
	struct admins_left left;
	int rc = s->ops->user_find(s, login, u);

	if (rc == CC_OK && scope_org_id != 0 && !inventory_org_contains(s, scope_org_id, u->org_id))
		rc = CC_ERR_NOTFOUND;
	if (rc == CC_OK && self_id != 0 && u->id == self_id)
		rc = CC_ERR_PERM;
	if (rc == CC_OK)
		rc = s->ops->org_get(s, u->org_id, o);
	/* Counted under the write lock: two admins deleting each other at
	 * once cannot both pass. Only rows that verify count. */
	if (rc == CC_OK && o->parent_id == 0 && strcmp(u->role, "admin") == 0) {
		left.except_id = u->id;
		left.count = 0;
		rc = s->ops->user_list(s, o->id, count_admin, &left);
		if (rc == CC_OK && left.count == 0)
			rc = CC_ERR_STATE;
	}
	if (rc == CC_OK)
		rc = s->ops->user_delete(s, u->id);
	return rc;
}

int users_delete(struct vault *v, const char *login, int64_t scope_org_id, int64_t self_id,
                 struct user_deleted *out)
{
	struct store *s = vault_store(v);
	struct store_user *u;
	struct store_org o;
	int rc;

	if (login == NULL || !inventory_name_valid(login))
		return CC_ERR_NOTFOUND;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->begin(s);
	if (rc == CC_OK) {
		rc = delete_in_tx(s, login, scope_org_id, self_id, u, &o);
		if (rc == CC_OK)
			rc = s->ops->commit(s);
		if (rc != CC_OK)
			s->ops->rollback(s);
	}
	if (rc == CC_OK) {
		memset(out, 0, sizeof(*out));
		memcpy(out->login, u->login, sizeof(out->login));
		memcpy(out->role, u->role, sizeof(out->role));
		memcpy(out->org, o.name, sizeof(out->org));
		out->requested_ms = u->deletion_requested_ms;
		/* The row's old pages may still sit in the WAL: empty it now. */
		out->shredded = s->ops->shred(s) == CC_OK;
		if (!out->shredded)
			log_warn(MOD, "account %s deleted; its old bytes leave the write-ahead log at the next "
			         "checkpoint (a reader kept this one from finishing)", out->login);
	}
	crypto_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

/* ---- TOTP ---- */

static void totp_ad(struct seal_ad *ad, const struct store_user *u)
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = SEAL_TOTP;
	ad->org_id = u->org_id;
	ad->subject_id = u->id;
	ad->name = u->login;
}

int users_totp_enrol(struct vault *v, int64_t user_id, const char *issuer, char *uri, size_t cap)
{
	struct store *s = vault_store(v);
	struct store_user *u = calloc(1, sizeof(*u));
	uint8_t secret[TOTP_SECRET_BYTES], *blob = NULL;
	size_t bloblen = 0;
	struct seal_ad ad;
	int rc;

	if (u == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->user_get(s, user_id, u);
	if (rc == CC_OK)
		rc = crypto_random(secret, sizeof(secret));
	if (rc == CC_OK) {
		totp_ad(&ad, u);
		rc = vault_seal(v, &ad, secret, sizeof(secret), &blob, &bloblen);
	}
	if (rc == CC_OK && bloblen > sizeof(u->totp))
		rc = CC_ERR_LIMIT;
	if (rc == CC_OK)
		rc = totp_uri(issuer, u->login, secret, sizeof(secret), uri, cap);
	if (rc == CC_OK)
		rc = s->ops->user_totp_set(s, user_id, blob, bloblen, 0);
	if (rc != CC_OK)
		crypto_wipe(uri, cap);
	crypto_wipe(secret, sizeof(secret));
	crypto_wipe(u, sizeof(*u));
	free(u);
	free(blob);
	return rc;
}

/* Verifies a code against the account's secret and spends its step. */
static int totp_spend(struct vault *v, const struct store_user *u, const char *code)
{
	struct store *s = vault_store(v);
	struct seal_ad ad;
	uint8_t *secret = NULL;
	size_t len = 0;
	int64_t step = 0;
	int rc;

	if (u->totp_len == 0)
		return CC_ERR_STATE;
	totp_ad(&ad, u);
	rc = vault_unseal(v, &ad, u->totp, u->totp_len, &secret, &len);
	if (rc != CC_OK)
		return rc;
	rc = totp_verify(secret, len, code, clock_now_ms(), u->totp_last_step, &step) == CC_OK ? CC_OK : CC_ERR_AUTH;
	crypto_wipe(secret, len);
	free(secret);
	/* Another sign-in may have spent the same step a moment ago: the store decides. */
	if (rc == CC_OK)
		rc = s->ops->user_totp_step(s, u->id, step) == CC_OK ? CC_OK : CC_ERR_AUTH;
	return rc;
}

/* Spends a code of the account's secret: confirming turns an enrolled
 * secret on (CC_ERR_STATE when there is none to confirm); otherwise the
 * secret must be on already. */
static int totp_use(struct vault *v, int64_t user_id, const char *code, int confirming)
{
	struct store *s = vault_store(v);
	struct store_user *u = calloc(1, sizeof(*u));
	int rc;

	if (u == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->user_get(s, user_id, u);
	if (rc == CC_OK && confirming && (u->totp_len == 0 || u->totp_enabled))
		rc = CC_ERR_STATE;
	if (rc == CC_OK && !confirming && !u->totp_enabled)
		rc = CC_ERR_AUTH;
	if (rc == CC_OK)
		rc = totp_spend(v, u, code);
	if (rc == CC_OK && confirming)
		rc = s->ops->user_totp_set(s, user_id, u->totp, u->totp_len, 1);
	crypto_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

int users_totp_confirm(struct vault *v, int64_t user_id, const char *code)
{
	return totp_use(v, user_id, code, 1);
}

int users_totp_check(struct vault *v, int64_t user_id, const char *code)
{
	return totp_use(v, user_id, code, 0) == CC_OK ? CC_OK : CC_ERR_AUTH;
}

int users_totp_disable(struct vault *v, int64_t user_id)
{
	struct store *s = vault_store(v);

	return s->ops->user_totp_set(s, user_id, NULL, 0, 0);
}
