/* tests/unit/common/test_revname.c — the reverse-name codec: every accepted
 * and rejected form, text and wire, and round trips address -> name -> address.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "common/addr.h"
#include "common/err.h"
#include "common/revname.h"

/* Text name -> uncompressed wire form (no escapes).  Returns the length or -1. */
static int to_wire(const char *text, uint8_t *buf, size_t cap)
{
	size_t pos = 0;
	const char *p = text;

	if (strcmp(text, ".") == 0) {
		buf[0] = 0;
		return 1;
	}
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (pos + 1 + l >= cap || l > 255)
			return -1;
		buf[pos++] = (uint8_t)l;
		memcpy(buf + pos, p, l);
		pos += l;
		if (!dot)
			break;
		p = dot + 1;
	}
	buf[pos++] = 0;
	return (int)pos;
}

static void fmt(const struct bsc_addr *a, char *buf, size_t len)
{
	if (a->family == 0) {
		snprintf(buf, len, "none");
		return;
	}
	assert_true(addr_format(a, buf, len) > 0);
}

/* Parse @name as text and as wire; both must give @kind, @addr and
 * @classless (NULL = none). */
static void check(const char *name, enum revname_kind kind, const char *addr,
		  const char *classless)
{
	struct revname r;
	char got[ADDR_STRLEN];
	uint8_t wire[512];

	for (int form = 0; form < 2; form++) {
		enum revname_kind k;
		if (form == 0) {
			k = revname_parse_text(name, &r);
		} else {
			int wl = to_wire(name, wire, sizeof wire);
			if (wl < 0)
				continue;
			k = revname_parse_wire(wire, (size_t)wl, &r);
		}
		if (k != kind)
			fail_msg("%s (%s): kind %d, expected %d", name, form ? "wire" : "text", k,
				 kind);
		assert_int_equal(r.kind, k);
		if (kind == REVNAME_NONE) {
			assert_int_equal(r.addr.family, 0);
			continue;
		}
		fmt(&r.addr, got, sizeof got);
		if (strcmp(got, addr) != 0)
			fail_msg("%s (%s): addr %s, expected %s", name, form ? "wire" : "text", got,
				 addr);
		fmt(&r.classless, got, sizeof got);
		if (strcmp(got, classless ? classless : "none") != 0)
			fail_msg("%s: classless %s, expected %s", name, got,
				 classless ? classless : "none");
	}
}

static void none(const char *name)
{
	check(name, REVNAME_NONE, NULL, NULL);
}

static const char v6_full[] =
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";

static void test_revname_parse_v4_full(void **state)
{
	(void)state;
	check("4.3.2.1.in-addr.arpa.", REVNAME_FULL, "1.2.3.4", NULL);
	check("4.3.2.1.in-addr.arpa", REVNAME_FULL, "1.2.3.4", NULL);
	check("0.0.0.0.in-addr.arpa.", REVNAME_FULL, "0.0.0.0", NULL);
	check("255.255.255.255.in-addr.arpa.", REVNAME_FULL, "255.255.255.255", NULL);
	check("1.0.168.192.in-addr.arpa.", REVNAME_FULL, "192.168.0.1", NULL);
	check("99.100.10.0.in-addr.arpa.", REVNAME_FULL, "0.10.100.99", NULL);
}

static void test_revname_parse_v4_partial(void **state)
{
	(void)state;
	check("3.2.1.in-addr.arpa.", REVNAME_PARTIAL, "1.2.3.0/24", NULL);
	check("2.1.in-addr.arpa.", REVNAME_PARTIAL, "1.2.0.0/16", NULL);
	check("10.in-addr.arpa.", REVNAME_PARTIAL, "10.0.0.0/8", NULL);
	check("in-addr.arpa.", REVNAME_PARTIAL, "0.0.0.0/0", NULL);
	check("in-addr.arpa", REVNAME_PARTIAL, "0.0.0.0/0", NULL);
	check("0.in-addr.arpa.", REVNAME_PARTIAL, "0.0.0.0/8", NULL);
}

static void test_revname_parse_mixed_case(void **state)
{
	(void)state;
	check("4.3.2.1.IN-ADDR.ARPA.", REVNAME_FULL, "1.2.3.4", NULL);
	check("4.3.2.1.In-Addr.ArPa", REVNAME_FULL, "1.2.3.4", NULL);
	check("IN-ADDR.ARPA.", REVNAME_PARTIAL, "0.0.0.0/0", NULL);
	check("8.B.D.0.1.0.0.2.IP6.ARPA.", REVNAME_PARTIAL, "2001:db8::/32", NULL);
	check("8.b.D.0.1.0.0.2.Ip6.aRpA", REVNAME_PARTIAL, "2001:db8::/32", NULL);
	check("0-63.3.3.10.IN-ADDR.ARPA.", REVNAME_CLASSLESS, "10.3.3.0/26", "10.3.3.0/26");
}

static void test_revname_parse_v4_garbage(void **state)
{
	(void)state;
	none("");
	none(".");
	none("arpa.");
	none("in-addr.");
	none("4.3.2.1.in-addr.");
	none("4.3.2.1.in-addr.arpa.com.");
	none("4.3.2.1.inaddr.arpa.");
	none("4.3.2.1.in-addr.arpa..");
	none("4..2.1.in-addr.arpa.");
	none(".4.3.2.1.in-addr.arpa.");
	none("01.3.2.1.in-addr.arpa.");   /* leading zero */
	none("4.3.2.00.in-addr.arpa.");   /* leading zero */
	none("256.3.2.1.in-addr.arpa.");  /* > 255 */
	none("4.3.2.1000.in-addr.arpa."); /* > 255 */
	none("5.4.3.2.1.in-addr.arpa.");  /* five octets */
	none("a.3.2.1.in-addr.arpa.");
	none("4.3.2.1a.in-addr.arpa.");
	none("-1.3.2.1.in-addr.arpa.");
	none("+1.3.2.1.in-addr.arpa.");
	none(" 4.3.2.1.in-addr.arpa.");
	none("4.3.2.1 .in-addr.arpa.");
	none("www.example.com.");
	none("44.3.2.1.ip6.arpa.");       /* decimal labels under ip6 */
	none("1.2.3.4.in-addr.arpa.x");
	none("\\052.3.2.1.in-addr.arpa."); /* escapes are not decoded */
}

static void test_revname_parse_classless(void **state)
{
	(void)state;
	/* The delegation labels themselves. */
	check("0-63.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.0/26", "10.3.3.0/26");
	check("64-127.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.64/26", "10.3.3.64/26");
	check("128-255.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.128/25",
	      "10.3.3.128/25");
	check("0-255.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.0/24", "10.3.3.0/24");
	check("5-5.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.5", "10.3.3.5");
	check("0/25.2.0.192.in-addr.arpa.", REVNAME_CLASSLESS, "192.0.2.0/25", "192.0.2.0/25");
	check("64/26.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.64/26", "10.3.3.64/26");
	check("0/24.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.0/24", "10.3.3.0/24");
	check("7/32.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.7", "10.3.3.7");
	/* Hosts inside the block. */
	check("5.0-63.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.5", "10.3.3.0/26");
	check("0.0-63.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.0", "10.3.3.0/26");
	check("63.0-63.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.63", "10.3.3.0/26");
	check("129.128/25.2.0.192.in-addr.arpa.", REVNAME_CLASSLESS, "192.0.2.129",
	      "192.0.2.128/25");
	check("100.64-127.3.3.10.IN-ADDR.ARPA", REVNAME_CLASSLESS, "10.3.3.100", "10.3.3.64/26");
}

static void test_revname_parse_classless_net_dash_len(void **state)
{
	(void)state;
	/* LAST < FIRST: not a range, so NET-LEN. */
	check("64-26.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.64/26", "10.3.3.64/26");
	check("128-25.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.128/25",
	      "10.3.3.128/25");
	check("70.64-26.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.70", "10.3.3.64/26");
	/* FIRST <= LAST but no aligned range (size 26): NET-LEN again. */
	check("0-25.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.0/25", "10.3.3.0/25");
	check("0-28.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.0/28", "10.3.3.0/28");
	/* A valid aligned range wins: 0-31 is 0..31 (/27), not 0/31. */
	check("0-31.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.0/27", "10.3.3.0/27");
	check("16-31.3.3.10.in-addr.arpa.", REVNAME_CLASSLESS, "10.3.3.16/28", "10.3.3.16/28");
}

static void test_revname_parse_classless_rejects(void **state)
{
	(void)state;
	none("100.0-63.3.3.10.in-addr.arpa."); /* host outside the block */
	none("64.0-63.3.3.10.in-addr.arpa.");
	none("1.128/25.3.3.10.in-addr.arpa.");
	none("10-20.3.3.10.in-addr.arpa.");   /* unaligned range, 20 is no length */
	none("1-64.3.3.10.in-addr.arpa.");    /* size 64 but not aligned; 64 > 32 */
	none("32-95.3.3.10.in-addr.arpa.");   /* size 64, start not a multiple */
	none("64/25.3.3.10.in-addr.arpa.");   /* NET not aligned to LEN */
	none("0/23.3.3.10.in-addr.arpa.");    /* LEN < 24 */
	none("0/33.3.3.10.in-addr.arpa.");    /* LEN > 32 */
	none("0-256.3.3.10.in-addr.arpa.");
	none("00-63.3.3.10.in-addr.arpa.");
	none("0-063.3.3.10.in-addr.arpa.");
	none("0--63.3.3.10.in-addr.arpa.");
	none("0-63-1.3.3.10.in-addr.arpa.");
	none("-63.3.3.10.in-addr.arpa.");
	none("0-.3.3.10.in-addr.arpa.");
	none("0/.3.3.10.in-addr.arpa.");
	none("0-63.3.10.in-addr.arpa.");      /* only two octets after it */
	none("0-63.4.3.3.10.in-addr.arpa.");  /* four octets after it */
	none("6.5.0-63.3.3.10.in-addr.arpa."); /* two host labels */
	none("x.0-63.3.3.10.in-addr.arpa.");
	none("05.0-63.3.3.10.in-addr.arpa.");
	none("0-63.3.3.10.ip6.arpa.");
	none("3.0-63.3.10.in-addr.arpa.");
}

static void test_revname_parse_v6_full(void **state)
{
	(void)state;
	check(v6_full, REVNAME_FULL, "2001:db8::1", NULL);
	check("0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	      REVNAME_FULL, "::", NULL);
	check("f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.F.F.F.F.F.F.F.F.F.F.F.F.F.F.F.F.ip6.arpa",
	      REVNAME_FULL, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL);
	check("b.a.9.8.7.6.5.4.3.2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	      REVNAME_FULL, "::123:4567:89ab", NULL);
}

static void test_revname_parse_v6_partial(void **state)
{
	(void)state;
	check("8.b.d.0.1.0.0.2.ip6.arpa.", REVNAME_PARTIAL, "2001:db8::/32", NULL);
	check("ip6.arpa.", REVNAME_PARTIAL, "::/0", NULL);
	check("2.ip6.arpa", REVNAME_PARTIAL, "2000::/4", NULL);
	check("0.0.2.ip6.arpa.", REVNAME_PARTIAL, "2000::/12", NULL);
	check("0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
	      REVNAME_PARTIAL, "2001:db8::/124", NULL);
}

static void test_revname_parse_v6_garbage(void **state)
{
	(void)state;
	none("10.b.d.0.1.0.0.2.ip6.arpa.");  /* two characters */
	none("g.b.d.0.1.0.0.2.ip6.arpa.");   /* not hex */
	none("8.b.d.0.1.0.0.2.ip6.int.");
	none("8.b.d.0.1.0.0.2.ip6.");
	none("8.b..d.0.1.0.0.2.ip6.arpa.");
	none("-.ip6.arpa.");
	none(" .ip6.arpa.");
	/* 33 nibbles */
	none("0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.");
	none("8.b.d.0.1.0.0.2.ip6.arpa.in-addr.arpa.");
}

static void test_revname_parse_wire_robust(void **state)
{
	(void)state;
	struct revname r;
	uint8_t buf[300];
	int n = to_wire("4.3.2.1.in-addr.arpa.", buf, sizeof buf);

	assert_int_equal(revname_parse_wire(buf, (size_t)n, &r), REVNAME_FULL);
	/* Every shorter length is truncated. */
	for (int l = 0; l < n; l++)
		assert_int_equal(revname_parse_wire(buf, (size_t)l, &r), REVNAME_NONE);
	/* Bytes after the root label. */
	buf[n] = 0;
	assert_int_equal(revname_parse_wire(buf, (size_t)n + 1, &r), REVNAME_NONE);
	/* A compression pointer to the start, and one in place of the suffix. */
	static const uint8_t ptr[] = { 0xc0, 0x0c };
	assert_int_equal(revname_parse_wire(ptr, sizeof ptr, &r), REVNAME_NONE);
	static const uint8_t ptr2[] = { 1, '4', 1, '3', 1, '2', 1, '1', 0xc0, 0x0c };
	assert_int_equal(revname_parse_wire(ptr2, sizeof ptr2, &r), REVNAME_NONE);
	/* Extended label types and lengths above 63. */
	static const uint8_t ext[] = { 0x41, '4', 0 };
	assert_int_equal(revname_parse_wire(ext, sizeof ext, &r), REVNAME_NONE);
	memset(buf, 'a', sizeof buf);
	buf[0] = 64;
	buf[65] = 0;
	assert_int_equal(revname_parse_wire(buf, 66, &r), REVNAME_NONE);
	/* A label that runs past the end. */
	static const uint8_t over[] = { 5, '1', '2', 0 };
	assert_int_equal(revname_parse_wire(over, sizeof over, &r), REVNAME_NONE);
	/* A dot and a NUL inside one label. */
	static const uint8_t dot[] = { 3, '4', '.', '3', 1, '2', 1, '1', 7, 'i', 'n', '-', 'a',
				       'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0 };
	assert_int_equal(revname_parse_wire(dot, sizeof dot, &r), REVNAME_NONE);
	static const uint8_t nul[] = { 2, '4', 0, 1, '2', 1, '1', 7, 'i', 'n', '-', 'a', 'd',
				       'd', 'r', 4, 'a', 'r', 'p', 'a', 0 };
	assert_int_equal(revname_parse_wire(nul, sizeof nul, &r), REVNAME_NONE);
	/* The suffix bytes hidden inside one long label. */
	static const uint8_t hidden[] = { 14, 'x', 7, 'i', 'n', '-', 'a', 'd', 'd', 'r', 4, 'a',
					  'r', 'p', 'a', 0 };
	assert_int_equal(revname_parse_wire(hidden, sizeof hidden, &r), REVNAME_NONE);
	static const uint8_t hidden6[] = { 10, 'x', 3, 'i', 'p', '6', 4, 'a', 'r', 'p', 'a', 0 };
	assert_int_equal(revname_parse_wire(hidden6, sizeof hidden6, &r), REVNAME_NONE);
	/* Just the root; empty input; more than 255 bytes. */
	static const uint8_t root[] = { 0 };
	assert_int_equal(revname_parse_wire(root, 1, &r), REVNAME_NONE);
	assert_int_equal(revname_parse_wire(root, 0, &r), REVNAME_NONE);
	uint8_t big[300];
	memset(big, 0, sizeof big);
	n = to_wire("4.3.2.1.in-addr.arpa.", big, sizeof big);
	assert_int_equal(revname_parse_wire(big, 256, &r), REVNAME_NONE);
	/* The output is always filled. */
	memset(&r, 0xAA, sizeof r);
	assert_int_equal(revname_parse_wire(ptr, sizeof ptr, &r), REVNAME_NONE);
	assert_int_equal(r.kind, REVNAME_NONE);
	assert_int_equal(r.addr.family, 0);
	assert_int_equal(r.classless.family, 0);
}

static void test_revname_parse_text_limits(void **state)
{
	(void)state;
	struct revname r;
	char name[400];

	/* A 64-character label. */
	memset(name, '1', 64);
	strcpy(name + 64, ".in-addr.arpa.");
	assert_int_equal(revname_parse_text(name, &r), REVNAME_NONE);
	/* Too many labels. */
	name[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(name, "0.");
	strcat(name, "ip6.arpa.");
	assert_int_equal(revname_parse_text(name, &r), REVNAME_NONE);
	memset(&r, 0x55, sizeof r);
	assert_int_equal(revname_parse_text("..", &r), REVNAME_NONE);
	assert_int_equal(r.addr.family, 0);
}

static void test_revname_format_v4(void **state)
{
	(void)state;
	struct bsc_addr a;
	char buf[128];

	assert_int_equal(addr_parse(&a, "1.2.3.4", false), 0);
	assert_int_equal(revname_format(&a, buf, sizeof buf), 21);
	assert_string_equal(buf, "4.3.2.1.in-addr.arpa.");
	assert_int_equal(addr_parse(&a, "10.1.0.0/16", false), 0);
	revname_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "1.10.in-addr.arpa.");
	/* Rounded down to the octet. */
	assert_int_equal(addr_parse(&a, "10.1.2.0/23", false), 0);
	revname_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "1.10.in-addr.arpa.");
	assert_int_equal(addr_parse(&a, "10.1.2.128/25", false), 0);
	revname_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "2.1.10.in-addr.arpa.");
	assert_int_equal(addr_parse(&a, "0.0.0.0/0", false), 0);
	revname_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "in-addr.arpa.");
	assert_int_equal(addr_parse(&a, "255.0.100.9", false), 0);
	revname_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "9.100.0.255.in-addr.arpa.");
}

static void test_revname_format_v6(void **state)
{
	(void)state;
	struct bsc_addr a;
	char buf[128];

	assert_int_equal(addr_parse(&a, "2001:db8::1", false), 0);
	assert_int_equal(revname_format(&a, buf, sizeof buf), (int)strlen(v6_full));
	assert_string_equal(buf, v6_full);
	assert_int_equal(addr_parse(&a, "2001:db8::/32", false), 0);
	revname_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "8.b.d.0.1.0.0.2.ip6.arpa.");
	assert_int_equal(addr_parse(&a, "2001:db8::/30", false), 0);
	revname_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "b.d.0.1.0.0.2.ip6.arpa."); /* /28 */
	assert_int_equal(addr_parse(&a, "::/0", false), 0);
	revname_format(&a, buf, sizeof buf);
	assert_string_equal(buf, "ip6.arpa.");
}

static void test_revname_format_nospace(void **state)
{
	(void)state;
	struct bsc_addr a;
	char buf[128];
	int n;

	assert_int_equal(addr_parse(&a, "192.168.100.200", false), 0);
	n = revname_format(&a, buf, sizeof buf);
	for (int cap = 0; cap <= n; cap++)
		assert_int_equal(revname_format(&a, buf, (size_t)cap), BSC_ENOSPC);
	assert_int_equal(revname_format(&a, buf, (size_t)n + 1), n);
	assert_int_equal(addr_parse(&a, "2001:db8::1", false), 0);
	n = revname_format(&a, buf, sizeof buf);
	for (int cap = 0; cap <= n; cap++)
		assert_int_equal(revname_format(&a, buf, (size_t)cap), BSC_ENOSPC);
	memset(&a, 0, sizeof a);
	assert_int_equal(revname_format(&a, buf, sizeof buf), BSC_EINVAL);
	a.family = AF_INET;
	a.prefix = 33;
	assert_int_equal(revname_format(&a, buf, sizeof buf), BSC_EINVAL);
}

static void test_revname_to_wire_bytes(void **state)
{
	(void)state;
	struct bsc_addr a;
	uint8_t buf[128], want[128];

	assert_int_equal(addr_parse(&a, "1.2.3.4", false), 0);
	int n = revname_to_wire(&a, buf, sizeof buf);
	int wn = to_wire("4.3.2.1.in-addr.arpa.", want, sizeof want);
	assert_int_equal(n, wn);
	assert_memory_equal(buf, want, (size_t)n);
	for (int cap = 0; cap < n; cap++)
		assert_int_equal(revname_to_wire(&a, buf, (size_t)cap), BSC_ENOSPC);
	assert_int_equal(revname_to_wire(&a, buf, (size_t)n), n);

	assert_int_equal(addr_parse(&a, "2001:db8::1", false), 0);
	n = revname_to_wire(&a, buf, sizeof buf);
	wn = to_wire(v6_full, want, sizeof want);
	assert_int_equal(n, wn);
	assert_int_equal(n, 74);
	assert_memory_equal(buf, want, (size_t)n);

	assert_int_equal(addr_parse(&a, "0.0.0.0/0", false), 0);
	n = revname_to_wire(&a, buf, sizeof buf);
	assert_int_equal(n, 14);
	assert_memory_equal(buf, "\7in-addr\4arpa", 14);
	memset(&a, 0, sizeof a);
	assert_int_equal(revname_to_wire(&a, buf, sizeof buf), BSC_EINVAL);
}

/* Deterministic generator, so failures are reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void round_trip(const struct bsc_addr *a)
{
	char text[128];
	uint8_t wire[128];
	struct revname r;

	assert_true(revname_format(a, text, sizeof text) > 0);
	enum revname_kind k = revname_parse_text(text, &r);
	bool full = a->prefix == (a->family == AF_INET ? 32 : 128);
	assert_int_equal(k, full ? REVNAME_FULL : REVNAME_PARTIAL);
	assert_int_equal(addr_cmp(&r.addr, a), 0);
	int n = revname_to_wire(a, wire, sizeof wire);
	assert_true(n > 0);
	assert_int_equal(revname_parse_wire(wire, (size_t)n, &r), k);
	assert_int_equal(addr_cmp(&r.addr, a), 0);
}

static void test_revname_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < 20000; i++) {
		struct bsc_addr a = { 0 };
		uint64_t x = rng(), y = rng();
		if (i & 1) {
			a.family = AF_INET;
			memcpy(a.bytes, &x, 4);
			addr_mask(&a, (unsigned)(8 * (y % 5)));
		} else {
			a.family = AF_INET6;
			memcpy(a.bytes, &x, 8);
			memcpy(a.bytes + 8, &y, 8);
			addr_mask(&a, (unsigned)(4 * (rng() % 33)));
		}
		round_trip(&a);
	}
	/* Edge values of every octet. */
	for (unsigned v = 0; v < 256; v++) {
		struct bsc_addr a = { .family = AF_INET, .prefix = 32,
				      .bytes = { (uint8_t)v, (uint8_t)(255 - v), 0, (uint8_t)v } };
		round_trip(&a);
	}
}

/* Case-insensitivity holds for every letter of every suffix. */
static void test_revname_parse_case_every_letter(void **state)
{
	(void)state;
	const char *names[] = { "4.3.2.1.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa." };
	for (int k = 0; k < 2; k++) {
		char name[64];
		struct revname r;
		size_t n = strlen(names[k]);
		for (size_t i = 0; i < n; i++) {
			strcpy(name, names[k]);
			if (name[i] >= 'a' && name[i] <= 'z')
				name[i] = (char)(name[i] - 32);
			assert_int_not_equal(revname_parse_text(name, &r), REVNAME_NONE);
			uint8_t w[80];
			int wl = to_wire(name, w, sizeof w);
			assert_int_not_equal(revname_parse_wire(w, (size_t)wl, &r), REVNAME_NONE);
		}
	}
	/* Bytes that equal a letter only after OR-ing 0x20 are not letters. */
	struct revname r;
	assert_int_equal(revname_parse_text("4.3.2.1.in\raddr.arpa.", &r), REVNAME_NONE);
	assert_int_equal(revname_parse_text("8.b.d.0.1.0.0.2.ip\x16.arpa.", &r), REVNAME_NONE);
	assert_int_equal(revname_parse_text("\x11.3.2.1.in-addr.arpa.", &r), REVNAME_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_revname_parse_v4_full),
		cmocka_unit_test(test_revname_parse_v4_partial),
		cmocka_unit_test(test_revname_parse_mixed_case),
		cmocka_unit_test(test_revname_parse_v4_garbage),
		cmocka_unit_test(test_revname_parse_classless),
		cmocka_unit_test(test_revname_parse_classless_net_dash_len),
		cmocka_unit_test(test_revname_parse_classless_rejects),
		cmocka_unit_test(test_revname_parse_v6_full),
		cmocka_unit_test(test_revname_parse_v6_partial),
		cmocka_unit_test(test_revname_parse_v6_garbage),
		cmocka_unit_test(test_revname_parse_wire_robust),
		cmocka_unit_test(test_revname_parse_text_limits),
		cmocka_unit_test(test_revname_format_v4),
		cmocka_unit_test(test_revname_format_v6),
		cmocka_unit_test(test_revname_format_nospace),
		cmocka_unit_test(test_revname_to_wire_bytes),
		cmocka_unit_test(test_revname_round_trip),
		cmocka_unit_test(test_revname_parse_case_every_letter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
