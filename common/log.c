/* common/log.c — line-atomic logging to stderr or syslog.  Any thread. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"

static atomic_int cur_level = LOG_INFO;
static enum log_target cur_target = LOG_TARGET_STDERR;
static _Thread_local char thread_name[16] = "main";

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

void log_init(enum log_target t, int level, const char *ident)
{
	cur_target = t;
	atomic_store(&cur_level, level);
	if (t == LOG_TARGET_SYSLOG)
		openlog(ident ? ident : "backscope", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(int level)
{
	atomic_store(&cur_level, level);
}

int log_get_level(void)
{
	return atomic_load(&cur_level);
}

void log_set_thread_name(const char *name)
{
	snprintf(thread_name, sizeof thread_name, "%s", name);
}

int log_level_parse(const char *s)
{
	for (int i = 0; i <= LOG_DEBUG; i++) {
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	}
	if (strcasecmp(s, "warn") == 0)
		return LOG_WARNING;
	if (strcasecmp(s, "err") == 0)
		return LOG_ERR;
	return -1;
}

bool log_enabled(int level)
{
	return level <= atomic_load_explicit(&cur_level, memory_order_relaxed);
}

void log_msg(int level, const char *fmt, ...)
{
	char line[2048];
	size_t n = 0;
	va_list ap;

	if (level < 0 || level > LOG_DEBUG)
		level = LOG_ERR;
	if (cur_target == LOG_TARGET_SYSLOG) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof line, fmt, ap);
		va_end(ap);
		syslog(level, "%s: %s", thread_name, line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	int w = snprintf(line + n, sizeof line - n, ".%03ldZ %s %s: ", ts.tv_nsec / 1000000L,
			 level_names[level], thread_name);
	if (w > 0)
		n += (size_t)w;
	if (n < sizeof line) {
		va_start(ap, fmt);
		w = vsnprintf(line + n, sizeof line - n, fmt, ap);
		va_end(ap);
		if (w > 0)
			n += (size_t)w;
	}
	if (n >= sizeof line)
		n = sizeof line - 1;
	line[n++] = '\n';
	ssize_t r = write(STDERR_FILENO, line, n);
	(void)r;
}
