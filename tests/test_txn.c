/*
 * test_txn.c - transactions (API.md section 3): memory kept only on a
 * normal exit, txn_set, hooks, deferred frees, undone moves, nesting, the
 * global heap as a transaction.
 */
#include "testutil.h"

static char trace[256];
static void trace_add(const char* s) { strcat(trace, s); }
static void hook(void* arg) { trace_add((const char*)arg); }

static int dtor_count;
static void count_dtor(void* p)
{
    (void)p;
    dtor_count++;
    trace_add("D");
}

/* ---- memory ---- */

static void commit_moves_h_to_the_heap_before(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* before = txc_heap_current();
        char* kept = NULL;
        void* scratch = NULL;
        sub_heap_txn(h) {
            assert_true(txc_in_txn());
            assert_ptr_equal(txc_heap_parent(h), txc_heap_current());
            assert_ptr_not_equal(txc_heap_current(), before);
            switch_heap(h) {
                kept = txc_strdup("kept");
                for (int i = 0; i < 3000; i++) /* several chunks */
                    txc_alloc(48);
            }
            scratch = txc_alloc(10); /* on the sub heap: freed */
            txc_set_destructor(scratch, count_dtor);
        }
        assert_false(txc_in_txn());
        assert_ptr_equal(txc_heap_current(), before);
        assert_ptr_equal(txc_heap_of(kept), before);
        assert_string_equal(kept, "kept");
        txc_heap_stats_t s = stats_of(before);
        assert_int_equal(s.allocs, 3001);
        assert_int_equal(s.total_allocs, 3001);
        assert_int_equal(s.bytes, 5 + 3000 * 48);
    }
}

static void abort_discards_everything(void** state)
{
    (void)state;
    dtor_count = 0;
    sub_heap {
        txc_heap_t* before = txc_heap_current();
        txc_heap_stats_t s0 = stats_of(before);
        volatile int caught = 0;
        try {
            switch_txn(h) {
                void* p = txc_alloc(100);
                txc_set_destructor(p, count_dtor);
                sub_heap { txc_alloc(5); }
                throw(exception_io, "abort");
            }
        } catch (exception_io, e) {
            caught = 1;
            assert_int_equal(dtor_count, 1); /* freed before the catch block */
            txc_free(e);
        }
        assert_int_equal(caught, 1);
        txc_heap_stats_t s1 = stats_of(before);
        assert_int_equal(s1.total_allocs, s0.total_allocs);
        assert_int_equal(s1.total_bytes, s0.total_bytes);
    }
}

static void* commit_by_return(void)
{
    switch_txn(h) {
        return txc_strdup("returned");
    }
    return NULL;
}

static void normal_exits_all_commit(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* before = txc_heap_current();
        void* a = NULL;
        void* b = NULL;
        switch_txn(h) {
            a = txc_alloc(1);
            break;
        }
        for (int i = 0; i < 1; i++) {
            switch_txn(h) {
                b = txc_alloc(2);
                continue;
            }
        }
        char* c = commit_by_return();
        void* d = NULL;
        switch_txn(h) {
            d = txc_alloc(4);
            goto out;
        }
    out:
        assert_ptr_equal(txc_heap_of(a), before);
        assert_ptr_equal(txc_heap_of(b), before);
        assert_ptr_equal(txc_heap_of(c), before);
        assert_ptr_equal(txc_heap_of(d), before);
        assert_string_equal(c, "returned");
        assert_false(txc_in_txn());
    }
}

static void h_cannot_be_freed_or_moved_inside(void** state)
{
    (void)state;
    volatile int caught = 0;
    sub_heap_txn(h) {
        try {
            txc_free(h);
        } catch (exception_arg, e) {
            caught++;
        }
        try {
            escape(h);
        } catch (exception_arg, e) {
            caught++;
        }
    }
    assert_int_equal(caught, 2);
}

/* ---- txn_set ---- */

struct account {
    long balance;
    int flags;
};

static int evaluations;
static long next_value(void)
{
    evaluations++;
    return 500;
}

static void txn_set_is_undone_on_abort(void** state)
{
    (void)state;
    static struct account acc = {100, 1};
    static struct account* accs[1] = {&acc};
    volatile int i = 0; /* changed in try, read after: volatile */
    evaluations = 0;
    try {
        switch_txn(h) {
            txn_set(accs[i++]->balance, next_value());
            assert_int_equal(acc.balance, 500);
            txn_set(acc.balance, 700);
            txn_set(acc.flags, 9);
            throw(exception_io, "fail");
        }
    } catch (exception_io, e) {
        txc_free(e);
    }
    assert_int_equal(i, 1);
    assert_int_equal(evaluations, 1);
    assert_int_equal(acc.balance, 100);
    assert_int_equal(acc.flags, 1);
    switch_txn(h) { txn_set(acc.balance, 200); }
    assert_int_equal(acc.balance, 200);
    txn_set(acc.balance, 300); /* outside: a plain assignment */
    assert_int_equal(acc.balance, 300);
}

/* ---- hooks ---- */

static void hooks_run_at_the_right_time(void** state)
{
    (void)state;
    trace[0] = 0;
    txc_on_commit(hook, "now ");   /* outside: at once */
    txc_on_abort(hook, "never ");  /* outside: nothing */
    switch_txn(h) {
        txc_on_commit(hook, "c1 ");
        txc_on_abort(hook, "a1 ");
        txc_on_commit(hook, "c2 ");
        trace_add("body ");
    }
    assert_string_equal(trace, "now body c1 c2 ");
    trace[0] = 0;
    try {
        switch_txn(h) {
            txc_on_abort(hook, "a1 ");
            txc_on_commit(hook, "c1 ");
            txc_on_abort(hook, "a2 ");
            throw(exception_io, "x");
        }
    } catch (exception_io, e) {
        trace_add("catch ");
        txc_free(e);
    }
    assert_string_equal(trace, "a2 a1 catch ");
}

static void inner_aborts_outer_commits(void** state)
{
    (void)state;
    static long x = 1, y = 1;
    trace[0] = 0;
    switch_txn(outer) {
        txn_set(x, 2);
        try {
            switch_txn(inner) {
                txn_set(y, 3);
                txc_on_commit(hook, "inner-commit ");
                txc_on_abort(hook, "inner-abort ");
                throw(exception_io, "inner fails");
            }
        } catch (exception_io, e) {
            assert_true(txc_in_txn());
        }
        assert_int_equal(y, 1);
        txc_on_commit(hook, "outer-commit ");
    }
    assert_int_equal(x, 2);
    assert_int_equal(y, 1);
    assert_string_equal(trace, "inner-abort outer-commit ");
}

static void inner_commits_outer_aborts(void** state)
{
    (void)state;
    static long x = 1, y = 1;
    trace[0] = 0;
    try {
        switch_txn(outer) {
            txn_set(x, 2);
            txc_on_abort(hook, "outer-abort ");
            switch_txn(inner) {
                txn_set(y, 3);
                txn_set(x, 4);
                txc_on_commit(hook, "inner-commit ");
                txc_on_abort(hook, "inner-abort ");
            }
            assert_int_equal(y, 3);
            assert_string_equal(trace, ""); /* commit hooks wait for the outermost */
            throw(exception_io, "outer fails");
        }
    } catch (exception_io, e) {
        txc_free(e);
    }
    assert_int_equal(x, 1);
    assert_int_equal(y, 1);
    assert_string_equal(trace, "inner-abort outer-abort ");
}

static void nested_commit_hooks_run_in_registration_order(void** state)
{
    (void)state;
    trace[0] = 0;
    switch_txn(a) {
        txc_on_commit(hook, "1 ");
        switch_txn(b) {
            txc_on_commit(hook, "2 ");
            switch_txn(c) { txc_on_commit(hook, "3 "); }
        }
        txc_on_commit(hook, "4 ");
    }
    assert_string_equal(trace, "1 2 3 4 ");
}

static void null_hooks_are_refused(void** state)
{
    (void)state;
    volatile int caught = 0;
    void (*volatile none)(void*) = NULL;
    try {
        txc_on_commit(none, NULL);
    } catch (exception_arg, e) {
        caught++;
    }
    try {
        switch_txn(h) { txc_on_abort(none, NULL); }
    } catch (exception_arg, e) {
        caught++;
    }
    assert_int_equal(caught, 2);
}

static void throwing_hook(void* arg)
{
    (void)arg;
    throw(exception_io, "from a commit hook");
}

static void commit_hook_throw_keeps_memory(void** state)
{
    (void)state;
    static char* kept;
    volatile int caught = 0;
    trace[0] = 0;
    sub_heap {
        txc_heap_t* before = txc_heap_current();
        try {
            switch_txn(h) {
                kept = txc_strdup("in place");
                txc_on_commit(hook, "1 ");
                txc_on_commit(throwing_hook, NULL);
                txc_on_commit(hook, "3 ");
            }
        } catch (exception_io, e) {
            caught = 1;
            assert_false(txc_in_txn());
            assert_ptr_equal(txc_heap_of(kept), before);
            assert_string_equal(kept, "in place");
        }
        assert_string_equal(trace, "1 ");
    }
    assert_int_equal(caught, 1);
}

static void throwing_abort_hook(void* arg)
{
    (void)arg;
    throw(exception_io, "from an abort hook");
}

static void do_abort_hook_throws(void)
{
    try {
        switch_txn(h) {
            txc_on_abort(throwing_abort_hook, NULL);
            throw(exception_arg, "abort");
        }
    } catch (exception_any, e) {
        fputs("caught: wrong\n", stderr);
    }
}

static void exception_from_abort_hook_is_fatal(void** state)
{
    (void)state;
    expect_abort(do_abort_hook_throws, "exception_fatal", "escaped an abort hook", "from an abort hook",
                 NULL);
}

/* ---- deferred frees and moves ---- */

static void free_of_older_allocation_is_deferred(void** state)
{
    (void)state;
    sub_heap {
        void* older = txc_alloc(16);
        txc_set_destructor(older, count_dtor);
        dtor_count = 0;
        trace[0] = 0;
        switch_txn(h) {
            txc_free(older);
            assert_int_equal(dtor_count, 0); /* still there */
            txc_on_commit(hook, "hook ");
            void* mine = txc_alloc(8); /* the transaction's own: freed at once */
            txc_set_destructor(mine, count_dtor);
            txc_free(mine);
            assert_int_equal(dtor_count, 1);
        }
        assert_int_equal(dtor_count, 2);
        assert_string_equal(trace, "DDhook "); /* deferred frees before hooks */
        assert_int_equal(stats_of(txc_heap_current()).allocs, 0);

        void* survivor = txc_alloc(16);
        txc_set_destructor(survivor, count_dtor);
        dtor_count = 0;
        try {
            switch_txn(h) {
                txc_free(survivor);
                throw(exception_io, "abort");
            }
        } catch (exception_io, e) {
        }
        assert_int_equal(dtor_count, 0);
        assert_ptr_equal(txc_heap_of(survivor), txc_heap_current());
    }
}

static void moves_of_older_allocations_are_undone(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* home = txc_heap_current();
        txc_heap_t* other = txc_heap_new();
        char* p = txc_strdup("mover");
        char* volatile q = NULL;
        switch_heap(other) { q = txc_strdup("escaper"); }
        try {
            switch_txn(h) {
                import(p); /* into h */
                assert_ptr_equal(txc_heap_of(p), h);
                escape(q); /* other -> home */
                assert_ptr_equal(txc_heap_of(q), home);
                throw(exception_io, "abort");
            }
        } catch (exception_io, e) {
        }
        assert_ptr_equal(txc_heap_of(p), home);
        assert_ptr_equal(txc_heap_of(q), other);
        assert_string_equal(p, "mover");
        assert_string_equal(q, "escaper");
        switch_txn(h) { import(p); }
        assert_ptr_equal(txc_heap_of(p), home); /* committed: h merged into home */
    }
}

/* The design's pattern: data on a target heap, updated inside
 * switch_heap(target) switch_txn(h); a failure after the update leaves the
 * target exactly as before. */
struct ledger {
    long total;
    char* last_note;
};

static void update_then_fail(txc_heap_t* target, struct ledger* lg, bool fail_after)
{
    switch_heap(target) {
        switch_txn(h) {
            char* note = txc_sprintf("added %d", 5);
            txn_set(lg->total, lg->total + 5);
            txn_set(lg->last_note, note);
            if (fail_after)
                throw(exception_io, "after the update");
        }
    }
}

static void failed_update_leaves_target_as_before(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* target = txc_heap_new();
        struct ledger* volatile lg = NULL;
        switch_heap(target) {
            lg = new(struct ledger);
            lg->last_note = txc_strdup("initial");
        }
        txc_heap_stats_t s0 = stats_of(target);
        volatile int caught = 0;
        try {
            update_then_fail(target, lg, true);
        } catch (exception_io, e) {
            caught = 1;
        }
        assert_int_equal(caught, 1);
        txc_heap_stats_t s1 = stats_of(target);
        assert_int_equal(s1.allocs, s0.allocs);
        assert_int_equal(s1.bytes, s0.bytes);
        assert_int_equal(s1.total_allocs, s0.total_allocs);
        assert_int_equal(lg->total, 0);
        assert_string_equal(lg->last_note, "initial");
        update_then_fail(target, lg, false);
        assert_int_equal(lg->total, 5);
        assert_string_equal(lg->last_note, "added 5");
        assert_ptr_equal(txc_heap_of(lg->last_note), target);
        assert_int_equal(stats_of(target).allocs, s0.allocs + 1);
    }
}

static void nested_commit_into_older_heap_is_taken_back(void** state)
{
    (void)state;
    dtor_count = 0;
    sub_heap {
        txc_heap_t* target = txc_heap_new();
        switch_heap(target) { txc_alloc(3); }
        txc_heap_stats_t s0 = stats_of(target);
        void* volatile merged = NULL;
        try {
            sub_heap_txn(outer) {
                switch_heap(target) {
                    switch_txn(inner) {
                        merged = txc_alloc(40);
                        txc_set_destructor(merged, count_dtor);
                        for (int i = 0; i < 2000; i++)
                            txc_alloc(64);
                    }
                }
                assert_ptr_equal(txc_heap_of(merged), target);
                switch_heap(target) { txc_alloc(7); } /* not the inner's: stays */
                throw(exception_io, "outer aborts");
            }
        } catch (exception_io, e) {
        }
        assert_int_equal(dtor_count, 1);
        txc_heap_stats_t s1 = stats_of(target);
        assert_int_equal(s1.allocs, s0.allocs + 1);
        assert_int_equal(s1.bytes, s0.bytes + 7);
    }
}

/* A nested commit into a heap of a block of the outer transaction's: the
 * merge is final (the heap goes if the outer one aborts), so abort hooks
 * run before the merged memory is freed, as before anything is freed. */
static void nested_commit_into_outer_block_heap_is_freed_after_hooks(void** state)
{
    (void)state;
    trace[0] = '\0';
    dtor_count = 0;
    try {
        sub_heap_txn(outer) {
            txc_on_abort(hook, "H");
            sub_heap {
                txc_heap_t* x = txc_heap_current();
                sub_heap_txn(mid) {
                    switch_heap(x) {
                        switch_txn(inner) { txc_set_destructor(txc_alloc(8), count_dtor); }
                    }
                }
                throw(exception_io, "outer aborts");
            }
        }
    } catch (exception_io, e) {
    }
    assert_string_equal(trace, "HD");
    assert_int_equal(dtor_count, 1);
}

/* The same merges into heaps that die before the outer transaction aborts:
 * a sub heap block that ends, and the staging heap of a global_heap that
 * commits.  The abort must not touch them.  They run deep in the stack,
 * which is then overwritten, so that reading such a heap would crash. */
static __attribute__((noinline)) void merge_into_ended_sub_heap(void)
{
    sub_heap {
        txc_heap_t* x = txc_heap_current();
        sub_heap_txn(mid) {
            switch_heap(x) {
                switch_txn(inner) { txc_set_destructor(txc_alloc(8), count_dtor); }
            }
        }
    }
}

static __attribute__((noinline)) void merge_into_ended_global_heap(void)
{
    global_heap {
        sub_heap_txn(mid) {
            global_heap { txc_set_destructor(txc_alloc(8), count_dtor); }
        }
    }
}

static __attribute__((noinline)) void scribble_stack(void)
{
    volatile unsigned char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0xa5;
}

static __attribute__((noinline)) void run_deep(void (*fn)(void))
{
    volatile char pad[32768];
    pad[0] = 0;
    fn();
    (void)pad[0];
}

static void outer_abort_skips_merges_into_heaps_that_died(void** state)
{
    (void)state;
    void (*const cases[])(void) = {merge_into_ended_sub_heap, merge_into_ended_global_heap};
    void* volatile probe = NULL;
    global_heap { probe = txc_alloc(1); }
    txc_heap_t* G = txc_heap_of(probe);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        txc_heap_stats_t g0 = stats_of(G);
        dtor_count = 0;
        volatile int caught = 0;
        sub_heap {
            try {
                sub_heap_txn(outer) {
                    run_deep(cases[k]);
                    run_deep(scribble_stack);
                    throw(exception_io, "outer aborts");
                }
            } catch (exception_io, e) {
                caught = 1;
            }
        }
        assert_int_equal(caught, 1);
        assert_int_equal(dtor_count, 1); /* with its heap, or with the outer's pending global memory */
        txc_heap_stats_t g1 = stats_of(G);
        assert_int_equal(g1.allocs, g0.allocs);
        assert_int_equal(g1.bytes, g0.bytes);
    }
    txc_free(probe);
}

/* What a nested commit merged into a heap older than the outer transaction
 * is taken back when the outer one aborts: after the undo steps, which may
 * still write to it, and after the blocks entered since, which may still
 * use it.  Each test runs with a global_heap (its memory waits in the
 * outer's pending heap) and with a switch_txn on an older heap. */

static int value_at_free;
static void note_value(void* p)
{
    value_at_free = *(int*)p;
}

/* In the nested transaction: its undo step is older than its merge. */
static void new_int_set_to_5(void)
{
    int* p = new(int);
    txc_set_destructor(p, note_value);
    txn_set(*p, 5);
}

static void set_merged_memory_then_abort(bool global)
{
    value_at_free = -1;
    sub_heap {
        txc_heap_t* volatile older = txc_heap_current(); /* read after setjmp (gcc) */
        try {
            sub_heap_txn(outer) {
                if (global) {
                    global_heap { new_int_set_to_5(); }
                } else {
                    switch_heap(older) {
                        switch_txn(inner) { new_int_set_to_5(); }
                    }
                }
                throw(exception_io, "outer aborts");
            }
        } catch (exception_io, e) {
        }
    }
    assert_int_equal(value_at_free, 0); /* restored, then freed */
}

static void undo_steps_run_before_merged_memory_is_freed(void** state)
{
    (void)state;
    set_merged_memory_then_abort(true);
    set_merged_memory_then_abort(false);
}

static void merged_heap_dtor(void* p)
{
    (void)p;
    trace_add("H");
}

static void block_alloc_dtor(void* p)
{
    (void)p;
    trace_add("B");
}

static void use_merged_heap_then_abort(bool global)
{
    trace[0] = '\0';
    sub_heap {
        txc_heap_t* volatile older = txc_heap_current(); /* read after setjmp (gcc) */
        try {
            sub_heap_txn(outer) {
                txc_heap_t* x = NULL;
                if (global) {
                    global_heap { x = txc_heap_new(); }
                } else {
                    switch_heap(older) {
                        switch_txn(inner) { x = txc_heap_new(); }
                    }
                }
                txc_set_destructor(x, merged_heap_dtor);
                switch_heap(x) {
                    sub_heap {
                        txc_set_destructor(txc_alloc(1), block_alloc_dtor);
                        throw(exception_io, "outer aborts");
                    }
                }
            }
        } catch (exception_io, e) {
        }
    }
    assert_string_equal(trace, "BH");
}

static void blocks_on_merged_heaps_unwind_before_they_are_freed(void** state)
{
    (void)state;
    use_merged_heap_then_abort(true);
    use_merged_heap_then_abort(false);
}

/* ---- the global heap as a transaction ---- */

static void global_heap_inside_txn_waits_for_outermost(void** state)
{
    (void)state;
    static char* g;
    void* volatile probe = NULL;
    global_heap { probe = txc_alloc(1); }
    txc_heap_t* G = txc_heap_of(probe);
    size_t n0 = stats_of(G).allocs;
    try {
        switch_txn(h) {
            global_heap { g = txc_strdup("pending"); }
            assert_int_equal(stats_of(G).allocs, n0);
            throw(exception_io, "abort");
        }
    } catch (exception_io, e) {
    }
    assert_int_equal(stats_of(G).allocs, n0);
    switch_txn(h) {
        global_heap {
            assert_true(txc_in_txn());
            g = txc_strdup("committed");
        }
    }
    assert_int_equal(stats_of(G).allocs, n0 + 1);
    assert_ptr_equal(txc_heap_of(g), G);
    txc_free(g);
    txc_free(probe);
}

static void global_heap_undoes_txn_set(void** state)
{
    (void)state;
    static int v = 1;
    try {
        global_heap {
            txn_set(v, 2);
            throw(exception_io, "abort");
        }
    } catch (exception_io, e) {
    }
    assert_int_equal(v, 1);
}

/* issue 6: a global_heap block committed inside a nested transaction that
 * then aborts is part of that transaction: its allocations never reach the
 * global heap, even when the outermost transaction commits. */
static void global_heap_in_aborted_nested_txn_is_discarded(void** state)
{
    (void)state;
    void* volatile probe = NULL;
    global_heap { probe = txc_alloc(1); }
    txc_heap_t* G = txc_heap_of(probe);
    txc_heap_stats_t s0 = stats_of(G);
    dtor_count = 0;
    volatile int caught = 0;
    switch_txn(outer) {
        try {
            switch_txn(inner) {
                global_heap {
                    void* g = txc_alloc(100);
                    txc_set_destructor(g, count_dtor);
                }
                throw(exception_io, "inner aborts");
            }
        } catch (exception_io, e) {
            caught = 1;
            assert_int_equal(dtor_count, 1); /* discarded during the abort */
        }
    }
    assert_int_equal(caught, 1);
    txc_heap_stats_t s1 = stats_of(G);
    assert_int_equal(s1.allocs, s0.allocs);
    assert_int_equal(s1.bytes, s0.bytes);
    txc_free(probe);
}

static void several_deferred_frees_run_in_order_at_commit(void** state)
{
    (void)state;
    sub_heap {
        int* a = txc_alloc(sizeof *a);
        int* b = txc_alloc(sizeof *b);
        txc_set_destructor(a, count_dtor);
        txc_set_destructor(b, count_dtor);
        dtor_count = 0;
        trace[0] = 0;
        switch_txn(h) {
            txc_free(b);
            txc_free(a);
            txc_on_commit(hook, "hook ");
            assert_int_equal(dtor_count, 0);
            assert_int_equal(stats_of(txc_heap_parent(txc_heap_parent(h))).allocs, 3); /* a, b and the txn */
        }
        assert_int_equal(dtor_count, 2);
        assert_string_equal(trace, "DDhook ");
        assert_int_equal(stats_of(txc_heap_current()).allocs, 0);
    }
}


/* ---- found by the model-based fuzzer and the container suites ---- */

static void freed_after_logged_move_comes_back_on_abort(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* home = txc_heap_current();
        char* volatile p = txc_strdup("x");
        dtor_count = 0;
        txc_set_destructor(p, count_dtor);
        try {
            switch_txn(h) {
                import(p);
                txc_free(p); /* existed before: deferred, not freed */
                assert_int_equal(dtor_count, 0);
                throw(exception_io, "abort");
            }
        } catch (exception_io, e) {
        }
        assert_int_equal(dtor_count, 0);
        assert_ptr_equal(txc_heap_of(p), home);
        assert_string_equal(p, "x");
        try {
            switch_txn(h) {
                sub_heap { import(p); } /* its new heap ends first */
                throw(exception_io, "abort");
            }
        } catch (exception_io, e) {
        }
        assert_int_equal(dtor_count, 0);
        assert_ptr_equal(txc_heap_of(p), home);
        switch_txn(h) {
            sub_heap { import(p); }
        }
        assert_int_equal(dtor_count, 1); /* committed: it went with that heap */
    }
}

static void deferred_free_of_block_heap_allocation_is_not_repeated(void** state)
{
    (void)state;
    dtor_count = 0;
    sub_heap {
        txc_heap_t* older = txc_heap_new();
        switch_txn(a) {
            sub_heap {
                void* p = txc_alloc(8);
                txc_set_destructor(p, count_dtor);
                switch_txn(b) { txc_free(p); }
            }
            switch_heap(older) {
                sub_heap {
                    void* q = txc_alloc(8);
                    txc_set_destructor(q, count_dtor);
                    txc_free(q); /* on a block entered inside: freed now */
                    assert_int_equal(dtor_count, 2);
                }
            }
        }
        assert_int_equal(dtor_count, 2);
        /* a heap and an allocation on it, both freed in one transaction */
        txc_heap_t* x = txc_heap_new();
        void* r = NULL;
        switch_heap(x) {
            r = txc_alloc(8);
            txc_set_destructor(r, count_dtor);
        }
        switch_txn(c) {
            txc_free(x);
            txc_free(r);
        }
        assert_int_equal(dtor_count, 3);
    }
}

static void unmerge_brings_logged_moves_home(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* home = txc_heap_current();
        txc_heap_t* target = txc_heap_new();
        char* p = txc_strdup("older");
        try {
            sub_heap_txn(outer) {
                switch_heap(target) {
                    switch_txn(inner) { import(p); }
                }
                assert_ptr_equal(txc_heap_of(p), target);
                throw(exception_io, "outer aborts");
            }
        } catch (exception_io, e) {
        }
        assert_ptr_equal(txc_heap_of(p), home);
        assert_string_equal(p, "older");
        assert_int_equal(stats_of(target).allocs, 0);
    }
}

static void heap_in_use_cannot_move(void** state)
{
    (void)state;
    volatile int caught = 0;
    sub_heap {
        txc_heap_t* volatile x = txc_heap_new();
        switch_heap(x) {
            sub_heap {
                try {
                    import(x);
                } catch (exception_arg, e) {
                    caught++;
                }
                global_heap {
                    try {
                        import(x);
                    } catch (exception_arg, e) {
                        caught++;
                        txc_free(e); /* (caught here, it would join the global heap) */
                    }
                }
            }
        }
        assert_int_equal(caught, 2);
        assert_ptr_equal(txc_heap_parent(x), txc_heap_current());
    }
}

static void container_born_in_parent_is_not_undone_by_child_record(void** state)
{
    (void)state;
    for (volatile int abort_outer = 0; abort_outer < 2; abort_outer++) {
        sub_heap {
            dict(int)* volatile kept = NULL;
            try {
                switch_txn(t1) {
                    dict(int)* d = new_dict(int);
                    kept = d;
                    dict_insert(d, int, "a", 1);
                    switch_txn(t2) { dict_insert(d, int, "b", 2); }
                    assert_true(dict_delete(d, int, "a"));
                    dict_insert(d, int, "c", 3);
                    if (abort_outer)
                        throw(exception_io, "t1 aborts");
                }
            } catch (exception_io, e) {
            }
            if (!abort_outer) {
                assert_int_equal(dict_count(kept), 2);
                assert_int_equal(*dict_read(kept, int, "b"), 2);
                assert_int_equal(*dict_read(kept, int, "c"), 3);
                assert_null(dict_read(kept, int, "a"));
            }
        }
    }
}

/* ---- random container operations in random transactions, against a
 * model kept outside txc ---- */

#define NKEYS 24
#define MAXN 64

struct model {
    int dk[NKEYS], dv[NKEYS], dn; /* dict: keys (indices) and values in order */
    int l[MAXN], ln;              /* list, front first */
    int v[MAXN], vn;              /* vec */
};

static unsigned long rng = 12345;
static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned)(rng >> 33) % n;
}

static void key_name(char* buf, int k) { snprintf(buf, 8, "k%d", k); }

static int model_find(const struct model* m, int k)
{
    for (int i = 0; i < m->dn; i++)
        if (m->dk[i] == k)
            return i;
    return -1;
}

static void random_op(struct model* m, dict(int)* d, list(int)* l, vec(int)* v)
{
    char key[8];
    int k = (int)rnd(NKEYS), x = (int)rnd(1000);
    key_name(key, k);
    int at = model_find(m, k);
    switch (rnd(9)) {
    case 0:
        assert_int_equal(dict_insert(d, int, key, x), at < 0);
        if (at < 0)
            m->dk[m->dn] = k, m->dv[m->dn++] = x;
        break;
    case 1:
        dict_replace(d, int, key, x);
        if (at < 0)
            m->dk[m->dn] = k, m->dv[m->dn++] = x;
        else
            m->dv[at] = x;
        break;
    case 2:
        assert_int_equal(dict_delete(d, int, key), at >= 0);
        if (at >= 0) {
            memmove(&m->dk[at], &m->dk[at + 1], (size_t)(m->dn - at - 1) * sizeof(int));
            memmove(&m->dv[at], &m->dv[at + 1], (size_t)(m->dn - at - 1) * sizeof(int));
            m->dn--;
        }
        break;
    case 3:
        if (m->ln < MAXN) {
            list_push_end(l, int, x);
            m->l[m->ln++] = x;
        }
        break;
    case 4:
        if (m->ln < MAXN) {
            list_push_start(l, int, x);
            memmove(&m->l[1], &m->l[0], (size_t)m->ln * sizeof(int));
            m->l[0] = x;
            m->ln++;
        }
        break;
    case 5:
        if (m->ln) {
            if (rnd(2)) {
                assert_int_equal(list_pop_end(l, int), m->l[--m->ln]);
            } else {
                assert_int_equal(list_pop_start(l, int), m->l[0]);
                memmove(&m->l[0], &m->l[1], (size_t)--m->ln * sizeof(int));
            }
        }
        break;
    case 6:
        if (m->vn < MAXN) {
            vec_append(v, int, x);
            m->v[m->vn++] = x;
        }
        break;
    case 7:
        if (m->vn) {
            size_t i = rnd((unsigned)m->vn);
            vec_set(v, int, i, x);
            m->v[i] = x;
        }
        break;
    default: {
        int n = (int)rnd(MAXN);
        vec_resize(v, int, (size_t)n);
        for (int i = m->vn; i < n; i++)
            m->v[i] = 0;
        m->vn = n;
    }
    }
}

static void check_model(const struct model* m, dict(int)* d, list(int)* l, vec(int)* v)
{
    assert_int_equal(dict_count(d), m->dn);
    int i = 0;
    dict_foreach(d, int, key, val) {
        char want[8];
        key_name(want, m->dk[i]);
        assert_string_equal(key, want);
        assert_int_equal(val, m->dv[i]);
        i++;
    }
    assert_int_equal(list_count(l), m->ln);
    i = 0;
    list_foreach(l, int, x) { assert_int_equal(x, m->l[i++]); }
    assert_int_equal(vec_count(v), m->vn);
    vec_foreach(v, int, j, x) { assert_int_equal(x, m->v[j]); }
}

define_exception(random_abort, exception_any);

/* One transaction of random operations; it may nest one more level. */
static void random_txn(struct model* m, dict(int)* d, list(int)* l, vec(int)* v, int depth)
{
    struct model before = *m;
    try {
        switch_txn(h) {
            int n = (int)rnd(12);
            for (int i = 0; i < n; i++) {
                random_op(m, d, l, v);
                if (depth < 2 && rnd(6) == 0)
                    random_txn(m, d, l, v, depth + 1);
            }
            if (rnd(3) == 0)
                throw(random_abort, "abort at depth %d", depth);
        }
    } catch (random_abort, e) {
        *m = before; /* the model takes the abort by hand */
    }
}

static void random_container_operations_in_random_transactions(void** state)
{
    (void)state;
    sub_heap {
        dict(int)* d = new_dict(int);
        list(int)* l = new_list(int);
        vec(int)* v = new_vec(int);
        static struct model m;
        memset(&m, 0, sizeof m);
        for (int round = 0; round < 3000; round++) {
            sub_heap { random_txn(&m, d, l, v, 0); }
            check_model(&m, d, l, v);
        }
    }
}

/* Blocks of every kind nested deeper than the thread's pool of sub_heap
 * heaps (128): sub heaps below it take pooled heaps, above it heaps in
 * their frames, with transactions, switch_heap blocks and try/finally
 * statements between them.  Left normally or by a throw from the bottom,
 * every destructor and finally block runs once, everything the blocks
 * made on their own heaps goes, and what each transaction allocated on
 * keep, a heap older than it, stays (txn.h: not its own memory). */
define_exception(mixed_bottom, exception_any);
static int mixed_finally;
static void mixed_dtor(void* p)
{
    (void)p;
    dtor_count++; /* (count_dtor's trace would overflow) */
}

static void mixed_nest(int d, bool throw_at_bottom, txc_heap_t* keep)
{
    if (d < 0) {
        if (throw_at_bottom)
            throw(mixed_bottom, "bottom");
        return;
    }
    switch (d % 4) {
    case 0:
        sub_heap {
            txc_set_destructor(txc_alloc(16), mixed_dtor);
            mixed_nest(d - 1, throw_at_bottom, keep);
        }
        break;
    case 1:
        switch_txn(h) {
            txc_alloc(24);
            switch_heap(keep) txc_alloc(8); /* not the transaction's own */
            mixed_nest(d - 1, throw_at_bottom, keep);
        }
        break;
    case 2:
        switch_heap(keep) sub_heap {
            txc_alloc(40);
            mixed_nest(d - 1, throw_at_bottom, keep);
        }
        break;
    default:
        try {
            sub_heap mixed_nest(d - 1, throw_at_bottom, keep);
        } finally {
            mixed_finally++;
        }
    }
}

static int mixed_levels(int kind, int depth)
{
    int n = 0;
    for (int d = 0; d <= depth; d++)
        n += d % 4 == kind;
    return n;
}

static bool mixed_throw_caught(txc_heap_t* keep, int depth)
{
    volatile bool caught = false;
    try {
        mixed_nest(depth, true, keep);
    } catch (mixed_bottom, e) {
        caught = true;
        txc_free(e);
    }
    return caught;
}

static void blocks_of_every_kind_nested_past_the_pool(void** state)
{
    (void)state;
    enum { DEPTH = 400 };
    txc_heap_t* root = txc_heap_current();
    size_t before = stats_of(root).total_allocs;
    for (int round = 0; round < 2; round++) {
        txc_heap_t* keep = txc_heap_new();
        dtor_count = mixed_finally = 0;
        mixed_nest(DEPTH, false, keep);
        assert_int_equal(dtor_count, mixed_levels(0, DEPTH));
        assert_int_equal(mixed_finally, mixed_levels(3, DEPTH));
        assert_int_equal(stats_of(keep).allocs, mixed_levels(1, DEPTH));
        txc_free(keep);

        keep = txc_heap_new();
        dtor_count = mixed_finally = 0;
        assert_true(mixed_throw_caught(keep, DEPTH));
        assert_int_equal(dtor_count, mixed_levels(0, DEPTH));
        assert_int_equal(mixed_finally, mixed_levels(3, DEPTH));
        assert_int_equal(stats_of(keep).allocs, mixed_levels(1, DEPTH));
        txc_free(keep);
        assert_ptr_equal(txc_heap_current(), root);
        assert_int_equal(stats_of(root).total_allocs, before);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(commit_moves_h_to_the_heap_before),
        TEST(abort_discards_everything),
        TEST(normal_exits_all_commit),
        TEST(h_cannot_be_freed_or_moved_inside),
        TEST(txn_set_is_undone_on_abort),
        TEST(hooks_run_at_the_right_time),
        TEST(inner_aborts_outer_commits),
        TEST(inner_commits_outer_aborts),
        TEST(nested_commit_hooks_run_in_registration_order),
        TEST(null_hooks_are_refused),
        TEST(commit_hook_throw_keeps_memory),
        TEST(exception_from_abort_hook_is_fatal),
        TEST(free_of_older_allocation_is_deferred),
        TEST(moves_of_older_allocations_are_undone),
        TEST(failed_update_leaves_target_as_before),
        TEST(nested_commit_into_older_heap_is_taken_back),
        TEST(nested_commit_into_outer_block_heap_is_freed_after_hooks),
        TEST(outer_abort_skips_merges_into_heaps_that_died),
        TEST(undo_steps_run_before_merged_memory_is_freed),
        TEST(blocks_on_merged_heaps_unwind_before_they_are_freed),
        TEST(global_heap_inside_txn_waits_for_outermost),
        TEST(global_heap_undoes_txn_set),
        TEST(global_heap_in_aborted_nested_txn_is_discarded),
        TEST(several_deferred_frees_run_in_order_at_commit),
        TEST(freed_after_logged_move_comes_back_on_abort),
        TEST(deferred_free_of_block_heap_allocation_is_not_repeated),
        TEST(unmerge_brings_logged_moves_home),
        TEST(heap_in_use_cannot_move),
        TEST(container_born_in_parent_is_not_undone_by_child_record),
        TEST(random_container_operations_in_random_transactions),
        TEST(blocks_of_every_kind_nested_past_the_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
