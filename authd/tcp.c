/* authd/tcp.c — DNS over TCP on one libuv loop (authd's main loop): accept
 * with a connection cap, read length-prefixed queries, answer each with
 * answer_build(), write with uv_write, pause reading when too many answers are
 * in flight, and close idle connections.  Runs on the loop's thread only. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "authd/answer.h"
#include "authd/capture.h"
#include "authd/config.h"
#include "authd/sock.h"
#include "authd/tcp.h"
#include "authd/worker.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/wire.h"

#define TCP_BACKLOG 128
#define TCP_RBUF_MIN 4096
#define TCP_RBUF_MAX (2 + 65535)

struct tcp_listener {
	struct tcp_server *ts;
	uv_tcp_t h;
};

struct tcp_conn {
	struct tcp_server *ts;
	struct tcp_conn *prev, *next;
	uv_tcp_t h;
	uv_timer_t idle;
	struct bsc_sockaddr peer;
	uint8_t *buf; /* received bytes not yet consumed */
	size_t len, cap;
	unsigned inflight; /* answers written but not completed */
	unsigned handles;  /* open libuv handles (stream, timer) */
	bool reading;
	bool closing;
};

struct tcp_write {
	uv_write_t req;
	struct tcp_conn *c;
	size_t len;
	uint8_t data[];
};

struct tcp_server {
	uv_loop_t *loop;
	struct tcp_conf conf;
	struct worker_shared *sh;
	struct capture_worker *cw;
	struct stats_cell cell;
	struct tcp_listener *lis[AUTHD_MAX_LISTEN];
	size_t nlis;
	struct tcp_conn *conns; /* open connections (a list, for closing all) */
	size_t nconns;
	size_t nhandles; /* listeners and connection handles not yet closed */
	bool closing;
	uint8_t tx[2 + ANSWER_BUF_MIN];
};

static void count(struct tcp_server *ts, enum stats_counter k, uint64_t n)
{
	uint64_t v = atomic_load_explicit(&ts->cell.v[k], memory_order_relaxed);
	atomic_store_explicit(&ts->cell.v[k], v + n, memory_order_relaxed);
}

int tcp_socket_open(const struct bsc_sockaddr *addr, int *out, struct bsc_sockaddr *bound)
{
	return sock_open(addr, SOCK_STREAM, out, bound);
}

int tcp_server_new(struct tcp_server **out, uv_loop_t *loop, const struct tcp_conf *tc,
		   struct worker_shared *sh, struct capture_worker *cw)
{
	struct tcp_server *ts = mem_calloc(1, sizeof *ts);

	*out = NULL;
	if (!ts)
		return BSC_ENOMEM;
	ts->loop = loop;
	ts->conf = *tc;
	if (ts->conf.max_pipeline == 0)
		ts->conf.max_pipeline = 1;
	ts->sh = sh;
	ts->cw = cw;
	for (size_t i = 0; i < STATS_COUNT; i++)
		atomic_init(&ts->cell.v[i], 0);
	*out = ts;
	return 0;
}

static void conn_maybe_free(struct tcp_conn *c)
{
	if (c->handles || c->inflight)
		return;
	mem_free(c->buf);
	mem_free(c);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;
	c->ts->nhandles--;
	c->handles--;
	conn_maybe_free(c);
}

static void conn_close(struct tcp_conn *c)
{
	struct tcp_server *ts = c->ts;

	if (c->closing)
		return;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		ts->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ts->nconns--;
	uv_timer_stop(&c->idle);
	uv_close((uv_handle_t *)&c->idle, on_conn_closed);
	uv_close((uv_handle_t *)&c->h, on_conn_closed);
}

static void on_idle(uv_timer_t *t)
{
	struct tcp_conn *c = t->data;
	if (c->inflight) {
		/* Answers still queued: the client is reading slowly, not idle. */
		uv_timer_start(&c->idle, on_idle, c->ts->conf.idle_ms, 0);
		return;
	}
	log_debug("tcp: closing idle connection");
	conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tcp_conn *c = h->data;
	size_t need = TCP_RBUF_MIN;

	(void)suggested;
	if (c->len >= 2)
		need = 2 + (size_t)wire_get_u16(c->buf);
	if (need < c->len + 512)
		need = c->len + 512;
	if (need > TCP_RBUF_MAX)
		need = TCP_RBUF_MAX;
	if (c->cap < need) {
		uint8_t *nb = mem_realloc(c->buf, need);
		if (nb) {
			c->buf = nb;
			c->cap = need;
		}
	}
	if (!c->buf || c->cap == c->len) {
		buf->base = NULL;
		buf->len = 0; /* libuv reports UV_ENOBUFS; the connection is closed */
		return;
	}
	buf->base = (char *)c->buf + c->len;
	buf->len = c->cap - c->len;
}

static void conn_process(struct tcp_conn *c);

static void on_write(uv_write_t *req, int status)
{
	struct tcp_write *wr = (struct tcp_write *)req;
	struct tcp_conn *c = wr->c;
	struct tcp_server *ts = c->ts;

	c->inflight--;
	if (status == 0)
		count(ts, STATS_REPLIES, 1);
	else
		count(ts, STATS_DROPPED, 1);
	mem_free(wr);
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	if (status < 0) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->idle, on_idle, ts->conf.idle_ms, 0);
	conn_process(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Answer every complete query in the buffer while the pipeline has room;
 * read more only when it has. */
static void conn_process(struct tcp_conn *c)
{
	struct tcp_server *ts = c->ts;
	size_t pos = 0;

	while (!c->closing && c->len - pos >= 2) {
		size_t qlen = wire_get_u16(c->buf + pos);
		if (c->len - pos < 2 + qlen)
			break;
		if (c->inflight >= ts->conf.max_pipeline)
			break;
		const uint8_t *q = c->buf + pos + 2;
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		count(ts, STATS_QUERIES, 1);
		count(ts, STATS_TCP, 1);
		pos += 2 + qlen;
		const struct zone_table *zt =
			atomic_load_explicit(&ts->sh->zt, memory_order_acquire);
		struct answer_info info;
		size_t len = answer_build(zt, ts->sh->ac, ANSWER_TCP, q, qlen, ts->tx + 2,
					 ANSWER_BUF_MIN, &info);
		if (info.malformed)
			count(ts, STATS_MALFORMED, 1);
		if (info.in_zone) {
			struct query_event ev;
			capture_event_fill(&ev,
					   (uint64_t)now.tv_sec * 1000000000u +
						   (uint64_t)now.tv_nsec,
					   &c->peer.u.sa, q, qlen, &info, true);
			capture_event(ts->cw, &ev);
			capture_batch_end(ts->cw);
			count(ts, STATS_EVENTS, 1);
		}
		if (len == 0 || len > 65535)
			continue;
		count(ts, STATS_RCODE0 + (info.rcode < STATS_RCODES ? info.rcode : STATS_RCODES - 1),
		      1);
		if (info.truncated)
			count(ts, STATS_TRUNCATED, 1);
		struct tcp_write *wr = mem_alloc(sizeof *wr + 2 + len);
		if (!wr) {
			count(ts, STATS_DROPPED, 1);
			continue;
		}
		wr->c = c;
		wr->len = 2 + len;
		wire_put_u16(wr->data, (uint16_t)len);
		memcpy(wr->data + 2, ts->tx + 2, len);
		uv_buf_t b = uv_buf_init((char *)wr->data, (unsigned)wr->len);
		int rc = uv_write(&wr->req, (uv_stream_t *)&c->h, &b, 1, on_write);
		if (rc) {
			mem_free(wr);
			count(ts, STATS_DROPPED, 1);
			conn_close(c);
			break;
		}
		c->inflight++;
	}
	if (pos) {
		memmove(c->buf, c->buf + pos, c->len - pos);
		c->len -= pos;
	}
	if (c->closing)
		return;
	bool full = c->inflight >= ts->conf.max_pipeline;
	if (full && c->reading) {
		uv_read_stop((uv_stream_t *)&c->h);
		c->reading = false;
	} else if (!full && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read) == 0)
			c->reading = true;
		else
			conn_close(c);
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_conn *c = s->data;

	(void)buf;
	if (nread < 0) {
		if (nread != UV_EOF)
			log_debug("tcp: read: %s", uv_strerror((int)nread));
		conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	c->len += (size_t)nread;
	uv_timer_start(&c->idle, on_idle, c->ts->conf.idle_ms, 0);
	conn_process(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct tcp_listener *l = server->data;
	struct tcp_server *ts = l->ts;

	if (status < 0) {
		log_warning("tcp: accept: %s", uv_strerror(status));
		return;
	}
	struct tcp_conn *c = mem_calloc(1, sizeof *c);
	if (!c) {
		log_warning("tcp: out of memory for a connection");
		return;
	}
	c->ts = ts;
	uv_tcp_init(ts->loop, &c->h);
	uv_timer_init(ts->loop, &c->idle);
	c->h.data = c;
	c->idle.data = c;
	c->handles = 2;
	ts->nhandles += 2;
	c->next = ts->conns;
	if (ts->conns)
		ts->conns->prev = c;
	ts->conns = c;
	ts->nconns++;
	if (uv_accept(server, (uv_stream_t *)&c->h) != 0) {
		conn_close(c);
		return;
	}
	if (ts->nconns > ts->conf.max_clients || ts->closing) {
		count(ts, STATS_TCP_REFUSED, 1);
		conn_close(c);
		return;
	}
	count(ts, STATS_TCP_CONNS, 1);
	int len = sizeof c->peer.u.ss;
	if (uv_tcp_getpeername(&c->h, &c->peer.u.sa, &len) == 0)
		c->peer.len = (socklen_t)len;
	uv_tcp_nodelay(&c->h, 1);
	uv_timer_start(&c->idle, on_idle, ts->conf.idle_ms, 0);
	conn_process(c); /* starts reading */
}

static void on_listener_closed(uv_handle_t *h)
{
	struct tcp_listener *l = h->data;
	l->ts->nhandles--;
	mem_free(l);
}

int tcp_server_listen(struct tcp_server *ts, int fd)
{
	int rc;

	if (ts->nlis >= AUTHD_MAX_LISTEN) {
		close(fd);
		return BSC_EINVAL;
	}
	struct tcp_listener *l = mem_calloc(1, sizeof *l);
	if (!l) {
		close(fd);
		return BSC_ENOMEM;
	}
	l->ts = ts;
	rc = uv_tcp_init(ts->loop, &l->h);
	if (rc) {
		mem_free(l);
		close(fd);
		return rc;
	}
	l->h.data = l;
	ts->lis[ts->nlis++] = l;
	ts->nhandles++;
	rc = uv_tcp_open(&l->h, fd);
	if (rc) {
		close(fd);
		return rc;
	}
	return uv_listen((uv_stream_t *)&l->h, TCP_BACKLOG, on_connection);
}

void tcp_server_close(struct tcp_server *ts)
{
	if (ts->closing)
		return;
	ts->closing = true;
	for (size_t i = 0; i < ts->nlis; i++)
		uv_close((uv_handle_t *)&ts->lis[i]->h, on_listener_closed);
	while (ts->conns)
		conn_close(ts->conns);
}

void tcp_server_free(struct tcp_server *ts)
{
	if (!ts)
		return;
	if (ts->nhandles)
		log_error("tcp: %zu handle(s) still open at release", ts->nhandles);
	mem_free(ts);
}

const struct stats_cell *tcp_server_stats(const struct tcp_server *ts)
{
	return &ts->cell;
}

size_t tcp_server_clients(const struct tcp_server *ts)
{
	return ts->nconns;
}
