/* detector/labelmap.c — darknet taxonomy classes to backscatter training
 * labels (spec §4.3; detector/labelmap.h).
 *
 * Pure functions; any thread. */
#include <string.h>
#include "common/err.h"
#include "common/store.h"
#include "detector/labelmap.h"

static const char *const lm_names[LM_COUNT] = {
	[LM_AMBIGUOUS] = "ambiguous",   [LM_SCAN_ICMP] = "scan-icmp",
	[LM_SCAN_SSH] = "scan-ssh",     [LM_SCAN_TELNET] = "scan-telnet",
	[LM_SCAN_SMB] = "scan-smb",     [LM_SCAN_OTHER] = "scan-other",
	[LM_SCAN_PORT] = "scan-port",   [LM_DDOS_VICTIM] = "ddos-victim",
};

void labelmap_opts_default(struct lm_opts *o)
{
	o->port_scan_min_queriers = LM_PORT_SCAN_MIN_QUERIERS_DEFAULT;
}

/* The target service of a network scan: the labeler's hint, else the same
 * rule applied to the protocol and port (labels from other sources). */
static enum dk_service lm_service(const struct lm_input *in)
{
	if (in->service != DK_SERVICE_NONE)
		return in->service;
	if (in->protocol == DK_PROTO_ICMP || in->protocol == DK_PROTO_ICMPV6)
		return DK_SERVICE_ICMP;
	if (in->protocol != DK_PROTO_TCP || !in->has_port)
		return DK_SERVICE_NONE;
	switch (in->port) {
	case 22: return DK_SERVICE_SSH;
	case 23:
	case 2323: return DK_SERVICE_TELNET;
	case 445: return DK_SERVICE_SMB;
	default: return DK_SERVICE_NONE;
	}
}

void labelmap_map(const struct lm_input *in, uint64_t queriers, const struct lm_opts *o,
		  struct lm_result *out)
{
	struct lm_opts def;

	if (!o) {
		labelmap_opts_default(&def);
		o = &def;
	}
	memset(out, 0, sizeof *out);
	switch (in->cls) {
	case DK_CLASS_NETWORK_SCAN:
		switch (lm_service(in)) {
		case DK_SERVICE_ICMP: out->label = LM_SCAN_ICMP; break;
		case DK_SERVICE_SSH: out->label = LM_SCAN_SSH; break;
		case DK_SERVICE_TELNET: out->label = LM_SCAN_TELNET; break;
		case DK_SERVICE_SMB: out->label = LM_SCAN_SMB; break;
		default:
			out->label = LM_SCAN_OTHER;
			out->protocol = in->protocol;
			out->port = in->has_port ? in->port : 0;
			break;
		}
		return;
	case DK_CLASS_PORT_SCAN:
		if (queriers >= o->port_scan_min_queriers) {
			out->label = LM_SCAN_PORT;
		} else {
			out->label = LM_AMBIGUOUS;
			out->why = LM_WHY_FEW_QUERIERS;
		}
		return;
	case DK_CLASS_BACKSCATTER:
		out->label = LM_DDOS_VICTIM;
		return;
	default: /* ip-fragment, one-flow, small-*, other, unknown values */
		out->label = LM_AMBIGUOUS;
		out->why = LM_WHY_CLASS;
		return;
	}
}

void labelmap_input_label(const struct store_label *l, struct lm_input *out)
{
	memset(out, 0, sizeof *out);
	out->cls = l->cls < DK_CLASS_COUNT ? (enum dk_class)l->cls : DK_CLASS_OTHER;
	out->protocol = (enum dk_proto)l->protocol;
	out->service = (enum dk_service)l->service;
	out->has_port = l->nports > 0;
	out->port = l->nports > 0 ? l->ports[0] : 0;
}

void labelmap_input_record(const struct dk_record *r, struct lm_input *out)
{
	memset(out, 0, sizeof *out);
	out->cls = r->cls;
	out->protocol = r->protocol;
	out->service = r->service;
	out->has_port = r->nports > 0;
	out->port = r->nports > 0 ? r->ports[0] : 0;
}

const char *labelmap_name(enum lm_label l)
{
	return (unsigned)l < LM_COUNT ? lm_names[l] : lm_names[LM_AMBIGUOUS];
}

int labelmap_parse(const char *name, enum lm_label *out)
{
	for (unsigned i = 0; name && i < LM_COUNT; i++) {
		if (strcmp(name, lm_names[i]) == 0) {
			*out = (enum lm_label)i;
			return 0;
		}
	}
	return BSC_EINVAL;
}

bool labelmap_is_scan(enum lm_label l)
{
	return l >= LM_SCAN_ICMP && l <= LM_SCAN_PORT;
}

bool labelmap_is_definite(enum lm_label l)
{
	return l > LM_AMBIGUOUS && l < LM_COUNT;
}

bool labelmap_class_is_scan(const char *cls)
{
	if (!cls)
		return false;
	return strcmp(cls, "scan") == 0 || strncmp(cls, "scan-", 5) == 0 ||
	       strcmp(cls, "research-scanner") == 0;
}
