/* common/evlog.c — event-log segment writer and reader.
 *
 * The writer runs on one thread (authd's writer): it encodes records into a
 * buffer and writes it with one pwrite(2) per ~64 KiB at an explicit offset,
 * so a failed write can be cut back to the last whole record.  Readers are
 * per-thread objects over a file (read in 1 MiB chunks) or a memory buffer.
 *
 * Segment: header (64 bytes) | record* | footer (on clean close).
 * Event record (big-endian; EVLOG_REC_MIN..EVLOG_REC_MAX bytes):
 *    0 u16 length of the whole record     18 u8  querier family (0, 4, 6)
 *    2 u8  type = 1 (event)               19 ..  querier address (0, 4, 16 bytes)
 *    3 u8  originator kind (0..3)          then, kind != NONE: u8 family (4|6),
 *    4 u64 time, ns since the epoch           u8 prefix, 4|16 address bytes
 *   12 u16 querier port                    then, kind == CLASSLESS: u8 prefix, 4 bytes
 *   14 u16 qtype                           then, flag ECS: u8 family (0|4|6),
 *   16 u8  rcode                              u8 prefix, 0|4|16 address bytes
 *   17 u8  flags (enum event_flag)         last 4: CRC32C of everything before
 * Footer: u16 length = 24, u8 type = 2, u8 0, u64 events, u64 close time ns,
 * u32 CRC32C. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/addr.h"
#include "common/bucket.h"
#include "common/err.h"
#include "common/evlog.h"
#include "common/mem.h"
#include "common/wire.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define REC_EVENT 1
#define REC_FOOTER 2
#define EVENT_FLAGS_KNOWN                                                                          \
	(EVENT_RD | EVENT_EDNS | EVENT_DO | EVENT_TCP | EVENT_ECS | EVENT_RCODE_UNKNOWN)
#define READ_CHUNK (1u << 20)
#define NAME_PREFIX "events-"
#define NAME_SUFFIX ".bsl"
#define NAME_SEQ_AT 24 /* strlen("events-20261122T001500Z-") */
#define ERR_LEN 600

/* ---------------------------------------------------------------------------
 * CRC32C: SSE4.2 instruction when the CPU has it, a table otherwise.
 * ------------------------------------------------------------------------- */

static uint32_t crc_table[256];
static bool crc_hw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static bool crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2");
#endif
	__atomic_store_n(&crc_ready, true, __ATOMIC_RELEASE);
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw_run(uint32_t crc, const uint8_t *p,
							     size_t n)
{
	uint64_t c = crc;

	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		n -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	if (n >= 4) {
		uint32_t v;
		memcpy(&v, p, 4);
		c32 = _mm_crc32_u32(c32, v);
		p += 4;
		n -= 4;
	}
	while (n--)
		c32 = _mm_crc32_u8(c32, *p++);
	return c32;
}
#endif

uint32_t evlog_crc32c(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = ~0u;

	if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
		pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
	if (crc_hw)
		return ~crc_hw_run(c, p, len);
#endif
	while (len--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

/* ---------------------------------------------------------------------------
 * Record codec
 * ------------------------------------------------------------------------- */

static size_t fam_len(uint8_t fam_byte)
{
	return fam_byte == 4 ? 4 : fam_byte == 6 ? 16 : 0;
}

static uint8_t fam_byte(uint8_t family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0;
}

static unsigned fam_bits(uint8_t family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

/* Clear the bits beyond @prefix in the @n bytes at @b. */
static inline void clear_host_bits(uint8_t *b, size_t n, unsigned prefix)
{
	size_t full = prefix / 8;
	unsigned rem = prefix % 8;

	if (full < n && rem)
		b[full++] &= (uint8_t)(0xff00u >> rem);
	if (full < n)
		memset(b + full, 0, n - full);
}

/* True when no bit beyond @prefix is set in the @n bytes at @b. */
static inline bool host_bits_zero(const uint8_t *b, size_t n, unsigned prefix)
{
	size_t full = prefix / 8;
	unsigned rem = prefix % 8;

	if (full < n && rem && (b[full++] & (0xffu >> rem)))
		return false;
	for (; full < n; full++) {
		if (b[full])
			return false;
	}
	return true;
}

/* Family byte, [prefix byte], address bytes of @a, with the bits beyond the
 * prefix cleared so that the reader's checks hold. */
static inline __attribute__((always_inline)) size_t put_addr(uint8_t *b, const struct bsc_addr *a,
								bool with_prefix)
{
	size_t p = 0;
	uint8_t fb = fam_byte(a->family);

	b[p++] = fb;
	if (!fb) {
		if (with_prefix)
			b[p++] = 0;
		return p;
	}
	unsigned bits = fam_bits(a->family);
	unsigned prefix = with_prefix && a->prefix < bits ? a->prefix : bits;
	if (with_prefix)
		b[p++] = (uint8_t)prefix;
	size_t n = fam_len(fb);
	memcpy(b + p, a->bytes, n);
	if (prefix < bits)
		clear_host_bits(b + p, n, prefix);
	return p + n;
}

size_t evlog_encode(const struct query_event *ev, uint8_t *b)
{
	enum revname_kind kind = ev->orig.kind;
	uint8_t flags = ev->flags & EVENT_FLAGS_KNOWN;

	if (kind > REVNAME_CLASSLESS || (kind != REVNAME_NONE && !fam_byte(ev->orig.addr.family)))
		kind = REVNAME_NONE;
	b[2] = REC_EVENT;
	b[3] = (uint8_t)kind;
	wire_put_u64(b + 4, ev->time_ns);
	wire_put_u16(b + 12, ev->querier_port);
	wire_put_u16(b + 14, ev->qtype);
	b[16] = ev->rcode;
	b[17] = flags;
	size_t p = 18;
	p += put_addr(b + p, &ev->querier, false);
	if (kind != REVNAME_NONE)
		p += put_addr(b + p, &ev->orig.addr, true);
	if (kind == REVNAME_CLASSLESS) {
		const struct bsc_addr *c = &ev->orig.classless;
		if (c->family == AF_INET) {
			unsigned prefix = c->prefix > 32 ? 32 : c->prefix;
			b[p++] = (uint8_t)prefix;
			memcpy(b + p, c->bytes, 4);
			clear_host_bits(b + p, 4, prefix);
		} else {
			memset(b + p, 0, 5);
			p++;
		}
		p += 4;
	}
	if (flags & EVENT_ECS)
		p += put_addr(b + p, &ev->ecs, true);
	wire_put_u16(b, (uint16_t)(p + 4));
	wire_put_u32(b + p, evlog_crc32c(b, p));
	return p + 4;
}

/* Read family byte, [prefix], address at b[*p] (fields end at @end) into
 * @a, which is zeroed.  False when it does not fit or breaks the rules
 * (family, prefix range, bits set beyond the prefix). */
static inline bool get_addr(const uint8_t *b, size_t end, size_t *p, struct bsc_addr *a,
			    bool with_prefix, bool family_needed)
{
	if (*p >= end)
		return false;
	uint8_t fb = b[(*p)++];
	if (!fb) {
		if (family_needed)
			return false;
		if (with_prefix) {
			if (*p >= end || b[*p] != 0)
				return false;
			(*p)++;
		}
		return true;
	}
	if (fb != 4 && fb != 6)
		return false;
	a->family = fb == 4 ? AF_INET : AF_INET6;
	unsigned bits = fb == 4 ? 32 : 128;
	unsigned prefix = bits;
	if (with_prefix) {
		if (*p >= end)
			return false;
		prefix = b[(*p)++];
		if (prefix > bits)
			return false;
	}
	size_t n = bits / 8;
	if (end - *p < n)
		return false;
	memcpy(a->bytes, b + *p, n);
	if (prefix < bits && !host_bits_zero(a->bytes, n, prefix))
		return false;
	*p += n;
	a->prefix = (uint8_t)prefix;
	return true;
}

/* Decode an event record of @n bytes whose checksum was verified. */
static bool rec_decode(const uint8_t *b, size_t n, struct query_event *ev)
{
	size_t end = n - 4, p = 18;

	memset(ev, 0, sizeof *ev);
	if (end < p || b[3] > REVNAME_CLASSLESS || (b[17] & ~EVENT_FLAGS_KNOWN))
		return false;
	ev->time_ns = wire_get_u64(b + 4);
	ev->querier_port = wire_get_u16(b + 12);
	ev->qtype = wire_get_u16(b + 14);
	ev->rcode = b[16];
	ev->flags = b[17];
	if (!get_addr(b, end, &p, &ev->querier, false, false))
		return false;
	enum revname_kind kind = (enum revname_kind)b[3];
	if (kind != REVNAME_NONE && !get_addr(b, end, &p, &ev->orig.addr, true, true))
		return false;
	if (kind == REVNAME_CLASSLESS) {
		if (end - p < 5 || b[p] > 32 || !host_bits_zero(b + p + 1, 4, b[p]))
			return false;
		struct bsc_addr *c = &ev->orig.classless;
		c->family = AF_INET;
		c->prefix = b[p];
		memcpy(c->bytes, b + p + 1, 4);
		p += 5;
	}
	ev->orig.kind = kind;
	if ((ev->flags & EVENT_ECS) && !get_addr(b, end, &p, &ev->ecs, true, false))
		return false;
	return p == end;
}

static void footer_encode(uint8_t *b, uint64_t events, uint64_t now_ns)
{
	wire_put_u16(b, EVLOG_FOOTER_LEN);
	b[2] = REC_FOOTER;
	b[3] = 0;
	wire_put_u64(b + 4, events);
	wire_put_u64(b + 12, now_ns);
	wire_put_u32(b + 20, evlog_crc32c(b, 20));
}

/* Header (64 bytes):
 *    0 8  magic "BSCEVLOG"      16 u64 creation time, ns since the epoch
 *    8 u16 format version = 1   24 u64 segment sequence number
 *   10 u16 header length = 64   32 28  writer id, NUL padded (27 bytes + NUL)
 *   12 u32 flags = 0            60 u32 CRC32C of bytes 0..59 */
static void header_encode(uint8_t *b, const struct evlog_header *h)
{
	memset(b, 0, EVLOG_HEADER_LEN);
	memcpy(b, EVLOG_MAGIC, 8);
	wire_put_u16(b + 8, EVLOG_VERSION);
	wire_put_u16(b + 10, EVLOG_HEADER_LEN);
	wire_put_u64(b + 16, h->created_ns);
	wire_put_u64(b + 24, h->seq);
	memcpy(b + 32, h->writer_id, strnlen(h->writer_id, EVLOG_WRITER_ID_MAX));
	wire_put_u32(b + 60, evlog_crc32c(b, 60));
}

/* ---------------------------------------------------------------------------
 * Names and listing
 * ------------------------------------------------------------------------- */

int evlog_segment_name(char *buf, size_t len, uint64_t created_ns, uint64_t seq)
{
	time_t t = (time_t)(created_ns / NS_PER_S);
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof tm);
	int n = snprintf(buf, len, NAME_PREFIX "%04d%02d%02dT%02d%02d%02dZ-%06llu" NAME_SUFFIX,
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (unsigned long long)seq);
	return n < 0 || (size_t)n >= len ? BSC_ENOSPC : n;
}

/* Sequence number of a segment name; false when it is none. */
static bool name_seq(const char *name, uint64_t *seq)
{
	size_t n = strlen(name), sl = strlen(NAME_SUFFIX);

	if (n <= NAME_SEQ_AT + sl || strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0 ||
	    strcmp(name + n - sl, NAME_SUFFIX) != 0 || name[NAME_SEQ_AT - 1] != '-')
		return false;
	uint64_t v = 0;
	for (size_t i = NAME_SEQ_AT; i < n - sl; i++) {
		if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*seq = v;
	return true;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void evlog_list_free(char **names, size_t n)
{
	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		mem_free(names[i]);
	mem_free(names);
}

int evlog_list(const char *dir, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return bsc_err_sys(errno);
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		uint64_t seq;
		if (!name_seq(e->d_name, &seq))
			continue;
		if (cnt == cap) {
			char **nv = mem_grow(v, &cap, sizeof *nv, 16);
			if (!nv) {
				rc = BSC_ENOMEM;
				break;
			}
			v = nv;
		}
		v[cnt] = mem_strdup(e->d_name);
		if (!v[cnt]) {
			rc = BSC_ENOMEM;
			break;
		}
		cnt++;
	}
	closedir(d);
	if (rc < 0) {
		evlog_list_free(v, cnt);
		return rc;
	}
	if (cnt)
		qsort(v, cnt, sizeof *v, cmp_name);
	*names = v;
	*n = cnt;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------- */

struct evlog_writer {
	char *dir;
	char *path; /* current segment; room for dir + "/" + EVLOG_NAME_MAX */
	char id[EVLOG_WRITER_ID_MAX + 1];
	uint64_t max_bytes, max_age_ns;
	enum evlog_sync sync;
	uint8_t *buf;
	size_t cap, len;
	uint64_t buf_events;
	int fd;
	uint64_t seq;        /* of the next segment */
	uint64_t created_ns; /* of the current one */
	uint64_t file_off;   /* bytes on disk, always at a record boundary */
	uint64_t seg_events; /* records on disk in the current segment */
	struct evlog_writer_stats st;
};

static int pwrite_all(int fd, const uint8_t *b, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return bsc_err_sys(errno);
		}
		if (w == 0)
			return BSC_EIO;
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int segment_open(struct evlog_writer *w, uint64_t now_ns)
{
	size_t dl = strlen(w->dir);

	/* Names sort by time: never let a new segment sort before the last. */
	if (now_ns < w->created_ns)
		now_ns = w->created_ns;

	for (int tries = 0; tries < 1000; tries++) {
		w->path[dl] = '/';
		int n = evlog_segment_name(w->path + dl + 1, EVLOG_NAME_MAX, now_ns, w->seq);
		if (n < 0)
			return n;
		int fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 && errno == EEXIST) {
			w->seq++;
			continue;
		}
		if (fd < 0)
			return bsc_err_sys(errno);
		struct evlog_header h = { .created_ns = now_ns, .seq = w->seq };
		memcpy(h.writer_id, w->id, sizeof h.writer_id);
		uint8_t hb[EVLOG_HEADER_LEN];
		header_encode(hb, &h);
		int rc = pwrite_all(fd, hb, sizeof hb, 0);
		if (rc < 0) {
			close(fd);
			unlink(w->path);
			return rc;
		}
		w->fd = fd;
		w->created_ns = now_ns;
		w->file_off = EVLOG_HEADER_LEN;
		w->seg_events = 0;
		w->seq++;
		w->st.segments++;
		w->st.bytes += EVLOG_HEADER_LEN;
		return 0;
	}
	return BSC_EEXIST;
}

int evlog_flush(struct evlog_writer *w)
{
	if (!w->len)
		return 0;
	int rc = w->fd < 0 ? BSC_EIO : pwrite_all(w->fd, w->buf, w->len, w->file_off);
	if (rc < 0) {
		/* Cut a partial write back to the last whole record: what
		 * follows must not land after half a record. */
		if (w->fd >= 0 && ftruncate(w->fd, (off_t)w->file_off) != 0)
			rc = bsc_err_sys(errno);
		w->st.lost += w->buf_events;
		w->st.errors++;
		w->len = 0;
		w->buf_events = 0;
		return rc;
	}
	w->file_off += w->len;
	w->st.bytes += w->len;
	w->st.events += w->buf_events;
	w->seg_events += w->buf_events;
	w->len = 0;
	w->buf_events = 0;
	if (w->sync == EVLOG_SYNC_FLUSH && fdatasync(w->fd) != 0)
		return bsc_err_sys(errno);
	return 0;
}

/* Flush, footer, sync, close.  Returns the first error. */
static int segment_close(struct evlog_writer *w, uint64_t now_ns)
{
	if (w->fd < 0)
		return 0;
	int rc = evlog_flush(w);
	uint8_t f[EVLOG_FOOTER_LEN];
	footer_encode(f, w->seg_events, now_ns);
	int r2 = pwrite_all(w->fd, f, sizeof f, w->file_off);
	if (r2 == 0) {
		w->file_off += sizeof f;
		w->st.bytes += sizeof f;
	} else if (ftruncate(w->fd, (off_t)w->file_off) != 0) {
		r2 = bsc_err_sys(errno);
	}
	if (rc == 0)
		rc = r2;
	if (w->sync != EVLOG_SYNC_NONE && fdatasync(w->fd) != 0 && rc == 0)
		rc = bsc_err_sys(errno);
	if (close(w->fd) != 0 && rc == 0)
		rc = bsc_err_sys(errno);
	w->fd = -1;
	return rc;
}

/* Next sequence number: one past the greatest in the folder. */
static int next_seq(const char *dir, uint64_t *seq)
{
	char **names;
	size_t n;
	int rc = evlog_list(dir, &names, &n);

	*seq = 1;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint64_t s;
		if (name_seq(names[i], &s) && s >= *seq)
			*seq = s + 1;
	}
	evlog_list_free(names, n);
	return 0;
}

void evlog_writer_stats(const struct evlog_writer *w, struct evlog_writer_stats *out)
{
	*out = w->st;
}

const char *evlog_writer_path(const struct evlog_writer *w)
{
	return w->path;
}

static void writer_free(struct evlog_writer *w)
{
	mem_free(w->dir);
	mem_free(w->path);
	mem_free(w->buf);
	mem_free(w);
}

int evlog_writer_open(struct evlog_writer **out, const struct evlog_opts *o, uint64_t now_ns)
{
	*out = NULL;
	if (!o || !o->dir || !*o->dir)
		return BSC_EINVAL;
	uint64_t max_bytes = o->max_bytes ? o->max_bytes : EVLOG_MAX_BYTES_DEFAULT;
	if (max_bytes < 1024)
		return BSC_EINVAL;
	struct evlog_writer *w = mem_calloc(1, sizeof *w);
	if (!w)
		return BSC_ENOMEM;
	w->fd = -1;
	w->max_bytes = max_bytes;
	w->max_age_ns = o->max_age_ns ? o->max_age_ns : EVLOG_MAX_AGE_DEFAULT;
	w->sync = o->sync;
	w->cap = o->buf_size ? o->buf_size : EVLOG_BUF_DEFAULT;
	if (w->cap < 4096)
		w->cap = 4096;
	if (o->writer_id)
		strncpy(w->id, o->writer_id, EVLOG_WRITER_ID_MAX);
	size_t dl = strlen(o->dir);
	w->dir = mem_strdup(o->dir);
	w->path = mem_alloc(dl + 2 + EVLOG_NAME_MAX);
	w->buf = mem_alloc(w->cap);
	int rc = BSC_ENOMEM;
	if (!w->dir || !w->path || !w->buf)
		goto fail;
	memcpy(w->path, o->dir, dl + 1);
	if (mkdir(o->dir, 0750) != 0 && errno != EEXIST) {
		rc = bsc_err_sys(errno);
		goto fail;
	}
	if ((rc = next_seq(o->dir, &w->seq)) < 0)
		goto fail;
	if ((rc = segment_open(w, now_ns)) < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	writer_free(w);
	return rc;
}

int evlog_rotate(struct evlog_writer *w, uint64_t now_ns)
{
	int rc = segment_close(w, now_ns);
	int r2 = segment_open(w, now_ns);
	return rc < 0 ? rc : r2;
}

int evlog_tick(struct evlog_writer *w, uint64_t now_ns)
{
	int rc = evlog_flush(w);
	if (w->fd >= 0 && w->max_age_ns != UINT64_MAX && w->seg_events &&
	    now_ns >= w->created_ns && now_ns - w->created_ns >= w->max_age_ns) {
		int r2 = evlog_rotate(w, now_ns);
		if (rc == 0)
			rc = r2;
	}
	return rc;
}

int evlog_append(struct evlog_writer *w, const struct query_event *ev)
{
	uint8_t rec[EVLOG_REC_MAX];
	int rc = 0;

	/* Most records are encoded in place, at the end of the buffer of a
	 * segment that has room for them. */
	if (w->fd >= 0 && w->cap - w->len >= EVLOG_REC_MAX) {
		size_t n = evlog_encode(ev, w->buf + w->len);
		if (w->file_off + w->len + n + EVLOG_FOOTER_LEN <= w->max_bytes ||
		    w->seg_events + w->buf_events == 0) {
			w->len += n;
			w->buf_events++;
			return 0;
		}
	}
	size_t n = evlog_encode(ev, rec);

	/* The writer keeps no clock of its own: a segment opened here is named
	 * by the event's time (never earlier than the previous segment). */
	if (w->fd >= 0 && w->seg_events + w->buf_events > 0 &&
	    w->file_off + w->len + n + EVLOG_FOOTER_LEN > w->max_bytes)
		rc = evlog_rotate(w, ev->time_ns);
	if (w->fd < 0) {
		int r2 = segment_open(w, ev->time_ns);
		if (r2 < 0) {
			w->st.lost++;
			return r2;
		}
	}
	if (w->cap - w->len < n) {
		int r2 = evlog_flush(w);
		if (rc == 0)
			rc = r2;
	}
	memcpy(w->buf + w->len, rec, n);
	w->len += n;
	w->buf_events++;
	return rc;
}

int evlog_writer_close(struct evlog_writer *w, uint64_t now_ns)
{
	if (!w)
		return 0;
	int rc = segment_close(w, now_ns);
	writer_free(w);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Reader
 * ------------------------------------------------------------------------- */

enum rstate { RS_OK = 0, RS_END = 1 };

struct evlog_reader {
	int fd;             /* -1 for a memory reader */
	const uint8_t *data;
	size_t len, pos;    /* window data[0..len), next record at pos */
	uint64_t base;      /* file offset of data[0] */
	uint8_t *buf;       /* file readers: the window's storage */
	size_t cap;
	bool eof;
	int io_err;
	int state;          /* RS_OK, RS_END or a sticky error */
	bool closed;
	uint64_t count, footer_count, err_off;
	struct evlog_header hdr;
	char name[256];
	char err[ERR_LEN];
};

/* Make @need bytes available at pos (file readers refill); false at EOF. */
static bool fill(struct evlog_reader *r, size_t need)
{
	if (r->len - r->pos >= need)
		return true;
	if (r->fd < 0 || r->eof)
		return false;
	size_t rest = r->len - r->pos;
	memmove(r->buf, r->buf + r->pos, rest);
	r->base += r->pos;
	r->pos = 0;
	r->len = rest;
	while (r->len < r->cap && r->len < need + READ_CHUNK / 2) {
		ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r->io_err = bsc_err_sys(errno);
			r->eof = true;
			break;
		}
		if (n == 0) {
			r->eof = true;
			break;
		}
		r->len += (size_t)n;
	}
	r->data = r->buf;
	return r->len - r->pos >= need;
}

/* True when a record with a valid checksum starts at @b (@avail bytes). */
static bool valid_at(const uint8_t *b, size_t avail)
{
	if (avail < EVLOG_REC_MIN)
		return false;
	size_t n = wire_get_u16(b);
	if (n > avail || (b[2] == REC_EVENT ? n < EVLOG_REC_MIN || n > EVLOG_REC_MAX
					     : b[2] != REC_FOOTER || n != EVLOG_FOOTER_LEN))
		return false;
	return evlog_crc32c(b, n - 4) == wire_get_u32(b + n - 4);
}

/* Does any valid record start after file offset @off?  Tells damage in the
 * middle from a torn tail.  Reads the rest of a file with pread. */
static bool valid_after(struct evlog_reader *r, uint64_t off)
{
	if (r->fd < 0) {
		for (uint64_t y = off + 1; y < r->len; y++) {
			if (valid_at(r->data + y, r->len - y))
				return true;
		}
		return false;
	}
	uint8_t *chunk = mem_alloc(READ_CHUNK + EVLOG_REC_MAX);
	if (!chunk)
		return true; /* cannot tell: the safer verdict is "corrupt" */
	bool found = false;
	uint64_t at = off + 1;
	for (;;) {
		ssize_t n = pread(r->fd, chunk, READ_CHUNK + EVLOG_REC_MAX, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t lim = (size_t)n > READ_CHUNK ? READ_CHUNK : (size_t)n;
		for (size_t y = 0; y < lim && !found; y++)
			found = valid_at(chunk + y, (size_t)n - y);
		if (found || (size_t)n <= READ_CHUNK)
			break;
		at += READ_CHUNK;
	}
	mem_free(chunk);
	return found;
}

static int fail(struct evlog_reader *r, int code, uint64_t off, const char *what)
{
	r->state = code;
	r->err_off = off;
	snprintf(r->err, sizeof r->err, "%s: %s at byte %llu; %llu events before it are valid",
		 r->name, what, (unsigned long long)off, (unsigned long long)r->count);
	return code;
}

/* Damage at @off: a torn tail when nothing valid follows, else corruption. */
static int damage(struct evlog_reader *r, uint64_t off, const char *what)
{
	char msg[160];

	if (valid_after(r, off)) {
		snprintf(msg, sizeof msg, "corrupt record (%s), valid records follow", what);
		return fail(r, BSC_EMALF, off, msg);
	}
	snprintf(msg, sizeof msg, "torn tail (%s; nothing valid follows: a crash while writing)",
		 what);
	return fail(r, BSC_ETRUNC, off, msg);
}

int evlog_reader_next(struct evlog_reader *r, struct query_event *ev)
{
	if (r->state)
		return r->state == RS_END ? 0 : r->state;
	for (;;) {
		uint64_t off = r->base + r->pos;
		bool room = r->len - r->pos >= EVLOG_REC_MAX; /* the common case */
		if (!room && !fill(r, 2)) {
			if (r->io_err)
				return fail(r, r->io_err, off, "read error");
			if (r->len == r->pos) {
				r->state = RS_END;
				return 0;
			}
			if (r->closed)
				return fail(r, BSC_EMALF, off, "data after the footer");
			return damage(r, off, "a record length cut short");
		}
		if (r->closed)
			return fail(r, BSC_EMALF, off, "data after the footer");
		size_t n = wire_get_u16(r->data + r->pos);
		if (n < EVLOG_REC_MIN || n > EVLOG_REC_MAX)
			return damage(r, off, "impossible record length");
		if (!room && !fill(r, n)) {
			if (r->io_err)
				return fail(r, r->io_err, off, "read error");
			return damage(r, off, "record cut short by the end of the file");
		}
		const uint8_t *b = r->data + r->pos;
		if (evlog_crc32c(b, n - 4) != wire_get_u32(b + n - 4))
			return damage(r, off, "checksum mismatch");
		if (b[2] == REC_EVENT) {
			if (!rec_decode(b, n, ev))
				return fail(r, BSC_EMALF, off,
					    "malformed event record (its checksum is valid)");
			r->pos += n;
			r->count++;
			return 1;
		}
		if (b[2] != REC_FOOTER || n != EVLOG_FOOTER_LEN || b[3] != 0)
			return fail(r, BSC_EMALF, off,
				    "unknown record type (its checksum is valid)");
		r->footer_count = wire_get_u64(b + 4);
		if (r->footer_count != r->count)
			return fail(r, BSC_EMALF, off, "footer event count disagrees");
		r->closed = true;
		r->pos += n;
	}
}

static int reader_start(struct evlog_reader *r, char *err, size_t errlen)
{
	if (!fill(r, EVLOG_HEADER_LEN)) {
		if (r->io_err) {
			snprintf(err, errlen, "%s: read error: %s", r->name,
				 bsc_strerror(r->io_err));
			return r->io_err;
		}
		snprintf(err, errlen, "%s: %zu bytes, shorter than a segment header (%d): "
			 "torn at creation", r->name, r->len, EVLOG_HEADER_LEN);
		return BSC_ETRUNC;
	}
	const uint8_t *b = r->data;
	if (memcmp(b, EVLOG_MAGIC, 8) != 0) {
		snprintf(err, errlen, "%s: not an event-log segment (bad magic)", r->name);
		return BSC_EMALF;
	}
	uint16_t ver = wire_get_u16(b + 8);
	if (ver != EVLOG_VERSION) {
		snprintf(err, errlen, "%s: segment format version %u; this build reads %d", r->name,
			 ver, EVLOG_VERSION);
		return BSC_EMALF;
	}
	if (wire_get_u16(b + 10) != EVLOG_HEADER_LEN || wire_get_u32(b + 12) != 0 || b[59] != 0 ||
	    evlog_crc32c(b, 60) != wire_get_u32(b + 60)) {
		snprintf(err, errlen, "%s: damaged segment header", r->name);
		return BSC_EMALF;
	}
	r->hdr.version = ver;
	r->hdr.created_ns = wire_get_u64(b + 16);
	r->hdr.seq = wire_get_u64(b + 24);
	memcpy(r->hdr.writer_id, b + 32, EVLOG_WRITER_ID_MAX);
	r->hdr.writer_id[EVLOG_WRITER_ID_MAX] = '\0';
	r->pos = EVLOG_HEADER_LEN;
	return 0;
}

static struct evlog_reader *reader_new(const char *name)
{
	struct evlog_reader *r = mem_calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->fd = -1;
	snprintf(r->name, sizeof r->name, "%s", name ? name : "(memory)");
	return r;
}

int evlog_reader_open(struct evlog_reader **out, const char *path, char *err, size_t errlen)
{
	char dummy[8];

	*out = NULL;
	if (!err) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	struct evlog_reader *r = reader_new(path);
	if (!r)
		return BSC_ENOMEM;
	r->cap = READ_CHUNK + EVLOG_REC_MAX;
	r->buf = mem_alloc(r->cap);
	if (!r->buf) {
		evlog_reader_close(r);
		return BSC_ENOMEM;
	}
	r->data = r->buf;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		int rc = bsc_err_sys(errno);
		snprintf(err, errlen, "%s: %s", path, bsc_strerror(rc));
		evlog_reader_close(r);
		return rc;
	}
	int rc = reader_start(r, err, errlen);
	if (rc < 0) {
		evlog_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int evlog_reader_open_mem(struct evlog_reader **out, const void *data, size_t len,
			  const char *name, char *err, size_t errlen)
{
	char dummy[8];

	*out = NULL;
	if (!err) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	struct evlog_reader *r = reader_new(name);
	if (!r)
		return BSC_ENOMEM;
	r->data = data;
	r->len = len;
	r->eof = true;
	int rc = reader_start(r, err, errlen);
	if (rc < 0) {
		evlog_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void evlog_reader_close(struct evlog_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	mem_free(r->buf);
	mem_free(r);
}

const struct evlog_header *evlog_reader_header(const struct evlog_reader *r)
{
	return &r->hdr;
}

bool evlog_reader_closed(const struct evlog_reader *r)
{
	return r->closed;
}

uint64_t evlog_reader_count(const struct evlog_reader *r)
{
	return r->count;
}

uint64_t evlog_reader_offset(const struct evlog_reader *r)
{
	return r->state < 0 ? r->err_off : r->base + r->pos;
}

const char *evlog_reader_error(const struct evlog_reader *r)
{
	return r->err;
}
