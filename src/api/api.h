/*
 * api.h - the people channel: the JSON API under /api/v1 and the public
 * policy, served by src/http over HTTPS.
 *
 * Who sees what (DESIGN §3): a signed-in user sees the machines of their
 * organisation's subtree, and of those only the data classes of their role
 * (access/roles.h); a field of another class is absent, not null; a machine
 * outside the caller's scope answers exactly like one that does not exist.
 * Passwords are checked with Argon2id on a worker thread, never on the
 * event loop. Sessions and API tokens are access/credentials.h: stored as
 * hashes, with expiry and sign-out or revocation; browsers get a cookie
 * (HttpOnly, Secure, SameSite=Strict) plus a CSRF token, scripts a bearer
 * token, partner systems rate-limited API tokens. Optional TOTP per account,
 * required for admins when configured; failed sign-ins are throttled per
 * login and source address (access/throttle.h).
 */
#ifndef CC_API_API_H
#define CC_API_API_H

#include <event2/event.h>

#include "http/server.h"
#include "vault/vault.h"

struct api;

struct api_opts {
	int totp_required_for_admins; /* admins without TOTP may only enrol */
	int64_t session_ttl_s;
	const char *issuer;           /* the name authenticator apps show */
};

/* vault: the loop thread's data directory handle. */
int api_new(struct event_base *base, struct vault *vault, const struct api_opts *opts, struct api **out);
void api_free(struct api *a);

/* The route table to hand to http_server_new with the api as app. */
const struct http_route *api_routes(void);

#endif
