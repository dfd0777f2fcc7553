/* tools/cmd_crosscheck.c — `backscope crosscheck`: detections (from a file
 * until the store's detect DB has a reader) against the darknet labels of the
 * store, inside the authority's address space: confusion matrix, per-class
 * and two-class precision/recall/F1, the disagreements with --list.
 *
 * Main thread; opens the store read-only.  The logic is tools/crosscheck.c. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include "common/bucket.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/revname.h"
#include "common/store.h"
#include "tools/cmds.h"
#include "tools/crosscheck.h"
#include "tools/labelout.h"

#define XC_SPACE_MAX 256
#define XC_WINDOW_DEFAULT_S 3600u
#define XC_MIN_QUERIERS_MAX 1000000000u

static const char xc_help[] =
	"usage: backscope crosscheck (--authority PREFIX | --zone NAME)...\n"
	"                            [--detections FILE] [--window DUR] [--since TIME]\n"
	"                            [--until TIME] [--min-queriers N] [--list] [--json]\n"
	"\n"
	"Compare detections with the darknet labels of the store (written by\n"
	"'darknet label --store'): a detection and a label of the same address are\n"
	"joined when their windows overlap.  Darknet classes become training labels\n"
	"(scan-icmp, scan-ssh, scan-telnet, scan-smb, scan-other, scan-port,\n"
	"ddos-victim; the rest is ambiguous and left out; docs/cli.md).  Prints the\n"
	"confusion matrix (rows: darknet label, columns: detection class, 'none' for\n"
	"a missing side), precision, recall, F1 and support per class, and the same\n"
	"for scan vs not-scan.\n"
	"\n"
	"  --authority PREFIX  the address space the DNS server is authoritative for\n"
	"                      (10.20.0.0/16, 2001:db8::/32); may be repeated\n"
	"  --zone NAME         the same as a reverse zone (20.10.in-addr.arpa,\n"
	"                      8.b.d.0.1.0.0.2.ip6.arpa); may be repeated.  At least\n"
	"                      one --authority or --zone is needed: an authority sees\n"
	"                      only originators inside its own zones.\n"
	"  --detections FILE   detections: a JSON array, JSON objects one per line, or\n"
	"                      CSV with a header; fields address, window_start,\n"
	"                      window_end (optional), class, score (optional).  - is\n"
	"                      standard input.  Needed until the detector writes the\n"
	"                      store's detect database.\n"
	"  --window DUR        DNS window of a detection without window_end (1h)\n"
	"  --since TIME        only windows ending after TIME (RFC 3339, a date,\n"
	"                      @SECONDS, now)\n"
	"  --until TIME        only windows starting before TIME\n"
	"  --min-queriers N    a port scan is scan-port only when its originator had\n"
	"                      at least N distinct queriers in the label's window\n"
	"                      (default 10); below that it is left out\n"
	"  --list              also list the disagreements\n"
	"  --json              one JSON object (schema: docs/cli.md)\n"
	"  --db DIR, -c FILE   the store (see 'backscope help status')\n";

struct xc_labels {
	struct xc_label *v;
	size_t n, cap;
	int fail;
};

static int xc_collect(void *arg, const struct store_label *l)
{
	struct xc_labels *ls = arg;

	if (ls->n == ls->cap) {
		struct xc_label *v = mem_grow(ls->v, &ls->cap, sizeof *v, 256);

		if (!v)
			return BSC_ENOMEM;
		ls->v = v;
	}
	memset(&ls->v[ls->n], 0, sizeof ls->v[0]);
	ls->v[ls->n++].raw = *l;
	return 0;
}

/* Map every label; a port scan inside the space needs its originator's
 * distinct queriers over the label's window (from the store's orig DB). */
static int xc_map_labels(const struct cli_global *g, struct store *s, struct xc_labels *ls,
			 const struct xc_scope *sc, const struct lm_opts *lo)
{
	for (size_t i = 0; i < ls->n; i++) {
		struct store_label raw = ls->v[i].raw;
		uint64_t nq = 0;
		if (raw.cls == DK_CLASS_PORT_SCAN && xc_in_space(sc, &raw.source)) {
			struct store_sum sum;
			uint64_t end = raw.window_start_s +
				       (raw.window_len_s ? raw.window_len_s : 1);
			int rc = store_orig_summary(s, &raw.source, raw.bucket_s, end, &sum);
			if (rc == 0)
				nq = sum.queriers;
			else if (rc != BSC_ENOENT)
				return cli_error(g, "store %s: queriers of a port scanner: %s",
						 store_path(s), bsc_strerror(rc));
		}
		xc_label_make(&ls->v[i], &raw, nq, lo);
	}
	return 0;
}

/* ---- output ---- */

/* ns of @s, saturated (damaged labels, far windows). */
static uint64_t xc_ns(uint64_t s)
{
	return s > UINT64_MAX / NS_PER_S ? UINT64_MAX / NS_PER_S * NS_PER_S : s * NS_PER_S;
}

static json_object *xc_json_ratio(double v)
{
	char buf[32];

	if (isnan(v))
		return NULL;
	snprintf(buf, sizeof buf, "%.4f", v);
	size_t n = strlen(buf);
	while (n > 3 && buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = '\0';
	return json_object_new_double_s(v, buf);
}

static void xc_json_metrics(json_object *o, const struct xc_metrics *m)
{
	cli_json_u64(o, "support", m->support);
	cli_json_u64(o, "tp", m->tp);
	cli_json_u64(o, "fp", m->fp);
	cli_json_u64(o, "fn", m->fn);
	json_object_object_add(o, "precision", xc_json_ratio(m->precision));
	json_object_object_add(o, "recall", xc_json_ratio(m->recall));
	json_object_object_add(o, "f1", xc_json_ratio(m->f1));
}

static json_object *xc_json_counts(const struct xc_counts *c)
{
	json_object *o = json_object_new_object();

	cli_json_u64(o, "read", c->read);
	cli_json_u64(o, "outside_space", c->outside_space);
	cli_json_u64(o, "outside_time", c->outside_time);
	cli_json_u64(o, "ambiguous", c->ambiguous);
	cli_json_u64(o, "used", c->used);
	return o;
}

static json_object *xc_json_det(const struct xc_pair *p)
{
	char t[CLI_TIME_LEN];
	json_object *o = json_object_new_object();

	cli_json_str(o, "class", p->det->cls);
	json_object *score = NULL;
	if (p->det->has_score) {
		char buf[32]; /* 15 significant digits: 0.8 stays 0.8 */
		snprintf(buf, sizeof buf, "%.15g", p->det->score);
		score = json_object_new_double_s(p->det->score, buf);
	}
	json_object_object_add(o, "score", score);
	cli_json_str(o, "window_start", cli_time_format(xc_ns(p->det->start_s), false, t,
							sizeof t));
	cli_json_str(o, "window_end", cli_time_format(xc_ns(p->det_end_s), false, t,
						      sizeof t));
	cli_json_u64(o, "line", p->det->line);
	return o;
}

static json_object *xc_json_pair(const struct xc_pair *p)
{
	char t[CLI_TIME_LEN];
	json_object *o = json_object_new_object();

	cli_json_addr(o, "address", p->label ? &p->label->raw.source : &p->det->addr);
	if (p->label) {
		const struct xc_label *l = p->label;
		cli_json_str(o, "label", labelmap_name(l->map.label));
		cli_json_str(o, "label_window_end",
			     cli_time_format(xc_ns(l->raw.window_start_s + l->raw.window_len_s),
					     false, t, sizeof t));
		cli_json_u64(o, "queriers", l->queriers);
		json_object_object_add(o, "darknet", labelout_json(&l->raw));
	} else {
		cli_json_str(o, "label", NULL);
		cli_json_str(o, "label_window_end", NULL);
		cli_json_str(o, "queriers", NULL);
		cli_json_str(o, "darknet", NULL);
	}
	json_object_object_add(o, "detection", p->det ? xc_json_det(p) : NULL);
	return o;
}

static json_object *xc_json(const struct xc_result *r, const struct xc_scope *sc,
			    const struct lm_opts *lo, bool list)
{
	char a[ADDR_STRLEN];
	json_object *o = json_object_new_object();
	json_object *space = json_object_new_array();

	for (size_t i = 0; i < sc->nprefixes; i++)
		json_object_array_add(space, json_object_new_string(
				       cli_addr_format(&sc->prefixes[i], a, sizeof a)));
	json_object_object_add(o, "authority", space);
	cli_json_u64(o, "window_seconds", sc->window_s);
	cli_json_time(o, "since", xc_ns(sc->since_s));
	cli_json_time(o, "until", xc_ns(sc->until_s));
	cli_json_u64(o, "min_queriers", lo->port_scan_min_queriers);
	json_object_object_add(o, "detections", xc_json_counts(&r->det));
	json_object *lab = xc_json_counts(&r->lab);
	cli_json_u64(lab, "few_queriers", r->few_queriers);
	json_object_object_add(o, "labels", lab);
	cli_json_u64(o, "pairs", r->npairs);

	json_object *m = json_object_new_object();
	json_object *rows = json_object_new_array(), *cols = json_object_new_array();
	json_object *counts = json_object_new_array();
	for (size_t i = 0; i < XC_ROWS; i++) {
		json_object *row = json_object_new_array();
		json_object_array_add(rows, json_object_new_string(xc_row_name(i)));
		for (size_t c = 0; c < r->ncols; c++)
			json_object_array_add(row, json_object_new_int64(
					      (int64_t)r->counts[i * r->ncols + c]));
		json_object_array_add(counts, row);
	}
	for (size_t c = 0; c < r->ncols; c++)
		json_object_array_add(cols, json_object_new_string(r->cols[c]));
	json_object_object_add(m, "rows", rows);
	json_object_object_add(m, "columns", cols);
	json_object_object_add(m, "counts", counts);
	json_object_object_add(o, "matrix", m);

	json_object *classes = json_object_new_array();
	for (size_t i = 0; i < r->nclasses; i++) {
		json_object *c = json_object_new_object();
		cli_json_str(c, "class", r->classes[i].name);
		cli_json_u64(c, "detected", r->classes[i].predicted);
		xc_json_metrics(c, &r->classes[i].m);
		json_object_array_add(classes, c);
	}
	json_object_object_add(o, "classes", classes);

	json_object *ov = json_object_new_object();
	xc_json_metrics(ov, &r->overall);
	cli_json_u64(ov, "tn", r->tn);
	json_object_object_add(ov, "accuracy", xc_json_ratio(r->accuracy));
	json_object_object_add(o, "overall", ov);
	cli_json_u64(o, "disagreements_total", r->ndisagree);
	if (list) {
		json_object *d = json_object_new_array();
		for (size_t i = 0; i < r->npairs; i++)
			if (r->pairs[i].disagree)
				json_object_array_add(d, xc_json_pair(&r->pairs[i]));
		json_object_object_add(o, "disagreements", d);
	} else {
		json_object_object_add(o, "disagreements", NULL);
	}
	return o;
}

static void xc_ratio_cell(struct cli_table *t, double v)
{
	if (isnan(v))
		cli_table_add(t, "-");
	else
		cli_table_addf(t, "%.3f", v);
}

/* One row of the per-class table: name, support, predicted, tp, fp, fn,
 * precision, recall, F1. */
static void xc_metrics_row(struct cli_table *t, const char *name, const struct xc_metrics *m,
			   uint64_t predicted)
{
	cli_table_add(t, name);
	cli_table_add_u64(t, m->support);
	cli_table_add_u64(t, predicted);
	cli_table_add_u64(t, m->tp);
	cli_table_add_u64(t, m->fp);
	cli_table_add_u64(t, m->fn);
	xc_ratio_cell(t, m->precision);
	xc_ratio_cell(t, m->recall);
	xc_ratio_cell(t, m->f1);
}

static void xc_table(const struct cli_global *g, const struct xc_result *r,
		     const struct xc_scope *sc, const struct lm_opts *lo)
{
	char a[ADDR_STRLEN], w[32];

	fprintf(g->out, "authority:");
	for (size_t i = 0; i < sc->nprefixes; i++)
		fprintf(g->out, "%s%s", i ? ", " : " ",
			cli_addr_format(&sc->prefixes[i], a, sizeof a));
	fprintf(g->out, "; DNS window %s\n", cli_duration_format(sc->window_s, w, sizeof w));
	fprintf(g->out, "detections: %" PRIu64 " read, %" PRIu64 " used, %" PRIu64
		" outside the address space, %" PRIu64 " outside the time range, %" PRIu64
		" overlapping only ambiguous labels\n", r->det.read, r->det.used,
		r->det.outside_space, r->det.outside_time, r->det.ambiguous);
	fprintf(g->out, "darknet labels: %" PRIu64 " read, %" PRIu64 " used, %" PRIu64
		" outside the address space, %" PRIu64 " outside the time range, %" PRIu64
		" ambiguous (%" PRIu64 " port scans with fewer than %" PRIu64 " queriers)\n",
		r->lab.read, r->lab.used, r->lab.outside_space, r->lab.outside_time,
		r->lab.ambiguous, r->few_queriers, lo->port_scan_min_queriers);

	/* confusion matrix */
	const char **hdr = mem_calloc(r->ncols + 1, sizeof *hdr);
	enum cli_align *al = mem_calloc(r->ncols + 1, sizeof *al);
	struct cli_table *t = NULL;
	if (hdr && al) {
		hdr[0] = "label \\ detection";
		al[0] = CLI_LEFT;
		for (size_t c = 0; c < r->ncols; c++) {
			hdr[c + 1] = r->cols[c];
			al[c + 1] = CLI_RIGHT;
		}
		t = cli_table_new(r->ncols + 1, hdr, al);
	}
	if (t) {
		for (size_t i = 0; i < XC_ROWS; i++) {
			cli_table_add(t, xc_row_name(i));
			for (size_t c = 0; c < r->ncols; c++)
				cli_table_add_u64(t, r->counts[i * r->ncols + c]);
		}
		fprintf(g->out, "\nconfusion matrix (%zu pairs)\n", r->npairs);
		cli_table_print(t, g->out);
	}
	cli_table_free(t);
	mem_free(hdr);
	mem_free(al);

	static const char *const ch[] = { "class", "support", "detected", "tp", "fp", "fn",
					  "precision", "recall", "f1" };
	static const enum cli_align ca[] = { CLI_LEFT, CLI_RIGHT, CLI_RIGHT, CLI_RIGHT, CLI_RIGHT,
					     CLI_RIGHT, CLI_RIGHT, CLI_RIGHT, CLI_RIGHT };
	t = cli_table_new(9, ch, ca);
	if (!t)
		return;
	for (size_t i = 0; i < r->nclasses; i++) {
		const struct xc_class_metrics *c = &r->classes[i];
		if (c->m.support || c->predicted)
			xc_metrics_row(t, c->name, &c->m, c->predicted);
	}
	xc_metrics_row(t, "scan (overall)", &r->overall, r->overall.tp + r->overall.fp);
	fprintf(g->out, "\nper class\n");
	cli_table_print(t, g->out);
	cli_table_free(t);
	fprintf(g->out, "\nscan vs not-scan: tp %" PRIu64 ", fp %" PRIu64 ", fn %" PRIu64
		", tn %" PRIu64, r->overall.tp, r->overall.fp, r->overall.fn, r->tn);
	if (!isnan(r->accuracy))
		fprintf(g->out, ", accuracy %.3f", r->accuracy);
	fprintf(g->out, "; %zu disagreements\n", r->ndisagree);
}

static void xc_list(const struct cli_global *g, const struct xc_result *r)
{
	static const char *const hdr[] = { "address", "label window", "label", "darknet",
					   "ports", "tool", "detection window", "detection",
					   "score" };
	static const enum cli_align al[] = { CLI_LEFT, CLI_LEFT, CLI_LEFT, CLI_LEFT, CLI_LEFT,
					     CLI_LEFT, CLI_LEFT, CLI_LEFT, CLI_RIGHT };
	char a[ADDR_STRLEN], t[CLI_TIME_LEN], ports[64];
	struct cli_table *tb = cli_table_new(9, hdr, al);

	if (!tb)
		return;
	fprintf(g->out, "\ndisagreements\n");
	for (size_t i = 0; i < r->npairs; i++) {
		const struct xc_pair *p = &r->pairs[i];
		if (!p->disagree)
			continue;
		const struct xc_label *l = p->label;
		cli_table_add(tb, cli_addr_format(l ? &l->raw.source : &p->det->addr, a, sizeof a));
		if (l) {
			const char *tool = fingerprint_tool_name((enum dk_tool)l->raw.tool);
			const char *size = darknet_size_name((enum dk_size)l->raw.size);
			cli_table_add(tb, cli_time_format(xc_ns(l->raw.window_start_s), false, t,
							  sizeof t));
			cli_table_add(tb, labelmap_name(l->map.label));
			cli_table_addf(tb, "%s%s%s", darknet_class_name((enum dk_class)l->raw.cls),
				       size ? "/" : "", size ? size : "");
			cli_table_add(tb, labelout_ports(&l->raw, ports, sizeof ports));
			cli_table_add(tb, tool ? tool : "-");
		} else {
			for (int k = 0; k < 5; k++)
				cli_table_add(tb, k == 1 ? "none" : "-");
		}
		if (p->det) {
			cli_table_add(tb, cli_time_format(xc_ns(p->det->start_s), false, t,
							  sizeof t));
			cli_table_add(tb, p->det->cls);
			if (p->det->has_score)
				cli_table_addf(tb, "%.3f", p->det->score);
			else
				cli_table_add(tb, "-");
		} else {
			cli_table_add(tb, "-");
			cli_table_add(tb, "none");
			cli_table_add(tb, "-");
		}
	}
	if (cli_table_rows(tb))
		cli_table_print(tb, g->out);
	else
		fprintf(g->out, "(none)\n");
	cli_table_free(tb);
}

/* --zone NAME: the address space of a reverse zone. */
static int xc_zone(const char *name, struct bsc_addr *out)
{
	struct revname r;

	switch (revname_parse_text(name, &r)) {
	case REVNAME_FULL:
	case REVNAME_PARTIAL:
		*out = r.addr;
		return 0;
	case REVNAME_CLASSLESS:
		*out = r.addr; /* the RFC 2317 block, or one host of it */
		return 0;
	default:
		return BSC_EINVAL;
	}
}

/* No --detections: the store's detect databases have no reader yet. */
static int xc_no_detections(const struct cli_global *g, struct store *s)
{
	struct store_db_stat a, b;
	uint64_t n = 0;

	if (store_db_stat(s, STORE_DB_DETECT, &a) == 0)
		n += a.entries;
	if (store_db_stat(s, STORE_DB_DETECTLOG, &b) == 0)
		n += b.entries;
	if (n)
		return cli_error(g, "store %s: it holds %" PRIu64 " detection rows, which "
				 "this version cannot read yet; give --detections FILE",
				 store_path(s), n);
	return cli_error(g, "no detections: the store %s has none; give --detections FILE "
			 "(JSON or CSV, see 'backscope help crosscheck')", store_path(s));
}

static int xc_run_cmd(const struct cli_global *g0, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
						  { "json", no_argument, NULL, 'j' },
						  { "list", no_argument, NULL, 'l' },
						  { "window", required_argument, NULL, 'w' },
						  { "detections", required_argument, NULL, 'f' },
						  { "authority", required_argument, NULL, 'a' },
						  { "zone", required_argument, NULL, 'z' },
						  { "since", required_argument, NULL, 'S' },
						  { "until", required_argument, NULL, 'U' },
						  { "min-queriers", required_argument, NULL, 'm' },
						  { NULL, 0, NULL, 0 } };
	struct cli_global g = *g0;
	struct bsc_addr space[XC_SPACE_MAX];
	struct xc_scope sc = { .prefixes = space, .window_s = XC_WINDOW_DEFAULT_S };
	struct xc_detections dets = { 0 };
	struct xc_labels labels = { 0 };
	struct xc_result res;
	struct lm_opts lo;
	struct store *s = NULL;
	const char *file = NULL, *since = NULL, *until = NULL;
	uint64_t now = cli_now_wall_ns() / NS_PER_S;
	bool json = false, list = false;
	char err[512];
	int opt, rc;

	memset(&res, 0, sizeof res);
	labelmap_opts_default(&lo);
	cmd_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":c:hjlw:", longopts, NULL)) != -1) {
		int c = cmd_common_opt(&g, opt, optarg);
		if (c < 0)
			return cmd_print_help(&g, &cmd_crosscheck);
		if (c > 0)
			continue;
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'l':
			list = true;
			break;
		case 'w':
			if (cli_parse_duration(optarg, &sc.window_s) < 0)
				return cli_usage_error(&g, "crosscheck", "--window %s: not a "
						       "duration", optarg);
			break;
		case 'f':
			file = optarg;
			break;
		case 'a':
		case 'z':
			if (sc.nprefixes == XC_SPACE_MAX)
				return cli_usage_error(&g, "crosscheck", "more than %d --authority "
						       "and --zone values", XC_SPACE_MAX);
			if (opt == 'a' && addr_parse(&space[sc.nprefixes], optarg, false) < 0)
				return cli_usage_error(&g, "crosscheck", "--authority %s: not an "
						       "address prefix (10.20.0.0/16, "
						       "2001:db8::/32)", optarg);
			if (opt == 'z' && xc_zone(optarg, &space[sc.nprefixes]) < 0)
				return cli_usage_error(&g, "crosscheck", "--zone %s: not a reverse "
						       "zone name (20.10.in-addr.arpa, "
						       "8.b.d.0.1.0.0.2.ip6.arpa)", optarg);
			sc.nprefixes++;
			break;
		case 'S':
			since = optarg;
			break;
		case 'U':
			until = optarg;
			break;
		case 'm':
			if (cli_parse_uint(optarg, 0, XC_MIN_QUERIERS_MAX,
					   &lo.port_scan_min_queriers) < 0)
				return cli_usage_error(&g, "crosscheck", "--min-queriers %s: not a "
						       "number in 0..%u", optarg,
						       XC_MIN_QUERIERS_MAX);
			break;
		default:
			return cmd_bad_opt(&g, "crosscheck", opt, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(&g, "crosscheck", "unexpected argument '%s'", argv[optind]);
	if (!sc.nprefixes)
		return cli_usage_error(&g, "crosscheck", "no address space: give --authority "
				       "PREFIX or --zone NAME (the server sees only originators "
				       "inside its own zones, so only those can be compared)");
	if (since && cli_parse_time(since, now, &sc.since_s) < 0)
		return cli_usage_error(&g, "crosscheck", "--since %s: not a time", since);
	if (until && cli_parse_time(until, now, &sc.until_s) < 0)
		return cli_usage_error(&g, "crosscheck", "--until %s: not a time", until);
	if (until && sc.until_s == 0)
		return cli_usage_error(&g, "crosscheck", "--until %s: nothing starts before it",
				       until);
	if (since && until && sc.since_s >= sc.until_s)
		return cli_usage_error(&g, "crosscheck", "--since must be before --until");
	if ((rc = cli_store_open_ro(&g, &s)))
		return rc;
	if (!file) {
		rc = xc_no_detections(&g, s);
		goto out;
	}
	rc = xc_detections_load(&dets, file, err, sizeof err);
	if (rc < 0) {
		rc = cli_error(&g, "%s", err);
		goto out;
	}
	rc = store_label_walk(s, 0, sc.until_s ? sc.until_s : UINT64_MAX, xc_collect, &labels);
	if (rc < 0) {
		rc = cli_error(&g, "store %s: reading the labels: %s", store_path(s),
			       bsc_strerror(rc));
		goto out;
	}
	if (!labels.n)
		cli_warning(&g, "the store %s holds no darknet label (write them with "
			    "'backscope darknet label --store')", store_path(s));
	if ((rc = xc_map_labels(&g, s, &labels, &sc, &lo)))
		goto out;
	rc = xc_run(&sc, dets.v, dets.n, labels.v, labels.n, &res);
	if (rc < 0) {
		rc = cli_error(&g, "crosscheck: %s", bsc_strerror(rc));
		goto out;
	}
	rc = CLI_EXIT_OK;
	if (json) {
		if (cli_json_print(xc_json(&res, &sc, &lo, list), g.out) < 0)
			rc = cli_error(&g, "out of memory");
	} else {
		xc_table(&g, &res, &sc, &lo);
		if (list)
			xc_list(&g, &res);
	}
out:
	xc_result_free(&res);
	xc_detections_free(&dets);
	mem_free(labels.v);
	store_close(s);
	return rc;
}

const struct cli_command cmd_crosscheck = {
	.name = "crosscheck",
	.summary = "compare detections with darknet labels (precision, recall, F1)",
	.help = xc_help,
	.run = xc_run_cmd,
};
