/*
 * inbox.h - where machine telemetry and events land first: an append-only
 * SQLite table in a file of its own beside the main database
 * (coffeecloud.db -> coffeecloud-inbox.db), private to the SQLite backend.
 *
 * Why (docs/PERFORMANCE.md "The inbox"): the record tables are ordered by
 * machine, so a commit of a few messages from different machines writes a
 * few mostly-old 4 KiB pages per message. The inbox is ordered by arrival
 * (rowid), so each acknowledged batch appends to its last pages: one small
 * commit with one fsync. Records are moved into their tables later, many
 * per machine per transaction (store_sqlite.c records_settle), on another
 * connection: a file of its own means that long move never holds the lock
 * the acknowledgement path needs.
 *
 * Rows keep the body exactly as sealed (the seal binds customer, machine,
 * kind, seq and time, not the table), so a move copies bytes. There is no
 * uniqueness here: a machine's retransmission may land twice and is
 * resolved when moved (INSERT OR IGNORE) and when read (the table wins).
 * The inbox has no index but its rowid: readers scan it, which stays cheap
 * because it holds only what arrived since the last round.
 *
 * `deleted_through` (kept in the inbox in the same transaction as each
 * deletion) lets a reader prove its two snapshots fit together: see
 * store_sqlite.c.
 */
#ifndef CC_STORE_SQLITE_INBOX_H
#define CC_STORE_SQLITE_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct inbox;

/* Opens (creating when missing) the inbox beside main_path. When running as
 * root, a new file is given the owner of main_path, as SQLite does for its
 * own -wal and -shm files, so the daemon that left root can still open it. */
int inbox_open(const char *main_path, struct inbox **out);
void inbox_close(struct inbox *ib);
/* The file name for main_path (e.g. to list it among a directory's files). */
int inbox_path(const char *main_path, char *out, size_t cap);

/* Appends n telemetry or event records in one transaction of its own,
 * durable when it returns (WAL, synchronous=FULL). at_ms: arrival time. */
int inbox_append(struct inbox *ib, const struct store_record *recs, size_t n, int64_t at_ms);

/* A read snapshot of the inbox, until inbox_end_read. */
int inbox_begin_read(struct inbox *ib);
void inbox_end_read(struct inbox *ib);
int inbox_in_read(const struct inbox *ib);

/* Rows with id > after_id, by id; machine_id / kind 0 take all. At most
 * limit rows (0: all). each may stop the walk with a non-zero value. */
struct inbox_row {
	int64_t id;
	int64_t at_ms;
	struct store_record rec;
};
int inbox_scan(struct inbox *ib, int64_t after_id, int64_t machine_id, enum record_kind kind, size_t limit,
               int (*each)(void *ctx, const struct inbox_row *row), void *ctx);

/* The highest id ever deleted (0: none), as of the current snapshot. */
int inbox_deleted_through(struct inbox *ib, int64_t *id);

/* Deletes the rows with id <= through (but never the row with the largest
 * id: see inbox.c) and records through; then a passive
 * checkpoint, so the inbox's log does not grow (the appending connection
 * never checkpoints: that work stays off the acknowledgement path). */
int inbox_delete_through(struct inbox *ib, int64_t through);

/* Deletes every row of machine_id (a machine or customer erased), but the
 * row with the largest id, which a later round takes. */
int inbox_forget_machine(struct inbox *ib, int64_t machine_id);
/* Distinct machine ids present, each(ctx, id). */
int inbox_machines(struct inbox *ib, int (*each)(void *ctx, int64_t machine_id), void *ctx);

/* Makes the next id greater than floor (the main database's "applied
 * through"), for an inbox file that was lost or replaced. */
int inbox_raise_ids(struct inbox *ib, int64_t floor);

/* PRAGMA integrity_check; CC_ERR_CORRUPT with findings logged. */
int inbox_check(struct inbox *ib);
/* A TRUNCATE checkpoint: deleted rows leave the log file now. */
int inbox_shred(struct inbox *ib);

#endif
