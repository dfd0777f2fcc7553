/* authd/server.h — the running server (struct authd): start-up (zones,
 * sockets, capture, privilege drop, workers), the main loop (signals, stats,
 * TCP, reload) and shutdown.
 * Main thread only. */
#pragma once
#include "authd/config.h"

/** Check @c as `-n` does: resolve the user, load every zone (with the
 *  permission check when configured) and print one summary line per zone to
 *  stdout.  Binds nothing.  Returns 0, or a negated BSC_E* after logging why. */
int authd_check(const struct authd_conf *c);

/** Serve with @c until SIGTERM or SIGINT.  @f is kept for SIGHUP (the config
 *  file, if any, is read again and the flags applied on top; only zones are
 *  reloaded).  Writes the ready line to f->ready_fd once serving.  Returns 0
 *  on a clean shutdown, or a negated BSC_E* on a start-up failure (logged,
 *  naming the input). */
int authd_run(const struct authd_conf *c, const struct authd_flags *f);
