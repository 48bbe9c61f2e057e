/*
 * deliver.h - the daemon's delivery of the outbox (notify/outbox.h):
 * webhooks over HTTPS with libcurl's multi interface, driven by the
 * daemon's libevent loop (curl_multi_socket_action from socket events and
 * one timer), so a slow or silent receiver never holds the loop.
 *
 * Every poll_ms the due rows are read; each attempt is logged and its
 * outcome stored in one transaction: delivered only after a 2xx, else
 * pending again after an exponential backoff with jitter, until the retry
 * window from the notification's creation has passed (then failed). An
 * endpoint whose disable_after consecutive messages failed is disabled and
 * a "webhook.disabled" notification goes to its organisation. A row in
 * flight at a kill -9 is still pending in the store and is sent again, with
 * the same webhook-id, by the next daemon.
 *
 * Notifications that ended are deleted with their log after 30 days.
 *
 * E-mail rows go to the SMTP relay (curl's smtp), in the reader's language,
 * after their quiet hours (notify/prefs.h): such a row waits, it is not
 * dropped.
 *
 * Each connection is judged by the address it is about to use (libcurl's
 * open-socket hook), so a name that resolved to a public address when the
 * endpoint was added and to an internal one now (DNS rebinding) is refused
 * at delivery; redirects are not followed; https only; TLS verified.
 */
#ifndef CC_NOTIFY_DELIVER_H
#define CC_NOTIFY_DELIVER_H

#include <stdint.h>

#include <event2/event.h>

#include "vault/vault.h"

/* Ended notifications (and their delivery log) are kept this long. */
#define NOTIFY_LOG_KEEP_MS (30LL * 24 * 3600 * 1000)

struct notify_delivery_opts {
	int allow_private;        /* webhook_allow_private */
	const char *ca_file;      /* NULL or "": the system's CA store */
	int64_t timeout_s;        /* one attempt, connection included */
	int64_t retry_window_s;   /* from queueing to failed */
	int64_t retry_base_ms;    /* first backoff; doubles per attempt, at most an hour */
	int64_t disable_after;    /* consecutive failed messages that disable an endpoint */
	int64_t poll_ms;
	/* E-mail: the relay (smtp://host:port with STARTTLS, required unless
	 * the host is loopback, or smtps://host:port), "" none; the sender;
	 * a 0600 file "user:password" ("" none); CAs of the relay ("" system). */
	const char *smtp_url;
	const char *smtp_from;
	const char *smtp_credentials_file;
	const char *smtp_ca_file;
};

struct notify_delivery;

int notify_delivery_start(struct event_base *base, struct vault *v, const struct notify_delivery_opts *o,
                          struct notify_delivery **out);
/* Cuts transfers in flight (their rows stay pending) and frees. Accepts NULL. */
void notify_delivery_free(struct notify_delivery *d);

#endif
