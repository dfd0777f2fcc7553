/* authd/sock.h — the listening sockets of backscope-authd: one function that
 * opens, configures and binds a UDP or TCP socket for a listen address.
 * Runs on the main thread at start-up and on reloads. */
#pragma once
#include "common/addr.h"

/** Open a non-blocking socket of @type (SOCK_DGRAM or SOCK_STREAM) bound to
 *  @addr, with SO_REUSEADDR and, for v6, IPV6_V6ONLY.  SOCK_DGRAM adds
 *  SO_REUSEPORT and, on a wildcard address, packet info (replies leave from
 *  the address the query came to); SOCK_STREAM listens.  *@bound receives the
 *  bound address (the real port when @addr's port is 0).  Returns 0 or a
 *  negated errno; *@fd is -1 on failure. */
int sock_open(const struct bsc_sockaddr *addr, int type, int *fd, struct bsc_sockaddr *bound);
