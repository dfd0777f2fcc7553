/* tools/pcapdns.c — DNS queries out of pcap/pcapng captures: link layer, IP,
 * UDP and TCP down to DNS messages, which tools/qfilter.c turns into events.
 *
 * The records come from tools/pcapfile.c (a classic pcap file mapped and
 * read in place; pcapng and the rarer variants through libpcap).  No
 * allocation per packet: records are parsed in place, and TCP state is a
 * fixed direct-mapped flow table.  Runs on the caller's thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/wire.h"
#include "tools/pcapdns.h"
#include "tools/pcapfile.h"
#include "tools/pktdec.h"

#define ERR_LEN 512
#define FLOWS 65536u     /* TCP flow table slots (direct-mapped) */
#define PORTS_MAX 16

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

struct pcapdns {
	struct pcapfile *f;
	int dlt;
	bool done;
	int err;
	int fail;           /* a query could not be queued (no memory) */
	uint16_t ports[PORTS_MAX];
	size_t nports;
	struct qfilter_queue *q;
	struct flow *flows; /* allocated at the first TCP segment */
	struct pcapdns_stats st;
	char errmsg[ERR_LEN]; /* an error of ours (pcapfile's are its own) */
};

int pcapdns_open_fp(struct pcapdns **out, FILE *fp, const char *name,
		    const struct pcapdns_opts *o, char *err, size_t errlen)
{
	struct pcapdns *p = mem_calloc(1, sizeof *p);
	int rc = BSC_ENOMEM;
	*out = NULL;
	if (!p)
		goto nomem;
	rc = qfilter_queue_new(&p->q, o ? o->filter : NULL, &p->st.dns);
	if (rc == BSC_ENOMEM)
		goto nomem;
	if (rc)
		goto out;
	if (o && o->nports) {
		for (size_t i = 0; i < o->nports && p->nports < PORTS_MAX; i++)
			p->ports[p->nports++] = o->ports[i];
	} else {
		p->ports[p->nports++] = 53;
	}
	rc = pcapfile_open_fp(&p->f, fp, name, 0, err, errlen);
	if (rc)
		goto out;
	p->dlt = pcapfile_linktype(p->f);
	*out = p;
	return 0;
nomem:
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", name, bsc_strerror(rc));
out:
	pcapdns_close(p);
	return rc;
}

int pcapdns_open(struct pcapdns **out, const char *path, const struct pcapdns_opts *o,
		 char *err, size_t errlen)
{
	FILE *fp;
	int rc;
	*out = NULL;
	if ((rc = pcapfile_fopen(path, &fp, err, errlen)) < 0)
		return rc;
	rc = pcapdns_open_fp(out, fp, path, o, err, errlen);
	if (rc && fp != stdin)
		fclose(fp);
	return rc;
}

void pcapdns_close(struct pcapdns *p)
{
	if (!p)
		return;
	pcapfile_close(p->f);
	qfilter_queue_free(p->q);
	mem_free(p->flows);
	mem_free(p);
}

const struct pcapdns_stats *pcapdns_stats(const struct pcapdns *p)
{
	return &p->st;
}

uint64_t pcapdns_offset(const struct pcapdns *p)
{
	return pcapfile_offset(p->f);
}

const char *pcapdns_error(const struct pcapdns *p)
{
	return p->errmsg[0] ? p->errmsg : pcapfile_error(p->f);
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

int pcapdns_next(struct pcapdns *p, struct query_event *ev)
{
	for (;;) {
		if (qfilter_queue_pop(p->q, ev, p->done))
			return 1;
		if (p->done)
			return p->err;
		struct pcapfile_rec r;
		int rc = pcapfile_next(p->f, &r);
		if (rc != 1) {
			p->done = true;
			p->err = rc;
			continue;
		}
		packet(p, r.time_ns, r.caplen, r.data);
		if (p->fail) {
			p->done = true;
			p->err = p->fail;
			snprintf(p->errmsg, sizeof p->errmsg, "%s: record %" PRIu64 ": %s",
				 pcapfile_name(p->f), pcapfile_records(p->f),
				 bsc_strerror(p->fail));
		}
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
