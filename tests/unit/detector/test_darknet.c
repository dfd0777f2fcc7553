/* tests/unit/detector/test_darknet.c — darknet taxonomy: every rule boundary
 * (below / at / above), rule order, darknet-size scaling, per-source
 * aggregation from packets, windows, sketches and the source cap.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "common/err.h"
#include "common/mem.h"
#include "detector/darknet.h"

#define SEC 1000000000ULL

/* ---- rule table on hand-made stats ---- */

static struct dk_thresholds thr;

static int setup(void **state)
{
	(void)state;
	darknet_thresholds_default(&thr);
	return 0;
}

/* After a test that makes allocations fail, even one stopped by a failed
 * assertion: allocations succeed again for the tests after it. */
static int fail_off(void **state)
{
	(void)state;
	mem_fail_after(-1);
	return 0;
}

/* @p SYN packets to one port, @d destinations on it, one port per dst. */
static struct dk_stats scan_stats(uint64_t p, uint64_t d)
{
	struct dk_stats s;

	memset(&s, 0, sizeof s);
	s.packets = p;
	s.tcp = p;
	s.syn = p;
	s.destinations = d;
	s.proto_ports = 1;
	s.pmax_dst = 1;
	s.dmax_port = d;
	s.top_port_packets = p;
	s.top_port_proto = DK_PROTO_TCP;
	s.top_port = 8080;
	s.top_flow_packets = 1;
	return s;
}

static struct dk_class_result cls(const struct dk_stats *s, uint64_t size)
{
	struct dk_class_result r;

	darknet_classify(s, &thr, size, &r);
	return r;
}

#define ASSERT_CLASS(st, dsize, c, sz, rl)                                                         \
	do {                                                                                       \
		struct dk_class_result r_ = cls(&(st), dsize);                                     \
		assert_string_equal(darknet_class_name(r_.cls), c);                                \
		assert_int_equal(r_.size, sz);                                                     \
		assert_int_equal(r_.rule, rl);                                                     \
	} while (0)

static void test_rule_fragment(void **state)
{
	struct dk_stats s = scan_stats(10, 1);

	(void)state;
	s.top_flow_packets = 10;
	s.fragments = 4;
	ASSERT_CLASS(s, 0, "one-flow", DK_SIZE_NONE, 7);
	s.top_flow_packets = 1;
	s.fragments = 5;
	ASSERT_CLASS(s, 0, "ip-fragment", DK_SIZE_NONE, 1);
	s.fragments = 6;
	ASSERT_CLASS(s, 0, "ip-fragment", DK_SIZE_NONE, 1);
}

static void test_rule_backscatter(void **state)
{
	struct dk_stats s;

	(void)state;
	memset(&s, 0, sizeof s);
	s.packets = 20;
	s.tcp = 10;
	s.icmp = 10;
	s.synack = 3;
	s.rst = 2;
	s.rstack = 2;
	s.echo_reply = 1;
	s.unreach = 1;
	s.time_exceeded = 0;  /* 9 of 20 replies */
	s.tcp_other = 3;
	s.icmp_other = 8;
	s.top_flow_packets = 1;
	s.pmax_dst = 1;
	s.dmax_port = 1;
	ASSERT_CLASS(s, 0, "other", DK_SIZE_NONE, 11);
	s.time_exceeded = 1;  /* 10 of 20 */
	s.icmp_other = 7;
	ASSERT_CLASS(s, 0, "backscatter", DK_SIZE_NONE, 2);
	s.time_exceeded = 2;
	s.icmp_other = 6;
	ASSERT_CLASS(s, 0, "backscatter", DK_SIZE_NONE, 2);
	/* Backscatter carries no target service. */
	s.top_port_proto = DK_PROTO_TCP;
	s.top_port = 22;
	assert_int_equal(cls(&s, 0).service, DK_SERVICE_NONE);
}

static void test_rule_network_scan(void **state)
{
	struct dk_stats s;

	(void)state;
	s = scan_stats(500, 99);
	ASSERT_CLASS(s, 0, "network-scan", DK_SIZE_SMALL, 4);
	s = scan_stats(500, 100);
	ASSERT_CLASS(s, 0, "network-scan", DK_SIZE_LARGE, 3);
	s = scan_stats(500, 101);
	ASSERT_CLASS(s, 0, "network-scan", DK_SIZE_LARGE, 3);
	/* Dominant port share: 79% / 80% / 81% of packets. */
	s = scan_stats(100, 150);
	s.top_port_packets = 79;
	ASSERT_CLASS(s, 0, "other", DK_SIZE_NONE, 11);
	s.top_port_packets = 80;
	ASSERT_CLASS(s, 0, "network-scan", DK_SIZE_LARGE, 3);
	s.top_port_packets = 81;
	ASSERT_CLASS(s, 0, "network-scan", DK_SIZE_LARGE, 3);
	/* D_S: 9 / 10 / 11 destinations on one port. */
	s = scan_stats(9, 9);
	ASSERT_CLASS(s, 0, "small-syn", DK_SIZE_NONE, 8);
	s = scan_stats(10, 10);
	ASSERT_CLASS(s, 0, "network-scan", DK_SIZE_SMALL, 4);
	s = scan_stats(11, 11);
	ASSERT_CLASS(s, 0, "network-scan", DK_SIZE_SMALL, 4);
}

static void test_rule_port_scan(void **state)
{
	struct dk_stats s = scan_stats(400, 1);

	(void)state;
	s.top_port_packets = 4;
	s.pmax_dst = 99;
	ASSERT_CLASS(s, 0, "port-scan", DK_SIZE_SMALL, 6);
	s.pmax_dst = 100;
	ASSERT_CLASS(s, 0, "port-scan", DK_SIZE_LARGE, 5);
	s.pmax_dst = 101;
	ASSERT_CLASS(s, 0, "port-scan", DK_SIZE_LARGE, 5);
	s.pmax_dst = 9;
	ASSERT_CLASS(s, 0, "other", DK_SIZE_NONE, 11);
	s.pmax_dst = 10;
	ASSERT_CLASS(s, 0, "port-scan", DK_SIZE_SMALL, 6);
	s.pmax_dst = 11;
	ASSERT_CLASS(s, 0, "port-scan", DK_SIZE_SMALL, 6);
}

static void test_rule_one_flow(void **state)
{
	struct dk_stats s = scan_stats(10, 1);

	(void)state;
	s.top_flow_packets = 8;
	ASSERT_CLASS(s, 0, "other", DK_SIZE_NONE, 11);
	s.top_flow_packets = 9;  /* exactly 90% */
	ASSERT_CLASS(s, 0, "one-flow", DK_SIZE_NONE, 7);
	s.top_flow_packets = 10;
	ASSERT_CLASS(s, 0, "one-flow", DK_SIZE_NONE, 7);
	/* F_min: 9 packets of one flow are below it. */
	s = scan_stats(9, 1);
	s.top_flow_packets = 9;
	ASSERT_CLASS(s, 0, "small-syn", DK_SIZE_NONE, 8);
	s = scan_stats(11, 1);
	s.top_flow_packets = 11;
	ASSERT_CLASS(s, 0, "one-flow", DK_SIZE_NONE, 7);
}

static void test_rule_small(void **state)
{
	struct dk_stats s = scan_stats(9, 2);

	(void)state;
	ASSERT_CLASS(s, 0, "small-syn", DK_SIZE_NONE, 8);
	s = scan_stats(10, 2); /* F_min reached: not small any more */
	ASSERT_CLASS(s, 0, "other", DK_SIZE_NONE, 11);
	s = scan_stats(9, 2);
	s.syn = 8;
	s.tcp_other = 1;
	ASSERT_CLASS(s, 0, "other", DK_SIZE_NONE, 11);

	s = scan_stats(9, 2);
	s.tcp = s.syn = 0;
	s.udp = 9;
	s.top_port_proto = DK_PROTO_UDP;
	ASSERT_CLASS(s, 0, "small-udp", DK_SIZE_NONE, 9);
	s.udp = 8;
	s.other = 1;
	ASSERT_CLASS(s, 0, "other", DK_SIZE_NONE, 11);
	s = scan_stats(10, 2);
	s.tcp = s.syn = 0;
	s.udp = 10;
	ASSERT_CLASS(s, 0, "other", DK_SIZE_NONE, 11);

	s = scan_stats(9, 2);
	s.tcp = s.syn = 0;
	s.icmp = s.echo_request = 9;
	s.top_port_proto = DK_PROTO_ICMP;
	s.top_port = 8;
	ASSERT_CLASS(s, 0, "small-ping", DK_SIZE_NONE, 10);
	assert_int_equal(cls(&s, 0).service, DK_SERVICE_ICMP);
	s.echo_request = 8;
	s.icmp_other = 1;
	ASSERT_CLASS(s, 0, "other", DK_SIZE_NONE, 11);

	memset(&s, 0, sizeof s);
	ASSERT_CLASS(s, 0, "other", DK_SIZE_NONE, 11); /* empty source */
}

/* First match wins: fragments beat backscatter beat scans. */
static void test_rule_order(void **state)
{
	struct dk_stats s = scan_stats(1000, 900);

	(void)state;
	s.fragments = 500;
	ASSERT_CLASS(s, 0, "ip-fragment", DK_SIZE_NONE, 1);
	s.fragments = 0;
	s.syn = 400;
	s.synack = 600;
	ASSERT_CLASS(s, 0, "backscatter", DK_SIZE_NONE, 2);
	s.fragments = 600;
	ASSERT_CLASS(s, 0, "ip-fragment", DK_SIZE_NONE, 1);
	/* A wide scan that also hits many ports on a destination is a
	 * network scan. */
	s = scan_stats(1000, 900);
	s.pmax_dst = 500;
	ASSERT_CLASS(s, 0, "network-scan", DK_SIZE_LARGE, 3);
	/* A small network scan beats a large port scan. */
	s = scan_stats(1000, 50);
	s.pmax_dst = 500;
	ASSERT_CLASS(s, 0, "network-scan", DK_SIZE_SMALL, 4);
}

static void test_scaling(void **state)
{
	struct dk_stats s;

	(void)state;
	assert_int_equal(darknet_d_large(&thr, 0), 100);
	assert_int_equal(darknet_d_small(&thr, 0), 10);
	assert_int_equal(darknet_d_large(&thr, 256), 100);      /* /24 */
	assert_int_equal(darknet_d_small(&thr, 256), 10);
	assert_int_equal(darknet_d_large(&thr, 65536), 1024);   /* /16 */
	assert_int_equal(darknet_d_small(&thr, 65536), 16);
	assert_int_equal(darknet_d_large(&thr, 1u << 24), 262144); /* /8 */
	assert_int_equal(darknet_d_small(&thr, 1u << 24), 4096);
	assert_int_equal(darknet_d_large(&thr, 64), 64);        /* /26: all of it */
	assert_int_equal(darknet_d_small(&thr, 64), 10);
	assert_int_equal(darknet_d_large(&thr, 8), 8);          /* /29 */
	assert_int_equal(darknet_d_small(&thr, 8), 8);
	assert_int_equal(darknet_d_large(&thr, 1), 2);          /* never below 2 */
	assert_int_equal(darknet_d_small(&thr, 1), 2);

	/* 200 destinations: large on a /24, small on a /16. */
	s = scan_stats(300, 200);
	ASSERT_CLASS(s, 256, "network-scan", DK_SIZE_LARGE, 3);
	ASSERT_CLASS(s, 65536, "network-scan", DK_SIZE_SMALL, 4);
	/* /16 boundaries: 1023 / 1024 and 15 / 16. */
	s = scan_stats(3000, 1023);
	ASSERT_CLASS(s, 65536, "network-scan", DK_SIZE_SMALL, 4);
	s = scan_stats(3000, 1024);
	ASSERT_CLASS(s, 65536, "network-scan", DK_SIZE_LARGE, 3);
	s = scan_stats(15, 15);
	ASSERT_CLASS(s, 65536, "other", DK_SIZE_NONE, 11);
	ASSERT_CLASS(s, 256, "network-scan", DK_SIZE_SMALL, 4);
	s = scan_stats(16, 16);
	ASSERT_CLASS(s, 65536, "network-scan", DK_SIZE_SMALL, 4);
	/* A /26 sweep of every address is large. */
	s = scan_stats(64, 64);
	ASSERT_CLASS(s, 64, "network-scan", DK_SIZE_LARGE, 3);
}

static void test_service(void **state)
{
	static const struct {
		uint8_t proto;
		uint16_t port;
		enum dk_service svc;
	} cases[] = {
		{ DK_PROTO_TCP, 445, DK_SERVICE_SMB },   { DK_PROTO_TCP, 23, DK_SERVICE_TELNET },
		{ DK_PROTO_TCP, 2323, DK_SERVICE_TELNET }, { DK_PROTO_TCP, 22, DK_SERVICE_SSH },
		{ DK_PROTO_TCP, 80, DK_SERVICE_NONE },   { DK_PROTO_UDP, 445, DK_SERVICE_NONE },
		{ DK_PROTO_ICMP, 8, DK_SERVICE_ICMP },   { DK_PROTO_ICMPV6, 128, DK_SERVICE_ICMP },
		{ DK_PROTO_ICMP, 13, DK_SERVICE_NONE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dk_stats s = scan_stats(500, 300);

		s.top_port_proto = cases[i].proto;
		s.top_port = cases[i].port;
		assert_int_equal(cls(&s, 0).service, cases[i].svc);
	}
	assert_string_equal(darknet_service_name(DK_SERVICE_SMB), "smb");
	assert_string_equal(darknet_service_name(DK_SERVICE_TELNET), "telnet");
	assert_string_equal(darknet_service_name(DK_SERVICE_SSH), "ssh");
	assert_string_equal(darknet_service_name(DK_SERVICE_ICMP), "icmp");
	assert_null(darknet_service_name(DK_SERVICE_NONE));
	assert_string_equal(darknet_size_name(DK_SIZE_LARGE), "large");
	assert_null(darknet_size_name(DK_SIZE_NONE));
}

/* ---- aggregation from packets ---- */

#define MAX_RECS 256

struct sink {
	struct dk_record rec[MAX_RECS];
	size_t n;
};

static void collect(const struct dk_record *r, void *arg)
{
	struct sink *k = arg;

	assert_true(k->n < MAX_RECS);
	k->rec[k->n++] = *r;
}

/* A labeler of config @c whose records go to @k (emptied). */
static struct darknet *mk_with(struct sink *k, struct dk_config *c)
{
	struct darknet *dk;

	c->emit = collect;
	c->emit_arg = k;
	memset(k, 0, sizeof *k);
	assert_int_equal(darknet_create(&dk, c), 0);
	return dk;
}

static struct darknet *mk(struct sink *k, uint64_t size, uint32_t max_src, uint32_t exact)
{
	struct dk_config c;

	darknet_config_default(&c);
	c.darknet_size = size;
	if (max_src)
		c.max_sources = max_src;
	if (exact)
		c.exact_cap = exact;
	return mk_with(k, &c);
}

static void set_v4(struct bsc_addr *a, uint32_t x)
{
	memset(a, 0, sizeof *a);
	a->family = AF_INET;
	a->prefix = 32;
	a->bytes[0] = (uint8_t)(x >> 24);
	a->bytes[1] = (uint8_t)(x >> 16);
	a->bytes[2] = (uint8_t)(x >> 8);
	a->bytes[3] = (uint8_t)x;
}

/* SYN from 198.51.100.@src to 10.0.0.0 + @host. */
static struct dk_packet pkt(uint8_t src, uint32_t host, uint16_t dport)
{
	struct dk_packet p;

	memset(&p, 0, sizeof p);
	p.time_ns = 5 * SEC;
	set_v4(&p.src, 0xC6336400 + src);
	set_v4(&p.dst, 0x0A000000 + host);
	p.proto = DK_PROTO_TCP;
	p.tcp_flags = DK_TCP_SYN;
	p.sport = 40000;
	p.dport = dport;
	p.window = 29200;
	p.ip_id = (uint16_t)(host * 40503u + 7);
	p.seq = 0x85EBCA6Bu * (host + 2) ^ 0xC2B2AE35u;
	p.mss = 1460;
	p.tcp_opt_len = 20;
	p.ip_len = 60;
	return p;
}

static void add(struct darknet *dk, const struct dk_packet *p)
{
	assert_int_equal(darknet_add(dk, p), 0);
}

static void test_agg_network_scan(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 0);

	(void)state;
	for (uint32_t h = 0; h < 120; h++) {
		struct dk_packet p = pkt(1, h, 445);

		add(dk, &p);
		if (h < 20)
			add(dk, &p); /* retransmissions */
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_string_equal(darknet_class_name(k.rec[0].cls), "network-scan");
	assert_int_equal(k.rec[0].size, DK_SIZE_LARGE);
	assert_int_equal(k.rec[0].service, DK_SERVICE_SMB);
	assert_int_equal(k.rec[0].protocol, DK_PROTO_TCP);
	assert_int_equal(k.rec[0].nports, 1);
	assert_int_equal(k.rec[0].ports[0], 445);
	assert_int_equal(k.rec[0].packets, 140);
	assert_int_equal(k.rec[0].destinations, 120);
	assert_int_equal(k.rec[0].stats.dmax_port, 120);
	assert_int_equal(k.rec[0].stats.pmax_dst, 1);
	assert_int_equal(k.rec[0].stats.top_flow_packets, 2);
	assert_false(k.rec[0].stats.estimated);
	assert_int_equal(k.rec[0].tool, DK_TOOL_NONE);
	assert_int_equal(k.rec[0].window_start_ns, 0);
	darknet_destroy(dk);
}

/* The same 120 destinations are only a small scan on a /16. */
static void test_agg_scaling(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 65536, 0, 0);

	(void)state;
	for (uint32_t h = 0; h < 120; h++) {
		struct dk_packet p = pkt(1, h * 300, 22);

		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.rec[0].cls, DK_CLASS_NETWORK_SCAN);
	assert_int_equal(k.rec[0].size, DK_SIZE_SMALL);
	assert_int_equal(k.rec[0].service, DK_SERVICE_SSH);
	darknet_destroy(dk);
}

static void test_agg_mirai(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 256, 0, 0);

	(void)state;
	for (uint32_t h = 0; h < 200; h++) {
		struct dk_packet p = pkt(2, h, h % 10 == 0 ? 2323 : 23);

		p.seq = 0x0A000000 + h;
		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.rec[0].cls, DK_CLASS_NETWORK_SCAN);
	assert_int_equal(k.rec[0].size, DK_SIZE_LARGE);
	assert_int_equal(k.rec[0].service, DK_SERVICE_TELNET);
	assert_int_equal(k.rec[0].tool, DK_TOOL_MIRAI);
	assert_int_equal(k.rec[0].nports, 2);
	assert_int_equal(k.rec[0].ports[0], 23);
	assert_int_equal(k.rec[0].ports[1], 2323);
	darknet_destroy(dk);
}

/* Every TCP flag byte is counted as the rules read, in order: a bare SYN;
 * SYN and ACK without RST; RST with ACK; RST; anything else (the labeler
 * reads the four bits from a table). */
static void test_agg_tcp_flags(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 0);

	(void)state;
	for (unsigned f = 0; f < 256; f++) {
		struct dk_packet p = pkt((uint8_t)f, f, 80);

		p.tcp_flags = (uint8_t)f;
		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 256);
	for (unsigned f = 0; f < 256; f++) {
		const struct dk_stats *st = &k.rec[f].stats;
		unsigned sar = f & (DK_TCP_SYN | DK_TCP_ACK | DK_TCP_RST);
		uint64_t want[5] = { 0 }; /* syn, synack, rstack, rst, other */

		if ((f & (DK_TCP_SYN | DK_TCP_ACK | DK_TCP_RST | DK_TCP_FIN)) == DK_TCP_SYN)
			want[0] = 1;
		else if (sar == (DK_TCP_SYN | DK_TCP_ACK))
			want[1] = 1;
		else if ((f & (DK_TCP_RST | DK_TCP_ACK)) == (DK_TCP_RST | DK_TCP_ACK))
			want[2] = 1;
		else if (f & DK_TCP_RST)
			want[3] = 1;
		else
			want[4] = 1;
		assert_int_equal(st->tcp, 1);
		assert_int_equal(st->syn, want[0]);
		assert_int_equal(st->synack, want[1]);
		assert_int_equal(st->rstack, want[2]);
		assert_int_equal(st->rst, want[3]);
		assert_int_equal(st->tcp_other, want[4]);
	}
	darknet_destroy(dk);
}

static void test_agg_port_scan_and_others(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 0);
	struct dk_packet p;

	(void)state;
	for (uint32_t port = 1; port <= 150; port++) {  /* source 1: port scan */
		p = pkt(1, 5, (uint16_t)port);
		add(dk, &p);
	}
	for (uint32_t i = 0; i < 30; i++) {             /* source 2: backscatter */
		p = pkt(2, i, 0);
		p.sport = 80;
		p.dport = (uint16_t)(1024 + i);
		p.tcp_flags = i % 2 ? DK_TCP_SYN | DK_TCP_ACK : DK_TCP_RST | DK_TCP_ACK;
		add(dk, &p);
	}
	for (uint32_t i = 0; i < 20; i++) {             /* source 3: one flow */
		p = pkt(3, 9, 3389);
		add(dk, &p);
	}
	p = pkt(4, 1, 0);                               /* source 4: small UDP */
	p.proto = DK_PROTO_UDP;
	p.tcp_flags = 0;
	p.dport = 53;
	add(dk, &p);
	p = pkt(5, 1, 0);                               /* source 5: small ping */
	p.proto = DK_PROTO_ICMP;
	p.tcp_flags = 0;
	p.icmp_type = 8;
	add(dk, &p);
	for (uint32_t i = 0; i < 20; i++) {             /* source 6: fragmented sweep */
		p = pkt(6, i, 0);
		p.proto = DK_PROTO_UDP;
		p.tcp_flags = 0;
		p.dport = 0;
		p.fragment = true;
		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 6);
	assert_int_equal(k.rec[0].cls, DK_CLASS_PORT_SCAN);
	assert_int_equal(k.rec[0].size, DK_SIZE_LARGE);
	assert_int_equal(k.rec[0].stats.pmax_dst, 150);
	assert_int_equal(k.rec[0].stats.proto_ports, 150);
	assert_int_equal(k.rec[1].cls, DK_CLASS_BACKSCATTER);
	assert_int_equal(k.rec[1].stats.synack, 15);
	assert_int_equal(k.rec[1].stats.rstack, 15);
	assert_int_equal(k.rec[2].cls, DK_CLASS_ONE_FLOW);
	assert_int_equal(k.rec[3].cls, DK_CLASS_SMALL_UDP);
	assert_int_equal(k.rec[3].protocol, DK_PROTO_UDP);
	assert_int_equal(k.rec[4].cls, DK_CLASS_SMALL_PING);
	assert_int_equal(k.rec[4].protocol, DK_PROTO_ICMP);
	assert_int_equal(k.rec[4].service, DK_SERVICE_ICMP);
	assert_int_equal(k.rec[5].cls, DK_CLASS_IP_FRAGMENT);
	darknet_destroy(dk);
}

/* The record carries the asserted tool: three sources, three tools. */
static void test_agg_tools(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 0);

	(void)state;
	for (uint32_t h = 0; h < 30; h++) {
		struct dk_packet p = pkt(1, h, 80);      /* ZMap <= 4.0 */

		p.ip_id = 54321;
		add(dk, &p);
		p = pkt(2, h, 80);                       /* ZMap >= 4.1: random ID */
		p.ip_id = (uint16_t)(h * 2654435761u >> 16);
		add(dk, &p);
		p = pkt(3, h, 443);                      /* masscan, 2023-11 template */
		p.window = 1025;
		p.tcp_opt_len = 4;
		p.ip_len = 44;
		p.ip_id = (uint16_t)((0x0A000000u + h) ^ 443u ^ p.seq);
		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 3);
	assert_int_equal(k.rec[0].tool, DK_TOOL_ZMAP);
	assert_int_equal(k.rec[1].tool, DK_TOOL_NONE);
	assert_int_equal(k.rec[2].tool, DK_TOOL_MASSCAN);
	assert_int_equal(k.rec[0].cls, DK_CLASS_NETWORK_SCAN);
	assert_int_equal(k.rec[0].size, DK_SIZE_SMALL);
	darknet_destroy(dk);
}

/* A scanner whose probes are mostly fragments is ip-fragment (rule 1). */
static void test_agg_fragment_scanner(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 0);

	(void)state;
	for (uint32_t h = 0; h < 200; h++) {
		struct dk_packet p = pkt(7, h, 445);

		p.fragment = h % 2 == 0;
		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.rec[0].cls, DK_CLASS_IP_FRAGMENT);
	assert_int_equal(k.rec[0].stats.fragments, 100);
	darknet_destroy(dk);
}

/* Fragments other than the first carry no transport header: they count as
 * packets, fragments, their protocol and their destination, never as port 0,
 * a TCP flag mix or an ICMP type (type 0 would be an echo reply). */
static void test_agg_later_fragments(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 0);
	struct dk_packet p;

	(void)state;
	for (uint32_t h = 0; h < 3; h++) {        /* source 1: UDP/53 datagrams in 2 fragments */
		p = pkt(1, h, 53);
		p.proto = DK_PROTO_UDP;
		p.tcp_flags = 0;
		p.fragment = true;                /* first: MF, ports read */
		add(dk, &p);
		p.later_fragment = true;          /* later: no header */
		p.sport = p.dport = 0;
		add(dk, &p);
	}
	p = pkt(1, 9, 0);                         /* a destination seen only in a later fragment */
	p.proto = DK_PROTO_UDP;
	p.tcp_flags = 0;
	p.fragment = p.later_fragment = true;
	add(dk, &p);
	for (uint32_t h = 0; h < 4; h++) {        /* source 2: later ICMP and TCP fragments only */
		p = pkt(2, h, 0);
		p.proto = h % 2 ? DK_PROTO_ICMP : DK_PROTO_TCP;
		p.tcp_flags = 0;
		p.icmp_type = 0;
		p.fragment = p.later_fragment = true;
		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.rec[0].packets, 7);
	assert_int_equal(k.rec[0].stats.fragments, 7);
	assert_int_equal(k.rec[0].stats.udp, 7);
	assert_int_equal(k.rec[0].destinations, 4);
	assert_int_equal(k.rec[0].stats.proto_ports, 1);  /* UDP/53 only, no port 0 */
	assert_int_equal(k.rec[0].stats.dmax_port, 3);
	assert_int_equal(k.rec[0].stats.pmax_dst, 1);
	assert_int_equal(k.rec[0].stats.top_port, 53);
	assert_int_equal(k.rec[0].stats.top_port_packets, 3);
	assert_int_equal(k.rec[0].protocol, DK_PROTO_UDP);
	assert_int_equal(k.rec[0].nports, 1);
	assert_int_equal(k.rec[0].ports[0], 53);
	assert_int_equal(k.rec[0].cls, DK_CLASS_IP_FRAGMENT);
	assert_int_equal(k.rec[1].packets, 4);
	assert_int_equal(k.rec[1].stats.fragments, 4);
	assert_int_equal(k.rec[1].stats.tcp, 2);
	assert_int_equal(k.rec[1].stats.icmp, 2);
	assert_int_equal(k.rec[1].stats.tcp_other, 0);
	assert_int_equal(k.rec[1].stats.echo_reply, 0);
	assert_int_equal(k.rec[1].stats.icmp_other, 0);
	assert_int_equal(k.rec[1].stats.proto_ports, 0);
	assert_int_equal(k.rec[1].stats.top_flow_packets, 0);
	assert_int_equal(k.rec[1].destinations, 4);
	assert_int_equal(k.rec[1].nports, 0);
	assert_int_equal(k.rec[1].cls, DK_CLASS_IP_FRAGMENT);
	darknet_destroy(dk);
}

/* Later fragments past the exact table: the sketches count their
 * destinations, never a port. */
static void test_agg_later_fragments_sketch(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 16);

	(void)state;
	for (uint32_t h = 0; h < 2000; h++) {
		struct dk_packet p = pkt(3, h, 123);

		p.proto = DK_PROTO_UDP;
		p.tcp_flags = 0;
		p.fragment = true;
		p.later_fragment = h % 2 == 1;
		if (p.later_fragment)
			p.dport = 0;
		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_true(k.rec[0].stats.estimated);
	assert_in_range(k.rec[0].destinations, 1700, 2300);   /* +-15% */
	assert_in_range(k.rec[0].stats.proto_ports, 1, 2);    /* HLL of one key */
	assert_int_equal(k.rec[0].stats.top_port, 123);
	assert_int_equal(k.rec[0].nports, 1);
	assert_int_equal(k.rec[0].ports[0], 123);
	darknet_destroy(dk);
}

/* Many sources and tuple tables that grow, interleaved: every count exact
 * (the queue of darknet_add, slab growth and table growth lose nothing). */
static void test_agg_many_sources(void **state)
{
	static struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 64);
	struct dk_counters c;

	(void)state;
	for (uint32_t h = 0; h < 40; h++) {
		for (uint32_t s = 0; s < 200; s++) {
			struct dk_packet p =
				pkt((uint8_t)s, h * (s % 3 + 1), (uint16_t)(80 + s % 2));

			add(dk, &p);
		}
	}
	darknet_counters(dk, &c);
	assert_int_equal(c.packets, 8000);
	assert_int_equal(c.sources, 200);
	darknet_flush(dk);
	assert_int_equal(k.n, 200);
	for (uint32_t s = 0; s < 200; s++) {
		assert_int_equal(k.rec[s].source.bytes[3], (uint8_t)s);
		assert_int_equal(k.rec[s].packets, 40);
		assert_int_equal(k.rec[s].destinations, 40);
		assert_int_equal(k.rec[s].stats.dmax_port, 40);
		assert_int_equal(k.rec[s].ports[0], 80 + s % 2);
		assert_false(k.rec[s].stats.estimated);
	}
	darknet_destroy(dk);
}

static void test_agg_windows(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 0);
	struct dk_counters c;
	struct dk_packet p = pkt(1, 1, 80);

	(void)state;
	add(dk, &p);
	p.time_ns = 3601 * SEC;                  /* next window: first one emitted */
	add(dk, &p);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.rec[0].window_start_ns, 0);
	p.time_ns = 10 * SEC;                    /* late: counted in the open one */
	add(dk, &p);
	darknet_flush(dk);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.rec[1].window_start_ns, 3600 * SEC);
	assert_int_equal(k.rec[1].packets, 2);
	darknet_counters(dk, &c);
	assert_int_equal(c.packets, 3);
	assert_int_equal(c.late, 1);
	assert_int_equal(c.windows, 2);
	assert_int_equal(c.sources, 0);
	darknet_flush(dk);                       /* nothing open: no record */
	assert_int_equal(k.n, 2);
	darknet_destroy(dk);
}

static void test_agg_ipv6_and_bad(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 0);
	struct dk_packet p = pkt(1, 1, 80);

	(void)state;
	memset(&p.src, 0, sizeof p.src);
	memset(&p.dst, 0, sizeof p.dst);
	p.src.family = p.dst.family = AF_INET6;
	p.src.prefix = p.dst.prefix = 128;
	p.src.bytes[0] = 0x20;
	p.src.bytes[15] = 1;
	for (uint32_t h = 0; h < 12; h++) {
		p.dst.bytes[0] = 0x20;
		p.dst.bytes[1] = 0x01;
		p.dst.bytes[14] = (uint8_t)h;
		add(dk, &p);
	}
	p.dst.family = AF_INET;                  /* mixed families */
	assert_int_equal(darknet_add(dk, &p), BSC_EINVAL);
	p.src.family = p.dst.family = 0;
	assert_int_equal(darknet_add(dk, &p), BSC_EINVAL);
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.rec[0].destinations, 12);
	assert_int_equal(k.rec[0].cls, DK_CLASS_NETWORK_SCAN);
	assert_int_equal(k.rec[0].tool, DK_TOOL_NONE); /* fingerprints are IPv4 */
	darknet_destroy(dk);
}

/* A darknet of IPv4 and IPv6 prefixes: the IPv4 size scales IPv4 sources
 * only; IPv6 sources are judged by the floors, so a sweep of 120 IPv6
 * addresses is a large network scan, and so is one over 600 of a /22. */
static void test_agg_mixed_families(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 1024, 0, 0);

	(void)state;
	for (uint32_t h = 0; h < 600; h++) {
		struct dk_packet p = pkt(1, h, 22);

		add(dk, &p);
	}
	struct dk_packet p = pkt(2, 1, 0);
	memset(&p.src, 0, sizeof p.src);
	memset(&p.dst, 0, sizeof p.dst);
	p.src.family = p.dst.family = AF_INET6;
	p.src.prefix = p.dst.prefix = 128;
	p.src.bytes[0] = 0x20;
	p.src.bytes[15] = 1;
	p.proto = DK_PROTO_ICMPV6;
	p.icmp_type = 128;
	p.tcp_flags = 0;
	for (uint32_t h = 0; h < 120; h++) {
		p.dst.bytes[0] = 0x20;
		p.dst.bytes[1] = 0x01;
		p.dst.bytes[15] = (uint8_t)(h + 1);
		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 2);
	for (size_t i = 0; i < k.n; i++) {
		assert_int_equal(k.rec[i].cls, DK_CLASS_NETWORK_SCAN);
		assert_int_equal(k.rec[i].size, DK_SIZE_LARGE);
		assert_true(k.rec[i].destinations <= k.rec[i].packets);
	}
	darknet_destroy(dk);
}

/* Estimates never exceed the packets: 600 destinations of 600 packets. */
static void test_agg_sketch_capped(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 16);

	(void)state;
	for (uint32_t seed = 0; seed < 8; seed++) {
		for (uint32_t h = 0; h < 600; h++) {
			struct dk_packet p = pkt((uint8_t)(10 + seed), h * 7919u + seed * 104729u, 22);

			add(dk, &p);
		}
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 8);
	for (size_t i = 0; i < k.n; i++) {
		assert_true(k.rec[i].stats.estimated);
		assert_int_equal(k.rec[i].packets, 600);
		assert_true(k.rec[i].destinations <= 600);
		assert_true(k.rec[i].stats.dmax_port <= 600);
	}
	darknet_destroy(dk);
}

/* The same, decided: these 40 destinations fall into 40 different registers
 * of the 256-register destination HyperLogLog and of the port's 64-register
 * one, so linear counting over-estimates both (43 and 63 for 40 packets,
 * with the SplitMix64 finaliser the sketches hash with); the caps must bring
 * them to the 40 counted. */
static void test_agg_sketch_capped_exact(void **state)
{
	static const uint32_t hosts[40] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 16, 17, 18, 19, 21, 24, 25,
		26, 27, 29, 30, 31, 32, 35, 36, 37, 38, 39, 40, 41, 45, 46, 47, 48, 50, 51, 54,
	};
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 4);

	(void)state;
	for (size_t i = 0; i < 40; i++) {
		struct dk_packet p = pkt(1, hosts[i], 22);

		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_true(k.rec[0].stats.estimated);
	assert_int_equal(k.rec[0].packets, 40);
	assert_int_equal(k.rec[0].destinations, 40);
	assert_int_equal(k.rec[0].stats.dmax_port, 40);
	assert_int_equal(k.rec[0].stats.proto_ports, 1);
	darknet_destroy(dk);
}

/* Past exact_cap distinct tuples, counts come from the sketches. */
static void test_agg_sketch(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 16);

	(void)state;
	for (uint32_t h = 0; h < 5000; h++) {
		struct dk_packet p = pkt(1, h, 23);

		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_true(k.rec[0].stats.estimated);
	assert_int_equal(k.rec[0].packets, 5000);
	assert_in_range(k.rec[0].destinations, 4250, 5750);     /* +-15% */
	assert_in_range(k.rec[0].stats.dmax_port, 3500, 6500);  /* +-30% */
	assert_int_equal(k.rec[0].stats.top_port, 23);
	assert_int_equal(k.rec[0].stats.top_port_packets, 5000);
	assert_int_equal(k.rec[0].nports, 1);
	assert_int_equal(k.rec[0].ports[0], 23);
	assert_int_equal(k.rec[0].cls, DK_CLASS_NETWORK_SCAN);
	assert_int_equal(k.rec[0].size, DK_SIZE_LARGE);
	darknet_destroy(dk);
}

/* Without memory for the sketches a source keeps its exact lower bounds;
 * without memory for a new source the packet is refused. */
static void test_agg_nomem(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 16);
	struct dk_counters c;
	struct dk_packet p;

	(void)state;
	for (uint32_t h = 0; h < 16; h++) {
		p = pkt(1, h, 23);
		add(dk, &p);
	}
	darknet_counters(dk, &c); /* adds the batch: the exact table fills */
	mem_fail_after(0);
	for (uint32_t h = 16; h < 40; h++) {
		p = pkt(1, h, 23);
		add(dk, &p);
	}
	darknet_counters(dk, &c); /* the overflow finds no memory for sketches */
	mem_fail_after(-1);
	p = pkt(2, 1, 23);
	mem_fail_after(0);
	assert_int_equal(darknet_add(dk, &p), BSC_ENOMEM);
	mem_fail_after(-1);
	darknet_counters(dk, &c);
	assert_int_equal(c.sketch_failed, 1);
	assert_int_equal(c.dropped_nomem, 1);   /* counted, not lost silently */
	assert_int_equal(c.dropped_full, 0);
	assert_int_equal(c.packets, 40);
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_true(k.rec[0].stats.estimated);
	assert_int_equal(k.rec[0].packets, 40);
	assert_int_equal(k.rec[0].destinations, 16);
	assert_int_equal(k.rec[0].cls, DK_CLASS_NETWORK_SCAN);
	assert_int_equal(k.rec[0].size, DK_SIZE_SMALL);
	darknet_destroy(dk);
}

/* A mixed stream (with late packets) through batches of 1 (each packet
 * added at once), 7, 1000 and the default gives the same records, byte for
 * byte: grouping by source keeps each source's packets in order.  So does
 * a max_sources large enough that a group's sources are sorted two at a
 * time (group_sort()). */
static struct sink *batch_run(uint32_t batch, uint32_t max_sources, const struct dk_packet *ps,
			      size_t n)
{
	struct sink *k = mem_calloc(1, sizeof *k);
	struct dk_config c;
	struct darknet *dk;

	assert_non_null(k);
	darknet_config_default(&c);
	c.exact_cap = 16;
	c.window_ns = 60 * SEC;
	c.batch = batch;
	if (max_sources)
		c.max_sources = max_sources;
	dk = mk_with(k, &c);
	for (size_t i = 0; i < n; i++)
		add(dk, &ps[i]);
	darknet_flush(dk);
	darknet_destroy(dk);
	return k;
}

static void test_agg_batch_sizes(void **state)
{
	const size_t n = 30000;
	struct dk_packet *ps = mem_calloc(n, sizeof *ps);
	/* 5000: groups larger than the sort buffer, added while packets are
	 * queued behind the batch */
	const uint32_t batches[][2] = { { 7, 0 }, { 1000, 0 }, { 5000, 0 }, { 0, 0 },
					{ 1000, 1u << 24 }, { 5000, 1u << 24 }, { 0, 1u << 24 } };
	uint64_t x = 12345;
	struct sink *ref;

	(void)state;
	assert_non_null(ps);
	for (size_t i = 0; i < n; i++) {
		uint32_t r;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		r = (uint32_t)(x >> 33);
		/* 120 sources: a few scan widely (and overflow), others port-scan,
		 * send backscatter or fragments, or a packet or two; two windows */
		ps[i] = pkt((uint8_t)(r % 120), r % 120 < 10 ? (r >> 8) % 5000 : (r >> 8) % 12,
			    r % 120 < 30 ? 445 : (uint16_t)((r >> 16) % 300));
		ps[i].time_ns = (i < n / 2 ? 10 : 70) * SEC + i;
		if (i > n / 2 && i % 50 == 0)
			ps[i].time_ns = 30 * SEC; /* late: counted in the open window */
		if (r % 120 >= 60 && r % 120 < 80)
			ps[i].tcp_flags = DK_TCP_SYN | DK_TCP_ACK;
		if (r % 120 >= 80 && r % 120 < 90) {
			ps[i].fragment = true;
			ps[i].later_fragment = (r >> 20) & 1;
		}
		if (r % 120 >= 90 && r % 120 < 100) {
			ps[i].proto = DK_PROTO_ICMP;
			ps[i].icmp_type = (r >> 12) & 1 ? 8 : 3;
		}
		if (r % 120 >= 110) {
			ps[i].src.family = AF_INET6;
			ps[i].dst.family = AF_INET6;
			ps[i].src.prefix = ps[i].dst.prefix = 128;
		}
	}
	ref = batch_run(1, 0, ps, n);
	assert_true(ref->n > 200);
	for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
		struct sink *k = batch_run(batches[b][0], batches[b][1], ps, n);

		assert_int_equal(k->n, ref->n);
		for (size_t i = 0; i < k->n; i++)
			assert_memory_equal(&k->rec[i], &ref->rec[i], sizeof k->rec[i]);
		mem_free(k);
	}
	mem_free(ref);
	mem_free(ps);
}

/* Once a source's exact table is full its packets go to the sketches only;
 * a flow that starts after that is still found (space-saving over flows):
 * one-flow, with a lower bound near its true count. */
static void test_agg_flow_after_overflow(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, 8);
	struct dk_packet p;

	(void)state;
	for (uint32_t h = 0; h < 9; h++) {     /* 9 tuples: one past the table */
		p = pkt(1, h, (uint16_t)(1000 + h));
		add(dk, &p);
	}
	for (int i = 0; i < 1000; i++) {
		p = pkt(1, 100, 443);
		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_true(k.rec[0].stats.estimated);
	assert_int_equal(k.rec[0].packets, 1009);
	assert_in_range(k.rec[0].stats.top_flow_packets, 991, 1000);
	assert_int_equal(k.rec[0].cls, DK_CLASS_ONE_FLOW);
	darknet_destroy(dk);
}

static void test_agg_source_cap(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 2, 0);
	struct dk_counters c;
	struct dk_packet p;

	(void)state;
	p = pkt(1, 1, 80);
	add(dk, &p);
	p = pkt(2, 1, 80);
	add(dk, &p);
	p = pkt(3, 1, 80);
	assert_int_equal(darknet_add(dk, &p), BSC_ENOSPC);
	p = pkt(1, 2, 80);                       /* known sources still count */
	add(dk, &p);
	darknet_counters(dk, &c);
	assert_int_equal(c.dropped_full, 1);
	assert_int_equal(c.sources, 2);
	assert_int_equal(c.packets, 3);
	darknet_flush(dk);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.rec[0].packets, 2);
	p = pkt(3, 1, 80);                       /* a new window has room again */
	add(dk, &p);
	darknet_destroy(dk);                     /* open window freed, not emitted */
	assert_int_equal(k.n, 2);
	/* Bytes per source are bounded and documented (README). */
	assert_true(darknet_source_bytes(256) < 6 * 1024);
	assert_true(darknet_source_bytes(0) < 2 * 1024);
}

/* ---- hostile packets ---- */

struct tally {
	uint64_t records, packets;
};

/* Every record is well formed; its packets add up to what was accepted. */
static void check_record(const struct dk_record *r, void *arg)
{
	struct tally *t = arg;

	assert_true(r->source.family == AF_INET || r->source.family == AF_INET6);
	assert_true((unsigned)r->cls < DK_CLASS_COUNT);
	assert_true(r->size <= DK_SIZE_SMALL);
	assert_true(r->nports <= DK_RECORD_PORTS);
	assert_true(r->protocol <= DK_PROTO_ICMPV6);
	assert_true((unsigned)r->tool < DK_TOOL_COUNT);
	assert_true(r->packets >= 1);
	assert_true(r->destinations <= r->packets || r->stats.estimated);
	assert_non_null(darknet_class_name(r->cls));
	assert_non_null(darknet_proto_name(r->protocol));
	t->records++;
	t->packets += r->packets;
}

static uint64_t rnd_state = 0x243F6A8885A308D3ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Every field of struct dk_packet as a hostile capture could set it (any
 * protocol number, flags, ICMP type, time, address bytes, unknown families):
 * no crash, no overflow (ASan/UBSan builds), and no packet lost silently:
 * each is refused with an error or counted in exactly one record. */
static void test_agg_hostile_fields(void **state)
{
	struct dk_config c;
	struct darknet *dk;
	struct dk_counters cnt;
	struct tally t = { 0 };
	uint64_t accepted = 0, invalid = 0, full = 0;

	(void)state;
	darknet_config_default(&c);
	c.max_sources = 40;
	c.exact_cap = 16;
	c.window_ns = 1000;
	c.darknet_size = 256;
	c.emit = check_record;
	c.emit_arg = &t;
	assert_int_equal(darknet_create(&dk, &c), 0);
	for (uint32_t i = 0; i < 200000; i++) {
		struct dk_packet p;
		uint64_t w[(sizeof p + 7) / 8];
		static const uint8_t fam[] = { AF_INET, AF_INET6, 0, 255 };
		int rc;

		for (size_t j = 0; j < sizeof w / sizeof w[0]; j++)
			w[j] = rnd();
		memcpy(&p, w, sizeof p);
		p.fragment = rnd() & 1;         /* a bool holds 0 or 1 */
		p.later_fragment = rnd() % 8 == 0;
		p.src.family = fam[rnd() % 16 ? rnd() % 2 : rnd() % sizeof fam];
		p.dst.family = rnd() % 16 ? p.src.family : fam[rnd() % sizeof fam];
		p.src.bytes[0] = (uint8_t)(rnd() % 32); /* 64 sources at most... */
		memset(p.src.bytes + 1, 0, sizeof p.src.bytes - 1);
		if (i % 64)
			p.time_ns = (uint64_t)i * 10;       /* ...mostly in order */
		rc = darknet_add(dk, &p);
		if (rc == 0)
			accepted++;
		else if (rc == BSC_EINVAL)
			invalid++;
		else if (rc == BSC_ENOSPC)
			full++;
		else
			fail_msg("darknet_add returned %d", rc);
		assert_int_equal(rc == BSC_EINVAL,
				 (p.src.family != AF_INET && p.src.family != AF_INET6) ||
					 p.dst.family != p.src.family);
	}
	darknet_counters(dk, &cnt);
	assert_int_equal(cnt.packets, accepted);
	assert_int_equal(cnt.dropped_full, full);
	darknet_flush(dk);
	assert_int_equal(t.packets, accepted);
	assert_true(accepted > 100000);
	assert_true(invalid > 1000);
	assert_true(full > 0);
	assert_true(t.records > 100);
	darknet_destroy(dk);
}

/* exact_cap beyond the 16-bit index is clamped: one source with 70000
 * distinct tuples stays correct past the last exact slot. */
static void test_agg_exact_cap_clamped(void **state)
{
	struct sink k;
	struct darknet *dk = mk(&k, 0, 0, UINT32_MAX);

	(void)state;
	for (uint32_t h = 0; h < 70000; h++) {
		struct dk_packet p = pkt(1, h, 80);

		add(dk, &p);
	}
	darknet_flush(dk);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.rec[0].packets, 70000);
	assert_true(k.rec[0].stats.estimated);
	assert_in_range(k.rec[0].destinations, 59500, 80500);   /* +-15% */
	assert_int_equal(k.rec[0].cls, DK_CLASS_NETWORK_SCAN);
	darknet_destroy(dk);
}

static void test_create_invalid(void **state)
{
	struct dk_config c;
	struct darknet *dk = (struct darknet *)&c;

	(void)state;
	darknet_config_default(&c);
	assert_int_equal(darknet_create(&dk, &c), BSC_EINVAL); /* no emit */
	assert_null(dk);
	c.emit = collect;
	c.window_ns = 0;
	assert_int_equal(darknet_create(&dk, &c), BSC_EINVAL);
	darknet_config_default(&c);
	c.emit = collect;
	c.max_sources = 0;
	assert_int_equal(darknet_create(&dk, &c), BSC_EINVAL);
	darknet_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_fragment),
		cmocka_unit_test(test_rule_backscatter),
		cmocka_unit_test(test_rule_network_scan),
		cmocka_unit_test(test_rule_port_scan),
		cmocka_unit_test(test_rule_one_flow),
		cmocka_unit_test(test_rule_small),
		cmocka_unit_test(test_rule_order),
		cmocka_unit_test(test_scaling),
		cmocka_unit_test(test_service),
		cmocka_unit_test(test_agg_network_scan),
		cmocka_unit_test(test_agg_scaling),
		cmocka_unit_test(test_agg_mirai),
		cmocka_unit_test(test_agg_tcp_flags),
		cmocka_unit_test(test_agg_port_scan_and_others),
		cmocka_unit_test(test_agg_tools),
		cmocka_unit_test(test_agg_fragment_scanner),
		cmocka_unit_test(test_agg_later_fragments),
		cmocka_unit_test(test_agg_later_fragments_sketch),
		cmocka_unit_test(test_agg_many_sources),
		cmocka_unit_test(test_agg_windows),
		cmocka_unit_test(test_agg_ipv6_and_bad),
		cmocka_unit_test(test_agg_mixed_families),
		cmocka_unit_test(test_agg_sketch_capped),
		cmocka_unit_test(test_agg_sketch_capped_exact),
		cmocka_unit_test(test_agg_sketch),
		cmocka_unit_test_teardown(test_agg_nomem, fail_off),
		cmocka_unit_test(test_agg_source_cap),
		cmocka_unit_test(test_agg_batch_sizes),
		cmocka_unit_test(test_agg_flow_after_overflow),
		cmocka_unit_test(test_agg_hostile_fields),
		cmocka_unit_test(test_agg_exact_cap_clamped),
		cmocka_unit_test(test_create_invalid),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
