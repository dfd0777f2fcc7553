/* common/evlog.h — event-log segments: append-only files of query events
 * with a versioned header, checksummed records and a footer written on clean
 * close; a reader that tells a torn tail (crash) from damage in the middle.
 *
 * A writer belongs to one thread (authd's writer).  Readers are independent
 * objects, one per thread.  Byte layout: docs/store.md. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/event.h"

#define EVLOG_MAGIC "BSCEVLOG"
#define EVLOG_VERSION 1
#define EVLOG_HEADER_LEN 64
#define EVLOG_FOOTER_LEN 24
#define EVLOG_REC_MIN 23
#define EVLOG_REC_MAX 80
#define EVLOG_WRITER_ID_MAX 27
#define EVLOG_MAX_BYTES_DEFAULT (256ull << 20)
#define EVLOG_MAX_AGE_DEFAULT (3600ull * 1000000000ull) /* ns: one hour */
#define EVLOG_BUF_DEFAULT (64u << 10)
#define EVLOG_NAME_MAX 48 /* "events-20261122T001500Z-000001.bsl" + room */

enum evlog_sync {
	EVLOG_SYNC_CLOSE = 0, /* fdatasync when a segment is closed (default) */
	EVLOG_SYNC_NONE,      /* never: the kernel writes back when it likes */
	EVLOG_SYNC_FLUSH,     /* after every buffer write (~64 KiB) */
};

struct evlog_opts {
	const char *dir;        /* created (0750) when missing */
	const char *writer_id;  /* who writes (e.g. host name); first 27 bytes kept */
	uint64_t max_bytes;     /* rotate before a segment exceeds it; 0 = default */
	uint64_t max_age_ns;    /* evlog_tick rotates older segments; 0 = default,
				 * UINT64_MAX = never by age */
	size_t buf_size;        /* bytes per write(2); 0 = default; at least 4 KiB */
	enum evlog_sync sync;
};

struct evlog_header {
	uint16_t version;
	uint64_t created_ns;
	uint64_t seq; /* segment number, increasing per folder */
	char writer_id[EVLOG_WRITER_ID_MAX + 1];
};

struct evlog_writer_stats {
	uint64_t events;   /* records written to disk (all segments) */
	uint64_t bytes;    /* bytes written, headers and footers included */
	uint64_t segments; /* segments opened */
	uint64_t lost;     /* events lost to write errors (not on disk) */
	uint64_t errors;   /* failed writes */
};

/* ---- writer ---- */

struct evlog_writer;

/** Open the folder (created when missing) and start a new segment named by
 *  @now_ns (UTC) and the next sequence number after those present.  Returns
 *  0, BSC_EINVAL (bad options), BSC_ENOMEM, or the negated errno of the
 *  folder or the first segment.  Nothing is logged: the caller reports. */
int evlog_writer_open(struct evlog_writer **out, const struct evlog_opts *o, uint64_t now_ns);
/** Append one event (buffered).  Rotates first when the segment would grow
 *  past max_bytes; the new segment is named by the event's time (or the
 *  previous segment's, if later: names never go backwards).  Returns 0, or
 *  BSC_E* of a failed write: the events of the failed buffer are counted as
 *  lost (evlog_writer_stats) and the segment is cut back to its last whole
 *  record, so later appends stay readable. */
int evlog_append(struct evlog_writer *w, const struct query_event *ev);
/** Write the buffer out (and fdatasync with EVLOG_SYNC_FLUSH). */
int evlog_flush(struct evlog_writer *w);
/** Write the buffer out, and rotate when the segment holds events and is
 *  older than max_age.  Call about every second. */
int evlog_tick(struct evlog_writer *w, uint64_t now_ns);
/** Close the current segment cleanly (footer) and start the next one. */
int evlog_rotate(struct evlog_writer *w, uint64_t now_ns);
/** Flush, write the footer, fdatasync (unless EVLOG_SYNC_NONE), close and
 *  release.  Returns the first error.  NULL is a no-op. */
int evlog_writer_close(struct evlog_writer *w, uint64_t now_ns);
/** Path of the segment being written. */
const char *evlog_writer_path(const struct evlog_writer *w);
void evlog_writer_stats(const struct evlog_writer *w, struct evlog_writer_stats *out);

/* ---- reader ---- */

struct evlog_reader;

/** Open a segment file and check its header.  On failure *out is NULL and
 *  @err (may be NULL) says why, with the file name: BSC_EMALF (not a
 *  segment, bad header checksum, unknown version), BSC_ETRUNC (shorter than
 *  a header: a crash right after creation), or a negated errno. */
int evlog_reader_open(struct evlog_reader **out, const char *path, char *err, size_t errlen);
/** The same over @len bytes at @data (borrowed until close); @name is used
 *  in messages. */
int evlog_reader_open_mem(struct evlog_reader **out, const void *data, size_t len,
			  const char *name, char *err, size_t errlen);
/** Next event into @ev.  Returns 1 (an event), 0 (the end: see
 *  evlog_reader_closed), BSC_ETRUNC (torn tail: the file ends inside or
 *  with garbage after its last whole record, as after a crash; nothing valid
 *  follows), BSC_EMALF (damage followed by valid data, data after the
 *  footer, or a footer that disagrees), or a negated errno.  Errors are
 *  sticky; every event returned before one is valid. */
int evlog_reader_next(struct evlog_reader *r, struct query_event *ev);
const struct evlog_header *evlog_reader_header(const struct evlog_reader *r);
/** True once the footer was read: the writer closed the segment cleanly. */
bool evlog_reader_closed(const struct evlog_reader *r);
uint64_t evlog_reader_count(const struct evlog_reader *r);
/** Byte offset of the next record, or of the damage after an error. */
uint64_t evlog_reader_offset(const struct evlog_reader *r);
/** "FILE: torn tail at byte N (...); M events before it are valid", or "". */
const char *evlog_reader_error(const struct evlog_reader *r);
void evlog_reader_close(struct evlog_reader *r); /* NULL is a no-op */

/* ---- helpers ---- */

/** Encode one record into @buf (EVLOG_REC_MAX bytes).  Returns its length. */
size_t evlog_encode(const struct query_event *ev, uint8_t *buf);
/** "events-YYYYMMDDTHHMMSSZ-NNNNNN.bsl".  Returns the length or BSC_ENOSPC. */
int evlog_segment_name(char *buf, size_t len, uint64_t created_ns, uint64_t seq);
/** Segment file names in @dir, sorted (= by creation time, then sequence).
 *  Release with evlog_list_free.  Returns 0 or BSC_E*. */
int evlog_list(const char *dir, char ***names, size_t *n);
void evlog_list_free(char **names, size_t n);
/** CRC32C (Castagnoli) of @len bytes, as used by the records. */
uint32_t evlog_crc32c(const void *data, size_t len);
