/* compliance.c - a machine against its model's quality standard; see compliance.h. */
#include "quality/compliance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "ingest/jscan.h"
#include "records/event_days.h"
#include "records/records.h"
#include "records/rollup.h"

#define MOD "quality"
#define HOUR_MS INT64_C(3600000)
/* How far before the period cleanings are looked for: the weekly brew-unit
 * cleaning and its grace. A schedule longer than this counts from the
 * period's start (docs/QUALITY.md). */
#define LOOKBACK_MS (8 * COMPLIANCE_DAY_MS)

/* ---- rule sets, every version ---- */

struct version {
	int64_t version, created_ms;
	struct quality_ruleset rs;
};

struct compliance_rules {
	struct version *v;
	size_t n, cap;
	struct quality_ruleset dflt_model, dflt_any;
};

static int add_version(void *ctx, const struct store_ruleset *r, const char *doc)
{
	struct compliance_rules *rules = ctx;
	char why[QUALITY_WHY_MAX];

	if (rules->n == rules->cap) {
		size_t cap = rules->cap ? 2 * rules->cap : 8;
		struct version *grown = realloc(rules->v, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		rules->v = grown;
		rules->cap = cap;
	}
	/* Validated on upload: one that no longer parses is damage, left out. */
	if (doc == NULL || quality_ruleset_parse(doc, strlen(doc), &rules->v[rules->n].rs, why, sizeof(why)) != CC_OK) {
		log_warn(MOD, "rule set %s version %lld does not parse; left out", r->model, (long long)r->version);
		return 0;
	}
	rules->v[rules->n].version = r->version;
	rules->v[rules->n].created_ms = r->created_ms;
	rules->n++;
	return 0;
}

int compliance_rules_load(struct store *st, struct compliance_rules **out)
{
	struct compliance_rules *r = calloc(1, sizeof(*r));
	char why[QUALITY_WHY_MAX];
	const char *any = quality_default_text(NULL), *bp = quality_default_text("barista-pro");
	int rc;

	*out = NULL;
	if (r == NULL)
		return CC_ERR_NOMEM;
	if (quality_ruleset_parse(bp, strlen(bp), &r->dflt_model, why, sizeof(why)) != CC_OK ||
	    quality_ruleset_parse(any, strlen(any), &r->dflt_any, why, sizeof(why)) != CC_OK) {
		compliance_rules_free(r);
		return CC_ERR_INVALID; /* the shipped defaults: a unit test holds them valid */
	}
	rc = st->ops->ruleset_list(st, NULL, add_version, r);
	if (rc != CC_OK) {
		compliance_rules_free(r);
		return rc;
	}
	*out = r;
	return CC_OK;
}

void compliance_rules_free(struct compliance_rules *r)
{
	if (r == NULL)
		return;
	free(r->v);
	free(r);
}

const struct quality_ruleset *compliance_rules_for(const struct compliance_rules *r, const char *model,
                                                   int64_t day_ms, int64_t now_ms, int64_t *version)
{
	int64_t cutoff = day_ms + COMPLIANCE_DAY_MS < now_ms ? day_ms + COMPLIANCE_DAY_MS : now_ms;
	const struct version *own = NULL, *any = NULL;
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct version *v = &r->v[i];

		if (v->created_ms >= cutoff)
			continue;
		if (strcmp(v->rs.model, model) == 0 && (own == NULL || v->version > own->version))
			own = v;
		else if (strcmp(v->rs.model, "*") == 0 && (any == NULL || v->version > any->version))
			any = v;
	}
	if (own == NULL)
		own = any;
	if (own != NULL) {
		*version = own->version;
		return &own->rs;
	}
	*version = 0;
	return strcmp(model, r->dflt_model.model) == 0 ? &r->dflt_model : &r->dflt_any;
}

/* ---- sums ---- */

static struct compliance_product_sum *product_of(struct compliance_sum *s, const char *name, size_t len)
{
	size_t i;

	if (len > CC_NAME_MAX)
		len = CC_NAME_MAX;
	for (i = 0; i < s->nproducts; i++)
		if (strlen(s->products[i].name) == len && memcmp(s->products[i].name, name, len) == 0)
			return &s->products[i];
	if (s->nproducts == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct compliance_product_sum *grown = realloc(s->products, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		s->products = grown;
		s->cap = cap;
	}
	memset(&s->products[s->nproducts], 0, sizeof(s->products[0]));
	memcpy(s->products[s->nproducts].name, name, len);
	return &s->products[s->nproducts++];
}

int compliance_sum_add(struct compliance_sum *to, const struct compliance_sum *from)
{
	size_t i;
	int p;

	for (i = 0; i < from->nproducts; i++) {
		struct compliance_product_sum *d = product_of(to, from->products[i].name, strlen(from->products[i].name));

		if (d == NULL)
			return CC_ERR_NOMEM;
		d->brews += from->products[i].brews;
		d->in_spec += from->products[i].in_spec;
	}
	to->brews += from->brews;
	to->in_spec += from->in_spec;
	to->brews_unjudged += from->brews_unjudged;
	to->brew_breaches += from->brew_breaches;
	to->telemetry_breaches += from->telemetry_breaches;
	for (p = 0; p < QP_COUNT; p++) {
		to->cleanings_done[p] += from->cleanings_done[p];
		to->cleanings_due[p] += from->cleanings_due[p];
		to->cleanings_overdue[p] += from->cleanings_overdue[p];
	}
	to->machines += from->machines;
	if (from->ndays > 0 && to->ndays == 0) {
		to->days = calloc(from->ndays, sizeof(*to->days));
		if (to->days == NULL)
			return CC_ERR_NOMEM;
		to->ndays = from->ndays;
		to->first_day_ms = from->first_day_ms;
	}
	for (i = 0; i < from->ndays && i < to->ndays && from->first_day_ms == to->first_day_ms; i++)
		for (p = 0; p < 4; p++)
			to->days[i][p] += from->days[i][p];
	return CC_OK;
}

void compliance_sum_free(struct compliance_sum *s)
{
	free(s->products);
	free(s->days);
	memset(s, 0, sizeof(*s));
}

static void day_name(int64_t day_ms, char out[16])
{
	time_t t = (time_t)(day_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

static json_t *pct(int64_t part, int64_t whole)
{
	return whole > 0 ? json_real((double)(100.0 * (double)part / (double)whole)) : json_null();
}

json_t *compliance_sum_json(const struct compliance_sum *s, int technical, int usage)
{
	json_t *o = json_object(), *products = json_object(), *cleanings = json_object();
	size_t i;
	int p;

	if (o == NULL || products == NULL || cleanings == NULL) {
		json_decref(o);
		json_decref(products);
		json_decref(cleanings);
		return NULL;
	}
	json_object_set_new(o, "machines", json_integer(s->machines));
	for (i = 0; i < s->nproducts; i++) {
		const struct compliance_product_sum *ps = &s->products[i];
		json_t *e = json_object();

		if (usage) {
			json_object_set_new(e, "brews", json_integer(ps->brews));
			json_object_set_new(e, "in_spec", json_integer(ps->in_spec));
		}
		if (technical)
			json_object_set_new(e, "in_spec_pct", pct(ps->in_spec, ps->brews));
		json_object_set_new(products, ps->name, e);
	}
	json_object_set_new(o, "products", products);
	if (s->ndays > 0) {
		json_t *days = json_array();

		for (i = 0; i < s->ndays && days != NULL; i++) {
			char name[16];
			json_t *d;

			day_name(s->first_day_ms + (int64_t)i * COMPLIANCE_DAY_MS, name);
			d = json_pack("{s:s}", "day", name);
			if (usage) {
				json_object_set_new(d, "brews", json_integer(s->days[i][0]));
				json_object_set_new(d, "in_spec", json_integer(s->days[i][2]));
			}
			if (technical) {
				json_object_set_new(d, "in_spec_pct", pct(s->days[i][2], s->days[i][1]));
				json_object_set_new(d, "breaches", json_integer(s->days[i][3]));
			}
			json_array_append_new(days, d);
		}
		json_object_set_new(o, "days", days);
	}
	if (usage) {
		json_object_set_new(o, "brews", json_integer(s->brews));
		json_object_set_new(o, "in_spec", json_integer(s->in_spec));
		json_object_set_new(o, "brews_unjudged", json_integer(s->brews_unjudged));
	}
	if (technical) {
		json_object_set_new(o, "in_spec_pct", pct(s->in_spec, s->brews - s->brews_unjudged));
		json_object_set_new(o, "brew_breaches", json_integer(s->brew_breaches));
		json_object_set_new(o, "telemetry_breaches", json_integer(s->telemetry_breaches));
		for (p = 0; p < QP_COUNT; p++)
			if (s->cleanings_due[p] > 0 || s->cleanings_done[p] > 0 || s->cleanings_overdue[p] > 0)
				json_object_set_new(cleanings, quality_program_name(p),
				                    json_pack("{s:I, s:I, s:I}", "done", (json_int_t)s->cleanings_done[p], "due",
				                              (json_int_t)s->cleanings_due[p], "overdue",
				                              (json_int_t)s->cleanings_overdue[p]));
		json_object_set_new(o, "cleanings", cleanings);
	} else {
		json_decref(cleanings);
	}
	return o;
}

/* ---- one machine ---- */

struct day {
	int64_t day_ms, version;
	const struct quality_ruleset *rs;
	int64_t brews, in_spec, unjudged, brew_breaches, telemetry_breaches, cleanings;
};

struct times {
	int64_t *t;
	size_t n, cap;
};

struct walk {
	const struct compliance_rules *rules;
	const struct store_machine *m;
	int64_t from_ms, to_ms, first_day_ms, now_ms;
	struct day *days;
	size_t ndays;
	struct compliance_sum *sum;
	json_t *brew_list; /* NULL: not listed (not technical) */
	struct times cleanings[QP_COUNT];
	/* descaling by litres */
	double litres_since;
	int64_t descale_overdue_since; /* 0: not overdue */
	json_t *descale_spans;
	int64_t descale_overdue;
	int64_t first_ts; /* the earliest record seen, 0 none */
	int rc;
};

static struct day *day_of(struct walk *w, int64_t ts)
{
	int64_t i;

	if (ts < w->from_ms || ts >= w->to_ms)
		return NULL;
	i = (ts - w->first_day_ms) / COMPLIANCE_DAY_MS;
	return i >= 0 && (size_t)i < w->ndays ? &w->days[i] : NULL;
}

/* The rule set of any moment, in the period or the look-back before it. */
static const struct quality_ruleset *rules_at(struct walk *w, int64_t ts, int64_t *version)
{
	struct day *d = day_of(w, ts);

	if (d != NULL) {
		*version = d->version;
		return d->rs;
	}
	return compliance_rules_for(w->rules, w->m->model, ts - ts % COMPLIANCE_DAY_MS, w->now_ms, version);
}

struct event_scan {
	const char *key;
	size_t klen;
	const char *type, *product, *program, *result;
	size_t type_len, product_len, program_len, result_len;
	double v[QF_COUNT];
	int has[QF_COUNT];
};

static int is(const char *s, size_t len, const char *text)
{
	return len == strlen(text) && memcmp(s, text, len) == 0;
}

static int on_token(void *ctx, const struct jscan_token *t)
{
	struct event_scan *e = ctx;
	int f;

	if (t->depth != 1)
		return 0;
	if (t->type == JSCAN_KEY) {
		e->key = t->s;
		e->klen = t->len;
		return 0;
	}
	if (e->key == NULL)
		return 0;
	if (t->type == JSCAN_STRING) {
		if (is(e->key, e->klen, "type")) {
			e->type = t->s;
			e->type_len = t->len;
		} else if (is(e->key, e->klen, "product")) {
			e->product = t->s;
			e->product_len = t->len;
		} else if (is(e->key, e->klen, "program")) {
			e->program = t->s;
			e->program_len = t->len;
		} else if (is(e->key, e->klen, "result")) {
			e->result = t->s;
			e->result_len = t->len;
		}
	} else if (t->type == JSCAN_INTEGER || t->type == JSCAN_REAL) {
		for (f = 0; f < QF_COUNT; f++)
			if (is(e->key, e->klen, quality_field_name(f))) {
				e->has[f] = 1;
				e->v[f] = t->d;
			}
	}
	e->key = NULL;
	return 0;
}

static int times_add(struct times *ts, int64_t t)
{
	if (ts->n == ts->cap) {
		size_t cap = ts->cap ? 2 * ts->cap : 64;
		int64_t *grown = realloc(ts->t, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		ts->t = grown;
		ts->cap = cap;
	}
	ts->t[ts->n++] = t;
	return CC_OK;
}

static void brew(struct walk *w, const struct event_scan *e, int64_t ts)
{
	struct day *d = day_of(w, ts);
	const struct quality_product *p;
	struct compliance_product_sum *ps;
	int64_t version;
	const struct quality_ruleset *rs = rules_at(w, ts, &version);
	const struct quality_cleaning *descale = &rs->cleaning[QP_DESCALE];
	unsigned bad;
	int f;

	/* Descaling counts the water of every brew, in the look-back too. */
	if (e->has[QF_VOLUME] && e->v[QF_VOLUME] > 0) {
		w->litres_since += e->v[QF_VOLUME] / 1000.0;
		if (descale->due && descale->every_l > 0 && w->descale_overdue_since == 0 &&
		    w->litres_since > descale->every_l)
			w->descale_overdue_since = ts;
	}
	if (d == NULL || e->product == NULL)
		return;
	ps = product_of(w->sum, e->product, e->product_len);
	if (ps == NULL) {
		w->rc = CC_ERR_NOMEM;
		return;
	}
	d->brews++;
	ps->brews++;
	w->sum->brews++;
	p = quality_ruleset_product(rs, e->product, e->product_len);
	if (p == NULL) {
		d->unjudged++;
		w->sum->brews_unjudged++;
		return;
	}
	bad = quality_brew_judge(p, e->v, e->has);
	if (bad == 0) {
		d->in_spec++;
		ps->in_spec++;
		w->sum->in_spec++;
		return;
	}
	d->brew_breaches++;
	w->sum->brew_breaches++;
	for (f = 0; f < QF_COUNT && w->brew_list != NULL; f++) {
		json_t *b;

		if (!(bad & (1u << f)) || json_array_size(w->brew_list) >= COMPLIANCE_LIST_MAX)
			continue;
		b = json_pack("{s:I, s:s%, s:s, s:f, s:I}", "ts", (json_int_t)ts, "product", e->product, e->product_len,
		              "field", quality_field_name(f), "value", e->v[f], "ruleset_version", (json_int_t)version);
		if (b != NULL && p->r[f].has_min)
			json_object_set_new(b, "min", json_real(p->r[f].min));
		if (b != NULL && p->r[f].has_max)
			json_object_set_new(b, "max", json_real(p->r[f].max));
		json_array_append_new(w->brew_list, b);
	}
}

static void span(json_t *list, int64_t from, int64_t to)
{
	if (list != NULL && json_array_size(list) < COMPLIANCE_LIST_MAX)
		json_array_append_new(list, json_pack("{s:I, s:I}", "from_ms", (json_int_t)from, "to_ms", (json_int_t)to));
}

static int on_event(void *ctx, const struct record_out *rec)
{
	struct walk *w = ctx;
	struct event_scan e;
	struct jscan js;

	memset(&e, 0, sizeof(e));
	if (w->first_ts == 0 || rec->ts_ms < w->first_ts)
		w->first_ts = rec->ts_ms;
	/* Ingest validated the event; a declined scan reads as nothing. */
	if (jscan_run(&js, (const uint8_t *)rec->body, rec->body_len, on_token, &e) != JSCAN_OK || e.type == NULL)
		return 0;
	if (is(e.type, e.type_len, "brew")) {
		brew(w, &e, rec->ts_ms);
	} else if (is(e.type, e.type_len, "cleaning") && e.program != NULL && e.result != NULL &&
	           is(e.result, e.result_len, "ok")) {
		int p = quality_program_find(e.program, e.program_len);
		struct day *d = day_of(w, rec->ts_ms);

		if (p < 0)
			return 0;
		if (times_add(&w->cleanings[p], rec->ts_ms) != CC_OK)
			return CC_ERR_NOMEM;
		if (d != NULL)
			d->cleanings++;
		if (p == QP_DESCALE) {
			if (w->descale_overdue_since != 0 && rec->ts_ms > w->from_ms) {
				w->descale_overdue++;
				span(w->descale_spans, w->descale_overdue_since > w->from_ms ? w->descale_overdue_since : w->from_ms,
				     rec->ts_ms);
			}
			w->descale_overdue_since = 0;
			w->litres_since = 0;
		}
	}
	return w->rc;
}

int compliance_cleaning_of(const char *body, size_t len)
{
	struct event_scan e;
	struct jscan js;

	memset(&e, 0, sizeof(e));
	if (jscan_run(&js, (const uint8_t *)body, len, on_token, &e) != JSCAN_OK || e.type == NULL ||
	    !is(e.type, e.type_len, "cleaning") || e.program == NULL || e.result == NULL || !is(e.result, e.result_len, "ok"))
		return -1;
	return quality_program_find(e.program, e.program_len);
}

double compliance_water_ml_of(const char *body, size_t len)
{
	struct event_scan e;
	struct jscan js;

	memset(&e, 0, sizeof(e));
	if (jscan_run(&js, (const uint8_t *)body, len, on_token, &e) != JSCAN_OK || e.type == NULL ||
	    !is(e.type, e.type_len, "brew") || !e.has[QF_VOLUME] || !(e.v[QF_VOLUME] > 0))
		return 0;
	return e.v[QF_VOLUME];
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Cleanings done against due: time schedules by the gaps between cleanings
 * (the version judging the period's last day), descaling by litres. */
static json_t *cleanings_judge(struct walk *w)
{
	int64_t end = w->to_ms < w->now_ms ? w->to_ms : w->now_ms, version;
	const struct quality_ruleset *rs = rules_at(w, end - 1, &version);
	json_t *list = json_array();
	/* In service since: registered, or its first record (a history sent
	 * later, or a machine registered again), whichever is earlier. */
	int64_t since = w->first_ts != 0 && w->first_ts < w->m->created_ms ? w->first_ts : w->m->created_ms;
	int p;

	for (p = 0; p < QP_COUNT && list != NULL; p++) {
		const struct quality_cleaning *c = &rs->cleaning[p];
		struct times *ts = &w->cleanings[p];
		json_t *spans, *o;
		int64_t done = 0, overdue = 0, prev, last = 0, allowed, due;
		size_t i;

		if (!c->due)
			continue;
		spans = json_array();
		if (ts->n > 1)
			qsort(ts->t, ts->n, sizeof(ts->t[0]), cmp_i64);
		for (i = 0; i < ts->n; i++) {
			if (ts->t[i] >= w->from_ms && ts->t[i] < end)
				done++;
			if (ts->t[i] < end)
				last = ts->t[i];
		}
		if (p == QP_DESCALE) {
			overdue = w->descale_overdue;
			if (w->descale_overdue_since != 0) {
				overdue++;
				span(spans, w->descale_overdue_since > w->from_ms ? w->descale_overdue_since : w->from_ms, end);
			} else {
				json_array_extend(spans, w->descale_spans);
			}
			due = (int64_t)((w->litres_since > 0 ? w->litres_since : 0) / c->every_l);
			o = json_pack("{s:s, s:I, s:I, s:I, s:f, s:f}", "program", quality_program_name(p), "done", (json_int_t)done,
			              "due", (json_int_t)(due > done ? due : done), "overdue", (json_int_t)overdue,
			              "every_l", c->every_l, "litres_since_last", w->litres_since);
		} else {
			allowed = (c->every_h + c->grace_h) * HOUR_MS;
			/* Before the first cleaning seen: clean at installation, else due
			 * a whole interval before the period began. */
			prev = w->from_ms - allowed;
			if (since > prev)
				prev = since;
			for (i = 0; i <= ts->n; i++) {
				int64_t next = i < ts->n ? ts->t[i] : end;

				if (next > end)
					next = end;
				if (next - prev > allowed && next > w->from_ms && prev + allowed < end) {
					overdue++;
					span(spans, prev + allowed > w->from_ms ? prev + allowed : w->from_ms, next);
				}
				if (i < ts->n && ts->t[i] > prev)
					prev = ts->t[i];
			}
			/* One per interval begun in the period. */
			due = end - (since > w->from_ms ? since : w->from_ms);
			due = due > 0 ? (due + c->every_h * HOUR_MS - 1) / (c->every_h * HOUR_MS) : 0;
			o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "program", quality_program_name(p), "done",
			              (json_int_t)done, "due", (json_int_t)(due > 0 ? due : 0), "overdue", (json_int_t)overdue,
			              "every_h", (json_int_t)c->every_h, "grace_h", (json_int_t)c->grace_h);
		}
		if (o != NULL) {
			w->sum->cleanings_done[p] += done;
			w->sum->cleanings_due[p] += json_integer_value(json_object_get(o, "due"));
			w->sum->cleanings_overdue[p] += overdue;
			json_object_set_new(o, "last_ms", last ? json_integer(last) : json_null());
			json_object_set_new(o, "ruleset_version", json_integer(version));
			json_object_set_new(o, "overdue_spans", spans);
			json_array_append_new(list, o);
		} else {
			json_decref(spans);
		}
	}
	return list;
}

/* ---- sustained telemetry limits ---- */

struct run {
	int64_t start, last; /* minute starts; start 0: no run */
	double peak;
};

struct limit_walk {
	struct walk *w;
	const char *metric;
	int64_t *hours;
	size_t nhours, cap;
	struct run run;
	json_t *list;
};

static const struct rollup_metric *metric_in(const struct rollup_summary *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->nmetrics; i++)
		if (strcmp(b->m[i].name, name) == 0)
			return &b->m[i];
	return NULL;
}

static const struct quality_limit *limit_at(struct walk *w, const char *metric, int64_t ts, int64_t *version)
{
	const struct quality_ruleset *rs = rules_at(w, ts, version);
	size_t i;

	for (i = 0; i < rs->nlimits; i++)
		if (strcmp(rs->limits[i].metric, metric) == 0)
			return &rs->limits[i];
	return NULL;
}

static int on_hour(void *ctx, const struct rollup_summary *b)
{
	struct limit_walk *lw = ctx;
	const struct rollup_metric *rm = metric_in(b, lw->metric);
	int64_t version;
	const struct quality_limit *l = limit_at(lw->w, lw->metric, b->start_ms, &version);

	if (rm == NULL || rm->count == 0 || l == NULL)
		return 0;
	if (!((l->r.has_max && rm->max > l->r.max) || (l->r.has_min && rm->min < l->r.min)))
		return 0;
	if (lw->nhours == lw->cap) {
		size_t cap = lw->cap ? 2 * lw->cap : 16;
		int64_t *grown = realloc(lw->hours, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		lw->hours = grown;
		lw->cap = cap;
	}
	lw->hours[lw->nhours++] = b->start_ms;
	return 0;
}

static void run_close(struct limit_walk *lw)
{
	struct walk *w = lw->w;
	int64_t version, end = lw->run.last + 60000;
	const struct quality_limit *l;

	if (lw->run.start == 0)
		return;
	l = limit_at(w, lw->metric, lw->run.start, &version);
	if (l != NULL && end - lw->run.start > l->for_s * 1000) {
		struct day *d = day_of(w, lw->run.start);

		w->sum->telemetry_breaches++;
		if (d != NULL)
			d->telemetry_breaches++;
		if (lw->list != NULL && json_array_size(lw->list) < COMPLIANCE_LIST_MAX) {
			json_t *b = json_pack("{s:s, s:I, s:I, s:f, s:I, s:I}", "metric", lw->metric, "from_ms",
			                      (json_int_t)lw->run.start, "to_ms", (json_int_t)end, "peak", lw->run.peak,
			                      "for_s", (json_int_t)l->for_s, "ruleset_version", (json_int_t)version);

			if (b != NULL && l->r.has_max)
				json_object_set_new(b, "max", json_real(l->r.max));
			if (b != NULL && l->r.has_min)
				json_object_set_new(b, "min", json_real(l->r.min));
			json_array_append_new(lw->list, b);
		}
	}
	lw->run.start = 0;
}

static int on_minute(void *ctx, const struct rollup_summary *b)
{
	struct limit_walk *lw = ctx;
	const struct rollup_metric *rm = metric_in(b, lw->metric);
	int64_t version;
	const struct quality_limit *l = limit_at(lw->w, lw->metric, b->start_ms, &version);
	int above, below;

	if (b->start_ms < lw->w->from_ms)
		return 0;
	above = l != NULL && rm != NULL && rm->count > 0 && l->r.has_max && rm->min > l->r.max;
	below = l != NULL && rm != NULL && rm->count > 0 && l->r.has_min && rm->max < l->r.min;
	/* A minute without readings, or within the limit, ends a run. */
	if (lw->run.start != 0 && (!(above || below) || b->start_ms != lw->run.last + 60000))
		run_close(lw);
	if (!(above || below))
		return 0;
	if (lw->run.start == 0) {
		lw->run.start = b->start_ms;
		lw->run.peak = above ? rm->max : rm->min;
	}
	lw->run.last = b->start_ms;
	if (above && rm->max > lw->run.peak)
		lw->run.peak = rm->max;
	if (below && rm->min < lw->run.peak)
		lw->run.peak = rm->min;
	return 0;
}

static int limits_judge(struct vault *v, struct walk *w, json_t *list)
{
	const char *metrics[QUALITY_LIMITS_MAX * 2];
	size_t nmetrics = 0, i, j, k;
	int64_t from_h = w->from_ms - (w->from_ms % HOUR_MS), to = w->to_ms < w->now_ms ? w->to_ms : w->now_ms;
	int64_t to_h = to % HOUR_MS ? to - to % HOUR_MS + HOUR_MS : to;
	int rc = CC_OK;

	/* Every metric some day's version limits. */
	for (i = 0; i < w->ndays; i++)
		for (j = 0; j < w->days[i].rs->nlimits; j++) {
			const char *name = w->days[i].rs->limits[j].metric;

			for (k = 0; k < nmetrics && strcmp(metrics[k], name) != 0; k++)
				;
			if (k == nmetrics && nmetrics < sizeof(metrics) / sizeof(metrics[0]))
				metrics[nmetrics++] = name;
		}
	for (k = 0; k < nmetrics && rc == CC_OK; k++) {
		struct limit_walk lw;

		memset(&lw, 0, sizeof(lw));
		lw.w = w;
		lw.metric = metrics[k];
		lw.list = list;
		if (from_h < to_h)
			rc = rollup_read(v, w->m, HOUR_MS, from_h, to_h, on_hour, &lw, NULL);
		for (i = 0; i < lw.nhours && rc == CC_OK; i++) {
			if (i > 0 && lw.hours[i] != lw.hours[i - 1] + HOUR_MS)
				run_close(&lw);
			rc = rollup_read(v, w->m, ROLLUP_MINUTE_MS, lw.hours[i], lw.hours[i] + HOUR_MS, on_minute, &lw, NULL);
		}
		if (rc == CC_OK)
			run_close(&lw);
		free(lw.hours);
	}
	return rc;
}

int compliance_machine(struct vault *v, const struct compliance_rules *rules, const struct store_machine *m,
                       int64_t from_ms, int64_t to_ms, int64_t now_ms, int technical, int usage,
                       struct compliance_sum *sum, json_t **detail)
{
	struct walk w;
	json_t *days = NULL, *tele = NULL, *cleanings = NULL;
	size_t i;
	int p, rc;

	*detail = NULL;
	if (from_ms >= to_ms || from_ms < 0)
		return CC_ERR_INVALID;
	memset(&w, 0, sizeof(w));
	w.rules = rules;
	w.m = m;
	w.from_ms = from_ms;
	w.to_ms = to_ms;
	w.now_ms = now_ms;
	w.sum = sum;
	w.first_day_ms = from_ms - from_ms % COMPLIANCE_DAY_MS;
	w.ndays = (size_t)((to_ms - w.first_day_ms + COMPLIANCE_DAY_MS - 1) / COMPLIANCE_DAY_MS);
	w.days = calloc(w.ndays, sizeof(*w.days));
	if (w.days == NULL)
		return CC_ERR_NOMEM;
	for (i = 0; i < w.ndays; i++) {
		w.days[i].day_ms = w.first_day_ms + (int64_t)i * COMPLIANCE_DAY_MS;
		w.days[i].rs = compliance_rules_for(rules, m->model, w.days[i].day_ms, now_ms, &w.days[i].version);
	}
	sum->machines++;
	w.brew_list = technical ? json_array() : NULL;
	w.descale_spans = json_array();
	rc = event_days_get(v, m, from_ms - LOOKBACK_MS, to_ms, on_event, &w);
	if (rc == CC_OK && w.rc != CC_OK)
		rc = w.rc;
	if (rc == CC_OK && technical) {
		tele = json_array();
		rc = limits_judge(v, &w, tele);
		if (rc == CC_OK)
			cleanings = cleanings_judge(&w);
	} else if (rc == CC_OK) {
		cleanings = cleanings_judge(&w); /* the sums count them; the detail is technical */
		json_decref(cleanings);
		cleanings = NULL;
	}
	if (rc == CC_OK && sum->ndays == 0) {
		sum->days = calloc(w.ndays, sizeof(*sum->days));
		sum->ndays = sum->days != NULL ? w.ndays : 0;
		sum->first_day_ms = w.first_day_ms;
		if (sum->days == NULL)
			rc = CC_ERR_NOMEM;
	}
	for (i = 0; rc == CC_OK && i < w.ndays && i < sum->ndays && sum->first_day_ms == w.first_day_ms; i++) {
		sum->days[i][0] += w.days[i].brews;
		sum->days[i][1] += w.days[i].brews - w.days[i].unjudged;
		sum->days[i][2] += w.days[i].in_spec;
		sum->days[i][3] += w.days[i].brew_breaches + w.days[i].telemetry_breaches;
	}
	if (rc == CC_OK && (days = json_array()) != NULL) {
		for (i = 0; i < w.ndays; i++) {
			struct day *d = &w.days[i];
			char name[16];
			json_t *o;

			day_name(d->day_ms, name);
			o = json_pack("{s:s, s:I}", "day", name, "ruleset_version", (json_int_t)d->version);
			if (o == NULL)
				continue;
			if (usage) {
				json_object_set_new(o, "brews", json_integer(d->brews));
				json_object_set_new(o, "in_spec", json_integer(d->in_spec));
			}
			if (technical) {
				json_object_set_new(o, "in_spec_pct", pct(d->in_spec, d->brews - d->unjudged));
				json_object_set_new(o, "brew_breaches", json_integer(d->brew_breaches));
				json_object_set_new(o, "telemetry_breaches", json_integer(d->telemetry_breaches));
				json_object_set_new(o, "cleanings", json_integer(d->cleanings));
			}
			json_array_append_new(days, o);
		}
		*detail = json_pack("{s:o}", "days", days);
		if (*detail != NULL && technical) {
			json_object_set(*detail, "out_of_spec", w.brew_list);
			json_object_set(*detail, "breaches", tele);
			json_object_set(*detail, "schedule", cleanings);
		}
		if (*detail == NULL)
			rc = CC_ERR_NOMEM;
	}
	json_decref(w.brew_list);
	json_decref(w.descale_spans);
	json_decref(tele);
	json_decref(cleanings);
	for (p = 0; p < QP_COUNT; p++)
		free(w.cleanings[p].t);
	free(w.days);
	return rc;
}

/* ---- the report over many machines ---- */

struct group {
	char customer[CC_NAME_MAX + 1], site[CC_NAME_MAX + 1];
	struct compliance_sum sum;
};

static struct group *group_of(struct group **gs, size_t *n, const char *customer, const char *site)
{
	struct group *grown;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*gs)[i].customer, customer) == 0 && strcmp((*gs)[i].site, site) == 0)
			return &(*gs)[i];
	grown = realloc(*gs, (*n + 1) * sizeof(**gs));
	if (grown == NULL)
		return NULL;
	*gs = grown;
	memset(&grown[*n], 0, sizeof(grown[0]));
	snprintf(grown[*n].customer, sizeof(grown[*n].customer), "%s", customer);
	snprintf(grown[*n].site, sizeof(grown[*n].site), "%s", site);
	return &grown[(*n)++];
}

static json_t *groups_json(const struct group *gs, size_t n, int with_site, int technical, int usage)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; i < n && list != NULL; i++) {
		json_t *o = compliance_sum_json(&gs[i].sum, technical, usage);

		if (o == NULL) {
			json_decref(list);
			return NULL;
		}
		json_object_set_new(o, "customer", json_string(gs[i].customer));
		if (with_site)
			json_object_set_new(o, "site", gs[i].site[0] ? json_string(gs[i].site) : json_null());
		json_array_append_new(list, o);
	}
	return list;
}

int compliance_report(struct vault *v, const struct compliance_target *machines, size_t n, int64_t from_ms,
                      int64_t to_ms, int64_t now_ms, int technical, int usage, json_t **out)
{
	struct compliance_rules *rules = NULL;
	struct compliance_sum total;
	struct group *sites = NULL, *customers = NULL;
	size_t nsites = 0, ncustomers = 0, i;
	json_t *list = json_array();
	int rc;

	*out = NULL;
	memset(&total, 0, sizeof(total));
	rc = list != NULL ? compliance_rules_load(vault_store(v), &rules) : CC_ERR_NOMEM;
	for (i = 0; rc == CC_OK && i < n; i++) {
		const struct compliance_target *t = &machines[i];
		struct compliance_sum one;
		struct group *gs, *gc;
		json_t *detail = NULL, *o = NULL;

		memset(&one, 0, sizeof(one));
		rc = compliance_machine(v, rules, &t->m, from_ms, to_ms, now_ms, technical, usage, &one, &detail);
		gs = rc == CC_OK ? group_of(&sites, &nsites, t->customer, t->site) : NULL;
		gc = gs != NULL ? group_of(&customers, &ncustomers, t->customer, "") : NULL;
		if (rc == CC_OK && (gc == NULL || compliance_sum_add(&total, &one) != CC_OK ||
		                    compliance_sum_add(&gs->sum, &one) != CC_OK || compliance_sum_add(&gc->sum, &one) != CC_OK ||
		                    (o = compliance_sum_json(&one, technical, usage)) == NULL))
			rc = CC_ERR_NOMEM;
		if (o != NULL) {
			json_object_set_new(o, "serial", json_string(t->m.serial));
			json_object_set_new(o, "model", json_string(t->m.model));
			json_object_set_new(o, "customer", json_string(t->customer));
			json_object_set_new(o, "site", t->site[0] ? json_string(t->site) : json_null());
			json_object_del(o, "machines");
			json_object_update(o, detail); /* its days, breaches and schedule */
			json_array_append_new(list, o);
		}
		json_decref(detail);
		compliance_sum_free(&one);
	}
	if (rc == CC_OK) {
		*out = json_pack("{s:I, s:I, s:o, s:o, s:o, s:O}", "from", (json_int_t)from_ms, "to", (json_int_t)to_ms,
		                 "total", compliance_sum_json(&total, technical, usage), "customers",
		                 groups_json(customers, ncustomers, 0, technical, usage), "sites",
		                 groups_json(sites, nsites, 1, technical, usage), "machines", list);
		if (*out == NULL)
			rc = CC_ERR_NOMEM;
	}
	json_decref(list);
	compliance_rules_free(rules);
	compliance_sum_free(&total);
	for (i = 0; i < nsites; i++)
		compliance_sum_free(&sites[i].sum);
	for (i = 0; i < ncustomers; i++)
		compliance_sum_free(&customers[i].sum);
	free(sites);
	free(customers);
	return rc;
}

/* ---- rule sets as shown ---- */

static json_t *version_json(const struct store_ruleset *r, const char *doc, int with_doc)
{
	struct quality_ruleset rs;
	char why[QUALITY_WHY_MAX];
	json_t *o = json_pack("{s:s, s:I, s:I}", "model", r->model, "version", (json_int_t)r->version, "created_ms",
	                      (json_int_t)r->created_ms);

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "author", r->author[0] ? json_string(r->author) : json_null());
	if (doc != NULL && quality_ruleset_parse(doc, strlen(doc), &rs, why, sizeof(why)) == CC_OK)
		json_object_set_new(o, "name", rs.name[0] ? json_string(rs.name) : json_null());
	if (with_doc)
		json_object_set_new(o, "document", doc != NULL ? json_loads(doc, 0, NULL) : json_null());
	return o;
}

static const char *const shipped_models[] = { "barista-pro", "*" };

static json_t *shipped_json(const char *model, int with_doc)
{
	struct store_ruleset r;

	memset(&r, 0, sizeof(r));
	snprintf(r.model, sizeof(r.model), "%s", model);
	return version_json(&r, quality_default_text(strcmp(model, "*") == 0 ? NULL : model), with_doc);
}

struct listing {
	json_t *list;
	const char *want;   /* a model, or NULL */
	int64_t version;    /* show: that version, 0 the newest */
	json_t *found;
};

static int list_one(void *ctx, const struct store_ruleset *r, const char *doc)
{
	struct listing *l = ctx;
	json_t *o = version_json(r, doc, 0);

	if (o == NULL || json_array_append_new(l->list, o) != 0)
		return CC_ERR_NOMEM;
	return 0;
}

static int find_one(void *ctx, const struct store_ruleset *r, const char *doc)
{
	struct listing *l = ctx;

	if (l->version != 0 && r->version != l->version)
		return 0;
	json_decref(l->found);
	l->found = version_json(r, doc, 1);
	return l->found != NULL ? 0 : CC_ERR_NOMEM;
}

int compliance_rules_list_json(struct store *st, const char *model, json_t **out)
{
	struct listing l;
	size_t i;

	memset(&l, 0, sizeof(l));
	*out = NULL;
	l.list = json_array();
	for (i = 0; i < sizeof(shipped_models) / sizeof(shipped_models[0]) && l.list != NULL; i++)
		if (model == NULL || strcmp(model, shipped_models[i]) == 0)
			json_array_append_new(l.list, shipped_json(shipped_models[i], 0));
	if (l.list == NULL || st->ops->ruleset_list(st, model, list_one, &l) != CC_OK) {
		json_decref(l.list);
		return l.list == NULL ? CC_ERR_NOMEM : CC_ERR_DB;
	}
	*out = l.list;
	return CC_OK;
}

int compliance_rules_show_json(struct store *st, const char *model, int has_version, int64_t version, json_t **out)
{
	struct listing l;
	int rc;

	memset(&l, 0, sizeof(l));
	l.version = version;
	*out = NULL;
	if (!has_version || version != 0) {
		rc = st->ops->ruleset_list(st, model, find_one, &l);
		if (rc != CC_OK) {
			json_decref(l.found);
			return rc;
		}
	}
	/* No version of its own: the model is judged by the shipped standard. */
	if (l.found == NULL && (!has_version || version == 0))
		l.found = shipped_json(model, 1);
	*out = l.found;
	return l.found != NULL ? CC_OK : CC_ERR_NOTFOUND;
}

int compliance_rules_upload(struct store *st, const char *text, size_t len, const char *author, int64_t now_ms,
                            char *why, size_t cap, struct store_ruleset *out)
{
	struct quality_ruleset *rs = malloc(sizeof(*rs));
	char *copy;
	int rc;

	memset(out, 0, sizeof(*out));
	if (rs == NULL)
		return CC_ERR_NOMEM;
	rc = quality_ruleset_parse(text, len, rs, why, cap);
	if (rc == CC_OK) {
		snprintf(out->model, sizeof(out->model), "%s", rs->model);
		snprintf(out->author, sizeof(out->author), "%s", author);
		out->created_ms = now_ms;
	}
	free(rs);
	if (rc != CC_OK)
		return rc;
	copy = strndup(text, len); /* parsed as one JSON document: holds no NUL */
	if (copy == NULL)
		return CC_ERR_NOMEM;
	rc = st->ops->ruleset_add(st, out, copy, &out->version);
	free(copy);
	return rc;
}
