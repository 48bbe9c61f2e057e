/*
 * codec.h - MQTT 3.1.1 and 5.0 packets, decoded and encoded. Pure: no I/O,
 * no allocation, no global state.
 *
 * Decoders work on one complete packet (mqtt_frame finds it) and return
 * views into the caller's buffer (struct mqtt_bytes): nothing is copied, so
 * a decoded packet lives as long as the bytes it came from. Every length is
 * checked before it is used. Decoders return 0, or a negative MQTT reason
 * code (-MQTT_RC_MALFORMED, -MQTT_RC_PROTOCOL_ERROR, ...) telling why the
 * packet is refused; the session turns that into a DISCONNECT.
 *
 * Encoders append to a struct mqtt_out with a fixed capacity and return 0
 * or CC_ERR_LIMIT when it would not fit (nothing is then appended).
 */
#ifndef CC_MQTT_CODEC_H
#define CC_MQTT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define MQTT_V311 4
#define MQTT_V5 5

enum mqtt_type {
	MQTT_CONNECT = 1, MQTT_CONNACK, MQTT_PUBLISH, MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL,
	MQTT_PUBCOMP, MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE, MQTT_UNSUBACK,
	MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT, MQTT_AUTH,
};

/* MQTT 5 reason codes used here (3.1.1 maps them to its CONNACK return codes). */
enum mqtt_rc {
	MQTT_RC_SUCCESS = 0x00,
	MQTT_RC_GRANTED_QOS1 = 0x01,
	MQTT_RC_GRANTED_QOS2 = 0x02,
	MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
	MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
	MQTT_RC_UNSPECIFIED = 0x80,
	MQTT_RC_MALFORMED = 0x81,
	MQTT_RC_PROTOCOL_ERROR = 0x82,
	MQTT_RC_IMPLEMENTATION_SPECIFIC = 0x83,
	MQTT_RC_UNSUPPORTED_VERSION = 0x84,
	MQTT_RC_CLIENT_ID_NOT_VALID = 0x85,
	MQTT_RC_BAD_AUTH = 0x86,
	MQTT_RC_NOT_AUTHORIZED = 0x87,
	MQTT_RC_SERVER_UNAVAILABLE = 0x88,
	MQTT_RC_SERVER_BUSY = 0x89,
	MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
	MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
	MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
	MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
	MQTT_RC_TOPIC_NAME_INVALID = 0x90,
	MQTT_RC_PACKET_ID_IN_USE = 0x91,
	MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
	MQTT_RC_RECEIVE_MAX_EXCEEDED = 0x93,
	MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
	MQTT_RC_PACKET_TOO_LARGE = 0x95,
	MQTT_RC_QUOTA_EXCEEDED = 0x97,
	MQTT_RC_ADMIN_ACTION = 0x98,
	MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
	MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
	MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
	MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/* Bounds on what a peer may send inside one packet. */
#define MQTT_MAX_REMAINING 268435455u
#define MQTT_USER_PROPERTIES_MAX 32
#define MQTT_SUBSCRIBE_TOPICS_MAX 16

struct mqtt_bytes {
	const uint8_t *p;
	size_t len;
};

/* The MQTT 5 properties this server reads; the rest are validated and skipped. */
struct mqtt_props {
	uint32_t session_expiry;      int has_session_expiry;
	uint16_t receive_max;         int has_receive_max;
	uint32_t max_packet;          int has_max_packet;
	uint16_t topic_alias_max;
	uint16_t topic_alias;         int has_topic_alias;
	uint8_t payload_format;       int has_payload_format;
	uint32_t message_expiry;      int has_message_expiry;
	uint32_t will_delay;
	uint8_t request_problem_info; int has_request_problem_info;
	uint8_t request_response_info;
	uint32_t subscription_id;     int has_subscription_id;
	int has_auth_method;
	struct mqtt_bytes reason_string;
	unsigned user_properties;
	struct mqtt_bytes raw; /* the whole property list as received (without its length) */
};

/* Copies a validated property list (a struct mqtt_props raw), leaving out
 * the properties whose ids are in drop: how a broker forwards what it must
 * not change. 0, CC_ERR_LIMIT (cap too small) or CC_ERR_INVALID. */
int mqtt_props_copy(const struct mqtt_bytes *raw, const uint8_t *drop, size_t ndrop, uint8_t *out,
                    size_t cap, size_t *out_len);

struct mqtt_frame {
	enum mqtt_type type;
	uint8_t flags;       /* low nibble of the first byte */
	const uint8_t *body; /* variable header + payload */
	size_t body_len;
	size_t total_len;    /* bytes of the whole packet, header included */
};

/* Finds the first packet in buf. Returns 1 and fills *out when one is
 * complete; 0 when more bytes are needed; -MQTT_RC_MALFORMED for a bad
 * remaining length; -MQTT_RC_PACKET_TOO_LARGE when it announces more than
 * max_packet bytes (checked before the body arrives). */
int mqtt_frame(const uint8_t *buf, size_t len, size_t max_packet, struct mqtt_frame *out);

struct mqtt_connect {
	uint8_t version;          /* MQTT_V311 or MQTT_V5 */
	int clean_start;
	uint16_t keepalive;
	struct mqtt_props props;
	struct mqtt_bytes client_id;
	int will;
	uint8_t will_qos;
	int will_retain;
	struct mqtt_props will_props;
	struct mqtt_bytes will_topic;
	struct mqtt_bytes will_payload;
	int has_username, has_password;
	struct mqtt_bytes username, password;
};

/* -MQTT_RC_UNSUPPORTED_VERSION for a protocol other than 3.1.1/5.0 (the
 * session answers with CONNACK 0x84 / return code 1 before closing). */
int mqtt_decode_connect(const struct mqtt_frame *f, struct mqtt_connect *out);

struct mqtt_publish {
	uint8_t qos;
	int dup, retain;
	struct mqtt_bytes topic; /* may be empty in MQTT 5 when a topic alias is set */
	uint16_t packet_id;      /* 0 for QoS 0 */
	struct mqtt_props props;
	struct mqtt_bytes payload;
};
int mqtt_decode_publish(uint8_t version, const struct mqtt_frame *f, struct mqtt_publish *out);

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
struct mqtt_ack {
	uint16_t packet_id;
	uint8_t reason;
	struct mqtt_props props;
};
int mqtt_decode_ack(uint8_t version, const struct mqtt_frame *f, struct mqtt_ack *out);

struct mqtt_subscribe {
	uint16_t packet_id;
	struct mqtt_props props;
	size_t count;
	struct {
		struct mqtt_bytes filter;
		uint8_t options; /* QoS in bits 0-1; MQTT 5 options above */
	} topics[MQTT_SUBSCRIBE_TOPICS_MAX];
};
int mqtt_decode_subscribe(uint8_t version, const struct mqtt_frame *f, struct mqtt_subscribe *out);
/* UNSUBSCRIBE has the same shape; options are 0. */
int mqtt_decode_unsubscribe(uint8_t version, const struct mqtt_frame *f, struct mqtt_subscribe *out);

struct mqtt_disconnect {
	uint8_t reason;
	struct mqtt_props props;
};
int mqtt_decode_disconnect(uint8_t version, const struct mqtt_frame *f, struct mqtt_disconnect *out);

/* 1 if the bytes are well-formed UTF-8 without U+0000 or surrogates, as
 * MQTT requires of every string. */
int mqtt_utf8_valid(const uint8_t *p, size_t len);

struct mqtt_out {
	uint8_t *p;
	size_t len, cap;
};

/* CONNACK; in 3.1.1 the reason is mapped to a return code. With MQTT 5 the
 * server announces its receive maximum, maximum packet size, that it has no
 * retained/wildcard/shared subscriptions for machines, and its keepalive. */
struct mqtt_connack_opts {
	uint16_t receive_max;
	uint32_t max_packet;
	int keepalive_override; /* -1: none */
	int retain_available;
	int wildcard_available;
	uint32_t session_expiry; int has_session_expiry;
	const char *reason_string;
	int subscription_ids_available;
	int shared_available;
	const char *assigned_client_id; /* NULL: none (at most 23 characters) */
	uint16_t topic_alias_max;       /* 0: topic aliases not accepted */
};
int mqtt_encode_connack(struct mqtt_out *o, uint8_t version, int session_present, uint8_t reason,
                        const struct mqtt_connack_opts *opts);
/* PUBLISH. props: an encoded MQTT 5 property list (without its length),
 * sent as given; ignored in 3.1.1. */
int mqtt_encode_publish(struct mqtt_out *o, uint8_t version, uint8_t qos, int retain, int dup,
                        const char *topic, size_t topic_len, uint16_t packet_id,
                        const uint8_t *props, size_t props_len,
                        const uint8_t *payload, size_t payload_len);
/* The bytes mqtt_encode_publish would produce (for the peer's Maximum Packet Size). */
size_t mqtt_publish_size(uint8_t version, uint8_t qos, size_t topic_len, size_t props_len, size_t payload_len);
/* PUBACK, PUBREC, PUBREL, PUBCOMP; reason_string only in MQTT 5, may be NULL. */
int mqtt_encode_ack(struct mqtt_out *o, uint8_t version, enum mqtt_type type, uint16_t packet_id,
                    uint8_t reason, const char *reason_string);
int mqtt_encode_suback(struct mqtt_out *o, uint8_t version, enum mqtt_type type, uint16_t packet_id,
                       const uint8_t *reasons, size_t n);
int mqtt_encode_pingresp(struct mqtt_out *o);
/* DISCONNECT exists only in MQTT 5 for a server; in 3.1.1 nothing is appended. */
int mqtt_encode_disconnect(struct mqtt_out *o, uint8_t version, uint8_t reason, const char *reason_string);

/* A short name for a reason code, for logs ("not authorized"). */
const char *mqtt_rc_name(uint8_t rc);

#endif
