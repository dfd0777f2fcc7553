/* tools/cmd_top.c — `backscope top`: originators ranked by distinct queriers
 * (then queries, then address) over a trailing window of buckets, as a
 * table or a JSON array.
 *
 * Main thread; opens the store read-only. */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include "common/bucket.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/store.h"
#include "tools/cmds.h"

#define TOP_LIMIT_DEFAULT 20
#define TOP_LIMIT_MAX 10000000u

static json_object *top_json(const struct store_sum *e, size_t n)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; arr && i < n; i++) {
		json_object *o = json_object_new_object();
		if (!o) {
			json_object_put(arr);
			return NULL;
		}
		cli_json_addr(o, "address", &e[i].addr);
		cli_json_u64(o, "queries", e[i].queries);
		cli_json_u64(o, "queriers", e[i].queriers);
		cli_json_u64(o, "nxdomain", e[i].nxdomain);
		cli_json_u64(o, "buckets", e[i].buckets);
		cli_json_time(o, "first_seen", e[i].first_ns);
		cli_json_time(o, "last_seen", e[i].last_ns);
		json_object_array_add(arr, o);
	}
	return arr;
}

static void top_table(const struct cli_global *g, const struct cli_window *w,
		      const struct store_sum *e, size_t n)
{
	static const char *const hdr[] = { "rank", "originator", "queriers", "queries",
					   "nxdomain", "first seen", "last seen" };
	static const enum cli_align align[] = { CLI_RIGHT, CLI_LEFT,  CLI_RIGHT, CLI_RIGHT,
						CLI_RIGHT, CLI_LEFT, CLI_LEFT };
	char wt[160], a[CLI_TIME_LEN], b[CLI_TIME_LEN], addr[ADDR_STRLEN];
	struct cli_table *t = cli_table_new(7, hdr, align);

	if (!t)
		return;
	cli_window_text(w, wt, sizeof wt);
	fprintf(g->out, "top %zu originators by distinct queriers, %s\n", n, wt);
	for (size_t i = 0; i < n; i++) {
		cli_table_add_u64(t, i + 1);
		cli_table_add(t, cli_addr_format(&e[i].addr, addr, sizeof addr));
		cli_table_add_u64(t, e[i].queriers);
		cli_table_add_u64(t, e[i].queries);
		cli_table_add_u64(t, e[i].nxdomain);
		cli_table_add(t, cli_time_format(e[i].first_ns, false, a, sizeof a));
		cli_table_add(t, cli_time_format(e[i].last_ns, false, b, sizeof b));
	}
	if (n)
		cli_table_print(t, g->out);
	else
		fprintf(g->out, "(no originator in the window)\n");
	cli_table_free(t);
}

static const char top_help[] =
	"usage: backscope [--db DIR] top [--window DUR|all] [--until TIME] [--limit N] [--json]\n"
	"\n"
	"Originators ranked by the number of distinct queriers that asked for their\n"
	"PTR over the window (exact union over its buckets), then by queries.\n"
	"\n"
	"  --window DUR   trailing window: 90m, 6h, 1d (default), 1w, 1d12h; or all.\n"
	"                 It covers the buckets that start in [UNTIL - DUR, UNTIL).\n"
	"  --until TIME   end of the window: RFC 3339 (2026-11-22T10:00:00Z), a date,\n"
	"                 @SECONDS or now.  Default: the end of the newest bucket in\n"
	"                 the store, so old captures ingested offline show as they were.\n"
	"  --limit N      at most N originators (default 20; 0 = all)\n"
	"  --json         a JSON array (schema: docs/cli.md)\n"
	"  --db DIR, -c FILE   the store (see 'backscope help status')\n";

static int top_run(const struct cli_global *g0, int argc, char **argv)
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
	struct store_sum *e = NULL;
	struct cli_window w;
	uint64_t limit = TOP_LIMIT_DEFAULT;
	size_t n = 0;
	bool json = false;
	int opt, rc;

	cmd_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":c:hjw:u:n:", longopts, NULL)) != -1) {
		int c = cmd_common_opt(&g, opt, optarg);
		if (c < 0)
			return cmd_print_help(&g, &cmd_top);
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
			if (cli_parse_uint(optarg, 0, TOP_LIMIT_MAX, &limit) < 0)
				return cli_usage_error(&g, "top", "--limit %s: not a number in "
						       "0..%u", optarg, TOP_LIMIT_MAX);
			break;
		default:
			return cmd_bad_opt(&g, "top", opt, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(&g, "top", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_store_open_ro(&g, &s)))
		return rc;
	if ((rc = cli_window_resolve(&g, "top", s, window, until, &w)))
		goto out;
	if (limit == 0) {
		uint64_t all = 0;
		if ((rc = store_count_originators(s, w.from_s, w.until_s, &all)) < 0) {
			rc = cli_error(&g, "store %s: %s", store_path(s), bsc_strerror(rc));
			goto out;
		}
		limit = all;
	}
	if (limit) {
		e = mem_calloc(limit, sizeof *e);
		if (!e) {
			rc = cli_error(&g, "out of memory for %" PRIu64 " originators", limit);
			goto out;
		}
		rc = store_top(s, w.from_s, w.until_s, limit, e, &n);
		if (rc < 0) {
			rc = cli_error(&g, "store %s: %s", store_path(s), bsc_strerror(rc));
			goto out;
		}
	}
	rc = CLI_EXIT_OK;
	if (json) {
		if (cli_json_print(top_json(e, n), g.out) < 0)
			rc = cli_error(&g, "out of memory");
	} else {
		top_table(&g, &w, e, n);
	}
out:
	mem_free(e);
	store_close(s);
	return rc;
}

const struct cli_command cmd_top = {
	.name = "top",
	.summary = "originators ranked by distinct queriers over a window",
	.help = top_help,
	.run = top_run,
};
