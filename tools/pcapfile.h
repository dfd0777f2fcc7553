/* tools/pcapfile.h — the records of a pcap or pcapng capture, for the
 * capture readers (tools/pcapdns.c, tools/darknet_pcap.c).
 *
 * A classic pcap file (either byte order, micro- or nanosecond time stamps)
 * whose link type tools/pktdec.c decodes is read here: a regular file is
 * mapped and its records are handed out in place, anything else (a pipe)
 * is read in large blocks.  pcapng and the rarer classic variants are read by
 * libpcap, through a stream that counts the bytes.  Damage (a file cut
 * inside a record, a bogus record header) ends the records with a message
 * naming the file, the byte offset and the record number.  A mapped file
 * that grows while it is read is read on past the mapping; one cut shorter
 * while it is read stops at the cut like at any damage (see
 * pcapfile_sigbus_gen).
 *
 * One reader is used by one thread.  Readers are opened and closed on one
 * thread: the table of mapped captures the SIGBUS handler consults is
 * process-wide. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

struct pcapfile; /* opaque */

/* pcapfile_open flags */
#define PCAPFILE_NO_MAP 1u /* read a classic pcap file in blocks, never map it */

/* One record; @data stays valid until the next call on the reader. */
struct pcapfile_rec {
	const uint8_t *data; /* @caplen captured bytes */
	uint64_t time_ns;    /* time stamp, nanoseconds since the epoch */
	uint32_t caplen;
	uint32_t origlen;    /* length on the wire */
};

/** Open the capture @path ("-" = standard input).  On failure *out is NULL
 *  and @err (may be NULL) says why, with the file name: a negated errno
 *  (cannot open), BSC_ETRUNC (shorter than its file header), BSC_EMALF (not
 *  a pcap/pcapng file) or BSC_ENOMEM. */
int pcapfile_open(struct pcapfile **out, const char *path, unsigned flags, char *err,
		  size_t errlen);
/** The stream of capture @path ("-" = standard input), opened for a reader
 *  (unbuffered: the readers map the file or buffer it themselves).  0, or a
 *  negated errno with @err naming the file. */
int pcapfile_fopen(const char *path, FILE **fp, char *err, size_t errlen);
/** The same as pcapfile_open() over an open stream (read from its current
 *  position); @name is used in messages.  On success the reader owns @fp and
 *  closes it (except stdin); on failure the caller still owns it. */
int pcapfile_open_fp(struct pcapfile **out, FILE *fp, const char *name, unsigned flags,
		     char *err, size_t errlen);
/** The next record into @r.  Returns 1 (a record), 0 (the end), BSC_ETRUNC
 *  (the file ends inside a record), BSC_EMALF (a corrupt record) or a
 *  negated errno (a read error); errors come after every record before the
 *  damage, and are sticky. */
static inline int pcapfile_next(struct pcapfile *f, struct pcapfile_rec *r);
/** Byte offset of the next record or, after an error, of the damage (the
 *  end of the last whole record).  From a pipe: bytes read from it. */
uint64_t pcapfile_offset(const struct pcapfile *f);
/** Records returned so far. */
uint64_t pcapfile_records(const struct pcapfile *f);
/** "FILE: truncated at byte N (after record M): ...; everything before it was
 *  read", or "" without error. */
const char *pcapfile_error(const struct pcapfile *f);
/** The name given at open. */
const char *pcapfile_name(const struct pcapfile *f);
/** The capture's link type (DLT_*). */
int pcapfile_linktype(const struct pcapfile *f);
/** True when the records are read here from a mapping of the file. */
bool pcapfile_mapped(const struct pcapfile *f);
void pcapfile_close(struct pcapfile *f); /* NULL is a no-op */


/* ---- the record loop, inline (internals: callers use pcapfile_next) ---- */

/* The window over a classic pcap file in our byte order: the first member
 * of struct pcapfile, so the common record is taken without a call. */
struct pcapfile_win {
	const uint8_t *win;  /* the next record at win[at], bytes up to win[len) */
	size_t len, at;
	uint64_t offset;     /* end of the last whole record */
	uint64_t records;
	uint32_t snaplen;
	bool fast;           /* records are taken here (else pcapfile_next_slow) */
	bool usec;           /* microsecond time stamps */
	sig_atomic_t gen;    /* the pcapfile_sigbus_gen this reader has checked */
};

#define PCAPFILE_REC_HDR 16u
#define PCAPFILE_CAPLEN_MAX 262144u /* libpcap's largest record for the link types read here */
#define PCAPFILE_PREFETCH 4096u     /* bytes ahead of the next record to fetch */

/** Every record the window does not hold whole, other byte orders, damage,
 *  libpcap's records. */
int pcapfile_next_slow(struct pcapfile *f, struct pcapfile_rec *r);

/** Counts the mapped captures found cut short under their readers (their
 *  pages past the cut read as zeros from then on).  A reader that has not
 *  seen the latest count takes its next record in pcapfile_next_slow(),
 *  which stops at the cut as at any damage, or goes on if its own file is
 *  whole.  A record whose original length is 0 also goes there: a header of
 *  zeros is what the rest of a page past a new end looks like, or a hole
 *  left when the file was cut and written again. */
extern volatile sig_atomic_t pcapfile_sigbus_gen;

/** Read the last byte of the record whose header is at @h (@cap bytes of
 *  data): a mapped file cut short faults here, before the record is handed
 *  out, not while its caller decodes it. */
static inline void pcapfile_touch(const uint8_t *h, uint32_t cap)
{
	(void)*(const volatile uint8_t *)(h + PCAPFILE_REC_HDR + cap - 1);
}

/** Hand out the record at @h, its header's four words @hv in our byte
 *  order (its bytes are in the window), and step over it. */
static inline void pcapfile_win_take(struct pcapfile_win *w, const uint8_t *h,
				     const uint32_t hv[4], struct pcapfile_rec *r)
{
	/* time stamps as libpcap gives them: signed 32-bit, widened */
	int64_t sec = (int32_t)hv[0], frac = (int32_t)hv[1];
	r->time_ns = (uint64_t)sec * 1000000000u + (uint64_t)(w->usec ? frac * 1000 : frac);
	r->data = h + PCAPFILE_REC_HDR;
	/* libpcap drops the bytes past the snap length */
	r->caplen = hv[2] < w->snaplen ? hv[2] : w->snaplen;
	r->origlen = hv[3];
	w->at += PCAPFILE_REC_HDR + (size_t)hv[2];
	w->offset += PCAPFILE_REC_HDR + (size_t)hv[2];
	w->records++;
}

static inline int pcapfile_next(struct pcapfile *f, struct pcapfile_rec *r)
{
	struct pcapfile_win *w = (struct pcapfile_win *)(void *)f;
	size_t avail = w->len - w->at;
	if (__builtin_expect(w->fast && avail >= PCAPFILE_REC_HDR, 1)) {
		const uint8_t *h = w->win + w->at;
		uint32_t hv[4];
		__builtin_memcpy(hv, h, sizeof hv);
		if (__builtin_expect(hv[2] <= PCAPFILE_CAPLEN_MAX &&
				     avail - PCAPFILE_REC_HDR >= hv[2], 1)) {
			/* the records to come, also across pages the hardware
			 * does not prefetch into */
			if (avail > PCAPFILE_PREFETCH)
				__builtin_prefetch(h + PCAPFILE_PREFETCH);
			pcapfile_touch(h, hv[2]);
			if (__builtin_expect(w->gen == pcapfile_sigbus_gen && hv[3] != 0, 1)) {
				pcapfile_win_take(w, h, hv, r);
				return 1;
			}
		}
	}
	return pcapfile_next_slow(f, r);
}
