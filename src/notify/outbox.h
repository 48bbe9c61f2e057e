/*
 * outbox.h - notifications that are never lost: what the alert engine (and
 * anything else that tells an organisation something) hands over.
 *
 * notify_enqueue writes one outbox row per destination in one transaction:
 * each enabled webhook endpoint of the organisation and of the
 * organisations above it (a distributor's endpoint hears about its
 * customers). Each row has its own message id ("msg_" + 24 hex digits), the
 * webhook-id of every attempt at it, and its body sealed under the
 * organisation's data key. The daemon delivers them (notify/deliver.h) until
 * a 2xx, with exponential backoff for up to the retry window; a row is
 * delivered, failed or gone, never dropped, and survives kill -9 and
 * restarts (a delivery cut short is sent again with the same id).
 *
 * Any thread may call it with its own vault (the event loop's, the
 * settler's...): the daemon's delivery finds the rows in the store.
 */
#ifndef CC_NOTIFY_OUTBOX_H
#define CC_NOTIFY_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vault/vault.h"

/* Kinds the product sends (others may be added; [a-z0-9._-], at most 48). */
#define NOTIFY_KIND_TEST "test"
#define NOTIFY_KIND_ALERT_OPENED "alert.opened"
#define NOTIFY_KIND_ALERT_RESOLVED "alert.resolved"
#define NOTIFY_KIND_ALERT_ESCALATED "alert.escalated"
#define NOTIFY_KIND_WEBHOOK_DISABLED "webhook.disabled"
#define NOTIFY_KIND_TICKET_OPENED "ticket.opened"
#define NOTIFY_KIND_TICKET_ASSIGNED "ticket.assigned"
#define NOTIFY_KIND_TICKET_CLOSED "ticket.closed"

/*
 * Queues a notification of kind for organisation org_id. data: a JSON
 * object describing it, e.g. for alerts
 *   { "alert_id": 17, "serial": "SN1", "site": "lobby", "severity": "critical",
 *     "title_key": "alert.boiler_fault", "text_key": "...", "opened_at": ISO, "resolved_at": ISO }
 * (keys, not sentences: each channel words it in its reader's language).
 * The webhook body is {"type": kind, "timestamp": ISO-8601, "data": data},
 * at most 6 KiB. *queued (may be NULL) gets the number of rows written (0
 * when the organisation has no destination: not an error). Opens its own
 * transaction, or joins the caller's when one is open (an alert and its
 * notification commit together).
 */
int notify_enqueue(struct vault *v, int64_t org_id, const char *kind, const json_t *data, size_t *queued);

/* Queues an e-mail notification for one person (a ticket's assignee), as
 * notify_enqueue would for the people of their organisation: only when
 * they have an address and want the kind. Joins the caller's transaction. */
int notify_enqueue_user(struct vault *v, int64_t user_id, const char *kind, const json_t *data, size_t *queued);

/* Queues a notification for one webhook endpoint only (a test of it). */
int notify_enqueue_webhook(struct vault *v, int64_t webhook_id, const char *kind, const json_t *data);

/* Fresh message id: "msg_" + 24 hex digits. */
int notify_msg_id(char out[32]);

#endif
