/*
 * txc/vec.h - vec(T), a growable array of T living on the heap stack.
 *
 *   vec(int)* v = new_vec(int);          an empty vec on the current heap
 *   vec_append(v, int, 42);              amortised O(1)
 *   int x = vec_get(v, int, 0);          O(1), bounds-checked
 *   vec_set(v, int, 0, x + 1);           O(1), bounds-checked
 *   vec_resize(v, int, 10);              new elements are zeroed
 *   vec_foreach(v, int, i, x) { ... }    size_t i, int x (a copy)
 *
 * A vec is one allocation on the heap that is current when it is created
 * (new_vec), with a destructor that frees its element storage: escape(v) or
 * import(v) moves it with all its elements, and freeing its heap (by leaving
 * a sub_heap, by an exception, by txc_free) frees them.  Do not txc_realloc
 * it.  Values are copied in and out by value.
 *
 * T is a single identifier naming a complete type (int, a typedef of a
 * pointer or of a struct).  vec(T) is one type for every T (struct txc_vec),
 * so it can be named anywhere - a variable, a struct member, a parameter or
 * return type - with no declaration beforehand, and two spellings of
 * vec(int)* are the same type.  The price is that the compiler cannot tell a
 * vec(int)* from a vec(double)*: the vec stores the size of its elements and
 * every macro checks sizeof(T) against it, throwing exception_arg on a
 * mismatch (a T of the same size, float for int, goes unnoticed).
 *
 * Every macro evaluates each of its arguments once, in no specified order
 * except that a value argument (x) is evaluated before the vec is touched.
 *
 * Errors: exception_arg for a NULL vec, an index out of range and a T whose
 * size differs from the vec's elements; exception_nomem when memory cannot
 * be had, and then the vec is left exactly as it was.
 *
 * Transactions: inside a transaction (<txc/txn.h>), changes to a vec created
 * before it began are undone if it aborts.  While a transaction is active a
 * vec that shrinks keeps its capacity.
 *
 * Threads: a vec is not synchronised; threads that share one must lock
 * around every use of it.
 */
#ifndef TXC_VEC_H
#define TXC_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <txc/heap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* vec(T): the type of a vec of T; use vec(T)*. */
#define TXC_VEC(T) struct txc_vec

/* new_vec(T): a new empty vec(T)* on the current heap.  O(1); the storage is
 * taken at the first append or resize.  Throws exception_nomem; exception_arg
 * if sizeof(T) is 0. */
#define TXC_NEW_VEC(T) txc__vec_new(sizeof(T), __alignof__(T))

/* vec_count(v): the number of elements, a size_t.  O(1). */
#define TXC_VEC_COUNT(v) txc_vec_count(v)

/* vec_append(v, T, x): adds x at the end.  Amortised O(1) (the storage
 * doubles when full). */
#define TXC_VEC_APPEND(v, T, x)                                                  \
    __extension__({                                                              \
        T txc__x = (x);                                                          \
        *(T*)txc__vec_append((v), sizeof(T)) = txc__x;                           \
        (void)0;                                                                 \
    })

/* vec_get(v, T, i): element i, a T (not an lvalue: use vec_set to write).
 * O(1).  exception_arg if i >= vec_count(v). */
#define TXC_VEC_GET(v, T, i) __extension__({ *(const T*)txc__vec_at((v), sizeof(T), (i), 0); })

/* vec_set(v, T, i, x): element i becomes x.  O(1).  exception_arg if
 * i >= vec_count(v). */
#define TXC_VEC_SET(v, T, i, x)                                                  \
    __extension__({                                                              \
        T txc__x = (x);                                                          \
        *(T*)txc__vec_set((v), sizeof(T), (i)) = txc__x;                         \
        (void)0;                                                                 \
    })

/* vec_resize(v, T, n): n elements: those beyond n are dropped, new ones are
 * zeroed (all bits 0).  O(n - old count) when growing; O(1) when shrinking,
 * plus a copy when the storage, then at most a quarter used, is given back
 * (never inside a transaction, where the dropped elements are saved for the
 * undo log instead: O(old count - n)). */
#define TXC_VEC_RESIZE(v, T, n) txc__vec_resize((v), sizeof(T), (n))

/* vec_foreach(v, T, i, x) { ... }: runs the block for each element in index
 * order with size_t i its index and T x a copy of it.  break leaves the loop,
 * continue goes to the next element, as in any loop.  The count is read
 * again at each step, so the block may append or resize: the loop sees the
 * vec as it is at each step.  Neither i nor x need be used. */
#define TXC_VEC_FOREACH(v, T, i, x)                                              \
    for (struct txc__vec_it txc__vi = {NULL, 0, 0, 0},                          \
                            *txc__vip __attribute__((unused)) =                 \
                                txc__vec_it_init(&txc__vi, (v), sizeof(T));     \
         txc__vec_it_next(&txc__vi);)                                            \
        for (size_t i __attribute__((unused)) = txc__vi.at; txc__vi.go; txc__vi.go = 0) \
            for (T x __attribute__((unused)) = ((const T*)(const void*)txc__vi.vec->data)[txc__vi.at]; \
                 txc__vi.brk; txc__vi.brk = 0)

/* Long lower-case forms (API.md: txc_vec_append ...). */
#define txc_vec(T) TXC_VEC(T)
#define txc_new_vec(T) TXC_NEW_VEC(T)
#define txc_vec_append(v, T, x) TXC_VEC_APPEND(v, T, x)
#define txc_vec_get(v, T, i) TXC_VEC_GET(v, T, i)
#define txc_vec_set(v, T, i, x) TXC_VEC_SET(v, T, i, x)
#define txc_vec_resize(v, T, n) TXC_VEC_RESIZE(v, T, n)
#define txc_vec_foreach(v, T, i, x) TXC_VEC_FOREACH(v, T, i, x)

/* ------------------------------------------------------------------------
 * Internals used by the macros.  Layouts may change between versions; do
 * not touch them.
 * ------------------------------------------------------------------------ */

#define TXC__VEC_MAGIC ((size_t)0x7665630000000000ull) /* "vec" */

struct txc_vec {
    size_t check;       /* element size ^ TXC__VEC_MAGIC */
    size_t count;
    size_t cap;         /* elements the storage holds */
    char* data;         /* malloc'ed storage, NULL while cap is 0 */
    size_t esize, align;
    uint64_t born;      /* txn clock at creation */
};

/* Member names must differ from the parameters of TXC_VEC_FOREACH. */
struct txc__vec_it {
    struct txc_vec* vec;
    size_t at;          /* index of the element visited (SIZE_MAX before the first) */
    int go, brk;
};

TXC_API struct txc_vec* txc__vec_new(size_t esize, size_t align);
TXC_API void* txc__vec_append(struct txc_vec* v, size_t esize);
TXC_API void* txc__vec_set(struct txc_vec* v, size_t esize, size_t i);
TXC_API void txc__vec_resize(struct txc_vec* v, size_t esize, size_t n);
TXC_API __attribute__((noreturn, cold)) void txc__vec_fail(const struct txc_vec* v, size_t esize,
                                                         size_t i, int what);
TXC_API void* txc__vec_it_init(struct txc__vec_it* it, struct txc_vec* v, size_t esize);

/* vec_count(v): the number of elements.  O(1).  exception_arg if v is NULL. */
static inline size_t txc_vec_count(const struct txc_vec* v)
{
    if (__builtin_expect(v == NULL || (v->check & ~(size_t)0xffffffffu) != TXC__VEC_MAGIC, 0))
        txc__vec_fail(v, 0, 0, 1);
    return v->count;
}

/* The address of element i, checked (what: 0 vec_get, for messages). */
static inline const void* txc__vec_at(const struct txc_vec* v, size_t esize, size_t i, int what)
{
    if (__builtin_expect(v == NULL || v->check != (esize ^ TXC__VEC_MAGIC) || i >= v->count, 0))
        txc__vec_fail(v, esize, i, what);
    return v->data + i * esize;
}

static inline bool txc__vec_it_next(struct txc__vec_it* it)
{
    if (it->brk || ++it->at >= it->vec->count)
        return false;
    it->go = it->brk = 1;
    return true;
}

#if !defined(TXC_NO_SHORT_NAMES) && !defined(__cplusplus)
#define vec(T) TXC_VEC(T)
#define new_vec(T) TXC_NEW_VEC(T)
#define vec_count(v) TXC_VEC_COUNT(v)
#define vec_append(v, T, x) TXC_VEC_APPEND(v, T, x)
#define vec_get(v, T, i) TXC_VEC_GET(v, T, i)
#define vec_set(v, T, i, x) TXC_VEC_SET(v, T, i, x)
#define vec_resize(v, T, n) TXC_VEC_RESIZE(v, T, n)
#define vec_foreach(v, T, i, x) TXC_VEC_FOREACH(v, T, i, x)
#endif

#ifdef __cplusplus
}
#endif

#endif
