/* tests/fuzz/fuzz_pcapdns.c — the pcap DNS extractor on arbitrary bytes.
 *
 * The first byte chooses how the rest is read: with its high bit set, as a
 * whole capture file (pcap or pcapng: libpcap's file parsing and our error
 * paths); otherwise as packets [2-byte length][bytes]... written into a
 * classic pcap of the link type the byte selects (the link layer, IP, UDP,
 * TCP and DNS parsers), with or without a filter.  Every event is checked:
 * querier family and length, a reverse name or none, flags in range.
 *
 * Single-threaded (libFuzzer or replay_main.c). */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "tools/pcapdns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
			    DLT_IPV4,   DLT_IPV6,      DLT_NULL,       DLT_LOOP };
#define NDLT (sizeof dlts / sizeof dlts[0])

static struct qfilter *filter;
static uint8_t file[1 << 20];

static void put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* A classic pcap (nanosecond, little endian) of link type @dlt holding the
 * packets of @d.  Returns its length. */
static size_t synth(int dlt, const uint8_t *d, size_t n)
{
	size_t p = 24;
	put32le(file, 0xa1b23c4d);
	file[4] = 2;
	file[5] = 0;
	file[6] = 4;
	file[7] = 0;
	memset(file + 8, 0, 8);
	put32le(file + 16, 262144);
	put32le(file + 20, (uint32_t)dlt);
	uint32_t t = 0;
	size_t i = 0;
	while (i + 2 <= n) {
		size_t len = ((size_t)d[i] << 8) | d[i + 1];
		i += 2;
		if (len > n - i)
			len = n - i;
		if (p + 16 + len > sizeof file)
			break;
		put32le(file + p, 1700000000u + t / 4);
		put32le(file + p + 4, (t % 4) * 600000000u); /* steps over the match window */
		put32le(file + p + 8, (uint32_t)len);
		put32le(file + p + 12, (uint32_t)len + (len & 1)); /* odd: "cut by snaplen" */
		memcpy(file + p + 16, d + i, len);
		p += 16 + len;
		i += len;
		t++;
	}
	return p;
}

static void check(const struct query_event *ev)
{
	if (ev->querier.family == AF_INET) {
		if (ev->querier.prefix != 32)
			abort();
	} else if (ev->querier.family == AF_INET6) {
		if (ev->querier.prefix != 128)
			abort();
	} else {
		abort();
	}
	if (ev->orig.kind > REVNAME_CLASSLESS)
		abort();
	if ((ev->flags & EVENT_ECS) && ev->ecs.family != AF_INET && ev->ecs.family != AF_INET6)
		abort();
	if ((ev->flags & EVENT_RCODE_UNKNOWN) && ev->rcode != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!filter) {
		log_set_level(LOG_ERR);
		if (qfilter_new(&filter) != 0 ||
		    qfilter_add_zone(filter, "20.10.in-addr.arpa") != 0 ||
		    qfilter_add_zone(filter, "8.b.d.0.1.0.0.2.ip6.arpa") != 0 ||
		    qfilter_add_server(filter, "127.0.0.0/8") != 0 ||
		    qfilter_add_server(filter, "::1") != 0)
			abort();
	}
	size_t n;
	if (data[0] & 0x80) {
		n = size - 1 < sizeof file ? size - 1 : sizeof file;
		memcpy(file, data + 1, n);
	} else {
		n = synth(dlts[(data[0] & 0x3F) % NDLT], data + 1, size - 1);
	}
	if (n == 0)
		return 0;
	FILE *fp = fmemopen(file, n, "rb");
	if (!fp)
		return 0;
	uint16_t ports[2] = { 53, 5353 };
	struct pcapdns_opts o = { .filter = (data[0] & 0x40) ? filter : NULL, .ports = ports,
				  .nports = 2 };
	struct pcapdns *p = NULL;
	if (pcapdns_open_fp(&p, fp, "fuzz", &o, NULL, 0) != 0) {
		fclose(fp);
		return 0;
	}
	struct query_event ev;
	int rc;
	uint64_t events = 0;
	while ((rc = pcapdns_next(p, &ev)) == 1) {
		check(&ev);
		events++;
	}
	const struct pcapdns_stats *st = pcapdns_stats(p);
	if (st->dns.events != events || st->dns.rcode_known > events)
		abort();
	if (rc < 0 && pcapdns_error(p)[0] == '\0')
		abort();
	char buf[512];
	pcapdns_stats_format(st, buf, sizeof buf);
	pcapdns_close(p);
	return 0;
}
