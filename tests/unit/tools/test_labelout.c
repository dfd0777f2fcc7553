/* tests/unit/tools/test_labelout.c — tools/labelout.c: the streamed JSON array
 * (labelout_json_write, written directly) is byte for byte cli_json_print
 * of the whole json-c tree
 * (labelout_json_array), and the table (labelout_table) is byte for byte the
 * generic cli_table layout, for 0, 1 and many labels with every optional
 * field null and set, damaged values and long runs sharing a window.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/err.h"
#include "detector/fingerprint.h"
#include "tools/cli.h"
#include "tools/labelout.h"

#define H 1795341600ull /* 2026-11-22T10:00:00Z */
#define MANY 3000

struct mem_out {
	FILE *f;
	char *buf;
	size_t len;
};

static void mem_open(struct mem_out *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
}

static void mem_close(struct mem_out *m)
{
	assert_int_equal(fclose(m->f), 0);
}

/* The two outputs are the same bytes; on a difference, say where. */
static void same(const struct mem_out *want, const struct mem_out *got, const char *what)
{
	size_t i = 0;

	while (i < want->len && i < got->len && want->buf[i] == got->buf[i])
		i++;
	if (i == want->len && i == got->len)
		return;
	fail_msg("%s: differ at byte %zu (lengths %zu, %zu): want [%.60s] got [%.60s]", what, i,
		 want->len, got->len, want->buf + i, got->buf + i);
}

/* ---- the reference renderings: the whole tree, the generic table ---- */

static uint64_t ref_ns(uint64_t s)
{
	return s > UINT64_MAX / 1000000000ull ? UINT64_MAX / 1000000000ull * 1000000000ull
					       : s * 1000000000ull;
}

static char *ref_ports(const struct store_label *l, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (uint8_t k = 0; k < l->nports && k < STORE_LABEL_PORTS && pos < len; k++)
		pos += (size_t)snprintf(buf + pos, len - pos, "%s%u", k ? "," : "", l->ports[k]);
	if (!pos)
		snprintf(buf, len, "-");
	return buf;
}

static void ref_table(FILE *out, const struct store_label *l, size_t n, const char *empty)
{
	static const char *const hdr[] = { "source", "window start", "class", "size",
					   "protocol", "ports", "packets", "destinations",
					   "tool", "service" };
	static const enum cli_align align[] = { CLI_LEFT, CLI_LEFT, CLI_LEFT, CLI_LEFT,
						CLI_LEFT, CLI_LEFT, CLI_RIGHT, CLI_RIGHT,
						CLI_LEFT, CLI_LEFT };
	char a[ADDR_STRLEN], t[CLI_TIME_LEN], ports[64];
	struct cli_table *tb;

	if (!n) {
		fprintf(out, "%s\n", empty);
		return;
	}
	tb = cli_table_new(10, hdr, align);
	assert_non_null(tb);
	for (size_t i = 0; i < n; i++) {
		const struct store_label *r = &l[i];
		const char *sz = darknet_size_name((enum dk_size)r->size);
		const char *tool = fingerprint_tool_name((enum dk_tool)r->tool);
		const char *svc = darknet_service_name((enum dk_service)r->service);
		cli_table_add(tb, cli_addr_format(&r->source, a, sizeof a));
		cli_table_add(tb, cli_time_format(ref_ns(r->window_start_s), false, t, sizeof t));
		cli_table_add(tb, darknet_class_name((enum dk_class)r->cls));
		cli_table_add(tb, sz ? sz : "-");
		cli_table_add(tb, darknet_proto_name((enum dk_proto)r->protocol));
		cli_table_add(tb, ref_ports(r, ports, sizeof ports));
		cli_table_add_u64(tb, r->packets);
		cli_table_add_u64(tb, r->destinations);
		cli_table_add(tb, tool ? tool : "-");
		cli_table_add(tb, svc ? svc : "-");
	}
	cli_table_print(tb, out);
	cli_table_free(tb);
}

/* Both ways, both outputs, compared. */
static void check(const struct store_label *l, size_t n)
{
	struct mem_out want, got;

	mem_open(&want);
	assert_int_equal(cli_json_print(labelout_json_array(l, n), want.f), 0);
	mem_close(&want);
	mem_open(&got);
	labelout_json_write(got.f, l, n);
	mem_close(&got);
	same(&want, &got, "json");
	free(want.buf);
	free(got.buf);

	mem_open(&want);
	ref_table(want.f, l, n, "(nothing)");
	mem_close(&want);
	mem_open(&got);
	labelout_table(got.f, l, n, "(nothing)");
	mem_close(&got);
	same(&want, &got, "table");
	free(want.buf);
	free(got.buf);
}

static void v4(struct bsc_addr *a, const char *s, uint8_t prefix)
{
	memset(a, 0, sizeof *a);
	a->family = AF_INET;
	a->prefix = prefix;
	assert_int_equal(inet_pton(AF_INET, s, a->bytes), 1);
}

static void v6(struct bsc_addr *a, const char *s, uint8_t prefix)
{
	memset(a, 0, sizeof *a);
	a->family = AF_INET6;
	a->prefix = prefix;
	assert_int_equal(inet_pton(AF_INET6, s, a->bytes), 1);
}

/* Every optional field null: no size, ports, tool or service. */
static void label_bare(struct store_label *l)
{
	memset(l, 0, sizeof *l);
	v4(&l->source, "192.0.2.1", 32);
	l->cls = DK_CLASS_OTHER;
	l->protocol = DK_PROTO_UDP;
	l->packets = 1;
	l->destinations = 1;
	l->window_start_s = H;
	l->window_len_s = 3600;
}

/* Every optional field set. */
static void label_full(struct store_label *l)
{
	memset(l, 0, sizeof *l);
	v6(&l->source, "2001:db8::1:2", 128);
	l->cls = DK_CLASS_PORT_SCAN;
	l->size = DK_SIZE_LARGE;
	l->protocol = DK_PROTO_TCP;
	l->tool = DK_TOOL_MASSCAN;
	l->service = DK_SERVICE_SSH;
	l->nports = STORE_LABEL_PORTS;
	for (int k = 0; k < STORE_LABEL_PORTS; k++)
		l->ports[k] = (uint16_t)(k ? 65535 - k : 22);
	l->packets = UINT64_MAX;
	l->destinations = 4294967296ull;
	l->window_start_s = H + 3600;
	l->window_len_s = 3600;
}

static void test_empty(void **state)
{
	struct store_label l;

	(void)state;
	label_full(&l);
	check(&l, 0);
	/* the empty array as the tree prints it */
	struct mem_out got;
	mem_open(&got);
	labelout_json_write(got.f, NULL, 0);
	mem_close(&got);
	assert_string_equal(got.buf, "[\n]\n");
	free(got.buf);
}

static void test_one(void **state)
{
	struct store_label l;

	(void)state;
	label_bare(&l);
	check(&l, 1);
	label_full(&l);
	check(&l, 1);
	/* the fields, in order, of the documented schema */
	struct mem_out got;
	mem_open(&got);
	labelout_json_write(got.f, &l, 1);
	mem_close(&got);
	const char *want = "[\n"
			   "  {\n"
			   "    \"source\": \"2001:db8::1:2\",\n"
			   "    \"window_start\": \"2026-11-22T11:00:00Z\",\n"
			   "    \"class\": \"port-scan\",\n"
			   "    \"size\": \"large\",\n"
			   "    \"protocol\": \"tcp\",\n"
			   "    \"ports\": [\n"
			   "      22,\n"
			   "      65534,\n"
			   "      65533,\n"
			   "      65532\n"
			   "    ],\n"
			   "    \"packets\": 18446744073709551615,\n"
			   "    \"destinations\": 4294967296,\n"
			   "    \"tool\": \"masscan\",\n"
			   "    \"service\": \"ssh\"\n"
			   "  }\n"
			   "]\n";
	assert_string_equal(got.buf, want);
	free(got.buf);
}

/* xorshift: the same labels on every run */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_many(void **state)
{
	struct store_label *l = calloc(MANY, sizeof *l);
	uint64_t s = 0x9E3779B97F4A7C15ull, win = H;

	(void)state;
	assert_non_null(l);
	for (size_t i = 0; i < MANY; i++) {
		struct store_label *r = &l[i];
		uint64_t x = rnd(&s);
		if (i % 2 == 0)
			label_bare(r);
		else
			label_full(r);
		switch (x % 8) {
		case 0: /* a prefix, as a damaged label could hold */
			v4(&r->source, "198.51.100.0", 24);
			break;
		case 1:
			v6(&r->source, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 128);
			break;
		case 2:
			v6(&r->source, "2001:db8::", 64);
			break;
		case 3: /* no family: "?" */
			memset(&r->source, 0, sizeof r->source);
			break;
		default:
			r->source.family = AF_INET;
			r->source.prefix = 32;
			memcpy(r->source.bytes, &x, 4);
			break;
		}
		x = rnd(&s);
		r->cls = (uint8_t)(x % (DK_CLASS_COUNT + 3)); /* some out of range */
		r->size = (uint8_t)(x >> 8) % 4;
		r->protocol = (uint8_t)((x >> 16) % 7);
		r->tool = (uint8_t)((x >> 24) % 8);
		r->service = (uint8_t)((x >> 32) % 7);
		r->nports = (uint8_t)((x >> 40) % (STORE_LABEL_PORTS + 3)); /* some too many */
		for (int k = 0; k < STORE_LABEL_PORTS; k++)
			r->ports[k] = (uint16_t)rnd(&s);
		x = rnd(&s);
		r->packets = x >> (x % 64);
		r->destinations = x % 1000;
		/* long runs of one window, now and then the next one */
		if (rnd(&s) % 500 == 0)
			win += 3600;
		r->window_start_s = win;
	}
	l[17].window_start_s = UINT64_MAX; /* a time gmtime cannot take */
	l[18].window_start_s = 0;
	l[19].window_start_s = UINT64_MAX;
	check(l, MANY);
	check(l, 2);
	check(l + 3, 20);
	free(l);
}

/* labelout_ports cuts a short buffer as snprintf did. */
static void test_ports(void **state)
{
	struct store_label l;
	char want[64], got[64];

	(void)state;
	label_full(&l);
	for (uint8_t np = 0; np <= STORE_LABEL_PORTS + 1; np++) {
		l.nports = np;
		for (size_t len = 1; len < sizeof got; len++) {
			memset(want, 'x', sizeof want);
			memset(got, 'x', sizeof got);
			ref_ports(&l, want, len);
			assert_ptr_equal(labelout_ports(&l, got, len), got);
			assert_string_equal(got, want);
		}
	}
}

/* The writer's string escaping against json-c's (under cli_json_print's
 * flags): every byte value alone and between letters, every pair of byte
 * values, and NULL. */
static void json_str_same(const char *v)
{
	struct mem_out want, got;
	json_object *o = v ? json_object_new_string(v) : NULL;
	const char *ref = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_SPACED |
								JSON_C_TO_STRING_NOSLASHESCAPE);

	mem_open(&want);
	fputs(ref, want.f);
	mem_close(&want);
	mem_open(&got);
	labelout_json_string(got.f, v);
	mem_close(&got);
	same(&want, &got, v ? v : "(null)");
	json_object_put(o);
	free(want.buf);
	free(got.buf);
}

static void test_json_string(void **state)
{
	char s[8];

	(void)state;
	json_str_same(NULL);
	json_str_same("");
	for (unsigned b = 1; b < 256; b++) {
		snprintf(s, sizeof s, "%c", (char)b);
		json_str_same(s);
		snprintf(s, sizeof s, "a%cz", (char)b);
		json_str_same(s);
		for (unsigned c = 1; c < 256; c++) {
			s[0] = (char)b;
			s[1] = (char)c;
			s[2] = '\0';
			json_str_same(s);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_one),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_json_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
