#include "fleet/diag_bundle.h"

#include <string.h>

#include <jansson.h>

#include "common/err.h"

static int refuse(const char **why, const char *text)
{
	*why = text;
	return CC_ERR_INVALID;
}

int diag_manifest_check(const uint8_t *p, size_t len, const char *serial, size_t *manifest_len, const char **why,
                        enum privacy_reason *privacy)
{
	const uint8_t *nl;
	json_t *doc;
	const json_t *v;
	size_t mlen;
	int rc = CC_OK;

	*why = "";
	*privacy = PRIVACY_NONE;
	*manifest_len = 0;
	nl = p != NULL ? memchr(p, '\n', len < DIAG_MANIFEST_MAX + 1 ? len : DIAG_MANIFEST_MAX + 1) : NULL;
	if (nl == NULL)
		return refuse(why, "the bundle does not start with a manifest line of at most 65536 bytes");
	mlen = (size_t)(nl - p);
	doc = json_loadb((const char *)p, mlen, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return refuse(why, "the manifest is not a JSON object");
	}
	/* The filter first: a refusal for personal data says so, whatever else is wrong. */
	*privacy = privacy_scan_json(doc);
	if (*privacy != PRIVACY_NONE)
		rc = refuse(why, "the manifest holds personal or financial data");
	else if (!json_is_string(v = json_object_get(doc, "format")) || strcmp(json_string_value(v), DIAG_FORMAT) != 0)
		rc = refuse(why, "the manifest's format is not " DIAG_FORMAT);
	else if (!json_is_string(v = json_object_get(doc, "serial")) ||
	         (serial != NULL && strcmp(json_string_value(v), serial) != 0))
		rc = refuse(why, "the manifest's serial is not the machine's");
	else if (!json_is_string(json_object_get(doc, "firmware")))
		rc = refuse(why, "the manifest has no firmware version");
	else if (!json_is_integer(v = json_object_get(doc, "uptime_s")) || json_integer_value(v) < 0)
		rc = refuse(why, "the manifest has no uptime_s");
	json_decref(doc);
	if (rc == CC_OK)
		*manifest_len = mlen;
	return rc;
}

void diag_lines_init(struct diag_lines *l)
{
	l->len = 0;
	l->line = 1;
	l->refused = 0;
	l->reason = PRIVACY_NONE;
}

static void judge(struct diag_lines *l)
{
	enum privacy_reason r;

	if (l->line == 1 || l->len == 0 || l->refused != 0)
		return;
	r = privacy_scan_text((const char *)l->buf, l->len);
	if (r != PRIVACY_NONE) {
		l->refused = l->line;
		l->reason = r;
	}
}

enum privacy_reason diag_lines_feed(struct diag_lines *l, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && l->refused == 0) {
		const uint8_t *nl = memchr(p + i, '\n', n - i);
		size_t take = (nl != NULL ? (size_t)(nl - (p + i)) : n - i);
		size_t room = DIAG_LINE_MAX - l->len;

		if (take > room)
			take = room;
		memcpy(l->buf + l->len, p + i, take);
		l->len += take;
		i += take;
		if (l->len == DIAG_LINE_MAX) {
			/* A long line: this window, then on with its tail. */
			judge(l);
			memmove(l->buf, l->buf + DIAG_LINE_MAX - DIAG_LINE_OVERLAP, DIAG_LINE_OVERLAP);
			l->len = DIAG_LINE_OVERLAP;
			continue;
		}
		if (i < n && p[i] == '\n') {
			judge(l);
			l->len = 0;
			l->line++;
			i++;
		}
	}
	return l->reason;
}

enum privacy_reason diag_lines_end(struct diag_lines *l)
{
	judge(l);
	l->len = 0;
	return l->reason;
}
