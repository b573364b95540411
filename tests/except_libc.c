/*
 * except_libc.c - try statements built with TXC_LIBC_SETJMP, linked into
 * test_except beside try statements built the default way: each kind must
 * catch what the other throws, and unwind through the other's blocks.
 */
#define TXC_LIBC_SETJMP 1
#include "config.h"

#include <string.h>

#include "except_libc.h"

int libc_try_kind(void)
{
    volatile int kind = 0;
    try {
        kind = txc__ctx.top->kind;
    } catch (exception_any, e) {
        txc_free(e);
    }
    return kind;
}

int libc_try_catch_io(void (*fn)(void*), void* arg, char* msg, size_t n, int* finally_ran)
{
    volatile int caught = 0;
    try {
        fn(arg);
    } catch (exception_io, e) {
        caught = 1;
        strncpy(msg, e->message, n - 1);
        msg[n - 1] = 0;
        txc_free(e);
    } finally {
        ++*finally_ran;
    }
    return caught;
}

static void count_free(void* p)
{
    ++**(int**)p;
}

void libc_throw_through(int depth, const char* msg, int* freed)
{
    sub_heap {
        int** p = txc_alloc(sizeof *p);
        *p = freed;
        txc_set_destructor(p, count_free);
        if (depth <= 1)
            throw(exception_io, "%s", msg);
        libc_throw_through(depth - 1, msg, freed);
    }
}
