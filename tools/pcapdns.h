/* tools/pcapdns.h — DNS queries out of pcap and pcapng captures (records
 * from tools/pcapfile.h), as the query events the live server would have
 * made of them.
 *
 * Link types: Ethernet (802.1Q/802.1ad tags), Linux cooked (SLL, SLL2), raw
 * IP (RAW, IPV4, IPV6), BSD loopback (NULL, LOOP).  IPv4 and IPv6 (extension
 * headers skipped; fragments counted and skipped), UDP, and TCP segments
 * holding whole length-prefixed messages.  Formats, limits and the mapping to
 * events: docs/ingest.md.
 *
 * Threads: one decoder is used by one thread; decoders are independent. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "common/event.h"
#include "tools/qfilter.h"

struct pcapdns; /* opaque */

struct pcapdns_opts {
	const struct qfilter *filter; /* NULL: keep every query, match responses */
	const uint16_t *ports;        /* the DNS server ports (at most 16); none: 53 */
	size_t nports;
};

struct pcapdns_stats {
	uint64_t packets;     /* records read */
	uint64_t linktype;    /* skipped: link type not supported */
	uint64_t not_ip;      /* skipped: link-layer payload is not IPv4/IPv6 */
	uint64_t bad_ip;      /* skipped: bad IP header (version, header length, jumbogram) */
	uint64_t fragments;   /* skipped: IPv4 fragments, IPv6 fragment headers */
	uint64_t truncated;   /* skipped: cut short by the snap length, or lengths
			       * that run past the captured bytes */
	uint64_t not_dns;     /* skipped: not UDP/TCP with a DNS port, or a query
			       * sent from a DNS port (a response to one) */
	uint64_t tcp_nodata;  /* TCP segments without payload (handshake, ACK, FIN) */
	uint64_t tcp_partial; /* TCP: DNS messages split across segments, skipped */
	uint64_t tcp_retrans; /* TCP: segments whose payload was seen before, skipped */
	uint64_t udp;         /* DNS messages found in UDP */
	uint64_t tcp;         /* DNS messages found in TCP */
	struct qfilter_stats dns;
};

/** Open the capture @path ("-" = standard input).  On failure *out is NULL
 *  and @err (may be NULL) says why, with the file name: a negated errno
 *  (cannot open), BSC_ETRUNC (shorter than its file header) or BSC_EMALF
 *  (not a pcap/pcapng file).  @o may be NULL.  Release with pcapdns_close(). */
int pcapdns_open(struct pcapdns **out, const char *path, const struct pcapdns_opts *o,
		 char *err, size_t errlen);
/** The same over an open stream (read from its current position); @name is
 *  used in messages.  On success the decoder owns @fp and closes it (except
 *  stdin); on failure the caller still owns it. */
int pcapdns_open_fp(struct pcapdns **out, FILE *fp, const char *name,
		    const struct pcapdns_opts *o, char *err, size_t errlen);
/** Next event into @ev, in capture order.  Returns 1 (an event), 0 (the
 *  end), BSC_ETRUNC (the file ends inside a record) or BSC_EMALF (a corrupt
 *  record).  Errors come after every event before the damage was returned,
 *  and are sticky. */
int pcapdns_next(struct pcapdns *p, struct query_event *ev);
/** Counters so far; valid until pcapdns_close(). */
const struct pcapdns_stats *pcapdns_stats(const struct pcapdns *p);
/** Byte offset of the next record or, after an error, of the damage (the
 *  end of the last whole record).  From a pipe: bytes read from it. */
uint64_t pcapdns_offset(const struct pcapdns *p);
/** "FILE: truncated at byte N (after record M): ...; everything before it was
 *  read", or "" without error. */
const char *pcapdns_error(const struct pcapdns *p);
/** The capture's link type (DLT_*). */
int pcapdns_linktype(const struct pcapdns *p);
void pcapdns_close(struct pcapdns *p); /* NULL is a no-op */

/** One line of counters ("packets 10, udp 4, ..."), only the non-zero ones
 *  past the first few.  Returns the length written (truncated to @len). */
size_t pcapdns_stats_format(const struct pcapdns_stats *s, char *buf, size_t len);
