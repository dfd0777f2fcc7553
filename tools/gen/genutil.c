/* tools/gen/genutil.c — the checksum, the header writers and the pcap writer
 * the generators of backscope-gen share (see genutil.h).
 *
 * Single-threaded (backscope-gen's main thread). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "common/err.h"
#include "tools/gen/genutil.h"

uint32_t genutil_csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

uint16_t genutil_csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

uint16_t genutil_csum(const uint8_t *p, size_t n)
{
	return genutil_csum_fold(genutil_csum_add(0, p, n));
}

/*  0      6      12    14
 *  | dst  | src  | type |   type 0x0800 IPv4, 0x86dd IPv6 */
void genutil_eth_write(uint8_t *f, bool v6, bool reverse)
{
	static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 1 };
	static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 2 };

	memcpy(f, reverse ? mac_a : mac_b, 6);
	memcpy(f + 6, reverse ? mac_b : mac_a, 6);
	wire_put_u16(f + 12, v6 ? 0x86dd : 0x0800);
}

/*  0        1      2            4      6             8     9       10     12    16    20
 *  | 0x45   | tos  | total len  | id   | flags+frag  | ttl | proto | csum | src | dst | */
void genutil_ipv4_write(uint8_t *h, size_t payload, uint16_t id, uint16_t frag, uint8_t ttl,
			uint8_t proto, const uint8_t *src, const uint8_t *dst)
{
	memset(h, 0, GENUTIL_IPV4_LEN);
	h[0] = 0x45;
	wire_put_u16(h + 2, (uint32_t)(GENUTIL_IPV4_LEN + payload));
	wire_put_u16(h + 4, id);
	wire_put_u16(h + 6, frag);
	h[8] = ttl;
	h[9] = proto;
	memcpy(h + 12, src, 4);
	memcpy(h + 16, dst, 4);
	wire_put_u16(h + 10, genutil_csum(h, GENUTIL_IPV4_LEN));
}

/*  0               4             6      7      8     24    40
 *  | 0x60 tc flow  | payload len | next | hlim | src | dst | */
void genutil_ipv6_write(uint8_t *h, size_t payload, uint8_t next, uint8_t hlim,
			const uint8_t *src, const uint8_t *dst)
{
	memset(h, 0, GENUTIL_IPV6_LEN);
	h[0] = 0x60;
	wire_put_u16(h + 4, (uint32_t)payload);
	h[6] = next;
	h[7] = hlim;
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
}

/*  0       2       4      6      8
 *  | sport | dport | len  | csum | */
void genutil_udp_write(uint8_t *u, uint16_t sport, uint16_t dport, size_t len)
{
	wire_put_u16(u, sport);
	wire_put_u16(u + 2, dport);
	wire_put_u16(u + 4, (uint32_t)len);
	wire_put_u16(u + 6, 0);
}

int genutil_pcap_open(struct genutil_pcap *w, const char *path)
{
	w->path = path;
	w->dump = NULL;
	w->pd = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535,
						     PCAP_TSTAMP_PRECISION_NANO);
	if (w->pd)
		w->dump = pcap_dump_open(w->pd, path);
	if (!w->dump) {
		fprintf(stderr, "backscope-gen: %s: %s\n", path,
			w->pd ? pcap_geterr(w->pd) : "pcap");
		return BSC_EIO;
	}
	return 0;
}

void genutil_pcap_write(struct genutil_pcap *w, uint64_t ts_ns, const uint8_t *f, size_t len)
{
	struct pcap_pkthdr h;

	h.ts.tv_sec = (time_t)(ts_ns / NS_PER_S);
	h.ts.tv_usec = (suseconds_t)(ts_ns % NS_PER_S); /* ns: nanosecond file */
	h.caplen = h.len = (bpf_u_int32)len;
	pcap_dump((u_char *)w->dump, &h, f);
}

int genutil_pcap_flush(struct genutil_pcap *w)
{
	/* ferror too: a write that failed while the buffer filled up left
	 * nothing for the final flush to fail on */
	if (pcap_dump_flush(w->dump) != 0 || ferror(pcap_dump_file(w->dump))) {
		fprintf(stderr, "backscope-gen: %s: write failed\n", w->path);
		return BSC_EIO;
	}
	return 0;
}

void genutil_pcap_close(struct genutil_pcap *w)
{
	if (w->dump)
		pcap_dump_close(w->dump);
	if (w->pd)
		pcap_close(w->pd);
	w->dump = NULL;
	w->pd = NULL;
}
