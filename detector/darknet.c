/* detector/darknet.c — per-(source, window) aggregation and the darknet
 * taxonomy rule table (spec §4).
 *
 * Used by one thread per aggregator.  Memory per source is bounded: exact
 * (dst, proto, port) tuples up to exact_cap, then HyperLogLog sketches and
 * space-saving heavy hitters (see detector/README.md). */
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
#define IDX_MIN 16                 /* tuple tables this big get a hash index */
#define EXACT_MAX 65535            /* the index holds 16-bit positions */

struct dk_tuple {
	uint32_t dst;   /* IPv4 address, or a 32-bit hash of an IPv6 one */
	uint32_t key;   /* proto << 16 | port (ICMP: type) */
	uint32_t count;
};

struct dk_heavy {
	uint32_t key;
	uint32_t count;
	uint32_t err;   /* over-count bound inherited from the evicted slot */
	uint8_t hll[SUB_REGS];
};

/* Sketches, allocated when the exact table overflows and seeded from it. */
struct dk_sketch {
	uint8_t hll_dst[HLL_REGS];
	uint8_t hll_pt[HLL_REGS];
	struct dk_heavy ports[HEAVY]; /* heavy (proto, port) keys, HLL of dsts */
	struct dk_heavy dsts[HEAVY];  /* heavy dsts, HLL of (proto, port) keys */
};

struct dk_src {
	struct dk_src *next;        /* hash chain */
	struct bsc_addr addr;
	uint32_t packets, tcp, udp, icmp, other;
	uint32_t syn, synack, rst, rstack, tcp_other;
	uint32_t echo_req, echo_rep, unreach, timex, icmp_other, icmp6;
	uint32_t frags;
	uint32_t ntuples, tuple_cap;
	bool overflow;              /* a tuple did not fit: sketches rule */
	struct dk_tuple *tuples;
	uint16_t *idx;              /* open-addressing index (1 + tuple), from 16 tuples */
	uint32_t idx_mask;
	struct dk_sketch *sk;       /* NULL until overflow (or if that failed) */
	struct dk_fp_state fp;
};

struct darknet {
	struct dk_config cfg;
	struct dk_src **buckets;
	size_t nbuckets;
	struct dk_src **order;      /* sources in first-seen order */
	size_t nsrc, order_cap;
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

/* Space-saving: @n more packets of @key; @inner goes into the key's HLL. */
static void heavy_add(struct dk_heavy *hv, uint32_t key, uint64_t inner, uint32_t n)
{
	size_t i, low = 0;

	for (i = 0; i < HEAVY; i++) {
		if (hv[i].count && hv[i].key == key)
			goto hit;
		if (hv[i].count < hv[low].count)
			low = i;
	}
	i = low;
	hv[i].err = hv[i].count;
	hv[i].key = key;
	memset(hv[i].hll, 0, sizeof hv[i].hll);
hit:
	hv[i].count += n;
	hll_add(hv[i].hll, SUB_BITS, mix64(inner));
}

static void sketch_add(struct dk_sketch *sk, uint32_t dst, uint32_t key, uint32_t n)
{
	hll_add(sk->hll_dst, HLL_BITS, mix64(dst));
	hll_add(sk->hll_pt, HLL_BITS, mix64(key));
	heavy_add(sk->ports, key, dst, n);
	heavy_add(sk->dsts, dst, key, n);
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

	if (p->proto == DK_PROTO_ICMP || p->proto == DK_PROTO_ICMPV6)
		port = p->icmp_type;
	else if (p->proto == DK_PROTO_OTHER)
		port = 0;
	return (uint32_t)p->proto << 16 | port;
}

size_t darknet_source_bytes(uint32_t exact_cap)
{
	size_t idx = 1;

	while (idx < 2 * (size_t)exact_cap)
		idx <<= 1;
	return sizeof(struct dk_src) + (size_t)exact_cap * sizeof(struct dk_tuple) +
	       (exact_cap >= IDX_MIN ? idx * sizeof(uint16_t) : 0) + sizeof(struct dk_sketch) +
	       2 * sizeof(struct dk_src *);
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
	dk->nbuckets = 1024;
	while (dk->nbuckets < cfg->max_sources / 2)
		dk->nbuckets <<= 1;
	dk->buckets = mem_calloc(dk->nbuckets, sizeof *dk->buckets);
	if (!dk->buckets) {
		mem_free(dk);
		return BSC_ENOMEM;
	}
	*out = dk;
	return 0;
}

static void src_free(struct dk_src *s)
{
	mem_free(s->tuples);
	mem_free(s->idx);
	mem_free(s->sk);
	mem_free(s);
}

static void clear_window(struct darknet *dk)
{
	for (size_t i = 0; i < dk->nsrc; i++)
		src_free(dk->order[i]);
	dk->nsrc = 0;
	memset(dk->buckets, 0, dk->nbuckets * sizeof *dk->buckets);
	dk->cnt.sources = 0;
}

void darknet_destroy(struct darknet *dk)
{
	if (!dk)
		return;
	clear_window(dk);
	mem_free(dk->order);
	mem_free(dk->buckets);
	mem_free(dk);
}

static struct dk_src *src_get(struct darknet *dk, const struct bsc_addr *a, int *rc)
{
	size_t b = addr_hash(a) & (dk->nbuckets - 1);
	struct dk_src *s;

	for (s = dk->buckets[b]; s; s = s->next)
		if (s->addr.family == a->family && memcmp(s->addr.bytes, a->bytes, 16) == 0)
			return s;
	if (dk->nsrc >= dk->cfg.max_sources) {
		*rc = BSC_ENOSPC;
		return NULL;
	}
	if (dk->nsrc == dk->order_cap) {
		size_t cap = dk->order_cap ? dk->order_cap * 2 : 64;
		struct dk_src **o;

		if (cap > dk->cfg.max_sources)
			cap = dk->cfg.max_sources;
		o = mem_realloc(dk->order, cap * sizeof *o);
		if (!o) {
			*rc = BSC_ENOMEM;
			return NULL;
		}
		dk->order = o;
		dk->order_cap = cap;
	}
	s = mem_calloc(1, sizeof *s);
	if (!s) {
		*rc = BSC_ENOMEM;
		return NULL;
	}
	s->addr = *a;
	s->next = dk->buckets[b];
	dk->buckets[b] = s;
	dk->order[dk->nsrc++] = s;
	dk->cnt.sources = dk->nsrc;
	return s;
}

/* The exact table is full: seed the sketches from it.  Without memory the
 * source keeps the exact figures of its first tuples as lower bounds. */
static void go_sketch(struct darknet *dk, struct dk_src *s)
{
	s->overflow = true;
	s->sk = mem_calloc(1, sizeof *s->sk);
	if (!s->sk) {
		dk->cnt.sketch_failed++;
		return;
	}
	for (uint32_t i = 0; i < s->ntuples; i++)
		sketch_add(s->sk, s->tuples[i].dst, s->tuples[i].key, s->tuples[i].count);
}

static uint32_t tuple_hash(uint32_t dst, uint32_t key)
{
	return (uint32_t)mix64((uint64_t)dst << 32 | key);
}

static void idx_insert(struct dk_src *s, uint32_t i)
{
	uint32_t h = tuple_hash(s->tuples[i].dst, s->tuples[i].key) & s->idx_mask;

	while (s->idx[h])
		h = (h + 1) & s->idx_mask;
	s->idx[h] = (uint16_t)(i + 1);
}

/* Rebuild the index for the current capacity; without memory the table is
 * searched linearly. */
static void idx_rebuild(struct dk_src *s)
{
	uint32_t n = 1;

	mem_free(s->idx);
	s->idx = NULL;
	if (s->tuple_cap < IDX_MIN)
		return;
	while (n < 2 * s->tuple_cap)
		n <<= 1;
	s->idx = mem_calloc(n, sizeof *s->idx);
	if (!s->idx)
		return;
	s->idx_mask = n - 1;
	for (uint32_t i = 0; i < s->ntuples; i++)
		idx_insert(s, i);
}

static struct dk_tuple *tuple_find(struct dk_src *s, uint32_t dst, uint32_t key)
{
	if (s->idx) {
		uint32_t h = tuple_hash(dst, key) & s->idx_mask;

		for (; s->idx[h]; h = (h + 1) & s->idx_mask) {
			struct dk_tuple *t = &s->tuples[s->idx[h] - 1];

			if (t->dst == dst && t->key == key)
				return t;
		}
		return NULL;
	}
	for (uint32_t i = 0; i < s->ntuples; i++)
		if (s->tuples[i].dst == dst && s->tuples[i].key == key)
			return &s->tuples[i];
	return NULL;
}

/* Count the tuple exactly while it fits, then in the sketches. */
static void tuple_add(struct darknet *dk, struct dk_src *s, uint32_t dst, uint32_t key)
{
	uint32_t cap = dk->cfg.exact_cap;
	struct dk_tuple *hit = tuple_find(s, dst, key);

	if (hit) {
		hit->count++;
		if (s->sk)
			sketch_add(s->sk, dst, key, 1);
		return;
	}
	if (!s->overflow && s->ntuples == s->tuple_cap && s->ntuples < cap) {
		uint32_t n = s->tuple_cap ? s->tuple_cap * 2 : 4;
		struct dk_tuple *t;

		if (n > cap)
			n = cap;
		t = mem_realloc(s->tuples, n * sizeof *t);
		if (t) {
			s->tuples = t;
			s->tuple_cap = n;
			idx_rebuild(s);
		}
	}
	if (!s->overflow && s->ntuples < s->tuple_cap) {
		s->tuples[s->ntuples] = (struct dk_tuple){ .dst = dst, .key = key, .count = 1 };
		if (s->idx)
			idx_insert(s, s->ntuples);
		s->ntuples++;
		return;
	}
	if (!s->overflow)
		go_sketch(dk, s);
	if (s->sk)
		sketch_add(s->sk, dst, key, 1);
}

static void count_packet(struct dk_src *s, const struct dk_packet *p)
{
	uint8_t f = p->tcp_flags;

	s->packets++;
	if (p->fragment)
		s->frags++;
	switch (p->proto) {
	case DK_PROTO_TCP:
		s->tcp++;
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

int darknet_add(struct darknet *dk, const struct dk_packet *p)
{
	uint64_t ws;
	struct dk_src *s;
	uint32_t dst, key;
	int rc = 0;

	if ((p->src.family != AF_INET && p->src.family != AF_INET6) ||
	    p->dst.family != p->src.family)
		return BSC_EINVAL;
	ws = p->time_ns - p->time_ns % dk->cfg.window_ns;
	if (!dk->open) {
		dk->open = true;
		dk->window_start = ws;
	} else if (ws > dk->window_start) {
		emit_window(dk);
		dk->window_start = ws;
	} else if (ws < dk->window_start) {
		dk->cnt.late++;
	}
	s = src_get(dk, &p->src, &rc);
	if (!s) {
		if (rc == BSC_ENOSPC)
			dk->cnt.dropped_full++;
		return rc;
	}
	dk->cnt.packets++;
	count_packet(s, p);
	dst = dst_key(&p->dst);
	key = port_key(p);
	tuple_add(dk, s, dst, key);
	fingerprint_update(&s->fp, p);
	return 0;
}

static int cmp_dst(const void *a, const void *b)
{
	const struct dk_tuple *x = a, *y = b;

	if (x->dst != y->dst)
		return x->dst < y->dst ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

static int cmp_key(const void *a, const void *b)
{
	const struct dk_tuple *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->dst < y->dst ? -1 : x->dst > y->dst;
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

/* Exact figures from the tuple table (lower bounds once it overflowed), and
 * the busiest ports of @r->protocol. */
static void stats_from_tuples(struct dk_src *s, struct dk_stats *st, struct dk_record *r)
{
	struct dk_tuple *t = s->tuples;
	uint32_t n = s->ntuples, i, run;
	uint64_t sum, cnt[DK_RECORD_PORTS] = { 0 };

	if (n == 0)
		return;
	qsort(t, n, sizeof *t, cmp_dst);
	for (i = 0, run = 0; i < n; i++) {
		if (t[i].count > st->top_flow_packets)
			st->top_flow_packets = t[i].count;
		run = (i > 0 && t[i].dst == t[i - 1].dst) ? run + 1 : 1;
		if (run == 1)
			st->destinations++;
		if (run > st->pmax_dst)
			st->pmax_dst = run;
	}
	qsort(t, n, sizeof *t, cmp_key);
	for (i = 0, run = 0, sum = 0; i < n; i++) {
		bool same = i > 0 && t[i].key == t[i - 1].key;

		run = same ? run + 1 : 1;
		sum = same ? sum + t[i].count : t[i].count;
		if (!same)
			st->proto_ports++;
		if (run > st->dmax_port)
			st->dmax_port = run;
		if (sum > st->top_port_packets) {
			st->top_port_packets = sum;
			st->top_port_proto = (uint8_t)(t[i].key >> 16);
			st->top_port = (uint16_t)t[i].key;
		}
		if ((i + 1 == n || t[i + 1].key != t[i].key) &&
		    (t[i].key >> 16) == (uint32_t)r->protocol && r->protocol != DK_PROTO_OTHER)
			top_insert(r, cnt, (uint16_t)t[i].key, sum);
	}
}

/* Replace the lower bounds by the sketch estimates. */
static void stats_from_sketch(const struct dk_sketch *sk, struct dk_stats *st,
			      struct dk_record *r)
{
	uint64_t cnt[DK_RECORD_PORTS] = { 0 };

	st->destinations = hll_estimate(sk->hll_dst, HLL_BITS);
	st->proto_ports = hll_estimate(sk->hll_pt, HLL_BITS);
	r->nports = 0;
	for (int i = 0; i < HEAVY; i++) {
		const struct dk_heavy *hp = &sk->ports[i], *hd = &sk->dsts[i];
		uint64_t e;

		if (hp->count) {
			e = hll_estimate(hp->hll, SUB_BITS);
			if (e > st->dmax_port)
				st->dmax_port = e;
			if (hp->count - hp->err > st->top_port_packets) {
				st->top_port_packets = hp->count - hp->err;
				st->top_port_proto = (uint8_t)(hp->key >> 16);
				st->top_port = (uint16_t)hp->key;
			}
			if ((hp->key >> 16) == (uint32_t)r->protocol && r->protocol != DK_PROTO_OTHER)
				top_insert(r, cnt, (uint16_t)hp->key, hp->count);
		}
		if (hd->count) {
			e = hll_estimate(hd->hll, SUB_BITS);
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
	darknet_classify(st, &dk->cfg.thr, dk->cfg.darknet_size, &cr);
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
		build_record(dk, dk->order[i], &rec);
		dk->cfg.emit(&rec, dk->cfg.emit_arg);
	}
	if (dk->nsrc)
		dk->cnt.windows++;
	clear_window(dk);
}

void darknet_flush(struct darknet *dk)
{
	emit_window(dk);
	dk->open = false;
}

void darknet_counters(const struct darknet *dk, struct dk_counters *out)
{
	*out = dk->cnt;
}
