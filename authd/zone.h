/* authd/zone.h — the zone table: every zone we serve, loaded and checked with
 * ldns at load time and rendered into a compact read-only index whose answers
 * are pre-rendered wire bytes.
 *
 * Threads: built by the main thread (start-up, SIGHUP reload); after
 * zone_table_load() returns, the table is immutable and may be read by any
 * number of threads without locks.  Freed by the main thread once every
 * reader has let go of it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct zone_table; /* opaque */

struct zone_source {
	const char *origin; /* "10.in-addr.arpa." or NULL: from $ORIGIN/the SOA owner */
	const char *path;   /* master file (RFC 1035, $INCLUDE, $GENERATE) */
};

struct zone_load_opts {
	bool check_perms; /* refuse zone files writable by other users (see zone.c) */
	uid_t run_uid;    /* the user the server will run as (check_perms) */
};

struct zone_info {
	char origin[256];  /* text, lower case, with the final dot */
	const char *path;  /* borrowed from the table; valid while it lives */
	uint32_t serial;
	uint32_t neg_ttl;  /* min(SOA TTL, SOA MINIMUM): RFC 2308 negative TTL */
	uint32_t ptr_ttl;  /* the most common PTR TTL in the zone (0 if none) */
	size_t records;    /* RRs loaded */
	size_t names;      /* owner names, empty non-terminals included */
};

/** Load, check and index the zones of @src[0..n-1].  Errors (file:line and
 *  reason) are logged; the first one is also copied to @err.  Returns 0 or
 *  BSC_EZONE/BSC_ENOENT/BSC_ENOMEM/BSC_EPERM_FILE.  On success *out is owned
 *  by the caller; release with zone_table_free(). */
int zone_table_load(struct zone_table **out, const struct zone_source *src, size_t n,
		    const struct zone_load_opts *opts, char *err, size_t errlen);
void zone_table_free(struct zone_table *zt); /* NULL is a no-op */
size_t zone_table_count(const struct zone_table *zt);
/** Facts about zone @i (0 <= i < count).  Returns 0 or BSC_ENOENT. */
int zone_table_info(const struct zone_table *zt, size_t i, struct zone_info *out);
