/*
 * test_except.c - exceptions (API.md section 2): try/catch/finally, the
 * type tree, unwinding of the heap stack, causes and payloads, the uncaught
 * handler, misuse.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdint.h>

#include "except_libc.h"

define_exception(my_error, exception_io);
define_exception(my_sub_error, my_error);
define_exception(other_error, exception_any);

static int dlog[64];
static int ndlog;
static void log_dtor(void* p) { dlog[ndlog++] = *(int*)p; }
static void tracked_int(int id)
{
    int* p = txc_alloc(sizeof *p);
    *p = id;
    txc_set_destructor(p, log_dtor);
}

/* ---- types ---- */

static void user_types_form_a_tree(void** state)
{
    (void)state;
    assert_string_equal(my_error->name, "my_error");
    assert_ptr_equal(my_error->parent, exception_io);
    assert_ptr_equal(exception_io->parent, exception_any);
    assert_ptr_equal(exception_arg->parent, exception_any);
    assert_ptr_equal(exception_nomem->parent, exception_any);
    assert_null(exception_any->parent);
    assert_string_equal(exception_any->name, "exception_any");
    volatile int which = 0;
    try {
        throw(my_sub_error, "deep %d", 3);
    } catch (other_error, e) {
        which = 1;
    } catch (exception_io, e) {
        which = 2; /* first match in text order, by ancestry */
        assert_true(txc_exception_is(e, my_sub_error));
        assert_true(txc_exception_is(e, my_error));
        assert_true(txc_exception_is(e, exception_any));
        assert_false(txc_exception_is(e, exception_arg));
        assert_ptr_equal(e->type, my_sub_error);
        assert_string_equal(e->message, "deep 3");
    } catch (my_sub_error, e) {
        which = 3;
    }
    assert_int_equal(which, 2);
}

static void exception_any_catches_everything_catchable(void** state)
{
    (void)state;
    const txc_exception_type_t* types[] = {exception_arg, exception_io, exception_nomem, my_error, other_error};
    for (volatile size_t i = 0; i < 5; i++) {
        volatile int caught = 0;
        try {
            throw(types[i], "t%zu", i);
        } catch (exception_any, e) {
            caught = 1;
            assert_ptr_equal(e->type, types[i]);
        }
        assert_int_equal(caught, 1);
    }
}

static void non_matching_catch_lets_it_through(void** state)
{
    (void)state;
    volatile int inner = 0, outer = 0;
    try {
        try {
            throw(exception_io, "x");
        } catch (exception_arg, e) {
            inner = 1;
        }
    } catch (exception_io, e) {
        outer = 1;
    }
    assert_int_equal(inner, 0);
    assert_int_equal(outer, 1);
}

static void many_catch_clauses(void** state)
{
    (void)state;
    volatile int which = 0;
    try {
        throw(my_sub_error, "m");
    } catch (exception_arg, e) {
        which = 1;
    } catch (exception_nomem, e) {
        which = 2;
    } catch (other_error, e) {
        which = 3;
    } catch (exception_arg, e) {
        which = 4;
    } catch (exception_arg, e) {
        which = 5;
    } catch (exception_arg, e) {
        which = 6;
    } catch (exception_arg, e) {
        which = 7;
    } catch (exception_arg, e) {
        which = 8;
    } catch (exception_arg, e) {
        which = 9;
    } catch (my_error, e) {
        which = 10;
    }
    assert_int_equal(which, 10);
    volatile int outer = 0;
    try {
        try {
            throw(exception_io, "n");
        } catch (exception_arg, e) {
        } catch (exception_arg, e) {
        } catch (exception_arg, e) {
        } catch (exception_arg, e) {
        } catch (exception_arg, e) {
        } catch (exception_arg, e) {
        } catch (exception_arg, e) {
        } catch (exception_arg, e) {
        } catch (other_error, e) {
        }
    } catch (exception_io, e) {
        outer = 1;
    }
    assert_int_equal(outer, 1);
}

/* More catch clauses than the try records (TXC__MAX_CATCH), with a finally:
 * the unwinder stops at the try and lets the catches decide; the finally
 * runs whether one of them takes the exception or none does. */
static void many_catch_clauses_with_finally(void** state)
{
    (void)state;
    volatile int which = 0, fin = 0, outer = 0;
    for (volatile int round = 0; round < 2; round++) {
        try {
            try {
                if (round == 0)
                    throw(my_error, "late");
                throw(other_error, "none");
            } catch (exception_arg, e) {
                which = 1;
            } catch (exception_arg, e) {
            } catch (exception_arg, e) {
            } catch (exception_arg, e) {
            } catch (exception_arg, e) {
            } catch (exception_arg, e) {
            } catch (exception_arg, e) {
            } catch (exception_arg, e) {
            } catch (exception_nomem, e) {
                which = 9;
            } catch (exception_io, e) {
                which = 10;
                assert_string_equal(e->message, "late");
            } finally {
                fin++;
            }
        } catch (other_error, e) {
            outer++;
            assert_string_equal(e->message, "none");
        }
    }
    assert_int_equal(which, 10);
    assert_int_equal(fin, 2);
    assert_int_equal(outer, 1);
}

/* ---- finally ---- */

static void finally_runs_on_all_three_paths(void** state)
{
    (void)state;
    volatile int fin = 0, caught = 0;
    try {
    } finally {
        fin++;
    }
    assert_int_equal(fin, 1);
    try {
        throw(exception_io, "a");
    } catch (exception_io, e) {
        caught++;
    } finally {
        fin++;
    }
    assert_int_equal(fin, 2);
    try {
        try {
            throw(exception_io, "b");
        } catch (exception_arg, e) {
            fail();
        } finally {
            fin++;
        }
        fail(); /* not reached: the exception goes on */
    } catch (exception_io, e) {
        caught++;
        assert_string_equal(e->message, "b");
    }
    assert_int_equal(fin, 3);
    assert_int_equal(caught, 2);
}

static void break_and_continue_end_blocks_not_loops(void** state)
{
    (void)state;
    volatile int body_rest = 0, fin = 0, loops = 0, catch_rest = 0;
    for (volatile int i = 0; i < 3; i++) {
        loops++;
        try {
            if (i == 0)
                break;
            if (i == 1)
                continue;
            throw(exception_io, "x");
            body_rest++;
        } catch (exception_io, e) {
            break;
            catch_rest++;
        } finally {
            fin++;
            continue;
            fin += 100;
        }
    }
    assert_int_equal(loops, 3);
    assert_int_equal(fin, 3);
    assert_int_equal(body_rest, 0);
    assert_int_equal(catch_rest, 0);
}

static int return_from_try_without_finally(void)
{
    try {
        sub_heap {
            tracked_int(1);
            return 5;
        }
    } catch (exception_any, e) {
        return -1;
    }
    return 0;
}

static int return_from_catch_without_finally(void)
{
    try {
        throw(exception_io, "r");
    } catch (exception_io, e) {
        return 6;
    }
    return 0;
}

static void return_from_try_without_finally_pops_it(void** state)
{
    (void)state;
    ndlog = 0;
    assert_int_equal(return_from_try_without_finally(), 5);
    assert_int_equal(ndlog, 1);
    assert_int_equal(return_from_catch_without_finally(), 6);
    /* the try stack is intact: an exception now reaches this try */
    volatile int caught = 0;
    try {
        throw(exception_io, "after");
    } catch (exception_io, e) {
        caught = 1;
    }
    assert_int_equal(caught, 1);
}

static void leave_finally_by_return(void)
{
    try {
        return;
    } finally {
    }
}

static void leave_finally_by_goto(void)
{
    try {
        throw(exception_io, "g");
    } catch (exception_io, e) {
        goto out;
    } finally {
    }
out:
    return;
}

static void leaving_try_with_finally_by_return_is_fatal(void** state)
{
    (void)state;
    expect_abort(leave_finally_by_return, "exception_fatal", "test_except.c:", "finally is at", "return or goto", NULL);
    expect_abort(leave_finally_by_goto, "exception_fatal", "test_except.c:", "finally is at", "return or goto", NULL);
}

/* ---- unwinding ---- */

static void recurse_and_throw(int depth)
{
    sub_heap {
        tracked_int(depth);
        txc_alloc(1000);
        if (depth == 0)
            throw(my_error, "bottom");
        recurse_and_throw(depth - 1);
    }
}

static void unwinding_frees_every_sub_heap(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_stats_t before = stats_of(root);
    ndlog = 0;
    volatile int caught = 0;
    try {
        recurse_and_throw(12);
    } catch (my_error, e) {
        caught = 1;
        /* every sub heap is freed before the catch block runs */
        assert_int_equal(ndlog, 13);
        for (int i = 0; i < 13; i++)
            assert_int_equal(dlog[i], i);
        assert_ptr_equal(txc_heap_current(), root);
        assert_ptr_equal(txc_heap_of(e), e->heap);
        assert_ptr_equal(txc_heap_parent(e->heap), root);
        txc_free(e);
    }
    assert_int_equal(caught, 1);
    txc_heap_stats_t after = stats_of(root);
    assert_int_equal(after.total_allocs, before.total_allocs);
    assert_int_equal(after.total_bytes, before.total_bytes);
}

static void unwinding_restores_switched_heaps(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_t* h = txc_heap_new();
    volatile int caught = 0;
    try {
        switch_heap(h) {
            sub_heap {
                switch_heap(root) { throw(exception_io, "s"); }
            }
        }
    } catch (exception_io, e) {
        caught = 1;
        assert_ptr_equal(txc_heap_current(), root);
    }
    assert_int_equal(caught, 1);
    txc_free(h); /* not in use any more */
}

/* Runs of sub heaps that hold nothing (left by the unwinder's tight loop)
 * between frames that need the general path: sub heaps with a destructor or
 * a plain allocation, a switch_heap, a transaction. */
static int cell = 1;
static int cell_seen = -1;
static void cell_dtor(void* p)
{
    (void)p;
    cell_seen = cell; /* the transaction's undo ran before its memory was freed */
}

static void mixed_frames(txc_heap_t* h)
{
    sub_heap {                     /* A: nothing */
        sub_heap {                 /* B: a destructor */
            tracked_int(1);
            sub_heap {             /* C: nothing */
                sub_heap {         /* D: a plain allocation */
                    txc_alloc(100);
                    sub_heap {     /* E: nothing */
                        switch_heap(h) {
                            sub_heap {                 /* F: nothing, on h */
                                sub_heap_txn(t) {
                                    txn_set(cell, 2);
                                    sub_heap {         /* G: nothing, in the transaction */
                                        sub_heap {     /* H: destructors */
                                            tracked_int(2);
                                            txc_set_destructor(txc_alloc(8), cell_dtor);
                                            sub_heap {
                                                sub_heap { throw(my_error, "mixed"); } /* I, J: nothing */
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

static void unwinding_mixes_empty_and_busy_sub_heaps(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_t* h = txc_heap_new();
    txc_heap_stats_t root_before = stats_of(root), h_before = stats_of(h);
    ndlog = 0;
    cell = 1;
    cell_seen = -1;
    volatile int caught = 0;
    try {
        mixed_frames(h);
    } catch (my_error, e) {
        caught = 1;
        assert_ptr_equal(txc_heap_current(), root);
        assert_int_equal(ndlog, 2); /* newest first */
        assert_int_equal(dlog[0], 2);
        assert_int_equal(dlog[1], 1);
        assert_int_equal(cell, 1);
        assert_int_equal(cell_seen, 1);
        assert_ptr_equal(txc_heap_parent(e->heap), root);
        txc_free(e);
    }
    assert_int_equal(caught, 1);
    txc_heap_stats_t root_after = stats_of(root), h_after = stats_of(h);
    assert_int_equal(root_after.allocs, root_before.allocs);
    assert_int_equal(root_after.total_allocs, root_before.total_allocs);
    assert_int_equal(root_after.total_bytes, root_before.total_bytes);
    assert_int_equal(h_after.allocs, h_before.allocs);
    assert_int_equal(h_after.total_allocs, h_before.total_allocs);
    /* the frames are gone: blocks work as before */
    sub_heap {
        assert_int_equal(stats_of(root).allocs, root_before.allocs + 1);
    }
    txc_free(h);
}

/* A run of empty sub heaps that a throw passes goes back to the thread's
 * pool of block heaps all at once: the same nesting entered again finds
 * each heap new (nothing counted on it, its parent counting only it). */
static void empty_nest(int d, bool at_bottom_throw)
{
    sub_heap {
        txc_heap_t* h = txc_heap_current();
        txc_heap_stats_t st = stats_of(h);
        assert_int_equal(st.allocs + st.bytes + st.total_allocs + st.total_bytes, 0);
        assert_int_equal(stats_of(txc_heap_parent(h)).allocs, d == 5 ? stats_of(txc_heap_parent(h)).allocs : 1);
        if (d > 0)
            empty_nest(d - 1, at_bottom_throw);
        else if (at_bottom_throw)
            throw(my_error, "bottom");
    }
}

static void empty_sub_heaps_passed_by_a_throw_come_back_new(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_stats_t before = stats_of(root);
    for (int round = 0; round < 3; round++) {
        volatile int caught = 0;
        try {
            sub_heap {
                txc_alloc(16); /* a busy one below the run */
                empty_nest(5, true);
            }
        } catch (my_error, e) {
            caught = 1;
            txc_free(e);
        }
        assert_int_equal(caught, 1);
        sub_heap empty_nest(5, false);
        txc_heap_stats_t after = stats_of(root);
        assert_int_equal(after.allocs, before.allocs);
        assert_int_equal(after.total_allocs, before.total_allocs);
    }
}

/* A throw passes a run of sub heaps whose heaps come from the pool, one of
 * which took something, in each of the ways a heap can: that one is freed
 * with what it holds, the others go back as they are.  (The unwinder skips
 * looking at heaps the pool knows to hold nothing: each way must tell it.) */
static int took_dtors;
static void took_dtor(void* p)
{
    (void)p;
    took_dtors++;
    /* destructors run by the unwinder may enter blocks of their own: they
     * take the pool's heaps above the one being freed */
    sub_heap {
        txc_alloc(8);
        sub_heap txc_alloc(8);
    }
}

enum {
    TAKE_CHUNK, TAKE_PLAIN, TAKE_LARGE, TAKE_HEAP, TAKE_OWN_DTOR, TAKE_IMPORT, TAKE_EXCEPTION, TAKE_COMMIT,
    TAKE_OWN_CHUNK, TAKE_KINDS
};

static void take_something(int kind, void* outside)
{
    switch (kind) {
    case TAKE_CHUNK: /* a chunk lent by the parent, nothing tracked */
        txc_alloc(24);
        break;
    case TAKE_PLAIN: /* the same and a tracked allocation */
        txc_set_destructor(txc_alloc(24), took_dtor);
        break;
    case TAKE_LARGE: /* no chunk: a block of its own, in the list */
        txc_set_destructor(txc_alloc(100000), took_dtor);
        break;
    case TAKE_HEAP:
        txc_set_destructor(txc_heap_new(), took_dtor);
        break;
    case TAKE_OWN_DTOR: /* nothing on it: its own destructor */
        txc_set_destructor(txc_heap_current(), took_dtor);
        break;
    case TAKE_IMPORT:
        import(outside);
        break;
    case TAKE_EXCEPTION: /* caught here: the exception's heap is on this one */
        try {
            throw(my_sub_error, "kept");
        } catch (my_sub_error, e) {
            txc_set_destructor(e, took_dtor);
        }
        break;
    case TAKE_COMMIT: /* a transaction's allocation merged into it (no chunk) */
        switch_txn(t) { txc_set_destructor(txc_alloc(100000), took_dtor); }
        break;
    case TAKE_OWN_CHUNK: /* (in a global_heap block: its parent lends none) */
        txc_set_destructor(txc_alloc(24), took_dtor);
        break;
    }
}

static void throw_through_a_pooled_heap_that_took(int kind, void* outside)
{
    if (kind == TAKE_OWN_CHUNK) {
        global_heap {
            sub_heap {
                take_something(kind, outside);
                sub_heap {
                    sub_heap throw(my_error, "through");
                }
            }
        }
    }
    sub_heap {
        sub_heap {
            take_something(kind, outside);
            sub_heap {
                sub_heap throw(my_error, "through");
            }
        }
    }
}

static void throw_frees_what_each_pooled_heap_took(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    for (int kind = 0; kind < TAKE_KINDS; kind++) {
        sub_heap txc_alloc(1); /* (leaving a used pooled heap lowers the pool's mark) */
        void* outside = txc_alloc(8);
        txc_set_destructor(outside, took_dtor);
        txc_heap_stats_t before = stats_of(root);
        took_dtors = 0;
        volatile int caught = 0;
        try {
            throw_through_a_pooled_heap_that_took(kind, outside);
        } catch (my_error, e) {
            caught = 1;
            txc_free(e);
        }
        assert_int_equal(caught, 1);
        assert_int_equal(took_dtors, kind != TAKE_CHUNK);
        /* the same heaps, entered again, are new */
        sub_heap {
            sub_heap {
                txc_heap_stats_t st = stats_of(txc_heap_current());
                assert_int_equal(st.allocs + st.bytes + st.total_allocs + st.total_bytes, 0);
            }
        }
        txc_heap_stats_t after = stats_of(root);
        if (kind == TAKE_IMPORT) { /* it went with the heap it was imported into */
            before.allocs--;
            before.total_allocs--;
            before.bytes -= 8;
            before.total_bytes -= 8;
        }
        assert_int_equal(after.allocs, before.allocs);
        assert_int_equal(after.total_allocs, before.total_allocs);
        assert_int_equal(after.bytes, before.bytes);
        assert_int_equal(after.total_bytes, before.total_bytes);
        if (kind != TAKE_IMPORT) {
            txc_free(outside);
            assert_int_equal(took_dtors, 1 + (kind != TAKE_CHUNK));
        }
    }
}

/* Sub heaps opened on the global heap (switch_heap to it) take the locked
 * general path out, also when an exception passes them among empty ones. */
static void unwinding_sub_heaps_on_the_global_heap(void** state)
{
    (void)state;
    void* volatile g = NULL;
    global_heap { g = txc_alloc(1); }
    txc_heap_t* G = txc_heap_of(g);
    size_t before = stats_of(G).allocs;
    switch_heap(G) {
        sub_heap { assert_int_equal(stats_of(G).allocs, before + 1); }
    }
    assert_int_equal(stats_of(G).allocs, before);
    volatile int caught = 0;
    try {
        sub_heap {
            switch_heap(G) {
                sub_heap {
                    assert_int_equal(stats_of(G).allocs, before + 1);
                    sub_heap {
                        sub_heap { throw(my_error, "past the global heap"); }
                    }
                }
            }
        }
    } catch (my_error, e) {
        caught = 1;
        assert_int_equal(stats_of(G).allocs, before);
        txc_free(e);
    }
    assert_int_equal(caught, 1);
    txc_free(g);
    assert_int_equal(stats_of(G).allocs, before - 1);
}

/* A finally between the throw and the catch: the unwinder stops there
 * first, then goes on from the try's parent frame. */
static void unwinding_stops_at_a_finally_between_empty_sub_heaps(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_stats_t before = stats_of(root);
    ndlog = 0;
    volatile int finally_ran = 0, caught = 0;
    try {
        sub_heap {
            sub_heap {
                txc_heap_t* volatile inner = txc_heap_current();
                volatile size_t inner_allocs = stats_of(inner).allocs;
                try {
                    sub_heap {
                        sub_heap {
                            tracked_int(3);
                            sub_heap {
                                sub_heap { throw(my_error, "through a finally"); }
                            }
                        }
                    }
                } finally {
                    finally_ran = 1;
                    assert_ptr_equal(txc_heap_current(), inner);
                    assert_int_equal(stats_of(inner).allocs, inner_allocs);
                    assert_int_equal(ndlog, 1);
                    assert_int_equal(dlog[0], 3);
                }
            }
        }
    } catch (my_error, e) {
        caught = 1;
        assert_ptr_equal(txc_heap_current(), root);
        assert_string_equal(e->message, "through a finally");
        txc_free(e);
    }
    assert_int_equal(finally_ran, 1);
    assert_int_equal(caught, 1);
    txc_heap_stats_t after = stats_of(root);
    assert_int_equal(after.allocs, before.allocs);
    assert_int_equal(after.total_allocs, before.total_allocs);
}

/* ---- how a try saves its context ---- */

/* This file's try statements use __builtin_setjmp where <txc/except.h>
 * says so; except_libc.c's, built with TXC_LIBC_SETJMP, use _setjmp.  The
 * frame says which, and the unwinder must jump back the same way. */
static void try_frames_record_how_they_saved_their_context(void** state)
{
    (void)state;
    volatile int kind = 0;
    try {
        kind = txc__ctx.top->kind;
    } catch (exception_any, e) {
        txc_free(e);
    }
#if defined(__x86_64__) && !defined(TXC_LIBC_SETJMP) && !defined(__SANITIZE_THREAD__) && !defined(TXC__TSAN)
    assert_int_equal(kind, TXC__F_TRY);
#else
    assert_int_equal(kind, TXC__F_TRY_LIBC);
#endif
    assert_int_equal(libc_try_kind(), TXC__F_TRY_LIBC);
}

static int freed_here;
static void count_here(void* p)
{
    (void)p;
    freed_here++;
}

/* depth sub_heap blocks of this file, each with a counted allocation, then
 * a throw of type T. */
static void throw_through_here(int depth, const txc_exception_type_t* T, const char* msg)
{
    sub_heap {
        txc_set_destructor(txc_alloc(8), count_here);
        if (depth <= 1)
            throw(T, "%s", msg);
        throw_through_here(depth - 1, T, msg);
    }
}

static void throw_io_here(void* arg) { throw_through_here(4, exception_io, arg); }
static void throw_other_here(void* arg) { throw_through_here(3, other_error, arg); }

/* A try of this file that lets exception_io through (it catches other_error
 * only), around a throw of exception_io from except_libc.c. */
static void io_through_a_try_here(void* arg)
{
    int* freed = arg;
    try {
        sub_heap { libc_throw_through(3, "io from libc", freed); }
    } catch (other_error, e) {
        fail_msg("other_error caught for exception_io");
    }
}

static void try_statements_built_either_way_catch_each_others_throws(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_stats_t before = stats_of(root);
    char msg[64];
    int finally_ran = 0;

    /* a try of this file catches what except_libc.c throws through its blocks */
    int freed = 0;
    volatile int caught = 0;
    try {
        libc_throw_through(5, "from libc", &freed);
    } catch (exception_io, e) {
        caught = 1;
        assert_string_equal(e->message, "from libc");
        assert_int_equal(freed, 5);
        assert_ptr_equal(txc_heap_current(), root);
        txc_free(e);
    }
    assert_int_equal(caught, 1);

    /* and the other way */
    freed_here = 0;
    assert_int_equal(libc_try_catch_io(throw_io_here, "from here", msg, sizeof msg, &finally_ran), 1);
    assert_string_equal(msg, "from here");
    assert_int_equal(freed_here, 4);
    assert_int_equal(finally_ran, 1);
    assert_ptr_equal(txc_heap_current(), root);

    /* an exception the _setjmp try does not catch passes its finally on
     * the way to a try of this file */
    freed_here = 0;
    caught = 0;
    try {
        libc_try_catch_io(throw_other_here, "other", msg, sizeof msg, &finally_ran);
        fail_msg("other_error not passed on");
    } catch (other_error, e) {
        caught = 1;
        assert_string_equal(e->message, "other");
        txc_free(e);
    }
    assert_int_equal(caught, 1);
    assert_int_equal(freed_here, 3);
    assert_int_equal(finally_ran, 2);

    /* _setjmp try > try of this file that lets it pass > _setjmp code that throws */
    freed = 0;
    assert_int_equal(libc_try_catch_io(io_through_a_try_here, &freed, msg, sizeof msg, &finally_ran), 1);
    assert_string_equal(msg, "io from libc");
    assert_int_equal(freed, 3);
    assert_int_equal(finally_ran, 3);

    assert_ptr_equal(txc_heap_current(), root);
    txc_heap_stats_t after = stats_of(root);
    assert_int_equal(after.allocs, before.allocs);
    assert_int_equal(after.total_allocs, before.total_allocs);
}

/* Work that keeps the callee-saved registers busy, then throws: the try
 * statement's function must not find its locals where the thrower left its
 * own values. */
static __attribute__((noinline)) uint64_t churn_then_throw(uint64_t n)
{
    uint64_t a = n, b = n * 3, c = n * 5, d = n * 7, e = n * 11, f = n * 13;
    for (uint64_t i = 0; i < n; i++) {
        a = a * 31 + b;
        b ^= c >> 3;
        c += d * e;
        d = (d * 17) ^ f;
        e += a;
        f ^= b + c;
    }
    if (n & 1)
        throw(my_error, "%llu", (unsigned long long)(a ^ b ^ c ^ d ^ e ^ f));
    return a ^ b ^ c ^ d ^ e ^ f;
}

/* One round: x1..x6 are set before the try statement and never changed in
 * it, so they must come out of it as they went in, whichever registers the
 * compiler gave them. */
static __attribute__((noinline)) uint64_t one_round(uint64_t i, uint64_t x1, uint64_t x2, uint64_t x3,
                                                    uint64_t x4, uint64_t x5, uint64_t x6, int* caught)
{
    volatile uint64_t got = 0;
    try {
        got = churn_then_throw(i);
    } catch (my_error, e) {
        ++*caught;
        txc_free(e);
    }
    return (x1 ^ i) + (x2 ^ (i << 1)) + (x3 ^ (i << 2)) + (x4 ^ (i << 3)) + (x5 ^ (i << 4)) + (x6 ^ (i << 5)) + got;
}

static void locals_kept_in_registers_survive_a_throw(void** state)
{
    (void)state;
    static volatile uint64_t seed = 0x9e3779b97f4a7c15u;
    uint64_t x[6];
    x[0] = seed;
    for (int k = 1; k < 6; k++)
        x[k] = x[k - 1] * 0x100000001b3u + (uint64_t)k;
    int caught = 0;
    for (uint64_t i = 1; i <= 40; i++) {
        uint64_t want = (i & 1) ? 0 : churn_then_throw(i);
        for (int k = 0; k < 6; k++)
            want += x[k] ^ (i << k);
        assert_true(one_round(i, x[0], x[1], x[2], x[3], x[4], x[5], &caught) == want);
    }
    assert_int_equal(caught, 20);
}

static void nested_try_statements(void** state)
{
    (void)state;
    volatile int trace = 0;
    try {
        try {
            try {
                throw(exception_arg, "1");
            } catch (exception_arg, e) {
                trace = trace * 10 + 1;
                throw(exception_io, "2");
            } finally {
                trace = trace * 10 + 2;
            }
        } catch (exception_io, e) {
            trace = trace * 10 + 3;
            assert_string_equal(e->message, "2");
            throw(my_error, "3");
        }
    } catch (my_error, e) {
        trace = trace * 10 + 4;
    }
    assert_int_equal(trace, 1234);
}

static void throw_in_catch_propagates_after_finally(void** state)
{
    (void)state;
    volatile int fin = 0;
    volatile int caught = 0;
    try {
        try {
            throw(exception_io, "first");
        } catch (exception_io, e) {
            throw(exception_arg, "second");
        } finally {
            fin = 1;
        }
    } catch (exception_arg, e) {
        caught = fin;
        assert_string_equal(e->message, "second");
    }
    assert_int_equal(caught, 1);
}

static void throw_in_finally_takes_passing_as_cause(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    size_t before = stats_of(root).total_allocs;
    volatile int caught = 0;
    try {
        try {
            throw(exception_io, "passing");
        } finally {
            throw(exception_arg, "from finally");
        }
    } catch (exception_arg, e) {
        caught = 1;
        assert_non_null(e->cause);
        assert_string_equal(e->cause->message, "passing");
        assert_ptr_equal(e->cause->type, exception_io);
        assert_ptr_equal(txc_heap_parent(e->cause->heap), e->heap);
        txc_free(e);
    }
    assert_int_equal(caught, 1);
    assert_int_equal(stats_of(root).total_allocs, before);
}

/* A passing exception dropped for one thrown in a finally block (that one
 * has a cause already) is freed before anything is unwound: its
 * destructors run with the thrower's sub heap current and may allocate
 * there, so that heap is no longer empty when it is left. */
static txc_heap_t* dtor_heap;
static void alloc_in_dtor(void* p)
{
    (void)p;
    dtor_heap = txc_heap_current();
    txc_alloc(64);
    tracked_int(7);
}

static void dropped_passing_exception_may_fill_an_empty_sub_heap(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_stats_t before = stats_of(root);
    ndlog = 0;
    dtor_heap = NULL;
    txc_heap_t* volatile thrower = NULL;
    volatile int caught = 0;
    try {
        txc_exception_t* volatile cause = NULL;
        try {
            throw(my_error, "cause");
        } catch (my_error, c) {
            cause = c;
        }
        try {
            int* d = txc_alloc(sizeof *d);
            txc_set_destructor(d, alloc_in_dtor);
            throw_data(my_error, d, "passing");
        } finally {
            sub_heap {
                sub_heap {
                    thrower = txc_heap_current();
                    throw_fwd(other_error, cause, "replacing");
                }
            }
        }
    } catch (other_error, e) {
        caught = 1;
        assert_ptr_equal(dtor_heap, thrower);
        assert_int_equal(ndlog, 1); /* what the destructor left was freed with the sub heap */
        assert_int_equal(dlog[0], 7);
        assert_ptr_equal(txc_heap_current(), root);
        assert_string_equal(e->cause->message, "cause");
        txc_free(e);
    }
    assert_int_equal(caught, 1);
    txc_heap_stats_t after = stats_of(root);
    assert_int_equal(after.allocs, before.allocs);
    assert_int_equal(after.total_allocs, before.total_allocs);
    assert_int_equal(after.total_bytes, before.total_bytes);
}

static void passing_exception_leaks_nothing(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    size_t before = stats_of(root).total_allocs;
    sub_heap {
        txc_heap_t* mid = txc_heap_current();
        volatile int caught = 0;
        try {
            sub_heap {
                try {
                    throw(exception_io, "through");
                } finally {
                }
            }
        } catch (exception_io, e) {
            caught = 1;
            assert_ptr_equal(txc_heap_parent(e->heap), mid);
        }
        assert_int_equal(caught, 1);
        assert_int_equal(stats_of(mid).allocs, 1); /* the exception, nothing else */
    }
    assert_int_equal(stats_of(root).total_allocs, before);
}

static void thousands_of_throws_keep_memory_flat(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_stats_t before = stats_of(root);
    for (int i = 0; i < 10000; i++) {
        sub_heap {
            try {
                sub_heap {
                    txc_alloc(64);
                    throw(exception_io, "round %d", i);
                }
            } catch (exception_io, e) {
            }
        }
    }
    txc_heap_stats_t after = stats_of(root);
    assert_int_equal(after.total_allocs, before.total_allocs);
    assert_int_equal(after.total_bytes, before.total_bytes);
    /* a caught exception freed explicitly keeps the root flat too */
    for (volatile int i = 0; i < 10000; i++) {
        try {
            throw(exception_io, "free me");
        } catch (exception_io, e) {
            txc_free(e);
        }
    }
    assert_int_equal(stats_of(root).total_allocs, before.total_allocs);
}

/* ---- the caught exception and its heap ---- */

static void caught_exception_belongs_to_try_heap(void** state)
{
    (void)state;
    txc_exception_t* volatile kept = NULL;
    sub_heap {
        txc_heap_t* volatile outer = txc_heap_current();
        sub_heap {
            txc_heap_t* inner = txc_heap_current();
            try {
                sub_heap { throw(exception_io, "keep %s", "me"); }
            } catch (exception_io, e) {
                assert_ptr_equal(txc_heap_parent(e->heap), inner);
                kept = e;
            }
            /* valid after the try statement */
            assert_string_equal(kept->message, "keep me");
            escape(kept);
            assert_ptr_equal(txc_heap_parent(kept->heap), outer);
        }
        assert_string_equal(kept->message, "keep me");
        assert_ptr_equal(kept->type, exception_io);
    }
}

/* Messages of every size: the object, its message and its heap share one
 * block up to a few hundred bytes; a longer message gets a block of its own
 * size.  Plain messages (no %) and formatted ones take different paths. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void throw_plain(const char* msg) { throw(my_error, msg); }
#pragma GCC diagnostic pop

static void fill_letters(char* buf, size_t n)
{
    for (size_t k = 0; k < n; k++)
        buf[k] = (char)('a' + k % 26);
    buf[n] = 0;
}

static void messages_of_every_length(void** state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 15, 255, 256, 257, 380, 400, 410, 415, 416, 417, 420, 500, 1023, 1024, 5000, 70000};
    char* buf = malloc(70001);
    assert_non_null(buf);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        fill_letters(buf, n);
        for (volatile int how = 0; how < 3; how++) {
            volatile int caught = 0;
            sub_heap {
                txc_heap_t* h = txc_heap_current();
                try {
                    if (how == 0)
                        throw_plain(buf);
                    else if (how == 1)
                        throw(my_error, "%s", buf);
                    errno = ENOENT;
                    throw_errno(my_error, "%s", buf);
                } catch (my_error, e) {
                    caught = 1;
                    if (how < 2) {
                        assert_int_equal(strlen(e->message), n);
                        assert_memory_equal(e->message, buf, n + 1);
                        if (n) { /* a copy: the buffer may change */
                            buf[0] = '#';
                            assert_int_equal(e->message[0], 'a');
                            buf[0] = 'a';
                        }
                    } else {
                        char want[128];
                        snprintf(want, sizeof want, ": %s", strerror(ENOENT));
                        assert_int_equal(strlen(e->message), n + strlen(want));
                        assert_memory_equal(e->message, buf, n);
                        assert_string_equal(e->message + n, want);
                        assert_int_equal(e->errnum, ENOENT);
                    }
                    assert_ptr_equal(txc_heap_of(e), e->heap);
                    assert_ptr_equal(txc_heap_parent(e->heap), h);
                    txc_heap_stats_t st = stats_of(e->heap);
                    assert_int_equal(st.allocs, 1); /* e, with its message */
                    assert_true(st.bytes > strlen(e->message));
                    assert_int_equal(stats_of(h).allocs, 1); /* e's heap */
                    if (n % 2)
                        txc_free(e);
                }
                assert_int_equal(caught, 1);
                assert_int_equal(stats_of(h).allocs, n % 2 ? 0 : 1);
            }
        }
    }
    free(buf);
}

/* A format that is a string literal without % is the message itself: the
 * exception is the same as for any other message. */
static void literal_messages(void** state)
{
    (void)state;
    static const char* const named = "a named literal";
    volatile int caught = 0;
    sub_heap {
        txc_heap_t* volatile h = txc_heap_current();
        try {
            throw(my_error, "just a literal");
        } catch (my_error, e) {
            caught++;
            assert_string_equal(e->message, "just a literal");
            assert_int_equal(e->errnum, 0);
            assert_ptr_equal(txc_heap_of(e), e->heap);
            assert_int_equal(stats_of(e->heap).allocs, 1);
            char* d = txc_exception_describe(e);
            assert_non_null(strstr(d, "my_error: just a literal"));
            txc_free(d);
            try {
                throw_fwd(other_error, e, "forwarded");
            } catch (other_error, f) {
                caught++;
                assert_string_equal(f->message, "forwarded");
                assert_string_equal(f->cause->message, "just a literal");
                txc_free(f);
            }
        }
        try {
            throw_data(my_error, txc_strdup("payload"), "with data, literal");
        } catch (my_error, e) {
            caught++;
            assert_string_equal(e->message, "with data, literal");
            assert_string_equal(e->data, "payload");
            txc_free(e);
        }
        try {
            throw(my_error, named);
        } catch (my_error, e) {
            caught++;
            assert_string_equal(e->message, "a named literal");
            txc_free(e);
        }
        try {
            throw(my_error, "100%% sure");
        } catch (my_error, e) {
            caught++;
            assert_string_equal(e->message, "100% sure");
            txc_free(e);
        }
        assert_int_equal(stats_of(h).total_allocs, 0);
    }
    assert_int_equal(caught, 5);
}

static int dtor_runs;
static void count_dtor(void* p)
{
    (void)p;
    dtor_runs++;
}

/* A caught exception is its heap: freeing it frees what is on that heap
 * too (destructors run), and it is refused while a block uses that heap. */
static void freeing_a_caught_exception_frees_its_heap(void** state)
{
    (void)state;
    dtor_runs = 0;
    sub_heap {
        txc_heap_t* h = txc_heap_current();
        txc_exception_t* volatile kept[5] = {NULL};
        for (volatile int i = 0; i < 5; i++) {
            try {
                throw(my_error, "e%d", i);
            } catch (my_error, e) {
                kept[i] = e;
            }
        }
        assert_int_equal(stats_of(h).allocs, 5);
        txc_set_destructor(kept[0], count_dtor); /* on the object */
        txc_set_destructor(kept[1]->heap, count_dtor); /* on its heap */
        switch_heap(kept[2]->heap) { /* something more on its heap */
            int* x = txc_alloc(sizeof *x);
            txc_set_destructor(x, count_dtor);
            txc_alloc(100);
        }
        volatile int refused = 0;
        switch_heap(kept[3]->heap) {
            try {
                txc_free(kept[3]); /* its heap is current */
            } catch (exception_arg, e) {
                refused++;
            }
            sub_heap {
                try {
                    txc_free(kept[3]); /* a block runs on it */
                } catch (exception_arg, e) {
                    refused++;
                }
            }
        }
        assert_int_equal(refused, 2);
        for (int i = 0; i < 5; i++)
            txc_free(kept[i]);
        assert_int_equal(dtor_runs, 3);
        assert_int_equal(stats_of(h).allocs, 0);
        assert_int_equal(stats_of(h).bytes, 0);
    }
}

/* Causes nest: each heap below the one of the exception that forwards it.
 * Freeing the outermost frees them all; a cause freed first leaves the
 * others intact. */
/* txc_free of a lone caught exception takes a shortcut unless its heap has
 * been the target of a switch_heap; both ways free it from the try's heap. */
static void freeing_an_exception_whose_heap_was_current(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* h = txc_heap_current();
        txc_exception_t* volatile kept[2] = {NULL};
        for (volatile int i = 0; i < 2; i++) {
            try {
                throw(my_error, "kept");
            } catch (my_error, e) {
                kept[i] = e;
            }
        }
        assert_int_equal(stats_of(h).allocs, 2);
        switch_heap(kept[0]->heap) {
            assert_ptr_equal(txc_heap_current(), kept[0]->heap);
        }
        volatile int refused = 0;
        switch_heap(kept[0]->heap) {
            sub_heap {
                try {
                    txc_free(kept[0]); /* a block runs on it */
                } catch (exception_arg, e) {
                    refused++;
                }
            }
        }
        assert_int_equal(refused, 1);
        txc_free(kept[0]);
        assert_int_equal(stats_of(h).allocs, 1);
        txc_free(kept[1]);
        assert_int_equal(stats_of(h).allocs, 0);
        assert_ptr_equal(txc_heap_current(), h);
    }
}

static void nested_causes_are_freed_with_the_outermost(void** state)
{
    (void)state;
    for (volatile int free_cause_first = 0; free_cause_first < 2; free_cause_first++) {
        sub_heap {
            txc_heap_t* volatile h = txc_heap_current();
            txc_exception_t* volatile top = NULL;
            try {
                try {
                    try {
                        throw(exception_io, "one");
                    } catch (exception_io, e) {
                        throw_fwd(my_error, e, "two");
                    }
                } catch (my_error, e) {
                    throw_fwd(other_error, e, "three %d", 3);
                }
            } catch (other_error, e) {
                top = e;
            }
            assert_string_equal(top->message, "three 3");
            assert_string_equal(top->cause->message, "two");
            assert_string_equal(top->cause->cause->message, "one");
            assert_ptr_equal(txc_heap_parent(top->cause->cause->heap), top->cause->heap);
            assert_int_equal(stats_of(h).allocs, 1);
            assert_int_equal(stats_of(top->heap).total_allocs, 5); /* three objects, two heaps below */
            if (free_cause_first) {
                txc_free(top->cause->cause);
                assert_int_equal(stats_of(top->heap).total_allocs, 3);
                assert_string_equal(top->cause->message, "two");
            }
            txc_free(top);
            assert_int_equal(stats_of(h).total_allocs, 0);
        }
    }
}

/* A caught exception moves as a whole, to the parent or anywhere. */
static void caught_exception_can_be_escaped_and_imported(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* volatile outer = txc_heap_current();
        txc_heap_t* volatile other = txc_heap_new();
        txc_exception_t* volatile kept = NULL;
        sub_heap {
            try {
                throw(my_error, "moving");
            } catch (my_error, e) {
                kept = e;
            }
            escape(kept);
        }
        assert_ptr_equal(txc_heap_parent(kept->heap), outer);
        switch_heap(other) { import(kept); }
        assert_ptr_equal(txc_heap_parent(kept->heap), other);
        assert_string_equal(kept->message, "moving");
        assert_int_equal(stats_of(other).allocs, 1);
        txc_free(other);
        assert_int_equal(stats_of(outer).total_allocs, 0);
    }
}

static void throw_errno_records_errno(void** state)
{
    (void)state;
    volatile int caught = 0;
    try {
        errno = ENOENT;
        throw_errno(exception_io, "open %s", "x.txt");
    } catch (exception_io, e) {
        caught = 1;
        assert_int_equal(e->errnum, ENOENT);
        char want[256];
        snprintf(want, sizeof want, "open x.txt: %s", strerror(ENOENT));
        assert_string_equal(e->message, want);
    }
    assert_int_equal(caught, 1);
    try {
        throw(exception_io, "plain");
    } catch (exception_io, e) {
        assert_int_equal(e->errnum, 0);
    }
}

static void throw_fwd_moves_the_cause(void** state)
{
    (void)state;
    volatile int caught = 0;
    sub_heap {
        txc_heap_t* h = txc_heap_current();
        try {
            try {
                throw(exception_io, "low level");
            } catch (exception_io, low) {
                throw_fwd(my_error, low, "high level %d", 2);
            }
        } catch (my_error, e) {
            caught = 1;
            assert_string_equal(e->message, "high level 2");
            assert_non_null(e->cause);
            assert_string_equal(e->cause->message, "low level");
            assert_ptr_equal(txc_heap_parent(e->cause->heap), e->heap);
            assert_int_equal(stats_of(h).allocs, 1); /* only the new exception */
            char* d = txc_exception_describe(e);
            assert_non_null(strstr(d, "my_error: high level 2"));
            assert_non_null(strstr(d, "caused by exception_io: low level"));
            assert_non_null(strstr(d, "test_except.c"));
        }
    }
    assert_int_equal(caught, 1);
}

struct payload {
    int line, column;
};

static void throw_data_moves_the_payload(void** state)
{
    (void)state;
    volatile int caught = 0;
    sub_heap {
        try {
            sub_heap {
                struct payload* p = new(struct payload);
                p->line = 3;
                p->column = 14;
                throw_data(my_error, p, "at %d:%d", p->line, p->column);
            }
        } catch (my_error, e) {
            caught = 1;
            struct payload* p = e->data;
            assert_int_equal(p->line, 3);
            assert_int_equal(p->column, 14);
            assert_ptr_equal(txc_heap_of(p), e->heap);
        }
    }
    assert_int_equal(caught, 1);
}

static void rethrow_throws_the_same_exception(void** state)
{
    (void)state;
    txc_exception_t* volatile first = NULL;
    volatile int caught = 0;
    try {
        try {
            throw(exception_io, "again");
        } catch (exception_io, e) {
            first = e;
            rethrow(e);
        }
    } catch (exception_io, e) {
        caught = 1;
        assert_ptr_equal(e, first);
        assert_string_equal(e->message, "again");
        assert_ptr_equal(txc_heap_parent(e->heap), txc_heap_current());
    }
    assert_int_equal(caught, 1);
}

static void rethrow_of_non_exception_is_refused(void** state)
{
    (void)state;
    volatile int caught = 0;
    sub_heap {
        txc_exception_t* volatile fake = txc_alloc_zero(sizeof(txc_exception_t));
        try {
            rethrow(fake);
        } catch (exception_arg, e) {
            caught++;
        }
        try {
            rethrow(NULL);
        } catch (exception_arg, e) {
            caught++;
        }
    }
    assert_int_equal(caught, 2);
}

static void nomem_is_thrown_and_caught(void** state)
{
    (void)state;
    volatile int caught = 0;
    sub_heap {
        try {
            throw(exception_nomem, "pretend %d", 1);
        } catch (exception_nomem, e) {
            caught = 1;
            assert_string_equal(e->message, "pretend 1");
            /* copied onto the try's heap since memory is available */
            assert_non_null(e->heap);
            assert_ptr_equal(txc_heap_parent(e->heap), txc_heap_current());
        }
        try {
            throw(exception_nomem, "pretend, a literal");
        } catch (exception_nomem, e) {
            caught++;
            assert_ptr_equal(e->type, exception_nomem);
            assert_string_equal(e->message, "pretend, a literal");
            assert_non_null(e->heap);
            assert_ptr_equal(txc_heap_parent(e->heap), txc_heap_current());
        }
    }
    assert_int_equal(caught, 2);
}

/* With memory, exception_nomem is an exception like the others: throw_fwd,
 * throw_data and throw_errno give it their cause, data and errno. */
static void nomem_takes_a_cause_data_and_errno(void** state)
{
    (void)state;
    volatile int caught = 0;
    sub_heap {
        txc_heap_t* h = txc_heap_current();
        try {
            try {
                throw(exception_io, "low %d", 1);
            } catch (exception_io, low) {
                throw_fwd(exception_nomem, low, "forwarded %d", 2);
            }
        } catch (exception_nomem, e) {
            caught++;
            assert_string_equal(e->message, "forwarded 2");
            assert_non_null(e->cause);
            assert_ptr_equal(e->cause->type, exception_io);
            assert_string_equal(e->cause->message, "low 1");
            assert_ptr_equal(txc_heap_parent(e->cause->heap), e->heap);
            assert_int_equal(stats_of(h).allocs, 1); /* the cause moved off h */
            txc_free(e);
        }
        char* volatile payload = txc_strdup("payload");
        try {
            throw_data(exception_nomem, payload, "with data");
        } catch (exception_nomem, e) {
            caught++;
            assert_ptr_equal(e->data, payload);
            assert_ptr_equal(txc_heap_of(payload), e->heap);
            assert_string_equal(e->message, "with data");
            txc_free(e);
        }
        assert_int_equal(stats_of(h).allocs, 0);
        try {
            errno = ENOMEM;
            throw_errno(exception_nomem, "mapping");
        } catch (exception_nomem, e) {
            caught++;
            assert_int_equal(e->errnum, ENOMEM);
            assert_non_null(strstr(e->message, "mapping: "));
            assert_non_null(strstr(e->message, strerror(ENOMEM)));
        }
    }
    assert_int_equal(caught, 3);
}

/* ---- uncaught ---- */

static void do_uncaught(void)
{
    sub_heap { throw(my_error, "nobody catches %s", "this"); }
}

static void do_uncaught_in_try(void)
{
    try {
        throw(other_error, "not listed");
    } catch (exception_io, e) {
        fputs("wrong catch\n", stderr);
    }
}

static void do_fatal(void)
{
    try {
        throw(exception_fatal, "fatal %d", 9);
    } catch (exception_any, e) {
        fputs("caught fatal: wrong\n", stderr);
    }
}

static void do_uncaught_through_finally(void)
{
    try {
        sub_heap { throw(my_error, "through a finally"); }
    } finally {
        fputs("finally ran\n", stderr);
    }
}

static void my_handler(const txc_exception_t* e)
{
    fprintf(stderr, "custom handler saw [%s] %s\n", e->type->name, e->message);
}

static void do_custom_handler(void)
{
    txc_set_uncaught_handler(my_handler);
    throw(exception_arg, "custom");
}

static void uncaught_goes_to_the_handler_and_aborts(void** state)
{
    (void)state;
    expect_abort(do_uncaught, "uncaught", "my_error", "nobody catches this", "test_except.c:",
                 "do_uncaught", "backtrace", NULL);
    expect_abort(do_uncaught_in_try, "other_error", "not listed", NULL);
    expect_abort(do_fatal, "exception_fatal", "fatal 9", NULL);
    /* finally blocks on the way run; the backtrace is still the throw's */
    expect_abort(do_uncaught_through_finally, "finally ran", "uncaught", "through a finally",
                 "do_uncaught_through_finally", NULL);
    expect_abort(do_custom_handler, "custom handler saw [exception_arg] custom", NULL);
}

static void set_uncaught_handler_returns_previous(void** state)
{
    (void)state;
    txc_uncaught_handler_t old = txc_set_uncaught_handler(my_handler);
    assert_ptr_equal(txc_set_uncaught_handler(old), my_handler);
}

/* ---- misuse (issue 6: rules of section 2 the suite missed) ---- */

static void throw_of_a_null_type_is_exception_arg(void** state)
{
    (void)state;
    volatile int caught = 0;
    const txc_exception_type_t* volatile none = NULL;
    try {
        throw(none, "no type");
    } catch (exception_arg, e) {
        caught = 1;
        assert_ptr_equal(e->type, exception_arg);
        assert_string_equal(e->message, "no type");
    }
    assert_int_equal(caught, 1);
}

static void throw_data_of_a_running_heap_is_refused(void** state)
{
    (void)state;
    volatile int caught = 0;
    sub_heap {
        txc_heap_t* running = txc_heap_current();
        try {
            throw_data(my_error, running, "payload is a running heap");
        } catch (exception_arg, e) {
            caught = 1;
            assert_non_null(strstr(e->message, "throw_data"));
        } catch (my_error, e) {
            fail_msg("the running heap was moved onto the exception");
        }
        assert_ptr_equal(txc_heap_current(), running);
    }
    assert_int_equal(caught, 1);
}

static void throwing_handler(const txc_exception_t* e)
{
    (void)e;
    throw(exception_io, "from the handler");
}

static void do_handler_throws(void)
{
    txc_set_uncaught_handler(throwing_handler);
    throw(my_error, "nobody catches this");
}

static void exception_from_the_uncaught_handler_aborts(void** state)
{
    (void)state;
    expect_abort(do_handler_throws, "exception thrown by the uncaught handler", NULL);
}

/* ---- threads ---- */

static void* thrower(void* arg)
{
    long id = (long)arg;
    volatile long caught = 0;
    txc_heap_t* root = txc_heap_current();
    for (int i = 0; i < 20000; i++) {
        sub_heap {
            char* s = txc_sprintf("%ld-%d", id, i);
            try {
                sub_heap {
                    txc_alloc(40);
                    throw(exception_io, "%s", s);
                }
            } catch (exception_io, e) {
                char want[64];
                snprintf(want, sizeof want, "%ld-%d", id, i);
                if (strcmp(e->message, want) == 0 && txc_heap_current() != root)
                    caught++;
            }
        }
    }
    return (void*)caught;
}

static void threads_throw_without_interfering(void** state)
{
    (void)state;
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, thrower, (void*)i);
    for (int i = 0; i < 2; i++) {
        void* r;
        pthread_join(t[i], &r);
        assert_int_equal((long)r, 20000);
    }
}

/* txc_exception_is answers false for a NULL exception or type. */
static void exception_is_false_for_null(void** state)
{
    (void)state;
    volatile int caught = 0;
    try {
        throw(exception_io, "x");
    } catch (exception_any, e) {
        caught = 1;
        assert_true(txc_exception_is(e, exception_io));
        assert_false(txc_exception_is(e, NULL));
        assert_false(txc_exception_is(NULL, exception_io));
        txc_free(e);
    }
    assert_int_equal(caught, 1);
}

/* describe prints "?" for a missing file or function and nothing for a
 * missing message (an exception object built by hand), and stops a cause
 * chain after 64 links. */
static void describe_tolerates_missing_fields_and_long_chains(void** state)
{
    (void)state;
    sub_heap {
        txc_exception_t bare = {.type = exception_io, .line = 7};
        char* d = txc_exception_describe(&bare);
        assert_string_equal(d, "exception_io:  (at ?:7 in ?)");
        txc_exception_t chain[70];
        for (int i = 0; i < 70; i++) {
            chain[i] = (txc_exception_t){.type = exception_arg, .message = "m", .file = "f", .line = i, .func = "g"};
            chain[i].cause = i + 1 < 70 ? &chain[i + 1] : NULL;
        }
        d = txc_exception_describe(chain);
        int lines = 1;
        for (const char* c = d; *c; c++)
            lines += *c == '\n';
        assert_int_equal(lines, 64);
        assert_non_null(strstr(d, "(at f:63 in g)"));
        assert_null(strstr(d, "(at f:64 in g)"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(user_types_form_a_tree),
        TEST(exception_is_false_for_null),
        TEST(describe_tolerates_missing_fields_and_long_chains),
        TEST(exception_any_catches_everything_catchable),
        TEST(non_matching_catch_lets_it_through),
        TEST(many_catch_clauses),
        TEST(many_catch_clauses_with_finally),
        TEST(finally_runs_on_all_three_paths),
        TEST(break_and_continue_end_blocks_not_loops),
        TEST(return_from_try_without_finally_pops_it),
        TEST(leaving_try_with_finally_by_return_is_fatal),
        TEST(unwinding_frees_every_sub_heap),
        TEST(unwinding_restores_switched_heaps),
        TEST(unwinding_mixes_empty_and_busy_sub_heaps),
        TEST(unwinding_sub_heaps_on_the_global_heap),
        TEST(empty_sub_heaps_passed_by_a_throw_come_back_new),
        TEST(throw_frees_what_each_pooled_heap_took),
        TEST(unwinding_stops_at_a_finally_between_empty_sub_heaps),
        TEST(try_frames_record_how_they_saved_their_context),
        TEST(try_statements_built_either_way_catch_each_others_throws),
        TEST(locals_kept_in_registers_survive_a_throw),
        TEST(nested_try_statements),
        TEST(throw_in_catch_propagates_after_finally),
        TEST(throw_in_finally_takes_passing_as_cause),
        TEST(dropped_passing_exception_may_fill_an_empty_sub_heap),
        TEST(passing_exception_leaks_nothing),
        TEST(thousands_of_throws_keep_memory_flat),
        TEST(caught_exception_belongs_to_try_heap),
        TEST(messages_of_every_length),
        TEST(literal_messages),
        TEST(freeing_a_caught_exception_frees_its_heap),
        TEST(freeing_an_exception_whose_heap_was_current),
        TEST(nested_causes_are_freed_with_the_outermost),
        TEST(caught_exception_can_be_escaped_and_imported),
        TEST(throw_errno_records_errno),
        TEST(throw_fwd_moves_the_cause),
        TEST(throw_data_moves_the_payload),
        TEST(rethrow_throws_the_same_exception),
        TEST(rethrow_of_non_exception_is_refused),
        TEST(nomem_is_thrown_and_caught),
        TEST(nomem_takes_a_cause_data_and_errno),
        TEST(uncaught_goes_to_the_handler_and_aborts),
        TEST(set_uncaught_handler_returns_previous),
        TEST(threads_throw_without_interfering),
        TEST(throw_of_a_null_type_is_exception_arg),
        TEST(throw_data_of_a_running_heap_is_refused),
        TEST(exception_from_the_uncaught_handler_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
