/* detector/fingerprint.h — decoded darknet packet and scanner-tool fingerprints.
 *
 * Per-packet predicates (ZMap, masscan, Mirai, nmap, unicornscan) and a small
 * per-source state that counts matches and checks run-constant values over
 * pairs of probes.  Pure functions; the caller owns the state (any thread). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "common/addr.h"

enum dk_proto { DK_PROTO_OTHER = 0, DK_PROTO_TCP, DK_PROTO_UDP, DK_PROTO_ICMP, DK_PROTO_ICMPV6 };

#define DK_TCP_FIN 0x01
#define DK_TCP_SYN 0x02
#define DK_TCP_RST 0x04
#define DK_TCP_PSH 0x08
#define DK_TCP_ACK 0x10

/** One decoded packet.  Multi-byte numbers are in host order (as ntohs/ntohl
 *  read them from the header).  Fields that do not apply are zero. */
struct dk_packet {
	uint64_t time_ns;
	struct bsc_addr src;      /* full-length address */
	struct bsc_addr dst;
	uint8_t proto;            /* enum dk_proto */
	uint8_t tcp_flags;        /* DK_TCP_* */
	uint8_t ttl;              /* IPv4 TTL / IPv6 hop limit */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t tcp_opt_len;      /* bytes of TCP options (data offset*4 - 20) */
	bool fragment;            /* MF set or fragment offset > 0 */
	bool later_fragment;      /* a fragment other than the first: no transport
				   * header, so no ports, flags or ICMP type */
	uint16_t sport;
	uint16_t dport;
	uint16_t window;
	uint16_t mss;             /* MSS option value, 0 = no MSS option */
	uint16_t ip_id;           /* IPv4 only */
	uint16_t ip_len;          /* IPv4 total length / IPv6 40 + payload length */
	uint32_t seq;
	uint32_t ack;
};

enum dk_tool {
	DK_TOOL_NONE = 0,
	DK_TOOL_MIRAI,      /* order = tie-break priority */
	DK_TOOL_MASSCAN,
	DK_TOOL_ZMAP,
	DK_TOOL_NMAP,
	DK_TOOL_UNICORNSCAN,
	DK_TOOL_COUNT,
};

enum dk_masscan_variant {
	DK_MASSCAN_UNKNOWN = 0,
	DK_MASSCAN_PRE_2023_11,  /* window 1024, no options, IP total length 40 */
	DK_MASSCAN_POST_2023_11, /* window 1025, MSS 1460 only, IP total length 44 */
};

/** "zmap", "masscan", "mirai", "nmap", "unicornscan"; NULL for DK_TOOL_NONE. */
const char *fingerprint_tool_name(enum dk_tool t);

/* Per-packet predicates.  All are false for IPv6 (the formulas use 32-bit
 * IPv4 destinations and the IPv4 ID). */
/** ZMap <= 4.0.x: IP ID 54321.  ZMap >= 4.1.0 randomises the IP ID, so a
 *  false result says nothing about the tool. */
bool fingerprint_is_zmap(const struct dk_packet *p);
/** masscan: TCP SYN with ip_id == (dst ^ dport ^ seq) & 0xFFFF. */
bool fingerprint_is_masscan(const struct dk_packet *p);
/** Which masscan template the probe matches (window/options/length). */
enum dk_masscan_variant fingerprint_masscan_variant(const struct dk_packet *p);
/** Mirai: TCP SYN with seq == destination address. */
bool fingerprint_is_mirai(const struct dk_packet *p);
/** nmap -sS profile: SYN only, window in {1024,2048,3072,4096}, the only
 *  option MSS 1460. */
bool fingerprint_nmap_profile(const struct dk_packet *p);
/** nmap run constant: (seq >> 16) ^ (seq & 0xFFFF). */
uint16_t fingerprint_nmap_key(const struct dk_packet *p);
/** unicornscan: plain TCP SYN (IPv4). */
bool fingerprint_unicorn_profile(const struct dk_packet *p);
/** unicornscan run constant: seq ^ dst ^ ((dport << 16) + sport). */
uint32_t fingerprint_unicorn_key(const struct dk_packet *p);

#define DK_FP_SLOTS 4

/** Run-constant values and how many probes carried each (count 0: free). */
struct dk_fp_slots {
	uint32_t key[DK_FP_SLOTS];
	uint32_t count[DK_FP_SLOTS];
};

/** Per-source fingerprint state: 6*4 + 2*32 + 3*4 = 100 bytes. */
struct dk_fp_state {
	uint32_t count[DK_TOOL_COUNT]; /* zmap, masscan, mirai matches */
	struct dk_fp_slots nmap;
	struct dk_fp_slots unicorn;
	uint32_t masscan_variant[3];
};

/** What one packet says to the fingerprints, in 8 bytes, so the per-source
 *  state can be updated later (the labeler groups packets by source). */
struct dk_fp_probe {
	uint32_t unicorn_key;     /* valid with DK_FP_UNICORN */
	uint16_t nmap_key;        /* valid with DK_FP_NMAP */
	uint8_t flags;            /* DK_FP_* | masscan variant << DK_FP_VARIANT_SHIFT */
};

#define DK_FP_ZMAP 0x01
#define DK_FP_MASSCAN 0x02
#define DK_FP_MIRAI 0x04
#define DK_FP_NMAP 0x08
#define DK_FP_UNICORN 0x10
#define DK_FP_VARIANT_SHIFT 5     /* 2 bits: enum dk_masscan_variant */

/** The predicates and run constants of @p (all zero for IPv6 and for a
 *  later fragment, which carries no transport header). */
void fingerprint_probe(const struct dk_packet *p, struct dk_fp_probe *out);
/** Feed a probe into @st. */
void fingerprint_apply(struct dk_fp_state *st, const struct dk_fp_probe *pr);
/** Feed one probe of the source into @st (fingerprint_probe, then apply). */
void fingerprint_update(struct dk_fp_state *st, const struct dk_packet *p);
/** Matching probes for @t (for nmap/unicornscan: the largest group of probes
 *  sharing one run constant). */
uint32_t fingerprint_matches(const struct dk_fp_state *st, enum dk_tool t);
/** The asserted tool: the one with the most matches, at least @min_probes;
 *  ties go to the lower enum value.  DK_TOOL_NONE when none qualifies. */
enum dk_tool fingerprint_decide(const struct dk_fp_state *st, uint32_t min_probes);
