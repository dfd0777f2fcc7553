/* tests/unit/tools/test_cli.c — the CLI plumbing (tools/cli.c): duration,
 * time and address parsing, RFC 3339 formatting, table alignment, the UTF-8
 * width against a byte loop; and the commands run in-process against a store
 * built through agg/store: the JSON shapes and values of status, top and
 * originator, their usage errors and exit codes, and ingest of event-log
 * segments (idempotence, --force, damage reported with its offset).
 * Single-threaded cmocka program; a fresh folder per store test inside the
 * program's temporary folder (tests/helpers/tmpdir.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/helpers/tmpdir.h"
#include "common/agg.h"
#include "common/err.h"
#include "common/evlog.h"
#include "common/log.h"
#include "common/revname.h"
#include "common/store.h"
#include "tools/cli.h"
#include "tools/cmds.h"
#include "tools/digest.h"

#define T0_S 1794999600ull /* 2026-11-18T11:00:00Z, an hour boundary */
#define NS 1000000000ull

/* ---- parsing and formatting ---- */

static void test_duration(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = { { "90", 90 },       { "90s", 90 },     { "15m", 900 },    { "2h", 7200 },
		     { "1d", 86400 },    { "1w", 604800 },  { "1h30m", 5400 }, { "1d12h", 129600 },
		     { "3600s", 3600 } };
	static const char *const bad[] = { "", "0", "0s", "abc", "1x", "h", "1h30", "-5", "1.5h",
					   "99999999999999999999", "40000w", "1 h" };
	uint64_t v;
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		v = 0;
		assert_int_equal(cli_parse_duration(good[i].s, &v), 0);
		assert_int_equal(v, good[i].v);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(cli_parse_duration(bad[i], &v), BSC_EINVAL);
	assert_string_equal(cli_duration_format(86400, buf, sizeof buf), "1d");
	assert_string_equal(cli_duration_format(5400, buf, sizeof buf), "1h30m");
	assert_string_equal(cli_duration_format(604800, buf, sizeof buf), "1w");
	assert_string_equal(cli_duration_format(864000, buf, sizeof buf), "10d");
	assert_string_equal(cli_duration_format(61, buf, sizeof buf), "1m1s");
	/* round trip */
	for (uint64_t s = 1; s < 200000; s += 997) {
		assert_int_equal(cli_parse_duration(cli_duration_format(s, buf, sizeof buf), &v), 0);
		assert_int_equal(v, s);
	}
}

static void test_time(void **state)
{
	uint64_t v;
	char buf[CLI_TIME_LEN];

	(void)state;
	assert_int_equal(cli_parse_time("2026-11-18T11:00:00Z", 0, &v), 0);
	assert_int_equal(v, T0_S);
	assert_int_equal(cli_parse_time("2026-11-18t11:00:00z", 0, &v), 0);
	assert_int_equal(v, T0_S);
	assert_int_equal(cli_parse_time("2026-11-18 13:00:00+02:00", 0, &v), 0);
	assert_int_equal(v, T0_S);
	assert_int_equal(cli_parse_time("2026-11-18T10:30:00.999-00:30", 0, &v), 0);
	assert_int_equal(v, T0_S);
	assert_int_equal(cli_parse_time("2026-11-18T11:00Z", 0, &v), 0);
	assert_int_equal(v, T0_S);
	assert_int_equal(cli_parse_time("2026-11-18", 0, &v), 0);
	assert_int_equal(v, T0_S - 11 * 3600);
	assert_int_equal(cli_parse_time("@12345", 0, &v), 0);
	assert_int_equal(v, 12345);
	assert_int_equal(cli_parse_time("now", 777, &v), 0);
	assert_int_equal(v, 777);
	assert_int_equal(cli_parse_time("2024-02-29", 0, &v), 0);
	static const char *const bad[] = { "",
					   "2026-13-01",
					   "2025-02-29",
					   "2026-11-18T11:00:00",
					   "2026-11-18T25:00:00Z",
					   "2026-11-18T11:00:00Zjunk",
					   "2026/11/18",
					   "1969-12-31",
					   "@",
					   "@-1",
					   "yesterday",
					   "2026-11-18T11:00:00.Z" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(cli_parse_time(bad[i], 0, &v), BSC_EINVAL);

	assert_string_equal(cli_time_format(0, false, buf, sizeof buf), "1970-01-01T00:00:00Z");
	assert_string_equal(cli_time_format(T0_S * NS + 123456789, false, buf, sizeof buf),
			    "2026-11-18T11:00:00Z");
	assert_string_equal(cli_time_format(T0_S * NS + 123456789, true, buf, sizeof buf),
			    "2026-11-18T11:00:00.123Z");
	assert_string_equal(cli_time_format(951782400ull * NS, true, buf, sizeof buf),
			    "2000-02-29T00:00:00.000Z");
	/* formatting and parsing agree */
	for (uint64_t s = 0; s < 4000000000ull; s += 98765431) {
		assert_int_equal(cli_parse_time(cli_time_format(s * NS, true, buf, sizeof buf), 0,
						&v), 0);
		assert_int_equal(v, s);
	}
}

static void test_addr_and_numbers(void **state)
{
	struct bsc_addr a;
	char buf[ADDR_STRLEN];
	uint64_t v;

	(void)state;
	assert_int_equal(cli_parse_addr("10.20.1.7", &a), 0);
	assert_string_equal(cli_addr_format(&a, buf, sizeof buf), "10.20.1.7");
	assert_int_equal(cli_parse_addr("7.1.20.10.in-addr.arpa.", &a), 0);
	assert_string_equal(cli_addr_format(&a, buf, sizeof buf), "10.20.1.7");
	assert_int_equal(cli_parse_addr("2001:db8::1", &a), 0);
	assert_string_equal(cli_addr_format(&a, buf, sizeof buf), "2001:db8::1");
	assert_int_equal(cli_parse_addr("10.0.0.0/8", &a), BSC_EINVAL);
	assert_int_equal(cli_parse_addr("1.20.10.in-addr.arpa", &a), BSC_EINVAL);
	assert_int_equal(cli_parse_addr("example.com", &a), BSC_EINVAL);
	assert_int_equal(cli_parse_addr("", &a), BSC_EINVAL);

	assert_int_equal(cli_parse_uint("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cli_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(cli_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), BSC_EINVAL);
	assert_int_equal(cli_parse_uint("11", 0, 10, &v), BSC_EINVAL);
	assert_int_equal(cli_parse_uint("-1", 0, 10, &v), BSC_EINVAL);
	assert_int_equal(cli_parse_uint("1a", 0, 10, &v), BSC_EINVAL);
	assert_string_equal(cli_bytes_format(512, buf, sizeof buf), "512 B");
	assert_string_equal(cli_bytes_format(3 << 20, buf, sizeof buf), "3.0 MiB");
}

static char *capture_table(const struct cli_table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	cli_table_print(t, f);
	fclose(f);
	return text;
}

static void test_table(void **state)
{
	static const char *const hdr[] = { "name", "count", "note" };
	static const enum cli_align al[] = { CLI_LEFT, CLI_RIGHT, CLI_LEFT };
	struct cli_table *t = cli_table_new(3, hdr, al);
	char *text;

	(void)state;
	assert_non_null(t);
	cli_table_add(t, "a");
	cli_table_add_u64(t, 5);
	cli_table_add(t, "x");
	cli_table_add(t, "longer name");
	cli_table_add_u64(t, 123456);
	cli_table_add(t, "");
	cli_table_add(t, "é");
	cli_table_addf(t, "%d", 42);
	cli_table_add(t, "last");
	assert_int_equal(cli_table_rows(t), 3);
	text = capture_table(t);
	assert_string_equal(text, "name          count  note\n"
				  "a                 5  x\n"
				  "longer name  123456\n"
				  "é                42  last\n");
	free(text);
	cli_table_free(t);

	/* no header, a short last row */
	t = cli_table_new(2, NULL, NULL);
	cli_table_add(t, "key");
	cli_table_add(t, "v");
	cli_table_add(t, "k");
	text = capture_table(t);
	assert_string_equal(text, "key  v\nk\n");
	free(text);
	cli_table_free(t);
}

/* Code points, not bytes: two-, three- and four-byte characters count once;
 * a lone continuation byte does not count. */
static void test_text_width(void **state)
{
	static const char mixed[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x86\x92 \xf0\x9f\x99\x82";

	(void)state;
	assert_int_equal(cli_text_width("", 0), 0);
	assert_int_equal(cli_text_width(mixed, sizeof mixed - 1), 15);
	assert_int_equal(cli_text_width("a\x80" "b", 3), 2);
	assert_int_equal(cli_text_width("\xc3\xa9", 1), 1);
}

static void test_sha256(void **state)
{
	uint8_t d[DIGEST_LEN];
	char hex[2 * DIGEST_LEN + 1];
	struct digest h;

	(void)state;
	digest_init(&h);
	digest_update(&h, "abc", 3);
	digest_final(&h, d);
	digest_hex(d, sizeof d, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 1,000,000 'a' in uneven pieces */
	char a[777];
	memset(a, 'a', sizeof a);
	digest_init(&h);
	size_t left = 1000000;
	while (left) {
		size_t n = left < sizeof a ? left : sizeof a;
		digest_update(&h, a, n);
		left -= n;
	}
	digest_final(&h, d);
	digest_hex(d, sizeof d, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* ---- commands against a store ---- */

static int count_cb_test(void *ctx, const char *name, const char *value)
{
	assert_true(strncmp(name, "ingest/", 7) == 0);
	assert_non_null(value);
	(*(uint64_t *)ctx)++;
	return 0;
}

struct tctx {
	char dir[256];
	char db[300];
	char *out, *err;
	size_t outlen, errlen;
	json_object *json;
};

/* A fresh, empty folder of its own for each test, inside the program's
 * temporary folder (made and removed by tmpdir_setup/tmpdir_teardown). */
static int setup(void **state)
{
	struct tctx *t = calloc(1, sizeof *t);

	if (!t)
		return -1;
	if (tmpdir_fresh(t->dir, sizeof t->dir) != 0) {
		free(t);
		return -1;
	}
	snprintf(t->db, sizeof t->db, "%s/db", t->dir);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tctx *t = *state;
	int rc = tmpdir_remove(t->dir);

	free(t->out);
	free(t->err);
	if (t->json)
		json_object_put(t->json);
	free(t);
	return rc;
}

static struct query_event event(uint64_t time_ns, const char *querier, const char *qname,
				uint16_t qtype, uint8_t rcode)
{
	struct query_event ev;

	memset(&ev, 0, sizeof ev);
	ev.time_ns = time_ns;
	assert_int_equal(addr_parse(&ev.querier, querier, false), 0);
	ev.querier_port = 5353;
	ev.qtype = qtype;
	ev.rcode = rcode;
	revname_parse_text(qname, &ev.orig);
	return ev;
}

/* The fixture: two buckets.  10.20.1.7 is asked by q1 x3 (one NXDOMAIN) and
 * q2 (IPv6) x1 in bucket 0, by q1 x1 and q3 x2 in bucket 1: 7 queries, 3
 * distinct queriers; 2001:db8::1 by q1 once in bucket 1; plus one partial
 * name and one qtype A (not aggregated). */
static const struct {
	uint64_t off_s;
	const char *querier, *qname;
	uint16_t qtype;
	uint8_t rcode;
} fixture[] = {
	{ 10, "192.0.2.1", "7.1.20.10.in-addr.arpa", 12, 0 },
	{ 20, "192.0.2.1", "7.1.20.10.in-addr.arpa", 12, 0 },
	{ 30, "192.0.2.1", "7.1.20.10.in-addr.arpa", 12, 3 },
	{ 700, "2001:db8:ffff::2", "7.1.20.10.in-addr.arpa", 12, 0 },
	{ 3600 + 5, "192.0.2.1", "7.1.20.10.in-addr.arpa", 12, 0 },
	{ 3600 + 6, "192.0.2.3", "7.1.20.10.in-addr.arpa", 12, 0 },
	{ 3600 + 3000, "192.0.2.3", "7.1.20.10.in-addr.arpa", 12, 0 },
	{ 3600 + 7, "192.0.2.1",
	  "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", 12, 0 },
	{ 3600 + 8, "192.0.2.1", "1.20.10.in-addr.arpa", 2, 0 },
	{ 3600 + 9, "192.0.2.1", "7.1.20.10.in-addr.arpa", 1, 0 },
};
#define FIXTURE_N (sizeof fixture / sizeof fixture[0])

static void build_store(struct tctx *t)
{
	struct store *s = NULL;
	struct agg *a = NULL;

	assert_int_equal(store_open(&s, t->db, NULL), 0);
	assert_int_equal(agg_new(&a, NULL), 0);
	for (size_t i = 0; i < FIXTURE_N; i++) {
		struct query_event ev = event((T0_S + fixture[i].off_s) * NS, fixture[i].querier,
					      fixture[i].qname, fixture[i].qtype, fixture[i].rcode);
		assert_true(agg_add(a, &ev) >= 0);
	}
	assert_int_equal(agg_flush(a, s, NULL), 0);
	assert_int_equal(store_set_ttls(s, 3600, 900), 0);
	agg_free(a);
	store_close(s);
}

/* Run a command in-process with stdout/stderr captured; returns its status. */
static int run(struct tctx *t, const struct cli_command *c, const char *db, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	FILE *out, *err;

	free(t->out);
	free(t->err);
	t->out = t->err = NULL;
	if (t->json) {
		json_object_put(t->json);
		t->json = NULL;
	}
	out = open_memstream(&t->out, &t->outlen);
	err = open_memstream(&t->err, &t->errlen);
	assert_non_null(out);
	assert_non_null(err);
	struct cli_global g = { .db = db, .out = out, .err = err };
	argv[argc++] = (char *)c->name;
	va_start(ap, db);
	for (const char *a; argc < 31 && (a = va_arg(ap, const char *));)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	int rc = c->run(&g, argc, argv);
	fclose(out);
	fclose(err);
	if (t->out && (t->out[0] == '{' || t->out[0] == '['))
		t->json = json_tokener_parse(t->out);
	return rc;
}

static json_object *member(json_object *o, const char *key, json_type type)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("JSON member '%s' missing", key);
	if (!json_object_is_type(v, type))
		fail_msg("JSON member '%s' has type %s, want %s", key,
			 json_type_to_name(json_object_get_type(v)), json_type_to_name(type));
	return v;
}

static uint64_t member_u64(json_object *o, const char *key)
{
	return json_object_get_uint64(member(o, key, json_type_int));
}

static const char *member_str(json_object *o, const char *key)
{
	return json_object_get_string(member(o, key, json_type_string));
}

static void test_status_json(void **state)
{
	struct tctx *t = *state;

	build_store(t);
	assert_int_equal(run(t, &cmd_status, t->db, "--json", NULL), CLI_EXIT_OK);
	assert_non_null(t->json);
	json_object *o = t->json;
	assert_string_equal(member_str(o, "store"), t->db);
	assert_int_equal(member_u64(o, "schema"), STORE_SCHEMA_VERSION);
	assert_int_equal(member_u64(o, "bucket_len"), 3600);
	assert_int_equal(member_u64(o, "bin_len"), 600);
	assert_int_equal(member_u64(o, "buckets"), 2);
	assert_string_equal(member_str(o, "first_bucket"), "2026-11-18T11:00:00.000Z");
	assert_string_equal(member_str(o, "last_bucket"), "2026-11-18T12:00:00.000Z");
	assert_int_equal(member_u64(o, "events"), FIXTURE_N);
	assert_int_equal(member_u64(o, "dropped"), 0);
	assert_int_equal(member_u64(o, "ptr"), 8);
	assert_int_equal(member_u64(o, "partial"), 1);
	assert_int_equal(member_u64(o, "other_qtype"), 1);
	assert_int_equal(member_u64(o, "other_name"), 0);
	assert_int_equal(member_u64(o, "invalid"), 0);
	assert_int_equal(member_u64(o, "originators"), 2);
	assert_int_equal(member_u64(o, "originator_rows"), 3);
	assert_int_equal(member_u64(o, "pairs"), 5);
	assert_int_equal(member_u64(o, "flushes"), 1);
	member_str(o, "last_flush");
	member_str(o, "created");
	assert_int_equal(member_u64(o, "ptr_ttl"), 3600);
	assert_int_equal(member_u64(o, "neg_ttl"), 900);
	assert_true(member_u64(o, "map_size") >= member_u64(o, "map_used"));
	assert_int_equal(member_u64(o, "ingested_files"), 0);

	/* the table: every line's value column lines up */
	assert_int_equal(run(t, &cmd_status, t->db, NULL), CLI_EXIT_OK);
	assert_non_null(strstr(t->out, "\nevents" "             10  every query event counted\n"));
	assert_non_null(strstr(t->out, "\noriginators" "         2  distinct, all buckets\n"));
	assert_non_null(strstr(t->out, "\nbucket length" "    3600  s, bins of 600 s\n"));
}

static void test_top_json(void **state)
{
	struct tctx *t = *state;

	build_store(t);
	assert_int_equal(run(t, &cmd_top, t->db, "--json", NULL), CLI_EXIT_OK);
	assert_non_null(t->json);
	assert_true(json_object_is_type(t->json, json_type_array));
	assert_int_equal(json_object_array_length(t->json), 2);
	json_object *e = json_object_array_get_idx(t->json, 0);
	assert_string_equal(member_str(e, "address"), "10.20.1.7");
	assert_int_equal(member_u64(e, "queries"), 7);
	assert_int_equal(member_u64(e, "queriers"), 3);
	assert_int_equal(member_u64(e, "nxdomain"), 1);
	assert_int_equal(member_u64(e, "buckets"), 2);
	assert_string_equal(member_str(e, "first_seen"), "2026-11-18T11:00:10.000Z");
	assert_string_equal(member_str(e, "last_seen"), "2026-11-18T12:50:00.000Z");
	e = json_object_array_get_idx(t->json, 1);
	assert_string_equal(member_str(e, "address"), "2001:db8::1");
	assert_int_equal(member_u64(e, "queriers"), 1);

	/* the window: the newest bucket only; pinned with --until; --limit */
	assert_int_equal(run(t, &cmd_top, t->db, "--json", "--window", "1h", NULL), CLI_EXIT_OK);
	e = json_object_array_get_idx(t->json, 0);
	assert_int_equal(member_u64(e, "queries"), 3);
	assert_int_equal(member_u64(e, "queriers"), 2);
	assert_int_equal(run(t, &cmd_top, t->db, "--json", "--window", "1h", "--until",
			     "2026-11-18T12:00:00Z", NULL), CLI_EXIT_OK);
	assert_int_equal(json_object_array_length(t->json), 1);
	e = json_object_array_get_idx(t->json, 0);
	assert_int_equal(member_u64(e, "queries"), 4);
	assert_int_equal(member_u64(e, "queriers"), 2);
	assert_int_equal(run(t, &cmd_top, t->db, "--json", "--limit", "1", "--window", "all",
			     NULL), CLI_EXIT_OK);
	assert_int_equal(json_object_array_length(t->json), 1);
	assert_int_equal(run(t, &cmd_top, t->db, "--json", "--limit", "0", NULL), CLI_EXIT_OK);
	assert_int_equal(json_object_array_length(t->json), 2);
	assert_int_equal(run(t, &cmd_top, t->db, "--json", "--until", "2020-01-01", NULL),
			 CLI_EXIT_OK);
	assert_int_equal(json_object_array_length(t->json), 0);

	/* table: header and right-aligned numbers */
	assert_int_equal(run(t, &cmd_top, t->db, NULL), CLI_EXIT_OK);
	assert_non_null(strstr(t->out, "rank  originator   queriers  queries  nxdomain"));
	assert_non_null(strstr(t->out, "   1  10.20.1.7           3        7         1"));
	assert_non_null(strstr(t->out, "   2  2001:db8::1         1        1         0"));
}

static void test_originator_json(void **state)
{
	struct tctx *t = *state;

	build_store(t);
	assert_int_equal(run(t, &cmd_originator, t->db, "10.20.1.7", "--json", NULL), CLI_EXIT_OK);
	assert_non_null(t->json);
	json_object *o = t->json;
	assert_string_equal(member_str(o, "address"), "10.20.1.7");
	assert_int_equal(member_u64(o, "queries"), 7);
	assert_int_equal(member_u64(o, "queriers"), 3);
	assert_int_equal(member_u64(o, "nxdomain"), 1);
	assert_string_equal(member_str(o, "first_seen"), "2026-11-18T11:00:10.000Z");
	assert_string_equal(member_str(o, "last_seen"), "2026-11-18T12:50:00.000Z");
	json_object *w = member(o, "window", json_type_object);
	assert_string_equal(member_str(w, "until"), "2026-11-18T13:00:00.000Z");
	json_object *b = member(o, "buckets", json_type_array);
	assert_int_equal(json_object_array_length(b), 2);
	json_object *b0 = json_object_array_get_idx(b, 0);
	assert_string_equal(member_str(b0, "start"), "2026-11-18T11:00:00.000Z");
	assert_int_equal(member_u64(b0, "queries"), 4);
	assert_int_equal(member_u64(b0, "queriers"), 2);
	assert_int_equal(member_u64(b0, "nxdomain"), 1);
	assert_string_equal(member_str(b0, "bins"), "110000");
	json_object *b1 = json_object_array_get_idx(b, 1);
	assert_int_equal(member_u64(b1, "queries"), 3);
	assert_string_equal(member_str(b1, "bins"), "100001");
	json_object *ql = member(o, "querier_list", json_type_array);
	assert_int_equal(json_object_array_length(ql), 3);
	/* by queries, most first: 192.0.2.1 (4), 192.0.2.3 (2), 2001:db8:ffff::2 (1) */
	json_object *q = json_object_array_get_idx(ql, 0);
	assert_string_equal(member_str(q, "address"), "192.0.2.1");
	assert_int_equal(member_u64(q, "queries"), 4);
	assert_int_equal(member_u64(q, "buckets"), 2);
	q = json_object_array_get_idx(ql, 1);
	assert_string_equal(member_str(q, "address"), "192.0.2.3");
	assert_int_equal(member_u64(q, "queries"), 2);
	q = json_object_array_get_idx(ql, 2);
	assert_string_equal(member_str(q, "address"), "2001:db8:ffff::2");
	assert_int_equal(member_u64(q, "queries"), 1);

	/* by reverse name, with --limit */
	assert_int_equal(run(t, &cmd_originator, t->db, "--limit", "1", "--json",
			     "7.1.20.10.in-addr.arpa", NULL), CLI_EXIT_OK);
	assert_int_equal(json_object_array_length(member(t->json, "querier_list",
							 json_type_array)), 1);
	assert_int_equal(member_u64(t->json, "queriers"), 3);
	/* table */
	assert_int_equal(run(t, &cmd_originator, t->db, "10.20.1.7", NULL), CLI_EXIT_OK);
	assert_non_null(strstr(t->out, "querier           queries  buckets"));
	assert_non_null(strstr(t->out, "192.0.2.1               4        2"));
	/* unknown originator: exit 1, message naming it */
	assert_int_equal(run(t, &cmd_originator, t->db, "10.20.1.8", "--json", NULL), CLI_EXIT_ERR);
	assert_non_null(strstr(t->err, "10.20.1.8"));
	assert_int_equal(t->outlen, 0);
}

static void test_usage_errors(void **state)
{
	struct tctx *t = *state;
	char missing[300];

	build_store(t);
	assert_int_equal(run(t, &cmd_top, t->db, "--limit", "x", NULL), CLI_EXIT_USAGE);
	assert_non_null(strstr(t->err, "--limit x"));
	assert_int_equal(run(t, &cmd_top, t->db, "--bogus", NULL), CLI_EXIT_USAGE);
	assert_non_null(strstr(t->err, "unknown option --bogus"));
	assert_int_equal(run(t, &cmd_top, t->db, "--window", NULL), CLI_EXIT_USAGE);
	assert_non_null(strstr(t->err, "--window needs a value"));
	assert_int_equal(run(t, &cmd_top, t->db, "--window", "1y", NULL), CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_top, t->db, "--until", "tomorrow", NULL), CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_top, t->db, "extra", NULL), CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_status, t->db, "-x", NULL), CLI_EXIT_USAGE);
	assert_non_null(strstr(t->err, "unknown option -x"));
	assert_int_equal(run(t, &cmd_originator, t->db, NULL), CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_originator, t->db, "not-an-address", NULL), CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_ingest, t->db, NULL), CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_ingest, t->db, "tar", "x", NULL), CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_ingest, t->db, "pcap", NULL), CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_ingest, t->db, "log", "--zone", "10.in-addr.arpa", "x",
			     NULL), CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_ingest, t->db, "dnstap", "--port", "53", "x", NULL),
			 CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_ingest, t->db, "pcap", "--bucket", "1d", "x", NULL),
			 CLI_EXIT_USAGE);
	assert_int_equal(run(t, &cmd_ingest, t->db, "pcap", "--server", "nope", "x", NULL),
			 CLI_EXIT_USAGE);
	/* --help: exit 0, the usage on out */
	assert_int_equal(run(t, &cmd_top, t->db, "--help", NULL), CLI_EXIT_OK);
	assert_non_null(strstr(t->out, "usage: backscope"));
	/* a store that does not exist: exit 1, named */
	snprintf(missing, sizeof missing, "%s/none", t->dir);
	assert_int_equal(run(t, &cmd_status, missing, NULL), CLI_EXIT_ERR);
	assert_non_null(strstr(t->err, missing));
	struct stat st;
	assert_int_equal(stat(missing, &st), -1); /* read commands never create it */
}

/* Write @n events into one closed segment in @dir; returns its path. */
static void write_segment(const char *dir, size_t n, uint64_t t0_s, char *path, size_t len)
{
	struct evlog_opts o = { .dir = dir, .writer_id = "test" };
	struct evlog_writer *w = NULL;

	assert_int_equal(evlog_writer_open(&w, &o, t0_s * NS), 0);
	for (size_t i = 0; i < n; i++) {
		char q[32];
		snprintf(q, sizeof q, "192.0.2.%zu", 1 + i % 7);
		struct query_event ev = event((t0_s + i) * NS, q, "9.1.20.10.in-addr.arpa", 12, 0);
		assert_int_equal(evlog_append(w, &ev), 0);
	}
	snprintf(path, len, "%s", evlog_writer_path(w));
	assert_int_equal(evlog_writer_close(w, (t0_s + n) * NS), 0);
}

static uint64_t store_events(const char *db)
{
	struct store_opts o = { .readonly = true };
	struct store *s = NULL;
	struct store_info i;

	assert_int_equal(store_open(&s, db, &o), 0);
	assert_int_equal(store_info(s, &i), 0);
	store_close(s);
	return i.events;
}

static void test_ingest_log(void **state)
{
	struct tctx *t = *state;
	char logdir[300], seg[512], cut[300];

	snprintf(logdir, sizeof logdir, "%s/log", t->dir);
	write_segment(logdir, 100, T0_S, seg, sizeof seg);

	assert_int_equal(run(t, &cmd_ingest, t->db, "log", "--json", seg, NULL), CLI_EXIT_OK);
	assert_non_null(t->json);
	assert_string_equal(member_str(t->json, "kind"), "log");
	assert_int_equal(member_u64(t->json, "events"), 100);
	json_object *cl = member(t->json, "classes", json_type_object);
	assert_int_equal(member_u64(cl, "ptr"), 100);
	json_object *f = json_object_array_get_idx(member(t->json, "files", json_type_array), 0);
	assert_string_equal(member_str(f, "status"), "ok");
	assert_int_equal(store_events(t->db), 100);

	/* again: refused, nothing added; the message names the file and when */
	assert_int_equal(run(t, &cmd_ingest, t->db, "log", seg, NULL), CLI_EXIT_ERR);
	assert_non_null(strstr(t->err, seg));
	assert_non_null(strstr(t->err, "already ingested at"));
	assert_non_null(strstr(t->err, "--force"));
	assert_int_equal(store_events(t->db), 100);
	/* the folder form finds the same segment: refused too */
	assert_int_equal(run(t, &cmd_ingest, t->db, "log", logdir, NULL), CLI_EXIT_ERR);
	/* --force: counted again */
	assert_int_equal(run(t, &cmd_ingest, t->db, "log", "--force", seg, NULL), CLI_EXIT_OK);
	assert_int_equal(store_events(t->db), 200);
	assert_int_equal(run(t, &cmd_status, t->db, "--json", NULL), CLI_EXIT_OK);
	assert_int_equal(member_u64(t->json, "ingested_files"), 1);

	/* a copy cut inside a record: reported with its offset, events before kept,
	 * exit 1; a missing file next to it does not stop the others */
	snprintf(cut, sizeof cut, "%s/cut.bsl", t->dir);
	{
		char cmd[1024];
		snprintf(cmd, sizeof cmd, "head -c 1000 '%s' > '%s'", seg, cut);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(run(t, &cmd_ingest, t->db, "log", "--json", cut, "/nonexistent.bsl",
			     NULL), CLI_EXIT_ERR);
	json_object *files = member(t->json, "files", json_type_array);
	f = json_object_array_get_idx(files, 0);
	assert_string_equal(member_str(f, "status"), "damaged");
	uint64_t kept = member_u64(f, "events");
	assert_true(kept > 0 && kept < 100);
	uint64_t off = member_u64(f, "offset");
	assert_true(off > EVLOG_HEADER_LEN && off <= 1000);
	assert_non_null(strstr(t->err, "cut.bsl"));
	f = json_object_array_get_idx(files, 1);
	assert_string_equal(member_str(f, "status"), "error");
	assert_non_null(strstr(t->err, "/nonexistent.bsl"));
	assert_int_equal(store_events(t->db), 200 + kept);
	/* the damaged file is recorded too */
	assert_int_equal(run(t, &cmd_ingest, t->db, "log", cut, NULL), CLI_EXIT_ERR);
	assert_non_null(strstr(t->err, "up to its damage"));
}

static void test_ingest_new_store_lengths(void **state)
{
	struct tctx *t = *state;
	char logdir[300], seg[512];

	snprintf(logdir, sizeof logdir, "%s/log", t->dir);
	write_segment(logdir, 10, T0_S, seg, sizeof seg);
	assert_int_equal(run(t, &cmd_ingest, t->db, "log", "--bucket", "15m", "--bin", "1m",
			     seg, NULL), CLI_EXIT_OK);
	assert_int_equal(run(t, &cmd_status, t->db, "--json", NULL), CLI_EXIT_OK);
	assert_int_equal(member_u64(t->json, "bucket_len"), 900);
	assert_int_equal(member_u64(t->json, "bin_len"), 60);
	/* an existing store keeps its lengths: other ones are refused */
	write_segment(logdir, 10, T0_S + 100, seg, sizeof seg);
	assert_int_equal(run(t, &cmd_ingest, t->db, "log", "--bucket", "1h", seg, NULL),
			 CLI_EXIT_ERR);
	assert_non_null(strstr(t->err, t->db));
}

/* The meta text values added to common/store.c for the ingest records. */
static void test_meta_str(void **state)
{
	struct tctx *t = *state;
	struct store *s = NULL;
	char buf[64];
	uint64_t n = 0;

	assert_int_equal(store_open(&s, t->db, NULL), 0);
	assert_int_equal(store_meta_get_str(s, "ingest/a", buf, sizeof buf), BSC_ENOENT);
	assert_int_equal(store_meta_set_str(s, "ingest/a", "one"), 0);
	assert_int_equal(store_meta_set_str(s, "ingest/b", "two two"), 0);
	assert_int_equal(store_meta_set_str(s, "ingesz", "other"), 0);
	assert_int_equal(store_meta_set_str(s, "ingest/a", "uno"), 0); /* replaced */
	assert_int_equal(store_meta_get_str(s, "ingest/a", buf, sizeof buf), 3);
	assert_string_equal(buf, "uno");
	assert_int_equal(store_meta_get_str(s, "ingest/b", buf, 4), BSC_ENOSPC);
	assert_int_equal(store_meta_set_u64(s, "ingest/n", 5), 0);
	assert_int_equal(store_meta_get_str(s, "ingest/n", buf, sizeof buf), BSC_EMALF);
	assert_int_equal(store_meta_get_str(s, "schema_version", buf, sizeof buf), BSC_EMALF);
	assert_int_equal(store_meta_set_str(s, "", "x"), BSC_EINVAL);
	/* the walk: text values under the prefix only (not ingest/n, not ingesz) */
	assert_int_equal(store_meta_str_walk(s, "ingest/", count_cb_test, &n), 0);
	assert_int_equal(n, 2);
	store_close(s);
	struct store_opts ro = { .readonly = true };
	assert_int_equal(store_open(&s, t->db, &ro), 0);
	assert_int_equal(store_meta_set_str(s, "ingest/c", "x"), BSC_EACCES);
	assert_int_equal(store_meta_get_str(s, "ingest/b", buf, sizeof buf), 7);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_addr_and_numbers),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_text_width),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test_setup_teardown(test_status_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_originator_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_new_store_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_str, setup, teardown),
	};

	log_init(LOG_TARGET_STDERR, LOG_CRIT, "test_cli");
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
