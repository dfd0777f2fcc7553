/* detector/darknet.c — per-(source, window) aggregation and the darknet
 * taxonomy rule table (spec §4).
 *
 * Used by one thread per aggregator.  Memory per source is bounded: exact
 * (dst, proto, port) tuples up to exact_cap, then HyperLogLog sketches and
 * space-saving heavy hitters (see detector/README.md).  No allocation per
 * packet: sources live in slabs reused from window to window, a source's
 * first tuples live in the source itself. */
#include "detector/darknet.h"

#include <arpa/inet.h>
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "common/err.h"
#include "common/mem.h"
#include "common/wire.h"
#include "detector/slot4.h"

#define HLL_BITS 8                 /* 256 registers: ~6.5% standard error */
#define HLL_REGS (1u << HLL_BITS)
#define SUB_BITS 6                 /* 64 registers: ~13% */
#define SUB_REGS (1u << SUB_BITS)
#define HEAVY 4                    /* space-saving slots per dimension */
#define INLINE_TUPLES 4            /* tuples kept in the source itself */
#define BUCKET 5                   /* tuples per bucket: one cache line */
#define EXACT_MAX 8192             /* the insertion order fits in 13 bits */
#define KEY_BITS 19                /* a key: proto (3 bits) << 16 | port */
#define KEY_MASK ((1u << KEY_BITS) - 1)
#define KEY_NOPORT (7u << 16)      /* a later fragment: no transport header */
/* sources per slab (the first ones: 1, 2, 4, ... 2048), as many as one
 * huge page holds */
#define SLAB_MAX (((size_t)2 << 20) / sizeof(struct dk_src))
#define SLOTS_MIN 16               /* source table slots at first */
#define BATCH_DEFAULT (1u << 20)   /* packets added at once, grouped by source */
#define BATCH_MAX (1u << 26)       /* batch + queue indices stay far below 2^32 */
#define SOURCES_MAX (1u << 30)     /* a slot's source number stays below SLOT_V6 */
#define RADIX_BITS 11              /* the batch is split in 2^11 groups of sources */
#define LOCAL_BITS 12              /* a group is sorted by up to 12 more bits */
#define LOCAL_MAX 4096             /* entries of a group sorted into dk->local */
#define AHEAD 16                   /* packets ahead whose source is prefetched */
#define PIPE 16                    /* packets queued while their table slot is fetched */
#define EMIT_AHEAD_LINES 32        /* lines of the next source's table fetched ahead */

/* A distinct (dst, key): in the source's inline array, then in its table. */
struct dk_tuple {
	uint32_t dst;   /* IPv4 address, or a 32-bit hash of an IPv6 one */
	uint32_t kseq;  /* key | insertion order << KEY_BITS */
	uint32_t count;
};

/* The tuple table is open addressing over buckets of one cache line: a
 * lookup reads one line (a full bucket sends it on to the next). */
struct dk_bucket {
	uint32_t n;
	struct dk_tuple t[BUCKET];
};
_Static_assert(sizeof(struct dk_bucket) == 64, "a bucket is one cache line");

/* Space-saving slots: keys, counts and over-count bounds share one cache
 * line; the slots' HyperLogLogs are kept apart (struct dk_sketch). */
struct dk_heavy {
	uint32_t key[HEAVY];
	uint32_t count[HEAVY];
	uint32_t err[HEAVY];    /* over-count bound inherited from the evicted key */
};

/* Space-saving slots of flows (dst, key), in one cache line. */
struct dk_flows {
	uint32_t dst[HEAVY];
	uint32_t key[HEAVY];
	uint32_t count[HEAVY];
	uint32_t err[HEAVY];
};

/* Sketches, allocated (aligned to a cache line) when the exact table
 * overflows and seeded from it; from then on the source's packets go to
 * the sketches only.  A packet touches the first three lines, one line of
 * each HyperLogLog it adds to, and its heavy slots' HyperLogLogs. */
struct dk_sketch {
	struct dk_flows flows;  /* heavy flows */
	struct dk_heavy ports;  /* heavy (proto, port) keys, HLL of dsts */
	uint32_t last_key;      /* the last key hashed (KEY_NOPORT: none) */
	uint64_t last_hk;       /* mix64(last_key): a scan repeats its key */
	struct dk_heavy dsts;   /* heavy dsts, HLL of (proto, port) keys */
	_Alignas(64) uint8_t hll_dst[HLL_REGS];
	uint8_t hll_pt[HLL_REGS];
	uint8_t port_hll[HEAVY][SUB_REGS];
	uint8_t dst_hll[HEAVY][SUB_REGS];
};

/* One source in one window, in five cache lines: the lookup and the tuple
 * code read the first, the inline tuples and the counters follow, then the
 * fingerprint state. */
struct dk_src {
	_Alignas(64) struct bsc_addr addr;
	bool overflow;              /* a tuple did not fit: sketches rule */
	uint32_t ntuples;
	uint32_t nb;                /* buckets of @tab; 0 = the tuples are in @in */
	struct dk_bucket *tab;      /* aligned to a cache line */
	struct dk_sketch *sk;       /* NULL until overflow (or if that failed) */
	uint32_t frags, icmp6;
	struct dk_tuple in[INLINE_TUPLES];
	uint32_t cc[16];            /* packets per enum dk_count */
	struct dk_fp_state fp;
};

/* The source table: open addressing, 8 bytes a slot.  An IPv4 source is
 * found by its address alone, without reading the source; an IPv6 source by
 * 32 bits of its hash, then checked against the source's address. */
struct dk_slot {
	uint32_t tag;               /* IPv4 address, or hash >> 32 with SLOT_V6 */
	uint32_t ref;               /* source number + 1 | SLOT_V6; 0 = free */
};

#define SLOT_V6 0x80000000u

/* What count_apply() counts of a packet: one of these codes, and flags,
 * above the key bits of dk_ent.key. */
enum dk_count {
	CC_SYN, CC_SYNACK, CC_RSTACK, CC_RST, CC_TCP_OTHER, CC_TCP_NOHDR, CC_UDP,
	CC_ECHO_REQ, CC_ECHO_REP, CC_UNREACH, CC_TIMEX, CC_ICMP_OTHER, CC_ICMP_NOHDR, CC_OTHER,
};
#define META_CODE_SHIFT KEY_BITS        /* 4 bits: enum dk_count */
#define META_FRAG (1u << (KEY_BITS + 4)) /* a fragment */
#define META_V6 (1u << (KEY_BITS + 5))   /* ICMPv6 */

/* A packet waiting in the batch: all that is left to add of it. */
struct dk_ent {
	uint32_t sidx;              /* the source's number (src_at) */
	uint32_t dst;               /* dst_key() */
	uint32_t key;               /* ent_key(): the key, count code and META_* flags */
	struct dk_fp_probe fp;
};

/* A packet queued while its source's table slot is fetched. */
struct dk_pend {
	uint64_t hash;              /* addr_hash() of the source */
	uint32_t tag, v6;           /* its slot tag and family flag (pend_fill()) */
	struct bsc_addr src;        /* of an IPv4 source only the first 4 bytes */
};

struct darknet {
	struct dk_config cfg;
	struct dk_ent *batch;       /* entries not yet added, in arrival order, then the
				     * queued packets' (a large group is sorted here) */
	struct dk_ent *sorted;      /* room for sorting them by source */
	struct dk_tuple *scratch;   /* room for sorting one source's tuples */
	uint32_t group_shift;       /* source number >> group_shift = its group */
	uint32_t group_cnt[1u << RADIX_BITS]; /* packets per group in the batch */
	uint32_t local_cnt[1u << LOCAL_BITS]; /* packets per source in a group */
	struct dk_ent local[LOCAL_MAX]; /* a group sorted by source (group_sort()) */
	uint32_t nbatch;
	struct dk_pend pipe[PIPE];  /* queued packets, oldest at @pipe_head; their
				     * entries follow the batch's */
	unsigned pipe_head, npipe;
	size_t room;                /* see room_update() */
	struct dk_slot *slots;
	size_t nslots, slots_max;   /* a power of two; at most 2 * max_sources rounded up */
	struct dk_src **slabs;      /* sources in first-seen order (mem_alloc_large(),
				     * so aligned to a cache line); kept across windows */
	size_t nslabs, slabs_cap;
	size_t nsrc;
	uint32_t tab_max;           /* buckets of a full tuple table */
	bool open;
	uint64_t window_start;
	struct dk_counters cnt;
};

/* ---- names ---- */

const char *darknet_class_name(enum dk_class c)
{
	static const char *const names[DK_CLASS_COUNT] = {
		"network-scan", "port-scan", "backscatter", "ip-fragment", "one-flow",
		"small-syn", "small-udp", "small-ping", "other",
	};

	return (unsigned)c < DK_CLASS_COUNT ? names[c] : "other";
}

const char *darknet_size_name(enum dk_size s)
{
	return s == DK_SIZE_LARGE ? "large" : s == DK_SIZE_SMALL ? "small" : NULL;
}

const char *darknet_service_name(enum dk_service s)
{
	switch (s) {
	case DK_SERVICE_SMB: return "smb";
	case DK_SERVICE_TELNET: return "telnet";
	case DK_SERVICE_SSH: return "ssh";
	case DK_SERVICE_ICMP: return "icmp";
	default: return NULL;
	}
}

const char *darknet_proto_name(enum dk_proto p)
{
	switch (p) {
	case DK_PROTO_TCP: return "tcp";
	case DK_PROTO_UDP: return "udp";
	case DK_PROTO_ICMP: return "icmp";
	case DK_PROTO_ICMPV6: return "icmpv6";
	default: return "other";
	}
}

/* ---- thresholds and rules ---- */

void darknet_thresholds_default(struct dk_thresholds *t)
{
	t->frag_frac = 0.5;
	t->backscatter_frac = 0.5;
	t->d_large_min = 100;
	t->d_large_frac = 1.0 / 64;
	t->dominant_frac = 0.8;
	t->d_small_min = 10;
	t->d_small_frac = 1.0 / 4096;
	t->p_large = 100;
	t->p_small = 10;
	t->flow_frac = 0.9;
	t->f_min = 10;
	t->min_probes = 3;
}

static uint64_t scaled(uint32_t floor_abs, double frac, uint64_t n)
{
	uint64_t v = floor_abs;

	if (n > 0) {
		uint64_t f = (uint64_t)ceil(frac * (double)n);

		if (f > v)
			v = f;
		if (v > n)
			v = n;
	}
	return v;
}

uint64_t darknet_d_large(const struct dk_thresholds *t, uint64_t darknet_size)
{
	uint64_t v = scaled(t->d_large_min, t->d_large_frac, darknet_size);

	return v < 2 ? 2 : v;
}

uint64_t darknet_d_small(const struct dk_thresholds *t, uint64_t darknet_size)
{
	uint64_t v = scaled(t->d_small_min, t->d_small_frac, darknet_size);
	uint64_t l = darknet_d_large(t, darknet_size);

	if (v > l)
		v = l;
	return v < 2 ? 2 : v;
}

/* n >= frac * total; the slack absorbs rounding of fractions like 0.9. */
static bool share(uint64_t n, uint64_t total, double frac)
{
	return total > 0 && (double)n >= frac * (double)total - 1e-9 * (double)total;
}

static enum dk_service service_of(const struct dk_stats *s)
{
	if (s->top_port_proto == DK_PROTO_TCP) {
		if (s->top_port == 445)
			return DK_SERVICE_SMB;
		if (s->top_port == 23 || s->top_port == 2323)
			return DK_SERVICE_TELNET;
		if (s->top_port == 22)
			return DK_SERVICE_SSH;
	}
	if ((s->top_port_proto == DK_PROTO_ICMP && s->top_port == 8) ||
	    (s->top_port_proto == DK_PROTO_ICMPV6 && s->top_port == 128))
		return DK_SERVICE_ICMP;
	return DK_SERVICE_NONE;
}

void darknet_classify(const struct dk_stats *s, const struct dk_thresholds *t,
		      uint64_t darknet_size, struct dk_class_result *out)
{
	uint64_t p = s->packets;
	uint64_t dl = darknet_d_large(t, darknet_size);
	uint64_t ds = darknet_d_small(t, darknet_size);
	uint64_t replies = s->synack + s->rst + s->rstack + s->echo_reply + s->unreach +
			   s->time_exceeded;

	out->size = DK_SIZE_NONE;
	out->service = DK_SERVICE_NONE;
	if (p > 0 && share(s->fragments, p, t->frag_frac)) {
		out->cls = DK_CLASS_IP_FRAGMENT;
		out->rule = 1;
		return;
	}
	if (p > 0 && share(replies, p, t->backscatter_frac)) {
		out->cls = DK_CLASS_BACKSCATTER;
		out->rule = 2;
		return;
	}
	out->service = service_of(s);
	if (s->dmax_port >= dl && share(s->top_port_packets, p, t->dominant_frac)) {
		out->cls = DK_CLASS_NETWORK_SCAN;
		out->size = DK_SIZE_LARGE;
		out->rule = 3;
	} else if (s->dmax_port >= ds && s->dmax_port < dl) {
		out->cls = DK_CLASS_NETWORK_SCAN;
		out->size = DK_SIZE_SMALL;
		out->rule = 4;
	} else if (s->pmax_dst >= t->p_large) {
		out->cls = DK_CLASS_PORT_SCAN;
		out->size = DK_SIZE_LARGE;
		out->rule = 5;
	} else if (s->pmax_dst >= t->p_small) {
		out->cls = DK_CLASS_PORT_SCAN;
		out->size = DK_SIZE_SMALL;
		out->rule = 6;
	} else if (p >= t->f_min && share(s->top_flow_packets, p, t->flow_frac)) {
		out->cls = DK_CLASS_ONE_FLOW;
		out->rule = 7;
	} else if (p > 0 && p < t->f_min && s->syn == p) {
		out->cls = DK_CLASS_SMALL_SYN;
		out->rule = 8;
	} else if (p > 0 && p < t->f_min && s->udp == p) {
		out->cls = DK_CLASS_SMALL_UDP;
		out->rule = 9;
	} else if (p > 0 && p < t->f_min && s->echo_request == p) {
		out->cls = DK_CLASS_SMALL_PING;
		out->rule = 10;
	} else {
		out->cls = DK_CLASS_OTHER;
		out->rule = 11;
	}
}

/* ---- sketches ---- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void hll_add(uint8_t *regs, unsigned bits, uint64_t h)
{
	uint32_t idx = (uint32_t)(h >> (64 - bits));
	uint64_t w = h << bits;
	/* the register's bits are 0 in @w: with the last of them set, a @w of
	 * 0 gives 64 - bits + 1 */
	uint8_t rho = (uint8_t)(__builtin_clzll(w | 1ULL << (bits - 1)) + 1), r = regs[idx];

	regs[idx] = rho > r ? rho : r; /* stored either way: no branch to mispredict */
}

/* 2^-k, the weight of an HLL register holding k */
static const double pow2neg[65] = {
	0x1p-0, 0x1p-1, 0x1p-2, 0x1p-3, 0x1p-4, 0x1p-5, 0x1p-6, 0x1p-7, 0x1p-8, 0x1p-9, 0x1p-10,
	0x1p-11, 0x1p-12, 0x1p-13, 0x1p-14, 0x1p-15, 0x1p-16, 0x1p-17, 0x1p-18, 0x1p-19,
	0x1p-20, 0x1p-21, 0x1p-22, 0x1p-23, 0x1p-24, 0x1p-25, 0x1p-26, 0x1p-27, 0x1p-28,
	0x1p-29, 0x1p-30, 0x1p-31, 0x1p-32, 0x1p-33, 0x1p-34, 0x1p-35, 0x1p-36, 0x1p-37,
	0x1p-38, 0x1p-39, 0x1p-40, 0x1p-41, 0x1p-42, 0x1p-43, 0x1p-44, 0x1p-45, 0x1p-46,
	0x1p-47, 0x1p-48, 0x1p-49, 0x1p-50, 0x1p-51, 0x1p-52, 0x1p-53, 0x1p-54, 0x1p-55,
	0x1p-56, 0x1p-57, 0x1p-58, 0x1p-59, 0x1p-60, 0x1p-61, 0x1p-62, 0x1p-63, 0x1p-64
};

static uint64_t hll_estimate(const uint8_t *regs, unsigned bits)
{
	double m = (double)(1u << bits), sum = 0, e;
	double alpha = bits == 4 ? 0.673 : bits == 5 ? 0.697 : bits == 6 ? 0.709
				      : 0.7213 / (1 + 1.079 / m);
	unsigned zeros = 0;

	for (unsigned i = 0; i < (1u << bits); i++) {
		sum += pow2neg[regs[i] < 65 ? regs[i] : 64];
		zeros += regs[i] == 0;
	}
	e = alpha * m * m / sum;
	if (e <= 2.5 * m && zeros > 0)
		e = m * log(m / zeros);
	return (uint64_t)llround(e);
}

/* Space-saving: @n more packets of @key; @inner_hash (mix64 of the inner
 * value) goes into the HLL of the key's slot (@hll, one per slot). */
static inline void heavy_add(struct dk_heavy *hv, uint8_t (*hll)[SUB_REGS], uint32_t key,
			     uint64_t inner_hash, uint32_t n)
{
	int i = slot4_find(hv->key, hv->count, key);

	if (i < 0) {
		i = (int)slot4_low(hv->count);
		hv->err[i] = hv->count[i];
		hv->key[i] = key;
		memset(hll[i], 0, sizeof hll[i]);
	}
	hv->count[i] += n;
	hll_add(hll[i], SUB_BITS, inner_hash);
}

/* Space-saving over flows: @n more packets of (dst, key). */
static inline void flows_add(struct dk_flows *fl, uint32_t dst, uint32_t key, uint32_t n)
{
	int i = slot4_find2(fl->dst, fl->key, fl->count, dst, key);

	if (i < 0) {
		i = (int)slot4_low(fl->count);
		fl->err[i] = fl->count[i];
		fl->dst[i] = dst;
		fl->key[i] = key;
	}
	fl->count[i] += n;
}

/* A later fragment (KEY_NOPORT) counts as a destination only.  The key's
 * hash is kept: a scan repeats its key, and adding the same hash to an HLL
 * again changes nothing. */
static void sketch_add(struct dk_sketch *sk, uint32_t dst, uint32_t key, uint32_t n)
{
	uint64_t hd = mix64(dst);

	hll_add(sk->hll_dst, HLL_BITS, hd);
	if (key == KEY_NOPORT)
		return;
	if (key != sk->last_key) {
		sk->last_key = key;
		sk->last_hk = mix64(key);
		hll_add(sk->hll_pt, HLL_BITS, sk->last_hk);
	}
	heavy_add(&sk->ports, sk->port_hll, key, hd, n);
	heavy_add(&sk->dsts, sk->dst_hll, dst, sk->last_hk, n);
	flows_add(&sk->flows, dst, key, n);
}

/* ---- aggregation ---- */

#define HOT static inline __attribute__((always_inline))

HOT uint64_t addr_hash(const struct bsc_addr *a)
{
	uint64_t h = a->family;

	if (a->family == AF_INET) {
		uint32_t v;

		memcpy(&v, a->bytes, 4);
		return mix64(h << 32 | v);
	}
	for (int i = 0; i < 16; i += 8) {
		uint64_t w;

		memcpy(&w, a->bytes + i, 8);
		h = mix64(h ^ w);
	}
	return h;
}

static bool addr_same(const struct bsc_addr *x, const struct bsc_addr *y)
{
	uint64_t a[2], b[2];

	memcpy(a, x->bytes, 16);
	memcpy(b, y->bytes, 16);
	return x->family == y->family && ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
}

/* The IPv4 address @a as a number. */
HOT uint32_t v4_of(const struct bsc_addr *a)
{
	return wire_get_u32(a->bytes);
}

HOT uint32_t dst_key(const struct bsc_addr *a)
{
	return a->family == AF_INET ? v4_of(a) : (uint32_t)addr_hash(a);
}

/* Buckets of a full tuple table: load 3/4 at exact_cap. */
static uint32_t tab_max_of(uint32_t exact_cap)
{
	uint32_t n = (4 * exact_cap + 4 * BUCKET - 6) / (4 * BUCKET - 5);

	return n ? n : 1;
}

/* Source table slots for @max_sources: the power of two >= 2 * max_sources. */
static size_t slots_max_of(uint32_t max_sources)
{
	size_t n = SLOTS_MIN;

	while (n < 2 * (size_t)max_sources)
		n <<= 1;
	return n;
}

size_t darknet_source_bytes(uint32_t exact_cap)
{
	size_t tab = 0;

	if (exact_cap > EXACT_MAX)
		exact_cap = EXACT_MAX;
	if (exact_cap > INLINE_TUPLES)
		tab = (size_t)tab_max_of(exact_cap) * sizeof(struct dk_bucket);
	/* the source table holds at most 4 slots per source */
	return sizeof(struct dk_src) + tab + sizeof(struct dk_sketch) + 4 * sizeof(struct dk_slot);
}

void darknet_config_default(struct dk_config *c)
{
	memset(c, 0, sizeof *c);
	darknet_thresholds_default(&c->thr);
	c->window_ns = 3600ULL * 1000000000ULL;
	c->max_sources = 1u << 18;
	c->exact_cap = 256;
	c->batch = BATCH_DEFAULT;
}

static void room_update(struct darknet *dk);

int darknet_create(struct darknet **out, const struct dk_config *cfg)
{
	struct darknet *dk;

	*out = NULL;
	if (!cfg || cfg->window_ns == 0 || cfg->max_sources == 0 || !cfg->emit)
		return BSC_EINVAL;
	dk = mem_calloc(1, sizeof *dk);
	if (!dk)
		return BSC_ENOMEM;
	dk->cfg = *cfg;
	if (dk->cfg.exact_cap > EXACT_MAX)
		dk->cfg.exact_cap = EXACT_MAX;
	if (dk->cfg.max_sources > SOURCES_MAX)
		dk->cfg.max_sources = SOURCES_MAX;
	dk->tab_max = tab_max_of(dk->cfg.exact_cap);
	dk->slots_max = slots_max_of(dk->cfg.max_sources);
	dk->nslots = dk->slots_max < 1024 ? dk->slots_max : 1024;
	dk->slots = mem_calloc(dk->nslots, sizeof *dk->slots);
	if (dk->cfg.batch == 0)
		dk->cfg.batch = BATCH_DEFAULT;
	if (dk->cfg.batch > BATCH_MAX)
		dk->cfg.batch = BATCH_MAX;
	while (((uint64_t)dk->cfg.max_sources - 1) >> dk->group_shift >> RADIX_BITS)
		dk->group_shift++;
	room_update(dk);
	dk->batch = mem_alloc_large(((size_t)dk->cfg.batch + PIPE) * sizeof *dk->batch);
	dk->sorted = mem_alloc_large((size_t)dk->cfg.batch * sizeof *dk->sorted);
	dk->scratch = mem_alloc((size_t)tab_max_of(dk->cfg.exact_cap) * BUCKET * sizeof *dk->scratch);
	if (!dk->slots || !dk->batch || !dk->sorted || !dk->scratch) {
		darknet_destroy(dk);
		return BSC_ENOMEM;
	}
	*out = dk;
	return 0;
}

/* Slab @i holds 1, 2, 4, ... SLAB_MAX sources; the first sources of slab i
 * come after slab_first(i) others. */
static size_t slab_size(size_t i)
{
	return i < 12 ? (size_t)1 << i : SLAB_MAX;
}

static size_t slab_first(size_t i)
{
	return i <= 12 ? ((size_t)1 << i) - 1 : 4095 + (i - 12) * SLAB_MAX;
}

static struct dk_src *src_at(const struct darknet *dk, size_t n)
{
	size_t i;

	if (n < 4095) {
		i = 63 - (size_t)__builtin_clzll((unsigned long long)n + 1);
	} else {
		i = 12 + (n - 4095) / SLAB_MAX;
	}
	return &dk->slabs[i][n - slab_first(i)];
}

static void clear_window(struct darknet *dk)
{
	for (size_t i = 0; i < dk->nsrc; i++) {
		struct dk_src *s = src_at(dk, i);

		mem_free(s->tab);
		mem_free(s->sk);
	}
	dk->nsrc = 0;
	if (dk->slots)
		memset(dk->slots, 0, dk->nslots * sizeof *dk->slots);
	dk->cnt.sources = 0;
}

void darknet_destroy(struct darknet *dk)
{
	if (!dk)
		return;
	/* the queued packets, the batch and the open window are dropped */
	clear_window(dk);
	for (size_t i = 0; i < dk->nslabs; i++)
		mem_free(dk->slabs[i]);
	mem_free(dk->slabs);
	mem_free(dk->slots);
	mem_free(dk->batch);
	mem_free(dk->sorted);
	mem_free(dk->scratch);
	mem_free(dk);
}

/* Double the source table; false without memory. */
static bool slots_grow(struct darknet *dk)
{
	size_t n = dk->nslots * 2, mask = n - 1;
	struct dk_slot *t = mem_calloc_large(n * sizeof *t);

	if (!t)
		return false;
	for (size_t i = 0; i < dk->nslots; i++) {
		uint32_t ref = dk->slots[i].ref;
		size_t j;

		if (!ref)
			continue;
		j = addr_hash(&src_at(dk, (ref & ~SLOT_V6) - 1)->addr) & mask;
		for (; t[j].ref; j = (j + 1) & mask)
			;
		t[j] = dk->slots[i];
	}
	mem_free(dk->slots);
	dk->slots = t;
	dk->nslots = n;
	return true;
}

/* One more slab; false without memory. */
static bool slab_add(struct darknet *dk)
{
	void *mem;

	if (dk->nslabs == dk->slabs_cap) {
		struct dk_src **a = mem_grow(dk->slabs, &dk->slabs_cap, sizeof *a, 16);

		if (!a)
			return false;
		dk->slabs = a;
	}
	mem = mem_alloc_large(slab_size(dk->nslabs) * sizeof(struct dk_src));
	if (!mem)
		return false;
	dk->slabs[dk->nslabs++] = mem;
	return true;
}

/* Room for source number dk->nsrc in the slabs. */
static struct dk_src *slab_take(struct darknet *dk, int *rc)
{
	if (dk->nsrc >= slab_first(dk->nslabs) && !slab_add(dk)) {
		*rc = BSC_ENOMEM;
		return NULL;
	}
	return src_at(dk, dk->nsrc);
}

/* What finding the source of address @a takes: its hash, slot tag and
 * family flag, and as much of the address as the source keeps. */
HOT void pend_fill(struct dk_pend *q, const struct bsc_addr *a)
{
	q->hash = addr_hash(a);
	q->src.family = a->family;
	q->src.prefix = a->prefix;
	if (a->family == AF_INET) {
		memcpy(q->src.bytes, a->bytes, 4);
		q->tag = v4_of(a);
		q->v6 = 0;
	} else {
		memcpy(q->src.bytes, a->bytes, 16);
		q->tag = (uint32_t)(q->hash >> 32);
		q->v6 = SLOT_V6;
	}
}

/* A new source for the packet @q: its number, or UINT32_MAX (and *rc) when
 * it cannot be made. */
static __attribute__((noinline)) uint32_t src_new(struct darknet *dk, const struct dk_pend *q,
						  int *rc)
{
	size_t mask = dk->nslots - 1, j;
	struct dk_src *s;

	if (dk->nsrc >= dk->cfg.max_sources) {
		*rc = BSC_ENOSPC;
		return UINT32_MAX;
	}
	if (2 * (dk->nsrc + 1) > dk->nslots && dk->nslots < dk->slots_max) {
		/* without memory go on fuller, up to 7/8 */
		if (!slots_grow(dk) && 8 * (dk->nsrc + 1) > 7 * dk->nslots) {
			*rc = BSC_ENOMEM;
			return UINT32_MAX;
		}
		mask = dk->nslots - 1;
	}
	for (j = q->hash & mask; dk->slots[j].ref; j = (j + 1) & mask)
		;
	s = slab_take(dk, rc);
	if (!s)
		return UINT32_MAX;
	memset(s, 0, sizeof *s);
	s->addr.family = q->src.family;
	s->addr.prefix = q->src.prefix;
	memcpy(s->addr.bytes, q->src.bytes, q->v6 ? 16 : 4);
	dk->slots[j].tag = q->tag;
	dk->slots[j].ref = ((uint32_t)dk->nsrc + 1) | q->v6;
	dk->cnt.sources = ++dk->nsrc;
	return (uint32_t)dk->nsrc - 1;
}

/* The number of the source of the packet @q, created if new; UINT32_MAX
 * (and *rc) when it cannot be. */
HOT uint32_t src_get(struct darknet *dk, const struct dk_pend *q, int *rc)
{
	size_t mask = dk->nslots - 1, j;
	uint32_t ref;

	for (j = q->hash & mask; (ref = dk->slots[j].ref) != 0; j = (j + 1) & mask) {
		if (dk->slots[j].tag != q->tag || (ref & SLOT_V6) != q->v6)
			continue;
		if (!q->v6 || addr_same(&src_at(dk, (ref & ~SLOT_V6) - 1)->addr, &q->src))
			return (ref & ~SLOT_V6) - 1;
	}
	return src_new(dk, q, rc);
}

static uint32_t tuple_hash(uint32_t dst, uint32_t key)
{
	uint64_t x = ((uint64_t)dst << 32 | key) * 0x9e3779b97f4a7c15ULL;

	x ^= x >> 29;
	return (uint32_t)(x >> 32);
}

/* The first slot of @h in a table of @n slots. */
static uint32_t tab_pos(uint32_t h, uint32_t n)
{
	return (uint32_t)(((uint64_t)h * n) >> 32);
}

/* Tuples a table of @nb buckets holds. */
static uint32_t tab_holds(const struct darknet *dk, uint32_t nb)
{
	return nb >= dk->tab_max ? dk->cfg.exact_cap : nb * (4 * BUCKET - 5) / 4;
}

/* The bucket where (dst, key) is or would go: the first one of its chain
 * that holds it or is not full.  @*hit is the tuple, or NULL. */
static struct dk_bucket *tab_find(struct dk_bucket *tab, uint32_t nb, uint32_t dst, uint32_t key,
				  struct dk_tuple **hit)
{
	uint32_t b = tab_pos(tuple_hash(dst, key), nb);

	for (;;) {
		struct dk_bucket *bk = &tab[b];

		for (uint32_t k = 0; k < bk->n; k++) {
			if (bk->t[k].dst == dst && (bk->t[k].kseq & KEY_MASK) == key) {
				*hit = &bk->t[k];
				return bk;
			}
		}
		if (bk->n < BUCKET) {
			*hit = NULL;
			return bk;
		}
		b = b + 1 == nb ? 0 : b + 1;
	}
}

static void tab_put(struct dk_bucket *tab, uint32_t nb, const struct dk_tuple *t)
{
	uint32_t b = tab_pos(tuple_hash(t->dst, t->kseq & KEY_MASK), nb);

	while (tab[b].n == BUCKET)
		b = b + 1 == nb ? 0 : b + 1;
	tab[b].t[tab[b].n++] = *t;
}

/* Move the tuples into a table of the next size: four times as many
 * buckets, so a source's tuples are moved half as often as by doubling
 * (three times on the way to the full table at the default exact_cap);
 * false without memory. */
static bool tab_grow(struct darknet *dk, struct dk_src *s)
{
	uint32_t nb = s->nb ? s->nb * 4 : 2;
	struct dk_bucket *t;

	if (nb > dk->tab_max)
		nb = dk->tab_max;
	t = mem_calloc_aligned(64, (size_t)nb * sizeof *t);
	if (!t)
		return false;
	if (s->nb) {
		for (uint32_t b = 0; b < s->nb; b++)
			for (uint32_t k = 0; k < s->tab[b].n; k++)
				tab_put(t, nb, &s->tab[b].t[k]);
	} else {
		for (uint32_t i = 0; i < s->ntuples; i++)
			tab_put(t, nb, &s->in[i]);
	}
	mem_free(s->tab);
	s->tab = t;
	s->nb = nb;
	return true;
}

/* Tuple number @i of the source (bucket * BUCKET + place, or inline). */
static struct dk_tuple *tuple_at(struct dk_src *s, uint32_t i)
{
	return s->nb ? &s->tab[i / BUCKET].t[i % BUCKET] : &s->in[i];
}

/* The exact table is full: seed the sketches from it, in the order the
 * tuples came.  Without memory the source keeps the exact figures of its
 * first tuples as lower bounds. */
static void go_sketch(struct darknet *dk, struct dk_src *s)
{
	uint16_t order[EXACT_MAX];
	uint32_t n = s->nb ? s->nb * BUCKET : s->ntuples;

	s->overflow = true;
	s->sk = mem_calloc_aligned(64, sizeof *s->sk);
	if (!s->sk) {
		dk->cnt.sketch_failed++;
		return;
	}
	s->sk->last_key = KEY_NOPORT;
	for (uint32_t i = 0; i < n; i++) {
		if (s->nb && i % BUCKET >= s->tab[i / BUCKET].n)
			continue;
		order[tuple_at(s, i)->kseq >> KEY_BITS] = (uint16_t)i;
	}
	for (uint32_t k = 0; k < s->ntuples; k++) {
		const struct dk_tuple *x = tuple_at(s, order[k]);

		sketch_add(s->sk, x->dst, x->kseq & KEY_MASK, x->count);
	}
}

/* Count the tuple exactly while it fits, then in the sketches only: the
 * exact table is frozen then (its figures are lower bounds). */
static void tuple_add(struct darknet *dk, struct dk_src *s, uint32_t dst, uint32_t key)
{
	struct dk_tuple *hit;
	struct dk_bucket *bk;
	uint32_t i;

	if (s->overflow)
		goto sketch;
	if (!s->nb) {
		for (i = 0; i < s->ntuples; i++) {
			if (s->in[i].dst == dst && (s->in[i].kseq & KEY_MASK) == key) {
				s->in[i].count++;
				return;
			}
		}
		if (s->ntuples < INLINE_TUPLES && s->ntuples < dk->cfg.exact_cap) {
			s->in[s->ntuples] = (struct dk_tuple){
				.dst = dst, .kseq = key | s->ntuples << KEY_BITS, .count = 1 };
			s->ntuples++;
			return;
		}
		if (s->ntuples >= dk->cfg.exact_cap || !tab_grow(dk, s))
			goto full;
	}
	bk = tab_find(s->tab, s->nb, dst, key, &hit);
	if (hit) {
		hit->count++;
		return;
	}
	if (s->ntuples >= tab_holds(dk, s->nb)) {
		if (s->ntuples >= dk->cfg.exact_cap || !tab_grow(dk, s))
			goto full;
		bk = tab_find(s->tab, s->nb, dst, key, &hit);
	}
	bk->t[bk->n++] = (struct dk_tuple){ .dst = dst, .kseq = key | s->ntuples << KEY_BITS,
					    .count = 1 };
	s->ntuples++;
	return;
full:
	go_sketch(dk, s);
sketch:
	if (s->sk)
		sketch_add(s->sk, dst, key, 1);
}

/* The count code of a TCP packet by its FIN, SYN, RST and ACK bits (index
 * bits 0-3, tcp_bits()), as the rules read in order: a bare SYN; SYN and
 * ACK without RST; RST with ACK; RST; anything else. */
static const uint8_t tcp_code[16] = {
	CC_TCP_OTHER, CC_TCP_OTHER, CC_SYN,    CC_TCP_OTHER, /* -, F, S, SF */
	CC_RST,       CC_RST,       CC_RST,    CC_RST,       /* R, RF, RS, RSF */
	CC_TCP_OTHER, CC_TCP_OTHER, CC_SYNACK, CC_SYNACK,    /* A, AF, AS, ASF */
	CC_RSTACK,    CC_RSTACK,    CC_RSTACK, CC_RSTACK,    /* AR, ARF, ARS, ARSF */
};

HOT unsigned tcp_bits(uint8_t f)
{
	return (f & (DK_TCP_FIN | DK_TCP_SYN | DK_TCP_RST)) | (f & DK_TCP_ACK) >> 1;
}

/* The key of @p (proto << 16 | port or ICMP type; KEY_NOPORT for a later
 * fragment; a protocol outside enum dk_proto, a caller's bug, is "other"),
 * with its count code and flags above the key bits (see enum dk_count).
 * One switch on the protocol, the TCP flags by table (on mixed traffic
 * every branch here is a guess); an ICMP type is compared in turn. */
HOT uint32_t ent_key(const struct dk_packet *p)
{
	uint32_t m = p->fragment ? META_FRAG : 0, c, key;
	bool later = p->later_fragment;

	switch (p->proto) {
	case DK_PROTO_TCP:
		c = later ? CC_TCP_NOHDR : tcp_code[tcp_bits(p->tcp_flags)];
		key = (uint32_t)DK_PROTO_TCP << 16 | p->dport;
		break;
	case DK_PROTO_UDP:
		c = CC_UDP;
		key = (uint32_t)DK_PROTO_UDP << 16 | p->dport;
		break;
	case DK_PROTO_ICMP:
	case DK_PROTO_ICMPV6: {
		bool v6 = p->proto == DK_PROTO_ICMPV6;
		uint8_t t = p->icmp_type;

		m |= v6 ? META_V6 : 0;
		if (later)
			c = CC_ICMP_NOHDR;
		else if (t == (v6 ? 128 : 8))
			c = CC_ECHO_REQ;
		else if (t == (v6 ? 129 : 0))
			c = CC_ECHO_REP;
		else if (t == (v6 ? 1 : 3))
			c = CC_UNREACH;
		else if (t == (v6 ? 3 : 11))
			c = CC_TIMEX;
		else
			c = CC_ICMP_OTHER;
		key = (uint32_t)p->proto << 16 | t;
		break;
	}
	default:
		c = CC_OTHER;
		key = (uint32_t)DK_PROTO_OTHER << 16;
		break;
	}
	key = later ? KEY_NOPORT : key;
	return key | m | c << META_CODE_SHIFT;
}

static void count_apply(struct dk_src *s, uint32_t meta)
{
	s->cc[(meta >> META_CODE_SHIFT) & 15]++;
	s->frags += (meta & META_FRAG) != 0;
	s->icmp6 += (meta & META_V6) != 0;
}

static void emit_window(struct darknet *dk);
static void batch_apply(struct darknet *dk);

/* A packet outside the open window: open one, or close the open one. */
static void window_move(struct darknet *dk, uint64_t t)
{
	uint64_t ws = t - t % dk->cfg.window_ns;

	if (!dk->open) {
		dk->open = true;
		dk->window_start = ws;
	} else if (ws > dk->window_start) {
		batch_apply(dk);
		emit_window(dk);
		dk->window_start = ws;
	} else if (ws < dk->window_start) {
		dk->cnt.late++;
	}
}

/* Group the batch by source, stably: one counting pass over the high bits
 * of the source number (counted as the batch filled), so a group holds at
 * most 2^group_shift sources (whose memory then stays in the cache while
 * the group is added) and each source's packets stay in arrival order.
 * Returns the grouped array. */
static struct dk_ent *batch_group(struct darknet *dk)
{
	uint32_t n = dk->nbatch, shift = dk->group_shift, sum = 0;
	struct dk_ent *from = dk->batch, *to = dk->sorted;
	uint32_t *cnt = dk->group_cnt;

	for (uint32_t d = 0; d < (1u << RADIX_BITS); d++) {
		uint32_t c = cnt[d];

		cnt[d] = sum;
		sum += c;
	}
	for (uint32_t i = 0; i < n; i++)
		to[cnt[from[i].sidx >> shift]++] = from[i];
	return to; /* cnt[d] is now where group d ends (batch_apply() clears it) */
}

/* Sort the group @from[0..m) by source, stably, into @to: each source's
 * packets then follow one another, so its lines are fetched once per batch
 * and stay in the cache for all of them.  (With more than 2^LOCAL_BITS
 * sources to a group, neighbouring sources are sorted together.) */
static void group_sort(struct darknet *dk, const struct dk_ent *from, uint32_t m,
		       struct dk_ent *to)
{
	uint32_t bits = dk->group_shift < LOCAL_BITS ? dk->group_shift : LOCAL_BITS;
	uint32_t sh = dk->group_shift - bits, mask = (1u << bits) - 1, sum = 0;
	uint32_t *cnt = dk->local_cnt;

	memset(cnt, 0, ((size_t)mask + 1) * sizeof *cnt);
	for (uint32_t i = 0; i < m; i++)
		cnt[(from[i].sidx >> sh) & mask]++;
	for (uint32_t k = 0; k <= mask; k++) {
		uint32_t c = cnt[k];

		cnt[k] = sum;
		sum += c;
	}
	for (uint32_t i = 0; i < m; i++)
		to[cnt[(from[i].sidx >> sh) & mask]++] = from[i];
}

/* Always inlined, as every function that only prefetches: GCC takes such a
 * function for one without effect and drops calls to it. */
HOT void prefetch_lines(const void *p, size_t len)
{
	const char *c = p;

	for (size_t off = 0; off < len; off += 64)
		__builtin_prefetch(c + off, 1);
}

/* ring[k % AHEAD] becomes the source of e[k]; a source's lines are fetched
 * when its first packet enters the ring. */
static inline void ring_set(struct darknet *dk, const struct dk_ent *e, struct dk_src **ring,
			    uint32_t k)
{
	if (k && e[k].sidx == e[k - 1].sidx) {
		ring[k % AHEAD] = ring[(k - 1) % AHEAD];
	} else {
		ring[k % AHEAD] = src_at(dk, e[k].sidx);
		prefetch_lines(ring[k % AHEAD], sizeof(struct dk_src));
	}
}

/* The second step of fetching ahead, for e[k] (k > 0), whose source @s had
 * its lines asked for AHEAD / 2 entries earlier: a sketched source's sketch
 * with its first packet (sketches lie wherever they were allocated, apart
 * from their sources), else the bucket of the packet's tuple. */
HOT void ent_prefetch(const struct dk_ent *e, uint32_t k, const struct dk_src *s)
{
	if (s->sk) {
		if (e[k].sidx != e[k - 1].sidx)
			prefetch_lines(s->sk, sizeof *s->sk);
	} else if (s->nb) {
		uint32_t h = tuple_hash(e[k].dst, e[k].key & KEY_MASK);

		__builtin_prefetch(&s->tab[tab_pos(h, s->nb)], 1);
	}
}

/* Add the packets @e[0..m) of one group, sorted by source.  A source's
 * lines are fetched AHEAD packets before it is needed, its sketch or the
 * packet's tuple bucket AHEAD / 2 packets before. */
static void group_add(struct darknet *dk, const struct dk_ent *e, uint32_t m)
{
	struct dk_src *s, *ring[AHEAD];

	/* ring[k % AHEAD]: the source of e[k], for the AHEAD entries from i on */
	for (uint32_t k = 0; k < m && k < AHEAD; k++)
		ring_set(dk, e, ring, k);
	for (uint32_t i = 0; i < m; i++) {
		s = ring[i % AHEAD];
		if (i + AHEAD < m)
			ring_set(dk, e, ring, i + AHEAD);
		if (i + AHEAD / 2 < m)
			ent_prefetch(e, i + AHEAD / 2, ring[(i + AHEAD / 2) % AHEAD]);
		count_apply(s, e[i].key);
		if (e[i].fp.flags)
			fingerprint_apply(&s->fp, &e[i].fp);
		tuple_add(dk, s, e[i].dst, e[i].key & KEY_MASK);
	}
}

/* Add the batch to its sources, group after group (batch_group()): a
 * group's sources, tables and sketches stay in the cache while its packets
 * are sorted by source (group_sort(), into a buffer that stays in the cache,
 * or into the batch's own entries for a large group) and added. */
static void batch_apply(struct darknet *dk)
{
	uint32_t n = dk->nbatch, lo = 0;
	struct dk_ent *e;

	if (n == 0)
		return;
	e = batch_group(dk);
	for (uint32_t d = 0; d < (1u << RADIX_BITS); d++) {
		uint32_t hi = dk->group_cnt[d], m = hi - lo;
		/* the batch's entries are free now (the queued packets' follow them) */
		struct dk_ent *to = m <= LOCAL_MAX ? dk->local : dk->batch + lo;

		if (m > 1 && dk->group_shift) { /* else a group is one source */
			group_sort(dk, e + lo, m, to);
			group_add(dk, to, m);
		} else if (m) {
			group_add(dk, e + lo, m);
		}
		lo = hi;
	}
	memset(dk->group_cnt, 0, sizeof dk->group_cnt);
	/* the entries of the packets still queued move to the front */
	memmove(dk->batch, dk->batch + n, dk->npipe * sizeof *dk->batch);
	dk->nbatch = 0;
}

/* Add the packet @q whose entry waits at batch[nbatch] (all but its
 * source): find the source, and the entry joins the batch.  The entries of
 * packets still queued follow it (see batch_apply()). */
HOT int add_now(struct darknet *dk, const struct dk_pend *q)
{
	int rc = 0;
	uint32_t idx = src_get(dk, q, &rc);

	if (idx == UINT32_MAX) {
		if (rc == BSC_ENOSPC)
			dk->cnt.dropped_full++;
		else
			dk->cnt.dropped_nomem++;
		return rc;
	}
	dk->cnt.packets++;
	dk->batch[dk->nbatch++].sidx = idx;
	dk->group_cnt[idx >> dk->group_shift]++;
	return 0;
}

/* Add the oldest queued packet. */
HOT void pipe_pop(struct darknet *dk)
{
	struct dk_pend *q = &dk->pipe[dk->pipe_head];
	int rc;

	dk->pipe_head = (dk->pipe_head + 1) % PIPE;
	dk->npipe--;
	rc = add_now(dk, q);
	/* packets are queued only while no source can be refused (room_update()) */
	assert(rc == 0);
	(void)rc;
	if (dk->nbatch == dk->cfg.batch)
		batch_apply(dk);
}

/* Add the queued packets, oldest first. */
static void pipe_drain(struct darknet *dk)
{
	while (dk->npipe)
		pipe_pop(dk);
}

/* The sources there can be, counting the queued packets as new ones,
 * before one could be refused (the cap) or need memory (the slabs, the
 * table's slots): while below it a packet may be queued, otherwise it is
 * added at once, so darknet_add() can say why.  The slabs and the table
 * grow by doubling, so that is rare. */
static void room_update(struct darknet *dk)
{
	size_t r = dk->cfg.max_sources, sl = slab_first(dk->nslabs);

	if (sl < r)
		r = sl;
	if (dk->nslots < dk->slots_max && dk->nslots / 2 < r)
		r = dk->nslots / 2;
	dk->room = r;
}

/* Fill @e (all but the source) from @p. */
HOT void ent_fill(struct dk_ent *e, const struct dk_packet *p)
{
	e->dst = dst_key(&p->dst);
	e->key = ent_key(p);
	fingerprint_probe(p, &e->fp);
}

int darknet_add(struct darknet *dk, const struct dk_packet *p)
{
	struct dk_pend *q;
	int rc;

	if ((p->src.family != AF_INET && p->src.family != AF_INET6) ||
	    p->dst.family != p->src.family)
		return BSC_EINVAL;
	if (__builtin_expect(!dk->open || p->time_ns - dk->window_start >= dk->cfg.window_ns ||
			     dk->nsrc + dk->npipe >= dk->room, 0)) {
		struct dk_pend now;

		pipe_drain(dk);
		if (!dk->open || p->time_ns - dk->window_start >= dk->cfg.window_ns)
			window_move(dk, p->time_ns); /* a late packet applies nothing */
		ent_fill(&dk->batch[dk->nbatch], p);
		pend_fill(&now, &p->src);
		rc = add_now(dk, &now);
		room_update(dk);
		if (dk->nbatch == dk->cfg.batch)
			batch_apply(dk);
		return rc;
	}
	/* Queue it while its table slot is fetched; its entry waits in the
	 * batch behind those of the packets queued before it. */
	q = &dk->pipe[(dk->pipe_head + dk->npipe) % PIPE];
	pend_fill(q, &p->src);
	__builtin_prefetch(&dk->slots[q->hash & (dk->nslots - 1)]);
	ent_fill(&dk->batch[dk->nbatch + dk->npipe], p);
	if (++dk->npipe == PIPE)
		pipe_pop(dk);
	return 0;
}

/* The tuples grouped by destination, or by key (without the order bits).
 * Only the groups matter to stats_from_tuples(), not the order inside a
 * group: each figure is a count, a sum or a maximum over a whole group, and
 * keys are taken in ascending order (KEY_NOPORT last). */
static inline uint32_t ord_of(const struct dk_tuple *t, bool by_key)
{
	return by_key ? t->kseq : t->dst;
}

/* Sort @n tuples by ord_of(): insertion sort when few, else a stable LSD
 * radix sort over the bytes that differ, through @tmp (room for @n). */
static void tuples_sort(struct dk_tuple *t, uint32_t n, bool by_key, struct dk_tuple *tmp)
{
	uint32_t cnt[256], all_or = 0, all_and = ~0u;
	struct dk_tuple *from = t, *to = tmp;

	if (n <= 32) {
		for (uint32_t i = 1; i < n; i++) {
			struct dk_tuple x = t[i];
			uint32_t v = ord_of(&x, by_key);
			uint32_t j = i;

			for (; j > 0 && ord_of(&t[j - 1], by_key) > v; j--)
				t[j] = t[j - 1];
			t[j] = x;
		}
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = ord_of(&t[i], by_key);

		all_or |= v;
		all_and &= v;
	}
	for (int sh = 0; sh < 32; sh += 8) {
		uint32_t sum = 0;
		struct dk_tuple *x;

		if ((((all_or ^ all_and) >> sh) & 0xff) == 0)
			continue; /* every key has the same byte here */
		memset(cnt, 0, sizeof cnt);
		for (uint32_t i = 0; i < n; i++)
			cnt[(ord_of(&from[i], by_key) >> sh) & 0xff]++;
		for (int d = 0; d < 256; d++) {
			uint32_t c = cnt[d];

			cnt[d] = sum;
			sum += c;
		}
		for (uint32_t i = 0; i < n; i++)
			to[cnt[(ord_of(&from[i], by_key) >> sh) & 0xff]++] = from[i];
		x = from;
		from = to;
		to = x;
	}
	if (from != t)
		memcpy(t, from, (size_t)n * sizeof *t);
}

/* Keep the busiest ports (by packets) in @r, at most DK_RECORD_PORTS. */
static void top_insert(struct dk_record *r, uint64_t *cnt, uint16_t port, uint64_t n)
{
	int i = r->nports < DK_RECORD_PORTS ? r->nports++ : DK_RECORD_PORTS;

	if (i == DK_RECORD_PORTS) {
		if (n <= cnt[DK_RECORD_PORTS - 1])
			return;
		i = DK_RECORD_PORTS - 1;
	}
	for (; i > 0 && cnt[i - 1] < n; i--) {
		cnt[i] = cnt[i - 1];
		r->ports[i] = r->ports[i - 1];
	}
	cnt[i] = n;
	r->ports[i] = port;
}

/* Exact figures from the tuples (lower bounds once they overflowed), and
 * the busiest ports of @r->protocol.  Later fragments (KEY_NOPORT) count as
 * destinations only.  The tuples are compacted and sorted in place. */
static void stats_from_tuples(struct dk_src *s, struct dk_stats *st, struct dk_record *r,
			      struct dk_tuple *tmp)
{
	/* the buckets become a plain array: each tuple moves down */
	struct dk_tuple *t = s->nb ? (struct dk_tuple *)(void *)s->tab : s->in;
	uint32_t n = 0, i, run;
	uint64_t sum, cnt[DK_RECORD_PORTS] = { 0 };

	for (uint32_t b = 0; b < (s->nb ? s->nb : 1); b++) {
		/* tuple n ends before tuple k of bucket b starts, and bucket b+1 */
		uint32_t m = s->nb ? s->tab[b].n : s->ntuples;

		for (uint32_t k = 0; k < m; k++) {
			struct dk_tuple x = s->nb ? s->tab[b].t[k] : s->in[k];

			x.kseq &= KEY_MASK;
			t[n++] = x;
		}
	}
	if (n == 0)
		return;
	tuples_sort(t, n, false, tmp);
	for (i = 0, run = 0; i < n; i++) {
		if (i == 0 || t[i].dst != t[i - 1].dst) {
			st->destinations++;
			run = 0;
		}
		if (t[i].kseq == KEY_NOPORT)
			continue;
		if (t[i].count > st->top_flow_packets)
			st->top_flow_packets = t[i].count;
		if (++run > st->pmax_dst)
			st->pmax_dst = run;
	}
	tuples_sort(t, n, true, tmp);
	for (i = 0, run = 0, sum = 0; i < n && t[i].kseq != KEY_NOPORT; i++) {
		bool same = i > 0 && t[i].kseq == t[i - 1].kseq;

		run = same ? run + 1 : 1;
		sum = same ? sum + t[i].count : t[i].count;
		if (!same)
			st->proto_ports++;
		if (run > st->dmax_port)
			st->dmax_port = run;
		if (sum > st->top_port_packets) {
			st->top_port_packets = sum;
			st->top_port_proto = (uint8_t)(t[i].kseq >> 16);
			st->top_port = (uint16_t)t[i].kseq;
		}
		if ((i + 1 == n || t[i + 1].kseq != t[i].kseq) &&
		    (t[i].kseq >> 16) == (uint32_t)r->protocol && r->protocol != DK_PROTO_OTHER)
			top_insert(r, cnt, (uint16_t)t[i].kseq, sum);
	}
}

/* Replace the lower bounds by the sketch estimates. */
static void stats_from_sketch(const struct dk_sketch *sk, struct dk_stats *st,
			      struct dk_record *r)
{
	uint64_t cnt[DK_RECORD_PORTS] = { 0 };

	/* An estimate never exceeds what was counted exactly: the packets. */
	st->destinations = hll_estimate(sk->hll_dst, HLL_BITS);
	if (st->destinations > st->packets)
		st->destinations = st->packets;
	st->proto_ports = hll_estimate(sk->hll_pt, HLL_BITS);
	if (st->proto_ports > st->packets)
		st->proto_ports = st->packets;
	r->nports = 0;
	for (int i = 0; i < HEAVY; i++) {
		const struct dk_heavy *hp = &sk->ports, *hd = &sk->dsts;
		const struct dk_flows *fl = &sk->flows;
		uint64_t e;

		if (fl->count[i] && fl->count[i] - fl->err[i] > st->top_flow_packets)
			st->top_flow_packets = fl->count[i] - fl->err[i];

		if (hp->count[i]) {
			e = hll_estimate(sk->port_hll[i], SUB_BITS);
			if (e > hp->count[i])
				e = hp->count[i];
			if (e > st->dmax_port)
				st->dmax_port = e;
			if (hp->count[i] - hp->err[i] > st->top_port_packets) {
				st->top_port_packets = hp->count[i] - hp->err[i];
				st->top_port_proto = (uint8_t)(hp->key[i] >> 16);
				st->top_port = (uint16_t)hp->key[i];
			}
			if ((hp->key[i] >> 16) == (uint32_t)r->protocol &&
			    r->protocol != DK_PROTO_OTHER)
				top_insert(r, cnt, (uint16_t)hp->key[i], hp->count[i]);
		}
		if (hd->count[i]) {
			e = hll_estimate(sk->dst_hll[i], SUB_BITS);
			if (e > hd->count[i])
				e = hd->count[i];
			if (e > st->pmax_dst)
				st->pmax_dst = e;
		}
	}
}

static enum dk_proto main_proto(const struct dk_stats *st, uint32_t icmp6)
{
	enum dk_proto p = DK_PROTO_TCP;
	uint64_t n = st->tcp;

	if (st->udp > n) {
		p = DK_PROTO_UDP;
		n = st->udp;
	}
	if (st->icmp > n) {
		p = icmp6 * 2 > st->icmp ? DK_PROTO_ICMPV6 : DK_PROTO_ICMP;
		n = st->icmp;
	}
	if (st->other > n)
		p = DK_PROTO_OTHER;
	return p;
}

static void build_record(struct darknet *dk, struct dk_src *s, struct dk_record *r)
{
	struct dk_stats *st = &r->stats;
	struct dk_class_result cr;

	memset(r, 0, sizeof *r);
	r->source = s->addr;
	r->window_start_ns = dk->window_start;
	st->syn = s->cc[CC_SYN];
	st->synack = s->cc[CC_SYNACK];
	st->rst = s->cc[CC_RST];
	st->rstack = s->cc[CC_RSTACK];
	st->tcp_other = s->cc[CC_TCP_OTHER];
	st->tcp = st->syn + st->synack + st->rst + st->rstack + st->tcp_other +
		  s->cc[CC_TCP_NOHDR];
	st->udp = s->cc[CC_UDP];
	st->echo_request = s->cc[CC_ECHO_REQ];
	st->echo_reply = s->cc[CC_ECHO_REP];
	st->unreach = s->cc[CC_UNREACH];
	st->time_exceeded = s->cc[CC_TIMEX];
	st->icmp_other = s->cc[CC_ICMP_OTHER];
	st->icmp = st->echo_request + st->echo_reply + st->unreach + st->time_exceeded +
		   st->icmp_other + s->cc[CC_ICMP_NOHDR];
	st->other = s->cc[CC_OTHER];
	st->packets = st->tcp + st->udp + st->icmp + st->other;
	st->fragments = s->frags;
	r->protocol = main_proto(st, s->icmp6);
	stats_from_tuples(s, st, r, dk->scratch);
	st->estimated = s->overflow;
	if (s->sk)
		stats_from_sketch(s->sk, st, r);
	/* The address count of an IPv6 darknet says nothing of how many of
	 * its addresses a scanner can find (no one sweeps 2^64 or more): IPv6
	 * sources are judged by the thresholds' floors. */
	darknet_classify(st, &dk->cfg.thr,
			 r->source.family == AF_INET6 ? 0 : dk->cfg.darknet_size, &cr);
	r->cls = cr.cls;
	r->size = cr.size;
	r->service = cr.service;
	r->packets = st->packets;
	r->destinations = st->destinations;
	r->tool = fingerprint_decide(&s->fp, dk->cfg.thr.min_probes);
}

static void emit_window(struct darknet *dk)
{
	struct dk_record rec;

	for (size_t i = 0; i < dk->nsrc; i++) {
		/* the lines of the sources two ahead, the first lines of the next
		 * one's table (a full table at the largest exact_cap is 140 KB) */
		if (i + 2 < dk->nsrc)
			prefetch_lines(src_at(dk, i + 2), sizeof(struct dk_src));
		if (i + 1 < dk->nsrc && src_at(dk, i + 1)->nb) {
			uint32_t nb = src_at(dk, i + 1)->nb;

			prefetch_lines(src_at(dk, i + 1)->tab,
				       (nb < EMIT_AHEAD_LINES ? nb : EMIT_AHEAD_LINES) *
					       sizeof(struct dk_bucket));
		}
		build_record(dk, src_at(dk, i), &rec);
		dk->cfg.emit(&rec, dk->cfg.emit_arg);
	}
	if (dk->nsrc)
		dk->cnt.windows++;
	clear_window(dk);
}

void darknet_flush(struct darknet *dk)
{
	pipe_drain(dk);
	batch_apply(dk);
	emit_window(dk);
	dk->open = false;
}

void darknet_counters(struct darknet *dk, struct dk_counters *out)
{
	pipe_drain(dk);
	batch_apply(dk);
	*out = dk->cnt;
}
