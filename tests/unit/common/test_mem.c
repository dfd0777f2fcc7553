/* tests/unit/common/test_mem.c — common/mem.c: mem_grow doubles an array
 * from its first size, keeps the array and its size on failure and on
 * overflow; mem_calloc_aligned returns zeroed, aligned memory or NULL;
 * mem_alloc_large returns all the bytes asked for, huge-page aligned when
 * large.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "common/mem.h"

static void test_grow(void **state)
{
	size_t cap = 0;
	uint32_t *v = NULL, *w;

	(void)state;
	v = mem_grow(v, &cap, sizeof *v, 16);
	assert_non_null(v);
	assert_int_equal(cap, 16);
	for (uint32_t i = 0; i < 16; i++)
		v[i] = i;
	w = mem_grow(v, &cap, sizeof *v, 16);
	assert_non_null(w);
	assert_int_equal(cap, 32);
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(w[i], i); /* kept */
	v = w;
	/* a failed allocation: NULL, the array and its size unchanged */
	mem_fail_after(0);
	w = mem_grow(v, &cap, sizeof *v, 16);
	mem_fail_after(-1);
	assert_null(w);
	assert_int_equal(cap, 32);
	assert_int_equal(v[15], 15);
	mem_free(v);
	/* any first size, odd ones too */
	for (size_t first = 1; first <= 5; first += 2) {
		cap = 0;
		v = mem_grow(NULL, &cap, sizeof *v, first);
		assert_non_null(v);
		assert_int_equal(cap, first);
		v[first - 1] = 7;
		w = mem_grow(v, &cap, sizeof *v, first);
		assert_non_null(w);
		assert_int_equal(cap, 2 * first);
		assert_int_equal(w[first - 1], 7);
		w[2 * first - 1] = 8;
		mem_free(w);
	}
}

static void test_grow_overflow(void **state)
{
	size_t cap = SIZE_MAX / 8;
	char x[4] = "abc";

	(void)state;
	/* doubling SIZE_MAX/8 elements of 8 bytes overflows: refused */
	assert_null(mem_grow(x, &cap, 8, 16));
	assert_int_equal(cap, SIZE_MAX / 8);
	cap = 0;
	assert_null(mem_grow(NULL, &cap, 0, 16)); /* zero-size elements */
	assert_null(mem_grow(NULL, &cap, 8, 0));  /* no first size */
	assert_int_equal(cap, 0);
	assert_string_equal(x, "abc");
}

static void test_calloc_aligned(void **state)
{
	void *failed;

	(void)state;
	for (size_t align = sizeof(void *); align <= 4096; align *= 2) {
		for (size_t n = 0; n < 300; n += 61) {
			unsigned char *p = mem_calloc_aligned(align, n);

			assert_non_null(p);
			assert_int_equal((uintptr_t)p % align, 0);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(p[i], 0);
			memset(p, 0xff, n);
			mem_free(p);
		}
	}
	mem_fail_after(0);
	failed = mem_calloc_aligned(64, 128);
	mem_fail_after(-1);
	assert_null(failed);
	/* an alignment that is not a power of two is refused */
	assert_null(mem_calloc_aligned(48, 128));
}

static void test_alloc_large(void **state)
{
	size_t sizes[] = { 1, 4096, (1u << 20) - 1, 1u << 20, (2u << 20) - 1, 2u << 20,
			   (6u << 20) + 12345 };
	unsigned char *big, *small;

	(void)state;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		unsigned char *p = mem_alloc_large(sizes[i]);

		assert_non_null(p);
		if (sizes[i] >= (1u << 20))
			assert_int_equal((uintptr_t)p % (2u << 20), 0);
		else
			assert_int_equal((uintptr_t)p % 64, 0); /* a cache line */
		memset(p, 0xa5, sizes[i]); /* all of it is ours */
		assert_int_equal(p[sizes[i] - 1], 0xa5);
		mem_free(p);
	}
	mem_fail_after(0);
	big = mem_alloc_large(4u << 20);
	mem_fail_after(0);
	small = mem_alloc_large(64);
	mem_fail_after(-1);
	assert_null(big);
	assert_null(small);
	assert_null(mem_alloc_large(SIZE_MAX - 10)); /* no rounding past the end */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_grow_overflow),
		cmocka_unit_test(test_calloc_aligned),
		cmocka_unit_test(test_alloc_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
