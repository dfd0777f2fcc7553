/* common/err.c — error texts.  Pure; any thread. */
#include <string.h>
#include "common/err.h"

const char *bsc_strerror(int code)
{
	switch (code) {
	case BSC_OK:
		return "success";
	case BSC_EMALF:
		return "malformed data";
	case BSC_EZONE:
		return "zone rejected";
	case BSC_ECONF:
		return "configuration rejected";
	case BSC_EMODEL:
		return "model rejected";
	case BSC_ESTORE:
		return "store error";
	case BSC_ESCHEMA:
		return "store schema version mismatch";
	case BSC_ETRUNC:
		return "input truncated";
	case BSC_EPERM_FILE:
		return "unsafe file permissions";
	default:
		break;
	}
	if (code < 0 && code > -1000)
		return strerror(-code);
	return "unknown error";
}
