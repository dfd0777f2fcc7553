/* tools/cli.h — plumbing shared by the `backscope` commands: exit codes and
 * error messages, number, duration and time parsing, RFC 3339 formatting,
 * aligned tables, JSON output through json-c, the progress line on a
 * terminal, and finding and opening the store.
 *
 * Main thread only (the CLI is single-threaded). */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "common/addr.h"

struct store;

/* Exit codes of every command (docs/cli.md). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_ERR 1   /* bad input or data, store errors, nothing found */
#define CLI_EXIT_USAGE 2 /* bad command line */

#define CLI_DB_DEFAULT "/var/lib/backscope"

/** What every command gets: the global options and where to write. */
struct cli_global {
	const char *db;     /* --db DIR, or NULL */
	const char *config; /* -c FILE, or NULL */
	FILE *out;          /* results (stdout) */
	FILE *err;          /* messages, progress (stderr) */
	bool progress;      /* show a progress line (err is a terminal) */
};

/** A command: its name, one line of usage, the full help, and the entry point
 *  (argv[0] is the command name). */
struct cli_command {
	const char *name;
	const char *summary;
	const char *help;
	int (*run)(const struct cli_global *g, int argc, char **argv);
};

/** "backscope: " + message + newline on g->err.  Returns CLI_EXIT_ERR. */
int cli_error(const struct cli_global *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** "backscope CMD: " + message + a hint to `backscope help CMD`.  Returns
 *  CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_global *g, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** "backscope: warning: " + message. */
void cli_warning(const struct cli_global *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- parsing (return 0 or BSC_EINVAL; nothing is printed) ---- */

/** Decimal integer in [min, max], the whole string. */
int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/** Duration in seconds: "90", "90s", "15m", "2h", "1d", "1w", and sums of
 *  them such as "1h30m".  Must be > 0 and at most 100 years. */
int cli_parse_duration(const char *s, uint64_t *out_s);
/** A point in time, in seconds since the epoch: RFC 3339 ("2026-11-22T10:00:00Z",
 *  "...T10:00:00.5+02:00", lower-case t/z and a space instead of T accepted;
 *  fractions are dropped), a date "2026-11-22" (00:00 UTC), "@SECONDS",
 *  or "now" (@now_s). */
int cli_parse_time(const char *s, uint64_t now_s, uint64_t *out_s);
/** An address "192.0.2.1", "2001:db8::1", or the full reverse name of one
 *  ("1.2.0.192.in-addr.arpa"). */
int cli_parse_addr(const char *s, struct bsc_addr *out);

/* ---- formatting ---- */

#define CLI_TIME_LEN 32
/** RFC 3339 UTC of @ns: "2026-11-22T10:00:00Z", or with @ms
 *  "2026-11-22T10:00:00.123Z".  Returns @buf. */
char *cli_time_format(uint64_t ns, bool ms, char *buf, size_t len);
/** "2h", "1d", "90m", "1h30m", "45s": the shortest exact form.  Returns @buf. */
char *cli_duration_format(uint64_t s, char *buf, size_t len);
/** Bytes in binary units: "512 B", "12.3 MiB".  Returns @buf. */
char *cli_bytes_format(uint64_t bytes, char *buf, size_t len);
/** Address without a prefix length when it is a full one.  Returns @buf. */
char *cli_addr_format(const struct bsc_addr *a, char *buf, size_t len);

/* ---- tables ---- */

enum cli_align { CLI_LEFT, CLI_RIGHT };

struct cli_table;

/** New table of @ncols columns with the given headers and alignments (numbers
 *  right-aligned).  Returns NULL when out of memory. */
struct cli_table *cli_table_new(size_t ncols, const char *const *headers,
				const enum cli_align *align);
/** Append the next cell (rows fill left to right; a row ends after @ncols
 *  cells).  Copies @text.  Returns 0 or BSC_ENOMEM. */
int cli_table_add(struct cli_table *t, const char *text);
int cli_table_addf(struct cli_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_table_add_u64(struct cli_table *t, uint64_t v);
/** Print with every column as wide as its widest cell, two spaces between
 *  columns, no trailing blanks; the header is left out when the table was
 *  made without headers (NULL). */
void cli_table_print(const struct cli_table *t, FILE *out);
/** The columns @len bytes of UTF-8 text take (one per character). */
size_t cli_text_width(const char *s, size_t len);
size_t cli_table_rows(const struct cli_table *t);
void cli_table_free(struct cli_table *t); /* NULL is a no-op */

/* ---- JSON ---- */

/** Print @o (pretty, two-space indent, "/" unescaped) and a newline, then
 *  release it.  Returns 0, or BSC_ENOMEM when @o is NULL (a failed build). */
int cli_json_print(json_object *o, FILE *out);
/** Helpers that add a member to @obj (ignoring NULL for a failed build). */
void cli_json_u64(json_object *obj, const char *key, uint64_t v);
void cli_json_str(json_object *obj, const char *key, const char *v); /* NULL: null */
void cli_json_time(json_object *obj, const char *key, uint64_t ns);  /* 0: null */
void cli_json_addr(json_object *obj, const char *key, const struct bsc_addr *a);

/* ---- progress on a terminal ---- */

struct cli_progress {
	FILE *err;
	bool on;         /* a terminal, and progress wanted */
	bool shown;      /* a line is on screen */
	uint64_t last_ns;
	uint64_t start_ns;
};

void cli_progress_init(struct cli_progress *p, const struct cli_global *g);
/** True when the line is due again (at most 5 times a second). */
bool cli_progress_due(struct cli_progress *p);
/** Replace the line by @fmt (cut to the terminal's width). */
void cli_progress_show(struct cli_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Erase the line, if one is shown (before any other output to err/out). */
void cli_progress_clear(struct cli_progress *p);

/** Monotonic and wall clocks in ns. */
uint64_t cli_now_mono_ns(void);
uint64_t cli_now_wall_ns(void);

/* ---- the store ---- */

/** The store folder: --db, else the `db` key of -c FILE's [server] section,
 *  else CLI_DB_DEFAULT.  Writes it to @buf.  Returns 0, or CLI_EXIT_ERR after
 *  printing why the config file could not be read. */
int cli_store_dir(const struct cli_global *g, char *buf, size_t len);
/** Open the store read-only (the server keeps writing).  Returns 0 or
 *  CLI_EXIT_ERR after printing a message naming the folder. */
int cli_store_open_ro(const struct cli_global *g, struct store **out);

/** The window of the read commands: buckets whose start is in
 *  [from_s, until_s). */
struct cli_window {
	uint64_t from_s, until_s;
	uint64_t len_s;  /* 0: all */
	bool empty;      /* the store holds no bucket */
};

/** Resolve --window (@window: NULL = default 1d, "all") and --until (@until:
 *  NULL = the end of the newest bucket in @s) into @w.  Returns 0,
 *  CLI_EXIT_USAGE (bad option value, printed) or CLI_EXIT_ERR. */
int cli_window_resolve(const struct cli_global *g, const char *cmd, struct store *s,
		       const char *window, const char *until, struct cli_window *w);
/** "buckets from 2026-11-21T00:00:00Z to 2026-11-22T00:00:00Z (1d)", or
 *  "all buckets". */
void cli_window_text(const struct cli_window *w, char *buf, size_t len);
