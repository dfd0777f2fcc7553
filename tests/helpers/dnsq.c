/* tests/helpers/dnsq.c — query building and answer parsing with ldns for the
 * tests (see dnsq.h).  Test code only. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ldns/ldns.h>
#include "tests/helpers/dnsq.h"

static const char *const rcode_names[] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
	"YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13",
	"RCODE14", "RCODE15", "BADVERS",
};

int dnsq_rcode(const char *s)
{
	for (size_t i = 0; i < sizeof rcode_names / sizeof rcode_names[0]; i++) {
		if (strcasecmp(s, rcode_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

const char *dnsq_rcode_name(int rcode)
{
	if (rcode >= 0 && (size_t)rcode < sizeof rcode_names / sizeof rcode_names[0])
		return rcode_names[rcode];
	return "RCODE?";
}

uint16_t dnsq_type(const char *s)
{
	return (uint16_t)ldns_get_rr_type_by_name(s);
}

uint16_t dnsq_class(const char *s)
{
	if (strcasecmp(s, "NONE") == 0)
		return 254;
	if (strcasecmp(s, "ANY") == 0)
		return 255;
	return (uint16_t)ldns_get_rr_class_by_name(s);
}

int dnsq_build(uint8_t *buf, size_t size, const char *qname, uint16_t qtype,
	       const struct dnsq_opts *o)
{
	struct dnsq_opts d = { 0 };
	if (!o)
		o = &d;
	ldns_rdf *name = ldns_dname_new_frm_str(qname);
	if (!name)
		return -1;
	ldns_pkt *p = ldns_pkt_query_new(name, (ldns_rr_type)qtype,
					 (ldns_rr_class)(o->qclass ? o->qclass : 1), 0);
	if (!p) {
		ldns_rdf_deep_free(name);
		return -1;
	}
	ldns_pkt_set_id(p, o->id);
	ldns_pkt_set_rd(p, o->rd);
	ldns_pkt_set_cd(p, o->cd);
	ldns_pkt_set_opcode(p, (ldns_pkt_opcode)o->opcode);
	if (o->edns) {
		ldns_pkt_set_edns_udp_size(p, o->bufsize ? o->bufsize : 1232);
		ldns_pkt_set_edns_do(p, o->do_bit);
		ldns_pkt_set_edns_version(p, o->edns_version);
		if (o->nsid) {
			static const uint8_t nsid_opt[4] = { 0, 3, 0, 0 };
			ldns_pkt_set_edns_data(p, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, 4,
									nsid_opt));
		}
	}
	uint8_t *wire = NULL;
	size_t len = 0;
	int rc = -1;
	if (ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK && len <= size) {
		memcpy(buf, wire, len);
		rc = (int)len;
	}
	free(wire);
	ldns_pkt_free(p);
	return rc;
}

/* ldns text of a record, lower case, single spaces. */
static char *rr_text(const ldns_rr *rr)
{
	char *s = ldns_rr2str(rr);
	if (!s)
		return NULL;
	char *o = s;
	bool space = false;
	for (char *p = s; *p; p++) {
		char c = *p;
		if (c == '\t' || c == ' ' || c == '\n') {
			space = true;
			continue;
		}
		if (space && o != s)
			*o++ = ' ';
		space = false;
		*o++ = (char)tolower((unsigned char)c);
	}
	*o = '\0';
	return s;
}

char *dnsq_rr_normalize(const char *line)
{
	ldns_rr *rr = NULL;
	if (ldns_rr_new_frm_str(&rr, line, 3600, NULL, NULL) != LDNS_STATUS_OK || !rr)
		return NULL;
	char *s = rr_text(rr);
	ldns_rr_free(rr);
	return s;
}

int dnsq_parse(const uint8_t *wire, size_t len, struct dnsq_answer *out)
{
	memset(out, 0, sizeof *out);
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK || !p)
		return -1;
	out->id = ldns_pkt_id(p);
	out->qdcount = ldns_pkt_qdcount(p);
	out->edns = ldns_pkt_edns(p);
	out->rcode = ldns_pkt_get_rcode(p) | (out->edns ? ldns_pkt_edns_extended_rcode(p) << 4 : 0);
	out->do_bit = ldns_pkt_edns_do(p);
	out->payload = ldns_pkt_edns_udp_size(p);
	snprintf(out->flags, sizeof out->flags, "%s%s%s%s%s%s%s", ldns_pkt_qr(p) ? "qr " : "",
		 ldns_pkt_aa(p) ? "aa " : "", ldns_pkt_tc(p) ? "tc " : "",
		 ldns_pkt_rd(p) ? "rd " : "", ldns_pkt_ra(p) ? "ra " : "",
		 ldns_pkt_ad(p) ? "ad " : "", ldns_pkt_cd(p) ? "cd " : "");
	size_t fl = strlen(out->flags);
	if (fl > 0)
		out->flags[fl - 1] = '\0';
	ldns_rdf *ed = ldns_pkt_edns_data(p);
	if (ed) {
		const uint8_t *d = ldns_rdf_data(ed);
		size_t n = ldns_rdf_size(ed), i = 0;
		while (i + 4 <= n) {
			uint16_t code = (uint16_t)(d[i] << 8 | d[i + 1]);
			uint16_t ol = (uint16_t)(d[i + 2] << 8 | d[i + 3]);
			if (i + 4 + ol > n)
				break;
			if (code == 3 && ol <= sizeof out->nsid) {
				memcpy(out->nsid, d + i + 4, ol);
				out->nsid_len = ol;
				out->has_nsid = true;
			}
			i += 4u + ol;
		}
	}
	ldns_rr_list *lists[DNSQ_SECTIONS] = { ldns_pkt_answer(p), ldns_pkt_authority(p),
					       ldns_pkt_additional(p) };
	for (int s = 0; s < DNSQ_SECTIONS; s++) {
		if (lists[s] && ldns_rr_list_rr_count(lists[s]) > DNSQ_MAX_RRS) {
			ldns_pkt_free(p);
			return -1; /* never a silently shortened section */
		}
	}
	for (int s = 0; s < DNSQ_SECTIONS; s++) {
		for (size_t i = 0; lists[s] && i < ldns_rr_list_rr_count(lists[s]); i++) {
			out->rrs[s][i] = rr_text(ldns_rr_list_rr(lists[s], i));
			out->count[s]++;
		}
	}
	ldns_pkt_free(p);
	return 0;
}

void dnsq_answer_free(struct dnsq_answer *a)
{
	for (int s = 0; s < DNSQ_SECTIONS; s++) {
		for (size_t i = 0; i < a->count[s]; i++)
			free(a->rrs[s][i]);
		a->count[s] = 0;
	}
}
