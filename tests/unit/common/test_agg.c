/* tests/unit/common/test_agg.c — the aggregation table: exact counts per
 * originator and querier through several flushes into a real store, what is
 * and is not aggregated, the memory cap, bytes per pair, record codecs,
 * allocation-failure torture and the speed of agg_add.
 * Single-threaded cmocka program; a fresh folder per test inside the
 * program's temporary folder (tests/helpers/tmpdir.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tests/helpers/tmpdir.h"
#include "common/addr.h"
#include "common/agg.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/store.h"

#define T0_S 1794999600ull /* 2026-11-18T11:00:00Z, on an hour boundary */
#define NS 1000000000ull

struct tctx {
	char dir[256];
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

static struct store *open_store(const char *dir, const char *sub)
{
	char path[300];
	struct store *s;
	snprintf(path, sizeof path, "%s/%s", dir, sub);
	assert_int_equal(store_open(&s, path, NULL), 0);
	return s;
}

/* Originator i: 10.x.y.z for i < 1000, 2001:db8::i above. */
static struct bsc_addr orig_addr(unsigned i)
{
	struct bsc_addr a = { 0 };
	if (i % 3 != 2) {
		a.family = AF_INET;
		a.prefix = 32;
		a.bytes[0] = 10;
		a.bytes[1] = (uint8_t)(i >> 16);
		a.bytes[2] = (uint8_t)(i >> 8);
		a.bytes[3] = (uint8_t)i;
	} else {
		a.family = AF_INET6;
		a.prefix = 128;
		a.bytes[0] = 0x20;
		a.bytes[1] = 0x01;
		a.bytes[2] = 0x0d;
		a.bytes[3] = 0xb8;
		a.bytes[12] = (uint8_t)(i >> 24);
		a.bytes[13] = (uint8_t)(i >> 16);
		a.bytes[14] = (uint8_t)(i >> 8);
		a.bytes[15] = (uint8_t)i;
	}
	return a;
}

/* Querier i: 192.168.x.y, every fourth 2001:db8:ffff::i. */
static struct bsc_addr querier_addr(unsigned i)
{
	struct bsc_addr a = { 0 };
	if (i % 4 != 3) {
		a.family = AF_INET;
		a.prefix = 32;
		a.bytes[0] = (uint8_t)(172 + (i >> 24));
		a.bytes[1] = (uint8_t)(i >> 16);
		a.bytes[2] = (uint8_t)(i >> 8);
		a.bytes[3] = (uint8_t)i;
	} else {
		a.family = AF_INET6;
		a.prefix = 128;
		a.bytes[0] = 0x20;
		a.bytes[1] = 0x01;
		a.bytes[2] = 0x0d;
		a.bytes[3] = 0xb8;
		a.bytes[4] = 0xff;
		a.bytes[5] = 0xff;
		a.bytes[12] = (uint8_t)(i >> 24);
		a.bytes[13] = (uint8_t)(i >> 16);
		a.bytes[14] = (uint8_t)(i >> 8);
		a.bytes[15] = (uint8_t)i;
	}
	return a;
}

static struct query_event ptr_event(uint64_t t_ns, const struct bsc_addr *q,
				    const struct bsc_addr *o)
{
	struct query_event ev;
	memset(&ev, 0, sizeof ev);
	ev.time_ns = t_ns;
	ev.querier = *q;
	ev.querier_port = 5353;
	ev.qtype = 12;
	ev.orig.kind = REVNAME_FULL;
	ev.orig.addr = *o;
	return ev;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- exactness ---- */

#define EX_O 200
#define EX_Q 1500
#define EX_B 2
#define EX_N 200000

struct ex_cell {
	uint32_t n, first_ms, last_ms;
};

struct ex {
	struct ex_cell c[EX_B][EX_O][EX_Q];
	uint64_t nx[EX_B][EX_O];
	uint64_t bins[EX_B][EX_O];
	size_t rows_seen;
};

static int check_orig_row(void *ctx, const struct store_orig_entry *e)
{
	struct ex *x = ctx;
	unsigned b = (unsigned)((e->bucket_s - T0_S) / 3600);
	unsigned o;
	for (o = 0; o < EX_O; o++) {
		struct bsc_addr a = orig_addr(o);
		if (addr_cmp(&a, &e->orig) == 0)
			break;
	}
	assert_true(b < EX_B && o < EX_O);
	uint64_t q = 0, dq = 0;
	uint32_t first = UINT32_MAX, last = 0;
	for (unsigned k = 0; k < EX_Q; k++) {
		const struct ex_cell *c = &x->c[b][o][k];
		if (!c->n)
			continue;
		q += c->n;
		dq++;
		if (c->first_ms < first)
			first = c->first_ms;
		if (c->last_ms > last)
			last = c->last_ms;
	}
	assert_true(e->rec.queries == q);
	assert_true(e->rec.queriers == dq);
	assert_true(e->rec.nxdomain == x->nx[b][o]);
	assert_true(e->rec.bins == x->bins[b][o]);
	assert_int_equal(e->rec.nbins, 6);
	assert_true(e->rec.first_ns == e->bucket_s * NS + first * 1000000ull);
	assert_true(e->rec.last_ns == e->bucket_s * NS + last * 1000000ull);
	x->rows_seen++;
	return 0;
}

struct origq_check {
	struct ex *x;
	unsigned o;
	size_t rows;
};

static int check_origq_row(void *ctx, const struct store_origq_entry *e)
{
	struct origq_check *c = ctx;
	unsigned b = (unsigned)((e->bucket_s - T0_S) / 3600);
	unsigned k;
	for (k = 0; k < EX_Q; k++) {
		struct bsc_addr a = querier_addr(k);
		if (addr_cmp(&a, &e->querier) == 0)
			break;
	}
	assert_true(b < EX_B && k < EX_Q);
	const struct ex_cell *cell = &c->x->c[b][c->o][k];
	assert_true(e->rec.queries == cell->n);
	assert_true(e->rec.first_ns == e->bucket_s * NS + cell->first_ms * 1000000ull);
	assert_true(e->rec.last_ns == e->bucket_s * NS + cell->last_ms * 1000000ull);
	c->rows++;
	return 0;
}

static int check_querier_sum(void *ctx, const struct store_sum *e)
{
	struct origq_check *c = ctx;
	unsigned k;
	for (k = 0; k < EX_Q; k++) {
		struct bsc_addr a = querier_addr(k);
		if (addr_cmp(&a, &e->addr) == 0)
			break;
	}
	assert_true(k < EX_Q);
	uint64_t q = 0;
	uint32_t buckets = 0;
	for (unsigned b = 0; b < EX_B; b++) {
		q += c->x->c[b][c->o][k].n;
		buckets += c->x->c[b][c->o][k].n > 0;
	}
	assert_true(e->queries == q);
	assert_int_equal(e->buckets, buckets);
	c->rows++;
	return 0;
}

/* How exact_run hands the events over. */
enum ex_mode {
	EX_SINGLE,     /* agg_add, a flush every 70000 events */
	EX_BATCH,      /* agg_add_batch in runs of random length, the same flushes */
	EX_BATCH_FULL, /* agg_add_batch into a table of 1 MiB, flushed when full */
};

static int cmp_ev_time(const void *x, const void *y)
{
	const struct query_event *a = x, *b = y;
	return a->time_ns < b->time_ns ? -1 : a->time_ns > b->time_ns;
}

/* Add up to @n events of @evs as @mode says; flush into @s when full. */
static void ex_add(struct agg *a, struct store *s, struct query_event *evs, size_t n,
		   enum ex_mode mode, unsigned *flushes)
{
	if (mode == EX_SINGLE) {
		for (size_t i = 0; i < n; i++)
			assert_int_equal(agg_add(a, &evs[i]), 0);
		return;
	}
	size_t off = 0;
	if (mode == EX_BATCH_FULL) /* in time order, as in a capture: one bucket fills */
		qsort((void *)evs, n, sizeof *evs, cmp_ev_time);
	while (off < n) {
		size_t m = 1 + (size_t)(rnd() % 300), k = 0;
		if (m > n - off)
			m = n - off;
		int rc = agg_add_batch(a, evs + off, m, &k);
		if (mode == EX_BATCH) {
			assert_int_equal(rc, 0);
			assert_int_equal(k, m);
		}
		assert_true(rc == 0 || rc == AGG_FULL || rc == BSC_ENOSPC);
		assert_true(rc == BSC_ENOSPC ? k < m : k == m);
		off += k;
		if (rc != 0) {
			uint64_t in_table = agg_events(a);
			struct agg_flush_stats st;
			assert_int_equal(agg_flush(a, s, &st), 0);
			assert_true(st.events == in_table && st.lost == 0);
			(*flushes)++;
		}
	}
}

static void exact_run(struct tctx *t, const char *sub, enum ex_mode mode)
{
	struct ex *x = calloc(1, sizeof *x);
	assert_non_null(x);
	struct query_event *evs = calloc(70000, sizeof *evs);
	assert_non_null(evs);
	struct store *s = open_store(t->dir, sub);
	struct agg_opts small = { .mem_cap = AGG_MEM_CAP_MIN };
	struct agg *a;
	assert_int_equal(agg_new(&a, mode == EX_BATCH_FULL ? &small : NULL), 0);
	unsigned flushes = 0;

	uint64_t ptr_events = 0;
	size_t nev = 0;
	for (unsigned i = 0; i < EX_N; i++) {
		unsigned o = (unsigned)(rnd() % EX_O);
		/* Skewed querier choice: some queriers ask often. */
		unsigned q = (unsigned)(rnd() % (i % 2 ? 50 : EX_Q));
		uint64_t t_ns = T0_S * NS + rnd() % (EX_B * 3600 * NS);
		unsigned b = (unsigned)((t_ns / NS - T0_S) / 3600);
		uint32_t ms = (uint32_t)((t_ns - (T0_S + b * 3600ull) * NS) / 1000000ull);
		struct bsc_addr oa = orig_addr(o), qa = querier_addr(q);
		struct query_event ev = ptr_event(t_ns, &qa, &oa);
		if (rnd() % 10 == 0) {
			ev.rcode = 3;
			x->nx[b][o]++;
		}
		struct ex_cell *c = &x->c[b][o][q];
		if (!c->n || ms < c->first_ms)
			c->first_ms = ms;
		if (!c->n || ms > c->last_ms)
			c->last_ms = ms;
		c->n++;
		x->bins[b][o] |= 1ull << (ms / 600000);
		evs[nev++] = ev;
		ptr_events++;
		if (i % 70000 == 69999 || i == EX_N - 1) {
			ex_add(a, s, evs, nev, mode, &flushes);
			nev = 0;
		}
		if (i % 70000 == 69999 && mode != EX_BATCH_FULL) {
			struct agg_flush_stats st;
			assert_int_equal(agg_flush(a, s, &st), 0);
			assert_true(st.events == 70000);
			assert_true(st.lost == 0);
			assert_int_equal(agg_pairs(a), 0);
			flushes++;
		}
	}
	assert_int_equal(agg_flush(a, s, NULL), 0);
	flushes++;

	/* Every orig row, and as many rows as (bucket, originator) pairs. */
	size_t want_rows = 0, want_pairs = 0;
	for (unsigned b = 0; b < EX_B; b++) {
		for (unsigned o = 0; o < EX_O; o++) {
			bool any = false;
			for (unsigned k = 0; k < EX_Q; k++) {
				any |= x->c[b][o][k].n > 0;
				want_pairs += x->c[b][o][k].n > 0;
			}
			want_rows += any;
		}
	}
	assert_int_equal(store_orig_walk(s, 0, UINT64_MAX, check_orig_row, x), 0);
	assert_int_equal(x->rows_seen, want_rows);

	/* Every origq row of every originator; merged queriers. */
	size_t pairs_seen = 0;
	for (unsigned o = 0; o < EX_O; o++) {
		struct bsc_addr oa = orig_addr(o);
		struct origq_check c = { x, o, 0 };
		assert_int_equal(store_origq_walk(s, &oa, 0, UINT64_MAX, check_origq_row, &c), 0);
		pairs_seen += c.rows;
		if (o % 17 == 0) {
			struct origq_check m = { x, o, 0 };
			assert_int_equal(store_orig_queriers(s, &oa, 0, UINT64_MAX,
							     check_querier_sum, &m), 0);
			size_t distinct = 0;
			for (unsigned k = 0; k < EX_Q; k++)
				distinct += x->c[0][o][k].n || x->c[1][o][k].n;
			assert_int_equal(m.rows, distinct);
			struct store_sum sum;
			assert_int_equal(store_orig_summary(s, &oa, 0, UINT64_MAX, &sum), 0);
			assert_true(sum.queriers == distinct);
		}
	}
	assert_int_equal(pairs_seen, want_pairs);

	struct store_info info;
	assert_int_equal(store_info(s, &info), 0);
	assert_true(info.events == EX_N && info.ptr == ptr_events);
	assert_true(info.origq_records == want_pairs && info.orig_records == want_rows);
	assert_int_equal(info.flushes, flushes);
	assert_true(flushes >= 3);
	if (mode == EX_BATCH_FULL) {
		printf("agg: %u events in batches through a 1 MiB table: %u flushes\n", EX_N,
		       flushes);
		assert_true(flushes >= 4); /* most of them when full */
	}
	assert_true(info.buckets == EX_B);

	agg_free(a);
	store_close(s);
	free(evs);
	free(x);
}

static void test_agg_exact_counts_through_flushes(void **state)
{
	exact_run(*state, "single", EX_SINGLE);
}

static void test_agg_exact_counts_batches(void **state)
{
	exact_run(*state, "batch", EX_BATCH);
}

/* A small table: flushes when full, and sorts its pairs in place (they are
 * more than a quarter of its cap). */
static void test_agg_exact_counts_batches_full(void **state)
{
	exact_run(*state, "full", EX_BATCH_FULL);
}

/* ---- what is aggregated ---- */

static int count_rows(void *ctx, const struct store_orig_entry *e)
{
	(void)e;
	(*(size_t *)ctx)++;
	return 0;
}

static int get_bucket(void *ctx, const struct store_bucket_entry *e)
{
	*(struct agg_bucket_rec *)ctx = e->rec;
	return 1;
}

static void classify_run(const char *dir, const char *sub, bool no_classless, size_t *rows,
			 struct agg_bucket_rec *br)
{
	struct store *s = open_store(dir, sub);
	struct agg_opts o = { .no_classless = no_classless };
	struct agg *a;
	assert_int_equal(agg_new(&a, &o), 0);
	struct bsc_addr q;
	assert_int_equal(addr_parse(&q, "192.0.2.53", false), 0);
	const struct {
		const char *name;
		uint16_t qtype;
	} evs[] = {
		{ "4.3.2.1.in-addr.arpa", 12 },	     /* aggregated */
		{ "4.3.2.1.in-addr.arpa", 1 },	     /* other qtype */
		{ "4.3.2.1.in-addr.arpa", 255 },     /* other qtype */
		{ "3.2.1.in-addr.arpa", 12 },	     /* partial (zone cut) */
		{ "2.1.in-addr.arpa", 2 },	     /* partial, NS */
		{ "in-addr.arpa", 12 },		     /* partial */
		{ "8.b.d.0.1.0.0.2.ip6.arpa", 12 },   /* partial v6 */
		{ "5.0-63.3.3.10.in-addr.arpa", 12 }, /* RFC 2317 host */
		{ "0-63.3.3.10.in-addr.arpa", 12 },  /* RFC 2317 label: partial */
		{ "www.example.in-addr.arpa", 12 },  /* other name */
		{ "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa", 12 },
	};
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
		struct query_event ev;
		memset(&ev, 0, sizeof ev);
		ev.time_ns = T0_S * NS + i;
		ev.querier = q;
		ev.qtype = evs[i].qtype;
		revname_parse_text(evs[i].name, &ev.orig);
		assert_int_equal(agg_add(a, &ev), 0);
	}
	/* A PTR query without a usable querier address. */
	struct query_event bad;
	memset(&bad, 0, sizeof bad);
	bad.time_ns = T0_S * NS;
	bad.qtype = 12;
	revname_parse_text("9.9.9.9.in-addr.arpa", &bad.orig);
	assert_int_equal(agg_add(a, &bad), 0);

	assert_int_equal(agg_flush(a, s, NULL), 0);
	*rows = 0;
	assert_int_equal(store_orig_walk(s, 0, UINT64_MAX, count_rows, rows), 0);
	assert_int_equal(store_bucket_walk(s, 0, UINT64_MAX, get_bucket, br), 0);
	struct bsc_addr host;
	assert_int_equal(addr_parse(&host, "10.3.3.5", false), 0);
	struct store_sum sum;
	int rc = store_orig_summary(s, &host, 0, UINT64_MAX, &sum);
	assert_int_equal(rc, no_classless ? BSC_ENOENT : 0);
	agg_free(a);
	store_close(s);
}

static void test_agg_partial_and_other_qtypes_not_aggregated(void **state)
{
	struct tctx *t = *state;
	size_t rows;
	struct agg_bucket_rec br;

	classify_run(t->dir, "a", false, &rows, &br);
	assert_int_equal(rows, 3); /* 1.2.3.4, 10.3.3.5, 4321:0:1:2:3:4:567:89ab */
	assert_true(br.events == 12 && br.ptr == 3 && br.other_qtype == 2 && br.partial == 5 &&
		    br.other_name == 1 && br.invalid == 1);

	classify_run(t->dir, "b", true, &rows, &br);
	assert_int_equal(rows, 2);
	assert_true(br.events == 12 && br.ptr == 2 && br.partial == 6);
}

/* ---- batches and the two ways a flush sorts ---- */

/* Everything a store holds of the aggregates, in key order. */
struct dump {
	struct store_orig_entry o[4096];
	size_t no;
	struct store_origq_entry *q;
	size_t nq, capq;
	struct store_bucket_entry b[64];
	size_t nb;
};

static int dump_orig(void *ctx, const struct store_orig_entry *e)
{
	struct dump *d = ctx;
	assert_true(d->no < 4096);
	d->o[d->no++] = *e;
	return 0;
}

static int dump_origq(void *ctx, const struct store_origq_entry *e)
{
	struct dump *d = ctx;
	assert_true(d->nq < d->capq);
	d->q[d->nq++] = *e;
	return 0;
}

static int dump_bucket(void *ctx, const struct store_bucket_entry *e)
{
	struct dump *d = ctx;
	assert_true(d->nb < 64);
	d->b[d->nb++] = *e;
	return 0;
}

static struct dump *dump_store(struct store *s)
{
	struct dump *d = calloc(1, sizeof *d);
	assert_non_null(d);
	d->capq = 400000;
	d->q = calloc(d->capq, sizeof *d->q);
	assert_non_null(d->q);
	assert_int_equal(store_orig_walk(s, 0, UINT64_MAX, dump_orig, d), 0);
	for (size_t i = 0; i < d->no; i++) {
		uint64_t b = d->o[i].bucket_s;
		assert_int_equal(store_origq_walk(s, &d->o[i].orig, b, b + 1, dump_origq, d), 0);
	}
	assert_int_equal(store_bucket_walk(s, 0, UINT64_MAX, dump_bucket, d), 0);
	return d;
}

/* The same rows, counts and times; orig rows of one originator may come in
 * another order of buckets from the walks, so compare what the walks give. */
static void dump_same(const struct dump *x, const struct dump *y)
{
	assert_int_equal(x->no, y->no);
	assert_int_equal(x->nq, y->nq);
	assert_int_equal(x->nb, y->nb);
	for (size_t i = 0; i < x->no; i++) {
		assert_true(x->o[i].bucket_s == y->o[i].bucket_s);
		assert_int_equal(addr_cmp(&x->o[i].orig, &y->o[i].orig), 0);
		const struct agg_orig_rec *a = &x->o[i].rec, *b = &y->o[i].rec;
		assert_true(a->queries == b->queries && a->nxdomain == b->nxdomain &&
			    a->queriers == b->queriers && a->nbins == b->nbins &&
			    a->first_ns == b->first_ns && a->last_ns == b->last_ns &&
			    a->bins == b->bins);
	}
	for (size_t i = 0; i < x->nq; i++) {
		assert_true(x->q[i].bucket_s == y->q[i].bucket_s);
		assert_int_equal(addr_cmp(&x->q[i].orig, &y->q[i].orig), 0);
		assert_int_equal(addr_cmp(&x->q[i].querier, &y->q[i].querier), 0);
		const struct agg_origq_rec *a = &x->q[i].rec, *b = &y->q[i].rec;
		assert_true(a->queries == b->queries && a->first_ns == b->first_ns &&
			    a->last_ns == b->last_ns);
	}
	for (size_t i = 0; i < x->nb; i++)
		assert_memory_equal(&x->b[i], &y->b[i], sizeof x->b[i]);
}

static void dump_free(struct dump *d)
{
	free(d->q);
	free(d);
}

/* Events of every kind, over 5 buckets, not in time order. */
static void mixed_events(struct query_event *evs, size_t n)
{
	static const char *const other[] = { "3.2.1.in-addr.arpa", "5.0-63.3.3.10.in-addr.arpa",
					     "0-63.3.3.10.in-addr.arpa", "www.example.com" };
	for (size_t i = 0; i < n; i++) {
		struct bsc_addr oa = orig_addr((unsigned)(rnd() % 700));
		struct bsc_addr qa = querier_addr((unsigned)(rnd() % (i % 3 ? 40 : 3000)));
		uint64_t t = T0_S * NS + rnd() % (5 * 3600 * NS);
		evs[i] = ptr_event(t, &qa, &oa);
		evs[i].rcode = rnd() % 7 == 0 ? 3 : 0;
		unsigned k = (unsigned)(rnd() % 40);
		if (k < 4)
			revname_parse_text(other[k], &evs[i].orig);
		else if (k == 4)
			evs[i].qtype = 1;
		else if (k == 5)
			memset(&evs[i].querier, 0, sizeof evs[i].querier);
	}
}

/* agg_add_batch counts exactly what agg_add does, whatever the runs. */
static void test_agg_batch_same_as_single(void **state)
{
	struct tctx *t = *state;
	const size_t n = 150000;
	struct query_event *evs = calloc(n, sizeof *evs);
	assert_non_null(evs);
	mixed_events(evs, n);
	struct store *s1 = open_store(t->dir, "one"), *s2 = open_store(t->dir, "batch");
	struct agg *a1, *a2;
	assert_int_equal(agg_new(&a1, NULL), 0);
	assert_int_equal(agg_new(&a2, NULL), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(agg_add(a1, &evs[i]), 0);
	for (size_t off = 0, m; off < n; off += m) {
		m = (size_t)(rnd() % 5 == 0 ? 1 : rnd() % 700);
		if (m > n - off)
			m = n - off;
		size_t k = 99;
		assert_int_equal(agg_add_batch(a2, evs + off, m, &k), 0);
		assert_int_equal(k, m);
	}
	assert_int_equal(agg_events(a1), agg_events(a2));
	assert_int_equal(agg_pairs(a1), agg_pairs(a2));
	assert_int_equal(agg_origs(a1), agg_origs(a2));
	assert_int_equal(agg_add_batch(a2, evs, 0, NULL), 0);
	assert_int_equal(agg_flush(a1, s1, NULL), 0);
	assert_int_equal(agg_flush(a2, s2, NULL), 0);
	struct dump *d1 = dump_store(s1), *d2 = dump_store(s2);
	assert_true(d1->no > 1000 && d1->nq > 10000 && d1->nb == 5);
	dump_same(d1, d2);
	dump_free(d1);
	dump_free(d2);
	agg_free(a1);
	agg_free(a2);
	store_close(s1);
	store_close(s2);
	free(evs);
}

/* A batch that does not fit: AGG_FULL first, then BSC_ENOSPC with the
 * events added so far counted, nothing more; the rest goes in after a
 * flush. */
static void test_agg_batch_refused(void **state)
{
	struct tctx *t = *state;
	const size_t n = 40000;
	struct query_event *evs = calloc(n, sizeof *evs);
	assert_non_null(evs);
	struct bsc_addr oa = orig_addr(1);
	for (size_t i = 0; i < n; i++) {
		struct bsc_addr qa = querier_addr((unsigned)i);
		evs[i] = ptr_event(T0_S * NS + i, &qa, &oa);
	}
	struct agg_opts o = { .mem_cap = AGG_MEM_CAP_MIN };
	struct agg *a;
	assert_int_equal(agg_new(&a, &o), 0);
	struct store *s = open_store(t->dir, "db");
	size_t off = 0, k = 0;
	unsigned refusals = 0, fulls = 0;
	while (off < n) {
		size_t m = n - off > 1000 ? 1000 : n - off;
		int rc = agg_add_batch(a, evs + off, m, &k);
		assert_true(agg_mem_bytes(a) <= AGG_MEM_CAP_MIN);
		assert_true(rc == 0 || rc == AGG_FULL || rc == BSC_ENOSPC);
		assert_true(rc == BSC_ENOSPC ? k < m : k == m);
		off += k;
		fulls += rc == AGG_FULL;
		if (rc == BSC_ENOSPC) {
			/* exactly the events before the refused one are in */
			assert_int_equal(agg_events(a), agg_pairs(a));
			assert_int_equal(agg_add(a, &evs[off]), BSC_ENOSPC);
			assert_int_equal(agg_flush(a, s, NULL), 0);
			refusals++;
		}
	}
	assert_int_equal(agg_flush(a, s, NULL), 0);
	assert_true(refusals >= 2 && fulls >= 1);
	struct store_sum sum;
	assert_int_equal(store_orig_summary(s, &oa, 0, UINT64_MAX, &sum), 0);
	assert_true(sum.queries == n && sum.queriers == n);
	agg_free(a);
	store_close(s);
	free(evs);
}

/* A flush that has to grow the map writes again from the start: the same
 * store whether the table sorted its pairs in place (a small table, time-
 * ordered events: one bucket holds most of it) or into a second array. */
static void test_agg_flush_grows_both_sorts(void **state)
{
	struct tctx *t = *state;
	const unsigned n = 14000; /* pairs: 28 originators x 500 queriers */
	struct dump *d[2];
	for (int small = 0; small < 2; small++) {
		char path[300];
		snprintf(path, sizeof path, "%s/%s", t->dir, small ? "small" : "large");
		struct store_opts so = { .map_size = 256 << 10, .map_max = 64 << 20 };
		struct store *s;
		assert_int_equal(store_open(&s, path, &so), 0);
		struct agg_opts o = { .mem_cap = small ? AGG_MEM_CAP_MIN : 0 };
		struct agg *a;
		assert_int_equal(agg_new(&a, &o), 0);
		for (unsigned i = 0; i < n; i++) {
			struct bsc_addr oa = orig_addr(i / 500), qa = querier_addr(i % 500);
			struct query_event ev = ptr_event(T0_S * NS + i * 1000000ull, &qa, &oa);
			int rc = agg_add(a, &ev);
			assert_true(rc == 0 || rc == AGG_FULL);
		}
		assert_int_equal(agg_pairs(a), n);
		struct agg_flush_stats st;
		assert_int_equal(agg_flush(a, s, &st), 0);
		assert_true(st.grows > 0 && st.pairs == n && st.new_pairs == n);
		d[small] = dump_store(s);
		agg_free(a);
		store_close(s);
	}
	assert_int_equal(d[0]->nq, n);
	dump_same(d[0], d[1]);
	dump_free(d[0]);
	dump_free(d[1]);
}

/* ---- memory ---- */

static void test_agg_cap_reports_full(void **state)
{
	struct tctx *t = *state;
	struct agg_opts o = { .mem_cap = AGG_MEM_CAP_MIN };
	struct agg *a;
	assert_int_equal(agg_new(&a, &o), 0);
	struct bsc_addr oa = orig_addr(1);
	unsigned i = 0, first_full = 0;
	uint64_t accepted = 0;
	int rc;
	for (;; i++) {
		struct bsc_addr qa = querier_addr(i);
		struct query_event ev = ptr_event(T0_S * NS, &qa, &oa);
		rc = agg_add(a, &ev);
		assert_true(agg_mem_bytes(a) <= AGG_MEM_CAP_MIN);
		if (rc == BSC_ENOSPC)
			break;
		accepted++;
		if (rc == AGG_FULL && !first_full)
			first_full = i;
		assert_true(rc == 0 || rc == AGG_FULL);
		assert_true(i < 1000000);
	}
	assert_true(first_full > 1000);
	assert_true(accepted > first_full);
	printf("agg: cap %u bytes: full after %u pairs, refused after %llu\n", AGG_MEM_CAP_MIN,
	       first_full, (unsigned long long)accepted);
	/* Flush; then the refused event goes in. */
	struct store *s = open_store(t->dir, "db");
	assert_int_equal(agg_flush(a, s, NULL), 0);
	struct bsc_addr qa = querier_addr(i);
	struct query_event ev = ptr_event(T0_S * NS, &qa, &oa);
	assert_int_equal(agg_add(a, &ev), 0);
	assert_int_equal(agg_flush(a, s, NULL), 0);
	struct store_sum sum;
	assert_int_equal(store_orig_summary(s, &oa, 0, UINT64_MAX, &sum), 0);
	assert_true(sum.queries == accepted + 1 && sum.queriers == accepted + 1);
	agg_free(a);
	store_close(s);

	/* Too many buckets at once: full at 3/4, refused past the limit. */
	assert_int_equal(agg_new(&a, NULL), 0);
	for (unsigned b = 0; b < AGG_MAX_BUCKETS; b++) {
		struct bsc_addr q1 = querier_addr(1);
		struct query_event e2 = ptr_event((T0_S + b * 3600ull) * NS, &q1, &oa);
		rc = agg_add(a, &e2);
		assert_int_equal(rc, b + 1 >= AGG_MAX_BUCKETS * 3 / 4 ? AGG_FULL : 0);
	}
	struct bsc_addr q1 = querier_addr(1);
	struct query_event e3 = ptr_event((T0_S + 9999 * 3600ull) * NS, &q1, &oa);
	assert_int_equal(agg_add(a, &e3), BSC_ENOSPC);
	agg_free(a);
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_agg_bytes_per_pair(void **state)
{
	struct tctx *t = *state;
	struct agg_opts o = { .mem_cap = 1u << 30 };
	struct agg *a;
	const unsigned n = 1000000, no = 4000, nq = 50000;

	assert_int_equal(agg_new(&a, &o), 0);
	/* 1 M distinct pairs: 4000 originators x 250 of 50000 queriers each. */
	double c0 = cpu_s();
	for (unsigned i = 0; i < n; i++) {
		unsigned oi = i % no;
		unsigned qi = ((i / no) * 7919u + oi * 31u) % nq;
		struct bsc_addr oa = orig_addr(oi), qa = querier_addr(qi);
		struct query_event ev = ptr_event(T0_S * NS + i, &qa, &oa);
		assert_int_equal(agg_add(a, &ev), 0);
	}
	double c1 = cpu_s();
	assert_int_equal(agg_pairs(a), n);
	double bpp = (double)agg_mem_bytes(a) / n;
	/* The same pairs again: no growth, the steady state. */
	for (unsigned i = 0; i < n; i++) {
		unsigned oi = i % no;
		unsigned qi = ((i / no) * 7919u + oi * 31u) % nq;
		struct bsc_addr oa = orig_addr(oi), qa = querier_addr(qi);
		struct query_event ev = ptr_event(T0_S * NS + i, &qa, &oa);
		assert_int_equal(agg_add(a, &ev), 0);
	}
	double c2 = cpu_s();
	printf("agg: %u pairs (%u originators, %u queriers): %.1f bytes/pair; agg_add %.2f M "
	       "events/s growing, %.2f M/s steady (CPU time)\n",
	       n, no, nq, bpp, n / (c1 - c0) / 1e6, n / (c2 - c1) / 1e6);
	assert_true(bpp <= 64.0);

	/* Into LMDB: one bucket, 1 M pairs; bytes per pair on disk. */
	struct store *s = open_store(t->dir, "db");
	struct agg_flush_stats st;
	assert_int_equal(agg_flush(a, s, &st), 0);
	assert_true(st.pairs == n && st.new_pairs == n && st.origs == no);
	struct store_db_stat q, og;
	assert_int_equal(store_db_stat(s, STORE_DB_ORIGQ, &q), 0);
	assert_int_equal(store_db_stat(s, STORE_DB_ORIG, &og), 0);
	assert_true(q.entries == n);
	printf("agg: flush of %u pairs %.2f s; LMDB origq %.1f bytes/pair (mixed v4/v6), orig "
	       "%.1f bytes/row\n",
	       n, (double)st.elapsed_ns / 1e9, (double)q.bytes / (double)q.entries,
	       (double)og.bytes / (double)og.entries);
	store_close(s);

	/* The flood: every pair a new originator (distinct names, few queriers). */
	agg_reset(a);
	for (unsigned i = 0; i < n; i++) {
		struct bsc_addr oa = orig_addr(i), qa = querier_addr(i % 100);
		struct query_event ev = ptr_event(T0_S * NS + i, &qa, &oa);
		assert_int_equal(agg_add(a, &ev), 0);
	}
	printf("agg: flood of %u distinct originators from 100 queriers: %.1f bytes/pair\n", n,
	       (double)agg_mem_bytes(a) / (double)agg_pairs(a));
	agg_free(a);
}

/* LMDB bytes per pair for IPv4 only and IPv6 only, with a second bucket
 * merged on top (the MDB_NOOVERWRITE path). */
static void test_agg_lmdb_bytes_per_pair(void **state)
{
	struct tctx *t = *state;
	const unsigned n = 200000;
	for (int v6 = 0; v6 < 2; v6++) {
		struct store *s = open_store(t->dir, v6 ? "v6" : "v4");
		struct agg *a;
		assert_int_equal(agg_new(&a, NULL), 0);
		for (int round = 0; round < 2; round++) {
			for (unsigned i = 0; i < n; i++) {
				unsigned oi = (i % 2000) * 3 + (v6 ? 2 : 0);
				unsigned qi = ((i / 2000) * 7919u + i * 31u) % 100000;
				qi = qi / 4 * 4 + (v6 ? 3 : 0);
				struct bsc_addr oa = orig_addr(oi), qa = querier_addr(qi);
				struct query_event ev = ptr_event(T0_S * NS + i, &qa, &oa);
				assert_true(agg_add(a, &ev) >= 0);
			}
			assert_int_equal(agg_flush(a, s, NULL), 0);
		}
		struct store_db_stat q;
		assert_int_equal(store_db_stat(s, STORE_DB_ORIGQ, &q), 0);
		printf("agg: LMDB origq, %s only: %llu pairs, %.1f bytes/pair\n",
		       v6 ? "IPv6" : "IPv4", (unsigned long long)q.entries,
		       (double)q.bytes / (double)q.entries);
		assert_true(q.entries <= n);
		agg_free(a);
		store_close(s);
	}
}

/* ---- codecs ---- */

static void test_agg_record_codecs(void **state)
{
	(void)state;
	struct agg_orig_rec o = { .queries = 10, .nxdomain = 3, .queriers = 4, .nbins = 6,
				  .first_ns = 5, .last_ns = 9, .bins = 0x21 };
	uint8_t b[64];
	assert_int_equal(agg_orig_encode(&o, b), AGG_ORIG_LEN);
	struct agg_orig_rec d;
	assert_int_equal(agg_orig_decode(b, AGG_ORIG_LEN, &d), 0);
	assert_true(d.queries == o.queries && d.nxdomain == o.nxdomain);
	assert_true(d.queriers == o.queriers && d.nbins == o.nbins && d.bins == o.bins);
	assert_true(d.first_ns == o.first_ns && d.last_ns == o.last_ns);
	for (size_t l = 0; l < sizeof b; l++) {
		if (l != AGG_ORIG_LEN)
			assert_int_equal(agg_orig_decode(b, l, &d), BSC_EMALF);
	}
	b[0] = 2;
	assert_int_equal(agg_orig_decode(b, AGG_ORIG_LEN, &d), BSC_EMALF);
	struct agg_orig_rec bad[] = {
		{ .queries = 1, .queriers = 2, .nbins = 6 },		/* queriers > queries */
		{ .queries = 1, .nxdomain = 2, .nbins = 6 },		/* nxdomain > queries */
		{ .queries = 1, .nbins = 6, .first_ns = 2, .last_ns = 1 }, /* first > last */
		{ .queries = 1, .nbins = 6, .bins = 0x40 },		/* bin beyond nbins */
		{ .queries = 1, .nbins = 0 },
		{ .queries = 1, .nbins = 65 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		agg_orig_encode(&bad[i], b);
		assert_int_equal(agg_orig_decode(b, AGG_ORIG_LEN, &d), BSC_EMALF);
	}

	struct agg_origq_rec q = { .queries = 7, .first_ns = T0_S * NS + 1000000,
				   .last_ns = T0_S * NS + 3599999000000ull };
	assert_int_equal(agg_origq_encode(&q, T0_S, b), AGG_ORIGQ_LEN);
	struct agg_origq_rec dq;
	assert_int_equal(agg_origq_decode(b, AGG_ORIGQ_LEN, T0_S, &dq), 0);
	assert_true(dq.queries == 7 && dq.first_ns == q.first_ns && dq.last_ns == q.last_ns);
	assert_int_equal(agg_origq_decode(b, AGG_ORIGQ_LEN - 1, T0_S, &dq), BSC_EMALF);
	struct agg_origq_rec m = dq;
	agg_origq_merge(&m, &dq);
	assert_true(m.queries == 14);
	m.queries = UINT32_MAX;
	agg_origq_merge(&m, &dq);
	assert_true(m.queries == UINT32_MAX); /* saturates */

	struct agg_bucket_rec br = { .events = 6, .ptr = 1, .partial = 2, .other_qtype = 1,
				     .other_name = 1, .invalid = 1 };
	assert_int_equal(agg_bucket_encode(&br, b), AGG_BUCKET_LEN);
	struct agg_bucket_rec db;
	assert_int_equal(agg_bucket_decode(b, AGG_BUCKET_LEN, &db), 0);
	assert_memory_equal(&db, &br, sizeof db);
	br.events = 7;
	agg_bucket_encode(&br, b);
	assert_int_equal(agg_bucket_decode(b, AGG_BUCKET_LEN, &db), BSC_EMALF);
}

static void test_agg_options(void **state)
{
	(void)state;
	struct agg *a;
	struct agg_opts bad[] = {
		{ .bucket_len = 3600, .bin_len = 7 },	       /* does not divide */
		{ .bucket_len = 3600, .bin_len = 30 },	       /* 120 bins */
		{ .bucket_len = 40 * 86400, .bin_len = 86400 }, /* too long */
		{ .mem_cap = 1000 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(agg_new(&a, &bad[i]), BSC_EINVAL);
	struct agg_opts ok = { .bucket_len = 86400, .bin_len = 1800 };
	assert_int_equal(agg_new(&a, &ok), 0);
	assert_int_equal(agg_bucket_len(a), 86400);
	assert_int_equal(agg_bin_len(a), 1800);
	agg_free(a);
	agg_free(NULL);
}

/* A store with another bucket length refuses the flush; nothing is lost. */
static void test_agg_flush_length_mismatch(void **state)
{
	struct tctx *t = *state;
	struct store *s = open_store(t->dir, "db");
	struct agg_opts o = { .bucket_len = 600, .bin_len = 60 };
	struct agg *a;
	assert_int_equal(agg_new(&a, &o), 0);
	struct bsc_addr oa = orig_addr(1), qa = querier_addr(1);
	struct query_event ev = ptr_event(T0_S * NS, &qa, &oa);
	assert_int_equal(agg_add(a, &ev), 0);
	assert_int_equal(agg_flush(a, s, NULL), BSC_EINVAL);
	assert_true(agg_events(a) == 1);
	agg_free(a);
	store_close(s);
}

/* ---- torture ---- */

static void test_agg_torture_alloc(void **state)
{
	struct tctx *t = *state;
	const unsigned n = 5000;
	bool clean = false;

	for (long k = 0; !clean && k < 200; k++) {
		char sub[32];
		snprintf(sub, sizeof sub, "t%ld", k);
		struct store *s = open_store(t->dir, sub);
		struct agg *a = NULL;
		mem_fail_after(k);
		int rc = agg_new(&a, NULL);
		if (rc < 0) {
			mem_fail_after(-1);
			assert_int_equal(rc, BSC_ENOMEM);
			store_close(s);
			continue;
		}
		uint64_t accepted = 0;
		bool refused = false;
		for (unsigned i = 0; i < n; i++) {
			struct bsc_addr oa = orig_addr(i % 7), qa = querier_addr(i);
			struct query_event ev = ptr_event(T0_S * NS + i, &qa, &oa);
			rc = agg_add(a, &ev);
			assert_true(rc == 0 || rc == AGG_FULL || rc == BSC_ENOSPC);
			if (rc >= 0)
				accepted++;
			else
				refused = true;
		}
		rc = agg_flush(a, s, NULL);
		mem_fail_after(-1);
		if (rc == BSC_ENOMEM) /* table kept: the retry writes it all */
			rc = agg_flush(a, s, NULL);
		assert_int_equal(rc, 0);
		struct store_info info;
		assert_int_equal(store_info(s, &info), 0);
		assert_true(info.events == accepted && info.ptr == accepted);
		clean = !refused && k > 20;
		agg_free(a);
		store_close(s);
	}
	assert_true(clean);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agg_record_codecs),
		cmocka_unit_test(test_agg_options),
		cmocka_unit_test_setup_teardown(test_agg_exact_counts_through_flushes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_agg_exact_counts_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agg_exact_counts_batches_full, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_agg_batch_same_as_single, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agg_batch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agg_flush_grows_both_sorts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agg_partial_and_other_qtypes_not_aggregated,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_agg_cap_reports_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agg_flush_length_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agg_torture_alloc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agg_bytes_per_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agg_lmdb_bytes_per_pair, setup, teardown),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
