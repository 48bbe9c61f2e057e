/* Business hours (fleet/hours.h): written as on a door, kept canonical,
 * refused with a reason, and turned into UTC stretches that move with the
 * zone's daylight saving (the figures below are Python's zoneinfo's). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/err.h"
#include "fleet/hours.h"

static void canon(const char *text, const char *want)
{
	struct week_hours h;
	char out[HOURS_TEXT_MAX + 1], why[160];

	CHECK_EQ(hours_parse(text, &h, why, sizeof(why)), CC_OK);
	hours_format(&h, out, sizeof(out));
	CHECK_STR(out, want);
	/* The canonical form reads back to itself. */
	CHECK_EQ(hours_parse(out, &h, why, sizeof(why)), CC_OK);
	hours_format(&h, out, sizeof(out));
	CHECK_STR(out, want);
}

static void refused(const char *text, const char *reason_part)
{
	struct week_hours h;
	char why[160] = "";

	CHECK_EQ(hours_parse(text, &h, why, sizeof(why)), CC_ERR_INVALID);
	CHECK(strstr(why, reason_part) != NULL);
}

static void test_written_and_canonical(void)
{
	canon("", "");
	canon("mon-fri 07:00-19:00", "mon-fri 07:00-19:00");
	canon("mon-fri 07:00-19:00; sat 08:00-12:00,13:00-17:00", "mon-fri 07:00-19:00; sat 08:00-12:00,13:00-17:00");
	canon("sat 13:00-17:00,08:00-12:00", "sat 08:00-12:00,13:00-17:00");
	canon("mon,tue,wed 09:00-17:00;thu-fri 09:00-17:00", "mon-fri 09:00-17:00");
	canon("fri 09:00-17:00; mon-wed 09:00-17:00; sun 10:00-12:00", "mon-wed,fri 09:00-17:00; sun 10:00-12:00");
	canon("mon 00:00-24:00; wed 06:00-22:00", "mon 00:00-24:00; wed 06:00-22:00");
	canon("fri 22:00-24:00; sat 00:00-02:00", "fri 22:00-24:00; sat 00:00-02:00");
	canon("mon-sun 07:00-19:00", "mon-sun 07:00-19:00");

	refused("mon-fri 19:00-07:00", "opens before it closes");
	refused("mon 09:00-12:00,11:00-13:00", "overlap");
	refused("mon 09:00-17:00; mon-tue 16:00-18:00", "overlap");
	refused("mon 01:00-02:00,03:00-04:00,05:00-06:00,07:00-08:00,09:00-10:00", "at most 4");
	refused("fri-mon 09:00-17:00", "e.g.");
	refused("monday 09:00-17:00", "e.g.");
	refused("mon 9:00-17:00", "e.g.");
	refused("mon 09:00-24:30", "e.g.");
	refused("mon 09:60-17:00", "e.g.");
	refused("mon 09:00-17:00 tue", "e.g.");
	refused("09:00-17:00", "e.g.");
	{
		char long_text[400];

		memset(long_text, ' ', sizeof(long_text) - 1);
		long_text[sizeof(long_text) - 1] = '\0';
		refused(long_text, "at most 160");
	}
	/* Short as written, too long written out day by day. */
	refused("mon-sun 01:00-02:00; mon-sat 03:00-04:00; mon-fri 05:00-06:00; mon-thu 07:00-08:00; "
	        "sat-sun 09:00-10:00", "at most 160");
}

static void windows(const char *text, const char *zone, int64_t from_s, int64_t to_s, const int64_t *want, size_t n)
{
	struct week_hours h;
	struct hours_window *w;
	size_t got, i;

	CHECK_EQ(hours_parse(text, &h, NULL, 0), CC_OK);
	CHECK_EQ(hours_windows(&h, zone, from_s * 1000, to_s * 1000, &w, &got), CC_OK);
	CHECK_EQ(got, n);
	for (i = 0; i < got && i < n; i++) {
		CHECK_EQ(w[i].start_ms, want[2 * i] * 1000);
		CHECK_EQ(w[i].end_ms, want[2 * i + 1] * 1000);
	}
	free(w);
}

static void test_windows_follow_the_zone(void)
{
	/* Budapest moves to summer time on Sunday 2026-03-29: 07:00 local is
	 * 06:00Z on Saturday and 05:00Z on Sunday. */
	const int64_t spring[] = { 1774677600, 1774677600 + 12 * 3600, 1774760400, 1774760400 + 12 * 3600 };
	/* New York moved a fortnight earlier; it leaves summer time on
	 * 2026-11-01: 07:00 local is 11:00Z on Saturday, 12:00Z on Sunday. */
	const int64_t autumn[] = { 1793444400, 1793444400 + 3600, 1793534400, 1793534400 + 3600 };
	/* The day Budapest leaves summer time is 25 hours long. */
	const int64_t long_day[] = { 1792879200, 1792969200 };
	/* Days open around the clock make one stretch; the period cuts it. */
	const int64_t joined[] = { 1795996800 + 3600, 1795996800 + 40 * 3600 };

	windows("mon-sun 07:00-19:00", "Europe/Budapest", 1774656000, 1774828800, spring, 2);
	windows("sat-sun 07:00-08:00", "America/New_York", 1793404800, 1793577600, autumn, 2);
	windows("sun 00:00-24:00", "Europe/Budapest", 1792800000, 1793059200, long_day, 1);
	windows("mon 00:00-24:00; tue 00:00-24:00", "UTC", 1795996800 + 3600, 1795996800 + 40 * 3600, joined, 1);
	/* Closed all week: no stretch. */
	windows("", "UTC", 1795996800, 1795996800 + 7 * 86400, NULL, 0);
	/* Monday 2026-11-30 in UTC, 09:00-17:00 for two days. */
	{
		const int64_t two[] = { 1795996800 + 9 * 3600, 1795996800 + 17 * 3600, 1795996800 + 33 * 3600,
		                        1795996800 + 41 * 3600 };

		windows("mon-fri 09:00-17:00", "UTC", 1795996800, 1795996800 + 2 * 86400, two, 2);
	}
}

int main(void)
{
	RUN(test_written_and_canonical);
	RUN(test_windows_follow_the_zone);
	return check_summary();
}
