/*
 * list.c - list(T): a deque of fixed-size elements in a ring buffer.
 *
 * struct txc_list (declared in <txc/list.h>, because peeking and
 * list_foreach read it inline) keeps count elements of esize bytes in a ring
 * of cap slots (a power of two), the first at slot head, element k at slot
 * (head + k) & (cap - 1).  Pushing at either end is O(1) until the ring is
 * full; it then doubles, moving the shorter of the two wrapped segments.
 * Popping gives storage back when the ring is at most an eighth full, but
 * never while a transaction is active (see container.h).
 *
 * Invariants: count <= cap; cap == 0 or a power of two; head < cap (head == 0
 * when cap == 0); data == NULL iff cap == 0.
 *
 * The mutators are txc__list_push and txc__list_pop; each logs one undo
 * record (struct list_rec) before it changes anything.
 */
#include "container.h"

enum { L_PEEK_START, L_PEEK_END, L_COUNT, L_PUSH_START, L_PUSH_END, L_POP_START, L_POP_END, L_FOREACH,
       L_NEW };
static const char* const list_who[] = {
    "txc_list_peek_start", "txc_list_peek_end", "txc_list_count",   "txc_list_push_start",
    "txc_list_push_end",   "txc_list_pop_start", "txc_list_pop_end", "txc_list_foreach",
    "txc_new_list"};

#define LIST_MIN_CAP 8

/* Undo record.  A push is undone by removing one element at the same end,
 * a pop by putting the saved element back at its end.  Since every later
 * change is undone first, the list then holds exactly what it held right
 * after the change, and the ring has room (capacities only grow during a
 * transaction). */
struct list_rec {
    struct txc_list* l; /* NULL: the change did not happen */
    int end;            /* 1 the end, 0 the start */
    int pushed;         /* 1 push, 0 pop (saved holds the element) */
    char saved[];
};

static inline char* list_slot(const struct txc_list* l, size_t k)
{
    return l->data + ((l->head + k) & (l->cap - 1)) * l->esize;
}

static void list_undo(void* p)
{
    struct list_rec* r = p;
    struct txc_list* l = r->l;
    if (!l)
        return;
    if (r->pushed) {
        assert(l->count > 0);
        if (!r->end)
            l->head = (l->head + 1) & (l->cap - 1);
        l->count--;
        return;
    }
    assert(l->count < l->cap);
    if (!r->end)
        l->head = (l->head - 1) & (l->cap - 1);
    l->count++;
    memcpy(list_slot(l, r->end ? l->count - 1 : 0), r->saved, l->esize);
}

TXC_API void txc__list_fail(const struct txc_list* l, size_t esize, int what)
{
    const char* who = list_who[what];
    if (!l)
        THROW_ARG("%s: NULL list", who);
    if ((l->check & ~(size_t)0xffffffffu) != TXC__LIST_MAGIC)
        THROW_ARG("%s: %p is not a list (or was freed)", who, (const void*)l);
    if (esize && esize != l->esize)
        THROW_ARG("%s: element type of %zu bytes used on a list of %zu-byte elements", who, esize,
                  l->esize);
    THROW_ARG("%s: the list is empty", who);
}

static inline void list_check(const struct txc_list* l, size_t esize, int what)
{
    if (UNLIKELY(!l || l->check != (esize ^ TXC__LIST_MAGIC)))
        txc__list_fail(l, esize, what);
}

static void list_dtor(void* p)
{
    struct txc_list* l = p;
    free(l->data);
    l->data = NULL;
    l->count = l->cap = l->head = 0;
    l->check = 0;
}

TXC_API struct txc_list* txc__list_new(size_t esize, size_t align)
{
    struct txc_list* l = cont_new(sizeof *l, list_dtor, esize, list_who[L_NEW]);
    l->check = esize ^ TXC__LIST_MAGIC;
    l->esize = esize;
    l->align = align;
    l->born = txn_now();
    return l;
}

/* Copy the elements, in order, to the start of a new ring of cap slots;
 * false (l unchanged) when memory cannot be had. */
static bool list_relayout(struct txc_list* l, size_t cap)
{
    size_t es = l->esize;
    char* p = cont_realloc(NULL, 0, cont_bytes(cap, es), l->align);
    if (!p)
        return false;
    size_t first = l->cap - l->head; /* elements before the wrap */
    if (first > l->count)
        first = l->count;
    if (l->count) {
        memcpy(p, l->data + l->head * es, first * es);
        memcpy(p + first * es, l->data, (l->count - first) * es);
    }
    free(l->data);
    l->data = p;
    l->cap = cap;
    l->head = 0;
    return true;
}

/* Double the ring (exception_nomem, l unchanged).  realloc keeps the slots
 * [0, cap); the wrapped part [0, head + count - cap) would then have to
 * follow the old end, so the shorter segment moves. */
static void list_grow(struct txc_list* l, int what)
{
    size_t cap = l->cap ? l->cap * 2 : LIST_MIN_CAP;
    size_t es = l->esize;
    if (l->cap > SIZE_MAX / 2 / es)
        THROW_NOMEM("%s: a list cannot hold more than %zu elements", list_who[what], l->cap);
    if (l->align > CONT_MALLOC_ALIGN) {
        if (!list_relayout(l, cap))
            THROW_NOMEM("%s: cannot grow a list to %zu elements of %zu bytes", list_who[what], cap, es);
        return;
    }
    char* p = cont_realloc(l->data, 0, cap * es, l->align);
    if (!p)
        THROW_NOMEM("%s: cannot grow a list to %zu elements of %zu bytes", list_who[what], cap, es);
    size_t old = l->cap, wrapped = l->head + l->count > old ? l->head + l->count - old : 0;
    if (wrapped) {
        size_t tail = old - l->head; /* elements from head to the old end */
        if (wrapped <= tail) {
            memcpy(p + old * es, p, wrapped * es);
        } else {
            memmove(p + (cap - tail) * es, p + l->head * es, tail * es);
            l->head = cap - tail;
        }
    }
    l->data = p;
    l->cap = cap;
}

TXC_API void* txc__list_push(struct txc_list* l, size_t esize, int end)
{
    list_check(l, esize, L_PUSH_START + !!end);
    struct list_rec* r = txn_log_if(l->born, list_undo, NULL, sizeof *r);
    if (UNLIKELY(l->count == l->cap))
        list_grow(l, L_PUSH_START + !!end);
    if (UNLIKELY(r)) {
        r->end = !!end;
        r->pushed = 1;
        r->l = l;
    }
    if (!end)
        l->head = (l->head - 1) & (l->cap - 1);
    l->count++;
    return list_slot(l, end ? l->count - 1 : 0);
}

TXC_API const void* txc__list_pop(struct txc_list* l, size_t esize, int end)
{
    int what = L_POP_START + !!end;
    if (UNLIKELY(!l || l->check != (esize ^ TXC__LIST_MAGIC) || l->count == 0))
        txc__list_fail(l, esize, what);
    struct list_rec* r = txn_log_if(l->born, list_undo, NULL, sizeof *r + esize);
    if (UNLIKELY(l->count - 1 <= l->cap / 8) && l->cap > LIST_MIN_CAP && !txc__ctx.txn) {
        /* Give storage back (the element popped below moves too); failure
         * is harmless. */
        list_relayout(l, l->cap / 4 > LIST_MIN_CAP ? l->cap / 4 : LIST_MIN_CAP);
    }
    char* slot = list_slot(l, end ? l->count - 1 : 0);
    if (UNLIKELY(r)) {
        r->end = !!end;
        memcpy(r->saved, slot, esize);
        r->l = l;
    }
    if (!end)
        l->head = (l->head + 1) & (l->cap - 1);
    l->count--;
    return slot;
}

TXC_API void* txc__list_it_init(struct txc__list_it* it, struct txc_list* l, size_t esize)
{
    list_check(l, esize, L_FOREACH);
    it->list = l;
    it->at = SIZE_MAX;
    it->brk = 0;
    return it;
}
