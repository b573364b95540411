/*
 * test_fault.c - allocation-failure injection (built with
 * --enable-fault-injection).  Each scenario runs with its Nth memory request
 * failing, N = 1, 2, 3, ... until it completes without a failure.  At every
 * N it must end in exception_nomem (or handle it itself), never crash, and
 * leave the heap statistics and the transactional state as they were.
 */
#include "testutil.h"

#include "internal.h"

#include <pthread.h>

/* ---- scenarios ---- */

static void dtor(void* p) { (void)p; }

static void scenario_heap(void)
{
    for (int i = 0; i < 200; i++)
        txc_alloc((size_t)i * 37 % 5000);
    txc_alloc(100000); /* own block */
    void* p = txc_alloc(10);
    txc_set_destructor(p, dtor);
    txc_heap_t* h = txc_heap_new();
    switch_heap(h) {
        txc_strdup("on h");
        txc_sprintf("%0500d", 1);
    }
    sub_heap {
        void* a = txc_alloc(40);
        void* b = txc_alloc(50000);
        escape_list(a, b);
        import(escape(txc_alloc(8)));
    }
    p = txc_realloc(p, 30000);
    size_t got;
    txc_alloc_buffer(100, &got);
    txc_free(h);
}

define_exception(scenario_error, exception_io);

static void scenario_exceptions(void)
{
    for (volatile int i = 0; i < 20; i++) {
        try {
            sub_heap {
                txc_alloc(64);
                throw(scenario_error, "round %d with a message %0300d", i, i);
            }
        } catch (scenario_error, e) {
            txc_free(e);
        }
    }
    /* exception_nomem forwarding a cause: with memory it takes the cause; the
     * per-thread fallback (no memory for it) cannot, and goes on as a failure */
    try {
        try {
            throw(exception_io, "low");
        } catch (exception_io, low) {
            throw_fwd(exception_nomem, low, "forwarded");
        }
    } catch (exception_nomem, e) {
        if (strcmp(e->message, "forwarded") != 0 || !e->cause)
            rethrow(e);
        assert_string_equal(e->cause->message, "low");
        txc_free(e);
    }
    try {
        try {
            throw(exception_io, "low");
        } catch (exception_io, low) {
            throw_fwd(scenario_error, low, "high");
        }
    } catch (scenario_error, e) {
        txc_exception_describe(e);
    }
    try {
        void* data = txc_alloc(32);
        throw_data(scenario_error, data, "with data");
    } catch (scenario_error, e) {
    }
    try {
        throw(scenario_error, "longer than a cached block: %0600d", 1);
    } catch (scenario_error, e) {
        txc_free(e);
    }
    try {
        errno = ENOENT;
        throw_errno(scenario_error, "no such thing");
    } catch (scenario_error, e) {
    }
    try {
        try {
            throw(exception_io, "passing");
        } finally {
            txc_alloc(10);
        }
    } catch (exception_io, e) {
    }
}

static long txn_value = 1;
static int abort_hooks;
static void on_abort(void* arg) { (void)arg; abort_hooks++; }

static void scenario_txn(void)
{
    void* older = txc_alloc(16);
    switch_txn(h) {
        txn_set(txn_value, 2);
        txc_on_abort(on_abort, NULL);
        for (int i = 0; i < 100; i++)
            txc_alloc(200);
        switch_txn(inner) {
            txn_set(txn_value, 3);
            txc_strdup("inner");
        }
        txc_free(older);
        global_heap { txc_alloc(5); }
    }
    txn_value = 1; /* committed: put it back for the next round */
    global_heap { txc_free(txc_alloc(3)); }
}

/* ---- the driver ---- */

static void drive(void (*scenario)(void), const char* name)
{
    txc_heap_t* root = txc_heap_current();
    unsigned long n;
    for (n = 1;; n++) {
        txc_heap_stats_t before = stats_of(root);
        txn_value = 1;
        abort_hooks = 0;
        volatile int failed = 0;
        chunk_cache_drain(); /* every chunk is a fresh request */
        txc__fault_inject(n);
        try {
            sub_heap { scenario(); }
        } catch (exception_nomem, e) {
            failed = 1;
            txc__fault_inject(0);
            txc_free(e);
        }
        unsigned long seen = txc__fault_inject(0);
        txc_heap_stats_t after = stats_of(root);
        if (after.total_allocs != before.total_allocs || after.total_bytes != before.total_bytes)
            fail_msg("%s: failing request %lu left %zu allocations, %zu bytes (before: %zu, %zu)", name,
                     n, after.total_allocs, after.total_bytes, before.total_allocs, before.total_bytes);
        if (txn_value != 1)
            fail_msg("%s: failing request %lu left txn_value = %ld", name, n, txn_value);
        if (!failed) {
            assert_true(seen < n); /* the injection never fired: done */
            break;
        }
    }
    print_message("%s: %lu injection points\n", name, n - 1);
    assert_true(n > 5);
}

static void heap_operations_survive_every_failure(void** state)
{
    (void)state;
    drive(scenario_heap, "heap");
}

static void exceptions_survive_every_failure(void** state)
{
    (void)state;
    drive(scenario_exceptions, "exceptions");
}

static void transactions_survive_every_failure(void** state)
{
    (void)state;
    drive(scenario_txn, "transactions");
}

/* A thread whose pool of block heaps could not be made (its first memory
 * request) keeps every sub_heap's heap in the block's frame, and works the
 * same. */
static void* poolless_worker(void* arg)
{
    (void)arg;
    txc__fault_inject(1);
    txc_heap_t* root = txc_heap_current();
    assert_null(txc__ctx.pool_base);
    size_t before = stats_of(root).total_allocs;
    for (volatile int i = 0; i < 3; i++) {
        try {
            sub_heap {
                assert_true(txc_heap_current()->flags & TXC__HF_LOCAL);
                txc_alloc(32);
                sub_heap {
                    assert_int_equal(stats_of(txc_heap_current()).allocs, 0);
                    sub_heap throw(scenario_error, "through three");
                }
            }
        } catch (scenario_error, e) {
            txc_free(e);
        }
        sub_heap txc_set_destructor(txc_alloc(8), dtor);
    }
    assert_ptr_equal(txc_heap_current(), root);
    assert_int_equal(stats_of(root).total_allocs, before);
    return NULL;
}

static void a_thread_without_a_pool_keeps_block_heaps_in_frames(void** state)
{
    (void)state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poolless_worker, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(heap_operations_survive_every_failure),
        TEST(exceptions_survive_every_failure),
        TEST(transactions_survive_every_failure),
        TEST(a_thread_without_a_pool_keeps_block_heaps_in_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
