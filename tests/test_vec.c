/*
 * test_vec.c - vec(T) (API.md section 4): appending, reading, writing,
 * resizing, iterating, the type rules, ownership by the heap, misuse,
 * memory exhaustion and transactions.
 */
#include "conttest.h"

#include <stdalign.h>
#include <stdint.h>

/* ---- helpers ---- */

static vec(int)* ints(int n)
{
    vec(int)* v = new_vec(int);
    for (int i = 0; i < n; i++)
        vec_append(v, int, i * 10);
    return v;
}

static void assert_ints(vec(int)* v, const int* want, size_t n)
{
    assert_int_equal(vec_count(v), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(vec_get(v, int, i), want[i]);
}

/* ---- basic operations ---- */

static void new_vec_is_empty_on_the_current_heap(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = new_vec(int);
        assert_int_equal(vec_count(v), 0);
        assert_ptr_equal(txc_heap_of(v), txc_heap_current());
        assert_int_equal(stats_of(txc_heap_current()).allocs, 1); /* one allocation */
    }
}

static void append_keeps_order_and_get_reads_each(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(100);
        assert_int_equal(vec_count(v), 100);
        for (int i = 0; i < 100; i++)
            assert_int_equal(vec_get(v, int, (size_t)i), i * 10);
    }
}

static void set_overwrites_only_its_element(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(5);
        vec_set(v, int, 2, -1);
        vec_set(v, int, 0, 7);
        vec_set(v, int, 4, 9);
        assert_ints(v, (int[]){7, 10, -1, 30, 9}, 5);
    }
}

static void resize_grows_with_zeroes_and_shrinks(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(3);
        vec_resize(v, int, 6);
        assert_ints(v, (int[]){0, 10, 20, 0, 0, 0}, 6);
        vec_set(v, int, 5, 55);
        vec_resize(v, int, 2);
        assert_ints(v, (int[]){0, 10}, 2);
        vec_resize(v, int, 6); /* what was dropped comes back zeroed */
        assert_ints(v, (int[]){0, 10, 0, 0, 0, 0}, 6);
        vec_resize(v, int, 0);
        assert_int_equal(vec_count(v), 0);
        vec_append(v, int, 4);
        assert_ints(v, (int[]){4}, 1);
        vec_resize(v, int, 1000); /* far beyond the doubling */
        assert_int_equal(vec_count(v), 1000);
        for (size_t i = 1; i < 1000; i++)
            assert_int_equal(vec_get(v, int, i), 0);
    }
}

static void shrinking_a_big_vec_keeps_its_head(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(10000);
        vec_resize(v, int, 10); /* storage is given back */
        assert_int_equal(vec_count(v), 10);
        for (int i = 0; i < 10; i++)
            assert_int_equal(vec_get(v, int, (size_t)i), i * 10);
        vec_append(v, int, 1);
        assert_int_equal(vec_get(v, int, 10), 1);
    }
}

/* ---- foreach ---- */

static void foreach_visits_every_element_in_order(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(50);
        size_t n = 0;
        vec_foreach(v, int, i, x) {
            assert_int_equal(i, n);
            assert_int_equal(x, (int)i * 10);
            n++;
        }
        assert_int_equal(n, 50);
        vec(int)* empty = new_vec(int);
        vec_foreach(empty, int, i, x) fail();
    }
}

static void foreach_break_and_continue_act_on_the_loop(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(10);
        int seen = 0, last = -1;
        vec_foreach(v, int, i, x) {
            if (i % 2)
                continue;
            seen++;
            last = x;
            if (i == 6)
                break;
        }
        assert_int_equal(seen, 4); /* 0, 2, 4, 6 */
        assert_int_equal(last, 60);
        /* break in a nested foreach leaves the inner loop only */
        int outer = 0, inner = 0;
        vec_foreach(v, int, i, x) {
            outer++;
            vec_foreach(v, int, j, y) {
                inner++;
                if (j == 1)
                    break;
            }
        }
        assert_int_equal(outer, 10);
        assert_int_equal(inner, 20);
    }
}

static void foreach_sees_appends_made_in_the_block(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(1);
        int n = 0;
        vec_foreach(v, int, i, x) {
            if (i < 999)
                vec_append(v, int, x + 1); /* reallocates on the way */
            assert_int_equal(x, (int)i == 0 ? 0 : (int)i);
            n++;
        }
        assert_int_equal(n, 1000);
    }
}

static void foreach_variables_may_go_unused(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(3);
        int n = 0;
        vec_foreach(v, int, i, x) n++; /* no warning for i or x */
        assert_int_equal(n, 3);
    }
}

/* A try in a foreach body: the macro's own locals must not be flagged by
 * -Wclobbered (the build uses -Wextra -Werror). */
static int sum_with_try(vec(int)* v)
{
    volatile int sum = 0;
    vec_foreach(v, int, i, x) {
        try {
            if (x == 20)
                throw(exception_io, "skip %zu", i);
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
        assert_int_equal(sum_with_try(ints(5)), 0 + 10 + 30 + 40);
    }
}

/* ---- the type rules ---- */

typedef struct {
    int id;
    double weight;
    char tag[6];
} item;

typedef char* str;

typedef struct {
    alignas(64) unsigned char bytes[64];
} wide;

static void struct_typedef_elements(void** state)
{
    (void)state;
    sub_heap {
        vec(item)* v = new_vec(item);
        for (int i = 0; i < 1000; i++)
            vec_append(v, item, ((item){i, i / 4.0, "abc"}));
        vec_set(v, item, 3, ((item){-3, 0.5, "xyz"}));
        item it = vec_get(v, item, 999);
        assert_int_equal(it.id, 999);
        assert_true(it.weight == 999 / 4.0);
        assert_string_equal(it.tag, "abc");
        assert_string_equal(vec_get(v, item, 3).tag, "xyz");
        int n = 0;
        vec_foreach(v, item, i, x) {
            if (i != 3)
                assert_int_equal(x.id, (int)i);
            n++;
        }
        assert_int_equal(n, 1000);
    }
}

static void pointer_typedef_and_over_aligned_elements(void** state)
{
    (void)state;
    sub_heap {
        vec(str)* s = new_vec(str);
        vec_append(s, str, "one");
        vec_append(s, str, txc_strdup("two"));
        assert_string_equal(vec_get(s, str, 1), "two");
        vec(wide)* w = new_vec(wide);
        for (int i = 0; i < 100; i++) {
            wide x;
            memset(x.bytes, i, sizeof x.bytes);
            vec_append(w, wide, x);
        }
        vec_resize(w, wide, 300);
        vec_foreach(w, wide, i, x) {
            assert_int_equal(x.bytes[63], i < 100 ? (int)i : 0);
            assert_int_equal((uintptr_t)&x % 64, 0);
        }
    }
}

/* Named for the first time in a prototype: must be the same type as the
 * vec(int)* of the caller. */
static vec(int)* doubled(vec(int)* v);

struct holder {
    vec(int)* v;
    txc_vec(double)* d;
};

static vec(int)* doubled(vec(int)* v)
{
    vec(int)* r = new_vec(int);
    vec_foreach(v, int, i, x) vec_append(r, int, 2 * x);
    return r;
}

static void vec_type_is_usable_anywhere_and_one_type(void** state)
{
    (void)state;
    _Static_assert(__builtin_types_compatible_p(vec(int)*, txc_vec(int)*), "one type");
    _Static_assert(__builtin_types_compatible_p(vec(int)*, TXC_VEC(int)*), "one type");
    sub_heap {
        struct holder h = {ints(3), txc_new_vec(double)};
        txc_vec_append(h.d, double, 1.5);
        vec(int)* r = doubled(h.v);
        assert_ints(r, (int[]){0, 20, 40}, 3);
        assert_true(txc_vec_get(h.d, double, 0) == 1.5);
        assert_int_equal(TXC_VEC_COUNT(h.d), 1);
    }
}

/* ---- each argument once ---- */

static int nv, ni, nx;
static vec(int)* the_vec;
static vec(int)* get_vec(void) { nv++; return the_vec; }
static size_t get_i(void) { ni++; return 1; }
static int get_x(void) { nx++; return 5; }

static void macros_evaluate_each_argument_once(void** state)
{
    (void)state;
    sub_heap {
        the_vec = ints(3);
        vec_append(get_vec(), int, get_x());
        assert_int_equal(nv, 1);
        assert_int_equal(nx, 1);
        vec_set(get_vec(), int, get_i(), get_x());
        assert_int_equal(vec_get(get_vec(), int, get_i()), 5);
        assert_int_equal(nv, 3);
        assert_int_equal(ni, 2);
        assert_int_equal(nx, 2);
        vec_resize(get_vec(), int, get_i() + 3);
        assert_int_equal(vec_count(get_vec()), 4);
        assert_int_equal(nv, 5);
        int n = 0;
        vec_foreach(get_vec(), int, i, x) n++;
        assert_int_equal(n, 4);
        assert_int_equal(nv, 6);
        /* the value is computed before the vec changes */
        vec_append(the_vec, int, (int)vec_count(the_vec));
        assert_int_equal(vec_get(the_vec, int, 4), 4);
    }
}

/* ---- size and ownership ---- */

static void a_million_elements(void** state)
{
    (void)state;
    sub_heap {
        vec(uint64_t)* v = new_vec(uint64_t);
        for (uint64_t i = 0; i < 1000000; i++)
            vec_append(v, uint64_t, i * i);
        assert_int_equal(vec_count(v), 1000000);
        uint64_t sum = 0;
        vec_foreach(v, uint64_t, i, x) {
            assert_true(x == (uint64_t)i * i);
            sum += x;
        }
        assert_true(sum == UINT64_C(333332833333500000));
        for (size_t i = 0; i < 1000000; i += 9973)
            assert_true(vec_get(v, uint64_t, i) == (uint64_t)i * i);
    }
}

static void fill_vec(void)
{
    vec(int)* v = new_vec(int);
    for (int i = 0; i < 1000000; i++)
        vec_append(v, int, i);
}

static void vec_and_its_storage_go_with_the_heap(void** state)
{
    (void)state;
    assert_freed_with_its_heap(fill_vec, 4000000);
}

static void escaped_vec_outlives_its_sub_heap(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* outer = txc_heap_current();
        vec(int)* v = NULL;
        sub_heap {
            v = ints(1000);
            escape(v);
        }
        assert_ptr_equal(txc_heap_of(v), outer);
        assert_int_equal(vec_count(v), 1000);
        assert_int_equal(vec_get(v, int, 999), 9990);
        vec_append(v, int, 1);
        assert_int_equal(vec_count(v), 1001);
        txc_heap_t* h = txc_heap_new();
        switch_heap(h) { import(v); }
        assert_ptr_equal(txc_heap_of(v), h);
        txc_free(h); /* frees v and its storage */
    }
}

/* ---- misuse ---- */

static void misuse_throws_exception_arg_saying_what(void** state)
{
    (void)state;
    vec(int)* none = NULL;
    EXPECT_ARG((void)vec_count(none), "txc_vec_count: NULL vec");
    EXPECT_ARG((void)vec_get(none, int, 0), "txc_vec_get: NULL vec");
    EXPECT_ARG((void)vec_set(none, int, 0, 1), "txc_vec_set: NULL vec");
    EXPECT_ARG((void)vec_append(none, int, 1), "txc_vec_append: NULL vec");
    EXPECT_ARG((void)vec_resize(none, int, 1), "txc_vec_resize: NULL vec");
    EXPECT_ARG(vec_foreach(none, int, i, x) {}, "txc_vec_foreach: NULL vec");
    sub_heap {
        vec(int)* volatile v = ints(3);
        EXPECT_ARG((void)vec_get(v, int, 3), "txc_vec_get: index 3 out of range (count 3)");
        EXPECT_ARG((void)vec_set(v, int, 7, 1), "txc_vec_set: index 7 out of range (count 3)");
        EXPECT_ARG((void)vec_get(v, int, (size_t)-1), "out of range");
        EXPECT_ARG((void)vec_get(v, double, 0), "element type of 8 bytes used on a vec of 4-byte elements");
        EXPECT_ARG((void)vec_append(v, double, 1.0), "txc_vec_append: element type of 8 bytes");
        EXPECT_ARG((void)vec_set(v, char, 0, 'a'), "txc_vec_set: element type of 1 bytes");
        EXPECT_ARG((void)vec_resize(v, item, 0), "txc_vec_resize: element type of");
        EXPECT_ARG(vec_foreach(v, double, i, x) {}, "txc_vec_foreach: element type of");
        EXPECT_ARG((void)vec_count((vec(int)*)txc_alloc_zero(64)), "is not a vec");
        assert_ints(v, (int[]){0, 10, 20}, 3); /* nothing changed */
    }
}

static void exhausted_memory_leaves_the_vec_as_it_was(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(3);
        volatile int caught = 0;
        try {
            vec_resize(v, int, SIZE_MAX / 2);
        } catch (exception_nomem, e) {
            caught++;
        }
        try {
            vec_resize(v, int, (size_t)1 << 60);
        } catch (exception_nomem, e) {
            caught++;
        }
        assert_int_equal(caught, 2);
        assert_ints(v, (int[]){0, 10, 20}, 3);
        vec_append(v, int, 30);
        assert_ints(v, (int[]){0, 10, 20, 30}, 4);
    }
}

#ifdef TXC_FAULT_INJECTION
static vec(int)* fv;
static int fv_snap[2500];
static size_t fv_nsnap;

static void fv_begin(void) { fv = ints(5); }

static bool fv_step(int i)
{
    if (i % 500 == 499)
        vec_resize(fv, int, vec_count(fv) + 50);
    else
        vec_append(fv, int, i);
    return i < 1999;
}

static void fv_snapshot(void)
{
    fv_nsnap = vec_count(fv);
    for (size_t k = 0; k < fv_nsnap; k++)
        fv_snap[k] = vec_get(fv, int, k);
}

static void fv_check(void) { assert_ints(fv, fv_snap, fv_nsnap); }

static void every_failed_request_leaves_the_vec_as_it_was(void** state)
{
    (void)state;
    static const struct fault_scenario sc = {fv_begin, fv_step, fv_snapshot, fv_check};
    fail_each_request_in_turn(&sc);
}
#endif

/* ---- transactions ---- */

static void aborted_transaction_restores_the_vec(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(10);
        int orig[10];
        for (int i = 0; i < 10; i++)
            orig[i] = i * 10;
        volatile int caught = 0;
        try {
            switch_txn(h) {
                vec_set(v, int, 1, -1);
                for (int i = 0; i < 100; i++) /* grows the storage */
                    vec_append(v, int, i);
                vec_set(v, int, 50, -50);
                vec_resize(v, int, 3);        /* shrinks */
                vec_set(v, int, 2, -2);
                vec_resize(v, int, 2000);     /* grows with zeroes */
                vec_set(v, int, 1999, 7);
                vec_resize(v, int, 5);
                vec(int)* young = ints(3);    /* born inside: not logged */
                vec_append(young, int, 1);
                throw(exception_io, "abort");
            }
        } catch (exception_io, e) {
            caught = 1;
            txc_free(e);
        }
        assert_int_equal(caught, 1);
        assert_ints(v, orig, 10);
    }
}

static void committed_transaction_keeps_the_changes(void** state)
{
    (void)state;
    sub_heap {
        vec(int)* v = ints(3);
        switch_txn(h) {
            vec_set(v, int, 0, 5);
            vec_append(v, int, 6);
            vec_resize(v, int, 2);
        }
        assert_ints(v, (int[]){5, 10}, 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(new_vec_is_empty_on_the_current_heap),
        TEST(append_keeps_order_and_get_reads_each),
        TEST(set_overwrites_only_its_element),
        TEST(resize_grows_with_zeroes_and_shrinks),
        TEST(shrinking_a_big_vec_keeps_its_head),
        TEST(foreach_visits_every_element_in_order),
        TEST(foreach_break_and_continue_act_on_the_loop),
        TEST(foreach_sees_appends_made_in_the_block),
        TEST(foreach_variables_may_go_unused),
        TEST(foreach_body_may_use_try),
        TEST(struct_typedef_elements),
        TEST(pointer_typedef_and_over_aligned_elements),
        TEST(vec_type_is_usable_anywhere_and_one_type),
        TEST(macros_evaluate_each_argument_once),
        TEST(a_million_elements),
        TEST(vec_and_its_storage_go_with_the_heap),
        TEST(escaped_vec_outlives_its_sub_heap),
        TEST(misuse_throws_exception_arg_saying_what),
        TEST(exhausted_memory_leaves_the_vec_as_it_was),
#ifdef TXC_FAULT_INJECTION
        TEST(every_failed_request_leaves_the_vec_as_it_was),
#endif
        TEST(aborted_transaction_restores_the_vec),
        TEST(committed_transaction_keeps_the_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
