/* tests/unit/common/test_addr.c — addresses, prefixes and socket addresses:
 * parse and format edge cases; addr_format against inet_ntop on exhaustive and
 * fixed-seed random addresses.  Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include "common/addr.h"
#include "common/err.h"

/* addr_parse + addr_format: @in gives @out ("ERR" = BSC_EINVAL). */
static void ap(const char *in, bool lenient, const char *out)
{
	struct bsc_addr a;
	char buf[ADDR_STRLEN];
	int rc = addr_parse(&a, in, lenient);

	if (strcmp(out, "ERR") == 0) {
		if (rc != BSC_EINVAL)
			fail_msg("addr_parse('%s') = %d, expected BSC_EINVAL", in, rc);
		assert_int_equal(a.family, 0);
		return;
	}
	if (rc != 0)
		fail_msg("addr_parse('%s') = %d, expected 0", in, rc);
	assert_true(addr_format(&a, buf, sizeof buf) > 0);
	if (strcmp(buf, out) != 0)
		fail_msg("addr_parse('%s') -> '%s', expected '%s'", in, buf, out);
}

static void test_addr_parse_v4(void **state)
{
	(void)state;
	ap("192.0.2.1", false, "192.0.2.1");
	ap("0.0.0.0", false, "0.0.0.0");
	ap("255.255.255.255", false, "255.255.255.255");
	ap("10.0.0.0/8", false, "10.0.0.0/8");
	ap("10.1.0.0/16", false, "10.1.0.0/16");
	ap("192.0.2.1/32", false, "192.0.2.1");
	ap("0.0.0.0/0", false, "0.0.0.0/0");
	ap("192.0.2.128/25", false, "192.0.2.128/25");
}

static void test_addr_parse_v6(void **state)
{
	(void)state;
	ap("2001:db8::1", false, "2001:db8::1");
	ap("2001:DB8::1", false, "2001:db8::1");
	ap("::", false, "::");
	ap("::1", false, "::1");
	ap("2001:db8::/32", false, "2001:db8::/32");
	ap("::/0", false, "::/0");
	ap("2001:db8:0:0:0:0:0:1", false, "2001:db8::1");
	ap("::ffff:192.0.2.1", false, "::ffff:192.0.2.1");
	ap("2001:db8::1/128", false, "2001:db8::1");
}

static void test_addr_parse_host_bits(void **state)
{
	(void)state;
	ap("10.1.2.3/8", false, "ERR");
	ap("10.1.2.3/8", true, "10.0.0.0/8");
	ap("192.0.2.129/25", false, "ERR");
	ap("192.0.2.129/25", true, "192.0.2.128/25");
	ap("2001:db8::1/32", false, "ERR");
	ap("2001:db8::1/32", true, "2001:db8::/32");
	ap("2001:db8:ffff::/33", false, "ERR");
	ap("2001:db8:ffff::/33", true, "2001:db8:8000::/33");
}

static void test_addr_parse_rejects(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "/", "/8", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4x", "1.2.3.4/",
		"1.2.3.4/33", "1.2.3.4/-1", "1.2.3.4/+8", "1.2.3.4/08", "1.2.3.4/8/8",
		"1.2.3.4/ 8", " 1.2.3.4", "1.2.3.4 ", "01.2.3.4", "0x1.2.3.4", "1.2.3.4/1000",
		"::/129", "2001:db8::1::", "2001:db8::g", "fe80::1%lo", "localhost", "example.com",
		"1.2.3.4@53", "[::1]", ":::",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ap(bad[i], true, "ERR");
	struct bsc_addr a;
	assert_int_equal(addr_parse(&a, NULL, false), BSC_EINVAL);
}

static void test_addr_format_nospace(void **state)
{
	(void)state;
	struct bsc_addr a;
	char buf[ADDR_STRLEN];

	assert_int_equal(addr_parse(&a, "192.0.2.0/24", false), 0);
	assert_int_equal(addr_format(&a, buf, sizeof buf), 12);
	assert_int_equal(addr_format(&a, buf, 13), 12);
	assert_int_equal(addr_format(&a, buf, 12), BSC_ENOSPC);
	assert_int_equal(addr_format(&a, buf, 0), BSC_ENOSPC);
	/* The longest forms fit in ADDR_STRLEN. */
	assert_int_equal(addr_parse(&a, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", false), 0);
	assert_int_equal(addr_format(&a, buf, sizeof buf), 43);
	assert_int_equal(addr_parse(&a, "::ffff:255.255.255.0/120", false), 0);
	assert_true(addr_format(&a, buf, sizeof buf) > 0);
	memset(&a, 0, sizeof a);
	assert_int_equal(addr_format(&a, buf, sizeof buf), BSC_EINVAL);

	/* Every length: too short leaves the buffer untouched; exact fits and
	 * writes the text and its NUL, nothing beyond. */
	static const char *const texts[] = {
		"0.0.0.0", "255.255.255.255", "10.0.0.0/8", "0.0.0.0/0", "::", "::1", "1::",
		"::ffff:1.2.3.4", "::1.2.3.4", "2001:db8::/32",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127",
		"::ffff:255.255.255.0/120",
	};
	for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
		size_t n = strlen(texts[t]);

		assert_int_equal(addr_parse(&a, texts[t], false), 0);
		for (size_t len = 0; len <= n + 1; len++) {
			char out[ADDR_STRLEN + 8];
			memset(out, '#', sizeof out);
			int rc = addr_format(&a, out, len);
			if (len <= n) {
				assert_int_equal(rc, BSC_ENOSPC);
				for (size_t i = 0; i < sizeof out; i++)
					assert_int_equal(out[i], '#');
				continue;
			}
			assert_int_equal(rc, (int)n);
			assert_string_equal(out, texts[t]);
			for (size_t i = n + 1; i < sizeof out; i++)
				assert_int_equal(out[i], '#');
		}
	}
}

static void test_addr_format_einval(void **state)
{
	(void)state;
	struct bsc_addr a = { .family = AF_INET, .prefix = 33 };
	char buf[ADDR_STRLEN];

	memset(buf, '#', sizeof buf);
	assert_int_equal(addr_format(&a, buf, sizeof buf), BSC_EINVAL);
	a.prefix = 255;
	assert_int_equal(addr_format(&a, buf, sizeof buf), BSC_EINVAL);
	a.family = AF_INET6;
	a.prefix = 129;
	assert_int_equal(addr_format(&a, buf, sizeof buf), BSC_EINVAL);
	a.family = AF_UNIX;
	a.prefix = 0;
	assert_int_equal(addr_format(&a, buf, sizeof buf), BSC_EINVAL);
	assert_int_equal(buf[0], '#');
}

/* ---- addr_format against inet_ntop (+ "/PREFIX") ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* splitmix64: a fixed sequence, the same on every run. */
static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* addr_format(@a) must print what inet_ntop prints, "/PREFIX" added when the
 * prefix is shorter than the family's length. */
static void check_ntop(const struct bsc_addr *a)
{
	unsigned bits = a->family == AF_INET ? 32 : 128;
	char want[ADDR_STRLEN], got[ADDR_STRLEN];

	assert_non_null(inet_ntop(a->family, a->bytes, want, sizeof want));
	size_t n = strlen(want);
	if (a->prefix != bits)
		n += (size_t)snprintf(want + n, sizeof want - n, "/%u", a->prefix);
	memset(got, '#', sizeof got);
	int rc = addr_format(a, got, sizeof got);
	if (rc != (int)n || strcmp(got, want) != 0) {
		char hex[40];
		for (unsigned i = 0; i < bits / 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", a->bytes[i]);
		fail_msg("addr_format(%s /%u) = %d '%s', inet_ntop gives %zu '%s'", hex, a->prefix,
			 rc, rc >= 0 ? got : "", n, want);
	}
}

static void set_groups(struct bsc_addr *a, const unsigned g[8])
{
	for (int i = 0; i < 8; i++) {
		a->bytes[2 * i] = (uint8_t)(g[i] >> 8);
		a->bytes[2 * i + 1] = (uint8_t)g[i];
	}
}

/* Every address whose 8 groups come from {0, 1, ffff, 1234, abcd}: every
 * pattern of zero runs, ties and embedded-IPv4 shapes. */
static void test_addr_format_v6_groups(void **state)
{
	static const unsigned vals[] = { 0, 1, 0xffff, 0x1234, 0xabcd };
	struct bsc_addr a = { .family = AF_INET6, .prefix = 128 };
	unsigned g[8];

	(void)state;
	for (unsigned k = 0; k < 390625; k++) { /* 5^8 */
		unsigned r = k;
		for (int i = 0; i < 8; i++) {
			g[i] = vals[r % 5];
			r /= 5;
		}
		set_groups(&a, g);
		check_ntop(&a);
	}
}

/* The embedded-IPv4 edges: groups 0..3 zero, group 4 zero or not, group 5
 * 0 / 1 / fffe / ffff, and groups 6 and 7 zero or not in several widths. */
static void test_addr_format_v6_embedded(void **state)
{
	static const unsigned g4s[] = { 0, 1 };
	static const unsigned g5s[] = { 0, 1, 0xfffe, 0xffff };
	static const unsigned lows[] = { 0, 1, 0xa, 0xff, 0x100, 0xa00, 0xff00, 0x102, 0xffff };
	struct bsc_addr a = { .family = AF_INET6, .prefix = 128 };
	unsigned g[8] = { 0 };

	(void)state;
	for (unsigned i4 = 0; i4 < 2; i4++)
		for (unsigned i5 = 0; i5 < 4; i5++)
			for (unsigned i6 = 0; i6 < 9; i6++)
				for (unsigned i7 = 0; i7 < 9; i7++) {
					g[4] = g4s[i4];
					g[5] = g5s[i5];
					g[6] = lows[i6];
					g[7] = lows[i7];
					set_groups(&a, g);
					for (unsigned p = 0; p <= 128; p += 8) {
						a.prefix = (uint8_t)p;
						check_ntop(&a);
					}
				}
}

/* Random prefix length: the full length half of the time. */
static uint8_t random_prefix(unsigned bits)
{
	uint64_t r = rng_next();

	return (uint8_t)(r & 1 ? bits : (r >> 1) % (bits + 1));
}

static void test_addr_format_v6_random(void **state)
{
	struct bsc_addr a = { .family = AF_INET6 };

	(void)state;
	for (unsigned k = 0; k < 200000; k++) {
		uint64_t r[2] = { rng_next(), rng_next() };
		memcpy(a.bytes, r, sizeof a.bytes);
		if (k & 1) {
			/* Groups of 0..4 significant hex digits: many zero groups,
			 * and every width of the non-zero ones. */
			uint64_t w = rng_next();
			for (int i = 0; i < 8; i++, w >>= 3) {
				unsigned digits = (unsigned)(w % 8);
				digits = digits > 4 ? 0 : digits;
				unsigned v = (unsigned)(a.bytes[2 * i] << 8 | a.bytes[2 * i + 1]);
				v &= (1u << (4 * digits)) - 1;
				a.bytes[2 * i] = (uint8_t)(v >> 8);
				a.bytes[2 * i + 1] = (uint8_t)v;
			}
		}
		a.prefix = random_prefix(128);
		check_ntop(&a);
	}
}

static void test_addr_format_v4_random(void **state)
{
	struct bsc_addr a = { .family = AF_INET };

	(void)state;
	for (unsigned p = 0; p <= 32; p++) {
		a.prefix = (uint8_t)p;
		memset(a.bytes, 0, 4);
		check_ntop(&a);
		memset(a.bytes, 0xff, 4);
		check_ntop(&a);
	}
	/* Every octet value in every position. */
	for (unsigned v = 0; v < 256; v++) {
		for (unsigned pos = 0; pos < 4; pos++) {
			memset(a.bytes, (int)(255 - v), 4);
			a.bytes[pos] = (uint8_t)v;
			a.prefix = 32;
			check_ntop(&a);
		}
	}
	for (unsigned k = 0; k < 200000; k++) {
		uint32_t r = (uint32_t)rng_next();
		memcpy(a.bytes, &r, 4);
		a.prefix = random_prefix(32);
		check_ntop(&a);
	}
}

static void test_addr_mask_bits(void **state)
{
	(void)state;
	struct bsc_addr a;
	char buf[ADDR_STRLEN];

	assert_int_equal(addr_parse(&a, "255.255.255.255", false), 0);
	addr_mask(&a, 7);
	addr_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "254.0.0.0/7");
	assert_int_equal(addr_parse(&a, "255.255.255.255", false), 0);
	addr_mask(&a, 9);
	addr_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "255.128.0.0/9");
	assert_int_equal(addr_parse(&a, "255.255.255.255", false), 0);
	addr_mask(&a, 0);
	addr_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "0.0.0.0/0");
	/* Beyond the family's length: clamped. */
	assert_int_equal(addr_parse(&a, "255.255.255.255", false), 0);
	addr_mask(&a, 100);
	assert_int_equal(a.prefix, 32);
	assert_int_equal(a.bytes[3], 255);
	assert_int_equal(addr_parse(&a, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), 0);
	addr_mask(&a, 65);
	addr_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "ffff:ffff:ffff:ffff:8000::/65");
	addr_mask(&a, 200); /* clamped to 128; the bits stay zero */
	assert_int_equal(a.prefix, 128);
	assert_int_equal(a.bytes[8], 0x80);
	assert_int_equal(addr_parse(&a, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), 0);
	addr_mask(&a, 127);
	assert_int_equal(a.bytes[15], 0xfe);
}

static void test_addr_in_prefix_cases(void **state)
{
	(void)state;
	struct bsc_addr a, p;

	assert_int_equal(addr_parse(&p, "10.0.0.0/8", false), 0);
	assert_int_equal(addr_parse(&a, "10.200.3.4", false), 0);
	assert_true(addr_in_prefix(&a, &p));
	assert_int_equal(addr_parse(&a, "11.0.0.0", false), 0);
	assert_false(addr_in_prefix(&a, &p));
	assert_int_equal(addr_parse(&a, "10.0.0.0/8", false), 0);
	assert_true(addr_in_prefix(&a, &p)); /* a prefix lies inside itself */
	assert_int_equal(addr_parse(&a, "10.0.0.0/7", false), 0);
	assert_false(addr_in_prefix(&a, &p)); /* shorter: not inside */
	assert_int_equal(addr_parse(&p, "0.0.0.0/0", false), 0);
	assert_int_equal(addr_parse(&a, "203.0.113.9", false), 0);
	assert_true(addr_in_prefix(&a, &p));
	assert_int_equal(addr_parse(&a, "::1", false), 0);
	assert_false(addr_in_prefix(&a, &p)); /* family differs */
	assert_int_equal(addr_parse(&p, "2001:db8::/32", false), 0);
	assert_int_equal(addr_parse(&a, "2001:db8:ffff::1", false), 0);
	assert_true(addr_in_prefix(&a, &p));
	assert_int_equal(addr_parse(&a, "2001:db9::1", false), 0);
	assert_false(addr_in_prefix(&a, &p));
	assert_int_equal(addr_parse(&p, "192.0.2.64/26", false), 0);
	assert_int_equal(addr_parse(&a, "192.0.2.127", false), 0);
	assert_true(addr_in_prefix(&a, &p));
	assert_int_equal(addr_parse(&a, "192.0.2.128", false), 0);
	assert_false(addr_in_prefix(&a, &p));
}

static void test_addr_cmp_order(void **state)
{
	(void)state;
	const char *sorted[] = { "0.0.0.0/0", "1.2.3.0/24", "1.2.3.4", "1.2.3.5", "255.0.0.0",
				 "::", "::1", "2001:db8::/32", "2001:db8::1" };
	size_t n = sizeof sorted / sizeof sorted[0];
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			struct bsc_addr a, b;
			assert_int_equal(addr_parse(&a, sorted[i], false), 0);
			assert_int_equal(addr_parse(&b, sorted[j], false), 0);
			int c = addr_cmp(&a, &b);
			if ((i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0))
				fail_msg("addr_cmp(%s, %s) = %d", sorted[i], sorted[j], c);
		}
	}
}

static void test_addr_from_sockaddr_families(void **state)
{
	(void)state;
	struct bsc_sockaddr sa;
	struct bsc_addr a;
	char buf[ADDR_STRLEN];

	assert_int_equal(sockaddr_parse(&sa, "192.0.2.7@53", 0), 0);
	addr_from_sockaddr(&a, &sa.u.sa);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.prefix, 32);
	addr_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "192.0.2.7");
	assert_int_equal(sockaddr_parse(&sa, "[2001:db8::7]:53", 0), 0);
	addr_from_sockaddr(&a, &sa.u.sa);
	assert_int_equal(a.prefix, 128);
	addr_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "2001:db8::7");
	memset(&sa, 0, sizeof sa);
	sa.u.sa.sa_family = AF_UNIX;
	memset(&a, 0xff, sizeof a);
	addr_from_sockaddr(&a, &sa.u.sa);
	assert_int_equal(a.family, 0);
	assert_int_equal(a.prefix, 0);
}

/* sockaddr_parse + sockaddr_format: @in (default port 53) gives @out. */
static void sp(const char *in, const char *out)
{
	struct bsc_sockaddr sa;
	char buf[SOCKADDR_STRLEN];
	int rc = sockaddr_parse(&sa, in, 53);

	if (strcmp(out, "ERR") == 0) {
		if (rc != BSC_EINVAL)
			fail_msg("sockaddr_parse('%s') = %d, expected BSC_EINVAL", in, rc);
		return;
	}
	if (rc != 0)
		fail_msg("sockaddr_parse('%s') = %d, expected 0", in, rc);
	assert_true(sockaddr_format(&sa, buf, sizeof buf) > 0);
	if (strcmp(buf, out) != 0)
		fail_msg("sockaddr_parse('%s') -> '%s', expected '%s'", in, buf, out);
	/* The formatted text parses back to the same socket address. */
	struct bsc_sockaddr sb;
	assert_int_equal(sockaddr_parse(&sb, buf, 1), 0);
	assert_int_equal(sb.len, sa.len);
	assert_memory_equal(&sb.u, &sa.u, sa.len);
}

static void test_sockaddr_parse_forms(void **state)
{
	(void)state;
	sp("192.0.2.1@5353", "192.0.2.1@5353");
	sp("192.0.2.1", "192.0.2.1@53");
	sp("192.0.2.1:8053", "192.0.2.1@8053");
	sp("127.0.0.1@0", "127.0.0.1@0");
	sp("127.0.0.1:0", "127.0.0.1@0");
	sp("0.0.0.0@65535", "0.0.0.0@65535");
	sp("::1", "::1@53");
	sp("::1@5353", "::1@5353");
	sp("[::1]:5353", "::1@5353");
	sp("[::1]@5353", "::1@5353");
	sp("[::1]", "::1@53");
	sp("2001:db8::1@0", "2001:db8::1@0");
	sp("::", "::@53");
	sp("[::]:0", "::@0");
	sp("::ffff:192.0.2.1@53", "::ffff:192.0.2.1@53");
}

static void test_sockaddr_parse_rejects(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "@53", "1.2.3.4@", "1.2.3.4:", "1.2.3.4@65536", "1.2.3.4@99999",
		"1.2.3.4@123456", "1.2.3.4@-1", "1.2.3.4@+53", "1.2.3.4@53x", "1.2.3.4@5 3",
		"1.2.3.4@053", "1.2.3.4@@53", "1.2.3.4@53@53", "1.2.3.4:53:53", "1.2.3.4:53@53",
		"1.2.3.4 @53", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "256.0.0.1", "[::1", "[::1]x",
		"[::1]:", "[::1]:65536", "[1.2.3.4]:53", "[]:53", "[::1]]:53", "::1]:53",
		"localhost", "localhost@53", "example.com:53", "1.2.3.4%lo", "1.2.3.4/24",
		"fe80::1%", "fe80::1%nosuchinterface0", "2001:db8::1/64@53",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		sp(bad[i], "ERR");
	struct bsc_sockaddr sa;
	assert_int_equal(sockaddr_parse(&sa, NULL, 53), BSC_EINVAL);
}

static void test_sockaddr_parse_scope(void **state)
{
	(void)state;
	struct bsc_sockaddr sa;
	char buf[SOCKADDR_STRLEN], want[SOCKADDR_STRLEN];
	unsigned lo = if_nametoindex("lo");

	assert_int_equal(sockaddr_parse(&sa, "fe80::1%7@53", 0), 0);
	assert_int_equal(sa.u.in6.sin6_scope_id, 7);
	if (lo) {
		assert_int_equal(sockaddr_parse(&sa, "fe80::1%lo@53", 0), 0);
		assert_int_equal(sa.u.in6.sin6_scope_id, lo);
		assert_true(sockaddr_format(&sa, buf, sizeof buf) > 0);
		assert_string_equal(buf, "fe80::1%lo@53");
		assert_int_equal(sockaddr_parse(&sa, "[fe80::1%lo]:853", 0), 0);
		assert_int_equal(sockaddr_port(&sa), 853);
		snprintf(want, sizeof want, "fe80::1%%%u", lo);
		assert_int_equal(sockaddr_parse(&sa, want, 0), 0);
		assert_int_equal(sa.u.in6.sin6_scope_id, lo);
	}
}

static void test_sockaddr_format_nospace(void **state)
{
	(void)state;
	struct bsc_sockaddr sa;
	char buf[SOCKADDR_STRLEN];

	assert_int_equal(sockaddr_parse(&sa, "192.0.2.1@53", 0), 0);
	assert_int_equal(sockaddr_format(&sa, buf, sizeof buf), 12);
	assert_int_equal(sockaddr_format(&sa, buf, 13), 12);
	assert_int_equal(sockaddr_format(&sa, buf, 12), BSC_ENOSPC);
	assert_int_equal(
		sockaddr_parse(&sa, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295@65535", 0),
		0);
	assert_true(sockaddr_format(&sa, buf, sizeof buf) > 0);
	memset(&sa, 0, sizeof sa);
	assert_int_equal(sockaddr_format(&sa, buf, sizeof buf), BSC_EINVAL);
}

static void test_sockaddr_port_get_set(void **state)
{
	(void)state;
	struct bsc_sockaddr sa;

	assert_int_equal(sockaddr_parse(&sa, "192.0.2.1", 5353), 0);
	assert_int_equal(sockaddr_port(&sa), 5353);
	assert_int_equal(sa.len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(sa.u.in.sin_port), 5353);
	sockaddr_set_port(&sa, 65535);
	assert_int_equal(sockaddr_port(&sa), 65535);
	assert_int_equal(sockaddr_parse(&sa, "::1", 0), 0);
	assert_int_equal(sockaddr_port(&sa), 0);
	assert_int_equal(sa.len, sizeof(struct sockaddr_in6));
	sockaddr_set_port(&sa, 8053);
	assert_int_equal(ntohs(sa.u.in6.sin6_port), 8053);
	memset(&sa, 0, sizeof sa);
	sockaddr_set_port(&sa, 1);
	assert_int_equal(sockaddr_port(&sa), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_v4),
		cmocka_unit_test(test_addr_parse_v6),
		cmocka_unit_test(test_addr_parse_host_bits),
		cmocka_unit_test(test_addr_parse_rejects),
		cmocka_unit_test(test_addr_format_nospace),
		cmocka_unit_test(test_addr_format_einval),
		cmocka_unit_test(test_addr_format_v6_groups),
		cmocka_unit_test(test_addr_format_v6_embedded),
		cmocka_unit_test(test_addr_format_v6_random),
		cmocka_unit_test(test_addr_format_v4_random),
		cmocka_unit_test(test_addr_mask_bits),
		cmocka_unit_test(test_addr_in_prefix_cases),
		cmocka_unit_test(test_addr_cmp_order),
		cmocka_unit_test(test_addr_from_sockaddr_families),
		cmocka_unit_test(test_sockaddr_parse_forms),
		cmocka_unit_test(test_sockaddr_parse_rejects),
		cmocka_unit_test(test_sockaddr_parse_scope),
		cmocka_unit_test(test_sockaddr_format_nospace),
		cmocka_unit_test(test_sockaddr_port_get_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
