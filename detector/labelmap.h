/* detector/labelmap.h — darknet taxonomy classes to backscatter training
 * labels (spec §4.3): scan-icmp, scan-ssh, scan-telnet, scan-smb, scan-other
 * (port kept), scan-port (enough queriers only), ddos-victim, or ambiguous.
 *
 * Pure functions, no allocation, any thread.  Used by the cross-check and by
 * training; the table is documented in docs/cli.md (crosscheck). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "detector/darknet.h"

struct store_label;

/** A training label.  The order is the row order of the cross-check's
 *  confusion matrix. */
enum lm_label {
	LM_AMBIGUOUS = 0, /* neither positive nor negative: not used */
	LM_SCAN_ICMP,     /* network scan, ICMP (echo sweep) */
	LM_SCAN_SSH,      /* network scan, TCP/22 */
	LM_SCAN_TELNET,   /* network scan, TCP/23 or 2323 */
	LM_SCAN_SMB,      /* network scan, TCP/445 */
	LM_SCAN_OTHER,    /* network scan, any other port (kept in the result) */
	LM_SCAN_PORT,     /* port scan of an originator with enough queriers */
	LM_DDOS_VICTIM,   /* darknet backscatter: the source is a DDoS victim */
	LM_COUNT,
};

/** Why a label is ambiguous (LM_WHY_NONE for every other label). */
enum lm_why {
	LM_WHY_NONE = 0,
	LM_WHY_CLASS,        /* ip-fragment, one-flow, small-*, other, unknown class */
	LM_WHY_FEW_QUERIERS, /* port scan below port_scan_min_queriers */
};

struct lm_opts {
	/* A port scan touches few hosts, so it leaves little DNS backscatter:
	 * it becomes scan-port only when the originator has at least this many
	 * distinct queriers in the DNS window (spec §4.3 N_q; default 10). */
	uint64_t port_scan_min_queriers;
};

#define LM_PORT_SCAN_MIN_QUERIERS_DEFAULT 10

/** What the mapping needs of a darknet label. */
struct lm_input {
	enum dk_class cls;
	enum dk_proto protocol; /* protocol of most packets */
	enum dk_service service;/* the labeler's target-service hint */
	uint16_t port;          /* busiest port of @protocol (ICMP: type); 0 = none */
	bool has_port;
};

struct lm_result {
	enum lm_label label;
	enum lm_why why;
	enum dk_proto protocol; /* scan-other: the protocol of the kept port */
	uint16_t port;          /* scan-other: the port (0 when the label has none) */
};

void labelmap_opts_default(struct lm_opts *o);

/** Map @in, whose originator had @queriers distinct queriers in the DNS
 *  window overlapping the darknet window, with @o (NULL = defaults). */
void labelmap_map(const struct lm_input *in, uint64_t queriers, const struct lm_opts *o,
		  struct lm_result *out);
/** The input of a stored label / of a labeler record. */
void labelmap_input_label(const struct store_label *l, struct lm_input *out);
void labelmap_input_record(const struct dk_record *r, struct lm_input *out);

/** "scan-icmp", ..., "ddos-victim", "ambiguous"; "ambiguous" for bad values. */
const char *labelmap_name(enum lm_label l);
/** Name back to the label: 0 or BSC_EINVAL. */
int labelmap_parse(const char *name, enum lm_label *out);
/** True for the scan-* labels. */
bool labelmap_is_scan(enum lm_label l);
/** True for labels usable in training or evaluation (every label except
 *  LM_AMBIGUOUS): the scan-* labels as positives, ddos-victim as a negative. */
bool labelmap_is_definite(enum lm_label l);
/** Whether a class name of the detector (or of a labels file) counts as
 *  "scan" in the two-class view: "scan", "scan-*" and "research-scanner"
 *  (the darknet sees scanning, not intent).  Case-sensitive. */
bool labelmap_class_is_scan(const char *cls);
