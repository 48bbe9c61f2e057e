#include "records/rollup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "records/records.h"

#define MOD "rollup"

struct rollup_round {
	struct vault *v;
	json_t *machines; /* "id" -> index into known */
	struct store_machine *known;
	size_t nknown, capknown;
	json_t *sums;     /* "machine:width:start" -> {"n": N, "m": {metric: [c, min, max, sum]}} */
	uint8_t *buf;     /* a sealed summary read back */
	int64_t damaged;
};

int rollup_round_new(struct vault *v, struct rollup_round **out)
{
	struct rollup_round *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return CC_ERR_NOMEM;
	r->v = v;
	r->machines = json_object();
	r->sums = json_object();
	r->buf = malloc(CC_ROLLUP_SEALED_MAX);
	if (r->machines == NULL || r->sums == NULL || r->buf == NULL) {
		rollup_round_free(r);
		return CC_ERR_NOMEM;
	}
	*out = r;
	return CC_OK;
}

void rollup_round_free(struct rollup_round *r)
{
	if (r == NULL)
		return;
	json_decref(r->machines);
	json_decref(r->sums);
	free(r->known);
	free(r->buf);
	free(r);
}

/* The machine of a record, read once per round (its customer and serial
 * are in the seal of its records). NULL: gone meanwhile. */
static const struct store_machine *machine_of(struct rollup_round *r, int64_t id)
{
	char key[24];
	json_t *at;
	struct store *s = vault_store(r->v);

	snprintf(key, sizeof(key), "%lld", (long long)id);
	at = json_object_get(r->machines, key);
	if (at != NULL)
		return json_integer_value(at) < 0 ? NULL : &r->known[json_integer_value(at)];
	if (r->nknown == r->capknown) {
		size_t cap = r->capknown ? r->capknown * 2 : 256;
		struct store_machine *grown = realloc(r->known, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		r->known = grown;
		r->capknown = cap;
	}
	if (s->ops->machine_get(s, id, &r->known[r->nknown]) != CC_OK) {
		json_object_set_new(r->machines, key, json_integer(-1));
		return NULL;
	}
	json_object_set_new(r->machines, key, json_integer((json_int_t)r->nknown));
	return &r->known[r->nknown++];
}

/* Adds one reading to metric name of a summary: [count, min, max, sum]. */
static int add_reading(json_t *m, const char *name, double v)
{
	json_t *a = json_object_get(m, name);

	if (a == NULL)
		return json_object_set_new(m, name, json_pack("[i, f, f, f]", 1, v, v, v)) == 0 ? CC_OK : CC_ERR_NOMEM;
	json_array_set_new(a, 0, json_integer(json_integer_value(json_array_get(a, 0)) + 1));
	if (v < json_number_value(json_array_get(a, 1)))
		json_array_set_new(a, 1, json_real(v));
	if (v > json_number_value(json_array_get(a, 2)))
		json_array_set_new(a, 2, json_real(v));
	json_array_set_new(a, 3, json_real(json_number_value(json_array_get(a, 3)) + v));
	return CC_OK;
}

/* Merges summary part into into (both {"n", "m"}). */
static int merge(json_t *into, const json_t *part)
{
	const char *name;
	json_t *a, *m = json_object_get(into, "m");

	if (!json_is_object(m))
		return CC_ERR_CORRUPT;
	json_object_set_new(into, "n", json_integer(json_integer_value(json_object_get(into, "n")) +
	                                            json_integer_value(json_object_get(part, "n"))));
	json_object_foreach(json_object_get(part, "m"), name, a) {
		json_t *b = json_object_get(m, name);

		if (!json_is_array(a) || json_array_size(a) != 4)
			continue;
		if (b == NULL) {
			if (json_object_set_new(m, name, json_deep_copy(a)) != 0)
				return CC_ERR_NOMEM;
			continue;
		}
		json_array_set_new(b, 0, json_integer(json_integer_value(json_array_get(b, 0)) +
		                                      json_integer_value(json_array_get(a, 0))));
		if (json_number_value(json_array_get(a, 1)) < json_number_value(json_array_get(b, 1)))
			json_array_set_new(b, 1, json_real(json_number_value(json_array_get(a, 1))));
		if (json_number_value(json_array_get(a, 2)) > json_number_value(json_array_get(b, 2)))
			json_array_set_new(b, 2, json_real(json_number_value(json_array_get(a, 2))));
		json_array_set_new(b, 3, json_real(json_number_value(json_array_get(b, 3)) +
		                                   json_number_value(json_array_get(a, 3))));
	}
	return CC_OK;
}

/* Adds the numeric metrics of one opened telemetry body to bucket key. */
static int add_body(json_t *buckets, const char *key, const char *body, size_t len)
{
	json_t *doc = json_loadb(body, len, 0, NULL), *m, *b, *value;
	const char *name;
	int rc = CC_OK;

	m = json_object_get(doc, "m");
	if (!json_is_object(m)) {
		json_decref(doc);
		return CC_OK;
	}
	b = json_object_get(buckets, key);
	if (b == NULL) {
		b = json_pack("{s:i, s:{}}", "n", 0, "m");
		if (b == NULL || json_object_set_new(buckets, key, b) != 0) {
			json_decref(doc);
			return CC_ERR_NOMEM;
		}
	}
	json_object_set_new(b, "n", json_integer(json_integer_value(json_object_get(b, "n")) + 1));
	json_object_foreach(m, name, value)
		if (json_is_number(value) && rc == CC_OK)
			rc = add_reading(json_object_get(b, "m"), name, json_number_value(value));
	json_decref(doc);
	return rc;
}

static int round_row(void *ctx, const struct store_record *rec)
{
	struct rollup_round *r = ctx;
	const struct store_machine *m;
	uint8_t *pt = NULL;
	size_t len = 0;
	char key[80];
	int64_t width[2] = { ROLLUP_MINUTE_MS, ROLLUP_HOUR_MS };
	int i, rc;

	if (rec->kind != RECORD_TELEMETRY || (m = machine_of(r, rec->machine_id)) == NULL)
		return CC_OK;
	rc = records_open_record(r->v, m, rec, &pt, &len);
	if (rc == CC_ERR_AUTH || rc == CC_ERR_CORRUPT || rc == CC_ERR_NOTFOUND) {
		r->damaged++; /* damaged, or its customer's key destroyed: summarises nothing */
		return CC_OK;
	}
	if (rc != CC_OK)
		return rc;
	for (i = 0; i < 2 && rc == CC_OK; i++) {
		int64_t start = rec->ts_ms - ((rec->ts_ms % width[i]) + width[i]) % width[i];

		snprintf(key, sizeof(key), "%lld:%lld:%lld", (long long)m->id, (long long)width[i], (long long)start);
		rc = add_body(r->sums, key, (const char *)pt, len);
	}
	crypto_wipe(pt, len);
	free(pt);
	return rc;
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

/* Reads, opens and parses a stored summary; NULL when there is none (or it
 * does not open: then the round's part replaces it, and it is counted). */
static json_t *stored_summary(struct rollup_round *r, struct store *s, const struct store_machine *m, int64_t width,
                              int64_t start, int *rc)
{
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t len = 0, plen = 0;
	json_t *doc;

	*rc = s->ops->rollup_get(s, m->id, width, start, r->buf, CC_ROLLUP_SEALED_MAX, &len);
	if (*rc == CC_ERR_NOTFOUND || *rc == CC_ERR_LIMIT) {
		*rc = CC_OK;
		return NULL;
	}
	if (*rc != CC_OK)
		return NULL;
	summary_ad(&ad, m, width, start);
	*rc = vault_unseal(r->v, &ad, r->buf, len, &pt, &plen);
	if (*rc == CC_ERR_AUTH || *rc == CC_ERR_CORRUPT) {
		log_warn(MOD, "the %s summary of machine %s at %lld is damaged: rebuilt from new records only",
		         width == ROLLUP_HOUR_MS ? "hour" : "minute", m->serial, (long long)start);
		*rc = CC_OK;
		return NULL;
	}
	if (*rc != CC_OK)
		return NULL;
	doc = json_loadb((const char *)pt, plen, 0, NULL);
	crypto_wipe(pt, plen);
	free(pt);
	return doc;
}

static int round_finish(void *ctx, struct store *s)
{
	struct rollup_round *r = ctx;
	const char *key;
	json_t *part;
	int rc = CC_OK;

	json_object_foreach(r->sums, key, part) {
		long long id = 0, width = 0, start = 0;
		const struct store_machine *m;
		json_t *whole;
		char *text;
		uint8_t *blob = NULL;
		size_t blen = 0;
		struct seal_ad ad;

		if (sscanf(key, "%lld:%lld:%lld", &id, &width, &start) != 3 || (m = machine_of(r, id)) == NULL)
			continue;
		whole = stored_summary(r, s, m, width, start, &rc);
		if (rc != CC_OK)
			break;
		if (whole != NULL)
			rc = merge(whole, part);
		else
			whole = json_incref(part);
		text = rc == CC_OK ? json_dumps(whole, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
		json_decref(whole);
		if (text == NULL) {
			rc = rc != CC_OK ? rc : CC_ERR_NOMEM;
			break;
		}
		summary_ad(&ad, m, width, start);
		rc = vault_seal(r->v, &ad, text, strlen(text), &blob, &blen);
		free(text);
		if (rc == CC_OK && blen > CC_ROLLUP_SEALED_MAX)
			rc = CC_ERR_LIMIT;
		if (rc == CC_OK)
			rc = s->ops->rollup_put(s, m->id, width, start, blob, blen);
		free(blob);
		if (rc == CC_ERR_NOTFOUND)
			rc = CC_OK; /* the customer's key was destroyed meanwhile: nothing to keep */
		if (rc != CC_OK)
			break;
	}
	json_object_clear(r->sums);
	json_object_clear(r->machines);
	r->nknown = 0;
	return rc;
}

void rollup_round_hooks(struct rollup_round *r, struct store_settle_hooks *out)
{
	out->row = round_row;
	out->finish = round_finish;
	out->ctx = r;
}

/* ---- reading ---- */

struct reader {
	struct vault *v;
	const struct store_machine *m;
	int64_t width, stored_width;
	json_t *buckets; /* "start" -> {"n", "m"} */
	int64_t damaged;
	int rc;
};

static int bucket_key(char *key, size_t cap, int64_t ts, int64_t width)
{
	int64_t start = ts - ((ts % width) + width) % width;

	return snprintf(key, cap, "%lld", (long long)start) < (int)cap ? CC_OK : CC_ERR_LIMIT;
}

static json_t *bucket_for(struct reader *rd, int64_t ts)
{
	char key[24];
	json_t *b;

	if (bucket_key(key, sizeof(key), ts, rd->width) != CC_OK)
		return NULL;
	b = json_object_get(rd->buckets, key);
	if (b != NULL)
		return b;
	if (json_object_size(rd->buckets) >= ROLLUP_BUCKETS_MAX) {
		rd->rc = CC_ERR_LIMIT;
		return NULL;
	}
	b = json_pack("{s:i, s:{}}", "n", 0, "m");
	if (b == NULL || json_object_set_new(rd->buckets, key, b) != 0) {
		rd->rc = CC_ERR_NOMEM;
		return NULL;
	}
	return b;
}

static int read_summary(void *ctx, int64_t start, const uint8_t *body, size_t len)
{
	struct reader *rd = ctx;
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t plen = 0;
	json_t *doc, *b;
	int rc;

	summary_ad(&ad, rd->m, rd->stored_width, start);
	rc = vault_unseal(rd->v, &ad, body, len, &pt, &plen);
	if (rc == CC_ERR_AUTH || rc == CC_ERR_CORRUPT) {
		if (rd->damaged++ == 0)
			log_warn(MOD, "a summary of machine %s (at %lld) is damaged (it does not open): skipped",
			         rd->m->serial, (long long)start);
		return 0;
	}
	if (rc != CC_OK)
		return rc;
	doc = json_loadb((const char *)pt, plen, 0, NULL);
	crypto_wipe(pt, plen);
	free(pt);
	if (doc == NULL)
		return 0;
	if (rd->width == rd->stored_width) {
		/* One summary per bucket: it is the bucket (nothing to merge). */
		char key[24];

		if (!json_is_object(json_object_get(doc, "m")) || bucket_key(key, sizeof(key), start, rd->width) != CC_OK) {
			json_decref(doc);
			return 0;
		}
		if (json_object_size(rd->buckets) >= ROLLUP_BUCKETS_MAX) {
			json_decref(doc);
			return CC_ERR_LIMIT;
		}
		return json_object_set_new(rd->buckets, key, doc) == 0 ? 0 : CC_ERR_NOMEM;
	}
	b = bucket_for(rd, start);
	rc = b != NULL ? merge(b, doc) : rd->rc;
	json_decref(doc);
	return rc;
}

static int read_unsettled(void *ctx, const struct record_out *rec)
{
	struct reader *rd = ctx;
	char key[24];

	if (bucket_key(key, sizeof(key), rec->ts_ms, rd->width) != CC_OK || bucket_for(rd, rec->ts_ms) == NULL)
		return rd->rc != CC_OK ? rd->rc : CC_ERR_LIMIT;
	return add_body(rd->buckets, key, rec->body, rec->body_len);
}

static int by_start(const void *a, const void *b)
{
	long long x = strtoll(*(const char *const *)a, NULL, 10), y = strtoll(*(const char *const *)b, NULL, 10);

	return x < y ? -1 : x > y;
}

int rollup_read(struct vault *v, const struct store_machine *m, int64_t width_ms, int64_t from_ms,
                int64_t to_ms, int (*each)(void *ctx, int64_t start_ms, json_t *metrics), void *ctx,
                int64_t *damaged)
{
	struct store *s = vault_store(v);
	struct reader rd = { v, m, width_ms, ROLLUP_MINUTE_MS, NULL, 0, CC_OK };
	const char **keys = NULL;
	const char *key;
	json_t *b;
	size_t i, n = 0;
	int own = 0, rc;

	if (width_ms <= 0 || width_ms % ROLLUP_MINUTE_MS != 0 || from_ms % ROLLUP_MINUTE_MS != 0 ||
	    (to_ms != INT64_MAX && to_ms % ROLLUP_MINUTE_MS != 0))
		return CC_ERR_INVALID;
	if (width_ms % ROLLUP_HOUR_MS == 0 && from_ms % ROLLUP_HOUR_MS == 0 &&
	    (to_ms == INT64_MAX || to_ms % ROLLUP_HOUR_MS == 0))
		rd.stored_width = ROLLUP_HOUR_MS;
	rd.buckets = json_object();
	if (rd.buckets == NULL)
		return CC_ERR_NOMEM;
	/* One snapshot: the inbox's records are exactly those the summaries lack. */
	if (!s->ops->in_transaction(s)) {
		rc = s->ops->begin_read(s);
		if (rc != CC_OK)
			goto out;
		own = 1;
	}
	rc = s->ops->rollup_each(s, m->id, rd.stored_width, from_ms, to_ms, read_summary, &rd);
	if (rc == CC_OK)
		rc = records_unsettled(v, m, RECORD_TELEMETRY, from_ms, to_ms, read_unsettled, &rd, &rd.damaged);
	if (own)
		s->ops->rollback(s);
	if (rc > 0)
		rc = rd.rc != CC_OK ? rd.rc : CC_ERR_INVALID;
	if (rc != CC_OK)
		goto out;
	keys = calloc(json_object_size(rd.buckets) + 1, sizeof(*keys));
	if (keys == NULL) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	json_object_foreach(rd.buckets, key, b)
		keys[n++] = key;
	qsort(keys, n, sizeof(*keys), by_start);
	for (i = 0; i < n && rc == CC_OK; i++)
		rc = each(ctx, strtoll(keys[i], NULL, 10), json_object_get(rd.buckets, keys[i]));
out:
	if (damaged != NULL)
		*damaged = rd.damaged;
	free(keys);
	json_decref(rd.buckets);
	return rc;
}
