/* common/addr.h — IPv4/IPv6 addresses and prefixes, socket addresses.
 *
 * Pure value types and conversions; no allocation; any thread. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** An address or prefix.  family is AF_INET or AF_INET6 (0 = none); prefix
 *  is the length in bits (32 or 128 for a full address).  Bytes beyond the
 *  prefix are zero.  IPv4 uses bytes[0..3]. */
struct bsc_addr {
	uint8_t family;
	uint8_t prefix;
	uint8_t bytes[16];
};

/** A socket address that fits both families. */
struct bsc_sockaddr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} u;
	socklen_t len;
};

#define ADDR_STRLEN 64      /* enough for "ffff:...:ffff/128" */
#define SOCKADDR_STRLEN 72  /* enough for "ADDR@65535" */

/** Parse "192.0.2.1", "2001:db8::1", optionally with "/LEN".  Host bits
 *  beyond LEN must be zero unless @lenient.  Returns 0 or BSC_EINVAL. */
int addr_parse(struct bsc_addr *out, const char *s, bool lenient);
/** Format as text, with "/LEN" when prefix is not the full length.  Returns
 *  the length written or BSC_ENOSPC. */
int addr_format(const struct bsc_addr *a, char *buf, size_t len);
/** Address (full length) of a socket address. */
void addr_from_sockaddr(struct bsc_addr *out, const struct sockaddr *sa);
/** Zero the bits beyond @prefix and set a->prefix. */
void addr_mask(struct bsc_addr *a, unsigned prefix);
/** True when @a lies inside prefix @p (same family). */
bool addr_in_prefix(const struct bsc_addr *a, const struct bsc_addr *p);
int addr_cmp(const struct bsc_addr *a, const struct bsc_addr *b);

/** Parse "ADDR@PORT", "ADDR" (port = @default_port), "[v6]:PORT" or
 *  "v4:PORT".  Numeric only: never resolves names.  Returns 0 or BSC_EINVAL. */
int sockaddr_parse(struct bsc_sockaddr *out, const char *s, uint16_t default_port);
/** Format as "ADDR@PORT".  Returns the length written or BSC_ENOSPC. */
int sockaddr_format(const struct bsc_sockaddr *sa, char *buf, size_t len);
uint16_t sockaddr_port(const struct bsc_sockaddr *sa);
void sockaddr_set_port(struct bsc_sockaddr *sa, uint16_t port);
