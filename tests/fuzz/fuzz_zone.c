/* tests/fuzz/fuzz_zone.c — any bytes as a master file, loaded as a zone.
 * The first byte picks the origin (configured, or found in the file); the
 * rest is written to a temporary file.  Inputs naming $INCLUDE are skipped:
 * they could read any file of the machine.
 *
 * Single-threaded (libFuzzer or replay_main.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "authd/zone.h"
#include "common/err.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void remove_file(void)
{
	if (path[0] != '\0')
		unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 256 * 1024)
		return 0;
	for (size_t i = 0; i + 7 <= size; i++) {
		if (strncasecmp((const char *)data + i, "include", 7) == 0)
			return 0;
	}
	if (path[0] == '\0') {
		snprintf(path, sizeof path, "/tmp/fuzz-zone-XXXXXX");
		int fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
		atexit(remove_file);
		log_set_level(LOG_EMERG);
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)
		abort();
	fclose(f);

	struct zone_source src = { (data[0] & 1) ? "10.in-addr.arpa." : NULL, path };
	struct zone_table *zt = NULL;
	char err[256];
	int rc = zone_table_load(&zt, &src, 1, NULL, err, sizeof err);
	if (rc == 0) {
		if (!zt || zone_table_count(zt) != 1)
			abort();
		struct zone_info zi;
		if (zone_table_info(zt, 0, &zi) != 0)
			abort();
	} else if (zt || err[0] == '\0') {
		abort();
	}
	zone_table_free(zt);
	return 0;
}
