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
 * Each metric also keeps its last reading (the one with the latest time)
 * as it was written, so that a machine's latest value of every metric is
 * read from a few hour summaries (rollup_latest).
 *
 * The plain body is binary (parsing JSON was most of a chart's time):
 * "RU2", then little-endian u64 records, u16 metrics, and per metric a u8
 * name length, the name, u64 count, the IEEE 754 bits of min, max and sum
 * as u64, the last reading's time (i64 ms), a u8 length and its text.
 * "RU1" bodies (before the last reading was kept) still open, without it.
 */
#ifndef CC_RECORDS_ROLLUP_H
#define CC_RECORDS_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
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

/* A number's text longer than this keeps its value, written shortest. */
#define ROLLUP_LAST_MAX 32

/* A bucket: the records in it and, per metric, its readings. */
struct rollup_metric {
	char name[CC_NAME_MAX + 1];
	size_t len;
	int64_t count;
	double min, max, sum;
	int64_t last_ts;                  /* INT64_MIN: not known (an "RU1" summary) */
	char last[ROLLUP_LAST_MAX + 1];   /* the last reading as written (JSON number) */
	size_t last_len;
};
struct rollup_summary {
	int64_t start_ms;
	int64_t records;
	size_t nmetrics, cap;
	struct rollup_metric *m;
};
void rollup_summary_free(struct rollup_summary *s);
/* Adds one telemetry record's opened JSON body (its numeric "m" members),
 * read at ts_ms: 0, or CC_ERR_NOMEM / CC_ERR_LIMIT. A body that is not
 * such JSON adds nothing. */
int rollup_summary_add(struct rollup_summary *s, int64_t ts_ms, const char *body, size_t len);

/* Buckets of width ms kept by start, for callers that summarise records
 * themselves (a step that is not whole minutes). Zero-initialise, set width. */
struct rollup_buckets {
	int64_t width;
	struct rollup_summary *b;
	size_t n, cap;
};
/* Adds a record's body to the bucket of ts_ms; CC_ERR_LIMIT beyond ROLLUP_BUCKETS_MAX. */
int rollup_buckets_add(struct rollup_buckets *bs, int64_t ts_ms, const char *body, size_t len);
/* The non-empty buckets by start; stops at the first non-zero return. */
int rollup_buckets_each(const struct rollup_buckets *bs, int (*each)(void *ctx, const struct rollup_summary *b),
                        void *ctx);
void rollup_buckets_free(struct rollup_buckets *bs);

/* The buckets of width_ms (a multiple of ROLLUP_MINUTE_MS) in [from_ms,
 * to_ms), both multiples of a minute: read from the minute (or, when width
 * is a whole number of hours and the range is hour-aligned, the hour)
 * summaries, plus the records still in the inbox, in one snapshot. each()
 * gets them by start; empty ones are left out. damaged (may be NULL)
 * counts summaries and records that did not open (skipped). */
int rollup_read(struct vault *v, const struct store_machine *m, int64_t width_ms, int64_t from_ms,
                int64_t to_ms, int (*each)(void *ctx, const struct rollup_summary *bucket), void *ctx,
                int64_t *damaged);

/* The latest reading of every metric of machine m that wanted(ctx, name)
 * accepts: each(ctx, metric) once per metric found, in no order (count,
 * min, max, sum are not meaningful there; last, last_len, last_ts are).
 * Reads the records still in the inbox and the hour summaries newest
 * first, in one snapshot, and stops as soon as nothing older can hold a
 * later reading of a wanted metric: a machine that sends all its metrics
 * reads one hour or so. damaged as for rollup_read. */
int rollup_latest(struct vault *v, const struct store_machine *m, int (*wanted)(void *ctx, const char *name),
                  int (*each)(void *ctx, const struct rollup_metric *metric), void *ctx, int64_t *damaged);

#endif
