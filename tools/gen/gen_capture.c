/* tools/gen/gen_capture.c — backscope-gen: writes a synthetic capture of DNS
 * backscatter queries to an authoritative reverse server (pcap, Ethernet,
 * IPv4/IPv6, UDP) for the ingest benchmarks and tests: many originators in
 * the zones 10.in-addr.arpa and 8.b.d.0.1.0.0.2.ip6.arpa, Zipf-distributed
 * popularity of originators and of queriers, a share of partial names
 * (QNAME minimisation), other qtypes, EDNS, timestamps spread over a span.
 *
 * Single-threaded; deterministic for a given seed.  Prints the ground truth
 * totals (queries per class) on stderr when done. */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/mem.h"
#include "tools/gen/gen_darknet.h"
#include "tools/gen/genutil.h"

/* Zipf(s) over n items: cumulative weights, sampled by binary search. */
struct zipf {
	double *cdf;
	size_t n;
};

static int zipf_init(struct zipf *z, size_t n, double s)
{
	double sum = 0;

	z->n = n;
	z->cdf = mem_alloc(n * sizeof *z->cdf);
	if (!z->cdf)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sum += 1.0 / pow((double)(i + 1), s);
		z->cdf[i] = sum;
	}
	for (size_t i = 0; i < n; i++)
		z->cdf[i] /= sum;
	return 0;
}

static size_t zipf_draw(const struct zipf *z, struct genutil_rng *r)
{
	double u = genutil_rng_unit(r);
	size_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct addr {
	int family; /* 4 or 6 */
	uint8_t b[16];
};

struct opts {
	uint64_t count;
	const char *out;
	uint64_t seed;
	size_t originators, queriers;
	uint64_t start_s, span_s;
	double v6, partial, other_qtype, querier_v6, zipf_o, zipf_q;
	bool responses;
};

struct totals {
	uint64_t queries, ptr, partial, other_qtype, v6_orig, v6_querier, responses;
};

static const uint8_t server4[4] = { 192, 0, 2, 53 };
static const uint8_t server6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53 };

/* Reverse name of @a in wire form, only its first @labels address labels
 * (4 or 32 = full).  Returns the length. */
static size_t revname_wire(const struct addr *a, unsigned labels, uint8_t *out)
{
	size_t n = 0;

	if (a->family == 4) {
		for (unsigned i = 0; i < labels; i++) {
			unsigned v = a->b[labels - 1 - i];
			char tmp[4];
			int l = snprintf(tmp, sizeof tmp, "%u", v);
			out[n++] = (uint8_t)l;
			memcpy(out + n, tmp, (size_t)l);
			n += (size_t)l;
		}
		memcpy(out + n, "\7in-addr\4arpa\0", 14);
		return n + 14;
	}
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < labels; i++) {
		unsigned nib = labels - 1 - i; /* nibble index from the top */
		unsigned v = (a->b[nib / 2] >> (nib % 2 ? 0 : 4)) & 15;
		out[n++] = 1;
		out[n++] = (uint8_t)hex[v];
	}
	memcpy(out + n, "\3ip6\4arpa\0", 10);
	return n + 10;
}

/* One Ethernet frame carrying a DNS message from @src:@sport to @dst:53 (or
 * back, @reply).  Returns its length. */
static size_t frame(uint8_t *f, const struct addr *src, uint16_t sport, bool reply,
		    const uint8_t *dns, size_t dlen)
{
	bool v6 = src->family == 6;
	size_t ip = v6 ? GENUTIL_IPV6_LEN : GENUTIL_IPV4_LEN, ulen = GENUTIL_UDP_LEN + dlen;
	const uint8_t *saddr = src->b, *daddr = v6 ? server6 : server4;
	uint16_t sp = sport, dp = 53;
	uint8_t *h = f + GENUTIL_ETH_LEN, *u = h + ip;

	if (reply) {
		const uint8_t *t = saddr;
		saddr = daddr;
		daddr = t;
		sp = 53;
		dp = sport;
	}
	genutil_eth_write(f, v6, reply);
	if (v6)
		genutil_ipv6_write(h, ulen, 17, 64, saddr, daddr);
	else
		genutil_ipv4_write(h, ulen, 0, 0x4000 /* DF */, 64, 17, saddr, daddr);
	genutil_udp_write(u, sp, dp, ulen);
	memcpy(u + GENUTIL_UDP_LEN, dns, dlen);
	if (v6) { /* the UDP checksum is mandatory over IPv6 */
		uint32_t s = genutil_csum_add(0, h + 8, 32);
		s += (uint32_t)ulen + 17;
		s = genutil_csum_add(s, u, ulen);
		uint16_t c = genutil_csum_fold(s);
		if (c == 0)
			c = 0xffff;
		wire_put_u16(u + 6, c);
	}
	return GENUTIL_ETH_LEN + ip + ulen;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: backscope-gen [-n COUNT] -o FILE [--seed N] [--originators N]\n"
		"                     [--queriers N] [--start EPOCH_S] [--span SECONDS]\n"
		"                     [--v6 FRAC] [--querier-v6 FRAC] [--partial FRAC]\n"
		"                     [--other-qtype FRAC] [--zipf-originators S]\n"
		"                     [--zipf-queriers S] [--responses]\n"
		"Writes COUNT (default 1000000) DNS queries to 192.0.2.53 / 2001:db8::53 port 53\n"
		"as a pcap (Ethernet), nanosecond timestamps spread over SPAN (default 86400 s)\n"
		"from START (default 1767225600 = 2026-01-01T00:00:00Z).  Originators are in\n"
		"10.0.0.0/8 and 2001:db8::/32 (share --v6, default 0.1); queriers in\n"
		"198.18.0.0/15 and 2001:db8:ffff::/48 (share --querier-v6, default 0.1).\n"
		"--partial (default 0.03): QNAME-minimisation names; --other-qtype (default\n"
		"0.02): qtype A for full names.  --responses adds an NXDOMAIN/NOERROR reply\n"
		"after each query.  Totals go to stderr.\n"
		"\n"
		"backscope-gen darknet ...: a darknet capture (backscope-gen darknet --help).\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 'S' },
		{ "originators", required_argument, NULL, 'O' },
		{ "queriers", required_argument, NULL, 'Q' },
		{ "start", required_argument, NULL, 's' },
		{ "span", required_argument, NULL, 'p' },
		{ "v6", required_argument, NULL, '6' },
		{ "querier-v6", required_argument, NULL, 'q' },
		{ "partial", required_argument, NULL, 'P' },
		{ "other-qtype", required_argument, NULL, 'T' },
		{ "zipf-originators", required_argument, NULL, 'z' },
		{ "zipf-queriers", required_argument, NULL, 'Z' },
		{ "responses", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .count = 1000000, .seed = 1, .originators = 200000, .queriers = 50000,
			  .start_s = 1767225600ull, .span_s = 86400, .v6 = 0.1, .partial = 0.03,
			  .other_qtype = 0.02, .querier_v6 = 0.1, .zipf_o = 1.0, .zipf_q = 1.1 };
	struct totals t = { 0 };
	struct genutil_rng r;
	struct zipf zo = { 0 }, zq = { 0 };
	struct addr *origs = NULL, *qs = NULL;
	struct genutil_pcap pw = { 0 };
	int opt, rc = 1;

	if (argc > 1 && strcmp(argv[1], "darknet") == 0)
		return gen_darknet_main(argc - 1, argv + 1);
	while ((opt = getopt_long(argc, argv, "n:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': o.count = strtoull(optarg, NULL, 10); break;
		case 'o': o.out = optarg; break;
		case 'S': o.seed = strtoull(optarg, NULL, 10); break;
		case 'O': o.originators = strtoull(optarg, NULL, 10); break;
		case 'Q': o.queriers = strtoull(optarg, NULL, 10); break;
		case 's': o.start_s = strtoull(optarg, NULL, 10); break;
		case 'p': o.span_s = strtoull(optarg, NULL, 10); break;
		case '6': o.v6 = strtod(optarg, NULL); break;
		case 'q': o.querier_v6 = strtod(optarg, NULL); break;
		case 'P': o.partial = strtod(optarg, NULL); break;
		case 'T': o.other_qtype = strtod(optarg, NULL); break;
		case 'z': o.zipf_o = strtod(optarg, NULL); break;
		case 'Z': o.zipf_q = strtod(optarg, NULL); break;
		case 'r': o.responses = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!o.out || optind != argc || !o.count || !o.originators || !o.queriers || !o.span_s) {
		usage(stderr);
		return 2;
	}
	r.s = o.seed;
	origs = mem_calloc(o.originators, sizeof *origs);
	qs = mem_calloc(o.queriers, sizeof *qs);
	if (!origs || !qs || zipf_init(&zo, o.originators, o.zipf_o) < 0 ||
	    zipf_init(&zq, o.queriers, o.zipf_q) < 0) {
		fprintf(stderr, "backscope-gen: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < o.originators; i++) {
		uint64_t x = genutil_rng_next(&r);
		struct addr *a = &origs[i];
		if (genutil_rng_unit(&r) < o.v6) {
			static const uint8_t p6[4] = { 0x20, 0x01, 0x0d, 0xb8 };
			a->family = 6;
			memcpy(a->b, p6, 4);
			for (unsigned k = 4; k < 16; k++)
				a->b[k] = (uint8_t)(k < 12 ? 0 : x >> (8 * (k - 12)));
			a->b[8] = (uint8_t)(x >> 40);
		} else {
			a->family = 4;
			a->b[0] = 10;
			a->b[1] = (uint8_t)x;
			a->b[2] = (uint8_t)(x >> 8);
			a->b[3] = (uint8_t)(x >> 16);
		}
	}
	for (size_t i = 0; i < o.queriers; i++) {
		struct addr *a = &qs[i];
		if (genutil_rng_unit(&r) < o.querier_v6) {
			static const uint8_t p6[6] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff };
			a->family = 6;
			memcpy(a->b, p6, 6);
			a->b[14] = (uint8_t)(i >> 8);
			a->b[15] = (uint8_t)i;
			a->b[13] = (uint8_t)(i >> 16);
		} else {
			a->family = 4;
			a->b[0] = 198;
			a->b[1] = (uint8_t)(18 + ((i >> 16) & 1));
			a->b[2] = (uint8_t)(i >> 8);
			a->b[3] = (uint8_t)i;
		}
	}
	if (genutil_pcap_open(&pw, o.out) < 0)
		goto out;
	uint64_t t0 = o.start_s * NS_PER_S, step = o.span_s * NS_PER_S / o.count;
	uint8_t dns[512], f[1600];
	for (uint64_t i = 0; i < o.count; i++) {
		const struct addr *orig = &origs[zipf_draw(&zo, &r)];
		const struct addr *q = &qs[zipf_draw(&zq, &r)];
		uint64_t x = genutil_rng_next(&r);
		double u = genutil_rng_unit(&r);
		uint16_t qtype = 12, sport = (uint16_t)(1024 + (x & 0xffff) % 64511);
		unsigned labels = orig->family == 4 ? 4 : 32;
		if (u < o.partial) {
			labels = orig->family == 4 ? 1 + (unsigned)((x >> 20) % 3)
						   : 8 + 4 * (unsigned)((x >> 20) % 5);
			qtype = (x >> 24) & 1 ? 1 : 2; /* A or NS */
			t.partial++;
		} else if (u < o.partial + o.other_qtype) {
			qtype = 1;
			t.other_qtype++;
		} else {
			t.ptr++;
		}
		t.v6_orig += orig->family == 6;
		t.v6_querier += q->family == 6;
		/* header: id, flags (RD half the time), 1 question, OPT 70% */
		bool edns = ((x >> 32) & 1023) < 717;
		size_t n = 0;
		dns[n++] = (uint8_t)(x >> 40);
		dns[n++] = (uint8_t)(x >> 48);
		dns[n++] = (x >> 56) & 1 ? 0x01 : 0x00;
		dns[n++] = 0;
		dns[n++] = 0, dns[n++] = 1, dns[n++] = 0, dns[n++] = 0, dns[n++] = 0, dns[n++] = 0;
		dns[n++] = 0, dns[n++] = edns ? 1 : 0;
		n += revname_wire(orig, labels, dns + n);
		dns[n++] = (uint8_t)(qtype >> 8);
		dns[n++] = (uint8_t)qtype;
		dns[n++] = 0, dns[n++] = 1;
		if (edns) {
			static const uint8_t opt_rr[11] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };
			memcpy(dns + n, opt_rr, 11);
			if ((x >> 58) & 1)
				dns[n + 7] = 0x80; /* DO */
			n += 11;
		}
		uint64_t ts = t0 + i * step + (x % (step ? step : 1));
		genutil_pcap_write(&pw, ts, f, frame(f, q, sport, false, dns, n));
		t.queries++;
		if (o.responses) {
			dns[2] |= 0x84; /* QR, AA */
			dns[3] = (x >> 12) & 1 ? 3 : 0;
			ts += 200000; /* 0.2 ms later */
			genutil_pcap_write(&pw, ts, f, frame(f, q, sport, true, dns, n));
			t.responses++;
		}
	}
	if (genutil_pcap_flush(&pw) < 0)
		goto out;
	fprintf(stderr,
		"backscope-gen: %s: %" PRIu64 " queries (ptr %" PRIu64 ", partial %" PRIu64
		", other qtype %" PRIu64 "; IPv6 originators %" PRIu64 ", IPv6 queriers %" PRIu64
		"), %" PRIu64 " responses\n",
		o.out, t.queries, t.ptr, t.partial, t.other_qtype, t.v6_orig, t.v6_querier,
		t.responses);
	rc = 0;
out:
	genutil_pcap_close(&pw);
	mem_free(zo.cdf);
	mem_free(zq.cdf);
	mem_free(origs);
	mem_free(qs);
	return rc;
}
