/*
 * audit.c - the hash-chained audit log and its keyed checkpoint.
 *
 * The chain makes any edit, removal or insertion visible to anyone who
 * recomputes it; the HMAC checkpoint of the last (seq, hash), keyed by a
 * keyring secret, makes a recomputed chain visible too. Appends read the
 * checkpoint inside the write transaction, so concurrent appenders (the CLI
 * and the daemon) queue on the database lock instead of forking the chain.
 */
#include "access/audit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/keyring.h"
#include "fleet/inventory.h"

#define MOD "audit"

#define RECORD_MAGIC "CCAUDIT1"
#define HEAD_MAGIC "CCAUDITHEAD1"
#define GENESIS_PREFIX "coffeecloud-audit-genesis"
#define CHECKPOINT_LABEL "coffeecloud-audit-checkpoint-v1"
#define AUDIT_KEY_LEN 32
#define INSTALLATION_ID_MAX 128

/* The largest canonical record: magic, three integers, seven length-prefixed texts. */
#define RECORD_MAX (8 + 3 * 8 + 7 * 2 + CC_AUDIT_ACTOR_MAX + CC_AUDIT_SOURCE_MAX + \
                    CC_AUDIT_ACTION_MAX + CC_AUDIT_MACHINES_MAX + CC_AUDIT_CLASS_MAX + \
                    CC_AUDIT_PURPOSE_MAX + CC_AUDIT_OUTCOME_MAX)
/* "seq:hash:mac" */
#define CHECKPOINT_TEXT_MAX (20 + 1 + 2 * AUDIT_HASH_LEN + 1 + 2 * AUDIT_HASH_LEN + 1)

static const char *const data_classes[] = { "status", "technical", "service", "usage", "audit", "admin" };
static const char *const outcomes[] = { "ok", "denied", "error" };

static int in_list(const char *name, const char *const *list, size_t n)
{
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/* One class, or several separated by commas (a route that serves each role
 * its own classes records those it served). */
int audit_data_class_valid(const char *name)
{
	char one[CC_AUDIT_CLASS_MAX + 1];
	size_t n;

	if (name == NULL || *name == '\0' || strlen(name) > CC_AUDIT_CLASS_MAX)
		return 0;
	for (;;) {
		n = strcspn(name, ",");
		memcpy(one, name, n);
		one[n] = '\0';
		if (!in_list(one, data_classes, sizeof(data_classes) / sizeof(data_classes[0])))
			return 0;
		if (name[n] == '\0')
			return 1;
		name += n + 1;
	}
}

int audit_outcome_valid(const char *name)
{
	return in_list(name, outcomes, sizeof(outcomes) / sizeof(outcomes[0]));
}

const char *audit_damage_name(enum audit_damage d)
{
	switch (d) {
	case AUDIT_INTACT: return "intact";
	case AUDIT_EDITED: return "edited";
	case AUDIT_REMOVED: return "removed";
	case AUDIT_INSERTED: return "inserted";
	case AUDIT_TRUNCATED: return "truncated";
	case AUDIT_REWRITTEN: return "rewritten";
	}
	return "unknown";
}

/* ---- the canonical record and the chain ---- */

static void put_be64(uint8_t *p, int64_t x)
{
	uint64_t u = (uint64_t)x;
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(u & 0xff);
		u >>= 8;
	}
}

static int put_text(uint8_t *buf, size_t cap, size_t *n, const char *text, size_t max)
{
	size_t len = strlen(text);

	if (len > max || *n + 2 + len > cap)
		return CC_ERR_LIMIT;
	buf[(*n)++] = (uint8_t)(len >> 8);
	buf[(*n)++] = (uint8_t)(len & 0xff);
	if (len > 0)
		memcpy(buf + *n, text, len);
	*n += len;
	return CC_OK;
}

/* The canonical serialisation of a record (see audit.h). */
static int serialise(const struct store_audit *r, uint8_t *buf, size_t cap, size_t *outlen)
{
	size_t n = 0;
	int rc;

	if (cap < 8 + 24)
		return CC_ERR_LIMIT;
	memcpy(buf, RECORD_MAGIC, 8);
	put_be64(buf + 8, r->seq);
	put_be64(buf + 16, r->ts_ms);
	put_be64(buf + 24, r->customer_id);
	n = 32;
	rc = put_text(buf, cap, &n, r->actor, CC_AUDIT_ACTOR_MAX);
	if (rc == CC_OK)
		rc = put_text(buf, cap, &n, r->source, CC_AUDIT_SOURCE_MAX);
	if (rc == CC_OK)
		rc = put_text(buf, cap, &n, r->action, CC_AUDIT_ACTION_MAX);
	if (rc == CC_OK)
		rc = put_text(buf, cap, &n, r->machines, CC_AUDIT_MACHINES_MAX);
	if (rc == CC_OK)
		rc = put_text(buf, cap, &n, r->data_class, CC_AUDIT_CLASS_MAX);
	if (rc == CC_OK)
		rc = put_text(buf, cap, &n, r->purpose, CC_AUDIT_PURPOSE_MAX);
	if (rc == CC_OK)
		rc = put_text(buf, cap, &n, r->outcome, CC_AUDIT_OUTCOME_MAX);
	if (rc == CC_OK)
		*outlen = n;
	return rc;
}

static int sha256_two(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[AUDIT_HASH_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	if (md == NULL)
		return CC_ERR_NOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, a, alen) == 1 &&
	     (blen == 0 || EVP_DigestUpdate(md, b, blen) == 1) && EVP_DigestFinal_ex(md, out, &n) == 1 &&
	     n == AUDIT_HASH_LEN;
	EVP_MD_CTX_free(md);
	return ok ? CC_OK : CC_ERR_CRYPTO;
}

int audit_record_hash(const uint8_t prev[AUDIT_HASH_LEN], const struct store_audit *r,
                      uint8_t out[AUDIT_HASH_LEN])
{
	uint8_t buf[RECORD_MAX];
	size_t n = 0;
	int rc = serialise(r, buf, sizeof(buf), &n);

	if (rc != CC_OK)
		return rc;
	return sha256_two(prev, AUDIT_HASH_LEN, buf, n, out);
}

int audit_genesis(struct vault *v, uint8_t out[AUDIT_HASH_LEN])
{
	struct store *s = vault_store(v);
	char id[INSTALLATION_ID_MAX + 1];
	int rc = s->ops->meta_get(s, "installation-id", id, sizeof(id));

	if (rc == CC_ERR_NOTFOUND)
		id[0] = '\0';
	else if (rc != CC_OK)
		return rc;
	return sha256_two(GENESIS_PREFIX, strlen(GENESIS_PREFIX), id, strlen(id), out);
}

/* ---- the key and the checkpoint ---- */

static int derive_checkpoint_key(const void *secret, size_t len, uint8_t kcp[AUDIT_HASH_LEN])
{
	unsigned int n = 0;

	if (HMAC(EVP_sha256(), secret, (int)len, (const unsigned char *)CHECKPOINT_LABEL,
	         strlen(CHECKPOINT_LABEL), kcp, &n) == NULL || n != AUDIT_HASH_LEN)
		return CC_ERR_CRYPTO;
	return CC_OK;
}

/* Reads "audit-key" from the keyring file as it is now: another process may
 * have created it after this vault loaded the keyring. */
static int key_from_file(struct vault *v, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t master[KEYRING_MASTER_LEN];
	struct keyring *kr = NULL;
	int rc = keyring_master_read(vault_path(v, VAULT_MASTER_KEY), master);

	if (rc == CC_OK)
		rc = keyring_load(vault_path(v, VAULT_KEYRING), master, &kr);
	crypto_wipe(master, sizeof(master));
	if (rc == CC_OK)
		rc = keyring_get(kr, AUDIT_KEY_NAME, out, cap, len);
	keyring_free(kr);
	return rc;
}

/*
 * The checkpoint key, derived from the keyring secret. With create, a
 * missing secret is made; callers that create hold the database write lock,
 * so two processes cannot both make one (and the second overwrite the first).
 * CC_ERR_NOTFOUND when absent and not created.
 */
static int checkpoint_key(struct vault *v, int create, uint8_t kcp[AUDIT_HASH_LEN])
{
	uint8_t secret[AUDIT_KEY_LEN * 2];
	char *cached = NULL;
	size_t len = 0;
	int rc = vault_secret_get(v, AUDIT_KEY_NAME, &cached, &len);

	if (rc == CC_OK) {
		rc = len == AUDIT_KEY_LEN ? derive_checkpoint_key(cached, len, kcp) : CC_ERR_CORRUPT;
		vault_secret_free(cached, len);
		goto out;
	}
	if (rc != CC_ERR_NOTFOUND)
		goto out;
	rc = key_from_file(v, secret, sizeof(secret), &len);
	if (rc == CC_OK) {
		/* Made by another process: store it again (same value) so that this
		 * vault's keyring is current and later calls take the first path. */
		if (len != AUDIT_KEY_LEN)
			rc = CC_ERR_CORRUPT;
		if (rc == CC_OK)
			rc = derive_checkpoint_key(secret, len, kcp);
		if (rc == CC_OK)
			rc = vault_secret_put(v, AUDIT_KEY_NAME, secret, len);
		goto out;
	}
	if (rc != CC_ERR_NOTFOUND || !create)
		goto out;
	rc = crypto_random(secret, AUDIT_KEY_LEN);
	if (rc == CC_OK)
		rc = vault_secret_put(v, AUDIT_KEY_NAME, secret, AUDIT_KEY_LEN);
	if (rc == CC_OK)
		rc = derive_checkpoint_key(secret, AUDIT_KEY_LEN, kcp);
	if (rc == CC_OK)
		log_debug(MOD, "created the audit key (keyring entry '%s')", AUDIT_KEY_NAME);
out:
	crypto_wipe(secret, sizeof(secret));
	if (rc != CC_OK)
		crypto_wipe(kcp, AUDIT_HASH_LEN);
	return rc;
}

static int checkpoint_mac(const uint8_t kcp[AUDIT_HASH_LEN], int64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
                          uint8_t mac[AUDIT_HASH_LEN])
{
	uint8_t msg[sizeof(HEAD_MAGIC) - 1 + 8 + AUDIT_HASH_LEN];
	unsigned int n = 0;

	memcpy(msg, HEAD_MAGIC, sizeof(HEAD_MAGIC) - 1);
	put_be64(msg + sizeof(HEAD_MAGIC) - 1, seq);
	memcpy(msg + sizeof(HEAD_MAGIC) - 1 + 8, hash, AUDIT_HASH_LEN);
	if (HMAC(EVP_sha256(), kcp, AUDIT_HASH_LEN, msg, sizeof(msg), mac, &n) == NULL || n != AUDIT_HASH_LEN)
		return CC_ERR_CRYPTO;
	return CC_OK;
}

struct checkpoint {
	int present;  /* meta "audit-head" exists */
	int parsed;   /* and has the form seq:hash:mac */
	int64_t seq;
	uint8_t hash[AUDIT_HASH_LEN];
	uint8_t mac[AUDIT_HASH_LEN];
};

static int checkpoint_read(struct store *s, struct checkpoint *cp)
{
	char text[CHECKPOINT_TEXT_MAX + 8], *end, *hash_hex, *mac_hex;
	long long seq;
	int rc;

	memset(cp, 0, sizeof(*cp));
	rc = s->ops->meta_get(s, AUDIT_HEAD_META, text, sizeof(text));
	if (rc == CC_ERR_NOTFOUND)
		return CC_OK;
	if (rc != CC_OK)
		return rc;
	cp->present = 1;
	errno = 0;
	seq = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != ':' || seq <= 0)
		return CC_OK;
	hash_hex = end + 1;
	mac_hex = strchr(hash_hex, ':');
	if (mac_hex == NULL)
		return CC_OK;
	*mac_hex++ = '\0';
	if (strlen(hash_hex) != 2 * AUDIT_HASH_LEN || strlen(mac_hex) != 2 * AUDIT_HASH_LEN ||
	    hex_decode(hash_hex, cp->hash, sizeof(cp->hash)) != AUDIT_HASH_LEN ||
	    hex_decode(mac_hex, cp->mac, sizeof(cp->mac)) != AUDIT_HASH_LEN)
		return CC_OK;
	cp->seq = seq;
	cp->parsed = 1;
	return CC_OK;
}

/* 1 when the checkpoint parsed and its MAC is right under kcp. */
static int checkpoint_authentic(const struct checkpoint *cp, const uint8_t kcp[AUDIT_HASH_LEN])
{
	uint8_t mac[AUDIT_HASH_LEN];

	if (!cp->parsed || checkpoint_mac(kcp, cp->seq, cp->hash, mac) != CC_OK)
		return 0;
	return crypto_equal(mac, cp->mac, sizeof(mac));
}

static int checkpoint_write(struct store *s, const uint8_t kcp[AUDIT_HASH_LEN], int64_t seq,
                            const uint8_t hash[AUDIT_HASH_LEN])
{
	char text[CHECKPOINT_TEXT_MAX], hash_hex[2 * AUDIT_HASH_LEN + 1], mac_hex[2 * AUDIT_HASH_LEN + 1];
	uint8_t mac[AUDIT_HASH_LEN];
	int rc = checkpoint_mac(kcp, seq, hash, mac);

	if (rc != CC_OK)
		return rc;
	hex_encode(hash, AUDIT_HASH_LEN, hash_hex, sizeof(hash_hex));
	hex_encode(mac, AUDIT_HASH_LEN, mac_hex, sizeof(mac_hex));
	snprintf(text, sizeof(text), "%lld:%s:%s", (long long)seq, hash_hex, mac_hex);
	return s->ops->meta_set(s, AUDIT_HEAD_META, text);
}

/*
 * What the next record chains from: the authenticated checkpoint, or hash_0
 * for the first record of an installation. Refuses (CC_ERR_CORRUPT) when the
 * checkpoint is missing beside records, does not authenticate, or records
 * follow it: appending would hide that. *have_key is 0 only when nothing
 * exists yet and create is off (the first append will make the key).
 */
static int predecessor(struct vault *v, int create, int64_t *seq, uint8_t hash[AUDIT_HASH_LEN],
                       uint8_t kcp[AUDIT_HASH_LEN], int *have_key)
{
	struct store *s = vault_store(v);
	struct checkpoint cp;
	uint8_t last_hash[AUDIT_HASH_LEN];
	int64_t last_seq = 0;
	int rc, have_last;

	*have_key = 0;
	rc = checkpoint_read(s, &cp);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->audit_head(s, &last_seq, last_hash);
	if (rc != CC_OK && rc != CC_ERR_NOTFOUND) {
		if (rc == CC_ERR_CORRUPT)
			log_error(MOD, "the last audit record has a damaged hash; run 'coffeecloud audit verify'");
		return rc;
	}
	have_last = rc == CC_OK;
	if (!cp.present) {
		if (have_last) {
			log_error(MOD, "the audit log has records but no checkpoint; nothing appended "
			               "(run 'coffeecloud audit verify')");
			return CC_ERR_CORRUPT;
		}
		rc = checkpoint_key(v, create, kcp);
		if (rc == CC_ERR_NOTFOUND && !create)
			rc = CC_OK;
		else if (rc == CC_OK)
			*have_key = 1;
		if (rc != CC_OK)
			return rc;
		*seq = 0;
		return audit_genesis(v, hash);
	}
	rc = checkpoint_key(v, 0, kcp);
	if (rc == CC_ERR_NOTFOUND) {
		log_error(MOD, "the audit checkpoint exists but the keyring has no '%s'", AUDIT_KEY_NAME);
		return CC_ERR_CORRUPT;
	}
	if (rc != CC_OK)
		return rc;
	*have_key = 1;
	if (!checkpoint_authentic(&cp, kcp)) {
		log_error(MOD, "the audit checkpoint does not authenticate; nothing appended "
		               "(run 'coffeecloud audit verify')");
		return CC_ERR_CORRUPT;
	}
	if (have_last && last_seq > cp.seq) {
		log_error(MOD, "audit records follow the checkpoint (seq %lld > %lld); nothing appended "
		               "(run 'coffeecloud audit verify')", (long long)last_seq, (long long)cp.seq);
		return CC_ERR_CORRUPT;
	}
	*seq = cp.seq;
	memcpy(hash, cp.hash, AUDIT_HASH_LEN);
	return CC_OK;
}

/* ---- appending ---- */

static int text_ok(const char *text, size_t max, int required)
{
	size_t i, n = strlen(text);

	if (n > max)
		return CC_ERR_LIMIT;
	if (required && n == 0)
		return CC_ERR_INVALID;
	for (i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e)
			return CC_ERR_INVALID;
	return CC_OK;
}

/* "" or "*" or serials, comma-separated. */
static int machines_ok(const char *list)
{
	char serial[CC_SERIAL_MAX + 1];
	const char *p = list, *comma;
	size_t n;

	if (strlen(list) > CC_AUDIT_MACHINES_MAX)
		return CC_ERR_LIMIT;
	if (*list == '\0' || strcmp(list, "*") == 0)
		return CC_OK;
	for (;;) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || n > CC_SERIAL_MAX)
			return CC_ERR_INVALID;
		memcpy(serial, p, n);
		serial[n] = '\0';
		if (!inventory_serial_valid(serial))
			return CC_ERR_INVALID;
		if (comma == NULL)
			return CC_OK;
		p = comma + 1;
	}
}

static void copy_field(char *out, size_t cap, const char *in)
{
	snprintf(out, cap, "%s", in ? in : "");
}

static int event_to_record(const struct audit_event *e, struct store_audit *r)
{
	const char *actor = e->actor ? e->actor : "", *action = e->action ? e->action : "";
	const char *source = e->source ? e->source : "", *machines = e->machines ? e->machines : "";
	const char *purpose = e->purpose ? e->purpose : "";
	int rc;

	if (!audit_data_class_valid(e->data_class) || !audit_outcome_valid(e->outcome) || e->ts_ms < 0 ||
	    e->customer_id < 0)
		return CC_ERR_INVALID;
	rc = text_ok(actor, CC_AUDIT_ACTOR_MAX, 1);
	if (rc == CC_OK)
		rc = text_ok(source, CC_AUDIT_SOURCE_MAX, 0);
	if (rc == CC_OK)
		rc = text_ok(action, CC_AUDIT_ACTION_MAX, 1);
	if (rc == CC_OK)
		rc = text_ok(purpose, CC_AUDIT_PURPOSE_MAX, 1);
	if (rc == CC_OK)
		rc = machines_ok(machines);
	if (rc != CC_OK)
		return rc;
	memset(r, 0, sizeof(*r));
	r->ts_ms = e->ts_ms ? e->ts_ms : clock_now_ms();
	r->customer_id = e->customer_id;
	copy_field(r->actor, sizeof(r->actor), actor);
	copy_field(r->source, sizeof(r->source), source);
	copy_field(r->action, sizeof(r->action), action);
	copy_field(r->machines, sizeof(r->machines), machines);
	copy_field(r->data_class, sizeof(r->data_class), e->data_class);
	copy_field(r->purpose, sizeof(r->purpose), purpose);
	copy_field(r->outcome, sizeof(r->outcome), e->outcome);
	return CC_OK;
}

int audit_append(struct vault *v, const struct audit_event *e)
{
	struct store *s = vault_store(v);
	struct store_audit r;
	uint8_t kcp[AUDIT_HASH_LEN], prev[AUDIT_HASH_LEN];
	int64_t prev_seq = 0;
	int own = 0, have_key = 0, rc;

	rc = event_to_record(e, &r);
	if (rc != CC_OK) {
		log_error(MOD, "refusing a malformed audit event (%s)", cc_strerror(rc));
		return rc;
	}
	if (!s->ops->in_transaction(s)) {
		rc = s->ops->begin(s);
		if (rc != CC_OK)
			return rc;
		own = 1;
	}
	rc = predecessor(v, 1, &prev_seq, prev, kcp, &have_key);
	if (rc == CC_OK && !have_key)
		rc = CC_ERR_STATE;
	if (rc == CC_OK && prev_seq == INT64_MAX)
		rc = CC_ERR_LIMIT;
	if (rc == CC_OK) {
		r.seq = prev_seq + 1;
		r.hash_len = AUDIT_HASH_LEN;
		rc = audit_record_hash(prev, &r, r.hash);
	}
	if (rc == CC_OK) {
		rc = s->ops->audit_insert(s, &r);
		if (rc == CC_ERR_EXISTS) {
			log_error(MOD, "audit seq %lld is taken although the checkpoint says it is free",
			          (long long)r.seq);
			rc = CC_ERR_CORRUPT;
		}
	}
	if (rc == CC_OK)
		rc = checkpoint_write(s, kcp, r.seq, r.hash);
	if (rc == CC_OK && own)
		rc = s->ops->commit(s);
	if (rc != CC_OK && own)
		s->ops->rollback(s);
	crypto_wipe(kcp, sizeof(kcp));
	return rc;
}

int audit_ready(struct vault *v)
{
	struct store *s = vault_store(v);
	uint8_t kcp[AUDIT_HASH_LEN], prev[AUDIT_HASH_LEN];
	int64_t seq = 0;
	int have_key = 0, own = 0, rc;

	if (!s->ops->in_transaction(s)) {
		rc = s->ops->begin_read(s);
		if (rc != CC_OK)
			return rc;
		own = 1;
	}
	rc = predecessor(v, 0, &seq, prev, kcp, &have_key);
	if (own)
		s->ops->rollback(s);
	crypto_wipe(kcp, sizeof(kcp));
	return rc;
}

/* ---- verifying ---- */

#define WALK_STOP 1

struct walker {
	struct audit_report *out;
	int64_t expect;                 /* the seq the next row must have */
	uint8_t prev[AUDIT_HASH_LEN];   /* hash of the last verified row (hash_0 at first) */
	uint8_t prev2[AUDIT_HASH_LEN];  /* the one before it */
	int have_prev2;
	int found;                      /* damage found: out says where */
	struct store_audit suspect;     /* a row that did not chain, waiting for the next */
	int have_suspect;
	int64_t cp_seq;                 /* the checkpoint's seq, to remember that row's hash */
	uint8_t cp_row_hash[AUDIT_HASH_LEN];
	int cp_row_seen;
	int64_t last_seq;
	int err;                        /* a failure of the walk itself */
};

static void report(struct walker *w, enum audit_damage d, int64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report(struct walker *w, enum audit_damage d, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	w->found = 1;
	w->out->damage = d;
	w->out->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(w->out->detail, sizeof(w->out->detail), fmt, ap);
	va_end(ap);
}

/* 1 when r, given seq `as`, chains from prev to its stored hash. */
static int chains(struct walker *w, const uint8_t prev[AUDIT_HASH_LEN], const struct store_audit *r, int64_t as)
{
	struct store_audit copy;
	uint8_t h[AUDIT_HASH_LEN];
	int rc;

	if (r->hash_len != AUDIT_HASH_LEN)
		return 0;
	memcpy(&copy, r, sizeof(copy));
	copy.seq = as;
	rc = audit_record_hash(prev, &copy, h);
	if (rc == CC_ERR_LIMIT) /* a field longer than any append writes */
		return 0;
	if (rc != CC_OK) {
		w->err = rc;
		return 0;
	}
	return crypto_equal(h, r->hash, AUDIT_HASH_LEN);
}

/* The suspect row did not chain; next (or NULL at the end) tells why. */
static void classify_suspect(struct walker *w, const struct store_audit *next)
{
	const struct store_audit *r = &w->suspect;

	/* The next row chains from our predecessor as if it had the suspect's
	 * seq: the suspect was slipped in and later rows renumbered. */
	if (next != NULL && next->seq == r->seq + 1 && chains(w, w->prev, next, r->seq))
		report(w, AUDIT_INSERTED, r->seq, "record %lld was inserted: it does not chain, and the "
		       "records after it were renumbered", (long long)r->seq);
	else
		report(w, AUDIT_EDITED, r->seq, "record %lld was edited: its content no longer matches "
		       "its hash", (long long)r->seq);
}

static int walk_row(void *arg, const struct store_audit *r)
{
	struct walker *w = arg;

	if (w->have_suspect) {
		classify_suspect(w, r);
		return WALK_STOP;
	}
	if (r->seq < w->expect) {
		report(w, AUDIT_INSERTED, r->seq, "record %lld repeats or precedes a seq already seen",
		       (long long)r->seq);
		return WALK_STOP;
	}
	if (r->seq > w->expect) {
		if (r->seq - 1 > w->expect)
			report(w, AUDIT_REMOVED, w->expect, "records %lld to %lld were removed",
			       (long long)w->expect, (long long)(r->seq - 1));
		else
			report(w, AUDIT_REMOVED, w->expect, "record %lld was removed", (long long)w->expect);
		return WALK_STOP;
	}
	if (!chains(w, w->prev, r, r->seq)) {
		if (w->err != CC_OK)
			return WALK_STOP;
		/* It chains from the hash before last as the previous seq: the
		 * previous record, which chained, was a forgery slipped in. */
		if (w->have_prev2 && chains(w, w->prev2, r, r->seq - 1)) {
			report(w, AUDIT_INSERTED, r->seq - 1, "record %lld was inserted: the records after "
			       "it were renumbered", (long long)(r->seq - 1));
			return WALK_STOP;
		}
		if (w->err != CC_OK)
			return WALK_STOP;
		memcpy(&w->suspect, r, sizeof(w->suspect));
		w->have_suspect = 1;
		return 0;
	}
	memcpy(w->prev2, w->prev, AUDIT_HASH_LEN);
	w->have_prev2 = 1;
	memcpy(w->prev, r->hash, AUDIT_HASH_LEN);
	if (r->seq == w->cp_seq) {
		memcpy(w->cp_row_hash, r->hash, AUDIT_HASH_LEN);
		w->cp_row_seen = 1;
	}
	w->last_seq = r->seq;
	w->expect = r->seq + 1;
	w->out->records++;
	return 0;
}

/* With the rows consistent: does the checkpoint vouch for them? */
static void check_checkpoint(struct vault *v, struct walker *w, const struct checkpoint *cp)
{
	uint8_t kcp[AUDIT_HASH_LEN];
	int rc;

	if (!cp->present) {
		if (w->last_seq > 0) {
			report(w, AUDIT_REWRITTEN, w->last_seq, "the keyed checkpoint is missing: the log "
			       "cannot be vouched for");
			return;
		}
		rc = checkpoint_key(v, 0, kcp);
		crypto_wipe(kcp, sizeof(kcp));
		if (rc == CC_OK)
			report(w, AUDIT_TRUNCATED, 1, "the audit log and its checkpoint are gone, but the "
			       "audit key exists: records had been written");
		else if (rc != CC_ERR_NOTFOUND)
			w->err = rc;
		return;
	}
	rc = checkpoint_key(v, 0, kcp);
	if (rc == CC_ERR_NOTFOUND) {
		report(w, AUDIT_REWRITTEN, cp->parsed ? cp->seq : w->last_seq,
		       "there is a checkpoint but no audit key in the keyring");
		return;
	}
	if (rc != CC_OK) {
		w->err = rc;
		return;
	}
	if (!checkpoint_authentic(cp, kcp)) {
		crypto_wipe(kcp, sizeof(kcp));
		report(w, AUDIT_REWRITTEN, cp->parsed ? cp->seq : w->last_seq, "the checkpoint does "
		       "not authenticate: it was written without the audit key");
		return;
	}
	crypto_wipe(kcp, sizeof(kcp));
	if (cp->seq > w->last_seq) {
		if (cp->seq - 1 > w->last_seq)
			report(w, AUDIT_TRUNCATED, w->last_seq + 1, "records %lld to %lld were cut off the "
			       "end: the checkpoint names %lld", (long long)(w->last_seq + 1),
			       (long long)cp->seq, (long long)cp->seq);
		else
			report(w, AUDIT_TRUNCATED, w->last_seq + 1, "record %lld was cut off the end",
			       (long long)cp->seq);
		return;
	}
	if (!w->cp_row_seen || !crypto_equal(w->cp_row_hash, cp->hash, AUDIT_HASH_LEN)) {
		report(w, AUDIT_REWRITTEN, cp->seq, "the chain up to record %lld was rewritten: it is "
		       "consistent, but not the one the keyed checkpoint vouches for", (long long)cp->seq);
		return;
	}
	if (w->last_seq > cp->seq)
		report(w, AUDIT_INSERTED, cp->seq + 1, "record %lld and later were added after the "
		       "checkpoint, not by CoffeeCloud", (long long)(cp->seq + 1));
}

int audit_verify(struct vault *v, struct audit_report *out)
{
	struct store *s = vault_store(v);
	struct store_audit_filter all;
	struct checkpoint cp;
	struct walker *w;
	int rc, own = 0;

	/* The suspect row makes the walker large: keep it off the stack. */
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return CC_ERR_NOMEM;
	memset(out, 0, sizeof(*out));
	memset(&all, 0, sizeof(all));
	w->out = out;
	w->expect = 1;
	if (!s->ops->in_transaction(s)) {
		rc = s->ops->begin_read(s);
		if (rc != CC_OK)
			goto out;
		own = 1;
	}
	rc = checkpoint_read(s, &cp);
	if (rc == CC_OK)
		rc = audit_genesis(v, w->prev);
	if (rc != CC_OK)
		goto out;
	w->cp_seq = cp.parsed ? cp.seq : -1;
	rc = s->ops->audit_each(s, &all, walk_row, w);
	if (rc == WALK_STOP)
		rc = CC_OK;
	if (rc == CC_OK)
		rc = w->err;
	if (rc != CC_OK)
		goto out;
	if (!w->found && w->have_suspect)
		classify_suspect(w, NULL);
	if (!w->found)
		check_checkpoint(v, w, &cp);
	rc = w->err;
	if (rc != CC_OK)
		goto out;
	memcpy(out->head_hash, w->prev, AUDIT_HASH_LEN);
	if (w->found) {
		rc = CC_ERR_CORRUPT;
	} else {
		out->damage = AUDIT_INTACT;
		snprintf(out->detail, sizeof(out->detail), "%lld records, chain and checkpoint intact",
		         (long long)out->records);
	}
out:
	if (own)
		s->ops->rollback(s);
	free(w);
	return rc;
}

/* ---- listing ---- */

int audit_list(struct vault *v, const struct audit_filter *f,
               int (*each)(void *ctx, const struct store_audit *r), void *ctx)
{
	struct store *s = vault_store(v);
	struct store_audit_filter sf;

	memset(&sf, 0, sizeof(sf));
	if (f != NULL) {
		sf.from_ms = f->from_ms;
		sf.to_ms = f->to_ms;
		sf.action_prefix = f->action_prefix;
		sf.serial = f->serial;
		sf.customer_id = f->customer_id;
		sf.actor = f->actor;
		sf.limit = f->limit;
		sf.newest_first = f->newest_first;
		sf.before_seq = f->before_seq;
	}
	return s->ops->audit_each(s, &sf, each, ctx);
}
