/*
 * txc/list.h - list(T), a double-ended queue of T living on the heap stack.
 *
 *   list(int)* l = new_list(int);        an empty list on the current heap
 *   list_push_end(l, int, 1);            append,  amortised O(1)
 *   list_push_start(l, int, 0);          prepend, amortised O(1)
 *   int a = list_pop_start(l, int);      remove and return, amortised O(1)
 *   int b = list_peek_end(l, int);       return without removing, O(1)
 *   list_foreach(l, int, x) { ... }      int x, first to last
 *
 * A list is a ring buffer whose capacity doubles when full; it is one
 * allocation on the heap that is current when it is created (new_list), with
 * a destructor that frees the buffer: escape(l) or import(l) moves it with
 * all its elements, and freeing its heap frees them.  Do not txc_realloc
 * it.  Values are copied in and out by value.
 *
 * T is a single identifier naming a complete type (int, a typedef of a
 * pointer or of a struct).  list(T) is one type for every T (struct
 * txc_list), so it can be named anywhere - a variable, a struct member, a
 * parameter or return type - with no declaration beforehand.  The list
 * stores the size of its elements and every macro checks sizeof(T) against
 * it (exception_arg on a mismatch; a T of the same size goes unnoticed).
 *
 * Every macro evaluates each of its arguments once, in no specified order
 * except that a value argument (v) is evaluated before the list is touched.
 *
 * Errors: exception_arg for a NULL list, a pop or peek of an empty list and
 * a T whose size differs from the list's elements; exception_nomem when
 * memory cannot be had, and then the list is left exactly as it was.
 *
 * Transactions: inside a transaction (<txc/txn.h>), changes to a list
 * created before it began are undone if it aborts.  While a transaction is
 * active the ring is never shrunk.
 *
 * Threads: a list is not synchronised; threads that share one must lock
 * around every use of it.
 */
#ifndef TXC_LIST_H
#define TXC_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <txc/heap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* list(T): the type of a list of T; use list(T)*. */
#define TXC_LIST(T) struct txc_list

/* new_list(T): a new empty list(T)* on the current heap.  O(1); the buffer
 * is taken at the first push.  Throws exception_nomem; exception_arg if
 * sizeof(T) is 0. */
#define TXC_NEW_LIST(T) txc__list_new(sizeof(T), __alignof__(T))

/* list_count(l): the number of elements, a size_t.  O(1). */
#define TXC_LIST_COUNT(l) txc_list_count(l)

/* list_push_end(l, T, v), list_push_start(l, T, v): add v after the last /
 * before the first element.  Amortised O(1). */
#define TXC_LIST_PUSH_END(l, T, v) TXC__LIST_PUSH(l, T, v, 1)
#define TXC_LIST_PUSH_START(l, T, v) TXC__LIST_PUSH(l, T, v, 0)

/* list_pop_end(l, T), list_pop_start(l, T): remove the last / first element
 * and return it (a T).  Amortised O(1): a ring left at most an eighth full
 * is copied into a smaller one (never inside a transaction).
 * exception_arg if the list is empty. */
#define TXC_LIST_POP_END(l, T) TXC__LIST_POP(l, T, 1)
#define TXC_LIST_POP_START(l, T) TXC__LIST_POP(l, T, 0)

/* list_peek_end(l, T), list_peek_start(l, T): the last / first element (a T,
 * not an lvalue).  O(1).  exception_arg if the list is empty. */
#define TXC_LIST_PEEK_END(l, T) __extension__({ *(const T*)txc__list_peek((l), sizeof(T), 1); })
#define TXC_LIST_PEEK_START(l, T) __extension__({ *(const T*)txc__list_peek((l), sizeof(T), 0); })

/* list_foreach(l, T, x) { ... }: runs the block for each element, first to
 * last, with T x a copy of it.  break leaves the loop, continue goes to the
 * next element, as in any loop.  The block should not push or pop: the loop
 * goes on by position, so it would see elements shifted (never memory that
 * is not the list's).  x need not be used. */
#define TXC_LIST_FOREACH(l, T, x)                                                \
    for (struct txc__list_it txc__li = {NULL, 0, 0},                            \
                             *txc__lip __attribute__((unused)) =                \
                                 txc__list_it_init(&txc__li, (l), sizeof(T));   \
         txc__list_it_next(&txc__li);)                                           \
        for (T x __attribute__((unused)) = *(const T*)txc__list_it_elem(&txc__li); \
             txc__li.brk; txc__li.brk = 0)

/* Long lower-case forms (API.md: txc_list_push_end ...). */
#define txc_list(T) TXC_LIST(T)
#define txc_new_list(T) TXC_NEW_LIST(T)
#define txc_list_push_end(l, T, v) TXC_LIST_PUSH_END(l, T, v)
#define txc_list_push_start(l, T, v) TXC_LIST_PUSH_START(l, T, v)
#define txc_list_pop_end(l, T) TXC_LIST_POP_END(l, T)
#define txc_list_pop_start(l, T) TXC_LIST_POP_START(l, T)
#define txc_list_peek_end(l, T) TXC_LIST_PEEK_END(l, T)
#define txc_list_peek_start(l, T) TXC_LIST_PEEK_START(l, T)
#define txc_list_foreach(l, T, x) TXC_LIST_FOREACH(l, T, x)

/* ------------------------------------------------------------------------
 * Internals used by the macros.  Layouts may change between versions; do
 * not touch them.
 * ------------------------------------------------------------------------ */

#define TXC__LIST_MAGIC ((size_t)0x6c73740000000000ull) /* "lst" */

struct txc_list {
    size_t check;       /* element size ^ TXC__LIST_MAGIC */
    size_t count;
    size_t head;        /* slot of the first element */
    size_t cap;         /* slots in the ring: 0 or a power of two */
    char* data;         /* malloc'ed ring, NULL while cap is 0 */
    size_t esize, align;
    uint64_t born;      /* txn clock at creation */
};

/* Member names must differ from the parameters of TXC_LIST_FOREACH. */
struct txc__list_it {
    struct txc_list* list;
    size_t at;          /* position visited (SIZE_MAX before the first) */
    int brk;
};

/* push: the slot to write the new element to; pop: the slot the removed
 * element is still in (valid until the next change of the list). */
TXC_API struct txc_list* txc__list_new(size_t esize, size_t align);
TXC_API void* txc__list_push(struct txc_list* l, size_t esize, int end);
TXC_API const void* txc__list_pop(struct txc_list* l, size_t esize, int end);
TXC_API __attribute__((noreturn, cold)) void txc__list_fail(const struct txc_list* l, size_t esize,
                                                          int what);
TXC_API void* txc__list_it_init(struct txc__list_it* it, struct txc_list* l, size_t esize);

#define TXC__LIST_PUSH(l, T, v, end)                                             \
    __extension__({                                                              \
        T txc__v = (v);                                                          \
        *(T*)txc__list_push((l), sizeof(T), (end)) = txc__v;                     \
        (void)0;                                                                 \
    })

#define TXC__LIST_POP(l, T, end)                                                 \
    __extension__({                                                              \
        T txc__r = *(const T*)txc__list_pop((l), sizeof(T), (end));              \
        txc__r;                                                                  \
    })

/* list_count(l): the number of elements.  O(1).  exception_arg if l is
 * NULL. */
static inline size_t txc_list_count(const struct txc_list* l)
{
    if (__builtin_expect(l == NULL || (l->check & ~(size_t)0xffffffffu) != TXC__LIST_MAGIC, 0))
        txc__list_fail(l, 0, 2);
    return l->count;
}

static inline const void* txc__list_peek(const struct txc_list* l, size_t esize, int end)
{
    if (__builtin_expect(l == NULL || l->check != (esize ^ TXC__LIST_MAGIC) || l->count == 0, 0))
        txc__list_fail(l, esize, end);
    return l->data + ((l->head + (end ? l->count - 1 : 0)) & (l->cap - 1)) * esize;
}

static inline bool txc__list_it_next(struct txc__list_it* it)
{
    if (it->brk || ++it->at >= it->list->count)
        return false;
    it->brk = 1;
    return true;
}

static inline const void* txc__list_it_elem(const struct txc__list_it* it)
{
    const struct txc_list* l = it->list;
    return l->data + ((l->head + it->at) & (l->cap - 1)) * l->esize;
}

#if !defined(TXC_NO_SHORT_NAMES) && !defined(__cplusplus)
#define list(T) TXC_LIST(T)
#define new_list(T) TXC_NEW_LIST(T)
#define list_count(l) TXC_LIST_COUNT(l)
#define list_push_end(l, T, v) TXC_LIST_PUSH_END(l, T, v)
#define list_push_start(l, T, v) TXC_LIST_PUSH_START(l, T, v)
#define list_pop_end(l, T) TXC_LIST_POP_END(l, T)
#define list_pop_start(l, T) TXC_LIST_POP_START(l, T)
#define list_peek_end(l, T) TXC_LIST_PEEK_END(l, T)
#define list_peek_start(l, T) TXC_LIST_PEEK_START(l, T)
#define list_foreach(l, T, x) TXC_LIST_FOREACH(l, T, x)
#endif

#ifdef __cplusplus
}
#endif

#endif
