/* clock.h - time in the units CoffeeCloud stores: milliseconds since the epoch, UTC. */
#ifndef CC_COMMON_CLOCK_H
#define CC_COMMON_CLOCK_H

#include <stdint.h>

/* Wall-clock time in ms since 1970-01-01 UTC. */
int64_t clock_now_ms(void);

/* Monotonic time in ms, for timeouts and durations only. */
int64_t clock_mono_ms(void);

/* Monotonic time in microseconds, for latency measurements. */
int64_t clock_mono_us(void);

/* Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= 25 bytes). */
void clock_format_iso(int64_t ms, char *out, unsigned long cap);

#endif
