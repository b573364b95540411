/*
 * frame.c - the per-thread frame stack and the heap blocks.
 *
 * Every block macro (sub_heap, switch_heap, global_heap, try, the
 * transactions) declares a frame in the C stack frame of the function that
 * runs it and links it on top of the thread's context (txc__ctx, an
 * initial-exec TLS variable).  Entering a block allocates nothing: a
 * sub_heap block's heap object comes from the thread's pool of them, a
 * stack made with the context (POOL_HEAPS heaps, each made ready the first
 * time the stack of blocks reaches it, and made new again when a block that
 * used it is left); past the pool, and for transactions, the heap object is
 * in the frame.
 *
 * A sub_heap block whose heap comes from the pool pushes no frame: the pool
 * is itself a stack, and each of its heaps in use notes the frame that was
 * on top when its block was entered (self.below).
 *
 * A block left normally (end, break, continue, return, goto) pops its frame
 * or its pooled heap from the cleanup attribute of the macro's local.  An
 * exception unwinds from the top down to the catching try: before each
 * frame, the pooled heaps entered above it (pool_unwind()), then the frame
 * itself (frame_unwind_one()); then it longjmps, which skips the cleanups of
 * the blocks it already left.
 *
 * The context is made on first use: the thread's root heap, the pool, its
 * preallocated exception_nomem, and a pthread key whose destructor frees the
 * root heap and the chunk cache when the thread exits.  The thread that
 * calls exit() frees its root heap then too, if it is not inside a block.
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TXC_API __thread struct txc__ctx txc__ctx __attribute__((tls_model("initial-exec")));

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void thread_done(void* arg)
{
    (void)arg;
    struct txc__ctx* c = &txc__ctx;
    if (!c->root)
        return;
    /* (inside a block, its heaps may still be in use: they are left as they are) */
    bool idle = !c->top && c->pool_top == c->pool_base;
    if (idle) {
        c->current = c->root;
        heap_clear(c->root);
        heap_destroy(c->root);
    }
    exc_thread_done();
    chunk_cache_drain();
    if (idle && c->pool_base) /* (else heaps of running blocks are in it) */
        free(c->pool_base - 1);
    c->root = c->current = NULL;
    c->top = NULL;
    c->pool_base = c->pool_top = c->pool_ready = NULL;
}

static void make_key(void)
{
    if (pthread_key_create(&exit_key, thread_done) != 0) {
        fputs("txc: cannot create the thread-exit key\n", stderr);
        abort();
    }
}

__attribute__((destructor)) static void process_done(void)
{
    thread_done(NULL);
}

void ctx_init(void)
{
    struct txc__ctx* c = &txc__ctx;
    /* The pool of sub_heap heaps (the thread's first memory request);
     * without it, blocks keep their heaps in their frames.  Its heaps are
     * made ready as the stack of blocks first reaches them. */
    struct txc__heap_block* pool = sys_malloc((POOL_HEAPS + 1) * sizeof *pool);
    if (pool) {
        pool->heap.self.below = POOL_SENTINEL; /* stops pool_unwind_slow */
        pool++;
    }
    c->pool_base = c->pool_top = c->pool_ready = pool;
    txc_heap_t* root = heap_block_new(NULL, HF_ROOT);
    if (!root) {
        fputs("txc: no memory for a thread's root heap\n", stderr);
        abort();
    }
    c->root = c->current = root;
    c->top = NULL;
    c->txn = NULL;
    exc_thread_init();
    pthread_once(&exit_once, make_key);
    pthread_setspecific(exit_key, root);
}

TXC_API void txc__init(void)
{
    ctx_get();
}

/* ---- sub_heap ---- */

/* Open a block's heap on parent (NULL: on no heap), in the block's frame. */
void frame_heap_open(struct txc__sub_heap* s, txc_heap_t* parent, unsigned hflags)
{
    heap_block_init(&s->local, parent, hflags | HF_LOCAL, TXC__TAG_FRAME_HEAP);
    s->heap = &s->local.heap;
    if (parent) {
        global_lock(parent);
        parent->allocs++;
        global_unlock(parent);
    }
}

void frame_push(struct txc__ctx* c, struct txc__frame* f, int kind)
{
    f->prev = c->top;
    f->saved = c->current;
    f->kind = kind;
    c->top = f;
}

/* Free a block's heap h and all it holds (the block is already left). */
void frame_heap_release(txc_heap_t* h)
{
    if (h->self.dtor) {
        void (*fn)(void*) = h->self.dtor;
        h->self.dtor = NULL;
        run_guarded(fn, h, "a destructor");
    }
    if (h->tail || h->chunk)
        heap_clear(h);
    txc_heap_t* parent = h->self.heap;
    if (parent && (h->flags & HF_LOCAL)) { /* (a pooled one is not counted there) */
        global_lock(parent);
        parent->allocs--;
        global_unlock(parent);
    }
    *(volatile uint32_t*)&txc__heap_block_of(h)->hdr.tag = TAG_DEAD;
}

txc_heap_t* frame_heap_of(struct txc__frame* f)
{
    if (f->kind == TXC__F_SUB)
        return ((struct txc__sub_heap*)f)->heap;
    if (f->kind == TXC__F_TXN)
        return ((struct txc__txn*)f)->sh.heap;
    return NULL;
}

TXC_API struct txc__sub_heap* txc__sub_heap_enter_slow(struct txc__sub_heap* s)
{
    struct txc__ctx* c = ctx_get();
    txc_heap_t* parent = c->current;
    struct txc__heap_block* p = c->pool_top;
    if (p && p == c->pool_ready && p < c->pool_base + POOL_HEAPS && !(parent->flags & HF_GLOBAL)) {
        /* the stack of blocks is higher than it ever was on this thread */
        heap_block_init(p, NULL, HF_BORROW, TAG_DEAD);
        c->pool_ready = p + 1;
        return txc__sub_heap_enter(s);
    }
    frame_heap_open(s, parent, HF_BORROW);
    frame_push(c, &s->f, TXC__F_SUB);
    c->current = s->heap;
    return s;
}

/* The pool's heap fh is as new (but for its parent, the frame it was
 * entered above and its arrival number, which entering sets). */
static inline void pool_check_new(struct txc__heap_block* fh)
{
#ifdef TXC_DEBUG
    struct txc__heap_block fresh;
    heap_block_init(&fresh, fh->heap.self.heap, HF_BORROW, TAG_DEAD);
    fresh.heap.self.ptr = &fh->heap;
    fresh.heap.self.below = fh->heap.self.below;
    fresh.heap.seq = fh->heap.seq; /* (reset by the next block to take it) */
    fresh.hdr.word = fh->hdr.word;
    assert(memcmp(&fresh.hdr, &fh->hdr, sizeof fresh.hdr) == 0 && memcmp(&fresh.heap, &fh->heap, sizeof fresh.heap) == 0);
#else
    (void)fh;
#endif
}

/* Free the heap h of a sub_heap block being left, which holds something or
 * is not pooled (its frame, if it has one, is already popped); its parent
 * becomes current again.  A pooled heap goes back new. */
void sub_heap_release(txc_heap_t* h)
{
    struct txc__heap_block* fh = txc__heap_block_of(h);
    struct txc__chunk* c = h->chunk;
    txc_heap_t* p = h->self.heap;
    txc__ctx.current = p;
    /* The common case: plain allocations in the one chunk the parent lent. */
    if (c && c->outer && !c->next && !h->tail && !h->self.dtor && __atomic_load_n(&c->refs, __ATOMIC_RELAXED) == 1 && p == c->lender &&
        !(p->flags & HF_GLOBAL)) {
        /* (allocations that moved to p lie before c->keep: debug builds
         * poison only what follows the last of them) */
        char* from = c->keep == (char*)c ? (char*)(c + 1) : c->keep;
        poison(from, 0xfe, (size_t)(h->bump - from));
        if (p->chunk == c->outer && p->bump == p->end)
            p->bump = p->counted = c->keep;
        *(volatile uint32_t*)&fh->hdr.tag = TAG_DEAD;
        if (h->flags & HF_LOCAL) {
            p->allocs--;
        } else {
            /* what a lent chunk changes (the list is empty) */
            h->bump = h->end = h->counted = NULL;
            h->chunk = NULL;
            h->seq = 0;
            h->allocs = h->bytes = 0;
            h->nchunks = 0;
            pool_check_new(fh);
            txc__ctx.pool_top = fh;
        }
        return;
    }
    frame_heap_release(h);
    if (!(h->flags & HF_LOCAL)) {
        /* (blocks entered by destructors meanwhile took the heaps above) */
        heap_block_init(fh, NULL, HF_BORROW, TAG_DEAD);
        txc__ctx.pool_top = fh;
    }
}

/* Leave a sub_heap block whose heap holds something, or is not pooled: the
 * current heap (s->heap is set only for a heap in the frame). */
TXC_API void txc__sub_heap_leave_slow(struct txc__sub_heap* s)
{
    struct txc__ctx* c = &txc__ctx;
    txc_heap_t* h = c->current;
    if (h->flags & HF_LOCAL) {
        assert(h == s->heap && c->top == &s->f);
        c->top = s->f.prev; /* (f.saved is the heap's parent) */
    } else {
        assert(h == &c->pool_top[-1].heap);
    }
    sub_heap_release(h);
}

/* ---- switch_heap ---- */

TXC_API struct txc__switch_heap* txc__switch_heap_enter(struct txc__switch_heap* s, txc_heap_t* h)
{
    struct txc__ctx* c = ctx_get();
    if (!h)
        THROW_ARG("switch_heap: NULL heap");
    if (!(check_ptr(h, "switch_heap")->tag & TF_HEAP))
        THROW_ARG("switch_heap: %p is not a heap", (void*)h);
    if (h->flags & HF_EXC) /* exc_free_fast needs to know */
        h->flags |= HF_SWITCHED;
    frame_push(c, &s->f, TXC__F_SWITCH);
    s->heap = h;
    c->current = h;
    s->once = 1;
    return s;
}

TXC_API void txc__switch_heap_leave(struct txc__switch_heap* s)
{
    struct txc__ctx* c = &txc__ctx;
    c->top = s->f.prev;
    c->current = s->f.saved;
}

/* ---- unwinding ---- */

/* Leave the pooled sub heap blocks entered while f was the top frame: the
 * top of the pool.  Most often they hold nothing (txc__heap_bare; the
 * block above is not counted in a pooled heap's allocs): such runs go back
 * at once, in one pass down the array; the others one by one. */
void pool_unwind_slow(struct txc__ctx* c, const struct txc__frame* f)
{
    struct txc__heap_block* p = c->pool_top;
    for (;;) {
        struct txc__heap_block* top = p;
        while (p[-1].heap.self.below == f && txc__heap_bare(&p[-1].heap)) { /* (pool_base[-1]: no) */
            p--;
            assert(p->heap.allocs == 0 && !(p->heap.flags & HF_LOCAL));
            p->hdr.tag = TAG_DEAD;
        }
        if (p != top) {
            c->pool_top = p;
            c->current = p->heap.self.heap;
        }
        if (p[-1].heap.self.below != f)
            return;
        sub_heap_release(&p[-1].heap);
        p = c->pool_top;
    }
}

void frame_unwind_one(struct txc__frame* f)
{
    switch (f->kind) {
    case TXC__F_SUB: /* (the heap in the frame: pooled ones have none) */
        txc__ctx.top = f->prev;
        sub_heap_release(((struct txc__sub_heap*)f)->heap);
        break;
    case TXC__F_SWITCH:
        txc__switch_heap_leave((struct txc__switch_heap*)f);
        break;
    case TXC__F_TXN:
        txn_unwind(f);
        break;
    default:
        txc__ctx.top = f->prev;
        txc__ctx.current = f->saved;
        break;
    }
}
