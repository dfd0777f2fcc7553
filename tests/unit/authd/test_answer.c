/* tests/unit/authd/test_answer.c — the answer builder: golden answers from
 * the files tests/data/answers/NAME.txt (format at the top of each file), then queries
 * built byte by byte for what ldns cannot send (malformed, opcodes, ECS), and
 * the fast path and batch passes (answer_prepare/prefetch/build_prepared)
 * checked byte for byte against the general builder.
 *
 * Single-threaded cmocka program. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "authd/answer.h"
#include "authd/zone.h"
#include "common/event.h"
#include "tests/helpers/dnsq.h"

static struct zone_table *zt;
static const uint8_t test_nsid[] = "backscope-test";
static struct answer_conf conf = {
	.udp_max = 1232,
	.nsid = test_nsid,
	.nsid_len = sizeof test_nsid - 1,
	.version = "backscope-test",
	.identity = "ns1.test",
};
static uint8_t tx[65536];
static uint8_t tx_general[65536];

static int group_setup(void **state)
{
	(void)state;
	struct zone_source src[] = {
		{ NULL, BSC_TEST_DATA "/zones/10.in-addr.arpa.zone" },
		{ "30.10.in-addr.arpa", BSC_TEST_DATA "/zones/30.10.in-addr.arpa.zone" },
		{ NULL, BSC_TEST_DATA "/zones/8.b.d.0.1.0.0.2.ip6.arpa.zone" },
		{ NULL, BSC_TEST_DATA "/zones/40.in-addr.arpa.zone" },
	};
	char err[512];
	int rc = zone_table_load(&zt, src, 4, NULL, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "zone load: %d %s\n", rc, err);
	return rc;
}

static int group_teardown(void **state)
{
	(void)state;
	zone_table_free(zt);
	return 0;
}

/* ---- golden answers ---- */

struct block {
	const char *file;
	unsigned line;
	char qname[512];
	char qtype[32];
	struct dnsq_opts o;
	bool tcp;
	int rcode;
	char flags[128];
	int edns;       /* -1 not checked, 0 none, 1 present */
	bool want_do;
	char nsid[600]; /* hex, "" = none expected */
	char *rrs[DNSQ_SECTIONS][256];
	size_t n[DNSQ_SECTIONS];
	int section;
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void flags_norm(const char *in, char *out, size_t len)
{
	static const char *const order[] = { "qr", "aa", "tc", "rd", "ra", "ad", "cd" };
	out[0] = '\0';
	for (size_t i = 0; i < 7; i++) {
		char pad[140];
		snprintf(pad, sizeof pad, " %s ", in);
		char key[8];
		snprintf(key, sizeof key, " %s ", order[i]);
		if (strstr(pad, key)) {
			if (out[0])
				strncat(out, " ", len - strlen(out) - 1);
			strncat(out, order[i], len - strlen(out) - 1);
		}
	}
}

static int run_block(struct block *b)
{
	uint8_t q[1024];
	uint16_t qtype = dnsq_type(b->qtype);
	int fails = 0;
	b->o.id = (uint16_t)(0x4000 + b->line);
	int qlen = dnsq_build(q, sizeof q, b->qname, qtype, &b->o);
	if (qlen < 0) {
		fprintf(stderr, "%s:%u: cannot build the query\n", b->file, b->line);
		return 1;
	}
	struct answer_info info;
	size_t n = answer_build(zt, &conf, b->tcp ? ANSWER_TCP : ANSWER_UDP, q, (size_t)qlen, tx,
				sizeof tx, &info);
	if (n == 0) {
		fprintf(stderr, "%s:%u: no answer\n", b->file, b->line);
		return 1;
	}
	struct answer_info ginfo;
	size_t gn = answer_build_general(zt, &conf, b->tcp ? ANSWER_TCP : ANSWER_UDP, q,
					 (size_t)qlen, tx_general, sizeof tx_general, &ginfo);
	if (gn != n || memcmp(tx, tx_general, n) != 0 || memcmp(&info, &ginfo, sizeof info) != 0) {
		fprintf(stderr, "%s:%u: answer_build() and the general builder differ\n", b->file,
			b->line);
		fails++;
	}
	size_t lim = b->tcp ? 65535 : !b->o.edns ? 512 : 1232;
	if (n > lim) {
		fprintf(stderr, "%s:%u: answer of %zu bytes over the limit %zu\n", b->file, b->line,
			n, lim);
		fails++;
	}
	struct dnsq_answer a;
	if (dnsq_parse(tx, n, &a) != 0) {
		fprintf(stderr, "%s:%u: ldns cannot parse the answer\n", b->file, b->line);
		return 1;
	}
	char want[128], got[128];
	flags_norm(b->flags, want, sizeof want);
	flags_norm(a.flags, got, sizeof got);
	if (a.id != b->o.id) {
		fprintf(stderr, "%s:%u: id %u, want %u\n", b->file, b->line, a.id, b->o.id);
		fails++;
	}
	if (a.rcode != b->rcode || (int)info.rcode != b->rcode) {
		fprintf(stderr, "%s:%u: rcode %s (info %u), want %s\n", b->file, b->line,
			dnsq_rcode_name(a.rcode), info.rcode, dnsq_rcode_name(b->rcode));
		fails++;
	}
	if (strcmp(want, got) != 0) {
		fprintf(stderr, "%s:%u: flags '%s', want '%s'\n", b->file, b->line, got, want);
		fails++;
	}
	if ((strstr(got, "tc") != NULL) != info.truncated) {
		fprintf(stderr, "%s:%u: info.truncated disagrees\n", b->file, b->line);
		fails++;
	}
	int edns = b->edns >= 0 ? b->edns : b->o.edns;
	if (a.edns != (edns != 0)) {
		fprintf(stderr, "%s:%u: OPT %s, want %s\n", b->file, b->line,
			a.edns ? "present" : "absent", edns ? "present" : "absent");
		fails++;
	}
	if (a.edns && (a.do_bit != (b->want_do || b->o.do_bit))) {
		fprintf(stderr, "%s:%u: DO bit %d\n", b->file, b->line, a.do_bit);
		fails++;
	}
	if (a.edns && a.payload != conf.udp_max) {
		fprintf(stderr, "%s:%u: OPT payload %u\n", b->file, b->line, a.payload);
		fails++;
	}
	char hex[600] = "";
	for (size_t i = 0; a.has_nsid && i < a.nsid_len; i++)
		snprintf(hex + 2 * i, sizeof hex - 2 * i, "%02x", a.nsid[i]);
	if (strcmp(hex, b->nsid) != 0) {
		fprintf(stderr, "%s:%u: NSID '%s', want '%s'\n", b->file, b->line, hex, b->nsid);
		fails++;
	}
	static const char *const names[] = { "answer", "authority", "additional" };
	for (int s = 0; s < DNSQ_SECTIONS; s++) {
		qsort(a.rrs[s], a.count[s], sizeof(char *), str_cmp);
		qsort(b->rrs[s], b->n[s], sizeof(char *), str_cmp);
		bool same = a.count[s] == b->n[s];
		for (size_t i = 0; same && i < a.count[s]; i++)
			same = strcmp(a.rrs[s][i], b->rrs[s][i]) == 0;
		if (!same) {
			fprintf(stderr, "%s:%u: %s section differs\n", b->file, b->line, names[s]);
			for (size_t i = 0; i < a.count[s]; i++)
				fprintf(stderr, "   got:  %s\n", a.rrs[s][i]);
			for (size_t i = 0; i < b->n[s]; i++)
				fprintf(stderr, "   want: %s\n", b->rrs[s][i]);
			fails++;
		}
	}
	dnsq_answer_free(&a);
	return fails;
}

static void block_reset(struct block *b)
{
	for (int s = 0; s < DNSQ_SECTIONS; s++) {
		for (size_t i = 0; i < b->n[s]; i++)
			free(b->rrs[s][i]);
	}
	memset(b, 0, sizeof *b);
	b->edns = -1;
	b->section = -1;
}

static int parse_query_line(struct block *b, char *line)
{
	char *save = NULL;
	char *tok = strtok_r(line, " \t", &save); /* "query" */
	char *name = strtok_r(NULL, " \t", &save);
	char *type = strtok_r(NULL, " \t", &save);
	if (!tok || !name || !type)
		return -1;
	snprintf(b->qname, sizeof b->qname, "%s", name);
	snprintf(b->qtype, sizeof b->qtype, "%s", type);
	b->o.rd = true;
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		if (strcmp(tok, "+edns") == 0) {
			b->o.edns = true;
		} else if (strcmp(tok, "+do") == 0) {
			b->o.edns = true;
			b->o.do_bit = true;
		} else if (strncmp(tok, "+bufsize=", 9) == 0) {
			b->o.edns = true;
			b->o.bufsize = (uint16_t)atoi(tok + 9);
		} else if (strncmp(tok, "+ednsver=", 9) == 0) {
			b->o.edns = true;
			b->o.edns_version = (uint8_t)atoi(tok + 9);
		} else if (strcmp(tok, "+nsid") == 0) {
			b->o.edns = true;
			b->o.nsid = true;
		} else if (strcmp(tok, "+tcp") == 0) {
			b->tcp = true;
		} else if (strncmp(tok, "+class=", 7) == 0) {
			b->o.qclass = dnsq_class(tok + 7);
			if (b->o.qclass == 0)
				return -1;
		} else if (strncmp(tok, "+opcode=", 8) == 0) {
			b->o.opcode = (uint8_t)atoi(tok + 8);
		} else if (strcmp(tok, "+nord") == 0) {
			b->o.rd = false;
		} else {
			return -1;
		}
	}
	return 0;
}

static void run_golden_file(const char *path, unsigned *blocks, unsigned *fails)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[2048];
	unsigned ln = 0;
	struct block b;
	memset(&b, 0, sizeof b);
	block_reset(&b);
	bool open_block = false;
	for (;;) {
		char *got = fgets(line, sizeof line, f);
		if (got) {
			ln++;
			line[strcspn(line, "\r\n")] = '\0';
		}
		if (!got || strncmp(line, "query ", 6) == 0) {
			if (open_block) {
				*fails += run_block(&b) ? 1 : 0;
				(*blocks)++;
			}
			block_reset(&b);
			open_block = false;
			if (!got)
				break;
			b.file = path;
			b.line = ln;
			if (parse_query_line(&b, line) != 0) {
				fprintf(stderr, "%s:%u: bad query line\n", path, ln);
				(*fails)++;
				continue;
			}
			open_block = true;
			continue;
		}
		if (line[0] == '#' || line[0] == '\0' || !open_block)
			continue;
		if (strncmp(line, "rcode ", 6) == 0) {
			b.rcode = dnsq_rcode(line + 6);
		} else if (strncmp(line, "flags", 5) == 0) {
			size_t fl = strnlen(line + 5, sizeof b.flags - 1);
			memcpy(b.flags, line + 5, fl);
			b.flags[fl] = '\0';
		} else if (strncmp(line, "edns ", 5) == 0) {
			b.edns = strncmp(line + 5, "none", 4) == 0 ? 0 : 1;
			b.want_do = strstr(line, " do") != NULL;
			const char *ns = strstr(line, "nsid=");
			if (ns) {
				size_t nl = strnlen(ns + 5, sizeof b.nsid - 1);
				memcpy(b.nsid, ns + 5, nl);
				b.nsid[nl] = '\0';
			}
		} else if (strcmp(line, "answer") == 0) {
			b.section = 0;
		} else if (strcmp(line, "authority") == 0) {
			b.section = 1;
		} else if (strcmp(line, "additional") == 0) {
			b.section = 2;
		} else if (b.section >= 0 && b.n[b.section] < 256) {
			char *norm = dnsq_rr_normalize(line);
			if (!norm) {
				fprintf(stderr, "%s:%u: bad record line\n", path, ln);
				(*fails)++;
				continue;
			}
			b.rrs[b.section][b.n[b.section]++] = norm;
		} else {
			fprintf(stderr, "%s:%u: unexpected line\n", path, ln);
			(*fails)++;
		}
	}
	block_reset(&b);
	fclose(f);
}

static void test_answer_build_golden(void **state)
{
	(void)state;
	const char *dir = BSC_TEST_DATA "/answers";
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	unsigned blocks = 0, fails = 0, files = 0;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".txt") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		run_golden_file(path, &blocks, &fails);
		files++;
	}
	closedir(d);
	fprintf(stderr, "golden: %u files, %u answers, %u failed\n", files, blocks, fails);
	assert_true(files >= 5);
	assert_true(blocks >= 80);
	assert_int_equal(fails, 0);
}

/* ---- raw queries ---- */

/* "1.0.1.10.in-addr.arpa" with qtype PTR class IN */
static const uint8_t qname_hit[] = { 1, '1', 1, '0', 1, '1', 2, '1', '0', 7, 'i', 'n', '-',
				     'a', 'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0 };

static size_t mkq(uint8_t *q, uint16_t flags, uint16_t qd, uint16_t ar, const uint8_t *name,
		  size_t nlen, uint16_t qtype, uint16_t qclass)
{
	size_t n = 0;
	q[n++] = 0xAB;
	q[n++] = 0xCD;
	q[n++] = (uint8_t)(flags >> 8);
	q[n++] = (uint8_t)flags;
	q[n++] = 0;
	q[n++] = (uint8_t)qd;
	memset(q + n, 0, 4);
	n += 4;
	q[n++] = 0;
	q[n++] = (uint8_t)ar;
	memcpy(q + n, name, nlen);
	n += nlen;
	q[n++] = (uint8_t)(qtype >> 8);
	q[n++] = (uint8_t)qtype;
	q[n++] = (uint8_t)(qclass >> 8);
	q[n++] = (uint8_t)qclass;
	return n;
}

/* OPT with payload 1232 and the option bytes @opts */
static size_t put_opt(uint8_t *q, size_t n, const uint8_t *opts, size_t olen)
{
	static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0 };
	memcpy(q + n, opt, sizeof opt);
	n += sizeof opt;
	q[n++] = (uint8_t)(olen >> 8);
	q[n++] = (uint8_t)olen;
	if (olen > 0)
		memcpy(q + n, opts, olen);
	return n + olen;
}

static size_t build(const uint8_t *q, size_t qlen, enum answer_transport tr,
		    struct answer_info *info)
{
	size_t n = answer_build(zt, &conf, tr, q, qlen, tx, sizeof tx, info);
	if (n > 0) {
		assert_true(n >= 12);
		assert_memory_equal(tx, q, 2); /* ID */
		assert_true(tx[2] & 0x80);     /* QR */
	}
	return n;
}

static unsigned rcode_of(size_t n)
{
	return n >= 12 ? tx[3] & 0xF : 99;
}

static uint16_t count(unsigned i)
{
	return (uint16_t)(tx[4 + 2 * i] << 8 | tx[5 + 2 * i]);
}

static void test_answer_build_hit_raw(void **state)
{
	(void)state;
	uint8_t q[512];
	struct answer_info info;
	size_t qlen = mkq(q, 0x0100, 1, 0, qname_hit, sizeof qname_hit, 12, 1);
	size_t n = build(q, qlen, ANSWER_UDP, &info);
	assert_int_equal(rcode_of(n), 0);
	assert_int_equal(tx[2], 0x85); /* QR AA RD */
	assert_int_equal(tx[3], 0x00);
	assert_int_equal(count(0), 1);
	assert_int_equal(count(1), 1);
	assert_memory_equal(tx + 12, q + 12, qlen - 12);
	assert_int_equal(tx[qlen], 0xC0); /* owner: pointer to the qname */
	assert_int_equal(tx[qlen + 1], 0x0C);
	assert_int_equal(info.rcode, 0);
	assert_int_equal(info.qtype, 12);
	assert_int_equal(info.qclass, 1);
	assert_int_equal(info.qname_len, sizeof qname_hit);
	assert_int_equal(info.flags, EVENT_RD);
	assert_true(info.in_zone);
	assert_false(info.truncated);
	assert_false(info.malformed);
}

static void test_answer_build_case_preserved(void **state)
{
	(void)state;
	static const uint8_t mixed[] = { 1, '1', 1, '0', 1, '1', 2, '1', '0', 7, 'I', 'n', '-',
					 'A', 'd', 'D', 'r', 4, 'A', 'R', 'p', 'A', 0 };
	uint8_t q[512];
	struct answer_info info;
	size_t qlen = mkq(q, 0, 1, 0, mixed, sizeof mixed, 12, 1);
	size_t n = build(q, qlen, ANSWER_UDP, &info);
	assert_int_equal(rcode_of(n), 0);
	assert_int_equal(count(1), 1);
	assert_memory_equal(tx + 12, mixed, sizeof mixed); /* 0x20 bits kept */
	assert_int_equal(tx[2] & 0x01, 0);                /* RD clear echoed */
	assert_int_equal(info.flags, 0);
	/* NXDOMAIN: the SOA owner points into the qname at "10.in-addr.arpa" */
	static const uint8_t nx[] = { 1, '7', 1, '7', 2, '1', '0', 7, 'i', 'n', '-', 'a', 'd', 'd',
				      'r', 4, 'a', 'r', 'p', 'a', 0 };
	qlen = mkq(q, 0, 1, 0, nx, sizeof nx, 12, 1);
	n = build(q, qlen, ANSWER_UDP, &info);
	assert_int_equal(rcode_of(n), 3);
	assert_int_equal(tx[qlen], 0xC0);
	assert_int_equal(tx[qlen + 1], 12 + 4);
}

static void test_answer_build_drops(void **state)
{
	(void)state;
	uint8_t q[512];
	struct answer_info info;
	size_t qlen = mkq(q, 0x8000, 1, 0, qname_hit, sizeof qname_hit, 12, 1);
	assert_int_equal(answer_build(zt, &conf, ANSWER_UDP, q, qlen, tx, sizeof tx, &info), 0);
	assert_true(info.malformed);
	assert_int_equal(answer_build(zt, &conf, ANSWER_UDP, q, 11, tx, sizeof tx, &info), 0);
	assert_int_equal(answer_build(zt, &conf, ANSWER_UDP, q, 0, tx, sizeof tx, &info), 0);
}

static void test_answer_build_notimp(void **state)
{
	(void)state;
	uint8_t q[512];
	struct answer_info info;
	for (unsigned op = 1; op < 16; op++) {
		size_t qlen = mkq(q, (uint16_t)(op << 11 | 0x0100), 1, 0, qname_hit,
				  sizeof qname_hit, 12, 1);
		size_t n = build(q, qlen, ANSWER_UDP, &info);
		assert_int_equal(rcode_of(n), 4);
		assert_int_equal((tx[2] >> 3) & 0xF, op); /* opcode echoed */
		assert_int_equal(count(0), 1);
		assert_int_equal(count(1) + count(2) + count(3), 0);
		assert_int_equal(n, qlen);
		assert_int_equal(tx[2] & 0x04, 0); /* no AA */
	}
	/* qtype 0: NOTIMP (as Knot) */
	size_t qlen = mkq(q, 0, 1, 0, qname_hit, sizeof qname_hit, 0, 1);
	assert_int_equal(rcode_of(build(q, qlen, ANSWER_UDP, &info)), 4);
}

static void expect_formerr(const uint8_t *q, size_t qlen, bool question, bool opt)
{
	struct answer_info info;
	size_t n = build(q, qlen, ANSWER_UDP, &info);
	assert_int_equal(rcode_of(n), 1);
	assert_true(info.malformed);
	assert_int_equal(info.rcode, 1);
	assert_int_equal(count(0), question ? 1 : 0);
	assert_int_equal(count(1) + count(2), 0);
	assert_int_equal(count(3), opt ? 1 : 0);
	assert_int_equal(tx[2] & 0x04, 0);
}

static void test_answer_build_formerr(void **state)
{
	(void)state;
	uint8_t q[1024];
	size_t n;

	/* no question / two questions */
	n = mkq(q, 0, 0, 0, qname_hit, 0, 0, 0) - 4;
	expect_formerr(q, n, false, false);
	n = mkq(q, 0, 2, 0, qname_hit, sizeof qname_hit, 12, 1);
	memcpy(q + n, q + 12, sizeof qname_hit + 4);
	expect_formerr(q, n + sizeof qname_hit + 4, false, false);

	/* a compression pointer in the qname */
	static const uint8_t ptr[] = { 1, 'a', 0xC0, 12 };
	n = mkq(q, 0, 1, 0, ptr, sizeof ptr, 12, 1);
	expect_formerr(q, n, false, false);
	/* label types 0x40 and 0x80 */
	static const uint8_t l40[] = { 0x41, 'a', 0 };
	n = mkq(q, 0, 1, 0, l40, sizeof l40, 12, 1);
	expect_formerr(q, n, false, false);
	/* a label over 63 bytes and a name over 255 bytes */
	uint8_t big[300];
	memset(big, 'a', sizeof big);
	big[0] = 64;
	big[65] = 0;
	n = mkq(q, 0, 1, 0, big, 66, 12, 1);
	expect_formerr(q, n, false, false);
	for (int i = 0; i < 5; i++)
		big[i * 52] = 51;
	big[260] = 0;
	n = mkq(q, 0, 1, 0, big, 261, 12, 1);
	expect_formerr(q, n, false, false);
	/* a name of exactly 255 bytes is fine (NXDOMAIN/REFUSED, not FORMERR) */
	for (int i = 0; i < 4; i++)
		big[i * 50] = 49;
	big[200] = 53;
	big[254] = 0;
	n = mkq(q, 0, 1, 0, big, 255, 12, 1);
	struct answer_info info;
	assert_int_equal(rcode_of(build(q, n, ANSWER_UDP, &info)), 5);
	assert_false(info.malformed);

	/* truncated question: name, then type/class */
	n = mkq(q, 0, 1, 0, qname_hit, sizeof qname_hit, 12, 1);
	expect_formerr(q, 12 + 5, false, false);
	expect_formerr(q, n - 2, false, false);

	/* trailing garbage after the question: FORMERR with the question (Knot) */
	q[n] = 0xDE;
	expect_formerr(q, n + 1, true, false);
	/* ARCOUNT says 1, nothing there */
	n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	expect_formerr(q, n, true, false);

	/* two OPTs */
	n = mkq(q, 0, 1, 2, qname_hit, sizeof qname_hit, 12, 1);
	n = put_opt(q, n, NULL, 0);
	n = put_opt(q, n, NULL, 0);
	expect_formerr(q, n, true, false);
	/* an OPT not owned by the root */
	n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	q[n++] = 1;
	q[n++] = 'a';
	n = put_opt(q, n, NULL, 0);
	expect_formerr(q, n, true, false);
	/* an OPT cut short; options overrunning the rdata */
	n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	n = put_opt(q, n, NULL, 0);
	expect_formerr(q, n - 3, true, false);
	static const uint8_t bad_opt[] = { 0, 10, 0, 8, 1, 2 };
	n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	n = put_opt(q, n, bad_opt, sizeof bad_opt);
	expect_formerr(q, n, true, false);
	/* an answer-section record cut short */
	n = mkq(q, 0, 1, 0, qname_hit, sizeof qname_hit, 12, 1);
	q[7] = 1; /* ANCOUNT */
	q[n++] = 0xC0;
	q[n++] = 12;
	q[n++] = 0;
	expect_formerr(q, n, true, false);
}

static void test_answer_build_sections_skipped(void **state)
{
	(void)state;
	uint8_t q[1024];
	struct answer_info info;
	/* an answer record (compressed owner) and an OPT: both parsed */
	size_t n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	q[7] = 1;
	static const uint8_t an[] = { 0xC0, 12, 0, 12, 0, 1, 0, 0, 0, 0, 0, 3, 1, 'x', 0 };
	memcpy(q + n, an, sizeof an);
	n += sizeof an;
	n = put_opt(q, n, NULL, 0);
	size_t r = build(q, n, ANSWER_UDP, &info);
	assert_int_equal(rcode_of(r), 0);
	assert_int_equal(count(1), 1);
	assert_int_equal(count(3), 1);
	assert_true(info.flags & EVENT_EDNS);
}

static void test_answer_build_ecs(void **state)
{
	(void)state;
	uint8_t q[1024];
	struct answer_info info;
	/* 192.0.2.0/24 */
	static const uint8_t ecs4[] = { 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2 };
	size_t n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	n = put_opt(q, n, ecs4, sizeof ecs4);
	size_t r = build(q, n, ANSWER_UDP, &info);
	assert_int_equal(rcode_of(r), 0);
	assert_true(info.flags & EVENT_ECS);
	assert_true(info.flags & EVENT_EDNS);
	assert_int_equal(info.ecs.family, AF_INET);
	assert_int_equal(info.ecs.prefix, 24);
	assert_int_equal(info.ecs.bytes[0], 192);
	assert_int_equal(info.ecs.bytes[2], 2);
	assert_int_equal(info.ecs.bytes[3], 0);
	/* the answer's OPT carries no option: ECS is not echoed */
	assert_int_equal(tx[r - 2], 0);
	assert_int_equal(tx[r - 1], 0);

	/* 2001:db8::/56, with an unknown option before it */
	static const uint8_t ecs6[] = { 0xFD, 0xE9, 0, 2, 0xAB, 0xCD, 0, 8, 0, 11, 0, 2, 56,
					0, 0x20, 1, 0x0D, 0xB8, 0, 0, 0 };
	n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	n = put_opt(q, n, ecs6, sizeof ecs6);
	r = build(q, n, ANSWER_UDP, &info);
	assert_int_equal(rcode_of(r), 0);
	assert_int_equal(info.ecs.family, AF_INET6);
	assert_int_equal(info.ecs.prefix, 56);
	assert_int_equal(info.ecs.bytes[1], 0x01);

	/* source prefix 0: valid, no address bytes */
	static const uint8_t ecs0[] = { 0, 8, 0, 4, 0, 1, 0, 0 };
	n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	n = put_opt(q, n, ecs0, sizeof ecs0);
	r = build(q, n, ANSWER_UDP, &info);
	assert_int_equal(rcode_of(r), 0);
	assert_int_equal(info.ecs.prefix, 0);

	/* malformed: FORMERR with our OPT (RFC 7871 7.1.1) */
	static const uint8_t bad[][12] = {
		{ 0, 8, 0, 7, 0, 3, 24, 0, 192, 0, 2 },    /* family 3 */
		{ 0, 8, 0, 7, 0, 1, 24, 8, 192, 0, 2 },    /* scope not 0 */
		{ 0, 8, 0, 7, 0, 1, 23, 0, 192, 0, 3 },    /* bits past the prefix */
		{ 0, 8, 0, 8, 0, 1, 16, 0, 192, 0, 2, 0 }, /* too many address bytes */
		{ 0, 8, 0, 7, 0, 1, 33, 0, 192, 0, 2 },    /* prefix over 32 */
		{ 0, 8, 0, 3, 0, 1, 0 },                   /* too short */
	};
	static const size_t blen[] = { 11, 11, 11, 12, 11, 7 };
	for (size_t i = 0; i < sizeof blen / sizeof blen[0]; i++) {
		n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
		n = put_opt(q, n, bad[i], blen[i]);
		expect_formerr(q, n, true, true);
		build(q, n, ANSWER_UDP, &info);
		assert_false(info.flags & EVENT_ECS);
	}
}

static void test_answer_build_nsid_unset(void **state)
{
	(void)state;
	struct answer_conf c = { .udp_max = 1232 };
	uint8_t q[512];
	struct answer_info info;
	static const uint8_t nsid_opt[] = { 0, 3, 0, 0 };
	size_t n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	n = put_opt(q, n, nsid_opt, sizeof nsid_opt);
	size_t r = answer_build(zt, &c, ANSWER_UDP, q, n, tx, sizeof tx, &info);
	assert_int_equal(rcode_of(r), 0);
	assert_int_equal(tx[r - 1], 0); /* OPT rdlength 0 */
	/* CHAOS with nothing configured: REFUSED */
	static const uint8_t vb[] = {7,	  'v', 'e', 'r', 's', 'i', 'o',
				     'n', 4,   'b', 'i', 'n', 'd', 0};
	n = mkq(q, 0, 1, 0, vb, sizeof vb, 16, 3);
	r = answer_build(zt, &c, ANSWER_UDP, q, n, tx, sizeof tx, &info);
	assert_int_equal(rcode_of(r), 5);
	assert_false(info.in_zone);
	/* no zone table at all: REFUSED */
	n = mkq(q, 0, 1, 0, qname_hit, sizeof qname_hit, 12, 1);
	r = answer_build(NULL, &c, ANSWER_UDP, q, n, tx, sizeof tx, &info);
	assert_int_equal(rcode_of(r), 5);
}

static void test_answer_build_udp_limits(void **state)
{
	(void)state;
	char name[] = "10.0.4.10.in-addr.arpa.";
	uint8_t q[512];
	struct answer_info info;
	struct dnsq_opts o = { .id = 7, .edns = true, .bufsize = 4096 };
	int qlen = dnsq_build(q, sizeof q, name, 12, &o);
	assert_true(qlen > 0);
	/* a server payload of 4096 lets 40 PTRs through */
	struct answer_conf big = conf;
	big.udp_max = 4096;
	size_t n = answer_build(zt, &big, ANSWER_UDP, q, (size_t)qlen, tx, sizeof tx, &info);
	assert_int_equal(count(1), 40);
	assert_true(n > 1232 && n <= 4096);
	assert_false(info.truncated);
	/* 1232: truncated to header + question + OPT */
	n = answer_build(zt, &conf, ANSWER_UDP, q, (size_t)qlen, tx, sizeof tx, &info);
	assert_true(info.truncated);
	assert_int_equal(n, (size_t)qlen);
	/* TCP: everything */
	n = answer_build(zt, &conf, ANSWER_TCP, q, (size_t)qlen, tx, sizeof tx, &info);
	assert_int_equal(count(1), 40);
	assert_false(info.truncated);
}

static void test_answer_build_info_in_zone(void **state)
{
	(void)state;
	uint8_t q[512];
	struct answer_info info;
	static const struct {
		const char *name;
		uint16_t type, cls;
		bool in_zone;
		uint16_t rcode;
	} cases[] = {
		{ "9.9.9.9.10.in-addr.arpa.", 12, 1, true, 3 },
		{ "20.10.in-addr.arpa.", 12, 1, true, 0 },
		{ "1.1.30.10.in-addr.arpa.", 12, 1, true, 0 },
		{ "1.0.0.11.in-addr.arpa.", 12, 1, false, 5 },
		{ "1.0.1.10.in-addr.arpa.", 12, 254, true, 5 },
		{ "10.in-addr.arpa.", 252, 1, true, 5 },
		{ "version.bind.", 16, 3, false, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dnsq_opts o = {
			.id = 9, .qclass = cases[i].cls, .edns = true, .do_bit = true};
		int qlen = dnsq_build(q, sizeof q, cases[i].name, cases[i].type, &o);
		assert_true(qlen > 0);
		size_t n = answer_build(zt, &conf, ANSWER_UDP, q, (size_t)qlen, tx, sizeof tx,
					&info);
		assert_true(n > 0);
		assert_int_equal(info.in_zone, cases[i].in_zone);
		assert_int_equal(info.rcode, cases[i].rcode);
		assert_int_equal(info.flags, EVENT_EDNS | EVENT_DO);
		assert_int_equal(info.qtype, cases[i].type);
		assert_int_equal(info.qclass, cases[i].cls);
	}
}

static void test_answer_build_large_referral(void **state)
{
	(void)state;
	uint8_t q[512];
	struct answer_info info;
	struct dnsq_opts o = { .id = 11, .edns = true };
	int qlen = dnsq_build(q, sizeof q, "1.many.40.in-addr.arpa.", 12, &o);
	assert_true(qlen > 0);
	/* UDP: the NS RRset alone does not fit */
	size_t n = answer_build(zt, &conf, ANSWER_UDP, q, (size_t)qlen, tx, sizeof tx, &info);
	assert_true(info.truncated);
	assert_int_equal(n, (size_t)qlen);
	/* TCP: 500 NS and 500 AAAA, over 16 KiB */
	n = answer_build(zt, &conf, ANSWER_TCP, q, (size_t)qlen, tx, sizeof tx, &info);
	assert_false(info.truncated);
	assert_true(n > 0x4000);
	struct dnsq_answer a;
	assert_int_equal(dnsq_parse(tx, n, &a), 0);
	assert_int_equal(a.count[1], 500);
	assert_int_equal(a.count[2], 500);
	for (size_t i = 0; i < a.count[2]; i++) {
		unsigned k = 0;
		unsigned x = 0;
		assert_int_equal(sscanf(a.rrs[2][i],
					"ns%u.many.40.in-addr.arpa. 3600 in aaaa 2001:db8:1::%x",
					&k, &x),
				 2);
		assert_int_equal(k, x);
	}
	dnsq_answer_free(&a);
}


/* ---- the fast path and the batch passes ---- */

/* The answer of the general builder for @q, and the one of the passes with
 * @p prepared (and prefetched) before; equal byte for byte and in info. */
static void expect_same(const uint8_t *q, size_t qlen, const struct answer_prep *p,
			const struct answer_conf *ac, enum answer_transport tr, const char *what)
{
	struct answer_info gi, fi;
	memset(&gi, 0x5A, sizeof gi);
	memset(&fi, 0xA5, sizeof fi);
	size_t gn = answer_build_general(zt, ac, tr, q, qlen, tx_general, sizeof tx_general, &gi);
	size_t fn = answer_build_prepared(zt, ac, tr, q, qlen, p, tx, sizeof tx, &fi);
	if (gn != fn || memcmp(tx, tx_general, gn) != 0 || memcmp(&gi, &fi, sizeof gi) != 0)
		fail_msg("%s: the passes answer %zu bytes, the general builder %zu", what, fn, gn);
}

/* How a query of the batch test is changed after dnsq_build(). */
enum mangle {
	MG_NONE,
	MG_UPPER,    /* qname in upper case */
	MG_COOKIE,   /* a COOKIE option in the OPT */
	MG_NSID,     /* an NSID option */
	MG_ECS,      /* an ECS option */
	MG_TRAILING, /* a byte after the message */
	MG_SHORT,    /* the last byte missing */
	MG_CD,       /* CD and AD set */
	MG_QR,       /* QR set: no answer */
	MG_MANGLES,
};

static size_t mangle_query(uint8_t *q, size_t n, enum mangle m)
{
	static const uint8_t cookie[] = { 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t nsid[] = { 0, 3, 0, 0 };
	static const uint8_t ecs[] = { 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2 };
	const uint8_t *opt = NULL;
	size_t olen = 0;
	switch (m) {
	case MG_UPPER:
		for (size_t i = 12; i < n && q[i] != 0; i += 1u + q[i]) {
			for (size_t k = i + 1; k <= i + q[i]; k++) {
				if (q[k] >= 'a' && q[k] <= 'z')
					q[k] = (uint8_t)(q[k] - 32);
			}
		}
		return n;
	case MG_COOKIE:
		opt = cookie;
		olen = sizeof cookie;
		break;
	case MG_NSID:
		opt = nsid;
		olen = sizeof nsid;
		break;
	case MG_ECS:
		opt = ecs;
		olen = sizeof ecs;
		break;
	case MG_TRAILING:
		q[n] = 0x77;
		return n + 1;
	case MG_SHORT:
		return n - 1;
	case MG_CD:
		q[3] |= 0x30;
		return n;
	case MG_QR:
		q[2] |= 0x80;
		return n;
	default:
		return n;
	}
	/* replace the empty OPT at the end by one with @opt */
	n -= 11;
	q[11] = 1;
	return put_opt(q, n, opt, olen);
}

static void test_answer_batch_equals_general(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		const char *type;
	} names[] = {
		{ "1.0.1.10.in-addr.arpa.", "PTR" },      /* a hit */
		{ "10.0.1.10.in-addr.arpa.", "PTR" },     /* three PTRs */
		{ "1.0.1.10.in-addr.arpa.", "A" },        /* NODATA */
		{ "0.1.10.in-addr.arpa.", "PTR" },        /* empty non-terminal */
		{ "9.9.0.1.10.in-addr.arpa.", "PTR" },    /* NXDOMAIN */
		{ "10.0.4.10.in-addr.arpa.", "PTR" },     /* 40 PTRs: TC over UDP */
		{ "10.in-addr.arpa.", "SOA" },            /* apex */
		{ "10.in-addr.arpa.", "NS" },             /* apex NS: additional section */
		{ "20.10.in-addr.arpa.", "PTR" },         /* a cut: referral */
		{ "20.10.in-addr.arpa.", "DS" },          /* DS at the cut */
		{ "ns1.20.10.in-addr.arpa.", "A" },       /* glue: below the cut */
		{ "5.3.3.10.in-addr.arpa.", "PTR" },      /* RFC 2317 CNAME */
		{ "1.2.5.10.in-addr.arpa.", "PTR" },      /* CNAME chain */
		{ "7.99.9.10.in-addr.arpa.", "PTR" },     /* wildcard */
		{ "1.99.9.10.in-addr.arpa.", "PTR" },     /* beside the wildcard */
		{ "1.1.5.10.in-addr.arpa.", "TXT" },      /* another type */
		{ "1.1.5.10.in-addr.arpa.", "ANY" },
		{ "1.4.5.10.in-addr.arpa.", "TYPE65534" },
		{ "2.4.5.10.in-addr.arpa.", "MX" },       /* additional section */
		{ "1.1.30.10.in-addr.arpa.", "PTR" },     /* the nested child zone */
		{ "30.10.in-addr.arpa.", "SOA" },
		{ "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "PTR" },
		{ "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "PTR" },
		{ "0.1.0.0.2.ip6.arpa.", "PTR" },         /* above every zone: REFUSED */
		{ "1.0.0.11.in-addr.arpa.", "PTR" },      /* out of zone */
		{ "version.bind.", "TXT" },
	};
	enum { PER = sizeof names / sizeof names[0] };
	static uint8_t qs[PER * MG_MANGLES * 3][600];
	static size_t qlens[PER * MG_MANGLES * 3];
	static struct answer_prep prep[PER * MG_MANGLES * 3];
	size_t nq = 0;
	for (size_t i = 0; i < PER; i++) {
		for (int m = 0; m < MG_MANGLES; m++) {
			for (int e = 0; e < 3; e++) {
				bool needs_opt = m == MG_COOKIE || m == MG_NSID || m == MG_ECS;
				if (needs_opt && e == 0)
					continue;
				struct dnsq_opts o = {
					.id = (uint16_t)nq, .rd = (i & 1) != 0, .edns = e > 0,
					.do_bit = e == 2, .bufsize = e == 2 ? 4096 : 0,
				};
				if (!strcmp(names[i].name, "version.bind."))
					o.qclass = 3;
				int n = dnsq_build(qs[nq], sizeof qs[nq] - 40, names[i].name,
						   dnsq_type(names[i].type), &o);
				assert_true(n > 0);
				qlens[nq] = mangle_query(qs[nq], (size_t)n, (enum mangle)m);
				nq++;
			}
		}
	}
	/* the three passes over the whole set, as a worker runs them */
	for (size_t i = 0; i < nq; i++)
		answer_prepare(zt, qs[i], qlens[i], &prep[i]);
	for (size_t i = 0; i < nq; i++)
		answer_prefetch(zt, &prep[i]);
	static const struct answer_conf small = { .udp_max = 512 };
	for (size_t i = 0; i < nq; i++) {
		char what[64];
		snprintf(what, sizeof what, "query %zu (%s %s)", i, names[i / (MG_MANGLES * 3)].name,
			 names[i / (MG_MANGLES * 3)].type);
		expect_same(qs[i], qlens[i], &prep[i], &conf, ANSWER_UDP, what);
		expect_same(qs[i], qlens[i], &prep[i], &conf, ANSWER_TCP, what);
		expect_same(qs[i], qlens[i], &prep[i], &small, ANSWER_UDP, what);
		expect_same(qs[i], qlens[i], &prep[i], NULL, ANSWER_UDP, what);
	}
	/* the prefetch pass may be left out */
	for (size_t i = 0; i < nq; i++) {
		struct answer_prep p;
		answer_prepare(zt, qs[i], qlens[i], &p);
		expect_same(qs[i], qlens[i], &p, &conf, ANSWER_UDP, "without prefetch");
	}
	/* and every cut of one query */
	for (size_t len = 0; len <= qlens[0]; len++) {
		struct answer_prep p;
		answer_prepare(zt, qs[0], len, &p);
		answer_prefetch(zt, &p);
		expect_same(qs[0], len, &p, &conf, ANSWER_UDP, "cut short");
	}
}

/* Queries whose qname the fast path does not walk: it takes the rest of the
 * message as the qname's end, and finds the zone by its last bytes. */
static void test_answer_fast_path_guesses(void **state)
{
	(void)state;
	uint8_t q[1024];
	struct answer_prep p;
	struct answer_info info;
	size_t n;

	/* an apex of a deeper zone inside a label: "a\x02" "30" . 10.in-addr.arpa
	 * ends with the bytes of 30.10.in-addr.arpa, but lies in 10.in-addr.arpa */
	static const uint8_t inside[] = { 4, 'a', 2, '3', '0', 2, '1', '0', 7, 'i', 'n', '-', 'a',
					  'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0 };
	n = mkq(q, 0, 1, 0, inside, sizeof inside, 12, 1);
	answer_prepare(zt, q, n, &p);
	answer_prefetch(zt, &p);
	expect_same(q, n, &p, &conf, ANSWER_UDP, "apex bytes inside a label");
	assert_int_equal(rcode_of(answer_build(zt, &conf, ANSWER_UDP, q, n, tx, sizeof tx, &info)),
			 3);
	/* the SOA of 10.in-addr.arpa, owned by the qname's last three labels */
	assert_int_equal(tx[n], 0xC0);
	assert_int_equal(tx[n + 1], 12 + 5);

	/* a hit whose qname ends early: the guessed name is no node's */
	n = mkq(q, 0, 1, 0, qname_hit, sizeof qname_hit, 12, 1);
	q[n] = 0;
	answer_prepare(zt, q, n + 1, &p);
	answer_prefetch(zt, &p);
	expect_same(q, n + 1, &p, &conf, ANSWER_UDP, "trailing zero");
	assert_int_equal(rcode_of(answer_build(zt, &conf, ANSWER_UDP, q, n + 1, tx, sizeof tx,
					       &info)),
			 1);

	/* an empty OPT at the end but two records in the additional section
	 * counted as one */
	n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	static const uint8_t txt_rr[] = { 0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 1, 0 };
	memcpy(q + n, txt_rr, sizeof txt_rr);
	n = put_opt(q, n + sizeof txt_rr, NULL, 0);
	answer_prepare(zt, q, n, &p);
	answer_prefetch(zt, &p);
	expect_same(q, n, &p, &conf, ANSWER_UDP, "record before the OPT");

	/* an OPT that looks empty at the end of a qname with a compression
	 * pointer */
	static const uint8_t ptr[] = { 1, 'a', 0xC0, 12 };
	n = mkq(q, 0, 1, 1, ptr, sizeof ptr, 12, 1);
	n = put_opt(q, n, NULL, 0);
	answer_prepare(zt, q, n, &p);
	answer_prefetch(zt, &p);
	expect_same(q, n, &p, &conf, ANSWER_UDP, "compression pointer");

	/* EDNS version 1: BADVERS, from the general builder */
	n = mkq(q, 0, 1, 1, qname_hit, sizeof qname_hit, 12, 1);
	n = put_opt(q, n, NULL, 0);
	q[n - 5] = 1;
	answer_prepare(zt, q, n, &p);
	expect_same(q, n, &p, &conf, ANSWER_UDP, "EDNS version 1");

	/* mixed case and an OPT with DO: the fast path's answer */
	static const uint8_t mixed[] = { 1, '1', 1, '0', 1, '1', 2, '1', '0', 7, 'I', 'N', '-',
					 'a', 'D', 'd', 'R', 4, 'A', 'r', 'p', 'A', 0 };
	n = mkq(q, 0x0100, 1, 1, mixed, sizeof mixed, 12, 1);
	n = put_opt(q, n, NULL, 0);
	q[n - 4] = 0x80; /* DO */
	answer_prepare(zt, q, n, &p);
	answer_prefetch(zt, &p);
	expect_same(q, n, &p, &conf, ANSWER_UDP, "mixed case with DO");
	size_t r = answer_build(zt, &conf, ANSWER_UDP, q, n, tx, sizeof tx, &info);
	assert_int_equal(rcode_of(r), 0);
	assert_int_equal(count(1), 1);
	assert_int_equal(count(3), 1);
	assert_memory_equal(tx + 12, mixed, sizeof mixed);
	assert_int_equal(info.flags, EVENT_RD | EVENT_EDNS | EVENT_DO);
	assert_int_equal(tx[r - 4], 0x80); /* DO echoed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_build_golden),
		cmocka_unit_test(test_answer_build_hit_raw),
		cmocka_unit_test(test_answer_build_case_preserved),
		cmocka_unit_test(test_answer_build_drops),
		cmocka_unit_test(test_answer_build_notimp),
		cmocka_unit_test(test_answer_build_formerr),
		cmocka_unit_test(test_answer_build_sections_skipped),
		cmocka_unit_test(test_answer_build_ecs),
		cmocka_unit_test(test_answer_build_nsid_unset),
		cmocka_unit_test(test_answer_build_udp_limits),
		cmocka_unit_test(test_answer_build_info_in_zone),
		cmocka_unit_test(test_answer_build_large_referral),
		cmocka_unit_test(test_answer_batch_equals_general),
		cmocka_unit_test(test_answer_fast_path_guesses),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
