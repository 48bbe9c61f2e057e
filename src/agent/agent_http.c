/*
 * agent_http.c - HTTPS to the server's machine routes with the machine
 * certificate (mutual TLS), on libcurl: https only, no redirects, the fleet
 * CA as the only trust anchor, bounded answers, a stalled transfer dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "agent/internal.h"

#define CONNECT_TIMEOUT_S 15L
#define STALL_S 30L /* below 1 byte/s for this long: the transfer is dropped */

/* The agent's one handle, reset for each request: the connection (and TLS
 * session) stays open between the offer, the slices of a download and the
 * reports, so a download is one handshake, not one per slice. */
static CURL *easy(cc_agent *a, const char *path)
{
	char url[CC_AG_PATH_MAX * 2];
	CURL *c;

	struct curl_blob cert, key;

	/* No pair yet (enrolment to come): the machine routes would refuse it. */
	if (a->url[0] == '\0' || a->key_pem == NULL ||
	    snprintf(url, sizeof(url), "%s%s", a->url, path) >= (int)sizeof(url))
		return NULL;
	/* The pair in memory, not copied: a renewal closes this handle before
	 * it frees the old one. */
	cert = (struct curl_blob){ a->cert_pem, strlen(a->cert_pem), CURL_BLOB_NOCOPY };
	key = (struct curl_blob){ a->key_pem, strlen(a->key_pem), CURL_BLOB_NOCOPY };
	if (a->curl == NULL && (a->curl = curl_easy_init()) == NULL)
		return NULL;
	c = a->curl;
	curl_easy_reset(c);
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CAINFO, a->ca) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_S) != CURLE_OK)
		return NULL;
	return c;
}

struct buf {
	cc_agent *a;
	char *p;
	size_t n, cap, max;
	int over;
};

static size_t to_buf(char *data, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t n = size * nmemb;

	if (n > b->max - b->n) {
		b->over = 1;
		return 0;
	}
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = cc_ag_realloc(b->a, b->p, cap);
		if (p == NULL)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

int cc_ag_http_get(cc_agent *a, const char *path, char **body, size_t *len, size_t max, long *status)
{
	struct buf b = { a, NULL, 0, 0, max, 0 };
	CURL *c = easy(a, path);
	CURLcode rc;

	*body = NULL;
	*len = 0;
	*status = 0;
	if (c == NULL)
		return CC_AGENT_EINVAL;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (rc != CURLE_OK) {
		cc_ag_log(a, "GET %s: %s", path, b.over ? "answer too large" : curl_easy_strerror(rc));
		cc_ag_free(a, b.p);
		return CC_AGENT_ENET;
	}
	*body = b.p;
	*len = b.n;
	return CC_AGENT_OK;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *ud)
{
	(void)data;
	(void)ud;
	return size * nmemb;
}

int cc_ag_http_post(cc_agent *a, const char *path, const char *json, long *status)
{
	CURL *c = easy(a, path);
	struct curl_slist *h = NULL;
	CURLcode rc;

	*status = 0;
	if (c == NULL)
		return CC_AGENT_EINVAL;
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		cc_ag_log(a, "POST %s: %s", path, curl_easy_strerror(rc));
		return CC_AGENT_ENET;
	}
	return CC_AGENT_OK;
}

struct dl {
	CURL *c;
	cc_ag_sink sink;
	void *ctx;
	uint64_t range_start;
	int have_range;
};

/* Content-Range: bytes A-B/N: where the body starts in the file. */
static size_t header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct dl *d = ud;
	size_t n = size * nmemb;
	static const char name[] = "content-range:";
	char line[128];

	if (n < sizeof(line) && n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		unsigned long long start;
		memcpy(line, data, n);
		line[n] = '\0';
		if (sscanf(line + sizeof(name) - 1, " bytes %llu-", &start) == 1) {
			d->range_start = start;
			d->have_range = 1;
		}
	}
	return n;
}

static size_t to_sink(char *data, size_t size, size_t nmemb, void *ud)
{
	struct dl *d = ud;
	long status = 0;

	curl_easy_getinfo(d->c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 206 && !d->have_range)
		return 0;
	return d->sink(d->ctx, data, size * nmemb, status, status == 206 ? d->range_start : 0);
}

int cc_ag_http_download(cc_agent *a, const char *path, uint64_t from, uint64_t to, cc_ag_sink sink,
                        void *ctx, long *status)
{
	struct dl d = { easy(a, path), sink, ctx, 0, 0 };
	char range[48];
	CURLcode rc;

	*status = 0;
	if (d.c == NULL)
		return CC_AGENT_EINVAL;
	curl_easy_setopt(d.c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(d.c, CURLOPT_HEADERFUNCTION, header);
	curl_easy_setopt(d.c, CURLOPT_HEADERDATA, &d);
	curl_easy_setopt(d.c, CURLOPT_WRITEFUNCTION, to_sink);
	curl_easy_setopt(d.c, CURLOPT_WRITEDATA, &d);
	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)from, (unsigned long long)to);
	curl_easy_setopt(d.c, CURLOPT_RANGE, range);
	rc = curl_easy_perform(d.c);
	curl_easy_getinfo(d.c, CURLINFO_RESPONSE_CODE, status);
	if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) {
		cc_ag_log(a, "download: %s", curl_easy_strerror(rc));
		return CC_AGENT_ENET;
	}
	return CC_AGENT_OK;
}

void cc_ag_http_close(cc_agent *a)
{
	if (a->curl != NULL)
		curl_easy_cleanup(a->curl);
	a->curl = NULL;
}
