/* tools/darknet_pcap.c — darknet packets out of pcap/pcapng captures: link
 * layer, IPv4/IPv6, TCP/UDP/ICMP headers into struct dk_packet.
 *
 * libpcap checks the file header.  The records of a classic pcap file (the
 * format long captures come in) are then read here, from large reads into
 * one buffer, as tools/pcapdns.c reads them; pcapng and the rarer classic
 * variants are read by libpcap.  No allocation per packet: records are
 * parsed in place.  Runs on the caller's thread. */
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
#include "tools/darknet_pcap.h"
#include "tools/pktdec.h"

#define ERR_LEN 512
#define READ_BUF (256u * 1024u)
#define FILE_HDR 24            /* classic pcap file header */
#define REC_HDR 16             /* classic pcap record header */
#define CAPLEN_MAX 262144u     /* libpcap's largest record for the link types read here */
#define NATIVE_READ (1u << 20) /* bytes per read of the classic pcap reader */

#define MAGIC_USEC 0xa1b2c3d4u
#define MAGIC_NSEC 0xa1b23c4du

#define IPN_ICMP 1
#define IPN_TCP 6
#define IPN_UDP 17
#define IPN_ICMPV6 58

/* The stream libpcap reads (a cookie stream over the caller's): knows the
 * byte offset without a system call, also on a pipe, and gives back first
 * the file header read before libpcap came in. */
struct src {
	FILE *under;
	uint64_t pos;
	bool own;
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

struct darknet_pcap {
	pcap_t *pc;
	char *name;
	int dlt;
	bool done;
	bool classic;
	int err;
	uint32_t snaplen;
	uint64_t records;
	uint64_t offset;
	struct src src;
	bool is_native;     /* classic pcap: the records are read here */
	struct native nat;
	struct bsc_addr *prefixes;
	size_t nprefixes;
	struct darknet_pcap_stats st;
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
 * whose link type is decoded here: the records are then read here.
 * libpcap checks the header itself (from a copy in memory), so a header it
 * would refuse goes on to it and is refused as before.  Returns 0 (read
 * here), 1 (leave it to libpcap) or BSC_ENOMEM. */
static int native_open(struct darknet_pcap *p)
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
static bool native_fill(struct darknet_pcap *p, size_t need)
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

int darknet_pcap_open_fp(struct darknet_pcap **out, FILE *fp, const char *name,
			 const struct darknet_pcap_opts *o, char *err, size_t errlen)
{
	char eb[PCAP_ERRBUF_SIZE];
	int rc = BSC_ENOMEM;
	FILE *cf = NULL;
	struct darknet_pcap *p = mem_calloc(1, sizeof *p);
	*out = NULL;
	if (!p || !(p->name = mem_strdup(name)))
		goto out;
	if (o && o->nprefixes) {
		p->prefixes = mem_calloc(o->nprefixes, sizeof *p->prefixes);
		if (!p->prefixes)
			goto out;
		memcpy(p->prefixes, o->prefixes, o->nprefixes * sizeof *p->prefixes);
		p->nprefixes = o->nprefixes;
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
	__fsetlocking(cf, FSETLOCKING_BYCALLER);
	eb[0] = '\0';
	p->pc = pcap_fopen_offline_with_tstamp_precision(cf, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!p->pc) {
		rc = strstr(eb, "truncated") ? BSC_ETRUNC : BSC_EMALF;
		set_err(err, errlen, "%s: not a readable pcap/pcapng capture: %s", name, eb);
		goto out;
	}
	cf = NULL; /* libpcap owns cf, and cf owns fp */
	p->src.own = true;
	p->dlt = pcap_datalink(p->pc);
	if (!pktdec_dlt_supported(p->dlt)) {
		const char *dn = pcap_datalink_val_to_name(p->dlt);
		log_warning("pcap: %s: link type %d (%s) not supported; its packets are skipped",
			    name, p->dlt, dn ? dn : "unknown");
	}
	long pos = ftell(pcap_file(p->pc));
	p->offset = pos >= 0 ? (uint64_t)pos : 0;
	p->classic = pcap_major_version(p->pc) == 2;
	p->snaplen = (uint32_t)pcap_snapshot(p->pc);
	*out = p;
	p = NULL;
	rc = 0;
out:
	if (rc == BSC_ENOMEM)
		set_err(err, errlen, "%s: %s", name, bsc_strerror(rc));
	if (cf)
		fclose(cf);
	darknet_pcap_close(p);
	return rc;
}

int darknet_pcap_open(struct darknet_pcap **out, const char *path,
		      const struct darknet_pcap_opts *o, char *err, size_t errlen)
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
		setvbuf(fp, NULL, _IONBF, 0);
	}
	int rc = darknet_pcap_open_fp(out, fp, path, o, err, errlen);
	if (rc && fp != stdin)
		fclose(fp);
	return rc;
}

void darknet_pcap_close(struct darknet_pcap *p)
{
	if (!p)
		return;
	if (p->pc)
		pcap_close(p->pc);
	if (p->is_native && p->src.own && p->src.under != stdin)
		fclose(p->src.under);
	mem_free(p->nat.buf);
	mem_free(p->prefixes);
	mem_free(p->name);
	mem_free(p);
}

const struct darknet_pcap_stats *darknet_pcap_stats(const struct darknet_pcap *p)
{
	return &p->st;
}

uint64_t darknet_pcap_offset(const struct darknet_pcap *p)
{
	return p->offset;
}

const char *darknet_pcap_error(const struct darknet_pcap *p)
{
	return p->errmsg;
}

int darknet_pcap_linktype(const struct darknet_pcap *p)
{
	return p->dlt;
}

/* ---- decoding ---- */

static inline uint32_t get_u32(const uint8_t *d)
{
	return ((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) | ((uint32_t)d[2] << 8) | d[3];
}

/* The MSS option value out of TCP options @o (@len bytes); 0 = none. */
static uint16_t tcp_mss(const uint8_t *o, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t kind = o[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (len - i < 2 || o[i + 1] < 2 || o[i + 1] > len - i)
			break;
		if (kind == 2 && o[i + 1] == 4)
			return wire_get_u16(o + i + 2);
		i += o[i + 1];
	}
	return 0;
}

/* enum dk_proto of IP protocol number @n (fragments without a header). */
static uint8_t proto_of(uint8_t n)
{
	switch (n) {
	case IPN_TCP:
		return DK_PROTO_TCP;
	case IPN_UDP:
		return DK_PROTO_UDP;
	case IPN_ICMP:
		return DK_PROTO_ICMP;
	case IPN_ICMPV6:
		return DK_PROTO_ICMPV6;
	default:
		return DK_PROTO_OTHER;
	}
}

/* Transport header @d (@len bytes available) of protocol @proto. */
static void transport(struct dk_packet *k, uint8_t proto, const uint8_t *d, size_t len,
		      struct darknet_pcap_stats *st)
{
	switch (proto) {
	case IPN_TCP: {
		k->proto = DK_PROTO_TCP;
		if (len < 20) {
			if (len >= 4) { /* ports of a short first fragment */
				k->sport = wire_get_u16(d);
				k->dport = wire_get_u16(d + 2);
			}
			if (len >= 14)
				k->tcp_flags = d[13];
			if (!k->fragment)
				st->truncated++;
			return;
		}
		size_t doff = (size_t)(d[12] >> 4) * 4;
		if (doff < 20) {
			st->bad_l4++;
			return;
		}
		k->sport = wire_get_u16(d);
		k->dport = wire_get_u16(d + 2);
		k->seq = get_u32(d + 4);
		k->ack = get_u32(d + 8);
		k->tcp_flags = d[13];
		k->window = wire_get_u16(d + 14);
		k->tcp_opt_len = (uint8_t)(doff - 20);
		if (doff > len) {
			if (!k->fragment) /* options cut: the fixed header is kept */
				st->truncated++;
			return;
		}
		k->mss = tcp_mss(d + 20, doff - 20);
		return;
	}
	case IPN_UDP:
		k->proto = DK_PROTO_UDP;
		if (len < 8) {
			if (!k->fragment)
				st->truncated++;
			return;
		}
		k->sport = wire_get_u16(d);
		k->dport = wire_get_u16(d + 2);
		return;
	case IPN_ICMP:
	case IPN_ICMPV6:
		k->proto = proto == IPN_ICMP ? DK_PROTO_ICMP : DK_PROTO_ICMPV6;
		if (len < 2) {
			st->truncated++;
			return;
		}
		k->icmp_type = d[0];
		k->icmp_code = d[1];
		return;
	default:
		k->proto = DK_PROTO_OTHER;
		return;
	}
}

bool darknet_pcap_decode(int dlt, const uint8_t *d, size_t len, uint64_t time_ns,
			 struct dk_packet *k, struct darknet_pcap_stats *st)
{
	struct pktdec_ip ip;
	unsigned ver;
	size_t off;
	memset(k, 0, sizeof *k);
	k->time_ns = time_ns;
	switch (pktdec_link(dlt, d, len, &ver, &off)) {
	case PKTDEC_OK:
		break;
	case PKTDEC_TRUNC:
		st->truncated++;
		return false;
	case PKTDEC_NOT_IP:
		st->not_ip++;
		return false;
	default:
		st->linktype++;
		return false;
	}
	switch (pktdec_ip(ver, d + off, len - off, 0, &ip)) {
	case PKTDEC_OK:
		break;
	case PKTDEC_TRUNC:
		st->truncated++;
		return false;
	default:
		st->bad_ip++;
		return false;
	}
	k->src = ip.src;
	k->dst = ip.dst;
	k->ttl = ip.ttl;
	k->ip_id = ip.id;
	k->ip_len = (uint16_t)(ip.tot > 0xFFFF ? 0xFFFF : ip.tot);
	if (ip.fragment) {
		k->fragment = true;
		st->fragments++;
	}
	switch (ip.l4status) {
	case PKTDEC_L4_OK:
		transport(k, ip.proto, ip.l4, ip.l4len, st);
		break;
	case PKTDEC_L4_LATER: /* a later fragment: no transport header */
		k->proto = proto_of(ip.proto);
		k->later_fragment = true;
		break;
	case PKTDEC_L4_CUT:
		st->truncated++;
		break;
	default: /* more than 16 extension headers: kept without transport */
		st->bad_ip++;
		break;
	}
	return true;
}

static bool in_darknet(const struct darknet_pcap *p, const struct bsc_addr *a)
{
	if (!p->nprefixes)
		return true;
	for (size_t i = 0; i < p->nprefixes; i++)
		if (addr_in_prefix(a, &p->prefixes[i]))
			return true;
	return false;
}

static void read_error(struct darknet_pcap *p, const char *msg)
{
	bool trunc = msg && strstr(msg, "truncated");
	p->err = trunc ? BSC_ETRUNC : BSC_EMALF;
	snprintf(p->errmsg, sizeof p->errmsg,
		 "%s: %s at byte %" PRIu64 " (after record %" PRIu64
		 "): %s; everything before it was read",
		 p->name, trunc ? "truncated" : "corrupt record", p->offset, p->records,
		 msg ? msg : "read error");
}

/* The next record of a classic pcap, checked as libpcap checks it.  Returns
 * 1 (@time_ns, @data, @caplen of the record, whose bytes are taken with
 * @reclen), 0 (the end) or < 0 with p->errmsg set. */
static int native_record(struct darknet_pcap *p, uint64_t *time_ns, const uint8_t **data,
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

/* The next kept packet of a classic pcap read here. */
static int native_next(struct darknet_pcap *p, struct dk_packet *k)
{
	while (!p->done) {
		uint64_t t = 0;
		const uint8_t *d = NULL;
		uint32_t caplen = 0;
		size_t reclen = 0;
		int rc = native_record(p, &t, &d, &caplen, &reclen);
		if (rc != 1) {
			p->done = true;
			break;
		}
		p->records++;
		p->st.packets++;
		p->nat.at += reclen;
		p->offset += reclen;
		if (!darknet_pcap_decode(p->dlt, d, caplen, t, k, &p->st))
			continue;
		if (!in_darknet(p, &k->dst)) {
			p->st.outside++;
			continue;
		}
		p->st.kept++;
		return 1;
	}
	return p->err;
}

int darknet_pcap_next(struct darknet_pcap *p, struct dk_packet *k)
{
	if (p->is_native)
		return native_next(p, k);
	while (!p->done) {
		struct pcap_pkthdr *h;
		const u_char *d;
		int rc = pcap_next_ex(p->pc, &h, &d);
		if (rc != 1) {
			p->done = true;
			if (rc != PCAP_ERROR_BREAK)
				read_error(p, pcap_geterr(p->pc));
			break;
		}
		p->records++;
		p->st.packets++;
		if (p->classic && h->caplen < p->snaplen) {
			p->offset += 16u + h->caplen;
		} else {
			long pos = ftell(pcap_file(p->pc)); /* no system call: see src */
			if (pos >= 0)
				p->offset = (uint64_t)pos;
		}
		uint64_t t = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
		if (!darknet_pcap_decode(p->dlt, d, h->caplen, t, k, &p->st))
			continue;
		if (!in_darknet(p, &k->dst)) {
			p->st.outside++;
			continue;
		}
		p->st.kept++;
		return 1;
	}
	return p->err;
}

size_t darknet_pcap_stats_format(const struct darknet_pcap_stats *s, char *buf, size_t len)
{
	const struct {
		const char *name;
		uint64_t v;
		bool always;
	} f[] = {
		{ "packets", s->packets, true },
		{ "kept", s->kept, true },
		{ "outside", s->outside, false },
		{ "fragments", s->fragments, false },
		{ "linktype", s->linktype, false },
		{ "not ip", s->not_ip, false },
		{ "bad ip", s->bad_ip, false },
		{ "bad l4", s->bad_l4, false },
		{ "truncated", s->truncated, false },
	};
	size_t pos = 0;
	if (len == 0)
		return 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		if (!f[i].always && f[i].v == 0)
			continue;
		int n = snprintf(buf + pos, len - pos, "%s%s %llu", pos ? ", " : "", f[i].name,
				 (unsigned long long)f[i].v);
		if (n < 0)
			break;
		pos += (size_t)n;
		if (pos >= len)
			return len - 1;
	}
	return pos;
}
