/*
 * broker.h - the in-memory MQTT broker behind the loopback open-ACL test
 * listener (docs/PRODUCT.md §3 "Conformance"), so generic MQTT suites can exercise
 * the protocol engine. Pure: no I/O, no store, no clock of its own; the
 * owner hands it decoded packets and gives it a way to send (struct
 * broker_ops). Everything it holds is bounded (CC_BROKER_* in
 * common/limits.h) and lives only as long as the daemon.
 *
 * What it does (MQTT 3.1.1 and 5.0):
 *   sessions by client id (an empty one gets an assigned id), clean start /
 *   clean session, session expiry (also as changed by DISCONNECT), session
 *   present; QoS 1/2 messages queued for a disconnected persistent session
 *   and, on reconnection, unacknowledged ones re-sent (PUBLISH with DUP, or
 *   PUBREL); wills, with their delay, published when the connection ends
 *   without DISCONNECT 0 (or when the session ends first); retained
 *   messages (kept, cleared by an empty payload, sent on subscription with
 *   retain handling 0/1/2); QoS 2 end to end (the granted QoS is the lower
 *   of publication and subscription); properties forwarded unchanged except
 *   Message Expiry (lowered by the time spent waiting; expired messages are
 *   dropped), Topic Alias (per connection) and Subscription Identifiers
 *   (those of the subscriptions that matched); No Local; Retain As
 *   Published; overlapping subscriptions of one client give one message
 *   with the highest QoS and every matching subscription identifier.
 *   '$' topics are not matched by a wildcard at their first level. Shared
 *   subscriptions ($share/{name}/{filter}): each group gets a message once,
 *   its sessions taken in turn (connected ones first), no retained messages.
 * What it does not: accept topic aliases from clients (the session
 *   announces a maximum of 0).
 */
#ifndef CC_MQTT_BROKER_H
#define CC_MQTT_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "mqtt/codec.h"
#include "mqtt/session.h"

struct broker;
struct broker_session;

struct broker_ops {
	/* Sends a message on the connection conn. QoS 1/2: *packet_id is set.
	 * CC_ERR_LIMIT: the client's receive maximum is reached (the broker
	 * tries again after broker_acked); CC_ERR_INVALID: larger than the
	 * client's Maximum Packet Size (dropped as if delivered, MQTT 5
	 * 3.1.2.11.4); any other error: kept for later. */
	int (*send)(void *conn, const struct session_message *m, uint16_t *packet_id);
	/* Re-sends PUBREL for packet_id on conn (a resumed session). */
	int (*send_pubrel)(void *conn, uint16_t packet_id);
	/* The time, in milliseconds. */
	int64_t (*now_ms)(void *arg);
	void *arg;
};

int broker_new(const struct broker_ops *ops, struct broker **out);
/* Frees everything, sessions and retained messages. NULL is fine. */
void broker_free(struct broker *b);

/*
 * A CONNECT the owner accepted, on connection conn. client_id may be empty:
 * the broker assigns one (MQTT 5 any time; 3.1.1 only with clean session,
 * else 0x85). Returns 0 or a CONNACK reason (0x85, 0x97 when full).
 * On success: *out is the session, *session_present its flag, *assigned
 * the assigned id or NULL, and *old_conn the connection that held this
 * session until now (the owner closes it with 0x8E and must not report it
 * to the broker again), or NULL.
 */
uint8_t broker_connect(struct broker *b, const struct mqtt_connect *c, void *conn, struct broker_session **out,
                       int *session_present, const char **assigned, void **old_conn);

/* The session's connection ended. publish_will: it ended without DISCONNECT
 * or with DISCONNECT 0x04. new_expiry: a DISCONNECT's Session Expiry
 * Interval, or -1. The session may be freed here: forget s. */
void broker_disconnect(struct broker *b, struct broker_session *s, int publish_will, int64_t new_expiry);

/* A PUBLISH from the session's client: routed to every matching
 * subscription, retained if asked. Returns 0 or 0x97 (quota exceeded). */
uint8_t broker_publish(struct broker *b, struct broker_session *from, const struct mqtt_publish *p);

/* One SUBSCRIBE filter: the granted QoS or a reason >= 0x80. Retained
 * messages it asks for are queued; broker_flush sends them (after the
 * SUBACK). */
uint8_t broker_subscribe(struct broker *b, struct broker_session *s, const struct mqtt_bytes *filter,
                         uint8_t options, uint32_t subscription_id);
/* 0, or MQTT_RC_NO_SUBSCRIPTION_EXISTED. */
uint8_t broker_unsubscribe(struct broker *b, struct broker_session *s, const struct mqtt_bytes *filter);

/* The client acknowledged packet_id (PUBACK, PUBCOMP, or a PUBREC refusing it). */
void broker_acked(struct broker *b, struct broker_session *s, uint16_t packet_id);
/* The client sent PUBREC for packet_id and we answered PUBREL. */
void broker_released(struct broker *b, struct broker_session *s, uint16_t packet_id);
/* Sends what is queued for the session as far as its window allows. */
void broker_flush(struct broker *b, struct broker_session *s);
/* Publishes delayed wills that are due and ends expired sessions. */
void broker_tick(struct broker *b);

/* The session's client id (NUL-terminated). */
const char *broker_session_id(const struct broker_session *s);

struct broker_stats {
	size_t sessions, retained, bytes;
};
void broker_get_stats(const struct broker *b, struct broker_stats *out);

#endif
