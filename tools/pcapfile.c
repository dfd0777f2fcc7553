/* tools/pcapfile.c — the records of a pcap/pcapng capture for the capture
 * readers: classic pcap read here (a regular file mapped, records handed out
 * in place; a pipe read in 1 MB blocks), pcapng and the rarer classic
 * variants through libpcap over a byte-counting cookie stream.
 *
 * libpcap checks the file header in every case.  Runs on the caller's
 * thread. */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "tools/pcapfile.h"
#include "tools/pktdec.h"

#define ERR_LEN 512
#define READ_BUF (256u * 1024u)  /* buffer of the stream libpcap reads */
#define FILE_HDR 24              /* classic pcap file header */
#define REC_HDR PCAPFILE_REC_HDR /* classic pcap record header */
#define CAPLEN_MAX PCAPFILE_CAPLEN_MAX
#define NATIVE_READ (1u << 20)   /* bytes per read of the block reader */
#define MAP_STEP ((size_t)64 << 20) /* a mapped file is handed out this much at a time */

#define MAGIC_USEC 0xa1b2c3d4u
#define MAGIC_NSEC 0xa1b23c4du

/* The stream libpcap reads (a cookie stream over the caller's): knows the
 * byte offset without a system call, also on a pipe, and gives back first
 * the file header read before libpcap came in. */
struct src {
	FILE *under;
	uint64_t pos;           /* offset of the next byte handed on */
	bool own;               /* close @under with the reader */
	uint8_t pre[FILE_HDR];  /* read from @under before libpcap */
	size_t npre, pre_at;
};

struct pcapfile {
	/* classic pcap read here: the window over the file (first: see
	 * pcapfile_next) */
	struct pcapfile_win w;
	bool native;
	bool swapped;           /* the file's byte order is not ours */
	bool done;
	int err;
	int dlt;
	/* the window's storage: a mapping of the whole file, or a buffer the
	 * blocks are read into */
	uint8_t *map;
	size_t maplen;
	size_t released;        /* pages of the mapping before this given back */
	struct timespec map_ctime; /* the file's change time when it was mapped */
	uint8_t *buf;
	size_t cap;
	bool eof;
	int ioerr;              /* errno of a failed read */
	/* otherwise libpcap */
	pcap_t *pc;
	bool classic;           /* pcap, not pcapng: records are 16 bytes + caplen */
	struct src src;
	char *name;
	char errmsg[ERR_LEN];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static inline uint32_t get32(const uint8_t *b, bool swapped)
{
	uint32_t v;
	memcpy(&v, b, 4);
	return swapped ? __builtin_bswap32(v) : v;
}

/* ---- the stream libpcap reads ---- */

static ssize_t src_read(void *c, char *buf, size_t size)
{
	struct src *s = c;
	size_t n;
	if (s->pre_at < s->npre) {
		n = s->npre - s->pre_at < size ? s->npre - s->pre_at : size;
		memcpy(buf, s->pre + s->pre_at, n);
		s->pre_at += n;
		s->pos += n;
		return (ssize_t)n;
	}
	n = fread(buf, 1, size, s->under);
	s->pos += n;
	if (n == 0 && ferror(s->under))
		return -1;
	return (ssize_t)n;
}

static int src_seek(void *c, off64_t *off, int whence)
{
	struct src *s = c;
	if (whence != SEEK_CUR || *off != 0)
		return -1; /* only ftell() */
	*off = (off64_t)s->pos;
	return 0;
}

static int src_close(void *c)
{
	struct src *s = c;
	if (s->own && s->under != stdin)
		return fclose(s->under);
	return 0;
}

/* ---- classic pcap read here ---- */

/* A capture cut shorter while it is mapped makes a read of a page past its
 * new end fault (SIGBUS); the rest of the page the new end falls in reads as
 * zeros, without a fault.  Unless the program handles SIGBUS itself, a fault
 * inside a mapped capture puts zero pages over the rest of that mapping (so
 * the read goes on), records where they start and counts itself in
 * pcapfile_sigbus_gen: the record that faulted is not handed out, and
 * reading the file stops there as at any damage (native_cut()).  A record
 * of zeros (original length 0) is checked against the file's size the same
 * way, which finds a cut inside the last page too; a record that straddles
 * a cut inside a page is handed out with zeros for its lost bytes, and the
 * damage says so.  Should the zero pages not be had, the program ends with
 * a message naming the file and the byte.  Any other SIGBUS keeps its
 * default action.  The handler is installed while a capture is mapped, and
 * removed after the last one.  (It calls mmap(), a system call without
 * locks in glibc, though not on POSIX's list of async-signal-safe
 * functions.) */
#define SIGBUS_MAPS 8
#define CUT_NONE UINTPTR_MAX

static struct {
	const char *volatile name;      /* NULL: a free entry */
	volatile uintptr_t start, len;
	volatile uintptr_t cut;         /* zero pages from here on, or CUT_NONE */
} sigbus_maps[SIGBUS_MAPS];
static int sigbus_used;                 /* entries taken */
static bool sigbus_ours;                /* the handler is installed by us */
static uintptr_t sigbus_page = 4096;    /* page_size(), for the handler */

volatile sig_atomic_t pcapfile_sigbus_gen;

/* The size of a memory page (a power of two). */
static size_t page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 && (page & (page - 1)) == 0 ? (size_t)page : 4096;
}

/* @v in decimal at the end of @buf (async-signal-safe); its first digit. */
static char *sig_u64(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void sig_puts(const char *s, size_t n)
{
	ssize_t w = write(STDERR_FILENO, s, n);

	(void)w;
}

static void sigbus_handler(int sig, siginfo_t *si, void *ctx)
{
	static const char a[] = "backscope: ", b[] = ": the file was cut short while it was "
						 "being read (SIGBUS at byte ",
		c[] = "); stopped\n";
	uintptr_t at = (uintptr_t)si->si_addr;
	char num[24], *d;

	(void)sig;
	(void)ctx;
	for (int i = 0; i < SIGBUS_MAPS; i++) {
		const char *n = sigbus_maps[i].name;
		uintptr_t start = sigbus_maps[i].start, end = start + sigbus_maps[i].len;
		uintptr_t page = at & ~(sigbus_page - 1); /* start is page-aligned */

		if (!n || at - start >= sigbus_maps[i].len)
			continue;
		if (mmap((void *)page, end - page, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
			if (page - start < sigbus_maps[i].cut)
				sigbus_maps[i].cut = page - start;
			pcapfile_sigbus_gen++;
			return; /* the read is made again, of zeros */
		}
		d = sig_u64(num + sizeof num, at - start);
		sig_puts(a, sizeof a - 1);
		sig_puts(n, strlen(n));
		sig_puts(b, sizeof b - 1);
		sig_puts(d, (size_t)(num + sizeof num - d));
		sig_puts(c, sizeof c - 1);
		_exit(1);
	}
	/* not a capture's fault: the default action, when the access repeats */
	signal(SIGBUS, SIG_DFL);
}

/* Watch the mapping of @f; false when no entry is free (then it is not
 * mapped: its blocks are read). */
static bool sigbus_watch(struct pcapfile *f, const void *map, size_t len)
{
	struct sigaction old, sa;
	int i;

	for (i = 0; i < SIGBUS_MAPS && sigbus_maps[i].name; i++)
		;
	if (i == SIGBUS_MAPS)
		return false;
	sigbus_page = page_size();
	sigbus_maps[i].start = (uintptr_t)map;
	sigbus_maps[i].len = len;
	sigbus_maps[i].cut = CUT_NONE;
	sigbus_maps[i].name = f->name;
	if (sigbus_used++ == 0 && sigaction(SIGBUS, NULL, &old) == 0 &&
	    old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO)) {
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = sigbus_handler;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		sigbus_ours = sigaction(SIGBUS, &sa, NULL) == 0;
	}
	return true;
}

/* Where the mapping at @map was cut (zero pages from there), or CUT_NONE. */
static uintptr_t sigbus_cut_of(const void *map)
{
	for (int i = 0; i < SIGBUS_MAPS; i++)
		if (sigbus_maps[i].name && sigbus_maps[i].start == (uintptr_t)map)
			return sigbus_maps[i].cut;
	return CUT_NONE;
}

/* The mapping at @map is gone. */
static void sigbus_unwatch(const void *map)
{
	for (int i = 0; i < SIGBUS_MAPS; i++) {
		if (sigbus_maps[i].name && sigbus_maps[i].start == (uintptr_t)map) {
			sigbus_maps[i].name = NULL;
			sigbus_used--;
			break;
		}
	}
	if (sigbus_used == 0 && sigbus_ours) {
		signal(SIGBUS, SIG_DFL);
		sigbus_ours = false;
	}
}

/* Hand out the next MAP_STEP bytes of the mapping, and give back the pages
 * well behind the next record (their records are no longer valid), so the
 * resident memory stays bounded however large the file. */
static void map_step(struct pcapfile *f)
{
	size_t page = page_size(), done;

	done = f->w.at / page * page;
	if (done - f->released >= MAP_STEP / 2) {
		(void)madvise(f->map + f->released, done - f->released, MADV_DONTNEED);
		f->released = done;
	}
	f->w.len = f->maplen - f->w.at > MAP_STEP ? f->w.at + MAP_STEP : f->maplen;
}

/* Map the regular file under @f->src, the next record at byte @pos.  False
 * (and nothing changed) when it is not a regular file or cannot be mapped:
 * the blocks are read then. */
static bool map_file(struct pcapfile *f, uint64_t pos)
{
	struct stat sb;
	int fd = fileno(f->src.under);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return false;
	uint64_t size = (uint64_t)sb.st_size;
	if (size < pos || size > SIZE_MAX)
		return false;
	void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return false;
	if (!sigbus_watch(f, m, (size_t)size)) {
		munmap(m, (size_t)size);
		return false;
	}
	(void)madvise(m, (size_t)size, MADV_SEQUENTIAL);
	f->map = m;
	f->maplen = (size_t)size;
	f->map_ctime = sb.st_ctim;
	f->released = 0;
	f->w.win = m;
	f->w.at = (size_t)pos;
	map_step(f);
	return true;
}

/* A classic pcap header (version 2.4 or later, the two common magics)
 * whose link type tools/pktdec.c decodes: the records are then read here.
 * libpcap checks the header itself (from a copy in memory), so a header it
 * would refuse goes on to it and is refused as before.  Returns 0 (read
 * here), 1 (leave it to libpcap) or BSC_ENOMEM. */
static int native_open(struct pcapfile *f, unsigned flags, bool pos_known)
{
	const uint8_t *h = f->src.pre;
	if (f->src.npre != FILE_HDR)
		return 1;
	uint32_t magic = get32(h, false);
	bool swapped = magic == __builtin_bswap32(MAGIC_USEC) ||
		       magic == __builtin_bswap32(MAGIC_NSEC);
	if (!swapped && magic != MAGIC_USEC && magic != MAGIC_NSEC)
		return 1;
	uint16_t major, minor;
	memcpy(&major, h + 4, 2);
	memcpy(&minor, h + 6, 2);
	if (swapped) {
		major = __builtin_bswap16(major);
		minor = __builtin_bswap16(minor);
	}
	if (major != 2 || minor < 4)
		return 1;
	FILE *mf = fmemopen(f->src.pre, FILE_HDR, "rb");
	if (!mf)
		return BSC_ENOMEM;
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_fopen_offline_with_tstamp_precision(mf, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!pc) {
		fclose(mf);
		return 1;
	}
	int snap = pcap_snapshot(pc);
	int dlt = pcap_datalink(pc);
	pcap_close(pc); /* closes mf */
	if (!pktdec_dlt_supported(dlt) || snap <= 0 || (unsigned)snap > CAPLEN_MAX)
		return 1;
	f->src.pre_at = f->src.npre;
	f->src.pos += FILE_HDR;
	if (!(flags & PCAPFILE_NO_MAP) && pos_known && map_file(f, f->src.pos)) {
		/* the mapping is the window; nothing is read through the stream */
	} else {
		f->cap = NATIVE_READ + REC_HDR + CAPLEN_MAX;
		f->buf = mem_alloc(f->cap);
		if (!f->buf)
			return BSC_ENOMEM;
		f->w.win = f->buf;
	}
	f->swapped = swapped;
	f->w.usec = (swapped ? __builtin_bswap32(magic) : magic) == MAGIC_USEC;
	f->dlt = dlt;
	f->w.snaplen = (uint32_t)snap;
	f->native = true;
	f->w.fast = !swapped;
	return 0;
}

/* The end of the mapping is reached: when the file grew since, go on
 * reading the rest in blocks (the bytes left in the window first).  False
 * when there is nothing more (or on an error, f->ioerr). */
static bool map_leave(struct pcapfile *f)
{
	struct stat sb;
	int fd = fileno(f->src.under);
	f->eof = true;
	if (fd < 0 || fstat(fd, &sb) != 0 || (uint64_t)sb.st_size <= f->maplen)
		return false;
	f->cap = NATIVE_READ + REC_HDR + CAPLEN_MAX;
	f->buf = mem_alloc(f->cap);
	if (!f->buf) {
		f->ioerr = ENOMEM;
		return false;
	}
	if (fseeko(f->src.under, (off_t)f->maplen, SEEK_SET) != 0) {
		f->ioerr = errno ? errno : EIO;
		return false;
	}
	f->w.len -= f->w.at;
	memcpy(f->buf, f->w.win + f->w.at, f->w.len); /* less than one record */
	f->w.at = 0;
	sigbus_unwatch(f->map);
	munmap(f->map, f->maplen);
	f->map = NULL;
	f->maplen = 0;
	f->w.win = f->buf;
	f->eof = false;
	return true;
}

/* Make @need bytes available at the window's next record; false at the end
 * of the input or on a read error (f->ioerr). */
static bool native_fill(struct pcapfile *f, size_t need)
{
	if (f->w.len - f->w.at >= need)
		return true;
	if (f->map && f->w.len < f->maplen) {
		map_step(f);
		if (f->w.len - f->w.at >= need)
			return true;
	}
	if (f->eof)
		return false;
	if (f->map && !map_leave(f))
		return false;
	memmove(f->buf, f->buf + f->w.at, f->w.len - f->w.at);
	f->w.len -= f->w.at;
	f->w.at = 0;
	while (f->w.len < need) {
		size_t want = f->cap - f->w.len;
		if (want > NATIVE_READ)
			want = NATIVE_READ;
		size_t got = fread(f->buf + f->w.len, 1, want, f->src.under);
		f->w.len += got;
		f->src.pos += got;
		if (got < want) {
			if (ferror(f->src.under))
				f->ioerr = errno ? errno : EIO;
			f->eof = true;
			break;
		}
	}
	f->w.win = f->buf;
	return f->w.len - f->w.at >= need;
}

/* Reading stops: error @code (@what went wrong, in @msg's words) at the
 * current record.  Returns @code. */
static int read_fail(struct pcapfile *f, int code, const char *what, const char *msg)
{
	f->err = code;
	f->done = true;
	f->w.fast = false;
	snprintf(f->errmsg, sizeof f->errmsg,
		 "%s: %s at byte %" PRIu64 " (after record %" PRIu64
		 "): %s; everything before it was read",
		 f->name, what, f->w.offset, f->w.records, msg);
	return code;
}

/* Reading stops on what libpcap reported (its words are all there is). */
static int read_error(struct pcapfile *f, const char *msg)
{
	bool trunc = msg && strstr(msg, "truncated");

	return read_fail(f, trunc ? BSC_ETRUNC : BSC_EMALF, trunc ? "truncated" : "corrupt record",
			 msg ? msg : "read error");
}

/* Reading here stopped for lack of bytes: an I/O error, or the file ends
 * inside a record (@msg says where). */
static int read_short(struct pcapfile *f, const char *msg)
{
	char e[160];

	if (!f->ioerr)
		return read_fail(f, BSC_ETRUNC, "truncated", msg);
	snprintf(e, sizeof e, "error reading dump file: %s", strerror(f->ioerr));
	return read_fail(f, -f->ioerr, "read error", e);
}

/* The record whose header is at @h, its @cap bytes in the window. */
static inline void native_take(struct pcapfile *f, const uint8_t *h, uint32_t cap,
			       struct pcapfile_rec *r)
{
	uint32_t hv[4] = { get32(h, f->swapped), get32(h + 4, f->swapped), cap,
			   get32(h + 12, f->swapped) };

	pcapfile_win_take(&f->w, h, hv, r);
}

/* Whether the record at the window's position (@reclen bytes with its
 * header) lies past what is left of a mapped file cut short while it is
 * read: past the zero pages the SIGBUS handler put in (sigbus_handler()), or
 * its header all zeros while the file is shorter than the record's end or
 * has changed since it was mapped (the rest of the page past a new end, or
 * a hole left when the file was cut and written again; in a file that has
 * not changed, a header of zeros is a record like any other, as when the
 * file is read in blocks).  Then reading stops there, as at any damage, and
 * f->err says so, with the file's present size. */
static bool native_cut(struct pcapfile *f, size_t reclen)
{
	static const uint8_t zero_hdr[REC_HDR];
	uintptr_t c = sigbus_cut_of(f->map);
	uint64_t at = (uint64_t)(f->w.win + f->w.at - f->map), end = at + reclen;
	uint64_t size = UINT64_MAX, zero_from;
	bool zeros = f->w.len - f->w.at >= REC_HDR &&
		     memcmp(f->w.win + f->w.at, zero_hdr, REC_HDR) == 0;
	bool changed = true;
	struct stat sb;
	char msg[240];
	int k;

	if ((c == CUT_NONE || end <= c) && !zeros)
		return false;
	if (fstat(fileno(f->src.under), &sb) == 0) {
		size = (uint64_t)sb.st_size;
		changed = sb.st_ctim.tv_sec != f->map_ctime.tv_sec ||
			  sb.st_ctim.tv_nsec != f->map_ctime.tv_nsec;
	}
	if ((c == CUT_NONE || end <= c) && size >= end && !changed)
		return false; /* a record of zeros in the file as it was mapped */
	/* zeros stand past the new end; when the first read that faulted lay
	 * pages further on, the pages between were read before the cut and were
	 * the file's, so zeros count from there */
	zero_from = size;
	if (c != CUT_NONE && size < UINT64_MAX - page_size() &&
	    c > (size + page_size() - 1) / page_size() * page_size())
		zero_from = c;
	k = snprintf(msg, sizeof msg, "the file was cut short while it was being read; ");
	if (zero_from < at)
		snprintf(msg + k, sizeof msg - (size_t)k, "it now ends at byte %" PRIu64
			 ", and the %" PRIu64 " bytes read past that were zeros", size,
			 at - zero_from);
	else if (size < end)
		snprintf(msg + k, sizeof msg - (size_t)k, "it now ends at byte %" PRIu64, size);
	else if (zeros)
		snprintf(msg + k, sizeof msg - (size_t)k, "its bytes from here on read as zeros "
			 "(it has been written again since, or it is damaged)");
	else
		snprintf(msg + k, sizeof msg - (size_t)k,
			 "its bytes from %" PRIu64 " on could not be read", (uint64_t)c);
	read_fail(f, BSC_ETRUNC, "truncated", msg);
	return true;
}

/* The next record when the window may not hold it, checked as libpcap
 * checks it; also a record of a mapped file after a SIGBUS in any capture
 * (pcapfile_sigbus_gen) or with an original length of 0, checked against
 * a cut (native_cut()). */
static int native_slow(struct pcapfile *f, struct pcapfile_rec *r)
{
	char msg[160];
	sig_atomic_t gen;

	if (f->done)
		return f->err;
	if (!f->map)
		f->w.gen = pcapfile_sigbus_gen;
	else if (f->w.gen != pcapfile_sigbus_gen && native_cut(f, REC_HDR))
		return f->err;
	if (!native_fill(f, REC_HDR)) {
		size_t got = f->w.len - f->w.at;
		if (f->map && native_cut(f, REC_HDR))
			return f->err;
		if (got == 0 && !f->ioerr) {
			f->done = true;
			f->w.fast = false;
			return 0;
		}
		snprintf(msg, sizeof msg, "truncated dump file; tried to read %u header "
			 "bytes, only got %zu", REC_HDR, got);
		return read_short(f, msg);
	}
	uint32_t cap = get32(f->w.win + f->w.at + 8, f->swapped);
	if (cap > CAPLEN_MAX) {
		snprintf(msg, sizeof msg, "invalid packet capture length %u, bigger than %s of %u",
			 cap, cap > f->w.snaplen ? "snaplen" : "maximum",
			 cap > f->w.snaplen ? f->w.snaplen : CAPLEN_MAX);
		return read_fail(f, BSC_EMALF, "corrupt record", msg);
	}
	if (!native_fill(f, REC_HDR + (size_t)cap)) {
		if (f->map && native_cut(f, REC_HDR + (size_t)cap))
			return f->err;
		snprintf(msg, sizeof msg, "truncated dump file; tried to read %u captured "
			 "bytes, only got %zu", cap, f->w.len - f->w.at - REC_HDR);
		return read_short(f, msg);
	}
	if (f->map) {
		pcapfile_touch(f->w.win + f->w.at, cap);
		gen = pcapfile_sigbus_gen;
		if ((f->w.gen != gen || get32(f->w.win + f->w.at + 12, f->swapped) == 0) &&
		    native_cut(f, REC_HDR + (size_t)cap))
			return f->err;
		f->w.gen = gen;
	}
	native_take(f, f->w.win + f->w.at, cap, r);
	return 1;
}

/* ---- records through libpcap ---- */

static int pcap_rec(struct pcapfile *f, struct pcapfile_rec *r)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	if (f->done)
		return f->err;
	int rc = pcap_next_ex(f->pc, &h, &d);
	if (rc != 1) {
		f->done = true;
		if (rc != PCAP_ERROR_BREAK)
			return read_error(f, pcap_geterr(f->pc));
		return 0;
	}
	f->w.records++;
	if (f->classic && h->caplen < f->w.snaplen) {
		/* a classic record: its header and its bytes (libpcap skips
		 * bytes past the snap length: then ask) */
		f->w.offset += REC_HDR + h->caplen;
	} else {
		long pos = ftell(pcap_file(f->pc)); /* no system call: see struct src */
		if (pos >= 0)
			f->w.offset = (uint64_t)pos;
	}
	r->data = d;
	r->time_ns = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
	r->caplen = h->caplen;
	r->origlen = h->len;
	return 1;
}

int pcapfile_next_slow(struct pcapfile *f, struct pcapfile_rec *r)
{
	if (f->native)
		return native_slow(f, r);
	return pcap_rec(f, r);
}

/* ---- opening ---- */

int pcapfile_open_fp(struct pcapfile **out, FILE *fp, const char *name, unsigned flags,
		     char *err, size_t errlen)
{
	char eb[PCAP_ERRBUF_SIZE];
	int rc = BSC_ENOMEM;
	FILE *cf = NULL;
	struct pcapfile *f = mem_calloc(1, sizeof *f);
	*out = NULL;
	if (!f || !(f->name = mem_strdup(name)))
		goto out;
	long start = ftell(fp);
	__fsetlocking(fp, FSETLOCKING_BYCALLER);
	f->src.under = fp;
	f->src.pos = start > 0 ? (uint64_t)start : 0;
	f->src.npre = fread(f->src.pre, 1, FILE_HDR, fp);
	rc = native_open(f, flags, start >= 0);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		f->src.own = true;
		f->w.offset = f->src.pos;
		*out = f;
		return 0;
	}
	cookie_io_functions_t io = { .read = src_read, .seek = src_seek, .close = src_close };
	cf = fopencookie(&f->src, "rb", io);
	if (!cf) {
		rc = BSC_ENOMEM;
		goto out;
	}
	setvbuf(cf, NULL, _IOFBF, READ_BUF);
	__fsetlocking(cf, FSETLOCKING_BYCALLER); /* one thread: no lock per fread */
	eb[0] = '\0';
	f->pc = pcap_fopen_offline_with_tstamp_precision(cf, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!f->pc) {
		rc = strstr(eb, "truncated") ? BSC_ETRUNC : BSC_EMALF;
		set_err(err, errlen, "%s: not a readable pcap/pcapng capture: %s", name, eb);
		goto out;
	}
	/* from here on libpcap owns cf, and cf owns fp */
	cf = NULL;
	f->src.own = true;
	f->dlt = pcap_datalink(f->pc);
	if (!pktdec_dlt_supported(f->dlt)) {
		const char *dn = pcap_datalink_val_to_name(f->dlt);
		log_warning("pcap: %s: link type %d (%s) not supported; its packets are skipped",
			    name, f->dlt, dn ? dn : "unknown");
	}
	long pos = ftell(pcap_file(f->pc));
	f->w.offset = pos >= 0 ? (uint64_t)pos : 0;
	/* libpcap reads pcapng as version 1.0, pcap as 2.x */
	f->classic = pcap_major_version(f->pc) == 2;
	f->w.snaplen = (uint32_t)pcap_snapshot(f->pc);
	*out = f;
	f = NULL;
	rc = 0;
out:
	if (rc == BSC_ENOMEM)
		set_err(err, errlen, "%s: %s", name, bsc_strerror(rc));
	if (cf)
		fclose(cf); /* leaves fp to the caller: src.own is false */
	pcapfile_close(f);
	return rc;
}

int pcapfile_fopen(const char *path, FILE **fp, char *err, size_t errlen)
{
	if (strcmp(path, "-") == 0) {
		*fp = stdin;
		return 0;
	}
	*fp = fopen(path, "rb");
	if (!*fp) {
		int rc = bsc_err_sys(errno);
		set_err(err, errlen, "%s: %s", path, bsc_strerror(rc));
		return rc;
	}
	/* the block reader and the cookie stream buffer: read(2) straight into
	 * theirs */
	setvbuf(*fp, NULL, _IONBF, 0);
	return 0;
}

int pcapfile_open(struct pcapfile **out, const char *path, unsigned flags, char *err,
		  size_t errlen)
{
	FILE *fp;
	int rc;
	*out = NULL;
	if ((rc = pcapfile_fopen(path, &fp, err, errlen)) < 0)
		return rc;
	rc = pcapfile_open_fp(out, fp, path, flags, err, errlen);
	if (rc && fp != stdin)
		fclose(fp);
	return rc;
}

void pcapfile_close(struct pcapfile *f)
{
	if (!f)
		return;
	if (f->pc)
		pcap_close(f->pc);
	if (f->native && f->src.own && f->src.under != stdin)
		fclose(f->src.under);
	if (f->map) {
		sigbus_unwatch(f->map);
		munmap(f->map, f->maplen);
	}
	mem_free(f->buf);
	mem_free(f->name);
	mem_free(f);
}

uint64_t pcapfile_offset(const struct pcapfile *f)
{
	return f->w.offset;
}

uint64_t pcapfile_records(const struct pcapfile *f)
{
	return f->w.records;
}

const char *pcapfile_error(const struct pcapfile *f)
{
	return f->errmsg;
}

const char *pcapfile_name(const struct pcapfile *f)
{
	return f->name;
}

int pcapfile_linktype(const struct pcapfile *f)
{
	return f->dlt;
}

bool pcapfile_mapped(const struct pcapfile *f)
{
	return f->map != NULL;
}
