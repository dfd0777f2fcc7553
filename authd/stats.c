/* authd/stats.c — summing and formatting the per-thread counters.
 * Main thread (stats_collect may run anywhere). */
#include <stdarg.h>
#include <stdio.h>
#include "authd/stats.h"

void stats_collect(const struct stats_cell *c, struct stats *sum)
{
	for (size_t i = 0; i < STATS_COUNT; i++)
		sum->v[i] += atomic_load_explicit(&c->v[i], memory_order_relaxed);
}

const char *stats_rcode_name(unsigned r)
{
	static const char *const names[STATS_RCODES] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11",
		"RCODE12", "RCODE13", "RCODE14", "RCODE15", "BADVERS",
	};
	return r < STATS_RCODES ? names[r] : "other";
}

__attribute__((format(printf, 4, 5))) static void put(char *buf, size_t len, size_t *n,
						       const char *fmt, ...)
{
	if (*n + 1 >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	*n += (size_t)w;
	if (*n >= len)
		*n = len - 1;
}

size_t stats_format(const struct stats *s, const struct stats *prev, double secs, char *buf,
		    size_t len)
{
	size_t n = 0;
	if (len == 0)
		return 0;
	buf[0] = '\0';
	put(buf, len, &n,
	    "queries=%llu replies=%llu dropped=%llu malformed=%llu truncated=%llu tcp=%llu "
	    "tcp_conns=%llu tcp_refused=%llu events=%llu",
	    (unsigned long long)s->v[STATS_QUERIES], (unsigned long long)s->v[STATS_REPLIES],
	    (unsigned long long)s->v[STATS_DROPPED], (unsigned long long)s->v[STATS_MALFORMED],
	    (unsigned long long)s->v[STATS_TRUNCATED], (unsigned long long)s->v[STATS_TCP],
	    (unsigned long long)s->v[STATS_TCP_CONNS],
	    (unsigned long long)s->v[STATS_TCP_REFUSED], (unsigned long long)s->v[STATS_EVENTS]);
	for (unsigned r = 0; r < STATS_RCODES; r++) {
		uint64_t v = s->v[STATS_RCODE0 + r];
		if (v)
			put(buf, len, &n, " %s=%llu", stats_rcode_name(r), (unsigned long long)v);
	}
	if (prev && secs > 0) {
		uint64_t dq = s->v[STATS_QUERIES] - prev->v[STATS_QUERIES];
		uint64_t dr = s->v[STATS_REPLIES] - prev->v[STATS_REPLIES];
		put(buf, len, &n, " qps=%.0f rps=%.0f", (double)dq / secs, (double)dr / secs);
	}
	return n;
}
