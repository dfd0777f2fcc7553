/* common/conf.c — table-driven configuration reader on top of libinih.
 *
 * libinih splits "key = value" lines and calls our handler; our own line
 * reader (ini_parse_stream) feeds it one line at a time.  Main thread only.
 *
 * Why a reader of our own: libinih's handler gets no line number in Debian's
 * build (INI_HANDLER_LINENO is 0) and never hears about section headers
 * (INI_CALL_HANDLER_ON_NEW_SECTION is 0), so the reader counts lines and sees
 * every "[section]" (needed to start one element per repeated section and to
 * reject unknown or empty sections).  It also smooths libinih's traps:
 *  - an indented line after a key is a continuation (INI_ALLOW_MULTILINE): the
 *    handler is called again with the same key.  The reader un-indents lines
 *    with "=" and "[section]" lines, so indentation is harmless there, and
 *    flags the remaining continuation lines; only lists accept them;
 *  - only ";" starts an inline comment (INI_INLINE_COMMENT_PREFIXES), and not
 *    at all on continuation lines: the reader removes "#" and ";" comments
 *    itself, so both work everywhere;
 *  - the line buffer is 200 bytes on the stack: a longer line would be split
 *    in two "lines"; the reader refuses it with a clear error instead;
 *  - libinih also takes ':' as the separator ("key: value", and "a:b = c"
 *    is key "a"), and keeps going after errors; the reader demands "=" before
 *    any ':', and the first error stops the parse.
 * The UTF-8 byte order mark is skipped here too. */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "common/conf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

#define CONF_MAX_FILE (16u << 20) /* refuse config files larger than this */

struct conf_state {
	const struct conf_section *schema;
	void *root;
	const char *name;    /* file name for messages */
	char *basedir;       /* folder for relative paths; NULL keeps them */
	const char *pos;     /* reader position in the text */
	const char *end;
	unsigned line;       /* number of the line being handled */
	bool cont;           /* that line continues the previous key */
	const struct conf_section *sec; /* current section, NULL before the first */
	void *base;                      /* its struct: root or the element */
	const struct conf_item *last;    /* last key set in this occurrence */
	unsigned *seen;      /* per item of sec: line where it was set, 0 = not */
	unsigned *sec_seen;  /* per section of schema: line of its first header */
	int rc;
	char *err;
	size_t errlen;
};

static const char *const loglevel_names[] = { "error", "warning", "notice", "info", "debug",
					      NULL };

/* ------------------------------------------------------------------ */
/* Messages */

static void set_msg(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void st_error(struct conf_state *st, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record the first error as "NAME:LINE: reason". */
static void st_error(struct conf_state *st, int rc, const char *fmt, ...)
{
	va_list ap;

	if (st->rc)
		return;
	st->rc = rc;
	if (!st->err || st->errlen == 0)
		return;
	int n = snprintf(st->err, st->errlen, "%s:%u: ", st->name, st->line);
	if (n < 0 || (size_t)n >= st->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Schema look-ups */

static const struct conf_section *find_section(const struct conf_section *schema,
					       const char *name, size_t len)
{
	for (const struct conf_section *s = schema; s->name; s++) {
		if (strlen(s->name) == len && memcmp(s->name, name, len) == 0)
			return s;
	}
	return NULL;
}

static const struct conf_item *find_item(const struct conf_section *sec, const char *key)
{
	for (const struct conf_item *it = sec->items; it->key; it++) {
		if (strcmp(it->key, key) == 0)
			return it;
	}
	return NULL;
}

static size_t count_items(const struct conf_section *sec)
{
	size_t n = 0;
	while (sec->items[n].key)
		n++;
	return n;
}

static bool is_list(enum conf_type t)
{
	return t == CONF_STR_LIST || t == CONF_ADDR_LIST;
}

static void *field(void *base, const struct conf_item *it)
{
	return (char *)base + it->off;
}

/* ------------------------------------------------------------------ */
/* Freeing */

static void str_list_clear(struct conf_list *l)
{
	for (size_t i = 0; l->v && i < l->n; i++)
		mem_free(l->v[i]);
	mem_free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void addrs_clear(struct conf_addrs *l)
{
	mem_free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void item_free(const struct conf_item *it, void *base)
{
	void *f = field(base, it);

	switch (it->type) {
	case CONF_STRING:
	case CONF_PATH: {
		char **s = f;
		mem_free(*s);
		*s = NULL;
		break;
	}
	case CONF_STR_LIST:
		str_list_clear(f);
		break;
	case CONF_ADDR_LIST:
		addrs_clear(f);
		break;
	default:
		break;
	}
}

static void section_free(const struct conf_section *sec, void *base)
{
	for (const struct conf_item *it = sec->items; it->key; it++)
		item_free(it, base);
}

void conf_free(const struct conf_section *schema, void *root)
{
	if (!schema || !root)
		return;
	for (const struct conf_section *sec = schema; sec->name; sec++) {
		if (!sec->repeat) {
			section_free(sec, root);
			continue;
		}
		void **arr = (void **)((char *)root + sec->arr_off);
		size_t *count = (size_t *)((char *)root + sec->count_off);
		for (size_t i = 0; *arr && i < *count; i++)
			section_free(sec, (char *)*arr + i * sec->elem_size);
		mem_free(*arr);
		*arr = NULL;
		*count = 0;
	}
}

/* ------------------------------------------------------------------ */
/* Value parsers.  Each returns 0, BSC_ECONF with @why set, or BSC_ENOMEM. */

/* Leading decimal digits of @s into *v; returns the number of digits, 0 if
 * none, or -1 on overflow. */
static int parse_digits(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	int n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		unsigned d = (unsigned)(s[n] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
		n++;
	}
	*v = x;
	return n;
}

static const struct {
	const char *suffix;
	uint64_t mult;
} duration_units[] = {
	{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	{ "d", 86400000 },
};

static const struct {
	const char *suffix;
	uint64_t mult;
} size_units[] = {
	{ "", 1 },         { "k", 1ull << 10 },  { "kb", 1ull << 10 },  { "kib", 1ull << 10 },
	{ "m", 1ull << 20 }, { "mb", 1ull << 20 }, { "mib", 1ull << 20 }, { "g", 1ull << 30 },
	{ "gb", 1ull << 30 }, { "gib", 1ull << 30 }, { "t", 1ull << 40 }, { "tb", 1ull << 40 },
	{ "tib", 1ull << 40 },
};

static int parse_duration(const char *s, uint64_t *out)
{
	uint64_t v;
	int n = parse_digits(s, &v);

	if (n <= 0)
		return BSC_EINVAL;
	for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
		if (strcmp(s + n, duration_units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / duration_units[i].mult)
			return BSC_EINVAL;
		*out = v * duration_units[i].mult;
		return 0;
	}
	return BSC_EINVAL;
}

static int parse_size(const char *s, uint64_t *out)
{
	uint64_t v;
	int n = parse_digits(s, &v);

	if (n <= 0)
		return BSC_EINVAL;
	for (size_t i = 0; i < sizeof size_units / sizeof size_units[0]; i++) {
		if (strcasecmp(s + n, size_units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / size_units[i].mult)
			return BSC_EINVAL;
		*out = v * size_units[i].mult;
		return 0;
	}
	return BSC_EINVAL;
}

static int parse_uint(const char *s, uint64_t *out)
{
	uint64_t v;
	int n = parse_digits(s, &v);

	if (n <= 0 || s[n] != '\0')
		return BSC_EINVAL;
	*out = v;
	return 0;
}

/* Text of a value of @type (UINT, DURATION or SIZE) in its largest exact unit. */
static void format_num(enum conf_type type, uint64_t v, char *buf, size_t len)
{
	if (type == CONF_DURATION) {
		static const struct {
			const char *u;
			uint64_t m;
		} d[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
		for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
			if (v && v % d[i].m == 0) {
				snprintf(buf, len, "%llu%s", (unsigned long long)(v / d[i].m),
					 d[i].u);
				return;
			}
		}
		snprintf(buf, len, "%llums", (unsigned long long)v);
		return;
	}
	if (type == CONF_SIZE) {
		static const char units[] = "TGMk";
		for (int i = 0; i < 4; i++) {
			uint64_t m = 1ull << (10 * (4 - i));
			if (v && v % m == 0) {
				snprintf(buf, len, "%llu%c", (unsigned long long)(v / m), units[i]);
				return;
			}
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void format_range(const struct conf_item *it, char *buf, size_t len)
{
	char lo[32], hi[32];

	format_num(it->type, it->min, lo, sizeof lo);
	format_num(it->type, it->max, hi, sizeof hi);
	if (it->max)
		snprintf(buf, len, "%s..%s", lo, hi);
	else if (it->min)
		snprintf(buf, len, ">= %s", lo);
	else
		snprintf(buf, len, "-");
}

/* "a, b, c" of a NULL-terminated list. */
static void format_choices(const char *const *choices, const char *sep, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; choices && choices[i] && n < len; i++) {
		int w = snprintf(buf + n, len - n, "%s%s", i ? sep : "", choices[i]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

static bool is_sep(char c)
{
	return c == ' ' || c == ',' || c == '\t';
}

/* Split @value into items separated by spaces, tabs or commas.  Returns the
 * count; fills the first @max starts and lengths unless @starts is NULL. */
static size_t split_items(const char *value, const char **starts, size_t *lens, size_t max)
{
	size_t n = 0;
	const char *p = value;

	for (;;) {
		while (*p && is_sep(*p))
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && !is_sep(*p))
			p++;
		if (starts && n < max) {
			starts[n] = s;
			lens[n] = (size_t)(p - s);
		}
		n++;
	}
	return n;
}

static int set_str_list(struct conf_list *l, const char *value, bool append)
{
	size_t n = split_items(value, NULL, NULL, 0);
	size_t base = append ? l->n : 0;
	char **v = NULL;
	const char **starts = NULL;
	size_t *lens = NULL;
	int rc = BSC_ENOMEM;

	if (n == 0) {
		if (!append)
			str_list_clear(l);
		return 0;
	}
	starts = mem_calloc(n, sizeof *starts);
	lens = mem_calloc(n, sizeof *lens);
	v = mem_calloc(base + n, sizeof *v);
	if (!starts || !lens || !v)
		goto out;
	split_items(value, starts, lens, n);
	for (size_t i = 0; i < n; i++) {
		v[base + i] = mem_strndup(starts[i], lens[i]);
		if (!v[base + i]) {
			for (size_t j = 0; j < i; j++)
				mem_free(v[base + j]);
			goto out;
		}
	}
	if (append) {
		if (base)
			memcpy(v, l->v, base * sizeof *v);
		mem_free(l->v);
	} else {
		str_list_clear(l);
	}
	l->v = v;
	l->n = base + n;
	v = NULL;
	rc = 0;
out:
	mem_free(v);
	mem_free(starts);
	mem_free(lens);
	return rc;
}

static int set_addr_list(const struct conf_item *it, struct conf_addrs *l, const char *value,
			 bool append, char *why, size_t whylen)
{
	size_t n = split_items(value, NULL, NULL, 0);
	size_t base = append ? l->n : 0;
	struct bsc_sockaddr *v = NULL;
	const char **starts = NULL;
	size_t *lens = NULL;
	int rc = BSC_ENOMEM;

	if (n == 0) {
		if (!append)
			addrs_clear(l);
		return 0;
	}
	starts = mem_calloc(n, sizeof *starts);
	lens = mem_calloc(n, sizeof *lens);
	v = mem_calloc(base + n, sizeof *v);
	if (!starts || !lens || !v)
		goto out;
	split_items(value, starts, lens, n);
	for (size_t i = 0; i < n; i++) {
		char item[128];
		if (lens[i] >= sizeof item) {
			set_msg(why, whylen, "bad address '%.40s...' (too long)", starts[i]);
			rc = BSC_ECONF;
			goto out;
		}
		memcpy(item, starts[i], lens[i]);
		item[lens[i]] = '\0';
		if (sockaddr_parse(&v[base + i], item, it->default_port) != 0) {
			set_msg(why, whylen,
				"bad address '%s' (expected ADDR, ADDR@PORT, [IPv6]:PORT or "
				"IPv4:PORT, numeric, port 0..65535)",
				item);
			rc = BSC_ECONF;
			goto out;
		}
	}
	if (base)
		memcpy(v, l->v, base * sizeof *v);
	mem_free(l->v);
	l->v = v;
	l->n = base + n;
	v = NULL;
	rc = 0;
out:
	mem_free(v);
	mem_free(starts);
	mem_free(lens);
	return rc;
}

static int set_path(char **dst, const char *value, const char *basedir)
{
	char *p;

	if (!*value) {
		p = NULL;
	} else if (value[0] == '/' || !basedir) {
		p = mem_strdup(value);
		if (!p)
			return BSC_ENOMEM;
	} else {
		size_t bl = strlen(basedir), vl = strlen(value);
		bool slash = bl && basedir[bl - 1] == '/';
		p = mem_alloc(bl + vl + 2);
		if (!p)
			return BSC_ENOMEM;
		memcpy(p, basedir, bl);
		if (!slash)
			p[bl++] = '/';
		memcpy(p + bl, value, vl + 1);
	}
	mem_free(*dst);
	*dst = p;
	return 0;
}

static int check_range(const struct conf_item *it, uint64_t v, char *why, size_t whylen)
{
	if (v >= it->min && (it->max == 0 || v <= it->max))
		return 0;
	char val[32], range[80];
	format_num(it->type, v, val, sizeof val);
	format_range(it, range, sizeof range);
	set_msg(why, whylen, "value %s out of range %s", val, range);
	return BSC_ECONF;
}

/* Parse @value into @it's field in @base.  @append adds to a list instead of
 * replacing it.  On error the field keeps its old value. */
static int item_set(const struct conf_item *it, void *base, const char *value,
		    const char *basedir, bool append, char *why, size_t whylen)
{
	void *f = field(base, it);
	uint64_t v = 0;
	char list[256];

	switch (it->type) {
	case CONF_BOOL: {
		static const char *const yes[] = { "yes", "true", "on", "1" };
		static const char *const no[] = { "no", "false", "off", "0" };
		for (size_t i = 0; i < 4; i++) {
			if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
				*(bool *)f = strcasecmp(value, yes[i]) == 0;
				return 0;
			}
		}
		set_msg(why, whylen, "bad boolean '%s' (expected yes/no, true/false, on/off, 1/0)",
			value);
		return BSC_ECONF;
	}
	case CONF_UINT:
		if (parse_uint(value, &v) != 0) {
			set_msg(why, whylen, "bad number '%s' (expected decimal digits)", value);
			return BSC_ECONF;
		}
		break;
	case CONF_DURATION:
		if (parse_duration(value, &v) != 0) {
			set_msg(why, whylen,
				"bad duration '%s' (expected a number with ms, s, m, h or d)",
				value);
			return BSC_ECONF;
		}
		break;
	case CONF_SIZE:
		if (parse_size(value, &v) != 0) {
			set_msg(why, whylen, "bad size '%s' (expected a number with k, M, G or T)",
				value);
			return BSC_ECONF;
		}
		break;
	case CONF_STRING: {
		char *s = mem_strdup(value);
		if (!s)
			return BSC_ENOMEM;
		mem_free(*(char **)f);
		*(char **)f = s;
		return 0;
	}
	case CONF_PATH:
		return set_path(f, value, basedir);
	case CONF_STR_LIST:
		return set_str_list(f, value, append);
	case CONF_ADDR_LIST:
		return set_addr_list(it, f, value, append, why, whylen);
	case CONF_ENUM:
		for (int i = 0; it->choices && it->choices[i]; i++) {
			if (strcasecmp(value, it->choices[i]) == 0) {
				*(int *)f = i;
				return 0;
			}
		}
		format_choices(it->choices, ", ", list, sizeof list);
		set_msg(why, whylen, "bad value '%s' (expected one of: %s)", value, list);
		return BSC_ECONF;
	case CONF_LOGLEVEL: {
		int lvl = log_level_parse(value);
		if (lvl < LOG_ERR) {
			format_choices(loglevel_names, ", ", list, sizeof list);
			set_msg(why, whylen, "bad log level '%s' (expected one of: %s)", value,
				list);
			return BSC_ECONF;
		}
		*(int *)f = lvl;
		return 0;
	}
	default:
		set_msg(why, whylen, "unsupported type %d in the schema", (int)it->type);
		return BSC_ECONF;
	}
	/* The numeric types. */
	int rc = check_range(it, v, why, whylen);
	if (rc)
		return rc;
	*(uint64_t *)f = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Defaults and repeated sections */

static int section_defaults(const struct conf_section *sec, void *base)
{
	char why[256];

	for (const struct conf_item *it = sec->items; it->key; it++) {
		if (!it->def)
			continue;
		int rc = item_set(it, base, it->def, NULL, false, why, sizeof why);
		if (rc == BSC_ECONF)
			log_error("conf: bad default for [%s] %s: %s", sec->name, it->key, why);
		if (rc)
			return rc;
	}
	return 0;
}

int conf_defaults(const struct conf_section *schema, void *root)
{
	for (const struct conf_section *sec = schema; sec->name; sec++) {
		if (sec->repeat)
			continue;
		int rc = section_defaults(sec, root);
		if (rc)
			return rc;
	}
	return 0;
}

/* Append one zeroed element with its defaults to @sec's array.  The element
 * is counted even when its defaults fail, so that conf_free() frees it. */
static int section_append(const struct conf_section *sec, void *root, void **elem)
{
	void **arr = (void **)((char *)root + sec->arr_off);
	size_t *count = (size_t *)((char *)root + sec->count_off);
	size_t n = *count;

	/* Capacity is implied by the count: the next power of two. */
	if (n == 0 || (n & (n - 1)) == 0) {
		size_t cap = n ? 2 * n : 1;
		if (sec->elem_size == 0 || cap > SIZE_MAX / sec->elem_size)
			return BSC_ENOMEM;
		void *p = mem_realloc(*arr, cap * sec->elem_size);
		if (!p)
			return BSC_ENOMEM;
		*arr = p;
	}
	char *e = (char *)*arr + n * sec->elem_size;
	memset(e, 0, sec->elem_size);
	*count = n + 1;
	*elem = e;
	return section_defaults(sec, e);
}

/* ------------------------------------------------------------------ */
/* The reader and the handler given to libinih */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* "[name]" at st->line: switch to that section. */
static bool start_section(struct conf_state *st, const char *s, size_t n)
{
	const char *close = memchr(s, ']', n);

	if (!close) {
		st_error(st, BSC_ECONF, "section header without ']'");
		return false;
	}
	if ((size_t)(close - s) + 1 != n) {
		st_error(st, BSC_ECONF, "text after ']' in the section header");
		return false;
	}
	const char *name = s + 1;
	size_t len = (size_t)(close - name);
	const struct conf_section *sec = find_section(st->schema, name, len);
	if (!sec) {
		char known[256];
		size_t k = 0;
		known[0] = '\0';
		for (const struct conf_section *x = st->schema; x->name && k < sizeof known;
		     x++) {
			int w = snprintf(known + k, sizeof known - k, "%s[%s]",
					 x == st->schema ? "" : ", ", x->name);
			if (w < 0)
				break;
			k += (size_t)w;
		}
		st_error(st, BSC_ECONF, "unknown section [%.*s] (expected one of: %s)",
			 (int)(len > 64 ? 64 : len), name, known);
		return false;
	}
	size_t idx = (size_t)(sec - st->schema);
	if (!sec->repeat && st->sec_seen[idx]) {
		st_error(st, BSC_ECONF, "section [%s] appears twice (first on line %u)", sec->name,
			 st->sec_seen[idx]);
		return false;
	}
	if (!st->sec_seen[idx])
		st->sec_seen[idx] = st->line;
	st->sec = sec;
	st->last = NULL;
	memset(st->seen, 0, count_items(sec) * sizeof *st->seen);
	if (!sec->repeat) {
		st->base = st->root;
		return true;
	}
	int rc = section_append(sec, st->root, &st->base);
	if (rc) {
		if (rc == BSC_ENOMEM)
			st_error(st, rc, "out of memory");
		else
			st_error(st, rc, "bad default in section [%s]", sec->name);
		return false;
	}
	return true;
}

/* Copy @n bytes of @s into libinih's buffer (@num bytes), after @prefix. */
static char *give_line(struct conf_state *st, char *buf, int num, const char *prefix,
		       const char *s, size_t n)
{
	size_t pl = strlen(prefix);

	if (num <= 0 || pl + n >= (size_t)num) {
		st_error(st, BSC_ECONF,
			 "line too long (%zu characters without comments; at most %d): continue a "
			 "list on indented lines",
			 pl + n, num > 0 ? num - 1 : 0);
		return NULL;
	}
	memcpy(buf, prefix, pl);
	memcpy(buf + pl, s, n);
	buf[pl + n] = '\0';
	return buf;
}

static char *conf_reader(char *buf, int num, void *stream)
{
	struct conf_state *st = stream;

	if (st->rc || st->pos >= st->end)
		return NULL;
	const char *line = st->pos;
	const char *nl = memchr(line, '\n', (size_t)(st->end - line));
	size_t len = nl ? (size_t)(nl - line) : (size_t)(st->end - line);
	st->pos = nl ? nl + 1 : st->end;
	st->line++;
	st->cont = false;

	/* Cut a comment: "#" or ";" at the start or after whitespace. */
	for (size_t i = 0; i < len; i++) {
		if ((line[i] == '#' || line[i] == ';') && (i == 0 || is_blank(line[i - 1]))) {
			len = i;
			break;
		}
	}
	while (len && is_blank(line[len - 1]))
		len--;
	size_t ind = 0;
	while (ind < len && is_blank(line[ind]))
		ind++;
	const char *s = line + ind;
	size_t n = len - ind;

	if (n == 0)
		return give_line(st, buf, num, "", s, 0);
	/* "[" starts a section, unless the line is indented and the brackets
	 * hold a ':' (an IPv6 literal continuing a list: "  [::1]:53"). */
	const char *colon = memchr(s, ':', n);
	const char *close = memchr(s, ']', n);
	bool v6_literal = s[0] == '[' && ind && colon && (!close || colon < close);
	if (s[0] == '[' && !v6_literal) {
		if (!start_section(st, s, n))
			return NULL;
		return give_line(st, buf, num, "", s, n);
	}
	bool has_eq = memchr(s, '=', n) != NULL;
	if (ind && (!has_eq || v6_literal)) {
		if (!st->last) {
			st_error(st, BSC_ECONF,
				 "indented line without a key above it (expected \"key = value\")");
			return NULL;
		}
		st->cont = true;
		return give_line(st, buf, num, " ", s, n);
	}
	/* libinih also splits at ':' ("key: value"); keys never hold one. */
	if (!has_eq || (colon && colon < (const char *)memchr(s, '=', n))) {
		st_error(st, BSC_ECONF, "expected \"key = value\" or \"[section]\", got '%.*s'",
			 (int)(n > 64 ? 64 : n), s);
		return NULL;
	}
	return give_line(st, buf, num, "", s, n);
}

static int conf_handler(void *user, const char *section, const char *key, const char *value)
{
	struct conf_state *st = user;
	const struct conf_item *it;
	char why[512];
	bool append = false;

	(void)section; /* we follow sections ourselves (libinih truncates long names) */
	if (st->rc)
		return 0;
	if (!value) {
		st_error(st, BSC_ECONF, "missing value (expected \"key = value\")");
		return 0;
	}
	if (st->cont) {
		it = st->last;
		if (!is_list(it->type)) {
			st_error(st, BSC_ECONF,
				 "%s: indented line continues a value, but only lists may span "
				 "lines (remove the indentation or write \"key = value\")",
				 it->key);
			return 0;
		}
		append = true;
	} else {
		if (!*key) {
			st_error(st, BSC_ECONF, "missing key before '='");
			return 0;
		}
		if (!st->sec) {
			st_error(st, BSC_ECONF,
				 "key '%s' outside a section (put a [section] line above it)", key);
			return 0;
		}
		it = find_item(st->sec, key);
		if (!it) {
			st_error(st, BSC_ECONF, "unknown key '%s' in section [%s]", key,
				 st->sec->name);
			return 0;
		}
		size_t idx = (size_t)(it - st->sec->items);
		if (st->seen[idx]) {
			st_error(st, BSC_ECONF,
				 "duplicate key '%s' in section [%s] (first on line %u)", key,
				 st->sec->name, st->seen[idx]);
			return 0;
		}
		st->seen[idx] = st->line;
		st->last = it;
	}
	int rc = item_set(it, st->base, value, st->basedir, append, why, sizeof why);
	if (rc == BSC_ENOMEM) {
		st_error(st, rc, "out of memory");
		return 0;
	}
	if (rc) {
		st_error(st, rc, "%s: %s", it->key, why);
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Entry points */

static char *dir_of(const char *path, int *rc)
{
	const char *slash = strrchr(path, '/');

	*rc = 0;
	if (!slash)
		return NULL;
	char *d = mem_strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!d)
		*rc = BSC_ENOMEM;
	return d;
}

static int parse_text(const struct conf_section *schema, void *root, const char *text,
		      size_t len, const char *name, char *err, size_t errlen)
{
	struct conf_state st = {
		.schema = schema,
		.root = root,
		.name = name,
		.pos = text,
		.end = text + len,
		.err = err,
		.errlen = errlen,
	};
	size_t nsec = 0, maxitems = 0;

	if (err && errlen)
		err[0] = '\0';
	for (const struct conf_section *s = schema; s->name; s++) {
		size_t k = count_items(s);
		if (k > maxitems)
			maxitems = k;
		nsec++;
	}
	int drc;
	st.basedir = dir_of(name, &drc);
	st.seen = mem_calloc(maxitems, sizeof *st.seen);
	st.sec_seen = mem_calloc(nsec, sizeof *st.sec_seen);
	if (drc || !st.seen || !st.sec_seen) {
		st_error(&st, BSC_ENOMEM, "out of memory");
		goto out;
	}
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		st.line = 1;
		for (const char *p = text; p < nul; p++)
			st.line += *p == '\n';
		st_error(&st, BSC_ECONF, "NUL byte in the file");
		goto out;
	}
	if (len >= 3 && memcmp(st.pos, "\xEF\xBB\xBF", 3) == 0)
		st.pos += 3;

	int r = ini_parse_stream(conf_reader, &st, conf_handler, &st);
	if (!st.rc && r > 0) {
		st.line = (unsigned)r;
		st_error(&st, BSC_ECONF, "syntax error");
	} else if (!st.rc && r < 0) {
		st_error(&st, BSC_ENOMEM, "out of memory");
	}
out:
	mem_free(st.seen);
	mem_free(st.sec_seen);
	mem_free(st.basedir);
	return st.rc;
}

int conf_load_string(const struct conf_section *schema, void *root, const char *text,
		     const char *name, char *err, size_t errlen)
{
	return parse_text(schema, root, text, strlen(text), name ? name : "<string>", err,
			  errlen);
}

int conf_load(const struct conf_section *schema, void *root, const char *path, char *err,
	      size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	int rc = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!f) {
		rc = bsc_err_sys(errno);
		set_msg(err, errlen, "%s: cannot open: %s", path, bsc_strerror(rc));
		return rc;
	}
	rc = mem_read_stream(f, CONF_MAX_FILE, &buf, &len);
	if (rc == -EFBIG) {
		rc = BSC_ECONF;
		set_msg(err, errlen, "%s: file too large (more than %u bytes)", path,
			CONF_MAX_FILE);
		goto out;
	}
	if (rc) {
		set_msg(err, errlen, "%s: cannot read: %s", path, bsc_strerror(rc));
		goto out;
	}
	rc = parse_text(schema, root, buf ? buf : "", len, path, err, errlen);
out:
	mem_free(buf);
	fclose(f);
	return rc;
}

int conf_set(const struct conf_section *schema, void *root, const char *section, size_t index,
	     const char *key, const char *value, const char *origin, char *err, size_t errlen)
{
	const struct conf_section *sec = find_section(schema, section, strlen(section));
	char why[512];
	void *base = root;
	bool appended = false;

	if (err && errlen)
		err[0] = '\0';
	if (!origin)
		origin = "command line";
	if (!sec) {
		set_msg(err, errlen, "%s: unknown section [%s]", origin, section);
		return BSC_ECONF;
	}
	const struct conf_item *it = find_item(sec, key);
	if (!it) {
		set_msg(err, errlen, "%s: unknown key '%s' in section [%s]", origin, key, section);
		return BSC_ECONF;
	}
	if (sec->repeat) {
		size_t *count = (size_t *)((char *)root + sec->count_off);
		if (index > *count) {
			set_msg(err, errlen, "%s: [%s] #%zu does not exist (there are %zu)", origin,
				section, index, *count);
			return BSC_ECONF;
		}
		if (index == *count) {
			int rc = section_append(sec, root, &base);
			if (rc) {
				set_msg(err, errlen, "%s: [%s]: %s", origin, section,
					rc == BSC_ENOMEM ? "out of memory" : "bad default");
				if (*count > index) {
					section_free(sec, base);
					*count = index;
				}
				return rc;
			}
			appended = true;
		} else {
			base = (char *)*(void **)((char *)root + sec->arr_off) +
			       index * sec->elem_size;
		}
	}
	int rc = item_set(it, base, value, NULL, false, why, sizeof why);
	if (rc) {
		if (rc == BSC_ENOMEM)
			set_msg(err, errlen, "%s: [%s] %s: out of memory", origin, section, key);
		else
			set_msg(err, errlen, "%s: [%s] %s: %s", origin, section, key, why);
		if (appended) {
			size_t *count = (size_t *)((char *)root + sec->count_off);
			section_free(sec, base);
			(*count)--;
		}
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* --help-config */

static const char *type_name(enum conf_type t)
{
	switch (t) {
	case CONF_BOOL:
		return "bool";
	case CONF_UINT:
		return "number";
	case CONF_DURATION:
		return "duration";
	case CONF_SIZE:
		return "size";
	case CONF_STRING:
		return "string";
	case CONF_PATH:
		return "path";
	case CONF_STR_LIST:
		return "list";
	case CONF_ADDR_LIST:
		return "addresses";
	case CONF_ENUM:
		return "enum";
	case CONF_LOGLEVEL:
		return "loglevel";
	}
	return "?";
}

static void item_range(const struct conf_item *it, char *buf, size_t len)
{
	switch (it->type) {
	case CONF_UINT:
	case CONF_DURATION:
	case CONF_SIZE:
		format_range(it, buf, len);
		break;
	case CONF_ENUM:
		format_choices(it->choices, "|", buf, len);
		break;
	case CONF_LOGLEVEL:
		format_choices(loglevel_names, "|", buf, len);
		break;
	case CONF_BOOL:
		snprintf(buf, len, "yes|no");
		break;
	case CONF_ADDR_LIST:
		snprintf(buf, len, "default port %u", it->default_port);
		break;
	default:
		snprintf(buf, len, "-");
		break;
	}
}

static const char *item_default(const struct conf_item *it)
{
	if (!it->def)
		return "-";
	if (!*it->def)
		return "\"\"";
	return it->def;
}

void conf_print_help(const struct conf_section *schema, FILE *out)
{
	int wk = 3, wt = 4, wd = 7, wr = 5;
	char range[256];

	for (const struct conf_section *s = schema; s->name; s++) {
		for (const struct conf_item *it = s->items; it->key; it++) {
			item_range(it, range, sizeof range);
			int k = (int)strlen(it->key), t = (int)strlen(type_name(it->type));
			int d = (int)strlen(item_default(it)), r = (int)strlen(range);
			wk = k > wk ? k : wk;
			wt = t > wt ? t : wt;
			wd = d > wd ? d : wd;
			wr = r > wr ? r : wr;
		}
	}
	wd = wd > 30 ? 30 : wd;
	wr = wr > 40 ? 40 : wr;
	for (const struct conf_section *s = schema; s->name; s++) {
		fprintf(out, "%s[%s]%s%s%s\n", s == schema ? "" : "\n", s->name,
			s->repeat ? " (may repeat)" : "", s->help ? "  " : "",
			s->help ? s->help : "");
		fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", wk, "key", wt, "type", wd, "default",
			wr, "range", "help");
		for (const struct conf_item *it = s->items; it->key; it++) {
			item_range(it, range, sizeof range);
			fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", wk, it->key, wt,
				type_name(it->type), wd, item_default(it), wr, range,
				it->help ? it->help : "");
		}
	}
}
