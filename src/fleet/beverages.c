/* beverages.c - beverage counts and their reconciliation; see beverages.h. */
#include "fleet/beverages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/strmap.h"
#include "common/zone.h"
#include "ingest/jscan.h"
#include "records/event_days.h"
#include "records/records.h"
#include "records/rollup.h"

/* Every zone's offset is a whole number of quarter hours: events are
 * counted per UTC quarter hour first, and each quarter names its local day
 * and hour once (one zone switch per machine, not per event). */
#define QUARTER_MS (15 * INT64_C(60000))
/* The brew event's products (docs/METRICS.md) are fewer; a machine that
 * sent more distinct ones counts the rest in its totals only. */
#define PRODUCTS_MAX 32
#define KEY_SEP '\x1f'

static const char *const by_names[] = { "product", "machine", "site", "day", "hour" };
#define BY_COUNT (sizeof(by_names) / sizeof(by_names[0]))

int beverages_group_parse(const char *text)
{
	int bits = 0;

	while (text != NULL && *text != '\0') {
		const char *end = strchr(text, ',');
		size_t len = end != NULL ? (size_t)(end - text) : strlen(text), i;
		int found = -1;

		for (i = 0; i < BY_COUNT; i++)
			if (strlen(by_names[i]) == len && memcmp(text, by_names[i], len) == 0)
				found = (int)i;
		if (found < 0 || (bits & (1 << found)))
			return -1;
		bits |= 1 << found;
		text = end != NULL ? end + 1 : text + len;
		if (end != NULL && *text == '\0')
			return -1; /* a trailing comma */
	}
	return bits;
}

struct report {
	struct vault *v;
	int64_t from_ms, to_ms, q0;
	size_t nq;
	int by;
	char products[PRODUCTS_MAX][CC_NAME_MAX + 1];
	size_t nproducts;
	struct strmap *groups; /* key -> int64_t * */
	int64_t beverages;
};

struct machine_walk {
	struct report *rep;
	int32_t *counts; /* nq x PRODUCTS_MAX */
	int64_t events;
	/* local names of each quarter */
	char (*day)[11];
	int8_t *hour;
	/* cup_counter over the hours */
	int64_t hour_from;
	int has_counter, has_prev;
	double prev_max, counter;
};

struct brew_scan {
	int key; /* 1: type, 2: product */
	int is_brew;
	const char *product;
	size_t product_len;
};

static int on_token(void *ctx, const struct jscan_token *t)
{
	struct brew_scan *b = ctx;

	if (t->depth != 1)
		return 0;
	if (t->type == JSCAN_KEY) {
		b->key = t->len == 4 && memcmp(t->s, "type", 4) == 0      ? 1
		         : t->len == 7 && memcmp(t->s, "product", 7) == 0 ? 2
		                                                          : 0;
		return 0;
	}
	if (t->type == JSCAN_STRING && b->key == 1)
		b->is_brew = t->len == 4 && memcmp(t->s, "brew", 4) == 0;
	else if (t->type == JSCAN_STRING && b->key == 2) {
		b->product = t->s;
		b->product_len = t->len;
	}
	b->key = 0;
	return 0;
}

static int product_index(struct report *rep, const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > CC_NAME_MAX)
		return -1;
	for (i = 0; i < rep->nproducts; i++)
		if (strlen(rep->products[i]) == len && memcmp(rep->products[i], name, len) == 0)
			return (int)i;
	if (rep->nproducts == PRODUCTS_MAX)
		return -1;
	memcpy(rep->products[rep->nproducts], name, len);
	rep->products[rep->nproducts][len] = '\0';
	return (int)rep->nproducts++;
}

static int on_event(void *ctx, const struct record_out *rec)
{
	struct machine_walk *w = ctx;
	struct brew_scan b;
	struct jscan js;
	int p;

	memset(&b, 0, sizeof(b));
	/* Ingest validated the event; a declined scan reads as nothing. */
	if (jscan_run(&js, (const uint8_t *)rec->body, rec->body_len, on_token, &b) != JSCAN_OK || !b.is_brew ||
	    b.product == NULL)
		return 0;
	w->events++;
	p = product_index(w->rep, b.product, b.product_len);
	if (p >= 0)
		w->counts[(size_t)((rec->ts_ms / QUARTER_MS) - w->rep->q0) * PRODUCTS_MAX + (size_t)p]++;
	return 0;
}

/* A counter's increase: each hour's highest reading over the previous
 * hour's (or its own lowest for the first); a counter that went back (a
 * replaced board) counts from its new value. */
static int on_hour(void *ctx, const struct rollup_summary *b)
{
	struct machine_walk *w = ctx;
	size_t i;

	for (i = 0; i < b->nmetrics; i++) {
		const struct rollup_metric *m = &b->m[i];
		double base;

		if (m->count == 0 || strcmp(m->name, "cup_counter") != 0)
			continue;
		if (b->start_ms >= w->hour_from) {
			base = w->has_prev && m->min >= w->prev_max ? w->prev_max : m->min;
			w->counter += m->max - base;
			w->has_counter = 1;
		}
		w->prev_max = m->max;
		w->has_prev = 1;
	}
	return 0;
}

static int name_quarters(void *ctx)
{
	struct machine_walk *w = ctx;
	size_t q;

	for (q = 0; q < w->rep->nq; q++) {
		time_t t = (time_t)((w->rep->q0 + (int64_t)q) * QUARTER_MS / 1000);
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(w->day[q], sizeof(w->day[q]), "%Y-%m-%d", &tm);
		w->hour[q] = (int8_t)tm.tm_hour;
	}
	return CC_OK;
}

static int group_add(struct report *rep, const char *key, int64_t n)
{
	int64_t *c = strmap_get(rep->groups, key);

	if (c == NULL) {
		if (strmap_count(rep->groups) >= BEV_ROWS_MAX * 4)
			return CC_OK; /* bounded: counted in the totals all the same */
		c = calloc(1, sizeof(*c));
		if (c == NULL || strmap_put(rep->groups, key, c) != CC_OK) {
			free(c);
			return CC_ERR_NOMEM;
		}
	}
	*c += n;
	return CC_OK;
}

static int machine_add(struct report *rep, const struct compliance_target *t, json_t *list)
{
	struct store *st = vault_store(rep->v);
	struct machine_walk w;
	struct store_site site;
	const char *zone = "UTC";
	size_t q, p;
	int rc;

	memset(&w, 0, sizeof(w));
	w.rep = rep;
	w.counts = calloc(rep->nq * PRODUCTS_MAX, sizeof(*w.counts));
	w.day = calloc(rep->nq, sizeof(*w.day));
	w.hour = calloc(rep->nq, sizeof(*w.hour));
	if (w.counts == NULL || w.day == NULL || w.hour == NULL) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	rc = event_days_get(rep->v, &t->m, rep->from_ms, rep->to_ms, on_event, &w);
	if (rc != CC_OK)
		goto out;
	w.hour_from = rep->from_ms - rep->from_ms % ROLLUP_HOUR_MS;
	rc = rollup_read(rep->v, &t->m, ROLLUP_HOUR_MS, w.hour_from - 24 * ROLLUP_HOUR_MS,
	                 rep->to_ms + (ROLLUP_HOUR_MS - rep->to_ms % ROLLUP_HOUR_MS) % ROLLUP_HOUR_MS, on_hour, &w, NULL);
	if (rc != CC_OK)
		goto out;
	if (t->m.site_id != 0 && st->ops->site_get(st, t->m.site_id, &site) == CC_OK && site.timezone[0] != '\0' &&
	    zone_valid(site.timezone))
		zone = site.timezone;
	if (rep->by & (BEV_BY_DAY | BEV_BY_HOUR)) {
		rc = zone_run(zone, name_quarters, &w);
		if (rc != CC_OK)
			goto out;
	}
	for (q = 0; q < rep->nq && rc == CC_OK; q++)
		for (p = 0; p < rep->nproducts && rc == CC_OK; p++) {
			int32_t n = w.counts[q * PRODUCTS_MAX + p];
			char key[4 * (CC_NAME_MAX + 1) + 32], hour[12];
			const char *parts[BY_COUNT];
			size_t k, len = 0;

			if (n == 0)
				continue;
			rep->beverages += n;
			snprintf(hour, sizeof(hour), "%02d", (int)w.hour[q]);
			parts[0] = rep->products[p];
			parts[1] = t->m.serial;
			parts[2] = t->site;
			parts[3] = w.day[q];
			parts[4] = hour;
			for (k = 0; k < BY_COUNT; k++) {
				if (!(rep->by & (1 << k)))
					continue;
				len += (size_t)snprintf(key + len, sizeof(key) - len, "%s%c", parts[k], KEY_SEP);
			}
			key[len] = '\0';
			rc = group_add(rep, key, n);
		}
	if (rc == CC_OK) {
		json_t *o = json_pack("{s:s, s:s?, s:I}", "serial", t->m.serial, "site", t->site[0] ? t->site : NULL,
		                      "event_total", (json_int_t)w.events);

		if (o == NULL) {
			rc = CC_ERR_NOMEM;
			goto out;
		}
		json_object_set_new(o, "counter_total", w.has_counter ? json_integer((json_int_t)w.counter) : json_null());
		json_object_set_new(o, "gap", w.has_counter ? json_integer((json_int_t)w.counter - w.events) : json_null());
		json_array_append_new(list, o);
	}
out:
	free(w.counts);
	free(w.day);
	free(w.hour);
	return rc;
}

struct row {
	const char *key;
	int64_t n;
};

struct rows {
	struct row *r;
	size_t n;
};

static int collect(void *ctx, const char *key, void *value)
{
	struct rows *rs = ctx;

	rs->r[rs->n].key = key;
	rs->r[rs->n].n = *(int64_t *)value;
	rs->n++;
	return 0;
}

static int free_value(void *ctx, const char *key, void *value)
{
	(void)ctx;
	(void)key;
	free(value);
	return 0;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->key, ((const struct row *)b)->key);
}

static json_t *row_json(const struct report *rep, const struct row *r)
{
	json_t *o = json_object();
	const char *k = r->key;
	size_t i;

	for (i = 0; o != NULL && i < BY_COUNT; i++) {
		const char *end;

		if (!(rep->by & (1 << i)))
			continue;
		end = strchr(k, KEY_SEP);
		if (end == NULL)
			break;
		if (end == k)
			json_object_set_new(o, by_names[i], json_null()); /* a machine at no site */
		else if ((1 << i) == BEV_BY_HOUR)
			json_object_set_new(o, by_names[i], json_integer(strtol(k, NULL, 10)));
		else
			json_object_set_new(o, by_names[i], json_stringn(k, (size_t)(end - k)));
		k = end + 1;
	}
	if (o != NULL)
		json_object_set_new(o, "beverages", json_integer(r->n));
	return o;
}

int beverages_report(struct vault *v, const struct compliance_target *machines, size_t n, int64_t from_ms,
                     int64_t to_ms, int group_by, json_t **out)
{
	struct report rep;
	struct rows rs = { NULL, 0 };
	json_t *list = json_array(), *rows = json_array(), *by = json_array(), *doc = NULL;
	int64_t events = 0, counter = 0, gap = 0, counted = 0;
	size_t i;
	int rc;

	*out = NULL;
	memset(&rep, 0, sizeof(rep));
	if (from_ms < 0 || from_ms >= to_ms) {
		rc = CC_ERR_INVALID;
		goto out;
	}
	rep.v = v;
	rep.from_ms = from_ms;
	rep.to_ms = to_ms;
	rep.by = group_by;
	rep.q0 = from_ms / QUARTER_MS;
	rep.nq = (size_t)((to_ms - 1) / QUARTER_MS - rep.q0 + 1);
	rc = list != NULL && rows != NULL && by != NULL ? strmap_new(&rep.groups) : CC_ERR_NOMEM;
	for (i = 0; i < n && rc == CC_OK; i++)
		rc = machine_add(&rep, &machines[i], list);
	if (rc != CC_OK)
		goto out;
	rs.r = calloc(strmap_count(rep.groups) + 1, sizeof(*rs.r));
	if (rs.r == NULL) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	strmap_foreach(rep.groups, collect, &rs);
	qsort(rs.r, rs.n, sizeof(*rs.r), by_key);
	for (i = 0; i < rs.n && i < BEV_ROWS_MAX; i++)
		json_array_append_new(rows, row_json(&rep, &rs.r[i]));
	for (i = 0; i < BY_COUNT; i++)
		if (group_by & (1 << i))
			json_array_append_new(by, json_string(by_names[i]));
	for (i = 0; i < json_array_size(list); i++) {
		json_t *m = json_array_get(list, i);

		events += json_integer_value(json_object_get(m, "event_total"));
		if (json_is_integer(json_object_get(m, "counter_total"))) {
			counter += json_integer_value(json_object_get(m, "counter_total"));
			gap += json_integer_value(json_object_get(m, "gap"));
			counted++;
		}
	}
	doc = json_pack("{s:I, s:I, s:O, s:O, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:O}", "from", (json_int_t)from_ms,
	                "to", (json_int_t)to_ms, "group_by", by, "rows", rows, "rows_truncated", rs.n > BEV_ROWS_MAX,
	                "total", "beverages", (json_int_t)rep.beverages, "event_total", (json_int_t)events,
	                "counter_total", (json_int_t)counter, "gap", (json_int_t)gap, "machines", (json_int_t)n,
	                "machines_with_counter", (json_int_t)counted, "machines", list);
	rc = doc != NULL ? CC_OK : CC_ERR_NOMEM;
	*out = doc;
out:
	free(rs.r);
	if (rep.groups != NULL) {
		strmap_foreach(rep.groups, free_value, NULL);
		strmap_free(rep.groups);
	}
	json_decref(list);
	json_decref(rows);
	json_decref(by);
	return rc;
}
