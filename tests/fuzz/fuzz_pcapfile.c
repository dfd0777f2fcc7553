/* tests/fuzz/fuzz_pcapfile.c — the capture record reader (tools/pcapfile.c)
 * on arbitrary bytes, as a whole capture file read three ways: a regular
 * file (mapped), the same file read in blocks, and a memory stream (no file
 * descriptor: blocks, or libpcap).  The three must give the same records,
 * the same end (code, offset, message); every record's bytes are read.
 *
 * Single-threaded (libFuzzer or replay_main.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common/log.h"
#include "tools/pcapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECS 4096

struct rec {
	uint64_t time_ns;
	uint32_t caplen, origlen;
	uint64_t sum; /* of the bytes, each read */
	uint64_t offset;
};

struct run {
	int open_rc;
	int rc;
	int dlt;
	size_t n;
	uint64_t offset, records;
	char error[512];
	struct rec r[MAX_RECS];
};

static struct run runs[3];

static void read_all(FILE *fp, unsigned flags, struct run *u, size_t size)
{
	struct pcapfile *f;
	struct pcapfile_rec r;
	memset(u, 0, sizeof *u);
	u->open_rc = pcapfile_open_fp(&f, fp, "fuzz", flags, u->error, sizeof u->error);
	if (u->open_rc) {
		if (f || !u->error[0])
			abort();
		fclose(fp);
		return;
	}
	u->dlt = pcapfile_linktype(f);
	while ((u->rc = pcapfile_next(f, &r)) == 1) {
		uint64_t sum = 0;
		for (uint32_t i = 0; i < r.caplen; i++)
			sum = sum * 31 + r.data[i];
		if (r.caplen > size)
			abort();
		if (u->n < MAX_RECS) {
			struct rec *x = &u->r[u->n];
			x->time_ns = r.time_ns;
			x->caplen = r.caplen;
			x->origlen = r.origlen;
			x->sum = sum;
			x->offset = pcapfile_offset(f);
		}
		u->n++;
	}
	if (u->rc > 1 || (u->rc < 0 && !pcapfile_error(f)[0]) ||
	    (u->rc == 0 && pcapfile_error(f)[0]))
		abort();
	if (pcapfile_next(f, &r) != u->rc) /* the end is sticky */
		abort();
	u->offset = pcapfile_offset(f);
	u->records = pcapfile_records(f);
	if (u->offset > size || u->records != u->n)
		abort();
	snprintf(u->error, sizeof u->error, "%s", pcapfile_error(f));
	pcapfile_close(f);
}

static void same(const struct run *a, const struct run *b)
{
	if (a->open_rc != b->open_rc || strcmp(a->error, b->error) != 0)
		abort();
	if (a->open_rc)
		return;
	if (a->rc != b->rc || a->dlt != b->dlt || a->n != b->n || a->offset != b->offset ||
	    a->records != b->records)
		abort();
	size_t n = a->n < MAX_RECS ? a->n : MAX_RECS;
	if (memcmp(a->r, b->r, n * sizeof a->r[0]) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		log_init(LOG_TARGET_STDERR, LOG_CRIT, "fuzz");
		init = true;
	}
	if (size == 0)
		return 0;
	int fd = memfd_create("fuzz-pcapfile", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		int dfd = dup(fd);
		FILE *fp = dfd < 0 ? NULL : fdopen(dfd, "rb");
		if (!fp) {
			if (dfd >= 0)
				close(dfd);
			close(fd);
			return 0;
		}
		rewind(fp);
		read_all(fp, i ? PCAPFILE_NO_MAP : 0, &runs[i], size);
	}
	close(fd);
	FILE *mf = fmemopen((void *)data, size, "rb");
	if (!mf)
		return 0;
	read_all(mf, 0, &runs[2], size);
	same(&runs[0], &runs[1]);
	same(&runs[0], &runs[2]);
	return 0;
}
