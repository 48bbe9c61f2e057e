/*
 * retention.h - deletes what has outlived its retention (docs/CONFIG.md
 * "retention_*", docs/OPERATIONS.md "Retention"), on a thread and a store
 * connection of its own.
 *
 * Every sweep_ms a sweep visits every machine; per machine and kind (by
 * the shorter of the installation's days and its customer's agreed ones) it
 * deletes at most batch_rows rows per transaction, oldest first, so the
 * settler and the API's writes wait for one short batch at most, and the
 * writer (whose acknowledgements commit to the inbox, a file of its own)
 * not at all. Service tickets go by when they were closed; diagnostics
 * bundles by when they were asked for, a batch of their chunks at a time
 * (open requests past their time expire once per sweep). Telemetry's roll-ups (records/rollup.h) keep their own
 * retention, so the charts of old periods outlive the raw points. A sweep
 * that deleted anything appends one audit record per customer and kind
 * (actor "daemon:retention"), saying how many and before when.
 */
#ifndef CC_DAEMON_RETENTION_H
#define CC_DAEMON_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "fleet/retention_terms.h"

struct retention_policy {
	int64_t days[RETAIN_KINDS]; /* the installation's; 0: kept until the customer is erased */
	int64_t sweep_ms;
	size_t batch_rows;
	int64_t diagnostics_days; /* diagnostics bundles older are deleted whole; 0: kept (fleet/diagnostics.h) */
};

struct retention;

/* Starts the thread. The first sweep is one sweep_ms after the start. */
int retention_start(const char *data_dir, const char *master_key_file, const struct retention_policy *p,
                    struct retention **out);

/* Stops after the batch under way, and frees. Accepts NULL. */
void retention_stop(struct retention *r);

#endif
