/* tests/helpers/tmpdir.c — the test program's temporary folder. */
#include "tests/helpers/tmpdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

char test_tmpdir[256];

int tmpdir_setup(void **state)
{
	(void)state;
	snprintf(test_tmpdir, sizeof test_tmpdir, "/tmp/%s.XXXXXX", program_invocation_short_name);
	return mkdtemp(test_tmpdir) ? 0 : -1;
}

int tmpdir_teardown(void **state)
{
	char cmd[300];

	(void)state;
	if (!test_tmpdir[0])
		return 0;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

void tmpdir_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", test_tmpdir, name);
}
