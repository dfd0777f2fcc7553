/* common/conf.h — table-driven configuration on top of libinih.
 *
 * One file format for every binary: "[section]", "key = value", "#" or ";"
 * comments.  Each component declares its schema as rows (type, offset in its
 * config struct, default, range, help) and gets a plain struct back.  Unknown
 * sections or keys and duplicate keys are errors naming file:line.  Lists are
 * written on one line (or continued on indented lines, see below), separated
 * by spaces or commas.  A section marked
 * `repeat` may appear several times ([zone] per zone); each occurrence adds one
 * element to an array in the root struct.  Main thread only.
 *
 * Rules on top of libinih (see conf.c for why):
 *  - Items of a plain section live in the root struct (off = offsetof(root,
 *    field)); items of a repeat section live in its elements.
 *  - "#" and ";" start a comment at the start of a line or after whitespace,
 *    also after a value ("workers = 4  # four").  Values cannot contain them
 *    there.
 *  - Indentation is insignificant, except that an indented line without "="
 *    continues the list of the key above it (one more line of items); other
 *    types may not continue.  A line may hold at most 199 characters (libinih's
 *    line buffer), not counting comments: longer lists continue on indented
 *    lines.
 *  - A plain section may appear once; a repeat section once per element.  Each
 *    key once per occurrence.  Keys and section names match exactly;
 *    booleans, enum values and log levels in any case.  "key =" sets an
 *    empty string, an empty list, or no path (NULL).
 *  - CONF_PATH values from a file are resolved against the file's folder;
 *    defaults and conf_set() values are kept as given (relative to the
 *    current directory).
 *  - On error the root may hold part of the file's values; conf_free() it. */
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
 *  BSC_ECONF/BSC_ENOENT/BSC_ENOMEM (or another negated errno from opening or
 *  reading) and writes "file:line: reason" ("file: reason" when the file
 *  cannot be read) to @err.  Repeated sections append to the arrays already
 *  in @root: load into a fresh root (zeroed, then conf_defaults()). */
int conf_load(const struct conf_section *schema, void *root, const char *path, char *err,
	      size_t errlen);
/** The same as conf_load() for a NUL-terminated @text; @name stands for the
 *  file in error messages and its folder (if it has one) resolves relative
 *  CONF_PATH values.  For tests and the fuzz target. */
int conf_load_string(const struct conf_section *schema, void *root, const char *text,
		     const char *name, char *err, size_t errlen);
/** Set one key from text, as if read from a file (used for command-line
 *  flags, which override the file).  For a repeat section, @index selects the
 *  element; index == count appends one.  @origin names the source in errors
 *  ("command line"); a CONF_PATH value is kept as given.  Returns 0 or
 *  BSC_ECONF/BSC_ENOMEM with @err filled ("ORIGIN: [section] key: reason");
 *  a failed append adds no element. */
int conf_set(const struct conf_section *schema, void *root, const char *section, size_t index,
	     const char *key, const char *value, const char *origin, char *err, size_t errlen);
/** Free everything conf_* allocated inside @root (root itself is the
 *  caller's).  Safe on a zeroed or partly filled root. */
void conf_free(const struct conf_section *schema, void *root);
/** Print the schema (sections, keys, types, defaults, ranges, help) as the
 *  text of --help-config. */
void conf_print_help(const struct conf_section *schema, FILE *out);
