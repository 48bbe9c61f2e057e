/*
 * api.h - the people channel: the JSON API under /api/v1 and the public
 * policy, served by src/http over HTTPS.
 *
 * Who sees what (docs/ARCHITECTURE.md "Who may do what"): a signed-in user sees the machines of their
 * organisation's subtree, and of those only the data classes of their role
 * (access/roles.h); a field of another class is absent, not null; a machine
 * outside the caller's scope answers exactly like one that does not exist.
 * Passwords are checked with Argon2id on a worker thread, never on the
 * people's event loop. Sessions and API tokens are access/credentials.h: stored as
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
	/* What the listeners accept (daemon/tls.h tls_describe), for the facts
	 * of the privacy policy; NULL for a listener that is off. Borrowed. */
	json_t *machines_tls, *people_tls;
	/* The purposes this installation uses customers' data for (comma-
	 * separated): routes of any other purpose answer 404. Copied. */
	const char *purposes;
	/* Retention in days (0: until erasure), in fleet/retention_terms.h's
	 * order: telemetry, events, reports, roll-ups, tickets. */
	int64_t retention_days[5];
	int webhook_allow_private;    /* webhook targets on internal addresses allowed */
	int64_t diagnostics_max_bytes;      /* the largest bundle a machine may upload */
	int64_t diagnostics_retention_days; /* bundles older are deleted; 0: kept */
	int64_t downloads_max;              /* artifacts sent at once; the next wait in line */
	/* Where the audit thread opens its own handle (api/audit_queue.h);
	 * NULL: records are appended on the API's loop. Borrowed. */
	const char *data_dir, *master_key_file;
};

/* base, vault: the loop the API runs on and that loop's own data
 * directory handle (daemon/loop_thread.h: the people's loop). Builds the privacy
 * policy's facts of this configuration and keeps a draft when they differ
 * from the published version's (access/policy.h). */
int api_new(struct event_base *base, struct vault *vault, const struct api_opts *opts, struct api **out);
void api_free(struct api *a);

/* The route table to hand to http_server_new with the api as app, and
 * api_guard as its guard. */
const struct http_route *api_routes(void);
/*
 * The dispatcher's guard (http_server_opts.guard), run before the handler
 * of every route that is not open, from what the route row declares:
 * the credential (401), the access level (HTTP_PERSON, HTTP_GRANTS,
 * HTTP_ADMIN, HTTP_PLATFORM: 403), for HTTP_DATA a role that sees one of
 * the route's data classes (403, audited as denied), and a {serial} in the
 * path: in the caller's scope (else 404, as for one that does not exist)
 * and consented to the route's purpose (403 consent_required). 0 lets the
 * request through; otherwise it has replied.
 */
int api_guard(struct http_req *r);


#endif
