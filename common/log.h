/* common/log.h — logging to stderr or syslog.
 *
 * Each line is formatted into a stack buffer and written with one write(2), so
 * lines from different threads never interleave: "ISO-time level thread: msg".
 * The level is tested before formatting.  Nothing is logged per packet.
 * Any thread may log; log_init() is called once by main before threads start. */
#pragma once
#include <stdbool.h>
#include <syslog.h>

enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG };

void log_init(enum log_target t, int level, const char *ident);
void log_set_level(int level);
int log_get_level(void);
/** Name shown for the calling thread ("main", "udp0", "writer"); copied. */
void log_set_thread_name(const char *name);
/** Parse "error", "warning", "notice", "info", "debug" into a syslog level;
 *  returns -1 when unknown. */
int log_level_parse(const char *s);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool log_enabled(int level);

#define LOG_AT(lvl, ...)                                                                           \
	do {                                                                                       \
		if (log_enabled(lvl))                                                              \
			log_msg(lvl, __VA_ARGS__);                                                 \
	} while (0)
#define log_error(...) LOG_AT(LOG_ERR, __VA_ARGS__)
#define log_warning(...) LOG_AT(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) LOG_AT(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
