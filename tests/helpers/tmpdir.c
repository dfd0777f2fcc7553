/* tests/helpers/tmpdir.c — the test program's temporary folder, and fresh
 * folders inside it (tests/helpers/tmpdir.h). */
#include "tests/helpers/tmpdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

char test_tmpdir[256];

int tmpdir_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	int n;

	(void)state;
	if (!base || !*base)
		base = "/tmp";
	n = snprintf(test_tmpdir, sizeof test_tmpdir, "%s/%s.XXXXXX", base,
		     program_invocation_short_name);
	if (n < 0 || (size_t)n >= sizeof test_tmpdir) {
		test_tmpdir[0] = '\0';
		return -1;
	}
	return mkdtemp(test_tmpdir) ? 0 : -1;
}

int tmpdir_remove(const char *dir)
{
	char cmd[600];
	int n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);

	if (n < 0 || (size_t)n >= sizeof cmd)
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

int tmpdir_teardown(void **state)
{
	(void)state;
	if (!test_tmpdir[0])
		return 0;
	return tmpdir_remove(test_tmpdir);
}

int tmpdir_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", test_tmpdir, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int tmpdir_fresh(char *buf, size_t len)
{
	static unsigned serial;
	char name[32];

	snprintf(name, sizeof name, "test%u", serial++);
	if (tmpdir_path(buf, len, name) != 0)
		return -1;
	return mkdir(buf, 0700) == 0 ? 0 : -1;
}
