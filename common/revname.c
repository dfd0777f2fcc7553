/* common/revname.c — the reverse-name codec: in-addr.arpa / ip6.arpa names to
 * addresses and prefixes, and back.
 *
 * On the server's per-query path: no allocation, no stdio.  The usual wire
 * shapes (decimal labels + in-addr.arpa, nibbles + ip6.arpa) are decoded by a
 * straight-line fast path that compares the suffix as two words; everything
 * else goes through the general path (one pass to find the labels, one over
 * them), which also serves text names.  Pure; any thread.
 *
 * RFC 2317 labels (only as the fourth label under in-addr.arpa, where they
 * split a /24), decided as follows:
 *   "FIRST-LAST"  a range of the last octet, FIRST <= LAST; it must be an
 *                 aligned power-of-two block (0-63, 64-127, 128-255, 5-5 ...);
 *                 an unaligned range such as 10-20 is not a prefix: NONE.
 *   "NET/LEN"     24 <= LEN <= 32 and NET has no bits beyond LEN (0/25, 64/26).
 *   "NET-LEN"     read as NET/LEN only when the label is not a valid aligned
 *                 range: "64-26" (LAST < FIRST) and "0-25" (size 26 is not a
 *                 power of two) are NET-LEN; "0-31" stays the range 0..31.
 * A label in front of the RFC 2317 label is the host; it must lie inside the
 * block or the name is NONE. */
#include <string.h>
#include "common/err.h"
#include "common/revname.h"

#define MAX_LABELS 34 /* 32 nibbles + "ip6" + "arpa" */

struct label {
	const uint8_t *p;
	uint8_t len;
};

static inline uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static bool label_is(const struct label *l, const char *word, uint8_t n)
{
	if (l->len != n)
		return false;
	for (uint8_t i = 0; i < n; i++) {
		if (lower(l->p[i]) != (uint8_t)word[i])
			return false;
	}
	return true;
}

/* Decimal 0..255 without leading zeros in p[0..n-1]; -1 otherwise. */
static int dec_octet(const uint8_t *p, size_t n)
{
	if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
		return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)p[i] - '0';
		if (d > 9)
			return -1;
		v = v * 10 + (int)d;
	}
	return v > 255 ? -1 : v;
}

static int hex_nibble(const struct label *l)
{
	if (l->len != 1)
		return -1;
	uint8_t c = l->p[0];
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Block size of the prefix length @len within the last octet (len 24..32). */
static unsigned block_size(unsigned len)
{
	return 1u << (32 - len);
}

/* An RFC 2317 label; on success sets *net (first address of the block in the
 * last octet) and *plen (24..32) and returns true. */
static bool classless_label(const struct label *l, unsigned *net, unsigned *plen)
{
	const uint8_t *sep = NULL;
	for (uint8_t i = 0; i < l->len; i++) {
		if (l->p[i] == '-' || l->p[i] == '/') {
			sep = l->p + i;
			break;
		}
	}
	if (!sep)
		return false;
	size_t n1 = (size_t)(sep - l->p);
	int a = dec_octet(l->p, n1);
	int b = dec_octet(sep + 1, l->len - n1 - 1);
	if (a < 0 || b < 0)
		return false;

	if (*sep == '-' && a <= b) {
		unsigned size = (unsigned)(b - a + 1);
		if ((size & (size - 1)) == 0 && (unsigned)a % size == 0) {
			unsigned bits = 0;
			while ((1u << bits) < size)
				bits++;
			*net = (unsigned)a;
			*plen = 32 - bits;
			return true;
		}
	}
	/* "NET/LEN", or "NET-LEN" that is not a valid range. */
	if (b < 24 || b > 32 || (unsigned)a % block_size((unsigned)b) != 0)
		return false;
	*net = (unsigned)a;
	*plen = (unsigned)b;
	return true;
}

static enum revname_kind decode_v4(const struct label *lab, unsigned n, struct revname *out)
{
	/* lab[0..n-1] are the labels in front of "in-addr", leftmost first. */
	struct bsc_addr a = { .family = AF_INET };
	unsigned octets = n;
	unsigned net = 0, plen = 0;
	bool classless = false;

	if (n >= 4 && classless_label(&lab[n - 4], &net, &plen)) {
		if (n > 5)
			return REVNAME_NONE;
		classless = true;
		octets = 3;
	} else if (n > 4) {
		return REVNAME_NONE;
	}
	for (unsigned i = 0; i < octets; i++) {
		int v = dec_octet(lab[n - 1 - i].p, lab[n - 1 - i].len);
		if (v < 0)
			return REVNAME_NONE;
		a.bytes[i] = (uint8_t)v;
	}
	if (!classless) {
		a.prefix = (uint8_t)(8 * n);
		out->addr = a;
		out->kind = n == 4 ? REVNAME_FULL : REVNAME_PARTIAL;
		return out->kind;
	}
	struct bsc_addr block = a;
	block.bytes[3] = (uint8_t)net;
	block.prefix = (uint8_t)plen;
	if (n == 5) {
		int host = dec_octet(lab[0].p, lab[0].len);
		if (host < 0 || (unsigned)host < net || (unsigned)host >= net + block_size(plen))
			return REVNAME_NONE;
		a.bytes[3] = (uint8_t)host;
		a.prefix = 32;
	} else {
		a = block;
	}
	out->addr = a;
	out->classless = block;
	out->kind = REVNAME_CLASSLESS;
	return out->kind;
}

static enum revname_kind decode_v6(const struct label *lab, unsigned n, struct revname *out)
{
	struct bsc_addr a = { .family = AF_INET6, .prefix = (uint8_t)(4 * n) };

	if (n > 32)
		return REVNAME_NONE;
	for (unsigned i = 0; i < n; i++) {
		int v = hex_nibble(&lab[n - 1 - i]);
		if (v < 0)
			return REVNAME_NONE;
		a.bytes[i / 2] |= (uint8_t)((i & 1) ? v : v << 4);
	}
	out->addr = a;
	out->kind = n == 32 ? REVNAME_FULL : REVNAME_PARTIAL;
	return out->kind;
}

/* Common tail: @n labels, the last two must be in-addr|ip6 . arpa. */
static enum revname_kind decode(const struct label *lab, unsigned n, struct revname *out)
{
	if (n < 2 || !label_is(&lab[n - 1], "arpa", 4))
		return REVNAME_NONE;
	if (label_is(&lab[n - 2], "in-addr", 7))
		return decode_v4(lab, n - 2, out);
	if (label_is(&lab[n - 2], "ip6", 3))
		return decode_v6(lab, n - 2, out);
	return REVNAME_NONE;
}

/* Wire suffixes, root label included, and masks that fold the case of
 * their letters only (OR 0x20 maps exactly 'A'..'Z' onto 'a'..'z' at those
 * positions; '-' and the length bytes must match exactly).
 *
 *   v4: 07 'i' 'n' '-' 'a' 'd' 'd' 'r' 04 'a' 'r' 'p' 'a' 00   (14 bytes)
 *   v6: 03 'i' 'p' '6' 04 'a' 'r' 'p' 'a' 00                   (10 bytes) */
static const uint8_t tail_v4[14] = { 7,   'i', 'n', '-', 'a', 'd', 'd',
				     'r', 4,   'a', 'r', 'p', 'a', 0 };
static const uint8_t fold_v4[14] = { 0, 32, 32, 0, 32, 32, 32, 32, 0, 32, 32, 32, 32, 0 };
static const uint8_t tail_v6[10] = { 3, 'i', 'p', '6', 4, 'a', 'r', 'p', 'a', 0 };
static const uint8_t fold_v6[10] = { 0, 32, 32, 0, 0, 32, 32, 32, 32, 0 };

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* s[0..n-1] equals @tail with letters in any case; 8 <= n <= 16, using two
 * overlapping 8-byte words. */
static inline bool tail_match(const uint8_t *s, const uint8_t *tail, const uint8_t *fold,
			      size_t n)
{
	uint64_t a = load64(s) | load64(fold);
	uint64_t b = load64(s + n - 8) | load64(fold + n - 8);
	return a == (load64(tail) | load64(fold)) &&
	       b == (load64(tail + n - 8) | load64(fold + n - 8));
}

/* One more than the value of a hex digit character; 0 for other bytes. */
static const uint8_t nibble_val1[256] = {
	['0'] = 1,   ['1'] = 2,   ['2'] = 3,   ['3'] = 4,   ['4'] = 5,   ['5'] = 6,
	['6'] = 7,   ['7'] = 8,   ['8'] = 9,   ['9'] = 10,  ['a'] = 11,  ['b'] = 12,
	['c'] = 13,  ['d'] = 14,  ['e'] = 15,  ['f'] = 16,  ['A'] = 11,  ['B'] = 12,
	['C'] = 13,  ['D'] = 14,  ['E'] = 15,  ['F'] = 16,
};

/* The common shapes in straight-line code: N <= 4 decimal labels +
 * in-addr.arpa, or N <= 32 one-nibble labels + ip6.arpa.  Returns false to let
 * the general path decide (RFC 2317 labels and anything odd). */
static bool parse_wire_fast(const uint8_t *name, size_t len, struct revname *out)
{
	if (len >= sizeof tail_v6 &&
	    tail_match(name + len - sizeof tail_v6, tail_v6, fold_v6, sizeof tail_v6)) {
		size_t body = len - sizeof tail_v6, n = body / 2;
		if (body % 2 || n > 32)
			return false;
		/* name: 01 c(n-1) ... 01 c1 01 c0; nibble i of the address is c_i.
		 * The length bytes first, a word (four labels) at a time. */
		static const uint8_t ones_pat[8] = { 1, 0, 1, 0, 1, 0, 1, 0 };
		static const uint8_t mask_pat[8] = { 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0 };
		const uint64_t ones = load64(ones_pat), lmask = load64(mask_pat);
		size_t i = 0;
		for (; i + 8 <= body; i += 8) {
			if ((load64(name + i) & lmask) != ones)
				return false;
		}
		for (; i < body; i += 2) {
			if (name[i] != 1)
				return false;
		}
		/* Two nibbles per address byte: c(2k) is high, c(2k+1) low; the
		 * characters run backwards from the end of the body. */
		uint8_t *b = out->addr.bytes;
		unsigned bad = 0;
		size_t k = 0;
		for (; 2 * k + 1 < n; k++) {
			unsigned hi = nibble_val1[name[body - 1 - 4 * k]];
			unsigned lo = nibble_val1[name[body - 3 - 4 * k]];
			bad |= (hi == 0) | (lo == 0);
			b[k] = (uint8_t)((((hi - 1) & 0xf) << 4) | ((lo - 1) & 0xf));
		}
		if (n & 1) {
			unsigned hi = nibble_val1[name[body - 1 - 4 * k]];
			bad |= hi == 0;
			b[k] = (uint8_t)(((hi - 1) & 0xf) << 4);
		}
		if (bad) {
			memset(b, 0, sizeof out->addr.bytes);
			return false;
		}
		out->addr.family = AF_INET6;
		out->addr.prefix = (uint8_t)(4 * n);
		out->kind = n == 32 ? REVNAME_FULL : REVNAME_PARTIAL;
		return true;
	}
	if (len < sizeof tail_v4 ||
	    !tail_match(name + len - sizeof tail_v4, tail_v4, fold_v4, sizeof tail_v4))
		return false;
	size_t end = len - sizeof tail_v4, pos = 0;
	uint8_t oct[4];
	unsigned n = 0;
	while (pos < end) {
		unsigned l = name[pos];
		const uint8_t *p = name + pos + 1;
		if (n == 4 || l - 1 > 2 || l > end - pos - 1)
			return false;
		unsigned v = (unsigned)p[0] - '0';
		if (v > 9 || (l > 1 && v == 0))
			return false;
		for (unsigned i = 1; i < l; i++) {
			unsigned d = (unsigned)p[i] - '0';
			if (d > 9)
				return false;
			v = v * 10 + d;
		}
		if (v > 255)
			return false;
		oct[n++] = (uint8_t)v;
		pos += 1 + l;
	}
	for (unsigned i = 0; i < n; i++)
		out->addr.bytes[i] = oct[n - 1 - i];
	out->addr.family = AF_INET;
	out->addr.prefix = (uint8_t)(8 * n);
	out->kind = n == 4 ? REVNAME_FULL : REVNAME_PARTIAL;
	return true;
}

enum revname_kind revname_parse_wire(const uint8_t *name, size_t len, struct revname *out)
{
	struct label lab[MAX_LABELS];
	unsigned n = 0;
	size_t pos = 0;

	memset(out, 0, sizeof *out);
	if (!name || len > 255)
		return REVNAME_NONE;
	if (parse_wire_fast(name, len, out))
		return out->kind;
	for (;;) {
		if (pos >= len)
			return REVNAME_NONE; /* no root label within len */
		uint8_t l = name[pos];
		if (l == 0)
			break;
		if (l > 63 || n == MAX_LABELS || len - pos - 1 < l)
			return REVNAME_NONE; /* pointer, reserved type, too many, overrun */
		lab[n].p = name + pos + 1;
		lab[n].len = l;
		n++;
		pos += 1u + l;
	}
	if (pos + 1 != len)
		return REVNAME_NONE; /* bytes after the root label */
	return decode(lab, n, out);
}

enum revname_kind revname_parse_text(const char *name, struct revname *out)
{
	struct label lab[MAX_LABELS];
	unsigned n = 0;
	const uint8_t *p = (const uint8_t *)name;

	memset(out, 0, sizeof *out);
	if (!name || !*p)
		return REVNAME_NONE;
	for (;;) {
		const uint8_t *start = p;
		while (*p && *p != '.')
			p++;
		size_t l = (size_t)(p - start);
		if (l == 0 || l > 63 || n == MAX_LABELS)
			return REVNAME_NONE; /* empty label (also a lone "."), too long, too many */
		lab[n].p = start;
		lab[n].len = (uint8_t)l;
		n++;
		if (!*p)
			break;
		p++; /* the dot */
		if (!*p)
			break; /* final dot */
	}
	if ((size_t)(p - (const uint8_t *)name) > 254)
		return REVNAME_NONE;
	return decode(lab, n, out);
}

/* Labels of @a, leftmost first, into @lab (text of each in @txt).  Returns the
 * number of address labels, or -1 for a bad address. */
static int addr_labels(const struct bsc_addr *a, char txt[32][4], uint8_t tlen[32])
{
	static const char hex[] = "0123456789abcdef";

	if (a->family == AF_INET && a->prefix <= 32) {
		int n = a->prefix / 8;
		for (int i = 0; i < n; i++) {
			unsigned v = a->bytes[n - 1 - i];
			uint8_t k = 0;
			if (v >= 100)
				txt[i][k++] = (char)('0' + v / 100);
			if (v >= 10)
				txt[i][k++] = (char)('0' + v / 10 % 10);
			txt[i][k++] = (char)('0' + v % 10);
			tlen[i] = k;
		}
		return n;
	}
	if (a->family == AF_INET6 && a->prefix <= 128) {
		int n = a->prefix / 4;
		for (int i = 0; i < n; i++) {
			int nib = n - 1 - i;
			uint8_t b = a->bytes[nib / 2];
			txt[i][0] = hex[(nib & 1) ? (b & 0xf) : (b >> 4)];
			tlen[i] = 1;
		}
		return n;
	}
	return -1;
}

int revname_format(const struct bsc_addr *a, char *buf, size_t len)
{
	char txt[32][4];
	uint8_t tlen[32];
	int n = addr_labels(a, txt, tlen);
	if (n < 0)
		return BSC_EINVAL;
	const char *suffix = a->family == AF_INET ? "in-addr.arpa." : "ip6.arpa.";
	size_t slen = strlen(suffix);
	size_t pos = 0;

	for (int i = 0; i < n; i++) {
		if (pos + tlen[i] + 1 >= len)
			return BSC_ENOSPC;
		memcpy(buf + pos, txt[i], tlen[i]);
		pos += tlen[i];
		buf[pos++] = '.';
	}
	if (pos + slen >= len)
		return BSC_ENOSPC;
	memcpy(buf + pos, suffix, slen + 1);
	return (int)(pos + slen);
}

int revname_to_wire(const struct bsc_addr *a, uint8_t *buf, size_t len)
{
	char txt[32][4];
	uint8_t tlen[32];
	int n = addr_labels(a, txt, tlen);
	if (n < 0)
		return BSC_EINVAL;
	static const uint8_t v4[] = "\007in-addr\004arpa"; /* + the NUL: root label */
	static const uint8_t v6[] = "\003ip6\004arpa";
	const uint8_t *suffix = a->family == AF_INET ? v4 : v6;
	size_t slen = a->family == AF_INET ? sizeof v4 : sizeof v6;
	size_t pos = 0;

	for (int i = 0; i < n; i++) {
		if (pos + 1 + tlen[i] > len)
			return BSC_ENOSPC;
		buf[pos++] = tlen[i];
		memcpy(buf + pos, txt[i], tlen[i]);
		pos += tlen[i];
	}
	if (pos + slen > len)
		return BSC_ENOSPC;
	memcpy(buf + pos, suffix, slen);
	return (int)(pos + slen);
}
