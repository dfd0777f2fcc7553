/* tests/unit/tools/test_pcapdns.c — DNS queries out of pcap captures: the
 * tcpdump captures of tests/data/pcap/ (Ethernet, pcapng, Linux cooked v1 and
 * v2) decode to exactly the queries sent (truth.txt), and captures written
 * here packet by packet cover every link type, IPv4 options, IPv6 extension
 * headers, fragments, TCP segmentation, filters, rcode matching, malformed
 * DNS, and truncated or corrupt files.
 * Single-threaded cmocka program; files go to a temporary folder. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/helpers/tmpdir.h"
#include "authd/answer.h"
#include "authd/capture.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/revname.h"
#include "common/wire.h"
#include "tests/helpers/dnsq.h"
#include "tools/pcapdns.h"
#include "tools/qfilter.h"

#define DATA BSC_TEST_DATA "/pcap"
#define MAXEV 4096

/* ---- decoding a whole file ---- */

struct run {
	struct query_event ev[MAXEV];
	size_t n;
	int rc;
	uint64_t offset;
	char error[512];
	struct pcapdns_stats st;
};

static struct run *run_new(void)
{
	struct run *r = calloc(1, sizeof *r);
	assert_non_null(r);
	return r;
}

static int decode(struct run *r, const char *path, const struct pcapdns_opts *o)
{
	struct pcapdns *p = NULL;
	char err[512];
	memset(r, 0, sizeof *r);
	int rc = pcapdns_open(&p, path, o, err, sizeof err);
	if (rc) {
		snprintf(r->error, sizeof r->error, "%s", err);
		r->rc = rc;
		return rc;
	}
	struct query_event ev;
	while ((rc = pcapdns_next(p, &ev)) == 1) {
		assert_true(r->n < MAXEV);
		r->ev[r->n++] = ev;
	}
	/* errors are sticky, the end stays the end */
	assert_int_equal(pcapdns_next(p, &ev), rc);
	r->rc = rc;
	r->offset = pcapdns_offset(p);
	snprintf(r->error, sizeof r->error, "%s", pcapdns_error(p));
	r->st = *pcapdns_stats(p);
	pcapdns_close(p);
	return rc;
}

/* ---- the ground truth of the tcpdump captures ---- */

struct truth {
	struct bsc_addr querier;
	uint16_t port;
	bool tcp;
	uint16_t qtype;
	char qname[256];
	char flags[128];
	int rcode;
	char note[32];
};

static size_t truth_load(const char *path, struct truth *t, size_t max, uint16_t *server_port)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[512];
	size_t n = 0;
	*server_port = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned sp;
		if (sscanf(line, "# server 127.0.0.1 ::1 port %u", &sp) == 1) {
			*server_port = (uint16_t)sp;
			continue;
		}
		char addr[64], proto[8], rcode[8];
		unsigned port, qtype;
		assert_true(n < max);
		struct truth *x = &t[n];
		int got = sscanf(line, "%63s %u %7s %u %255s %127s %7s %31s", addr, &port, proto,
				 &qtype, x->qname, x->flags, rcode, x->note);
		assert_int_equal(got, 8);
		assert_int_equal(addr_parse(&x->querier, addr, false), 0);
		x->port = (uint16_t)port;
		x->tcp = strcmp(proto, "tcp") == 0;
		x->qtype = (uint16_t)qtype;
		x->rcode = strcmp(rcode, "-") == 0 ? -1 : atoi(rcode);
		n++;
	}
	fclose(f);
	assert_true(*server_port != 0);
	return n;
}

static bool has_flag(const char *flags, const char *name)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", flags);
	for (char *s = strtok(buf, ","); s; s = strtok(NULL, ",")) {
		if (strcmp(s, name) == 0)
			return true;
	}
	return false;
}

static bool ecs_of(const char *flags, struct bsc_addr *ecs)
{
	const char *e = strstr(flags, "ecs=");
	if (!e)
		return false;
	char buf[64];
	size_t i = 0;
	for (e += 4; *e && *e != ',' && i + 1 < sizeof buf; e++)
		buf[i++] = *e;
	buf[i] = '\0';
	assert_int_equal(addr_parse(ecs, buf, false), 0);
	return true;
}

static bool orig_equal(const struct revname *a, const struct revname *b)
{
	return a->kind == b->kind && addr_cmp(&a->addr, &b->addr) == 0 &&
	       (a->kind != REVNAME_CLASSLESS || addr_cmp(&a->classless, &b->classless) == 0);
}

/* The one truth line an event stands for (same querier, port and name). */
static const struct truth *truth_find(const struct truth *t, size_t n,
				      const struct query_event *ev)
{
	const struct truth *found = NULL;
	for (size_t i = 0; i < n; i++) {
		struct revname rn;
		revname_parse_text(t[i].qname, &rn);
		if (t[i].port == ev->querier_port && addr_cmp(&t[i].querier, &ev->querier) == 0 &&
		    orig_equal(&rn, &ev->orig) && t[i].qtype == ev->qtype) {
			if (rn.kind == REVNAME_NONE && found)
				continue;
			assert_null(found);
			found = &t[i];
		}
	}
	return found;
}

static void check_event(const struct truth *t, const struct query_event *ev)
{
	assert_int_equal(!!(ev->flags & EVENT_TCP), t->tcp);
	assert_int_equal(!!(ev->flags & EVENT_RD), has_flag(t->flags, "rd"));
	assert_int_equal(!!(ev->flags & EVENT_EDNS), has_flag(t->flags, "edns"));
	assert_int_equal(!!(ev->flags & EVENT_DO), has_flag(t->flags, "do"));
	struct bsc_addr ecs;
	if (ecs_of(t->flags, &ecs)) {
		assert_true(ev->flags & EVENT_ECS);
		assert_int_equal(addr_cmp(&ev->ecs, &ecs), 0);
	} else {
		assert_false(ev->flags & EVENT_ECS);
	}
	assert_true(t->rcode >= 0);
	assert_false(ev->flags & EVENT_RCODE_UNKNOWN);
	assert_int_equal(ev->rcode, t->rcode);
}

/* Every query of truth.txt but those of @skip_note is an event, once, with
 * exactly the fields sent; nothing else is. */
static void check_truth(const struct run *r, const char *truth_path, const char *skip_note)
{
	static struct truth t[512];
	uint16_t port;
	size_t n = truth_load(truth_path, t, 512, &port);
	bool used[512] = { false };
	size_t want = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(t[i].note, "noquestion") != 0 && strcmp(t[i].note, skip_note) != 0)
			want++;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct truth *x = truth_find(t, n, &r->ev[i]);
		assert_non_null(x);
		assert_string_not_equal(x->note, "noquestion");
		assert_string_not_equal(x->note, skip_note);
		size_t k = (size_t)(x - t);
		assert_false(used[k]);
		used[k] = true;
		check_event(x, &r->ev[i]);
		if (i > 0)
			assert_true(r->ev[i].time_ns >= r->ev[i - 1].time_ns);
	}
	assert_int_equal(r->n, want);
}

static uint16_t truth_port(void)
{
	static struct truth t[512];
	uint16_t port;
	truth_load(DATA "/truth.txt", t, 512, &port);
	return port;
}

static void check_capture(const char *file, int dlt)
{
	struct run *r = run_new();
	char path[512];
	snprintf(path, sizeof path, DATA "/%s", file);
	uint16_t port = truth_port();
	struct pcapdns_opts o = { .ports = &port, .nports = 1 };
	assert_int_equal(decode(r, path, &o), 0);
	assert_string_equal(r->error, "");
	check_truth(r, DATA "/truth.txt", "split");
	/* what was skipped, and why */
	assert_int_equal(r->st.tcp_partial, 1); /* the split query */
	assert_int_equal(r->st.dns.malformed, 1); /* the query without a question */
	assert_int_equal(r->st.dns.formerr, 1);
	assert_int_equal(r->st.dns.other_class, 1); /* version.bind CH TXT */
	assert_int_equal(r->st.dns.rcode_known, r->n);
	assert_int_equal(r->st.dns.events, r->n);
	assert_int_equal(r->st.dns.queries, r->n + 1);
	/* the split query's reply, and the FORMERR without a question */
	assert_int_equal(r->st.dns.unmatched, 2);
	assert_int_equal(r->st.fragments + r->st.truncated + r->st.bad_ip + r->st.not_ip, 0);
	assert_true(r->st.tcp_nodata > 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(r->offset, (uint64_t)sb.st_size);

	struct pcapdns *p = NULL;
	assert_int_equal(pcapdns_open(&p, path, &o, NULL, 0), 0);
	assert_int_equal(pcapdns_linktype(p), dlt);
	pcapdns_close(p);
	free(r);
}

static void test_pcap_ethernet_matches_truth(void **state)
{
	(void)state;
	check_capture("lo.pcap", DLT_EN10MB);
}

static void test_pcapng_matches_truth(void **state)
{
	(void)state;
	check_capture("lo.pcapng", DLT_EN10MB);
}

static void test_pcap_linux_cooked_matches_truth(void **state)
{
	(void)state;
	check_capture("any-sll.pcap", DLT_LINUX_SLL);
	check_capture("any-sll2.pcap", DLT_LINUX_SLL2);
}

static void test_pcap_timestamps_nanosecond(void **state)
{
	(void)state;
	struct run *r = run_new();
	uint16_t port = truth_port();
	struct pcapdns_opts o = { .ports = &port, .nports = 1 };
	/* lo.pcap has nanosecond timestamps, any-sll.pcap microseconds */
	assert_int_equal(decode(r, DATA "/lo.pcap", &o), 0);
	bool sub_us = false;
	for (size_t i = 0; i < r->n; i++)
		sub_us |= r->ev[i].time_ns % 1000 != 0;
	assert_true(sub_us);
	assert_true(r->ev[0].time_ns > 1500000000ull * 1000000000ull);
	assert_int_equal(decode(r, DATA "/any-sll.pcap", &o), 0);
	for (size_t i = 0; i < r->n; i++)
		assert_int_equal(r->ev[i].time_ns % 1000, 0);
	free(r);
}

static void test_pcap_filters(void **state)
{
	(void)state;
	struct run *r = run_new();
	uint16_t port = truth_port();
	struct qfilter *f = NULL;
	assert_int_equal(qfilter_new(&f), 0);
	assert_int_equal(qfilter_add_server(f, "::1"), 0);
	struct pcapdns_opts o = { .filter = f, .ports = &port, .nports = 1 };
	assert_int_equal(decode(r, DATA "/lo.pcap", &o), 0);
	assert_int_equal(r->n, 13); /* 12 PTR and one NS over ::1 */
	for (size_t i = 0; i < r->n; i++)
		assert_int_equal(r->ev[i].querier.family, AF_INET6);
	assert_int_equal(r->st.dns.other_server, r->st.dns.queries - 13);
	qfilter_free(f);

	/* zones: the names outside (example.com, version.bind) go */
	assert_int_equal(qfilter_new(&f), 0);
	assert_int_equal(qfilter_add_zone(f, "20.10.IN-ADDR.arpa."), 0);
	assert_int_equal(qfilter_add_zone(f, "8.b.d.0.1.0.0.2.ip6.arpa"), 0);
	o.filter = f;
	assert_int_equal(decode(r, DATA "/lo.pcap", &o), 0);
	assert_int_equal(r->st.dns.other_zone, 2);
	for (size_t i = 0; i < r->n; i++)
		assert_int_not_equal(r->ev[i].orig.kind, REVNAME_NONE);
	size_t in_zones = r->n;
	qfilter_free(f);

	/* one zone only, and a server prefix: */
	assert_int_equal(qfilter_new(&f), 0);
	assert_int_equal(qfilter_add_zone(f, "8.b.d.0.1.0.0.2.ip6.arpa"), 0);
	assert_int_equal(qfilter_add_server(f, "127.0.0.0/8"), 0);
	o.filter = f;
	assert_int_equal(decode(r, DATA "/lo.pcap", &o), 0);
	assert_int_equal(r->n, 0);
	qfilter_free(f);
	assert_int_equal(qfilter_new(&f), 0);
	assert_int_equal(qfilter_add_zone(f, "."), 0);
	assert_int_equal(qfilter_add_server(f, "127.0.0.0/8"), 0);
	assert_int_equal(qfilter_add_server(f, "::1"), 0);
	o.filter = f;
	assert_int_equal(decode(r, DATA "/lo.pcap", &o), 0);
	assert_int_equal(r->n, in_zones + 2);
	/* bad filter values */
	assert_int_equal(qfilter_add_server(f, "not-an-address"), BSC_EINVAL);
	assert_int_equal(qfilter_add_zone(f, "a..b"), BSC_EINVAL);
	assert_int_equal(qfilter_add_zone(f, ".."), BSC_EINVAL);
	qfilter_free(f);

	/* no port given: 53, and nothing in these captures is on it */
	assert_int_equal(decode(r, DATA "/lo.pcap", NULL), 0);
	assert_int_equal(r->n, 0);
	assert_int_equal(r->st.not_dns, r->st.packets);
	free(r);
}

static void test_pcap_match_off(void **state)
{
	(void)state;
	struct run *r = run_new();
	uint16_t port = truth_port();
	struct qfilter *f = NULL;
	assert_int_equal(qfilter_new(&f), 0);
	qfilter_set_match(f, false, 0);
	struct pcapdns_opts o = { .filter = f, .ports = &port, .nports = 1 };
	assert_int_equal(decode(r, DATA "/lo.pcap", &o), 0);
	assert_true(r->n > 100);
	for (size_t i = 0; i < r->n; i++) {
		assert_true(r->ev[i].flags & EVENT_RCODE_UNKNOWN);
		assert_int_equal(r->ev[i].rcode, 0);
	}
	assert_int_equal(r->st.dns.rcode_known, 0);
	qfilter_free(f);
	free(r);
}

/* ---- captures written here ---- */

struct synth {
	pcap_t *pd;
	pcap_dumper_t *d;
	uint64_t t; /* ns */
};

static void synth_open(struct synth *s, const char *path, int dlt)
{
	s->pd = pcap_open_dead_with_tstamp_precision(dlt, 262144, PCAP_TSTAMP_PRECISION_NANO);
	assert_non_null(s->pd);
	s->d = pcap_dump_open(s->pd, path);
	assert_non_null(s->d);
	s->t = 1700000000ull * 1000000000ull;
}

/* One record of @len bytes, of which @cap are captured (0 = all). */
static void synth_add(struct synth *s, const uint8_t *b, size_t len, size_t cap)
{
	struct pcap_pkthdr h;
	h.ts.tv_sec = (time_t)(s->t / 1000000000u);
	h.ts.tv_usec = (suseconds_t)(s->t % 1000000000u);
	h.len = (bpf_u_int32)len;
	h.caplen = (bpf_u_int32)(cap ? cap : len);
	pcap_dump((u_char *)s->d, &h, b);
	s->t += 1000;
}

static void synth_close(struct synth *s)
{
	pcap_dump_close(s->d);
	pcap_close(s->pd);
}

static void ip_bytes(const char *s, uint8_t *b)
{
	struct bsc_addr a;
	assert_int_equal(addr_parse(&a, s, false), 0);
	memcpy(b, a.bytes, a.family == AF_INET ? 4 : 16);
}

enum { UDP = 17, TCP = 6 };

struct l4 {
	int proto;
	const char *src, *dst;
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t tcp_flags;
	/* IPv4 */
	unsigned ip_opt_words; /* IHL beyond 5 */
	uint16_t frag;         /* flags and offset field */
	/* IPv6: extension headers before the transport, by next-header number */
	const uint8_t *ext;
	size_t next;
};

/* An IP packet (v4 or v6 after the source's family) carrying @pl. */
static size_t mk_ip(uint8_t *out, const struct l4 *x, const uint8_t *pl, size_t pll)
{
	uint8_t t[70000];
	size_t tl;
	if (x->proto == UDP) {
		wire_put_u16(t, x->sport);
		wire_put_u16(t + 2, x->dport);
		wire_put_u16(t + 4, (unsigned)(8 + pll));
		wire_put_u16(t + 6, 0);
		memcpy(t + 8, pl, pll);
		tl = 8 + pll;
	} else {
		memset(t, 0, 20);
		wire_put_u16(t, x->sport);
		wire_put_u16(t + 2, x->dport);
		wire_put_u32(t + 4, x->seq);
		t[12] = 5 << 4;
		t[13] = x->tcp_flags ? x->tcp_flags : 0x18; /* PSH ACK */
		memcpy(t + 20, pl, pll);
		tl = 20 + pll;
	}
	if (strchr(x->src, ':') == NULL) {
		size_t ihl = 20 + 4 * x->ip_opt_words;
		memset(out, 0, ihl);
		out[0] = (uint8_t)(0x40 | (ihl / 4));
		wire_put_u16(out + 2, (unsigned)(ihl + tl));
		wire_put_u16(out + 6, x->frag);
		out[8] = 64;
		out[9] = (uint8_t)x->proto;
		ip_bytes(x->src, out + 12);
		ip_bytes(x->dst, out + 16);
		for (size_t i = 20; i < ihl; i++)
			out[i] = 1; /* NOP options */
		memcpy(out + ihl, t, tl);
		return ihl + tl;
	}
	memset(out, 0, 40);
	out[0] = 0x60;
	size_t el = 0;
	uint8_t nh = (uint8_t)x->proto;
	/* extension headers, written back to front so each names the next */
	uint8_t ext[512];
	for (size_t i = x->next; i-- > 0;) {
		uint8_t type = x->ext[i];
		size_t hl = type == 44 ? 8 : 16;
		memmove(ext + hl, ext, el);
		memset(ext, 0, hl);
		ext[0] = nh;
		if (type == 51)
			ext[1] = (uint8_t)(hl / 4 - 2);
		else if (type != 44)
			ext[1] = (uint8_t)(hl / 8 - 1);
		if (type == 44)
			wire_put_u16(ext + 2, 1); /* offset 0, more fragments */
		el += hl;
		nh = type;
	}
	out[6] = nh;
	out[7] = 64;
	wire_put_u16(out + 4, (unsigned)(el + tl));
	ip_bytes(x->src, out + 8);
	ip_bytes(x->dst, out + 24);
	memcpy(out + 40, ext, el);
	memcpy(out + 40 + el, t, tl);
	return 40 + el + tl;
}

/* Link-layer framing of an IP packet for @dlt; @vlans 802.1Q tags (Ethernet). */
static size_t mk_link(uint8_t *out, int dlt, const uint8_t *ip, size_t ipl, unsigned vlans,
		      bool big_endian_null)
{
	bool v6 = (ip[0] >> 4) == 6;
	unsigned et = v6 ? 0x86DD : 0x0800;
	size_t h = 0;
	switch (dlt) {
	case DLT_EN10MB:
		memset(out, 0, 12);
		out[5] = 1;
		out[11] = 2;
		h = 12;
		for (unsigned i = 0; i < vlans; i++) {
			wire_put_u16(out + h, i == 0 && vlans > 1 ? 0x88A8 : 0x8100);
			wire_put_u16(out + h + 2, 100 + i);
			h += 4;
		}
		wire_put_u16(out + h, et);
		h += 2;
		break;
	case DLT_LINUX_SLL:
		memset(out, 0, 16);
		wire_put_u16(out + 2, 772);
		wire_put_u16(out + 14, et);
		h = 16;
		break;
	case DLT_LINUX_SLL2:
		memset(out, 0, 20);
		wire_put_u16(out, et);
		wire_put_u16(out + 8, 772);
		h = 20;
		break;
	case DLT_NULL:
	case DLT_LOOP: {
		uint32_t af = v6 ? 30 : 2;
		if (dlt == DLT_LOOP || big_endian_null) {
			wire_put_u32(out, af);
		} else {
			out[0] = (uint8_t)af;
			out[1] = out[2] = out[3] = 0;
		}
		h = 4;
		break;
	}
	default:
		break;
	}
	memcpy(out + h, ip, ipl);
	return h + ipl;
}

static size_t query(uint8_t *buf, const char *name, uint16_t id, bool edns)
{
	struct dnsq_opts o = { .id = id, .rd = true, .edns = edns };
	int n = dnsq_build(buf, 512, name, 12, &o);
	assert_true(n > 0);
	return (size_t)n;
}

/* The response to @q: QR, @rcode (extended: the OPT carries the upper bits). */
static size_t response(uint8_t *out, const uint8_t *q, size_t ql, unsigned rcode)
{
	memcpy(out, q, ql);
	out[2] |= 0x80;
	out[3] = (uint8_t)((out[3] & 0xF0) | (rcode & 0xF));
	if (rcode > 15) {
		assert_int_equal(out[11], 1); /* the query had an OPT: the last 11 bytes */
		out[ql - 6] = (uint8_t)(rcode >> 4);
	}
	return ql;
}

/* One UDP query (and its response) over every link type and both families. */
static void test_pcap_link_types(void **state)
{
	(void)state;
	const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
			     DLT_IPV4,   DLT_IPV6,      DLT_NULL,       DLT_LOOP };
	struct run *r = run_new();
	for (size_t k = 0; k < sizeof dlts / sizeof dlts[0]; k++) {
		char path[300];
		tmpdir_path(path, sizeof path, "link.pcap");
		struct synth s;
		synth_open(&s, path, dlts[k]);
		uint8_t q[512], a[512], ip[2048], fr[2100];
		const char *fams[2][2] = { { "192.0.2.7", "198.51.100.53" },
					   { "2001:db8::7", "2001:db8::53" } };
		size_t expect = 0;
		for (int v = 0; v < 2; v++) {
			if ((dlts[k] == DLT_IPV4 && v == 1) || (dlts[k] == DLT_IPV6 && v == 0))
				continue;
			/* Ethernet: no tag, 802.1Q, QinQ; NULL: both byte orders */
			unsigned vmax = dlts[k] == DLT_EN10MB ? 2u : dlts[k] == DLT_NULL ? 1u : 0u;
			for (unsigned vl = 0; vl <= vmax; vl++) {
				size_t ql = query(q, "1.2.0.192.in-addr.arpa.", (uint16_t)(7 + vl),
						  v == 1);
				struct l4 x = { .proto = UDP, .src = fams[v][0], .dst = fams[v][1],
						.sport = (uint16_t)(40000 + vl), .dport = 53 };
				size_t il = mk_ip(ip, &x, q, ql);
				size_t fl = mk_link(fr, dlts[k], ip, il, vl, vl == 1);
				synth_add(&s, fr, fl, 0);
				struct l4 y = { .proto = UDP, .src = fams[v][1], .dst = fams[v][0],
						.sport = 53, .dport = (uint16_t)(40000 + vl) };
				il = mk_ip(ip, &y, a, response(a, q, ql, 3));
				fl = mk_link(fr, dlts[k], ip, il, vl, vl == 1);
				synth_add(&s, fr, fl, 0);
				expect++;
			}
		}
		synth_close(&s);
		assert_int_equal(decode(r, path, NULL), 0);
		assert_int_equal(r->n, expect);
		for (size_t i = 0; i < r->n; i++) {
			assert_int_equal(r->ev[i].rcode, 3);
			assert_int_equal(r->ev[i].flags & ~(EVENT_EDNS), EVENT_RD);
			assert_int_equal(r->ev[i].orig.kind, REVNAME_FULL);
			char buf[64];
			addr_format(&r->ev[i].orig.addr, buf, sizeof buf);
			assert_string_equal(buf, "192.0.2.1");
			assert_int_equal(r->ev[i].qtype, 12);
			assert_int_equal(r->ev[i].time_ns % 1000000000ull, (uint64_t)(i * 2000));
		}
		assert_int_equal(r->st.dns.rcode_known, expect);
	}

	/* a link type we do not read: every packet counted, none misread */
	char path[300];
	tmpdir_path(path, sizeof path, "wifi.pcap");
	struct synth s;
	synth_open(&s, path, DLT_IEEE802_11);
	uint8_t junk[100] = { 0 };
	synth_add(&s, junk, sizeof junk, 0);
	synth_add(&s, junk, sizeof junk, 0);
	synth_close(&s);
	assert_int_equal(decode(r, path, NULL), 0);
	assert_int_equal(r->n, 0);
	assert_int_equal(r->st.linktype, 2);
	free(r);
}

static void test_pcap_ip_layers(void **state)
{
	(void)state;
	struct run *r = run_new();
	char path[300];
	tmpdir_path(path, sizeof path, "ip.pcap");
	struct synth s;
	synth_open(&s, path, DLT_EN10MB);
	uint8_t q[512], ip[2048], fr[2100];
	size_t ql = query(q, "5.0.0.10.in-addr.arpa.", 1, false);
	size_t il, fl;

	/* IPv4 with options: read */
	struct l4 x = { .proto = UDP, .src = "10.0.0.1", .dst = "10.0.0.53", .sport = 1000,
			.dport = 53, .ip_opt_words = 3 };
	il = mk_ip(ip, &x, q, ql);
	synth_add(&s, fr, mk_link(fr, DLT_EN10MB, ip, il, 0, false), 0);
	/* IPv4 first fragment (MF) and a later one (offset): skipped */
	x.ip_opt_words = 0;
	x.frag = 0x2000;
	il = mk_ip(ip, &x, q, ql);
	synth_add(&s, fr, mk_link(fr, DLT_EN10MB, ip, il, 0, false), 0);
	x.frag = 0x0010;
	il = mk_ip(ip, &x, q, ql);
	synth_add(&s, fr, mk_link(fr, DLT_EN10MB, ip, il, 0, false), 0);
	x.frag = 0x4000; /* DF alone is no fragment */
	il = mk_ip(ip, &x, q, ql);
	synth_add(&s, fr, mk_link(fr, DLT_EN10MB, ip, il, 0, false), 0);
	/* IPv6 with hop-by-hop, routing, destination options, AH: read */
	static const uint8_t ext[] = { 0, 43, 60, 51 };
	struct l4 y = { .proto = UDP, .src = "2001:db8::1", .dst = "2001:db8::53", .sport = 1001,
			.dport = 53, .ext = ext, .next = 4 };
	il = mk_ip(ip, &y, q, ql);
	synth_add(&s, fr, mk_link(fr, DLT_EN10MB, ip, il, 0, false), 0);
	/* IPv6 with a fragment header: skipped */
	static const uint8_t frag[] = { 0, 44 };
	y.ext = frag;
	y.next = 2;
	il = mk_ip(ip, &y, q, ql);
	synth_add(&s, fr, mk_link(fr, DLT_EN10MB, ip, il, 0, false), 0);
	/* cut by the snap length: skipped as truncated */
	y.next = 0;
	il = mk_ip(ip, &y, q, ql);
	fl = mk_link(fr, DLT_EN10MB, ip, il, 0, false);
	synth_add(&s, fr, fl, fl - 5);
	/* not IP (ARP), bad IP version, another transport (ICMP), another port */
	fl = mk_link(fr, DLT_EN10MB, ip, il, 0, false);
	wire_put_u16(fr + 12, 0x0806);
	synth_add(&s, fr, fl, 0);
	x.frag = 0;
	il = mk_ip(ip, &x, q, ql);
	fl = mk_link(fr, DLT_EN10MB, ip, il, 0, false);
	fr[14] = 0x35; /* version 3 */
	synth_add(&s, fr, fl, 0);
	fr[14] = 0x45;
	fr[14 + 9] = 1;
	synth_add(&s, fr, fl, 0);
	x.dport = 5353;
	il = mk_ip(ip, &x, q, ql);
	synth_add(&s, fr, mk_link(fr, DLT_EN10MB, ip, il, 0, false), 0);
	/* an IPv4 total length past the captured bytes, a UDP length past the IP */
	x.dport = 53;
	il = mk_ip(ip, &x, q, ql);
	fl = mk_link(fr, DLT_EN10MB, ip, il, 0, false);
	wire_put_u16(fr + 14 + 2, (unsigned)(il + 10));
	synth_add(&s, fr, fl, 0);
	wire_put_u16(fr + 14 + 2, (unsigned)il);
	wire_put_u16(fr + 14 + 20 + 4, (unsigned)(il + 10));
	synth_add(&s, fr, fl, 0);
	/* a runt Ethernet frame */
	synth_add(&s, fr, 10, 0);
	synth_close(&s);

	assert_int_equal(decode(r, path, NULL), 0);
	assert_int_equal(r->n, 3);
	assert_int_equal(r->ev[0].querier.family, AF_INET);
	assert_int_equal(r->ev[0].querier_port, 1000);
	assert_int_equal(r->ev[2].querier.family, AF_INET6);
	assert_int_equal(r->ev[2].querier_port, 1001);
	assert_int_equal(r->st.fragments, 3);
	assert_int_equal(r->st.truncated, 4);
	assert_int_equal(r->st.not_ip, 1);
	assert_int_equal(r->st.bad_ip, 1);
	assert_int_equal(r->st.not_dns, 2);
	assert_int_equal(r->st.packets, 14);
	for (size_t i = 0; i < r->n; i++)
		assert_true(r->ev[i].flags & EVENT_RCODE_UNKNOWN);
	free(r);
}

/* Several messages in one segment, a message split over two, a prefix on its
 * own, a prefix cut in two, retransmissions. */
static void test_pcap_tcp_segments(void **state)
{
	(void)state;
	struct run *r = run_new();
	char path[300];
	tmpdir_path(path, sizeof path, "tcp.pcap");
	struct synth s;
	synth_open(&s, path, DLT_RAW);
	uint8_t q[6][512], seg[4096], ip[8192];
	size_t ql[6];
	static const char *const names[6] = {
		"1.0.0.10.in-addr.arpa.", "2.0.0.10.in-addr.arpa.", "3.0.0.10.in-addr.arpa.",
		"4.0.0.10.in-addr.arpa.", "5.0.0.10.in-addr.arpa.", "6.0.0.10.in-addr.arpa.",
	};
	for (int i = 0; i < 6; i++)
		ql[i] = query(q[i], names[i], (uint16_t)(0x100 + i), i == 5);
	struct l4 x = { .proto = TCP, .src = "10.0.0.9", .dst = "10.0.0.53", .sport = 3333,
			.dport = 53, .seq = 1000, .tcp_flags = 0x02 };
	size_t il = mk_ip(ip, &x, seg, 0); /* SYN */
	synth_add(&s, ip, il, 0);
	uint32_t seq = 1001;
	/* 1, 2, 3 in one segment */
	size_t n = 0;
	for (int i = 0; i < 3; i++) {
		wire_put_u16(seg + n, (unsigned)ql[i]);
		memcpy(seg + n + 2, q[i], ql[i]);
		n += 2 + ql[i];
	}
	x.tcp_flags = 0;
	x.seq = seq;
	il = mk_ip(ip, &x, seg, n);
	synth_add(&s, ip, il, 0);
	synth_add(&s, ip, il, 0); /* retransmitted: skipped */
	seq += (uint32_t)n;
	/* 4 split over two segments: skipped; its tail carries the prefix of 5
	 * cut after one byte, whose second byte and body come next */
	n = 0;
	wire_put_u16(seg, (unsigned)ql[3]);
	memcpy(seg + 2, q[3], ql[3]);
	wire_put_u16(seg + 2 + ql[3], (unsigned)ql[4]);
	memcpy(seg + 4 + ql[3], q[4], ql[4]);
	size_t total = 4 + ql[3] + ql[4];
	size_t cut1 = 10, cut2 = 2 + ql[3] + 1;
	x.seq = seq;
	il = mk_ip(ip, &x, seg, cut1);
	synth_add(&s, ip, il, 0);
	x.seq = seq + (uint32_t)cut1;
	il = mk_ip(ip, &x, seg + cut1, cut2 - cut1);
	synth_add(&s, ip, il, 0);
	x.seq = seq + (uint32_t)cut2;
	il = mk_ip(ip, &x, seg + cut2, total - cut2);
	synth_add(&s, ip, il, 0);
	seq += (uint32_t)total;
	/* 6: the prefix alone, then the message */
	wire_put_u16(seg, (unsigned)ql[5]);
	x.seq = seq;
	il = mk_ip(ip, &x, seg, 2);
	synth_add(&s, ip, il, 0);
	x.seq = seq + 2;
	il = mk_ip(ip, &x, q[5], ql[5]);
	synth_add(&s, ip, il, 0);
	/* that segment again: a retransmission */
	synth_add(&s, ip, il, 0);
	/* the server's response to 6, over TCP, with BADVERS */
	uint8_t a[600];
	size_t al = response(a + 2, q[5], ql[5], 16);
	wire_put_u16(a, (unsigned)al);
	struct l4 y = { .proto = TCP, .src = "10.0.0.53", .dst = "10.0.0.9", .sport = 53,
			.dport = 3333, .seq = 77 };
	il = mk_ip(ip, &y, a, al + 2);
	synth_add(&s, ip, il, 0);
	/* the response to 1, larger, split over two segments: its head is
	 * enough for the rcode */
	size_t bl = response(a + 2, q[0], ql[0], 3);
	memset(a + 2 + bl, 0, 100); /* stands for its records */
	bl += 100;
	wire_put_u16(a, (unsigned)bl);
	y.seq = 77 + (uint32_t)al + 2;
	il = mk_ip(ip, &y, a, 2 + ql[0] + 10);
	synth_add(&s, ip, il, 0);
	y.seq += (uint32_t)(2 + ql[0] + 10);
	il = mk_ip(ip, &y, a + 2 + ql[0] + 10, bl - ql[0] - 10);
	synth_add(&s, ip, il, 0);
	/* a bare ACK */
	x.seq = seq + 2 + (uint32_t)ql[5];
	il = mk_ip(ip, &x, seg, 0);
	synth_add(&s, ip, il, 0);
	synth_close(&s);

	assert_int_equal(decode(r, path, NULL), 0);
	assert_int_equal(r->n, 5);
	static const unsigned want[5] = { 1, 2, 3, 5, 6 };
	for (size_t i = 0; i < r->n; i++) {
		char buf[64];
		addr_format(&r->ev[i].orig.addr, buf, sizeof buf);
		char exp[64];
		snprintf(exp, sizeof exp, "10.0.0.%u", want[i]);
		assert_string_equal(buf, exp);
		assert_true(r->ev[i].flags & EVENT_TCP);
	}
	assert_int_equal(r->ev[4].rcode, 16);
	assert_false(r->ev[4].flags & EVENT_RCODE_UNKNOWN);
	assert_true(r->ev[4].flags & EVENT_EDNS);
	assert_false(r->ev[0].flags & EVENT_RCODE_UNKNOWN);
	assert_int_equal(r->ev[0].rcode, 3);
	assert_true(r->ev[1].flags & EVENT_RCODE_UNKNOWN);
	assert_int_equal(r->st.tcp_partial, 2);
	assert_int_equal(r->st.tcp_retrans, 2);
	assert_int_equal(r->st.tcp_nodata, 2);
	assert_int_equal(r->st.tcp, 7); /* 5 queries and 2 responses */
	assert_int_equal(r->st.dns.rcode_known, 2);
	free(r);
}

static void test_pcap_dns_messages(void **state)
{
	(void)state;
	struct run *r = run_new();
	char path[300];
	tmpdir_path(path, sizeof path, "dns.pcap");
	struct synth s;
	synth_open(&s, path, DLT_RAW);
	uint8_t q[600], ip[2048];
	struct l4 x = { .proto = UDP, .src = "10.1.1.1", .dst = "10.0.0.53", .sport = 5000,
			.dport = 53 };
	size_t ql;
	/* kept: a plain query, one with trailing bytes (FORMERR), class CH, and
	 * a name that is no reverse name */
	ql = query(q, "9.9.9.10.in-addr.arpa.", 1, false);
	synth_add(&s, ip, mk_ip(ip, &x, q, ql), 0);
	q[ql] = 0xAA;
	synth_add(&s, ip, mk_ip(ip, &x, q, ql + 1), 0);
	struct dnsq_opts o = { .id = 3, .qclass = 3 };
	ql = (size_t)dnsq_build(q, sizeof q, "9.9.9.10.in-addr.arpa.", 12, &o);
	synth_add(&s, ip, mk_ip(ip, &x, q, ql), 0);
	ql = query(q, "www.example.com.", 4, false);
	synth_add(&s, ip, mk_ip(ip, &x, q, ql), 0);
	/* skipped as malformed: short, no question, two questions, a compressed qname */
	synth_add(&s, ip, mk_ip(ip, &x, q, 5), 0);
	synth_add(&s, ip, mk_ip(ip, &x, q, 11), 0);
	ql = query(q, "9.9.9.10.in-addr.arpa.", 5, false);
	q[5] = 0;
	synth_add(&s, ip, mk_ip(ip, &x, q, ql), 0);
	q[5] = 2;
	synth_add(&s, ip, mk_ip(ip, &x, q, ql), 0);
	q[5] = 1;
	q[12] = 0xC0;
	synth_add(&s, ip, mk_ip(ip, &x, q, ql), 0);
	/* a query sent from port 53 to another port: not one to our server */
	struct l4 y = { .proto = UDP, .src = "10.0.0.53", .dst = "10.1.1.1", .sport = 53,
			.dport = 5000 };
	ql = query(q, "9.9.9.10.in-addr.arpa.", 6, false);
	synth_add(&s, ip, mk_ip(ip, &y, q, ql), 0);
	/* a response nobody asked for */
	uint8_t a[600];
	synth_add(&s, ip, mk_ip(ip, &y, a, response(a, q, ql, 0)), 0);
	synth_close(&s);

	assert_int_equal(decode(r, path, NULL), 0);
	assert_int_equal(r->n, 4);
	assert_int_equal(r->st.dns.formerr, 1);
	assert_int_equal(r->st.dns.other_class, 1);
	assert_int_equal(r->st.dns.malformed, 5);
	assert_int_equal(r->st.not_dns, 1);
	assert_int_equal(r->st.dns.unmatched, 1);
	assert_int_equal(r->ev[1].orig.kind, REVNAME_FULL);
	assert_int_equal(r->ev[3].orig.kind, REVNAME_NONE);
	free(r);
}

/* A query whose response comes after the matching window is delivered
 * without rcode; the late response is unmatched. */
static void test_pcap_match_window(void **state)
{
	(void)state;
	struct run *r = run_new();
	char path[300];
	tmpdir_path(path, sizeof path, "window.pcap");
	struct synth s;
	synth_open(&s, path, DLT_RAW);
	uint8_t q1[512], q2[512], a[512], ip[2048];
	struct l4 x = { .proto = UDP, .src = "10.1.1.1", .dst = "10.0.0.53", .sport = 5000,
			.dport = 53 };
	struct l4 y = { .proto = UDP, .src = "10.0.0.53", .dst = "10.1.1.1", .sport = 53,
			.dport = 5000 };
	size_t l1 = query(q1, "1.1.1.10.in-addr.arpa.", 1, false);
	size_t l2 = query(q2, "2.1.1.10.in-addr.arpa.", 2, false);
	synth_add(&s, ip, mk_ip(ip, &x, q1, l1), 0);
	s.t += 3000000000ull;
	synth_add(&s, ip, mk_ip(ip, &x, q2, l2), 0);
	synth_add(&s, ip, mk_ip(ip, &y, a, response(a, q1, l1, 3)), 0);
	synth_add(&s, ip, mk_ip(ip, &y, a, response(a, q2, l2, 5)), 0);
	synth_close(&s);
	assert_int_equal(decode(r, path, NULL), 0);
	assert_int_equal(r->n, 2);
	assert_true(r->ev[0].flags & EVENT_RCODE_UNKNOWN);
	assert_int_equal(r->ev[0].rcode, 0);
	assert_false(r->ev[1].flags & EVENT_RCODE_UNKNOWN);
	assert_int_equal(r->ev[1].rcode, 5);
	assert_int_equal(r->st.dns.unmatched, 1);
	free(r);
}

/* A long capture: the queue never holds more than it may, order is kept. */
static void test_pcap_many_queries(void **state)
{
	(void)state;
	char path[300];
	tmpdir_path(path, sizeof path, "many.pcap");
	struct synth s;
	synth_open(&s, path, DLT_RAW);
	uint8_t q[512], ip[2048];
	const unsigned n = 70000; /* more than the matching queue holds */
	for (unsigned i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof name, "%u.%u.%u.10.in-addr.arpa.", i & 255, (i >> 8) & 255,
			 (i >> 16) & 255);
		struct l4 x = { .proto = UDP, .src = "10.1.1.1", .dst = "10.0.0.53",
				.sport = (uint16_t)(1024 + i % 60000), .dport = 53 };
		size_t ql = query(q, name, (uint16_t)i, false);
		synth_add(&s, ip, mk_ip(ip, &x, q, ql), 0);
	}
	synth_close(&s);
	struct pcapdns *p = NULL;
	assert_int_equal(pcapdns_open(&p, path, NULL, NULL, 0), 0);
	struct query_event ev;
	unsigned got = 0;
	uint64_t last = 0;
	while (pcapdns_next(p, &ev) == 1) {
		assert_true(ev.time_ns > last);
		last = ev.time_ns;
		assert_int_equal(ev.orig.addr.bytes[3], got & 255);
		got++;
	}
	assert_int_equal(got, n);
	pcapdns_close(p);
}

/* ---- damaged files ---- */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void spill(const char *path, const uint8_t *b, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	fclose(f);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* Whether two events are the same query (the rcode may differ when the
 * response was cut off). */
static bool same_query(const struct query_event *a, const struct query_event *b)
{
	return a->time_ns == b->time_ns && a->querier_port == b->querier_port &&
	       addr_cmp(&a->querier, &b->querier) == 0 && orig_equal(&a->orig, &b->orig);
}

static void test_pcap_truncated(void **state)
{
	(void)state;
	struct run *full = run_new(), *r = run_new();
	uint16_t port = truth_port();
	struct pcapdns_opts o = { .ports = &port, .nports = 1 };
	assert_int_equal(decode(full, DATA "/lo.pcap", &o), 0);
	size_t len;
	uint8_t *b = slurp(DATA "/lo.pcap", &len);
	assert_int_equal(le32(b), 0xa1b23c4d); /* nanosecond pcap, little endian */
	/* record boundaries */
	size_t bounds[2048], nb = 0;
	for (size_t off = 24; off < len; off += 16 + le32(b + off + 8))
		bounds[nb++] = off;
	char path[300];
	tmpdir_path(path, sizeof path, "cut.pcap");
	unsigned tried = 0;
	for (size_t k = 1; k < nb; k += (k < 40 ? 1 : 37)) {
		const size_t deltas[] = { 1, 7, 16, 17, 30 };
		for (size_t j = 0; j < sizeof deltas / sizeof deltas[0]; j++) {
			size_t cut = bounds[k] + deltas[j];
			if (k + 1 < nb && cut >= bounds[k + 1])
				continue;
			spill(path, b, cut);
			int rc = decode(r, path, &o);
			assert_int_equal(rc, BSC_ETRUNC);
			assert_int_equal(r->offset, bounds[k]);
			char want[64];
			snprintf(want, sizeof want, "truncated at byte %zu ", bounds[k]);
			assert_non_null(strstr(r->error, want));
			assert_non_null(strstr(r->error, path));
			/* every query before the damage, in order */
			assert_true(r->n <= full->n);
			for (size_t i = 0; i < r->n; i++)
				assert_true(same_query(&r->ev[i], &full->ev[i]));
			if (r->n < full->n) {
				/* the next query was in the cut-off part */
				uint64_t cut_time = 0;
				size_t rec = bounds[k];
				cut_time = (uint64_t)le32(b + rec) * 1000000000ull +
					   le32(b + rec + 4);
				assert_true(full->ev[r->n].time_ns >= cut_time);
			}
			tried++;
		}
	}
	assert_true(tried > 100);
	/* a cut at a record boundary is a clean, shorter file */
	spill(path, b, bounds[nb / 2]);
	assert_int_equal(decode(r, path, &o), 0);
	/* a cut inside the file header */
	spill(path, b, 10);
	assert_int_equal(decode(r, path, &o), BSC_ETRUNC);
	assert_non_null(strstr(r->error, path));
	spill(path, b, 0);
	assert_int_equal(decode(r, path, &o), BSC_ETRUNC);

	/* a corrupt record length */
	uint8_t *c = malloc(len);
	assert_non_null(c);
	memcpy(c, b, len);
	size_t bad = bounds[nb / 3];
	c[bad + 8] = c[bad + 9] = c[bad + 10] = c[bad + 11] = 0xFF;
	spill(path, c, len);
	assert_int_equal(decode(r, path, &o), BSC_EMALF);
	assert_int_equal(r->offset, bad);
	assert_non_null(strstr(r->error, "corrupt record"));
	for (size_t i = 0; i < r->n; i++)
		assert_true(same_query(&r->ev[i], &full->ev[i]));
	assert_true(r->n > 10);
	free(c);

	/* pcapng cut short */
	size_t nglen;
	uint8_t *ng = slurp(DATA "/lo.pcapng", &nglen);
	spill(path, ng, nglen / 2 + 3);
	assert_int_equal(decode(r, path, &o), BSC_ETRUNC);
	assert_true(r->n > 10 && r->n < full->n);
	for (size_t i = 0; i < r->n; i++)
		assert_true(same_query(&r->ev[i], &full->ev[i]));
	assert_true(r->offset < nglen / 2 + 3);
	free(ng);

	/* not a capture at all */
	spill(path, (const uint8_t *)"hello, this is no capture file at all\n", 38);
	assert_int_equal(decode(r, path, &o), BSC_EMALF);
	assert_non_null(strstr(r->error, path));
	assert_int_equal(decode(r, "/nonexistent/x.pcap", &o), BSC_ENOENT);
	free(b);
	free(full);
	free(r);
}

/* From a pipe: no seeking, the offset is counted. */
static void test_pcap_from_pipe(void **state)
{
	(void)state;
	struct run *full = run_new();
	uint16_t port = truth_port();
	struct pcapdns_opts o = { .ports = &port, .nports = 1 };
	assert_int_equal(decode(full, DATA "/lo.pcap", &o), 0);
	size_t len;
	uint8_t *b = slurp(DATA "/lo.pcap", &len);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		size_t off = 0;
		while (off < len) {
			ssize_t w = write(fds[1], b + off, len - off);
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	FILE *fp = fdopen(fds[0], "rb");
	assert_non_null(fp);
	struct pcapdns *p = NULL;
	assert_int_equal(pcapdns_open_fp(&p, fp, "pipe", &o, NULL, 0), 0);
	struct query_event ev;
	size_t n = 0;
	while (pcapdns_next(p, &ev) == 1) {
		assert_true(same_query(&ev, &full->ev[n]));
		n++;
	}
	assert_int_equal(n, full->n);
	assert_int_equal(pcapdns_offset(p), len);
	pcapdns_close(p);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(b);
	free(full);
}

/* Every allocation may fail: the decoder says so and leaks nothing. */
static void test_pcap_alloc_failures(void **state)
{
	(void)state;
	char path[300];
	tmpdir_path(path, sizeof path, "grow.pcap");
	struct synth s;
	synth_open(&s, path, DLT_RAW);
	uint8_t q[512], ip[2048];
	for (unsigned i = 0; i < 3000; i++) {
		struct l4 x = { .proto = UDP, .src = "10.1.1.1", .dst = "10.0.0.53",
				.sport = (uint16_t)(1024 + i), .dport = 53 };
		size_t ql = query(q, "1.1.1.10.in-addr.arpa.", (uint16_t)i, false);
		synth_add(&s, ip, mk_ip(ip, &x, q, ql), 0);
	}
	synth_close(&s);
	uint16_t port = truth_port();
	struct pcapdns_opts o = { .ports = &port, .nports = 1 };
	const char *files[2] = { DATA "/lo.pcap", path };
	for (int f = 0; f < 2; f++) {
		bool ok = false;
		for (long k = 0; k < 40 && !ok; k++) {
			mem_fail_after(k);
			struct pcapdns *p = NULL;
			char err[512];
			int rc = pcapdns_open(&p, files[f], f ? NULL : &o, err, sizeof err);
			size_t n = 0;
			if (rc == 0) {
				struct query_event ev;
				while ((rc = pcapdns_next(p, &ev)) == 1)
					n++;
				if (rc)
					assert_non_null(strstr(pcapdns_error(p), "memory"));
				pcapdns_close(p);
			} else {
				assert_null(p);
				assert_non_null(strstr(err, files[f]));
			}
			mem_fail_after(-1);
			assert_true(rc == 0 || rc == BSC_ENOMEM);
			ok = rc == 0;
			if (ok)
				assert_int_equal(n, f ? 3000 : 106);
		}
		assert_true(ok);
	}
}

/* ---- the query parse: the same events as the server's answer builder ---- */

static bool addr_same(const struct bsc_addr *a, const struct bsc_addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}

static bool event_same(const struct query_event *a, const struct query_event *b)
{
	return a->time_ns == b->time_ns && addr_same(&a->querier, &b->querier) &&
	       a->querier_port == b->querier_port && a->qtype == b->qtype &&
	       a->rcode == b->rcode && a->flags == b->flags && a->orig.kind == b->orig.kind &&
	       addr_same(&a->orig.addr, &b->orig.addr) &&
	       addr_same(&a->orig.classless, &b->orig.classless) &&
	       (!(a->flags & EVENT_ECS) || addr_same(&a->ecs, &b->ecs));
}

/* Push query @q through a queue (matching off) and compare what comes out
 * with the event the server would make of it: answer_build() with no zones,
 * then capture_event_fill(). */
static void check_parse(struct qfilter_queue *qq, struct qfilter_stats *st, uint8_t *tx,
			const uint8_t *q, size_t len, uint64_t t)
{
	struct qfilter_msg m = { .time_ns = t, .sport = 4242, .dport = 53, .wire = q, .len = len };
	assert_int_equal(addr_parse(&m.src, "192.0.2.77", false), 0);
	assert_int_equal(addr_parse(&m.dst, "198.51.100.53", false), 0);
	uint64_t formerr = st->formerr, other_class = st->other_class;
	assert_int_equal(qfilter_queue_push(qq, &m), 0);
	struct query_event got, want;
	int n = qfilter_queue_pop(qq, &got, true);

	struct answer_info info;
	answer_build(NULL, NULL, ANSWER_UDP, q, len, tx, ANSWER_BUF_MIN, &info);
	if (len < 12 || (q[2] & 0x80) || info.qname_len == 0) {
		assert_int_equal(n, 0);
		return;
	}
	assert_int_equal(n, 1);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4242) };
	memcpy(&sin.sin_addr, m.src.bytes, 4);
	capture_event_fill(&want, t, (const struct sockaddr *)&sin, q, len, &info, false);
	want.rcode = 0;
	want.flags |= EVENT_RCODE_UNKNOWN;
	assert_true(event_same(&got, &want));
	assert_int_equal(st->formerr - formerr, info.malformed ? 1 : 0);
	assert_int_equal(st->other_class - other_class,
			 info.qclass != 1 && info.qclass != 255 ? 1 : 0);
}

static void test_qfilter_parse_as_server(void **state)
{
	(void)state;
	struct qfilter *f;
	struct qfilter_queue *qq;
	struct qfilter_stats st;
	assert_int_equal(qfilter_new(&f), 0);
	qfilter_set_match(f, false, 0);
	assert_int_equal(qfilter_queue_new(&qq, f, &st), 0);
	uint8_t *tx = malloc(ANSWER_BUF_MIN);
	assert_non_null(tx);
	static const char *const names[] = {
		"4.3.2.1.in-addr.arpa.", "3.2.1.in-addr.arpa.", "5.0-63.3.3.10.in-addr.arpa.",
		"b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.",
		"8.b.d.0.1.0.0.2.ip6.arpa.", "WWW.Example.COM.", "in-addr.arpa.", ".",
	};
	static const uint16_t qtypes[] = { 12, 1, 2, 255, 0, 252 };
	static const uint16_t classes[] = { 0, 3, 255, 4 };
	uint8_t q[700], m[700];
	uint64_t t = 1767225600ull * 1000000000ull, rng = 0x9E3779B97F4A7C15ull;
	unsigned built = 0;
	for (size_t a = 0; a < sizeof names / sizeof names[0]; a++) {
		for (unsigned v = 0; v < 48; v++) {
			struct dnsq_opts o = {
				.id = (uint16_t)v, .rd = v & 1, .edns = (v >> 1) & 1,
				.do_bit = (v >> 2) & 1, .nsid = (v >> 3) & 1,
				.edns_version = (v % 5) == 4, .qclass = classes[(v >> 4) % 4],
			};
			int n = dnsq_build(q, sizeof q, names[a], qtypes[v % 6], &o);
			assert_true(n > 0);
			size_t len = (size_t)n;
			check_parse(qq, &st, tx, q, len, t++);
			built++;
			/* shapes around the common one: trailing bytes, records in
			 * the other sections, a cut OPT, an ECS option (valid or not) */
			memcpy(m, q, len);
			m[len] = 0;
			check_parse(qq, &st, tx, m, len + 1, t++);
			m[7] = 1;
			check_parse(qq, &st, tx, m, len, t++);
			memcpy(m, q, len);
			check_parse(qq, &st, tx, m, len - 1, t++);
			if (o.edns && !o.nsid) {
				static const uint8_t ecs[][12] = {
					{ 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2 },  /* valid /24 */
					{ 0, 8, 0, 7, 0, 1, 20, 0, 192, 0, 2 },  /* bits past /20 */
					{ 0, 8, 0, 4, 0, 2, 0, 0 },              /* IPv6 /0 */
					{ 0, 8, 0, 9, 0, 1, 24, 0, 192, 0, 2 },  /* too long */
				};
				static const size_t ecs_len[] = { 11, 11, 8, 11 };
				for (size_t e = 0; e < 4; e++) {
					memcpy(m, q, len);
					memcpy(m + len, ecs[e], ecs_len[e]);
					m[len - 2] = 0;
					m[len - 1] = (uint8_t)ecs_len[e];
					check_parse(qq, &st, tx, m, len + ecs_len[e], t++);
				}
			}
			/* random damage */
			for (unsigned k = 0; k < 24; k++) {
				memcpy(m, q, len);
				for (unsigned j = 0; j < 1 + k % 3; j++) {
					rng = rng * 6364136223846793005ull + 1442695040888963407ull;
					size_t at = (size_t)(rng >> 33) % len;
					m[at] = (uint8_t)(rng >> 20);
				}
				m[2] &= 0x7F; /* a query */
				check_parse(qq, &st, tx, m, len, t++);
			}
		}
	}
	assert_true(built > 300);
	free(tx);
	qfilter_queue_free(qq);
	qfilter_free(f);
}

/* Queries without a single response: after QFILTER_NO_RESPONSES of them
 * matching stops, and a late response finds nothing to fill. */
static void test_qfilter_no_responses(void **state)
{
	(void)state;
	struct qfilter_queue *qq;
	struct qfilter_stats st;
	assert_int_equal(qfilter_queue_new(&qq, NULL, &st), 0);
	uint8_t q[512], a[512];
	struct qfilter_msg m = { .sport = 4242, .dport = 53, .wire = q };
	assert_int_equal(addr_parse(&m.src, "192.0.2.77", false), 0);
	assert_int_equal(addr_parse(&m.dst, "198.51.100.53", false), 0);
	struct query_event ev;
	unsigned popped = 0;
	for (unsigned i = 0; i <= QFILTER_NO_RESPONSES + 10; i++) {
		m.time_ns = 1700000000ull * 1000000000ull + i * 100000000ull; /* 10 a second */
		m.wire = q;
		m.len = query(q, "4.3.2.1.in-addr.arpa.", (uint16_t)i, false);
		assert_int_equal(qfilter_queue_push(qq, &m), 0);
		while (qfilter_queue_pop(qq, &ev, false) == 1) {
			assert_true(ev.flags & EVENT_RCODE_UNKNOWN);
			popped++;
		}
		/* while matching, a query waits out its 2 s window (20 queries) */
		if (i == 1000)
			assert_true(qfilter_queue_count(qq) >= 19);
	}
	/* matching stopped: nothing waits, and the response of the last query
	 * fills nothing */
	assert_int_equal(qfilter_queue_count(qq), 0);
	assert_int_equal(popped, QFILTER_NO_RESPONSES + 11);
	struct qfilter_msg r = m;
	r.src = m.dst;
	r.dst = m.src;
	r.sport = 53;
	r.dport = 4242;
	r.wire = a;
	r.len = response(a, q, m.len, 3);
	assert_int_equal(qfilter_queue_push(qq, &r), 0);
	assert_int_equal(st.responses, 1);
	assert_int_equal(st.rcode_known, 0);
	assert_int_equal(qfilter_queue_pop(qq, &ev, true), 0);
	qfilter_queue_free(qq);
}

/* ---- classic pcap records read here = read by libpcap ---- */

static void put32o(uint8_t *p, uint32_t v, bool be)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (be ? 24 - 8 * i : 8 * i));
}

static void put16o(uint8_t *p, uint16_t v, bool be)
{
	p[0] = (uint8_t)(be ? v >> 8 : v);
	p[1] = (uint8_t)(be ? v : v >> 8);
}

/* The little-endian nanosecond capture @b rewritten with microsecond time
 * stamps (@usec), in big-endian order (@be), as version 2.@minor, with the
 * snap length @snap (0: as it was). */
static uint8_t *pcap_variant(const uint8_t *b, size_t len, bool usec, bool be, uint16_t minor,
			     uint32_t snap)
{
	uint8_t *c = malloc(len);
	assert_non_null(c);
	memcpy(c, b, len);
	put32o(c, usec ? 0xa1b2c3d4u : 0xa1b23c4du, be);
	put16o(c + 4, 2, be);
	put16o(c + 6, minor, be);
	put32o(c + 8, le32(b + 8), be);
	put32o(c + 12, le32(b + 12), be);
	put32o(c + 16, snap ? snap : le32(b + 16), be);
	put32o(c + 20, le32(b + 20), be);
	for (size_t off = 24; off + 16 <= len; off += 16 + le32(b + off + 8)) {
		uint32_t frac = le32(b + off + 4);
		put32o(c + off, le32(b + off), be);
		put32o(c + off + 4, usec ? frac / 1000 : frac, be);
		put32o(c + off + 8, le32(b + off + 8), be);
		put32o(c + off + 12, le32(b + off + 12), be);
	}
	return c;
}

static void same_run(const struct run *a, const struct run *b)
{
	assert_int_equal(a->rc, b->rc);
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->offset, b->offset);
	assert_memory_equal(&a->st, &b->st, sizeof a->st);
	for (size_t i = 0; i < a->n; i++)
		assert_true(event_same(&a->ev[i], &b->ev[i]));
	assert_true(!strstr(a->error, "truncated") == !strstr(b->error, "truncated"));
	assert_true(!strstr(a->error, "corrupt") == !strstr(b->error, "corrupt"));
}

static void test_pcap_native_as_libpcap(void **state)
{
	(void)state;
	struct run *mine = run_new(), *lib = run_new();
	uint16_t port = truth_port();
	struct pcapdns_opts o = { .ports = &port, .nports = 1 };
	size_t len;
	uint8_t *b = slurp(DATA "/lo.pcap", &len);
	char p4[300], p3[300];
	tmpdir_path(p4, sizeof p4, "v24.pcap");
	tmpdir_path(p3, sizeof p3, "v23.pcap");
	unsigned compared = 0;
	for (unsigned v = 0; v < 8; v++) {
		bool usec = v & 1, be = v & 2;
		uint32_t snap = v & 4 ? 90 : 0; /* shorter than many records */
		uint8_t *c4 = pcap_variant(b, len, usec, be, 4, snap);
		uint8_t *c3 = pcap_variant(b, len, usec, be, 3, snap);
		/* whole, cut at and inside records, and a corrupt length */
		size_t cuts[] = { len, len - 1, len - 20, 24 + 16 + 3, 24 + 7, 24, len / 2 };
		for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
			spill(p4, c4, cuts[k]);
			spill(p3, c3, cuts[k]);
			decode(mine, p4, &o);
			decode(lib, p3, &o);
			same_run(mine, lib);
			if (k == 0) /* cut to 90 bytes, most records no longer hold a query */
				assert_true(mine->rc == 0 && mine->n == (snap ? 26u : 106u));
			compared++;
		}
		size_t bad = 24;
		for (int r = 0; r < 20; r++)
			bad += 16 + le32(b + bad + 8);
		/* both lengths: version 2.3 would take a caplen above len for
		 * lengths written the other way round */
		memset(c4 + bad + 8, 0xFF, 8);
		memset(c3 + bad + 8, 0xFF, 8);
		spill(p4, c4, len);
		spill(p3, c3, len);
		decode(mine, p4, &o);
		decode(lib, p3, &o);
		same_run(mine, lib);
		assert_int_equal(mine->rc, BSC_EMALF);
		assert_int_equal(mine->offset, bad);
		free(c4);
		free(c3);
	}
	assert_int_equal(compared, 56);
	free(b);
	free(mine);
	free(lib);
}

static void test_pcap_stats_format(void **state)
{
	(void)state;
	struct pcapdns_stats st = { .packets = 10, .udp = 4, .fragments = 2 };
	st.dns.queries = 4;
	st.dns.events = 3;
	st.dns.other_zone = 1;
	char buf[512];
	size_t n = pcapdns_stats_format(&st, buf, sizeof buf);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "packets 10, udp 4, tcp 0, fragments 2, queries 4, "
				 "responses 0, events 3, other zone 1");
	char small[20];
	n = pcapdns_stats_format(&st, small, sizeof small);
	assert_int_equal(n, strlen(small));
	assert_true(n < sizeof small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcap_ethernet_matches_truth),
		cmocka_unit_test(test_pcapng_matches_truth),
		cmocka_unit_test(test_pcap_linux_cooked_matches_truth),
		cmocka_unit_test(test_pcap_timestamps_nanosecond),
		cmocka_unit_test(test_pcap_filters),
		cmocka_unit_test(test_pcap_match_off),
		cmocka_unit_test_setup_teardown(test_pcap_link_types, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_pcap_ip_layers, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_pcap_tcp_segments, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_pcap_dns_messages, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_pcap_match_window, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_pcap_many_queries, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_pcap_truncated, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_pcap_from_pipe),
		cmocka_unit_test_setup_teardown(test_pcap_alloc_failures, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_pcap_stats_format),
		cmocka_unit_test(test_qfilter_parse_as_server),
		cmocka_unit_test(test_qfilter_no_responses),
		cmocka_unit_test_setup_teardown(test_pcap_native_as_libpcap, tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
