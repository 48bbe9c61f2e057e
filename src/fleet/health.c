#include "fleet/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/roles.h"
#include "common/clock.h"
#include "common/err.h"
#include "ingest/catalogue.h"
#include "records/rollup.h"

static void part(struct health *h, const char *name, unsigned data_class, int penalty, const char *why)
{
	if (penalty <= 0 || h->nparts == HEALTH_PARTS_MAX)
		return;
	h->parts[h->nparts].name = name;
	h->parts[h->nparts].data_class = data_class;
	h->parts[h->nparts].penalty = penalty;
	snprintf(h->parts[h->nparts].why, sizeof(h->parts[0].why), "%s", why);
	h->nparts++;
}

static int keep(void *ctx, int64_t machine_id, const struct availability *a)
{
	(void)machine_id;
	*(struct availability *)ctx = *a;
	return 0;
}

static int count_fault(void *ctx, const struct store_state_change *c, int before)
{
	if (!before && c->kind == STATE_FAULT && c->value != 0)
		(*(int *)ctx)++;
	return 0;
}

struct service_readings {
	double filter_used_pct, descale_due_l;
	int has_filter, has_descale;
};

static int service_wanted(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "filter_used_pct") == 0 || strcmp(name, "descale_due_l") == 0;
}

static int service_reading(void *ctx, const struct rollup_metric *x)
{
	struct service_readings *r = ctx;
	double v = strtod(x->last, NULL);

	if (strcmp(x->name, "filter_used_pct") == 0) {
		r->filter_used_pct = v;
		r->has_filter = 1;
	} else {
		r->descale_due_l = v;
		r->has_descale = 1;
	}
	return 0;
}

static int by_penalty(const void *a, const void *b)
{
	return ((const struct health_part *)b)->penalty - ((const struct health_part *)a)->penalty;
}

/* Worst part first; 100 less the penalties, never below 0. */
static void score(struct health *h)
{
	int i, total = 0;

	if (h->nparts > 1)
		qsort(h->parts, (size_t)h->nparts, sizeof(h->parts[0]), by_penalty);
	for (i = 0; i < h->nparts; i++)
		total += h->parts[i].penalty;
	h->score = total >= 100 ? 0 : 100 - total;
}

int health_of(struct vault *v, const struct store_machine *m, unsigned classes, struct health *out)
{
	struct store *s = vault_store(v);
	int64_t now = clock_now_ms(), from = now - HEALTH_WINDOW_MS;
	struct service_readings sr;
	char why[96];
	int faults = 0, rc;

	memset(out, 0, sizeof(*out));
	out->week.state_at_end = MSTATE_UNKNOWN;
	rc = availability_each(s, m->id, from, now, keep, &out->week);
	if (rc == CC_OK && (classes & CLASS_TECHNICAL))
		rc = s->ops->state_changes(s, m->id, from, now, count_fault, &faults);
	memset(&sr, 0, sizeof(sr));
	if (rc == CC_OK && (classes & CLASS_SERVICE))
		rc = rollup_latest(v, m, service_wanted, service_reading, &sr, NULL);
	if (rc != CC_OK)
		return rc;
	if (classes & CLASS_STATUS) {
		int64_t counted = out->week.up_ms + availability_down_ms(&out->week);

		if (counted > 0) {
			double pct = 100.0 * (double)out->week.up_ms / (double)counted;
			int penalty = (int)((100.0 - pct) * 2.0 + 0.5);

			snprintf(why, sizeof(why), "availability %.1f %% over the last 7 days", pct);
			part(out, "availability", CLASS_STATUS, penalty > 40 ? 40 : penalty, why);
		}
		if (out->week.state_at_end == MSTATE_OUT_OF_SERVICE) {
			snprintf(why, sizeof(why), "out of service now (%s)", out->week.reason);
			part(out, "state", CLASS_STATUS, 30, why);
		} else if (out->week.state_at_end == MSTATE_OFFLINE) {
			snprintf(why, sizeof(why), "offline now (%s)", out->week.reason);
			part(out, "state", CLASS_STATUS, 10, why);
		}
	}
	if (faults > 0) {
		snprintf(why, sizeof(why), "%d critical fault%s in the last 7 days", faults, faults == 1 ? "" : "s");
		part(out, "faults", CLASS_TECHNICAL, faults * 5 > 20 ? 20 : faults * 5, why);
	}
	if (sr.has_filter && sr.filter_used_pct > 100) {
		snprintf(why, sizeof(why), "water filter at %.0f %% of its capacity", sr.filter_used_pct);
		part(out, "filter", CLASS_SERVICE, 10, why);
	}
	if (sr.has_descale && sr.descale_due_l < 0) {
		snprintf(why, sizeof(why), "descaling overdue by %.0f l", -sr.descale_due_l);
		part(out, "descaling", CLASS_SERVICE, 10, why);
	}
	score(out);
	return CC_OK;
}

void health_add(struct health *h, const char *name, unsigned data_class, int penalty, const char *why)
{
	part(h, name, data_class, penalty, why);
	score(h);
}

json_t *health_json(const struct health *h)
{
	json_t *parts = json_array();
	int i;

	for (i = 0; parts != NULL && i < h->nparts; i++)
		json_array_append_new(parts, json_pack("{s:s, s:i, s:s, s:s}", "part", h->parts[i].name, "penalty",
		                                       h->parts[i].penalty, "why", h->parts[i].why, "data_class",
		                                       catalogue_class_name(h->parts[i].data_class)));
	return json_pack("{s:i, s:o}", "score", h->score, "parts", parts);
}
