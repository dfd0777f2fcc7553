/* tools/gen/genutil.h — what the generators of backscope-gen share: the
 * splitmix64 random generator, the Internet checksum, the
 * Ethernet, IPv4, IPv6 and UDP header writers and the pcap writer
 * (nanosecond timestamps, Ethernet).
 *
 * Single-threaded (backscope-gen's main thread); deterministic for a seed. */
#pragma once
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/bucket.h" /* NS_PER_S */
#include "common/wire.h"   /* wire_put_u16, wire_put_u32, wire_get_u32 */

#define GENUTIL_ETH_LEN 14 /* Ethernet header */
#define GENUTIL_IPV4_LEN 20 /* IPv4 header without options */
#define GENUTIL_IPV6_LEN 40 /* IPv6 fixed header */
#define GENUTIL_UDP_LEN 8

/* splitmix64 state: small, fast, good enough for test traffic. */
struct genutil_rng {
	uint64_t s;
};

/** The next 64 random bits of @r. */
static inline uint64_t genutil_rng_next(struct genutil_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/** A uniform double in [0, 1) from the next 53 bits of @r. */
static inline double genutil_rng_unit(struct genutil_rng *r)
{
	return (double)(genutil_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/** A uniform integer in [0, @n) from the next high 32 bits of @r. */
static inline uint32_t genutil_rng_below(struct genutil_rng *r, uint32_t n)
{
	return (uint32_t)(((genutil_rng_next(r) >> 32) * n) >> 32);
}

/** Add the @n bytes at @p (16-bit big-endian words, an odd last byte padded
 *  with zero) to the unfolded Internet checksum sum @s; returns the new sum. */
uint32_t genutil_csum_add(uint32_t s, const uint8_t *p, size_t n);

/** Fold the sum @s to 16 bits and complement it: the checksum field. */
uint16_t genutil_csum_fold(uint32_t s);

/** The Internet checksum (RFC 1071) of the @n bytes at @p. */
uint16_t genutil_csum(const uint8_t *p, size_t n);

/** Write the Ethernet header (GENUTIL_ETH_LEN bytes) at @f: from
 *  02:00:00:00:00:01 to 02:00:00:00:00:02, the other way when @reverse;
 *  ethertype IPv6 when @v6, else IPv4. */
void genutil_eth_write(uint8_t *f, bool v6, bool reverse);

/** Write an IPv4 header (GENUTIL_IPV4_LEN bytes, no options, checksum
 *  filled in) at @h for @payload bytes after it: identification @id, flags
 *  and fragment offset @frag, TTL @ttl, protocol @proto, 4-byte addresses
 *  @src and @dst. */
void genutil_ipv4_write(uint8_t *h, size_t payload, uint16_t id, uint16_t frag, uint8_t ttl,
			uint8_t proto, const uint8_t *src, const uint8_t *dst);

/** Write an IPv6 fixed header (GENUTIL_IPV6_LEN bytes) at @h: payload length
 *  @payload, next header @next, hop limit @hlim, 16-byte addresses @src and
 *  @dst; traffic class and flow label zero. */
void genutil_ipv6_write(uint8_t *h, size_t payload, uint8_t next, uint8_t hlim,
			const uint8_t *src, const uint8_t *dst);

/** Write a UDP header (GENUTIL_UDP_LEN bytes) at @u: ports @sport and
 *  @dport, length @len (header included), checksum zero. */
void genutil_udp_write(uint8_t *u, uint16_t sport, uint16_t dport, size_t len);

/* A pcap file being written: Ethernet, nanosecond timestamps, snaplen 65535. */
struct genutil_pcap {
	const char *path;
	pcap_t *pd;
	pcap_dumper_t *dump;
};

/** Create the capture file @path into @w.  Returns 0, or BSC_EIO after
 *  printing "backscope-gen: PATH: why" on stderr; call genutil_pcap_close()
 *  either way. */
int genutil_pcap_open(struct genutil_pcap *w, const char *path);

/** Append the @len-byte frame @f, captured whole, at @ts_ns nanoseconds since
 *  the epoch. */
void genutil_pcap_write(struct genutil_pcap *w, uint64_t ts_ns, const uint8_t *f, size_t len);

/** Flush what was written.  Returns 0, or BSC_EIO after printing
 *  "backscope-gen: PATH: write failed" on stderr when this or any earlier
 *  write failed. */
int genutil_pcap_flush(struct genutil_pcap *w);

/** Close the file and free @w's resources; a @w that failed to open, or was
 *  zeroed, is fine. */
void genutil_pcap_close(struct genutil_pcap *w);
