/* tools/pcapdns.c — DNS queries out of pcap/pcapng captures: link layer, IP,
 * UDP and TCP down to DNS messages, which tools/qfilter.c turns into events.
 *
 * libpcap checks the file header.  The records of a classic pcap file (the
 * common format, and the one a long capture comes in) are then read here,
 * straight from large reads into one buffer; pcapng and the rarer classic
 * variants are read by libpcap.  No allocation per packet: records are
 * parsed in place, and TCP state is a fixed direct-mapped flow table.  Runs
 * on the caller's thread. */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/wire.h"
#include "tools/pcapdns.h"
#include "tools/pktdec.h"

#define ERR_LEN 512
#define FLOWS 65536u     /* TCP flow table slots (direct-mapped) */
#define READ_BUF (256u * 1024u)
#define PORTS_MAX 16
#define FILE_HDR 24          /* classic pcap file header */
#define REC_HDR 16           /* classic pcap record header */
#define CAPLEN_MAX 262144u   /* libpcap's largest record for the link types read here */
#define NATIVE_READ (1u << 20) /* bytes per read of the classic pcap reader */

#define MAGIC_USEC 0xa1b2c3d4u
#define MAGIC_NSEC 0xa1b23c4du

#define IPPROTO_NUM_TCP 6
#define IPPROTO_NUM_UDP 17

#define TCP_SYN 0x02

/* One direction of a TCP connection: enough to skip retransmissions and the
 * rest of a message split across segments, and to read a message whose
 * length prefix came in the segment before. */
struct flow {
	uint64_t key;     /* 0 = empty */
	uint32_t next;    /* sequence number after the highest payload byte seen */
	uint32_t skip_to; /* FL_SKIP: where the message split across segments ends */
	uint16_t plen;    /* FL_LEN: length read from a prefix at the end of a segment */
	uint8_t half;     /* FL_HALF: first byte of a length prefix cut at the end */
	uint8_t state;
};

#define FL_NEXT 1u /* next is known */
#define FL_SKIP 2u
#define FL_HALF 4u
#define FL_LEN 8u

/* The stream libpcap reads (a cookie stream over the caller's): knows the
 * byte offset without a system call, also on a pipe, and gives back first
 * the file header read before libpcap came in. */
struct src {
	FILE *under;
	uint64_t pos;           /* offset of the next byte handed on */
	bool own;               /* close @under with the decoder */
	uint8_t pre[FILE_HDR];  /* read from @under before libpcap */
	size_t npre, pre_at;
};

/* The classic pcap reader: a window over the file. */
struct native {
	uint8_t *buf;
	size_t cap, len, at;    /* bytes buf[0..len), the next record at @at */
	bool eof;
	int ioerr;              /* errno of a failed read */
	bool swapped;           /* the file's byte order is not ours */
	bool usec;              /* microsecond time stamps */
};

struct pcapdns {
	pcap_t *pc;
	char *name;
	int dlt;
	bool done;
	int err;
	int fail;           /* a query could not be queued (no memory) */
	uint64_t records;
	uint64_t offset;    /* end of the last whole record */
	struct src src;     /* what libpcap reads: counts the bytes */
	bool is_native;     /* classic pcap: the records are read by read_record */
	struct native nat;
	bool classic;       /* pcap, not pcapng: records are 16 bytes + caplen */
	uint32_t snaplen;
	uint16_t ports[PORTS_MAX];
	size_t nports;
	struct qfilter_queue *q;
	struct flow *flows; /* allocated at the first TCP segment */
	struct pcapdns_stats st;
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

static uint32_t get32(const uint8_t *b, bool swapped)
{
	uint32_t v;
	memcpy(&v, b, 4);
	return swapped ? __builtin_bswap32(v) : v;
}

/* A classic pcap header (version 2.4 or later, the two common magics)
 * whose link type this decoder reads: the records are then read here.
 * libpcap checks the header itself (from a copy in memory), so a header it
 * would refuse goes on to it and is refused as before.  Returns 0 (read
 * here), 1 (leave it to libpcap) or BSC_ENOMEM. */
static int native_open(struct pcapdns *p)
{
	const uint8_t *h = p->src.pre;
	if (p->src.npre != FILE_HDR)
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
	FILE *mf = fmemopen(p->src.pre, FILE_HDR, "rb");
	if (!mf)
		return BSC_ENOMEM;
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_fopen_offline_with_tstamp_precision(mf, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!pc) {
		fclose(mf);
		return 1;
	}
	int snap = pcap_snapshot(pc);
	if (!pktdec_dlt_supported(pcap_datalink(pc)) || snap <= 0 || (unsigned)snap > CAPLEN_MAX) {
		pcap_close(pc);
		return 1;
	}
	struct native *n = &p->nat;
	n->cap = NATIVE_READ + REC_HDR + CAPLEN_MAX;
	n->buf = mem_alloc(n->cap);
	if (!n->buf) {
		pcap_close(pc);
		return BSC_ENOMEM;
	}
	n->swapped = swapped;
	n->usec = (swapped ? __builtin_bswap32(magic) : magic) == MAGIC_USEC;
	p->pc = pc;
	p->is_native = true;
	p->src.pre_at = p->src.npre;
	p->src.pos += FILE_HDR;
	return 0;
}

/* Make @need bytes available at the window's next record; false at the end
 * of the input or on a read error (nat.ioerr). */
static bool native_fill(struct pcapdns *p, size_t need)
{
	struct native *n = &p->nat;
	if (n->len - n->at >= need)
		return true;
	if (n->eof)
		return false;
	memmove(n->buf, n->buf + n->at, n->len - n->at);
	n->len -= n->at;
	n->at = 0;
	while (n->len < need) {
		size_t want = n->cap - n->len;
		if (want > NATIVE_READ)
			want = NATIVE_READ;
		size_t got = fread(n->buf + n->len, 1, want, p->src.under);
		n->len += got;
		p->src.pos += got;
		if (got < want) {
			if (ferror(p->src.under))
				n->ioerr = errno ? errno : EIO;
			n->eof = true;
			break;
		}
	}
	return n->len - n->at >= need;
}

/* The next record of a classic pcap, checked as libpcap checks it.  Returns
 * 1 (@time_ns, @data, @caplen of the record, whose bytes are taken with
 * @reclen), 0 (the end) or < 0 with p->errmsg set. */
static int native_record(struct pcapdns *p, uint64_t *time_ns, const uint8_t **data,
			 uint32_t *caplen, size_t *reclen);


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

int pcapdns_open_fp(struct pcapdns **out, FILE *fp, const char *name,
		    const struct pcapdns_opts *o, char *err, size_t errlen)
{
	char eb[PCAP_ERRBUF_SIZE];
	int rc = BSC_ENOMEM;
	FILE *cf = NULL;
	struct pcapdns *p = mem_calloc(1, sizeof *p);
	*out = NULL;
	if (!p || !(p->name = mem_strdup(name)))
		goto out;
	rc = qfilter_queue_new(&p->q, o ? o->filter : NULL, &p->st.dns);
	if (rc)
		goto out;
	if (o && o->nports) {
		for (size_t i = 0; i < o->nports && p->nports < PORTS_MAX; i++)
			p->ports[p->nports++] = o->ports[i];
	} else {
		p->ports[p->nports++] = 53;
	}
	long start = ftell(fp);
	__fsetlocking(fp, FSETLOCKING_BYCALLER);
	p->src.under = fp;
	p->src.pos = start > 0 ? (uint64_t)start : 0;
	p->src.npre = fread(p->src.pre, 1, FILE_HDR, fp);
	rc = native_open(p);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		p->src.own = true;
		p->dlt = pcap_datalink(p->pc);
		p->offset = p->src.pos;
		p->classic = true;
		p->snaplen = (uint32_t)pcap_snapshot(p->pc);
		*out = p;
		return 0;
	}
	cookie_io_functions_t io = { .read = src_read, .seek = src_seek, .close = src_close };
	cf = fopencookie(&p->src, "rb", io);
	if (!cf) {
		rc = BSC_ENOMEM;
		goto out;
	}
	setvbuf(cf, NULL, _IOFBF, READ_BUF);
	__fsetlocking(cf, FSETLOCKING_BYCALLER); /* one thread: no lock per fread */
	eb[0] = '\0';
	p->pc = pcap_fopen_offline_with_tstamp_precision(cf, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!p->pc) {
		rc = strstr(eb, "truncated") ? BSC_ETRUNC : BSC_EMALF;
		set_err(err, errlen, "%s: not a readable pcap/pcapng capture: %s", name, eb);
		goto out;
	}
	/* from here on libpcap owns cf, and cf owns fp */
	cf = NULL;
	p->src.own = true;
	p->dlt = pcap_datalink(p->pc);
	if (!pktdec_dlt_supported(p->dlt)) {
		const char *dn = pcap_datalink_val_to_name(p->dlt);
		log_warning("pcap: %s: link type %d (%s) not supported; its packets are skipped",
			    name, p->dlt, dn ? dn : "unknown");
	}
	long pos = ftell(pcap_file(p->pc));
	p->offset = pos >= 0 ? (uint64_t)pos : 0;
	/* libpcap reads pcapng as version 1.0, pcap as 2.x */
	p->classic = pcap_major_version(p->pc) == 2;
	p->snaplen = (uint32_t)pcap_snapshot(p->pc);
	*out = p;
	p = NULL;
	rc = 0;
out:
	if (rc == BSC_ENOMEM)
		set_err(err, errlen, "%s: %s", name, bsc_strerror(rc));
	if (cf)
		fclose(cf); /* leaves fp to the caller: src.own is false */
	pcapdns_close(p);
	return rc;
}

int pcapdns_open(struct pcapdns **out, const char *path, const struct pcapdns_opts *o,
		 char *err, size_t errlen)
{
	FILE *fp;
	*out = NULL;
	if (strcmp(path, "-") == 0) {
		fp = stdin;
	} else {
		fp = fopen(path, "rb");
		if (!fp) {
			int rc = bsc_err_sys(errno);
			set_err(err, errlen, "%s: %s", path, bsc_strerror(rc));
			return rc;
		}
		/* the cookie stream over it buffers: read(2) straight into that */
		setvbuf(fp, NULL, _IONBF, 0);
	}
	int rc = pcapdns_open_fp(out, fp, path, o, err, errlen);
	if (rc && fp != stdin)
		fclose(fp);
	return rc;
}

void pcapdns_close(struct pcapdns *p)
{
	if (!p)
		return;
	if (p->pc)
		pcap_close(p->pc);
	if (p->is_native && p->src.own && p->src.under != stdin)
		fclose(p->src.under);
	mem_free(p->nat.buf);
	qfilter_queue_free(p->q);
	mem_free(p->flows);
	mem_free(p->name);
	mem_free(p);
}

const struct pcapdns_stats *pcapdns_stats(const struct pcapdns *p)
{
	return &p->st;
}

uint64_t pcapdns_offset(const struct pcapdns *p)
{
	return p->offset;
}

const char *pcapdns_error(const struct pcapdns *p)
{
	return p->errmsg;
}

int pcapdns_linktype(const struct pcapdns *p)
{
	return p->dlt;
}

/* ---- packets ---- */

static inline bool is_dns_port(const struct pcapdns *p, uint16_t port)
{
	for (size_t i = 0; i < p->nports; i++) {
		if (p->ports[i] == port)
			return true;
	}
	return false;
}

struct pkt {
	uint64_t time_ns;
	struct bsc_addr src, dst;
	uint16_t sport, dport;
	bool tcp;
};

/* Hand one DNS message on, if it goes the right way for its QR bit. */
static void emit(struct pcapdns *p, const struct pkt *k, const uint8_t *msg, size_t len)
{
	bool qr = len > 2 && (msg[2] & 0x80);
	if (qr ? !is_dns_port(p, k->sport) : !is_dns_port(p, k->dport)) {
		p->st.not_dns++;
		return;
	}
	if (k->tcp)
		p->st.tcp++;
	else
		p->st.udp++;
	struct qfilter_msg m = {
		.time_ns = k->time_ns, .src = k->src, .dst = k->dst, .sport = k->sport,
		.dport = k->dport, .tcp = k->tcp, .wire = msg, .len = len,
	};
	int rc = qfilter_queue_push(p->q, &m);
	if (rc && !p->fail)
		p->fail = rc;
}

static uint64_t flow_key(const struct pkt *k)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)k->sport << 16) ^ k->dport;
	const uint8_t *parts[2] = { k->src.bytes, k->dst.bytes };
	for (int i = 0; i < 2; i++) {
		for (int j = 0; j < 16; j += 8) {
			uint64_t v;
			memcpy(&v, parts[i] + j, 8);
			h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
			h ^= h >> 31;
		}
	}
	h = (h ^ k->src.family) * 0x94D049BB133111EBull;
	h ^= h >> 29;
	return h | 1; /* never 0 */
}

/* Length-prefixed DNS messages in the payload @d (@len bytes) of a TCP
 * segment starting at sequence number @seq. */
static void tcp_payload(struct pcapdns *p, const struct pkt *k, uint32_t seq, uint8_t syn,
			const uint8_t *d, size_t len)
{
	if (!p->flows) {
		p->flows = mem_calloc(FLOWS, sizeof *p->flows);
		if (!p->flows) {
			p->fail = BSC_ENOMEM;
			return;
		}
	}
	uint64_t key = flow_key(k);
	struct flow *f = &p->flows[key & (FLOWS - 1)];
	if (f->key != key) {
		memset(f, 0, sizeof *f);
		f->key = key;
	}
	if (syn) {
		f->state = FL_NEXT;
		f->next = seq + 1;
		seq++; /* data on a SYN (TCP Fast Open) follows the SYN's number */
	}
	if (len == 0) {
		p->st.tcp_nodata++;
		return;
	}
	size_t start = 0;
	if (f->state & FL_NEXT) {
		int32_t end_d = (int32_t)(seq + (uint32_t)len - f->next);
		int32_t start_d = (int32_t)(seq - f->next);
		if (end_d <= 0) {
			p->st.tcp_retrans++;
			return;
		}
		if (start_d < 0)
			start = (size_t)(-start_d); /* only the new tail is read */
		else if (start_d > 0)
			f->state &= (uint8_t)~(FL_HALF | FL_LEN); /* a gap: the prefix is lost */
	}
	f->next = seq + (uint32_t)len;
	f->state |= FL_NEXT;
	if (f->state & FL_SKIP) {
		int32_t dd = (int32_t)(f->skip_to - (seq + (uint32_t)start));
		f->state &= (uint8_t)~FL_SKIP;
		if (dd > 0 && (size_t)dd >= len - start) {
			f->state |= FL_SKIP; /* the split message goes on past this one */
			return;
		}
		if (dd > 0)
			start += (size_t)dd;
	}
	if (f->state & FL_HALF) {
		f->plen = (uint16_t)((f->half << 8) | d[start]);
		f->state = (uint8_t)((f->state & ~FL_HALF) | FL_LEN);
		start++;
	}
	for (;;) {
		size_t mlen;
		if (f->state & FL_LEN) {
			if (start == len)
				return; /* the message comes in the next segment */
			mlen = f->plen;
			f->state &= (uint8_t)~FL_LEN;
		} else if (len - start >= 2) {
			mlen = wire_get_u16(d + start);
			start += 2;
			if (start == len) {
				f->plen = (uint16_t)mlen; /* the prefix alone */
				f->state |= FL_LEN;
				return;
			}
		} else {
			break;
		}
		if (mlen > len - start) {
			p->st.tcp_partial++;
			/* a large response spans segments: its head has the rcode */
			if (len - start >= 12 && (d[start + 2] & 0x80))
				emit(p, k, d + start, len - start);
			f->skip_to = seq + (uint32_t)(start + mlen);
			f->state |= FL_SKIP;
			return;
		}
		emit(p, k, d + start, mlen);
		start += mlen;
	}
	if (len - start == 1) {
		f->half = d[start];
		f->state |= FL_HALF;
	}
}

/* Transport header at @d (@len bytes, the IP payload). */
static void transport(struct pcapdns *p, struct pkt *k, uint8_t proto, const uint8_t *d,
		      size_t len)
{
	if (proto == IPPROTO_NUM_UDP) {
		if (len < 8) {
			p->st.truncated++;
			return;
		}
		k->sport = wire_get_u16(d);
		k->dport = wire_get_u16(d + 2);
		size_t ulen = wire_get_u16(d + 4);
		if (!is_dns_port(p, k->sport) && !is_dns_port(p, k->dport)) {
			p->st.not_dns++;
			return;
		}
		if (ulen < 8 || ulen > len) {
			p->st.truncated++;
			return;
		}
		k->tcp = false;
		emit(p, k, d + 8, ulen - 8);
		return;
	}
	if (proto == IPPROTO_NUM_TCP) {
		if (len < 20) {
			p->st.truncated++;
			return;
		}
		k->sport = wire_get_u16(d);
		k->dport = wire_get_u16(d + 2);
		if (!is_dns_port(p, k->sport) && !is_dns_port(p, k->dport)) {
			p->st.not_dns++;
			return;
		}
		size_t doff = (size_t)(d[12] >> 4) * 4;
		if (doff < 20 || doff > len) {
			p->st.truncated++;
			return;
		}
		uint32_t seq = ((uint32_t)wire_get_u16(d + 4) << 16) | wire_get_u16(d + 6);
		k->tcp = true;
		tcp_payload(p, k, seq, d[13] & TCP_SYN, d + doff, len - doff);
		return;
	}
	p->st.not_dns++;
}

/* One record of @len captured bytes at @d. */
static void packet(struct pcapdns *p, uint64_t time_ns, size_t len, const uint8_t *d)
{
	struct pktdec_ip ip;
	unsigned ver;
	size_t off;
	p->st.packets++;
	switch (pktdec_link(p->dlt, d, len, &ver, &off)) {
	case PKTDEC_OK:
		break;
	case PKTDEC_TRUNC:
		p->st.truncated++;
		return;
	case PKTDEC_NOT_IP:
		p->st.not_ip++;
		return;
	default:
		p->st.linktype++;
		return;
	}
	int rc = pktdec_ip(ver, d + off, len - off, PKTDEC_FRAG_STOP, &ip);
	if (rc == PKTDEC_TRUNC) {
		p->st.truncated++;
		return;
	}
	if (rc != PKTDEC_OK || (ver == 6 && ip.tot == 40)) {
		p->st.bad_ip++; /* IPv6 payload length 0: a jumbogram, or nothing */
		return;
	}
	if (ip.cut || ip.l4status == PKTDEC_L4_CUT) {
		p->st.truncated++;
		return;
	}
	if (ip.fragment) {
		p->st.fragments++;
		return;
	}
	if (ip.l4status != PKTDEC_L4_OK) {
		p->st.bad_ip++; /* a chain of more than 16 extension headers */
		return;
	}
	struct pkt k = { .time_ns = time_ns, .src = ip.src, .dst = ip.dst };
	transport(p, &k, ip.proto, ip.l4, ip.l4len);
}

/* ---- reading ---- */

static void read_error(struct pcapdns *p, const char *msg)
{
	bool trunc = msg && strstr(msg, "truncated");
	p->err = trunc ? BSC_ETRUNC : BSC_EMALF;
	snprintf(p->errmsg, sizeof p->errmsg,
		 "%s: %s at byte %" PRIu64 " (after record %" PRIu64
		 "): %s; everything before it was read",
		 p->name, trunc ? "truncated" : "corrupt record", p->offset, p->records,
		 msg ? msg : "read error");
}

static int native_record(struct pcapdns *p, uint64_t *time_ns, const uint8_t **data,
			 uint32_t *caplen, size_t *reclen)
{
	struct native *n = &p->nat;
	char msg[160];

	if (!native_fill(p, REC_HDR)) {
		size_t got = n->len - n->at;
		if (n->ioerr)
			snprintf(msg, sizeof msg, "error reading dump file: %s",
				 strerror(n->ioerr));
		else if (got == 0)
			return 0;
		else
			snprintf(msg, sizeof msg, "truncated dump file; tried to read %u header "
				 "bytes, only got %zu", REC_HDR, got);
		read_error(p, msg);
		return p->err;
	}
	const uint8_t *h = n->buf + n->at;
	uint32_t sec = get32(h, n->swapped), frac = get32(h + 4, n->swapped);
	uint32_t cap = get32(h + 8, n->swapped);
	if (cap > CAPLEN_MAX) {
		snprintf(msg, sizeof msg, "invalid packet capture length %u, bigger than %s of %u",
			 cap, cap > p->snaplen ? "snaplen" : "maximum",
			 cap > p->snaplen ? p->snaplen : CAPLEN_MAX);
		read_error(p, msg);
		return p->err;
	}
	if (!native_fill(p, REC_HDR + (size_t)cap)) {
		if (n->ioerr)
			snprintf(msg, sizeof msg, "error reading dump file: %s",
				 strerror(n->ioerr));
		else
			snprintf(msg, sizeof msg, "truncated dump file; tried to read %u captured "
				 "bytes, only got %zu", cap, n->len - n->at - REC_HDR);
		read_error(p, msg);
		return p->err;
	}
	/* time stamps as libpcap gives them: signed 32-bit fields, widened */
	int64_t s64 = (int32_t)sec, f64 = (int32_t)frac;
	*time_ns = (uint64_t)s64 * 1000000000u + (uint64_t)(n->usec ? f64 * 1000 : f64);
	*data = n->buf + n->at + REC_HDR;
	*caplen = cap < p->snaplen ? cap : p->snaplen; /* libpcap drops bytes past it */
	*reclen = REC_HDR + (size_t)cap;
	return 1;
}

int pcapdns_next(struct pcapdns *p, struct query_event *ev)
{
	for (;;) {
		if (qfilter_queue_pop(p->q, ev, p->done))
			return 1;
		if (p->done)
			return p->err;
		if (p->is_native) {
			uint64_t t = 0;
			const uint8_t *d = NULL;
			uint32_t caplen = 0;
			size_t reclen = 0;
			int rc = native_record(p, &t, &d, &caplen, &reclen);
			if (rc == 1) {
				p->records++;
				packet(p, t, caplen, d);
				p->nat.at += reclen;
				p->offset += reclen;
			}
			if (rc == 1 && p->fail) {
				p->done = true;
				p->err = p->fail;
				snprintf(p->errmsg, sizeof p->errmsg,
					 "%s: record %" PRIu64 ": %s", p->name, p->records,
					 bsc_strerror(p->fail));
			} else if (rc != 1) {
				p->done = true;
			}
			continue;
		}
		struct pcap_pkthdr *h;
		const u_char *d;
		int rc = pcap_next_ex(p->pc, &h, &d);
		if (rc == 1) {
			p->records++;
			packet(p, (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec,
			       h->caplen, d);
			if (p->fail) {
				p->done = true;
				p->err = p->fail;
				snprintf(p->errmsg, sizeof p->errmsg,
					 "%s: record %" PRIu64 ": %s", p->name, p->records,
					 bsc_strerror(p->fail));
				continue;
			}
			if (p->classic && h->caplen < p->snaplen) {
				/* a classic record: its header and its bytes (libpcap
				 * skips bytes past the snap length: then ask) */
				p->offset += 16u + h->caplen;
			} else {
				long pos = ftell(pcap_file(p->pc)); /* no system call: see src */
				if (pos >= 0)
					p->offset = (uint64_t)pos;
			}
			continue;
		}
		p->done = true;
		if (rc != PCAP_ERROR_BREAK)
			read_error(p, pcap_geterr(p->pc));
	}
}

size_t pcapdns_stats_format(const struct pcapdns_stats *s, char *buf, size_t len)
{
	const struct {
		const char *name;
		uint64_t v;
		bool always;
	} f[] = {
		{ "packets", s->packets, true },
		{ "udp", s->udp, true },
		{ "tcp", s->tcp, true },
		{ "linktype", s->linktype, false },
		{ "not ip", s->not_ip, false },
		{ "bad ip", s->bad_ip, false },
		{ "fragments", s->fragments, false },
		{ "truncated", s->truncated, false },
		{ "not dns", s->not_dns, false },
		{ "tcp nodata", s->tcp_nodata, false },
		{ "tcp partial", s->tcp_partial, false },
		{ "tcp retransmitted", s->tcp_retrans, false },
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
