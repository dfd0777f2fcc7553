/* common/wire.h — sticky-error byte cursor over DNS wire data, and the one
 * home of big-endian loads and stores on raw pointers (packets, store keys
 * and values, event-log records).
 *
 * After the first out-of-bounds read or write every further cursor operation
 * does nothing and `error` stays set, so a parser checks it once at the end.
 * Pure, inline, no allocation; any thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wire {
	uint8_t *base;
	size_t pos;
	size_t size;
	bool error;
};

static inline struct wire wire_init(void *buf, size_t size)
{
	struct wire w = { .base = buf, .pos = 0, .size = size, .error = false };
	return w;
}

static inline size_t wire_avail(const struct wire *w)
{
	return w->error ? 0 : w->size - w->pos;
}

/* Big-endian helpers on raw pointers at any alignment (caller checked
 * bounds).  These fix the byte order of stored keys, values and event-log
 * records: most significant byte first, whatever the host. */
static inline uint16_t wire_get_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t wire_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t wire_get_u64(const uint8_t *p)
{
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
	       (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	       (uint64_t)p[6] << 8 | p[7];
}

static inline void wire_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wire_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void wire_put_u64(uint8_t *p, uint64_t v)
{
	p[0] = (uint8_t)(v >> 56);
	p[1] = (uint8_t)(v >> 48);
	p[2] = (uint8_t)(v >> 40);
	p[3] = (uint8_t)(v >> 32);
	p[4] = (uint8_t)(v >> 24);
	p[5] = (uint8_t)(v >> 16);
	p[6] = (uint8_t)(v >> 8);
	p[7] = (uint8_t)v;
}

static inline bool wire_need(struct wire *w, size_t n)
{
	if (w->error || w->size - w->pos < n) {
		w->error = true;
		return false;
	}
	return true;
}

static inline uint8_t wire_read_u8(struct wire *w)
{
	if (!wire_need(w, 1))
		return 0;
	return w->base[w->pos++];
}

static inline uint16_t wire_read_u16(struct wire *w)
{
	if (!wire_need(w, 2))
		return 0;
	uint16_t v = wire_get_u16(w->base + w->pos);
	w->pos += 2;
	return v;
}

static inline uint32_t wire_read_u32(struct wire *w)
{
	if (!wire_need(w, 4))
		return 0;
	uint32_t v = wire_get_u32(w->base + w->pos);
	w->pos += 4;
	return v;
}

static inline void wire_skip(struct wire *w, size_t n)
{
	if (wire_need(w, n))
		w->pos += n;
}

static inline void wire_read(struct wire *w, void *dst, size_t n)
{
	if (!wire_need(w, n))
		return;
	memcpy(dst, w->base + w->pos, n);
	w->pos += n;
}

static inline void wire_write_u8(struct wire *w, uint8_t v)
{
	if (wire_need(w, 1))
		w->base[w->pos++] = v;
}

static inline void wire_write_u16(struct wire *w, uint16_t v)
{
	if (!wire_need(w, 2))
		return;
	wire_put_u16(w->base + w->pos, v);
	w->pos += 2;
}

static inline void wire_write_u32(struct wire *w, uint32_t v)
{
	if (!wire_need(w, 4))
		return;
	wire_put_u32(w->base + w->pos, v);
	w->pos += 4;
}

static inline void wire_write(struct wire *w, const void *src, size_t n)
{
	if (!wire_need(w, n))
		return;
	memcpy(w->base + w->pos, src, n);
	w->pos += n;
}
