/* tools/darknet_pcap.c — darknet packets out of pcap/pcapng captures: link
 * layer, IPv4/IPv6, TCP/UDP/ICMP headers into struct dk_packet.
 *
 * The records come from tools/pcapfile.c (a classic pcap file mapped and
 * read in place).  No allocation per packet: records are parsed in place,
 * Ethernet/IPv4 straight into the packet, the darknet test against
 * precomputed masks.  Runs on the caller's thread. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include "common/err.h"
#include "common/mem.h"
#include "common/wire.h"
#include "tools/darknet_pcap.h"
#include "tools/pcapfile.h"
#include "tools/pktdec.h"

#define IPN_ICMP 1
#define IPN_TCP 6
#define IPN_UDP 17
#define IPN_ICMPV6 58

/* A darknet prefix as two masked 64-bit words: an address is inside when
 * its bytes under @mask equal @val (addr_in_prefix() for full-length
 * addresses). */
struct pfx {
	uint64_t mask[2];
	uint64_t val[2];
	uint8_t family; /* 0: matches nothing */
};

struct darknet_pcap {
	struct pcapfile *f;
	int dlt;
	struct pfx *pfx;
	size_t npfx;
	struct darknet_pcap_stats st;
};

static void pfx_make(struct pfx *x, const struct bsc_addr *p)
{
	unsigned bits = p->family == AF_INET ? 32 : p->family == AF_INET6 ? 128 : 0;
	uint8_t m[16] = { 0 };
	memset(x, 0, sizeof *x);
	if (!bits || p->prefix > bits)
		return; /* no full-length address of a family lies inside */
	for (unsigned i = 0; i < p->prefix; i++)
		m[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	memcpy(x->mask, m, 16);
	memcpy(x->val, p->bytes, 16);
	x->family = p->family;
}

int darknet_pcap_open_fp(struct darknet_pcap **out, FILE *fp, const char *name,
			 const struct darknet_pcap_opts *o, char *err, size_t errlen)
{
	int rc = BSC_ENOMEM;
	struct darknet_pcap *p = mem_calloc(1, sizeof *p);
	*out = NULL;
	if (!p)
		goto nomem;
	if (o && o->nprefixes) {
		p->pfx = mem_calloc(o->nprefixes, sizeof *p->pfx);
		if (!p->pfx)
			goto nomem;
		for (size_t i = 0; i < o->nprefixes; i++)
			pfx_make(&p->pfx[i], &o->prefixes[i]);
		p->npfx = o->nprefixes;
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
	darknet_pcap_close(p);
	return rc;
}

int darknet_pcap_open(struct darknet_pcap **out, const char *path,
		      const struct darknet_pcap_opts *o, char *err, size_t errlen)
{
	FILE *fp;
	int rc;
	*out = NULL;
	if ((rc = pcapfile_fopen(path, &fp, err, errlen)) < 0)
		return rc;
	rc = darknet_pcap_open_fp(out, fp, path, o, err, errlen);
	if (rc && fp != stdin)
		fclose(fp);
	return rc;
}

void darknet_pcap_close(struct darknet_pcap *p)
{
	if (!p)
		return;
	pcapfile_close(p->f);
	mem_free(p->pfx);
	mem_free(p);
}

const struct darknet_pcap_stats *darknet_pcap_stats(const struct darknet_pcap *p)
{
	return &p->st;
}

uint64_t darknet_pcap_offset(const struct darknet_pcap *p)
{
	return pcapfile_offset(p->f);
}

const char *darknet_pcap_error(const struct darknet_pcap *p)
{
	return pcapfile_error(p->f);
}

int darknet_pcap_linktype(const struct darknet_pcap *p)
{
	return p->dlt;
}

/* ---- decoding ---- */

#define HOT inline __attribute__((always_inline))

/* The MSS option value out of TCP options @o (@len bytes); 0 = none. */
static HOT uint16_t tcp_mss(const uint8_t *o, size_t len)
{
	size_t i = 0;
	if (len >= 4 && o[0] == 2 && o[1] == 4) /* the usual first option */
		return wire_get_u16(o + 2);
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
static inline uint8_t proto_of(uint8_t n)
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
static HOT void transport(struct dk_packet *k, uint8_t proto, const uint8_t *d, size_t len,
			     struct darknet_pcap_stats *st)
{
	if (proto == IPN_TCP) {
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
		k->seq = wire_get_u32(d + 4);
		k->ack = wire_get_u32(d + 8);
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
	if (proto == IPN_UDP) {
		k->proto = DK_PROTO_UDP;
		if (len < 8) {
			if (!k->fragment)
				st->truncated++;
			return;
		}
		k->sport = wire_get_u16(d);
		k->dport = wire_get_u16(d + 2);
		return;
	}
	if (proto == IPN_ICMP || proto == IPN_ICMPV6) {
		k->proto = proto == IPN_ICMP ? DK_PROTO_ICMP : DK_PROTO_ICMPV6;
		if (len < 2) {
			st->truncated++;
			return;
		}
		k->icmp_type = d[0];
		k->icmp_code = d[1];
		return;
	}
	k->proto = DK_PROTO_OTHER;
}

/* An IPv4 header at @d (@len captured bytes) into @k (zeroed): the checks
 * of pktdec_ip(). */
static HOT bool ipv4(const uint8_t *d, size_t len, struct dk_packet *k,
			struct darknet_pcap_stats *st)
{
	size_t ihl, tot;
	switch (pktdec_ipv4_check(d, len, &ihl, &tot)) {
	case PKTDEC_OK:
		break;
	case PKTDEC_TRUNC:
		st->truncated++;
		return false;
	default:
		st->bad_ip++;
		return false;
	}
	uint16_t frag = wire_get_u16(d + 6);
	k->src.family = AF_INET;
	k->src.prefix = 32;
	memcpy(k->src.bytes, d + 12, 4);
	k->dst.family = AF_INET;
	k->dst.prefix = 32;
	memcpy(k->dst.bytes, d + 16, 4);
	k->ttl = d[8];
	k->ip_id = wire_get_u16(d + 4);
	k->ip_len = (uint16_t)tot;
	if (frag & 0x3FFF) { /* MF, or a fragment offset */
		k->fragment = true;
		st->fragments++;
	}
	if (frag & 0x1FFF) { /* a later fragment: no transport header */
		k->proto = proto_of(d[9]);
		k->later_fragment = true;
		return true;
	}
	transport(k, d[9], d + ihl, (tot < len ? tot : len) - ihl, st);
	return true;
}

/* An IPv6 header (and its extension headers) into @k (zeroed). */
static __attribute__((noinline)) bool ipv6(const uint8_t *d, size_t len, struct dk_packet *k,
		 struct darknet_pcap_stats *st)
{
	struct pktdec_ip ip;
	switch (pktdec_ip(6, d, len, 0, &ip)) {
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

/* Any frame other than untagged Ethernet carrying IPv4. */
static __attribute__((noinline)) bool decode_other(int dlt, const uint8_t *d, size_t len,
						   struct dk_packet *k,
						   struct darknet_pcap_stats *st)
{
	unsigned ver;
	size_t off;
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
	if (ver == 4)
		return ipv4(d + off, len - off, k, st);
	return ipv6(d + off, len - off, k, st);
}

static HOT bool decode(int dlt, const uint8_t *d, size_t len, uint64_t time_ns,
		       struct dk_packet *k, struct darknet_pcap_stats *st)
{
	memset(k, 0, sizeof *k);
	k->time_ns = time_ns;
	if (dlt == DLT_EN10MB && len >= 14 && d[12] == 0x08 && d[13] == 0x00)
		return ipv4(d + 14, len - 14, k, st); /* untagged Ethernet, IPv4 */
	return decode_other(dlt, d, len, k, st);
}

bool darknet_pcap_decode(int dlt, const uint8_t *d, size_t len, uint64_t time_ns,
			 struct dk_packet *k, struct darknet_pcap_stats *st)
{
	return decode(dlt, d, len, time_ns, k, st);
}

static inline bool in_darknet(const struct darknet_pcap *p, const struct bsc_addr *a)
{
	if (!p->npfx)
		return true;
	uint64_t w[2];
	memcpy(w, a->bytes, 16);
	for (size_t i = 0; i < p->npfx; i++) {
		const struct pfx *x = &p->pfx[i];
		if (x->family == a->family && (w[0] & x->mask[0]) == x->val[0] &&
		    (w[1] & x->mask[1]) == x->val[1])
			return true;
	}
	return false;
}

int darknet_pcap_next(struct darknet_pcap *p, struct dk_packet *k)
{
	struct pcapfile_rec r;
	int rc;
	while ((rc = pcapfile_next(p->f, &r)) == 1) {
		p->st.packets++;
		if (!decode(p->dlt, r.data, r.caplen, r.time_ns, k, &p->st))
			continue;
		if (!in_darknet(p, &k->dst)) {
			p->st.outside++;
			continue;
		}
		p->st.kept++;
		return 1;
	}
	return rc;
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
