#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level max_level = LOG_LEVEL_INFO;
static int with_timestamps;
static int as_json;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* The first error of this thread, kept for a program that reports it once
 * more in another form (the CLI's --json errors). */
static __thread char first_error[1024];

const char *log_first_error(void) { return first_error[0] ? first_error : NULL; }

void log_set_level(enum log_level level) { max_level = level; }

void log_set_timestamps(int on) { with_timestamps = on; }

void log_set_json(int on) { as_json = on; }

/* Length of the valid UTF-8 sequence at s (at most 4 bytes), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
	size_t i;

	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* s as the inside of a JSON string (invalid UTF-8 bytes as U+FFFD), or
 * for text lines with control characters as spaces. */
static void escape(const char *in, char *out, size_t cap, int json)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	while (*s != '\0' && o + 8 < cap) {
		if (*s < 0x20 || *s == 0x7f) {
			if (json)
				o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *s);
			else
				out[o++] = ' ';
			s++;
		} else if (json && (*s == '"' || *s == '\\')) {
			out[o++] = '\\';
			out[o++] = (char)*s++;
		} else if (*s < 0x80) {
			out[o++] = (char)*s++;
		} else if (!json) {
			out[o++] = (char)*s++;
		} else {
			size_t n = utf8_len(s), i;

			if (n == 0) {
				o += (size_t)snprintf(out + o, cap - o, "\\ufffd");
				s++;
			} else {
				for (i = 0; i < n; i++)
					out[o++] = (char)*s++;
			}
		}
	}
	out[o] = '\0';
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	char line[1024];
	char clean[6 * 1024 + 8];
	char stamp[40] = "";
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
	escape(line, clean, sizeof(clean), as_json);
	if (with_timestamps && clock_gettime(CLOCK_REALTIME, &now) == 0 &&
	    gmtime_r(&now.tv_sec, &tm) != NULL) {
		size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

		if (as_json)
			snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", now.tv_nsec / 1000000);
		else
			snprintf(stamp + n, sizeof(stamp) - n, "Z ");
	}
	/* One fprintf per line so concurrent writers do not interleave mid-line. */
	if (as_json)
		fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"msg\":\"%s\"}\n", stamp,
		        level_names[level], module, clean);
	else
		fprintf(stderr, "%s%s: %s: %s\n", stamp, module, level_names[level], clean);
}
