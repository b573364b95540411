/*
 * except_libc.h - the part of test_except built with TXC_LIBC_SETJMP: its
 * try statements save their context with _setjmp, where the suite's own use
 * __builtin_setjmp (see TXC__SETJMP in <txc/except.h>).
 */
#ifndef TXC_TEST_EXCEPT_LIBC_H
#define TXC_TEST_EXCEPT_LIBC_H

#include <txc.h>

/* The frame kind of a try statement of this file, read inside its body. */
int libc_try_kind(void);

/* Runs fn(arg) in a try statement of this file that catches exception_io:
 * 1 and the message copied to msg (n bytes) if one was caught, else 0.
 * finally_ran counts the runs of its finally block. */
int libc_try_catch_io(void (*fn)(void*), void* arg, char* msg, size_t n, int* finally_ran);

/* depth nested sub_heap blocks, each holding an allocation with a
 * destructor that counts into *freed, then throw(exception_io, msg). */
void libc_throw_through(int depth, const char* msg, int* freed);

#endif
