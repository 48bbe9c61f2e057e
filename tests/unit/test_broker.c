/* The open listener's in-memory broker: routing, retained messages,
 * sessions, wills, flow control and bounds, with a fake clock and fake
 * connections (no sockets). */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "common/err.h"
#include "common/limits.h"
#include "mqtt/broker.h"

#define SENT_MAX 2048

/* A fake connection: records what the broker sends; window = free slots. */
struct conn {
	int window;        /* QoS 1/2 messages it may still take; -1: unlimited */
	size_t max_packet; /* 0: unlimited */
	uint16_t next_id;
	size_t n;
	struct {
		char topic[64];
		char payload[64];
		uint8_t qos;
		int retain, dup;
		uint16_t id;
		uint8_t props[64];
		size_t props_len;
	} sent[SENT_MAX];
	size_t pubrels;
};

static int64_t clock_ms = 1000000;

static int64_t fake_now(void *arg)
{
	(void)arg;
	return clock_ms;
}

static int fake_send(void *conn, const struct session_message *m, uint16_t *id)
{
	struct conn *c = conn;

	if (c->max_packet && m->len > c->max_packet)
		return CC_ERR_INVALID;
	if (m->qos > 0 && c->window == 0)
		return CC_ERR_LIMIT;
	if (c->n == SENT_MAX)
		return CC_ERR_LIMIT;
	if (m->qos > 0 && c->window > 0)
		c->window--;
	snprintf(c->sent[c->n].topic, sizeof(c->sent[c->n].topic), "%.*s", (int)m->topic_len, m->topic);
	snprintf(c->sent[c->n].payload, sizeof(c->sent[c->n].payload), "%.*s", (int)m->len, (const char *)m->payload);
	c->sent[c->n].qos = m->qos;
	c->sent[c->n].retain = m->retain;
	c->sent[c->n].dup = m->dup;
	c->sent[c->n].props_len = m->props_len < 64 ? m->props_len : 64;
	memcpy(c->sent[c->n].props, m->props, c->sent[c->n].props_len);
	if (m->qos > 0) {
		*id = m->packet_id ? m->packet_id : ++c->next_id;
		c->sent[c->n].id = *id;
	}
	c->n++;
	return CC_OK;
}

static int fake_pubrel(void *conn, uint16_t id)
{
	(void)id;
	((struct conn *)conn)->pubrels++;
	return CC_OK;
}

static const struct broker_ops ops = { fake_send, fake_pubrel, fake_now, NULL };

static struct mqtt_connect connect_msg(const char *id, uint8_t version, int clean, uint32_t expiry)
{
	struct mqtt_connect c;

	memset(&c, 0, sizeof(c));
	c.version = version;
	c.clean_start = clean;
	c.client_id.p = (const uint8_t *)id;
	c.client_id.len = strlen(id);
	if (expiry) {
		c.props.session_expiry = expiry;
		c.props.has_session_expiry = 1;
	}
	return c;
}

static struct broker_session *join(struct broker *b, struct conn *conn, const char *id, int clean, uint32_t expiry,
                                   int *present)
{
	struct mqtt_connect c = connect_msg(id, MQTT_V5, clean, expiry);
	struct broker_session *s = NULL;
	const char *assigned;
	void *old;
	int p = 0;

	CHECK_EQ(broker_connect(b, &c, conn, &s, &p, &assigned, &old), 0);
	if (present != NULL)
		*present = p;
	return s;
}

static void publish(struct broker *b, struct broker_session *from, const char *topic, const char *payload,
                    uint8_t qos, int retain)
{
	struct mqtt_publish p;

	memset(&p, 0, sizeof(p));
	p.topic.p = (const uint8_t *)topic;
	p.topic.len = strlen(topic);
	p.payload.p = (const uint8_t *)payload;
	p.payload.len = strlen(payload);
	p.qos = qos;
	p.retain = retain;
	CHECK_EQ(broker_publish(b, from, &p), 0);
}

static uint8_t subscribe(struct broker *b, struct broker_session *s, const char *filter, uint8_t options,
                         uint32_t id)
{
	struct mqtt_bytes f = { (const uint8_t *)filter, strlen(filter) };
	uint8_t rc = broker_subscribe(b, s, &f, options, id);

	broker_flush(b, s);
	return rc;
}

static struct broker *new_broker(void)
{
	struct broker *b = NULL;

	CHECK_EQ(broker_new(&ops, &b), CC_OK);
	return b;
}

static void test_routing_no_local_and_subscription_ids(void)
{
	static struct conn ca, cb;
	struct broker *b = new_broker();
	struct broker_session *a, *s;

	memset(&ca, 0, sizeof(ca));
	memset(&cb, 0, sizeof(cb));
	ca.window = cb.window = -1;
	a = join(b, &ca, "a", 1, 0, NULL);
	s = join(b, &cb, "b", 1, 0, NULL);
	CHECK_EQ(subscribe(b, a, "t/+", 2 | 4, 0), 2);           /* No Local */
	CHECK_EQ(subscribe(b, s, "t/x", 1, 7), 1);
	CHECK_EQ(subscribe(b, s, "t/#", 2, 9), 2);
	CHECK_EQ(subscribe(b, s, "$share//t", 1, 0), MQTT_RC_TOPIC_FILTER_INVALID);
	CHECK_EQ(subscribe(b, s, "$share/g+/t", 1, 0), MQTT_RC_TOPIC_FILTER_INVALID);
	CHECK_EQ(subscribe(b, s, "a/#/b", 1, 0), MQTT_RC_TOPIC_FILTER_INVALID);
	publish(b, a, "t/x", "hello", 2, 0);
	CHECK_EQ(ca.n, 0);                                      /* not to its own publisher */
	CHECK_EQ(cb.n, 1);                                      /* one message for overlapping subscriptions */
	CHECK_EQ(cb.sent[0].qos, 2);
	CHECK_EQ(cb.sent[0].props_len, 4);                      /* both subscription identifiers */
	CHECK(memcmp(cb.sent[0].props, "\x0b\x07\x0b\x09", 4) == 0);
	publish(b, a, "$sys/x", "dollar", 1, 0);
	CHECK_EQ(subscribe(b, s, "#", 1, 0), 1);
	publish(b, a, "$sys/x", "dollar", 1, 0);
	CHECK_EQ(cb.n, 1);                                      /* '#' does not match a '$' topic */
	broker_disconnect(b, a, 0, -1);                         /* session expiry 0: both end */
	broker_disconnect(b, s, 0, -1);
	{
		struct broker_stats st;

		broker_get_stats(b, &st);
		CHECK_EQ(st.sessions, 0);
		CHECK_EQ(st.bytes, 0);                          /* every message and delivery accounted for */
	}
	broker_free(b);
}

static void test_retained_messages(void)
{
	static struct conn ca;
	struct broker *b = new_broker();
	struct broker_session *a;
	struct broker_stats st;

	memset(&ca, 0, sizeof(ca));
	ca.window = -1;
	a = join(b, &ca, "a", 1, 0, NULL);
	publish(b, a, "r/1", "one", 1, 1);
	publish(b, a, "r/2", "two", 2, 1);
	broker_get_stats(b, &st);
	CHECK_EQ(st.retained, 2);
	CHECK_EQ(subscribe(b, a, "r/+", 1, 0), 1);
	CHECK_EQ(ca.n, 2);
	CHECK(ca.sent[0].retain && ca.sent[1].retain);
	CHECK_EQ(ca.sent[0].qos + ca.sent[1].qos, 2);           /* the lower of both: 1 and 1 */
	CHECK_EQ(subscribe(b, a, "r/+", 1 | 0x10, 0), 1);       /* retain handling 1: existing, none */
	CHECK_EQ(ca.n, 2);
	CHECK_EQ(subscribe(b, a, "r/#", 1 | 0x20, 0), 1);       /* retain handling 2: none */
	CHECK_EQ(ca.n, 2);
	publish(b, a, "r/1", "", 0, 1);                         /* clears */
	broker_get_stats(b, &st);
	CHECK_EQ(st.retained, 1);
	CHECK_EQ(ca.sent[2].retain, 0);                         /* forwarded: retain 0 without RAP */
	broker_free(b);
}

static void test_persistent_session_queue_and_resend(void)
{
	static struct conn c1, c2, cp;
	struct broker *b = new_broker();
	struct broker_session *s, *p;
	int present = 0;

	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	memset(&cp, 0, sizeof(cp));
	c1.window = 1;
	c2.window = cp.window = -1;
	s = join(b, &c1, "s", 1, 300, NULL);
	p = join(b, &cp, "p", 1, 0, NULL);
	CHECK_EQ(subscribe(b, s, "q/#", 2, 0), 2);
	publish(b, p, "q/1", "a", 1, 0);
	publish(b, p, "q/2", "b", 2, 0);
	CHECK_EQ(c1.n, 1);                                      /* its window: one at a time */
	broker_disconnect(b, s, 0, -1);
	publish(b, p, "q/0", "c", 0, 0);                        /* QoS 0 is not queued offline */
	publish(b, p, "q/3", "d", 1, 0);
	s = join(b, &c2, "s", 0, 300, &present);
	CHECK(present);
	broker_flush(b, s);
	CHECK_EQ(c2.n, 3);
	CHECK(c2.sent[0].dup && c2.sent[0].id == c1.sent[0].id); /* the unacknowledged one, again */
	CHECK_STR(c2.sent[1].payload, "b");
	CHECK_STR(c2.sent[2].payload, "d");
	broker_released(b, s, c2.sent[1].id);
	broker_disconnect(b, s, 0, -1);
	s = join(b, &c2, "s", 0, 300, &present);
	broker_flush(b, s);
	CHECK_EQ(c2.pubrels, 1);                                 /* PUBREC'd: PUBREL again, not the message */
	broker_disconnect(b, s, 0, 0);                           /* DISCONNECT sets expiry 0: gone */
	s = join(b, &c2, "s", 0, 300, &present);
	CHECK(!present);
	broker_free(b);
}

static void test_wills_delay_and_expiry(void)
{
	static struct conn cw, cs;
	struct broker *b = new_broker();
	struct broker_session *w, *s;
	struct mqtt_connect c = connect_msg("w", MQTT_V5, 1, 10);
	const char *assigned;
	void *old;
	int present;

	memset(&cw, 0, sizeof(cw));
	memset(&cs, 0, sizeof(cs));
	cw.window = cs.window = -1;
	s = join(b, &cs, "watch", 1, 0, NULL);
	CHECK_EQ(subscribe(b, s, "will/#", 1, 0), 1);
	c.will = 1;
	c.will_qos = 1;
	c.will_topic.p = (const uint8_t *)"will/w";
	c.will_topic.len = 6;
	c.will_payload.p = (const uint8_t *)"gone";
	c.will_payload.len = 4;
	c.will_props.will_delay = 3;
	CHECK_EQ(broker_connect(b, &c, &cw, &w, &present, &assigned, &old), 0);
	broker_disconnect(b, w, 1, -1);
	clock_ms += 2000;
	broker_tick(b);
	CHECK_EQ(cs.n, 0);                                       /* not before its delay */
	clock_ms += 1500;
	broker_tick(b);
	CHECK_EQ(cs.n, 1);
	CHECK_STR(cs.sent[0].payload, "gone");
	/* Reconnecting within the delay cancels it; the session expiry ends it. */
	CHECK_EQ(broker_connect(b, &c, &cw, &w, &present, &assigned, &old), 0);
	broker_disconnect(b, w, 1, -1);
	w = join(b, &cw, "w", 0, 10, &present);
	CHECK(present);
	broker_disconnect(b, w, 0, -1);
	clock_ms += 20000;
	broker_tick(b);
	CHECK_EQ(cs.n, 1);
	w = join(b, &cw, "w", 0, 10, &present);
	CHECK(!present);                                          /* expired after 10 s */
	broker_free(b);
}

static void test_client_ids_takeover_and_bounds(void)
{
	static struct conn c1, c2, cp;
	struct broker *b = new_broker();
	struct mqtt_connect c = connect_msg("", MQTT_V311, 0, 0);
	struct broker_session *s = NULL, *p;
	const char *assigned = NULL;
	void *old = NULL;
	int present, i;
	char payload[16];

	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	memset(&cp, 0, sizeof(cp));
	cp.window = -1;
	CHECK_EQ(broker_connect(b, &c, &c1, &s, &present, &assigned, &old), MQTT_RC_CLIENT_ID_NOT_VALID);
	c.version = MQTT_V5;
	CHECK_EQ(broker_connect(b, &c, &c1, &s, &present, &assigned, &old), 0);
	CHECK(assigned != NULL && strncmp(assigned, "cc-auto-", 8) == 0);
	s = join(b, &c1, "dup", 1, 300, NULL);
	c = connect_msg("dup", MQTT_V5, 0, 300);
	CHECK_EQ(broker_connect(b, &c, &c2, &s, &present, &assigned, &old), 0);
	CHECK(old == &c1 && present);                               /* taken over */
	/* A session's queue is bounded. */
	CHECK_EQ(subscribe(b, s, "bd", 1, 0), 1);
	broker_disconnect(b, s, 0, -1);
	p = join(b, &cp, "p", 1, 0, NULL);
	for (i = 0; i < CC_BROKER_QUEUE_MAX + 10; i++) {
		snprintf(payload, sizeof(payload), "%d", i);
		publish(b, p, "bd", payload, 1, 0);
	}
	c2.window = -1;
	s = join(b, &c2, "dup", 0, 300, &present);
	broker_flush(b, s);
	CHECK_EQ(c2.n, CC_BROKER_QUEUE_MAX);
	CHECK_STR(c2.sent[CC_BROKER_QUEUE_MAX - 1].payload, "999");
	/* Too large for the client: dropped as if delivered, the rest goes on. */
	c1.window = -1;
	c1.max_packet = 4;
	s = join(b, &c1, "small", 1, 0, NULL);
	CHECK_EQ(subscribe(b, s, "sz", 1, 0), 1);
	publish(b, p, "sz", "too large", 1, 0);
	publish(b, p, "sz", "ok", 1, 0);
	CHECK_EQ(c1.n, 1);
	CHECK_STR(c1.sent[0].payload, "ok");
	broker_free(b);
}

static void test_shared_subscriptions(void)
{
	static struct conn c1, c2, cp;
	struct broker *b = new_broker();
	struct broker_session *s1, *s2, *p;
	int i;

	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	memset(&cp, 0, sizeof(cp));
	c1.window = c2.window = cp.window = -1;
	p = join(b, &cp, "p", 1, 0, NULL);
	publish(b, p, "sh/x", "retained", 1, 1);
	s1 = join(b, &c1, "s1", 1, 0, NULL);
	s2 = join(b, &c2, "s2", 1, 0, NULL);
	CHECK_EQ(subscribe(b, s1, "$share/g/sh/+", 1, 0), 1);
	CHECK_EQ(subscribe(b, s2, "$share/g/sh/#", 1, 0), 1);   /* another group: its own filter */
	CHECK_EQ(subscribe(b, s2, "$share/g/sh/+", 1, 0), 1);
	CHECK_EQ(c1.n + c2.n, 0);                                 /* no retained messages for shared ones */
	for (i = 0; i < 4; i++)
		publish(b, p, "sh/x", "m", 1, 0);
	/* Group g/sh/+ : 4 messages, taken in turn; group g/sh/# : 4 more, all to s2. */
	CHECK_EQ(c1.n, 2);
	CHECK_EQ(c2.n, 6);
	CHECK_EQ(broker_unsubscribe(b, s2, &(struct mqtt_bytes){ (const uint8_t *)"$share/g/sh/+", 13 }), 0);
	CHECK_EQ(broker_unsubscribe(b, s2, &(struct mqtt_bytes){ (const uint8_t *)"$share/g/sh/#", 13 }), 0);
	publish(b, p, "sh/x", "m", 1, 0);
	CHECK_EQ(c1.n, 3);
	broker_free(b);
}

int main(void)
{
	RUN(test_routing_no_local_and_subscription_ids);
	RUN(test_retained_messages);
	RUN(test_persistent_session_queue_and_resend);
	RUN(test_wills_delay_and_expiry);
	RUN(test_client_ids_takeover_and_bounds);
	RUN(test_shared_subscriptions);
	return check_summary();
}
