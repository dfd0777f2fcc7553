/* common/err.h — the one error space of backscope.
 *
 * Functions that can fail return 0 or a negative BSC_E* code.  errno values map
 * to their negation (so libuv codes fit as they are); project codes start at
 * -1000.  Any thread may call these. */
#pragma once
#include <errno.h>

enum bsc_err {
	BSC_OK = 0,
	BSC_ENOMEM = -ENOMEM,
	BSC_EINVAL = -EINVAL,
	BSC_ENOENT = -ENOENT,
	BSC_ENOSPC = -ENOSPC,
	BSC_EEXIST = -EEXIST,
	BSC_EACCES = -EACCES,
	BSC_EIO = -EIO,
	BSC_ERANGE = -ERANGE,
	BSC_EMALF = -1000, /* malformed input (packet, record, file) */
	BSC_EZONE,         /* zone file or zone data rejected */
	BSC_ECONF,         /* configuration rejected */
	BSC_EMODEL,        /* model file rejected */
	BSC_ESTORE,        /* store error not covered by errno */
	BSC_ESCHEMA,       /* store schema version mismatch */
	BSC_ETRUNC,        /* input ends early */
	BSC_EPERM_FILE,    /* file permissions unsafe */
	BSC_ELAST,
};

/** Text for any BSC_E* code or negated errno.  Returns a static string. */
const char *bsc_strerror(int code);

/** Map a positive errno (e.g. after a failed syscall) into the error space. */
static inline int bsc_err_sys(int e)
{
	return e > 0 ? -e : BSC_EIO;
}
