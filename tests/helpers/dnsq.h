/* tests/helpers/dnsq.h — DNS messages for tests: builds queries with ldns and
 * parses answers into normalised text (one string per record), so tests can
 * compare them with expectations written as master-file lines.
 *
 * Test code only; single-threaded use. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dnsq_opts {
	uint16_t id;
	bool rd;
	bool cd;
	uint8_t opcode;
	uint16_t qclass;      /* 0 = IN */
	bool edns;
	bool do_bit;
	uint16_t bufsize;     /* with edns; 0 = 1232 */
	uint8_t edns_version;
	bool nsid;
};

/** Build the query for @qname (text) and @qtype into @buf.  Returns the
 *  length, or -1 (bad name, or does not fit). */
int dnsq_build(uint8_t *buf, size_t size, const char *qname, uint16_t qtype,
	       const struct dnsq_opts *o);

/** Type number for a mnemonic ("PTR", "TYPE65534"); 0 when unknown. */
uint16_t dnsq_type(const char *s);
/** Class number ("IN", "CH", "NONE", "ANY", "CLASS5"); 0 when unknown. */
uint16_t dnsq_class(const char *s);
/** Rcode number ("NOERROR" ... "BADVERS"); -1 when unknown. */
int dnsq_rcode(const char *s);
const char *dnsq_rcode_name(int rcode);

#define DNSQ_SECTIONS 3 /* answer, authority, additional (OPT not included) */
#define DNSQ_MAX_RRS 1024 /* records kept per section */

struct dnsq_answer {
	uint16_t id;
	int rcode;            /* extended (BADVERS = 16) */
	char flags[64];       /* "qr aa tc rd ra ad cd", those set, in that order */
	uint16_t qdcount;
	char *rrs[DNSQ_SECTIONS][DNSQ_MAX_RRS];
	size_t count[DNSQ_SECTIONS];
	bool edns;
	bool do_bit;
	uint16_t payload;
	uint8_t nsid[256];
	size_t nsid_len;
	bool has_nsid;
};

/** Parse @len bytes of answer.  Returns 0, or -1 when ldns rejects it or a
 *  section has more than DNSQ_MAX_RRS records. */
int dnsq_parse(const uint8_t *wire, size_t len, struct dnsq_answer *out);
void dnsq_answer_free(struct dnsq_answer *a);

/** Normalised text of one record written as a master-file line (absolute
 *  names), the same form dnsq_parse() produces.  Returns a malloc'd string
 *  (free() it) or NULL when ldns cannot parse it. */
char *dnsq_rr_normalize(const char *line);
