/*
 * internal.h - what the library's modules share and users never see.
 *
 * The memory model, in one place:
 *
 *  - A heap (struct txc_heap) carves small allocations from chunks by bumping
 *    a pointer.  Chunks come from a per-thread cache by size class, grow from
 *    4 KiB to 256 KiB as a heap grows, and return to the cache when the heap
 *    is freed.
 *  - Every allocation has a 16-byte header (struct txc__hdr) right before it:
 *    a magic tag with flags, the requested size, and one word that is either
 *    the allocation's arrival number and its chunk offset (a plain
 *    allocation) or a pointer to its node (a tracked allocation).
 *  - An allocation is tracked when it needs individual attention: it has a
 *    destructor, it moved to another heap, it is a heap, or it is large and
 *    lives in its own malloc block.  Tracked allocations sit in their owner's
 *    list in order of arrival, so freeing a heap walks that list backwards
 *    (destructors newest first) and then hands back its chunks: the cost
 *    grows with chunks and tracked allocations, not with plain ones.
 *  - A small allocation that moves keeps its chunk: the chunk's pin count
 *    holds it back when its home heap is freed (the chunk is orphaned), and
 *    the last unpin returns it.
 *  - The owner of a plain allocation is its chunk's home; merging a heap into
 *    another (transaction commit, global_heap) re-homes whole chunks and
 *    shifts their arrival numbers by a per-chunk delta, so it costs one step
 *    per chunk and per tracked allocation.
 *
 * Invariants (checked by assert in debug builds):
 *  - h->bump <= h->end, and both are NULL when h has no chunk.
 *  - a tracked allocation's node->heap is its owner; node->ptr is it.
 *  - chunk->refs is 1 while its home heap holds it, plus one per tracked
 *    allocation carved from it that moved (NF_PINNED); at 0 it is released.
 */
#ifndef TXC_INTERNAL_H
#define TXC_INTERNAL_H

#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <txc.h>

#define HIDDEN __attribute__((visibility("hidden")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TLS __thread __attribute__((tls_model("initial-exec")))

/* Header tag: magic in the high half, flags in the low half. */
#define TAG_MAGIC 0xffff0000u
#define TAG_LIVE 0x7c5a0000u
#define TAG_DEAD 0xdead0000u
#define TF_TRACKED 0x0001u /* word is a node pointer */
#define TF_HEAP 0x0002u    /* the allocation is a struct txc_heap */
#define TF_FRAME 0x0004u   /* the heap of a running block: cannot move or be freed */
#define TF_LARGE 0x0008u   /* own malloc block (struct large) */
#define TF_EXC 0x0010u     /* an exception object: moves and frees act on its heap */
#define TF_OWNBLOCK 0x0020u /* a heap in its own malloc block [hdr][heap] */
#define TF_STATIC 0x0040u  /* never freed (the global heap) */

/* Node flags. */
#define NF_MALLOC 0x1u /* node allocated separately */
#define NF_PINNED 0x2u /* holds a pin on node->chunk */
#define NF_DYING 0x4u  /* being freed */
/* Bits 8 and up count the open move records of transactions that name it:
 * while any is open it existed before a running transaction, which may
 * still move it back. */
#define NF_MOVES_ONE 0x100u
#define NF_TXN_MOVED (~(NF_MOVES_ONE - 1))

/* Heap flags. */
#define HF_INDIVIDUAL 0x1u /* every allocation gets its own block */
#define HF_GLOBAL TXC__HF_GLOBAL /* the global heap: operations take its lock */
#define HF_EXC 0x4u        /* holds an exception */
#define HF_ROOT 0x8u       /* a thread's root heap */
#define HF_BORROW TXC__HF_BORROW /* a sub_heap: its first chunk is lent by its parent */
#define HF_SWITCHED 0x20u  /* an exception heap that has been a switch_heap target */
#define HF_LOCAL TXC__HF_LOCAL /* a block's heap in its frame (struct txc__sub_heap) */

#define ALIGN 16u
#define HDR_SIZE sizeof(struct txc__hdr)
#define CHUNK_CLASSES 7                      /* 4 KiB .. 256 KiB */
#define POOL_HEAPS 128                       /* sub_heap heaps pooled per thread */
#define CHUNK_MIN ((size_t)4096)
#define CHUNK_MAX (CHUNK_MIN << (CHUNK_CLASSES - 1))
#define SMALL_MAX ((size_t)16384)             /* larger requests get their own block */
#define SEQ_SHIFT 24
#define OFF_MASK ((UINT64_C(1) << SEQ_SHIFT) - 1)

struct txc__chunk {
    struct txc__chunk* next; /* in the home heap's list */
    txc_heap_t* home;        /* NULL when orphaned */
    /* A lent chunk is the free end of its lender's current chunk, given to a
     * sub heap (see heap_borrow): outer is that chunk (NULL for a chunk of
     * its own), lender the heap, fill how far the borrower filled it once it
     * moved on to another chunk, keep the end of the last allocation that
     * moved from it to the lender without a node (move_to_lender; else the
     * chunk itself): the lender takes back only the room after it.  An orphaned lent chunk
     * holds a ref on its outer chunk until its last pin goes. */
    struct txc__chunk* outer;
    txc_heap_t* lender;
    char* fill;
    char* keep;
    uint64_t seq_delta;      /* added to the arrival numbers in headers */
    uint32_t size;           /* whole block (at most CHUNK_MAX) */
    uint32_t refs;           /* 1 for the home heap (while not orphaned) + pins */
    uint32_t converted, converted_bytes; /* plain allocations of it made tracked since */
} __attribute__((aligned(16)));

struct large {
    struct txc__node node;
    struct txc__hdr hdr;
};

/* Per-thread state that the macros never touch. */
struct tstate {
    struct txc__chunk* cache[CHUNK_CLASSES];
    unsigned ncache[CHUNK_CLASSES];
    struct exc_full* nomem;  /* preallocated exception_nomem */
    struct txc__node* nodes; /* freed nodes, linked through next */
    unsigned nnodes;
    struct txc__heap_block* blocks; /* freed heap blocks kept for reuse */
    unsigned nblocks;
};

extern HIDDEN TLS struct tstate txc__ts;

/* Every memory request of the library goes through sys_malloc/sys_realloc.
 * A build with --enable-fault-injection can make the Nth request from now
 * fail (per thread), to test that every failure point throws
 * exception_nomem and leaks nothing; release builds call malloc directly. */
/* Bytes the containers hold in mappings of their own (container.h,
 * cont_store), process-wide: the tests count them with what malloc holds. */
extern HIDDEN size_t txc__mapped_bytes;

#ifdef TXC_FAULT_INJECTION
extern HIDDEN TLS unsigned long txc__fault_countdown; /* 0: off */
extern HIDDEN TLS unsigned long txc__fault_requests;  /* requests seen */
static inline bool fault_now(void)
{
    txc__fault_requests++;
    return txc__fault_countdown && --txc__fault_countdown == 0;
}
static inline void* sys_malloc(size_t n) { return fault_now() ? NULL : malloc(n); }
static inline void* sys_realloc(void* p, size_t n) { return fault_now() ? NULL : realloc(p, n); }
/* Fail the nth memory request from now (0: never); returns the number of
 * requests seen since the last call. */
HIDDEN unsigned long txc__fault_inject(unsigned long nth);
#else
#define sys_malloc malloc
#define sys_realloc realloc
#endif

_Static_assert(TXC__TAG_FRAME_HEAP == (TAG_LIVE | TF_TRACKED | TF_HEAP | TF_FRAME), "frame heap tag");
_Static_assert(TXC__TAG_DEAD == TAG_DEAD, "dead tag");
_Static_assert(TXC__TAG_LIVE == TAG_LIVE && TXC__SMALL_MAX == SMALL_MAX && TXC__SEQ_SHIFT == SEQ_SHIFT && ALIGN == 16,
               "the inline txc_alloc's encoding");

static inline struct txc__hdr* hdr_of(const void* p) { return (struct txc__hdr*)p - 1; }
static inline size_t round_up(size_t n) { return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1); }
static inline struct txc__node* hdr_node(const struct txc__hdr* h) { return (struct txc__node*)(uintptr_t)h->word; }
static inline struct txc__chunk* hdr_chunk(const struct txc__hdr* h)
{
    return (struct txc__chunk*)((char*)h - (h->word & OFF_MASK) * ALIGN);
}
static inline txc_heap_t* hdr_owner(const struct txc__hdr* h)
{
    return (h->tag & TF_TRACKED) ? hdr_node(h)->heap : hdr_chunk(h)->home;
}
static inline struct txc__ctx* ctx_get(void);

/* frame.c */
HIDDEN void ctx_init(void);
HIDDEN void frame_unwind_one(struct txc__frame* f);
/* Before the unwinder pops frame f (or jumps to it), the pooled sub heap
 * blocks entered above it are left: most often a run of empty ones, or
 * none at all. */
HIDDEN void pool_unwind_slow(struct txc__ctx* c, const struct txc__frame* f);
#define POOL_SENTINEL ((struct txc__frame*)(uintptr_t)1) /* pool_base[-1]'s frame below: no frame */
static inline void pool_unwind(struct txc__ctx* c, const struct txc__frame* f)
{
    if (c->pool_top != c->pool_base && c->pool_top[-1].heap.self.below == f)
        pool_unwind_slow(c, f);
}
HIDDEN void frame_push(struct txc__ctx* c, struct txc__frame* f, int kind);
HIDDEN void frame_heap_open(struct txc__sub_heap* s, txc_heap_t* parent, unsigned hflags); /* in the frame */
HIDDEN void frame_heap_release(txc_heap_t* h); /* a block's heap, the block left */
HIDDEN void sub_heap_release(txc_heap_t* h); /* a sub_heap block's, the block left */
static inline struct txc__ctx* ctx_get(void)
{
    struct txc__ctx* c = &txc__ctx;
    if (UNLIKELY(c->current == NULL))
        ctx_init();
    return c;
}

/* alloc.c */
HIDDEN void* heap_alloc(txc_heap_t* h, size_t size, int zero);   /* throws nomem */
HIDDEN void* heap_alloc_try(txc_heap_t* h, size_t size, int zero); /* NULL on no memory */
HIDDEN void chunk_release(struct txc__chunk* c);
HIDDEN void chunk_unref(struct txc__chunk* c);
HIDDEN void chunk_cache_drain(void);
HIDDEN struct txc__node* node_get(void); /* a malloc block for a node; NULL on no memory */
HIDDEN void node_put(struct txc__node* n); /* also the heap block cache */
#ifdef TXC_DEBUG
HIDDEN void poison(void* p, int byte, size_t n); /* fill with byte */
#else
static inline void poison(void* p, int byte, size_t n) { (void)p, (void)byte, (void)n; }
#endif

/* heap.c */
HIDDEN void heap_init(txc_heap_t* h, txc_heap_t* parent, unsigned hflags);
/* heap_init, and b's header (the tag given) in front of it */
HIDDEN void heap_block_init(struct txc__heap_block* b, txc_heap_t* parent, unsigned hflags, uint32_t tag);
HIDDEN txc_heap_t* heap_block_new(txc_heap_t* parent, unsigned hflags); /* NULL on no memory */
HIDDEN void block_cache_drain(void);
HIDDEN void heap_clear(txc_heap_t* h);
HIDDEN void heap_destroy(txc_heap_t* h); /* clear, unlink from parent, free its block */
/* h's statistics gain (n = 1) or lose (n = -1) an allocation of size
 * bytes.  The count is a volatile access so that the two updates stay two:
 * compilers like to merge them into one 16-byte load and store, and such a
 * load stalls (the store cannot be forwarded to it) when an 8-byte store to
 * the count just came before: txc_alloc's inline path makes one, and an
 * exception caught, or a heap made, on the same heap soon after would
 * link its node there. */
/* Count the plain allocations that the bump made since the counts were
 * last settled (see txc_heap.counted).  The true counts are allocs and
 * bytes plus one allocation and its header's size per header in [counted,
 * bump), whatever became of it since: an allocation there that is made
 * tracked, moved or freed changes the counts by its own amount as anywhere
 * else.  What would change that walk must settle first: the bump pointer
 * moving back or to another chunk (the owner then sets counted to it), a
 * header's size changing, the counts being copied elsewhere. */
HIDDEN void heap_settle_slow(txc_heap_t* h);
static inline void heap_settle(txc_heap_t* h)
{
    if (h->counted != h->bump)
        heap_settle_slow(h);
}
/* The plain allocations in [counted, bump) and their bytes (*bytes added). */
HIDDEN size_t heap_pending(const txc_heap_t* h, size_t* bytes);

static inline void stats_count(txc_heap_t* h, int n, size_t size)
{
    *(volatile size_t*)&h->allocs += (size_t)(ptrdiff_t)n;
    h->bytes += n > 0 ? size : -size;
}

/* Append n to h's list (it arrives now) / take n out of its owner's list,
 * with the statistics.  Inline: the exception heap of every throw is linked
 * to the catching try's heap and, most often, unlinked again by txc_free. */
static inline void heap_link(txc_heap_t* h, struct txc__node* n)
{
    n->heap = h;
    n->seq = h->seq++;
    n->next = NULL;
    n->prev = h->tail;
    if (h->tail)
        h->tail->next = n;
    else
        h->head = n;
    h->tail = n;
    stats_count(h, 1, n->size);
}

static inline void heap_unlink(struct txc__node* n)
{
    txc_heap_t* h = n->heap;
    if (n->prev)
        n->prev->next = n->next;
    else
        h->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        h->tail = n->prev;
    n->prev = n->next = NULL;
    stats_count(h, -1, n->size);
}
HIDDEN void heap_merge(txc_heap_t* src, txc_heap_t* dst);
/* What a merge brought, to take it back (heap_unmerge). */
struct merge_mark {
    txc_heap_t* dst;
    uint64_t lo, hi;                /* arrival numbers it gave */
    struct txc__chunk *first, *last; /* chunks it brought */
    size_t plain, plain_bytes;      /* plain allocations in them */
    size_t conv, conv_bytes;        /* their chunks' conversion counts then */
};
HIDDEN void merge_mark(struct merge_mark* m, const txc_heap_t* src, txc_heap_t* dst);
HIDDEN void heap_unmerge(const struct merge_mark* m);
HIDDEN void heap_free(void* p, bool may_defer);
HIDDEN bool heap_within(const txc_heap_t* h, const txc_heap_t* ancestor);
HIDDEN bool heap_in_use(const txc_heap_t* h); /* by a running block of this thread */
HIDDEN txc_heap_t* frame_heap_of(struct txc__frame* f); /* a block's own heap, or NULL */
HIDDEN uint64_t hdr_seq(const struct txc__hdr* hd);
/* Reads the header of a pointer that may not be ours: no sanitizer report for
 * that read, check_ptr is the report. */
__attribute__((no_sanitize_address)) static inline uint32_t read_tag(const struct txc__hdr* h)
{
    return *(const volatile uint32_t*)&h->tag;
}
/* The header of p, an allocation of txc that is live; else exception_arg
 * (NULL) or exception_fatal naming who (check_ptr_fail).  Inline: every
 * call of the API on a pointer starts here. */
HIDDEN __attribute__((noreturn)) void check_ptr_fail(const void* p, const char* who);
static inline struct txc__hdr* check_ptr(const void* p, const char* who)
{
    if (UNLIKELY(!p || ((uintptr_t)p & (ALIGN - 1))))
        check_ptr_fail(p, who);
    struct txc__hdr* hd = hdr_of(p);
    if (UNLIKELY((read_tag(hd) & TAG_MAGIC) != TAG_LIVE))
        check_ptr_fail(p, who);
    return hd;
}
/* Move without the checks of escape/import; spare: a node for a plain
 * allocation (it cannot fail then), freed if not used. */
HIDDEN void heap_move_nocheck(struct txc__hdr* hd, txc_heap_t* dst, struct txc__node* spare);
HIDDEN void global_lock(txc_heap_t* h);
HIDDEN void global_unlock(txc_heap_t* h);
HIDDEN extern txc_heap_t* const txc__global;

/* txn (transactions).
 *
 * The undo log, for every module whose objects change inside transactions
 * (the containers above all).  An object records txn_now() when it is
 * created ("born"); a mutator calls txn_log_if(born, undo, drop, size)
 * before changing it.  Outside any transaction that is one predictable
 * branch and returns NULL.  Inside one, for an object older than the
 * innermost transaction, it returns a zeroed record of size bytes (aligned
 * like max_align_t) to fill in; undo(rec) runs if the transaction aborts
 * (newest record first, during the unwind, before any memory of the
 * transaction is freed), drop(rec) (may be NULL) when the record is
 * discarded instead (the outermost transaction committed), so that the
 * record can release what it kept.  An object born inside the transaction
 * vanishes with it on abort: nothing is logged for it (NULL).  It throws
 * exception_nomem when the record cannot be had; log before changing
 * anything so that a failure leaves the object as it was. */
HIDDEN extern uint64_t txc__txn_clock;
static inline uint64_t txn_now(void) { return __atomic_load_n(&txc__txn_clock, __ATOMIC_RELAXED); }
HIDDEN void* txn_log(uint64_t born, void (*undo)(void* rec), void (*drop)(void* rec), size_t size);
static inline void* txn_log_if(uint64_t born, void (*undo)(void* rec), void (*drop)(void* rec), size_t size)
{
    return UNLIKELY(txc__ctx.txn != NULL) ? txn_log(born, undo, drop, size) : NULL;
}

/* called only inside a transaction */
HIDDEN bool txn_free_hook(struct txc__hdr* hd, txc_heap_t* owner); /* true: deferred */
HIDDEN bool txn_move_hook(struct txc__hdr* hd, txc_heap_t* src); /* true: logged */
HIDDEN bool txn_park(struct txc__node* n);
HIDDEN void txn_unwind(struct txc__frame* f);
HIDDEN void txn_undo(struct txc__frame* f); /* replay the log of a frame being unwound */

/* exceptions */
struct exc_full {
    txc_exception_t pub;
    int nframes;
    void* frames[32]; /* return addresses of the throw, for an uncaught one */
};
HIDDEN void exc_thread_done(void);
HIDDEN bool exc_is_static(const txc_exception_t* e);
HIDDEN void exc_backtrace(struct exc_full* x);
HIDDEN void exc_default_handler(const txc_exception_t* e);
HIDDEN void exc_thread_init(void);
HIDDEN void exc_block_free(struct txc__heap_block* hb); /* an exception heap's block (HF_EXC) */
HIDDEN void exc_cache_drain(void);                /* the thread's cached exception blocks */
HIDDEN bool exc_free_fast(txc_exception_t* e);     /* txc_free(e) in the common case; false: not done */
HIDDEN __attribute__((noreturn)) void exc_propagate(txc_exception_t* e);
HIDDEN void run_guarded(void (*fn)(void*), void* arg, const char* what);

#define THROW_ARG(...) txc__throw(txc_exception_arg, __FILE__, __LINE__, __func__, -1, NULL, NULL, __VA_ARGS__)
#define THROW_NOMEM(...) txc__throw(txc_exception_nomem, __FILE__, __LINE__, __func__, -1, NULL, NULL, __VA_ARGS__)

#endif
