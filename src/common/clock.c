#include "common/clock.h"

#include <stdio.h>
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
	if (gmtime_r(&sec, &tm) == NULL || strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, cap, "invalid-time");
		return;
	}
	snprintf(out, cap, "%s.%03dZ", base, milli);
}
