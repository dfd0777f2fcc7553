/* common/store.c — the LMDB store: environment, schema check, batched merges
 * for the aggregation flush, and readers (walks, k-way merges over buckets).
 *
 * Batch calls run on the writer's thread; readers take their own read
 * transaction (MDB_NOTLS) in any thread.  The only file that includes
 * <lmdb.h>.  Layouts: docs/store.md. */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/store.h"
#include "common/wire.h"

#define META_VERSION 1
#define META_U64_LEN 9           /* version byte + u64 */
#define META_BUCKET_PREFIX "bucket/"
#define META_BUCKET_PLEN 7
#define FAM4 4
#define FAM6 6

static const char *const db_names[STORE_DB_COUNT] = {
	[STORE_DB_META] = "meta",
	[STORE_DB_ORIG] = "orig",
	[STORE_DB_ORIGQ] = "origq",
	[STORE_DB_QUERIER] = "querier",
	[STORE_DB_LABEL] = "label",
	[STORE_DB_DETECT] = "detect",
	[STORE_DB_DETECTLOG] = "detectlog",
};

/* A write cursor of the flush batch and what is known about its keys. */
struct batch_cursor {
	MDB_cursor *c;
	uint8_t last[STORE_KEY_MAX];    /* greatest key of the DB: keys above it */
	size_t last_len;                /* are new and go in with MDB_APPEND */
	uint8_t at[STORE_KEY_MAX];      /* the key the cursor sits on (at_len 0: */
	size_t at_len;                  /* not known) */
};

struct store_batch {
	struct store *s;
	MDB_txn *txn;
	struct batch_cursor o, q;       /* orig, origq */
	int failed;                     /* first error; the txn is dead after it */
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_DB_COUNT];
	char *path;
	bool readonly;
	uint32_t bucket_len, bin_len;
	uint64_t map_size, map_max;
	/* Readers hold it shared for their transaction; store_grow holds it
	 * exclusive, as mdb_env_set_mapsize needs no transaction in the process. */
	pthread_rwlock_t grow_lock;
	bool batch_active;
	struct store_batch batch;
};

/* ---------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------- */

static atomic_bool mdb_logged[32];

int bsc_err_mdb(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return BSC_ENOENT;
	if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
		return BSC_ENOSPC;
	if (rc > 0)
		return -rc;
	unsigned i = (unsigned)(rc - MDB_KEYEXIST) & 31u;
	if (!atomic_exchange(&mdb_logged[i], true))
		log_error("LMDB: %s", mdb_strerror(rc));
	return BSC_ESTORE;
}

/* ---------------------------------------------------------------------------
 * Keys
 * ------------------------------------------------------------------------- */

static size_t addr_len(uint8_t family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

size_t store_key_addr(uint8_t *k, const struct bsc_addr *a)
{
	size_t n = addr_len(a->family);

	if (!n)
		return 0;
	k[0] = a->family == AF_INET ? FAM4 : FAM6;
	memcpy(k + 1, a->bytes, n);
	return 1 + n;
}

size_t store_key_orig(uint8_t *k, uint64_t bucket_s, const struct bsc_addr *orig)
{
	wire_put_u64(k, bucket_s);
	size_t n = store_key_addr(k + 8, orig);
	return n ? 8 + n : 0;
}

size_t store_key_origq(uint8_t *k, uint64_t bucket_s, const struct bsc_addr *orig,
		       const struct bsc_addr *querier)
{
	size_t n = store_key_orig(k, bucket_s, orig);
	if (!n)
		return 0;
	size_t m = store_key_addr(k + n, querier);
	return m ? n + m : 0;
}

/* Parse family + address at @k (@n bytes available); returns the bytes
 * used or 0. */
static size_t parse_addr(const uint8_t *k, size_t n, struct bsc_addr *a)
{
	memset(a, 0, sizeof *a);
	if (n < 1 || (k[0] != FAM4 && k[0] != FAM6))
		return 0;
	size_t al = k[0] == FAM4 ? 4 : 16;
	if (n < 1 + al)
		return 0;
	a->family = k[0] == FAM4 ? AF_INET : AF_INET6;
	a->prefix = (uint8_t)(al * 8);
	memcpy(a->bytes, k + 1, al);
	return 1 + al;
}

int store_key_parse_addr(const uint8_t *k, size_t n, struct bsc_addr *a)
{
	size_t u = parse_addr(k, n, a);
	return u && u == n ? 0 : BSC_EMALF;
}

int store_key_parse_orig(const uint8_t *k, size_t n, uint64_t *bucket_s, struct bsc_addr *orig)
{
	if (n < 8)
		return BSC_EMALF;
	*bucket_s = wire_get_u64(k);
	return store_key_parse_addr(k + 8, n - 8, orig);
}

int store_key_parse_origq(const uint8_t *k, size_t n, uint64_t *bucket_s, struct bsc_addr *orig,
			  struct bsc_addr *querier)
{
	if (n < 8)
		return BSC_EMALF;
	*bucket_s = wire_get_u64(k);
	size_t u = parse_addr(k + 8, n - 8, orig);
	if (!u)
		return BSC_EMALF;
	return store_key_parse_addr(k + 8 + u, n - 8 - u, querier);
}

/* LMDB's default order: memcmp, then the shorter key first. */
static int key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

/* ---------------------------------------------------------------------------
 * Meta values: version byte + u64
 * ------------------------------------------------------------------------- */

static int meta_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, uint64_t *v)
{
	MDB_val k = { klen, (void *)key }, d;
	int rc = mdb_get(txn, dbi, &k, &d);
	if (rc)
		return bsc_err_mdb(rc);
	if (d.mv_size != META_U64_LEN || ((const uint8_t *)d.mv_data)[0] != META_VERSION)
		return BSC_EMALF;
	*v = wire_get_u64((const uint8_t *)d.mv_data + 1);
	return 0;
}

static int meta_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, uint64_t v)
{
	uint8_t buf[META_U64_LEN];
	buf[0] = META_VERSION;
	wire_put_u64(buf + 1, v);
	MDB_val k = { klen, (void *)key }, d = { sizeof buf, buf };
	return bsc_err_mdb(mdb_put(txn, dbi, &k, &d, 0));
}

static int meta_add(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t add)
{
	uint64_t v = 0;
	int rc = meta_get(txn, dbi, name, strlen(name), &v);
	if (rc < 0 && rc != BSC_ENOENT)
		return rc;
	v = v > UINT64_MAX - add ? UINT64_MAX : v + add;
	return meta_put(txn, dbi, name, strlen(name), v);
}

/* ---------------------------------------------------------------------------
 * Open / close
 * ------------------------------------------------------------------------- */

static int txn_begin_ro(struct store *s, MDB_txn **t)
{
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, t);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size and retry. */
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, t);
	}
	return bsc_err_mdb(rc);
}

/* Reader entry: shared grow lock plus a read transaction. */
static int reader_begin(struct store *s, MDB_txn **t)
{
	pthread_rwlock_rdlock(&s->grow_lock);
	int rc = txn_begin_ro(s, t);
	if (rc < 0)
		pthread_rwlock_unlock(&s->grow_lock);
	return rc;
}

static void reader_end(struct store *s, MDB_txn *t)
{
	mdb_txn_abort(t);
	pthread_rwlock_unlock(&s->grow_lock);
}

/* One row of a walk: returns 0 to go on, > 0 to stop (the end of the range,
 * or the caller's callback said so: the walk returns 0), < 0 to stop with
 * that error. */
typedef int (*row_fn)(struct store *s, const MDB_val *k, const MDB_val *d, void *arg);

/* Walk @db in @txn from the first key at or after @start (@slen bytes; 0 =
 * from the first key), one row at a time, until @row stops it. */
static int txn_walk(struct store *s, MDB_txn *txn, enum store_db db, const void *start,
		    size_t slen, row_fn row, void *arg)
{
	MDB_cursor *c;
	int rc = bsc_err_mdb(mdb_cursor_open(txn, s->dbi[db], &c));
	if (rc < 0)
		return rc;
	MDB_val k = { slen, (void *)start }, d;
	int mrc = mdb_cursor_get(c, &k, &d, slen ? MDB_SET_RANGE : MDB_FIRST);
	while (mrc == 0 && (rc = row(s, &k, &d, arg)) == 0)
		mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	mdb_cursor_close(c);
	if (rc)
		return rc > 0 ? 0 : rc;
	return mrc == MDB_NOTFOUND ? 0 : bsc_err_mdb(mrc);
}

/* txn_walk in a read transaction of its own. */
static int walk(struct store *s, enum store_db db, const void *start, size_t slen, row_fn row,
		void *arg)
{
	MDB_txn *txn;
	int rc = reader_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = txn_walk(s, txn, db, start, slen, row, arg);
	reader_end(s, txn);
	return rc;
}

/* What the rows of the public walks need: the caller's callback and
 * context, the end of the bucket range, and a key prefix. */
struct cb_arg {
	void *cb;
	void *ctx;
	uint64_t to_s;
	const void *prefix;
	size_t plen;
};

static bool key_starts(const MDB_val *k, const void *prefix, size_t plen)
{
	return k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0;
}

static int check_lens(struct store *s, MDB_txn *txn, const struct store_opts *o, bool fresh)
{
	MDB_dbi meta = s->dbi[STORE_DB_META];
	uint64_t len = 0, bin = 0;
	int rc;

	if (fresh) {
		len = o->bucket_len ? o->bucket_len : BUCKET_LEN_DEFAULT;
		bin = o->bin_len ? o->bin_len : BUCKET_BIN_DEFAULT;
		if (!bucket_lens_valid((uint32_t)len, (uint32_t)bin)) {
			log_error("store %s: bucket length %llu s with bins of %llu s is not "
				  "usable (bins must divide the bucket, at most %u bins, bucket "
				  "at most %u s)",
				  s->path, (unsigned long long)len, (unsigned long long)bin,
				  BUCKET_BINS_MAX, BUCKET_LEN_MAX);
			return BSC_ECONF;
		}
		time_t now = time(NULL);
		if ((rc = meta_put(txn, meta, "bucket_len", 10, len)) < 0 ||
		    (rc = meta_put(txn, meta, "bin_len", 7, bin)) < 0 ||
		    (rc = meta_put(txn, meta, "created", 7, (uint64_t)now)) < 0)
			return rc;
	} else {
		if ((rc = meta_get(txn, meta, "bucket_len", 10, &len)) < 0 ||
		    (rc = meta_get(txn, meta, "bin_len", 7, &bin)) < 0 || len > UINT32_MAX ||
		    bin > UINT32_MAX || !bucket_lens_valid((uint32_t)len, (uint32_t)bin)) {
			log_error("store %s: meta bucket_len/bin_len missing or invalid", s->path);
			return BSC_ESTORE;
		}
		if ((o->bucket_len && o->bucket_len != len) || (o->bin_len && o->bin_len != bin)) {
			log_error("store %s was created with buckets of %llu s and bins of %llu s; "
				  "the configuration asks for %u s and %u s: keep the store's "
				  "values or use a new store folder",
				  s->path, (unsigned long long)len, (unsigned long long)bin,
				  o->bucket_len ? o->bucket_len : (uint32_t)len,
				  o->bin_len ? o->bin_len : (uint32_t)bin);
			return BSC_ECONF;
		}
	}
	s->bucket_len = (uint32_t)len;
	s->bin_len = (uint32_t)bin;
	return 0;
}

static int open_dbs(struct store *s, const struct store_opts *o)
{
	MDB_txn *txn;
	unsigned flags = s->readonly ? 0 : MDB_CREATE;
	int rc = s->readonly ? txn_begin_ro(s, &txn)
			     : bsc_err_mdb(mdb_txn_begin(s->env, NULL, 0, &txn));
	if (rc < 0) {
		log_error("store %s: cannot begin a transaction: %s", s->path, bsc_strerror(rc));
		return rc;
	}
	for (int i = 0; i < STORE_DB_COUNT; i++) {
		int mrc = mdb_dbi_open(txn, db_names[i], flags, &s->dbi[i]);
		if (mrc == MDB_NOTFOUND) {
			log_error("store %s: no '%s' database: not a backscope store, or made "
				  "by an older version", s->path, db_names[i]);
			rc = BSC_ESTORE;
			goto abort;
		}
		if (mrc) {
			rc = bsc_err_mdb(mrc);
			log_error("store %s: cannot open database '%s': %s", s->path,
				  db_names[i], mdb_strerror(mrc));
			goto abort;
		}
	}

	uint64_t schema = 0;
	rc = meta_get(txn, s->dbi[STORE_DB_META], "schema_version", 14, &schema);
	bool fresh = rc == BSC_ENOENT;
	if (rc < 0 && !fresh) {
		log_error("store %s: meta schema_version unreadable: %s", s->path,
			  bsc_strerror(rc));
		goto abort;
	}
	if (fresh && s->readonly) {
		log_error("store %s: not initialised (no schema version)", s->path);
		rc = BSC_ESTORE;
		goto abort;
	}
	if (!fresh && schema > STORE_SCHEMA_VERSION) {
		log_error("store %s has schema version %llu, newer than this build's %d: use a "
			  "newer backscope, or another store folder",
			  s->path, (unsigned long long)schema, STORE_SCHEMA_VERSION);
		rc = BSC_ESCHEMA;
		goto abort;
	}
	if (!fresh && schema < STORE_SCHEMA_VERSION) {
		/* Schema 1 is the first: no migration exists yet.  Future
		 * migrations run here, in this write transaction. */
		log_error("store %s has schema version %llu, older than this build's %d, and "
			  "no migration from it exists: use a new store folder",
			  s->path, (unsigned long long)schema, STORE_SCHEMA_VERSION);
		rc = BSC_ESCHEMA;
		goto abort;
	}
	if (fresh) {
		rc = meta_put(txn, s->dbi[STORE_DB_META], "schema_version", 14,
			      STORE_SCHEMA_VERSION);
		if (rc < 0)
			goto abort;
	}
	rc = check_lens(s, txn, o, fresh);
	if (rc < 0)
		goto abort;
	rc = bsc_err_mdb(mdb_txn_commit(txn)); /* also keeps the DBI handles */
	if (rc < 0)
		log_error("store %s: cannot commit: %s", s->path, bsc_strerror(rc));
	return rc;
abort:
	mdb_txn_abort(txn);
	return rc;
}

int store_open(struct store **out, const char *dir, const struct store_opts *o)
{
	struct store_opts def = { 0 };
	int rc;

	*out = NULL;
	if (!o)
		o = &def;
	struct store *s = mem_calloc(1, sizeof *s);
	if (!s)
		return BSC_ENOMEM;
	s->path = mem_strdup(dir);
	if (!s->path) {
		mem_free(s);
		return BSC_ENOMEM;
	}
	pthread_rwlock_init(&s->grow_lock, NULL);
	s->readonly = o->readonly;
	s->map_size = o->map_size ? o->map_size : STORE_MAP_SIZE_DEFAULT;
	s->map_max = o->map_max > s->map_size ? o->map_max : s->map_size;

	if (!s->readonly && mkdir(dir, 0750) != 0 && errno != EEXIST) {
		rc = bsc_err_sys(errno);
		log_error("store %s: cannot create the folder: %s", dir, bsc_strerror(rc));
		goto fail;
	}
	rc = bsc_err_mdb(mdb_env_create(&s->env));
	if (rc < 0)
		goto fail;
	mdb_env_set_maxdbs(s->env, STORE_DB_COUNT + 1);
	if (!s->readonly)
		mdb_env_set_mapsize(s->env, s->map_size);
	unsigned flags = MDB_NOTLS;
	if (s->readonly)
		flags |= MDB_RDONLY;
	if (o->sync == STORE_SYNC_NOMETA)
		flags |= MDB_NOMETASYNC;
	int mrc = mdb_env_open(s->env, dir, flags, 0640);
	if (mrc) {
		rc = bsc_err_mdb(mrc);
		if (mrc == ENOENT)
			log_error("store %s: no store there (%s)", dir, mdb_strerror(mrc));
		else
			log_error("store %s: cannot open: %s", dir, mdb_strerror(mrc));
		goto fail;
	}
	if (!s->readonly) {
		int dead = 0;
		mdb_reader_check(s->env, &dead);
		if (dead)
			log_info("store %s: cleared %d stale reader slots", dir, dead);
	}
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize;
	if (s->map_max < s->map_size)
		s->map_max = s->map_size;

	rc = open_dbs(s, o);
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->batch_active)
		store_batch_abort(&s->batch);
	if (s->env)
		mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->grow_lock);
	mem_free(s->path);
	mem_free(s);
}

const char *store_path(const struct store *s)
{
	return s->path;
}

uint32_t store_bucket_len(const struct store *s)
{
	return s->bucket_len;
}

uint32_t store_bin_len(const struct store *s)
{
	return s->bin_len;
}

bool store_readonly(const struct store *s)
{
	return s->readonly;
}

int store_grow(struct store *s)
{
	if (s->readonly || s->batch_active)
		return BSC_EINVAL;
	if (s->map_size >= s->map_max) {
		log_error("store %s: the LMDB map is full at %.1f MiB (its maximum): raise the "
			  "map size, or expire old buckets",
			  s->path, (double)s->map_size / 1048576.0);
		return BSC_ENOSPC;
	}
	uint64_t n = s->map_size * 2;
	if (n > s->map_max || n < s->map_size)
		n = s->map_max;
	pthread_rwlock_wrlock(&s->grow_lock);
	int rc = bsc_err_mdb(mdb_env_set_mapsize(s->env, n));
	pthread_rwlock_unlock(&s->grow_lock);
	if (rc < 0) {
		log_error("store %s: cannot grow the map to %.1f MiB: %s", s->path,
			  (double)n / 1048576.0, bsc_strerror(rc));
		return rc;
	}
	log_info("store %s: map grown from %.1f to %.1f MiB", s->path,
		 (double)s->map_size / 1048576.0, (double)n / 1048576.0);
	s->map_size = n;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Meta access
 * ------------------------------------------------------------------------- */

int store_meta_get_u64(struct store *s, const char *name, uint64_t *v)
{
	MDB_txn *txn;
	int rc = reader_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = meta_get(txn, s->dbi[STORE_DB_META], name, strlen(name), v);
	reader_end(s, txn);
	return rc;
}

/* 0 when a write transaction outside the flush batch may begin: BSC_EACCES
 * on a read-only store, BSC_EINVAL while a batch is open. */
static int writable(const struct store *s)
{
	if (s->readonly)
		return BSC_EACCES;
	return s->batch_active ? BSC_EINVAL : 0;
}

/* Begin a write transaction of its own (meta values, labels). */
static int writer_begin(struct store *s, MDB_txn **txn)
{
	int rc = writable(s);
	return rc < 0 ? rc : bsc_err_mdb(mdb_txn_begin(s->env, NULL, 0, txn));
}

/* Commit @txn when @rc is 0, else abort it.  Returns the outcome. */
static int writer_end(MDB_txn *txn, int rc)
{
	if (rc < 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return bsc_err_mdb(mdb_txn_commit(txn));
}

/* Run @n meta puts in one write transaction. */
static int meta_put_many(struct store *s, const char *const *names, const uint64_t *vals,
			 size_t n)
{
	MDB_txn *txn;
	int rc = writer_begin(s, &txn);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = meta_put(txn, s->dbi[STORE_DB_META], names[i], strlen(names[i]), vals[i]);
	return writer_end(txn, rc);
}

int store_meta_set_u64(struct store *s, const char *name, uint64_t v)
{
	return meta_put_many(s, &name, &v, 1);
}

int store_set_ttls(struct store *s, uint32_t ptr_ttl, uint32_t neg_ttl)
{
	static const char *const names[] = { "ptr_ttl", "neg_ttl" };
	const uint64_t vals[] = { ptr_ttl, neg_ttl };
	return meta_put_many(s, names, vals, 2);
}

static uint64_t meta_or(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t def)
{
	uint64_t v = 0;
	return meta_get(txn, dbi, name, strlen(name), &v) == 0 ? v : def;
}

static int db_stat_txn(struct store *s, MDB_txn *txn, enum store_db db, struct store_db_stat *out)
{
	MDB_stat st;
	int rc = bsc_err_mdb(mdb_stat(txn, s->dbi[db], &st));
	if (rc < 0)
		return rc;
	out->entries = st.ms_entries;
	out->pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
	out->bytes = out->pages * st.ms_psize;
	out->depth = st.ms_depth;
	return 0;
}

int store_db_stat(struct store *s, enum store_db db, struct store_db_stat *out)
{
	if ((unsigned)db >= STORE_DB_COUNT)
		return BSC_EINVAL;
	MDB_txn *txn;
	int rc = reader_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = db_stat_txn(s, txn, db, out);
	reader_end(s, txn);
	return rc;
}

/* Count the bucket counters of meta ("bucket/" + u64) into store_info. */
static int row_bucket_count(struct store *s, const MDB_val *k, const MDB_val *d, void *arg)
{
	struct store_info *out = arg;

	(void)s;
	(void)d;
	if (k->mv_size != META_BUCKET_PLEN + 8 ||
	    !key_starts(k, META_BUCKET_PREFIX, META_BUCKET_PLEN))
		return 1;
	uint64_t b = wire_get_u64((const uint8_t *)k->mv_data + META_BUCKET_PLEN);
	if (!out->buckets)
		out->first_bucket_s = b;
	out->last_bucket_s = b;
	out->buckets++;
	return 0;
}

int store_info(struct store *s, struct store_info *out)
{
	MDB_txn *txn;
	int rc = reader_begin(s, &txn);
	if (rc < 0)
		return rc;
	MDB_dbi m = s->dbi[STORE_DB_META];
	memset(out, 0, sizeof *out);
	out->schema = (uint32_t)meta_or(txn, m, "schema_version", 0);
	out->bucket_len = s->bucket_len;
	out->bin_len = s->bin_len;
	out->ptr_ttl = meta_or(txn, m, "ptr_ttl", UINT64_MAX);
	out->neg_ttl = meta_or(txn, m, "neg_ttl", UINT64_MAX);
	out->created_s = meta_or(txn, m, "created", 0);
	out->events = meta_or(txn, m, "events", 0);
	out->dropped = meta_or(txn, m, "dropped", 0);
	out->ptr = meta_or(txn, m, "ptr", 0);
	out->partial = meta_or(txn, m, "partial", 0);
	out->other_qtype = meta_or(txn, m, "other_qtype", 0);
	out->other_name = meta_or(txn, m, "other_name", 0);
	out->invalid = meta_or(txn, m, "invalid", 0);
	out->flushes = meta_or(txn, m, "flushes", 0);
	out->last_flush_ns = meta_or(txn, m, "last_flush_ns", 0);

	struct store_db_stat st;
	if ((rc = db_stat_txn(s, txn, STORE_DB_ORIG, &st)) < 0)
		goto out;
	out->orig_records = st.entries;
	if ((rc = db_stat_txn(s, txn, STORE_DB_ORIGQ, &st)) < 0)
		goto out;
	out->origq_records = st.entries;

	if ((rc = txn_walk(s, txn, STORE_DB_META, META_BUCKET_PREFIX, META_BUCKET_PLEN,
			   row_bucket_count, out)) < 0)
		goto out;

	MDB_envinfo ei;
	MDB_stat es;
	mdb_env_info(s->env, &ei);
	mdb_env_stat(s->env, &es);
	out->map_size = ei.me_mapsize;
	out->map_used = (uint64_t)(ei.me_last_pgno + 1) * es.ms_psize;
out:
	reader_end(s, txn);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Batched writes
 * ------------------------------------------------------------------------- */

static int last_key(MDB_cursor *c, uint8_t *buf, size_t *len)
{
	MDB_val k, d;
	int rc = mdb_cursor_get(c, &k, &d, MDB_LAST);

	*len = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return bsc_err_mdb(rc);
	if (k.mv_size > STORE_KEY_MAX)
		return BSC_EMALF;
	memcpy(buf, k.mv_data, k.mv_size);
	*len = k.mv_size;
	return 0;
}

int store_batch_begin(struct store *s, struct store_batch **out)
{
	*out = NULL;
	if (s->readonly)
		return BSC_EACCES;
	if (s->batch_active)
		return BSC_EINVAL;
	struct store_batch *b = &s->batch;
	memset(b, 0, sizeof *b);
	b->s = s;
	int rc = bsc_err_mdb(mdb_txn_begin(s->env, NULL, 0, &b->txn));
	if (rc < 0)
		return rc;
	rc = bsc_err_mdb(mdb_cursor_open(b->txn, s->dbi[STORE_DB_ORIG], &b->o.c));
	if (rc == 0)
		rc = bsc_err_mdb(mdb_cursor_open(b->txn, s->dbi[STORE_DB_ORIGQ], &b->q.c));
	if (rc == 0)
		rc = last_key(b->o.c, b->o.last, &b->o.last_len);
	if (rc == 0)
		rc = last_key(b->q.c, b->q.last, &b->q.last_len);
	if (rc < 0) {
		mdb_txn_abort(b->txn); /* closes the cursors */
		return rc;
	}
	s->batch_active = true;
	*out = b;
	return 0;
}

static int batch_fail(struct store_batch *b, int rc)
{
	if (!b->failed)
		b->failed = rc;
	return rc;
}

#define CURSOR_NEAR_STEPS 1

/* Look for @key in the row after the cursor's: a flush writes a bucket's
 * keys in ascending order and, once the bucket is stored and its
 * originators come back every second, most of them are already there, next
 * to each other.  A step along the leaf page is far cheaper than a search
 * from the root; more steps cost more than they save when the flush touches
 * only some of the stored rows (CURSOR_NEAR_STEPS, measured with
 * tests/bench/bench_capture).  Returns 1 with the
 * cursor on @key and *@d its value; 0 when @key is known to be absent (the
 * cursor passed it); -1 when stepping did not tell (position not known,
 * behind @key, or too far from it). */
static int cursor_near(struct batch_cursor *bc, const uint8_t *key, size_t klen, MDB_val *d)
{
	MDB_val ck;

	if (!bc->at_len || key_cmp(bc->at, bc->at_len, key, klen) >= 0)
		return -1;
	bc->at_len = 0;
	for (int i = 0; i < CURSOR_NEAR_STEPS; i++) {
		if (mdb_cursor_get(bc->c, &ck, d, MDB_NEXT) != 0)
			return -1;
		int cmp = key_cmp(ck.mv_data, ck.mv_size, key, klen);
		if (cmp == 0)
			return 1;
		if (cmp > 0)
			return 0;
	}
	return -1;
}

static void cursor_at(struct batch_cursor *bc, const uint8_t *key, size_t klen)
{
	memcpy(bc->at, key, klen);
	bc->at_len = klen;
}

/* Merge @val (encoded record of @vlen bytes) under @key in the DB of cursor
 * @bc.  @merge decodes the existing value, adds @add and re-encodes into
 * @val.  *created tells whether the key was new. */
typedef int (*merge_fn)(const MDB_val *old, const void *add, uint64_t bucket_s, uint8_t *out);

static int batch_merge(struct store_batch *b, struct batch_cursor *bc, const uint8_t *key,
		       size_t klen, uint8_t *val, size_t vlen, merge_fn merge, const void *add,
		       uint64_t bucket_s, bool *created)
{
	MDB_val k = { klen, (void *)key }, d = { vlen, val };
	int mrc;

	if (b->failed)
		return b->failed;
	if (key_cmp(key, klen, bc->last, bc->last_len) > 0) {
		/* Above every stored key: new, appended (full pages). */
		mrc = mdb_cursor_put(bc->c, &k, &d, MDB_APPEND);
		if (mrc)
			return batch_fail(b, bsc_err_mdb(mrc));
		memcpy(bc->last, key, klen);
		bc->last_len = klen;
		cursor_at(bc, key, klen);
		*created = true;
		return 0;
	}
	if (cursor_near(bc, key, klen, &d) <= 0) {
		/* Not found by stepping, or known to be new. */
		d.mv_size = vlen;
		d.mv_data = val;
		mrc = mdb_cursor_put(bc->c, &k, &d, MDB_NOOVERWRITE);
		if (mrc == 0) {
			cursor_at(bc, key, klen);
			*created = true;
			return 0;
		}
		if (mrc != MDB_KEYEXIST)
			return batch_fail(b, bsc_err_mdb(mrc));
	}
	/* d now points at the stored value; the cursor sits on it. */
	uint8_t nv[AGG_ORIG_LEN > AGG_ORIGQ_LEN ? AGG_ORIG_LEN : AGG_ORIGQ_LEN];
	int rc = merge(&d, add, bucket_s, nv);
	if (rc < 0) {
		log_error("store %s: a stored value (%zu bytes) does not decode: %s", b->s->path,
			  d.mv_size, bsc_strerror(rc));
		return batch_fail(b, rc);
	}
	MDB_val nd = { vlen, nv };
	mrc = mdb_cursor_put(bc->c, &k, &nd, MDB_CURRENT);
	if (mrc)
		return batch_fail(b, bsc_err_mdb(mrc));
	cursor_at(bc, key, klen);
	*created = false;
	return 0;
}

static int merge_origq(const MDB_val *old, const void *add, uint64_t bucket_s, uint8_t *out)
{
	struct agg_origq_rec r;
	int rc = agg_origq_decode(old->mv_data, old->mv_size, bucket_s, &r);
	if (rc < 0)
		return rc;
	agg_origq_merge(&r, add);
	agg_origq_encode(&r, bucket_s, out);
	return 0;
}

static int merge_orig(const MDB_val *old, const void *add, uint64_t bucket_s, uint8_t *out)
{
	struct agg_orig_rec r;
	(void)bucket_s;
	int rc = agg_orig_decode(old->mv_data, old->mv_size, &r);
	if (rc < 0)
		return rc;
	agg_orig_merge(&r, add);
	agg_orig_encode(&r, out);
	return 0;
}

int store_batch_origq(struct store_batch *b, uint64_t bucket_s, const struct bsc_addr *orig,
		      const struct bsc_addr *querier, const struct agg_origq_rec *add,
		      bool *created)
{
	uint8_t key[STORE_KEY_MAX], val[AGG_ORIGQ_LEN];
	size_t klen = store_key_origq(key, bucket_s, orig, querier);

	if (!klen)
		return BSC_EINVAL;
	agg_origq_encode(add, bucket_s, val);
	return batch_merge(b, &b->q, key, klen, val, sizeof val, merge_origq, add, bucket_s,
			   created);
}

int store_batch_orig(struct store_batch *b, uint64_t bucket_s, const struct bsc_addr *orig,
		     const struct agg_orig_rec *add)
{
	uint8_t key[STORE_KEY_MAX], val[AGG_ORIG_LEN];
	size_t klen = store_key_orig(key, bucket_s, orig);
	bool created;

	if (!klen)
		return BSC_EINVAL;
	agg_orig_encode(add, val);
	return batch_merge(b, &b->o, key, klen, val, sizeof val, merge_orig, add, bucket_s,
			   &created);
}

int store_batch_bucket(struct store_batch *b, uint64_t bucket_s, const struct agg_bucket_rec *add)
{
	uint8_t key[META_BUCKET_PLEN + 8], val[AGG_BUCKET_LEN];
	MDB_dbi dbi = b->s->dbi[STORE_DB_META];

	if (b->failed)
		return b->failed;
	memcpy(key, META_BUCKET_PREFIX, META_BUCKET_PLEN);
	wire_put_u64(key + META_BUCKET_PLEN, bucket_s);
	MDB_val k = { sizeof key, key }, d;
	struct agg_bucket_rec r = { 0 };
	int mrc = mdb_get(b->txn, dbi, &k, &d);
	if (mrc == 0) {
		int rc = agg_bucket_decode(d.mv_data, d.mv_size, &r);
		if (rc < 0) {
			log_error("store %s: bucket %llu counters do not decode", b->s->path,
				  (unsigned long long)bucket_s);
			return batch_fail(b, rc);
		}
	} else if (mrc != MDB_NOTFOUND) {
		return batch_fail(b, bsc_err_mdb(mrc));
	}
	agg_bucket_merge(&r, add);
	agg_bucket_encode(&r, val);
	d.mv_size = sizeof val;
	d.mv_data = val;
	mrc = mdb_put(b->txn, dbi, &k, &d, 0);
	return mrc ? batch_fail(b, bsc_err_mdb(mrc)) : 0;
}

int store_batch_totals(struct store_batch *b, const struct store_totals *add, uint64_t flush_ns)
{
	MDB_dbi m = b->s->dbi[STORE_DB_META];
	const struct {
		const char *name;
		uint64_t v;
	} t[] = {
		{ "events", add->events },	   { "dropped", add->dropped },
		{ "ptr", add->ptr },		   { "partial", add->partial },
		{ "other_qtype", add->other_qtype }, { "other_name", add->other_name },
		{ "invalid", add->invalid },	   { "flushes", 1 },
	};

	if (b->failed)
		return b->failed;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int rc = meta_add(b->txn, m, t[i].name, t[i].v);
		if (rc < 0)
			return batch_fail(b, rc);
	}
	int rc = meta_put(b->txn, m, "last_flush_ns", 13, flush_ns);
	return rc < 0 ? batch_fail(b, rc) : 0;
}

int store_batch_commit(struct store_batch *b)
{
	struct store *s = b->s;
	int rc = b->failed;

	if (rc) {
		mdb_txn_abort(b->txn);
	} else {
		rc = bsc_err_mdb(mdb_txn_commit(b->txn));
		if (rc < 0 && rc != BSC_ENOSPC)
			log_error("store %s: commit failed: %s", s->path, bsc_strerror(rc));
	}
	b->txn = NULL;
	s->batch_active = false;
	return rc;
}

void store_batch_abort(struct store_batch *b)
{
	if (!b || !b->txn)
		return;
	mdb_txn_abort(b->txn);
	b->txn = NULL;
	b->s->batch_active = false;
}

/* ---------------------------------------------------------------------------
 * Readers
 * ------------------------------------------------------------------------- */

static uint64_t key_bucket(const MDB_val *k)
{
	return wire_get_u64(k->mv_data);
}

/* Suffix of a key after its bucket. */
static const uint8_t *key_rest(const MDB_val *k)
{
	return (const uint8_t *)k->mv_data + 8;
}

static int bad_row(struct store *s, const char *db, const MDB_val *k)
{
	log_error("store %s: a row of '%s' (key of %zu bytes) does not decode", s->path, db,
		  k->mv_size);
	return BSC_EMALF;
}

/* Position @c at the first key of the first bucket in [*b, to) whose keys
 * (after the bucket) start with @prefix.  Returns 0 with *b, @k and @d set,
 * BSC_ENOENT when there is none, or an error. */
static int seek_bucket(MDB_cursor *c, uint64_t *b, uint64_t to, const uint8_t *prefix,
		       size_t plen, MDB_val *k, MDB_val *d)
{
	uint64_t cur = *b;
	uint8_t kb[STORE_KEY_MAX];

	while (cur < to) {
		wire_put_u64(kb, cur);
		if (plen)
			memcpy(kb + 8, prefix, plen);
		k->mv_size = 8 + plen;
		k->mv_data = kb;
		int mrc = mdb_cursor_get(c, k, d, MDB_SET_RANGE);
		if (mrc == MDB_NOTFOUND)
			return BSC_ENOENT;
		if (mrc)
			return bsc_err_mdb(mrc);
		if (k->mv_size < 8)
			return BSC_EMALF;
		uint64_t kb_s = key_bucket(k);
		if (kb_s >= to)
			return BSC_ENOENT;
		if (kb_s != cur) {
			cur = kb_s; /* skip the gap: seek the prefix in that bucket */
			if (plen)
				continue;
		}
		if (k->mv_size >= 8 + plen && (!plen || memcmp(key_rest(k), prefix, plen) == 0)) {
			*b = cur;
			return 0;
		}
		if (cur == UINT64_MAX)
			break;
		cur++;
	}
	return BSC_ENOENT;
}

static bool has_prefix(const MDB_val *k, uint64_t bucket, const uint8_t *prefix, size_t plen)
{
	return k->mv_size >= 8 + plen && key_bucket(k) == bucket &&
	       (!plen || memcmp(key_rest(k), prefix, plen) == 0);
}

static int row_orig(struct store *s, const MDB_val *k, const MDB_val *d, void *arg)
{
	const struct cb_arg *a = arg;
	struct store_orig_entry e;

	if (store_key_parse_orig(k->mv_data, k->mv_size, &e.bucket_s, &e.orig) < 0 ||
	    agg_orig_decode(d->mv_data, d->mv_size, &e.rec) < 0)
		return bad_row(s, "orig", k);
	if (e.bucket_s >= a->to_s)
		return 1;
	return ((store_orig_cb)a->cb)(a->ctx, &e);
}

int store_orig_walk(struct store *s, uint64_t from_s, uint64_t to_s, store_orig_cb cb, void *ctx)
{
	struct cb_arg a = { .cb = (void *)cb, .ctx = ctx, .to_s = to_s };
	uint8_t start[8];

	wire_put_u64(start, from_s);
	return walk(s, STORE_DB_ORIG, start, sizeof start, row_orig, &a);
}

/* Walk the rows of @dbi whose key is (bucket, @prefix, ...) for buckets in
 * the range, calling @row for each.  One cursor; two seeks per bucket. */
static int prefix_walk(struct store *s, enum store_db db, const uint8_t *prefix, size_t plen,
		       uint64_t from_s, uint64_t to_s, row_fn row, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c;
	int rc = reader_begin(s, &txn);
	if (rc < 0)
		return rc;
	if ((rc = bsc_err_mdb(mdb_cursor_open(txn, s->dbi[db], &c))) < 0)
		goto out;
	uint64_t b = from_s;
	for (;;) {
		MDB_val k, d;
		rc = seek_bucket(c, &b, to_s, prefix, plen, &k, &d);
		if (rc == BSC_ENOENT) {
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		int mrc = 0;
		while (mrc == 0 && has_prefix(&k, b, prefix, plen)) {
			rc = row(s, &k, &d, arg);
			if (rc)
				goto done;
			mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
		}
		if (mrc && mrc != MDB_NOTFOUND) {
			rc = bsc_err_mdb(mrc);
			break;
		}
		if (mrc == MDB_NOTFOUND || b == UINT64_MAX)
			break;
		b++;
	}
done:
	if (rc > 0)
		rc = 0;
	mdb_cursor_close(c);
out:
	reader_end(s, txn);
	return rc;
}

static int row_origq(struct store *s, const MDB_val *k, const MDB_val *d, void *arg)
{
	const struct cb_arg *a = arg;
	struct store_origq_entry e;

	if (store_key_parse_origq(k->mv_data, k->mv_size, &e.bucket_s, &e.orig, &e.querier) < 0 ||
	    agg_origq_decode(d->mv_data, d->mv_size, e.bucket_s, &e.rec) < 0)
		return bad_row(s, "origq", k);
	return ((store_origq_cb)a->cb)(a->ctx, &e);
}

int store_orig_buckets(struct store *s, const struct bsc_addr *orig, uint64_t from_s,
		       uint64_t to_s, store_orig_cb cb, void *ctx)
{
	uint8_t prefix[17];
	size_t plen = store_key_addr(prefix, orig);
	struct cb_arg a = { .cb = (void *)cb, .ctx = ctx, .to_s = to_s };

	if (!plen)
		return BSC_EINVAL;
	/* The orig key ends after the address: the prefix is the whole rest. */
	return prefix_walk(s, STORE_DB_ORIG, prefix, plen, from_s, to_s, row_orig, &a);
}

int store_origq_walk(struct store *s, const struct bsc_addr *orig, uint64_t from_s,
		     uint64_t to_s, store_origq_cb cb, void *ctx)
{
	uint8_t prefix[17];
	size_t plen = store_key_addr(prefix, orig);
	struct cb_arg a = { .cb = (void *)cb, .ctx = ctx, .to_s = to_s };

	if (!plen)
		return BSC_EINVAL;
	return prefix_walk(s, STORE_DB_ORIGQ, prefix, plen, from_s, to_s, row_origq, &a);
}

static int row_bucket(struct store *s, const MDB_val *k, const MDB_val *d, void *arg)
{
	const struct cb_arg *a = arg;
	struct store_bucket_entry e;

	if (!key_starts(k, META_BUCKET_PREFIX, META_BUCKET_PLEN))
		return 1;
	if (k->mv_size != META_BUCKET_PLEN + 8)
		return bad_row(s, "meta", k);
	e.bucket_s = wire_get_u64((const uint8_t *)k->mv_data + META_BUCKET_PLEN);
	if (e.bucket_s >= a->to_s)
		return 1;
	if (agg_bucket_decode(d->mv_data, d->mv_size, &e.rec) < 0)
		return bad_row(s, "meta", k);
	return ((store_bucket_cb)a->cb)(a->ctx, &e);
}

int store_bucket_walk(struct store *s, uint64_t from_s, uint64_t to_s, store_bucket_cb cb,
		      void *ctx)
{
	struct cb_arg a = { .cb = (void *)cb, .ctx = ctx, .to_s = to_s };
	uint8_t start[META_BUCKET_PLEN + 8];

	memcpy(start, META_BUCKET_PREFIX, META_BUCKET_PLEN);
	wire_put_u64(start + META_BUCKET_PLEN, from_s);
	return walk(s, STORE_DB_META, start, sizeof start, row_bucket, &a);
}

/* ---------------------------------------------------------------------------
 * K-way merge over buckets: one cursor per bucket of the range (optionally
 * only the rows after a key prefix), yielding rows in the order of their key
 * suffix (after the bucket), so that equal suffixes from different buckets
 * come together.  Memory O(buckets).
 * ------------------------------------------------------------------------- */

struct msrc {
	MDB_cursor *c;
	MDB_val k, d;
	uint64_t bucket;
};

struct merger {
	struct msrc *src;
	size_t n, cap;
	size_t *heap; /* indexes into src, min suffix on top */
	size_t nheap;
	uint8_t prefix[17];
	size_t plen;
};

static int msrc_cmp(const struct msrc *a, const struct msrc *b)
{
	int c = key_cmp(key_rest(&a->k), a->k.mv_size - 8, key_rest(&b->k), b->k.mv_size - 8);
	if (c)
		return c;
	return a->bucket < b->bucket ? -1 : a->bucket > b->bucket;
}

static void heap_down(struct merger *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		if (l < m->nheap && msrc_cmp(&m->src[m->heap[l]], &m->src[m->heap[min]]) < 0)
			min = l;
		if (r < m->nheap && msrc_cmp(&m->src[m->heap[r]], &m->src[m->heap[min]]) < 0)
			min = r;
		if (min == i)
			return;
		size_t t = m->heap[i];
		m->heap[i] = m->heap[min];
		m->heap[min] = t;
		i = min;
	}
}

static void merger_close(struct merger *m)
{
	for (size_t i = 0; i < m->n; i++)
		mdb_cursor_close(m->src[i].c);
	mem_free(m->src);
	mem_free(m->heap);
	memset(m, 0, sizeof *m);
}

static int merger_open(struct merger *m, MDB_txn *txn, MDB_dbi dbi, uint64_t from_s,
		       uint64_t to_s, const uint8_t *prefix, size_t plen)
{
	int rc = 0;
	uint64_t b = from_s;

	memset(m, 0, sizeof *m);
	if (plen)
		memcpy(m->prefix, prefix, plen);
	m->plen = plen;
	for (;;) {
		if (m->n == m->cap) {
			struct msrc *ns = mem_grow(m->src, &m->cap, sizeof *ns, 16);
			if (!ns) {
				rc = BSC_ENOMEM;
				break;
			}
			m->src = ns;
		}
		struct msrc *src = &m->src[m->n];
		memset(src, 0, sizeof *src);
		if ((rc = bsc_err_mdb(mdb_cursor_open(txn, dbi, &src->c))) < 0)
			break;
		rc = seek_bucket(src->c, &b, to_s, prefix, plen, &src->k, &src->d);
		if (rc < 0) {
			mdb_cursor_close(src->c);
			if (rc == BSC_ENOENT)
				rc = 0;
			break;
		}
		src->bucket = b;
		m->n++;
		if (b == UINT64_MAX)
			break;
		b++;
	}
	if (rc == 0) {
		m->heap = mem_alloc((m->n + 1) * sizeof *m->heap);
		if (!m->heap)
			rc = BSC_ENOMEM;
	}
	if (rc < 0) {
		merger_close(m);
		return rc;
	}
	for (size_t i = 0; i < m->n; i++)
		m->heap[i] = i;
	m->nheap = m->n;
	for (size_t i = m->nheap / 2; i-- > 0;)
		heap_down(m, i);
	return 0;
}

static struct msrc *merger_top(struct merger *m)
{
	return m->nheap ? &m->src[m->heap[0]] : NULL;
}

/* Move the top source to its next row (dropping it when its bucket or
 * prefix ends).  Returns 0 or an error. */
static int merger_next(struct merger *m)
{
	struct msrc *t = merger_top(m);
	int mrc = mdb_cursor_get(t->c, &t->k, &t->d, MDB_NEXT);

	if (mrc && mrc != MDB_NOTFOUND)
		return bsc_err_mdb(mrc);
	if (mrc == MDB_NOTFOUND || !has_prefix(&t->k, t->bucket, m->prefix, m->plen))
		m->heap[0] = m->heap[--m->nheap];
	heap_down(m, 0);
	return 0;
}

/* Ranking of store_top: more queriers, then more queries, then the lower
 * address. */
static int sum_better(const struct store_sum *a, const struct store_sum *b)
{
	if (a->queriers != b->queriers)
		return a->queriers > b->queriers ? 1 : -1;
	if (a->queries != b->queries)
		return a->queries > b->queries ? 1 : -1;
	return -addr_cmp(&a->addr, &b->addr);
}

/* Count the distinct queriers of originator @okey (family + address,
 * @olen bytes) on merger @mq, which is positioned at or before its rows. */
static int count_queriers(struct store *s, struct merger *mq, const uint8_t *okey, size_t olen,
			  uint64_t *n)
{
	uint8_t last[17];
	size_t last_len = 0;
	int rc;

	*n = 0;
	for (struct msrc *t = merger_top(mq); t; t = merger_top(mq)) {
		const uint8_t *r = key_rest(&t->k);
		size_t rl = t->k.mv_size - 8;
		int c = key_cmp(r, rl < olen ? rl : olen, okey, olen);
		if (c > 0)
			break;
		if (c == 0) {
			/* The querier must fill the rest of the key exactly:
			 * it is copied into last[] below. */
			struct bsc_addr qa;
			if (rl <= olen || store_key_parse_addr(r + olen, rl - olen, &qa) < 0)
				return bad_row(s, "origq", &t->k);
			const uint8_t *q = r + olen;
			size_t ql = rl - olen;
			if (ql != last_len || memcmp(q, last, ql) != 0) {
				(*n)++;
				memcpy(last, q, ql);
				last_len = ql;
			}
		}
		if ((rc = merger_next(mq)) < 0)
			return rc;
	}
	return 0;
}

/* Sum the orig rows of the originator at the top of @mo (all its buckets)
 * into @out, leaving @mo on the next originator. */
static int sum_orig(struct store *s, struct merger *mo, struct store_sum *out, uint8_t *okey,
		    size_t *olen)
{
	struct msrc *t = merger_top(mo);
	size_t rl = t->k.mv_size - 8;
	int rc;

	if (store_key_parse_addr(key_rest(&t->k), rl, &out->addr) < 0)
		return bad_row(s, "orig", &t->k);
	memcpy(okey, key_rest(&t->k), rl);
	*olen = rl;
	out->queries = out->queriers = out->nxdomain = 0;
	out->buckets = 0;
	while ((t = merger_top(mo)) && t->k.mv_size - 8 == *olen &&
	       memcmp(key_rest(&t->k), okey, *olen) == 0) {
		struct agg_orig_rec r;
		if (agg_orig_decode(t->d.mv_data, t->d.mv_size, &r) < 0)
			return bad_row(s, "orig", &t->k);
		if (!out->buckets || r.first_ns < out->first_ns)
			out->first_ns = r.first_ns;
		if (!out->buckets || r.last_ns > out->last_ns)
			out->last_ns = r.last_ns;
		out->queries += r.queries;
		out->nxdomain += r.nxdomain;
		out->queriers = r.queriers; /* exact when one bucket */
		out->buckets++;
		if ((rc = merger_next(mo)) < 0)
			return rc;
	}
	return 0;
}

/* Min-heap of the best @limit sums seen (worst on top). */
static void top_push(struct store_sum *h, size_t *n, size_t limit, const struct store_sum *e)
{
	size_t i;

	if (*n == limit) {
		if (sum_better(e, &h[0]) <= 0)
			return;
		i = 0;
		h[0] = *e;
		for (;;) {
			size_t l = 2 * i + 1, r = l + 1, w = i;
			if (l < *n && sum_better(&h[l], &h[w]) < 0)
				w = l;
			if (r < *n && sum_better(&h[r], &h[w]) < 0)
				w = r;
			if (w == i)
				return;
			struct store_sum t = h[i];
			h[i] = h[w];
			h[w] = t;
			i = w;
		}
	}
	i = (*n)++;
	h[i] = *e;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (sum_better(&h[i], &h[p]) >= 0)
			break;
		struct store_sum t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static int cmp_sum_desc(const void *a, const void *b)
{
	return -sum_better(a, b);
}

int store_top(struct store *s, uint64_t from_s, uint64_t to_s, size_t limit,
	      struct store_sum *out, size_t *n)
{
	struct merger mo, mq = { 0 };
	MDB_txn *txn;

	*n = 0;
	if (limit == 0)
		return 0;
	int rc = reader_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = merger_open(&mo, txn, s->dbi[STORE_DB_ORIG], from_s, to_s, NULL, 0);
	if (rc < 0)
		goto out;
	/* One bucket: its orig rows hold the exact distinct count.  Several:
	 * the union comes from the origq keys, merged in the same order. */
	bool multi = mo.n > 1;
	if (multi) {
		rc = merger_open(&mq, txn, s->dbi[STORE_DB_ORIGQ], from_s, to_s, NULL, 0);
		if (rc < 0)
			goto close;
	}
	while (merger_top(&mo)) {
		struct store_sum e;
		uint8_t okey[17];
		size_t olen;
		if ((rc = sum_orig(s, &mo, &e, okey, &olen)) < 0)
			goto close;
		if (multi && (rc = count_queriers(s, &mq, okey, olen, &e.queriers)) < 0)
			goto close;
		top_push(out, n, limit, &e);
	}
	qsort(out, *n, sizeof *out, cmp_sum_desc);
close:
	merger_close(&mo);
	merger_close(&mq);
out:
	reader_end(s, txn);
	return rc;
}

int store_count_originators(struct store *s, uint64_t from_s, uint64_t to_s, uint64_t *n)
{
	struct merger mo;
	MDB_txn *txn;

	*n = 0;
	int rc = reader_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = merger_open(&mo, txn, s->dbi[STORE_DB_ORIG], from_s, to_s, NULL, 0);
	if (rc < 0)
		goto out;
	uint8_t last[17];
	size_t last_len = 0;
	for (struct msrc *t = merger_top(&mo); t; t = merger_top(&mo)) {
		size_t rl = t->k.mv_size - 8;
		if (rl > sizeof last) {
			rc = bad_row(s, "orig", &t->k);
			break;
		}
		if (rl != last_len || memcmp(key_rest(&t->k), last, rl) != 0) {
			(*n)++;
			memcpy(last, key_rest(&t->k), rl);
			last_len = rl;
		}
		if ((rc = merger_next(&mo)) < 0)
			break;
	}
	merger_close(&mo);
out:
	reader_end(s, txn);
	return rc;
}

int store_orig_summary(struct store *s, const struct bsc_addr *orig, uint64_t from_s,
		       uint64_t to_s, struct store_sum *out)
{
	uint8_t prefix[17];
	size_t plen = store_key_addr(prefix, orig);
	struct merger mo, mq = { 0 };
	MDB_txn *txn;

	if (!plen)
		return BSC_EINVAL;
	int rc = reader_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = merger_open(&mo, txn, s->dbi[STORE_DB_ORIG], from_s, to_s, prefix, plen);
	if (rc < 0)
		goto out;
	if (!merger_top(&mo)) {
		rc = BSC_ENOENT;
		goto close;
	}
	uint8_t okey[17];
	size_t olen;
	if ((rc = sum_orig(s, &mo, out, okey, &olen)) < 0)
		goto close;
	if (out->buckets > 1) {
		rc = merger_open(&mq, txn, s->dbi[STORE_DB_ORIGQ], from_s, to_s, prefix, plen);
		if (rc == 0)
			rc = count_queriers(s, &mq, okey, olen, &out->queriers);
	}
close:
	merger_close(&mo);
	merger_close(&mq);
out:
	reader_end(s, txn);
	return rc;
}

int store_orig_queriers(struct store *s, const struct bsc_addr *orig, uint64_t from_s,
			uint64_t to_s, store_sum_cb cb, void *ctx)
{
	uint8_t prefix[17];
	size_t plen = store_key_addr(prefix, orig);
	struct merger mq;
	MDB_txn *txn;

	if (!plen)
		return BSC_EINVAL;
	int rc = reader_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = merger_open(&mq, txn, s->dbi[STORE_DB_ORIGQ], from_s, to_s, prefix, plen);
	if (rc < 0)
		goto out;
	struct msrc *t = merger_top(&mq);
	while (t) {
		struct store_sum e = { 0 };
		const uint8_t *q = key_rest(&t->k) + plen;
		size_t ql = t->k.mv_size - 8 - plen;
		uint8_t qkey[17];
		if (store_key_parse_addr(q, ql, &e.addr) < 0) {
			rc = bad_row(s, "origq", &t->k);
			break;
		}
		memcpy(qkey, q, ql);
		while (t && t->k.mv_size - 8 - plen == ql &&
		       memcmp(key_rest(&t->k) + plen, qkey, ql) == 0) {
			struct agg_origq_rec r;
			if (agg_origq_decode(t->d.mv_data, t->d.mv_size, t->bucket, &r) < 0) {
				rc = bad_row(s, "origq", &t->k);
				goto close;
			}
			if (!e.buckets || r.first_ns < e.first_ns)
				e.first_ns = r.first_ns;
			if (!e.buckets || r.last_ns > e.last_ns)
				e.last_ns = r.last_ns;
			e.queries += r.queries;
			e.buckets++;
			if ((rc = merger_next(&mq)) < 0)
				goto close;
			t = merger_top(&mq);
		}
		rc = cb(ctx, &e);
		if (rc) {
			rc = rc > 0 ? 0 : rc;
			break;
		}
	}
close:
	merger_close(&mq);
out:
	reader_end(s, txn);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Meta text values: type byte META_STR_TYPE, then the text (no NUL).
 * ------------------------------------------------------------------------- */

#define META_STR_TYPE 0x81
#define META_NAME_MAX 400

int store_meta_get_str(struct store *s, const char *name, char *buf, size_t len)
{
	MDB_txn *txn;
	size_t nlen = strlen(name);
	if (!nlen || nlen > META_NAME_MAX)
		return BSC_EINVAL;
	int rc = reader_begin(s, &txn);
	if (rc < 0)
		return rc;
	MDB_val k = { nlen, (void *)name }, d;
	rc = bsc_err_mdb(mdb_get(txn, s->dbi[STORE_DB_META], &k, &d));
	if (rc < 0)
		goto out;
	const uint8_t *p = d.mv_data;
	if (d.mv_size < 1 || p[0] != META_STR_TYPE) {
		rc = BSC_EMALF;
		goto out;
	}
	if (d.mv_size - 1 >= len) {
		rc = BSC_ENOSPC;
		goto out;
	}
	memcpy(buf, p + 1, d.mv_size - 1);
	buf[d.mv_size - 1] = '\0';
	rc = (int)(d.mv_size - 1);
out:
	reader_end(s, txn);
	return rc;
}

int store_meta_set_str(struct store *s, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);
	uint8_t buf[1 + STORE_META_STR_MAX];
	MDB_txn *txn;
	int rc = writable(s);

	if (rc < 0)
		return rc;
	if (!nlen || nlen > META_NAME_MAX)
		return BSC_EINVAL;
	if (vlen > STORE_META_STR_MAX)
		return BSC_ERANGE;
	buf[0] = META_STR_TYPE;
	memcpy(buf + 1, value, vlen);
	if ((rc = writer_begin(s, &txn)) < 0)
		return rc;
	MDB_val k = { nlen, (void *)name }, d = { 1 + vlen, buf };
	rc = bsc_err_mdb(mdb_put(txn, s->dbi[STORE_DB_META], &k, &d, 0));
	return writer_end(txn, rc);
}

static int row_meta_str(struct store *s, const MDB_val *k, const MDB_val *d, void *arg)
{
	const struct cb_arg *a = arg;
	char name[META_NAME_MAX + 1], value[STORE_META_STR_MAX + 1];
	const uint8_t *p = d->mv_data;

	(void)s;
	if (!key_starts(k, a->prefix, a->plen))
		return 1;
	if (k->mv_size > META_NAME_MAX || d->mv_size < 1 || p[0] != META_STR_TYPE ||
	    d->mv_size - 1 > STORE_META_STR_MAX)
		return 0; /* another kind of value */
	memcpy(name, k->mv_data, k->mv_size);
	name[k->mv_size] = '\0';
	memcpy(value, p + 1, d->mv_size - 1);
	value[d->mv_size - 1] = '\0';
	return ((store_meta_str_cb)a->cb)(a->ctx, name, value);
}

int store_meta_str_walk(struct store *s, const char *prefix, store_meta_str_cb cb, void *ctx)
{
	size_t plen = strlen(prefix);
	struct cb_arg a = { .cb = (void *)cb, .ctx = ctx, .prefix = prefix, .plen = plen };

	return walk(s, STORE_DB_META, prefix, plen, row_meta_str, &a);
}

/* ---------------------------------------------------------------------------
 * Darknet labels
 * ------------------------------------------------------------------------- */

void store_label_encode(const struct store_label *l, uint8_t *buf)
{
	buf[0] = STORE_LABEL_VERSION;
	buf[1] = l->cls;
	buf[2] = l->size;
	buf[3] = l->protocol;
	buf[4] = l->tool;
	buf[5] = l->service;
	buf[6] = l->nports;
	buf[7] = 0;
	for (unsigned i = 0; i < STORE_LABEL_PORTS; i++)
		wire_put_u16(buf + 8 + 2 * i, i < l->nports ? l->ports[i] : 0);
	wire_put_u64(buf + 16, l->packets);
	wire_put_u64(buf + 24, l->destinations);
	wire_put_u64(buf + 32, l->window_start_s);
	wire_put_u32(buf + 40, l->window_len_s);
}

int store_label_decode(const uint8_t *v, size_t n, struct store_label *l)
{
	if (n < 1)
		return BSC_EMALF;
	if (v[0] != STORE_LABEL_VERSION)
		return BSC_ESCHEMA;
	if (n != STORE_LABEL_LEN || v[6] > STORE_LABEL_PORTS)
		return BSC_EMALF;
	l->cls = v[1];
	l->size = v[2];
	l->protocol = v[3];
	l->tool = v[4];
	l->service = v[5];
	l->nports = v[6];
	for (unsigned i = 0; i < STORE_LABEL_PORTS; i++)
		l->ports[i] = wire_get_u16(v + 8 + 2 * i);
	l->packets = wire_get_u64(v + 16);
	l->destinations = wire_get_u64(v + 24);
	l->window_start_s = wire_get_u64(v + 32);
	l->window_len_s = wire_get_u32(v + 40);
	return 0;
}

int store_label_put(struct store *s, const struct store_label *l, size_t n)
{
	uint8_t key[STORE_KEY_MAX], val[STORE_LABEL_LEN];
	MDB_txn *txn;
	int rc = writer_begin(s, &txn);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t klen = store_key_orig(key, l[i].bucket_s, &l[i].source);
		if (!klen || l[i].nports > STORE_LABEL_PORTS) {
			rc = BSC_EINVAL;
			break;
		}
		store_label_encode(&l[i], val);
		MDB_val k = { klen, key }, d = { sizeof val, val };
		rc = bsc_err_mdb(mdb_put(txn, s->dbi[STORE_DB_LABEL], &k, &d, 0));
	}
	return writer_end(txn, rc);
}

/* Undecodable keys and values are skipped. */
static int row_label(struct store *s, const MDB_val *k, const MDB_val *d, void *arg)
{
	const struct cb_arg *a = arg;
	struct store_label l;

	(void)s;
	memset(&l, 0, sizeof l);
	if (store_key_parse_orig(k->mv_data, k->mv_size, &l.bucket_s, &l.source) < 0)
		return 0;
	if (l.bucket_s >= a->to_s)
		return 1;
	if (store_label_decode(d->mv_data, d->mv_size, &l) < 0)
		return 0;
	return ((store_label_cb)a->cb)(a->ctx, &l);
}

int store_label_walk(struct store *s, uint64_t from_s, uint64_t to_s, store_label_cb cb,
		     void *ctx)
{
	struct cb_arg a = { .cb = (void *)cb, .ctx = ctx, .to_s = to_s };
	uint8_t start[8];

	wire_put_u64(start, from_s);
	return walk(s, STORE_DB_LABEL, start, sizeof start, row_label, &a);
}
