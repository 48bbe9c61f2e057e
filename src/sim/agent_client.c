/* agent_client.c - simulated machines on libcoffeecloud-agent; see agent_client.h. */
#include "sim/agent_client.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "coffeecloud/agent.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "fleet/jobs.h"
#include "sim/diag.h"

#define MOD "sim"

#define WINDOW 64               /* the agent's window: stored messages unacknowledged */
#define CONNECTS_MAX 64         /* machines connecting at once */
#define CONNECTS_PER_PASS 8     /* each costs ~2 ms of TLS set-up */
#define CONNECT_WAIT_MS 15000   /* a machine not connected by then no longer holds a place */
#define TICK_MS 100             /* the agents' loop_misc, workers, ack-log flush */
#define PROGRESS_MS 5000
#define BURST_MAX 16
#define RAMP_MAX_MS 60000
#define CLOSE_MS 2000
#define SLOT_MAX (16u << 20)    /* the simulated flash slot */
#define LAT_RING 128            /* > WINDOW: seq -> when it was stored */
#define VALUE_MAX 4096
#define COMMANDS_SHOWN 20
#define UPDATE_LINES_SHOWN 20

/* The machine's flash: the agent's records in memory. The queue's slots
 * (q/N) and its counters are kept apart from the rest (a handful of
 * records: the update's, the certificate's) because they are written for
 * every message. */
struct rec {
	struct rec *next;
	char key[33];
	size_t len, cap;
	char *val;
};

struct qslot {
	char *p;
	uint32_t len, cap;
};

struct flash {
	struct qslot q[WINDOW];
	struct rec *recs;
};

struct aclient;

struct amach {
	struct aclient *c;
	cc_agent *a;
	const char *serial;
	uint32_t index;
	uint8_t admitted, ever_up, up, started, done, working, op, poisoned, reboot;
	int64_t admitted_ms;
	double next_due;
	int64_t next_update_ms;
	uint32_t sent, resolved;
	uint64_t connect_failures;  /* the agent's, as last counted */
	uint64_t hostile_seq;       /* the seq of its --fault message (0: none yet) */
	uint8_t fault_done;
	int64_t clock_ms;           /* the stamp of the message being stored; 0: the wall clock */
	struct {
		uint64_t seq;
		int64_t us;
	} lat[LAT_RING];
	char running[33], previous[33], slot_version[33];
	uint8_t *slot;
	size_t slot_size;
	struct flash flash;
	struct fleet_model model;
};

struct aclient {
	const struct client_opts *o;
	struct client_stats *st;
	struct amach *m;
	size_t n;
	struct pollfd *pfd;
	uint32_t *pfd_owner;
	FILE *ack, *record;
	uint32_t quota, fault_at;
	double period_ms, step_s;
	int64_t t0, publish_end, first_publish, last_resolve, drain_end, ramp_end;
	unsigned workers, commands_shown, update_lines;
	char url[300];
};


/* ---- storage ---- */

static int q_index(const char *key)
{
	char *end;
	if (key[0] != 'q' || key[1] != '/')
		return -1;
	unsigned long i = strtoul(key + 2, &end, 10);
	return *end == '\0' && end != key + 2 && i < WINDOW ? (int)i : -1;
}

static struct rec *rec_find(struct flash *f, const char *key)
{
	for (struct rec *r = f->recs; r != NULL; r = r->next)
		if (strcmp(r->key, key) == 0)
			return r;
	return NULL;
}

static int st_get(void *ud, const char *key, void *buf, size_t cap, size_t *len)
{
	struct amach *m = ud;
	int qi = q_index(key);
	const char *v;
	size_t n;

	if (qi >= 0) {
		if (m->flash.q[qi].p == NULL)
			return 1;
		v = m->flash.q[qi].p;
		n = m->flash.q[qi].len;
	} else {
		struct rec *r = rec_find(&m->flash, key);
		if (r == NULL)
			return 1;
		v = r->val;
		n = r->len;
	}
	if (n > cap)
		return -1;
	memcpy(buf, v, n);
	*len = n;
	return 0;
}

static int st_put(void *ud, const char *key, const void *buf, size_t len)
{
	struct amach *m = ud;
	int qi = q_index(key);

	if (len > VALUE_MAX || strlen(key) > 32)
		return -1;
	if (qi >= 0) {
		struct qslot *s = &m->flash.q[qi];
		if (s->cap < len + 1) {
			char *p = realloc(s->p, len + 64);
			if (p == NULL)
				return -1;
			s->p = p;
			s->cap = (uint32_t)(len + 64);
		}
		memcpy(s->p, buf, len);
		s->len = (uint32_t)len;
		return 0;
	}
	struct rec *r = rec_find(&m->flash, key);
	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return -1;
		snprintf(r->key, sizeof(r->key), "%s", key);
		r->next = m->flash.recs;
		m->flash.recs = r;
	}
	if (r->cap < len + 1) { /* the counters are written for every message: kept in place */
		char *v = realloc(r->val, len + 16);
		if (v == NULL)
			return -1;
		r->val = v;
		r->cap = len + 16;
	}
	memcpy(r->val, buf, len);
	r->len = len;
	return 0;
}

static int st_del(void *ud, const char *key)
{
	struct amach *m = ud;
	int qi = q_index(key);

	if (qi >= 0) {
		free(m->flash.q[qi].p);
		memset(&m->flash.q[qi], 0, sizeof(m->flash.q[qi]));
		return 0;
	}
	for (struct rec **pp = &m->flash.recs; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->key, key) == 0) {
			struct rec *r = *pp;
			*pp = r->next;
			free(r->val);
			free(r);
			return 0;
		}
	}
	return 0;
}

static void flash_free(struct flash *f)
{
	for (size_t i = 0; i < WINDOW; i++)
		free(f->q[i].p);
	while (f->recs != NULL) {
		struct rec *r = f->recs;
		f->recs = r->next;
		free(r->val);
		free(r);
	}
}

/* The message being stored carries its model time; otherwise the wall
 * clock (the worker asks too: an offer's expiry). */
static int64_t now_ms(void *ud)
{
	struct amach *m = ud;
	int64_t t = __atomic_load_n(&m->clock_ms, __ATOMIC_RELAXED);
	return t != 0 ? t : clock_now_ms();
}

/* ---- the pretended firmware (runs on the agent's worker) ---- */

static int fw_slot_begin(void *ud, uint64_t size)
{
	struct amach *m = ud;
	uint8_t *p;

	if (size > SLOT_MAX || (p = realloc(m->slot, size > 0 ? (size_t)size : 1)) == NULL)
		return -1;
	m->slot = p;
	m->slot_size = (size_t)size;
	m->poisoned = 0;
	return 0;
}

static int fw_slot_write(void *ud, uint64_t off, const void *p, size_t n)
{
	struct amach *m = ud;
	size_t mark = sizeof(AGENT_CLIENT_POISON) - 1;

	if (off > m->slot_size || n > m->slot_size - off)
		return -1;
	memcpy(m->slot + off, p, n);
	if (off == 0 && n >= mark && memcmp(p, AGENT_CLIENT_POISON, mark) == 0)
		m->poisoned = 1;
	return 0;
}

static int fw_slot_read(void *ud, uint64_t off, void *p, size_t n)
{
	struct amach *m = ud;
	if (off > m->slot_size || n > m->slot_size - off)
		return -1;
	memcpy(p, m->slot + off, n);
	return 0;
}

static int fw_install(void *ud, const char *version)
{
	struct amach *m = ud;
	const char *fail = m->c->o->fail_install;

	if (m->poisoned || (fail != NULL && strcmp(fail, version) == 0))
		return -1;
	snprintf(m->slot_version, sizeof(m->slot_version), "%s", version);
	return 0;
}

static int fw_activate(void *ud)
{
	(void)ud;
	return 0;
}

/* Rebooting is the caller's: it boots the new slot once the worker is done. */
static void fw_reboot(void *ud)
{
	struct amach *m = ud;
	m->reboot = 1;
}

static int fw_running(void *ud, char *buf, size_t cap)
{
	struct amach *m = ud;
	if (strlen(m->running) >= cap)
		return -1;
	memcpy(buf, m->running, strlen(m->running) + 1);
	return 0;
}

static int fw_ok(void *ud)
{
	(void)ud;
	return 0;
}

static int fw_rollback(void *ud)
{
	struct amach *m = ud;
	memcpy(m->running, m->previous, sizeof(m->running));
	return 0;
}

/* ---- what the agent tells ---- */

static void on_log(void *ud, const char *line)
{
	struct amach *m = ud;
	if (!m->c->o->quiet)
		log_info(MOD, "%s: %s", m->serial, line);
}

static void on_acked(void *ud, cc_agent *a, uint64_t seq, int reason)
{
	struct amach *m = ud;
	struct aclient *c = m->c;
	struct client_stats *st = c->st;
	(void)a;

	m->resolved++;
	c->last_resolve = clock_mono_ms();
	if (reason >= 0x80) {
		st->refused++;
		st->refused_by_reason[reason & 0xff]++;
		if (seq == m->hostile_seq)
			st->hostile_refused++;
		else
			st->unexpected_refused++;
		return;
	}
	st->acked++;
	if (seq == m->hostile_seq) {
		st->hostile_acked++;
		return;
	}
	if (m->lat[seq % LAT_RING].seq == seq) {
		int64_t b = (clock_mono_us() - m->lat[seq % LAT_RING].us) / CLIENT_LATENCY_BUCKET_US;
		st->latency[b < 0 ? 0 : b >= CLIENT_LATENCY_BUCKETS ? CLIENT_LATENCY_BUCKETS - 1 : b]++;
	}
	if (c->ack != NULL)
		fprintf(c->ack, "%s %" PRIu64 "\n", m->serial, seq);
}

static void diagnostics(struct amach *m, const char *body, size_t len, char *reason, size_t cap)
{
	struct aclient *c = m->c;
	int rc = sim_diag_answer(c->o->host, c->o->https_port, c->o->certs_dir, m->serial, c->o->seed,
	                         (double)(clock_mono_ms() - c->t0) / 1000.0 + 86400.0, body, len, reason, cap);

	if (rc < 0)
		c->st->diagnostics_failed++;
	else if (rc > 0)
		c->st->diagnostics_uploaded++;
}

static void on_command(void *ud, cc_agent *a, const char *name, uint64_t id, const char *body, size_t len)
{
	struct amach *m = ud;
	struct aclient *c = m->c;
	char reason[JOBS_REASON_MAX + 1] = "";
	const char *state = "succeeded";

	c->st->commands_received++;
	if (!c->o->quiet && c->commands_shown < COMMANDS_SHOWN) {
		c->commands_shown++;
		printf("%s: command %s/%" PRIu64 "%s\n", m->serial, name, id,
		       c->commands_shown == COMMANDS_SHOWN ? "; further commands are only counted" : "");
	}
	(void)cc_agent_command_result(a, id, "accepted", NULL);
	if (strcmp(name, "update-offer") == 0) {
		if (rand() / (RAND_MAX + 1.0) < c->o->fail_rate) {
			state = "failed";
			snprintf(reason, sizeof(reason), "offer rejected: product not on this machine");
		} else {
			m->next_update_ms = 0; /* look for it now */
		}
	} else if (strcmp(name, "diagnostics") == 0) {
		diagnostics(m, body, len, reason, sizeof(reason));
		if (strncmp(reason, "bundle uploaded", 15) != 0 && c->o->https_port > 0 && strstr(body, "upload") != NULL)
			state = "failed";
	}
	reason[80] = '\0'; /* the agent's bound of a result's reason */
	for (char *p = reason; *p; p++)
		if (*p == '\n')
			*p = ' ';
	(void)cc_agent_command_result(a, id, state, reason[0] != '\0' ? reason : NULL);
	c->st->commands_answered++;
}

/* ---- setting up ---- */

static int machine_setup(struct aclient *c, struct amach *m)
{
	const struct client_opts *o = c->o;
	char dir[4096], ca[4096], crt[4096], key[4096], seq[32];
	struct cc_agent_config cfg;
	const char *server_keys[1] = { o->server_key };
	int rc;

	if (file_join(dir, sizeof(dir), o->certs_dir, m->serial) != CC_OK ||
	    file_join(ca, sizeof(ca), dir, "ca.crt") != CC_OK || file_join(crt, sizeof(crt), dir, "machine.crt") != CC_OK ||
	    file_join(key, sizeof(key), dir, "machine.key") != CC_OK)
		return CC_ERR_LIMIT;
	snprintf(m->running, sizeof(m->running), "%s", AGENT_CLIENT_FACTORY);
	memcpy(m->previous, m->running, sizeof(m->previous));
	/* The agent's seq starts where the run's must (main.c: above every
	 * earlier run's). */
	snprintf(seq, sizeof(seq), "%lld", (long long)o->seq_start);
	if (st_put(m, "seq", seq, strlen(seq)) != 0)
		return CC_ERR_NOMEM;
	memset(&cfg, 0, sizeof(cfg));
	cfg.serial = m->serial;
	cfg.model = CLIENT_MODEL;
	cfg.factory_version = AGENT_CLIENT_FACTORY;
	cfg.server_url = c->url[0] != '\0' ? c->url : NULL;
	cfg.mqtt_host = o->host;
	cfg.mqtt_port = o->port;
	cfg.mqtt_version = o->protocol == 5 ? CC_AGENT_MQTT_5 : CC_AGENT_MQTT_311;
	cfg.ca_file = ca;
	cfg.cert_file = crt;
	cfg.key_file = key;
	cfg.release_keys = o->release_keys;
	cfg.nrelease_keys = o->nrelease_keys;
	cfg.server_keys = server_keys;
	cfg.nserver_keys = o->server_key != NULL ? 1 : 0;
	cfg.queue_max = WINDOW;
	cfg.window = WINDOW;
	cfg.storage = (struct cc_storage){ st_get, st_put, st_del, m };
	cfg.clock = (struct cc_clock){ now_ms, m };
	cfg.fw = (struct cc_firmware){ fw_slot_begin, fw_slot_write, fw_slot_read, fw_install, fw_activate, fw_reboot,
		                       fw_running, fw_ok, fw_ok, fw_rollback, m };
	cfg.on_command = on_command;
	cfg.on_acked = on_acked;
	cfg.on_log = on_log;
	cfg.ud = m;
	if ((rc = cc_agent_new(&cfg, &m->a)) != CC_AGENT_OK) {
		log_error(MOD, "%s: cannot make its agent from %s: %s", m->serial, dir, cc_agent_strerror(rc));
		return CC_ERR_IO;
	}
	(void)cc_agent_set_info(m->a, "rev-c", m->running);
	return CC_OK;
}

/* ---- publishing ---- */

static int publish_over(const struct aclient *c, int64_t now)
{
	return client_stop_requested() || now >= c->publish_end;
}

static void set_publish_end(struct aclient *c, int64_t ramp_end)
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

/* The model writes {"seq":0,"ts":T,<fields>}: the agent numbers and stamps
 * the message itself (the clock answering T while it does). */
static void publish_one(struct aclient *c, struct amach *m, int64_t now)
{
	const struct client_opts *o = c->o;
	struct client_stats *st = c->st;
	struct fleet_msg msg;
	struct cc_agent_stats as;
	char prefix[64];
	int64_t ts = o->backfill_from_ms > 0 ? o->backfill_from_ms + (int64_t)(((double)m->sent + 1) * c->step_s * 1000.0)
	                                    : clock_now_ms();
	enum fleet_fault fault = FLEET_FAULT_NONE;
	size_t pl;
	int rc;

	/* The content faults: fields an agent sends as given, the server must refuse. */
	if (o->fault != FLEET_FAULT_NONE && !m->fault_done && m->sent >= c->fault_at) {
		m->fault_done = 1;
		fault = o->fault;
	}
	m->sent++;
	if (fleet_model_next(&m->model, c->step_s, 0, ts, fault, &msg) != CC_OK) {
		st->publish_errors++;
		return;
	}
	pl = (size_t)snprintf(prefix, sizeof(prefix), "{\"seq\":0,\"ts\":%lld,", (long long)ts);
	if (msg.len < pl + 2 || memcmp(msg.payload, prefix, pl) != 0 || msg.payload[msg.len - 1] != '}') {
		st->publish_errors++;
		return;
	}
	msg.payload[msg.len - 1] = '\0';
	__atomic_store_n(&m->clock_ms, ts, __ATOMIC_RELAXED);
	rc = msg.kind == FLEET_EVENT ? cc_agent_publish_event(m->a, msg.payload + pl)
	                             : cc_agent_publish_telemetry(m->a, msg.payload + pl);
	__atomic_store_n(&m->clock_ms, 0, __ATOMIC_RELAXED);
	if (rc != CC_AGENT_OK) {
		st->publish_errors++;
		if (st->publish_errors <= 3 && !o->quiet)
			log_warn(MOD, "%s: the agent did not store a message: %s", m->serial, cc_agent_strerror(rc));
		m->resolved++;
		return;
	}
	cc_agent_stats(m->a, &as);
	m->lat[as.last_seq % LAT_RING].seq = as.last_seq;
	m->lat[as.last_seq % LAT_RING].us = clock_mono_us();
	if (as.last_seq > st->max_seq)
		st->max_seq = as.last_seq;
	if (msg.hostile) {
		m->hostile_seq = as.last_seq;
		st->hostile_sent++;
	}
	if (c->record != NULL && !msg.hostile)
		fprintf(c->record, "{\"serial\":\"%s\",\"topic\":\"%s\",\"msg\":{\"seq\":%" PRIu64 ",\"ts\":%lld,%s}}\n",
		        m->serial, msg.kind == FLEET_EVENT ? "event" : "telemetry", as.last_seq, (long long)ts,
		        msg.payload + pl);
	st->sent++;
	if (msg.kind == FLEET_EVENT)
		st->events++;
	else
		st->telemetry++;
	if (!m->up)
		st->queued_while_down++;
	if (c->first_publish == 0)
		c->first_publish = now;
}

static void pump(struct aclient *c, struct amach *m, int64_t now)
{
	int budget = BURST_MAX, published = 0;

	if (!m->started || m->done)
		return;
	while (budget-- > 0) {
		if (publish_over(c, now) || m->sent >= c->quota) {
			m->done = 1;
			break;
		}
		if (c->period_ms > 0 && m->next_due > (double)now)
			break;
		if (m->sent - m->resolved >= WINDOW)
			break;
		publish_one(c, m, now);
		published = 1;
		if (c->period_ms > 0) {
			m->next_due += c->period_ms;
			if (m->next_due < (double)now - BURST_MAX * c->period_ms)
				m->next_due = (double)now - BURST_MAX * c->period_ms;
		}
	}
	if (published)
		(void)cc_agent_loop_misc(m->a); /* sends what was stored */
}

/* ---- updates ---- */

static void update_line(struct aclient *c, struct amach *m, const char *fmt, const char *a1, const char *a2)
{
	char line[256];
	if (c->o->quiet || c->update_lines >= UPDATE_LINES_SHOWN)
		return;
	c->update_lines++;
	snprintf(line, sizeof(line), fmt, a1, a2);
	log_info(MOD, "%s: %s%s", m->serial, line,
	         c->update_lines == UPDATE_LINES_SHOWN ? " (further updates are only counted)" : "");
}

static void work_begin(struct aclient *c, struct amach *m, int op)
{
	if (cc_agent_work_begin(m->a, op) != CC_AGENT_OK)
		return;
	m->working = 1;
	m->op = (uint8_t)op;
	c->workers++;
}

static void work_done(struct aclient *c, struct amach *m, int rc, const struct cc_update_result *r)
{
	struct client_stats *st = c->st;

	m->working = 0;
	c->workers--;
	if (m->op == CC_AGENT_WORK_START) {
		if (strcmp(r->state, "succeeded") == 0) {
			st->updates_installed++;
			(void)cc_agent_set_info(m->a, "rev-c", m->running);
			update_line(c, m, "update %s installed and confirmed%s", r->version, "");
		} else if (r->state[0] != '\0') {
			st->updates_failed++;
			update_line(c, m, "update %s: %s", r->version, r->state);
		}
		return;
	}
	if (rc == CC_AGENT_REBOOT && m->reboot) {
		/* The bootloader boots the new slot; the agent confirms it. */
		m->reboot = 0;
		memcpy(m->previous, m->running, sizeof(m->previous));
		memcpy(m->running, m->slot_version, sizeof(m->running));
		free(m->slot);
		m->slot = NULL;
		m->slot_size = 0;
		work_begin(c, m, CC_AGENT_WORK_START);
		if (!m->working)
			st->updates_failed++;
	} else if (rc == CC_AGENT_EREFUSED && strcmp(r->reason, "install-failed") == 0) {
		st->updates_failed++;
		update_line(c, m, "update %s: the install failed%s", r->version, "");
	} else if (rc == CC_AGENT_EREFUSED) {
		st->updates_refused++;
		update_line(c, m, "update refused: %s%s", r->reason, "");
	}
}

static void updates(struct aclient *c, struct amach *m, int64_t now)
{
	struct cc_update_result r;
	int rc;

	if (m->working) {
		if ((rc = cc_agent_work_poll(m->a, &r)) != CC_AGENT_PENDING)
			work_done(c, m, rc, &r);
		return;
	}
	/* None begins once publishing is over: the run is ending. */
	if (c->url[0] == '\0' || c->workers >= AGENT_CLIENT_WORKERS || now < m->next_update_ms || publish_over(c, now))
		return;
	if (c->o->update_every_s <= 0 && m->next_update_ms != 0)
		return;
	m->next_update_ms = c->o->update_every_s > 0 ? now + (int64_t)(c->o->update_every_s * 1000) : -1;
	c->st->update_checks++;
	work_begin(c, m, CC_AGENT_WORK_UPDATE);
}

/* ---- the loop ---- */

static void tick(struct aclient *c, int64_t now)
{
	struct client_stats *st = c->st;
	size_t connecting = 0, started = 0;

	for (size_t i = 0; i < c->n; i++) {
		struct amach *m = &c->m[i];
		if (m->admitted && !m->ever_up && now - m->admitted_ms < CONNECT_WAIT_MS)
			connecting++;
	}
	for (size_t i = 0; i < c->n; i++) {
		struct amach *m = &c->m[i];
		struct cc_agent_stats as;

		if (!m->admitted) {
			if (connecting >= CONNECTS_MAX || started >= CONNECTS_PER_PASS || c->drain_end != 0)
				continue;
			m->admitted = 1;
			m->admitted_ms = now;
			connecting++;
			started++;
			if (c->o->update_every_s > 0)
				m->next_update_ms = now + (int64_t)(c->o->update_every_s * 1000 * (rand() / (RAND_MAX + 1.0)));
		}
		if (cc_agent_loop_misc(m->a) < 0)
			st->publish_errors++; /* the agent cannot run at all (its set-up) */
		cc_agent_stats(m->a, &as);
		st->connect_errors += as.connect_failures - m->connect_failures;
		m->connect_failures = as.connect_failures;
		if (as.connected && !m->up) {
			st->connects++;
			if (m->ever_up)
				st->reconnects++;
			else
				st->machines_connected++;
			m->ever_up = 1;
			if (st->machines_connected == c->n && st->connect_seconds == 0)
				st->connect_seconds = (double)(now - c->t0) / 1000.0;
		} else if (!as.connected && m->up) {
			st->disconnects++;
		}
		m->up = (uint8_t)as.connected;
		if (m->ever_up && !m->started && (c->period_ms > 0 || c->ramp_end != 0)) {
			m->started = 1;
			m->next_due = (double)now + c->period_ms * (rand() / (RAND_MAX + 1.0));
		}
		updates(c, m, now);
	}
	if (c->ack != NULL)
		fflush(c->ack);
}

static int64_t schedule(struct aclient *c, int64_t now)
{
	int64_t next = now + TICK_MS;

	for (size_t i = 0; i < c->n; i++) {
		struct amach *m = &c->m[i];

		if (!m->done && publish_over(c, now))
			m->done = 1;
		if (m->started && !m->done) {
			int busy = m->sent - m->resolved >= WINDOW;
			pump(c, m, now);
			if (!m->done && c->period_ms > 0 && !busy && (int64_t)(m->next_due + 0.999) < next)
				next = (int64_t)(m->next_due + 0.999);
		}
	}
	if (c->publish_end < next && c->drain_end == 0)
		next = c->publish_end;
	return next;
}

static void poll_once(struct aclient *c, int timeout_ms)
{
	nfds_t nfds = 0;

	for (size_t i = 0; i < c->n; i++) {
		int fd = c->m[i].admitted ? cc_agent_socket(c->m[i].a) : -1;
		if (fd < 0)
			continue;
		c->pfd[nfds].fd = fd;
		c->pfd[nfds].events = (short)(POLLIN | (cc_agent_want_write(c->m[i].a) ? POLLOUT : 0));
		c->pfd[nfds].revents = 0;
		c->pfd_owner[nfds++] = (uint32_t)i;
	}
	if (poll(c->pfd, nfds, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
		return;
	for (nfds_t k = 0; k < nfds; k++) {
		struct amach *m = &c->m[c->pfd_owner[k]];
		short ev = c->pfd[k].revents;

		if (ev == 0)
			continue;
		if ((ev & (POLLIN | POLLERR | POLLHUP)) && cc_agent_socket(m->a) == c->pfd[k].fd)
			cc_agent_loop_read(m->a);
		if ((ev & POLLOUT) && cc_agent_socket(m->a) == c->pfd[k].fd)
			cc_agent_loop_write(m->a);
	}
}

static int all_done(const struct aclient *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (!c->m[i].done || c->m[i].working)
			return 0;
	return 1;
}

static uint64_t unresolved(const struct aclient *c)
{
	uint64_t u = 0;
	for (size_t i = 0; i < c->n; i++)
		u += c->m[i].sent - c->m[i].resolved;
	return u;
}

static void run_loop(struct aclient *c)
{
	int64_t now = clock_mono_ms(), next_tick = now, next_progress = now + PROGRESS_MS;
	int stopping = 0;

	for (;;) {
		now = clock_mono_ms();
		if (c->ramp_end == 0 && (c->st->machines_connected == c->n || now >= c->t0 + RAMP_MAX_MS)) {
			c->ramp_end = now;
			set_publish_end(c, now);
		}
		if (client_stop_requested() && !stopping) {
			stopping = 1;
			c->st->interrupted = 1;
			c->drain_end = now + CLIENT_STOP_DRAIN_MS;
		}
		if (now >= next_tick) {
			tick(c, now);
			next_tick = now + TICK_MS;
		}
		int64_t next = schedule(c, now);
		if (all_done(c)) {
			if (c->drain_end == 0)
				c->drain_end = now + CLIENT_DRAIN_MS;
			if (unresolved(c) == 0 || now >= c->drain_end)
				break;
		} else if (c->drain_end != 0 && now >= c->drain_end) {
			break; /* an update still at it: cc_agent_free waits for it */
		}
		if (next_tick < next)
			next = next_tick;
		poll_once(c, (int)(next - now));
		now = clock_mono_ms();
		if (!c->o->quiet && now >= next_progress) {
			const struct client_stats *st = c->st;
			log_info(MOD, "%.1f s: %llu/%zu connected once, sent %llu, acked %llu, refused %llu, pending %llu, "
			         "updates %llu installed %llu refused %llu failed",
			         (double)(now - c->t0) / 1000.0, (unsigned long long)st->machines_connected, c->n,
			         (unsigned long long)st->sent, (unsigned long long)st->acked,
			         (unsigned long long)st->refused, (unsigned long long)unresolved(c),
			         (unsigned long long)st->updates_installed, (unsigned long long)st->updates_refused,
			         (unsigned long long)st->updates_failed);
			next_progress = now + PROGRESS_MS;
		}
	}
}

static void finish_stats(struct aclient *c)
{
	struct client_stats *st = c->st;

	st->unresolved = unresolved(c);
	for (size_t i = 0; i < c->n; i++) {
		struct amach *m = &c->m[i];
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

/* Each agent's MQTT connection ends with the agent (its will then says
 * "offline"); a worker still at it finishes first (cc_agent_free joins). */
static void close_all(struct aclient *c)
{
	int64_t end = clock_mono_ms() + CLOSE_MS;

	/* What is written is flushed while there is time. */
	for (;;) {
		int left = 0;
		for (size_t i = 0; i < c->n; i++)
			if (c->m[i].admitted && cc_agent_socket(c->m[i].a) >= 0 && cc_agent_want_write(c->m[i].a))
				left++;
		int64_t now = clock_mono_ms();
		if (left == 0 || now >= end)
			break;
		poll_once(c, (int)(end - now < 50 ? end - now : 50));
	}
}

static int raise_file_limit(size_t n)
{
	struct rlimit rl;
	/* libmosquitto's socket pair beside each connection, the workers' HTTPS. */
	rlim_t need = (rlim_t)n * 3 + 64 + AGENT_CLIENT_WORKERS * 2;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return CC_OK;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need) {
			log_error(MOD, "%zu agents need %llu open files; the limit is %llu (ulimit -n)", n,
			          (unsigned long long)need, (unsigned long long)rl.rlim_max);
			return CC_ERR_LIMIT;
		}
	}
	return CC_OK;
}

int agent_client_fault(enum fleet_fault f)
{
	switch (f) {
	case FLEET_FAULT_NONE:
	case FLEET_FAULT_CARD:
	case FLEET_FAULT_EMAIL:
	case FLEET_FAULT_PHONE:
	case FLEET_FAULT_PRICE:
	case FLEET_FAULT_UNKNOWN_METRIC:
		return 1;
	default:
		return 0;
	}
}

int agent_client_run(const struct client_opts *o, const char *const *serials, size_t n, struct client_stats *st)
{
	struct aclient c;
	int rc = CC_OK;
	size_t i;

	memset(st, 0, sizeof(*st));
	memset(&c, 0, sizeof(c));
	st->machines = (uint32_t)n;
	if (n == 0 || n > CLIENT_MACHINES_MAX || o->plain || o->qos != 1 || !agent_client_fault(o->fault) ||
	    (o->protocol != 5 && o->protocol != 3) || o->rate < 0 || o->speedup <= 0 || o->certs_dir == NULL)
		return CC_ERR_INVALID;
	if ((rc = raise_file_limit(n)) != CC_OK)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned)(o->seed ^ (o->seed >> 32)));
	c.o = o;
	c.st = st;
	c.n = n;
	c.period_ms = o->rate > 0 ? 1000.0 / o->rate : 0;
	c.step_s = o->speedup * (o->rate > 0 ? 1.0 / o->rate : 1.0);
	c.quota = o->duration_s > 0 ? UINT32_MAX : o->count;
	c.fault_at = o->duration_s > 0 ? (o->rate > 0 ? (uint32_t)(o->duration_s * o->rate / 2) : 50) : o->count / 2;
	if (o->https_port > 0)
		snprintf(c.url, sizeof(c.url), "https://%s:%d", o->host, o->https_port);
	c.m = calloc(n, sizeof(*c.m));
	c.pfd = calloc(n, sizeof(*c.pfd));
	c.pfd_owner = calloc(n, sizeof(*c.pfd_owner));
	if (c.m == NULL || c.pfd == NULL || c.pfd_owner == NULL) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	if (o->ack_log != NULL) {
		if ((c.ack = fopen(o->ack_log, "a")) == NULL) {
			log_error(MOD, "%s: cannot open the ack log: %s", o->ack_log, strerror(errno));
			rc = CC_ERR_IO;
			goto out;
		}
		setvbuf(c.ack, NULL, _IOFBF, 1 << 16);
	}
	if (o->record != NULL) {
		if ((c.record = fopen(o->record, "a")) == NULL) {
			log_error(MOD, "%s: cannot open the record: %s", o->record, strerror(errno));
			rc = CC_ERR_IO;
			goto out;
		}
		setvbuf(c.record, NULL, _IOFBF, 1 << 16);
	}
	for (i = 0; i < n; i++) {
		struct amach *m = &c.m[i];

		m->c = &c;
		m->index = (uint32_t)i;
		m->serial = serials[i];
		fleet_model_init(&m->model, o->seed, (uint32_t)i, o->start_day_s);
		if (i < o->nscenarios)
			fleet_model_scenario(&m->model, o->scenario[i]);
		if ((rc = machine_setup(&c, m)) != CC_OK)
			goto out;
	}
	c.t0 = clock_mono_ms();
	set_publish_end(&c, c.t0 + RAMP_MAX_MS);
	run_loop(&c);
	finish_stats(&c);
	close_all(&c);
out:
	if (c.ack != NULL && (fflush(c.ack) != 0 || fclose(c.ack) != 0) && rc == CC_OK)
		rc = CC_ERR_IO;
	if (c.record != NULL && (fflush(c.record) != 0 || fclose(c.record) != 0) && rc == CC_OK)
		rc = CC_ERR_IO;
	if (c.m != NULL) {
		for (i = 0; i < n; i++) {
			cc_agent_free(c.m[i].a);
			flash_free(&c.m[i].flash);
			free(c.m[i].slot);
		}
	}
	free(c.m);
	free(c.pfd);
	free(c.pfd_owner);
	return rc;
}
