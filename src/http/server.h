/*
 * server.h - the HTTPS server for people and partner systems: libevent's
 * evhttp over OpenSSL bufferevents, with a routing table.
 *
 * A route is a row: method, path pattern ("/api/v1/machines/{serial}"), the
 * purpose and data class it serves (declared, so consent and audit can act
 * on them), whether it needs a signed-in caller, and the handler. The server
 * enforces the conventions every route shares: one JSON error shape
 * {"error":{"code","message"}}, body and header limits (413/431), timeouts
 * for slow clients, no percent-escapes or dot segments in paths, HSTS and
 * no-store on every response. Before routing it refuses, and closes the
 * connection on, a method other than GET, POST and DELETE (501) and a body
 * framed ambiguously - two Content-Length fields, or Transfer-Encoding
 * (RFC 9112 6.3, request smuggling) - so bytes after such a head never run
 * as a request. Runs on the thread of the base it is given (the daemon's
 * people's loop, daemon/loop_thread.h).
 */
#ifndef CC_HTTP_SERVER_H
#define CC_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/ssl.h>

#define HTTP_PARAMS_MAX 4
#define HTTP_BODY_MAX (1024 * 1024)
#define HTTP_HEADERS_MAX (16 * 1024)

struct http_server;
struct http_req;

/* Who may call a route. The server knows only HTTP_OPEN (no guard runs);
 * the application's guard gives the others their meaning (api/caller.c). */
enum http_access {
	HTTP_OPEN = 0,   /* anyone: no credential is read */
	HTTP_SIGNED_IN,  /* any valid credential */
	HTTP_PERSON,     /* a signed-in person, never a partner system's API token */
	HTTP_DATA,       /* a role that sees one of the route's data classes */
	HTTP_GRANTS,     /* people who manage grants (sessions only) */
	HTTP_ADMIN,      /* administrators of an organisation */
	HTTP_PLATFORM,   /* administrators of the platform itself (the manufacturer) */
};

struct http_route {
	enum evhttp_cmd_type method;
	const char *pattern;  /* literal segments and {name} captures */
	const char *purpose;  /* what the data is used for (policy purposes) */
	const char *data_class; /* comma-separated: status,technical,service,usage,audit; or none */
	enum http_access access;
	const char *const *fields; /* the body's accepted fields (NULL-terminated); NULL: no body read;
	                              HTTP_ALSO_CSV among them: see there */
	void (*handle)(struct http_req *r);
	const char *summary;  /* for the OpenAPI document */
};

/* Listed among a route's fields: the route also takes a text/csv body,
 * which its handler reads itself (http_evrequest); the JSON check is then
 * skipped, and the OpenAPI document names both media types. */
#define HTTP_ALSO_CSV "+text/csv"

struct http_server_opts {
	const char *listen;       /* host:port */
	int tls;                  /* 0: plain (loopback only, checked by config) */
	const struct http_route *routes; /* NULL-pattern terminated */
	int timeout_s;            /* slow clients: whole request/response */
	/* Runs before every handler of a route that is not HTTP_OPEN: 0 lets
	 * the request through, anything else means it has replied (and r is
	 * gone). The declared body fields are checked after it, so a caller
	 * who may not call a route learns nothing of its body. */
	int (*guard)(struct http_req *r);
	/* Static files outside the route table (the dashboard, web/assets.h):
	 * runs for a GET whose path no route matches; 0 means it has replied,
	 * anything else lets the usual 404 go out. Never sees /api/ paths. */
	int (*files)(struct http_req *r, const char *path);
};

/* Binds the listener (before privileges are dropped); serves nothing until
 * http_server_attach. */
int http_server_new(struct event_base *base, const struct http_server_opts *o, struct http_server **out);

/* Sets the TLS context (when o->tls) and the app handed to handlers. */
void http_server_attach(struct http_server *s, SSL_CTX *tls, void *app);
void http_server_free(struct http_server *s);

/* ---- for handlers ---- */

void *http_app(const struct http_req *r);
const struct http_route *http_route(const struct http_req *r);
/* A {name} capture of the path, or NULL. */
const char *http_param(const struct http_req *r, const char *name);
/* A query parameter, or NULL. */
const char *http_query(struct http_req *r, const char *name);
/* libevent's request, for what this interface does not cover. */
struct evhttp_request *http_evrequest(const struct http_req *r);
/* A request header, or NULL. */
const char *http_header(const struct http_req *r, const char *name);
/* The peer's address as text. */
const char *http_source(const struct http_req *r);
/* Parses the body as a JSON object; on failure replies 400/413 itself and
 * returns a negative code. *out is the caller's to json_decref. For a route
 * that declares its fields the dispatcher has parsed and checked the body
 * already: this hands out another reference to it. */
int http_body_json(struct http_req *r, json_t **out);
/* The body of a route that declares its fields, checked (borrowed; an empty
 * object when there was none), or NULL for other routes. */
json_t *http_body(const struct http_req *r);

/* Replies and ends the request (frees r). doc is stolen. */
void http_reply_json(struct http_req *r, int status, json_t *doc);
void http_reply_error(struct http_req *r, int status, const char *code, const char *message);
void http_reply_text(struct http_req *r, int status, const char *content_type, const char *body);
/* A 200 page made for this request (copied), with its own CSP (a printable
 * report's style hash) instead of the API's default-src 'none'. */
void http_reply_page(struct http_req *r, const char *content_type, const char *body, size_t len, const char *csp);
/* A 200 with an ETag (a hash of body): 304 and no body when the request's
 * If-None-Match names it, so a poller that has the answer costs no transfer
 * (the dashboard's fleet list). Still no-store: the page keeps the copy.
 * The bytes are moved out of body, not copied (a fleet list is megabytes);
 * the caller still frees body. */
void http_reply_buffer_etag(struct http_req *r, const char *content_type, struct evbuffer *body);
/* A static file: bytes are borrowed and must outlive the reply (embedded
 * files do); cache_control and csp replace the API's no-store and
 * default-src 'none'. Answers 304 without the body when the request's
 * If-None-Match equals etag (which may be NULL). */
void http_reply_file(struct http_req *r, const char *content_type, const char *bytes, size_t len,
                     const char *cache_control, const char *csp, const char *etag);
/* A chunked reply: begin, any number of writes, end (which frees r). */
void http_stream_begin(struct http_req *r, const char *content_type, const char *disposition);
int http_stream_write(struct http_req *r, const char *data, size_t len);
void http_stream_end(struct http_req *r);

/* A reply of known length (a file, or a range of it: status 206 with
 * content_range "bytes A-B/N") sent in slices with http_stream_chunk and
 * ended by http_stream_end; nothing is held beyond the slice in flight. */
void http_stream_begin_sized(struct http_req *r, int status, const char *content_type, uint64_t len,
                             const char *content_range);

/* The TLS connection of the request (NULL on a plain listener): its
 * client certificate, if one was sent, for routes machines call. */
SSL *http_ssl(const struct http_req *r);

/* A chunk whose sending waits for the client: sent(arg) runs once it has
 * gone out, and is where the next one is made. chunk is drained. */
int http_stream_chunk(struct http_req *r, struct evbuffer *chunk, void (*sent)(void *arg), void *arg);

/* For a request answered later (after a worker thread, or in slices): if
 * the client leaves first, gone(arg) runs and r is freed with it - it must
 * not be used after. A reply (or http_stream_end) ends the watch. */
void http_req_later(struct http_req *r, void (*gone)(void *arg), void *arg);

/* Holds the request's reply until http_req_release for each hold: whatever
 * the handler answers meanwhile waits (sent as it was when every hold was
 * released with ok, replaced by 503 audit_unavailable when one was not).
 * For work the reply must not go out before, done on another thread (the
 * audit record of an access). Not for chunked replies. The id names the
 * request to http_req_release, which ignores a request whose client left. */
uint64_t http_req_hold(struct http_req *r);
void http_req_release(struct http_server *s, uint64_t id, int ok);
struct http_server *http_req_server(const struct http_req *r);
/* The listener's timeout_s: how long a client may take nothing. */
int http_timeout_s(const struct http_req *r);

/* Adds a response header before the reply (e.g. Set-Cookie). */
void http_add_header(struct http_req *r, const char *name, const char *value);

/* Resolves a request line's URI against a route table, as the server does:
 * 0 with *out set, or 404/405. For tests and the fuzz target. */
int http_resolve(const struct http_route *routes, enum evhttp_cmd_type method, const char *uri,
                 const struct http_route **out);

/* The route table as an OpenAPI 3 document (stolen by the caller). */
json_t *http_openapi(const struct http_route *routes, const char *title, const char *version);

#endif
