#include "sim/diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "common/file.h"

/* A small deterministic generator: bundles repeat with the seed. */
static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double uniform(uint64_t *s) { return (double)(next(s) >> 11) / 9007199254740992.0; }

int sim_diag_bundle(const char *serial, uint64_t seed, double uptime_s, size_t max_bytes, char **out, size_t *len)
{
	static const char *const faults[] = { "E-BOILER-TEMP-LOW", "E-PUMP-PRIME", "W-DESCALE-DUE", "W-WATER-LOW" };
	static const char *const lines[] = {
		"boiler: heating, target 93.0 C, now %.1f C",
		"pump: brew cycle %u, pressure %.1f bar",
		"grinder: dose 18.%u g, burr motor %.2f A",
		"milk: fridge %.1f C, line rinse ok",
		"flow: %u pulses, %.1f ml",
		"net: mqtt keepalive ok, rtt %u ms",
	};
	uint64_t s = seed ? seed : 0x9e3779b97f4a7c15ULL;
	json_t *doc, *temps, *errors;
	char *manifest = NULL, *buf = NULL;
	size_t cap, n, i;
	int64_t t0 = 1796083200; /* 2026-12-01T00:00:00Z: the log's clock starts here */

	for (i = 0; serial[i] != '\0'; i++)
		s = s * 1099511628211ULL ^ (uint8_t)serial[i];
	temps = json_array();
	errors = json_array();
	for (i = 0; i < 60; i++)
		json_array_append_new(temps, json_real((double)(int)((92.0 + 2.0 * uniform(&s)) * 10) / 10));
	for (i = 0; i < 1 + next(&s) % 3; i++)
		json_array_append_new(errors, json_string(faults[next(&s) % 4]));
	doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:{s:i, s:i, s:i, s:s}, s:o}", "format",
	                "coffeecloud-diagnostics/1", "serial", serial, "model", "barista-pro", "firmware", "4.2.1",
	                "uptime_s", (json_int_t)uptime_s, "boiler_c_per_min", temps, "config", "brew_temp_c", 93,
	                "standby_min", 30, "water_hardness_dh", 12, "language", "en", "errors", errors);
	if (doc != NULL)
		manifest = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(4));
	json_decref(doc);
	cap = 128 * 1024;
	if (cap > max_bytes)
		cap = max_bytes;
	buf = manifest != NULL ? malloc(cap) : NULL;
	if (buf == NULL || strlen(manifest) + 1 > cap) {
		free(manifest);
		free(buf);
		return CC_ERR_NOMEM;
	}
	n = (size_t)snprintf(buf, cap, "%s\n", manifest);
	free(manifest);
	for (i = 0; n < cap; i++) {
		char line[160];
		int k = (int)(next(&s) % 6), w;
		double x = uniform(&s);
		time_t when = (time_t)(t0 + (int64_t)i * 7);
		struct tm tm;
		char stamp[32];

		gmtime_r(&when, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		w = snprintf(line, sizeof(line), "%s %s ", stamp, k == 0 || k == 1 ? "INFO" : k == 5 ? "DEBUG" : "INFO");
		switch (k) {
		case 0: w += snprintf(line + w, sizeof(line) - (size_t)w, lines[0], 90.0 + 4 * x); break;
		case 1: w += snprintf(line + w, sizeof(line) - (size_t)w, lines[1], (unsigned)(i + 1), 8.5 + x); break;
		case 2: w += snprintf(line + w, sizeof(line) - (size_t)w, lines[2], (unsigned)(next(&s) % 9), 1.1 + x); break;
		case 3: w += snprintf(line + w, sizeof(line) - (size_t)w, lines[3], 3.0 + 2 * x); break;
		case 4: w += snprintf(line + w, sizeof(line) - (size_t)w, lines[4], (unsigned)(200 + next(&s) % 100), 25 + 10 * x); break;
		default: w += snprintf(line + w, sizeof(line) - (size_t)w, lines[5], (unsigned)(5 + next(&s) % 40)); break;
		}
		if (w < 0 || (size_t)w + 1 >= sizeof(line))
			break;
		line[w++] = '\n';
		if (n + (size_t)w > cap)
			break;
		memcpy(buf + n, line, (size_t)w);
		n += (size_t)w;
	}
	*out = buf;
	*len = n;
	return CC_OK;
}

struct answer {
	char body[512];
	size_t len;
};

static size_t take(char *p, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	size_t n = size * nmemb, room = sizeof(a->body) - 1 - a->len;

	memcpy(a->body + a->len, p, n < room ? n : room);
	a->len += n < room ? n : room;
	a->body[a->len] = '\0';
	return n;
}

int sim_diag_upload(const char *host, int port, const char *certs_dir, const char *serial, const char *path,
                    const char *bundle, size_t len, char *why, size_t cap)
{
	char dir[1024], crt[1100], key[1100], ca[1100], url[1400], sha[65];
	unsigned char digest[32];
	unsigned int dlen = 0;
	size_t off = 0, i;
	int rounds = 0, rc = CC_ERR_IO;
	CURL *curl;
	struct curl_slist *hdr = NULL;

	why[0] = '\0';
	if (path == NULL || path[0] != '/' || strlen(path) > 200 ||
	    file_join(dir, sizeof(dir), certs_dir, serial) != CC_OK) {
		snprintf(why, cap, "diagnostics: no upload path in the command");
		return CC_ERR_INVALID;
	}
	snprintf(crt, sizeof(crt), "%s/machine.crt", dir);
	snprintf(key, sizeof(key), "%s/machine.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	if (EVP_Digest(bundle, len, digest, &dlen, EVP_sha256(), NULL) != 1)
		return CC_ERR_CRYPTO;
	for (i = 0; i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", digest[i]);
	curl = curl_easy_init();
	if (curl == NULL)
		return CC_ERR_NOMEM;
	hdr = curl_slist_append(hdr, "Content-Type: application/octet-stream");
	curl_easy_setopt(curl, CURLOPT_SSLCERT, crt);
	curl_easy_setopt(curl, CURLOPT_SSLKEY, key);
	curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)DIAG_UPLOAD_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, take);
	/* Slices until the server has it all; a 409 says where it is. */
	while (rounds++ < 1000) {
		size_t n = len - off < DIAG_SLICE ? len - off : DIAG_SLICE;
		int final = off + n == len;
		struct answer a = { "", 0 };
		long status = 0;
		json_t *doc;

		snprintf(url, sizeof(url), "https://%s:%d%s?offset=%zu%s%s", host, port, path, off,
		         final ? "&final=true&sha256=" : "", final ? sha : "");
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, bundle + off);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
		if (curl_easy_perform(curl) != CURLE_OK) {
			snprintf(why, cap, "diagnostics: upload failed: no connection");
			break;
		}
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		doc = json_loadb(a.body, a.len, 0, NULL);
		if (status == 409 && json_is_integer(json_object_get(doc, "received")) &&
		    json_integer_value(json_object_get(doc, "received")) >= 0 &&
		    (size_t)json_integer_value(json_object_get(doc, "received")) <= len) {
			off = (size_t)json_integer_value(json_object_get(doc, "received"));
		} else if (status == 200 && final) {
			rc = CC_OK;
		} else if (status == 200) {
			off += n;
		} else {
			snprintf(why, cap, "diagnostics: upload refused (%ld)", status);
		}
		json_decref(doc);
		if (rc == CC_OK || why[0] != '\0')
			break;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(curl);
	if (rc == CC_OK)
		snprintf(why, cap, "bundle uploaded: %zu bytes", len);
	else if (why[0] == '\0')
		snprintf(why, cap, "diagnostics: upload did not finish");
	return rc;
}

int sim_diag_answer(const char *host, int https_port, const char *certs_dir, const char *serial, uint64_t seed,
                    double uptime_s, const char *body, size_t len, char *reason, size_t cap)
{
	json_t *doc = body != NULL && len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
	const char *path = json_string_value(json_object_get(doc, "upload"));
	json_int_t max = json_integer_value(json_object_get(doc, "max_bytes"));
	char *bundle = NULL;
	size_t blen = 0;
	int rc = 1;

	if (path == NULL || https_port <= 0) {
		snprintf(reason, cap, "boiler 93.2 C, pump 9.1 bar, no fault codes");
		rc = 0;
	} else if (sim_diag_bundle(serial, seed, uptime_s, max > 4096 ? (size_t)max : 4096, &bundle, &blen) != CC_OK ||
	           sim_diag_upload(host, https_port, certs_dir, serial, path, bundle, blen, reason, cap) != CC_OK) {
		if (reason[0] == '\0')
			snprintf(reason, cap, "diagnostics: the bundle could not be made");
		rc = -1;
	}
	free(bundle);
	json_decref(doc);
	return rc;
}
