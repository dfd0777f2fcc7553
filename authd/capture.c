/* authd/capture.c — the capture hand-off point: per-producer lock-free
 * single-producer single-consumer rings of query events.
 * capture_event()/capture_batch_end() run on each producer's own thread,
 * capture_peek()/capture_release()/capture_wake_ack() on the one consumer
 * (the writer thread), the rest on the main thread. */
#include <arpa/inet.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "authd/capture.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

enum { CAPTURE_KINDS = 4 }; /* indexed by enum revname_kind */

#define CACHE_LINE 64

/* One producer.  Indices are free-running u64 counters; slot = index & mask.
 *
 *   producer line(s)   tail (release-stored by the producer, acquired by the
 *                      consumer), the producer's cached view of head, its
 *                      constants and counters (read by main, relaxed)
 *   consumer line      head (release-stored by the consumer, acquired by the
 *                      producer only when its cached view says "full" or
 *                      "half full"), the consumer's copies of the constants
 *
 * The counters are written by the owner only (relaxed load + store, no
 * read-modify-write).  Without rings (capture_open) slots is NULL and the
 * events are only counted. */
struct capture_worker {
	alignas(CACHE_LINE) _Atomic uint64_t tail;
	uint64_t head_cache;
	struct query_event *slots;
	uint64_t mask;
	uint64_t half;
	struct capture *c;
	_Atomic uint64_t dropped;
	_Atomic uint64_t kind[CAPTURE_KINDS];

	alignas(CACHE_LINE) _Atomic uint64_t head;
	struct query_event *cslots;
	uint64_t cmask;
};

struct capture {
	size_t n;
	size_t ring; /* events per ring; 0: counting only */
	int efd;     /* eventfd: producers wake the consumer; -1 without rings */
	void *raw;   /* allocation holding w (aligned inside) */
	struct capture_worker *w; /* n producers */
	atomic_bool wake_sent; /* an eventfd write is pending (touched when a ring is half full) */
};

int capture_dir_make(const char *path, uid_t uid, gid_t gid)
{
	char buf[4096];
	int n = snprintf(buf, sizeof buf, "%s", path);
	if (n <= 0 || (size_t)n >= sizeof buf)
		return BSC_EINVAL;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return bsc_err_sys(errno);
		*p = '/';
	}
	if (mkdir(buf, 0750) != 0) {
		if (errno != EEXIST)
			return bsc_err_sys(errno);
		struct stat st;
		if (stat(buf, &st) != 0)
			return bsc_err_sys(errno);
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		return 0;
	}
	if (uid != (uid_t)-1 && chown(buf, uid, gid) != 0)
		return bsc_err_sys(errno);
	return 0;
}

static void capture_free(struct capture *c)
{
	if (!c)
		return;
	if (c->w) {
		for (size_t i = 0; i < c->n; i++)
			mem_free(c->w[i].slots);
	}
	if (c->efd >= 0)
		close(c->efd);
	mem_free(c->raw);
	mem_free(c);
}

int capture_open_rings(struct capture **out, const char *db_dir, uid_t owner_uid,
		       gid_t owner_gid, size_t n_producers, size_t ring_size)
{
	struct capture *c = NULL;
	int rc = 0;

	*out = NULL;
	if (ring_size && (ring_size < CAPTURE_RING_MIN || ring_size > CAPTURE_RING_MAX ||
			  (ring_size & (ring_size - 1)) != 0)) {
		log_error("capture: ring size %zu is not a power of two in [%u, %u]", ring_size,
			  CAPTURE_RING_MIN, CAPTURE_RING_MAX);
		return BSC_EINVAL;
	}
	if (db_dir && db_dir[0]) {
		rc = capture_dir_make(db_dir, owner_uid, owner_gid);
		if (rc) {
			log_error("capture: cannot create store folder %s: %s", db_dir,
				  bsc_strerror(rc));
			goto out;
		}
	}
	c = mem_calloc(1, sizeof *c);
	if (!c) {
		rc = BSC_ENOMEM;
		goto out;
	}
	c->efd = -1;
	c->n = n_producers;
	c->ring = ring_size;
	atomic_init(&c->wake_sent, false);
	size_t nw = n_producers ? n_producers : 1;
	c->raw = mem_calloc(1, nw * sizeof *c->w + CACHE_LINE);
	if (!c->raw) {
		rc = BSC_ENOMEM;
		goto out;
	}
	uintptr_t p = ((uintptr_t)c->raw + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1);
	c->w = (struct capture_worker *)p;
	for (size_t i = 0; i < n_producers; i++) {
		struct capture_worker *cw = &c->w[i];
		atomic_init(&cw->tail, 0);
		atomic_init(&cw->head, 0);
		atomic_init(&cw->dropped, 0);
		for (int k = 0; k < CAPTURE_KINDS; k++)
			atomic_init(&cw->kind[k], 0);
		cw->c = c;
		if (!ring_size)
			continue;
		/* calloc: large rings come zeroed from mmap and cost memory only
		 * as they fill. */
		cw->slots = mem_calloc(ring_size, sizeof *cw->slots);
		if (!cw->slots) {
			rc = BSC_ENOMEM;
			log_error("capture: cannot allocate %zu rings of %zu events", n_producers,
				  ring_size);
			goto out;
		}
		cw->mask = ring_size - 1;
		cw->half = ring_size / 2;
		cw->cslots = cw->slots;
		cw->cmask = cw->mask;
	}
	if (ring_size) {
		c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (c->efd < 0) {
			rc = bsc_err_sys(errno);
			log_error("capture: eventfd: %s", bsc_strerror(rc));
			goto out;
		}
	}
	*out = c;
	c = NULL;
out:
	capture_free(c);
	return rc;
}

int capture_open(struct capture **out, const char *db_dir, uid_t owner_uid,
		 gid_t owner_gid, size_t n_producers)
{
	return capture_open_rings(out, db_dir, owner_uid, owner_gid, n_producers, 0);
}

struct capture_worker *capture_worker_get(struct capture *c, size_t i)
{
	return i < c->n ? &c->w[i] : NULL;
}

void capture_event_fill(struct query_event *ev, uint64_t now_ns, const struct sockaddr *peer,
			const uint8_t *q, size_t qlen, const struct answer_info *info, bool tcp)
{
	ev->time_ns = now_ns;
	addr_from_sockaddr(&ev->querier, peer);
	if (peer->sa_family == AF_INET6)
		ev->querier_port = ntohs(((const struct sockaddr_in6 *)(const void *)peer)->sin6_port);
	else if (peer->sa_family == AF_INET)
		ev->querier_port = ntohs(((const struct sockaddr_in *)(const void *)peer)->sin_port);
	else
		ev->querier_port = 0;
	ev->qtype = info->qtype;
	ev->rcode = (uint8_t)(info->rcode > 255 ? 255 : info->rcode);
	ev->flags = (uint8_t)(info->flags | (tcp ? EVENT_TCP : 0));
	if (info->qname_len > 0 && (size_t)12 + info->qname_len <= qlen) {
		revname_parse_wire(q + 12, info->qname_len, &ev->orig);
	} else {
		memset(&ev->orig, 0, sizeof ev->orig);
		ev->orig.kind = REVNAME_NONE;
	}
	if (info->flags & EVENT_ECS)
		ev->ecs = info->ecs;
	else
		memset(&ev->ecs, 0, sizeof ev->ecs);
}

static inline void bump(_Atomic uint64_t *v)
{
	uint64_t x = atomic_load_explicit(v, memory_order_relaxed);
	atomic_store_explicit(v, x + 1, memory_order_relaxed);
}

void capture_event(struct capture_worker *cw, const struct query_event *ev)
{
	unsigned k = (unsigned)ev->orig.kind;
	if (k >= CAPTURE_KINDS)
		k = REVNAME_NONE;
	bump(&cw->kind[k]);
	if (!cw->slots)
		return;
	uint64_t t = atomic_load_explicit(&cw->tail, memory_order_relaxed);
	if (t - cw->head_cache > cw->mask) {
		/* Full by the cached view: look at the consumer's head. */
		cw->head_cache = atomic_load_explicit(&cw->head, memory_order_acquire);
		if (t - cw->head_cache > cw->mask) {
			bump(&cw->dropped);
			return;
		}
	}
	cw->slots[t & cw->mask] = *ev;
	atomic_store_explicit(&cw->tail, t + 1, memory_order_release);
}

void capture_batch_end(struct capture_worker *cw)
{
	if (!cw->slots)
		return;
	uint64_t t = atomic_load_explicit(&cw->tail, memory_order_relaxed);
	if (t - cw->head_cache < cw->half)
		return;
	cw->head_cache = atomic_load_explicit(&cw->head, memory_order_acquire);
	if (t - cw->head_cache < cw->half)
		return;
	struct capture *c = cw->c;
	if (atomic_load_explicit(&c->wake_sent, memory_order_relaxed) ||
	    atomic_exchange_explicit(&c->wake_sent, true, memory_order_acq_rel))
		return;
	uint64_t one = 1;
	ssize_t w = write(c->efd, &one, sizeof one);
	(void)w; /* EAGAIN: the counter is already non-zero, the consumer will wake */
}

void capture_stats_get(const struct capture *c, struct capture_stats *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < c->n; i++) {
		const struct capture_worker *cw = &c->w[i];
		out->full += atomic_load_explicit(&cw->kind[REVNAME_FULL], memory_order_relaxed);
		out->partial += atomic_load_explicit(&cw->kind[REVNAME_PARTIAL],
						     memory_order_relaxed);
		out->classless += atomic_load_explicit(&cw->kind[REVNAME_CLASSLESS],
						       memory_order_relaxed);
		out->other += atomic_load_explicit(&cw->kind[REVNAME_NONE], memory_order_relaxed);
		out->dropped += atomic_load_explicit(&cw->dropped, memory_order_relaxed);
	}
	out->events = out->full + out->partial + out->classless + out->other;
}

size_t capture_stats_format(const struct capture_stats *s, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "%llu events (full %llu, partial %llu, classless %llu, other %llu), "
			 "dropped %llu",
			 (unsigned long long)s->events, (unsigned long long)s->full,
			 (unsigned long long)s->partial, (unsigned long long)s->classless,
			 (unsigned long long)s->other, (unsigned long long)s->dropped);
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len ? len - 1 : 0;
}

int capture_close(struct capture *c)
{
	capture_free(c);
	return 0;
}

size_t capture_producers(const struct capture *c)
{
	return c->n;
}

bool capture_has_rings(const struct capture *c)
{
	return c->ring != 0;
}

int capture_wake_fd(const struct capture *c)
{
	return c->efd;
}

void capture_wake_ack(struct capture *c)
{
	if (c->efd < 0)
		return;
	uint64_t v;
	ssize_t r = read(c->efd, &v, sizeof v);
	(void)r; /* EAGAIN: nothing was pending */
	atomic_store_explicit(&c->wake_sent, false, memory_order_release);
}

size_t capture_peek(struct capture *c, size_t i, const struct query_event **evs, size_t max)
{
	struct capture_worker *cw = &c->w[i];
	if (!cw->cslots)
		return 0;
	uint64_t h = atomic_load_explicit(&cw->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&cw->tail, memory_order_acquire);
	uint64_t idx = h & cw->cmask;
	uint64_t n = t - h;
	uint64_t to_end = cw->cmask + 1 - idx;
	if (n > to_end)
		n = to_end;
	if (n > max)
		n = max;
	*evs = &cw->cslots[idx];
	return (size_t)n;
}

void capture_release(struct capture *c, size_t i, size_t n)
{
	struct capture_worker *cw = &c->w[i];
	uint64_t h = atomic_load_explicit(&cw->head, memory_order_relaxed);
	atomic_store_explicit(&cw->head, h + n, memory_order_release);
}

uint64_t capture_dropped(const struct capture *c)
{
	uint64_t d = 0;
	for (size_t i = 0; i < c->n; i++)
		d += atomic_load_explicit(&c->w[i].dropped, memory_order_relaxed);
	return d;
}
