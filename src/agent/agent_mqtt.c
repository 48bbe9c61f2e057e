/*
 * agent_mqtt.c - telemetry, events and info to the server, commands from it
 * (docs/METRICS.md), over MQTT 5 (or 3.1.1, where a refusal cannot be told
 * from an acknowledgement) with the machine certificate, on
 * libmosquitto driven by the firmware's loop (cc_agent_run: no thread), or
 * by the caller's own poll loop (cc_agent_loop_*: the external loop, never
 * blocking, for many agents in one thread).
 *
 * Store and forward: every message is written to storage first, in a ring
 * of queue_max records ("q/N", the size in "q.max"), with "q.head" (the oldest not yet
 * acknowledged), "q.tail" (the next free) and "q.dropped" (how many the
 * ring overwrote while offline, oldest first). Messages go out in order, up
 * to the window (cfg.window) before the first is acknowledged; the head moves on over
 * the acknowledged ones (the server's PUBACK comes after it stored the
 * message). A cut before the head's write sends messages again: the server keeps each (machine, kind, seq) once,
 * so each is stored exactly once. "seq" is the next seq, written before it
 * is used.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/ssl.h>

#include "agent/internal.h"

#define SEQ_MAX 999999999999ULL
#define EPOCH_2020_MS 1577836800000LL
#define KEEPALIVE_S 30
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 8000
#define COMMAND_MAX 2048
#define CONNECT_TIMEOUT_MS 15000

static int qload(cc_agent *a)
{
	int rc;
	if (a->qloaded)
		return 0;
	if ((rc = cc_ag_get_u64(a, "q.head", &a->qhead)) != 0 || (rc = cc_ag_get_u64(a, "q.tail", &a->qtail)) != 0 ||
	    (rc = cc_ag_get_u64(a, "q.dropped", &a->qdropped)) != 0)
		return rc;
	if (a->qhead > a->qtail)
		return CC_AGENT_ESTORAGE;
	/* The ring's size is stored with it: a firmware that changes queue_max
	 * while messages wait gets the new size once they have gone. */
	if ((rc = cc_ag_get_u64(a, "q.max", &a->qmax)) != 0)
		return rc;
	if (a->qmax == 0 || (a->qmax != a->cfg.queue_max && a->qhead == a->qtail)) {
		a->qmax = a->cfg.queue_max;
		if ((rc = cc_ag_put_u64(a, "q.max", a->qmax)) != 0)
			return rc;
	}
	a->qloaded = 1;
	return 0;
}

static void slot_key(cc_agent *a, uint64_t idx, char key[32])
{
	snprintf(key, 32, "q/%" PRIu64, idx % a->qmax);
}

/* The next seq: the stored counter, but never below the clock (deciseconds
 * since 2020), so a machine whose storage was wiped does not reuse seqs the
 * server has kept (it would drop the new messages as duplicates). */
static int next_seq(cc_agent *a, uint64_t *seq)
{
	uint64_t stored;
	int64_t ds = (cc_ag_now_ms(a) - EPOCH_2020_MS) / 100;
	int rc = cc_ag_get_u64(a, "seq", &stored);

	if (rc != 0)
		return rc;
	*seq = stored > (uint64_t)(ds > 0 ? ds : 1) ? stored : (uint64_t)(ds > 0 ? ds : 1);
	if (*seq >= SEQ_MAX)
		return CC_AGENT_ESTATE;
	return cc_ag_put_u64(a, "seq", *seq + 1);
}

static int enqueue(cc_agent *a, char kind, const char *fields)
{
	char msg[CC_AG_MSG_MAX + 64], key[32];
	uint64_t seq;
	int rc;

	if (fields == NULL || fields[0] == '\0' || strlen(fields) > CC_AG_MSG_MAX)
		return CC_AGENT_EINVAL;
	if ((rc = qload(a)) != 0 || (rc = next_seq(a, &seq)) != 0)
		return rc;
	snprintf(msg, sizeof(msg), "%c{\"seq\":%" PRIu64 ",\"ts\":%" PRId64 ",%s}", kind, seq, cc_ag_now_ms(a), fields);
	if (a->qtail - a->qhead >= a->qmax) {
		/* Full: the oldest goes, counted. */
		a->qhead++; /* one on its way is forgotten by advance() */
		a->qdropped++;
		if ((rc = cc_ag_put_u64(a, "q.dropped", a->qdropped)) != 0 || (rc = cc_ag_put_u64(a, "q.head", a->qhead)) != 0)
			return rc;
	}
	slot_key(a, a->qtail, key);
	if ((rc = cc_ag_put(a, key, msg)) != 0)
		return rc;
	a->qtail++;
	a->last_seq = seq;
	return cc_ag_put_u64(a, "q.tail", a->qtail);
}

int cc_agent_publish_telemetry(cc_agent *a, const char *fields)
{
	return enqueue(a, 't', fields);
}

int cc_agent_publish_event(cc_agent *a, const char *fields)
{
	return enqueue(a, 'e', fields);
}

static void publish_info(cc_agent *a);

int cc_agent_set_info(cc_agent *a, const char *hw, const char *sw)
{
	char m[80] = "", h[80] = "", s[80] = "";
	if (hw == NULL || sw == NULL || strlen(hw) > 32 || strlen(sw) > 32 || cc_ag_json_quote(a->model, m, sizeof(m)) ||
	    cc_ag_json_quote(hw, h, sizeof(h)) || cc_ag_json_quote(sw, s, sizeof(s)))
		return CC_AGENT_EINVAL;
	snprintf(a->info, sizeof(a->info), "{\"model\":%s,\"hw\":%s,\"sw\":%s}", m, h, s);
	if (a->connected)
		publish_info(a);
	return CC_AGENT_OK;
}

static void publish_info(cc_agent *a)
{
	char topic[128];
	if (a->info[0] == '\0')
		return;
	snprintf(topic, sizeof(topic), "cc/v1/%s/info", a->serial);
	(void)mosquitto_publish(a->mosq, NULL, topic, (int)strlen(a->info), a->info, 1, true);
}

static void flight_reset(cc_agent *a)
{
	a->nflight = 0;
	a->qnext = a->qhead;
}

/* Moves the head over the acknowledged messages at its front. */
static void advance(cc_agent *a)
{
	int moved = 0;
	for (;;) {
		size_t i;
		for (i = 0; i < a->nflight;)
			if (a->flight[i].idx < a->qhead)
				a->flight[i] = a->flight[--a->nflight]; /* dropped while on its way */
			else
				i++;
		for (i = 0; i < a->nflight && !(a->flight[i].idx == a->qhead && a->flight[i].acked); i++)
			;
		if (i == a->nflight)
			break;
		a->flight[i] = a->flight[--a->nflight];
		a->qhead++;
		moved = 1;
	}
	if (moved && cc_ag_put_u64(a, "q.head", a->qhead) != 0)
		cc_ag_log(a, "storage: the queue's head was not saved");
}

/* Sends stored messages in order while the window has room. */
static void drain(cc_agent *a)
{
	char msg[CC_AG_MSG_MAX + 64], key[32], topic[128];
	int mid;

	if (!a->connected || qload(a) != 0)
		return;
	advance(a); /* first: forgets what was dropped while on its way */
	if (a->qnext < a->qhead)
		a->qnext = a->qhead;
	while (a->nflight < a->window && a->qnext < a->qtail) {
		slot_key(a, a->qnext, key);
		if (cc_ag_get(a, key, msg, sizeof(msg)) != 0 || (msg[0] != 't' && msg[0] != 'e')) {
			/* A record storage lost: passed over rather than stop the queue. */
			a->flight[a->nflight].mid = 0;
			a->flight[a->nflight].acked = 1;
			a->flight[a->nflight].seq = 0;
			a->flight[a->nflight++].idx = a->qnext++;
			continue;
		}
		snprintf(topic, sizeof(topic), "cc/v1/%s/%s", a->serial, msg[0] == 't' ? "telemetry" : "event");
		if (mosquitto_publish(a->mosq, &mid, topic, (int)strlen(msg + 1), msg + 1, 1, false) != MOSQ_ERR_SUCCESS)
			break;
		a->flight[a->nflight].mid = mid;
		a->flight[a->nflight].acked = 0;
		/* The seq the message carries (written by enqueue), for on_acked. */
		a->flight[a->nflight].seq = strncmp(msg + 1, "{\"seq\":", 7) == 0 ? strtoull(msg + 8, NULL, 10) : 0;
		a->flight[a->nflight++].idx = a->qnext++;
	}
	advance(a);
}

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *props)
{
	cc_agent *a = ud;
	char topic[128];
	(void)flags;
	(void)props;
	a->connecting = 0;
	if (rc != 0) {
		a->connect_failures++;
		cc_ag_log(a, "MQTT connection refused: %s", a->cfg.mqtt_version == CC_AGENT_MQTT_311
		          ? mosquitto_connack_string(rc) : mosquitto_reason_string(rc));
		return;
	}
	a->connected = 1;
	a->backoff_ms = 0;
	flight_reset(a);
	snprintf(topic, sizeof(topic), "cc/v1/%s/cmd/#", a->serial);
	(void)mosquitto_subscribe(m, NULL, topic, 1);
	/* Before any request: a renewed certificate comes only once. */
	snprintf(topic, sizeof(topic), "cc/v1/%s/cert/issued", a->serial);
	(void)mosquitto_subscribe(m, NULL, topic, 1);
	snprintf(topic, sizeof(topic), "cc/v1/%s/status", a->serial);
	(void)mosquitto_publish(m, NULL, topic, 6, "online", 1, true);
	publish_info(a);
	cc_ag_mconf_connected(a);
	drain(a);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc, const mosquitto_property *props)
{
	cc_agent *a = ud;
	(void)m;
	(void)props;
	if (a->connected)
		cc_ag_log(a, "MQTT connection lost (%d)", rc);
	a->connected = a->connecting = 0;
	flight_reset(a);
}

static void on_publish(struct mosquitto *m, void *ud, int mid, int reason, const mosquitto_property *props)
{
	cc_agent *a = ud;
	(void)m;
	(void)props;
	size_t i;
	if (a->renewing && mid == a->csr_mid) {
		if (reason >= 0x80) { /* e.g. one renewal an hour: the next attempt comes later */
			cc_ag_log(a, "certificate renewal refused: %s", mosquitto_reason_string(reason));
			a->renewing = 0;
		}
		return;
	}
	for (i = 0; i < a->nflight && !(a->flight[i].mid == mid && !a->flight[i].acked); i++)
		;
	if (i == a->nflight || a->flight[i].idx < a->qhead)
		return; /* not ours, or dropped while on its way */
	a->flight[i].acked = 1;
	if (reason >= 0x80) {
		a->refused++;
		cc_ag_log(a, "message refused by the server: %s", mosquitto_reason_string(reason));
	} else {
		a->sent++;
	}
	if (a->cfg.on_acked != NULL)
		a->cfg.on_acked(a->cfg.ud, a, a->flight[i].seq, reason < 0 ? 0 : reason);
	drain(a);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	cc_agent *a = ud;
	char prefix[96], name[32], body[COMMAND_MAX + 1];
	size_t pl = (size_t)snprintf(prefix, sizeof(prefix), "cc/v1/%s/cmd/", a->serial);
	const char *rest, *slash;
	char *end;
	(void)m;
	(void)props;

	snprintf(prefix, sizeof(prefix), "cc/v1/%s/cert/issued", a->serial);
	if (msg->topic != NULL && strcmp(msg->topic, prefix) == 0) {
		if (msg->payloadlen > 0)
			(void)cc_ag_cred_issued(a, msg->payload, (size_t)msg->payloadlen);
		return;
	}
	snprintf(prefix, sizeof(prefix), "cc/v1/%s/cmd/", a->serial);
	if (msg->topic == NULL || strncmp(msg->topic, prefix, pl) != 0)
		return;
	rest = msg->topic + pl;
	if ((slash = strchr(rest, '/')) == NULL || (size_t)(slash - rest) >= sizeof(name) || slash == rest)
		return;
	memcpy(name, rest, (size_t)(slash - rest));
	name[slash - rest] = '\0';
	if (slash[1] < '1' || slash[1] > '9')
		return;
	unsigned long long id = strtoull(slash + 1, &end, 10);
	if (*end != '\0' || msg->payloadlen < 0 || (size_t)msg->payloadlen > COMMAND_MAX)
		return;
	memcpy(body, msg->payload, (size_t)msg->payloadlen);
	body[msg->payloadlen] = '\0';
	if (strlen(body) != (size_t)msg->payloadlen)
		return;
	if (strcmp(name, "config") == 0 && cc_ag_mconf_command(a, id, body, (size_t)msg->payloadlen))
		return;
	if (a->cfg.on_command != NULL)
		a->cfg.on_command(a->cfg.ud, a, name, id, body, (size_t)msg->payloadlen);
}

int cc_agent_command_result(cc_agent *a, uint64_t id, const char *state, const char *reason)
{
	char topic[128], st[64] = "", why[512] = "", body[640];

	if (!a->connected)
		return CC_AGENT_ESTATE;
	if (state == NULL || cc_ag_json_quote(state, st, sizeof(st)) != 0 ||
	    (reason != NULL && (strlen(reason) > 80 || strchr(reason, '\n') != NULL ||
	                        cc_ag_json_quote(reason, why, sizeof(why)) != 0)))
		return CC_AGENT_EINVAL;
	snprintf(body, sizeof(body), "{\"state\":%s%s%s}", st, reason != NULL ? ",\"reason\":" : "", why);
	snprintf(topic, sizeof(topic), "cc/v1/%s/cmd/%" PRIu64 "/result", a->serial, id);
	return mosquitto_publish(a->mosq, NULL, topic, (int)strlen(body), body, 1, false) == MOSQ_ERR_SUCCESS
	       ? CC_AGENT_OK : CC_AGENT_ENET;
}

static int setup(cc_agent *a)
{
	int rc;
	/* TLS from the pair in memory (libmosquitto reads only files): the
	 * context verifies the server against the fleet CA and its name. */
	SSL_CTX *ctx = cc_ag_cred_ssl_ctx(a);

	if (ctx == NULL)
		return a->key_pem == NULL ? CC_AGENT_ESTATE : CC_AGENT_EINVAL;
	if ((a->mosq = mosquitto_new(a->serial, false, a)) == NULL) {
		SSL_CTX_free(ctx);
		return CC_AGENT_ENOMEM;
	}
	rc = mosquitto_int_option(a->mosq, MOSQ_OPT_PROTOCOL_VERSION,
	                          a->cfg.mqtt_version == CC_AGENT_MQTT_311 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_void_option(a->mosq, MOSQ_OPT_SSL_CTX, ctx); /* it holds its own reference */
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(a->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	SSL_CTX_free(ctx);
	/* The window, the status and info, command results: none waits in
	 * libmosquitto behind the in-flight limit. */
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_max_inflight_messages_set(a->mosq, (unsigned)a->window + 8);
	if (rc == MOSQ_ERR_SUCCESS) {
		char topic[128];
		snprintf(topic, sizeof(topic), "cc/v1/%s/status", a->serial);
		rc = mosquitto_will_set(a->mosq, topic, 7, "offline", 1, true);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		cc_ag_log(a, "MQTT setup: %s", mosquitto_strerror(rc));
		mosquitto_destroy(a->mosq);
		a->mosq = NULL;
		return CC_AGENT_EINVAL;
	}
	mosquitto_connect_v5_callback_set(a->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(a->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(a->mosq, on_publish);
	mosquitto_message_v5_callback_set(a->mosq, on_message);
	return 0;
}

int64_t cc_ag_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	if (ms > 0)
		nanosleep(&ts, NULL);
}

static void lost(cc_agent *a)
{
	a->connected = a->connecting = 0;
	flight_reset(a);
}

/* The next attempt's time, doubling the back-off; 1 when one is due now. */
static int connect_due(cc_agent *a, int64_t now)
{
	if (now < a->next_connect_ms)
		return 0;
	a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (a->backoff_ms > BACKOFF_MAX_MS)
		a->backoff_ms = BACKOFF_MAX_MS;
	a->next_connect_ms = now + a->backoff_ms;
	return 1;
}

/* After the network ran: a renewal asked for, a new certificate put in
 * use (the next session presents it), stored messages sent. Not while a
 * worker runs: it presents the pair a renewal would replace. */
static int housekeeping(cc_agent *a)
{
	char topic[128];
	int rc;

	if (a->connected && !a->reconnect && !a->working) {
		char csr[4096];

		if (cc_ag_cred_due(a, cc_ag_mono_ms(), csr, sizeof(csr))) {
			snprintf(topic, sizeof(topic), "cc/v1/%s/cert/csr", a->serial);
			if (mosquitto_publish(a->mosq, &a->csr_mid, topic, (int)strlen(csr), csr, 1, false) !=
			    MOSQ_ERR_SUCCESS)
				a->renewing = 0;
		}
	}
	if (a->reconnect) {
		a->reconnect = 0;
		if (a->connected) {
			(void)mosquitto_disconnect(a->mosq);
			(void)mosquitto_loop_write(a->mosq, 1);
		}
		mosquitto_destroy(a->mosq);
		a->mosq = NULL;
		lost(a);
		a->backoff_ms = 0;
		a->next_connect_ms = 0;
		return (rc = setup(a)) != 0 ? rc : 1;
	}
	drain(a);
	return 0;
}

int cc_agent_run(cc_agent *a, int timeout_ms)
{
	int64_t end = cc_ag_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int rc;

	if (a->mqtt_host[0] == '\0')
		return CC_AGENT_EINVAL;
	if (a->external)
		return CC_AGENT_ESTATE;
	if (a->mosq == NULL && (rc = setup(a)) != 0)
		return rc;
	if ((rc = qload(a)) != 0)
		return rc;
	do {
		int64_t now = cc_ag_mono_ms();
		if (!a->connected && !a->connecting) {
			if (now < a->next_connect_ms) {
				sleep_ms((a->next_connect_ms < end ? a->next_connect_ms : end) - now);
				continue;
			}
			(void)connect_due(a, now);
			if (mosquitto_connect_bind_v5(a->mosq, a->mqtt_host, a->cfg.mqtt_port, KEEPALIVE_S, NULL, NULL) !=
			    MOSQ_ERR_SUCCESS)
				continue;
			a->connecting = 1;
		}
		int wait = (int)(end - now);
		rc = mosquitto_loop(a->mosq, wait > 0 ? (wait < 100 ? wait : 100) : 0, 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			if (a->connected)
				cc_ag_log(a, "MQTT: %s", mosquitto_strerror(rc));
			lost(a);
		}
		if ((rc = housekeeping(a)) < 0)
			return rc;
	} while (cc_ag_mono_ms() < end);
	return CC_AGENT_OK;
}

/* ---- the external loop ---- */

int cc_agent_socket(cc_agent *a)
{
	if (a->mosq == NULL || (!a->connected && !a->connecting))
		return -1;
	return mosquitto_socket(a->mosq);
}

int cc_agent_want_write(cc_agent *a)
{
	if (cc_agent_socket(a) < 0)
		return 0;
	/* Connecting: writable says the TCP connection is made; during the TLS
	 * handshake libmosquitto may wish to write what loop_write cannot
	 * act on (loop_misc drives a stalled handshake instead). */
	if (a->connecting)
		return !a->tcp_up;
	return mosquitto_want_write(a->mosq);
}

/* libmosquitto closed the socket without a callback (a failed handshake). */
static void check_closed(cc_agent *a)
{
	if ((a->connected || a->connecting) && (a->mosq == NULL || mosquitto_socket(a->mosq) < 0)) {
		if (a->connecting)
			a->connect_failures++;
		lost(a);
	}
}

static void connect_failed(cc_agent *a, const char *why)
{
	cc_ag_log(a, "MQTT: cannot connect to %s:%d: %s", a->mqtt_host, a->cfg.mqtt_port, why);
	a->connect_failures++;
	lost(a);
}

/* The handshake's next step: loop_read drives TLS, loop_write then sends
 * CONNECT. */
static void handshake(cc_agent *a)
{
	(void)mosquitto_loop_read(a->mosq, 1);
	if (a->connecting && mosquitto_socket(a->mosq) >= 0)
		(void)mosquitto_loop_write(a->mosq, 1);
	check_closed(a);
}

/* The TCP connection of a non-blocking connect: made, or refused. */
static int tcp_made(cc_agent *a)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (a->tcp_up)
		return 1;
	if (getsockopt(mosquitto_socket(a->mosq), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
		connect_failed(a, err != 0 ? strerror(err) : "no connection");
		return 0;
	}
	a->tcp_up = 1;
	return 1;
}

int cc_agent_loop_read(cc_agent *a)
{
	if (cc_agent_socket(a) < 0)
		return CC_AGENT_OK;
	if (a->connecting) {
		if (tcp_made(a))
			handshake(a);
	} else if (mosquitto_loop_read(a->mosq, 1) != MOSQ_ERR_SUCCESS) {
		if (a->connected)
			cc_ag_log(a, "MQTT connection lost");
		lost(a);
	}
	check_closed(a);
	return CC_AGENT_OK;
}

int cc_agent_loop_write(cc_agent *a)
{
	if (cc_agent_socket(a) < 0)
		return CC_AGENT_OK;
	if (a->connecting) {
		if (tcp_made(a))
			handshake(a);
	} else if (mosquitto_want_write(a->mosq) && mosquitto_loop_write(a->mosq, 1) != MOSQ_ERR_SUCCESS) {
		if (a->connected)
			cc_ag_log(a, "MQTT connection lost");
		lost(a);
	}
	check_closed(a);
	return CC_AGENT_OK;
}

int cc_agent_loop_misc(cc_agent *a)
{
	int64_t now = cc_ag_mono_ms();
	int rc;

	if (a->mqtt_host[0] == '\0')
		return CC_AGENT_EINVAL;
	a->external = 1;
	if (a->mosq == NULL && (rc = setup(a)) != 0)
		return rc;
	if ((rc = qload(a)) != 0)
		return rc;
	if (!a->connected && !a->connecting && connect_due(a, now)) {
		/* Closes a previous socket; the connection is made by the loop. */
		rc = mosquitto_connect_async(a->mosq, a->mqtt_host, a->cfg.mqtt_port, KEEPALIVE_S);
		if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(a->mosq) >= 0) {
			a->connecting = 1;
			a->tcp_up = 0;
			a->connect_started_ms = now;
		} else {
			connect_failed(a, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		}
	} else if (a->connecting) {
		if (now - a->connect_started_ms > CONNECT_TIMEOUT_MS)
			connect_failed(a, "no CONNACK in time");
		else if (a->tcp_up)
			handshake(a);
	} else if (a->connected) {
		(void)mosquitto_loop_misc(a->mosq);
		check_closed(a);
	}
	if ((rc = housekeeping(a)) < 0)
		return rc;
	if (a->connected && mosquitto_want_write(a->mosq) && mosquitto_loop_write(a->mosq, 1) != MOSQ_ERR_SUCCESS)
		lost(a);
	return CC_AGENT_OK;
}

void cc_agent_stats(cc_agent *a, struct cc_agent_stats *st)
{
	uint64_t seq = 0;
	memset(st, 0, sizeof(*st));
	(void)qload(a);
	(void)cc_ag_get_u64(a, "seq", &seq);
	st->queued = a->qtail - a->qhead;
	st->dropped = a->qdropped;
	st->sent = a->sent;
	st->refused = a->refused;
	st->next_seq = seq;
	st->last_seq = a->last_seq;
	st->connect_failures = a->connect_failures;
	st->connected = a->connected;
}
