/* tests/fuzz/fuzz_darknet_pcap.c — the darknet packet reader on arbitrary
 * bytes: the input as a whole capture file (pcap or pcapng through libpcap
 * and tools/darknet_pcap.c, with and without a darknet prefix), and the same
 * bytes as one frame of every supported link type through the decoder.
 * Every packet is checked: address families and lengths, protocol in range.
 *
 * Single-threaded (libFuzzer or replay_main.c). */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void read_file(const uint8_t *data, size_t size, const struct darknet_pcap_opts *o)
{
	struct darknet_pcap *p;
	struct dk_packet k;
	char err[512];
	FILE *fp = fmemopen((void *)data, size, "rb");
	if (!fp)
		return;
	if (darknet_pcap_open_fp(&p, fp, "fuzz", o, err, sizeof err) < 0) {
		if (!err[0])
			abort();
		fclose(fp);
		return;
	}
	int rc;
	while ((rc = darknet_pcap_next(p, &k)) == 1)
		check(&k);
	if (rc < 0 && !darknet_pcap_error(p)[0])
		abort();
	if (darknet_pcap_offset(p) > size)
		abort();
	darknet_pcap_close(p);
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
	read_file(data, size, NULL);
	struct darknet_pcap_opts o = { .prefixes = &pfx, .nprefixes = 1 };
	read_file(data, size, &o);
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
