/* tools/labelout.h — darknet labels as the CLI prints them: one JSON object
 * per label with the fields of `darknet label --json` (docs/cli.md), and the
 * table of `darknet label` / `darknet labels`.  Used by cmd_darknet.c and
 * cmd_crosscheck.c so the schema is defined once.
 *
 * Main thread (the CLI). */
#pragma once
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include "common/store.h"
#include "detector/darknet.h"

/** The stored form of a labeler record (window of @window_s seconds; the
 *  bucket is left 0). */
void labelout_from_record(struct store_label *l, const struct dk_record *r, uint64_t window_s);
/** One object: source, window_start, class, size, protocol, ports, packets,
 *  destinations, tool, service.  NULL when out of memory. */
json_object *labelout_json(const struct store_label *l);
/** An array of @n objects.  NULL when out of memory. */
json_object *labelout_json_array(const struct store_label *l, size_t n);
/** The array of @n objects written to @out directly, byte for byte what
 *  cli_json_print(labelout_json_array(@l, @n), @out) prints, without building
 *  it (write errors stay on @out: see ferror()). */
void labelout_json_write(FILE *out, const struct store_label *l, size_t n);
/** The JSON string @v (null when NULL) to @out, escaped as
 *  labelout_json_write() escapes the labels' strings: as json-c prints it
 *  under cli_json_print()'s flags. */
void labelout_json_string(FILE *out, const char *v);
/** "22,80" (busiest first) or "-" into @buf.  Returns @buf. */
char *labelout_ports(const struct store_label *l, char *buf, size_t len);
/** The table (header and one row per label), or the line @empty when @n is 0. */
void labelout_table(FILE *out, const struct store_label *l, size_t n, const char *empty);
