/* tests/unit/authd/test_zone.c — the zone loader: good zones, every check
 * with its file:line (fixtures tests/data/zones/bad-NAME.zone), $GENERATE,
 * $INCLUDE, RFC 3597, file permissions, zone_table_info(), the layout of the
 * index (zone_index.h) and a torture loop failing every allocation in turn.
 *
 * Single-threaded cmocka program; files it writes go to the program's
 * temporary folder (tests/helpers/tmpdir.h). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "authd/answer.h"
#include "authd/zone.h"
#include "authd/zone_index.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "tests/helpers/dnsq.h"
#include "tests/helpers/tmpdir.h"

#define Z(name) BSC_TEST_DATA "/zones/" name

static uint8_t tx[65536];
static size_t tx_len;

/* Ask @zt for @name/@type over TCP; returns the rcode, the answer parsed
 * into @a (free it) and the raw bytes in tx. */
static int ask(const struct zone_table *zt, const char *name, const char *type,
	       struct dnsq_answer *a)
{
	uint8_t q[512];
	struct dnsq_opts o = { .id = 77 };
	int qlen = dnsq_build(q, sizeof q, name, dnsq_type(type), &o);
	assert_true(qlen > 0);
	struct answer_conf ac = { .udp_max = 1232 };
	struct answer_info info;
	tx_len = answer_build(zt, &ac, ANSWER_TCP, q, (size_t)qlen, tx, sizeof tx, &info);
	assert_true(tx_len > 0);
	assert_int_equal(dnsq_parse(tx, tx_len, a), 0);
	return a->rcode;
}

/* The answer has exactly one record, equal to @want (a master-file line). */
static void expect_one(const struct zone_table *zt, const char *name, const char *type,
		       const char *want)
{
	struct dnsq_answer a;
	assert_int_equal(ask(zt, name, type, &a), 0);
	char *w = dnsq_rr_normalize(want);
	assert_non_null(w);
	if (a.count[0] != 1 || strcmp(a.rrs[0][0], w) != 0) {
		fprintf(stderr, "%s %s: got %zu records, first '%s', want '%s'\n", name, type,
			a.count[0], a.count[0] ? a.rrs[0][0] : "", w);
		fail();
	}
	free(w);
	dnsq_answer_free(&a);
}

static bool tx_has(const char *s)
{
	return memmem(tx, tx_len, s, strlen(s)) != NULL;
}

static int load1(struct zone_table **zt, const char *origin, const char *path, char *err,
		 size_t errlen)
{
	struct zone_source src = { origin, path };
	return zone_table_load(zt, &src, 1, NULL, err, errlen);
}

static void test_zone_table_load_fixtures(void **state)
{
	(void)state;
	struct zone_source src[] = {
		{ NULL, Z("10.in-addr.arpa.zone") },
		{ "30.10.in-addr.arpa", Z("30.10.in-addr.arpa.zone") },
		{ "8.B.D.0.1.0.0.2.IP6.ARPA.", Z("8.b.d.0.1.0.0.2.ip6.arpa.zone") },
	};
	struct zone_table *zt = NULL;
	char err[512] = "x";
	assert_int_equal(zone_table_load(&zt, src, 3, NULL, err, sizeof err), 0);
	assert_string_equal(err, "");
	assert_int_equal(zone_table_count(zt), 3);

	struct zone_info zi;
	assert_int_equal(zone_table_info(zt, 0, &zi), 0);
	assert_string_equal(zi.origin, "10.in-addr.arpa.");
	assert_string_equal(zi.path, Z("10.in-addr.arpa.zone"));
	assert_int_equal(zi.serial, 2024112101u);
	assert_int_equal(zi.neg_ttl, 300);
	assert_int_equal(zi.ptr_ttl, 3600);
	assert_true(zi.records > 200);
	assert_true(zi.names > zi.records / 2);

	assert_int_equal(zone_table_info(zt, 1, &zi), 0);
	assert_string_equal(zi.origin, "30.10.in-addr.arpa.");
	assert_int_equal(zi.serial, 7);
	assert_int_equal(zi.neg_ttl, 600);  /* min(7200, 600) */
	assert_int_equal(zi.ptr_ttl, 7200);
	assert_int_equal(zi.records, 4);    /* SOA NS A PTR */
	assert_int_equal(zi.names, 4);      /* apex, ns1, 1 (empty), 1.1 */

	assert_int_equal(zone_table_info(zt, 2, &zi), 0);
	assert_string_equal(zi.origin, "8.b.d.0.1.0.0.2.ip6.arpa.");
	assert_int_equal(zi.records, 3 + 16 + 2);
	assert_int_equal(zone_table_info(zt, 3, &zi), BSC_ENOENT);
	zone_table_free(zt);
	zone_table_free(NULL);
	assert_int_equal(zone_table_count(NULL), 0);
}

struct bad_case {
	const char *file;
	const char *origin;
	int rc;
	const char *msg; /* expected in the error text, after the file name */
	const char *errfile; /* the file named in the error when not @file */
};

static void test_zone_table_load_bad(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{ "bad-no-soa.zone", NULL, BSC_EZONE, ": no SOA record at the zone apex", NULL },
		{ "bad-two-soa.zone", NULL, BSC_EZONE, ":5: second SOA record", NULL },
		{ "bad-soa-not-apex.zone", NULL, BSC_EZONE,
		  ":5: SOA record at 2.1.10.in-addr.arpa.", NULL },
		{ "bad-no-ns.zone", NULL, BSC_EZONE, ": no NS record at the zone apex", NULL },
		{ "bad-out-of-zone.zone", NULL, BSC_EZONE, ":6: out-of-zone record: 1.2.10", NULL },
		{ "bad-cname-other.zone", NULL, BSC_EZONE, ":6: CNAME beside other data at 1.1.10",
		  NULL },
		{ "bad-two-cname.zone", NULL, BSC_EZONE, ":6: more than one CNAME record at 1.1.10",
		  NULL },
		{ "bad-class.zone", NULL, BSC_EZONE, ":5: class CH not supported", NULL },
		{ "bad-rdata.zone", NULL, BSC_EZONE, ":5: bad A rdata", NULL },
		{ "bad-trailing.zone", NULL, BSC_EZONE,
		  ":5: bad PTR rdata: Syntax error, superfluous text", NULL },
		{ "bad-ttl.zone", NULL, BSC_EZONE, ":5: bad TTL '1h30'", NULL },
		{ "bad-paren.zone", NULL, BSC_EZONE, ":4: missing ')'", NULL },
		{ "bad-type.zone", NULL, BSC_EZONE, ":5: unknown record type 'FOO'", NULL },
		{ "bad-unknown-rdata.zone", NULL, BSC_EZONE, ":5: \\# data shorter", NULL },
		{ "bad-directive.zone", NULL, BSC_EZONE, ":3: unknown directive '$FOO'", NULL },
		{ "bad-no-origin.zone", NULL, BSC_EZONE, ":2: bad owner name '1': relative name",
		  NULL },
		{ "bad-include.zone", NULL, BSC_EZONE, ":5: cannot include", NULL },
		{ "bad-include-loop.zone", NULL, BSC_EZONE,
		  ":2: $INCLUDE nested more than 16 levels", "bad-include-loop.inc" },
		{ "bad-generate-range.zone", NULL, BSC_EZONE,
		  ":5: bad $GENERATE range (start above", NULL },
		{ "bad-generate-big.zone", NULL, BSC_EZONE, ":5: $GENERATE range too large", NULL },
		{ "bad-generate-modifier.zone", NULL, BSC_EZONE, ":5: bad $GENERATE modifier base",
		  NULL },
		{ "bad-generate-brace.zone", NULL, BSC_EZONE,
		  ":5: bad $GENERATE modifier (missing }", NULL },
		{ "bad-generate-short.zone", NULL, BSC_EZONE, ":5: $GENERATE needs", NULL },
		{ "bad-label.zone", NULL, BSC_EZONE, ":5: bad owner name", NULL },
		{ "30.10.in-addr.arpa.zone", "31.10.in-addr.arpa", BSC_EZONE,
		  ":4: out-of-zone record: 30.10.in-addr.arpa. is not in zone 31.10", NULL },
		{ "no-such-file.zone", NULL, BSC_ENOENT, ": cannot read: ", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[512], err[512] = "";
		snprintf(path, sizeof path, "%s/zones/%s", BSC_TEST_DATA, cases[i].file);
		struct zone_table *zt = (struct zone_table *)&zt;
		int rc = load1(&zt, cases[i].origin, path, err, sizeof err);
		char want[1024];
		snprintf(want, sizeof want, "%s/zones/%s%s", BSC_TEST_DATA,
			 cases[i].errfile ? cases[i].errfile : cases[i].file, cases[i].msg);
		if (rc != cases[i].rc || strncmp(err, want, strlen(want)) != 0) {
			fprintf(stderr, "%s: rc %d '%s'\n  want rc %d '%s...'\n", cases[i].file, rc,
				err, cases[i].rc, want);
			fail();
		}
		assert_null(zt);
	}
}

static void test_zone_table_load_duplicate_origin(void **state)
{
	(void)state;
	struct zone_source src[] = {
		{ NULL, Z("30.10.in-addr.arpa.zone") },
		{ "30.10.in-addr.arpa.", Z("30.10.in-addr.arpa.zone") },
	};
	struct zone_table *zt = NULL;
	char err[512];
	assert_int_equal(zone_table_load(&zt, src, 2, NULL, err, sizeof err), BSC_EZONE);
	assert_non_null(strstr(err, "zone 30.10.in-addr.arpa. is also loaded from"));
	assert_null(zt);
	/* no zones at all: an empty table */
	assert_int_equal(zone_table_load(&zt, src, 0, NULL, err, sizeof err), 0);
	assert_int_equal(zone_table_count(zt), 0);
	zone_table_free(zt);
}

static void test_zone_generate(void **state)
{
	(void)state;
	struct zone_table *zt = NULL;
	char err[512];
	assert_int_equal(load1(&zt, NULL, Z("generate.zone"), err, sizeof err), 0);
	struct dnsq_answer a;
	expect_one(zt, "1.1.2.10.in-addr.arpa.", "PTR",
		   "1.1.2.10.in-addr.arpa. 3600 IN PTR plain-1.example.");
	expect_one(zt, "3.1.2.10.in-addr.arpa.", "PTR",
		   "3.1.2.10.in-addr.arpa. 3600 IN PTR plain-3.example.");
	expect_one(zt, "5.1.2.10.in-addr.arpa.", "PTR",
		   "5.1.2.10.in-addr.arpa. 3600 IN PTR plain-5.example.");
	assert_int_equal(ask(zt, "2.1.2.10.in-addr.arpa.", "PTR", &a), 3);
	dnsq_answer_free(&a);
	expect_one(zt, "0.2.2.10.in-addr.arpa.", "PTR",
		   "0.2.2.10.in-addr.arpa. 3600 IN PTR host-010.example.");
	expect_one(zt, "2.2.2.10.in-addr.arpa.", "PTR",
		   "2.2.2.10.in-addr.arpa. 3600 IN PTR host-012.example.");
	expect_one(zt, "5.3.2.10.in-addr.arpa.", "PTR",
		   "5.3.2.10.in-addr.arpa. 3600 IN PTR neg-00.example.");
	expect_one(zt, "6.3.2.10.in-addr.arpa.", "PTR",
		   "6.3.2.10.in-addr.arpa. 3600 IN PTR neg-01.example.");
	expect_one(zt, "o.4.2.10.in-addr.arpa.", "PTR",
		   "o.4.2.10.in-addr.arpa. 3600 IN PTR oct-0012.hex-000a.HEX-000A.example.");
	assert_true(tx_has("\010oct-0012\010hex-000a\010HEX-000A"));
	expect_one(zt, "n.5.2.10.in-addr.arpa.", "PTR",
		   "n.5.2.10.in-addr.arpa. 3600 IN PTR nib-b.1.NIB-B.1.wide-b.1.0.0.example.");
	assert_true(tx_has("\005nib-b\0011\005NIB-B\0011\006wide-b\0011\0010\0010\007example"));
	expect_one(zt, "d.6.2.10.in-addr.arpa.", "TXT",
		   "d.6.2.10.in-addr.arpa. 3600 IN TXT \"cost$x$y\"");
	expect_one(zt, "1.7.2.10.in-addr.arpa.", "PTR",
		   "1.7.2.10.in-addr.arpa. 300 IN PTR ttl-1.example.");
	expect_one(zt, "2.7.2.10.in-addr.arpa.", "PTR",
		   "2.7.2.10.in-addr.arpa. 300 IN PTR ttl-2.example.");
	expect_one(zt, "1.8.2.10.in-addr.arpa.", "CNAME",
		   "1.8.2.10.in-addr.arpa. 3600 IN CNAME 1.1.2.10.in-addr.arpa.");
	struct zone_info zi;
	zone_table_info(zt, 0, &zi);
	assert_int_equal(zi.records, 2 + 3 + 3 + 2 + 1 + 1 + 1 + 2 + 1);
	zone_table_free(zt);
}

static void test_zone_include(void **state)
{
	(void)state;
	struct zone_table *zt = NULL;
	char err[512];
	assert_int_equal(load1(&zt, NULL, Z("include.zone"), err, sizeof err), 0);
	expect_one(zt, "1.3.10.in-addr.arpa.", "PTR",
		   "1.3.10.in-addr.arpa. 3600 IN PTR included.example.");
	expect_one(zt, "5.3.10.in-addr.arpa.", "PTR",
		   "5.3.10.in-addr.arpa. 3600 IN PTR nested.example.");
	expect_one(zt, "1.9.3.10.in-addr.arpa.", "PTR",
		   "1.9.3.10.in-addr.arpa. 3600 IN PTR included.example.");
	expect_one(zt, "5.9.3.10.in-addr.arpa.", "PTR",
		   "5.9.3.10.in-addr.arpa. 3600 IN PTR nested.example.");
	expect_one(zt, "2.3.10.in-addr.arpa.", "PTR",
		   "2.3.10.in-addr.arpa. 3600 IN PTR after-include.example.");
	zone_table_free(zt);
}

static void test_zone_rfc3597(void **state)
{
	(void)state;
	struct zone_table *zt = NULL;
	char err[512];
	assert_int_equal(load1(&zt, NULL, Z("rfc3597.zone"), err, sizeof err), 0);
	expect_one(zt, "1.4.10.in-addr.arpa.", "TYPE65534",
		   "1.4.10.in-addr.arpa. 3600 IN TYPE65534 \\# 2 abcd");
	expect_one(zt, "1.4.10.in-addr.arpa.", "PTR",
		   "1.4.10.in-addr.arpa. 3600 IN PTR known.example.");
	struct dnsq_answer a;
	assert_int_equal(ask(zt, "2.4.10.in-addr.arpa.", "TYPE65000", &a), 0);
	assert_int_equal(a.count[0], 1);
	dnsq_answer_free(&a);
	expect_one(zt, "3.4.10.in-addr.arpa.", "A", "3.4.10.in-addr.arpa. 3600 IN A 192.0.2.1");
	expect_one(zt, "4.4.10.in-addr.arpa.", "PTR",
		   "4.4.10.in-addr.arpa. 3600 IN PTR host.example.");
	zone_table_free(zt);
}

static void test_zone_warnings(void **state)
{
	(void)state;
	struct zone_table *zt = NULL;
	char err[512];
	assert_int_equal(load1(&zt, NULL, Z("warnings.zone"), err, sizeof err), 0);
	struct dnsq_answer a;
	/* TTL mismatch: the first TTL is used; the duplicate is dropped */
	assert_int_equal(ask(zt, "1.5.10.in-addr.arpa.", "PTR", &a), 0);
	assert_int_equal(a.count[0], 2);
	assert_non_null(strstr(a.rrs[0][0], " 3600 "));
	assert_non_null(strstr(a.rrs[0][1], " 3600 "));
	dnsq_answer_free(&a);
	/* occluded data is not served: a referral instead */
	assert_int_equal(ask(zt, "1.sub.5.10.in-addr.arpa.", "PTR", &a), 0);
	assert_int_equal(a.count[0], 0);
	assert_int_equal(a.count[1], 2);
	assert_int_equal(a.count[2], 1); /* the glue of ns.sub; ns2.sub has none */
	assert_null(strstr(a.flags, "aa"));
	dnsq_answer_free(&a);
	assert_int_equal(ask(zt, "sub.5.10.in-addr.arpa.", "PTR", &a), 0);
	assert_int_equal(a.count[0], 0);
	assert_int_equal(a.count[1], 2);
	dnsq_answer_free(&a);
	struct zone_info zi;
	zone_table_info(zt, 0, &zi);
	assert_int_equal(zi.neg_ttl, 600);
	zone_table_free(zt);
}

/* ---- permissions ---- */

static void copy_file(const char *from, const char *to, mode_t mode)
{
	FILE *in = fopen(from, "rb");
	FILE *out = fopen(to, "wb");
	assert_non_null(in);
	assert_non_null(out);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
	assert_int_equal(chmod(to, mode), 0);
}

static void test_zone_check_perms(void **state)
{
	(void)state;
	/* a folder of its own: the zone and its include/ folder side by side */
	char dir[512], zpath[512], ipath[512], idir[512], npath[512];
	tmpdir_path(dir, sizeof dir, "perms");
	tmpdir_path(zpath, sizeof zpath, "perms/include.zone");
	tmpdir_path(idir, sizeof idir, "perms/include");
	tmpdir_path(ipath, sizeof ipath, "perms/include/hosts.inc");
	tmpdir_path(npath, sizeof npath, "perms/include/nested.inc");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mkdir(idir, 0755), 0);
	copy_file(Z("include.zone"), zpath, 0644);
	copy_file(Z("include/hosts.inc"), ipath, 0644);
	copy_file(Z("include/nested.inc"), npath, 0644);

	uid_t me = getuid();
	struct zone_load_opts opts = { .check_perms = true, .run_uid = me };
	struct zone_source src = { NULL, zpath };
	struct zone_table *zt = NULL;
	char err[512];
	assert_int_equal(zone_table_load(&zt, &src, 1, &opts, err, sizeof err), 0);
	zone_table_free(zt);

	/* writable by others, by group: refused, naming the file */
	assert_int_equal(chmod(zpath, 0666), 0);
	assert_int_equal(zone_table_load(&zt, &src, 1, &opts, err, sizeof err), BSC_EPERM_FILE);
	assert_non_null(strstr(err, zpath));
	assert_non_null(strstr(err, "writable by others"));
	assert_int_equal(chmod(zpath, 0664), 0);
	assert_int_equal(zone_table_load(&zt, &src, 1, &opts, err, sizeof err), BSC_EPERM_FILE);
	assert_non_null(strstr(err, "writable by group"));
	/* the same check applies to an $INCLUDEd file */
	assert_int_equal(chmod(zpath, 0644), 0);
	assert_int_equal(chmod(npath, 0646), 0);
	assert_int_equal(zone_table_load(&zt, &src, 1, &opts, err, sizeof err), BSC_EPERM_FILE);
	assert_non_null(strstr(err, npath));
	/* off by default */
	assert_int_equal(zone_table_load(&zt, &src, 1, NULL, err, sizeof err), 0);
	zone_table_free(zt);
	assert_int_equal(chmod(npath, 0644), 0);

	/* owned by another user than root and the run user */
	if (me == 0 && chown(zpath, 12345, 12345) == 0) {
		opts.run_uid = 0;
		assert_int_equal(zone_table_load(&zt, &src, 1, &opts, err, sizeof err),
				 BSC_EPERM_FILE);
		assert_non_null(strstr(err, "owned by uid 12345"));
		opts.run_uid = 12345;
		assert_int_equal(zone_table_load(&zt, &src, 1, &opts, err, sizeof err), 0);
		zone_table_free(zt);
	}
}


/* ---- the index layout ---- */

/* Every node of @z is found by its name (and only by it), its slot tells the
 * cache lines it spans, and it spans no more lines than its size needs. */
static void check_index(const struct zi_zone *z)
{
	size_t found = 0;
	assert_int_equal((uintptr_t)z->blob % 64, 0);
	for (uint64_t i = 0; i <= z->slot_mask; i++) {
		const struct zi_slot *s = &z->slots[i];
		if (s->tag == 0)
			continue;
		found++;
		const struct zi_node *n = zi_node_at(z, s->node);
		const uint8_t *name = zi_name(n);
		assert_int_equal(zi_lookup(z, name, n->name_len), s->node);
		assert_true(zi_slot_match(s, zi_tag(zi_hash(name, n->name_len))));

		/* the hash ignores case */
		uint8_t upper[DNAME_MAXLEN];
		for (size_t k = 0; k < n->name_len; k++)
			upper[k] = (uint8_t)(name[k] >= 'a' && name[k] <= 'z' ? name[k] - 32 : name[k]);
		assert_true(zi_hash(upper, n->name_len) == zi_hash(name, n->name_len));

		size_t off = (size_t)((const uint8_t *)n - z->blob);
		size_t end = (size_t)(name + n->name_len - (const uint8_t *)n);
		end = (end + 3) & ~(size_t)3;
		const struct zi_rrset *rs = zi_rrsets(n);
		if (n->rrset_count > 0)
			end = rs[n->rrset_count - 1].off + rs[n->rrset_count - 1].len;
		size_t sz = (end + 7) & ~(size_t)7;
		size_t lines = (off + sz - 1) / 64 - off / 64 + 1;
		assert_int_equal(off % 8, 0);
		assert_int_equal(zi_slot_lines(s), lines < 4 ? lines : 4);
		if (sz <= 256)
			assert_int_equal(lines, (sz + 63) / 64);
	}
	assert_int_equal(found, z->node_count);
}

static void test_zone_index_layout(void **state)
{
	(void)state;
	/* the fixtures, and a zone large enough for the huge-page path */
	char path[512];
	tmpdir_path(path, sizeof path, "big.zone");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "$ORIGIN 10.in-addr.arpa.\n$TTL 3600\n"
		   "@ SOA ns1.example. host.example. 1 7200 1800 1209600 300\n"
		   "@ NS ns1.example.\n");
	for (int b = 0; b < 128; b++)
		fprintf(f, "$GENERATE 0-255 $.%d.1 PTR host-$-%d.example.\n", b, b);
	fclose(f);

	struct zone_source src[] = {
		{ NULL, Z("10.in-addr.arpa.zone") },
		{ "30.10.in-addr.arpa", Z("30.10.in-addr.arpa.zone") },
		{ NULL, Z("8.b.d.0.1.0.0.2.ip6.arpa.zone") },
	};
	struct zone_table *zt = NULL;
	char err[512];
	assert_int_equal(zone_table_load(&zt, src, 3, NULL, err, sizeof err), 0);
	for (size_t i = 0; i < zt->count; i++)
		check_index(&zt->zones[i]);
	zone_table_free(zt);

	assert_int_equal(load1(&zt, NULL, path, err, sizeof err), 0);
	const struct zi_zone *z = &zt->zones[0];
	assert_true(z->node_count > 128 * 256);
	/* over 2 MiB of nodes (at least 64 bytes each): on a huge-page boundary */
	assert_int_equal((uintptr_t)z->blob % MEM_HUGE_PAGE, 0);
	check_index(z);
	struct dnsq_answer a;
	assert_int_equal(ask(zt, "7.95.1.10.in-addr.arpa.", "PTR", &a), 0);
	assert_int_equal(a.count[0], 1);
	dnsq_answer_free(&a);
	zone_table_free(zt);
}

/* ---- every allocation failing in turn ---- */

static void test_zone_table_load_torture(void **state)
{
	(void)state;
	struct zone_source src[] = {
		{ NULL, Z("10.in-addr.arpa.zone") },
		{ NULL, Z("include.zone") },
		{ NULL, Z("generate.zone") },
	};
	int saved = log_get_level();
	log_set_level(LOG_EMERG);
	long n;
	for (n = 0; n < 100000; n++) {
		struct zone_table *zt = NULL;
		char err[256];
		mem_fail_after(n);
		int rc = zone_table_load(&zt, src, 3, NULL, err, sizeof err);
		mem_fail_after(-1);
		if (rc == 0) {
			assert_non_null(zt);
			zone_table_free(zt);
			break;
		}
		assert_int_equal(rc, BSC_ENOMEM);
		assert_null(zt);
		assert_string_equal(err, "out of memory while loading zones");
	}
	log_set_level(saved);
	fprintf(stderr, "torture: %ld allocation failures survived\n", n);
	assert_true(n > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zone_table_load_fixtures),
		cmocka_unit_test(test_zone_table_load_bad),
		cmocka_unit_test(test_zone_table_load_duplicate_origin),
		cmocka_unit_test(test_zone_generate),
		cmocka_unit_test(test_zone_include),
		cmocka_unit_test(test_zone_rfc3597),
		cmocka_unit_test(test_zone_warnings),
		cmocka_unit_test(test_zone_check_perms),
		cmocka_unit_test(test_zone_index_layout),
		cmocka_unit_test(test_zone_table_load_torture),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
