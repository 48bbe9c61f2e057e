/*
 * beverages.h - how many beverages machines dispensed (docs/OPERATIONS.md
 * "Beverage statistics"): counts of brew events per product, machine, site,
 * local day and hour of day, never prices or payments (there are none).
 *
 * Counts come from the brew events. Each machine's cup_counter telemetry
 * reconciles them: the counter's increase over the period (from its
 * hour roll-ups) against the events counted; the difference is shown as
 * the gap (lost events), never smoothed away.
 *
 * Days and hours are the site's local ones (its time zone; UTC when it has
 * none or the machine is at no site).
 */
#ifndef CC_FLEET_BEVERAGES_H
#define CC_FLEET_BEVERAGES_H

#include <stdint.h>

#include <jansson.h>

#include "quality/compliance.h"
#include "vault/vault.h"

/* What group_by may name, as bits. */
enum {
	BEV_BY_PRODUCT = 1 << 0,
	BEV_BY_MACHINE = 1 << 1,
	BEV_BY_SITE = 1 << 2,
	BEV_BY_DAY = 1 << 3,
	BEV_BY_HOUR = 1 << 4,
};
/* At most this many rows in an answer (the rest is counted in the totals). */
#define BEV_ROWS_MAX 20000

/* "product,day" -> bits; -1 for an unknown or repeated name. NULL or "": 0
 * (totals only). Pure. */
int beverages_group_parse(const char *text);

/* The answer over machines (chosen by scope and consent) in [from_ms,
 * to_ms): {from, to, group_by, rows [{<keys>, beverages}], rows_truncated,
 * total {beverages, event_total, counter_total, gap}, machines [{serial,
 * site, event_total, counter_total, gap}]}. counter_total and gap are
 * null for a machine that sent no cup_counter in the period. */
int beverages_report(struct vault *v, const struct compliance_target *machines, size_t n, int64_t from_ms,
                     int64_t to_ms, int group_by, json_t **out);

#endif
