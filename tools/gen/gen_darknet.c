/* tools/gen/gen_darknet.c — `backscope-gen darknet`: writes a synthetic capture
 * of what a darknet receives (pcap, Ethernet, IPv4 and some IPv6) for the
 * labeler benchmark: ZMap-like and masscan-like network scans over many
 * destinations, Mirai-like telnet scans, nmap-like port scans, TCP and ICMP
 * backscatter, ICMP sweeps, UDP scans, IP fragments, other protocols and a
 * long tail of small sources, interleaved over the time span.
 *
 * Single-threaded; deterministic for a given seed.  Prints the totals per
 * kind of source on stderr; --truth writes one line per source. */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/mem.h"
#include "tools/gen/gen_darknet.h"
#include "tools/gen/genutil.h"

#define DARK4 0xC6120000u /* 198.18.0.0/16 */
#define FRAME_MAX 256

static const uint8_t dark6[6] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0d }; /* 2001:db8:d::/48 */
static const uint8_t src6[4] = { 0x20, 0x01, 0x0d, 0xb8 }; /* sources: 2001:db8:5::/48 */

enum kind {
	K_ZMAP = 0,
	K_MASSCAN,
	K_MIRAI,
	K_PORTSCAN,
	K_BACKSCATTER,
	K_ICMP_SWEEP,
	K_ICMP_BACK,
	K_FRAG,
	K_UDPSCAN,
	K_NOISE,
	K_OTHER,
	K_V6SCAN,
	K_V6NOISE,
	K_COUNT,
};

struct kind_def {
	const char *name;
	double share; /* of the packets */
	double mean;  /* packets per source */
	bool v6;
};

/* The mix: shares of the packets and mean packets per source (at 10 M
 * packets: ~30 ZMap-like and ~20 masscan-like scanners, thousands of Mirai
 * bots and backscatter victims, ~190 000 sources in all). */
static const struct kind_def kinds[K_COUNT] = {
	[K_ZMAP] = { "zmap-like", 0.30, 100000, false },
	[K_MASSCAN] = { "masscan-like", 0.12, 60000, false },
	[K_MIRAI] = { "mirai-like", 0.08, 200, false },
	[K_PORTSCAN] = { "port-scan", 0.07, 1500, false },
	[K_BACKSCATTER] = { "tcp-backscatter", 0.17, 500, false },
	[K_ICMP_SWEEP] = { "icmp-sweep", 0.04, 2000, false },
	[K_ICMP_BACK] = { "icmp-backscatter", 0.04, 100, false },
	[K_FRAG] = { "fragments", 0.03, 300, false },
	[K_UDPSCAN] = { "udp-scan", 0.05, 5000, false },
	[K_NOISE] = { "small", 0.04, 2.5, false },
	[K_OTHER] = { "other-proto", 0.02, 50, false },
	[K_V6SCAN] = { "v6-scan", 0.025, 2000, true },
	[K_V6NOISE] = { "v6-small", 0.005, 3, true },
};

struct actor {
	uint32_t left;   /* packets still to send */
	uint32_t sent;
	uint32_t total;
	uint32_t src4;   /* IPv4 source; IPv6: the interface identifier's low half */
	uint32_t key;    /* per-source constant (nmap run key, ICMP id, port walk offset) */
	uint32_t dst[3]; /* fixed destinations (port scans, fragments, other protocols) */
	uint16_t port;   /* the main port */
	uint16_t sport;
	uint8_t kind;
	uint8_t variant; /* kind-specific */
	uint8_t ttl;
	uint8_t ndst;
};

/* One packet before framing. */
struct pk {
	bool v6;
	uint8_t src[16], dst[16];
	uint8_t proto;   /* IP protocol number */
	uint16_t ip_id;
	uint16_t frag;   /* IPv4 flags and fragment offset */
	uint8_t ttl;
	bool v6frag;     /* add an IPv6 fragment header */
	uint16_t v6off;  /* its offset field (offset in 8-byte units << 3 | M) */
	uint8_t l4[96];
	size_t l4len;
};

/* A public-looking IPv4 source for actor @i (a bijection of the index, moved
 * off reserved ranges and the darknet). */
static uint32_t source4(uint64_t i, uint64_t seed)
{
	uint32_t x = (uint32_t)(i * 2654435761u + (uint32_t)(seed * 0x9e3779b9u));

	for (int k = 0; k < 8; k++) {
		uint8_t a = (uint8_t)(x >> 24), b = (uint8_t)(x >> 16);
		if (a != 0 && a != 10 && a != 127 && a < 224 && !(a == 198 && (b & 0xfe) == 18) &&
		    !(a == 192 && b == 168) && !(a == 172 && (b & 0xf0) == 16))
			break;
		x = x * 2654435761u + 0x3c6ef372u;
	}
	return x;
}

static void set_src(const struct actor *a, struct pk *k)
{
	if (k->v6) {
		memset(k->src, 0, 16);
		memcpy(k->src, src6, 4);
		k->src[4] = 0;
		k->src[5] = 5;
		wire_put_u32(k->src + 8, a->key);
		wire_put_u32(k->src + 12, a->src4);
	} else {
		wire_put_u32(k->src, a->src4);
	}
}

static void dst4(struct pk *k, uint32_t d)
{
	wire_put_u32(k->dst, d);
}

static uint32_t rand_dst4(struct genutil_rng *r)
{
	return DARK4 | genutil_rng_below(r, 65536);
}

static void rand_dst6(struct pk *k, struct genutil_rng *r)
{
	uint64_t x = genutil_rng_next(r);

	memcpy(k->dst, dark6, 6);
	k->dst[6] = 0;
	k->dst[7] = (uint8_t)(x & 3); /* four subnets */
	memset(k->dst + 8, 0, 8);
	if ((x >> 8) & 1) {
		/* low addresses: ::1, ::2, ... */
		wire_put_u32(k->dst + 12, (uint32_t)(x >> 16) & 0xffff);
	} else {
		wire_put_u32(k->dst + 8, (uint32_t)(x >> 24));
		wire_put_u32(k->dst + 12, (uint32_t)genutil_rng_next(r));
	}
}

/* TCP header (plus MSS when @mss) into k->l4. */
static void tcp(struct pk *k, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		uint8_t flags, uint16_t win, uint16_t mss)
{
	uint8_t *t = k->l4;
	size_t len = mss ? 24 : 20;

	memset(t, 0, len);
	wire_put_u16(t, sport);
	wire_put_u16(t + 2, dport);
	wire_put_u32(t + 4, seq);
	wire_put_u32(t + 8, ack);
	t[12] = (uint8_t)((len / 4) << 4);
	t[13] = flags;
	wire_put_u16(t + 14, win);
	if (mss) {
		t[20] = 2;
		t[21] = 4;
		wire_put_u16(t + 22, mss);
	}
	k->proto = 6;
	k->l4len = len;
}

static void udp(struct pk *k, uint16_t sport, uint16_t dport, size_t payload, struct genutil_rng *r)
{
	uint8_t *u = k->l4;

	genutil_udp_write(u, sport, dport, GENUTIL_UDP_LEN + payload);
	for (size_t i = 0; i < payload; i++)
		u[8 + i] = (uint8_t)genutil_rng_next(r);
	k->proto = 17;
	k->l4len = 8 + payload;
}

static void icmp_finish(struct pk *k)
{
	k->l4[2] = k->l4[3] = 0;
	wire_put_u16(k->l4 + 2, genutil_csum(k->l4, k->l4len));
}

static void icmp_echo(struct pk *k, uint8_t type, uint16_t id, uint16_t seq)
{
	uint8_t *m = k->l4;

	memset(m, 0, 16);
	m[0] = type;
	wire_put_u16(m + 4, id);
	wire_put_u16(m + 6, seq);
	k->l4len = 16;
	k->proto = k->v6 ? 58 : 1;
	icmp_finish(k);
}

/* ICMP error about a TCP probe the darknet address @from supposedly sent. */
static void icmp_error(struct pk *k, uint8_t type, uint8_t code, uint32_t from, uint32_t to,
		       struct genutil_rng *r)
{
	uint8_t *m = k->l4, *ih = m + 8;

	memset(m, 0, 36);
	m[0] = type;
	m[1] = code;
	ih[0] = 0x45;
	wire_put_u16(ih + 2, 40);
	wire_put_u16(ih + 4, (uint32_t)genutil_rng_next(r));
	ih[8] = 1 + (uint8_t)genutil_rng_below(r, 60);
	ih[9] = 6;
	wire_put_u32(ih + 12, from);
	wire_put_u32(ih + 16, to);
	wire_put_u16(ih + 20, 1024 + genutil_rng_below(r, 64000));
	wire_put_u16(ih + 22, 80);
	wire_put_u32(ih + 24, (uint32_t)genutil_rng_next(r));
	k->l4len = 36;
	k->proto = 1;
	icmp_finish(k);
}

static const uint16_t zmap_ports[] = { 80, 443, 22, 23, 8080, 3389, 445, 5900, 6379, 21, 25, 53 };
static const uint16_t masscan_ports[] = { 80, 443, 8080, 8443, 22, 3389, 5555, 7547, 8000, 81 };
static const uint16_t udp_ports[] = { 53, 123, 161, 1900, 5060, 11211, 137, 389, 500, 19 };
static const uint16_t svc_ports[] = { 80, 443, 22, 25, 53, 8080, 3306, 6667 };
static const uint16_t noise_ports[] = { 23, 22, 80, 445, 3389, 8080, 1433, 5555, 81, 2323 };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The next packet of @a into @k. */
static void gen_packet(struct actor *a, struct genutil_rng *r, struct pk *k)
{
	/* drawn first, in this order: arguments are evaluated in no set order */
	uint16_t eph = (uint16_t)(1024 + genutil_rng_below(r, 64000)); /* an ephemeral port */
	uint16_t zport = (uint16_t)(32768 + genutil_rng_below(r, 28232));
	uint32_t rseq = (uint32_t)genutil_rng_next(r), rack = (uint32_t)genutil_rng_next(r);
	uint32_t d, seq;
	uint16_t dport;

	memset(k, 0, offsetof(struct pk, l4));
	k->l4len = 0;
	k->v6 = kinds[a->kind].v6;
	k->ttl = a->ttl;
	k->ip_id = (uint16_t)genutil_rng_next(r);
	set_src(a, k);
	switch (a->kind) {
	case K_ZMAP: /* variant 1: ZMap <= 4.0 (IP ID 54321) */
		d = rand_dst4(r);
		dst4(k, d);
		if (a->variant)
			k->ip_id = 54321;
		tcp(k, zport, a->port, rseq, 0, 0x02, 65535, 1460);
		break;
	case K_MASSCAN: /* variant 0: before 2023-11, 1: after */
		d = rand_dst4(r);
		dst4(k, d);
		dport = a->port;
		if (a->ndst)
			dport = masscan_ports[(a->key + genutil_rng_below(r, a->ndst)) %
					      NELEM(masscan_ports)];
		seq = (uint32_t)genutil_rng_next(r);
		k->ip_id = (uint16_t)((d ^ dport ^ seq) & 0xffff);
		tcp(k, a->sport, dport, seq, 0, 0x02, a->variant ? 1025 : 1024,
		    a->variant ? 1460 : 0);
		break;
	case K_MIRAI:
		d = rand_dst4(r);
		dst4(k, d);
		dport = genutil_rng_below(r, 10) ? 23 : 2323;
		tcp(k, eph, dport, d, 0, 0x02, (uint16_t)(1024 + genutil_rng_below(r, 60000)), 0);
		break;
	case K_PORTSCAN: /* variant 1: nmap -sS profile; 0: plain SYN scanner */
		dst4(k, a->dst[a->sent % a->ndst]);
		dport = (uint16_t)(1 + (a->key + (a->sent / a->ndst) * 40503u) % 10000u);
		if (a->variant) {
			uint32_t hi = (uint32_t)genutil_rng_next(r) & 0xffff;
			tcp(k, a->sport, dport, hi << 16 | ((hi ^ a->key) & 0xffff), 0, 0x02,
			    (uint16_t)(1024 * (1 + (a->key & 3))), 1460);
		} else {
			tcp(k, eph, dport, rseq, 0, 0x02, 65535, 1460);
		}
		break;
	case K_BACKSCATTER: {
		uint32_t u = genutil_rng_below(r, 10);
		uint8_t flags = u < 6 ? 0x12 : u < 9 ? 0x14 : 0x04;
		dst4(k, rand_dst4(r));
		tcp(k, a->port, eph, rseq, flags & 0x10 ? rack : 0, flags,
		    flags == 0x12 ? 29200 : 0, flags == 0x12 ? 1460 : 0);
		break;
	}
	case K_ICMP_SWEEP:
		dst4(k, rand_dst4(r));
		icmp_echo(k, 8, (uint16_t)a->key, (uint16_t)a->sent);
		break;
	case K_ICMP_BACK: {
		uint32_t u = genutil_rng_below(r, 10), to = (uint32_t)genutil_rng_next(r);
		d = rand_dst4(r);
		dst4(k, d);
		if (a->variant == 0 || u < 2)
			icmp_echo(k, 0, (uint16_t)genutil_rng_next(r), (uint16_t)a->sent);
		else if (a->variant == 1)
			icmp_error(k, 3, u < 6 ? 1 : 3, d, to, r);
		else
			icmp_error(k, 11, 0, d, to, r);
		break;
	}
	case K_FRAG: { /* a 72-byte UDP datagram in two fragments, both sent */
		uint32_t id = a->key + a->sent / 2;
		d = a->dst[(a->sent / 2) % a->ndst];
		dst4(k, d);
		k->ip_id = (uint16_t)id;
		k->proto = 17;
		if (a->sent % 2 == 0) {
			udp(k, eph, a->port, 64, r);
			wire_put_u16(k->l4 + 4, 72);
			k->l4len = 40; /* UDP header and 32 bytes; 32 more follow */
			k->frag = 0x2000; /* MF */
		} else {
			for (size_t i = 0; i < 32; i++)
				k->l4[i] = (uint8_t)genutil_rng_next(r);
			k->l4len = 32;
			k->frag = 5; /* offset 40 bytes, last */
		}
		break;
	}
	case K_UDPSCAN:
		dst4(k, rand_dst4(r));
		udp(k, a->sport, a->port, 8 + genutil_rng_below(r, 24), r);
		break;
	case K_NOISE:
		d = rand_dst4(r);
		dst4(k, d);
		if (a->variant == 0)
			tcp(k, eph, noise_ports[(a->key + a->sent) % NELEM(noise_ports)], rseq, 0,
			    0x02, 64240, 1460);
		else if (a->variant == 1)
			udp(k, eph,
			    udp_ports[(a->key + a->sent) % NELEM(udp_ports)], 16, r);
		else
			icmp_echo(k, 8, (uint16_t)a->key, (uint16_t)a->sent);
		break;
	case K_OTHER: /* GRE (variant 0) or ESP */
		dst4(k, a->dst[a->sent % a->ndst]);
		memset(k->l4, 0, 24);
		if (a->variant == 0) {
			wire_put_u16(k->l4 + 2, 0x0800);
			k->proto = 47;
		} else {
			wire_put_u32(k->l4, a->key);
			wire_put_u32(k->l4 + 4, a->sent);
			k->proto = 50;
		}
		k->l4len = 24;
		break;
	case K_V6SCAN: /* variant 0: SYN scan, 1: ICMPv6 echo sweep, 2: fragments */
	case K_V6NOISE:
		rand_dst6(k, r);
		if (a->variant == 0) {
			tcp(k, zport, a->port, rseq, 0, 0x02, 65535, 1440);
		} else if (a->variant == 1) {
			icmp_echo(k, 128, (uint16_t)a->key, (uint16_t)a->sent);
		} else {
			k->v6frag = true;
			if (a->sent % 2 == 0) {
				udp(k, a->sport, a->port, 24, r);
				wire_put_u16(k->l4 + 4, 64);
				k->v6off = 1; /* M */
			} else {
				memset(k->l4, 0, 32);
				k->l4len = 32;
				k->proto = 17;
				k->v6off = 4 << 3;
			}
		}
		break;
	default:
		break;
	}
	a->sent++;
	a->left--;
}

/* Frame @k (Ethernet) into @f; returns the length. */
static size_t frame(uint8_t *f, const struct pk *k)
{
	uint8_t *h = f + GENUTIL_ETH_LEN;
	size_t ip;

	genutil_eth_write(f, k->v6, false);
	if (k->v6) {
		size_t ext = k->v6frag ? 8 : 0;
		genutil_ipv6_write(h, ext + k->l4len, k->v6frag ? 44 : k->proto, k->ttl, k->src,
				   k->dst);
		ip = GENUTIL_IPV6_LEN;
		if (k->v6frag) {
			uint8_t *x = h + GENUTIL_IPV6_LEN;
			x[0] = k->proto;
			x[1] = 0;
			wire_put_u16(x + 2, k->v6off);
			wire_put_u32(x + 4, wire_get_u32(k->src + 12) ^ k->ip_id);
			ip += 8;
		}
	} else {
		genutil_ipv4_write(h, k->l4len, k->ip_id, k->frag, k->ttl, k->proto, k->src,
				   k->dst);
		ip = GENUTIL_IPV4_LEN;
	}
	memcpy(h + ip, k->l4, k->l4len);
	return GENUTIL_ETH_LEN + ip + k->l4len;
}

/* Set up actor @a of @kind (the @i-th source overall). */
static void actor_init(struct actor *a, enum kind kind, uint64_t i, uint64_t seed,
		       struct genutil_rng *r)
{
	uint64_t x = genutil_rng_next(r);

	memset(a, 0, sizeof *a);
	a->kind = (uint8_t)kind;
	a->src4 = source4(i, seed);
	a->key = (uint32_t)(x >> 32);
	a->ttl = (uint8_t)((x & 1 ? 64 : x & 2 ? 128 : 255) - (x >> 8) % 24);
	a->sport = (uint16_t)(1024 + (x >> 16) % 64000);
	a->ndst = 1;
	for (int k = 0; k < 3; k++)
		a->dst[k] = rand_dst4(r);
	switch (kind) {
	case K_ZMAP:
		a->port = zmap_ports[i % NELEM(zmap_ports)];
		a->variant = (x >> 40) % 3 != 0; /* two in three before ZMap 4.1 */
		a->ttl = (uint8_t)(255 - (x >> 8) % 24);
		break;
	case K_MASSCAN:
		a->variant = (x >> 40) & 1;
		a->port = masscan_ports[i % NELEM(masscan_ports)];
		a->ndst = (x >> 41) & 1 ? (uint8_t)(2 + (x >> 42) % 4) : 0; /* 0: one port */
		a->ttl = (uint8_t)(255 - (x >> 8) % 24);
		break;
	case K_PORTSCAN:
		a->variant = (x >> 40) % 10 < 7;
		a->ndst = (uint8_t)(1 + (x >> 44) % 3);
		a->key = (uint32_t)(x >> 32) & 0xffff;
		break;
	case K_BACKSCATTER:
		a->port = svc_ports[(x >> 40) % NELEM(svc_ports)];
		break;
	case K_ICMP_BACK:
		a->variant = (uint8_t)((x >> 40) % 3);
		break;
	case K_FRAG:
		a->port = (x >> 40) & 1 ? 53 : 123;
		a->ndst = (uint8_t)(1 + (x >> 41) % 2);
		break;
	case K_UDPSCAN:
		a->port = udp_ports[i % NELEM(udp_ports)];
		break;
	case K_NOISE:
		a->variant = (uint8_t)((x >> 40) % 10 < 5 ? 0 : (x >> 40) % 10 < 8 ? 1 : 2);
		break;
	case K_OTHER:
		a->variant = (x >> 40) & 1;
		a->ndst = (uint8_t)(1 + (x >> 41) % 3);
		break;
	case K_V6SCAN:
	case K_V6NOISE:
		a->variant = (uint8_t)((x >> 40) % 10 < 6 ? 0 : (x >> 40) % 10 < 9 ? 1 : 2);
		a->port = (x >> 44) & 1 ? 22 : 443;
		break;
	default:
		break;
	}
}

/* Relative packets of one source of @kind (scaled to the kind's share). */
static double actor_weight(enum kind kind, struct genutil_rng *r)
{
	switch (kind) {
	case K_NOISE:
		return 1 + genutil_rng_below(r, 4);
	case K_V6NOISE:
		return 1 + genutil_rng_below(r, 5);
	case K_BACKSCATTER:
	case K_ICMP_BACK:
	case K_MIRAI: /* heavy tail: exponential */
		return -log(1.0 - genutil_rng_unit(r) * 0.999999);
	default:
		return 0.25 + 1.5 * genutil_rng_unit(r);
	}
}

struct opts {
	uint64_t count;
	const char *out;
	const char *truth;
	uint64_t seed;
	uint64_t start_s, span_s;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: backscope-gen darknet [-n COUNT] -o FILE [--seed N] [--start EPOCH_S]\n"
		"                             [--span SECONDS] [--truth FILE]\n"
		"Writes COUNT (default 10000000) packets a darknet receives as a pcap\n"
		"(Ethernet, nanosecond timestamps spread over SPAN, default 3600 s, from START,\n"
		"default 1767225600 = 2026-01-01T00:00:00Z).  Destinations: 198.18.0.0/16 and\n"
		"2001:db8:d::/48.  Sources: ZMap-like and masscan-like network scans, Mirai-like\n"
		"telnet scans, nmap-like port scans, TCP and ICMP backscatter, ICMP sweeps, UDP\n"
		"scans, IP fragments, GRE/ESP, IPv6 scans and a long tail of 1-5 packet\n"
		"sources.  Totals per kind go to stderr; --truth FILE writes one line per\n"
		"source: address, kind, packets.\n");
}

static int write_truth(const char *path, const struct actor *acts, size_t n, uint64_t seed)
{
	FILE *f = fopen(path, "w");
	char buf[INET6_ADDRSTRLEN];

	if (!f) {
		fprintf(stderr, "backscope-gen: %s: cannot write\n", path);
		return -1;
	}
	(void)seed;
	for (size_t i = 0; i < n; i++) {
		struct pk k;
		k.v6 = kinds[acts[i].kind].v6;
		set_src(&acts[i], &k);
		inet_ntop(k.v6 ? AF_INET6 : AF_INET, k.src, buf, sizeof buf);
		fprintf(f, "%s %s %" PRIu32 "\n", buf, kinds[acts[i].kind].name, acts[i].total);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "backscope-gen: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

int gen_darknet_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 'S' },
		{ "start", required_argument, NULL, 's' },
		{ "span", required_argument, NULL, 'p' },
		{ "truth", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .count = 10000000, .seed = 1, .start_s = 1767225600ull, .span_s = 3600 };
	uint64_t per_kind[K_COUNT] = { 0 }, src_kind[K_COUNT] = { 0 };
	struct actor *acts = NULL;
	uint32_t *sched = NULL;
	double *w = NULL;
	size_t nact = 0, first[K_COUNT + 1];
	struct genutil_pcap pw = { 0 };
	struct genutil_rng r;
	int opt, rc = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "n:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': o.count = strtoull(optarg, NULL, 10); break;
		case 'o': o.out = optarg; break;
		case 'S': o.seed = strtoull(optarg, NULL, 10); break;
		case 's': o.start_s = strtoull(optarg, NULL, 10); break;
		case 'p': o.span_s = strtoull(optarg, NULL, 10); break;
		case 't': o.truth = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!o.out || optind != argc || !o.count || o.count > UINT32_MAX || !o.span_s) {
		usage(stderr);
		return 2;
	}
	r.s = o.seed;
	/* sources per kind */
	for (int k = 0; k < K_COUNT; k++) {
		double n = kinds[k].share * (double)o.count / kinds[k].mean;
		first[k] = nact;
		nact += n < 1 ? 1 : (size_t)llround(n);
	}
	first[K_COUNT] = nact;
	acts = mem_calloc(nact, sizeof *acts);
	w = mem_calloc(nact, sizeof *w);
	sched = mem_alloc(o.count * sizeof *sched);
	if (!acts || !w || !sched) {
		fprintf(stderr, "backscope-gen: out of memory\n");
		goto out;
	}
	/* packets per source: the kind's share split by weight */
	uint64_t total = 0;
	for (int k = 0; k < K_COUNT; k++) {
		double sum = 0, target = kinds[k].share * (double)o.count;
		for (size_t i = first[k]; i < first[k + 1]; i++) {
			actor_init(&acts[i], (enum kind)k, i, o.seed, &r);
			w[i] = actor_weight((enum kind)k, &r);
			sum += w[i];
		}
		for (size_t i = first[k]; i < first[k + 1]; i++) {
			double c = floor(w[i] * target / sum + 0.5);
			acts[i].left = c < 1 ? 1 : (uint32_t)c;
			total += acts[i].left;
		}
	}
	/* the rounding difference goes to (or comes from) the largest scanners */
	for (size_t i = 0; total != o.count && i < nact; i++) {
		if (total < o.count) {
			acts[i].left += (uint32_t)(o.count - total);
			total = o.count;
		} else {
			uint64_t take = total - o.count;
			if (take > acts[i].left - 1)
				take = acts[i].left - 1;
			acts[i].left -= (uint32_t)take;
			total -= take;
		}
	}
	/* the schedule: every packet of every source, shuffled */
	size_t n = 0;
	for (size_t i = 0; i < nact; i++) {
		acts[i].total = acts[i].left;
		per_kind[acts[i].kind] += acts[i].left;
		src_kind[acts[i].kind]++;
		for (uint32_t j = 0; j < acts[i].left && n < o.count; j++)
			sched[n++] = (uint32_t)i;
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(genutil_rng_next(&r) % i);
		uint32_t t = sched[i - 1];
		sched[i - 1] = sched[j];
		sched[j] = t;
	}
	if (genutil_pcap_open(&pw, o.out) < 0)
		goto out;
	uint64_t t0 = o.start_s * NS_PER_S, step = o.span_s * NS_PER_S / n;
	uint8_t f[FRAME_MAX];
	for (size_t i = 0; i < n; i++) {
		struct actor *a = &acts[sched[i]];
		struct pk k;
		uint64_t ts = t0 + i * step + (step > 1 ? genutil_rng_next(&r) % step : 0);

		gen_packet(a, &r, &k);
		genutil_pcap_write(&pw, ts, f, frame(f, &k));
	}
	if (genutil_pcap_flush(&pw) < 0)
		goto out;
	if (o.truth && write_truth(o.truth, acts, nact, o.seed) < 0)
		goto out;
	fprintf(stderr, "backscope-gen: %s: %zu packets from %zu sources\n", o.out, n, nact);
	for (int k = 0; k < K_COUNT; k++)
		fprintf(stderr, "  %-17s %8" PRIu64 " sources %10" PRIu64 " packets\n",
			kinds[k].name, src_kind[k], per_kind[k]);
	rc = 0;
out:
	genutil_pcap_close(&pw);
	mem_free(acts);
	mem_free(w);
	mem_free(sched);
	return rc;
}
