/* client.c - the single-threaded libmosquitto loop; see client.h. */
#include "sim/client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "fleet/jobs.h"
#include "sim/diag.h"

#define MOD "sim"

#define KEEPALIVE_S 60
#define SESSION_EXPIRY_S 3600
#define MIDS 128                 /* message-id slots per machine, > 2 * CLIENT_WINDOW */
#define CONNECTS_MAX 64          /* connection attempts in progress at once */
#define CONNECTS_PER_PASS 8      /* started per loop pass: each costs ~2 ms of TLS set-up */
#define CONNECT_TIMEOUT_MS 15000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define TICK_MS 100              /* stalled handshakes, ack-log flush */
#define MISC_MS 1000             /* keepalive checks (libmosquitto's loop_misc) */
#define PROGRESS_MS 5000
#define BURST_MAX 16             /* messages one machine may catch up on per pass */
#define CLOSE_MS 2000            /* time given to the final DISCONNECTs */
#define RAMP_MAX_MS 60000        /* the fleet counts as connected after this at the latest */
#define TOPIC_MAX (CC_SERIAL_MAX + 32)
#define PATH_MAX_ 4096
#define COMMANDS_SHOWN 20

enum mstate { MS_NEW, MS_CONNECTING, MS_UP, MS_DOWN, MS_CLOSING, MS_CLOSED };

enum { PF_DATA = 1, PF_HOSTILE = 2, PF_CONTROL = 4 };

/* One unresolved publish: its message id and what it was. */
struct pend {
	uint16_t mid;
	uint8_t used, flags;
	uint32_t seq_off; /* seq - seq_start */
	int64_t sent_us;  /* when it was handed to libmosquitto */
};

struct client;

struct machine {
	struct client *c;
	struct mosquitto *mosq;
	const char *serial;
	const char *other;       /* another machine's serial, for foreign-topic */
	uint32_t index;
	uint8_t state, tcp_up, started, done, fault_done, params_set, ever_up;
	int backoff_ms;
	int64_t reconnect_at, connect_started, down_until;
	double next_due;         /* monotonic ms */
	uint32_t sent;           /* data messages published */
	uint32_t unresolved;     /* entries in pend[] */
	uint64_t qos0_published, qos0_written, qos0_lost;
	char topic_telemetry[TOPIC_MAX], topic_event[TOPIC_MAX], topic_status[TOPIC_MAX];
	struct pend pend[MIDS];
	struct fleet_model model;
};

struct client {
	const struct client_opts *o;
	struct client_stats *st;
	struct machine *m;
	size_t n;
	struct pollfd *pfd;
	uint32_t *pfd_owner;
	FILE *ack;
	FILE *record;
	int connecting;          /* machines in MS_CONNECTING */
	uint32_t quota;          /* data messages per machine */
	uint32_t fault_at;       /* index of the message that carries the fault */
	double period_ms;        /* 0: unthrottled */
	double step_s;           /* model time per message */
	int64_t t0, publish_end, first_publish, last_resolve, drain_end;
	int64_t ramp_end;        /* every machine connected once, or RAMP_MAX_MS passed; 0 before */
	uint64_t unresolved;     /* all machines, data and control */
	uint32_t up;             /* machines in MS_UP */
	unsigned connect_errors_logged, disconnects_logged, commands_shown;
};

static volatile sig_atomic_t stop_requested;

void client_request_stop(void)
{
	stop_requested = 1;
}

int client_stop_requested(void)
{
	return stop_requested != 0;
}

/* ---- the table of unresolved message ids (linear probing) ---- */

static struct pend *pend_find(struct machine *m, uint16_t mid)
{
	unsigned i = mid % MIDS, k;

	for (k = 0; k < MIDS; k++, i = (i + 1) % MIDS) {
		if (!m->pend[i].used)
			return NULL;
		if (m->pend[i].mid == mid)
			return &m->pend[i];
	}
	return NULL;
}

static int pend_add(struct machine *m, uint16_t mid, uint8_t flags, uint32_t seq_off)
{
	unsigned i = mid % MIDS, k;

	for (k = 0; k < MIDS; k++, i = (i + 1) % MIDS) {
		if (!m->pend[i].used || m->pend[i].mid == mid) {
			if (!m->pend[i].used) {
				m->unresolved++;
				m->c->unresolved++;
			}
			m->pend[i].used = 1;
			m->pend[i].mid = mid;
			m->pend[i].flags = flags;
			m->pend[i].seq_off = seq_off;
			m->pend[i].sent_us = clock_mono_us();
			return CC_OK;
		}
	}
	return CC_ERR_LIMIT;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void pend_del(struct machine *m, struct pend *p)
{
	unsigned i = (unsigned)(p - m->pend), j = i;

	m->pend[i].used = 0;
	m->unresolved--;
	m->c->unresolved--;
	for (;;) {
		unsigned home;

		j = (j + 1) % MIDS;
		if (!m->pend[j].used)
			return;
		home = m->pend[j].mid % MIDS;
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			m->pend[i] = m->pend[j];
			m->pend[j].used = 0;
			i = j;
		}
	}
}

/* ---- connection state ---- */

static void schedule_reconnect(struct machine *m, int64_t now)
{
	/* 80-120 % of the back-off, so a fleet does not come back in lockstep. */
	int jitter = (int)(rand() % 41) - 20;
	int64_t delay = m->backoff_ms + (int64_t)m->backoff_ms * jitter / 100;

	m->state = MS_DOWN;
	m->reconnect_at = now + delay;
	if (m->down_until > m->reconnect_at)
		m->reconnect_at = m->down_until;
	m->backoff_ms = m->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : m->backoff_ms * 2;
}

/* QoS 0 packets still queued when a connection ends are gone. */
static void account_qos0_loss(struct machine *m)
{
	uint64_t gone = m->qos0_published - m->qos0_written - m->qos0_lost;

	m->qos0_lost += gone;
	m->c->st->lost += gone;
}

/* The connection ended; libmosquitto has closed the socket, or will at the
 * next reconnect. Never frees anything: this may run inside a callback. */
static void connection_lost(struct machine *m, int before_connack)
{
	struct client *c = m->c;

	if (m->state == MS_CLOSING) {
		m->state = MS_CLOSED;
		return;
	}
	if (m->state == MS_CONNECTING)
		c->connecting--;
	if (m->state == MS_UP) {
		c->up--;
		c->st->disconnects++;
	}
	if (before_connack)
		c->st->connect_errors++;
	account_qos0_loss(m);
	schedule_reconnect(m, clock_mono_ms());
}

static void log_connect_error(struct client *c, struct machine *m, const char *what)
{
	if (c->o->quiet || c->connect_errors_logged >= 5)
		return;
	if (++c->connect_errors_logged == 5)
		log_warn(MOD, "%s: %s (further connection errors are only counted)", m->serial, what);
	else
		log_warn(MOD, "%s: %s", m->serial, what);
}

/* ---- callbacks: they only record what happened ---- */

/* Counts a refusal's MQTT 5 reason string: one of the server's fixed
 * phrases, never message content, so it may be shown. */
static void count_reason_text(struct client_stats *st, const mosquitto_property *props)
{
	char *text = NULL, clean[CLIENT_REASON_TEXT_MAX];
	size_t i, n = 0;
	unsigned k;

	if (props == NULL ||
	    mosquitto_property_read_string(props, MQTT_PROP_REASON_STRING, &text, false) == NULL ||
	    text == NULL)
		return;
	for (i = 0; text[i] != '\0' && n + 1 < sizeof(clean); i++)
		clean[n++] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
	clean[n] = '\0';
	free(text);
	for (k = 0; k < st->reason_texts_used; k++) {
		if (strcmp(st->reason_texts[k].text, clean) == 0) {
			st->reason_texts[k].count++;
			return;
		}
	}
	if (st->reason_texts_used < CLIENT_REASON_TEXTS) {
		memcpy(st->reason_texts[st->reason_texts_used].text, clean, n + 1);
		st->reason_texts[st->reason_texts_used++].count = 1;
	}
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason, const mosquitto_property *props)
{
	struct machine *m = obj;
	struct client *c = m->c;
	struct client_stats *st = c->st;
	struct pend *p = pend_find(m, (uint16_t)mid);
	int refused = reason >= 0x80;

	(void)mosq;
	if (p == NULL) {
		/* QoS 0 data: written to the socket (no acknowledgement exists). */
		if (c->o->qos == 0 && m->state != MS_CLOSING) {
			m->qos0_written++;
			st->acked++;
			c->last_resolve = clock_mono_ms();
		}
		return;
	}
	if (p->flags & PF_CONTROL) {
		if (refused)
			st->control_refused++;
		else
			st->control_acked++;
	} else {
		if (refused) {
			st->refused++;
			st->refused_by_reason[reason & 0xff]++;
			count_reason_text(st, props);
			if (p->flags & PF_HOSTILE)
				st->hostile_refused++;
			else
				st->unexpected_refused++;
		} else {
			st->acked++;
			if (p->flags & PF_HOSTILE) {
				st->hostile_acked++;
			} else {
				int64_t b = (clock_mono_us() - p->sent_us) / CLIENT_LATENCY_BUCKET_US;

				st->latency[b < 0 ? 0 : b >= CLIENT_LATENCY_BUCKETS ? CLIENT_LATENCY_BUCKETS - 1 : b]++;
				if (c->ack != NULL)
					fprintf(c->ack, "%s %lld\n", m->serial,
					        (long long)(c->o->seq_start + p->seq_off));
			}
		}
		c->last_resolve = clock_mono_ms();
	}
	pend_del(m, p);
}

/* Status and info (retained), and results of commands (not): QoS 1, their
 * acknowledgements counted apart from the data's. */
static void publish_qos1(struct machine *m, const char *topic, const char *payload, bool retain)
{
	int mid = 0, rc;

	if (m->unresolved >= MIDS - 2) /* a server that never acknowledges these */
		return;
	rc = mosquitto_publish(m->mosq, &mid, topic, (int)strlen(payload), payload, 1, retain);
	if ((rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN) &&
	    pend_add(m, (uint16_t)mid, PF_CONTROL, 0) == CC_OK) {
		m->c->st->control_sent++;
	} else {
		m->c->st->publish_errors++;
	}
}

static void publish_control(struct machine *m, const char *topic, const char *payload)
{
	publish_qos1(m, topic, payload, true);
}

/* A command on cc/v1/{serial}/cmd/{name}/{id} is answered on
 * cc/v1/{serial}/cmd/{id}/result (docs/METRICS.md "Commands and jobs"):
 * accepted, then succeeded, with a small result for diagnostics; an
 * update-offer fails at the --fail-rate. One without an id (an older
 * server) is only counted. */
/* A diagnostics command with an upload path, when the simulator knows the
 * people's HTTPS listener (--https-port): the bundle, uploaded (sim/diag.h). */
static void upload_diagnostics(struct machine *m, const void *payload, int len, char *reason, size_t cap)
{
	struct client *c = m->c;
	int rc = sim_diag_answer(c->o->host, c->o->https_port, c->o->certs_dir, m->serial, c->o->seed,
	                         (double)(clock_mono_ms() - c->t0) / 1000.0 + 86400.0, payload,
	                         len > 0 ? (size_t)len : 0, reason, cap);

	if (rc < 0)
		c->st->diagnostics_failed++;
	else if (rc > 0)
		c->st->diagnostics_uploaded++;
}

static void answer_command(struct machine *m, const char *topic, const void *payload, int len)
{
	struct client *c = m->c;
	char prefix[TOPIC_MAX], name[32], result[TOPIC_MAX], diag_done[JOBS_REASON_MAX + 48];
	const char *p, *slash, *done;
	size_t plen, i;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "cc/v1/%s/cmd/", m->serial);
	if (strncmp(topic, prefix, plen) != 0)
		return;
	p = topic + plen;
	slash = strchr(p, '/');
	if (slash == NULL || (size_t)(slash - p) >= sizeof(name) || slash[1] == '\0' || strlen(slash + 1) > 18)
		return;
	for (i = 1; slash[i] != '\0'; i++)
		if (slash[i] < '0' || slash[i] > '9')
			return;
	memcpy(name, p, (size_t)(slash - p));
	name[slash - p] = '\0';
	snprintf(result, sizeof(result), "cc/v1/%s/cmd/%s/result", m->serial, slash + 1);
	publish_qos1(m, result, "{\"state\":\"accepted\"}", false);
	if (strcmp(name, "update-offer") == 0 && rand() / (RAND_MAX + 1.0) < c->o->fail_rate)
		done = "{\"state\":\"failed\",\"reason\":\"offer rejected: product not on this machine\"}";
	else if (strcmp(name, "diagnostics") == 0 && c->o->https_port > 0 && c->o->certs_dir != NULL) {
		char reason[JOBS_REASON_MAX + 1] = "";

		upload_diagnostics(m, payload, len, reason, sizeof(reason));
		snprintf(diag_done, sizeof(diag_done), "{\"state\":\"%s\",\"reason\":\"%s\"}",
		         strncmp(reason, "bundle uploaded", 15) == 0 ? "succeeded" : "failed", reason);
		done = diag_done;
	} else if (strcmp(name, "diagnostics") == 0)
		done = "{\"state\":\"succeeded\",\"reason\":\"boiler 93.2 C, pump 9.1 bar, no fault codes\"}";
	else
		done = "{\"state\":\"succeeded\"}";
	publish_qos1(m, result, done, false);
	c->st->commands_answered++;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *props)
{
	struct machine *m = obj;
	struct client *c = m->c;
	char topic[TOPIC_MAX];
	int64_t now = clock_mono_ms();

	(void)props;
	if (rc != 0) {
		char what[96];

		snprintf(what, sizeof(what), "connection refused: %s (0x%02x)",
		         c->o->protocol == 5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc), rc);
		log_connect_error(c, m, what);
		return; /* libmosquitto closes the connection: on_disconnect follows */
	}
	if (m->state == MS_CONNECTING)
		c->connecting--;
	m->state = MS_UP;
	c->up++;
	m->backoff_ms = BACKOFF_MIN_MS;
	c->st->connects++;
	if (m->ever_up)
		c->st->reconnects++;
	else
		c->st->machines_connected++;
	m->ever_up = 1;
	if (flags & 1)
		c->st->sessions_resumed++;
	if (c->st->machines_connected == c->n && c->st->connect_seconds == 0)
		c->st->connect_seconds = (double)(now - c->t0) / 1000.0;

	publish_control(m, m->topic_status, "online");
	snprintf(topic, sizeof(topic), "cc/v1/%s/info", m->serial);
	publish_control(m, topic, CLIENT_INFO);
	snprintf(topic, sizeof(topic), "cc/v1/%s/cmd/#", m->serial);
	if (mosquitto_subscribe(mosq, NULL, topic, 1) != MOSQ_ERR_SUCCESS)
		c->st->publish_errors++;
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc, const mosquitto_property *props)
{
	struct machine *m = obj;
	struct client *c = m->c;

	(void)mosq;
	(void)props;
	/* rc: a server's DISCONNECT reason code (>= 0x80), else libmosquitto's
	 * own error. A drop we caused ourselves (--fault disconnect) is quiet. */
	if (m->state == MS_UP && rc != 0 && m->down_until < clock_mono_ms() && !c->o->quiet &&
	    c->disconnects_logged < 5) {
		c->disconnects_logged++;
		log_warn(MOD, "%s: disconnected: %s (%d)%s", m->serial,
		         rc >= 0x80 ? mosquitto_reason_string(rc) : mosquitto_strerror(rc), rc,
		         c->disconnects_logged == 5 ? "; further disconnects are only counted" : "");
	}
	connection_lost(m, m->state == MS_CONNECTING);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	struct machine *m = obj;
	struct client *c = m->c;

	(void)mosq;
	(void)props;
	c->st->commands_received++;
	if (!c->o->quiet && c->commands_shown < COMMANDS_SHOWN) {
		c->commands_shown++;
		printf("%s: command on %s (%d bytes)%s\n", m->serial, msg->topic, msg->payloadlen,
		       c->commands_shown == COMMANDS_SHOWN ? "; further commands are only counted" : "");
	}
	answer_command(m, msg->topic, msg->payload, msg->payloadlen);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int count, const int *granted,
                         const mosquitto_property *props)
{
	struct machine *m = obj;

	(void)mosq;
	(void)mid;
	(void)props;
	if (count > 0 && granted[0] >= 0x80 && !m->c->o->quiet)
		log_warn(MOD, "%s: subscription to its command topic refused (0x%02x)", m->serial, granted[0]);
}

/* ---- setting up ---- */

static int fd_limit_tighten(struct rlimit *saved);
static void fd_limit_restore(const struct rlimit *saved);

static int machine_setup(struct client *c, struct machine *m)
{
	const struct client_opts *o = c->o;
	char ca[PATH_MAX_], crt[PATH_MAX_], key[PATH_MAX_];
	struct rlimit saved;
	int rc, tight;

	tight = fd_limit_tighten(&saved);
	m->mosq = mosquitto_new(m->serial, false, m);
	if (tight)
		fd_limit_restore(&saved);
	if (m->mosq == NULL) {
		log_error(MOD, "%s: cannot create an MQTT client: %s", m->serial, strerror(errno));
		return CC_ERR_NOMEM;
	}
	rc = mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
	                          o->protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_max_inflight_messages_set(m->mosq, CLIENT_WINDOW);
	if (rc == MOSQ_ERR_SUCCESS && o->plain)
		rc = mosquitto_username_pw_set(m->mosq, m->serial, NULL);
	if (rc == MOSQ_ERR_SUCCESS && !o->plain) {
		char dir[PATH_MAX_];

		if (file_join(dir, sizeof(dir), o->certs_dir, m->serial) != CC_OK ||
		    file_join(ca, sizeof(ca), dir, "ca.crt") != CC_OK ||
		    file_join(crt, sizeof(crt), dir, "machine.crt") != CC_OK ||
		    file_join(key, sizeof(key), dir, "machine.key") != CC_OK)
			return CC_ERR_LIMIT;
		rc = mosquitto_tls_set(m->mosq, ca, NULL, crt, key, NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			log_error(MOD, "%s: cannot use the bundle in %s: %s", m->serial, dir, mosquitto_strerror(rc));
			return CC_ERR_IO;
		}
		/* 1 = SSL_VERIFY_PEER; libmosquitto also checks the host name. */
		rc = mosquitto_tls_opts_set(m->mosq, 1, "tlsv1.3", NULL);
	}
	if (rc == MOSQ_ERR_SUCCESS)
		rc = o->protocol == 5
		     ? mosquitto_will_set_v5(m->mosq, m->topic_status, 7, "offline", 1, true, NULL)
		     : mosquitto_will_set(m->mosq, m->topic_status, 7, "offline", 1, true);
	if (rc != MOSQ_ERR_SUCCESS) {
		log_error(MOD, "%s: cannot configure the MQTT client: %s", m->serial, mosquitto_strerror(rc));
		return CC_ERR_INVALID;
	}
	mosquitto_connect_v5_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(m->mosq, on_publish);
	mosquitto_message_v5_callback_set(m->mosq, on_message);
	mosquitto_subscribe_v5_callback_set(m->mosq, on_subscribe);
	return CC_OK;
}

/*
 * libmosquitto gives every client a socket pair when it is created (only
 * its threaded loop uses it): three descriptors per machine would cap a
 * fleet at a third of the open-file limit. While the soft limit leaves no
 * descriptor free the socket pair fails, which libmosquitto takes as a
 * harmless warning. Returns 1 when the limit was tightened (*saved holds
 * the old one).
 */
static int fd_limit_tighten(struct rlimit *saved)
{
	struct rlimit tight;
	int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (lowest < 0)
		return 0;
	close(lowest);
	if (getrlimit(RLIMIT_NOFILE, saved) != 0)
		return 0;
	tight = *saved;
	tight.rlim_cur = (rlim_t)lowest; /* every descriptor below is taken */
	return setrlimit(RLIMIT_NOFILE, &tight) == 0;
}

static void fd_limit_restore(const struct rlimit *saved)
{
	setrlimit(RLIMIT_NOFILE, saved);
}

/*
 * Stores host, port, keepalive and CONNECT properties (MQTT 5 session
 * expiry) in the client without connecting: libmosquitto has no
 * non-blocking connect that takes properties, so the blocking one is called
 * while no descriptor is free and fails at socket(); every connection is
 * then made by mosquitto_reconnect_async() with the stored parameters.
 */
static void machine_store_params(struct client *c, struct machine *m)
{
	const struct client_opts *o = c->o;
	struct rlimit saved;
	mosquitto_property *props = NULL;
	int tight = fd_limit_tighten(&saved);

	if (o->protocol == 5) {
		mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, SESSION_EXPIRY_S);
		(void)mosquitto_connect_bind_v5(m->mosq, o->host, o->port, KEEPALIVE_S, NULL, props);
		mosquitto_property_free_all(&props);
	} else {
		(void)mosquitto_connect_bind(m->mosq, o->host, o->port, KEEPALIVE_S, NULL);
	}
	if (tight)
		fd_limit_restore(&saved);
	m->params_set = 1;
}

static void start_connect(struct client *c, struct machine *m, int64_t now)
{
	int rc;

	if (!m->params_set)
		machine_store_params(c, m);
	/* Closes a previous socket, keeps the session's queued messages. */
	rc = mosquitto_reconnect_async(m->mosq);
	if (rc != MOSQ_ERR_SUCCESS) {
		char what[128];

		snprintf(what, sizeof(what), "cannot connect to %s:%d: %s", c->o->host, c->o->port,
		         rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		log_connect_error(c, m, what);
		c->st->connect_errors++;
		account_qos0_loss(m);
		schedule_reconnect(m, now);
		return;
	}
	m->state = MS_CONNECTING;
	m->tcp_up = 0;
	m->connect_started = now;
	c->connecting++;
}

/* A connection attempt that cannot complete: forget it. The socket stays
 * with libmosquitto, out of the poll set, until the next reconnect closes it. */
static void abort_connect(struct client *c, struct machine *m, int64_t now, const char *why)
{
	log_connect_error(c, m, why);
	c->connecting--;
	c->st->connect_errors++;
	account_qos0_loss(m);
	schedule_reconnect(m, now);
}

/* ---- publishing ---- */

/* Publishing ends `duration` after the ramp (every machine connected), or
 * when a count-mode run has had ample time; --timeout caps both. */
static void set_publish_end(struct client *c, int64_t ramp_end)
{
	const struct client_opts *o = c->o;
	int64_t end;

	if (o->duration_s > 0)
		end = ramp_end + (int64_t)(o->duration_s * 1000);
	else
		end = ramp_end + (int64_t)((o->rate > 0 ? o->count / o->rate * 1.5 : 240) * 1000) + 60000;
	if (o->timeout_s > 0 && c->t0 + (int64_t)(o->timeout_s * 1000) < end)
		end = c->t0 + (int64_t)(o->timeout_s * 1000);
	c->publish_end = end;
}

static int publish_over(const struct client *c, int64_t now)
{
	return stop_requested || now >= c->publish_end;
}

/* Drops the connection abruptly, as a pulled cable would (--fault disconnect). */
static void drop_connection(struct client *c, struct machine *m, int64_t now)
{
	int fd = mosquitto_socket(m->mosq);
	int64_t down = c->period_ms * 2.5 > 1000 ? (int64_t)(c->period_ms * 2.5) : 1000;

	if (down > 5000)
		down = 5000;
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	m->down_until = now + down;
}

static void publish_one(struct client *c, struct machine *m, int64_t now)
{
	const struct client_opts *o = c->o;
	struct client_stats *st = c->st;
	struct fleet_msg msg;
	enum fleet_fault fault = FLEET_FAULT_NONE;
	int64_t seq = o->seq_start + m->sent, ts;
	const char *topic;
	char foreign[TOPIC_MAX];
	int mid = 0, rc, down = m->state != MS_UP;

	if (o->fault != FLEET_FAULT_NONE && !m->fault_done && m->sent >= c->fault_at) {
		m->fault_done = 1;
		if (o->fault == FLEET_FAULT_DISCONNECT) {
			if (m->state == MS_UP)
				drop_connection(c, m, now);
		} else {
			fault = o->fault;
		}
	}
	/* Model time when backfilling: the message's place in the model's day. */
	ts = o->backfill_from_ms > 0 ? o->backfill_from_ms + (int64_t)(((double)m->sent + 1) * c->step_s * 1000.0)
	                             : clock_now_ms();
	if (fleet_model_next(&m->model, c->step_s, seq, ts, fault, &msg) != CC_OK) {
		st->publish_errors++;
		m->sent++;
		return;
	}
	if (msg.foreign) {
		snprintf(foreign, sizeof(foreign), "cc/v1/%s/telemetry", m->other);
		topic = foreign;
	} else {
		topic = msg.kind == FLEET_EVENT ? m->topic_event : m->topic_telemetry;
	}
	if (o->qos == 0)
		m->qos0_published++;
	rc = mosquitto_publish(m->mosq, &mid, topic, (int)msg.len, msg.payload, o->qos, false);
	if (c->record != NULL && !msg.hostile && !msg.foreign)
		fprintf(c->record, "{\"serial\":\"%s\",\"topic\":\"%s\",\"msg\":%.*s}\n", m->serial,
		        msg.kind == FLEET_EVENT ? "event" : "telemetry", (int)msg.len, msg.payload);
	m->sent++;
	st->sent++;
	if (msg.kind == FLEET_EVENT)
		st->events++;
	else
		st->telemetry++;
	if (msg.hostile)
		st->hostile_sent++;
	if (c->first_publish == 0)
		c->first_publish = now;
	if (o->qos == 0) {
		if (rc != MOSQ_ERR_SUCCESS) {
			m->qos0_lost++;
			st->lost++;
		}
		return;
	}
	/* With QoS > 0 the message is queued in libmosquitto whenever a message
	 * id was given: a connection error only delays it to the reconnect. */
	if ((rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST ||
	     rc == MOSQ_ERR_ERRNO) &&
	    pend_add(m, (uint16_t)mid, (uint8_t)(PF_DATA | (msg.hostile ? PF_HOSTILE : 0)),
	             (uint32_t)(seq - o->seq_start)) == CC_OK) {
		if (down || rc != MOSQ_ERR_SUCCESS)
			st->queued_while_down++;
	} else {
		st->publish_errors++;
		if (st->publish_errors <= 3 && !o->quiet)
			log_warn(MOD, "%s: publish refused by libmosquitto: %s", m->serial, mosquitto_strerror(rc));
	}
}

static int window_full(const struct client *c, const struct machine *m)
{
	if (c->o->qos > 0)
		return m->unresolved >= CLIENT_WINDOW;
	return m->unresolved >= CLIENT_WINDOW ||
	       m->qos0_published - m->qos0_written - m->qos0_lost >= CLIENT_WINDOW;
}

/* Publishes what is due for one machine, within its window. */
static void pump(struct client *c, struct machine *m, int64_t now)
{
	int budget = BURST_MAX;

	if (!m->started || m->done || m->state == MS_CLOSING || m->state == MS_CLOSED)
		return;
	while (budget-- > 0) {
		if (publish_over(c, now) || m->sent >= c->quota) {
			m->done = 1;
			return;
		}
		if (c->period_ms > 0 && m->next_due > (double)now)
			return;
		if (window_full(c, m))
			return;
		publish_one(c, m, now);
		if (c->period_ms > 0) {
			m->next_due += c->period_ms;
			/* A machine far behind (window full, loop late) does not burst. */
			if (m->next_due < (double)now - BURST_MAX * c->period_ms)
				m->next_due = (double)now - BURST_MAX * c->period_ms;
		}
	}
}

/* ---- the loop ---- */

static int sock_of(const struct machine *m)
{
	return mosquitto_socket(m->mosq);
}

/* After libmosquitto ran: a socket it closed without a callback (a failed
 * TLS handshake) means the connection is gone. */
static void check_closed(struct client *c, struct machine *m, int64_t now)
{
	if (sock_of(m) >= 0)
		return;
	if (m->state == MS_CONNECTING)
		abort_connect(c, m, now, "TLS handshake failed");
	else if (m->state == MS_UP || m->state == MS_CLOSING)
		connection_lost(m, 0);
}

static void handle_io(struct client *c, struct machine *m, short revents, int64_t now)
{
	struct mosquitto *q = m->mosq;

	if (m->state == MS_CONNECTING) {
		if (!m->tcp_up && (revents & (POLLERR | POLLHUP))) {
			int err = 0;
			socklen_t len = sizeof(err);
			char what[96];

			getsockopt(sock_of(m), SOL_SOCKET, SO_ERROR, &err, &len);
			/* The TLS library may have consumed the error already. */
			snprintf(what, sizeof(what), "cannot connect to %s:%d: %s", c->o->host, c->o->port,
			         err ? strerror(err) : "connection refused or reset");
			abort_connect(c, m, now, what);
			return;
		}
		if (revents & (POLLOUT | POLLIN))
			m->tcp_up = 1;
		/* loop_read drives the TLS handshake; loop_write then sends CONNECT. */
		mosquitto_loop_read(q, 1);
		if (sock_of(m) >= 0 && m->state != MS_DOWN)
			mosquitto_loop_write(q, 1);
		check_closed(c, m, now);
		return;
	}
	if (revents & (POLLIN | POLLERR | POLLHUP))
		mosquitto_loop_read(q, 1);
	pump(c, m, now);
	if (sock_of(m) >= 0 && (m->state == MS_UP || m->state == MS_CLOSING) &&
	    ((revents & POLLOUT) || mosquitto_want_write(q)))
		mosquitto_loop_write(q, 1);
	check_closed(c, m, now);
}

static int in_poll_set(const struct machine *m)
{
	return (m->state == MS_CONNECTING || m->state == MS_UP || m->state == MS_CLOSING) && sock_of(m) >= 0;
}

static short poll_events(const struct machine *m)
{
	if (m->state == MS_CONNECTING && !m->tcp_up)
		return POLLOUT;
	/* During the handshake libmosquitto may report a write wish it cannot
	 * act on from loop_write; the tick pokes a stalled handshake instead. */
	if (m->state == MS_CONNECTING)
		return POLLIN;
	return (short)(POLLIN | (mosquitto_want_write(m->mosq) ? POLLOUT : 0));
}

static void tick(struct client *c, int64_t now, int misc)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct machine *m = &c->m[i];

		if (m->state == MS_UP && misc) {
			mosquitto_loop_misc(m->mosq);
			check_closed(c, m, now);
		} else if (m->state == MS_CONNECTING) {
			if (now - m->connect_started > CONNECT_TIMEOUT_MS) {
				abort_connect(c, m, now, "no CONNACK in time");
			} else if (m->tcp_up) {
				mosquitto_loop_read(m->mosq, 1);
				if (sock_of(m) >= 0 && m->state == MS_CONNECTING)
					mosquitto_loop_write(m->mosq, 1);
				check_closed(c, m, now);
			}
		}
	}
	if (c->ack != NULL)
		fflush(c->ack);
}

static void progress(struct client *c, int64_t now)
{
	const struct client_stats *st = c->st;

	log_info(MOD, "%.1f s: %u/%zu connected, sent %llu, acked %llu, refused %llu, pending %llu, reconnects %llu",
	         (double)(now - c->t0) / 1000.0, c->up, c->n, (unsigned long long)st->sent,
	         (unsigned long long)st->acked, (unsigned long long)st->refused,
	         (unsigned long long)c->unresolved, (unsigned long long)st->reconnects);
}

/* One pass over the fleet: connections to start, messages due. Returns
 * the time of the next thing that will be due. */
static int64_t schedule(struct client *c, int64_t now)
{
	int64_t next = now + TICK_MS;
	int started = 0;
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct machine *m = &c->m[i];

		if (!m->done && publish_over(c, now))
			m->done = 1;
		/* Machines reconnect until the end while they have messages to resend. */
		if ((m->state == MS_NEW || m->state == MS_DOWN) && (!m->done || m->unresolved > 0)) {
			if (now >= m->reconnect_at && c->connecting < CONNECTS_MAX && started < CONNECTS_PER_PASS) {
				start_connect(c, m, now);
				started++;
			} else if (m->reconnect_at < next) {
				next = m->reconnect_at > now ? m->reconnect_at : now;
			}
		}
		/* A machine starts its schedule at its first connection, at a
		 * random phase within one period so the fleet does not publish in
		 * bursts; unthrottled, it waits for the whole fleet (a benchmark
		 * measures the full fleet, and connecting is not starved). */
		if (m->ever_up && !m->started && (c->period_ms > 0 || c->ramp_end != 0)) {
			m->started = 1;
			m->next_due = (double)now + c->period_ms * (rand() / (RAND_MAX + 1.0));
		}
		if (m->started && !m->done) {
			int busy = window_full(c, m);

			pump(c, m, now);
			if (m->state == MS_UP && mosquitto_want_write(m->mosq))
				mosquitto_loop_write(m->mosq, 1);
			/* rounded up: waking a fraction of a ms early would spin */
			if (!m->done && c->period_ms > 0 && !busy && (int64_t)(m->next_due + 0.999) < next)
				next = (int64_t)(m->next_due + 0.999);
		}
	}
	if (c->publish_end < next && c->drain_end == 0)
		next = c->publish_end;
	return next;
}

static int all_done(const struct client *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!c->m[i].done)
			return 0;
	return 1;
}

static void poll_once(struct client *c, int timeout_ms)
{
	nfds_t nfds = 0;
	size_t i;
	int rc;

	for (i = 0; i < c->n; i++) {
		if (!in_poll_set(&c->m[i]))
			continue;
		c->pfd[nfds].fd = sock_of(&c->m[i]);
		c->pfd[nfds].events = poll_events(&c->m[i]);
		c->pfd[nfds].revents = 0;
		c->pfd_owner[nfds] = (uint32_t)i;
		nfds++;
	}
	rc = poll(c->pfd, nfds, timeout_ms < 0 ? 0 : timeout_ms);
	if (rc <= 0)
		return;
	for (i = 0; i < nfds; i++) {
		struct machine *m = &c->m[c->pfd_owner[i]];

		/* The descriptor may have been closed and reused by now. */
		if (c->pfd[i].revents == 0 || sock_of(m) != c->pfd[i].fd || !in_poll_set(m))
			continue;
		handle_io(c, m, c->pfd[i].revents, clock_mono_ms());
	}
}

static void run_loop(struct client *c)
{
	int64_t now = clock_mono_ms(), next_tick = now + TICK_MS, next_progress = now + PROGRESS_MS;
	int64_t next_misc = now + MISC_MS;
	int stopping = 0;

	for (;;) {
		int64_t next;

		now = clock_mono_ms();
		if (c->ramp_end == 0 && (c->st->machines_connected == c->n || now >= c->t0 + RAMP_MAX_MS)) {
			c->ramp_end = now;
			set_publish_end(c, now);
		}
		if (stop_requested && !stopping) {
			stopping = 1;
			c->st->interrupted = 1;
			c->drain_end = now + CLIENT_STOP_DRAIN_MS;
		}
		next = schedule(c, now);
		if (all_done(c)) {
			if (c->drain_end == 0)
				c->drain_end = now + CLIENT_DRAIN_MS;
			if (c->unresolved == 0 || now >= c->drain_end)
				break;
		}
		if (next_tick < next)
			next = next_tick;
		poll_once(c, (int)(next - now));
		now = clock_mono_ms();
		if (now >= next_tick) {
			tick(c, now, now >= next_misc);
			next_tick = now + TICK_MS;
			if (now >= next_misc)
				next_misc = now + MISC_MS;
		}
		if (!c->o->quiet && now >= next_progress) {
			progress(c, now);
			next_progress = now + PROGRESS_MS;
		}
	}
}

/* Ends every connection politely: MQTT 5 asks the server to publish the
 * will ("offline"); MQTT 3.1.1 publishes it itself first. */
static void close_all(struct client *c)
{
	int64_t end = clock_mono_ms() + CLOSE_MS;
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct machine *m = &c->m[i];

		if (m->state == MS_CONNECTING)
			c->connecting--;
		if (m->state != MS_UP) {
			m->state = MS_CLOSED;
			continue;
		}
		m->state = MS_CLOSING;
		m->done = 1;
		c->up--;
		if (c->o->protocol == 5) {
			mosquitto_disconnect_v5(m->mosq, MQTT_RC_DISCONNECT_WITH_WILL_MSG, NULL);
		} else {
			mosquitto_publish(m->mosq, NULL, m->topic_status, 7, "offline", 0, true);
			mosquitto_disconnect(m->mosq);
		}
	}
	for (;;) {
		int64_t now = clock_mono_ms();
		int left = 0;

		for (i = 0; i < c->n; i++)
			if (c->m[i].state == MS_CLOSING && sock_of(&c->m[i]) >= 0)
				left++;
		if (left == 0 || now >= end)
			break;
		poll_once(c, (int)(end - now < 50 ? end - now : 50));
	}
}

static int raise_file_limit(size_t n)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)n + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return CC_OK;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need * 2 ? need * 2 : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need) {
			log_error(MOD, "%zu machines need %llu open files; the limit is %llu (ulimit -n)", n,
			          (unsigned long long)need, (unsigned long long)rl.rlim_max);
			return CC_ERR_LIMIT;
		}
	}
	return CC_OK;
}

static void finish_stats(struct client *c)
{
	struct client_stats *st = c->st;
	size_t i;

	st->unresolved = 0;
	st->shortfall = 0;
	for (i = 0; i < c->n; i++) {
		struct machine *m = &c->m[i];
		unsigned k;

		for (k = 0; k < MIDS; k++)
			if (m->pend[k].used && (m->pend[k].flags & PF_DATA))
				st->unresolved++;
		if (c->o->duration_s <= 0 && m->sent < c->quota)
			st->shortfall += c->quota - m->sent;
		if (m->sent > st->max_sent)
			st->max_sent = m->sent;
		st->events_dropped += fleet_model_events_dropped(&m->model);
	}
	if (c->first_publish != 0 && c->last_resolve > c->first_publish)
		st->seconds = (double)(c->last_resolve - c->first_publish) / 1000.0;
	st->elapsed_seconds = (double)(clock_mono_ms() - c->t0) / 1000.0;
}

int client_run(const struct client_opts *o, const char *const *serials, size_t n, struct client_stats *st)
{
	struct client c;
	size_t i;
	int rc = CC_OK, lib_ready = 0;

	memset(st, 0, sizeof(*st));
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.st = st;
	c.n = n;
	st->machines = (uint32_t)n;
	if (n == 0 || n > CLIENT_MACHINES_MAX || (o->protocol != 5 && o->protocol != 3) || o->qos < 0 ||
	    o->qos > 2 || o->rate < 0 || o->speedup <= 0)
		return CC_ERR_INVALID;
	rc = raise_file_limit(n);
	if (rc != CC_OK)
		return rc;
	/* A server that closes on us must not kill the simulator mid-write. */
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned)(o->seed ^ (o->seed >> 32)));

	c.period_ms = o->rate > 0 ? 1000.0 / o->rate : 0;
	c.step_s = o->speedup * (o->rate > 0 ? 1.0 / o->rate : 1.0);
	if (o->duration_s > 0) {
		c.quota = UINT32_MAX;
		c.fault_at = o->rate > 0 ? (uint32_t)(o->duration_s * o->rate / 2) : 50;
	} else {
		c.quota = o->count;
		c.fault_at = o->count / 2;
	}
	c.m = calloc(n, sizeof(*c.m));
	c.pfd = calloc(n, sizeof(*c.pfd));
	c.pfd_owner = calloc(n, sizeof(*c.pfd_owner));
	if (c.m == NULL || c.pfd == NULL || c.pfd_owner == NULL) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	if (o->ack_log != NULL) {
		c.ack = fopen(o->ack_log, "a");
		if (c.ack == NULL) {
			log_error(MOD, "%s: cannot open the ack log: %s", o->ack_log, strerror(errno));
			rc = CC_ERR_IO;
			goto out;
		}
		setvbuf(c.ack, NULL, _IOFBF, 1 << 16);
	}
	if (o->record != NULL) {
		c.record = fopen(o->record, "a");
		if (c.record == NULL) {
			log_error(MOD, "%s: cannot open the record: %s", o->record, strerror(errno));
			rc = CC_ERR_IO;
			goto out;
		}
		setvbuf(c.record, NULL, _IOFBF, 1 << 16);
	}
	mosquitto_lib_init();
	lib_ready = 1;
	for (i = 0; i < n; i++) {
		struct machine *m = &c.m[i];

		m->c = &c;
		m->index = (uint32_t)i;
		m->serial = serials[i];
		m->other = n > 1 ? serials[(i + 1) % n] : "SIM-FOREIGN-0000";
		m->backoff_ms = BACKOFF_MIN_MS;
		snprintf(m->topic_telemetry, TOPIC_MAX, "cc/v1/%s/telemetry", m->serial);
		snprintf(m->topic_event, TOPIC_MAX, "cc/v1/%s/event", m->serial);
		snprintf(m->topic_status, TOPIC_MAX, "cc/v1/%s/status", m->serial);
		fleet_model_init(&m->model, o->seed, (uint32_t)i, o->start_day_s);
		if (i < o->nscenarios)
			fleet_model_scenario(&m->model, o->scenario[i]);
		rc = machine_setup(&c, m);
		if (rc != CC_OK)
			goto out;
	}

	c.t0 = clock_mono_ms();
	set_publish_end(&c, c.t0 + RAMP_MAX_MS);

	run_loop(&c);
	finish_stats(&c);
	close_all(&c);
out:
	if (c.ack != NULL) {
		if (fflush(c.ack) != 0 || fclose(c.ack) != 0) {
			log_error(MOD, "%s: cannot write the ack log: %s", o->ack_log, strerror(errno));
			if (rc == CC_OK)
				rc = CC_ERR_IO;
		}
	}
	if (c.record != NULL && (fflush(c.record) != 0 || fclose(c.record) != 0)) {
		log_error(MOD, "%s: cannot write the record: %s", o->record, strerror(errno));
		if (rc == CC_OK)
			rc = CC_ERR_IO;
	}
	if (c.m != NULL)
		for (i = 0; i < n; i++)
			mosquitto_destroy(c.m[i].mosq);
	if (lib_ready)
		mosquitto_lib_cleanup();
	free(c.m);
	free(c.pfd);
	free(c.pfd_owner);
	return rc;
}
