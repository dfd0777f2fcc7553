/* detector/darknet.c — per-(source, window) aggregation and the darknet
 * taxonomy rule table (spec §4).
 *
 * Used by one thread per aggregator.  Memory per source is bounded: exact
 * (dst, proto, port) tuples up to exact_cap, then HyperLogLog sketches and
 * space-saving heavy hitters (see detector/README.md).  No allocation per
 * packet: sources live in slabs reused from window to window, a source's
 * first tuples live in the source itself. */
#include "detector/darknet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "common/err.h"
#include "common/mem.h"

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
#define SLAB_MAX 4096              /* sources per slab (the first ones: 1, 2, 4, ...) */
#define SLOTS_MIN 16               /* source table slots at first */
#define PIPE 16                    /* packets queued while their memory is fetched */
#define PIPE_SRC 5                 /* queued this long: fetch the source */
#define PIPE_TAB 10                /* this long: its tuple slot and sketches */

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

/* Space-saving slots: the keys and counts share one cache line. */
struct dk_heavy {
	uint32_t key[HEAVY];
	uint32_t count[HEAVY];
	uint32_t err[HEAVY];    /* over-count bound inherited from the evicted key */
	uint8_t hll[HEAVY][SUB_REGS];
};

/* Sketches, allocated when the exact table overflows and seeded from it. */
struct dk_sketch {
	uint8_t hll_dst[HLL_REGS];
	uint8_t hll_pt[HLL_REGS];
	struct dk_heavy ports;  /* heavy (proto, port) keys, HLL of dsts */
	struct dk_heavy dsts;   /* heavy dsts, HLL of (proto, port) keys */
};

/* One source in one window.  The fields a packet touches come first. */
struct dk_src {
	struct bsc_addr addr;
	bool overflow;              /* a tuple did not fit: sketches rule */
	uint32_t ntuples;
	uint32_t nb;                /* buckets of @tab; 0 = the tuples are in @in */
	uint32_t packets, frags, tcp, udp, icmp, other, icmp6;
	uint32_t syn, synack, rst, rstack, tcp_other;
	uint32_t echo_req, echo_rep, unreach, timex, icmp_other;
	struct dk_bucket *tab;      /* in @tab_mem, aligned to 64 bytes */
	void *tab_mem;
	struct dk_sketch *sk;       /* NULL until overflow (or if that failed) */
	struct dk_tuple in[INLINE_TUPLES];
	struct dk_fp_state fp;
};

/* The source table: open addressing over pointers into the slabs. */
struct dk_slot {
	struct dk_src *src;         /* NULL = free */
	uint64_t hash;
};

/* A queued packet and what the prefetch stages found out. */
struct dk_pend {
	struct dk_packet p;
	uint64_t hash;              /* addr_hash() of the source */
	struct dk_src *src;         /* the source, if known when prefetched */
	uint32_t dst, key;          /* dst_key(), port_key() */
};

struct darknet {
	struct dk_config cfg;
	struct dk_pend pipe[PIPE];  /* queued packets, oldest at @pipe_head */
	unsigned pipe_head, npipe;
	struct dk_slot *slots;
	size_t nslots, slots_max;   /* a power of two; at most 2 * max_sources rounded up */
	struct dk_src **slabs;      /* sources in first-seen order; kept across windows */
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
	uint8_t rho = w ? (uint8_t)(__builtin_clzll(w) + 1) : (uint8_t)(64 - bits + 1);

	if (rho > regs[idx])
		regs[idx] = rho;
}

static uint64_t hll_estimate(const uint8_t *regs, unsigned bits)
{
	double m = (double)(1u << bits), sum = 0, e;
	double alpha = bits == 4 ? 0.673 : bits == 5 ? 0.697 : bits == 6 ? 0.709
				      : 0.7213 / (1 + 1.079 / m);
	unsigned zeros = 0;

	for (unsigned i = 0; i < (1u << bits); i++) {
		sum += ldexp(1.0, -regs[i]);
		zeros += regs[i] == 0;
	}
	e = alpha * m * m / sum;
	if (e <= 2.5 * m && zeros > 0)
		e = m * log(m / zeros);
	return (uint64_t)llround(e);
}

/* Space-saving: @n more packets of @key; @inner_hash (mix64 of the inner
 * value) goes into the key's HLL. */
static void heavy_add(struct dk_heavy *hv, uint32_t key, uint64_t inner_hash, uint32_t n)
{
	size_t i, low = 0;

	for (i = 0; i < HEAVY; i++) {
		if (hv->count[i] && hv->key[i] == key)
			goto hit;
		if (hv->count[i] < hv->count[low])
			low = i;
	}
	i = low;
	hv->err[i] = hv->count[i];
	hv->key[i] = key;
	memset(hv->hll[i], 0, sizeof hv->hll[i]);
hit:
	hv->count[i] += n;
	hll_add(hv->hll[i], SUB_BITS, inner_hash);
}

/* A later fragment (KEY_NOPORT) counts as a destination only. */
static void sketch_add(struct dk_sketch *sk, uint32_t dst, uint32_t key, uint32_t n)
{
	uint64_t hd = mix64(dst), hk;

	hll_add(sk->hll_dst, HLL_BITS, hd);
	if (key == KEY_NOPORT)
		return;
	hk = mix64(key);
	hll_add(sk->hll_pt, HLL_BITS, hk);
	heavy_add(&sk->ports, key, hd, n);
	heavy_add(&sk->dsts, dst, hk, n);
}

/* ---- aggregation ---- */

static uint64_t addr_hash(const struct bsc_addr *a)
{
	uint64_t h = a->family;

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

static uint32_t dst_key(const struct bsc_addr *a)
{
	if (a->family == AF_INET)
		return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
		       (uint32_t)a->bytes[2] << 8 | a->bytes[3];
	return (uint32_t)addr_hash(a);
}

static uint32_t port_key(const struct dk_packet *p)
{
	uint32_t port = p->dport;

	if (p->later_fragment)
		return KEY_NOPORT;
	if (p->proto == DK_PROTO_ICMP || p->proto == DK_PROTO_ICMPV6)
		port = p->icmp_type;
	else if (p->proto == DK_PROTO_OTHER)
		port = 0;
	return (uint32_t)p->proto << 16 | port;
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
		tab = (size_t)(tab_max_of(exact_cap) + 1) * sizeof(struct dk_bucket);
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
}

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
	dk->tab_max = tab_max_of(dk->cfg.exact_cap);
	dk->slots_max = slots_max_of(cfg->max_sources);
	dk->nslots = dk->slots_max < 1024 ? dk->slots_max : 1024;
	dk->slots = mem_calloc(dk->nslots, sizeof *dk->slots);
	if (!dk->slots) {
		mem_free(dk);
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

		mem_free(s->tab_mem);
		mem_free(s->sk);
	}
	dk->nsrc = 0;
	memset(dk->slots, 0, dk->nslots * sizeof *dk->slots);
	dk->cnt.sources = 0;
}

void darknet_destroy(struct darknet *dk)
{
	if (!dk)
		return;
	dk->npipe = 0; /* queued packets of the open window: dropped with it */
	clear_window(dk);
	for (size_t i = 0; i < dk->nslabs; i++)
		mem_free(dk->slabs[i]);
	mem_free(dk->slabs);
	mem_free(dk->slots);
	mem_free(dk);
}

/* Double the source table; false without memory. */
static bool slots_grow(struct darknet *dk)
{
	size_t n = dk->nslots * 2, mask = n - 1;
	struct dk_slot *t = mem_calloc(n, sizeof *t);

	if (!t)
		return false;
	for (size_t i = 0; i < dk->nslots; i++) {
		size_t j;

		if (!dk->slots[i].src)
			continue;
		for (j = dk->slots[i].hash & mask; t[j].src; j = (j + 1) & mask)
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
	struct dk_src *slab;

	if (dk->nslabs == dk->slabs_cap) {
		size_t cap = dk->slabs_cap ? dk->slabs_cap * 2 : 16;
		struct dk_src **a = mem_realloc(dk->slabs, cap * sizeof *a);

		if (!a)
			return false;
		dk->slabs = a;
		dk->slabs_cap = cap;
	}
	slab = mem_alloc(slab_size(dk->nslabs) * sizeof *slab);
	if (!slab)
		return false;
	dk->slabs[dk->nslabs++] = slab;
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

/* The source of address @a (hash @h), created if new. */
static struct dk_src *src_get(struct darknet *dk, const struct bsc_addr *a, uint64_t h, int *rc)
{
	size_t mask = dk->nslots - 1, j;
	struct dk_src *s;

	for (j = h & mask; dk->slots[j].src; j = (j + 1) & mask) {
		if (dk->slots[j].hash == h && addr_same(&dk->slots[j].src->addr, a))
			return dk->slots[j].src;
	}
	if (dk->nsrc >= dk->cfg.max_sources) {
		*rc = BSC_ENOSPC;
		return NULL;
	}
	if (2 * (dk->nsrc + 1) > dk->nslots && dk->nslots < dk->slots_max) {
		/* without memory go on fuller, up to 7/8 */
		if (slots_grow(dk)) {
			mask = dk->nslots - 1;
			for (j = h & mask; dk->slots[j].src; j = (j + 1) & mask)
				;
		} else if (8 * (dk->nsrc + 1) > 7 * dk->nslots) {
			*rc = BSC_ENOMEM;
			return NULL;
		}
	}
	s = slab_take(dk, rc);
	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	s->addr = *a;
	dk->slots[j].src = s;
	dk->slots[j].hash = h;
	dk->nsrc++;
	dk->cnt.sources = dk->nsrc;
	return s;
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

/* Move the tuples into a table of the next size; false without memory. */
static bool tab_grow(struct darknet *dk, struct dk_src *s)
{
	uint32_t nb = s->nb ? s->nb * 2 : 2;
	struct dk_bucket *t;
	void *mem;

	if (nb > dk->tab_max)
		nb = dk->tab_max;
	mem = mem_calloc(nb + 1, sizeof *t);
	if (!mem)
		return false;
	t = (struct dk_bucket *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
	if (s->nb) {
		for (uint32_t b = 0; b < s->nb; b++)
			for (uint32_t k = 0; k < s->tab[b].n; k++)
				tab_put(t, nb, &s->tab[b].t[k]);
	} else {
		for (uint32_t i = 0; i < s->ntuples; i++)
			tab_put(t, nb, &s->in[i]);
	}
	mem_free(s->tab_mem);
	s->tab_mem = mem;
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
	s->sk = mem_calloc(1, sizeof *s->sk);
	if (!s->sk) {
		dk->cnt.sketch_failed++;
		return;
	}
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

/* Count the tuple exactly while it fits, then in the sketches. */
static void tuple_add(struct darknet *dk, struct dk_src *s, uint32_t dst, uint32_t key)
{
	struct dk_tuple *hit;
	struct dk_bucket *bk;
	uint32_t i;

	if (!s->nb) {
		for (i = 0; i < s->ntuples; i++) {
			if (s->in[i].dst == dst && (s->in[i].kseq & KEY_MASK) == key) {
				s->in[i].count++;
				goto hit;
			}
		}
		if (s->overflow)
			goto sketch;
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
		goto hit;
	}
	if (s->overflow)
		goto sketch;
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
	return;
hit:
	if (s->sk)
		sketch_add(s->sk, dst, key, 1);
}

static void count_packet(struct dk_src *s, const struct dk_packet *p)
{
	uint8_t f = p->tcp_flags;

	s->packets++;
	s->frags += p->fragment;
	switch (p->proto) {
	case DK_PROTO_TCP:
		s->tcp++;
		if (p->later_fragment)
			break;
		if ((f & (DK_TCP_SYN | DK_TCP_ACK | DK_TCP_RST | DK_TCP_FIN)) == DK_TCP_SYN)
			s->syn++;
		else if ((f & (DK_TCP_SYN | DK_TCP_ACK | DK_TCP_RST)) == (DK_TCP_SYN | DK_TCP_ACK))
			s->synack++;
		else if ((f & (DK_TCP_RST | DK_TCP_ACK)) == (DK_TCP_RST | DK_TCP_ACK))
			s->rstack++;
		else if (f & DK_TCP_RST)
			s->rst++;
		else
			s->tcp_other++;
		break;
	case DK_PROTO_UDP:
		s->udp++;
		break;
	case DK_PROTO_ICMP:
	case DK_PROTO_ICMPV6: {
		bool v6 = p->proto == DK_PROTO_ICMPV6;
		uint8_t t = p->icmp_type;

		s->icmp++;
		s->icmp6 += v6;
		if (p->later_fragment)
			break;
		if (t == (v6 ? 128 : 8))
			s->echo_req++;
		else if (t == (v6 ? 129 : 0))
			s->echo_rep++;
		else if (t == (v6 ? 1 : 3))
			s->unreach++;
		else if (t == (v6 ? 3 : 11))
			s->timex++;
		else
			s->icmp_other++;
		break;
	}
	default:
		s->other++;
		break;
	}
}

static void emit_window(struct darknet *dk);

/* A packet outside the open window: open one, or close the open one. */
static void window_move(struct darknet *dk, uint64_t t)
{
	uint64_t ws = t - t % dk->cfg.window_ns;

	if (!dk->open) {
		dk->open = true;
		dk->window_start = ws;
	} else if (ws > dk->window_start) {
		emit_window(dk);
		dk->window_start = ws;
	} else if (ws < dk->window_start) {
		dk->cnt.late++;
	}
}

/* Add @p (source hash @h, tuple @dst, @key; @hint: its source if the
 * prefetch found it) now. */
static int add_now(struct darknet *dk, const struct dk_packet *p, uint64_t h, uint32_t dst,
		   uint32_t key, struct dk_src *hint)
{
	struct dk_src *s = hint;
	int rc = 0;

	if (!s || !addr_same(&s->addr, &p->src))
		s = src_get(dk, &p->src, h, &rc);
	if (!s) {
		if (rc == BSC_ENOSPC)
			dk->cnt.dropped_full++;
		return rc;
	}
	dk->cnt.packets++;
	count_packet(s, p);
	tuple_add(dk, s, dst, key);
	if (!p->later_fragment)
		fingerprint_update(&s->fp, p);
	return 0;
}

/* Add the queued packets, oldest first. */
static void pipe_drain(struct darknet *dk)
{
	while (dk->npipe) {
		struct dk_pend *e = &dk->pipe[dk->pipe_head];

		add_now(dk, &e->p, e->hash, e->dst, e->key, e->src);
		dk->pipe_head = (dk->pipe_head + 1) % PIPE;
		dk->npipe--;
	}
}

/* Whether a packet may be queued: even if every queued packet and this one
 * came from a new source, no source would be refused (the cap) and nothing
 * would have to be allocated (the slabs and table slots have room).
 * Otherwise the packet is added at once, so darknet_add() can say why; the
 * slabs and the table grow by doubling, so that is rare. */
static bool pipe_room(const struct darknet *dk)
{
	size_t need = dk->nsrc + dk->npipe + 1;

	return need <= dk->cfg.max_sources && need <= slab_first(dk->nslabs) &&
	       (2 * need <= dk->nslots || dk->nslots >= dk->slots_max);
}

static void prefetch_lines(const void *p, size_t len)
{
	const char *c = p;

	for (size_t off = 0; off < len; off += 64)
		__builtin_prefetch(c + off, 1);
	__builtin_prefetch(c + len - 1, 1);
}

/* Prefetch stage 2: the source the queued packet @e belongs to. */
static void pipe_src(const struct darknet *dk, struct dk_pend *e)
{
	size_t mask = dk->nslots - 1, j;

	e->src = NULL;
	for (j = e->hash & mask; dk->slots[j].src; j = (j + 1) & mask) {
		if (dk->slots[j].hash == e->hash) {
			e->src = dk->slots[j].src;
			prefetch_lines(e->src, sizeof *e->src);
			return;
		}
	}
}

/* Prefetch stage 3: the tuple slot and the sketch lines of the packet. */
static void pipe_tab(const struct dk_pend *e)
{
	const struct dk_src *s = e->src;

	if (!s)
		return;
	if (s->nb)
		__builtin_prefetch(&s->tab[tab_pos(tuple_hash(e->dst, e->key), s->nb)], 1);
	if (s->sk) {
		__builtin_prefetch(&s->sk->ports, 1);
		__builtin_prefetch(&s->sk->dsts, 1);
	}
}

int darknet_add(struct darknet *dk, const struct dk_packet *p)
{
	struct dk_pend *e;
	uint64_t h;

	if ((p->src.family != AF_INET && p->src.family != AF_INET6) ||
	    p->dst.family != p->src.family)
		return BSC_EINVAL;
	h = addr_hash(&p->src);
	if (!dk->open || p->time_ns - dk->window_start >= dk->cfg.window_ns) {
		pipe_drain(dk);
		window_move(dk, p->time_ns);
		return add_now(dk, p, h, dst_key(&p->dst), port_key(p), NULL);
	}
	if (!pipe_room(dk)) {
		pipe_drain(dk);
		return add_now(dk, p, h, dst_key(&p->dst), port_key(p), NULL);
	}
	/* Queue it; the memory of a queued packet is fetched in stages while
	 * the packets before it are added. */
	e = &dk->pipe[(dk->pipe_head + dk->npipe) % PIPE];
	e->p = *p;
	e->hash = h;
	e->src = NULL;
	e->dst = dst_key(&p->dst);
	e->key = port_key(p);
	__builtin_prefetch(&dk->slots[h & (dk->nslots - 1)]);
	dk->npipe++;
	if (dk->npipe > PIPE_SRC)
		pipe_src(dk, &dk->pipe[(dk->pipe_head + dk->npipe - 1 - PIPE_SRC) % PIPE]);
	if (dk->npipe > PIPE_TAB)
		pipe_tab(&dk->pipe[(dk->pipe_head + dk->npipe - 1 - PIPE_TAB) % PIPE]);
	if (dk->npipe == PIPE) {
		e = &dk->pipe[dk->pipe_head];
		add_now(dk, &e->p, e->hash, e->dst, e->key, e->src);
		dk->pipe_head = (dk->pipe_head + 1) % PIPE;
		dk->npipe--;
	}
	return 0;
}

/* (dst, key) and (key, dst) orders of the tuples (keys without the order bits). */
static uint64_t by_dst(const struct dk_tuple *t)
{
	return (uint64_t)t->dst << 32 | t->kseq;
}

static uint64_t by_key(const struct dk_tuple *t)
{
	return (uint64_t)t->kseq << 32 | t->dst;
}

static int cmp_dst(const void *a, const void *b)
{
	uint64_t x = by_dst(a), y = by_dst(b);

	return x < y ? -1 : x > y;
}

static int cmp_key(const void *a, const void *b)
{
	uint64_t x = by_key(a), y = by_key(b);

	return x < y ? -1 : x > y;
}

static void tuples_sort(struct dk_tuple *t, uint32_t n, uint64_t (*ord)(const struct dk_tuple *),
			int (*cmp)(const void *, const void *))
{
	if (n > 16) {
		qsort(t, n, sizeof *t, cmp);
		return;
	}
	for (uint32_t i = 1; i < n; i++) {
		struct dk_tuple x = t[i];
		uint64_t v = ord(&x);
		uint32_t j = i;

		for (; j > 0 && ord(&t[j - 1]) > v; j--)
			t[j] = t[j - 1];
		t[j] = x;
	}
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
static void stats_from_tuples(struct dk_src *s, struct dk_stats *st, struct dk_record *r)
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
	tuples_sort(t, n, by_dst, cmp_dst);
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
	tuples_sort(t, n, by_key, cmp_key);
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
		uint64_t e;

		if (hp->count[i]) {
			e = hll_estimate(hp->hll[i], SUB_BITS);
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
			e = hll_estimate(hd->hll[i], SUB_BITS);
			if (e > hd->count[i])
				e = hd->count[i];
			if (e > st->pmax_dst)
				st->pmax_dst = e;
		}
	}
}

static enum dk_proto main_proto(const struct dk_src *s)
{
	enum dk_proto p = DK_PROTO_TCP;
	uint32_t n = s->tcp;

	if (s->udp > n) {
		p = DK_PROTO_UDP;
		n = s->udp;
	}
	if (s->icmp > n) {
		p = s->icmp6 * 2 > s->icmp ? DK_PROTO_ICMPV6 : DK_PROTO_ICMP;
		n = s->icmp;
	}
	if (s->other > n)
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
	r->protocol = main_proto(s);
	st->packets = s->packets;
	st->tcp = s->tcp;
	st->udp = s->udp;
	st->icmp = s->icmp;
	st->other = s->other;
	st->syn = s->syn;
	st->synack = s->synack;
	st->rst = s->rst;
	st->rstack = s->rstack;
	st->tcp_other = s->tcp_other;
	st->echo_request = s->echo_req;
	st->echo_reply = s->echo_rep;
	st->unreach = s->unreach;
	st->time_exceeded = s->timex;
	st->icmp_other = s->icmp_other;
	st->fragments = s->frags;
	stats_from_tuples(s, st, r);
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
	emit_window(dk);
	dk->open = false;
}

void darknet_counters(struct darknet *dk, struct dk_counters *out)
{
	pipe_drain(dk);
	*out = dk->cnt;
}
