/* common/agg.c — aggregation table (open addressing, no allocation per event
 * once grown) and the stored-record codecs.
 *
 * Runs on the thread that owns the table (authd's writer, an ingest tool);
 * the codecs are pure.  Layout of the table:
 *   buckets[]  the few time buckets the table spans (small array, last hit cached)
 *   origs[]    dense (bucket, originator) entries; oslots[] index them (idx + 1)
 *   qs[]       dense querier addresses; qslots[] index them (idx + 1)
 *   pairs[]    open-addressing slots {orig idx, querier idx, count, first, last}
 * Dense indexes stay stable until the flush, which sorts everything into key
 * order and merges it into LMDB in one write transaction. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "common/agg.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/store.h"

#define QTYPE_PTR 12
#define RCODE_NXDOMAIN 3
#define PAIR_EMPTY UINT32_MAX
#define INIT_PAIRS 4096u  /* slots, power of two */
#define INIT_DENSE 1024u  /* origs and queriers; their slots are twice that */

/* ---------------------------------------------------------------------------
 * Record codecs.  All integers big-endian.
 *
 * orig, version 1 (48 bytes)           origq, version 1 (13 bytes)
 *   0 u8  version = 1                    0 u8  version = 1
 *   1 u8  nbins (1..64)                  1 u32 queries
 *   2 u16 reserved = 0                   5 u32 first seen, ms after bucket start
 *   4 u32 distinct queriers              9 u32 last seen, ms after bucket start
 *   8 u64 PTR queries
 *  16 u64 NXDOMAIN answers             bucket counters, version 1 (49 bytes)
 *  24 u64 first seen, ns                 0 u8  version = 1
 *  32 u64 last seen, ns                  1 u64 events, 9 ptr, 17 partial,
 *  40 u64 bins bitmap (bit i = bin i)      25 other_qtype, 33 other_name, 41 invalid
 * ------------------------------------------------------------------------- */

static uint64_t sat_add64(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t sat_add32(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

size_t agg_orig_encode(const struct agg_orig_rec *r, uint8_t *buf)
{
	buf[0] = AGG_REC_VERSION;
	buf[1] = r->nbins;
	buf[2] = 0;
	buf[3] = 0;
	be_put32(buf + 4, r->queriers);
	be_put64(buf + 8, r->queries);
	be_put64(buf + 16, r->nxdomain);
	be_put64(buf + 24, r->first_ns);
	be_put64(buf + 32, r->last_ns);
	be_put64(buf + 40, r->bins);
	return AGG_ORIG_LEN;
}

int agg_orig_decode(const uint8_t *buf, size_t len, struct agg_orig_rec *r)
{
	if (len != AGG_ORIG_LEN || buf[0] != AGG_REC_VERSION || buf[2] || buf[3])
		return BSC_EMALF;
	r->nbins = buf[1];
	r->queriers = be_get32(buf + 4);
	r->queries = be_get64(buf + 8);
	r->nxdomain = be_get64(buf + 16);
	r->first_ns = be_get64(buf + 24);
	r->last_ns = be_get64(buf + 32);
	r->bins = be_get64(buf + 40);
	if (r->nbins == 0 || r->nbins > BUCKET_BINS_MAX || (r->bins & ~bucket_bins_mask(r->nbins)))
		return BSC_EMALF;
	if (r->first_ns > r->last_ns || r->queriers > r->queries || r->nxdomain > r->queries)
		return BSC_EMALF;
	return 0;
}

void agg_orig_merge(struct agg_orig_rec *into, const struct agg_orig_rec *add)
{
	bool empty = into->queries == 0;

	into->queries = sat_add64(into->queries, add->queries);
	into->nxdomain = sat_add64(into->nxdomain, add->nxdomain);
	into->queriers = sat_add32(into->queriers, add->queriers);
	if (empty || add->first_ns < into->first_ns)
		into->first_ns = add->first_ns;
	if (empty || add->last_ns > into->last_ns)
		into->last_ns = add->last_ns;
	into->bins |= add->bins;
	if (add->nbins > into->nbins)
		into->nbins = add->nbins;
}

size_t agg_origq_encode(const struct agg_origq_rec *r, uint64_t bucket_s, uint8_t *buf)
{
	buf[0] = AGG_REC_VERSION;
	be_put32(buf + 1, r->queries);
	be_put32(buf + 5, bucket_offset_ms(r->first_ns, bucket_s));
	be_put32(buf + 9, bucket_offset_ms(r->last_ns, bucket_s));
	return AGG_ORIGQ_LEN;
}

int agg_origq_decode(const uint8_t *buf, size_t len, uint64_t bucket_s, struct agg_origq_rec *r)
{
	if (len != AGG_ORIGQ_LEN || buf[0] != AGG_REC_VERSION)
		return BSC_EMALF;
	uint32_t first = be_get32(buf + 5);
	uint32_t last = be_get32(buf + 9);
	r->queries = be_get32(buf + 1);
	if (r->queries == 0 || first > last || bucket_s > (UINT64_MAX - UINT32_MAX) / NS_PER_S)
		return BSC_EMALF;
	uint64_t base = bucket_s * NS_PER_S;
	r->first_ns = base + first * NS_PER_MS;
	r->last_ns = base + last * NS_PER_MS;
	return 0;
}

void agg_origq_merge(struct agg_origq_rec *into, const struct agg_origq_rec *add)
{
	bool empty = into->queries == 0;

	into->queries = sat_add32(into->queries, add->queries);
	if (empty || add->first_ns < into->first_ns)
		into->first_ns = add->first_ns;
	if (empty || add->last_ns > into->last_ns)
		into->last_ns = add->last_ns;
}

size_t agg_bucket_encode(const struct agg_bucket_rec *r, uint8_t *buf)
{
	buf[0] = AGG_REC_VERSION;
	be_put64(buf + 1, r->events);
	be_put64(buf + 9, r->ptr);
	be_put64(buf + 17, r->partial);
	be_put64(buf + 25, r->other_qtype);
	be_put64(buf + 33, r->other_name);
	be_put64(buf + 41, r->invalid);
	return AGG_BUCKET_LEN;
}

int agg_bucket_decode(const uint8_t *buf, size_t len, struct agg_bucket_rec *r)
{
	if (len != AGG_BUCKET_LEN || buf[0] != AGG_REC_VERSION)
		return BSC_EMALF;
	r->events = be_get64(buf + 1);
	r->ptr = be_get64(buf + 9);
	r->partial = be_get64(buf + 17);
	r->other_qtype = be_get64(buf + 25);
	r->other_name = be_get64(buf + 33);
	r->invalid = be_get64(buf + 41);
	/* Every event lands in exactly one class. */
	const uint64_t parts[] = { r->ptr, r->partial, r->other_qtype, r->other_name, r->invalid };
	uint64_t sum = 0;
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		if (parts[i] > UINT64_MAX - sum)
			return BSC_EMALF;
		sum += parts[i];
	}
	return sum == r->events ? 0 : BSC_EMALF;
}

void agg_bucket_merge(struct agg_bucket_rec *into, const struct agg_bucket_rec *add)
{
	into->events += add->events;
	into->ptr += add->ptr;
	into->partial += add->partial;
	into->other_qtype += add->other_qtype;
	into->other_name += add->other_name;
	into->invalid += add->invalid;
}

/* ---------------------------------------------------------------------------
 * The table.
 * ------------------------------------------------------------------------- */

struct agg_pair {          /* 20 bytes: one open-addressing slot */
	uint32_t orig;     /* index into origs[]; PAIR_EMPTY when the slot is free */
	uint32_t querier;  /* index into qs[] */
	uint32_t count;    /* saturates */
	uint32_t first_ms; /* offsets from the bucket start */
	uint32_t last_ms;
};

struct agg_orig {          /* 48 bytes */
	uint64_t bins;
	uint8_t addr[16];
	uint16_t bucket;   /* index into buckets[] */
	uint8_t family;    /* AF_INET or AF_INET6 */
	uint8_t pad;
	uint32_t queries;
	uint32_t nxdomain;
	uint32_t first_ms;
	uint32_t last_ms;
};

struct agg_querier {       /* 20 bytes */
	uint8_t addr[16];
	uint8_t family;
	uint8_t pad[3];
};

struct agg_bucket {
	uint64_t start_s;
	struct agg_bucket_rec st;
};

struct agg {
	uint32_t bucket_len, bin_len;
	uint8_t nbins;
	bool classless;
	bool full;
	size_t cap;
	uint64_t seed[3];

	struct agg_pair *pairs;
	size_t pair_slots, npairs;

	struct agg_orig *origs;
	size_t origs_cap, norigs;
	uint32_t *oslots; /* 2 * origs_cap entries */

	struct agg_querier *qs;
	size_t qs_cap, nqs;
	uint32_t *qslots; /* 2 * qs_cap entries */

	struct agg_bucket buckets[AGG_MAX_BUCKETS];
	unsigned nbuckets, last_bucket;

	uint64_t events, dropped;
};

static size_t pairs_bytes(size_t slots)
{
	return slots * sizeof(struct agg_pair);
}

static size_t origs_bytes(size_t cap)
{
	return cap * (sizeof(struct agg_orig) + 2 * sizeof(uint32_t));
}

static size_t qs_bytes(size_t cap)
{
	return cap * (sizeof(struct agg_querier) + 2 * sizeof(uint32_t));
}

size_t agg_mem_bytes(const struct agg *a)
{
	return sizeof *a + pairs_bytes(a->pair_slots) + origs_bytes(a->origs_cap) +
	       qs_bytes(a->qs_cap);
}

/* True when growing by @extra bytes keeps the table within its cap. */
static bool fits(const struct agg *a, size_t extra)
{
	return agg_mem_bytes(a) + extra <= a->cap;
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Keyed with a random seed per table: names and sources are chosen by
 * whoever sends queries, so fixed hashing would invite collision floods. */
static inline uint64_t hash_addr(const struct agg *a, const uint8_t *addr, uint64_t extra)
{
	uint64_t lo, hi;

	memcpy(&lo, addr, 8);
	memcpy(&hi, addr + 8, 8);
	return mix64(mix64(lo ^ a->seed[0] ^ (extra << 48)) ^ hi ^ a->seed[1]);
}

static inline bool addr16_eq(const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;

	memcpy(&a0, a, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

static inline uint64_t hash_pair(const struct agg *a, uint32_t o, uint32_t q)
{
	return mix64(((uint64_t)o << 32 | q) ^ a->seed[2]);
}

static void seed_init(struct agg *a)
{
	if (getrandom(a->seed, sizeof a->seed, GRND_NONBLOCK) == (ssize_t)sizeof a->seed)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)a;
	for (size_t i = 0; i < 3; i++) {
		x = mix64(x + 0x9e3779b97f4a7c15ull);
		a->seed[i] = x;
	}
}

static void slots_clear(struct agg *a)
{
	memset(a->pairs, 0xff, pairs_bytes(a->pair_slots));
	memset(a->oslots, 0, 2 * a->origs_cap * sizeof(uint32_t));
	memset(a->qslots, 0, 2 * a->qs_cap * sizeof(uint32_t));
}

void agg_reset(struct agg *a)
{
	slots_clear(a);
	a->npairs = 0;
	a->norigs = 0;
	a->nqs = 0;
	a->nbuckets = 0;
	a->last_bucket = 0;
	a->events = 0;
	a->full = false;
}

int agg_new(struct agg **out, const struct agg_opts *o)
{
	struct agg_opts def = { 0 };
	*out = NULL;
	if (!o)
		o = &def;
	uint32_t len = o->bucket_len ? o->bucket_len : BUCKET_LEN_DEFAULT;
	uint32_t bin = o->bin_len ? o->bin_len : BUCKET_BIN_DEFAULT;
	size_t cap = o->mem_cap ? o->mem_cap : AGG_MEM_CAP_DEFAULT;
	if (!bucket_lens_valid(len, bin) || cap < AGG_MEM_CAP_MIN)
		return BSC_EINVAL;

	struct agg *a = mem_calloc(1, sizeof *a);
	if (!a)
		return BSC_ENOMEM;
	a->bucket_len = len;
	a->bin_len = bin;
	a->nbins = (uint8_t)(len / bin);
	a->classless = !o->no_classless;
	a->cap = cap;
	a->pair_slots = INIT_PAIRS;
	a->origs_cap = INIT_DENSE;
	a->qs_cap = INIT_DENSE;
	a->pairs = mem_alloc(pairs_bytes(a->pair_slots));
	a->origs = mem_alloc(a->origs_cap * sizeof *a->origs);
	a->oslots = mem_alloc(2 * a->origs_cap * sizeof *a->oslots);
	a->qs = mem_alloc(a->qs_cap * sizeof *a->qs);
	a->qslots = mem_alloc(2 * a->qs_cap * sizeof *a->qslots);
	if (!a->pairs || !a->origs || !a->oslots || !a->qs || !a->qslots) {
		agg_free(a);
		return BSC_ENOMEM;
	}
	seed_init(a);
	agg_reset(a);
	*out = a;
	return 0;
}

void agg_free(struct agg *a)
{
	if (!a)
		return;
	mem_free(a->pairs);
	mem_free(a->origs);
	mem_free(a->oslots);
	mem_free(a->qs);
	mem_free(a->qslots);
	mem_free(a);
}

size_t agg_pairs(const struct agg *a)
{
	return a->npairs;
}

size_t agg_origs(const struct agg *a)
{
	return a->norigs;
}

uint64_t agg_events(const struct agg *a)
{
	return a->events;
}

uint32_t agg_bucket_len(const struct agg *a)
{
	return a->bucket_len;
}

uint32_t agg_bin_len(const struct agg *a)
{
	return a->bin_len;
}

void agg_note_dropped(struct agg *a, uint64_t n)
{
	a->dropped = sat_add64(a->dropped, n);
}

/* Index of the bucket holding @t_ns, added when new; -1 when the table holds
 * AGG_MAX_BUCKETS buckets already. */
static int bucket_index(struct agg *a, uint64_t t_ns)
{
	uint64_t start = bucket_start(t_ns, a->bucket_len);

	if (a->nbuckets && a->buckets[a->last_bucket].start_s == start)
		return (int)a->last_bucket;
	for (unsigned i = 0; i < a->nbuckets; i++) {
		if (a->buckets[i].start_s == start) {
			a->last_bucket = i;
			return (int)i;
		}
	}
	if (a->nbuckets == AGG_MAX_BUCKETS)
		return -1;
	unsigned i = a->nbuckets++;
	memset(&a->buckets[i], 0, sizeof a->buckets[i]);
	a->buckets[i].start_s = start;
	a->last_bucket = i;
	if (a->nbuckets >= AGG_MAX_BUCKETS * 3 / 4)
		a->full = true;
	return (int)i;
}

/* Grow a dense array and its slot index (twice its capacity) to double
 * size, rehashing.  Returns false when the cap or the allocator says no. */
static bool dense_grow(struct agg *a, void **dense, size_t esize, size_t *cap, uint32_t **slots,
		       bool origs)
{
	size_t ncap = *cap * 2;
	size_t per = esize + 2 * sizeof(uint32_t);
	size_t extra = (ncap - *cap) * per;

	if (!fits(a, extra))
		return false;
	uint32_t *ns = mem_calloc(2 * ncap, sizeof *ns);
	if (!ns)
		return false;
	void *nd = mem_realloc(*dense, ncap * esize);
	if (!nd) {
		mem_free(ns);
		return false;
	}
	*dense = nd;
	size_t mask = 2 * ncap - 1;
	size_t n = origs ? a->norigs : a->nqs;
	for (size_t i = 0; i < n; i++) {
		uint64_t h;
		if (origs) {
			const struct agg_orig *e = (const struct agg_orig *)nd + i;
			h = hash_addr(a, e->addr, (uint64_t)e->bucket << 8 | e->family);
		} else {
			const struct agg_querier *e = (const struct agg_querier *)nd + i;
			h = hash_addr(a, e->addr, e->family);
		}
		size_t j = h & mask;
		while (ns[j])
			j = (j + 1) & mask;
		ns[j] = (uint32_t)(i + 1);
	}
	mem_free(*slots);
	*slots = ns;
	*cap = ncap;
	return true;
}

/* Find or add the originator @addr of bucket @b.  Returns its index, or -1
 * when the dense array is full and cannot grow. */
static int64_t orig_get(struct agg *a, unsigned b, const struct bsc_addr *addr)
{
	uint64_t h = hash_addr(a, addr->bytes, (uint64_t)b << 8 | addr->family);
	size_t mask = 2 * a->origs_cap - 1;
	size_t j = h & mask;

	for (;;) {
		uint32_t s = a->oslots[j];
		if (!s)
			break;
		const struct agg_orig *e = &a->origs[s - 1];
		if (e->bucket == b && e->family == addr->family && addr16_eq(e->addr, addr->bytes))
			return s - 1;
		j = (j + 1) & mask;
	}
	if (a->norigs == a->origs_cap) {
		void *d = a->origs;
		bool ok = dense_grow(a, &d, sizeof *a->origs, &a->origs_cap, &a->oslots, true);
		a->origs = d;
		if (!ok) {
			a->full = true;
			return -1;
		}
		return orig_get(a, b, addr); /* slots moved: probe again */
	}
	size_t i = a->norigs++;
	struct agg_orig *e = &a->origs[i];
	memset(e, 0, sizeof *e);
	memcpy(e->addr, addr->bytes, 16);
	e->bucket = (uint16_t)b;
	e->family = addr->family;
	a->oslots[j] = (uint32_t)(i + 1);
	if (a->norigs == a->origs_cap && !fits(a, origs_bytes(a->origs_cap)))
		a->full = true;
	return (int64_t)i;
}

static int64_t querier_get(struct agg *a, const struct bsc_addr *addr)
{
	uint64_t h = hash_addr(a, addr->bytes, addr->family);
	size_t mask = 2 * a->qs_cap - 1;
	size_t j = h & mask;

	for (;;) {
		uint32_t s = a->qslots[j];
		if (!s)
			break;
		const struct agg_querier *e = &a->qs[s - 1];
		if (e->family == addr->family && addr16_eq(e->addr, addr->bytes))
			return s - 1;
		j = (j + 1) & mask;
	}
	if (a->nqs == a->qs_cap) {
		void *d = a->qs;
		bool ok = dense_grow(a, &d, sizeof *a->qs, &a->qs_cap, &a->qslots, false);
		a->qs = d;
		if (!ok) {
			a->full = true;
			return -1;
		}
		return querier_get(a, addr);
	}
	size_t i = a->nqs++;
	struct agg_querier *e = &a->qs[i];
	memset(e, 0, sizeof *e);
	memcpy(e->addr, addr->bytes, 16);
	e->family = addr->family;
	a->qslots[j] = (uint32_t)(i + 1);
	if (a->nqs == a->qs_cap && !fits(a, qs_bytes(a->qs_cap)))
		a->full = true;
	return (int64_t)i;
}

static bool pairs_grow(struct agg *a)
{
	size_t nslots = a->pair_slots * 2;

	if (!fits(a, pairs_bytes(nslots) - pairs_bytes(a->pair_slots)))
		return false;
	struct agg_pair *np = mem_alloc(pairs_bytes(nslots));
	if (!np)
		return false;
	memset(np, 0xff, pairs_bytes(nslots));
	size_t mask = nslots - 1;
	for (size_t i = 0; i < a->pair_slots; i++) {
		const struct agg_pair *p = &a->pairs[i];
		if (p->orig == PAIR_EMPTY)
			continue;
		size_t j = hash_pair(a, p->orig, p->querier) & mask;
		while (np[j].orig != PAIR_EMPTY)
			j = (j + 1) & mask;
		np[j] = *p;
	}
	mem_free(a->pairs);
	a->pairs = np;
	a->pair_slots = nslots;
	return true;
}

/* The pair slot of (o, q): the existing one, or a free one to fill.  NULL
 * when a new pair does not fit. */
static struct agg_pair *pair_slot(struct agg *a, uint32_t o, uint32_t q)
{
	size_t mask = a->pair_slots - 1;
	size_t j = hash_pair(a, o, q) & mask;

	for (;;) {
		struct agg_pair *p = &a->pairs[j];
		if (p->orig == PAIR_EMPTY)
			break;
		if (p->orig == o && p->querier == q)
			return p;
		j = (j + 1) & mask;
	}
	/* New pair: keep the load at most 3/4 while the cap allows growing,
	 * then accept up to 9/10 while the caller flushes. */
	if ((a->npairs + 1) * 4 > a->pair_slots * 3) {
		if (!a->full && pairs_grow(a))
			return pair_slot(a, o, q);
		a->full = true;
		if ((a->npairs + 1) * 10 > a->pair_slots * 9)
			return NULL;
	}
	return &a->pairs[j];
}

static unsigned full_bits(uint8_t family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

/* Aggregate one PTR query for originator @orig.  Returns 0 or BSC_ENOSPC. */
static int add_ptr(struct agg *a, unsigned b, const struct query_event *ev,
		   const struct bsc_addr *orig)
{
	int64_t oi = orig_get(a, b, orig);
	if (oi < 0)
		return BSC_ENOSPC;
	int64_t qi = querier_get(a, &ev->querier);
	if (qi < 0)
		return BSC_ENOSPC;
	struct agg_pair *p = pair_slot(a, (uint32_t)oi, (uint32_t)qi);
	if (!p)
		return BSC_ENOSPC;

	uint64_t start = a->buckets[b].start_s;
	uint32_t ms = bucket_offset_ms(ev->time_ns, start);
	if (p->orig == PAIR_EMPTY) {
		p->orig = (uint32_t)oi;
		p->querier = (uint32_t)qi;
		p->count = 1;
		p->first_ms = ms;
		p->last_ms = ms;
		a->npairs++;
	} else {
		if (p->count != UINT32_MAX)
			p->count++;
		if (ms < p->first_ms)
			p->first_ms = ms;
		if (ms > p->last_ms)
			p->last_ms = ms;
	}

	struct agg_orig *o = &a->origs[oi];
	if (o->queries == 0 || ms < o->first_ms)
		o->first_ms = ms;
	if (o->queries == 0 || ms > o->last_ms)
		o->last_ms = ms;
	o->queries++;
	if (ev->rcode == RCODE_NXDOMAIN)
		o->nxdomain++;
	o->bins |= 1ull << bucket_bin(ev->time_ns, start, a->bin_len);
	if (o->queries >= (1u << 31)) /* long before the u32 counters wrap */
		a->full = true;
	return 0;
}

int agg_add(struct agg *a, const struct query_event *ev)
{
	int b = bucket_index(a, ev->time_ns);
	if (b < 0)
		return BSC_ENOSPC;
	struct agg_bucket_rec *st = &a->buckets[b].st;
	const struct revname *rn = &ev->orig;
	bool host = rn->kind == REVNAME_FULL ||
		    (rn->kind == REVNAME_CLASSLESS && a->classless &&
		     rn->addr.prefix == full_bits(rn->addr.family));

	if (rn->kind == REVNAME_NONE) {
		st->other_name++;
	} else if (!host) {
		st->partial++;
	} else if (ev->qtype != QTYPE_PTR) {
		st->other_qtype++;
	} else if (!full_bits(ev->querier.family) || !full_bits(rn->addr.family)) {
		st->invalid++;
	} else {
		int rc = add_ptr(a, (unsigned)b, ev, &rn->addr);
		if (rc < 0)
			return rc;
		st->ptr++;
	}
	st->events++;
	a->events++;
	return a->full ? AGG_FULL : 0;
}

/* ---------------------------------------------------------------------------
 * Flush.
 * ------------------------------------------------------------------------- */

static int cmp_orig_idx(const void *x, const void *y, void *arg)
{
	const struct agg *a = arg;
	const struct agg_orig *p = &a->origs[*(const uint32_t *)x];
	const struct agg_orig *q = &a->origs[*(const uint32_t *)y];
	uint64_t bp = a->buckets[p->bucket].start_s, bq = a->buckets[q->bucket].start_s;

	if (bp != bq)
		return bp < bq ? -1 : 1;
	if (p->family != q->family)
		return p->family == AF_INET ? -1 : 1; /* keys: family byte 4 < 6 */
	return memcmp(p->addr, q->addr, 16);
}

static int cmp_q_idx(const void *x, const void *y, void *arg)
{
	const struct agg *a = arg;
	const struct agg_querier *p = &a->qs[*(const uint32_t *)x];
	const struct agg_querier *q = &a->qs[*(const uint32_t *)y];

	if (p->family != q->family)
		return p->family == AF_INET ? -1 : 1;
	return memcmp(p->addr, q->addr, 16);
}

static int cmp_pair_q(const void *x, const void *y)
{
	const struct agg_pair *p = x, *q = y;

	return p->querier < q->querier ? -1 : p->querier > q->querier;
}

/* Sort pairs[0..np) by (orig, querier), where orig < no.  In place: an
 * American flag pass by orig (O(n) swaps; @tmp holds 2 * (no + 1)
 * counters), then each originator's group by querier. */
static void sort_pairs(struct agg_pair *pairs, size_t np, uint32_t *tmp, size_t no)
{
	uint32_t *next = tmp, *end = tmp + no + 1;

	memset(end, 0, (no + 1) * sizeof *end);
	for (size_t i = 0; i < np; i++)
		end[pairs[i].orig]++;
	uint32_t sum = 0;
	for (size_t o = 0; o < no; o++) {
		next[o] = sum;
		sum += end[o];
		end[o] = sum;
	}
	for (size_t o = 0; o < no; o++) {
		while (next[o] < end[o]) {
			struct agg_pair p = pairs[next[o]];
			while (p.orig != o) {
				struct agg_pair t = pairs[next[p.orig]];
				pairs[next[p.orig]++] = p;
				p = t;
			}
			pairs[next[o]++] = p;
		}
	}
	size_t b = 0;
	for (size_t o = 0; o < no; o++) {
		size_t e = end[o], n = e - b;
		if (n > 16) {
			qsort(pairs + b, n, sizeof *pairs, cmp_pair_q);
		} else {
			for (size_t i = b + 1; i < e; i++) {
				struct agg_pair p = pairs[i];
				size_t j = i;
				for (; j > b && pairs[j - 1].querier > p.querier; j--)
					pairs[j] = pairs[j - 1];
				pairs[j] = p;
			}
		}
		b = e;
	}
}

static void to_addr(struct bsc_addr *out, uint8_t family, const uint8_t *bytes)
{
	out->family = family;
	out->prefix = (uint8_t)full_bits(family);
	memcpy(out->bytes, bytes, 16);
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* One write transaction over the sorted pairs[0..np).  Returns 0 or BSC_E*. */
static int flush_write(struct agg *a, struct store *s, const uint32_t *perm_o,
		       const uint32_t *perm_q, size_t np, struct agg_flush_stats *st)
{
	struct store_batch *b;
	int rc = store_batch_begin(s, &b);
	if (rc < 0)
		return rc;

	st->pairs = st->new_pairs = st->origs = 0;
	size_t i = 0;
	while (i < np) {
		uint32_t ro = a->pairs[i].orig;
		const struct agg_orig *o = &a->origs[perm_o[ro]];
		uint64_t bs = a->buckets[o->bucket].start_s;
		uint64_t base = bs * NS_PER_S;
		struct bsc_addr oa, qa;
		uint32_t newq = 0;

		to_addr(&oa, o->family, o->addr);
		for (; i < np && a->pairs[i].orig == ro; i++) {
			const struct agg_pair *p = &a->pairs[i];
			const struct agg_querier *q = &a->qs[perm_q[p->querier]];
			struct agg_origq_rec r = {
				.queries = p->count,
				.first_ns = base + p->first_ms * NS_PER_MS,
				.last_ns = base + p->last_ms * NS_PER_MS,
			};
			bool created = false;

			to_addr(&qa, q->family, q->addr);
			rc = store_batch_origq(b, bs, &oa, &qa, &r, &created);
			if (rc < 0)
				goto fail;
			newq += created;
			st->pairs++;
		}
		struct agg_orig_rec r = {
			.queries = o->queries,
			.nxdomain = o->nxdomain,
			.queriers = newq,
			.nbins = a->nbins,
			.first_ns = base + o->first_ms * NS_PER_MS,
			.last_ns = base + o->last_ms * NS_PER_MS,
			.bins = o->bins,
		};
		rc = store_batch_orig(b, bs, &oa, &r);
		if (rc < 0)
			goto fail;
		st->new_pairs += newq;
		st->origs++;
	}

	struct store_totals tot = { .dropped = a->dropped };
	for (unsigned k = 0; k < a->nbuckets; k++) {
		const struct agg_bucket *bk = &a->buckets[k];
		if (!bk->st.events)
			continue;
		rc = store_batch_bucket(b, bk->start_s, &bk->st);
		if (rc < 0)
			goto fail;
		tot.events += bk->st.events;
		tot.ptr += bk->st.ptr;
		tot.partial += bk->st.partial;
		tot.other_qtype += bk->st.other_qtype;
		tot.other_name += bk->st.other_name;
		tot.invalid += bk->st.invalid;
	}
	rc = store_batch_totals(b, &tot, now_ns(CLOCK_REALTIME));
	if (rc < 0)
		goto fail;
	return store_batch_commit(b);
fail:
	store_batch_abort(b);
	return rc;
}

int agg_flush(struct agg *a, struct store *s, struct agg_flush_stats *st)
{
	struct agg_flush_stats dummy;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	if (a->events == 0 && a->dropped == 0) {
		agg_reset(a);
		return 0;
	}
	if (store_readonly(s))
		return BSC_EACCES;
	if (store_bucket_len(s) != a->bucket_len || store_bin_len(s) != a->bin_len) {
		log_error("store %s: bucket/bin length %u/%u s, aggregation uses %u/%u s",
			  store_path(s), store_bucket_len(s), store_bin_len(s), a->bucket_len,
			  a->bin_len);
		return BSC_EINVAL;
	}

	/* Key order of originators and queriers.  Allocation failure here
	 * leaves the table as it was. */
	uint32_t *perm_o = mem_alloc((a->norigs + 1) * sizeof *perm_o);
	uint32_t *rank_o = mem_alloc(2 * (a->norigs + 1) * sizeof *rank_o); /* sort_pairs too */
	uint32_t *perm_q = mem_alloc((a->nqs + 1) * sizeof *perm_q);
	uint32_t *rank_q = mem_alloc((a->nqs + 1) * sizeof *rank_q);
	int rc = BSC_ENOMEM;
	if (!perm_o || !rank_o || !perm_q || !rank_q)
		goto out;
	for (size_t i = 0; i < a->norigs; i++)
		perm_o[i] = (uint32_t)i;
	for (size_t i = 0; i < a->nqs; i++)
		perm_q[i] = (uint32_t)i;
	qsort_r(perm_o, a->norigs, sizeof *perm_o, cmp_orig_idx, a);
	qsort_r(perm_q, a->nqs, sizeof *perm_q, cmp_q_idx, a);
	for (size_t i = 0; i < a->norigs; i++)
		rank_o[perm_o[i]] = (uint32_t)i;
	for (size_t i = 0; i < a->nqs; i++)
		rank_q[perm_q[i]] = (uint32_t)i;

	/* From here the hash index is given up: compact the pairs to the front,
	 * renamed to ranks, and sort them into key order. */
	size_t np = 0;
	for (size_t i = 0; i < a->pair_slots; i++) {
		struct agg_pair p = a->pairs[i];
		if (p.orig == PAIR_EMPTY)
			continue;
		p.orig = rank_o[p.orig];
		p.querier = rank_q[p.querier];
		a->pairs[np++] = p;
	}
	sort_pairs(a->pairs, np, rank_o, a->norigs); /* rank_o is free again: reused */

	for (;;) {
		rc = flush_write(a, s, perm_o, perm_q, np, st);
		if (rc != BSC_ENOSPC || store_grow(s) < 0)
			break;
		st->grows++;
	}
	if (rc == 0) {
		st->events = a->events;
		st->dropped = a->dropped;
		a->dropped = 0;
	} else {
		/* The store kept its previous state; what the table held is lost
		 * and counted as dropped with the next flush that succeeds. */
		st->lost = a->events;
		a->dropped = sat_add64(a->dropped, a->events);
		log_error("store %s: flush of %llu events failed (%s); they are counted as "
			  "dropped", store_path(s), (unsigned long long)a->events,
			  rc == BSC_ENOSPC ? "LMDB map full" : bsc_strerror(rc));
	}
	agg_reset(a);
out:
	mem_free(perm_o);
	mem_free(rank_o);
	mem_free(perm_q);
	mem_free(rank_q);
	st->elapsed_ns = now_ns(CLOCK_MONOTONIC) - t0;
	return rc;
}
