/* common/agg.c — aggregation table (open addressing, no allocation per event
 * once grown) and the stored-record codecs.
 *
 * Runs on the thread that owns the table (authd's writer, an ingest tool);
 * the codecs are pure.  Layout of the table:
 *   qs[]       dense querier addresses, shared by every bucket; qslots[]
 *              index them
 *   bk[]       the time buckets the table spans (the one last hit cached by
 *              its time range), each with its own
 *     origs[]  dense originators of the bucket; oslots[] index them
 *     pairs[]  open-addressing slots {orig idx, querier idx, count, first, last}
 * A slot of oslots/qslots holds 32 bits of the key's hash beside the dense
 * index + 1, so a probe touches an entry only when the hashes agree.  Tables
 * per bucket keep the entries of the bucket being filled (captures and the
 * live server fill one bucket at a time) close together in memory, and let
 * the flush sort one bucket at a time.  agg_add_batch hashes a run of events
 * first and prefetches their slots, so their cache misses overlap.
 * A new bucket's arrays are sized for as much as the bucket before it held.
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
#include "common/wire.h"

#define QTYPE_PTR 12
#define RCODE_NXDOMAIN 3

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
	wire_put_u32(buf + 4, r->queriers);
	wire_put_u64(buf + 8, r->queries);
	wire_put_u64(buf + 16, r->nxdomain);
	wire_put_u64(buf + 24, r->first_ns);
	wire_put_u64(buf + 32, r->last_ns);
	wire_put_u64(buf + 40, r->bins);
	return AGG_ORIG_LEN;
}

int agg_orig_decode(const uint8_t *buf, size_t len, struct agg_orig_rec *r)
{
	if (len != AGG_ORIG_LEN || buf[0] != AGG_REC_VERSION || buf[2] || buf[3])
		return BSC_EMALF;
	r->nbins = buf[1];
	r->queriers = wire_get_u32(buf + 4);
	r->queries = wire_get_u64(buf + 8);
	r->nxdomain = wire_get_u64(buf + 16);
	r->first_ns = wire_get_u64(buf + 24);
	r->last_ns = wire_get_u64(buf + 32);
	r->bins = wire_get_u64(buf + 40);
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
	wire_put_u32(buf + 1, r->queries);
	wire_put_u32(buf + 5, bucket_offset_ms(r->first_ns, bucket_s));
	wire_put_u32(buf + 9, bucket_offset_ms(r->last_ns, bucket_s));
	return AGG_ORIGQ_LEN;
}

int agg_origq_decode(const uint8_t *buf, size_t len, uint64_t bucket_s, struct agg_origq_rec *r)
{
	if (len != AGG_ORIGQ_LEN || buf[0] != AGG_REC_VERSION)
		return BSC_EMALF;
	uint32_t first = wire_get_u32(buf + 5);
	uint32_t last = wire_get_u32(buf + 9);
	r->queries = wire_get_u32(buf + 1);
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
	wire_put_u64(buf + 1, r->events);
	wire_put_u64(buf + 9, r->ptr);
	wire_put_u64(buf + 17, r->partial);
	wire_put_u64(buf + 25, r->other_qtype);
	wire_put_u64(buf + 33, r->other_name);
	wire_put_u64(buf + 41, r->invalid);
	return AGG_BUCKET_LEN;
}

int agg_bucket_decode(const uint8_t *buf, size_t len, struct agg_bucket_rec *r)
{
	if (len != AGG_BUCKET_LEN || buf[0] != AGG_REC_VERSION)
		return BSC_EMALF;
	r->events = wire_get_u64(buf + 1);
	r->ptr = wire_get_u64(buf + 9);
	r->partial = wire_get_u64(buf + 17);
	r->other_qtype = wire_get_u64(buf + 25);
	r->other_name = wire_get_u64(buf + 33);
	r->invalid = wire_get_u64(buf + 41);
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

#define PAIR_EMPTY UINT32_MAX
#define INIT_PAIRS 256u   /* slots of a bucket's pair table, a power of two */
#define INIT_ORIGS 64u    /* originators of a bucket; their slots are twice that */
#define INIT_QS 1024u     /* queriers; their slots are twice that */
#define KEEP_SHARE 4u     /* a flush keeps arrays of up to cap / 4 for reuse */
#define SORT_SHARE 4u     /* and sorts out of place with up to cap / 4 more */
#define RUN 32u           /* events per prefetch round of agg_add_batch */
#define TAG_MASK 0xffffffff00000000ull
#define PREFETCH_PAIRS 6u /* the flush's pair sort reads this far ahead in a run */

struct agg_pair {          /* 20 bytes: one open-addressing slot */
	uint32_t orig;     /* index into the bucket's origs[]; PAIR_EMPTY when free */
	uint32_t querier;  /* index into qs[] */
	uint32_t count;    /* saturates */
	uint32_t first_ms; /* offsets from the bucket start */
	uint32_t last_ms;
};

struct agg_orig {          /* 48 bytes */
	uint64_t bins;
	uint8_t addr[16];
	uint8_t family;    /* AF_INET or AF_INET6 */
	uint8_t pad[3];
	uint32_t queries;
	uint32_t nxdomain;
	uint32_t first_ms;
	uint32_t last_ms;
	uint32_t npairs;   /* pairs of this originator */
};

struct agg_querier {       /* 20 bytes */
	uint8_t addr[16];
	uint8_t family;
	uint8_t pad[3];
};

/* One time bucket: its counters, and its originators and pairs. */
struct agg_bucket {
	uint64_t start_s;
	uint64_t base_ns;        /* start_s in ns */
	struct agg_bucket_rec st;
	struct agg_orig *origs;
	uint64_t *oslots;        /* 2 * origs_cap: hash tag | (index + 1); 0 = free */
	struct agg_pair *pairs;
	size_t norigs, origs_cap;
	size_t npairs, pair_slots;
	bool sorted;             /* the flush put the pairs into key order */
};

struct agg {
	uint32_t bucket_len, bin_len;
	uint64_t len_ns;         /* bucket_len in ns */
	uint64_t bin_recip;      /* floor(2^64 / bin length in ms) + 1 */
	uint8_t nbins;
	bool classless;
	bool full;
	size_t cap;
	size_t mem;              /* bytes of the arrays held */
	uint64_t seed[3];

	struct agg_querier *qs;
	uint64_t *qslots;        /* 2 * qs_cap, as oslots */
	size_t nqs, qs_cap;

	unsigned nbuckets;
	unsigned cur;            /* the bucket last hit ... */
	uint64_t cur_lo_ns;      /* ... its start, and its length (0: none) */
	uint64_t cur_len_ns;
	size_t npairs, norigs;   /* over every bucket */
	size_t expect_pairs;     /* a new bucket's arrays are sized for these */
	size_t expect_origs;
	uint64_t events, dropped;
	struct agg_bucket bk[AGG_MAX_BUCKETS];
};

static size_t pairs_bytes(size_t slots)
{
	return slots * sizeof(struct agg_pair);
}

static size_t origs_bytes(size_t cap)
{
	return cap * (sizeof(struct agg_orig) + 2 * sizeof(uint64_t));
}

static size_t qs_bytes(size_t cap)
{
	return cap * (sizeof(struct agg_querier) + 2 * sizeof(uint64_t));
}

size_t agg_mem_bytes(const struct agg *a)
{
	return sizeof *a + a->mem;
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
 * whoever sends queries, so fixed hashing would invite collision floods.
 * The low bits pick the slot, the high 32 bits are the slot's tag. */
static inline uint64_t hash_addr(const struct agg *a, const uint8_t *addr, uint8_t family)
{
	uint64_t lo, hi;

	memcpy(&lo, addr, 8);
	memcpy(&hi, addr + 8, 8);
	return mix64(mix64(lo ^ a->seed[0] ^ ((uint64_t)family << 48)) ^ hi ^ a->seed[1]);
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

/* The pair's slot hash comes from the hashes of its two addresses, not
 * from their table indexes, so that agg_add_batch can prefetch the slot
 * before the originator or the querier is even in the table. */
static inline uint64_t hash_pair(const struct agg *a, uint64_t ho, uint64_t hq)
{
	return mix64(ho ^ (hq << 29 | hq >> 35) ^ a->seed[2]);
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

static size_t bucket_bytes(const struct agg_bucket *b)
{
	return pairs_bytes(b->pair_slots) + origs_bytes(b->origs_cap);
}

static void bucket_release(struct agg *a, struct agg_bucket *b)
{
	a->mem -= bucket_bytes(b);
	mem_free(b->pairs);
	mem_free(b->origs);
	mem_free(b->oslots);
	b->pairs = NULL;
	b->origs = NULL;
	b->oslots = NULL;
	b->pair_slots = b->origs_cap = 0;
}

static void qs_release(struct agg *a)
{
	a->mem -= qs_bytes(a->qs_cap);
	mem_free(a->qs);
	mem_free(a->qslots);
	a->qs = NULL;
	a->qslots = NULL;
	a->qs_cap = 0;
}

/* Empty the table; keep arrays of up to cap / KEEP_SHARE bytes (cleared) for
 * the next round, free the others. */
void agg_reset(struct agg *a)
{
	size_t budget = a->cap / KEEP_SHARE;

	if (a->qs) {
		size_t n = qs_bytes(a->qs_cap);
		if (n <= budget) {
			budget -= n;
			memset(a->qslots, 0, 2 * a->qs_cap * sizeof *a->qslots);
		} else {
			qs_release(a);
		}
	}
	for (unsigned i = 0; i < AGG_MAX_BUCKETS; i++) {
		struct agg_bucket *b = &a->bk[i];
		if (b->pairs) {
			size_t n = bucket_bytes(b);
			if (n <= budget) {
				budget -= n;
				memset(b->pairs, 0xff, pairs_bytes(b->pair_slots));
				memset(b->oslots, 0, 2 * b->origs_cap * sizeof *b->oslots);
			} else {
				bucket_release(a, b);
			}
		}
		b->norigs = 0;
		b->npairs = 0;
		b->sorted = false;
		memset(&b->st, 0, sizeof b->st);
	}
	a->nqs = 0;
	a->npairs = 0;
	a->norigs = 0;
	a->nbuckets = 0;
	a->cur = 0;
	a->cur_lo_ns = 0;
	a->cur_len_ns = 0;
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
	a->len_ns = (uint64_t)len * NS_PER_S;
	a->bin_recip = UINT64_MAX / ((uint64_t)bin * 1000u) + 1;
	a->nbins = (uint8_t)(len / bin);
	a->classless = !o->no_classless;
	a->cap = cap;
	seed_init(a);
	*out = a;
	return 0;
}

void agg_free(struct agg *a)
{
	if (!a)
		return;
	for (unsigned i = 0; i < AGG_MAX_BUCKETS; i++)
		bucket_release(a, &a->bk[i]);
	qs_release(a);
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
static int bucket_add(struct agg *a, uint64_t t_ns)
{
	uint64_t start = bucket_start(t_ns, a->bucket_len);
	unsigned i;

	for (i = 0; i < a->nbuckets; i++) {
		if (a->bk[i].start_s == start)
			goto hit;
	}
	if (a->nbuckets == AGG_MAX_BUCKETS)
		return -1;
	if (a->cur_len_ns) {
		a->expect_pairs = a->bk[a->cur].npairs;
		a->expect_origs = a->bk[a->cur].norigs;
	}
	i = a->nbuckets++;
	a->bk[i].start_s = start;
	a->bk[i].base_ns = start * NS_PER_S;
	if (a->nbuckets >= AGG_MAX_BUCKETS * 3 / 4)
		a->full = true;
hit:
	a->cur = i;
	a->cur_lo_ns = a->bk[i].base_ns;
	a->cur_len_ns = a->len_ns;
	return (int)i;
}

static inline int bucket_index(struct agg *a, uint64_t t_ns)
{
	if (t_ns - a->cur_lo_ns < a->cur_len_ns)
		return (int)a->cur;
	return bucket_add(a, t_ns);
}

/* The first arrays of a bucket.  False when the cap or the allocator says no. */
static bool bucket_init(struct agg *a, struct agg_bucket *b)
{
	/* Sized for as many pairs and originators as the bucket filled before
	 * this one (the next hour of a capture is much like the last), so it
	 * need not grow step by step, as far as the cap leaves room. */
	size_t ps = INIT_PAIRS, oc = INIT_ORIGS;
	while (ps * 3 < (a->expect_pairs + 1) * 4)
		ps *= 2;
	while (oc < a->expect_origs)
		oc *= 2;
	while ((ps > INIT_PAIRS || oc > INIT_ORIGS) &&
	       !fits(a, pairs_bytes(ps) + origs_bytes(oc))) {
		ps = ps > INIT_PAIRS ? ps / 2 : ps;
		oc = oc > INIT_ORIGS ? oc / 2 : oc;
	}
	size_t n = pairs_bytes(ps) + origs_bytes(oc);

	if (!fits(a, n))
		return false;
	b->pairs = mem_alloc(pairs_bytes(ps));
	b->origs = mem_alloc(oc * sizeof *b->origs);
	b->oslots = mem_calloc(2 * oc, sizeof *b->oslots);
	if (!b->pairs || !b->origs || !b->oslots) {
		mem_free(b->pairs);
		mem_free(b->origs);
		mem_free(b->oslots);
		b->pairs = NULL;
		b->origs = NULL;
		b->oslots = NULL;
		return false;
	}
	/* probed at random: huge pages, when large, spare most TLB misses */
	mem_hint_huge(b->pairs, pairs_bytes(ps));
	mem_hint_huge(b->origs, oc * sizeof *b->origs);
	mem_hint_huge(b->oslots, 2 * oc * sizeof *b->oslots);
	memset(b->pairs, 0xff, pairs_bytes(ps));
	b->pair_slots = ps;
	b->origs_cap = oc;
	a->mem += n;
	return true;
}

static bool qs_init(struct agg *a)
{
	size_t n = qs_bytes(INIT_QS);

	if (!fits(a, n))
		return false;
	a->qs = mem_alloc(INIT_QS * sizeof *a->qs);
	a->qslots = mem_calloc(2 * INIT_QS, sizeof *a->qslots);
	if (!a->qs || !a->qslots) {
		mem_free(a->qs);
		mem_free(a->qslots);
		a->qs = NULL;
		a->qslots = NULL;
		return false;
	}
	a->qs_cap = INIT_QS;
	a->mem += n;
	return true;
}

/* Put dense index @i with hash @h into @slots (@mask + 1 of them). */
static inline void slot_put(uint64_t *slots, size_t mask, uint64_t h, size_t i)
{
	size_t j = h & mask;

	while (slots[j])
		j = (j + 1) & mask;
	slots[j] = (h & TAG_MASK) | (uint64_t)(i + 1);
}

/* Double a dense array of @esize-byte entries (@n used, capacity *@cap) and
 * rebuild its slot index (twice the capacity) from the entries, whose
 * address and family are at @addr_off and @fam_off.  False when the cap or
 * the allocator says no (nothing changed then). */
static bool dense_grow(struct agg *a, void **dense, size_t esize, size_t n, size_t *cap,
		       uint64_t **slots, size_t addr_off, size_t fam_off)
{
	size_t ncap = *cap * 2;
	size_t extra = (ncap - *cap) * (esize + 2 * sizeof(uint64_t));

	if (!fits(a, extra))
		return false;
	uint64_t *ns = mem_calloc(2 * ncap, sizeof *ns);
	if (!ns)
		return false;
	void *nd = mem_realloc(*dense, ncap * esize);
	if (!nd) {
		mem_free(ns);
		return false;
	}
	mem_hint_huge(ns, 2 * ncap * sizeof *ns);
	mem_hint_huge(nd, ncap * esize);
	*dense = nd;
	size_t mask = 2 * ncap - 1;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = (const uint8_t *)nd + i * esize;
		slot_put(ns, mask, hash_addr(a, e + addr_off, e[fam_off]), i);
	}
	mem_free(*slots);
	*slots = ns;
	*cap = ncap;
	a->mem += extra;
	return true;
}

/* Find or add @addr (hash @h) in a dense array of @esize-byte entries (@n
 * used, capacity *@cap, address and family at @addr_off and @fam_off) and
 * its slot index, growing both when full.  Returns its index, or -1 when it
 * is new and does not fit (the table is marked full). */
static inline int64_t dense_get(struct agg *a, void **dense, size_t esize, size_t *n,
				size_t *cap, uint64_t **slots, size_t addr_off, size_t fam_off,
				const struct bsc_addr *addr, uint64_t h)
{
	uint64_t tag = h & TAG_MASK;

	for (;;) {
		size_t mask = 2 * *cap - 1;
		size_t j = h & mask;
		for (uint64_t s; (s = (*slots)[j]) != 0; j = (j + 1) & mask) {
			if ((s & TAG_MASK) != tag)
				continue;
			const uint8_t *e = (const uint8_t *)*dense + ((uint32_t)s - 1) * esize;
			if (e[fam_off] == addr->family && addr16_eq(e + addr_off, addr->bytes))
				return (uint32_t)s - 1;
		}
		if (*n < *cap) {
			size_t i = (*n)++;
			uint8_t *e = (uint8_t *)*dense + i * esize;
			memset(e, 0, esize);
			memcpy(e + addr_off, addr->bytes, 16);
			e[fam_off] = addr->family;
			(*slots)[j] = tag | (uint64_t)(i + 1);
			if (*n == *cap && !fits(a, *cap * (esize + 2 * sizeof(uint64_t))))
				a->full = true;
			return (int64_t)i;
		}
		if (!dense_grow(a, dense, esize, *n, cap, slots, addr_off, fam_off)) {
			a->full = true;
			return -1;
		}
	}
}

/* Find or add originator @addr (hash @h) in bucket @b.  Returns its index,
 * or -1 when it is new and does not fit. */
static int64_t orig_get(struct agg *a, struct agg_bucket *b, const struct bsc_addr *addr,
			uint64_t h)
{
	if (!b->oslots && !bucket_init(a, b)) {
		a->full = true;
		return -1;
	}
	size_t n = b->norigs;
	void *d = b->origs;
	int64_t i = dense_get(a, &d, sizeof *b->origs, &b->norigs, &b->origs_cap, &b->oslots,
			      offsetof(struct agg_orig, addr), offsetof(struct agg_orig, family),
			      addr, h);
	b->origs = d;
	a->norigs += b->norigs - n;
	return i;
}

static int64_t querier_get(struct agg *a, const struct bsc_addr *addr, uint64_t h)
{
	if (!a->qslots && !qs_init(a)) {
		a->full = true;
		return -1;
	}
	void *d = a->qs;
	int64_t i = dense_get(a, &d, sizeof *a->qs, &a->nqs, &a->qs_cap, &a->qslots,
			      offsetof(struct agg_querier, addr),
			      offsetof(struct agg_querier, family), addr, h);
	a->qs = d;
	return i;
}

static bool pairs_grow(struct agg *a, struct agg_bucket *b)
{
	size_t nslots = b->pair_slots * 2;
	size_t extra = pairs_bytes(nslots) - pairs_bytes(b->pair_slots);

	if (!fits(a, extra))
		return false;
	struct agg_pair *np = mem_alloc(pairs_bytes(nslots));
	if (!np)
		return false;
	mem_hint_huge(np, pairs_bytes(nslots));
	memset(np, 0xff, pairs_bytes(nslots));
	size_t mask = nslots - 1;
	for (size_t i = 0; i < b->pair_slots; i++) {
		const struct agg_pair *p = &b->pairs[i];
		if (p->orig == PAIR_EMPTY)
			continue;
		const struct agg_orig *o = &b->origs[p->orig];
		const struct agg_querier *q = &a->qs[p->querier];
		uint64_t h = hash_pair(a, hash_addr(a, o->addr, o->family),
				       hash_addr(a, q->addr, q->family));
		size_t j = h & mask;
		while (np[j].orig != PAIR_EMPTY)
			j = (j + 1) & mask;
		np[j] = *p;
	}
	mem_free(b->pairs);
	b->pairs = np;
	b->pair_slots = nslots;
	a->mem += extra;
	return true;
}

/* The pair slot of (o, q) in bucket @b: the existing one, or a free one to
 * fill.  NULL when a new pair does not fit. */
static struct agg_pair *pair_slot(struct agg *a, struct agg_bucket *b, uint32_t o, uint32_t q,
				  uint64_t ho, uint64_t hq)
{
	uint64_t h = hash_pair(a, ho, hq);

	for (;;) {
		size_t mask = b->pair_slots - 1;
		size_t j = h & mask;
		for (;;) {
			struct agg_pair *p = &b->pairs[j];
			if (p->orig == PAIR_EMPTY)
				break;
			if (p->orig == o && p->querier == q)
				return p;
			j = (j + 1) & mask;
		}
		/* New pair: keep the load at most 3/4 while the cap allows
		 * growing, then accept up to 9/10 while the caller flushes. */
		if ((b->npairs + 1) * 4 <= b->pair_slots * 3)
			return &b->pairs[j];
		if (!a->full && pairs_grow(a, b))
			continue; /* slots moved: probe again */
		a->full = true;
		if ((b->npairs + 1) * 10 > b->pair_slots * 9)
			return NULL;
		return &b->pairs[j];
	}
}

static unsigned full_bits(uint8_t family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

/* Bin (0..63) of the ms offset @ms: a multiplication by the reciprocal of
 * the bin length, exact for every offset below 2^32 ms. */
static inline unsigned bin_of(const struct agg *a, uint32_t ms)
{
#ifdef __SIZEOF_INT128__
	unsigned i = (unsigned)(((unsigned __int128)ms * a->bin_recip) >> 64);
#else
	unsigned i = (unsigned)(ms / ((uint64_t)a->bin_len * 1000u));
#endif
	return i < BUCKET_BINS_MAX ? i : BUCKET_BINS_MAX - 1;
}

/* Aggregate one PTR query (hashes of its originator and querier: @ho, @hq)
 * into bucket @b.  Returns 0 or BSC_ENOSPC. */
static int add_ptr(struct agg *a, struct agg_bucket *b, const struct query_event *ev,
		   uint64_t ho, uint64_t hq)
{
	int64_t oi = orig_get(a, b, &ev->orig.addr, ho);
	if (oi < 0)
		return BSC_ENOSPC;
	int64_t qi = querier_get(a, &ev->querier, hq);
	if (qi < 0)
		return BSC_ENOSPC;
	struct agg_pair *p = pair_slot(a, b, (uint32_t)oi, (uint32_t)qi, ho, hq);
	if (!p)
		return BSC_ENOSPC;

	/* bucket_index put the time inside the bucket: the offset fits */
	uint32_t ms = (uint32_t)((ev->time_ns - b->base_ns) / NS_PER_MS);
	if (p->orig == PAIR_EMPTY) {
		p->orig = (uint32_t)oi;
		p->querier = (uint32_t)qi;
		p->count = 1;
		p->first_ms = ms;
		p->last_ms = ms;
		b->npairs++;
		a->npairs++;
		b->origs[oi].npairs++;
	} else {
		if (p->count != UINT32_MAX)
			p->count++;
		if (ms < p->first_ms)
			p->first_ms = ms;
		if (ms > p->last_ms)
			p->last_ms = ms;
	}

	struct agg_orig *o = &b->origs[oi];
	if (o->queries == 0 || ms < o->first_ms)
		o->first_ms = ms;
	if (o->queries == 0 || ms > o->last_ms)
		o->last_ms = ms;
	o->queries++;
	if (ev->rcode == RCODE_NXDOMAIN)
		o->nxdomain++;
	o->bins |= 1ull << bin_of(a, ms);
	if (o->queries >= (1u << 31)) /* long before the u32 counters wrap */
		a->full = true;
	return 0;
}

/* What an event counts as. */
enum ev_class { EC_OTHER_NAME, EC_PARTIAL, EC_OTHER_QTYPE, EC_INVALID, EC_PTR };

static inline enum ev_class classify(const struct agg *a, const struct query_event *ev)
{
	const struct revname *rn = &ev->orig;
	bool host = rn->kind == REVNAME_FULL ||
		    (rn->kind == REVNAME_CLASSLESS && a->classless &&
		     rn->addr.prefix == full_bits(rn->addr.family));

	if (rn->kind == REVNAME_NONE)
		return EC_OTHER_NAME;
	if (!host)
		return EC_PARTIAL;
	if (ev->qtype != QTYPE_PTR)
		return EC_OTHER_QTYPE;
	if (!full_bits(ev->querier.family) || !full_bits(rn->addr.family))
		return EC_INVALID;
	return EC_PTR;
}

/* Count one classified event.  Returns 0 or BSC_ENOSPC (not counted). */
static inline int add_one(struct agg *a, const struct query_event *ev, enum ev_class c,
			  uint64_t ho, uint64_t hq)
{
	int b = bucket_index(a, ev->time_ns);
	if (b < 0)
		return BSC_ENOSPC;
	struct agg_bucket *bk = &a->bk[b];
	struct agg_bucket_rec *st = &bk->st;

	switch (c) {
	case EC_OTHER_NAME:
		st->other_name++;
		break;
	case EC_PARTIAL:
		st->partial++;
		break;
	case EC_OTHER_QTYPE:
		st->other_qtype++;
		break;
	case EC_INVALID:
		st->invalid++;
		break;
	default: {
		int rc = add_ptr(a, bk, ev, ho, hq);
		if (rc < 0)
			return rc;
		st->ptr++;
		break;
	}
	}
	st->events++;
	a->events++;
	return 0;
}

int agg_add(struct agg *a, const struct query_event *ev)
{
	enum ev_class c = classify(a, ev);
	uint64_t ho = 0, hq = 0;

	if (c == EC_PTR) {
		ho = hash_addr(a, ev->orig.addr.bytes, ev->orig.addr.family);
		hq = hash_addr(a, ev->querier.bytes, ev->querier.family);
	}
	int rc = add_one(a, ev, c, ho, hq);
	if (rc < 0)
		return rc;
	return a->full ? AGG_FULL : 0;
}

/* Up to RUN events: hash them all and prefetch the first slot of each
 * lookup (originator, querier, pair); then the originator entries those
 * slots name; then add them in order, the memory they need mostly in cache.  The
 * prefetches are hints: the adds look everything up again.  *done gets the
 * events added.  Returns 0 or BSC_ENOSPC. */
static int add_run(struct agg *a, const struct query_event *ev, size_t n, size_t *done)
{
	uint64_t ho[RUN], hq[RUN];
	uint8_t cls[RUN];
	bool near[RUN];
	struct agg_bucket *b = a->cur_len_ns ? &a->bk[a->cur] : NULL;
	bool have = b && b->oslots && a->qslots;
	size_t omask = have ? 2 * b->origs_cap - 1 : 0, qmask = have ? 2 * a->qs_cap - 1 : 0;
	size_t pmask = have ? b->pair_slots - 1 : 0;

	for (size_t i = 0; i < n; i++) {
		const struct query_event *e = &ev[i];
		cls[i] = (uint8_t)classify(a, e);
		near[i] = false;
		ho[i] = hq[i] = 0;
		if (cls[i] != EC_PTR)
			continue;
		ho[i] = hash_addr(a, e->orig.addr.bytes, e->orig.addr.family);
		hq[i] = hash_addr(a, e->querier.bytes, e->querier.family);
		if (have && e->time_ns - a->cur_lo_ns < a->cur_len_ns) {
			near[i] = true;
			__builtin_prefetch(&b->oslots[ho[i] & omask]);
			__builtin_prefetch(&a->qslots[hq[i] & qmask]);
			/* the probe for a new pair runs on: its next line too */
			const char *ps = (const char *)&b->pairs[hash_pair(a, ho[i], hq[i]) & pmask];
			__builtin_prefetch(ps, 1);
			__builtin_prefetch(ps + 64, 1);
		}
	}
	if (have) {
		for (size_t i = 0; i < n; i++) {
			if (!near[i])
				continue;
			uint64_t so = b->oslots[ho[i] & omask];
			if (so && (so & TAG_MASK) == (ho[i] & TAG_MASK))
				__builtin_prefetch(&b->origs[(uint32_t)so - 1], 1);
		}
	}
	for (size_t i = 0; i < n; i++) {
		int rc = add_one(a, &ev[i], (enum ev_class)cls[i], ho[i], hq[i]);
		if (rc < 0) {
			*done = i;
			return rc;
		}
	}
	*done = n;
	return 0;
}

int agg_add_batch(struct agg *a, const struct query_event *evs, size_t n, size_t *added)
{
	size_t done = 0;
	int rc = 0;

	while (done < n) {
		size_t k, m = n - done < RUN ? n - done : RUN;
		rc = add_run(a, evs + done, m, &k);
		done += k;
		if (rc < 0)
			break;
	}
	if (added)
		*added = done;
	if (rc < 0)
		return rc;
	return a->full ? AGG_FULL : 0;
}

/* ---------------------------------------------------------------------------
 * Flush: queriers, and the originators of each bucket, are ranked in key
 * order (radix sorts of their addresses); each bucket's pairs are renamed to
 * ranks and sorted (scattered by originator into a second array, or in
 * place with an MSD radix sort) just before the bucket is written; one
 * write transaction, oldest bucket first, so that keys mostly arrive in
 * order and go in with MDB_APPEND.
 * ------------------------------------------------------------------------- */

/* A key of the address sort: the address as two big-endian numbers. */
struct skey {
	uint64_t hi, lo;
	uint32_t idx;
	uint32_t pad;
};

/* Sort @n keys (LSD radix, one byte a pass; bytes equal in every key are
 * skipped).  @tmp has room for @n.  Returns the array holding the result. */
static struct skey *radix_keys(struct skey *k, struct skey *tmp, size_t n)
{
	static const unsigned digits = 16;
	uint32_t cnt[16][256];

	memset(cnt, 0, sizeof cnt);
	for (size_t i = 0; i < n; i++) {
		for (unsigned d = 0; d < 8; d++) {
			cnt[d][(k[i].lo >> (8 * d)) & 0xff]++;
			cnt[8 + d][(k[i].hi >> (8 * d)) & 0xff]++;
		}
	}
	for (unsigned d = 0; d < digits; d++) {
		uint32_t *c = cnt[d], sum = 0;
		bool one = false;
		for (unsigned v = 0; v < 256; v++) {
			if (c[v] == n)
				one = true;
			uint32_t x = c[v];
			c[v] = sum;
			sum += x;
		}
		if (one)
			continue;
		unsigned sh = 8 * (d & 7);
		for (size_t i = 0; i < n; i++) {
			uint64_t w = d < 8 ? k[i].lo : k[i].hi;
			tmp[c[(w >> sh) & 0xff]++] = k[i];
		}
		struct skey *t = k;
		k = tmp;
		tmp = t;
	}
	return k;
}

/* IPv4 keys: address << 32 | index, sorted by the address (LSD radix). */
static uint64_t *radix_v4(uint64_t *k, uint64_t *tmp, size_t n)
{
	uint32_t cnt[4][256];

	memset(cnt, 0, sizeof cnt);
	for (size_t i = 0; i < n; i++) {
		for (unsigned d = 0; d < 4; d++)
			cnt[d][(k[i] >> (32 + 8 * d)) & 0xff]++;
	}
	for (unsigned d = 0; d < 4; d++) {
		uint32_t *c = cnt[d], sum = 0;
		bool one = false;
		for (unsigned v = 0; v < 256; v++) {
			if (c[v] == n)
				one = true;
			uint32_t x = c[v];
			c[v] = sum;
			sum += x;
		}
		if (one)
			continue;
		unsigned sh = 32 + 8 * d;
		for (size_t i = 0; i < n; i++)
			tmp[c[(k[i] >> sh) & 0xff]++] = k[i];
		uint64_t *t = k;
		k = tmp;
		tmp = t;
	}
	return k;
}

/* Scratch bytes rank_addrs needs for @n4 IPv4 and @n6 IPv6 entries. */
static size_t rank_scratch(size_t n4, size_t n6)
{
	size_t v4 = 2 * n4 * sizeof(uint64_t), v6 = 2 * n6 * sizeof(struct skey);
	return v4 > v6 ? v4 : v6;
}

/* rank[i] = position of entry i (of @n, @esize bytes each from @base, with
 * address and family at @addr_off and @fam_off) in key order: IPv4 before
 * IPv6 (family bytes 4 < 6), then the address bytes.  @scratch as
 * rank_scratch says. */
static void rank_addrs(const void *base, size_t esize, size_t n, size_t addr_off,
		       size_t fam_off, uint32_t *rank, void *scratch)
{
	const uint8_t *e = base;
	uint64_t *k4 = scratch;
	size_t n4 = 0, n6 = 0;

	for (size_t i = 0; i < n; i++, e += esize) {
		if (e[fam_off] == AF_INET)
			k4[n4++] = (uint64_t)wire_get_u32(e + addr_off) << 32 | i;
	}
	if (n4) {
		uint64_t *s = radix_v4(k4, k4 + n4, n4);
		for (size_t r = 0; r < n4; r++)
			rank[(uint32_t)s[r]] = (uint32_t)r;
	}
	if (n4 == n)
		return;
	struct skey *k6 = scratch;
	e = base;
	for (size_t i = 0; i < n; i++, e += esize) {
		if (e[fam_off] == AF_INET)
			continue;
		k6[n6].hi = wire_get_u64(e + addr_off);
		k6[n6].lo = wire_get_u64(e + addr_off + 8);
		k6[n6].idx = (uint32_t)i;
		k6[n6].pad = 0;
		n6++;
	}
	struct skey *s = radix_keys(k6, k6 + n6, n6);
	for (size_t r = 0; r < n6; r++)
		rank[s[r].idx] = (uint32_t)(n4 + r);
}

static size_t count_v4(const void *base, size_t esize, size_t n, size_t fam_off)
{
	const uint8_t *e = base;
	size_t n4 = 0;

	for (size_t i = 0; i < n; i++, e += esize)
		n4 += e[fam_off] == AF_INET;
	return n4;
}

/* Bits that hold every number below @n. */
static unsigned bits_below(size_t n)
{
	return n > 1 ? 64u - (unsigned)__builtin_clzll((unsigned long long)(n - 1)) : 0u;
}

static inline uint64_t pair_key(const struct agg_pair *p, unsigned qbits)
{
	return (uint64_t)p->orig << qbits | p->querier;
}

static void pairs_isort(struct agg_pair *v, size_t n, unsigned qbits)
{
	for (size_t i = 1; i < n; i++) {
		struct agg_pair p = v[i];
		uint64_t k = pair_key(&p, qbits);
		size_t j = i;
		for (; j > 0 && pair_key(&v[j - 1], qbits) > k; j--)
			v[j] = v[j - 1];
		v[j] = p;
	}
}

/* Sort @n pairs by (orig, querier) in place: MSD radix on pair_key, the
 * byte at bit @shift first (an American flag pass: with 256 digits every
 * write goes to one of 256 runs, so the pass stays in cache), then each
 * digit's run by the next byte down; short runs by insertion. */
static void pairs_msd(struct agg_pair *v, size_t n, unsigned shift, unsigned qbits)
{
	size_t start[257], next[256];

	if (n <= 32) {
		pairs_isort(v, n, qbits);
		return;
	}
	memset(start, 0, sizeof start);
	for (size_t i = 0; i < n; i++)
		start[((pair_key(&v[i], qbits) >> shift) & 0xff) + 1]++;
	for (unsigned d = 0; d < 256; d++) {
		start[d + 1] += start[d];
		next[d] = start[d];
		__builtin_prefetch(&v[next[d]], 1);
	}
	/* Each step reads the slot it writes next, which depends on the pair
	 * just read: prefetch a line ahead in every run. */
	for (unsigned d = 0; d < 256; d++) {
		while (next[d] < start[d + 1]) {
			struct agg_pair p = v[next[d]];
			unsigned e = (unsigned)(pair_key(&p, qbits) >> shift) & 0xff;
			while (e != d) {
				size_t at = next[e]++;
				struct agg_pair t = v[at];
				v[at] = p;
				if (at + PREFETCH_PAIRS < n)
					__builtin_prefetch(&v[at + PREFETCH_PAIRS], 1);
				p = t;
				e = (unsigned)(pair_key(&p, qbits) >> shift) & 0xff;
			}
			v[next[d]++] = p;
		}
	}
	if (shift == 0)
		return;
	unsigned down = shift > 8 ? shift - 8 : 0;
	for (unsigned d = 0; d < 256; d++) {
		size_t m = start[d + 1] - start[d];
		if (m > 1)
			pairs_msd(v + start[d], m, down, qbits);
	}
}

/* What the flush keeps while it writes: ranks of the queriers and of one
 * bucket's originators, and back (perm[rank] = index). */
struct flush_ctx {
	uint32_t *rank_q;
	struct agg_querier *qs;  /* the queriers in key order */
	uint32_t *rank_o, *perm_o;
	size_t *pos;             /* the scatter's next position per originator rank */
	struct agg_pair *tmp;    /* the scatter's output (NULL: sort in place) */
	void *scratch;
	unsigned qbits;
};

/* Rank bucket @b's originators; the first time, also rename its pairs to
 * ranks and put them into key order: scattered by originator into c->tmp
 * (each originator's place known from its pair count) when there is one,
 * else compacted to the front of the slots and sorted there.  The bucket's
 * hash index is given up then.  Returns the sorted pairs. */
static struct agg_pair *bucket_prepare(struct agg_bucket *b, struct flush_ctx *c)
{
	rank_addrs(b->origs, sizeof *b->origs, b->norigs, offsetof(struct agg_orig, addr),
		   offsetof(struct agg_orig, family), c->rank_o, c->scratch);
	for (size_t i = 0; i < b->norigs; i++)
		c->perm_o[c->rank_o[i]] = (uint32_t)i;
	if (!b->pairs)
		return NULL;
	if (c->tmp) {
		/* leaves the slots as they are: a retry scatters again */
		size_t sum = 0;
		for (size_t r = 0; r < b->norigs; r++) {
			c->pos[r] = sum;
			sum += b->origs[c->perm_o[r]].npairs;
		}
		for (size_t i = 0; i < b->pair_slots; i++) {
			struct agg_pair p = b->pairs[i];
			if (p.orig == PAIR_EMPTY)
				continue;
			uint32_t r = c->rank_o[p.orig];
			p.orig = r;
			p.querier = c->rank_q[p.querier];
			c->tmp[c->pos[r]++] = p;
		}
		for (size_t g = 0, r = 0; r < b->norigs; r++) {
			size_t m = c->pos[r] - g;
			if (m > 32)
				pairs_msd(c->tmp + g, m, c->qbits > 8 ? c->qbits - 8 : 0, c->qbits);
			else
				pairs_isort(c->tmp + g, m, c->qbits);
			g = c->pos[r];
		}
		return c->tmp;
	}
	if (!b->sorted) {
		size_t np = 0;
		for (size_t i = 0; i < b->pair_slots; i++) {
			struct agg_pair p = b->pairs[i];
			if (p.orig == PAIR_EMPTY)
				continue;
			p.orig = c->rank_o[p.orig];
			p.querier = c->rank_q[p.querier];
			b->pairs[np++] = p;
		}
		unsigned bits = bits_below(b->norigs) + c->qbits;
		pairs_msd(b->pairs, np, bits > 8 ? bits - 8 : 0, c->qbits);
		b->sorted = true;
	}
	return b->pairs;
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

/* Write bucket @b's pairs and originators, in key order. */
static int bucket_write(struct agg *a, struct agg_bucket *b, struct flush_ctx *c,
			struct store_batch *sb, struct agg_flush_stats *st)
{
	uint64_t bs = b->start_s, base = b->base_ns;
	size_t np = b->npairs, i = 0;

	const struct agg_pair *pairs = bucket_prepare(b, c);
	while (i < np) {
		uint32_t ro = pairs[i].orig;
		const struct agg_orig *o = &b->origs[c->perm_o[ro]];
		struct bsc_addr oa, qa;
		uint32_t newq = 0;
		int rc;

		if (ro + 2 < b->norigs) {
			const char *e = (const char *)&b->origs[c->perm_o[ro + 2]];
			__builtin_prefetch(e);
			__builtin_prefetch(e + sizeof *o - 1); /* it may span two lines */
		}
		to_addr(&oa, o->family, o->addr);
		for (; i < np && pairs[i].orig == ro; i++) {
			const struct agg_pair *p = &pairs[i];
			const struct agg_querier *q = &c->qs[p->querier];
			struct agg_origq_rec r = {
				.queries = p->count,
				.first_ns = base + p->first_ms * NS_PER_MS,
				.last_ns = base + p->last_ms * NS_PER_MS,
			};
			bool created = false;

			if (i + 8 < np)
				__builtin_prefetch(&c->qs[pairs[i + 8].querier]);
			to_addr(&qa, q->family, q->addr);
			rc = store_batch_origq(sb, bs, &oa, &qa, &r, &created);
			if (rc < 0)
				return rc;
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
		rc = store_batch_orig(sb, bs, &oa, &r);
		if (rc < 0)
			return rc;
		st->new_pairs += newq;
		st->origs++;
	}
	return store_batch_bucket(sb, bs, &b->st);
}

/* One write transaction over the buckets, oldest first (@order).  Returns 0
 * or BSC_E*. */
static int flush_write(struct agg *a, struct store *s, const uint8_t *order,
		       struct flush_ctx *c, struct agg_flush_stats *st)
{
	struct store_batch *sb;
	int rc = store_batch_begin(s, &sb);
	if (rc < 0)
		return rc;

	st->pairs = st->new_pairs = st->origs = 0;
	struct store_totals tot = { .dropped = a->dropped };
	for (unsigned k = 0; k < a->nbuckets; k++) {
		struct agg_bucket *b = &a->bk[order[k]];
		if (!b->st.events)
			continue;
		rc = bucket_write(a, b, c, sb, st);
		if (rc < 0)
			goto fail;
		tot.events += b->st.events;
		tot.ptr += b->st.ptr;
		tot.partial += b->st.partial;
		tot.other_qtype += b->st.other_qtype;
		tot.other_name += b->st.other_name;
		tot.invalid += b->st.invalid;
	}
	rc = store_batch_totals(sb, &tot, now_ns(CLOCK_REALTIME));
	if (rc < 0)
		goto fail;
	return store_batch_commit(sb);
fail:
	store_batch_abort(sb);
	return rc;
}

int agg_flush(struct agg *a, struct store *s, struct agg_flush_stats *st)
{
	struct agg_flush_stats dummy;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	uint8_t order[AGG_MAX_BUCKETS];
	struct flush_ctx c = { 0 };

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

	/* Scratch for the address sorts, sized for the largest bucket.
	 * Allocation failure here leaves the table as it was. */
	size_t n4 = count_v4(a->qs, sizeof *a->qs, a->nqs, offsetof(struct agg_querier, family));
	size_t need = rank_scratch(n4, a->nqs - n4), maxo = 0, maxp = 0;
	for (unsigned k = 0; k < a->nbuckets; k++) {
		const struct agg_bucket *b = &a->bk[k];
		n4 = count_v4(b->origs, sizeof *b->origs, b->norigs,
			      offsetof(struct agg_orig, family));
		size_t x = rank_scratch(n4, b->norigs - n4);
		if (x > need)
			need = x;
		if (b->norigs > maxo)
			maxo = b->norigs;
		if (b->npairs > maxp)
			maxp = b->npairs;
	}
	c.scratch = mem_alloc(need ? need : 1);
	c.rank_q = mem_alloc((a->nqs + 1) * sizeof *c.rank_q);
	c.qs = mem_alloc((a->nqs + 1) * sizeof *c.qs);
	c.rank_o = mem_alloc((maxo + 1) * sizeof *c.rank_o);
	c.perm_o = mem_alloc((maxo + 1) * sizeof *c.perm_o);
	c.pos = mem_alloc((maxo + 1) * sizeof *c.pos);
	int rc = BSC_ENOMEM;
	if (!c.scratch || !c.rank_q || !c.qs || !c.rank_o || !c.perm_o || !c.pos)
		goto out;
	/* The pairs of the largest bucket once more, if that stays below a
	 * quarter of the cap: the sort then reads the slots once and writes
	 * every pair in its place.  Else (or without memory) it sorts in place. */
	if (maxp * sizeof(struct agg_pair) <= a->cap / SORT_SHARE)
		c.tmp = mem_alloc((maxp + 1) * sizeof *c.tmp);

	/* Queriers in key order; each bucket is sorted as it is written. */
	rank_addrs(a->qs, sizeof *a->qs, a->nqs, offsetof(struct agg_querier, addr),
		   offsetof(struct agg_querier, family), c.rank_q, c.scratch);
	for (size_t i = 0; i < a->nqs; i++)
		c.qs[c.rank_q[i]] = a->qs[i];
	c.qbits = bits_below(a->nqs);
	for (unsigned k = 0; k < a->nbuckets; k++) {
		unsigned j = k;
		for (; j > 0 && a->bk[order[j - 1]].start_s > a->bk[k].start_s; j--)
			order[j] = order[j - 1];
		order[j] = (uint8_t)k;
	}
	for (;;) {
		rc = flush_write(a, s, order, &c, st);
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
	mem_free(c.scratch);
	mem_free(c.rank_q);
	mem_free(c.qs);
	mem_free(c.rank_o);
	mem_free(c.perm_o);
	mem_free(c.pos);
	mem_free(c.tmp);
	st->elapsed_ns = now_ns(CLOCK_MONOTONIC) - t0;
	return rc;
}
