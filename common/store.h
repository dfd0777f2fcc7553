/* common/store.h — the LMDB store: one environment with the named databases
 * meta, orig, origq, querier, label, detect and detectlog (docs/store.md).
 *
 * Read-write opens belong to one writer process, whose batch calls run on
 * one thread at a time (authd's writer thread, an ingest tool).  Read-only
 * opens (the CLI, the detector) never block the writer; every reader call
 * runs its own short read transaction and may run in any thread.  The only
 * file that includes <lmdb.h> is store.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/addr.h"
#include "common/agg.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_MAP_SIZE_DEFAULT (1ull << 30) /* 1 GiB */
#define STORE_KEY_MAX (8 + 1 + 16 + 1 + 16)

enum store_db {
	STORE_DB_META,
	STORE_DB_ORIG,
	STORE_DB_ORIGQ,
	STORE_DB_QUERIER,
	STORE_DB_LABEL,
	STORE_DB_DETECT,
	STORE_DB_DETECTLOG,
	STORE_DB_COUNT,
};

enum store_sync {
	STORE_SYNC_FULL = 0, /* fsync data and meta page at every commit (default) */
	STORE_SYNC_NOMETA,   /* MDB_NOMETASYNC: a system crash may undo the last
			      * commits, never corrupts; a process crash loses nothing */
};

struct store_opts {
	bool readonly;       /* MDB_RDONLY: for the CLI and the detector */
	enum store_sync sync;
	uint64_t map_size;   /* bytes; 0 = STORE_MAP_SIZE_DEFAULT */
	uint64_t map_max;    /* growth limit on MDB_MAP_FULL; 0 = map_size (no growth) */
	uint32_t bucket_len; /* s; for a new store (0 = default); an existing store
			      * must match unless 0 (= take the store's) */
	uint32_t bin_len;    /* s; same rule */
};

struct store;

/** Map an LMDB return code into the error space: MDB_NOTFOUND -> BSC_ENOENT,
 *  MDB_MAP_FULL / MDB_TXN_FULL -> BSC_ENOSPC, MDB_VERSION_MISMATCH /
 *  MDB_INVALID / MDB_CORRUPTED / MDB_PANIC and other LMDB codes ->
 *  BSC_ESTORE (the LMDB text is logged the first time each code is seen),
 *  errno values -> their negation.  0 -> 0. */
int bsc_err_mdb(int rc);

/** Open (read-write: create when missing, folder mode 0750, files 0640) the
 *  store in folder @dir.  @o may be NULL (read-write, defaults).  Refuses,
 *  with a logged message naming @dir: a store of a newer or an older schema
 *  (BSC_ESCHEMA), bucket/bin lengths other than the store's (BSC_ECONF),
 *  a missing store in read-only mode (BSC_ENOENT).  Returns 0 or BSC_E*. */
int store_open(struct store **out, const char *dir, const struct store_opts *o);
void store_close(struct store *s); /* NULL is a no-op */

const char *store_path(const struct store *s);
uint32_t store_bucket_len(const struct store *s);
uint32_t store_bin_len(const struct store *s);
bool store_readonly(const struct store *s);
/** Grow the map after BSC_ENOSPC: double it, at most to map_max.  Call with
 *  no transaction open in this process.  Returns 0 (grown) or BSC_ENOSPC
 *  (already at map_max; the message is logged). */
int store_grow(struct store *s);

/* ---- keys (big-endian; docs/store.md) ----
 * Family byte 4 or 6, then 4 or 16 address bytes.  The builders return the
 * key length, or 0 when an address is neither IPv4 nor IPv6. */
size_t store_key_addr(uint8_t *k, const struct bsc_addr *a);            /* querier, detect */
size_t store_key_orig(uint8_t *k, uint64_t bucket_s, const struct bsc_addr *orig);
/* orig, and the same layout for label and detectlog */
size_t store_key_origq(uint8_t *k, uint64_t bucket_s, const struct bsc_addr *orig,
		       const struct bsc_addr *querier);
/** Parsers: 0 or BSC_EMALF.  Addresses come back full length (prefix 32/128). */
int store_key_parse_addr(const uint8_t *k, size_t n, struct bsc_addr *a);
int store_key_parse_orig(const uint8_t *k, size_t n, uint64_t *bucket_s, struct bsc_addr *orig);
int store_key_parse_origq(const uint8_t *k, size_t n, uint64_t *bucket_s, struct bsc_addr *orig,
			  struct bsc_addr *querier);

/* ---- meta ---- */

/** Integer values of meta (e.g. "ptr_ttl"); BSC_ENOENT when absent. */
int store_meta_get_u64(struct store *s, const char *name, uint64_t *v);
/** Set one meta integer in its own write transaction. */
int store_meta_set_u64(struct store *s, const char *name, uint64_t v);
/** Record the TTLs our zones answer with (they shape the features). */
int store_set_ttls(struct store *s, uint32_t ptr_ttl, uint32_t neg_ttl);

/** What `backscope status` shows.  Counters are totals over the store's life. */
struct store_info {
	uint32_t schema;
	uint32_t bucket_len, bin_len;
	uint64_t ptr_ttl, neg_ttl;      /* UINT64_MAX when never set */
	uint64_t created_s;
	uint64_t events, dropped;       /* every event flushed; events dropped */
	uint64_t ptr, partial, other_qtype, other_name, invalid;
	uint64_t flushes, last_flush_ns;
	uint64_t buckets;               /* buckets with counters */
	uint64_t first_bucket_s, last_bucket_s;
	uint64_t orig_records, origq_records; /* (bucket, originator[, querier]) rows */
	uint64_t map_size, map_used;    /* bytes */
};
int store_info(struct store *s, struct store_info *out);

/** LMDB figures of one DB (for sizing): rows, pages and their bytes. */
struct store_db_stat {
	uint64_t entries;
	uint64_t pages; /* branch + leaf + overflow */
	uint64_t bytes; /* pages * page size */
	unsigned depth;
};
int store_db_stat(struct store *s, enum store_db db, struct store_db_stat *out);

/* ---- batched writes (one write transaction; agg_flush uses these) ---- */

struct store_batch;
struct store_totals {
	uint64_t events, dropped, ptr, partial, other_qtype, other_name, invalid;
};

/** Begin a write transaction.  BSC_EACCES on a read-only store. */
int store_batch_begin(struct store *s, struct store_batch **out);
/** Merge a pair; *created is set when the key was new (the caller then adds
 *  one distinct querier to the originator). */
int store_batch_origq(struct store_batch *b, uint64_t bucket_s, const struct bsc_addr *orig,
		      const struct bsc_addr *querier, const struct agg_origq_rec *add,
		      bool *created);
/** Merge an originator's bucket record (add->queriers = new distinct queriers). */
int store_batch_orig(struct store_batch *b, uint64_t bucket_s, const struct bsc_addr *orig,
		     const struct agg_orig_rec *add);
int store_batch_bucket(struct store_batch *b, uint64_t bucket_s, const struct agg_bucket_rec *add);
/** Add to the store's totals and set last_flush_ns = @flush_ns. */
int store_batch_totals(struct store_batch *b, const struct store_totals *add, uint64_t flush_ns);
/** Commit and release @b.  On error the transaction is aborted (nothing of
 *  it stays) and @b released all the same.  BSC_ENOSPC: map full. */
int store_batch_commit(struct store_batch *b);
void store_batch_abort(struct store_batch *b); /* NULL is a no-op */

/* ---- readers (own read transaction each; buckets in [from_s, to_s)) ----
 * Callbacks return 0 to go on, > 0 to stop (the walk returns 0), < 0 to
 * stop with that error.  Borrowed pointers are valid during the call only. */

struct store_orig_entry {
	uint64_t bucket_s;
	struct bsc_addr orig;
	struct agg_orig_rec rec;
};
struct store_origq_entry {
	uint64_t bucket_s;
	struct bsc_addr orig;
	struct bsc_addr querier;
	struct agg_origq_rec rec;
};
struct store_bucket_entry {
	uint64_t bucket_s;
	struct agg_bucket_rec rec;
};
/** An originator or a querier summed over a window. */
struct store_sum {
	struct bsc_addr addr;
	uint64_t queries;
	uint64_t queriers; /* distinct over the window (the union); 0 for a querier */
	uint64_t nxdomain; /* originators only */
	uint64_t first_ns, last_ns;
	uint32_t buckets;  /* buckets with activity */
};

typedef int (*store_orig_cb)(void *ctx, const struct store_orig_entry *e);
typedef int (*store_origq_cb)(void *ctx, const struct store_origq_entry *e);
typedef int (*store_bucket_cb)(void *ctx, const struct store_bucket_entry *e);
typedef int (*store_sum_cb)(void *ctx, const struct store_sum *e);

/** Every orig row of buckets in the range, in key order (bucket, family,
 *  address).  A row that does not decode stops the walk with BSC_EMALF. */
int store_orig_walk(struct store *s, uint64_t from_s, uint64_t to_s, store_orig_cb cb, void *ctx);
/** One originator's bucket rows, oldest first. */
int store_orig_buckets(struct store *s, const struct bsc_addr *orig, uint64_t from_s,
		       uint64_t to_s, store_orig_cb cb, void *ctx);
/** One originator's origq rows: per bucket, queriers in key order. */
int store_origq_walk(struct store *s, const struct bsc_addr *orig, uint64_t from_s,
		     uint64_t to_s, store_origq_cb cb, void *ctx);
/** One originator over the window; its distinct queriers are the exact union
 *  over buckets.  BSC_ENOENT when it has no row in the window. */
int store_orig_summary(struct store *s, const struct bsc_addr *orig, uint64_t from_s,
		       uint64_t to_s, struct store_sum *out);
/** One originator's queriers over the window, each once, in address order,
 *  with their summed queries and first/last seen. */
int store_orig_queriers(struct store *s, const struct bsc_addr *orig, uint64_t from_s,
			uint64_t to_s, store_sum_cb cb, void *ctx);
/** Top @limit originators by distinct queriers over the window (exact union),
 *  then queries, then address.  Writes up to @limit entries into @out (best
 *  first) and their number into *n.  Memory O(buckets + limit). */
int store_top(struct store *s, uint64_t from_s, uint64_t to_s, size_t limit,
	      struct store_sum *out, size_t *n);
/** Distinct originators with a row in the window. */
int store_count_originators(struct store *s, uint64_t from_s, uint64_t to_s, uint64_t *n);
/** Per-bucket counters, oldest first. */
int store_bucket_walk(struct store *s, uint64_t from_s, uint64_t to_s, store_bucket_cb cb,
		      void *ctx);

/* ---- meta text values ----
 * Text under names of the caller's choosing, beside the integer values (the
 * ingest tool keeps "ingest/<fingerprint>" records here).  Stored as a type
 * byte 0x81 (text, version 1) followed by the bytes, no NUL; an integer value
 * never starts with that byte, so the two kinds cannot be mistaken. */

#define STORE_META_STR_MAX 2048 /* bytes of text, NUL not counted */

/** Copy the text under @name into @buf (NUL-terminated).  Returns its length,
 *  BSC_ENOENT (absent), BSC_EMALF (not a text value), BSC_ENOSPC (@len too
 *  small) or BSC_E*.  Own read transaction; any thread. */
int store_meta_get_str(struct store *s, const char *name, char *buf, size_t len);
/** Set the text under @name (at most STORE_META_STR_MAX bytes) in its own
 *  write transaction (it waits while another process writes).  BSC_EACCES
 *  on a read-only store, BSC_EINVAL during a batch or for a name that is
 *  empty or longer than 400 bytes, BSC_ERANGE for a longer text. */
int store_meta_set_str(struct store *s, const char *name, const char *value);

typedef int (*store_meta_str_cb)(void *ctx, const char *name, const char *value);
/** Every text value whose name starts with @prefix, in name order.  Values of
 *  another kind under the prefix are skipped.  The callback rule of the walks
 *  above applies; the strings are valid during the call only. */
int store_meta_str_walk(struct store *s, const char *prefix, store_meta_str_cb cb, void *ctx);

/* ---- darknet labels (label DB; docs/store.md) ----
 * Key: store_key_orig() layout, bucket start then the source.  Value
 * (STORE_LABEL_LEN bytes, big-endian): version (1), class, size, protocol,
 * tool, service, nports, 0, ports[4] (u16), packets (u64), destinations
 * (u64), window start (u64, s), window length (u32, s).  The enum values are
 * those of detector/darknet.h and detector/fingerprint.h. */

#define STORE_LABEL_VERSION 1
#define STORE_LABEL_LEN 44
#define STORE_LABEL_PORTS 4

struct store_label {
	uint64_t bucket_s;       /* key */
	struct bsc_addr source;  /* key */
	uint8_t cls, size, protocol, tool, service;
	uint8_t nports;
	uint16_t ports[STORE_LABEL_PORTS];
	uint64_t packets, destinations;
	uint64_t window_start_s;
	uint32_t window_len_s;
};

/** The value of @l into @buf (STORE_LABEL_LEN bytes). */
void store_label_encode(const struct store_label *l, uint8_t *buf);
/** Value @v (@n bytes) into @l (the key fields are left alone).  Returns 0,
 *  BSC_ESCHEMA (another version) or BSC_EMALF (bad length or nports). */
int store_label_decode(const uint8_t *v, size_t n, struct store_label *l);
/** Write @n labels in one transaction (a label replaces the one of the same
 *  bucket and source).  Returns 0, BSC_EACCES (read-only), BSC_EINVAL (no
 *  family, or a batch is open), BSC_ENOSPC (map full: store_grow and retry)
 *  or another BSC_E*. */
int store_label_put(struct store *s, const struct store_label *l, size_t n);

typedef int (*store_label_cb)(void *ctx, const struct store_label *l);
/** Every label of the buckets in [from_s, to_s), in key order (bucket,
 *  family, address); undecodable values are skipped.  The callback rule of
 *  the readers applies. */
int store_label_walk(struct store *s, uint64_t from_s, uint64_t to_s, store_label_cb cb,
		     void *ctx);
