/*
 * vec.c - vec(T): a growable array of fixed-size elements.
 *
 * struct txc_vec (declared in <txc/vec.h>, because vec_get and vec_foreach
 * read it inline) holds count elements of esize bytes in data, a malloc
 * block of cap elements.  Appending doubles cap when full; shrinking (by
 * vec_resize) gives storage back when the vec becomes mostly empty, but
 * never while a transaction is active (see container.h: undo must not need
 * memory).
 *
 * Invariants: count <= cap; data == NULL iff cap == 0; check == esize ^
 * TXC__VEC_MAGIC while the vec is alive, 0 after its destructor ran.
 *
 * The mutators are txc__vec_append, txc__vec_set and txc__vec_resize; each
 * logs one undo record (struct vec_rec) before it changes anything.
 */
#include "container.h"

enum { VEC_GET, VEC_COUNT, VEC_SET, VEC_APPEND, VEC_RESIZE, VEC_FOREACH, VEC_NEW };
static const char* const vec_who[] = {"txc_vec_get",    "txc_vec_count",   "txc_vec_set",
                                      "txc_vec_append", "txc_vec_resize",  "txc_vec_foreach",
                                      "txc_new_vec"};

/* Smallest storage taken, in elements. */
#define VEC_MIN_CAP 4

/* Undo record, one kind for every change: undo copies nsaved elements back
 * at index at, then sets the count back.
 *   append:           count = old count, nsaved = 0
 *   set(i):           count = count, at = i, nsaved = 1 (the old value)
 *   resize, growing:  count = old count, nsaved = 0 (the zeroed tail goes)
 *   resize, shrinking to n: count = old count, at = n, nsaved = old - n */
struct vec_rec {
    struct txc_vec* v; /* NULL: the change did not happen */
    size_t count, at, nsaved;
    char saved[];
};

static void vec_undo(void* p)
{
    struct vec_rec* r = p;
    struct txc_vec* v = r->v;
    if (!v)
        return;
    assert(r->at + r->nsaved <= v->cap && r->count <= v->cap);
    memcpy(v->data + r->at * v->esize, r->saved, r->nsaved * v->esize);
    v->count = r->count;
}

TXC_API void txc__vec_fail(const struct txc_vec* v, size_t esize, size_t i, int what)
{
    const char* who = vec_who[what];
    if (!v)
        THROW_ARG("%s: NULL vec", who);
    if ((v->check & ~(size_t)0xffffffffu) != TXC__VEC_MAGIC)
        THROW_ARG("%s: %p is not a vec (or was freed)", who, (const void*)v);
    if (esize && esize != v->esize)
        THROW_ARG("%s: element type of %zu bytes used on a vec of %zu-byte elements", who, esize,
                  v->esize);
    THROW_ARG("%s: index %zu out of range (count %zu)", who, i, v->count);
}

static inline void vec_check(const struct txc_vec* v, size_t esize, int what)
{
    if (UNLIKELY(!v || v->check != (esize ^ TXC__VEC_MAGIC)))
        txc__vec_fail(v, esize, 0, what);
}

static void vec_dtor(void* p)
{
    struct txc_vec* v = p;
    free(v->data);
    v->data = NULL;
    v->count = v->cap = 0;
    v->check = 0;
}

TXC_API struct txc_vec* txc__vec_new(size_t esize, size_t align)
{
    struct txc_vec* v = cont_new(sizeof *v, vec_dtor, esize, vec_who[VEC_NEW]);
    v->check = esize ^ TXC__VEC_MAGIC;
    v->esize = esize;
    v->align = align;
    v->born = txn_now();
    return v;
}

/* Room for at least need elements (exception_nomem, v unchanged). */
static void vec_reserve(struct txc_vec* v, size_t need, int what)
{
    if (need <= v->cap)
        return;
    size_t cap = v->cap > SIZE_MAX / 2 ? SIZE_MAX : v->cap * 2;
    if (cap < need)
        cap = need;
    if (cap < VEC_MIN_CAP)
        cap = VEC_MIN_CAP;
    char* p = cont_realloc(v->data, v->count * v->esize, cont_bytes(cap, v->esize), v->align);
    if (!p)
        THROW_NOMEM("%s: cannot grow a vec to %zu elements of %zu bytes", vec_who[what], cap, v->esize);
    v->data = p;
    v->cap = cap;
}

/* Give storage back when at most a quarter is used; failure is harmless. */
static void vec_shrink(struct txc_vec* v)
{
    if (v->count == 0) {
        free(v->data);
        v->data = NULL;
        v->cap = 0;
        return;
    }
    if (v->count > v->cap / 4 || v->cap <= 4 * VEC_MIN_CAP)
        return;
    size_t cap = v->count * 2;
    char* p = cont_realloc(v->data, v->count * v->esize, cap * v->esize, v->align);
    if (p) {
        v->data = p;
        v->cap = cap;
    }
}

TXC_API void* txc__vec_append(struct txc_vec* v, size_t esize)
{
    vec_check(v, esize, VEC_APPEND);
    struct vec_rec* r = txn_log_if(v->born, vec_undo, NULL, sizeof *r);
    if (UNLIKELY(v->count == v->cap))
        vec_reserve(v, v->count + 1, VEC_APPEND);
    if (UNLIKELY(r)) {
        r->count = v->count;
        r->v = v;
    }
    return v->data + v->count++ * esize;
}

TXC_API void* txc__vec_set(struct txc_vec* v, size_t esize, size_t i)
{
    if (UNLIKELY(!v || v->check != (esize ^ TXC__VEC_MAGIC) || i >= v->count))
        txc__vec_fail(v, esize, i, VEC_SET);
    char* slot = v->data + i * esize;
    struct vec_rec* r = txn_log_if(v->born, vec_undo, NULL, sizeof *r + esize);
    if (UNLIKELY(r)) {
        r->count = v->count;
        r->at = i;
        r->nsaved = 1;
        memcpy(r->saved, slot, esize);
        r->v = v;
    }
    return slot;
}

TXC_API void txc__vec_resize(struct txc_vec* v, size_t esize, size_t n)
{
    vec_check(v, esize, VEC_RESIZE);
    size_t old = v->count;
    if (n == old)
        return;
    size_t nsaved = n < old ? old - n : 0;
    struct vec_rec* r = txn_log_if(v->born, vec_undo, NULL, sizeof *r + nsaved * esize);
    if (n > v->cap)
        vec_reserve(v, n, VEC_RESIZE);
    if (UNLIKELY(r)) {
        r->count = old;
        r->at = n;
        r->nsaved = nsaved;
        memcpy(r->saved, v->data + n * esize, nsaved * esize);
        r->v = v;
    }
    if (n > old)
        memset(v->data + old * esize, 0, (n - old) * esize);
    v->count = n;
    if (n < old && !txc__ctx.txn)
        vec_shrink(v);
}

TXC_API void* txc__vec_it_init(struct txc__vec_it* it, struct txc_vec* v, size_t esize)
{
    vec_check(v, esize, VEC_FOREACH);
    it->vec = v;
    it->at = SIZE_MAX;
    it->go = it->brk = 0;
    return it;
}
