/* authd/zone_index.h — the in-memory layout of a loaded zone table, shared by
 * the loader (zone.c, main thread, builds it) and the answer builder
 * (answer.c, any worker thread, only reads it).
 *
 * Immutable after zone_table_load() returns: no locks, no allocation, no ldns
 * on the read side.  Private to authd/ and its tests. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "authd/dname.h"

#define ZI_NONE UINT32_MAX

/* Each node is one contiguous record in zone->blob (8-byte aligned, and
 * placed so that it spans no more 64-byte cache lines than its size needs),
 * so a hit touches the hash slot and the node's one to three lines:
 *
 *   struct zi_node | struct zi_rrset[rrset_count] | name | pad | wire ...
 *
 * Each RRset's wire holds @count records, each WITHOUT its owner:
 *
 *   +------+-------+-----+---------+-------------------+
 *   | TYPE | CLASS | TTL | RDLENGTH| RDATA (names not  |
 *   |  2   |   2   |  4  |    2    |  compressed)      |
 *   +------+-------+-----+---------+-------------------+
 *
 * The answer builder writes the owner (a compression pointer into the
 * question, or the name itself) in front of each record.  Nodes are named
 * by their "ref": offset in the blob / 8.  The blob itself starts on a
 * 64-byte boundary (on a 2 MiB one, with huge pages asked for, when large). */
struct zi_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t off;       /* of the wire, from the start of the node */
	uint32_t len;
	uint32_t add_first; /* additional-section entries (zi_add) for NS/MX/SRV */
	uint16_t add_count;
	uint16_t pad;
};

/* An A/AAAA node to put in the additional section for the name at rdata
 * offset @name_off of record @rr of an NS/MX/SRV RRset. */
struct zi_add {
	uint16_t rr;
	uint16_t name_off;
	uint32_t node;      /* ref */
	bool in_domain;     /* glue below the cut itself: TC when it does not fit */
};

enum zi_node_flag {
	ZI_NODE_APEX = 1 << 0,
	ZI_NODE_CUT = 1 << 1,      /* delegation point: NS not at the apex */
	ZI_NODE_OCCLUDED = 1 << 2, /* strictly below a cut: glue or ignored data */
	ZI_NODE_WILD = 1 << 3,     /* "*.<this name>" exists */
	ZI_NODE_ENT = 1 << 4,      /* empty non-terminal */
};

struct zi_node {
	uint32_t cut;         /* ref of the highest cut at or above, or ZI_NONE */
	uint16_t rrset_count; /* RRsets, by type */
	uint8_t name_len;     /* lower-case wire name, after the RRsets */
	uint8_t labels;       /* label count, root not counted */
	uint8_t flags;        /* enum zi_node_flag */
	uint8_t pad[7];
};

/* A hash slot: 8 per cache line, linear probing, load factor <= 1/2.  The
 * tag is bits 34..63 of the name's hash (never 0, so 0 marks an empty slot);
 * its low 2 bits (ZI_TAG_LINES) hold the number of cache lines the node
 * spans, minus one, capped at 3: what a batch prefetches. */
struct zi_slot {
	uint32_t tag;
	uint32_t node; /* ref */
};

#define ZI_TAG_LINES 3u

struct zi_zone {
	uint8_t apex[DNAME_MAXLEN];
	uint8_t apex_len;
	uint8_t apex_labels;
	uint32_t apex_ref;
	uint8_t *blob;        /* the nodes (mem_free) */
	size_t node_count;
	struct zi_slot *slots; /* mem_free */
	uint64_t slot_mask;
	struct zi_add *adds;
	/* negative answers: the SOA record (no owner) with TTL = neg_ttl */
	uint8_t soa_neg[10 + 2 * DNAME_MAXLEN + 20];
	uint16_t soa_neg_len;
	/* facts for zone_table_info() */
	char *path;
	char origin_text[256];
	uint32_t serial;
	uint32_t neg_ttl;
	uint32_t ptr_ttl;
	size_t records;
};

#define ZI_FOLD 0x2020202020202020ull /* 0x20 ORed into every byte of a word */

/* A zone's apex as the fast path matches it against the end of a qname. */
struct zi_apex {
	uint64_t tail;              /* last 8 bytes of the apex | ZI_FOLD; 0 if shorter */
	const struct zi_zone *zone;
	size_t len;                 /* apex_len */
};

struct zone_table {
	struct zi_zone *zones; /* in the order given to zone_table_load() */
	size_t count;
	uint32_t *by_depth;    /* zone indexes, most labels first */
	struct zi_apex *apexes; /* count entries, in by_depth order */
};

/* The hash of a name in the index: case-blind (dname_hash_nocase()), so a
 * query's qname is hashed without folding its case first. */
static inline uint64_t zi_hash(const uint8_t *name, size_t len)
{
	return dname_hash_nocase(name, len);
}

/* The tag of hash @h, line bits clear. */
static inline uint32_t zi_tag(uint64_t h)
{
	uint32_t t = (uint32_t)(h >> 32) & ~ZI_TAG_LINES;
	return t ? t : ZI_TAG_LINES + 1;
}

static inline bool zi_slot_match(const struct zi_slot *s, uint32_t tag)
{
	return (s->tag & ~ZI_TAG_LINES) == tag;
}

/* Cache lines of the node in slot @s (1..4). */
static inline unsigned zi_slot_lines(const struct zi_slot *s)
{
	return (s->tag & ZI_TAG_LINES) + 1u;
}

static inline const struct zi_node *zi_node_at(const struct zi_zone *z, uint32_t ref)
{
	return (const struct zi_node *)(const void *)(z->blob + (size_t)ref * 8);
}

static inline const struct zi_rrset *zi_rrsets(const struct zi_node *n)
{
	return (const struct zi_rrset *)(const void *)(n + 1);
}

static inline const uint8_t *zi_name(const struct zi_node *n)
{
	return (const uint8_t *)(zi_rrsets(n) + n->rrset_count);
}

static inline const uint8_t *zi_wire(const struct zi_node *n, const struct zi_rrset *rs)
{
	return (const uint8_t *)n + rs->off;
}

/** Exact lookup of the lower-case wire name @name (@len bytes) in @z.
 *  Returns the node's ref or ZI_NONE. */
static inline uint32_t zi_lookup(const struct zi_zone *z, const uint8_t *name, size_t len)
{
	uint64_t h = zi_hash(name, len);
	uint32_t tag = zi_tag(h);
	uint64_t i = h & z->slot_mask;
	for (;;) {
		const struct zi_slot *s = &z->slots[i];
		if (s->tag == 0)
			return ZI_NONE;
		if (zi_slot_match(s, tag)) {
			const struct zi_node *n = zi_node_at(z, s->node);
			if (n->name_len == len && dname_equal(zi_name(n), name, len))
				return s->node;
		}
		i = (i + 1) & z->slot_mask;
	}
}

/** The RRset of @type at node @n, or NULL. */
static inline const struct zi_rrset *zi_rrset_find(const struct zi_node *n, uint16_t type)
{
	const struct zi_rrset *r = zi_rrsets(n);
	for (uint16_t i = 0; i < n->rrset_count; i++) {
		if (r[i].type == type)
			return &r[i];
	}
	return NULL;
}
