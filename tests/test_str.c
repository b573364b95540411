/*
 * test_str.c - strings on the current heap (API.md section 5).
 */
#include "testutil.h"

static void strdup_copies_onto_current_heap(void** state)
{
    (void)state;
    sub_heap {
        const char* src = "hello, world";
        char* s = txc_strdup(src);
        assert_ptr_not_equal(s, src);
        assert_string_equal(s, src);
        assert_ptr_equal(txc_heap_of(s), txc_heap_current());
        assert_int_equal(stats_of(txc_heap_current()).bytes, strlen(src) + 1);
        assert_string_equal(txc_strdup(""), "");
    }
}

static void strndup_stops_at_n_or_nul(void** state)
{
    (void)state;
    sub_heap {
        assert_string_equal(txc_strndup("abcdef", 3), "abc");
        assert_string_equal(txc_strndup("ab", 10), "ab");
        assert_string_equal(txc_strndup("abc", 0), "");
        char unterminated[4] = {'w', 'x', 'y', 'z'};
        assert_string_equal(txc_strndup(unterminated, 4), "wxyz");
    }
}

static void sprintf_formats_exactly(void** state)
{
    (void)state;
    sub_heap {
        char* s = txc_sprintf("%d-%s-%.2f", 42, "x", 1.5);
        assert_string_equal(s, "42-x-1.50");
        assert_int_equal(stats_of(txc_heap_current()).bytes, strlen(s) + 1);
        char big[5000];
        memset(big, 'q', sizeof big - 1);
        big[sizeof big - 1] = 0;
        char* t = txc_sprintf("<%s>", big);
        assert_int_equal(strlen(t), sizeof big + 1);
        assert_int_equal(t[0], '<');
        assert_int_equal(t[sizeof big], '>');
    }
}

static char* call_vsprintf(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char* s = txc_vsprintf(fmt, ap);
    va_end(ap);
    return s;
}

static void vsprintf_takes_a_va_list(void** state)
{
    (void)state;
    sub_heap {
        assert_string_equal(call_vsprintf("%s=%u", "n", 7u), "n=7");
    }
}

static void strings_go_to_the_current_heap(void** state)
{
    (void)state;
    sub_heap {
        txc_heap_t* h = txc_heap_new();
        char* s = NULL;
        switch_heap(h) { s = txc_sprintf("%s", "on h"); }
        assert_ptr_equal(txc_heap_of(s), h);
    }
}

static void null_strings_are_refused(void** state)
{
    (void)state;
    volatile int caught = 0;
    try {
        txc_strdup(NULL);
    } catch (exception_arg, e) {
        caught++;
    }
    try {
        txc_strndup(NULL, 3);
    } catch (exception_arg, e) {
        caught++;
    }
    try {
        call_vsprintf(NULL);
    } catch (exception_arg, e) {
        caught++;
    }
    assert_int_equal(caught, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(strdup_copies_onto_current_heap),
        TEST(strndup_stops_at_n_or_nul),
        TEST(sprintf_formats_exactly),
        TEST(vsprintf_takes_a_va_list),
        TEST(strings_go_to_the_current_heap),
        TEST(null_strings_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
