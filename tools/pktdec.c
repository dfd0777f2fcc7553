/* tools/pktdec.c — link-layer, IPv4 and IPv6 headers of a capture record,
 * for the pcap DNS extractor and the darknet packet reader.
 *
 * Parses in place, allocates nothing; runs on the caller's thread. */
#include <pcap/pcap.h>
#include <string.h>
#include "common/wire.h"
#include "tools/pktdec.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88A8
#define ETH_QINQ_OLD 0x9100

#define EXT_MAX 16 /* IPv6 extension headers walked at the most */

bool pktdec_dlt_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return true;
	default:
		return false;
	}
}

/* BSD loopback: the address family, in the capturing host's byte order
 * (NULL) or in network order (LOOP). */
static unsigned null_type(const uint8_t *d)
{
	uint32_t be = ((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) |
		      ((uint32_t)d[2] << 8) | d[3];
	uint32_t le = ((uint32_t)d[3] << 24) | ((uint32_t)d[2] << 16) |
		      ((uint32_t)d[1] << 8) | d[0];
	uint32_t af = be < 256 ? be : le;
	if (af == 2)
		return ETH_IPV4;
	if (af == 10 || af == 24 || af == 28 || af == 30)
		return ETH_IPV6; /* Linux, NetBSD/OpenBSD, FreeBSD, macOS */
	return 0;
}

int pktdec_link(int dlt, const uint8_t *d, size_t len, unsigned *ipver, size_t *off)
{
	unsigned type;
	switch (dlt) {
	case DLT_EN10MB:
		if (len < 14)
			return PKTDEC_TRUNC;
		type = wire_get_u16(d + 12);
		*off = 14;
		for (unsigned i = 0;
		     i < 4 && (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD); i++) {
			if (len - *off < 4)
				return PKTDEC_TRUNC;
			type = wire_get_u16(d + *off + 2);
			*off += 4;
		}
		break;
	case DLT_LINUX_SLL:
		if (len < 16)
			return PKTDEC_TRUNC;
		type = wire_get_u16(d + 14);
		*off = 16;
		break;
	case DLT_LINUX_SLL2:
		if (len < 20)
			return PKTDEC_TRUNC;
		type = wire_get_u16(d);
		*off = 20;
		break;
	case DLT_NULL:
	case DLT_LOOP:
		if (len < 4)
			return PKTDEC_TRUNC;
		type = null_type(d);
		*off = 4;
		break;
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6: /* the version nibble says which */
		type = len < 1 ? 0 : (d[0] >> 4) == 4 ? ETH_IPV4 : (d[0] >> 4) == 6 ? ETH_IPV6 : 0;
		*off = 0;
		break;
	default:
		return PKTDEC_LINKTYPE;
	}
	if (type == ETH_IPV4)
		*ipver = 4;
	else if (type == ETH_IPV6)
		*ipver = 6;
	else
		return PKTDEC_NOT_IP;
	return PKTDEC_OK;
}

/* Full-length addresses, with constant sizes: a few stores each. */
static inline void set_addr4(struct bsc_addr *a, const uint8_t *b)
{
	memset(a, 0, sizeof *a);
	a->family = AF_INET;
	a->prefix = 32;
	memcpy(a->bytes, b, 4);
}

static inline void set_addr6(struct bsc_addr *a, const uint8_t *b)
{
	a->family = AF_INET6;
	a->prefix = 128;
	memcpy(a->bytes, b, 16);
}

static int ipv4(const uint8_t *d, size_t len, struct pktdec_ip *ip)
{
	size_t ihl, tot;
	int rc = pktdec_ipv4_check(d, len, &ihl, &tot);
	if (rc != PKTDEC_OK)
		return rc;
	uint16_t frag = wire_get_u16(d + 6);
	set_addr4(&ip->src, d + 12);
	set_addr4(&ip->dst, d + 16);
	ip->tot = tot;
	ip->cut = tot > len;
	ip->fragment = frag & 0x3FFF; /* MF, or a fragment offset */
	ip->ttl = d[8];
	ip->proto = d[9];
	ip->id = wire_get_u16(d + 4);
	ip->l4status = frag & 0x1FFF ? PKTDEC_L4_LATER : PKTDEC_L4_OK;
	ip->l4 = d + ihl;
	ip->l4len = (tot < len ? tot : len) - ihl;
	return PKTDEC_OK;
}

/* The extension headers of an IPv6 packet (@end bytes of it usable) up to
 * the transport header: returns ip->l4status. */
static uint8_t ipv6_walk(const uint8_t *d, size_t end, unsigned flags, struct pktdec_ip *ip)
{
	size_t off = 40;
	uint8_t nh = d[6];
	bool later = false;
	for (unsigned i = 0; i < EXT_MAX; i++) {
		size_t hl;
		switch (nh) {
		case 0:  /* hop-by-hop options */
		case 43: /* routing */
		case 60: /* destination options */
			if (end - off < 8)
				return PKTDEC_L4_CUT;
			hl = ((size_t)d[off + 1] + 1) * 8;
			break;
		case 51: /* authentication header */
			if (end - off < 8)
				return PKTDEC_L4_CUT;
			hl = ((size_t)d[off + 1] + 2) * 4;
			break;
		case 44: /* fragment */
			if (flags & PKTDEC_FRAG_STOP) {
				ip->fragment = true;
				return PKTDEC_L4_FRAG;
			}
			if (end - off < 8)
				return PKTDEC_L4_CUT;
			hl = 8;
			ip->fragment = true;
			if (wire_get_u16(d + off + 2) & 0xFFF8)
				later = true;
			break;
		default:
			ip->proto = nh;
			ip->l4 = d + off;
			ip->l4len = end - off;
			return later ? PKTDEC_L4_LATER : PKTDEC_L4_OK;
		}
		if (hl > end - off)
			return PKTDEC_L4_CUT;
		nh = d[off];
		off += hl;
	}
	return PKTDEC_L4_CHAIN;
}

static int ipv6(const uint8_t *d, size_t len, unsigned flags, struct pktdec_ip *ip)
{
	if (len < 40)
		return PKTDEC_TRUNC;
	if ((d[0] >> 4) != 6)
		return PKTDEC_BAD_IP;
	size_t plen = wire_get_u16(d + 4);
	set_addr6(&ip->src, d + 8);
	set_addr6(&ip->dst, d + 24);
	ip->tot = 40 + plen;
	ip->cut = plen && 40 + plen > len;
	ip->fragment = false;
	ip->ttl = d[7];
	ip->proto = 0;
	ip->id = 0;
	ip->l4 = NULL;
	ip->l4len = 0;
	/* payload length 0 (a jumbogram): up to the end of the capture */
	ip->l4status = ipv6_walk(d, plen && 40 + plen < len ? 40 + plen : len, flags, ip);
	return PKTDEC_OK;
}

int pktdec_ip(unsigned ipver, const uint8_t *d, size_t len, unsigned flags,
	      struct pktdec_ip *ip)
{
	return ipver == 4 ? ipv4(d, len, ip) : ipv6(d, len, flags, ip);
}
