/* tools/dnstap.h — query events out of dnstap frame-stream files (libfstrm,
 * protobuf-c), as written by Knot DNS (mod-dnstap), BIND, NSD (through
 * fstrm_capture) and Unbound.
 *
 * AUTH_QUERY and CLIENT_QUERY messages become events; AUTH_RESPONSE and
 * CLIENT_RESPONSE messages, when the file has them, give those events their
 * rcode.  Formats, limits and the mapping to events: docs/ingest.md.
 *
 * Threads: one decoder is used by one thread; decoders are independent. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "common/event.h"
#include "tools/qfilter.h"

#define DNSTAP_CONTENT_TYPE "protobuf:dnstap.Dnstap"

struct dnstap; /* opaque */

struct dnstap_opts {
	const struct qfilter *filter; /* NULL: keep every query, match responses */
};

struct dnstap_stats {
	uint64_t frames;      /* data frames read */
	uint64_t bad_frames;  /* skipped: not a Dnstap protobuf message */
	uint64_t not_message; /* skipped: a Dnstap payload without a Message */
	uint64_t other_type;  /* skipped: messages other than AUTH/CLIENT query/response
			       * (RESOLVER_*, FORWARDER_*, STUB_*, TOOL_*, UPDATE_*) */
	uint64_t incomplete;  /* skipped: a query or response without its DNS message,
			       * querier address or time */
	uint64_t streams;     /* frame streams (START frames) read: more than one when
			       * files were concatenated */
	struct qfilter_stats dns;
};

/** Open the frame-stream file @path ("-" = standard input) and read its START
 *  frame.  On failure *out is NULL and @err (may be NULL) says why, with the
 *  file name: a negated errno, BSC_ETRUNC (no whole START frame) or BSC_EMALF
 *  (not a frame stream, or another content type).  @o may be NULL.  Release
 *  with dnstap_close(). */
int dnstap_open(struct dnstap **out, const char *path, const struct dnstap_opts *o, char *err,
		size_t errlen);
/** The same over an open stream; @name is used in messages.  On success the
 *  decoder owns @fp and closes it (except stdin); on failure the caller still
 *  owns it. */
int dnstap_open_fp(struct dnstap **out, FILE *fp, const char *name, const struct dnstap_opts *o,
		   char *err, size_t errlen);
/** Next event into @ev, in file order.  Returns 1 (an event), 0 (the end),
 *  BSC_ETRUNC (the file ends inside a frame) or BSC_EMALF (a corrupt frame
 *  header or control frame), or a negated errno (read error).  Errors come
 *  after every event before the damage was returned, and are sticky.  A file
 *  that ends at a frame boundary without a STOP frame (its writer was killed)
 *  ends with 0, dnstap_finished() false and a warning in dnstap_error(). */
int dnstap_next(struct dnstap *d, struct query_event *ev);

/** A decoder without a file: frames come from dnstap_feed().  Returns 0 or
 *  BSC_ENOMEM. */
int dnstap_open_frames(struct dnstap **out, const struct dnstap_opts *o);
/** Decode one data frame (a Dnstap protobuf payload, @len bytes, borrowed
 *  for the call).  Call dnstap_next() until it returns 0 after each feed;
 *  dnstap_feed_end() then lets the last events out. */
void dnstap_feed(struct dnstap *d, const uint8_t *frame, size_t len);
void dnstap_feed_end(struct dnstap *d);

/** True when the stream ended with its STOP frame (the writer closed it). */
bool dnstap_finished(const struct dnstap *d);
/** Counters so far; valid until dnstap_close(). */
const struct dnstap_stats *dnstap_stats(const struct dnstap *d);
/** Byte offset of the next frame or, after an error, of the damaged frame. */
uint64_t dnstap_offset(const struct dnstap *d);
/** "FILE: truncated frame at byte N: ...; everything before it was read",
 *  the no-STOP warning, or "". */
const char *dnstap_error(const struct dnstap *d);
void dnstap_close(struct dnstap *d); /* NULL is a no-op */

/** One line of counters ("frames 10, ..."): the first ones always, the
 *  others when not zero.  Returns the length written (truncated to @len). */
size_t dnstap_stats_format(const struct dnstap_stats *s, char *buf, size_t len);
