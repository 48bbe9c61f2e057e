/*
 * rowmac.c - integrity MACs of the rows that decide access (rowmac.h).
 *
 *   mac = HMAC-SHA-256(K, "CCROW1" | u8(table) | be64(id) | columns...)
 *   K   = HMAC-SHA-256(keyring "row-key", "coffeecloud-row-mac-v1")
 *
 * where integers are be64 and texts and blobs are be16(length) | bytes, in
 * the order of the mac_* functions below. The id binds the MAC to its row:
 * a MAC copied from another row does not verify. The key lives in the
 * keyring (sealed by the master key), never in the database.
 *
 * Writes through the wrapper keep MACs current: an insert seals the new row,
 * an update that changes a MAC'd column (revocations, TOTP) checks the row
 * first and seals it again after. A revocation applies even to a row that
 * does not verify (it only takes access away), but such a row is not sealed
 * again: it stays refused.
 *
 * Deleting an account (user_delete) passes through unwrapped: a row that is
 * gone needs no MAC, and neither do the sessions and grants its foreign
 * keys take along; what stays (every other row) is untouched. A deletion
 * request (user_deletion_request) changes a column outside the MAC, so
 * nothing is sealed again, but like every change of an account it is
 * refused for a row that does not verify.
 */
#include "vault/rowmac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "access/audit.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"

#define MOD "integrity"
#define ROW_MAGIC "CCROW1"
#define KEY_LABEL "coffeecloud-row-mac-v1"
#define CHECK_LABEL "coffeecloud-row-mac-check-v1"
#define ROW_KEY_LEN 32
#define ROW_INPUT_MAX 1024
#define REPORTED_MAX 256
#define PENDING_MAX 32

struct row_ref {
	enum store_table table;
	int64_t id;
};

struct rstore {
	struct store base; /* base.ops == &ops */
	struct store_ops ops;
	struct store *inner;
	struct vault *v;
	uint8_t key[ROW_KEY_LEN];
	int have_key;
	/* HMAC-SHA-256 keyed with key once: each MAC re-initialises it with
	 * the same key (EVP_MAC_init with no key), which spares the algorithm
	 * fetch and the key schedule one-shot HMAC() pays per row (a fleet
	 * list checks 10,000). Like the SQLite connection under it, a vault's
	 * store is used by one thread at a time (the daemon's writer opens
	 * its own vault). */
	EVP_MAC_CTX *keyed;
	/* Rows already reported by this process (audited once, not per read). */
	struct row_ref reported[REPORTED_MAX];
	size_t nreported;
	/* Reports waiting for the end of the caller's transaction. */
	struct row_ref pending[PENDING_MAX];
	size_t npending;
	int flushing;
};

#define RS(s) ((struct rstore *)(s))
#define IN(r) ((r)->inner)

static const char *table_name(enum store_table t)
{
	switch (t) {
	case STORE_TABLE_ORGS: return "orgs";
	case STORE_TABLE_MACHINES: return "machines";
	case STORE_TABLE_USERS: return "users";
	case STORE_TABLE_GRANTS: return "grants";
	case STORE_TABLE_CREDENTIALS: return "credentials";
	}
	return "?";
}

/* ---- the MAC input ---- */

struct input {
	uint8_t buf[ROW_INPUT_MAX];
	size_t n;
	int overflow;
};

static void put_u64(struct input *in, int64_t x)
{
	uint64_t u = (uint64_t)x;
	int i;

	if (in->n + 8 > sizeof(in->buf)) {
		in->overflow = 1;
		return;
	}
	for (i = 7; i >= 0; i--) {
		in->buf[in->n + (size_t)i] = (uint8_t)(u & 0xff);
		u >>= 8;
	}
	in->n += 8;
}

static void put_bytes(struct input *in, const void *p, size_t len)
{
	if (len > 0xffff || in->n + 2 + len > sizeof(in->buf)) {
		in->overflow = 1;
		return;
	}
	in->buf[in->n++] = (uint8_t)(len >> 8);
	in->buf[in->n++] = (uint8_t)(len & 0xff);
	if (len > 0)
		memcpy(in->buf + in->n, p, len);
	in->n += len;
}

static void put_text(struct input *in, const char *s) { put_bytes(in, s, strlen(s)); }

static void start(struct input *in, enum store_table t, int64_t id)
{
	memset(in, 0, sizeof(*in));
	memcpy(in->buf, ROW_MAGIC, strlen(ROW_MAGIC));
	in->n = strlen(ROW_MAGIC);
	in->buf[in->n++] = (uint8_t)t;
	put_u64(in, id);
}

static void input_org(struct input *in, const struct store_org *o)
{
	start(in, STORE_TABLE_ORGS, o->id);
	put_u64(in, o->parent_id);
	put_u64(in, (int64_t)o->kind);
	put_text(in, o->name);
	/* Columns added later go in only when set, so that the MACs of rows
	 * sealed before them still verify. */
	if (o->deactivated_ms != 0)
		put_u64(in, o->deactivated_ms);
}

static void input_machine(struct input *in, const struct store_machine *m)
{
	start(in, STORE_TABLE_MACHINES, m->id);
	put_text(in, m->serial);
	put_u64(in, m->customer_id);
	put_u64(in, m->site_id);
	put_text(in, m->cert_fingerprint);
	put_u64(in, m->revoked_ms);
	/* Only a renewed machine has a previous certificate: rows sealed before
	 * renewals existed keep their MAC input, and so their MAC. */
	if (m->prev_cert_fingerprint[0] != '\0') {
		put_text(in, m->prev_cert_fingerprint);
		put_u64(in, m->prev_cert_until_ms);
	}
	/* Only a decommissioned or moved machine has these set (the same reason). */
	if (m->decommissioned_ms != 0 || m->moved) {
		put_u64(in, m->decommissioned_ms);
		put_u64(in, m->moved);
	}
}

static void input_user(struct input *in, const struct store_user *u)
{
	start(in, STORE_TABLE_USERS, u->id);
	put_u64(in, u->org_id);
	put_text(in, u->login);
	put_text(in, u->role);
	put_text(in, u->password_hash);
	put_u64(in, u->totp_enabled);
	put_bytes(in, u->totp, u->totp_len);
	if (u->deactivated_ms != 0)
		put_u64(in, u->deactivated_ms);
}

static void input_grant(struct input *in, const struct store_grant *g)
{
	start(in, STORE_TABLE_GRANTS, g->id);
	put_u64(in, g->user_id);
	put_u64(in, g->machine_id);
	put_u64(in, g->site_id);
	put_u64(in, g->customer_id);
	put_text(in, g->purpose);
	put_text(in, g->created_by);
	put_u64(in, g->expires_ms);
	put_u64(in, g->revoked_ms);
}

static void input_credential(struct input *in, const struct store_credential *c)
{
	start(in, STORE_TABLE_CREDENTIALS, c->id);
	put_bytes(in, c->token_hash, sizeof(c->token_hash));
	put_u64(in, c->kind);
	put_u64(in, c->user_id);
	put_u64(in, c->org_id);
	put_text(in, c->role);
	put_text(in, c->name);
	put_bytes(in, c->csrf_hash, sizeof(c->csrf_hash));
	put_u64(in, c->flags);
	put_u64(in, c->expires_ms);
	put_u64(in, c->revoked_ms);
	put_u64(in, c->rate_per_min);
}

static int compute(const struct rstore *r, struct input *in, uint8_t out[STORE_MAC_LEN])
{
	unsigned int n = 0;
	int rc = CC_OK;

	EVP_MAC_CTX *c = r->keyed;
	size_t len = 0;

	if (!r->have_key || in->overflow)
		rc = CC_ERR_AUTH;
	else if (c != NULL)
		rc = EVP_MAC_init(c, NULL, 0, NULL) == 1 && EVP_MAC_update(c, in->buf, in->n) == 1 &&
		     EVP_MAC_final(c, out, &len, STORE_MAC_LEN) == 1 && len == STORE_MAC_LEN ? CC_OK : CC_ERR_CRYPTO;
	else if (HMAC(EVP_sha256(), r->key, sizeof(r->key), in->buf, in->n, out, &n) == NULL || n != STORE_MAC_LEN)
		rc = CC_ERR_CRYPTO;
	crypto_wipe(in, sizeof(*in));
	return rc;
}

/* ---- reporting a row that does not verify ---- */

static void flush(struct rstore *r)
{
	char actor[64];
	struct audit_event e;
	struct row_ref ref;

	if (r->flushing || r->npending == 0 || IN(r)->ops->in_transaction(IN(r)))
		return;
	r->flushing = 1;
	while (r->npending > 0) {
		ref = r->pending[0];
		memmove(r->pending, r->pending + 1, (--r->npending) * sizeof(r->pending[0]));
		snprintf(actor, sizeof(actor), "row:%s:%lld", table_name(ref.table), (long long)ref.id);
		memset(&e, 0, sizeof(e));
		e.actor = actor;
		e.action = "integrity.refused";
		e.data_class = "admin";
		e.purpose = "administration";
		e.outcome = "denied";
		if (audit_append(r->v, &e) != CC_OK)
			log_error(MOD, "%s %lld: the refusal could not be audited", table_name(ref.table),
			          (long long)ref.id);
	}
	r->flushing = 0;
}

/* A row failed its MAC: log it and audit it, once per row and process.
 * The audit record waits for the caller's transaction to end, so that a
 * rollback of the caller's work does not take it along. */
static void tamper(struct rstore *r, enum store_table t, int64_t id)
{
	size_t i;

	for (i = 0; i < r->nreported && i < REPORTED_MAX; i++)
		if (r->reported[i].table == t && r->reported[i].id == id)
			return;
	r->reported[r->nreported % REPORTED_MAX] = (struct row_ref){ t, id };
	r->nreported++;
	log_error(MOD, "%s %lld: the row does not match its integrity MAC (edited outside CoffeeCloud?): refused",
	          table_name(t), (long long)id);
	if (r->npending < PENDING_MAX)
		r->pending[r->npending++] = (struct row_ref){ t, id };
}

static int verify(struct rstore *r, struct input *in, const uint8_t *mac, size_t mac_len)
{
	uint8_t want[STORE_MAC_LEN];
	int rc = compute(r, in, want);

	if (rc == CC_OK && (mac_len != STORE_MAC_LEN || !crypto_equal(want, mac, STORE_MAC_LEN)))
		rc = CC_ERR_AUTH;
	crypto_wipe(want, sizeof(want));
	return rc;
}

/* CC_OK, or CC_ERR_NOTFOUND after reporting the row. */
#define DEFINE_CHECK(type, table)                                                     \
	static int check_##type(struct rstore *r, const struct store_##type *row)    \
	{                                                                             \
		struct input in;                                                      \
		input_##type(&in, row);                                               \
		if (verify(r, &in, row->mac, row->mac_len) == CC_OK)                  \
			return CC_OK;                                                 \
		tamper(r, table, row->id);                                            \
		return CC_ERR_NOTFOUND;                                               \
	}

DEFINE_CHECK(org, STORE_TABLE_ORGS)
DEFINE_CHECK(machine, STORE_TABLE_MACHINES)
DEFINE_CHECK(user, STORE_TABLE_USERS)
DEFINE_CHECK(grant, STORE_TABLE_GRANTS)
DEFINE_CHECK(credential, STORE_TABLE_CREDENTIALS)

/* ---- sealing ---- */

/* Seals one row as it is stored now. */
static int reseal(struct rstore *r, enum store_table t, int64_t id)
{
	union {
		struct store_org o;
		struct store_user u;
		struct store_grant g;
		struct store_credential c;
	} *row = calloc(1, sizeof(*row));
	struct store_machine *m = NULL;
	uint8_t mac[STORE_MAC_LEN];
	struct input in;
	int rc;

	if (row == NULL)
		return CC_ERR_NOMEM;
	switch (t) {
	case STORE_TABLE_ORGS:
		rc = IN(r)->ops->org_get(IN(r), id, &row->o);
		if (rc == CC_OK)
			input_org(&in, &row->o);
		break;
	case STORE_TABLE_MACHINES:
		m = calloc(1, sizeof(*m));
		rc = m == NULL ? CC_ERR_NOMEM : IN(r)->ops->machine_get(IN(r), id, m);
		if (rc == CC_OK)
			input_machine(&in, m);
		break;
	case STORE_TABLE_USERS:
		rc = IN(r)->ops->user_get(IN(r), id, &row->u);
		if (rc == CC_OK)
			input_user(&in, &row->u);
		break;
	case STORE_TABLE_GRANTS:
		rc = IN(r)->ops->grant_get(IN(r), id, &row->g);
		if (rc == CC_OK)
			input_grant(&in, &row->g);
		break;
	case STORE_TABLE_CREDENTIALS:
		rc = IN(r)->ops->credential_get(IN(r), id, &row->c);
		if (rc == CC_OK)
			input_credential(&in, &row->c);
		break;
	default:
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK)
		rc = compute(r, &in, mac);
	if (rc == CC_OK)
		rc = IN(r)->ops->row_mac_set(IN(r), t, id, mac, sizeof(mac));
	crypto_wipe(row, sizeof(*row));
	free(row);
	free(m);
	return rc;
}

/* Runs fn inside a transaction: the caller's, or one of its own. */
static int in_tx(struct rstore *r, int rc_of_work(struct rstore *, void *), void *arg)
{
	int own = !IN(r)->ops->in_transaction(IN(r)), rc = CC_OK;

	if (own)
		rc = IN(r)->ops->begin(IN(r));
	if (rc == CC_OK)
		rc = rc_of_work(r, arg);
	if (own) {
		if (rc == CC_OK)
			rc = IN(r)->ops->commit(IN(r));
		if (rc != CC_OK)
			IN(r)->ops->rollback(IN(r));
	}
	flush(r);
	return rc;
}

/* ---- inserts ---- */

struct add_args {
	enum store_table table;
	const void *row;
	int64_t *id;
};

static int add_work(struct rstore *r, void *arg)
{
	struct add_args *a = arg;
	int rc;

	switch (a->table) {
	case STORE_TABLE_ORGS: rc = IN(r)->ops->org_add(IN(r), a->row, a->id); break;
	case STORE_TABLE_MACHINES: rc = IN(r)->ops->machine_add(IN(r), a->row, a->id); break;
	case STORE_TABLE_USERS: rc = IN(r)->ops->user_add(IN(r), a->row, a->id); break;
	case STORE_TABLE_GRANTS: rc = IN(r)->ops->grant_add(IN(r), a->row, a->id); break;
	case STORE_TABLE_CREDENTIALS: rc = IN(r)->ops->credential_add(IN(r), a->row, a->id); break;
	default: rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK)
		rc = reseal(r, a->table, *a->id);
	return rc;
}

static int add_row(struct store *s, enum store_table t, const void *row, int64_t *id)
{
	int64_t local = 0;
	struct add_args a = { t, row, id != NULL ? id : &local };

	return in_tx(RS(s), add_work, &a);
}

static int r_org_add(struct store *s, const struct store_org *o, int64_t *id)
{
	return add_row(s, STORE_TABLE_ORGS, o, id);
}
static int r_machine_add(struct store *s, const struct store_machine *m, int64_t *id)
{
	return add_row(s, STORE_TABLE_MACHINES, m, id);
}
static int r_user_add(struct store *s, const struct store_user *u, int64_t *id)
{
	return add_row(s, STORE_TABLE_USERS, u, id);
}
static int r_grant_add(struct store *s, const struct store_grant *g, int64_t *id)
{
	return add_row(s, STORE_TABLE_GRANTS, g, id);
}
static int r_credential_add(struct store *s, const struct store_credential *c, int64_t *id)
{
	return add_row(s, STORE_TABLE_CREDENTIALS, c, id);
}

/* ---- single reads ---- */

#define DEFINE_GET(name, type, keytype)                                               \
	static int r_##name(struct store *s, keytype key, struct store_##type *out)  \
	{                                                                             \
		struct rstore *r = RS(s);                                             \
		int rc = IN(r)->ops->name(IN(r), key, out);                           \
		if (rc != CC_OK)                                                      \
			return rc;                                                    \
		rc = check_##type(r, out);                                            \
		if (rc != CC_OK) /* nothing of a refused row leaves */                \
			memset(out, 0, sizeof(*out));                                 \
		flush(r);                                                             \
		return rc;                                                            \
	}

DEFINE_GET(org_get, org, int64_t)
DEFINE_GET(org_find, org, const char *)
DEFINE_GET(machine_find, machine, const char *)
DEFINE_GET(machine_get, machine, int64_t)
DEFINE_GET(user_find, user, const char *)
DEFINE_GET(user_get, user, int64_t)
DEFINE_GET(grant_get, grant, int64_t)
DEFINE_GET(credential_find, credential, const uint8_t *)
DEFINE_GET(credential_get, credential, int64_t)

/* ---- lists: rows that do not verify are skipped ---- */

#define DEFINE_FILTER(type)                                                           \
	struct type##_filter {                                                        \
		struct rstore *r;                                                     \
		int (*each)(void *, const struct store_##type *);                     \
		void *ctx;                                                            \
	};                                                                            \
	static int filter_##type(void *arg, const struct store_##type *row)           \
	{                                                                             \
		struct type##_filter *f = arg;                                        \
		if (check_##type(f->r, row) != CC_OK)                                 \
			return 0;                                                     \
		return f->each(f->ctx, row);                                          \
	}

DEFINE_FILTER(org)
DEFINE_FILTER(machine)
DEFINE_FILTER(user)
DEFINE_FILTER(grant)
DEFINE_FILTER(credential)

static int r_org_list(struct store *s, int (*each)(void *, const struct store_org *), void *ctx)
{
	struct org_filter f = { RS(s), each, ctx };
	int rc = IN(f.r)->ops->org_list(IN(f.r), filter_org, &f);

	flush(f.r);
	return rc;
}

static int r_machine_list(struct store *s, int64_t customer_id,
                          int (*each)(void *, const struct store_machine *), void *ctx)
{
	struct machine_filter f = { RS(s), each, ctx };
	int rc = IN(f.r)->ops->machine_list(IN(f.r), customer_id, filter_machine, &f);

	flush(f.r);
	return rc;
}

/* The fleet list: each row's machine checked like machine_list's. */
struct status_filter {
	struct rstore *r;
	int (*each)(void *, const struct store_machine_status *);
	void *ctx;
};

static int filter_status(void *arg, const struct store_machine_status *row)
{
	struct status_filter *f = arg;

	if (check_machine(f->r, &row->m) != CC_OK)
		return 0;
	return f->each(f->ctx, row);
}

static int r_machine_status_list(struct store *s, const struct store_machine_filter *filter,
                                 int (*each)(void *, const struct store_machine_status *), void *ctx)
{
	struct status_filter f = { RS(s), each, ctx };
	int rc = IN(f.r)->ops->machine_status_list(IN(f.r), filter, filter_status, &f);

	flush(f.r);
	return rc;
}

static int r_user_list(struct store *s, int64_t org_id, int (*each)(void *, const struct store_user *), void *ctx)
{
	struct user_filter f = { RS(s), each, ctx };
	int rc = IN(f.r)->ops->user_list(IN(f.r), org_id, filter_user, &f);

	flush(f.r);
	return rc;
}

static int r_grant_list(struct store *s, int64_t user_id, int (*each)(void *, const struct store_grant *), void *ctx)
{
	struct grant_filter f = { RS(s), each, ctx };
	int rc = IN(f.r)->ops->grant_list(IN(f.r), user_id, filter_grant, &f);

	flush(f.r);
	return rc;
}

static int r_credential_list(struct store *s, int kind, int (*each)(void *, const struct store_credential *),
                             void *ctx)
{
	struct credential_filter f = { RS(s), each, ctx };
	int rc = IN(f.r)->ops->credential_list(IN(f.r), kind, filter_credential, &f);

	flush(f.r);
	return rc;
}

/* Decided here, over verified rows, instead of in SQL over unverified ones. */
struct covers {
	int64_t machine_id, site_id, now_ms;
	const char *purpose;
	int found;
};

static int covers_one(void *arg, const struct store_grant *g)
{
	struct covers *c = arg;

	if (g->revoked_ms == 0 && g->expires_ms > c->now_ms && strcmp(g->purpose, c->purpose) == 0 &&
	    ((g->machine_id != 0 && g->machine_id == c->machine_id) ||
	     (c->site_id != 0 && g->site_id == c->site_id))) {
		c->found = 1;
		return 1;
	}
	return 0;
}

static int r_grant_covers(struct store *s, int64_t user_id, int64_t machine_id, int64_t site_id,
                          const char *purpose, int64_t now_ms)
{
	struct covers c = { machine_id, site_id, now_ms, purpose, 0 };

	if (user_id == 0 || purpose == NULL)
		return 0;
	(void)r_grant_list(s, user_id, covers_one, &c);
	return c.found; /* any failure is "not covered": access fails closed */
}

/* ---- updates of MAC'd columns ---- */

struct update_args {
	enum store_table table;
	int64_t id, at_ms;
	const uint8_t *sealed;
	size_t len;
	int enabled;
	const char *password_hash; /* users: a new password instead of TOTP */
};

/* 1 when the row verifies, 0 when it does not; <0 when it cannot be read. */
static int row_valid(struct rstore *r, enum store_table t, int64_t id)
{
	union {
		struct store_org o;
		struct store_user u;
		struct store_grant g;
		struct store_credential c;
	} *row = calloc(1, sizeof(*row));
	struct store_machine *m = NULL;
	int rc;

	if (row == NULL)
		return CC_ERR_NOMEM;
	switch (t) {
	case STORE_TABLE_ORGS:
		rc = IN(r)->ops->org_get(IN(r), id, &row->o);
		if (rc == CC_OK)
			rc = check_org(r, &row->o) == CC_OK;
		break;
	case STORE_TABLE_MACHINES:
		m = calloc(1, sizeof(*m));
		rc = m == NULL ? CC_ERR_NOMEM : IN(r)->ops->machine_get(IN(r), id, m);
		if (rc == CC_OK)
			rc = check_machine(r, m) == CC_OK;
		break;
	case STORE_TABLE_USERS:
		rc = IN(r)->ops->user_get(IN(r), id, &row->u);
		if (rc == CC_OK)
			rc = check_user(r, &row->u) == CC_OK;
		break;
	case STORE_TABLE_GRANTS:
		rc = IN(r)->ops->grant_get(IN(r), id, &row->g);
		if (rc == CC_OK)
			rc = check_grant(r, &row->g) == CC_OK;
		break;
	case STORE_TABLE_CREDENTIALS:
		rc = IN(r)->ops->credential_get(IN(r), id, &row->c);
		if (rc == CC_OK)
			rc = check_credential(r, &row->c) == CC_OK;
		break;
	default:
		rc = CC_ERR_INVALID;
	}
	crypto_wipe(row, sizeof(*row));
	free(row);
	free(m);
	return rc;
}

static int update_work(struct rstore *r, void *arg)
{
	struct update_args *a = arg;
	int valid = row_valid(r, a->table, a->id), rc;

	if (valid < 0)
		return valid;
	switch (a->table) {
	case STORE_TABLE_MACHINES: rc = IN(r)->ops->machine_revoke(IN(r), a->id, a->at_ms); break;
	case STORE_TABLE_GRANTS: rc = IN(r)->ops->grant_revoke(IN(r), a->id, a->at_ms); break;
	case STORE_TABLE_CREDENTIALS: rc = IN(r)->ops->credential_revoke(IN(r), a->id, a->at_ms); break;
	case STORE_TABLE_USERS:
		/* Changing a tampered account would launder it: refused. */
		if (!valid)
			rc = CC_ERR_NOTFOUND;
		else if (a->password_hash != NULL)
			rc = IN(r)->ops->user_password_set(IN(r), a->id, a->password_hash);
		else
			rc = IN(r)->ops->user_totp_set(IN(r), a->id, a->sealed, a->len, a->enabled);
		break;
	default: rc = CC_ERR_INVALID;
	}
	/* A revocation applies to a tampered row too; it is not sealed again. */
	if (rc == CC_OK && valid)
		rc = reseal(r, a->table, a->id);
	return rc;
}

static int r_machine_revoke(struct store *s, int64_t id, int64_t at_ms)
{
	struct update_args a = { STORE_TABLE_MACHINES, id, at_ms, NULL, 0, 0, NULL };

	return in_tx(RS(s), update_work, &a);
}

struct cert_set_args {
	int64_t id, prev_until_ms;
	const struct store_machine *m;
};

/* A renewal changes MAC'd columns: only a row that verifies is renewed
 * (renewing a tampered row would launder it), then sealed again. */
static int cert_set_work(struct rstore *r, void *arg)
{
	struct cert_set_args *a = arg;
	int valid = row_valid(r, STORE_TABLE_MACHINES, a->id), rc;

	if (valid < 0)
		return valid;
	if (!valid)
		return CC_ERR_NOTFOUND;
	rc = IN(r)->ops->machine_cert_set(IN(r), a->id, a->m, a->prev_until_ms);
	if (rc == CC_OK)
		rc = reseal(r, STORE_TABLE_MACHINES, a->id);
	return rc;
}

static int r_machine_cert_set(struct store *s, int64_t id, const struct store_machine *m, int64_t prev_until_ms)
{
	struct cert_set_args a = { id, prev_until_ms, m };

	return in_tx(RS(s), cert_set_work, &a);
}

static int r_grant_revoke(struct store *s, int64_t id, int64_t at_ms)
{
	struct update_args a = { STORE_TABLE_GRANTS, id, at_ms, NULL, 0, 0, NULL };

	return in_tx(RS(s), update_work, &a);
}

static int r_credential_revoke(struct store *s, int64_t id, int64_t at_ms)
{
	struct update_args a = { STORE_TABLE_CREDENTIALS, id, at_ms, NULL, 0, 0, NULL };

	return in_tx(RS(s), update_work, &a);
}

static int r_user_totp_set(struct store *s, int64_t user_id, const uint8_t *sealed, size_t len, int enabled)
{
	struct update_args a = { STORE_TABLE_USERS, user_id, 0, sealed, len, enabled, NULL };

	return in_tx(RS(s), update_work, &a);
}

static int r_user_password_set(struct store *s, int64_t user_id, const char *password_hash)
{
	struct update_args a = { STORE_TABLE_USERS, user_id, 0, NULL, 0, 0, password_hash };

	return password_hash != NULL ? in_tx(RS(s), update_work, &a) : CC_ERR_INVALID;
}

/* One column of an access row (store_ops.row_set): a row that does not
 * verify is refused (changing it would launder it), one that does is
 * sealed again with its new value. */
struct row_set_args {
	enum store_column col;
	int64_t id, value;
};

static enum store_table table_of_column(enum store_column col)
{
	switch (col) {
	case STORE_COL_MACHINE_SITE:
	case STORE_COL_MACHINE_DECOMMISSIONED:
	case STORE_COL_MACHINE_RETIRED: return STORE_TABLE_MACHINES;
	case STORE_COL_ORG_DEACTIVATED: return STORE_TABLE_ORGS;
	case STORE_COL_USER_DEACTIVATED: return STORE_TABLE_USERS;
	}
	return 0;
}

static int row_set_work(struct rstore *r, void *arg)
{
	struct row_set_args *a = arg;
	enum store_table t = table_of_column(a->col);
	int valid, rc;

	if (t == 0)
		return CC_ERR_INVALID;
	valid = row_valid(r, t, a->id);
	if (valid < 0)
		return valid;
	if (!valid)
		return CC_ERR_NOTFOUND;
	rc = IN(r)->ops->row_set(IN(r), a->col, a->id, a->value);
	if (rc == CC_OK)
		rc = reseal(r, t, a->id);
	return rc;
}

static int r_row_set(struct store *s, enum store_column col, int64_t id, int64_t value)
{
	struct row_set_args a = { col, id, value };

	return in_tx(RS(s), row_set_work, &a);
}

struct deletion_request_args {
	int64_t user_id, at_ms, *requested_ms;
};

static int deletion_request_work(struct rstore *r, void *arg)
{
	struct deletion_request_args *a = arg;
	int valid = row_valid(r, STORE_TABLE_USERS, a->user_id);

	if (valid < 0)
		return valid;
	if (!valid)
		return CC_ERR_NOTFOUND;
	return IN(r)->ops->user_deletion_request(IN(r), a->user_id, a->at_ms, a->requested_ms);
}

static int r_user_deletion_request(struct store *s, int64_t user_id, int64_t at_ms, int64_t *requested_ms)
{
	struct deletion_request_args a = { user_id, at_ms, requested_ms };

	return in_tx(RS(s), deletion_request_work, &a);
}

/* Ending a user's sessions: each one revoked and sealed again, one by one,
 * so that none is left with a MAC its new revocation time breaks. */
struct sessions_of {
	int64_t user_id, except_id;
	int64_t ids[256];
	size_t n;
	int more;
};

static int collect_session(void *arg, const struct store_credential *c)
{
	struct sessions_of *so = arg;

	if (c->user_id != so->user_id || c->id == so->except_id || c->revoked_ms != 0)
		return 0;
	if (so->n == sizeof(so->ids) / sizeof(so->ids[0])) {
		so->more = 1;
		return 1;
	}
	so->ids[so->n++] = c->id;
	return 0;
}

struct revoke_sessions_args {
	int64_t user_id, except_id, at_ms;
};

static int revoke_sessions_work(struct rstore *r, void *arg)
{
	struct revoke_sessions_args *ra = arg;
	struct sessions_of so;
	size_t i;
	int rc;

	do {
		memset(&so, 0, sizeof(so));
		so.user_id = ra->user_id;
		so.except_id = ra->except_id;
		rc = IN(r)->ops->credential_list(IN(r), CREDENTIAL_SESSION, collect_session, &so);
		if (rc < 0)
			return rc;
		for (i = 0; i < so.n; i++) {
			struct update_args a = { STORE_TABLE_CREDENTIALS, so.ids[i], ra->at_ms, NULL, 0, 0, NULL };

			rc = update_work(r, &a);
			if (rc != CC_OK && rc != CC_ERR_STATE)
				return rc;
		}
	} while (so.more);
	return CC_OK;
}

static int r_credential_revoke_sessions(struct store *s, int64_t user_id, int64_t except_id, int64_t at_ms)
{
	struct revoke_sessions_args a = { user_id, except_id, at_ms };

	return in_tx(RS(s), revoke_sessions_work, &a);
}

/* ---- transactions and the handle ---- */

static int r_commit(struct store *s)
{
	int rc = IN(RS(s))->ops->commit(IN(RS(s)));

	flush(RS(s));
	return rc;
}

static void r_rollback(struct store *s)
{
	IN(RS(s))->ops->rollback(IN(RS(s)));
	flush(RS(s));
}

static void r_close(struct store *s)
{
	struct rstore *r = RS(s);

	if (r == NULL)
		return;
	if (r->inner != NULL) {
		flush(r); /* reports still waiting for a transaction to end */
		r->inner->ops->close(r->inner);
	}
	EVP_MAC_CTX_free(r->keyed);
	crypto_wipe(r->key, sizeof(r->key));
	free(r);
}

/* ---- the key and the first open ---- */

/* An HMAC-SHA-256 context keyed with key, or NULL (compute then falls back to HMAC()). */
static EVP_MAC_CTX *keyed_mac(const uint8_t key[ROW_KEY_LEN])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};

	if (c != NULL && EVP_MAC_init(c, key, ROW_KEY_LEN, params) != 1) {
		EVP_MAC_CTX_free(c);
		c = NULL;
	}
	EVP_MAC_free(mac);
	return c;
}

static int derive(struct rstore *r, const uint8_t *secret, size_t len)
{
	unsigned int n = 0;

	if (len != ROW_KEY_LEN)
		return CC_ERR_CORRUPT;
	if (HMAC(EVP_sha256(), secret, (int)len, (const unsigned char *)KEY_LABEL, strlen(KEY_LABEL), r->key, &n) ==
	        NULL || n != ROW_KEY_LEN)
		return CC_ERR_CRYPTO;
	r->have_key = 1;
	EVP_MAC_CTX_free(r->keyed);
	r->keyed = keyed_mac(r->key);
	return CC_OK;
}

/* The key check value kept in meta: it says the rows were sealed, and with which key. */
static int check_value(const struct rstore *r, char *out, size_t cap)
{
	uint8_t mac[STORE_MAC_LEN];
	unsigned int n = 0;
	int rc;

	if (HMAC(EVP_sha256(), r->key, sizeof(r->key), (const unsigned char *)CHECK_LABEL, strlen(CHECK_LABEL), mac,
	         &n) == NULL)
		return CC_ERR_CRYPTO;
	rc = hex_encode(mac, 16, out, cap);
	crypto_wipe(mac, sizeof(mac));
	return rc;
}

struct id_list {
	int64_t *ids;
	size_t n, cap;
	int nomem;
};

static void collect(struct id_list *l, int64_t id, size_t mac_len)
{
	int64_t *grown;

	if (mac_len != 0 || l->nomem)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		grown = realloc(l->ids, l->cap * sizeof(*grown));
		if (grown == NULL) {
			l->nomem = 1;
			return;
		}
		l->ids = grown;
	}
	l->ids[l->n++] = id;
}

static int unsealed_org(void *a, const struct store_org *o) { collect(a, o->id, o->mac_len); return 0; }
static int unsealed_machine(void *a, const struct store_machine *m) { collect(a, m->id, m->mac_len); return 0; }
static int unsealed_user(void *a, const struct store_user *u) { collect(a, u->id, u->mac_len); return 0; }
static int unsealed_grant(void *a, const struct store_grant *g) { collect(a, g->id, g->mac_len); return 0; }
static int unsealed_cred(void *a, const struct store_credential *c) { collect(a, c->id, c->mac_len); return 0; }

static int seal_table(struct rstore *r, enum store_table t, size_t *sealed)
{
	struct id_list l = { NULL, 0, 0, 0 };
	struct store *in = IN(r);
	size_t i;
	int rc;

	switch (t) {
	case STORE_TABLE_ORGS: rc = in->ops->org_list(in, unsealed_org, &l); break;
	case STORE_TABLE_MACHINES: rc = in->ops->machine_list(in, 0, unsealed_machine, &l); break;
	case STORE_TABLE_USERS: rc = in->ops->user_list(in, 0, unsealed_user, &l); break;
	case STORE_TABLE_GRANTS: rc = in->ops->grant_list(in, 0, unsealed_grant, &l); break;
	default:
		rc = in->ops->credential_list(in, CREDENTIAL_SESSION, unsealed_cred, &l);
		if (rc == CC_OK)
			rc = in->ops->credential_list(in, CREDENTIAL_API_TOKEN, unsealed_cred, &l);
	}
	if (rc == CC_OK && l.nomem)
		rc = CC_ERR_NOMEM;
	for (i = 0; rc == CC_OK && i < l.n; i++)
		rc = reseal(r, t, l.ids[i]);
	if (rc == CC_OK)
		*sealed += l.n;
	free(l.ids);
	return rc;
}

/*
 * Trust on first open: the keyring has no row key yet. Under the database's
 * write lock (so that two processes cannot both do it), make the key and
 * seal every row without a MAC, as the rows are now. A database whose meta
 * says its rows were sealed while the keyring has no row key is not sealed
 * again (that would launder any edit): every row then fails, until the
 * keyring is restored.
 */
static int first_open(struct rstore *r)
{
	struct store *in = IN(r);
	uint8_t secret[ROW_KEY_LEN];
	char check[40], marker[40];
	size_t len = 0, sealed = 0;
	int created = 0, rc;
	enum store_table t;

	rc = in->ops->begin(in);
	if (rc != CC_OK)
		return rc;
	rc = in->ops->meta_get(in, ROWMAC_META, marker, sizeof(marker));
	if (rc == CC_OK) {
		/* Sealed before: the key must be in the keyring file (another process may have made it). */
		rc = vault_secret_get_or_create(r->v, ROWMAC_KEY_NAME, 0, secret, sizeof(secret), &len, &created);
		if (rc == CC_ERR_NOTFOUND)
			log_error(MOD, "the rows were sealed but the keyring has no '%s': every access row is refused "
			          "until the keyring is restored from its backup", ROWMAC_KEY_NAME);
		if (rc == CC_OK)
			rc = derive(r, secret, len);
		in->ops->rollback(in);
		goto out;
	}
	if (rc != CC_ERR_NOTFOUND)
		goto fail;
	rc = vault_secret_get_or_create(r->v, ROWMAC_KEY_NAME, ROW_KEY_LEN, secret, sizeof(secret), &len, &created);
	if (rc == CC_OK)
		rc = derive(r, secret, len);
	for (t = STORE_TABLE_ORGS; rc == CC_OK && t <= STORE_TABLE_CREDENTIALS; t++)
		rc = seal_table(r, t, &sealed);
	if (rc == CC_OK)
		rc = check_value(r, check, sizeof(check));
	if (rc == CC_OK)
		rc = in->ops->meta_set(in, ROWMAC_META, check);
	if (rc == CC_OK && sealed > 0) {
		struct audit_event e = { 0 };

		e.actor = "integrity";
		e.action = "integrity.seal";
		e.data_class = "admin";
		e.purpose = "administration";
		e.outcome = "ok";
		rc = audit_append(r->v, &e);
	}
	if (rc != CC_OK)
		goto fail;
	rc = in->ops->commit(in);
	if (rc != CC_OK)
		goto fail;
	if (sealed > 0)
		log_warn(MOD, "sealed %zu access rows that had no integrity MAC (first open with row MACs): "
		         "they are trusted as they are now", sealed);
	goto out;
fail:
	in->ops->rollback(in);
out:
	crypto_wipe(secret, sizeof(secret));
	return rc;
}

int rowmac_attach(struct vault *v, struct store **store)
{
	struct rstore *r = calloc(1, sizeof(*r));
	char *secret = NULL;
	size_t len = 0;
	int rc;

	if (r == NULL)
		return CC_ERR_NOMEM;
	r->inner = *store;
	r->v = v;
	r->ops = *r->inner->ops;
	r->ops.close = r_close;
	r->ops.commit = r_commit;
	r->ops.rollback = r_rollback;
	r->ops.org_add = r_org_add;
	r->ops.org_get = r_org_get;
	r->ops.org_find = r_org_find;
	r->ops.org_list = r_org_list;
	r->ops.machine_add = r_machine_add;
	r->ops.machine_find = r_machine_find;
	r->ops.machine_get = r_machine_get;
	r->ops.machine_list = r_machine_list;
	r->ops.machine_status_list = r_machine_status_list;
	r->ops.machine_revoke = r_machine_revoke;
	r->ops.machine_cert_set = r_machine_cert_set;
	r->ops.row_set = r_row_set;
	r->ops.user_add = r_user_add;
	r->ops.user_find = r_user_find;
	r->ops.user_get = r_user_get;
	r->ops.user_list = r_user_list;
	r->ops.user_totp_set = r_user_totp_set;
	r->ops.user_password_set = r_user_password_set;
	r->ops.user_deletion_request = r_user_deletion_request;
	r->ops.credential_revoke_sessions = r_credential_revoke_sessions;
	r->ops.grant_add = r_grant_add;
	r->ops.grant_get = r_grant_get;
	r->ops.grant_list = r_grant_list;
	r->ops.grant_revoke = r_grant_revoke;
	r->ops.grant_covers = r_grant_covers;
	r->ops.credential_add = r_credential_add;
	r->ops.credential_find = r_credential_find;
	r->ops.credential_get = r_credential_get;
	r->ops.credential_list = r_credential_list;
	r->ops.credential_revoke = r_credential_revoke;
	r->base.ops = &r->ops;
	r->base.impl = r->inner->impl;
	*store = &r->base; /* from here on the vault's store is the wrapper */

	rc = vault_secret_get(v, ROWMAC_KEY_NAME, &secret, &len);
	if (rc == CC_OK) {
		rc = derive(r, (const uint8_t *)secret, len);
		vault_secret_free(secret, len);
	} else if (rc == CC_ERR_NOTFOUND) {
		rc = first_open(r);
	}
	return rc;
}

/* ---- init --check ---- */

struct check_all {
	struct rstore *r;
	int bad;
};

#define DEFINE_SCAN(type, table)                                                      \
	static int scan_##type(void *arg, const struct store_##type *row)             \
	{                                                                             \
		struct check_all *c = arg;                                            \
		struct input in;                                                      \
		input_##type(&in, row);                                               \
		if (verify(c->r, &in, row->mac, row->mac_len) != CC_OK) {             \
			log_error(MOD, "%s %lld: does not match its integrity MAC",   \
			          table_name(table), (long long)row->id);             \
			c->bad++;                                                     \
		}                                                                     \
		return 0;                                                             \
	}

DEFINE_SCAN(org, STORE_TABLE_ORGS)
DEFINE_SCAN(machine, STORE_TABLE_MACHINES)
DEFINE_SCAN(user, STORE_TABLE_USERS)
DEFINE_SCAN(grant, STORE_TABLE_GRANTS)
DEFINE_SCAN(credential, STORE_TABLE_CREDENTIALS)

int rowmac_check_all(struct store *s, int *bad)
{
	struct check_all c = { RS(s), 0 };
	struct store *in;
	int rc;

	if (s->ops->close != r_close)
		return CC_ERR_INVALID;
	in = IN(c.r);
	if (!c.r->have_key)
		log_error(MOD, "no row key: no access row can be verified");
	rc = in->ops->org_list(in, scan_org, &c);
	if (rc == CC_OK)
		rc = in->ops->machine_list(in, 0, scan_machine, &c);
	if (rc == CC_OK)
		rc = in->ops->user_list(in, 0, scan_user, &c);
	if (rc == CC_OK)
		rc = in->ops->grant_list(in, 0, scan_grant, &c);
	if (rc == CC_OK)
		rc = in->ops->credential_list(in, CREDENTIAL_SESSION, scan_credential, &c);
	if (rc == CC_OK)
		rc = in->ops->credential_list(in, CREDENTIAL_API_TOKEN, scan_credential, &c);
	*bad = c.bad;
	return rc;
}
