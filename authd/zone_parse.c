/* authd/zone_parse.c — master-file reader: a small lexer (comments, quotes,
 * parentheses, blank owners), the directives $ORIGIN, $TTL, $INCLUDE and
 * $GENERATE, and ldns for the rdata text of each record.
 *
 * Main thread, load time only.  Nothing here runs on the query path. */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ldns/ldns.h>
#include "authd/zone_parse.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/wire.h"

/* ---- error sink ---- */

static void errs_vput(struct zone_errs *e, bool error, const char *file, unsigned line,
		      const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void errs_vput(struct zone_errs *e, bool error, const char *file, unsigned line,
		      const char *fmt, va_list ap)
{
	char msg[1024];
	int n;
	if (line > 0)
		n = snprintf(msg, sizeof msg, "%s:%u: ", file, line);
	else
		n = snprintf(msg, sizeof msg, "%s: ", file);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof msg)
		vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	if (error) {
		log_error("zone: %s", msg);
		if (e->errors == 0 && e->buf && e->len > 0)
			snprintf(e->buf, e->len, "%s", msg);
		e->errors++;
	} else {
		log_warning("zone: %s", msg);
		e->warnings++;
	}
}

void zone_errs_error(struct zone_errs *e, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errs_vput(e, true, file, line, fmt, ap);
	va_end(ap);
}

void zone_errs_warning(struct zone_errs *e, const char *file, unsigned line, const char *fmt,
		       ...)
{
	va_list ap;
	va_start(ap, fmt);
	errs_vput(e, false, file, line, fmt, ap);
	va_end(ap);
}

/* ---- small parsers ---- */

int zone_parse_ttl(const char *s, uint32_t *out)
{
	uint64_t total = 0;
	uint64_t cur = 0;
	bool digits = false, units = false;
	if (*s == '\0')
		return -1;
	for (const char *p = s; *p; p++) {
		if (isdigit((unsigned char)*p)) {
			cur = cur * 10 + (uint64_t)(*p - '0');
			if (cur > 0xFFFFFFFFull)
				return -1;
			digits = true;
			continue;
		}
		uint64_t mul;
		switch (tolower((unsigned char)*p)) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 604800; break;
		default: return -1;
		}
		if (!digits)
			return -1;
		total += cur * mul;
		cur = 0;
		digits = false;
		units = true;
		if (total > 0xFFFFFFFFull)
			return -1;
	}
	if (digits && units)
		return -1; /* "1h30": a bare number after units */
	total += cur;
	if (total > 0x7FFFFFFFull)
		return -1;
	*out = (uint32_t)total;
	return 0;
}

size_t zone_name_from_text(const char *s, const uint8_t *origin, size_t origin_len,
			   uint8_t *out, const char **why)
{
	if (strcmp(s, "@") == 0) {
		if (!origin || origin_len == 0) {
			*why = "'@' used before any origin is known";
			return 0;
		}
		memcpy(out, origin, origin_len);
		return origin_len;
	}
	if (strcmp(s, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	uint8_t buf[DNAME_MAXLEN + 64];
	size_t pos = 0;     /* where the current label's length byte is */
	size_t llen = 0;
	bool absolute = false;
	const char *p = s;
	if (*p == '\0') {
		*why = "empty name";
		return 0;
	}
	buf[0] = 0;
	while (*p) {
		if (*p == '.') {
			if (llen == 0) {
				*why = "empty label";
				return 0;
			}
			buf[pos] = (uint8_t)llen;
			pos += 1 + llen;
			llen = 0;
			p++;
			if (*p == '\0')
				absolute = true;
			continue;
		}
		unsigned c;
		if (*p == '\\') {
			p++;
			if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
			    isdigit((unsigned char)p[2])) {
				c = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 +
				    (unsigned)(p[2] - '0');
				if (c > 255) {
					*why = "bad \\DDD escape";
					return 0;
				}
				p += 3;
			} else if (*p != '\0') {
				c = (unsigned char)*p++;
			} else {
				*why = "name ends with a backslash";
				return 0;
			}
		} else {
			c = (unsigned char)*p++;
		}
		if (llen >= 63) {
			*why = "label longer than 63 bytes";
			return 0;
		}
		if (pos + 1 + llen + 1 >= DNAME_MAXLEN) {
			*why = "name longer than 255 bytes";
			return 0;
		}
		buf[pos + 1 + llen] = (uint8_t)c;
		llen++;
	}
	if (llen > 0) {
		buf[pos] = (uint8_t)llen;
		pos += 1 + llen;
	}
	if (absolute) {
		buf[pos++] = 0;
		memcpy(out, buf, pos);
		return pos;
	}
	if (!origin || origin_len == 0) {
		*why = "relative name used before any origin is known";
		return 0;
	}
	if (pos + origin_len > DNAME_MAXLEN) {
		*why = "name longer than 255 bytes after appending the origin";
		return 0;
	}
	memcpy(out, buf, pos);
	memcpy(out + pos, origin, origin_len);
	return pos + origin_len;
}

static int class_of(const char *s)
{
	if (strcasecmp(s, "IN") == 0)
		return 1;
	if (strcasecmp(s, "CH") == 0 || strcasecmp(s, "CS") == 0)
		return 3;
	if (strcasecmp(s, "HS") == 0)
		return 4;
	if (strcasecmp(s, "NONE") == 0)
		return 254;
	if (strcasecmp(s, "ANY") == 0)
		return 255;
	if (strncasecmp(s, "CLASS", 5) == 0 && isdigit((unsigned char)s[5])) {
		char *end;
		unsigned long v = strtoul(s + 5, &end, 10);
		if (*end == '\0' && v <= 0xFFFF)
			return (int)v;
	}
	return -1;
}

static bool type_is_meta(uint16_t t)
{
	return t == 0 || t == 41 || (t >= 128 && t <= 255);
}

/* ---- lexer ---- */

struct zp_tok {
	size_t off;
	size_t len;
	bool quoted;
};

struct zp_entry {
	unsigned line;
	bool blank; /* the entry starts with white space: owner = previous owner */
	struct zp_tok *toks;
	size_t ntok, tcap;
	char *text;
	size_t tlen, xcap;
};

struct zp_file {
	const char *path;
	char *buf;
	size_t len;
	size_t pos;
	unsigned line;
};

struct zp_state {
	const struct zone_parse_opts *o;
	struct zone_errs *errs;
	uint8_t origin[DNAME_MAXLEN]; /* current $ORIGIN */
	size_t origin_len;
	ldns_rdf *origin_rdf;
	uint8_t zone_origin[DNAME_MAXLEN];
	size_t zone_origin_len;
	uint8_t prev[DNAME_MAXLEN];
	size_t prev_len;
	uint32_t dflt_ttl;
	bool have_dflt_ttl;
	uint32_t last_ttl;
	bool have_last_ttl;
	bool warned_ttl;
	unsigned depth;
	struct zp_entry gen;  /* scratch entry for $GENERATE */
	char *scratch;        /* rdata text for ldns */
	size_t scap;
	uint8_t *rdata;       /* rdata wire (65535 bytes) */
};

static const char *tok_str(const struct zp_entry *e, size_t i)
{
	return e->text + e->toks[i].off;
}

static int entry_push(struct zp_entry *e, const char *s, size_t len, bool quoted)
{
	if (e->ntok == e->tcap) {
		struct zp_tok *nt = mem_grow(e->toks, &e->tcap, sizeof *nt, 16);
		if (!nt)
			return BSC_ENOMEM;
		e->toks = nt;
	}
	if (e->tlen + len + 1 > e->xcap) {
		size_t nc = e->xcap ? e->xcap : 256;
		while (nc < e->tlen + len + 1)
			nc *= 2;
		char *nx = mem_realloc(e->text, nc);
		if (!nx)
			return BSC_ENOMEM;
		e->text = nx;
		e->xcap = nc;
	}
	memcpy(e->text + e->tlen, s, len);
	e->text[e->tlen + len] = '\0';
	e->toks[e->ntok].off = e->tlen;
	e->toks[e->ntok].len = len;
	e->toks[e->ntok].quoted = quoted;
	e->ntok++;
	e->tlen += len + 1;
	return 0;
}

static void entry_free(struct zp_entry *e)
{
	mem_free(e->toks);
	mem_free(e->text);
	memset(e, 0, sizeof *e);
}

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' ||
	       c == ')' || c == '"';
}

/* Skip the rest of the current line after a lexical error. */
static void skip_line(struct zp_file *f)
{
	while (f->pos < f->len && f->buf[f->pos] != '\n')
		f->pos++;
}

/* Read the next entry (one record or directive, parentheses joined).
 * Returns 1 (entry), 0 (end of file), BSC_EZONE (error reported, entry
 * skipped) or BSC_ENOMEM. */
static int lex_next(struct zp_state *st, struct zp_file *f, struct zp_entry *e)
{
	unsigned paren = 0;
	unsigned paren_line = 0;
	bool line_start = f->pos == 0 || f->buf[f->pos - 1] == '\n';
	e->ntok = 0;
	e->tlen = 0;
	e->blank = false;
	e->line = f->line;
	while (f->pos < f->len) {
		char c = f->buf[f->pos];
		if (line_start && paren == 0 && e->ntok == 0) {
			e->blank = c == ' ' || c == '\t';
			e->line = f->line;
		}
		line_start = false;
		if (c == '\n') {
			f->line++;
			f->pos++;
			line_start = true;
			if (paren == 0 && e->ntok > 0)
				return 1;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			f->pos++;
			continue;
		}
		if (c == '\0') {
			zone_errs_error(st->errs, f->path, f->line, "NUL byte in the file");
			skip_line(f);
			return BSC_EZONE;
		}
		if (c == ';') {
			skip_line(f);
			continue;
		}
		if (c == '(') {
			if (paren == 0)
				paren_line = f->line;
			paren++;
			f->pos++;
			continue;
		}
		if (c == ')') {
			if (paren == 0) {
				zone_errs_error(st->errs, f->path, f->line, "unbalanced ')'");
				skip_line(f);
				return BSC_EZONE;
			}
			paren--;
			f->pos++;
			continue;
		}
		size_t start;
		int rc;
		if (c == '"') {
			start = ++f->pos;
			while (f->pos < f->len && f->buf[f->pos] != '"') {
				if (f->buf[f->pos] == '\n' || f->buf[f->pos] == '\0')
					break;
				if (f->buf[f->pos] == '\\' && f->pos + 1 < f->len &&
				    f->buf[f->pos + 1] != '\n')
					f->pos++;
				f->pos++;
			}
			if (f->pos >= f->len || f->buf[f->pos] != '"') {
				zone_errs_error(st->errs, f->path, f->line,
						"unterminated quoted string");
				skip_line(f);
				return BSC_EZONE;
			}
			rc = entry_push(e, f->buf + start, f->pos - start, true);
			f->pos++;
		} else {
			start = f->pos;
			while (f->pos < f->len && !is_sep(f->buf[f->pos]) &&
			       f->buf[f->pos] != '\0') {
				if (f->buf[f->pos] == '\\' && f->pos + 1 < f->len &&
				    f->buf[f->pos + 1] != '\n' && f->buf[f->pos + 1] != '\0')
					f->pos++;
				f->pos++;
			}
			rc = entry_push(e, f->buf + start, f->pos - start, false);
		}
		if (rc)
			return rc;
	}
	if (paren > 0) {
		zone_errs_error(st->errs, f->path, paren_line, "missing ')' (opened here)");
		return BSC_EZONE;
	}
	return e->ntok > 0 ? 1 : 0;
}

/* ---- records ---- */

static int set_origin(struct zp_state *st, const uint8_t *name, size_t len)
{
	ldns_rdf *r = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, name);
	if (!r)
		return BSC_ENOMEM;
	ldns_rdf_deep_free(st->origin_rdf);
	st->origin_rdf = r;
	memcpy(st->origin, name, len);
	st->origin_len = len;
	if (st->zone_origin_len == 0) {
		memcpy(st->zone_origin, name, len);
		st->zone_origin_len = len;
	}
	return 0;
}

static int scratch_reserve(struct zp_state *st, size_t n)
{
	if (n <= st->scap)
		return 0;
	size_t nc = st->scap ? st->scap : 1024;
	while (nc < n)
		nc *= 2;
	char *p = mem_realloc(st->scratch, nc);
	if (!p)
		return BSC_ENOMEM;
	st->scratch = p;
	st->scap = nc;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 3597 generic rdata: \# LEN HEX... */
static int rdata_generic(const struct zp_entry *e, size_t i, size_t *rdlen, uint8_t *out,
			 const char **why)
{
	if (i + 1 >= e->ntok) {
		*why = "\\# without a length";
		return -1;
	}
	const char *ls = tok_str(e, i + 1);
	char *end;
	unsigned long len = strtoul(ls, &end, 10);
	if (!isdigit((unsigned char)ls[0]) || *end != '\0' || len > 65535) {
		*why = "bad \\# length";
		return -1;
	}
	size_t n = 0;
	int hi = -1;
	for (size_t k = i + 2; k < e->ntok; k++) {
		for (const char *p = tok_str(e, k); *p; p++) {
			int v = hexval(*p);
			if (v < 0) {
				*why = "bad hex digit in \\# data";
				return -1;
			}
			if (hi < 0) {
				hi = v;
				continue;
			}
			if (n >= len) {
				*why = "\\# data longer than its length";
				return -1;
			}
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0 || n != len) {
		*why = "\\# data shorter than its length or odd number of hex digits";
		return -1;
	}
	*rdlen = n;
	return 0;
}

/* Fields a record of this type has exactly, one token each (0: not checked). */
static size_t fixed_fields(uint16_t type)
{
	switch (type) {
	case LDNS_RR_TYPE_A:
	case LDNS_RR_TYPE_AAAA:
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_PTR:
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_DNAME:
		return 1;
	case LDNS_RR_TYPE_MX:
		return 2;
	case LDNS_RR_TYPE_SRV:
		return 4;
	case LDNS_RR_TYPE_SOA:
		return 7;
	default:
		return 0;
	}
}

/* Rdata text tokens e[i..] of @type into wire form with ldns. */
static int rdata_ldns(struct zp_state *st, const char *file, unsigned line, uint16_t type,
		      const struct zp_entry *e, size_t i, size_t *rdlen)
{
	size_t need = 64;
	for (size_t k = i; k < e->ntok; k++)
		need += e->toks[k].len + 3;
	if (scratch_reserve(st, need))
		return BSC_ENOMEM;
	int w = snprintf(st->scratch, st->scap, ". 0 IN TYPE%u", (unsigned)type);
	size_t o = w > 0 ? (size_t)w : 0;
	for (size_t k = i; k < e->ntok; k++) {
		st->scratch[o++] = ' ';
		if (e->toks[k].quoted)
			st->scratch[o++] = '"';
		memcpy(st->scratch + o, tok_str(e, k), e->toks[k].len);
		o += e->toks[k].len;
		if (e->toks[k].quoted)
			st->scratch[o++] = '"';
	}
	st->scratch[o] = '\0';

	ldns_rr *rr = NULL;
	ldns_status s = ldns_rr_new_frm_str(&rr, st->scratch, 0, st->origin_rdf, NULL);
	if (s != LDNS_STATUS_OK || !rr) {
		zone_errs_error(st->errs, file, line, "bad %s rdata: %s",
				ldns_rr_descript(type) ? ldns_rr_descript(type)->_name : "?",
				ldns_get_errorstr_by_id(s));
		ldns_rr_free(rr);
		return BSC_EZONE;
	}
	size_t fixed = fixed_fields(type);
	if (fixed && e->ntok - i > fixed) {
		zone_errs_error(st->errs, file, line, "trailing data after the %s rdata: '%s'",
				ldns_rr_descript(type)->_name, tok_str(e, i + fixed));
		ldns_rr_free(rr);
		return BSC_EZONE;
	}
	size_t n = 0;
	for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, k);
		if (!f)
			continue;
		size_t sz = ldns_rdf_size(f);
		if (n + sz > 65535) {
			zone_errs_error(st->errs, file, line, "rdata longer than 65535 bytes");
			ldns_rr_free(rr);
			return BSC_EZONE;
		}
		memcpy(st->rdata + n, ldns_rdf_data(f), sz);
		n += sz;
	}
	ldns_rr_free(rr);
	*rdlen = n;
	return 0;
}

/* The types of nearly every record of a reverse zone, without ldns (much
 * faster for large zones).  Returns 0, BSC_EZONE, or 1: leave it to ldns. */
static int rdata_simple(struct zp_state *st, const char *file, unsigned line, uint16_t type,
			const struct zp_entry *e, size_t i, size_t *rdlen)
{
	if (e->ntok != i + 1 || e->toks[i].quoted)
		return 1;
	const char *s = tok_str(e, i);
	const char *why = NULL;
	switch (type) {
	case LDNS_RR_TYPE_PTR:
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_DNAME:
		*rdlen = zone_name_from_text(s, st->origin, st->origin_len, st->rdata, &why);
		if (*rdlen == 0) {
			zone_errs_error(st->errs, file, line, "bad %s rdata '%s': %s",
					ldns_rr_descript(type)->_name, s, why);
			return BSC_EZONE;
		}
		return 0;
	case LDNS_RR_TYPE_A:
	case LDNS_RR_TYPE_AAAA:
		if (inet_pton(type == LDNS_RR_TYPE_A ? AF_INET : AF_INET6, s, st->rdata) != 1) {
			zone_errs_error(st->errs, file, line,
					"bad %s rdata: '%s' is not an address",
					ldns_rr_descript(type)->_name, s);
			return BSC_EZONE;
		}
		*rdlen = type == LDNS_RR_TYPE_A ? 4 : 16;
		return 0;
	default:
		return 1;
	}
}

/* One record entry: [owner] [ttl] [class] type rdata... */
static int do_rr(struct zp_state *st, const char *file, unsigned line, const struct zp_entry *e)
{
	uint8_t owner[DNAME_MAXLEN];
	size_t olen;
	size_t i = 0;
	const char *why = NULL;

	if (e->blank) {
		if (st->prev_len == 0) {
			zone_errs_error(st->errs, file, line,
					"record starts with white space but no previous owner");
			return BSC_EZONE;
		}
		memcpy(owner, st->prev, st->prev_len);
		olen = st->prev_len;
	} else {
		if (e->toks[0].quoted) {
			zone_errs_error(st->errs, file, line, "quoted owner name");
			return BSC_EZONE;
		}
		olen = zone_name_from_text(tok_str(e, 0), st->origin, st->origin_len, owner, &why);
		if (olen == 0) {
			zone_errs_error(st->errs, file, line, "bad owner name '%s': %s",
					tok_str(e, 0), why);
			return BSC_EZONE;
		}
		i = 1;
	}
	bool have_ttl = false, have_class = false;
	uint32_t ttl = 0;
	while (i < e->ntok && !e->toks[i].quoted) {
		const char *s = tok_str(e, i);
		if (!have_ttl && isdigit((unsigned char)s[0])) {
			if (zone_parse_ttl(s, &ttl) != 0) {
				zone_errs_error(st->errs, file, line, "bad TTL '%s'", s);
				return BSC_EZONE;
			}
			have_ttl = true;
			i++;
			continue;
		}
		int cls = class_of(s);
		if (!have_class && cls >= 0) {
			if (cls != 1) {
				zone_errs_error(st->errs, file, line,
						"class %s not supported (only IN)", s);
				return BSC_EZONE;
			}
			have_class = true;
			i++;
			continue;
		}
		break;
	}
	if (i >= e->ntok || e->toks[i].quoted) {
		zone_errs_error(st->errs, file, line, "missing record type");
		return BSC_EZONE;
	}
	const char *tname = tok_str(e, i);
	uint16_t type = (uint16_t)ldns_get_rr_type_by_name(tname);
	if (type == 0 && strncasecmp(tname, "TYPE", 4) != 0) {
		zone_errs_error(st->errs, file, line, "unknown record type '%s'", tname);
		return BSC_EZONE;
	}
	if (type_is_meta(type)) {
		zone_errs_error(st->errs, file, line, "type %s cannot appear in zone data", tname);
		return BSC_EZONE;
	}
	i++;
	if (!e->blank) {
		memcpy(st->prev, owner, olen);
		st->prev_len = olen;
	}
	/* an SOA before any origin gives both the zone origin and the $ORIGIN */
	if (type == LDNS_RR_TYPE_SOA && st->origin_len == 0) {
		int rc = set_origin(st, owner, olen);
		if (rc)
			return rc;
	}

	size_t rdlen = 0;
	if (i < e->ntok && !e->toks[i].quoted && strcmp(tok_str(e, i), "\\#") == 0) {
		if (rdata_generic(e, i, &rdlen, st->rdata, &why) != 0) {
			zone_errs_error(st->errs, file, line, "%s", why);
			return BSC_EZONE;
		}
	} else {
		if (!ldns_rr_descript(type) || ldns_rr_descript(type)->_name == NULL) {
			zone_errs_error(st->errs, file, line,
					"type %s is unknown here: write its rdata as \\# LEN HEX",
					tname);
			return BSC_EZONE;
		}
		int rc = rdata_simple(st, file, line, type, e, i, &rdlen);
		if (rc == 1)
			rc = rdata_ldns(st, file, line, type, e, i, &rdlen);
		if (rc)
			return rc;
	}

	if (!have_ttl) {
		if (st->have_dflt_ttl) {
			ttl = st->dflt_ttl;
		} else if (st->have_last_ttl) {
			ttl = st->last_ttl;
		} else if (type == LDNS_RR_TYPE_SOA && rdlen >= 4) {
			ttl = wire_get_u32(st->rdata + rdlen - 4); /* the SOA's minimum */
			if (ttl > 0x7FFFFFFF)
				ttl = 0x7FFFFFFF;
		} else {
			ttl = 3600;
			if (!st->warned_ttl)
				zone_errs_warning(st->errs, file, line,
						  "no TTL and no $TTL: using 3600");
			st->warned_ttl = true;
		}
	} else {
		st->last_ttl = ttl;
		st->have_last_ttl = true;
	}

	struct zone_rr rr = {
		.file = file, .line = line, .owner = owner, .owner_len = olen, .type = type,
		.ttl = ttl, .rdata = st->rdata, .rdlen = rdlen,
	};
	return st->o->cb(st->o->ctx, &rr);
}

static int parse_file(struct zp_state *st, const char *path);

static int do_include(struct zp_state *st, struct zp_file *f, const struct zp_entry *e)
{
	if (e->ntok < 2 || e->ntok > 3) {
		zone_errs_error(st->errs, f->path, e->line, "$INCLUDE needs a file name [origin]");
		return BSC_EZONE;
	}
	if (st->depth >= ZONE_INCLUDE_DEPTH) {
		zone_errs_error(st->errs, f->path, e->line,
				"$INCLUDE nested more than %d levels (a loop?)",
				ZONE_INCLUDE_DEPTH);
		return BSC_EZONE;
	}
	const char *name = tok_str(e, 1);
	char *path = NULL;
	if (name[0] == '/') {
		path = mem_strdup(name);
	} else {
		/* relative to the folder of the including file, as Knot does */
		const char *slash = strrchr(f->path, '/');
		size_t dl = slash ? (size_t)(slash - f->path) + 1 : 0;
		path = mem_alloc(dl + strlen(name) + 1);
		if (path) {
			memcpy(path, f->path, dl);
			strcpy(path + dl, name);
		}
	}
	if (!path)
		return BSC_ENOMEM;

	uint8_t saved[DNAME_MAXLEN];
	size_t saved_len = st->origin_len;
	memcpy(saved, st->origin, saved_len);
	int rc = 0;
	if (e->ntok == 3) {
		uint8_t o[DNAME_MAXLEN];
		const char *why = NULL;
		size_t ol = zone_name_from_text(tok_str(e, 2), st->origin, st->origin_len, o, &why);
		if (ol == 0) {
			zone_errs_error(st->errs, f->path, e->line, "bad $INCLUDE origin '%s': %s",
					tok_str(e, 2), why);
			rc = BSC_EZONE;
			goto out;
		}
		rc = set_origin(st, o, ol);
		if (rc)
			goto out;
	}
	st->depth++;
	rc = parse_file(st, path);
	st->depth--;
	if (rc == BSC_ENOENT || rc == BSC_EACCES || rc == BSC_EIO) {
		zone_errs_error(st->errs, f->path, e->line, "cannot include %s: %s", path,
				bsc_strerror(rc));
		rc = BSC_EZONE;
	}
	/* the included file's $ORIGIN does not leak back (RFC 1035 5.1) */
	if (saved_len > 0) {
		int r2 = set_origin(st, saved, saved_len);
		if (r2 && !rc)
			rc = r2;
	}
out:
	mem_free(path);
	return rc;
}

static int do_generate(struct zp_state *st, struct zp_file *f, const struct zp_entry *e)
{
	const char *why = NULL;
	struct zone_gen_range r;
	if (e->ntok < 5) {
		zone_errs_error(st->errs, f->path, e->line,
				"$GENERATE needs: range lhs [ttl] [class] type rhs");
		return BSC_EZONE;
	}
	if (zone_generate_range(tok_str(e, 1), &r, &why) != 0) {
		zone_errs_error(st->errs, f->path, e->line, "%s: '%s'", why, tok_str(e, 1));
		return BSC_EZONE;
	}
	/* find the type token: after lhs, an optional TTL and class */
	size_t t = 3;
	for (int k = 0; k < 2 && t < e->ntok; k++) {
		const char *s = tok_str(e, t);
		if (isdigit((unsigned char)s[0]) || class_of(s) >= 0)
			t++;
	}
	if (t + 1 >= e->ntok) {
		zone_errs_error(st->errs, f->path, e->line, "$GENERATE without type or rhs");
		return BSC_EZONE;
	}
	char buf[2048];
	struct zp_entry *g = &st->gen;
	for (unsigned long v = r.start; v <= r.stop; v += r.step) {
		g->ntok = 0;
		g->tlen = 0;
		g->blank = false;
		g->line = e->line;
		for (size_t k = 2; k < e->ntok; k++) {
			const char *s = tok_str(e, k);
			size_t len = e->toks[k].len;
			bool subst = k == 2 || k > t;
			if (subst) {
				if (zone_generate_subst(s, v, buf, sizeof buf, &why) != 0) {
					zone_errs_error(st->errs, f->path, e->line, "%s in '%s'",
							why, s);
					return BSC_EZONE;
				}
				s = buf;
				len = strlen(buf);
			}
			int rc = entry_push(g, s, len, e->toks[k].quoted);
			if (rc)
				return rc;
		}
		int rc = do_rr(st, f->path, e->line, g);
		if (rc)
			return rc;
		if (r.stop - v < r.step)
			break;
	}
	return 0;
}

static int do_entry(struct zp_state *st, struct zp_file *f, const struct zp_entry *e)
{
	const char *t0 = tok_str(e, 0);
	if (e->blank || e->toks[0].quoted || t0[0] != '$')
		return do_rr(st, f->path, e->line, e);

	const char *why = NULL;
	if (strcasecmp(t0, "$ORIGIN") == 0) {
		uint8_t o[DNAME_MAXLEN];
		if (e->ntok != 2) {
			zone_errs_error(st->errs, f->path, e->line, "$ORIGIN needs one name");
			return BSC_EZONE;
		}
		size_t ol = zone_name_from_text(tok_str(e, 1), st->origin, st->origin_len, o, &why);
		if (ol == 0) {
			zone_errs_error(st->errs, f->path, e->line, "bad $ORIGIN '%s': %s",
					tok_str(e, 1), why);
			return BSC_EZONE;
		}
		return set_origin(st, o, ol);
	}
	if (strcasecmp(t0, "$TTL") == 0) {
		if (e->ntok != 2 || zone_parse_ttl(tok_str(e, 1), &st->dflt_ttl) != 0) {
			zone_errs_error(st->errs, f->path, e->line, "bad $TTL");
			return BSC_EZONE;
		}
		st->have_dflt_ttl = true;
		return 0;
	}
	if (strcasecmp(t0, "$INCLUDE") == 0)
		return do_include(st, f, e);
	if (strcasecmp(t0, "$GENERATE") == 0)
		return do_generate(st, f, e);
	zone_errs_error(st->errs, f->path, e->line, "unknown directive '%s'", t0);
	return BSC_EZONE;
}

int zone_check_perms(int fd, const char *path, uid_t run_uid, struct zone_errs *e)
{
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		zone_errs_error(e, path, 0, "cannot stat: %s", strerror(errno));
		return BSC_EPERM_FILE;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		zone_errs_error(e, path, 0, "refused: writable by %s (mode %03o)",
				(sb.st_mode & S_IWOTH) ? "others" : "group",
				(unsigned)(sb.st_mode & 0777));
		return BSC_EPERM_FILE;
	}
	if (sb.st_uid != 0 && sb.st_uid != run_uid) {
		zone_errs_error(e, path, 0, "refused: owned by uid %u, neither root nor uid %u",
				(unsigned)sb.st_uid, (unsigned)run_uid);
		return BSC_EPERM_FILE;
	}
	return 0;
}

static int read_file(struct zp_state *st, const char *path, char **out, size_t *len)
{
	int rc = 0;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = bsc_err_sys(errno);
		goto out;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		rc = bsc_err_sys(errno);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = BSC_EIO;
		goto out;
	}
	if (st->o->check_perms) {
		rc = zone_check_perms(fd, path, st->o->run_uid, st->errs);
		if (rc)
			goto out;
	}
	size_t cap = (size_t)sb.st_size + 1;
	buf = mem_alloc(cap);
	if (!buf) {
		rc = BSC_ENOMEM;
		goto out;
	}
	size_t n = 0;
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = mem_grow(buf, &cap, 1, cap);
			if (!nb) {
				rc = BSC_ENOMEM;
				goto out;
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = bsc_err_sys(errno);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	mem_free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int parse_file(struct zp_state *st, const char *path)
{
	struct zp_file f = { .path = path, .line = 1 };
	struct zp_entry e = { 0 };
	int rc = read_file(st, path, &f.buf, &f.len);
	if (rc)
		goto out;
	for (;;) {
		if (st->errs->errors >= ZONE_MAX_ERRORS) {
			rc = BSC_EZONE;
			break;
		}
		int r = lex_next(st, &f, &e);
		if (r == 0)
			break;
		if (r == BSC_ENOMEM) {
			rc = r;
			break;
		}
		if (r == BSC_EZONE)
			continue;
		r = do_entry(st, &f, &e);
		if (r == BSC_EZONE)
			continue;
		if (r) {
			rc = r;
			break;
		}
	}
out:
	entry_free(&e);
	mem_free(f.buf);
	return rc;
}

int zone_parse(const struct zone_parse_opts *o, uint8_t *origin, size_t *origin_len)
{
	struct zp_state *st = mem_calloc(1, sizeof *st);
	int rc = 0;
	*origin_len = 0;
	if (!st)
		return BSC_ENOMEM;
	st->o = o;
	st->errs = o->errs;
	st->rdata = mem_alloc(65536);
	if (!st->rdata) {
		rc = BSC_ENOMEM;
		goto out;
	}
	if (o->origin && o->origin_len > 0) {
		rc = set_origin(st, o->origin, o->origin_len);
		if (rc)
			goto out;
	}
	unsigned before = st->errs->errors;
	rc = parse_file(st, o->path);
	if (rc == BSC_ENOENT || rc == BSC_EACCES || rc == BSC_EIO)
		zone_errs_error(st->errs, o->path, 0, "cannot read: %s", bsc_strerror(rc));
	if (rc == 0 && st->errs->errors > before)
		rc = BSC_EZONE;
	memcpy(origin, st->zone_origin, st->zone_origin_len);
	*origin_len = st->zone_origin_len;
out:
	ldns_rdf_deep_free(st->origin_rdf);
	entry_free(&st->gen);
	mem_free(st->scratch);
	mem_free(st->rdata);
	mem_free(st);
	return rc;
}
