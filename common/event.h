/* common/event.h — the query event: one per query for a name in our zones.
 *
 * Produced by authd's workers after each answer (and later by offline
 * ingest), consumed by capture.  A plain value type. */
#pragma once
#include <stdint.h>
#include "common/addr.h"
#include "common/revname.h"

enum event_flag {
	EVENT_RD = 1 << 0,   /* recursion desired in the query */
	EVENT_EDNS = 1 << 1, /* query carried OPT */
	EVENT_DO = 1 << 2,   /* DNSSEC OK */
	EVENT_TCP = 1 << 3,  /* arrived over TCP */
	EVENT_ECS = 1 << 4,  /* ecs holds the EDNS Client Subnet */
	EVENT_RCODE_UNKNOWN = 1 << 5, /* offline ingest saw no answer: rcode is 0, not known */
};

struct query_event {
	uint64_t time_ns;        /* receive time, ns since the Unix epoch */
	struct bsc_addr querier; /* source address (full length) */
	uint16_t querier_port;
	uint16_t qtype;
	uint8_t rcode;           /* the rcode we answered (0..15; 16 = BADVERS) */
	uint8_t flags;           /* enum event_flag */
	struct revname orig;     /* decoded qname; kind NONE for other names */
	struct bsc_addr ecs;     /* EDNS Client Subnet, valid with EVENT_ECS */
};
