/*
 * conttest.h - what the container suites (test_list.c, test_dict.c,
 * test_vec.c) share on top of testutil.h.
 */
#ifndef TXC_CONTTEST_H
#define TXC_CONTTEST_H

#include "testutil.h"

#include <malloc.h>

/* The library's storage: bytes malloc has handed out and bytes the
 * containers have mapped for big tables (cont_store).  The malloc part is 0
 * and constant where malloc is replaced (AddressSanitizer, whose leak
 * checker then does its job). */
extern size_t txc__mapped_bytes; /* hidden in the shared library; the tests link statically */
static inline size_t storage_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd + txc__mapped_bytes;
}

/* stmt (a statement: cast an expression to void) must throw exception_arg
 * whose message contains text.  The exception is freed with a sub heap. */
#define EXPECT_ARG(stmt, text)                                                   \
    do {                                                                         \
        volatile int caught_ = 0;                                                \
        sub_heap {                                                               \
            try {                                                                \
                stmt;                                                            \
            } catch (exception_arg, e) {                                         \
                caught_ = 1;                                                     \
                if (!strstr(e->message, (text)))                                 \
                    fail_msg("message \"%s\" lacks \"%s\"", e->message, (text)); \
            }                                                                    \
        }                                                                        \
        if (!caught_)                                                            \
            fail_msg("%s did not throw exception_arg", #stmt);                   \
    } while (0)

/* fill() makes a container on the current heap owning at least min_bytes
 * of storage.  It runs in a sub heap left normally, then in one left by an
 * exception; each time the root heap's statistics come back to where they
 * were (the sub heap and the container were its only new allocations) and
 * the storage is given back (to malloc, where it is glibc's, and unmapped). */
static inline void assert_freed_with_its_heap(void (*fill)(void), size_t min_bytes)
{
    txc_heap_t* root = txc_heap_current();
    txc_heap_stats_t before = stats_of(root);
    for (int unwind = 0; unwind < 2; unwind++) {
        size_t m0 = storage_in_use();
        volatile size_t m_in = 0;
        volatile int caught = 0;
        try {
            sub_heap {
                fill();
                m_in = storage_in_use();
                assert_int_equal(stats_of(root).total_allocs, before.total_allocs + 2);
                if (unwind)
                    throw(exception_io, "unwind");
            }
        } catch (exception_io, e) {
            caught = 1;
            txc_free(e);
        }
        assert_int_equal(caught, unwind);
        txc_heap_stats_t after = stats_of(root);
        assert_int_equal(after.total_allocs, before.total_allocs);
        assert_int_equal(after.total_bytes, before.total_bytes);
        if (m_in >= m0 + min_bytes)
            assert_true(storage_in_use() < m0 + min_bytes / 4);
    }
}

#ifdef TXC_FAULT_INJECTION
#include "internal.h"

/* A series of changes to one container, for fail_each_request_in_turn. */
struct fault_scenario {
    void (*begin)(void);    /* makes the container (no failures then) */
    bool (*step)(int i);    /* change number i; false when there are no more */
    void (*snapshot)(void); /* remembers the container (no failures then) */
    void (*check)(void);    /* asserts that it is as remembered */
};

/* Runs the scenario again and again, the Nth memory request of its changes
 * failing in run N, until a run has no failure: every failure must throw
 * exception_nomem and leave the container as it was before the change. */
static inline void fail_each_request_in_turn(const struct fault_scenario* sc)
{
    for (volatile unsigned long nth = 1;; nth++) {
        volatile bool done = false;
        sub_heap {
            sc->begin();
            volatile unsigned long left = nth; /* requests until the failure */
            try {
                for (int i = 0;; i++) {
                    sc->snapshot();
                    txc__fault_inject(left);
                    bool more = sc->step(i);
                    left -= txc__fault_inject(0);
                    if (!more)
                        break;
                }
                done = true;
            } catch (exception_nomem, e) {
                txc__fault_inject(0);
                sc->check();
            }
            txc__fault_inject(0);
        }
        if (done)
            break;
    }
}
#endif

#endif
