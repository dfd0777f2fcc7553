/* tests/unit/common/test_mem.c — common/mem.c: mem_grow doubles an array
 * from its first size, keeps the array and its size on failure and on
 * overflow; mem_calloc_aligned returns zeroed, aligned memory or NULL;
 * mem_alloc_large and mem_calloc_large return all the bytes asked for, a
 * cache line aligned below MEM_HUGE_MIN and huge-page aligned (and advised)
 * from it on, zeroed by mem_calloc_large, or NULL when the allocator fails;
 * mem_hint_huge advises the whole huge pages of any range and ignores NULL,
 * short and unaligned ones.
 * Single-threaded cmocka program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
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

/* around the threshold and the page size; 6553 entries of 320 bytes fill
 * a page but for 192 bytes (the detector's slabs) */
static const size_t large_sizes[] = {
	1, 64, 4096, MEM_HUGE_MIN - 1, MEM_HUGE_MIN, MEM_HUGE_MIN + 1, 6553 * 320,
	MEM_HUGE_PAGE - 1, MEM_HUGE_PAGE, MEM_HUGE_PAGE + 1, (6u << 20) + 12345,
};

#define NSIZES (sizeof large_sizes / sizeof large_sizes[0])

/* The alignment mem_alloc_large promises for @n bytes. */
static uintptr_t large_align(size_t n)
{
	return n >= MEM_HUGE_MIN ? MEM_HUGE_PAGE : 64;
}

/* Bytes of @p[0..n) before the first one that is not 0 (@n when none). */
static size_t zero_prefix(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] == 0)
		i++;
	return i;
}

/* Whether the kernel marks the mapping holding @addr as advised for huge
 * pages ("hg" in its VmFlags): 1 yes, 0 no, -1 when it cannot be told
 * (no /proc/self/smaps or no transparent huge pages in this kernel). */
static int vma_has_hg(const void *addr)
{
	FILE *f;
	char line[512];
	uintptr_t a = (uintptr_t)addr;
	bool in = false;
	int r = -1;

	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0)
		return -1;
	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		uintptr_t lo, hi;

		/* a mapping's first line: "lo-hi perms ..."; no field line parses so */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			r = strstr(line, " hg") != NULL;
			break;
		}
	}
	fclose(f);
	return r;
}

static void test_alloc_large(void **state)
{
	unsigned char *big, *small;

	(void)state;
	for (size_t i = 0; i < NSIZES; i++) {
		size_t n = large_sizes[i];
		unsigned char *p = mem_alloc_large(n);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % large_align(n), 0);
		memset(p, 0xa5, n); /* all of it is ours */
		assert_int_equal(p[n - 1], 0xa5);
		if (n >= MEM_HUGE_MIN) /* advised, where the kernel can tell */
			assert_int_not_equal(vma_has_hg(p), 0);
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
	assert_null(mem_alloc_large(SIZE_MAX - MEM_HUGE_PAGE + 1));
}

static void test_calloc_large(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSIZES; i++) {
		size_t n = large_sizes[i];
		unsigned char *p = mem_alloc_large(n);

		/* dirty memory of this size, freed, so the next one may reuse it */
		assert_non_null(p);
		memset(p, 0xa5, n);
		mem_free(p);
		p = mem_calloc_large(n);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % large_align(n), 0);
		assert_int_equal(zero_prefix(p, n), n);
		memset(p, 0x5a, n);
		/* another one while the first is held */
		unsigned char *q = mem_calloc_large(n);
		assert_non_null(q);
		assert_ptr_not_equal(p, q);
		assert_int_equal((uintptr_t)q % large_align(n), 0);
		assert_int_equal(zero_prefix(q, n), n);
		assert_int_equal(p[n - 1], 0x5a); /* the first is left alone */
		mem_free(q);
		mem_free(p);
	}
	mem_free(mem_calloc_large(0)); /* as with mem_alloc: one byte, not NULL */
}

static void test_large_fail(void **state)
{
	void *p;

	(void)state;
	for (size_t i = 0; i < NSIZES; i++) {
		size_t n = large_sizes[i];

		mem_fail_after(0);
		p = mem_calloc_large(n);
		mem_fail_after(-1);
		assert_null(p);
		/* the allocation after the next one fails */
		mem_fail_after(1);
		p = mem_calloc_large(n);
		void *q = mem_alloc_large(n);
		mem_fail_after(-1);
		assert_non_null(p);
		assert_null(q);
		mem_free(p);
	}
	assert_null(mem_calloc_large(SIZE_MAX - 10));
	mem_free(NULL); /* a no-op */
}

static void test_hint_huge(void **state)
{
	size_t n = 8u << 20;
	unsigned char small[64];
	unsigned char *p, *page;

	(void)state;
	/* NULL, short and empty ranges: nothing to do, no crash */
	mem_hint_huge(NULL, 0);
	mem_hint_huge(NULL, n);
	memset(small, 0x11, sizeof small);
	mem_hint_huge(small, sizeof small);
	mem_hint_huge(small, 0);
	assert_int_equal(small[63], 0x11);
	/* ranges that would wrap past the end of the address space */
	mem_hint_huge(small, SIZE_MAX);
	mem_hint_huge(small, SIZE_MAX - MEM_HUGE_PAGE);
	mem_hint_huge((void *)(UINTPTR_MAX - 100), MEM_HUGE_MIN);
	mem_hint_huge((void *)(UINTPTR_MAX - MEM_HUGE_PAGE - 100), MEM_HUGE_MIN);

	p = mem_alloc(n);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7);
	/* the first whole huge page inside an unaligned range */
	page = (unsigned char *)(((uintptr_t)p + 1 + MEM_HUGE_PAGE - 1) &
				 ~(uintptr_t)(MEM_HUGE_PAGE - 1));
	int before = vma_has_hg(page);
	/* unaligned ranges: below the threshold, from it to a page (holding no
	 * whole page), one page long (not holding one either), several pages */
	mem_hint_huge(p + 1, MEM_HUGE_MIN - 1);
	mem_hint_huge(p + 1, MEM_HUGE_MIN);
	mem_hint_huge(p + 1, MEM_HUGE_PAGE - 1);
	mem_hint_huge(p + 1, MEM_HUGE_PAGE);
	mem_hint_huge(p + 3, n - 3);
	if (before == 0) /* not advised before: the hint reached the kernel */
		assert_int_equal(vma_has_hg(page), 1);
	/* advice changes no byte, and the memory stays ours */
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 7))
			fail_msg("byte %zu changed by the hint", i);
	memset(p, 0, n);
	mem_free(p);

	/* aligned, exactly one page, and again (advising twice is fine) */
	p = mem_alloc_large(MEM_HUGE_PAGE);
	assert_non_null(p);
	mem_hint_huge(p, MEM_HUGE_PAGE);
	mem_hint_huge(p, MEM_HUGE_PAGE);
	memset(p, 0x33, MEM_HUGE_PAGE);
	mem_free(p);
}

/* Only the whole pages inside the range are advised, none next to it: an
 * unaligned range over three pages of a fresh mapping (no advice yet) holds
 * one whole page, its middle one. */
static void test_hint_huge_exact(void **state)
{
	size_t pg = MEM_HUGE_PAGE, len = 5 * pg;
	unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	unsigned char *base;

	(void)state;
	assert_true(m != MAP_FAILED);
	base = (unsigned char *)(((uintptr_t)m + pg - 1) & ~(uintptr_t)(pg - 1));
	if (vma_has_hg(base + pg) != 0) {
		munmap(m, len);
		skip(); /* no transparent huge pages, or no smaps to tell */
	}
	mem_hint_huge(base + 100, 3 * pg - 200);
	assert_int_equal(vma_has_hg(base + pg), 1);
	assert_int_equal(vma_has_hg(base + 2 * pg - 1), 1);
	assert_int_equal(vma_has_hg(base + pg - 1), 0);
	assert_int_equal(vma_has_hg(base + 2 * pg), 0);
	assert_int_equal(vma_has_hg(base), 0);
	munmap(m, len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_grow_overflow),
		cmocka_unit_test(test_calloc_aligned),
		cmocka_unit_test(test_alloc_large),
		cmocka_unit_test(test_calloc_large),
		cmocka_unit_test(test_large_fail),
		cmocka_unit_test(test_hint_huge),
		cmocka_unit_test(test_hint_huge_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
