/*
 * endpoint.h - the operator's listener (config metrics_listen): plain HTTP
 * on a loopback address only (config.c refuses any other), GET only, three
 * fixed paths, no sign-in, nothing else:
 *   /metrics  the Prometheus exposition (ops/metrics.h), with what only a
 *             scrape reads from the store (open alerts, webhook backlog,
 *             store size)
 *   /healthz  200 "ok" while the process answers at all
 *   /readyz   200 "ready" once the store is open, every listener is up and
 *             the writer thread beats; 503 "not ready" while starting,
 *             stopping or when the writer is stuck
 * Answers carry a status and a word, never a path, a name or an error text.
 * Runs on the event-loop thread.
 */
#ifndef CC_OPS_ENDPOINT_H
#define CC_OPS_ENDPOINT_H

#include <event2/event.h>

struct ops_endpoint;
struct vault;

/* Binds listen (host:port) before privileges are dropped; answers 503 on
 * /metrics and /readyz until ops_endpoint_attach. */
int ops_endpoint_new(struct event_base *base, const char *listen, struct ops_endpoint **out);
/* The store the scrape reads, and the data directory whose files it sizes
 * (borrowed: both outlive the endpoint). */
void ops_endpoint_attach(struct ops_endpoint *e, struct vault *v, const char *data_dir);
void ops_endpoint_free(struct ops_endpoint *e);

#endif
