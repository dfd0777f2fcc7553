/* common/revname.h — reverse names (in-addr.arpa / ip6.arpa) <-> addresses.
 *
 * Pure functions, no allocation, any thread.  A fuzz target.
 *
 *   4.3.2.1.in-addr.arpa.         FULL      1.2.3.4/32
 *   2.1.in-addr.arpa.             PARTIAL   1.2.0.0/16   (zone cut, QNAME min.)
 *   in-addr.arpa.                 PARTIAL   0.0.0.0/0
 *   5.0-63.3.3.10.in-addr.arpa.   CLASSLESS 10.3.3.5/32, classless = 10.3.3.0/26
 *   0-63.3.3.10.in-addr.arpa.     CLASSLESS 10.3.3.0/26 (the delegation label)
 *   b.a.9.8...ip6.arpa. (32)      FULL      /128
 *   8.b.d.0.1.0.0.2.ip6.arpa.     PARTIAL   2001:db8::/32
 *   anything else                 NONE      (garbage, other labels, names
 *                                            not under in-addr/ip6.arpa)
 * Labels are case-insensitive; IPv4 labels are decimal 0..255 without
 * leading zeros; ip6 labels are single hex nibbles.  RFC 2317 labels are
 * "FIRST-LAST" or "NET/LEN" (also "NET-LEN"), with values checked. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "common/addr.h"

enum revname_kind {
	REVNAME_NONE = 0,
	REVNAME_FULL,
	REVNAME_PARTIAL,
	REVNAME_CLASSLESS,
};

struct revname {
	enum revname_kind kind;
	struct bsc_addr addr;      /* the address or prefix the name stands for */
	struct bsc_addr classless; /* CLASSLESS only: the RFC 2317 block */
};

/** Decode an uncompressed wire-format name (@len bytes, root label
 *  included).  Always fills @out (kind NONE on garbage); returns @out->kind. */
enum revname_kind revname_parse_wire(const uint8_t *name, size_t len, struct revname *out);
/** The same for a text name, with or without the final dot. */
enum revname_kind revname_parse_text(const char *name, struct revname *out);
/** Text reverse name of @a ("4.3.2.1.in-addr.arpa."); for a prefix, the
 *  name of its enclosing octet (v4) or nibble (v6) boundary.  Returns the
 *  length written or BSC_ENOSPC. */
int revname_format(const struct bsc_addr *a, char *buf, size_t len);
/** Wire form of the same name into @buf.  Returns the length or BSC_ENOSPC. */
int revname_to_wire(const struct bsc_addr *a, uint8_t *buf, size_t len);
