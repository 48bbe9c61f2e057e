#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level max_level = LOG_LEVEL_INFO;
static int with_timestamps;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* The first error of this thread, kept for a program that reports it once
 * more in another form (the CLI's --json errors). */
static __thread char first_error[1024];

const char *log_first_error(void) { return first_error[0] ? first_error : NULL; }

void log_set_level(enum log_level level) { max_level = level; }

void log_set_timestamps(int on) { with_timestamps = on; }

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	char line[1024];
	char stamp[32] = "";
	struct timespec now;
	struct tm tm;
	va_list ap;

	if ((int)level > (int)max_level && !(level == LOG_LEVEL_ERROR && first_error[0] == '\0'))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (level == LOG_LEVEL_ERROR && first_error[0] == '\0')
		snprintf(first_error, sizeof(first_error), "%s", line);
	if ((int)level > (int)max_level)
		return;
	if (with_timestamps && clock_gettime(CLOCK_REALTIME, &now) == 0 &&
	    gmtime_r(&now.tv_sec, &tm) != NULL)
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	/* One fprintf per line so concurrent writers do not interleave mid-line. */
	fprintf(stderr, "%s%s: %s: %s\n", stamp, module, level_names[level], line);
}
