/*
 * zone.h - local time in a zone of the system's tz database (Europe/Budapest),
 * for the things people set in their own time: a site's business hours, a
 * person's quiet hours. Daylight saving follows the tz database.
 *
 * glibc converts in one zone at a time, the one TZ names, so every
 * conversion here is serialised behind one lock and TZ is only ever
 * replaced in place (zone_init sets it before any other thread exists: a
 * getenv elsewhere never sees the environment array move).
 */
#ifndef CC_COMMON_ZONE_H
#define CC_COMMON_ZONE_H

#include <stdint.h>
#include <time.h>

#define ZONE_INFO_DIR "/usr/share/zoneinfo"

/* Call once at start, before threads: TZ=UTC unless set. */
void zone_init(void);

/* 1 when name is a zone of the tz database found under ZONE_INFO_DIR (no
 * path tricks: no "..", no leading "/", nothing but [A-Za-z0-9_+-/]), or
 * "UTC". */
int zone_valid(const char *name);

/* t in the zone's local time (UTC for an invalid zone). */
void zone_localtime(const char *zone, time_t t, struct tm *out);

/*
 * Runs convert(ctx) with the zone in force: inside it, mktime and
 * localtime_r work in that zone. For many conversions at once (a month of
 * opening hours); convert must not call other zone_ functions.
 */
int zone_run(const char *zone, int (*convert)(void *ctx), void *ctx);

#endif
