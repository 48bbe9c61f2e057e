/*
 * session.h - the MQTT protocol state of one connection, without I/O.
 *
 * Bytes go in with session_input; packets the protocol allows are handed to
 * the owner through hooks (struct session_hooks); everything to send goes
 * out through hooks->send. The owner (the daemon's connection) decides on
 * identity, ACL and storage; the session enforces the protocol: CONNECT
 * first and once, packet flags and sizes, QoS 1/2 flows, the receive
 * maximum, topic aliases (none allowed), and answers malformed input with a
 * DISCONNECT (MQTT 5) or by closing (3.1.1).
 *
 * What the server sends honours what the client announced in CONNECT
 * (MQTT 5): never more unacknowledged QoS 1/2 messages than its Receive
 * Maximum, never a packet larger than its Maximum Packet Size.
 *
 * Acknowledgement after durability: on_publish may return SESSION_PENDING;
 * the owner later calls session_complete() for that packet id once the
 * message is stored, which sends the PUBACK (QoS 1) or PUBREC (QoS 2).
 * A QoS 2 message re-sent while awaiting its PUBREL is answered from the
 * session's state and not handed over again.
 */
#ifndef CC_MQTT_SESSION_H
#define CC_MQTT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "mqtt/codec.h"

#define SESSION_PENDING 0x100

struct mqtt_session;

struct session_config {
	size_t max_packet;     /* largest packet accepted (and announced) */
	uint16_t receive_max;  /* inbound QoS 1/2 messages in flight */
	uint16_t keepalive_max;/* a larger requested keepalive is lowered to this (MQTT 5 tells the client) */
	int retain_available;  /* announced in CONNACK */
	int wildcard_available;
	int topic_aliases;     /* use topic aliases on what we send, if the client takes them */
};

struct session_hooks {
	/* A well-formed CONNECT. Returns a reason code: 0 accepts. May set
	 * *session_present, and adjust the CONNACK (a reason string explaining
	 * a refusal, an assigned client id, ...: pointers must outlive the call's
	 * return to the session, which sends the CONNACK at once). */
	uint8_t (*on_connect)(void *ctx, const struct mqtt_connect *c, struct mqtt_connack_opts *ack,
	                      int *session_present);
	/* A well-formed PUBLISH. Returns SESSION_PENDING (acknowledge later),
	 * a reason code to acknowledge with now (0 or >= 0x80), or a negative
	 * reason code to disconnect the client with. An immediate refusal may
	 * explain itself in *reason_string (MQTT 5 only; static text). */
	int (*on_publish)(void *ctx, const struct mqtt_publish *p, const char **reason_string);
	/* One SUBSCRIBE filter: the granted QoS, or a reason code >= 0x80.
	 * subscription_id: the SUBSCRIBE's Subscription Identifier, 0 if none. */
	uint8_t (*on_subscribe)(void *ctx, const struct mqtt_bytes *filter, uint8_t options,
	                        uint32_t subscription_id);
	/* One UNSUBSCRIBE filter: 0, or MQTT_RC_NO_SUBSCRIPTION_EXISTED. */
	uint8_t (*on_unsubscribe)(void *ctx, const struct mqtt_bytes *filter);
	/* The flow of a message we sent has ended (PUBACK; PUBCOMP, or a PUBREC
	 * refusing it, for QoS 2): one more may be sent. */
	void (*on_delivered)(void *ctx, uint16_t packet_id, uint8_t reason);
	/* The client sent DISCONNECT (reason 0x04: publish the will anyway). */
	void (*on_disconnect)(void *ctx, const struct mqtt_disconnect *d);
	/* Queues bytes for the peer. Returns 0 or a negative code. */
	int (*send)(void *ctx, const uint8_t *p, size_t n);
	/* The client answered our QoS 2 message with PUBREC and we sent PUBREL
	 * (a resumed session re-sends PUBREL, not the message). May be NULL. */
	void (*on_released)(void *ctx, uint16_t packet_id);
};

/* Allocates a session in the awaiting-CONNECT state. cfg is copied; hooks
 * is kept by reference (one table for every session) and must outlive it. */
int session_new(const struct session_config *cfg, const struct session_hooks *hooks, void *ctx,
                struct mqtt_session **out);
void session_free(struct mqtt_session *s);

/* Processes every complete packet in data. *consumed says how many bytes
 * were used (the rest is an incomplete packet to present again with more).
 * Returns 0 to keep the connection, or a negative value to close it (any
 * CONNACK or DISCONNECT explaining why has been sent already). */
int session_input(struct mqtt_session *s, const uint8_t *data, size_t len, size_t *consumed);

/* Whether the last session_input stopped before an MQTT 3.1.1 QoS 1/2
 * PUBLISH because every inbound slot was taken. 3.1.1 has no Receive
 * Maximum, so such a client is not in the wrong: the caller stops reading
 * its socket (TCP flow control does the rest) and presents the rest of the
 * input again after session_complete freed a slot. Only while a slot is
 * being stored (its completion will come); when every slot awaits a PUBREL
 * the client is disconnected as before, since its PUBRELs may sit behind
 * the blocked message. MQTT 5 clients over the Receive Maximum are
 * disconnected with 0x93 (MQTT 5 3.3.4). */
int session_input_blocked(const struct mqtt_session *s);

/* Acknowledges a publish that on_publish left pending. reason 0 = stored;
 * >= 0x80 = refused (MQTT 5 tells why via reason_string, may be NULL). */
int session_complete(struct mqtt_session *s, uint16_t packet_id, uint8_t reason, const char *reason_string);

/* An application message for the client. */
struct session_message {
	const char *topic;
	size_t topic_len;
	const uint8_t *props;  /* encoded MQTT 5 properties, sent as given (3.1.1: dropped) */
	size_t props_len;
	const uint8_t *payload;
	size_t len;
	uint8_t qos;
	int retain, dup;
	uint16_t packet_id;    /* 0: the session picks one; else a resend under this id */
	int topic_aliased;     /* internal: the topic alias is already in props */
};

/* Sends a message. For QoS 1/2 *packet_id is set and on_delivered reports
 * the end of its flow. CC_ERR_LIMIT: the client's Receive Maximum (or ours,
 * 32) is reached, try again after on_delivered; CC_ERR_INVALID: the packet
 * is larger than the client's Maximum Packet Size and can never be sent to
 * it; CC_ERR_EXISTS: that packet id is in flight. */
int session_send(struct mqtt_session *s, const struct session_message *m, uint16_t *packet_id);

/* session_send of a QoS 0/1 message without properties (QoS 2 is sent as 1). */
int session_publish(struct mqtt_session *s, const char *topic, const uint8_t *payload, size_t len,
                    uint8_t qos, int retain, uint16_t *packet_id);

/* A resumed session re-sends PUBREL for a QoS 2 message whose PUBREC came
 * on an earlier connection. Same errors as session_send. */
int session_resend_pubrel(struct mqtt_session *s, uint16_t packet_id);

/* The client's Maximum Packet Size (0: it set none). */
uint32_t session_peer_max_packet(const struct mqtt_session *s);

/* How many more QoS 1/2 messages may be sent now. */
size_t session_send_window(const struct mqtt_session *s);

/* Sends DISCONNECT with reason (MQTT 5 only) and marks the session closed. */
void session_close(struct mqtt_session *s, uint8_t reason, const char *reason_string);

int session_connected(const struct mqtt_session *s);
uint8_t session_version(const struct mqtt_session *s);
/* The keepalive in force (seconds; 0 = none). */
uint16_t session_keepalive(const struct mqtt_session *s);
/* Inbound QoS 1/2 messages awaiting session_complete or PUBREL. */
size_t session_inflight(const struct mqtt_session *s);

#endif
