/* detector/fingerprint.c — scanner-tool fingerprints (spec §5).
 *
 * Pure functions over decoded packets and a caller-owned per-source state;
 * any thread. */
#include "detector/fingerprint.h"

#include <stddef.h>
#include "common/wire.h"
#include "detector/slot4.h"

const char *fingerprint_tool_name(enum dk_tool t)
{
	switch (t) {
	case DK_TOOL_ZMAP: return "zmap";
	case DK_TOOL_MASSCAN: return "masscan";
	case DK_TOOL_MIRAI: return "mirai";
	case DK_TOOL_NMAP: return "nmap";
	case DK_TOOL_UNICORNSCAN: return "unicornscan";
	default: return NULL;
	}
}

static bool is_v4(const struct dk_packet *p)
{
	return p->dst.family == AF_INET;
}

/* A bare SYN (no ACK, no RST) over IPv4 TCP. */
static bool is_v4_syn(const struct dk_packet *p)
{
	return is_v4(p) && p->proto == DK_PROTO_TCP &&
	       (p->tcp_flags & (DK_TCP_SYN | DK_TCP_ACK | DK_TCP_RST)) == DK_TCP_SYN;
}

static uint32_t dst32(const struct dk_packet *p)
{
	return wire_get_u32(p->dst.bytes);
}

#define ZMAP_IP_ID 54321

bool fingerprint_is_zmap(const struct dk_packet *p)
{
	return is_v4(p) && p->ip_id == ZMAP_IP_ID;
}

/* The masscan relation of a bare v4 SYN to @dst. */
static inline bool syn_is_masscan(const struct dk_packet *p, uint32_t dst)
{
	return p->ip_id == ((dst ^ p->dport ^ p->seq) & 0xFFFF);
}

bool fingerprint_is_masscan(const struct dk_packet *p)
{
	return is_v4_syn(p) && syn_is_masscan(p, dst32(p));
}

/* The masscan version a matching probe's window, options and length say. */
static inline enum dk_masscan_variant masscan_profile(const struct dk_packet *p)
{
	if (p->window == 1024 && p->tcp_opt_len == 0 && p->ip_len == 40)
		return DK_MASSCAN_PRE_2023_11;
	if (p->window == 1025 && p->tcp_opt_len == 4 && p->mss == 1460 && p->ip_len == 44)
		return DK_MASSCAN_POST_2023_11;
	return DK_MASSCAN_UNKNOWN;
}

enum dk_masscan_variant fingerprint_masscan_variant(const struct dk_packet *p)
{
	return fingerprint_is_masscan(p) ? masscan_profile(p) : DK_MASSCAN_UNKNOWN;
}

bool fingerprint_is_mirai(const struct dk_packet *p)
{
	return is_v4_syn(p) && p->seq == dst32(p);
}

/* The nmap -sS profile of a bare v4 SYN: flags SYN only, window a multiple
 * of 1024 up to 4096, the only option MSS 1460. */
static inline bool nmap_syn_profile(const struct dk_packet *p)
{
	return p->tcp_flags == DK_TCP_SYN && (p->window & 1023) == 0 && p->window - 1024u <= 3072u &&
	       p->tcp_opt_len == 4 && p->mss == 1460;
}

bool fingerprint_nmap_profile(const struct dk_packet *p)
{
	return is_v4_syn(p) && nmap_syn_profile(p);
}

uint16_t fingerprint_nmap_key(const struct dk_packet *p)
{
	return (uint16_t)((p->seq >> 16) ^ (p->seq & 0xFFFF));
}

bool fingerprint_unicorn_profile(const struct dk_packet *p)
{
	return is_v4_syn(p);
}

uint32_t fingerprint_unicorn_key(const struct dk_packet *p)
{
	return p->seq ^ dst32(p) ^ (((uint32_t)p->dport << 16) + p->sport);
}

/* Count @key in @slots; a new key takes a free slot or the one with the
 * fewest probes (bounded; a run's constant recurs, so it stays). */
static void slot_add(struct dk_fp_slots *sl, uint32_t key)
{
	int i;
	unsigned low;

	i = slot4_find(sl->key, sl->count, key);
	if (i >= 0) {
		sl->count[i]++;
		return;
	}
	low = slot4_low(sl->count);
	if (sl->count[low] > 1)
		return; /* keep established groups; a lone key is noise */
	sl->key[low] = key;
	sl->count[low] = 1;
}

static uint32_t slot_max(const struct dk_fp_slots *sl)
{
	uint32_t m = 0;

	for (size_t i = 0; i < DK_FP_SLOTS; i++)
		if (sl->count[i] > m)
			m = sl->count[i];
	return m >= 2 ? m : 0; /* a constant needs at least one pair */
}

/* The predicates above, each computed once (the labeler calls this for
 * every packet). */
void fingerprint_probe(const struct dk_packet *p, struct dk_fp_probe *out)
{
	uint8_t f = 0;
	uint32_t dst;

	out->unicorn_key = 0;
	out->nmap_key = 0;
	out->flags = 0;
	if (!is_v4(p) || p->later_fragment) /* a later fragment has no header to match */
		return;
	if (p->ip_id == ZMAP_IP_ID)
		f |= DK_FP_ZMAP;
	if (is_v4_syn(p)) {
		dst = dst32(p);
		if (syn_is_masscan(p, dst))
			f |= DK_FP_MASSCAN | (uint8_t)(masscan_profile(p) << DK_FP_VARIANT_SHIFT);
		if (p->seq == dst)
			f |= DK_FP_MIRAI;
		if (nmap_syn_profile(p)) {
			f |= DK_FP_NMAP;
			out->nmap_key = fingerprint_nmap_key(p);
		}
		f |= DK_FP_UNICORN; /* the unicornscan profile is a bare v4 SYN */
		out->unicorn_key = fingerprint_unicorn_key(p);
	}
	out->flags = f;
}

void fingerprint_apply(struct dk_fp_state *st, const struct dk_fp_probe *pr)
{
	uint8_t f = pr->flags;

	if (f & DK_FP_ZMAP)
		st->count[DK_TOOL_ZMAP]++;
	if (f & DK_FP_MASSCAN) {
		st->count[DK_TOOL_MASSCAN]++;
		st->masscan_variant[(f >> DK_FP_VARIANT_SHIFT) & 3]++;
	}
	if (f & DK_FP_MIRAI)
		st->count[DK_TOOL_MIRAI]++;
	if (f & DK_FP_NMAP)
		slot_add(&st->nmap, pr->nmap_key);
	if (f & DK_FP_UNICORN)
		slot_add(&st->unicorn, pr->unicorn_key);
}

void fingerprint_update(struct dk_fp_state *st, const struct dk_packet *p)
{
	struct dk_fp_probe pr;

	fingerprint_probe(p, &pr);
	fingerprint_apply(st, &pr);
}

uint32_t fingerprint_matches(const struct dk_fp_state *st, enum dk_tool t)
{
	switch (t) {
	case DK_TOOL_NMAP: return slot_max(&st->nmap);
	case DK_TOOL_UNICORNSCAN: return slot_max(&st->unicorn);
	case DK_TOOL_ZMAP:
	case DK_TOOL_MASSCAN:
	case DK_TOOL_MIRAI: return st->count[t];
	default: return 0;
	}
}

enum dk_tool fingerprint_decide(const struct dk_fp_state *st, uint32_t min_probes)
{
	enum dk_tool best = DK_TOOL_NONE;
	uint32_t best_n = 0;

	if (min_probes < 1)
		min_probes = 1;
	for (int t = DK_TOOL_NONE + 1; t < DK_TOOL_COUNT; t++) {
		uint32_t n = fingerprint_matches(st, (enum dk_tool)t);

		if (n >= min_probes && n > best_n) {
			best = (enum dk_tool)t;
			best_n = n;
		}
	}
	return best;
}
