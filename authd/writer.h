/* authd/writer.h — the store writer of backscope-authd: drains the capture
 * rings into the event log and the in-memory aggregation, and flushes the
 * aggregation into the LMDB store about every second.
 *
 * Threads: two of its own.  "writer" drains every ring (polling them every
 * few ms, or at once when a producer wakes it through the capture's
 * eventfd), appends each event to the event-log segments and adds it to one
 * of two aggregation tables; "flusher" owns every write to the store and
 * flushes the table the writer hands over (ownership moves under a mutex)
 * while the writer fills the other one, so the rings are drained even while
 * LMDB commits.  writer_open/start/set_ttls/close run on the main thread;
 * writer_stats_get on any thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/evlog.h"
#include "common/store.h"

struct capture;
struct writer;

struct writer_conf {
	const char *db_dir;        /* the LMDB store folder */
	bool event_log;            /* write event-log segments */
	const char *log_dir;       /* their folder */
	uint64_t segment_size;     /* bytes; rotate before a segment exceeds it */
	uint64_t segment_age_ms;   /* rotate segments older than this */
	enum evlog_sync log_sync;
	uint32_t bucket_len;       /* s; must match an existing store */
	uint32_t bin_len;          /* s */
	uint64_t flush_interval_ms;
	uint64_t memory_cap;       /* bytes of aggregation tables (both together) */
	uint64_t map_size;         /* bytes: LMDB map at start-up */
	uint64_t map_max;          /* bytes: growth limit when the map is full */
	enum store_sync sync;
	uid_t owner_uid;           /* (uid_t)-1: leave the files' owner alone */
	gid_t owner_gid;
	uint32_t ptr_ttl, neg_ttl; /* recorded in meta at start-up */
};

struct writer_stats {
	uint64_t drained;        /* events taken from the rings */
	uint64_t table_dropped;  /* not aggregated: both tables full, store failing */
	uint64_t flushed;        /* events written to the store by successful flushes */
	uint64_t flushes;        /* successful flushes */
	uint64_t flush_failures; /* failed flushes */
	uint64_t flush_lost;     /* events of failed flushes (counted as dropped in the store) */
	uint64_t last_flush_ns;  /* wall clock of the last successful flush; 0: none */
	uint64_t log_events;     /* event-log records written */
	uint64_t log_lost;       /* events the event log could not write */
	uint64_t log_segments;   /* segments opened */
};

/** Open the store read-write in @wc->db_dir (created when missing; the
 *  store's files and the event-log folder handed to owner_uid), record the
 *  TTLs, and prepare the aggregation tables.  Call before the privilege drop.
 *  @cap must have rings (capture_open_rings); it stays the caller's and must
 *  outlive the writer.  Errors are logged naming the folder; returns 0 or
 *  BSC_E* (BSC_ECONF: bucket/bin lengths differ from the store's).  On success
 *  *out is owned by the caller; release with writer_close(). */
int writer_open(struct writer **out, const struct writer_conf *wc, struct capture *cap);
/** Open the first event-log segment (after the privilege drop, so the files
 *  belong to the running user) and start both threads.  Returns 0 or BSC_E*
 *  (logged). */
int writer_start(struct writer *w);
/** New TTLs after a reload: recorded in meta by the flusher between
 *  flushes. */
void writer_set_ttls(struct writer *w, uint32_t ptr_ttl, uint32_t neg_ttl);
/** Counters; any thread. */
void writer_stats_get(const struct writer *w, struct writer_stats *out);
/** "store: N events in K flushes, last flush TIME, F failed; event log: …".
 *  Returns the length. */
size_t writer_stats_format(const struct writer_stats *s, char *buf, size_t len);
/** Stop: call only after every producer stopped.  The writer drains every
 *  ring, hands the last table over, the flusher writes it, the segment is
 *  closed (footer) and the store closed; then everything is released.
 *  Returns 0, or the first error of the final flush or the event log (both
 *  logged).  NULL is a no-op. */
int writer_close(struct writer *w);
/** The first half of writer_close(): stop the threads once every producer
 *  has stopped, drain the rings, flush and close the event log, and keep @w
 *  (its stats final) until writer_close().  Returns what writer_close()
 *  would; calling it again returns the same.  Main thread. */
int writer_stop(struct writer *w);
