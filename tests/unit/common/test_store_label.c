/* tests/unit/common/test_store_label.c — the darknet label codec and the
 * label DB of the store: round trip, refused versions and lengths, put
 * replacing by (bucket, source), walk over a bucket range in key order.
 * Single-threaded cmocka program; the store lives in a temporary folder. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/helpers/tmpdir.h"
#include "common/err.h"
#include "common/store.h"

static struct store_label label(uint64_t bucket, const char *src, uint64_t packets)
{
	struct store_label l;
	memset(&l, 0, sizeof l);
	l.bucket_s = bucket;
	assert_int_equal(addr_parse(&l.source, src, false), 0);
	l.cls = 1;
	l.size = 2;
	l.protocol = 1;
	l.tool = 3;
	l.service = 4;
	l.nports = 2;
	l.ports[0] = 23;
	l.ports[1] = 2323;
	l.packets = packets;
	l.destinations = 0x123456789ull;
	l.window_start_s = bucket;
	l.window_len_s = 3600;
	return l;
}

static void test_codec(void **state)
{
	(void)state;
	uint8_t v[STORE_LABEL_LEN];
	struct store_label a = label(7200, "192.0.2.1", 99), b;
	store_label_encode(&a, v);
	assert_int_equal(v[0], STORE_LABEL_VERSION);
	memset(&b, 0, sizeof b);
	assert_int_equal(store_label_decode(v, sizeof v, &b), 0);
	b.bucket_s = a.bucket_s;
	b.source = a.source;
	assert_memory_equal(&a, &b, sizeof a);
	assert_int_equal(store_label_decode(v, sizeof v - 1, &b), BSC_EMALF);
	assert_int_equal(store_label_decode(v, 0, &b), BSC_EMALF);
	v[6] = 5; /* nports */
	assert_int_equal(store_label_decode(v, sizeof v, &b), BSC_EMALF);
	v[0] = 2;
	assert_int_equal(store_label_decode(v, sizeof v, &b), BSC_ESCHEMA);
}

struct seen {
	struct store_label l[8];
	size_t n;
};

static int collect(void *ctx, const struct store_label *l)
{
	struct seen *s = ctx;
	if (s->n == 8)
		return -1;
	s->l[s->n++] = *l;
	return 0;
}

static void test_put_walk(void **state)
{
	(void)state;
	struct store *s;
	struct seen seen = { 0 };
	assert_int_equal(store_open(&s, test_tmpdir, NULL), 0);
	struct store_label l[4] = {
		label(3600, "2001:db8::1", 1),
		label(3600, "192.0.2.9", 2),
		label(7200, "192.0.2.1", 3),
		label(0, "192.0.2.1", 4),
	};
	assert_int_equal(store_label_put(s, l, 4), 0);
	/* replace (3600, 192.0.2.9) */
	struct store_label r = label(3600, "192.0.2.9", 20);
	assert_int_equal(store_label_put(s, &r, 1), 0);
	assert_int_equal(store_label_walk(s, 3600, 7200, collect, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.l[0].packets, 20); /* IPv4 keys sort first */
	assert_int_equal(seen.l[0].bucket_s, 3600);
	assert_int_equal(seen.l[1].packets, 1);
	assert_int_equal(seen.l[1].source.family, AF_INET6);
	assert_int_equal(seen.l[1].ports[1], 2323);
	seen.n = 0;
	assert_int_equal(store_label_walk(s, 0, UINT64_MAX, collect, &seen), 0);
	assert_int_equal(seen.n, 4);
	assert_int_equal(seen.l[0].packets, 4);
	assert_int_equal(seen.l[3].packets, 3);
	/* a bad label aborts the whole transaction */
	struct store_label bad[2] = { label(10800, "192.0.2.77", 5),
				      label(10800, "192.0.2.78", 6) };
	memset(&bad[1].source, 0, sizeof bad[1].source);
	assert_int_equal(store_label_put(s, bad, 2), BSC_EINVAL);
	seen.n = 0;
	assert_int_equal(store_label_walk(s, 10800, 14400, collect, &seen), 0);
	assert_int_equal(seen.n, 0);
	store_close(s);
	/* read-only stores refuse writes */
	struct store_opts ro = { .readonly = true };
	assert_int_equal(store_open(&s, test_tmpdir, &ro), 0);
	assert_int_equal(store_label_put(s, l, 1), BSC_EACCES);
	seen.n = 0;
	assert_int_equal(store_label_walk(s, 0, UINT64_MAX, collect, &seen), 0);
	assert_int_equal(seen.n, 4);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec),
		cmocka_unit_test(test_put_walk),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
