/* detector/slot4.h — the four-slot searches that space-saving counters run
 * for every packet (the labeler's heavy hitters, the fingerprints' run
 * constants): one SSE2 compare where the target has it.  Header only; pure
 * functions. */
#pragma once
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The plain loops the vector code must agree with (tests compare them). */
static inline int slot4_find_ref(const uint32_t val[4], const uint32_t count[4], uint32_t want)
{
	for (int i = 0; i < 4; i++)
		if (count[i] && val[i] == want)
			return i;
	return -1;
}

static inline int slot4_find2_ref(const uint32_t a[4], const uint32_t b[4],
				  const uint32_t count[4], uint32_t wa, uint32_t wb)
{
	for (int i = 0; i < 4; i++)
		if (count[i] && a[i] == wa && b[i] == wb)
			return i;
	return -1;
}

/* The slot of the four whose value is @want and count is not 0, or -1.
 * A value is in one used slot at most, so the first match is the match
 * (with duplicates: the first one, as slot4_find_ref()). */
static inline int slot4_find(const uint32_t val[4], const uint32_t count[4], uint32_t want)
{
#ifdef __SSE2__
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)val);
	__m128i c = _mm_loadu_si128((const __m128i *)(const void *)count);
	__m128i hit = _mm_andnot_si128(_mm_cmpeq_epi32(c, _mm_setzero_si128()),
				       _mm_cmpeq_epi32(v, _mm_set1_epi32((int)want)));
	int m = _mm_movemask_ps(_mm_castsi128_ps(hit));

	return m ? __builtin_ctz((unsigned)m) : -1;
#else
	return slot4_find_ref(val, count, want);
#endif
}

/* The slot of the four whose (@a, @b) pair is (@wa, @wb) and count is not
 * 0, or -1. */
static inline int slot4_find2(const uint32_t a[4], const uint32_t b[4], const uint32_t count[4],
			      uint32_t wa, uint32_t wb)
{
#ifdef __SSE2__
	__m128i va = _mm_loadu_si128((const __m128i *)(const void *)a);
	__m128i vb = _mm_loadu_si128((const __m128i *)(const void *)b);
	__m128i c = _mm_loadu_si128((const __m128i *)(const void *)count);
	__m128i hit = _mm_and_si128(_mm_cmpeq_epi32(va, _mm_set1_epi32((int)wa)),
				    _mm_cmpeq_epi32(vb, _mm_set1_epi32((int)wb)));
	int m;

	hit = _mm_andnot_si128(_mm_cmpeq_epi32(c, _mm_setzero_si128()), hit);
	m = _mm_movemask_ps(_mm_castsi128_ps(hit));
	return m ? __builtin_ctz((unsigned)m) : -1;
#else
	return slot4_find2_ref(a, b, count, wa, wb);
#endif
}

/* The first of the four slots with the smallest count.  Without branches:
 * on a stream of new keys the answer is as good as random. */
static inline unsigned slot4_low(const uint32_t count[4])
{
	unsigned a = count[1] < count[0], b = 2 + (count[3] < count[2]);
	unsigned pick_b = 0u - (unsigned)(count[b] < count[a]);

	return (b & pick_b) | (a & ~pick_b);
}
