/*
 * test_heap.c - the heap stack (API.md section 1): blocks, allocation,
 * freeing, moving, destructors, statistics, misuse.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>

/* ---- a destructor log ---- */

static int dlog[64];
static int ndlog;

static void log_dtor(void* p)
{
    dlog[ndlog++] = *(int*)p;
}

static int* tracked_int(int id)
{
    int* p = txc_alloc(sizeof *p);
    *p = id;
    txc_set_destructor(p, log_dtor);
    return p;
}

static void dlog_reset(void) { ndlog = 0; }

/* ---- sub_heap ---- */

static void sub_heap_frees_everything_on_normal_exit(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_stats_t before = stats_of(root);
    dlog_reset();
    sub_heap {
        assert_ptr_not_equal(txc_heap_current(), root);
        assert_ptr_equal(txc_heap_parent(txc_heap_current()), root);
        tracked_int(1);
        for (int i = 0; i < 1000; i++)
            txc_alloc(100);
        txc_heap_stats_t in = stats_of(root);
        assert_int_equal(in.allocs, before.allocs + 1); /* the sub heap itself */
        assert_int_equal(in.total_allocs, before.total_allocs + 1 + 1001);
        assert_int_equal(in.total_bytes, before.total_bytes + sizeof(int) + 100000);
    }
    assert_ptr_equal(txc_heap_current(), root);
    assert_int_equal(ndlog, 1);
    txc_heap_stats_t after = stats_of(root);
    assert_int_equal(after.total_allocs, before.total_allocs);
    assert_int_equal(after.total_bytes, before.total_bytes);
}

static void sub_heap_break_and_continue_end_the_block(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    int iterations = 0, after_break = 0;
    dlog_reset();
    for (int i = 0; i < 3; i++) {
        iterations++;
        sub_heap {
            tracked_int(i);
            if (i == 0)
                break; /* ends the sub_heap only */
            if (i == 1)
                continue; /* ends the sub_heap only */
            after_break++;
        }
        assert_ptr_equal(txc_heap_current(), root);
    }
    assert_int_equal(iterations, 3);
    assert_int_equal(after_break, 1);
    assert_int_equal(ndlog, 3);
}

static int leave_by_return(void)
{
    sub_heap {
        tracked_int(7);
        sub_heap {
            tracked_int(8);
            return 42;
        }
    }
    return 0;
}

static void sub_heap_return_frees_every_level(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    size_t before = stats_of(root).total_allocs;
    dlog_reset();
    assert_int_equal(leave_by_return(), 42);
    assert_ptr_equal(txc_heap_current(), root);
    assert_int_equal(ndlog, 2);
    assert_int_equal(dlog[0], 8); /* inner block first */
    assert_int_equal(dlog[1], 7);
    assert_int_equal(stats_of(root).total_allocs, before);
}

static void sub_heap_goto_frees(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    dlog_reset();
    sub_heap {
        tracked_int(1);
        sub_heap {
            tracked_int(2);
            goto out;
        }
    }
out:
    assert_ptr_equal(txc_heap_current(), root);
    assert_int_equal(ndlog, 2);
}

static void sub_heap_switch_in_a_switch_statement(void** state)
{
    (void)state;
    int reached = 0;
    switch (1) {
    case 1:
        sub_heap {
            break; /* ends the sub_heap, not the switch */
        }
        reached = 1;
        break;
    }
    assert_int_equal(reached, 1);
}

static void empty_sub_heap_takes_no_memory(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_stats_t s = stats_of(txc_heap_current());
        assert_int_equal(s.allocs, 0);
        assert_int_equal(s.total_bytes, 0);
        assert_null(txc_heap_current()->chunk);
    }
}

/* ---- switch_heap ---- */

static void switch_heap_makes_heap_current_and_restores(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_t* h = txc_heap_new();
    void* p = NULL;
    switch_heap(h) {
        assert_ptr_equal(txc_heap_current(), h);
        p = txc_alloc(10);
    }
    assert_ptr_equal(txc_heap_current(), root);
    assert_ptr_equal(txc_heap_of(p), h);
    for (int i = 0; i < 2; i++) {
        switch_heap(h) {
            break;
        }
        assert_ptr_equal(txc_heap_current(), root);
    }
    txc_free(h);
}

static txc_heap_t* switch_and_return(txc_heap_t* h)
{
    switch_heap(h) {
        return txc_heap_current();
    }
    return NULL;
}

static void switch_heap_return_restores(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_t* h = txc_heap_new();
    assert_ptr_equal(switch_and_return(h), h);
    assert_ptr_equal(txc_heap_current(), root);
    txc_free(h);
}

static void switch_heap_null_is_refused(void** state)
{
    (void)state;
    volatile int caught = 0;
    try {
        switch_heap(NULL) { fail(); }
    } catch (exception_arg, e) {
        caught = 1;
    }
    assert_int_equal(caught, 1);
}

static void heap_in_use_cannot_be_freed(void** state)
{
    (void)state;
    txc_heap_t* h = txc_heap_new();
    volatile int caught = 0;
    switch_heap(h) {
        sub_heap {
            try {
                txc_free(h);
            } catch (exception_arg, e) {
                caught = 1;
                assert_non_null(strstr(e->message, "used by a running block"));
            }
        }
    }
    assert_int_equal(caught, 1);
    txc_free(h);
}

/* ---- allocation ---- */

static void alloc_is_aligned_and_sized(void** state)
{
    (void)state;
    sub_heap {
        for (size_t n = 0; n < 300; n++) {
            char* p = txc_alloc(n);
            assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
            memset(p, 0x5a, n);
        }
        char* big = txc_alloc(1 << 20);
        assert_int_equal((uintptr_t)big % alignof(max_align_t), 0);
        memset(big, 1, 1 << 20);
        txc_heap_stats_t s = stats_of(txc_heap_current());
        assert_int_equal(s.allocs, 301);
        assert_int_equal(s.bytes, 299 * 300 / 2 + (1 << 20));
    }
}

static void alloc_zero_size_gives_unique_pointers(void** state)
{
    (void)state;
    sub_heap {
        void* a = txc_alloc(0);
        void* b = txc_alloc(0);
        assert_non_null(a);
        assert_ptr_not_equal(a, b);
        assert_ptr_equal(txc_heap_of(a), txc_heap_current());
    }
}

static void new_and_alloc_zero_are_zeroed(void** state)
{
    (void)state;
    struct s { long a[40]; };
    sub_heap {
        for (int i = 0; i < 50; i++) {
            char* junk = txc_alloc(sizeof(struct s));
            memset(junk, 0xff, sizeof(struct s));
            txc_free(junk); /* the room is reused at once */
            struct s* p = new(struct s);
            for (int k = 0; k < 40; k++)
                assert_int_equal(p->a[k], 0);
            char* q = txc_alloc_zero(30000);
            for (int k = 0; k < 30000; k++)
                assert_int_equal(q[k], 0);
        }
    }
}

static void alloc_buffer_gives_at_least_min(void** state)
{
    (void)state;
    sub_heap {
        size_t got = 0;
        char* p = txc_alloc_buffer(100, &got);
        assert_true(got >= 100);
        memset(p, 1, got);
        assert_int_equal(stats_of(txc_heap_current()).bytes, got);
        char* q = txc_alloc_buffer(100000, &got);
        assert_true(got >= 100000);
        memset(q, 1, got);
        assert_non_null(txc_alloc_buffer(5, NULL));
    }
}

static void realloc_keeps_contents_and_heap(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* h = txc_heap_current();
        char* p = txc_realloc(NULL, 10);
        assert_ptr_equal(txc_heap_of(p), h);
        strcpy(p, "123456789");
        txc_heap_t* other = txc_heap_new();
        switch_heap(other) {
            /* grows on p's heap, not the current one */
            for (size_t n = 20; n < 200000; n *= 2) {
                p = txc_realloc(p, n);
                assert_ptr_equal(txc_heap_of(p), h);
                assert_string_equal(p, "123456789");
            }
        }
        p = txc_realloc(p, 4);
        assert_memory_equal(p, "1234", 4);
        assert_int_equal(stats_of(h).bytes, 4);
        assert_int_equal(stats_of(h).allocs, 2); /* p and the heap other */
    }
}

static void realloc_last_allocation_grows_in_place(void** state)
{
    (void)state;
    sub_heap {
        char* p = txc_alloc(16);
        char* q = txc_realloc(p, 64);
        assert_ptr_equal(p, q);
    }
}

static void realloc_moves_the_destructor(void** state)
{
    (void)state;
    dlog_reset();
    sub_heap {
        int* p = tracked_int(5);
        txc_alloc(1);
        p = txc_realloc(p, 100000);
        assert_int_equal(*p, 5);
        assert_int_equal(ndlog, 0);
    }
    assert_int_equal(ndlog, 1);
    assert_int_equal(dlog[0], 5);
}

static void huge_allocation_throws_nomem_and_leaks_nothing(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* h = txc_heap_current();
        size_t sizes[] = {SIZE_MAX, SIZE_MAX - 8, SIZE_MAX / 2, (size_t)1 << 62};
        for (volatile size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            volatile int caught = 0;
            try {
                txc_alloc(sizes[i]);
            } catch (exception_nomem, e) {
                caught = 1;
                txc_free(e);
            }
            assert_int_equal(caught, 1);
            assert_int_equal(stats_of(h).total_allocs, 0);
        }
        volatile int caught = 0;
        try {
            txc_realloc(txc_alloc(8), SIZE_MAX);
        } catch (exception_nomem, e) {
            caught = 1;
        }
        assert_int_equal(caught, 1);
    }
}

/* ---- heaps as allocations ---- */

static void heap_new_is_an_allocation_on_current(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* outer = txc_heap_current();
        txc_heap_t* h = txc_heap_new();
        assert_ptr_equal(txc_heap_parent(h), outer);
        assert_ptr_equal(txc_heap_of(h), outer);
        assert_int_equal(stats_of(outer).allocs, 1);
        assert_int_equal(stats_of(outer).bytes, 0);
        switch_heap(h) {
            txc_alloc(10);
            txc_heap_t* g = txc_heap_new();
            switch_heap(g) { txc_alloc(20); }
        }
        txc_heap_stats_t s = stats_of(outer);
        assert_int_equal(s.total_allocs, 4);
        assert_int_equal(s.total_bytes, 30);
    }
}

static void root_and_global_have_no_parent(void** state)
{
    (void)state;
    assert_null(txc_heap_parent(txc_heap_current()));
    void* g = NULL;
    global_heap { g = txc_alloc(8); }
    assert_null(txc_heap_parent(txc_heap_of(g)));
    txc_free(g);
}

static void free_heap_frees_its_tree(void** state)
{
    (void)state;
    dlog_reset();
    sub_heap {
        txc_heap_t* h = txc_heap_new();
        switch_heap(h) {
            tracked_int(1);
            txc_heap_t* g = txc_heap_new();
            switch_heap(g) { tracked_int(2); }
            tracked_int(3);
        }
        txc_free(h);
        assert_int_equal(ndlog, 3);
        assert_int_equal(dlog[0], 3);
        assert_int_equal(dlog[1], 2);
        assert_int_equal(dlog[2], 1);
        assert_int_equal(stats_of(txc_heap_current()).total_allocs, 0);
    }
}

static void free_null_does_nothing(void** state)
{
    (void)state;
    txc_free(NULL);
}

static void free_single_allocation(void** state)
{
    (void)state;
    dlog_reset();
    sub_heap {
        int* a = tracked_int(1);
        txc_alloc(3);
        txc_free(a);
        assert_int_equal(ndlog, 1);
        txc_heap_stats_t s = stats_of(txc_heap_current());
        assert_int_equal(s.allocs, 1);
        assert_int_equal(s.bytes, 3);
    }
    assert_int_equal(ndlog, 1);
}

/* ---- destructors ---- */

static void destructors_run_in_reverse_arrival_order(void** state)
{
    (void)state;
    dlog_reset();
    sub_heap {
        int* a = txc_alloc(sizeof(int));
        *a = 1;
        int* b = txc_alloc(sizeof(int));
        *b = 2;
        int* c = txc_alloc(sizeof(int));
        *c = 3;
        /* set out of order: the order is that of arrival, not of setting */
        txc_set_destructor(b, log_dtor);
        txc_set_destructor(c, log_dtor);
        txc_set_destructor(a, log_dtor);
        for (int i = 0; i < 2000; i++) /* several chunks */
            txc_alloc(100);
        tracked_int(4);
    }
    assert_int_equal(ndlog, 4);
    assert_int_equal(dlog[0], 4);
    assert_int_equal(dlog[1], 3);
    assert_int_equal(dlog[2], 2);
    assert_int_equal(dlog[3], 1);
}

static void moved_allocation_arrives_when_moved(void** state)
{
    (void)state;
    dlog_reset();
    sub_heap {
        int* x = tracked_int(1);
        int* y = NULL;
        sub_heap {
            y = tracked_int(2);
            escape(y); /* arrives on the outer heap after x */
        }
        assert_int_equal(ndlog, 0);
        tracked_int(3);
        (void)x;
    }
    assert_int_equal(ndlog, 3);
    assert_int_equal(dlog[0], 3);
    assert_int_equal(dlog[1], 2);
    assert_int_equal(dlog[2], 1);
}

static void null_destructor_removes_it(void** state)
{
    (void)state;
    dlog_reset();
    sub_heap {
        int* a = tracked_int(1);
        txc_set_destructor(a, NULL);
        void* b = txc_alloc(4);
        txc_set_destructor(b, NULL);
    }
    assert_int_equal(ndlog, 0);
}

static int seen_value;

struct pair {
    int* older;
};

static void pair_dtor(void* p)
{
    struct pair* pr = p;
    seen_value = *pr->older; /* arrived before: still valid */
}

static void destructor_may_use_what_arrived_before(void** state)
{
    (void)state;
    seen_value = 0;
    sub_heap {
        int* older = txc_alloc(sizeof(int));
        *older = 99;
        struct pair* pr = new(struct pair);
        pr->older = older;
        txc_set_destructor(pr, pair_dtor);
    }
    assert_int_equal(seen_value, 99);
}

static int contents_freed_when_heap_dtor_ran = -1;

static void heap_dtor(void* h)
{
    (void)h;
    contents_freed_when_heap_dtor_ran = ndlog;
}

static void destructor_of_a_heap_runs_before_its_contents(void** state)
{
    (void)state;
    dlog_reset();
    sub_heap {
        txc_heap_t* h = txc_heap_new();
        switch_heap(h) { tracked_int(11); }
        txc_set_destructor(h, heap_dtor);
    }
    assert_int_equal(contents_freed_when_heap_dtor_ran, 0);
    assert_int_equal(ndlog, 1);
}

/* ---- escape / import ---- */

static void escape_moves_to_parent_keeping_address(void** state)
{
    (void)state;
    txc_heap_t* outer;
    char* s = NULL;
    sub_heap {
        outer = txc_heap_current();
        sub_heap {
            s = txc_alloc(6);
            strcpy(s, "hello");
            char* r = escape(s);
            assert_ptr_equal(r, s);
            assert_ptr_equal(txc_heap_of(s), outer);
            assert_int_equal(stats_of(txc_heap_current()).allocs, 0);
            for (int i = 0; i < 5000; i++) /* more chunks: the escaped one stays */
                memset(txc_alloc(64), 0x77, 64);
        }
        assert_string_equal(s, "hello");
        assert_int_equal(stats_of(outer).allocs, 1);
        assert_int_equal(stats_of(outer).bytes, 6);
    }
}

/* A sub heap's first chunk is lent by its parent; what escapes from it to
 * the parent stays where it is, as the parent's own allocation, and the
 * parent's later allocations go after it. */
static void escape_to_lender_keeps_the_parent_from_reusing_it(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* outer = txc_heap_current();
        char* kept[3] = {NULL, NULL, NULL};
        txc_heap_stats_t before = stats_of(outer);
        sub_heap {
            char* a = txc_alloc(40);
            kept[0] = txc_alloc(24);
            char* b = txc_alloc(100);
            kept[1] = txc_alloc(7);
            kept[2] = txc_alloc(33);
            memset(a, 1, 40);
            memset(b, 2, 100);
            strcpy(kept[0], "first kept, not newest");
            strcpy(kept[1], "second");
            strcpy(kept[2], "third, the newest one");
            escape(kept[1]);
            escape(kept[0]);
            escape(kept[2]);
            for (int i = 0; i < 3; i++)
                assert_ptr_equal(txc_heap_of(kept[i]), outer);
            assert_int_equal(stats_of(txc_heap_current()).allocs, 2);
            assert_int_equal(stats_of(txc_heap_current()).bytes, 140);
            sub_heap { /* a nested one lends from the sub heap as before */
                memset(txc_alloc(64), 3, 64);
            }
        }
        txc_heap_stats_t after = stats_of(outer);
        assert_int_equal(after.allocs, before.allocs + 3);
        assert_int_equal(after.bytes, before.bytes + 24 + 7 + 33);
        /* the parent allocates again: nothing lands on what escaped */
        for (int i = 0; i < 50; i++)
            memset(txc_alloc(16), 0x55, 16);
        sub_heap {
            for (int i = 0; i < 50; i++)
                memset(txc_alloc(48), 0x66, 48);
        }
        assert_string_equal(kept[0], "first kept, not newest");
        assert_string_equal(kept[1], "second");
        assert_string_equal(kept[2], "third, the newest one");
        /* they are ordinary allocations of the parent now */
        txc_free(kept[1]);
        assert_int_equal(stats_of(outer).allocs, after.allocs + 50 - 1);
        kept[2] = txc_realloc(kept[2], 200);
        assert_string_equal(kept[2], "third, the newest one");
        escape(kept[0]); /* on to the grandparent, with a node this time */
        assert_ptr_equal(txc_heap_of(kept[0]), txc_heap_parent(outer));
        txc_free(kept[0]);
    }
}

/* Escaping twice through nested sub heaps, and importing into the lender
 * from inside a switch_heap, take the same path. */
static void escape_to_lender_through_nested_sub_heaps(void** state)
{
    (void)state;
    char *p = NULL, *q = NULL;
    sub_heap {
        txc_heap_t* top = txc_heap_current();
        sub_heap {
            txc_heap_t* mid = txc_heap_current();
            sub_heap {
                p = txc_alloc(20);
                strcpy(p, "two levels up");
                escape(p);
                assert_ptr_equal(txc_heap_of(p), mid);
                q = txc_alloc(20);
                strcpy(q, "imported");
                switch_heap(mid) {
                    import(q);
                }
                assert_ptr_equal(txc_heap_of(q), mid);
            }
            escape(p);
            assert_ptr_equal(txc_heap_of(p), top);
            memset(txc_alloc(500), 0, 500);
        }
        memset(txc_alloc(500), 0, 500);
        assert_string_equal(p, "two levels up");
        assert_int_equal(stats_of(top).allocs, 2);
        assert_int_equal(stats_of(top).bytes, 520);
    }
}

static void escape_list_and_import_list_move_each(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* outer = txc_heap_current();
        int *a, *b;
        double* c;
        sub_heap {
            a = new(int);
            b = new(int);
            c = new(double);
            escape_list(a, b, c);
            assert_ptr_equal(txc_heap_of(a), outer);
            assert_ptr_equal(txc_heap_of(b), outer);
            assert_ptr_equal(txc_heap_of(c), outer);
            import_list(a, c);
            assert_ptr_equal(txc_heap_of(a), txc_heap_current());
            assert_ptr_equal(txc_heap_of(b), outer);
            assert_ptr_equal(txc_heap_of(c), txc_heap_current());
        }
        assert_int_equal(stats_of(outer).total_allocs, 1);
    }
}

static void import_moves_to_current_from_anywhere(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* a = txc_heap_new();
        txc_heap_t* b = txc_heap_new();
        char* p = NULL;
        switch_heap(a) { p = txc_strdup("x"); }
        switch_heap(b) {
            assert_ptr_equal(import(p), p);
        }
        assert_ptr_equal(txc_heap_of(p), b);
        txc_free(a);
        assert_string_equal(p, "x");
        txc_free(b);
    }
}

static void escape_heap_moves_its_tree(void** state)
{
    (void)state;
    dlog_reset();
    sub_heap {
        txc_heap_t* outer = txc_heap_current();
        txc_heap_t* h = NULL;
        sub_heap {
            h = txc_heap_new();
            switch_heap(h) { tracked_int(1); }
            escape(h);
            assert_ptr_equal(txc_heap_parent(h), outer);
        }
        assert_int_equal(ndlog, 0);
        assert_int_equal(stats_of(outer).total_allocs, 2);
    }
    assert_int_equal(ndlog, 1);
}

static void escape_from_root_is_refused(void** state)
{
    (void)state;
    void* p = txc_alloc(8);
    volatile int caught = 0;
    try {
        escape(p);
    } catch (exception_arg, e) {
        caught = 1;
        assert_non_null(strstr(e->message, "no parent"));
    }
    assert_int_equal(caught, 1);
    assert_ptr_equal(txc_heap_of(p), txc_heap_current());
    txc_free(p);
}

static void import_cycle_is_refused(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* h = txc_heap_new();
        txc_heap_t* volatile g = NULL;
        switch_heap(h) { g = txc_heap_new(); }
        volatile int caught = 0;
        switch_heap(g) {
            try {
                import(h); /* h into a heap below it */
            } catch (exception_arg, e) {
                caught++;
            }
        }
        switch_heap(h) {
            try {
                import(h); /* into itself */
            } catch (exception_arg, e) {
                caught++;
            }
        }
        assert_int_equal(caught, 2);
        assert_ptr_equal(txc_heap_parent(g), h);
        assert_ptr_equal(txc_heap_parent(h), txc_heap_current());
    }
}

static void running_sub_heap_cannot_move(void** state)
{
    (void)state;
    volatile int caught = 0;
    sub_heap {
        txc_heap_t* volatile running = txc_heap_current(); /* volatile: GCC -O3 -Wclobbered */
        sub_heap {
            try {
                escape(running);
            } catch (exception_arg, e) {
                caught++;
            }
        }
        try {
            import(running);
        } catch (exception_arg, e) {
            caught++;
        }
        try {
            txc_free(running);
        } catch (exception_arg, e) {
            caught++;
        }
    }
    assert_int_equal(caught, 3);
}

static void escape_list_refusal_moves_nothing(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* volatile outer = txc_heap_current();
        sub_heap {
            txc_heap_t* running = txc_heap_current();
            void* volatile a = txc_alloc(1);
            volatile int caught = 0;
            try {
                escape_list(a, running);
            } catch (exception_arg, e) {
                caught = 1;
            }
            assert_int_equal(caught, 1);
            assert_ptr_equal(txc_heap_of(a), running);
        }
        assert_int_equal(stats_of(outer).total_allocs, 0);
    }
}

static void null_is_refused_by_moves(void** state)
{
    (void)state;
    volatile int caught = 0;
    try {
        txc_escape(NULL);
    } catch (exception_arg, e) {
        caught++;
    }
    try {
        txc_import(NULL);
    } catch (exception_arg, e) {
        caught++;
    }
    try {
        txc_heap_of(NULL);
    } catch (exception_arg, e) {
        caught++;
    }
    try {
        txc_heap_parent(NULL);
    } catch (exception_arg, e) {
        caught++;
    }
    try {
        txc_heap_stats(NULL, NULL);
    } catch (exception_arg, e) {
        caught++;
    }
    assert_int_equal(caught, 5);
}

/* ---- fatal misuse, in child processes ---- */

static char foreign_buf[64] __attribute__((aligned(16)));

static void do_free_foreign(void) { txc_free(foreign_buf + 32); }
static void do_escape_foreign(void) { txc_escape(foreign_buf + 16); }
static void do_import_foreign(void) { txc_import(foreign_buf + 17); }
static void do_realloc_foreign(void) { txc_realloc(foreign_buf + 32, 8); }
static void do_heap_of_foreign(void) { txc_heap_of(foreign_buf + 48); }

static void do_double_free(void)
{
    sub_heap {
        void* p = txc_alloc(8);
        txc_alloc(8);
        txc_free(p);
        txc_free(p);
    }
}

static void do_escape_freed(void)
{
    sub_heap {
        void* p = txc_alloc(8);
        txc_alloc(8);
        txc_free(p);
        sub_heap { txc_escape(p); }
    }
}

static void do_realloc_freed(void)
{
    sub_heap {
        void* p = txc_alloc(8);
        txc_alloc(8);
        txc_free(p);
        txc_realloc(p, 100);
    }
}

static void foreign_and_freed_pointers_are_fatal(void** state)
{
    (void)state;
    expect_abort(do_free_foreign, "exception_fatal", "txc_free", "not allocated by txc", NULL);
    expect_abort(do_escape_foreign, "txc_escape", "not allocated by txc", NULL);
    expect_abort(do_import_foreign, "txc_import", "not allocated by txc", NULL);
    expect_abort(do_realloc_foreign, "txc_realloc", "not allocated by txc", NULL);
    expect_abort(do_heap_of_foreign, "txc_heap_of", "not allocated by txc", NULL);
    expect_abort(do_double_free, "txc_free", "already freed", NULL);
    expect_abort(do_escape_freed, "txc_escape", "already freed", NULL);
    expect_abort(do_realloc_freed, "txc_realloc", "already freed", NULL);
}

static void do_throw_in_destructor_dtor(void* p)
{
    (void)p;
    throw(exception_io, "from a destructor");
}

static void do_throw_in_destructor(void)
{
    try {
        sub_heap {
            void* p = txc_alloc(1);
            txc_set_destructor(p, do_throw_in_destructor_dtor);
        }
    } catch (exception_any, e) {
        fputs("caught: wrong\n", stderr);
    }
}

static void exception_escaping_destructor_is_fatal(void** state)
{
    (void)state;
    expect_abort(do_throw_in_destructor, "exception_fatal", "escaped a destructor",
                 "from a destructor", NULL);
}

static void catching_dtor(void* p)
{
    (void)p;
    try {
        throw(exception_io, "inside");
    } catch (exception_io, e) {
        seen_value = 1;
    }
}

static void destructor_may_catch_its_own_exceptions(void** state)
{
    (void)state;
    seen_value = 0;
    sub_heap {
        void* p = txc_alloc(1);
        txc_set_destructor(p, catching_dtor);
    }
    assert_int_equal(seen_value, 1);
}

/* ---- debug poisoning ---- */

static void debug_build_poisons_memory(void** state)
{
    (void)state;
#ifdef TXC_DEBUG
    sub_heap {
        unsigned char* p = txc_alloc(64);
        for (int i = 0; i < 64; i++)
            assert_int_equal(p[i], 0xa0);
        unsigned char* z = txc_alloc_zero(64);
        for (int i = 0; i < 64; i++)
            assert_int_equal(z[i], 0);
        txc_alloc(1);
        txc_free(p); /* stays in the chunk: readable */
        for (int i = 0; i < 64; i++)
            assert_int_equal(p[i], 0xfe);
    }
#else
    skip();
#endif
}

/* ---- misuse of heaps (issue 6: rules of section 1 the suite missed) ---- */

static void non_heaps_and_root_heaps_are_refused(void** state)
{
    (void)state;
    volatile int caught = 0;
    sub_heap {
        void* volatile plain = txc_alloc(16);
        txc_heap_stats_t s;
        try {
            switch_heap((txc_heap_t*)plain) { fail(); }
        } catch (exception_arg, e) {
            caught++;
            assert_non_null(strstr(e->message, "not a heap"));
        }
        try {
            txc_heap_parent((txc_heap_t*)plain);
        } catch (exception_arg, e) {
            caught++;
        }
        try {
            txc_heap_stats(txc_heap_current(), NULL);
        } catch (exception_arg, e) {
            caught++;
        }
        (void)s;
    }
    txc_heap_t* root = txc_heap_current();
    size_t before = stats_of(root).total_allocs;
    try {
        txc_free(root);
    } catch (exception_arg, e) {
        caught++;
        assert_non_null(strstr(e->message, "root heap"));
        txc_free(e);
    }
    sub_heap {
        try {
            import(root); /* a root heap cannot move */
        } catch (exception_arg, e) {
            caught++;
            assert_non_null(strstr(e->message, "root heap"));
        }
    }
    assert_int_equal(caught, 5);
    assert_ptr_equal(txc_heap_current(), root);
    assert_null(txc_heap_parent(root));
    assert_int_equal(stats_of(root).total_allocs, before);
}

static void destructor_of_a_sub_heap_runs_when_it_ends(void** state)
{
    (void)state;
    dlog_reset();
    contents_freed_when_heap_dtor_ran = -1;
    sub_heap {
        tracked_int(21);
        txc_set_destructor(txc_heap_current(), heap_dtor);
        assert_int_equal(ndlog, 0);
    }
    /* the heap's own destructor first, then what it held */
    assert_int_equal(contents_freed_when_heap_dtor_ran, 0);
    assert_int_equal(ndlog, 1);
    assert_int_equal(dlog[0], 21);
}

static void self_freeing_dtor(void* p)
{
    dlog[ndlog++] = -1;
    txc_free(p); /* already being freed: ignored */
}

static void destructor_may_free_its_own_object(void** state)
{
    (void)state;
    dlog_reset();
    sub_heap {
        void* p = txc_alloc(8);
        txc_set_destructor(p, self_freeing_dtor);
        txc_free(p);
        assert_int_equal(ndlog, 1);
        assert_int_equal(stats_of(txc_heap_current()).allocs, 0);
    }
    assert_int_equal(ndlog, 1);
}

/* ---- the pool of sub_heap heaps ---- */

/* Deeper than the thread's pool of block heaps (128), so that the blocks
 * below use pooled heaps and those above heaps in their frames. */
#define DEEP 400
static int deep_dtors;
static void deep_dtor(void* p)
{
    (void)p;
    deep_dtors++;
}
define_exception(deep_bottom, exception_any);

static void nest(int d, bool throw_at_bottom, txc_heap_t* parent)
{
    sub_heap {
        txc_heap_t* h = txc_heap_current();
        assert_ptr_equal(txc_heap_parent(h), parent);
        txc_heap_stats_t st = stats_of(h);
        assert_int_equal(st.allocs + st.bytes + st.total_allocs + st.total_bytes, 0);
        memset(txc_alloc(32), d, 32);
        if (d % 3 == 0)
            txc_set_destructor(txc_alloc(8), deep_dtor);
        if (d % 5 == 0)
            txc_free(txc_alloc(100000)); /* tracked, then gone: the list is empty again */
        if (d % 7 == 0)
            txc_set_destructor(h, deep_dtor);
        if (d > 0)
            nest(d - 1, throw_at_bottom, h);
        else if (throw_at_bottom)
            throw(deep_bottom, "at the bottom");
        assert_int_equal(stats_of(h).allocs, 1 + (d % 3 == 0)); /* (the block below is over) */
    }
}

static int deep_expected(void)
{
    int n = 0;
    for (int d = 0; d <= DEEP; d++)
        n += (d % 3 == 0) + (d % 7 == 0);
    return n;
}

static void deep_run(void)
{
    txc_heap_t* root = txc_heap_current();
    size_t before = stats_of(root).total_allocs;
    for (int round = 0; round < 3; round++) {
        deep_dtors = 0;
        nest(DEEP, false, root);
        assert_int_equal(deep_dtors, deep_expected());
        deep_dtors = 0;
        volatile bool caught = false;
        try {
            nest(DEEP, true, root);
        } catch (deep_bottom, e) {
            caught = true;
            txc_free(e);
        }
        assert_true(caught);
        assert_int_equal(deep_dtors, deep_expected());
        assert_ptr_equal(txc_heap_current(), root);
        assert_int_equal(stats_of(root).total_allocs, before);
    }
}

static void* deep_worker(void* arg)
{
    (void)arg;
    deep_run();
    return NULL;
}

static void sub_heaps_deeper_than_the_pool(void** state)
{
    (void)state;
    deep_run();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, deep_worker, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void a_used_sub_heap_comes_back_new(void** state)
{
    (void)state;
    txc_heap_t* root = txc_heap_current();
    txc_heap_t *first = NULL, *h = NULL;
    for (int round = 0; round < 4; round++) {
        dlog_reset();
        contents_freed_when_heap_dtor_ran = -1;
        sub_heap {
            h = txc_heap_current();
            if (!first)
                first = h;
            txc_heap_stats_t st = stats_of(h);
            assert_int_equal(st.allocs + st.bytes + st.total_allocs + st.total_bytes, 0);
            assert_ptr_equal(txc_heap_parent(h), root);
            /* what each round leaves behind must not reach the next one */
            tracked_int(round);
            int* a = tracked_int(10 + round);
            if (round == 1)
                txc_set_destructor(h, heap_dtor);
            if (round == 2)
                txc_escape(txc_alloc(24)), txc_free(txc_heap_new());
            if (round == 3)
                txc_free(txc_alloc(100000));
            txc_free(a);
            assert_int_equal(ndlog, 1);
            assert_int_equal(stats_of(h).allocs, 1);
        }
        assert_int_equal(ndlog, 2);
        assert_int_equal(dlog[1], round);
        /* the heap's destructor ran in round 1 only, before its contents */
        assert_int_equal(contents_freed_when_heap_dtor_ran, round == 1 ? 1 : -1);
    }
    /* (white box: each round had the same pooled heap, made new each time) */
    assert_ptr_equal(h, first);
    /* A block whose only allocation was freed again leaves nothing, but its
     * heap's arrival number moved: the next block to take the heap starts
     * it from 0 again (else the number would grow with every such block,
     * and overflow in the headers). */
    for (int round = 0; round < 3; round++) {
        sub_heap {
            assert_ptr_equal(txc_heap_current(), first);
            assert_int_equal(first->seq, 0);
            txc_free(txc_alloc(100000));
            txc_free(txc_heap_new());
            assert_true(first->seq > 0);
        }
    }
}

static int inner_sub_heaps;
static void opens_a_sub_heap(void* p)
{
    (void)p;
    txc_heap_t* outer = txc_heap_current();
    sub_heap {
        assert_ptr_equal(txc_heap_parent(txc_heap_current()), outer);
        txc_set_destructor(txc_alloc(16), deep_dtor);
        sub_heap txc_alloc(8);
        inner_sub_heaps++;
    }
}

static void destructor_of_a_sub_heap_may_enter_sub_heaps(void** state)
{
    (void)state;
    deep_dtors = inner_sub_heaps = 0;
    for (int i = 0; i < 3; i++) {
        sub_heap {
            txc_set_destructor(txc_alloc(16), opens_a_sub_heap);
            sub_heap {
                txc_set_destructor(txc_heap_current(), opens_a_sub_heap);
            }
            assert_int_equal(inner_sub_heaps, 2 * i + 1);
        }
        assert_int_equal(inner_sub_heaps, 2 * i + 2);
        assert_int_equal(deep_dtors, 2 * i + 2);
        sub_heap {
            txc_heap_stats_t st = stats_of(txc_heap_current());
            assert_int_equal(st.total_allocs, 0);
        }
    }
}

/* ---- global heap and threads ---- */

static void global_heap_outlives_the_block(void** state)
{
    (void)state;
    char* g = NULL;
    sub_heap {
        global_heap {
            g = txc_strdup("global");
            sub_heap { txc_alloc(100); } /* a sub heap inside still works */
        }
    }
    assert_string_equal(g, "global");
    txc_heap_t* G = txc_heap_of(g);
    assert_ptr_not_equal(G, txc_heap_current());
    assert_null(txc_heap_parent(G));
    size_t before = stats_of(G).allocs;
    txc_free(g);
    assert_int_equal(stats_of(G).allocs, before - 1);
}

static void global_heap_discards_on_exception(void** state)
{
    (void)state;
    dlog_reset();
    char* volatile kept = NULL;
    global_heap { kept = txc_strdup("k"); }
    txc_heap_t* G = txc_heap_of(kept);
    txc_heap_stats_t before = stats_of(G);
    try {
        global_heap {
            tracked_int(1);
            global_heap { tracked_int(2); } /* nested: part of the outer */
            throw(exception_io, "abandon");
        }
    } catch (exception_io, e) {
    }
    assert_int_equal(ndlog, 2);
    txc_heap_stats_t after = stats_of(G);
    assert_int_equal(after.allocs, before.allocs);
    assert_int_equal(after.bytes, before.bytes);
    txc_free(kept);
}

#define NTHREADS 4
#define ROUNDS 2000

static void* global_worker(void* arg)
{
    void** out = arg;
    for (int i = 0; i < ROUNDS; i++) {
        global_heap {
            out[i] = txc_alloc(16);
            sub_heap { txc_alloc(32); }
        }
        if (i % 2)
            txc_free(out[i]), out[i] = NULL;
    }
    return NULL;
}

static void global_heap_is_thread_safe(void** state)
{
    (void)state;
    void* g = NULL;
    global_heap { g = txc_alloc(1); }
    txc_heap_t* G = txc_heap_of(g);
    txc_heap_stats_t before = stats_of(G);
    pthread_t th[NTHREADS];
    static void* outs[NTHREADS][ROUNDS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, global_worker, outs[i]), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    txc_heap_stats_t after = stats_of(G);
    assert_int_equal(after.allocs, before.allocs + NTHREADS * ROUNDS / 2);
    assert_int_equal(after.bytes, before.bytes + NTHREADS * ROUNDS / 2 * 16);
    for (int i = 0; i < NTHREADS; i++)
        for (int k = 0; k < ROUNDS; k++)
            txc_free(outs[i][k]);
    txc_free(g);
    assert_int_equal(stats_of(G).allocs, before.allocs - 1);
}

static int thread_dtor_ran;
static void thread_dtor(void* p)
{
    (void)p;
    __atomic_add_fetch(&thread_dtor_ran, 1, __ATOMIC_SEQ_CST);
}

static void* root_worker(void* arg)
{
    (void)arg;
    txc_heap_t* root = txc_heap_current();
    void* p = txc_alloc(10);
    txc_set_destructor(p, thread_dtor);
    for (int i = 0; i < 10000; i++) {
        sub_heap {
            txc_alloc(50);
            assert_ptr_equal(txc_heap_parent(txc_heap_current()), root);
        }
    }
    return root;
}

static void root_heap_is_per_thread_and_freed_at_exit(void** state)
{
    (void)state;
    thread_dtor_ran = 0;
    pthread_t a, b;
    void *ra, *rb;
    pthread_create(&a, NULL, root_worker, NULL);
    pthread_create(&b, NULL, root_worker, NULL);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    assert_ptr_not_equal(ra, txc_heap_current());
    assert_ptr_not_equal(rb, txc_heap_current());
    assert_int_equal(thread_dtor_ran, 2);
}

/* exit() frees the calling thread's root heap (its destructors run) when
 * the thread is in no block; inside one, whose heaps the root holds and
 * whose cleanups exit skips, it leaves the root alone.  Blocks whose heaps
 * come from the pool push no frame: they count as blocks all the same. */
static void say_root_freed(void* p)
{
    (void)p;
    static const char msg[] = "root freed\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
}

static void exit_outside_blocks(void)
{
    txc_set_destructor(txc_alloc(8), say_root_freed);
    exit(0);
}

static void exit_in_sub_heap(void)
{
    txc_set_destructor(txc_alloc(8), say_root_freed);
    sub_heap {
        txc_alloc(8);
        exit(0);
    }
}

static void exit_in_nested_sub_heaps(void)
{
    txc_set_destructor(txc_alloc(8), say_root_freed);
    sub_heap {
        sub_heap exit(0);
    }
}

static void exit_in_try(void)
{
    txc_set_destructor(txc_alloc(8), say_root_freed);
    try {
        exit(0);
    } catch (exception_any, e) {
        (void)e;
    }
}

static void exit_frees_the_root_heap_only_outside_blocks(void** state)
{
    (void)state;
    struct {
        void (*fn)(void);
        bool freed;
    } cases[] = {{exit_outside_blocks, true}, {exit_in_sub_heap, false}, {exit_in_nested_sub_heaps, false}, {exit_in_try, false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct death d;
        run_child(cases[i].fn, &d);
        assert_true(d.exited); /* (its status is valgrind's when run under it: what is kept is lost) */
        if (cases[i].freed != (strstr(d.out, "root freed") != NULL))
            fail_msg("case %zu: expected the root heap %s; stderr:\n%s", i, cases[i].freed ? "freed" : "kept", d.out);
    }
}

/* ---- statistics of allocations just made ---- */

/* The inline bump leaves a heap's counts alone; the library adds what it
 * made when it reads or changes them.  Each operation below acts on
 * allocations the counts have not seen yet. */
static void expect_counts(const txc_heap_t* h, size_t allocs, size_t bytes)
{
    txc_heap_stats_t s = stats_of(h);
    assert_int_equal(s.allocs, allocs);
    assert_int_equal(s.bytes, bytes);
}

static void noop_dtor(void* p) { (void)p; }

static void statistics_count_the_allocations_just_made(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* h = txc_heap_current();
        size_t n = 0, bytes = 0;
        for (size_t i = 1; i <= 50; i++, n++, bytes += i - 1)
            txc_alloc(i);
        expect_counts(h, n, bytes);
        /* many chunks' worth: the bumps of each chunk are counted when the
         * heap moves on to the next */
        for (int i = 0; i < 3000; i++, n++, bytes += 100)
            txc_alloc(100);
        expect_counts(h, n, bytes);
        /* freed: one in the middle, then the newest (its room comes back) */
        void* a = txc_alloc(24);
        void* b = txc_alloc(40);
        txc_free(a);
        expect_counts(h, n + 1, bytes + 40);
        txc_free(b);
        expect_counts(h, n, bytes);
        void* again = txc_alloc(40); /* where b was */
        assert_ptr_equal(again, b);
        n++, bytes += 40;
        /* resized in place: one in the middle shrinks, the newest grows */
        void* c = txc_alloc(10);
        void* d = txc_alloc(20);
        assert_ptr_equal(txc_realloc(c, 5), c);
        assert_ptr_equal(txc_realloc(d, 100), d);
        n += 2, bytes += 5 + 100;
        expect_counts(h, n, bytes);
        /* the rest of the chunk as a buffer */
        size_t got = 0;
        txc_alloc(7);
        txc_alloc_buffer(16, &got);
        n += 2, bytes += 7 + got;
        expect_counts(h, n, bytes);
        txc_alloc(3); /* (a new chunk) */
        n++, bytes += 3;
        /* made tracked by a destructor, freed again while tracked */
        txc_set_destructor(txc_alloc(12), noop_dtor);
        void* e = txc_alloc(14);
        txc_set_destructor(e, noop_dtor);
        txc_free(e);
        n++, bytes += 12;
        expect_counts(h, n, bytes);
        /* a block lends the tail of h's chunk, and takes it back */
        txc_alloc(9);
        n++, bytes += 9;
        sub_heap {
            txc_alloc(8);
            expect_counts(h, n + 1, bytes); /* the running block's heap counts as one */
            txc_free(txc_alloc(8));
        }
        expect_counts(h, n, bytes);
        /* escape from a block to h, and from h to its parent */
        sub_heap {
            txc_alloc(1);
            escape(txc_alloc(33));
        }
        n++, bytes += 33;
        expect_counts(h, n, bytes);
        txc_heap_t* parent = txc_heap_parent(h);
        size_t parent_allocs = stats_of(parent).allocs;
        void* up = escape(txc_alloc(17));
        expect_counts(h, n, bytes);
        assert_int_equal(stats_of(parent).allocs, parent_allocs + 1);
        txc_free(up);
        /* a transaction's allocations join h when it commits */
        switch_txn(t) {
            txc_alloc(5);
            txc_alloc(6);
        }
        n += 2, bytes += 11;
        expect_counts(h, n, bytes);
        txc_heap_stats_t s = stats_of(h);
        assert_int_equal(s.total_allocs, n);
        assert_int_equal(s.total_bytes, bytes);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(sub_heap_frees_everything_on_normal_exit),
        TEST(statistics_count_the_allocations_just_made),
        TEST(sub_heap_break_and_continue_end_the_block),
        TEST(sub_heap_return_frees_every_level),
        TEST(sub_heap_goto_frees),
        TEST(sub_heap_switch_in_a_switch_statement),
        TEST(empty_sub_heap_takes_no_memory),
        TEST(switch_heap_makes_heap_current_and_restores),
        TEST(switch_heap_return_restores),
        TEST(switch_heap_null_is_refused),
        TEST(heap_in_use_cannot_be_freed),
        TEST(alloc_is_aligned_and_sized),
        TEST(alloc_zero_size_gives_unique_pointers),
        TEST(new_and_alloc_zero_are_zeroed),
        TEST(alloc_buffer_gives_at_least_min),
        TEST(realloc_keeps_contents_and_heap),
        TEST(realloc_last_allocation_grows_in_place),
        TEST(realloc_moves_the_destructor),
        TEST(huge_allocation_throws_nomem_and_leaks_nothing),
        TEST(heap_new_is_an_allocation_on_current),
        TEST(root_and_global_have_no_parent),
        TEST(free_heap_frees_its_tree),
        TEST(free_null_does_nothing),
        TEST(free_single_allocation),
        TEST(destructors_run_in_reverse_arrival_order),
        TEST(moved_allocation_arrives_when_moved),
        TEST(null_destructor_removes_it),
        TEST(destructor_may_use_what_arrived_before),
        TEST(destructor_of_a_heap_runs_before_its_contents),
        TEST(escape_moves_to_parent_keeping_address),
        TEST(escape_to_lender_keeps_the_parent_from_reusing_it),
        TEST(escape_to_lender_through_nested_sub_heaps),
        TEST(escape_list_and_import_list_move_each),
        TEST(import_moves_to_current_from_anywhere),
        TEST(escape_heap_moves_its_tree),
        TEST(escape_from_root_is_refused),
        TEST(import_cycle_is_refused),
        TEST(running_sub_heap_cannot_move),
        TEST(escape_list_refusal_moves_nothing),
        TEST(null_is_refused_by_moves),
        TEST(foreign_and_freed_pointers_are_fatal),
        TEST(exception_escaping_destructor_is_fatal),
        TEST(destructor_may_catch_its_own_exceptions),
        TEST(debug_build_poisons_memory),
        TEST(global_heap_outlives_the_block),
        TEST(global_heap_discards_on_exception),
        TEST(global_heap_is_thread_safe),
        TEST(root_heap_is_per_thread_and_freed_at_exit),
        TEST(exit_frees_the_root_heap_only_outside_blocks),
        TEST(non_heaps_and_root_heaps_are_refused),
        TEST(destructor_of_a_sub_heap_runs_when_it_ends),
        TEST(destructor_may_free_its_own_object),
        TEST(sub_heaps_deeper_than_the_pool),
        TEST(a_used_sub_heap_comes_back_new),
        TEST(destructor_of_a_sub_heap_may_enter_sub_heaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
