/* authd/privs.h — the user authd runs as: look-up, and the privilege drop
 * after every socket is bound.  Main thread, before worker threads start. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privs {
	bool drop;   /* a switch is needed (user set and differs from the current one) */
	uid_t uid;   /* the user the server runs as (the current one without a switch) */
	gid_t gid;
	char user[64];
};

/** Resolve @user (NULL or empty: stay as we are) from the local user
 *  database.  Refuses a missing user, and (unless @check_only, as for -n,
 *  which only needs the uid) a switch when not running as root.  Returns 0 or
 *  BSC_ECONF with @err filled. */
int privs_resolve(struct privs *p, const char *user, bool check_only, char *err,
		  size_t errlen);
/** Switch to the resolved user: initgroups, setgid, setuid, then check that
 *  root cannot be regained.  No-op without a switch.  Returns 0 or a negated
 *  errno with @err filled. */
int privs_drop(const struct privs *p, char *err, size_t errlen);
