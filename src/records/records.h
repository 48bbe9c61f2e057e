/*
 * records.h - machine telemetry and events, sealed on the way into the
 * store and opened on the way out.
 *
 * A record's body is the machine's JSON message as accepted by ingest. It is
 * sealed under the data key of the machine's customer, bound to (customer,
 * machine, kind, seq, timestamp): a body copied into another row, another
 * machine's or another customer's, fails to open.
 */
#ifndef CC_RECORDS_RECORDS_H
#define CC_RECORDS_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "vault/vault.h"

struct record_in {
	int64_t machine_id;
	int64_t customer_id;
	const char *serial;
	enum record_kind kind;
	int64_t seq;
	int64_t ts_ms;
	const char *body; /* JSON text */
	size_t body_len;
};

/* Seals and stores n records. Reports: in the caller's transaction (or
 * autocommit), one already stored (same machine, kind, seq) skipped and
 * *inserted counting the new ones. Telemetry and events: appended to the
 * store's inbox, durable on return, duplicates resolved on reading and
 * when moved (store.h records_put); *inserted counts the appended. */
int records_put(struct vault *v, const struct record_in *recs, size_t n, size_t *inserted);

struct record_out {
	int64_t seq;
	int64_t ts_ms;
	const char *body; /* opened JSON text, valid during the callback */
	size_t body_len;
};

/* Opens and hands over one machine's records with from_ms <= ts < to_ms. A
 * damaged record (its blob does not open: CC_ERR_AUTH or CC_ERR_CORRUPT) is
 * skipped and named in a warning by kind, seq and serial, never its content;
 * the walk goes on and the count is logged at its end. Any other failure
 * (the organisation's key destroyed, no memory) stops the walk with its error. */
int records_get(struct vault *v, const struct store_machine *machine, enum record_kind kind,
                int64_t from_ms, int64_t to_ms,
                int (*each)(void *ctx, const struct record_out *r), void *ctx);

/* records_get from the record after after_seq on: the pages of a cursor. */
int records_page(struct vault *v, const struct store_machine *machine, enum record_kind kind,
                 int64_t from_ms, int64_t to_ms, int64_t after_seq,
                 int (*each)(void *ctx, const struct record_out *r), void *ctx);

/* records_page, and *damaged (may be NULL): how many damaged records it
 * skipped, for callers that tell their reader. */
int records_page_counted(struct vault *v, const struct store_machine *machine, enum record_kind kind,
                         int64_t from_ms, int64_t to_ms, int64_t after_seq,
                         int (*each)(void *ctx, const struct record_out *r), void *ctx, int64_t *damaged);

/* Opens one stored record of machine into *pt (malloc'd; the caller
 * wipes and frees it). CC_ERR_AUTH or CC_ERR_CORRUPT: damaged. */
int records_open_record(struct vault *v, const struct store_machine *machine, const struct store_record *rec,
                        uint8_t **pt, size_t *len);

/* Like records_get, but only records not yet moved from the store's inbox
 * (store.h records_unsettled): what the roll-ups do not hold yet. Damaged
 * ones are skipped and added to *damaged (may be NULL). */
int records_unsettled(struct vault *v, const struct store_machine *machine, enum record_kind kind,
                      int64_t from_ms, int64_t to_ms,
                      int (*each)(void *ctx, const struct record_out *r), void *ctx, int64_t *damaged);

/* Opens the sealed retained `info` message of a machine's live state into
 * *json (malloc'd, NUL-terminated; caller frees). CC_ERR_NOTFOUND if none. */
int records_open_info(struct vault *v, const struct store_machine *machine,
                      const struct store_machine_state *st, char **json);

#endif
