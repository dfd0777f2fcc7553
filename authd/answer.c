/* authd/answer.c — the answer builder: parses one query in place, looks the
 * name up in the read-only zone index and copies pre-rendered records into
 * the caller's buffer.  The rules (and where they differ from Knot DNS) are
 * in authd/README.md, section "Answers".
 *
 * Queries of the common shape that hit a node exactly take a fast path
 * (section "fast path" below); everything else, and anything the fast path
 * is unsure of, goes through the general builder.
 *
 * Any worker thread; no allocation, no locks, no ldns. */
#include <string.h>
#include "authd/answer.h"
#include "authd/zone_index.h"
#include "common/event.h"
#include "common/wire.h"

#define HDR_LEN 12

#define RC_NOERROR 0
#define RC_FORMERR 1
#define RC_NXDOMAIN 3
#define RC_NOTIMP 4
#define RC_REFUSED 5
#define RC_BADVERS 16

#define T_NS 2
#define T_CNAME 5
#define T_PTR 12
#define T_TXT 16
#define T_A 1
#define T_AAAA 28
#define T_SOA 6
#define T_OPT 41
#define T_DS 43
#define T_IXFR 251
#define T_AXFR 252
#define T_ANY 255

#define C_IN 1
#define C_CH 3
#define C_ANY 255

#define OPT_NSID 3
#define OPT_ECS 8

#define CNAME_MAX 8   /* CNAMEs followed in one answer */
#define RDPOS_MAX 64  /* records of one RRset whose rdata position is kept */

/* The header (RFC 1035 4.1.1):
 *
 *   0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
 *  |                      ID                       |
 *  |QR|  Opcode   |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
 *  |          QDCOUNT / ANCOUNT / NSCOUNT / ARCOUNT  |
 */
#define F_QR 0x8000
#define F_AA 0x0400
#define F_TC 0x0200
#define F_RD 0x0100

struct query {
	uint16_t id, flags, qd, an, ns, ar;
	size_t qend;          /* end of the question section in the query */
	size_t qname_len;
	uint8_t lc[DNAME_MAXLEN + 8]; /* lower-case qname (+ word scratch) */
	uint8_t lab[DNAME_MAXLABELS];
	unsigned nlab;
	uint16_t qtype, qclass;
	bool have_q;          /* exactly one question, parsed */
	bool malformed;
	bool edns;            /* one readable OPT */
	uint16_t payload;
	uint8_t version;
	bool do_bit;
	bool nsid;
	bool ecs;
	struct bsc_addr ecs_addr;
};

/* The name being answered: the qname, then each CNAME target. */
struct sname {
	const uint8_t *lc;
	size_t len;
	const uint8_t *lab; /* label offsets */
	unsigned nlab;  /* labels, root included */
	size_t pkt;     /* offset of this name (uncompressed) in the answer */
};

struct ans {
	uint8_t *tx;
	size_t pos;
	size_t limit;   /* room for the sections (OPT kept aside) */
	uint16_t an, ns, ar;
	uint16_t rcode;
	bool aa;
	bool tc;
	bool in_zone;
};

/* ---- query parsing ---- */

static bool parse_qname(struct query *pq, const uint8_t *q, size_t qlen)
{
	const uint8_t *name = q + HDR_LEN;
	size_t avail = qlen - HDR_LEN;
	size_t pos = 0;
	unsigned n = 0;
	for (;;) {
		if (pos >= avail || pos >= DNAME_MAXLEN)
			return false;
		uint8_t l = name[pos];
		pq->lab[n++] = (uint8_t)pos;
		if (l == 0)
			break;
		if (l > 63)
			return false; /* compression pointer or reserved label type */
		pos += 1u + l;
	}
	size_t len = pos + 1;
	/* lower-case copy, a word at a time; the bytes past the name in lc are
	 * scratch (lc has room for a whole last word) */
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v = dname_lower64(dname_load64(name + i));
		memcpy(pq->lc + i, &v, 8);
	}
	for (; i < len; i++)
		pq->lc[i] = dname_lower_byte(name[i]);
	pq->nlab = n;
	pq->qname_len = len;
	return true;
}

/* Skip an owner name in the AN/NS/AR sections (pointers not followed).
 * Returns false when malformed; *root tells whether it was the root name. */
static bool skip_name(struct wire *w, bool *root)
{
	size_t total = 0;
	*root = true;
	for (;;) {
		uint8_t l = wire_read_u8(w);
		if (w->error)
			return false;
		if (l == 0)
			return true;
		*root = false;
		if ((l & 0xC0) == 0xC0) {
			wire_skip(w, 1);
			return !w->error;
		}
		if (l > 63)
			return false;
		total += 1u + l;
		if (total >= DNAME_MAXLEN)
			return false;
		wire_skip(w, l);
	}
}

/* EDNS Client Subnet (RFC 7871 6): family, source prefix, scope (0 in
 * queries), the address truncated to the prefix with zero padding bits. */
static bool parse_ecs(struct query *pq, const uint8_t *d, uint16_t len)
{
	if (len < 4)
		return false;
	uint16_t fam = wire_get_u16(d);
	uint8_t src = d[2], scope = d[3];
	unsigned max = fam == 1 ? 32 : fam == 2 ? 128 : 0;
	if (max == 0 || src > max || scope != 0)
		return false;
	unsigned nbytes = (src + 7u) / 8u;
	if (len - 4u != nbytes)
		return false;
	if (nbytes > 0 && (src % 8) != 0) {
		uint8_t mask = (uint8_t)(0xFFu >> (src % 8));
		if (d[4 + nbytes - 1] & mask)
			return false;
	}
	memset(&pq->ecs_addr, 0, sizeof pq->ecs_addr);
	pq->ecs_addr.family = fam == 1 ? AF_INET : AF_INET6;
	pq->ecs_addr.prefix = src;
	memcpy(pq->ecs_addr.bytes, d + 4, nbytes);
	pq->ecs = true;
	return true;
}

enum opt_status { OPT_GOOD, OPT_BAD_ECS, OPT_BAD };

static enum opt_status parse_opt(struct query *pq, const uint8_t *q, uint16_t cls, uint32_t ttl,
				 size_t rd, uint16_t rdlen)
{
	pq->payload = cls;
	pq->version = (uint8_t)(ttl >> 16);
	pq->do_bit = (ttl & 0x8000) != 0;
	size_t p = rd, end = rd + rdlen;
	enum opt_status st = OPT_GOOD;
	bool ecs_seen = false;
	while (p < end) {
		if (end - p < 4)
			return OPT_BAD;
		uint16_t code = wire_get_u16(q + p);
		uint16_t olen = wire_get_u16(q + p + 2);
		p += 4;
		if (olen > end - p)
			return OPT_BAD;
		if (code == OPT_NSID) {
			pq->nsid = true;
		} else if (code == OPT_ECS && !ecs_seen) {
			ecs_seen = true;
			if (!parse_ecs(pq, q + p, olen))
				st = OPT_BAD_ECS;
		}
		p += olen;
	}
	return st;
}

static void parse_query(struct query *pq, const uint8_t *q, size_t qlen)
{
	struct wire w = wire_init((void *)q, qlen);
	pq->id = wire_get_u16(q);
	pq->flags = wire_get_u16(q + 2);
	pq->qd = wire_get_u16(q + 4);
	pq->an = wire_get_u16(q + 6);
	pq->ns = wire_get_u16(q + 8);
	pq->ar = wire_get_u16(q + 10);
	if (pq->qd != 1) {
		/* no question, or several: FORMERR without a question */
		pq->malformed = true;
		return;
	}
	if (!parse_qname(pq, q, qlen)) {
		pq->malformed = true;
		return;
	}
	size_t qend = HDR_LEN + pq->qname_len + 4;
	if (qend > qlen) {
		pq->malformed = true;
		return;
	}
	pq->qtype = wire_get_u16(q + qend - 4);
	pq->qclass = wire_get_u16(q + qend - 2);
	pq->qend = qend;
	pq->have_q = true;
	if (pq->an == 0 && pq->ns == 0 && pq->ar == 0) {
		if (qend != qlen)
			pq->malformed = true; /* trailing bytes (as Knot) */
		return;
	}
	w.pos = qend;

	unsigned rrs = (unsigned)pq->an + pq->ns + pq->ar;
	bool opt_seen = false;
	for (unsigned i = 0; i < rrs; i++) {
		bool root;
		if (!skip_name(&w, &root)) {
			pq->malformed = true;
			return;
		}
		uint16_t type = wire_read_u16(&w);
		uint16_t cls = wire_read_u16(&w);
		uint32_t ttl = wire_read_u32(&w);
		uint16_t rdlen = wire_read_u16(&w);
		size_t rd = w.pos;
		wire_skip(&w, rdlen);
		if (w.error) {
			pq->malformed = true;
			return;
		}
		if (type != T_OPT || i < (unsigned)pq->an + pq->ns)
			continue;
		if (opt_seen || !root) {
			/* two OPTs, or an OPT not owned by the root (RFC 6891 6.1.1) */
			pq->malformed = true;
			pq->edns = false;
			pq->nsid = false;
			pq->ecs = false;
			return;
		}
		opt_seen = true;
		pq->edns = true;
		enum opt_status os = parse_opt(pq, q, cls, ttl, rd, rdlen);
		if (os != OPT_GOOD) {
			/* a bad ECS is FORMERR (RFC 7871 7.1.1) with our OPT; an
			 * unreadable option list gets no OPT back */
			pq->malformed = true;
			pq->ecs = false;
			if (os == OPT_BAD)
				pq->edns = pq->nsid = false;
		}
	}
	if (pq->malformed)
		return;
	if (w.pos != qlen)
		pq->malformed = true; /* trailing bytes (as Knot) */
}

/* ---- writing ---- */

static inline size_t owner_size(const struct sname *sn, unsigned idx)
{
	size_t at = sn->pkt + sn->lab[idx];
	if (sn->pkt != 0 && at <= 0x3FFF)
		return 2;
	return sn->len - sn->lab[idx];
}

static inline void put_owner(struct ans *a, const struct sname *sn, unsigned idx)
{
	size_t at = sn->pkt + sn->lab[idx];
	if (sn->pkt != 0 && at <= 0x3FFF) {
		wire_put_u16(a->tx + a->pos, (uint16_t)(0xC000 | at));
		a->pos += 2;
		return;
	}
	size_t n = sn->len - sn->lab[idx];
	memcpy(a->tx + a->pos, sn->lc + sn->lab[idx], n);
	a->pos += n;
}

/* Put every record of @rs with the owner sn[idx..]; all or nothing.  The
 * rdata offsets of the first RDPOS_MAX records go to @rdpos when given.
 * Returns false when it does not fit. */
static bool put_rrset(struct ans *a, const struct zi_node *n, const struct zi_rrset *rs,
		      const struct sname *sn, unsigned idx, uint16_t *count, size_t *rdpos)
{
	size_t osz = owner_size(sn, idx);
	size_t need = osz * rs->count + rs->len;
	if (need > a->limit - a->pos)
		return false;
	const uint8_t *p = zi_wire(n, rs);
	if (rs->count == 1 && !rdpos) {
		put_owner(a, sn, idx);
		memcpy(a->tx + a->pos, p, rs->len);
		a->pos += rs->len;
		(*count)++;
		return true;
	}
	for (uint16_t i = 0; i < rs->count; i++) {
		size_t len = 10u + wire_get_u16(p + 8);
		put_owner(a, sn, idx);
		if (rdpos && i < RDPOS_MAX)
			rdpos[i] = a->pos + 10;
		memcpy(a->tx + a->pos, p, len);
		a->pos += len;
		p += len;
	}
	*count = (uint16_t)(*count + rs->count);
	return true;
}

/* Put the A/AAAA RRsets named by @rs (NS/MX/SRV) in the additional section.
 * @referral: in-domain glue that does not fit truncates (RFC 9471). */
static void put_adds(struct ans *a, const struct zi_zone *z, const struct zi_rrset *rs,
		     const size_t *rdpos, bool referral)
{
	for (int pass = 0; pass < 2; pass++) {
		for (uint16_t k = 0; k < rs->add_count; k++) {
			const struct zi_add *ad = &z->adds[rs->add_first + k];
			if (ad->in_domain != (pass == 0))
				continue;
			const struct zi_node *g = zi_node_at(z, ad->node);
			static const uint8_t lab0[1] = { 0 };
			struct sname gn;
			gn.lc = zi_name(g);
			gn.len = g->name_len;
			gn.nlab = 1;
			gn.lab = lab0;
			gn.pkt = ad->rr < RDPOS_MAX ? rdpos[ad->rr] + ad->name_off : 0;
			const uint16_t types[2] = { T_A, T_AAAA };
			for (int t = 0; t < 2; t++) {
				const struct zi_rrset *r = zi_rrset_find(g, types[t]);
				if (!r)
					continue;
				if (!put_rrset(a, g, r, &gn, 0, &a->ar, NULL) && referral &&
				    ad->in_domain)
					a->tc = true;
			}
		}
	}
}

static void put_negative(struct ans *a, const struct zi_zone *z, const struct sname *sn,
			 uint16_t rcode)
{
	unsigned idx = sn->nlab - 1u - z->apex_labels;
	a->rcode = rcode;
	if (owner_size(sn, idx) + z->soa_neg_len > a->limit - a->pos) {
		a->tc = true;
		return;
	}
	put_owner(a, sn, idx);
	memcpy(a->tx + a->pos, z->soa_neg, z->soa_neg_len);
	a->pos += z->soa_neg_len;
	a->ns++;
}

static void put_referral(struct ans *a, const struct zi_zone *z, uint32_t cut,
			 const struct sname *sn)
{
	const struct zi_node *c = zi_node_at(z, cut);
	const struct zi_rrset *ns = zi_rrset_find(c, T_NS);
	size_t rdpos[RDPOS_MAX];
	a->rcode = RC_NOERROR;
	if (!put_rrset(a, c, ns, sn, sn->nlab - 1u - c->labels, &a->ns, rdpos)) {
		a->tc = true;
		return;
	}
	put_adds(a, z, ns, rdpos, true);
}

/* The zone answering for @sn: the longest apex it lies under.  DS at a
 * zone apex goes to the parent zone when we have it (RFC 4035 3.1.4.1). */
static const struct zi_zone *find_zone(const struct zone_table *zt, const struct sname *sn,
				       uint16_t qtype)
{
	const struct zi_zone *found = NULL;
	unsigned labels = sn->nlab - 1u;
	for (size_t i = 0; i < zt->count; i++) {
		const struct zi_zone *z = &zt->zones[zt->by_depth[i]];
		if (z->apex_labels > labels)
			continue;
		unsigned idx = labels - z->apex_labels;
		if (sn->len - sn->lab[idx] != z->apex_len ||
		    !dname_equal(sn->lc + sn->lab[idx], z->apex, z->apex_len))
			continue;
		if (qtype == T_DS && idx == 0 && !found) {
			found = z;
			continue;
		}
		return z;
	}
	return found;
}

/* Answer from node @n (exact match, or the wildcard synthesised for @sn).
 * Returns the CNAME RRset to follow, or NULL when done. */
static const struct zi_rrset *answer_node(struct ans *a, const struct zi_zone *z,
					  const struct zi_node *n, const struct sname *sn,
					  uint16_t qtype, enum answer_transport tr,
					  size_t *rdpos)
{
	if (qtype == T_ANY) {
		/* RFC 8482: one RRset over UDP (PTR first, else the lowest type:
		 * NS at an apex, as Knot); all of them over TCP, where Knot 3.2
		 * still gives one */
		if (n->rrset_count == 0) {
			put_negative(a, z, sn, RC_NOERROR);
			return NULL;
		}
		const struct zi_rrset *rs = zi_rrsets(n);
		uint16_t cnt = n->rrset_count;
		if (tr == ANSWER_UDP) {
			const struct zi_rrset *ptr = zi_rrset_find(n, T_PTR);
			if (ptr)
				rs = ptr;
			cnt = 1;
		}
		for (uint16_t i = 0; i < cnt; i++) {
			if (!put_rrset(a, n, &rs[i], sn, 0, &a->an, NULL)) {
				a->tc = true;
				return NULL;
			}
		}
		return NULL;
	}
	const struct zi_rrset *rs = zi_rrset_find(n, qtype);
	if (rs) {
		size_t pos[RDPOS_MAX];
		bool adds = rs->add_count > 0;
		if (!put_rrset(a, n, rs, sn, 0, &a->an, adds ? pos : NULL)) {
			a->tc = true;
			return NULL;
		}
		if (adds)
			put_adds(a, z, rs, pos, false);
		return NULL;
	}
	rs = zi_rrset_find(n, T_CNAME);
	if (rs) {
		if (!put_rrset(a, n, rs, sn, 0, &a->an, rdpos)) {
			a->tc = true;
			return NULL;
		}
		return rs;
	}
	put_negative(a, z, sn, RC_NOERROR);
	return NULL;
}

static void resolve(struct ans *a, const struct zone_table *zt, const struct query *pq,
		    enum answer_transport tr)
{
	struct sname sn;
	uint8_t names[2][DNAME_MAXLEN];
	uint8_t labs[2][DNAME_MAXLABELS];
	uint8_t wild[DNAME_MAXLEN + 2];
	uint64_t seen[CNAME_MAX + 1];
	unsigned cur = 0;

	sn.lc = pq->lc;
	sn.len = pq->qname_len;
	sn.lab = pq->lab;
	sn.nlab = pq->nlab;
	sn.pkt = HDR_LEN;
	a->rcode = RC_NOERROR;

	const struct zi_zone *prev = NULL;
	for (unsigned step = 0;; step++) {
		const struct zi_zone *z = find_zone(zt, &sn, pq->qtype);
		if (!z) {
			if (step == 0)
				a->rcode = RC_REFUSED;
			return;
		}
		/* a CNAME is followed inside its own zone only (as Knot) */
		if (prev && z != prev)
			return;
		prev = z;
		if (step == 0) {
			a->in_zone = true;
			a->aa = true;
		}
		const struct zi_rrset *cname = NULL;
		size_t rdpos[RDPOS_MAX];
		uint32_t ni = zi_lookup(z, sn.lc, sn.len);
		if (ni != ZI_NONE) {
			const struct zi_node *n = zi_node_at(z, ni);
			if (n->cut != ZI_NONE && !(n->cut == ni && pq->qtype == T_DS)) {
				if (step == 0)
					a->aa = false;
				put_referral(a, z, n->cut, &sn);
				return;
			}
			cname = answer_node(a, z, n, &sn, pq->qtype, tr, rdpos);
		} else {
			/* closest encloser: every ancestor of a name is a node */
			unsigned top = sn.nlab - 1u - z->apex_labels;
			unsigned idx = 1;
			uint32_t ce = ZI_NONE;
			for (; idx <= top; idx++) {
				ce = zi_lookup(z, sn.lc + sn.lab[idx], sn.len - sn.lab[idx]);
				if (ce != ZI_NONE)
					break;
			}
			if (ce == ZI_NONE)
				return; /* cannot happen: the apex is a node */
			const struct zi_node *c = zi_node_at(z, ce);
			if (c->cut != ZI_NONE) {
				if (step == 0)
					a->aa = false;
				put_referral(a, z, c->cut, &sn);
				return;
			}
			uint32_t wi = ZI_NONE;
			if (c->flags & ZI_NODE_WILD) {
				size_t sl = sn.len - sn.lab[idx];
				wild[0] = 1;
				wild[1] = '*';
				memcpy(wild + 2, sn.lc + sn.lab[idx], sl);
				wi = zi_lookup(z, wild, sl + 2);
			}
			if (wi == ZI_NONE) {
				put_negative(a, z, &sn, RC_NXDOMAIN);
				return;
			}
			/* RFC 4592: synthesise from the wildcard, owner = the name */
			cname = answer_node(a, z, zi_node_at(z, wi), &sn, pq->qtype, tr, rdpos);
		}
		if (!cname || a->tc)
			return;

		/* follow the CNAME inside our zones (RFC 1034 4.3.2, RFC 6604) */
		size_t tpos = rdpos[0];
		size_t tlen = wire_get_u16(a->tx + tpos - 2);
		uint8_t *t = names[cur];
		uint8_t *tl = labs[cur];
		cur ^= 1u;
		dname_lower(t, a->tx + tpos, tlen);
		if (step + 1 >= CNAME_MAX)
			return; /* Knot stops after 5 CNAMEs */
		seen[step] = dname_hash(sn.lc, sn.len);
		uint64_t th = dname_hash(t, tlen);
		for (unsigned k = 0; k <= step; k++) {
			if (seen[k] == th)
				return; /* a loop */
		}
		sn.lc = t;
		sn.len = tlen;
		sn.nlab = dname_labels(t, tl);
		sn.lab = tl;
		sn.pkt = tpos;
	}
}

/* ---- CHAOS ---- */

static const char *chaos_text(const struct query *pq, const struct answer_conf *ac)
{
	static const struct {
		const char *wire;
		size_t len;
		bool version;
	} names[] = {
		{ "\7version\4bind", 13, true },
		{ "\7version\6server", 15, true },
		{ "\2id\6server", 10, false },
		{ "\10hostname\4bind", 14, false },
	};
	if (!ac)
		return NULL;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (pq->qname_len == names[i].len + 1 &&
		    memcmp(pq->lc, names[i].wire, names[i].len + 1) == 0)
			return names[i].version ? ac->version : ac->identity;
	}
	return NULL;
}

static void answer_chaos(struct ans *a, const struct query *pq, const struct answer_conf *ac)
{
	const char *s = pq->qtype == T_TXT ? chaos_text(pq, ac) : NULL;
	if (!s) {
		a->rcode = RC_REFUSED;
		return;
	}
	size_t len = strlen(s);
	if (len > 4096)
		len = 4096;
	size_t rdlen = len + (len + 254) / 255;
	if (len == 0)
		rdlen = 1;
	if (12 + rdlen > a->limit - a->pos) {
		a->tc = true;
		return;
	}
	uint8_t *p = a->tx + a->pos;
	wire_put_u16(p, 0xC00C);
	wire_put_u16(p + 2, T_TXT);
	wire_put_u16(p + 4, C_CH);
	memset(p + 6, 0, 4);
	wire_put_u16(p + 10, (uint16_t)rdlen);
	p += 12;
	if (len == 0)
		*p++ = 0;
	for (size_t o = 0; o < len; o += 255) {
		size_t n = len - o > 255 ? 255 : len - o;
		*p++ = (uint8_t)n;
		memcpy(p, s + o, n);
		p += n;
	}
	a->pos += 12 + rdlen;
	a->an = 1;
}

/* ---- the builder ---- */

/* Our EDNS payload: answer_conf.udp_max, 1232 when unset, at least 512. */
static uint16_t our_udp_max(const struct answer_conf *ac)
{
	if (!ac || ac->udp_max == 0)
		return 1232;
	return ac->udp_max < ANSWER_UDP_MIN ? ANSWER_UDP_MIN : ac->udp_max;
}

size_t answer_build_general(const struct zone_table *zt, const struct answer_conf *ac,
			    enum answer_transport tr, const uint8_t *q, size_t qlen, uint8_t *tx,
			    size_t cap, struct answer_info *info)
{
	struct query pq;
	memset(info, 0, sizeof *info);
	if (qlen < HDR_LEN || (q[2] & 0x80) || cap < ANSWER_UDP_MIN) {
		info->malformed = true;
		return 0;
	}
	pq.edns = pq.nsid = pq.ecs = pq.malformed = pq.have_q = false;
	pq.do_bit = false;
	pq.version = 0;
	pq.payload = 0;
	pq.qname_len = 0;
	pq.qtype = pq.qclass = 0;
	parse_query(&pq, q, qlen);

	unsigned opcode = (pq.flags >> 11) & 0xF;
	bool rd = (pq.flags & F_RD) != 0;
	info->malformed = pq.malformed;
	if (rd)
		info->flags |= EVENT_RD;
	if (pq.edns)
		info->flags |= EVENT_EDNS;
	if (pq.edns && pq.do_bit)
		info->flags |= EVENT_DO;
	if (pq.ecs && !pq.malformed) {
		info->flags |= EVENT_ECS;
		info->ecs = pq.ecs_addr;
	}
	if (pq.have_q) {
		info->qtype = pq.qtype;
		info->qclass = pq.qclass;
		info->qname_len = (uint16_t)pq.qname_len;
	}

	/* the size limit of the answer */
	size_t limit = 65535;
	if (tr == ANSWER_UDP) {
		limit = ANSWER_UDP_MIN;
		if (pq.edns) {
			uint16_t udp_max = our_udp_max(ac);
			limit = pq.payload > ANSWER_UDP_MIN ? pq.payload : ANSWER_UDP_MIN;
			if (limit > udp_max)
				limit = udp_max;
		}
	}
	if (limit > cap)
		limit = cap;
	bool nsid = pq.edns && pq.nsid && ac && ac->nsid && ac->nsid_len > 0;
	size_t opt_len = pq.edns ? 11 + (nsid ? 4 + ac->nsid_len : 0) : 0;
	size_t qsec = pq.have_q ? pq.qend - HDR_LEN : 0;
	if (nsid && HDR_LEN + qsec + opt_len > limit) {
		nsid = false;
		opt_len = 11;
	}

	struct ans a = {
		.tx = tx, .pos = HDR_LEN, .limit = limit - opt_len, .rcode = RC_NOERROR,
	};
	bool echo_q = pq.have_q;
	bool resolved = false;
	if (pq.have_q) {
		memcpy(tx + HDR_LEN, q + HDR_LEN, qsec);
		a.pos += qsec;
	}
	size_t qsec_end = a.pos;

	if (opcode != 0) {
		a.rcode = RC_NOTIMP; /* Knot: NOTAUTH for NOTIFY, FORMERR for UPDATE */
	} else if (pq.malformed) {
		a.rcode = RC_FORMERR;
	} else if (pq.edns && pq.version > 0) {
		a.rcode = RC_BADVERS; /* RFC 6891 6.1.3 */
	} else if (pq.qclass == C_CH) {
		answer_chaos(&a, &pq, ac);
	} else if (pq.qclass != C_IN && pq.qclass != C_ANY) {
		/* class ANY is answered like IN, as Knot does */
		a.rcode = RC_REFUSED;
	} else if (pq.qtype == 0) {
		a.rcode = RC_NOTIMP; /* as Knot */
	} else if (pq.qtype == T_AXFR || pq.qtype == T_IXFR) {
		a.rcode = RC_REFUSED; /* no zone transfers (Knot: NOTAUTH/NOTIMP) */
	} else if (zt) {
		resolve(&a, zt, &pq, tr);
		resolved = true;
	} else {
		a.rcode = RC_REFUSED;
	}
	/* in_zone: the name lies in one of our zones, whatever the answer */
	bool in_zone = a.in_zone;
	if (!resolved && pq.have_q && zt) {
		struct sname sn = { pq.lc, pq.qname_len, pq.lab, pq.nlab, HDR_LEN };
		in_zone = find_zone(zt, &sn, 0) != NULL;
	}

	if (a.tc) {
		/* minimal truncated answer: header, question, OPT */
		a.pos = qsec_end;
		a.an = a.ns = a.ar = 0;
	}
	if (pq.edns) {
		uint8_t *p = tx + a.pos;
		uint16_t udp_max = our_udp_max(ac);
		p[0] = 0;
		wire_put_u16(p + 1, T_OPT);
		wire_put_u16(p + 3, udp_max);
		p[5] = (uint8_t)(a.rcode >> 4);
		p[6] = 0;
		p[7] = pq.do_bit ? 0x80 : 0;
		p[8] = 0;
		wire_put_u16(p + 9, (uint16_t)(nsid ? 4 + ac->nsid_len : 0));
		if (nsid) {
			wire_put_u16(p + 11, OPT_NSID);
			wire_put_u16(p + 13, (uint16_t)ac->nsid_len);
			memcpy(p + 15, ac->nsid, ac->nsid_len);
		}
		a.pos += opt_len;
		a.ar++;
	}
	uint16_t flags = (uint16_t)(F_QR | (opcode << 11) | (a.rcode & 0xF));
	if (a.aa && a.rcode != RC_REFUSED)
		flags |= F_AA;
	if (a.tc)
		flags |= F_TC;
	if (rd)
		flags |= F_RD;
	wire_put_u16(tx, pq.id);
	wire_put_u16(tx + 2, flags);
	wire_put_u16(tx + 4, echo_q ? 1 : 0);
	wire_put_u16(tx + 6, a.an);
	wire_put_u16(tx + 8, a.ns);
	wire_put_u16(tx + 10, a.ar);

	info->rcode = a.rcode;
	info->truncated = a.tc;
	info->in_zone = in_zone;
	return a.pos;
}

/* ---- the fast path ----
 *
 * answer_prepare() accepts only queries whose general answer it can predict
 * from the node alone: QR=0, opcode 0, QDCOUNT 1, ANCOUNT 0, NSCOUNT 0,
 * ARCOUNT 0 or 1 (an OPT owned by the root, version 0, no NSID or ECS
 * option, well formed, nothing after it), a valid uncompressed qname, class
 * IN, and a qtype other than 0, DS, ANY, IXFR and AXFR.  The general builder
 * then resolves the qname in its zone; when the zone has a node of exactly
 * that name, not at or below a cut, the answer is the node's RRset of the
 * qtype (no additional section: not NS, MX or SRV) or, without it and
 * without a CNAME, NODATA; answer_build_prepared() writes those two itself
 * when they fit, and gives anything else back to the general builder. */

enum prep_state {
	PREP_GENERAL = 0, /* not the common shape */
	PREP_HASHED,      /* zone found and qname hashed; slot not read yet */
	PREP_FOUND,       /* p->ref: the first node whose tag matches */
	PREP_MISS,        /* no node has the qname's tag */
};

#define PREP_EDNS 1
#define PREP_DO 2

/* Copy @n bytes (@n < 65536) in 16-, 8- or 4-byte moves, the last one
 * overlapping the one before; never reads or writes past @n. */
static inline void copy_small(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n >= 16) {
		for (size_t i = 0; i + 16 < n; i += 16)
			memcpy(d + i, s + i, 16);
		memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	}
}

/* The OPT record of a query of the common shape at @o: 0 when fine (*edns,
 * *payload set), -1 for anything the general builder has to look at. */
static inline int prep_opt(const uint8_t *q, size_t qlen, size_t o, uint8_t *edns,
			   uint16_t *payload)
{
	if (qlen - o < 11 || q[o] != 0 || wire_get_u16(q + o + 1) != T_OPT || q[o + 6] != 0)
		return -1;
	size_t end = o + 11 + wire_get_u16(q + o + 9);
	if (end != qlen)
		return -1;
	for (size_t p = o + 11; p < end;) {
		if (end - p < 4)
			return -1;
		uint16_t code = wire_get_u16(q + p);
		size_t olen = wire_get_u16(q + p + 2);
		if (code == OPT_NSID || code == OPT_ECS || olen > end - p - 4)
			return -1;
		p += 4 + olen;
	}
	*payload = wire_get_u16(q + o + 3);
	*edns = (uint8_t)(PREP_EDNS | ((q[o + 7] & 0x80) ? PREP_DO : 0));
	return 0;
}

/* The length of the qname of @q (at offset 12) by walking its labels, or 0
 * when it is not a valid uncompressed name followed by type and class. */
static inline size_t prep_walk(const uint8_t *q, size_t qlen)
{
	const uint8_t *name = q + HDR_LEN;
	size_t lim = qlen - HDR_LEN - 4; /* room for the type and class after it */
	if (lim > DNAME_MAXLEN)
		lim = DNAME_MAXLEN;
	for (size_t pos = 0; pos < lim;) {
		unsigned l = name[pos];
		if (l == 0)
			return pos + 1;
		if (l > 63)
			return 0;
		pos += 1u + l;
	}
	return 0;
}

void answer_prepare(const struct zone_table *zt, const uint8_t *q, size_t qlen,
		    struct answer_prep *p)
{
	/* QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0 or 1 */
	static const uint8_t counts[7] = { 0, 1, 0, 0, 0, 0, 0 };

	p->state = PREP_GENERAL;
	if (!zt || qlen < HDR_LEN + 1 + 4 || (q[2] & 0xF8) != 0 ||
	    memcmp(q + 4, counts, sizeof counts) != 0 || q[11] > 1)
		return;

	/* Where the qname ends.  Without an OPT, or with an empty OPT at the
	 * end, the rest of the query says it: the qname is then not walked,
	 * since a hit compares it with a node's name byte for byte, and a
	 * node's name is a valid name under its zone's apex (a wrong guess
	 * finds no node and goes to the general builder).  Otherwise walk the
	 * labels and parse the OPT behind the question. */
	size_t len;
	const uint8_t *o = q + qlen - 11;
	p->edns = 0;
	p->payload = 0;
	if (q[11] == 0) {
		len = qlen - HDR_LEN - 4;
	} else if (qlen >= HDR_LEN + 1 + 4 + 11 && o[0] == 0 && o[1] == 0 && o[2] == T_OPT &&
		   o[6] == 0 && o[9] == 0 && o[10] == 0) {
		len = qlen - HDR_LEN - 4 - 11;
		p->payload = wire_get_u16(o + 3);
		p->edns = (uint8_t)(PREP_EDNS | ((o[7] & 0x80) ? PREP_DO : 0));
	} else {
		len = prep_walk(q, qlen);
		if (len == 0 || prep_opt(q, qlen, HDR_LEN + len + 4, &p->edns, &p->payload) != 0)
			return;
	}
	if (len == 0 || len > DNAME_MAXLEN)
		return;
	const uint8_t *name = q + HDR_LEN;
	uint16_t qtype = wire_get_u16(name + len);
	if (wire_get_u16(name + len + 2) != C_IN || qtype == 0 || qtype == T_DS ||
	    qtype == T_ANY || qtype == T_AXFR || qtype == T_IXFR)
		return;

	/* The zone: the first apex, most labels first, that ends the qname
	 * (its last 8 bytes, case folded, tell most zones apart at once).  A
	 * match that is not on a label boundary finds no node, as above. */
	const struct zi_zone *z = NULL;
	uint64_t tail = len >= 8 ? dname_load64(name + len - 8) | ZI_FOLD : 0;
	for (size_t i = 0; i < zt->count; i++) {
		const struct zi_apex *a = &zt->apexes[i];
		if (a->len > len || (a->len >= 8 && a->tail != tail))
			continue;
		if (dname_equal_lower(a->zone->apex, name + len - a->len, a->len)) {
			z = a->zone;
			break;
		}
	}
	if (!z)
		return;
	uint64_t h = zi_hash(name, len);
	__builtin_prefetch(&z->slots[h & z->slot_mask]);
	p->hash = h;
	p->zone = z;
	p->qname_len = (uint16_t)len;
	p->state = PREP_HASHED;
}

/* Read the hash slots of @p: the first node with the qname's tag. */
static inline const struct zi_slot *prep_probe(struct answer_prep *p)
{
	const struct zi_zone *z = p->zone;
	uint32_t tag = zi_tag(p->hash);
	for (uint64_t i = p->hash & z->slot_mask;; i = (i + 1) & z->slot_mask) {
		const struct zi_slot *s = &z->slots[i];
		if (s->tag == 0) {
			p->state = PREP_MISS;
			return NULL;
		}
		if (zi_slot_match(s, tag)) {
			p->ref = s->node;
			p->state = PREP_FOUND;
			return s;
		}
	}
}

void answer_prefetch(const struct zone_table *zt, struct answer_prep *p)
{
	(void)zt;
	if (p->state != PREP_HASHED)
		return;
	const struct zi_slot *s = prep_probe(p);
	if (!s)
		return;
	const uint8_t *node = (const uint8_t *)zi_node_at(p->zone, s->node);
	unsigned lines = zi_slot_lines(s);
	__builtin_prefetch(node);
	if (lines > 1)
		__builtin_prefetch(node + 64);
	if (lines > 2)
		__builtin_prefetch(node + 128);
	if (lines > 3)
		__builtin_prefetch(node + 192);
}

/* The answer from node p->ref (module comment above), or 0 to leave it to the
 * general builder. */
static size_t fast_answer(const struct answer_conf *ac, enum answer_transport tr,
			  const uint8_t *q, const struct answer_prep *p, uint8_t *tx, size_t cap,
			  struct answer_info *info)
{
	const struct zi_zone *z = p->zone;
	const struct zi_node *n = zi_node_at(z, p->ref);
	const uint8_t *name = q + HDR_LEN;
	size_t len = p->qname_len;
	if (n->name_len != len || n->cut != ZI_NONE || !dname_equal_lower(zi_name(n), name, len))
		return 0;
	uint16_t qtype = wire_get_u16(name + len);
	const struct zi_rrset *rs = zi_rrsets(n), *hit = NULL;
	bool cname = false;
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		if (rs[i].type == qtype) {
			hit = &rs[i];
			break;
		}
		cname |= rs[i].type == T_CNAME;
	}
	if (hit ? hit->add_count > 0 : cname)
		return 0;

	size_t limit = 65535;
	if (tr == ANSWER_UDP) {
		limit = ANSWER_UDP_MIN;
		if (p->edns) {
			uint16_t udp_max = our_udp_max(ac);
			limit = p->payload > ANSWER_UDP_MIN ? p->payload : ANSWER_UDP_MIN;
			if (limit > udp_max)
				limit = udp_max;
		}
	}
	if (limit > cap)
		limit = cap;
	size_t qsec = len + 4;
	/* limit >= 512 > header + the longest question + OPT */
	size_t room = limit - (p->edns ? 11 : 0) - HDR_LEN - qsec;
	uint8_t *w = tx + HDR_LEN + qsec;
	uint16_t an = 0, ns = 0;
	if (hit) {
		if (2u * hit->count + hit->len > room)
			return 0; /* truncated: the general builder */
		const uint8_t *src = zi_wire(n, hit);
		if (hit->count == 1) {
			w[0] = 0xC0;
			w[1] = HDR_LEN;
			copy_small(w + 2, src, hit->len);
			w += 2 + hit->len;
		} else {
			for (uint16_t i = 0; i < hit->count; i++) {
				size_t rl = 10u + wire_get_u16(src + 8);
				w[0] = 0xC0;
				w[1] = HDR_LEN;
				copy_small(w + 2, src, rl);
				w += 2 + rl;
				src += rl;
			}
		}
		an = hit->count;
	} else {
		/* NODATA: the SOA, owned by the apex inside the qname */
		if (2u + z->soa_neg_len > room)
			return 0;
		wire_put_u16(w, (uint16_t)(0xC000 | (HDR_LEN + len - z->apex_len)));
		copy_small(w + 2, z->soa_neg, z->soa_neg_len);
		w += 2 + z->soa_neg_len;
		ns = 1;
	}
	if (p->edns) {
		w[0] = 0;
		wire_put_u16(w + 1, T_OPT);
		wire_put_u16(w + 3, our_udp_max(ac));
		w[5] = 0;
		w[6] = 0;
		w[7] = (p->edns & PREP_DO) ? 0x80 : 0;
		w[8] = 0;
		w[9] = 0;
		w[10] = 0;
		w += 11;
	}
	tx[0] = q[0];
	tx[1] = q[1];
	tx[2] = (uint8_t)((F_QR | F_AA) >> 8 | (q[2] & (F_RD >> 8)));
	tx[3] = 0;
	wire_put_u16(tx + 4, 1);
	wire_put_u16(tx + 6, an);
	wire_put_u16(tx + 8, ns);
	wire_put_u16(tx + 10, p->edns ? 1 : 0);
	copy_small(tx + HDR_LEN, name, qsec);

	uint8_t flags = (q[2] & (F_RD >> 8)) ? EVENT_RD : 0;
	if (p->edns)
		flags |= EVENT_EDNS;
	if (p->edns & PREP_DO)
		flags |= EVENT_DO;
	memset(info, 0, sizeof *info);
	info->qtype = qtype;
	info->qclass = C_IN;
	info->qname_len = (uint16_t)len;
	info->flags = flags;
	info->in_zone = true;
	return (size_t)(w - tx);
}

/* The general builder out of line, so that the fast path around it needs
 * no stack frame of its size. */
__attribute__((noinline, cold)) static size_t
build_general_cold(const struct zone_table *zt, const struct answer_conf *ac,
		   enum answer_transport tr, const uint8_t *q, size_t qlen, uint8_t *tx, size_t cap,
		   struct answer_info *info)
{
	return answer_build_general(zt, ac, tr, q, qlen, tx, cap, info);
}

size_t answer_build_prepared(const struct zone_table *zt, const struct answer_conf *ac,
			     enum answer_transport tr, const uint8_t *q, size_t qlen,
			     const struct answer_prep *p, uint8_t *tx, size_t cap,
			     struct answer_info *info)
{
	struct answer_prep lp;
	if (p->state == PREP_HASHED) {
		lp = *p;
		prep_probe(&lp);
		p = &lp;
	}
	if (p->state == PREP_FOUND && cap >= ANSWER_UDP_MIN) {
		size_t n = fast_answer(ac, tr, q, p, tx, cap, info);
		if (n)
			return n;
	}
	return build_general_cold(zt, ac, tr, q, qlen, tx, cap, info);
}

size_t answer_build(const struct zone_table *zt, const struct answer_conf *ac,
		    enum answer_transport tr, const uint8_t *q, size_t qlen, uint8_t *tx,
		    size_t cap, struct answer_info *info)
{
	struct answer_prep p;
	answer_prepare(zt, q, qlen, &p);
	return answer_build_prepared(zt, ac, tr, q, qlen, &p, tx, cap, info);
}
