/*
 * agent_cert.c - the machine's key and certificate (docs/AGENT.md
 * "Enrolment and renewal"): made on the machine, kept in the firmware's
 * storage, renewed over MQTT (cc/v1/{serial}/cert/csr, answered on
 * .../cert/issued) before the certificate expires.
 *
 * A pair (key and certificate) is one storage record, "cred/0" or
 * "cred/1", headed by its generation and a SHA-256 over it all. A new
 * pair goes to the record the pair in use is not in, and only a whole,
 * checked record is ever taken: a power cut while it is written leaves the
 * pair in use as it was, and the next boot takes that one. The key waiting
 * for its certificate is "cred/new", checked the same way. Without a
 * stored pair the agent uses the files of its configuration (the bundle
 * `machine add --out` wrote); its first renewal moves it into storage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent/internal.h"

#define PAIR_MAGIC "ccpair1"
#define KEY_MAGIC "cckey1"
#define DEFAULT_RENEW_BEFORE_DAYS 30
/* The server takes one renewal per machine an hour (fleet/provision.h). */
#define RETRY_MS (3600LL * 1000)
#define PEM_MAX 3000

/* SHA-256 of head then body, hex. */
static void sha256_hex2(const void *head, size_t hn, const void *body, size_t bn, char out[65])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int len = 0;

	memset(md, 0, sizeof(md));
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(c, head, hn) != 1 ||
	    EVP_DigestUpdate(c, body, bn) != 1 || EVP_DigestFinal_ex(c, md, &len) != 1)
		memset(md, 0, sizeof(md)); /* matches no record's sum */
	EVP_MD_CTX_free(c);
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	sha256_hex2(p, n, "", 0, out);
}

static char *dup_n(cc_agent *a, const char *p, size_t n)
{
	char *d = cc_ag_malloc(a, n + 1);
	if (d != NULL) {
		memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

static void wipe_free(cc_agent *a, char *p)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, strlen(p));
		cc_ag_free(a, p);
	}
}

static EVP_PKEY *key_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return k;
}

static X509 *cert_from_pem(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *c = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return c;
}

static char *key_to_pem(cc_agent *a, EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *out = NULL;
	long n = 0;

	if (b != NULL && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0)
		out = dup_n(a, p, (size_t)n);
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, (size_t)n); /* not NUL-terminated */
	BIO_free(b);
	return out;
}

/* The certificate is for this key and this machine, issued by the fleet CA. */
static int cert_fits(cc_agent *a, X509 *cert, EVP_PKEY *key)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	char cn[CC_SERIAL_MAX + 2] = "";
	int ok = X509_check_private_key(cert, key) == 1 &&
	         X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0 &&
	         strcmp(cn, a->serial) == 0 && store != NULL && ctx != NULL &&
	         X509_STORE_load_file(store, a->ca) == 1 && X509_STORE_CTX_init(ctx, store, cert, NULL) == 1 &&
	         X509_verify_cert(ctx) == 1;

	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

/* Takes key and certificate PEM as the pair in use (copies them). */
static int use_pair(cc_agent *a, const char *key_pem, size_t key_len, const char *cert_pem, size_t cert_len,
                    uint64_t gen)
{
	X509 *cert = cert_from_pem(cert_pem, cert_len);
	EVP_PKEY *key;
	char *k = dup_n(a, key_pem, key_len), *c = NULL;
	int rc = CC_AGENT_EINVAL;

	key = k != NULL ? key_from_pem(k) : NULL;
	if (cert != NULL && key != NULL && X509_check_private_key(cert, key) == 1) {
		const ASN1_TIME *na = X509_get0_notAfter(cert);
		struct tm tm;

		c = dup_n(a, cert_pem, cert_len);
		rc = k != NULL && c != NULL && ASN1_TIME_to_tm(na, &tm) == 1 ? CC_AGENT_OK : CC_AGENT_ENOMEM;
		if (rc == CC_AGENT_OK) {
			unsigned char der[4096], *p = der;
			int n = i2d_X509(cert, NULL);

			wipe_free(a, a->key_pem);
			cc_ag_free(a, a->cert_pem);
			a->key_pem = k;
			a->cert_pem = c;
			a->cred_gen = gen;
			a->not_after_ms = (int64_t)timegm(&tm) * 1000;
			a->fingerprint[0] = '\0';
			if (n > 0 && n <= (int)sizeof(der) && i2d_X509(cert, &p) == n)
				sha256_hex(der, (size_t)n, a->fingerprint);
			k = c = NULL;
		}
	}
	wipe_free(a, k);
	cc_ag_free(a, c);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

/* A stored pair: "ccpair1 GEN SHA\n" then the key and the certificate,
 * SHA over "ccpair1 GEN " and the rest. 1 when absent, damaged or torn
 * (the caller takes the other). */
static int read_pair(cc_agent *a, const char *name, char *buf, size_t cap, uint64_t *gen, char **body)
{
	char sum[65], want[65];
	char *nl, *end;
	int rc = cc_ag_get(a, name, buf, cap);

	if (rc != 0)
		return rc;
	if (strncmp(buf, PAIR_MAGIC " ", sizeof(PAIR_MAGIC)) != 0 || (nl = strchr(buf, '\n')) == NULL)
		return 1;
	*gen = strtoull(buf + sizeof(PAIR_MAGIC), &end, 10);
	if (*end != ' ' || nl - end != 65 || *gen == 0) /* 0 is the files' */
		return 1;
	memcpy(want, end + 1, 64);
	want[64] = '\0';
	sha256_hex2(buf, (size_t)(end + 1 - buf), nl + 1, strlen(nl + 1), sum);
	if (CRYPTO_memcmp(sum, want, 64) != 0)
		return 1;
	*body = nl + 1;
	return 0;
}

/* Splits "KEY PEM" + "CERT PEM" at the certificate's header. */
static int use_body(cc_agent *a, char *body, uint64_t gen)
{
	const char *cert = strstr(body, "-----BEGIN CERTIFICATE-----");

	if (cert == NULL)
		return CC_AGENT_EINVAL;
	return use_pair(a, body, (size_t)(cert - body), cert, strlen(cert), gen);
}

static int read_file(cc_agent *a, const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	*out = NULL;
	if (f == NULL)
		return CC_AGENT_EINVAL;
	buf = cc_ag_malloc(a, PEM_MAX + 1);
	n = buf != NULL ? fread(buf, 1, PEM_MAX + 1, f) : 0;
	fclose(f);
	if (buf == NULL)
		return CC_AGENT_ENOMEM;
	if (n == 0 || n > PEM_MAX) {
		cc_ag_free(a, buf);
		return CC_AGENT_EINVAL;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

int cc_ag_cred_load(cc_agent *a)
{
	char *buf = cc_ag_malloc(a, CC_AG_VALUE_MAX + 1), *body = NULL;
	uint64_t gen[2] = { 0, 0 };
	int have[2], best = -1, rc = 0;

	if (buf == NULL)
		return CC_AGENT_ENOMEM;
	for (int i = 0; i < 2 && rc >= 0; i++) {
		have[i] = read_pair(a, i == 0 ? "cred/0" : "cred/1", buf, CC_AG_VALUE_MAX + 1, &gen[i], &body);
		if (have[i] < 0)
			rc = have[i];
		else if (have[i] == 0 && (best < 0 || gen[i] > gen[best]))
			best = i;
	}
	/* The newer whole pair, else the older (the newer may not be usable). */
	for (int tries = 0; rc >= 0 && best >= 0 && tries < 2; tries++) {
		if (read_pair(a, best == 0 ? "cred/0" : "cred/1", buf, CC_AG_VALUE_MAX + 1, &gen[best], &body) == 0 &&
		    use_body(a, body, gen[best]) == CC_AGENT_OK)
			break;
		cc_ag_log(a, "stored certificate %d unusable", best);
		best = have[1 - best] == 0 && gen[1 - best] != gen[best] ? 1 - best : -1;
	}
	OPENSSL_cleanse(buf, CC_AG_VALUE_MAX + 1);
	cc_ag_free(a, buf);
	if (rc < 0)
		return rc;
	if (a->key_pem == NULL && a->cert[0] != '\0' && a->key[0] != '\0') {
		char *k = NULL, *c = NULL;

		rc = read_file(a, a->key, &k);
		if (rc == 0)
			rc = read_file(a, a->cert, &c);
		if (rc == 0)
			rc = use_pair(a, k, strlen(k), c, strlen(c), 0);
		wipe_free(a, k);
		cc_ag_free(a, c);
		if (rc != 0)
			cc_ag_log(a, "the certificate and key files are not a pair");
		return rc;
	}
	return 0;
}

void cc_ag_cred_free(cc_agent *a)
{
	wipe_free(a, a->key_pem);
	cc_ag_free(a, a->cert_pem);
	EVP_PKEY_free(a->pending);
	a->key_pem = a->cert_pem = NULL;
	a->pending = NULL;
}

/* The server's certificate must name mqtt_host: an IP address in its
 * IP addresses, a host name in its DNS names. 1 when set. */
static int server_name(X509_VERIFY_PARAM *p, const char *host)
{
	unsigned char ip[16];

	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(p, host) == 1;
	return X509_VERIFY_PARAM_set1_host(p, host, 0) == 1;
}

void *cc_ag_cred_ssl_ctx(cc_agent *a)
{
	SSL_CTX *ctx;
	X509 *cert;
	EVP_PKEY *key;
	int ok;

	if (a->key_pem == NULL || (ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	cert = cert_from_pem(a->cert_pem, strlen(a->cert_pem));
	key = key_from_pem(a->key_pem);
	ok = cert != NULL && key != NULL && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
	     SSL_CTX_load_verify_locations(ctx, a->ca, NULL) == 1 && SSL_CTX_use_certificate(ctx, cert) == 1 &&
	     SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1 &&
	     server_name(SSL_CTX_get0_param(ctx), a->mqtt_host); /* its name too */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	X509_free(cert);
	EVP_PKEY_free(key);
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

enum pending { PENDING_LOAD, PENDING_LOAD_OR_MAKE, PENDING_MAKE };

/* The key waiting for its certificate: the stored one, or one made now.
 * 1 when PENDING_LOAD finds none. */
static int pending_key(cc_agent *a, enum pending how)
{
	int fresh = how == PENDING_MAKE;
	char *buf, *nl, sum[65], *pem;
	int rc;

	if (!fresh && a->pending != NULL)
		return 0;
	buf = cc_ag_malloc(a, CC_AG_VALUE_MAX + 1);
	if (buf == NULL)
		return CC_AGENT_ENOMEM;
	rc = fresh ? 1 : cc_ag_get(a, "cred/new", buf, CC_AG_VALUE_MAX + 1);
	if (rc == 0) {
		nl = strchr(buf, '\n');
		if (strncmp(buf, KEY_MAGIC " ", sizeof(KEY_MAGIC)) == 0 && nl != NULL &&
		    nl - buf == (ptrdiff_t)sizeof(KEY_MAGIC) + 64) {
			sha256_hex(nl + 1, strlen(nl + 1), sum);
			if (CRYPTO_memcmp(sum, buf + sizeof(KEY_MAGIC), 64) == 0)
				a->pending = key_from_pem(nl + 1);
		}
		rc = a->pending != NULL ? 0 : 1; /* damaged: make another */
	}
	if (rc == 1 && how != PENDING_LOAD) {
		EVP_PKEY *k = EVP_EC_gen("P-256");

		pem = k != NULL ? key_to_pem(a, k) : NULL;
		rc = pem != NULL && strlen(pem) < CC_AG_VALUE_MAX - 80 ? 0 : CC_AGENT_ENOMEM;
		if (rc == 0) {
			sha256_hex(pem, strlen(pem), sum);
			snprintf(buf, CC_AG_VALUE_MAX + 1, KEY_MAGIC " %s\n%s", sum, pem);
			rc = cc_ag_put(a, "cred/new", buf);
		}
		wipe_free(a, pem);
		if (rc == 0) {
			EVP_PKEY_free(a->pending);
			a->pending = k;
		} else {
			EVP_PKEY_free(k);
		}
	}
	OPENSSL_cleanse(buf, CC_AG_VALUE_MAX + 1);
	cc_ag_free(a, buf);
	return rc;
}

static int make_csr(cc_agent *a, char *out, size_t cap)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n = 0;
	int ok = req != NULL && name != NULL && b != NULL && X509_REQ_set_version(req, 0) == 1 &&
	         X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *)a->serial, -1,
	                                    -1, 0) == 1 &&
	         X509_REQ_set_subject_name(req, name) == 1 && X509_REQ_set_pubkey(req, a->pending) == 1 &&
	         X509_REQ_sign(req, a->pending, EVP_sha256()) > 0 && PEM_write_bio_X509_REQ(b, req) == 1 &&
	         (n = BIO_get_mem_data(b, &p)) > 0 && (size_t)n < cap;

	if (ok) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return ok ? 0 : (n > 0 && (size_t)n >= cap ? CC_AGENT_EINVAL : CC_AGENT_ENOMEM);
}

int cc_agent_enrol_begin(cc_agent *a, char *csr, size_t cap)
{
	int rc;

	if (a == NULL || csr == NULL)
		return CC_AGENT_EINVAL;
	if ((rc = pending_key(a, PENDING_LOAD_OR_MAKE)) != 0)
		return rc;
	return make_csr(a, csr, cap);
}

/* The certificate issued for the pending key becomes the pair in use:
 * written whole to the record the pair in use is not in, then the pending
 * key forgotten. */
static int commit(cc_agent *a, const char *cert_pem, size_t len)
{
	X509 *cert;
	char *pem = NULL, *buf = NULL, sum[65];
	uint64_t gen = a->key_pem != NULL ? a->cred_gen + 1 : 1;
	size_t need;
	int rc;

	if (len == 0 || len > PEM_MAX || memchr(cert_pem, '\0', len) != NULL)
		return CC_AGENT_EINVAL;
	if ((rc = pending_key(a, PENDING_LOAD)) != 0)
		return rc == 1 ? CC_AGENT_ESTATE : rc;
	cert = cert_from_pem(cert_pem, len);
	if (cert == NULL || !cert_fits(a, cert, a->pending)) {
		X509_free(cert);
		cc_ag_log(a, "a certificate not for this machine's new key was refused");
		return CC_AGENT_EINVAL;
	}
	X509_free(cert);
	pem = key_to_pem(a, a->pending);
	need = (pem != NULL ? strlen(pem) : 0) + len + 128;
	buf = pem != NULL && need <= CC_AG_VALUE_MAX ? cc_ag_malloc(a, need) : NULL;
	rc = buf != NULL ? 0 : pem != NULL && need > CC_AG_VALUE_MAX ? CC_AGENT_EINVAL : CC_AGENT_ENOMEM;
	if (rc == 0) {
		int head = snprintf(buf, need, PAIR_MAGIC " %" PRIu64 " %64s\n", gen, "");
		int n = snprintf(buf + head, need - (size_t)head, "%s%.*s", pem, (int)len, cert_pem);

		sha256_hex2(buf, (size_t)head - 65, buf + head, (size_t)n, sum);
		memcpy(buf + head - 65, sum, 64);
		rc = cc_ag_put(a, gen % 2 == 0 ? "cred/0" : "cred/1", buf);
	}
	if (rc == 0)
		rc = use_pair(a, pem, strlen(pem), cert_pem, len, gen);
	if (rc == 0) {
		(void)cc_ag_del(a, "cred/new"); /* a stale one is never used: it has no certificate */
		EVP_PKEY_free(a->pending);
		a->pending = NULL;
		a->renewing = 0;
		/* New connections present the new certificate. */
		cc_ag_http_close(a);
		a->reconnect = 1;
		cc_ag_log(a, "certificate %" PRIu64 " in use", gen);
	}
	if (buf != NULL)
		OPENSSL_cleanse(buf, need);
	cc_ag_free(a, buf);
	wipe_free(a, pem);
	return rc;
}

int cc_agent_enrol_finish(cc_agent *a, const char *cert_pem)
{
	if (a == NULL || cert_pem == NULL)
		return CC_AGENT_EINVAL;
	return commit(a, cert_pem, strlen(cert_pem));
}

/* Also after a reboot: the session is kept, so a certificate asked for
 * before it may come now; it is taken only for the key still waiting. */
int cc_ag_cred_issued(cc_agent *a, const void *payload, size_t len)
{
	return commit(a, payload, len);
}

int cc_agent_renew(cc_agent *a)
{
	if (a == NULL || a->key_pem == NULL)
		return CC_AGENT_ESTATE;
	a->renew_asked = 1;
	a->renew_next_ms = 0;
	return CC_AGENT_OK;
}

int cc_ag_cred_due(cc_agent *a, int64_t mono_ms, char *csr, size_t cap)
{
	int64_t before = (int64_t)(a->cfg.renew_before_days > 0 ? a->cfg.renew_before_days
	                                                         : DEFAULT_RENEW_BEFORE_DAYS) * 86400 * 1000;

	if (a->key_pem == NULL || mono_ms < a->renew_next_ms ||
	    !(a->renew_asked || a->not_after_ms - cc_ag_now_ms(a) < before))
		return 0;
	a->renew_next_ms = mono_ms + RETRY_MS;
	a->renew_asked = 0;
	/* Each attempt a new key: one the server certified already but whose
	 * answer was lost cannot be certified again. */
	if (pending_key(a, PENDING_MAKE) != 0 || make_csr(a, csr, cap) != 0) {
		cc_ag_log(a, "the renewal's key or request could not be made");
		return 0;
	}
	a->renewing = 1;
	return 1;
}

int cc_agent_cert(cc_agent *a, struct cc_agent_cert *out)
{
	if (a == NULL || out == NULL)
		return CC_AGENT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (a->key_pem == NULL)
		return CC_AGENT_ESTATE;
	out->not_after_ms = a->not_after_ms;
	out->generation = a->cred_gen;
	out->renewing = a->renewing;
	memcpy(out->sha256, a->fingerprint, sizeof(out->sha256));
	return CC_AGENT_OK;
}
