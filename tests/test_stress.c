/*
 * test_stress.c - threads (issue 6): eight threads, each running at least
 * TXC_STRESS_OPS (default 1,000,000) mixed operations at random: sub heaps,
 * allocations with and without destructors, escapes and imports, throws
 * caught at random depths (through finally blocks and catches that do not
 * match), transactions that commit or abort with txn_set and hooks, and
 * global_heap blocks that commit or abort while the other threads do the
 * same.
 *
 * Every allocation starts with its thread's tag, and every exception names
 * its thread in its message and payload: a thread that ever sees another
 * thread's tag (in a destructor, a caught exception, a kept allocation) or
 * a heap that is not below its own root fails.  Each thread keeps a model of
 * its long-lived heap (allocations, bytes), of its txn_set variables and of
 * its destructor and hook counts, and checks txc against it as it goes.  At
 * the end the global heap's statistics must be what it had before plus
 * exactly what the threads kept there.
 *
 * The operation count (each API call counts one) comes from TXC_STRESS_OPS;
 * sanitizer builds default to fewer, and `make check-valgrind` sets a small
 * count.  TXC_STRESS_SEED makes a run reproducible (the seed is printed).
 * Failures inside a thread are recorded and thrown to the thread's top
 * level (cmocka's assertions cannot run outside the main thread).
 */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define NTHREADS 8
#define KEEP_SLOTS 64      /* allocations kept on a thread's long-lived heap */
#define GLOBAL_SLOTS 48    /* allocations a thread keeps on the global heap */
#define KEEP_RENEW 4096    /* operations between renewals of the long-lived heap */
#define NVARS 8            /* txn_set targets per thread */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
#define DEFAULT_OPS 150000UL
#else
#define DEFAULT_OPS 1000000UL
#endif

define_exception(stress_error, exception_io);
define_exception(stress_other, exception_any);
define_exception(stress_failure, exception_any);

/* The head of every allocation the test makes (allocations are at least
 * this big). */
struct tagged {
    uint32_t tag;
    uint32_t size;
    uint32_t dtor; /* has a destructor */
    uint32_t pad;
    uint64_t serial;
};

struct worker {
    pthread_t thread;
    uint32_t tag;
    uint64_t rng;
    unsigned long target, ops;
    txc_heap_t* root;
    txc_heap_t* keep;                    /* long-lived heap on the root */
    struct tagged* kept[KEEP_SLOTS];     /* some allocations on keep */
    size_t keep_allocs, keep_bytes;      /* model of keep's statistics */
    unsigned long keep_dtors;            /* allocations with a destructor on keep */
    struct tagged* gkept[GLOBAL_SLOTS];  /* allocations kept on the global heap */
    size_t ngkept, gbytes;
    long vars[NVARS];                    /* changed with txn_set */
    long vars_after[NVARS];              /* what vars must hold after a commit */
    unsigned long dtors_set, dtors_run;  /* destructors that must run / ran */
    unsigned long commits_hooked, commits_run, aborts_hooked, aborts_run;
    unsigned long throws, catches, global_commits, global_aborts, txn_commits, txn_aborts;
    uint64_t serial;
    int failed;
    char why[256];
};

static __thread struct worker* me;

/* ---- failures inside a worker ---- */

static void note_failure(struct worker* w, const char* file, int line, const char* what)
{
    if (!w->failed) {
        w->failed = 1;
        snprintf(w->why, sizeof w->why, "thread %" PRIu32 ": %s:%d: %s", w->tag, file, line, what);
    }
}

/* Record the first failure and leave the operation through an exception. */
#define CHECK(w, cond)                                                        \
    do {                                                                      \
        if (!(cond)) {                                                        \
            note_failure((w), __FILE__, __LINE__, #cond);                     \
            throw(stress_failure, "%s", #cond);                               \
        }                                                                     \
    } while (0)

/* ---- randomness: xorshift64* ---- */

static uint64_t rnd64(struct worker* w)
{
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * UINT64_C(2685821657736338717);
}

static unsigned rnd(struct worker* w, unsigned n) { return (unsigned)((rnd64(w) >> 33) % n); }

/* ---- tagged allocations ---- */

static void tag_dtor(void* p)
{
    struct tagged* t = p;
    struct worker* w = me;
    if (!w)
        return;
    if (t->tag != w->tag)
        note_failure(w, __FILE__, __LINE__, "a destructor saw another thread's allocation");
    w->dtors_run++;
}

static struct tagged* tagged_alloc(struct worker* w, size_t size, bool dtor)
{
    if (size < sizeof(struct tagged))
        size = sizeof(struct tagged);
    struct tagged* t = txc_alloc(size);
    t->tag = w->tag;
    t->size = (uint32_t)size;
    t->serial = ++w->serial;
    t->dtor = dtor;
    t->pad = 0;
    w->ops++;
    if (dtor) {
        txc_set_destructor(t, tag_dtor);
        w->dtors_set++;
        w->ops++;
    }
    return t;
}

static size_t small_size(struct worker* w)
{
    static const size_t sizes[] = {16, 24, 40, 64, 100, 256, 1000, 4000};
    return sizes[rnd(w, sizeof sizes / sizeof sizes[0])];
}

static size_t any_size(struct worker* w)
{
    return rnd(w, 64) ? small_size(w) : 20000 + rnd(w, 20000); /* sometimes an own block */
}

static void check_tagged(struct worker* w, const struct tagged* t)
{
    CHECK(w, t->tag == w->tag);
    CHECK(w, t->serial > 0 && t->serial <= w->serial);
}

/* Is h below the thread's root heap? */
static bool below_root(struct worker* w, txc_heap_t* h)
{
    while (txc_heap_parent(h))
        h = txc_heap_parent(h);
    return h == w->root;
}

/* ---- the long-lived heap ---- */

static void keep_add(struct worker* w, struct tagged* t)
{
    w->keep_allocs++;
    w->keep_bytes += t->size;
    w->keep_dtors += t->dtor;
}

static void keep_remove(struct worker* w, struct tagged* t)
{
    w->keep_allocs--;
    w->keep_bytes -= t->size;
    w->keep_dtors -= t->dtor;
}

static void keep_check(struct worker* w)
{
    txc_heap_stats_t s;
    txc_heap_stats(w->keep, &s);
    CHECK(w, s.allocs == w->keep_allocs);
    CHECK(w, s.bytes == w->keep_bytes);
    CHECK(w, s.total_allocs == w->keep_allocs);
    CHECK(w, txc_heap_parent(w->keep) == w->root);
    for (int i = 0; i < KEEP_SLOTS; i++)
        if (w->kept[i]) {
            check_tagged(w, w->kept[i]);
            CHECK(w, txc_heap_of(w->kept[i]) == w->keep);
        }
}

/* Free the long-lived heap with all it holds and start a new one. */
static void keep_renew(struct worker* w)
{
    keep_check(w);
    txc_free(w->keep);
    w->keep = txc_heap_new();
    w->ops += 2;
    w->keep_allocs = w->keep_bytes = 0;
    w->keep_dtors = 0;
    memset(w->kept, 0, sizeof w->kept);
    CHECK(w, w->dtors_run == w->dtors_set);
}

/* t, on keep, takes a random slot; the slot's previous allocation is
 * freed. */
static void keep_put(struct worker* w, struct tagged* t)
{
    int i = (int)rnd(w, KEEP_SLOTS);
    keep_add(w, t);
    if (w->kept[i]) {
        check_tagged(w, w->kept[i]);
        keep_remove(w, w->kept[i]);
        txc_free(w->kept[i]);
        w->ops++;
    }
    w->kept[i] = t;
}

/* An allocation on keep. */
static void op_alloc_keep(struct worker* w)
{
    switch_heap(w->keep) {
        keep_put(w, tagged_alloc(w, any_size(w), rnd(w, 4) == 0));
    }
    w->ops++;
}

/* Sub heaps on keep: allocations, some escaping to keep (one of them two
 * levels up), the rest freed with their heap. */
static void op_sub_heap(struct worker* w)
{
    switch_heap(w->keep) {
        sub_heap {
            CHECK(w, txc_heap_parent(txc_heap_current()) == w->keep);
            unsigned n = 1 + rnd(w, 6);
            struct tagged* out = NULL;
            for (unsigned i = 0; i < n; i++) {
                struct tagged* t = tagged_alloc(w, small_size(w), rnd(w, 3) == 0);
                if (!out && rnd(w, 3) == 0)
                    out = t;
            }
            if (rnd(w, 2)) {
                sub_heap {
                    struct tagged* t = tagged_alloc(w, small_size(w), true);
                    CHECK(w, escape(escape(t)) == t);
                    w->ops += 3;
                    CHECK(w, txc_heap_of(t) == w->keep);
                    keep_put(w, t);
                }
            }
            if (out) {
                escape(out);
                w->ops++;
                CHECK(w, txc_heap_of(out) == w->keep);
                keep_put(w, out);
            }
        }
    }
    w->ops += 2;
}

/* Bring a kept allocation into a sub heap, where it dies. */
static void op_import(struct worker* w)
{
    int i = (int)rnd(w, KEEP_SLOTS);
    struct tagged* t = w->kept[i];
    if (!t) {
        op_alloc_keep(w);
        return;
    }
    check_tagged(w, t);
    sub_heap {
        CHECK(w, import(t) == t);
        CHECK(w, txc_heap_of(t) == txc_heap_current());
        w->kept[i] = NULL;
        keep_remove(w, t);
    }
    w->ops += 3;
}

/* ---- throws caught at random depths ---- */

static void descend(struct worker* w, int level, int depth)
{
    sub_heap {
        tagged_alloc(w, small_size(w), true);
        w->ops++;
        if (level == depth) {
            struct tagged* payload = tagged_alloc(w, sizeof(struct tagged), false);
            w->throws++;
            w->ops++;
            throw_data(stress_error, payload, "t%" PRIu32 " depth %d", w->tag, depth);
        }
        switch (rnd(w, 4)) {
        case 0: {
            volatile int fin = 0;
            try {
                descend(w, level + 1, depth);
            } finally {
                fin = 1;
            }
            CHECK(w, !"not reached: the exception goes on after the finally");
            (void)fin;
            break;
        }
        case 1:
            try {
                descend(w, level + 1, depth);
            } catch (stress_other, e) {
                CHECK(w, !"caught by a catch that does not match");
            }
            break;
        default:
            descend(w, level + 1, depth);
            break;
        }
    }
}

/* Sub heaps down to level catch_at, where a try catches what is thrown at
 * level depth. */
static void above(struct worker* w, int level, int catch_at, int depth)
{
    if (level < catch_at) {
        sub_heap {
            tagged_alloc(w, small_size(w), true);
            w->ops++;
            above(w, level + 1, catch_at, depth);
        }
        return;
    }
    unsigned long run0 = w->dtors_run;
    volatile int caught = 0;
    txc_heap_t* here = txc_heap_current();
    try {
        descend(w, level, depth);
    } catch (stress_error, e) {
        caught = 1;
        w->catches++;
        char want[64];
        snprintf(want, sizeof want, "t%" PRIu32 " depth %d", w->tag, depth);
        CHECK(w, strcmp(e->message, want) == 0);
        CHECK(w, e->data != NULL);
        check_tagged(w, e->data);
        CHECK(w, txc_heap_of(e->data) == e->heap);
        CHECK(w, txc_heap_parent(e->heap) == here);
        CHECK(w, txc_heap_current() == here);
        /* every level from the try down was freed before the catch block */
        CHECK(w, w->dtors_run - run0 == (unsigned long)(depth - level + 1));
        txc_free(e);
        w->ops++;
    }
    CHECK(w, caught);
}

static void op_throw(struct worker* w)
{
    int depth = (int)rnd(w, 8);
    int catch_at = (int)rnd(w, (unsigned)depth + 1);
    above(w, 0, catch_at, depth);
}

/* ---- transactions ---- */

static void hook_commit(void* arg)
{
    struct worker* w = arg;
    if (w != me)
        note_failure(me, __FILE__, __LINE__, "a commit hook ran in another thread");
    w->commits_run++;
}

static void hook_abort(void* arg)
{
    struct worker* w = arg;
    if (w != me)
        note_failure(me, __FILE__, __LINE__, "an abort hook ran in another thread");
    w->aborts_run++;
}

/* A transaction on keep: txn_set on the thread's variables, allocations on
 * h (which join keep on commit), maybe a nested one that aborts or commits,
 * then a commit or an abort. */
static void op_txn(struct worker* w)
{
    long before[NVARS];
    memcpy(before, w->vars, sizeof before);
    memcpy(w->vars_after, w->vars, sizeof before);
    volatile bool abort_outer = rnd(w, 3) == 0;
    volatile bool inner = rnd(w, 2), abort_inner = rnd(w, 2);
    unsigned long commits_hooked0 = w->commits_hooked, aborts_run0 = w->aborts_run;
    unsigned long set0 = w->dtors_set, run0 = w->dtors_run;
    volatile size_t allocs = 0, bytes = 0, dtors = 0;
    volatile unsigned long inner_aborts = 0;
    volatile int caught = 0;
    try {
        switch_heap(w->keep) {
            switch_txn(h) {
                CHECK(w, txc_in_txn());
                w->ops++;
                unsigned n = 1 + rnd(w, 4);
                for (unsigned i = 0; i < n; i++) {
                    int v = (int)rnd(w, NVARS);
                    long x = (long)rnd64(w);
                    txn_set(w->vars[v], x);
                    w->vars_after[v] = x;
                    w->ops++;
                    struct tagged* t = tagged_alloc(w, small_size(w), rnd(w, 4) == 0);
                    allocs++;
                    bytes += t->size;
                    dtors += t->dtor;
                }
                txc_on_commit(hook_commit, w);
                txc_on_abort(hook_abort, w);
                w->commits_hooked++;
                w->ops += 2;
                if (inner) {
                    long saved[NVARS];
                    memcpy(saved, w->vars_after, sizeof saved);
                    unsigned long inner_run0 = w->aborts_run;
                    try {
                        switch_txn(h2) {
                            int v = (int)rnd(w, NVARS);
                            long x = (long)rnd64(w);
                            txn_set(w->vars[v], x);
                            w->vars_after[v] = x;
                            struct tagged* t = tagged_alloc(w, small_size(w), false);
                            txc_on_abort(hook_abort, w);
                            w->ops += 4;
                            if (abort_inner)
                                throw(stress_other, "inner abort");
                            allocs++;
                            bytes += t->size;
                        }
                    } catch (stress_other, e) {
                        txc_free(e);
                        memcpy(w->vars_after, saved, sizeof saved);
                        inner_aborts = w->aborts_run - inner_run0;
                        CHECK(w, inner_aborts == 1);
                        CHECK(w, txc_in_txn());
                    }
                    for (int i = 0; i < NVARS; i++)
                        CHECK(w, w->vars[i] == w->vars_after[i]);
                }
                if (abort_outer) {
                    w->throws++;
                    throw(stress_error, "t%" PRIu32 " abort", w->tag);
                }
            }
        }
    } catch (stress_error, e) {
        caught = 1;
        char want[64];
        snprintf(want, sizeof want, "t%" PRIu32 " abort", w->tag);
        CHECK(w, strcmp(e->message, want) == 0);
        txc_free(e);
    }
    CHECK(w, !txc_in_txn());
    CHECK(w, caught == abort_outer);
    if (abort_outer) {
        w->txn_aborts++;
        for (int i = 0; i < NVARS; i++)
            CHECK(w, w->vars[i] == before[i]);
        /* the outer abort hook, and the inner one if the inner committed */
        CHECK(w, w->aborts_run - aborts_run0 == inner_aborts + 1 + (inner && !abort_inner));
        /* the commit hook never runs */
        w->commits_hooked = commits_hooked0;
        CHECK(w, w->commits_run == w->commits_hooked);
        CHECK(w, w->dtors_set - set0 == w->dtors_run - run0);
    } else {
        w->txn_commits++;
        for (int i = 0; i < NVARS; i++)
            CHECK(w, w->vars[i] == w->vars_after[i]);
        CHECK(w, w->aborts_run - aborts_run0 == inner_aborts);
        CHECK(w, w->commits_run == w->commits_hooked);
        w->keep_allocs += allocs;
        w->keep_bytes += bytes;
        w->keep_dtors += dtors;
    }
    w->ops += 2;
}

/* ---- the global heap ---- */

static txc_heap_t* global; /* the global heap */

/* Global allocations that threads hand to each other: a thread puts one in
 * a random slot and frees what was there, usually another thread's. */
#define EXCHANGE_SLOTS 16
static struct tagged* exchange[EXCHANGE_SLOTS];
static size_t exchange_allocs, exchange_bytes; /* live in the slots (atomic) */

static void exchange_put(struct worker* w, struct tagged* t)
{
    __atomic_add_fetch(&exchange_allocs, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&exchange_bytes, t->size, __ATOMIC_RELAXED);
    struct tagged* old = __atomic_exchange_n(&exchange[rnd(w, EXCHANGE_SLOTS)], t, __ATOMIC_ACQ_REL);
    w->ops++;
    if (!old)
        return;
    CHECK(w, old->tag >= 0x7a90000u && old->tag < 0x7a90000u + NTHREADS && !old->dtor);
    CHECK(w, txc_heap_of(old) == global);
    __atomic_sub_fetch(&exchange_allocs, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&exchange_bytes, old->size, __ATOMIC_RELAXED);
    txc_free(old);
    w->ops += 2;
}

static void gkeep(struct worker* w, struct tagged* t)
{
    if (w->ngkept < GLOBAL_SLOTS) {
        w->gkept[w->ngkept++] = t;
        w->gbytes += t->size;
        return;
    }
    unsigned i = rnd(w, GLOBAL_SLOTS);
    check_tagged(w, w->gkept[i]);
    w->gbytes -= w->gkept[i]->size;
    txc_free(w->gkept[i]);
    w->ops++;
    w->gkept[i] = t;
    w->gbytes += t->size;
}

/* A global_heap block: one allocation the caller may keep, one it frees,
 * one on a sub heap inside; thrown out of when abort_inside. */
static void global_block(struct worker* w, bool abort_inside, bool dtor, struct tagged* volatile* g,
                         struct tagged* volatile* scratch)
{
    global_heap {
        CHECK(w, !below_root(w, txc_heap_current()));
        *g = tagged_alloc(w, any_size(w), dtor);
        *scratch = tagged_alloc(w, small_size(w), false);
        sub_heap { tagged_alloc(w, small_size(w), true); }
        w->ops++;
        if (abort_inside)
            throw(stress_error, "t%" PRIu32 " global abort", w->tag);
    }
    w->ops++;
}

/* A global_heap block, alone or inside a transaction, that commits or
 * aborts (by a throw inside it, or after it inside the transaction); what
 * it kept is then either kept by the thread or freed at once. */
static void op_global(struct worker* w)
{
    bool in_txn = rnd(w, 3) == 0;
    bool abort_inside = rnd(w, 5) == 0;
    bool abort_after = in_txn && !abort_inside && rnd(w, 3) == 0;
    bool keep_it = rnd(w, 2);
    bool dtor = !keep_it && rnd(w, 2);
    unsigned long set0 = w->dtors_set, run0 = w->dtors_run;
    struct tagged* volatile g = NULL;
    struct tagged* volatile scratch = NULL;
    volatile int caught = 0;
    try {
        if (in_txn) {
            switch_txn(h) {
                global_block(w, abort_inside, dtor, &g, &scratch);
                CHECK(w, txc_heap_of(g) != global); /* waits for the outermost commit */
                if (abort_after)
                    throw(stress_error, "t%" PRIu32 " global abort", w->tag);
            }
        } else {
            global_block(w, abort_inside, dtor, &g, &scratch);
        }
    } catch (stress_error, e) {
        caught = 1;
        char want[64];
        snprintf(want, sizeof want, "t%" PRIu32 " global abort", w->tag);
        CHECK(w, strcmp(e->message, want) == 0);
        txc_free(e);
        w->throws++;
    }
    w->ops++;
    CHECK(w, caught == (abort_inside || abort_after));
    if (caught) { /* the block and all it made are gone */
        w->global_aborts++;
        CHECK(w, w->dtors_set - set0 == w->dtors_run - run0);
        return;
    }
    w->global_commits++;
    CHECK(w, txc_heap_of(g) == global);
    CHECK(w, txc_heap_of(scratch) == global);
    CHECK(w, txc_heap_parent(txc_heap_of(g)) == NULL);
    check_tagged(w, g);
    txc_free(scratch);
    w->ops += 4;
    if (keep_it) {
        gkeep(w, g);
    } else if (!dtor && rnd(w, 2)) {
        exchange_put(w, g);
    } else {
        txc_free(g);
        w->ops++;
    }
    CHECK(w, w->dtors_set - set0 == w->dtors_run - run0);
}

/* ---- the worker ---- */

static void run_ops(struct worker* w)
{
    unsigned long next_renew = KEEP_RENEW;
    while (w->ops < w->target && !w->failed) {
        CHECK(w, txc_heap_current() == w->root);
        CHECK(w, !txc_in_txn());
        /* the destructors still to run are those of what keep holds */
        CHECK(w, w->dtors_set - w->dtors_run == w->keep_dtors);
        unsigned k = rnd(w, 100);
        if (k < 25)
            op_alloc_keep(w);
        else if (k < 45)
            op_sub_heap(w);
        else if (k < 50)
            op_import(w);
        else if (k < 70)
            op_throw(w);
        else if (k < 88)
            op_txn(w);
        else
            op_global(w);
        if (w->ops >= next_renew) {
            keep_renew(w);
            next_renew = w->ops + KEEP_RENEW;
        }
    }
    keep_check(w);
    for (size_t i = 0; i < w->ngkept; i++) {
        check_tagged(w, w->gkept[i]);
        CHECK(w, txc_heap_of(w->gkept[i]) == global);
    }
}

static void* worker_main(void* arg)
{
    struct worker* w = arg;
    me = w;
    w->root = txc_heap_current();
    txc_heap_stats_t s0;
    txc_heap_stats(w->root, &s0);
    try {
        w->keep = txc_heap_new();
        run_ops(w);
        txc_free(w->keep);
        w->keep = NULL;
        CHECK(w, w->dtors_run == w->dtors_set);
        CHECK(w, w->commits_run == w->commits_hooked);
        txc_heap_stats_t s1;
        txc_heap_stats(w->root, &s1);
        CHECK(w, s1.total_allocs == s0.total_allocs && s1.total_bytes == s0.total_bytes);
    } catch (stress_failure, e) {
        (void)e; /* recorded by CHECK */
    } catch (exception_any, e) {
        note_failure(w, __FILE__, __LINE__, txc_exception_describe(e));
    }
    return NULL;
}

static unsigned long env_ulong(const char* name, unsigned long dflt)
{
    const char* s = getenv(name);
    if (!s || !*s)
        return dflt;
    char* end;
    unsigned long v = strtoul(s, &end, 0);
    return *end ? dflt : v;
}

static void threads_keep_to_themselves_and_the_global_heap_adds_up(void** state)
{
    (void)state;
    static struct worker ws[NTHREADS];
    unsigned long ops = env_ulong("TXC_STRESS_OPS", DEFAULT_OPS);
    unsigned long seed = env_ulong("TXC_STRESS_SEED", (unsigned long)time(NULL));
    print_message("stress: %d threads x %lu operations (TXC_STRESS_OPS%s), seed %lu (TXC_STRESS_SEED)\n",
                  NTHREADS, ops, getenv("TXC_STRESS_OPS") ? "" : " default", seed);

    void* probe = NULL;
    global_heap { probe = txc_alloc(1); }
    global = txc_heap_of(probe);
    txc_heap_stats_t g0 = stats_of(global);

    memset(ws, 0, sizeof ws);
    for (int i = 0; i < NTHREADS; i++) {
        ws[i].tag = 0x7a90000u + (uint32_t)i;
        ws[i].rng = ((uint64_t)seed + 1) * UINT64_C(0x9e3779b97f4a7c15) + (uint64_t)i * 7919 + 1;
        ws[i].target = ops;
        assert_int_equal(pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]), 0);
    }
    size_t kept = 0, kept_bytes = 0;
    unsigned long total = 0, throws = 0, gcommits = 0, gaborts = 0, tcommits = 0, taborts = 0;
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(ws[i].thread, NULL), 0);
    for (int i = 0; i < NTHREADS; i++) {
        if (ws[i].failed)
            fail_msg("%s (seed %lu)", ws[i].why, seed);
        assert_true(ws[i].ops >= ops);
        kept += ws[i].ngkept;
        kept_bytes += ws[i].gbytes;
        total += ws[i].ops;
        throws += ws[i].throws;
        gcommits += ws[i].global_commits;
        gaborts += ws[i].global_aborts;
        tcommits += ws[i].txn_commits;
        taborts += ws[i].txn_aborts;
    }
    for (int i = 0; i < NTHREADS; i++)
        for (int k = i + 1; k < NTHREADS; k++)
            assert_ptr_not_equal(ws[i].root, ws[k].root);
    print_message("stress: %lu operations, %lu throws, transactions %lu committed %lu aborted, "
                  "global_heap %lu committed %lu aborted, %zu kept on the global heap\n",
                  total, throws, tcommits, taborts, gcommits, gaborts, kept + exchange_allocs);
    /* each kind of operation happened, with both outcomes */
    assert_true(throws > 0 && tcommits > 0 && taborts > 0 && gcommits > 0 && gaborts > 0);

    /* the global heap holds what it held before plus what the threads kept */
    kept += exchange_allocs;
    kept_bytes += exchange_bytes;
    txc_heap_stats_t g1 = stats_of(global);
    assert_int_equal(g1.allocs, g0.allocs + kept);
    assert_int_equal(g1.bytes, g0.bytes + kept_bytes);
    assert_int_equal(g1.total_allocs, g0.total_allocs + kept);
    assert_int_equal(g1.total_bytes, g0.total_bytes + kept_bytes);
    for (int i = 0; i < NTHREADS; i++) {
        for (size_t k = 0; k < ws[i].ngkept; k++) {
            assert_int_equal(ws[i].gkept[k]->tag, ws[i].tag);
            assert_ptr_equal(txc_heap_of(ws[i].gkept[k]), global);
            txc_free(ws[i].gkept[k]);
        }
    }
    for (int i = 0; i < EXCHANGE_SLOTS; i++) {
        if (exchange[i]) {
            assert_ptr_equal(txc_heap_of(exchange[i]), global);
            txc_free(exchange[i]);
        }
        exchange[i] = NULL;
    }
    txc_heap_stats_t g2 = stats_of(global);
    assert_int_equal(g2.allocs, g0.allocs);
    assert_int_equal(g2.bytes, g0.bytes);
    txc_free(probe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(threads_keep_to_themselves_and_the_global_heap_adds_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
