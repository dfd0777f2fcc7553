/* authd/stats.h — per-thread query counters of backscope-authd.
 *
 * Each worker (and the TCP side) counts into a plain struct stats during a
 * batch and publishes it into its own struct stats_cell (one writer, relaxed
 * atomics: plain loads and stores on x86, no lock).  The main thread reads and
 * sums the cells every stats_interval, on SIGUSR1 and at shutdown. */
#pragma once
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define STATS_RCODES 17 /* rcode 0..15, and 16 = BADVERS */

enum stats_counter {
	STATS_QUERIES,   /* datagrams or TCP messages received */
	STATS_REPLIES,   /* answers handed to the kernel */
	STATS_DROPPED,   /* answers not sent: socket buffer full (EAGAIN) or send error */
	STATS_MALFORMED, /* FORMERR answers, unanswerable or oversized queries */
	STATS_TRUNCATED, /* answers sent with TC */
	STATS_TCP,       /* queries that came over TCP */
	STATS_EVENTS,    /* queries for names in our zones (handed to capture) */
	STATS_TCP_CONNS, /* TCP connections accepted */
	STATS_TCP_REFUSED, /* TCP connections closed at once: tcp_max_clients reached */
	STATS_RCODE0,    /* STATS_RCODES counters, one per rcode answered */
	STATS_COUNT = STATS_RCODE0 + STATS_RCODES,
};

/** Plain counters: one thread's batch, or a sum made by main. */
struct stats {
	uint64_t v[STATS_COUNT];
};

/** Published counters of one thread; 128-byte padded against false sharing. */
struct stats_cell {
	_Atomic uint64_t v[STATS_COUNT];
	char pad[128 - (STATS_COUNT * sizeof(uint64_t)) % 128];
};

/** Add @d into @c.  Only the thread that owns @c may call this. */
static inline void stats_publish(struct stats_cell *c, const struct stats *d)
{
	for (size_t i = 0; i < STATS_COUNT; i++) {
		if (d->v[i] == 0)
			continue;
		uint64_t cur = atomic_load_explicit(&c->v[i], memory_order_relaxed);
		atomic_store_explicit(&c->v[i], cur + d->v[i], memory_order_relaxed);
	}
}

/** Add the published values of @c into @sum.  Any thread. */
void stats_collect(const struct stats_cell *c, struct stats *sum);
/** One log line body: "queries=… replies=… …" with non-zero rcodes by name.
 *  When @prev and @secs > 0, adds the query rate since @prev.  Returns the
 *  length written (truncated to @len - 1). */
size_t stats_format(const struct stats *s, const struct stats *prev, double secs, char *buf,
		    size_t len);
/** Name of rcode @r ("NOERROR", "NXDOMAIN", … "BADVERS"); "other" beyond 16. */
const char *stats_rcode_name(unsigned r);
