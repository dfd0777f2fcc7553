/* tests/unit/tools/test_dnstap.c — dnstap frame streams to query events: the
 * file Knot DNS's mod-dnstap wrote (tests/data/dnstap/) decodes to exactly
 * the queries sent (truth.txt); frame streams written here cover joined
 * files, a missing STOP frame, truncation and corruption with their offsets,
 * the content type; frames fed one by one cover every message type and field.
 * Single-threaded cmocka program; files go to a temporary folder. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/helpers/tmpdir.h"
#include "dnstap.pb-c.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/revname.h"
#include "common/wire.h"
#include "tests/helpers/dnsq.h"
#include "tools/dnstap.h"

#define DATA BSC_TEST_DATA "/dnstap"
#define MAXEV 4096
#define PROBE "127.0.0.99" /* make.sh's readiness probe */

struct run {
	struct query_event ev[MAXEV];
	size_t n;
	int rc;
	bool finished;
	uint64_t offset;
	char error[512];
	struct dnstap_stats st;
};

static struct run *run_new(void)
{
	struct run *r = calloc(1, sizeof *r);
	assert_non_null(r);
	return r;
}

static int decode(struct run *r, const char *path, const struct dnstap_opts *o)
{
	struct dnstap *d = NULL;
	char err[512];
	memset(r, 0, sizeof *r);
	int rc = dnstap_open(&d, path, o, err, sizeof err);
	if (rc) {
		assert_null(d);
		snprintf(r->error, sizeof r->error, "%s", err);
		r->rc = rc;
		return rc;
	}
	struct query_event ev;
	while ((rc = dnstap_next(d, &ev)) == 1) {
		assert_true(r->n < MAXEV);
		r->ev[r->n++] = ev;
	}
	assert_int_equal(dnstap_next(d, &ev), rc); /* sticky */
	r->rc = rc;
	r->finished = dnstap_finished(d);
	r->offset = dnstap_offset(d);
	snprintf(r->error, sizeof r->error, "%s", dnstap_error(d));
	r->st = *dnstap_stats(d);
	dnstap_close(d);
	return rc;
}

/* ---- the ground truth ---- */

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

static size_t truth_load(const char *path, struct truth *t, size_t max)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[512];
	size_t n = 0;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#')
			continue;
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

static bool orig_equal(const struct revname *a, const struct revname *b)
{
	return a->kind == b->kind && addr_cmp(&a->addr, &b->addr) == 0 &&
	       (a->kind != REVNAME_CLASSLESS || addr_cmp(&a->classless, &b->classless) == 0);
}

static bool is_probe(const struct query_event *ev)
{
	struct bsc_addr p;
	assert_int_equal(addr_parse(&p, PROBE, false), 0);
	return addr_cmp(&p, &ev->querier) == 0;
}

/* Knot logs neither a query without a question nor one it finds malformed,
 * so those two are missing from its file. */
static bool knot_logs(const struct truth *t)
{
	return strcmp(t->note, "noquestion") != 0 && strcmp(t->note, "formerr") != 0;
}

static void check_truth(const struct run *r, size_t *probes)
{
	static struct truth t[512];
	size_t n = truth_load(DATA "/truth.txt", t, 512);
	bool used[512] = { false };
	size_t want = 0;
	*probes = 0;
	for (size_t i = 0; i < n; i++)
		want += knot_logs(&t[i]);
	for (size_t i = 0; i < r->n; i++) {
		const struct query_event *ev = &r->ev[i];
		if (is_probe(ev)) {
			(*probes)++;
			continue;
		}
		const struct truth *x = NULL;
		for (size_t k = 0; k < n; k++) {
			struct revname rn;
			revname_parse_text(t[k].qname, &rn);
			if (t[k].port == ev->querier_port &&
			    addr_cmp(&t[k].querier, &ev->querier) == 0 && orig_equal(&rn, &ev->orig) &&
			    t[k].qtype == ev->qtype && !used[k]) {
				x = &t[k];
				break;
			}
		}
		assert_non_null(x);
		assert_true(knot_logs(x));
		used[x - t] = true;
		assert_int_equal(!!(ev->flags & EVENT_TCP), x->tcp);
		assert_int_equal(!!(ev->flags & EVENT_RD), has_flag(x->flags, "rd"));
		assert_int_equal(!!(ev->flags & EVENT_EDNS), has_flag(x->flags, "edns"));
		assert_int_equal(!!(ev->flags & EVENT_DO), has_flag(x->flags, "do"));
		const char *e = strstr(x->flags, "ecs=");
		if (e) {
			char buf[64];
			size_t j = 0;
			for (e += 4; *e && *e != ',' && j + 1 < sizeof buf; e++)
				buf[j++] = *e;
			buf[j] = '\0';
			struct bsc_addr ecs;
			assert_int_equal(addr_parse(&ecs, buf, false), 0);
			assert_true(ev->flags & EVENT_ECS);
			assert_int_equal(addr_cmp(&ecs, &ev->ecs), 0);
		} else {
			assert_false(ev->flags & EVENT_ECS);
		}
		assert_false(ev->flags & EVENT_RCODE_UNKNOWN);
		assert_int_equal(ev->rcode, x->rcode);
	}
	assert_int_equal(r->n - *probes, want);
}

static void test_dnstap_knot_matches_truth(void **state)
{
	(void)state;
	struct run *r = run_new();
	assert_int_equal(decode(r, DATA "/knot.tap", NULL), 0);
	assert_true(r->finished);
	assert_string_equal(r->error, "");
	size_t probes;
	check_truth(r, &probes);
	assert_true(probes >= 1);
	assert_int_equal(r->st.streams, 1);
	assert_int_equal(r->st.bad_frames + r->st.not_message + r->st.other_type +
				 r->st.incomplete,
			 0);
	/* queries and responses, all logged */
	assert_int_equal(r->st.frames, r->st.dns.queries + r->st.dns.responses);
	assert_int_equal(r->st.dns.rcode_known, r->n);
	/* the replies to the two queries Knot did not log */
	assert_int_equal(r->st.dns.unmatched, 2);
	assert_int_equal(r->st.dns.other_class, 1);
	FILE *f = fopen(DATA "/knot.tap", "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	assert_int_equal(r->offset, (uint64_t)ftell(f));
	fclose(f);
	free(r);
}

static void test_dnstap_filters(void **state)
{
	(void)state;
	struct run *r = run_new();
	struct qfilter *f = NULL;
	assert_int_equal(qfilter_new(&f), 0);
	assert_int_equal(qfilter_add_server(f, "::1"), 0);
	struct dnstap_opts o = { .filter = f };
	assert_int_equal(decode(r, DATA "/knot.tap", &o), 0);
	assert_int_equal(r->n, 13);
	for (size_t i = 0; i < r->n; i++)
		assert_int_equal(r->ev[i].querier.family, AF_INET6);
	qfilter_free(f);
	assert_int_equal(qfilter_new(&f), 0);
	assert_int_equal(qfilter_add_zone(f, "8.b.d.0.1.0.0.2.ip6.arpa"), 0);
	o.filter = f;
	assert_int_equal(decode(r, DATA "/knot.tap", &o), 0);
	assert_int_equal(r->n, 13);
	for (size_t i = 0; i < r->n; i++)
		assert_int_equal(r->ev[i].orig.addr.family, AF_INET6);
	assert_int_equal(r->st.dns.other_zone, r->st.dns.queries - 13);
	qfilter_free(f);
	free(r);
}

/* ---- frame streams written here ---- */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n + 1);
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

/* Offsets of the frames of a frame stream (data and control, START first). */
static size_t frames_of(const uint8_t *b, size_t len, size_t *off, size_t max)
{
	size_t n = 0, p = 0;
	while (p + 4 <= len && n < max) {
		off[n++] = p;
		uint32_t l = wire_get_u32(b + p);
		if (l == 0)
			p += 8 + wire_get_u32(b + p + 4);
		else
			p += 4 + l;
	}
	return n;
}

static bool same_query(const struct query_event *a, const struct query_event *b)
{
	return a->time_ns == b->time_ns && a->querier_port == b->querier_port &&
	       addr_cmp(&a->querier, &b->querier) == 0 && orig_equal(&a->orig, &b->orig);
}

static void test_dnstap_joined_files(void **state)
{
	(void)state;
	struct run *one = run_new(), *r = run_new();
	assert_int_equal(decode(one, DATA "/knot.tap", NULL), 0);
	size_t len;
	uint8_t *b = slurp(DATA "/knot.tap", &len);
	uint8_t *two = malloc(2 * len);
	assert_non_null(two);
	memcpy(two, b, len);
	memcpy(two + len, b, len);
	char path[300];
	tmpdir_path(path, sizeof path, "two.tap");
	spill(path, two, 2 * len);
	assert_int_equal(decode(r, path, NULL), 0);
	assert_true(r->finished);
	assert_int_equal(r->st.streams, 2);
	assert_int_equal(r->n, 2 * one->n);
	for (size_t i = 0; i < one->n; i++) {
		assert_true(same_query(&r->ev[i], &one->ev[i]));
		assert_true(same_query(&r->ev[one->n + i], &one->ev[i]));
	}
	/* a second stream that is not one */
	memcpy(two + len, "garbage!", 8);
	spill(path, two, len + 8);
	assert_int_equal(decode(r, path, NULL), BSC_EMALF);
	assert_int_equal(r->n, one->n);
	assert_int_equal(r->offset, len);
	free(two);
	free(b);
	free(one);
	free(r);
}

static void test_dnstap_no_stop_frame(void **state)
{
	(void)state;
	struct run *one = run_new(), *r = run_new();
	assert_int_equal(decode(one, DATA "/knot.tap", NULL), 0);
	size_t len;
	uint8_t *b = slurp(DATA "/knot.tap", &len);
	static const uint8_t stop[12] = { 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3 };
	assert_memory_equal(b + len - 12, stop, 12);
	char path[300];
	tmpdir_path(path, sizeof path, "nostop.tap");
	spill(path, b, len - 12);
	assert_int_equal(decode(r, path, NULL), 0);
	assert_false(r->finished);
	assert_non_null(strstr(r->error, "without a STOP frame"));
	assert_non_null(strstr(r->error, path));
	assert_int_equal(r->n, one->n);
	assert_int_equal(r->offset, len - 12);
	free(b);
	free(one);
	free(r);
}

static void test_dnstap_truncated(void **state)
{
	(void)state;
	struct run *one = run_new(), *r = run_new();
	assert_int_equal(decode(one, DATA "/knot.tap", NULL), 0);
	size_t len;
	uint8_t *b = slurp(DATA "/knot.tap", &len);
	size_t off[1024];
	size_t nf = frames_of(b, len, off, 1024);
	assert_true(nf > 100);
	char path[300];
	tmpdir_path(path, sizeof path, "cut.tap");
	unsigned tried = 0;
	for (size_t k = 1; k < nf; k += (k < 30 ? 1 : 13)) {
		const size_t deltas[] = { 1, 3, 4, 5, 40 };
		for (size_t j = 0; j < sizeof deltas / sizeof deltas[0]; j++) {
			size_t cut = off[k] + deltas[j];
			if ((k + 1 < nf && cut >= off[k + 1]) || cut >= len)
				continue;
			spill(path, b, cut);
			assert_int_equal(decode(r, path, NULL), BSC_ETRUNC);
			assert_false(r->finished);
			assert_int_equal(r->offset, off[k]);
			char want[64];
			snprintf(want, sizeof want, "truncated frame at byte %zu ", off[k]);
			assert_non_null(strstr(r->error, want));
			assert_non_null(strstr(r->error, path));
			assert_true(r->n <= one->n);
			for (size_t i = 0; i < r->n; i++)
				assert_true(same_query(&r->ev[i], &one->ev[i]));
			/* each query whose frame is whole is there */
			assert_int_equal(r->st.frames, k - 1);
			tried++;
		}
	}
	assert_true(tried > 50);
	/* inside the START frame, and an empty file */
	spill(path, b, 20);
	assert_int_equal(decode(r, path, NULL), BSC_ETRUNC);
	assert_non_null(strstr(r->error, "START"));
	spill(path, b, 0);
	assert_int_equal(decode(r, path, NULL), BSC_ETRUNC);
	free(b);
	free(one);
	free(r);
}

static void test_dnstap_corrupt(void **state)
{
	(void)state;
	struct run *one = run_new(), *r = run_new();
	assert_int_equal(decode(one, DATA "/knot.tap", NULL), 0);
	size_t len;
	uint8_t *b = slurp(DATA "/knot.tap", &len);
	size_t off[1024];
	size_t nf = frames_of(b, len, off, 1024);
	char path[300];
	tmpdir_path(path, sizeof path, "bad.tap");
	/* a frame length far past any frame */
	size_t k = nf / 2;
	uint8_t saved[8];
	memcpy(saved, b + off[k], 8);
	wire_put_u32(b + off[k], 0x7FFFFFF0u);
	spill(path, b, len);
	assert_int_equal(decode(r, path, NULL), BSC_EMALF);
	assert_int_equal(r->offset, off[k]);
	assert_non_null(strstr(r->error, "corrupt frame"));
	assert_int_equal(r->st.frames, k - 1);
	for (size_t i = 0; i < r->n; i++)
		assert_true(same_query(&r->ev[i], &one->ev[i]));
	/* an escape followed by a control frame too long to be one */
	wire_put_u32(b + off[k], 0);
	wire_put_u32(b + off[k] + 4, 100000);
	spill(path, b, len);
	assert_int_equal(decode(r, path, NULL), BSC_EMALF);
	assert_int_equal(r->offset, off[k]);
	memcpy(b + off[k], saved, 8);
	/* a data frame that is no protobuf: skipped and counted, the rest read */
	memset(b + off[k] + 4, 0xFF, 8);
	spill(path, b, len);
	assert_int_equal(decode(r, path, NULL), 0);
	assert_int_equal(r->st.bad_frames, 1);
	assert_true(r->n >= one->n - 1);
	free(b);
	free(one);
	free(r);
}

/* A frame stream with @ctype, then @nframes frames, then STOP. */
static size_t stream(uint8_t *out, const char *ctype, const uint8_t *const *frames,
		     const size_t *lens, size_t nframes)
{
	size_t p = 0, cl = strlen(ctype);
	wire_put_u32(out, 0);
	wire_put_u32(out + 4, (uint32_t)(12 + cl));
	wire_put_u32(out + 8, 2); /* START */
	wire_put_u32(out + 12, 1); /* content type field */
	wire_put_u32(out + 16, (uint32_t)cl);
	memcpy(out + 20, ctype, cl);
	p = 20 + cl;
	for (size_t i = 0; i < nframes; i++) {
		wire_put_u32(out + p, (uint32_t)lens[i]);
		memcpy(out + p + 4, frames[i], lens[i]);
		p += 4 + lens[i];
	}
	wire_put_u32(out + p, 0);
	wire_put_u32(out + p + 4, 4);
	wire_put_u32(out + p + 8, 3); /* STOP */
	return p + 12;
}

/* ---- frames ---- */

struct msg {
	Dnstap__Message__Type type;
	const char *client, *server;
	uint16_t cport, sport;
	int proto; /* 0 = not set */
	uint64_t sec;
	uint32_t nsec;
	bool no_time;
	const uint8_t *dns;
	size_t dnslen;
};

static size_t pack(uint8_t *out, const struct msg *x)
{
	Dnstap__Dnstap dt = DNSTAP__DNSTAP__INIT;
	Dnstap__Message m = DNSTAP__MESSAGE__INIT;
	uint8_t ca[16], sa[16];
	struct bsc_addr a;
	dt.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
	dt.message = &m;
	static uint8_t ident[] = "test";
	dt.has_identity = true;
	dt.identity.data = ident;
	dt.identity.len = 4;
	m.type = x->type;
	bool query = x->type % 2 == 1;
	if (x->client) {
		assert_int_equal(addr_parse(&a, x->client, false), 0);
		size_t l = a.family == AF_INET ? 4 : 16;
		memcpy(ca, a.bytes, l);
		m.has_query_address = true;
		m.query_address.data = ca;
		m.query_address.len = l;
		m.has_socket_family = true;
		m.socket_family = l == 4 ? DNSTAP__SOCKET_FAMILY__INET
					 : DNSTAP__SOCKET_FAMILY__INET6;
	}
	if (x->server) {
		assert_int_equal(addr_parse(&a, x->server, false), 0);
		size_t l = a.family == AF_INET ? 4 : 16;
		memcpy(sa, a.bytes, l);
		m.has_response_address = true;
		m.response_address.data = sa;
		m.response_address.len = l;
	}
	m.has_query_port = true;
	m.query_port = x->cport;
	m.has_response_port = true;
	m.response_port = x->sport;
	if (x->proto) {
		m.has_socket_protocol = true;
		m.socket_protocol = (Dnstap__SocketProtocol)x->proto;
	}
	if (query) {
		m.has_query_time_sec = !x->no_time;
		m.query_time_sec = x->sec;
		m.has_query_time_nsec = !x->no_time;
		m.query_time_nsec = x->nsec;
		if (x->dns) {
			m.has_query_message = true;
			m.query_message.data = (uint8_t *)(uintptr_t)x->dns;
			m.query_message.len = x->dnslen;
		}
	} else {
		m.has_response_time_sec = !x->no_time;
		m.response_time_sec = x->sec;
		m.has_response_time_nsec = !x->no_time;
		m.response_time_nsec = x->nsec;
		if (x->dns) {
			m.has_response_message = true;
			m.response_message.data = (uint8_t *)(uintptr_t)x->dns;
			m.response_message.len = x->dnslen;
		}
	}
	return dnstap__dnstap__pack(&dt, out);
}

static size_t dnsq(uint8_t *buf, const char *name, uint16_t id, bool edns, bool do_bit)
{
	struct dnsq_opts o = { .id = id, .rd = false, .edns = edns, .do_bit = do_bit };
	int n = dnsq_build(buf, 512, name, 12, &o);
	assert_true(n > 0);
	return (size_t)n;
}

static int take_all(struct dnstap *d, struct query_event *ev, size_t max)
{
	int n = 0;
	while (n < (int)max && dnstap_next(d, &ev[n]) == 1)
		n++;
	return n;
}

static void test_dnstap_feed_messages(void **state)
{
	(void)state;
	struct dnstap *d = NULL;
	assert_int_equal(dnstap_open_frames(&d, NULL), 0);
	struct query_event ev[16];
	uint8_t f[4096], q1[512], q2[512], a1[512];
	size_t l1 = dnsq(q1, "4.3.2.1.in-addr.arpa.", 11, false, false);
	size_t l2 = dnsq(q2, "8.b.d.0.1.0.0.2.ip6.arpa.", 12, true, true);

	/* AUTH_QUERY over UDP from IPv4 */
	struct msg m = { .type = DNSTAP__MESSAGE__TYPE__AUTH_QUERY, .client = "192.0.2.9",
			 .server = "192.0.2.53", .cport = 4444, .sport = 53, .proto = 1,
			 .sec = 1700000000, .nsec = 123456789, .dns = q1, .dnslen = l1 };
	dnstap_feed(d, f, pack(f, &m));
	/* CLIENT_QUERY over DoT from IPv6: TCP */
	struct msg m2 = { .type = DNSTAP__MESSAGE__TYPE__CLIENT_QUERY, .client = "2001:db8::9",
			  .server = "2001:db8::53", .cport = 5555, .sport = 853, .proto = 3,
			  .sec = 1700000001, .dns = q2, .dnslen = l2 };
	dnstap_feed(d, f, pack(f, &m2));
	/* the response to the first: NXDOMAIN */
	memcpy(a1, q1, l1);
	a1[2] |= 0x80;
	a1[3] = 3;
	struct msg r1 = { .type = DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE, .client = "192.0.2.9",
			  .server = "192.0.2.53", .cport = 4444, .sport = 53, .proto = 1,
			  .sec = 1700000001, .dns = a1, .dnslen = l1 };
	dnstap_feed(d, f, pack(f, &r1));
	/* skipped: RESOLVER_QUERY, no address, no time, no DNS message, a
	 * "response" holding a query, garbage, a Dnstap without a message */
	struct msg x = m;
	x.type = DNSTAP__MESSAGE__TYPE__RESOLVER_QUERY;
	dnstap_feed(d, f, pack(f, &x));
	x = m;
	x.client = NULL;
	dnstap_feed(d, f, pack(f, &x));
	x = m;
	x.no_time = true;
	dnstap_feed(d, f, pack(f, &x));
	x = m;
	x.dns = NULL;
	dnstap_feed(d, f, pack(f, &x));
	x = r1;
	x.dns = q1;
	dnstap_feed(d, f, pack(f, &x));
	dnstap_feed(d, (const uint8_t *)"\xff\xff\xff\xff", 4);
	Dnstap__Dnstap empty = DNSTAP__DNSTAP__INIT;
	dnstap_feed(d, f, dnstap__dnstap__pack(&empty, f));
	dnstap_feed_end(d);
	int n = take_all(d, ev, 16);
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].time_ns, 1700000000123456789ull);
	assert_int_equal(ev[0].querier_port, 4444);
	assert_int_equal(ev[0].rcode, 3);
	assert_int_equal(ev[0].flags, 0);
	char buf[64];
	addr_format(&ev[0].querier, buf, sizeof buf);
	assert_string_equal(buf, "192.0.2.9");
	addr_format(&ev[0].orig.addr, buf, sizeof buf);
	assert_string_equal(buf, "1.2.3.4");
	assert_int_equal(ev[1].flags, EVENT_TCP | EVENT_EDNS | EVENT_DO | EVENT_RCODE_UNKNOWN);
	assert_int_equal(ev[1].orig.kind, REVNAME_PARTIAL);
	addr_format(&ev[1].querier, buf, sizeof buf);
	assert_string_equal(buf, "2001:db8::9");
	const struct dnstap_stats *st = dnstap_stats(d);
	assert_int_equal(st->frames, 10);
	assert_int_equal(st->other_type, 1);
	assert_int_equal(st->incomplete, 4);
	assert_int_equal(st->bad_frames, 1);
	assert_int_equal(st->not_message, 1);
	assert_int_equal(st->dns.events, 2);
	assert_int_equal(st->dns.rcode_known, 1);
	dnstap_close(d);

	/* the server filter reads response_address */
	struct qfilter *flt = NULL;
	assert_int_equal(qfilter_new(&flt), 0);
	assert_int_equal(qfilter_add_server(flt, "2001:db8::/32"), 0);
	struct dnstap_opts o = { .filter = flt };
	assert_int_equal(dnstap_open_frames(&d, &o), 0);
	dnstap_feed(d, f, pack(f, &m));
	dnstap_feed(d, f, pack(f, &m2));
	x = m2;
	x.server = NULL;
	dnstap_feed(d, f, pack(f, &x));
	dnstap_feed_end(d);
	n = take_all(d, ev, 16);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].querier_port, 5555);
	assert_int_equal(dnstap_stats(d)->dns.other_server, 2);
	dnstap_close(d);
	qfilter_free(flt);
}

/* A file written here: content type checked, a frame larger than the
 * decoder's arena decoded all the same. */
static void test_dnstap_written_streams(void **state)
{
	(void)state;
	struct run *r = run_new();
	static uint8_t out[1 << 20], f1[600 * 1024], f2[4096];
	uint8_t q[512];
	size_t ql = dnsq(q, "1.0.0.10.in-addr.arpa.", 1, false, false);
	struct msg m = { .type = DNSTAP__MESSAGE__TYPE__AUTH_QUERY, .client = "10.9.9.9",
			 .server = "10.0.0.53", .cport = 1, .sport = 53, .sec = 5, .dns = q,
			 .dnslen = ql };
	size_t l2 = pack(f2, &m);
	/* the same message with a 500 KB identity */
	Dnstap__Dnstap *dt = dnstap__dnstap__unpack(NULL, l2, f2);
	assert_non_null(dt);
	static uint8_t big[500 * 1024];
	memset(big, 'x', sizeof big);
	ProtobufCBinaryData ident = dt->identity;
	dt->identity.data = big;
	dt->identity.len = sizeof big;
	size_t l1 = dnstap__dnstap__pack(dt, f1);
	dt->identity = ident;
	dnstap__dnstap__free_unpacked(dt, NULL);
	const uint8_t *frames[2] = { f1, f2 };
	size_t lens[2] = { l1, l2 };
	char path[300];
	tmpdir_path(path, sizeof path, "w.tap");
	spill(path, out, stream(out, DNSTAP_CONTENT_TYPE, frames, lens, 2));
	assert_int_equal(decode(r, path, NULL), 0);
	assert_int_equal(r->n, 2);
	assert_true(r->finished);
	assert_int_equal(r->ev[0].time_ns, 5000000000ull);

	spill(path, out, stream(out, "protobuf:other.Thing", frames, lens, 2));
	assert_int_equal(decode(r, path, NULL), BSC_EMALF);
	assert_non_null(strstr(r->error, "protobuf:other.Thing"));
	assert_non_null(strstr(r->error, path));
	spill(path, (const uint8_t *)"hello, this is no frame stream at all\n", 38);
	assert_int_equal(decode(r, path, NULL), BSC_EMALF);
	assert_int_equal(decode(r, "/nonexistent/x.tap", NULL), BSC_ENOENT);
	assert_non_null(strstr(r->error, "/nonexistent/x.tap"));
	free(r);
}

/* Every allocation may fail: the decoder says so and leaks nothing. */
static void test_dnstap_alloc_failures(void **state)
{
	(void)state;
	bool ok = false;
	for (long k = 0; k < 40 && !ok; k++) {
		mem_fail_after(k);
		struct dnstap *d = NULL;
		char err[512];
		int rc = dnstap_open(&d, DATA "/knot.tap", NULL, err, sizeof err);
		size_t n = 0;
		if (rc == 0) {
			struct query_event ev;
			while ((rc = dnstap_next(d, &ev)) == 1)
				n++;
			if (rc)
				assert_non_null(strstr(dnstap_error(d), "memory"));
			dnstap_close(d);
		} else {
			assert_null(d);
			assert_non_null(strstr(err, "knot.tap"));
		}
		mem_fail_after(-1);
		assert_true(rc == 0 || rc == BSC_ENOMEM);
		ok = rc == 0;
		if (ok)
			assert_true(n > 100);
	}
	assert_true(ok);
}

static void test_dnstap_stats_format(void **state)
{
	(void)state;
	struct dnstap_stats st = { .frames = 7, .other_type = 2, .streams = 1 };
	st.dns.queries = 5;
	st.dns.events = 5;
	st.dns.rcode_known = 5;
	char buf[256];
	size_t n = dnstap_stats_format(&st, buf, sizeof buf);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "frames 7, other types 2, queries 5, responses 0, events 5, "
				 "rcode known 5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dnstap_knot_matches_truth),
		cmocka_unit_test(test_dnstap_filters),
		cmocka_unit_test_setup_teardown(test_dnstap_joined_files, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_dnstap_no_stop_frame, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_dnstap_truncated, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_dnstap_corrupt, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_dnstap_feed_messages),
		cmocka_unit_test_setup_teardown(test_dnstap_written_streams, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_dnstap_alloc_failures),
		cmocka_unit_test(test_dnstap_stats_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
