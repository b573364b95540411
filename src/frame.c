/*
 * frame.c - the per-thread frame stack and the heap blocks.
 *
 * Every block macro (sub_heap, switch_heap, global_heap, try, the
 * transactions) declares a frame in the C stack frame of the function that
 * runs it and links it on top of the thread's context (txc__ctx, an
 * initial-exec TLS variable).  Entering a block allocates nothing.
 *
 * A block left normally (end, break, continue, return, goto) pops its frame
 * from the cleanup attribute of the macro's local.  An exception pops frames
 * from the top down to the catching try (frame_unwind_subs() for runs of
 * sub heaps, frame_unwind_one() for the others), then
 * longjmps, which skips the cleanups of the frames it already popped.
 *
 * The context is made on first use: the thread's root heap, its preallocated
 * exception_nomem, and a pthread key whose destructor frees the root heap and
 * the chunk cache when the thread exits.  The thread that calls exit() frees
 * its root heap then too, if it is not inside a block.
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

TXC_API __thread struct txc__ctx txc__ctx __attribute__((tls_model("initial-exec")));

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void thread_done(void* arg)
{
    (void)arg;
    struct txc__ctx* c = &txc__ctx;
    if (!c->root)
        return;
    if (!c->top) {
        c->current = c->root;
        heap_clear(c->root);
        heap_destroy(c->root);
    }
    exc_thread_done();
    chunk_cache_drain();
    c->root = c->current = NULL;
    c->top = NULL;
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

/* Open a block's heap on parent (NULL: on no heap). */
void frame_heap_open(struct txc__sub_heap* s, txc_heap_t* parent, unsigned hflags)
{
    if (parent && (parent->flags & HF_GLOBAL))
        hflags |= HF_ON_GLOBAL;
    txc__frame_heap_init(s, parent, hflags);
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

/* Free a block's heap and all it holds (the frame is already popped). */
void frame_heap_release(struct txc__sub_heap* s)
{
    txc_heap_t* h = &s->heap;
    if (h->self.dtor) {
        void (*fn)(void*) = h->self.dtor;
        h->self.dtor = NULL;
        run_guarded(fn, h, "a destructor");
    }
    if (h->tail || h->chunk)
        heap_clear(h);
    txc_heap_t* parent = h->self.heap;
    if (parent) {
        global_lock(parent);
        parent->allocs--;
        global_unlock(parent);
    }
    *(volatile uint32_t*)&s->hdr.tag = TAG_DEAD;
}

txc_heap_t* frame_heap_of(struct txc__frame* f)
{
    if (f->kind == TXC__F_SUB)
        return &((struct txc__sub_heap*)f)->heap;
    if (f->kind == TXC__F_TXN)
        return &((struct txc__txn*)f)->sh.heap;
    return NULL;
}

TXC_API struct txc__sub_heap* txc__sub_heap_enter_slow(struct txc__sub_heap* s)
{
    struct txc__ctx* c = ctx_get();
    frame_heap_open(s, c->current, HF_BORROW);
    frame_push(c, &s->f, TXC__F_SUB);
    c->current = &s->heap;
    s->once = 1;
    return s;
}

TXC_API void txc__sub_heap_leave_slow(struct txc__sub_heap* s)
{
    txc_heap_t* h = &s->heap;
    struct txc__chunk* c = h->chunk;
    txc_heap_t* p = h->self.heap;
    /* The common case: plain allocations in the one chunk the parent lent. */
    if (c && c->outer && !c->next && !h->tail && !h->self.dtor && __atomic_load_n(&c->refs, __ATOMIC_RELAXED) == 1 && p == c->lender &&
        !(p->flags & HF_GLOBAL)) {
        /* (allocations that moved to p lie before c->keep: debug builds
         * poison only what follows the last of them) */
        char* from = c->keep == (char*)c ? (char*)(c + 1) : c->keep;
        poison(from, 0xfe, (size_t)(h->bump - from));
        if (p->chunk == c->outer && p->bump == p->end)
            p->bump = c->keep;
        p->allocs--;
        *(volatile uint32_t*)&s->hdr.tag = TAG_DEAD;
        return;
    }
    frame_heap_release(s);
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

/* Pop the sub heap frames on top of c's stack and return the first frame of
 * another kind: runs of empty ones (frame_empty_subs_end) all at once, the
 * others by the general path. */
struct txc__frame* frame_unwind_subs(struct txc__ctx* c)
{
    struct txc__frame* f = c->top;
    while (f->kind == TXC__F_SUB) {
        struct txc__frame* end = frame_empty_subs_end(f);
        if (end != f)
            frame_pop_empty_subs(c, end);
        else
            txc__sub_heap_leave((struct txc__sub_heap*)f);
        f = c->top;
    }
    return f;
}

void frame_unwind_one(struct txc__frame* f)
{
    switch (f->kind) {
    case TXC__F_SUB:
        txc__sub_heap_leave((struct txc__sub_heap*)f);
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
