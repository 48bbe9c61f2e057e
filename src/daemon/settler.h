/*
 * settler.h - moves telemetry and events from the store's inbox into their
 * tables, a round at a time, on a thread and a store connection of its own.
 *
 * The writer only appends to the inbox, so an acknowledgement waits for
 * one small commit; this thread does the expensive part (many rows per
 * machine into tables ordered by machine) where no acknowledgement waits
 * for it (docs/PERFORMANCE.md "The inbox"). Nothing is lost if it stops at
 * any point: a round is one transaction, and rows stay in the inbox, where
 * every read finds them, until their round committed.
 */
#ifndef CC_DAEMON_SETTLER_H
#define CC_DAEMON_SETTLER_H

#include <stddef.h>
#include <stdint.h>

struct settler;

/* A round every round_ms, of at most round_rows rows per transaction (more
 * rounds at once while the inbox holds more). Every poll_ms it reads the
 * fleet version and, when it moved, forgets the data keys that left the
 * keyring (an erased customer's), as the writer does. */
int settler_start(const char *data_dir, const char *master_key_file, int64_t round_ms, size_t round_rows,
                  int64_t poll_ms, struct settler **out);

/* Starts a round now (the writer appended a round's worth). */
void settler_kick(struct settler *st);

/* Moves what is left, then stops the thread and frees it. */
void settler_stop(struct settler *st);

/* Waits (at most timeout_ms) until the settler has moved at least moved
 * rows since it started: how the writer holds back when the inbox grows
 * beyond what reads should scan (writer.c INBOX_BACKLOG_MAX). 1 when
 * reached, 0 when not yet. */
int settler_wait_moved(struct settler *st, uint64_t moved, int64_t timeout_ms);

struct settler_stats {
	uint64_t rounds, moved, failures;
};
void settler_get_stats(struct settler *st, struct settler_stats *out);

#endif
