/* common/addr.c — IPv4/IPv6 addresses, prefixes and socket addresses.
 *
 * Numeric only (parsed with inet_pton; printed as inet_ntop prints, without
 * it): nothing here ever resolves a name.  Pure functions on caller storage;
 * any thread. */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include "common/addr.h"
#include "common/err.h"

static unsigned family_bits(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return 0;
}

/* Strict decimal: digits only, no sign, no leading zero (except "0"), at most
 * @maxdigits digits and a value <= @max.  Returns the value or -1. */
static long parse_dec(const char *s, size_t n, unsigned maxdigits, long max)
{
	if (n == 0 || n > maxdigits || (n > 1 && s[0] == '0'))
		return -1;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > max ? -1 : v;
}

/* inet_pton on s[0..n-1] for @family. */
static int pton_n(int family, const char *s, size_t n, void *dst)
{
	char tmp[INET6_ADDRSTRLEN + 1];

	if (n == 0 || n >= sizeof tmp)
		return BSC_EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(family, tmp, dst) == 1 ? 0 : BSC_EINVAL;
}

void addr_mask(struct bsc_addr *a, unsigned prefix)
{
	unsigned bits = family_bits(a->family);

	if (prefix > bits)
		prefix = bits;
	unsigned full = prefix / 8;
	unsigned rem = prefix % 8;
	if (full < 16 && rem) {
		a->bytes[full] &= (uint8_t)(0xff00u >> rem);
		full++;
	}
	if (full < 16)
		memset(a->bytes + full, 0, 16 - full);
	a->prefix = (uint8_t)prefix;
}

int addr_parse(struct bsc_addr *out, const char *s, bool lenient)
{
	memset(out, 0, sizeof *out);
	if (!s)
		return BSC_EINVAL;

	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	int family = memchr(s, ':', alen) ? AF_INET6 : AF_INET;
	struct bsc_addr a = { .family = (uint8_t)family };

	if (pton_n(family, s, alen, a.bytes) != 0)
		return BSC_EINVAL;
	unsigned bits = family_bits(family);
	unsigned prefix = bits;
	if (slash) {
		long v = parse_dec(slash + 1, strlen(slash + 1), 3, bits);
		if (v < 0)
			return BSC_EINVAL;
		prefix = (unsigned)v;
	}
	struct bsc_addr masked = a;
	addr_mask(&masked, prefix);
	if (!lenient && memcmp(masked.bytes, a.bytes, sizeof a.bytes) != 0)
		return BSC_EINVAL;
	*out = masked;
	return 0;
}

/* Decimal 0..255 at @p; returns the end. */
static char *put_dec8(char *p, unsigned v)
{
	if (v >= 100)
		*p++ = (char)('0' + v / 100);
	if (v >= 10)
		*p++ = (char)('0' + v / 10 % 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

/* Dotted quad of b[0..3] at @p; returns the end. */
static char *put_v4(char *p, const uint8_t *b)
{
	p = put_dec8(p, b[0]);
	for (int i = 1; i < 4; i++) {
		*p++ = '.';
		p = put_dec8(p, b[i]);
	}
	return p;
}

/* Lowercase hex of a 16-bit group without leading zeros; returns the end. */
static char *put_hex16(char *p, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	int shift = 12;

	while (shift && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*p++ = hex[(v >> shift) & 0xf];
	return p;
}

/* IPv6 text of b[0..15] at @p, exactly as glibc's inet_ntop: the first longest
 * run of two or more zero groups becomes "::", and a run from group 0 of
 * length 6, or of length 5 followed by ffff, ends in a dotted quad. */
static char *put_v6(char *p, const uint8_t *b)
{
	unsigned g[8];
	int best = -1, blen = 1, run = 0;

	for (int i = 0; i < 8; i++) {
		g[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
		run = g[i] ? 0 : run + 1;
		if (run > blen) {
			blen = run;
			best = i - run + 1;
		}
	}
	if (best == 0 && (blen == 6 || (blen == 5 && g[5] == 0xffff))) {
		*p++ = ':';
		*p++ = ':';
		if (blen == 5) {
			memcpy(p, "ffff:", 5);
			p += 5;
		}
		return put_v4(p, b + 12);
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			*p++ = ':';
			i += blen - 1;
			if (i == 7)
				*p++ = ':';
			continue;
		}
		if (i)
			*p++ = ':';
		p = put_hex16(p, g[i]);
	}
	return p;
}

int addr_format(const struct bsc_addr *a, char *buf, size_t len)
{
	char tmp[ADDR_STRLEN];
	unsigned bits = family_bits(a->family);
	char *p;

	if (!bits || a->prefix > bits)
		return BSC_EINVAL;
	p = a->family == AF_INET ? put_v4(tmp, a->bytes) : put_v6(tmp, a->bytes);
	if (a->prefix != bits) {
		*p++ = '/';
		p = put_dec8(p, a->prefix);
	}
	size_t n = (size_t)(p - tmp);
	if (n >= len)
		return BSC_ENOSPC;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
	return (int)n;
}

void addr_from_sockaddr(struct bsc_addr *out, const struct sockaddr *sa)
{
	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		out->family = AF_INET;
		out->prefix = 32;
		memcpy(out->bytes, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		out->family = AF_INET6;
		out->prefix = 128;
		memcpy(out->bytes, &in6->sin6_addr, 16);
	}
}

bool addr_in_prefix(const struct bsc_addr *a, const struct bsc_addr *p)
{
	if (a->family != p->family || !family_bits(a->family) || a->prefix < p->prefix)
		return false;
	struct bsc_addr m = *a;
	addr_mask(&m, p->prefix);
	return memcmp(m.bytes, p->bytes, sizeof m.bytes) == 0;
}

int addr_cmp(const struct bsc_addr *a, const struct bsc_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->bytes, b->bytes, sizeof a->bytes);
	if (c)
		return c < 0 ? -1 : 1;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return 0;
}

/* IPv6 text s[0..n-1], optionally with "%SCOPE" (interface name or number). */
static int parse_v6_scoped(struct sockaddr_in6 *in6, const char *s, size_t n)
{
	const char *pct = memchr(s, '%', n);
	size_t alen = pct ? (size_t)(pct - s) : n;

	if (pton_n(AF_INET6, s, alen, &in6->sin6_addr) != 0)
		return BSC_EINVAL;
	if (!pct)
		return 0;
	const char *scope = pct + 1;
	size_t slen = n - alen - 1;
	char name[IF_NAMESIZE];
	if (slen == 0)
		return BSC_EINVAL;
	long num = parse_dec(scope, slen, 10, 0xffffffffL);
	if (num >= 0) {
		in6->sin6_scope_id = (uint32_t)num;
		return 0;
	}
	if (slen >= sizeof name)
		return BSC_EINVAL;
	memcpy(name, scope, slen);
	name[slen] = '\0';
	unsigned idx = if_nametoindex(name);
	if (!idx)
		return BSC_EINVAL;
	in6->sin6_scope_id = idx;
	return 0;
}

static int fill_sockaddr(struct bsc_sockaddr *out, const char *a, size_t alen, long port)
{
	if (memchr(a, ':', alen)) {
		out->u.in6.sin6_family = AF_INET6;
		out->u.in6.sin6_port = htons((uint16_t)port);
		out->len = sizeof out->u.in6;
		return parse_v6_scoped(&out->u.in6, a, alen);
	}
	out->u.in.sin_family = AF_INET;
	out->u.in.sin_port = htons((uint16_t)port);
	out->len = sizeof out->u.in;
	return pton_n(AF_INET, a, alen, &out->u.in.sin_addr);
}

int sockaddr_parse(struct bsc_sockaddr *out, const char *s, uint16_t default_port)
{
	struct bsc_sockaddr sa;
	memset(&sa, 0, sizeof sa);
	memset(out, 0, sizeof *out);
	if (!s)
		return BSC_EINVAL;

	size_t n = strlen(s);
	const char *a = s;
	size_t alen = n;
	long port = default_port;
	const char *at = memrchr(s, '@', n);

	if (s[0] == '[') {
		/* "[v6]", "[v6]:PORT" or "[v6]@PORT" */
		const char *close = memchr(s, ']', n);
		if (!close)
			return BSC_EINVAL;
		a = s + 1;
		alen = (size_t)(close - a);
		if (!memchr(a, ':', alen))
			return BSC_EINVAL;
		const char *rest = close + 1;
		if (*rest == ':' || *rest == '@') {
			port = parse_dec(rest + 1, strlen(rest + 1), 5, 65535);
			if (port < 0)
				return BSC_EINVAL;
		} else if (*rest != '\0') {
			return BSC_EINVAL;
		}
	} else if (at) {
		/* "ADDR@PORT" */
		alen = (size_t)(at - s);
		port = parse_dec(at + 1, n - alen - 1, 5, 65535);
		if (port < 0)
			return BSC_EINVAL;
	} else {
		/* "v4:PORT" has exactly one colon; more colons make it IPv6. */
		const char *colon = memchr(s, ':', n);
		if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
			alen = (size_t)(colon - s);
			port = parse_dec(colon + 1, n - alen - 1, 5, 65535);
			if (port < 0)
				return BSC_EINVAL;
		}
	}
	if (memchr(a, '@', alen) || memchr(a, '[', alen) || memchr(a, ']', alen))
		return BSC_EINVAL;
	int rc = fill_sockaddr(&sa, a, alen, port);
	if (rc)
		return rc;
	*out = sa;
	return 0;
}

int sockaddr_format(const struct bsc_sockaddr *sa, char *buf, size_t len)
{
	char tmp[SOCKADDR_STRLEN];
	size_t n;

	if (sa->u.sa.sa_family == AF_INET) {
		n = (size_t)(put_v4(tmp, (const uint8_t *)&sa->u.in.sin_addr) - tmp);
	} else if (sa->u.sa.sa_family == AF_INET6) {
		n = (size_t)(put_v6(tmp, sa->u.in6.sin6_addr.s6_addr) - tmp);
		uint32_t scope = sa->u.in6.sin6_scope_id;
		if (scope) {
			char name[IF_NAMESIZE];
			if (if_indextoname(scope, name))
				n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%%%s", name);
			else
				n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%%%u", scope);
		}
	} else {
		return BSC_EINVAL;
	}
	n += (size_t)snprintf(tmp + n, sizeof tmp - n, "@%u", sockaddr_port(sa));
	if (n >= len)
		return BSC_ENOSPC;
	memcpy(buf, tmp, n + 1);
	return (int)n;
}

uint16_t sockaddr_port(const struct bsc_sockaddr *sa)
{
	if (sa->u.sa.sa_family == AF_INET)
		return ntohs(sa->u.in.sin_port);
	if (sa->u.sa.sa_family == AF_INET6)
		return ntohs(sa->u.in6.sin6_port);
	return 0;
}

void sockaddr_set_port(struct bsc_sockaddr *sa, uint16_t port)
{
	if (sa->u.sa.sa_family == AF_INET)
		sa->u.in.sin_port = htons(port);
	else if (sa->u.sa.sa_family == AF_INET6)
		sa->u.in6.sin6_port = htons(port);
}
