/* authd/server.c — struct authd: start-up, the main loop (signals, stats
 * timer, TCP, zone reload with acknowledged table swaps) and shutdown.
 * Main thread; the UDP workers run in their own threads (worker.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "authd/answer.h"
#include "authd/capture.h"
#include "authd/privs.h"
#include "authd/server.h"
#include "authd/stats.h"
#include "authd/tcp.h"
#include "authd/worker.h"
#include "authd/writer.h"
#include "authd/zone.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

#define AUTHD_RETIRED_MAX 16 /* tables waiting for the workers' acknowledgement */
#define AUTHD_BIND_TRIES 8   /* port 0: fresh ports tried when TCP finds it taken */

struct authd_retired {
	struct zone_table *zt;
	uint64_t gen; /* freed once every worker acknowledged this generation */
};

struct authd {
	const struct authd_conf *conf;
	const struct authd_flags *flags;
	uv_loop_t *loop;
	uv_signal_t sig[5];
	size_t nsig;
	uv_timer_t stats_timer;
	bool timer_open;
	uv_async_t ack;
	bool ack_open;
	struct privs privs;
	struct answer_conf ac;
	struct worker_shared sh;
	struct zone_table *zt;
	struct authd_retired retired[AUTHD_RETIRED_MAX];
	size_t nretired;
	struct worker *w[AUTHD_MAX_WORKERS];
	size_t nw;
	struct tcp_server *tcp;
	struct capture *cap;
	struct writer *wr; /* NULL when capture is off */
	struct bsc_sockaddr udp_bound[AUTHD_MAX_LISTEN];
	struct bsc_sockaddr tcp_bound[AUTHD_MAX_LISTEN];
	int *udp_fds; /* nw × nlisten, until handed to the workers */
	size_t nlisten;
	struct stats prev;
	uint64_t prev_ms;
	bool pidfile_written;
	bool serving; /* start-up completed */
	bool stopping;
};

static int zones_load(const struct authd_conf *c, uid_t run_uid, struct zone_table **out,
		      char *err, size_t errlen)
{
	struct zone_source *src = mem_calloc(c->n_zones, sizeof *src);
	if (!src) {
		snprintf(err, errlen, "out of memory");
		return BSC_ENOMEM;
	}
	for (size_t i = 0; i < c->n_zones; i++) {
		src[i].origin = c->zones[i].origin && c->zones[i].origin[0] ? c->zones[i].origin :
									       NULL;
		src[i].path = c->zones[i].file;
	}
	struct zone_load_opts opts = { .check_perms = c->check_zone_perms, .run_uid = run_uid };
	err[0] = '\0';
	int rc = zone_table_load(out, src, c->n_zones, &opts, err, errlen);
	if (rc && !err[0])
		snprintf(err, errlen, "%s", bsc_strerror(rc));
	mem_free(src);
	return rc;
}

/* -n: one line per zone on @out. */
static void zones_describe(const struct zone_table *zt, FILE *out)
{
	size_t n = zone_table_count(zt);
	for (size_t i = 0; i < n; i++) {
		struct zone_info zi;
		if (zone_table_info(zt, i, &zi))
			continue;
		fprintf(out, "zone %s serial %u, %zu records, %zu names, negative TTL %u, from %s\n",
			zi.origin, zi.serial, zi.records, zi.names, zi.neg_ttl,
			zi.path ? zi.path : "?");
	}
}

/* The TTLs recorded in the store: those of the zone with the most records
 * (the store keeps one pair; zones usually share them). */
static void zones_ttls(const struct zone_table *zt, uint32_t *ptr_ttl, uint32_t *neg_ttl)
{
	size_t best = 0;
	bool have = false;

	*ptr_ttl = 0;
	*neg_ttl = 0;
	for (size_t i = 0; i < zone_table_count(zt); i++) {
		struct zone_info zi;
		if (zone_table_info(zt, i, &zi))
			continue;
		if (have && zi.records <= best)
			continue;
		have = true;
		best = zi.records;
		*ptr_ttl = zi.ptr_ttl;
		*neg_ttl = zi.neg_ttl;
	}
}

/* The event-log folder: [capture] log_dir, or DB/events. */
static void capture_log_dir(const struct authd_conf *c, char *buf, size_t len)
{
	if (c->capture.log_dir && c->capture.log_dir[0])
		snprintf(buf, len, "%s", c->capture.log_dir);
	else
		snprintf(buf, len, "%s/events", c->db);
}

/* -n: what the capture would use; an existing store must accept the bucket
 * and bin lengths (it is opened read-only, never created). */
static int capture_check(const struct authd_conf *c)
{
	char logdir[4096];
	char data[4096];

	if (!c->capture.enabled) {
		printf("capture off: events are counted, not stored\n");
		return 0;
	}
	capture_log_dir(c, logdir, sizeof logdir);
	snprintf(data, sizeof data, "%s/data.mdb", c->db);
	if (access(data, F_OK) != 0) {
		printf("capture: store %s (created at start-up), event log %s\n", c->db,
		       c->capture.event_log ? logdir : "off");
		return 0;
	}
	struct store_opts so = {
		.readonly = true,
		.bucket_len = (uint32_t)(c->capture.bucket_ms / 1000),
		.bin_len = (uint32_t)(c->capture.bin_ms / 1000),
	};
	struct store *st = NULL;
	int rc = store_open(&st, c->db, &so);
	if (rc) {
		log_error("check failed: store %s: %s", c->db, bsc_strerror(rc));
		return rc;
	}
	printf("capture: store %s (schema %u, bucket %u s, bin %u s), event log %s\n", c->db,
	       STORE_SCHEMA_VERSION, store_bucket_len(st), store_bin_len(st),
	       c->capture.event_log ? logdir : "off");
	store_close(st);
	return 0;
}

int authd_check(const struct authd_conf *c)
{
	struct privs p;
	struct zone_table *zt = NULL;
	char err[512];

	int rc = privs_resolve(&p, c->user, true, err, sizeof err);
	if (rc) {
		log_error("config: %s", err);
		return rc;
	}
	rc = zones_load(c, p.uid, &zt, err, sizeof err);
	if (rc) {
		log_error("check failed: zones not loaded (%s)", bsc_strerror(rc));
		return rc;
	}
	zones_describe(zt, stdout);
	zone_table_free(zt);
	rc = capture_check(c);
	fflush(stdout);
	return rc;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void authd_stats_sum(struct authd *a, struct stats *sum)
{
	memset(sum, 0, sizeof *sum);
	for (size_t i = 0; i < a->nw; i++)
		stats_collect(worker_stats(a->w[i]), sum);
	if (a->tcp)
		stats_collect(tcp_server_stats(a->tcp), sum);
}

static void authd_stats_log(struct authd *a, int level, const char *what)
{
	struct stats sum;
	char line[1024];
	char cline[256];
	char wline[384] = "";
	uint64_t t = now_ms();

	authd_stats_sum(a, &sum);
	double secs = (double)(t - a->prev_ms) / 1000.0;
	stats_format(&sum, &a->prev, secs, line, sizeof line);
	a->prev = sum;
	a->prev_ms = t;
	struct capture_stats cs;
	capture_stats_get(a->cap, &cs);
	capture_stats_format(&cs, cline, sizeof cline);
	if (a->wr) {
		struct writer_stats ws;
		writer_stats_get(a->wr, &ws);
		wline[0] = ';';
		wline[1] = ' ';
		writer_stats_format(&ws, wline + 2, sizeof wline - 2);
	}
	LOG_AT(level, "%s: %s; capture: %s%s", what, line, cline, wline);
}

static void on_stats_timer(uv_timer_t *t)
{
	authd_stats_log(t->data, LOG_INFO, "stats");
}

/* Free every retired table that no worker can still be reading. */
static void authd_reap(struct authd *a)
{
	uint64_t min = UINT64_MAX;
	for (size_t i = 0; i < a->nw; i++) {
		uint64_t g = worker_acked(a->w[i]);
		if (g < min)
			min = g;
	}
	size_t keep = 0;
	for (size_t i = 0; i < a->nretired; i++) {
		if (a->retired[i].gen <= min) {
			zone_table_free(a->retired[i].zt);
			log_debug("reload: old zone table released (generation %llu)",
				  (unsigned long long)a->retired[i].gen);
		} else {
			a->retired[keep++] = a->retired[i];
		}
	}
	a->nretired = keep;
}

static void on_ack(uv_async_t *h)
{
	authd_reap(h->data);
}

static void authd_reload(struct authd *a)
{
	struct authd_conf nc;
	const struct authd_conf *zc = a->conf;
	struct zone_table *nzt = NULL;
	char err[512];
	bool have_nc = false;

	if (a->nretired >= AUTHD_RETIRED_MAX) {
		log_error("reload: %zu old tables still in use by a worker; not reloading",
			  a->nretired);
		return;
	}
	if (a->flags && a->flags->config) {
		int rc = authd_conf_build(&nc, a->flags, err, sizeof err);
		if (rc) {
			log_error("reload: config rejected, keeping the old zones: %s", err);
			return;
		}
		have_nc = true;
		zc = &nc;
	}
	int rc = zones_load(zc, a->privs.uid, &nzt, err, sizeof err);
	if (rc) {
		log_error("reload: zones rejected (%s), keeping the old ones", bsc_strerror(rc));
		goto out;
	}
	struct zone_table *old = a->zt;
	a->zt = nzt;
	uint64_t gen = worker_shared_publish(&a->sh, nzt);
	a->retired[a->nretired].zt = old;
	a->retired[a->nretired].gen = gen;
	a->nretired++;
	for (size_t i = 0; i < a->nw; i++)
		worker_kick(a->w[i]);
	log_notice("reload: %zu zone(s) loaded (generation %llu); only zones are reloaded, "
		   "other settings need a restart",
		   zone_table_count(nzt), (unsigned long long)gen);
	if (a->wr) {
		uint32_t ptr_ttl, neg_ttl;
		zones_ttls(nzt, &ptr_ttl, &neg_ttl);
		writer_set_ttls(a->wr, ptr_ttl, neg_ttl);
	}
	authd_reap(a);
out:
	if (have_nc)
		authd_conf_free(&nc);
}

static void authd_stop(struct authd *a)
{
	if (a->stopping)
		return;
	a->stopping = true;
	if (a->serving)
		log_notice("shutting down");
	for (size_t i = 0; i < a->nw; i++) {
		if (a->w[i])
			worker_stop(a->w[i]);
	}
	for (size_t i = 0; i < a->nw; i++) {
		if (a->w[i])
			worker_join(a->w[i]);
	}
	if (a->tcp)
		tcp_server_close(a->tcp);
	for (size_t i = 0; i < a->nsig; i++)
		uv_close((uv_handle_t *)&a->sig[i], NULL);
	if (a->timer_open)
		uv_close((uv_handle_t *)&a->stats_timer, NULL);
	if (a->ack_open)
		uv_close((uv_handle_t *)&a->ack, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct authd *a = h->data;
	switch (signum) {
	case SIGHUP:
		if (!a->stopping)
			authd_reload(a);
		break;
	case SIGUSR1:
		authd_stats_log(a, LOG_NOTICE, "stats");
		break;
	default:
		authd_stop(a);
		break;
	}
}

/* Bind listener @li for every worker (UDP) and TCP; with port 0 the first UDP
 * socket picks the port and TCP and the other workers follow it. */
static int authd_bind_one(struct authd *a, size_t li, int *tcp_fd)
{
	const struct bsc_sockaddr *want = &a->conf->listen.v[li];
	char name[SOCKADDR_STRLEN];
	int rc = 0;

	sockaddr_format(want, name, sizeof name);
	for (int attempt = 0;; attempt++) {
		int ufd = -1;
		rc = worker_socket_open(want, &ufd, &a->udp_bound[li]);
		if (rc) {
			log_error("listen %s: cannot bind UDP: %s", name, bsc_strerror(rc));
			return rc;
		}
		struct bsc_sockaddr taddr = a->udp_bound[li];
		rc = tcp_socket_open(&taddr, tcp_fd, &a->tcp_bound[li]);
		if (rc == -EADDRINUSE && sockaddr_port(want) == 0 &&
		    attempt + 1 < AUTHD_BIND_TRIES) {
			close(ufd);
			continue;
		}
		if (rc) {
			close(ufd);
			log_error("listen %s: cannot bind TCP: %s", name, bsc_strerror(rc));
			return rc;
		}
		a->udp_fds[li] = ufd;
		break;
	}
	for (size_t w = 1; w < a->nw; w++) {
		struct bsc_sockaddr b;
		rc = worker_socket_open(&a->udp_bound[li], &a->udp_fds[w * a->nlisten + li], &b);
		if (rc) {
			log_error("listen %s: cannot bind UDP for worker %zu: %s", name, w,
				  bsc_strerror(rc));
			return rc;
		}
	}
	return 0;
}

static int authd_bind(struct authd *a)
{
	a->udp_fds = mem_alloc(a->nw * a->nlisten * sizeof *a->udp_fds);
	if (!a->udp_fds)
		return BSC_ENOMEM;
	for (size_t i = 0; i < a->nw * a->nlisten; i++)
		a->udp_fds[i] = -1;
	for (size_t li = 0; li < a->nlisten; li++) {
		int tfd = -1;
		int rc = authd_bind_one(a, li, &tfd);
		if (rc)
			return rc;
		rc = tcp_server_listen(a->tcp, tfd);
		if (rc) {
			char name[SOCKADDR_STRLEN];
			sockaddr_format(&a->tcp_bound[li], name, sizeof name);
			log_error("listen %s: cannot listen on TCP: %s", name, bsc_strerror(rc));
			return rc;
		}
	}
	return 0;
}

static void authd_close_fds(struct authd *a)
{
	if (!a->udp_fds)
		return;
	for (size_t i = 0; i < a->nw * a->nlisten; i++) {
		if (a->udp_fds[i] >= 0)
			close(a->udp_fds[i]);
	}
	mem_free(a->udp_fds);
	a->udp_fds = NULL;
}

static int authd_pidfile(struct authd *a)
{
	const char *path = a->conf->pidfile;
	if (!path || !path[0])
		return 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int rc = bsc_err_sys(errno);
		log_error("pidfile %s: %s", path, bsc_strerror(rc));
		return rc;
	}
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	ssize_t w = write(fd, buf, (size_t)n);
	int rc = w == n ? 0 : bsc_err_sys(errno ? errno : EIO);
	close(fd);
	if (rc)
		log_error("pidfile %s: %s", path, bsc_strerror(rc));
	else
		a->pidfile_written = true;
	return rc;
}

static void authd_ready(struct authd *a, int fd)
{
	char line[64 + AUTHD_MAX_LISTEN * 2 * (SOCKADDR_STRLEN + 6)];
	size_t n = 0;

	n += (size_t)snprintf(line, sizeof line, "ready");
	for (size_t i = 0; i < a->nlisten; i++) {
		char u[SOCKADDR_STRLEN], t[SOCKADDR_STRLEN];
		sockaddr_format(&a->udp_bound[i], u, sizeof u);
		sockaddr_format(&a->tcp_bound[i], t, sizeof t);
		n += (size_t)snprintf(line + n, sizeof line - n, " udp=%s tcp=%s", u, t);
	}
	n += (size_t)snprintf(line + n, sizeof line - n, "\n");
	log_info("%.*s", (int)n - 1, line);
	if (fd < 0)
		return;
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warning("ready-fd %d: %s", fd, strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	close(fd);
}

static int authd_start_signals(struct authd *a)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		int rc = uv_signal_init(a->loop, &a->sig[a->nsig]);
		if (rc)
			return rc;
		a->sig[a->nsig].data = a;
		a->nsig++;
		rc = uv_signal_start(&a->sig[a->nsig - 1], on_signal, sigs[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int authd_run(const struct authd_conf *c, const struct authd_flags *f)
{
	struct authd *a = NULL;
	char err[512];
	bool final_stats = false;
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	a = mem_calloc(1, sizeof *a);
	if (!a) {
		log_error("out of memory");
		return BSC_ENOMEM;
	}
	a->conf = c;
	a->flags = f;
	a->nw = c->workers;
	a->nlisten = c->listen.n;
	a->loop = uv_default_loop();

	rc = privs_resolve(&a->privs, c->user, false, err, sizeof err);
	if (rc) {
		log_error("config: %s", err);
		goto out;
	}
	rc = zones_load(c, a->privs.uid, &a->zt, err, sizeof err);
	if (rc) {
		log_error("start-up failed: zones not loaded (%s)", bsc_strerror(rc));
		goto out;
	}

	a->ac.udp_max = (uint16_t)c->udp_max_payload;
	a->ac.nsid = c->nsid_len ? c->nsid_bin : NULL;
	a->ac.nsid_len = c->nsid_len;
	a->ac.version = c->version_eff;
	a->ac.identity = c->identity_eff;

	rc = uv_async_init(a->loop, &a->ack, on_ack);
	if (rc)
		goto out;
	a->ack.data = a;
	a->ack_open = true;
	worker_shared_init(&a->sh, a->zt, &a->ac, &a->ack);

	/* Capture: the store is opened read-write here, before the privilege
	 * drop; its folders and files are handed to the run user. */
	uid_t owner = a->privs.drop ? a->privs.uid : (uid_t)-1;
	if (c->capture.enabled) {
		rc = capture_open_rings(&a->cap, c->db, owner, a->privs.gid, a->nw + 1,
					(size_t)c->capture.ring_size);
		if (rc)
			goto out;
		char logdir[4096];
		capture_log_dir(c, logdir, sizeof logdir);
		struct writer_conf wc = {
			.db_dir = c->db,
			.event_log = c->capture.event_log,
			.log_dir = logdir,
			.segment_size = c->capture.segment_size,
			.segment_age_ms = c->capture.segment_age_ms,
			.log_sync = (enum evlog_sync)c->capture.log_sync,
			.bucket_len = (uint32_t)(c->capture.bucket_ms / 1000),
			.bin_len = (uint32_t)(c->capture.bin_ms / 1000),
			.flush_interval_ms = c->capture.flush_interval_ms,
			.memory_cap = c->capture.memory_cap,
			.map_size = c->capture.map_size,
			.map_max = c->capture.map_max,
			.sync = (enum store_sync)c->capture.sync,
			.owner_uid = owner,
			.owner_gid = a->privs.gid,
		};
		zones_ttls(a->zt, &wc.ptr_ttl, &wc.neg_ttl);
		rc = writer_open(&a->wr, &wc, a->cap);
		if (rc) {
			log_error("start-up failed: capture store not opened (%s)",
				  bsc_strerror(rc));
			goto out;
		}
	} else {
		rc = capture_open(&a->cap, NULL, owner, a->privs.gid, a->nw + 1);
		if (rc)
			goto out;
		log_info("capture off: events are counted, not stored");
	}
	struct tcp_conf tc = {
		.max_clients = (uint32_t)c->tcp_max_clients,
		.idle_ms = c->tcp_idle_timeout_ms,
		.max_pipeline = (uint32_t)c->tcp_max_pipeline,
	};
	rc = tcp_server_new(&a->tcp, a->loop, &tc, &a->sh, capture_worker_get(a->cap, a->nw));
	if (rc)
		goto out;
	rc = authd_bind(a);
	if (rc)
		goto out;
	rc = authd_pidfile(a);
	if (rc)
		goto out;
	rc = privs_drop(&a->privs, err, sizeof err);
	if (rc) {
		log_error("privileges: %s", err);
		goto out;
	}
	if (a->privs.drop)
		log_info("running as user %s (uid %u)", a->privs.user, (unsigned)a->privs.uid);
	if (a->wr) {
		rc = writer_start(a->wr);
		if (rc)
			goto out;
	}

	for (size_t i = 0; i < a->nw; i++) {
		rc = worker_new(&a->w[i], (unsigned)i, &a->sh, capture_worker_get(a->cap, i),
				&a->udp_fds[i * a->nlisten], a->nlisten);
		if (rc) {
			log_error("worker %zu: %s", i, bsc_strerror(rc));
			goto out;
		}
		for (size_t li = 0; li < a->nlisten; li++)
			a->udp_fds[i * a->nlisten + li] = -1; /* the worker owns them now */
	}
	/* Count workers only once they exist: a failure above frees what was made. */
	for (size_t i = 0; i < a->nw; i++) {
		rc = worker_start(a->w[i]);
		if (rc) {
			log_error("worker %zu: cannot start: %s", i, bsc_strerror(rc));
			goto out;
		}
	}
	rc = authd_start_signals(a);
	if (rc) {
		log_error("signals: %s", bsc_strerror(rc));
		goto out;
	}
	rc = uv_timer_init(a->loop, &a->stats_timer);
	if (rc)
		goto out;
	a->stats_timer.data = a;
	a->timer_open = true;
	if (c->stats_interval_ms)
		uv_timer_start(&a->stats_timer, on_stats_timer, c->stats_interval_ms,
			       c->stats_interval_ms);
	a->prev_ms = now_ms();
	log_notice("serving %zu zone(s) with %zu UDP worker(s)", zone_table_count(a->zt),
		   a->nw);
	a->serving = true;
	authd_ready(a, f ? f->ready_fd : -1);

	uv_run(a->loop, UV_RUN_DEFAULT);
	final_stats = true;
	rc = 0;
out:
	if (!a->stopping) {
		/* Start-up failed half-way: stop what was started. */
		authd_stop(a);
		uv_run(a->loop, UV_RUN_DEFAULT);
	}
	for (size_t i = 0; i < a->nw; i++) {
		if (!a->w[i])
			continue;
		int lrc = worker_join(a->w[i]);
		if (lrc)
			log_error("worker %zu: loop did not close cleanly: %s", i,
				  uv_strerror(lrc));
	}
	/* Every producer has stopped (the workers joined, the main loop with
	 * TCP ended): drain the rings, final flush; the final stats, read while
	 * the workers and the TCP server still exist, then count every event
	 * flushed. */
	int wrc = writer_stop(a->wr);
	if (wrc && !rc)
		rc = wrc;
	if (final_stats)
		authd_stats_log(a, LOG_NOTICE, "final stats");
	for (size_t i = 0; i < a->nw; i++)
		worker_free(a->w[i]);
	authd_close_fds(a);
	tcp_server_free(a->tcp);
	writer_close(a->wr);
	int crc = capture_close(a->cap);
	if (crc && !rc)
		rc = crc;
	for (size_t i = 0; i < a->nretired; i++)
		zone_table_free(a->retired[i].zt);
	zone_table_free(a->zt);
	int lrc = uv_loop_close(a->loop);
	if (lrc) {
		log_error("main loop did not close cleanly: %s", uv_strerror(lrc));
		uv_print_all_handles(a->loop, stderr);
	}
	if (a->pidfile_written && unlink(c->pidfile) != 0)
		log_debug("pidfile %s: %s", c->pidfile, strerror(errno));
	mem_free(a);
	return rc;
}
