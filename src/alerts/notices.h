/*
 * notices.h - alerts told to people: the alert engine's sink (alerts.h)
 * that hands each opened, escalated and resolved alert to the
 * notification outbox (notify/outbox.h), in the alert's own transaction,
 * so a notice is queued exactly when its alert changed
 * (docs/OPERATIONS.md "Alerts" and "Notifications").
 *
 * opened and resolved go to the customer (its webhooks and those above
 * it, its people by e-mail); escalated goes to the organisation of the new
 * level. The notice names the machine, its site, the rule and severity,
 * never the cause's detail (an error code is technical data).
 */
#ifndef CC_ALERTS_NOTICES_H
#define CC_ALERTS_NOTICES_H

#include "alerts/alerts.h"

int alerts_notices_to_outbox(void *ctx, struct vault *v, const struct alert_notice *n);

#endif
