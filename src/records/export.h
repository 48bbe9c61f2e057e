/*
 * export.h - everything stored for a customer's machines, decrypted and
 * streamed as JSON or CSV (a data subject's copy, or a customer leaving).
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

#include "vault/vault.h"

enum export_format { EXPORT_JSON, EXPORT_CSV };

struct export;

/* Starts an export of the customer's machines as they are now. */
int export_open(struct vault *v, int64_t customer_id, enum export_format format, struct export **out);
/* Writes the next slice (at most max_records records, plus the document's
 * structure around them) through write; *done is 1 once the document is
 * complete. A write returning non-zero stops the step with its value. */
int export_step(struct export *e, size_t max_records, int (*write)(void *ctx, const char *data, size_t len),
                void *ctx, int *done);
void export_close(struct export *e);

/* The whole export in one go (the CLI): 0 or a negative code; write
 * returning non-zero stops the export with it. */
int export_customer(struct vault *v, int64_t customer_id, enum export_format format,
                    int (*write)(void *ctx, const char *data, size_t len), void *ctx);

/* "json" or "csv" into *out; CC_ERR_INVALID otherwise. */
int export_format_parse(const char *name, enum export_format *out);

#endif
