/*
 * tickets.h (store) - the rows behind service tickets (fleet/tickets.h):
 * a ticket per machine and its history, one line per change with who and
 * when. Clear columns are what lookups need (ids, state, the assignee's
 * login, times); the people's words (title, description, comments, the
 * service report) are sealed blobs under the customer's data key. Reached
 * as s->ops->tickets->x(s, ...); every op runs in the caller's transaction.
 */
#ifndef CC_STORE_TICKETS_H
#define CC_STORE_TICKETS_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct store;

#define STORE_TICKET_WHO_MAX (CC_NAME_MAX + 8) /* "user:LOGIN", "token:NAME", "cli:USER" */
#define STORE_TICKET_TITLE_BLOB_MAX 640         /* a sealed title (512 bytes of text at most) */
#define STORE_TICKET_TEXT_BLOB_MAX 8320         /* a sealed description, comment or report */

struct store_ticket {
	int64_t id;
	int64_t machine_id, customer_id;
	int64_t alert_id;                      /* 0: not opened from an alert */
	char state[24];                        /* open, assigned, in_progress, waiting_customer, resolved, closed */
	char assignee[CC_NAME_MAX + 1];        /* a login, "" nobody */
	int64_t opened_ms, updated_ms, closed_ms; /* closed_ms 0: not closed */
	char opened_by[STORE_TICKET_WHO_MAX + 1];
	int64_t events;                        /* lines of history so far (the next is events + 1) */
	uint8_t title[STORE_TICKET_TITLE_BLOB_MAX];
	size_t title_len;
	uint8_t description[STORE_TICKET_TEXT_BLOB_MAX]; /* description_len 0: none */
	size_t description_len;
};

/* Which tickets ticket_list emits, newest first. Zero fields select all. */
struct store_ticket_filter {
	int64_t before_id;
	int64_t machine_id, customer_id, site_id;
	const char *state;
	int unclosed; /* 1: every state but closed */
	const char *site_name; /* machines placed at a site of this name; NULL: any */
	/* The caller's scope, pushed into the query so that a page costs what
	 * it shows: with scoped 1, only tickets of these customers, of these
	 * machines, or of machines placed at these sites (a subcontractor's
	 * grants); all three empty selects none. Clear columns narrow; the API
	 * still judges each ticket it shows by the MAC-checked rows. */
	int scoped;
	const int64_t *customers, *machines, *sites;
	size_t ncustomers, nmachines, nsites;
};

/* One line of a ticket's history. */
struct store_ticket_event {
	int64_t ticket_id, seq, at_ms; /* seq: 1, 2, 3... per ticket */
	char who[STORE_TICKET_WHO_MAX + 1];
	char what[24];   /* opened, commented, assigned, state, closed, reopened */
	char detail[80]; /* the state reached, the assignee, the alert */
	uint8_t text[STORE_TICKET_TEXT_BLOB_MAX]; /* sealed comment or report, text_len 0: none */
	size_t text_len;
};

struct store_ticket_ops {
	/* Writes a new ticket (its id chosen by the store into *id). */
	int (*add)(struct store *s, const struct store_ticket *t, int64_t *id);
	int (*get)(struct store *s, int64_t id, struct store_ticket *out);
	/* Writes state, assignee, updated_ms, closed_ms, events and both blobs. */
	int (*update)(struct store *s, const struct store_ticket *t);
	/* The newest ticket opened from that alert; CC_ERR_NOTFOUND when none. */
	int (*find_by_alert)(struct store *s, int64_t alert_id, struct store_ticket *out);
	/* each returns non-zero to stop (that value is returned). */
	int (*list)(struct store *s, const struct store_ticket_filter *f,
	            int (*each)(void *ctx, const struct store_ticket *t), void *ctx);
	int (*event_add)(struct store *s, const struct store_ticket_event *e);
	/* A ticket's history, oldest first. */
	int (*events)(struct store *s, int64_t ticket_id, int (*each)(void *ctx, const struct store_ticket_event *e),
	              void *ctx);
	/* Deletes up to limit of a machine's tickets closed before before_ms
	 * (their history goes with them), oldest first; *deleted: how many
	 * (retention, daemon/retention.h). */
	int (*purge)(struct store *s, int64_t machine_id, int64_t before_ms, int64_t limit, int64_t *deleted);
	/* The history lines of a machine's tickets within [from_ms, to_ms), for its timeline (no text). */
	int (*machine_events)(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
	                      int (*each)(void *ctx, const struct store_ticket_event *e), void *ctx);
};

#endif
