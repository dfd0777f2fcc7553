/* tests/fuzz/fuzz_revname.c — the reverse-name codec on arbitrary bytes.
 *
 * The input is a wire-format name (and, NUL-terminated, a text name).  Checks
 * the invariants: NONE leaves the output zeroed; a FULL or PARTIAL name is
 * exactly the canonical name of its address (case aside), and formatting the
 * address back and parsing it again gives the same result; a CLASSLESS
 * address lies inside its block. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/revname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static void check(const struct revname *r, enum revname_kind k, const uint8_t *wire, size_t n)
{
	if (r->kind != k)
		abort();
	if (k == REVNAME_NONE) {
		if (r->addr.family || r->classless.family)
			abort();
		return;
	}
	if (k == REVNAME_CLASSLESS) {
		if (r->classless.family != AF_INET || !addr_in_prefix(&r->addr, &r->classless))
			abort();
		return;
	}
	/* FULL or PARTIAL: the name is canonical, so it is its own format. */
	uint8_t buf[300];
	int l = revname_to_wire(&r->addr, buf, sizeof buf);
	if (l <= 0)
		abort();
	if (wire) {
		if ((size_t)l != n)
			abort();
		for (size_t i = 0; i < n; i++) {
			if (lower(wire[i]) != buf[i])
				abort();
		}
	}
	struct revname again;
	if (revname_parse_wire(buf, (size_t)l, &again) != k || addr_cmp(&again.addr, &r->addr))
		abort();
	char text[300];
	if (revname_format(&r->addr, text, sizeof text) <= 0)
		abort();
	if (revname_parse_text(text, &again) != k || addr_cmp(&again.addr, &r->addr))
		abort();
}

/* Text form of a well-formed wire name without '.' or NUL inside labels;
 * false otherwise. */
static bool wire_to_text(const uint8_t *w, size_t n, char *text, size_t cap)
{
	size_t pos = 0, t = 0;

	while (pos < n && w[pos] != 0) {
		uint8_t l = w[pos];
		if (l > 63 || n - pos - 1 < l || t + l + 2 > cap)
			return false;
		for (size_t i = 0; i < l; i++) {
			uint8_t c = w[pos + 1 + i];
			if (c == '.' || c == 0)
				return false;
			text[t++] = (char)c;
		}
		text[t++] = '.';
		pos += 1u + l;
	}
	if (pos + 1 != n || t == 0)
		return false;
	text[t] = '\0';
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct revname r, rt;
	char tbuf[300];

	enum revname_kind k = revname_parse_wire(data, size, &r);
	check(&r, k, data, size);
	/* Differential: the text parser (general path only) must agree with the
	 * wire parser (fast path first) on the same name. */
	if (wire_to_text(data, size, tbuf, sizeof tbuf)) {
		if (revname_parse_text(tbuf, &rt) != k || addr_cmp(&rt.addr, &r.addr) ||
		    addr_cmp(&rt.classless, &r.classless))
			abort();
	}

	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	k = revname_parse_text(text, &r);
	check(&r, k, NULL, 0);
	free(text);
	return 0;
}
