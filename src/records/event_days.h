/*
 * event_days.h - each machine's finished days of events, digested: one
 * sealed row per machine and UTC day holding every event of the day cut
 * down to the fields the fleet reports read (type, product, program,
 * action, result, counter and the brew's measures), so that compliance,
 * beverages and forecasts open 30 rows for a month instead of 9,000
 * records (docs/PERFORMANCE.md "Quality compliance of a site").
 *
 * A digest is exact or absent: the settler marks a (machine, day) when it
 * moves an event of that day in, in the same transaction, and drops the
 * day's digest if there was one; the settler's own thread digests marked
 * days once they are over (event_days_build), so no record can settle
 * between the reading of a day and the storing of its digest. Readers use
 * a digest where one exists and the day has nothing in the inbox, and the
 * records everywhere else, in one snapshot: the answer is the same.
 *
 * Digests are sealed roll-ups (store.h rollup_*) of width
 * EVENT_DAYS_WIDTH_MS under the customer's data key, and are deleted with
 * the events by retention.
 */
#ifndef CC_RECORDS_EVENT_DAYS_H
#define CC_RECORDS_EVENT_DAYS_H

#include <stddef.h>
#include <stdint.h>

#include "records/records.h"
#include "store/store.h"
#include "vault/vault.h"

#define EVENT_DAYS_DAY_MS INT64_C(86400000)
/* Negative, so that no telemetry width can ever name a digest. */
#define EVENT_DAYS_WIDTH_MS (-EVENT_DAYS_DAY_MS)
/* A day is digested this long after it ended: late events of a machine
 * that was briefly offline usually arrive within it. */
#define EVENT_DAYS_GRACE_MS INT64_C(600000)
/* A day with more events than this is not digested (read from records). */
#define EVENT_DAYS_EVENTS_MAX 50000

/* The events of machine m with from_ms <= ts < to_ms, day by day (UTC),
 * each day's by seq (to_ms INT64_MAX: all by seq, from records), with at
 * least the fields named above: a day from its digest has only those, a
 * day from its records has whole bodies. For reports, never a body to
 * show. A damaged digest is read from its records; damaged records are
 * skipped and logged as records_get does. */
int event_days_get(struct vault *v, const struct store_machine *m, int64_t from_ms, int64_t to_ms,
                   int (*each)(void *ctx, const struct record_out *r), void *ctx);

/* The hooks a settle round marks the days of its events with. */
struct event_days_round;
int event_days_round_new(struct event_days_round **out);
void event_days_round_free(struct event_days_round *r);
void event_days_round_hooks(struct event_days_round *r, struct store_settle_hooks *out);

/* Digests at most limit marked days that ended before now_ms minus the
 * grace, oldest first, each in a transaction of its own; a day with events
 * still in the inbox waits. *built: how many were stored. Only on the
 * thread that settles records (see above). */
int event_days_build(struct vault *v, int64_t now_ms, size_t limit, size_t *built);

/* The reduced form of one event body (exposed for tests): the kept
 * members of the top-level object, in their order, as compact JSON into
 * out (cap bytes). 0 and *len, or CC_ERR_LIMIT / CC_ERR_INVALID. */
int event_days_reduce(const char *body, size_t len, char *out, size_t cap, size_t *out_len);

#endif
