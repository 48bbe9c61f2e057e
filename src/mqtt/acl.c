#include "mqtt/acl.h"

#include <string.h>

#define PREFIX "cc/v1/"

static const struct {
	const char *suffix;
	enum machine_topic kind;
} publish_topics[] = {
	{ "telemetry", TOPIC_TELEMETRY },
	{ "event", TOPIC_EVENT },
	{ "info", TOPIC_INFO },
	{ "status", TOPIC_STATUS },
	{ "cert/csr", TOPIC_CERT_CSR },
	{ "config/reported", TOPIC_CONFIG_REPORTED },
};

/* If topic starts with "cc/v1/{serial}/", returns the length of that prefix; else 0. */
static size_t own_prefix(const char *serial, const uint8_t *topic, size_t len)
{
	size_t plen = strlen(PREFIX), slen = strlen(serial);

	if (slen == 0 || len < plen + slen + 1 || memcmp(topic, PREFIX, plen) != 0 ||
	    memcmp(topic + plen, serial, slen) != 0 || topic[plen + slen] != '/')
		return 0;
	return plen + slen + 1;
}

/* "cmd/{id}/result": id 1-18 digits, no leading zero (fleet/jobs.h). */
static int result_topic(const uint8_t *t, size_t len)
{
	static const char head[] = "cmd/", tail[] = "/result";
	size_t h = sizeof(head) - 1, tl = sizeof(tail) - 1, i;

	if (len < h + 1 + tl || len > h + 18 + tl || memcmp(t, head, h) != 0 ||
	    memcmp(t + len - tl, tail, tl) != 0 || t[h] == '0')
		return 0;
	for (i = h; i < len - tl; i++)
		if (t[i] < '0' || t[i] > '9')
			return 0;
	return 1;
}

int acl_filter_valid(const uint8_t *f, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (f[i] == '#' && (i != len - 1 || (i > 0 && f[i - 1] != '/')))
			return 0;
		if (f[i] == '+' && ((i > 0 && f[i - 1] != '/') || (i + 1 < len && f[i + 1] != '/')))
			return 0;
	}
	return 1;
}

int acl_may_publish(enum acl_mode mode, const char *serial, const uint8_t *topic, size_t len,
                    enum machine_topic *kind)
{
	size_t p = own_prefix(serial, topic, len), i;

	*kind = TOPIC_NONE;
	if (memchr(topic, '+', len) != NULL || memchr(topic, '#', len) != NULL || len == 0)
		return 0;
	if (p > 0 && result_topic(topic + p, len - p)) {
		*kind = TOPIC_RESULT;
		return 1;
	}
	if (p > 0) {
		for (i = 0; i < sizeof(publish_topics) / sizeof(publish_topics[0]); i++) {
			size_t n = strlen(publish_topics[i].suffix);

			if (len - p == n && memcmp(topic + p, publish_topics[i].suffix, n) == 0) {
				*kind = publish_topics[i].kind;
				return 1;
			}
		}
	}
	/* Open mode: anything but the machine tree of other clients ($-topics
	 * too: wildcards at their first level do not match them). */
	return mode == ACL_OPEN &&
	       !(len >= strlen(PREFIX) && memcmp(topic, PREFIX, strlen(PREFIX)) == 0 && p == 0);
}

int acl_may_subscribe(enum acl_mode mode, const char *serial, const uint8_t *filter, size_t len)
{
	static const char cmd[] = "cmd";
	static const char issued[] = "cert/issued";
	size_t p;

	if (!acl_filter_valid(filter, len))
		return 0;
	if (mode == ACL_OPEN)
		return filter[0] != '$';
	p = own_prefix(serial, filter, len);
	if (p > 0 && len - p == sizeof(issued) - 1 && memcmp(filter + p, issued, sizeof(issued) - 1) == 0)
		return 1;
	if (p == 0 || len - p < sizeof(cmd) - 1 || memcmp(filter + p, cmd, sizeof(cmd) - 1) != 0)
		return 0;
	p += sizeof(cmd) - 1;
	/* Exactly "cmd", or "cmd/" followed by anything valid below it. */
	return len == p || filter[p] == '/';
}

static size_t level_end(const uint8_t *s, size_t from, size_t len)
{
	while (from < len && s[from] != '/')
		from++;
	return from;
}

int acl_topic_matches(const uint8_t *f, size_t flen, const uint8_t *t, size_t tlen)
{
	size_t fi = 0, ti = 0;

	if (flen == 0 || (tlen > 0 && t[0] == '$' && (f[0] == '+' || f[0] == '#')))
		return 0;
	for (;;) {
		size_t fe = level_end(f, fi, flen), te = level_end(t, ti, tlen);
		int plus = fe - fi == 1 && f[fi] == '+';

		if (fe - fi == 1 && f[fi] == '#')
			return 1;
		if (!plus && (fe - fi != te - ti || memcmp(f + fi, t + ti, fe - fi) != 0))
			return 0;
		fi = fe + 1;
		ti = te + 1;
		if (fi > flen && ti > tlen)
			return 1;
		if (fi > flen)
			return 0;
		if (ti > tlen) /* the topic ended: only a trailing "#" still matches ("a/#" ~ "a") */
			return flen - fi == 1 && f[fi] == '#';
	}
}
