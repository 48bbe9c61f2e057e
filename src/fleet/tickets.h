/*
 * tickets.h - service tickets between a customer and the service company
 * that serves its machine: opened (by the customer's people, the service
 * side, or from an alert), commented, assigned, moved through their states,
 * closed with a service report; every change a line of history with who
 * and when (docs/OPERATIONS.md "Service tickets").
 *
 *   open -> assigned -> in_progress -> waiting_customer -> resolved -> closed
 *
 * assigned comes from an assignment only (service side); the other steps
 * are the service side's, except that the customer answers a ticket
 * waiting for it (waiting_customer -> in_progress) and either side reopens
 * a resolved or closed one (-> open, or assigned when it has an assignee).
 * Closing needs a service report; from open it needs an assignment first.
 *
 * The people's words (title, description, comments, the report's work and
 * free-text parts) pass the notes filter (privacy_scan_note): refused
 * text is neither stored nor echoed. They are sealed under the customer's
 * data key (SEAL_TICKET), so erasing the customer erases them.
 * Notifications (opened, assigned, closed) go through notify/outbox.h, in
 * the ticket's own transaction.
 */
#ifndef CC_FLEET_TICKETS_H
#define CC_FLEET_TICKETS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "access/users.h"
#include "store/store.h"
#include "vault/vault.h"

#define TICKET_TITLE_MAX 120       /* characters */
#define TICKET_TEXT_MAX 2000       /* characters of a description, comment or report's work */
#define TICKET_PART_TEXT_MAX 80    /* characters of a part named in words */
#define TICKET_PARTS_MAX 16

/* Which side of the ticket a person is on: the machine's customer, or the
 * service company above it (and subcontractors granted the machine). */
enum ticket_side { TICKET_CUSTOMER = 1, TICKET_SERVICE = 2 };

/* 1 for one of the six states. */
int tickets_state_valid(const char *state);
/* May side move a ticket from one state to another with a state change
 * (not an assignment, not a close)? Pure; the table above. */
int tickets_transition_allowed(const char *from, const char *to, enum ticket_side side);
/* May side close a ticket in that state (with a report)? */
int tickets_close_allowed(const char *from, enum ticket_side side);

/* Why a request was refused. *why (when not NULL) says which text field
 * and the privacy_reason (never the text itself). */
struct ticket_refusal {
	const char *field;  /* title, description, text, work, parts; NULL: none */
	int privacy;        /* enum privacy_reason, PRIVACY_NONE when the shape was wrong */
};

/* Checks a text field: 1..max characters (0 allowed when optional), at
 * most PRIVACY_NOTE_SCAN_MAX bytes, through the notes filter. */
int tickets_text_check(const char *text, size_t max_chars, int optional, int *privacy);

/* A service report: {"work": text, "parts": [part number or words...],
 * "counters_reset": [brew_unit, grinder_burrs, water_filter, descaling]}.
 * CC_ERR_INVALID with *why filled. *canonical (malloc'd) is what is kept. */
int tickets_report_check(const json_t *report, struct ticket_refusal *why, char **canonical);

struct ticket_open {
	const struct store_machine *m;
	int64_t alert_id;       /* 0: none; else an alert of m */
	const char *title, *description; /* description may be NULL */
	const char *who;        /* the audit actor */
};
/* CC_ERR_INVALID (why), CC_ERR_NOTFOUND (the alert is not m's). */
int tickets_open(struct vault *v, const struct ticket_open *req, struct ticket_refusal *why, int64_t *id);

/* A comment by either side; CC_ERR_STATE on a closed ticket. */
int tickets_comment(struct vault *v, int64_t id, const char *who, const char *text, struct ticket_refusal *why);
/* Assigns to an account of the service side (tickets_may_assign); CC_ERR_STATE when resolved or closed. */
int tickets_assign(struct vault *v, int64_t id, const char *who, const struct user_info *assignee);
/* CC_ERR_PERM (side may not), CC_ERR_STATE (not from this state), CC_ERR_INVALID (no such state). */
int tickets_set_state(struct vault *v, int64_t id, const char *who, enum ticket_side side, const char *state);
/* Closes with a report (tickets_report_check); CC_ERR_PERM, CC_ERR_STATE, CC_ERR_INVALID. */
int tickets_close(struct vault *v, int64_t id, const char *who, enum ticket_side side, const json_t *report,
                  struct ticket_refusal *why);

/* Is this account one the ticket of machine m may be assigned to: not
 * deactivated, a role that sees the service class, of the organisation
 * directly above m's customer (its service company) or above that, or a
 * subcontractor with a grant for m in force for support? */
int tickets_may_assign(struct vault *v, const struct store_machine *m, const struct user_info *u);

/* The ticket as the API and the CLI show it: serial, customer, site,
 * state, assignee, alert, times, title, description; with its history
 * (each line's text or report opened) when history is 1. NULL on failure. */
json_t *tickets_doc(struct vault *v, const struct store_ticket *t, int history);

/* The ticket's title / description / an event's text, opened (malloc'd). */
int tickets_open_text(struct vault *v, const struct store_ticket *t, int which_description, char **text);
int tickets_event_text(struct vault *v, const struct store_ticket *t, const struct store_ticket_event *e,
                       char **text);

#endif
