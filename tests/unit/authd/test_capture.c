/* tests/unit/authd/test_capture.c — the capture rings (order, wraparound, a
 * full ring counts drops, the half-full wake-up) and the store writer run
 * in-process on a store in a fresh folder per test (inside the program's
 * temporary folder, tests/helpers/tmpdir.h): events pushed by two producer
 * threads end up exactly once in the LMDB aggregates (read back through the
 * store readers) and in the event-log segments; a small memory cap flushes
 * early and stays exact; a full LMDB map is counted, never silent; TTLs
 * reach meta.
 * The producer threads are plain pthreads; everything else runs here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/helpers/tmpdir.h"
#include "authd/capture.h"
#include "authd/writer.h"
#include "common/err.h"
#include "common/evlog.h"
#include "common/store.h"

#define T0_NS (1794999600ull * 1000000000ull) /* 2026-11-18T11:00:00Z */
#define NORIG 97u
#define NQ 211u

struct tctx {
	char dir[256];
	char db[300];
	char log[300];
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
	snprintf(t->log, sizeof t->log, "%s/db/events", t->dir);
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

static void v4(struct bsc_addr *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	memset(a, 0, sizeof *a);
	a->family = AF_INET;
	a->prefix = 32;
	a->bytes[0] = b0;
	a->bytes[1] = b1;
	a->bytes[2] = b2;
	a->bytes[3] = b3;
}

/* Event number @i of producer @p: a PTR query for originator 10.20.0.(i %
 * NORIG) from querier 127.0.p.((i / 3) % NQ); every 10th one a partial
 * name.  time_ns carries (p, i) so order can be checked. */
static void make_event(struct query_event *ev, unsigned p, uint64_t i)
{
	memset(ev, 0, sizeof *ev);
	ev->time_ns = T0_NS + i * 1000u + p;
	v4(&ev->querier, 127, 0, (uint8_t)p, (uint8_t)((i / 3) % NQ));
	ev->querier_port = (uint16_t)(1024 + i % 50000);
	ev->qtype = 12;
	if (i % 10 == 9) {
		ev->orig.kind = REVNAME_PARTIAL;
		v4(&ev->orig.addr, 10, 20, 0, 0);
		ev->orig.addr.prefix = 16;
		return;
	}
	ev->orig.kind = REVNAME_FULL;
	v4(&ev->orig.addr, 10, 20, 0, (uint8_t)(i % NORIG));
}

/* ---- rings ---- */

static void test_capture_ring_order_full_wrap(void **state)
{
	(void)state;
	struct capture *c = NULL;
	struct query_event ev;
	const struct query_event *evs = NULL;

	assert_int_equal(capture_open_rings(&c, NULL, (uid_t)-1, (gid_t)-1, 1, 64), 0);
	assert_true(capture_has_rings(c));
	assert_int_equal(capture_producers(c), 1);
	struct capture_worker *cw = capture_worker_get(c, 0);
	assert_non_null(cw);
	assert_null(capture_worker_get(c, 1));

	assert_int_equal(capture_peek(c, 0, &evs, 1000), 0);
	for (uint64_t i = 0; i < 64; i++) {
		make_event(&ev, 0, i);
		capture_event(cw, &ev);
	}
	/* Full: the 65th and 66th are dropped and counted. */
	make_event(&ev, 0, 64);
	capture_event(cw, &ev);
	capture_event(cw, &ev);
	struct capture_stats cs;
	capture_stats_get(c, &cs);
	assert_int_equal(cs.events, 66);
	assert_int_equal(cs.dropped, 2);
	assert_int_equal(capture_dropped(c), 2);
	char line[256];
	assert_true(capture_stats_format(&cs, line, sizeof line) > 0);
	assert_non_null(strstr(line, "dropped 2"));

	/* Oldest first, 40 released. */
	size_t n = capture_peek(c, 0, &evs, 40);
	assert_int_equal(n, 40);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(evs[k].time_ns, T0_NS + k * 1000u);
	capture_release(c, 0, 40);

	/* 40 more go in, wrapping around the end of the ring. */
	for (uint64_t i = 100; i < 140; i++) {
		make_event(&ev, 0, i);
		capture_event(cw, &ev);
	}
	capture_stats_get(c, &cs);
	assert_int_equal(cs.dropped, 2);
	/* The run stops at the ring's end (24 left), then continues at its start. */
	n = capture_peek(c, 0, &evs, 1000);
	assert_int_equal(n, 24);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(evs[k].time_ns, T0_NS + (40 + k) * 1000u);
	capture_release(c, 0, n);
	n = capture_peek(c, 0, &evs, 1000);
	assert_int_equal(n, 40);
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(evs[k].time_ns, T0_NS + (100 + k) * 1000u);
		assert_int_equal(evs[k].querier.bytes[3], ((100 + k) / 3) % NQ);
	}
	capture_release(c, 0, n);
	assert_int_equal(capture_peek(c, 0, &evs, 1000), 0);
	assert_int_equal(capture_close(c), 0);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1;
}

static void test_capture_wake_half_full(void **state)
{
	(void)state;
	struct capture *c = NULL;
	struct query_event ev;
	const struct query_event *evs = NULL;

	assert_int_equal(capture_open_rings(&c, NULL, (uid_t)-1, (gid_t)-1, 2, 64), 0);
	int fd = capture_wake_fd(c);
	assert_true(fd >= 0);
	struct capture_worker *cw = capture_worker_get(c, 1);
	for (uint64_t i = 0; i < 31; i++) {
		make_event(&ev, 1, i);
		capture_event(cw, &ev);
	}
	capture_batch_end(cw);
	assert_false(readable(fd)); /* below half: the consumer's timer is enough */
	make_event(&ev, 1, 31);
	capture_event(cw, &ev);
	capture_batch_end(cw);
	assert_true(readable(fd));
	capture_wake_ack(c);
	assert_false(readable(fd));
	/* Drained below half: no new wake-up. */
	size_t n = capture_peek(c, 1, &evs, 20);
	assert_int_equal(n, 20);
	capture_release(c, 1, n);
	capture_batch_end(cw);
	assert_false(readable(fd));
	assert_int_equal(capture_peek(c, 0, &evs, 10), 0); /* the other ring is empty */
	assert_int_equal(capture_close(c), 0);
}

static void test_capture_counting_only_and_bad_size(void **state)
{
	(void)state;
	struct capture *c = NULL;
	struct query_event ev;
	const struct query_event *evs = NULL;

	assert_int_equal(capture_open(&c, NULL, (uid_t)-1, (gid_t)-1, 1), 0);
	assert_false(capture_has_rings(c));
	assert_int_equal(capture_wake_fd(c), -1);
	make_event(&ev, 0, 9); /* partial */
	capture_event(capture_worker_get(c, 0), &ev);
	make_event(&ev, 0, 1);
	capture_event(capture_worker_get(c, 0), &ev);
	capture_batch_end(capture_worker_get(c, 0));
	struct capture_stats cs;
	capture_stats_get(c, &cs);
	assert_int_equal(cs.events, 2);
	assert_int_equal(cs.full, 1);
	assert_int_equal(cs.partial, 1);
	assert_int_equal(cs.dropped, 0);
	assert_int_equal(capture_peek(c, 0, &evs, 10), 0);
	capture_close(c);

	c = NULL;
	assert_int_equal(capture_open_rings(&c, NULL, (uid_t)-1, (gid_t)-1, 1, 100), BSC_EINVAL);
	assert_null(c);
	assert_int_equal(capture_open_rings(&c, NULL, (uid_t)-1, (gid_t)-1, 1, 32), BSC_EINVAL);
	assert_int_equal(capture_close(NULL), 0);
}

/* ---- the writer ---- */

struct producer {
	struct capture_worker *cw;
	unsigned p;
	uint64_t n;
};

static void *producer_main(void *arg)
{
	struct producer *pr = arg;
	struct query_event ev;
	for (uint64_t i = 0; i < pr->n; i++) {
		make_event(&ev, pr->p, i);
		capture_event(pr->cw, &ev);
		if (i % 64 == 63)
			capture_batch_end(pr->cw);
	}
	capture_batch_end(pr->cw);
	return NULL;
}

static void writer_conf_init(struct writer_conf *wc, const struct tctx *t)
{
	memset(wc, 0, sizeof *wc);
	wc->db_dir = t->db;
	wc->event_log = true;
	wc->log_dir = t->log;
	wc->segment_size = 256 << 10; /* several segments */
	wc->segment_age_ms = 3600000;
	wc->log_sync = EVLOG_SYNC_CLOSE;
	wc->bucket_len = 3600;
	wc->bin_len = 600;
	wc->flush_interval_ms = 100;
	wc->memory_cap = 64 << 20;
	wc->map_size = 64 << 20;
	wc->map_max = 1ull << 30;
	wc->sync = STORE_SYNC_NOMETA;
	wc->owner_uid = (uid_t)-1;
	wc->owner_gid = (gid_t)-1;
	wc->ptr_ttl = 3600;
	wc->neg_ttl = 900;
}

/* Run two producers of @per events each through a writer; returns the ring
 * drops. */
static uint64_t run_writer(const struct writer_conf *wc, size_t ring, uint64_t per,
			   int *close_rc, struct writer_stats *ws)
{
	struct capture *c = NULL;
	struct writer *w = NULL;
	pthread_t th[2];
	struct producer pr[2];

	assert_int_equal(capture_open_rings(&c, NULL, (uid_t)-1, (gid_t)-1, 2, ring), 0);
	assert_int_equal(writer_open(&w, wc, c), 0);
	assert_int_equal(writer_start(w), 0);
	for (unsigned p = 0; p < 2; p++) {
		pr[p].cw = capture_worker_get(c, p);
		pr[p].p = p;
		pr[p].n = per;
		assert_int_equal(pthread_create(&th[p], NULL, producer_main, &pr[p]), 0);
	}
	for (unsigned p = 0; p < 2; p++)
		assert_int_equal(pthread_join(th[p], NULL), 0);
	writer_set_ttls(w, 7200, 300);
	writer_stats_get(w, ws);
	char line[512];
	assert_true(writer_stats_format(ws, line, sizeof line) > 0);
	assert_non_null(strstr(line, "store: "));
	*close_rc = writer_close(w);
	uint64_t dropped = capture_dropped(c);
	struct capture_stats cs;
	capture_stats_get(c, &cs);
	assert_int_equal(cs.events, 2 * per);
	assert_int_equal(capture_close(c), 0);
	return dropped;
}

/* Events in every segment of @dir (each must be complete: closed cleanly). */
static uint64_t evlog_count(const char *dir, uint64_t *segments)
{
	char **names = NULL;
	size_t n = 0;
	uint64_t total = 0;
	assert_int_equal(evlog_list(dir, &names, &n), 0);
	for (size_t i = 0; i < n; i++) {
		char path[512];
		char err[256];
		struct evlog_reader *r = NULL;
		struct query_event ev;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		assert_int_equal(evlog_reader_open(&r, path, err, sizeof err), 0);
		int rc;
		while ((rc = evlog_reader_next(r, &ev)) == 1)
			total++;
		assert_int_equal(rc, 0);
		assert_true(evlog_reader_closed(r));
		evlog_reader_close(r);
	}
	*segments = n;
	evlog_list_free(names, n);
	return total;
}

/* The store holds exactly @per events of each of two producers. */
static void check_store(const char *db, uint64_t per)
{
	struct store *s = NULL;
	struct store_opts ro = { .readonly = true };
	assert_int_equal(store_open(&s, db, &ro), 0);
	struct store_info si;
	assert_int_equal(store_info(s, &si), 0);
	assert_int_equal(si.events, 2 * per);
	assert_int_equal(si.dropped, 0);
	uint64_t partial = 2 * (per / 10);
	assert_int_equal(si.partial, partial);
	assert_int_equal(si.ptr, 2 * per - partial);
	assert_int_equal(si.ptr_ttl, 7200);
	assert_int_equal(si.neg_ttl, 300);

	/* Per originator: queries and distinct queriers, from the generator. */
	static uint64_t want_q[NORIG];
	static unsigned char seen[NORIG][2][NQ];
	memset(want_q, 0, sizeof want_q);
	memset(seen, 0, sizeof seen);
	for (unsigned p = 0; p < 2; p++) {
		for (uint64_t i = 0; i < per; i++) {
			if (i % 10 == 9)
				continue;
			want_q[i % NORIG]++;
			seen[i % NORIG][p][(i / 3) % NQ] = 1;
		}
	}
	uint64_t total = 0;
	for (unsigned o = 0; o < NORIG; o++) {
		struct bsc_addr a;
		v4(&a, 10, 20, 0, (uint8_t)o);
		unsigned wantd = 0;
		for (unsigned p = 0; p < 2; p++)
			for (unsigned q = 0; q < NQ; q++)
				wantd += seen[o][p][q];
		struct store_sum sum;
		int rc = store_orig_summary(s, &a, 0, UINT64_MAX, &sum);
		if (want_q[o] == 0) {
			assert_int_equal(rc, BSC_ENOENT);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(sum.queries, want_q[o]);
		assert_int_equal(sum.queriers, wantd);
		total += sum.queries;
	}
	assert_int_equal(total, si.ptr);
	store_close(s);
}

static void test_writer_two_producers_exact(void **state)
{
	struct tctx *t = *state;
	struct writer_conf wc;
	struct writer_stats ws;
	int rc = -1;
	const uint64_t per = 50000; /* fits the rings: nothing can be dropped */

	writer_conf_init(&wc, t);
	uint64_t dropped = run_writer(&wc, 65536, per, &rc, &ws);
	assert_int_equal(rc, 0);
	assert_int_equal(dropped, 0);
	check_store(t->db, per);
	uint64_t segs = 0;
	assert_int_equal(evlog_count(t->log, &segs), 2 * per);
	assert_true(segs >= 2); /* 256 KiB segments: rotated by size */
}

static void test_writer_small_cap_flushes_early(void **state)
{
	struct tctx *t = *state;
	struct writer_conf wc;
	struct writer_stats ws;
	int rc = -1;
	const uint64_t per = 40000;

	writer_conf_init(&wc, t);
	wc.memory_cap = 2 << 20;      /* two 1 MiB tables */
	wc.flush_interval_ms = 3600000; /* only a full table (or the end) flushes */
	wc.event_log = false;
	/* Many distinct pairs: every event from another querier. */
	struct capture *c = NULL;
	struct writer *w = NULL;
	assert_int_equal(capture_open_rings(&c, NULL, (uid_t)-1, (gid_t)-1, 1, 1 << 18), 0);
	assert_int_equal(writer_open(&w, &wc, c), 0);
	assert_int_equal(writer_start(w), 0);
	struct capture_worker *cw = capture_worker_get(c, 0);
	const uint64_t n = 200000;
	for (uint64_t i = 0; i < n; i++) {
		struct query_event ev;
		memset(&ev, 0, sizeof ev);
		ev.time_ns = T0_NS + i;
		v4(&ev.querier, 127, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
		ev.qtype = 12;
		ev.orig.kind = REVNAME_FULL;
		v4(&ev.orig.addr, 10, 20, (uint8_t)(i >> 8), (uint8_t)(i % 7));
		capture_event(cw, &ev);
	}
	capture_batch_end(cw);
	rc = writer_close(w);
	assert_int_equal(rc, 0);
	assert_int_equal(capture_dropped(c), 0);
	capture_close(c);
	(void)ws;
	(void)per;

	struct store *s = NULL;
	struct store_opts ro = { .readonly = true };
	assert_int_equal(store_open(&s, t->db, &ro), 0);
	struct store_info si;
	assert_int_equal(store_info(s, &si), 0);
	assert_int_equal(si.events, n);
	assert_int_equal(si.ptr, n);
	assert_int_equal(si.dropped, 0);
	assert_int_equal(si.origq_records, n); /* every pair distinct, each once */
	assert_true(si.flushes >= 3);           /* the cap forced early flushes */
	store_close(s);
}

static void test_writer_tiny_rings_never_silent(void **state)
{
	struct tctx *t = *state;
	struct writer_conf wc;
	struct writer_stats ws;
	int rc = -1;
	const uint64_t per = 100000;

	writer_conf_init(&wc, t);
	uint64_t dropped = run_writer(&wc, 64, per, &rc, &ws);
	assert_int_equal(rc, 0);
	struct store *s = NULL;
	struct store_opts ro = { .readonly = true };
	assert_int_equal(store_open(&s, t->db, &ro), 0);
	struct store_info si;
	assert_int_equal(store_info(s, &si), 0);
	/* Whatever the rings could not take is counted: stored + dropped = sent. */
	assert_int_equal(si.events + si.dropped, 2 * per);
	assert_int_equal(si.dropped, dropped);
	store_close(s);
	uint64_t segs = 0;
	assert_int_equal(evlog_count(t->log, &segs), si.events);
}

static void test_writer_map_full_counts_lost(void **state)
{
	struct tctx *t = *state;
	struct writer_conf wc;

	writer_conf_init(&wc, t);
	wc.map_size = 1 << 20;
	wc.map_max = 1 << 20; /* no growth */
	wc.event_log = false;
	struct capture *c = NULL;
	struct writer *w = NULL;
	assert_int_equal(capture_open_rings(&c, NULL, (uid_t)-1, (gid_t)-1, 1, 1 << 18), 0);
	assert_int_equal(writer_open(&w, &wc, c), 0);
	assert_int_equal(writer_start(w), 0);
	struct capture_worker *cw = capture_worker_get(c, 0);
	const uint64_t n = 100000; /* ~5 MiB of pairs: cannot fit 1 MiB */
	for (uint64_t i = 0; i < n; i++) {
		struct query_event ev;
		memset(&ev, 0, sizeof ev);
		ev.time_ns = T0_NS + i;
		v4(&ev.querier, 127, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
		ev.qtype = 12;
		ev.orig.kind = REVNAME_FULL;
		v4(&ev.orig.addr, 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
		capture_event(cw, &ev);
	}
	capture_batch_end(cw);
	int rc = writer_close(w);
	/* The flush of the events failed; the count of what it lost is a few
	 * bytes and is written by the next flush: the store knows. */
	assert_int_equal(rc, 0);
	capture_close(c);

	/* The store stays consistent and usable: it opens, and every event is
	 * either stored or counted as dropped. */
	struct store *s = NULL;
	struct store_opts ro = { .readonly = true };
	assert_int_equal(store_open(&s, t->db, &ro), 0);
	struct store_info si;
	assert_int_equal(store_info(s, &si), 0);
	assert_true(si.dropped > 0);
	assert_int_equal(si.events + si.dropped, n);
	assert_int_equal(si.ptr_ttl, 3600);
	store_close(s);
}

static void test_writer_refuses_other_bucket(void **state)
{
	struct tctx *t = *state;
	struct writer_conf wc;
	struct capture *c = NULL;
	struct writer *w = NULL;
	int rc = -1;
	struct writer_stats ws;

	writer_conf_init(&wc, t);
	wc.event_log = false;
	(void)run_writer(&wc, 1024, 10, &rc, &ws);
	assert_int_equal(rc, 0);
	wc.bucket_len = 1800;
	wc.bin_len = 600;
	assert_int_equal(capture_open_rings(&c, NULL, (uid_t)-1, (gid_t)-1, 1, 64), 0);
	assert_int_equal(writer_open(&w, &wc, c), BSC_ECONF);
	assert_null(w);
	wc.bucket_len = 3600;
	wc.bin_len = 7;
	assert_int_equal(writer_open(&w, &wc, c), BSC_ECONF);
	assert_int_equal(writer_close(NULL), 0);
	capture_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_ring_order_full_wrap),
		cmocka_unit_test(test_capture_wake_half_full),
		cmocka_unit_test(test_capture_counting_only_and_bad_size),
		cmocka_unit_test_setup_teardown(test_writer_two_producers_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_small_cap_flushes_early, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writer_tiny_rings_never_silent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writer_map_full_counts_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_refuses_other_bucket, setup, teardown),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
