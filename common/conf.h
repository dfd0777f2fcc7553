/* common/conf.h — table-driven configuration on top of libinih.
 *
 * One file format for every binary: "[section]", "key = value", "#" or ";"
 * comments.  Each component declares its schema as rows (type, offset in its
 * config struct, default, range, help) and gets a plain struct back.  Unknown
 * sections or keys and duplicate keys are errors naming file:line.  Lists are
 * written on one line, separated by spaces or commas.  A section marked
 * `repeat` may appear several times ([zone] per zone); each occurrence adds one
 * element to an array in the root struct.  Main thread only. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "common/addr.h"

enum conf_type {
	CONF_BOOL,      /* bool: yes/no, true/false, on/off, 1/0 */
	CONF_UINT,      /* uint64_t, checked against [min, max] */
	CONF_DURATION,  /* uint64_t milliseconds: "500ms", "10s", "5m", "2h", "1d"; bare = s */
	CONF_SIZE,      /* uint64_t bytes: "512", "64k", "16M", "2G" (powers of 1024) */
	CONF_STRING,    /* char * (owned; NULL when unset without default) */
	CONF_PATH,      /* char *, relative paths resolved against the file's folder */
	CONF_STR_LIST,  /* struct conf_list */
	CONF_ADDR_LIST, /* struct conf_addrs: "ADDR@PORT" items */
	CONF_ENUM,      /* int: index of the value in .choices (NULL-terminated) */
	CONF_LOGLEVEL,  /* int: syslog level from "error".."debug" */
};

struct conf_list {
	size_t n;
	char **v; /* owned */
};

struct conf_addrs {
	size_t n;
	struct bsc_sockaddr *v; /* owned */
};

struct conf_item {
	const char *key;
	enum conf_type type;
	size_t off;                /* offsetof() in the section's struct */
	const char *def;           /* default as text, parsed like file input; NULL = none */
	uint64_t min, max;         /* CONF_UINT/DURATION/SIZE range (max 0 = unbounded) */
	const char *const *choices; /* CONF_ENUM */
	uint16_t default_port;     /* CONF_ADDR_LIST items without a port */
	const char *help;
};

struct conf_section {
	const char *name;
	const struct conf_item *items; /* terminated by a row with key NULL */
	bool repeat;                   /* may appear several times */
	size_t elem_size;              /* repeat: sizeof one element */
	size_t arr_off;                /* repeat: offsetof(root, array pointer) */
	size_t count_off;              /* repeat: offsetof(root, size_t count) */
	const char *help;
};

/** Set every default of @schema (terminated by a row with name NULL) into
 *  @root.  Returns 0 or BSC_ENOMEM/BSC_ECONF (a bad default is a bug). */
int conf_defaults(const struct conf_section *schema, void *root);
/** Read @path into @root (defaults must be set first).  On error returns
 *  BSC_ECONF/BSC_ENOENT/BSC_ENOMEM and writes "file:line: reason" to @err. */
int conf_load(const struct conf_section *schema, void *root, const char *path, char *err,
	      size_t errlen);
/** Set one key from text, as if read from a file (used for command-line
 *  flags, which override the file).  For a repeat section, @index selects the
 *  element; index == count appends one.  @origin names the source in errors
 *  ("command line").  Returns 0 or BSC_ECONF with @err filled. */
int conf_set(const struct conf_section *schema, void *root, const char *section, size_t index,
	     const char *key, const char *value, const char *origin, char *err, size_t errlen);
/** Free everything conf_* allocated inside @root (root itself is the
 *  caller's).  Safe on a zeroed or partly filled root. */
void conf_free(const struct conf_section *schema, void *root);
/** Print the schema (sections, keys, types, defaults, ranges, help) as the
 *  text of --help-config. */
void conf_print_help(const struct conf_section *schema, FILE *out);
