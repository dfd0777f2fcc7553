/* tests/unit/common/test_log.c — log levels and the stderr line format
 * ("ISO-time level thread: msg", one line per call, long lines cut).
 * Single-threaded cmocka program; stderr is redirected to a file per test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "common/log.h"
#include "tests/helpers/tmpdir.h"

static int saved_stderr = -1;
static char capture_path[512];

/* Send fd 2 to a temporary file until capture_end(). */
static void capture_begin(void)
{
	tmpdir_path(capture_path, sizeof capture_path, "stderr");
	int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

/* Restore fd 2; returns what was written (caller frees). */
static char *capture_end(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	FILE *f = fopen(capture_path, "rb");
	assert_non_null(f);
	static const size_t cap = 16384;
	char *buf = calloc(1, cap);
	assert_non_null(buf);
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(capture_path);
	return buf;
}

static void test_log_level_parse_names(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("error"), LOG_ERR);
	assert_int_equal(log_level_parse("err"), LOG_ERR);
	assert_int_equal(log_level_parse("warning"), LOG_WARNING);
	assert_int_equal(log_level_parse("WARN"), LOG_WARNING);
	assert_int_equal(log_level_parse("notice"), LOG_NOTICE);
	assert_int_equal(log_level_parse("Info"), LOG_INFO);
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("loud"), -1);
	assert_int_equal(log_level_parse(""), -1);
}

static void test_log_enabled_threshold(void **state)
{
	(void)state;
	log_set_level(LOG_WARNING);
	assert_int_equal(log_get_level(), LOG_WARNING);
	assert_true(log_enabled(LOG_ERR));
	assert_true(log_enabled(LOG_WARNING));
	assert_false(log_enabled(LOG_INFO));
	assert_false(log_enabled(LOG_DEBUG));
	log_set_level(LOG_DEBUG);
	assert_true(log_enabled(LOG_DEBUG));
}

static void test_log_msg_line_format(void **state)
{
	(void)state;
	log_init(LOG_TARGET_STDERR, LOG_INFO, "test");
	log_set_thread_name("tester");
	capture_begin();
	log_info("zone: loaded %d zones", 3);
	log_debug("not shown %d", 1);
	log_error("conf: %s", "bad");
	char *out = capture_end();
	/* 2024-01-02T03:04:05.678Z info tester: zone: loaded 3 zones */
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_int_equal(nl - out, 24 + strlen(" info tester: zone: loaded 3 zones"));
	assert_int_equal(out[4], '-');
	assert_int_equal(out[10], 'T');
	assert_int_equal(out[23], 'Z');
	assert_memory_equal(out + 24, " info tester: zone: loaded 3 zones\n", 35);
	assert_string_equal(nl + 1 + 24, " error tester: conf: bad\n");
	assert_null(strstr(out, "not shown"));
	free(out);
	log_set_thread_name("main");
}

static void test_log_msg_long_line_cut(void **state)
{
	(void)state;
	log_init(LOG_TARGET_STDERR, LOG_INFO, "test");
	char big[5000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	capture_begin();
	log_info("%s", big);
	char *out = capture_end();
	size_t n = strlen(out);
	assert_true(n > 1000);
	assert_true(n <= 2048);
	assert_int_equal(out[n - 1], '\n');
	assert_true(strchr(out, '\n') == out + n - 1); /* one line */
	free(out);
}

static void test_log_set_thread_name_truncates(void **state)
{
	(void)state;
	log_init(LOG_TARGET_STDERR, LOG_INFO, "test");
	log_set_thread_name("a-very-long-thread-name");
	capture_begin();
	log_warning("w");
	char *out = capture_end();
	assert_non_null(strstr(out, " warning a-very-long-thr: w\n"));
	free(out);
	log_set_thread_name("main");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_level_parse_names),
		cmocka_unit_test(test_log_enabled_threshold),
		cmocka_unit_test(test_log_msg_line_format),
		cmocka_unit_test(test_log_msg_long_line_cut),
		cmocka_unit_test(test_log_set_thread_name_truncates),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
