/*
 * container.h - what list.c, dict.c and vec.c share.
 *
 * A container is one txc allocation (its struct, with a destructor) that
 * owns malloc'ed storage.  The storage is not made of txc allocations on
 * purpose: escape/import move the one allocation, and the storage, reached
 * only through it, goes along; the destructor frees it however the
 * container dies.
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
