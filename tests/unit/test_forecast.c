/* test_forecast.c - the forecast arithmetic (a rate set by hand gives an
 * exact date), the shipped intervals, group_by parsing, and the
 * maintenance_due_soon rule over a forecast. */
#include <stdint.h>
#include <string.h>

#include "alerts/rules.h"
#include "check.h"
#include "fleet/beverages.h"
#include "fleet/forecast.h"

#define DAY INT64_C(86400000)
#define NOW INT64_C(1800000000000)

static void test_due_arithmetic(void)
{
	int64_t due;

	/* A filter of 150 l, 120 l used, 7.5 l a day: 30 l left, 4 days. */
	CHECK_EQ(forecast_due(150, 120, 7.5, NOW, &due), 1);
	CHECK_EQ(due, NOW + 4 * DAY);
	/* 50,000 cycles, 49,700 done, 200 a day: a day and a half. */
	CHECK_EQ(forecast_due(50000, 49700, 200, NOW, &due), 1);
	CHECK_EQ(due, NOW + DAY + DAY / 2);
	/* Overrun by 15 l at 7.5 l a day: due two days ago. */
	CHECK_EQ(forecast_due(150, 165, 7.5, NOW, &due), 1);
	CHECK_EQ(due, NOW - 2 * DAY);
	/* No rate: an overrun is due now, anything else unknown. */
	CHECK_EQ(forecast_due(150, 150, 0, NOW, &due), 1);
	CHECK_EQ(due, NOW);
	CHECK_EQ(forecast_due(150, 10, 0, NOW, &due), 0);
	CHECK_EQ(due, INT64_MIN);
	CHECK_EQ(forecast_due(150, 10, -3, NOW, &due), 0);
	/* A rate so slow the date is beyond any calendar: none. */
	CHECK_EQ(forecast_due(1e9, 0, 1e-6, NOW, &due), 0);
	CHECK_EQ(forecast_due(0, 0, 1, NOW, &due), 0);
}

static void test_intervals(void)
{
	const struct forecast_intervals *bp = forecast_intervals_for("barista-pro");
	const struct forecast_intervals *other = forecast_intervals_for("no-such-model");
	json_t *doc = forecast_intervals_json();

	CHECK_STR(bp->model, "barista-pro");
	/* The simulator's filter: 1500 l at 1 dH, so 150 l at 10 dH. */
	CHECK(bp->filter_l_dh / 10 == 150.0);
	CHECK_STR(other->model, "*");
	CHECK(doc != NULL && json_object_get(json_object_get(json_object_get(doc, "models"), "espresso-one"),
	                                     "brew_unit_cycles") != NULL);
	CHECK_STR(json_string_value(json_object_get(doc, "version")), FORECAST_INTERVALS_VERSION);
	json_decref(doc);
	CHECK_STR(forecast_service_name(FS_WATER_FILTER), "water_filter");
}

static void test_group_parse(void)
{
	CHECK_EQ(beverages_group_parse(NULL), 0);
	CHECK_EQ(beverages_group_parse(""), 0);
	CHECK_EQ(beverages_group_parse("product,day"), BEV_BY_PRODUCT | BEV_BY_DAY);
	CHECK_EQ(beverages_group_parse("hour,site,machine"), BEV_BY_HOUR | BEV_BY_SITE | BEV_BY_MACHINE);
	CHECK_EQ(beverages_group_parse("product,product"), -1);
	CHECK_EQ(beverages_group_parse("price"), -1);
	CHECK_EQ(beverages_group_parse("product,"), -1);
	CHECK_EQ(beverages_group_parse(",product"), -1);
	CHECK_EQ(beverages_group_parse("produc"), -1);
}

struct said {
	int n;
	char detail[8][32];
	int active[8];
};

static void hear(void *ctx, const char *detail, int active)
{
	struct said *s = ctx;

	if (s->n < 8) {
		snprintf(s->detail[s->n], sizeof(s->detail[0]), "%s", detail);
		s->active[s->n++] = active;
	}
}

static void test_due_soon_rule(void)
{
	const struct alert_rule *r = alert_rule_find("maintenance_due_soon");
	int64_t p[ALERT_PARAMS_MAX] = { 7 };
	struct alert_timer_view v;
	struct said s;
	int i;

	CHECK(r != NULL && r->on_timer != NULL && strcmp(r->data_class, "service") == 0);
	if (r == NULL || r->on_timer == NULL)
		return;
	CHECK_EQ(p[alert_rule_param(r, "days")], 7);
	memset(&v, 0, sizeof(v));
	v.now_ms = NOW;
	for (i = 0; i < FS_COUNT; i++)
		v.service_due_ms[i] = INT64_MIN;
	memset(&s, 0, sizeof(s));
	r->on_timer(p, &v, hear, &s);
	CHECK_EQ(s.n, 0); /* no forecast made */
	v.has_forecast = 1;
	r->on_timer(p, &v, hear, &s);
	CHECK_EQ(s.n, 0); /* none known */
	v.service_due_ms[FS_WATER_FILTER] = NOW + 7 * DAY;     /* exactly 7 days: due soon */
	v.service_due_ms[FS_BREW_UNIT] = NOW + 7 * DAY + 1;    /* a millisecond later: not */
	v.service_due_ms[FS_DESCALING] = NOW - DAY;            /* overdue */
	r->on_timer(p, &v, hear, &s);
	CHECK_EQ(s.n, 3);
	CHECK(strcmp(s.detail[0], "brew_unit") == 0 && s.active[0] == 0);
	CHECK(strcmp(s.detail[1], "water_filter") == 0 && s.active[1] == 1);
	CHECK(strcmp(s.detail[2], "descaling") == 0 && s.active[2] == 1);
}

int main(void)
{
	RUN(test_due_arithmetic);
	RUN(test_intervals);
	RUN(test_group_parse);
	RUN(test_due_soon_rule);
	return check_summary();
}
