/* tests/bench/bench_capture.c — micro-benchmark of the capture side of
 * backscope-authd without the network: the events of a saturated PTR load
 * (every name of a /16 in random order, reshuffled each pass, from a few
 * queriers) go in chunks of 64 through the event log and agg_add_batch(), as
 * the writer thread takes them from the rings, and each virtual second's
 * table is flushed into an LMDB store, as the flusher does.
 *
 *   bench_capture [-r RATE] [-s SECONDS] [-q QUERIERS] [-n] DIR
 *     -r  events per virtual second (default 170000)
 *     -s  virtual seconds (default 10)
 *     -q  distinct queriers (default 1)
 *     -n  no event log
 *   DIR is created and holds the store and the event log.
 *
 * Prints the wall-clock ns per event spent adding and flushing (noisy on a
 * shared machine).  Instruction counts are repeatable: run it under
 *   valgrind --tool=callgrind --toggle-collect=bench_add --toggle-collect=bench_flush
 * and divide by the events printed.
 *
 * Single-threaded command-line program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/agg.h"
#include "common/err.h"
#include "common/event.h"
#include "common/evlog.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/store.h"

#define BENCH_CHUNK 64
#define BENCH_T0_NS (1700000000ull * 1000000000ull)

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void shuffle(uint32_t *v, size_t n)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		uint32_t t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

static void event_make(struct query_event *ev, uint64_t t_ns, uint32_t host, uint32_t querier)
{
	memset(ev, 0, sizeof *ev);
	ev->time_ns = t_ns;
	ev->querier.family = AF_INET;
	ev->querier.prefix = 32;
	ev->querier.bytes[0] = 127;
	ev->querier.bytes[1] = (uint8_t)(querier >> 16);
	ev->querier.bytes[2] = (uint8_t)(querier >> 8);
	ev->querier.bytes[3] = (uint8_t)(querier + 1);
	ev->querier_port = (uint16_t)(1024 + rnd() % 60000);
	ev->qtype = 12;
	ev->orig.kind = REVNAME_FULL;
	ev->orig.addr.family = AF_INET;
	ev->orig.addr.prefix = 32;
	ev->orig.addr.bytes[0] = 10;
	ev->orig.addr.bytes[2] = (uint8_t)(host >> 8);
	ev->orig.addr.bytes[3] = (uint8_t)host;
}

/* Kept out of line so that callgrind can collect them by name. */
static __attribute__((noinline)) int bench_add(struct agg *a, struct evlog_writer *lw,
					       const struct query_event *evs, size_t n)
{
	if (lw) {
		for (size_t i = 0; i < n; i++) {
			int rc = evlog_append(lw, &evs[i]);
			if (rc)
				return rc;
		}
	}
	size_t added = 0;
	int rc = agg_add_batch(a, evs, n, &added);
	return rc < 0 ? rc : added == n ? 0 : BSC_ENOSPC;
}

static __attribute__((noinline)) int bench_flush(struct agg *a, struct store *s,
						 struct evlog_writer *lw, uint64_t t_ns)
{
	int rc = lw ? evlog_tick(lw, t_ns) : 0;
	return rc ? rc : agg_flush(a, s, NULL);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_capture [-r RATE] [-s SECONDS] [-q QUERIERS] [-n] DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long rate = 170000, secs = 10, nq = 1;
	int no_log = 0, opt;

	while ((opt = getopt(argc, argv, "r:s:q:n")) != -1) {
		switch (opt) {
		case 'r':
			rate = strtoul(optarg, NULL, 10);
			break;
		case 's':
			secs = strtoul(optarg, NULL, 10);
			break;
		case 'q':
			nq = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			no_log = 1;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || rate == 0 || secs == 0 || nq == 0)
		usage();
	log_set_level(LOG_WARNING);
	const char *dir = argv[optind];
	char path[4096];
	mkdir(dir, 0750);
	snprintf(path, sizeof path, "%s/db", dir);
	mkdir(path, 0750);

	struct store *s;
	struct store_opts so = { .sync = STORE_SYNC_NOMETA, .map_size = 1ull << 30 };
	int rc = store_open(&s, path, &so);
	if (rc) {
		fprintf(stderr, "bench_capture: store %s: %s\n", path, bsc_strerror(rc));
		return 1;
	}
	struct evlog_writer *lw = NULL;
	snprintf(path, sizeof path, "%s/log", dir);
	struct evlog_opts lo = { .dir = path, .writer_id = "bench", .sync = EVLOG_SYNC_NONE };
	if (!no_log && (rc = evlog_writer_open(&lw, &lo, BENCH_T0_NS)) != 0) {
		fprintf(stderr, "bench_capture: event log %s: %s\n", path, bsc_strerror(rc));
		return 1;
	}
	struct agg *a;
	if ((rc = agg_new(&a, NULL)) != 0) {
		fprintf(stderr, "bench_capture: %s\n", bsc_strerror(rc));
		return 1;
	}

	/* the names of 10.0.0.0/16 in random order */
	uint32_t *names = mem_alloc(65536 * sizeof *names);
	if (!names)
		return 1;
	for (uint32_t i = 0; i < 65536; i++)
		names[i] = i;
	shuffle(names, 65536);
	size_t pos = 0;

	struct query_event evs[BENCH_CHUNK];
	uint64_t t_add = 0, t_flush = 0, events = 0;
	uint64_t step = 1000000000ull / rate;
	for (unsigned long sec = 0; sec < secs; sec++) {
		uint64_t base = BENCH_T0_NS + sec * 1000000000ull;
		for (unsigned long k = 0; k < rate; k += BENCH_CHUNK) {
			size_t n = rate - k < BENCH_CHUNK ? rate - k : BENCH_CHUNK;
			for (size_t i = 0; i < n; i++) {
				if (pos == 65536) {
					shuffle(names, 65536);
					pos = 0;
				}
				uint32_t nm = names[pos++];
				event_make(&evs[i], base + (k + i) * step, nm, (uint32_t)(rnd() % nq));
			}
			uint64_t t0 = now_ns();
			rc = bench_add(a, lw, evs, n);
			t_add += now_ns() - t0;
			if (rc) {
				fprintf(stderr, "bench_capture: add: %s\n", bsc_strerror(rc));
				return 1;
			}
			events += n;
		}
		uint64_t t0 = now_ns();
		rc = bench_flush(a, s, lw, base + 1000000000ull);
		t_flush += now_ns() - t0;
		if (rc) {
			fprintf(stderr, "bench_capture: flush: %s\n", bsc_strerror(rc));
			return 1;
		}
	}
	printf("events=%llu add_ns_per_event=%.1f flush_ns_per_event=%.1f total_ns_per_event=%.1f\n",
	       (unsigned long long)events, (double)t_add / (double)events,
	       (double)t_flush / (double)events, (double)(t_add + t_flush) / (double)events);
	agg_free(a);
	evlog_writer_close(lw, BENCH_T0_NS + secs * 1000000000ull);
	store_close(s);
	mem_free(names);
	return 0;
}
