#include "records/rollup.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "ingest/catalogue.h"
#include "ingest/jscan.h"
#include "ingest/message.h"
#include "records/records.h"

#define MOD "rollup"

/* ---- one summary ---- */

void rollup_summary_free(struct rollup_summary *s)
{
	free(s->m);
	memset(s, 0, sizeof(*s));
}

static struct rollup_metric *metric_of(struct rollup_summary *s, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < s->nmetrics; i++)
		if (s->m[i].len == len && memcmp(s->m[i].name, name, len) == 0)
			return &s->m[i];
	if (len > CC_NAME_MAX || s->nmetrics == INGEST_METRICS_MAX)
		return NULL;
	if (s->nmetrics == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct rollup_metric *grown = realloc(s->m, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		s->m = grown;
		s->cap = cap;
	}
	memset(&s->m[s->nmetrics], 0, sizeof(s->m[0]));
	memcpy(s->m[s->nmetrics].name, name, len);
	s->m[s->nmetrics].len = len;
	return &s->m[s->nmetrics++];
}

/* Keeps the reading's text when it fits, else its value written shortest
 * (the same number: 17 significant digits round-trip an IEEE double). */
static void set_last(struct rollup_metric *x, int64_t ts, double v, const char *raw, size_t rawlen)
{
	int n;

	x->last_ts = ts;
	if (raw != NULL && rawlen <= ROLLUP_LAST_MAX) {
		memcpy(x->last, raw, rawlen);
		x->last_len = rawlen;
	} else {
		n = snprintf(x->last, sizeof(x->last), "%.15g", v);
		if (n > 0 && strtod(x->last, NULL) != v)
			n = snprintf(x->last, sizeof(x->last), "%.17g", v);
		x->last_len = n > 0 && (size_t)n <= ROLLUP_LAST_MAX ? (size_t)n : 0;
	}
	x->last[x->last_len] = '\0';
}

static int add_reading(struct rollup_summary *s, const char *name, size_t len, double v, int64_t ts,
                       const char *raw, size_t rawlen)
{
	struct rollup_metric *x;

	/* No catalogue metric is named longer, nor does a model have as many:
	 * such a reading (never stored by ingest) summarises nothing. */
	if (len > CC_NAME_MAX || (s->nmetrics == INGEST_METRICS_MAX && metric_of(s, name, len) == NULL))
		return CC_OK;
	x = metric_of(s, name, len);
	if (x == NULL)
		return CC_ERR_NOMEM;
	if (x->count == 0 || v < x->min)
		x->min = v;
	if (x->count == 0 || v > x->max)
		x->max = v;
	x->sum += v;
	if (x->count == 0 || ts >= x->last_ts)
		set_last(x, ts, v, raw, rawlen);
	x->count++;
	return CC_OK;
}

/* Adds part to into. The last reading is the later one; of two at the same
 * time, part's when part_is_newer (it was stored after into's). */
static int merge(struct rollup_summary *into, const struct rollup_summary *part, int part_is_newer)
{
	size_t i;

	into->records += part->records;
	for (i = 0; i < part->nmetrics; i++) {
		const struct rollup_metric *a = &part->m[i];
		struct rollup_metric *b = metric_of(into, a->name, a->len);

		if (b == NULL)
			return CC_ERR_LIMIT;
		if (b->count == 0 || a->min < b->min)
			b->min = a->min;
		if (b->count == 0 || a->max > b->max)
			b->max = a->max;
		b->sum += a->sum;
		if (b->count == 0 || a->last_ts > b->last_ts || (part_is_newer && a->last_ts == b->last_ts)) {
			b->last_ts = a->last_ts;
			memcpy(b->last, a->last, a->last_len + 1);
			b->last_len = a->last_len;
		}
		b->count += a->count;
	}
	return CC_OK;
}

struct body_scan {
	struct rollup_summary *s;
	int64_t ts;
	int in_m;
	const char *name;
	size_t len;
	int rc;
};

static int on_token(void *ctx, const struct jscan_token *t)
{
	struct body_scan *b = ctx;

	if (t->depth == 1 && t->type == JSCAN_KEY) {
		b->in_m = t->len == 1 && t->s[0] == 'm';
		return 0;
	}
	if (!b->in_m || t->depth != 2)
		return 0;
	if (t->type == JSCAN_KEY) {
		b->name = t->s;
		b->len = t->len;
		return 0;
	}
	if ((t->type == JSCAN_INTEGER || t->type == JSCAN_REAL) && b->name != NULL)
		b->rc = add_reading(b->s, b->name, b->len, t->d, b->ts, t->s, t->len);
	b->name = NULL;
	return b->rc != CC_OK;
}

/* One record's readings into one (emptied first, its allocation kept):
 * one->records is 1 when it had any. */
static int scan_record(struct rollup_summary *one, int64_t ts, const char *body, size_t len)
{
	struct body_scan b = { one, ts, 0, NULL, 0, CC_OK };
	struct jscan js;
	int rc;

	one->records = 0;
	one->nmetrics = 0;
	rc = jscan_run(&js, (const uint8_t *)body, len, on_token, &b);
	if (rc == JSCAN_DECLINED) {
		/* Ingest accepted it through jansson (a real of more than 15
		 * significant digits, say): jansson reads it here too. */
		json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL), *value;
		const char *name;

		one->nmetrics = 0;
		b.rc = CC_OK;
		json_object_foreach(json_object_get(doc, "m"), name, value)
			if (json_is_number(value) && b.rc == CC_OK)
				b.rc = add_reading(one, name, strlen(name), json_number_value(value), ts, NULL, 0);
		json_decref(doc);
		rc = JSCAN_OK;
	}
	if (b.rc != CC_OK)
		return b.rc;
	one->records = rc == JSCAN_OK && one->nmetrics > 0;
	return CC_OK;
}

int rollup_summary_add(struct rollup_summary *s, int64_t ts_ms, const char *body, size_t len)
{
	struct rollup_summary one = { 0, 0, 0, 0, NULL };
	int rc = scan_record(&one, ts_ms, body, len);

	if (rc == CC_OK && one.records > 0)
		rc = merge(s, &one, 1);
	rollup_summary_free(&one);
	return rc;
}

/* ---- the binary body ---- */

static void put_u64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint64_t bits_of(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double double_of(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

#define BODY_HEAD 13             /* "RU2" + u64 records + u16 metrics */
#define BODY_METRIC_V1(len) (1 + (len) + 32)
#define BODY_METRIC(len, last) (1 + (len) + 32 + 9 + (last))

static int encode(const struct rollup_summary *s, uint8_t **out, size_t *len)
{
	size_t i, n = BODY_HEAD, at;
	uint8_t *p;

	for (i = 0; i < s->nmetrics; i++)
		n += BODY_METRIC(s->m[i].len, s->m[i].last_len);
	p = malloc(n);
	if (p == NULL)
		return CC_ERR_NOMEM;
	memcpy(p, "RU2", 3);
	put_u64(p + 3, (uint64_t)s->records);
	p[11] = (uint8_t)(s->nmetrics & 0xff);
	p[12] = (uint8_t)(s->nmetrics >> 8);
	for (i = 0, at = BODY_HEAD; i < s->nmetrics; i++) {
		const struct rollup_metric *x = &s->m[i];

		p[at++] = (uint8_t)x->len;
		memcpy(p + at, x->name, x->len);
		at += x->len;
		put_u64(p + at, (uint64_t)x->count);
		put_u64(p + at + 8, bits_of(x->min));
		put_u64(p + at + 16, bits_of(x->max));
		put_u64(p + at + 24, bits_of(x->sum));
		at += 32;
		put_u64(p + at, (uint64_t)x->last_ts);
		p[at + 8] = (uint8_t)x->last_len;
		memcpy(p + at + 9, x->last, x->last_len);
		at += 9 + x->last_len;
	}
	*out = p;
	*len = n;
	return CC_OK;
}

/* CC_ERR_CORRUPT for anything but a whole body (it opened, so this is a
 * bug or an older format, never an attack: it is authenticated). */
static int decode(const uint8_t *p, size_t len, struct rollup_summary *s)
{
	size_t i, at = BODY_HEAD, nm;
	int v1;

	if (len < BODY_HEAD || (memcmp(p, "RU1", 3) != 0 && memcmp(p, "RU2", 3) != 0))
		return CC_ERR_CORRUPT;
	v1 = p[2] == '1';
	s->records = (int64_t)get_u64(p + 3);
	nm = (size_t)p[11] | (size_t)p[12] << 8;
	for (i = 0; i < nm; i++) {
		struct rollup_metric *x;
		size_t nl;

		if (at >= len || (nl = p[at]) > CC_NAME_MAX || at + BODY_METRIC_V1(nl) > len)
			return CC_ERR_CORRUPT;
		x = metric_of(s, (const char *)p + at + 1, nl);
		if (x == NULL)
			return CC_ERR_NOMEM;
		at += 1 + nl;
		x->count = (int64_t)get_u64(p + at);
		x->min = double_of(get_u64(p + at + 8));
		x->max = double_of(get_u64(p + at + 16));
		x->sum = double_of(get_u64(p + at + 24));
		at += 32;
		x->last_ts = INT64_MIN;
		x->last_len = 0;
		if (!v1) {
			if (at + 9 > len || p[at + 8] > ROLLUP_LAST_MAX || at + 9 + p[at + 8] > len)
				return CC_ERR_CORRUPT;
			x->last_ts = (int64_t)get_u64(p + at);
			x->last_len = p[at + 8];
			memcpy(x->last, p + at + 9, x->last_len);
			at += 9 + x->last_len;
		}
		x->last[x->last_len] = '\0';
	}
	return at == len ? CC_OK : CC_ERR_CORRUPT;
}

static void summary_ad(struct seal_ad *ad, const struct store_machine *m, int64_t width, int64_t start)
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = SEAL_ROLLUP;
	ad->org_id = m->customer_id;
	ad->subject_id = m->id;
	ad->seq = width;
	ad->ts_ms = start;
	ad->name = m->serial;
}

/* Opens and decodes a sealed summary into *s (emptied first). */
static int open_summary(struct vault *v, const struct store_machine *m, int64_t width, int64_t start,
                        const uint8_t *blob, size_t len, struct rollup_summary *s)
{
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t plen = 0;
	int rc;

	summary_ad(&ad, m, width, start);
	rc = vault_unseal(v, &ad, blob, len, &pt, &plen);
	if (rc != CC_OK)
		return rc;
	s->records = 0;
	s->nmetrics = 0;
	s->start_ms = start;
	rc = decode(pt, plen, s);
	crypto_wipe(pt, plen);
	free(pt);
	return rc;
}

static int64_t floor_to(int64_t ts, int64_t width)
{
	return ts - ((ts % width) + width) % width;
}

/* ---- a settle round ---- */

/* (a, b, c) -> an index, open addressing; a round looks one up per record. */
#define GONE LONG_MAX /* a machine deleted meanwhile */
struct slot {
	int64_t a, b, c;
	long v; /* -1: free */
};
struct idmap {
	struct slot *t;
	size_t cap, n; /* cap: a power of two */
};

static size_t idmap_hash(int64_t a, int64_t b, int64_t c)
{
	uint64_t h = (uint64_t)a * 0x9E3779B97F4A7C15u ^ (uint64_t)b * 0xC2B2AE3D27D4EB4Fu ^ (uint64_t)c * 0x165667B19E3779F9u;

	return (size_t)(h ^ (h >> 29));
}

static long *idmap_slot(struct idmap *m, int64_t a, int64_t b, int64_t c, int *made)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024, k;
		struct slot *t = malloc(cap * sizeof(*t));

		if (t == NULL)
			return NULL;
		for (k = 0; k < cap; k++)
			t[k].v = -1;
		for (k = 0; k < m->cap; k++)
			if (m->t[k].v >= 0) {
				for (i = idmap_hash(m->t[k].a, m->t[k].b, m->t[k].c) & (cap - 1); t[i].v >= 0; i = (i + 1) & (cap - 1))
					;
				t[i] = m->t[k];
			}
		free(m->t);
		m->t = t;
		m->cap = cap;
	}
	for (i = idmap_hash(a, b, c) & (m->cap - 1); m->t[i].v >= 0; i = (i + 1) & (m->cap - 1))
		if (m->t[i].a == a && m->t[i].b == b && m->t[i].c == c) {
			*made = 0;
			return &m->t[i].v;
		}
	m->t[i].a = a;
	m->t[i].b = b;
	m->t[i].c = c;
	m->n++;
	*made = 1;
	return &m->t[i].v;
}

static void idmap_clear(struct idmap *m)
{
	size_t k;

	for (k = 0; k < m->cap; k++)
		m->t[k].v = -1;
	m->n = 0;
}

struct pending {
	int64_t machine_id, width;
	struct rollup_summary s;
};

struct rollup_round {
	struct vault *v;
	struct idmap machines; /* (id, 0, 0) -> index into known, or GONE */
	struct store_machine *known;
	size_t nknown, capknown;
	struct idmap index; /* (machine, width, start) -> index into pending */
	struct pending *pending;
	size_t npending, cappending;
	uint8_t *buf;     /* a sealed summary read back */
	struct rollup_summary stored;
	struct rollup_summary one; /* the record being added */
};

int rollup_round_new(struct vault *v, struct rollup_round **out)
{
	struct rollup_round *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return CC_ERR_NOMEM;
	r->v = v;
	r->buf = malloc(CC_ROLLUP_SEALED_MAX);
	if (r->buf == NULL) {
		rollup_round_free(r);
		return CC_ERR_NOMEM;
	}
	*out = r;
	return CC_OK;
}

static void round_clear(struct rollup_round *r)
{
	size_t i;

	for (i = 0; i < r->npending; i++)
		rollup_summary_free(&r->pending[i].s);
	r->npending = 0;
	r->nknown = 0;
	idmap_clear(&r->index);
	idmap_clear(&r->machines);
}

void rollup_round_free(struct rollup_round *r)
{
	if (r == NULL)
		return;
	round_clear(r);
	free(r->machines.t);
	free(r->index.t);
	free(r->known);
	free(r->pending);
	free(r->buf);
	rollup_summary_free(&r->stored);
	rollup_summary_free(&r->one);
	free(r);
}

/* The machine of a record, read once per round (its customer and serial
 * are in the seal of its records). NULL: gone meanwhile. */
static const struct store_machine *machine_of(struct rollup_round *r, int64_t id)
{
	struct store *s = vault_store(r->v);
	int made = 0;
	long *at = idmap_slot(&r->machines, id, 0, 0, &made);

	if (at == NULL)
		return NULL;
	if (!made)
		return *at == GONE ? NULL : &r->known[*at];
	*at = GONE;
	if (r->nknown == r->capknown) {
		size_t cap = r->capknown ? r->capknown * 2 : 256;
		struct store_machine *grown = realloc(r->known, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		r->known = grown;
		r->capknown = cap;
	}
	if (s->ops->machine_get(s, id, &r->known[r->nknown]) != CC_OK)
		return NULL;
	*at = (long)r->nknown;
	return &r->known[r->nknown++];
}

static struct rollup_summary *pending_of(struct rollup_round *r, int64_t machine_id, int64_t width, int64_t start)
{
	int made = 0;
	long *at = idmap_slot(&r->index, machine_id, width, start, &made);

	if (at == NULL)
		return NULL;
	if (!made)
		return *at == GONE ? NULL : &r->pending[*at].s;
	*at = GONE; /* until it exists (a failed allocation leaves it so) */
	if (r->npending == r->cappending) {
		size_t cap = r->cappending ? r->cappending * 2 : 1024;
		struct pending *grown = realloc(r->pending, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		r->pending = grown;
		r->cappending = cap;
	}
	memset(&r->pending[r->npending], 0, sizeof(r->pending[0]));
	r->pending[r->npending].machine_id = machine_id;
	r->pending[r->npending].width = width;
	r->pending[r->npending].s.start_ms = start;
	*at = (long)r->npending;
	return &r->pending[r->npending++].s;
}

static int round_row(void *ctx, const struct store_record *rec)
{
	static const int64_t widths[2] = { ROLLUP_MINUTE_MS, ROLLUP_HOUR_MS };
	struct rollup_round *r = ctx;
	const struct store_machine *m;
	uint8_t *pt = NULL;
	size_t len = 0;
	int i, rc;

	if (rec->kind != RECORD_TELEMETRY || (m = machine_of(r, rec->machine_id)) == NULL)
		return CC_OK;
	rc = records_open_record(r->v, m, rec, &pt, &len);
	if (rc == CC_ERR_AUTH || rc == CC_ERR_CORRUPT || rc == CC_ERR_NOTFOUND)
		return CC_OK; /* damaged, or its customer's key destroyed: summarises nothing */
	if (rc != CC_OK)
		return rc;
	/* Read once, added to its minute and to its hour. */
	rc = scan_record(&r->one, rec->ts_ms, (const char *)pt, len);
	crypto_wipe(pt, len);
	free(pt);
	for (i = 0; i < 2 && rc == CC_OK && r->one.records > 0; i++) {
		struct rollup_summary *s = pending_of(r, m->id, widths[i], floor_to(rec->ts_ms, widths[i]));

		rc = s != NULL ? merge(s, &r->one, 1) : CC_ERR_NOMEM;
	}
	return rc;
}

static int round_finish(void *ctx, struct store *s)
{
	struct rollup_round *r = ctx;
	size_t i;
	int rc = CC_OK;

	for (i = 0; i < r->npending && rc == CC_OK; i++) {
		struct pending *p = &r->pending[i];
		const struct store_machine *m = machine_of(r, p->machine_id);
		struct seal_ad ad;
		uint8_t *plain = NULL, *blob = NULL;
		size_t len = 0, plen = 0, blen = 0;

		if (m == NULL || p->s.records == 0)
			continue;
		/* Read back what earlier rounds summarised of this bucket, and add. */
		rc = s->ops->rollup_get(s, m->id, p->width, p->s.start_ms, r->buf, CC_ROLLUP_SEALED_MAX, &len);
		if (rc == CC_OK) {
			rc = open_summary(r->v, m, p->width, p->s.start_ms, r->buf, len, &r->stored);
			if (rc == CC_OK)
				rc = merge(&p->s, &r->stored, 0);
			else if (rc == CC_ERR_AUTH || rc == CC_ERR_CORRUPT) {
				log_warn(MOD, "a summary of machine %s (at %lld) is damaged: rebuilt from new records only",
				         m->serial, (long long)p->s.start_ms);
				rc = CC_OK;
			}
		} else if (rc == CC_ERR_NOTFOUND || rc == CC_ERR_LIMIT) {
			rc = CC_OK;
		}
		if (rc == CC_OK)
			rc = encode(&p->s, &plain, &plen);
		if (rc == CC_OK) {
			summary_ad(&ad, m, p->width, p->s.start_ms);
			rc = vault_seal(r->v, &ad, plain, plen, &blob, &blen);
		}
		if (rc == CC_OK && blen > CC_ROLLUP_SEALED_MAX)
			rc = CC_ERR_LIMIT;
		if (rc == CC_OK)
			rc = s->ops->rollup_put(s, m->id, p->width, p->s.start_ms, blob, blen);
		if (rc == CC_ERR_NOTFOUND)
			rc = CC_OK; /* the customer's key was destroyed meanwhile: nothing to keep */
		free(plain);
		free(blob);
	}
	round_clear(r);
	return rc;
}

void rollup_round_hooks(struct rollup_round *r, struct store_settle_hooks *out)
{
	out->row = round_row;
	out->finish = round_finish;
	out->ctx = r;
}

/* ---- buckets ---- */

/* The bucket of ts: found by halving (they are kept by start), or made. */
static struct rollup_summary *bucket_for(struct rollup_buckets *bs, int64_t ts, int *rc)
{
	int64_t start = floor_to(ts, bs->width);
	size_t lo = 0, hi = bs->n;

	if (bs->n > 0 && bs->b[bs->n - 1].start_ms == start)
		return &bs->b[bs->n - 1];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (bs->b[mid].start_ms < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < bs->n && bs->b[lo].start_ms == start)
		return &bs->b[lo];
	if (bs->n == ROLLUP_BUCKETS_MAX) {
		*rc = CC_ERR_LIMIT;
		return NULL;
	}
	if (bs->n == bs->cap) {
		size_t cap = bs->cap ? bs->cap * 2 : 256;
		struct rollup_summary *grown = realloc(bs->b, cap * sizeof(*grown));

		if (grown == NULL) {
			*rc = CC_ERR_NOMEM;
			return NULL;
		}
		bs->b = grown;
		bs->cap = cap;
	}
	memmove(&bs->b[lo + 1], &bs->b[lo], (bs->n - lo) * sizeof(*bs->b));
	memset(&bs->b[lo], 0, sizeof(*bs->b));
	bs->b[lo].start_ms = start;
	bs->n++;
	return &bs->b[lo];
}

int rollup_buckets_add(struct rollup_buckets *bs, int64_t ts_ms, const char *body, size_t len)
{
	int rc = CC_OK;
	struct rollup_summary *b = bucket_for(bs, ts_ms, &rc);

	return b != NULL ? rollup_summary_add(b, ts_ms, body, len) : rc;
}

int rollup_buckets_each(const struct rollup_buckets *bs, int (*each)(void *ctx, const struct rollup_summary *b),
                        void *ctx)
{
	size_t i;
	int rc = CC_OK;

	for (i = 0; i < bs->n && rc == CC_OK; i++)
		if (bs->b[i].records > 0)
			rc = each(ctx, &bs->b[i]);
	return rc;
}

void rollup_buckets_free(struct rollup_buckets *bs)
{
	size_t i;

	for (i = 0; i < bs->n; i++)
		rollup_summary_free(&bs->b[i]);
	free(bs->b);
	bs->b = NULL;
	bs->n = bs->cap = 0;
}

/* ---- reading ---- */

struct reader {
	struct vault *v;
	const struct store_machine *m;
	int64_t stored_width;
	struct rollup_buckets bs;
	struct rollup_summary scratch;
	int64_t damaged;
};

static int read_summary(void *ctx, int64_t start, const uint8_t *body, size_t len)
{
	struct reader *rd = ctx;
	struct rollup_summary *b;
	int rc = open_summary(rd->v, rd->m, rd->stored_width, start, body, len, &rd->scratch);

	if (rc == CC_ERR_AUTH || rc == CC_ERR_CORRUPT) {
		if (rd->damaged++ == 0)
			log_warn(MOD, "a summary of machine %s (at %lld) is damaged (it does not open): skipped",
			         rd->m->serial, (long long)start);
		return 0;
	}
	if (rc != CC_OK)
		return rc;
	b = bucket_for(&rd->bs, start, &rc);
	return b != NULL ? merge(b, &rd->scratch, 0) : rc;
}

static int read_unsettled(void *ctx, const struct record_out *rec)
{
	struct reader *rd = ctx;

	return rollup_buckets_add(&rd->bs, rec->ts_ms, rec->body, rec->body_len);
}

int rollup_read(struct vault *v, const struct store_machine *m, int64_t width_ms, int64_t from_ms,
                int64_t to_ms, int (*each)(void *ctx, const struct rollup_summary *bucket), void *ctx,
                int64_t *damaged)
{
	struct store *s = vault_store(v);
	struct reader rd;
	int own = 0, rc;

	if (width_ms <= 0 || width_ms % ROLLUP_MINUTE_MS != 0 || from_ms % ROLLUP_MINUTE_MS != 0 ||
	    (to_ms != INT64_MAX && to_ms % ROLLUP_MINUTE_MS != 0))
		return CC_ERR_INVALID;
	memset(&rd, 0, sizeof(rd));
	rd.v = v;
	rd.m = m;
	rd.bs.width = width_ms;
	rd.stored_width = ROLLUP_MINUTE_MS;
	if (width_ms % ROLLUP_HOUR_MS == 0 && from_ms % ROLLUP_HOUR_MS == 0 &&
	    (to_ms == INT64_MAX || to_ms % ROLLUP_HOUR_MS == 0))
		rd.stored_width = ROLLUP_HOUR_MS;
	/* One snapshot: the inbox's records are exactly those the summaries lack. */
	if (!s->ops->in_transaction(s)) {
		rc = s->ops->begin_read(s);
		if (rc != CC_OK)
			return rc;
		own = 1;
	}
	rc = s->ops->rollup_each(s, m->id, rd.stored_width, from_ms, to_ms, read_summary, &rd);
	if (rc == CC_OK)
		rc = records_unsettled(v, m, RECORD_TELEMETRY, from_ms, to_ms, read_unsettled, &rd, &rd.damaged);
	if (own)
		s->ops->rollback(s);
	if (rc == CC_OK)
		rc = rollup_buckets_each(&rd.bs, each, ctx);
	if (damaged != NULL)
		*damaged = rd.damaged;
	rollup_buckets_free(&rd.bs);
	rollup_summary_free(&rd.scratch);
	return rc;
}

/* ---- the latest reading of each metric ---- */

struct latest_reader {
	struct vault *v;
	const struct store_machine *m;
	struct rollup_summary acc, scratch;
	int64_t damaged;
};

static int latest_summary(void *ctx, int64_t start, const uint8_t *body, size_t len)
{
	struct latest_reader *rd = ctx;
	int rc = open_summary(rd->v, rd->m, ROLLUP_HOUR_MS, start, body, len, &rd->scratch);

	if (rc == CC_ERR_AUTH || rc == CC_ERR_CORRUPT) {
		if (rd->damaged++ == 0)
			log_warn(MOD, "a summary of machine %s (at %lld) is damaged (it does not open): skipped",
			         rd->m->serial, (long long)start);
		return 0;
	}
	return rc == CC_OK ? merge(&rd->acc, &rd->scratch, 0) : rc;
}

static int latest_unsettled(void *ctx, const struct record_out *rec)
{
	struct latest_reader *rd = ctx;

	return rollup_summary_add(&rd->acc, rec->ts_ms, rec->body, rec->body_len);
}

/* 1 when every wanted metric of the model has a reading at or after
 * from_ms: nothing before it can hold a later one. */
static int latest_complete(struct latest_reader *rd, int64_t from_ms, int (*wanted)(void *, const char *), void *ctx)
{
	const struct catalogue_metric *cm;
	size_t i;

	for (i = 0; (cm = catalogue_metric_at(rd->m->model, i)) != NULL; i++) {
		const struct rollup_metric *x;
		size_t k, len = strlen(cm->name);

		if (!wanted(ctx, cm->name))
			continue;
		for (k = 0, x = NULL; k < rd->acc.nmetrics && x == NULL; k++)
			if (rd->acc.m[k].len == len && memcmp(rd->acc.m[k].name, cm->name, len) == 0)
				x = &rd->acc.m[k];
		if (x == NULL || x->last_len == 0 || x->last_ts < from_ms)
			return 0;
	}
	return 1;
}

int rollup_latest(struct vault *v, const struct store_machine *m, int (*wanted)(void *ctx, const char *name),
                  int (*each)(void *ctx, const struct rollup_metric *metric), void *ctx, int64_t *damaged)
{
	/* Hour summaries in widening windows back from now: the first holds
	 * every metric of a machine that is sending. */
	static const int64_t back_hours[] = { 2, 48, 24 * 31, 24 * 400 };
	struct store *s = vault_store(v);
	struct latest_reader rd;
	int64_t now = clock_now_ms(), to = INT64_MAX, from = 0;
	size_t w, i;
	int own = 0, rc;

	memset(&rd, 0, sizeof(rd));
	rd.v = v;
	rd.m = m;
	if (!s->ops->in_transaction(s)) {
		rc = s->ops->begin_read(s);
		if (rc != CC_OK)
			return rc;
		own = 1;
	}
	rc = records_unsettled(v, m, RECORD_TELEMETRY, 0, INT64_MAX, latest_unsettled, &rd, &rd.damaged);
	for (w = 0; rc == CC_OK && to > 0; w++) {
		from = w < sizeof(back_hours) / sizeof(back_hours[0])
		               ? floor_to(now, ROLLUP_HOUR_MS) - back_hours[w] * ROLLUP_HOUR_MS : 0;
		if (from < 0)
			from = 0;
		rc = s->ops->rollup_each(s, m->id, ROLLUP_HOUR_MS, from, to, latest_summary, &rd);
		if (rc == CC_OK && latest_complete(&rd, from, wanted, ctx))
			break;
		to = from;
	}
	if (own)
		s->ops->rollback(s);
	for (i = 0; rc == CC_OK && i < rd.acc.nmetrics; i++)
		if (rd.acc.m[i].last_len > 0 && wanted(ctx, rd.acc.m[i].name))
			rc = each(ctx, &rd.acc.m[i]);
	if (damaged != NULL)
		*damaged = rd.damaged;
	rollup_summary_free(&rd.acc);
	rollup_summary_free(&rd.scratch);
	return rc;
}
