/* authd/zone_parse.h — the master-file reader (RFC 1035 syntax with $ORIGIN,
 * $TTL, $INCLUDE and BIND's $GENERATE); hands each record to a callback in
 * wire form.  ldns parses the rdata text.
 *
 * Main thread, load time only.  Private to authd/ and its tests. */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "authd/dname.h"

#define ZONE_GENERATE_MAX 65536u  /* records one $GENERATE may produce */
#define ZONE_INCLUDE_DEPTH 16     /* nested $INCLUDE levels */
#define ZONE_MAX_ERRORS 20        /* syntax errors reported before giving up */

/** Where errors go: each one is logged; the first is kept in @buf. */
struct zone_errs {
	char *buf;
	size_t len;
	unsigned errors;
	unsigned warnings;
};

void zone_errs_error(struct zone_errs *e, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void zone_errs_warning(struct zone_errs *e, const char *file, unsigned line, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));

/** One record as read.  Pointers are valid during the callback only. */
struct zone_rr {
	const char *file;   /* the master file (or $INCLUDEd file) it came from */
	unsigned line;      /* its first line */
	const uint8_t *owner; /* wire, absolute, case as written */
	size_t owner_len;
	uint16_t type;
	uint32_t ttl;
	const uint8_t *rdata; /* wire, names uncompressed */
	size_t rdlen;
};

typedef int zone_rr_fn(void *ctx, const struct zone_rr *rr);

struct zone_parse_opts {
	const char *path;
	const uint8_t *origin;  /* wire; NULL: the first $ORIGIN or SOA owner */
	size_t origin_len;
	bool check_perms;
	uid_t run_uid;
	zone_rr_fn *cb;
	void *ctx;
	struct zone_errs *errs;
};

/** Read @o->path and call @o->cb for every record.  The origin in force for
 *  the zone is written to @origin (DNAME_MAXLEN bytes), its length to
 *  *@origin_len (0 when none was found).  Returns 0, BSC_EZONE (syntax; every
 *  error logged), BSC_ENOENT/BSC_EACCES/BSC_EIO, BSC_EPERM_FILE or
 *  BSC_ENOMEM, or what the callback returned. */
int zone_parse(const struct zone_parse_opts *o, uint8_t *origin, size_t *origin_len);

/** Check the permissions of the open file @fd named @path: refused when
 *  writable by group or others, or owned by someone other than root or
 *  @run_uid.  Returns 0 or BSC_EPERM_FILE (logged). */
int zone_check_perms(int fd, const char *path, uid_t run_uid, struct zone_errs *e);

/** Parse a master-file TTL ("3600", "1h30m", "2w").  Returns 0 or -1. */
int zone_parse_ttl(const char *s, uint32_t *out);

/** Text name @s into wire form in @out (DNAME_MAXLEN bytes): "@" is
 *  @origin, relative names get @origin appended (an error when @origin is
 *  NULL).  Escapes \X and \DDD.  Returns the wire length or 0 with *why set. */
size_t zone_name_from_text(const char *s, const uint8_t *origin, size_t origin_len,
			   uint8_t *out, const char **why);

struct zone_gen_range {
	unsigned long start, stop, step;
};

/** Parse "START-STOP[/STEP]"; at most ZONE_GENERATE_MAX values.  Returns 0
 *  or -1 with *why set. */
int zone_generate_range(const char *text, struct zone_gen_range *r, const char **why);

/** Substitute @value into the $GENERATE template @tmpl: "$", "${off}",
 *  "${off,width}", "${off,width,base}" (base d o x X n N), "$$" for a
 *  literal '$'; "\$" is kept as the escape "\$".  Returns 0 or -1 with *why
 *  set. */
int zone_generate_subst(const char *tmpl, unsigned long value, char *out, size_t size,
			const char **why);
