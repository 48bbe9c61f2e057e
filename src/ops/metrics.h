/*
 * metrics.h - the daemon's numbers for Prometheus (docs/OPERATIONS.md
 * "Watching it"): a fixed registry of counters, gauges and histograms,
 * rendered in the Prometheus text exposition format when scraped (on any
 * thread).
 *
 * Each number has ONE writing thread, so bumping it is a relaxed atomic
 * load and store - no lock, no locked instruction, nothing allocated (about
 * a nanosecond on the ingest path): counters, metrics_gauge_add, refusals
 * and HTTP requests on the event-loop thread; metrics_commit and the
 * writer's gauges (metrics_gauge_set) on the writer thread.
 *
 * Every label comes from a closed set known here: message kinds, refusal
 * stages (docs/METRICS.md "Refusal reasons"), route templates of the route
 * table, status classes, alert severities. Never a serial, a login, a path
 * with ids or a refusal's text.
 */
#ifndef CC_OPS_METRICS_H
#define CC_OPS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

struct http_route;

enum metrics_counter {
	METRIC_ACCEPTED_TELEMETRY, /* messages accepted, by kind */
	METRIC_ACCEPTED_EVENT,
	METRIC_ACCEPTED_INFO,
	METRIC_ACCEPTED_RESULT,
	METRIC_DROPPED,            /* QoS 0 messages dropped under overload */
	METRIC_SIGNIN_FAILURES,
	METRIC_COUNTERS
};

enum metrics_gauge {
	METRIC_MQTT_CONNECTIONS,   /* open now (TCP accepted, CONNECT or not) */
	METRIC_WRITER_QUEUE,       /* items waiting for the writer */
	METRIC_INBOX_BACKLOG,      /* records in the inbox not yet moved by the settler */
	METRIC_GAUGES
};

void metrics_count(enum metrics_counter c);
void metrics_gauge_add(enum metrics_gauge g, int64_t delta);
void metrics_gauge_set(enum metrics_gauge g, int64_t value);

/* A refused message: reason is the verdict's text, privacy nonzero when the
 * privacy filter refused it, kind "telemetry", "event", "info", "result" or
 * "config"; counted under its stage (size, decoding, privacy, seq_ts, telemetry,
 * event, info, result, config, topic, internal). */
void metrics_refused(const char *reason, int privacy, const char *kind);
/* The stage a refusal is counted under (for tests and the dashboard). */
const char *metrics_refusal_stage(const char *reason, int privacy, const char *kind);

/* One group commit of the writer: its messages and how long it took. */
void metrics_commit(size_t messages, int64_t duration_us);

/* The writer thread is alive (called at least every few seconds). */
void metrics_writer_beat(void);
/* Serving (1) or starting / stopping (0): what /readyz answers. */
void metrics_set_ready(int ready);
/* Ready, and the writer beat within the last 30 s. */
int metrics_ready(void);

/* The route table whose routes are counted (before any request). */
void metrics_http_routes(const struct http_route *routes);
/* One answered request: route NULL (or from another table) counts under
 * route "other" (static files, unknown paths). */
void metrics_http(const struct http_route *route, int status);

/* What only a scrape can know (the store), rendered with the rest. */
struct metrics_scrape {
	int64_t alerts_open[3];     /* unresolved alerts: info, warning, critical; -1: unknown */
	int64_t webhook_backlog;    /* notifications queued, not yet delivered or failed; -1: unknown */
	int64_t store_bytes;        /* database files (main and inbox, with their WAL); -1: unknown */
};

/* Appends the exposition (text/plain; version=0.0.4) to out. */
int metrics_render(struct evbuffer *out, const struct metrics_scrape *scrape);

#endif
