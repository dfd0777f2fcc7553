/* authd/worker.h — UDP workers: one thread, one uv_loop_t and one
 * SO_REUSEPORT socket per listen address each, answering in recvmmsg/sendmmsg
 * batches straight from the shared zone table.
 *
 * Threads: worker_new/start/stop/join/free and the worker_shared calls run on
 * the main thread (worker_stop from any thread); everything else inside runs on
 * the worker's own thread. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "authd/answer.h"
#include "authd/stats.h"
#include "common/addr.h"

struct zone_table;
struct capture_worker;

/** What every reader of the zone table shares: the published table, its
 *  generation, the answer settings, and main's acknowledgement wake-up. */
struct worker_shared {
	_Atomic(const struct zone_table *) zt;
	_Atomic uint64_t gen;        /* bumped by each publish */
	const struct answer_conf *ac; /* immutable while workers run */
	uv_async_t *ack;             /* main's: poked when a worker took a new table; or NULL */
};

/** Set up @sh with the first table (generation 1).  Main thread. */
void worker_shared_init(struct worker_shared *sh, const struct zone_table *zt,
			const struct answer_conf *ac, uv_async_t *ack);
/** Publish @zt (atomic swap) and return its generation.  The previous table
 *  stays in use until every worker acknowledged a generation >= the returned
 *  one (worker_acked()).  Main thread. */
uint64_t worker_shared_publish(struct worker_shared *sh, const struct zone_table *zt);

/** Open a non-blocking UDP socket bound to @addr with SO_REUSEADDR and
 *  SO_REUSEPORT (IPV6_V6ONLY for v6; packet info for wildcard addresses so
 *  replies leave from the address the query came to).  *@bound receives the
 *  bound address (the real port when @addr's port is 0).  Returns 0 or a
 *  negated errno. */
int worker_socket_open(const struct bsc_sockaddr *addr, int *fd, struct bsc_sockaddr *bound);

struct worker; /* opaque */

/** Create worker @id over the bound UDP sockets @fds[0..n-1] (at most
 *  AUTHD_MAX_LISTEN), answering from @sh and handing events to @cw.  The
 *  worker owns the fds from success on (worker_free closes them).  Returns 0
 *  or BSC_ENOMEM/BSC_EINVAL/a libuv error. */
int worker_new(struct worker **out, unsigned id, struct worker_shared *sh,
	       struct capture_worker *cw, const int *fds, size_t n);
/** Start the worker's thread (signals blocked in it).  Returns 0 or a libuv
 *  error. */
int worker_start(struct worker *w);
/** Ask the worker to stop: it stops reading, closes its handles and leaves
 *  its loop.  Idempotent.  Call it from one thread only (main), as
 *  worker_kick(). */
void worker_stop(struct worker *w);
/** Tell the worker a new table was published (it also notices by itself at
 *  its next batch).  No-op once the worker was asked to stop. */
void worker_kick(struct worker *w);
/** Wait for the thread to end.  Returns the result of its uv_loop_close()
 *  (0 when every handle was closed). */
int worker_join(struct worker *w);
/** Release the worker and close its sockets; joins first if still running.
 *  NULL is a no-op. */
void worker_free(struct worker *w);
/** The counters the worker publishes after each batch. */
const struct stats_cell *worker_stats(const struct worker *w);
/** The table generation the worker has acknowledged.  Any thread. */
uint64_t worker_acked(const struct worker *w);
