/* tests/unit/authd/test_config.c — authd's config schema and flags: defaults,
 * a full file, range errors of every key, flags over the file (the merge main
 * uses: authd_flags_parse + authd_conf_build) and -z [ORIGIN=]FILE.
 * Single-threaded; files go to a fresh temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include "tests/helpers/tmpdir.h"
#include "authd/config.h"
#include "common/addr.h"
#include "common/err.h"

/* Write @text to test_tmpdir/@name; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
	static char path[512];
	tmpdir_path(path, sizeof path, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Parse a NULL-terminated argument list the way main does. */
static int parse(struct authd_flags *fl, char *err, size_t errlen, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;
	argv[argc++] = (char *)"backscope-authd";
	va_start(ap, errlen);
	for (;;) {
		char *a = va_arg(ap, char *);
		if (!a)
			break;
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;
	return authd_flags_parse(fl, argc, argv, err, errlen);
}

static void assert_listen(const struct authd_conf *c, size_t i, const char *want)
{
	char buf[SOCKADDR_STRLEN];
	assert_true(i < c->listen.n);
	assert_true(sockaddr_format(&c->listen.v[i], buf, sizeof buf) > 0);
	assert_string_equal(buf, want);
}

static void test_conf_defaults(void **state)
{
	struct authd_flags fl;
	struct authd_conf c;
	char err[512];
	(void)state;

	assert_int_equal(parse(&fl, err, sizeof err, "-z", "zones/10.in-addr.arpa.zone", NULL), 0);
	assert_int_equal(authd_conf_build(&c, &fl, err, sizeof err), 0);
	assert_int_equal(c.listen.n, 1);
	assert_listen(&c, 0, "127.0.0.1@5353");
	assert_int_equal(c.workers, 1);
	assert_true(c.user == NULL || c.user[0] == '\0');
	assert_int_equal(c.udp_max_payload, 1232);
	assert_int_equal(c.nsid_len, 0);
	assert_non_null(c.version_eff);
	assert_string_equal(c.version_eff, "backscope 0.1.0");
	assert_null(c.identity_eff);
	assert_int_equal(c.tcp_max_clients, 256);
	assert_int_equal(c.tcp_idle_timeout_ms, 10000);
	assert_int_equal(c.tcp_max_pipeline, 100);
	assert_true(c.check_zone_perms);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_int_equal(c.log_target, AUTHD_LOG_STDERR);
	assert_int_equal(c.stats_interval_ms, 60000);
	assert_string_equal(c.db, "/var/lib/backscope");
	assert_true(c.pidfile == NULL || c.pidfile[0] == '\0');
	assert_int_equal(c.n_zones, 1);
	assert_string_equal(c.zones[0].file, "zones/10.in-addr.arpa.zone");
	assert_true(c.zones[0].origin == NULL || c.zones[0].origin[0] == '\0');
	authd_conf_free(&c);
	authd_flags_free(&fl);
}

static const char full_conf[] =
	"# every key of authd\n"
	"[server]\n"
	"listen = 127.0.0.1@53 ::1@53\n"
	"workers = 4\n"
	"user = nobody\n"
	"udp_max_payload = 4096\n"
	"nsid = 0x6e7331\n"
	"version = off\n"
	"identity = ns1.example.net\n"
	"tcp_max_clients = 1000\n"
	"tcp_idle_timeout = 500ms\n"
	"tcp_max_pipeline = 7\n"
	"check_zone_perms = no\n"
	"log_level = debug\n"
	"log_target = syslog\n"
	"stats_interval = 0\n"
	"db = store\n"
	"pidfile = /run/backscope-authd.pid\n"
	"\n"
	"[zone]\n"
	"origin = 10.in-addr.arpa.\n"
	"file = zones/10.in-addr.arpa.zone\n"
	"[zone]\n"
	"file = /abs/8.b.d.0.1.0.0.2.ip6.arpa.zone\n";

static void test_conf_full_file(void **state)
{
	struct authd_flags fl;
	struct authd_conf c;
	char err[512], want[600];
	(void)state;

	const char *path = write_file("full.conf", full_conf);
	assert_int_equal(parse(&fl, err, sizeof err, "-c", path, NULL), 0);
	int rc = authd_conf_build(&c, &fl, err, sizeof err);
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(c.listen.n, 2);
	assert_listen(&c, 0, "127.0.0.1@53");
	assert_listen(&c, 1, "::1@53");
	assert_int_equal(c.workers, 4);
	assert_string_equal(c.user, "nobody");
	assert_int_equal(c.udp_max_payload, 4096);
	assert_int_equal(c.nsid_len, 3);
	assert_memory_equal(c.nsid_bin, "ns1", 3);
	assert_null(c.version_eff);
	assert_string_equal(c.identity_eff, "ns1.example.net");
	assert_int_equal(c.tcp_max_clients, 1000);
	assert_int_equal(c.tcp_idle_timeout_ms, 500);
	assert_int_equal(c.tcp_max_pipeline, 7);
	assert_false(c.check_zone_perms);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.log_target, AUTHD_LOG_SYSLOG);
	assert_int_equal(c.stats_interval_ms, 0);
	snprintf(want, sizeof want, "%s/store", test_tmpdir); /* relative to the file */
	assert_string_equal(c.db, want);
	assert_string_equal(c.pidfile, "/run/backscope-authd.pid");
	assert_int_equal(c.n_zones, 2);
	assert_string_equal(c.zones[0].origin, "10.in-addr.arpa.");
	snprintf(want, sizeof want, "%s/zones/10.in-addr.arpa.zone", test_tmpdir);
	assert_string_equal(c.zones[0].file, want);
	assert_true(c.zones[1].origin == NULL || c.zones[1].origin[0] == '\0');
	assert_string_equal(c.zones[1].file, "/abs/8.b.d.0.1.0.0.2.ip6.arpa.zone");
	authd_conf_free(&c);
	authd_flags_free(&fl);
}

struct bad_case {
	const char *line;   /* in [server] */
	const char *expect; /* in the error text */
};

static void test_conf_range_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ "listen = not-an-address", "listen" },
		{ "listen = 127.0.0.1@70000", "listen" },
		{ "workers = 0", "workers" },
		{ "workers = 65", "workers" },
		{ "workers = many", "workers" },
		{ "udp_max_payload = 511", "udp_max_payload" },
		{ "udp_max_payload = 4097", "udp_max_payload" },
		{ "tcp_max_clients = 0", "tcp_max_clients" },
		{ "tcp_max_clients = 65536", "tcp_max_clients" },
		{ "tcp_idle_timeout = 5ms", "tcp_idle_timeout" },
		{ "tcp_idle_timeout = 2h", "tcp_idle_timeout" },
		{ "tcp_idle_timeout = soon", "tcp_idle_timeout" },
		{ "tcp_max_pipeline = 0", "tcp_max_pipeline" },
		{ "tcp_max_pipeline = 65536", "tcp_max_pipeline" },
		{ "check_zone_perms = maybe", "check_zone_perms" },
		{ "log_level = loud", "log_level" },
		{ "log_target = file", "log_target" },
		{ "stats_interval = 2d", "stats_interval" },
		{ "nsid = 0xabc", "nsid" },
		{ "nsid = 0xzz", "nsid" },
		{ "colour = blue", "colour" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[512], err[512];
		struct authd_flags fl;
		struct authd_conf c;
		snprintf(text, sizeof text, "[server]\n%s\n[zone]\nfile = a.zone\n", cases[i].line);
		const char *path = write_file("bad.conf", text);
		assert_int_equal(parse(&fl, err, sizeof err, "-c", path, NULL), 0);
		int rc = authd_conf_build(&c, &fl, err, sizeof err);
		if (rc != BSC_ECONF)
			fail_msg("'%s' accepted (rc %d)", cases[i].line, rc);
		if (!strstr(err, cases[i].expect))
			fail_msg("'%s': error does not name the key: %s", cases[i].line, err);
		/* File errors name the file and line; nsid is checked after loading. */
		if (strncmp(cases[i].line, "nsid", 4) != 0 && !strstr(err, "bad.conf:2:"))
			fail_msg("'%s': error does not name file:line: %s", cases[i].line, err);
		authd_flags_free(&fl);
	}
}

static void test_conf_structure_errors(void **state)
{
	struct authd_flags fl;
	struct authd_conf c;
	char err[512];
	(void)state;

	/* No zones at all. */
	assert_int_equal(parse(&fl, err, sizeof err, NULL), 0);
	assert_int_equal(authd_conf_build(&c, &fl, err, sizeof err), BSC_ECONF);
	assert_non_null(strstr(err, "no zones"));
	authd_flags_free(&fl);

	/* A [zone] without file. */
	const char *path = write_file("nofile.conf", "[zone]\norigin = 10.in-addr.arpa.\n");
	assert_int_equal(parse(&fl, err, sizeof err, "-c", path, NULL), 0);
	assert_int_equal(authd_conf_build(&c, &fl, err, sizeof err), BSC_ECONF);
	assert_non_null(strstr(err, "file is missing"));
	authd_flags_free(&fl);

	/* Unknown section. */
	path = write_file("sect.conf", "[detector]\nwindow = 1h\n");
	assert_int_equal(parse(&fl, err, sizeof err, "-c", path, NULL), 0);
	assert_int_equal(authd_conf_build(&c, &fl, err, sizeof err), BSC_ECONF);
	assert_non_null(strstr(err, "sect.conf:1:"));
	authd_flags_free(&fl);

	/* Missing config file. */
	snprintf(err, sizeof err, "%s/none.conf", test_tmpdir);
	char missing[512];
	snprintf(missing, sizeof missing, "%s", err);
	assert_int_equal(parse(&fl, err, sizeof err, "-c", missing, NULL), 0);
	assert_true(authd_conf_build(&c, &fl, err, sizeof err) < 0);
	assert_non_null(strstr(err, "none.conf"));
	authd_flags_free(&fl);

	/* A bad -l names the command line. */
	assert_int_equal(parse(&fl, err, sizeof err, "-z", "a.zone", "-l", "localhost@53", NULL),
			 0);
	assert_int_equal(authd_conf_build(&c, &fl, err, sizeof err), BSC_ECONF);
	assert_non_null(strstr(err, "command line"));
	authd_flags_free(&fl);

	/* A bad -w too. */
	assert_int_equal(parse(&fl, err, sizeof err, "-z", "a.zone", "-w", "65", NULL), 0);
	assert_int_equal(authd_conf_build(&c, &fl, err, sizeof err), BSC_ECONF);
	assert_non_null(strstr(err, "workers"));
	authd_flags_free(&fl);
}

static void test_conf_flags_override_file(void **state)
{
	struct authd_flags fl;
	struct authd_conf c;
	char err[512];
	(void)state;

	const char *path = write_file("over.conf", "[server]\n"
						   "listen = 10.0.0.1@53 ::@53\n"
						   "workers = 2\n"
						   "db = filedb\n"
						   "user = daemon\n"
						   "log_level = error\n"
						   "[zone]\n"
						   "file = one.zone\n"
						   "[zone]\n"
						   "origin = 2.10.in-addr.arpa.\n"
						   "file = two.zone\n");
	assert_int_equal(parse(&fl, err, sizeof err, "-c", path, "-l", "127.0.0.1@0", "-l",
			       "::1@5399", "-z", "10.in-addr.arpa=/z/ten.zone", "-z",
			       "rel/x=y.zone", "-w", "3", "--db", "/tmp/db", "--user", "nobody",
			       "--pidfile", "/tmp/p.pid", "-d", "--ready-fd", "3", NULL),
			 0);
	assert_int_equal(fl.ready_fd, 3);
	assert_int_equal(authd_conf_build(&c, &fl, err, sizeof err), 0);
	assert_int_equal(c.listen.n, 2); /* replaced, not appended */
	assert_listen(&c, 0, "127.0.0.1@0");
	assert_listen(&c, 1, "::1@5399");
	assert_int_equal(c.n_zones, 2); /* replaced, not appended */
	assert_string_equal(c.zones[0].origin, "10.in-addr.arpa");
	assert_string_equal(c.zones[0].file, "/z/ten.zone");
	assert_true(c.zones[1].origin == NULL || c.zones[1].origin[0] == '\0');
	assert_string_equal(c.zones[1].file, "rel/x=y.zone");
	assert_int_equal(c.workers, 3);
	assert_string_equal(c.db, "/tmp/db");
	assert_string_equal(c.user, "nobody");
	assert_string_equal(c.pidfile, "/tmp/p.pid");
	assert_int_equal(c.log_level, LOG_DEBUG);
	authd_conf_free(&c);
	authd_flags_free(&fl);

	/* Without flags the file's values stand. */
	assert_int_equal(parse(&fl, err, sizeof err, "-c", path, "-q", NULL), 0);
	assert_int_equal(authd_conf_build(&c, &fl, err, sizeof err), 0);
	assert_listen(&c, 0, "10.0.0.1@53");
	assert_listen(&c, 1, "::@53");
	assert_int_equal(c.workers, 2);
	assert_string_equal(c.user, "daemon");
	assert_int_equal(c.n_zones, 2);
	assert_string_equal(c.zones[1].origin, "2.10.in-addr.arpa.");
	assert_int_equal(c.log_level, LOG_WARNING);
	authd_conf_free(&c);
	authd_flags_free(&fl);
}

static void test_zone_arg_split(void **state)
{
	char origin[256];
	const char *file = NULL;
	(void)state;

	assert_int_equal(authd_zone_arg_split("a.zone", origin, sizeof origin, &file), 0);
	assert_string_equal(origin, "");
	assert_string_equal(file, "a.zone");
	assert_int_equal(authd_zone_arg_split("10.in-addr.arpa.=zones/a.zone", origin,
					      sizeof origin, &file),
			 0);
	assert_string_equal(origin, "10.in-addr.arpa.");
	assert_string_equal(file, "zones/a.zone");
	/* '=' after a '/' belongs to the path. */
	assert_int_equal(authd_zone_arg_split("dir/a=b.zone", origin, sizeof origin, &file), 0);
	assert_string_equal(origin, "");
	assert_string_equal(file, "dir/a=b.zone");
	/* Only the first '=' splits. */
	assert_int_equal(authd_zone_arg_split("o=f=g", origin, sizeof origin, &file), 0);
	assert_string_equal(origin, "o");
	assert_string_equal(file, "f=g");
	assert_int_equal(authd_zone_arg_split("=a.zone", origin, sizeof origin, &file),
			 BSC_EINVAL);
	assert_int_equal(authd_zone_arg_split("origin=", origin, sizeof origin, &file),
			 BSC_EINVAL);
	assert_int_equal(authd_zone_arg_split("", origin, sizeof origin, &file), BSC_EINVAL);
	char small[4];
	assert_int_equal(authd_zone_arg_split("toolong=f", small, sizeof small, &file),
			 BSC_EINVAL);

	/* Through the flags: a bad -z is a command-line error. */
	struct authd_flags fl;
	struct authd_conf c;
	char err[512];
	assert_int_equal(parse(&fl, err, sizeof err, "-z", "=x", NULL), 0);
	assert_int_equal(authd_conf_build(&c, &fl, err, sizeof err), BSC_ECONF);
	assert_non_null(strstr(err, "-z"));
	authd_flags_free(&fl);
}

static void test_flags_parse_errors(void **state)
{
	struct authd_flags fl;
	char err[512];
	(void)state;

	assert_int_equal(parse(&fl, err, sizeof err, "-x", NULL), BSC_EINVAL);
	assert_non_null(strstr(err, "-x"));
	assert_int_equal(parse(&fl, err, sizeof err, "--frobnicate", NULL), BSC_EINVAL);
	assert_non_null(strstr(err, "--frobnicate"));
	assert_int_equal(parse(&fl, err, sizeof err, "-c", NULL), BSC_EINVAL);
	assert_non_null(strstr(err, "needs an argument"));
	assert_int_equal(parse(&fl, err, sizeof err, "--ready-fd", "three", NULL), BSC_EINVAL);
	assert_non_null(strstr(err, "--ready-fd"));
	assert_int_equal(parse(&fl, err, sizeof err, "-z", "a.zone", "extra", NULL), BSC_EINVAL);
	assert_non_null(strstr(err, "extra"));

	assert_int_equal(parse(&fl, err, sizeof err, "-n", "--help", "--help-config", "-V",
			       "--workers", "8", NULL),
			 0);
	assert_true(fl.check);
	assert_true(fl.help);
	assert_true(fl.help_config);
	assert_true(fl.version);
	assert_string_equal(fl.workers, "8");
	assert_int_equal(fl.ready_fd, -1);
	assert_int_equal(fl.log_level, -1);
	authd_flags_free(&fl);
}

static void test_conf_nsid_forms(void **state)
{
	struct authd_conf c;
	char err[256];
	(void)state;

	memset(&c, 0, sizeof c);
	struct bsc_sockaddr sa;
	struct authd_zone_conf z = { .origin = NULL, .file = (char *)"a.zone" };
	assert_int_equal(sockaddr_parse(&sa, "127.0.0.1@53", 53), 0);
	c.listen.n = 1;
	c.listen.v = &sa;
	c.zones = &z;
	c.n_zones = 1;
	c.nsid = (char *)"ns1.example";
	c.version = (char *)"";
	c.identity = (char *)"id";
	assert_int_equal(authd_conf_check(&c, err, sizeof err), 0);
	assert_int_equal(c.nsid_len, 11);
	assert_memory_equal(c.nsid_bin, "ns1.example", 11);
	assert_null(c.version_eff);
	assert_string_equal(c.identity_eff, "id");
	c.nsid = (char *)"0XdeadBEEF";
	c.version = (char *)"OFF";
	assert_int_equal(authd_conf_check(&c, err, sizeof err), 0);
	assert_int_equal(c.nsid_len, 4);
	assert_memory_equal(c.nsid_bin, "\xde\xad\xbe\xef", 4);
	assert_null(c.version_eff);
	char big[AUTHD_NSID_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	c.nsid = big;
	assert_int_equal(authd_conf_check(&c, err, sizeof err), BSC_ECONF);
	assert_non_null(strstr(err, "nsid"));
	c.nsid = NULL;
	assert_int_equal(authd_conf_check(&c, err, sizeof err), 0);
	assert_int_equal(c.nsid_len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_conf_full_file),
		cmocka_unit_test(test_conf_range_errors),
		cmocka_unit_test(test_conf_structure_errors),
		cmocka_unit_test(test_conf_flags_override_file),
		cmocka_unit_test(test_zone_arg_split),
		cmocka_unit_test(test_flags_parse_errors),
		cmocka_unit_test(test_conf_nsid_forms),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
