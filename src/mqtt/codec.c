#include "mqtt/codec.h"

#include <string.h>

#include "common/err.h"

/* ---- reading ---- */

struct reader {
	const uint8_t *p;
	size_t len, pos;
	int bad; /* sticky: any read past the end marks the packet malformed */
};

static void reader_init(struct reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
	r->bad = 0;
}

static size_t left(const struct reader *r) { return r->len - r->pos; }

static uint8_t get_u8(struct reader *r)
{
	if (r->bad || left(r) < 1) {
		r->bad = 1;
		return 0;
	}
	return r->p[r->pos++];
}

static uint16_t get_u16(struct reader *r)
{
	uint16_t hi = get_u8(r);

	return (uint16_t)(hi << 8 | get_u8(r));
}

static uint32_t get_u32(struct reader *r)
{
	uint32_t v = (uint32_t)get_u16(r) << 16;

	return v | get_u16(r);
}

static uint32_t get_varint(struct reader *r)
{
	uint32_t value = 0;
	int shift = 0, i;

	for (i = 0; i < 4; i++) {
		uint8_t b = get_u8(r);

		value |= (uint32_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return value;
		shift += 7;
	}
	r->bad = 1; /* a fifth byte is malformed */
	return 0;
}

static struct mqtt_bytes get_binary(struct reader *r)
{
	struct mqtt_bytes b = { NULL, 0 };
	uint16_t n = get_u16(r);

	if (r->bad || left(r) < n) {
		r->bad = 1;
		return b;
	}
	b.p = r->p + r->pos;
	b.len = n;
	r->pos += n;
	return b;
}

int mqtt_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		uint32_t cp;
		size_t n, k;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF are refused. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += n + 1;
	}
	return 1;
}

static struct mqtt_bytes get_string(struct reader *r)
{
	struct mqtt_bytes s = get_binary(r);

	if (!r->bad && !mqtt_utf8_valid(s.p, s.len))
		r->bad = 1;
	return s;
}

/* ---- framing ---- */

int mqtt_frame(const uint8_t *buf, size_t len, size_t max_packet, struct mqtt_frame *out)
{
	uint32_t remaining = 0;
	size_t i;
	int shift = 0;

	if (len < 2)
		return 0;
	for (i = 1; i <= 4; i++) {
		if (i >= len)
			return 0;
		remaining |= (uint32_t)(buf[i] & 0x7f) << shift;
		if ((buf[i] & 0x80) == 0)
			break;
		shift += 7;
	}
	if (i > 4)
		return -MQTT_RC_MALFORMED;
	if ((uint64_t)remaining + i + 1 > max_packet)
		return -MQTT_RC_PACKET_TOO_LARGE;
	if (len < remaining + i + 1)
		return 0;
	out->type = (enum mqtt_type)(buf[0] >> 4);
	out->flags = buf[0] & 0x0f;
	out->body = buf + i + 1;
	out->body_len = remaining;
	out->total_len = remaining + i + 1;
	if (out->type < MQTT_CONNECT || out->type > MQTT_AUTH)
		return -MQTT_RC_MALFORMED;
	return 1;
}

/* ---- properties ---- */

enum prop_ctx { CTX_CONNECT, CTX_WILL, CTX_PUBLISH, CTX_ACK, CTX_SUBSCRIBE, CTX_UNSUBSCRIBE, CTX_DISCONNECT };

#define C(x) (1u << (x))

static const struct {
	uint8_t id;
	char type; /* b byte, 2 u16, 4 u32, v varint, s string, d binary, p string pair */
	unsigned contexts;
} prop_table[] = {
	{ 0x01, 'b', C(CTX_PUBLISH) | C(CTX_WILL) },
	{ 0x02, '4', C(CTX_PUBLISH) | C(CTX_WILL) },
	{ 0x03, 's', C(CTX_PUBLISH) | C(CTX_WILL) },
	{ 0x08, 's', C(CTX_PUBLISH) | C(CTX_WILL) },
	{ 0x09, 'd', C(CTX_PUBLISH) | C(CTX_WILL) },
	{ 0x0B, 'v', C(CTX_PUBLISH) | C(CTX_SUBSCRIBE) },
	{ 0x11, '4', C(CTX_CONNECT) | C(CTX_DISCONNECT) },
	{ 0x15, 's', C(CTX_CONNECT) },
	{ 0x16, 'd', C(CTX_CONNECT) },
	{ 0x17, 'b', C(CTX_CONNECT) },
	{ 0x18, '4', C(CTX_WILL) },
	{ 0x19, 'b', C(CTX_CONNECT) },
	{ 0x1C, 's', C(CTX_DISCONNECT) },
	{ 0x1F, 's', C(CTX_ACK) | C(CTX_DISCONNECT) },
	{ 0x21, '2', C(CTX_CONNECT) },
	{ 0x22, '2', C(CTX_CONNECT) },
	{ 0x23, '2', C(CTX_PUBLISH) },
	{ 0x26, 'p', C(CTX_CONNECT) | C(CTX_WILL) | C(CTX_PUBLISH) | C(CTX_ACK) | C(CTX_SUBSCRIBE) |
	             C(CTX_UNSUBSCRIBE) | C(CTX_DISCONNECT) },
	{ 0x27, '4', C(CTX_CONNECT) },
};

static int prop_index(uint8_t id)
{
	size_t i;

	for (i = 0; i < sizeof(prop_table) / sizeof(prop_table[0]); i++)
		if (prop_table[i].id == id)
			return (int)i;
	return -1;
}

/* Reads a property block into p. Returns 0 or a negative reason code. */
static int read_props(struct reader *r, enum prop_ctx ctx, struct mqtt_props *p)
{
	uint64_t seen = 0;
	uint32_t len = get_varint(r);
	size_t end;

	memset(p, 0, sizeof(*p));
	if (r->bad || len > left(r))
		return -MQTT_RC_MALFORMED;
	end = r->pos + len;
	p->raw.p = r->p + r->pos;
	p->raw.len = len;
	while (r->pos < end) {
		uint32_t id = get_varint(r), v = 0;
		struct mqtt_bytes s = { NULL, 0 };
		int idx;

		if (r->bad)
			return -MQTT_RC_MALFORMED;
		idx = id < 0x80 ? prop_index((uint8_t)id) : -1;
		if (idx < 0 || !(prop_table[idx].contexts & C(ctx)))
			return -MQTT_RC_PROTOCOL_ERROR;
		if (id != 0x26 && (seen & ((uint64_t)1 << idx)))
			return -MQTT_RC_PROTOCOL_ERROR; /* only user properties may repeat */
		seen |= (uint64_t)1 << idx;
		switch (prop_table[idx].type) {
		case 'b': v = get_u8(r); break;
		case '2': v = get_u16(r); break;
		case '4': v = get_u32(r); break;
		case 'v': v = get_varint(r); break;
		case 's': s = get_string(r); break;
		case 'd': s = get_binary(r); break;
		case 'p':
			get_string(r);
			get_string(r);
			if (++p->user_properties > MQTT_USER_PROPERTIES_MAX)
				return -MQTT_RC_IMPLEMENTATION_SPECIFIC;
			break;
		}
		if (r->bad || r->pos > end)
			return -MQTT_RC_MALFORMED;
		switch (id) {
		case 0x01:
			if (v > 1)
				return -MQTT_RC_PROTOCOL_ERROR;
			p->payload_format = (uint8_t)v;
			p->has_payload_format = 1;
			break;
		case 0x02: p->message_expiry = v; p->has_message_expiry = 1; break;
		case 0x0B:
			if (v == 0)
				return -MQTT_RC_PROTOCOL_ERROR;
			p->subscription_id = v;
			p->has_subscription_id = 1;
			break;
		case 0x11: p->session_expiry = v; p->has_session_expiry = 1; break;
		case 0x15: p->has_auth_method = 1; break;
		case 0x17:
			if (v > 1)
				return -MQTT_RC_PROTOCOL_ERROR;
			p->request_problem_info = (uint8_t)v;
			p->has_request_problem_info = 1;
			break;
		case 0x18: p->will_delay = v; break;
		case 0x19:
			if (v > 1)
				return -MQTT_RC_PROTOCOL_ERROR;
			p->request_response_info = (uint8_t)v;
			break;
		case 0x1F: p->reason_string = s; break;
		case 0x21:
			if (v == 0)
				return -MQTT_RC_PROTOCOL_ERROR;
			p->receive_max = (uint16_t)v;
			p->has_receive_max = 1;
			break;
		case 0x22: p->topic_alias_max = (uint16_t)v; break;
		case 0x23:
			if (v == 0)
				return -MQTT_RC_TOPIC_ALIAS_INVALID;
			p->topic_alias = (uint16_t)v;
			p->has_topic_alias = 1;
			break;
		case 0x27:
			if (v == 0)
				return -MQTT_RC_PROTOCOL_ERROR;
			p->max_packet = v;
			p->has_max_packet = 1;
			break;
		default:
			break;
		}
	}
	return r->pos == end ? 0 : -MQTT_RC_MALFORMED;
}

static int prop_size(const uint8_t *p, size_t left_bytes, char type, size_t *size)
{
	size_t n = 0, a, b;

	switch (type) {
	case 'b': n = 1; break;
	case '2': n = 2; break;
	case '4': n = 4; break;
	case 'v':
		while (n < left_bytes && n < 4 && (p[n] & 0x80))
			n++;
		n++;
		break;
	case 's':
	case 'd':
		if (left_bytes < 2)
			return -1;
		n = 2 + ((size_t)p[0] << 8 | p[1]);
		break;
	case 'p':
		if (left_bytes < 2)
			return -1;
		a = 2 + ((size_t)p[0] << 8 | p[1]);
		if (left_bytes < a + 2)
			return -1;
		b = 2 + ((size_t)p[a] << 8 | p[a + 1]);
		n = a + b;
		break;
	default:
		return -1;
	}
	if (n > left_bytes)
		return -1;
	*size = n;
	return 0;
}

int mqtt_props_copy(const struct mqtt_bytes *raw, const uint8_t *drop, size_t ndrop, uint8_t *out,
                    size_t cap, size_t *out_len)
{
	size_t pos = 0, len = 0;

	while (raw != NULL && pos < raw->len) {
		uint8_t id = raw->p[pos];
		size_t size, i;
		int idx = id < 0x80 ? prop_index(id) : -1, keep = 1;

		if (idx < 0 || prop_size(raw->p + pos + 1, raw->len - pos - 1, prop_table[idx].type, &size) != 0)
			return CC_ERR_INVALID;
		for (i = 0; i < ndrop; i++)
			if (drop[i] == id)
				keep = 0;
		if (keep) {
			if (len + 1 + size > cap)
				return CC_ERR_LIMIT;
			memcpy(out + len, raw->p + pos, 1 + size);
			len += 1 + size;
		}
		pos += 1 + size;
	}
	*out_len = len;
	return 0;
}

/* ---- decoders ---- */

int mqtt_decode_connect(const struct mqtt_frame *f, struct mqtt_connect *c)
{
	static const uint8_t mqtt_name[] = { 0, 4, 'M', 'Q', 'T', 'T' };
	struct reader r;
	uint8_t flags;
	int rc;

	memset(c, 0, sizeof(*c));
	if (f->flags != 0)
		return -MQTT_RC_MALFORMED;
	reader_init(&r, f->body, f->body_len);
	if (left(&r) < sizeof(mqtt_name) + 1 || memcmp(r.p, mqtt_name, sizeof(mqtt_name)) != 0)
		return -MQTT_RC_PROTOCOL_ERROR; /* also refuses MQIsdp (3.1) */
	r.pos = sizeof(mqtt_name);
	c->version = get_u8(&r);
	if (c->version != MQTT_V311 && c->version != MQTT_V5)
		return -MQTT_RC_UNSUPPORTED_VERSION;
	flags = get_u8(&r);
	c->keepalive = get_u16(&r);
	if (r.bad || (flags & 0x01))
		return -MQTT_RC_MALFORMED; /* the reserved bit must be 0 */
	c->clean_start = (flags >> 1) & 1;
	c->will = (flags >> 2) & 1;
	c->will_qos = (flags >> 3) & 3;
	c->will_retain = (flags >> 5) & 1;
	c->has_password = (flags >> 6) & 1;
	c->has_username = (flags >> 7) & 1;
	if (c->will_qos == 3 || (!c->will && (c->will_qos || c->will_retain)))
		return -MQTT_RC_MALFORMED;
	if (c->version == MQTT_V311 && c->has_password && !c->has_username)
		return -MQTT_RC_MALFORMED;
	if (c->version == MQTT_V5) {
		rc = read_props(&r, CTX_CONNECT, &c->props);
		if (rc != 0)
			return rc;
	}
	c->client_id = get_string(&r);
	if (c->will) {
		if (c->version == MQTT_V5) {
			rc = read_props(&r, CTX_WILL, &c->will_props);
			if (rc != 0)
				return rc;
		}
		c->will_topic = get_string(&r);
		c->will_payload = get_binary(&r);
	}
	if (c->has_username)
		c->username = get_string(&r);
	if (c->has_password)
		c->password = get_binary(&r);
	if (r.bad || left(&r) != 0)
		return -MQTT_RC_MALFORMED;
	return 0;
}

int mqtt_decode_publish(uint8_t version, const struct mqtt_frame *f, struct mqtt_publish *p)
{
	struct reader r;
	int rc;

	memset(p, 0, sizeof(*p));
	p->dup = (f->flags >> 3) & 1;
	p->qos = (f->flags >> 1) & 3;
	p->retain = f->flags & 1;
	if (p->qos == 3 || (p->qos == 0 && p->dup))
		return -MQTT_RC_MALFORMED;
	reader_init(&r, f->body, f->body_len);
	p->topic = get_string(&r);
	if (p->qos > 0) {
		p->packet_id = get_u16(&r);
		if (!r.bad && p->packet_id == 0)
			return -MQTT_RC_PROTOCOL_ERROR;
	}
	if (r.bad)
		return -MQTT_RC_MALFORMED;
	if (version == MQTT_V5) {
		rc = read_props(&r, CTX_PUBLISH, &p->props);
		if (rc != 0)
			return rc;
	}
	if (p->topic.len == 0 && !p->props.has_topic_alias)
		return -MQTT_RC_TOPIC_NAME_INVALID;
	if (memchr(p->topic.p, '+', p->topic.len) || memchr(p->topic.p, '#', p->topic.len))
		return -MQTT_RC_TOPIC_NAME_INVALID;
	p->payload.p = r.p + r.pos;
	p->payload.len = left(&r);
	return 0;
}

int mqtt_decode_ack(uint8_t version, const struct mqtt_frame *f, struct mqtt_ack *a)
{
	struct reader r;
	uint8_t want_flags = f->type == MQTT_PUBREL ? 2 : 0;

	memset(a, 0, sizeof(*a));
	if (f->flags != want_flags)
		return -MQTT_RC_MALFORMED;
	reader_init(&r, f->body, f->body_len);
	a->packet_id = get_u16(&r);
	if (r.bad)
		return -MQTT_RC_MALFORMED;
	if (a->packet_id == 0)
		return -MQTT_RC_PROTOCOL_ERROR;
	if (version == MQTT_V311)
		return left(&r) == 0 ? 0 : -MQTT_RC_MALFORMED;
	if (left(&r) == 0)
		return 0; /* reason 0, no properties */
	a->reason = get_u8(&r);
	if (left(&r) == 0)
		return 0;
	if (read_props(&r, CTX_ACK, &a->props) != 0 || left(&r) != 0)
		return -MQTT_RC_MALFORMED;
	return 0;
}

static int decode_sub(uint8_t version, const struct mqtt_frame *f, struct mqtt_subscribe *s, int unsub)
{
	struct reader r;
	int rc;

	memset(s, 0, sizeof(*s));
	if (f->flags != 2)
		return -MQTT_RC_MALFORMED;
	reader_init(&r, f->body, f->body_len);
	s->packet_id = get_u16(&r);
	if (r.bad)
		return -MQTT_RC_MALFORMED;
	if (s->packet_id == 0)
		return -MQTT_RC_PROTOCOL_ERROR;
	if (version == MQTT_V5) {
		rc = read_props(&r, unsub ? CTX_UNSUBSCRIBE : CTX_SUBSCRIBE, &s->props);
		if (rc != 0)
			return rc;
	}
	while (left(&r) > 0) {
		if (s->count == MQTT_SUBSCRIBE_TOPICS_MAX)
			return -MQTT_RC_QUOTA_EXCEEDED;
		s->topics[s->count].filter = get_string(&r);
		if (!unsub) {
			uint8_t o = get_u8(&r);
			/* Reserved bits, QoS 3, and retain handling 3 are malformed. */
			if ((o & 3) == 3 || (version == MQTT_V311 && (o & 0xfc)) ||
			    (version == MQTT_V5 && ((o & 0xc0) || ((o >> 4) & 3) == 3)))
				return -MQTT_RC_MALFORMED;
			s->topics[s->count].options = o;
		}
		if (r.bad)
			return -MQTT_RC_MALFORMED;
		if (s->topics[s->count].filter.len == 0)
			return -MQTT_RC_TOPIC_FILTER_INVALID;
		s->count++;
	}
	return s->count > 0 ? 0 : -MQTT_RC_PROTOCOL_ERROR;
}

int mqtt_decode_subscribe(uint8_t version, const struct mqtt_frame *f, struct mqtt_subscribe *out)
{
	return decode_sub(version, f, out, 0);
}

int mqtt_decode_unsubscribe(uint8_t version, const struct mqtt_frame *f, struct mqtt_subscribe *out)
{
	return decode_sub(version, f, out, 1);
}

int mqtt_decode_disconnect(uint8_t version, const struct mqtt_frame *f, struct mqtt_disconnect *d)
{
	struct reader r;

	memset(d, 0, sizeof(*d));
	if (f->flags != 0)
		return -MQTT_RC_MALFORMED;
	if (version == MQTT_V311 || f->body_len == 0)
		return f->body_len == 0 ? 0 : -MQTT_RC_MALFORMED;
	reader_init(&r, f->body, f->body_len);
	d->reason = get_u8(&r);
	if (left(&r) > 0 && read_props(&r, CTX_DISCONNECT, &d->props) != 0)
		return -MQTT_RC_MALFORMED;
	return r.bad || left(&r) ? -MQTT_RC_MALFORMED : 0;
}

/* ---- encoders ---- */

static size_t varint_len(size_t v)
{
	return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

static void put_varint(struct mqtt_out *o, size_t v)
{
	do {
		uint8_t b = v & 0x7f;

		v >>= 7;
		o->p[o->len++] = (uint8_t)(v ? b | 0x80 : b);
	} while (v);
}

static void put_u8(struct mqtt_out *o, uint8_t v) { o->p[o->len++] = v; }

static void put_u16(struct mqtt_out *o, uint16_t v)
{
	o->p[o->len++] = (uint8_t)(v >> 8);
	o->p[o->len++] = (uint8_t)v;
}

static void put_u32(struct mqtt_out *o, uint32_t v)
{
	put_u16(o, (uint16_t)(v >> 16));
	put_u16(o, (uint16_t)v);
}

static void put_bytes(struct mqtt_out *o, const void *p, size_t n)
{
	if (n > 0)
		memcpy(o->p + o->len, p, n);
	o->len += n;
}

static void put_string(struct mqtt_out *o, const char *s, size_t n)
{
	put_u16(o, (uint16_t)n);
	put_bytes(o, s, n);
}

/* Reserves room for a whole packet of body_len bytes, or refuses. */
static int begin_packet(struct mqtt_out *o, uint8_t first, size_t body_len)
{
	if (body_len > MQTT_MAX_REMAINING || o->len + 1 + varint_len(body_len) + body_len > o->cap)
		return CC_ERR_LIMIT;
	put_u8(o, first);
	put_varint(o, body_len);
	return 0;
}

static size_t reason_string_len(const char *rs)
{
	size_t n = rs ? strlen(rs) : 0;

	return n > 256 ? 256 : n;
}

int mqtt_encode_connack(struct mqtt_out *o, uint8_t version, int session_present, uint8_t reason,
                        const struct mqtt_connack_opts *opts)
{
	size_t props = 0, rs = 0, aid = 0;
	int rc;

	if (version != MQTT_V5) {
		uint8_t code;

		switch (reason) {
		case MQTT_RC_SUCCESS: code = 0; break;
		case MQTT_RC_UNSUPPORTED_VERSION: code = 1; break;
		case MQTT_RC_CLIENT_ID_NOT_VALID: code = 2; break;
		case MQTT_RC_SERVER_UNAVAILABLE:
		case MQTT_RC_SERVER_BUSY: code = 3; break;
		case MQTT_RC_BAD_AUTH: code = 4; break;
		default: code = 5; break; /* not authorized */
		}
		rc = begin_packet(o, MQTT_CONNACK << 4, 2);
		if (rc == 0) {
			put_u8(o, session_present && code == 0 ? 1 : 0);
			put_u8(o, code);
		}
		return rc;
	}
	if (opts != NULL) {
		rs = reason_string_len(opts->reason_string);
		/* receive max, max packet, retain, wildcard, subscription ids, shared subs */
		props += 3 + 5 + 2 + 2 + 2 + 2;
		if (opts->keepalive_override >= 0)
			props += 3;
		if (opts->has_session_expiry)
			props += 5;
		if (rs > 0)
			props += 3 + rs;
		aid = opts->assigned_client_id ? strlen(opts->assigned_client_id) : 0;
		if (aid > 0)
			props += 3 + aid;
		if (opts->topic_alias_max > 0)
			props += 3;
	}
	rc = begin_packet(o, MQTT_CONNACK << 4, 2 + varint_len(props) + props);
	if (rc != 0)
		return rc;
	put_u8(o, session_present && reason == 0 ? 1 : 0);
	put_u8(o, reason);
	put_varint(o, props);
	if (opts != NULL) {
		put_u8(o, 0x21);
		put_u16(o, opts->receive_max);
		put_u8(o, 0x27);
		put_u32(o, opts->max_packet);
		put_u8(o, 0x25);
		put_u8(o, (uint8_t)(opts->retain_available ? 1 : 0));
		put_u8(o, 0x28);
		put_u8(o, (uint8_t)(opts->wildcard_available ? 1 : 0));
		put_u8(o, 0x29);
		put_u8(o, (uint8_t)(opts->subscription_ids_available ? 1 : 0));
		put_u8(o, 0x2A);
		put_u8(o, (uint8_t)(opts->shared_available ? 1 : 0));
		if (opts->keepalive_override >= 0) {
			put_u8(o, 0x13);
			put_u16(o, (uint16_t)opts->keepalive_override);
		}
		if (opts->has_session_expiry) {
			put_u8(o, 0x11);
			put_u32(o, opts->session_expiry);
		}
		if (rs > 0) {
			put_u8(o, 0x1F);
			put_string(o, opts->reason_string, rs);
		}
		if (aid > 0) {
			put_u8(o, 0x12);
			put_string(o, opts->assigned_client_id, aid);
		}
		if (opts->topic_alias_max > 0) {
			put_u8(o, 0x22);
			put_u16(o, opts->topic_alias_max);
		}
	}
	return 0;
}

size_t mqtt_publish_size(uint8_t version, uint8_t qos, size_t topic_len, size_t props_len, size_t payload_len)
{
	size_t body = 2 + topic_len + (qos ? 2 : 0) + payload_len;

	if (version == MQTT_V5)
		body += varint_len(props_len) + props_len;
	return 1 + varint_len(body) + body;
}

int mqtt_encode_publish(struct mqtt_out *o, uint8_t version, uint8_t qos, int retain, int dup,
                        const char *topic, size_t topic_len, uint16_t packet_id,
                        const uint8_t *props, size_t props_len,
                        const uint8_t *payload, size_t payload_len)
{
	size_t body = 2 + topic_len + (qos ? 2 : 0) + payload_len;
	uint8_t first = (uint8_t)(MQTT_PUBLISH << 4 | (dup ? 8 : 0) | (qos & 3) << 1 | (retain ? 1 : 0));
	int rc;

	if (version != MQTT_V5)
		props_len = 0;
	if (topic_len > 65535 || props_len > MQTT_MAX_REMAINING)
		return CC_ERR_LIMIT;
	if (version == MQTT_V5)
		body += varint_len(props_len) + props_len;
	if (body > MQTT_MAX_REMAINING)
		return CC_ERR_LIMIT;
	rc = begin_packet(o, first, body);
	if (rc != 0)
		return rc;
	put_string(o, topic, topic_len);
	if (qos)
		put_u16(o, packet_id);
	if (version == MQTT_V5) {
		put_varint(o, props_len);
		if (props_len > 0)
			put_bytes(o, props, props_len);
	}
	put_bytes(o, payload, payload_len);
	return 0;
}

int mqtt_encode_ack(struct mqtt_out *o, uint8_t version, enum mqtt_type type, uint16_t packet_id,
                    uint8_t reason, const char *reason_string)
{
	uint8_t first = (uint8_t)(type << 4 | (type == MQTT_PUBREL ? 2 : 0));
	size_t rs = version == MQTT_V5 ? reason_string_len(reason_string) : 0;
	size_t props = rs ? 3 + rs : 0;
	int rc;

	if (version != MQTT_V5 || (reason == 0 && props == 0))
		return begin_packet(o, first, 2) == 0 ? (put_u16(o, packet_id), 0) : CC_ERR_LIMIT;
	rc = begin_packet(o, first, 3 + varint_len(props) + props);
	if (rc != 0)
		return rc;
	put_u16(o, packet_id);
	put_u8(o, reason);
	put_varint(o, props);
	if (rs > 0) {
		put_u8(o, 0x1F);
		put_string(o, reason_string, rs);
	}
	return 0;
}

int mqtt_encode_suback(struct mqtt_out *o, uint8_t version, enum mqtt_type type, uint16_t packet_id,
                       const uint8_t *reasons, size_t n)
{
	int v5 = version == MQTT_V5;
	int rc;

	/* A 3.1.1 UNSUBACK carries no reason codes. */
	if (!v5 && type == MQTT_UNSUBACK)
		n = 0;
	rc = begin_packet(o, (uint8_t)(type << 4), 2 + (v5 ? 1 : 0) + n);
	if (rc != 0)
		return rc;
	put_u16(o, packet_id);
	if (v5)
		put_varint(o, 0);
	put_bytes(o, reasons, n);
	return 0;
}

int mqtt_encode_pingresp(struct mqtt_out *o)
{
	return begin_packet(o, MQTT_PINGRESP << 4, 0);
}

int mqtt_encode_disconnect(struct mqtt_out *o, uint8_t version, uint8_t reason, const char *reason_string)
{
	size_t rs = reason_string_len(reason_string);
	size_t props = rs ? 3 + rs : 0;
	int rc;

	if (version != MQTT_V5)
		return 0;
	rc = begin_packet(o, MQTT_DISCONNECT << 4, 1 + varint_len(props) + props);
	if (rc != 0)
		return rc;
	put_u8(o, reason);
	put_varint(o, props);
	if (rs > 0) {
		put_u8(o, 0x1F);
		put_string(o, reason_string, rs);
	}
	return 0;
}

const char *mqtt_rc_name(uint8_t rc)
{
	switch (rc) {
	case MQTT_RC_SUCCESS: return "success";
	case MQTT_RC_UNSPECIFIED: return "unspecified error";
	case MQTT_RC_MALFORMED: return "malformed packet";
	case MQTT_RC_PROTOCOL_ERROR: return "protocol error";
	case MQTT_RC_IMPLEMENTATION_SPECIFIC: return "implementation specific error";
	case MQTT_RC_UNSUPPORTED_VERSION: return "unsupported protocol version";
	case MQTT_RC_CLIENT_ID_NOT_VALID: return "client identifier not valid";
	case MQTT_RC_BAD_AUTH: return "bad user name or password";
	case MQTT_RC_NOT_AUTHORIZED: return "not authorized";
	case MQTT_RC_SERVER_UNAVAILABLE: return "server unavailable";
	case MQTT_RC_SERVER_BUSY: return "server busy";
	case MQTT_RC_SERVER_SHUTTING_DOWN: return "server shutting down";
	case MQTT_RC_KEEP_ALIVE_TIMEOUT: return "keep alive timeout";
	case MQTT_RC_SESSION_TAKEN_OVER: return "session taken over";
	case MQTT_RC_TOPIC_FILTER_INVALID: return "topic filter invalid";
	case MQTT_RC_TOPIC_NAME_INVALID: return "topic name invalid";
	case MQTT_RC_PACKET_ID_IN_USE: return "packet identifier in use";
	case MQTT_RC_RECEIVE_MAX_EXCEEDED: return "receive maximum exceeded";
	case MQTT_RC_TOPIC_ALIAS_INVALID: return "topic alias invalid";
	case MQTT_RC_PACKET_TOO_LARGE: return "packet too large";
	case MQTT_RC_QUOTA_EXCEEDED: return "quota exceeded";
	case MQTT_RC_ADMIN_ACTION: return "administrative action";
	case MQTT_RC_PAYLOAD_FORMAT_INVALID: return "payload format invalid";
	case MQTT_RC_QOS_NOT_SUPPORTED: return "QoS not supported";
	default: return "error";
	}
}
