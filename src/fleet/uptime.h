/*
 * uptime.h - availability reports: the availability of the machines a
 * caller selects (fleet/downtime.h), added up per machine, site, customer
 * or distributor, with the figures people read: availability %, downtime
 * minutes, incidents, MTBF and MTTR (docs/OPERATIONS.md).
 *
 * Which machines: the fleet-list filter, then visible() (the API's scope
 * and consent; NULL: all, for the CLI). Optionally only within the
 * business hours of each machine's site.
 */
#ifndef CC_FLEET_UPTIME_H
#define CC_FLEET_UPTIME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet/downtime.h"
#include "store/store.h"
#include "vault/vault.h"

enum uptime_by { UPTIME_TOTAL = 0, UPTIME_BY_MACHINE, UPTIME_BY_SITE, UPTIME_BY_CUSTOMER, UPTIME_BY_DISTRIBUTOR };
/* "machine", "site", "customer", "distributor", or NULL/"" for the total. -1: unknown. */
int uptime_by_parse(const char *text);
const char *uptime_by_name(enum uptime_by by);

struct uptime_row {
	char key[2 * CC_NAME_MAX + 2];   /* serial, customer/site, customer, distributor; "" for the total */
	int64_t machines;
	struct availability sum;         /* state_at_end etc.: the machine's, in a per-machine row */
};

struct uptime_report {
	int64_t from_ms, to_ms;
	int business_hours;
	struct uptime_row total;
	struct uptime_row *rows;         /* by key */
	size_t nrows;
};

struct uptime_query {
	int64_t from_ms, to_ms;
	const struct store_machine_filter *filter;
	enum uptime_by by;
	/* Only within each machine's site's business hours, in the site's time
	 * zone (fleet/hours.h); a machine without a site, or at a site without
	 * hours, counts around the clock. */
	int business_hours;
	/* 1: the machine counts; 0: it does not; < 0: an error that stops the report. */
	int (*visible)(void *ctx, const struct store_machine_status *m);
	void *ctx;
};

int uptime_report(struct vault *v, const struct uptime_query *q, struct uptime_report *out);
void uptime_report_free(struct uptime_report *r);

/* The figures of a row: availability % of up + down time (-1 when there
 * was neither), downtime in minutes, mean time between failures and to
 * repair in minutes (-1 without an incident / a restoration). */
double uptime_percent(const struct uptime_row *r);
double uptime_down_minutes(const struct uptime_row *r);
double uptime_mtbf_minutes(const struct uptime_row *r);
double uptime_mttr_minutes(const struct uptime_row *r);

/* The report as the API and the CLI's --json give it: from, to, by, the
 * total and the rows (docs/OPERATIONS.md has the fields). NULL: no memory. */
json_t *uptime_report_json(const struct uptime_report *r, enum uptime_by by);

#endif
