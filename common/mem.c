/* common/mem.c — allocation wrappers with a test failure hook.  Any thread. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "common/mem.h"

static atomic_long fail_countdown = -1;

static int should_fail(void)
{
	long v = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
	if (v < 0)
		return 0;
	if (v == 0)
		return 1;
	atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
	return 0;
}

void mem_fail_after(long n)
{
	atomic_store(&fail_countdown, n);
}

void *mem_alloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *mem_calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *mem_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

/* @n bytes aligned to @align (a power of two, at least a pointer), through
 * the failure hook; NULL on failure. */
static void *aligned(size_t align, size_t n)
{
	void *p;

	if (should_fail() || posix_memalign(&p, align, n ? n : 1) != 0)
		return NULL;
	return p;
}

void *mem_calloc_aligned(size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return NULL;
	p = aligned(align, n);
	if (p)
		memset(p, 0, n ? n : 1);
	return p;
}

/* The threshold is half a huge page (MEM_HUGE_MIN), not a whole one.  An
 * array of ours is laid out on whole, aligned huge pages, so from half a
 * page on the padding never costs more than the array itself (at most twice
 * its memory once touched), in exchange for one TLB entry per 2 MiB; and an
 * array sized to fill one page, as N = 2 MiB / sizeof(entry) entries (the
 * detector's source slabs: 6553 of 320 bytes, 192 bytes short of a page),
 * falls just below a one-page threshold and would lose the pages it was
 * sized for.  Below half a page the padding would exceed the array, and the
 * array's few hundred small pages mostly stay in the second-level TLB
 * anyway.  Memory obtained otherwise (mem_hint_huge) can only be advised
 * over the whole aligned pages it holds: none when it is shorter than one
 * page, and then no system call is made. */

void *mem_alloc_large(size_t n)
{
	void *p;

	if (n < MEM_HUGE_MIN)
		return aligned(64, n);
	if (n > SIZE_MAX - MEM_HUGE_PAGE)
		return NULL;
	n = (n + MEM_HUGE_PAGE - 1) & ~(MEM_HUGE_PAGE - 1); /* whole huge pages */
	p = aligned(MEM_HUGE_PAGE, n);
	mem_hint_huge(p, n);
	return p;
}

/* posix_memalign() may hand back memory used before (it is not known when
 * it maps fresh, already zeroed pages), so this zeroes every time. */
void *mem_calloc_large(size_t n)
{
	void *p = mem_alloc_large(n);

	if (p)
		memset(p, 0, n ? n : 1);
	return p;
}

void mem_hint_huge(void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p, lo, hi;

	if (!p)
		return;
	if (a > UINTPTR_MAX - MEM_HUGE_PAGE || n > UINTPTR_MAX - MEM_HUGE_PAGE - a)
		return; /* the rounding below would wrap past the end */
	lo = (a + MEM_HUGE_PAGE - 1) & ~(uintptr_t)(MEM_HUGE_PAGE - 1);
	hi = (a + n) & ~(uintptr_t)(MEM_HUGE_PAGE - 1);
#ifdef MADV_HUGEPAGE
	if (hi > lo) /* whole pages only; advice only: without it, small pages */
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
	(void)lo;
	(void)hi;
#endif
}

void *mem_grow(void *v, size_t *cap, size_t size, size_t first)
{
	size_t n = *cap ? 2 * *cap : first;
	void *w;

	if (n == 0 || size == 0 || (*cap && *cap > SIZE_MAX / 2) || n > SIZE_MAX / size)
		return NULL;
	w = mem_realloc(v, n * size);
	if (w)
		*cap = n;
	return w;
}

char *mem_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = mem_alloc(len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *mem_strdup(const char *s)
{
	return mem_strndup(s, strlen(s));
}

/* Everything above comes from malloc, calloc, realloc or posix_memalign,
 * all released by free(). */
void mem_free(void *p)
{
	free(p);
}

int mem_read_stream(FILE *f, size_t max, char **buf, size_t *len)
{
	char *b = NULL;
	size_t n = 0, cap = 0;

	*buf = NULL;
	*len = 0;
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				mem_free(b);
				return -EFBIG;
			}
			char *nb = mem_grow(b, &cap, 1, 4096);
			if (!nb) {
				mem_free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;
		mem_free(b);
		return -e;
	}
	if (n > max) {
		mem_free(b);
		return -EFBIG;
	}
	if (!n) {
		mem_free(b);
		b = NULL;
	}
	*buf = b;
	*len = n;
	return 0;
}
