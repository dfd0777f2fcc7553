/* tools/cmd_status.c — `backscope status`: what the store holds (schema,
 * buckets, event counters by class, originators, pairs, last flush, TTLs,
 * ingested files), as a table or JSON.
 *
 * Main thread; opens the store read-only. */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include "common/bucket.h"
#include "common/err.h"
#include "common/store.h"
#include "tools/cmds.h"

static int count_cb(void *ctx, const char *name, const char *value)
{
	(void)name;
	(void)value;
	(*(uint64_t *)ctx)++;
	return 0;
}

struct status {
	struct store_info info;
	uint64_t originators;
	uint64_t ingested;
};

static json_object *status_json(struct store *s, const struct status *st)
{
	const struct store_info *i = &st->info;
	json_object *o = json_object_new_object();

	cli_json_str(o, "store", store_path(s));
	cli_json_u64(o, "schema", i->schema);
	cli_json_u64(o, "bucket_len", i->bucket_len);
	cli_json_u64(o, "bin_len", i->bin_len);
	cli_json_time(o, "created", i->created_s * NS_PER_S);
	cli_json_u64(o, "buckets", i->buckets);
	cli_json_time(o, "first_bucket", i->buckets ? i->first_bucket_s * NS_PER_S : 0);
	cli_json_time(o, "last_bucket", i->buckets ? i->last_bucket_s * NS_PER_S : 0);
	cli_json_u64(o, "events", i->events);
	cli_json_u64(o, "dropped", i->dropped);
	cli_json_u64(o, "ptr", i->ptr);
	cli_json_u64(o, "partial", i->partial);
	cli_json_u64(o, "other_qtype", i->other_qtype);
	cli_json_u64(o, "other_name", i->other_name);
	cli_json_u64(o, "invalid", i->invalid);
	cli_json_u64(o, "originators", st->originators);
	cli_json_u64(o, "originator_rows", i->orig_records);
	cli_json_u64(o, "pairs", i->origq_records);
	cli_json_u64(o, "flushes", i->flushes);
	cli_json_time(o, "last_flush", i->last_flush_ns);
	if (i->ptr_ttl == UINT64_MAX)
		cli_json_str(o, "ptr_ttl", NULL);
	else
		cli_json_u64(o, "ptr_ttl", i->ptr_ttl);
	if (i->neg_ttl == UINT64_MAX)
		cli_json_str(o, "neg_ttl", NULL);
	else
		cli_json_u64(o, "neg_ttl", i->neg_ttl);
	cli_json_u64(o, "map_size", i->map_size);
	cli_json_u64(o, "map_used", i->map_used);
	cli_json_u64(o, "ingested_files", st->ingested);
	return o;
}

/* One row: name, a number (right-aligned) or "", a note. */
static void row(struct cli_table *t, const char *name, const char *num, const char *note)
{
	cli_table_add(t, name);
	cli_table_add(t, num);
	cli_table_add(t, note);
}

static void row_u64(struct cli_table *t, const char *name, uint64_t v, const char *note)
{
	char num[24];

	snprintf(num, sizeof num, "%" PRIu64, v);
	row(t, name, num, note);
}

static void status_table(const struct cli_global *g, struct store *s, const struct status *st)
{
	static const enum cli_align align[] = { CLI_LEFT, CLI_RIGHT, CLI_LEFT };
	const struct store_info *i = &st->info;
	char a[CLI_TIME_LEN], b[CLI_TIME_LEN], note[160], x[32], y[32];
	struct cli_table *t = cli_table_new(3, NULL, align);

	if (!t)
		return;
	row(t, "store", "", store_path(s));
	snprintf(note, sizeof note, "created %s", cli_time_format(i->created_s * NS_PER_S, false,
								     a, sizeof a));
	row_u64(t, "schema", i->schema, note);
	snprintf(note, sizeof note, "s, bins of %" PRIu32 " s", i->bin_len);
	row_u64(t, "bucket length", i->bucket_len, note);
	if (i->buckets)
		snprintf(note, sizeof note, "%s .. %s",
			 cli_time_format(i->first_bucket_s * NS_PER_S, false, a, sizeof a),
			 cli_time_format(i->last_bucket_s * NS_PER_S, false, b, sizeof b));
	else
		snprintf(note, sizeof note, "(none yet)");
	row_u64(t, "buckets", i->buckets, note);
	row_u64(t, "events", i->events, "every query event counted");
	row_u64(t, "  ptr", i->ptr, "PTR for full names: aggregated per originator");
	row_u64(t, "  partial", i->partial, "zone cuts, QNAME-minimisation probes");
	row_u64(t, "  other qtype", i->other_qtype, "full names, qtype other than PTR");
	row_u64(t, "  other name", i->other_name, "names that are no reverse name");
	row_u64(t, "  invalid", i->invalid, "no usable querier address");
	row_u64(t, "dropped", i->dropped, i->dropped ? "events lost before the store (see logs)"
						      : "");
	row_u64(t, "originators", st->originators, "distinct, all buckets");
	row_u64(t, "originator rows", i->orig_records, "(bucket, originator)");
	row_u64(t, "pairs", i->origq_records, "(bucket, originator, querier)");
	row_u64(t, "flushes", i->flushes, "");
	row(t, "last flush", "", i->last_flush_ns ? cli_time_format(i->last_flush_ns, false, a,
								      sizeof a)
						     : "never");
	if (i->ptr_ttl == UINT64_MAX)
		row(t, "ptr ttl", "", "not recorded");
	else
		row_u64(t, "ptr ttl", i->ptr_ttl, "s");
	if (i->neg_ttl == UINT64_MAX)
		row(t, "negative ttl", "", "not recorded");
	else
		row_u64(t, "negative ttl", i->neg_ttl, "s");
	snprintf(note, sizeof note, "%s used of %s", cli_bytes_format(i->map_used, x, sizeof x),
		 cli_bytes_format(i->map_size, y, sizeof y));
	row(t, "map", "", note);
	row_u64(t, "ingested files", st->ingested, "");
	cli_table_print(t, g->out);
	cli_table_free(t);
}

static const char status_help[] =
	"usage: backscope [--db DIR] status [--json]\n"
	"\n"
	"What the store holds: its folder, schema, bucket length, the buckets held\n"
	"(first and last), events by class, dropped events, distinct originators,\n"
	"(originator, querier) pairs, the last flush, the TTLs in force and the number\n"
	"of ingested files.  Opens the store read-only: never blocks the server.\n"
	"\n"
	"  --json      one JSON object (schema: docs/cli.md)\n"
	"  --db DIR    the store folder (default: -c FILE's [server] db, else\n"
	"              " CLI_DB_DEFAULT ")\n"
	"  -c FILE     the configuration file to take the store folder from\n";

static int status_run(const struct cli_global *g0, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
						  { "json", no_argument, NULL, 'j' },
						  { NULL, 0, NULL, 0 } };
	struct cli_global g = *g0;
	struct store *s = NULL;
	struct status st;
	bool json = false;
	int opt, rc;

	cmd_getopt_reset();
	while ((opt = getopt_long(argc, argv, ":c:hj", longopts, NULL)) != -1) {
		int c = cmd_common_opt(&g, opt, optarg);
		if (c < 0)
			return cmd_print_help(&g, &cmd_status);
		if (c > 0)
			continue;
		if (opt == 'j')
			json = true;
		else
			return cmd_bad_opt(&g, "status", opt, argv);
	}
	if (optind < argc)
		return cli_usage_error(&g, "status", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_store_open_ro(&g, &s)))
		return rc;
	memset(&st, 0, sizeof st);
	if ((rc = store_info(s, &st.info)) < 0 ||
	    (rc = store_count_originators(s, 0, UINT64_MAX, &st.originators)) < 0 ||
	    (rc = store_meta_str_walk(s, "ingest/", count_cb, &st.ingested)) < 0) {
		rc = cli_error(&g, "store %s: %s", store_path(s), bsc_strerror(rc));
		goto out;
	}
	if (json) {
		if (cli_json_print(status_json(s, &st), g.out) < 0)
			rc = cli_error(&g, "out of memory");
	} else {
		status_table(&g, s, &st);
	}
out:
	store_close(s);
	return rc;
}

const struct cli_command cmd_status = {
	.name = "status",
	.summary = "what the store holds: buckets, events, originators, last flush",
	.help = status_help,
	.run = status_run,
};
