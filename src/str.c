/*
 * str.c - strings on the current heap.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

TXC_API char* txc_strdup(const char* s)
{
    if (!s)
        THROW_ARG("txc_strdup: NULL string");
    size_t n = strlen(s);
    char* p = txc_alloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

TXC_API char* txc_strndup(const char* s, size_t n)
{
    if (!s)
        THROW_ARG("txc_strndup: NULL string");
    size_t len = strnlen(s, n);
    char* p = txc_alloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

TXC_API char* txc_vsprintf(const char* fmt, va_list ap)
{
    if (!fmt)
        THROW_ARG("txc_vsprintf: NULL format");
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        THROW_ARG("txc_vsprintf: cannot format \"%s\"", fmt);
    char* p = txc_alloc((size_t)n + 1);
    if ((size_t)n < sizeof small)
        memcpy(p, small, (size_t)n + 1);
    else
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

TXC_API char* txc_sprintf(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char* p = txc_vsprintf(fmt, ap);
    va_end(ap);
    return p;
}
