#include "mqtt/broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/strmap.h"
#include "mqtt/acl.h"

/* An application message, shared by every queue and the retained store
 * that holds it. props: as published, without the properties the broker
 * sets itself per delivery (expiry, alias, subscription ids). */
struct bmsg {
	int refs;
	char *topic;
	size_t topic_len;
	uint8_t *props;
	size_t props_len;
	uint8_t *payload;
	size_t len;
	uint8_t qos;
	int retain;
	int64_t expires_ms; /* 0: never */
	uint64_t origin;    /* the publishing session's serial (No Local) */
	size_t bytes;
};

enum delivery_state {
	D_QUEUED = 0, /* not sent on this connection */
	D_SENT,       /* PUBLISH sent, awaiting PUBACK / PUBREC */
	D_RELEASED,   /* PUBREL sent, awaiting PUBCOMP */
	D_RESEND,     /* PUBLISH sent on an earlier connection: again, with DUP */
	D_RESEND_REL, /* PUBREL sent on an earlier connection: again */
};

struct delivery {
	struct delivery *next;
	struct bmsg *m;
	uint8_t qos;
	int retain;
	uint8_t state;
	uint16_t packet_id;
	size_t nsub_ids;
	uint32_t sub_ids[CC_BROKER_SUB_IDS_MAX];
};

struct bsub {
	char *filter;  /* as subscribed ("$share/{name}/{filter}" for a shared one) */
	size_t len;
	size_t match;  /* where the filter that matches topics starts (0 unless shared) */
	uint64_t shared_got; /* shared: messages this member of its group was given */
	uint8_t options; /* QoS bits 0-1, No Local 2, Retain As Published 3, Retain Handling 4-5 */
	uint32_t sub_id;
};

struct broker_session {
	char *id;
	uint64_t serial;
	void *conn;        /* NULL while disconnected */
	uint8_t version;
	struct bsub subs[CC_BROKER_SUBS_MAX];
	size_t nsubs;
	struct delivery *head, *tail;
	size_t queued;
	uint32_t expiry_s; /* UINT32_MAX: never */
	int64_t expires_at;
	struct bmsg *will;
	uint32_t will_delay;
	uint32_t will_expiry; int will_has_expiry; /* counted from its publication */
	int64_t will_at;   /* 0: no will pending */
};

struct broker {
	struct broker_ops ops;
	struct strmap *sessions; /* client id -> struct broker_session * */
	struct strmap *retained; /* topic -> struct bmsg * */
	uint64_t next_serial;
	size_t bytes;
	size_t shared;      /* shared subscriptions in all sessions */
};

#define OPT_QOS(o) ((o) & 3)
#define OPT_NO_LOCAL(o) (((o) >> 2) & 1)
#define OPT_RAP(o) (((o) >> 3) & 1)
#define OPT_RH(o) (((o) >> 4) & 3)

static int64_t now(const struct broker *b)
{
	return b->ops.now_ms(b->ops.arg);
}

/* ---- messages ---- */

static void msg_unref(struct broker *b, struct bmsg *m)
{
	if (m == NULL || --m->refs > 0)
		return;
	b->bytes -= m->bytes;
	free(m->topic);
	free(m->props);
	free(m->payload);
	free(m);
}

/* A message from a PUBLISH or a will: the properties to forward are those
 * given, less what the broker sets per delivery. */
static int msg_new(struct broker *b, const struct mqtt_bytes *topic, const struct mqtt_props *props,
                   const struct mqtt_bytes *payload, uint8_t qos, int retain, uint64_t origin,
                   struct bmsg **out)
{
	static const uint8_t drop[] = { 0x02, 0x0B, 0x18, 0x23 };
	size_t bytes = sizeof(struct bmsg) + topic->len + 1 + props->raw.len + payload->len;
	struct bmsg *m;

	if (b->bytes + bytes > CC_BROKER_BYTES_MAX)
		return CC_ERR_LIMIT;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return CC_ERR_NOMEM;
	m->refs = 1;
	m->topic = malloc(topic->len + 1);
	m->props = malloc(props->raw.len ? props->raw.len : 1);
	m->payload = malloc(payload->len ? payload->len : 1);
	if (m->topic == NULL || m->props == NULL || m->payload == NULL ||
	    mqtt_props_copy(&props->raw, drop, sizeof(drop), m->props, props->raw.len, &m->props_len) != 0) {
		free(m->topic);
		free(m->props);
		free(m->payload);
		free(m);
		return CC_ERR_NOMEM;
	}
	memcpy(m->topic, topic->p, topic->len);
	m->topic[topic->len] = '\0';
	m->topic_len = topic->len;
	if (payload->len > 0)
		memcpy(m->payload, payload->p, payload->len);
	m->len = payload->len;
	m->qos = qos;
	m->retain = retain;
	m->origin = origin;
	if (props->has_message_expiry)
		m->expires_ms = now(b) + (int64_t)props->message_expiry * 1000;
	m->bytes = bytes;
	b->bytes += bytes;
	*out = m;
	return CC_OK;
}

static int msg_expired(const struct broker *b, const struct bmsg *m)
{
	return m->expires_ms != 0 && m->expires_ms <= now(b);
}

/* ---- queues ---- */

static void delivery_free(struct broker *b, struct delivery *d)
{
	b->bytes -= sizeof(*d);
	msg_unref(b, d->m);
	free(d);
}

static void queue_remove(struct broker *b, struct broker_session *s, struct delivery *prev, struct delivery *d)
{
	if (prev == NULL)
		s->head = d->next;
	else
		prev->next = d->next;
	if (s->tail == d)
		s->tail = prev;
	s->queued--;
	delivery_free(b, d);
}

/* Queues a delivery; its bookkeeping counts against the byte bound too. */
static int enqueue(struct broker *b, struct broker_session *s, struct bmsg *m, uint8_t qos, int retain,
                   const uint32_t *ids, size_t nids)
{
	struct delivery *d;

	if (s->queued >= CC_BROKER_QUEUE_MAX || b->bytes + sizeof(*d) > CC_BROKER_BYTES_MAX)
		return CC_ERR_LIMIT; /* a client that does not read loses what does not fit */
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return CC_ERR_NOMEM;
	b->bytes += sizeof(*d);
	d->m = m;
	m->refs++;
	d->qos = qos;
	d->retain = retain;
	d->nsub_ids = nids;
	if (nids > 0)
		memcpy(d->sub_ids, ids, nids * sizeof(*ids));
	if (s->tail == NULL)
		s->head = d;
	else
		s->tail->next = d;
	s->tail = d;
	s->queued++;
	return CC_OK;
}

static size_t put_varint(uint8_t *p, uint32_t v)
{
	size_t n = 0;

	do {
		uint8_t byte = v & 0x7f;

		v >>= 7;
		p[n++] = (uint8_t)(v ? byte | 0x80 : byte);
	} while (v);
	return n;
}

/* Sends one delivery: 0 sent, or the error of ops.send. */
static int deliver(struct broker *b, struct broker_session *s, struct delivery *d)
{
	struct session_message m;
	struct bmsg *msg = d->m;
	uint8_t *props;
	size_t n = 0, i;
	uint16_t id = 0;
	int rc;

	props = malloc(msg->props_len + 5 + 5 * d->nsub_ids);
	if (props == NULL)
		return CC_ERR_NOMEM;
	if (msg->expires_ms != 0) {
		int64_t left = (msg->expires_ms - now(b) + 999) / 1000;
		uint32_t v = left < 1 ? 1 : (uint32_t)left;

		props[n++] = 0x02;
		props[n++] = (uint8_t)(v >> 24);
		props[n++] = (uint8_t)(v >> 16);
		props[n++] = (uint8_t)(v >> 8);
		props[n++] = (uint8_t)v;
	}
	if (msg->props_len > 0)
		memcpy(props + n, msg->props, msg->props_len);
	n += msg->props_len;
	for (i = 0; i < d->nsub_ids; i++) {
		props[n++] = 0x0B;
		n += put_varint(props + n, d->sub_ids[i]);
	}
	memset(&m, 0, sizeof(m));
	m.topic = msg->topic;
	m.topic_len = msg->topic_len;
	m.props = props;
	m.props_len = n;
	m.payload = msg->payload;
	m.len = msg->len;
	m.qos = d->qos;
	m.retain = d->retain;
	m.dup = d->state == D_RESEND;
	m.packet_id = d->state == D_RESEND ? d->packet_id : 0;
	rc = b->ops.send(s->conn, &m, &id);
	free(props);
	if (rc == CC_OK && d->qos > 0)
		d->packet_id = id;
	return rc;
}

void broker_flush(struct broker *b, struct broker_session *s)
{
	struct delivery *d, *prev = NULL, *next;

	if (s == NULL || s->conn == NULL)
		return;
	for (d = s->head; d != NULL; d = next) {
		int rc;

		next = d->next;
		if (d->state == D_SENT || d->state == D_RELEASED) {
			prev = d;
			continue;
		}
		if (d->state == D_RESEND_REL) {
			rc = b->ops.send_pubrel(s->conn, d->packet_id);
			if (rc != CC_OK)
				return;
			d->state = D_RELEASED;
			prev = d;
			continue;
		}
		if (d->state == D_QUEUED && msg_expired(b, d->m)) {
			queue_remove(b, s, prev, d);
			continue;
		}
		rc = deliver(b, s, d);
		if (rc == CC_ERR_INVALID || (rc == CC_OK && d->qos == 0)) {
			queue_remove(b, s, prev, d); /* too large for this client, or QoS 0: done */
			continue;
		}
		if (rc != CC_OK)
			return; /* the window is full: the rest, in order, after an acknowledgement */
		d->state = D_SENT;
		prev = d;
	}
}

static struct delivery *find_delivery(struct broker_session *s, uint16_t id, struct delivery **prev_out)
{
	struct delivery *d, *prev = NULL;

	for (d = s->head; d != NULL; prev = d, d = d->next) {
		if ((d->state == D_SENT || d->state == D_RELEASED) && d->qos > 0 && d->packet_id == id) {
			*prev_out = prev;
			return d;
		}
	}
	return NULL;
}

void broker_acked(struct broker *b, struct broker_session *s, uint16_t packet_id)
{
	struct delivery *prev, *d;

	if (s == NULL)
		return;
	d = find_delivery(s, packet_id, &prev);
	if (d != NULL)
		queue_remove(b, s, prev, d);
	broker_flush(b, s);
}

void broker_released(struct broker *b, struct broker_session *s, uint16_t packet_id)
{
	struct delivery *prev, *d;

	(void)b;
	if (s == NULL)
		return;
	d = find_delivery(s, packet_id, &prev);
	if (d != NULL && d->state == D_SENT)
		d->state = D_RELEASED;
}

/* ---- routing ---- */

struct route {
	struct broker *b;
	struct bmsg *m;
	int delivered;
};

static int route_one(void *arg, const char *key, void *value)
{
	struct route *r = arg;
	struct broker_session *s = value;
	uint32_t ids[CC_BROKER_SUB_IDS_MAX];
	size_t nids = 0, i;
	int qos = -1, retain = 0;

	(void)key;
	for (i = 0; i < s->nsubs; i++) {
		const struct bsub *sub = &s->subs[i];
		uint8_t q;

		if (sub->match != 0) /* shared: one session of the group gets it (route_shared) */
			continue;
		if (!acl_topic_matches((const uint8_t *)sub->filter, sub->len, (const uint8_t *)r->m->topic,
		                       r->m->topic_len))
			continue;
		if (OPT_NO_LOCAL(sub->options) && r->m->origin == s->serial)
			continue;
		q = OPT_QOS(sub->options) < r->m->qos ? OPT_QOS(sub->options) : r->m->qos;
		if ((int)q > qos)
			qos = q;
		if (OPT_RAP(sub->options) && r->m->retain)
			retain = 1;
		if (sub->sub_id != 0 && nids < CC_BROKER_SUB_IDS_MAX)
			ids[nids++] = sub->sub_id;
	}
	if (qos < 0)
		return 0;
	/* A disconnected session keeps QoS 1/2 messages only. */
	if (s->conn == NULL && qos == 0)
		return 0;
	if (enqueue(r->b, s, r->m, (uint8_t)qos, retain, ids, nids) == CC_OK) {
		r->delivered++;
		broker_flush(r->b, s);
	}
	return 0;
}

/* Shared subscriptions (MQTT 5 4.8.2): each group whose filter matches
 * gets the message once, in the member that has been given the fewest so
 * far (connected members first): they take turns. */
struct candidate {
	struct broker_session *s;
	struct bsub *sub;
	int taken;
};

struct shared_route {
	struct bmsg *m;
	struct candidate *c;
	size_t n, cap;
};

static int collect_shared(void *arg, const char *key, void *value)
{
	struct shared_route *r = arg;
	struct broker_session *s = value;
	size_t i;

	(void)key;
	for (i = 0; i < s->nsubs && r->n < r->cap; i++) {
		struct bsub *sub = &s->subs[i];

		if (sub->match != 0 &&
		    acl_topic_matches((const uint8_t *)sub->filter + sub->match, sub->len - sub->match,
		                      (const uint8_t *)r->m->topic, r->m->topic_len)) {
			r->c[r->n].s = s;
			r->c[r->n].sub = sub;
			r->c[r->n].taken = 0;
			r->n++;
		}
	}
	return r->n == r->cap;
}

static int same_group(const struct bsub *a, const struct bsub *b)
{
	return a->len == b->len && memcmp(a->filter, b->filter, a->len) == 0;
}

static void route_shared(struct broker *b, struct bmsg *m)
{
	struct shared_route r = { m, NULL, 0, b->shared };
	size_t i, j;

	r.c = calloc(r.cap, sizeof(*r.c));
	if (r.c == NULL)
		return;
	strmap_foreach(b->sessions, collect_shared, &r);
	for (i = 0; i < r.n; i++) {
		struct candidate *chosen = NULL;

		if (r.c[i].taken)
			continue;
		for (j = i; j < r.n; j++) {
			struct candidate *k = &r.c[j];

			if (k->taken || !same_group(r.c[i].sub, k->sub))
				continue;
			k->taken = 1;
			if (chosen == NULL || (k->s->conn != NULL && chosen->s->conn == NULL) ||
			    ((k->s->conn != NULL) == (chosen->s->conn != NULL) && k->sub->shared_got < chosen->sub->shared_got))
				chosen = k;
		}
		if (chosen != NULL) {
			struct bsub *sub = chosen->sub;

			sub->shared_got++;
			uint8_t qos = OPT_QOS(sub->options) < m->qos ? OPT_QOS(sub->options) : m->qos;

			if ((chosen->s->conn != NULL || qos > 0) &&
			    enqueue(b, chosen->s, m, qos, OPT_RAP(sub->options) && m->retain, &sub->sub_id,
			            sub->sub_id ? 1 : 0) == CC_OK)
				broker_flush(b, chosen->s);
		}
	}
	free(r.c);
}

static void route(struct broker *b, struct bmsg *m)
{
	struct route r = { b, m, 0 };

	strmap_foreach(b->sessions, route_one, &r);
	if (b->shared > 0)
		route_shared(b, m);
}

static void retain_store(struct broker *b, struct bmsg *m)
{
	struct bmsg *old = strmap_get(b->retained, m->topic);

	if (m->len == 0) {
		/* An empty retained message clears the topic; it is not kept. */
		if (old != NULL)
			msg_unref(b, strmap_remove(b->retained, m->topic));
		return;
	}
	if (old == NULL && strmap_count(b->retained) >= CC_BROKER_RETAINED_MAX)
		return;
	if (strmap_put(b->retained, m->topic, m) != CC_OK)
		return;
	m->refs++;
	msg_unref(b, old);
}

uint8_t broker_publish(struct broker *b, struct broker_session *from, const struct mqtt_publish *p)
{
	struct bmsg *m = NULL;

	if (msg_new(b, &p->topic, &p->props, &p->payload, p->qos, p->retain, from ? from->serial : 0, &m) != CC_OK)
		return MQTT_RC_QUOTA_EXCEEDED;
	if (p->retain)
		retain_store(b, m);
	route(b, m);
	msg_unref(b, m);
	return 0;
}

/* ---- subscriptions ---- */

struct retained_match {
	struct broker *b;
	struct broker_session *s;
	const struct bsub *sub;
};

static int send_retained(void *arg, const char *key, void *value)
{
	struct retained_match *r = arg;
	struct bmsg *m = value;
	uint8_t qos = OPT_QOS(r->sub->options) < m->qos ? OPT_QOS(r->sub->options) : m->qos;

	if (acl_topic_matches((const uint8_t *)r->sub->filter, r->sub->len, (const uint8_t *)key, m->topic_len) &&
	    !msg_expired(r->b, m))
		(void)enqueue(r->b, r->s, m, qos, 1, &r->sub->sub_id, r->sub->sub_id ? 1 : 0);
	return 0;
}

/* For "$share/{name}/{filter}", where {filter} starts; 0 if not shared;
 * -1 if malformed (empty name, a wildcard in it, or no filter). */
static long shared_start(const struct mqtt_bytes *f)
{
	static const char share[] = "$share/";
	size_t i, n = sizeof(share) - 1;

	if (f->len < n || memcmp(f->p, share, n) != 0)
		return 0;
	for (i = n; i < f->len && f->p[i] != '/'; i++)
		if (f->p[i] == '+' || f->p[i] == '#')
			return -1;
	if (i == n || i + 1 >= f->len)
		return -1;
	return (long)(i + 1);
}

uint8_t broker_subscribe(struct broker *b, struct broker_session *s, const struct mqtt_bytes *filter,
                         uint8_t options, uint32_t subscription_id)
{
	struct bsub *sub = NULL;
	int existed = 0;
	long match = shared_start(filter);
	size_t i;

	if (match < 0 || OPT_RH(options) == 3 || OPT_QOS(options) == 3 ||
	    !acl_filter_valid(filter->p + match, filter->len - (size_t)match))
		return MQTT_RC_TOPIC_FILTER_INVALID;
	for (i = 0; i < s->nsubs; i++) {
		if (s->subs[i].len == filter->len && memcmp(s->subs[i].filter, filter->p, filter->len) == 0) {
			sub = &s->subs[i];
			existed = 1;
			break;
		}
	}
	if (sub == NULL) {
		char *copy;

		if (s->nsubs == CC_BROKER_SUBS_MAX)
			return MQTT_RC_QUOTA_EXCEEDED;
		copy = malloc(filter->len + 1);
		if (copy == NULL)
			return MQTT_RC_UNSPECIFIED;
		memcpy(copy, filter->p, filter->len);
		copy[filter->len] = '\0';
		sub = &s->subs[s->nsubs++];
		sub->filter = copy;
		sub->len = filter->len;
		sub->match = (size_t)match;
		sub->shared_got = 0;
		if (match > 0)
			b->shared++;
	}
	sub->options = options;
	sub->sub_id = subscription_id;
	/* Retained messages are not sent for a shared subscription (4.8.2). */
	if (match == 0 && (OPT_RH(options) == 0 || (OPT_RH(options) == 1 && !existed))) {
		struct retained_match r = { b, s, sub };

		strmap_foreach(b->retained, send_retained, &r);
	}
	return OPT_QOS(options);
}

uint8_t broker_unsubscribe(struct broker *b, struct broker_session *s, const struct mqtt_bytes *filter)
{
	size_t i;

	for (i = 0; i < s->nsubs; i++) {
		if (s->subs[i].len == filter->len && memcmp(s->subs[i].filter, filter->p, filter->len) == 0) {
			if (s->subs[i].match != 0)
				b->shared--;
			free(s->subs[i].filter);
			s->subs[i] = s->subs[--s->nsubs];
			return 0;
		}
	}
	return MQTT_RC_NO_SUBSCRIPTION_EXISTED;
}

/* ---- sessions ---- */

const char *broker_session_id(const struct broker_session *s)
{
	return s->id;
}

static void publish_will(struct broker *b, struct broker_session *s)
{
	struct bmsg *w = s->will;

	s->will = NULL;
	s->will_at = 0;
	if (w == NULL)
		return;
	if (s->will_has_expiry)
		w->expires_ms = now(b) + (int64_t)s->will_expiry * 1000;
	if (w->retain)
		retain_store(b, w);
	route(b, w);
	msg_unref(b, w);
}

static void session_free_all(struct broker *b, struct broker_session *s)
{
	struct delivery *d, *next;
	size_t i;

	for (d = s->head; d != NULL; d = next) {
		next = d->next;
		delivery_free(b, d);
	}
	for (i = 0; i < s->nsubs; i++) {
		if (s->subs[i].match != 0)
			b->shared--;
		free(s->subs[i].filter);
	}
	msg_unref(b, s->will);
	free(s->id);
	free(s);
}

/* The session ends: its pending will goes out first (MQTT 5 3.1.3.2.2). */
static void session_end(struct broker *b, struct broker_session *s)
{
	publish_will(b, s);
	strmap_remove(b->sessions, s->id);
	session_free_all(b, s);
}

static int will_new(struct broker *b, struct broker_session *s, const struct mqtt_connect *c)
{
	struct bmsg *w = NULL;
	int rc;

	msg_unref(b, s->will);
	s->will = NULL;
	s->will_at = 0;
	if (!c->will)
		return CC_OK;
	rc = msg_new(b, &c->will_topic, &c->will_props, &c->will_payload, c->will_qos, c->will_retain,
	             s->serial, &w);
	if (rc != CC_OK)
		return rc;
	/* The will's Message Expiry counts from when it is published. */
	w->expires_ms = 0;
	s->will_expiry = c->will_props.message_expiry;
	s->will_has_expiry = c->will_props.has_message_expiry;
	s->will = w;
	s->will_delay = c->version == MQTT_V5 ? c->will_props.will_delay : 0;
	return CC_OK;
}

uint8_t broker_connect(struct broker *b, const struct mqtt_connect *c, void *conn, struct broker_session **out,
                       int *session_present, const char **assigned, void **old_conn)
{
	char id[CC_BROKER_CLIENT_ID_MAX + 1];
	struct broker_session *s;
	struct delivery *d;

	*assigned = NULL;
	*old_conn = NULL;
	*session_present = 0;
	if (c->client_id.len > CC_BROKER_CLIENT_ID_MAX || memchr(c->client_id.p, '\0', c->client_id.len) != NULL)
		return MQTT_RC_CLIENT_ID_NOT_VALID;
	if (c->client_id.len == 0) {
		if (c->version != MQTT_V5 && !c->clean_start)
			return MQTT_RC_CLIENT_ID_NOT_VALID; /* 3.1.1 3.1.3-8 */
		do
			snprintf(id, sizeof(id), "cc-auto-%llu", (unsigned long long)++b->next_serial);
		while (strmap_get(b->sessions, id) != NULL);
	} else {
		memcpy(id, c->client_id.p, c->client_id.len);
		id[c->client_id.len] = '\0';
	}
	s = strmap_get(b->sessions, id);
	if (s != NULL && s->conn != NULL) {
		/* Taken over: the old connection's will goes unless the session
		 * continues within its delay (it does, now, if clean start is 0). */
		*old_conn = s->conn;
		s->conn = NULL;
		if (c->clean_start || s->will_delay == 0)
			publish_will(b, s);
	}
	if (s != NULL && (c->clean_start || (s->expires_at != 0 && s->expires_at <= now(b)))) {
		session_end(b, s);
		s = NULL;
	}
	if (s == NULL) {
		if (strmap_count(b->sessions) >= CC_BROKER_SESSIONS_MAX)
			return MQTT_RC_QUOTA_EXCEEDED;
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return MQTT_RC_SERVER_UNAVAILABLE;
		s->id = strdup(id);
		s->serial = ++b->next_serial;
		if (s->id == NULL || strmap_put(b->sessions, id, s) != CC_OK) {
			free(s->id);
			free(s);
			return MQTT_RC_SERVER_UNAVAILABLE;
		}
	} else {
		*session_present = 1;
		/* Reconnected in time: a delayed will is not sent. */
		msg_unref(b, s->will);
		s->will = NULL;
		s->will_at = 0;
	}
	s->conn = conn;
	s->version = c->version;
	s->expires_at = 0;
	if (c->version == MQTT_V5)
		s->expiry_s = c->props.has_session_expiry ? c->props.session_expiry : 0;
	else
		s->expiry_s = c->clean_start ? 0 : UINT32_MAX;
	if (will_new(b, s, c) != CC_OK) {
		s->conn = NULL;
		session_end(b, s);
		return MQTT_RC_QUOTA_EXCEEDED;
	}
	/* What was in flight on the last connection goes again, first. */
	for (d = s->head; d != NULL; d = d->next) {
		if (d->state == D_SENT)
			d->state = D_RESEND;
		else if (d->state == D_RELEASED)
			d->state = D_RESEND_REL;
	}
	if (c->client_id.len == 0)
		*assigned = s->id;
	*out = s;
	return 0;
}

static void will_arm(struct broker *b, struct broker_session *s)
{
	uint32_t delay = s->will_delay < s->expiry_s ? s->will_delay : s->expiry_s;

	if (s->will == NULL)
		return;
	if (delay == 0)
		publish_will(b, s);
	else
		s->will_at = now(b) + (int64_t)delay * 1000;
}

void broker_disconnect(struct broker *b, struct broker_session *s, int publish_will_now, int64_t new_expiry)
{
	if (s == NULL)
		return;
	s->conn = NULL;
	if (new_expiry >= 0)
		s->expiry_s = (uint32_t)new_expiry;
	if (publish_will_now) {
		will_arm(b, s);
	} else {
		msg_unref(b, s->will);
		s->will = NULL;
	}
	if (s->expiry_s == 0) {
		session_end(b, s);
		return;
	}
	s->expires_at = s->expiry_s == UINT32_MAX ? 0 : now(b) + (int64_t)s->expiry_s * 1000;
}

struct tick {
	struct broker *b;
	struct broker_session *due[64];
	size_t n;
};

static int collect_due(void *arg, const char *key, void *value)
{
	struct tick *t = arg;
	struct broker_session *s = value;
	int64_t at = now(t->b);

	(void)key;
	if (s->conn != NULL)
		return 0;
	if ((s->will_at != 0 && s->will_at <= at) || (s->expires_at != 0 && s->expires_at <= at))
		t->due[t->n++] = s;
	return t->n == sizeof(t->due) / sizeof(t->due[0]);
}

void broker_tick(struct broker *b)
{
	struct tick t;
	size_t i;

	do {
		t.b = b;
		t.n = 0;
		strmap_foreach(b->sessions, collect_due, &t);
		for (i = 0; i < t.n; i++) {
			struct broker_session *s = t.due[i];

			if (s->expires_at != 0 && s->expires_at <= now(b))
				session_end(b, s);
			else
				publish_will(b, s);
		}
	} while (t.n == sizeof(t.due) / sizeof(t.due[0]));
}

/* ---- life ---- */

int broker_new(const struct broker_ops *ops, struct broker **out)
{
	struct broker *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return CC_ERR_NOMEM;
	b->ops = *ops;
	if (strmap_new(&b->sessions) != CC_OK || strmap_new(&b->retained) != CC_OK) {
		broker_free(b);
		return CC_ERR_NOMEM;
	}
	*out = b;
	return CC_OK;
}

static int free_session_cb(void *arg, const char *key, void *value)
{
	struct broker *b = arg;
	struct broker_session *s = value;

	(void)key;
	session_free_all(b, s);
	return 0;
}

static int free_retained_cb(void *arg, const char *key, void *value)
{
	(void)key;
	msg_unref(arg, value);
	return 0;
}

void broker_free(struct broker *b)
{
	if (b == NULL)
		return;
	if (b->sessions != NULL)
		strmap_foreach(b->sessions, free_session_cb, b);
	if (b->retained != NULL)
		strmap_foreach(b->retained, free_retained_cb, b);
	strmap_free(b->sessions);
	strmap_free(b->retained);
	free(b);
}

void broker_get_stats(const struct broker *b, struct broker_stats *out)
{
	out->sessions = strmap_count(b->sessions);
	out->retained = strmap_count(b->retained);
	out->bytes = b->bytes;
}
