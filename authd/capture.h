/* authd/capture.h — the capture hand-off point: where every query for a name
 * in our zones leaves the packet path as a struct query_event.
 *
 * Today capture counts events per worker by kind of reverse name (full,
 * partial, classless, other).  The store-backed capture (event log segments,
 * LMDB aggregation by a writer thread) hooks in behind the same calls: each
 * struct capture_worker is owned by exactly one thread (a UDP worker or the
 * TCP side) and is where a lock-free single-producer ring goes.
 *
 * Threads: capture_open(), capture_stats_get() and capture_close() run on the
 * main thread; capture_event() and capture_batch_end() only on the thread that
 * owns the capture_worker.  No allocation, lock or syscall in either. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "authd/answer.h"
#include "common/event.h"

struct capture;        /* opaque: the process-wide capture */
struct capture_worker; /* opaque: one producer's hand-off point */

struct capture_stats {
	uint64_t events;
	uint64_t full;      /* REVNAME_FULL: an originator address */
	uint64_t partial;   /* REVNAME_PARTIAL: zone cuts, QNAME minimisation */
	uint64_t classless; /* REVNAME_CLASSLESS: RFC 2317 names */
	uint64_t other;     /* REVNAME_NONE: names in our zones that are no reverse name */
};

/** Open the capture for @n_producers producers (UDP workers plus the TCP
 *  side).  @db_dir is the store folder; it is created (mode 0750) when
 *  missing and, when @owner_uid is not (uid_t)-1, handed to that user.  NULL
 *  skips the folder.  Returns 0 or BSC_ENOMEM/a negated errno (the folder).
 *  On success *out is owned by the caller; release with capture_close(). */
int capture_open(struct capture **out, const char *db_dir, uid_t owner_uid,
		 gid_t owner_gid, size_t n_producers);
/** The hand-off point of producer @i (< n_producers); valid until
 *  capture_close().  Main thread, before the producer starts. */
struct capture_worker *capture_worker_get(struct capture *c, size_t i);
/** Fill @ev for the query @q (@qlen bytes) from @peer, received at @now_ns
 *  and answered as @info says; @tcp adds EVENT_TCP.  The originator is
 *  decoded from the qname at offset 12.  Pure; any thread. */
void capture_event_fill(struct query_event *ev, uint64_t now_ns, const struct sockaddr *peer,
			const uint8_t *q, size_t qlen, const struct answer_info *info, bool tcp);
/** Hand one event over.  Owner thread of @cw only.  @ev is copied (today:
 *  counted); it may be reused at once. */
void capture_event(struct capture_worker *cw, const struct query_event *ev);
/** End of one receive batch on @cw's thread: the point where buffered events
 *  are published to the consumer.  Owner thread only. */
void capture_batch_end(struct capture_worker *cw);
/** Sum the counters of every producer.  Main thread, any time. */
void capture_stats_get(const struct capture *c, struct capture_stats *out);
/** "N events (full X, partial Y, classless Z, other W)".  Returns the length. */
size_t capture_stats_format(const struct capture_stats *s, char *buf, size_t len);
/** Flush what every producer handed over and release everything.  Call only
 *  after every producer stopped.  Returns 0 or BSC_E* (flush failed; the
 *  reason is logged).  NULL is a no-op. */
int capture_close(struct capture *c);
