/* detector/darknet.h — darknet taxonomy labeler core (spec §4).
 *
 * Aggregates decoded packets per (source, window) with bounded memory and
 * classifies each source with the rule table of spec §4.2.  One aggregator is
 * used by one thread; nothing here does I/O. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/addr.h"
#include "detector/fingerprint.h"

enum dk_class {
	DK_CLASS_NETWORK_SCAN = 0,
	DK_CLASS_PORT_SCAN,
	DK_CLASS_BACKSCATTER,
	DK_CLASS_IP_FRAGMENT,
	DK_CLASS_ONE_FLOW,
	DK_CLASS_SMALL_SYN,
	DK_CLASS_SMALL_UDP,
	DK_CLASS_SMALL_PING,
	DK_CLASS_OTHER,
	DK_CLASS_COUNT,
};

enum dk_size { DK_SIZE_NONE = 0, DK_SIZE_LARGE, DK_SIZE_SMALL };

enum dk_service {
	DK_SERVICE_NONE = 0,
	DK_SERVICE_SMB,    /* TCP 445 */
	DK_SERVICE_TELNET, /* TCP 23, 2323 */
	DK_SERVICE_SSH,    /* TCP 22 */
	DK_SERVICE_ICMP,   /* ICMP/ICMPv6 echo request sweep */
};

/** Every threshold of the rule table.  Fractions are of the source's packets
 *  P.  Destination thresholds scale with the darknet size N (addresses):
 *  D_x = max(d_x_min, ceil(d_x_frac * N)), clamped to N (and D_S to [2, D_L]);
 *  with N = 0 (unknown) D_x = d_x_min. */
struct dk_thresholds {
	double frag_frac;        /* rule 1: fragments >= frac*P           (0.5) */
	double backscatter_frac; /* rule 2: reply packets >= frac*P       (0.5) */
	uint32_t d_large_min;    /* rule 3: D_L floor                     (100) */
	double d_large_frac;     /*         D_L share of the darknet   (1/64) */
	double dominant_frac;    /*         top port >= frac*P            (0.8) */
	uint32_t d_small_min;    /* rule 4: D_S floor                      (10) */
	double d_small_frac;     /*         D_S share of the darknet (1/4096) */
	uint32_t p_large;        /* rule 5: P_L ports on one dst          (100) */
	uint32_t p_small;        /* rule 6: P_S                            (10) */
	double flow_frac;        /* rule 7: top flow >= frac*P            (0.9) */
	uint32_t f_min;          /* rule 7-10: F_min packets               (10) */
	uint32_t min_probes;     /* fingerprints: matching probes           (3) */
};

/** Defaults: the spec's placeholders plus the scaling above. */
void darknet_thresholds_default(struct dk_thresholds *t);
/** D_L and D_S for a darknet of @darknet_size addresses (0 = unknown). */
uint64_t darknet_d_large(const struct dk_thresholds *t, uint64_t darknet_size);
uint64_t darknet_d_small(const struct dk_thresholds *t, uint64_t darknet_size);

/** What one source did in one window (input of the rule table). */
struct dk_stats {
	uint64_t packets;
	uint64_t destinations;   /* distinct dst addresses */
	uint64_t proto_ports;    /* distinct (proto, dst port); ICMP: (proto, type) */
	uint64_t tcp, udp, icmp, other;
	uint64_t syn, synack, rst, rstack, tcp_other;
	uint64_t echo_request, echo_reply, unreach, time_exceeded, icmp_other;
	uint64_t fragments;
	uint64_t pmax_dst;       /* most (proto, port) keys on one dst */
	uint64_t dmax_port;      /* most dsts on one (proto, port) */
	uint64_t top_port_packets;
	uint8_t top_port_proto;  /* enum dk_proto of the dominant key */
	uint16_t top_port;       /* port, or ICMP type */
	uint64_t top_flow_packets; /* packets of the busiest (dst, proto, port) */
	bool estimated;          /* some counts come from sketches */
};

/** Result of the rule table. */
struct dk_class_result {
	enum dk_class cls;
	enum dk_size size;
	int rule;                /* 1..11, the rule that matched */
	enum dk_service service;
};

/** Evaluate the rule table of spec §4.2 (first match wins). */
void darknet_classify(const struct dk_stats *s, const struct dk_thresholds *t,
		      uint64_t darknet_size, struct dk_class_result *out);

#define DK_RECORD_PORTS 4

/** One output record per source and window. */
struct dk_record {
	struct bsc_addr source;
	uint64_t window_start_ns;
	enum dk_class cls;
	enum dk_size size;
	enum dk_service service;
	enum dk_proto protocol;  /* protocol of most packets */
	uint16_t ports[DK_RECORD_PORTS]; /* busiest ports of @protocol first */
	uint8_t nports;
	uint64_t packets;
	uint64_t destinations;
	enum dk_tool tool;
	struct dk_stats stats;
};

const char *darknet_class_name(enum dk_class c);   /* "network-scan", ... */
const char *darknet_size_name(enum dk_size s);     /* "large", "small", NULL */
const char *darknet_service_name(enum dk_service s); /* "smb", ..., NULL */
const char *darknet_proto_name(enum dk_proto p);   /* "tcp", "udp", ... */

typedef void (*dk_emit_fn)(const struct dk_record *rec, void *arg);

struct dk_config {
	struct dk_thresholds thr;
	uint64_t window_ns;      /* window length (default 1 h) */
	uint64_t darknet_size;   /* IPv4 addresses in the darknet, 0 = unknown; IPv6
				  * sources are judged by the floors (see README) */
	uint32_t max_sources;    /* sources kept per window (default 256 Ki, at most 2^30) */
	uint32_t exact_cap;      /* distinct (dst, proto, port) kept exactly (256, max 8192) */
	uint32_t batch;          /* packets whose tuples are added at once, grouped
				  * by source (default 1 Mi, at most 64 Mi; 1 = each
				  * at once) */
	dk_emit_fn emit;         /* called for every source when a window closes */
	void *emit_arg;
};

void darknet_config_default(struct dk_config *c);

struct dk_counters {
	uint64_t packets;        /* accepted */
	uint64_t dropped_full;   /* packets of new sources refused: table full */
	uint64_t dropped_nomem;  /* packets of new sources refused: no memory */
	uint64_t late;           /* packets older than the open window (counted in it) */
	uint64_t sketch_failed;  /* sources whose sketches could not be allocated */
	uint64_t sources;        /* sources in the open window */
	uint64_t windows;        /* windows emitted */
};

struct darknet;

/** Upper bound of the bytes one source can take with @exact_cap. */
size_t darknet_source_bytes(uint32_t exact_cap);

/** Returns 0 or BSC_ENOMEM / BSC_EINVAL (window 0, max_sources 0, no emit). */
int darknet_create(struct darknet **out, const struct dk_config *cfg);
void darknet_destroy(struct darknet *dk);
/** Add one packet (copied).  A packet of a later window first closes the open
 *  one (emitting its records).  Returns 0, BSC_ENOSPC when the source is new
 *  and max_sources are already kept (the packet is dropped and counted),
 *  BSC_ENOMEM when a new source finds no memory, or BSC_EINVAL for a packet
 *  without source/destination family.
 *  The work is staged, for speed (see detector/README.md): a packet may wait
 *  in a queue of 16 while its source's table slot is fetched (a queued packet
 *  returned 0 and is certain to count: packets are queued only while no
 *  source could be refused or need memory), and once its source is known,
 *  what it adds to the source waits in a batch of cfg.batch packets that is
 *  added grouped by source.  Each source sees its packets in arrival order,
 *  so the records are the same for every batch size.  darknet_flush() and
 *  darknet_counters() add everything waiting first. */
int darknet_add(struct darknet *dk, const struct dk_packet *p);
/** Emit the records of the open window and clear it. */
void darknet_flush(struct darknet *dk);
/** The counters, after adding the queued packets. */
void darknet_counters(struct darknet *dk, struct dk_counters *out);
