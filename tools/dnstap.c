/* tools/dnstap.c — dnstap frame-stream files to query events: libfstrm reads
 * the frames (through our own byte source, which knows the offsets), and
 * protobuf-c unpacks each Dnstap message into a per-decoder arena; the DNS
 * messages go through tools/qfilter.c like those of a capture.
 *
 * Runs on the caller's thread; nothing is allocated per frame unless a frame
 * is larger than the arena. */
#include <inttypes.h>
#include <fstrm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include "dnstap.pb-c.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "tools/dnstap.h"

#define ERR_LEN 512
#define ARENA_SIZE (256u * 1024u)
#define READ_BUF (256u * 1024u)
#define NS_PER_S 1000000000ull

/* The byte source under libfstrm: counts what it hands out. */
struct src {
	FILE *fp;
	uint64_t pos;  /* bytes read so far */
	bool eof;      /* a read met the end of the file */
	int ioerr;     /* errno of a failed read, 0 = none */
};

struct dnstap {
	char *name;
	struct src src;
	struct fstrm_reader *r;
	uint64_t frame_start; /* offset of the next frame */
	bool file;            /* reading a file, not fed */
	bool done;            /* input ended (or failed) */
	bool finished;        /* ended with a STOP frame */
	int err;
	struct qfilter_queue *q;
	struct dnstap_stats st;
	ProtobufCAllocator alloc;
	uint8_t *arena;
	size_t arena_used;
	size_t heap_allocs;   /* allocations of this frame outside the arena */
	char errmsg[ERR_LEN];
};

/* ---- protobuf-c allocation: a bump arena reset per frame ---- */

static void *arena_alloc(void *ad, size_t size)
{
	struct dnstap *d = ad;
	size_t sz = (size + 15u) & ~(size_t)15u;
	if (sz >= size && sz <= ARENA_SIZE - d->arena_used) {
		void *p = d->arena + d->arena_used;
		d->arena_used += sz;
		return p;
	}
	d->heap_allocs++;
	return mem_alloc(size ? size : 1);
}

static void arena_free(void *ad, void *ptr)
{
	struct dnstap *d = ad;
	uintptr_t p = (uintptr_t)ptr, a = (uintptr_t)d->arena;
	if (p >= a && p < a + ARENA_SIZE)
		return;
	mem_free(ptr);
}

/* ---- the byte source ---- */

static fstrm_res src_open(void *obj)
{
	(void)obj;
	return fstrm_res_success;
}

static fstrm_res src_close(void *obj)
{
	(void)obj;
	return fstrm_res_success;
}

static fstrm_res src_read(void *obj, void *data, size_t count)
{
	struct src *s = obj;
	size_t n = fread(data, 1, count, s->fp);
	s->pos += n;
	if (n == count)
		return fstrm_res_success;
	if (ferror(s->fp)) {
		s->ioerr = errno ? errno : EIO;
		return fstrm_res_failure;
	}
	s->eof = true;
	return fstrm_res_stop;
}

/* ---- opening ---- */

static void set_error(struct dnstap *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(struct dnstap *d, int err, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(d->errmsg, sizeof d->errmsg, "%s: ", d->name);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof d->errmsg)
		vsnprintf(d->errmsg + n, sizeof d->errmsg - (size_t)n, fmt, ap);
	va_end(ap);
	d->err = err;
	d->done = true;
}

/* Start a reader at the current position and read its START frame.
 * Returns 0 or the error (set in d->errmsg). */
static int reader_start(struct dnstap *d)
{
	uint64_t start = d->src.pos;
	struct fstrm_rdwr *rw = fstrm_rdwr_init(&d->src);
	if (!rw) {
		set_error(d, BSC_ENOMEM, "%s", bsc_strerror(BSC_ENOMEM));
		return d->err;
	}
	fstrm_rdwr_set_open(rw, src_open);
	fstrm_rdwr_set_close(rw, src_close);
	fstrm_rdwr_set_read(rw, src_read);
	d->r = fstrm_reader_init(NULL, &rw);
	if (!d->r) {
		fstrm_rdwr_destroy(&rw);
		set_error(d, BSC_ENOMEM, "%s", bsc_strerror(BSC_ENOMEM));
		return d->err;
	}
	d->src.eof = false;
	if (fstrm_reader_open(d->r) != fstrm_res_success) {
		if (d->src.ioerr) {
			int e = bsc_err_sys(d->src.ioerr);
			set_error(d, e, "read error at byte %" PRIu64 ": %s", d->src.pos,
				  bsc_strerror(e));
		} else if (d->src.eof) {
			set_error(d, BSC_ETRUNC,
				  "truncated START frame at byte %" PRIu64
				  " (the file ends at %" PRIu64 ")",
				  start, d->src.pos);
		} else {
			set_error(d, BSC_EMALF,
				  "not a frame stream: no valid START frame at byte %" PRIu64,
				  start);
		}
		return d->err;
	}
	const struct fstrm_control *c = NULL;
	if (fstrm_reader_get_control(d->r, FSTRM_CONTROL_START, &c) != fstrm_res_success || !c ||
	    fstrm_control_match_field_content_type(c, (const uint8_t *)DNSTAP_CONTENT_TYPE,
						   strlen(DNSTAP_CONTENT_TYPE)) !=
		    fstrm_res_success) {
		const uint8_t *ct = NULL;
		size_t ctlen = 0;
		if (c && fstrm_control_get_num_field_content_type(c, &ctlen) == fstrm_res_success &&
		    ctlen > 0 &&
		    fstrm_control_get_field_content_type(c, 0, &ct, &ctlen) == fstrm_res_success) {
			set_error(d, BSC_EMALF,
				  "frame stream at byte %" PRIu64 " has content type \"%.*s\", not "
				  "\"" DNSTAP_CONTENT_TYPE "\"",
				  start, (int)(ctlen > 100 ? 100 : ctlen), (const char *)ct);
		} else {
			set_error(d, BSC_EMALF, "frame stream at byte %" PRIu64 " is not dnstap",
				  start);
		}
		return d->err;
	}
	d->frame_start = d->src.pos;
	d->st.streams++;
	return 0;
}

static int decoder_new(struct dnstap **out, const char *name, const struct dnstap_opts *o)
{
	int rc = BSC_ENOMEM;
	struct dnstap *d = mem_calloc(1, sizeof *d);
	*out = NULL;
	if (!d)
		goto out;
	d->name = mem_strdup(name);
	d->arena = mem_alloc(ARENA_SIZE);
	if (!d->name || !d->arena)
		goto out;
	d->alloc.alloc = arena_alloc;
	d->alloc.free = arena_free;
	d->alloc.allocator_data = d;
	rc = qfilter_queue_new(&d->q, o ? o->filter : NULL, &d->st.dns);
	if (rc)
		goto out;
	*out = d;
	d = NULL;
out:
	dnstap_close(d);
	return rc;
}

int dnstap_open_fp(struct dnstap **out, FILE *fp, const char *name, const struct dnstap_opts *o,
		   char *err, size_t errlen)
{
	struct dnstap *d = NULL;
	int rc = decoder_new(&d, name, o);
	*out = NULL;
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", name, bsc_strerror(rc));
		return rc;
	}
	d->file = true;
	d->src.fp = fp;
	__fsetlocking(fp, FSETLOCKING_BYCALLER); /* one thread: no lock per fread */
	rc = reader_start(d);
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "%s", d->errmsg);
		d->src.fp = NULL; /* the caller keeps it */
		dnstap_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

int dnstap_open(struct dnstap **out, const char *path, const struct dnstap_opts *o, char *err,
		size_t errlen)
{
	FILE *fp;
	*out = NULL;
	if (strcmp(path, "-") == 0) {
		fp = stdin;
	} else {
		fp = fopen(path, "rb");
		if (!fp) {
			int rc = bsc_err_sys(errno);
			if (err && errlen)
				snprintf(err, errlen, "%s: %s", path, bsc_strerror(rc));
			return rc;
		}
		setvbuf(fp, NULL, _IOFBF, READ_BUF);
	}
	int rc = dnstap_open_fp(out, fp, path, o, err, errlen);
	if (rc && fp != stdin)
		fclose(fp);
	return rc;
}

int dnstap_open_frames(struct dnstap **out, const struct dnstap_opts *o)
{
	return decoder_new(out, "(frames)", o);
}

void dnstap_close(struct dnstap *d)
{
	if (!d)
		return;
	if (d->r)
		fstrm_reader_destroy(&d->r);
	if (d->src.fp && d->src.fp != stdin)
		fclose(d->src.fp);
	qfilter_queue_free(d->q);
	mem_free(d->arena);
	mem_free(d->name);
	mem_free(d);
}

/* ---- messages ---- */

static bool get_addr(const ProtobufCBinaryData *b, struct bsc_addr *a)
{
	memset(a, 0, sizeof *a);
	if (b->len == 4) {
		a->family = AF_INET;
		a->prefix = 32;
	} else if (b->len == 16) {
		a->family = AF_INET6;
		a->prefix = 128;
	} else {
		return false;
	}
	memcpy(a->bytes, b->data, b->len);
	return true;
}

static bool get_time(bool has_sec, uint64_t sec, bool has_nsec, uint32_t nsec, uint64_t *t)
{
	if (!has_sec || sec >= UINT64_MAX / NS_PER_S || (has_nsec && nsec >= NS_PER_S))
		return false;
	*t = sec * NS_PER_S + (has_nsec ? nsec : 0);
	return true;
}

static void message(struct dnstap *d, const Dnstap__Message *m)
{
	bool query;
	switch (m->type) {
	case DNSTAP__MESSAGE__TYPE__AUTH_QUERY:
	case DNSTAP__MESSAGE__TYPE__CLIENT_QUERY:
		query = true;
		break;
	case DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE:
	case DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE:
		query = false;
		break;
	default:
		d->st.other_type++;
		return;
	}
	struct bsc_addr client, server;
	uint64_t t = 0;
	const ProtobufCBinaryData *dns = query ? &m->query_message : &m->response_message;
	bool has_dns = query ? m->has_query_message : m->has_response_message;
	if (!has_dns || !dns->data || !m->has_query_address ||
	    !get_addr(&m->query_address, &client)) {
		d->st.incomplete++;
		return;
	}
	if (query) {
		if (!get_time(m->has_query_time_sec, m->query_time_sec, m->has_query_time_nsec,
			      m->query_time_nsec, &t)) {
			d->st.incomplete++;
			return;
		}
	} else {
		if (dns->len > 2 && !(dns->data[2] & 0x80)) {
			d->st.incomplete++; /* a "response" that is a query */
			return;
		}
		if (!get_time(m->has_response_time_sec, m->response_time_sec,
			      m->has_response_time_nsec, m->response_time_nsec, &t))
			t = 0; /* only used to age the queries waiting for it */
	}
	if (!m->has_response_address || !get_addr(&m->response_address, &server))
		memset(&server, 0, sizeof server);
	uint16_t cport = m->has_query_port ? (uint16_t)m->query_port : 0;
	uint16_t sport = m->has_response_port ? (uint16_t)m->response_port : 0;
	bool tcp = m->has_socket_protocol &&
		   (m->socket_protocol == DNSTAP__SOCKET_PROTOCOL__TCP ||
		    m->socket_protocol == DNSTAP__SOCKET_PROTOCOL__DOT ||
		    m->socket_protocol == DNSTAP__SOCKET_PROTOCOL__DOH);
	struct qfilter_msg qm = {
		.time_ns = t, .tcp = tcp, .wire = dns->data, .len = dns->len,
	};
	if (query) {
		qm.src = client;
		qm.sport = cport;
		qm.dst = server;
		qm.dport = sport;
	} else {
		qm.src = server;
		qm.sport = sport;
		qm.dst = client;
		qm.dport = cport;
	}
	int rc = qfilter_queue_push(d->q, &qm);
	if (rc && !d->err)
		set_error(d, rc, "frame at byte %" PRIu64 ": %s", d->frame_start, bsc_strerror(rc));
}

void dnstap_feed(struct dnstap *d, const uint8_t *frame, size_t len)
{
	d->st.frames++;
	d->arena_used = 0;
	d->heap_allocs = 0;
	Dnstap__Dnstap *dt = dnstap__dnstap__unpack(&d->alloc, len, frame);
	if (!dt) {
		d->st.bad_frames++;
		return;
	}
	if (dt->type != DNSTAP__DNSTAP__TYPE__MESSAGE || !dt->message)
		d->st.not_message++;
	else
		message(d, dt->message);
	if (d->heap_allocs)
		dnstap__dnstap__free_unpacked(dt, &d->alloc); /* else the arena is reset */
}

void dnstap_feed_end(struct dnstap *d)
{
	d->done = true;
}

/* ---- reading ---- */

static void read_frame(struct dnstap *d)
{
	const uint8_t *data = NULL;
	size_t len = 0;
	fstrm_res res = fstrm_reader_read(d->r, &data, &len);
	if (res == fstrm_res_success && !data) {
		/* libfstrm answers success, without a frame, to a frame longer
		 * than its limit */
		set_error(d, BSC_EMALF,
			  "corrupt frame at byte %" PRIu64 ": its length is over the %u byte "
			  "limit; everything before it was read",
			  d->frame_start, FSTRM_READER_MAX_FRAME_SIZE_DEFAULT);
		return;
	}
	if (res == fstrm_res_success) {
		dnstap_feed(d, data, len);
		d->frame_start = d->src.pos;
		return;
	}
	if (d->src.ioerr) {
		int e = bsc_err_sys(d->src.ioerr);
		set_error(d, e, "read error at byte %" PRIu64 ": %s", d->src.pos, bsc_strerror(e));
		return;
	}
	if (d->src.eof) {
		if (d->src.pos == d->frame_start) {
			/* intact up to here, but the writer never closed it */
			snprintf(d->errmsg, sizeof d->errmsg,
				 "%s: ends at byte %" PRIu64
				 " without a STOP frame (its writer did not close it); the %" PRIu64
				 " frames before are whole",
				 d->name, d->src.pos, d->st.frames);
			log_warning("dnstap: %s", d->errmsg);
			d->done = true;
			return;
		}
		set_error(d, BSC_ETRUNC,
			  "truncated frame at byte %" PRIu64 " (the file ends at %" PRIu64
			  "); everything before it was read",
			  d->frame_start, d->src.pos);
		return;
	}
	if (res == fstrm_res_stop) {
		/* a STOP frame: the end, or another stream follows (files joined) */
		d->frame_start = d->src.pos;
		int c = getc(d->src.fp);
		if (c == EOF) {
			d->finished = true;
			d->done = true;
			return;
		}
		ungetc(c, d->src.fp);
		fstrm_reader_destroy(&d->r);
		if (reader_start(d) == 0)
			return;
		d->finished = false;
		return;
	}
	set_error(d, BSC_EMALF,
		  "corrupt frame at byte %" PRIu64 " (bad length or control frame); everything "
		  "before it was read",
		  d->frame_start);
}

int dnstap_next(struct dnstap *d, struct query_event *ev)
{
	for (;;) {
		if (qfilter_queue_pop(d->q, ev, d->done))
			return 1;
		if (d->done || !d->file)
			return d->err;
		read_frame(d);
	}
}

bool dnstap_finished(const struct dnstap *d)
{
	return d->finished;
}

const struct dnstap_stats *dnstap_stats(const struct dnstap *d)
{
	return &d->st;
}

uint64_t dnstap_offset(const struct dnstap *d)
{
	return d->frame_start;
}

const char *dnstap_error(const struct dnstap *d)
{
	return d->errmsg;
}

size_t dnstap_stats_format(const struct dnstap_stats *s, char *buf, size_t len)
{
	const struct {
		const char *name;
		uint64_t v;
		bool always;
	} f[] = {
		{ "frames", s->frames, true },
		{ "bad frames", s->bad_frames, false },
		{ "not message", s->not_message, false },
		{ "other types", s->other_type, false },
		{ "incomplete", s->incomplete, false },
		{ "streams", s->streams > 1 ? s->streams : 0, false },
	};
	size_t pos = 0;
	if (len == 0)
		return 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		if (!f[i].always && f[i].v == 0)
			continue;
		if (pos >= len)
			break;
		int n = snprintf(buf + pos, len - pos, "%s%s %llu", pos ? ", " : "", f[i].name,
				 (unsigned long long)f[i].v);
		if (n < 0)
			break;
		pos += (size_t)n;
	}
	if (pos >= len)
		return len - 1;
	return qfilter_stats_format(&s->dns, buf, len, pos);
}
