/* tests/fuzz/fuzz_darknet_pcap.c — the darknet packet reader on arbitrary
 * bytes: the input as a whole capture file (pcap or pcapng through
 * tools/pcapfile.c and tools/darknet_pcap.c, with and without a darknet
 * prefix; from a memory stream and from a mapped file, which must agree),
 * and the same bytes as one frame of every supported link type through the
 * decoder.  Every packet is checked: address families and lengths, protocol
 * in range.
 *
 * Single-threaded (libFuzzer or replay_main.c). */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common/log.h"
#include "tools/darknet_pcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4,
			    DLT_IPV6,   DLT_NULL,      DLT_LOOP,       DLT_PPP };

static void check(const struct dk_packet *k)
{
	if (k->src.family != AF_INET && k->src.family != AF_INET6)
		abort();
	if (k->dst.family != k->src.family)
		abort();
	if (k->src.prefix != (k->src.family == AF_INET ? 32 : 128))
		abort();
	if (k->proto > DK_PROTO_ICMPV6)
		abort();
	if (k->proto != DK_PROTO_TCP && (k->seq || k->window || k->mss))
		abort();
}

/* What one read of the file gave: compared between the two ways. */
struct outcome {
	int rc;
	uint64_t kept, offset, sum;
	struct darknet_pcap_stats st;
	char error[512];
};

/* A regular file holding @data (mapped by the reader); NULL when the system
 * has none to give. */
static FILE *mapped_file(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-darknet", 0);
	if (fd < 0)
		return NULL;
	FILE *fp = NULL;
	if (write(fd, data, size) == (ssize_t)size && lseek(fd, 0, SEEK_SET) == 0)
		fp = fdopen(fd, "rb");
	if (!fp)
		close(fd);
	return fp;
}

static void read_file(FILE *fp, size_t size, const struct darknet_pcap_opts *o,
		      struct outcome *r)
{
	struct darknet_pcap *p;
	struct dk_packet k;
	memset(r, 0, sizeof *r);
	r->rc = darknet_pcap_open_fp(&p, fp, "fuzz", o, r->error, sizeof r->error);
	if (r->rc < 0) {
		if (!r->error[0])
			abort();
		fclose(fp);
		return;
	}
	while ((r->rc = darknet_pcap_next(p, &k)) == 1) {
		check(&k);
		r->kept++;
		r->sum = r->sum * 31 + k.time_ns + k.dst.bytes[3] + k.sport + k.mss + k.seq;
	}
	if (r->rc < 0 && !darknet_pcap_error(p)[0])
		abort();
	r->offset = darknet_pcap_offset(p);
	if (r->offset > size)
		abort();
	r->st = *darknet_pcap_stats(p);
	snprintf(r->error, sizeof r->error, "%s", darknet_pcap_error(p));
	darknet_pcap_close(p);
}

static void read_both(const uint8_t *data, size_t size, const struct darknet_pcap_opts *o)
{
	static struct outcome a, b;
	FILE *fp = fmemopen((void *)data, size, "rb");
	if (!fp)
		return;
	read_file(fp, size, o, &a);
	fp = mapped_file(data, size);
	if (!fp)
		return;
	read_file(fp, size, o, &b);
	if (a.rc != b.rc || a.kept != b.kept || a.offset != b.offset || a.sum != b.sum ||
	    memcmp(&a.st, &b.st, sizeof a.st) != 0 || strcmp(a.error, b.error) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static struct bsc_addr pfx;
	if (!init) {
		log_init(LOG_TARGET_STDERR, LOG_CRIT, "fuzz");
		addr_parse(&pfx, "198.18.0.0/15", false);
		init = true;
	}
	if (size == 0)
		return 0;
	read_both(data, size, NULL);
	struct darknet_pcap_opts o = { .prefixes = &pfx, .nprefixes = 1 };
	read_both(data, size, &o);
	for (size_t i = 0; i < sizeof dlts / sizeof dlts[0]; i++) {
		struct darknet_pcap_stats st;
		struct dk_packet k;
		memset(&st, 0, sizeof st);
		uint8_t *copy = malloc(size); /* exact size: overreads show */
		if (!copy)
			return 0;
		memcpy(copy, data, size);
		if (darknet_pcap_decode(dlts[i], copy, size, 0, &k, &st))
			check(&k);
		free(copy);
	}
	return 0;
}
