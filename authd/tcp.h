/* authd/tcp.h — DNS over TCP (RFC 7766): listeners, connections, pipelined
 * queries, answered from the shared zone table.
 *
 * Threads: everything runs on the loop given to tcp_server_new() (authd's main
 * loop); low volume by design.  UDP never waits for TCP: the workers have
 * their own threads, and TCP is bounded by a connection cap, a per-connection
 * pipeline cap and an idle timeout. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "authd/stats.h"
#include "common/addr.h"

struct worker_shared;
struct capture_worker;

struct tcp_conf {
	uint32_t max_clients;  /* open connections at most; more are closed at once */
	uint64_t idle_ms;      /* close a connection idle this long */
	uint32_t max_pipeline; /* answers in flight per connection; reading pauses above */
};

struct tcp_server; /* opaque */

/** Open a non-blocking listening TCP socket bound to @addr (SO_REUSEADDR,
 *  IPV6_V6ONLY for v6).  *@bound receives the bound address.  Returns 0 or a
 *  negated errno (EADDRINUSE when the port is taken). */
int tcp_socket_open(const struct bsc_sockaddr *addr, int *fd, struct bsc_sockaddr *bound);

/** Create the TCP side on @loop, answering from @sh (the table is read at
 *  each query: callers on the publishing thread always see the newest) and
 *  handing events to @cw.  Returns 0 or BSC_ENOMEM. */
int tcp_server_new(struct tcp_server **out, uv_loop_t *loop, const struct tcp_conf *tc,
		   struct worker_shared *sh, struct capture_worker *cw);
/** Start accepting on the listening socket @fd (from tcp_socket_open()); the
 *  server owns @fd from then on, also on failure.  Returns 0 or a libuv
 *  error. */
int tcp_server_listen(struct tcp_server *ts, int fd);
/** Stop accepting and close every connection; the handles finish closing
 *  when the loop runs again.  Idempotent. */
void tcp_server_close(struct tcp_server *ts);
/** Release the server after tcp_server_close() and a loop run that let every
 *  handle close.  NULL is a no-op. */
void tcp_server_free(struct tcp_server *ts);
/** The counters of the TCP side (same loop thread writes them). */
const struct stats_cell *tcp_server_stats(const struct tcp_server *ts);
/** Open connections now. */
size_t tcp_server_clients(const struct tcp_server *ts);
