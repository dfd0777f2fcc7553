/* tools/cli.c — plumbing shared by the `backscope` commands: messages and
 * exit codes, parsers of numbers, durations, times and addresses, RFC 3339
 * formatting, aligned tables, JSON printing, the terminal progress line, and
 * opening the store read-only with the window of the read commands.
 *
 * Main thread only. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "authd/config.h"
#include "common/bucket.h"
#include "common/conf.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/revname.h"
#include "common/store.h"
#include "tools/cli.h"
#include "tools/cmds.h"

/* ---------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------- */

int cli_error(const struct cli_global *g, const char *fmt, ...)
{
	va_list ap;

	fputs("backscope: ", g->err);
	va_start(ap, fmt);
	vfprintf(g->err, fmt, ap);
	va_end(ap);
	fputc('\n', g->err);
	return CLI_EXIT_ERR;
}

int cli_usage_error(const struct cli_global *g, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(g->err, "backscope %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(g->err, fmt, ap);
	va_end(ap);
	fprintf(g->err, "\n(see 'backscope help %s')\n", cmd);
	return CLI_EXIT_USAGE;
}

void cli_warning(const struct cli_global *g, const char *fmt, ...)
{
	va_list ap;

	fputs("backscope: warning: ", g->err);
	va_start(ap, fmt);
	vfprintf(g->err, fmt, ap);
	va_end(ap);
	fputc('\n', g->err);
}

/* ---------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------- */

int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return BSC_EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return BSC_EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return BSC_EINVAL;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return BSC_EINVAL;
	*out = v;
	return 0;
}

#define DURATION_MAX (100ull * 366 * 86400)

int cli_parse_duration(const char *s, uint64_t *out_s)
{
	uint64_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return BSC_EINVAL;
	while (*p) {
		uint64_t v = 0, mult;
		const char *start = p;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > DURATION_MAX)
				return BSC_EINVAL;
			p++;
		}
		if (p == start)
			return BSC_EINVAL;
		switch (*p) {
		case '\0':
			if (start != s) /* "1h30" is ambiguous */
				return BSC_EINVAL;
			mult = 1;
			break;
		case 's':
			mult = 1;
			p++;
			break;
		case 'm':
			mult = 60;
			p++;
			break;
		case 'h':
			mult = 3600;
			p++;
			break;
		case 'd':
			mult = 86400;
			p++;
			break;
		case 'w':
			mult = 7 * 86400;
			p++;
			break;
		default:
			return BSC_EINVAL;
		}
		if (v > DURATION_MAX / mult)
			return BSC_EINVAL;
		total += v * mult;
		if (total > DURATION_MAX)
			return BSC_EINVAL;
	}
	if (total == 0)
		return BSC_EINVAL;
	*out_s = total;
	return 0;
}

/* @n digits exactly, into *v. */
static bool digits(const char **p, unsigned n, int *v)
{
	int x = 0;

	for (unsigned i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		x = x * 10 + (c - '0');
	}
	*p += n;
	*v = x;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int cli_parse_time(const char *s, uint64_t now_s, uint64_t *out_s)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm;
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	long off = 0;

	if (!s || !*s)
		return BSC_EINVAL;
	if (strcmp(s, "now") == 0) {
		*out_s = now_s;
		return 0;
	}
	if (s[0] == '@') {
		uint64_t v;
		if (cli_parse_uint(s + 1, 0, UINT64_MAX / NS_PER_S, &v) < 0)
			return BSC_EINVAL;
		*out_s = v;
		return 0;
	}
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return BSC_EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y) ? 1 : 0))
		return BSC_EINVAL;
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return BSC_EINVAL;
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return BSC_EINVAL;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return BSC_EINVAL;
			if (*p == '.') {
				p++;
				if (!isdigit((unsigned char)*p))
					return BSC_EINVAL;
				while (isdigit((unsigned char)*p))
					p++;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return BSC_EINVAL;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int oh, om;
			int sign = *p == '-' ? -1 : 1;
			p++;
			if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 ||
			    om > 59)
				return BSC_EINVAL;
			off = sign * (oh * 3600L + om * 60L);
		} else {
			return BSC_EINVAL; /* RFC 3339 needs the offset */
		}
		if (*p)
			return BSC_EINVAL;
	}
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || (long long)t - off < 0)
		return BSC_EINVAL;
	*out_s = (uint64_t)((long long)t - off);
	return 0;
}

int cli_parse_addr(const char *s, struct bsc_addr *out)
{
	struct revname rn;

	if (addr_parse(out, s, false) == 0) {
		unsigned full = out->family == AF_INET ? 32 : 128;
		return out->prefix == full ? 0 : BSC_EINVAL;
	}
	if (strchr(s, '.') && revname_parse_text(s, &rn) == REVNAME_FULL) {
		*out = rn.addr;
		return 0;
	}
	return BSC_EINVAL;
}

/* ---------------------------------------------------------------------------
 * Formatting
 * ------------------------------------------------------------------------- */

char *cli_time_format(uint64_t ns, bool ms, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NS_PER_S);
	struct tm tm;
	char base[24];

	if (!gmtime_r(&t, &tm) || !strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (ms)
		snprintf(buf, len, "%s.%03uZ", base, (unsigned)(ns % NS_PER_S / NS_PER_MS));
	else
		snprintf(buf, len, "%sZ", base);
	return buf;
}

char *cli_duration_format(uint64_t s, char *buf, size_t len)
{
	static const struct {
		uint64_t len;
		char unit;
	} units[] = { { 7 * 86400, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t pos = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (s == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0] && pos < len; i++) {
		/* weeks only when the whole is whole weeks: "10d" reads better than "1w3d" */
		if (units[i].unit == 'w' && s % units[i].len)
			continue;
		if (s >= units[i].len) {
			int n = snprintf(buf + pos, len - pos, "%" PRIu64 "%c", s / units[i].len,
					 units[i].unit);
			if (n < 0)
				break;
			pos += (size_t)n;
			s %= units[i].len;
		}
	}
	return buf;
}

char *cli_bytes_format(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t i = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && i + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, "%.1f %s", v, units[i]);
	return buf;
}

char *cli_addr_format(const struct bsc_addr *a, char *buf, size_t len)
{
	if (addr_format(a, buf, len) < 0)
		snprintf(buf, len, "?");
	return buf;
}

/* ---------------------------------------------------------------------------
 * Tables
 * ------------------------------------------------------------------------- */

struct cli_table {
	size_t ncols;
	bool has_header;
	enum cli_align *align;
	char **cells; /* header row first (when present), then the rows */
	size_t n, cap;
};

struct cli_table *cli_table_new(size_t ncols, const char *const *headers,
				const enum cli_align *align)
{
	struct cli_table *t = mem_calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->align = mem_calloc(ncols, sizeof *t->align);
	if (!t->align)
		goto fail;
	for (size_t i = 0; i < ncols; i++)
		t->align[i] = align ? align[i] : CLI_LEFT;
	if (headers) {
		t->has_header = true;
		for (size_t i = 0; i < ncols; i++)
			if (cli_table_add(t, headers[i]) < 0)
				goto fail;
	}
	return t;
fail:
	cli_table_free(t);
	return NULL;
}

int cli_table_add(struct cli_table *t, const char *text)
{
	if (t->n == t->cap) {
		char **c = mem_grow(t->cells, &t->cap, sizeof *c, 64);
		if (!c)
			return BSC_ENOMEM;
		t->cells = c;
	}
	char *dup = mem_strdup(text ? text : "");
	if (!dup)
		return BSC_ENOMEM;
	t->cells[t->n++] = dup;
	return 0;
}

int cli_table_addf(struct cli_table *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return cli_table_add(t, buf);
}

int cli_table_add_u64(struct cli_table *t, uint64_t v)
{
	return cli_table_addf(t, "%" PRIu64, v);
}

size_t cli_table_rows(const struct cli_table *t)
{
	size_t rows = (t->n + t->ncols - 1) / t->ncols;

	return t->has_header && rows ? rows - 1 : rows;
}

/* Display width of UTF-8 text: code points (the CLI prints no wide characters). */
size_t cli_text_width(const char *s, size_t len)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			w++;
	return w;
}

void cli_table_print(const struct cli_table *t, FILE *out)
{
	size_t *width = mem_calloc(t->ncols ? t->ncols : 1, sizeof *width);

	if (!width)
		return;
	for (size_t i = 0; i < t->n; i++) {
		size_t w = cli_text_width(t->cells[i], strlen(t->cells[i]));
		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (size_t r = 0; r * t->ncols < t->n; r++) {
		/* the last non-empty cell of the row: no padding after it */
		size_t last = 0;
		for (size_t c = 0; c < t->ncols && r * t->ncols + c < t->n; c++)
			if (*t->cells[r * t->ncols + c] || t->align[c] == CLI_RIGHT)
				last = c;
		for (size_t c = 0; c <= last && r * t->ncols + c < t->n; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			size_t pad = width[c] - cli_text_width(cell, strlen(cell));
			/* headers of right-aligned columns are right-aligned too */
			if (c)
				fputs("  ", out);
			if (t->align[c] == CLI_RIGHT) {
				fprintf(out, "%*s%s", (int)pad, "", cell);
			} else {
				fputs(cell, out);
				if (c < last)
					fprintf(out, "%*s", (int)pad, "");
			}
		}
		fputc('\n', out);
	}
	mem_free(width);
}

void cli_table_free(struct cli_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		mem_free(t->cells[i]);
	mem_free(t->cells);
	mem_free(t->align);
	mem_free(t);
}

/* ---------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------- */

/* How every command prints JSON: pretty, two-space indent, "/" unescaped. */
#define CLI_JSON_FLAGS \
	(JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

int cli_json_print(json_object *o, FILE *out)
{
	if (!o)
		return BSC_ENOMEM;
	const char *s = json_object_to_json_string_ext(o, CLI_JSON_FLAGS);
	int rc = s ? 0 : BSC_ENOMEM;
	if (s)
		fprintf(out, "%s\n", s);
	json_object_put(o);
	return rc;
}

void cli_json_u64(json_object *obj, const char *key, uint64_t v)
{
	if (obj)
		json_object_object_add(obj, key, json_object_new_uint64(v));
}

void cli_json_str(json_object *obj, const char *key, const char *v)
{
	if (obj)
		json_object_object_add(obj, key, v ? json_object_new_string(v) : NULL);
}

void cli_json_time(json_object *obj, const char *key, uint64_t ns)
{
	char buf[CLI_TIME_LEN];

	cli_json_str(obj, key, ns ? cli_time_format(ns, true, buf, sizeof buf) : NULL);
}

void cli_json_addr(json_object *obj, const char *key, const struct bsc_addr *a)
{
	char buf[ADDR_STRLEN];

	cli_json_str(obj, key, cli_addr_format(a, buf, sizeof buf));
}

/* ---------------------------------------------------------------------------
 * Progress
 * ------------------------------------------------------------------------- */

uint64_t cli_now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t cli_now_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

#define PROGRESS_EVERY_NS (NS_PER_S / 5)

void cli_progress_init(struct cli_progress *p, const struct cli_global *g)
{
	memset(p, 0, sizeof *p);
	p->err = g->err;
	p->on = g->progress;
	p->start_ns = cli_now_mono_ns();
	p->last_ns = 0; /* the first look shows the line at once */
}

bool cli_progress_due(struct cli_progress *p)
{
	if (!p->on)
		return false;
	uint64_t now = cli_now_mono_ns();
	if (now - p->last_ns < PROGRESS_EVERY_NS)
		return false;
	p->last_ns = now;
	return true;
}

void cli_progress_show(struct cli_progress *p, const char *fmt, ...)
{
	char line[512];
	struct winsize ws;
	va_list ap;

	if (!p->on)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (ioctl(fileno(p->err), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
	    ws.ws_col - 1 < (int)sizeof line)
		line[ws.ws_col - 1] = '\0';
	fprintf(p->err, "\r%s\033[K", line);
	fflush(p->err);
	p->shown = true;
}

void cli_progress_clear(struct cli_progress *p)
{
	if (!p->shown)
		return;
	fputs("\r\033[K", p->err);
	fflush(p->err);
	p->shown = false;
}

/* ---------------------------------------------------------------------------
 * The store
 * ------------------------------------------------------------------------- */

int cli_store_dir(const struct cli_global *g, char *buf, size_t len)
{
	struct authd_conf c;
	char err[512];
	int rc;

	if (g->db) {
		snprintf(buf, len, "%s", g->db);
		return 0;
	}
	if (!g->config) {
		snprintf(buf, len, "%s", CLI_DB_DEFAULT);
		return 0;
	}
	memset(&c, 0, sizeof c);
	rc = conf_defaults(authd_conf_schema, &c);
	if (rc == 0)
		rc = conf_load(authd_conf_schema, &c, g->config, err, sizeof err);
	else
		snprintf(err, sizeof err, "%s: %s", g->config, bsc_strerror(rc));
	if (rc == 0)
		snprintf(buf, len, "%s", c.db && *c.db ? c.db : CLI_DB_DEFAULT);
	conf_free(authd_conf_schema, &c);
	if (rc)
		return cli_error(g, "cannot read the config file: %s", err);
	return 0;
}

int cli_store_open_ro(const struct cli_global *g, struct store **out)
{
	struct store_opts o = { .readonly = true };
	char dir[4096];
	int rc = cli_store_dir(g, dir, sizeof dir);

	*out = NULL;
	if (rc)
		return rc;
	if (access(dir, F_OK) != 0)
		return cli_error(g, "store %s: %s (backscope-authd or 'backscope ingest' creates it; "
				 "--db DIR selects another)", dir, strerror(errno));
	rc = store_open(out, dir, &o);
	if (rc < 0)
		return cli_error(g, "store %s: cannot open it read-only: %s", dir, bsc_strerror(rc));
	return 0;
}

#define WINDOW_DEFAULT_S 86400u

int cli_window_resolve(const struct cli_global *g, const char *cmd, struct store *s,
		       const char *window, const char *until, struct cli_window *w)
{
	struct store_info info;
	uint64_t now_s = cli_now_wall_ns() / NS_PER_S;
	int rc;

	memset(w, 0, sizeof *w);
	w->len_s = WINDOW_DEFAULT_S;
	if (window && strcmp(window, "all") == 0)
		w->len_s = 0;
	else if (window && cli_parse_duration(window, &w->len_s) < 0)
		return cli_usage_error(g, cmd, "--window %s: not a duration (e.g. 90m, 6h, 1d, "
				       "1w, all)", window);
	if (until && cli_parse_time(until, now_s, &w->until_s) < 0)
		return cli_usage_error(g, cmd, "--until %s: not a time (RFC 3339 such as "
				       "2026-11-22T10:00:00Z, a date, @SECONDS or now)", until);
	rc = store_info(s, &info);
	if (rc < 0)
		return cli_error(g, "store %s: %s", store_path(s), bsc_strerror(rc));
	w->empty = info.buckets == 0;
	if (!until)
		w->until_s = w->empty ? now_s : info.last_bucket_s + info.bucket_len;
	if (w->len_s == 0 && !until)
		w->until_s = UINT64_MAX;
	w->from_s = w->len_s == 0 || w->len_s > w->until_s ? 0 : w->until_s - w->len_s;
	return 0;
}

/* "buckets from 2026-11-21T00:00:00Z to 2026-11-22T00:00:00Z (1d)" */
void cli_window_text(const struct cli_window *w, char *buf, size_t len)
{
	char a[CLI_TIME_LEN], b[CLI_TIME_LEN], d[32];

	if (w->len_s == 0 && w->until_s == UINT64_MAX)
		snprintf(buf, len, "all buckets");
	else if (w->len_s == 0)
		snprintf(buf, len, "buckets before %s",
			 cli_time_format(w->until_s * NS_PER_S, false, b, sizeof b));
	else
		snprintf(buf, len, "buckets from %s to %s (%s)",
			 cli_time_format(w->from_s * NS_PER_S, false, a, sizeof a),
			 cli_time_format(w->until_s * NS_PER_S, false, b, sizeof b),
			 cli_duration_format(w->len_s, d, sizeof d));
}

/* ---------------------------------------------------------------------------
 * Options common to the commands (tools/cmds.h)
 * ------------------------------------------------------------------------- */

int cmd_common_opt(struct cli_global *g, int opt, const char *arg)
{
	switch (opt) {
	case 'D':
		g->db = arg;
		return 1;
	case 'c':
		g->config = arg;
		return 1;
	case 'h':
		return -1;
	default:
		return 0;
	}
}

int cmd_print_help(const struct cli_global *g, const struct cli_command *c)
{
	fputs(c->help, g->out);
	return CLI_EXIT_OK;
}

void cmd_getopt_reset(void)
{
	optind = 0; /* glibc: a full reset, also of the permutation state */
	opterr = 0;
}

int cmd_bad_opt(const struct cli_global *g, const char *cmd, int opt, char **argv)
{
	const char *arg = optind > 0 && argv[optind - 1] ? argv[optind - 1] : "?";
	char name[64];

	if (strncmp(arg, "--", 2) == 0)
		snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
	else
		snprintf(name, sizeof name, "-%c", optopt ? optopt : '?');
	if (opt == ':')
		return cli_usage_error(g, cmd, "option %s needs a value", name);
	return cli_usage_error(g, cmd, "unknown option %s", name);
}
