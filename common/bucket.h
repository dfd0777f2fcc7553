/* common/bucket.h — time buckets and activity bins shared by the aggregation
 * table, the LMDB store and their readers.
 *
 * Pure inline arithmetic; any thread.  A bucket is named by its start time in
 * whole seconds since the Unix epoch (a multiple of the bucket length); a bin
 * is one of at most 64 equal slices of a bucket.  The big-endian loads and
 * stores of the stored keys and values are wire_get_u* and wire_put_u* in
 * common/wire.h. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define BUCKET_LEN_DEFAULT 3600u            /* s: one hour */
#define BUCKET_BIN_DEFAULT 600u             /* s: ten minutes (spec §2.3 d2) */
#define BUCKET_LEN_MAX (30u * 86400u)       /* s: offsets in ms must fit a u32 */
#define BUCKET_BINS_MAX 64u                 /* bins per bucket (one u64 bitmap) */
#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

/** True when @len (bucket) and @bin (bin) in seconds are usable together:
 *  both > 0, len <= BUCKET_LEN_MAX, bin divides len and len / bin <= 64. */
static inline bool bucket_lens_valid(uint32_t len, uint32_t bin)
{
	return len > 0 && bin > 0 && len <= BUCKET_LEN_MAX && len % bin == 0 &&
	       len / bin <= BUCKET_BINS_MAX;
}

/** Start (s) of the bucket of length @len holding @time_ns. */
static inline uint64_t bucket_start(uint64_t time_ns, uint32_t len)
{
	uint64_t s = time_ns / NS_PER_S;

	return s - s % len;
}

/** Bin index (0..63) of @time_ns inside the bucket starting at @start_s. */
static inline unsigned bucket_bin(uint64_t time_ns, uint64_t start_s, uint32_t bin)
{
	uint64_t off = time_ns / NS_PER_S - start_s;
	uint64_t i = off / bin;

	return i < BUCKET_BINS_MAX ? (unsigned)i : BUCKET_BINS_MAX - 1;
}

/** Offset of @time_ns from the bucket start in ms (fits a u32 for any valid
 *  bucket length). */
static inline uint32_t bucket_offset_ms(uint64_t time_ns, uint64_t start_s)
{
	uint64_t base = start_s * NS_PER_S;
	uint64_t off = time_ns > base ? (time_ns - base) / NS_PER_MS : 0;

	return off > UINT32_MAX ? UINT32_MAX : (uint32_t)off;
}

/** Bitmap with the low @n bits set (n <= 64). */
static inline uint64_t bucket_bins_mask(unsigned n)
{
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}
