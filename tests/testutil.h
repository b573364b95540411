/*
 * testutil.h - what every cmocka suite of txc shares: the teardown that
 * checks the heap stack is back at the thread's root, death tests in a child
 * process, and statistics helpers.
 */
#ifndef TXC_TESTUTIL_H
#define TXC_TESTUTIL_H

#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <txc.h>

/* cmocka reports a failed assertion with longjmp, which skips the cleanups
 * of txc's blocks: after a failure the frame stack still points into dead
 * stack frames.  This teardown fails the test if the stack is not back at
 * the root, and resets it so that the next test starts clean. */
TXC__INLINE int txc_test_teardown(void** state)
{
    (void)state;
    struct txc__ctx* c = &txc__ctx;
    if (c->top != NULL || (c->root && c->current != c->root) || c->pool_top != c->pool_base) {
        fprintf(stderr, "teardown: heap stack not back at the thread's root\n");
        c->top = NULL;
        c->current = c->root;
        /* the heaps of the blocks cut short are lost; the rest of the pool
         * is made ready again as it is reached */
        c->pool_top = c->pool_ready = c->pool_base;
        return -1;
    }
    /* the pool's heaps are back as new (but for the arrival number, which
     * the next block to take one resets) */
    for (struct txc__heap_block* p = c->pool_base; p && p != c->pool_ready; p++) {
        const txc_heap_t* h = &p->heap;
        if (p->hdr.tag != TXC__TAG_DEAD || h->bump || h->end || h->chunk || h->head || h->tail || h->allocs || h->bytes ||
            h->nchunks || h->flags != TXC__HF_BORROW || h->self.dtor || h->self.ptr != h) {
            fprintf(stderr, "teardown: the pooled heap %d is not as new\n", (int)(p - c->pool_base));
            c->pool_top = c->pool_ready = c->pool_base;
            return -1;
        }
    }
    return 0;
}

#define TEST(fn) cmocka_unit_test_teardown(fn, txc_test_teardown)

static inline txc_heap_stats_t stats_of(const txc_heap_t* h)
{
    txc_heap_stats_t s;
    txc_heap_stats(h, &s);
    return s;
}

/* Run fn in a child process with stderr captured.  Returns the captured
 * text (static buffer) and stores how the child ended. */
struct death {
    int signaled, sig, exited, status;
    char out[8192];
};

#ifdef TXC_COVERAGE
/* A child that aborts would lose its gcov counts: save them first. */
void __gcov_dump(void);
static void coverage_dump_and_abort(int sig)
{
    __gcov_dump();
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

static inline void run_child(void (*fn)(void), struct death* d)
{
    int fds[2];
    memset(d, 0, sizeof *d);
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* An expected abort dumps no core: with a core limit set, the
         * kernel would write one per death test, and qemu-user two (the
         * guest's and its own, the host's some 150 MB). */
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        close(fds[0]);
        dup2(fds[1], 2);
#ifdef TXC_COVERAGE
        signal(SIGABRT, coverage_dump_and_abort);
        fn();
        __gcov_dump();
#else
        signal(SIGABRT, SIG_DFL);
        fn();
#endif
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t k;
    while ((k = read(fds[0], d->out + len, sizeof d->out - 1 - len)) > 0)
        len += (size_t)k;
    d->out[len] = 0;
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    d->signaled = WIFSIGNALED(st);
    d->sig = d->signaled ? WTERMSIG(st) : 0;
    d->exited = WIFEXITED(st);
    d->status = d->exited ? WEXITSTATUS(st) : 0;
}

/* fn must end the child with abort() after printing text containing each
 * of the given strings (NULL-terminated list). */
static inline void expect_abort(void (*fn)(void), ...)
{
    struct death d;
    run_child(fn, &d);
    if (!d.signaled || d.sig != SIGABRT)
        fail_msg("child did not abort (exited=%d status=%d signal=%d); stderr:\n%s", d.exited,
                 d.status, d.sig, d.out);
    va_list ap;
    va_start(ap, fn);
    for (const char* s; (s = va_arg(ap, const char*));)
        if (!strstr(d.out, s))
            fail_msg("child's stderr lacks \"%s\":\n%s", s, d.out);
    va_end(ap);
}

#endif
