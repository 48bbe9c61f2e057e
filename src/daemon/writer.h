/*
 * writer.h - the group-commit writer: one thread that seals and stores what
 * the event loop accepted, many machines' messages per transaction, and
 * reports back which ones are durable so they can be acknowledged.
 *
 * The loop thread submits items (writer_submit) and, when notified, collects
 * completions (writer_take_done). The writer thread owns its own vault and
 * store connection; nothing else of it is shared. One fsync per batch:
 * while a batch commits, the next one gathers. Telemetry and events are
 * appended to the store's inbox (store.h records_put); the writer runs the
 * settler (settler.h) that moves them into their tables off this path.
 */
#ifndef CC_DAEMON_WRITER_H
#define CC_DAEMON_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "store/store.h"

enum writer_op {
	WRITER_RECORD = 1, /* a telemetry or event message */
	WRITER_STATE,      /* online/offline, retained info */
	WRITER_REFUSAL,    /* count a refused message (reason only, never content) */
	WRITER_COMMAND_DONE, /* the machine acknowledged command `seq` */
	WRITER_COMMAND_FAILED, /* command `seq` can never be delivered: `reason` */
	WRITER_BARRIER,    /* completes after everything submitted before it */
	WRITER_COMMAND_RESULT, /* the machine's report on command `seq`: `report`, `reason` its text */
	WRITER_COMMANDS_EXPIRE, /* open commands past their deadline at `at_ms` end as timed out */
};

struct writer_item {
	enum writer_op op;
	uint64_t conn_id;   /* who to tell; 0 = nobody */
	uint16_t packet_id; /* the publish to acknowledge; 0 = none */
	int64_t machine_id;
	int64_t customer_id;
	char serial[CC_SERIAL_MAX + 1];
	/* WRITER_RECORD */
	enum record_kind kind;
	int64_t seq, ts_ms;
	/* WRITER_RECORD: the body; WRITER_STATE: the retained info (may be NULL). Owned. */
	uint8_t *payload;
	size_t len;
	/* WRITER_STATE (reason: why offline), WRITER_REFUSAL (reason: the refusal) */
	int online;
	int64_t at_ms;
	char reason[96];
	enum store_command_report report; /* WRITER_COMMAND_RESULT */
};

struct writer_done {
	uint64_t conn_id;
	uint16_t packet_id;
	int64_t seq;        /* the item's seq (WRITER_COMMAND_DONE/FAILED: the command id) */
	enum writer_op op;
	int ok; /* 1: durable; 0: the commit failed, do not acknowledge */
};

struct writer;

/* Opens the data directory for writing and starts the thread. notify(arg)
 * is called from the writer thread after each commit: it must only wake the
 * loop (e.g. event_active). Every poll_ms the thread reads the fleet version
 * and, when it moved, forgets the data keys that left the keyring (an
 * erased customer's), so an erasure reaches its cache within that time. */
int writer_start(const char *data_dir, const char *master_key_file, size_t max_batch, int64_t poll_ms,
                 void (*notify)(void *arg), void *arg, struct writer **out);

/* While messages keep coming (the last batch held more than one), a batch
 * gathers for us microseconds after its first message before it commits:
 * at 10,000 messages a second that is several per commit instead of ~3,
 * and a commit (a page, fdatasync, two thread wake-ups) costs more CPU
 * than the messages in it (docs/PERFORMANCE.md "The inbox"). A lone
 * message never waits; 0 turns it off (the default until called). */
void writer_set_gather(struct writer *w, int64_t us);

/* Records appended and not yet moved by the settler, at most (100,000
 * until called): beyond, the writer waits for the settler, its queue fills
 * and the loop stops reading machines' sockets (TCP's own back-pressure),
 * so the inbox every read scans stays small under a flood faster than the
 * tables take it. */
void writer_set_backlog(struct writer *w, uint64_t records);

/* Hands an item over (its payload too). CC_ERR_LIMIT when the queue is full:
 * the caller keeps ownership then. */
int writer_submit(struct writer *w, struct writer_item *item);

/* Moves up to max completions into out; returns how many. */
size_t writer_take_done(struct writer *w, struct writer_done *out, size_t max);

/* Commits everything submitted so far, stops the thread, frees the writer. */
void writer_stop(struct writer *w);

struct writer_stats {
	uint64_t batches, records, failures;
};
void writer_get_stats(struct writer *w, struct writer_stats *out);

#endif
