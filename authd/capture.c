/* authd/capture.c — the capture hand-off point (in-memory counters for now).
 * capture_event()/capture_batch_end() run on each producer's own thread; the
 * rest on the main thread. */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "authd/capture.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

enum { CAPTURE_KINDS = 4 }; /* indexed by enum revname_kind */

/* One producer.  Written by its owner thread only (relaxed load + store, no
 * read-modify-write), read by main.  Padded to two cache lines so producers
 * never share a line.  The event ring of the store-backed capture goes here. */
struct capture_worker {
	_Atomic uint64_t kind[CAPTURE_KINDS];
	char pad[128 - CAPTURE_KINDS * sizeof(uint64_t)];
};

struct capture {
	size_t n;
	struct capture_worker *w; /* n producers */
};

static int mkdir_p(const char *path, uid_t uid, gid_t gid)
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

int capture_open(struct capture **out, const char *db_dir, uid_t owner_uid,
		 gid_t owner_gid, size_t n_producers)
{
	struct capture *c = NULL;
	int rc = 0;

	*out = NULL;
	if (db_dir && db_dir[0]) {
		rc = mkdir_p(db_dir, owner_uid, owner_gid);
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
	c->n = n_producers;
	c->w = mem_calloc(n_producers ? n_producers : 1, sizeof *c->w);
	if (!c->w) {
		rc = BSC_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_producers; i++) {
		for (int k = 0; k < CAPTURE_KINDS; k++)
			atomic_init(&c->w[i].kind[k], 0);
	}
	*out = c;
	c = NULL;
out:
	if (c) {
		mem_free(c->w);
		mem_free(c);
	}
	return rc;
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

void capture_event(struct capture_worker *cw, const struct query_event *ev)
{
	unsigned k = (unsigned)ev->orig.kind;
	if (k >= CAPTURE_KINDS)
		k = REVNAME_NONE;
	uint64_t v = atomic_load_explicit(&cw->kind[k], memory_order_relaxed);
	atomic_store_explicit(&cw->kind[k], v + 1, memory_order_relaxed);
}

void capture_batch_end(struct capture_worker *cw)
{
	(void)cw; /* nothing is buffered yet */
}

void capture_stats_get(const struct capture *c, struct capture_stats *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < c->n; i++) {
		out->full += atomic_load_explicit(&c->w[i].kind[REVNAME_FULL],
						  memory_order_relaxed);
		out->partial += atomic_load_explicit(&c->w[i].kind[REVNAME_PARTIAL],
						     memory_order_relaxed);
		out->classless += atomic_load_explicit(&c->w[i].kind[REVNAME_CLASSLESS],
						       memory_order_relaxed);
		out->other += atomic_load_explicit(&c->w[i].kind[REVNAME_NONE],
						   memory_order_relaxed);
	}
	out->events = out->full + out->partial + out->classless + out->other;
}

size_t capture_stats_format(const struct capture_stats *s, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "%llu events (full %llu, partial %llu, classless %llu, other %llu)",
			 (unsigned long long)s->events, (unsigned long long)s->full,
			 (unsigned long long)s->partial, (unsigned long long)s->classless,
			 (unsigned long long)s->other);
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len ? len - 1 : 0;
}

int capture_close(struct capture *c)
{
	if (!c)
		return 0;
	mem_free(c->w);
	mem_free(c);
	return 0;
}
