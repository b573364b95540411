/*
 * txc/str.h - strings on the current heap.
 *
 * Each function returns a new NUL-terminated allocation on the current heap
 * (freed with it, movable with escape/import).  Allocation failure throws
 * exception_nomem; a NULL string or format throws exception_arg.
 */
#ifndef TXC_STR_H
#define TXC_STR_H

#include <stdarg.h>
#include <txc/heap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A copy of s. */
TXC_API char* txc_strdup(const char* s);
/* A copy of at most the first n bytes of s (stops at a NUL), NUL-terminated. */
TXC_API char* txc_strndup(const char* s, size_t n);
/* printf into a new string of exactly the needed size. */
TXC_API char* txc_sprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
TXC_API char* txc_vsprintf(const char* fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#ifdef __cplusplus
}
#endif

#endif
