/* endpoint.c - /metrics, /healthz and /readyz on a loopback listener. */
#include "ops/endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/err.h"
#include "common/log.h"
#include "daemon/netaddr.h"
#include "ops/metrics.h"
#include "store/store.h"
#include "vault/vault.h"

#define MOD "ops"

struct ops_endpoint {
	struct evhttp *http;
	struct vault *vault;
	char data_dir[VAULT_PATH_MAX];
};

static void reply(struct evhttp_request *req, int status, const char *content_type, struct evbuffer *body,
                  const char *text)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = body;

	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (b == NULL && (b = evbuffer_new()) != NULL)
		evbuffer_add(b, text, strlen(text));
	evhttp_send_reply(req, status, NULL, b);
	if (b != NULL && b != body)
		evbuffer_free(b);
}

static int count_alert(void *ctx, const struct store_alert *a)
{
	(void)a;
	++*(int64_t *)ctx;
	return 0;
}

static int64_t file_bytes(const char *dir, const char *name)
{
	char path[VAULT_PATH_MAX + 64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static void scrape(struct ops_endpoint *e, struct metrics_scrape *m)
{
	static const char *const severities[] = { "info", "warning", "critical" };
	static const char *const files[] = { "coffeecloud.db", "coffeecloud.db-wal", "coffeecloud-inbox.db",
		                             "coffeecloud-inbox.db-wal" };
	struct store *s = vault_store(e->vault);
	size_t i;

	m->store_bytes = 0;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		m->store_bytes += file_bytes(e->data_dir, files[i]);
	for (i = 0; i < 3; i++) {
		struct store_alert_filter f;

		memset(&f, 0, sizeof(f));
		f.unresolved = 1;
		f.severity = severities[i];
		m->alerts_open[i] = 0;
		if (s->ops->alert_list(s, &f, count_alert, &m->alerts_open[i]) != CC_OK)
			m->alerts_open[i] = -1;
	}
	if (s->ops->notify == NULL || s->ops->notify->outbox_pending(s, &m->webhook_backlog) != CC_OK)
		m->webhook_backlog = -1;
}

static void serve(struct evhttp_request *req, void *arg)
{
	struct ops_endpoint *e = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		reply(req, 405, "text/plain; charset=utf-8", NULL, "method not allowed\n");
		return;
	}
	if (path != NULL && strcmp(path, "/healthz") == 0) {
		reply(req, 200, "text/plain; charset=utf-8", NULL, "ok\n");
	} else if (path != NULL && strcmp(path, "/readyz") == 0) {
		int ready = e->vault != NULL && metrics_ready();

		reply(req, ready ? 200 : 503, "text/plain; charset=utf-8", NULL, ready ? "ready\n" : "not ready\n");
	} else if (path != NULL && strcmp(path, "/metrics") == 0) {
		struct metrics_scrape m = { { -1, -1, -1 }, -1, -1 };
		struct evbuffer *b = evbuffer_new();

		if (e->vault == NULL || b == NULL) {
			if (b != NULL)
				evbuffer_free(b);
			reply(req, 503, "text/plain; charset=utf-8", NULL, "not ready\n");
			return;
		}
		scrape(e, &m);
		if (metrics_render(b, &m) != CC_OK)
			reply(req, 500, "text/plain; charset=utf-8", NULL, "internal error\n");
		else
			reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b, NULL);
		evbuffer_free(b);
	} else {
		reply(req, 404, "text/plain; charset=utf-8", NULL, "not found\n");
	}
}

int ops_endpoint_new(struct event_base *base, const char *listen, struct ops_endpoint **out)
{
	struct ops_endpoint *e = calloc(1, sizeof(*e));
	struct timeval timeout = { 10, 0 };
	struct netaddr a;
	char host[64];
	const char *colon = strrchr(listen, ':');

	if (e == NULL)
		return CC_ERR_NOMEM;
	e->http = evhttp_new(base);
	if (e->http == NULL || colon == NULL || netaddr_parse(listen, &a) != CC_OK) {
		ops_endpoint_free(e);
		return CC_ERR_INVALID;
	}
	/* A scraper sends a short GET: nothing bigger is read. */
	evhttp_set_max_body_size(e->http, 0);
	evhttp_set_max_headers_size(e->http, 8192);
	evhttp_set_timeout_tv(e->http, &timeout);
	evhttp_set_allowed_methods(e->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                             EVHTTP_REQ_DELETE);
	evhttp_set_gencb(e->http, serve, e);
	netaddr_host((struct sockaddr *)&a.ss, host, sizeof(host));
	if (evhttp_bind_socket_with_handle(e->http, host, (ev_uint16_t)strtol(colon + 1, NULL, 10)) == NULL) {
		log_error(MOD, "cannot listen on %s: %s", listen, strerror(errno));
		ops_endpoint_free(e);
		return CC_ERR_IO;
	}
	log_info(MOD, "metrics and health on %s (plain HTTP, loopback only)", listen);
	*out = e;
	return CC_OK;
}

void ops_endpoint_attach(struct ops_endpoint *e, struct vault *v, const char *data_dir)
{
	e->vault = v;
	snprintf(e->data_dir, sizeof(e->data_dir), "%s", data_dir);
}

void ops_endpoint_free(struct ops_endpoint *e)
{
	if (e == NULL)
		return;
	if (e->http != NULL)
		evhttp_free(e->http);
	free(e);
}
