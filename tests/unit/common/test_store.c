/* tests/unit/common/test_store.c — the LMDB store: open/close/reopen, schema
 * and length checks, exact counts and distinct queriers across flushes and
 * buckets, a read-only process beside a writer holding a write transaction,
 * a full map (error, then growth), key order, top-N against brute force,
 * error mapping and allocation-failure torture.
 * Single-threaded cmocka program (one test forks a reader); a fresh folder
 * per test inside the program's temporary folder (tests/helpers/tmpdir.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/helpers/tmpdir.h"
#include "common/addr.h"
#include "common/agg.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/store.h"

#define T0_S 1794999600ull /* 2026-11-18T11:00:00Z, on an hour boundary */
#define H 3600ull
#define NS 1000000000ull

struct tctx {
	char dir[256];
	char db[300];
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

	free(t);
	return rc;
}

static struct bsc_addr A(const char *s)
{
	struct bsc_addr a;
	assert_int_equal(addr_parse(&a, s, false), 0);
	return a;
}

static struct query_event ptr_ev(uint64_t t_s, const char *q, const char *o)
{
	struct query_event ev;
	memset(&ev, 0, sizeof ev);
	ev.time_ns = t_s * NS;
	ev.querier = A(q);
	ev.qtype = 12;
	ev.orig.kind = REVNAME_FULL;
	ev.orig.addr = A(o);
	return ev;
}

static void add(struct agg *a, uint64_t t_s, const char *q, const char *o)
{
	struct query_event ev = ptr_ev(t_s, q, o);
	assert_int_equal(agg_add(a, &ev), 0);
}

static struct store *open_rw(const char *dir)
{
	struct store *s;
	assert_int_equal(store_open(&s, dir, NULL), 0);
	return s;
}

static void test_store_open_close_reopen(void **state)
{
	struct tctx *t = *state;
	struct store_opts o = { .bucket_len = 86400, .bin_len = 1800 };
	struct store *s;

	assert_int_equal(store_open(&s, t->db, &o), 0);
	assert_int_equal(store_bucket_len(s), 86400);
	assert_int_equal(store_bin_len(s), 1800);
	assert_false(store_readonly(s));
	assert_string_equal(store_path(s), t->db);
	assert_int_equal(store_set_ttls(s, 3600, 300), 0);
	struct store_info info;
	assert_int_equal(store_info(s, &info), 0);
	assert_int_equal(info.schema, STORE_SCHEMA_VERSION);
	assert_true(info.ptr_ttl == 3600 && info.neg_ttl == 300);
	assert_true(info.events == 0 && info.buckets == 0 && info.created_s > 0);
	assert_true(info.map_size >= STORE_MAP_SIZE_DEFAULT);
	store_close(s);

	/* Reopen with zero lengths: the store's values are taken. */
	assert_int_equal(store_open(&s, t->db, NULL), 0);
	assert_int_equal(store_bucket_len(s), 86400);
	assert_int_equal(store_info(s, &info), 0);
	assert_true(info.ptr_ttl == 3600 && info.neg_ttl == 300);
	uint64_t v;
	assert_int_equal(store_meta_get_u64(s, "ptr_ttl", &v), 0);
	assert_true(v == 3600);
	assert_int_equal(store_meta_get_u64(s, "no_such_key", &v), BSC_ENOENT);
	store_close(s);
	store_close(NULL);

	/* Read-only: reads work, writes are refused. */
	struct store_opts ro = { .readonly = true };
	assert_int_equal(store_open(&s, t->db, &ro), 0);
	assert_true(store_readonly(s));
	assert_int_equal(store_info(s, &info), 0);
	assert_int_equal(store_set_ttls(s, 1, 1), BSC_EACCES);
	struct store_batch *b;
	assert_int_equal(store_batch_begin(s, &b), BSC_EACCES);
	store_close(s);
}

static void test_store_refuses_schema_and_lengths(void **state)
{
	struct tctx *t = *state;
	struct store *s = open_rw(t->db);
	assert_int_equal(store_meta_set_u64(s, "schema_version", STORE_SCHEMA_VERSION + 1), 0);
	store_close(s);
	assert_int_equal(store_open(&s, t->db, NULL), BSC_ESCHEMA);
	assert_null(s);
	struct store_opts ro = { .readonly = true };
	assert_int_equal(store_open(&s, t->db, &ro), BSC_ESCHEMA);

	/* Older: no migration exists from schema 0. */
	char db2[300];
	snprintf(db2, sizeof db2, "%s/old", t->dir);
	s = open_rw(db2);
	assert_int_equal(store_meta_set_u64(s, "schema_version", 0), 0);
	store_close(s);
	assert_int_equal(store_open(&s, db2, NULL), BSC_ESCHEMA);

	/* Lengths other than the store's. */
	char db3[300];
	snprintf(db3, sizeof db3, "%s/len", t->dir);
	s = open_rw(db3);
	store_close(s);
	struct store_opts o = { .bucket_len = 600, .bin_len = 60 };
	assert_int_equal(store_open(&s, db3, &o), BSC_ECONF);
	struct store_opts o2 = { .bin_len = 300 };
	assert_int_equal(store_open(&s, db3, &o2), BSC_ECONF);
	struct store_opts o3 = { .bucket_len = 3600, .bin_len = 600 };
	assert_int_equal(store_open(&s, db3, &o3), 0);
	store_close(s);

	/* A new store with unusable lengths. */
	char db4[300];
	snprintf(db4, sizeof db4, "%s/bad", t->dir);
	struct store_opts o4 = { .bucket_len = 3600, .bin_len = 7 };
	assert_int_equal(store_open(&s, db4, &o4), BSC_ECONF);

	/* Read-only on a missing store. */
	char db5[300];
	snprintf(db5, sizeof db5, "%s/missing", t->dir);
	assert_int_equal(store_open(&s, db5, &ro), BSC_ENOENT);
}

static void test_store_counts_exact_after_flushes(void **state)
{
	struct tctx *t = *state;
	struct store *s = open_rw(t->db);
	struct agg *a;
	assert_int_equal(agg_new(&a, NULL), 0);

	/* Flush 1: 3 queries from q1, 1 from q2; one NXDOMAIN. */
	add(a, T0_S + 10, "192.0.2.1", "10.0.0.1");
	add(a, T0_S + 700, "192.0.2.1", "10.0.0.1");
	add(a, T0_S + 20, "192.0.2.2", "10.0.0.1");
	struct query_event nx = ptr_ev(T0_S + 1300, "192.0.2.1", "10.0.0.1");
	nx.rcode = 3;
	assert_int_equal(agg_add(a, &nx), 0);
	agg_note_dropped(a, 5);
	assert_int_equal(agg_flush(a, s, NULL), 0);
	/* Flush 2: q1 again (not new), q3 new, earlier and later times. */
	add(a, T0_S + 5, "192.0.2.1", "10.0.0.1");
	add(a, T0_S + 3599, "192.0.2.3", "10.0.0.1");
	struct agg_flush_stats st;
	assert_int_equal(agg_flush(a, s, &st), 0);
	assert_true(st.pairs == 2 && st.new_pairs == 1 && st.origs == 1 && st.events == 2);
	/* Flush 3: nothing but drops. */
	agg_note_dropped(a, 2);
	assert_int_equal(agg_flush(a, s, NULL), 0);
	/* Flush 4: nothing at all: no transaction. */
	assert_int_equal(agg_flush(a, s, NULL), 0);

	struct bsc_addr o = A("10.0.0.1");
	struct store_sum sum;
	assert_int_equal(store_orig_summary(s, &o, 0, UINT64_MAX, &sum), 0);
	assert_true(sum.queries == 6 && sum.queriers == 3 && sum.nxdomain == 1);
	assert_true(sum.first_ns == (T0_S + 5) * NS && sum.last_ns == (T0_S + 3599) * NS);
	assert_int_equal(sum.buckets, 1);

	struct store_info info;
	assert_int_equal(store_info(s, &info), 0);
	assert_true(info.events == 6 && info.ptr == 6 && info.dropped == 7);
	assert_true(info.flushes == 3 && info.last_flush_ns > 0);
	assert_true(info.orig_records == 1 && info.origq_records == 3);
	assert_true(info.buckets == 1 && info.first_bucket_s == T0_S);
	agg_free(a);
	store_close(s);
}

struct rows {
	struct store_orig_entry e[16];
	size_t n;
};

static int collect_orig(void *ctx, const struct store_orig_entry *e)
{
	struct rows *r = ctx;
	assert_true(r->n < 16);
	r->e[r->n++] = *e;
	return 0;
}

static void test_store_distinct_queriers_union(void **state)
{
	struct tctx *t = *state;
	struct store *s = open_rw(t->db);
	struct agg *a;
	assert_int_equal(agg_new(&a, NULL), 0);
	char q[32];

	/* Bucket 0, flush 1: queriers 0..59.  Flush 2: 40..99 (20 shared). */
	for (int i = 0; i < 60; i++) {
		snprintf(q, sizeof q, "192.0.2.%d", i);
		add(a, T0_S + (uint64_t)i, q, "10.1.1.1");
	}
	assert_int_equal(agg_flush(a, s, NULL), 0);
	for (int i = 40; i < 100; i++) {
		snprintf(q, sizeof q, "192.0.2.%d", i);
		add(a, T0_S + 100 + (uint64_t)i, q, "10.1.1.1");
	}
	/* Bucket 1: queriers 90..149 and 2001:db8::1. */
	for (int i = 90; i < 150; i++) {
		snprintf(q, sizeof q, "192.0.2.%d", i);
		add(a, T0_S + H + (uint64_t)i, q, "10.1.1.1");
	}
	add(a, T0_S + H + 1, "2001:db8::1", "10.1.1.1");
	assert_int_equal(agg_flush(a, s, NULL), 0);

	struct bsc_addr o = A("10.1.1.1");
	struct rows r = { .n = 0 };
	assert_int_equal(store_orig_buckets(s, &o, 0, UINT64_MAX, collect_orig, &r), 0);
	assert_int_equal(r.n, 2);
	assert_true(r.e[0].bucket_s == T0_S && r.e[0].rec.queriers == 100);
	assert_true(r.e[0].rec.queries == 120);
	assert_true(r.e[1].bucket_s == T0_S + H && r.e[1].rec.queriers == 61);

	struct store_sum sum;
	assert_int_equal(store_orig_summary(s, &o, 0, UINT64_MAX, &sum), 0);
	assert_true(sum.queriers == 151 && sum.queries == 181 && sum.buckets == 2);
	assert_int_equal(store_orig_summary(s, &o, T0_S + H, T0_S + 2 * H, &sum), 0);
	assert_true(sum.queriers == 61);
	assert_int_equal(store_orig_summary(s, &o, T0_S + 2 * H, UINT64_MAX, &sum), BSC_ENOENT);

	struct store_sum top[4];
	size_t n;
	assert_int_equal(store_top(s, 0, UINT64_MAX, 4, top, &n), 0);
	assert_int_equal(n, 1);
	assert_true(top[0].queriers == 151 && top[0].queries == 181);
	assert_int_equal(store_top(s, T0_S, T0_S + H, 4, top, &n), 0);
	assert_true(n == 1 && top[0].queriers == 100);
	agg_free(a);
	store_close(s);
}

/* A read-only process opens and reads while the writer holds an open write
 * transaction; it sees the last commit, never the pending one. */
static void test_store_readonly_beside_writer(void **state)
{
	struct tctx *t = *state;
	struct store *s = open_rw(t->db);
	struct agg *a;
	assert_int_equal(agg_new(&a, NULL), 0);
	add(a, T0_S, "192.0.2.1", "10.0.0.1");
	assert_int_equal(agg_flush(a, s, NULL), 0);

	struct store_batch *b;
	assert_int_equal(store_batch_begin(s, &b), 0);
	struct bsc_addr o2 = A("10.0.0.2"), q = A("192.0.2.9");
	struct agg_origq_rec r = { .queries = 1, .first_ns = T0_S * NS, .last_ns = T0_S * NS };
	bool created;
	assert_int_equal(store_batch_origq(b, T0_S, &o2, &q, &r, &created), 0);
	assert_true(created);
	struct agg_orig_rec orec = { .queries = 1, .queriers = 1, .nbins = 6,
				     .first_ns = T0_S * NS, .last_ns = T0_S * NS, .bins = 1 };
	assert_int_equal(store_batch_orig(b, T0_S, &o2, &orec), 0);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store_opts ro = { .readonly = true };
		struct store *r2;
		if (store_open(&r2, t->db, &ro) != 0)
			_exit(2);
		struct store_info info;
		struct store_sum sum;
		struct bsc_addr o1 = A("10.0.0.1");
		int code = 0;
		if (store_info(r2, &info) != 0 || info.events != 1 || info.orig_records != 1)
			code = 3;
		else if (store_orig_summary(r2, &o1, 0, UINT64_MAX, &sum) != 0 || sum.queries != 1)
			code = 4;
		else if (store_orig_summary(r2, &o2, 0, UINT64_MAX, &sum) != BSC_ENOENT)
			code = 5;
		else if (store_meta_set_u64(r2, "x", 1) != BSC_EACCES)
			code = 6;
		store_close(r2);
		_exit(code);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(store_batch_commit(b), 0);

	struct store_sum sum;
	assert_int_equal(store_orig_summary(s, &o2, 0, UINT64_MAX, &sum), 0);
	assert_true(sum.queries == 1 && sum.queriers == 1);
	agg_free(a);
	store_close(s);
}

static void fill_pairs(struct agg *a, unsigned n, unsigned salt)
{
	for (unsigned i = 0; i < n; i++) {
		char q[32], o[32];
		snprintf(q, sizeof q, "172.%u.%u.%u", salt, (i >> 8) & 255, i & 255);
		snprintf(o, sizeof o, "10.%u.0.%u", salt, i % 50);
		add(a, T0_S + i % 3000, q, o);
	}
}

static void test_store_map_full_then_usable(void **state)
{
	struct tctx *t = *state;
	struct store_opts o = { .map_size = 256 << 10 };
	struct store *s;
	assert_int_equal(store_open(&s, t->db, &o), 0);
	struct agg *a;
	assert_int_equal(agg_new(&a, NULL), 0);

	fill_pairs(a, 1, 1);
	assert_int_equal(agg_flush(a, s, NULL), 0);
	fill_pairs(a, 20000, 2);
	struct agg_flush_stats st;
	assert_int_equal(agg_flush(a, s, &st), BSC_ENOSPC);
	assert_true(st.lost == 20000 && st.grows == 0);
	assert_int_equal(agg_pairs(a), 0);

	/* Still usable: what was there is intact, a small flush goes in and
	 * records the loss as dropped. */
	struct store_info info;
	assert_int_equal(store_info(s, &info), 0);
	assert_true(info.events == 1 && info.origq_records == 1);
	fill_pairs(a, 1, 3);
	assert_int_equal(agg_flush(a, s, NULL), 0);
	assert_int_equal(store_info(s, &info), 0);
	assert_true(info.events == 2 && info.dropped == 20000);
	assert_int_equal(store_grow(s), BSC_ENOSPC);
	store_close(s);

	/* With room to grow, the same flush succeeds after growing. */
	char db2[300];
	snprintf(db2, sizeof db2, "%s/grow", t->dir);
	struct store_opts g = { .map_size = 256 << 10, .map_max = 64 << 20 };
	assert_int_equal(store_open(&s, db2, &g), 0);
	fill_pairs(a, 20000, 2);
	assert_int_equal(agg_flush(a, s, &st), 0);
	assert_true(st.grows > 0 && st.new_pairs == 20000);
	assert_int_equal(store_info(s, &info), 0);
	assert_true(info.origq_records == 20000 && info.map_size > (256u << 10));
	agg_free(a);
	store_close(s);
}

static int collect_all(void *ctx, const struct store_orig_entry *e)
{
	return collect_orig(ctx, e);
}

static int stop_after_two(void *ctx, const struct store_orig_entry *e)
{
	struct rows *r = ctx;
	collect_orig(ctx, e);
	return r->n == 2 ? 1 : 0;
}

static int fail_now(void *ctx, const struct store_orig_entry *e)
{
	(void)ctx;
	(void)e;
	return BSC_EIO;
}

static void test_store_key_order_walk(void **state)
{
	struct tctx *t = *state;
	struct store *s = open_rw(t->db);
	struct agg *a;
	assert_int_equal(agg_new(&a, NULL), 0);
	add(a, T0_S + H, "192.0.2.1", "10.0.0.2");
	add(a, T0_S + H, "192.0.2.1", "2001:db8::1");
	add(a, T0_S + H, "192.0.2.1", "1.2.3.4");
	add(a, T0_S, "192.0.2.1", "10.0.0.2");
	add(a, T0_S, "192.0.2.1", "::1");
	add(a, T0_S, "192.0.2.1", "10.0.0.1");
	assert_int_equal(agg_flush(a, s, NULL), 0);

	struct rows r = { .n = 0 };
	assert_int_equal(store_orig_walk(s, 0, UINT64_MAX, collect_all, &r), 0);
	const char *want[] = { "10.0.0.1", "10.0.0.2", "::1", "1.2.3.4", "10.0.0.2",
			       "2001:db8::1" };
	assert_int_equal(r.n, 6);
	for (size_t i = 0; i < 6; i++) {
		struct bsc_addr w = A(want[i]);
		assert_int_equal(addr_cmp(&r.e[i].orig, &w), 0);
		assert_true(r.e[i].bucket_s == (i < 3 ? T0_S : T0_S + H));
	}
	r.n = 0;
	assert_int_equal(store_orig_walk(s, T0_S + 1, T0_S + 2 * H, collect_all, &r), 0);
	assert_int_equal(r.n, 3);
	r.n = 0;
	assert_int_equal(store_orig_walk(s, 0, UINT64_MAX, stop_after_two, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(store_orig_walk(s, 0, UINT64_MAX, fail_now, NULL), BSC_EIO);
	uint64_t n;
	assert_int_equal(store_count_originators(s, 0, UINT64_MAX, &n), 0);
	assert_true(n == 5);
	assert_int_equal(store_count_originators(s, T0_S, T0_S + 1, &n), 0);
	assert_true(n == 3);

	/* Keys byte by byte. */
	uint8_t k[STORE_KEY_MAX];
	struct bsc_addr o = A("10.0.0.1"), q = A("2001:db8::5");
	assert_int_equal(store_key_origq(k, 0x0102030405060708ull, &o, &q), 8 + 5 + 17);
	const uint8_t head[] = { 1, 2, 3, 4, 5, 6, 7, 8, 4, 10, 0, 0, 1, 6, 0x20, 0x01 };
	assert_memory_equal(k, head, sizeof head);
	uint64_t bk;
	struct bsc_addr po, pq;
	assert_int_equal(store_key_parse_origq(k, 30, &bk, &po, &pq), 0);
	assert_true(bk == 0x0102030405060708ull);
	assert_int_equal(addr_cmp(&po, &o), 0);
	assert_int_equal(addr_cmp(&pq, &q), 0);
	for (size_t l = 0; l < 30; l++)
		assert_int_equal(store_key_parse_origq(k, l, &bk, &po, &pq), BSC_EMALF);
	assert_int_equal(store_key_orig(k, 7, &q), 8 + 17);
	assert_int_equal(store_key_parse_orig(k, 25, &bk, &po), 0);
	assert_true(bk == 7);
	assert_int_equal(store_key_parse_orig(k, 24, &bk, &po), BSC_EMALF);
	struct bsc_addr none = { 0 };
	assert_int_equal(store_key_addr(k, &none), 0);
	assert_int_equal(store_key_orig(k, 1, &none), 0);
	k[0] = 5;
	assert_int_equal(store_key_parse_addr(k, 5, &po), BSC_EMALF);
	agg_free(a);
	store_close(s);
}

/* ---- top-N against brute force ---- */

#define TB_O 40
#define TB_Q 60
#define TB_B 4

static unsigned tb_count[TB_B][TB_O][TB_Q];

static struct bsc_addr tb_orig(unsigned i)
{
	char b[48];
	if (i % 4 == 3)
		snprintf(b, sizeof b, "2001:db8::%x", i);
	else
		snprintf(b, sizeof b, "10.9.0.%u", i);
	return A(b);
}

static struct bsc_addr tb_q(unsigned i)
{
	char b[48];
	snprintf(b, sizeof b, "198.51.100.%u", i);
	return A(b);
}

static int cmp_sum(const struct store_sum *a, const struct store_sum *b)
{
	if (a->queriers != b->queriers)
		return a->queriers > b->queriers ? -1 : 1;
	if (a->queries != b->queries)
		return a->queries > b->queries ? -1 : 1;
	return addr_cmp(&a->addr, &b->addr);
}

static int cmp_sum_v(const void *a, const void *b)
{
	return cmp_sum(a, b);
}

static void check_top(struct store *s, unsigned b0, unsigned b1, size_t limit)
{
	struct store_sum want[TB_O];
	size_t nw = 0;
	for (unsigned o = 0; o < TB_O; o++) {
		struct store_sum e = { .addr = tb_orig(o) };
		for (unsigned q = 0; q < TB_Q; q++) {
			unsigned c = 0;
			for (unsigned b = b0; b < b1; b++)
				c += tb_count[b][o][q];
			e.queries += c;
			e.queriers += c > 0;
		}
		if (e.queries)
			want[nw++] = e;
	}
	qsort(want, nw, sizeof want[0], cmp_sum_v);
	struct store_sum got[TB_O];
	size_t ng;
	assert_int_equal(store_top(s, T0_S + b0 * H, T0_S + b1 * H, limit, got, &ng), 0);
	assert_int_equal(ng, nw < limit ? nw : limit);
	for (size_t i = 0; i < ng; i++) {
		assert_int_equal(addr_cmp(&got[i].addr, &want[i].addr), 0);
		assert_true(got[i].queriers == want[i].queriers);
		assert_true(got[i].queries == want[i].queries);
	}
	uint64_t n;
	assert_int_equal(store_count_originators(s, T0_S + b0 * H, T0_S + b1 * H, &n), 0);
	assert_true(n == nw);
}

static void test_store_top_matches_brute_force(void **state)
{
	struct tctx *t = *state;
	struct store *s = open_rw(t->db);
	struct agg *a;
	assert_int_equal(agg_new(&a, NULL), 0);
	uint64_t x = 12345;
	memset(tb_count, 0, sizeof tb_count);
	for (unsigned i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned b = (unsigned)(x % TB_B), o = (unsigned)((x >> 8) % TB_O);
		unsigned q = (unsigned)((x >> 20) % (1 + o * TB_Q / TB_O)); /* skewed */
		if (b == 2)
			continue; /* an empty bucket in the middle */
		tb_count[b][o][q]++;
		struct query_event ev;
		memset(&ev, 0, sizeof ev);
		ev.time_ns = (T0_S + b * H + (x >> 40) % H) * NS;
		ev.querier = tb_q(q);
		ev.qtype = 12;
		ev.orig.kind = REVNAME_FULL;
		ev.orig.addr = tb_orig(o);
		assert_int_equal(agg_add(a, &ev), 0);
		if (i % 5000 == 4999)
			assert_int_equal(agg_flush(a, s, NULL), 0);
	}
	assert_int_equal(agg_flush(a, s, NULL), 0);
	check_top(s, 0, 1, 10);	       /* one bucket: orig rows */
	check_top(s, 0, TB_B, 10);     /* several: union from origq keys */
	check_top(s, 1, TB_B, TB_O);   /* everything */
	check_top(s, 2, 3, 5);	       /* the empty bucket */
	check_top(s, 0, TB_B, 1);
	struct store_sum one;
	size_t n = 9;
	assert_int_equal(store_top(s, 0, UINT64_MAX, 0, &one, &n), 0);
	assert_int_equal(n, 0);
	agg_free(a);
	store_close(s);
}

static void test_store_err_mdb(void **state)
{
	(void)state;
	assert_int_equal(bsc_err_mdb(0), 0);
	assert_int_equal(bsc_err_mdb(MDB_NOTFOUND), BSC_ENOENT);
	assert_int_equal(bsc_err_mdb(MDB_MAP_FULL), BSC_ENOSPC);
	assert_int_equal(bsc_err_mdb(MDB_TXN_FULL), BSC_ENOSPC);
	assert_int_equal(bsc_err_mdb(MDB_CORRUPTED), BSC_ESTORE);
	assert_int_equal(bsc_err_mdb(MDB_VERSION_MISMATCH), BSC_ESTORE);
	assert_int_equal(bsc_err_mdb(MDB_INVALID), BSC_ESTORE);
	assert_int_equal(bsc_err_mdb(MDB_INVALID), BSC_ESTORE); /* logged once */
	assert_int_equal(bsc_err_mdb(EACCES), BSC_EACCES);
	assert_int_equal(bsc_err_mdb(ENOMEM), BSC_ENOMEM);
}

/* A stored value that does not decode stops readers with BSC_EMALF and a
 * flush onto it with an error; nothing crashes. */
static void test_store_bad_value_reported(void **state)
{
	struct tctx *t = *state;
	struct store *s = open_rw(t->db);
	struct store_batch *b;
	assert_int_equal(store_batch_begin(s, &b), 0);
	struct bsc_addr o = A("10.0.0.1"), q = A("192.0.2.1");
	/* An origq row whose orig row is malformed (nbins 0). */
	struct agg_orig_rec bad = { .queries = 1, .queriers = 1, .nbins = 0 };
	assert_int_equal(store_batch_orig(b, T0_S, &o, &bad), 0);
	assert_int_equal(store_batch_commit(b), 0);
	struct rows r = { .n = 0 };
	assert_int_equal(store_orig_walk(s, 0, UINT64_MAX, collect_all, &r), BSC_EMALF);
	struct store_sum sum;
	assert_int_equal(store_orig_summary(s, &o, 0, UINT64_MAX, &sum), BSC_EMALF);
	struct agg *a;
	assert_int_equal(agg_new(&a, NULL), 0);
	add(a, T0_S, "192.0.2.1", "10.0.0.1");
	struct agg_flush_stats st;
	assert_int_equal(agg_flush(a, s, &st), BSC_EMALF);
	assert_true(st.lost == 1);
	(void)q;
	agg_free(a);
	store_close(s);
}

static int sum_cb(void *ctx, const struct store_sum *e)
{
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

/* Put one raw row into DB @db of the store at @dir (closed by the caller
 * first), bypassing the store's own encoders. */
static void raw_put(const char *dir, const char *db, const void *key, size_t klen,
		    const void *val, size_t vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	MDB_val k = { klen, (void *)key }, d = { vlen, (void *)val };
	assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* An origq key with bytes after its querier (a damaged store) stops the
 * readers that count distinct queriers over several buckets with BSC_EMALF;
 * nothing is copied past the querier. */
static void test_store_bad_origq_key_reported(void **state)
{
	struct tctx *t = *state;
	struct store *s = open_rw(t->db);
	struct agg *a;
	assert_int_equal(agg_new(&a, NULL), 0);
	add(a, T0_S, "192.0.2.1", "10.0.0.1");
	add(a, T0_S + H, "192.0.2.2", "10.0.0.1");
	assert_int_equal(agg_flush(a, s, NULL), 0);
	agg_free(a);
	struct store_sum top[4];
	size_t n;
	assert_int_equal(store_top(s, 0, UINT64_MAX, 4, top, &n), 0);
	assert_true(n == 1 && top[0].queriers == 2);
	store_close(s);

	/* bucket, originator 10.0.0.1, querier 192.0.2.3, then 200 bytes more */
	uint8_t key[8 + 5 + 5 + 200], val[AGG_ORIGQ_LEN];
	struct agg_origq_rec r = { .queries = 1, .first_ns = T0_S * NS, .last_ns = T0_S * NS };
	struct bsc_addr o = A("10.0.0.1"), q = A("192.0.2.3");
	assert_int_equal(store_key_origq(key, T0_S, &o, &q), 18);
	memset(key + 18, 0x41, sizeof key - 18);
	agg_origq_encode(&r, T0_S, val);
	raw_put(t->db, "origq", key, sizeof key, val, sizeof val);

	s = open_rw(t->db);
	assert_int_equal(store_top(s, 0, UINT64_MAX, 4, top, &n), BSC_EMALF);
	struct store_sum sum;
	assert_int_equal(store_orig_summary(s, &o, 0, UINT64_MAX, &sum), BSC_EMALF);
	int cnt = 0;
	assert_int_equal(store_orig_queriers(s, &o, 0, UINT64_MAX, sum_cb, &cnt), BSC_EMALF);
	store_close(s);
}

static void test_store_torture_alloc(void **state)
{
	struct tctx *t = *state;
	bool clean = false;

	/* A store with data in two buckets for the readers. */
	struct store *s = open_rw(t->db);
	struct agg *a;
	assert_int_equal(agg_new(&a, NULL), 0);
	fill_pairs(a, 300, 1);
	add(a, T0_S + H, "192.0.2.1", "10.1.0.1");
	assert_int_equal(agg_flush(a, s, NULL), 0);
	store_close(s);

	for (long k = 0; !clean && k < 100; k++) {
		mem_fail_after(k);
		int rc = store_open(&s, t->db, NULL);
		if (rc < 0) {
			mem_fail_after(-1);
			assert_int_equal(rc, BSC_ENOMEM);
			continue;
		}
		bool failed = false;
		fill_pairs(a, 100, 5);
		rc = agg_flush(a, s, NULL);
		assert_true(rc == 0 || rc == BSC_ENOMEM);
		failed |= rc < 0;
		agg_reset(a);
		struct store_sum top[5];
		size_t n;
		rc = store_top(s, 0, UINT64_MAX, 5, top, &n);
		assert_true(rc == 0 || rc == BSC_ENOMEM);
		failed |= rc < 0;
		struct bsc_addr o = A("10.1.0.1");
		struct store_sum sum;
		rc = store_orig_summary(s, &o, 0, UINT64_MAX, &sum);
		assert_true(rc == 0 || rc == BSC_ENOMEM);
		failed |= rc < 0;
		int cnt = 0;
		rc = store_orig_queriers(s, &o, 0, UINT64_MAX, sum_cb, &cnt);
		assert_true(rc == 0 || rc == BSC_ENOMEM);
		failed |= rc < 0;
		uint64_t c;
		rc = store_count_originators(s, 0, UINT64_MAX, &c);
		assert_true(rc == 0 || rc == BSC_ENOMEM);
		failed |= rc < 0;
		mem_fail_after(-1);
		store_close(s);
		clean = !failed;
	}
	assert_true(clean);
	agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_err_mdb),
		cmocka_unit_test_setup_teardown(test_store_open_close_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_refuses_schema_and_lengths, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_counts_exact_after_flushes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_distinct_queriers_union, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_readonly_beside_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_map_full_then_usable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_key_order_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_top_matches_brute_force, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_bad_value_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_bad_origq_key_reported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_torture_alloc, setup, teardown),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
