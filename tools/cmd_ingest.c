/* tools/cmd_ingest.c — `backscope ingest pcap|dnstap|log`: query events out
 * of captures (tools/pcapdns.h), dnstap files (tools/dnstap.h) or event-log
 * segments (common/evlog.h), aggregated (common/agg.h) into the store opened
 * read-write, exactly as the live server does.  Each input file is
 * fingerprinted and recorded in the store's meta DB, so a second ingest of
 * the same file is refused unless --force.  Damage in a file is reported with
 * its offset; everything before it is kept.
 *
 * Main thread only; the one writer of the store while it runs (LMDB lets the
 * server's writer and this one take turns, one write transaction at a time). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/agg.h"
#include "common/bucket.h"
#include "common/err.h"
#include "common/evlog.h"
#include "common/mem.h"
#include "common/store.h"
#include "common/wire.h"
#include "tools/cmds.h"
#include "tools/dnstap.h"
#include "tools/pcapdns.h"
#include "tools/qfilter.h"
#include "tools/digest.h"

#define INGEST_QTYPE_PTR 12
#define FP_PART (1u << 20)          /* fingerprint: first and last MiB */
#define FP_PREFIX "ingest/"
#define PORTS_MAX 16
#define SKIP_MAX 32
#define EV_BATCH 256u               /* events read before they are aggregated */
#define PROGRESS_BATCHES 15u        /* look at the clock every 16 batches */
#define MAP_MAX (1ull << 40)        /* the map may grow to 1 TiB */
#define ERRMSG_LEN 1024

enum src_kind { SRC_PCAP, SRC_DNSTAP, SRC_LOG };
static const char *const kind_names[] = { "pcap", "dnstap", "log" };

enum file_state { FILE_OK, FILE_REFUSED, FILE_DAMAGED, FILE_FAILED };
static const char *const state_names[] = { "ok", "refused", "damaged", "error" };

/* A named counter of skipped input (by reason), summed over the files. */
struct named {
	const char *name;
	uint64_t v;
};

struct counts {
	uint64_t packets; /* pcap records, dnstap frames, log records */
	uint64_t queries; /* DNS queries read (log: events) */
	uint64_t responses;
	uint64_t events;  /* events handed to the aggregation */
	uint64_t ptr, partial, other_qtype, other_name, invalid;
	struct named skipped[SKIP_MAX];
	size_t nskipped;
};

struct file_result {
	char *path;
	enum file_state state;
	uint64_t packets, queries, events;
	uint64_t offset; /* of the damage; UINT64_MAX = none or unknown */
	char *message;   /* error or warning, or NULL */
};

struct ingest {
	struct cli_global g;
	enum src_kind kind;
	bool force, json;
	const char *write_log;
	uint32_t bucket_len, bin_len;
	uint64_t mem_cap;
	struct qfilter *filter;
	uint16_t ports[PORTS_MAX];
	size_t nports;
	struct store *s;
	struct agg *agg;
	struct evlog_writer *log;
	char log_path[PATH_MAX];    /* the last segment written (--write-log) */
	bool filtered;              /* --server or --zone given */
	struct cli_progress prog;
	struct counts tot;
	struct file_result *files;
	size_t nfiles, capfiles;
	size_t file_no, file_total; /* for the progress line */
	uint64_t start_ns;
	bool store_failed;          /* a flush failed: stop */
	int status;
};

/* ---------------------------------------------------------------------------
 * Counters
 * ------------------------------------------------------------------------- */

static void skip_add(struct counts *c, const char *name, uint64_t v)
{
	if (!v)
		return;
	for (size_t i = 0; i < c->nskipped; i++) {
		if (strcmp(c->skipped[i].name, name) == 0) {
			c->skipped[i].v += v;
			return;
		}
	}
	if (c->nskipped < SKIP_MAX)
		c->skipped[c->nskipped++] = (struct named){ name, v };
}

static void skip_dns(struct counts *c, const struct qfilter_stats *d)
{
	skip_add(c, "malformed DNS", d->malformed);
	skip_add(c, "other server", d->other_server);
	skip_add(c, "other zone", d->other_zone);
}

/* What the aggregation makes of an event (common/agg.c's rule, default
 * options), for the summary. */
static void classify(struct counts *c, const struct query_event *ev)
{
	const struct revname *rn = &ev->orig;
	unsigned full = rn->addr.family == AF_INET ? 32 : rn->addr.family == AF_INET6 ? 128 : 0;
	bool host = rn->kind == REVNAME_FULL ||
		    (rn->kind == REVNAME_CLASSLESS && full && rn->addr.prefix == full);

	if (rn->kind == REVNAME_NONE)
		c->other_name++;
	else if (!host)
		c->partial++;
	else if (ev->qtype != INGEST_QTYPE_PTR)
		c->other_qtype++;
	else if ((ev->querier.family != AF_INET && ev->querier.family != AF_INET6) || !full)
		c->invalid++;
	else
		c->ptr++;
}

/* ---------------------------------------------------------------------------
 * Fingerprints: SHA-256 over a tag, the size, the first and the last MiB
 * (the whole content for files up to 2 MiB).  Read before the file is.
 * ------------------------------------------------------------------------- */

static int fp_part(struct digest *h, int fd, uint64_t off, uint64_t len, uint8_t *buf)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? bsc_err_sys(errno) : BSC_ETRUNC;
		digest_update(h, buf, (size_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int fingerprint(int fd, uint64_t size, char *hex)
{
	static const char tag[] = "backscope ingest fingerprint 1";
	uint8_t sz[8], digest[DIGEST_LEN];
	uint8_t *buf = mem_alloc(FP_PART);
	struct digest h;
	int rc;

	if (!buf)
		return BSC_ENOMEM;
	digest_init(&h);
	digest_update(&h, tag, sizeof tag);
	wire_put_u64(sz, size);
	digest_update(&h, sz, sizeof sz);
	uint64_t head = size < FP_PART ? size : FP_PART;
	rc = fp_part(&h, fd, 0, head, buf);
	if (rc == 0 && size > FP_PART) {
		uint64_t tail_off = size - FP_PART > FP_PART ? size - FP_PART : FP_PART;
		rc = fp_part(&h, fd, tail_off, size - tail_off, buf);
	}
	mem_free(buf);
	if (rc)
		return rc;
	digest_final(&h, digest);
	digest_hex(digest, sizeof digest, hex);
	return 0;
}

/* The record kept under "ingest/<fingerprint>":
 *   state=started|complete|damaged time=NS size=N events=N offset=N file=PATH */
struct fp_record {
	char state[16];
	uint64_t time_ns, size, events, offset;
	const char *file;
};

static int fp_record_parse(char *text, struct fp_record *r)
{
	memset(r, 0, sizeof *r);
	r->offset = UINT64_MAX;
	char *file = strstr(text, " file=");
	if (!file)
		return BSC_EMALF;
	*file = '\0';
	r->file = file + 6;
	if (sscanf(text, "state=%15s time=%" SCNu64 " size=%" SCNu64 " events=%" SCNu64
			 " offset=%" SCNu64,
		   r->state, &r->time_ns, &r->size, &r->events, &r->offset) < 4)
		return BSC_EMALF;
	return 0;
}

static int fp_record_set(struct ingest *in, const char *key, const char *state, uint64_t size,
			 uint64_t events, uint64_t offset, const char *abspath)
{
	char val[STORE_META_STR_MAX + 1];

	snprintf(val, sizeof val,
		 "state=%s time=%" PRIu64 " size=%" PRIu64 " events=%" PRIu64 " offset=%" PRIu64
		 " file=%.1900s",
		 state, cli_now_wall_ns(), size, events, offset, abspath);
	int rc = store_meta_set_str(in->s, key, val);
	if (rc < 0)
		cli_error(&in->g, "store %s: cannot record the ingest of %s: %s",
			  store_path(in->s), abspath, bsc_strerror(rc));
	return rc;
}

/* ---------------------------------------------------------------------------
 * Aggregation
 * ------------------------------------------------------------------------- */

static int flush(struct ingest *in)
{
	struct agg_flush_stats st;

	if (!agg_events(in->agg))
		return 0;
	int rc = agg_flush(in->agg, in->s, &st);
	if (rc < 0) {
		cli_progress_clear(&in->prog);
		cli_error(&in->g, "store %s: writing the aggregates failed: %s%s",
			  store_path(in->s), bsc_strerror(rc),
			  st.lost ? " (the events of this batch are lost; counted as dropped)" : "");
		in->store_failed = true;
		in->status = CLI_EXIT_ERR;
	}
	return rc;
}

/* Count, log and aggregate @n events read from a file.  Returns 0 or BSC_E*
 * (reported; the ingest stops). */
static int add_events(struct ingest *in, const struct query_event *evs, size_t n,
		      struct counts *fc)
{
	bool retried = false;
	size_t off = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		classify(fc, &evs[i]);
	fc->events += n;
	for (size_t i = 0; in->log && i < n; i++) {
		if ((rc = evlog_append(in->log, &evs[i])) < 0) {
			cli_progress_clear(&in->prog);
			cli_error(&in->g, "event log %s: cannot append: %s",
				  evlog_writer_path(in->log), bsc_strerror(rc));
			in->status = CLI_EXIT_ERR;
			return rc;
		}
	}
	while (off < n) {
		size_t k;
		rc = agg_add_batch(in->agg, evs + off, n - off, &k);
		off += k;
		if (rc == 0)
			continue;
		if (rc == AGG_FULL || (rc == BSC_ENOSPC && (k || !retried))) {
			/* full: flush now; no room: flush, then add the rest */
			retried = rc == BSC_ENOSPC;
			if ((rc = flush(in)) < 0)
				return rc;
			continue;
		}
		cli_error(&in->g, "aggregation: %s", bsc_strerror(rc));
		in->status = CLI_EXIT_ERR;
		return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * One input file
 * ------------------------------------------------------------------------- */

/* The decoder of one file, whatever its kind. */
struct source {
	enum src_kind kind;
	struct pcapdns *pcap;
	struct dnstap *tap;
	struct evlog_reader *log;
};

static int source_next(struct source *src, struct query_event *ev)
{
	switch (src->kind) {
	case SRC_PCAP:
		return pcapdns_next(src->pcap, ev);
	case SRC_DNSTAP:
		return dnstap_next(src->tap, ev);
	default:
		return evlog_reader_next(src->log, ev);
	}
}

static uint64_t source_offset(const struct source *src)
{
	switch (src->kind) {
	case SRC_PCAP:
		return pcapdns_offset(src->pcap);
	case SRC_DNSTAP:
		return dnstap_offset(src->tap);
	default:
		return evlog_reader_offset(src->log);
	}
}

static uint64_t source_queries(const struct source *src, uint64_t events)
{
	switch (src->kind) {
	case SRC_PCAP:
		return pcapdns_stats(src->pcap)->dns.queries;
	case SRC_DNSTAP:
		return dnstap_stats(src->tap)->dns.queries;
	default:
		return events;
	}
}

static const char *source_error(const struct source *src)
{
	switch (src->kind) {
	case SRC_PCAP:
		return pcapdns_error(src->pcap);
	case SRC_DNSTAP:
		return dnstap_error(src->tap);
	default:
		return evlog_reader_error(src->log);
	}
}

/* Counters of a finished file into @fc. */
static void source_counts(const struct source *src, struct counts *fc)
{
	if (src->kind == SRC_PCAP) {
		const struct pcapdns_stats *s = pcapdns_stats(src->pcap);
		fc->packets = s->packets;
		fc->queries = s->dns.queries;
		fc->responses = s->dns.responses;
		skip_add(fc, "link type", s->linktype);
		skip_add(fc, "not IP", s->not_ip);
		skip_add(fc, "bad IP header", s->bad_ip);
		skip_add(fc, "IP fragments", s->fragments);
		skip_add(fc, "truncated packets", s->truncated);
		skip_add(fc, "not DNS queries", s->not_dns);
		skip_add(fc, "TCP without payload", s->tcp_nodata);
		skip_add(fc, "TCP messages split across segments", s->tcp_partial);
		skip_add(fc, "TCP retransmissions", s->tcp_retrans);
		skip_dns(fc, &s->dns);
	} else if (src->kind == SRC_DNSTAP) {
		const struct dnstap_stats *s = dnstap_stats(src->tap);
		fc->packets = s->frames;
		fc->queries = s->dns.queries;
		fc->responses = s->dns.responses;
		skip_add(fc, "bad frames", s->bad_frames);
		skip_add(fc, "no message", s->not_message);
		skip_add(fc, "other message types", s->other_type);
		skip_add(fc, "incomplete messages", s->incomplete);
		skip_dns(fc, &s->dns);
	} else {
		fc->packets = evlog_reader_count(src->log);
		fc->queries = fc->packets;
	}
}

static void source_close(struct source *src)
{
	pcapdns_close(src->pcap);
	dnstap_close(src->tap);
	evlog_reader_close(src->log);
	memset(src, 0, sizeof *src);
}

static struct file_result *result_new(struct ingest *in, const char *path)
{
	if (in->nfiles == in->capfiles) {
		struct file_result *f = mem_grow(in->files, &in->capfiles, sizeof *f, 16);
		if (!f)
			return NULL;
		in->files = f;
	}
	struct file_result *r = &in->files[in->nfiles];
	memset(r, 0, sizeof *r);
	r->offset = UINT64_MAX;
	if (!(r->path = mem_strdup(path)))
		return NULL;
	in->nfiles++;
	return r;
}

static void result_message(struct file_result *r, const char *msg)
{
	mem_free(r->message);
	r->message = mem_strdup(msg);
}

/* Print an error about the file and keep it in its result. */
static void file_error(struct ingest *in, struct file_result *r, enum file_state state,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void file_error(struct ingest *in, struct file_result *r, enum file_state state,
		       const char *fmt, ...)
{
	char msg[ERRMSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cli_progress_clear(&in->prog);
	cli_error(&in->g, "%s", msg);
	result_message(r, msg);
	r->state = state;
	in->status = CLI_EXIT_ERR;
}

static void show_progress(struct ingest *in, const struct source *src, const char *path,
			  uint64_t size, uint64_t events)
{
	uint64_t off = source_offset(src), q = source_queries(src, events);
	uint64_t el = cli_now_mono_ns() - in->start_ns;
	double rate = el ? (double)(in->tot.queries + q) * 1e9 / (double)el : 0;
	char pct[16] = "";

	if (size && off != UINT64_MAX && off <= size)
		snprintf(pct, sizeof pct, " %3u%%", (unsigned)(off * 100 / size));
	cli_progress_show(&in->prog, "ingest %s [%zu/%zu]%s %s: %" PRIu64 " queries, %" PRIu64
		" events, %.2f M queries/s", kind_names[in->kind], in->file_no, in->file_total,
		pct, path, q, events, rate / 1e6);
}

/* Open @path's decoder over @fp (pcap, dnstap; the decoder takes it) or by
 * name (log).  Returns 0, or fills @err. */
static int source_open(struct ingest *in, struct source *src, const char *path, FILE *fp,
		       char *err, size_t errlen)
{
	int rc;

	memset(src, 0, sizeof *src);
	src->kind = in->kind;
	if (in->kind == SRC_PCAP) {
		struct pcapdns_opts o = { .filter = in->filter,
					  .ports = in->nports ? in->ports : NULL,
					  .nports = in->nports };
		rc = pcapdns_open_fp(&src->pcap, fp, path, &o, err, errlen);
	} else if (in->kind == SRC_DNSTAP) {
		struct dnstap_opts o = { .filter = in->filter };
		rc = dnstap_open_fp(&src->tap, fp, path, &o, err, errlen);
	} else {
		rc = evlog_reader_open(&src->log, path, err, errlen);
	}
	return rc;
}

static void ingest_file(struct ingest *in, const char *path)
{
	char key[sizeof FP_PREFIX + 2 * DIGEST_LEN], hex[2 * DIGEST_LEN + 1];
	char err[ERRMSG_LEN], prev[STORE_META_STR_MAX + 1], abspath[PATH_MAX];
	struct counts fc;
	struct source src;
	struct query_event evs[EV_BATCH];
	struct file_result *r = result_new(in, path);
	bool is_stdin = strcmp(path, "-") == 0;
	bool fingerprinted = false;
	uint64_t size = 0;
	FILE *fp = NULL;
	int fd = -1, rc;

	memset(&src, 0, sizeof src);
	memset(&fc, 0, sizeof fc);
	if (!r) {
		cli_error(&in->g, "out of memory");
		in->status = CLI_EXIT_ERR;
		return;
	}
	/* open, and fingerprint with pread (the stream position stays at 0) */
	if (is_stdin) {
		if (in->kind == SRC_LOG) {
			file_error(in, r, FILE_FAILED, "standard input: 'ingest log' reads "
				   "segment files only");
			return;
		}
		fp = stdin;
		snprintf(abspath, sizeof abspath, "(standard input)");
		cli_warning(&in->g, "standard input is not fingerprinted: a second ingest of the "
			    "same data would not be detected");
	} else {
		struct stat stt;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &stt) < 0) {
			file_error(in, r, FILE_FAILED, "%s: cannot open: %s", path, strerror(errno));
			goto out;
		}
		if (!S_ISREG(stt.st_mode)) {
			file_error(in, r, FILE_FAILED, "%s: not a regular file", path);
			goto out;
		}
		size = (uint64_t)stt.st_size;
		if (!realpath(path, abspath))
			snprintf(abspath, sizeof abspath, "%s", path);
		rc = fingerprint(fd, size, hex);
		if (rc < 0) {
			file_error(in, r, FILE_FAILED, "%s: cannot read: %s", path, bsc_strerror(rc));
			goto out;
		}
		snprintf(key, sizeof key, FP_PREFIX "%s", hex);
		fingerprinted = true;
		rc = store_meta_get_str(in->s, key, prev, sizeof prev);
		if (rc >= 0 && !in->force) {
			struct fp_record pr;
			char when[CLI_TIME_LEN];
			if (fp_record_parse(prev, &pr) < 0) {
				file_error(in, r, FILE_REFUSED, "%s: already ingested (unreadable "
					   "record); --force ingests it again", path);
			} else if (strcmp(pr.state, "started") == 0) {
				file_error(in, r, FILE_REFUSED, "%s: an ingest of this file (as %s) "
					   "started at %s did not finish: part of it may be in the "
					   "store; --force ingests it again", path, pr.file,
					   cli_time_format(pr.time_ns, false, when, sizeof when));
			} else {
				file_error(in, r, FILE_REFUSED, "%s: already ingested at %s (as %s, "
					   "%" PRIu64 " events%s); --force ingests it again", path,
					   cli_time_format(pr.time_ns, false, when, sizeof when),
					   pr.file, pr.events,
					   strcmp(pr.state, "damaged") == 0 ? ", up to its damage"
									    : "");
			}
			goto out;
		}
		if (rc < 0 && rc != BSC_ENOENT) {
			file_error(in, r, FILE_FAILED, "store %s: cannot read the ingest record of "
				   "%s: %s", store_path(in->s), path, bsc_strerror(rc));
			goto out;
		}
		if (in->kind != SRC_LOG) {
			fp = fdopen(fd, "rb");
			if (!fp) {
				file_error(in, r, FILE_FAILED, "%s: %s", path, strerror(errno));
				goto out;
			}
			fd = -1; /* fp owns it */
		}
	}
	err[0] = '\0';
	rc = source_open(in, &src, path, fp, err, sizeof err);
	if (rc < 0) {
		file_error(in, r, FILE_FAILED, "%s", *err ? err : bsc_strerror(rc));
		goto out;
	}
	fp = NULL; /* the decoder owns it */
	if (fingerprinted &&
	    fp_record_set(in, key, "started", size, 0, UINT64_MAX, abspath) < 0) {
		r->state = FILE_FAILED;
		in->store_failed = true;
		in->status = CLI_EXIT_ERR;
		goto out;
	}

	/* Events go to the aggregation in batches (it prefetches their slots
	 * together); everything read before damage or the end is added. */
	for (size_t nev = 0, batches = 0;;) {
		rc = source_next(&src, &evs[nev]);
		if (rc == 1 && ++nev < EV_BATCH)
			continue;
		if (nev && add_events(in, evs, nev, &fc) < 0) {
			rc = 1; /* stopped by a store or log error */
			break;
		}
		nev = 0;
		if (rc != 1)
			break;
		if ((++batches & PROGRESS_BATCHES) == 0 && cli_progress_due(&in->prog))
			show_progress(in, &src, path, size, fc.events);
	}
	source_counts(&src, &fc);
	r->packets = fc.packets;
	r->queries = fc.queries;
	r->events = fc.events;
	if (in->store_failed || in->status == CLI_EXIT_ERR) {
		if (rc == 1) { /* stopped by a store or log error */
			r->state = FILE_FAILED;
			goto sum;
		}
	}
	if (rc < 0) {
		r->offset = source_offset(&src);
		const char *msg = source_error(&src);
		if (*msg)
			file_error(in, r, FILE_DAMAGED, "%s", msg);
		else
			file_error(in, r, FILE_DAMAGED, "%s: %s at byte %" PRIu64 "; everything "
				   "before it was kept", path, bsc_strerror(rc), r->offset);
	} else if (in->kind == SRC_DNSTAP && !dnstap_finished(src.tap) &&
		   *dnstap_error(src.tap)) {
		cli_progress_clear(&in->prog);
		cli_warning(&in->g, "%s", dnstap_error(src.tap));
		result_message(r, dnstap_error(src.tap));
	} else if (in->kind == SRC_LOG && !evlog_reader_closed(src.log)) {
		char msg[ERRMSG_LEN];
		snprintf(msg, sizeof msg, "%s: no footer: the segment was not closed (its writer "
			 "is still at work, or crashed); its %" PRIu64 " events were read, and "
			 "ingesting it again once closed would count them twice", path, fc.events);
		cli_progress_clear(&in->prog);
		cli_warning(&in->g, "%s", msg);
		result_message(r, msg);
	}
	/* everything read (up to any damage) goes into the store now */
	if (!in->store_failed && flush(in) == 0 && fingerprinted)
		fp_record_set(in, key, r->state == FILE_DAMAGED ? "damaged" : "complete", size,
			      fc.events, r->offset, abspath);
	if (in->store_failed && r->state == FILE_OK)
		r->state = FILE_FAILED;
sum:
	in->tot.packets += fc.packets;
	in->tot.queries += fc.queries;
	in->tot.responses += fc.responses;
	in->tot.events += fc.events;
	in->tot.ptr += fc.ptr;
	in->tot.partial += fc.partial;
	in->tot.other_qtype += fc.other_qtype;
	in->tot.other_name += fc.other_name;
	in->tot.invalid += fc.invalid;
	for (size_t i = 0; i < fc.nskipped; i++)
		skip_add(&in->tot, fc.skipped[i].name, fc.skipped[i].v);
out:
	source_close(&src);
	if (fp && fp != stdin)
		fclose(fp);
	if (fd >= 0)
		close(fd);
}

/* ---------------------------------------------------------------------------
 * Summary
 * ------------------------------------------------------------------------- */

static void summary_text(struct ingest *in, uint64_t elapsed_ns)
{
	FILE *out = in->g.out;
	const struct counts *t = &in->tot;
	double secs = (double)elapsed_ns / 1e9;
	size_t ok = 0;

	for (size_t i = 0; i < in->nfiles; i++) {
		const struct file_result *r = &in->files[i];
		if (r->state == FILE_OK)
			ok++;
		fprintf(out, "%s: %s, %" PRIu64 " %s, %" PRIu64 " queries, %" PRIu64 " events\n",
			r->path, state_names[r->state], r->packets,
			in->kind == SRC_PCAP ? "packets" : in->kind == SRC_DNSTAP ? "frames"
										 : "records",
			r->queries, r->events);
	}
	fprintf(out, "ingest %s: %zu of %zu files ingested whole; %" PRIu64 " %s, %" PRIu64
		" queries, %" PRIu64 " events in %.2f s (%.0f queries/s)\n",
		kind_names[in->kind], ok, in->nfiles, t->packets,
		in->kind == SRC_PCAP ? "packets" : in->kind == SRC_DNSTAP ? "frames" : "records",
		t->queries, t->events, secs, secs > 0 ? (double)t->queries / secs : 0.0);
	fprintf(out, "events: ptr %" PRIu64 ", partial %" PRIu64 ", other qtype %" PRIu64
		", other name %" PRIu64 ", invalid %" PRIu64 "\n",
		t->ptr, t->partial, t->other_qtype, t->other_name, t->invalid);
	if (in->kind != SRC_LOG)
		fprintf(out, "responses: %" PRIu64 " (used for the rcode of their queries)\n",
			t->responses);
	if (t->nskipped) {
		fprintf(out, "skipped:");
		for (size_t i = 0; i < t->nskipped; i++)
			fprintf(out, "%s %s %" PRIu64, i ? "," : "", t->skipped[i].name,
				t->skipped[i].v);
		fputc('\n', out);
	}
	if (*in->log_path)
		fprintf(out, "event log: last segment %s\n", in->log_path);
}

static json_object *summary_json(struct ingest *in, uint64_t elapsed_ns)
{
	const struct counts *t = &in->tot;
	json_object *o = json_object_new_object(), *arr, *x;
	double secs = (double)elapsed_ns / 1e9;

	if (!o)
		return NULL;
	cli_json_str(o, "kind", kind_names[in->kind]);
	cli_json_str(o, "store", store_path(in->s));
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < in->nfiles; i++) {
		const struct file_result *r = &in->files[i];
		json_object *f = json_object_new_object();
		if (!f)
			break;
		cli_json_str(f, "file", r->path);
		cli_json_str(f, "status", state_names[r->state]);
		cli_json_u64(f, "packets", r->packets);
		cli_json_u64(f, "queries", r->queries);
		cli_json_u64(f, "events", r->events);
		if (r->offset == UINT64_MAX)
			cli_json_str(f, "offset", NULL);
		else
			cli_json_u64(f, "offset", r->offset);
		cli_json_str(f, "message", r->message);
		json_object_array_add(arr, f);
	}
	json_object_object_add(o, "files", arr);
	cli_json_u64(o, "packets", t->packets);
	cli_json_u64(o, "queries", t->queries);
	cli_json_u64(o, "responses", t->responses);
	cli_json_u64(o, "events", t->events);
	x = json_object_new_object();
	cli_json_u64(x, "ptr", t->ptr);
	cli_json_u64(x, "partial", t->partial);
	cli_json_u64(x, "other_qtype", t->other_qtype);
	cli_json_u64(x, "other_name", t->other_name);
	cli_json_u64(x, "invalid", t->invalid);
	json_object_object_add(o, "classes", x);
	x = json_object_new_object();
	for (size_t i = 0; x && i < t->nskipped; i++)
		cli_json_u64(x, t->skipped[i].name, t->skipped[i].v);
	json_object_object_add(o, "skipped", x);
	json_object_object_add(o, "elapsed_s", json_object_new_double(secs));
	json_object_object_add(o, "queries_per_s",
			       json_object_new_double(secs > 0 ? (double)t->queries / secs : 0));
	if (*in->log_path)
		cli_json_str(o, "event_log", in->log_path);
	return o;
}

/* ---------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------- */

static const char ingest_help[] =
	"usage: backscope [--db DIR] ingest pcap|dnstap|log [OPTIONS] FILE...\n"
	"\n"
	"Aggregate the DNS queries of FILEs into the store (created when missing), as\n"
	"the live server does:\n"
	"  pcap     pcap or pcapng captures (Ethernet, Linux cooked, raw IP, loopback;\n"
	"           IPv4/IPv6; UDP, and TCP messages whole in a segment); '-' = stdin\n"
	"  dnstap   dnstap frame streams (AUTH_QUERY/CLIENT_QUERY, with responses for\n"
	"           the rcode) of Knot DNS, BIND, NSD, Unbound; '-' = stdin\n"
	"  log      backscope event-log segments (*.bsl), or folders of them\n"
	"\n"
	"Each file is fingerprinted (SHA-256 of its size, first and last MiB) and\n"
	"recorded in the store: ingesting it again is refused unless --force.\n"
	"Damage is reported with the file and byte offset; everything before it is\n"
	"kept, the next file follows, and the exit status is 1.\n"
	"\n"
	"  --force          ingest files already ingested (their counts add again)\n"
	"  --server ADDR    pcap, dnstap: only queries sent to ADDR (or a prefix\n"
	"                   ADDR/LEN); repeatable\n"
	"  --zone NAME      pcap, dnstap: only qnames at or below NAME; repeatable\n"
	"  --port N         pcap: the DNS server port (default 53); repeatable\n"
	"  --bucket DUR     bucket length of a new store (default 1h)\n"
	"  --bin DUR        activity bin length of a new store (default 10m)\n"
	"  --mem SIZE       memory of the aggregation table before it flushes\n"
	"                   (default 256M; k, M, G suffixes)\n"
	"  --write-log DIR  also append every event to event-log segments in DIR\n"
	"                   (moving data between machines; 'ingest log' reads them)\n"
	"  --json           the summary as one JSON object (schema: docs/cli.md)\n"
	"  --db DIR, -c FILE   the store (see 'backscope help status')\n"
	"\n"
	"Exit status: 0 every file ingested whole, 1 a file refused, unreadable or\n"
	"damaged (the others are still ingested), 2 usage error.\n";

static int parse_size(const char *s, uint64_t *out)
{
	char num[32];
	size_t n = strspn(s, "0123456789");
	uint64_t v, mult = 1;

	if (n == 0 || n >= sizeof num)
		return BSC_EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	if (cli_parse_uint(num, 1, UINT64_MAX >> 30, &v) < 0)
		return BSC_EINVAL;
	if (s[n] == 'k' || s[n] == 'K')
		mult = 1ull << 10;
	else if (s[n] == 'M')
		mult = 1ull << 20;
	else if (s[n] == 'G')
		mult = 1ull << 30;
	else if (s[n])
		return BSC_EINVAL;
	if (s[n] && s[n + 1])
		return BSC_EINVAL;
	*out = v * mult;
	return 0;
}

/* Expand the operands: for 'log', a folder stands for its segments. */
static int expand_inputs(struct ingest *in, int argc, char **argv, char ***paths, size_t *n)
{
	size_t cap = 16;
	char **v = mem_calloc(cap, sizeof *v);

	*n = 0;
	if (!v)
		return BSC_ENOMEM;
	for (int i = 0; i < argc; i++) {
		struct stat st;
		char **names = NULL;
		size_t nn = 0;
		bool dir = in->kind == SRC_LOG && stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode);
		if (dir && evlog_list(argv[i], &names, &nn) < 0) {
			cli_error(&in->g, "%s: cannot list the folder", argv[i]);
			in->status = CLI_EXIT_ERR;
			continue;
		}
		if (dir && nn == 0) {
			cli_warning(&in->g, "%s: no event-log segment in this folder", argv[i]);
		}
		for (size_t j = 0; j < (dir ? nn : 1); j++) {
			if (*n + 1 >= cap) {
				char **nv = mem_grow(v, &cap, sizeof *nv, 16);
				if (!nv)
					goto nomem;
				v = nv;
			}
			char *p;
			if (dir) {
				size_t len = strlen(argv[i]) + strlen(names[j]) + 2;
				p = mem_alloc(len);
				if (p)
					snprintf(p, len, "%s/%s", argv[i], names[j]);
			} else {
				p = mem_strdup(argv[i]);
			}
			if (!p)
				goto nomem;
			v[(*n)++] = p;
		}
		if (dir)
			evlog_list_free(names, nn);
		continue;
nomem:
		if (dir)
			evlog_list_free(names, nn);
		for (size_t j = 0; j < *n; j++)
			mem_free(v[j]);
		mem_free(v);
		return BSC_ENOMEM;
	}
	*paths = v;
	return 0;
}

static int open_store(struct ingest *in)
{
	struct store_opts o = { .bucket_len = in->bucket_len, .bin_len = in->bin_len,
				.map_max = MAP_MAX };
	struct agg_opts ao = { 0 };
	char dir[4096];
	int rc = cli_store_dir(&in->g, dir, sizeof dir);

	if (rc)
		return rc;
	rc = store_open(&in->s, dir, &o);
	if (rc < 0)
		return cli_error(&in->g, "store %s: cannot open it for writing: %s", dir,
				 bsc_strerror(rc));
	ao.bucket_len = store_bucket_len(in->s);
	ao.bin_len = store_bin_len(in->s);
	ao.mem_cap = in->mem_cap;
	rc = agg_new(&in->agg, &ao);
	if (rc < 0)
		return cli_error(&in->g, "aggregation table: %s", bsc_strerror(rc));
	return 0;
}

static int ingest_run(const struct cli_global *g0, int argc, char **argv)
{
	static const struct option longopts[] = {
		CMD_COMMON_LONGOPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "server", required_argument, NULL, 's' },
		{ "zone", required_argument, NULL, 'z' },
		{ "port", required_argument, NULL, 'p' },
		{ "bucket", required_argument, NULL, 'B' },
		{ "bin", required_argument, NULL, 'b' },
		{ "mem", required_argument, NULL, 'm' },
		{ "write-log", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	struct ingest in;
	char **paths = NULL;
	size_t npaths = 0;
	uint64_t v;
	bool bucket_set = false, bin_set = false;
	int opt, rc;

	memset(&in, 0, sizeof in);
	in.g = *g0;
	in.status = CLI_EXIT_OK;
	rc = qfilter_new(&in.filter);
	if (rc < 0)
		return cli_error(&in.g, "out of memory");
	cmd_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":c:hjfs:z:p:", longopts, NULL)) != -1) {
		int c = cmd_common_opt(&in.g, opt, optarg);
		if (c < 0) {
			rc = cmd_print_help(&in.g, &cmd_ingest);
			goto out;
		}
		if (c > 0)
			continue;
		switch (opt) {
		case 'j':
			in.json = true;
			break;
		case 'f':
			in.force = true;
			break;
		case 's':
			in.filtered = true;
			if (qfilter_add_server(in.filter, optarg) < 0) {
				rc = cli_usage_error(&in.g, "ingest", "--server %s: not an address or "
						     "prefix", optarg);
				goto out;
			}
			break;
		case 'z':
			in.filtered = true;
			if (qfilter_add_zone(in.filter, optarg) < 0) {
				rc = cli_usage_error(&in.g, "ingest", "--zone %s: not a domain name",
						     optarg);
				goto out;
			}
			break;
		case 'p':
			if (cli_parse_uint(optarg, 1, 65535, &v) < 0 || in.nports == PORTS_MAX) {
				rc = cli_usage_error(&in.g, "ingest", "--port %s: not a port (1..65535; "
						     "at most %d)", optarg, PORTS_MAX);
				goto out;
			}
			in.ports[in.nports++] = (uint16_t)v;
			break;
		case 'B':
		case 'b':
			if (cli_parse_duration(optarg, &v) < 0 || v > BUCKET_LEN_MAX) {
				rc = cli_usage_error(&in.g, "ingest", "--%s %s: not a duration up to "
						     "30d", opt == 'B' ? "bucket" : "bin", optarg);
				goto out;
			}
			if (opt == 'B') {
				in.bucket_len = (uint32_t)v;
				bucket_set = true;
			} else {
				in.bin_len = (uint32_t)v;
				bin_set = true;
			}
			break;
		case 'm':
			if (parse_size(optarg, &in.mem_cap) < 0 || in.mem_cap < AGG_MEM_CAP_MIN) {
				rc = cli_usage_error(&in.g, "ingest", "--mem %s: not a size of at least "
						     "1M", optarg);
				goto out;
			}
			break;
		case 'L':
			in.write_log = optarg;
			break;
		default:
			rc = cmd_bad_opt(&in.g, "ingest", opt, argv);
			goto out;
		}
	}
	if (optind >= argc) {
		rc = cli_usage_error(&in.g, "ingest", "which kind of input? (pcap, dnstap or log)");
		goto out;
	}
	const char *kind = argv[optind++];
	if (strcmp(kind, "pcap") == 0) {
		in.kind = SRC_PCAP;
	} else if (strcmp(kind, "dnstap") == 0) {
		in.kind = SRC_DNSTAP;
	} else if (strcmp(kind, "log") == 0) {
		in.kind = SRC_LOG;
	} else {
		rc = cli_usage_error(&in.g, "ingest", "'%s' is no kind of input (pcap, dnstap or "
				     "log)", kind);
		goto out;
	}
	if (optind >= argc) {
		rc = cli_usage_error(&in.g, "ingest", "no input file");
		goto out;
	}
	if (in.nports && in.kind != SRC_PCAP) {
		rc = cli_usage_error(&in.g, "ingest", "--port applies to pcap only");
		goto out;
	}
	/* filters are of DNS messages; the event log holds events */
	if (in.filtered && in.kind == SRC_LOG) {
		rc = cli_usage_error(&in.g, "ingest", "--server and --zone apply to pcap and "
				     "dnstap only");
		goto out;
	}
	if (bucket_set && !bin_set) {
		in.bin_len = BUCKET_BIN_DEFAULT;
		if (!bucket_lens_valid(in.bucket_len, in.bin_len))
			in.bin_len = in.bucket_len <= BUCKET_BIN_DEFAULT ? in.bucket_len : 0;
	}
	if (bin_set && !bucket_set)
		in.bucket_len = BUCKET_LEN_DEFAULT;
	if ((bucket_set || bin_set) && !bucket_lens_valid(in.bucket_len, in.bin_len)) {
		rc = cli_usage_error(&in.g, "ingest", "--bucket %" PRIu32 "s with --bin %" PRIu32
				     "s: the bin must divide the bucket, at most 64 bins",
				     in.bucket_len, in.bin_len);
		goto out;
	}
	rc = expand_inputs(&in, argc - optind, argv + optind, &paths, &npaths);
	if (rc < 0) {
		rc = cli_error(&in.g, "out of memory");
		goto out;
	}
	if ((rc = open_store(&in)))
		goto out;
	if (in.write_log) {
		struct evlog_opts lo = { .dir = in.write_log, .writer_id = "backscope-ingest",
					 .max_age_ns = UINT64_MAX };
		rc = evlog_writer_open(&in.log, &lo, cli_now_wall_ns());
		if (rc < 0) {
			rc = cli_error(&in.g, "event log %s: cannot open: %s", in.write_log,
				       bsc_strerror(rc));
			goto out;
		}
	}
	cli_progress_init(&in.prog, &in.g);
	in.start_ns = cli_now_mono_ns();
	in.file_total = npaths;
	for (size_t i = 0; i < npaths && !in.store_failed; i++) {
		in.file_no = i + 1;
		ingest_file(&in, paths[i]);
	}
	if (in.log) {
		snprintf(in.log_path, sizeof in.log_path, "%s", evlog_writer_path(in.log));
		rc = evlog_writer_close(in.log, cli_now_wall_ns());
		in.log = NULL;
		if (rc < 0) {
			cli_error(&in.g, "event log %s: %s", in.write_log, bsc_strerror(rc));
			in.status = CLI_EXIT_ERR;
		}
	}
	uint64_t elapsed = cli_now_mono_ns() - in.start_ns;
	cli_progress_clear(&in.prog);
	if (in.json) {
		if (cli_json_print(summary_json(&in, elapsed), in.g.out) < 0)
			in.status = cli_error(&in.g, "out of memory");
	} else {
		summary_text(&in, elapsed);
	}
	rc = in.status;
out:
	if (in.log)
		evlog_writer_close(in.log, cli_now_wall_ns());
	for (size_t i = 0; i < in.nfiles; i++) {
		mem_free(in.files[i].path);
		mem_free(in.files[i].message);
	}
	mem_free(in.files);
	for (size_t i = 0; i < npaths; i++)
		mem_free(paths[i]);
	mem_free(paths);
	agg_free(in.agg);
	store_close(in.s);
	qfilter_free(in.filter);
	return rc;
}

const struct cli_command cmd_ingest = {
	.name = "ingest",
	.summary = "aggregate pcap, dnstap or event-log files into the store",
	.help = ingest_help,
	.run = ingest_run,
};
