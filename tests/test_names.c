/*
 * test_names.c - the long names alone: with TXC_NO_SHORT_NAMES defined
 * before the first include, no short name is defined, so a program may use
 * them as its own identifiers, and every block works through its TXC_ form.
 */
#define TXC_NO_SHORT_NAMES
#include "testutil.h"

TXC_DEFINE_EXCEPTION(long_error, TXC_E_IO);

/* All of these would be macros if short names were on. */
static int try = 1, catch = 2, finally = 3, sub_heap = 4, new = 5, escape = 6, import = 7;
static int switch_txn = 8, txn_set = 9, exception_any = 10, global_heap = 11;

static void short_names_are_free_identifiers(void** state)
{
    (void)state;
    assert_int_equal(try + catch + finally + sub_heap + new + escape + import, 28);
    assert_int_equal(switch_txn + txn_set + exception_any + global_heap, 38);
}

static void long_names_do_the_work(void** state)
{
    (void)state;
    volatile int caught = 0, fin = 0;
    static long value = 1;
    TXC_SUB_HEAP {
        txc_heap_t* outer = txc_heap_current();
        int* kept = NULL;
        TXC_SUB_HEAP {
            kept = TXC_NEW(int);
            TXC_ESCAPE(kept);
            int* a = TXC_NEW(int);
            TXC_ESCAPE_LIST(a);
            TXC_IMPORT_LIST(a);
            TXC_IMPORT(a);
        }
        assert_ptr_equal(txc_heap_of(kept), outer);
        TXC_TRY {
            TXC_SWITCH_TXN(h) {
                TXC_TXN_SET(value, 2);
                TXC_THROW(long_error, "long %d", 1);
            }
        }
        TXC_CATCH(TXC_E_ARG, e) {
            fail();
        }
        TXC_CATCH(long_error, e) {
            caught = 1;
            assert_string_equal(e->message, "long 1");
        }
        TXC_FINALLY {
            fin = 1;
        }
        assert_int_equal(value, 1);
        TXC_GLOBAL_HEAP { txc_free(txc_alloc(1)); }
        TXC_SUB_HEAP_TXN(h) { TXC_SWITCH_HEAP(h) { txc_alloc(2); } }
    }
    assert_int_equal(caught, 1);
    assert_int_equal(fin, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(short_names_are_free_identifiers),
        TEST(long_names_do_the_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
