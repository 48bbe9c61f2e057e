/* metrics.c - the registry: atomics, and their rendering. */
#include "ops/metrics.h"

#include <stdatomic.h>
#include <string.h>

#include <event2/http.h>

#include "common/clock.h"
#include "common/err.h"
#include "http/server.h"

#define ROUTES_MAX 512
#define CLASSES 5 /* 1xx .. 5xx */

static const char *const stages[] = { "size", "decoding", "privacy", "seq_ts", "telemetry", "event",
	                              "info", "result", "config", "topic", "internal" };
#define STAGES (sizeof(stages) / sizeof(stages[0]))

static const uint64_t batch_le[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192 };
#define BATCH_BUCKETS (sizeof(batch_le) / sizeof(batch_le[0]))
static const int64_t commit_le_us[] = { 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000,
	                                500000, 1000000, 2000000, 5000000 };
#define COMMIT_BUCKETS (sizeof(commit_le_us) / sizeof(commit_le_us[0]))

/* The event loop's counters and the writer's on lines of their own: one
 * thread's adds do not bounce the other's cache line. */
static struct {
	_Alignas(64) _Atomic uint64_t counters[METRIC_COUNTERS];
	_Atomic uint64_t refused[STAGES];
	_Atomic int64_t gauges[METRIC_GAUGES];
} loop;

static struct {
	_Alignas(64) _Atomic uint64_t batch[BATCH_BUCKETS + 1];
	_Atomic uint64_t batch_sum;
	_Atomic uint64_t commit[COMMIT_BUCKETS + 1];
	_Atomic uint64_t commit_sum_us;
	_Atomic int64_t beat_ms;
} writer;

static struct {
	_Alignas(64) const struct http_route *routes;
	size_t n;
	_Atomic uint64_t counts[ROUTES_MAX + 1][CLASSES];
	_Atomic int ready;
} http;

/* Each counter has one writer (metrics.h): a relaxed load and store, no
 * locked instruction, and a scrape on another thread still reads whole
 * values. */
static void bump(_Atomic uint64_t *v, uint64_t n)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n, memory_order_relaxed);
}

void metrics_count(enum metrics_counter c) { bump(&loop.counters[c], 1); }

void metrics_gauge_add(enum metrics_gauge g, int64_t delta)
{
	atomic_store_explicit(&loop.gauges[g], atomic_load_explicit(&loop.gauges[g], memory_order_relaxed) + delta,
	                      memory_order_relaxed);
}

void metrics_gauge_set(enum metrics_gauge g, int64_t value)
{
	atomic_store_explicit(&loop.gauges[g], value, memory_order_relaxed);
}

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

const char *metrics_refusal_stage(const char *reason, int privacy, const char *kind)
{
	static const char *const decoding[] = { "nesting too deep", "duplicate key", "invalid UTF-8",
		                                "NUL character", "number out of range", "truncated JSON",
		                                "data after the JSON", "invalid JSON", "not a JSON object" };
	size_t i;

	if (kind != NULL && (strcmp(kind, "topic") == 0 || strcmp(kind, "result") == 0))
		return kind;
	if (kind != NULL && strcmp(kind, "config") == 0 && !privacy)
		return kind;
	if (privacy)
		return "privacy";
	if (reason == NULL)
		return "internal";
	if (starts(reason, "payload too large") || starts(reason, "empty payload"))
		return "size";
	for (i = 0; i < sizeof(decoding) / sizeof(decoding[0]); i++)
		if (starts(reason, decoding[i]))
			return "decoding";
	if (starts(reason, "missing seq") || starts(reason, "seq ") || starts(reason, "missing ts") ||
	    starts(reason, "ts "))
		return "seq_ts";
	if (starts(reason, "internal error"))
		return "internal";
	if (kind != NULL && (strcmp(kind, "telemetry") == 0 || strcmp(kind, "event") == 0 ||
	                     strcmp(kind, "info") == 0))
		return kind;
	return "internal";
}

void metrics_refused(const char *reason, int privacy, const char *kind)
{
	const char *stage = metrics_refusal_stage(reason, privacy, kind);
	size_t i;

	for (i = 0; i < STAGES; i++)
		if (strcmp(stages[i], stage) == 0)
			break;
	bump(&loop.refused[i < STAGES ? i : STAGES - 1], 1);
}

void metrics_commit(size_t messages, int64_t duration_us)
{
	size_t i;

	for (i = 0; i < BATCH_BUCKETS && messages > batch_le[i]; i++)
		;
	bump(&writer.batch[i], 1);
	bump(&writer.batch_sum, messages);
	if (duration_us < 0)
		duration_us = 0;
	for (i = 0; i < COMMIT_BUCKETS && duration_us > commit_le_us[i]; i++)
		;
	bump(&writer.commit[i], 1);
	bump(&writer.commit_sum_us, (uint64_t)duration_us);
}

void metrics_writer_beat(void)
{
	atomic_store_explicit(&writer.beat_ms, clock_mono_ms(), memory_order_relaxed);
}

void metrics_set_ready(int ready) { atomic_store(&http.ready, ready); }

int metrics_ready(void)
{
	int64_t beat = atomic_load_explicit(&writer.beat_ms, memory_order_relaxed);

	return atomic_load(&http.ready) && beat > 0 && clock_mono_ms() - beat < 30000;
}

void metrics_http_routes(const struct http_route *routes)
{
	size_t n = 0;

	while (routes[n].pattern != NULL && n < ROUTES_MAX)
		n++;
	http.routes = routes;
	http.n = n;
}

void metrics_http(const struct http_route *route, int status)
{
	size_t i = ROUTES_MAX; /* "other" */
	int cls = status / 100 - 1;

	if (route != NULL && http.routes != NULL && route >= http.routes && route < http.routes + http.n)
		i = (size_t)(route - http.routes);
	if (cls < 0 || cls >= CLASSES)
		cls = CLASSES - 1;
	bump(&http.counts[i][cls], 1);
}

/* ---- rendering ---- */

static uint64_t load(_Atomic uint64_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }

static void head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *method_name(enum evhttp_cmd_type m)
{
	return m == EVHTTP_REQ_GET ? "GET" : m == EVHTTP_REQ_POST ? "POST" : m == EVHTTP_REQ_DELETE ? "DELETE"
	       : m == EVHTTP_REQ_PUT ? "PUT" : m == EVHTTP_REQ_PATCH ? "PATCH" : "OTHER";
}

/* A label value: route templates hold no quote or backslash, but the
 * format's escapes cost nothing. */
static void label_value(struct evbuffer *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(out, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, v, 1);
	}
}

static void render_http(struct evbuffer *out)
{
	size_t i;
	int c;

	head(out, "coffeecloud_http_requests_total", "counter",
	     "HTTP requests answered, by route template and status class");
	for (i = 0; i <= ROUTES_MAX; i++) {
		if (i >= http.n && i != ROUTES_MAX)
			continue;
		for (c = 0; c < CLASSES; c++) {
			uint64_t v = load(&http.counts[i][c]);

			if (v == 0)
				continue;
			evbuffer_add_printf(out, "coffeecloud_http_requests_total{method=\"%s\",route=\"",
			                    i < ROUTES_MAX ? method_name(http.routes[i].method) : "OTHER");
			label_value(out, i < ROUTES_MAX ? http.routes[i].pattern : "other");
			evbuffer_add_printf(out, "\",code=\"%dxx\"} %llu\n", c + 1, (unsigned long long)v);
		}
	}
}

static void render_histograms(struct evbuffer *out)
{
	uint64_t cum = 0;
	size_t i;

	head(out, "coffeecloud_commit_batch_messages", "histogram", "messages (and other writer items) per group commit");
	for (i = 0; i <= BATCH_BUCKETS; i++) {
		cum += load(&writer.batch[i]);
		if (i < BATCH_BUCKETS)
			evbuffer_add_printf(out, "coffeecloud_commit_batch_messages_bucket{le=\"%llu\"} %llu\n",
			                    (unsigned long long)batch_le[i], (unsigned long long)cum);
		else
			evbuffer_add_printf(out, "coffeecloud_commit_batch_messages_bucket{le=\"+Inf\"} %llu\n",
			                    (unsigned long long)cum);
	}
	evbuffer_add_printf(out, "coffeecloud_commit_batch_messages_sum %llu\ncoffeecloud_commit_batch_messages_count %llu\n",
	                    (unsigned long long)load(&writer.batch_sum), (unsigned long long)cum);

	cum = 0;
	head(out, "coffeecloud_commit_duration_seconds", "histogram",
	     "time of one group commit, fsync included (the writer's store_batch)");
	for (i = 0; i <= COMMIT_BUCKETS; i++) {
		cum += load(&writer.commit[i]);
		if (i < COMMIT_BUCKETS)
			evbuffer_add_printf(out, "coffeecloud_commit_duration_seconds_bucket{le=\"%g\"} %llu\n",
			                    (double)commit_le_us[i] / 1e6, (unsigned long long)cum);
		else
			evbuffer_add_printf(out, "coffeecloud_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			                    (unsigned long long)cum);
	}
	evbuffer_add_printf(out, "coffeecloud_commit_duration_seconds_sum %.6f\ncoffeecloud_commit_duration_seconds_count %llu\n",
	                    (double)load(&writer.commit_sum_us) / 1e6, (unsigned long long)cum);
}

static void gauge(struct evbuffer *out, const char *name, const char *help, int64_t v)
{
	if (v < 0)
		return; /* unknown this scrape: absent rather than wrong */
	head(out, name, "gauge", help);
	evbuffer_add_printf(out, "%s %lld\n", name, (long long)v);
}

int metrics_render(struct evbuffer *out, const struct metrics_scrape *scrape)
{
	static const char *const kinds[] = { "telemetry", "event", "info", "result" };
	static const char *const severities[] = { "info", "warning", "critical" };
	size_t i;

	head(out, "coffeecloud_build_info", "gauge", "the running version (value always 1)");
	evbuffer_add_printf(out, "coffeecloud_build_info{version=\"");
	label_value(out, CC_VERSION);
	evbuffer_add_printf(out, "\"} 1\n");

	gauge(out, "coffeecloud_mqtt_connections", "MQTT connections open now",
	      atomic_load_explicit(&loop.gauges[METRIC_MQTT_CONNECTIONS], memory_order_relaxed));

	head(out, "coffeecloud_messages_accepted_total", "counter",
	     "machine messages accepted (telemetry and events once queued for storage), by kind");
	for (i = 0; i < 4; i++)
		evbuffer_add_printf(out, "coffeecloud_messages_accepted_total{kind=\"%s\"} %llu\n", kinds[i],
		                    (unsigned long long)load(&loop.counters[METRIC_ACCEPTED_TELEMETRY + i]));
	head(out, "coffeecloud_messages_refused_total", "counter",
	     "machine messages refused, by stage (docs/METRICS.md \"Refusal reasons\"; topic: outside the machine's topics)");
	for (i = 0; i < STAGES; i++)
		evbuffer_add_printf(out, "coffeecloud_messages_refused_total{reason=\"%s\"} %llu\n", stages[i],
		                    (unsigned long long)load(&loop.refused[i]));
	head(out, "coffeecloud_messages_dropped_total", "counter", "QoS 0 messages dropped while the writer's queue was full");
	evbuffer_add_printf(out, "coffeecloud_messages_dropped_total %llu\n",
	                    (unsigned long long)load(&loop.counters[METRIC_DROPPED]));

	render_histograms(out);
	gauge(out, "coffeecloud_writer_queue_items", "items waiting for the writer (after its last batch was taken)",
	      atomic_load_explicit(&loop.gauges[METRIC_WRITER_QUEUE], memory_order_relaxed));
	gauge(out, "coffeecloud_inbox_backlog_records", "records in the inbox the settler has not moved yet",
	      atomic_load_explicit(&loop.gauges[METRIC_INBOX_BACKLOG], memory_order_relaxed));

	render_http(out);
	head(out, "coffeecloud_signin_failures_total", "counter", "failed sign-ins (wrong password or code)");
	evbuffer_add_printf(out, "coffeecloud_signin_failures_total %llu\n",
	                    (unsigned long long)load(&loop.counters[METRIC_SIGNIN_FAILURES]));

	if (scrape != NULL) {
		if (scrape->alerts_open[0] >= 0 && scrape->alerts_open[1] >= 0 && scrape->alerts_open[2] >= 0) {
			head(out, "coffeecloud_alerts_open", "gauge", "unresolved alerts (open or acknowledged), by severity");
			for (i = 0; i < 3; i++)
				evbuffer_add_printf(out, "coffeecloud_alerts_open{severity=\"%s\"} %lld\n", severities[i],
				                    (long long)scrape->alerts_open[i]);
		}
		gauge(out, "coffeecloud_webhook_backlog_notifications",
		      "notifications queued for webhooks and e-mail, not yet delivered or given up", scrape->webhook_backlog);
		gauge(out, "coffeecloud_store_size_bytes", "size of the database files (main and inbox, WAL included)",
		      scrape->store_bytes);
	}
	return evbuffer_get_length(out) > 0 ? CC_OK : CC_ERR_NOMEM;
}
