/* tests/unit/detector/test_labelmap.c — every row of the darknet class to
 * training label table (spec §4.3): the network-scan services by hint and by
 * port, scan-other keeping its port, scan-port at the querier threshold,
 * ddos-victim, the ambiguous classes; names, parsing, the scan predicates.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "common/err.h"
#include "common/store.h"
#include "detector/labelmap.h"

static struct lm_result map(enum dk_class cls, enum dk_proto proto, enum dk_service svc,
			    int port, uint64_t queriers)
{
	struct lm_input in = { .cls = cls, .protocol = proto, .service = svc };
	struct lm_result r;

	if (port >= 0) {
		in.port = (uint16_t)port;
		in.has_port = true;
	}
	labelmap_map(&in, queriers, NULL, &r);
	return r;
}

static void test_network_scan_services(void **state)
{
	(void)state;
	/* by the labeler's service hint */
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_ICMP, DK_SERVICE_ICMP, 8, 0).label,
			 LM_SCAN_ICMP);
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, DK_SERVICE_SSH, 22, 0).label,
			 LM_SCAN_SSH);
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, DK_SERVICE_TELNET, 2323, 0).label,
			 LM_SCAN_TELNET);
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, DK_SERVICE_SMB, 445, 0).label,
			 LM_SCAN_SMB);
	/* by protocol and port when there is no hint */
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 0, 22, 0).label, LM_SCAN_SSH);
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 0, 23, 0).label, LM_SCAN_TELNET);
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 0, 2323, 0).label,
			 LM_SCAN_TELNET);
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 0, 445, 0).label, LM_SCAN_SMB);
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_ICMP, 0, 8, 0).label, LM_SCAN_ICMP);
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_ICMPV6, 0, 128, 0).label,
			 LM_SCAN_ICMP);
	/* the ssh/telnet/smb ports count for TCP only */
	struct lm_result r = map(DK_CLASS_NETWORK_SCAN, DK_PROTO_UDP, 0, 22, 0);
	assert_int_equal(r.label, LM_SCAN_OTHER);
	assert_int_equal(r.protocol, DK_PROTO_UDP);
	assert_int_equal(r.port, 22);
	assert_int_equal(r.why, LM_WHY_NONE);
	/* the hint wins over the port */
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, DK_SERVICE_SMB, 80, 0).label,
			 LM_SCAN_SMB);
	/* size does not matter; the queriers neither */
	assert_int_equal(map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 0, 22, 1000).label, LM_SCAN_SSH);
}

static void test_scan_other_keeps_port(void **state)
{
	(void)state;
	struct lm_result r = map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 0, 8080, 0);
	assert_int_equal(r.label, LM_SCAN_OTHER);
	assert_int_equal(r.protocol, DK_PROTO_TCP);
	assert_int_equal(r.port, 8080);
	r = map(DK_CLASS_NETWORK_SCAN, DK_PROTO_UDP, 0, 53, 0);
	assert_int_equal(r.label, LM_SCAN_OTHER);
	assert_int_equal(r.port, 53);
	/* no port at all (a protocol without ports) */
	r = map(DK_CLASS_NETWORK_SCAN, DK_PROTO_OTHER, 0, -1, 0);
	assert_int_equal(r.label, LM_SCAN_OTHER);
	assert_int_equal(r.protocol, DK_PROTO_OTHER);
	assert_int_equal(r.port, 0);
	/* other labels carry no port */
	r = map(DK_CLASS_NETWORK_SCAN, DK_PROTO_TCP, 0, 22, 0);
	assert_int_equal(r.port, 0);
}

static void test_port_scan_threshold(void **state)
{
	(void)state;
	struct lm_result r = map(DK_CLASS_PORT_SCAN, DK_PROTO_TCP, 0, 80, 9);
	assert_int_equal(r.label, LM_AMBIGUOUS);
	assert_int_equal(r.why, LM_WHY_FEW_QUERIERS);
	r = map(DK_CLASS_PORT_SCAN, DK_PROTO_TCP, 0, 80, 10);
	assert_int_equal(r.label, LM_SCAN_PORT);
	assert_int_equal(r.why, LM_WHY_NONE);
	assert_int_equal(map(DK_CLASS_PORT_SCAN, DK_PROTO_TCP, 0, 80, 0).label, LM_AMBIGUOUS);
	/* a port scan of port 22 is still a port scan */
	assert_int_equal(map(DK_CLASS_PORT_SCAN, DK_PROTO_TCP, DK_SERVICE_SSH, 22, 11).label,
			 LM_SCAN_PORT);

	struct lm_opts o;
	struct lm_input in = { .cls = DK_CLASS_PORT_SCAN, .protocol = DK_PROTO_TCP };
	labelmap_opts_default(&o);
	assert_int_equal(o.port_scan_min_queriers, 10);
	o.port_scan_min_queriers = 3;
	labelmap_map(&in, 2, &o, &r);
	assert_int_equal(r.label, LM_AMBIGUOUS);
	labelmap_map(&in, 3, &o, &r);
	assert_int_equal(r.label, LM_SCAN_PORT);
	o.port_scan_min_queriers = 0;
	labelmap_map(&in, 0, &o, &r);
	assert_int_equal(r.label, LM_SCAN_PORT);
}

static void test_backscatter_and_ambiguous(void **state)
{
	(void)state;
	struct lm_result r = map(DK_CLASS_BACKSCATTER, DK_PROTO_TCP, 0, 80, 1000);
	assert_int_equal(r.label, LM_DDOS_VICTIM);
	assert_false(labelmap_is_scan(r.label));
	assert_true(labelmap_is_definite(r.label));
	static const enum dk_class amb[] = { DK_CLASS_IP_FRAGMENT, DK_CLASS_ONE_FLOW,
					     DK_CLASS_SMALL_SYN,   DK_CLASS_SMALL_UDP,
					     DK_CLASS_SMALL_PING,  DK_CLASS_OTHER,
					     (enum dk_class)99 };
	for (size_t i = 0; i < sizeof amb / sizeof amb[0]; i++) {
		r = map(amb[i], DK_PROTO_TCP, DK_SERVICE_SSH, 22, 1000);
		assert_int_equal(r.label, LM_AMBIGUOUS);
		assert_int_equal(r.why, LM_WHY_CLASS);
		assert_false(labelmap_is_definite(r.label));
	}
}

static void test_inputs(void **state)
{
	(void)state;
	struct store_label l;
	struct lm_input in;
	struct lm_result r;

	memset(&l, 0, sizeof l);
	l.cls = DK_CLASS_NETWORK_SCAN;
	l.protocol = DK_PROTO_TCP;
	l.nports = 2;
	l.ports[0] = 23;
	l.ports[1] = 80;
	labelmap_input_label(&l, &in);
	assert_true(in.has_port);
	assert_int_equal(in.port, 23);
	labelmap_map(&in, 0, NULL, &r);
	assert_int_equal(r.label, LM_SCAN_TELNET);
	l.cls = 200; /* a value of a newer build */
	labelmap_input_label(&l, &in);
	labelmap_map(&in, 0, NULL, &r);
	assert_int_equal(r.label, LM_AMBIGUOUS);
	l.nports = 0;
	labelmap_input_label(&l, &in);
	assert_false(in.has_port);

	struct dk_record rec;
	memset(&rec, 0, sizeof rec);
	rec.cls = DK_CLASS_NETWORK_SCAN;
	rec.protocol = DK_PROTO_TCP;
	rec.service = DK_SERVICE_SMB;
	rec.nports = 1;
	rec.ports[0] = 445;
	labelmap_input_record(&rec, &in);
	labelmap_map(&in, 0, NULL, &r);
	assert_int_equal(r.label, LM_SCAN_SMB);
}

static void test_names(void **state)
{
	(void)state;
	static const char *const names[LM_COUNT] = { "ambiguous", "scan-icmp", "scan-ssh",
						     "scan-telnet", "scan-smb", "scan-other",
						     "scan-port", "ddos-victim" };
	for (int i = 0; i < LM_COUNT; i++) {
		enum lm_label l;
		assert_string_equal(labelmap_name((enum lm_label)i), names[i]);
		assert_int_equal(labelmap_parse(names[i], &l), 0);
		assert_int_equal(l, i);
		assert_int_equal(labelmap_is_scan(l), i >= LM_SCAN_ICMP && i <= LM_SCAN_PORT);
		assert_int_equal(labelmap_is_definite(l), i != LM_AMBIGUOUS);
	}
	enum lm_label l;
	assert_string_equal(labelmap_name((enum lm_label)42), "ambiguous");
	assert_int_equal(labelmap_parse("scan", &l), BSC_EINVAL);
	assert_int_equal(labelmap_parse(NULL, &l), BSC_EINVAL);

	assert_true(labelmap_class_is_scan("scan"));
	assert_true(labelmap_class_is_scan("scan-ssh"));
	assert_true(labelmap_class_is_scan("scan-http"));
	assert_true(labelmap_class_is_scan("research-scanner"));
	assert_false(labelmap_class_is_scan("spam"));
	assert_false(labelmap_class_is_scan("scanner"));
	assert_false(labelmap_class_is_scan("ddos-victim"));
	assert_false(labelmap_class_is_scan("Scan-ssh"));
	assert_false(labelmap_class_is_scan(""));
	assert_false(labelmap_class_is_scan(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_network_scan_services),
		cmocka_unit_test(test_scan_other_keeps_port),
		cmocka_unit_test(test_port_scan_threshold),
		cmocka_unit_test(test_backscatter_and_ambiguous),
		cmocka_unit_test(test_inputs),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
