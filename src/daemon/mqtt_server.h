/*
 * mqtt_server.h - the machine channel: MQTT listeners, one connection per
 * machine, from socket to the writer and back to the acknowledgement.
 *
 * Per connection: TLS (or plain, loopback only) -> session (protocol) ->
 * identity and ACL (certificate CN = client id = a registered, unrevoked
 * machine whose certificate fingerprint matches) -> ingest checks (catalogue,
 * privacy filter) -> writer (sealed, group-committed) -> PUBACK/PUBREC.
 * A refused message is answered (MQTT 5: reason 0x99 and why), counted,
 * and never written or logged. Runs on one event-loop thread.
 *
 * The plain loopback listener with the open ACL is different: identity
 * and storage give way to mqtt/broker.h, an in-memory broker for MQTT
 * conformance suites (docs/CONFORMANCE.md); it never writes to the store.
 */
#ifndef CC_DAEMON_MQTT_SERVER_H
#define CC_DAEMON_MQTT_SERVER_H

#include <event2/event.h>
#include <openssl/ssl.h>

#include "daemon/config.h"
#include "daemon/writer.h"
#include "store/store.h"
#include "vault/vault.h"

struct mqtt_server;

/* Binds the configured listeners (before privileges are dropped). */
int mqtt_server_bind(struct event_base *base, const struct config *cfg, struct mqtt_server **out);

/* Starts serving: TLS context, the registry and pending commands (read
 * through vault, a store connection private to the loop thread) and the writer. */
int mqtt_server_start(struct mqtt_server *srv, SSL_CTX *tls, struct vault *vault, struct writer *w);

/* A new TLS context for connections accepted from now on (a rotated server
 * certificate, SIGHUP); open connections keep the one they started with
 * (each SSL holds a reference to its context). Borrowed, like the first. */
void mqtt_server_set_tls(struct mqtt_server *srv, SSL_CTX *tls);

/* The writer's notify function (pass the server as its argument): wakes the
 * loop, which then collects completions and acknowledges. Thread-safe. */
void mqtt_server_wake(void *srv);

/* Called on the loop thread when the writer has completions. */
void mqtt_server_collect(struct mqtt_server *srv);

/* Graceful stop: no new connections or messages, everything accepted so
 * far committed and acknowledged, clients told (MQTT 5: 0x8B), then
 * event_base_loopexit. */
void mqtt_server_shutdown(struct mqtt_server *srv);

/* Frees every connection now (their offline state goes to the writer, which
 * must still run). */
void mqtt_server_drop_connections(struct mqtt_server *srv);

void mqtt_server_free(struct mqtt_server *srv);

#endif
