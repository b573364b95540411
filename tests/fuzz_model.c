/*
 * fuzz_model.c - model-based fuzzing of the heaps, exceptions,
 * transactions and containers (issue 6), as a libFuzzer target.
 *
 * The input is read as a program: each byte picks an operation (its low
 * seven bits; the top bit is a flag of some operations), the bytes after it
 * its arguments.  Each input runs on a thread of its own, so that it starts
 * from a fresh root heap.  Blocks nest by recursion: an "enter" operation
 * runs the rest of the input inside sub_heap, switch_heap, try (in one of a
 * few shapes of catch and finally), switch_txn / sub_heap_txn or global_heap,
 * until a "leave" operation or the end of the input ends the block normally
 * or a throw leaves it by an exception.  Inside, the operations allocate,
 * free, reallocate, escape, import, set and clear destructors, make heaps,
 * throw exceptions of a small type tree, txn_set four variables, register
 * commit and abort hooks, and make and change containers (below).
 *
 * Every operation is applied to txc and to a reference model written plainly
 * below: which heap owns which allocation and in what order they arrived,
 * which heaps are running blocks, what each transaction logged (txn_set
 * values, moves of older allocations, abort hooks, commits of nested
 * transactions into older heaps), what it must free when the outermost one
 * commits, and where each global_heap's allocations wait.  From that the
 * model predicts what txc must do: which operations it refuses with
 * exception_arg, which destructors, hooks, catch and finally blocks run and
 * in what order, and afterwards every heap's statistics (allocs, bytes,
 * total_allocs, total_bytes), every allocation's owner (txc_heap_of) and
 * contents, the current heap, txc_in_txn() and the variables.  Any
 * divergence prints the operation and aborts, so libFuzzer keeps the input.
 *
 * Containers: lists, dicts and vecs (of a plain long, or of el_w, a
 * 32-byte over-aligned struct) are made on the current heap and changed by
 * more operations: push, pop and peek at either end; append, get, set and
 * resize; insert, replace, read and delete of keys from a fixed set (short
 * and long, some holding NUL, through the plain and the _n forms); a
 * vec_foreach that appends (it sees what it appends) and a dict_foreach
 * that deletes or replaces the entry it visits; misuse (an empty list, an
 * index out of range, a NULL key, the wrong element type) that must be
 * refused with exception_arg and change nothing; and
 * bulk runs of these that make the storage grow and shrink.  The model of a
 * container is an array (a dict's: its keys and values in insertion order,
 * and where dict_read found each value, which must not move).  A container
 * is an allocation like any other (freed, escaped and imported by the heap
 * operations, never given a destructor or reallocated); every transaction
 * keeps a copy of the containers made before it began, and an abort puts
 * them back exactly so -- contents, order and dict value addresses.  A
 * container made inside a transaction is not logged: it vanishes with its
 * heap, or keeps its contents if it was made on an older heap.  After each
 * container operation txc's container is compared with the model in full
 * (count, every element by foreach and by get/peek/read), and all of them
 * after every block, throw, free or move.
 *
 * Moves logged by a transaction: while a record names an allocation, its
 * free is deferred, and a heap that dies with it inside a transaction leaves
 * it in the outermost transaction's limbo heap (phys_free), so that an abort
 * can move it back.  Moving a heap that a running block uses is refused.
 *
 * Built by `make fuzz` (configure --enable-fuzzing, clang); with
 * -DTXC_FUZZ_MAIN it is a plain program that runs the files named on its
 * command line, for replaying a crash under a debugger.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <txc.h>

/* ---- limits ---- */

#define MAX_ALLOCS 384
#define MAX_HEAPS 160
#define MAX_FRAMES 40
#define MAX_TXNS 24
#define MAX_EVENTS 4096
#define NVARS 4
#define MAX_CONTS 32
#define MAX_ELEMS 64
#define NKEYS 56
#define KEY_MAX 48

/* ---- failing ---- */

static unsigned long op_count; /* operations decoded in this input */
static unsigned long last_ops;  /* ... in the last input (for the replay) */
static bool trace;             /* FUZZ_TRACE=1: print each operation */
static const char* op_name = "start";

static __attribute__((noreturn, format(printf, 1, 2))) void fuzz_fail(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_model: divergence at operation %lu (%s): ", op_count, op_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

#define MUST(cond)                                                  \
    do {                                                            \
        if (!(cond))                                                \
            fuzz_fail("%s (fuzz_model.c:%d)", #cond, __LINE__);     \
    } while (0)

/* ---- the input ---- */

static const uint8_t* in_data;
static size_t in_len, in_pos;

static bool at_end(void) { return in_pos >= in_len; }
static unsigned byte(void) { return in_pos < in_len ? in_data[in_pos++] : 0; }

/* ---- exception types: fuzz_b is below fuzz_a, fuzz_c apart ---- */

define_exception(fuzz_a, exception_io);
define_exception(fuzz_b, fuzz_a);
define_exception(fuzz_c, exception_any);

enum { T_A, T_B, T_C, T_ANY };
static const txc_exception_type_t* type_of(int t)
{
    return t == T_A ? fuzz_a : t == T_B ? fuzz_b : t == T_C ? fuzz_c : exception_any;
}
/* Does a catch of type c take an exception of type t? */
static bool type_matches(int t, int c) { return c == T_ANY || t == c || (t == T_B && c == T_A); }

/* The try shapes: the catch types of each, in text order, and whether it
 * has a finally. */
#define NSHAPES 6
static const struct {
    int ncatch, catches[2];
    bool has_finally;
} shapes[NSHAPES] = {
    {1, {T_A}, false},  {2, {T_B, T_C}, false}, {1, {T_ANY}, false},
    {1, {T_A}, true},   {0, {0}, true},         {2, {T_C, T_B}, true},
};

/* ---- events: what txc did, what the model expects ---- */

enum { EV_DTOR = 1, EV_COMMIT_HOOK, EV_ABORT_HOOK, EV_CATCH, EV_FINALLY };

struct event {
    int kind, a, b;
};

static struct event seen[MAX_EVENTS], want[MAX_EVENTS];
static int nseen, nwant;

static void event_add(struct event* log, int* n, int kind, int a, int b)
{
    if (*n >= MAX_EVENTS)
        fuzz_fail("too many events");
    log[(*n)++] = (struct event){kind, a, b};
}
static void saw(int kind, int a, int b) { event_add(seen, &nseen, kind, a, b); }
static void expect(int kind, int a, int b) { event_add(want, &nwant, kind, a, b); }

static const char* event_name(int kind)
{
    static const char* names[] = {"?", "destructor", "commit hook", "abort hook", "catch", "finally"};
    return names[kind];
}

static void events_check(void)
{
    for (int i = 0; i < nseen || i < nwant; i++) {
        if (i >= nseen || i >= nwant || memcmp(&seen[i], &want[i], sizeof seen[i]) != 0) {
            fprintf(stderr, "fuzz_model: events differ at %d\n  txc:", i);
            for (int k = 0; k < nseen; k++)
                fprintf(stderr, " %s(%d,%d)", event_name(seen[k].kind), seen[k].a, seen[k].b);
            fprintf(stderr, "\n  model:");
            for (int k = 0; k < nwant; k++)
                fprintf(stderr, " %s(%d,%d)", event_name(want[k].kind), want[k].a, want[k].b);
            fputc('\n', stderr);
            fuzz_fail("events differ");
        }
    }
    nseen = nwant = 0;
}

/* ---- the model ---- */

enum { HK_ROOT, HK_GLOBAL, HK_SUB, HK_NEW, HK_S, HK_H, HK_STAGE, HK_PENDING };

struct mheap {
    bool live;
    int kind;
    int self;          /* its allocation on the parent, or -1 (no parent) */
    txc_heap_t* real;  /* NULL until seen (a pending heap) */
};

struct malloc_ {
    bool live;         /* physically there */
    bool pending;      /* freed inside a transaction: waits for the outermost commit */
    bool frame;        /* the heap of a running block (or a transaction's h) */
    bool opaque;       /* a caught exception: stats of its own, never an operand */
    int heap;          /* owner */
    int is_heap;       /* the heap it is, or -1 */
    size_t size;
    bool dtor;
    unsigned char fill;
    uint64_t arrival;  /* order of arrival on its owner */
    size_t ex_allocs, ex_bytes; /* opaque: the exception heap's totals */
    int moverec;       /* open move records that name it */
    int cont;          /* the container it is, or -1 */
    void* real;
};

enum { FK_TRY, FK_SUB, FK_SWITCH, FK_TXN };

struct mframe {
    int kind;
    int saved;         /* the current heap when it was entered */
    int heap;          /* sub: its heap; switch: the target; txn: the sub heap (or staging heap) */
    int h;             /* txn: h (switch_txn also switches to it), else -1 */
    bool switched;     /* switch_txn */
    int txn;
    int shape, depth;  /* try */
};

enum { CK_LIST, CK_DICT, CK_VEC };

/* A container's contents.  list, vec: val[0..n) in order.  dict: the
 * entries key[k] -> val[k] in insertion order (key ids, see key_of), and
 * addr[k] where dict_read found the value (NULL: not looked up since the
 * entry was made or replaced). */
struct mcont {
    int kind;
    bool wide;         /* elements are el_w, else el_l */
    int alloc;         /* its allocation */
    int n;
    long val[MAX_ELEMS];
    int key[NKEYS];
    const void* addr[NKEYS];
};

enum { R_SET, R_MOVE, R_HOOK, R_UNMERGE };

struct mrec {
    int kind;
    int a;             /* variable, allocation or hook */
    long old;
    int heap;          /* move: where it came from; unmerge: where the merge went */
    int* merged;       /* unmerge: the allocations the merge brought */
    int nmerged;
    uint64_t lo, hi;   /* unmerge: their arrivals (one that arrived again since is not taken back) */
};

struct mtxn {
    bool global;
    int parent;        /* enclosing transaction, or -1 */
    int S, h;          /* its sub heap (global: staging heap) and h */
    int before;        /* the current heap before it */
    int pending;       /* outermost: heap where nested global_heap commits wait, or -1 */
    int limbo;         /* outermost: heap where moved allocations whose heap died wait, or -1 */
    struct mrec* recs; /* oldest first */
    int nrecs, caprecs;
    int* commits;
    int ncommits, capcommits;
    int* frees;
    int nfrees, capfrees;
    struct mcont* snap; /* the containers when it began (those older than it) */
    int nsnap;
};

static struct malloc_ A[MAX_ALLOCS];
static struct mheap H[MAX_HEAPS];
static struct mframe F[MAX_FRAMES];
static struct mtxn T[MAX_TXNS];
static struct mcont C[MAX_CONTS];
static int nalloc, nheap, nframe, ncont;
static int cur;                /* the current heap */
static int root_heap, global_heap_id;
static long vars[NVARS], mvars[NVARS];
static uint64_t arrivals;
static int next_hook, next_throw;
static txc_heap_t* real_global;

static int parent_of(int h) { return H[h].self >= 0 ? A[H[h].self].heap : -1; }

static bool within(int h, int anc)
{
    for (; h >= 0; h = parent_of(h))
        if (h == anc)
            return true;
    return false;
}

static int innermost_txn(void)
{
    for (int i = nframe - 1; i >= 0; i--)
        if (F[i].kind == FK_TXN)
            return F[i].txn;
    return -1;
}

/* Is heap h transaction t's own: its sub heap, the heap of a block entered
 * since it began, or below one? */
static bool txn_owns(int t, int h)
{
    if (within(h, T[t].S))
        return true;
    int i = nframe - 1;
    while (i >= 0 && !(F[i].kind == FK_TXN && F[i].txn == t))
        i--;
    for (int j = i + 1; j < nframe; j++)
        if (F[j].kind != FK_SWITCH && F[j].kind != FK_TRY && F[j].heap >= 0 && within(h, F[j].heap))
            return true;
    return false;
}

static int heap_new_model(int kind, int self, txc_heap_t* real)
{
    MUST(nheap < MAX_HEAPS);
    H[nheap] = (struct mheap){true, kind, self, real};
    if (self >= 0)
        A[self].is_heap = nheap;
    return nheap++;
}

static int alloc_new_model(int heap, size_t size, bool dtor, void* real)
{
    MUST(nalloc < MAX_ALLOCS);
    int id = nalloc++;
    A[id] = (struct malloc_){.live = true, .heap = heap, .is_heap = -1, .size = size, .dtor = dtor,
                             .fill = (unsigned char)(id * 37 + 11), .arrival = ++arrivals, .cont = -1,
                             .real = real};
    return id;
}

static void arrive(int a, int heap)
{
    A[a].heap = heap;
    A[a].arrival = ++arrivals;
}

/* Live allocations on heap h, oldest first. */
static int on_heap(int h, int* out)
{
    int n = 0;
    for (int i = 0; i < nalloc; i++)
        if (A[i].live && A[i].heap == h)
            out[n++] = i;
    for (int i = 1; i < n; i++) /* insertion sort by arrival */
        for (int k = i; k > 0 && A[out[k - 1]].arrival > A[out[k]].arrival; k--) {
            int x = out[k];
            out[k] = out[k - 1];
            out[k - 1] = x;
        }
    return n;
}

static void phys_free(int a);

/* Heap h is gone. */
static void heap_dead(int h)
{
    H[h].live = false;
}

/* Free everything on heap h, newest first. */
static void phys_clear(int h)
{
    int list[MAX_ALLOCS];
    int n = on_heap(h, list);
    for (int i = n - 1; i >= 0; i--)
        if (A[list[i]].live)
            phys_free(list[i]);
}

static int innermost_txn(void);
static int heap_new_model(int kind, int self, txc_heap_t* real);
static void arrive(int a, int h);

/* An allocation goes: its destructor, then (a heap) what it holds.  Inside
 * a transaction, one that a move record names waits in the outermost
 * transaction's limbo heap instead: an abort may still move it back. */
static void phys_free(int a)
{
    int t = innermost_txn();
    if (A[a].moverec > 0 && t >= 0) {
        while (T[t].parent >= 0)
            t = T[t].parent;
        if (T[t].limbo < 0)
            T[t].limbo = heap_new_model(HK_PENDING, -1, NULL);
        arrive(a, T[t].limbo);
        return;
    }
    if (A[a].dtor) {
        A[a].dtor = false;
        expect(EV_DTOR, a, 0);
    }
    if (A[a].is_heap >= 0) {
        phys_clear(A[a].is_heap);
        heap_dead(A[a].is_heap);
    }
    A[a].live = false;
    A[a].pending = false;
}

/* Is a, or a heap it is on, waiting to be freed (so no longer usable)? */
static bool logically_dead(int a)
{
    if (!A[a].live || A[a].pending)
        return true;
    for (int h = A[a].heap; h >= 0; h = parent_of(h))
        if (H[h].self >= 0 && A[H[h].self].pending)
            return true;
    return false;
}

/* heap_in_use of heap.c: the current heap, a running block's heap, a
 * switched-to heap or a heap a block will restore is h or below it. */
static bool heap_in_use(int h)
{
    if (within(cur, h))
        return true;
    for (int i = 0; i < nframe; i++) {
        if (within(F[i].saved, h))
            return true;
        if (F[i].heap >= 0 && within(F[i].heap, h))
            return true;
        if (F[i].h >= 0 && F[i].switched && within(F[i].h, h))
            return true;
    }
    return false;
}

/* ---- transaction logs ---- */

static struct mrec* rec_push(int t, int kind)
{
    struct mtxn* x = &T[t];
    if (x->nrecs == x->caprecs) {
        x->caprecs = x->caprecs ? 2 * x->caprecs : 16;
        x->recs = realloc(x->recs, (size_t)x->caprecs * sizeof *x->recs);
        MUST(x->recs);
    }
    struct mrec* r = &x->recs[x->nrecs++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    return r;
}

static void int_push(int** arr, int* n, int* cap, int v)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        *arr = realloc(*arr, (size_t)*cap * sizeof **arr);
        MUST(*arr);
    }
    (*arr)[(*n)++] = v;
}

static void rec_release(struct mrec* r)
{
    if (r->kind == R_MOVE)
        A[r->a].moverec--;
    free(r->merged);
    r->merged = NULL;
}

static void txn_release(int t)
{
    for (int r = 0; r < T[t].nrecs; r++)
        rec_release(&T[t].recs[r]);
    free(T[t].recs);
    free(T[t].commits);
    free(T[t].frees);
    free(T[t].snap);
    memset(&T[t], 0, sizeof T[t]);
}

/* Replay t's log, newest first (an abort). */
/* What a nested commit brought to an older heap goes, newest first (one
 * that arrived there again since is not taken back). */
static void unmerge_model(const struct mrec* r)
{
    int list[MAX_ALLOCS];
    int n = on_heap(r->heap, list);
    for (int k = n - 1; k >= 0; k--) {
        int a = list[k];
        for (int m = 0; m < r->nmerged; m++)
            if (r->merged[m] == a && A[a].live && A[a].arrival >= r->lo && A[a].arrival <= r->hi) {
                phys_free(a);
                break;
            }
    }
}

/* Replay t's log, newest first (an abort, before any frame is popped).
 * The unmerges free memory: they stay, in order, for txn_unmerges_model
 * when t's own frame is popped. */
static void txn_undo_model(int t)
{
    struct mtxn* x = &T[t];
    for (int i = x->nrecs - 1; i >= 0; i--) {
        struct mrec* r = &x->recs[i];
        switch (r->kind) {
        case R_SET:
            mvars[r->a] = r->old;
            break;
        case R_HOOK:
            expect(EV_ABORT_HOOK, r->a, 0);
            break;
        case R_MOVE:
            if (A[r->a].live && A[r->a].heap != r->heap)
                arrive(r->a, r->heap);
            break;
        case R_UNMERGE:
            continue;
        }
        rec_release(r);
    }
    int kept = 0;
    for (int i = 0; i < x->nrecs; i++)
        if (x->recs[i].kind == R_UNMERGE)
            x->recs[kept++] = x->recs[i];
    x->nrecs = kept;
    /* the containers older than t: exactly as they were when it began */
    if (x->nsnap)
        memcpy(C, x->snap, sizeof(struct mcont) * (size_t)x->nsnap);
}

/* The unmerges of aborted transaction t, newest first: the blocks entered
 * since are unwound, t is still the innermost transaction. */
static void txn_unmerges_model(int t)
{
    struct mtxn* x = &T[t];
    for (int i = x->nrecs - 1; i >= 0; i--) {
        unmerge_model(&x->recs[i]);
        rec_release(&x->recs[i]);
    }
    x->nrecs = 0;
}

/* A frame's heap of a transaction is the model's S. */
static void txn_abort_free(int t)
{
    struct mtxn* x = &T[t];
    int S = x->S;
    phys_clear(S);
    heap_dead(S);
    if (H[S].self >= 0)
        A[H[S].self].live = false;
    for (int i = 0; i < x->nfrees; i++)
        A[x->frees[i]].pending = false; /* not freed after all */
    if (x->parent < 0 && x->pending >= 0) {
        phys_clear(x->pending);
        heap_dead(x->pending);
    }
    if (x->parent < 0 && x->limbo >= 0) {
        phys_clear(x->limbo);
        heap_dead(x->limbo);
    }
    txn_release(t);
}

/* Where a committing global_heap's allocations go. */
static int global_target(int t)
{
    for (int p = T[t].parent; p >= 0; p = T[p].parent)
        if (T[p].global)
            return T[p].S;
    if (T[t].parent < 0)
        return global_heap_id;
    int o = t;
    while (T[o].parent >= 0)
        o = T[o].parent;
    if (T[o].pending < 0)
        T[o].pending = heap_new_model(HK_PENDING, -1, NULL);
    return T[o].pending;
}

/* Move everything on src to dst, arriving now, in order. */
static int merge_model(int src, int dst, int* moved)
{
    int n = on_heap(src, moved);
    for (int i = 0; i < n; i++)
        arrive(moved[i], dst);
    return n;
}

static void txn_commit_model(int t)
{
    struct mtxn* x = &T[t];
    int parent = x->parent;
    int src = x->global ? x->S : x->h;
    int dst = x->global ? global_target(t) : x->before;
    int moved[MAX_ALLOCS];
    int n = merge_model(src, dst, moved);
    bool unmerge = parent >= 0 && n > 0 && !txn_owns(parent, dst);
    if (parent < 0) { /* the outermost: records are final, then the deferred frees */
        for (int i = 0; i < x->nrecs; i++)
            rec_release(&x->recs[i]);
        x->nrecs = 0;
        for (int i = 0; i < x->nfrees; i++)
            if (A[x->frees[i]].live)
                phys_free(x->frees[i]);
    }
    /* the sub heap goes (with h, now empty) */
    phys_clear(x->S);
    heap_dead(x->S);
    if (H[x->S].self >= 0)
        A[H[x->S].self].live = false;
    if (parent >= 0) {
        struct mtxn* p = &T[parent];
        for (int i = 0; i < x->nrecs; i++) {
            /* a move from, or a merge into, a heap the parent owns is final
             * for it: that heap goes if the parent aborts */
            int kind = x->recs[i].kind;
            if ((kind == R_MOVE || kind == R_UNMERGE) && txn_owns(parent, x->recs[i].heap)) {
                rec_release(&x->recs[i]);
                continue;
            }
            *rec_push(parent, x->recs[i].kind) = x->recs[i];
            x->recs[i].merged = NULL;
        }
        x->nrecs = 0;
        if (unmerge) { /* after the child's records: undone first */
            struct mrec* r = rec_push(parent, R_UNMERGE);
            r->heap = dst;
            r->nmerged = n;
            r->merged = malloc(sizeof(int) * (size_t)n);
            MUST(r->merged);
            memcpy(r->merged, moved, sizeof(int) * (size_t)n);
            r->lo = A[moved[0]].arrival;
            r->hi = A[moved[n - 1]].arrival;
        }
        for (int i = 0; i < x->ncommits; i++)
            int_push(&p->commits, &p->ncommits, &p->capcommits, x->commits[i]);
        for (int i = 0; i < x->nfrees; i++) {
            int a = x->frees[i]; /* what the parent owns is freed now */
            if (A[a].moverec == 0 && txn_owns(parent, A[a].heap)) {
                A[a].pending = false;
                phys_free(a);
            } else {
                int_push(&p->frees, &p->nfrees, &p->capfrees, a);
            }
        }
        free(x->recs);
        free(x->commits);
        free(x->frees);
        free(x->snap);
        memset(x, 0, sizeof *x);
        return;
    }
    if (x->limbo >= 0) {
        phys_clear(x->limbo);
        heap_dead(x->limbo);
    }
    if (x->pending >= 0) {
        merge_model(x->pending, global_heap_id, moved);
        heap_dead(x->pending);
    }
    for (int i = 0; i < x->ncommits; i++)
        expect(EV_COMMIT_HOOK, x->commits[i], 0);
    txn_release(t);
}

/* ---- frames ---- */

static struct mframe* frame_push(int kind)
{
    MUST(nframe < MAX_FRAMES);
    struct mframe* f = &F[nframe++];
    *f = (struct mframe){.kind = kind, .saved = cur, .heap = -1, .h = -1, .txn = -1};
    return f;
}

/* Pop the top frame; normal: the block ended normally, else an exception
 * unwinds it (its transaction's log was replayed already). */
static void frame_pop(bool normal)
{
    if (F[nframe - 1].kind == FK_TXN && !normal)
        txn_unmerges_model(F[nframe - 1].txn);
    struct mframe* f = &F[--nframe];
    cur = f->saved;
    switch (f->kind) {
    case FK_TRY:
        if (normal && shapes[f->shape].has_finally)
            expect(EV_FINALLY, f->depth, 0);
        break;
    case FK_SUB:
        phys_clear(f->heap);
        heap_dead(f->heap);
        A[H[f->heap].self].live = false;
        break;
    case FK_SWITCH:
        break;
    case FK_TXN:
        if (normal)
            txn_commit_model(f->txn);
        else
            txn_abort_free(f->txn);
        break;
    }
}

/* ---- the real side's callbacks ---- */

/* The allocation at p: the newest with that address (the model may have
 * freed it already: it runs a block's end just before txc does). */
static int find_real(const void* p)
{
    for (int i = nalloc - 1; i >= 0; i--)
        if (A[i].real == p)
            return i;
    return -1;
}

static void fz_dtor(void* p)
{
    int a = find_real(p);
    if (a < 0)
        fuzz_fail("destructor for %p, which the model does not know", p);
    saw(EV_DTOR, a, 0);
}

static void fz_commit_hook(void* arg) { saw(EV_COMMIT_HOOK, (int)(intptr_t)arg, 0); }
static void fz_abort_hook(void* arg) { saw(EV_ABORT_HOOK, (int)(intptr_t)arg, 0); }

/* ---- checking txc against the model ---- */

/* Statistics of every heap, as txc_heap_stats gives them. */
static size_t st_allocs[MAX_HEAPS], st_bytes[MAX_HEAPS], st_tallocs[MAX_HEAPS], st_tbytes[MAX_HEAPS];
static int st_first_child[MAX_HEAPS], st_next[MAX_ALLOCS];
static bool st_done[MAX_HEAPS];

static void stats_total(int h)
{
    if (st_done[h])
        return;
    st_done[h] = true;
    for (int a = st_first_child[h]; a >= 0; a = st_next[a]) {
        stats_total(A[a].is_heap);
        st_tallocs[h] += st_tallocs[A[a].is_heap];
        st_tbytes[h] += st_tbytes[A[a].is_heap];
    }
}

static void stats_model(void)
{
    for (int h = 0; h < nheap; h++) {
        st_allocs[h] = st_bytes[h] = st_tallocs[h] = st_tbytes[h] = 0;
        st_first_child[h] = -1;
        st_done[h] = false;
    }
    for (int i = 0; i < nalloc; i++) {
        if (!A[i].live)
            continue;
        int h = A[i].heap;
        st_allocs[h]++;
        st_bytes[h] += A[i].size;
        st_tallocs[h] += 1 + A[i].ex_allocs;
        st_tbytes[h] += A[i].size + A[i].ex_bytes;
        if (A[i].is_heap >= 0) {
            st_next[i] = st_first_child[h];
            st_first_child[h] = i;
        }
    }
    for (int h = 0; h < nheap; h++)
        stats_total(h);
}

static void verify_conts(void);

static void verify(void)
{
    events_check();
    for (int i = 0; i < NVARS; i++)
        if (vars[i] != mvars[i])
            fuzz_fail("variable %d is %ld, the model says %ld", i, vars[i], mvars[i]);
    MUST(txc_heap_current() == H[cur].real);
    MUST(txc_in_txn() == (innermost_txn() >= 0));
    for (int i = 0; i < nalloc; i++) /* learn the real heap of a pending heap */
        if (A[i].live && !A[i].frame && !H[A[i].heap].real)
            H[A[i].heap].real = txc_heap_of(A[i].real);
    stats_model();
    for (int h = 0; h < nheap; h++) {
        if (!H[h].live || !H[h].real)
            continue;
        size_t a = st_allocs[h], b = st_bytes[h], ta = st_tallocs[h], tb = st_tbytes[h];
        txc_heap_stats_t s;
        txc_heap_stats(H[h].real, &s);
        if (s.allocs != a || s.bytes != b || s.total_allocs != ta || s.total_bytes != tb)
            fuzz_fail("heap %d (kind %d): txc says %zu allocs %zu bytes, total %zu/%zu; the model %zu %zu, %zu/%zu",
                      h, H[h].kind, s.allocs, s.bytes, s.total_allocs, s.total_bytes, a, b, ta, tb);
        int p = parent_of(h);
        if (H[h].kind != HK_SUB && H[h].kind != HK_S) /* a frame heap is not in its parent's list */
            MUST(txc_heap_parent(H[h].real) == (p >= 0 ? H[p].real : NULL));
    }
    for (int i = 0; i < nalloc; i++) {
        struct malloc_* x = &A[i];
        if (!x->live || x->frame)
            continue;
        if (txc_heap_of(x->real) != H[x->heap].real)
            fuzz_fail("allocation %d is on %p, the model says heap %d (%p)", i, (void*)txc_heap_of(x->real),
                      x->heap, (void*)H[x->heap].real);
        if (x->is_heap < 0 && !x->opaque && x->cont < 0 && x->size) {
            const unsigned char* p = x->real;
            size_t n = x->size < 48 ? x->size : 48;
            for (size_t k = 0; k < n; k++)
                if (p[k] != x->fill)
                    fuzz_fail("allocation %d was overwritten at byte %zu", i, k);
            if (p[x->size - 1] != x->fill)
                fuzz_fail("allocation %d was overwritten at its end", i);
        }
    }
    verify_conts();
}

/* ---- operations ---- */

enum {
    OP_ALLOC, OP_FREE, OP_ESCAPE, OP_IMPORT, OP_DTOR, OP_HEAP_NEW, OP_REALLOC, OP_SUB, OP_SWITCH, OP_TRY,
    OP_TXN, OP_GLOBAL, OP_LEAVE, OP_THROW, OP_SET, OP_HOOK, OP_MOVE_LIST, OP_CONT_NEW, OP_CONT, OP_CONT_BULK,
    NOPS
};

static const char* op_names[NOPS] = {"alloc", "free", "escape", "import", "destructor", "heap_new",
                                     "realloc", "sub_heap", "switch_heap", "try", "transaction",
                                     "global_heap", "leave", "throw", "txn_set", "hook", "move_list",
                                     "container_new", "container_op", "container_bulk"};

static size_t pick_size(unsigned b)
{
    static const size_t sizes[] = {0, 1, 7, 16, 24, 100, 1000, 5000, 17000, 33};
    return sizes[b % (sizeof sizes / sizeof sizes[0])];
}

/* The allocation the next byte names among those an operation may use;
 * frame heaps (for the refusals) and containers too when with_frames. */
static int pick(bool with_frames)
{
    int cand[MAX_ALLOCS], n = 0;
    for (int i = 0; i < nalloc; i++)
        if (!logically_dead(i) && !A[i].opaque && (with_frames || (!A[i].frame && A[i].cont < 0)))
            cand[n++] = i;
    unsigned b = byte();
    return n ? cand[b % (unsigned)n] : -1;
}

static void fill(int a)
{
    if (A[a].is_heap < 0 && A[a].size)
        memset(A[a].real, A[a].fill, A[a].size);
}

/* Run op on txc with the current heap as it is; true if it threw
 * exception_arg.  The try sits in a sub heap, so that the refusal's
 * exception goes with it whatever transaction is running. */
static bool refused(void (*op)(void*), void* arg)
{
    txc_heap_t* here = txc_heap_current();
    volatile bool no = false;
    sub_heap {
        try {
            switch_heap(here) { op(arg); }
        } catch (exception_arg, e) {
            no = true;
        }
    }
    return no;
}

static void do_free(void* p) { txc_free(p); }
static void do_escape(void* p) { txc_escape(p); }
static void do_import(void* p) { txc_import(p); }
static void* realloc_to;
static size_t realloc_size;
static void do_realloc(void* p) { realloc_to = txc_realloc(p, realloc_size); }
static void* move_pair[2];
static bool move_pair_import;
static void do_move_list(void* arg)
{
    (void)arg;
    if (move_pair_import)
        import_list(move_pair[0], move_pair[1]);
    else
        escape_list(move_pair[0], move_pair[1]);
}

/* Is a a heap that a running block uses?  Moving it is refused. */
static bool in_use_heap(int a)
{
    return A[a].is_heap >= 0 && !A[a].frame && heap_in_use(A[a].is_heap);
}

/* txc_free of a: refused, deferred, or now. */
static void op_free(void)
{
    int a = pick(true);
    if (a < 0)
        return;
    int t = innermost_txn();
    bool no = A[a].frame || (A[a].is_heap >= 0 && heap_in_use(A[a].is_heap));
    bool defer = !no && t >= 0 && (!txn_owns(t, A[a].heap) || A[a].moverec > 0);

    bool r = refused(do_free, A[a].real);
    if (r != no)
        fuzz_fail("txc_free of %d: refused %d, the model says %d", a, r, no);
    if (no)
        return;
    if (defer) {
        A[a].pending = true;
        int_push(&T[t].frees, &T[t].nfrees, &T[t].capfrees, a);
    } else {
        phys_free(a);
    }
}

/* Does moving a to dst log a move in the innermost transaction (a is not
 * its own)? */
static bool move_logged(int a, int dst)
{
    int t = innermost_txn();
    return t >= 0 && A[a].heap != dst && !txn_owns(t, A[a].heap);
}

static void model_move(int a, int dst, bool logged)
{
    if (A[a].heap == dst)
        return;
    int t = innermost_txn();
    if (logged) {
        struct mrec* r = rec_push(t, R_MOVE);
        r->a = a;
        r->heap = A[a].heap;
        A[a].moverec++;
    }
    arrive(a, dst);
}

static bool move_refused(int a, int dst)
{
    if (A[a].frame || dst < 0)
        return true;
    return A[a].is_heap >= 0 && within(dst, A[a].is_heap);
}

static void op_move(bool import_it)
{
    int a = pick(true);
    if (a < 0)
        return;
    int dst = import_it ? cur : parent_of(A[a].heap);
    bool no = move_refused(a, dst) || in_use_heap(a);
    bool r = refused(import_it ? do_import : do_escape, A[a].real);
    if (r != no)
        fuzz_fail("%s of %d: refused %d, the model says %d", import_it ? "import" : "escape", a, r, no);
    if (!no)
        model_move(a, dst, move_logged(a, dst));
}

static void op_move_list(bool import_it)
{
    int a = pick(true), b = pick(true);
    if (a < 0 || b < 0 || a == b)
        return;
    int da = import_it ? cur : parent_of(A[a].heap);
    int db = import_it ? cur : parent_of(A[b].heap);
    /* every destination is decided, and every refusal checked, before
     * anything moves */
    bool no = move_refused(a, da) || move_refused(b, db) || in_use_heap(a) || in_use_heap(b);
    move_pair[0] = A[a].real;
    move_pair[1] = A[b].real;
    move_pair_import = import_it;
    bool r = refused(do_move_list, NULL);
    if (r != no)
        fuzz_fail("%s_list of %d, %d: refused %d, the model says %d", import_it ? "import" : "escape", a, b, r,
                  no);
    if (!no) { /* what is logged is decided before anything moves */
        bool la = move_logged(a, da), lb = move_logged(b, db);
        model_move(a, da, la);
        model_move(b, db, lb);
    }
}

static void op_alloc(void)
{
    if (nalloc >= MAX_ALLOCS - 4)
        return;
    unsigned b = byte();
    size_t size = pick_size(b);
    bool dtor = b & 0x80;
    void* p = txc_alloc(size);
    int a = alloc_new_model(cur, size, dtor, p);
    fill(a);
    if (dtor)
        txc_set_destructor(p, fz_dtor);
}

static void op_dtor(void)
{
    int a = pick(false);
    if (a < 0)
        return;
    A[a].dtor = !A[a].dtor;
    txc_set_destructor(A[a].real, A[a].dtor ? fz_dtor : NULL);
}

static void op_heap_new(void)
{
    if (nalloc >= MAX_ALLOCS - 4 || nheap >= MAX_HEAPS - 4)
        return;
    txc_heap_t* h = txc_heap_new();
    int a = alloc_new_model(cur, 0, false, h);
    heap_new_model(HK_NEW, a, h);
}

static void op_realloc(void)
{
    int a = pick(false);
    if (a < 0 || nalloc >= MAX_ALLOCS - 4)
        return;
    size_t size = pick_size(byte());
    bool no = A[a].is_heap >= 0;
    int t0 = innermost_txn();
    (void)t0;
    realloc_size = size;
    realloc_to = NULL;
    bool r = refused(do_realloc, A[a].real);
    if (r != no)
        fuzz_fail("realloc of %d: refused %d, the model says %d", a, r, no);
    if (no)
        return;
    size_t keep = A[a].size < size ? A[a].size : size;
    for (size_t k = 0; k < keep; k++)
        if (((unsigned char*)realloc_to)[k] != A[a].fill)
            fuzz_fail("realloc of %d lost its contents at byte %zu", a, k);
    if (realloc_to == A[a].real) {
        MUST(innermost_txn() < 0); /* never in place inside a transaction */
        A[a].size = size;
        fill(a);
        return;
    }
    int q = alloc_new_model(A[a].heap, size, A[a].dtor, realloc_to);
    A[q].fill = A[a].fill;
    fill(q);
    A[a].dtor = false;
    int t = innermost_txn();
    if (t >= 0 && (!txn_owns(t, A[a].heap) || A[a].moverec > 0)) {
        A[a].pending = true;
        int_push(&T[t].frees, &T[t].nfrees, &T[t].capfrees, a);
    } else {
        phys_free(a);
    }
}

static void op_set(void)
{
    int v = (int)(byte() % NVARS);
    long x = (long)byte() * 1000 + (long)op_count;
    int t = innermost_txn();
    if (t >= 0) {
        struct mrec* r = rec_push(t, R_SET);
        r->a = v;
        r->old = mvars[v];
    }
    mvars[v] = x;
    txn_set(vars[v], x);
}

static void op_hook(void)
{
    bool commit = byte() & 1;
    int id = ++next_hook;
    int t = innermost_txn();
    if (commit) {
        if (t < 0)
            expect(EV_COMMIT_HOOK, id, 0);
        else
            int_push(&T[t].commits, &T[t].ncommits, &T[t].capcommits, id);
        txc_on_commit(fz_commit_hook, (void*)(intptr_t)id);
    } else {
        if (t >= 0)
            rec_push(t, R_HOOK)->a = id;
        txc_on_abort(fz_abort_hook, (void*)(intptr_t)id);
    }
}

/* ---- containers ---- */

/* Element types: a plain one, an over-aligned one whose every byte is
 * checked, and one of a size neither has (for misuse). */
typedef long el_l;
typedef struct {
    _Alignas(32) long v;
    long pad[3];
} el_w;
typedef struct {
    char c[12];
} el_m;

static el_l mk_el_l(long v) { return v; }
static long val_el_l(const el_l* x) { return *x; }
static el_w mk_el_w(long v)
{
    el_w x;
    memset(&x, 0, sizeof x);
    x.v = v;
    for (int i = 0; i < 3; i++)
        x.pad[i] = v * (i + 3);
    return x;
}
static long val_el_w(const el_w* x)
{
    for (int i = 0; i < 3; i++)
        if (x->pad[i] != x->v * (i + 3))
            fuzz_fail("an el_w element (%ld) is torn", x->v);
    return x->v;
}
/* The model's value of an element of type T (by address: el_w is
 * over-aligned). */
#define VAL(T, e) __extension__({ T val_ = (e); val_##T(&val_); })

static const char* const kind_names[] = {"list", "dict", "vec"};
static size_t dict_bytes; /* sizeof(struct txc_dict), learnt once */

/* Key id (0 .. NKEYS-1) to its bytes: lengths around the inline limit (15)
 * and the short-hash limit (16), some with a NUL inside; the first byte is
 * unique per id, so ids and keys are one-to-one.  Returns the length. */
static size_t key_of(int id, char* buf)
{
    static const size_t lens[12] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 24, 40, 2};
    size_t len = lens[id % 12] + (size_t)(id / 12);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + (id * 7 + (int)i * 3) % 26);
    if (len)
        buf[0] = (char)(0x30 + id);
    if (id % 4 == 3 && len >= 3)
        buf[len / 2] = '\0';
    buf[len] = '\0';
    return len;
}

/* One container operation for do_cont to run on txc (a global, so that
 * what it writes survives a throw). */
enum { CO_CHECK, CO_PUSH, CO_POP, CO_PEEK, CO_APPEND, CO_SET, CO_GET, CO_RESIZE, CO_INSERT, CO_REPLACE,
       CO_DELETE, CO_READ, CO_MISUSE, CO_GROW, CO_SWEEP };
static const char* const co_names[] = {"check",  "push",   "pop",    "peek",   "append", "set",    "get",
                                       "resize", "insert", "replace", "delete", "read", "misuse", "grow",
                                       "sweep"};

static struct {
    int c, what;
    int end;           /* list: 1 the end, 0 the start */
    int variant;       /* misuse: which */
    bool plain;        /* dict: the NUL-terminated form */
    long v;
    size_t i;          /* vec: index or new count */
    int key;
    long out;          /* pop, peek, get, read: the value */
    bool res;          /* insert, replace, delete */
    const void* ptr;   /* read */
} cop;

/* Which containers verify() compares: all, none (an operation that cannot
 * change them) or cont_only (a container operation). */
enum { CC_ALL, CC_NONE, CC_ONE };
static int cont_check = CC_ALL, cont_only = -1;

static void cont_fail_count(size_t n)
{
    fuzz_fail("%s %d has %zu elements, the model says %d", kind_names[C[cop.c].kind], cop.c, n, C[cop.c].n);
}

static void cont_fail_elem(size_t k, long v)
{
    fuzz_fail("%s %d: element %zu is %ld, the model says %ld", kind_names[C[cop.c].kind], cop.c, k, v,
              k < (size_t)C[cop.c].n ? C[cop.c].val[k] : -1L);
}

/* The operations on txc for each element type T.  The checks compare the
 * whole container with the model. */
#define CONT_OPS(T)                                                                                   \
    static void list_do_##T(struct txc_list* l, struct mcont* m)                                      \
    {                                                                                                 \
        switch (cop.what) {                                                                           \
        case CO_CHECK: {                                                                              \
            size_t k = 0;                                                                             \
            if (list_count(l) != (size_t)m->n)                                                        \
                cont_fail_count(list_count(l));                                                       \
            list_foreach(l, T, x) {                                                                   \
                if (k >= (size_t)m->n || VAL(T, x) != m->val[k])                                      \
                    cont_fail_elem(k, VAL(T, x));                                                     \
                k++;                                                                                  \
            }                                                                                         \
            if (k != (size_t)m->n)                                                                    \
                cont_fail_count(k);                                                                   \
            if (m->n && (VAL(T, list_peek_start(l, T)) != m->val[0] ||                                \
                         VAL(T, list_peek_end(l, T)) != m->val[m->n - 1]))                            \
                fuzz_fail("list %d: peek differs from foreach", cop.c);                               \
            break;                                                                                    \
        }                                                                                             \
        case CO_PUSH:                                                                                 \
            if (cop.end)                                                                              \
                list_push_end(l, T, mk_##T(cop.v));                                                   \
            else                                                                                      \
                list_push_start(l, T, mk_##T(cop.v));                                                 \
            break;                                                                                    \
        case CO_POP:                                                                                  \
            cop.out = VAL(T, cop.end ? list_pop_end(l, T) : list_pop_start(l, T));                    \
            break;                                                                                    \
        case CO_PEEK:                                                                                 \
            cop.out = VAL(T, cop.end ? list_peek_end(l, T) : list_peek_start(l, T));                  \
            break;                                                                                    \
        case CO_MISUSE: {                                                                             \
            el_m bad = {{0}};                                                                         \
            if (cop.variant == 0)                                                                     \
                list_push_end(l, el_m, bad);                                                          \
            else if (cop.variant == 1)                                                                \
                (void)list_pop_start(l, el_m);                                                        \
            else                                                                                      \
                (void)list_peek_end(l, el_m);                                                         \
            break;                                                                                    \
        }                                                                                             \
        }                                                                                             \
    }                                                                                                 \
    static void vec_do_##T(struct txc_vec* v, struct mcont* m)                                        \
    {                                                                                                 \
        switch (cop.what) {                                                                           \
        case CO_CHECK: {                                                                              \
            size_t k = 0;                                                                             \
            if (vec_count(v) != (size_t)m->n)                                                         \
                cont_fail_count(vec_count(v));                                                        \
            vec_foreach(v, T, i, x) {                                                                 \
                if (i != k || k >= (size_t)m->n || VAL(T, x) != m->val[k])                            \
                    cont_fail_elem(k, VAL(T, x));                                                     \
                k++;                                                                                  \
            }                                                                                         \
            if (k != (size_t)m->n)                                                                    \
                cont_fail_count(k);                                                                   \
            if (m->n && VAL(T, vec_get(v, T, (size_t)m->n - 1)) != m->val[m->n - 1])                  \
                fuzz_fail("vec %d: vec_get differs from foreach", cop.c);                             \
            break;                                                                                    \
        }                                                                                             \
        case CO_APPEND:                                                                               \
            vec_append(v, T, mk_##T(cop.v));                                                          \
            break;                                                                                    \
        case CO_SET:                                                                                  \
            vec_set(v, T, cop.i, mk_##T(cop.v));                                                      \
            break;                                                                                    \
        case CO_GET:                                                                                  \
            cop.out = VAL(T, vec_get(v, T, cop.i));                                                   \
            break;                                                                                    \
        case CO_RESIZE:                                                                               \
            vec_resize(v, T, cop.i);                                                                  \
            break;                                                                                    \
        case CO_GROW: /* a foreach that appends sees what it appends */                               \
            vec_foreach(v, T, i, x) {                                                                 \
                long xv = VAL(T, x);                                                                  \
                if ((xv + cop.variant) % 3 == 0 && vec_count(v) < MAX_ELEMS)                          \
                    vec_append(v, T, mk_##T(xv / 3 + 1));                                             \
            }                                                                                         \
            break;                                                                                    \
        case CO_MISUSE: {                                                                             \
            el_m bad = {{0}};                                                                         \
            if (cop.variant == 0)                                                                     \
                vec_append(v, el_m, bad);                                                             \
            else if (cop.variant == 1)                                                                \
                (void)vec_get(v, el_m, 0);                                                            \
            else                                                                                      \
                vec_resize(v, el_m, 1);                                                               \
            break;                                                                                    \
        }                                                                                             \
        }                                                                                             \
    }                                                                                                 \
    static void dict_do_##T(struct txc_dict* d, struct mcont* m)                                      \
    {                                                                                                 \
        char buf[KEY_MAX];                                                                            \
        size_t len = key_of(cop.key, buf);                                                            \
        T* p;                                                                                         \
        switch (cop.what) {                                                                           \
        case CO_CHECK: {                                                                              \
            int k = 0;                                                                                \
            if (dict_count(d) != (size_t)m->n)                                                        \
                cont_fail_count(dict_count(d));                                                       \
            dict_foreach_n(d, T, key, klen, x) {                                                      \
                if (k >= m->n)                                                                        \
                    cont_fail_count((size_t)k + 1);                                                   \
                len = key_of(m->key[k], buf);                                                         \
                if (klen != len || memcmp(key, buf, len) != 0 || key[len] != '\0')                    \
                    fuzz_fail("dict %d: entry %d has the wrong key (model: key %d)", cop.c, k,        \
                              m->key[k]);                                                             \
                if (VAL(T, x) != m->val[k])                                                           \
                    cont_fail_elem((size_t)k, VAL(T, x));                                             \
                p = dict_read_n(d, T, buf, len);                                                      \
                if (!p || VAL(T, *p) != m->val[k])                                                    \
                    fuzz_fail("dict %d: dict_read_n of key %d misses", cop.c, m->key[k]);             \
                if (strlen(buf) == len && dict_read(d, T, buf) != p)                                  \
                    fuzz_fail("dict %d: dict_read and dict_read_n of key %d differ", cop.c,           \
                              m->key[k]);                                                             \
                if (m->addr[k] && m->addr[k] != (const void*)p)                                       \
                    fuzz_fail("dict %d: the value of key %d moved", cop.c, m->key[k]);                \
                m->addr[k] = p;                                                                       \
                k++;                                                                                  \
            }                                                                                         \
            if (k != m->n)                                                                            \
                cont_fail_count((size_t)k);                                                           \
            /* one key that is absent */                                                              \
            for (int id = 0; id < NKEYS; id++) {                                                      \
                int j = 0;                                                                            \
                while (j < m->n && m->key[j] != id)                                                   \
                    j++;                                                                              \
                if (j == m->n) {                                                                      \
                    len = key_of(id, buf);                                                            \
                    if (dict_read_n(d, T, buf, len))                                                  \
                        fuzz_fail("dict %d: absent key %d is found", cop.c, id);                      \
                    break;                                                                            \
                }                                                                                     \
            }                                                                                         \
            break;                                                                                    \
        }                                                                                             \
        case CO_INSERT:                                                                               \
            cop.res = cop.plain ? dict_insert(d, T, buf, mk_##T(cop.v))                               \
                                : dict_insert_n(d, T, buf, len, mk_##T(cop.v));                       \
            break;                                                                                    \
        case CO_REPLACE:                                                                              \
            cop.res = cop.plain ? dict_replace(d, T, buf, mk_##T(cop.v))                              \
                                : dict_replace_n(d, T, buf, len, mk_##T(cop.v));                      \
            break;                                                                                    \
        case CO_DELETE:                                                                               \
            cop.res = cop.plain ? dict_delete(d, T, buf) : dict_delete_n(d, T, buf, len);             \
            break;                                                                                    \
        case CO_READ:                                                                                 \
            p = cop.plain ? dict_read(d, T, buf) : dict_read_n(d, T, buf, len);                       \
            cop.ptr = p;                                                                              \
            if (p)                                                                                    \
                cop.out = VAL(T, *p);                                                                 \
            break;                                                                                    \
        case CO_SWEEP: /* a foreach that deletes or replaces the entry it visits */                   \
            dict_foreach_n(d, T, key, klen, x) {                                                      \
                int id = klen ? (unsigned char)key[0] - 0x30 : 0;                                     \
                if (id % 3 == cop.variant) {                                                          \
                    if (!dict_delete_n(d, T, key, klen))                                              \
                        fuzz_fail("dict %d: sweep could not delete key %d", cop.c, id);               \
                } else if (id % 3 == (cop.variant + 1) % 3) {                                         \
                    if (dict_replace_n(d, T, key, klen, mk_##T(VAL(T, x) + 1)))                       \
                        fuzz_fail("dict %d: sweep added key %d", cop.c, id);                          \
                }                                                                                     \
            }                                                                                         \
            break;                                                                                    \
        case CO_MISUSE: {                                                                             \
            el_m bad = {{0}};                                                                         \
            if (cop.variant == 0)                                                                     \
                (void)dict_read(d, T, NULL);                                                          \
            else if (cop.variant == 1)                                                                \
                (void)dict_insert(d, T, NULL, mk_##T(cop.v));                                         \
            else if (cop.variant == 2)                                                                \
                (void)dict_delete_n(d, T, NULL, 3);                                                   \
            else                                                                                      \
                (void)dict_replace(d, el_m, buf, bad);                                                \
            break;                                                                                    \
        }                                                                                             \
        }                                                                                             \
    }

CONT_OPS(el_l)
CONT_OPS(el_w)

/* Run cop on container cop.c (CO_CHECK with cop.c -1: check them all). */
static void do_cont(void* arg)
{
    (void)arg;
    int only = cop.c;
    for (int c = only >= 0 ? only : 0; c < ncont; c++) {
        struct mcont* m = &C[c];
        void* real = A[m->alloc].real;
        if (only < 0 && !A[m->alloc].live)
            continue;
        cop.c = c;
        if (m->kind == CK_LIST)
            m->wide ? list_do_el_w(real, m) : list_do_el_l(real, m);
        else if (m->kind == CK_VEC)
            m->wide ? vec_do_el_w(real, m) : vec_do_el_l(real, m);
        else
            m->wide ? dict_do_el_w(real, m) : dict_do_el_l(real, m);
        if (only >= 0)
            break;
    }
}

/* Compare the containers with the model (those cont_check says). */
static void verify_conts(void)
{
    int what = cont_check, only = cont_only;
    cont_check = CC_ALL;
    cont_only = -1;
    if (what == CC_NONE)
        return;
    memset(&cop, 0, sizeof cop);
    cop.what = CO_CHECK;
    cop.c = what == CC_ONE ? only : -1;
    if (cop.c >= 0 && !A[C[cop.c].alloc].live)
        return;
    if (refused(do_cont, NULL))
        fuzz_fail("reading %s %d threw exception_arg", kind_names[C[cop.c].kind], cop.c);
}

/* Run cop on txc: no says whether the model expects exception_arg. */
static void cont_call(bool no)
{
    bool r = refused(do_cont, NULL);
    if (r != no)
        fuzz_fail("%s %d %s: refused %d, the model says %d", kind_names[C[cop.c].kind], cop.c,
                  co_names[cop.what], r, no);
}

static void op_cont_new(void)
{
    unsigned b = byte();
    if (ncont >= MAX_CONTS || nalloc >= MAX_ALLOCS - 4)
        return;
    int kind = (int)(b % 3);
    bool wide = (b / 3) & 1;
    void* p;
    size_t size;
    if (kind == CK_LIST) {
        p = wide ? new_list(el_w) : new_list(el_l);
        size = sizeof(struct txc_list);
    } else if (kind == CK_VEC) {
        p = wide ? new_vec(el_w) : new_vec(el_l);
        size = sizeof(struct txc_vec);
    } else {
        p = wide ? new_dict(el_w) : new_dict(el_l);
        size = dict_bytes;
    }
    int a = alloc_new_model(cur, size, false, p);
    int c = ncont++;
    memset(&C[c], 0, sizeof C[c]);
    C[c].kind = kind;
    C[c].wide = wide;
    C[c].alloc = a;
    A[a].cont = c;
    cont_check = CC_ONE;
    cont_only = c;
}

/* The container the next byte names among those that may be used. */
static int pick_cont(void)
{
    int cand[MAX_CONTS], n = 0;
    for (int c = 0; c < ncont; c++)
        if (!logically_dead(C[c].alloc))
            cand[n++] = c;
    unsigned b = byte();
    return n ? cand[b % (unsigned)n] : -1;
}

static void cop_start(int c, int what, long v)
{
    memset(&cop, 0, sizeof cop);
    cop.c = c;
    cop.what = what;
    cop.v = v;
}

/* list: sub 0/1 push at the end/start, 2/3 pop, 4/5 peek, 6 misuse. */
static void list_op(int c, unsigned sub, unsigned arg, long v)
{
    struct mcont* m = &C[c];
    static const int whats[] = {CO_PUSH, CO_POP, CO_PEEK, CO_MISUSE};
    sub %= 7;
    cop_start(c, whats[sub / 2], v);
    cop.end = !(sub & 1);
    switch (cop.what) {
    case CO_PUSH:
        if (m->n >= MAX_ELEMS)
            return;
        cont_call(false);
        if (cop.end) {
            m->val[m->n] = v;
        } else {
            memmove(m->val + 1, m->val, sizeof m->val[0] * (size_t)m->n);
            m->val[0] = v;
        }
        m->n++;
        break;
    case CO_POP:
    case CO_PEEK: {
        cont_call(m->n == 0);
        if (m->n == 0)
            break;
        long want = cop.end ? m->val[m->n - 1] : m->val[0];
        if (cop.out != want)
            fuzz_fail("list %d %s at the %s gave %ld, the model says %ld", c, co_names[cop.what],
                      cop.end ? "end" : "start", cop.out, want);
        if (cop.what == CO_POP) {
            m->n--;
            if (!cop.end)
                memmove(m->val, m->val + 1, sizeof m->val[0] * (size_t)m->n);
        }
        break;
    }
    default:
        cop.variant = (int)(arg % 3);
        cont_call(true);
    }
}

/* vec: sub 0 append, 1 set, 2 get, 3 resize to any count, 4 resize by a
 * little, 5 misuse, 6 a foreach that appends. */
static void vec_op(int c, unsigned sub, unsigned arg, long v)
{
    struct mcont* m = &C[c];
    static const int whats[] = {CO_APPEND, CO_SET, CO_GET, CO_RESIZE, CO_RESIZE, CO_MISUSE, CO_GROW};
    sub %= 7;
    cop_start(c, whats[sub], v);
    /* an index that is sometimes out of range */
    cop.i = arg == 255 ? SIZE_MAX : arg % ((unsigned)m->n + 2);
    switch (sub) {
    case 0:
        if (m->n >= MAX_ELEMS)
            return;
        cont_call(false);
        m->val[m->n++] = v;
        break;
    case 1:
    case 2: {
        bool no = cop.i >= (size_t)m->n;
        cont_call(no);
        if (no)
            break;
        if (sub == 1)
            m->val[cop.i] = v;
        else if (cop.out != m->val[cop.i])
            fuzz_fail("vec %d get %zu gave %ld, the model says %ld", c, cop.i, cop.out, m->val[cop.i]);
        break;
    }
    case 3:
    case 4: {
        int n = (int)(arg % (MAX_ELEMS + 1));
        if (sub == 4) {
            n = m->n + ((arg & 0x80) ? 1 : -1) * (int)(1 + arg % 4);
            n = n < 0 ? 0 : n > MAX_ELEMS ? MAX_ELEMS : n;
        }
        cop.i = (size_t)n;
        cont_call(false);
        for (int k = m->n; k < n; k++)
            m->val[k] = 0;
        m->n = n;
        break;
    }
    case 5:
        cop.variant = (int)(arg % 3);
        cont_call(true);
        break;
    default:
        cop.variant = (int)(arg % 3);
        cont_call(false);
        for (int k = 0; k < m->n; k++)
            if ((m->val[k] + cop.variant) % 3 == 0 && m->n < MAX_ELEMS)
                m->val[m->n++] = m->val[k] / 3 + 1;
    }
}

static void dict_remove_model(struct mcont* m, int k)
{
    m->n--;
    memmove(m->key + k, m->key + k + 1, sizeof m->key[0] * (size_t)(m->n - k));
    memmove(m->val + k, m->val + k + 1, sizeof m->val[0] * (size_t)(m->n - k));
    memmove(m->addr + k, m->addr + k + 1, sizeof m->addr[0] * (size_t)(m->n - k));
}

static int dict_find_model(const struct mcont* m, int key)
{
    for (int k = 0; k < m->n; k++)
        if (m->key[k] == key)
            return k;
    return -1;
}

/* dict: sub 0 insert, 1 replace, 2 delete, 3 read, 4 misuse, 5 a foreach
 * that deletes or replaces what it visits; the key is arg's; plain: the
 * NUL-terminated form where the key has no NUL. */
static void dict_op(int c, unsigned sub, unsigned arg, long v, bool plain)
{
    struct mcont* m = &C[c];
    static const int whats[] = {CO_INSERT, CO_REPLACE, CO_DELETE, CO_READ, CO_MISUSE, CO_SWEEP};
    sub %= 6;
    cop_start(c, whats[sub], v);
    cop.key = (int)(arg % NKEYS);
    char buf[KEY_MAX];
    size_t len = key_of(cop.key, buf);
    cop.plain = plain && strlen(buf) == len;
    int k = dict_find_model(m, cop.key);
    switch (cop.what) {
    case CO_INSERT:
    case CO_REPLACE:
        cont_call(false);
        if (cop.res != (k < 0))
            fuzz_fail("dict %d %s of key %d gave %d, the model says %d", c, co_names[cop.what], cop.key,
                      cop.res, k < 0);
        if (k < 0) {
            k = m->n++;
            m->key[k] = cop.key;
            m->addr[k] = NULL;
        } else if (cop.what == CO_INSERT) {
            break;
        }
        m->val[k] = v;
        if (cop.what == CO_REPLACE)
            m->addr[k] = NULL; /* a replaced value may move */
        break;
    case CO_DELETE:
        cont_call(false);
        if (cop.res != (k >= 0))
            fuzz_fail("dict %d delete of key %d gave %d, the model says %d", c, cop.key, cop.res, k >= 0);
        if (k >= 0)
            dict_remove_model(m, k);
        break;
    case CO_READ:
        cont_call(false);
        if ((cop.ptr != NULL) != (k >= 0))
            fuzz_fail("dict %d read of key %d found %d, the model says %d", c, cop.key, cop.ptr != NULL, k >= 0);
        if (k < 0)
            break;
        if (cop.out != m->val[k])
            fuzz_fail("dict %d read of key %d gave %ld, the model says %ld", c, cop.key, cop.out, m->val[k]);
        if (m->addr[k] && m->addr[k] != cop.ptr)
            fuzz_fail("dict %d: the value of key %d moved", c, cop.key);
        m->addr[k] = cop.ptr;
        break;
    case CO_MISUSE:
        cop.variant = (int)(arg % 4);
        cont_call(true);
        break;
    default:
        cop.variant = (int)(arg % 3);
        cont_call(false);
        for (k = 0; k < m->n;) {
            if (m->key[k] % 3 == cop.variant) {
                dict_remove_model(m, k);
                continue;
            }
            if (m->key[k] % 3 == (cop.variant + 1) % 3) {
                m->val[k]++;
                m->addr[k] = NULL;
            }
            k++;
        }
    }
}

static void cont_op(int c, unsigned sub, unsigned arg, long v)
{
    if (C[c].kind == CK_LIST)
        list_op(c, sub, arg, v);
    else if (C[c].kind == CK_VEC)
        vec_op(c, sub, arg, v);
    else
        dict_op(c, sub, arg, v, sub & 0x80);
}

/* One operation on a container: which, then the operation, then its
 * argument (a value, an index, a count or a key). */
static void op_cont(void)
{
    int c = pick_cont();
    unsigned sub = byte(), arg = byte();
    if (c < 0)
        return;
    cont_op(c, sub, arg, (long)arg * 1000003 + (long)op_count);
    cont_check = CC_ONE;
    cont_only = c;
}

/* A run of 1 to 48 operations of one kind on a container, so that its
 * storage grows (and shrinks): keys and indexes step through their range. */
static void op_cont_bulk(void)
{
    int c = pick_cont();
    unsigned sub = byte(), arg = byte(), n = 1 + byte() % 48;
    if (c < 0)
        return;
    unsigned step = 1 + 2 * (arg % 5); /* odd: cycles through every key */
    for (unsigned j = 0; j < n; j++) {
        unsigned s = sub;
        if (C[c].kind == CK_LIST && (sub & 0x40) && sub % 7 < 6) /* alternate the ends */
            s = (sub % 7 & ~1u) | (j & 1);
        cont_op(c, s, (arg + j * step) & 0xff, (long)op_count * 1000 + (long)j);
    }
    cont_check = CC_ONE;
    cont_only = c;
}

/* ---- throwing ---- */

/* The model's side of a throw of type ty: false if the generator avoids
 * it.  Otherwise the frames are unwound, segment by segment: the logs of
 * the transactions down to the next try that catches or has a finally are
 * replayed (newest first, before anything is freed), then those frames are
 * popped; a finally runs and the exception goes on; a catch ends it. */
static bool throw_model(int ty, int id)
{
    /* where it ends, and what it aborts */
    int target = -1;
    for (int i = nframe - 1; i >= 0; i--) {
        if (F[i].kind != FK_TRY)
            continue;
        bool m = false;
        for (int c = 0; c < shapes[F[i].shape].ncatch; c++)
            m |= type_matches(ty, shapes[F[i].shape].catches[c]);
        if (m) {
            target = i;
            break;
        }
    }
    MUST(target >= 0); /* the base try catches everything */

    for (;;) {
        int stop = nframe - 1;
        while (!(F[stop].kind == FK_TRY && (stop == target || shapes[F[stop].shape].has_finally)))
            stop--;
        for (int i = nframe - 1; i > stop; i--)
            if (F[i].kind == FK_TXN)
                txn_undo_model(F[i].txn);
        while (nframe - 1 > stop)
            frame_pop(false);
        if (stop == target) {
            expect(EV_CATCH, F[stop].depth, id);
            break;
        }
        expect(EV_FINALLY, F[stop].depth, 0);
        nframe--;
        cur = F[nframe].saved;
    }
    return true;
}

/* A caught exception stays on the try's heap: an opaque allocation. */
static void on_catch(txc_exception_t* e, int depth)
{
    int id = atoi(e->message);
    saw(EV_CATCH, depth, id);
    /* the model popped to the try before the throw */
    int a = alloc_new_model(cur, 0, false, e->heap);
    A[a].opaque = true;
    txc_heap_stats_t s;
    txc_heap_stats(e->heap, &s);
    A[a].ex_allocs = s.total_allocs;
    A[a].ex_bytes = s.total_bytes;
    /* the try frame is gone in the model; the catch block's exception is on
     * the heap current when the try was entered */
    MUST(txc_heap_parent(e->heap) == H[cur].real);
    MUST(e->type == fuzz_a || e->type == fuzz_b || e->type == fuzz_c);
}

static void on_finally(int depth) { saw(EV_FINALLY, depth, 0); }

/* ---- running the input ---- */

static void run(int depth);

static void run_try(int shape, int depth)
{
    struct mframe* f = frame_push(FK_TRY);
    f->shape = shape;
    f->depth = depth;
    switch (shape) {
    case 0:
        try {
            run(depth + 1);
        } catch (fuzz_a, e) {
            on_catch(e, depth);
        }
        break;
    case 1:
        try {
            run(depth + 1);
        } catch (fuzz_b, e) {
            on_catch(e, depth);
        } catch (fuzz_c, e) {
            on_catch(e, depth);
        }
        break;
    case 2:
        try {
            run(depth + 1);
        } catch (exception_any, e) {
            on_catch(e, depth);
        }
        break;
    case 3:
        try {
            run(depth + 1);
        } catch (fuzz_a, e) {
            on_catch(e, depth);
        } finally {
            on_finally(depth);
        }
        break;
    case 4:
        try {
            run(depth + 1);
        } finally {
            on_finally(depth);
        }
        break;
    default:
        try {
            run(depth + 1);
        } catch (fuzz_c, e) {
            on_catch(e, depth);
        } catch (fuzz_b, e) {
            on_catch(e, depth);
        } finally {
            on_finally(depth);
        }
        break;
    }
    frame_pop(true); /* the try statement is over (after a catch too) */
}

static void enter_txn_model(bool global, bool switched, txc_heap_t* S_real, txc_heap_t* h_real)
{
    int t = 0;
    while (t < MAX_TXNS && (T[t].S || T[t].recs || T[t].global))
        t++;
    MUST(t < MAX_TXNS);
    int parent = innermost_txn();
    struct mframe* f = frame_push(FK_TXN);
    memset(&T[t], 0, sizeof T[t]);
    T[t].global = global;
    T[t].parent = parent;
    T[t].before = cur;
    T[t].pending = -1;
    T[t].limbo = -1;
    T[t].h = -1;
    f->txn = t;
    f->switched = switched;
    T[t].nsnap = ncont;
    if (ncont) {
        T[t].snap = malloc(sizeof(struct mcont) * (size_t)ncont);
        MUST(T[t].snap);
        memcpy(T[t].snap, C, sizeof(struct mcont) * (size_t)ncont);
    }
    if (global) {
        T[t].S = heap_new_model(HK_STAGE, -1, S_real);
    } else {
        int sa = alloc_new_model(cur, 0, false, S_real);
        A[sa].frame = true;
        T[t].S = heap_new_model(HK_S, sa, S_real);
        int ha = alloc_new_model(T[t].S, 0, false, h_real);
        A[ha].frame = true;
        T[t].h = heap_new_model(HK_H, ha, h_real);
        f->h = T[t].h;
    }
    f->heap = T[t].S;
    cur = switched ? T[t].h : T[t].S;
}

/* The transaction slot of a frame is free again once released; S == 0 is
 * never a transaction's heap (heap 0 is the root). */

static void run(int depth)
{
    while (!at_end()) {
        unsigned code = byte();
        int op = (int)((code & 0x7f) % NOPS); /* 0x80 is a flag of some operations */
        op_count++;
        op_name = op_names[op];
        if (trace)
            fprintf(stderr, "  op %lu: %s (0x%02x) at depth %d, current heap %d, %d frames\n", op_count, op_name,
                    code, depth, cur, nframe);
        int ntxn = 0;
        for (int i = 0; i < nframe; i++)
            ntxn += F[i].kind == FK_TXN;
        bool deep = depth >= MAX_FRAMES - 4 || nframe >= MAX_FRAMES - 4 || nheap >= MAX_HEAPS - 4 ||
                    nalloc >= MAX_ALLOCS - 8 || ntxn >= MAX_TXNS - 2;
        switch (op) {
        case OP_ALLOC:
            op_alloc();
            cont_check = CC_NONE;
            break;
        case OP_FREE:
            op_free();
            break;
        case OP_ESCAPE:
        case OP_IMPORT:
            op_move(op == OP_IMPORT);
            break;
        case OP_MOVE_LIST:
            op_move_list(code & 0x80);
            break;
        case OP_DTOR:
            op_dtor();
            cont_check = CC_NONE;
            break;
        case OP_HEAP_NEW:
            op_heap_new();
            cont_check = CC_NONE;
            break;
        case OP_REALLOC:
            op_realloc();
            cont_check = CC_NONE;
            break;
        case OP_SET:
            op_set();
            cont_check = CC_NONE;
            break;
        case OP_HOOK:
            op_hook();
            cont_check = CC_NONE;
            break;
        case OP_CONT_NEW:
            op_cont_new();
            break;
        case OP_CONT:
            op_cont();
            break;
        case OP_CONT_BULK:
            op_cont_bulk();
            break;
        case OP_SUB:
            if (deep)
                break;
            sub_heap {
                struct mframe* f = frame_push(FK_SUB);
                int sa = alloc_new_model(cur, 0, false, txc_heap_current());
                A[sa].frame = true;
                f->heap = heap_new_model(HK_SUB, sa, txc_heap_current());
                cur = f->heap;
                verify();
                run(depth + 1);
                frame_pop(true);
            }
            break;
        case OP_SWITCH: {
            if (deep)
                break;
            /* a heap the next byte names: a live heap that can be used, or the root */
            int cand[MAX_HEAPS], n = 0;
            cand[n++] = root_heap;
            for (int h = 0; h < nheap; h++)
                if (H[h].live && H[h].self >= 0 && !logically_dead(H[h].self))
                    cand[n++] = h;
            int h = cand[byte() % (unsigned)n];
            switch_heap(H[h].real) {
                struct mframe* f = frame_push(FK_SWITCH);
                f->heap = h;
                cur = h;
                verify();
                run(depth + 1);
                frame_pop(true);
            }
            break;
        }
        case OP_TRY:
            if (deep)
                break;
            run_try((int)(byte() % NSHAPES), depth);
            break;
        case OP_TXN:
            if (deep)
                break;
            if (code & 0x80) {
                switch_txn(h) {
                    enter_txn_model(false, true, txc_heap_parent(h), h);
                    verify();
                    run(depth + 1);
                    frame_pop(true);
                }
            } else {
                sub_heap_txn(h) {
                    enter_txn_model(false, false, txc_heap_current(), h);
                    verify();
                    run(depth + 1);
                    frame_pop(true);
                }
            }
            break;
        case OP_GLOBAL:
            if (deep)
                break;
            global_heap {
                enter_txn_model(true, false, txc_heap_current(), NULL);
                verify();
                run(depth + 1);
                frame_pop(true);
            }
            break;
        case OP_LEAVE:
            if (depth > 1)
                return; /* the block ends normally; its caller checks */
            break;
        case OP_THROW: {
            unsigned b = byte();
            int ty = (int)(b % 3);
            int id = ++next_throw;
            if (nalloc >= MAX_ALLOCS - 8 || !throw_model(ty, id))
                break;
            throw(type_of(ty), "%d", id);
        }
        }
        verify();
    }
}

/* ---- one input ---- */

static txc_heap_stats_t root0, global0;

static void uncaught(const txc_exception_t* e)
{
    fprintf(stderr, "fuzz_model: uncaught %s: %s (at %s:%d)\n", e->type->name, e->message, e->file, e->line);
}

static void setup_once(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    trace = getenv("FUZZ_TRACE") != NULL;
    txc_set_uncaught_handler(uncaught);
    void* probe = NULL;
    global_heap { probe = txc_alloc(1); }
    real_global = txc_heap_of(probe);
    txc_free(probe);
    sub_heap {
        (void)new_dict(el_l);
        txc_heap_stats_t s;
        txc_heap_stats(txc_heap_current(), &s);
        dict_bytes = s.bytes;
    }
}

static void model_reset(void)
{
    for (int t = 0; t < MAX_TXNS; t++)
        if (T[t].recs || T[t].commits || T[t].frees)
            txn_release(t);
    memset(A, 0, sizeof A);
    memset(H, 0, sizeof H);
    memset(F, 0, sizeof F);
    memset(T, 0, sizeof T);
    nalloc = nheap = nframe = ncont = 0;
    cont_check = CC_ALL;
    cont_only = -1;
    nseen = nwant = 0;
    arrivals = 0;
    next_hook = next_throw = 0;
    op_count = 0;
    op_name = "start";
    root_heap = heap_new_model(HK_ROOT, -1, txc_heap_current());
    global_heap_id = heap_new_model(HK_GLOBAL, -1, real_global);
    cur = root_heap;
    for (int i = 0; i < NVARS; i++)
        vars[i] = mvars[i] = 0;
}

static void run_input(const uint8_t* data, size_t size)
{
    setup_once();
    in_data = data;
    in_len = size;
    in_pos = 0;
    model_reset();
    txc_heap_stats(H[root_heap].real, &root0);
    txc_heap_stats(real_global, &global0);
    /* the base try catches every throw the generator makes */
    {
        struct mframe* f = frame_push(FK_TRY);
        f->shape = 2;
        f->depth = 0;
        try {
            run(1);
        } catch (exception_any, e) {
            on_catch(e, 0);
        }
        frame_pop(true);
        verify();
    }
    MUST(nframe == 0);
    /* everything left on the root and the global heap goes, as do the
     * pending heaps' contents */
    op_name = "cleanup";
    int list[MAX_ALLOCS];
    int hs[2] = {root_heap, global_heap_id};
    for (int k = 0; k < 2; k++) {
        int n = on_heap(hs[k], list);
        for (int i = n - 1; i >= 0; i--) {
            int a = list[i];
            if (!A[a].live)
                continue;
            txc_free(A[a].real);
            phys_free(a);
            verify();
        }
    }
    txc_heap_stats_t r1, g1;
    txc_heap_stats(H[root_heap].real, &r1);
    txc_heap_stats(real_global, &g1);
    MUST(r1.total_allocs == root0.total_allocs && r1.total_bytes == root0.total_bytes);
    MUST(g1.total_allocs == global0.total_allocs && g1.total_bytes == global0.total_bytes);
    last_ops = op_count;
    model_reset();
}

struct input {
    const uint8_t* data;
    size_t size;
};

static void* input_thread(void* arg)
{
    struct input* in = arg;
    run_input(in->data, in->size);
    return NULL;
}

/* Each input runs on a thread of its own, with a root heap of its own that
 * goes when the thread ends.  On one long-lived root heap, the memory of
 * the small allocations that inputs free one by one would never come back
 * (it is reused only when its heap is freed), and a long run would run out
 * of memory. */
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    struct input in = {data, size};
    pthread_attr_t attr;
    pthread_t th;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, (size_t)16 << 20) != 0 ||
        pthread_create(&th, &attr, input_thread, &in) != 0 || pthread_join(th, NULL) != 0) {
        perror("fuzz_model: running an input on a thread");
        abort();
    }
    pthread_attr_destroy(&attr);
    return 0;
}

#ifdef TXC_FUZZ_MAIN
/* Replay inputs: fuzz_model FILE... */
int main(int argc, char** argv)
{
    for (int i = 1; i < argc; i++) {
        FILE* f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 2;
        }
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        printf("%s: %zu bytes, %lu operations: ok\n", argv[i], n, last_ops);
    }
    return 0;
}
#endif
