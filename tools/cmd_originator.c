/* tools/cmd_originator.c — `backscope originator ADDR`: one originator over
 * the window: totals, distinct queriers, first/last seen, its buckets, and
 * its queriers with their query counts (most queries first).
 *
 * Main thread; opens the store read-only. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "common/bucket.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/store.h"
#include "tools/cmds.h"

struct vec {
	void *v;
	size_t n, cap, size;
};

static void *vec_push(struct vec *x)
{
	if (x->n == x->cap) {
		void *v = mem_grow(x->v, &x->cap, x->size, 64);
		if (!v)
			return NULL;
		x->v = v;
	}
	return (char *)x->v + x->n++ * x->size;
}

static int bucket_cb(void *ctx, const struct store_orig_entry *e)
{
	struct store_orig_entry *slot = vec_push(ctx);

	if (!slot)
		return BSC_ENOMEM;
	*slot = *e;
	return 0;
}

static int querier_cb(void *ctx, const struct store_sum *e)
{
	struct store_sum *slot = vec_push(ctx);

	if (!slot)
		return BSC_ENOMEM;
	*slot = *e;
	return 0;
}

/* Most queries first, then address order. */
static int cmp_querier(const void *x, const void *y)
{
	const struct store_sum *a = x, *b = y;

	if (a->queries != b->queries)
		return a->queries > b->queries ? -1 : 1;
	return addr_cmp(&a->addr, &b->addr);
}

static void bins_text(const struct agg_orig_rec *r, char *buf, size_t len)
{
	size_t n = r->nbins < len ? r->nbins : len - 1;

	for (size_t i = 0; i < n; i++)
		buf[i] = (r->bins >> i) & 1 ? '1' : '0';
	buf[n] = '\0';
}

struct orig_view {
	struct bsc_addr addr;
	struct cli_window w;
	struct store_sum sum;
	struct vec buckets;  /* struct store_orig_entry */
	struct vec queriers; /* struct store_sum, sorted */
	size_t shown;        /* queriers to show (--limit) */
};

static json_object *orig_json(const struct orig_view *v)
{
	json_object *o = json_object_new_object(), *arr, *win;
	char bins[BUCKET_BINS_MAX + 1];

	if (!o)
		return NULL;
	cli_json_addr(o, "address", &v->addr);
	cli_json_u64(o, "queries", v->sum.queries);
	cli_json_u64(o, "queriers", v->sum.queriers);
	cli_json_u64(o, "nxdomain", v->sum.nxdomain);
	cli_json_time(o, "first_seen", v->sum.first_ns);
	cli_json_time(o, "last_seen", v->sum.last_ns);
	win = json_object_new_object();
	if (win) {
		cli_json_time(win, "from", v->w.from_s ? v->w.from_s * NS_PER_S : 0);
		cli_json_time(win, "until", v->w.until_s == UINT64_MAX ? 0 : v->w.until_s * NS_PER_S);
		json_object_object_add(o, "window", win);
	}
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < v->buckets.n; i++) {
		const struct store_orig_entry *e = (const struct store_orig_entry *)v->buckets.v + i;
		json_object *b = json_object_new_object();
		if (!b)
			break;
		cli_json_time(b, "start", e->bucket_s * NS_PER_S);
		cli_json_u64(b, "queries", e->rec.queries);
		cli_json_u64(b, "queriers", e->rec.queriers);
		cli_json_u64(b, "nxdomain", e->rec.nxdomain);
		cli_json_time(b, "first_seen", e->rec.first_ns);
		cli_json_time(b, "last_seen", e->rec.last_ns);
		bins_text(&e->rec, bins, sizeof bins);
		cli_json_str(b, "bins", bins);
		json_object_array_add(arr, b);
	}
	json_object_object_add(o, "buckets", arr);
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < v->shown; i++) {
		const struct store_sum *q = (const struct store_sum *)v->queriers.v + i;
		json_object *b = json_object_new_object();
		if (!b)
			break;
		cli_json_addr(b, "address", &q->addr);
		cli_json_u64(b, "queries", q->queries);
		cli_json_u64(b, "buckets", q->buckets);
		cli_json_time(b, "first_seen", q->first_ns);
		cli_json_time(b, "last_seen", q->last_ns);
		json_object_array_add(arr, b);
	}
	json_object_object_add(o, "querier_list", arr);
	return o;
}

static void orig_table(const struct cli_global *g, const struct orig_view *v)
{
	static const char *const bh[] = { "bucket", "queries", "queriers", "nxdomain",
					  "first seen", "last seen", "bins" };
	static const enum cli_align ba[] = { CLI_LEFT,  CLI_RIGHT, CLI_RIGHT, CLI_RIGHT,
					     CLI_LEFT, CLI_LEFT, CLI_LEFT };
	static const char *const qh[] = { "querier", "queries", "buckets", "first seen",
					  "last seen" };
	static const enum cli_align qa[] = { CLI_LEFT, CLI_RIGHT, CLI_RIGHT, CLI_LEFT, CLI_LEFT };
	static const enum cli_align sa[] = { CLI_LEFT, CLI_RIGHT, CLI_LEFT };
	char a[CLI_TIME_LEN], b[CLI_TIME_LEN], c[CLI_TIME_LEN], addr[ADDR_STRLEN], wt[160];
	char bins[BUCKET_BINS_MAX + 1];
	struct cli_table *t = cli_table_new(3, NULL, sa);

	if (!t)
		return;
	cli_window_text(&v->w, wt, sizeof wt);
	cli_table_add(t, "originator");
	cli_table_add(t, "");
	cli_table_add(t, cli_addr_format(&v->addr, addr, sizeof addr));
	cli_table_add(t, "window");
	cli_table_add(t, "");
	cli_table_add(t, wt);
	cli_table_add(t, "queries");
	cli_table_add_u64(t, v->sum.queries);
	cli_table_addf(t, "of them NXDOMAIN: %" PRIu64, v->sum.nxdomain);
	cli_table_add(t, "queriers");
	cli_table_add_u64(t, v->sum.queriers);
	cli_table_add(t, "distinct over the window");
	cli_table_add(t, "first seen");
	cli_table_add(t, "");
	cli_table_add(t, cli_time_format(v->sum.first_ns, true, a, sizeof a));
	cli_table_add(t, "last seen");
	cli_table_add(t, "");
	cli_table_add(t, cli_time_format(v->sum.last_ns, true, a, sizeof a));
	cli_table_print(t, g->out);
	cli_table_free(t);

	fputc('\n', g->out);
	t = cli_table_new(7, bh, ba);
	for (size_t i = 0; t && i < v->buckets.n; i++) {
		const struct store_orig_entry *e = (const struct store_orig_entry *)v->buckets.v + i;
		bins_text(&e->rec, bins, sizeof bins);
		cli_table_add(t, cli_time_format(e->bucket_s * NS_PER_S, false, a, sizeof a));
		cli_table_add_u64(t, e->rec.queries);
		cli_table_add_u64(t, e->rec.queriers);
		cli_table_add_u64(t, e->rec.nxdomain);
		cli_table_add(t, cli_time_format(e->rec.first_ns, false, b, sizeof b));
		cli_table_add(t, cli_time_format(e->rec.last_ns, false, c, sizeof c));
		cli_table_add(t, bins);
	}
	if (t)
		cli_table_print(t, g->out);
	cli_table_free(t);

	fputc('\n', g->out);
	t = cli_table_new(5, qh, qa);
	for (size_t i = 0; t && i < v->shown; i++) {
		const struct store_sum *q = (const struct store_sum *)v->queriers.v + i;
		cli_table_add(t, cli_addr_format(&q->addr, addr, sizeof addr));
		cli_table_add_u64(t, q->queries);
		cli_table_add_u64(t, q->buckets);
		cli_table_add(t, cli_time_format(q->first_ns, false, b, sizeof b));
		cli_table_add(t, cli_time_format(q->last_ns, false, c, sizeof c));
	}
	if (t)
		cli_table_print(t, g->out);
	cli_table_free(t);
	if (v->shown < v->queriers.n)
		fprintf(g->out, "(%zu more queriers; --limit 0 shows all)\n",
			v->queriers.n - v->shown);
}

static const char orig_help[] =
	"usage: backscope [--db DIR] originator ADDR [--window DUR|all] [--until TIME]\n"
	"                 [--limit N] [--json]\n"
	"\n"
	"One originator (an address, or its full reverse name) over the window: its\n"
	"queries, distinct queriers, first and last seen, each of its buckets, and its\n"
	"queriers with their query counts, most queries first.\n"
	"\n"
	"  --window DUR   trailing window (default 1d; all = every bucket); as for top\n"
	"  --until TIME   end of the window (default: end of the newest bucket)\n"
	"  --limit N      show at most N queriers (default 0 = all)\n"
	"  --json         one JSON object (schema: docs/cli.md)\n"
	"  --db DIR, -c FILE   the store (see 'backscope help status')\n"
	"\n"
	"Exit status 1 when the originator has no PTR query in the window.\n";

static int orig_run(const struct cli_global *g0, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
						  { "json", no_argument, NULL, 'j' },
						  { "window", required_argument, NULL, 'w' },
						  { "until", required_argument, NULL, 'u' },
						  { "limit", required_argument, NULL, 'n' },
						  { NULL, 0, NULL, 0 } };
	struct cli_global g = *g0;
	const char *window = NULL, *until = NULL;
	struct store *s = NULL;
	struct orig_view v;
	uint64_t limit = 0;
	bool json = false;
	char addr[ADDR_STRLEN];
	int opt, rc;

	memset(&v, 0, sizeof v);
	v.buckets.size = sizeof(struct store_orig_entry);
	v.queriers.size = sizeof(struct store_sum);
	cmd_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":c:hjw:u:n:", longopts, NULL)) != -1) {
		int c = cmd_common_opt(&g, opt, optarg);
		if (c < 0)
			return cmd_print_help(&g, &cmd_originator);
		if (c > 0)
			continue;
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'w':
			window = optarg;
			break;
		case 'u':
			until = optarg;
			break;
		case 'n':
			if (cli_parse_uint(optarg, 0, UINT32_MAX, &limit) < 0)
				return cli_usage_error(&g, "originator", "--limit %s: not a number",
						       optarg);
			break;
		default:
			return cmd_bad_opt(&g, "originator", opt, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(&g, "originator", "which originator? (an address)");
	if (optind + 1 < argc)
		return cli_usage_error(&g, "originator", "unexpected argument '%s'",
				       argv[optind + 1]);
	if (cli_parse_addr(argv[optind], &v.addr) < 0)
		return cli_usage_error(&g, "originator", "'%s' is not an IPv4 or IPv6 address "
				       "(nor the full reverse name of one)", argv[optind]);
	cli_addr_format(&v.addr, addr, sizeof addr);
	if ((rc = cli_store_open_ro(&g, &s)))
		return rc;
	if ((rc = cli_window_resolve(&g, "originator", s, window, until, &v.w)))
		goto out;
	rc = store_orig_summary(s, &v.addr, v.w.from_s, v.w.until_s, &v.sum);
	if (rc == BSC_ENOENT) {
		char wt[160];
		cli_window_text(&v.w, wt, sizeof wt);
		rc = cli_error(&g, "originator %s: no PTR query in the window (%s)", addr, wt);
		goto out;
	}
	if (rc < 0 ||
	    (rc = store_orig_buckets(s, &v.addr, v.w.from_s, v.w.until_s, bucket_cb,
				     &v.buckets)) < 0 ||
	    (rc = store_orig_queriers(s, &v.addr, v.w.from_s, v.w.until_s, querier_cb,
				      &v.queriers)) < 0) {
		rc = cli_error(&g, "store %s: originator %s: %s", store_path(s), addr,
			       bsc_strerror(rc));
		goto out;
	}
	if (v.queriers.n)
		qsort(v.queriers.v, v.queriers.n, v.queriers.size, cmp_querier);
	v.shown = limit && limit < v.queriers.n ? limit : v.queriers.n;
	rc = CLI_EXIT_OK;
	if (json) {
		if (cli_json_print(orig_json(&v), g.out) < 0)
			rc = cli_error(&g, "out of memory");
	} else {
		orig_table(&g, &v);
	}
out:
	mem_free(v.buckets.v);
	mem_free(v.queriers.v);
	store_close(s);
	return rc;
}

const struct cli_command cmd_originator = {
	.name = "originator",
	.summary = "one originator: buckets, queries, queriers with counts",
	.help = orig_help,
	.run = orig_run,
};
