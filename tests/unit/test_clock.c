/* test_clock.c - clock_format_iso: the hand-made digits against strftime. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "common/clock.h"

/* What clock_format_iso printed before it wrote its digits by hand. */
static void reference(int64_t ms, char *out, size_t cap)
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

static void test_known_times(void)
{
	char out[40];

	clock_format_iso(0, out, sizeof(out));
	CHECK_STR(out, "1970-01-01T00:00:00.000Z");
	clock_format_iso(1796256000123LL, out, sizeof(out));
	CHECK_STR(out, "2026-12-03T00:00:00.123Z");
	clock_format_iso(-1, out, sizeof(out));
	CHECK_STR(out, "1969-12-31T23:59:59.999Z");
	clock_format_iso(253402300799999LL, out, sizeof(out));
	CHECK_STR(out, "9999-12-31T23:59:59.999Z");
}

static void test_same_as_strftime(void)
{
	char got[40], want[40];
	uint64_t x = 88172645463325252ULL;
	int i, same = 1;

	for (i = 0; i < 200000 && same; i++) {
		int64_t ms;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ms = (int64_t)(x % 600000000000000ULL) - 100000000000000LL; /* ~1800 .. ~17000 */
		clock_format_iso(ms, got, sizeof(got));
		reference(ms, want, sizeof(want));
		same = strcmp(got, want) == 0;
		if (!same)
			fprintf(stderr, "%lld: %s != %s\n", (long long)ms, got, want);
	}
	CHECK(same);
}

int main(void)
{
	RUN(test_known_times);
	RUN(test_same_as_strftime);
	return check_summary();
}
