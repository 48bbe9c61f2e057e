#include "access/throttle.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/err.h"
#include "common/limits.h"
#include "crypto/aead.h"

#define ID_LEN 16
#define KEY_LEN 32

struct entry {
	uint8_t id[ID_LEN]; /* keyed hash of the login, or of login and source */
	int used;
	unsigned failures;
	int64_t last_ms;  /* last failure (or sign-in, for trusted pairs) */
	int64_t until_ms; /* no try before this */
};

struct table {
	struct entry *e;
	size_t cap;
};

struct throttle {
	uint8_t key[KEY_LEN];
	struct table pairs, logins, trusted;
};

static int table_init(struct table *t, size_t cap)
{
	t->e = calloc(cap, sizeof(*t->e));
	t->cap = cap;
	return t->e != NULL ? CC_OK : CC_ERR_NOMEM;
}

int throttle_new(struct throttle **out)
{
	struct throttle *t = calloc(1, sizeof(*t));
	int rc;

	if (t == NULL)
		return CC_ERR_NOMEM;
	rc = crypto_random(t->key, sizeof(t->key));
	if (rc == CC_OK)
		rc = table_init(&t->pairs, CC_SIGNIN_PAIRS_MAX);
	if (rc == CC_OK)
		rc = table_init(&t->logins, CC_SIGNIN_LOGINS_MAX);
	if (rc == CC_OK)
		rc = table_init(&t->trusted, CC_SIGNIN_TRUSTED_MAX);
	if (rc != CC_OK) {
		throttle_free(t);
		return rc;
	}
	*out = t;
	return CC_OK;
}

void throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	free(t->pairs.e);
	free(t->logins.e);
	free(t->trusted.e);
	crypto_wipe(t, sizeof(*t));
	free(t);
}

enum { ID_LOGIN = 0, ID_PAIR = 1, ID_TAG = 2 };

/* HMAC-SHA-256 of domain | login | NUL | source, cut to ID_LEN bytes. */
static void keyed_hash(const struct throttle *t, int domain, const char *login, const char *source, uint8_t id[ID_LEN])
{
	unsigned char buf[1 + CC_NAME_MAX * 2 + 1 + 128], mac[EVP_MAX_MD_SIZE];
	size_t ll = strlen(login), sl = source != NULL ? strlen(source) : 0, n = 0;
	unsigned len = 0;

	if (ll > CC_NAME_MAX * 2)
		ll = CC_NAME_MAX * 2;
	if (sl > 128)
		sl = 128;
	buf[n++] = (unsigned char)domain;
	memcpy(buf + n, login, ll);
	n += ll;
	buf[n++] = 0;
	if (sl > 0)
		memcpy(buf + n, source, sl);
	n += sl;
	if (HMAC(EVP_sha256(), t->key, sizeof(t->key), buf, n, mac, &len) == NULL)
		memset(mac, 0, sizeof(mac)); /* fails closed: everything shares one entry */
	memcpy(id, mac, ID_LEN);
}

/* The entry for id; with create, a new one in place of the oldest when the
 * table is full. NULL when absent (and not created). */
static struct entry *find(struct table *t, const uint8_t id[ID_LEN], int create)
{
	struct entry *oldest = NULL;
	size_t i;

	for (i = 0; i < t->cap; i++) {
		struct entry *e = &t->e[i];

		if (e->used && memcmp(e->id, id, ID_LEN) == 0)
			return e;
		if (oldest == NULL || !e->used || (oldest->used && e->last_ms < oldest->last_ms))
			oldest = e;
	}
	if (!create || oldest == NULL)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	memcpy(oldest->id, id, ID_LEN);
	oldest->used = 1;
	return oldest;
}

/* Failures older than THROTTLE_FORGET_MS no longer count. */
static void forget_stale(struct entry *e, int64_t now_ms)
{
	if (e != NULL && e->last_ms + THROTTLE_FORGET_MS < now_ms && e->until_ms <= now_ms) {
		e->failures = 0;
		e->until_ms = 0;
	}
}

static int64_t shifted(int64_t base, unsigned shift, int64_t max)
{
	if (shift > 20)
		return max;
	base <<= shift;
	return base > max ? max : base;
}

/* The gap between tries of a slowed-down login. */
static int64_t login_gap(const struct entry *l)
{
	return shifted(THROTTLE_LOGIN_GAP_MS, (l->failures - THROTTLE_LOGIN_SLOW) / 20, THROTTLE_LOGIN_GAP_MAX_MS);
}

static int trusted(struct throttle *t, const uint8_t pair[ID_LEN], int64_t now_ms)
{
	struct entry *e = find(&t->trusted, pair, 0);

	return e != NULL && e->last_ms + THROTTLE_TRUST_MS >= now_ms;
}

int64_t throttle_admit(struct throttle *t, const char *login, const char *source, int64_t now_ms)
{
	uint8_t pid[ID_LEN], lid[ID_LEN];
	struct entry *p, *l;

	keyed_hash(t, ID_PAIR, login, source, pid);
	keyed_hash(t, ID_LOGIN, login, NULL, lid);
	p = find(&t->pairs, pid, 0);
	forget_stale(p, now_ms);
	if (p != NULL && p->until_ms > now_ms)
		return p->until_ms - now_ms;
	l = find(&t->logins, lid, 0);
	forget_stale(l, now_ms);
	if (l == NULL || l->failures < THROTTLE_LOGIN_SLOW || trusted(t, pid, now_ms))
		return 0;
	if (l->until_ms > now_ms)
		return l->until_ms - now_ms;
	/* Slowed down: this try takes the login's next slot (its failure
	 * moves the slot on again, counted from its answer). */
	l->until_ms = now_ms + login_gap(l);
	return 0;
}

int64_t throttle_failed(struct throttle *t, const char *login, const char *source, int64_t now_ms)
{
	uint8_t pid[ID_LEN], lid[ID_LEN];
	struct entry *p, *l;
	int64_t hold;

	keyed_hash(t, ID_PAIR, login, source, pid);
	keyed_hash(t, ID_LOGIN, login, NULL, lid);
	l = find(&t->logins, lid, 1);
	forget_stale(l, now_ms);
	if (l != NULL) {
		l->failures++;
		l->last_ms = now_ms;
		if (l->failures >= THROTTLE_LOGIN_SLOW && l->until_ms < now_ms + login_gap(l))
			l->until_ms = now_ms + login_gap(l);
	}
	p = find(&t->pairs, pid, 1);
	forget_stale(p, now_ms);
	if (p == NULL)
		return 5000;
	p->failures++;
	p->last_ms = now_ms;
	if (p->failures >= THROTTLE_PAIR_FREE)
		p->until_ms = now_ms + shifted(THROTTLE_PAIR_WAIT_MS, p->failures - THROTTLE_PAIR_FREE,
		                               THROTTLE_PAIR_WAIT_MAX_MS);
	hold = shifted(100, p->failures - 1, 5000);
	return hold;
}

void throttle_succeeded(struct throttle *t, const char *login, const char *source, int64_t now_ms)
{
	uint8_t pid[ID_LEN];
	struct entry *p, *tr;

	keyed_hash(t, ID_PAIR, login, source, pid);
	p = find(&t->pairs, pid, 0);
	if (p != NULL)
		memset(p, 0, sizeof(*p));
	tr = find(&t->trusted, pid, 1);
	if (tr != NULL)
		tr->last_ms = now_ms;
}

void throttle_tag(const struct throttle *t, const char *text, char out[17])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t id[ID_LEN];
	size_t i;

	keyed_hash(t, ID_TAG, text, NULL, id);
	for (i = 0; i < 8; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[16] = '\0';
}

static size_t used(const struct table *t)
{
	size_t i, n = 0;

	for (i = 0; i < t->cap; i++)
		n += t->e[i].used != 0;
	return n;
}

void throttle_sizes(const struct throttle *t, size_t *pairs, size_t *logins, size_t *trusted_n)
{
	*pairs = used(&t->pairs);
	*logins = used(&t->logins);
	*trusted_n = used(&t->trusted);
}
