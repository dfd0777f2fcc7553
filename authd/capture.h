/* authd/capture.h — the capture hand-off point: where every query for a name
 * in our zones leaves the packet path as a struct query_event.
 *
 * Each producer (a UDP worker, or the TCP side) owns one struct
 * capture_worker with a preallocated single-producer single-consumer ring of
 * events; the store writer (authd/writer.c) is the one consumer of every
 * ring.  A full ring never blocks: the event is counted as dropped.
 *
 * Threads: capture_open*(), capture_stats_get() and capture_close() run on the
 * main thread; capture_event() and capture_batch_end() only on the thread
 * that owns the capture_worker (no allocation, no lock; capture_batch_end
 * makes one write(2) to an eventfd when a ring passes half full, at most once
 * per writer wake-up); capture_peek()/capture_release() only on the one
 * consumer thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "authd/answer.h"
#include "common/event.h"

#define CAPTURE_RING_DEFAULT 65536u   /* events per producer ring */
#define CAPTURE_RING_MIN 64u
#define CAPTURE_RING_MAX (1u << 24)

struct capture;        /* opaque: the process-wide capture */
struct capture_worker; /* opaque: one producer's hand-off point */

struct capture_stats {
	uint64_t events;    /* handed to capture_event (dropped ones included) */
	uint64_t full;      /* REVNAME_FULL: an originator address */
	uint64_t partial;   /* REVNAME_PARTIAL: zone cuts, QNAME minimisation */
	uint64_t classless; /* REVNAME_CLASSLESS: RFC 2317 names */
	uint64_t other;     /* REVNAME_NONE: names in our zones that are no reverse name */
	uint64_t dropped;   /* not handed over: the producer's ring was full */
};

/** Open the capture for @n_producers producers (UDP workers plus the TCP
 *  side), counting events only (no rings: nothing is stored).  @db_dir is
 *  the store folder; it is created (mode 0750) when missing and, when
 *  @owner_uid is not (uid_t)-1, handed to that user.  NULL skips the folder.
 *  Returns 0 or BSC_ENOMEM/a negated errno (the folder).  On success *out is
 *  owned by the caller; release with capture_close(). */
int capture_open(struct capture **out, const char *db_dir, uid_t owner_uid,
		 gid_t owner_gid, size_t n_producers);
/** The same, with a ring of @ring_size events per producer (a power of two
 *  in [CAPTURE_RING_MIN, CAPTURE_RING_MAX]; BSC_EINVAL otherwise) for a
 *  consumer (writer.c) to drain, and the wake-up eventfd.  The rings are
 *  allocated here, once (n_producers * ring_size * sizeof(struct
 *  query_event) bytes, touched only as they fill). */
int capture_open_rings(struct capture **out, const char *db_dir, uid_t owner_uid,
		       gid_t owner_gid, size_t n_producers, size_t ring_size);
/** Create the folder @path and its missing parents (0755; @path itself
 *  0750, handed to @uid/@gid when created and @uid is not (uid_t)-1).  An
 *  existing folder is fine.  Returns 0, BSC_EINVAL (path too long), -ENOTDIR
 *  or a negated errno.  Main thread. */
int capture_dir_make(const char *path, uid_t uid, gid_t gid);
/** The hand-off point of producer @i (< n_producers); valid until
 *  capture_close().  Main thread, before the producer starts. */
struct capture_worker *capture_worker_get(struct capture *c, size_t i);
/** Fill @ev for the query @q (@qlen bytes) from @peer, received at @now_ns
 *  and answered as @info says; @tcp adds EVENT_TCP.  The originator is
 *  decoded from the qname at offset 12.  Pure; any thread. */
void capture_event_fill(struct query_event *ev, uint64_t now_ns, const struct sockaddr *peer,
			const uint8_t *q, size_t qlen, const struct answer_info *info, bool tcp);
/** Hand one event over: one copy into the producer's ring and a release
 *  store of its tail (or, the ring being full, one dropped event counted).
 *  Owner thread of @cw only.  @ev is copied; it may be reused at once. */
void capture_event(struct capture_worker *cw, const struct query_event *ev);
/** End of one receive batch on @cw's thread: wakes the consumer when the
 *  ring is at least half full (otherwise it polls every few ms).  Owner
 *  thread only. */
void capture_batch_end(struct capture_worker *cw);
/** Sum the counters of every producer.  Any thread, any time. */
void capture_stats_get(const struct capture *c, struct capture_stats *out);
/** "N events (full X, partial Y, classless Z, other W), dropped D".
 *  Returns the length. */
size_t capture_stats_format(const struct capture_stats *s, char *buf, size_t len);
/** Release everything.  Call only after every producer and the consumer
 *  stopped.  Returns 0.  NULL is a no-op. */
int capture_close(struct capture *c);

/* ---- the consumer side (one thread: the writer) ---- */

/** Producers, and whether they have rings (capture_open_rings). */
size_t capture_producers(const struct capture *c);
bool capture_has_rings(const struct capture *c);
/** The eventfd a producer writes to when its ring is half full (readable
 *  then); -1 without rings.  The consumer polls it with a timeout and calls
 *  capture_wake_ack() before draining. */
int capture_wake_fd(const struct capture *c);
/** Read the eventfd empty and re-arm the producers' wake-up. */
void capture_wake_ack(struct capture *c);
/** Events producer @i published and the consumer has not released: at most
 *  @max of them, contiguous in the ring, at *evs (oldest first; a run stops
 *  at the ring's end, the next call continues from its start).  Returns their
 *  number (0: none).  The events stay valid until capture_release(). */
size_t capture_peek(struct capture *c, size_t i, const struct query_event **evs, size_t max);
/** Give the first @n events of the last capture_peek() on ring @i back to
 *  the producer. */
void capture_release(struct capture *c, size_t i, size_t n);
/** Events dropped on full rings so far, all producers.  Any thread. */
uint64_t capture_dropped(const struct capture *c);
