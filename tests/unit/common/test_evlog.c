/* tests/unit/common/test_evlog.c — event-log segments: every field round
 * trips, rotation by size and age, torn tails at every byte of the last
 * record, corruption in the middle reported at its offset, header checks,
 * write errors cut back to whole records, and read/write speed.
 * Single-threaded cmocka program; a fresh folder per test inside the
 * program's temporary folder (tests/helpers/tmpdir.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "tests/helpers/tmpdir.h"
#include "common/addr.h"
#include "common/err.h"
#include "common/evlog.h"
#include "common/mem.h"

#define T0 1795000000000000000ull /* 2026-11-18T11:06:40Z, ns */

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

static struct bsc_addr A(const char *s)
{
	struct bsc_addr a;
	assert_int_equal(addr_parse(&a, s, false), 0);
	return a;
}

static void addr_eq(const struct bsc_addr *a, const struct bsc_addr *b)
{
	assert_int_equal(a->family, b->family);
	assert_int_equal(a->prefix, b->prefix);
	assert_memory_equal(a->bytes, b->bytes, 16);
}

static void event_eq(const struct query_event *a, const struct query_event *b)
{
	assert_true(a->time_ns == b->time_ns);
	addr_eq(&a->querier, &b->querier);
	assert_int_equal(a->querier_port, b->querier_port);
	assert_int_equal(a->qtype, b->qtype);
	assert_int_equal(a->rcode, b->rcode);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->orig.kind, b->orig.kind);
	addr_eq(&a->orig.addr, &b->orig.addr);
	addr_eq(&a->orig.classless, &b->orig.classless);
	addr_eq(&a->ecs, &b->ecs);
}

/* A varied event number @i: v4 and v6 queriers, every name kind, ECS. */
static struct query_event mk_event(unsigned i)
{
	struct query_event ev;
	char buf[64];

	memset(&ev, 0, sizeof ev);
	ev.time_ns = T0 + (uint64_t)i * 1000003;
	if (i % 3 == 0) {
		snprintf(buf, sizeof buf, "2001:db8:%x::%x", i & 0xffff, (i * 7) & 0xffff);
		ev.querier = A(buf);
	} else {
		snprintf(buf, sizeof buf, "192.0.%u.%u", (i >> 8) & 255, i & 255);
		ev.querier = A(buf);
	}
	ev.querier_port = (uint16_t)(1024 + i);
	ev.qtype = i % 5 ? 12 : 1;
	ev.rcode = (uint8_t)(i % 4 == 0 ? 3 : 0);
	ev.flags = (uint8_t)(i & (EVENT_RD | EVENT_EDNS | EVENT_DO | EVENT_TCP));
	const char *names[] = {
		"4.3.2.1.in-addr.arpa",
		"2.1.in-addr.arpa",
		"5.0-63.3.3.10.in-addr.arpa",
		"example.in-addr.arpa",
		"b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
		"8.b.d.0.1.0.0.2.ip6.arpa",
		"0-63.3.3.10.in-addr.arpa",
	};
	revname_parse_text(names[i % 7], &ev.orig);
	if (i % 4 == 1) {
		ev.flags |= EVENT_ECS;
		ev.ecs = A(i % 8 == 1 ? "198.51.100.0/24" : "2001:db8:1::/48");
	} else if (i % 16 == 2) {
		ev.flags |= EVENT_ECS; /* ECS with an unknown family: no address */
	}
	return ev;
}

static void path_of(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void spit(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

/* Write @n events into a fresh folder @dir (one segment). */
static void write_events(const char *dir, unsigned n, bool close_it, char *path, size_t plen)
{
	struct evlog_opts o = { .dir = dir, .writer_id = "test-writer" };
	struct evlog_writer *w;
	assert_int_equal(evlog_writer_open(&w, &o, T0), 0);
	for (unsigned i = 0; i < n; i++) {
		struct query_event ev = mk_event(i);
		assert_int_equal(evlog_append(w, &ev), 0);
	}
	snprintf(path, plen, "%s", evlog_writer_path(w));
	if (close_it) {
		assert_int_equal(evlog_writer_close(w, T0 + 1), 0);
	} else {
		assert_int_equal(evlog_flush(w), 0);
		/* Simulate a crash: the file stays as written, without footer. */
		size_t len;
		uint8_t *b = slurp(path, &len);
		assert_int_equal(evlog_writer_close(w, T0 + 1), 0);
		spit(path, b, len);
		free(b);
	}
}

/* Read everything; returns the final code, events in *count. */
static int read_all(struct evlog_reader *r, unsigned first, uint64_t *count)
{
	struct query_event ev;
	int rc;
	unsigned i = first;

	while ((rc = evlog_reader_next(r, &ev)) == 1) {
		struct query_event want = mk_event(i++);
		event_eq(&ev, &want);
	}
	*count = evlog_reader_count(r);
	return rc;
}

static void test_evlog_crc32c_vector(void **state)
{
	(void)state;
	assert_int_equal(evlog_crc32c("123456789", 9), 0xe3069283u);
	assert_int_equal(evlog_crc32c("", 0), 0);
}

static void test_evlog_round_trip_every_field(void **state)
{
	struct tctx *t = *state;
	char path[512];

	write_events(t->dir, 500, true, path, sizeof path);
	struct evlog_reader *r;
	char err[256];
	assert_int_equal(evlog_reader_open(&r, path, err, sizeof err), 0);
	const struct evlog_header *h = evlog_reader_header(r);
	assert_int_equal(h->version, EVLOG_VERSION);
	assert_true(h->created_ns == T0);
	assert_true(h->seq == 1);
	assert_string_equal(h->writer_id, "test-writer");
	uint64_t n;
	assert_int_equal(read_all(r, 0, &n), 0);
	assert_true(n == 500);
	assert_true(evlog_reader_closed(r));
	assert_string_equal(evlog_reader_error(r), "");
	evlog_reader_close(r);

	/* The memory reader agrees. */
	size_t len;
	uint8_t *b = slurp(path, &len);
	assert_int_equal(evlog_reader_open_mem(&r, b, len, "mem", err, sizeof err), 0);
	assert_int_equal(read_all(r, 0, &n), 0);
	assert_true(n == 500 && evlog_reader_closed(r));
	evlog_reader_close(r);
	free(b);

	/* The name: events-20261119T...Z-000001.bsl */
	const char *base = strrchr(path, '/') + 1;
	assert_int_equal(strncmp(base, "events-20261118T1106", 20), 0);
	assert_string_equal(base + strlen(base) - 11, "-000001.bsl");
}

static void test_evlog_rotation_by_size_and_age(void **state)
{
	struct tctx *t = *state;
	struct evlog_opts o = { .dir = t->dir, .writer_id = "rot", .max_bytes = 4096,
				.max_age_ns = 60ull * 1000000000ull };
	struct evlog_writer *w;
	const unsigned n = 1000;

	assert_int_equal(evlog_writer_open(&w, &o, T0), 0);
	for (unsigned i = 0; i < n; i++) {
		struct query_event ev = mk_event(i);
		assert_int_equal(evlog_append(w, &ev), 0);
	}
	/* Age: nothing happens before max_age, a rotation after it. */
	struct evlog_writer_stats st;
	evlog_writer_stats(w, &st);
	uint64_t segs = st.segments;
	assert_true(segs > 5);
	assert_int_equal(evlog_tick(w, T0 + 59ull * 1000000000ull), 0);
	evlog_writer_stats(w, &st);
	assert_true(st.segments == segs);
	assert_int_equal(evlog_tick(w, T0 + 61ull * 1000000000ull), 0);
	evlog_writer_stats(w, &st);
	assert_true(st.segments == segs + 1);
	assert_int_equal(evlog_writer_close(w, T0), 0);

	/* Reopen: numbering goes on; an empty segment is left as it is. */
	assert_int_equal(evlog_writer_open(&w, &o, T0 + 120ull * 1000000000ull), 0);
	const char *p = strrchr(evlog_writer_path(w), '/') + 1;
	char want[64];
	snprintf(want, sizeof want, "-%06llu.bsl", (unsigned long long)segs + 2);
	assert_string_equal(p + strlen(p) - strlen(want), want);
	assert_int_equal(evlog_tick(w, T0 + 1000ull * 1000000000ull), 0); /* empty: stays */
	assert_int_equal(evlog_writer_close(w, T0), 0);

	char **names;
	size_t cnt;
	assert_int_equal(evlog_list(t->dir, &names, &cnt), 0);
	assert_true(cnt == segs + 2);
	uint64_t total = 0, prev_seq = 0;
	for (size_t i = 0; i < cnt; i++) {
		char path[512];
		path_of(path, sizeof path, t->dir, names[i]);
		struct stat sb;
		assert_int_equal(stat(path, &sb), 0);
		assert_true(sb.st_size <= 4096);
		struct evlog_reader *r;
		assert_int_equal(evlog_reader_open(&r, path, NULL, 0), 0);
		assert_true(evlog_reader_header(r)->seq > prev_seq);
		prev_seq = evlog_reader_header(r)->seq;
		uint64_t c;
		assert_int_equal(read_all(r, (unsigned)total, &c), 0);
		assert_true(evlog_reader_closed(r));
		total += c;
		evlog_reader_close(r);
	}
	assert_true(total == n);
	evlog_list_free(names, cnt);
}

static void test_evlog_torn_tail_every_offset(void **state)
{
	struct tctx *t = *state;
	char path[512], cut[600];
	const unsigned n = 50;

	write_events(t->dir, n, false, path, sizeof path);
	size_t len;
	uint8_t *b = slurp(path, &len);
	/* Find where the last record starts. */
	size_t off = EVLOG_HEADER_LEN, last = 0;
	while (off < len) {
		last = off;
		off += (size_t)(b[off] << 8 | b[off + 1]);
	}
	assert_int_equal(off, len);
	snprintf(cut, sizeof cut, "%s/cut.bsl", t->dir);
	for (size_t end = last; end < len; end++) {
		spit(cut, b, end);
		struct evlog_reader *r;
		assert_int_equal(evlog_reader_open(&r, cut, NULL, 0), 0);
		uint64_t c;
		int rc = read_all(r, 0, &c);
		assert_true(c == n - 1);
		assert_false(evlog_reader_closed(r));
		if (end == last) {
			assert_int_equal(rc, 0); /* clean boundary: just not closed */
		} else {
			assert_int_equal(rc, BSC_ETRUNC);
			assert_true(evlog_reader_offset(r) == last);
			assert_non_null(strstr(evlog_reader_error(r), "torn tail"));
		}
		evlog_reader_close(r);
	}
	/* A zero-filled tail (file size grew, data never written) is torn too. */
	uint8_t *z = calloc(1, len + 300);
	assert_non_null(z);
	memcpy(z, b, len);
	spit(cut, z, len + 300);
	struct evlog_reader *r;
	assert_int_equal(evlog_reader_open(&r, cut, NULL, 0), 0);
	uint64_t c;
	assert_int_equal(read_all(r, 0, &c), BSC_ETRUNC);
	assert_true(c == n && evlog_reader_offset(r) == len);
	evlog_reader_close(r);
	free(z);
	free(b);
}

static void test_evlog_corrupt_middle_reported_with_offset(void **state)
{
	struct tctx *t = *state;
	char path[512], bad[600];
	const unsigned n = 40, k = 17;

	write_events(t->dir, n, true, path, sizeof path);
	size_t len;
	uint8_t *b = slurp(path, &len);
	size_t off = EVLOG_HEADER_LEN;
	for (unsigned i = 0; i < k; i++)
		off += (size_t)(b[off] << 8 | b[off + 1]);
	size_t rl = (size_t)(b[off] << 8 | b[off + 1]);
	snprintf(bad, sizeof bad, "%s/bad.bsl", t->dir);
	/* Every byte of record k, the length field included. */
	for (size_t j = 0; j < rl; j++) {
		b[off + j] ^= 0x5a;
		spit(bad, b, len);
		struct evlog_reader *r;
		assert_int_equal(evlog_reader_open(&r, bad, NULL, 0), 0);
		uint64_t c;
		assert_int_equal(read_all(r, 0, &c), BSC_EMALF);
		assert_true(c == k);
		assert_true(evlog_reader_offset(r) == off);
		char want[64];
		snprintf(want, sizeof want, "at byte %zu", off);
		assert_non_null(strstr(evlog_reader_error(r), want));
		assert_non_null(strstr(evlog_reader_error(r), "bad.bsl"));
		/* Sticky. */
		struct query_event ev;
		assert_int_equal(evlog_reader_next(r, &ev), BSC_EMALF);
		evlog_reader_close(r);
		b[off + j] ^= 0x5a;
	}
	/* Data after the footer. */
	uint8_t *x = malloc(len + 5);
	assert_non_null(x);
	memcpy(x, b, len);
	memset(x + len, 0, 5);
	struct evlog_reader *r;
	assert_int_equal(evlog_reader_open_mem(&r, x, len + 5, "x", NULL, 0), 0);
	uint64_t c;
	assert_int_equal(read_all(r, 0, &c), BSC_EMALF);
	assert_true(c == n && evlog_reader_closed(r));
	assert_non_null(strstr(evlog_reader_error(r), "after the footer"));
	evlog_reader_close(r);
	/* A footer whose count disagrees (checksum recomputed). */
	memcpy(x, b, len);
	x[len - 24 + 11] ^= 1;
	uint32_t crc = htonl(evlog_crc32c(x + len - 24, 20));
	memcpy(x + len - 4, &crc, 4);
	assert_int_equal(evlog_reader_open_mem(&r, x, len, "x", NULL, 0), 0);
	assert_int_equal(read_all(r, 0, &c), BSC_EMALF);
	assert_non_null(strstr(evlog_reader_error(r), "footer"));
	evlog_reader_close(r);
	free(x);
	free(b);
}

static void test_evlog_header_checks(void **state)
{
	struct tctx *t = *state;
	char path[512], err[512];

	write_events(t->dir, 3, true, path, sizeof path);
	size_t len;
	uint8_t *b = slurp(path, &len);
	struct evlog_reader *r;

	for (size_t n = 0; n < EVLOG_HEADER_LEN; n++) {
		assert_int_equal(evlog_reader_open_mem(&r, b, n, "short", err, sizeof err),
				 BSC_ETRUNC);
		assert_null(r);
		assert_non_null(strstr(err, "short"));
	}
	b[0] = 'X';
	assert_int_equal(evlog_reader_open_mem(&r, b, len, "m", err, sizeof err), BSC_EMALF);
	assert_non_null(strstr(err, "magic"));
	b[0] = 'B';
	b[9] = 2;
	assert_int_equal(evlog_reader_open_mem(&r, b, len, "m", err, sizeof err), BSC_EMALF);
	assert_non_null(strstr(err, "version 2"));
	b[9] = 1;
	b[40] ^= 1;
	assert_int_equal(evlog_reader_open_mem(&r, b, len, "m", err, sizeof err), BSC_EMALF);
	assert_non_null(strstr(err, "header"));
	b[40] ^= 1;
	assert_int_equal(evlog_reader_open_mem(&r, b, len, "m", err, sizeof err), 0);
	evlog_reader_close(r);
	free(b);

	snprintf(path, sizeof path, "%s/none.bsl", t->dir);
	assert_int_equal(evlog_reader_open(&r, path, err, sizeof err), BSC_ENOENT);
	assert_non_null(strstr(err, "none.bsl"));
}

static void test_evlog_segment_names_sort(void **state)
{
	(void)state;
	char a[EVLOG_NAME_MAX], b[EVLOG_NAME_MAX];
	assert_true(evlog_segment_name(a, sizeof a, 0, 1) > 0);
	assert_string_equal(a, "events-19700101T000000Z-000001.bsl");
	assert_true(evlog_segment_name(a, sizeof a, 1795000000ull * 1000000000ull, 7) > 0);
	assert_string_equal(a, "events-20261118T110640Z-000007.bsl");
	assert_true(evlog_segment_name(b, sizeof b, 1795000001ull * 1000000000ull, 8) > 0);
	assert_true(strcmp(a, b) < 0);
	assert_int_equal(evlog_segment_name(a, 10, 0, 1), BSC_ENOSPC);
}

/* A write that fails half-way (file size limit) is cut back to the last
 * whole record: the segment never holds half a record in the middle. */
static void test_evlog_write_error_cut_back(void **state)
{
	struct tctx *t = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { 20000, 20000 };
		setrlimit(RLIMIT_FSIZE, &rl);
		struct evlog_opts o = { .dir = t->dir, .buf_size = 4096 };
		struct evlog_writer *w;
		if (evlog_writer_open(&w, &o, T0) != 0)
			_exit(2);
		int errors = 0;
		for (unsigned i = 0; i < 2000; i++) {
			struct query_event ev = mk_event(i);
			if (evlog_append(w, &ev) < 0)
				errors++;
		}
		struct evlog_writer_stats st;
		evlog_flush(w);
		evlog_writer_stats(w, &st);
		evlog_writer_close(w, T0);
		_exit(errors > 0 && st.lost > 0 && st.events > 0 ? 0 : 3);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	char **names;
	size_t cnt;
	assert_int_equal(evlog_list(t->dir, &names, &cnt), 0);
	assert_int_equal(cnt, 1);
	char path[512];
	path_of(path, sizeof path, t->dir, names[0]);
	evlog_list_free(names, cnt);
	struct evlog_reader *r;
	assert_int_equal(evlog_reader_open(&r, path, NULL, 0), 0);
	struct query_event ev;
	int rc;
	uint64_t c = 0;
	while ((rc = evlog_reader_next(r, &ev)) == 1)
		c++;
	assert_int_equal(rc, 0); /* whole records only, the footer if it fit */
	assert_true(c > 0);
	evlog_reader_close(r);
}

/* CPU time of this process: rates that do not depend on the machine's load. */
static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_evlog_speed(void **state)
{
	struct tctx *t = *state;
	const unsigned n = 1000000;
	enum { NEV = 64 };
	struct query_event evs[NEV];
	for (unsigned i = 0; i < NEV; i++)
		evs[i] = mk_event(i);

	struct evlog_opts o = { .dir = t->dir, .sync = EVLOG_SYNC_NONE };
	struct evlog_writer *w;
	uint64_t t0 = mono_ns();
	assert_int_equal(evlog_writer_open(&w, &o, T0), 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(evlog_append(w, &evs[i % NEV]), 0);
	char path[512];
	snprintf(path, sizeof path, "%s", evlog_writer_path(w));
	assert_int_equal(evlog_writer_close(w, T0), 0);
	uint64_t t1 = mono_ns();

	struct evlog_reader *r;
	assert_int_equal(evlog_reader_open(&r, path, NULL, 0), 0);
	struct query_event ev;
	int rc;
	uint64_t c = 0;
	while ((rc = evlog_reader_next(r, &ev)) == 1)
		c++;
	uint64_t t2 = mono_ns();
	assert_int_equal(rc, 0);
	assert_true(c == n);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	evlog_reader_close(r);
	printf("evlog: %u events, %.1f bytes/event; write %.2f M events/s, read %.2f M events/s "
	       "(CPU time)\n",
	       n, (double)sb.st_size / n, n / ((double)(t1 - t0) / 1e3),
	       n / ((double)(t2 - t1) / 1e3));
}

static void test_evlog_torture_alloc(void **state)
{
	struct tctx *t = *state;
	for (long k = 0; k < 20; k++) {
		char sub[300];
		snprintf(sub, sizeof sub, "%s/t%ld", t->dir, k);
		struct evlog_opts o = { .dir = sub };
		struct evlog_writer *w = NULL;
		mem_fail_after(k);
		int rc = evlog_writer_open(&w, &o, T0);
		char path[512] = "";
		if (rc == 0) {
			struct query_event ev = mk_event(1);
			evlog_append(w, &ev);
			snprintf(path, sizeof path, "%s", evlog_writer_path(w));
			evlog_writer_close(w, T0);
		}
		struct evlog_reader *r = NULL;
		if (path[0] && evlog_reader_open(&r, path, NULL, 0) == 0) {
			struct query_event ev;
			while (evlog_reader_next(r, &ev) == 1)
				;
			evlog_reader_close(r);
		}
		char **names;
		size_t cnt;
		if (evlog_list(t->dir, &names, &cnt) == 0)
			evlog_list_free(names, cnt);
		mem_fail_after(-1);
		if (rc == 0 && k > 5)
			break;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evlog_crc32c_vector),
		cmocka_unit_test(test_evlog_segment_names_sort),
		cmocka_unit_test_setup_teardown(test_evlog_round_trip_every_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evlog_rotation_by_size_and_age, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_evlog_torn_tail_every_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evlog_corrupt_middle_reported_with_offset,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_evlog_header_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evlog_write_error_cut_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evlog_torture_alloc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evlog_speed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
