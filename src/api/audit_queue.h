/*
 * audit_queue.h - the audit records of people's accesses, appended off the
 * event loop (docs/ARCHITECTURE.md "Threads").
 *
 * An audited access used to append its record in a write transaction of
 * its own on the loop thread: an fsync per request, and a wait for the main
 * database's write lock whenever the settler held it, while every machine's
 * acknowledgement waited too. Now the record goes to a thread with its own
 * connection, which appends what has queued up in one transaction (one
 * fsync for many); the request's reply is held (http_req_hold) until that
 * transaction committed, so no answer leaves before its record is durable,
 * as before. A record that cannot be appended turns the reply into 503
 * audit_unavailable, as before.
 */
#ifndef CC_API_AUDIT_QUEUE_H
#define CC_API_AUDIT_QUEUE_H

#include <event2/event.h>

#include "access/audit.h"
#include "http/server.h"

struct audit_queue;

/* Opens its own handle on the data directory (the master key read again
 * from master_key_file) and starts the thread; completions run on base. */
int audit_queue_start(struct event_base *base, const char *data_dir, const char *master_key_file,
                      struct audit_queue **out);

/* Appends everything queued, then stops the thread; the replies still held
 * are not sent (the loop has stopped). */
void audit_queue_stop(struct audit_queue *q);

/* Queues e (copied) and holds r's reply until it is appended. */
int audit_queue_add(struct audit_queue *q, struct http_req *r, const struct audit_event *e);

#endif
