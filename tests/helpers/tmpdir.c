/* tests/helpers/tmpdir.c — the test program's temporary folder, and fresh
 * folders inside it (tests/helpers/tmpdir.h). */
#include "tests/helpers/tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Depth first, without following links and without a shell (the path may
 * hold any byte, $TMPDIR's included). */
int tmpdir_remove(const char *dir)
{
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int tmpdir_teardown(void **state)
{
	(void)state;
	if (!test_tmpdir[0])
		return 0;
	return tmpdir_remove(test_tmpdir);
}

void tmpdir_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", test_tmpdir, name);

	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "tmpdir_path: %s/%s does not fit %zu bytes\n", test_tmpdir, name,
			len);
		abort();
	}
}

int tmpdir_fresh(char *buf, size_t len)
{
	static unsigned serial;
	int n = snprintf(buf, len, "%s/test%u", test_tmpdir, serial++);

	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "tmpdir_fresh: %s/test%u does not fit %zu bytes\n", test_tmpdir,
			serial - 1, len);
		return -1;
	}
	if (mkdir(buf, 0700) != 0) {
		fprintf(stderr, "tmpdir_fresh: %s: %s\n", buf, strerror(errno));
		return -1;
	}
	return 0;
}
