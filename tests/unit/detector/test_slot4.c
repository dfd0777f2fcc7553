/* tests/unit/detector/test_slot4.c — detector/slot4.h: the vector searches
 * agree with the plain loops on every pattern of used slots, matches and
 * duplicates (values differing only in the sign bit too), and the smallest
 * count's slot is the first one of them.  Without SSE2 the searches are the
 * plain loops themselves, and only the smallest count is tested.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "detector/slot4.h"

#ifdef __SSE2__
/* Values that a signed compare or a wrong lane would confuse. */
static const uint32_t vals[] = { 0, 1, 0x80000000u, 0x80000001u, 0xffffffffu };
#define NV (sizeof vals / sizeof vals[0])

/* Every assignment of values and used/free to the four slots, against
 * every value searched for. */
static void test_find_exhaustive(void **state)
{
	uint32_t val[4], count[4];

	(void)state;
	for (unsigned code = 0; code < NV * NV * NV * NV; code++) {
		unsigned c = code;

		for (int i = 0; i < 4; i++) {
			val[i] = vals[c % NV];
			c /= NV;
		}
		for (unsigned used = 0; used < 16; used++) {
			for (int i = 0; i < 4; i++)
				count[i] = (used >> i) & 1 ? 1u + (unsigned)i * 0x7fffffffu : 0;
			for (unsigned w = 0; w < NV; w++) {
				assert_int_equal(slot4_find(val, count, vals[w]),
						 slot4_find_ref(val, count, vals[w]));
			}
		}
	}
}

static void test_find2_exhaustive(void **state)
{
	static const uint32_t few[] = { 7, 0x80000007u };
	uint32_t a[4], b[4], count[4];

	(void)state;
	for (unsigned code = 0; code < 256; code++) {
		for (int i = 0; i < 4; i++) {
			a[i] = few[(code >> (2 * i)) & 1];
			b[i] = few[(code >> (2 * i + 1)) & 1];
		}
		for (unsigned used = 0; used < 16; used++) {
			for (int i = 0; i < 4; i++)
				count[i] = (used >> i) & 1 ? 3 : 0;
			for (unsigned w = 0; w < 4; w++)
				assert_int_equal(slot4_find2(a, b, count, few[w & 1], few[w >> 1]),
						 slot4_find2_ref(a, b, count, few[w & 1],
								 few[w >> 1]));
		}
	}
}

#endif

/* The first slot holding the smallest count, for counts from a small set
 * (ties everywhere) and large ones (unsigned order). */
static void test_low(void **state)
{
	static const uint32_t cs[] = { 0, 1, 2, 0x80000000u, 0xffffffffu };
	uint32_t count[4];

	(void)state;
	for (unsigned code = 0; code < 5 * 5 * 5 * 5; code++) {
		unsigned c = code, want = 0;

		for (int i = 0; i < 4; i++) {
			count[i] = cs[c % 5];
			c /= 5;
		}
		for (unsigned i = 1; i < 4; i++)
			if (count[i] < count[want])
				want = i;
		assert_int_equal(slot4_low(count), want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#ifdef __SSE2__
		cmocka_unit_test(test_find_exhaustive),
		cmocka_unit_test(test_find2_exhaustive),
#endif
		cmocka_unit_test(test_low),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
