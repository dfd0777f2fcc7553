/* authd/writer.c — the store writer: thread "writer" drains the capture rings
 * into the event log and an aggregation table; thread "flusher" writes the
 * tables the writer hands over into LMDB (every store write happens there).
 * writer_open/start/set_ttls/close run on the main thread. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "authd/capture.h"
#include "authd/writer.h"
#include "common/agg.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

#define WRITER_POLL_MS 5        /* ring polling period when idle */
#define WRITER_CHUNK 1024       /* events per capture_peek */
#define WRITER_BUSY_PASS 1024   /* a pass draining this many runs again at once */
#define WRITER_TICK_NS (1000ull * NS_PER_MS)          /* evlog_tick, counters */
#define WRITER_BACKOFF_MIN_NS (1000ull * NS_PER_MS)   /* after a failed flush */
#define WRITER_BACKOFF_MAX_NS (60000ull * NS_PER_MS)
#define WRITER_LOG_EVERY_NS (60000ull * NS_PER_MS)    /* repeated errors: once a minute */

/* A repeated error is logged at once, then at most once a minute with the
 * number of repeats in between. */
struct ratelog {
	uint64_t last_ns;
	uint64_t repeats;
};

/* Published counters (relaxed: each written by one thread). */
struct writer_pub {
	_Atomic uint64_t drained, table_dropped;
	_Atomic uint64_t flushed, flushes, flush_failures, flush_lost, last_flush_ns;
	_Atomic uint64_t log_events, log_lost, log_segments;
};

struct writer {
	struct writer_conf conf;
	char *db_dir;
	char *log_dir;
	char writer_id[EVLOG_WRITER_ID_MAX + 1];
	struct capture *cap;
	struct store *store;          /* flusher's (main before start and after join) */
	struct evlog_writer *evl;     /* writer thread's */
	struct agg *tab[2];
	int cur;                      /* the table the writer fills */
	atomic_bool carry[2];         /* its last flush failed: it holds drops to write */
	pthread_t wthr, fthr;
	bool wthr_started, fthr_started;
	atomic_bool stop;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu. */
	int pending;          /* table handed over, not yet taken by the flusher; -1: none */
	bool busy;            /* the flusher holds a table */
	bool fstop;           /* the flusher exits once idle */
	uint64_t retry_at_ns; /* monotonic: no handover before (a flush failed) */
	bool ttl_pending;
	uint32_t ptr_ttl, neg_ttl;

	/* Writer thread. */
	uint64_t noted_ring_dropped;
	uint64_t next_flush_ns;
	uint64_t next_tick_ns;
	bool want_flush;
	struct ratelog log_err, agg_err, ring_err;
	uint64_t table_dropped;
	int close_rc;         /* closing the last segment failed */
	bool stopped;         /* writer_stop() ran; its result in stop_rc */
	int stop_rc;

	/* Flusher thread. */
	uint64_t backoff_ns;
	struct ratelog flush_err;
	int flush_rc;         /* last flush result */

	struct writer_pub pub;
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static inline void pub_add(_Atomic uint64_t *v, uint64_t n)
{
	uint64_t x = atomic_load_explicit(v, memory_order_relaxed);
	atomic_store_explicit(v, x + n, memory_order_relaxed);
}

static inline void pub_set(_Atomic uint64_t *v, uint64_t n)
{
	atomic_store_explicit(v, n, memory_order_relaxed);
}

/* True when the error should be logged now; *repeats then holds the number
 * of occurrences not logged since the last line. */
static bool ratelog_due(struct ratelog *r, uint64_t now, uint64_t *repeats)
{
	if (r->last_ns && now - r->last_ns < WRITER_LOG_EVERY_NS) {
		r->repeats++;
		return false;
	}
	*repeats = r->repeats;
	r->repeats = 0;
	r->last_ns = now ? now : 1;
	return true;
}

/* The store's files were created by the (privileged) opener: hand them to
 * the user the server runs as. */
static int store_files_chown(const char *dir, uid_t uid, gid_t gid)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
	char path[4096];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		int n = snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		if (n <= 0 || (size_t)n >= sizeof path)
			return BSC_EINVAL;
		if (chown(path, uid, gid) != 0) {
			int rc = bsc_err_sys(errno);
			log_error("capture: cannot hand %s to uid %u: %s", path, (unsigned)uid,
				  bsc_strerror(rc));
			return rc;
		}
	}
	return 0;
}

static void writer_free(struct writer *w)
{
	if (!w)
		return;
	agg_free(w->tab[0]);
	agg_free(w->tab[1]);
	store_close(w->store);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	mem_free(w->db_dir);
	mem_free(w->log_dir);
	mem_free(w);
}

int writer_open(struct writer **out, const struct writer_conf *wc, struct capture *cap)
{
	struct writer *w = NULL;
	int rc = 0;

	*out = NULL;
	if (!capture_has_rings(cap)) {
		log_error("capture: the writer needs capture rings");
		return BSC_EINVAL;
	}
	if (!bucket_lens_valid(wc->bucket_len, wc->bin_len)) {
		log_error("capture: bucket %u s and bin %u s: the bin must divide the bucket into "
			  "at most %u bins, the bucket at most %u s",
			  wc->bucket_len, wc->bin_len, BUCKET_BINS_MAX, BUCKET_LEN_MAX);
		return BSC_ECONF;
	}
	w = mem_calloc(1, sizeof *w);
	if (!w)
		return BSC_ENOMEM;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	atomic_init(&w->stop, false);
	atomic_init(&w->carry[0], false);
	atomic_init(&w->carry[1], false);
	w->pending = -1;
	w->conf = *wc;
	w->cap = cap;
	w->db_dir = mem_strdup(wc->db_dir);
	w->log_dir = wc->log_dir ? mem_strdup(wc->log_dir) : NULL;
	if (!w->db_dir || (wc->log_dir && !w->log_dir)) {
		rc = BSC_ENOMEM;
		goto out;
	}
	w->conf.db_dir = w->db_dir;
	w->conf.log_dir = w->log_dir;
	if (gethostname(w->writer_id, sizeof w->writer_id) != 0)
		snprintf(w->writer_id, sizeof w->writer_id, "backscope-authd");
	w->writer_id[sizeof w->writer_id - 1] = '\0';

	struct store_opts so = {
		.readonly = false,
		.sync = wc->sync,
		.map_size = wc->map_size,
		.map_max = wc->map_max,
		.bucket_len = wc->bucket_len,
		.bin_len = wc->bin_len,
	};
	rc = store_open(&w->store, w->db_dir, &so);
	if (rc) {
		log_error("capture: cannot open the store in %s: %s", w->db_dir, bsc_strerror(rc));
		goto out;
	}
	if (wc->owner_uid != (uid_t)-1) {
		rc = store_files_chown(w->db_dir, wc->owner_uid, wc->owner_gid);
		if (rc)
			goto out;
	}
	rc = store_set_ttls(w->store, wc->ptr_ttl, wc->neg_ttl);
	if (rc) {
		log_error("capture: store %s: cannot record the TTLs: %s", w->db_dir,
			  bsc_strerror(rc));
		goto out;
	}
	if (wc->event_log) {
		if (!w->log_dir || !w->log_dir[0]) {
			log_error("capture: event_log is on but no log folder is set");
			rc = BSC_ECONF;
			goto out;
		}
		rc = capture_dir_make(w->log_dir, wc->owner_uid, wc->owner_gid);
		if (rc) {
			log_error("capture: cannot create the event-log folder %s: %s", w->log_dir,
				  bsc_strerror(rc));
			goto out;
		}
	}
	uint64_t half = wc->memory_cap / 2;
	if (half < AGG_MEM_CAP_MIN)
		half = AGG_MEM_CAP_MIN;
	struct agg_opts ao = {
		.bucket_len = wc->bucket_len,
		.bin_len = wc->bin_len,
		.mem_cap = (size_t)half,
	};
	for (int i = 0; i < 2; i++) {
		rc = agg_new(&w->tab[i], &ao);
		if (rc) {
			log_error("capture: cannot create the aggregation table: %s",
				  bsc_strerror(rc));
			goto out;
		}
	}
	log_info("capture: store %s (bucket %u s, bin %u s, TTLs %u/%u s), event log %s, "
		 "flush every %llu ms, tables %llu MiB in all",
		 w->db_dir, store_bucket_len(w->store), store_bin_len(w->store), wc->ptr_ttl,
		 wc->neg_ttl, wc->event_log ? w->log_dir : "off",
		 (unsigned long long)wc->flush_interval_ms,
		 (unsigned long long)(2 * half >> 20));
	*out = w;
	w = NULL;
out:
	writer_free(w);
	return rc;
}

/* ---- flusher thread ---- */

static void flusher_flush(struct writer *w, int idx)
{
	struct agg *a = w->tab[idx];
	struct agg_flush_stats st;
	uint64_t t0 = mono_ns();
	int rc = agg_flush(a, w->store, &st);
	uint64_t now = mono_ns();
	uint64_t repeats = 0;

	/* A failed flush leaves its events counted as dropped in the table,
	 * written by the next flush of that table that succeeds. */
	atomic_store_explicit(&w->carry[idx], rc != 0, memory_order_relaxed);
	pthread_mutex_lock(&w->mu);
	w->busy = false;
	if (rc == 0) {
		w->retry_at_ns = 0;
	} else {
		w->backoff_ns = w->backoff_ns ? w->backoff_ns * 2 : WRITER_BACKOFF_MIN_NS;
		if (w->backoff_ns > WRITER_BACKOFF_MAX_NS)
			w->backoff_ns = WRITER_BACKOFF_MAX_NS;
		w->retry_at_ns = now + w->backoff_ns;
	}
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);

	if (rc == 0) {
		if (st.events == 0 && st.dropped == 0)
			return; /* an empty table: nothing was written */
		w->flush_rc = 0;
		pub_add(&w->pub.flushed, st.events);
		pub_add(&w->pub.flushes, 1);
		pub_set(&w->pub.last_flush_ns, wall_ns());
		if (w->backoff_ns) {
			log_notice("capture: store %s: flushes work again", w->db_dir);
			w->backoff_ns = 0;
			w->flush_err.last_ns = 0;
			w->flush_err.repeats = 0;
		}
		log_debug("capture: flushed %llu events (%llu pairs, %llu new; %llu originators; "
			  "%llu dropped noted) in %.1f ms",
			  (unsigned long long)st.events, (unsigned long long)st.pairs,
			  (unsigned long long)st.new_pairs, (unsigned long long)st.origs,
			  (unsigned long long)st.dropped, (double)(now - t0) / 1e6);
		return;
	}
	w->flush_rc = rc;
	pub_add(&w->pub.flush_failures, 1);
	pub_add(&w->pub.flush_lost, st.lost);
	if (ratelog_due(&w->flush_err, now, &repeats))
		log_error("capture: store %s: flush failed: %s; %llu events counted as dropped "
			  "(%llu more failed flushes in the last minute); the server keeps "
			  "answering, next attempt in %llu s",
			  w->db_dir, rc == BSC_ENOSPC ? "no space (disk or LMDB map full)" :
							bsc_strerror(rc),
			  (unsigned long long)st.lost, (unsigned long long)repeats,
			  (unsigned long long)(w->backoff_ns / NS_PER_S));
}

static void *flusher_main(void *arg)
{
	struct writer *w = arg;

	log_set_thread_name("flusher");
	pthread_setname_np(pthread_self(), "bsc-flusher");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (w->ttl_pending) {
			uint32_t p = w->ptr_ttl, n = w->neg_ttl;
			w->ttl_pending = false;
			pthread_mutex_unlock(&w->mu);
			int rc = store_set_ttls(w->store, p, n);
			if (rc)
				log_error("capture: store %s: cannot record the TTLs %u/%u: %s",
					  w->db_dir, p, n, bsc_strerror(rc));
			else
				log_info("capture: TTLs now PTR %u s, negative %u s", p, n);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->pending >= 0) {
			int idx = w->pending;
			w->pending = -1;
			pthread_mutex_unlock(&w->mu);
			flusher_flush(w, idx);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->fstop)
			break;
		pthread_cond_wait(&w->cv, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- writer thread ---- */

/* Hand the table being filled to the flusher and switch to the other one.
 * @wait: block while the flusher is busy with the other table (never during
 * a back-off after a failed flush, unless @final).  Returns true when handed
 * over. */
static bool writer_handover(struct writer *w, bool wait, bool final)
{
	struct agg *a = w->tab[w->cur];
	uint64_t ring = capture_dropped(w->cap);

	pthread_mutex_lock(&w->mu);
	for (;;) {
		bool backoff = !final && w->retry_at_ns && mono_ns() < w->retry_at_ns;
		if (!w->busy && !backoff)
			break;
		if (!wait || backoff) {
			pthread_mutex_unlock(&w->mu);
			return false;
		}
		pthread_cond_wait(&w->cv, &w->mu);
	}
	uint64_t new_drops = ring - w->noted_ring_dropped;
	if (new_drops) {
		agg_note_dropped(a, new_drops);
		w->noted_ring_dropped = ring;
	}
	w->pending = w->cur;
	w->busy = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	w->cur ^= 1;
	w->want_flush = false;
	w->next_flush_ns = mono_ns() + w->conf.flush_interval_ms * NS_PER_MS;
	uint64_t repeats = 0;
	if (new_drops && ratelog_due(&w->ring_err, mono_ns(), &repeats))
		log_warning("capture: %llu events dropped on full rings (%llu in all): the writer "
			    "did not keep up; they are counted in the store's dropped total "
			    "(raise ring_size, or leave the writer a core)",
			    (unsigned long long)new_drops, (unsigned long long)ring);
	return true;
}

/* Does the table being filled hold anything to write: events, drops from a
 * failed flush, or ring drops not yet noted? */
static bool writer_has_work(struct writer *w)
{
	return agg_events(w->tab[w->cur]) > 0 ||
	       atomic_load_explicit(&w->carry[w->cur], memory_order_relaxed) ||
	       capture_dropped(w->cap) != w->noted_ring_dropped;
}

static void writer_log_error(struct writer *w, int rc)
{
	uint64_t repeats = 0;
	if (ratelog_due(&w->log_err, mono_ns(), &repeats))
		log_error("capture: event log %s: write failed: %s (%llu more failures in the "
			  "last minute); the events are still aggregated",
			  evlog_writer_path(w->evl), bsc_strerror(rc), (unsigned long long)repeats);
}

static void writer_table_drop(struct writer *w, struct agg *a, int rc)
{
	uint64_t repeats = 0;
	agg_note_dropped(a, 1);
	w->table_dropped++;
	if (ratelog_due(&w->agg_err, mono_ns(), &repeats))
		log_error("capture: aggregation table full while the store cannot take it (%s): "
			  "events counted as dropped (%llu more in the last minute)",
			  bsc_strerror(rc), (unsigned long long)repeats);
}

/* Append @n events to the event log and add them to the table being filled,
 * a run at a time (agg_add_batch); counts are those of one agg_add each. */
static void writer_events(struct writer *w, const struct query_event *evs, size_t n)
{
	if (w->evl) {
		for (size_t k = 0; k < n; k++) {
			int rc = evlog_append(w->evl, &evs[k]);
			if (rc)
				writer_log_error(w, rc);
		}
	}
	while (n > 0) {
		size_t added = 0;
		int rc = agg_add_batch(w->tab[w->cur], evs, n, &added);
		evs += added;
		n -= added;
		if (rc == AGG_FULL) {
			w->want_flush = true;
			writer_handover(w, false, false);
			return;
		}
		if (rc >= 0)
			return;
		/* evs[0] not added: flush now (waiting for the flusher if it is
		 * busy), then add it to the other table. */
		if (writer_handover(w, true, false))
			rc = agg_add(w->tab[w->cur], evs);
		if (rc == AGG_FULL)
			w->want_flush = true;
		else if (rc < 0)
			writer_table_drop(w, w->tab[w->cur], rc);
		evs++;
		n--;
	}
}

/* One pass over every ring: at most one ring's worth of events from each. */
static size_t writer_drain(struct writer *w)
{
	size_t total = 0;
	size_t np = capture_producers(w->cap);

	for (size_t i = 0; i < np; i++) {
		size_t got = 0;
		for (;;) {
			const struct query_event *evs = NULL;
			size_t n = capture_peek(w->cap, i, &evs, WRITER_CHUNK);
			if (n == 0)
				break;
			writer_events(w, evs, n);
			capture_release(w->cap, i, n);
			got += n;
			if (got >= CAPTURE_RING_MAX)
				break;
		}
		total += got;
	}
	if (total)
		pub_add(&w->pub.drained, total);
	return total;
}

static void writer_publish_log(struct writer *w)
{
	pub_set(&w->pub.table_dropped, w->table_dropped);
	if (!w->evl)
		return;
	struct evlog_writer_stats es;
	evlog_writer_stats(w->evl, &es);
	pub_set(&w->pub.log_events, es.events);
	pub_set(&w->pub.log_lost, es.lost);
	pub_set(&w->pub.log_segments, es.segments);
}

static void writer_tick(struct writer *w)
{
	if (w->evl) {
		int rc = evlog_tick(w->evl, wall_ns());
		if (rc)
			writer_log_error(w, rc);
	}
	writer_publish_log(w);
}

static void writer_wait_idle(struct writer *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->busy)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

/* At stop, with every ring drained: flush whatever either table holds.  A
 * table whose flush fails keeps its events as dropped; one more round
 * writes that count (a few bytes), so even then nothing goes unrecorded
 * unless the store takes nothing at all.  Bounded: at most four flushes. */
static void writer_final(struct writer *w)
{
	for (int round = 0; round < 4; round++) {
		writer_wait_idle(w);
		if (!writer_has_work(w)) {
			w->cur ^= 1; /* both tables are idle: look at the other one */
			if (!writer_has_work(w))
				break;
		}
		writer_handover(w, true, true);
	}
	writer_wait_idle(w);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct pollfd pfd = { .fd = capture_wake_fd(w->cap), .events = POLLIN };

	log_set_thread_name("writer");
	pthread_setname_np(pthread_self(), "bsc-writer");
	uint64_t now = mono_ns();
	w->next_flush_ns = now + w->conf.flush_interval_ms * NS_PER_MS;
	w->next_tick_ns = now + WRITER_TICK_NS;
	for (;;) {
		/* Producers are stopped before stop is set: once it is seen, a
		 * pass that finds nothing means every ring is empty. */
		bool stopping = atomic_load_explicit(&w->stop, memory_order_acquire);
		capture_wake_ack(w->cap);
		size_t n = writer_drain(w);
		now = mono_ns();
		if (now >= w->next_tick_ns) {
			writer_tick(w);
			w->next_tick_ns = now + WRITER_TICK_NS;
		}
		if (w->want_flush || now >= w->next_flush_ns) {
			if (!writer_has_work(w) && !w->want_flush)
				w->next_flush_ns = now + w->conf.flush_interval_ms * NS_PER_MS;
			else
				writer_handover(w, false, false);
		}
		if (stopping && n == 0)
			break;
		if (n >= WRITER_BUSY_PASS)
			continue;
		int r = poll(&pfd, 1, WRITER_POLL_MS);
		(void)r; /* EINTR or a timeout: drain again either way */
	}

	writer_final(w);
	pthread_mutex_lock(&w->mu);
	w->fstop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);

	if (w->evl) {
		int rc = evlog_flush(w->evl);
		if (rc)
			writer_log_error(w, rc);
		writer_publish_log(w);
		rc = evlog_writer_close(w->evl, wall_ns());
		if (rc) {
			log_error("capture: event log %s: closing failed: %s", w->log_dir,
				  bsc_strerror(rc));
			w->close_rc = rc;
		}
		w->evl = NULL;
	}
	return NULL;
}

int writer_start(struct writer *w)
{
	int rc = 0;

	if (w->conf.event_log) {
		struct evlog_opts eo = {
			.dir = w->log_dir,
			.writer_id = w->writer_id,
			.max_bytes = w->conf.segment_size,
			.max_age_ns = w->conf.segment_age_ms * NS_PER_MS,
			.sync = w->conf.log_sync,
		};
		rc = evlog_writer_open(&w->evl, &eo, wall_ns());
		if (rc) {
			log_error("capture: cannot open an event-log segment in %s: %s", w->log_dir,
				  bsc_strerror(rc));
			return rc;
		}
		log_info("capture: event log segment %s", evlog_writer_path(w->evl));
	}
	/* The threads take no signals: main handles them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&w->fthr, NULL, flusher_main, w);
	if (rc == 0) {
		w->fthr_started = true;
		rc = -pthread_create(&w->wthr, NULL, writer_main, w);
		if (rc == 0)
			w->wthr_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		log_error("capture: cannot start the writer threads: %s", bsc_strerror(rc));
	return rc;
}

void writer_set_ttls(struct writer *w, uint32_t ptr_ttl, uint32_t neg_ttl)
{
	if (!w->fthr_started) {
		/* Not running: record them here, on the only thread there is. */
		int rc = store_set_ttls(w->store, ptr_ttl, neg_ttl);
		if (rc)
			log_error("capture: store %s: cannot record the TTLs: %s", w->db_dir,
				  bsc_strerror(rc));
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->ptr_ttl = ptr_ttl;
	w->neg_ttl = neg_ttl;
	w->ttl_pending = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void writer_stats_get(const struct writer *w, struct writer_stats *out)
{
	out->drained = atomic_load_explicit(&w->pub.drained, memory_order_relaxed);
	out->table_dropped = atomic_load_explicit(&w->pub.table_dropped, memory_order_relaxed);
	out->flushed = atomic_load_explicit(&w->pub.flushed, memory_order_relaxed);
	out->flushes = atomic_load_explicit(&w->pub.flushes, memory_order_relaxed);
	out->flush_failures = atomic_load_explicit(&w->pub.flush_failures, memory_order_relaxed);
	out->flush_lost = atomic_load_explicit(&w->pub.flush_lost, memory_order_relaxed);
	out->last_flush_ns = atomic_load_explicit(&w->pub.last_flush_ns, memory_order_relaxed);
	out->log_events = atomic_load_explicit(&w->pub.log_events, memory_order_relaxed);
	out->log_lost = atomic_load_explicit(&w->pub.log_lost, memory_order_relaxed);
	out->log_segments = atomic_load_explicit(&w->pub.log_segments, memory_order_relaxed);
}

size_t writer_stats_format(const struct writer_stats *s, char *buf, size_t len)
{
	char when[32] = "never";
	if (s->last_flush_ns) {
		time_t t = (time_t)(s->last_flush_ns / NS_PER_S);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	int n = snprintf(buf, len,
			 "store: %llu events flushed in %llu flushes, last flush %s, "
			 "%llu failed (%llu events lost), %llu not aggregated; "
			 "event log: %llu written, %llu lost, %llu segments",
			 (unsigned long long)s->flushed, (unsigned long long)s->flushes, when,
			 (unsigned long long)s->flush_failures, (unsigned long long)s->flush_lost,
			 (unsigned long long)s->table_dropped, (unsigned long long)s->log_events,
			 (unsigned long long)s->log_lost, (unsigned long long)s->log_segments);
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len ? len - 1 : 0;
}

int writer_stop(struct writer *w)
{
	if (!w)
		return 0;
	if (w->stopped)
		return w->stop_rc;
	int rc = 0;
	if (w->wthr_started) {
		atomic_store_explicit(&w->stop, true, memory_order_release);
		int fd = capture_wake_fd(w->cap);
		uint64_t one = 1;
		ssize_t r = write(fd, &one, sizeof one);
		(void)r; /* the writer polls on a timer anyway */
		pthread_join(w->wthr, NULL);
	}
	if (w->fthr_started) {
		pthread_mutex_lock(&w->mu);
		w->fstop = true;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->fthr, NULL);
		rc = w->flush_rc;
	}
	if (w->evl) { /* started but the threads never ran */
		int lrc = evlog_writer_close(w->evl, wall_ns());
		if (lrc)
			w->close_rc = lrc;
		w->evl = NULL;
	}
	if (!rc)
		rc = w->close_rc;
	w->stopped = true;
	w->stop_rc = rc;
	return rc;
}

int writer_close(struct writer *w)
{
	if (!w)
		return 0;
	int rc = writer_stop(w);
	struct writer_stats ws;
	writer_stats_get(w, &ws);
	uint64_t ring = capture_dropped(w->cap);
	if (w->wthr_started)
		log_info("capture: closed: %llu events flushed, %llu dropped (rings %llu, tables "
			 "%llu, failed flushes %llu), event log %llu written",
			 (unsigned long long)ws.flushed,
			 (unsigned long long)(ring + ws.table_dropped + ws.flush_lost),
			 (unsigned long long)ring, (unsigned long long)ws.table_dropped,
			 (unsigned long long)ws.flush_lost, (unsigned long long)ws.log_events);
	writer_free(w);
	return rc;
}
