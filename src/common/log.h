/*
 * log.h - few levels, the module name on every line, stderr by default.
 *
 * Never pass secrets, tokens, keys or the content of a refused message to
 * these functions: a log line is readable by whoever operates the box.
 */
#ifndef CC_COMMON_LOG_H
#define CC_COMMON_LOG_H

enum log_level { LOG_LEVEL_SILENT = -1, LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Messages above this level are dropped. Default LOG_LEVEL_INFO. */
void log_set_level(enum log_level level);

/* One JSON object per line ({"ts","level","module","msg"}) instead of
 * "time module: level: message" (config log_format). Either way an event
 * is one line: control characters in a message never start another. */
void log_set_json(int on);

/* Prefix every line with an ISO-8601 UTC timestamp (daemons) or not (CLI). */
void log_set_timestamps(int on);

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The message of the first error logged by this thread (even one below
 * the level, never shown), or NULL. */
const char *log_first_error(void);

#define log_error(mod, ...) log_msg(LOG_LEVEL_ERROR, (mod), __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_LEVEL_WARN, (mod), __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_LEVEL_INFO, (mod), __VA_ARGS__)
#define log_debug(mod, ...) log_msg(LOG_LEVEL_DEBUG, (mod), __VA_ARGS__)

#endif
