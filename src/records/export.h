/*
 * export.h - everything stored for a customer's machines, decrypted and
 * streamed as JSON or CSV (a data subject's copy, or a customer leaving).
 *
 * The writer callback receives the document in pieces as the records are
 * opened, so an export never holds more than one record in memory.
 */
#ifndef CC_RECORDS_EXPORT_H
#define CC_RECORDS_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

enum export_format { EXPORT_JSON, EXPORT_CSV };

/* 0 or a negative code; write returning non-zero stops the export with it. */
int export_customer(struct vault *v, int64_t customer_id, enum export_format format,
                    int (*write)(void *ctx, const char *data, size_t len), void *ctx);

/* "json" or "csv" into *out; CC_ERR_INVALID otherwise. */
int export_format_parse(const char *name, enum export_format *out);

#endif
