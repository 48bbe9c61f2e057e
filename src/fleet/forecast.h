/*
 * forecast.h - when each machine's next service is due (docs/OPERATIONS.md
 * "Maintenance forecasts"): the model's service intervals (brew-unit
 * cycles, grinder burrs by kg of beans, water filter and descaling by
 * litres scaled by the water's hardness), what the machine used of each
 * since its last service, and its usage rate over the last 14 days, from
 * its counter telemetry (hour roll-ups) and its maintenance and cleaning
 * events. The arithmetic (forecast_due) is pure.
 *
 * The intervals are shipped per model (a table, versioned like the error
 * catalogue: FORECAST_INTERVALS_VERSION; forecast_intervals_json).
 */
#ifndef CC_FLEET_FORECAST_H
#define CC_FLEET_FORECAST_H

#include <stdint.h>

#include <jansson.h>

#include "quality/compliance.h"
#include "vault/vault.h"

#define FORECAST_INTERVALS_VERSION "2026.12-1"
#define FORECAST_DAY_MS INT64_C(86400000)
/* The usage rate is the counter's increase over this window. */
#define FORECAST_RATE_DAYS 14
/* How far back the last service is looked for. */
#define FORECAST_SERVICE_DAYS 92

enum forecast_service { FS_BREW_UNIT, FS_GRINDER_BURRS, FS_WATER_FILTER, FS_DESCALING, FS_COUNT };

struct forecast_intervals {
	char model[CC_NAME_MAX + 1];
	double brew_unit_cycles;  /* cycles between brew-unit changes */
	double burrs_kg;          /* kg of beans ground between burr changes */
	double grind_g_per_s;     /* beans ground per second of grinder runtime */
	double filter_l_dh;       /* filter capacity: litres x degrees dH (1500: 150 l at 10 dH) */
	double descale_l_dh;      /* litres x dH between descalings */
	double hardness_dh;       /* assumed when the machine reports none */
};

/* The shipped intervals as {version, models: {model: {...}}}. */
json_t *forecast_intervals_json(void);
/* The intervals of model (its own, else those of "*"). */
const struct forecast_intervals *forecast_intervals_for(const char *model);
const char *forecast_service_name(enum forecast_service s);

/* The arithmetic: remaining = interval - used (units of the interval),
 * rate in units per day. *due_ms: when used reaches the interval (in the
 * past when overdue, then now - overrun / rate; now when the rate is not
 * known). Returns 1 when a date could be forecast, 0 when not (no rate
 * and not yet due). Pure. */
int forecast_due(double interval, double used, double rate_per_day, int64_t now_ms, int64_t *due_ms);

/* One machine's forecasts at now_ms: an array of {service, interval,
 * unit, used, remaining, rate_per_day, counter: {metric, value},
 * last_service: {ts, source, counter} | null, due_ms | null, status: ok |
 * due_soon | overdue | unknown}; due_soon when due within due_within_days.
 * due_ms_out (may be NULL) gets each service's due date, INT64_MIN for
 * none. */
int forecast_machine(struct vault *v, const struct store_machine *m, int64_t now_ms, int due_within_days,
                     json_t **out, int64_t due_ms_out[FS_COUNT]);

/* The answer of GET /api/v1/forecasts over machines (chosen by scope and
 * consent): {now, due_within_days, intervals_version, overdue [..],
 * due_soon [..], machines [{serial, site, customer, model, services}]};
 * the lists name serial, site, customer, service, due_ms, soonest first. */
int forecast_report(struct vault *v, const struct compliance_target *machines, size_t n, int64_t now_ms,
                    int due_within_days, json_t **out);
/* Adds to each item of the report's overdue and due_soon lists its
 * service_company: the customer's distributor, or the manufacturer for a
 * customer it serves itself. */
int forecast_name_companies(struct store *st, json_t *report);

#endif
