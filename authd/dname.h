/* authd/dname.h — helpers on uncompressed wire-format domain names: lower
 * casing, label offsets, hashing, suffix tests and printing.
 *
 * Pure, no allocation; any thread.  Used by the zone loader (main thread) and
 * by the answer builder on the query path. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DNAME_MAXLEN 255      /* wire length, root label included */
#define DNAME_MAXLABELS 128   /* 127 one-byte labels + the root */
#define DNAME_TEXTLEN 1024    /* enough for any name printed with \DDD escapes */

static inline uint8_t dname_lower_byte(uint8_t c)
{
	return (uint8_t)(c | (((unsigned)(c - 'A') < 26u) << 5));
}

/** Lower-case copy of the wire name @src (@len bytes) into @dst.  Length
 *  bytes are never letters (they are at most 63), so a byte-wise map is safe. */
static inline void dname_lower(uint8_t *dst, const uint8_t *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = dname_lower_byte(src[i]);
}

static inline uint64_t dname_load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/** Lower-case in place, 8 bytes at a time (SWAR): OR 0x20 into every byte
 *  in 'A'..'Z'.  Label length bytes (at most 63) are never touched. */
static inline uint64_t dname_lower64(uint64_t x)
{
	const uint64_t hi = 0x8080808080808080ull;
	uint64_t t = x & ~hi;
	uint64_t ge_a = t + 0x3F3F3F3F3F3F3F3Full; /* high bit: byte >= 'A' */
	uint64_t gt_z = t + 0x2525252525252525ull; /* high bit: byte > 'Z' */
	uint64_t m = ge_a & ~gt_z & ~x & hi;
	return x | (m >> 2);
}

/* dname_hash() and dname_hash_nocase(): one body; @fold ORs 0x20 into every
 * byte read (a constant, so each caller gets its own code). */
static inline uint64_t dname_hash_impl(const uint8_t *p, size_t len, bool fold)
{
	const uint64_t k = 0x9E3779B97F4A7C15ull;
	const uint64_t f = fold ? 0x2020202020202020ull : 0;
	uint64_t h = 0x6A09E667F3BCC909ull ^ (len * k);
	uint64_t t = 0;
	if (len >= 8) {
		size_t i = 0;
		for (; i + 8 < len; i += 8) {
			h = (h ^ (dname_load64(p + i) | f)) * k;
			h ^= h >> 29;
		}
		t = dname_load64(p + len - 8) | f;
	} else {
		for (size_t j = 0; j < len; j++)
			t |= (uint64_t)(p[j] | (uint8_t)f) << (8 * j);
	}
	h = (h ^ t) * 0xBF58476D1CE4E5B9ull;
	h ^= h >> 31;
	h *= 0x94D049BB133111EBull;
	h ^= h >> 32;
	return h;
}

/** 64-bit hash of @len bytes at @p (a lower-cased wire name).  Reads whole
 *  8-byte words (the last one overlapping the one before it) and never a
 *  byte past @len. */
static inline uint64_t dname_hash(const uint8_t *p, size_t len)
{
	return dname_hash_impl(p, len, false);
}

/** A hash of the wire name @p (@len bytes, any case) that ignores case: it
 *  ORs 0x20 into every byte, so names that differ only in case hash alike
 *  (as do a few others: a lookup still compares the names).  One cheap
 *  operation per word instead of a case fold. */
static inline uint64_t dname_hash_nocase(const uint8_t *p, size_t len)
{
	return dname_hash_impl(p, len, true);
}

/** Equality of @len bytes, for short names (inline: no libc call). */
static inline bool dname_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	if (len < 8) {
		for (size_t i = 0; i < len; i++) {
			if (a[i] != b[i])
				return false;
		}
		return true;
	}
	size_t i = 0;
	for (; i + 8 < len; i += 8) {
		if (dname_load64(a + i) != dname_load64(b + i))
			return false;
	}
	return dname_load64(a + len - 8) == dname_load64(b + len - 8);
}

/* One word of dname_equal_lower(): the case is folded only when the bytes
 * differ (queries are mostly lower case already). */
static inline bool dname_word_equal_lower(uint64_t lc, uint64_t any)
{
	return lc == any || lc == dname_lower64(any);
}

/** Equality of the lower-case name @lc and the lower-case form of @any
 *  (@len bytes each, any case), folding the case on the fly. */
static inline bool dname_equal_lower(const uint8_t *lc, const uint8_t *any, size_t len)
{
	if (len < 8) {
		for (size_t i = 0; i < len; i++) {
			if (lc[i] != dname_lower_byte(any[i]))
				return false;
		}
		return true;
	}
	size_t i = 0;
	for (; i + 8 < len; i += 8) {
		if (!dname_word_equal_lower(dname_load64(lc + i), dname_load64(any + i)))
			return false;
	}
	return dname_word_equal_lower(dname_load64(lc + len - 8), dname_load64(any + len - 8));
}

/** Check the uncompressed wire name at @p (at most @max bytes available):
 *  labels of 1..63 bytes, total at most 255, ending with the root label.
 *  Returns its length, or 0 when invalid or longer than @max. */
size_t dname_wire_check(const uint8_t *p, size_t max);

/** Offsets of the labels of the wire name @name (valid, uncompressed) into
 *  @off (DNAME_MAXLABELS entries); the root label is the last.  Returns the
 *  count including the root (1 for the root name itself). */
unsigned dname_labels(const uint8_t *name, uint8_t *off);

/** Number of labels of @name, root not counted. */
unsigned dname_label_count(const uint8_t *name);

/** True when @name (@len bytes) equals @suffix or lies below it; both lower
 *  case. */
bool dname_is_under(const uint8_t *name, size_t len, const uint8_t *suffix, size_t slen);

/** Print @name as text with the final dot (escapes as in master files).
 *  Always NUL-terminates when @size > 0; returns @buf. */
char *dname_to_text(const uint8_t *name, char *buf, size_t size);
