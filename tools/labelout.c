/* tools/labelout.c — darknet labels as JSON objects and table rows
 * (tools/labelout.h; schema in docs/cli.md "darknet label").  The JSON array
 * and the table are written row by row, so printing needs no memory that
 * grows with the number of labels.
 *
 * Main thread (the CLI). */
#include <assert.h>
#include <string.h>
#include "common/bucket.h"
#include "common/err.h"
#include "common/mem.h"
#include "detector/fingerprint.h"
#include "tools/cli.h"
#include "tools/labelout.h"

#define LO_COLS 10
#define LO_U64_LEN 21 /* "18446744073709551615" and NUL */
#define LO_PORTS_LEN (STORE_LABEL_PORTS * 6 + 2)
#define LO_OUT_LEN 16384

/* ns of @s, saturated (a damaged label must not wrap around). */
static uint64_t labelout_ns(uint64_t s)
{
	return s > UINT64_MAX / NS_PER_S ? UINT64_MAX / NS_PER_S * NS_PER_S : s * NS_PER_S;
}

/* The RFC 3339 form of a window start, kept for the next label: labels come
 * window by window, so consecutive ones mostly share it. */
struct lo_time {
	bool valid;
	uint64_t s;
	size_t len;
	char text[CLI_TIME_LEN];
};

static const char *lo_time_get(struct lo_time *tc, uint64_t s)
{
	if (!tc->valid || tc->s != s) {
		cli_time_format(labelout_ns(s), false, tc->text, sizeof tc->text);
		tc->len = strlen(tc->text);
		tc->s = s;
		tc->valid = true;
	}
	return tc->text;
}

/* Decimal @v at @p (no NUL).  Returns its length. */
static size_t lo_u64(char *p, uint64_t v)
{
	char tmp[LO_U64_LEN];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

void labelout_from_record(struct store_label *l, const struct dk_record *r, uint64_t window_s)
{
	memset(l, 0, sizeof *l);
	l->source = r->source;
	l->cls = (uint8_t)r->cls;
	l->size = (uint8_t)r->size;
	l->protocol = (uint8_t)r->protocol;
	l->tool = (uint8_t)r->tool;
	l->service = (uint8_t)r->service;
	l->nports = r->nports < STORE_LABEL_PORTS ? r->nports : STORE_LABEL_PORTS;
	memcpy(l->ports, r->ports, l->nports * sizeof l->ports[0]);
	l->packets = r->packets;
	l->destinations = r->destinations;
	l->window_start_s = r->window_start_ns / NS_PER_S;
	l->window_len_s = (uint32_t)(window_s > UINT32_MAX ? UINT32_MAX : window_s);
}

json_object *labelout_json(const struct store_label *l)
{
	struct lo_time tc = { .valid = false };
	json_object *o = json_object_new_object();
	json_object *ports = json_object_new_array();

	if (!o || !ports) {
		json_object_put(o);
		json_object_put(ports);
		return NULL;
	}
	cli_json_addr(o, "source", &l->source);
	cli_json_str(o, "window_start", lo_time_get(&tc, l->window_start_s));
	cli_json_str(o, "class", darknet_class_name((enum dk_class)l->cls));
	cli_json_str(o, "size", darknet_size_name((enum dk_size)l->size));
	cli_json_str(o, "protocol", darknet_proto_name((enum dk_proto)l->protocol));
	for (uint8_t k = 0; k < l->nports && k < STORE_LABEL_PORTS; k++)
		json_object_array_add(ports, json_object_new_int(l->ports[k]));
	json_object_object_add(o, "ports", ports);
	cli_json_u64(o, "packets", l->packets);
	cli_json_u64(o, "destinations", l->destinations);
	cli_json_str(o, "tool", fingerprint_tool_name((enum dk_tool)l->tool));
	cli_json_str(o, "service", darknet_service_name((enum dk_service)l->service));
	return o;
}

json_object *labelout_json_array(const struct store_label *l, size_t n)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; arr && i < n; i++) {
		json_object *o = labelout_json(&l[i]);
		if (!o) {
			json_object_put(arr);
			return NULL;
		}
		json_object_array_add(arr, o);
	}
	return arr;
}

/* The ports as labelout_ports() gives them, at @p (room for LO_PORTS_LEN,
 * no NUL).  Returns the length. */
static size_t lo_ports(char *p, const struct store_label *l)
{
	size_t pos = 0;

	for (uint8_t k = 0; k < l->nports && k < STORE_LABEL_PORTS; k++) {
		if (k)
			p[pos++] = ',';
		pos += lo_u64(p + pos, l->ports[k]);
	}
	if (!pos)
		p[pos++] = '-';
	return pos;
}

char *labelout_ports(const struct store_label *l, char *buf, size_t len)
{
	char tmp[LO_PORTS_LEN];
	size_t pos;

	if (!len)
		return buf;
	pos = lo_ports(tmp, l);
	/* cut like snprintf when @buf is short */
	if (pos > len - 1)
		pos = len - 1;
	memcpy(buf, tmp, pos);
	buf[pos] = '\0';
	return buf;
}

/* ---- the table ---- */

/* One row's cells; the text lives in the row or in static names.  Every
 * cell is ASCII (an address, an RFC 3339 time, digits, fixed names), so a
 * cell is as wide as it is long. */
struct lo_row {
	const char *cell[LO_COLS];
	size_t len[LO_COLS];
	char addr[ADDR_STRLEN];
	char ports[LO_PORTS_LEN];
	char packets[LO_U64_LEN];
	char dests[LO_U64_LEN];
};

static const enum cli_align lo_align[LO_COLS] = { CLI_LEFT, CLI_LEFT, CLI_LEFT, CLI_LEFT,
						  CLI_LEFT, CLI_LEFT, CLI_RIGHT, CLI_RIGHT,
						  CLI_LEFT, CLI_LEFT };

/* The address as cli_addr_format() writes it; returns its length. */
static size_t lo_addr(char *buf, size_t len, const struct bsc_addr *a)
{
	return strlen(cli_addr_format(a, buf, len));
}

static void lo_set(struct lo_row *w, int c, const char *text)
{
	w->cell[c] = text ? text : "";
	w->len[c] = strlen(w->cell[c]);
}

static void lo_row_fill(struct lo_row *w, struct lo_time *tc, const struct store_label *r)
{
	const char *sz = darknet_size_name((enum dk_size)r->size);
	const char *tool = fingerprint_tool_name((enum dk_tool)r->tool);
	const char *svc = darknet_service_name((enum dk_service)r->service);

	w->cell[0] = w->addr;
	w->len[0] = lo_addr(w->addr, sizeof w->addr, &r->source);
	w->cell[1] = lo_time_get(tc, r->window_start_s);
	w->len[1] = tc->len;
	lo_set(w, 2, darknet_class_name((enum dk_class)r->cls));
	lo_set(w, 3, sz ? sz : "-");
	lo_set(w, 4, darknet_proto_name((enum dk_proto)r->protocol));
	w->cell[5] = w->ports;
	w->len[5] = lo_ports(w->ports, r);
	w->cell[6] = w->packets;
	w->len[6] = lo_u64(w->packets, r->packets);
	w->packets[w->len[6]] = '\0';
	w->cell[7] = w->dests;
	w->len[7] = lo_u64(w->dests, r->destinations);
	w->dests[w->len[7]] = '\0';
	lo_set(w, 8, tool ? tool : "-");
	lo_set(w, 9, svc ? svc : "-");
}

/* Output gathered in a buffer and written in large pieces. */
struct lo_out {
	FILE *f;
	size_t pos;
	char buf[LO_OUT_LEN];
};

static void lo_flush(struct lo_out *o)
{
	if (o->pos)
		fwrite(o->buf, 1, o->pos, o->f);
	o->pos = 0;
}

/* Room for @n (at most LO_OUT_LEN) bytes at the end of the buffer; the
 * caller writes them and advances @o->pos. */
static inline char *lo_room(struct lo_out *o, size_t n)
{
	if (n > sizeof o->buf - o->pos)
		lo_flush(o);
	return o->buf + o->pos;
}

static inline void lo_put(struct lo_out *o, const char *s, size_t n)
{
	if (n > sizeof o->buf) {
		lo_flush(o);
		fwrite(s, 1, n, o->f);
		return;
	}
	memcpy(lo_room(o, n), s, n);
	o->pos += n;
}

/* ---- the JSON array, written directly ---- */

/* A JSON string value (escaped as json-c escapes it), or null. */
static void lo_json_str(struct lo_out *o, const char *v)
{
	static const char hex[] = "0123456789abcdef";
	const char *p;

	if (!v) {
		lo_put(o, "null", 4);
		return;
	}
	lo_put(o, "\"", 1);
	for (p = v; *p && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\'; p++)
		;
	lo_put(o, v, (size_t)(p - v)); /* what needs no escaping, at once */
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		switch (c) {
		case '"': lo_put(o, "\\\"", 2); break;
		case '\\': lo_put(o, "\\\\", 2); break;
		case '\b': lo_put(o, "\\b", 2); break;
		case '\f': lo_put(o, "\\f", 2); break;
		case '\n': lo_put(o, "\\n", 2); break;
		case '\r': lo_put(o, "\\r", 2); break;
		case '\t': lo_put(o, "\\t", 2); break;
		default:
			if (c < 0x20)
				lo_put(o, e, sizeof e);
			else
				lo_put(o, p, 1);
		}
	}
	lo_put(o, "\"", 1);
}

static void lo_json_u64(struct lo_out *o, uint64_t v)
{
	o->pos += lo_u64(lo_room(o, LO_U64_LEN), v);
}

/* One object, as json-c prints it inside the array (pretty, spaced, two
 * spaces a level): labelout_json() is the reference, and test_labelout
 * compares the two. */
static void lo_json_obj(struct lo_out *o, const struct store_label *l, struct lo_time *tc)
{
	char addr[ADDR_STRLEN];

	/* the first key, then each next one after the previous value's comma */
#define LO_KEY(k) lo_put(o, "    \"" k "\": ", sizeof "    \"" k "\": " - 1)
#define LO_NEXT(k) lo_put(o, ",\n    \"" k "\": ", sizeof ",\n    \"" k "\": " - 1)
	lo_put(o, "  {\n", 4);
	LO_KEY("source");
	lo_addr(addr, sizeof addr, &l->source);
	lo_json_str(o, addr);
	LO_NEXT("window_start");
	lo_json_str(o, lo_time_get(tc, l->window_start_s));
	LO_NEXT("class");
	lo_json_str(o, darknet_class_name((enum dk_class)l->cls));
	LO_NEXT("size");
	lo_json_str(o, darknet_size_name((enum dk_size)l->size));
	LO_NEXT("protocol");
	lo_json_str(o, darknet_proto_name((enum dk_proto)l->protocol));
	LO_NEXT("ports");
	lo_put(o, "[\n", 2);
	for (uint8_t k = 0; k < l->nports && k < STORE_LABEL_PORTS; k++) {
		if (k)
			lo_put(o, ",\n", 2);
		lo_put(o, "      ", 6);
		lo_json_u64(o, l->ports[k]);
	}
	if (l->nports)
		lo_put(o, "\n", 1);
	lo_put(o, "    ]", 5);
	LO_NEXT("packets");
	lo_json_u64(o, l->packets);
	LO_NEXT("destinations");
	lo_json_u64(o, l->destinations);
	LO_NEXT("tool");
	lo_json_str(o, fingerprint_tool_name((enum dk_tool)l->tool));
	LO_NEXT("service");
	lo_json_str(o, darknet_service_name((enum dk_service)l->service));
	lo_put(o, "\n  }", 4);
#undef LO_NEXT
#undef LO_KEY
}

void labelout_json_string(FILE *out, const char *v)
{
	struct lo_out o = { .f = out, .pos = 0 };

	lo_json_str(&o, v);
	lo_flush(&o);
}

void labelout_json_write(FILE *out, const struct store_label *l, size_t n)
{
	struct lo_time tc = { .valid = false };
	struct lo_out o = { .f = out, .pos = 0 };

	lo_put(&o, "[\n", 2);
	for (size_t i = 0; i < n; i++) {
		if (i)
			lo_put(&o, ",\n", 2);
		lo_json_obj(&o, &l[i], &tc);
	}
	lo_put(&o, n ? "\n]\n" : "]\n", n ? 3 : 2);
	lo_flush(&o);
}

/* One line as cli_table_print lays it out: columns two spaces apart, numbers
 * right-aligned, no padding after the last non-empty cell.  @row_max: the
 * longest line the widths allow. */
static void lo_row_print(struct lo_out *o, const struct lo_row *w, const size_t *width,
			 size_t row_max)
{
	int last = 0;
	char *start = lo_room(o, row_max), *p = start;

	for (int c = 0; c < LO_COLS; c++)
		if (w->len[c] || lo_align[c] == CLI_RIGHT)
			last = c;
	for (int c = 0; c <= last; c++) {
		size_t pad = width[c] - w->len[c];

		if (c) {
			memcpy(p, "  ", 2);
			p += 2;
		}
		if (lo_align[c] == CLI_RIGHT) {
			memset(p, ' ', pad);
			p += pad;
		}
		memcpy(p, w->cell[c], w->len[c]);
		p += w->len[c];
		if (lo_align[c] == CLI_LEFT && c < last) {
			memset(p, ' ', pad);
			p += pad;
		}
	}
	*p++ = '\n';
	o->pos += (size_t)(p - start);
}

void labelout_table(FILE *out, const struct store_label *l, size_t n, const char *empty)
{
	static const char *const hdr[LO_COLS] = { "source", "window start", "class", "size",
						  "protocol", "ports", "packets",
						  "destinations", "tool", "service" };
	struct lo_time tc = { .valid = false };
	size_t width[LO_COLS], row_max = 2 * (LO_COLS - 1) + 1;
	struct lo_row w;
	struct lo_out o = { .f = out, .pos = 0 };

	if (!n) {
		fprintf(out, "%s\n", empty);
		return;
	}
	/* every column as wide as its widest cell, the header included */
	for (int c = 0; c < LO_COLS; c++)
		width[c] = strlen(hdr[c]);
	for (size_t i = 0; i < n; i++) {
		lo_row_fill(&w, &tc, &l[i]);
		for (int c = 0; c < LO_COLS; c++)
			if (w.len[c] > width[c])
				width[c] = w.len[c];
	}
	/* a cell is at most as long as its buffer in struct lo_row, the time's
	 * or a fixed name: a line fits the output buffer many times over */
	for (int c = 0; c < LO_COLS; c++)
		row_max += width[c];
	assert(row_max <= LO_OUT_LEN);
	for (int c = 0; c < LO_COLS; c++)
		lo_set(&w, c, hdr[c]);
	lo_row_print(&o, &w, width, row_max);
	for (size_t i = 0; i < n; i++) {
		lo_row_fill(&w, &tc, &l[i]);
		lo_row_print(&o, &w, width, row_max);
	}
	lo_flush(&o);
}
