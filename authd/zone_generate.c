/* authd/zone_generate.c — BIND's $GENERATE directive: range parsing and `$`
 * substitution in the owner and rdata templates (see zone_parse.h).
 *
 * Pure; runs on the main thread at zone load time. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "authd/zone_parse.h"

static bool parse_ulong(const char **pp, unsigned long *out)
{
	const char *p = *pp;
	if (!isdigit((unsigned char)*p))
		return false;
	unsigned long v = 0;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 0xFFFFFFFFul)
			return false;
		p++;
	}
	*pp = p;
	*out = v;
	return true;
}

int zone_generate_range(const char *text, struct zone_gen_range *r, const char **why)
{
	const char *p = text;
	unsigned long start, stop, step = 1;
	if (!parse_ulong(&p, &start) || *p != '-') {
		*why = "bad $GENERATE range (expected START-STOP[/STEP])";
		return -1;
	}
	p++;
	if (!parse_ulong(&p, &stop)) {
		*why = "bad $GENERATE range (expected START-STOP[/STEP])";
		return -1;
	}
	if (*p == '/') {
		p++;
		if (!parse_ulong(&p, &step)) {
			*why = "bad $GENERATE step";
			return -1;
		}
	}
	if (*p != '\0') {
		*why = "bad $GENERATE range (trailing characters)";
		return -1;
	}
	if (start > stop) {
		*why = "bad $GENERATE range (start above stop)";
		return -1;
	}
	if (step == 0) {
		*why = "bad $GENERATE step (zero)";
		return -1;
	}
	if ((stop - start) / step + 1 > ZONE_GENERATE_MAX) {
		*why = "$GENERATE range too large (at most 65536 records per directive)";
		return -1;
	}
	r->start = start;
	r->stop = stop;
	r->step = step;
	return 0;
}

/* BIND's nibble form: hex digits from the lowest, separated by dots; the
 * width counts output characters, dots included. */
static size_t put_nibbles(char *buf, size_t size, unsigned width, bool upper, unsigned long v)
{
	static const char lo[] = "0123456789abcdef";
	static const char up[] = "0123456789ABCDEF";
	size_t n = 0;
	do {
		if (n + 1 < size)
			buf[n] = (upper ? up : lo)[v & 0xf];
		n++;
		v >>= 4;
		if (width > 0)
			width--;
		if (width > 0 || v != 0) {
			if (n + 1 < size)
				buf[n] = '.';
			n++;
			if (width > 0)
				width--;
		}
	} while (v != 0 || width > 0);
	if (size > 0)
		buf[n < size ? n : size - 1] = '\0';
	return n;
}

/* Parse "${offset[,width[,base]]}" starting after "${"; *pp ends after '}'. */
static int parse_modifier(const char **pp, long *offset, unsigned *width, char *base,
			  const char **why)
{
	const char *p = *pp;
	char *end;
	*offset = 0;
	*width = 0;
	*base = 'd';
	errno = 0;
	long off = strtol(p, &end, 10);
	if (end == p || errno != 0 || off > 0x7FFFFFFFL || off < -0x7FFFFFFFL) {
		*why = "bad $GENERATE modifier offset";
		return -1;
	}
	*offset = off;
	p = end;
	if (*p == ',') {
		p++;
		unsigned long w;
		if (!parse_ulong(&p, &w) || w > 255) {
			*why = "bad $GENERATE modifier width (0..255)";
			return -1;
		}
		*width = (unsigned)w;
		if (*p == ',') {
			p++;
			if (!strchr("doxXnN", *p) || *p == '\0') {
				*why = "bad $GENERATE modifier base (d, o, x, X, n or N)";
				return -1;
			}
			*base = *p++;
		}
	}
	if (*p != '}') {
		*why = "bad $GENERATE modifier (missing })";
		return -1;
	}
	*pp = p + 1;
	return 0;
}

int zone_generate_subst(const char *tmpl, unsigned long value, char *out, size_t size,
			const char **why)
{
	size_t o = 0;
	const char *p = tmpl;
	char num[600];

	while (*p != '\0') {
		if (*p == '\\') {
			/* keep the escape: "\$" stays "\$", a literal '$' in the name */
			if (o + 2 >= size)
				goto too_long;
			out[o++] = *p++;
			if (*p != '\0')
				out[o++] = *p++;
			continue;
		}
		if (*p != '$') {
			if (o + 1 >= size)
				goto too_long;
			out[o++] = *p++;
			continue;
		}
		p++;
		if (*p == '$') {
			if (o + 1 >= size)
				goto too_long;
			out[o++] = '$';
			p++;
			continue;
		}
		long offset = 0;
		unsigned width = 0;
		char base = 'd';
		if (*p == '{') {
			p++;
			if (parse_modifier(&p, &offset, &width, &base, why) != 0)
				return -1;
		}
		long long v = (long long)value + offset;
		if (v < 0 || v > 0xFFFFFFFFLL) {
			*why = "$GENERATE value out of range after the offset";
			return -1;
		}
		size_t n;
		if (base == 'n' || base == 'N') {
			n = put_nibbles(num, sizeof num, width, base == 'N', (unsigned long)v);
		} else {
			int r;
			if (base == 'o')
				r = snprintf(num, sizeof num, "%0*llo", (int)width,
					     (unsigned long long)v);
			else if (base == 'x')
				r = snprintf(num, sizeof num, "%0*llx", (int)width,
					     (unsigned long long)v);
			else if (base == 'X')
				r = snprintf(num, sizeof num, "%0*llX", (int)width,
					     (unsigned long long)v);
			else
				r = snprintf(num, sizeof num, "%0*lld", (int)width, v);
			n = r > 0 ? (size_t)r : 0;
		}
		if (n >= sizeof num || o + n >= size)
			goto too_long;
		memcpy(out + o, num, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
too_long:
	*why = "$GENERATE result too long";
	return -1;
}
