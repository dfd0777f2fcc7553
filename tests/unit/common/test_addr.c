/* tests/unit/common/test_addr.c — addresses, prefixes and socket addresses:
 * parse and format edge cases.  Single-threaded cmocka program. */
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
