/* tools/crosscheck.c — detections against darknet labels: the detections-file
 * parser, the join over overlapping windows inside the authority's address
 * space, and the metrics (tools/crosscheck.h, docs/cli.md "crosscheck").
 *
 * Main thread (any single thread); no I/O except xc_detections_load. */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/bucket.h"
#include "common/err.h"
#include "common/mem.h"
#include "tools/cli.h"
#include "tools/crosscheck.h"

#define XC_FILE_MAX (1u << 30)  /* bytes of a detections file */
#define XC_CSV_COLS 32          /* columns of a CSV header */
#define XC_TIME_MAX (UINT64_MAX / NS_PER_S) /* s: the ns forms must fit */

/* ---- the detections file ---- */

struct xc_parser {
	const char *name;
	const char *buf;       /* NUL at buf[len] */
	size_t len;
	char *err;
	size_t errlen;
	struct xc_detections *out;
	size_t line_off;       /* cursor of xc_line: line number at line_off */
	uint32_t line;
};

/* 1-based line and column of byte @off. */
static void xc_where(const struct xc_parser *p, size_t off, uint32_t *line, uint32_t *col)
{
	uint32_t l = 1;
	size_t start = 0;

	if (off > p->len)
		off = p->len;
	for (size_t i = 0; i < off; i++) {
		if (p->buf[i] == '\n') {
			l++;
			start = i + 1;
		}
	}
	*line = l;
	*col = (uint32_t)(off - start + 1);
}

/* Line of @off for offsets that only grow (the records in file order). */
static uint32_t xc_line(struct xc_parser *p, size_t off)
{
	if (off < p->line_off) {
		p->line_off = 0;
		p->line = 1;
	}
	for (; p->line_off < off && p->line_off < p->len; p->line_off++) {
		if (p->buf[p->line_off] == '\n')
			p->line++;
	}
	return p->line;
}

__attribute__((format(printf, 3, 4)))
static int xc_fail(const struct xc_parser *p, size_t off, const char *fmt, ...)
{
	uint32_t line, col;
	va_list ap;
	int n;

	xc_where(p, off, &line, &col);
	n = snprintf(p->err, p->errlen, "%s:%u:%u: ", p->name, line, col);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return BSC_EMALF;
}

/* Printable excerpt of @s for a message. */
static const char *xc_quote(const char *s, char *buf, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; s[i] && j + 5 < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= 40) {
			memcpy(buf + j, "...", 3);
			j += 3;
			break;
		}
		buf[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[j] = '\0';
	return buf;
}

static int xc_set_addr(const struct xc_parser *p, size_t off, const char *s,
		       struct xc_detection *d)
{
	char q[64];

	if (cli_parse_addr(s, &d->addr) < 0 ||
	    d->addr.prefix != (d->addr.family == AF_INET ? 32 : 128))
		return xc_fail(p, off, "address '%s': not an IPv4 or IPv6 address",
			       xc_quote(s, q, sizeof q));
	return 0;
}

static int xc_time_str(const struct xc_parser *p, size_t off, const char *field, const char *s,
		       uint64_t *out)
{
	char q[64];
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (i > 0 && s[i] == '\0') {
		if (cli_parse_uint(s, 0, XC_TIME_MAX, out) == 0)
			return 0;
	} else if (strcmp(s, "now") != 0 && cli_parse_time(s, 0, out) == 0 && *out <= XC_TIME_MAX) {
		return 0;
	}
	return xc_fail(p, off, "%s '%s': not an RFC 3339 time or unix seconds", field,
		       xc_quote(s, q, sizeof q));
}

static int xc_set_class(const struct xc_parser *p, size_t off, const char *s,
			struct xc_detection *d)
{
	char q[64];
	size_t n = strlen(s);

	if (n == 0 || n >= XC_CLASS_LEN)
		return xc_fail(p, off, "class '%s': must have 1 to %d characters",
			       xc_quote(s, q, sizeof q), XC_CLASS_LEN - 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != '+')
			return xc_fail(p, off, "class '%s': only letters, digits and -_.+ allowed",
				       xc_quote(s, q, sizeof q));
	}
	if (strcmp(s, "none") == 0)
		return xc_fail(p, off, "class 'none' is reserved (it stands for no detection)");
	memcpy(d->cls, s, n + 1);
	return 0;
}

static int xc_set_score_str(const struct xc_parser *p, size_t off, const char *s,
			    struct xc_detection *d)
{
	char q[64], *end;

	if (*s == '\0')
		return 0;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno || !isfinite(v))
		return xc_fail(p, off, "score '%s': not a number", xc_quote(s, q, sizeof q));
	d->score = v;
	d->has_score = true;
	return 0;
}

/* Common checks once every field is in, then append. */
static int xc_add(struct xc_parser *p, size_t off, struct xc_detection *d)
{
	struct xc_detections *ds = p->out;

	if (d->end_s && d->end_s <= d->start_s)
		return xc_fail(p, off, "window_end is not after window_start");
	if (ds->n == ds->cap) {
		struct xc_detection *v = mem_grow(ds->v, &ds->cap, sizeof *v, 64);

		if (!v)
			return BSC_ENOMEM;
		ds->v = v;
	}
	d->line = xc_line(p, off);
	ds->v[ds->n++] = *d;
	return 0;
}

/* ---- JSON ---- */

static int xc_json_time(const struct xc_parser *p, size_t off, const char *field,
			json_object *v, uint64_t *out)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		return xc_time_str(p, off, field, json_object_get_string(v), out);
	case json_type_int: {
		int64_t i = json_object_get_int64(v);
		if (i < 0 || (uint64_t)i > XC_TIME_MAX)
			return xc_fail(p, off, "%s %lld: out of range", field, (long long)i);
		*out = (uint64_t)i;
		return 0;
	}
	case json_type_double: {
		double x = json_object_get_double(v);
		if (!isfinite(x) || x < 0 || x >= (double)XC_TIME_MAX)
			return xc_fail(p, off, "%s: out of range", field);
		*out = (uint64_t)x;
		return 0;
	}
	default:
		return xc_fail(p, off, "%s: expected a string (RFC 3339) or a number "
			       "(unix seconds)", field);
	}
}

static int xc_json_str(const struct xc_parser *p, size_t off, json_object *o, const char *field,
		       const char **out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, field, &v) || !v)
		return xc_fail(p, off, "the object has no \"%s\"", field);
	if (!json_object_is_type(v, json_type_string))
		return xc_fail(p, off, "\"%s\": expected a string", field);
	*out = json_object_get_string(v);
	return 0;
}

static int xc_json_detection(struct xc_parser *p, size_t off, json_object *o)
{
	struct xc_detection d;
	const char *s = NULL;
	json_object *v;
	int rc;

	if (!json_object_is_type(o, json_type_object))
		return xc_fail(p, off, "expected an object, found %s",
			       json_type_to_name(json_object_get_type(o)));
	memset(&d, 0, sizeof d);
	if ((rc = xc_json_str(p, off, o, "address", &s)) || (rc = xc_set_addr(p, off, s, &d)))
		return rc;
	if (!json_object_object_get_ex(o, "window_start", &v) || !v)
		return xc_fail(p, off, "the object has no \"window_start\"");
	if ((rc = xc_json_time(p, off, "window_start", v, &d.start_s)))
		return rc;
	if (json_object_object_get_ex(o, "window_end", &v) && v &&
	    (rc = xc_json_time(p, off, "window_end", v, &d.end_s)))
		return rc;
	if ((rc = xc_json_str(p, off, o, "class", &s)) || (rc = xc_set_class(p, off, s, &d)))
		return rc;
	if (json_object_object_get_ex(o, "score", &v) && v) {
		enum json_type t = json_object_get_type(v);
		if (t != json_type_int && t != json_type_double)
			return xc_fail(p, off, "\"score\": expected a number");
		d.score = json_object_get_double(v);
		if (!isfinite(d.score))
			return xc_fail(p, off, "\"score\": not a finite number");
		d.has_score = true;
	}
	return xc_add(p, off, &d);
}

static size_t xc_skip_ws(const struct xc_parser *p, size_t pos)
{
	while (pos < p->len && (p->buf[pos] == ' ' || p->buf[pos] == '\t' ||
				p->buf[pos] == '\n' || p->buf[pos] == '\r'))
		pos++;
	return pos;
}

static int xc_parse_json(struct xc_parser *p, size_t pos, bool array)
{
	json_tokener *tok = json_tokener_new();
	int rc = 0;

	if (!tok)
		return BSC_ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
				    JSON_TOKENER_VALIDATE_UTF8);
	if (array) {
		pos = xc_skip_ws(p, pos + 1);
		if (pos < p->len && p->buf[pos] == ']') {
			pos++;
			goto tail;
		}
	}
	for (;;) {
		pos = xc_skip_ws(p, pos);
		if (pos >= p->len) {
			if (array)
				rc = xc_fail(p, pos, "end of file inside the array (no ']')");
			break;
		}
		size_t start = pos;
		json_tokener_reset(tok);
		/* the NUL at buf[len] ends the input (numbers need it) */
		json_object *o = json_tokener_parse_ex(tok, p->buf + pos, (int)(p->len - pos + 1));
		enum json_tokener_error je = json_tokener_get_error(tok);
		size_t used = json_tokener_get_parse_end(tok);
		if (je != json_tokener_success || !o) {
			json_object_put(o);
			rc = xc_fail(p, pos + (used ? used - 1 : 0), "%s",
				     je == json_tokener_success ? "not a JSON value"
								: json_tokener_error_desc(je));
			break;
		}
		pos += used;
		if (pos > p->len)
			pos = p->len;
		rc = xc_json_detection(p, start, o);
		json_object_put(o);
		if (rc)
			break;
		if (!array)
			continue;
		pos = xc_skip_ws(p, pos);
		if (pos < p->len && p->buf[pos] == ',') {
			pos++;
			continue;
		}
		if (pos < p->len && p->buf[pos] == ']') {
			pos++;
			break;
		}
		rc = xc_fail(p, pos, pos < p->len ? "expected ',' or ']' after an element"
						  : "end of file inside the array (no ']')");
		break;
	}
tail:
	if (!rc && array) {
		pos = xc_skip_ws(p, pos);
		if (pos < p->len)
			rc = xc_fail(p, pos, "unexpected data after the array");
	}
	json_tokener_free(tok);
	return rc;
}

/* ---- CSV ---- */

enum xc_col { XC_COL_ADDR, XC_COL_START, XC_COL_END, XC_COL_CLASS, XC_COL_SCORE, XC_COL_N };

static const char *const xc_col_names[XC_COL_N] = { "address", "window_start", "window_end",
						    "class", "score" };

/* Split the line [ls, le) into at most XC_CSV_COLS fields (RFC 4180 quotes,
 * no line breaks inside them; blanks around unquoted fields trimmed). */
static int xc_csv_split(const struct xc_parser *p, size_t ls, size_t le,
			char (*f)[XC_FIELD_MAX], size_t *nf)
{
	size_t pos = ls, n = 0;

	for (;;) {
		size_t k = 0, fstart;
		if (n == XC_CSV_COLS)
			return xc_fail(p, pos, "more than %d fields", XC_CSV_COLS);
		while (pos < le && (p->buf[pos] == ' ' || p->buf[pos] == '\t'))
			pos++;
		fstart = pos;
		if (pos < le && p->buf[pos] == '"') {
			pos++;
			for (;;) {
				if (pos >= le)
					return xc_fail(p, fstart, "unterminated quote (a quoted "
						       "field cannot span lines)");
				char c = p->buf[pos++];
				if (c == '"') {
					if (pos < le && p->buf[pos] == '"')
						pos++;
					else
						break;
				}
				if (k + 1 >= XC_FIELD_MAX)
					return xc_fail(p, fstart, "field longer than %d bytes",
						       XC_FIELD_MAX - 1);
				f[n][k++] = c;
			}
			while (pos < le && (p->buf[pos] == ' ' || p->buf[pos] == '\t'))
				pos++;
			if (pos < le && p->buf[pos] != ',')
				return xc_fail(p, pos, "text after a closing quote");
		} else {
			while (pos < le && p->buf[pos] != ',') {
				if (p->buf[pos] == '"')
					return xc_fail(p, pos, "quote inside an unquoted field");
				if (k + 1 >= XC_FIELD_MAX)
					return xc_fail(p, fstart, "field longer than %d bytes",
						       XC_FIELD_MAX - 1);
				f[n][k++] = p->buf[pos++];
			}
			while (k > 0 && (f[n][k - 1] == ' ' || f[n][k - 1] == '\t'))
				k--;
		}
		f[n][k] = '\0';
		n++;
		if (pos >= le)
			break;
		pos++; /* the comma */
	}
	*nf = n;
	return 0;
}

static int xc_parse_csv(struct xc_parser *p, size_t pos)
{
	char (*f)[XC_FIELD_MAX] = mem_alloc(XC_CSV_COLS * sizeof *f);
	int col[XC_COL_N];
	size_t ncols = 0, nf = 0;
	bool header = false;
	int rc = 0;

	if (!f)
		return BSC_ENOMEM;
	for (int i = 0; i < XC_COL_N; i++)
		col[i] = -1;
	while (pos < p->len) {
		size_t ls = pos, le = pos;
		while (le < p->len && p->buf[le] != '\n')
			le++;
		pos = le + 1;
		if (le > ls && p->buf[le - 1] == '\r')
			le--;
		size_t first = ls;
		while (first < le && (p->buf[first] == ' ' || p->buf[first] == '\t'))
			first++;
		if (first == le || p->buf[first] == '#')
			continue; /* blank line or comment */
		if ((rc = xc_csv_split(p, ls, le, f, &nf)))
			break;
		if (!header) {
			for (size_t i = 0; i < nf; i++) {
				for (int c = 0; c < XC_COL_N; c++) {
					if (strcmp(f[i], xc_col_names[c]) != 0)
						continue;
					if (col[c] >= 0) {
						rc = xc_fail(p, ls, "header: column '%s' twice",
							     xc_col_names[c]);
						goto out;
					}
					col[c] = (int)i;
				}
			}
			if (col[XC_COL_ADDR] < 0 || col[XC_COL_START] < 0 ||
			    col[XC_COL_CLASS] < 0) {
				rc = xc_fail(p, ls, "the header must name the columns address, "
					     "window_start and class (CSV), or the file must be "
					     "JSON");
				goto out;
			}
			ncols = nf;
			header = true;
			continue;
		}
		if (nf != ncols) {
			rc = xc_fail(p, ls, "%zu fields, the header has %zu", nf, ncols);
			break;
		}
		struct xc_detection d;
		memset(&d, 0, sizeof d);
		if ((rc = xc_set_addr(p, ls, f[col[XC_COL_ADDR]], &d)) ||
		    (rc = xc_time_str(p, ls, "window_start", f[col[XC_COL_START]], &d.start_s)) ||
		    (col[XC_COL_END] >= 0 && f[col[XC_COL_END]][0] &&
		     (rc = xc_time_str(p, ls, "window_end", f[col[XC_COL_END]], &d.end_s))) ||
		    (rc = xc_set_class(p, ls, f[col[XC_COL_CLASS]], &d)) ||
		    (col[XC_COL_SCORE] >= 0 &&
		     (rc = xc_set_score_str(p, ls, f[col[XC_COL_SCORE]], &d))) ||
		    (rc = xc_add(p, ls, &d)))
			break;
	}
	if (!rc && !header)
		rc = xc_fail(p, p->len, "no header line (CSV needs one naming the columns)");
out:
	mem_free(f);
	return rc;
}

int xc_detections_parse(struct xc_detections *out, const char *name, const char *buf,
			size_t len, char *err, size_t errlen)
{
	struct xc_parser p = { .name = name, .len = len, .err = err, .errlen = errlen,
			       .out = out, .line = 1 };
	char *copy;
	size_t pos = 0;
	int rc;

	if (errlen)
		err[0] = '\0';
	if (len > XC_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", name, XC_FILE_MAX);
		return BSC_EMALF;
	}
	const char *nul = memchr(buf, '\0', len);
	if (nul) {
		p.buf = buf;
		p.len = (size_t)(nul - buf);
		return xc_fail(&p, p.len, "NUL byte (not a text file)");
	}
	if (!(copy = mem_alloc(len + 1)))
		return BSC_ENOMEM;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	p.buf = copy;
	if (len >= 3 && memcmp(copy, "\xef\xbb\xbf", 3) == 0)
		pos = 3; /* UTF-8 byte order mark */
	pos = xc_skip_ws(&p, pos);
	if (pos >= len)
		rc = 0; /* empty: no detection */
	else if (copy[pos] == '[')
		rc = xc_parse_json(&p, pos, true);
	else if (copy[pos] == '{')
		rc = xc_parse_json(&p, pos, false);
	else
		rc = xc_parse_csv(&p, pos);
	mem_free(copy);
	return rc;
}

int xc_detections_load(struct xc_detections *out, const char *path, char *err, size_t errlen)
{
	bool std = strcmp(path, "-") == 0;
	FILE *f = std ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	int rc = 0;

	if (!f) {
		rc = bsc_err_sys(errno);
		snprintf(err, errlen, "%s: cannot open: %s", path, bsc_strerror(rc));
		return rc;
	}
	rc = mem_read_stream(f, XC_FILE_MAX, &buf, &len);
	if (rc == -EFBIG) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, XC_FILE_MAX);
		rc = BSC_EMALF;
		goto out;
	}
	if (rc) {
		snprintf(err, errlen, "%s: read error after byte %zu: %s", path, len,
			 bsc_strerror(rc));
		goto out;
	}
	rc = xc_detections_parse(out, std ? "(stdin)" : path, buf ? buf : "", len, err, errlen);
	if (rc == BSC_ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
out:
	mem_free(buf);
	if (!std)
		fclose(f);
	return rc;
}

void xc_detections_free(struct xc_detections *d)
{
	mem_free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}

/* ---- labels, scope ---- */

void xc_label_make(struct xc_label *out, const struct store_label *l, uint64_t queriers,
		   const struct lm_opts *o)
{
	struct lm_input in;

	memset(out, 0, sizeof *out);
	out->raw = *l;
	out->queriers = queriers;
	labelmap_input_label(l, &in);
	labelmap_map(&in, queriers, o, &out->map);
}

bool xc_overlap(uint64_t a_start, uint64_t a_end, uint64_t b_start, uint64_t b_end)
{
	return a_start < b_end && b_start < a_end;
}

bool xc_in_space(const struct xc_scope *sc, const struct bsc_addr *a)
{
	for (size_t i = 0; i < sc->nprefixes; i++)
		if (addr_in_prefix(a, &sc->prefixes[i]))
			return true;
	return false;
}

static uint64_t xc_label_end(const struct xc_label *l)
{
	return l->raw.window_start_s + (l->raw.window_len_s ? l->raw.window_len_s : 1);
}

static uint64_t xc_det_end(const struct xc_scope *sc, const struct xc_detection *d)
{
	if (d->end_s)
		return d->end_s;
	return d->start_s + (sc->window_s ? sc->window_s : 1);
}

static bool xc_in_time(const struct xc_scope *sc, uint64_t start, uint64_t end)
{
	return (!sc->since_s || end > sc->since_s) && (!sc->until_s || start < sc->until_s);
}

const char *xc_row_name(size_t row)
{
	return row < XC_ROW_NONE ? labelmap_name((enum lm_label)(row + 1)) : "none";
}

/* ---- the join ---- */

static int xc_cmp_label(const void *a, const void *b)
{
	const struct xc_label *x = *(const struct xc_label *const *)a;
	const struct xc_label *y = *(const struct xc_label *const *)b;
	int c = addr_cmp(&x->raw.source, &y->raw.source);

	if (c)
		return c;
	return (x->raw.window_start_s > y->raw.window_start_s) -
	       (x->raw.window_start_s < y->raw.window_start_s);
}

static int xc_cmp_det(const void *a, const void *b)
{
	const struct xc_detection *x = *(const struct xc_detection *const *)a;
	const struct xc_detection *y = *(const struct xc_detection *const *)b;
	int c = addr_cmp(&x->addr, &y->addr);

	if (c)
		return c;
	if (x->start_s != y->start_s)
		return (x->start_s > y->start_s) - (x->start_s < y->start_s);
	return (x->line > y->line) - (x->line < y->line);
}

static const struct bsc_addr *xc_pair_addr(const struct xc_pair *p)
{
	return p->label ? &p->label->raw.source : &p->det->addr;
}

static uint64_t xc_pair_start(const struct xc_pair *p)
{
	return p->label ? p->label->raw.window_start_s : p->det->start_s;
}

static int xc_cmp_pair(const void *a, const void *b)
{
	const struct xc_pair *x = a, *y = b;
	int c = addr_cmp(xc_pair_addr(x), xc_pair_addr(y));

	if (c)
		return c;
	uint64_t sx = xc_pair_start(x), sy = xc_pair_start(y);
	if (sx != sy)
		return (sx > sy) - (sx < sy);
	uint64_t dx = x->det ? x->det->start_s : UINT64_MAX;
	uint64_t dy = y->det ? y->det->start_s : UINT64_MAX;
	if (dx != dy)
		return (dx > dy) - (dx < dy);
	uint32_t lx = x->det ? x->det->line : 0, ly = y->det ? y->det->line : 0;
	return (lx > ly) - (lx < ly);
}

static int xc_cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

struct xc_pairs {
	struct xc_pair *v;
	size_t n, cap;
};

static int xc_push(struct xc_pairs *ps, const struct xc_label *l, const struct xc_detection *d,
		   uint64_t det_end)
{
	if (ps->n == ps->cap) {
		struct xc_pair *v = mem_grow(ps->v, &ps->cap, sizeof *v, 64);

		if (!v)
			return BSC_ENOMEM;
		ps->v = v;
	}
	struct xc_pair *p = &ps->v[ps->n++];
	memset(p, 0, sizeof *p);
	p->label = l;
	p->det = d;
	p->det_end_s = det_end;
	return 0;
}

/* A detection class that names no service ("scan", "research-scanner")
 * agrees with every scan-* label. */
static bool xc_generic_scan(const char *cls)
{
	return strcmp(cls, "scan") == 0 || strcmp(cls, "research-scanner") == 0;
}

static void xc_metrics_set(struct xc_metrics *m, uint64_t tp, uint64_t fp, uint64_t fn)
{
	m->tp = tp;
	m->fp = fp;
	m->fn = fn;
	m->support = tp + fn;
	m->precision = tp + fp ? (double)tp / (double)(tp + fp) : NAN;
	m->recall = tp + fn ? (double)tp / (double)(tp + fn) : NAN;
	m->f1 = tp + fp + fn ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : NAN;
}

/* Columns, matrix, per-class and two-class metrics from the pairs. */
static int xc_score(struct xc_result *r)
{
	size_t nnames = 0;
	char (*names)[XC_CLASS_LEN] = NULL;

	/* columns: the detection classes of the pairs, sorted, unique; none */
	if (!(names = mem_calloc(r->npairs + 1, sizeof *names)))
		return BSC_ENOMEM;
	for (size_t i = 0; i < r->npairs; i++)
		if (r->pairs[i].det)
			memcpy(names[nnames++], r->pairs[i].det->cls, XC_CLASS_LEN);
	qsort(names, nnames, sizeof *names, xc_cmp_name);
	size_t u = 0;
	for (size_t i = 0; i < nnames; i++)
		if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
			memmove(names[u++], names[i], XC_CLASS_LEN);
	snprintf(names[u], XC_CLASS_LEN, "none");
	r->ncols = u + 1;
	r->cols = names;
	if (!(r->counts = mem_calloc(XC_ROWS * r->ncols, sizeof *r->counts)))
		return BSC_ENOMEM;

	uint64_t tp = 0, fp = 0, fn = 0, tn = 0;
	for (size_t i = 0; i < r->npairs; i++) {
		struct xc_pair *p = &r->pairs[i];
		p->row = p->label ? (size_t)p->label->map.label - 1 : XC_ROW_NONE;
		if (p->det) {
			char *hit = bsearch(p->det->cls, r->cols, r->ncols - 1, XC_CLASS_LEN,
					    xc_cmp_name);
			p->col = hit ? (size_t)(hit - r->cols[0]) / XC_CLASS_LEN : r->ncols - 1;
		} else {
			p->col = r->ncols - 1;
		}
		r->counts[p->row * r->ncols + p->col]++;
		bool ls = p->label && labelmap_is_scan(p->label->map.label);
		bool ds = p->det && labelmap_class_is_scan(p->det->cls);
		tp += ls && ds;
		fn += ls && !ds;
		fp += !ls && ds;
		tn += !ls && !ds;
		p->disagree = ls != ds ||
			      (ls && ds && !xc_generic_scan(p->det->cls) &&
			       strcmp(p->det->cls, labelmap_name(p->label->map.label)) != 0);
		r->ndisagree += p->disagree;
	}
	xc_metrics_set(&r->overall, tp, fp, fn);
	r->tn = tn;
	r->accuracy = r->npairs ? (double)(tp + tn) / (double)r->npairs : NAN;

	/* per class: every definite label, then the other detection classes */
	if (!(r->classes = mem_calloc(XC_ROW_NONE + r->ncols, sizeof *r->classes)))
		return BSC_ENOMEM;
	for (size_t row = 0; row < XC_ROW_NONE + r->ncols - 1; row++) {
		const char *name;
		size_t lrow = SIZE_MAX, col = SIZE_MAX;
		if (row < XC_ROW_NONE) {
			name = xc_row_name(row);
			lrow = row;
			char *hit = bsearch(name, r->cols, r->ncols - 1, XC_CLASS_LEN, xc_cmp_name);
			if (hit)
				col = (size_t)(hit - r->cols[0]) / XC_CLASS_LEN;
		} else {
			col = row - XC_ROW_NONE;
			name = r->cols[col];
			enum lm_label l;
			if (labelmap_parse(name, &l) == 0 && labelmap_is_definite(l))
				continue; /* already a row */
		}
		uint64_t rowsum = 0, colsum = 0, hit = 0;
		for (size_t c = 0; lrow != SIZE_MAX && c < r->ncols; c++)
			rowsum += r->counts[lrow * r->ncols + c];
		for (size_t k = 0; col != SIZE_MAX && k < XC_ROWS; k++)
			colsum += r->counts[k * r->ncols + col];
		if (lrow != SIZE_MAX && col != SIZE_MAX)
			hit = r->counts[lrow * r->ncols + col];
		struct xc_class_metrics *cm = &r->classes[r->nclasses++];
		snprintf(cm->name, sizeof cm->name, "%s", name);
		xc_metrics_set(&cm->m, hit, colsum - hit, rowsum - hit);
		cm->predicted = colsum;
	}
	return 0;
}

int xc_run(const struct xc_scope *sc, const struct xc_detection *d, size_t nd,
	   const struct xc_label *l, size_t nl, struct xc_result *out)
{
	const struct xc_detection **ds = NULL;
	const struct xc_label **ls = NULL;
	struct xc_pairs ps = { 0 };
	uint8_t *state = NULL; /* per kept detection: 1 ambiguous overlap, 2 counted */
	size_t nds = 0, nls = 0;
	int rc = BSC_ENOMEM;

	memset(out, 0, sizeof *out);
	if (!sc->nprefixes)
		return BSC_EINVAL;
	out->det.read = nd;
	out->lab.read = nl;
	if ((nd && !(ds = mem_calloc(nd, sizeof *ds))) ||
	    (nl && !(ls = mem_calloc(nl, sizeof *ls))) || (nd && !(state = mem_calloc(nd, 1))))
		goto out;
	for (size_t i = 0; i < nd; i++) {
		if (!xc_in_space(sc, &d[i].addr))
			out->det.outside_space++;
		else if (!xc_in_time(sc, d[i].start_s, xc_det_end(sc, &d[i])))
			out->det.outside_time++;
		else
			ds[nds++] = &d[i];
	}
	for (size_t i = 0; i < nl; i++) {
		if (!xc_in_space(sc, &l[i].raw.source))
			out->lab.outside_space++;
		else if (!xc_in_time(sc, l[i].raw.window_start_s, xc_label_end(&l[i])))
			out->lab.outside_time++;
		else
			ls[nls++] = &l[i];
	}
	if (nds)
		qsort(ds, nds, sizeof *ds, xc_cmp_det);
	if (nls)
		qsort(ls, nls, sizeof *ls, xc_cmp_label);

	/* merge by address; inside one address every label against every
	 * detection that starts before the label ends */
	size_t j = 0;
	for (size_t i = 0; i < nls; i++) {
		const struct xc_label *lab = ls[i];
		const struct bsc_addr *a = &lab->raw.source;
		uint64_t ls_ = lab->raw.window_start_s, le = xc_label_end(lab);
		bool definite = labelmap_is_definite(lab->map.label), any = false;

		while (j < nds && addr_cmp(&ds[j]->addr, a) < 0)
			j++;
		for (size_t k = j; k < nds && addr_cmp(&ds[k]->addr, a) == 0; k++) {
			uint64_t de = xc_det_end(sc, ds[k]);
			if (ds[k]->start_s >= le)
				break;
			if (!xc_overlap(ls_, le, ds[k]->start_s, de))
				continue;
			if (!definite) {
				if (state[k] == 0)
					state[k] = 1;
				continue;
			}
			state[k] = 2;
			any = true;
			if ((rc = xc_push(&ps, lab, ds[k], de)))
				goto out;
		}
		if (!definite) {
			out->lab.ambiguous++;
			out->few_queriers += lab->map.why == LM_WHY_FEW_QUERIERS;
			continue;
		}
		out->lab.used++;
		if (!any && (rc = xc_push(&ps, lab, NULL, 0)))
			goto out;
	}
	for (size_t k = 0; k < nds; k++) {
		if (state[k] == 1) {
			out->det.ambiguous++;
			continue;
		}
		out->det.used++;
		if (state[k] == 0 && (rc = xc_push(&ps, NULL, ds[k], xc_det_end(sc, ds[k]))))
			goto out;
	}
	if (ps.n)
		qsort(ps.v, ps.n, sizeof *ps.v, xc_cmp_pair);
	out->pairs = ps.v;
	out->npairs = ps.n;
	ps.v = NULL;
	rc = xc_score(out);
out:
	mem_free(ps.v);
	mem_free(ds);
	mem_free(ls);
	mem_free(state);
	if (rc)
		xc_result_free(out);
	return rc;
}

void xc_result_free(struct xc_result *r)
{
	mem_free(r->cols);
	mem_free(r->counts);
	mem_free(r->classes);
	mem_free(r->pairs);
	memset(r, 0, sizeof *r);
}
