/* tests/unit/tools/test_crosscheck.c — tools/crosscheck.c: the detections
 * parser (JSON array, JSON objects, CSV; every error names the file, line and
 * column), window overlap edges, the address-space and time restriction, the
 * join, and the metrics on a hand-computed example.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "common/err.h"
#include "tools/crosscheck.h"

#define H 1795341600ull /* 2026-11-22T10:00:00Z */

static char err[512];

static int parse(struct xc_detections *d, const char *text)
{
	memset(d, 0, sizeof *d);
	return xc_detections_parse(d, "det.txt", text, strlen(text), err, sizeof err);
}

/* The parse fails with a message starting with @where and holding @what. */
static void bad(const char *text, const char *where, const char *what)
{
	struct xc_detections d;
	int rc = parse(&d, text);
	if (rc != BSC_EMALF || strncmp(err, where, strlen(where)) != 0 || !strstr(err, what))
		fail_msg("input [%s]: rc %d, message [%s], want [%s ... %s]", text, rc, err, where,
			 what);
	xc_detections_free(&d);
}

static void test_parse_json(void **state)
{
	(void)state;
	struct xc_detections d;
	assert_int_equal(parse(&d, "\xef\xbb\xbf[\n"
				   " {\"address\": \"10.0.0.1\", \"window_start\": "
				   "\"2026-11-22T10:00:00Z\", \"class\": \"scan-ssh\", "
				   "\"score\": 0.5},\n"
				   " {\"address\": \"2001:db8::1\", \"window_start\": 1795341600, "
				   "\"window_end\": 1795345200.0, \"class\": \"spam\", "
				   "\"x\": [1, {}]}\n"
				   "]\n"),
			 0);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.v[0].start_s, H);
	assert_int_equal(d.v[0].end_s, 0);
	assert_true(d.v[0].has_score);
	assert_true(d.v[0].score == 0.5);
	assert_string_equal(d.v[0].cls, "scan-ssh");
	assert_int_equal(d.v[0].line, 2);
	assert_int_equal(d.v[1].addr.family, AF_INET6);
	assert_int_equal(d.v[1].end_s, H + 3600);
	assert_false(d.v[1].has_score);
	assert_int_equal(d.v[1].line, 3);
	xc_detections_free(&d);

	/* objects one after another, one spread over lines; reverse names and
	 * numeric strings accepted; null score and window_end ignored */
	assert_int_equal(parse(&d, "{\"address\":\"1.2.0.192.in-addr.arpa\",\"window_start\":"
				   "\"1795341600\",\"class\":\"a\",\"score\":null,"
				   "\"window_end\":null}\n\n{\n\"address\":\"10.0.0.2\",\n"
				   "\"window_start\":\"2026-11-22\",\"class\":\"b\"}"),
			 0);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.v[0].addr.bytes[0], 192);
	assert_int_equal(d.v[0].start_s, H);
	assert_int_equal(d.v[1].line, 3);
	assert_int_equal(d.v[1].start_s, H - 10 * 3600);
	xc_detections_free(&d);

	assert_int_equal(parse(&d, "[]"), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(parse(&d, " \n\t"), 0);
	assert_int_equal(d.n, 0);
}

static void test_parse_csv(void **state)
{
	(void)state;
	struct xc_detections d;
	assert_int_equal(parse(&d, "# made by hand\r\n"
				   "score , class,address,window_start,window_end,note\r\n"
				   "0.25,scan-ssh,10.0.0.1,2026-11-22T10:00:00Z,,"
				   "\"x, \"\"y\"\"\"\r\n"
				   "\r\n"
				   ",\"spam\",2001:db8::1,1795341600,1795342000,z\n"),
			 0);
	assert_int_equal(d.n, 2);
	assert_true(d.v[0].has_score && d.v[0].score == 0.25);
	assert_int_equal(d.v[0].line, 3);
	assert_int_equal(d.v[0].end_s, 0);
	assert_false(d.v[1].has_score);
	assert_string_equal(d.v[1].cls, "spam");
	assert_int_equal(d.v[1].end_s, 1795342000);
	assert_int_equal(d.v[1].line, 5);
	xc_detections_free(&d);
}

static void test_parse_errors(void **state)
{
	(void)state;
	/* JSON syntax: position of the damage */
	bad("[\n {\"address\": \"10.0.0.1\",, }\n]", "det.txt:2:", "");
	bad("[{\"address\": \"10.0.0.1\", \"window_start\": 1, \"class\": \"a\"} x]",
	    "det.txt:1:59:", "expected ',' or ']'");
	bad("[{\"address\": \"10.0.0.1\", \"window_start\": 1, \"class\": \"a\"},",
	    "det.txt:1:", "end of file inside the array");
	bad("[{\"address\": \"10.0.0.1\", \"window_start\": 1, \"class\": \"a\"}] junk",
	    "det.txt:1:", "unexpected data after the array");
	bad("[1]", "det.txt:1:2:", "expected an object, found int");
	bad("{\"a\": 'x'}", "det.txt:1:", "");
	/* fields: the line of the object */
	bad("[\n{\"address\": \"10.0.0.1\", \"window_start\": 1, \"class\": \"a\"},\n"
	    "{\"address\": \"10.0.0.300\", \"window_start\": 1, \"class\": \"a\"}]",
	    "det.txt:3:1:", "address '10.0.0.300'");
	bad("{\"window_start\": 1, \"class\": \"a\"}", "det.txt:1:1:", "no \"address\"");
	bad("{\"address\": 5, \"window_start\": 1, \"class\": \"a\"}", "det.txt:1:1:",
	    "\"address\": expected a string");
	bad("{\"address\": \"10.0.0.0/8\", \"window_start\": 1, \"class\": \"a\"}", "det.txt:1:1:",
	    "address '10.0.0.0/8'");
	bad("{\"address\": \"10.0.0.1\", \"class\": \"a\"}", "det.txt:1:1:", "no \"window_start\"");
	bad("{\"address\": \"10.0.0.1\", \"window_start\": -1, \"class\": \"a\"}", "det.txt:1:1:",
	    "out of range");
	bad("{\"address\": \"10.0.0.1\", \"window_start\": \"now\", \"class\": \"a\"}",
	    "det.txt:1:1:", "window_start 'now'");
	bad("{\"address\": \"10.0.0.1\", \"window_start\": true, \"class\": \"a\"}",
	    "det.txt:1:1:", "window_start: expected");
	bad("{\"address\": \"10.0.0.1\", \"window_start\": 100, \"window_end\": 100, "
	    "\"class\": \"a\"}", "det.txt:1:1:", "window_end is not after window_start");
	bad("{\"address\": \"10.0.0.1\", \"window_start\": 1, \"class\": \"\"}", "det.txt:1:1:",
	    "class ''");
	bad("{\"address\": \"10.0.0.1\", \"window_start\": 1, \"class\": \"a b\"}", "det.txt:1:1:",
	    "only letters");
	bad("{\"address\": \"10.0.0.1\", \"window_start\": 1, \"class\": \"none\"}", "det.txt:1:1:",
	    "reserved");
	bad("{\"address\": \"10.0.0.1\", \"window_start\": 1, \"class\": "
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "det.txt:1:1:",
	    "1 to 47 characters");
	bad("{\"address\": \"10.0.0.1\", \"window_start\": 1, \"class\": \"a\", \"score\": \"1\"}",
	    "det.txt:1:1:", "\"score\": expected a number");
	bad("{\"address\": \"10.0.0.1\", \"window_start\": 1, \"class\": \"a\"}\n[]",
	    "det.txt:2:1:", "expected an object, found array");
	/* CSV */
	bad("address,class\n", "det.txt:1:1:", "the header must name the columns");
	bad("address,window_start,class,address\n", "det.txt:1:1:", "column 'address' twice");
	bad("# only a comment\n", "det.txt:", "no header line");
	bad("address,window_start,class\n10.0.0.1,1\n", "det.txt:2:1:",
	    "2 fields, the header has 3");
	bad("address,window_start,class\n\n10.0.0.1,1,\"a\n", "det.txt:3:12:",
	    "unterminated quote");
	bad("address,window_start,class\n10.0.0.1,1,\"a\"b\n", "det.txt:2:15:",
	    "text after a closing quote");
	bad("address,window_start,class\n10.0.0.1,1,a\"b\n", "det.txt:2:13:",
	    "quote inside an unquoted field");
	bad("address,window_start,class,score\n10.0.0.1,1,a,high\n", "det.txt:2:1:",
	    "score 'high'");
	bad("address,window_start,class\n10.0.0.1,2026-13-01,a\n", "det.txt:2:1:",
	    "window_start '2026-13-01'");
	/* not text */
	struct xc_detections d;
	memset(&d, 0, sizeof d);
	assert_int_equal(xc_detections_parse(&d, "det.txt", "[\n{\0}", 5, err, sizeof err),
			 BSC_EMALF);
	assert_string_equal(err, "det.txt:2:2: NUL byte (not a text file)");
	/* a missing file */
	assert_true(xc_detections_load(&d, "/nonexistent/det.json", err, sizeof err) < 0);
	assert_non_null(strstr(err, "/nonexistent/det.json: cannot open"));
}

static void test_overlap(void **state)
{
	(void)state;
	assert_true(xc_overlap(0, 10, 5, 15));
	assert_true(xc_overlap(5, 15, 0, 10));
	assert_true(xc_overlap(0, 10, 9, 10));
	assert_true(xc_overlap(0, 10, 0, 10));
	assert_true(xc_overlap(2, 3, 0, 10));
	assert_false(xc_overlap(0, 10, 10, 20)); /* touching: no shared second */
	assert_false(xc_overlap(10, 20, 0, 10));
	assert_false(xc_overlap(0, 10, 11, 20));
}

/* ---- the join ---- */

static struct xc_label lab(const char *addr, uint64_t start, uint32_t len, enum dk_class cls,
			   enum dk_proto proto, uint16_t port, uint64_t queriers)
{
	struct store_label l;
	struct xc_label x;

	memset(&l, 0, sizeof l);
	assert_int_equal(addr_parse(&l.source, addr, false), 0);
	l.bucket_s = start;
	l.window_start_s = start;
	l.window_len_s = len;
	l.cls = (uint8_t)cls;
	l.protocol = (uint8_t)proto;
	l.nports = 1;
	l.ports[0] = port;
	xc_label_make(&x, &l, queriers, NULL);
	return x;
}

static struct xc_detection det(const char *addr, uint64_t start, uint64_t end, const char *cls)
{
	struct xc_detection d;

	memset(&d, 0, sizeof d);
	assert_int_equal(addr_parse(&d.addr, addr, false), 0);
	d.start_s = start;
	d.end_s = end;
	snprintf(d.cls, sizeof d.cls, "%s", cls);
	return d;
}

static uint64_t cell(const struct xc_result *r, const char *row, const char *col)
{
	for (size_t i = 0; i < XC_ROWS; i++) {
		if (strcmp(xc_row_name(i), row) != 0)
			continue;
		for (size_t c = 0; c < r->ncols; c++)
			if (strcmp(r->cols[c], col) == 0)
				return r->counts[i * r->ncols + c];
	}
	return UINT64_MAX;
}

static const struct xc_class_metrics *cls(const struct xc_result *r, const char *name)
{
	for (size_t i = 0; i < r->nclasses; i++)
		if (strcmp(r->classes[i].name, name) == 0)
			return &r->classes[i];
	fail_msg("no class %s", name);
	return NULL;
}

static void near(double a, double b)
{
	if (fabs(a - b) > 1e-9)
		fail_msg("%.12f != %.12f", a, b);
}

static void test_restriction_and_edges(void **state)
{
	(void)state;
	struct bsc_addr space[2];
	assert_int_equal(addr_parse(&space[0], "10.20.0.0/16", false), 0);
	assert_int_equal(addr_parse(&space[1], "2001:db8::/32", false), 0);
	struct xc_scope sc = { .prefixes = space, .nprefixes = 2, .window_s = 3600 };
	struct xc_label l[] = {
		lab("10.20.0.1", H, 3600, DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 22, 0),
		lab("10.21.0.1", H, 3600, DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 22, 0),
		lab("2001:db8::5", H, 3600, DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 22, 0),
		lab("2001:db9::5", H, 3600, DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 22, 0),
	};
	struct xc_detection d[] = {
		det("10.20.0.1", H - 3600, 0, "scan-ssh"),   /* ends as the label starts */
		det("10.20.0.1", H + 3600, 0, "scan-ssh"),   /* starts as it ends */
		det("10.20.0.1", H + 3599, H + 3600, "scan-ssh"), /* the last second */
		det("10.21.0.1", H, 0, "scan-ssh"),          /* outside the space */
		det("2001:db8::5", H - 100, 0, "scan-ssh"),  /* overlaps 3500 s */
		det("2001:db9::5", H, 0, "scan-ssh"),
	};
	struct xc_result r;

	sc.nprefixes = 0;
	assert_int_equal(xc_run(&sc, d, 6, l, 4, &r), BSC_EINVAL);
	sc.nprefixes = 2;
	assert_int_equal(xc_run(&sc, d, 6, l, 4, &r), 0);
	assert_int_equal(r.det.read, 6);
	assert_int_equal(r.det.outside_space, 2);
	assert_int_equal(r.lab.outside_space, 2);
	assert_int_equal(r.npairs, 4);
	assert_int_equal(cell(&r, "scan-ssh", "scan-ssh"), 2);
	assert_int_equal(cell(&r, "none", "scan-ssh"), 2);
	assert_int_equal(r.overall.tp, 2);
	assert_int_equal(r.overall.fp, 2);
	/* pairs in address order, then window */
	assert_int_equal(r.pairs[0].det->start_s, H - 3600);
	assert_null(r.pairs[0].label);
	assert_int_equal(r.pairs[1].det->start_s, H + 3599);
	assert_non_null(r.pairs[1].label);
	assert_int_equal(r.pairs[2].det->start_s, H + 3600);
	assert_int_equal(r.pairs[3].det->addr.family, AF_INET6);
	assert_int_equal(r.pairs[3].det_end_s, H - 100 + 3600);
	xc_result_free(&r);

	/* a shorter DNS window: the IPv6 detection ends before the label */
	sc.window_s = 100;
	assert_int_equal(xc_run(&sc, d, 6, l, 4, &r), 0);
	assert_int_equal(cell(&r, "scan-ssh", "scan-ssh"), 1);
	assert_int_equal(cell(&r, "scan-ssh", "none"), 1);
	xc_result_free(&r);

	/* time range: windows ending after since, starting before until */
	sc.window_s = 3600;
	sc.since_s = H;
	sc.until_s = H + 3600;
	assert_int_equal(xc_run(&sc, d, 6, l, 4, &r), 0);
	assert_int_equal(r.det.outside_time, 2); /* H-3600 ends at H; H+3600 starts at until */
	assert_int_equal(r.npairs, 2);
	xc_result_free(&r);
}

/* The example of docs/cli.md, computed by hand. */
static void test_metrics(void **state)
{
	(void)state;
	struct bsc_addr space;
	assert_int_equal(addr_parse(&space, "10.0.0.0/8", false), 0);
	struct xc_scope sc = { .prefixes = &space, .nprefixes = 1, .window_s = 3600 };
	struct xc_label l[] = {
		/* ssh, ssh, telnet, victim, ambiguous, few queriers, scan-port, other */
		lab("10.0.0.1", H, 3600, DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 22, 0),
		lab("10.0.0.2", H, 3600, DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 22, 0),
		lab("10.0.0.3", H, 3600, DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 23, 0),
		lab("10.0.0.4", H, 3600, DK_CLASS_BACKSCATTER, DK_PROTO_TCP, 80, 0),
		lab("10.0.0.5", H, 3600, DK_CLASS_ONE_FLOW, DK_PROTO_TCP, 80, 0),
		lab("10.0.0.6", H, 3600, DK_CLASS_PORT_SCAN, DK_PROTO_TCP, 80, 3),
		lab("10.0.0.7", H, 3600, DK_CLASS_PORT_SCAN, DK_PROTO_TCP, 80, 30),
		lab("10.0.0.8", H, 3600, DK_CLASS_NETWORK_SCAN, DK_PROTO_UDP, 161, 0),
		lab("10.0.0.2", H + 7200, 3600, DK_CLASS_NETWORK_SCAN, DK_PROTO_ICMP, 8, 0),
	};
	struct xc_detection d[] = {
		det("10.0.0.1", H, 0, "scan-ssh"),
		det("10.0.0.2", H + 1800, 0, "scan-ssh"),
		det("10.0.0.3", H, 0, "scan-ssh"),
		det("10.0.0.4", H, 0, "scan-ssh"),
		det("10.0.0.5", H, 0, "scan-ssh"),        /* only ambiguous: left out */
		det("10.0.0.7", H, 0, "spam"),
		det("10.0.0.8", H, 0, "scan"),            /* generic: agrees */
		det("10.0.0.9", H, 0, "mail"),
		det("10.0.0.2", H + 7200, H + 10800, "scan-icmp"),
	};
	struct xc_result r;
	assert_int_equal(xc_run(&sc, d, 9, l, 9, &r), 0);
	/*           scan scan-icmp scan-ssh mail spam none
	 * scan-icmp    0    1         0       0    0    0
	 * scan-ssh     0    0         2       0    0    0
	 * scan-telnet  0    0         1       0    0    0
	 * scan-other   1    0         0       0    0    0
	 * scan-port    0    0         0       0    1    0
	 * ddos-victim  0    0         1       0    0    0
	 * none         0    0         0       1    0    0 */
	assert_int_equal(r.ncols, 6);
	assert_string_equal(r.cols[0], "mail");
	assert_string_equal(r.cols[1], "scan");
	assert_string_equal(r.cols[5], "none");
	assert_int_equal(r.npairs, 8);
	assert_int_equal(cell(&r, "scan-ssh", "scan-ssh"), 2);
	assert_int_equal(cell(&r, "scan-telnet", "scan-ssh"), 1);
	assert_int_equal(cell(&r, "ddos-victim", "scan-ssh"), 1);
	assert_int_equal(cell(&r, "scan-icmp", "scan-icmp"), 1);
	assert_int_equal(cell(&r, "scan-other", "scan"), 1);
	assert_int_equal(cell(&r, "scan-port", "spam"), 1);
	assert_int_equal(cell(&r, "none", "mail"), 1);
	assert_int_equal(cell(&r, "scan-smb", "none"), 0);
	assert_int_equal(r.lab.ambiguous, 2);
	assert_int_equal(r.few_queriers, 1);
	assert_int_equal(r.lab.used, 7);
	assert_int_equal(r.det.ambiguous, 1);
	assert_int_equal(r.det.used, 8);

	/* scan-ssh: tp 2, fp 2 (telnet, victim), fn 0 */
	const struct xc_class_metrics *c = cls(&r, "scan-ssh");
	assert_int_equal(c->m.tp, 2);
	assert_int_equal(c->m.fp, 2);
	assert_int_equal(c->m.fn, 0);
	assert_int_equal(c->m.support, 2);
	assert_int_equal(c->predicted, 4);
	near(c->m.precision, 0.5);
	near(c->m.recall, 1.0);
	near(c->m.f1, 2.0 / 3.0);
	/* scan-telnet: never detected: precision undefined, recall 0, f1 0 */
	c = cls(&r, "scan-telnet");
	assert_true(isnan(c->m.precision));
	near(c->m.recall, 0.0);
	near(c->m.f1, 0.0);
	/* a class nobody has: everything undefined */
	c = cls(&r, "scan-smb");
	assert_true(isnan(c->m.precision) && isnan(c->m.recall) && isnan(c->m.f1));
	/* mail: no label of that class: recall undefined, precision 0 */
	c = cls(&r, "mail");
	near(c->m.precision, 0.0);
	assert_true(isnan(c->m.recall));
	/* the definite labels first, in row order, then the other classes */
	assert_int_equal(r.nclasses, 7 + 3);
	assert_string_equal(r.classes[0].name, "scan-icmp");
	assert_string_equal(r.classes[6].name, "ddos-victim");
	assert_string_equal(r.classes[7].name, "mail");
	assert_string_equal(r.classes[9].name, "spam");

	/* two-class: tp = ssh x2, telnet, icmp, other = 5; fn = port/spam = 1;
	 * fp = victim/ssh = 1; tn = none/mail = 1 */
	assert_int_equal(r.overall.tp, 5);
	assert_int_equal(r.overall.fn, 1);
	assert_int_equal(r.overall.fp, 1);
	assert_int_equal(r.tn, 1);
	near(r.overall.precision, 5.0 / 6.0);
	near(r.overall.recall, 5.0 / 6.0);
	near(r.overall.f1, 5.0 / 6.0);
	near(r.accuracy, 6.0 / 8.0);
	/* disagreements: telnet/ssh, port/spam, victim/ssh (not other/scan) */
	assert_int_equal(r.ndisagree, 3);
	for (size_t i = 0; i < r.npairs; i++) {
		const struct xc_pair *p = &r.pairs[i];
		bool want = p->label && (p->label->map.label == LM_SCAN_TELNET ||
					 p->label->map.label == LM_SCAN_PORT ||
					 p->label->map.label == LM_DDOS_VICTIM);
		assert_int_equal(p->disagree, want);
	}
	xc_result_free(&r);

	/* nothing at all */
	assert_int_equal(xc_run(&sc, NULL, 0, NULL, 0, &r), 0);
	assert_int_equal(r.npairs, 0);
	assert_int_equal(r.ncols, 1);
	assert_true(isnan(r.overall.precision) && isnan(r.accuracy));
	xc_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_json),
		cmocka_unit_test(test_parse_csv),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_restriction_and_edges),
		cmocka_unit_test(test_metrics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
