/* tests/helpers/tmpdir.h — one temporary folder per test program, made by a
 * cmocka setup function and removed, with everything in it, by the teardown.
 * Test programs are single-threaded. */
#pragma once
#include <stddef.h>

/** The folder: /tmp/<program name>.XXXXXX once made. */
extern char test_tmpdir[256];

/** cmocka setup: make the folder.  0, or -1 when it cannot be made. */
int tmpdir_setup(void **state);
/** cmocka teardown: remove the folder and everything in it. */
int tmpdir_teardown(void **state);
/** "<folder>/@name" into @buf. */
void tmpdir_path(char *buf, size_t len, const char *name);
