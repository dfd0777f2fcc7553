/* tests/fuzz/fuzz_dnstap.c — the dnstap decoder on arbitrary bytes.
 *
 * The first byte chooses how the rest is read: as a frame-stream file
 * (libfstrm through our byte source: offsets, truncation, STOP handling); as
 * one Dnstap protobuf payload (protobuf-c into the arena, the message
 * mapping); or as a DNS message inside a well-formed AUTH_QUERY and
 * AUTH_RESPONSE (the query-to-event step and response matching).  Every
 * event is checked for sane fields.
 *
 * Single-threaded (libFuzzer or replay_main.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dnstap.pb-c.h"
#include "common/log.h"
#include "tools/dnstap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[1 << 20];

static void check(const struct query_event *ev)
{
	if (ev->querier.family != AF_INET && ev->querier.family != AF_INET6)
		abort();
	if (ev->orig.kind > REVNAME_CLASSLESS)
		abort();
	if ((ev->flags & EVENT_RCODE_UNKNOWN) && ev->rcode != 0)
		abort();
}

/* Take every event ready; @total counts them over the input. */
static void drain(struct dnstap *d, uint64_t *total)
{
	struct query_event ev;
	while (dnstap_next(d, &ev) == 1) {
		check(&ev);
		(*total)++;
	}
	if (dnstap_stats(d)->dns.events != *total)
		abort();
}

/* An AUTH_QUERY (or AUTH_RESPONSE) frame carrying @dns into buf. */
static size_t wrap(const uint8_t *dns, size_t len, bool response, bool v6)
{
	Dnstap__Dnstap dt = DNSTAP__DNSTAP__INIT;
	Dnstap__Message m = DNSTAP__MESSAGE__INIT;
	static uint8_t a4[4] = { 192, 0, 2, 1 }, s4[4] = { 192, 0, 2, 53 };
	static uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	dt.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
	dt.message = &m;
	m.type = response ? DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE
			  : DNSTAP__MESSAGE__TYPE__AUTH_QUERY;
	m.has_query_address = true;
	m.query_address.data = v6 ? a6 : a4;
	m.query_address.len = v6 ? 16 : 4;
	m.has_response_address = true;
	m.response_address.data = v6 ? a6 : s4;
	m.response_address.len = v6 ? 16 : 4;
	m.has_query_port = m.has_response_port = true;
	m.query_port = 4000;
	m.response_port = 53;
	m.has_socket_protocol = true;
	m.socket_protocol = DNSTAP__SOCKET_PROTOCOL__UDP;
	if (response) {
		m.has_response_time_sec = true;
		m.response_time_sec = 1700000000;
		m.has_response_message = true;
		m.response_message.data = (uint8_t *)(uintptr_t)dns;
		m.response_message.len = len;
	} else {
		m.has_query_time_sec = true;
		m.query_time_sec = 1700000000;
		m.has_query_message = true;
		m.query_message.data = (uint8_t *)(uintptr_t)dns;
		m.query_message.len = len;
	}
	if (dnstap__dnstap__get_packed_size(&dt) > sizeof buf)
		return 0;
	return dnstap__dnstap__pack(&dt, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	log_set_level(LOG_ERR);
	unsigned mode = data[0] % 3;
	data++;
	size--;
	struct dnstap *d = NULL;
	uint64_t total = 0;
	if (mode == 0) {
		if (size == 0 || size > sizeof buf)
			return 0;
		memcpy(buf, data, size);
		FILE *fp = fmemopen(buf, size, "rb");
		if (!fp)
			return 0;
		if (dnstap_open_fp(&d, fp, "fuzz", NULL, NULL, 0) != 0) {
			fclose(fp);
			return 0;
		}
		drain(d, &total);
		int rc = dnstap_next(d, &(struct query_event){ 0 });
		if (rc < 0 && dnstap_error(d)[0] == '\0')
			abort();
		dnstap_close(d);
		return 0;
	}
	if (dnstap_open_frames(&d, NULL) != 0)
		abort();
	if (mode == 1) {
		dnstap_feed(d, data, size);
	} else {
		/* the message as a query, then (with QR set) as its response */
		size_t n = wrap(data, size, false, size & 1);
		if (n)
			dnstap_feed(d, buf, n);
		if (size >= 3) {
			uint8_t *r = malloc(size);
			if (!r)
				abort();
			memcpy(r, data, size);
			r[2] |= 0x80;
			n = wrap(r, size, true, size & 1);
			if (n)
				dnstap_feed(d, buf, n);
			free(r);
		}
	}
	drain(d, &total);
	dnstap_feed_end(d);
	drain(d, &total);
	dnstap_close(d);
	return 0;
}
