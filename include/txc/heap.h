/*
 * txc/heap.h - the heap stack.
 *
 * Each thread has a stack of heaps that follows its call stack.  The heap on
 * top is the *current heap*: txc_alloc() and everything built on it allocate
 * there.  A thread starts with a root heap, freed when the thread exits.
 * Every other heap is itself an allocation on a parent heap, so memory forms
 * a tree, and freeing a heap frees everything below it.
 *
 *   sub_heap { ... }        a new heap for the block, freed however the block
 *                           is left (end, break, continue, return, goto,
 *                           exception)
 *   switch_heap(h) { ... }  h is current for the block
 *   global_heap { ... }     allocations go to the process-wide global heap,
 *                           kept only if the block is not left by an exception
 *
 * Costs: entering and leaving an empty sub_heap is a few stores (the block's
 * heap object comes ready from a per-thread pool, see txc__sub_heap_enter
 * below; no chunk is taken until the first allocation, and chunks are cached
 * per thread); a small allocation is a pointer bump plus a 16-byte header;
 * freeing a heap costs one step per chunk plus one per allocation that has a
 * destructor or was moved (escape/import), never one per plain allocation.
 *
 * Moving (escape/import) keeps an allocation's address.  A plain allocation
 * escaping from a sub heap to its parent outside a transaction becomes the
 * parent's own where it is (the sub heap's first chunk is lent by the
 * parent), at the cost of a few stores.  Otherwise a small allocation that
 * moved keeps the chunk it was carved from alive until it is freed, so
 * prefer escaping few, larger things; copy small strings instead.
 *
 * Errors: misuse (escaping from a heap without parent, import cycles, moving
 * or freeing the heap of a running block or a heap a running block uses --
 * the current heap, a switch_heap target, or one above them --, NULL) throws
 * exception_arg and
 * changes nothing; memory exhaustion throws exception_nomem; a pointer that
 * txc did not hand out, or one already freed, ends the program through
 * exception_fatal with a message that names the call.
 *
 * Building with --enable-debug fills new allocations with 0xa0 (except
 * new()/txc_alloc_zero) and freed memory with 0xfe.
 */
#ifndef TXC_HEAP_H
#define TXC_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TXC_API __attribute__((visibility("default")))

typedef struct txc_heap txc_heap_t;

/* Statistics of one heap.  allocs/bytes: live allocations directly on the
 * heap (a heap on it counts as one allocation of zero bytes), bytes as
 * requested by the callers; total_*: the same, including every heap below. */
typedef struct {
    size_t allocs, bytes, total_allocs, total_bytes;
} txc_heap_stats_t;

/* The current heap of the calling thread (its root heap outside any block). */
TXC_API txc_heap_t* txc_heap_current(void);
/* A new empty heap, an allocation on the current heap.  Freed with its parent,
 * or by txc_free(). */
TXC_API txc_heap_t* txc_heap_new(void);
/* The parent of h: NULL for a root heap, the global heap, the staging heap of
 * a global_heap block and an exception heap that is propagating. */
TXC_API txc_heap_t* txc_heap_parent(const txc_heap_t* h);
/* The heap that owns allocation p. */
TXC_API txc_heap_t* txc_heap_of(const void* p);

/* Allocation on the current heap.  Memory is aligned to alignof(max_align_t);
 * size 0 gives a unique pointer.  Throws exception_nomem (nothing leaks). */
TXC_API void* txc_alloc(size_t size) __attribute__((malloc, alloc_size(1)));
TXC_API void* txc_alloc_zero(size_t size) __attribute__((malloc, alloc_size(1)));
/* At least min_size bytes, more if that costs nothing (the rest of the current
 * chunk); *size_out (if not NULL) receives the usable size, which is also the
 * size counted in the statistics. */
TXC_API void* txc_alloc_buffer(size_t min_size, size_t* size_out);
/* Resize p, which stays on its own heap (grown in place when it is the last
 * allocation of its chunk).  p == NULL acts as txc_alloc.  A destructor set
 * on p moves to the new address.  Heaps cannot be reallocated
 * (exception_arg). */
TXC_API void* txc_realloc(void* p, size_t size);
/* Free p now: runs its destructor; a heap is freed with all it holds.  NULL
 * does nothing.  Rarely needed: memory goes with its heap.  The memory of a
 * plain small allocation is reused only when its heap is freed (or at once
 * if it was the heap's most recent allocation). */
TXC_API void txc_free(void* p);
/* Move p from its heap to that heap's parent; returns p.  exception_arg if
 * the heap has no parent or p is the heap of a running sub_heap block. */
TXC_API void* txc_escape(void* p);
/* Move p from whatever heap owns it to the current heap; returns p.
 * exception_arg for a heap imported into itself or below itself. */
TXC_API void* txc_import(void* p);
/* fn(p) runs just before p is freed, however that happens (txc_free, its heap
 * freed, unwinding).  Destructors of a heap run in reverse order of the
 * arrival of their allocations on it (a moved allocation arrives when it is
 * moved).  NULL removes the destructor.  An exception escaping a destructor
 * is fatal. */
TXC_API void txc_set_destructor(void* p, void (*fn)(void* p));
/* Costs one step per tracked allocation on h and below, and one per plain
 * allocation that the inline bump made since the counts were last settled
 * (see txc_heap.counted). */
TXC_API void txc_heap_stats(const txc_heap_t* h, txc_heap_stats_t* out);

/* Escape/import each of a list of allocations.  Refusals are checked for all
 * of them before any moves. */
TXC_API void txc_escape_array(void* const* ps, size_t n);
TXC_API void txc_import_array(void* const* ps, size_t n);

/* ------------------------------------------------------------------------
 * Internals used by the block macros.  Layouts may change between versions;
 * do not touch them.
 * ------------------------------------------------------------------------ */

struct txc__chunk;

/* An allocation that needs individual attention (destructor, moved, heap,
 * own malloc block) has a node in its heap's list, in order of arrival. */
struct txc__frame;
struct txc__node {
    union {
        struct txc__node* prev;
        /* the heap of a running sub_heap block from the pool (in no list):
         * the frame that was on top when the block was entered */
        struct txc__frame* below;
    };
    struct txc__node* next;
    txc_heap_t* heap;              /* owner */
    void (*dtor)(void*);
    void* ptr;                     /* the allocation */
    struct txc__chunk* chunk;      /* chunk it was carved from, or NULL */
    uint64_t seq;                  /* arrival order on the owner */
    size_t size;                   /* requested size (0 for a heap) */
    unsigned flags;
};

/* The header in front of every allocation. */
struct __attribute__((aligned(16))) txc__hdr {
    uint64_t word;                 /* node pointer if tracked, else seq<<24 | chunk offset/16 */
    uint32_t size;                 /* requested size (small allocations) */
    uint32_t tag;                  /* magic and flags */
};

struct txc_heap {
    char* bump;
    char* end;
    struct txc__chunk* chunk;      /* current chunk, head of the chunk list */
    struct txc__node *head, *tail; /* tracked allocations, oldest first */
    uint64_t seq;                  /* next arrival number */
    /* Live allocations directly on the heap and their requested bytes, but
     * for the plain ones in [counted, bump) of the current chunk: the inline
     * bump leaves the counts alone, and the library adds those when it
     * reads or changes the counts or moves the bump pointer (heap_settle). */
    size_t allocs, bytes;
    char* counted;
    unsigned flags;
    unsigned nchunks;
    struct txc__node self;         /* this heap's node in its parent (self.heap = parent) */
};

/* A heap with the header in front of it: a heap in a block of its own (the
 * root heaps, txc_heap_new, exception heaps), and a block's heap, in the
 * thread's pool or in the block's frame. */
struct txc__heap_block {
    struct txc__hdr hdr;
    txc_heap_t heap;
};

/* One frame per running block, linked from the thread's context (but for
 * the sub_heap blocks whose heaps come from the pool, see
 * txc__sub_heap_enter). */
struct txc__frame {
    struct txc__frame* prev;
    txc_heap_t* saved;             /* current heap when the block was entered */
    int kind;
};

/* Frame kinds.  A try's frame is TXC__F_TRY when the try saved its context
 * with __builtin_setjmp, TXC__F_TRY_LIBC when with _setjmp (see
 * TXC__SETJMP in <txc/except.h>). */
enum { TXC__F_SUB = 1, TXC__F_SWITCH, TXC__F_TRY, TXC__F_TXN, TXC__F_BARRIER, TXC__F_TRY_LIBC };

/* Heap flags and header tags the inline paths need (see src/internal.h). */
#define TXC__HF_GLOBAL 0x2u
#define TXC__HF_BORROW 0x10u
#define TXC__HF_LOCAL 0x40u /* a block's heap in its frame, not in the pool */
#define TXC__TAG_FRAME_HEAP 0x7c5a0007u /* live, tracked, heap, frame */
#define TXC__TAG_DEAD 0xdead0000u

struct txc__ctx {
    txc_heap_t* current;
    struct txc__frame* top;
    void* txn;                     /* innermost transaction */
    txc_heap_t* root;
    void* state;                   /* the rest, owned by the library */
    /* The pool of sub_heap blocks' heaps, a stack that follows the blocks:
     * [pool_base, pool_top) in use, [pool_top, pool_ready) ready (every
     * field as a new heap has it but the parent, the frame below and the
     * arrival number, which entering sets), pool_ready: where the next one
     * would be prepared.  pool_base[-1] is a sentinel whose frame below is
     * no frame.  All NULL before the context exists. */
    struct txc__heap_block *pool_top, *pool_ready, *pool_base;
};

extern TXC_API __thread struct txc__ctx txc__ctx __attribute__((tls_model("initial-exec")));

/* The inline paths touch txc__ctx.  GCC 12's UBSan null check of a
 * thread-local address is miscompiled next to ASan instrumentation (it tests
 * stale flags), so those functions opt out of UBSan; the library's own
 * copies of the same logic keep it. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
#define TXC__INLINE static inline __attribute__((no_sanitize("undefined")))
#else
#define TXC__INLINE static inline
#endif

struct txc__sub_heap {
    struct txc__frame f;           /* pushed when the heap is local */
    txc_heap_t* heap;              /* &local.heap when the heap is local (a transaction's:
                                    * its own); unset for a pooled one, which is the current
                                    * heap when the block is left */
    struct txc__heap_block local;  /* when the pool cannot serve (and for transactions) */
};

struct txc__switch_heap {
    struct txc__frame f;
    txc_heap_t* heap;
    int once;
};

TXC_API void txc__init(void);
TXC_API struct txc__sub_heap* txc__sub_heap_enter_slow(struct txc__sub_heap* s);
TXC_API void txc__sub_heap_leave_slow(struct txc__sub_heap* s);

/* The heap block around h. */
TXC__INLINE struct txc__heap_block* txc__heap_block_of(txc_heap_t* h)
{
    return (struct txc__heap_block*)(void*)((char*)h - offsetof(struct txc__heap_block, heap));
}

/* A block's heap is an allocation on its parent that cannot move or be freed
 * while the block runs.  It is counted in the parent's statistics (a heap
 * kept in a frame in the parent's allocs field, a pooled one by
 * txc_heap_stats looking at the pool) but not linked into the parent's
 * list.
 *
 * A sub_heap block takes its heap from the thread's pool (struct txc__ctx),
 * which holds them ready: a heap left with nothing on it and no destructor
 * goes back as it is (entering resets its arrival number), so entering and leaving
 * such a block is a handful of stores.  A heap that holds something is
 * made new again when its block is left (txc__sub_heap_leave_slow).  Such a
 * block pushes no frame: the pool, a stack that follows the blocks, is its
 * record.  Each pooled heap notes the frame that was on top when its block
 * was entered (self.below), which places it among the frames for the
 * unwinder and for the checks that look for the heaps in use.  When the
 * pool is used up, or the parent is the global heap, the block's heap lives
 * in its frame (TXC__HF_LOCAL), which is pushed, and takes the slow paths. */
TXC__INLINE struct txc__sub_heap* txc__sub_heap_enter(struct txc__sub_heap* s)
{
    struct txc__ctx* c = &txc__ctx;
    txc_heap_t* parent = c->current;
    struct txc__heap_block* p = c->pool_top;
    /* (pool_ready is NULL until the context exists) */
    if (__builtin_expect(p == c->pool_ready || (parent->flags & TXC__HF_GLOBAL), 0))
        return txc__sub_heap_enter_slow(s);
    c->pool_top = p + 1;
    p->hdr.tag = TXC__TAG_FRAME_HEAP;
    p->heap.seq = 0;
    p->heap.self.heap = parent;
    p->heap.self.below = c->top;
    c->current = &p->heap;
    return s;
}

/* Whether h holds nothing but the heaps of running blocks, and has no
 * destructor (one test for the three pointers). */
TXC__INLINE bool txc__heap_bare(const txc_heap_t* h)
{
    return !((uintptr_t)h->chunk | (uintptr_t)h->head | (uintptr_t)h->self.dtor);
}

/* Whether h, the heap of a sub_heap block, goes back to the pool as it is:
 * a pooled heap with nothing on it and no destructor.  (Its arrival number
 * may have moved, if what arrived was freed again: the next block to take
 * it resets it.  A heap on the global heap, whose statistics need the
 * lock, is never pooled.) */
TXC__INLINE bool txc__sub_heap_trivial(const txc_heap_t* h)
{
    return txc__heap_bare(h) && !(h->flags & TXC__HF_LOCAL);
}

TXC__INLINE void txc__sub_heap_leave(struct txc__sub_heap* s)
{
    struct txc__ctx* c = &txc__ctx;
    txc_heap_t* h = c->current; /* the block's: each block inside it restored it when left */
    if (__builtin_expect(!txc__sub_heap_trivial(h), 0)) {
        txc__sub_heap_leave_slow(s);
        return;
    }
    c->current = h->self.heap;
    struct txc__heap_block* p = txc__heap_block_of(h);
    p->hdr.tag = TXC__TAG_DEAD;
    c->pool_top = p;
}

TXC_API struct txc__switch_heap* txc__switch_heap_enter(struct txc__switch_heap* s, txc_heap_t* h);
TXC_API void txc__switch_heap_leave(struct txc__switch_heap* s);

/* A transaction's frame: sub_heap_txn, switch_txn and global_heap. */
struct txc__txn {
    struct txc__sub_heap sh;       /* the sub heap (for global_heap: the staging heap) */
    txc_heap_t* heap;              /* h of sub_heap_txn */
    struct txc__txn* parent;       /* enclosing transaction */
    struct txc__txn* outer;        /* outermost transaction: owns the log memory */
    struct txc__heap_block* pool_mark; /* the pool's top when it began */
    uint64_t start;                /* the transaction clock when it began */
    void *log, *log_tail;          /* undo records, newest first */
    void *commits, *commits_tail;  /* commit hooks, oldest first */
    void *frees, *frees_tail;      /* deferred frees, oldest first */
    txc_heap_t* logheap;           /* outermost only: where records live */
    txc_heap_t* gpending;          /* outermost only: global_heap commits awaiting it */
    txc_heap_t* limbo;             /* outermost only: moved allocations whose heap died */
    int global;
    int undone;
    int once;
};

TXC_API struct txc__txn* txc__txn_enter(struct txc__txn* t, int global);
TXC_API void txc__txn_leave(struct txc__txn* t);

#define TXC__CAT2(a, b) a##b
#define TXC__CAT(a, b) TXC__CAT2(a, b)

/* sub_heap { ... }: a new heap, current for the block, freed on leaving.
 * The loop runs once: txc__shp (never NULL from the enter) is its only
 * state, which the compiler keeps out of memory. */
#define TXC_SUB_HEAP                                                          \
    for (struct txc__sub_heap txc__sh __attribute__((cleanup(txc__sub_heap_leave))), \
         *txc__shp = txc__sub_heap_enter(&txc__sh);                           \
         txc__shp; txc__shp = NULL)

/* switch_heap(h) { ... }: h is current for the block.  h must not be NULL
 * (exception_arg).  A heap cannot be freed while a block uses it. */
#define TXC_SWITCH_HEAP(h)                                                    \
    for (struct txc__switch_heap txc__sw __attribute__((cleanup(txc__switch_heap_leave))), \
         *txc__swp __attribute__((unused)) = txc__switch_heap_enter(&txc__sw, (h)); \
         txc__sw.once; txc__sw.once = 0)

/* global_heap { ... }: allocations in the block go to the process-wide global
 * heap, which lives as long as the program.  The block is a transaction
 * (see <txc/txn.h>): allocations are made on a per-thread staging heap
 * (txc_heap_current() inside the block) and join the global heap when the
 * block is left normally -- or, inside another transaction, when the
 * outermost one commits; if it is left by an exception they are discarded,
 * and container changes and txn_set writes made in it are undone.
 * Thread-safe: the global heap takes a lock when allocations join it or are
 * freed or moved. */
#define TXC_GLOBAL_HEAP                                                       \
    for (struct txc__txn txc__gh __attribute__((cleanup(txc__txn_leave))),    \
         *txc__ghp __attribute__((unused)) = txc__txn_enter(&txc__gh, 1);     \
         txc__gh.once; txc__gh.once = 0)

/* The fast paths of txc_alloc and txc_alloc_zero, inline: when the current
 * heap's chunk has room, a small allocation is a header and a pointer bump
 * in the caller.
 * This makes the header's encoding part of the ABI of this soname (the
 * library's copy in src/alloc.c uses the same function).  A library built
 * with --enable-debug defines TXC_DEBUG for its own code and tests, which
 * then take the library's path (it fills new memory with 0xa0); a program
 * can do the same with TXC_NO_INLINE_ALLOC. */
#define TXC__TAG_LIVE 0x7c5a0000u
#define TXC__SMALL_MAX 16384u
#define TXC__SEQ_SHIFT 24

TXC__INLINE void* txc__bump(txc_heap_t* h, size_t size, size_t need)
{
    char* b = h->bump;
    struct txc__hdr* hd = (struct txc__hdr*)(void*)b;
    h->bump = b + need;
    hd->word = (h->seq++ << TXC__SEQ_SHIFT) | (((uintptr_t)b - (uintptr_t)h->chunk) >> 4);
    hd->size = (uint32_t)size;
    hd->tag = TXC__TAG_LIVE;
    return hd + 1; /* (counted later: see txc_heap.counted) */
}

/* The room a size-byte allocation takes on h, header included, if h's chunk
 * can serve it by a bump; 0 if not. */
TXC__INLINE size_t txc__bump_fits(const txc_heap_t* h, size_t size)
{
    size_t need = sizeof(struct txc__hdr) + ((size + 15) & ~(size_t)15);
    return h != NULL && size <= TXC__SMALL_MAX && (size_t)(h->end - h->bump) >= need ? need : 0;
}

TXC_API void* txc__alloc_slow(size_t size);

#if !defined(TXC_DEBUG) && !defined(TXC_NO_INLINE_ALLOC)
TXC__INLINE void* txc__alloc_inline(size_t size)
{
    txc_heap_t* h = txc__ctx.current;
    size_t need = txc__bump_fits(h, size);
    if (__builtin_expect(need != 0, 1))
        return txc__bump(h, size, need);
    return txc__alloc_slow(size);
}
TXC__INLINE void* txc__alloc_zero_inline(size_t size)
{
    txc_heap_t* h = txc__ctx.current;
    size_t need = txc__bump_fits(h, size);
    if (__builtin_expect(need != 0, 1))
        return __builtin_memset(txc__bump(h, size, need), 0, size);
    return (txc_alloc_zero)(size);
}
#define txc_alloc(size) txc__alloc_inline(size)
#define txc_alloc_zero(size) txc__alloc_zero_inline(size)
#endif

/* A T* to a zeroed T on the current heap. */
#define TXC_NEW(T) ((T*)txc_alloc_zero(sizeof(T)))

#ifdef __cplusplus
#define TXC_ESCAPE(p) txc_escape(p)
#define TXC_IMPORT(p) txc_import(p)
#else
#define TXC_ESCAPE(p) ((__typeof__(p))txc_escape(p))
#define TXC_IMPORT(p) ((__typeof__(p))txc_import(p))
#endif
#define TXC__NARGS_PTRS(...) (sizeof((void*[]){__VA_ARGS__}) / sizeof(void*))
#define TXC_ESCAPE_LIST(...) txc_escape_array((void* const[]){__VA_ARGS__}, TXC__NARGS_PTRS(__VA_ARGS__))
#define TXC_IMPORT_LIST(...) txc_import_array((void* const[]){__VA_ARGS__}, TXC__NARGS_PTRS(__VA_ARGS__))

#if !defined(TXC_NO_SHORT_NAMES) && !defined(__cplusplus)
#define sub_heap TXC_SUB_HEAP
#define switch_heap(h) TXC_SWITCH_HEAP(h)
#define global_heap TXC_GLOBAL_HEAP
#define new(T) TXC_NEW(T)
#define escape(p) TXC_ESCAPE(p)
#define import(p) TXC_IMPORT(p)
#define escape_list(...) TXC_ESCAPE_LIST(__VA_ARGS__)
#define import_list(...) TXC_IMPORT_LIST(__VA_ARGS__)
#endif

#ifdef __cplusplus
}
#endif

#endif
