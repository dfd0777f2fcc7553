/* authd/config.c — authd's config schema, flag parsing and the merge of flags
 * over the file.  Main thread only. */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "authd/capture.h"
#include "authd/config.h"
#include "common/bucket.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/version.h"

#define OFF(field) offsetof(struct authd_conf, field)
#define ZOFF(field) offsetof(struct authd_zone_conf, field)

static const char *const log_targets[] = { "stderr", "syslog", NULL };

static const struct conf_item server_items[] = {
	{ .key = "listen", .type = CONF_ADDR_LIST, .off = OFF(listen), .def = "127.0.0.1@5353",
	  .default_port = 53,
	  .help = "Addresses to answer on, ADDR@PORT (port 0: any free port, the same for UDP "
		  "and TCP).  0.0.0.0 and :: work: replies leave from the address the query "
		  "came to." },
	{ .key = "workers", .type = CONF_UINT, .off = OFF(workers), .def = "1", .min = 1,
	  .max = AUTHD_MAX_WORKERS,
	  .help = "UDP worker threads; each has its own SO_REUSEPORT socket per address." },
	{ .key = "user", .type = CONF_STRING, .off = OFF(user),
	  .help = "Drop to this user (and its groups) after binding; empty: keep the current "
		  "user.  Zone files must be readable by it for SIGHUP reloads." },
	{ .key = "udp_max_payload", .type = CONF_UINT, .off = OFF(udp_max_payload),
	  .def = "1232", .min = 512, .max = 4096,
	  .help = "Largest UDP answer with EDNS, in bytes (RFC 9715 default 1232)." },
	{ .key = "nsid", .type = CONF_STRING, .off = OFF(nsid),
	  .help = "NSID (RFC 5001) sent to clients that ask: text, or hex bytes as 0x…; "
		  "empty: off." },
	{ .key = "version", .type = CONF_STRING, .off = OFF(version),
	  .def = BSC_PRODUCT " " BSC_VERSION,
	  .help = "Answer to CH TXT version.bind/version.server; \"off\" or empty: REFUSED." },
	{ .key = "identity", .type = CONF_STRING, .off = OFF(identity),
	  .help = "Answer to CH TXT id.server/hostname.bind; empty: REFUSED." },
	{ .key = "tcp_max_clients", .type = CONF_UINT, .off = OFF(tcp_max_clients),
	  .def = "256", .min = 1, .max = 65535,
	  .help = "Open TCP connections at most; further ones are closed at once." },
	{ .key = "tcp_idle_timeout", .type = CONF_DURATION, .off = OFF(tcp_idle_timeout_ms),
	  .def = "10s", .min = 10, .max = 3600000,
	  .help = "Close a TCP connection idle this long (RFC 7766)." },
	{ .key = "tcp_max_pipeline", .type = CONF_UINT, .off = OFF(tcp_max_pipeline),
	  .def = "100", .min = 1, .max = 65535,
	  .help = "Answers in flight per TCP connection; reading pauses above it." },
	{ .key = "check_zone_perms", .type = CONF_BOOL, .off = OFF(check_zone_perms),
	  .def = "yes",
	  .help = "Refuse zone files writable by group or others, or owned by a user other "
		  "than root and the server's user." },
	{ .key = "log_level", .type = CONF_LOGLEVEL, .off = OFF(log_level), .def = "info",
	  .help = "error, warning, notice, info or debug (-d, -v, -q override)." },
	{ .key = "log_target", .type = CONF_ENUM, .off = OFF(log_target), .def = "stderr",
	  .choices = log_targets, .help = "stderr (journald) or syslog." },
	{ .key = "stats_interval", .type = CONF_DURATION, .off = OFF(stats_interval_ms),
	  .def = "60s", .min = 0, .max = 86400000,
	  .help = "Log the counters this often (and on SIGUSR1); 0: only at shutdown." },
	{ .key = "db", .type = CONF_PATH, .off = OFF(db), .def = "/var/lib/backscope",
	  .help = "Store folder of the capture; created when missing." },
	{ .key = "pidfile", .type = CONF_PATH, .off = OFF(pidfile),
	  .help = "Write the process id here; empty: none." },
	{ .key = NULL },
};

static const struct conf_item zone_items[] = {
	{ .key = "origin", .type = CONF_STRING, .off = ZOFF(origin),
	  .help = "Zone apex, e.g. 10.in-addr.arpa.; empty: from $ORIGIN or the SOA owner." },
	{ .key = "file", .type = CONF_PATH, .off = ZOFF(file),
	  .help = "Master file (RFC 1035), relative to this config file's folder." },
	{ .key = NULL },
};

static const char *const log_syncs[] = { "close", "none", "flush", NULL }; /* enum evlog_sync */
static const char *const store_syncs[] = { "full", "nometa", NULL };       /* enum store_sync */

static const struct conf_item capture_items[] = {
	{ .key = "enabled", .type = CONF_BOOL, .off = OFF(capture.enabled), .def = "yes",
	  .help = "Store every query for a name in our zones (event log and aggregates in the "
		  "store at db); no: only count them." },
	{ .key = "event_log", .type = CONF_BOOL, .off = OFF(capture.event_log), .def = "yes",
	  .help = "Also append every event to rotating event-log segments (replayable with "
		  "backscope ingest log)." },
	{ .key = "log_dir", .type = CONF_PATH, .off = OFF(capture.log_dir),
	  .help = "Folder of the event-log segments; empty: DB/events." },
	{ .key = "segment_size", .type = CONF_SIZE, .off = OFF(capture.segment_size),
	  .def = "64M", .min = 64 << 10, .max = 16ull << 30,
	  .help = "Start a new segment before one would grow past this." },
	{ .key = "segment_age", .type = CONF_DURATION, .off = OFF(capture.segment_age_ms),
	  .def = "1h", .min = 1000, .max = 7 * 86400000ull,
	  .help = "Start a new segment when the current one is older than this." },
	{ .key = "event_log_sync", .type = CONF_ENUM, .off = OFF(capture.log_sync),
	  .def = "close", .choices = log_syncs,
	  .help = "fdatasync segments: close (when a segment is closed), flush (every 64 KiB "
		  "written) or none (left to the kernel)." },
	{ .key = "bucket", .type = CONF_DURATION, .off = OFF(capture.bucket_ms), .def = "1h",
	  .min = 60000, .max = BUCKET_LEN_MAX * 1000ull,
	  .help = "Time bucket of the aggregates, whole seconds.  Fixed when the store is "
		  "created: another value than the store's is refused at start-up." },
	{ .key = "bin", .type = CONF_DURATION, .off = OFF(capture.bin_ms), .def = "10m",
	  .min = 1000, .max = BUCKET_LEN_MAX * 1000ull,
	  .help = "Activity bin inside a bucket; divides the bucket into at most 64 bins.  "
		  "Fixed with the store, like bucket." },
	{ .key = "flush_interval", .type = CONF_DURATION, .off = OFF(capture.flush_interval_ms),
	  .def = "1s", .min = 100, .max = 3600000,
	  .help = "Write the aggregates to the store this often (one LMDB transaction); a "
		  "crash loses at most about this much." },
	{ .key = "memory_cap", .type = CONF_SIZE, .off = OFF(capture.memory_cap), .def = "256M",
	  .min = 2 << 20, .max = 1ull << 40,
	  .help = "Memory of the aggregation tables (two halves: one filled while the other is "
		  "written); a full table is written at once." },
	{ .key = "ring_size", .type = CONF_UINT, .off = OFF(capture.ring_size), .def = "65536",
	  .min = CAPTURE_RING_MIN, .max = CAPTURE_RING_MAX,
	  .help = "Events each worker (and TCP) can hand over before the writer drains them, "
		  "a power of two; 96 bytes each.  A full ring drops (and counts) events." },
	{ .key = "map_size", .type = CONF_SIZE, .off = OFF(capture.map_size), .def = "1G",
	  .min = 1 << 20, .max = 1ull << 44,
	  .help = "LMDB map size at start-up (the store file grows up to it)." },
	{ .key = "map_max", .type = CONF_SIZE, .off = OFF(capture.map_max), .def = "16G",
	  .min = 1 << 20, .max = 1ull << 44,
	  .help = "When the map is full it is doubled up to this size; beyond it flushes fail "
		  "(logged, counted as dropped) and the server keeps answering." },
	{ .key = "sync", .type = CONF_ENUM, .off = OFF(capture.sync), .def = "full",
	  .choices = store_syncs,
	  .help = "full: every flush is durable when committed; nometa: a system crash may "
		  "undo the last flushes (never corrupts), half the fsyncs." },
	{ .key = NULL },
};

#define SERVER_SECTION                                                                             \
	{ .name = "server", .items = server_items,                                                 \
	  .help = "Listeners, threads, answers, TCP limits, logging and files." }
#define ZONE_SECTION                                                                               \
	{ .name = "zone", .items = zone_items, .repeat = true,                                     \
	  .elem_size = sizeof(struct authd_zone_conf), .arr_off = OFF(zones),                      \
	  .count_off = OFF(n_zones), .help = "One section per zone served (repeat it)." }

#define CAPTURE_SECTION                                                                            \
	{ .name = "capture", .items = capture_items,                                               \
	  .help = "Capture of the queries into the store (db) and the event log." }

/* Later components ([detector]) append their sections here. */
const struct conf_section authd_conf_schema[] = {
	SERVER_SECTION,
	ZONE_SECTION,
	CAPTURE_SECTION,
	{ .name = NULL },
};

/* The zone section alone: lets -z drop the file's zones before adding its own. */
static const struct conf_section zone_only_schema[] = {
	ZONE_SECTION,
	{ .name = NULL },
};

void authd_flags_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [-c FILE] [-n] [-d] [-v|-q] [-l ADDR@PORT]... [-z [ORIGIN=]FILE]...\n"
		"       [--db DIR] [-w N|--workers N] [--user USER] [--ready-fd N]\n"
		"       [--pidfile FILE] [--help] [--help-config] [-V|--version]\n"
		"\n"
		"Authoritative DNS server for reverse zones; runs in the foreground.\n"
		"\n"
		"  -c FILE           config file (see --help-config); flags override it\n"
		"  -n                check config and zones, print one line per zone, exit\n"
		"  -d                debug logging\n"
		"  -v                info logging (the default)\n"
		"  -q                warnings and errors only\n"
		"  -l ADDR@PORT      listen address (repeatable; replaces the file's list)\n"
		"  -z [ORIGIN=]FILE  zone file (repeatable; replaces the file's zones)\n"
		"  --db DIR          store folder\n"
		"  -w, --workers N   UDP worker threads (1..%d)\n"
		"  --user USER       drop to USER after binding\n"
		"  --ready-fd N      when serving, write \"ready udp=ADDR@PORT tcp=...\" to fd N\n"
		"  --pidfile FILE    write the process id to FILE\n"
		"  --help-config     list every config key with its default and range\n"
		"  -V, --version     print the version\n"
		"\n"
		"Signals: HUP reloads zones, USR1 logs the counters, TERM/INT stop.\n",
		prog, AUTHD_MAX_WORKERS);
}

enum {
	OPT_HELP = 256,
	OPT_HELP_CONFIG,
	OPT_DB,
	OPT_USER,
	OPT_READY_FD,
	OPT_PIDFILE,
};

int authd_flags_parse(struct authd_flags *f, int argc, char **argv, char *err, size_t errlen)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ "help-config", no_argument, NULL, OPT_HELP_CONFIG },
		{ "version", no_argument, NULL, 'V' },
		{ "workers", required_argument, NULL, 'w' },
		{ "db", required_argument, NULL, OPT_DB },
		{ "user", required_argument, NULL, OPT_USER },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "pidfile", required_argument, NULL, OPT_PIDFILE },
		{ NULL, 0, NULL, 0 },
	};
	int rc = 0;

	memset(f, 0, sizeof *f);
	f->log_level = -1;
	f->ready_fd = -1;
	size_t cap = argc > 0 ? (size_t)argc : 1;
	f->listen = mem_calloc(cap, sizeof *f->listen);
	f->zones = mem_calloc(cap, sizeof *f->zones);
	if (!f->listen || !f->zones) {
		snprintf(err, errlen, "out of memory");
		rc = BSC_ENOMEM;
		goto out;
	}
	optind = 0; /* GNU: full reinitialisation, so tests may parse again */
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, ":c:ndvql:z:w:V", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'c':
			f->config = optarg;
			break;
		case 'n':
			f->check = true;
			break;
		case 'd':
			f->log_level = LOG_DEBUG;
			break;
		case 'v':
			f->log_level = LOG_INFO;
			break;
		case 'q':
			f->log_level = LOG_WARNING;
			break;
		case 'l':
			f->listen[f->n_listen++] = optarg;
			break;
		case 'z':
			f->zones[f->n_zones++] = optarg;
			break;
		case 'w':
			f->workers = optarg;
			break;
		case 'V':
			f->version = true;
			break;
		case OPT_HELP:
			f->help = true;
			break;
		case OPT_HELP_CONFIG:
			f->help_config = true;
			break;
		case OPT_DB:
			f->db = optarg;
			break;
		case OPT_USER:
			f->user = optarg;
			break;
		case OPT_PIDFILE:
			f->pidfile = optarg;
			break;
		case OPT_READY_FD: {
			char *end = NULL;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 0 || v > INT_MAX) {
				snprintf(err, errlen, "command line: --ready-fd: not a file descriptor: "
					 "'%s'", optarg);
				rc = BSC_EINVAL;
				goto out;
			}
			f->ready_fd = (int)v;
			break;
		}
		case ':':
			snprintf(err, errlen, "command line: option %s needs an argument",
				 argv[optind - 1]);
			rc = BSC_EINVAL;
			goto out;
		default:
			if (optopt && optopt < 256)
				snprintf(err, errlen, "command line: unknown option -%c", optopt);
			else
				snprintf(err, errlen, "command line: unknown option %s",
					 argv[optind - 1]);
			rc = BSC_EINVAL;
			goto out;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "command line: unexpected argument '%s'", argv[optind]);
		rc = BSC_EINVAL;
		goto out;
	}
out:
	if (rc)
		authd_flags_free(f);
	return rc;
}

void authd_flags_free(struct authd_flags *f)
{
	mem_free(f->listen);
	mem_free(f->zones);
	f->listen = NULL;
	f->zones = NULL;
	f->n_listen = 0;
	f->n_zones = 0;
}

int authd_zone_arg_split(const char *arg, char *origin, size_t origin_len, const char **file)
{
	const char *eq = strchr(arg, '=');
	const char *slash = strchr(arg, '/');

	origin[0] = '\0';
	*file = arg;
	if (eq && (!slash || slash > eq)) {
		size_t n = (size_t)(eq - arg);
		if (n == 0 || n >= origin_len)
			return BSC_EINVAL;
		memcpy(origin, arg, n);
		origin[n] = '\0';
		*file = eq + 1;
	}
	return **file ? 0 : BSC_EINVAL;
}

static int set_flag(struct authd_conf *c, const char *section, size_t index, const char *key,
		    const char *value, char *err, size_t errlen)
{
	return conf_set(authd_conf_schema, c, section, index, key, value, "command line", err,
			errlen);
}

static int apply_flags(struct authd_conf *c, const struct authd_flags *f, char *err,
		       size_t errlen)
{
	char *joined = NULL;
	int rc = 0;

	if (f->n_listen) {
		size_t len = 1;
		for (size_t i = 0; i < f->n_listen; i++)
			len += strlen(f->listen[i]) + 1;
		joined = mem_alloc(len);
		if (!joined) {
			rc = BSC_ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		joined[0] = '\0';
		for (size_t i = 0; i < f->n_listen; i++) {
			if (i)
				strcat(joined, " ");
			strcat(joined, f->listen[i]);
		}
		rc = set_flag(c, "server", 0, "listen", joined, err, errlen);
		if (rc)
			goto out;
	}
	if (f->n_zones) {
		conf_free(zone_only_schema, c);
		c->zones = NULL;
		c->n_zones = 0;
		for (size_t i = 0; i < f->n_zones; i++) {
			char origin[256];
			const char *file = NULL;
			if (authd_zone_arg_split(f->zones[i], origin, sizeof origin, &file)) {
				snprintf(err, errlen, "command line: -z '%s': expected [ORIGIN=]FILE",
					 f->zones[i]);
				rc = BSC_ECONF;
				goto out;
			}
			size_t idx = c->n_zones;
			rc = set_flag(c, "zone", idx, "file", file, err, errlen);
			if (rc)
				goto out;
			if (origin[0]) {
				rc = set_flag(c, "zone", idx, "origin", origin, err, errlen);
				if (rc)
					goto out;
			}
		}
	}
	const struct {
		const char *key, *value;
	} server_flags[] = {
		{ "workers", f->workers },
		{ "db", f->db },
		{ "user", f->user },
		{ "pidfile", f->pidfile },
	};
	for (size_t i = 0; i < sizeof server_flags / sizeof server_flags[0]; i++) {
		if (!server_flags[i].value)
			continue;
		rc = set_flag(c, "server", 0, server_flags[i].key, server_flags[i].value, err,
			      errlen);
		if (rc)
			goto out;
	}
	if (f->log_level >= 0)
		c->log_level = f->log_level;
out:
	mem_free(joined);
	return rc;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool is_empty(const char *s)
{
	return !s || !s[0];
}

/* The [capture] keys that depend on each other; only when capture is on
 * (they are not used otherwise). */
static int capture_conf_check(const struct authd_capture_conf *cc, char *err, size_t errlen)
{
	if (!cc->enabled)
		return 0;
	if (cc->bucket_ms % 1000 || cc->bin_ms % 1000) {
		snprintf(err, errlen, "[capture] %s: must be whole seconds",
			 cc->bucket_ms % 1000 ? "bucket" : "bin");
		return BSC_ECONF;
	}
	if (!bucket_lens_valid((uint32_t)(cc->bucket_ms / 1000), (uint32_t)(cc->bin_ms / 1000))) {
		snprintf(err, errlen,
			 "[capture] bin: %llu s must divide bucket %llu s into at most %u bins",
			 (unsigned long long)(cc->bin_ms / 1000),
			 (unsigned long long)(cc->bucket_ms / 1000), BUCKET_BINS_MAX);
		return BSC_ECONF;
	}
	if (cc->ring_size & (cc->ring_size - 1)) {
		snprintf(err, errlen, "[capture] ring_size: %llu is not a power of two",
			 (unsigned long long)cc->ring_size);
		return BSC_ECONF;
	}
	if (cc->map_max < cc->map_size) {
		snprintf(err, errlen, "[capture] map_max: %llu bytes is below map_size (%llu)",
			 (unsigned long long)cc->map_max, (unsigned long long)cc->map_size);
		return BSC_ECONF;
	}
	return 0;
}

int authd_conf_check(struct authd_conf *c, char *err, size_t errlen)
{
	if (c->listen.n == 0) {
		snprintf(err, errlen, "[server] listen: no address given");
		return BSC_ECONF;
	}
	if (c->listen.n > AUTHD_MAX_LISTEN) {
		snprintf(err, errlen, "[server] listen: %zu addresses, at most %d", c->listen.n,
			 AUTHD_MAX_LISTEN);
		return BSC_ECONF;
	}
	if (c->n_zones == 0) {
		snprintf(err, errlen, "no zones: give -z FILE or a [zone] section with file =");
		return BSC_ECONF;
	}
	for (size_t i = 0; i < c->n_zones; i++) {
		if (is_empty(c->zones[i].file)) {
			snprintf(err, errlen, "[zone] #%zu%s%s: file is missing", i + 1,
				 is_empty(c->zones[i].origin) ? "" : " ",
				 is_empty(c->zones[i].origin) ? "" : c->zones[i].origin);
			return BSC_ECONF;
		}
	}
	c->nsid_len = 0;
	if (!is_empty(c->nsid)) {
		const char *s = c->nsid;
		size_t n = strlen(s);
		if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
			s += 2;
			n -= 2;
			if (n % 2 || n / 2 > AUTHD_NSID_MAX) {
				snprintf(err, errlen,
					 "[server] nsid: hex form needs an even number of digits, "
					 "at most %d bytes", AUTHD_NSID_MAX);
				return BSC_ECONF;
			}
			for (size_t i = 0; i < n; i += 2) {
				int hi = hexval(s[i]);
				int lo = hexval(s[i + 1]);
				if (hi < 0 || lo < 0) {
					snprintf(err, errlen,
						 "[server] nsid: '%c%c' at offset %zu is not hex",
						 s[i], s[i + 1], i + 2);
					return BSC_ECONF;
				}
				c->nsid_bin[c->nsid_len++] = (uint8_t)(hi << 4 | lo);
			}
		} else {
			if (n > AUTHD_NSID_MAX) {
				snprintf(err, errlen, "[server] nsid: %zu bytes, at most %d", n,
					 AUTHD_NSID_MAX);
				return BSC_ECONF;
			}
			memcpy(c->nsid_bin, s, n);
			c->nsid_len = n;
		}
	}
	int rc = capture_conf_check(&c->capture, err, errlen);
	if (rc)
		return rc;
	c->version_eff = (is_empty(c->version) || strcasecmp(c->version, "off") == 0) ?
				 NULL :
				 c->version;
	c->identity_eff = is_empty(c->identity) ? NULL : c->identity;
	return 0;
}

int authd_conf_build(struct authd_conf *c, const struct authd_flags *f, char *err,
		     size_t errlen)
{
	int rc;

	memset(c, 0, sizeof *c);
	err[0] = '\0';
	rc = conf_defaults(authd_conf_schema, c);
	if (rc) {
		snprintf(err, errlen, "config defaults: %s", bsc_strerror(rc));
		goto out;
	}
	if (f->config) {
		rc = conf_load(authd_conf_schema, c, f->config, err, errlen);
		if (rc) {
			if (!err[0])
				snprintf(err, errlen, "%s: %s", f->config, bsc_strerror(rc));
			goto out;
		}
	}
	rc = apply_flags(c, f, err, errlen);
	if (rc)
		goto out;
	rc = authd_conf_check(c, err, errlen);
out:
	if (rc)
		authd_conf_free(c);
	return rc;
}

void authd_conf_free(struct authd_conf *c)
{
	conf_free(authd_conf_schema, c);
	memset(c, 0, sizeof *c);
}
