/*
 * fuzz_mqtt.c - the MQTT codec driven through a session, as a hostile client
 * would: the input is the byte stream a client sends, split at the offsets
 * the first byte chooses, fed to one session whose hooks accept, refuse or
 * defer, and acknowledge deferred publishes in between.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/acl.h"
#include "mqtt/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	uint8_t mode;
	uint16_t pending[64];
	size_t npending;
	size_t sent;
};

static uint8_t on_connect(void *ctx, const struct mqtt_connect *c, struct mqtt_connack_opts *ack, int *present)
{
	struct fuzz_ctx *f = ctx;

	if (f->mode & 4)
		ack->assigned_client_id = "auto-0123456789abcdef";

	*present = !c->clean_start && (f->mode & 1);
	return (f->mode & 2) ? MQTT_RC_NOT_AUTHORIZED : 0;
}

static int on_publish(void *ctx, const struct mqtt_publish *p, const char **rs)
{
	static const uint8_t drop[] = { 0x02, 0x0B, 0x23 };
	struct fuzz_ctx *f = ctx;
	enum machine_topic kind;
	uint8_t copy[4096];
	size_t copied;

	/* What the broker forwards: the properties as received, less some. */
	(void)mqtt_props_copy(&p->props.raw, drop, sizeof(drop), copy, sizeof(copy), &copied);

	if (!acl_may_publish(ACL_MACHINE, "M1", p->topic.p, p->topic.len, &kind) && (f->mode & 4)) {
		*rs = "not authorized";
		return p->qos ? MQTT_RC_NOT_AUTHORIZED : -MQTT_RC_NOT_AUTHORIZED;
	}
	if (p->qos > 0 && f->npending < 64 && (f->mode & 8)) {
		f->pending[f->npending++] = p->packet_id;
		return SESSION_PENDING;
	}
	return 0;
}

static uint8_t on_subscribe(void *ctx, const struct mqtt_bytes *filter, uint8_t options, uint32_t id)
{
	(void)ctx;
	(void)id;
	return acl_may_subscribe(ACL_MACHINE, "M1", filter->p, filter->len) ? (options & 1) : MQTT_RC_NOT_AUTHORIZED;
}

static uint8_t on_unsubscribe(void *ctx, const struct mqtt_bytes *filter)
{
	(void)ctx;
	return acl_topic_matches(filter->p, filter->len, (const uint8_t *)"cc/v1/M1/cmd/x", 14) ? 0 : 0x11;
}

static void on_delivered(void *ctx, uint16_t id, uint8_t reason) { (void)ctx; (void)id; (void)reason; }
static void on_disconnect(void *ctx, const struct mqtt_disconnect *d) { (void)ctx; (void)d; }

static int on_send(void *ctx, const uint8_t *p, size_t n)
{
	struct fuzz_ctx *f = ctx;

	(void)p;
	f->sent += n;
	return 0;
}

static const struct session_hooks hooks = { on_connect, on_publish, on_subscribe, on_unsubscribe,
	                                     on_delivered, on_disconnect, on_send, NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_config cfg = { 4096, 8, 60, 0, 0, 1 };
	struct fuzz_ctx f;
	struct mqtt_session *s = NULL;
	uint8_t *buf;
	size_t have = 0, used = 0, chunk;
	int sent = 0;

	if (size < 1)
		return 0;
	memset(&f, 0, sizeof(f));
	f.mode = data[0];
	data++;
	size--;
	if (session_new(&cfg, &hooks, &f, &s) != 0)
		return 0;
	buf = malloc(size + 1);
	if (buf == NULL) {
		session_free(s);
		return 0;
	}
	/* Deliver in chunks as a socket would, keeping unconsumed bytes. */
	chunk = 1 + (f.mode >> 4) * 7;
	while (used < size || have > 0) {
		size_t n = size - used < chunk ? size - used : chunk, consumed = 0;
		int rc;

		memcpy(buf + have, data + used, n);
		have += n;
		used += n;
		rc = session_input(s, buf, have, &consumed);
		memmove(buf, buf + consumed, have - consumed);
		have -= consumed;
		while (f.npending > 0 && rc == 0)
			session_complete(s, f.pending[--f.npending], (f.mode & 16) ? 0x99 : 0, "refused");
		if (!sent && rc == 0 && session_connected(s)) {
			/* Messages of ours in flight, for the peer's PUBACK/PUBREC/PUBCOMP. */
			struct session_message m = { "a/b", 3, (const uint8_t *)"\x26\0\1k\0\1v", 7,
			                             (const uint8_t *)"x", 1, 2, 0, 0, 0, 0 };
			uint16_t id;

			(void)session_send(s, &m, &id);
			m.qos = 1;
			(void)session_send(s, &m, &id);
			sent = 1;
		}
		if (rc < 0 || n == 0)
			break;
	}
	if (session_connected(s)) {
		uint16_t id;

		session_publish(s, "cc/v1/M1/cmd/config", (const uint8_t *)"{}", 2, 1, 0, &id);
	}
	free(buf);
	session_free(s);
	return 0;
}
