/*
 * client.h - the raw machines: plain libmosquitto clients, for what no agent
 * sends (plain TCP, QoS 0 or 2, bad JSON, another machine's topic, a pulled
 * cable) and --raw; the machines are agents otherwise (sim/agent_client.h).
 * Drives them over MQTT, all in the calling thread: one poll() over every machine's socket and
 * libmosquitto's external-loop calls (loop_read, loop_write, loop_misc). No
 * thread per machine.
 *
 * Each machine connects as itself: client id = serial, TLS 1.3 with its own
 * certificate (<certs>/<serial>/machine.crt, machine.key, CA ca.crt; the
 * server certificate is verified, host name included), or plain TCP.
 * Persistent session (clean start off, MQTT 5 session expiry 1 h); will
 * cc/v1/{s}/status "offline" retained QoS 1; on every connect it publishes
 * retained "online" status and its info, and subscribes to cc/v1/{s}/cmd/#;
 * it answers each command on cc/v1/{s}/cmd/{id}/result.
 * Data messages (telemetry and events from fleet.h) carry one seq counter
 * per machine: seq_start, seq_start + 1, ...
 *
 * Every QoS > 0 publish is tracked by message id until the server
 * acknowledges it (acked, reason < 0x80) or refuses it (reason >= 0x80,
 * MQTT 5 only). While a machine is disconnected its QoS > 0 messages stay
 * queued in libmosquitto and are re-sent after the reconnect. At most
 * CLIENT_WINDOW messages per machine are unresolved at once: a machine that
 * is not acknowledged waits rather than queueing without bound.
 *
 * Connections are opened a few at a time (the TLS set-up costs the
 * simulator ~2-3 ms of CPU each). A machine starts publishing at its first
 * connection, at a random phase within its period; unthrottled (rate 0) it
 * waits until the whole fleet is connected, so a benchmark measures the full
 * fleet. "The fleet is connected" when every machine has connected once, or
 * 60 s after the start at the latest; --duration counts from then.
 *
 * The run ends when every machine has sent its quota and every message is
 * resolved, or when publishing time is over and CLIENT_DRAIN_MS more have
 * passed, or CLIENT_STOP_DRAIN_MS after client_request_stop().
 */
#ifndef CC_SIM_CLIENT_H
#define CC_SIM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "sim/fleet.h"

#define CLIENT_MACHINES_MAX 20000
#define CLIENT_WINDOW 64
#define CLIENT_DRAIN_MS 10000
#define CLIENT_STOP_DRAIN_MS 2000
#define CLIENT_REASON_TEXTS 16
#define CLIENT_REASON_TEXT_MAX 96
#define CLIENT_MODEL "barista-pro"
#define CLIENT_INFO "{\"model\":\"barista-pro\",\"hw\":\"rev-c\",\"sw\":\"4.2.1\"}"

#define CLIENT_SCENARIOS_MAX 16

struct client_opts {
	const char *host;
	int port;
	int plain;            /* plain TCP instead of TLS */
	int protocol;         /* 5 or 3 (3.1.1) */
	int qos;              /* 0, 1 or 2 for data messages */
	double rate;          /* messages per second per machine; 0: as fast as acks allow */
	double duration_s;    /* > 0: publish until this long after the fleet connected ... */
	uint32_t count;       /* ... else this many messages per machine */
	double timeout_s;     /* publishing stops this long after the start in any case (0: none) */
	double speedup;       /* model seconds per real second of the nominal rate */
	int64_t seq_start;    /* seq of each machine's first message */
	uint64_t seed;
	enum fleet_fault fault;
	const char *certs_dir;
	const char *ack_log;  /* NULL: none; else appended "<serial> <seq>\n" per acked message */
	const char *record;   /* NULL: none; else appended a JSON line per well-formed message published */
	int quiet;            /* no progress or command lines */
	double start_day_s;   /* local time of day at the start, for the models */
	double fail_rate;     /* update-offer commands answered "failed", 0..1 */
	int https_port;       /* > 0: people's HTTPS listener on host, where diagnostics bundles go (sim/diag.h) */
	/* Machine i is put on scenario[i] (fleet.h), the others on none. */
	enum fleet_scenario scenario[CLIENT_SCENARIOS_MAX];
	size_t nscenarios;
	/* > 0: each message is stamped with its model time, from this moment on
	 * (--backfill-hours): hours of history made in seconds. */
	int64_t backfill_from_ms;
	/* --agent: the machines are cc_agents (sim/agent_client.h). */
	int agent;
	const char *release_keys[4];  /* PEM texts the machines trust for artifacts */
	size_t nrelease_keys;
	const char *server_key;       /* PEM text of the installation's signing key */
	const char *fail_install;     /* installs of this version fail (NULL: none) */
	double update_every_s;        /* > 0: each machine looks for an update this often */
};

/* Publish-to-acknowledgement latency histogram: 50 us buckets up to 1 s. */
#define CLIENT_LATENCY_BUCKET_US 50
#define CLIENT_LATENCY_BUCKETS 20000

struct client_stats {
	uint32_t machines;
	uint32_t machines_connected;  /* machines that connected at least once */
	uint64_t sent;                /* data messages handed to libmosquitto */
	uint64_t max_sent;            /* the most data messages one machine published (its seqs used) */
	uint64_t telemetry, events;   /* of sent, by topic */
	uint64_t acked;               /* QoS > 0: acknowledged; QoS 0: written to the socket */
	uint64_t refused;             /* refused by reason code >= 0x80 */
	uint64_t refused_by_reason[256];
	/* MQTT 5 reason strings of refusals (fixed phrases of the server),
	 * the first CLIENT_REASON_TEXTS distinct ones, printable ASCII only */
	struct {
		char text[CLIENT_REASON_TEXT_MAX];
		uint64_t count;
	} reason_texts[CLIENT_REASON_TEXTS];
	unsigned reason_texts_used;
	uint64_t unresolved;          /* sent, QoS > 0, neither acked nor refused at the end */
	uint64_t hostile_sent, hostile_acked, hostile_refused;
	uint64_t unexpected_refused;  /* well-formed messages refused */
	uint64_t queued_while_down;   /* published while disconnected, resent later */
	uint64_t lost;                /* QoS 0 messages lost with a connection, or unpublishable */
	uint64_t shortfall;           /* messages of the quota never sent (count mode) */
	uint64_t control_sent, control_acked, control_refused; /* status and info */
	uint64_t commands_received;
	uint64_t commands_answered;   /* with a job's command id: results published */
	uint64_t diagnostics_uploaded; /* bundles uploaded (--https-port) */
	uint64_t diagnostics_failed;   /* bundles that could not be */
	uint64_t connects, reconnects, disconnects, sessions_resumed;
	uint64_t connect_errors;      /* attempts that failed before CONNACK */
	uint64_t publish_errors;      /* publish calls libmosquitto refused outright */
	uint64_t events_dropped;      /* model events lost to a full queue */
	/* --agent: updates looked for, installed and confirmed, refused by the
	 * agent's verification, failed in the (simulated) firmware */
	uint64_t update_checks, updates_installed, updates_refused, updates_failed;
	uint64_t max_seq;             /* the highest seq used (--agent: the agent numbers) */
	/* well-formed data messages acknowledged, by publish-to-ack latency
	 * (the last bucket also holds everything slower) */
	uint64_t latency[CLIENT_LATENCY_BUCKETS];
	double seconds;               /* first data publish to last resolution */
	double connect_seconds;       /* start to every machine connected once (0: never) */
	double elapsed_seconds;       /* the whole traffic phase */
	int interrupted;
};

/* Runs the traffic of n machines (serials[i], bundles under
 * o->certs_dir/serials[i]/). Returns 0 when the run took place, whatever
 * its outcome (see *st), or a negative CC_ERR_* when it could not start
 * (bad options, too few file descriptors, out of memory). */
int client_run(const struct client_opts *o, const char *const *serials, size_t n,
               struct client_stats *st);

/* Stops publishing and starts the short drain; async-signal-safe. */
void client_request_stop(void);
/* 1 once client_request_stop() was called. */
int client_stop_requested(void);

#endif
