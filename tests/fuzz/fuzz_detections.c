/* tests/fuzz/fuzz_detections.c — the detections-file parser of the
 * cross-check (tools/crosscheck.c) on arbitrary bytes: JSON arrays, JSON
 * objects and CSV.  Checks the invariants: a success leaves only valid
 * detections (full-length addresses, class names 1..47 bytes, windows that
 * end after they start, lines within the file); a failure says where, as
 * "det:LINE:COLUMN: ", with a line inside the file.  The parsed detections
 * then go through the join against one label (no crash, no leak). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/err.h"
#include "tools/crosscheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xc_detections d = { 0 };
	char err[512];
	size_t lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	int rc = xc_detections_parse(&d, "det", (const char *)data, size, err, sizeof err);
	if (rc == BSC_EMALF) {
		unsigned line, col;
		if (sscanf(err, "det:%u:%u: ", &line, &col) != 2 || line < 1 || line > lines ||
		    col < 1)
			abort();
	} else if (rc != 0 && rc != BSC_ENOMEM) {
		abort();
	}
	for (size_t i = 0; rc == 0 && i < d.n; i++) {
		const struct xc_detection *x = &d.v[i];
		size_t n = strnlen(x->cls, XC_CLASS_LEN);
		if (n == 0 || n >= XC_CLASS_LEN || strcmp(x->cls, "none") == 0)
			abort();
		if (x->addr.prefix != (x->addr.family == AF_INET ? 32 : 128))
			abort();
		if (x->end_s && x->end_s <= x->start_s)
			abort();
		if (x->line < 1 || x->line > lines)
			abort();
	}
	if (rc == 0) {
		struct bsc_addr space[2];
		struct store_label sl;
		struct xc_label l;
		struct xc_result r;
		addr_parse(&space[0], "0.0.0.0/0", false);
		addr_parse(&space[1], "::/0", false);
		struct xc_scope sc = { .prefixes = space, .nprefixes = 2, .window_s = 3600 };
		memset(&sl, 0, sizeof sl);
		if (d.n)
			sl.source = d.v[0].addr;
		sl.window_start_s = d.n ? d.v[0].start_s : 0;
		sl.window_len_s = 3600;
		xc_label_make(&l, &sl, 0, NULL);
		if (xc_run(&sc, d.v, d.n, &l, d.n ? 1 : 0, &r) == 0) {
			if (r.npairs > d.n + 1)
				abort();
			xc_result_free(&r);
		}
	}
	xc_detections_free(&d);
	return 0;
}
