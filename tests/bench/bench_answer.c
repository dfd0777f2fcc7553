/* tests/bench/bench_answer.c — micro-benchmark of the answer builder: every
 * query of a dnsperf-style file ("qname qtype" per line, answered in file
 * order) against the given zones, one by one (answer_build()) or in batches
 * of 64 through the passes of a UDP worker (answer_prepare(),
 * answer_prefetch(), answer_build_prepared()).
 *
 *   bench_answer [-e] [-n ROUNDS] [-m single|batch] QUERYFILE ZONEFILE...
 *     -e  every query carries an OPT (payload 1232, DO clear)
 *
 * Prints the answers built and the wall-clock ns per answer (noisy on a
 * shared machine).  Instruction counts are repeatable: run it under
 *   valgrind --tool=callgrind --toggle-collect=bench_single (or bench_batch)
 * and divide the instructions collected by the answers printed.
 *
 * Single-threaded command-line program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "authd/answer.h"
#include "authd/zone.h"
#include "common/log.h"
#include "common/mem.h"

#define BENCH_BATCH 64
#define BENCH_MAX_ZONES 16
#define BENCH_QMAX 600 /* bytes kept per query */

struct bench {
	const struct zone_table *zt;
	struct answer_conf conf;
	uint8_t *blob;  /* the queries, BENCH_QMAX bytes apart */
	size_t *qlen;
	size_t nq;
	uint8_t *tx;    /* BENCH_BATCH answers, 64-byte aligned */
};

static int qtype_num(const char *t)
{
	static const struct {
		const char *name;
		int type;
	} map[] = {
		{ "A", 1 },    { "NS", 2 },   { "CNAME", 5 }, { "SOA", 6 },  { "PTR", 12 },
		{ "MX", 15 },  { "TXT", 16 }, { "AAAA", 28 }, { "SRV", 33 }, { "DS", 43 },
		{ "ANY", 255 },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		if (strcasecmp(t, map[i].name) == 0)
			return map[i].type;
	}
	if (strncasecmp(t, "TYPE", 4) == 0)
		return atoi(t + 4);
	return -1;
}

/* Text name to wire; returns the length or -1. */
static int name_to_wire(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	if (strcmp(s, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		if (l == 0 || l > 63 || n + l + 2 > max)
			return -1;
		out[n++] = (uint8_t)l;
		memcpy(out + n, s, l);
		n += l;
		s += l;
		if (*s == '.')
			s++;
	}
	out[n++] = 0;
	return (int)n;
}

static int bench_load_queries(struct bench *b, const char *path, bool edns)
{
	static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0 };
	size_t cap = 1024;
	int rc = 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "bench_answer: cannot open %s\n", path);
		return -1;
	}
	b->blob = mem_alloc(cap * BENCH_QMAX);
	b->qlen = mem_alloc(cap * sizeof *b->qlen);
	if (!b->blob || !b->qlen) {
		rc = -1;
		goto out;
	}
	char line[1024], name[512], type[64];
	unsigned long ln = 0;
	while (fgets(line, sizeof line, f)) {
		ln++;
		if (sscanf(line, "%511s %63s", name, type) != 2)
			continue;
		int qt = qtype_num(type);
		if (qt < 0) {
			fprintf(stderr, "bench_answer: %s:%lu: unknown type %s\n", path, ln, type);
			continue;
		}
		if (b->nq == cap) {
			uint8_t *nb = mem_realloc(b->blob, 2 * cap * BENCH_QMAX);
			if (!nb) {
				rc = -1;
				goto out;
			}
			b->blob = nb;
			size_t *nl = mem_realloc(b->qlen, 2 * cap * sizeof *b->qlen);
			if (!nl) {
				rc = -1;
				goto out;
			}
			b->qlen = nl;
			cap *= 2;
		}
		uint8_t *q = b->blob + b->nq * BENCH_QMAX;
		memset(q, 0, 12);
		q[0] = (uint8_t)(b->nq >> 8);
		q[1] = (uint8_t)b->nq;
		q[2] = 0x01; /* RD, as dnsperf sends */
		q[5] = 1;
		int nl = name_to_wire(name, q + 12, BENCH_QMAX - 12 - 4 - sizeof opt);
		if (nl < 0) {
			fprintf(stderr, "bench_answer: %s:%lu: bad name %s\n", path, ln, name);
			continue;
		}
		size_t len = 12 + (size_t)nl;
		q[len++] = (uint8_t)(qt >> 8);
		q[len++] = (uint8_t)qt;
		q[len++] = 0;
		q[len++] = 1;
		if (edns) {
			memcpy(q + len, opt, sizeof opt);
			len += sizeof opt;
			q[11] = 1;
		}
		b->qlen[b->nq++] = len;
	}
out:
	fclose(f);
	return rc;
}

/* Returns a checksum of what was built, so that nothing is optimised away. */
__attribute__((noinline)) static size_t bench_single(const struct bench *b)
{
	size_t sum = 0;
	struct answer_info info;
	for (size_t i = 0; i < b->nq; i++) {
		size_t n = answer_build(b->zt, &b->conf, ANSWER_UDP, b->blob + i * BENCH_QMAX,
					b->qlen[i], b->tx, ANSWER_BUF_MIN, &info);
		sum += n + info.in_zone;
	}
	return sum;
}

__attribute__((noinline)) static size_t bench_batch(const struct bench *b)
{
	static struct answer_prep prep[BENCH_BATCH];
	size_t sum = 0;
	for (size_t first = 0; first < b->nq; first += BENCH_BATCH) {
		size_t n = b->nq - first < BENCH_BATCH ? b->nq - first : BENCH_BATCH;
		const uint8_t *q = b->blob + first * BENCH_QMAX;
		const size_t *ql = b->qlen + first;
		for (size_t i = 0; i < n; i++)
			answer_prepare(b->zt, q + i * BENCH_QMAX, ql[i], &prep[i]);
		for (size_t i = 0; i < n; i++)
			answer_prefetch(b->zt, &prep[i]);
		size_t off = 0;
		for (size_t i = 0; i < n; i++) {
			struct answer_info info;
			size_t len = answer_build_prepared(b->zt, &b->conf, ANSWER_UDP,
							   q + i * BENCH_QMAX, ql[i], &prep[i],
							   b->tx + off, ANSWER_BUF_MIN, &info);
			off += (len + 63) & ~(size_t)63;
			sum += len + info.in_zone;
		}
	}
	return sum;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_answer [-e] [-n ROUNDS] [-m single|batch] QUERYFILE "
			"ZONEFILE...\n");
}

int main(int argc, char **argv)
{
	struct bench b = { .conf = { .udp_max = 1232 } };
	struct zone_source src[BENCH_MAX_ZONES];
	struct zone_table *zt = NULL;
	const char *mode = "single";
	bool edns = false;
	long rounds = 1;
	int c, rc = 1;

	while ((c = getopt(argc, argv, "en:m:")) != -1) {
		switch (c) {
		case 'e':
			edns = true;
			break;
		case 'n':
			rounds = atol(optarg);
			break;
		case 'm':
			mode = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	size_t nz = argc - optind > 1 ? (size_t)(argc - optind - 1) : 0;
	if (nz == 0 || nz > BENCH_MAX_ZONES || rounds < 1 ||
	    (strcmp(mode, "single") != 0 && strcmp(mode, "batch") != 0)) {
		usage();
		return 2;
	}
	for (size_t i = 0; i < nz; i++)
		src[i] = (struct zone_source){ NULL, argv[optind + 1 + (int)i] };
	log_set_level(LOG_WARNING);
	char err[512];
	if (zone_table_load(&zt, src, nz, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "bench_answer: %s\n", err);
		return 1;
	}
	b.zt = zt;
	b.tx = aligned_alloc(64, BENCH_BATCH * 4096 + ANSWER_BUF_MIN + 64);
	if (!b.tx || bench_load_queries(&b, argv[optind], edns) != 0 || b.nq == 0) {
		fprintf(stderr, "bench_answer: no queries from %s\n", argv[optind]);
		goto out;
	}
	size_t sum = 0;
	double t0 = now_s();
	for (long r = 0; r < rounds; r++)
		sum += strcmp(mode, "batch") == 0 ? bench_batch(&b) : bench_single(&b);
	double t = now_s() - t0;
	size_t answers = b.nq * (size_t)rounds;
	printf("mode=%s edns=%d answers=%zu ns_per_answer=%.1f checksum=%zu\n", mode, edns,
	       answers, t / (double)answers * 1e9, sum);
	rc = 0;
out:
	free(b.tx);
	mem_free(b.blob);
	mem_free(b.qlen);
	zone_table_free(zt);
	return rc;
}
