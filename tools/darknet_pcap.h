/* tools/darknet_pcap.h — darknet packets out of pcap and pcapng captures
 * (records from tools/pcapfile.h), decoded into struct dk_packet for the
 * labeler (detector/darknet.h).
 *
 * Link types: Ethernet (802.1Q/802.1ad tags), Linux cooked (SLL, SLL2), raw
 * IP (RAW, IPV4, IPV6), BSD loopback (NULL, LOOP).  IPv4 and IPv6 (extension
 * headers skipped, fragments flagged), TCP, UDP, ICMP, ICMPv6.  One reader is
 * used by one thread; readers are independent. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "common/addr.h"
#include "detector/fingerprint.h"

struct darknet_pcap; /* opaque */

struct darknet_pcap_opts {
	const struct bsc_addr *prefixes; /* the darknet; none: every destination */
	size_t nprefixes;
};

struct darknet_pcap_stats {
	uint64_t packets;    /* records read */
	uint64_t kept;       /* packets returned (destination in the darknet) */
	uint64_t outside;    /* skipped: destination outside the darknet */
	uint64_t linktype;   /* skipped: link type not supported */
	uint64_t not_ip;     /* skipped: link-layer payload is not IPv4/IPv6 */
	uint64_t bad_ip;     /* skipped: bogus IP header (version, header length) */
	uint64_t truncated;  /* skipped: cut short by the snap length, or lengths
			      * past the captured bytes */
	uint64_t bad_l4;     /* returned without ports: bogus TCP/UDP/ICMP header */
	uint64_t fragments;  /* returned, flagged as fragments */
};

/** Open the capture @path ("-" = standard input).  The prefixes are copied.
 *  On failure *out is NULL and @err says why, with the file name: a negated
 *  errno, BSC_ETRUNC (shorter than its file header), BSC_EMALF (not a
 *  capture), BSC_ENOMEM.  @o may be NULL. */
int darknet_pcap_open(struct darknet_pcap **out, const char *path,
		      const struct darknet_pcap_opts *o, char *err, size_t errlen);
/** The same over an open stream; on success the reader owns @fp (closes it
 *  unless it is stdin); on failure the caller still owns it. */
int darknet_pcap_open_fp(struct darknet_pcap **out, FILE *fp, const char *name,
			 const struct darknet_pcap_opts *o, char *err, size_t errlen);
/** Next kept packet into @pkt.  Returns 1 (a packet), 0 (the end),
 *  BSC_ETRUNC (the file ends inside a record) or BSC_EMALF (corrupt record);
 *  errors are sticky and come after every packet before the damage. */
int darknet_pcap_next(struct darknet_pcap *p, struct dk_packet *pkt);
const struct darknet_pcap_stats *darknet_pcap_stats(const struct darknet_pcap *p);
/** Byte offset of the next record or, after an error, of the damage. */
uint64_t darknet_pcap_offset(const struct darknet_pcap *p);
/** "FILE: truncated at byte N (after record M): ...; everything before it was
 *  read", or "" without error. */
const char *darknet_pcap_error(const struct darknet_pcap *p);
int darknet_pcap_linktype(const struct darknet_pcap *p);
void darknet_pcap_close(struct darknet_pcap *p); /* NULL is a no-op */

/** Decode one link-layer frame of link type @dlt into @pkt (no darknet
 *  filter).  Returns true when @pkt holds an IP packet; otherwise counts why
 *  not in @st.  Used by the reader and the fuzz target. */
bool darknet_pcap_decode(int dlt, const uint8_t *d, size_t caplen, uint64_t time_ns,
			 struct dk_packet *pkt, struct darknet_pcap_stats *st);

/** One line of the non-zero counters ("packets 10, kept 8, ..."). */
size_t darknet_pcap_stats_format(const struct darknet_pcap_stats *s, char *buf, size_t len);
