/* tests/fuzz/fuzz_conf.c — the config reader on arbitrary text.
 *
 * A schema with every type and a repeated section; the input is loaded over
 * the defaults, one override is applied, and everything is freed (ASan and
 * LeakSanitizer catch the rest).  The error text must always be a string.
 * An input that starts with byte 0x01 and a count N makes the allocation
 * after N successful ones fail, to walk the out-of-memory paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/conf.h"
#include "common/err.h"
#include "common/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_zone {
	char *origin;
	char *file;
	struct conf_addrs notify;
	struct conf_list tags;
	uint64_t ttl;
	bool on;
	int kind;
};

struct fz_conf {
	bool flag;
	uint64_t num, dur, size;
	char *str, *path;
	struct conf_list list;
	struct conf_addrs addrs;
	int choice, level;
	struct fz_zone *zones;
	size_t nzones;
};

#define R(f) offsetof(struct fz_conf, f)
#define Z(f) offsetof(struct fz_zone, f)

static const char *const choices[] = { "one", "two", "three", NULL };

static const struct conf_item main_items[] = {
	{ "flag", CONF_BOOL, R(flag), .def = "no" },
	{ "num", CONF_UINT, R(num), .def = "5", .min = 1, .max = 1000 },
	{ "dur", CONF_DURATION, R(dur), .def = "10s", .min = 1, .max = 86400000 },
	{ "size", CONF_SIZE, R(size), .def = "1M" },
	{ "str", CONF_STRING, R(str), .def = "hello" },
	{ "path", CONF_PATH, R(path), .def = "data" },
	{ "list", CONF_STR_LIST, R(list), .def = "a, b" },
	{ "addrs", CONF_ADDR_LIST, R(addrs), .def = "127.0.0.1@53 ::1", .default_port = 53 },
	{ "choice", CONF_ENUM, R(choice), .def = "two", .choices = choices },
	{ "level", CONF_LOGLEVEL, R(level), .def = "info" },
	{ .key = NULL },
};

static const struct conf_item zone_items[] = {
	{ "origin", CONF_STRING, Z(origin), .help = "apex" },
	{ "file", CONF_PATH, Z(file), .def = "zone.db" },
	{ "notify", CONF_ADDR_LIST, Z(notify), .default_port = 53, .help = "secondaries" },
	{ "tags", CONF_STR_LIST, Z(tags), .def = "x" },
	{ "ttl", CONF_DURATION, Z(ttl), .def = "1h" },
	{ "on", CONF_BOOL, Z(on), .def = "yes" },
	{ "kind", CONF_ENUM, Z(kind), .def = "one", .choices = choices },
	{ .key = NULL },
};

static const struct conf_section schema[] = {
	{ "main", main_items, .help = "every type" },
	{ "zone", zone_items, .repeat = true, .elem_size = sizeof(struct fz_zone),
	  .arr_off = R(zones), .count_off = R(nzones) },
	{ .name = NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_conf c;
	char err[256];

	long fail_at = -1;

	if (size > 65536)
		return 0;
	if (size >= 2 && data[0] == 1) {
		fail_at = data[1];
		data += 2;
		size -= 2;
	}
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&c, 0, sizeof c);
	if (conf_defaults(schema, &c) != 0)
		abort();
	mem_fail_after(fail_at);
	int rc = conf_load_string(schema, &c, text, "fuzz/input.conf", err, sizeof err);
	mem_fail_after(-1);
	if (memchr(err, '\0', sizeof err) == NULL)
		abort();
	if (rc != 0 && rc != BSC_ECONF && rc != BSC_ENOMEM)
		abort();
	if (rc == BSC_ENOMEM && fail_at < 0)
		abort();
	if (rc == 0) {
		if (c.nzones && !c.zones)
			abort();
		for (size_t i = 0; i < c.list.n; i++) {
			if (!c.list.v[i] || !c.list.v[i][0])
				abort();
		}
		(void)conf_set(schema, &c, "zone", c.nzones, "tags", "p q", "fuzz", err,
			       sizeof err);
	}
	conf_free(schema, &c);
	free(text);
	return 0;
}
