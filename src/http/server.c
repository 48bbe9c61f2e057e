#include "http/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http_struct.h>
#include <openssl/evp.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon/netaddr.h"
#include "ops/metrics.h"

#define MOD "http"
#define SEGMENTS_MAX 12
#define SEGMENT_MAX 128

struct http_server {
	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *tls;
	int want_tls;
	const struct http_route *routes;
	int (*guard)(struct http_req *r);
	int (*files)(struct http_req *r, const char *path);
	void *app;
	struct http_req *waiting; /* requests answered later (http_req_later) */
	uint64_t next_id;
	int timeout_s;
};

struct http_req {
	struct http_server *srv;
	struct evhttp_request *req;
	const struct http_route *route;
	json_t *body;             /* a declared body, checked by dispatch */
	char params[HTTP_PARAMS_MAX][SEGMENT_MAX];
	char param_name_buf[HTTP_PARAMS_MAX][32];
	size_t nparams;
	struct evkeyvalq query;
	int query_parsed;
	char source[64];
	/* answered later: the client may leave first */
	struct evhttp_connection *conn;
	void (*gone)(void *arg);
	void *gone_arg;
	struct http_req *waiting_next;
	/* a chunk in flight */
	void (*sent)(void *arg);
	void *sent_arg;
	/* held (http_req_hold): the reply waits in stash until every hold is
	 * released; a failed hold turns it into a refusal */
	uint64_t id;
	int waiting_listed, holds, hold_failed, stashed, stash_status;
	struct evbuffer *stash;
};

void *http_app(const struct http_req *r) { return r->srv->app; }
const struct http_route *http_route(const struct http_req *r) { return r->route; }
const char *http_source(const struct http_req *r) { return r->source; }
struct evhttp_request *http_evrequest(const struct http_req *r) { return r->req; }

const char *http_param(const struct http_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nparams; i++)
		if (strcmp(r->param_name_buf[i], name) == 0)
			return r->params[i];
	return NULL;
}

const char *http_query(struct http_req *r, const char *name)
{
	if (!r->query_parsed) {
		const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));

		TAILQ_INIT(&r->query);
		if (q != NULL && evhttp_parse_query_str(q, &r->query) != 0)
			evhttp_clear_headers(&r->query);
		r->query_parsed = 1;
	}
	return evhttp_find_header(&r->query, name);
}

const char *http_header(const struct http_req *r, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

void http_add_header(struct http_req *r, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

/* Off the list of requests answered later. Done before the reply goes out:
 * sending the end of a reply may close the connection there and then (the
 * client asked for Connection: close), and its close callback must not
 * find r, which is freed right after. */
static void unwatch(struct http_req *r)
{
	struct http_req **p;

	for (p = &r->srv->waiting; *p != NULL; p = &(*p)->waiting_next) {
		if (*p == r) {
			*p = r->waiting_next;
			break;
		}
	}
	r->gone = NULL;
}

static void req_free(struct http_req *r)
{
	unwatch(r);
	if (r->query_parsed)
		evhttp_clear_headers(&r->query);
	if (r->stash != NULL)
		evbuffer_free(r->stash);
	json_decref(r->body);
	free(r);
}

static void common_headers(struct http_req *r, const char *content_type);

/* The refusal a failed hold turns the reply into: whatever the handler
 * answered is dropped, headers and all. */
static void send_hold_refusal(struct http_req *r)
{
	static const char body[] = "{\"error\":{\"code\":\"audit_unavailable\",\"message\":"
	                           "\"the access could not be recorded, so it is refused\"}}";
	struct evbuffer *b = evbuffer_new();

	evhttp_clear_headers(evhttp_request_get_output_headers(r->req));
	common_headers(r, "application/json");
	if (b != NULL)
		evbuffer_add(b, body, sizeof(body) - 1);
	metrics_http(r->route, 503);
	unwatch(r);
	evhttp_send_reply(r->req, 503, NULL, b);
	if (b != NULL)
		evbuffer_free(b);
	req_free(r);
}

/* Every whole reply ends here: sent and r freed, or kept (body moved out of
 * b) while the request is held. */
static void finish(struct http_req *r, int status, struct evbuffer *b)
{
	if (r->holds > 0) {
		r->stash = evbuffer_new();
		if (r->stash != NULL && b != NULL)
			evbuffer_add_buffer(r->stash, b);
		r->stash_status = r->stash != NULL ? status : 500;
		r->stashed = 1;
		return;
	}
	if (r->hold_failed) {
		send_hold_refusal(r);
		return;
	}
	unwatch(r);
	evhttp_send_reply(r->req, status, NULL, b);
	req_free(r);
}

static void security_headers(struct http_req *r, const char *content_type, const char *cache_control,
                             const char *csp)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);

	if (content_type != NULL)
		evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
	evhttp_add_header(h, "Cache-Control", cache_control);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Content-Security-Policy", csp);
}

static void common_headers(struct http_req *r, const char *content_type)
{
	security_headers(r, content_type, "no-store", "default-src 'none'; frame-ancestors 'none'");
}

void http_stream_begin(struct http_req *r, const char *content_type, const char *disposition)
{
	common_headers(r, content_type);
	if (disposition != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Disposition", disposition);
	metrics_http(r->route, 200);
	evhttp_send_reply_start(r->req, 200, "OK");
}

void http_stream_begin_sized(struct http_req *r, int status, const char *content_type, uint64_t len,
                             const char *content_range)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	char n[24];

	common_headers(r, content_type);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)len);
	/* With a length evhttp writes the slices as they are, not chunked. */
	evhttp_add_header(h, "Content-Length", n);
	evhttp_add_header(h, "Accept-Ranges", "bytes");
	if (content_range != NULL)
		evhttp_add_header(h, "Content-Range", content_range);
	evhttp_send_reply_start(r->req, status, status == 206 ? "Partial Content" : "OK");
}

SSL *http_ssl(const struct http_req *r)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;

	return r->srv->tls != NULL && bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
}

int http_stream_write(struct http_req *r, const char *data, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	int rc = b != NULL && evbuffer_add(b, data, len) == 0 ? CC_OK : CC_ERR_NOMEM;

	if (rc == CC_OK)
		evhttp_send_reply_chunk(r->req, b);
	if (b != NULL)
		evbuffer_free(b);
	return rc;
}

static void chunk_sent(struct evhttp_connection *conn, void *arg)
{
	struct http_req *r = arg;

	(void)conn;
	r->sent(r->sent_arg);
}

int http_stream_chunk(struct http_req *r, struct evbuffer *chunk, void (*sent)(void *arg), void *arg)
{
	r->sent = sent;
	r->sent_arg = arg;
	evhttp_send_reply_chunk_with_cb(r->req, chunk, chunk_sent, r);
	return CC_OK;
}

/* evhttp frees the requests of a connection that closes: the requests
 * answered later learn it here, and their http_req goes with them. */
static void connection_closed(struct evhttp_connection *conn, void *arg)
{
	struct http_server *s = arg;
	struct http_req **p = &s->waiting;

	while (*p != NULL) {
		struct http_req *r = *p;

		if (r->conn != conn) {
			p = &r->waiting_next;
			continue;
		}
		*p = r->waiting_next;
		r->waiting_next = NULL;
		if (r->gone != NULL)
			r->gone(r->gone_arg);
		/* A request not yet answered is detached from a failing connection
		 * and left to its owner (libevent 2.1, incoming_fail): free it. */
		if (evhttp_request_get_connection(r->req) == NULL)
			evhttp_request_free(r->req);
		if (r->query_parsed)
			evhttp_clear_headers(&r->query);
		if (r->stash != NULL)
			evbuffer_free(r->stash);
		json_decref(r->body);
		free(r);
	}
}

static void watch(struct http_req *r)
{
	if (r->waiting_listed)
		return;
	r->waiting_listed = 1;
	r->conn = evhttp_request_get_connection(r->req);
	r->waiting_next = r->srv->waiting;
	r->srv->waiting = r;
	if (r->conn != NULL)
		evhttp_connection_set_closecb(r->conn, connection_closed, r->srv);
}

void http_req_later(struct http_req *r, void (*gone)(void *arg), void *arg)
{
	r->gone = gone;
	r->gone_arg = arg;
	watch(r);
}

uint64_t http_req_hold(struct http_req *r)
{
	r->holds++;
	watch(r);
	return r->id;
}

struct http_server *http_req_server(const struct http_req *r) { return r->srv; }

int http_timeout_s(const struct http_req *r) { return r->srv->timeout_s; }

void http_req_release(struct http_server *s, uint64_t id, int ok)
{
	struct http_req *r;

	for (r = s->waiting; r != NULL && r->id != id; r = r->waiting_next)
		;
	if (r == NULL || r->holds == 0)
		return; /* the client left meanwhile */
	if (!ok)
		r->hold_failed = 1;
	if (--r->holds > 0 || !r->stashed)
		return; /* more to wait for, or the handler has not answered yet */
	if (r->hold_failed) {
		send_hold_refusal(r);
		return;
	}
	unwatch(r);
	evhttp_send_reply(r->req, r->stash_status, NULL, r->stash);
	req_free(r);
}

void http_stream_end(struct http_req *r)
{
	unwatch(r);
	evhttp_send_reply_end(r->req);
	req_free(r);
}

static void send_body(struct http_req *r, int status, const char *content_type, const char *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	common_headers(r, content_type);
	if (b != NULL)
		evbuffer_add(b, body, len);
	metrics_http(r->route, status);
	finish(r, status, b);
	if (b != NULL)
		evbuffer_free(b);
}

void http_reply_file(struct http_req *r, const char *content_type, const char *bytes, size_t len,
                     const char *cache_control, const char *csp, const char *etag)
{
	const char *seen = http_header(r, "If-None-Match");
	struct evbuffer *b;

	if (etag != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "ETag", etag);
	if (etag != NULL && seen != NULL && strcmp(seen, etag) == 0) {
		security_headers(r, NULL, cache_control, csp);
		metrics_http(r->route, 304);
		finish(r, 304, NULL);
		return;
	}
	security_headers(r, content_type, cache_control, csp);
	/* By reference: the embedded bytes live as long as the program. */
	b = evbuffer_new();
	if (b != NULL && evbuffer_add_reference(b, bytes, len, NULL, NULL) != 0) {
		evbuffer_free(b);
		b = NULL;
	}
	metrics_http(r->route, b != NULL ? 200 : 500);
	finish(r, b != NULL ? 200 : 500, b);
	if (b != NULL)
		evbuffer_free(b);
}

void http_reply_page(struct http_req *r, const char *content_type, const char *body, size_t len, const char *csp)
{
	struct evbuffer *b = evbuffer_new();

	security_headers(r, content_type, "no-store", csp);
	if (b != NULL)
		evbuffer_add(b, body, len);
	finish(r, b != NULL ? 200 : 500, b);
	if (b != NULL)
		evbuffer_free(b);
}

void http_reply_text(struct http_req *r, int status, const char *content_type, const char *body)
{
	send_body(r, status, content_type, body, strlen(body));
}

void http_reply_buffer_etag(struct http_req *r, const char *content_type, struct evbuffer *body)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char etag[2 + 32 + 1];
	const char *seen = http_header(r, "If-None-Match");
	/* Chain by chain, where the bytes lie. */
	int i, n = evbuffer_peek(body, -1, NULL, NULL, 0);
	struct evbuffer_iovec *v = n > 0 ? calloc((size_t)n, sizeof(*v)) : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && (n == 0 || v != NULL) && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	         (n == 0 || evbuffer_peek(body, -1, NULL, v, n) == n);

	for (i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, v[i].iov_base, v[i].iov_len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= 16;
	EVP_MD_CTX_free(ctx);
	free(v);
	common_headers(r, content_type);
	if (ok) {
		etag[0] = '"';
		hex_encode(md, 15, etag + 1, 31);
		etag[31] = '"';
		etag[32] = '\0';
		http_add_header(r, "ETag", etag);
	}
	metrics_http(r->route, ok && seen != NULL && strcmp(seen, etag) == 0 ? 304 : 200);
	if (ok && seen != NULL && strcmp(seen, etag) == 0)
		finish(r, 304, NULL);
	else
		finish(r, 200, body);
}

void http_reply_json(struct http_req *r, int status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;

	json_decref(doc);
	if (text == NULL) {
		http_reply_error(r, 500, "internal", "the response could not be built");
		return;
	}
	send_body(r, status, "application/json", text, strlen(text));
	free(text);
}

void http_reply_error(struct http_req *r, int status, const char *code, const char *message)
{
	json_t *doc = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;

	json_decref(doc);
	send_body(r, status, "application/json", text ? text : "{\"error\":{\"code\":\"internal\"}}",
	          text ? strlen(text) : 28);
	free(text);
}

int http_body_json(struct http_req *r, json_t **out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	const char *type = http_header(r, "Content-Type");
	json_error_t jerr;
	json_t *doc;

	if (r->body != NULL) {
		*out = json_incref(r->body);
		return CC_OK;
	}
	if (len > HTTP_BODY_MAX) {
		http_reply_error(r, 413, "too_large", "the request body is too large");
		return CC_ERR_LIMIT;
	}
	if (type == NULL || strncmp(type, "application/json", 16) != 0) {
		http_reply_error(r, 415, "unsupported_media_type", "send application/json");
		return CC_ERR_INVALID;
	}
	doc = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len,
	                 JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL || !json_is_object(doc)) {
		json_decref(doc);
		http_reply_error(r, 400, "malformed_json", "the body is not a JSON object");
		return CC_ERR_INVALID;
	}
	*out = doc;
	return CC_OK;
}

json_t *http_body(const struct http_req *r) { return r->body; }

static int takes_csv(const struct http_route *route)
{
	const char *const *f;

	for (f = route->fields; f != NULL && *f != NULL; f++)
		if (strcmp(*f, HTTP_ALSO_CSV) == 0)
			return 1;
	return 0;
}

static int sent_csv(const struct http_req *r)
{
	const char *type = http_header(r, "Content-Type");

	return takes_csv(r->route) && type != NULL && strncmp(type, "text/csv", 8) == 0;
}

/* The route's declared body: a JSON object with no field outside the list.
 * Unknown fields (an "owner", an "org", a "role" slipped in) are refused
 * here, before any handler could act on them. */
static int body_declared(struct http_req *r)
{
	const char *key;
	json_t *body = NULL, *value;

	if (http_body_json(r, &body) != CC_OK)
		return CC_ERR_INVALID;
	json_object_foreach(body, key, value) {
		const char *const *f;

		for (f = r->route->fields; *f != NULL && (strcmp(*f, key) != 0 || strcmp(*f, HTTP_ALSO_CSV) == 0); f++)
			;
		if (*f == NULL) {
			json_decref(body);
			http_reply_error(r, 400, "invalid", "unknown field");
			return CC_ERR_INVALID;
		}
	}
	r->body = body;
	return CC_OK;
}

/* Splits a path into segments; refuses escapes, dot segments, empty ones. */
static int split_path(const char *path, char seg[SEGMENTS_MAX][SEGMENT_MAX], size_t *n)
{
	size_t count = 0;
	const char *p = path;

	if (path == NULL || path[0] != '/' || strchr(path, '%') != NULL || strchr(path, '\\') != NULL)
		return CC_ERR_INVALID;
	while (*p == '/') {
		const char *start = ++p;
		size_t len;

		while (*p != '\0' && *p != '/')
			p++;
		len = (size_t)(p - start);
		if (len == 0 && *p == '\0' && count > 0)
			break; /* one trailing slash is tolerated */
		if (len == 0 || len >= SEGMENT_MAX || count == SEGMENTS_MAX)
			return CC_ERR_INVALID;
		if ((len == 1 && start[0] == '.') || (len == 2 && start[0] == '.' && start[1] == '.'))
			return CC_ERR_INVALID;
		memcpy(seg[count], start, len);
		seg[count][len] = '\0';
		count++;
	}
	if (*p != '\0')
		return CC_ERR_INVALID;
	*n = count;
	return CC_OK;
}

/* Matches a pattern against segments, filling the captures of r. */
static int match(const char *pattern, char seg[SEGMENTS_MAX][SEGMENT_MAX], size_t n, struct http_req *r)
{
	char pseg[SEGMENTS_MAX][SEGMENT_MAX];
	size_t pn = 0, i;

	if (split_path(pattern, pseg, &pn) != CC_OK || pn != n)
		return 0;
	r->nparams = 0;
	for (i = 0; i < n; i++) {
		size_t plen = strlen(pseg[i]);

		if (pseg[i][0] == '{' && pseg[i][plen - 1] == '}') {
			if (r->nparams == HTTP_PARAMS_MAX || plen - 2 >= sizeof(r->param_name_buf[0]))
				return 0;
			memcpy(r->param_name_buf[r->nparams], pseg[i] + 1, plen - 2);
			r->param_name_buf[r->nparams][plen - 2] = '\0';
			memcpy(r->params[r->nparams], seg[i], strlen(seg[i]) + 1);
			r->nparams++;
		} else if (strcmp(pseg[i], seg[i]) != 0) {
			return 0;
		}
	}
	return 1;
}

/* The route for method and path: 0 with *out set (captures in r), or the
 * HTTP status that says why not (404 no such path, 405 no such method). */
static int resolve(const struct http_route *routes, enum evhttp_cmd_type method, const char *path,
                   struct http_req *r, const struct http_route **out)
{
	char seg[SEGMENTS_MAX][SEGMENT_MAX];
	const struct http_route *route;
	size_t n = 0;
	int path_known = 0;

	if (path == NULL || split_path(path, seg, &n) != CC_OK)
		return 404;
	for (route = routes; route->pattern != NULL; route++) {
		if (!match(route->pattern, seg, n, r))
			continue;
		path_known = 1;
		if (route->method == method) {
			*out = route;
			return 0;
		}
	}
	return path_known ? 405 : 404;
}

int http_resolve(const struct http_route *routes, enum evhttp_cmd_type method, const char *uri,
                 const struct http_route **out)
{
	struct evhttp_uri *parsed = evhttp_uri_parse_with_flags(uri, 0);
	struct http_req *r = calloc(1, sizeof(*r));
	int rc = 404;

	if (parsed != NULL && r != NULL)
		rc = resolve(routes, method, evhttp_uri_get_path(parsed), r, out);
	if (parsed != NULL)
		evhttp_uri_free(parsed);
	free(r);
	return rc;
}

/* libevent 2.1 gives a method it does not know this type (http-internal.h);
 * allowing it lets such requests reach dispatch and get a JSON 501. */
#define EVHTTP_REQ_UNKNOWN (1 << 15)
#define EVHTTP_REQ_ANY (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
                        EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH | EVHTTP_REQ_UNKNOWN)

/* Refuses, before routing, what libevent parsed but the API does not take:
 * another method than GET, POST, DELETE (501), and a body whose length is
 * ambiguous - two Content-Length fields, or Transfer-Encoding (with one:
 * 400; alone: 501, send a Content-Length) - the framing request smuggling
 * plays on (RFC 9112 6.3). These answers close the connection: whatever the
 * client sent after the head, which libevent may have framed differently
 * than another parser, is never read as a request. 1 when it has replied. */
static int framing_refused(struct http_req *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	enum evhttp_cmd_type method = evhttp_request_get_command(r->req);
	struct evkeyval *h;
	int lengths = 0, codings = 0;

	TAILQ_FOREACH(h, in, next) {
		if (strcasecmp(h->key, "Content-Length") == 0)
			lengths++;
		else if (strcasecmp(h->key, "Transfer-Encoding") == 0)
			codings++;
	}
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_POST && method != EVHTTP_REQ_DELETE) {
		http_add_header(r, "Connection", "close");
		http_reply_error(r, 501, "not_implemented", "this API takes GET, POST and DELETE");
		return 1;
	}
	if (lengths > 1 || (lengths > 0 && codings > 0)) {
		http_add_header(r, "Connection", "close");
		http_reply_error(r, 400, "ambiguous_length",
		                 "the body's length is ambiguous: send one Content-Length and no Transfer-Encoding");
		return 1;
	}
	if (codings > 0) {
		http_add_header(r, "Connection", "close");
		http_reply_error(r, 501, "not_implemented", "send the body with a Content-Length: transfer codings are not taken");
		return 1;
	}
	return 0;
}

static void dispatch(struct evhttp_request *req, void *arg)
{
	struct http_server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const struct http_route *route = NULL;
	struct http_req *r;
	int status;

	if (s->app == NULL || (r = calloc(1, sizeof(*r))) == NULL) {
		evhttp_send_error(req, 503, NULL);
		return;
	}
	r->srv = s;
	r->req = req;
	r->id = ++s->next_id;
	if (conn != NULL) {
		const struct sockaddr *sa = evhttp_connection_get_addr(conn);

		if (sa != NULL)
			netaddr_host(sa, r->source, sizeof(r->source));
	}
	if (framing_refused(r))
		return;
	status = resolve(s->routes, evhttp_request_get_command(req), uri ? evhttp_uri_get_path(uri) : NULL, r, &route);
	if (status == 0) {
		/* The route's declared checks run here, in this order, before its
		 * handler: a handler that forgets one cannot leak (docs/ARCHITECTURE.md). */
		r->route = route;
		if (route->access != HTTP_OPEN && s->guard == NULL) {
			http_reply_error(r, 503, "unavailable", "no guard: nothing but open routes is served");
			return;
		}
		if (route->access != HTTP_OPEN && s->guard(r) != 0)
			return; /* refused, and answered */
		if (route->fields != NULL && !sent_csv(r) && body_declared(r) != CC_OK)
			return;
		route->handle(r);
	} else if (status == 404 && s->files != NULL && evhttp_request_get_command(req) == EVHTTP_REQ_GET &&
	           uri != NULL && evhttp_uri_get_path(uri) != NULL && strncmp(evhttp_uri_get_path(uri), "/api/", 5) != 0 &&
	           s->files(r, evhttp_uri_get_path(uri)) == 0) {
		return; /* a static file, answered */
	} else if (status == 405) {
		http_reply_error(r, 405, "method_not_allowed", "this resource does not take that method");
	} else {
		http_reply_error(r, 404, "not_found", "no such resource");
	}
}

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	struct http_server *s = arg;
	SSL *ssl = s->tls != NULL ? SSL_new(s->tls) : NULL;

	if (ssl == NULL)
		return NULL; /* no TLS context: the connection is refused */
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

int http_server_new(struct event_base *base, const struct http_server_opts *o, struct http_server **out)
{
	struct http_server *s = calloc(1, sizeof(*s));
	struct timeval timeout = { o->timeout_s, 0 };
	struct evhttp_bound_socket *bound;
	struct netaddr a;
	char host[64];
	const char *colon;
	int one = 1;

	if (s == NULL)
		return CC_ERR_NOMEM;
	s->base = base;
	s->want_tls = o->tls;
	s->timeout_s = o->timeout_s;
	s->routes = o->routes;
	s->guard = o->guard;
	s->files = o->files;
	s->http = evhttp_new(base);
	if (s->http == NULL || netaddr_parse(o->listen, &a) != CC_OK) {
		http_server_free(s);
		return CC_ERR_INVALID;
	}
	evhttp_set_max_body_size(s->http, HTTP_BODY_MAX);
	evhttp_set_max_headers_size(s->http, HTTP_HEADERS_MAX);
	evhttp_set_timeout_tv(s->http, &timeout);
	/* Every method reaches dispatch, which answers the ones the API does not
	 * take with a JSON 501 (libevent's own answer is an HTML page). */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_ANY);
	evhttp_set_gencb(s->http, dispatch, s);
	if (s->want_tls)
		evhttp_set_bevcb(s->http, tls_bev, s);
	netaddr_host((struct sockaddr *)&a.ss, host, sizeof(host));
	colon = strrchr(o->listen, ':');
	bound = evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)strtol(colon + 1, NULL, 10));
	if (bound == NULL) {
		log_error(MOD, "cannot listen on %s: %s", o->listen, strerror(errno));
		http_server_free(s);
		return CC_ERR_IO;
	}
	/* Replies go out whole at once: without TCP_NODELAY (which accepted
	 * sockets inherit on Linux) Nagle holds a reply's tail until the peer's
	 * delayed ACK, some 40 ms per request. */
	(void)setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	log_info(MOD, "listening on %s (%s)", o->listen, s->want_tls ? "HTTPS" : "plain HTTP, loopback only");
	*out = s;
	return CC_OK;
}

void http_server_attach(struct http_server *s, SSL_CTX *tls, void *app)
{
	s->tls = tls;
	s->app = app;
}

void http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	/* Freeing evhttp closes every connection: requests answered later hear of it. */
	if (s->http != NULL)
		evhttp_free(s->http);
	while (s->waiting != NULL) {
		struct http_req *r = s->waiting;

		s->waiting = r->waiting_next;
		if (r->query_parsed)
			evhttp_clear_headers(&r->query);
		free(r);
	}
	free(s);
}

static const char *const access_names[] = {
	[HTTP_OPEN] = "open", [HTTP_SIGNED_IN] = "signed-in", [HTTP_PERSON] = "person",
	[HTTP_DATA] = "data-class", [HTTP_GRANTS] = "grant-managers", [HTTP_ADMIN] = "admins",
	[HTTP_PLATFORM] = "platform-admins",
};

/* A JSON object body with exactly these optional fields, nothing else. */
static json_t *request_body(const char *const *fields)
{
	json_t *props = json_object(), *body;
	int csv = 0;

	for (; props != NULL && *fields != NULL; fields++) {
		if (strcmp(*fields, HTTP_ALSO_CSV) == 0)
			csv = 1;
		else
			json_object_set_new(props, *fields, json_object());
	}
	body = json_pack("{s:b, s:{s:{s:{s:s, s:o, s:b}}}}", "required", 1, "content", "application/json",
	                 "schema", "type", "object", "properties", props, "additionalProperties", 0);
	if (body != NULL && csv)
		json_object_set_new(json_object_get(body, "content"), "text/csv",
		                    json_pack("{s:{s:s}}", "schema", "type", "string"));
	return body;
}

/* The {name} captures of a pattern as OpenAPI path parameters. */
static json_t *path_parameters(const char *pattern)
{
	json_t *list = json_array();
	const char *p = pattern, *open, *close;

	while (list != NULL && (open = strchr(p, '{')) != NULL && (close = strchr(open, '}')) != NULL) {
		json_array_append_new(list, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", open + 1,
		                                      (size_t)(close - open - 1), "in", "path", "required", 1,
		                                      "schema", "type", "string"));
		p = close + 1;
	}
	return list;
}

static json_t *error_response(const char *why)
{
	return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", why, "content", "application/json", "schema",
	                 "$ref", "#/components/schemas/Error");
}

/* What every operation may answer: success, and the errors the dispatcher
 * and the guard give before a handler runs (one JSON shape for all). */
static json_t *responses(const struct http_route *r)
{
	json_t *out = json_pack("{s:{s:s, s:{s:{s:{s:s}}}}, s:o, s:o}", "2XX", "description", "success", "content",
	                        "application/json", "schema", "type", "object",
	                        "400", error_response("invalid request, or a field the route does not take"),
	                        "404", error_response("no such resource, or outside the caller's scope"));

	if (out != NULL && r->access != HTTP_OPEN) {
		json_object_set_new(out, "401", error_response("no valid credential"));
		json_object_set_new(out, "403", error_response("the role, an access level, CSRF or consent refuses"));
		json_object_set_new(out, "429", error_response("an API token over its rate limit (Retry-After)"));
	}
	if (out != NULL && r->fields != NULL)
		json_object_set_new(out, "415", error_response("the body is not application/json"));
	if (out != NULL)
		json_object_set_new(out, "default", error_response("any other refusal or failure, in the same shape: "
		                                                   "409 conflict, 413 too large, 422, 500, 503"));
	return out;
}

/* Method and path made an identifier: "get", "/api/v1/machines/{serial}"
 * -> get_api_v1_machines_serial. */
static void operation_id(const char *method, const char *pattern, char *id, size_t cap)
{
	size_t n = (size_t)snprintf(id, cap, "%s", method);
	const char *c;

	for (c = pattern; *c != '\0' && n + 1 < cap; c++) {
		char ch = (*c == '/' || *c == '.' || *c == '-') ? '_' : *c;

		if (*c == '{' || *c == '}' || (ch == '_' && n > 0 && id[n - 1] == '_'))
			continue;
		id[n++] = ch;
	}
	id[n < cap ? n : cap - 1] = '\0';
}

json_t *http_openapi(const struct http_route *routes, const char *title, const char *version)
{
	json_t *paths = json_object(), *doc, *op, *params;
	const struct http_route *r;
	char id[160];

	for (r = routes; paths != NULL && r->pattern != NULL; r++) {
		const char *m = r->method == EVHTTP_REQ_GET ? "get" : r->method == EVHTTP_REQ_POST ? "post" : "delete";
		json_t *item = json_object_get(paths, r->pattern);

		if (item == NULL) {
			item = json_object();
			json_object_set_new(paths, r->pattern, item);
		}
		operation_id(m, r->pattern, id, sizeof(id));
		op = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:o}", "summary", r->summary, "operationId", id,
		               "x-purpose", r->purpose, "x-data-class", r->data_class, "x-authenticated",
		               r->access != HTTP_OPEN, "x-access", access_names[r->access], "responses", responses(r));
		if (op == NULL)
			continue;
		params = path_parameters(r->pattern);
		if (json_array_size(params) > 0)
			json_object_set_new(op, "parameters", params);
		else
			json_decref(params);
		if (r->fields != NULL)
			json_object_set_new(op, "requestBody", request_body(r->fields));
		json_object_set_new(op, "security", r->access == HTTP_OPEN ? json_array()
		                                    : json_pack("[{s:[]}, {s:[]}]", "bearer", "session"));
		json_object_set_new(item, m, op);
	}
	doc = json_pack("{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:{s:{s:s, s:[s], s:{s:{s:s, s:[s, s], s:{s:{s:s}, s:{s:s}}}}}},"
	                " s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}}}}",
	                "openapi", "3.0.3", "info", "title", title, "version", version, "description",
	                "Every operation declares its purpose (x-purpose), the data classes it reads (x-data-class) "
	                "and who may call it (x-access); see docs/ARCHITECTURE.md.",
	                "paths", paths, "components", "schemas", "Error", "type", "object", "required", "error",
	                "properties", "error", "type", "object", "required", "code", "message", "properties",
	                "code", "type", "string", "message", "type", "string",
	                "securitySchemes", "bearer", "type", "http", "scheme", "bearer", "description",
	                "a session token from /api/v1/auth/login, or an API token (cct_...)",
	                "session", "type", "apiKey", "in", "cookie", "name", "cc_session", "description",
	                "the browser's session cookie; writes also need the X-CSRF-Token header");
	return doc;
}
