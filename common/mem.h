/* common/mem.h — checked allocation with a failure hook for tests.
 *
 * All heap allocation in backscope goes through these wrappers so that tests
 * can make the n-th allocation fail (mem_fail_after) and drive error paths.
 * Thread-safe. */
#pragma once
#include <stddef.h>
#include <stdio.h>

void *mem_alloc(size_t n);              /* NULL on failure */
void *mem_calloc(size_t n, size_t size); /* zeroed; NULL on failure or overflow */
void *mem_realloc(void *p, size_t n);   /* NULL on failure; p stays valid then */
/** @n zeroed bytes aligned to @align (a power of two, a multiple of
 *  sizeof(void *)), freed by mem_free(); NULL on failure or another
 *  alignment. */
void *mem_calloc_aligned(size_t align, size_t n);

/* Transparent huge pages: the one policy for large arrays probed at random
 * (fewer page faults and TLB misses).  The kernel maps a huge page only over
 * a MEM_HUGE_PAGE-aligned range of MEM_HUGE_PAGE bytes that lies wholly in
 * the advised range.  Arrays from MEM_HUGE_MIN bytes (half a page) on ask
 * for them: mem.c says why half a page and not a whole one. */
#define MEM_HUGE_PAGE ((size_t)2 << 20)
#define MEM_HUGE_MIN (MEM_HUGE_PAGE / 2)

/** @n bytes (not zeroed) for a large array walked at random, aligned to a
 *  cache line (64 bytes); from @n >= MEM_HUGE_MIN on, whole huge pages,
 *  MEM_HUGE_PAGE-aligned, offered to the kernel as huge pages.  Freed by
 *  mem_free(); NULL on failure. */
void *mem_alloc_large(size_t n);
/** As mem_alloc_large(), zeroed. */
void *mem_calloc_large(size_t n);
/** Offer the whole, aligned huge pages inside [@p, @p + @n) of memory
 *  obtained otherwise (mem_alloc, mem_realloc, ...) to the kernel as huge
 *  pages.  A hint only: a NULL @p, a range holding no whole page (any range
 *  shorter than MEM_HUGE_PAGE) or a kernel without transparent huge pages
 *  is no error. */
void mem_hint_huge(void *p, size_t n);
/** Double the array @v of *@cap elements of @size bytes (to @first when
 *  empty).  Returns the array (then *@cap is its new size), or NULL on
 *  failure or overflow (then @v and *@cap are unchanged). */
void *mem_grow(void *v, size_t *cap, size_t size, size_t first);
char *mem_strdup(const char *s);        /* NULL on failure */
char *mem_strndup(const char *s, size_t n);
void mem_free(void *p);                 /* NULL is a no-op */

/** Read all of @f into a new buffer (*@buf, to mem_free; NULL when empty),
 *  *@len bytes.  Returns 0, -EFBIG (more than @max bytes), BSC_ENOMEM, or
 *  a negated errno of the read; what was read is freed on error. */
int mem_read_stream(FILE *f, size_t max, char **buf, size_t *len);

/** Tests only: make the allocation after the next @n succeed-calls fail;
 *  -1 disables the hook (the default). */
void mem_fail_after(long n);
