/*
 * rollup.h - telemetry summarised per machine per minute and per hour: for
 * each metric its count, min, max and sum, so that a chart of a day reads
 * 1,440 (or 24) summaries instead of 86,400 records (docs/PERFORMANCE.md
 * "Charts").
 *
 * A summary is sealed under the customer's data key like the records it
 * summarises, bound to (machine, width, start). Summaries are built when
 * the settler moves records from the store's inbox into their table, in
 * the same transaction (store.h records_settle), so they always agree with
 * the table; what is still in the inbox is added when read. A record that
 * is not telemetry, or no JSON object with a numeric "m", adds nothing.
 *
 * The plain body: {"metric": [count, min, max, sum], ...}.
 */
#ifndef CC_RECORDS_ROLLUP_H
#define CC_RECORDS_ROLLUP_H

#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "vault/vault.h"

#define ROLLUP_MINUTE_MS INT64_C(60000)
#define ROLLUP_HOUR_MS INT64_C(3600000)
/* Buckets one read returns at most (CC_ERR_LIMIT beyond). */
#define ROLLUP_BUCKETS_MAX 10000

/* What one settle round adds: collected by hooks.row, merged into the
 * stored summaries by hooks.finish (in the round's transaction). */
struct rollup_round;
int rollup_round_new(struct vault *v, struct rollup_round **out);
void rollup_round_free(struct rollup_round *r);
/* The hooks to hand to records_settle; valid while r lives. */
void rollup_round_hooks(struct rollup_round *r, struct store_settle_hooks *out);

/* One bucket of width_ms (a multiple of ROLLUP_MINUTE_MS) starting at
 * start_ms: metric -> [count, min, max, sum] (borrowed, valid during the
 * call). Read from the minute (or, when width is a whole number of hours
 * and the range is hour-aligned, the hour) summaries in [from_ms, to_ms),
 * both multiples of a minute, plus the records still in the inbox, in one
 * snapshot. Buckets come by start; empty ones are left out. damaged (may
 * be NULL) counts summaries and records that did not open (skipped). */
int rollup_read(struct vault *v, const struct store_machine *m, int64_t width_ms, int64_t from_ms,
                int64_t to_ms, int (*each)(void *ctx, int64_t start_ms, json_t *metrics), void *ctx,
                int64_t *damaged);

#endif
