/*
 * fields.h - a stored record's body as flat (name, value) pairs, for the
 * tables people read: the CLI's `telemetry get` and `events get`, and the
 * CSV export (one column per metric or field).
 *
 * Telemetry gives the metrics of its "m" object; events and service
 * reports their top-level fields but seq and ts (which are columns of
 * their own). A list (a report's work codes and parts) becomes one value,
 * its items joined by "; ". Numbers are handed over as the machine wrote
 * them (93.4, never 93.400000000000006); strings decoded; true, false and
 * null as those words. Pure: no I/O, no globals.
 */
#ifndef CC_RECORDS_FIELDS_H
#define CC_RECORDS_FIELDS_H

#include <stddef.h>

#include "store/store.h"

/* each(ctx, name, name_len, value, value_len, is_text): is_text is 1 for a
 * JSON string (or a list of them), 0 for a number, true, false or null.
 * Neither is NUL-terminated; both live during the call only. A non-zero
 * return stops the walk and is returned. CC_ERR_INVALID: the body is not a
 * JSON object. */
typedef int (*record_field_fn)(void *ctx, const char *name, size_t name_len, const char *value,
                               size_t value_len, int is_text);
int record_fields(enum record_kind kind, const char *body, size_t len, record_field_fn each, void *ctx);

#endif
