/*
 * uncaught.c - describing exceptions, and what happens to the ones no try
 * catches: the default handler prints the description and a backtrace of
 * the throw (return addresses taken only for an uncaught exception,
 * symbolised while printing) to stderr; abort() follows any handler.
 */
#include "internal.h"

#include <stdio.h>
#include <unistd.h>
#ifdef HAVE_EXECINFO_H
#include <execinfo.h>
#endif

void exc_backtrace(struct exc_full* x)
{
#ifdef HAVE_EXECINFO_H
    x->nframes = backtrace(x->frames, (int)(sizeof x->frames / sizeof x->frames[0]));
#else
    x->nframes = 0;
#endif
}

/* snprintf-like: the description of e into buf (n bytes); returns the full
 * length. */
static size_t exc_format(const txc_exception_t* e, char* buf, size_t n)
{
    char none[1];
    size_t len = 0;
    if (!buf || n == 0)
        buf = none, n = 1;
    for (int depth = 0; e && depth < 64; e = e->cause, depth++) {
        size_t at = len < n ? len : n - 1;
        int k = snprintf(buf + at, n - at, "%s%s: %s (at %s:%d in %s)", depth ? "\n  caused by " : "",
                         e->type->name, e->message ? e->message : "", e->file ? e->file : "?", e->line,
                         e->func ? e->func : "?");
        if (k > 0)
            len += (size_t)k;
    }
    return len;
}

TXC_API char* txc_exception_describe(const txc_exception_t* e)
{
    if (!e)
        THROW_ARG("txc_exception_describe: NULL exception");
    size_t n = exc_format(e, NULL, 0);
    char* s = txc_alloc(n + 1);
    exc_format(e, s, n + 1);
    return s;
}

void exc_default_handler(const txc_exception_t* e)
{
    char buf[4096];
    exc_format(e, buf, sizeof buf);
    fprintf(stderr, "txc: uncaught exception: %s\n", buf);
    const struct exc_full* x = (const struct exc_full*)e;
#ifdef HAVE_EXECINFO_H
    if (x->nframes > 0) {
        fputs("backtrace of the throw:\n", stderr);
        fflush(stderr);
        backtrace_symbols_fd(x->frames, x->nframes, STDERR_FILENO);
    }
#else
    (void)x;
#endif
    fflush(stderr);
}
