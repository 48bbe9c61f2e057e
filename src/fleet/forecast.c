#define _GNU_SOURCE /* memmem */
/* forecast.c - service due dates from usage rates; see forecast.h. */
#include "fleet/forecast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fleet/inventory.h"
#include "ingest/jscan.h"
#include "records/event_days.h"
#include "records/records.h"
#include "records/rollup.h"

#define HOUR_MS ROLLUP_HOUR_MS

/* Fitted to the simulator (src/sim/fleet.c): its filter holds 1500 l at
 * 1 dH (150 l at 10 dH), it warns for descaling after 4500 l at 1 dH. */
static const struct forecast_intervals shipped[] = {
	{ "barista-pro", 50000, 1500, 1.2, 1500, 4500, 10 },
	{ "espresso-one", 30000, 800, 1.0, 1000, 3500, 10 },
	{ "*", 40000, 1000, 1.0, 1200, 4000, 10 },
};
#define NSHIPPED (sizeof(shipped) / sizeof(shipped[0]))

static const char *const service_names[FS_COUNT] = { "brew_unit", "grinder_burrs", "water_filter", "descaling" };

const char *forecast_service_name(enum forecast_service s)
{
	return s < FS_COUNT ? service_names[s] : "?";
}

const struct forecast_intervals *forecast_intervals_for(const char *model)
{
	size_t i;

	for (i = 0; model != NULL && i < NSHIPPED; i++)
		if (strcmp(shipped[i].model, model) == 0)
			return &shipped[i];
	return &shipped[NSHIPPED - 1];
}

json_t *forecast_intervals_json(void)
{
	json_t *models = json_object();
	size_t i;

	for (i = 0; models != NULL && i < NSHIPPED; i++) {
		const struct forecast_intervals *f = &shipped[i];

		json_object_set_new(models, f->model,
		                    json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "brew_unit_cycles", f->brew_unit_cycles,
		                              "burrs_kg", f->burrs_kg, "grind_g_per_s", f->grind_g_per_s, "filter_l_dh",
		                              f->filter_l_dh, "descale_l_dh", f->descale_l_dh, "hardness_dh", f->hardness_dh));
	}
	return json_pack("{s:s, s:o}", "version", FORECAST_INTERVALS_VERSION, "models", models);
}

int forecast_due(double interval, double used, double rate_per_day, int64_t now_ms, int64_t *due_ms)
{
	double remaining = interval - used;

	if (!isfinite(remaining) || interval <= 0) {
		*due_ms = INT64_MIN;
		return 0;
	}
	if (!(rate_per_day > 0) || !isfinite(rate_per_day)) {
		/* Without a rate only an overrun is certain: due now. */
		*due_ms = remaining <= 0 ? now_ms : INT64_MIN;
		return remaining <= 0;
	}
	/* Whole milliseconds, rounded down; a forecast past year 9999 is none. */
	if (remaining / rate_per_day > 3e6) {
		*due_ms = INT64_MIN;
		return 0;
	}
	*due_ms = now_ms + (int64_t)(remaining / rate_per_day * (double)FORECAST_DAY_MS); /* >= 0: truncation floors */
	return 1;
}

/* ---- one machine ---- */

enum metric { M_CYCLES, M_GRINDER, M_FILTER, M_WATER, M_HARDNESS, M_COUNT };
static const char *const metric_names[M_COUNT] = { "brew_unit_cycles", "grinder_runtime_s", "filter_used_pct",
	                                           "water_used_l", "water_hardness_dh" };

struct series {
	int64_t *start;
	double *min, *max;
	size_t n;
	double last;
	int64_t last_ts;
	/* the rate window's increase */
	double increase, prev_max;
	int64_t prev_last_ts;
	int has_prev;
	int64_t first_in_window;
};

struct last_service {
	int64_t ts;
	int has_counter;
	int64_t counter;
	const char *source; /* "maintenance", "cleaning" */
};

struct machine_walk {
	int64_t now_ms, window_from;
	size_t cap;
	struct series s[M_COUNT];
	struct last_service last[FS_COUNT];
	/* Without a water counter (the simulator sends none), descaling
	 * counts the water of the brews instead. */
	int sum_brews;
	double brewed_l, window_l;
	int64_t first_brew_ts, last_brew_ts;
	int rc;
};

static int on_hour(void *ctx, const struct rollup_summary *b)
{
	struct machine_walk *w = ctx;
	size_t i;
	int k;

	for (i = 0; i < b->nmetrics; i++) {
		const struct rollup_metric *m = &b->m[i];
		struct series *s = NULL;

		for (k = 0; k < M_COUNT; k++)
			if (strcmp(m->name, metric_names[k]) == 0)
				s = &w->s[k];
		if (s == NULL || m->count == 0 || s->n == w->cap)
			continue;
		s->start[s->n] = b->start_ms;
		s->min[s->n] = m->min;
		s->max[s->n] = m->max;
		s->n++;
		s->last = m->last_len > 0 ? strtod(m->last, NULL) : m->max;
		s->last_ts = m->last_ts != INT64_MIN ? m->last_ts : b->start_ms;
		if (b->start_ms >= w->window_from) {
			/* A counter's increase: a drop (a new filter) starts again from
			 * its new value, so the rate is of use, not of the reading. */
			double base = s->has_prev && m->min >= s->prev_max ? s->prev_max : m->min;

			/* Measured from the reading before (exact), else from the
			 * first hour's start. */
			if (s->first_in_window == 0)
				s->first_in_window = s->has_prev ? s->prev_last_ts : b->start_ms;
			s->increase += m->max - base;
		}
		s->prev_max = m->max;
		s->prev_last_ts = s->last_ts;
		s->has_prev = 1;
	}
	return 0;
}

struct event_scan {
	int key; /* 1 type, 2 action, 3 program, 4 result, 5 counter, 6 volume_ml */
	char type[16], action[24], program[16], result[8];
	int has_counter;
	int64_t counter;
	double volume_ml;
};

static void copy(char *to, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		len = 0;
	memcpy(to, s, len);
	to[len] = '\0';
}

static int on_token(void *ctx, const struct jscan_token *t)
{
	struct event_scan *e = ctx;
	static const char *const keys[] = { "type", "action", "program", "result", "counter", "volume_ml" };
	size_t k;

	if (t->depth != 1)
		return 0;
	if (t->type == JSCAN_KEY) {
		e->key = 0;
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strlen(keys[k]) == t->len && memcmp(keys[k], t->s, t->len) == 0)
				e->key = (int)k + 1;
		return 0;
	}
	if (t->type == JSCAN_STRING) {
		if (e->key == 1)
			copy(e->type, sizeof(e->type), t->s, t->len);
		else if (e->key == 2)
			copy(e->action, sizeof(e->action), t->s, t->len);
		else if (e->key == 3)
			copy(e->program, sizeof(e->program), t->s, t->len);
		else if (e->key == 4)
			copy(e->result, sizeof(e->result), t->s, t->len);
	} else if (t->type == JSCAN_INTEGER && e->key == 5) {
		e->has_counter = 1;
		e->counter = t->i;
	} else if ((t->type == JSCAN_INTEGER || t->type == JSCAN_REAL) && e->key == 6) {
		e->volume_ml = t->d;
	}
	e->key = 0;
	return 0;
}

static void note(struct machine_walk *w, int service, const struct event_scan *e, int64_t ts, const char *source)
{
	struct last_service *l = &w->last[service];

	if (ts < l->ts)
		return;
	l->ts = ts;
	l->has_counter = e->has_counter;
	l->counter = e->counter;
	l->source = source;
}

static int on_event(void *ctx, const struct record_out *rec)
{
	struct machine_walk *w = ctx;
	struct event_scan e;
	struct jscan js;

	memset(&e, 0, sizeof(e));
	/* Brews are most events: a look at the type's bytes skips them
	 * unscanned unless their water is wanted. */
	if (memmem(rec->body, rec->body_len, "\"brew\"", 6) != NULL && !w->sum_brews)
		return 0;
	if (jscan_run(&js, (const uint8_t *)rec->body, rec->body_len, on_token, &e) != JSCAN_OK)
		return 0;
	if (strcmp(e.type, "brew") == 0) {
		if (e.volume_ml > 0) {
			w->brewed_l += e.volume_ml / 1000.0;
			if (rec->ts_ms >= w->window_from)
				w->window_l += e.volume_ml / 1000.0;
		}
		if (w->first_brew_ts == 0)
			w->first_brew_ts = rec->ts_ms;
		w->last_brew_ts = rec->ts_ms;
		return 0;
	}
	if (w->sum_brews && rec->ts_ms >= w->last[FS_DESCALING].ts &&
	    ((strcmp(e.type, "maintenance") == 0 && strcmp(e.action, "descale") == 0) ||
	     (strcmp(e.type, "cleaning") == 0 && strcmp(e.program, "descale") == 0 && strcmp(e.result, "ok") == 0)))
		w->brewed_l = 0; /* counted from the descaling on */
	if (strcmp(e.type, "maintenance") == 0) {
		if (strcmp(e.action, "brew_unit_change") == 0)
			note(w, FS_BREW_UNIT, &e, rec->ts_ms, "maintenance");
		else if (strcmp(e.action, "filter_change") == 0)
			note(w, FS_WATER_FILTER, &e, rec->ts_ms, "maintenance");
		else if (strcmp(e.action, "descale") == 0)
			note(w, FS_DESCALING, &e, rec->ts_ms, "maintenance");
	} else if (strcmp(e.type, "cleaning") == 0 && strcmp(e.program, "descale") == 0 && strcmp(e.result, "ok") == 0) {
		e.has_counter = 0;
		note(w, FS_DESCALING, &e, rec->ts_ms, "cleaning");
	}
	return 0;
}

/* The reading at t: the lowest of the first hour with readings from t's hour on. */
static int value_at(const struct series *s, int64_t t, double *out)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->start[i] >= t - t % HOUR_MS) {
			*out = s->min[i];
			return 1;
		}
	return 0;
}

static double rate_of(const struct series *s)
{
	double days;

	if (s->first_in_window == 0 || s->last_ts <= s->first_in_window)
		return NAN;
	days = (double)(s->last_ts - s->first_in_window) / (double)FORECAST_DAY_MS;
	return days >= 1.0 ? s->increase / days : NAN; /* less than a day says too little */
}

static json_t *num(double d)
{
	/* Millionths are plenty (and hide the float noise of 0.05 * 150); an
	 * overdue remainder stays negative. */
	return isfinite(d) && d > -1e12 && d < 1e12
	               ? json_real((double)(int64_t)(d * 1e6 + (d < 0 ? -0.5 : 0.5)) / 1e6)
	               : json_null();
}

static json_t *service_json(const struct machine_walk *w, int service, const char *unit, double interval,
                            const struct series *counter, const char *metric, double used, double rate,
                            int due_within_days, int64_t *due_out)
{
	const struct last_service *l = &w->last[service];
	int64_t due = INT64_MIN;
	const char *status = "unknown";
	json_t *o;

	if (counter->n > 0 && isfinite(used) && forecast_due(interval, used, rate, w->now_ms, &due)) {
		if (used >= interval)
			status = "overdue";
		else if (due - w->now_ms <= (int64_t)due_within_days * FORECAST_DAY_MS)
			status = "due_soon";
		else
			status = "ok";
	}
	*due_out = due;
	o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:{s:s, s:o, s:o}, s:s}", "service", service_names[service], "unit",
	              unit, "interval", num(interval), "used", num(used), "remaining", num(interval - used),
	              "rate_per_day", num(rate), "counter", "metric", metric, "value",
	              counter->n > 0 ? num(counter->last) : json_null(), "ts",
	              counter->n > 0 ? json_integer(counter->last_ts) : json_null(), "status", status);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "due_ms", due != INT64_MIN ? json_integer(due) : json_null());
	json_object_set_new(o, "last_service",
	                    l->ts == 0 ? json_null()
	                               : json_pack("{s:I, s:s, s:o}", "ts", (json_int_t)l->ts, "source", l->source,
	                                           "counter", l->has_counter ? json_integer(l->counter) : json_null()));
	return o;
}

int forecast_machine(struct vault *v, const struct store_machine *m, int64_t now_ms, int due_within_days,
                     json_t **out, int64_t due_ms_out[FS_COUNT])
{
	const struct forecast_intervals *iv = forecast_intervals_for(m->model);
	struct machine_walk w;
	int64_t from = now_ms - now_ms % HOUR_MS - FORECAST_SERVICE_DAYS * FORECAST_DAY_MS, dues[FS_COUNT];
	double hardness, at, used, capacity, k;
	json_t *list = NULL;
	int i, rc;

	*out = NULL;
	memset(&w, 0, sizeof(w));
	w.now_ms = now_ms;
	w.window_from = now_ms - FORECAST_RATE_DAYS * FORECAST_DAY_MS;
	w.cap = (size_t)((now_ms + HOUR_MS - from) / HOUR_MS) + 1;
	for (i = 0; i < M_COUNT; i++) {
		w.s[i].start = calloc(w.cap, sizeof(int64_t));
		w.s[i].min = calloc(w.cap, sizeof(double));
		w.s[i].max = calloc(w.cap, sizeof(double));
		if (w.s[i].start == NULL || w.s[i].min == NULL || w.s[i].max == NULL) {
			rc = CC_ERR_NOMEM;
			goto out;
		}
	}
	rc = rollup_read(v, m, HOUR_MS, from, now_ms - now_ms % HOUR_MS + HOUR_MS, on_hour, &w, NULL);
	w.sum_brews = w.s[M_WATER].n == 0;
	if (rc == CC_OK)
		rc = event_days_get(v, m, from, now_ms + 1, on_event, &w);
	if (rc != CC_OK)
		goto out;
	list = json_array();
	if (list == NULL) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	hardness = w.s[M_HARDNESS].n > 0 && w.s[M_HARDNESS].last >= 1 ? w.s[M_HARDNESS].last : iv->hardness_dh;

	/* The brew unit: cycles since the change (its counter then, else the
	 * reading at the time; none seen: since manufacture). */
	at = 0;
	if (w.last[FS_BREW_UNIT].ts != 0) {
		if (w.last[FS_BREW_UNIT].has_counter)
			at = (double)w.last[FS_BREW_UNIT].counter;
		else if (!value_at(&w.s[M_CYCLES], w.last[FS_BREW_UNIT].ts, &at))
			at = 0;
	}
	used = w.s[M_CYCLES].last - at;
	json_array_append_new(list, service_json(&w, FS_BREW_UNIT, "cycles", iv->brew_unit_cycles, &w.s[M_CYCLES],
	                                         metric_names[M_CYCLES], used, rate_of(&w.s[M_CYCLES]), due_within_days,
	                                         &dues[FS_BREW_UNIT]));

	/* The burrs: beans ground since manufacture (no maintenance action
	 * names a burr change yet). */
	k = iv->grind_g_per_s / 1000.0;
	json_array_append_new(list, service_json(&w, FS_GRINDER_BURRS, "kg", iv->burrs_kg, &w.s[M_GRINDER],
	                                         metric_names[M_GRINDER], w.s[M_GRINDER].last * k,
	                                         rate_of(&w.s[M_GRINDER]) * k, due_within_days, &dues[FS_GRINDER_BURRS]));

	/* The filter: the machine counts its use in % of the cartridge, which
	 * holds filter_l_dh / hardness litres. */
	capacity = iv->filter_l_dh / hardness;
	json_array_append_new(list, service_json(&w, FS_WATER_FILTER, "l", capacity, &w.s[M_FILTER],
	                                         metric_names[M_FILTER], w.s[M_FILTER].last / 100.0 * capacity,
	                                         rate_of(&w.s[M_FILTER]) / 100.0 * capacity, due_within_days,
	                                         &dues[FS_WATER_FILTER]));

	/* Descaling: water drawn since the last descaling (the reading at its
	 * time); none seen in the look-back: since the look-back began. No
	 * water counter: the brews' volumes, the same way. */
	if (w.sum_brews && w.last_brew_ts != 0) {
		struct series brewed;
		int64_t since = w.first_brew_ts > w.window_from ? w.first_brew_ts : w.window_from;
		double days = (double)(now_ms - since) / (double)FORECAST_DAY_MS;

		memset(&brewed, 0, sizeof(brewed));
		brewed.n = 1;
		brewed.last = w.brewed_l;
		brewed.last_ts = w.last_brew_ts;
		json_array_append_new(list, service_json(&w, FS_DESCALING, "l", iv->descale_l_dh / hardness, &brewed,
		                                         "brew.volume_ml", w.brewed_l, days >= 1.0 ? w.window_l / days : NAN,
		                                         due_within_days, &dues[FS_DESCALING]));
	} else {
		if (w.last[FS_DESCALING].ts == 0 || !value_at(&w.s[M_WATER], w.last[FS_DESCALING].ts, &at))
			at = w.s[M_WATER].n > 0 ? w.s[M_WATER].min[0] : 0;
		json_array_append_new(list, service_json(&w, FS_DESCALING, "l", iv->descale_l_dh / hardness,
		                                         &w.s[M_WATER], metric_names[M_WATER], w.s[M_WATER].last - at,
		                                         rate_of(&w.s[M_WATER]), due_within_days, &dues[FS_DESCALING]));
	}
	{
		json_t *d = json_array_get(list, FS_DESCALING), *f = json_array_get(list, FS_WATER_FILTER);

		json_object_set_new(d, "hardness_dh", num(hardness));
		json_object_set_new(f, "hardness_dh", num(hardness));
	}
	if (json_array_size(list) != FS_COUNT) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	if (due_ms_out != NULL)
		memcpy(due_ms_out, dues, sizeof(dues));
	*out = list;
	list = NULL;
out:
	json_decref(list);
	for (i = 0; i < M_COUNT; i++) {
		free(w.s[i].start);
		free(w.s[i].min);
		free(w.s[i].max);
	}
	return rc;
}

/* ---- the report ---- */

static int soonest_first(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "due_ms"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "due_ms"));

	return x < y ? -1 : x > y;
}

static json_t *sorted(json_t *list)
{
	size_t n = json_array_size(list), i;
	json_t **items = calloc(n + 1, sizeof(*items)), *out = json_array();

	for (i = 0; items != NULL && i < n; i++)
		items[i] = json_array_get(list, i);
	if (items != NULL)
		qsort(items, n, sizeof(*items), soonest_first);
	for (i = 0; items != NULL && out != NULL && i < n; i++)
		json_array_append(out, items[i]);
	free(items);
	json_decref(list);
	return out;
}

int forecast_report(struct vault *v, const struct compliance_target *machines, size_t n, int64_t now_ms,
                    int due_within_days, json_t **out)
{
	json_t *overdue = json_array(), *soon = json_array(), *list = json_array(), *services = NULL;
	size_t i, j;
	int rc = overdue != NULL && soon != NULL && list != NULL ? CC_OK : CC_ERR_NOMEM;

	*out = NULL;
	for (i = 0; i < n && rc == CC_OK; i++) {
		const struct compliance_target *t = &machines[i];
		json_t *svc;

		rc = forecast_machine(v, &t->m, now_ms, due_within_days, &services, NULL);
		if (rc != CC_OK)
			break;
		json_array_foreach(services, j, svc) {
			const char *status = json_string_value(json_object_get(svc, "status"));
			json_t *to = strcmp(status, "overdue") == 0 ? overdue : strcmp(status, "due_soon") == 0 ? soon : NULL;

			if (to != NULL)
				json_array_append_new(to, json_pack("{s:s, s:s?, s:s, s:s, s:O}", "serial", t->m.serial, "site",
				                                    t->site[0] ? t->site : NULL, "customer", t->customer,
				                                    "service", json_string_value(json_object_get(svc, "service")),
				                                    "due_ms", json_object_get(svc, "due_ms")));
		}
		json_array_append_new(list, json_pack("{s:s, s:s?, s:s, s:s, s:o}", "serial", t->m.serial, "site",
		                                      t->site[0] ? t->site : NULL, "customer", t->customer, "model",
		                                      t->m.model, "services", services));
		services = NULL;
	}
	if (rc == CC_OK) {
		*out = json_pack("{s:I, s:i, s:s, s:o, s:o, s:O}", "now", (json_int_t)now_ms, "due_within_days",
		                 due_within_days, "intervals_version", FORECAST_INTERVALS_VERSION, "overdue", sorted(overdue),
		                 "due_soon", sorted(soon), "machines", list);
		overdue = soon = NULL;
		rc = *out != NULL ? CC_OK : CC_ERR_NOMEM;
	}
	json_decref(overdue);
	json_decref(soon);
	json_decref(list);
	return rc;
}

int forecast_name_companies(struct store *st, json_t *report)
{
	static const char *const lists[] = { "overdue", "due_soon" };
	struct store_org customer, company;
	json_t *item;
	size_t l, i;

	for (l = 0; l < 2; l++)
		json_array_foreach(json_object_get(report, lists[l]), i, item) {
			const char *name = json_string_value(json_object_get(item, "customer"));
			int found = name != NULL && st->ops->org_find(st, name, &customer) == CC_OK &&
			            st->ops->org_get(st, customer.parent_id, &company) == CC_OK;

			if (json_object_set_new(item, "service_company", found ? json_string(company.name) : json_null()) != 0)
				return CC_ERR_NOMEM;
		}
	return CC_OK;
}
