/* tests/unit/tools/test_pcapfile.c — the capture record reader: classic
 * pcap in both byte orders and time stamp precisions, mapped and read in
 * blocks, from a pipe, from a stream past its start, a file that grows while
 * it is read, records cut by the snap length, damage (cut header, cut data,
 * a bogus capture length) with offset and record number, pcapng and other
 * captures through libpcap.  Single-threaded cmocka program; files go to a
 * temporary folder. */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/helpers/tmpdir.h"
#include "common/err.h"
#include "tools/pcapfile.h"

/* ---- writing captures byte by byte ---- */

struct cap {
	uint8_t b[8192];
	size_t len;
	bool be; /* big-endian fields */
};

static void put32(struct cap *c, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		c->b[c->len + (size_t)i] = (uint8_t)(c->be ? v >> (24 - 8 * i) : v >> (8 * i));
	c->len += 4;
}

static void put16(struct cap *c, uint16_t v)
{
	c->b[c->len++] = (uint8_t)(c->be ? v >> 8 : v);
	c->b[c->len++] = (uint8_t)(c->be ? v : v >> 8);
}

static void file_hdr(struct cap *c, bool be, bool nsec, uint32_t snap, uint32_t dlt)
{
	c->len = 0;
	c->be = be;
	put32(c, nsec ? 0xa1b23c4du : 0xa1b2c3d4u);
	put16(c, 2);
	put16(c, 4);
	put32(c, 0);
	put32(c, 0);
	put32(c, snap);
	put32(c, dlt);
}

/* A record of @caplen bytes (value i + @seed), @orig on the wire. */
static void record(struct cap *c, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t orig,
		   uint8_t seed)
{
	put32(c, sec);
	put32(c, frac);
	put32(c, caplen);
	put32(c, orig);
	for (uint32_t i = 0; i < caplen; i++)
		c->b[c->len++] = (uint8_t)(i + seed);
}

static void save(const char *path, const struct cap *c, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(c->b, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* ---- reading ---- */

#define MAXREC 16

struct run {
	struct pcapfile_rec r[MAXREC];
	uint8_t first[MAXREC]; /* the first byte of each record's data */
	uint64_t offs[MAXREC]; /* offset after each record */
	size_t n;
	int rc;
	uint64_t offset, records;
	bool mapped;
	char error[512];
};

static void read_all(struct pcapfile *f, struct run *u)
{
	struct pcapfile_rec r;
	memset(u, 0, sizeof *u);
	u->mapped = pcapfile_mapped(f);
	while ((u->rc = pcapfile_next(f, &r)) == 1) {
		assert_true(u->n < MAXREC);
		u->r[u->n] = r;
		u->first[u->n] = r.caplen ? r.data[0] : 0;
		for (uint32_t i = 0; i < r.caplen; i++)
			assert_int_equal(r.data[i], (uint8_t)(i + r.data[0]));
		u->offs[u->n++] = pcapfile_offset(f);
	}
	assert_int_equal(pcapfile_next(f, &r), u->rc); /* sticky */
	u->offset = pcapfile_offset(f);
	u->records = pcapfile_records(f);
	snprintf(u->error, sizeof u->error, "%s", pcapfile_error(f));
}

static void read_path(const char *path, unsigned flags, struct run *u)
{
	struct pcapfile *f;
	char err[512];
	assert_int_equal(pcapfile_open(&f, path, flags, err, sizeof err), 0);
	read_all(f, u);
	pcapfile_close(f);
}

/* The same records and end, read mapped and in blocks. */
static void read_both(const char *path, struct run *u)
{
	static struct run b;
	read_path(path, 0, u);
	assert_true(u->mapped);
	read_path(path, PCAPFILE_NO_MAP, &b);
	assert_false(b.mapped);
	assert_int_equal(u->rc, b.rc);
	assert_int_equal(u->n, b.n);
	assert_int_equal(u->offset, b.offset);
	assert_string_equal(u->error, b.error);
	for (size_t i = 0; i < u->n; i++) {
		assert_int_equal(u->r[i].time_ns, b.r[i].time_ns);
		assert_int_equal(u->r[i].caplen, b.r[i].caplen);
		assert_int_equal(u->r[i].origlen, b.r[i].origlen);
		assert_int_equal(u->first[i], b.first[i]);
		assert_int_equal(u->offs[i], b.offs[i]);
	}
}

static void test_byte_orders_and_precisions(void **state)
{
	(void)state;
	static struct cap c;
	static struct run u;
	char path[300];
	for (int v = 0; v < 4; v++) {
		bool be = v & 1, nsec = v & 2;
		file_hdr(&c, be, nsec, 65535, 1);
		record(&c, 1700000000u, 123456, 60, 60, 1);
		record(&c, 1700000001u, 7, 0, 0, 0);
		record(&c, 0xFFFFFFF0u, 5, 3, 1500, 9); /* a negative second, as libpcap */
		tmpdir_path(path, sizeof path, "orders.pcap");
		save(path, &c, c.len);
		read_both(path, &u);
		assert_int_equal(u.rc, 0);
		assert_int_equal(u.n, 3);
		assert_int_equal(u.r[0].time_ns,
				 1700000000ull * 1000000000u + (nsec ? 123456u : 123456000u));
		assert_int_equal(u.r[0].caplen, 60);
		assert_int_equal(u.first[0], 1);
		assert_int_equal(u.r[1].caplen, 0);
		assert_int_equal(u.r[2].origlen, 1500);
		assert_int_equal(u.r[2].time_ns,
				 (uint64_t)(-16 * 1000000000ll) + (nsec ? 5u : 5000u));
		assert_int_equal(u.offs[0], 24 + 16 + 60);
		assert_int_equal(u.offset, c.len);
		assert_int_equal(u.records, 3);
		assert_string_equal(u.error, "");
	}
}

static void test_snaplen_cut(void **state)
{
	(void)state;
	static struct cap c;
	static struct run u;
	char path[300];
	file_hdr(&c, false, false, 40, 1);
	record(&c, 1, 0, 60, 60, 3); /* longer than the snap length: libpcap cuts it */
	record(&c, 2, 0, 10, 10, 4);
	tmpdir_path(path, sizeof path, "snap.pcap");
	save(path, &c, c.len);
	read_both(path, &u);
	assert_int_equal(u.n, 2);
	assert_int_equal(u.r[0].caplen, 40);
	assert_int_equal(u.r[0].origlen, 60);
	assert_int_equal(u.offs[0], 24 + 16 + 60);
	assert_int_equal(u.first[1], 4);
	assert_int_equal(u.offset, c.len);
}

static void test_damage(void **state)
{
	(void)state;
	static struct cap c;
	static struct run u;
	char path[300];
	file_hdr(&c, false, true, 65535, 101);
	record(&c, 1, 0, 20, 20, 0);
	record(&c, 2, 0, 20, 20, 0);
	size_t whole = c.len;
	record(&c, 3, 0, 20, 20, 0);
	tmpdir_path(path, sizeof path, "damage.pcap");

	save(path, &c, whole + 10); /* the third record's header cut */
	read_both(path, &u);
	assert_int_equal(u.rc, BSC_ETRUNC);
	assert_int_equal(u.n, 2);
	assert_int_equal(u.offset, whole);
	assert_non_null(strstr(u.error, "damage.pcap: truncated at byte 96 (after record 2)"));
	assert_non_null(strstr(u.error, "header bytes, only got 10"));

	save(path, &c, whole + 16 + 5); /* its data cut */
	read_both(path, &u);
	assert_int_equal(u.rc, BSC_ETRUNC);
	assert_non_null(strstr(u.error, "tried to read 20 captured bytes, only got 5"));

	c.b[whole + 8] = 0xFF; /* a capture length past anything libpcap reads */
	c.b[whole + 11] = 0x7F;
	save(path, &c, c.len);
	read_both(path, &u);
	assert_int_equal(u.rc, BSC_EMALF);
	assert_int_equal(u.offset, whole);
	assert_non_null(strstr(u.error, "corrupt record at byte 96 (after record 2)"));
	assert_non_null(strstr(u.error, "invalid packet capture length"));
}

static void test_grows_while_read(void **state)
{
	(void)state;
	static struct cap c;
	static struct run u;
	char path[300];
	struct pcapfile *f;
	struct pcapfile_rec r;
	char err[256];
	file_hdr(&c, false, false, 65535, 1);
	record(&c, 1, 0, 30, 30, 1);
	size_t first = c.len;
	record(&c, 2, 0, 30, 30, 2);
	record(&c, 3, 0, 30, 30, 3);
	tmpdir_path(path, sizeof path, "grow.pcap");
	save(path, &c, first + 7); /* the second record not written whole yet */
	assert_int_equal(pcapfile_open(&f, path, 0, err, sizeof err), 0);
	assert_true(pcapfile_mapped(f));
	assert_int_equal(pcapfile_next(f, &r), 1);
	FILE *fp = fopen(path, "ab"); /* the rest comes */
	assert_non_null(fp);
	assert_int_equal(fwrite(c.b + first + 7, 1, c.len - first - 7, fp), c.len - first - 7);
	assert_int_equal(fclose(fp), 0);
	read_all(f, &u);
	pcapfile_close(f);
	assert_int_equal(u.rc, 0);
	assert_int_equal(u.n, 2);
	assert_int_equal(u.first[0], 2);
	assert_int_equal(u.first[1], 3);
	assert_int_equal(u.offset, c.len);
	assert_int_equal(u.records, 3);
}

static void test_pipe_and_offset_start(void **state)
{
	(void)state;
	static struct cap c;
	static struct run u;
	struct pcapfile *f;
	char err[256], path[300];
	file_hdr(&c, true, false, 65535, 1);
	for (uint8_t i = 0; i < 10; i++)
		record(&c, i, 0, 100u + i, 100u + i, i);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], c.b, c.len), (ssize_t)c.len); /* fits the pipe */
	close(fds[1]);
	FILE *fp = fdopen(fds[0], "rb");
	assert_non_null(fp);
	assert_int_equal(pcapfile_open_fp(&f, fp, "pipe", 0, err, sizeof err), 0);
	read_all(f, &u);
	pcapfile_close(f);
	assert_false(u.mapped);
	assert_int_equal(u.n, 10);
	assert_int_equal(u.first[9], 9);
	assert_int_equal(u.offset, c.len);

	/* a stream past some leading bytes: offsets count from the file's start */
	tmpdir_path(path, sizeof path, "lead.bin");
	fp = fopen(path, "wb");
	assert_non_null(fp);
	fputs("LEADING!", fp);
	fwrite(c.b, 1, c.len, fp);
	fclose(fp);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 8, SEEK_SET), 0);
	assert_int_equal(pcapfile_open_fp(&f, fp, "lead", 0, err, sizeof err), 0);
	read_all(f, &u);
	pcapfile_close(f);
	assert_true(u.mapped);
	assert_int_equal(u.n, 10);
	assert_int_equal(u.offs[0], 8 + 24 + 16 + 100);
	assert_int_equal(u.offset, 8 + c.len);
}

static void test_through_libpcap(void **state)
{
	(void)state;
	static struct cap c;
	static struct run u;
	char path[300], err[512];
	struct pcapfile *f;
	/* a link type not decoded here: libpcap reads it, the same records */
	file_hdr(&c, false, false, 65535, 105);
	record(&c, 5, 6, 12, 12, 7);
	record(&c, 6, 7, 13, 13, 8);
	size_t whole = c.len;
	record(&c, 7, 8, 14, 14, 9);
	tmpdir_path(path, sizeof path, "wifi.pcap");
	save(path, &c, whole + 20);
	read_path(path, 0, &u);
	assert_false(u.mapped);
	assert_int_equal(u.n, 2);
	assert_int_equal(u.r[0].time_ns, 5000006000ull);
	assert_int_equal(u.first[1], 8);
	assert_int_equal(u.rc, BSC_ETRUNC);
	assert_int_equal(u.offset, whole);
	assert_non_null(strstr(u.error, "wifi.pcap: truncated at byte 81 (after record 2)"));

	/* pcapng: a section header, an interface, one packet */
	c.len = 0;
	c.be = false;
	put32(&c, 0x0A0D0D0A);
	put32(&c, 28);
	put32(&c, 0x1A2B3C4D);
	put16(&c, 1);
	put16(&c, 0);
	put32(&c, 0xFFFFFFFF);
	put32(&c, 0xFFFFFFFF);
	put32(&c, 28);
	put32(&c, 1);
	put32(&c, 20);
	put16(&c, 1);
	put16(&c, 0);
	put32(&c, 65535);
	put32(&c, 20);
	put32(&c, 6);
	put32(&c, 32 + 8);
	put32(&c, 0);
	put32(&c, 0);
	put32(&c, 1000000); /* microseconds */
	put32(&c, 8);
	put32(&c, 8);
	for (uint8_t i = 0; i < 8; i++)
		c.b[c.len++] = (uint8_t)(i + 40);
	put32(&c, 32 + 8);
	tmpdir_path(path, sizeof path, "one.pcapng");
	save(path, &c, c.len);
	read_path(path, 0, &u);
	assert_false(u.mapped);
	assert_int_equal(u.rc, 0);
	assert_int_equal(u.n, 1);
	assert_int_equal(u.r[0].time_ns, 1000000000ull);
	assert_int_equal(u.r[0].caplen, 8);
	assert_int_equal(u.first[0], 40);
	assert_int_equal(u.offset, c.len);

	/* not a capture, a short file, a missing file */
	tmpdir_path(path, sizeof path, "junk");
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not a capture file, not even close to one\n", fp);
	fclose(fp);
	assert_int_equal(pcapfile_open(&f, path, 0, err, sizeof err), BSC_EMALF);
	assert_null(f);
	assert_non_null(strstr(err, "junk: not a readable pcap/pcapng capture"));
	file_hdr(&c, false, false, 65535, 1);
	tmpdir_path(path, sizeof path, "short");
	save(path, &c, 10);
	assert_int_equal(pcapfile_open(&f, path, 0, err, sizeof err), BSC_ETRUNC);
	tmpdir_path(path, sizeof path, "missing");
	assert_int_equal(pcapfile_open(&f, path, 0, err, sizeof err), BSC_ENOENT);
	assert_non_null(strstr(err, "missing"));
}

/* A file of @n records of @caplen bytes, record i carrying i in its first
 * four bytes and its time; written in one go. */
static void big_file(const char *path, uint32_t n, uint32_t caplen)
{
	FILE *fp = fopen(path, "wb");
	static struct cap c;
	uint8_t rec[16 + 256];
	assert_non_null(fp);
	assert_true(caplen >= 4 && caplen <= 256);
	file_hdr(&c, false, true, 65535, 1);
	assert_int_equal(fwrite(c.b, 1, c.len, fp), c.len);
	memset(rec, 0xab, sizeof rec);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t h[4] = { 1000 + i / 1000, i % 1000, caplen, caplen };
		memcpy(rec, h, sizeof h);
		memcpy(rec + 16, &i, 4);
		assert_int_equal(fwrite(rec, 1, 16 + caplen, fp), 16 + caplen);
	}
	assert_int_equal(fclose(fp), 0);
}

/* A mapped file larger than the window the reader hands out at a time:
 * every record is read whole and in order across the window steps, and the
 * pages behind are given back (resident memory well under the file). */
static void test_large_mapped(void **state)
{
	(void)state;
	char path[300];
	const uint32_t n = 1500000, caplen = 60; /* 114 MB */
	struct pcapfile *f;
	struct pcapfile_rec r;
	char err[512];
	uint32_t i = 0;
	int rc;
	tmpdir_path(path, sizeof path, "big.pcap");
	big_file(path, n, caplen);
	assert_int_equal(pcapfile_open(&f, path, 0, err, sizeof err), 0);
	assert_true(pcapfile_mapped(f));
	while ((rc = pcapfile_next(f, &r)) == 1) {
		uint32_t v;
		assert_int_equal(r.caplen, caplen);
		memcpy(&v, r.data, 4);
		if (v != i)
			fail_msg("record %u carries %u", i, v);
		assert_int_equal(r.time_ns, (uint64_t)(1000 + i / 1000) * 1000000000u + i % 1000);
		i++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, n);
	assert_int_equal(pcapfile_offset(f), 24 + (uint64_t)n * (16 + caplen));
	/* the mapping's pages up to the last window were given back */
	FILE *st = fopen("/proc/self/statm", "r");
	unsigned long size, resident;
	assert_non_null(st);
	assert_int_equal(fscanf(st, "%lu %lu", &size, &resident), 2);
	fclose(st);
	assert_true(resident * (unsigned long)sysconf(_SC_PAGESIZE) <
		    (unsigned long)(24 + (uint64_t)n * (16 + caplen)) * 3 / 4);
	pcapfile_close(f);
	unlink(path);
}

/* A mapped capture of @nrec records of 60 bytes (big_file()) cut shorter
 * while it is read (to @cut_at bytes) in a child, as in a program (SIGBUS
 * at its default action).  What the child saw: the records it was handed,
 * how many of them had lost bytes (zeros where the fill byte 0xab was),
 * and how reading ended. */
struct cut_seen {
	unsigned n, zero_tail;
	int rc;
	char err[600];
};

static void cut_child(const char *path, uint32_t nrec, unsigned before, off_t cut_at,
		      bool regrow, struct cut_seen *cs)
{
	int fds[2], status;
	pid_t pid;
	char msg[1024];
	size_t used = 0;
	ssize_t got;

	big_file(path, nrec, 60);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pcapfile *f;
		struct pcapfile_rec r;
		char err[512];
		struct rlimit no_core = { 0, 0 };
		unsigned n = 0, zero_tail = 0;
		uint32_t v;
		int rc;
		FILE *out;

		(void)setrlimit(RLIMIT_CORE, &no_core);
		signal(SIGBUS, SIG_DFL); /* as in a program: not the test runner's handler */
		out = fdopen(fds[1], "w");
		if (!out || pcapfile_open(&f, path, 0, err, sizeof err) != 0 || !pcapfile_mapped(f))
			_exit(3);
		for (unsigned k = 0; k < before; k++, n++)
			if (pcapfile_next(f, &r) != 1)
				_exit(4);
		if (truncate(path, cut_at) != 0)
			_exit(5);
		/* a writer that keeps its offset: a hole of zeros up to it */
		if (regrow && truncate(path, 24 + (off_t)nrec * 76) != 0)
			_exit(5);
		while ((rc = pcapfile_next(f, &r)) == 1) {
			if (r.caplen != 60)
				_exit(6); /* a record of zeros handed out */
			memcpy(&v, r.data, 4);
			if (v != n)
				_exit(7); /* a record out of order */
			zero_tail += r.data[59] != 0xab;
			n++;
		}
		fprintf(out, "%u %u %d %s\n", n, zero_tail, rc, pcapfile_error(f));
		pcapfile_close(f);
		fclose(out);
		_exit(0);
	}
	close(fds[1]);
	while (used < sizeof msg - 1 &&
	       (got = read(fds[0], msg + used, sizeof msg - 1 - used)) > 0)
		used += (size_t)got;
	msg[used] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(sscanf(msg, "%u %u %d %599[^\n]", &cs->n, &cs->zero_tail, &cs->rc,
				cs->err),
			 4);
	unlink(path);
}

/* What a reader should see of records of 76 bytes after the 24-byte file
 * header, cut at @cut: the whole records before the cut, and the one that
 * straddles it when the cut is not at a page boundary (the rest of its page
 * reads as zeros, without a fault); reading stops at the record after. */
static void cut_expect(uint64_t cut, bool page_boundary, unsigned *n, uint64_t *stop)
{
	uint64_t whole = (cut - 24) / 76;
	bool straddle = 24 + 76 * whole < cut && !page_boundary;

	*n = (unsigned)(whole + straddle);
	*stop = 24 + 76 * (uint64_t)*n;
}

/* Cut at a page boundary: every record before the cut, whole and in
 * order, then the damage, naming the file, the byte and the new size; the
 * program goes on (no crash, nothing read before is lost). */
static void test_cut_while_mapped(void **state)
{
	(void)state;
	long page = sysconf(_SC_PAGESIZE);
	char path[300], want[200];
	struct cut_seen cs;
	uint64_t stop;
	unsigned n;

	tmpdir_path(path, sizeof path, "cut.pcap");
	cut_child(path, 200000, 10, page, false, &cs);
	cut_expect((uint64_t)page, true, &n, &stop);
	assert_int_equal(cs.n, n);
	assert_int_equal(cs.zero_tail, 0);
	assert_int_equal(cs.rc, BSC_ETRUNC);
	assert_non_null(strstr(cs.err, path));
	snprintf(want, sizeof want, "truncated at byte %" PRIu64 " (after record %u)", stop, n);
	assert_non_null(strstr(cs.err, want));
	snprintf(want, sizeof want, "cut short while it was being read; it now ends at byte %ld;",
		 page);
	assert_non_null(strstr(cs.err, want));
}

/* Cut inside a page, and inside the mapping's last page, where nothing
 * faults: the zeros past the new end are not handed out as records; the
 * record that straddles the cut is, with zeros for its lost bytes, and the
 * damage says how many bytes past the end were read. */
static void test_cut_inside_page(void **state)
{
	(void)state;
	long page = sysconf(_SC_PAGESIZE);
	/* a file whose last page is partly used, cut inside that page */
	uint32_t nlast = (uint32_t)((page + 500 - 24 + 75) / 76);
	uint64_t size_last = 24 + 76 * (uint64_t)nlast;
	const struct {
		uint32_t nrec;
		uint64_t cut;
	} cases[] = { { 200000, (uint64_t)page - 96 }, { nlast, size_last - 384 } };
	char path[300], want[200];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cut_seen cs;
		uint64_t stop;
		unsigned n;

		tmpdir_path(path, sizeof path, "cut2.pcap");
		cut_child(path, cases[i].nrec, 10, (off_t)cases[i].cut, false, &cs);
		cut_expect(cases[i].cut, false, &n, &stop);
		assert_int_equal(cs.n, n);
		assert_int_equal(cs.zero_tail, stop > cases[i].cut);
		assert_int_equal(cs.rc, BSC_ETRUNC);
		snprintf(want, sizeof want, "truncated at byte %" PRIu64 " (after record %u)",
			 stop, n);
		assert_non_null(strstr(cs.err, want));
		if (stop > cases[i].cut)
			snprintf(want, sizeof want, "it now ends at byte %" PRIu64 ", and the %" PRIu64
				 " bytes read past that were zeros", cases[i].cut,
				 stop - cases[i].cut);
		else
			snprintf(want, sizeof want, "it now ends at byte %" PRIu64 ";", cases[i].cut);
		assert_non_null(strstr(cs.err, want));
	}
}

/* Cut far behind the reader (which had read records on three pages
 * past the new end before the cut): what it read then was the file's, so
 * the damage does not count it as zeros; the first read after the cut
 * faults and reading stops there. */
static void test_cut_behind_reader(void **state)
{
	(void)state;
	long page = sysconf(_SC_PAGESIZE);
	unsigned before = (unsigned)((4 * page - 24) / 76);
	char path[300], want[200];
	struct cut_seen cs;
	const char *z;

	tmpdir_path(path, sizeof path, "cut4.pcap");
	cut_child(path, 200000, before, page, false, &cs);
	assert_int_equal(cs.n, before);
	assert_int_equal(cs.rc, BSC_ETRUNC);
	snprintf(want, sizeof want, "it now ends at byte %ld", page);
	assert_non_null(strstr(cs.err, want));
	/* zeros, if any, only from the page where the read faulted */
	z = strstr(cs.err, ", and the ");
	if (z)
		assert_true(strtoull(z + 10, NULL, 10) < (unsigned long long)page);
}

/* Cut to nothing and grown again to its old size, as `copytruncate` leaves
 * a file whose writer keeps its offset: no fault (the file is as long as
 * the mapping), but the rest reads as zeros; the reader stops at the first
 * header of zeros instead of handing out empty records. */
static void test_cut_and_regrown(void **state)
{
	(void)state;
	char path[300];
	struct cut_seen cs;

	tmpdir_path(path, sizeof path, "cut3.pcap");
	cut_child(path, 2000, 10, 0, true, &cs);
	assert_int_equal(cs.n, 10);
	assert_int_equal(cs.zero_tail, 0);
	assert_int_equal(cs.rc, BSC_ETRUNC);
	assert_non_null(strstr(cs.err, "truncated at byte 784 (after record 10)"));
	assert_non_null(strstr(cs.err, "its bytes from here on read as zeros"));
}

/* A header of zeros in a file that has not changed is a record like any
 * other (length 0, time 0), mapped or read in blocks: only a file that was
 * cut or changed while it is read stops there. */
static void test_zero_record_unchanged(void **state)
{
	(void)state;
	char path[300], zpath[300];
	static uint8_t buf[24 + 10 * 76 + 16];
	FILE *fp;
	size_t n;

	tmpdir_path(path, sizeof path, "z0.pcap");
	tmpdir_path(zpath, sizeof zpath, "z1.pcap");
	big_file(path, 10, 60);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	n = fread(buf, 1, 24 + 5 * 76, fp);  /* the header and 5 records */
	assert_int_equal(n, 24 + 5 * 76);
	memset(buf + n, 0, 16);               /* a record of zeros */
	n += 16;
	n += fread(buf + n, 1, 5 * 76, fp);   /* the other 5 */
	fclose(fp);
	assert_int_equal(n, sizeof buf);
	fp = fopen(zpath, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
	for (int k = 0; k < 2; k++) {
		struct pcapfile *f;
		struct pcapfile_rec r;
		char err[512];
		unsigned got = 0, empty = 0;
		int rc;

		assert_int_equal(pcapfile_open(&f, zpath, k ? PCAPFILE_NO_MAP : 0, err, sizeof err),
				 0);
		assert_int_equal(pcapfile_mapped(f), k == 0);
		while ((rc = pcapfile_next(f, &r)) == 1) {
			got++;
			empty += r.caplen == 0 && r.origlen == 0 && r.time_ns == 0;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(got, 11);
		assert_int_equal(empty, 1);
		pcapfile_close(f);
	}
	unlink(path);
	unlink(zpath);
}

/* The SIGBUS handler is there while a capture is mapped, and only then; a
 * program's own handler is left alone. */
static void test_sigbus_handler_scope(void **state)
{
	(void)state;
	char path[300], err[512];
	struct sigaction runner, now, mine;
	struct pcapfile *f, *g;
	tmpdir_path(path, sizeof path, "scope.pcap");
	big_file(path, 1000, 60);
	assert_int_equal(sigaction(SIGBUS, NULL, &runner), 0); /* the test runner's */
	signal(SIGBUS, SIG_DFL);
	assert_int_equal(pcapfile_open(&f, path, 0, err, sizeof err), 0);
	assert_true(pcapfile_mapped(f));
	assert_int_equal(pcapfile_open(&g, path, 0, err, sizeof err), 0);
	assert_true(pcapfile_mapped(g));
	assert_int_equal(sigaction(SIGBUS, NULL, &now), 0);
	assert_true(now.sa_flags & SA_SIGINFO);
	pcapfile_close(f);
	assert_int_equal(sigaction(SIGBUS, NULL, &now), 0);
	assert_true(now.sa_flags & SA_SIGINFO); /* g is still mapped */
	pcapfile_close(g);
	assert_int_equal(sigaction(SIGBUS, NULL, &now), 0);
	assert_true(now.sa_handler == SIG_DFL && !(now.sa_flags & SA_SIGINFO));
	/* a handler of the program's own stays */
	memset(&mine, 0, sizeof mine);
	mine.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGBUS, &mine, NULL), 0);
	assert_int_equal(pcapfile_open(&f, path, 0, err, sizeof err), 0);
	assert_int_equal(sigaction(SIGBUS, NULL, &now), 0);
	assert_true(now.sa_handler == SIG_IGN);
	pcapfile_close(f);
	assert_int_equal(sigaction(SIGBUS, NULL, &now), 0);
	assert_true(now.sa_handler == SIG_IGN);
	assert_int_equal(sigaction(SIGBUS, &runner, NULL), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_mapped),
		cmocka_unit_test(test_cut_while_mapped),
		cmocka_unit_test(test_cut_inside_page),
		cmocka_unit_test(test_cut_behind_reader),
		cmocka_unit_test(test_cut_and_regrown),
		cmocka_unit_test(test_zero_record_unchanged),
		cmocka_unit_test(test_sigbus_handler_scope),
		cmocka_unit_test(test_byte_orders_and_precisions),
		cmocka_unit_test(test_snaplen_cut),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_grows_while_read),
		cmocka_unit_test(test_pipe_and_offset_start),
		cmocka_unit_test(test_through_libpcap),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
