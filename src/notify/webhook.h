/*
 * webhook.h - an organisation's webhook endpoints: the target check (no
 * server-side request forgery into the operator's network), secrets
 * (generated, shown once, sealed; rotation keeps the previous one valid for
 * WEBHOOK_ROTATION_OVERLAP_MS) and the Standard Webhooks signature.
 *
 * Standard Webhooks (standardwebhooks.com): a secret is "whsec_" + base64 of
 * 32 random bytes; the signature of a message is
 * "v1," + base64(HMAC-SHA256(key, id "." timestamp "." body)), several of
 * them separated by spaces while two secrets are valid.
 */
#ifndef CC_NOTIFY_WEBHOOK_H
#define CC_NOTIFY_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "store/store.h"
#include "vault/vault.h"

#define WEBHOOK_SECRET_TEXT_MAX 64   /* "whsec_" + 44 base64 characters + NUL */
#define WEBHOOK_SIGNATURE_MAX 256    /* two "v1,<base64>" separated by a space */
#define WEBHOOK_ROTATION_OVERLAP_MS (24LL * 3600 * 1000)

/* 1 when a connection to this address may be made without the operator's
 * consent: not loopback, private (RFC 1918, unique local), link-local,
 * multicast, unspecified, CGNAT, documentation or reserved; an IPv4-mapped
 * or -compatible IPv6 address is judged as its IPv4 address. */
int webhook_addr_public(const struct sockaddr *sa);

/* Checks a target URL: https only, a host and nothing that hides one
 * (userinfo, spaces), at most STORE_WEBHOOK_URL_MAX characters; unless
 * allow_private, an address in the URL must be public, and with resolve
 * every address a name resolves to (getaddrinfo: blocks, so the event loop
 * passes 0 and leaves names to the check at every connection).
 * CC_ERR_INVALID / CC_ERR_PERM with the reason in why (safe to show). */
int webhook_url_check(const char *url, int allow_private, int resolve, char *why, size_t cap);

/* Adds an endpoint to org_id (the caller checked the URL as above); secret
 * gets the new secret, to be shown once. */
int webhook_create(struct vault *v, int64_t org_id, const char *url, int64_t *id,
                   char secret[WEBHOOK_SECRET_TEXT_MAX]);

/* A new secret; the previous one stays valid for the overlap. */
int webhook_rotate(struct vault *v, int64_t id, char secret[WEBHOOK_SECRET_TEXT_MAX]);

/* Opens the endpoint's secrets valid at now_ms: cur always, prev ("" when
 * none or expired). Wipe both after use. */
int webhook_secrets(struct vault *v, const struct store_webhook *w, int64_t now_ms,
                    char cur[WEBHOOK_SECRET_TEXT_MAX], char prev[WEBHOOK_SECRET_TEXT_MAX]);

/* The webhook-signature header value for one secret ("v1,<base64>"). */
int webhook_sign(const char *secret, const char *msg_id, int64_t ts_s, const char *body, size_t len,
                 char *out, size_t cap);

#endif
