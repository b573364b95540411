/*
 * test_list.c - list(T) (API.md section 4): a deque on the heap stack;
 * both ends, iteration, the type rules, ownership by the heap, misuse,
 * memory exhaustion and transactions.
 */
#include "conttest.h"

#include <stdalign.h>
#include <stdint.h>

/* ---- helpers ---- */

static void assert_list(list(int)* l, const int* want, size_t n)
{
    assert_int_equal(list_count(l), n);
    size_t k = 0;
    list_foreach(l, int, x) {
        assert_true(k < n);
        assert_int_equal(x, want[k]);
        k++;
    }
    assert_int_equal(k, n);
    if (n) {
        assert_int_equal(list_peek_start(l, int), want[0]);
        assert_int_equal(list_peek_end(l, int), want[n - 1]);
    }
}

/* ---- both ends ---- */

static void new_list_is_empty_on_the_current_heap(void** state)
{
    (void)state;
    sub_heap {
        list(int)* l = new_list(int);
        assert_int_equal(list_count(l), 0);
        assert_ptr_equal(txc_heap_of(l), txc_heap_current());
        assert_int_equal(stats_of(txc_heap_current()).allocs, 1);
    }
}

static void push_end_appends_and_push_start_prepends(void** state)
{
    (void)state;
    sub_heap {
        list(int)* l = new_list(int);
        list_push_end(l, int, 2);
        list_push_end(l, int, 3);
        list_push_start(l, int, 1);
        list_push_start(l, int, 0);
        list_push_end(l, int, 4);
        assert_list(l, (int[]){0, 1, 2, 3, 4}, 5);
    }
}

static void pop_removes_and_returns_from_each_end(void** state)
{
    (void)state;
    sub_heap {
        list(int)* l = new_list(int);
        for (int i = 0; i < 5; i++)
            list_push_end(l, int, i);
        assert_int_equal(list_pop_start(l, int), 0);
        assert_int_equal(list_pop_end(l, int), 4);
        assert_list(l, (int[]){1, 2, 3}, 3);
        assert_int_equal(list_pop_end(l, int), 3);
        assert_int_equal(list_pop_end(l, int), 2);
        assert_int_equal(list_pop_start(l, int), 1);
        assert_int_equal(list_count(l), 0);
        list_push_start(l, int, 9);
        assert_list(l, (int[]){9}, 1);
    }
}

static void peek_does_not_remove(void** state)
{
    (void)state;
    sub_heap {
        list(int)* l = new_list(int);
        list_push_end(l, int, 1);
        list_push_end(l, int, 2);
        assert_int_equal(list_peek_start(l, int), 1);
        assert_int_equal(list_peek_end(l, int), 2);
        assert_int_equal(list_peek_start(l, int), 1);
        assert_int_equal(list_count(l), 2);
    }
}

/* A ring that wraps, then grows while wrapped (either segment moving). */
static void order_survives_wrapping_and_growth(void** state)
{
    (void)state;
    sub_heap {
        for (int front = 0; front <= 20; front++) {
            list(int)* l = new_list(int);
            int want[64];
            int n = 0;
            /* front elements pushed at the start, the rest at the end */
            for (int i = front - 1; i >= 0; i--)
                list_push_start(l, int, i);
            for (int i = front; i < 40; i++)
                list_push_end(l, int, i);
            for (int i = 0; i < 40; i++)
                want[n++] = i;
            assert_list(l, want, (size_t)n);
        }
        /* a queue that cycles through a small ring many times */
        list(int)* q = new_list(int);
        int next_in = 0, next_out = 0;
        for (int round = 0; round < 10000; round++) {
            list_push_end(q, int, next_in++);
            if (round % 3 != 2)
                assert_int_equal(list_pop_start(q, int), next_out++);
        }
        assert_int_equal(list_count(q), (size_t)(next_in - next_out));
        while (list_count(q))
            assert_int_equal(list_pop_start(q, int), next_out++);
    }
}

static void draining_a_big_list_gives_storage_back_and_keeps_order(void** state)
{
    (void)state;
    sub_heap {
        list(int)* l = new_list(int);
        for (int i = 0; i < 100000; i++)
            list_push_end(l, int, i);
        for (int i = 0; i < 99990; i++)
            assert_int_equal(list_pop_start(l, int), i);
        assert_list(l, (int[]){99990, 99991, 99992, 99993, 99994, 99995, 99996, 99997, 99998, 99999},
                    10);
        for (int i = 0; i < 10; i++)
            assert_int_equal(list_pop_end(l, int), 99999 - i);
        assert_int_equal(list_count(l), 0);
    }
}

/* ---- foreach ---- */

static void foreach_break_and_continue_act_on_the_loop(void** state)
{
    (void)state;
    sub_heap {
        list(int)* l = new_list(int);
        for (int i = 0; i < 10; i++)
            list_push_end(l, int, i);
        int seen = 0, last = -1;
        list_foreach(l, int, x) {
            if (x % 2)
                continue;
            seen++;
            last = x;
            if (x == 6)
                break;
        }
        assert_int_equal(seen, 4);
        assert_int_equal(last, 6);
        int outer = 0, inner = 0;
        list_foreach(l, int, x) {
            outer++;
            list_foreach(l, int, y) {
                inner++;
                if (y == 2)
                    break;
            }
        }
        assert_int_equal(outer, 10);
        assert_int_equal(inner, 30);
        int n = 0;
        list_foreach(l, int, x) n++; /* x unused: no warning */
        assert_int_equal(n, 10);
        list(int)* empty = new_list(int);
        list_foreach(empty, int, x) fail();
    }
}

static int sum_with_try(list(int)* l)
{
    volatile int sum = 0;
    list_foreach(l, int, x) {
        try {
            if (x == 2)
                throw(exception_io, "skip");
            sum += x;
        } catch (exception_io, e) {
            txc_free(e);
        }
    }
    return sum;
}

static void foreach_body_may_use_try(void** state)
{
    (void)state;
    sub_heap {
        list(int)* l = new_list(int);
        for (int i = 0; i < 5; i++)
            list_push_start(l, int, i);
        assert_int_equal(sum_with_try(l), 0 + 1 + 3 + 4);
    }
}

/* ---- the type rules ---- */

typedef struct {
    char name[12];
    long n;
} entry;

typedef const char* cstr;

typedef struct {
    alignas(32) double d[4];
} quad;

static list(entry)* make_entries(int n);

struct queue {
    list(entry)* items;
};

static list(entry)* make_entries(int n)
{
    list(entry)* l = new_list(entry);
    for (int i = 0; i < n; i++) {
        entry e = {"", i};
        snprintf(e.name, sizeof e.name, "e%d", i);
        if (i % 2)
            list_push_end(l, entry, e);
        else
            list_push_start(l, entry, e);
    }
    return l;
}

static void struct_pointer_and_over_aligned_elements(void** state)
{
    (void)state;
    sub_heap {
        struct queue q = {make_entries(6)}; /* 4 2 0 1 3 5 */
        entry first = list_pop_start(q.items, entry);
        assert_string_equal(first.name, "e4");
        assert_int_equal(list_peek_end(q.items, entry).n, 5);
        long order[5], k = 0;
        list_foreach(q.items, entry, e) order[k++] = e.n;
        assert_int_equal(k, 5);
        assert_int_equal(order[0], 2);
        assert_int_equal(order[4], 5);
        list(cstr)* s = txc_new_list(cstr);
        txc_list_push_end(s, cstr, "a");
        TXC_LIST_PUSH_START(s, cstr, "b");
        assert_string_equal(txc_list_pop_end(s, cstr), "a");
        assert_string_equal(TXC_LIST_PEEK_START(s, cstr), "b");
        list(quad)* w = new_list(quad);
        for (int i = 0; i < 100; i++) {
            if (i % 2)
                list_push_end(w, quad, ((quad){{i, 0, 0, i}}));
            else
                list_push_start(w, quad, ((quad){{i, 0, 0, i}}));
        }
        assert_true(list_pop_end(w, quad).d[3] == 99);
        assert_true(list_pop_start(w, quad).d[0] == 98);
    }
    _Static_assert(__builtin_types_compatible_p(list(int)*, txc_list(float)*), "one type");
}

/* ---- each argument once ---- */

static int nl, nv;
static list(int)* the_list;
static list(int)* get_list(void) { nl++; return the_list; }
static int get_v(void) { nv++; return 7; }

static void macros_evaluate_each_argument_once(void** state)
{
    (void)state;
    sub_heap {
        the_list = new_list(int);
        list_push_end(get_list(), int, get_v());
        list_push_start(get_list(), int, get_v());
        assert_int_equal(nl, 2);
        assert_int_equal(nv, 2);
        assert_int_equal(list_peek_end(get_list(), int), 7);
        assert_int_equal(list_peek_start(get_list(), int), 7);
        assert_int_equal(list_pop_end(get_list(), int), 7);
        assert_int_equal(list_pop_start(get_list(), int), 7);
        assert_int_equal(list_count(get_list()), 0);
        assert_int_equal(nl, 7);
        list_push_end(the_list, int, 1);
        list_foreach(get_list(), int, x) {}
        assert_int_equal(nl, 8);
        list_push_end(the_list, int, (int)list_count(the_list)); /* value first */
        assert_int_equal(list_peek_end(the_list, int), 1);
    }
}

/* ---- size and ownership ---- */

static void a_million_elements(void** state)
{
    (void)state;
    sub_heap {
        list(uint32_t)* l = new_list(uint32_t);
        for (uint32_t i = 0; i < 500000; i++) {
            list_push_end(l, uint32_t, 500000 + i);
            list_push_start(l, uint32_t, 499999 - i);
        }
        assert_int_equal(list_count(l), 1000000);
        uint32_t k = 0;
        list_foreach(l, uint32_t, x) {
            if (x != k)
                fail_msg("element %u is %u", k, x);
            k++;
        }
        assert_int_equal(k, 1000000);
        for (uint32_t i = 0; i < 1000000; i++)
            assert_int_equal(i % 2 ? list_pop_end(l, uint32_t) : list_pop_start(l, uint32_t),
                             i % 2 ? 999999 - i / 2 : i / 2);
        assert_int_equal(list_count(l), 0);
    }
}

static void fill_list(void)
{
    list(int)* l = new_list(int);
    for (int i = 0; i < 1000000; i++) {
        if (i % 2)
            list_push_start(l, int, i);
        else
            list_push_end(l, int, i);
    }
}

static void list_and_its_storage_go_with_the_heap(void** state)
{
    (void)state;
    assert_freed_with_its_heap(fill_list, 4000000);
}

static void escaped_list_outlives_its_sub_heap(void** state)
{
    (void)state;
    sub_heap {
        list(int)* l = NULL;
        sub_heap {
            l = new_list(int);
            for (int i = 0; i < 1000; i++)
                list_push_start(l, int, i);
            escape(l);
        }
        assert_ptr_equal(txc_heap_of(l), txc_heap_current());
        assert_int_equal(list_count(l), 1000);
        assert_int_equal(list_pop_start(l, int), 999);
        assert_int_equal(list_pop_end(l, int), 0);
        list_push_end(l, int, -1);
        assert_int_equal(list_peek_end(l, int), -1);
    }
}

/* ---- misuse ---- */

static void misuse_throws_exception_arg_saying_what(void** state)
{
    (void)state;
    list(int)* none = NULL;
    EXPECT_ARG((void)list_count(none), "txc_list_count: NULL list");
    EXPECT_ARG((void)list_push_end(none, int, 1), "txc_list_push_end: NULL list");
    EXPECT_ARG((void)list_push_start(none, int, 1), "txc_list_push_start: NULL list");
    EXPECT_ARG((void)list_pop_end(none, int), "txc_list_pop_end: NULL list");
    EXPECT_ARG((void)list_pop_start(none, int), "txc_list_pop_start: NULL list");
    EXPECT_ARG((void)list_peek_end(none, int), "txc_list_peek_end: NULL list");
    EXPECT_ARG((void)list_peek_start(none, int), "txc_list_peek_start: NULL list");
    EXPECT_ARG(list_foreach(none, int, x) {}, "txc_list_foreach: NULL list");
    sub_heap {
        list(int)* volatile l = new_list(int);
        EXPECT_ARG((void)list_pop_end(l, int), "txc_list_pop_end: the list is empty");
        EXPECT_ARG((void)list_pop_start(l, int), "txc_list_pop_start: the list is empty");
        EXPECT_ARG((void)list_peek_end(l, int), "txc_list_peek_end: the list is empty");
        EXPECT_ARG((void)list_peek_start(l, int), "txc_list_peek_start: the list is empty");
        list_push_end(l, int, 1);
        list_pop_end(l, int);
        EXPECT_ARG((void)list_pop_start(l, int), "the list is empty"); /* emptied again */
        list_push_end(l, int, 5);
        EXPECT_ARG((void)list_push_end(l, double, 1), "txc_list_push_end: element type of 8 bytes used on a list of 4-byte elements");
        EXPECT_ARG((void)list_push_start(l, char, 1), "element type of 1 bytes");
        EXPECT_ARG((void)list_pop_end(l, double), "txc_list_pop_end: element type");
        EXPECT_ARG((void)list_pop_start(l, double), "txc_list_pop_start: element type");
        EXPECT_ARG((void)list_peek_end(l, double), "txc_list_peek_end: element type");
        EXPECT_ARG((void)list_peek_start(l, double), "txc_list_peek_start: element type");
        EXPECT_ARG(list_foreach(l, entry, x) {}, "txc_list_foreach: element type");
        EXPECT_ARG((void)list_count((list(int)*)txc_alloc_zero(64)), "is not a list");
        assert_list(l, (int[]){5}, 1);
    }
}

#ifdef TXC_FAULT_INJECTION
static list(int)* fl;
static int fl_snap[3000];
static size_t fl_nsnap;

static void fl_begin(void) { fl = new_list(int); }

static bool fl_step(int i)
{
    if (i % 3 == 2)
        list_push_start(fl, int, i);
    else
        list_push_end(fl, int, i);
    if (i % 5 == 4)
        list_pop_start(fl, int);
    return i < 2999;
}

static void fl_snapshot(void)
{
    fl_nsnap = 0;
    list_foreach(fl, int, x) fl_snap[fl_nsnap++] = x;
}

static void fl_check(void) { assert_list(fl, fl_snap, fl_nsnap); }

static void every_failed_request_leaves_the_list_as_it_was(void** state)
{
    (void)state;
    static const struct fault_scenario sc = {fl_begin, fl_step, fl_snapshot, fl_check};
    fail_each_request_in_turn(&sc);
}
#endif

/* ---- transactions ---- */

static void aborted_transaction_restores_the_list(void** state)
{
    (void)state;
    sub_heap {
        list(int)* l = new_list(int);
        for (int i = 0; i < 6; i++)
            list_push_end(l, int, i);
        list_pop_start(l, int); /* a wrapped ring: head moved */
        list_push_end(l, int, 6);
        volatile int caught = 0;
        try {
            switch_txn(h) {
                assert_int_equal(list_pop_start(l, int), 1);
                assert_int_equal(list_pop_end(l, int), 6);
                list_push_start(l, int, 100);
                for (int i = 0; i < 50; i++) /* grows the ring */
                    list_push_end(l, int, 200 + i);
                for (int i = 0; i < 40; i++)
                    list_pop_end(l, int);
                while (list_count(l)) /* empties it */
                    list_pop_start(l, int);
                list_push_start(l, int, 300);
                throw(exception_io, "abort");
            }
        } catch (exception_io, e) {
            caught = 1;
            txc_free(e);
        }
        assert_int_equal(caught, 1);
        assert_list(l, (int[]){1, 2, 3, 4, 5, 6}, 6);
        switch_txn(h) { /* commits */
            list_pop_end(l, int);
            list_push_start(l, int, 0);
        }
        assert_list(l, (int[]){0, 1, 2, 3, 4, 5}, 6);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(new_list_is_empty_on_the_current_heap),
        TEST(push_end_appends_and_push_start_prepends),
        TEST(pop_removes_and_returns_from_each_end),
        TEST(peek_does_not_remove),
        TEST(order_survives_wrapping_and_growth),
        TEST(draining_a_big_list_gives_storage_back_and_keeps_order),
        TEST(foreach_break_and_continue_act_on_the_loop),
        TEST(foreach_body_may_use_try),
        TEST(struct_pointer_and_over_aligned_elements),
        TEST(macros_evaluate_each_argument_once),
        TEST(a_million_elements),
        TEST(list_and_its_storage_go_with_the_heap),
        TEST(escaped_list_outlives_its_sub_heap),
        TEST(misuse_throws_exception_arg_saying_what),
#ifdef TXC_FAULT_INJECTION
        TEST(every_failed_request_leaves_the_list_as_it_was),
#endif
        TEST(aborted_transaction_restores_the_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
