/* tests/fuzz/fuzz_evlog.c — the event-log segment reader on arbitrary bytes.
 *
 * The input is a whole segment file.  The reader must never crash, must end
 * with 0, BSC_ETRUNC or BSC_EMALF, and every event it returns must be the
 * canonical decoding of its record: encoding it again gives the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/err.h"
#include "common/evlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evlog_reader *r;
	char err[256];

	int rc = evlog_reader_open_mem(&r, data, size, "fuzz", err, sizeof err);
	if (rc < 0) {
		if (r || (rc != BSC_EMALF && rc != BSC_ETRUNC) || !err[0])
			abort();
		return 0;
	}
	for (;;) {
		uint64_t off = evlog_reader_offset(r);
		struct query_event ev;
		rc = evlog_reader_next(r, &ev);
		if (rc != 1)
			break;
		uint64_t end = evlog_reader_offset(r);
		uint8_t buf[EVLOG_REC_MAX];
		size_t n = evlog_encode(&ev, buf);
		if (end > size || end - off != n || memcmp(buf, data + off, n) != 0)
			abort();
	}
	if (rc != 0 && rc != BSC_ETRUNC && rc != BSC_EMALF)
		abort();
	if (rc < 0 && (!evlog_reader_error(r)[0] || evlog_reader_offset(r) > size))
		abort();
	evlog_reader_close(r);
	return 0;
}
