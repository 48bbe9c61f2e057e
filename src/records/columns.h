/*
 * columns.h - telemetry as columns: {"ts":[...],"seq":[...],"metric":[...],...},
 * one array per metric with null where a record lacks it. What chart
 * libraries take, and several times smaller than one object per record
 * (docs/PERFORMANCE.md "Charts and exports").
 *
 * Built in one pass over opened records with the ingest scanner
 * (ingest/jscan.h): no tree per record, numbers copied as the machine wrote
 * them. Which metrics appear is the caller's decision (visible), asked once
 * per metric name.
 */
#ifndef CC_RECORDS_COLUMNS_H
#define CC_RECORDS_COLUMNS_H

#include <stddef.h>
#include <stdint.h>

struct columns;

/* visible(ctx, name, len): 1 to keep that metric, 0 to leave it out. */
int columns_new(int (*visible)(void *ctx, const char *name, size_t len), void *ctx, struct columns **out);
void columns_free(struct columns *c);

/* Adds one record (its opened JSON body). 0 when added, 1 when it holds no
 * metric the caller keeps (not added), CC_ERR_* on failure (CC_ERR_LIMIT:
 * more distinct metrics than a message may carry). */
int columns_add(struct columns *c, int64_t seq, int64_t ts_ms, const char *body, size_t len);

/* The other shape, rows, written the same way: one record as
 * {"seq":..,"ts":..,"m":{...the metrics visible() keeps...}} appended to
 * the rows (a struct columns holds either columns or rows, not both).
 * 0 when added, 1 when it holds no metric the caller keeps, CC_ERR_*. */
int columns_add_row(struct columns *c, int64_t seq, int64_t ts_ms, const char *body, size_t len);
/* The rows so far, comma-separated (no brackets); valid until the next add. */
const char *columns_rows_text(struct columns *c, size_t *len);

/* A third shape, the buckets of a step as columns ("ts", "n", then one per
 * metric and statistic): name NULL begins the bucket of start_ms holding
 * n readings; then each value name+suffix (e.g. "boiler_temp_c", ":min")
 * of that bucket. The caller decides what is visible. */
int columns_add_bucket(struct columns *c, int64_t start_ms, int64_t n, const char *name, const char *suffix,
                       double value);

/* The columns as one JSON object's text, NUL-terminated, malloc'd. */
int columns_json(struct columns *c, char **out, size_t *len);

#endif
