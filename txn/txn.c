/*
 * txn.c - transactions and the undo log.
 *
 * A transaction is a frame (struct txc__txn) on the thread's frame stack,
 * like a sub_heap, and the innermost one is txc__ctx.txn.  It owns:
 *
 *  - a sub heap, current in the block, and h, a heap on it (sub_heap_txn),
 *    or a detached staging heap (global_heap);
 *  - an undo log: records, newest first, each with an undo function (run on
 *    abort) and a drop function (run when the outermost transaction commits,
 *    to release what the record kept).  Abort hooks are records too;
 *  - commit hooks and deferred frees, oldest first.
 *
 * Records, hooks and deferred frees live on one private heap of the
 * outermost transaction (its logheap), so a nested transaction can hand them
 * to its parent by splicing lists, and one heap_destroy frees them all.
 *
 * Abort (during an exception's unwind): the unwinder first replays the logs
 * of every transaction it is about to pop (txn_undo), newest first and
 * before any frame is popped, so undo steps never meet freed memory; then
 * txn_unwind frees the transaction's memory.  Taking back what a nested
 * commit merged into an older heap frees memory too, so it waits for
 * txn_unwind (see txn_undo).
 *
 * Commit (the block left normally): h's contents merge into the heap that
 * was current before the block (a global_heap's into the enclosing
 * global_heap's staging heap, else the outermost transaction's pending
 * heap, else the global heap).  A nested transaction then gives its records
 * and hooks to its parent -- with an extra record that takes the merged
 * memory back if h merged into a heap older than the parent.  The outermost
 * one drops its records, performs its deferred frees, lets pending global
 * allocations join the global heap, frees its logheap and runs the commit
 * hooks.
 *
 * Age: a transaction's start is a tick of a process-wide clock.  Containers
 * record the clock when they are born; they are older than a transaction
 * when born before it started.  For plain allocations age is decided by
 * heap: an allocation is the transaction's own when its heap is the
 * transaction's sub heap or below it.
 */
#include "internal.h"

#include <string.h>

uint64_t txc__txn_clock;

struct rec {
    struct rec* next;
    uint64_t born; /* of the object it changes (0: older than every transaction) */
    void (*undo)(void*);
    void (*drop)(void*);
    void* arg;
    const char* what;
    max_align_t payload[];
};

struct hook {
    struct hook* next;
    void (*fn)(void*);
    void* arg;
};

static struct txc__txn* txn_cur(void) { return (struct txc__txn*)txc__ctx.txn; }

static void* log_alloc(struct txc__txn* t, size_t size)
{
    struct txc__txn* o = t->outer;
    if (!o->logheap) {
        o->logheap = heap_block_new(NULL, 0);
        if (!o->logheap)
            THROW_NOMEM("transaction: cannot allocate the undo log");
    }
    return heap_alloc(o->logheap, size, 1);
}

static struct rec* rec_push(struct txc__txn* t, void (*undo)(void*), void (*drop)(void*), size_t size,
                            const char* what)
{
    struct rec* r = log_alloc(t, sizeof *r + size);
    r->undo = undo;
    r->drop = drop;
    r->arg = r->payload;
    r->what = what;
    r->born = 0;
    r->next = t->log;
    t->log = r;
    if (!t->log_tail)
        t->log_tail = r;
    return r;
}

void* txn_log(uint64_t born, void (*undo)(void* rec), void (*drop)(void* rec), size_t size)
{
    struct txc__txn* t = txn_cur();
    if (born >= t->start)
        return NULL; /* born inside: it vanishes with the transaction */
    struct rec* r = rec_push(t, undo, drop, size, "an undo step");
    r->born = born;
    return r->payload;
}

/* Is heap h the transaction's own: its sub heap, the heap of a block
 * entered since it began (such heaps end before it does), or below one? */
static bool txn_owns(const struct txc__txn* t, const txc_heap_t* h)
{
    if (heap_within(h, t->sh.heap))
        return true;
    for (const struct txc__heap_block* p = t->pool_mark; p < txc__ctx.pool_top; p++)
        if (heap_within(h, &p->heap))
            return true;
    for (struct txc__frame* f = txc__ctx.top; f && f != &t->sh.f; f = f->prev) {
        txc_heap_t* fh = frame_heap_of(f);
        if (fh && heap_within(h, fh))
            return true;
    }
    return false;
}

/* ---- deferred frees ---- */

struct deferred {
    struct deferred* next;
    void* p;
    bool skip;
};

/* Does a move record of a running transaction name this allocation? */
static bool has_open_moves(const struct txc__hdr* hd)
{
    return (hd->tag & TF_TRACKED) && (hdr_node(hd)->flags & NF_TXN_MOVED);
}

bool txn_free_hook(struct txc__hdr* hd, txc_heap_t* owner)
{
    struct txc__txn* t = txn_cur();
    /* an allocation whose move is logged existed before: an abort needs it */
    if (!has_open_moves(hd) && txn_owns(t, owner))
        return false;
    struct deferred* d = log_alloc(t, sizeof *d);
    d->p = hd + 1;
    if (t->frees_tail)
        ((struct deferred*)t->frees_tail)->next = d;
    else
        t->frees = d;
    t->frees_tail = d;
    return true;
}

/* The outermost commit frees what was deferred, in order.  An entry that
 * an earlier one freed along (it is on that heap, or named twice) is
 * skipped: decided for all of them first, while all are alive. */
static void deferred_run(struct deferred* list)
{
    for (struct deferred* d = list; d; d = d->next) {
        txc_heap_t* owner = hdr_owner(hdr_of(d->p));
        for (struct deferred* e = list; e != d; e = e->next)
            if (e->p == d->p || ((hdr_of(e->p)->tag & TF_HEAP) && heap_within(owner, e->p))) {
                d->skip = true;
                break;
            }
    }
    for (struct deferred* d = list; d; d = d->next)
        if (!d->skip)
            heap_free(d->p, false);
}

/* ---- moves ---- */

struct move_rec {
    void* p;
    txc_heap_t* src;
};

static void move_closed(struct move_rec* m)
{
    hdr_node(hdr_of(m->p))->flags -= NF_MOVES_ONE;
}

static void undo_move(void* arg)
{
    struct move_rec* m = arg;
    /* back where it was (it arrives there again), logging nothing */
    heap_move_nocheck(hdr_of(m->p), m->src, NULL);
    move_closed(m);
}

static void drop_move(void* arg)
{
    move_closed(arg);
}

bool txn_move_hook(struct txc__hdr* hd, txc_heap_t* src)
{
    struct txc__txn* t = txn_cur();
    if (txn_owns(t, src))
        return false;
    struct move_rec* m = rec_push(t, undo_move, drop_move, sizeof *m, "an undo step")->arg;
    m->p = hd + 1;
    m->src = src;
    return true;
}

/* A heap being freed inside a transaction holds n, an allocation whose move
 * is logged: an abort will move it back, so it waits in the outermost
 * transaction's limbo heap (freed when that ends) instead of dying now.
 * False: no memory for the limbo heap (then it is freed, as before). */
bool txn_park(struct txc__node* n)
{
    struct txc__txn* o = txn_cur()->outer;
    if (!o->limbo && !(o->limbo = heap_block_new(NULL, 0)))
        return false;
    heap_unlink(n);
    heap_link(o->limbo, n);
    return true;
}

/* ---- txn_set and hooks ---- */

struct save_rec {
    void* p;
    size_t size;
    unsigned char old[];
};

static void undo_save(void* arg)
{
    struct save_rec* s = arg;
    memcpy(s->p, s->old, s->size);
}

TXC_API void txc__txn_save(void* p, size_t size)
{
    struct txc__txn* t = txn_cur();
    if (!t)
        return;
    struct save_rec* s = rec_push(t, undo_save, NULL, sizeof *s + size, "an undo step")->arg;
    s->p = p;
    s->size = size;
    memcpy(s->old, p, size);
}

TXC_API bool txc_in_txn(void)
{
    return txc__ctx.txn != NULL;
}

TXC_API void txc_on_abort(void (*fn)(void*), void* arg)
{
    struct txc__txn* t = txn_cur();
    if (!fn)
        THROW_ARG("txc_on_abort: NULL function");
    if (!t)
        return;
    struct rec* r = rec_push(t, fn, NULL, 0, "an abort hook");
    r->arg = arg;
}

TXC_API void txc_on_commit(void (*fn)(void*), void* arg)
{
    struct txc__txn* t = txn_cur();
    if (!fn)
        THROW_ARG("txc_on_commit: NULL function");
    if (!t) {
        fn(arg);
        return;
    }
    struct hook* k = log_alloc(t, sizeof *k);
    k->fn = fn;
    k->arg = arg;
    if (t->commits_tail)
        ((struct hook*)t->commits_tail)->next = k;
    else
        t->commits = k;
    t->commits_tail = k;
}

/* ---- entering ---- */

TXC_API struct txc__txn* txc__txn_enter(struct txc__txn* t, int global)
{
    struct txc__ctx* c = ctx_get();
    struct txc__txn* parent = c->txn;
    frame_heap_open(&t->sh, global ? NULL : c->current, global ? HF_INDIVIDUAL : 0);
    frame_push(c, &t->sh.f, TXC__F_TXN);
    t->pool_mark = c->pool_top;
    t->parent = parent;
    t->outer = parent ? parent->outer : t;
    t->start = __atomic_add_fetch(&txc__txn_clock, 1, __ATOMIC_RELAXED);
    t->log = t->log_tail = NULL;
    t->commits = t->commits_tail = NULL;
    t->frees = t->frees_tail = NULL;
    t->logheap = t->gpending = t->limbo = NULL;
    t->global = global;
    t->undone = 0;
    t->heap = NULL;
    c->txn = t;
    c->current = t->sh.heap;
    if (!global) {
        t->heap = txc_heap_new(); /* a throw here unwinds this frame */
        hdr_of(t->heap)->tag |= TF_FRAME; /* cannot be freed or moved inside the block */
    } else {
        t->heap = t->sh.heap;
    }
    t->once = 1;
    return t;
}

/* ---- aborting ---- */

static void undo_merge(void* arg);

/* Replay the log, newest first, except the records that take back what a
 * nested commit merged into an older heap: they free memory, which the
 * other undo steps may still write to (txn_set) and the blocks entered
 * since may still use (a switch_heap to a heap the merge brought, a
 * sub_heap on one), so they stay in the log, in order, for txn_unwind. */
void txn_undo(struct txc__frame* f)
{
    struct txc__txn* t = (struct txc__txn*)f;
    if (t->undone)
        return;
    t->undone = 1;
    struct rec* r = t->log;
    t->log = t->log_tail = NULL;
    for (struct rec* next; r; r = next) {
        next = r->next;
        if (r->undo == undo_merge) { /* kept, in order */
            r->next = NULL;
            if (t->log_tail)
                ((struct rec*)t->log_tail)->next = r;
            else
                t->log = r;
            t->log_tail = r;
            continue;
        }
        run_guarded(r->undo, r->arg, r->what);
    }
}

void txn_unwind(struct txc__frame* f)
{
    struct txc__txn* t = (struct txc__txn*)f;
    struct txc__ctx* c = &txc__ctx;
    txn_undo(f);
    /* The blocks entered since are unwound: take the merges back now,
     * still as the current transaction (what has a move logged by an
     * enclosing one waits in its limbo heap). */
    for (struct rec* r = t->log; r; r = r->next)
        run_guarded(r->undo, r->arg, r->what);
    t->log = t->log_tail = NULL;
    c->top = f->prev;
    c->current = f->saved;
    c->txn = t->parent;
    frame_heap_release(t->sh.heap);
    if (!t->parent) {
        if (t->gpending)
            heap_destroy(t->gpending);
        if (t->limbo)
            heap_destroy(t->limbo);
        if (t->logheap)
            heap_destroy(t->logheap);
    }
}

/* ---- committing ---- */

static void undo_merge(void* arg)
{
    heap_unmerge(arg);
}

static txc_heap_t* global_target(struct txc__txn* t)
{
    for (struct txc__txn* p = t->parent; p; p = p->parent)
        if (p->global)
            return p->sh.heap;
    if (!t->parent)
        return txc__global;
    struct txc__txn* o = t->outer;
    if (!o->gpending) {
        o->gpending = heap_block_new(NULL, HF_INDIVIDUAL);
        if (!o->gpending)
            THROW_NOMEM("global_heap: cannot allocate a pending heap");
    }
    return o->gpending;
}

static void splice(void** head, void** tail, void* chead, void* ctail, bool newest_first)
{
    if (!chead)
        return;
    if (newest_first) { /* child's records are newer: they go in front */
        ((struct rec*)ctail)->next = *head;
        *head = chead;
        if (!*tail)
            *tail = ctail;
    } else {
        if (*tail)
            ((struct hook*)*tail)->next = chead; /* struct deferred has the same prefix */
        else
            *head = chead;
        *tail = ctail;
    }
}

TXC_API void txc__txn_leave(struct txc__txn* t)
{
    struct txc__ctx* c = &txc__ctx;
    struct txc__txn* parent = t->parent;
    txc_heap_t* before = t->sh.f.saved;
    txc_heap_t* src = t->global ? t->sh.heap : t->heap;

    /* What may fail comes first, while the transaction is still the top
     * frame: a failure here aborts it like any exception. */
    txc_heap_t* dst = t->global ? global_target(t) : before;
    struct merge_mark* u = NULL;
    struct rec* ur = NULL;
    if (parent && (src->head || src->chunk) && !txn_owns(parent, dst)) {
        ur = rec_push(parent, undo_merge, NULL, sizeof *u, "an undo step");
        u = ur->arg;
    }

    c->top = t->sh.f.prev;
    c->current = before;
    c->txn = parent;
    if (u) {
        merge_mark(u, src, dst);
    }
    if (src->head || src->chunk) {
        global_lock(dst);
        heap_merge(src, dst);
        global_unlock(dst);
    }
    if (!parent) { /* the outermost: records are final, then deferred frees,
                    * before anything they name goes with the sub heap */
        for (struct rec* r = t->log; r; r = r->next)
            if (r->drop)
                r->drop(r->arg);
        deferred_run(t->frees);
    }
    frame_heap_release(t->sh.heap);

    if (parent) {
        /* Records of objects born inside the parent are final for it: the
         * object vanishes if the parent aborts, and its later changes are
         * not logged, so such a record must never run.  So are moves from,
         * and merges into, a heap the parent owns: that heap vanishes if
         * the parent aborts -- or earlier, with a block of the parent's
         * that ends, and an unmerge would then touch a dead heap. */
        struct rec *head = NULL, *tail = NULL;
        for (struct rec *r = t->log, *next; r; r = next) {
            next = r->next;
            bool final = r->born && r->born >= parent->start;
            if (r->undo == undo_move)
                final = txn_owns(parent, ((struct move_rec*)r->arg)->src);
            else if (r->undo == undo_merge)
                final = txn_owns(parent, ((struct merge_mark*)r->arg)->dst);
            if (final) {
                if (r->drop)
                    r->drop(r->arg);
                continue;
            }
            r->next = NULL;
            if (tail)
                tail->next = r;
            else
                head = r;
            tail = r;
        }
        splice(&parent->log, &parent->log_tail, head, tail, true);
        if (ur && tail) {
            /* The merge came after the child's changes: undo it first, so
             * that their undo steps find what it brought back in place. */
            tail->next = ur->next;
            if (parent->log_tail == ur)
                parent->log_tail = tail;
            ur->next = parent->log;
            parent->log = ur;
        }
        splice(&parent->commits, &parent->commits_tail, t->commits, t->commits_tail, false);
        /* Deferred frees of what the parent owns happen now: it could end
         * with a block of the parent before the outermost commit. */
        for (struct deferred *d = t->frees, *next; d; d = next) {
            next = d->next;
            d->next = NULL;
            struct txc__hdr* dh = hdr_of(d->p);
            if (!has_open_moves(dh) && txn_owns(parent, hdr_owner(dh)))
                heap_free(d->p, true);
            else
                splice(&parent->frees, &parent->frees_tail, d, d, false);
        }
        return;
    }
    if (t->limbo)
        heap_destroy(t->limbo);
    if (t->gpending) {
        global_lock(txc__global);
        heap_merge(t->gpending, txc__global);
        global_unlock(txc__global);
        heap_destroy(t->gpending);
    }
    /* Commit hooks, in order; one that throws ends the run, and its
     * exception propagates from here once the log memory is freed. */
    txc_heap_t* logheap = t->logheap;
    txc_exception_t* volatile thrown = NULL;
    struct hook* volatile k = t->commits;
    for (; k && !thrown; k = k->next) {
        TXC_TRY {
            k->fn(k->arg);
        }
        TXC_CATCH(txc_exception_any, e) {
            thrown = e;
        }
    }
    if (logheap)
        heap_destroy(logheap);
    if (thrown)
        txc__rethrow(thrown);
}
