/* authd/version.h — the server's version string. */
#pragma once
const char *authd_version(void);
