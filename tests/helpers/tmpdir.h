/* tests/helpers/tmpdir.h — one temporary folder per test program, made by a
 * cmocka setup function and removed, with everything in it, by the teardown;
 * and fresh folders inside it for the tests that each want an empty one.
 * Test programs are single-threaded. */
#pragma once
#include <stddef.h>

/** The folder: $TMPDIR (else /tmp) /<program name>.XXXXXX once made. */
extern char test_tmpdir[256];

/** cmocka setup: make the folder.  0, or -1 when it cannot be made. */
int tmpdir_setup(void **state);
/** cmocka teardown: remove the folder and everything in it. */
int tmpdir_teardown(void **state);
/** "<folder>/@name" into @buf; a path that does not fit stops the program
 *  (a test's own mistake). */
void tmpdir_path(char *buf, size_t len, const char *name);
/** A new, empty folder "<folder>/testN" (N counts up) into @buf, for one
 *  test.  0, or -1 when the path does not fit or it cannot be made. */
int tmpdir_fresh(char *buf, size_t len);
/** Remove the folder @dir and everything in it.  0, or -1. */
int tmpdir_remove(const char *dir);
