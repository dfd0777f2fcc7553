/* tools/cmd_darknet.c — `backscope darknet label`: darknet captures through
 * tools/darknet_pcap.c into the labeler (detector/darknet.h), one label per
 * source and window as a table or a JSON array, optionally into the store.
 *
 * Main thread; with --store the store is opened read-write (one writer). */
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

#define DN_PREFIXES_MAX 64
#define DN_WINDOW_DEFAULT_S 3600u
#define DN_MAP_MAX (1ull << 40) /* the store map may grow to 1 TiB */

struct dn_records {
	struct dk_record *r;
	size_t n, cap;
	int fail;
};

static void dn_emit(const struct dk_record *rec, void *arg)
{
	struct dn_records *rs = arg;
	if (rs->fail)
		return;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 256;
		struct dk_record *r = mem_realloc(rs->r, cap * sizeof *r);
		if (!r) {
			rs->fail = BSC_ENOMEM;
			return;
		}
		rs->r = r;
		rs->cap = cap;
	}
	rs->r[rs->n++] = *rec;
}

/* Addresses in the prefixes, saturated at UINT64_MAX. */
static uint64_t dn_size(const struct bsc_addr *p, size_t n)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned bits = (p[i].family == AF_INET ? 32u : 128u) - p[i].prefix;
		uint64_t v = bits >= 64 ? UINT64_MAX : (uint64_t)1 << bits;
		sum = UINT64_MAX - sum < v ? UINT64_MAX : sum + v;
	}
	return sum;
}

static json_object *dn_json(const struct dn_records *rs)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; arr && i < rs->n; i++) {
		const struct dk_record *r = &rs->r[i];
		char t[CLI_TIME_LEN];
		json_object *o = json_object_new_object();
		json_object *ports = json_object_new_array();
		if (!o || !ports) {
			json_object_put(o);
			json_object_put(ports);
			json_object_put(arr);
			return NULL;
		}
		cli_json_addr(o, "source", &r->source);
		cli_json_str(o, "window_start",
			     cli_time_format(r->window_start_ns, false, t, sizeof t));
		cli_json_str(o, "class", darknet_class_name(r->cls));
		cli_json_str(o, "size", darknet_size_name(r->size));
		cli_json_str(o, "protocol", darknet_proto_name(r->protocol));
		for (uint8_t k = 0; k < r->nports && k < DK_RECORD_PORTS; k++)
			json_object_array_add(ports, json_object_new_int(r->ports[k]));
		json_object_object_add(o, "ports", ports);
		cli_json_u64(o, "packets", r->packets);
		cli_json_u64(o, "destinations", r->destinations);
		cli_json_str(o, "tool", fingerprint_tool_name(r->tool));
		cli_json_str(o, "service", darknet_service_name(r->service));
		json_object_array_add(arr, o);
	}
	return arr;
}

static void dn_table(const struct cli_global *g, const struct dn_records *rs)
{
	static const char *const hdr[] = { "source", "window start", "class", "size",
					   "protocol", "ports", "packets", "destinations",
					   "tool", "service" };
	static const enum cli_align align[] = { CLI_LEFT, CLI_LEFT, CLI_LEFT, CLI_LEFT,
						CLI_LEFT, CLI_LEFT, CLI_RIGHT, CLI_RIGHT,
						CLI_LEFT, CLI_LEFT };
	char a[ADDR_STRLEN], t[CLI_TIME_LEN], ports[64];
	struct cli_table *tb = cli_table_new(10, hdr, align);

	if (!tb)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		const struct dk_record *r = &rs->r[i];
		const char *sz = darknet_size_name(r->size);
		const char *tool = fingerprint_tool_name(r->tool);
		const char *svc = darknet_service_name(r->service);
		size_t pos = 0;
		ports[0] = '\0';
		for (uint8_t k = 0; k < r->nports && k < DK_RECORD_PORTS; k++)
			pos += (size_t)snprintf(ports + pos, sizeof ports - pos, "%s%u",
						k ? "," : "", r->ports[k]);
		cli_table_add(tb, cli_addr_format(&r->source, a, sizeof a));
		cli_table_add(tb, cli_time_format(r->window_start_ns, false, t, sizeof t));
		cli_table_add(tb, darknet_class_name(r->cls));
		cli_table_add(tb, sz ? sz : "-");
		cli_table_add(tb, darknet_proto_name(r->protocol));
		cli_table_add(tb, pos ? ports : "-");
		cli_table_add_u64(tb, r->packets);
		cli_table_add_u64(tb, r->destinations);
		cli_table_add(tb, tool ? tool : "-");
		cli_table_add(tb, svc ? svc : "-");
	}
	if (rs->n)
		cli_table_print(tb, g->out);
	else
		fprintf(g->out, "(no packet to the darknet)\n");
	cli_table_free(tb);
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
static int dn_store(const struct cli_global *g, const struct dn_records *rs, uint64_t window_s)
{
	struct store_opts so = { .map_max = DN_MAP_MAX };
	struct store_label *l = NULL;
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
	if (rs->n && !(l = mem_calloc(rs->n, sizeof *l))) {
		rc = cli_error(g, "out of memory for %zu labels", rs->n);
		goto out;
	}
	for (size_t i = 0; i < rs->n; i++) {
		const struct dk_record *r = &rs->r[i];
		l[i].bucket_s = bucket_start(r->window_start_ns, blen);
		l[i].source = r->source;
		l[i].cls = (uint8_t)r->cls;
		l[i].size = (uint8_t)r->size;
		l[i].protocol = (uint8_t)r->protocol;
		l[i].tool = (uint8_t)r->tool;
		l[i].service = (uint8_t)r->service;
		l[i].nports = r->nports < STORE_LABEL_PORTS ? r->nports : STORE_LABEL_PORTS;
		memcpy(l[i].ports, r->ports, l[i].nports * sizeof l[i].ports[0]);
		l[i].packets = r->packets;
		l[i].destinations = r->destinations;
		l[i].window_start_s = r->window_start_ns / NS_PER_S;
		l[i].window_len_s = (uint32_t)(window_s > UINT32_MAX ? UINT32_MAX : window_s);
	}
	for (;;) {
		rc = store_label_put(s, l, rs->n);
		if (rc != BSC_ENOSPC || store_grow(s) < 0)
			break;
	}
	if (rc < 0)
		rc = cli_error(g, "store %s: writing %zu labels: %s", store_path(s), rs->n,
			       bsc_strerror(rc));
	else
		log_info("darknet: %zu labels written to %s", rs->n, store_path(s));
out:
	mem_free(l);
	store_close(s);
	return rc < 0 ? CLI_EXIT_ERR : rc;
}

static const char dn_help[] =
	"usage: backscope darknet label PCAP... [--darknet PREFIX]... [--window DUR]\n"
	"                               [--json] [--store]\n"
	"\n"
	"Label every source seen in darknet captures (pcap/pcapng; - = stdin) with\n"
	"the darknet taxonomy: one row per source and window.\n"
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
	"Exit status: 0 ok, 1 a capture could not be read whole (labels of what was\n"
	"read are still printed) or the store failed, 2 usage error.\n";

static int dn_label(const struct cli_global *g0, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
						  { "json", no_argument, NULL, 'j' },
						  { "store", no_argument, NULL, 's' },
						  { "window", required_argument, NULL, 'w' },
						  { "darknet", required_argument, NULL, 'd' },
						  { NULL, 0, NULL, 0 } };
	struct cli_global g = *g0;
	struct bsc_addr pfx[DN_PREFIXES_MAX];
	struct darknet_pcap_stats tot;
	struct dn_records rs = { 0 };
	struct darknet *dk = NULL;
	struct dk_config cfg;
	uint64_t window_s = DN_WINDOW_DEFAULT_S;
	size_t npfx = 0;
	bool json = false, store = false;
	int opt, rc;

	memset(&tot, 0, sizeof tot);
	cmd_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":c:hjsw:d:", longopts, NULL)) != -1) {
		int c = cmd_common_opt(&g, opt, optarg);
		if (c < 0)
			return cmd_print_help(&g, &cmd_darknet);
		if (c > 0)
			continue;
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 's':
			store = true;
			break;
		case 'w':
			if (cli_parse_duration(optarg, &window_s) < 0)
				return cli_usage_error(&g, "darknet", "--window %s: not a duration",
						       optarg);
			break;
		case 'd':
			if (npfx == DN_PREFIXES_MAX)
				return cli_usage_error(&g, "darknet", "more than %d --darknet "
						       "prefixes", DN_PREFIXES_MAX);
			if (addr_parse(&pfx[npfx], optarg, false) < 0)
				return cli_usage_error(&g, "darknet", "--darknet %s: not an "
						       "address prefix", optarg);
			npfx++;
			break;
		default:
			return cmd_bad_opt(&g, "darknet", opt, argv);
		}
	}
	if (optind >= argc || strcmp(argv[optind], "label") != 0)
		return cli_usage_error(&g, "darknet", "expected 'label' and capture files");
	optind++;
	if (optind >= argc)
		return cli_usage_error(&g, "darknet", "no capture file");
	darknet_config_default(&cfg);
	cfg.window_ns = window_s * 1000000000ull;
	cfg.darknet_size = dn_size(pfx, npfx);
	cfg.emit = dn_emit;
	cfg.emit_arg = &rs;
	if ((rc = darknet_create(&dk, &cfg)) < 0)
		return cli_error(&g, "labeler: %s", bsc_strerror(rc));
	struct darknet_pcap_opts o = { .prefixes = pfx, .nprefixes = npfx };
	rc = CLI_EXIT_OK;
	for (int i = optind; i < argc; i++) {
		if (dn_read(&g, dk, argv[i], &o, &tot) != CLI_EXIT_OK)
			rc = CLI_EXIT_ERR;
	}
	darknet_flush(dk);
	if (rs.fail) {
		rc = cli_error(&g, "out of memory for the labels");
		goto out;
	}
	struct dk_counters cnt;
	darknet_counters(dk, &cnt);
	if (cnt.dropped_full)
		cli_warning(&g, "%" PRIu64 " packets of new sources dropped: source table full",
			    cnt.dropped_full);
	if (tot.truncated || tot.bad_ip || tot.linktype || tot.bad_l4) {
		char line[256];
		darknet_pcap_stats_format(&tot, line, sizeof line);
		cli_warning(&g, "damaged or skipped packets: %s", line);
	}
	if (json) {
		if (cli_json_print(dn_json(&rs), g.out) < 0)
			rc = cli_error(&g, "out of memory");
	} else {
		dn_table(&g, &rs);
	}
	if (store) {
		int src = dn_store(&g, &rs, window_s);
		if (src != CLI_EXIT_OK)
			rc = src;
	}
out:
	darknet_destroy(dk);
	mem_free(rs.r);
	return rc;
}

const struct cli_command cmd_darknet = {
	.name = "darknet",
	.summary = "label darknet captures with the darknet taxonomy",
	.help = dn_help,
	.run = dn_label,
};
