#include "notify/webhook.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"

#define MOD "webhook"
#define SECRET_PREFIX "whsec_"
#define SECRET_BYTES 32

static int v4_public(const uint8_t a[4])
{
	if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
		return 0; /* this network, private, loopback, multicast and reserved, broadcast */
	if (a[0] == 169 && a[1] == 254)
		return 0; /* link-local (and cloud metadata services) */
	if (a[0] == 172 && (a[1] & 0xf0) == 16)
		return 0;
	if (a[0] == 192 && a[1] == 168)
		return 0;
	if (a[0] == 100 && (a[1] & 0xc0) == 64)
		return 0; /* carrier-grade NAT */
	if (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2))
		return 0; /* IETF protocol assignments, TEST-NET-1 */
	if (a[0] == 198 && (a[1] == 18 || a[1] == 19))
		return 0; /* benchmarking */
	if ((a[0] == 198 && a[1] == 51 && a[2] == 100) || (a[0] == 203 && a[1] == 0 && a[2] == 113))
		return 0; /* TEST-NET-2, -3 */
	return 1;
}

int webhook_addr_public(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return v4_public((const uint8_t *)&in->sin_addr);
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		static const uint8_t zero[12] = { 0 };

		if (memcmp(a, mapped, 12) == 0 || memcmp(a, zero, 12) == 0)
			return v4_public(a + 12); /* ::ffff:a.b.c.d, ::a.b.c.d, ::1 and :: (0.0.0.x) */
		if (a[0] == 0xff || (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
			return 0; /* multicast, unique local, link-local */
		if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
			return 0; /* site-local (deprecated) */
		if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
			return 0; /* documentation */
		if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b)
			return 0; /* NAT64: reaches IPv4 addresses we cannot judge here */
		if (a[0] == 0x20 && a[1] == 0x02)
			return 0; /* 6to4: embeds an IPv4 address */
		return 1;
	}
	return 0;
}

/* Splits https://host[:port]/... into host (brackets removed) and port. */
static int parse_url(const char *url, char *host, size_t cap, char *port, size_t pcap, char *why, size_t wcap)
{
	const char *p, *end;
	size_t n;

	if (strlen(url) > STORE_WEBHOOK_URL_MAX) {
		snprintf(why, wcap, "the URL is longer than %d characters", STORE_WEBHOOK_URL_MAX);
		return CC_ERR_INVALID;
	}
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '\\') {
			snprintf(why, wcap, "the URL holds spaces, control or non-ASCII characters");
			return CC_ERR_INVALID;
		}
	if (strncmp(url, "https://", 8) != 0) {
		snprintf(why, wcap, "only https:// URLs are allowed");
		return CC_ERR_INVALID;
	}
	p = url + 8;
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p)) != NULL) {
		snprintf(why, wcap, "a URL with user information (user@host) is not allowed");
		return CC_ERR_INVALID;
	}
	snprintf(port, pcap, "443");
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (close == NULL || close == p + 1)
			goto bad;
		n = (size_t)(close - p - 1);
		if (n >= cap)
			goto bad;
		memcpy(host, p + 1, n);
		host[n] = '\0';
		p = close + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		const char *hend = colon ? colon : end;

		n = (size_t)(hend - p);
		if (n == 0 || n >= cap)
			goto bad;
		memcpy(host, p, n);
		host[n] = '\0';
		p = hend;
	}
	if (p < end) {
		if (*p != ':' || end - p < 2 || end - p > 6)
			goto bad;
		n = (size_t)(end - p - 1);
		if (strspn(p + 1, "0123456789") < n || n >= pcap)
			goto bad;
		memcpy(port, p + 1, n);
		port[n] = '\0';
		if (strtol(port, NULL, 10) < 1 || strtol(port, NULL, 10) > 65535) /* digits only, at most 5 */
			goto bad;
	}
	return CC_OK;
bad:
	snprintf(why, wcap, "the URL's host or port is malformed");
	return CC_ERR_INVALID;
}

int webhook_url_check(const char *url, int allow_private, int resolve, char *why, size_t cap)
{
	char host[256], port[8];
	struct addrinfo hints, *res = NULL, *ai;
	int rc = parse_url(url, host, sizeof(host), port, sizeof(port), why, cap);

	if (rc != CC_OK || allow_private)
		return rc;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = resolve ? 0 : AI_NUMERICHOST;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
		if (!resolve)
			return CC_OK; /* a name: judged at every connection */
		snprintf(why, cap, "the host does not resolve");
		return CC_ERR_INVALID;
	}
	for (ai = res; ai != NULL && rc == CC_OK; ai = ai->ai_next)
		if (!webhook_addr_public(ai->ai_addr)) {
			snprintf(why, cap, "the host is a loopback, private, link-local or otherwise internal address "
			                   "(allowed only with the operator's webhook_allow_private)");
			rc = CC_ERR_PERM;
		}
	freeaddrinfo(res);
	return rc;
}

static void secret_ad(struct seal_ad *ad, int64_t org_id, int64_t id, const char *url)
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = SEAL_WEBHOOK_SECRET;
	ad->org_id = org_id;
	ad->subject_id = id;
	ad->name = url;
}

static int new_secret(char out[WEBHOOK_SECRET_TEXT_MAX])
{
	uint8_t raw[SECRET_BYTES];
	int rc = crypto_random(raw, sizeof(raw));

	memcpy(out, SECRET_PREFIX, sizeof(SECRET_PREFIX) - 1);
	if (rc == CC_OK)
		rc = b64_encode(raw, sizeof(raw), out + sizeof(SECRET_PREFIX) - 1,
		                WEBHOOK_SECRET_TEXT_MAX - (sizeof(SECRET_PREFIX) - 1)) < 0 ? CC_ERR_CRYPTO : CC_OK;
	crypto_wipe(raw, sizeof(raw));
	return rc;
}

/* Seals secret for the endpoint and stores it, the previous blob (if any) kept. */
static int store_secret(struct vault *v, const struct store_webhook *w, const char *secret, int keep_prev)
{
	struct store *s = vault_store(v);
	struct seal_ad ad;
	uint8_t *blob = NULL;
	size_t len = 0;
	int rc;

	secret_ad(&ad, w->org_id, w->id, w->url);
	rc = vault_seal(v, &ad, secret, strlen(secret), &blob, &len);
	if (rc == CC_OK && len > STORE_WEBHOOK_SECRET_MAX)
		rc = CC_ERR_LIMIT;
	if (rc == CC_OK)
		rc = s->ops->notify->webhook_set_secret(s, w->id, blob, len, w->secret, keep_prev ? w->secret_len : 0,
		                                        keep_prev ? clock_now_ms() + WEBHOOK_ROTATION_OVERLAP_MS : 0);
	free(blob);
	return rc;
}

int webhook_create(struct vault *v, int64_t org_id, const char *url, int64_t *id,
                   char secret[WEBHOOK_SECRET_TEXT_MAX])
{
	struct store *s = vault_store(v);
	struct store_webhook *w = calloc(1, sizeof(*w));
	char why[160];
	int rc = w != NULL ? CC_OK : CC_ERR_NOMEM;

	if (rc == CC_OK && (rc = webhook_url_check(url, 1, 0, why, sizeof(why))) != CC_OK)
		log_error(MOD, "refused: %s", why);
	if (rc == CC_OK)
		rc = new_secret(secret);
	if (rc == CC_OK) {
		w->org_id = org_id;
		snprintf(w->url, sizeof(w->url), "%s", url);
		w->created_ms = clock_now_ms();
		rc = s->ops->begin(s);
		if (rc == CC_OK) {
			/* The secret's seal names the row, so the row comes first. */
			rc = s->ops->notify->webhook_add(s, w, &w->id);
			if (rc == CC_OK)
				rc = store_secret(v, w, secret, 0);
			rc = rc == CC_OK ? s->ops->commit(s) : (s->ops->rollback(s), rc);
		}
	}
	if (rc == CC_OK)
		*id = w->id;
	else
		crypto_wipe(secret, WEBHOOK_SECRET_TEXT_MAX);
	free(w);
	return rc;
}

int webhook_rotate(struct vault *v, int64_t id, char secret[WEBHOOK_SECRET_TEXT_MAX])
{
	struct store *s = vault_store(v);
	struct store_webhook *w = calloc(1, sizeof(*w));
	int rc = w != NULL ? s->ops->notify->webhook_get(s, id, w) : CC_ERR_NOMEM;

	if (rc == CC_OK)
		rc = new_secret(secret);
	if (rc == CC_OK)
		rc = store_secret(v, w, secret, 1);
	if (rc != CC_OK)
		crypto_wipe(secret, WEBHOOK_SECRET_TEXT_MAX);
	free(w);
	return rc;
}

static int open_secret(struct vault *v, const struct store_webhook *w, const uint8_t *blob, size_t len,
                       char out[WEBHOOK_SECRET_TEXT_MAX])
{
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	int rc;

	secret_ad(&ad, w->org_id, w->id, w->url);
	rc = vault_unseal(v, &ad, blob, len, &pt, &ptlen);
	if (rc == CC_OK && ptlen >= WEBHOOK_SECRET_TEXT_MAX)
		rc = CC_ERR_CORRUPT;
	if (rc == CC_OK) {
		memcpy(out, pt, ptlen);
		out[ptlen] = '\0';
	}
	if (pt != NULL) {
		crypto_wipe(pt, ptlen);
		free(pt);
	}
	return rc;
}

int webhook_secrets(struct vault *v, const struct store_webhook *w, int64_t now_ms,
                    char cur[WEBHOOK_SECRET_TEXT_MAX], char prev[WEBHOOK_SECRET_TEXT_MAX])
{
	int rc = open_secret(v, w, w->secret, w->secret_len, cur);

	prev[0] = '\0';
	if (rc == CC_OK && w->prev_secret_len > 0 && now_ms < w->prev_until_ms)
		rc = open_secret(v, w, w->prev_secret, w->prev_secret_len, prev);
	return rc;
}

int webhook_sign(const char *secret, const char *msg_id, int64_t ts_s, const char *body, size_t len, char *out,
                 size_t cap)
{
	uint8_t key[64], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char ts[24];
	int keylen, rc = CC_ERR_CRYPTO;
	EVP_MAC *alg = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outl = 0;

	if (strncmp(secret, SECRET_PREFIX, sizeof(SECRET_PREFIX) - 1) != 0)
		return CC_ERR_INVALID;
	keylen = b64_decode(secret + sizeof(SECRET_PREFIX) - 1, key, sizeof(key));
	if (keylen <= 0)
		return CC_ERR_INVALID;
	snprintf(ts, sizeof(ts), "%lld", (long long)ts_s);
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
	if (ctx != NULL && EVP_MAC_init(ctx, key, (size_t)keylen, params) == 1 &&
	    EVP_MAC_update(ctx, (const uint8_t *)msg_id, strlen(msg_id)) == 1 &&
	    EVP_MAC_update(ctx, (const uint8_t *)".", 1) == 1 &&
	    EVP_MAC_update(ctx, (const uint8_t *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_update(ctx, (const uint8_t *)".", 1) == 1 &&
	    EVP_MAC_update(ctx, (const uint8_t *)body, len) == 1 && EVP_MAC_final(ctx, mac, &outl, sizeof(mac)) == 1) {
		maclen = (unsigned int)outl;
		rc = CC_OK;
	}
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(alg);
	crypto_wipe(key, sizeof(key));
	if (rc == CC_OK && cap < 3 + B64_ENCODED_LEN(maclen))
		rc = CC_ERR_LIMIT;
	if (rc == CC_OK) {
		memcpy(out, "v1,", 3);
		rc = b64_encode(mac, maclen, out + 3, cap - 3) < 0 ? CC_ERR_CRYPTO : CC_OK;
	}
	return rc;
}
