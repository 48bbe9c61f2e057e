#include "fleet/hours.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/zone.h"

static const char *const day_names[7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

static size_t format_week(const struct week_hours *h, char *out, size_t cap);

static int fail(char *why, size_t cap, const char *text)
{
	if (why != NULL && cap > 0)
		snprintf(why, cap, "%s", text);
	return CC_ERR_INVALID;
}

static const char *skip_spaces(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

static int day_at(const char *p)
{
	int d;

	for (d = 0; d < 7; d++)
		if (strncmp(p, day_names[d], 3) == 0)
			return d;
	return -1;
}

/* "HH:MM" with 00 <= HH <= 24, MM < 60 and 24:00 the latest. */
static int clock_at(const char *p, int *minutes)
{
	int h, m;

	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] != ':' || p[3] < '0' || p[3] > '5' ||
	    p[4] < '0' || p[4] > '9')
		return -1;
	h = (p[0] - '0') * 10 + (p[1] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	if (h > 24 || (h == 24 && m != 0))
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

/* Days: "mon", "mon-fri", "mon,wed,sat-sun" into a 7-bit set. */
static const char *parse_days(const char *p, unsigned *days)
{
	*days = 0;
	for (;;) {
		int a = day_at(p), b;

		if (a < 0)
			return NULL;
		p += 3;
		b = a;
		if (*p == '-') {
			b = day_at(p + 1);
			if (b < a)
				return NULL;
			p += 4;
		}
		for (; a <= b; a++)
			*days |= 1u << a;
		if (*p != ',')
			return p;
		p++;
	}
}

static int add_range(struct week_hours *h, int day, int open, int close, char *why, size_t cap)
{
	int i;

	for (i = 0; i < h->n[day]; i++)
		if (open < h->close[day][i] && h->open[day][i] < close)
			return fail(why, cap, "business hours: the ranges of a day overlap");
	if (h->n[day] == HOURS_RANGES_MAX)
		return fail(why, cap, "business hours: at most 4 ranges a day");
	/* Kept in order of opening. */
	for (i = h->n[day]; i > 0 && h->open[day][i - 1] > open; i--) {
		h->open[day][i] = h->open[day][i - 1];
		h->close[day][i] = h->close[day][i - 1];
	}
	h->open[day][i] = (uint16_t)open;
	h->close[day][i] = (uint16_t)close;
	h->n[day]++;
	return CC_OK;
}

int hours_parse(const char *text, struct week_hours *out, char *why, size_t why_cap)
{
	const char *p = skip_spaces(text);
	char canon[512];
	static const char *const usage =
	        "business hours: days and ranges, e.g. \"mon-fri 07:00-19:00; sat 08:00-12:00\"";

	memset(out, 0, sizeof(*out));
	if (strlen(text) > HOURS_TEXT_MAX)
		return fail(why, why_cap, "business hours: at most 160 characters");
	while (*p != '\0') {
		unsigned days;
		int d;

		p = parse_days(p, &days);
		if (p == NULL || *p != ' ')
			return fail(why, why_cap, usage);
		p = skip_spaces(p);
		for (;;) {
			int open, close;

			if (clock_at(p, &open) != 0 || p[5] != '-' || clock_at(p + 6, &close) != 0)
				return fail(why, why_cap, usage);
			if (open >= close)
				return fail(why, why_cap, "business hours: a range opens before it closes "
				                          "(a night past midnight is two ranges: 22:00-24:00 and 00:00-02:00)");
			for (d = 0; d < 7; d++)
				if ((days & (1u << d)) != 0 && add_range(out, d, open, close, why, why_cap) != CC_OK)
					return CC_ERR_INVALID;
			p += 11;
			if (*p != ',')
				break;
			p++;
		}
		p = skip_spaces(p);
		if (*p == ';')
			p = skip_spaces(p + 1);
		else if (*p != '\0')
			return fail(why, why_cap, usage);
	}
	/* Kept in the canonical form, which must fit too (at most 7 groups of
	 * 4 ranges: under 400 characters). */
	if (format_week(out, canon, sizeof(canon)) > HOURS_TEXT_MAX)
		return fail(why, why_cap, "business hours: at most 160 characters");
	return CC_OK;
}

static int same_day(const struct week_hours *h, int a, int b)
{
	return h->n[a] == h->n[b] && memcmp(h->open[a], h->open[b], sizeof(h->open[a])) == 0 &&
	       memcmp(h->close[a], h->close[b], sizeof(h->close[a])) == 0;
}

/* Days with the same ranges are written once: "mon-wed,fri 09:00-17:00". */
static size_t format_week(const struct week_hours *h, char *out, size_t cap)
{
	size_t len = 0;
	unsigned done = 0;
	int d, e, f, i;

	for (d = 0; d < 7; d++) {
		if (h->n[d] == 0 || (done & (1u << d)) != 0)
			continue;
		for (e = d; e < 7; e++) {
			if ((done & (1u << e)) != 0 || !same_day(h, d, e))
				continue;
			for (f = e; f + 1 < 7 && same_day(h, d, f + 1); f++)
				done |= 1u << (f + 1);
			done |= 1u << e;
			len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s%s%s",
			                        e == d ? (len > 0 ? "; " : "") : ",", day_names[e], f > e ? "-" : "",
			                        f > e ? day_names[f] : "");
			e = f;
		}
		for (i = 0; i < h->n[d]; i++)
			len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%02d:%02d-%02d:%02d",
			                        i == 0 ? " " : ",", h->open[d][i] / 60, h->open[d][i] % 60,
			                        h->close[d][i] / 60, h->close[d][i] % 60);
	}
	return len;
}

void hours_format(const struct week_hours *h, char *out, size_t cap)
{
	if (cap == 0)
		return;
	out[0] = '\0';
	if (format_week(h, out, cap) >= cap)
		out[cap - 1] = '\0';
}

/* ---- windows ---- */

struct walk {
	const struct week_hours *h;
	int64_t from_ms, to_ms;
	struct hours_window *w;
	size_t n, cap;
	int rc;
};

/* Local y-m-d plus minutes of the day, in the zone in force, to UTC ms. */
static int64_t local_ms(const struct tm *day, int minutes)
{
	struct tm t = *day;

	t.tm_hour = minutes / 60;
	t.tm_min = minutes % 60;
	t.tm_sec = 0;
	t.tm_isdst = -1;
	return (int64_t)mktime(&t) * 1000;
}

static int push(struct walk *k, int64_t start, int64_t end)
{
	if (start < k->from_ms)
		start = k->from_ms;
	if (end > k->to_ms)
		end = k->to_ms;
	if (start >= end)
		return CC_OK;
	if (k->n > 0 && start <= k->w[k->n - 1].end_ms) { /* 24:00 then 00:00 */
		if (end > k->w[k->n - 1].end_ms)
			k->w[k->n - 1].end_ms = end;
		return CC_OK;
	}
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 64;
		struct hours_window *grown = realloc(k->w, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		k->w = grown;
		k->cap = cap;
	}
	k->w[k->n].start_ms = start;
	k->w[k->n++].end_ms = end;
	return CC_OK;
}

static int walk_days(void *ctx)
{
	struct walk *k = ctx;
	time_t t = (time_t)(k->from_ms / 1000) - 86400; /* a day early: a range may open before from */
	struct tm day;
	int i;

	localtime_r(&t, &day);
	day.tm_hour = 12; /* noon: stepping a day never lands on a DST gap */
	day.tm_min = day.tm_sec = 0;
	for (;;) {
		struct tm norm = day;
		time_t noon;
		int wd, dow;

		norm.tm_isdst = -1;
		noon = mktime(&norm);
		if (noon == (time_t)-1)
			return CC_ERR_INVALID;
		if ((int64_t)noon * 1000 - 43200000 > k->to_ms)
			return CC_OK;
		wd = norm.tm_wday;         /* 0 Sunday */
		dow = wd == 0 ? 6 : wd - 1; /* 0 Monday */
		for (i = 0; i < k->h->n[dow]; i++) {
			int64_t start = local_ms(&norm, k->h->open[dow][i]);
			int64_t end = local_ms(&norm, k->h->close[dow][i]); /* 24:00: mktime's next midnight */

			if (push(k, start, end) != CC_OK)
				return CC_ERR_NOMEM;
		}
		day = norm;
		day.tm_mday++;
	}
}

int hours_windows(const struct week_hours *h, const char *zone, int64_t from_ms, int64_t to_ms,
                  struct hours_window **out, size_t *n)
{
	struct walk k;
	int rc;

	*out = NULL;
	*n = 0;
	if (from_ms >= to_ms)
		return CC_OK;
	memset(&k, 0, sizeof(k));
	k.h = h;
	k.from_ms = from_ms;
	k.to_ms = to_ms;
	rc = zone_run(zone, walk_days, &k);
	if (rc != CC_OK) {
		free(k.w);
		return rc;
	}
	*out = k.w;
	*n = k.n;
	return CC_OK;
}
