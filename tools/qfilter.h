/* tools/qfilter.h — the query side shared by the offline ingest decoders
 * (pcapdns, dnstap): which DNS queries to keep (server addresses, zones),
 * how one query message becomes a struct query_event (the server's own
 * parser, authd/answer.c), and the matching of responses to queries to learn
 * the rcode.
 *
 * Threads: a struct qfilter is built once and then only read, by any number
 * of threads; a struct qfilter_queue belongs to one decoder on one thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/addr.h"
#include "common/event.h"

/** Default matching window: a query waits this long (capture time) for its
 *  response before it is delivered with EVENT_RCODE_UNKNOWN. */
#define QFILTER_WINDOW_NS 2000000000ull

struct qfilter; /* opaque: what to keep */

/** New filter that keeps every query and matches responses.  Returns 0 or
 *  BSC_ENOMEM; release with qfilter_free(). */
int qfilter_new(struct qfilter **out);
void qfilter_free(struct qfilter *f); /* NULL is a no-op */
/** Keep only queries sent to @addr: "192.0.2.1", "2001:db8::53", or a prefix
 *  "192.0.2.0/24".  Repeatable (any of them).  Returns 0 or BSC_EINVAL. */
int qfilter_add_server(struct qfilter *f, const char *addr);
/** Keep only queries whose qname is @zone or below it ("20.10.in-addr.arpa",
 *  final dot optional, "." = everything).  Repeatable.  Returns 0,
 *  BSC_EINVAL (not a domain name) or BSC_ENOMEM. */
int qfilter_add_zone(struct qfilter *f, const char *zone);
/** Response matching on (@on, the default) or off, and its window in ns
 *  (0 = QFILTER_WINDOW_NS).  Off: every event is delivered at once with
 *  EVENT_RCODE_UNKNOWN. */
void qfilter_set_match(struct qfilter *f, bool on, uint64_t window_ns);
bool qfilter_match_server(const struct qfilter *f, const struct bsc_addr *dst);
/** @lc: lower-case wire qname of @len bytes (root label included). */
bool qfilter_match_zone(const struct qfilter *f, const uint8_t *lc, size_t len);

/** What happened to DNS messages (both decoders). */
struct qfilter_stats {
	uint64_t queries;      /* DNS messages with QR=0 handed in */
	uint64_t responses;    /* DNS messages with QR=1 handed in */
	uint64_t malformed;    /* skipped: shorter than a header, or no readable question */
	uint64_t other_server; /* skipped: not sent to one of the servers */
	uint64_t other_zone;   /* skipped: qname under none of the zones */
	uint64_t events;       /* events delivered */
	uint64_t formerr;      /* of the events: malformed after the question (FORMERR) */
	uint64_t other_class;  /* of the events: class other than IN and ANY */
	uint64_t rcode_known;  /* of the events: rcode taken from the matched response */
	uint64_t unmatched;    /* responses that matched no waiting query */
};

/** Append "queries N, responses N, events N, ..." (non-zero counters past
 *  the first three) to @buf at @pos (NUL-terminated, truncated to @len).
 *  Returns the new position. */
size_t qfilter_stats_format(const struct qfilter_stats *s, char *buf, size_t len, size_t pos);

/** One DNS message seen in the input, in either direction. */
struct qfilter_msg {
	uint64_t time_ns;     /* capture / dnstap time, ns since the epoch */
	struct bsc_addr src;  /* sender: the querier for a query */
	struct bsc_addr dst;  /* receiver: the server for a query */
	uint16_t sport;
	uint16_t dport;
	bool tcp;             /* TCP (or DoT/DoH): EVENT_TCP */
	const uint8_t *wire;  /* the DNS message */
	size_t len;
};

struct qfilter_queue; /* opaque: events waiting for their response */

/** Most queries one round of qfilter_queue_push() may add before the caller
 *  pops (a 64 KiB TCP segment holds at most 3449 messages).  The queue holds
 *  up to 16384 events; it is full at 16384 - QFILTER_PUSH_MAX. */
#define QFILTER_PUSH_MAX 4096
/** Queries without a single response after which matching stops (a capture
 *  of queries alone then costs no matching). */
#define QFILTER_NO_RESPONSES 100000u

/** New queue over filter @f (borrowed for the queue's life; NULL keeps
 *  everything, matching on) counting into @st (borrowed; zeroed here).
 *  Returns 0 or BSC_ENOMEM. */
int qfilter_queue_new(struct qfilter_queue **out, const struct qfilter *f,
		      struct qfilter_stats *st);
void qfilter_queue_free(struct qfilter_queue *q); /* NULL is a no-op */
/** Hand in one message.  A query (QR=0) that is kept becomes an event in the
 *  queue; a response (QR=1) fills the rcode of the oldest waiting query with
 *  the same querier, port, transport, id and qname.  Copies what it keeps.
 *  Returns 0, or BSC_ENOMEM (the queue could not grow: the query is lost) or
 *  BSC_ENOSPC (pushed while full: a caller's bug). */
int qfilter_queue_push(struct qfilter_queue *q, const struct qfilter_msg *m);
/** True when the caller must pop before pushing again (the queue holds as
 *  many events as it may). */
bool qfilter_queue_full(const struct qfilter_queue *q);
/** Take the oldest event when it is ready (matched, its window passed, or the
 *  queue full) or, with @drain (end of input), whatever is left, in arrival
 *  order.  Returns 1 (@ev filled) or 0 (none ready).  When the queue fills up,
 *  or QFILTER_NO_RESPONSES queries came, before a single response was seen,
 *  the input is taken to have none and matching stops: events then leave at
 *  once, with EVENT_RCODE_UNKNOWN. */
int qfilter_queue_pop(struct qfilter_queue *q, struct query_event *ev, bool drain);
/** Events held. */
size_t qfilter_queue_count(const struct qfilter_queue *q);

/** Uncompressed qname of the first question of @wire (@len bytes) lower-cased
 *  into @lc (256 bytes).  Returns its length, or 0 when there is none. */
size_t qfilter_qname(const uint8_t *wire, size_t len, uint8_t *lc);
