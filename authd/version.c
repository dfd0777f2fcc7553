/* authd/version.c — the server's version string (CH TXT version.bind default). */
#include "authd/version.h"
#include "common/version.h"

const char *authd_version(void)
{
	return BSC_PRODUCT " " BSC_VERSION;
}
