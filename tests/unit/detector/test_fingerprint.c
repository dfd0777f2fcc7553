/* tests/unit/detector/test_fingerprint.c — scanner fingerprints: every
 * per-packet predicate (positive and negative, tool versions before and after
 * their changes), the run-constant checks and the minimum-probe rule.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "detector/fingerprint.h"

static uint32_t v4(const struct bsc_addr *a)
{
	return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	       (uint32_t)a->bytes[2] << 8 | a->bytes[3];
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

/* A plain SYN from 198.51.100.7 to 203.0.113.0 + @host. */
static struct dk_packet syn(uint32_t host, uint16_t dport)
{
	struct dk_packet p;

	memset(&p, 0, sizeof p);
	set_v4(&p.src, 0xC6336407);
	set_v4(&p.dst, 0xCB007100 + host);
	p.proto = DK_PROTO_TCP;
	p.tcp_flags = DK_TCP_SYN;
	p.ttl = 64;
	p.sport = 40000;
	p.dport = dport;
	p.window = 29200;
	p.mss = 1460;
	p.tcp_opt_len = 20;
	p.ip_id = 0x1234;
	p.ip_len = 60;
	p.seq = 0x5eed0000u + host * 7919u;
	return p;
}

/* ZMap <= 4.0: IP ID 54321, window 65535, TTL 255, no options (v2). */
static struct dk_packet zmap_old(uint32_t host)
{
	struct dk_packet p = syn(host, 80);

	p.ip_id = 54321;
	p.window = 65535;
	p.ttl = 255;
	p.tcp_opt_len = 0;
	p.mss = 0;
	p.ip_len = 40;
	p.seq = 0x9e3779b9u * (host + 1);
	return p;
}

/* ZMap >= 4.1: IP ID = low bits of the validation word, TTL 64. */
static struct dk_packet zmap_new(uint32_t host)
{
	struct dk_packet p = zmap_old(host);

	p.ttl = 64;
	p.ip_id = (uint16_t)(0x7f4a7c15u * (host + 3) >> 7);
	if (p.ip_id == 54321)
		p.ip_id++;
	return p;
}

static struct dk_packet masscan(uint32_t host, bool post_2023_11)
{
	struct dk_packet p = syn(host, 443);

	p.seq = 0x2545F491u * (host + 11);
	p.ip_id = (uint16_t)((v4(&p.dst) ^ p.dport ^ p.seq) & 0xFFFF);
	p.ttl = 255;
	if (post_2023_11) {
		p.window = 1025;
		p.mss = 1460;
		p.tcp_opt_len = 4;
		p.ip_len = 44;
	} else {
		p.window = 1024;
		p.mss = 0;
		p.tcp_opt_len = 0;
		p.ip_len = 40;
	}
	return p;
}

static struct dk_packet mirai(uint32_t host, unsigned i)
{
	struct dk_packet p = syn(host, i % 10 == 0 ? 2323 : 23);

	p.seq = v4(&p.dst);
	p.window = (uint16_t)(0x3c6ef372u * (host + 5) >> 9);
	p.mss = 0;
	p.tcp_opt_len = 0;
	p.ip_len = 40;
	p.sport = 51123;
	return p;
}

/* nmap -sS probe: seq = ((nfo << 16) + nfo) ^ seqmask. */
static struct dk_packet nmap(uint32_t host, uint16_t dport, uint16_t nfo, uint32_t seqmask)
{
	struct dk_packet p = syn(host, dport);

	p.window = 1024;
	p.mss = 1460;
	p.tcp_opt_len = 4;
	p.ip_len = 44;
	p.ttl = 45;
	p.seq = (((uint32_t)nfo << 16) + nfo) ^ seqmask;
	return p;
}

static struct dk_packet unicorn(uint32_t host, uint16_t dport, uint32_t syn_key)
{
	struct dk_packet p = syn(host, dport);

	p.sport = 33001;
	p.window = 4128;
	p.ttl = 255;
	p.mss = 0;
	p.tcp_opt_len = 0;
	p.seq = syn_key ^ (v4(&p.dst) ^ (((uint32_t)p.dport << 16) + p.sport));
	return p;
}

static enum dk_tool feed(struct dk_packet (*gen)(uint32_t), unsigned n, uint32_t min)
{
	struct dk_fp_state st;

	memset(&st, 0, sizeof st);
	for (unsigned i = 0; i < n; i++) {
		struct dk_packet p = gen(i * 13 + 1);

		fingerprint_update(&st, &p);
	}
	return fingerprint_decide(&st, min);
}

static void test_names(void **state)
{
	(void)state;
	assert_null(fingerprint_tool_name(DK_TOOL_NONE));
	assert_string_equal(fingerprint_tool_name(DK_TOOL_ZMAP), "zmap");
	assert_string_equal(fingerprint_tool_name(DK_TOOL_MASSCAN), "masscan");
	assert_string_equal(fingerprint_tool_name(DK_TOOL_MIRAI), "mirai");
	assert_string_equal(fingerprint_tool_name(DK_TOOL_NMAP), "nmap");
	assert_string_equal(fingerprint_tool_name(DK_TOOL_UNICORNSCAN), "unicornscan");
}

static void test_zmap(void **state)
{
	struct dk_packet p = zmap_old(1), q = zmap_new(1), u;

	(void)state;
	assert_true(fingerprint_is_zmap(&p));
	assert_false(fingerprint_is_zmap(&q)); /* >= 4.1: no fixed IP ID */
	assert_int_equal(feed(zmap_old, 3, 3), DK_TOOL_ZMAP);
	assert_int_equal(feed(zmap_new, 50, 3), DK_TOOL_NONE);
	/* ZMap's ICMP/UDP modules carry the same IP ID. */
	u = zmap_old(2);
	u.proto = DK_PROTO_UDP;
	assert_true(fingerprint_is_zmap(&u));
	/* IPv6 has no IP ID. */
	u.dst.family = AF_INET6;
	assert_false(fingerprint_is_zmap(&u));
	/* zmap's seq is a validation value: neither masscan nor mirai. */
	assert_false(fingerprint_is_mirai(&p));
	assert_false(fingerprint_nmap_profile(&p));
	/* A later fragment carries no header to match: the probe (and so the
	 * labeler) counts nothing of it, whatever its IP ID. */
	{
		struct dk_fp_state st;
		struct dk_fp_probe pr;

		u = zmap_old(3);
		u.later_fragment = true;
		u.fragment = true;
		fingerprint_probe(&u, &pr);
		assert_int_equal(pr.flags, 0);
		memset(&st, 0, sizeof st);
		fingerprint_update(&st, &u);
		assert_int_equal(fingerprint_matches(&st, DK_TOOL_ZMAP), 0);
	}
}

static struct dk_packet masscan_pre(uint32_t h) { return masscan(h, false); }
static struct dk_packet masscan_post(uint32_t h) { return masscan(h, true); }

static void test_masscan(void **state)
{
	struct dk_packet pre = masscan(9, false), post = masscan(9, true), bad;

	(void)state;
	assert_true(fingerprint_is_masscan(&pre));
	assert_true(fingerprint_is_masscan(&post));
	assert_int_equal(fingerprint_masscan_variant(&pre), DK_MASSCAN_PRE_2023_11);
	assert_int_equal(fingerprint_masscan_variant(&post), DK_MASSCAN_POST_2023_11);
	/* Window 1025 is not an nmap window; the old template has no MSS. */
	assert_false(fingerprint_nmap_profile(&post));
	assert_false(fingerprint_nmap_profile(&pre));
	/* One bit off in the IP ID. */
	bad = pre;
	bad.ip_id ^= 1;
	assert_false(fingerprint_is_masscan(&bad));
	assert_int_equal(fingerprint_masscan_variant(&bad), DK_MASSCAN_UNKNOWN);
	/* Only the low 16 bits count: a high-bit change of dst^seq that cancels. */
	bad = pre;
	bad.seq ^= 0x00010000u;
	assert_true(fingerprint_is_masscan(&bad));
	/* A SYN-ACK is not a probe. */
	bad = pre;
	bad.tcp_flags = DK_TCP_SYN | DK_TCP_ACK;
	assert_false(fingerprint_is_masscan(&bad));
	/* Right formula, other template: still masscan, variant unknown. */
	bad = post;
	bad.window = 1024;
	assert_true(fingerprint_is_masscan(&bad));
	assert_int_equal(fingerprint_masscan_variant(&bad), DK_MASSCAN_UNKNOWN);
	assert_int_equal(feed(masscan_pre, 5, 3), DK_TOOL_MASSCAN);
	assert_int_equal(feed(masscan_post, 5, 3), DK_TOOL_MASSCAN);
}

static struct dk_packet mirai_gen(uint32_t h) { return mirai(h, h); }

static void test_mirai(void **state)
{
	struct dk_packet p = mirai(77, 1), q;

	(void)state;
	assert_true(fingerprint_is_mirai(&p));
	q = p;
	q.seq ^= 0x80000000u;
	assert_false(fingerprint_is_mirai(&q));
	/* Byte-swapped address is not a match. */
	q.seq = __builtin_bswap32(p.seq);
	assert_false(fingerprint_is_mirai(&q));
	/* Mirai's constant sport makes the unicornscan key constant on port 23
	 * too; the per-packet Mirai match must win the tie. */
	assert_int_equal(feed(mirai_gen, 30, 3), DK_TOOL_MIRAI);
}

static void test_nmap(void **state)
{
	struct dk_fp_state st;
	struct dk_packet p;
	uint16_t key;

	(void)state;
	p = nmap(1, 22, 0x0102, 0xA5A55A5Au);
	assert_true(fingerprint_nmap_profile(&p));
	key = fingerprint_nmap_key(&p);
	for (unsigned w = 1024; w <= 4096; w += 1024) {
		p.window = (uint16_t)w;
		assert_true(fingerprint_nmap_profile(&p));
	}
	/* nmap's windows are 1024, 2048, 3072 and 4096 only */
	for (unsigned i = 0; i < 6; i++) {
		static const uint16_t not_nmap[] = { 0, 512, 1536, 4095, 5120, 8192 };

		p.window = not_nmap[i];
		assert_false(fingerprint_nmap_profile(&p));
	}
	p.window = 1024;
	p.mss = 1440;
	assert_false(fingerprint_nmap_profile(&p));
	p.mss = 1460;
	p.tcp_opt_len = 8; /* another option besides MSS */
	assert_false(fingerprint_nmap_profile(&p));

	/* The run constant is the same for other (pingseq, tryno) values. */
	p = nmap(2, 80, 0x0301, 0xA5A55A5Au);
	assert_int_equal(fingerprint_nmap_key(&p), (uint16_t)(0xA5A5 ^ 0x5A5A));
	assert_int_equal(fingerprint_nmap_key(&p), key);

	/* Two probes are not enough; three with one constant are. */
	memset(&st, 0, sizeof st);
	for (unsigned i = 0; i < 2; i++) {
		p = nmap(i + 1, (uint16_t)(20 + i), (uint16_t)(i + 1), 0xA5A55A5Au);
		fingerprint_update(&st, &p);
	}
	assert_int_equal(fingerprint_matches(&st, DK_TOOL_NMAP), 2);
	assert_int_equal(fingerprint_decide(&st, 3), DK_TOOL_NONE);
	p = nmap(9, 443, 0x0203, 0xA5A55A5Au);
	fingerprint_update(&st, &p);
	assert_int_equal(fingerprint_decide(&st, 3), DK_TOOL_NMAP);

	/* Profile-matching probes whose constant varies (another tool using
	 * nmap's window and options with random seq) are not nmap. */
	memset(&st, 0, sizeof st);
	for (unsigned i = 0; i < 20; i++) {
		p = nmap(i + 1, 80, 0x0101, 0x12345678u * (i + 1));
		fingerprint_update(&st, &p);
	}
	assert_true(fingerprint_matches(&st, DK_TOOL_NMAP) < 3);
	assert_int_equal(fingerprint_decide(&st, 3), DK_TOOL_NONE);
}

static void test_unicornscan(void **state)
{
	struct dk_fp_state st;
	struct dk_packet p, q;

	(void)state;
	p = unicorn(1, 80, 0xC0FFEE11u);
	q = unicorn(200, 8080, 0xC0FFEE11u);
	assert_true(fingerprint_unicorn_profile(&p));
	assert_int_equal(fingerprint_unicorn_key(&p), fingerprint_unicorn_key(&q));
	assert_int_equal(fingerprint_unicorn_key(&p), 0xC0FFEE11u);
	q = unicorn(200, 8080, 0xC0FFEE12u); /* another scan */
	assert_true(fingerprint_unicorn_key(&p) != fingerprint_unicorn_key(&q));

	memset(&st, 0, sizeof st);
	for (unsigned i = 0; i < 4; i++) {
		p = unicorn(i * 3 + 1, (uint16_t)(1000 + i * 17), 0xC0FFEE11u);
		fingerprint_update(&st, &p);
	}
	assert_int_equal(fingerprint_matches(&st, DK_TOOL_UNICORNSCAN), 4);
	assert_int_equal(fingerprint_decide(&st, 3), DK_TOOL_UNICORNSCAN);
	assert_int_equal(fingerprint_decide(&st, 5), DK_TOOL_NONE);

	/* Random sequence numbers (a kernel connect()) never line up. */
	memset(&st, 0, sizeof st);
	for (unsigned i = 0; i < 50; i++) {
		p = syn(i + 1, (uint16_t)(1000 + i));
		p.seq = 0x9E3779B1u * (i + 1) ^ 0x7F4A7C15u;
		fingerprint_update(&st, &p);
	}
	assert_int_equal(fingerprint_decide(&st, 3), DK_TOOL_NONE);
}

/* Each per-packet tool needs the configured number of matching probes. */
static void test_min_probes(void **state)
{
	(void)state;
	assert_int_equal(feed(zmap_old, 2, 3), DK_TOOL_NONE);
	assert_int_equal(feed(zmap_old, 3, 3), DK_TOOL_ZMAP);
	assert_int_equal(feed(masscan_pre, 2, 3), DK_TOOL_NONE);
	assert_int_equal(feed(masscan_pre, 3, 3), DK_TOOL_MASSCAN);
	assert_int_equal(feed(mirai_gen, 2, 3), DK_TOOL_NONE);
	assert_int_equal(feed(mirai_gen, 3, 3), DK_TOOL_MIRAI);
	assert_int_equal(feed(masscan_pre, 4, 5), DK_TOOL_NONE);
	assert_int_equal(feed(masscan_pre, 1, 1), DK_TOOL_MASSCAN);
	/* 0 is treated as 1. */
	assert_int_equal(feed(masscan_pre, 1, 0), DK_TOOL_MASSCAN);
	/* A single lone probe can never satisfy a run constant. */
	assert_int_equal(feed(zmap_new, 1, 1), DK_TOOL_NONE);
}

/* Ordinary kernel SYNs (random IP ID and seq) assert no tool. */
static struct dk_packet kernel_syn(uint32_t h)
{
	struct dk_packet p = syn(h, 443);

	p.ip_id = (uint16_t)(h * 40503u + 17);
	p.seq = 0x85EBCA6Bu * (h + 2) ^ 0xC2B2AE35u;
	return p;
}

static void test_negative(void **state)
{
	(void)state;
	assert_int_equal(feed(kernel_syn, 100, 3), DK_TOOL_NONE);
}

/* The probe a packet should give, from the one-packet predicates. */
static struct dk_fp_probe probe_ref(const struct dk_packet *p)
{
	struct dk_fp_probe r = { 0, 0, 0 };

	if (fingerprint_is_zmap(p))
		r.flags |= DK_FP_ZMAP;
	if (fingerprint_is_masscan(p))
		r.flags |= DK_FP_MASSCAN |
			   (uint8_t)(fingerprint_masscan_variant(p) << DK_FP_VARIANT_SHIFT);
	if (fingerprint_is_mirai(p))
		r.flags |= DK_FP_MIRAI;
	if (fingerprint_nmap_profile(p)) {
		r.flags |= DK_FP_NMAP;
		r.nmap_key = fingerprint_nmap_key(p);
	}
	if (fingerprint_unicorn_profile(p)) {
		r.flags |= DK_FP_UNICORN;
		r.unicorn_key = fingerprint_unicorn_key(p);
	}
	return r;
}

/* The staged form: fingerprint_probe() computes what the predicates say,
 * for every tool's probes, every flag combination and IPv6; applying the
 * probes counts each tool's matches and masscan's variants. */
static void test_probe_apply(void **state)
{
	struct dk_fp_state st;
	struct dk_fp_probe pr, want;
	uint32_t n_zmap = 0, n_masscan = 0, n_mirai = 0, variant[3] = { 0, 0, 0 };

	(void)state;
	memset(&st, 0, sizeof st);
	for (uint32_t h = 0; h < 400; h++) {
		struct dk_packet ps[] = {
			zmap_old(h), zmap_new(h), masscan(h, false), masscan(h, true), mirai(h, h),
			nmap(h, (uint16_t)(h % 1000 + 1), 0x1234, 0), unicorn(h, (uint16_t)h, 0xabcd),
			syn(h, 80),
		};

		ps[7].tcp_flags = (uint8_t)h; /* every flag combination */
		if (h % 7 == 0)
			ps[7].dst.family = AF_INET6;
		for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
			fingerprint_probe(&ps[i], &pr);
			want = probe_ref(&ps[i]);
			assert_int_equal(pr.flags, want.flags);
			assert_int_equal(pr.nmap_key, want.nmap_key);
			assert_int_equal(pr.unicorn_key, want.unicorn_key);
			fingerprint_apply(&st, &pr);
			n_zmap += fingerprint_is_zmap(&ps[i]);
			n_mirai += fingerprint_is_mirai(&ps[i]);
			if (fingerprint_is_masscan(&ps[i])) {
				n_masscan++;
				variant[fingerprint_masscan_variant(&ps[i])]++;
			}
		}
	}
	assert_true(n_zmap > 0 && n_masscan > 0 && n_mirai > 0);
	assert_int_equal(fingerprint_matches(&st, DK_TOOL_ZMAP), n_zmap);
	assert_int_equal(fingerprint_matches(&st, DK_TOOL_MASSCAN), n_masscan);
	assert_int_equal(fingerprint_matches(&st, DK_TOOL_MIRAI), n_mirai);
	for (int v = 0; v < 3; v++)
		assert_int_equal(st.masscan_variant[v], variant[v]);
	assert_true(variant[DK_MASSCAN_PRE_2023_11] > 0 && variant[DK_MASSCAN_POST_2023_11] > 0);
	for (int t = DK_TOOL_NONE + 1; t < DK_TOOL_COUNT; t++)
		assert_true(fingerprint_matches(&st, (enum dk_tool)t) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_zmap),
		cmocka_unit_test(test_masscan),
		cmocka_unit_test(test_mirai),
		cmocka_unit_test(test_nmap),
		cmocka_unit_test(test_unicornscan),
		cmocka_unit_test(test_min_probes),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_probe_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
