/* authd/worker.c — a UDP worker: its own thread and uv_loop_t, one uv_poll_t
 * per socket, and the packet path (recvmmsg → answer_prepare/prefetch/build
 * over the batch → capture → sendmmsg).  The packet path allocates nothing,
 * takes no lock and makes one recvmmsg and one sendmmsg per batch
 * (clock_gettime, once per batch, is a vDSO call).
 * Runs on the worker's thread; creation and teardown on the main thread. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "authd/capture.h"
#include "authd/config.h"
#include "authd/sock.h"
#include "authd/worker.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

#define WORKER_BATCH 64
/* Datagrams larger than this are counted as malformed and not answered.
 * The stride keeps the 64 receive slots on different L1 sets. */
#define WORKER_RX_SIZE 4096
#define WORKER_RX_STRIDE (WORKER_RX_SIZE + 64)
/* Answers are packed one after another (64-byte aligned) into one transmit
 * area; each build is offered ANSWER_BUF_MIN bytes, and a UDP answer never
 * exceeds 4096 bytes (udp_max_payload), so this bound always holds. */
#define WORKER_TX_SLOT 4096
#define WORKER_TX_SIZE (WORKER_BATCH * WORKER_TX_SLOT + ANSWER_BUF_MIN + 64)
/* Batches per readable callback before the loop runs again (control
 * messages are looked at between rounds). */
#define WORKER_ROUNDS 16

union worker_ctl {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

union worker_peer {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct worker_sock {
	struct worker *w;
	uv_poll_t poll;
	int fd;
	int family;
	bool pktinfo; /* wildcard bind: reply from the query's destination address */
	bool open;    /* poll handle initialised */
};

struct worker {
	/* Hot: read on every batch. */
	const struct zone_table *zt;
	uint64_t gen;
	struct worker_shared *sh;
	struct capture_worker *cw;
	uint8_t *rx; /* WORKER_BATCH slots of WORKER_RX_STRIDE */
	uint8_t *tx; /* WORKER_TX_SIZE */
	struct mmsghdr rmsg[WORKER_BATCH];
	struct mmsghdr smsg[WORKER_BATCH];
	struct iovec riov[WORKER_BATCH];
	struct iovec siov[WORKER_BATCH];
	union worker_peer peer[WORKER_BATCH];
	union worker_ctl rctl[WORKER_BATCH];
	union worker_ctl sctl[WORKER_BATCH];
	struct answer_prep prep[WORKER_BATCH];
	unsigned rx_used; /* receive headers recvmmsg filled last time */
	bool rx_ctl;      /* they were set up for control data */
	struct stats_cell cell;

	/* Control. */
	_Atomic uint64_t acked;
	atomic_bool stop;
	unsigned id;
	char name[16];
	uv_loop_t loop;
	uv_async_t ctl;
	uv_thread_t thread;
	bool loop_open;
	bool ctl_open;
	bool started;
	bool joined;
	int loop_rc;
	size_t nsock;
	struct worker_sock sock[AUTHD_MAX_LISTEN];
};

void worker_shared_init(struct worker_shared *sh, const struct zone_table *zt,
			const struct answer_conf *ac, uv_async_t *ack)
{
	atomic_init(&sh->zt, zt);
	atomic_init(&sh->gen, 1);
	sh->ac = ac;
	sh->ack = ack;
}

uint64_t worker_shared_publish(struct worker_shared *sh, const struct zone_table *zt)
{
	/* Pointer first, then the generation: a reader that sees generation g
	 * loads a pointer at least as new as the one published with g. */
	atomic_store_explicit(&sh->zt, zt, memory_order_release);
	return atomic_fetch_add_explicit(&sh->gen, 1, memory_order_acq_rel) + 1;
}

int worker_socket_open(const struct bsc_sockaddr *addr, int *out, struct bsc_sockaddr *bound)
{
	return sock_open(addr, SOCK_DGRAM, out, bound);
}

/* Take a new table when main published one: once per batch, one load. */
static inline void worker_pickup(struct worker *w)
{
	uint64_t g = atomic_load_explicit(&w->sh->gen, memory_order_acquire);
	if (g == w->gen)
		return;
	w->zt = atomic_load_explicit(&w->sh->zt, memory_order_acquire);
	w->gen = g;
	atomic_store_explicit(&w->acked, g, memory_order_release);
	if (w->sh->ack)
		uv_async_send(w->sh->ack);
}

/* Control data of the reply: the query's destination address as source (and,
 * for v6, its interface).  Returns the length, 0 when the query had none. */
static size_t worker_reply_ctl(struct msghdr *rx, union worker_ctl *out)
{
	struct msghdr tmp = { .msg_control = out->buf, .msg_controllen = sizeof out->buf };
	struct cmsghdr *o = CMSG_FIRSTHDR(&tmp);

	for (struct cmsghdr *c = CMSG_FIRSTHDR(rx); c; c = CMSG_NXTHDR(rx, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo in;
			memcpy(&in, CMSG_DATA(c), sizeof in);
			struct in_pktinfo rep = { .ipi_ifindex = 0, .ipi_spec_dst = in.ipi_addr };
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof rep);
			memcpy(CMSG_DATA(o), &rep, sizeof rep);
			return CMSG_SPACE(sizeof rep);
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo in6;
			memcpy(&in6, CMSG_DATA(c), sizeof in6);
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof in6);
			memcpy(CMSG_DATA(o), &in6, sizeof in6);
			return CMSG_SPACE(sizeof in6);
		}
	}
	return 0;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One receive batch on @s: returns the number of datagrams received. */
static unsigned worker_batch(struct worker *w, struct worker_sock *s)
{
	struct stats d;

	worker_pickup(w);
	/* recvmmsg overwrites the lengths of what it filled: reset those (all
	 * of them when the socket changed between control data and none) */
	unsigned reset = s->pktinfo != w->rx_ctl ? WORKER_BATCH : w->rx_used;
	for (unsigned i = 0; i < reset; i++) {
		struct msghdr *h = &w->rmsg[i].msg_hdr;
		h->msg_namelen = sizeof w->peer[i];
		if (s->pktinfo) {
			h->msg_control = w->rctl[i].buf;
			h->msg_controllen = sizeof w->rctl[i].buf;
		} else {
			h->msg_control = NULL;
			h->msg_controllen = 0;
		}
	}
	w->rx_ctl = s->pktinfo;
	int n = recvmmsg(s->fd, w->rmsg, WORKER_BATCH, MSG_DONTWAIT, NULL);
	w->rx_used = n > 0 ? (unsigned)n : 0;
	if (n <= 0)
		return 0;

	memset(&d, 0, sizeof d);
	const struct zone_table *zt = w->zt;
	const struct answer_conf *ac = w->sh->ac;
	const uint64_t now = now_ns();
	size_t off = 0;
	unsigned m = 0;
	d.v[STATS_QUERIES] = (uint64_t)n;
	/* Two passes to get the zone lookups of the whole batch going (hash
	 * slots, then nodes) before the first answer waits for one. */
	for (unsigned i = 0; i < (unsigned)n; i++)
		answer_prepare(zt, w->rx + (size_t)i * WORKER_RX_STRIDE, w->rmsg[i].msg_len,
			       &w->prep[i]);
	for (unsigned i = 0; i < (unsigned)n; i++)
		answer_prefetch(zt, &w->prep[i]);
	for (unsigned i = 0; i < (unsigned)n; i++) {
		struct msghdr *h = &w->rmsg[i].msg_hdr;
		const uint8_t *q = w->rx + (size_t)i * WORKER_RX_STRIDE;
		const size_t qlen = w->rmsg[i].msg_len;
		if (h->msg_flags & MSG_TRUNC) {
			d.v[STATS_MALFORMED]++;
			continue;
		}
		struct answer_info info;
		uint8_t *out = w->tx + off;
		size_t len = answer_build_prepared(zt, ac, ANSWER_UDP, q, qlen, &w->prep[i], out,
						   ANSWER_BUF_MIN, &info);
		if (info.malformed)
			d.v[STATS_MALFORMED]++;
		if (info.in_zone) {
			struct query_event ev;
			capture_event_fill(&ev, now, &w->peer[i].sa, q, qlen, &info, false);
			capture_event(w->cw, &ev);
			d.v[STATS_EVENTS]++;
		}
		if (len == 0 || len > WORKER_TX_SLOT)
			continue;
		d.v[STATS_RCODE0 + (info.rcode < STATS_RCODES ? info.rcode : STATS_RCODES - 1)]++;
		if (info.truncated)
			d.v[STATS_TRUNCATED]++;
		struct msghdr *o = &w->smsg[m].msg_hdr;
		o->msg_name = &w->peer[i];
		o->msg_namelen = h->msg_namelen;
		w->siov[m].iov_base = out;
		w->siov[m].iov_len = len;
		if (s->pktinfo) {
			size_t cl = worker_reply_ctl(h, &w->sctl[m]);
			o->msg_control = cl ? w->sctl[m].buf : NULL;
			o->msg_controllen = cl;
		} else {
			o->msg_control = NULL;
			o->msg_controllen = 0;
		}
		off += (len + 63) & ~(size_t)63;
		m++;
	}

	unsigned sent = 0;
	while (sent < m) {
		int r = sendmmsg(s->fd, w->smsg + sent, m - sent, MSG_DONTWAIT);
		if (r > 0) {
			sent += (unsigned)r;
			d.v[STATS_REPLIES] += (uint64_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			d.v[STATS_DROPPED] += m - sent; /* never block: the client retries */
			break;
		}
		d.v[STATS_DROPPED]++; /* this datagram cannot be sent (bad peer); skip it */
		sent++;
	}
	capture_batch_end(w->cw);
	stats_publish(&w->cell, &d);
	return (unsigned)n;
}

static void worker_close_handles(struct worker *w)
{
	for (size_t i = 0; i < w->nsock; i++) {
		struct worker_sock *s = &w->sock[i];
		if (s->open && !uv_is_closing((uv_handle_t *)&s->poll)) {
			uv_poll_stop(&s->poll);
			uv_close((uv_handle_t *)&s->poll, NULL);
		}
	}
	if (w->ctl_open && !uv_is_closing((uv_handle_t *)&w->ctl))
		uv_close((uv_handle_t *)&w->ctl, NULL);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct worker_sock *s = h->data;
	struct worker *w = s->w;

	(void)events;
	if (status < 0) {
		log_warning("worker: poll error on socket %d: %s", s->fd, uv_strerror(status));
		return;
	}
	for (unsigned r = 0; r < WORKER_ROUNDS; r++) {
		if (atomic_load_explicit(&w->stop, memory_order_relaxed))
			return;
		/* A short batch means the socket queue is empty (or nearly): go
		 * back to the loop instead of paying for an EAGAIN. */
		if (worker_batch(w, s) < WORKER_BATCH)
			return;
	}
}

static void on_ctl(uv_async_t *a)
{
	struct worker *w = a->data;
	worker_pickup(w);
	if (atomic_load_explicit(&w->stop, memory_order_acquire))
		worker_close_handles(w);
}

static void worker_main(void *arg)
{
	struct worker *w = arg;

	log_set_thread_name(w->name);
	log_debug("worker: started with %zu socket(s)", w->nsock);
	/* The stop request may have come before the loop ran: on_ctl sees it. */
	uv_run(&w->loop, UV_RUN_DEFAULT);
	w->loop_rc = uv_loop_close(&w->loop);
	if (w->loop_rc)
		log_error("worker: loop did not close: %s", uv_strerror(w->loop_rc));
	w->loop_open = false;
}

int worker_new(struct worker **out, unsigned id, struct worker_shared *sh,
	       struct capture_worker *cw, const int *fds, size_t n)
{
	struct worker *w = NULL;
	int rc = 0;

	*out = NULL;
	if (n == 0 || n > AUTHD_MAX_LISTEN)
		return BSC_EINVAL;
	w = mem_calloc(1, sizeof *w);
	if (!w)
		return BSC_ENOMEM;
	w->id = id;
	snprintf(w->name, sizeof w->name, "udp%u", id);
	w->sh = sh;
	w->cw = cw;
	w->gen = atomic_load(&sh->gen);
	w->zt = atomic_load(&sh->zt);
	atomic_init(&w->acked, w->gen);
	atomic_init(&w->stop, false);
	for (size_t i = 0; i < STATS_COUNT; i++)
		atomic_init(&w->cell.v[i], 0);
	for (size_t i = 0; i < n; i++)
		w->sock[i].fd = -1;
	w->rx = mem_alloc((size_t)WORKER_BATCH * WORKER_RX_STRIDE);
	w->tx = mem_alloc(WORKER_TX_SIZE);
	if (!w->rx || !w->tx) {
		rc = BSC_ENOMEM;
		goto out;
	}
	w->rx_used = WORKER_BATCH; /* set every receive header up the first time */
	for (unsigned i = 0; i < WORKER_BATCH; i++) {
		w->riov[i].iov_base = w->rx + (size_t)i * WORKER_RX_STRIDE;
		w->riov[i].iov_len = WORKER_RX_SIZE;
		w->rmsg[i].msg_hdr.msg_name = &w->peer[i];
		w->rmsg[i].msg_hdr.msg_iov = &w->riov[i];
		w->rmsg[i].msg_hdr.msg_iovlen = 1;
		w->smsg[i].msg_hdr.msg_iov = &w->siov[i];
		w->smsg[i].msg_hdr.msg_iovlen = 1;
	}
	rc = uv_loop_init(&w->loop);
	if (rc)
		goto out;
	w->loop_open = true;
	rc = uv_async_init(&w->loop, &w->ctl, on_ctl);
	if (rc)
		goto out;
	w->ctl.data = w;
	w->ctl_open = true;
	for (size_t i = 0; i < n; i++) {
		struct worker_sock *s = &w->sock[i];
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		s->w = w;
		s->fd = fds[i];
		if (getsockname(fds[i], (struct sockaddr *)&ss, &sl) != 0) {
			rc = bsc_err_sys(errno);
			s->fd = -1;
			goto out;
		}
		s->family = ss.ss_family;
		int on = 0;
		socklen_t ol = sizeof on;
		if (s->family == AF_INET6)
			getsockopt(fds[i], IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, &ol);
		else
			getsockopt(fds[i], IPPROTO_IP, IP_PKTINFO, &on, &ol);
		s->pktinfo = on != 0;
		w->nsock = i + 1;
		rc = uv_poll_init(&w->loop, &s->poll, fds[i]);
		if (rc) {
			s->fd = -1;
			goto out;
		}
		s->open = true;
		s->poll.data = s;
		rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
		if (rc) {
			s->fd = -1;
			goto out;
		}
	}
	*out = w;
	w = NULL;
out:
	if (w) {
		/* The caller keeps the fds on failure. */
		for (size_t i = 0; i < w->nsock; i++)
			w->sock[i].fd = -1;
		worker_free(w);
	}
	return rc;
}

int worker_start(struct worker *w)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = uv_thread_create(&w->thread, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		w->started = true;
	return rc;
}

void worker_stop(struct worker *w)
{
	/* Only the first request wakes the worker: after it the control handle
	 * may already be closed. */
	if (!atomic_exchange_explicit(&w->stop, true, memory_order_acq_rel) && w->started)
		uv_async_send(&w->ctl);
}

void worker_kick(struct worker *w)
{
	if (w->started && !atomic_load_explicit(&w->stop, memory_order_acquire))
		uv_async_send(&w->ctl);
}

int worker_join(struct worker *w)
{
	if (!w->started || w->joined)
		return w->loop_rc;
	uv_thread_join(&w->thread);
	w->joined = true;
	return w->loop_rc;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->started && !w->joined) {
		worker_stop(w);
		worker_join(w);
	}
	if (w->loop_open) {
		/* Never started (or failed half-way): close here on this thread. */
		worker_close_handles(w);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		int rc = uv_loop_close(&w->loop);
		if (rc)
			log_error("worker: loop did not close: %s", uv_strerror(rc));
	}
	for (size_t i = 0; i < w->nsock; i++) {
		if (w->sock[i].fd >= 0)
			close(w->sock[i].fd);
	}
	mem_free(w->rx);
	mem_free(w->tx);
	mem_free(w);
}

const struct stats_cell *worker_stats(const struct worker *w)
{
	return &w->cell;
}

uint64_t worker_acked(const struct worker *w)
{
	return atomic_load_explicit(&w->acked, memory_order_acquire);
}
