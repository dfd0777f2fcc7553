/* tools/pktdec.h — the packet headers of a capture record: link layer
 * (Ethernet with 802.1Q/802.1ad tags, Linux cooked SLL/SLL2, raw IP, BSD
 * loopback), then the IPv4 or IPv6 header with its extension headers, up to
 * the transport header.  Shared by tools/pcapdns.c and tools/darknet_pcap.c,
 * which count and skip what does not decode each by its own rules.
 *
 * Pure functions over the record's bytes; any thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/addr.h"
#include "common/wire.h"

enum pktdec_rc {
	PKTDEC_OK = 0,
	PKTDEC_TRUNC,    /* a header is cut short by the captured length */
	PKTDEC_BAD_IP,   /* IP version or header length wrong */
	PKTDEC_NOT_IP,   /* the link layer carries something else */
	PKTDEC_LINKTYPE, /* link type not decoded here */
};

/* What follows the IP header(s). */
enum pktdec_l4 {
	PKTDEC_L4_OK = 0, /* the transport header is at @l4 */
	PKTDEC_L4_LATER,  /* a fragment other than the first: no transport header */
	PKTDEC_L4_FRAG,   /* stopped at an IPv6 fragment header (PKTDEC_FRAG_STOP) */
	PKTDEC_L4_CUT,    /* an IPv6 extension header runs past the end */
	PKTDEC_L4_CHAIN,  /* more than 16 IPv6 extension headers */
};

#define PKTDEC_FRAG_STOP 1u /* pktdec_ip: do not walk past an IPv6 fragment header */

/** The checks of an IPv4 header at @d (@len captured bytes): PKTDEC_OK and
 *  its header length *@ihl and total length *@tot, or PKTDEC_TRUNC or
 *  PKTDEC_BAD_IP.  Inline: readers that decode into their own structure
 *  share it with pktdec_ip(). */
static inline int pktdec_ipv4_check(const uint8_t *d, size_t len, size_t *ihl, size_t *tot)
{
	if (len < 20)
		return PKTDEC_TRUNC;
	*ihl = (size_t)(d[0] & 0xF) * 4;
	*tot = wire_get_u16(d + 2);
	if ((d[0] >> 4) != 4 || *ihl < 20 || *tot < *ihl)
		return PKTDEC_BAD_IP;
	if (*ihl > len)
		return PKTDEC_TRUNC;
	return PKTDEC_OK;
}

struct pktdec_ip {
	struct bsc_addr src, dst;
	size_t tot;        /* length the header claims: IPv4 total length, IPv6 40 + payload
			    * length (40: a jumbogram, or nothing) */
	bool cut;          /* @tot runs past the captured bytes (IPv6: payload length not 0) */
	bool fragment;     /* IPv4 MF or offset, or an IPv6 fragment header passed */
	uint8_t ttl;       /* TTL or hop limit */
	uint8_t proto;     /* transport protocol number (after any extension headers) */
	uint16_t id;       /* IPv4 identification; 0 for IPv6 */
	uint8_t l4status;  /* enum pktdec_l4 */
	const uint8_t *l4; /* the IP payload after the headers, up to @tot or the capture */
	size_t l4len;
};

/** True for the link types pktdec_link() decodes. */
bool pktdec_dlt_supported(int dlt);

/** The link-layer header of a frame of link type @dlt (@len captured bytes):
 *  on PKTDEC_OK, *@ipver is 4 or 6 and the IP header starts at d + *@off.
 *  Otherwise PKTDEC_TRUNC, PKTDEC_NOT_IP or PKTDEC_LINKTYPE. */
int pktdec_link(int dlt, const uint8_t *d, size_t len, unsigned *ipver, size_t *off);

/** The IP header of version @ipver at @d (@len captured bytes) into @ip.
 *  Returns PKTDEC_TRUNC (fixed header cut) or PKTDEC_BAD_IP, and @ip is not
 *  set; or PKTDEC_OK with the addresses set and ip->l4status saying whether
 *  ip->l4 holds a transport header.  @flags: PKTDEC_FRAG_STOP or 0. */
int pktdec_ip(unsigned ipver, const uint8_t *d, size_t len, unsigned flags,
	      struct pktdec_ip *ip);
