/*
 * export.h - everything stored for a customer's machines, decrypted and
 * streamed as JSON or CSV (a data subject's copy, or a customer leaving).
 *
 * JSON is one document with every kind of record, and per machine its
 * service tickets with their whole history (fleet/tickets.h tickets_doc,
 * the words opened). CSV is for spreadsheets,
 * so it is one table per kind of record (telemetry, events or reports):
 * a header row, then serial, seq, time (ISO 8601 UTC) and one column per
 * metric or field the catalogue lets the customer's machines send, values
 * as sent; "other" gathers any name the catalogue no longer has. RFC 4180
 * quoting; a text cell that a spreadsheet would run as a formula starts
 * with an apostrophe.
 *
 * The writer callback receives the document in pieces as the records are
 * opened, so an export never holds more than one record in memory. An
 * export is a cursor: each step writes up to a number of records and
 * remembers where it stopped, so a server can write a large export a slice
 * at a time, in between its other work, as fast as the client reads.
 */
#ifndef CC_RECORDS_EXPORT_H
#define CC_RECORDS_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "vault/vault.h"

enum export_format { EXPORT_JSON, EXPORT_CSV };

struct export;

/* Starts an export of the customer's machines as they are now; table:
 * which records a CSV export holds (ignored for JSON). */
int export_open(struct vault *v, int64_t customer_id, enum export_format format, enum record_kind table,
                struct export **out);
/* Writes the next slice (at most max_records records, plus the document's
 * structure around them) through write; *done is 1 once the document is
 * complete. A write returning non-zero stops the step with its value. */
int export_step(struct export *e, size_t max_records, int (*write)(void *ctx, const char *data, size_t len),
                void *ctx, int *done);
void export_close(struct export *e);

/* The whole export in one go (the CLI): 0 or a negative code; write
 * returning non-zero stops the export with it. */
int export_customer(struct vault *v, int64_t customer_id, enum export_format format, enum record_kind table,
                    int (*write)(void *ctx, const char *data, size_t len), void *ctx);

/* "json" or "csv" into *out; CC_ERR_INVALID otherwise. */
int export_format_parse(const char *name, enum export_format *out);
/* A CSV table's name: "telemetry" (also for NULL), "events" or "reports". */
int export_table_parse(const char *name, enum record_kind *out);

#endif
