/*
 * txc/except.h - exceptions on setjmp/longjmp, integrated with the heap stack.
 *
 *   try {
 *       ...                       may throw(T, "fmt", ...)
 *   } catch (exception_io, e) {
 *       ...                       e->message, e->errnum ...
 *   } catch (exception_any, e) {
 *       ...
 *   } finally {
 *       ...                       runs on every path
 *   }
 *
 * A try is followed by catch blocks, then at most one finally, at least one
 * block in all.  The first catch in text order whose type is the thrown type
 * or an ancestor of it wins.
 *
 * Throwing first looks for a try that will catch the exception.  If there is
 * none, the uncaught handler is called right there (nothing is unwound, so a
 * debugger or the backtrace sees the throw), then abort().  Otherwise the
 * heap stack is unwound down to that try: every sub_heap entered since is
 * freed (destructors run), every switch_heap restored, every transaction
 * aborted, and every finally on the way runs, before the catch block runs.
 *
 * Rules of use:
 *  - Locals changed inside try and read in catch or finally (or after the try
 *    statement, following an exception) must be volatile: setjmp rules.  GCC's
 *    -Wclobbered points at the ones that are not where a try calls _setjmp;
 *    with __builtin_setjmp (see TXC__SETJMP) GCC keeps such locals right
 *    and says nothing, but Clang does not keep them: build once with
 *    -DTXC_LIBC_SETJMP to see the warnings.
 *  - break or continue in a try, catch or finally block ends that block as if
 *    it had run to its end (the finally still runs); it never reaches an
 *    enclosing loop or switch.
 *  - return or goto out of a try statement pops it cleanly when it has no
 *    finally.  Leaving a try statement that has a finally by return or goto
 *    is a programming error: exception_fatal, naming the file and line (of
 *    the finally block).
 *  - A caught exception (with its message, cause and data) belongs to the
 *    heap that was current when the try statement was entered.  It stays
 *    valid after the try statement until that heap is freed; escape(e),
 *    import(e) and txc_free(e) act on the whole exception (its heap e->heap).
 *    A try/catch in a loop on a long-lived heap therefore keeps every caught
 *    exception: free it (txc_free(e)) or put the loop body in a sub_heap.
 *  - An exception thrown in a catch block propagates from the try statement
 *    after its finally block.  One thrown in a finally block while another
 *    passes through takes that one as its cause if it has none.
 *  - exception_fatal cannot be caught: it goes straight to the uncaught
 *    handler.  An exception escaping a destructor or an abort hook is fatal.
 *  - exception_nomem is thrown without needing memory.  It is built like any
 *    exception while memory allows (throw_fwd and throw_data then move their
 *    cause and data onto it, throw_errno records errno); when not even that
 *    is possible its object is a per-thread one (heap NULL) holding the
 *    message, cut to the buffer, and errnum, but no cause or data (they stay
 *    where they were), copied onto the catching try's heap if memory allows
 *    by the time it is caught.
 *  - Each thread has its own try stack; exceptions never cross threads.
 *  - A throw must not leave a pthread_cleanup_push/pop region: as with
 *    longjmp, its cleanup handler would not run (and the jump does not tell
 *    the thread's cancellation machinery that the region is gone).
 *
 * Costs: try without a throw saves its context with the compiler's
 * __builtin_setjmp (three stores, no call; see TXC__SETJMP), about seven
 * stores (the frame linked; one per catch type and one for the state) and
 * one test after the body.  A throw is one exception heap (one block holding
 * the heap, the object and its message, from a per-thread cache: malloc only
 * when the cache is empty or the message is longer than about 400 bytes), one
 * vsnprintf only if the format has a '%' (a string literal without one is
 * the message itself; another string is copied), a walk of the frames and one
 * jump (__builtin_longjmp: two registers loaded and a branch); catching links
 * the exception's heap to the try's, and txc_free of a caught exception
 * holding nothing else gives the block back to the cache.
 * A backtrace is taken only for an uncaught exception.
 */
#ifndef TXC_EXCEPT_H
#define TXC_EXCEPT_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <txc/heap.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct txc_exception_type {
    const char* name;
    const struct txc_exception_type* parent; /* NULL only for exception_any (and exception_fatal) */
} txc_exception_type_t;

typedef struct txc_exception {
    const txc_exception_type_t* type;
    const char* message;                      /* formatted, NUL-terminated */
    const char* file;
    int line;
    const char* func;                         /* where it was thrown */
    int errnum;                               /* errno captured by throw_errno, else 0 */
    struct txc_exception* cause;              /* the exception it forwards (throw_fwd), or NULL */
    void* data;                               /* payload given to throw_data, or NULL */
    txc_heap_t* heap;                         /* the heap that holds it, its strings, cause and data */
} txc_exception_t;

/* The built-in types. */
extern TXC_API const txc_exception_type_t txc_exception_any[1];
extern TXC_API const txc_exception_type_t txc_exception_arg[1];
extern TXC_API const txc_exception_type_t txc_exception_io[1];
extern TXC_API const txc_exception_type_t txc_exception_nomem[1];
extern TXC_API const txc_exception_type_t txc_exception_fatal[1];
#define TXC_E_ANY (txc_exception_any)
#define TXC_E_ARG (txc_exception_arg)
#define TXC_E_IO (txc_exception_io)
#define TXC_E_NOMEM (txc_exception_nomem)
#define TXC_E_FATAL (txc_exception_fatal)

/* define_exception(name, parent); at file scope defines name, an expression
 * of type const txc_exception_type_t*, named "name", below parent.
 * declare_exception(name); declares it (in a header). */
#define TXC_DEFINE_EXCEPTION(name, parent) \
    const txc_exception_type_t name[1] = {{#name, (parent)}}
#define TXC_DECLARE_EXCEPTION(name) extern const txc_exception_type_t name[1]

/* True if e's type is t or below t.  exception_fatal is below nothing. */
TXC_API bool txc_exception_is(const txc_exception_t* e, const txc_exception_type_t* t);
/* "type: message (at file:line in func)" and one "caused by" line per cause,
 * on the current heap. */
TXC_API char* txc_exception_describe(const txc_exception_t* e);

typedef void (*txc_uncaught_handler_t)(const txc_exception_t* e);
/* Process-wide; NULL restores the default, which prints the description and
 * a backtrace of the throw to stderr.  abort() follows the handler. */
TXC_API txc_uncaught_handler_t txc_set_uncaught_handler(txc_uncaught_handler_t h);

/* ---- internals of the macros ---- */

#define TXC__MAX_CATCH 8

/* The state of a try statement: a stage, COLLECT (the catch and finally
 * macros register themselves; no block runs), BODY, then CATCH or FINALLY
 * when an exception arrives, then DONE; and flags.  One word, so that the
 * inline paths read and write it whole. */
enum {
    TXC__T_COLLECT = 1,
    TXC__T_BODY,
    TXC__T_CATCH,
    TXC__T_FINALLY,
    TXC__T_DONE,
    TXC__T_STAGE = 0xff,
    TXC__T_HAS_FINALLY = 0x100, /* a finally block follows */
    TXC__T_MANY = 0x200,        /* more catch types than TXC__MAX_CATCH */
    TXC__T_ARRIVED = 0x400,     /* the unwinder jumped here; the pass of the stage is to run */
    TXC__T_CAUGHT = 0x800,      /* a catch block took the exception */
    TXC__T_PENDING = 0x1000     /* exc propagates on after the finally block */
};

struct txc__try {
    struct txc__frame f;
    unsigned state;
    unsigned ntypes;
    const txc_exception_type_t* types[TXC__MAX_CATCH];
    txc_exception_t* exc;   /* set when an exception arrives */
    const char* where;      /* "file:line" of the finally block, if any */
    jmp_buf jb;
};

TXC_API bool txc__try_next_slow(struct txc__try* t);
TXC_API __attribute__((noreturn)) void txc__try_left_badly(struct txc__try* t);

/* How a try saves the context its catch resumes in.  GCC and Clang on x86-64
 * agree on the buffer of __builtin_setjmp (frame pointer, resume address,
 * stack pointer), so a try uses it there: three stores and no call, and the
 * compiler itself spills what lives across it.  Elsewhere, under
 * ThreadSanitizer (which follows jumps through its _setjmp and _longjmp
 * interceptors), or when TXC_LIBC_SETJMP is defined before <txc.h> is
 * included, a try calls _setjmp (no signal mask).  Each try's frame kind
 * says which one it used, and the unwinder jumps back the same way, so
 * code built either way can be mixed in one program. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TXC__TSAN 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(TXC_LIBC_SETJMP) && !defined(__SANITIZE_THREAD__) && \
    !defined(TXC__TSAN)
#define TXC__SETJMP(jb) __builtin_setjmp((void**)(void*)(jb))
#define TXC__F_TRY_HERE TXC__F_TRY
#else
#define TXC__SETJMP(jb) _setjmp(jb)
#define TXC__F_TRY_HERE TXC__F_TRY_LIBC
#endif

/* A try statement that does not throw runs inline: the frame linked (three
 * stores and the context's top), one TXC__SETJMP, the collect pass (a store per
 * catch type, one for the state), the body, one test, the frame unlinked. */
TXC__INLINE void txc__try_enter(struct txc__try* t)
{
    struct txc__ctx* c = &txc__ctx;
    if (__builtin_expect(!c->current, 0))
        txc__init();
    t->f.prev = c->top;
    t->f.saved = c->current;
    t->f.kind = TXC__F_TRY_HERE;
    c->top = &t->f;
}

/* After the TXC__SETJMP.  When it returned 0 the collect pass comes: the result,
 * txc__coll, is then 1 + the number of catch types seen so far, carried in
 * a pointer (the one other type the for statement can declare) that lives
 * in a register.  The compiler folds the whole pass to a few stores; being
 * set only after the TXC__SETJMP and redefined before each read, it draws no
 * -Wclobbered warning.  NULL: a later pass (the unwinder jumped here). */
static inline struct txc__try* txc__try_start(struct txc__try* t, int jumped)
{
    if (jumped)
        return NULL;
    t->state = TXC__T_COLLECT;
    t->ntypes = 0;
    return (struct txc__try*)(uintptr_t)1;
}

static inline struct txc__try* txc__try_collect(struct txc__try* t, struct txc__try* coll,
                                                const txc_exception_type_t* type)
{
    uintptr_t n = (uintptr_t)coll - 1; /* catch types so far */
    if (n < TXC__MAX_CATCH) {
        t->types[n] = type;
        t->ntypes = (unsigned)n + 1;
    } else {
        t->state |= TXC__T_MANY;
    }
    return (struct txc__try*)(n + 2);
}

/* Before each pass: whether there is one, and for which stage.  Inline: the
 * steps of a try without finally that does not throw, or catches. */
static inline bool txc__try_next(struct txc__try* t, const struct txc__try* c)
{
    if (c) /* the collect pass */
        return true;
    unsigned s = t->state;
    if (s == TXC__T_BODY || s == (TXC__T_CATCH | TXC__T_CAUGHT)) /* after a body or catch, no finally */
        return false;
    if (s == TXC__T_COLLECT) { /* after the collect pass, no finally */
        t->state = TXC__T_BODY;
        return true;
    }
    if (s & TXC__T_ARRIVED) { /* the unwinder jumped here */
        t->state = s & ~(unsigned)TXC__T_ARRIVED;
        return true;
    }
    return txc__try_next_slow(t);
}

TXC__INLINE void txc__try_leave(struct txc__try* t)
{
    if (__builtin_expect((t->state & TXC__T_HAS_FINALLY) && (t->state & TXC__T_STAGE) != TXC__T_DONE, 0))
        txc__try_left_badly(t);
    txc__ctx.top = t->f.prev;
}

/* In the catch pass: whether this catch takes the exception (the first
 * whose type is the exception's or an ancestor of it). */
static inline bool txc__try_catch(struct txc__try* t, const txc_exception_type_t* type)
{
    if ((t->state & (TXC__T_STAGE | TXC__T_CAUGHT)) != TXC__T_CATCH)
        return false;
    for (const txc_exception_type_t* x = t->exc->type; x; x = x->parent)
        if (x == type) {
            t->state |= TXC__T_CAUGHT;
            return true;
        }
    return false;
}

static inline bool txc__try_finally(struct txc__try* t, const struct txc__try* c, const char* where)
{
    if (c) {
        t->state |= TXC__T_HAS_FINALLY;
        t->where = where;
        return false;
    }
    return (t->state & TXC__T_STAGE) == TXC__T_FINALLY;
}

/* errnum >= 0: a throw_errno.  TXC__NO_ERRNO: not.  TXC__LITERAL: not, and
 * fmt is a string literal without '%' (the compiler says so): the message is
 * fmt itself, nothing to format or copy. */
#define TXC__NO_ERRNO (-1)
#define TXC__LITERAL (-2)
TXC_API __attribute__((noreturn, format(printf, 8, 9))) void
txc__throw(const txc_exception_type_t* type, const char* file, int line, const char* func,
           int errnum, txc_exception_t* cause, void* data, const char* fmt, ...);
/* throw with a string literal without '%' as the message, nothing else:
 * no variadic call, nothing to format or copy. */
TXC_API __attribute__((noreturn)) void txc__throw_literal(const txc_exception_type_t* type, const char* file,
                                                          int line, const char* func, const char* msg);
TXC_API __attribute__((noreturn)) void txc__rethrow(txc_exception_t* e);
TXC_API __attribute__((noreturn, format(printf, 1, 2))) void txc__fatal(const char* fmt, ...);

#define TXC__STR2(x) #x
#define TXC__STR(x) TXC__STR2(x)

/* The frame is linked and TXC__SETJMP called before the loop, which runs a pass
 * per stage: first the collect pass (txc__coll set), where the catch and
 * finally macros register themselves, then the body.  An exception that
 * this try statement catches, or must run its finally for, comes back from
 * that TXC__SETJMP with the stage set by the unwinder (and ARRIVED): the body is
 * skipped and the catch and finally macros take over.  The one-pass loops
 * around each block make break and continue end that block. */
#define TXC_TRY                                                                  \
    for (struct txc__try txc__try __attribute__((cleanup(txc__try_leave))),       \
         *txc__coll = txc__try_start(&txc__try, TXC__SETJMP((txc__try_enter(&txc__try), txc__try.jb))); \
         txc__try_next(&txc__try, txc__coll); txc__coll = NULL)                   \
        if ((txc__try.state & TXC__T_STAGE) == TXC__T_BODY)                       \
            for (int txc__once = 1; txc__once; txc__once = 0)

#define TXC_CATCH(T, e)                                                          \
        else if (txc__coll ? (txc__coll = txc__try_collect(&txc__try, txc__coll, (T)), 0) \
                               : txc__try_catch(&txc__try, (T)))                 \
                for (int txc__once = 1; txc__once; txc__once = 0)                \
                    for (txc_exception_t *const e __attribute__((unused)) = txc__try.exc; \
                         txc__once; txc__once = 0)

#define TXC_FINALLY                                                              \
        else if (txc__try_finally(&txc__try, txc__coll, __FILE__ ":" TXC__STR(__LINE__))) \
                for (int txc__once = 1; txc__once; txc__once = 0)

/* TXC__IS_LITERAL(f): whether the format (the first of the arguments) is a
 * string literal without '%' (the format is not evaluated here unless it is
 * such a literal); TXC__MSG: TXC__LITERAL if so, else TXC__NO_ERRNO. */
#define TXC__FIRST(f, ...) f
#define TXC__IS_LITERAL(f)                                                           \
    (__builtin_constant_p(f) && __builtin_constant_p(__builtin_strchr(f, '%')) &&    \
     !__builtin_strchr(f, '%'))
#define TXC__MSG(...) (TXC__IS_LITERAL(TXC__FIRST(__VA_ARGS__, 0)) ? TXC__LITERAL : TXC__NO_ERRNO)

/* A literal message takes txc__throw_literal.  Both calls are compiled (the
 * format is checked against the arguments), one runs: T is evaluated once.
 * Arguments after a literal without '%' (which -Wformat-extra-args reports)
 * are not evaluated. */
#define TXC_THROW(T, ...)                                                            \
    (TXC__IS_LITERAL(TXC__FIRST(__VA_ARGS__, 0))                                     \
         ? txc__throw_literal((T), __FILE__, __LINE__, __func__, TXC__FIRST(__VA_ARGS__, 0)) \
         : txc__throw((T), __FILE__, __LINE__, __func__, TXC__NO_ERRNO, NULL, NULL, __VA_ARGS__))
#define TXC_THROW_ERRNO(T, ...) \
    txc__throw((T), __FILE__, __LINE__, __func__, errno, NULL, NULL, __VA_ARGS__)
#define TXC_THROW_FWD(T, cause, ...) \
    txc__throw((T), __FILE__, __LINE__, __func__, TXC__MSG(__VA_ARGS__), (cause), NULL, __VA_ARGS__)
#define TXC_THROW_DATA(T, data, ...) \
    txc__throw((T), __FILE__, __LINE__, __func__, TXC__MSG(__VA_ARGS__), NULL, (data), __VA_ARGS__)
#define TXC_RETHROW(e) txc__rethrow(e)

#if !defined(TXC_NO_SHORT_NAMES) && !defined(__cplusplus)
#define exception_any TXC_E_ANY
#define exception_arg TXC_E_ARG
#define exception_io TXC_E_IO
#define exception_nomem TXC_E_NOMEM
#define exception_fatal TXC_E_FATAL
#define define_exception(name, parent) TXC_DEFINE_EXCEPTION(name, parent)
#define declare_exception(name) TXC_DECLARE_EXCEPTION(name)
#define try TXC_TRY
#define catch(T, e) TXC_CATCH(T, e)
#define finally TXC_FINALLY
#define throw(T, ...) TXC_THROW(T, __VA_ARGS__)
#define throw_errno(T, ...) TXC_THROW_ERRNO(T, __VA_ARGS__)
#define throw_fwd(T, cause, ...) TXC_THROW_FWD(T, cause, __VA_ARGS__)
#define throw_data(T, data, ...) TXC_THROW_DATA(T, data, __VA_ARGS__)
#define rethrow(e) TXC_RETHROW(e)
#endif

#ifdef __cplusplus
}
#endif

#endif
