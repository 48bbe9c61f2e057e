#include "records/event_days.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "ingest/jscan.h"

#define MOD "event-days"

/* The members a digest keeps: what compliance (quality/compliance.c:
 * type, product, program, result and the brew's measures of
 * quality/ruleset.c), beverages (fleet/beverages.c: type, product) and
 * forecasts (fleet/forecast.c: type, action, program, result, counter,
 * volume_ml) read. A report that needs another member adds it here; the
 * test holds the brew's measures to quality_field_name(). */
static const char *const kept[] = {
	"type", "product", "program", "action", "result", "counter", "temp_c", "brew_time_s", "volume_ml", "pressure_bar",
};
#define NKEPT (sizeof(kept) / sizeof(kept[0]))

/* A reduced event is short: the kept members are names and numbers. */
#define REDUCED_MAX 1024

/* ---- one event, reduced ---- */

struct reducer {
	char *out;
	size_t cap, len;
	int want; /* the last key at depth 1 is kept: copy its value */
	int rc;
};

static void put(struct reducer *r, const char *s, size_t n)
{
	if (r->rc != CC_OK)
		return;
	if (n > r->cap - r->len) {
		r->rc = CC_ERR_LIMIT;
		return;
	}
	memcpy(r->out + r->len, s, n);
	r->len += n;
}

/* A decoded string written back as JSON: quote, backslash and control
 * bytes escaped, the rest (valid UTF-8, jscan checked) as it is. */
static void put_string(struct reducer *r, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	put(r, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			put(r, esc, 2);
		} else if (c < 0x20) {
			put(r, esc, 6);
		} else {
			put(r, s + i, 1);
		}
	}
	put(r, "\"", 1);
}

static int on_token(void *ctx, const struct jscan_token *t)
{
	struct reducer *r = ctx;
	size_t k;

	if (t->depth != 1)
		return 0;
	if (t->type == JSCAN_KEY) {
		r->want = 0;
		for (k = 0; k < NKEPT; k++)
			if (strlen(kept[k]) == t->len && memcmp(kept[k], t->s, t->len) == 0)
				r->want = 1;
		if (r->want) {
			put(r, r->len > 1 ? ",\"" : "\"", r->len > 1 ? 2 : 1);
			put(r, t->s, t->len);
			put(r, "\":", 2);
		}
		return 0;
	}
	if (!r->want)
		return 0;
	r->want = 0;
	switch (t->type) {
	case JSCAN_STRING:
		put_string(r, t->s, t->len);
		break;
	case JSCAN_INTEGER:
	case JSCAN_REAL:
		put(r, t->s, t->len);
		break;
	case JSCAN_TRUE:
		put(r, "true", 4);
		break;
	case JSCAN_FALSE:
		put(r, "false", 5);
		break;
	default:
		/* An object or array where a name or number belongs: no report
		 * reads it; null keeps the member's place without its content. */
		put(r, "null", 4);
		break;
	}
	return r->rc;
}

int event_days_reduce(const char *body, size_t len, char *out, size_t cap, size_t *out_len)
{
	struct reducer r = { out, cap, 0, 0, CC_OK };
	struct jscan js;
	int rc;

	put(&r, "{", 1);
	rc = jscan_run(&js, (const uint8_t *)body, len, on_token, &r);
	if (rc == JSCAN_DECLINED)
		return CC_ERR_INVALID;
	if (rc != JSCAN_OK)
		return r.rc != CC_OK ? r.rc : CC_ERR_INVALID;
	put(&r, "}", 1);
	if (r.rc != CC_OK)
		return r.rc;
	*out_len = r.len;
	return CC_OK;
}

/* ---- the digest of a day: "ED1", then per event u64 seq, u64 ts, u32 length, the reduced body ---- */

#define MAGIC "ED1"
#define ENTRY_HEAD 20

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void digest_ad(struct seal_ad *ad, const struct store_machine *m, int64_t day_ms)
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = SEAL_ROLLUP;
	ad->org_id = m->customer_id;
	ad->subject_id = m->id;
	ad->seq = EVENT_DAYS_WIDTH_MS;
	ad->ts_ms = day_ms;
	ad->name = m->serial;
}

struct digest {
	uint8_t *p;
	size_t len, cap;
	size_t events;
	int rc;
};

static int digest_add(void *ctx, const struct record_out *rec)
{
	struct digest *d = ctx;
	char reduced[REDUCED_MAX];
	size_t rlen = 0;
	int rc = event_days_reduce(rec->body, rec->body_len, reduced, sizeof(reduced), &rlen);

	if (rc != CC_OK) {
		/* Ingest validated every event; one that does not reduce is kept
		 * out of digests altogether, the day read from its records. */
		d->rc = rc;
		return rc;
	}
	if (++d->events > EVENT_DAYS_EVENTS_MAX) {
		d->rc = CC_ERR_LIMIT;
		return d->rc;
	}
	if (d->len + ENTRY_HEAD + rlen > d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16384;
		uint8_t *grown;

		while (cap < d->len + ENTRY_HEAD + rlen)
			cap *= 2;
		grown = realloc(d->p, cap);
		if (grown == NULL) {
			d->rc = CC_ERR_NOMEM;
			return d->rc;
		}
		d->p = grown;
		d->cap = cap;
	}
	put_u64(d->p + d->len, (uint64_t)rec->seq);
	put_u64(d->p + d->len + 8, (uint64_t)rec->ts_ms);
	d->p[d->len + 16] = (uint8_t)rlen;
	d->p[d->len + 17] = (uint8_t)(rlen >> 8);
	d->p[d->len + 18] = 0;
	d->p[d->len + 19] = 0;
	memcpy(d->p + d->len + ENTRY_HEAD, reduced, rlen);
	d->len += ENTRY_HEAD + rlen;
	return 0;
}

/* Hands over the events of an opened digest with from <= ts < to. */
static int digest_each(const uint8_t *p, size_t len, int64_t from_ms, int64_t to_ms,
                       int (*each)(void *ctx, const struct record_out *r), void *ctx)
{
	size_t at = 3;
	int rc;

	if (len < 3 || memcmp(p, MAGIC, 3) != 0)
		return CC_ERR_CORRUPT;
	while (at < len) {
		struct record_out rec;
		size_t rlen;

		if (len - at < ENTRY_HEAD)
			return CC_ERR_CORRUPT;
		rlen = (size_t)p[at + 16] | (size_t)p[at + 17] << 8;
		if (p[at + 18] != 0 || p[at + 19] != 0 || rlen > REDUCED_MAX || len - at - ENTRY_HEAD < rlen)
			return CC_ERR_CORRUPT;
		rec.seq = (int64_t)get_u64(p + at);
		rec.ts_ms = (int64_t)get_u64(p + at + 8);
		rec.body = (const char *)p + at + ENTRY_HEAD;
		rec.body_len = rlen;
		at += ENTRY_HEAD + rlen;
		if (rec.ts_ms < from_ms || rec.ts_ms >= to_ms)
			continue;
		rc = each(ctx, &rec);
		if (rc != 0)
			return rc;
	}
	return CC_OK;
}

/* ---- reading ---- */

struct reader {
	struct vault *v;
	const struct store_machine *m;
	int64_t from_ms, to_ms, next_ms; /* next: the first time not handed over yet */
	int64_t first_day;
	size_t ndays;
	uint8_t *waiting; /* per day: records of it still in the inbox */
	int (*each)(void *ctx, const struct record_out *r);
	void *ctx;
	int64_t damaged;
};

static int day_index(const struct reader *rd, int64_t ts, size_t *i)
{
	int64_t d = (ts - rd->first_day) / EVENT_DAYS_DAY_MS;

	if (ts < rd->first_day || d < 0 || (uint64_t)d >= rd->ndays)
		return 0;
	*i = (size_t)d;
	return 1;
}

static int note_waiting(void *ctx, const struct store_record *rec)
{
	struct reader *rd = ctx;
	size_t i;

	if (day_index(rd, rec->ts_ms, &i))
		rd->waiting[i] = 1;
	return 0;
}

/* The records of [next, until), a day at a time (each day's by seq, as a
 * digest holds them), then next = until. */
static int records_up_to(struct reader *rd, int64_t until)
{
	int rc = CC_OK;

	if (until > rd->to_ms)
		until = rd->to_ms;
	while (rc == CC_OK && rd->next_ms < until) {
		int64_t end = rd->next_ms - rd->next_ms % EVENT_DAYS_DAY_MS + EVENT_DAYS_DAY_MS;

		if (end > until)
			end = until;
		rc = records_get(rd->v, rd->m, RECORD_EVENT, rd->next_ms, end, rd->each, rd->ctx);
		rd->next_ms = end;
	}
	return rc;
}

static int read_digest(void *ctx, int64_t day_ms, const uint8_t *blob, size_t len)
{
	struct reader *rd = ctx;
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t plen = 0, i;
	int rc;

	if (!day_index(rd, day_ms, &i) || rd->waiting[i] || day_ms + EVENT_DAYS_DAY_MS <= rd->next_ms)
		return 0;
	digest_ad(&ad, rd->m, day_ms);
	rc = vault_unseal(rd->v, &ad, blob, len, &pt, &plen);
	if (rc == CC_ERR_AUTH || rc == CC_ERR_CORRUPT) {
		if (rd->damaged++ == 0)
			log_warn(MOD, "a day's digest of machine %s (at %lld) is damaged (it does not open): its records "
			         "are read instead", rd->m->serial, (long long)day_ms);
		return 0;
	}
	if (rc != CC_OK)
		return rc;
	rc = records_up_to(rd, day_ms);
	if (rc == CC_OK)
		rc = digest_each(pt, plen, rd->from_ms, rd->to_ms, rd->each, rd->ctx);
	if (rc == CC_ERR_CORRUPT)
		log_warn(MOD, "a day's digest of machine %s (at %lld) does not decode", rd->m->serial, (long long)day_ms);
	crypto_wipe(pt, plen);
	free(pt);
	if (rc == CC_OK)
		rd->next_ms = day_ms + EVENT_DAYS_DAY_MS;
	return rc;
}

int event_days_get(struct vault *v, const struct store_machine *m, int64_t from_ms, int64_t to_ms,
                   int (*each)(void *ctx, const struct record_out *r), void *ctx)
{
	struct store *s = vault_store(v);
	struct reader rd;
	int own = 0, rc;

	if (from_ms < 0 || from_ms >= to_ms)
		return from_ms < 0 ? CC_ERR_INVALID : CC_OK;
	memset(&rd, 0, sizeof(rd));
	rd.v = v;
	rd.m = m;
	rd.from_ms = rd.next_ms = from_ms;
	rd.to_ms = to_ms;
	rd.each = each;
	rd.ctx = ctx;
	rd.first_day = from_ms - from_ms % EVENT_DAYS_DAY_MS;
	/* An open-ended range reads its records as they are (no digest is
	 * whole past "now" anyway). */
	if (to_ms == INT64_MAX || (to_ms - rd.first_day) / EVENT_DAYS_DAY_MS > 36600)
		return records_get(v, m, RECORD_EVENT, from_ms, to_ms, each, ctx);
	rd.ndays = (size_t)((to_ms - rd.first_day + EVENT_DAYS_DAY_MS - 1) / EVENT_DAYS_DAY_MS);
	rd.waiting = calloc(rd.ndays, 1);
	if (rd.waiting == NULL)
		return CC_ERR_NOMEM;
	/* One snapshot: a day's digest, the table and the inbox agree. */
	if (!s->ops->in_transaction(s)) {
		rc = s->ops->begin_read(s);
		if (rc != CC_OK) {
			free(rd.waiting);
			return rc;
		}
		own = 1;
	}
	rc = s->ops->records_unsettled(s, m->id, RECORD_EVENT, from_ms, to_ms, note_waiting, &rd);
	if (rc == CC_OK)
		rc = s->ops->rollup_each(s, m->id, EVENT_DAYS_WIDTH_MS, rd.first_day, to_ms, read_digest, &rd);
	if (rc == CC_OK)
		rc = records_up_to(&rd, to_ms);
	if (own)
		s->ops->rollback(s);
	free(rd.waiting);
	return rc;
}

/* ---- a settle round marks its days ---- */

struct event_days_round {
	int64_t (*days)[2]; /* (machine, day) of the round's events, deduplicated at finish */
	size_t n, cap;
};

int event_days_round_new(struct event_days_round **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? CC_OK : CC_ERR_NOMEM;
}

void event_days_round_free(struct event_days_round *r)
{
	if (r == NULL)
		return;
	free(r->days);
	free(r);
}

static int round_row(void *ctx, const struct store_record *rec)
{
	struct event_days_round *r = ctx;
	int64_t day;

	if (rec->kind != RECORD_EVENT || rec->ts_ms < 0)
		return CC_OK;
	day = rec->ts_ms - rec->ts_ms % EVENT_DAYS_DAY_MS;
	/* A round holds runs of one machine's records: most are repeats. */
	if (r->n > 0 && r->days[r->n - 1][0] == rec->machine_id && r->days[r->n - 1][1] == day)
		return CC_OK;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		int64_t(*grown)[2] = realloc(r->days, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		r->days = grown;
		r->cap = cap;
	}
	r->days[r->n][0] = rec->machine_id;
	r->days[r->n][1] = day;
	r->n++;
	return CC_OK;
}

static int cmp_pair(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

static int round_finish(void *ctx, struct store *s)
{
	struct event_days_round *r = ctx;
	size_t i;
	int rc = CC_OK;

	if (r->n > 1)
		qsort(r->days, r->n, sizeof(*r->days), cmp_pair);
	for (i = 0; i < r->n && rc == CC_OK; i++)
		if (i == 0 || cmp_pair(r->days[i - 1], r->days[i]) != 0)
			rc = s->ops->event_day_touch(s, r->days[i][0], r->days[i][1], EVENT_DAYS_WIDTH_MS);
	r->n = 0;
	return rc;
}

void event_days_round_hooks(struct event_days_round *r, struct store_settle_hooks *out)
{
	out->row = round_row;
	out->finish = round_finish;
	out->ctx = r;
}

/* ---- digesting finished days ---- */

struct marked {
	int64_t (*days)[2];
	size_t n, cap;
};

static int collect_marked(void *ctx, int64_t machine_id, int64_t day_ms)
{
	struct marked *mk = ctx;

	if (mk->n == mk->cap) {
		size_t cap = mk->cap ? mk->cap * 2 : 64;
		int64_t(*grown)[2] = realloc(mk->days, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		mk->days = grown;
		mk->cap = cap;
	}
	mk->days[mk->n][0] = machine_id;
	mk->days[mk->n][1] = day_ms;
	mk->n++;
	return 0;
}

static int count_waiting(void *ctx, const struct store_record *rec)
{
	(void)rec;
	(*(size_t *)ctx)++;
	return 0;
}

/* One marked day: read in a snapshot, then stored with its mark removed. */
static int build_day(struct vault *v, int64_t machine_id, int64_t day_ms, int *stored)
{
	struct store *s = vault_store(v);
	struct store_machine m;
	struct digest d = { NULL, 0, 0, 0, CC_OK };
	struct seal_ad ad;
	uint8_t *blob = NULL;
	size_t blen = 0, waiting = 0;
	int rc;

	*stored = 0;
	rc = s->ops->machine_get(s, machine_id, &m);
	if (rc == CC_ERR_NOTFOUND)
		return s->ops->event_day_clean(s, machine_id, day_ms);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->begin_read(s);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->records_unsettled(s, machine_id, RECORD_EVENT, day_ms, day_ms + EVENT_DAYS_DAY_MS, count_waiting,
	                               &waiting);
	if (rc == CC_OK && waiting == 0) {
		d.p = malloc(16384);
		d.cap = d.p != NULL ? 16384 : 0;
		if (d.p == NULL) {
			rc = CC_ERR_NOMEM;
		} else {
			memcpy(d.p, MAGIC, 3);
			d.len = 3;
			rc = records_get(v, &m, RECORD_EVENT, day_ms, day_ms + EVENT_DAYS_DAY_MS, digest_add, &d);
		}
	}
	s->ops->rollback(s);
	if (rc != CC_OK && rc == d.rc && (rc == CC_ERR_LIMIT || rc == CC_ERR_INVALID)) {
		/* Not digestible: the day is read from its records, for good. */
		log_info(MOD, "machine %s: the day at %lld is read from its records (%s)", m.serial, (long long)day_ms,
		         rc == CC_ERR_LIMIT ? "too many events" : "an event that does not reduce");
		free(d.p);
		return s->ops->event_day_clean(s, machine_id, day_ms);
	}
	if (rc != CC_OK || waiting > 0) {
		free(d.p);
		return rc; /* records still in the inbox: the next pass */
	}
	digest_ad(&ad, &m, day_ms);
	rc = vault_seal(v, &ad, d.p, d.len, &blob, &blen);
	crypto_wipe(d.p, d.len);
	free(d.p);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->begin(s);
	if (rc == CC_OK)
		rc = s->ops->rollup_put(s, machine_id, EVENT_DAYS_WIDTH_MS, day_ms, blob, blen);
	if (rc == CC_OK)
		rc = s->ops->event_day_clean(s, machine_id, day_ms);
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	if (rc != CC_OK)
		s->ops->rollback(s);
	free(blob);
	*stored = rc == CC_OK;
	return rc;
}

int event_days_build(struct vault *v, int64_t now_ms, size_t limit, size_t *built)
{
	struct store *s = vault_store(v);
	struct marked mk = { NULL, 0, 0 };
	int64_t before = now_ms - EVENT_DAYS_GRACE_MS - EVENT_DAYS_DAY_MS + 1;
	size_t i;
	int rc;

	*built = 0;
	rc = s->ops->event_days_dirty(s, before, limit, collect_marked, &mk);
	for (i = 0; rc == CC_OK && i < mk.n; i++) {
		int stored = 0;

		rc = build_day(v, mk.days[i][0], mk.days[i][1], &stored);
		*built += (size_t)stored;
	}
	free(mk.days);
	return rc;
}
