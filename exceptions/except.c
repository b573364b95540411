/*
 * except.c - try, throw and the unwinder.
 *
 * A try statement links its frame, saves its context (TXC__SETJMP:
 * __builtin_setjmp, or _setjmp where that is not used), then loops over
 * stages: COLLECT (the catch and finally macros register their types and
 * whether there is a finally; no block runs), BODY, then CATCH or FINALLY
 * when an exception arrives (the unwinder sets the stage, with ARRIVED, and
 * jumps back to where the context was saved), then DONE.  Its frame sits on the thread's frame
 * stack with the heap frames, so a throw can decide, without jumping, which
 * try will catch:
 *
 *  1. Build the exception on a heap of its own (exception_nomem uses a
 *     per-thread preallocated object and needs no memory).
 *  2. Walk the frames from the top for a try in its BODY stage that lists a
 *     matching type.  None (or a destructor barrier first): the uncaught
 *     handler runs right there, and abort() follows.
 *  3. Pop frames from the top (sub heaps freed, switches restored,
 *     transactions aborted) down to the first try that catches or has a
 *     finally to run -- before each frame, the sub heaps from the pool that
 *     were entered above it, which have no frames (pool_unwind) --, attach
 *     the exception to the heap current when that try was entered (when it
 *     catches), and jump back into it the way it saved its context (its
 *     frame kind: __builtin_longjmp or _longjmp).
 *
 * A finally that ran for a passing exception continues the propagation from
 * the try's parent frame when it ends (txc__try_next).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TXC_API const txc_exception_type_t txc_exception_any[1] = {{"exception_any", NULL}};
TXC_API const txc_exception_type_t txc_exception_arg[1] = {{"exception_arg", txc_exception_any}};
TXC_API const txc_exception_type_t txc_exception_io[1] = {{"exception_io", txc_exception_any}};
TXC_API const txc_exception_type_t txc_exception_nomem[1] = {{"exception_nomem", txc_exception_any}};
TXC_API const txc_exception_type_t txc_exception_fatal[1] = {{"exception_fatal", NULL}};

/* The preallocated exception_nomem of a thread: a header so that it looks
 * like an allocation to the pointer checks, then the object. */
struct nomem_block {
    struct txc__hdr hdr;
    struct exc_full x;
    char msg[256];
};

void exc_thread_init(void)
{
    struct nomem_block* b = calloc(1, sizeof *b);
    if (!b) {
        fputs("txc: no memory for a thread's exception_nomem\n", stderr);
        abort();
    }
    b->hdr.tag = TAG_LIVE | TF_EXC;
    txc__ts.nomem = &b->x;
}

/* An exception heap with its object and message in one malloc block: the
 * heap as in any heap block ([hdr][heap]), then the object, a tracked
 * allocation on that heap whose node is in the block too, then the message.
 * Nothing else is allocated for a throw.  Freeing the heap marks the object
 * dead (its node is neither a malloc block nor pinned) and hands the block
 * to exc_block_free (through block_free, as every heap block). */
struct exc_block {
    struct txc__heap_block hb;
    struct txc__node node;
    struct txc__hdr hdr;
    struct exc_full x;
    char msg[];
};
_Static_assert(offsetof(struct exc_block, x) == offsetof(struct exc_block, hdr) + HDR_SIZE,
               "the object's header is right before it");

/* Blocks of EXC_BLOCK_SIZE (messages up to EXC_MSG_CAP bytes with their NUL)
 * are kept per thread for the next throw; a longer message gets a block of
 * its own size, freed at once. */
#define EXC_BLOCK_SIZE ((size_t)1024)
#define EXC_MSG_CAP (EXC_BLOCK_SIZE - offsetof(struct exc_block, msg))
#define EXC_CACHE 4

static TLS struct exc_block* exc_cache; /* linked through hb.heap.self.next */
static TLS unsigned exc_ncache;

/* A block is kept ready: its heap holding the object's node and nothing
 * else, as exc_block_init expects, which then sets only what varies (sizes,
 * tags, the exception).  A new block is made ready here, and so is one that
 * comes back through the general heap free (exc_block_free); the fast free
 * (exc_free_fast) leaves it ready. */
static void exc_block_ready(struct exc_block* b)
{
    txc_heap_t* E = &b->hb.heap;
    b->hb.hdr.word = (uint64_t)(uintptr_t)&E->self;
    b->hb.hdr.size = 0;
    heap_init(E, NULL, HF_EXC);
    struct txc__node* n = &b->node;
    n->dtor = NULL;
    n->ptr = &b->x;
    n->chunk = NULL;
    n->size = 0;
    n->flags = 0;
    heap_link(E, n);
    b->hdr.word = (uint64_t)(uintptr_t)n;
}

/* A new ready block (malloc) for a message of msg_size bytes (NUL
 * included), of the cached size if it fits; NULL when memory cannot be had. */
static struct exc_block* exc_block_new(size_t msg_size)
{
    struct exc_block* b;
    if (msg_size <= EXC_MSG_CAP)
        b = sys_malloc(EXC_BLOCK_SIZE);
    else if (msg_size > SIZE_MAX - offsetof(struct exc_block, msg))
        b = NULL;
    else
        b = sys_malloc(offsetof(struct exc_block, msg) + msg_size);
    if (b)
        exc_block_ready(b);
    return b;
}

/* A ready block for a message of msg_size bytes: the thread's cache first. */
static inline __attribute__((always_inline)) struct exc_block* exc_block_get(size_t msg_size)
{
    struct exc_block* b = exc_cache;
    if (LIKELY(b && msg_size <= EXC_MSG_CAP)) {
        exc_cache = (struct exc_block*)b->hb.heap.self.next;
        exc_ncache--;
        return b;
    }
    return exc_block_new(msg_size);
}

static inline __attribute__((always_inline)) void exc_block_put(struct exc_block* b, size_t msg_size)
{
    if (msg_size <= EXC_MSG_CAP && exc_ncache < EXC_CACHE) {
        b->hb.heap.self.next = (struct txc__node*)exc_cache;
        exc_cache = b;
        exc_ncache++;
    } else {
        free(b);
    }
}

void exc_block_free(struct txc__heap_block* hb)
{
    struct exc_block* b = (struct exc_block*)hb;
    size_t msg_size = b->node.size - sizeof b->x;
    exc_block_ready(b);
    exc_block_put(b, msg_size);
}

void exc_cache_drain(void)
{
    while (exc_cache) {
        struct exc_block* b = exc_cache;
        exc_cache = (struct exc_block*)b->hb.heap.self.next;
        free(b);
    }
    exc_ncache = 0;
}

void exc_thread_done(void)
{
    if (txc__ts.nomem)
        free((char*)txc__ts.nomem - offsetof(struct nomem_block, x));
    txc__ts.nomem = NULL;
}

bool exc_is_static(const txc_exception_t* e)
{
    return txc__ts.nomem && e == &txc__ts.nomem->pub;
}

/* txc_exception_is for the library's own use: no PLT call. */
static inline bool exc_type_is(const txc_exception_type_t* x, const txc_exception_type_t* t)
{
    for (; x; x = x->parent)
        if (x == t)
            return true;
    return false;
}

TXC_API bool txc_exception_is(const txc_exception_t* e, const txc_exception_type_t* t)
{
    return e && t && exc_type_is(e->type, t);
}

/* ---- building exceptions ---- */

static void fill(txc_exception_t* e, const txc_exception_type_t* type, const char* file, int line,
                 const char* func)
{
    e->type = type;
    e->file = file;
    e->line = line;
    e->func = func;
    e->errnum = 0;
    e->cause = NULL;
    e->data = NULL;
    e->heap = NULL;
}

static const char* errno_text(int errnum, char* buf, size_t n)
{
    return strerror_r(errnum, buf, n);
}

static txc_exception_t* exc_static(const txc_exception_type_t* type, const char* file, int line,
                                   const char* func, const char* fmt, va_list ap)
{
    struct exc_full* x = txc__ts.nomem;
    struct nomem_block* b = (struct nomem_block*)((char*)x - offsetof(struct nomem_block, x));
    fill(&x->pub, type, file, line, func);
    vsnprintf(b->msg, sizeof b->msg, fmt, ap);
    x->pub.message = b->msg;
    x->nframes = 0;
    return &x->pub;
}

static __attribute__((format(printf, 5, 6))) txc_exception_t*
exc_static_fmt(const txc_exception_type_t* type, const char* file, int line,
               const char* func, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    txc_exception_t* e = exc_static(type, file, line, func, fmt, ap);
    va_end(ap);
    return e;
}

static txc_exception_t* exc_nomem_plain(const char* file, int line, const char* func)
{
    return exc_static_fmt(txc_exception_nomem, file, line, func, "%s", "out of memory while throwing an exception");
}

/* The object in block b, on the heap of the block, for a message of
 * msg_size bytes already in b->msg. */
static txc_exception_t* exc_block_init(struct exc_block* b, size_t msg_size, const txc_exception_type_t* type,
                                       const char* file, int line, const char* func, int errnum)
{
    txc_heap_t* E = &b->hb.heap;
    assert(E->head == &b->node && E->tail == &b->node && E->allocs == 1 && !E->chunk && !b->node.dtor &&
           !E->self.dtor && b->node.heap == E);
    E->self.heap = NULL; /* no parent until caught */
    E->self.next = NULL; /* was the cache's link */
    b->hb.hdr.tag = TAG_LIVE | TF_TRACKED | TF_HEAP | TF_OWNBLOCK;
    size_t size = sizeof b->x + msg_size;
    b->node.size = size;
    E->bytes = size;
    b->hdr.size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    b->hdr.tag = TAG_LIVE | TF_TRACKED | TF_EXC;
    txc_exception_t* e = &b->x.pub;
    fill(e, type, file, line, func);
    e->message = b->msg;
    e->errnum = errnum >= 0 ? errnum : 0;
    e->heap = E;
    b->x.nframes = 0;
    return e;
}

/* An exception on a new heap of its own, its message formatted from fmt
 * and followed by ": " etext if etext is not NULL; NULL when memory cannot
 * be had. */
static txc_exception_t* exc_new_text(const txc_exception_type_t* type, const char* file, int line,
                                     const char* func, int errnum, const char* etext, const char* fmt,
                                     va_list ap)
{
    size_t elen = etext ? strlen(etext) + 2 : 0;
    const char* pct = strchrnul(fmt, '%');
    struct exc_block* b;
    size_t n;
    if (!*pct) { /* most messages: nothing to format */
        n = (size_t)(pct - fmt);
        if (!(b = exc_block_get(n + elen + 1)))
            return NULL;
        memcpy(b->msg, fmt, n);
    } else { /* formatted straight into a block; a longer message needs a second pass */
        if (!(b = exc_block_get(1)))
            return NULL;
        va_list ap2;
        va_copy(ap2, ap);
        int r = vsnprintf(b->msg, EXC_MSG_CAP, fmt, ap2);
        va_end(ap2);
        n = r < 0 ? 0 : (size_t)r;
        if (n + elen + 1 > EXC_MSG_CAP) {
            struct exc_block* big = exc_block_get(n + elen + 1);
            exc_block_put(b, 1);
            if (!big)
                return NULL;
            b = big;
            vsnprintf(b->msg, n + 1, fmt, ap);
        }
    }
    if (etext) {
        memcpy(b->msg + n, ": ", 2);
        memcpy(b->msg + n + 2, etext, elen - 2);
    }
    b->msg[n + elen] = 0;
    return exc_block_init(b, n + elen + 1, type, file, line, func, errnum);
}

/* The same for throw_errno (errnum >= 0): ": " strerror(errnum) appended.
 * Apart, so that the common throw has no buffer on its stack. */
static __attribute__((noinline)) txc_exception_t*
exc_new_errno(const txc_exception_type_t* type, const char* file, int line, const char* func, int errnum,
              const char* fmt, va_list ap)
{
    char ebuf[128];
    return exc_new_text(type, file, line, func, errnum, errno_text(errnum, ebuf, sizeof ebuf), fmt, ap);
}

/* The same when fmt is a string literal without '%' (TXC__LITERAL): it is
 * the message, for as long as the program runs. */
static inline __attribute__((always_inline)) txc_exception_t*
exc_new_literal(const txc_exception_type_t* type, const char* file, int line, const char* func, const char* fmt)
{
    struct exc_block* b = exc_block_get(1);
    if (!b)
        return NULL;
    b->msg[0] = 0;
    txc_exception_t* e = exc_block_init(b, 1, type, file, line, func, -1);
    e->message = fmt;
    return e;
}

/* An exception on a new heap of its own; NULL when memory cannot be had. */
static txc_exception_t* exc_new(const txc_exception_type_t* type, const char* file, int line,
                                const char* func, int errnum, const char* fmt, va_list ap)
{
    if (errnum == TXC__LITERAL)
        return exc_new_literal(type, file, line, func, fmt);
    if (errnum >= 0)
        return exc_new_errno(type, file, line, func, errnum, fmt, ap);
    return exc_new_text(type, file, line, func, errnum, NULL, fmt, ap);
}

static txc_exception_t* exc_new_fmt(const txc_exception_type_t* type, const char* file, int line,
                                    const char* func, const char* fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void exc_nest(txc_exception_t* e, txc_exception_t* cause);
static txc_exception_t* exc_new_fmt(const txc_exception_type_t* type, const char* file, int line,
                                    const char* func, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    txc_exception_t* e = exc_new(type, file, line, func, -1, fmt, ap);
    va_end(ap);
    return e;
}

/* A copy of the static exception_nomem on its own heap, or e itself. */
static txc_exception_t* exc_materialize(txc_exception_t* e)
{
    txc_exception_t* m = exc_new_fmt(e->type, e->file, e->line, e->func, "%s", e->message);
    if (!m)
        return e;
    m->errnum = e->errnum;
    if (e->cause)
        exc_nest(m, e->cause);
    return m;
}

static void exc_detach(txc_exception_t* e)
{
    txc_heap_t* E = e->heap;
    if (E && E->self.heap) {
        txc_heap_t* owner = E->self.heap;
        global_lock(owner);
        heap_unlink(&E->self);
        global_unlock(owner);
        E->self.heap = NULL;
    }
}

/* Make cause part of e: its heap moves below e's. */
static void exc_nest(txc_exception_t* e, txc_exception_t* cause)
{
    e->cause = cause;
    if (cause->heap) {
        exc_detach(cause);
        heap_link(e->heap, &cause->heap->self);
    }
}

static void exc_attach(txc_exception_t* e, txc_heap_t* h)
{
    if (UNLIKELY(h->flags & HF_GLOBAL)) {
        global_lock(h);
        heap_link(h, &e->heap->self);
        global_unlock(h);
    } else {
        heap_link(h, &e->heap->self);
    }
}

/* txc_free(e) when e's heap holds e alone (no cause, data, destructor or
 * anything else on it, nothing below it) and has never been current,
 * outside any transaction: unlink the heap from its owner and take the
 * block back, without the general walk of heap_clear.  False: not such a
 * case, nothing done.
 *
 * With nothing below E (its one allocation is e), heap_in_use(E) comes to:
 * E current, or the target of a switch_heap, or current when a running block
 * was entered.  A heap that exists becomes current only as the target of a
 * switch_heap, which marks an exception heap HF_SWITCHED: without the mark
 * no frame needs to be looked at.  (The mark stays until the block is made
 * ready again, so such a heap always takes the general path.) */
bool exc_free_fast(txc_exception_t* e)
{
    txc_heap_t* E = e->heap;
    struct exc_block* b = (struct exc_block*)((char*)E - offsetof(struct exc_block, hb.heap));
    txc_heap_t* owner = E->self.heap;
    if (E->head != &b->node || E->tail != &b->node || E->allocs != 1 ||
        ((uintptr_t)E->chunk | (uintptr_t)b->node.dtor | (uintptr_t)E->self.dtor) ||
        (E->self.flags & NF_DYING) || (E->flags & HF_SWITCHED) || !owner || (owner->flags & HF_GLOBAL) ||
        txc__ctx.txn)
        return false;
    heap_unlink(&E->self);
#ifdef TXC_DEBUG
    poison(&b->x, 0xfe, b->node.size);
#endif
    *(volatile uint32_t*)&b->hdr.tag = TAG_DEAD;
    *(volatile uint32_t*)&b->hb.hdr.tag = TAG_DEAD;
    exc_block_put(b, b->node.size - sizeof b->x);
    return true;
}

static void exc_discard(txc_exception_t* e)
{
    if (e->heap) {
        exc_detach(e);
        heap_destroy(e->heap);
    }
}

/* ---- the uncaught handler ---- */

static txc_uncaught_handler_t uncaught_handler;

TXC_API txc_uncaught_handler_t txc_set_uncaught_handler(txc_uncaught_handler_t h)
{
    return __atomic_exchange_n(&uncaught_handler, h, __ATOMIC_ACQ_REL);
}

static __attribute__((noreturn)) void exc_uncaught(txc_exception_t* e)
{
    static TLS int depth;
    struct exc_full* x = (struct exc_full*)e;
    if (depth++ == 0) {
        if (x->nframes == 0)
            exc_backtrace(x);
        txc_uncaught_handler_t h = __atomic_load_n(&uncaught_handler, __ATOMIC_ACQUIRE);
        (h ? h : exc_default_handler)(e);
    } else {
        fputs("txc: exception thrown by the uncaught handler\n", stderr);
    }
    abort();
}

/* ---- try ---- */

static unsigned try_stage(const struct txc__try* t)
{
    return t->state & TXC__T_STAGE;
}

static void try_set_stage(struct txc__try* t, unsigned stage)
{
    t->state = (t->state & ~(unsigned)TXC__T_STAGE) | stage;
}

/* In its body or a catch block, with a finally to run on the way out. */
static bool try_has_finally_to_run(const struct txc__try* t)
{
    return (try_stage(t) == TXC__T_BODY || try_stage(t) == TXC__T_CATCH) && (t->state & TXC__T_HAS_FINALLY);
}

static inline __attribute__((always_inline)) bool try_would_catch(const struct txc__try* t, const txc_exception_t* e)
{
    if (t->state & TXC__T_MANY)
        return true; /* types not all recorded: stop here and let the catches decide */
    for (unsigned i = 0; i < t->ntypes; i++)
        for (const txc_exception_type_t* x = e->type; x; x = x->parent) /* txc_exception_is, without the PLT */
            if (x == t->types[i])
                return true;
    return false;
}

/* The steps between passes that the inline txc__try_next leaves here: the
 * pass the unwinder jumped to, the body after a collect pass that found a
 * finally, and what follows a body with a finally, a catch, a finally. */
TXC_API bool txc__try_next_slow(struct txc__try* t)
{
    if (t->state & TXC__T_ARRIVED) {
        t->state &= ~(unsigned)TXC__T_ARRIVED;
        return true;
    }
    unsigned stage = try_stage(t);
    if (stage == TXC__T_COLLECT) {
        try_set_stage(t, TXC__T_BODY);
        return true;
    }
    if (stage == TXC__T_CATCH && !(t->state & TXC__T_CAUGHT)) {
        /* only when more types than were recorded */
        exc_detach(t->exc);
        t->state |= TXC__T_PENDING;
    }
    if (try_has_finally_to_run(t)) {
        try_set_stage(t, TXC__T_FINALLY);
        return true;
    }
    try_set_stage(t, TXC__T_DONE);
    if (t->state & TXC__T_PENDING) {
        txc_exception_t* e = t->exc;
        t->exc = NULL;
        t->state &= ~(unsigned)TXC__T_PENDING;
        txc__ctx.top = t->f.prev;
        exc_propagate(e);
    }
    return false;
}

TXC_API void txc__try_left_badly(struct txc__try* t)
{
    txc__fatal("try statement whose finally is at %s left by return or goto", t->where);
}

/* ---- throwing ---- */

struct barrier {
    struct txc__frame f;
    const char* what;
};

void run_guarded(void (*fn)(void*), void* arg, const char* what)
{
    struct txc__ctx* c = &txc__ctx;
    struct barrier b = {{c->top, c->current, TXC__F_BARRIER}, what};
    c->top = &b.f;
    fn(arg);
    c->top = b.f.prev;
    c->current = b.f.saved;
}

/* Under AddressSanitizer a jump that skips frames must say so, or their
 * redzones stay poisoned (its _longjmp interceptor does the same). */
#if defined(__SANITIZE_ADDRESS__)
#define TXC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TXC_ASAN 1
#endif
#endif
#ifdef TXC_ASAN
void __asan_handle_no_return(void);
#endif

static inline bool frame_is_try(const struct txc__frame* f)
{
    return f->kind == TXC__F_TRY || f->kind == TXC__F_TRY_LIBC;
}

__attribute__((noinline)) void exc_propagate(txc_exception_t* e)
{
    struct txc__ctx* c = ctx_get();
    if (exc_type_is(e->type, txc_exception_fatal)) /* and any type below it */
        exc_uncaught(e);

    /* Phase 1: is there a try that catches it, before any barrier?  Finally
     * blocks on the way run in any case (they may throw an exception that is
     * caught); only with none in the way does an uncaught exception go to the
     * handler right here, with nothing unwound. */
    struct txc__try* target = NULL;
    bool finally_first = false, txn_seen = false;
    /* (the only sub heap blocks with frames are those not from the pool) */
    struct txc__frame* f;
    for (f = c->top; f; f = f->prev) {
        if (f->kind == TXC__F_SUB) /* nothing to decide */
            continue;
        if (f->kind == TXC__F_BARRIER)
            break;
        if (!frame_is_try(f)) {
            txn_seen |= f->kind == TXC__F_TXN;
            continue;
        }
        struct txc__try* t = (struct txc__try*)f;
        if (try_stage(t) == TXC__T_BODY && try_would_catch(t, e)) {
            target = t;
            break;
        }
        if (try_has_finally_to_run(t))
            finally_first = true;
        if (try_stage(t) == TXC__T_FINALLY && (t->state & TXC__T_PENDING) && !finally_first) {
            /* thrown in a finally while another passes: keep that one */
            txc_exception_t* passing = t->exc;
            t->exc = NULL;
            t->state &= ~(unsigned)TXC__T_PENDING;
            if (!e->cause && !exc_is_static(e))
                exc_nest(e, passing);
            else if (!exc_is_static(passing))
                exc_discard(passing);
        }
    }
    if (!target && !finally_first) {
        if (f) {
            txc_exception_t* fe = exc_new_fmt(txc_exception_fatal, "(txc)", 0, "", "exception %s escaped %s",
                                              e->type->name, ((struct barrier*)f)->what);
            if (fe)
                exc_nest(fe, e);
            exc_uncaught(fe ? fe : e);
        }
        exc_uncaught(e);
    }
    if (!target)
        exc_backtrace((struct exc_full*)e); /* may end uncaught after the finally blocks */

    /* Phase 2: unwind to the first try that catches or has a finally.  The
     * transactions on the way (phase 1 saw them) replay their undo logs
     * first, newest first, before any frame is popped and any memory freed. */
    for (f = txn_seen ? c->top : NULL; f; f = f->prev) {
        if (f->kind == TXC__F_TXN)
            txn_undo(f);
        if (frame_is_try(f)) {
            struct txc__try* t = (struct txc__try*)f;
            /* With no finally in the way, phase 1 found where to stop. */
            if (!finally_first ? t == target
                               : (try_stage(t) == TXC__T_BODY && try_would_catch(t, e)) || try_has_finally_to_run(t))
                break;
        }
    }
    struct txc__try* t;
    for (;;) {
        f = c->top;
        pool_unwind(c, f);
        if (!frame_is_try(f)) {
            frame_unwind_one(f);
            continue;
        }
        t = (struct txc__try*)f;
        if (!finally_first ? t == target : try_stage(t) == TXC__T_BODY && try_would_catch(t, e)) {
            t->state = (t->state & (TXC__T_HAS_FINALLY | TXC__T_MANY)) | TXC__T_CATCH | TXC__T_ARRIVED;
            if (!e->heap) /* the per-thread exception_nomem */
                e = exc_materialize(e);
            if (e->heap)
                exc_attach(e, t->f.saved);
            break;
        }
        if (try_has_finally_to_run(t)) {
            t->state = (t->state & (TXC__T_HAS_FINALLY | TXC__T_MANY)) | TXC__T_FINALLY | TXC__T_PENDING | TXC__T_ARRIVED;
            break;
        }
        c->top = f->prev;
    }
    t->exc = e;
    c->current = t->f.saved;
    /* Back into the try's TXC__SETJMP, the way it saved its context.  (A
     * function that jumps with __builtin_longjmp must not itself contain a
     * try: this one has none, and is never inlined.) */
#ifdef TXC_ASAN
    __asan_handle_no_return(); /* the frames jumped over leave their redzones */
#endif
#if defined(__x86_64__) && defined(__GNUC__)
    if (LIKELY(t->f.kind == TXC__F_TRY))
        __builtin_longjmp((void**)(void*)t->jb, 1);
#endif
    _longjmp(t->jb, 1);
}

TXC_API void txc__throw(const txc_exception_type_t* type, const char* file, int line, const char* func,
                        int errnum, txc_exception_t* cause, void* data, const char* fmt, ...)
{
    ctx_get();
    if (!type)
        type = txc_exception_arg; /* throw(NULL, ...) is itself a misuse */
    if (cause && !exc_is_static(cause)) {
        struct txc__hdr* hd = check_ptr(cause, "throw_fwd");
        if (!(hd->tag & TF_EXC) || hdr_owner(hd) != cause->heap)
            THROW_ARG("throw_fwd: %p is not an exception", (void*)cause);
    }
    if (data) {
        struct txc__hdr* hd = check_ptr(data, "throw_data");
        if (hd->tag & (TF_FRAME | TF_STATIC | TF_EXC))
            THROW_ARG("throw_data: %p cannot be moved onto an exception", data);
        if ((hd->tag & TF_HEAP) && (((txc_heap_t*)data)->flags & HF_ROOT))
            THROW_ARG("throw_data: a root heap cannot be moved onto an exception");
    }
    va_list ap;
    va_start(ap, fmt);
    txc_exception_t* e = exc_new(type, file, line, func, errnum, fmt, ap);
    va_end(ap);
    if (!e && type == txc_exception_nomem) {
        /* No memory even for the exception: the per-thread one, which
         * cannot take a cause or a payload (they stay where they are). */
        va_start(ap, fmt);
        e = exc_static(type, file, line, func, fmt, ap);
        va_end(ap);
        e->errnum = errnum >= 0 ? errnum : 0;
    }
    if (!e)
        e = exc_nomem_plain(file, line, func);
    if (e->heap && cause)
        exc_nest(e, cause);
    if (e->heap && data) {
        struct txc__node* spare = sys_malloc(sizeof *spare);
        if (spare || (hdr_of(data)->tag & TF_TRACKED)) {
            heap_move_nocheck(hdr_of(data), e->heap, spare);
            e->data = data;
        } else {
            exc_discard(e);
            e = exc_nomem_plain(file, line, func);
        }
    }
    exc_propagate(e);
}

TXC_API void txc__throw_literal(const txc_exception_type_t* type, const char* file, int line, const char* func,
                                const char* msg)
{
    ctx_get();
    if (UNLIKELY(!type || type == txc_exception_nomem)) /* the misuse, and the exception that needs no memory */
        txc__throw(type, file, line, func, TXC__NO_ERRNO, NULL, NULL, "%s", msg);
    txc_exception_t* e = exc_new_literal(type, file, line, func, msg);
    exc_propagate(e ? e : exc_nomem_plain(file, line, func));
}

TXC_API void txc__rethrow(txc_exception_t* e)
{
    if (!e)
        THROW_ARG("rethrow: NULL exception");
    if (!exc_is_static(e)) {
        struct txc__hdr* hd = check_ptr(e, "rethrow");
        if (!(hd->tag & TF_EXC) || hdr_owner(hd) != e->heap)
            THROW_ARG("rethrow: %p is not a caught exception", (void*)e);
        exc_detach(e);
    }
    exc_propagate(e);
}

TXC_API void txc__fatal(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    txc_exception_t* e = exc_new(txc_exception_fatal, "(txc)", 0, "", -1, fmt, ap);
    va_end(ap);
    if (!e) {
        va_start(ap, fmt);
        e = exc_static(txc_exception_fatal, "(txc)", 0, "", fmt, ap);
        va_end(ap);
    }
    exc_uncaught(e);
}
