/* tools/crosscheck.h — the cross-check of detections against darknet labels:
 * the detections-file parser (JSON array, JSON objects, CSV), the join over
 * overlapping windows inside the authority's address space, and the metrics
 * (confusion matrix, per-class and two-class precision/recall/F1).
 *
 * Pure logic, no store and no output: `backscope crosscheck`
 * (tools/cmd_crosscheck.c) feeds it.  Main thread (any single thread). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/addr.h"
#include "common/store.h"
#include "detector/labelmap.h"

#define XC_CLASS_LEN 48       /* a detection class name: 1..47 bytes */
#define XC_FIELD_MAX 256      /* longest field value in a detections file */

/** One detection read from a file (or, later, the store). */
struct xc_detection {
	struct bsc_addr addr;  /* full-length address */
	uint64_t start_s;      /* DNS window start */
	uint64_t end_s;        /* window end (exclusive); 0: not given */
	double score;
	bool has_score;
	char cls[XC_CLASS_LEN];
	uint32_t line;         /* line of the file where it starts (1-based) */
};

struct xc_detections {
	struct xc_detection *v;
	size_t n, cap;
};

/** Parse a detections file held in @buf (@len bytes; need not be
 *  NUL-terminated).  @name names it in messages.  Formats, told apart by the
 *  first non-blank byte: '[' a JSON array of objects; '{' JSON objects one
 *  after another (one per line, or spread over lines); anything else CSV
 *  with a header line naming the columns.  Fields: address, window_start
 *  (RFC 3339 or unix seconds), window_end (optional), class, score
 *  (optional); other fields/columns are ignored.  Appends to @out.  Returns
 *  0, BSC_EMALF with "NAME:LINE:COLUMN: reason" in @err, or BSC_ENOMEM. */
int xc_detections_parse(struct xc_detections *out, const char *name, const char *buf,
			size_t len, char *err, size_t errlen);
/** Read and parse the file @path ("-" = standard input).  Returns 0,
 *  BSC_EMALF (message in @err), BSC_ENOMEM or a negated errno (message in
 *  @err naming @path). */
int xc_detections_load(struct xc_detections *out, const char *path, char *err, size_t errlen);
void xc_detections_free(struct xc_detections *d);

/** One darknet label with its training label. */
struct xc_label {
	struct store_label raw;
	struct lm_result map;
	uint64_t queriers;     /* N_q the mapping was given */
};

/** Fill @out from a stored label and its originator's distinct queriers. */
void xc_label_make(struct xc_label *out, const struct store_label *l, uint64_t queriers,
		   const struct lm_opts *o);

/** What both sides can see. */
struct xc_scope {
	const struct bsc_addr *prefixes; /* the authority's address space */
	size_t nprefixes;
	uint64_t since_s;      /* windows ending after it (0: no bound) */
	uint64_t until_s;      /* windows starting before it (0: no bound) */
	uint64_t window_s;     /* DNS window of a detection without window_end */
};

/** True when [a_start, a_end) and [b_start, b_end) share a second. */
bool xc_overlap(uint64_t a_start, uint64_t a_end, uint64_t b_start, uint64_t b_end);
/** True when @a lies in one of the scope's prefixes. */
bool xc_in_space(const struct xc_scope *sc, const struct bsc_addr *a);

/** One evaluated pair: a label and a detection whose windows overlap, or one
 *  side alone (NULL: none). */
struct xc_pair {
	const struct xc_label *label;
	const struct xc_detection *det;
	uint64_t det_end_s;    /* the detection's window end as used */
	size_t row, col;       /* cell of the confusion matrix */
	bool disagree;
};

struct xc_metrics {
	uint64_t tp, fp, fn, support;
	double precision, recall, f1; /* NAN when undefined (nothing to divide) */
};

struct xc_class_metrics {
	char name[XC_CLASS_LEN];
	struct xc_metrics m;
	uint64_t predicted;    /* detections of the class (column total) */
};

/* Rows of the matrix: the definite labels LM_SCAN_ICMP..LM_DDOS_VICTIM in
 * that order, then "none". */
#define XC_ROWS (LM_COUNT)      /* LM_COUNT - 1 labels + none */
#define XC_ROW_NONE (LM_COUNT - 1)

struct xc_counts {
	uint64_t read;         /* given to xc_run */
	uint64_t outside_space;/* address outside the authority's space */
	uint64_t outside_time; /* window outside [since, until) */
	uint64_t used;         /* in at least one counted pair */
	uint64_t ambiguous;    /* labels: ambiguous; detections: overlapping
				* only ambiguous labels (both left out) */
};

struct xc_result {
	struct xc_counts det, lab;
	uint64_t few_queriers; /* port-scan labels left out: too few queriers */
	/* confusion matrix: XC_ROWS rows, ncols columns (detection classes in
	 * name order, then "none"), counts[row * ncols + col] */
	size_t ncols;
	char (*cols)[XC_CLASS_LEN];
	uint64_t *counts;
	/* per class: the definite labels in row order, then the other
	 * detection classes in name order */
	size_t nclasses;
	struct xc_class_metrics *classes;
	/* two-class: scan (scan-* labels / labelmap_class_is_scan) vs not */
	struct xc_metrics overall;
	uint64_t tn;
	double accuracy;
	/* every pair, by address, then window */
	size_t npairs;
	struct xc_pair *pairs;
	size_t ndisagree;
};

/** Row name of the matrix ("scan-icmp", ..., "ddos-victim", "none"). */
const char *xc_row_name(size_t row);

/** Join and score.  The result borrows @d and @l (keep them alive).
 *  Returns 0 or BSC_ENOMEM / BSC_EINVAL (no prefix in @sc). */
int xc_run(const struct xc_scope *sc, const struct xc_detection *d, size_t nd,
	   const struct xc_label *l, size_t nl, struct xc_result *out);
void xc_result_free(struct xc_result *r);
