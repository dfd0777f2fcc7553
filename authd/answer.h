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
 *  filled.  Reads @zt without locks; writes only @tx and @info.
 *
 *  Same as answer_prepare() then answer_build_prepared(). */
size_t answer_build(const struct zone_table *zt, const struct answer_conf *ac,
		    enum answer_transport tr, const uint8_t *q, size_t qlen, uint8_t *tx,
		    size_t cap, struct answer_info *info);

/*
 * Batches.  Answering a batch of queries one by one waits for two dependent
 * cache misses per query (the hash slot, then the node).  A worker with a
 * batch in hand hides them by going over the batch three times:
 *
 *	for each query: answer_prepare(zt, q, qlen, &p[i]);
 *	for each query: answer_prefetch(zt, &p[i]);
 *	for each query: len = answer_build_prepared(zt, ..., q, qlen, &p[i], ...);
 *
 * answer_prepare() checks the common shape of a query (QR=0, opcode 0, one
 * question of class IN, no answer or authority records, at most one OPT
 * without NSID or ECS), hashes the qname (case folded on the fly), finds its
 * zone and prefetches the hash slot; answer_prefetch() reads the slot and
 * prefetches the node's cache lines; answer_build_prepared() writes the
 * answer straight from the node for an exact match (records of the qtype, or
 * NODATA), and hands every other query to the general builder.  Whatever the
 * passes found, the answer and @info are byte for byte those of
 * answer_build().  The same @zt must be given to all three calls, and the
 * query bytes must not change in between.
 */

/** State of one query between the passes.  Private to answer.c; no need to
 *  initialise it (answer_prepare() fills it). */
struct answer_prep {
	uint64_t hash;     /* of the lower-case qname */
	const void *zone;  /* const struct zi_zone *: the qname's zone */
	uint32_t ref;      /* the node, once found */
	uint16_t qname_len;
	uint16_t payload;  /* the OPT's UDP payload size */
	uint8_t state;
	uint8_t edns;      /* 0 none, 1 OPT, 3 OPT with DO */
	uint16_t pad;
};

/** Pass 1: parse @q (@qlen bytes) as far as the fast path needs, hash the
 *  qname, and prefetch its hash slot.  Pure apart from @p. */
void answer_prepare(const struct zone_table *zt, const uint8_t *q, size_t qlen,
		    struct answer_prep *p);
/** Pass 2: read the hash slot found by answer_prepare() and prefetch the
 *  node it points to.  Optional: answer_build_prepared() reads the slot
 *  itself when this pass was skipped. */
void answer_prefetch(const struct zone_table *zt, struct answer_prep *p);
/** Pass 3: answer_build() for the query @q that @p was prepared from. */
size_t answer_build_prepared(const struct zone_table *zt, const struct answer_conf *ac,
			     enum answer_transport tr, const uint8_t *q, size_t qlen,
			     const struct answer_prep *p, uint8_t *tx, size_t cap,
			     struct answer_info *info);

/** The general builder alone (no fast path): the same result as
 *  answer_build() for every query.  For tests that compare the two. */
size_t answer_build_general(const struct zone_table *zt, const struct answer_conf *ac,
			    enum answer_transport tr, const uint8_t *q, size_t qlen, uint8_t *tx,
			    size_t cap, struct answer_info *info);
