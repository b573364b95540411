/*
 * container.h - what list.c, dict.c and vec.c share.
 *
 * A container is one txc allocation (its struct, with a destructor) that
 * owns storage from malloc (or, for big tables, mapped: cont_store).  The
 * storage is not made of txc allocations on purpose: escape/import move the
 * one allocation, and the storage, reached only through it, goes along; the
 * destructor frees it however the container dies.
 *
 * Every mutator follows the same order, so that a failure leaves the
 * container as it was and the transactions' undo log stays exact:
 *   1. check the arguments (exception_arg);
 *   2. rec = txn_log_if(born, undo, drop, size): NULL outside transactions;
 *      inside one, a zeroed record, which every undo/drop function treats
 *      as "nothing happened" (its container pointer is NULL);
 *   3. take every memory the change needs (exception_nomem: the record
 *      stays a no-op, the contents are unchanged);
 *   4. fill the record (this arms it) and make the change, with nothing
 *      left that can throw.
 * Undo functions run newest first: when one runs, every later change to the
 * container has been undone already, so the container is exactly as it was
 * right after the change the record describes.  They never allocate: while
 * a transaction is active no container gives storage back (capacities only
 * grow), so the room a change had is still there when it is undone.
 */
#ifndef TXC_CONTAINER_H
#define TXC_CONTAINER_H

#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The alignment malloc gives. */
#define CONT_MALLOC_ALIGN __alignof__(max_align_t)

/* n * size, or SIZE_MAX if that overflows (malloc then fails). */
static inline size_t cont_bytes(size_t n, size_t size)
{
    size_t r;
    return __builtin_mul_overflow(n, size, &r) ? SIZE_MAX : r;
}

/* Every memory request goes through these, so that a build with
 * --enable-fault-injection can make any of them fail (see internal.h). */
static inline void* cont_malloc(size_t n) { return n == SIZE_MAX ? NULL : sys_malloc(n); }

static inline void* cont_calloc(size_t n, size_t size)
{
#ifdef TXC_FAULT_INJECTION
    if (fault_now())
        return NULL;
#endif
    return calloc(n, size);
}

/* Storage of new_bytes holding the first keep_bytes of old (which is freed on
 * success); NULL (old untouched) when memory cannot be had.  Over-aligned
 * element types cannot use realloc. */
static inline void* cont_realloc(void* old, size_t keep_bytes, size_t new_bytes, size_t align)
{
    if (new_bytes == SIZE_MAX)
        return NULL;
    if (new_bytes == 0)
        new_bytes = 1;
    if (align <= CONT_MALLOC_ALIGN)
        return sys_realloc(old, new_bytes);
    void* p = NULL;
#ifdef TXC_FAULT_INJECTION
    if (fault_now())
        return NULL;
#endif
    if (posix_memalign(&p, align, new_bytes) != 0)
        return NULL;
    if (old) {
        memcpy(p, old, keep_bytes < new_bytes ? keep_bytes : new_bytes);
        free(old);
    }
    return p;
}

/* Storage for a container's big tables.  Below CONT_BIG bytes it comes
 * from malloc.  From CONT_BIG up it is mapped on its own, aligned to
 * CONT_BIG and in whole multiples of it, and the kernel is asked to back it
 * with transparent huge pages (MADV_HUGEPAGE, only a hint): a table of many
 * megabytes read at random would otherwise take a TLB miss, and a page
 * walk, on nearly every access, and fewer page faults fill it.  The price
 * is resident memory in steps of CONT_BIG: at most CONT_BIG - 1 bytes more
 * per table, which is at least CONT_BIG bytes.  cont_store_free is told
 * the same size and alignment, so it knows which kind it frees. */
#define CONT_BIG ((size_t)2 << 20)

static inline bool cont_is_big(size_t n, size_t align) { return n >= CONT_BIG && align <= CONT_BIG; }
static inline size_t cont_big_round(size_t n) { return (n + CONT_BIG - 1) & ~(CONT_BIG - 1); }

/* n bytes aligned to align, zeroed if zero; NULL when memory cannot be had. */
static inline void* cont_store(size_t n, size_t align, bool zero)
{
    if (!cont_is_big(n, align))
        return zero ? cont_calloc(1, n) : cont_realloc(NULL, 0, n, align);
#ifdef TXC_FAULT_INJECTION
    if (fault_now())
        return NULL;
#endif
    if (n > SIZE_MAX - 2 * CONT_BIG)
        return NULL;
    size_t m = cont_big_round(n);
    char* p = mmap(NULL, m + CONT_BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Over-mapped by CONT_BIG: cut it back to the aligned m bytes. */
    char* a = (char*)(((uintptr_t)p + CONT_BIG - 1) & ~(uintptr_t)(CONT_BIG - 1));
    if (a != p)
        munmap(p, (size_t)(a - p));
    munmap(a + m, (size_t)(p + CONT_BIG - a));
#ifdef MADV_HUGEPAGE
    madvise(a, m, MADV_HUGEPAGE);
#endif
    __atomic_add_fetch(&txc__mapped_bytes, m, __ATOMIC_RELAXED);
    return a; /* a fresh mapping reads as zeroes */
}

static inline void cont_store_free(void* p, size_t n, size_t align)
{
    if (!cont_is_big(n, align))
        free(p);
    else if (p) {
        munmap(p, cont_big_round(n));
        __atomic_sub_fetch(&txc__mapped_bytes, cont_big_round(n), __ATOMIC_RELAXED);
    }
}

/* A new container struct of size bytes, zeroed, on the current heap, with
 * dtor as its destructor.  exception_arg if esize is 0 (who names the
 * caller), exception_nomem. */
static inline void* cont_new(size_t size, void (*dtor)(void*), size_t esize, const char* who)
{
    if (esize == 0 || esize > UINT32_MAX)
        THROW_ARG("%s: elements of %zu bytes are not supported", who, esize);
    void* c = txc_alloc_zero(size);
    txc_set_destructor(c, dtor); /* if this throws, c is a plain allocation owning nothing */
    return c;
}

#endif
