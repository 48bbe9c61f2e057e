/*
 * api.h - the people channel: the JSON API under /api/v1 and the public
 * policy, served by src/http over HTTPS.
 *
 * Who sees what (DESIGN §3): a signed-in user sees the machines of their
 * organisation's subtree, and of those only the data classes of their role
 * (access/roles.h); a field of another class is absent, not null; a machine
 * outside the caller's scope answers exactly like one that does not exist.
 * Passwords are checked with Argon2id on a worker thread, never on the
 * event loop. Sessions: 256-bit random tokens, kept only as SHA-256 hashes
 * (in memory in this version: a restart signs everyone out), with expiry,
 * logout, a cookie (HttpOnly, Secure, SameSite=Strict) plus CSRF token for
 * browsers and a bearer token for scripts; growing delays and a lock-out
 * after repeated failed logins.
 */
#ifndef CC_API_API_H
#define CC_API_API_H

#include <event2/event.h>

#include "http/server.h"
#include "vault/vault.h"

struct api;

/* Session lifetime and login throttling. */
#define API_SESSION_TTL_S (8 * 3600)
#define API_LOGIN_FAILURES_BEFORE_LOCK 5
#define API_LOGIN_LOCK_S 900

/* vault: the loop thread's data directory handle (reads). */
int api_new(struct event_base *base, struct vault *vault, struct api **out);
void api_free(struct api *a);

/* The route table to hand to http_server_new with the api as app. */
const struct http_route *api_routes(void);

#endif
