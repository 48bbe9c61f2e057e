#include "daemon/mqtt_server.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/strmap.h"
#include "crypto/aead.h"
#include "daemon/netaddr.h"
#include "daemon/registry.h"
#include "daemon/tls.h"
#include "fleet/commands.h"
#include "fleet/jobs.h"
#include "fleet/machine_config.h"
#include "fleet/inventory.h"
#include "fleet/provision.h"
#include "ingest/message.h"
#include "mqtt/acl.h"
#include "mqtt/broker.h"
#include "mqtt/session.h"
#include "ops/metrics.h"

#define MOD "mqtt"
#define BROKER_TICK_MS 100
#define COMMANDS_IN_FLIGHT 8
#define DONE_CHUNK 1024
#define CLOSE_GRACE_MS 2000
#define READ_CHUNK 16384 /* one TLS record's plaintext */
#define TLS_LISTENER 0
#define PLAIN_LISTENER 1

struct conn;

struct listener {
	struct mqtt_server *srv;
	struct session_config session_cfg;
	struct evconnlistener *ev;
	int tls;
	enum acl_mode acl;
	char addr[64];
};

/* A machine's session that outlives its connection (clean start 0). */
struct remembered {
	int subscribed_cmd;
	int64_t expires_ms; /* 0: until the daemon stops */
};

struct mqtt_server {
	struct event_base *base;
	struct config cfg;
	struct listener listeners[2];
	SSL_CTX *tls;
	struct vault *vault;
	struct registry *registry;
	int registry_sweep_due;    /* reloaded at a CONNECT: the timer checks the live ones */
	char commands_version[32];
	struct writer *writer;
	struct event *done_ev;   /* activated by the writer thread */
	struct event *flush_ev;  /* activated when output is queued: writes it at the end of the loop turn */
	struct conn *dirty;      /* connections with output queued this turn */
	struct event *poll_ev;   /* fleet changes: new and revoked machines */
	struct event *expire_ev; /* commands past their job's deadline end as timed out */
	struct broker *broker;   /* the open listener's in-memory broker (NULL without one) */
	struct event *tick_ev;   /* its delayed wills and session expiry */
	struct conn **conns;     /* slot -> connection */
	uint32_t *generations;   /* slot -> generation, so stale ids never match */
	size_t nslots, nconns;
	struct strmap *by_serial;   /* serial -> struct conn * */
	struct strmap *per_address; /* host -> (count as pointer) */
	struct strmap *sessions;    /* serial -> struct remembered * */
	int stopping;
	uint8_t tag_key[32];        /* per process: keyed tags of refused input in logs */
	uint64_t barrier_id;
	uint64_t refused, accepted, dropped;
	char refusal[160]; /* a refusal's reason, sent at once as the MQTT 5 reason string */
};

/* A command sent to a machine and not yet recorded as delivered. */
struct command_flight {
	int64_t command_id;
	uint16_t packet_id;
	uint8_t acked; /* acknowledged; kept until the store says so, so it is not sent again */
};

/* One per connection, idle ones included: kept small (docs/PERFORMANCE.md
 * "Idle machine connections"); commands in flight get their table only
 * while there are some. */
struct conn {
	struct mqtt_server *srv;
	struct listener *l;
	uint64_t id;
	struct mqtt_session *session;
	SSL *ssl;                /* NULL on the plain listener */
	struct event *ev;        /* readable, with the CONNECT or keepalive timeout */
	struct event *wev;       /* writable: made the first time a write has to wait */
	struct conn *dirty_next; /* in srv->dirty */
	uint8_t *in;             /* an incomplete packet, or input held back by back-pressure; else NULL */
	uint8_t *out;            /* what is queued for the peer; NULL when nothing is */
	size_t in_len, out_len, out_cap;
	evutil_socket_t fd;
	struct event *close_ev; /* frees the connection at a safe point of the loop */
	struct broker_session *bsess; /* open ACL: the broker's session, NULL once taken over */
	struct command_flight *commands; /* COMMANDS_IN_FLIGHT while ncommands > 0, else NULL */
	int64_t machine_id, customer_id;
	int64_t disconnect_expiry;    /* a DISCONNECT's session expiry, -1: none */
	uint32_t session_expiry;
	uint8_t ncommands;
	unsigned connected : 1;     /* CONNECT accepted */
	unsigned closing : 1;       /* no more input; freed once the output is flushed */
	unsigned clean_exit : 1;    /* the client sent DISCONNECT */
	unsigned clean_start : 1;
	unsigned will_armed : 1;    /* a machine's will (`offline` on its status): applied unless DISCONNECT 0 */
	unsigned subscribed_cmd : 1;
	unsigned want_commands : 1; /* deliver pending commands once the current input is handled */
	unsigned read_blocked : 1;  /* 3.1.1 over the receive maximum: not reading until a slot frees */
	unsigned handshaking : 1;   /* TLS handshake not done yet */
	unsigned dirty : 1;         /* in srv->dirty */
	unsigned lingering : 1;     /* our side shut; reading and dropping until the peer closes */
	unsigned read_wants_write : 1; /* SSL_read needs the socket writable (a TLS 1.3 key update) */
	char peer[64];
	char serial[CC_SERIAL_MAX + 1]; /* the identity, once connected */
	char model[CC_NAME_MAX + 1];
	char fingerprint[65];
	char reason[48]; /* why it went away, for machine status */
};

static void conn_close(struct conn *c, const char *reason, uint8_t mqtt_reason);
static void write_cb(evutil_socket_t fd, short what, void *arg);

/* ---- connection table ---- */

static struct conn *conn_by_id(struct mqtt_server *srv, uint64_t id)
{
	uint32_t slot = (uint32_t)id, gen = (uint32_t)(id >> 32);

	if (slot >= srv->nslots || srv->conns[slot] == NULL || srv->generations[slot] != gen)
		return NULL;
	return srv->conns[slot];
}

static int conn_slot(struct mqtt_server *srv, struct conn *c)
{
	size_t i;

	for (i = 0; i < srv->nslots; i++) {
		if (srv->conns[i] == NULL) {
			srv->conns[i] = c;
			srv->generations[i]++;
			c->id = (uint64_t)srv->generations[i] << 32 | i;
			srv->nconns++;
			metrics_gauge_add(METRIC_MQTT_CONNECTIONS, 1);
			return CC_OK;
		}
	}
	return CC_ERR_LIMIT;
}

static void address_count(struct mqtt_server *srv, const char *host, int delta)
{
	intptr_t n = (intptr_t)strmap_get(srv->per_address, host) + delta;

	if (n <= 0)
		strmap_remove(srv->per_address, host);
	else
		strmap_put(srv->per_address, host, (void *)n);
}

/* A refused client's input never reaches the log: only a short keyed tag
 * of it (the first 8 bytes of HMAC-SHA-256 under a key that lives and dies
 * with this process), enough to correlate attempts within one run and
 * useless to recover, say, a card number typed as a client id. */
static void refused_tag(const struct mqtt_server *srv, const struct mqtt_bytes *b, char out[17])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (HMAC(EVP_sha256(), srv->tag_key, sizeof(srv->tag_key), b->len ? b->p : (const uint8_t *)"",
	         b->len, mac, &n) == NULL || n < 8) {
		memcpy(out, "????????????????", 17);
		return;
	}
	for (i = 0; i < 8; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[16] = '\0';
	crypto_wipe(mac, sizeof(mac));
}

/* ---- state items for the writer ---- */

/* Queues a live-state change (and the retained info, if given). With a
 * packet id, its acknowledgement waits for the commit. */
static int submit_state(struct conn *c, int online, const uint8_t *info, size_t info_len,
                        uint16_t packet_id)
{
	struct writer_item it;

	memset(&it, 0, sizeof(it));
	it.op = WRITER_STATE;
	it.conn_id = packet_id ? c->id : 0;
	it.packet_id = packet_id;
	it.machine_id = c->machine_id;
	it.customer_id = c->customer_id;
	memcpy(it.serial, c->serial, sizeof(it.serial));
	it.online = online;
	it.at_ms = clock_now_ms();
	if (!online)
		snprintf(it.reason, sizeof(it.reason), "%s%s", c->reason, c->will_armed ? "; will: offline" : "");
	if (info != NULL && info_len > 0) {
		it.payload = malloc(info_len);
		if (it.payload == NULL)
			return CC_ERR_NOMEM;
		memcpy(it.payload, info, info_len);
		it.len = info_len;
	}
	if (c->srv->writer == NULL || writer_submit(c->srv->writer, &it) != CC_OK) {
		free(it.payload);
		return CC_ERR_LIMIT;
	}
	return CC_OK;
}

/* ---- session hooks ---- */

/* Output is queued, and written once per loop turn (flush_cb): all the
 * acknowledgements a batch of completions gives one connection leave in
 * one SSL_write, one TLS record, one system call. */
static int hook_send(void *ctx, const uint8_t *p, size_t n)
{
	struct conn *c = ctx;
	struct mqtt_server *srv = c->srv;

	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap > 0 ? c->out_cap : 256;
		uint8_t *b;

		while (cap < c->out_len + n)
			cap *= 2;
		b = realloc(c->out, cap);
		if (b == NULL)
			return CC_ERR_NOMEM;
		c->out = b;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	if (!c->dirty) {
		c->dirty = 1;
		c->dirty_next = srv->dirty;
		if (srv->dirty == NULL)
			event_active(srv->flush_ev, EV_WRITE, 0);
		srv->dirty = c;
	}
	return CC_OK;
}

static int bytes_to_string(const struct mqtt_bytes *b, char *out, size_t cap)
{
	if (b->len >= cap)
		return CC_ERR_LIMIT;
	memcpy(out, b->p, b->len);
	out[b->len] = '\0';
	return CC_OK;
}

/* A machine may leave a will only to say it is gone: `offline` on its own
 * status topic (docs/METRICS.md "Message formats": status is "up, retained, will"). Returns 0 or the
 * CONNACK reason refusing it. */
static uint8_t machine_will_check(const char *serial, const struct mqtt_connect *m, const char **why)
{
	static const char offline[] = "offline";
	enum machine_topic kind;

	if (!acl_may_publish(ACL_MACHINE, serial, m->will_topic.p, m->will_topic.len, &kind) ||
	    kind != TOPIC_STATUS) {
		*why = "a machine's will goes to its own cc/v1/{serial}/status topic only";
		return MQTT_RC_TOPIC_NAME_INVALID;
	}
	if (m->will_payload.len != sizeof(offline) - 1 ||
	    memcmp(m->will_payload.p, offline, sizeof(offline) - 1) != 0) {
		*why = "a machine's will payload is `offline`";
		return MQTT_RC_PAYLOAD_FORMAT_INVALID;
	}
	return 0;
}

/* The open listener: the broker decides (any client id). */
static uint8_t open_connect(struct conn *c, const struct mqtt_connect *m, struct mqtt_connack_opts *ack,
                            int *present)
{
	const char *assigned = NULL;
	void *old = NULL;
	uint8_t rc;
	char tag[17];

	rc = broker_connect(c->srv->broker, m, c, &c->bsess, present, &assigned, &old);
	if (rc != 0) {
		refused_tag(c->srv, &m->client_id, tag);
		log_info(MOD, "%s: refused client id #%s: %s", c->peer, tag, mqtt_rc_name(rc));
		return rc;
	}
	if (old != NULL) {
		struct conn *o = old;

		o->bsess = NULL;
		snprintf(o->reason, sizeof(o->reason), "session taken over");
		conn_close(o, "session taken over", MQTT_RC_SESSION_TAKEN_OVER);
	}
	if (m->version == MQTT_V5)
		ack->assigned_client_id = assigned;
	ack->subscription_ids_available = 1;
	ack->shared_available = 1;
	c->connected = 1;
	c->will_armed = m->will != 0;
	/* Any client id is welcome here, but only serial-shaped ones reach the log. */
	if (inventory_serial_valid(broker_session_id(c->bsess)) && strlen(broker_session_id(c->bsess)) < sizeof(c->serial)) {
		snprintf(c->serial, sizeof(c->serial), "%s", broker_session_id(c->bsess));
	} else {
		struct mqtt_bytes id = { (const uint8_t *)broker_session_id(c->bsess), strlen(broker_session_id(c->bsess)) };

		refused_tag(c->srv, &id, tag);
		snprintf(c->serial, sizeof(c->serial), "#%s", tag);
	}
	log_info(MOD, "%s: %s connected (MQTT %s%s, open ACL)", c->peer, c->serial,
	         m->version == MQTT_V5 ? "5" : "3.1.1", *present ? ", session resumed" : "");
	return 0;
}

static uint8_t hook_connect(void *ctx, const struct mqtt_connect *m, struct mqtt_connack_opts *ack, int *present)
{
	struct conn *c = ctx;
	struct mqtt_server *srv = c->srv;
	const struct registry_entry *e;
	struct remembered *mem;
	struct conn *old;
	char id[CC_SERIAL_MAX + 1], tag[17];

	if (srv->stopping)
		return MQTT_RC_SERVER_UNAVAILABLE;
	if (c->l->acl == ACL_OPEN && !c->l->tls)
		return open_connect(c, m, ack, present);
	refused_tag(srv, &m->client_id, tag);
	if (bytes_to_string(&m->client_id, id, sizeof(id)) != CC_OK || !inventory_serial_valid(id)) {
		log_info(MOD, "%s: refused client id #%s: not a valid serial", c->peer, tag);
		return MQTT_RC_CLIENT_ID_NOT_VALID;
	}
	if (c->l->tls) {
		struct tls_identity ident;

		if (tls_peer_identity(c->ssl, &ident) != CC_OK) {
			log_info(MOD, "%s: refused client id #%s: no usable client certificate", c->peer, tag);
			return MQTT_RC_NOT_AUTHORIZED;
		}
		if (strcmp(ident.common_name, id) != 0) {
			/* The certificate's CN is a serial this fleet's CA signed: safe to name. */
			log_info(MOD, "%s: refused client id #%s: differs from its certificate (%s)", c->peer,
			         tag, ident.common_name);
			return MQTT_RC_NOT_AUTHORIZED;
		}
		memcpy(c->fingerprint, ident.fingerprint, sizeof(c->fingerprint));
	}
	if (c->l->acl == ACL_MACHINE) {
		e = registry_find(srv->registry, id);
		if (e == NULL) {
			int changed;

			/* Registered a moment ago by the CLI or the API, before the
			 * periodic poll: one version read, a reload only if it moved. */
			if (registry_poll(srv->registry, &changed) == CC_OK && changed) {
				e = registry_find(srv->registry, id);
				srv->registry_sweep_due = 1; /* the timer cuts off the revoked */
			}
		}
		if (e == NULL) {
			/* Over TLS the id is the CN of a certificate our CA signed (a
			 * machine since deleted, say): nameable. Otherwise it is input. */
			if (c->l->tls)
				log_info(MOD, "%s: refused %s: unknown machine", c->peer, id);
			else
				log_info(MOD, "%s: refused client id #%s: unknown machine", c->peer, tag);
			return MQTT_RC_NOT_AUTHORIZED;
		}
		if (e->revoked || (c->l->tls && !registry_cert_ok(e, c->fingerprint))) {
			/* A registered serial: the fleet's own name, not the client's input. */
			log_info(MOD, "%s: refused %s: %s", c->peer, e->serial,
			         e->revoked ? "revoked" : "certificate replaced");
			return MQTT_RC_NOT_AUTHORIZED;
		}
		if (m->will) {
			uint8_t refused = machine_will_check(id, m, &ack->reason_string);

			if (refused != 0) {
				log_info(MOD, "%s: refused %s: %s", c->peer, id, ack->reason_string);
				return refused;
			}
			c->will_armed = 1;
		}
		c->machine_id = e->id;
		c->customer_id = e->customer_id;
		memcpy(c->model, e->model, sizeof(c->model));
	}
	old = strmap_get(srv->by_serial, id);
	if (old != NULL && old != c) {
		snprintf(old->reason, sizeof(old->reason), "session taken over");
		strmap_remove(srv->by_serial, id);
		conn_close(old, "session taken over", MQTT_RC_SESSION_TAKEN_OVER);
	}
	if (strmap_put(srv->by_serial, id, c) != CC_OK)
		return MQTT_RC_SERVER_BUSY;
	memcpy(c->serial, id, sizeof(c->serial));
	c->connected = 1;
	c->clean_start = m->clean_start != 0;
	c->session_expiry = m->version == MQTT_V5 ? m->props.session_expiry : (m->clean_start ? 0 : UINT32_MAX);
	mem = strmap_get(srv->sessions, id);
	if (mem != NULL && (m->clean_start || (mem->expires_ms != 0 && mem->expires_ms < clock_now_ms()))) {
		free(strmap_remove(srv->sessions, id));
		mem = NULL;
	}
	*present = mem != NULL;
	if (mem != NULL && mem->subscribed_cmd) {
		c->subscribed_cmd = 1;
		c->want_commands = 1;
	}
	/* Keepalive: silence for 1.5 x keepalive ends the connection. */
	if (c->l->acl == ACL_MACHINE)
		(void)submit_state(c, 1, NULL, 0, 0);
	log_info(MOD, "%s: %s connected (MQTT %s%s)", c->peer, id, m->version == MQTT_V5 ? "5" : "3.1.1",
	         *present ? ", session resumed" : "");
	return MQTT_RC_SUCCESS;
}

/* (Re)starts reading, with the keepalive as timeout: silence for 1.5 x
 * keepalive ends the connection (before CONNECT: mqtt_connect_timeout_s). */
static void arm_reading(struct conn *c)
{
	uint16_t ka = session_keepalive(c->session);
	struct timeval tv = { c->srv->cfg.mqtt_connect_timeout_s, 0 };

	if (c->connected) {
		tv.tv_sec = ka + ka / 2;
		tv.tv_usec = (ka % 2) * 500000;
	}
	event_del(c->ev); /* event_add keeps an old timeout when given none */
	event_add(c->ev, c->connected && ka == 0 ? NULL : &tv);
}

/* Refuses a publish: counted per machine under a category; MQTT 5 clients
 * learn why (never payload content); a 3.1.1 client gets its acknowledgement
 * (it cannot be told) and the message is dropped. */
static int refuse(struct conn *c, const struct mqtt_publish *p, const char *category, const char *why,
                  const char **reason_string)
{
	struct writer_item it;

	c->srv->refused++;
	memset(&it, 0, sizeof(it));
	it.op = WRITER_REFUSAL;
	it.machine_id = c->machine_id;
	snprintf(it.reason, sizeof(it.reason), "%s", category);
	(void)writer_submit(c->srv->writer, &it);
	log_info(MOD, "%s: refused a message: %s", c->serial, why);
	if (p->qos == 0 || session_version(c->session) != MQTT_V5)
		return MQTT_RC_SUCCESS;
	snprintf(c->srv->refusal, sizeof(c->srv->refusal), "%s", why);
	*reason_string = c->srv->refusal;
	return MQTT_RC_PAYLOAD_FORMAT_INVALID;
}

static enum message_kind message_kind_of(enum machine_topic t)
{
	return t == TOPIC_EVENT ? MESSAGE_EVENT : t == TOPIC_INFO ? MESSAGE_INFO : MESSAGE_TELEMETRY;
}

/* A machine's report on one of its commands (fleet/jobs.h): judged here,
 * stored by the writer, acknowledged once stored. */
static int command_result(struct conn *c, const struct mqtt_publish *p, const char **reason_string)
{
	struct store *store = vault_store(c->srv->vault);
	struct store_command *cmd;
	struct writer_item it;
	enum privacy_reason privacy;
	const char *why;
	int64_t id = jobs_result_topic_id(p->topic.p, p->topic.len);
	int mine, rc;

	memset(&it, 0, sizeof(it));
	if (jobs_result_parse(p->payload.p, p->payload.len, &it.report, it.reason, &why, &privacy) != CC_OK) {
		metrics_refused(why, privacy != PRIVACY_NONE, "result");
		return refuse(c, p, privacy != PRIVACY_NONE ? privacy_reason_name(privacy) : "invalid result", why,
		              reason_string);
	}
	cmd = malloc(sizeof(*cmd));
	if (cmd == NULL)
		return -MQTT_RC_SERVER_BUSY;
	mine = id > 0 && store->ops->command_get(store, id, cmd) == CC_OK && cmd->machine_id == c->machine_id;
	free(cmd);
	if (!mine) {
		/* Another machine's command looks like one that does not exist. */
		metrics_refused(NULL, 0, "result");
		rc = refuse(c, p, "unknown command", "no such command for this machine", reason_string);
		return rc == MQTT_RC_SUCCESS ? rc : MQTT_RC_NOT_AUTHORIZED;
	}
	it.op = WRITER_COMMAND_RESULT;
	it.conn_id = p->qos > 0 ? c->id : 0;
	it.packet_id = p->packet_id;
	it.machine_id = c->machine_id;
	it.customer_id = c->customer_id;
	memcpy(it.serial, c->serial, sizeof(it.serial));
	it.seq = id;
	if (writer_submit(c->srv->writer, &it) != CC_OK)
		return p->qos > 0 ? -MQTT_RC_SERVER_BUSY : 0;
	metrics_count(METRIC_ACCEPTED_RESULT);
	return p->qos > 0 ? SESSION_PENDING : 0;
}

/* A renewal over the live session: signed and stored here, on the loop
 * (rare: one per machine per hour at most), the certificate published back
 * on cc/v1/{serial}/cert/issued at QoS 1. The connection's certificate
 * stays accepted during the overlap (fleet/provision.h). */
static int renew_over_session(struct conn *c, const struct mqtt_publish *p, const char **reason_string)
{
	char topic[CC_SERIAL_MAX + 24], *cert = NULL;
	const char *why = NULL;
	uint16_t packet_id = 0;
	int rc = provision_renew_by_machine(c->srv->vault, c->serial, p->payload.p, p->payload.len, &cert, &why);

	if (rc != CC_OK) {
		log_info(MOD, "%s: certificate renewal refused: %s", c->serial, why != NULL ? why : cc_strerror(rc));
		if (p->qos == 0 || session_version(c->session) != MQTT_V5)
			return MQTT_RC_SUCCESS;
		snprintf(c->srv->refusal, sizeof(c->srv->refusal), "%s", why != NULL ? why : "renewal failed");
		*reason_string = c->srv->refusal;
		return rc == CC_ERR_LIMIT ? MQTT_RC_QUOTA_EXCEEDED : why != NULL ? MQTT_RC_PAYLOAD_FORMAT_INVALID
		                                                                 : MQTT_RC_UNSPECIFIED;
	}
	snprintf(topic, sizeof(topic), "cc/v1/%s/cert/issued", c->serial);
	if (session_publish(c->session, topic, (const uint8_t *)cert, strlen(cert), 1, 0, &packet_id) != CC_OK)
		log_warn(MOD, "%s: renewed, but the certificate could not be sent: it may ask again in an hour",
		         c->serial);
	else
		log_info(MOD, "%s: certificate renewed and sent", c->serial);
	free(cert);
	return MQTT_RC_SUCCESS;
}

/* The configuration the machine runs (retained on its side: sent again on
 * every connect). Rare, one per change: judged and stored here, on the loop,
 * like a renewal; refused like any machine data that fails the privacy
 * filter or the schema. */
static int config_reported(struct conn *c, const struct mqtt_publish *p, const char **reason_string)
{
	struct store *store = vault_store(c->srv->vault);
	struct store_machine *m = malloc(sizeof(*m));
	char why[CONFIG_WHY_MAX];
	int privacy = 0, rc;

	if (m == NULL)
		return -MQTT_RC_SERVER_BUSY;
	rc = store->ops->machine_get(store, c->machine_id, m);
	if (rc == CC_OK)
		rc = machine_config_report(c->srv->vault, m, p->payload.p, p->payload.len, &privacy, why, sizeof(why));
	free(m);
	if (rc == CC_ERR_INVALID) {
		metrics_refused(why, privacy != 0, "config");
		return refuse(c, p, privacy != 0 ? privacy_reason_name((enum privacy_reason)privacy) : "invalid", why,
		              reason_string);
	}
	if (rc != CC_OK)
		return p->qos > 0 ? -MQTT_RC_SERVER_BUSY : 0;
	log_info(MOD, "%s: reported its configuration", c->serial);
	return MQTT_RC_SUCCESS;
}

static int hook_publish(void *ctx, const struct mqtt_publish *p, const char **reason_string)
{
	struct conn *c = ctx;
	struct mqtt_server *srv = c->srv;
	struct message_verdict verdict;
	struct writer_item it;
	enum machine_topic kind;
	int rc;

	if (srv->stopping)
		return -MQTT_RC_SERVER_SHUTTING_DOWN;
	if (!acl_may_publish(c->l->acl, c->serial, p->topic.p, p->topic.len, &kind)) {
		log_info(MOD, "%s: refused a publish outside its own topics", c->serial);
		srv->refused++;
		metrics_refused(NULL, 0, "topic");
		/* MQTT 5 can say so per message; 3.1.1 can only hang up. */
		if (session_version(c->session) == MQTT_V5 && p->qos > 0) {
			*reason_string = "not authorized for this topic";
			return MQTT_RC_NOT_AUTHORIZED;
		}
		return -MQTT_RC_NOT_AUTHORIZED;
	}
	if (c->l->acl == ACL_OPEN) {
		/* Routed in memory, stored nothing. */
		uint8_t rc8 = broker_publish(srv->broker, c->bsess, p);

		return p->qos > 0 ? rc8 : 0;
	}
	if (kind == TOPIC_RESULT)
		return command_result(c, p, reason_string);
	if (kind == TOPIC_STATUS) {
		/* Online/offline is known from the connection itself; accept and move on. */
		return 0;
	}
	if (kind == TOPIC_CERT_CSR)
		return renew_over_session(c, p, reason_string);
	if (kind == TOPIC_CONFIG_REPORTED)
		return config_reported(c, p, reason_string);
	rc = message_check(message_kind_of(kind), c->model, p->payload.p, p->payload.len, &verdict);
	if (rc != CC_OK)
		return -MQTT_RC_UNSPECIFIED;
	if (!verdict.accepted) {
		metrics_refused(verdict.reason, verdict.privacy != PRIVACY_NONE, message_kind_name(message_kind_of(kind)));
		return refuse(c, p, verdict.privacy != PRIVACY_NONE ? privacy_reason_name(verdict.privacy) : "invalid",
		              verdict.reason, reason_string);
	}
	if (kind == TOPIC_INFO) {
		if (submit_state(c, 1, p->payload.p, p->payload.len, p->packet_id) != CC_OK)
			return p->qos > 0 ? -MQTT_RC_SERVER_BUSY : 0;
		metrics_count(METRIC_ACCEPTED_INFO);
		return p->qos > 0 ? SESSION_PENDING : 0;
	}
	memset(&it, 0, sizeof(it));
	it.op = WRITER_RECORD;
	it.conn_id = p->qos > 0 ? c->id : 0;
	it.packet_id = p->packet_id;
	it.machine_id = c->machine_id;
	it.customer_id = c->customer_id;
	memcpy(it.serial, c->serial, sizeof(it.serial));
	it.kind = kind == TOPIC_EVENT ? RECORD_EVENT : RECORD_TELEMETRY;
	it.seq = verdict.seq;
	it.ts_ms = verdict.ts_ms;
	it.payload = malloc(p->payload.len ? p->payload.len : 1);
	if (it.payload == NULL)
		return -MQTT_RC_SERVER_BUSY;
	memcpy(it.payload, p->payload.p, p->payload.len);
	it.len = p->payload.len;
	if (writer_submit(srv->writer, &it) != CC_OK) {
		free(it.payload);
		if (p->qos == 0) {
			srv->dropped++;
			metrics_count(METRIC_DROPPED);
			return 0; /* at most once: under overload, QoS 0 may be dropped */
		}
		return -MQTT_RC_SERVER_BUSY;
	}
	srv->accepted++;
	metrics_count(kind == TOPIC_EVENT ? METRIC_ACCEPTED_EVENT : METRIC_ACCEPTED_TELEMETRY);
	return p->qos > 0 ? SESSION_PENDING : 0;
}

static uint8_t open_subscribe(struct conn *c, const struct mqtt_bytes *filter, uint8_t options, uint32_t id)
{
	static const char share[] = "$share/";
	const char *deny = c->srv->cfg.mqtt_open_nosubscribe;

	if (c->bsess == NULL)
		return MQTT_RC_UNSPECIFIED;
	if (deny[0] != '\0' && filter->len == strlen(deny) && memcmp(filter->p, deny, filter->len) == 0)
		return MQTT_RC_UNSPECIFIED; /* 0x80: what 3.1.1 knows, and what the suites look for */
	if ((filter->len < sizeof(share) - 1 || memcmp(filter->p, share, sizeof(share) - 1) != 0) &&
	    !acl_may_subscribe(ACL_OPEN, c->serial, filter->p, filter->len))
		return acl_filter_valid(filter->p, filter->len) ? MQTT_RC_NOT_AUTHORIZED : MQTT_RC_TOPIC_FILTER_INVALID;
	return broker_subscribe(c->srv->broker, c->bsess, filter, options, id);
}

static uint8_t hook_subscribe(void *ctx, const struct mqtt_bytes *filter, uint8_t options, uint32_t id)
{
	struct conn *c = ctx;
	uint8_t qos = options & 3;

	if (c->l->acl == ACL_OPEN)
		return open_subscribe(c, filter, options, id);
	if (!acl_may_subscribe(c->l->acl, c->serial, filter->p, filter->len)) {
		log_info(MOD, "%s: refused a subscription outside its command topics", c->serial);
		return MQTT_RC_NOT_AUTHORIZED;
	}
	{
		struct remembered *mem = strmap_get(c->srv->sessions, c->serial);

		if (mem == NULL) {
			mem = calloc(1, sizeof(*mem));
			if (mem == NULL || strmap_put(c->srv->sessions, c->serial, mem) != CC_OK) {
				free(mem);
				return MQTT_RC_UNSPECIFIED;
			}
		}
		mem->subscribed_cmd = 1;
		c->subscribed_cmd = 1;
		c->want_commands = 1;
	}
	return qos > 1 ? 1 : qos; /* commands travel at most QoS 1 */
}

static uint8_t hook_unsubscribe(void *ctx, const struct mqtt_bytes *filter)
{
	struct conn *c = ctx;

	if (c->l->acl == ACL_OPEN)
		return c->bsess != NULL ? broker_unsubscribe(c->srv->broker, c->bsess, filter)
		                        : MQTT_RC_NO_SUBSCRIPTION_EXISTED;
	if (c->l->acl == ACL_MACHINE && strmap_get(c->srv->sessions, c->serial) != NULL)
		return 0;
	return MQTT_RC_NO_SUBSCRIPTION_EXISTED;
}

static void command_forget(struct conn *c, size_t i)
{
	c->commands[i] = c->commands[--c->ncommands];
	if (c->ncommands == 0) {
		free(c->commands);
		c->commands = NULL;
	}
}

static void hook_delivered(void *ctx, uint16_t packet_id, uint8_t reason)
{
	struct conn *c = ctx;
	struct writer_item it;
	size_t i;

	(void)reason; /* acknowledged, whatever the machine thinks of it: delivered */
	if (c->l->acl == ACL_OPEN) {
		broker_acked(c->srv->broker, c->bsess, packet_id);
		return;
	}
	for (i = 0; i < c->ncommands; i++) {
		if (c->commands[i].packet_id != packet_id || c->commands[i].acked)
			continue;
		memset(&it, 0, sizeof(it));
		it.op = WRITER_COMMAND_DONE;
		it.conn_id = c->id;
		it.machine_id = c->machine_id;
		it.seq = c->commands[i].command_id;
		if (writer_submit(c->srv->writer, &it) == CC_OK)
			c->commands[i].acked = 1;
		else
			command_forget(c, i); /* delivered again later: at least once */
		return;
	}
}

/* The store has recorded the command as delivered: forget it. */
static void command_recorded(struct conn *c, int64_t command_id)
{
	size_t i;

	for (i = 0; i < c->ncommands; i++) {
		if (c->commands[i].command_id == command_id) {
			command_forget(c, i);
			return;
		}
	}
}

static int command_in_flight(const struct conn *c, int64_t id)
{
	size_t i;

	for (i = 0; i < c->ncommands; i++)
		if (c->commands[i].command_id == id)
			return 1;
	return 0;
}

static int send_command(void *ctx, int64_t id, const char *name, const char *body)
{
	struct conn *c = ctx;
	char topic[CC_SERIAL_MAX + CC_NAME_MAX + 40];
	uint16_t packet_id = 0;
	int rc;

	if (command_in_flight(c, id))
		return 0;
	if (c->ncommands == COMMANDS_IN_FLIGHT)
		return 1; /* the rest when these are acknowledged */
	if (c->commands == NULL) {
		c->commands = calloc(COMMANDS_IN_FLIGHT, sizeof(*c->commands));
		if (c->commands == NULL)
			return 1; /* later: the next delivery tries again */
	}
	snprintf(topic, sizeof(topic), "cc/v1/%s/cmd/%s/%lld", c->serial, name, (long long)id);
	rc = session_publish(c->session, topic, (const uint8_t *)body, strlen(body), 1, 0, &packet_id);
	if (rc == CC_ERR_INVALID) {
		/* Larger than the machine's Maximum Packet Size: it can never take
		 * it. Recorded as failed (kept in flight until the store has it). */
		struct writer_item it;
		size_t size = mqtt_publish_size(session_version(c->session), 1, strlen(topic), 0, strlen(body));

		memset(&it, 0, sizeof(it));
		it.op = WRITER_COMMAND_FAILED;
		it.conn_id = c->id;
		it.machine_id = c->machine_id;
		it.seq = id;
		snprintf(it.reason, sizeof(it.reason), "larger than the machine's maximum packet size (%zu > %lu bytes)",
		         size, (unsigned long)session_peer_max_packet(c->session));
		if (writer_submit(c->srv->writer, &it) != CC_OK)
			return 1;
		c->commands[c->ncommands].packet_id = 0;
		c->commands[c->ncommands].command_id = id;
		c->commands[c->ncommands].acked = 1;
		c->ncommands++;
		log_warn(MOD, "%s: command %lld (%s) failed: %s", c->serial, (long long)id, name, it.reason);
		return 0;
	}
	if (rc != CC_OK)
		return 1; /* the machine's receive maximum is reached: the rest after its PUBACKs */
	c->commands[c->ncommands].packet_id = packet_id;
	c->commands[c->ncommands].command_id = id;
	c->commands[c->ncommands].acked = 0;
	c->ncommands++;
	log_info(MOD, "%s: command %lld (%s) sent", c->serial, (long long)id, name);
	return 0;
}

/* Sends the machine's pending commands it does not have in flight yet. */
static void deliver_commands(struct conn *c)
{
	struct store_machine m;

	c->want_commands = 0;
	if (!c->connected || c->closing || !c->subscribed_cmd || c->l->acl != ACL_MACHINE)
		return;
	memset(&m, 0, sizeof(m));
	m.id = c->machine_id;
	m.customer_id = c->customer_id;
	memcpy(m.serial, c->serial, sizeof(m.serial));
	if (commands_pending(c->srv->vault, &m, send_command, c) < 0)
		log_warn(MOD, "%s: pending commands could not be read", c->serial);
}

static void hook_disconnect(void *ctx, const struct mqtt_disconnect *d)
{
	struct conn *c = ctx;

	c->clean_exit = 1;
	c->will_armed = c->will_armed && d->reason == 0x04; /* DISCONNECT 0x04 keeps the will */
	if (d->props.has_session_expiry)
		c->disconnect_expiry = d->props.session_expiry;
	snprintf(c->reason, sizeof(c->reason), "disconnected by the machine");
}

static void hook_released(void *ctx, uint16_t packet_id)
{
	struct conn *c = ctx;

	if (c->l->acl == ACL_OPEN)
		broker_released(c->srv->broker, c->bsess, packet_id);
}

static const struct session_hooks hooks = {
	hook_connect, hook_publish, hook_subscribe, hook_unsubscribe, hook_delivered, hook_disconnect,
	hook_send, hook_released,
};

/* ---- the open listener's broker reaches its clients ---- */

static int broker_send(void *conn, const struct session_message *m, uint16_t *packet_id)
{
	struct conn *c = conn;

	if (c->closing)
		return CC_ERR_STATE;
	return session_send(c->session, m, packet_id);
}

static int broker_send_pubrel(void *conn, uint16_t packet_id)
{
	struct conn *c = conn;

	if (c->closing)
		return CC_ERR_STATE;
	return session_resend_pubrel(c->session, packet_id);
}

static int64_t broker_now(void *arg)
{
	(void)arg;
	return clock_now_ms();
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_server *srv = arg;

	(void)fd;
	(void)what;
	broker_tick(srv->broker);
}

/* ---- connection life ---- */

static void conn_free(struct conn *c)
{
	struct mqtt_server *srv = c->srv;
	uint32_t slot = (uint32_t)c->id;

	if (c->connected && c->l->acl == ACL_OPEN) {
		if (c->bsess != NULL && srv->broker != NULL)
			broker_disconnect(srv->broker, c->bsess, c->will_armed, c->disconnect_expiry);
		c->bsess = NULL;
		log_info(MOD, "%s: %s went away: %s", c->peer, c->serial, c->reason);
	} else if (c->connected) {
		/* A connection taken over by a newer one of the same machine is no
		 * longer its current one: the machine is not offline. */
		int current = strmap_get(srv->by_serial, c->serial) == c;

		if (current)
			strmap_remove(srv->by_serial, c->serial);
		if (current && c->l->acl == ACL_MACHINE)
			(void)submit_state(c, 0, NULL, 0, 0);
		if (c->clean_start && c->session_expiry == 0)
			free(strmap_remove(srv->sessions, c->serial));
		else if (strmap_get(srv->sessions, c->serial) != NULL && c->session_expiry != UINT32_MAX) {
			struct remembered *mem = strmap_get(srv->sessions, c->serial);

			mem->expires_ms = clock_now_ms() + (int64_t)c->session_expiry * 1000;
		}
		log_info(MOD, "%s: %s went away: %s", c->peer, c->serial, c->reason);
	}
	address_count(srv, c->peer, -1);
	if (slot < srv->nslots && srv->conns[slot] == c) {
		srv->conns[slot] = NULL;
		srv->nconns--;
		metrics_gauge_add(METRIC_MQTT_CONNECTIONS, -1);
	}
	if (c->dirty) {
		struct conn **p = &srv->dirty;

		while (*p != c)
			p = &(*p)->dirty_next;
		*p = c->dirty_next;
	}
	if (c->close_ev != NULL)
		event_free(c->close_ev);
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->wev != NULL)
		event_free(c->wev);
	session_free(c->session);
	SSL_free(c->ssl); /* its socket BIO leaves the descriptor to us */
	evutil_closesocket(c->fd);
	free(c->in);
	free(c->out);
	free(c->commands);
	free(c);
}

static void close_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_free(arg);
}

/* Frees on a later loop iteration (after delay_ms), never inside the
 * connection's own callback. Calling it again only moves the moment. */
static void conn_free_after(struct conn *c, int delay_ms)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };

	if (c->close_ev == NULL)
		c->close_ev = evtimer_new(c->srv->base, close_timer_cb, c);
	if (c->close_ev == NULL) {
		/* No memory for a timer: freeing now is the lesser evil. */
		conn_free(c);
		return;
	}
	evtimer_add(c->close_ev, &tv);
}

/* The open listener closes like a polite broker: after what explains the
 * close has gone out, only our side is shut, and what the client still
 * sends (a PUBREL it pipelined, say) is read and dropped until it closes
 * too, or the grace period ends; closing at once would reset the
 * connection under the client's feet before it reads our DISCONNECT. */
static void linger(struct conn *c)
{
	(void)shutdown(c->fd, SHUT_WR);
	c->lingering = 1;
	event_del(c->ev);
	event_add(c->ev, NULL);
	conn_free_after(c, CLOSE_GRACE_MS);
}

static int lingers(const struct conn *c)
{
	return c->l->acl == ACL_OPEN && !c->l->tls;
}

/* A socket or TLS error: the connection is gone. */
static void conn_failed(struct conn *c, const char *reason)
{
	c->out_len = 0; /* nothing more can be sent */
	if (c->closing) {
		event_del(c->ev);
		conn_free_after(c, 0);
	} else {
		conn_close(c, reason, 0);
	}
	ERR_clear_error();
}

static void want_write(struct conn *c)
{
	if (c->wev == NULL)
		c->wev = event_new(c->srv->base, c->fd, EV_WRITE, write_cb, c);
	if (c->wev == NULL || event_add(c->wev, NULL) != 0)
		conn_failed(c, "out of memory");
}

/* Writes what is queued, as far as the socket takes it; the rest when it
 * is writable again. */
static void conn_flush(struct conn *c)
{
	size_t done = 0;
	int err = SSL_ERROR_NONE;

	while (done < c->out_len && !c->handshaking) {
		size_t left = c->out_len - done;
		int len = left > INT_MAX ? INT_MAX : (int)left, n;

		ERR_clear_error();
		if (c->ssl != NULL) {
			n = SSL_write(c->ssl, c->out + done, len);
			if (n <= 0)
				err = SSL_get_error(c->ssl, n);
		} else {
			n = (int)send(c->fd, c->out + done, (size_t)len, MSG_NOSIGNAL);
			if (n < 0)
				err = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? SSL_ERROR_WANT_WRITE
				                                                                 : SSL_ERROR_SYSCALL;
		}
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done > 0 && done < c->out_len)
		memmove(c->out, c->out + done, c->out_len - done);
	c->out_len -= done;
	if (c->out_len > 0) {
		if (c->handshaking || err == SSL_ERROR_WANT_READ)
			return; /* after the handshake; or the next read flushes again */
		if (err == SSL_ERROR_WANT_WRITE)
			want_write(c);
		else
			conn_failed(c, c->connected ? "connection lost" : "TLS handshake failed");
		return;
	}
	free(c->out);
	c->out = NULL;
	c->out_cap = 0;
	if (c->closing && !c->lingering && c->close_ev != NULL) {
		/* What explains the close has gone out. */
		if (lingers(c))
			linger(c);
		else
			conn_free_after(c, 0);
	}
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_server *srv = arg;

	(void)fd;
	(void)what;
	while (srv->dirty != NULL) {
		struct conn *c = srv->dirty;

		srv->dirty = c->dirty_next;
		c->dirty_next = NULL;
		c->dirty = 0;
		conn_flush(c);
	}
}

/* Stops input, sends what explains the close (MQTT 5 DISCONNECT) and frees
 * the connection once that is flushed, or after a grace period. */
static void conn_close(struct conn *c, const char *reason, uint8_t mqtt_reason)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->bsess != NULL) {
		/* The will goes now, not when the socket is finally freed. */
		broker_disconnect(c->srv->broker, c->bsess, c->will_armed, c->disconnect_expiry);
		c->bsess = NULL;
	}
	if (c->reason[0] == '\0')
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	/* The reason string (a fixed phrase) also makes clients that ignore
	 * a bare two-byte DISCONNECT see the reason code. */
	if (mqtt_reason != 0 && session_connected(c->session))
		session_close(c->session, mqtt_reason, c->reason);
	event_del(c->ev);
	if (c->out_len == 0 && lingers(c)) {
		linger(c);
		return;
	}
	if (c->out_len == 0) {
		conn_free_after(c, 0);
		return;
	}
	conn_free_after(c, CLOSE_GRACE_MS); /* conn_flush frees it sooner, once flushed */
}

static const char *reason_for(int rc)
{
	switch (-rc) {
	case MQTT_RC_MALFORMED: return "malformed packet";
	case MQTT_RC_PROTOCOL_ERROR: return "protocol error";
	case MQTT_RC_PACKET_TOO_LARGE: return "packet too large";
	case MQTT_RC_NOT_AUTHORIZED: return "not authorized";
	case MQTT_RC_CLIENT_ID_NOT_VALID: return "client id not valid";
	case MQTT_RC_UNSUPPORTED_VERSION: return "unsupported protocol version";
	case MQTT_RC_RECEIVE_MAX_EXCEEDED: return "receive maximum exceeded";
	case MQTT_RC_SERVER_BUSY: return "server busy";
	case MQTT_RC_TOPIC_ALIAS_INVALID: return "topic alias invalid";
	case MQTT_RC_TOPIC_NAME_INVALID: return "topic name invalid";
	default: return "protocol error";
	}
}

/* Hands input to the session: n bytes from data, after what waited in
 * c->in. Keeps what the session did not take (an incomplete packet, or
 * packets held back by back-pressure). Returns nonzero once the
 * connection reads no more for now. */
static int conn_input(struct conn *c, const uint8_t *data, size_t n)
{
	const uint8_t *p = data;
	size_t len = n, used = 0;
	int was_connected = c->connected, rc;

	if (c->in_len > 0) {
		if (n > 0) {
			uint8_t *b = realloc(c->in, c->in_len + n);

			if (b == NULL) {
				conn_close(c, "out of memory", MQTT_RC_UNSPECIFIED);
				return 1;
			}
			memcpy(b + c->in_len, data, n);
			c->in = b;
			c->in_len += n;
		}
		p = c->in;
		len = c->in_len;
	}
	rc = session_input(c->session, p, len, &used);
	if (p == c->in) {
		memmove(c->in, c->in + used, len - used);
		c->in_len = len - used;
	} else if (used < len) {
		c->in = malloc(len - used);
		if (c->in == NULL) {
			conn_close(c, "out of memory", MQTT_RC_UNSPECIFIED);
			return 1;
		}
		memcpy(c->in, p + used, len - used);
		c->in_len = len - used;
	}
	if (c->in != NULL && c->in_len == 0) {
		free(c->in);
		c->in = NULL;
	}
	if (rc < 0) {
		conn_close(c, c->clean_exit ? "disconnected by the machine" : reason_for(rc), 0);
		return 1;
	}
	if (session_input_blocked(c->session)) {
		/* Back-pressure: the socket waits until a completion frees a slot. */
		c->read_blocked = 1;
		event_del(c->ev);
	}
	if (!was_connected && c->connected && !c->read_blocked)
		arm_reading(c);
	if (c->bsess != NULL)
		broker_flush(c->srv->broker, c->bsess); /* retained messages, after the SUBACK */
	if (c->want_commands)
		deliver_commands(c);
	return c->closing || c->read_blocked;
}

/* Reads until the socket (and OpenSSL's buffer) is empty: level-triggered
 * events do not see records OpenSSL already holds. */
static void conn_read(struct conn *c)
{
	uint8_t buf[READ_CHUNK];

	if (c->in_len > 0 && conn_input(c, NULL, 0) != 0)
		return; /* what waited for a free slot first */
	while (!c->closing && !c->read_blocked) {
		int n, err = SSL_ERROR_NONE;

		ERR_clear_error();
		if (c->ssl != NULL) {
			n = SSL_read(c->ssl, buf, sizeof(buf));
			if (n <= 0)
				err = SSL_get_error(c->ssl, n);
		} else {
			n = (int)recv(c->fd, buf, sizeof(buf), 0);
			if (n == 0)
				err = SSL_ERROR_ZERO_RETURN;
			else if (n < 0)
				err = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? SSL_ERROR_WANT_READ
				                                                                 : SSL_ERROR_SYSCALL;
		}
		if (n > 0) {
			if (conn_input(c, buf, (size_t)n) != 0)
				return;
			continue;
		}
		if (err == SSL_ERROR_WANT_READ)
			return;
		if (err == SSL_ERROR_WANT_WRITE) {
			c->read_wants_write = 1;
			want_write(c);
			return;
		}
		if (err == SSL_ERROR_ZERO_RETURN)
			conn_close(c, "connection closed by the machine", 0);
		else
			conn_close(c, "connection lost", 0);
		ERR_clear_error();
		return;
	}
}

/* Returns 1 once the TLS handshake is done, 0 while it goes on, -1 failed. */
static int conn_handshake(struct conn *c)
{
	int r, err;

	ERR_clear_error();
	r = SSL_accept(c->ssl);
	if (r == 1) {
		c->handshaking = 0;
		return 1;
	}
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ)
		return 0;
	if (err == SSL_ERROR_WANT_WRITE) {
		want_write(c);
		return 0;
	}
	conn_close(c, "TLS handshake failed", 0);
	ERR_clear_error();
	return -1;
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (c->lingering) {
		uint8_t buf[READ_CHUNK];
		ssize_t n;

		while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0)
			; /* dropped */
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			event_del(c->ev);
			conn_free_after(c, 0);
		}
		return;
	}
	if (c->closing)
		return;
	if (what & EV_TIMEOUT) {
		conn_close(c, c->connected ? "keepalive timeout" : "no CONNECT in time", MQTT_RC_KEEP_ALIVE_TIMEOUT);
		return;
	}
	if (c->handshaking && conn_handshake(c) != 1)
		return;
	conn_read(c);
	if (c->out_len > 0 && !c->dirty)
		conn_flush(c); /* a write that waited for this read (SSL_ERROR_WANT_READ) */
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->handshaking) {
		if (c->closing || conn_handshake(c) != 1)
			return;
		conn_read(c);
	} else if (c->read_wants_write && !c->closing) {
		c->read_wants_write = 0;
		conn_read(c);
	}
	conn_flush(c);
}

static void accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct listener *l = arg;
	struct mqtt_server *srv = l->srv;
	struct conn *c = NULL;
	char host[64];

	(void)ev;
	(void)salen;
	netaddr_host(sa, host, sizeof(host));
	if (srv->stopping || srv->nconns >= (size_t)srv->cfg.mqtt_max_connections ||
	    (intptr_t)strmap_get(srv->per_address, host) >= srv->cfg.mqtt_max_per_address) {
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || conn_slot(srv, c) != CC_OK) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	c->l = l;
	c->fd = fd;
	c->disconnect_expiry = -1;
	memcpy(c->peer, host, sizeof(c->peer));
	address_count(srv, host, 1);
	c->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, read_cb, c);
	if (c->ev == NULL || session_new(&l->session_cfg, &hooks, c, &c->session) != CC_OK) {
		conn_free(c);
		return;
	}
	if (l->tls) {
		/* The socket BIO: OpenSSL reads and writes the descriptor itself,
		 * and with SSL_MODE_RELEASE_BUFFERS holds no buffer while idle. */
		c->ssl = SSL_new(srv->tls);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, (int)fd) != 1) {
			ERR_clear_error();
			conn_free(c);
			return;
		}
		SSL_set_accept_state(c->ssl);
		SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		c->handshaking = 1;
	}
	arm_reading(c);
}

/* ---- fleet changes, completions ---- */

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_server *srv = arg;
	int changed = 0;
	size_t i;

	char version[32] = "0";
	struct store *store = vault_store(srv->vault);

	(void)fd;
	(void)what;
	if (store->ops->meta_get(store, COMMANDS_VERSION, version, sizeof(version)) == CC_OK &&
	    strcmp(version, srv->commands_version) != 0) {
		memcpy(srv->commands_version, version, sizeof(version));
		for (i = 0; i < srv->nslots; i++)
			if (srv->conns[i] != NULL && srv->conns[i]->subscribed_cmd)
				deliver_commands(srv->conns[i]);
	}
	if (registry_poll(srv->registry, &changed) != CC_OK)
		return;
	if (!changed && !srv->registry_sweep_due)
		return;
	srv->registry_sweep_due = 0;
	for (i = 0; i < srv->nslots; i++) {
		struct conn *c = srv->conns[i];
		const struct registry_entry *e;

		if (c == NULL || !c->connected || c->closing || c->l->acl != ACL_MACHINE)
			continue;
		e = registry_find(srv->registry, c->serial);
		if (e == NULL || e->revoked || e->id != c->machine_id ||
		    (c->l->tls && !registry_cert_ok(e, c->fingerprint))) {
			snprintf(c->reason, sizeof(c->reason), "%s", e == NULL ? "deleted" : "revoked");
			log_info(MOD, "%s: cut off: %s", c->serial, c->reason);
			conn_close(c, c->reason, MQTT_RC_ADMIN_ACTION);
		}
	}
}

/* Once a second: when an open command's deadline has passed (a read), the
 * writer ends those as timed out. The deadlines are in the store, so a
 * restarted daemon times out what came due while it was down. */
static void expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_server *srv = arg;
	struct store *store = vault_store(srv->vault);
	struct writer_item it;
	int64_t next = 0, now = clock_now_ms();

	(void)fd;
	(void)what;
	if (srv->stopping || store->ops->command_next_deadline(store, &next) != CC_OK || next == 0 || next > now)
		return;
	memset(&it, 0, sizeof(it));
	it.op = WRITER_COMMANDS_EXPIRE;
	it.at_ms = now;
	(void)writer_submit(srv->writer, &it); /* a full queue: the next second */
}

static void close_everyone(struct mqtt_server *srv)
{
	size_t i;

	for (i = 0; i < srv->nslots; i++)
		if (srv->conns[i] != NULL && !srv->conns[i]->closing)
			conn_close(srv->conns[i], "server shutting down", MQTT_RC_SERVER_SHUTTING_DOWN);
}

void mqtt_server_collect(struct mqtt_server *srv)
{
	struct writer_done done[DONE_CHUNK];
	size_t n, i;

	while ((n = writer_take_done(srv->writer, done, DONE_CHUNK)) > 0) {
		for (i = 0; i < n; i++) {
			struct conn *c;

			if (done[i].op == WRITER_BARRIER) {
				/* Everything accepted before the stop is stored and acknowledged. */
				close_everyone(srv);
				event_base_loopexit(srv->base, &(struct timeval){ 1, 0 });
				continue;
			}
			c = conn_by_id(srv, done[i].conn_id);
			if (c == NULL || c->closing)
				continue; /* gone: the machine re-sends, the store keeps it once */
			if (done[i].op == WRITER_COMMAND_DONE || done[i].op == WRITER_COMMAND_FAILED) {
				command_recorded(c, done[i].seq);
				deliver_commands(c); /* the next ones, if more wait */
				continue;
			}
			if (!done[i].ok) {
				conn_close(c, "storage failed", MQTT_RC_UNSPECIFIED);
				continue;
			}
			if (session_complete(c->session, done[i].packet_id, 0, NULL) < 0 && !c->closing)
				log_debug(MOD, "%s: completion for an unknown packet", c->serial);
			if (c->read_blocked && !c->closing) {
				/* A slot is free: what waited in the input buffer first, then the socket. */
				c->read_blocked = 0;
				arm_reading(c);
				conn_read(c);
			}
		}
	}
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mqtt_server_collect(arg);
}

void mqtt_server_wake(void *arg)
{
	struct mqtt_server *srv = arg;

	/* Called from the writer thread: only wake the loop. */
	event_active(srv->done_ev, EV_READ, 0);
}

/* ---- setup ---- */

static int bind_one(struct mqtt_server *srv, struct listener *l, const char *addr_text, int tls,
                    enum acl_mode acl)
{
	struct netaddr a;

	if (netaddr_parse(addr_text, &a) != CC_OK)
		return CC_ERR_INVALID;
	l->srv = srv;
	l->tls = tls;
	l->acl = acl;
	snprintf(l->addr, sizeof(l->addr), "%s", addr_text);
	l->ev = evconnlistener_new_bind(srv->base, accept_cb, l,
	                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_DISABLED |
	                                LEV_OPT_CLOSE_ON_EXEC, 1024, (struct sockaddr *)&a.ss, (int)a.len);
	if (l->ev == NULL) {
		log_error(MOD, "cannot listen on %s: %s", addr_text, strerror(errno));
		return CC_ERR_IO;
	}
	return CC_OK;
}

int mqtt_server_bind(struct event_base *base, const struct config *cfg, struct mqtt_server **out)
{
	struct mqtt_server *srv = calloc(1, sizeof(*srv));
	int rc = CC_OK;

	if (srv == NULL)
		return CC_ERR_NOMEM;
	srv->base = base;
	srv->cfg = *cfg;
	if (crypto_random(srv->tag_key, sizeof(srv->tag_key)) != CC_OK)
		rc = CC_ERR_CRYPTO;
	srv->done_ev = event_new(srv->base, -1, 0, done_cb, srv);
	srv->flush_ev = event_new(srv->base, -1, 0, flush_cb, srv);
	if (rc == CC_OK && (srv->done_ev == NULL || srv->flush_ev == NULL))
		rc = CC_ERR_NOMEM;
	if (rc == CC_OK && cfg->mqtt_listen[0] != '\0')
		rc = bind_one(srv, &srv->listeners[TLS_LISTENER], cfg->mqtt_listen, 1, ACL_MACHINE);
	if (rc == CC_OK && cfg->mqtt_plain_listen[0] != '\0')
		rc = bind_one(srv, &srv->listeners[PLAIN_LISTENER], cfg->mqtt_plain_listen, 0,
		              strcmp(cfg->mqtt_plain_acl, "open") == 0 ? ACL_OPEN : ACL_MACHINE);
	if (rc != CC_OK) {
		mqtt_server_free(srv);
		return rc;
	}
	*out = srv;
	return CC_OK;
}

/* After a crash nobody told the store that the machines went away: every
 * machine starts offline, and the ones still out there reconnect. */
static int mark_offline(void *arg, const struct store_machine *m)
{
	struct store *store = arg;
	struct store_machine_state st;

	if (store->ops->machine_state_get(store, m->id, &st) != CC_OK || !st.online)
		return 0;
	st.online = 0;
	st.changed_ms = clock_now_ms();
	st.info_len = 0; /* keep the stored info */
	snprintf(st.disconnect_reason, sizeof(st.disconnect_reason), "daemon restarted");
	return store->ops->machine_state_set(store, &st);
}

void mqtt_server_set_tls(struct mqtt_server *srv, SSL_CTX *tls) { srv->tls = tls; }

int mqtt_server_start(struct mqtt_server *srv, SSL_CTX *tls, struct vault *vault, struct writer *w)
{
	struct store *store = vault_store(vault);
	struct timeval poll = { srv->cfg.fleet_poll_ms / 1000, (srv->cfg.fleet_poll_ms % 1000) * 1000 };
	int rc, i;

	srv->tls = tls;
	srv->writer = w;
	srv->vault = vault;
	if (store->ops->meta_get(store, COMMANDS_VERSION, srv->commands_version,
	                         sizeof(srv->commands_version)) != CC_OK)
		snprintf(srv->commands_version, sizeof(srv->commands_version), "0");
	srv->nslots = (size_t)srv->cfg.mqtt_max_connections;
	srv->conns = calloc(srv->nslots, sizeof(*srv->conns));
	srv->generations = calloc(srv->nslots, sizeof(*srv->generations));
	if (srv->conns == NULL || srv->generations == NULL || strmap_new(&srv->by_serial) != CC_OK ||
	    strmap_new(&srv->per_address) != CC_OK || strmap_new(&srv->sessions) != CC_OK)
		return CC_ERR_NOMEM;
	for (i = 0; i < 2; i++) {
		struct session_config *sc = &srv->listeners[i].session_cfg;

		sc->max_packet = (size_t)srv->cfg.mqtt_max_packet;
		sc->receive_max = (uint16_t)srv->cfg.mqtt_receive_max;
		sc->keepalive_max = (uint16_t)srv->cfg.mqtt_keepalive_max;
		/* Machines publish info and status retained: their latest is kept as
		 * the machine's live state. The open listener's broker keeps them
		 * in memory, and takes wildcard subscriptions. */
		sc->retain_available = 1;
		sc->wildcard_available = srv->listeners[i].acl == ACL_OPEN;
		sc->topic_aliases = srv->listeners[i].acl == ACL_OPEN;
	}
	/* One write transaction: the writes happen while the list is read, and
	 * a read turned write at another thread's commit would be refused. */
	rc = store->ops->begin(store);
	if (rc == CC_OK)
		rc = store->ops->machine_list(store, 0, mark_offline, store);
	if (rc == CC_OK)
		rc = store->ops->commit(store);
	if (rc != CC_OK)
		store->ops->rollback(store);
	if (rc == CC_OK)
		rc = registry_new(store, &srv->registry);
	if (rc != CC_OK)
		return rc;
	srv->poll_ev = event_new(srv->base, -1, EV_PERSIST, poll_cb, srv);
	if (srv->poll_ev == NULL)
		return CC_ERR_NOMEM;
	event_add(srv->poll_ev, &poll);
	srv->expire_ev = event_new(srv->base, -1, EV_PERSIST, expire_cb, srv);
	if (srv->expire_ev == NULL)
		return CC_ERR_NOMEM;
	event_add(srv->expire_ev, &(struct timeval){ 1, 0 });
	if (srv->listeners[PLAIN_LISTENER].ev != NULL && srv->listeners[PLAIN_LISTENER].acl == ACL_OPEN) {
		struct broker_ops ops = { broker_send, broker_send_pubrel, broker_now, NULL };
		struct timeval tick = { 0, BROKER_TICK_MS * 1000 };

		if (broker_new(&ops, &srv->broker) != CC_OK)
			return CC_ERR_NOMEM;
		srv->tick_ev = event_new(srv->base, -1, EV_PERSIST, tick_cb, srv);
		if (srv->tick_ev == NULL)
			return CC_ERR_NOMEM;
		event_add(srv->tick_ev, &tick);
	}
	for (i = 0; i < 2; i++) {
		if (srv->listeners[i].ev != NULL) {
			evconnlistener_enable(srv->listeners[i].ev);
			log_info(MOD, "listening on %s (%s, %s ACL)", srv->listeners[i].addr,
			         srv->listeners[i].tls ? "TLS" : "plain, loopback only",
			         srv->listeners[i].acl == ACL_OPEN ? "open" : "machine");
		}
	}
	log_info(MOD, "%zu machines registered", registry_count(srv->registry));
	return CC_OK;
}

void mqtt_server_shutdown(struct mqtt_server *srv)
{
	struct writer_item barrier;
	int i;

	if (srv->stopping)
		return;
	srv->stopping = 1;
	log_info(MOD, "stopping: committing and acknowledging what was accepted");
	for (i = 0; i < 2; i++)
		if (srv->listeners[i].ev != NULL)
			evconnlistener_disable(srv->listeners[i].ev);
	memset(&barrier, 0, sizeof(barrier));
	barrier.op = WRITER_BARRIER;
	barrier.conn_id = UINT64_MAX;
	if (srv->writer == NULL || writer_submit(srv->writer, &barrier) != CC_OK) {
		close_everyone(srv);
		event_base_loopexit(srv->base, &(struct timeval){ 1, 0 });
	}
}

static int free_session(void *ctx, const char *key, void *value)
{
	(void)ctx;
	(void)key;
	free(value);
	return 0;
}

void mqtt_server_drop_connections(struct mqtt_server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	for (i = 0; i < srv->nslots; i++)
		if (srv->conns[i] != NULL)
			conn_free(srv->conns[i]);
}

void mqtt_server_free(struct mqtt_server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	srv->writer = NULL;
	mqtt_server_drop_connections(srv);
	for (i = 0; i < 2; i++)
		if (srv->listeners[i].ev != NULL)
			evconnlistener_free(srv->listeners[i].ev);
	if (srv->done_ev != NULL)
		event_free(srv->done_ev);
	if (srv->flush_ev != NULL)
		event_free(srv->flush_ev);
	if (srv->poll_ev != NULL)
		event_free(srv->poll_ev);
	if (srv->expire_ev != NULL)
		event_free(srv->expire_ev);
	if (srv->tick_ev != NULL)
		event_free(srv->tick_ev);
	broker_free(srv->broker);
	registry_free(srv->registry);
	if (srv->sessions != NULL)
		strmap_foreach(srv->sessions, free_session, NULL);
	strmap_free(srv->sessions);
	strmap_free(srv->by_serial);
	strmap_free(srv->per_address);
	free(srv->conns);
	free(srv->generations);
	crypto_wipe(srv->tag_key, sizeof(srv->tag_key));
	free(srv);
}
