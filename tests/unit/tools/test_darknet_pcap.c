/* tests/unit/tools/test_darknet_pcap.c — darknet packets out of pcap
 * captures written here with pcap_dump: every link type, IPv4/IPv6, TCP
 * (flags, seq, ack, window, MSS), UDP, ICMP/ICMPv6, fragments, extension
 * headers, the darknet filter, damaged packets and truncated files.
 * Single-threaded cmocka program; files go to a temporary folder. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/helpers/tmpdir.h"
#include "common/addr.h"
#include "common/err.h"
#include "common/wire.h"
#include "tools/darknet_pcap.h"

#define MAXPKT 64

/* ---- building packets ---- */

struct frame {
	uint8_t b[256];
	size_t len;
	size_t caplen; /* 0: len */
};

/* TCP header (SYN, MSS 1460 when @mss) at @p; returns its length. */
static size_t tcp_hdr(uint8_t *p, unsigned sport, unsigned dport, uint32_t seq, uint8_t flags,
		      bool mss)
{
	size_t len = mss ? 24 : 20;
	memset(p, 0, len);
	wire_put_u16(p, sport);
	wire_put_u16(p + 2, dport);
	wire_put_u32(p + 4, seq);
	wire_put_u32(p + 8, 0x01020304);
	p[12] = (uint8_t)((len / 4) << 4);
	p[13] = flags;
	wire_put_u16(p + 14, 1024);
	if (mss) {
		p[20] = 2;
		p[21] = 4;
		wire_put_u16(p + 22, 1460);
	}
	return len;
}

/* IPv4 header + @l4 (@l4len bytes) at @p; returns the total length. */
static size_t ipv4_pkt(uint8_t *p, uint8_t proto, const char *src, const char *dst,
		       uint16_t id, uint16_t frag, const uint8_t *l4, size_t l4len)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	wire_put_u16(p + 2, (unsigned)(20 + l4len));
	wire_put_u16(p + 4, id);
	wire_put_u16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	memcpy(p + 20, l4, l4len);
	return 20 + l4len;
}

/* IPv6 header, optional extension headers @ext (@extlen bytes, first next
 * header @ext_nh), then @l4. */
static size_t ipv6_pkt(uint8_t *p, uint8_t nh, const char *src, const char *dst,
		       const uint8_t *ext, size_t extlen, uint8_t ext_nh, const uint8_t *l4,
		       size_t l4len)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	wire_put_u16(p + 4, (unsigned)(extlen + l4len));
	p[6] = extlen ? ext_nh : nh;
	p[7] = 55;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	if (extlen)
		memcpy(p + 40, ext, extlen);
	memcpy(p + 40 + extlen, l4, l4len);
	return 40 + extlen + l4len;
}

/* Wrap the IP packet @ip in the link header of @dlt into @f. */
static void link_wrap(struct frame *f, int dlt, const uint8_t *ip, size_t len)
{
	size_t off = 0;
	bool v6 = (ip[0] >> 4) == 6;
	memset(f, 0, sizeof *f);
	switch (dlt) {
	case DLT_EN10MB: /* with one 802.1Q tag */
		wire_put_u16(f->b + 12, 0x8100);
		wire_put_u16(f->b + 14, 7);
		wire_put_u16(f->b + 16, v6 ? 0x86DD : 0x0800);
		off = 18;
		break;
	case DLT_LINUX_SLL:
		wire_put_u16(f->b + 14, v6 ? 0x86DD : 0x0800);
		off = 16;
		break;
	case DLT_LINUX_SLL2:
		wire_put_u16(f->b, v6 ? 0x86DD : 0x0800);
		off = 20;
		break;
	case DLT_NULL: /* host order (little endian here) */
		f->b[0] = v6 ? 10 : 2;
		off = 4;
		break;
	case DLT_LOOP: /* network order */
		f->b[3] = v6 ? 30 : 2;
		off = 4;
		break;
	default:
		break;
	}
	memcpy(f->b + off, ip, len);
	f->len = off + len;
}

static void write_pcap(const char *path, int dlt, const struct frame *f, size_t n)
{
	pcap_t *pd = pcap_open_dead_with_tstamp_precision(dlt, 65535, PCAP_TSTAMP_PRECISION_NANO);
	assert_non_null(pd);
	pcap_dumper_t *dp = pcap_dump_open(pd, path);
	assert_non_null(dp);
	for (size_t i = 0; i < n; i++) {
		struct pcap_pkthdr h = { .ts = { .tv_sec = 1000 + (long)i, .tv_usec = 5 } };
		h.len = (bpf_u_int32)f[i].len;
		h.caplen = (bpf_u_int32)(f[i].caplen ? f[i].caplen : f[i].len);
		pcap_dump((u_char *)dp, &h, f[i].b);
	}
	pcap_dump_close(dp);
	pcap_close(pd);
}

struct run {
	struct dk_packet k[MAXPKT];
	size_t n;
	int rc;
	uint64_t offset;
	char error[512];
	struct darknet_pcap_stats st;
};

static void read_file(const char *path, const struct darknet_pcap_opts *o, struct run *r)
{
	struct darknet_pcap *p;
	char err[512];
	memset(r, 0, sizeof *r);
	assert_int_equal(darknet_pcap_open(&p, path, o, err, sizeof err), 0);
	while ((r->rc = darknet_pcap_next(p, &r->k[r->n])) == 1)
		assert_true(++r->n < MAXPKT);
	r->st = *darknet_pcap_stats(p);
	r->offset = darknet_pcap_offset(p);
	snprintf(r->error, sizeof r->error, "%s", darknet_pcap_error(p));
	darknet_pcap_close(p);
}

static void addr_is(const struct bsc_addr *a, const char *text)
{
	char buf[64];
	assert_true(addr_format(a, buf, sizeof buf) > 0);
	assert_string_equal(buf, text);
}

/* ---- tests ---- */

static struct run R;

static void test_tcp_fields_every_link_type(void **state)
{
	(void)state;
	static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
				    DLT_IPV4, DLT_NULL, DLT_LOOP };
	uint8_t l4[64], ip[128];
	size_t l4len = tcp_hdr(l4, 40000, 22, 0xC6120005, 0x02, true);
	size_t iplen = ipv4_pkt(ip, 6, "192.0.2.7", "198.18.0.5", 54321, 0, l4, l4len);
	for (size_t i = 0; i < sizeof dlts / sizeof dlts[0]; i++) {
		struct frame f;
		char path[300];
		link_wrap(&f, dlts[i], ip, iplen);
		tmpdir_path(path, sizeof path, "tcp.pcap");
		write_pcap(path, dlts[i], &f, 1);
		read_file(path, NULL, &R);
		assert_int_equal(R.rc, 0);
		assert_int_equal(R.n, 1);
		const struct dk_packet *k = &R.k[0];
		addr_is(&k->src, "192.0.2.7");
		addr_is(&k->dst, "198.18.0.5");
		assert_int_equal(k->proto, DK_PROTO_TCP);
		assert_int_equal(k->tcp_flags, DK_TCP_SYN);
		assert_int_equal(k->sport, 40000);
		assert_int_equal(k->dport, 22);
		assert_int_equal(k->seq, 0xC6120005);
		assert_int_equal(k->ack, 0x01020304);
		assert_int_equal(k->window, 1024);
		assert_int_equal(k->mss, 1460);
		assert_int_equal(k->tcp_opt_len, 4);
		assert_int_equal(k->ip_id, 54321);
		assert_int_equal(k->ip_len, 44);
		assert_int_equal(k->ttl, 64);
		assert_false(k->fragment);
		assert_int_equal(k->time_ns, 1000000000005ull);
	}
}

static void test_ipv6_every_link_type(void **state)
{
	(void)state;
	static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
				    DLT_IPV6, DLT_NULL, DLT_LOOP };
	uint8_t icmp[8] = { 128, 0 }, ext[8] = { 58, 0, 1, 4, 0, 0, 0, 0 }, ip[128];
	/* a destination options header (8 bytes) before ICMPv6 echo request */
	size_t iplen = ipv6_pkt(ip, 58, "2001:db8::1", "2001:db8:ffff::9", ext, 8, 60, icmp, 8);
	for (size_t i = 0; i < sizeof dlts / sizeof dlts[0]; i++) {
		struct frame f;
		char path[300];
		link_wrap(&f, dlts[i], ip, iplen);
		tmpdir_path(path, sizeof path, "v6.pcap");
		write_pcap(path, dlts[i], &f, 1);
		read_file(path, NULL, &R);
		assert_int_equal(R.rc, 0);
		assert_int_equal(R.n, 1);
		addr_is(&R.k[0].src, "2001:db8::1");
		addr_is(&R.k[0].dst, "2001:db8:ffff::9");
		assert_int_equal(R.k[0].proto, DK_PROTO_ICMPV6);
		assert_int_equal(R.k[0].icmp_type, 128);
		assert_int_equal(R.k[0].ttl, 55);
		assert_int_equal(R.k[0].ip_len, 56);
	}
}

static void test_udp_icmp_fragments(void **state)
{
	(void)state;
	struct frame f[6];
	uint8_t l4[64], ip[128], fh[8];
	char path[300];
	size_t n;
	/* UDP */
	memset(l4, 0, 8);
	wire_put_u16(l4, 5353);
	wire_put_u16(l4 + 2, 161);
	wire_put_u16(l4 + 4, 8);
	n = ipv4_pkt(ip, 17, "192.0.2.1", "198.18.0.1", 1, 0, l4, 8);
	link_wrap(&f[0], DLT_RAW, ip, n);
	/* ICMP port unreachable */
	memset(l4, 0, 8);
	l4[0] = 3;
	l4[1] = 3;
	n = ipv4_pkt(ip, 1, "192.0.2.2", "198.18.0.2", 2, 0, l4, 8);
	link_wrap(&f[1], DLT_RAW, ip, n);
	/* IPv4 first fragment (MF): transport read */
	n = tcp_hdr(l4, 1, 80, 7, 0x02, false);
	n = ipv4_pkt(ip, 6, "192.0.2.3", "198.18.0.3", 3, 0x2000, l4, n);
	link_wrap(&f[2], DLT_RAW, ip, n);
	/* IPv4 later fragment (offset 185): no transport header */
	memset(l4, 0xAB, 16);
	n = ipv4_pkt(ip, 17, "192.0.2.3", "198.18.0.3", 3, 185, l4, 16);
	link_wrap(&f[3], DLT_RAW, ip, n);
	/* IPv6 first fragment header (offset 0, M): UDP read */
	memset(fh, 0, 8);
	fh[0] = 17;
	fh[3] = 1;
	memset(l4, 0, 8);
	wire_put_u16(l4, 9);
	wire_put_u16(l4 + 2, 53);
	n = ipv6_pkt(ip, 17, "2001:db8::5", "2001:db8::6", fh, 8, 44, l4, 8);
	link_wrap(&f[4], DLT_RAW, ip, n);
	/* IPv6 later fragment */
	wire_put_u16(fh + 2, 0x00A8);
	n = ipv6_pkt(ip, 17, "2001:db8::5", "2001:db8::6", fh, 8, 44, l4, 8);
	link_wrap(&f[5], DLT_RAW, ip, n);
	tmpdir_path(path, sizeof path, "mix.pcap");
	write_pcap(path, DLT_RAW, f, 6);
	read_file(path, NULL, &R);
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 6);
	assert_int_equal(R.k[0].proto, DK_PROTO_UDP);
	assert_int_equal(R.k[0].sport, 5353);
	assert_int_equal(R.k[0].dport, 161);
	assert_int_equal(R.k[1].proto, DK_PROTO_ICMP);
	assert_int_equal(R.k[1].icmp_type, 3);
	assert_int_equal(R.k[1].icmp_code, 3);
	assert_true(R.k[2].fragment);
	assert_false(R.k[2].later_fragment);
	assert_int_equal(R.k[2].dport, 80);
	assert_true(R.k[3].fragment);
	assert_true(R.k[3].later_fragment); /* no transport header: no port */
	assert_int_equal(R.k[3].proto, DK_PROTO_UDP);
	assert_int_equal(R.k[3].dport, 0);
	assert_true(R.k[4].fragment);
	assert_false(R.k[4].later_fragment);
	assert_int_equal(R.k[4].dport, 53);
	assert_true(R.k[5].fragment);
	assert_true(R.k[5].later_fragment);
	assert_int_equal(R.k[5].dport, 0);
	assert_int_equal(R.st.fragments, 4);
	assert_int_equal(R.st.truncated, 0); /* short fragments are not damage */
	assert_false(R.k[0].fragment || R.k[1].fragment);
	assert_false(R.k[0].later_fragment || R.k[1].later_fragment);
}

static void test_darknet_filter(void **state)
{
	(void)state;
	struct frame f[3];
	uint8_t l4[64], ip[128];
	char path[300];
	size_t n = tcp_hdr(l4, 1, 23, 0, 0x02, false);
	size_t m = ipv4_pkt(ip, 6, "192.0.2.1", "198.18.0.200", 0, 0, l4, n);
	link_wrap(&f[0], DLT_EN10MB, ip, m);
	m = ipv4_pkt(ip, 6, "192.0.2.1", "198.18.1.1", 0, 0, l4, n);
	link_wrap(&f[1], DLT_EN10MB, ip, m);
	m = ipv6_pkt(ip, 6, "2001:db8::1", "2001:db8::2", NULL, 0, 0, l4, n);
	link_wrap(&f[2], DLT_EN10MB, ip, m);
	tmpdir_path(path, sizeof path, "filter.pcap");
	write_pcap(path, DLT_EN10MB, f, 3);
	struct bsc_addr pfx[2];
	assert_int_equal(addr_parse(&pfx[0], "198.18.0.0/24", false), 0);
	assert_int_equal(addr_parse(&pfx[1], "2001:db8::/64", false), 0);
	struct darknet_pcap_opts o = { .prefixes = pfx, .nprefixes = 1 };
	read_file(path, &o, &R);
	assert_int_equal(R.n, 1);
	addr_is(&R.k[0].dst, "198.18.0.200");
	assert_int_equal(R.st.outside, 2);
	o.nprefixes = 2;
	read_file(path, &o, &R);
	assert_int_equal(R.n, 2);
	read_file(path, NULL, &R);
	assert_int_equal(R.n, 3);
	assert_int_equal(R.st.kept, 3);
}

/* The reader's prefix test (masked 64-bit words) answers as
 * addr_in_prefix() does: random IPv4 and IPv6 prefixes of every length,
 * most masked as the command line gives them, some not (which match
 * nothing in either), and destinations inside, next to and outside them. */
static void test_darknet_filter_as_addr_in_prefix(void **state)
{
	(void)state;
	enum { NPFX = 6, NPKT = 60 };
	struct frame f[NPKT];
	struct bsc_addr pfx[NPFX], dst[NPKT];
	uint8_t l4[64], ip[128];
	char path[300], a[INET6_ADDRSTRLEN];
	uint64_t x = 99;
	size_t n = tcp_hdr(l4, 1, 23, 0, 0x02, false), want = 0;

	for (int round = 0; round < 20; round++) {
		struct darknet_pcap_opts o = { .prefixes = pfx, .nprefixes = NPFX };
		size_t k = 0;

		for (int i = 0; i < NPFX; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			memset(&pfx[i], 0, sizeof pfx[i]);
			pfx[i].family = (x >> 60) & 1 ? AF_INET6 : AF_INET;
			for (int b = 0; b < 16; b++)
				pfx[i].bytes[b] = (uint8_t)(x >> (b % 8 * 8)) ^ (uint8_t)(b * 37);
			pfx[i].prefix = (uint8_t)((x >> 33) % ((pfx[i].family == AF_INET ? 32 : 128) + 1));
			if (pfx[i].family == AF_INET)
				memset(pfx[i].bytes + 4, 0, 12);
			if ((x >> 40) % 4)
				addr_mask(&pfx[i], pfx[i].prefix);
		}
		for (int i = 0; i < NPKT; i++) {
			const struct bsc_addr *p = &pfx[i % NPFX];
			unsigned flip;

			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			dst[i] = *p;
			dst[i].prefix = p->family == AF_INET ? 32 : 128;
			/* a bit flipped at, just past or before the prefix's end */
			flip = p->prefix + (unsigned)((x >> 20) % 5) - 2;
			if (flip < dst[i].prefix && (x >> 30) % 3)
				dst[i].bytes[flip / 8] ^= (uint8_t)(0x80u >> (flip % 8));
			inet_ntop(dst[i].family, dst[i].bytes, a, sizeof a);
			if (dst[i].family == AF_INET)
				n = ipv4_pkt(ip, 6, "192.0.2.1", a, 0, 0, l4, tcp_hdr(l4, 1, 23, 0, 0x02, false));
			else
				n = ipv6_pkt(ip, 6, "2001:db8::1", a, NULL, 0, 0, l4,
					     tcp_hdr(l4, 1, 23, 0, 0x02, false));
			link_wrap(&f[i], DLT_EN10MB, ip, n);
		}
		tmpdir_path(path, sizeof path, "filter2.pcap");
		write_pcap(path, DLT_EN10MB, f, NPKT);
		read_file(path, &o, &R);
		for (int i = 0; i < NPKT; i++) {
			bool in = false;

			for (int j = 0; j < NPFX; j++)
				in |= addr_in_prefix(&dst[i], &pfx[j]);
			if (!in)
				continue;
			assert_true(k < R.n);
			assert_int_equal(R.k[k].dst.family, dst[i].family);
			assert_memory_equal(R.k[k].dst.bytes, dst[i].bytes,
					    dst[i].family == AF_INET ? 4 : 16);
			k++;
		}
		assert_int_equal(R.n, k);
		assert_int_equal(R.st.outside, NPKT - k);
		want += k;
	}
	assert_true(want > 200); /* most destinations fall inside */
}

static void test_damaged_packets(void **state)
{
	(void)state;
	struct frame f[5];
	uint8_t l4[64], ip[128];
	char path[300];
	size_t n = tcp_hdr(l4, 1, 23, 0, 0x02, true);
	size_t m = ipv4_pkt(ip, 6, "192.0.2.1", "198.18.0.1", 0, 0, l4, n);
	link_wrap(&f[0], DLT_EN10MB, ip, m);
	f[0].caplen = 18 + 10; /* IPv4 header cut */
	link_wrap(&f[1], DLT_EN10MB, ip, m);
	f[1].caplen = 18 + 20 + 10; /* TCP header cut: kept, ports only */
	link_wrap(&f[2], DLT_EN10MB, ip, m);
	f[2].b[18] = 0x35; /* version 3 */
	link_wrap(&f[3], DLT_EN10MB, ip, m);
	wire_put_u16(f[3].b + 16, 0x0806); /* ARP */
	link_wrap(&f[4], DLT_EN10MB, ip, m);
	f[4].caplen = 10; /* Ethernet header cut */
	tmpdir_path(path, sizeof path, "damaged.pcap");
	write_pcap(path, DLT_EN10MB, f, 5);
	read_file(path, NULL, &R);
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.st.packets, 5);
	assert_int_equal(R.n, 1);
	assert_int_equal(R.k[0].dport, 23); /* ports read, options and flags cut */
	assert_int_equal(R.k[0].tcp_flags, 0);
	assert_int_equal(R.st.truncated, 3);
	assert_int_equal(R.st.bad_ip, 1);
	assert_int_equal(R.st.not_ip, 1);
	char line[256];
	darknet_pcap_stats_format(&R.st, line, sizeof line);
	assert_non_null(strstr(line, "truncated 3"));
}

static void test_other_link_type(void **state)
{
	(void)state;
	struct frame f;
	char path[300];
	memset(&f, 0, sizeof f);
	f.len = 30;
	tmpdir_path(path, sizeof path, "ppp.pcap");
	write_pcap(path, DLT_PPP, &f, 1);
	read_file(path, NULL, &R);
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 0);
	assert_int_equal(R.st.linktype, 1);
}

static void test_truncated_file(void **state)
{
	(void)state;
	struct frame f[3];
	uint8_t l4[64], ip[128];
	char path[300];
	size_t n = tcp_hdr(l4, 1, 23, 0, 0x02, false);
	size_t m = ipv4_pkt(ip, 6, "192.0.2.1", "198.18.0.1", 0, 0, l4, n);
	for (int i = 0; i < 3; i++)
		link_wrap(&f[i], DLT_RAW, ip, m);
	tmpdir_path(path, sizeof path, "cut.pcap");
	write_pcap(path, DLT_RAW, f, 3);
	/* 24 + 3 * (16 + 40) = 192 bytes; cut inside the third record */
	assert_int_equal(truncate(path, 24 + 2 * 56 + 30), 0);
	read_file(path, NULL, &R);
	assert_int_equal(R.n, 2);
	assert_int_equal(R.rc, BSC_ETRUNC);
	assert_int_equal(R.offset, 24 + 2 * 56);
	assert_non_null(strstr(R.error, "cut.pcap"));
	assert_non_null(strstr(R.error, "at byte 136"));
	/* cut inside the file header */
	assert_int_equal(truncate(path, 10), 0);
	struct darknet_pcap *p;
	char err[512];
	assert_int_equal(darknet_pcap_open(&p, path, NULL, err, sizeof err), BSC_ETRUNC);
	assert_null(p);
	assert_non_null(strstr(err, "cut.pcap"));
}

static void put32le(FILE *fp, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	fwrite(b, 1, 4, fp);
}

/* pcapng: section header, one raw-IP interface, enhanced packet blocks. */
static void test_pcapng(void **state)
{
	(void)state;
	uint8_t l4[64], ip[128];
	char path[300];
	size_t n = tcp_hdr(l4, 1, 445, 9, 0x02, false);
	size_t m = ipv4_pkt(ip, 6, "192.0.2.1", "198.18.0.1", 0, 0, l4, n); /* 40 bytes */
	tmpdir_path(path, sizeof path, "ng.pcapng");
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	put32le(fp, 0x0A0D0D0A); /* SHB */
	put32le(fp, 28);
	put32le(fp, 0x1A2B3C4D);
	put32le(fp, 1); /* version 1.0 */
	put32le(fp, 0xFFFFFFFF);
	put32le(fp, 0xFFFFFFFF);
	put32le(fp, 28);
	put32le(fp, 1); /* IDB */
	put32le(fp, 20);
	put32le(fp, DLT_RAW);
	put32le(fp, 65535);
	put32le(fp, 20);
	for (int i = 0; i < 2; i++) { /* EPBs, microseconds */
		put32le(fp, 6);
		put32le(fp, (uint32_t)(32 + m));
		put32le(fp, 0);
		put32le(fp, 0);
		put32le(fp, 2000000u + (uint32_t)i);
		put32le(fp, (uint32_t)m);
		put32le(fp, (uint32_t)m);
		fwrite(ip, 1, m, fp);
		put32le(fp, (uint32_t)(32 + m));
	}
	fclose(fp);
	read_file(path, NULL, &R);
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 2);
	assert_int_equal(R.k[0].dport, 445);
	assert_int_equal(R.k[1].time_ns, 2000001000ull);
	/* cut inside the second block: the first packet is kept */
	assert_int_equal(truncate(path, 48 + 72 + 20), 0);
	read_file(path, NULL, &R);
	assert_int_equal(R.n, 1);
	assert_int_equal(R.rc, BSC_ETRUNC);
	assert_int_equal(R.offset, 48 + 72);
}

static void test_not_a_capture(void **state)
{
	(void)state;
	char path[300], err[512];
	struct darknet_pcap *p;
	tmpdir_path(path, sizeof path, "junk.pcap");
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("this is not a capture file at all, not even close\n", fp);
	fclose(fp);
	assert_int_equal(darknet_pcap_open(&p, path, NULL, err, sizeof err), BSC_EMALF);
	assert_non_null(strstr(err, "junk.pcap"));
	tmpdir_path(path, sizeof path, "missing.pcap");
	assert_true(darknet_pcap_open(&p, path, NULL, err, sizeof err) < 0);
	assert_non_null(strstr(err, "missing.pcap"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_fields_every_link_type),
		cmocka_unit_test(test_ipv6_every_link_type),
		cmocka_unit_test(test_udp_icmp_fragments),
		cmocka_unit_test(test_darknet_filter),
		cmocka_unit_test(test_darknet_filter_as_addr_in_prefix),
		cmocka_unit_test(test_damaged_packets),
		cmocka_unit_test(test_other_link_type),
		cmocka_unit_test(test_truncated_file),
		cmocka_unit_test(test_pcapng),
		cmocka_unit_test(test_not_a_capture),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
