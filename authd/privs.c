/* authd/privs.c — user look-up and privilege drop.  Main thread, before any
 * other thread exists. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "authd/privs.h"
#include "common/err.h"

int privs_resolve(struct privs *p, const char *user, bool check_only, char *err,
		  size_t errlen)
{
	memset(p, 0, sizeof *p);
	p->uid = geteuid();
	p->gid = getegid();
	if (!user || !user[0])
		return 0;
	if (strlen(user) >= sizeof p->user) {
		snprintf(err, errlen, "user '%s': name too long", user);
		return BSC_ECONF;
	}
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "user '%s': %s", user,
			 errno ? strerror(errno) : "no such user");
		return BSC_ECONF;
	}
	snprintf(p->user, sizeof p->user, "%s", user);
	if (pw->pw_uid == geteuid() && pw->pw_gid == getegid())
		return 0;
	if (geteuid() != 0 && !check_only) {
		snprintf(err, errlen, "user '%s': cannot switch to it without running as root",
			 user);
		return BSC_ECONF;
	}
	p->drop = true;
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	return 0;
}

int privs_drop(const struct privs *p, char *err, size_t errlen)
{
	if (!p->drop)
		return 0;
	if (initgroups(p->user, p->gid) != 0) {
		snprintf(err, errlen, "initgroups(%s): %s", p->user, strerror(errno));
		return bsc_err_sys(errno);
	}
	if (setgid(p->gid) != 0) {
		snprintf(err, errlen, "setgid(%u): %s", (unsigned)p->gid, strerror(errno));
		return bsc_err_sys(errno);
	}
	if (setuid(p->uid) != 0) {
		snprintf(err, errlen, "setuid(%u): %s", (unsigned)p->uid, strerror(errno));
		return bsc_err_sys(errno);
	}
	if (p->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "user '%s': root could be regained after the switch",
			 p->user);
		return BSC_EACCES;
	}
	return 0;
}
