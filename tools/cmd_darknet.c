/* tools/cmd_darknet.c — `backscope darknet label`: darknet captures through
 * tools/darknet_pcap.c into the labeler (detector/darknet.h), one label per
 * source and window as a table or a JSON array, optionally into the store;
 * `backscope darknet labels`: the labels of the store read back, filtered.
 *
 * Main thread; label --store opens the store read-write (one writer),
 * labels opens it read-only. */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include "common/bucket.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/store.h"
#include "detector/darknet.h"
#include "tools/cmds.h"
#include "tools/darknet_pcap.h"
#include "tools/labelout.h"

#define DN_PREFIXES_MAX 64
#define DN_WINDOW_DEFAULT_S 3600u
#define DN_MAP_MAX (1ull << 40) /* the store map may grow to 1 TiB */

/* The labels of the records, as the labeler emits them. */
struct dn_records {
	struct store_label *l;
	size_t n, cap;
	uint64_t window_s;
	int fail;
};

static void dn_emit(const struct dk_record *rec, void *arg)
{
	struct dn_records *rs = arg;
	if (rs->fail)
		return;
	if (rs->n == rs->cap) {
		struct store_label *l = mem_grow(rs->l, &rs->cap, sizeof *l, 256);

		if (!l) {
			rs->fail = BSC_ENOMEM;
			return;
		}
		rs->l = l;
	}
	labelout_from_record(&rs->l[rs->n++], rec, rs->window_s);
}

/* IPv4 addresses in the prefixes (the size that scales the thresholds; IPv6
 * sources are judged by the floors). */
static uint64_t dn_size(const struct bsc_addr *p, size_t n)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i].family != AF_INET)
			continue;
		unsigned bits = 32u - p[i].prefix;
		uint64_t v = bits >= 64 ? UINT64_MAX : (uint64_t)1 << bits;
		sum = UINT64_MAX - sum < v ? UINT64_MAX : sum + v;
	}
	return sum;
}

/* Read one capture into @dk.  Returns 0, or CLI_EXIT_ERR after printing the
 * damage (what was read before it is kept). */
static int dn_read(const struct cli_global *g, struct darknet *dk, const char *path,
		   const struct darknet_pcap_opts *o, struct darknet_pcap_stats *tot)
{
	char err[512], line[256];
	struct darknet_pcap *p;
	struct dk_packet k;
	int rc = darknet_pcap_open(&p, path, o, err, sizeof err);
	if (rc)
		return cli_error(g, "%s", err);
	while ((rc = darknet_pcap_next(p, &k)) == 1)
		darknet_add(dk, &k);
	const struct darknet_pcap_stats *s = darknet_pcap_stats(p);
	darknet_pcap_stats_format(s, line, sizeof line);
	log_info("darknet: %s: %s", path, line);
	tot->packets += s->packets;
	tot->kept += s->kept;
	tot->outside += s->outside;
	tot->linktype += s->linktype;
	tot->not_ip += s->not_ip;
	tot->bad_ip += s->bad_ip;
	tot->truncated += s->truncated;
	tot->bad_l4 += s->bad_l4;
	tot->fragments += s->fragments;
	if (rc < 0)
		rc = cli_error(g, "%s", darknet_pcap_error(p));
	darknet_pcap_close(p);
	return rc;
}

/* Write the labels into the store's label DB: one transaction, the map
 * grown when full.  Each window must cover whole buckets of the store. */
static int dn_store(const struct cli_global *g, struct store_label *l, size_t n,
		    uint64_t window_s)
{
	struct store_opts so = { .map_max = DN_MAP_MAX };
	struct store *s = NULL;
	char dir[4096];
	int rc = cli_store_dir(g, dir, sizeof dir);

	if (rc)
		return rc;
	rc = store_open(&s, dir, &so);
	if (rc < 0)
		return cli_error(g, "store %s: cannot open it for writing: %s", dir,
				 bsc_strerror(rc));
	uint32_t blen = store_bucket_len(s);
	if (window_s % blen != 0) {
		rc = cli_usage_error(g, "darknet", "--store: the window (%" PRIu64 " s) must be "
				     "a multiple of the store's bucket length (%" PRIu32 " s)",
				     window_s, blen);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		l[i].bucket_s = l[i].window_start_s - l[i].window_start_s % blen;
	for (;;) {
		rc = store_label_put(s, l, n);
		if (rc != BSC_ENOSPC || store_grow(s) < 0)
			break;
	}
	if (rc < 0)
		rc = cli_error(g, "store %s: writing %zu labels: %s", store_path(s), n,
			       bsc_strerror(rc));
	else
		log_info("darknet: %zu labels written to %s", n, store_path(s));
out:
	store_close(s);
	return rc < 0 ? CLI_EXIT_ERR : rc;
}

static const char dn_help[] =
	"usage: backscope darknet label PCAP... [--darknet PREFIX]... [--window DUR]\n"
	"                               [--json] [--store]\n"
	"       backscope darknet labels [--since TIME] [--until TIME]\n"
	"                                [--source ADDR|PREFIX] [--class CLASS] [--json]\n"
	"\n"
	"label: label every source seen in darknet captures (pcap/pcapng; - = stdin)\n"
	"with the darknet taxonomy: one row per source and window.\n"
	"\n"
	"  --darknet PREFIX  a darknet prefix (198.18.0.0/24, 2001:db8::/48); may be\n"
	"                    repeated.  Only packets to these destinations count, and\n"
	"                    their total size scales the thresholds.  Default: every\n"
	"                    destination, darknet size unknown.\n"
	"  --window DUR      label window: 15m, 1h (default), 1d\n"
	"  --json            a JSON array (schema: docs/cli.md)\n"
	"  --store           also write the labels into the store's label database,\n"
	"                    keyed by bucket and source (--db DIR / -c FILE choose\n"
	"                    the store; the window must be a multiple of its bucket\n"
	"                    length).  Without --store nothing is written.\n"
	"\n"
	"labels: the labels of the store (--db DIR / -c FILE), read-only, in key\n"
	"order (window, then address), with the fields of 'label --json'.\n"
	"\n"
	"  --since TIME      labels whose window ends after TIME (RFC 3339, a date,\n"
	"                    @SECONDS or now)\n"
	"  --until TIME      labels whose window starts before TIME\n"
	"  --source A|P      one source address, or the sources inside a prefix\n"
	"  --class CLASS     one class: network-scan, port-scan, backscatter,\n"
	"                    ip-fragment, one-flow, small-syn, small-udp, small-ping,\n"
	"                    other\n"
	"  --json            a JSON array (the schema of 'label --json')\n"
	"\n"
	"Exit status: 0 ok, 1 a capture could not be read whole (labels of what was\n"
	"read are still printed) or the store failed, 2 usage error.\n";

/* The options of both subcommands (each refuses the other's). */
struct dn_opts {
	bool json, store;
	uint64_t window_s;
	bool window_set;
	struct bsc_addr pfx[DN_PREFIXES_MAX];
	size_t npfx;
	const char *since, *until, *source, *cls;
};

static int dn_label(const struct cli_global *g, const struct dn_opts *op, int first, int argc,
		    char **argv)
{
	struct darknet_pcap_stats tot;
	struct dn_records rs = { 0 };
	struct darknet *dk = NULL;
	struct dk_config cfg;
	uint64_t window_s = op->window_s;
	int rc;

	if (op->since || op->until || op->source || op->cls)
		return cli_usage_error(g, "darknet", "--since, --until, --source and --class "
				       "belong to 'darknet labels'");
	if (first >= argc)
		return cli_usage_error(g, "darknet", "no capture file");
	memset(&tot, 0, sizeof tot);
	darknet_config_default(&cfg);
	cfg.window_ns = window_s * 1000000000ull;
	cfg.darknet_size = dn_size(op->pfx, op->npfx);
	cfg.emit = dn_emit;
	cfg.emit_arg = &rs;
	rs.window_s = window_s;
	if ((rc = darknet_create(&dk, &cfg)) < 0)
		return cli_error(g, "labeler: %s", bsc_strerror(rc));
	struct darknet_pcap_opts o = { .prefixes = op->pfx, .nprefixes = op->npfx };
	rc = CLI_EXIT_OK;
	for (int i = first; i < argc; i++) {
		if (dn_read(g, dk, argv[i], &o, &tot) != CLI_EXIT_OK)
			rc = CLI_EXIT_ERR;
	}
	darknet_flush(dk);
	if (rs.fail) {
		rc = cli_error(g, "out of memory for the labels");
		goto out;
	}
	struct dk_counters cnt;
	darknet_counters(dk, &cnt);
	if (cnt.dropped_full)
		cli_warning(g, "%" PRIu64 " packets of new sources dropped: source table full",
			    cnt.dropped_full);
	if (cnt.dropped_nomem)
		cli_warning(g, "%" PRIu64 " packets of new sources dropped: out of memory",
			    cnt.dropped_nomem);
	if (cnt.sketch_failed)
		cli_warning(g, "%" PRIu64 " sources past their exact table without memory for "
			    "sketches: their counts are lower bounds", cnt.sketch_failed);
	if (tot.truncated || tot.bad_ip || tot.linktype || tot.bad_l4) {
		char line[256];
		darknet_pcap_stats_format(&tot, line, sizeof line);
		cli_warning(g, "damaged or skipped packets: %s", line);
	}
	if (op->json)
		labelout_json_write(g->out, rs.l, rs.n);
	else
		labelout_table(g->out, rs.l, rs.n, "(no packet to the darknet)");
	if (op->store) {
		int src = dn_store(g, rs.l, rs.n, window_s);
		if (src != CLI_EXIT_OK)
			rc = src;
	}
out:
	darknet_destroy(dk);
	mem_free(rs.l);
	return rc;
}

/* ---- darknet labels ---- */

struct dn_read_ctx {
	uint64_t since_s, until_s;       /* 0: no bound */
	struct bsc_addr source;          /* family 0: any */
	int cls;                         /* -1: any */
	struct store_label *v;
	size_t n, cap;
};

static int dn_collect(void *arg, const struct store_label *l)
{
	struct dn_read_ctx *c = arg;
	uint64_t end = l->window_start_s + (l->window_len_s ? l->window_len_s : 1);

	if ((c->since_s && end <= c->since_s) || (c->until_s && l->window_start_s >= c->until_s))
		return 0;
	if (c->source.family && !addr_in_prefix(&l->source, &c->source))
		return 0;
	if (c->cls >= 0 && l->cls != c->cls)
		return 0;
	if (c->n == c->cap) {
		struct store_label *v = mem_grow(c->v, &c->cap, sizeof *v, 256);

		if (!v)
			return BSC_ENOMEM;
		c->v = v;
	}
	c->v[c->n++] = *l;
	return 0;
}

static int dn_labels(const struct cli_global *g, const struct dn_opts *op, int first, int argc,
		     char **argv)
{
	struct dn_read_ctx c = { .cls = -1 };
	struct store *s = NULL;
	uint64_t now = cli_now_wall_ns() / 1000000000ull;
	int rc;

	if (op->store || op->window_set || op->npfx)
		return cli_usage_error(g, "darknet", "--store, --window and --darknet belong to "
				       "'darknet label'");
	if (first < argc)
		return cli_usage_error(g, "darknet", "unexpected argument '%s'", argv[first]);
	if (op->since && cli_parse_time(op->since, now, &c.since_s) < 0)
		return cli_usage_error(g, "darknet", "--since %s: not a time", op->since);
	if (op->until && cli_parse_time(op->until, now, &c.until_s) < 0)
		return cli_usage_error(g, "darknet", "--until %s: not a time", op->until);
	if (op->since && op->until && c.since_s >= c.until_s)
		return cli_usage_error(g, "darknet", "--since must be before --until");
	if (op->until && c.until_s == 0)
		return cli_usage_error(g, "darknet", "--until %s: no label can start before it",
				       op->until);
	if (op->source && addr_parse(&c.source, op->source, false) < 0 &&
	    cli_parse_addr(op->source, &c.source) < 0)
		return cli_usage_error(g, "darknet", "--source %s: not an address or prefix",
				       op->source);
	if (op->cls) {
		for (int i = 0; i < DK_CLASS_COUNT; i++)
			if (strcmp(op->cls, darknet_class_name((enum dk_class)i)) == 0)
				c.cls = i;
		if (c.cls < 0)
			return cli_usage_error(g, "darknet", "--class %s: not a darknet "
					       "class (network-scan, port-scan, backscatter, "
					       "ip-fragment, one-flow, small-syn, small-udp, "
					       "small-ping, other)", op->cls);
	}
	if ((rc = cli_store_open_ro(g, &s)))
		return rc;
	/* a label's bucket holds its window start, so the walk can stop at
	 * --until; windows may reach back, so it starts at the beginning */
	rc = store_label_walk(s, 0, c.until_s ? c.until_s : UINT64_MAX, dn_collect, &c);
	if (rc < 0) {
		rc = cli_error(g, "store %s: reading the labels: %s", store_path(s),
			       bsc_strerror(rc));
		goto out;
	}
	rc = CLI_EXIT_OK;
	if (op->json)
		labelout_json_write(g->out, c.v, c.n);
	else
		labelout_table(g->out, c.v, c.n, "(no darknet label matches)");
out:
	mem_free(c.v);
	store_close(s);
	return rc;
}

static int dn_run(const struct cli_global *g0, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
						  { "json", no_argument, NULL, 'j' },
						  { "store", no_argument, NULL, 's' },
						  { "window", required_argument, NULL, 'w' },
						  { "darknet", required_argument, NULL, 'd' },
						  { "since", required_argument, NULL, 'S' },
						  { "until", required_argument, NULL, 'U' },
						  { "source", required_argument, NULL, 'a' },
						  { "class", required_argument, NULL, 'k' },
						  { NULL, 0, NULL, 0 } };
	struct cli_global g = *g0;
	struct dn_opts op;
	int opt;

	memset(&op, 0, sizeof op);
	op.window_s = DN_WINDOW_DEFAULT_S;
	cmd_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":c:hjsw:d:", longopts, NULL)) != -1) {
		int c = cmd_common_opt(&g, opt, optarg);
		if (c < 0)
			return cmd_print_help(&g, &cmd_darknet);
		if (c > 0)
			continue;
		switch (opt) {
		case 'j':
			op.json = true;
			break;
		case 's':
			op.store = true;
			break;
		case 'w':
			if (cli_parse_duration(optarg, &op.window_s) < 0)
				return cli_usage_error(&g, "darknet", "--window %s: not a duration",
						       optarg);
			op.window_set = true;
			break;
		case 'd':
			if (op.npfx == DN_PREFIXES_MAX)
				return cli_usage_error(&g, "darknet", "more than %d --darknet "
						       "prefixes", DN_PREFIXES_MAX);
			if (addr_parse(&op.pfx[op.npfx], optarg, false) < 0)
				return cli_usage_error(&g, "darknet", "--darknet %s: not an "
						       "address prefix", optarg);
			op.npfx++;
			break;
		case 'S':
			op.since = optarg;
			break;
		case 'U':
			op.until = optarg;
			break;
		case 'a':
			op.source = optarg;
			break;
		case 'k':
			op.cls = optarg;
			break;
		default:
			return cmd_bad_opt(&g, "darknet", opt, argv);
		}
	}
	if (optind < argc && strcmp(argv[optind], "label") == 0)
		return dn_label(&g, &op, optind + 1, argc, argv);
	if (optind < argc && strcmp(argv[optind], "labels") == 0)
		return dn_labels(&g, &op, optind + 1, argc, argv);
	return cli_usage_error(&g, "darknet", "expected 'label' and capture files, or 'labels'");
}

const struct cli_command cmd_darknet = {
	.name = "darknet",
	.summary = "label darknet captures with the darknet taxonomy; read labels back",
	.help = dn_help,
	.run = dn_run,
};
