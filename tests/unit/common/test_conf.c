/* tests/unit/common/test_conf.c — the table-driven config reader: every type,
 * every error with its exact file:line, defaults, ranges, repeated sections,
 * conf_set overrides, relative paths, and allocation-failure torture.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include "common/conf.h"
#include "common/err.h"
#include "common/mem.h"
#include "tests/helpers/tmpdir.h"

#define CONF_DIR BSC_TEST_DATA "/conf"

struct tzone {
	char *origin;
	char *file;
	struct conf_addrs notify;
	uint64_t ttl;
	bool enabled;
};

struct tconf {
	bool flag;
	uint64_t workers;
	uint64_t timeout;
	uint64_t cache;
	char *name;
	char *dir;
	struct conf_list tags;
	struct conf_addrs listen;
	int mode;
	int level;
	char *logfile;
	bool syslog;
	struct tzone *zones;
	size_t nzones;
};

#define S(f) offsetof(struct tconf, f)
#define Z(f) offsetof(struct tzone, f)

static const char *const modes[] = { "fast", "safe", "paranoid", NULL };

static const struct conf_item server_items[] = {
	{ "flag", CONF_BOOL, S(flag), .def = "no", .help = "a switch" },
	{ "workers", CONF_UINT, S(workers), .def = "1", .min = 1, .max = 64,
	  .help = "worker threads" },
	{ "timeout", CONF_DURATION, S(timeout), .def = "10s", .min = 100, .max = 86400000,
	  .help = "how long to wait" },
	{ "cache", CONF_SIZE, S(cache), .def = "64M", .min = 4096, .max = 1ull << 30,
	  .help = "cache size" },
	{ "name", CONF_STRING, S(name), .def = "backscope", .help = "instance name" },
	{ "dir", CONF_PATH, S(dir), .def = "data", .help = "data folder" },
	{ "tags", CONF_STR_LIST, S(tags), .def = "a b", .help = "labels" },
	{ "listen", CONF_ADDR_LIST, S(listen), .def = "127.0.0.1@5353", .default_port = 53,
	  .help = "where to listen" },
	{ "mode", CONF_ENUM, S(mode), .def = "safe", .choices = modes, .help = "how careful" },
	{ "level", CONF_LOGLEVEL, S(level), .def = "info", .help = "log level" },
	{ .key = NULL },
};

static const struct conf_item log_items[] = {
	{ "file", CONF_PATH, S(logfile), .help = "log file" },
	{ "syslog", CONF_BOOL, S(syslog), .def = "yes", .help = "log to syslog" },
	{ .key = NULL },
};

static const struct conf_item zone_items[] = {
	{ "origin", CONF_STRING, Z(origin), .help = "zone apex" },
	{ "file", CONF_PATH, Z(file), .help = "master file" },
	{ "notify", CONF_ADDR_LIST, Z(notify), .default_port = 53, .help = "secondaries" },
	{ "ttl", CONF_DURATION, Z(ttl), .def = "1h", .help = "default TTL" },
	{ "enabled", CONF_BOOL, Z(enabled), .def = "yes", .help = "serve it" },
	{ .key = NULL },
};

static const struct conf_section schema[] = {
	{ "server", server_items, .help = "the server" },
	{ "log", log_items, .help = "logging" },
	{ "zone", zone_items, .repeat = true, .elem_size = sizeof(struct tzone),
	  .arr_off = S(zones), .count_off = S(nzones), .help = "one per zone" },
	{ .name = NULL },
};

static char err[1024];

static void fresh(struct tconf *c)
{
	memset(c, 0, sizeof *c);
	assert_int_equal(conf_defaults(schema, c), 0);
}

/* Load @text as "test.conf" over defaults; returns the code. */
static int load(struct tconf *c, const char *text)
{
	fresh(c);
	return conf_load_string(schema, c, text, "test.conf", err, sizeof err);
}

/* @text must fail with @rc and exactly @msg. */
static void expect_error(const char *text, int rc, const char *msg)
{
	struct tconf c;
	int got = load(&c, text);
	if (got != rc)
		fail_msg("code %d (%s), expected %d; err '%s'", got, bsc_strerror(got), rc, err);
	if (strcmp(err, msg) != 0)
		fail_msg("error\n  got  '%s'\n  want '%s'", err, msg);
	conf_free(schema, &c);
}

/* @text must load; the caller checks and frees @c. */
static void expect_ok(struct tconf *c, const char *text)
{
	int rc = load(c, text);
	if (rc != 0)
		fail_msg("load failed (%d): %s", rc, err);
	assert_string_equal(err, "");
}

static char *fmt_sa(const struct bsc_sockaddr *sa)
{
	static char buf[SOCKADDR_STRLEN];
	assert_true(sockaddr_format(sa, buf, sizeof buf) > 0);
	return buf;
}

/* ------------------------------------------------------------------ */

static void test_conf_defaults_all_types(void **state)
{
	(void)state;
	struct tconf c;

	fresh(&c);
	assert_false(c.flag);
	assert_int_equal(c.workers, 1);
	assert_int_equal(c.timeout, 10000);
	assert_int_equal(c.cache, 64u << 20);
	assert_string_equal(c.name, "backscope");
	assert_string_equal(c.dir, "data"); /* defaults are kept as given */
	assert_int_equal(c.tags.n, 2);
	assert_string_equal(c.tags.v[0], "a");
	assert_string_equal(c.tags.v[1], "b");
	assert_int_equal(c.listen.n, 1);
	assert_string_equal(fmt_sa(&c.listen.v[0]), "127.0.0.1@5353");
	assert_int_equal(c.mode, 1);
	assert_int_equal(c.level, LOG_INFO);
	assert_null(c.logfile);
	assert_true(c.syslog);
	assert_null(c.zones);
	assert_int_equal(c.nzones, 0);
	conf_free(schema, &c);
	assert_null(c.name);
	assert_null(c.tags.v);
	assert_int_equal(c.tags.n, 0);
	conf_free(schema, &c); /* twice is fine */
}

static void test_conf_load_good_file(void **state)
{
	(void)state;
	struct tconf c;

	fresh(&c);
	int rc = conf_load(schema, &c, CONF_DIR "/good.conf", err, sizeof err);
	if (rc)
		fail_msg("%s", err);
	assert_true(c.flag);
	assert_int_equal(c.workers, 8);
	assert_int_equal(c.timeout, 1500);
	assert_int_equal(c.cache, 16u << 20);
	assert_string_equal(c.name, "reverse server");
	assert_string_equal(c.dir, CONF_DIR "/zones");
	assert_int_equal(c.tags.n, 3);
	assert_string_equal(c.tags.v[0], "alpha");
	assert_string_equal(c.tags.v[1], "beta");
	assert_string_equal(c.tags.v[2], "gamma");
	assert_int_equal(c.listen.n, 3);
	assert_string_equal(fmt_sa(&c.listen.v[0]), "127.0.0.1@5353");
	assert_string_equal(fmt_sa(&c.listen.v[1]), "::1@5354");
	assert_string_equal(fmt_sa(&c.listen.v[2]), "192.0.2.1@53");
	assert_int_equal(c.mode, 2);
	assert_int_equal(c.level, LOG_DEBUG);
	assert_string_equal(c.logfile, "/var/log/backscope.log");
	assert_false(c.syslog);
	assert_int_equal(c.nzones, 2);
	assert_string_equal(c.zones[0].origin, "10.in-addr.arpa.");
	assert_string_equal(c.zones[0].file, CONF_DIR "/zones/10.zone");
	assert_int_equal(c.zones[0].ttl, 3600000);
	assert_true(c.zones[0].enabled);
	assert_string_equal(c.zones[1].origin, "2.0.192.in-addr.arpa.");
	assert_string_equal(c.zones[1].file, "/srv/zones/192.0.2.zone");
	assert_int_equal(c.zones[1].ttl, 7200000);
	assert_false(c.zones[1].enabled);
	conf_free(schema, &c);
	assert_null(c.zones);
	assert_int_equal(c.nzones, 0);
}

static void test_conf_load_relative_paths(void **state)
{
	(void)state;
	struct tconf c;

	fresh(&c);
	int rc = conf_load(schema, &c, CONF_DIR "/nested/paths.conf", err, sizeof err);
	if (rc)
		fail_msg("%s", err);
	assert_string_equal(c.dir, CONF_DIR "/nested/../zones");
	assert_string_equal(c.logfile, CONF_DIR "/nested/logs/backscope.log");
	assert_string_equal(c.zones[0].file, CONF_DIR "/nested/10.zone");
	conf_free(schema, &c);

	/* A name without a folder keeps relative paths as given. */
	rc = load(&c, "[server]\ndir = zones\n");
	assert_int_equal(rc, 0);
	assert_string_equal(c.dir, "zones");
	conf_free(schema, &c);
	fresh(&c);
	rc = conf_load_string(schema, &c, "[server]\ndir = z\n", "/etc/x.conf", err, sizeof err);
	assert_int_equal(rc, 0);
	assert_string_equal(c.dir, "/etc/z");
	conf_free(schema, &c);
	fresh(&c);
	rc = conf_load_string(schema, &c, "[server]\ndir = z\n", "/x.conf", err, sizeof err);
	assert_int_equal(rc, 0);
	assert_string_equal(c.dir, "/z");
	conf_free(schema, &c);
	/* An empty path clears it. */
	expect_ok(&c, "[server]\ndir =\n");
	assert_null(c.dir);
	conf_free(schema, &c);
}

static void test_conf_load_bom_crlf(void **state)
{
	(void)state;
	struct tconf c;

	fresh(&c);
	int rc = conf_load(schema, &c, CONF_DIR "/bom-crlf.conf", err, sizeof err);
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(c.workers, 3);
	assert_string_equal(c.name, "crlf");
	conf_free(schema, &c);
}

static void test_conf_load_missing_file(void **state)
{
	(void)state;
	struct tconf c;

	fresh(&c);
	int rc = conf_load(schema, &c, CONF_DIR "/no-such.conf", err, sizeof err);
	assert_int_equal(rc, BSC_ENOENT);
	assert_string_equal(err, CONF_DIR "/no-such.conf: cannot open: No such file or directory");
	conf_free(schema, &c);
	/* A folder is not a file. */
	fresh(&c);
	rc = conf_load(schema, &c, CONF_DIR, err, sizeof err);
	assert_true(rc < 0);
	assert_non_null(strstr(err, CONF_DIR ": cannot read"));
	conf_free(schema, &c);
}

static void test_conf_load_file_error_line(void **state)
{
	(void)state;
	struct tconf c;

	fresh(&c);
	int rc = conf_load(schema, &c, CONF_DIR "/bad-unknown-key.conf", err, sizeof err);
	assert_int_equal(rc, BSC_ECONF);
	assert_string_equal(err, CONF_DIR "/bad-unknown-key.conf:4: unknown key 'worker' in "
				 "section [server]");
	conf_free(schema, &c);
}

static void test_conf_load_nul_byte(void **state)
{
	(void)state;
	char path[512];
	int fd;

	tmpdir_path(path, sizeof path, "nul.conf");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	static const char text[] = "[server]\nworkers = 2\nname = a\0b\n";
	assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	struct tconf c;
	fresh(&c);
	int rc = conf_load(schema, &c, path, err, sizeof err);
	unlink(path);
	assert_int_equal(rc, BSC_ECONF);
	char want[600];
	snprintf(want, sizeof want, "%s:3: NUL byte in the file", path);
	assert_string_equal(err, want);
	conf_free(schema, &c);
}

static void test_conf_bool_values(void **state)
{
	(void)state;
	static const char *const yes[] = { "yes", "YES", "true", "True", "on", "ON", "1" };
	static const char *const no[] = { "no", "No", "false", "FALSE", "off", "Off", "0" };
	char text[64];
	struct tconf c;

	for (size_t i = 0; i < 7; i++) {
		snprintf(text, sizeof text, "[server]\nflag = %s\n", yes[i]);
		expect_ok(&c, text);
		assert_true(c.flag);
		conf_free(schema, &c);
		snprintf(text, sizeof text, "[server]\nflag = yes\n[log]\nsyslog = %s\n", no[i]);
		expect_ok(&c, text);
		assert_false(c.syslog);
		conf_free(schema, &c);
	}
	expect_error("[server]\nflag = maybe\n", BSC_ECONF,
		     "test.conf:2: flag: bad boolean 'maybe' (expected yes/no, true/false, "
		     "on/off, 1/0)");
	expect_error("[server]\nflag =\n", BSC_ECONF,
		     "test.conf:2: flag: bad boolean '' (expected yes/no, true/false, on/off, "
		     "1/0)");
	expect_error("[server]\nflag = yes please\n", BSC_ECONF,
		     "test.conf:2: flag: bad boolean 'yes please' (expected yes/no, true/false, "
		     "on/off, 1/0)");
}

static void test_conf_uint_range(void **state)
{
	(void)state;
	struct tconf c;

	expect_ok(&c, "[server]\nworkers = 64\n");
	assert_int_equal(c.workers, 64);
	conf_free(schema, &c);
	expect_ok(&c, "[server]\nworkers = 1\n");
	assert_int_equal(c.workers, 1);
	conf_free(schema, &c);
	expect_error("[server]\nworkers = 0\n", BSC_ECONF,
		     "test.conf:2: workers: value 0 out of range 1..64");
	expect_error("[server]\nworkers = 65\n", BSC_ECONF,
		     "test.conf:2: workers: value 65 out of range 1..64");
	expect_error("[server]\nworkers = -1\n", BSC_ECONF,
		     "test.conf:2: workers: bad number '-1' (expected decimal digits)");
	expect_error("[server]\nworkers = 4x\n", BSC_ECONF,
		     "test.conf:2: workers: bad number '4x' (expected decimal digits)");
	expect_error("[server]\nworkers = 0x10\n", BSC_ECONF,
		     "test.conf:2: workers: bad number '0x10' (expected decimal digits)");
	expect_error("[server]\nworkers =\n", BSC_ECONF,
		     "test.conf:2: workers: bad number '' (expected decimal digits)");
	expect_error("[server]\nworkers = 18446744073709551616\n", BSC_ECONF,
		     "test.conf:2: workers: bad number '18446744073709551616' (expected decimal "
		     "digits)");
	expect_error("[server]\nworkers = 2 3\n", BSC_ECONF,
		     "test.conf:2: workers: bad number '2 3' (expected decimal digits)");
}

static void test_conf_duration_units(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t ms;
	} cases[] = {
		{ "500ms", 500 }, { "10s", 10000 }, { "10", 10000 }, { "5m", 300000 },
		{ "2h", 7200000 }, { "1d", 86400000 }, { "100ms", 100 },
	};
	char text[64];
	struct tconf c;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text, "[server]\ntimeout = %s\n", cases[i].text);
		expect_ok(&c, text);
		assert_int_equal(c.timeout, cases[i].ms);
		conf_free(schema, &c);
	}
	expect_error("[server]\ntimeout = 99ms\n", BSC_ECONF,
		     "test.conf:2: timeout: value 99ms out of range 100ms..1d");
	expect_error("[server]\ntimeout = 25h\n", BSC_ECONF,
		     "test.conf:2: timeout: value 25h out of range 100ms..1d");
	expect_error("[server]\ntimeout = 2w\n", BSC_ECONF,
		     "test.conf:2: timeout: bad duration '2w' (expected a number with ms, s, m, "
		     "h or d)");
	expect_error("[server]\ntimeout = s\n", BSC_ECONF,
		     "test.conf:2: timeout: bad duration 's' (expected a number with ms, s, m, h "
		     "or d)");
	expect_error("[server]\ntimeout = 10 s\n", BSC_ECONF,
		     "test.conf:2: timeout: bad duration '10 s' (expected a number with ms, s, "
		     "m, h or d)");
	expect_error("[server]\ntimeout = 1.5s\n", BSC_ECONF,
		     "test.conf:2: timeout: bad duration '1.5s' (expected a number with ms, s, "
		     "m, h or d)");
	expect_error("[server]\ntimeout = 9999999999999999d\n", BSC_ECONF,
		     "test.conf:2: timeout: bad duration '9999999999999999d' (expected a number "
		     "with ms, s, m, h or d)");
}

static void test_conf_size_units(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{ "4096", 4096 }, { "64k", 65536 }, { "64K", 65536 }, { "64KiB", 65536 },
		{ "16M", 16u << 20 }, { "16mb", 16u << 20 }, { "1G", 1u << 30 },
	};
	char text[64];
	struct tconf c;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text, "[server]\ncache = %s\n", cases[i].text);
		expect_ok(&c, text);
		assert_int_equal(c.cache, cases[i].bytes);
		conf_free(schema, &c);
	}
	expect_error("[server]\ncache = 2G\n", BSC_ECONF,
		     "test.conf:2: cache: value 2G out of range 4k..1G");
	expect_error("[server]\ncache = 4095\n", BSC_ECONF,
		     "test.conf:2: cache: value 4095 out of range 4k..1G");
	expect_error("[server]\ncache = 1T\n", BSC_ECONF,
		     "test.conf:2: cache: value 1T out of range 4k..1G");
	expect_error("[server]\ncache = 5X\n", BSC_ECONF,
		     "test.conf:2: cache: bad size '5X' (expected a number with k, M, G or T)");
	expect_error("[server]\ncache = M\n", BSC_ECONF,
		     "test.conf:2: cache: bad size 'M' (expected a number with k, M, G or T)");
	expect_error("[server]\ncache = 99999999999T\n", BSC_ECONF,
		     "test.conf:2: cache: bad size '99999999999T' (expected a number with k, M, G "
		     "or T)");
}

static void test_conf_string_and_lists(void **state)
{
	(void)state;
	struct tconf c;

	expect_ok(&c, "[server]\nname = two  words\ntags = x,y , z,,w\n");
	assert_string_equal(c.name, "two  words");
	assert_int_equal(c.tags.n, 4);
	assert_string_equal(c.tags.v[0], "x");
	assert_string_equal(c.tags.v[3], "w");
	conf_free(schema, &c);
	/* Empty values: an empty string, an empty list. */
	expect_ok(&c, "[server]\nname =\ntags =\nlisten =\n");
	assert_string_equal(c.name, "");
	assert_int_equal(c.tags.n, 0);
	assert_null(c.tags.v);
	assert_int_equal(c.listen.n, 0);
	conf_free(schema, &c);
	/* '#' and ';' inside a word are part of the value. */
	expect_ok(&c, "[server]\nname = a#b;c # comment\n");
	assert_string_equal(c.name, "a#b;c");
	conf_free(schema, &c);
	/* ':' and '=' may appear in a value. */
	expect_ok(&c, "[server]\nname = a:b=c\nlisten = ::1@53\n");
	assert_string_equal(c.name, "a:b=c");
	assert_string_equal(fmt_sa(&c.listen.v[0]), "::1@53");
	conf_free(schema, &c);
}

static void test_conf_list_continuation(void **state)
{
	(void)state;
	struct tconf c;

	expect_ok(&c, "[server]\ntags = a b\n  c, d\n\n  # a comment between\n\te\n"
		      "listen = 192.0.2.1\n   192.0.2.2@54\n\n   [::1]:55\nworkers = 2\n");
	assert_int_equal(c.tags.n, 5);
	assert_string_equal(c.tags.v[2], "c");
	assert_string_equal(c.tags.v[4], "e");
	assert_int_equal(c.listen.n, 3);
	assert_string_equal(fmt_sa(&c.listen.v[1]), "192.0.2.2@54");
	assert_string_equal(fmt_sa(&c.listen.v[2]), "::1@55");
	assert_int_equal(c.workers, 2);
	conf_free(schema, &c);
	/* A list emptied on the key line may still continue. */
	expect_ok(&c, "[server]\ntags =\n  only\n");
	assert_int_equal(c.tags.n, 1);
	assert_string_equal(c.tags.v[0], "only");
	conf_free(schema, &c);
	/* Scalars may not continue. */
	expect_error("[server]\nname = a\n  b\n", BSC_ECONF,
		     "test.conf:3: name: indented line continues a value, but only lists may "
		     "span lines (remove the indentation or write \"key = value\")");
	/* A continuation with a bad address names its own line. */
	expect_error("[server]\nlisten = 192.0.2.1\n  192.0.2.300\n", BSC_ECONF,
		     "test.conf:3: listen: bad address '192.0.2.300' (expected ADDR, ADDR@PORT, "
		     "[IPv6]:PORT or IPv4:PORT, numeric, port 0..65535)");
	/* No key above it. */
	expect_error("[server]\n  192.0.2.1\n", BSC_ECONF,
		     "test.conf:2: indented line without a key above it (expected \"key = "
		     "value\")");
	expect_error("  192.0.2.1\n", BSC_ECONF,
		     "test.conf:1: indented line without a key above it (expected \"key = "
		     "value\")");
	expect_error("[server]\ntags = a\n[log]\n  b\n", BSC_ECONF,
		     "test.conf:4: indented line without a key above it (expected \"key = "
		     "value\")");
}

static void test_conf_indentation_harmless(void **state)
{
	(void)state;
	struct tconf c;

	expect_ok(&c, "  [server]\n    workers = 5\n    name = x\n\t[log]\n\tsyslog = no\n");
	assert_int_equal(c.workers, 5);
	assert_string_equal(c.name, "x");
	assert_false(c.syslog);
	conf_free(schema, &c);
}

static void test_conf_comments(void **state)
{
	(void)state;
	struct tconf c;

	expect_ok(&c, "# first\n; second\n[server] # section comment\nworkers = 4 ; four\n"
		      "name = n # named\n   ; indented comment\n#workers = 9\n");
	assert_int_equal(c.workers, 4);
	assert_string_equal(c.name, "n");
	conf_free(schema, &c);
}

static void test_conf_addr_list_values(void **state)
{
	(void)state;
	struct tconf c;

	expect_ok(&c, "[server]\nlisten = 0.0.0.0@0, ::@0,[2001:db8::1]:853 10.0.0.1:5300\n");
	assert_int_equal(c.listen.n, 4);
	assert_string_equal(fmt_sa(&c.listen.v[0]), "0.0.0.0@0");
	assert_string_equal(fmt_sa(&c.listen.v[1]), "::@0");
	assert_string_equal(fmt_sa(&c.listen.v[2]), "2001:db8::1@853");
	assert_string_equal(fmt_sa(&c.listen.v[3]), "10.0.0.1@5300");
	conf_free(schema, &c);
	expect_error("[server]\nlisten = 127.0.0.1@65536\n", BSC_ECONF,
		     "test.conf:2: listen: bad address '127.0.0.1@65536' (expected ADDR, "
		     "ADDR@PORT, [IPv6]:PORT or IPv4:PORT, numeric, port 0..65535)");
	expect_error("[server]\nlisten = localhost@53\n", BSC_ECONF,
		     "test.conf:2: listen: bad address 'localhost@53' (expected ADDR, ADDR@PORT, "
		     "[IPv6]:PORT or IPv4:PORT, numeric, port 0..65535)");
	/* The old value survives a failed item. */
	struct tconf d;
	assert_int_equal(load(&d, "[server]\nlisten = 192.0.2.1 junk\n"), BSC_ECONF);
	assert_int_equal(d.listen.n, 1);
	assert_string_equal(fmt_sa(&d.listen.v[0]), "127.0.0.1@5353");
	conf_free(schema, &d);
}

static void test_conf_enum_and_loglevel(void **state)
{
	(void)state;
	struct tconf c;

	expect_ok(&c, "[server]\nmode = fast\nlevel = WARNING\n");
	assert_int_equal(c.mode, 0);
	assert_int_equal(c.level, LOG_WARNING);
	conf_free(schema, &c);
	expect_ok(&c, "[server]\nlevel = error\n");
	assert_int_equal(c.level, LOG_ERR);
	conf_free(schema, &c);
	expect_error("[server]\nmode = reckless\n", BSC_ECONF,
		     "test.conf:2: mode: bad value 'reckless' (expected one of: fast, safe, "
		     "paranoid)");
	expect_error("[server]\nlevel = loud\n", BSC_ECONF,
		     "test.conf:2: level: bad log level 'loud' (expected one of: error, warning, "
		     "notice, info, debug)");
	expect_error("[server]\nlevel = emerg\n", BSC_ECONF,
		     "test.conf:2: level: bad log level 'emerg' (expected one of: error, warning, "
		     "notice, info, debug)");
}

static void test_conf_structure_errors(void **state)
{
	(void)state;
	expect_error("[server]\n\n[nope]\nx = 1\n", BSC_ECONF,
		     "test.conf:3: unknown section [nope] (expected one of: [server], [log], "
		     "[zone])");
	expect_error("[ server ]\n", BSC_ECONF,
		     "test.conf:1: unknown section [ server ] (expected one of: [server], [log], "
		     "[zone])");
	expect_error("[]\n", BSC_ECONF,
		     "test.conf:1: unknown section [] (expected one of: [server], [log], [zone])");
	expect_error("[server]\nworkers = 2\nbogus = 1\n", BSC_ECONF,
		     "test.conf:3: unknown key 'bogus' in section [server]");
	expect_error("[log]\nworkers = 2\n", BSC_ECONF,
		     "test.conf:2: unknown key 'workers' in section [log]");
	expect_error("# x\nworkers = 2\n[server]\n", BSC_ECONF,
		     "test.conf:2: key 'workers' outside a section (put a [section] line above "
		     "it)");
	expect_error("[server]\nworkers = 2\n# c\nworkers = 3\n", BSC_ECONF,
		     "test.conf:4: duplicate key 'workers' in section [server] (first on line 2)");
	expect_error("[server]\nworkers = 2\n[log]\n[server]\n", BSC_ECONF,
		     "test.conf:4: section [server] appears twice (first on line 1)");
	expect_error("[server\nworkers = 2\n", BSC_ECONF,
		     "test.conf:1: section header without ']'");
	expect_error("[server] junk\n", BSC_ECONF,
		     "test.conf:1: text after ']' in the section header");
	expect_error("[server]\nworkers 2\n", BSC_ECONF,
		     "test.conf:2: expected \"key = value\" or \"[section]\", got 'workers 2'");
	expect_error("[server]\nworkers: 2\n", BSC_ECONF,
		     "test.conf:2: expected \"key = value\" or \"[section]\", got 'workers: 2'");
	expect_error("[server]\nname:x = 2\n", BSC_ECONF,
		     "test.conf:2: expected \"key = value\" or \"[section]\", got 'name:x = 2'");
	expect_error("[server]\n= 2\n", BSC_ECONF, "test.conf:2: missing key before '='");
	expect_error("[server]\nWorkers = 2\n", BSC_ECONF,
		     "test.conf:2: unknown key 'Workers' in section [server]");
	/* Only the first error is reported. */
	expect_error("[server]\nworkers = 0\nbogus = 1\n", BSC_ECONF,
		     "test.conf:2: workers: value 0 out of range 1..64");
}

static void test_conf_line_too_long(void **state)
{
	(void)state;
	char text[1024];
	struct tconf c;

	/* 199 characters fit (libinih's 200-byte buffer). */
	int n = snprintf(text, sizeof text, "[server]\nname = ");
	int pad = 199 - (int)strlen("name = ");
	memset(text + n, 'x', (size_t)pad);
	strcpy(text + n + pad, "\n");
	expect_ok(&c, text);
	assert_int_equal(strlen(c.name), (size_t)pad);
	conf_free(schema, &c);
	/* 200 do not. */
	memset(text + n, 'x', (size_t)pad + 1);
	strcpy(text + n + pad + 1, "\n");
	expect_error(text, BSC_ECONF,
		     "test.conf:2: line too long (200 characters without comments; at most 199): "
		     "continue a list on indented lines");
	/* Comments do not count. */
	n = snprintf(text, sizeof text, "[server]\nworkers = 3 # ");
	memset(text + n, 'c', 500);
	strcpy(text + n + 500, "\n");
	expect_ok(&c, text);
	assert_int_equal(c.workers, 3);
	conf_free(schema, &c);
}

static void test_conf_repeat_sections(void **state)
{
	(void)state;
	struct tconf c;
	char text[8192];
	size_t n = 0;

	/* Many elements: the array grows; each gets its defaults; the same key
	 * may appear once in each occurrence. */
	for (int i = 0; i < 37; i++)
		n += (size_t)snprintf(text + n, sizeof text - n,
				      "[zone]\norigin = %d.in-addr.arpa.\n%s", i,
				      i % 2 ? "ttl = 5m\nnotify = 192.0.2.1, 192.0.2.2@5300\n"
					    : "");
	expect_ok(&c, text);
	assert_int_equal(c.nzones, 37);
	for (int i = 0; i < 37; i++) {
		char want[32];
		snprintf(want, sizeof want, "%d.in-addr.arpa.", i);
		assert_string_equal(c.zones[i].origin, want);
		assert_true(c.zones[i].enabled);
		assert_int_equal(c.zones[i].ttl, i % 2 ? 300000 : 3600000);
		assert_int_equal(c.zones[i].notify.n, i % 2 ? 2 : 0);
	}
	assert_string_equal(fmt_sa(&c.zones[35].notify.v[1]), "192.0.2.2@5300");
	conf_free(schema, &c);
	/* An empty occurrence still adds an element with its defaults. */
	expect_ok(&c, "[zone]\n[zone]\norigin = x\n");
	assert_int_equal(c.nzones, 2);
	assert_null(c.zones[0].origin);
	assert_int_equal(c.zones[0].ttl, 3600000);
	conf_free(schema, &c);
	/* Duplicate detection is per occurrence. */
	expect_error("[zone]\norigin = a\n[zone]\norigin = b\nfile = f\norigin = c\n", BSC_ECONF,
		     "test.conf:6: duplicate key 'origin' in section [zone] (first on line 4)");
	/* Interleaved with other sections. */
	expect_ok(&c, "[zone]\norigin = a\n[server]\nworkers = 2\n[zone]\norigin = b\n");
	assert_int_equal(c.nzones, 2);
	assert_string_equal(c.zones[1].origin, "b");
	assert_int_equal(c.workers, 2);
	conf_free(schema, &c);
}

static void test_conf_set_overrides(void **state)
{
	(void)state;
	struct tconf c;

	fresh(&c);
	assert_int_equal(conf_load(schema, &c, CONF_DIR "/good.conf", err, sizeof err), 0);
	assert_int_equal(conf_set(schema, &c, "server", 0, "workers", "16", "command line", err,
				  sizeof err),
			 0);
	assert_int_equal(c.workers, 16);
	/* Paths from the command line stay as given. */
	assert_int_equal(conf_set(schema, &c, "server", 0, "dir", "rel/dir", "command line", err,
				  sizeof err),
			 0);
	assert_string_equal(c.dir, "rel/dir");
	/* A list is replaced, not extended. */
	assert_int_equal(conf_set(schema, &c, "server", 0, "listen", "[::1]:1", NULL, err,
				  sizeof err),
			 0);
	assert_int_equal(c.listen.n, 1);
	/* Repeat sections: an existing element, then a new one. */
	assert_int_equal(conf_set(schema, &c, "zone", 1, "ttl", "30s", "command line", err,
				  sizeof err),
			 0);
	assert_int_equal(c.zones[1].ttl, 30000);
	assert_int_equal(conf_set(schema, &c, "zone", 2, "origin", "3.in-addr.arpa.",
				  "command line", err, sizeof err),
			 0);
	assert_int_equal(c.nzones, 3);
	assert_string_equal(c.zones[2].origin, "3.in-addr.arpa.");
	assert_int_equal(c.zones[2].ttl, 3600000);
	/* Errors. */
	assert_int_equal(conf_set(schema, &c, "zone", 5, "origin", "x", "command line", err,
				  sizeof err),
			 BSC_ECONF);
	assert_string_equal(err, "command line: [zone] #5 does not exist (there are 3)");
	assert_int_equal(conf_set(schema, &c, "server", 0, "workers", "99", "command line", err,
				  sizeof err),
			 BSC_ECONF);
	assert_string_equal(err, "command line: [server] workers: value 99 out of range 1..64");
	assert_int_equal(c.workers, 16);
	assert_int_equal(conf_set(schema, &c, "servr", 0, "workers", "2", "-w", err, sizeof err),
			 BSC_ECONF);
	assert_string_equal(err, "-w: unknown section [servr]");
	assert_int_equal(conf_set(schema, &c, "server", 0, "wrkers", "2", "-w", err, sizeof err),
			 BSC_ECONF);
	assert_string_equal(err, "-w: unknown key 'wrkers' in section [server]");
	/* A failed append leaves no element behind. */
	assert_int_equal(conf_set(schema, &c, "zone", 3, "ttl", "forever", "command line", err,
				  sizeof err),
			 BSC_ECONF);
	assert_int_equal(c.nzones, 3);
	conf_free(schema, &c);
}

static void test_conf_print_help_table(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	conf_print_help(schema, f);
	fclose(f);
	assert_non_null(strstr(buf, "[server]  the server\n"));
	assert_non_null(strstr(buf, "[zone] (may repeat)  one per zone\n"));
	assert_non_null(strstr(buf, "  key "));
	/* One row per key with its type, default and range. */
	const char *row = strstr(buf, "  workers ");
	assert_non_null(row);
	assert_non_null(strstr(row, "number"));
	assert_non_null(strstr(row, "1..64"));
	assert_non_null(strstr(row, "worker threads"));
	row = strstr(buf, "  timeout ");
	assert_non_null(row);
	assert_non_null(strstr(row, "100ms..1d"));
	row = strstr(buf, "  mode ");
	assert_non_null(strstr(row, "fast|safe|paranoid"));
	row = strstr(buf, "  cache ");
	assert_non_null(strstr(row, "4k..1G"));
	free(buf);
}

/* Every allocation of conf_defaults + conf_load fails in turn: each run
 * returns BSC_ENOMEM and conf_free leaves nothing behind (LeakSanitizer). */
static void test_conf_load_alloc_torture(void **state)
{
	(void)state;
	long i;

	for (i = 0; i < 10000; i++) {
		struct tconf c;
		memset(&c, 0, sizeof c);
		mem_fail_after(i);
		int rc = conf_defaults(schema, &c);
		if (rc == 0)
			rc = conf_load(schema, &c, CONF_DIR "/good.conf", err, sizeof err);
		if (rc == 0)
			rc = conf_set(schema, &c, "zone", 2, "notify", "192.0.2.9 192.0.2.10",
				      "command line", err, sizeof err);
		mem_fail_after(-1);
		conf_free(schema, &c);
		if (rc == 0)
			break;
		if (rc != BSC_ENOMEM)
			fail_msg("allocation %ld: code %d: %s", i, rc, err);
	}
	assert_true(i > 20); /* the file needs many allocations */
	assert_true(i < 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_defaults_all_types),
		cmocka_unit_test(test_conf_load_good_file),
		cmocka_unit_test(test_conf_load_relative_paths),
		cmocka_unit_test(test_conf_load_bom_crlf),
		cmocka_unit_test(test_conf_load_missing_file),
		cmocka_unit_test(test_conf_load_file_error_line),
		cmocka_unit_test(test_conf_load_nul_byte),
		cmocka_unit_test(test_conf_bool_values),
		cmocka_unit_test(test_conf_uint_range),
		cmocka_unit_test(test_conf_duration_units),
		cmocka_unit_test(test_conf_size_units),
		cmocka_unit_test(test_conf_string_and_lists),
		cmocka_unit_test(test_conf_list_continuation),
		cmocka_unit_test(test_conf_indentation_harmless),
		cmocka_unit_test(test_conf_comments),
		cmocka_unit_test(test_conf_addr_list_values),
		cmocka_unit_test(test_conf_enum_and_loglevel),
		cmocka_unit_test(test_conf_structure_errors),
		cmocka_unit_test(test_conf_line_too_long),
		cmocka_unit_test(test_conf_repeat_sections),
		cmocka_unit_test(test_conf_set_overrides),
		cmocka_unit_test(test_conf_print_help_table),
		cmocka_unit_test(test_conf_load_alloc_torture),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
