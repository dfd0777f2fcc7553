/* authd/zone.c — the zone table: reads every zone with zone_parse.c, checks
 * it (Knot's kzonecheck semantics, see authd/README.md) and renders the
 * read-only index of zone_index.h that answer.c serves from.
 *
 * Main thread (start-up and reload).  The finished table is immutable and
 * read by the workers without locks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "authd/zone.h"
#include "authd/zone_index.h"
#include "authd/zone_parse.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/wire.h"

#define T_A 1
#define T_NS 2
#define T_CNAME 5
#define T_SOA 6
#define T_PTR 12
#define T_MX 15
#define T_AAAA 28
#define T_SRV 33
#define T_DS 43
#define T_RRSIG 46
#define T_NSEC 47

/* ---- growable buffers ---- */

struct zl_buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_reserve(struct zl_buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return 0;
	size_t nc = b->cap ? b->cap : 4096;
	while (nc < b->len + n)
		nc *= 2;
	uint8_t *np = mem_realloc(b->p, nc);
	if (!np)
		return BSC_ENOMEM;
	b->p = np;
	b->cap = nc;
	return 0;
}

static int buf_put(struct zl_buf *b, const void *src, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n))
		return BSC_ENOMEM;
	memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

/* Grow an array of @size-byte items so that one more fits. */
static int arr_grow(void **arr, size_t *cap, size_t count, size_t size)
{
	if (count < *cap)
		return 0;
	void *np = mem_grow(*arr, cap, size, 64);
	if (!np)
		return BSC_ENOMEM;
	*arr = np;
	return 0;
}

/* ---- records as read ---- */

struct zl_rec {
	uint32_t owner_off; /* lower-case wire name in ctx->owners */
	uint32_t rd_off;    /* rdata in ctx->rdata */
	uint32_t ttl;
	uint32_t seq;
	uint32_t file;      /* index into ctx->files */
	uint32_t line;
	uint16_t type;
	uint16_t rdlen;
	uint8_t owner_len;
	bool dup;
};

struct zl_ctx {
	struct zone_errs *errs;
	struct zl_rec *recs;
	size_t nrec, rcap;
	struct zl_buf owners;
	struct zl_buf rdata;
	char **files;
	size_t nfiles, fcap;
};

static int on_rr(void *arg, const struct zone_rr *rr)
{
	struct zl_ctx *c = arg;
	if (c->nfiles == 0 || strcmp(c->files[c->nfiles - 1], rr->file) != 0) {
		size_t i;
		for (i = 0; i < c->nfiles; i++) {
			if (strcmp(c->files[i], rr->file) == 0)
				break;
		}
		if (i == c->nfiles) {
			if (arr_grow((void **)&c->files, &c->fcap, c->nfiles, sizeof(char *)))
				return BSC_ENOMEM;
			c->files[c->nfiles] = mem_strdup(rr->file);
			if (!c->files[c->nfiles])
				return BSC_ENOMEM;
			c->nfiles++;
		} else if (i != c->nfiles - 1) {
			/* back in an including file: move it last for the fast check */
			char *t = c->files[i];
			memmove(&c->files[i], &c->files[i + 1],
				(c->nfiles - i - 1) * sizeof(char *));
			c->files[c->nfiles - 1] = t;
			for (size_t k = 0; k < c->nrec; k++) {
				if (c->recs[k].file == i)
					c->recs[k].file = (uint32_t)(c->nfiles - 1);
				else if (c->recs[k].file > i)
					c->recs[k].file--;
			}
		}
	}
	if (arr_grow((void **)&c->recs, &c->rcap, c->nrec, sizeof *c->recs))
		return BSC_ENOMEM;
	if (c->owners.len + rr->owner_len > UINT32_MAX || c->rdata.len + rr->rdlen > UINT32_MAX) {
		zone_errs_error(c->errs, rr->file, rr->line, "zone too large");
		return BSC_EZONE;
	}
	struct zl_rec *r = &c->recs[c->nrec];
	memset(r, 0, sizeof *r);
	r->owner_off = (uint32_t)c->owners.len;
	r->owner_len = (uint8_t)rr->owner_len;
	if (buf_reserve(&c->owners, rr->owner_len))
		return BSC_ENOMEM;
	dname_lower(c->owners.p + c->owners.len, rr->owner, rr->owner_len);
	c->owners.len += rr->owner_len;
	r->rd_off = (uint32_t)c->rdata.len;
	r->rdlen = (uint16_t)rr->rdlen;
	if (buf_put(&c->rdata, rr->rdata, rr->rdlen))
		return BSC_ENOMEM;
	r->ttl = rr->ttl;
	r->type = rr->type;
	r->seq = (uint32_t)c->nrec;
	r->file = (uint32_t)(c->nfiles - 1);
	r->line = rr->line;
	c->nrec++;
	return 0;
}

static void ctx_free(struct zl_ctx *c)
{
	mem_free(c->recs);
	mem_free(c->owners.p);
	mem_free(c->rdata.p);
	for (size_t i = 0; i < c->nfiles; i++)
		mem_free(c->files[i]);
	mem_free(c->files);
	memset(c, 0, sizeof *c);
}

static const uint8_t *rec_owner(const struct zl_ctx *c, const struct zl_rec *r)
{
	return c->owners.p + r->owner_off;
}

static const uint8_t *rec_rdata(const struct zl_ctx *c, const struct zl_rec *r)
{
	return c->rdata.p + r->rd_off;
}

static int rec_cmp(const void *a, const void *b, void *arg)
{
	const struct zl_ctx *c = arg;
	const struct zl_rec *x = a, *y = b;
	if (x->owner_len != y->owner_len)
		return x->owner_len < y->owner_len ? -1 : 1;
	int d = memcmp(rec_owner(c, x), rec_owner(c, y), x->owner_len);
	if (d)
		return d;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static bool same_owner(const struct zl_ctx *c, const struct zl_rec *x, const struct zl_rec *y)
{
	return x->owner_len == y->owner_len &&
	       memcmp(rec_owner(c, x), rec_owner(c, y), x->owner_len) == 0;
}

static const char *type_name(uint16_t t, char *buf, size_t len)
{
	static const struct {
		uint16_t t;
		const char *n;
	} names[] = {
		{ 1, "A" },     { 2, "NS" },      { 5, "CNAME" }, { 6, "SOA" },   { 12, "PTR" },
		{ 13, "HINFO" }, { 15, "MX" },     { 16, "TXT" },  { 28, "AAAA" }, { 33, "SRV" },
		{ 39, "DNAME" }, { 43, "DS" },     { 46, "RRSIG" }, { 47, "NSEC" },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (names[i].t == t)
			return names[i].n;
	}
	snprintf(buf, len, "TYPE%u", (unsigned)t);
	return buf;
}

/* ---- index building ---- */

/* Build-time forms of zi_node/zi_rrset: plain arrays, packed into the blob
 * of zone_index.h at the end (pack()). */
struct zl_node {
	uint32_t name_off;    /* in b->names */
	uint8_t name_len;
	uint8_t labels;
	uint8_t flags;
	uint32_t rrset_first; /* in b->rrsets */
	uint16_t rrset_count;
	uint32_t cut;         /* build index */
};

struct zl_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t off;         /* in b->wire */
	uint32_t len;
	uint32_t add_first;
	uint16_t add_count;
};

struct zl_rsinfo {
	uint32_t file;
	uint32_t line;
};

struct zl_build {
	struct zi_zone *z;
	struct zl_ctx *c;
	struct zl_buf names;
	struct zl_node *nodes;
	size_t nnodes, ncap;
	struct zi_slot *slots;
	size_t nslots;
	struct zl_rrset *rrsets;
	size_t nrrsets, rscap;
	struct zl_rsinfo *rsinfo;
	size_t ricap;
	struct zi_add *adds;
	size_t nadds, acap;
	struct zl_buf wire;
};

static void build_free(struct zl_build *b)
{
	mem_free(b->names.p);
	mem_free(b->nodes);
	mem_free(b->slots);
	mem_free(b->rrsets);
	mem_free(b->rsinfo);
	mem_free(b->adds);
	mem_free(b->wire.p);
	memset(b, 0, sizeof *b);
}

/* @lines: the node's cache lines (1..4), for the final table; 1 at build
 * time. */
static void slot_insert(struct zi_slot *slots, size_t nslots, uint64_t h, uint32_t node,
			unsigned lines)
{
	size_t mask = nslots - 1;
	size_t i = h & mask;
	while (slots[i].tag != 0)
		i = (i + 1) & mask;
	slots[i].tag = zi_tag(h) | ((lines - 1u) & ZI_TAG_LINES);
	slots[i].node = node;
}

static int rehash(struct zl_build *b, size_t nslots)
{
	struct zi_slot *ns = mem_calloc(nslots, sizeof *ns);
	if (!ns)
		return BSC_ENOMEM;
	for (size_t i = 0; i < b->nnodes; i++) {
		const struct zl_node *n = &b->nodes[i];
		slot_insert(ns, nslots, zi_hash(b->names.p + n->name_off, n->name_len),
			    (uint32_t)i, 1);
	}
	mem_free(b->slots);
	b->slots = ns;
	b->nslots = nslots;
	return 0;
}

/* Build-time lookup: the build index of @name, or ZI_NONE. */
static uint32_t bl_lookup(const struct zl_build *b, const uint8_t *name, size_t len)
{
	uint64_t h = zi_hash(name, len);
	uint32_t tag = zi_tag(h);
	size_t mask = b->nslots - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct zi_slot *s = &b->slots[i];
		if (s->tag == 0)
			return ZI_NONE;
		if (!zi_slot_match(s, tag))
			continue;
		const struct zl_node *n = &b->nodes[s->node];
		if (n->name_len == len && memcmp(b->names.p + n->name_off, name, len) == 0)
			return s->node;
	}
}

/* Find or create the node of @name; *created tells which. */
static int node_get(struct zl_build *b, const uint8_t *name, size_t len, uint32_t *idx,
		    bool *created)
{
	uint32_t i = bl_lookup(b, name, len);
	*created = false;
	if (i != ZI_NONE) {
		*idx = i;
		return 0;
	}
	if ((b->nnodes + 1) * 2 > b->nslots) {
		if (rehash(b, b->nslots * 2))
			return BSC_ENOMEM;
	}
	if (arr_grow((void **)&b->nodes, &b->ncap, b->nnodes, sizeof *b->nodes))
		return BSC_ENOMEM;
	struct zl_node *n = &b->nodes[b->nnodes];
	memset(n, 0, sizeof *n);
	n->name_off = (uint32_t)b->names.len;
	n->name_len = (uint8_t)len;
	n->labels = (uint8_t)dname_label_count(name);
	n->cut = ZI_NONE;
	n->rrset_first = (uint32_t)b->nrrsets;
	if (buf_put(&b->names, name, len))
		return BSC_ENOMEM;
	slot_insert(b->slots, b->nslots, zi_hash(name, len), (uint32_t)b->nnodes, 1);
	*idx = (uint32_t)b->nnodes;
	b->nnodes++;
	*created = true;
	return 0;
}

/* The node of @name and every ancestor up to the apex (ENTs). */
static int node_add_path(struct zl_build *b, const uint8_t *name, size_t len, uint32_t *idx)
{
	bool created;
	int rc = node_get(b, name, len, idx, &created);
	if (rc || !created)
		return rc;
	size_t pos = 0;
	while (len - pos > b->z->apex_len) {
		pos += 1u + name[pos];
		uint32_t up;
		rc = node_get(b, name + pos, len - pos, &up, &created);
		if (rc)
			return rc;
		if (!created)
			break;
		b->nodes[up].flags |= ZI_NODE_ENT;
	}
	return 0;
}

/* Offset of the target name inside the rdata of NS/MX/SRV, or -1. */
static int target_off(uint16_t type)
{
	switch (type) {
	case T_NS:
		return 0;
	case T_MX:
		return 2;
	case T_SRV:
		return 6;
	default:
		return -1;
	}
}

static const char *zfile(const struct zl_ctx *c, uint32_t f)
{
	return f < c->nfiles ? c->files[f] : "?";
}

static void rr_hdr(uint8_t *h, uint16_t type, uint32_t ttl, uint16_t rdlen)
{
	wire_put_u16(h, type);
	wire_put_u16(h + 2, 1); /* IN */
	wire_put_u32(h + 4, ttl);
	wire_put_u16(h + 8, rdlen);
}

/* Render the RRset recs[a..e) (one owner, one type; duplicates skipped) at
 * node @node.  The TTL of the first record wins (as in Knot). */
static int add_rrset(struct zl_build *b, const struct zl_rec *recs, size_t a, size_t e,
		     uint32_t node)
{
	struct zl_ctx *c = b->c;
	if (arr_grow((void **)&b->rrsets, &b->rscap, b->nrrsets, sizeof *b->rrsets))
		return BSC_ENOMEM;
	if (arr_grow((void **)&b->rsinfo, &b->ricap, b->nrrsets, sizeof *b->rsinfo))
		return BSC_ENOMEM;
	struct zl_rrset *rs = &b->rrsets[b->nrrsets];
	memset(rs, 0, sizeof *rs);
	rs->type = recs[a].type;
	rs->off = (uint32_t)b->wire.len;
	uint32_t ttl = recs[a].ttl;
	bool warned = false;
	char tn[16];
	for (size_t i = a; i < e; i++) {
		const struct zl_rec *r = &recs[i];
		if (r->dup)
			continue;
		if (r->ttl != ttl && !warned) {
			char on[DNAME_TEXTLEN];
			zone_errs_warning(c->errs, zfile(c, r->file), r->line,
					  "TTL %u differs from %u in the RRset %s %s: using %u",
					  (unsigned)r->ttl, (unsigned)ttl,
					  dname_to_text(rec_owner(c, r), on, sizeof on),
					  type_name(r->type, tn, sizeof tn), (unsigned)ttl);
			warned = true;
		}
		if (rs->count == UINT16_MAX) {
			zone_errs_error(c->errs, zfile(c, r->file), r->line,
					"more than 65535 records in one RRset");
			return BSC_EZONE;
		}
		uint8_t hdr[10];
		rr_hdr(hdr, r->type, ttl, r->rdlen);
		if (buf_put(&b->wire, hdr, sizeof hdr) ||
		    buf_put(&b->wire, rec_rdata(c, r), r->rdlen))
			return BSC_ENOMEM;
		rs->count++;
	}
	if (b->wire.len > UINT32_MAX) {
		zone_errs_error(c->errs, zfile(c, recs[a].file), recs[a].line, "zone too large");
		return BSC_EZONE;
	}
	rs->len = (uint32_t)(b->wire.len - rs->off);
	b->rsinfo[b->nrrsets].file = recs[a].file;
	b->rsinfo[b->nrrsets].line = recs[a].line;
	b->nrrsets++;
	b->nodes[node].rrset_count++;
	return 0;
}

/* Walk the records of RRset @rs: calls give the rdata of each. */
struct rr_iter {
	const uint8_t *p, *end;
};

static bool rr_next(struct rr_iter *it, const uint8_t **rd, uint16_t *rdlen)
{
	if (it->p >= it->end)
		return false;
	*rdlen = wire_get_u16(it->p + 8);
	*rd = it->p + 10;
	it->p += 10u + *rdlen;
	return true;
}

static struct rr_iter rrset_iter(const struct zl_build *b, const struct zl_rrset *rs)
{
	struct rr_iter it = { b->wire.p + rs->off, b->wire.p + rs->off + rs->len };
	return it;
}

static const struct zl_rrset *node_rrset(const struct zl_build *b, uint32_t node, uint16_t t)
{
	const struct zl_node *n = &b->nodes[node];
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		if (b->rrsets[n->rrset_first + i].type == t)
			return &b->rrsets[n->rrset_first + i];
	}
	return NULL;
}

static bool node_has_addr(const struct zl_build *b, uint32_t node)
{
	return node_rrset(b, node, T_A) || node_rrset(b, node, T_AAAA);
}

/* Is @name (lower case) the target of an NS record of the cut @cut? */
static bool is_ns_target(const struct zl_build *b, uint32_t cut, const uint8_t *name, size_t len)
{
	const struct zl_rrset *ns = node_rrset(b, cut, T_NS);
	if (!ns)
		return false;
	struct rr_iter it = rrset_iter(b, ns);
	const uint8_t *rd;
	uint16_t rdlen;
	uint8_t lc[DNAME_MAXLEN];
	while (rr_next(&it, &rd, &rdlen)) {
		if (rdlen != len)
			continue;
		dname_lower(lc, rd, rdlen);
		if (memcmp(lc, name, len) == 0)
			return true;
	}
	return false;
}

/* Names inside rdata must be well formed (\# data can hold anything). */
static bool rdata_names_ok(uint16_t type, const uint8_t *rd, size_t len)
{
	size_t n;
	switch (type) {
	case T_NS:
	case T_CNAME:
	case T_PTR:
	case 39: /* DNAME */
		return dname_wire_check(rd, len) == len;
	case T_MX:
		return len > 2 && dname_wire_check(rd + 2, len - 2) == len - 2;
	case T_SRV:
		return len > 6 && dname_wire_check(rd + 6, len - 6) == len - 6;
	case T_SOA:
		n = dname_wire_check(rd, len);
		if (n == 0)
			return false;
		size_t m = dname_wire_check(rd + n, len - n);
		return m != 0 && n + m + 20 == len;
	case T_A:
		return len == 4;
	case T_AAAA:
		return len == 16;
	default:
		return true;
	}
}

static int rdup_cmp(const void *a, const void *b, void *arg)
{
	const struct zl_ctx *c = arg;
	const struct zl_rec *x = a, *y = b;
	int d = rec_cmp(a, b, arg);
	if (x->owner_len != y->owner_len || x->type != y->type ||
	    memcmp(rec_owner(c, x), rec_owner(c, y), x->owner_len) != 0)
		return d;
	if (x->rdlen != y->rdlen)
		return x->rdlen < y->rdlen ? -1 : 1;
	int r = x->rdlen ? memcmp(rec_rdata(c, x), rec_rdata(c, y), x->rdlen) : 0;
	if (r)
		return r;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : (x > y);
}

/* Checks that refuse the zone; returns the number of errors found. */
static unsigned zone_check(struct zl_ctx *c, const struct zi_zone *z, const char *path)
{
	struct zone_errs *errs = c->errs;
	unsigned before = errs->errors;
	char on[DNAME_TEXTLEN], an[DNAME_TEXTLEN], tn[16];
	bool soa = false, ns = false;

	dname_to_text(z->apex, an, sizeof an);
	/* in file order */
	for (size_t i = 0; i < c->nrec; i++) {
		struct zl_rec *r = &c->recs[i];
		const uint8_t *o = rec_owner(c, r);
		if (!dname_is_under(o, r->owner_len, z->apex, z->apex_len)) {
			zone_errs_error(errs, zfile(c, r->file), r->line,
					"out-of-zone record: %s is not in zone %s",
					dname_to_text(o, on, sizeof on), an);
			r->dup = true;
			continue;
		}
		bool apex = r->owner_len == z->apex_len;
		if (!rdata_names_ok(r->type, rec_rdata(c, r), r->rdlen)) {
			zone_errs_error(errs, zfile(c, r->file), r->line, "malformed %s rdata",
					type_name(r->type, tn, sizeof tn));
			r->dup = true;
			continue;
		}
		if (r->type == T_SOA && !apex) {
			zone_errs_error(errs, zfile(c, r->file), r->line,
					"SOA record at %s, not at the zone apex %s",
					dname_to_text(o, on, sizeof on), an);
		} else if (r->type == T_SOA) {
			if (soa)
				zone_errs_error(errs, zfile(c, r->file), r->line,
						"second SOA record at the apex %s", an);
			soa = true;
		}
		if (r->type == T_NS && apex)
			ns = true;
	}
	if (!soa)
		zone_errs_error(errs, path, 0, "no SOA record at the zone apex %s", an);
	else if (!ns)
		zone_errs_error(errs, path, 0, "no NS record at the zone apex %s", an);

	/* by owner: CNAME rules (RFC 1034 3.6.2, RFC 2181 10.1) */
	if (c->nrec > 1)
		qsort_r(c->recs, c->nrec, sizeof *c->recs, rdup_cmp, c);
	for (size_t i = 1; i < c->nrec; i++) {
		struct zl_rec *p = &c->recs[i - 1], *r = &c->recs[i];
		if (!p->dup && !r->dup && same_owner(c, p, r) && p->type == r->type &&
		    p->rdlen == r->rdlen &&
		    (r->rdlen == 0 || memcmp(rec_rdata(c, p), rec_rdata(c, r), r->rdlen) == 0)) {
			r->dup = true;
			zone_errs_warning(errs, zfile(c, r->file), r->line,
					  "duplicate record %s %s ignored",
					  dname_to_text(rec_owner(c, r), on, sizeof on),
					  type_name(r->type, tn, sizeof tn));
		}
	}
	if (c->nrec > 1)
		qsort_r(c->recs, c->nrec, sizeof *c->recs, rec_cmp, c);
	for (size_t i = 0, j; i < c->nrec; i = j) {
		const struct zl_rec *cname = NULL;
		const struct zl_rec *other = NULL;
		unsigned ncname = 0;
		for (j = i; j < c->nrec && same_owner(c, &c->recs[i], &c->recs[j]); j++) {
			const struct zl_rec *r = &c->recs[j];
			if (r->dup)
				continue;
			if (r->type == T_CNAME) {
				if (++ncname == 2)
					zone_errs_error(
						errs, zfile(c, r->file), r->line,
						"more than one CNAME record at %s",
						dname_to_text(rec_owner(c, r), on, sizeof on));
				if (!cname)
					cname = r;
			} else if (r->type != T_RRSIG && r->type != T_NSEC && !other) {
				other = r;
			}
		}
		if (cname && other)
			zone_errs_error(errs, zfile(c, cname->file), cname->line,
					"CNAME beside other data at %s (%s at %s:%u)",
					dname_to_text(rec_owner(c, cname), on, sizeof on),
					type_name(other->type, tn, sizeof tn),
					zfile(c, other->file), (unsigned)other->line);
	}
	return errs->errors - before;
}

/* Warnings on delegations: occluded data is not served, glue missing. */
static void zone_check_cuts(struct zl_build *b)
{
	struct zl_ctx *c = b->c;
	char on[DNAME_TEXTLEN], cn[DNAME_TEXTLEN], tn[16];
	for (size_t i = 0; i < b->nnodes; i++) {
		const struct zl_node *n = &b->nodes[i];
		if (n->cut == ZI_NONE)
			continue;
		const uint8_t *name = b->names.p + n->name_off;
		const struct zl_node *cut = &b->nodes[n->cut];
		dname_to_text(b->names.p + cut->name_off, cn, sizeof cn);
		for (uint16_t k = 0; k < n->rrset_count; k++) {
			uint32_t ri = n->rrset_first + k;
			const struct zl_rrset *rs = &b->rrsets[ri];
			const struct zl_rsinfo *inf = &b->rsinfo[ri];
			if (n->cut == i) {
				if (rs->type == T_NS || rs->type == T_DS || rs->type == T_RRSIG ||
				    rs->type == T_NSEC)
					continue;
				zone_errs_warning(c->errs, zfile(c, inf->file), inf->line,
						  "%s %s at the delegation point is not served",
						  dname_to_text(name, on, sizeof on),
						  type_name(rs->type, tn, sizeof tn));
				continue;
			}
			if ((rs->type == T_A || rs->type == T_AAAA) &&
			    is_ns_target(b, n->cut, name, n->name_len))
				continue;
			zone_errs_warning(c->errs, zfile(c, inf->file), inf->line,
					  "%s %s below the delegation %s is not served (occluded)",
					  dname_to_text(name, on, sizeof on),
					  type_name(rs->type, tn, sizeof tn), cn);
		}
	}
	/* NS targets inside the zone need an address */
	for (size_t i = 0; i < b->nnodes; i++) {
		const struct zl_node *n = &b->nodes[i];
		if (!(n->flags & ZI_NODE_CUT) || n->cut != i)
			continue;
		const struct zl_rrset *ns = node_rrset(b, (uint32_t)i, T_NS);
		const struct zl_rsinfo *inf = &b->rsinfo[ns - b->rrsets];
		struct rr_iter it = rrset_iter(b, ns);
		const uint8_t *rd;
		uint16_t rdlen;
		uint8_t lc[DNAME_MAXLEN];
		while (rr_next(&it, &rd, &rdlen)) {
			dname_lower(lc, rd, rdlen);
			if (!dname_is_under(lc, rdlen, b->z->apex, b->z->apex_len))
				continue;
			uint32_t t = bl_lookup(b, lc, rdlen);
			if (t != ZI_NONE && node_has_addr(b, t))
				continue;
			zone_errs_warning(c->errs, zfile(c, inf->file), inf->line,
					  "missing glue: NS %s of the delegation %s has no A/AAAA",
					  dname_to_text(lc, on, sizeof on),
					  dname_to_text(b->names.p + n->name_off, cn, sizeof cn));
		}
	}
}

/* Additional-section entries for NS/MX/SRV RRsets. */
static int build_adds(struct zl_build *b)
{
	for (size_t ri = 0; ri < b->nrrsets; ri++) {
		struct zl_rrset *rs = &b->rrsets[ri];
		rs->add_first = (uint32_t)b->nadds;
		rs->add_count = 0;
		int toff = target_off(rs->type);
		if (toff < 0)
			continue;
		/* the node owning this RRset: needed for the in-domain test */
		struct rr_iter it = rrset_iter(b, rs);
		const uint8_t *rd;
		uint16_t rdlen;
		uint16_t k = 0;
		for (; rr_next(&it, &rd, &rdlen); k++) {
			uint8_t lc[DNAME_MAXLEN];
			size_t tl = rdlen - (size_t)toff;
			dname_lower(lc, rd + toff, tl);
			if (!dname_is_under(lc, tl, b->z->apex, b->z->apex_len))
				continue;
			uint32_t t = bl_lookup(b, lc, tl);
			if (t == ZI_NONE || !node_has_addr(b, t))
				continue;
			if (arr_grow((void **)&b->adds, &b->acap, b->nadds, sizeof *b->adds))
				return BSC_ENOMEM;
			struct zi_add *a = &b->adds[b->nadds++];
			memset(a, 0, sizeof *a);
			a->rr = k;
			a->name_off = (uint16_t)toff;
			a->node = t;
			rs->add_count++;
		}
	}
	/* in-domain glue: the target lies below the cut that owns the NS */
	for (size_t i = 0; i < b->nnodes; i++) {
		const struct zl_node *n = &b->nodes[i];
		if (!(n->flags & ZI_NODE_CUT))
			continue;
		const struct zl_rrset *ns = node_rrset(b, (uint32_t)i, T_NS);
		for (uint16_t k = 0; k < ns->add_count; k++) {
			struct zi_add *a = &b->adds[ns->add_first + k];
			const struct zl_node *g = &b->nodes[a->node];
			a->in_domain = dname_is_under(b->names.p + g->name_off, g->name_len,
						      b->names.p + n->name_off, n->name_len);
		}
	}
	return 0;
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;
	while (p < n)
		p *= 2;
	return p;
}

#define ZI_LINE 64u /* mem_calloc_large() aligns to a cache line at least */

/* Cache lines spanned by @sz bytes at blob offset @off. */
static size_t node_lines(size_t off, size_t sz)
{
	return (off + sz - 1) / ZI_LINE - off / ZI_LINE + 1;
}

/* Where a node of @sz bytes goes at or after @off: moved to the next line
 * when that saves it a cache line (nodes of up to 4 lines; larger ones are
 * apexes and cuts, read in parts). */
static size_t node_place(size_t off, size_t sz)
{
	if (sz <= 4 * ZI_LINE && node_lines(off, sz) > (sz + ZI_LINE - 1) / ZI_LINE)
		return (off + ZI_LINE - 1) & ~(size_t)(ZI_LINE - 1);
	return off;
}

/* Lay every node out as one record of the blob (zone_index.h) and build
 * the final hash table over refs. */
static int pack(struct zl_build *b, struct zi_zone *z, uint32_t apex)
{
	int rc = 0;
	uint32_t *ref = mem_alloc((b->nnodes ? b->nnodes : 1) * sizeof *ref);
	uint8_t *size = mem_alloc(b->nnodes ? b->nnodes : 1);
	uint8_t *blob = NULL;
	struct zi_slot *slots = NULL;
	if (!ref || !size) {
		rc = BSC_ENOMEM;
		goto out;
	}
	size_t off = 0;
	for (size_t i = 0; i < b->nnodes; i++) {
		const struct zl_node *n = &b->nodes[i];
		size_t sz = sizeof(struct zi_node) + n->rrset_count * sizeof(struct zi_rrset) +
			    n->name_len;
		sz = (sz + 3) & ~(size_t)3;
		for (uint16_t k = 0; k < n->rrset_count; k++)
			sz += b->rrsets[n->rrset_first + k].len;
		sz = (sz + 7) & ~(size_t)7;
		off = node_place(off, sz);
		if (off / 8 >= ZI_NONE - 1) {
			zone_errs_error(b->c->errs, z->path, 0, "zone too large");
			rc = BSC_EZONE;
			goto out;
		}
		ref[i] = (uint32_t)(off / 8);
		size_t lines = node_lines(off, sz);
		size[i] = (uint8_t)(lines < 4 ? lines : 4);
		off += sz;
	}
	size_t nslots = pow2_at_least(2 * b->nnodes + 2);
	/* Zeroed, 64-byte aligned; when large, huge-page aligned with transparent
	 * huge pages asked for (mem.h): random lookups over a large zone
	 * otherwise miss the TLB on nearly every query. */
	blob = mem_calloc_large(off ? off : 8);
	if (blob)
		slots = mem_calloc_large(nslots * sizeof *slots);
	if (!slots) {
		rc = BSC_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < b->nnodes; i++) {
		const struct zl_node *bn = &b->nodes[i];
		uint8_t *base = blob + (size_t)ref[i] * 8;
		struct zi_node *n = (struct zi_node *)(void *)base;
		n->cut = bn->cut == ZI_NONE ? ZI_NONE : ref[bn->cut];
		n->rrset_count = bn->rrset_count;
		n->name_len = bn->name_len;
		n->labels = bn->labels;
		n->flags = bn->flags;
		struct zi_rrset *rs = (struct zi_rrset *)(void *)(n + 1);
		uint8_t *name = (uint8_t *)(rs + n->rrset_count);
		memcpy(name, b->names.p + bn->name_off, bn->name_len);
		size_t w = (size_t)(name + bn->name_len - base);
		w = (w + 3) & ~(size_t)3;
		for (uint16_t k = 0; k < bn->rrset_count; k++) {
			const struct zl_rrset *brs = &b->rrsets[bn->rrset_first + k];
			rs[k].type = brs->type;
			rs[k].count = brs->count;
			rs[k].off = (uint32_t)w;
			rs[k].len = brs->len;
			rs[k].add_first = brs->add_first;
			rs[k].add_count = brs->add_count;
			memcpy(base + w, b->wire.p + brs->off, brs->len);
			w += brs->len;
		}
		slot_insert(slots, nslots, zi_hash(name, bn->name_len), ref[i], size[i]);
	}
	for (size_t i = 0; i < b->nadds; i++)
		b->adds[i].node = ref[b->adds[i].node];
	z->blob = blob;
	z->node_count = b->nnodes;
	z->slots = slots;
	z->slot_mask = nslots - 1;
	z->adds = b->adds;
	z->apex_ref = ref[apex];
	b->adds = NULL;
	blob = NULL;
	slots = NULL;
out:
	mem_free(ref);
	mem_free(size);
	mem_free(blob);
	mem_free(slots);
	return rc;
}

static int zone_build(struct zl_ctx *c, struct zi_zone *z)
{
	struct zl_build b = { .z = z, .c = c };
	int rc = 0;
	size_t groups = 0;
	for (size_t i = 0; i < c->nrec; i++) {
		if (i == 0 || !same_owner(c, &c->recs[i - 1], &c->recs[i]))
			groups++;
	}
	b.nslots = pow2_at_least(4 * (groups + 1));
	b.slots = mem_calloc(b.nslots, sizeof *b.slots);
	if (!b.slots) {
		rc = BSC_ENOMEM;
		goto out;
	}
	uint32_t idx;
	rc = node_add_path(&b, z->apex, z->apex_len, &idx);
	if (rc)
		goto out;
	const uint32_t apex = idx;
	for (size_t i = 0, j; i < c->nrec; i = j) {
		for (j = i; j < c->nrec && same_owner(c, &c->recs[i], &c->recs[j]); j++)
			;
		size_t live = 0;
		for (size_t k = i; k < j; k++)
			live += !c->recs[k].dup;
		if (live == 0)
			continue;
		rc = node_add_path(&b, rec_owner(c, &c->recs[i]), c->recs[i].owner_len, &idx);
		if (rc)
			goto out;
		b.nodes[idx].flags &= (uint8_t)~ZI_NODE_ENT;
		b.nodes[idx].rrset_first = (uint32_t)b.nrrsets;
		b.nodes[idx].rrset_count = 0;
		for (size_t k = i, l; k < j; k = l) {
			size_t nlive = 0;
			for (l = k; l < j && c->recs[l].type == c->recs[k].type; l++)
				nlive += !c->recs[l].dup;
			if (nlive == 0)
				continue;
			rc = add_rrset(&b, c->recs, k, l, idx);
			if (rc)
				goto out;
		}
	}
	z->records = 0;
	for (size_t i = 0; i < c->nrec; i++)
		z->records += !c->recs[i].dup;

	/* flags */
	b.nodes[apex].flags |= ZI_NODE_APEX;
	for (size_t i = 0; i < b.nnodes; i++) {
		struct zl_node *n = &b.nodes[i];
		const uint8_t *name = b.names.p + n->name_off;
		if (i != apex && node_rrset(&b, (uint32_t)i, T_NS))
			n->flags |= ZI_NODE_CUT;
		if (name[0] == 1 && name[1] == '*' && i != apex) {
			uint32_t p = bl_lookup(&b, name + 2, n->name_len - 2u);
			if (p != ZI_NONE)
				b.nodes[p].flags |= ZI_NODE_WILD;
		}
	}
	/* the highest cut at or above each node */
	for (size_t i = 0; i < b.nnodes; i++) {
		struct zl_node *n = &b.nodes[i];
		const uint8_t *name = b.names.p + n->name_off;
		uint32_t cut = ZI_NONE;
		size_t pos = 0;
		while (n->name_len - pos > z->apex_len) {
			uint32_t a = bl_lookup(&b, name + pos, n->name_len - pos);
			if (a != ZI_NONE && (b.nodes[a].flags & ZI_NODE_CUT))
				cut = a;
			pos += 1u + name[pos];
		}
		n->cut = cut;
		if (cut != ZI_NONE && cut != i)
			n->flags |= ZI_NODE_OCCLUDED;
	}
	zone_check_cuts(&b);
	rc = build_adds(&b);
	if (rc)
		goto out;

	/* negative answers: the SOA with TTL min(SOA TTL, MINIMUM) (RFC 2308) */
	const struct zl_rrset *soa = node_rrset(&b, apex, T_SOA);
	const uint8_t *sp = b.wire.p + soa->off;
	uint16_t rdlen = wire_get_u16(sp + 8);
	uint32_t ttl = wire_get_u32(sp + 4);
	uint32_t minimum = wire_get_u32(sp + 10 + rdlen - 4);
	z->serial = wire_get_u32(sp + 10 + rdlen - 20);
	z->neg_ttl = ttl < minimum ? ttl : minimum;
	rr_hdr(z->soa_neg, T_SOA, z->neg_ttl, rdlen);
	memcpy(z->soa_neg + 10, sp + 10, rdlen);
	z->soa_neg_len = (uint16_t)(10 + rdlen);

	/* the most common PTR TTL */
	size_t nptr = 0;
	for (size_t i = 0; i < b.nrrsets; i++) {
		if (b.rrsets[i].type == T_PTR)
			nptr += b.rrsets[i].count;
	}
	z->ptr_ttl = 0;
	if (nptr > 0) {
		uint32_t *ttls = mem_alloc(nptr * sizeof *ttls);
		if (!ttls) {
			rc = BSC_ENOMEM;
			goto out;
		}
		size_t k = 0;
		for (size_t i = 0; i < b.nrrsets; i++) {
			const struct zl_rrset *rs = &b.rrsets[i];
			if (rs->type != T_PTR)
				continue;
			uint32_t t = wire_get_u32(b.wire.p + rs->off + 4);
			for (uint16_t m = 0; m < rs->count; m++)
				ttls[k++] = t;
		}
		qsort(ttls, nptr, sizeof *ttls, u32_cmp);
		size_t best = 0;
		for (size_t i = 0, j; i < nptr; i = j) {
			for (j = i; j < nptr && ttls[j] == ttls[i]; j++)
				;
			if (j - i > best) {
				best = j - i;
				z->ptr_ttl = ttls[i];
			}
		}
		mem_free(ttls);
	}

	rc = pack(&b, z, apex);
out:
	build_free(&b);
	return rc;
}

/* ---- the table ---- */

static void zone_deinit(struct zi_zone *z)
{
	mem_free(z->blob);
	mem_free(z->slots);
	mem_free(z->adds);
	mem_free(z->path);
	memset(z, 0, sizeof *z);
}

void zone_table_free(struct zone_table *zt)
{
	if (!zt)
		return;
	for (size_t i = 0; i < zt->count; i++)
		zone_deinit(&zt->zones[i]);
	mem_free(zt->zones);
	mem_free(zt->by_depth);
	mem_free(zt->apexes);
	mem_free(zt);
}

size_t zone_table_count(const struct zone_table *zt)
{
	return zt ? zt->count : 0;
}

int zone_table_info(const struct zone_table *zt, size_t i, struct zone_info *out)
{
	if (!zt || i >= zt->count)
		return BSC_ENOENT;
	const struct zi_zone *z = &zt->zones[i];
	memset(out, 0, sizeof *out);
	snprintf(out->origin, sizeof out->origin, "%s", z->origin_text);
	out->path = z->path;
	out->serial = z->serial;
	out->neg_ttl = z->neg_ttl;
	out->ptr_ttl = z->ptr_ttl;
	out->records = z->records;
	out->names = z->node_count;
	return 0;
}

static int load_one(struct zi_zone *z, const struct zone_source *src,
		    const struct zone_load_opts *opts, struct zone_errs *errs)
{
	struct zl_ctx c = { .errs = errs };
	uint8_t origin[DNAME_MAXLEN];
	size_t olen = 0;
	int rc = 0;
	const char *why = NULL;

	z->path = mem_strdup(src->path ? src->path : "");
	if (!z->path)
		return BSC_ENOMEM;
	if (!src->path) {
		zone_errs_error(errs, "(zone)", 0, "no file given for zone %s",
				src->origin ? src->origin : "?");
		return BSC_EZONE;
	}
	if (src->origin) {
		char text[DNAME_TEXTLEN + 2];
		size_t tl = strlen(src->origin);
		if (tl == 0 || tl > DNAME_TEXTLEN) {
			zone_errs_error(errs, src->path, 0, "bad zone origin '%s'", src->origin);
			return BSC_EZONE;
		}
		snprintf(text, sizeof text, "%s%s", src->origin,
			 src->origin[tl - 1] == '.' && (tl < 2 || src->origin[tl - 2] != '\\') ?
				 "" : ".");
		olen = zone_name_from_text(text, NULL, 0, origin, &why);
		if (olen == 0) {
			zone_errs_error(errs, src->path, 0, "bad zone origin '%s': %s", src->origin,
					why);
			return BSC_EZONE;
		}
		dname_lower(origin, origin, olen);
	}
	struct zone_parse_opts po = {
		.path = src->path, .origin = olen ? origin : NULL, .origin_len = olen,
		.check_perms = opts ? opts->check_perms : false,
		.run_uid = opts ? opts->run_uid : 0, .cb = on_rr, .ctx = &c, .errs = errs,
	};
	uint8_t found[DNAME_MAXLEN];
	size_t flen = 0;
	rc = zone_parse(&po, found, &flen);
	if (rc)
		goto out;
	if (olen == 0) {
		if (flen == 0) {
			zone_errs_error(
				errs, src->path, 0,
				"no origin: configure one, or begin with $ORIGIN or an SOA");
			rc = BSC_EZONE;
			goto out;
		}
		dname_lower(origin, found, flen);
		olen = flen;
	}
	memcpy(z->apex, origin, olen);
	z->apex_len = (uint8_t)olen;
	z->apex_labels = (uint8_t)dname_label_count(origin);
	dname_to_text(origin, z->origin_text, sizeof z->origin_text);
	if (zone_check(&c, z, src->path) > 0) {
		rc = BSC_EZONE;
		goto out;
	}
	rc = zone_build(&c, z);
	if (rc == 0)
		log_info("zone: loaded %s from %s: serial %u, %zu records, %zu names",
			 z->origin_text, z->path, (unsigned)z->serial, z->records, z->node_count);
out:
	ctx_free(&c);
	return rc;
}

static int depth_cmp(const void *a, const void *b, void *arg)
{
	const struct zone_table *zt = arg;
	const struct zi_zone *x = &zt->zones[*(const uint32_t *)a];
	const struct zi_zone *y = &zt->zones[*(const uint32_t *)b];
	if (x->apex_labels != y->apex_labels)
		return x->apex_labels > y->apex_labels ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

int zone_table_load(struct zone_table **out, const struct zone_source *src, size_t n,
		    const struct zone_load_opts *opts, char *err, size_t errlen)
{
	struct zone_errs errs = { .buf = err, .len = errlen };
	struct zone_table *zt = NULL;
	int rc = 0;

	*out = NULL;
	if (err && errlen > 0)
		err[0] = '\0';
	zt = mem_calloc(1, sizeof *zt);
	if (!zt) {
		rc = BSC_ENOMEM;
		goto out;
	}
	zt->zones = mem_calloc(n ? n : 1, sizeof *zt->zones);
	zt->by_depth = mem_calloc(n ? n : 1, sizeof *zt->by_depth);
	zt->apexes = mem_calloc(n ? n : 1, sizeof *zt->apexes);
	if (!zt->zones || !zt->by_depth || !zt->apexes) {
		rc = BSC_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		zt->count = i + 1;
		int r = load_one(&zt->zones[i], &src[i], opts, &errs);
		if (r && !rc)
			rc = r;
		if (r == BSC_ENOMEM)
			goto out;
	}
	if (rc)
		goto out;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			const struct zi_zone *a = &zt->zones[i], *b = &zt->zones[j];
			if (a->apex_len == b->apex_len &&
			    memcmp(a->apex, b->apex, a->apex_len) == 0) {
				zone_errs_error(&errs, a->path, 0, "zone %s is also loaded from %s",
						a->origin_text, b->path);
				rc = BSC_EZONE;
			}
		}
		zt->by_depth[i] = (uint32_t)i;
	}
	if (rc)
		goto out;
	qsort_r(zt->by_depth, n, sizeof *zt->by_depth, depth_cmp, zt);
	for (size_t i = 0; i < n; i++) {
		const struct zi_zone *z = &zt->zones[zt->by_depth[i]];
		struct zi_apex *a = &zt->apexes[i];
		a->zone = z;
		a->len = z->apex_len;
		a->tail = z->apex_len >= 8 ? dname_load64(z->apex + z->apex_len - 8) | ZI_FOLD : 0;
	}
	*out = zt;
	zt = NULL;
out:
	if (rc == BSC_ENOMEM) {
		log_error("zone: out of memory while loading zones");
		if (err && errlen > 0 && err[0] == '\0')
			snprintf(err, errlen, "out of memory while loading zones");
	}
	zone_table_free(zt);
	return rc;
}
