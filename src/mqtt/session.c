#include "mqtt/session.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define OUT_INFLIGHT_MAX 32
#define ALIASES_MAX 16
#define SMALL_PACKET 512

enum state { AWAIT_CONNECT, CONNECTED, CLOSED };

enum slot_state { SLOT_FREE = 0, SLOT_STORING, SLOT_AWAIT_PUBREL };

/* What a message we sent waits for. */
enum out_state { OUT_AWAIT_PUBACK = 1, OUT_AWAIT_PUBREC, OUT_AWAIT_PUBCOMP };

struct outbound {
	uint16_t packet_id;
	uint8_t state;
};

struct inbound {
	uint16_t packet_id;
	uint8_t qos;
	uint8_t state;
};

/* One per connection, so kept small (docs/PERFORMANCE.md "Idle machine
 * connections"): the slot tables exist only while something is in flight,
 * the alias table only once an alias is used. */
struct mqtt_session {
	struct session_config cfg;
	const struct session_hooks *hooks;
	void *ctx;
	struct inbound *in;        /* cfg.receive_max slots while inflight > 0, else NULL */
	struct outbound *out;      /* OUT_INFLIGHT_MAX slots while out_count > 0, else NULL */
	char **aliases;            /* ALIASES_MAX: alias i + 1 -> topic; NULL until the first alias */
	uint32_t peer_max_packet;  /* the client's Maximum Packet Size (0: no limit) */
	uint16_t inflight;         /* used slots of in[] */
	uint16_t out_count;
	uint16_t next_id;
	uint16_t keepalive;
	uint16_t peer_receive_max; /* the client's Receive Maximum (65535 unless it said less) */
	uint16_t peer_alias_max;   /* topic aliases we may use (its Topic Alias Maximum, capped) */
	uint8_t state;             /* enum state */
	uint8_t version;
	uint8_t input_blocked;     /* session_input_blocked */
};

typedef int (*packet_handler)(struct mqtt_session *s, const struct mqtt_frame *f);

int session_new(const struct session_config *cfg, const struct session_hooks *hooks, void *ctx,
                struct mqtt_session **out)
{
	struct mqtt_session *s;

	if (cfg->receive_max == 0)
		return CC_ERR_INVALID;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CC_ERR_NOMEM;
	s->cfg = *cfg;
	s->hooks = hooks;
	s->ctx = ctx;
	s->state = AWAIT_CONNECT;
	s->version = MQTT_V311; /* until CONNECT says otherwise */
	s->next_id = 1;
	s->peer_receive_max = 65535;
	*out = s;
	return CC_OK;
}

void session_free(struct mqtt_session *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; s->aliases != NULL && i < ALIASES_MAX; i++)
		free(s->aliases[i]);
	free(s->aliases);
	free(s->in);
	free(s->out);
	free(s);
}

int session_connected(const struct mqtt_session *s) { return s->state == CONNECTED; }
uint8_t session_version(const struct mqtt_session *s) { return s->version; }
uint16_t session_keepalive(const struct mqtt_session *s) { return s->keepalive; }
size_t session_inflight(const struct mqtt_session *s) { return s->inflight; }

static int send_out(struct mqtt_session *s, const struct mqtt_out *o)
{
	return s->hooks->send(s->ctx, o->p, o->len);
}

void session_close(struct mqtt_session *s, uint8_t reason, const char *reason_string)
{
	uint8_t buf[SMALL_PACKET];
	struct mqtt_out o = { buf, 0, sizeof(buf) };

	if (s->state == CONNECTED && mqtt_encode_disconnect(&o, s->version, reason, reason_string) == 0 &&
	    o.len > 0)
		send_out(s, &o);
	s->state = CLOSED;
}

/* A protocol violation: tell an MQTT 5 client why, then close. */
static int fail(struct mqtt_session *s, int negative_reason)
{
	session_close(s, (uint8_t)-negative_reason, NULL);
	return negative_reason < 0 ? negative_reason : -MQTT_RC_PROTOCOL_ERROR;
}

static struct inbound *find_inbound(struct mqtt_session *s, uint16_t id)
{
	size_t i;

	for (i = 0; s->in != NULL && i < s->cfg.receive_max; i++)
		if (s->in[i].state != SLOT_FREE && s->in[i].packet_id == id)
			return &s->in[i];
	return NULL;
}

/* A slot is done with: the table goes once none is in use. */
static void release_inbound(struct mqtt_session *s, struct inbound *slot)
{
	slot->state = SLOT_FREE;
	if (--s->inflight == 0) {
		free(s->in);
		s->in = NULL;
	}
}

static struct inbound *free_inbound(struct mqtt_session *s)
{
	size_t i;

	for (i = 0; i < s->cfg.receive_max; i++)
		if (s->in[i].state == SLOT_FREE)
			return &s->in[i];
	return NULL;
}

static int send_ack(struct mqtt_session *s, enum mqtt_type type, uint16_t id, uint8_t reason,
                    const char *reason_string)
{
	uint8_t buf[SMALL_PACKET];
	struct mqtt_out o = { buf, 0, sizeof(buf) };

	if (mqtt_encode_ack(&o, s->version, type, id, reason, reason_string) != 0)
		return CC_ERR_LIMIT;
	return send_out(s, &o);
}

/* ---- packet handlers ---- */

static int on_connect(struct mqtt_session *s, const struct mqtt_frame *f)
{
	struct mqtt_connect c;
	struct mqtt_connack_opts opts;
	uint8_t buf[SMALL_PACKET];
	struct mqtt_out o = { buf, 0, sizeof(buf) };
	int rc, present = 0;
	uint8_t reason;

	if (s->state != AWAIT_CONNECT)
		return fail(s, -MQTT_RC_PROTOCOL_ERROR); /* a second CONNECT */
	rc = mqtt_decode_connect(f, &c);
	if (rc == -MQTT_RC_UNSUPPORTED_VERSION) {
		/* Answer in the oldest form we speak, so any client can read it. */
		mqtt_encode_connack(&o, MQTT_V311, 0, MQTT_RC_UNSUPPORTED_VERSION, NULL);
		send_out(s, &o);
		s->state = CLOSED;
		return rc;
	}
	if (rc != 0) {
		s->state = CLOSED;
		return rc;
	}
	s->version = c.version;
	if (c.version == MQTT_V5) {
		/* What the client can take: honoured on everything we send it. */
		if (c.props.has_receive_max)
			s->peer_receive_max = c.props.receive_max;
		if (c.props.has_max_packet)
			s->peer_max_packet = c.props.max_packet;
		if (s->cfg.topic_aliases)
			s->peer_alias_max = c.props.topic_alias_max < ALIASES_MAX ? c.props.topic_alias_max : ALIASES_MAX;
	}
	memset(&opts, 0, sizeof(opts));
	opts.receive_max = s->cfg.receive_max;
	opts.max_packet = (uint32_t)s->cfg.max_packet;
	opts.retain_available = s->cfg.retain_available;
	opts.wildcard_available = s->cfg.wildcard_available;
	opts.keepalive_override = -1;
	s->keepalive = c.keepalive;
	if (s->cfg.keepalive_max > 0 && (c.keepalive == 0 || c.keepalive > s->cfg.keepalive_max)) {
		/* MQTT 5 lets the server impose its keepalive; 3.1.1 keeps the client's. */
		if (c.version == MQTT_V5) {
			s->keepalive = s->cfg.keepalive_max;
			opts.keepalive_override = s->cfg.keepalive_max;
		}
	}
	if (c.props.has_auth_method) {
		reason = MQTT_RC_BAD_AUTH; /* enhanced authentication is not offered */
	} else {
		reason = s->hooks->on_connect(s->ctx, &c, &opts, &present);
	}
	rc = mqtt_encode_connack(&o, s->version, present, reason, &opts);
	if (rc == 0)
		rc = send_out(s, &o);
	if (rc != 0 || reason != 0) {
		s->state = CLOSED;
		return rc != 0 ? rc : -(int)reason;
	}
	s->state = CONNECTED;
	return 0;
}

static int on_publish(struct mqtt_session *s, const struct mqtt_frame *f)
{
	struct mqtt_publish p;
	struct inbound *slot;
	const char *reason_string = NULL;
	int rc;

	rc = mqtt_decode_publish(s->version, f, &p);
	if (rc != 0)
		return fail(s, rc);
	if (p.props.has_topic_alias)
		return fail(s, -MQTT_RC_TOPIC_ALIAS_INVALID); /* we announce a maximum of 0 */
	if (p.retain && !s->cfg.retain_available && s->version == MQTT_V5)
		return fail(s, -MQTT_RC_RETAIN_NOT_SUPPORTED);
	if (p.qos > 0) {
		slot = find_inbound(s, p.packet_id);
		if (slot != NULL) {
			/* A resend of a message we hold: answer from state, never store twice. */
			if (slot->state == SLOT_AWAIT_PUBREL)
				return send_ack(s, MQTT_PUBREC, p.packet_id, 0, NULL);
			return 0; /* still being stored; its acknowledgement will come */
		}
		if (s->inflight >= s->cfg.receive_max)
			return fail(s, -MQTT_RC_RECEIVE_MAX_EXCEEDED);
		if (s->in == NULL) {
			/* Before the hook: once it has the message, a slot must be there. */
			s->in = calloc(s->cfg.receive_max, sizeof(*s->in));
			if (s->in == NULL)
				return fail(s, -MQTT_RC_SERVER_BUSY);
		}
	}
	rc = s->hooks->on_publish(s->ctx, &p, &reason_string);
	if (rc < 0 || p.qos == 0) {
		if (s->inflight == 0) {
			free(s->in);
			s->in = NULL;
		}
		return rc < 0 ? fail(s, rc) : 0;
	}
	slot = free_inbound(s);
	slot->packet_id = p.packet_id;
	slot->qos = p.qos;
	slot->state = SLOT_STORING;
	s->inflight++;
	if (rc == SESSION_PENDING)
		return 0;
	return session_complete(s, p.packet_id, (uint8_t)rc, reason_string);
}

int session_complete(struct mqtt_session *s, uint16_t packet_id, uint8_t reason, const char *reason_string)
{
	struct inbound *slot = find_inbound(s, packet_id);

	if (slot == NULL || slot->state != SLOT_STORING)
		return CC_ERR_NOTFOUND;
	if (s->state != CONNECTED)
		return CC_ERR_STATE;
	if (slot->qos == 1 || reason >= 0x80) {
		/* A refused QoS 2 message ends at PUBREC too (MQTT 5 4.3.3). */
		uint8_t qos = slot->qos;

		release_inbound(s, slot);
		return send_ack(s, qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, packet_id, reason, reason_string);
	}
	slot->state = SLOT_AWAIT_PUBREL;
	return send_ack(s, MQTT_PUBREC, packet_id, reason, reason_string);
}

static int on_pubrel(struct mqtt_session *s, const struct mqtt_frame *f)
{
	struct mqtt_ack a;
	struct inbound *slot;
	int rc = mqtt_decode_ack(s->version, f, &a);

	if (rc != 0)
		return fail(s, rc);
	slot = find_inbound(s, a.packet_id);
	if (slot == NULL || slot->state != SLOT_AWAIT_PUBREL)
		return send_ack(s, MQTT_PUBCOMP, a.packet_id,
		                s->version == MQTT_V5 ? MQTT_RC_PACKET_ID_NOT_FOUND : 0, NULL);
	release_inbound(s, slot);
	return send_ack(s, MQTT_PUBCOMP, a.packet_id, 0, NULL);
}

static struct outbound *find_outbound(struct mqtt_session *s, uint16_t id)
{
	size_t i;

	for (i = 0; i < s->out_count; i++)
		if (s->out[i].packet_id == id)
			return &s->out[i];
	return NULL;
}

/* The flow of one message we sent has ended: its slot is free again. */
static void out_done(struct mqtt_session *s, struct outbound *o, uint8_t reason)
{
	uint16_t id = o->packet_id;

	*o = s->out[--s->out_count];
	if (s->out_count == 0) {
		free(s->out);
		s->out = NULL;
	}
	if (s->hooks->on_delivered != NULL)
		s->hooks->on_delivered(s->ctx, id, reason);
}

/* PUBACK (QoS 1) or PUBCOMP (QoS 2) ends an outbound flow that waits for it. */
static int end_outbound(struct mqtt_session *s, const struct mqtt_frame *f, int awaiting)
{
	struct mqtt_ack a;
	struct outbound *o;
	int rc = mqtt_decode_ack(s->version, f, &a);

	if (rc != 0)
		return fail(s, rc);
	o = find_outbound(s, a.packet_id);
	if (o != NULL && (int)o->state == awaiting)
		out_done(s, o, a.reason);
	return 0; /* an acknowledgement for nothing we sent: harmless, ignored */
}

static int on_puback(struct mqtt_session *s, const struct mqtt_frame *f)
{
	return end_outbound(s, f, OUT_AWAIT_PUBACK);
}

static int on_pubrec(struct mqtt_session *s, const struct mqtt_frame *f)
{
	struct mqtt_ack a;
	struct outbound *o;
	int rc = mqtt_decode_ack(s->version, f, &a);

	if (rc != 0)
		return fail(s, rc);
	o = find_outbound(s, a.packet_id);
	if (o == NULL || o->state == OUT_AWAIT_PUBACK)
		return send_ack(s, MQTT_PUBREL, a.packet_id,
		                s->version == MQTT_V5 ? MQTT_RC_PACKET_ID_NOT_FOUND : 0, NULL);
	if (a.reason >= 0x80) {
		out_done(s, o, a.reason); /* the client refused it: the flow ends here */
		return 0;
	}
	o->state = OUT_AWAIT_PUBCOMP;
	if (s->hooks->on_released != NULL)
		s->hooks->on_released(s->ctx, a.packet_id);
	return send_ack(s, MQTT_PUBREL, a.packet_id, 0, NULL);
}

static int on_pubcomp(struct mqtt_session *s, const struct mqtt_frame *f)
{
	return end_outbound(s, f, OUT_AWAIT_PUBCOMP);
}

static int on_subscribe(struct mqtt_session *s, const struct mqtt_frame *f)
{
	struct mqtt_subscribe sub;
	uint8_t reasons[MQTT_SUBSCRIBE_TOPICS_MAX];
	uint8_t buf[SMALL_PACKET];
	struct mqtt_out o = { buf, 0, sizeof(buf) };
	size_t i;
	int rc = mqtt_decode_subscribe(s->version, f, &sub);

	if (rc != 0)
		return fail(s, rc);
	for (i = 0; i < sub.count; i++) {
		uint8_t r = s->hooks->on_subscribe(s->ctx, &sub.topics[i].filter, sub.topics[i].options,
		                                  sub.props.has_subscription_id ? sub.props.subscription_id : 0);
		/* 3.1.1 knows a single failure code. */
		reasons[i] = s->version == MQTT_V311 && r >= 0x80 ? 0x80 : r;
	}
	if (mqtt_encode_suback(&o, s->version, MQTT_SUBACK, sub.packet_id, reasons, sub.count) != 0)
		return fail(s, -MQTT_RC_UNSPECIFIED);
	return send_out(s, &o);
}

static int on_unsubscribe(struct mqtt_session *s, const struct mqtt_frame *f)
{
	struct mqtt_subscribe sub;
	uint8_t reasons[MQTT_SUBSCRIBE_TOPICS_MAX];
	uint8_t buf[SMALL_PACKET];
	struct mqtt_out o = { buf, 0, sizeof(buf) };
	size_t i;
	int rc = mqtt_decode_unsubscribe(s->version, f, &sub);

	if (rc != 0)
		return fail(s, rc);
	for (i = 0; i < sub.count; i++)
		reasons[i] = s->hooks->on_unsubscribe(s->ctx, &sub.topics[i].filter);
	if (mqtt_encode_suback(&o, s->version, MQTT_UNSUBACK, sub.packet_id, reasons, sub.count) != 0)
		return fail(s, -MQTT_RC_UNSPECIFIED);
	return send_out(s, &o);
}

static int on_pingreq(struct mqtt_session *s, const struct mqtt_frame *f)
{
	uint8_t buf[4];
	struct mqtt_out o = { buf, 0, sizeof(buf) };

	if (f->flags != 0 || f->body_len != 0)
		return fail(s, -MQTT_RC_MALFORMED);
	mqtt_encode_pingresp(&o);
	return send_out(s, &o);
}

static int on_disconnect(struct mqtt_session *s, const struct mqtt_frame *f)
{
	struct mqtt_disconnect d;
	int rc = mqtt_decode_disconnect(s->version, f, &d);

	if (rc != 0)
		return fail(s, rc);
	s->hooks->on_disconnect(s->ctx, &d);
	s->state = CLOSED;
	return -1; /* the client closes; so do we */
}

/* Packets a client never sends to a server. */
static int on_server_only(struct mqtt_session *s, const struct mqtt_frame *f)
{
	(void)f;
	return fail(s, -MQTT_RC_PROTOCOL_ERROR);
}

static const packet_handler handlers[16] = {
	[MQTT_CONNECT] = on_connect,
	[MQTT_CONNACK] = on_server_only,
	[MQTT_PUBLISH] = on_publish,
	[MQTT_PUBACK] = on_puback,
	[MQTT_PUBREC] = on_pubrec,
	[MQTT_PUBREL] = on_pubrel,
	[MQTT_PUBCOMP] = on_pubcomp,
	[MQTT_SUBSCRIBE] = on_subscribe,
	[MQTT_SUBACK] = on_server_only,
	[MQTT_UNSUBSCRIBE] = on_unsubscribe,
	[MQTT_UNSUBACK] = on_server_only,
	[MQTT_PINGREQ] = on_pingreq,
	[MQTT_PINGRESP] = on_server_only,
	[MQTT_DISCONNECT] = on_disconnect,
	[MQTT_AUTH] = on_server_only, /* no enhanced authentication */
};

/* An MQTT 3.1.1 QoS 1/2 PUBLISH that finds every slot taken waits, unread,
 * when one of them is being stored (session_input_blocked). */
static int must_wait(const struct mqtt_session *s, const struct mqtt_frame *f)
{
	size_t i;

	if (f->type != MQTT_PUBLISH || s->version == MQTT_V5 || s->state != CONNECTED ||
	    (f->flags & 0x06) == 0 || s->inflight < s->cfg.receive_max)
		return 0;
	for (i = 0; i < s->cfg.receive_max; i++)
		if (s->in[i].state == SLOT_STORING)
			return 1;
	return 0;
}

int session_input_blocked(const struct mqtt_session *s) { return s->input_blocked; }

int session_input(struct mqtt_session *s, const uint8_t *data, size_t len, size_t *consumed)
{
	size_t used = 0;
	int rc = 0;

	s->input_blocked = 0;
	while (s->state != CLOSED) {
		struct mqtt_frame f;
		/* Before CONNECT a peer gets only a small packet: nothing large is buffered for strangers. */
		size_t max = s->state == AWAIT_CONNECT ? (s->cfg.max_packet < 8192 ? s->cfg.max_packet : 8192)
		                                       : s->cfg.max_packet;

		rc = mqtt_frame(data + used, len - used, max, &f);
		if (rc == 0)
			break;
		if (rc < 0) {
			rc = s->state == CONNECTED ? fail(s, rc) : rc;
			s->state = CLOSED;
			break;
		}
		if (s->state == AWAIT_CONNECT && f.type != MQTT_CONNECT) {
			s->state = CLOSED; /* the first packet must be CONNECT */
			rc = -MQTT_RC_PROTOCOL_ERROR;
			break;
		}
		if (must_wait(s, &f)) {
			s->input_blocked = 1;
			break;
		}
		used += f.total_len;
		rc = handlers[f.type](s, &f);
		if (rc < 0)
			break;
		rc = 0;
	}
	*consumed = used;
	if (s->state == CLOSED && rc == 0)
		rc = -1;
	return rc;
}

uint32_t session_peer_max_packet(const struct mqtt_session *s) { return s->peer_max_packet; }

size_t session_send_window(const struct mqtt_session *s)
{
	size_t cap = s->peer_receive_max < OUT_INFLIGHT_MAX ? s->peer_receive_max : OUT_INFLIGHT_MAX;

	return s->out_count >= cap ? 0 : cap - s->out_count;
}

/* The outbound table, made when the first message goes out. */
static int outbound_table(struct mqtt_session *s)
{
	if (s->out == NULL)
		s->out = calloc(OUT_INFLIGHT_MAX, sizeof(*s->out));
	return s->out != NULL ? CC_OK : CC_ERR_NOMEM;
}

static int id_in_use(const struct mqtt_session *s, uint16_t id)
{
	size_t i;

	for (i = 0; i < s->out_count; i++)
		if (s->out[i].packet_id == id)
			return 1;
	return 0;
}

/* Topic aliases (MQTT 5 3.3.2.3.4), when the client takes them: the first
 * message on a topic sets an alias, the next ones send it with an empty
 * topic. Returns the alias to send (0: none) and whether the topic goes too. */
static uint16_t alias_for(struct mqtt_session *s, const char *topic, size_t len, int *with_topic)
{
	uint16_t i;

	*with_topic = 1;
	for (i = 0; i < s->peer_alias_max; i++) {
		if (s->aliases[i] == NULL)
			return (uint16_t)(i + 1); /* a new alias: set once the message has gone */
		if (strlen(s->aliases[i]) == len && memcmp(s->aliases[i], topic, len) == 0) {
			*with_topic = 0;
			return (uint16_t)(i + 1);
		}
	}
	return 0;
}

static int send_aliased(struct mqtt_session *s, const struct session_message *m, uint16_t *packet_id)
{
	struct session_message a = *m;
	uint8_t *props;
	int with_topic, rc;
	uint16_t alias;

	if (s->aliases == NULL) {
		s->aliases = calloc(ALIASES_MAX, sizeof(*s->aliases));
		if (s->aliases == NULL)
			return CC_ERR_NOMEM;
	}
	alias = alias_for(s, m->topic, m->topic_len, &with_topic);
	if (alias == 0)
		return CC_ERR_NOTFOUND;
	props = malloc(m->props_len + 3);
	if (props == NULL)
		return CC_ERR_NOMEM;
	props[0] = 0x23;
	props[1] = (uint8_t)(alias >> 8);
	props[2] = (uint8_t)alias;
	if (m->props_len > 0)
		memcpy(props + 3, m->props, m->props_len);
	a.props = props;
	a.props_len = m->props_len + 3;
	if (!with_topic) {
		a.topic = "";
		a.topic_len = 0;
	}
	a.topic_aliased = 1;
	rc = session_send(s, &a, packet_id);
	free(props);
	if (rc == CC_OK && with_topic) {
		s->aliases[alias - 1] = malloc(m->topic_len + 1);
		if (s->aliases[alias - 1] != NULL) {
			memcpy(s->aliases[alias - 1], m->topic, m->topic_len);
			s->aliases[alias - 1][m->topic_len] = '\0';
		}
	}
	return rc;
}

int session_send(struct mqtt_session *s, const struct session_message *m, uint16_t *packet_id)
{
	struct mqtt_out o;
	uint16_t id = 0;
	size_t size;
	int rc;

	if (s->state != CONNECTED)
		return CC_ERR_STATE;
	if (s->peer_alias_max > 0 && !m->topic_aliased && s->version == MQTT_V5) {
		rc = send_aliased(s, m, packet_id);
		if (rc != CC_ERR_NOTFOUND)
			return rc;
	}
	if (m->qos > 2 || (m->packet_id != 0 && m->qos == 0))
		return CC_ERR_INVALID;
	size = mqtt_publish_size(s->version, m->qos, m->topic_len, s->version == MQTT_V5 ? m->props_len : 0, m->len);
	if (s->peer_max_packet != 0 && size > s->peer_max_packet)
		return CC_ERR_INVALID; /* MQTT 5 3.1.2.11.4: never send what the client cannot take */
	if (m->qos > 0) {
		if (session_send_window(s) == 0)
			return CC_ERR_LIMIT;
		if (outbound_table(s) != CC_OK)
			return CC_ERR_NOMEM;
		if (m->packet_id != 0) {
			if (id_in_use(s, m->packet_id))
				return CC_ERR_EXISTS;
			id = m->packet_id;
		} else {
			do {
				id = s->next_id++;
				if (s->next_id == 0)
					s->next_id = 1;
			} while (id_in_use(s, id));
		}
	}
	o.cap = size;
	o.len = 0;
	o.p = malloc(o.cap);
	if (o.p == NULL)
		return CC_ERR_NOMEM;
	rc = mqtt_encode_publish(&o, s->version, m->qos, m->retain, m->dup, m->topic, m->topic_len, id,
	                         m->props, m->props_len, m->payload, m->len);
	if (rc == 0)
		rc = send_out(s, &o);
	free(o.p);
	if (rc == 0 && m->qos > 0) {
		s->out[s->out_count].packet_id = id;
		s->out[s->out_count].state = m->qos == 1 ? OUT_AWAIT_PUBACK : OUT_AWAIT_PUBREC;
		s->out_count++;
		*packet_id = id;
	}
	return rc;
}

int session_resend_pubrel(struct mqtt_session *s, uint16_t packet_id)
{
	if (s->state != CONNECTED)
		return CC_ERR_STATE;
	if (session_send_window(s) == 0)
		return CC_ERR_LIMIT;
	if (id_in_use(s, packet_id))
		return CC_ERR_EXISTS;
	if (outbound_table(s) != CC_OK)
		return CC_ERR_NOMEM;
	s->out[s->out_count].packet_id = packet_id;
	s->out[s->out_count].state = OUT_AWAIT_PUBCOMP;
	s->out_count++;
	return send_ack(s, MQTT_PUBREL, packet_id, 0, NULL);
}

int session_publish(struct mqtt_session *s, const char *topic, const uint8_t *payload, size_t len,
                    uint8_t qos, int retain, uint16_t *packet_id)
{
	struct session_message m;

	memset(&m, 0, sizeof(m));
	m.topic = topic;
	m.topic_len = strlen(topic);
	m.payload = payload;
	m.len = len;
	m.qos = qos > 1 ? 1 : qos; /* server-to-machine traffic is at most QoS 1 */
	m.retain = retain;
	return session_send(s, &m, packet_id);
}
