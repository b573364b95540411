/*
 * heap.c - heaps as allocations: the tree, freeing, moving, destructors,
 * statistics and merging.  The model is described in internal.h.
 *
 * The global heap is the one heap shared by threads; every operation that
 * touches it takes one recursive mutex (global_lock), and it never has a bump
 * chunk, so allocating on it always takes the locked slow path.
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static struct txc__heap_block global_block = {
    .hdr = {.word = (uint64_t)(uintptr_t)&global_block.heap.self,
            .size = 0,
            .tag = TAG_LIVE | TF_TRACKED | TF_HEAP | TF_STATIC},
    .heap = {.self = {.ptr = &global_block.heap}, .flags = HF_GLOBAL | HF_INDIVIDUAL},
};
txc_heap_t* const txc__global = &global_block.heap;
static pthread_mutex_t global_mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

void global_lock(txc_heap_t* h)
{
    if (h && UNLIKELY(h->flags & HF_GLOBAL))
        pthread_mutex_lock(&global_mutex);
}

void global_unlock(txc_heap_t* h)
{
    if (h && UNLIKELY(h->flags & HF_GLOBAL))
        pthread_mutex_unlock(&global_mutex);
}

/* ---- pointer checks ---- */

void check_ptr_fail(const void* p, const char* who)
{
    if (!p)
        THROW_ARG("%s: NULL pointer", who);
    if ((uintptr_t)p & (ALIGN - 1))
        txc__fatal("%s: %p was not allocated by txc", who, p);
    if ((read_tag(hdr_of(p)) & TAG_MAGIC) == TAG_DEAD)
        txc__fatal("%s: %p was already freed", who, p);
    txc__fatal("%s: %p was not allocated by txc", who, p);
}

static txc_heap_t* check_heap(const txc_heap_t* h, const char* who)
{
    struct txc__hdr* hd = check_ptr(h, who);
    if (!(hd->tag & TF_HEAP))
        THROW_ARG("%s: %p is not a heap", who, (const void*)h);
    return (txc_heap_t*)h;
}

/* ---- the list of tracked allocations ---- */

/* GCC turns a memset of a heap into rep stos, slow to start at this size
 * (~30 cycles); a copy from a zeroed template is ten vector stores. */
static const txc_heap_t heap_zero;

void heap_init(txc_heap_t* h, txc_heap_t* parent, unsigned hflags)
{
    memcpy(h, &heap_zero, sizeof *h);
    h->flags = hflags;
    h->self.ptr = h;
    h->self.heap = parent;
}

void heap_block_init(struct txc__heap_block* b, txc_heap_t* parent, unsigned hflags, uint32_t tag)
{
    heap_init(&b->heap, parent, hflags);
    b->hdr.word = (uint64_t)(uintptr_t)&b->heap.self;
    b->hdr.size = 0;
    b->hdr.tag = tag;
}

/* Insert n by its arrival number (it already counts in h's statistics). */
static void heap_insert_ordered(txc_heap_t* h, struct txc__node* n)
{
    struct txc__node* after = h->tail;
    while (after && after->seq > n->seq)
        after = after->prev;
    n->heap = h;
    n->prev = after;
    n->next = after ? after->next : h->head;
    if (n->next)
        n->next->prev = n;
    else
        h->tail = n;
    if (after)
        after->next = n;
    else
        h->head = n;
}

/* Heap blocks come and go with every exception and transaction: a few freed
 * ones are kept per thread. */
#define BLOCK_CACHE 8

static void block_free(struct txc__heap_block* b)
{
    if (b->heap.flags & HF_EXC) { /* exceptions keep their blocks apart */
        exc_block_free(b);
        return;
    }
    struct tstate* ts = &txc__ts;
    if (ts->nblocks < BLOCK_CACHE) {
        b->heap.self.next = (struct txc__node*)ts->blocks;
        ts->blocks = b;
        ts->nblocks++;
    } else {
        free(b);
    }
}

void block_cache_drain(void)
{
    exc_cache_drain();
    struct tstate* ts = &txc__ts;
    while (ts->blocks) {
        struct txc__heap_block* b = ts->blocks;
        ts->blocks = (struct txc__heap_block*)b->heap.self.next;
        free(b);
    }
    ts->nblocks = 0;
}

txc_heap_t* heap_block_new(txc_heap_t* parent, unsigned hflags)
{
    struct tstate* ts = &txc__ts;
    struct txc__heap_block* b = ts->blocks;
    if (b) {
        ts->blocks = (struct txc__heap_block*)b->heap.self.next;
        ts->nblocks--;
    } else {
        b = sys_malloc(sizeof *b);
        if (!b)
            return NULL;
    }
    heap_block_init(b, NULL, hflags, TAG_LIVE | TF_TRACKED | TF_HEAP | TF_OWNBLOCK);
    if (parent) {
        global_lock(parent);
        heap_link(parent, &b->heap.self);
        global_unlock(parent);
    }
    return &b->heap;
}

static struct txc__node* node_new(void)
{
    struct txc__node* n = node_get();
    if (!n)
        THROW_NOMEM("cannot allocate a node");
    return n;
}

/* Turn a plain allocation into a tracked one (a node in its owner's list),
 * using *spare (which it then clears) as the node.  Cannot fail, so it may
 * run under the global lock; the spare is allocated before. */
static struct txc__node* make_tracked(struct txc__hdr* hd, struct txc__node** spare)
{
    if (hd->tag & TF_TRACKED)
        return hdr_node(hd);
    struct txc__chunk* c = hdr_chunk(hd);
    struct txc__node* n = *spare;
    *spare = NULL;
    memset(n, 0, sizeof *n);
    n->flags = NF_MALLOC;
    n->ptr = hd + 1;
    n->chunk = c;
    n->size = hd->size;
    n->seq = (hd->word >> SEQ_SHIFT) + c->seq_delta;
    c->converted++;
    c->converted_bytes += hd->size;
    heap_insert_ordered(c->home, n);
    hd->word = (uint64_t)(uintptr_t)n;
    hd->tag |= TF_TRACKED;
    return n;
}

/* ---- freeing ---- */

void chunk_unref(struct txc__chunk* c)
{
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
        chunk_release(c);
}

static void mark_dead(struct txc__hdr* hd)
{
    *(volatile uint32_t*)&hd->tag = TAG_DEAD;
}

/* Free one allocation of h (destructor, contents if a heap, memory). */
static void free_alloc(txc_heap_t* h, struct txc__hdr* hd)
{
    if (!(hd->tag & TF_TRACKED)) {
        size_t size = hd->size;
        heap_settle(h);
        h->allocs--;
        h->bytes -= size;
        mark_dead(hd);
        poison(hd + 1, 0xfe, size);
        if ((char*)(hd + 1) + round_up(size) == h->bump && hdr_chunk(hd) == h->chunk)
            h->bump = h->counted = (char*)hd; /* the newest allocation: take the room back */
        return;
    }
    struct txc__node* n = hdr_node(hd);
    n->flags |= NF_DYING;
    if (n->dtor) {
        void (*fn)(void*) = n->dtor;
        n->dtor = NULL;
        run_guarded(fn, n->ptr, "a destructor");
    }
    if (hd->tag & TF_HEAP)
        heap_clear((txc_heap_t*)n->ptr);
    heap_unlink(n);
    if (hd->tag & TF_LARGE) {
        poison(n->ptr, 0xfe, n->size);
        mark_dead(hd);
        free((struct large*)n);
    } else if (hd->tag & TF_OWNBLOCK) {
        mark_dead(hd);
        block_free((struct txc__heap_block*)hd);
    } else if (hd->tag & TF_FRAME) {
        mark_dead(hd);
    } else {
        struct txc__chunk* c = n->chunk;
        unsigned nflags = n->flags;
        poison(n->ptr, 0xfe, n->size);
        mark_dead(hd);
        if (nflags & NF_MALLOC)
            node_put(n);
        if (nflags & NF_PINNED)
            chunk_unref(c);
    }
}

/* The borrower of lent chunk c is done with it, having filled it up to fill.
 * The lender takes the room back if it has not moved on to another chunk:
 * all of it, or what follows the allocations that moved out (to the lender
 * without a node: keep; elsewhere: pins, which keep c, and through it the
 * outer chunk, alive). */
static void chunk_give_back(struct txc__chunk* c, char* fill)
{
    txc_heap_t* p = c->lender;
    bool pinned = __atomic_load_n(&c->refs, __ATOMIC_RELAXED) != 1;
    if (p->chunk == c->outer && p->bump == p->end)
        p->bump = p->counted = pinned ? fill : c->keep;
    if (pinned) {
        __atomic_add_fetch(&c->outer->refs, 1, __ATOMIC_RELAXED);
        chunk_unref(c);
    }
}

void heap_clear(txc_heap_t* h)
{
    while (h->tail) {
        struct txc__node* n = h->tail;
        if ((n->flags & NF_TXN_MOVED) && txc__ctx.txn && txn_park(n))
            continue; /* an abort may still move it back */
        free_alloc(h, hdr_of(n->ptr));
    }
    struct txc__chunk* c = h->chunk;
    while (c) {
        struct txc__chunk* next = c->next;
        c->home = NULL;
        /* Only this thread can add pins to a chunk of its own heap, so a
         * count of 1 is ours alone. */
        if (c->outer)
            chunk_give_back(c, c == h->chunk ? h->bump : c->fill);
        else if (__atomic_load_n(&c->refs, __ATOMIC_RELAXED) == 1)
            chunk_release(c);
        else
            chunk_unref(c);
        c = next;
    }
    h->chunk = NULL;
    h->bump = h->end = h->counted = NULL;
    h->nchunks = 0;
    h->allocs = h->bytes = 0;
}

void heap_destroy(txc_heap_t* h)
{
    struct txc__hdr* hd = hdr_of(h);
    txc_heap_t* parent = h->self.heap;
    if (parent) {
        global_lock(parent);
        free_alloc(parent, hd);
        global_unlock(parent);
        return;
    }
    heap_clear(h);
    mark_dead(hd);
    block_free((struct txc__heap_block*)hd);
}

/* Is h, or a heap below it, used by a running block of this thread? */
bool heap_in_use(const txc_heap_t* h)
{
    struct txc__ctx* c = &txc__ctx;
    if (heap_within(c->current, h))
        return true;
    /* (The heaps of the pooled sub_heap blocks, which have no frames, need
     * no look of their own: each is the parent of the next block entered,
     * or the heap the next frame saved, or current, and those are within
     * it.) */
    for (struct txc__frame* f = c->top; f; f = f->prev) {
        txc_heap_t* in = f->kind == TXC__F_SWITCH ? ((struct txc__switch_heap*)f)->heap : frame_heap_of(f);
        if ((in && heap_within(in, h)) || heap_within(f->saved, h))
            return true;
    }
    return false;
}

/* The heap an exception object stands for (moves and frees act on it). */
static struct txc__hdr* exc_target(struct txc__hdr* hd, void** p, const char* who)
{
    txc_exception_t* e = *p;
    if (!e->heap)
        THROW_ARG("%s: this exception_nomem has no heap (memory was exhausted)", who);
    *p = e->heap;
    return hdr_of(e->heap);
    (void)hd;
}

bool heap_within(const txc_heap_t* h, const txc_heap_t* ancestor)
{
    for (; h; h = h->self.heap)
        if (h == ancestor)
            return true;
    return false;
}

uint64_t hdr_seq(const struct txc__hdr* hd)
{
    return (hd->tag & TF_TRACKED) ? hdr_node(hd)->seq : (hd->word >> SEQ_SHIFT) + hdr_chunk(hd)->seq_delta;
}

TXC_API void txc_free(void* p)
{
    heap_free(p, true);
}

/* heap_free after the pointer check; apart, so that freeing a caught
 * exception (exc_free_fast) does not pay for setting up the rest. */
static __attribute__((noinline)) void heap_free_checked(void* p, struct txc__hdr* hd, bool may_defer)
{
    if ((hd->tag & TF_TRACKED) && (hdr_node(hd)->flags & NF_DYING))
        return; /* already being freed (a destructor freeing its own object) */
    if (hd->tag & TF_HEAP) {
        txc_heap_t* h = p;
        if ((hd->tag & TF_STATIC) || (h->flags & HF_ROOT))
            THROW_ARG("txc_free: a root heap or the global heap cannot be freed");
        if ((hd->tag & TF_FRAME) || heap_in_use(h))
            THROW_ARG("txc_free: heap %p is used by a running block", p);
    }
    txc_heap_t* owner = hdr_owner(hd);
    if (may_defer && txc__ctx.txn && txn_free_hook(hd, owner))
        return;
    global_lock(owner);
    free_alloc(owner, hd);
    global_unlock(owner);
}

void heap_free(void* p, bool may_defer)
{
    if (!p)
        return;
    struct txc__hdr* hd = check_ptr(p, "txc_free");
    if (hd->tag & TF_EXC) {
        if (!((txc_exception_t*)p)->heap || exc_free_fast(p))
            return;
        hd = exc_target(hd, &p, "txc_free");
    }
    heap_free_checked(p, hd, may_defer);
}

/* ---- moving ---- */

/* Validate a move of p to dst (NULL: to its owner's parent) and make it
 * tracked; returns its header.  Throws exception_arg on a refusal. */
static struct txc__hdr* move_prepare(void** pp, txc_heap_t** dstp, const char* who)
{
    void* p = *pp;
    struct txc__hdr* hd = check_ptr(p, who);
    if (hd->tag & TF_EXC)
        hd = exc_target(hd, &p, who);
    if (hd->tag & (TF_FRAME | TF_STATIC))
        THROW_ARG("%s: %p is the heap of a running block or the global heap, which cannot move", who, p);
    if ((hd->tag & TF_HEAP) && (((txc_heap_t*)p)->flags & HF_ROOT))
        THROW_ARG("%s: a root heap cannot move", who);
    if ((hd->tag & TF_HEAP) && heap_in_use(p))
        THROW_ARG("%s: heap %p is used by a running block and cannot move", who, p);
    if ((hd->tag & TF_TRACKED) && (hdr_node(hd)->flags & NF_DYING))
        THROW_ARG("%s: %p is being freed", who, p);
    txc_heap_t* src = hdr_owner(hd);
    txc_heap_t* dst = *dstp ? *dstp : src->self.heap;
    if (!dst)
        THROW_ARG("%s: %p is on a heap that has no parent", who, p);
    if (hd->tag & TF_HEAP)
        for (txc_heap_t* x = dst; x; x = x->self.heap)
            if (x == p)
                THROW_ARG("%s: heap %p cannot move into itself or a heap below it", who, p);
    *pp = p;
    *dstp = dst;
    return hd;
}

static void move_commit(struct txc__hdr* hd, txc_heap_t* dst)
{
    struct txc__node* n = hdr_node(hd);
    txc_heap_t* src = n->heap;
    if (src == dst)
        return;
    if (n->chunk && !(n->flags & NF_PINNED)) {
        __atomic_add_fetch(&n->chunk->refs, 1, __ATOMIC_RELAXED);
        n->flags |= NF_PINNED;
    }
    heap_unlink(n);
    heap_link(dst, n);
}

void heap_move_nocheck(struct txc__hdr* hd, txc_heap_t* dst, struct txc__node* spare)
{
    txc_heap_t* src = hdr_owner(hd);
    global_lock(src);
    global_lock(dst);
    make_tracked(hd, &spare);
    move_commit(hd, dst);
    global_unlock(dst);
    global_unlock(src);
    free(spare);
}

static void move_array(void* const* ps, size_t n, bool to_current, const char* who)
{
    txc_heap_t* cur = ctx_get()->current;
    struct txc__hdr* hds[n ? n : 1];
    txc_heap_t* dsts[n ? n : 1];
    void* ptrs[n ? n : 1];
    bool global = false;
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = ps[i];
        dsts[i] = to_current ? cur : NULL;
        hds[i] = move_prepare(&ptrs[i], &dsts[i], who);
        global |= ((hdr_owner(hds[i])->flags | dsts[i]->flags) & HF_GLOBAL) != 0;
    }
    struct txc__node* spares[n ? n : 1];
    for (size_t i = 0; i < n; i++) {
        spares[i] = (hds[i]->tag & TF_TRACKED) ? NULL : node_get();
        if (!spares[i] && !(hds[i]->tag & TF_TRACKED)) {
            while (i--)
                free(spares[i]);
            THROW_NOMEM("%s: cannot allocate a node", who); /* nothing has moved */
        }
    }
    bool logged[n ? n : 1];
    for (size_t i = 0; i < n; i++) /* log before anything moves: a failure moves nothing */
        logged[i] = txc__ctx.txn && hdr_owner(hds[i]) != dsts[i] && txn_move_hook(hds[i], hdr_owner(hds[i]));
    txc_heap_t* lock = global ? txc__global : NULL;
    global_lock(lock);
    for (size_t i = 0; i < n; i++) {
        make_tracked(hds[i], &spares[i]);
        if (logged[i])
            hdr_node(hds[i])->flags += NF_MOVES_ONE;
        move_commit(hds[i], dsts[i]);
    }
    global_unlock(lock);
    for (size_t i = 0; i < n; i++)
        if (spares[i])
            node_put(spares[i]);
}

/* A plain allocation in a chunk lent by dst (a sub heap's first chunk is
 * the free end of its parent's chunk) moves to dst without a node: it
 * becomes a plain allocation of dst in dst's own chunk, arriving now, and
 * the chunk's keep mark stops dst from taking its room back when the sub
 * heap ends.  Only outside transactions (no undo, no merge marks to keep
 * counts for). */
static bool move_to_lender(struct txc__hdr* hd, struct txc__chunk* c, txc_heap_t* src, txc_heap_t* dst)
{
    struct txc__chunk* o = c->outer;
    if (!o || c->lender != dst || o->home != dst || o->seq_delta)
        return false;
    char* end = (char*)(hd + 1) + round_up(hd->size);
    hd->word = (dst->seq++ << SEQ_SHIFT) | (((uintptr_t)hd - (uintptr_t)o) / ALIGN);
    src->allocs--;
    src->bytes -= hd->size;
    dst->allocs++;
    dst->bytes += hd->size;
    if (end > c->keep)
        c->keep = end;
    return true;
}

/* One plain allocation (no destructor, never moved, not a heap or an
 * exception) moving outside any transaction between heaps that are not the
 * global heap: nothing to refuse, log or lock. */
static bool move_one(void* p, txc_heap_t* dst, const char* who)
{
    struct txc__hdr* hd = check_ptr(p, who);
    if ((hd->tag & (TF_TRACKED | TF_EXC | TF_HEAP)) || txc__ctx.txn)
        return false;
    struct txc__chunk* c = hdr_chunk(hd);
    txc_heap_t* src = c->home;
    if (!dst)
        dst = src->self.heap;
    if (!dst || ((src->flags | dst->flags) & HF_GLOBAL))
        return false;
    if (src != dst && !move_to_lender(hd, c, src, dst)) {
        struct txc__node* n = node_get();
        if (!n)
            THROW_NOMEM("%s: cannot allocate a node", who);
        make_tracked(hd, &n);
        move_commit(hd, dst);
    }
    return true;
}

TXC_API void* txc_escape(void* p)
{
    if (!move_one(p, NULL, "txc_escape"))
        move_array(&p, 1, false, "txc_escape");
    return p;
}

TXC_API void* txc_import(void* p)
{
    if (!move_one(p, ctx_get()->current, "txc_import"))
        move_array(&p, 1, true, "txc_import");
    return p;
}

TXC_API void txc_escape_array(void* const* ps, size_t n)
{
    move_array(ps, n, false, "txc_escape");
}

TXC_API void txc_import_array(void* const* ps, size_t n)
{
    move_array(ps, n, true, "txc_import");
}

/* ---- the rest of the public heap API ---- */

TXC_API void txc_set_destructor(void* p, void (*fn)(void*))
{
    struct txc__hdr* hd = check_ptr(p, "txc_set_destructor");
    if (!(hd->tag & TF_TRACKED) && !fn)
        return;
    struct txc__node* spare = (hd->tag & TF_TRACKED) ? NULL : node_new();
    txc_heap_t* owner = hdr_owner(hd);
    global_lock(owner);
    make_tracked(hd, &spare)->dtor = fn;
    global_unlock(owner);
}

TXC_API txc_heap_t* txc_heap_current(void)
{
    return ctx_get()->current;
}

TXC_API txc_heap_t* txc_heap_new(void)
{
    txc_heap_t* h = heap_block_new(ctx_get()->current, 0);
    if (!h)
        THROW_NOMEM("txc_heap_new: cannot allocate a heap");
    return h;
}

TXC_API txc_heap_t* txc_heap_parent(const txc_heap_t* h)
{
    return check_heap(h, "txc_heap_parent")->self.heap;
}

TXC_API txc_heap_t* txc_heap_of(const void* p)
{
    return hdr_owner(check_ptr(p, "txc_heap_of"));
}

/* The heaps of this thread's pooled sub_heap blocks that are on h. */
/* The allocations the inline bump made since the counts were settled: each
 * header is followed by its allocation, rounded up, and the next header. */
size_t heap_pending(const txc_heap_t* h, size_t* bytes)
{
    size_t n = 0;
    const char* b = h->counted;
    for (; b < h->bump; n++) {
        const struct txc__hdr* hd = (const struct txc__hdr*)(const void*)b;
        *bytes += hd->size;
        b += HDR_SIZE + round_up(hd->size);
    }
    assert(b == h->bump);
    return n;
}

void heap_settle_slow(txc_heap_t* h)
{
    h->allocs += heap_pending(h, &h->bytes);
    h->counted = h->bump;
}

static size_t pooled_on(const txc_heap_t* h)
{
    size_t n = 0;
    for (const struct txc__heap_block* p = txc__ctx.pool_base; p != txc__ctx.pool_top; p++)
        n += p->heap.self.heap == h;
    return n;
}

static void stats_add(const txc_heap_t* h, size_t* allocs, size_t* bytes)
{
    *allocs += h->allocs + heap_pending(h, bytes);
    *bytes += h->bytes;
    for (const struct txc__node* n = h->head; n; n = n->next)
        if (hdr_of(n->ptr)->tag & TF_HEAP)
            stats_add(n->ptr, allocs, bytes);
    /* the heaps of running blocks are not in h's list (and the pooled ones
     * not in its allocs field) */
    for (const struct txc__heap_block* p = txc__ctx.pool_base; p != txc__ctx.pool_top; p++) {
        if (p->heap.self.heap == h) {
            ++*allocs;
            stats_add(&p->heap, allocs, bytes);
        }
    }
    for (struct txc__frame* f = txc__ctx.top; f; f = f->prev) {
        txc_heap_t* fh = frame_heap_of(f);
        if (fh && fh->self.heap == h)
            stats_add(fh, allocs, bytes);
    }
}

TXC_API void txc_heap_stats(const txc_heap_t* h, txc_heap_stats_t* out)
{
    txc_heap_t* hh = check_heap(h, "txc_heap_stats");
    if (!out)
        THROW_ARG("txc_heap_stats: NULL output");
    global_lock(hh);
    size_t bytes = h->bytes;
    out->allocs = h->allocs + heap_pending(h, &bytes) + pooled_on(h);
    out->bytes = bytes;
    out->total_allocs = out->total_bytes = 0;
    stats_add(h, &out->total_allocs, &out->total_bytes);
    global_unlock(hh);
}

/* Move everything on src to dst, keeping addresses: whole chunks change
 * home, and arrival numbers shift past dst's so that src's allocations
 * arrive on dst now, in their order.  Costs one step per chunk and per
 * tracked allocation. */
void heap_merge(txc_heap_t* src, txc_heap_t* dst)
{
    heap_settle(src); /* (its bump pointer goes) */
    uint64_t shift = dst->seq;
    struct txc__chunk* first = src->chunk;
    struct txc__chunk* last = NULL;
    for (struct txc__chunk* c = first; c; c = c->next) {
        c->home = dst;
        c->seq_delta += shift;
        last = c;
    }
    if (first) {
        if (dst->bump) { /* keep dst's current chunk at the head */
            last->next = dst->chunk->next;
            dst->chunk->next = first;
        } else {
            last->next = dst->chunk;
            dst->chunk = first;
        }
        dst->nchunks += src->nchunks;
    }
    for (struct txc__node* n = src->head; n; n = n->next) {
        n->seq += shift;
        n->heap = dst;
    }
    if (src->head) {
        src->head->prev = dst->tail;
        if (dst->tail)
            dst->tail->next = src->head;
        else
            dst->head = src->head;
        dst->tail = src->tail;
    }
    dst->seq += src->seq;
    dst->allocs += src->allocs;
    dst->bytes += src->bytes;
    src->head = src->tail = NULL;
    src->chunk = NULL;
    src->bump = src->end = src->counted = NULL;
    src->nchunks = 0;
    src->allocs = src->bytes = 0;
    src->seq = 0;
}

/* Note, before heap_merge(src, dst), what it will bring. */
void merge_mark(struct merge_mark* m, const txc_heap_t* src, txc_heap_t* dst)
{
    size_t tracked = 0, tracked_bytes = 0;
    heap_settle((txc_heap_t*)src); /* (what it holds does not change) */
    for (const struct txc__node* n = src->head; n; n = n->next)
        tracked++, tracked_bytes += n->size;
    m->dst = dst;
    m->lo = dst->seq;
    m->hi = dst->seq + src->seq;
    m->first = src->chunk;
    m->last = NULL;
    m->conv = m->conv_bytes = 0;
    for (struct txc__chunk* c = src->chunk; c; c = c->next) {
        m->last = c;
        m->conv += c->converted;
        m->conv_bytes += c->converted_bytes;
    }
    m->plain = src->allocs - tracked;
    m->plain_bytes = src->bytes - tracked_bytes;
}

/* Take back from dst what a heap_merge brought and is still there, and free
 * it: a nested transaction's commit undone by its parent's abort.  Tracked
 * allocations are those with the arrival numbers it gave (one that moved
 * away or arrived again since is not its any more); plain ones are in the
 * chunks it brought, less those made tracked since. */
void heap_unmerge(const struct merge_mark* m)
{
    txc_heap_t* dst = m->dst;
    txc_heap_t tmp;
    heap_init(&tmp, NULL, 0);
    global_lock(dst);
    struct txc__node* n = dst->tail;
    while (n && n->seq >= m->hi)
        n = n->prev;
    struct txc__node* hi = n;
    while (n && n->seq >= m->lo)
        n = n->prev;
    struct txc__node* lo = n ? n->next : dst->head;
    if (hi && lo && lo->seq < m->hi) {
        if (lo->prev)
            lo->prev->next = hi->next;
        else
            dst->head = hi->next;
        if (hi->next)
            hi->next->prev = lo->prev;
        else
            dst->tail = lo->prev;
        lo->prev = NULL;
        hi->next = NULL;
        tmp.head = lo;
        tmp.tail = hi;
        for (struct txc__node* x = lo; x; x = x->next) {
            x->heap = &tmp;
            tmp.allocs++;
            tmp.bytes += x->size;
        }
    }
    if (m->first) {
        struct txc__chunk** pp = &dst->chunk;
        while (*pp && *pp != m->first)
            pp = &(*pp)->next;
        if (*pp) {
            *pp = m->last->next;
            m->last->next = NULL;
            tmp.chunk = m->first;
            size_t conv = 0, conv_bytes = 0;
            for (struct txc__chunk* c = m->first; c; c = c->next) {
                c->home = &tmp;
                conv += c->converted;
                conv_bytes += c->converted_bytes;
            }
            tmp.allocs += m->plain - (conv - m->conv);
            tmp.bytes += m->plain_bytes - (conv_bytes - m->conv_bytes);
        }
    }
    dst->allocs -= tmp.allocs;
    dst->bytes -= tmp.bytes;
    global_unlock(dst);
    heap_clear(&tmp);
}
