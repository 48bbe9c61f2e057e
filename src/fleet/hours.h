/*
 * hours.h - a site's business hours: the weekly hours it is open, in its
 * own time zone, and the stretches of UTC time they make over a period
 * (docs/OPERATIONS.md "Business hours").
 *
 * Written as people write them on a door:
 *     mon-fri 07:00-19:00; sat 08:00-12:00,13:00-17:00
 * days (mon..sun, ranges and lists), then the day's ranges HH:MM-HH:MM
 * (open before close, 24:00 ends a day; a night past midnight is written
 * as two ranges). A day not named is closed; "" means no hours are kept
 * (open around the clock).
 */
#ifndef CC_FLEET_HOURS_H
#define CC_FLEET_HOURS_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

#define HOURS_RANGES_MAX 4   /* per day */
#define HOURS_TEXT_MAX CC_SITE_HOURS_MAX

struct week_hours {
	uint16_t open[7][HOURS_RANGES_MAX], close[7][HOURS_RANGES_MAX]; /* minutes of the day; [0] is Monday */
	uint8_t n[7];
};

/* Parses text; on error writes what is wrong into why (never the input)
 * and returns CC_ERR_INVALID. "" parses to a week with no ranges. */
int hours_parse(const char *text, struct week_hours *out, char *why, size_t why_cap);
/* The canonical text of h (days with the same ranges joined: "mon-fri
 * 07:00-19:00"), "" for no ranges. cap >= HOURS_TEXT_MAX + 1 always fits. */
void hours_format(const struct week_hours *h, char *out, size_t cap);

/* One stretch of open time, [start_ms, end_ms). */
struct hours_window {
	int64_t start_ms, end_ms;
};

/* The open stretches of h in zone over [from_ms, to_ms), cut to it, in
 * order: *out is malloc'd (NULL with *n 0 when none). Daylight saving
 * moves them as the zone's clocks move. */
int hours_windows(const struct week_hours *h, const char *zone, int64_t from_ms, int64_t to_ms,
                  struct hours_window **out, size_t *n);

#endif
