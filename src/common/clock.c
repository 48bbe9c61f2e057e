#include "common/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void clock_format_iso(int64_t ms, char *out, unsigned long cap)
{
	time_t sec = (time_t)(ms / 1000);
	int milli = (int)(ms % 1000);
	struct tm tm;
	char base[24];

	if (milli < 0) {
		milli += 1000;
		sec -= 1;
	}
	if (gmtime_r(&sec, &tm) != NULL && tm.tm_year >= 1000 - 1900 && tm.tm_year <= 9999 - 1900 && cap >= 25) {
		/* The digits by hand: strftime and snprintf cost a microsecond a
		 * time, and a fleet list formats 10,000 of these. */
		static const char form[] = "0000-00-00T00:00:00.000Z";
		/* value, offset, digits */
		int fields[][3] = {
			{ tm.tm_year + 1900, 0, 4 }, { tm.tm_mon + 1, 5, 2 }, { tm.tm_mday, 8, 2 },
			{ tm.tm_hour, 11, 2 }, { tm.tm_min, 14, 2 }, { tm.tm_sec, 17, 2 }, { milli, 20, 3 },
		};
		size_t i;
		int d, v;

		memcpy(out, form, sizeof(form));
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			for (v = fields[i][0], d = fields[i][2] - 1; d >= 0; d--, v /= 10)
				out[fields[i][1] + d] = (char)('0' + v % 10);
		return;
	}
	if (gmtime_r(&sec, &tm) == NULL || strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, cap, "invalid-time");
		return;
	}
	snprintf(out, cap, "%s.%03dZ", base, milli);
}
