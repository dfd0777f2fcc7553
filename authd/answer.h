/* authd/answer.h — the answer builder: one pure function from a query to its
 * answer.  No sockets, no clock, no globals, no allocation: it reads the
 * shared immutable zone table and writes into the caller's buffer.  Any
 * thread; this is the whole per-query DNS logic of backscope-authd. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/addr.h"

struct zone_table;

struct answer_conf {
	uint16_t udp_max;       /* our largest EDNS UDP payload (default 1232) */
	const uint8_t *nsid;    /* NSID (RFC 5001) payload; NULL = not configured */
	size_t nsid_len;
	const char *version;    /* CH TXT version.bind/version.server; NULL = REFUSED */
	const char *identity;   /* CH TXT id.server/hostname.bind; NULL = REFUSED */
};

enum answer_transport { ANSWER_UDP, ANSWER_TCP };

/** What the builder learned about one query; feeds the query event and the
 *  worker's counters. */
struct answer_info {
	uint16_t rcode;     /* the rcode answered, extended (16 = BADVERS) */
	uint16_t qtype;
	uint16_t qclass;
	uint16_t qname_len; /* the qname sits uncompressed at offset 12 of the query */
	uint8_t flags;      /* enum event_flag bits: RD, EDNS, DO, ECS (not TCP) */
	bool in_zone;       /* qname inside one of our zones: this query is an event */
	bool truncated;     /* TC set */
	bool malformed;     /* FORMERR for a malformed query, or dropped as one */
	struct bsc_addr ecs; /* EDNS Client Subnet when flags has EVENT_ECS */
};

#define ANSWER_UDP_MIN 512      /* payload limit without EDNS */
#define ANSWER_BUF_MIN 65535    /* @cap the caller must offer */

/** Build the answer to @q (@qlen bytes) into @tx (@cap >= ANSWER_BUF_MIN
 *  bytes).  Returns the answer length, or 0 when nothing may be sent (QR set,
 *  header shorter than 12 bytes, or otherwise unanswerable).  @info is always
 *  filled.  Reads @zt without locks; writes only @tx and @info. */
size_t answer_build(const struct zone_table *zt, const struct answer_conf *ac,
		    enum answer_transport tr, const uint8_t *q, size_t qlen, uint8_t *tx,
		    size_t cap, struct answer_info *info);
