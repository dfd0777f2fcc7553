/* common/agg.h — in-memory aggregation of query events per (time bucket,
 * originator, querier) and per (bucket, originator), flushed to the LMDB store
 * in one write transaction; plus the codecs of the stored records.
 *
 * A struct agg belongs to one thread (authd's writer, or an ingest tool).  The
 * record codecs are pure and run in any thread.  docs/store.md has the byte
 * layouts. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/bucket.h"
#include "common/event.h"

struct store;

/* ---- stored records (values of the orig / origq DBs and bucket counters) ---- */

#define AGG_REC_VERSION 1
#define AGG_ORIG_LEN 48   /* encoded orig value, version 1 */
#define AGG_ORIGQ_LEN 13  /* encoded origq value, version 1 */
#define AGG_BUCKET_LEN 49 /* encoded per-bucket counters, version 1 */

/** One originator in one bucket: PTR queries for its full reverse name. */
struct agg_orig_rec {
	uint64_t queries;  /* PTR queries */
	uint64_t nxdomain; /* of those, answered NXDOMAIN */
	uint32_t queriers; /* distinct queriers in the bucket (exact) */
	uint8_t nbins;     /* bins per bucket the bitmap covers (1..64) */
	uint64_t first_ns; /* first and last query, ns since the epoch */
	uint64_t last_ns;
	uint64_t bins;     /* bit i set: a query fell into bin i of the bucket */
};

/** One (originator, querier) pair in one bucket.  Times have ms precision. */
struct agg_origq_rec {
	uint32_t queries;  /* saturates at UINT32_MAX */
	uint64_t first_ns; /* ns since the epoch, a whole ms */
	uint64_t last_ns;
};

/** Counters of one bucket: what every event handed to agg_add became. */
struct agg_bucket_rec {
	uint64_t events;      /* all events of the bucket */
	uint64_t ptr;         /* PTR queries for full names: aggregated */
	uint64_t partial;     /* partial names (zone cuts, QNAME minimisation), any qtype */
	uint64_t other_qtype; /* full names asked with another qtype than PTR */
	uint64_t other_name;  /* names in our zones that are no reverse name */
	uint64_t invalid;     /* events without a usable querier address */
};

/** Encode into @buf (AGG_ORIG_LEN bytes).  Returns AGG_ORIG_LEN. */
size_t agg_orig_encode(const struct agg_orig_rec *r, uint8_t *buf);
/** Decode a stored value.  Returns 0, or BSC_EMALF (wrong length, unknown
 *  version, or values that break the invariants: first > last, queriers or
 *  nxdomain > queries, bins outside nbins). */
int agg_orig_decode(const uint8_t *buf, size_t len, struct agg_orig_rec *r);
/** Add @add into @into (counts add, first/last widen, bins OR). */
void agg_orig_merge(struct agg_orig_rec *into, const struct agg_orig_rec *add);

/** Encode relative to the bucket start @bucket_s into @buf (AGG_ORIGQ_LEN
 *  bytes); times are stored as ms offsets.  Returns AGG_ORIGQ_LEN. */
size_t agg_origq_encode(const struct agg_origq_rec *r, uint64_t bucket_s, uint8_t *buf);
/** Decode; BSC_EMALF on a wrong length, version, or first > last. */
int agg_origq_decode(const uint8_t *buf, size_t len, uint64_t bucket_s,
		     struct agg_origq_rec *r);
void agg_origq_merge(struct agg_origq_rec *into, const struct agg_origq_rec *add);

size_t agg_bucket_encode(const struct agg_bucket_rec *r, uint8_t *buf);
int agg_bucket_decode(const uint8_t *buf, size_t len, struct agg_bucket_rec *r);
void agg_bucket_merge(struct agg_bucket_rec *into, const struct agg_bucket_rec *add);

/* ---- the aggregation table ---- */

struct agg;

struct agg_opts {
	uint32_t bucket_len;  /* s; 0 = BUCKET_LEN_DEFAULT; must match the store */
	uint32_t bin_len;     /* s; 0 = BUCKET_BIN_DEFAULT */
	size_t mem_cap;       /* bytes; 0 = AGG_MEM_CAP_DEFAULT; at least AGG_MEM_CAP_MIN */
	bool no_classless;    /* true: RFC 2317 host names are counted as partial */
};

#define AGG_MEM_CAP_DEFAULT (256u << 20)
#define AGG_MEM_CAP_MIN (1u << 20)
#define AGG_MAX_BUCKETS 256 /* distinct buckets one table holds before a flush */

/** agg_add's "added, and the table reached its cap: flush now". */
#define AGG_FULL 1

/** Summary of one agg_flush. */
struct agg_flush_stats {
	uint64_t events;     /* events the flush wrote (all kinds) */
	uint64_t dropped;    /* drops noted with agg_note_dropped, written too */
	uint64_t pairs;      /* (bucket, originator, querier) entries written */
	uint64_t new_pairs;  /* of those, new in the store */
	uint64_t origs;      /* (bucket, originator) entries written */
	uint64_t lost;       /* events lost because the flush failed */
	unsigned grows;      /* times the LMDB map was grown to make room */
	uint64_t elapsed_ns; /* sort + write + commit */
};

/** New empty table; @o may be NULL for the defaults.  Returns 0, BSC_EINVAL
 *  (lengths out of range, cap too small) or BSC_ENOMEM. */
int agg_new(struct agg **out, const struct agg_opts *o);
void agg_free(struct agg *a); /* NULL is a no-op */

/** Count one event.  PTR queries for full reverse names (and, unless
 *  no_classless, RFC 2317 host names such as 5.0-63.3.3.10.in-addr.arpa) are
 *  aggregated under their originator and querier; partial names, other
 *  qtypes and other names only add to the bucket counters.
 *  Returns 0 (added), AGG_FULL (added; the table reached its memory cap or
 *  its bucket limit: flush now), or BSC_ENOSPC (not added: flush, then add it
 *  again).  No allocation except while a table below its cap grows. */
int agg_add(struct agg *a, const struct query_event *ev);
/** Count @n events, in order, as @n calls of agg_add would, but faster: the
 *  table's slots for a run of events are fetched from memory together.
 *  *@added (may be NULL) gets the number of events added.  Returns 0 (all
 *  added), AGG_FULL (all added; flush now), or BSC_ENOSPC (events
 *  [0, *added) added, the others not: flush, then add the rest again). */
int agg_add_batch(struct agg *a, const struct query_event *evs, size_t n, size_t *added);
/** Record @n events the caller had to drop; written with the next flush. */
void agg_note_dropped(struct agg *a, uint64_t n);
/** Write everything to @s in one write transaction, then empty the table.
 *  Counts add to what the store holds; distinct-querier counts stay exact.
 *  When the LMDB map is full it is grown (up to the store's map_max) and the
 *  transaction retried.  On a failed write the table is emptied too: the
 *  store keeps its previous state, st->lost tells how many events were lost,
 *  and they are added to the dropped count of the next flush that succeeds
 *  (do not count them again).  Returns 0, BSC_ENOSPC (map full at its maximum; the
 *  store stays usable), BSC_ENOMEM, BSC_EACCES (read-only store) or
 *  BSC_EINVAL (bucket/bin lengths differ from the store's) with the table
 *  kept (nothing lost), or BSC_E*.
 *  @st may be NULL.  Same thread as agg_add; the store must be read-write. */
int agg_flush(struct agg *a, struct store *s, struct agg_flush_stats *st);
/** Empty the table without writing.  Keeps arrays of up to a quarter of the
 *  cap for reuse, and frees the others. */
void agg_reset(struct agg *a);

/** Bytes of heap the table holds now (its arrays).  A flush uses some more
 *  while it runs: the sort of the largest bucket's pairs (at most a quarter
 *  of the cap; sorted in place when that is not enough) and ranks of its
 *  originators and of the queriers. */
size_t agg_mem_bytes(const struct agg *a);
size_t agg_pairs(const struct agg *a);  /* distinct (bucket, originator, querier) */
size_t agg_origs(const struct agg *a);  /* distinct (bucket, originator) */
uint64_t agg_events(const struct agg *a); /* events since the last flush */
uint32_t agg_bucket_len(const struct agg *a);
uint32_t agg_bin_len(const struct agg *a);
