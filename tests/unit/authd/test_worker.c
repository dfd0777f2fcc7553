/* tests/unit/authd/test_worker.c — loop-level tests of the UDP worker and the
 * TCP side: real sockets on 127.0.0.1 port 0 in this process, counted answers,
 * batches of mixed queries answered as answer_build() answers them one by one,
 * a zone-table swap under load, TCP pipelining and the idle timeout.
 * The worker runs in its own thread; the test thread is the client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "authd/answer.h"
#include "authd/capture.h"
#include "authd/stats.h"
#include "authd/tcp.h"
#include "authd/worker.h"
#include "authd/zone.h"
#include "common/addr.h"

#define ZONE_OLD BSC_TEST_DATA "/worker/10.in-addr.arpa.old.zone"
#define ZONE_NEW BSC_TEST_DATA "/worker/10.in-addr.arpa.new.zone"
#define WAIT_MS 5000 /* upper bound of any wait; a pass never comes near it */

static struct zone_table *load_zone(const char *path)
{
	struct zone_source src = { .origin = NULL, .path = path };
	struct zone_load_opts opts = { .check_perms = false };
	struct zone_table *zt = NULL;
	char err[256] = "";
	int rc = zone_table_load(&zt, &src, 1, &opts, err, sizeof err);
	if (rc)
		fail_msg("zone %s: %s", path, err);
	return zt;
}

/* A PTR query for i.0.0.10.in-addr.arpa. with id @id; returns its length. */
static size_t make_query(uint8_t *q, uint16_t id, unsigned i)
{
	size_t n = 0;
	char label[4];
	q[n++] = (uint8_t)(id >> 8);
	q[n++] = (uint8_t)id;
	q[n++] = 0x01; /* RD */
	q[n++] = 0x00;
	static const uint8_t counts[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	memcpy(q + n, counts, sizeof counts);
	n += sizeof counts;
	int l = snprintf(label, sizeof label, "%u", i % 256);
	q[n++] = (uint8_t)l;
	memcpy(q + n, label, (size_t)l);
	n += (size_t)l;
	static const uint8_t rest[] = { 1, '0', 1, '0', 2, '1', '0', 7, 'i', 'n', '-', 'a',
					'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0, 0, 12, 0, 1 };
	memcpy(q + n, rest, sizeof rest);
	return n + sizeof rest;
}

static bool has_label(const uint8_t *a, size_t len, const char *three)
{
	uint8_t pat[4] = { 3, (uint8_t)three[0], (uint8_t)three[1], (uint8_t)three[2] };
	return memmem(a, len, pat, sizeof pat) != NULL;
}

/* Wait until @fd is readable; false after WAIT_MS. */
static bool wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do {
		r = poll(&p, 1, WAIT_MS);
	} while (r < 0 && errno == EINTR);
	return r == 1;
}

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct fixture {
	struct zone_table *zt;
	struct answer_conf ac;
	struct worker_shared sh;
	struct capture *cap;
	struct worker *w;
	struct bsc_sockaddr bound;
	int client;
};

static void fixture_start(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	f->zt = load_zone(ZONE_OLD);
	f->ac.udp_max = 1232;
	worker_shared_init(&f->sh, f->zt, &f->ac, NULL);
	assert_int_equal(capture_open(&f->cap, NULL, (uid_t)-1, (gid_t)-1, 2), 0);

	struct bsc_sockaddr want;
	assert_int_equal(sockaddr_parse(&want, "127.0.0.1@0", 53), 0);
	int fd = -1;
	assert_int_equal(worker_socket_open(&want, &fd, &f->bound), 0);
	assert_true(sockaddr_port(&f->bound) != 0);
	assert_int_equal(worker_new(&f->w, 0, &f->sh, capture_worker_get(f->cap, 0), &fd, 1), 0);
	assert_int_equal(worker_start(f->w), 0);

	f->client = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(f->client >= 0);
	assert_int_equal(connect(f->client, &f->bound.u.sa, f->bound.len), 0);
}

static void fixture_stop(struct fixture *f)
{
	worker_stop(f->w);
	assert_int_equal(worker_join(f->w), 0); /* uv_loop_close() == 0 in the worker */
	worker_free(f->w);
	close(f->client);
	assert_int_equal(capture_close(f->cap), 0);
	zone_table_free(f->zt);
}

/* Send @n queries in windows of @win and check every answer: the id, NOERROR,
 * one answer record.  @old/@new_seen count answers by PTR target label. */
static void exchange(struct fixture *f, unsigned first, unsigned n, unsigned win,
		     unsigned *old_seen, unsigned *new_seen)
{
	uint8_t q[512], a[4096];
	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < win ? n - done : win;
		for (unsigned j = 0; j < k; j++) {
			size_t ql = make_query(q, (uint16_t)(first + done + j), first + done + j);
			assert_int_equal(send(f->client, q, ql, 0), (ssize_t)ql);
		}
		for (unsigned j = 0; j < k; j++) {
			assert_true(wait_readable(f->client));
			ssize_t r = recv(f->client, a, sizeof a, 0);
			assert_true(r >= 12);
			uint16_t id = (uint16_t)(a[0] << 8 | a[1]);
			assert_int_equal(id, (uint16_t)(first + done + j)); /* in order on loopback */
			assert_true(a[2] & 0x80);		/* QR */
			assert_int_equal(a[3] & 0x0f, 0);	/* NOERROR */
			assert_int_equal(a[6] << 8 | a[7], 1); /* ANCOUNT */
			bool o = has_label(a, (size_t)r, "old");
			bool nw = has_label(a, (size_t)r, "new");
			assert_true(o != nw); /* from exactly one table, never garbage */
			if (old_seen && o)
				(*old_seen)++;
			if (new_seen && nw)
				(*new_seen)++;
		}
		done += k;
	}
}

static void test_worker_answers_every_query(void **state)
{
	struct fixture f;
	const unsigned n = 2000;
	(void)state;

	fixture_start(&f);
	unsigned old_seen = 0;
	exchange(&f, 0, n, 32, &old_seen, NULL);
	assert_int_equal(old_seen, n);

	/* A datagram that is no query (QR set) gets no answer; garbage neither. */
	uint8_t junk[12] = { 0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	assert_int_equal(send(f.client, junk, sizeof junk, 0), (ssize_t)sizeof junk);
	/* Then one more real query proves the worker is still answering. */
	exchange(&f, n, 1, 1, NULL, NULL);

	fixture_stop(&f);
}

static void test_worker_counters(void **state)
{
	struct fixture f;
	const unsigned n = 500;
	(void)state;

	fixture_start(&f);
	exchange(&f, 0, n, 16, NULL, NULL);
	worker_stop(f.w);
	assert_int_equal(worker_join(f.w), 0);
	struct stats s;
	memset(&s, 0, sizeof s);
	stats_collect(worker_stats(f.w), &s);
	assert_int_equal(s.v[STATS_QUERIES], n);
	assert_int_equal(s.v[STATS_REPLIES], n);
	assert_int_equal(s.v[STATS_EVENTS], n);
	assert_int_equal(s.v[STATS_RCODE0 + 0], n);
	assert_int_equal(s.v[STATS_DROPPED], 0);
	assert_int_equal(s.v[STATS_MALFORMED], 0);
	struct capture_stats cs;
	capture_stats_get(f.cap, &cs);
	assert_int_equal(cs.events, n);
	assert_int_equal(cs.full, n);
	char line[256];
	assert_true(capture_stats_format(&cs, line, sizeof line) > 0);
	assert_non_null(strstr(line, "500 events (full 500,"));
	fixture_stop(&f);
}


/* Query @i of the mixed burst: a PTR query changed as i % 8 says. */
static size_t make_mixed(uint8_t *q, unsigned i)
{
	size_t n = make_query(q, (uint16_t)(5000 + i), i);
	size_t first = 12 + 1 + q[12]; /* the label after the first */
	switch (i % 8) {
	case 1: /* upper case */
		for (size_t k = 12; k < n - 4; k++) {
			if (q[k] >= 'a' && q[k] <= 'z')
				q[k] = (uint8_t)(q[k] - 32);
		}
		break;
	case 2: /* qtype A: NODATA */
		q[n - 3] = 1;
		break;
	case 3: /* i.7.0.10.in-addr.arpa: NXDOMAIN */
		q[first + 1] = '7';
		break;
	case 4: /* OPT with DO */
	case 7: /* OPT with a COOKIE option */
	{
		static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0 };
		static const uint8_t cookie[] = { 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
		q[11] = 1;
		memcpy(q + n, opt, sizeof opt);
		n += sizeof opt;
		if (i % 8 == 7) {
			q[n - 1] = sizeof cookie;
			memcpy(q + n, cookie, sizeof cookie);
			n += sizeof cookie;
		}
		break;
	}
	case 5: /* QR set: no answer */
		q[2] |= 0x80;
		break;
	case 6: /* cut short: FORMERR */
		n -= 3;
		break;
	default:
		break;
	}
	return n;
}

/* A burst of mixed queries, read by the worker in batches: each answer is
 * byte for byte the one answer_build() gives for its query alone. */
static void test_worker_mixed_batch(void **state)
{
	struct fixture f;
	enum { N = 96 }; /* one and a half batches; well inside the socket buffers */
	static uint8_t want[N][4096];
	static size_t want_len[N];
	(void)state;

	fixture_start(&f);
	uint8_t q[512], a[4096];
	unsigned expected = 0;
	for (unsigned i = 0; i < N; i++) {
		size_t ql = make_mixed(q, i);
		struct answer_info info;
		static uint8_t tx[ANSWER_BUF_MIN];
		want_len[i] = answer_build(f.zt, &f.ac, ANSWER_UDP, q, ql, tx, sizeof tx, &info);
		memcpy(want[i], tx, want_len[i]);
		expected += want_len[i] > 0;
		assert_int_equal(send(f.client, q, ql, 0), (ssize_t)ql);
	}
	assert_int_equal(expected, N - N / 8);
	for (unsigned i = 0; i < N; i++) {
		if (want_len[i] == 0)
			continue;
		assert_true(wait_readable(f.client));
		ssize_t r = recv(f.client, a, sizeof a, 0);
		assert_int_equal(r, (ssize_t)want_len[i]);
		assert_memory_equal(a, want[i], want_len[i]); /* in order on loopback */
	}
	/* and nothing for the queries with QR set */
	exchange(&f, 9000, 1, 1, NULL, NULL);
	worker_stop(f.w);
	assert_int_equal(worker_join(f.w), 0);
	struct stats s;
	memset(&s, 0, sizeof s);
	stats_collect(worker_stats(f.w), &s);
	assert_int_equal(s.v[STATS_QUERIES], N + 1);
	assert_int_equal(s.v[STATS_REPLIES], expected + 1);
	assert_int_equal(s.v[STATS_MALFORMED], 2 * N / 8); /* QR set, cut short */
	fixture_stop(&f);
}

static void test_worker_reload_under_load(void **state)
{
	struct fixture f;
	(void)state;

	fixture_start(&f);
	unsigned old_seen = 0, new_seen = 0;
	exchange(&f, 0, 300, 16, &old_seen, &new_seen);
	assert_int_equal(old_seen, 300);

	/* Publish the new table while queries are in flight. */
	struct zone_table *nzt = load_zone(ZONE_NEW);
	uint8_t q[512];
	for (unsigned j = 0; j < 16; j++) {
		size_t ql = make_query(q, (uint16_t)(1000 + j), j);
		assert_int_equal(send(f.client, q, ql, 0), (ssize_t)ql);
	}
	uint64_t gen = worker_shared_publish(&f.sh, nzt);
	worker_kick(f.w);
	uint8_t a[4096];
	unsigned mixed_old = 0, mixed_new = 0;
	for (unsigned j = 0; j < 16; j++) {
		assert_true(wait_readable(f.client));
		ssize_t r = recv(f.client, a, sizeof a, 0);
		assert_true(r >= 12);
		assert_int_equal((uint16_t)(a[0] << 8 | a[1]), 1000 + j);
		assert_int_equal(a[3] & 0x0f, 0);
		bool o = has_label(a, (size_t)r, "old");
		bool nw = has_label(a, (size_t)r, "new");
		assert_true(o != nw);
		mixed_old += o;
		mixed_new += nw;
	}
	assert_int_equal(mixed_old + mixed_new, 16);

	/* The worker acknowledges the generation (bounded poll, no sleep as sync). */
	uint64_t t0 = ms_now();
	while (worker_acked(f.w) < gen) {
		assert_true(ms_now() - t0 < WAIT_MS);
		struct pollfd none = { .fd = -1 };
		poll(&none, 0, 1);
	}
	/* Only now may the old table go: the worker no longer reads it. */
	zone_table_free(f.zt);
	f.zt = nzt;

	old_seen = new_seen = 0;
	exchange(&f, 2000, 300, 16, &old_seen, &new_seen);
	assert_int_equal(new_seen, 300);
	assert_int_equal(old_seen, 0);

	/* The worker publishes its counters after sending: stop it to read them. */
	worker_stop(f.w);
	assert_int_equal(worker_join(f.w), 0);
	struct stats s;
	memset(&s, 0, sizeof s);
	stats_collect(worker_stats(f.w), &s);
	assert_int_equal(s.v[STATS_QUERIES], 616);
	assert_int_equal(s.v[STATS_REPLIES], 616);
	fixture_stop(&f);
}

/* A socket bound to 0.0.0.0 answers from the address the query was sent to
 * (127.0.0.2 here, where routing alone would pick 127.0.0.1). */
static void test_worker_wildcard_reply_source(void **state)
{
	struct zone_table *zt = load_zone(ZONE_OLD);
	struct answer_conf ac = { .udp_max = 1232 };
	struct worker_shared sh;
	struct capture *cap = NULL;
	struct worker *w = NULL;
	(void)state;

	worker_shared_init(&sh, zt, &ac, NULL);
	assert_int_equal(capture_open(&cap, NULL, (uid_t)-1, (gid_t)-1, 1), 0);
	struct bsc_sockaddr want, bound;
	assert_int_equal(sockaddr_parse(&want, "0.0.0.0@0", 53), 0);
	int fd = -1;
	assert_int_equal(worker_socket_open(&want, &fd, &bound), 0);
	assert_int_equal(worker_new(&w, 0, &sh, capture_worker_get(cap, 0), &fd, 1), 0);
	assert_int_equal(worker_start(w), 0);

	int c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	static const char *const dsts[] = { "127.0.0.2", "127.0.0.1" };
	for (size_t i = 0; i < 2; i++) {
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_port = htons(sockaddr_port(&bound)) };
		assert_int_equal(inet_pton(AF_INET, dsts[i], &to.sin_addr), 1);
		uint8_t q[512], a[4096];
		size_t ql = make_query(q, (uint16_t)(40 + i), 7);
		assert_int_equal(sendto(c, q, ql, 0, (struct sockaddr *)&to, sizeof to),
				 (ssize_t)ql);
		assert_true(wait_readable(c));
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t r = recvfrom(c, a, sizeof a, 0, (struct sockaddr *)&from, &fl);
		assert_true(r >= 12);
		assert_int_equal((uint16_t)(a[0] << 8 | a[1]), 40 + i);
		assert_int_equal(from.sin_addr.s_addr, to.sin_addr.s_addr);
		assert_int_equal(from.sin_port, to.sin_port);
	}
	close(c);
	worker_stop(w);
	assert_int_equal(worker_join(w), 0);
	worker_free(w);
	assert_int_equal(capture_close(cap), 0);
	zone_table_free(zt);
}

/* TCP: the server runs on its own loop in a thread; the test is the client. */
struct tcp_fixture {
	uv_loop_t loop;
	uv_async_t stop;
	uv_thread_t thread;
	struct tcp_server *ts;
};

static void on_tcp_stop(uv_async_t *a)
{
	struct tcp_fixture *t = a->data;
	tcp_server_close(t->ts);
	uv_close((uv_handle_t *)a, NULL);
}

static void tcp_thread(void *arg)
{
	struct tcp_fixture *t = arg;
	uv_run(&t->loop, UV_RUN_DEFAULT);
}

/* Serve TCP with @tc on 127.0.0.1, an ephemeral port (*@bound), from @f's
 * table and capture, on @t's loop in its own thread. */
static void tcp_fixture_start(struct tcp_fixture *t, struct fixture *f, const struct tcp_conf *tc,
			      struct bsc_sockaddr *bound)
{
	memset(t, 0, sizeof *t);
	assert_int_equal(uv_loop_init(&t->loop), 0);
	struct capture_worker *cw = capture_worker_get(f->cap, 1);
	assert_int_equal(tcp_server_new(&t->ts, &t->loop, tc, &f->sh, cw), 0);
	struct bsc_sockaddr want;
	assert_int_equal(sockaddr_parse(&want, "127.0.0.1@0", 53), 0);
	int lfd = -1;
	assert_int_equal(tcp_socket_open(&want, &lfd, bound), 0);
	assert_int_equal(tcp_server_listen(t->ts, lfd), 0);
	assert_int_equal(uv_async_init(&t->loop, &t->stop, on_tcp_stop), 0);
	t->stop.data = t;
	assert_int_equal(uv_thread_create(&t->thread, tcp_thread, t), 0);
}

/* Stop the server thread, close its loop and collect its counters into *@s
 * (the server itself is still to be freed). */
static void tcp_fixture_stop(struct tcp_fixture *t, struct stats *s)
{
	uv_async_send(&t->stop);
	uv_thread_join(&t->thread);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	memset(s, 0, sizeof *s);
	stats_collect(tcp_server_stats(t->ts), s);
}

static bool read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		if (!wait_readable(fd))
			return false;
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static void test_tcp_pipeline_and_idle(void **state)
{
	struct fixture f;
	struct tcp_fixture t;
	(void)state;

	fixture_start(&f); /* for the zone table, shared state and capture */
	struct tcp_conf tc = { .max_clients = 4, .idle_ms = 200, .max_pipeline = 1 };
	struct bsc_sockaddr bound;
	tcp_fixture_start(&t, &f, &tc, &bound);

	/* Two queries in one segment; the pipeline cap of 1 makes the server
	 * pause reading between them, and both must still be answered. */
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, &bound.u.sa, bound.len), 0);
	uint8_t out[1024];
	size_t n = 0;
	for (unsigned i = 0; i < 2; i++) {
		size_t ql = make_query(out + n + 2, (uint16_t)(77 + i), 5 + i);
		out[n] = (uint8_t)(ql >> 8);
		out[n + 1] = (uint8_t)ql;
		n += 2 + ql;
	}
	assert_int_equal(send(c, out, n, 0), (ssize_t)n);
	for (unsigned i = 0; i < 2; i++) {
		uint8_t lenb[2], a[65535];
		assert_true(read_full(c, lenb, 2));
		size_t al = (size_t)(lenb[0] << 8 | lenb[1]);
		assert_true(al >= 12);
		assert_true(read_full(c, a, al));
		assert_int_equal((uint16_t)(a[0] << 8 | a[1]), 77 + i);
		assert_int_equal(a[3] & 0x0f, 0);
		assert_int_equal(a[6] << 8 | a[7], 1);
		assert_false(a[2] & 0x02); /* no TC over TCP */
	}
	close(c);

	/* A connection that sends nothing is closed by the server once idle. */
	int idle = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(idle >= 0);
	assert_int_equal(connect(idle, &bound.u.sa, bound.len), 0);
	uint64_t t0 = ms_now();
	assert_true(wait_readable(idle));
	uint8_t b[16];
	assert_int_equal(recv(idle, b, sizeof b, 0), 0); /* EOF */
	uint64_t waited = ms_now() - t0;
	assert_true(waited >= 100);  /* the timer, not an immediate close */
	assert_true(waited < WAIT_MS);
	close(idle);

	struct stats s;
	tcp_fixture_stop(&t, &s);
	assert_int_equal(s.v[STATS_QUERIES], 2);
	assert_int_equal(s.v[STATS_TCP], 2);
	assert_int_equal(s.v[STATS_REPLIES], 2);
	assert_int_equal(s.v[STATS_EVENTS], 2);
	assert_int_equal(s.v[STATS_TCP_CONNS], 2);
	tcp_server_free(t.ts);
	fixture_stop(&f);
}

static void test_tcp_connection_cap(void **state)
{
	struct fixture f;
	struct tcp_fixture t;
	(void)state;

	fixture_start(&f);
	struct tcp_conf tc = { .max_clients = 1, .idle_ms = 5000, .max_pipeline = 4 };
	struct bsc_sockaddr bound;
	tcp_fixture_start(&t, &f, &tc, &bound);

	int first = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(first, &bound.u.sa, bound.len), 0);
	/* Make sure the first one is accepted and served before the second. */
	uint8_t out[600], lenb[2], a[65535];
	size_t ql = make_query(out + 2, 9, 9);
	out[0] = (uint8_t)(ql >> 8);
	out[1] = (uint8_t)ql;
	assert_int_equal(send(first, out, ql + 2, 0), (ssize_t)(ql + 2));
	assert_true(read_full(first, lenb, 2));
	assert_true(read_full(first, a, (size_t)(lenb[0] << 8 | lenb[1])));

	int second = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(second, &bound.u.sa, bound.len), 0);
	assert_true(wait_readable(second));
	uint8_t b[16];
	assert_true(recv(second, b, sizeof b, 0) <= 0); /* closed at once: over the cap */
	close(second);
	close(first);

	struct stats s;
	tcp_fixture_stop(&t, &s);
	assert_int_equal(s.v[STATS_TCP_REFUSED], 1);
	assert_int_equal(s.v[STATS_REPLIES], 1);
	tcp_server_free(t.ts);
	fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_answers_every_query),
		cmocka_unit_test(test_worker_counters),
		cmocka_unit_test(test_worker_mixed_batch),
		cmocka_unit_test(test_worker_reload_under_load),
		cmocka_unit_test(test_worker_wildcard_reply_source),
		cmocka_unit_test(test_tcp_pipeline_and_idle),
		cmocka_unit_test(test_tcp_connection_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
