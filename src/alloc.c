/*
 * alloc.c - carving allocations out of chunks.
 *
 * A heap bumps a pointer through its current chunk.  When the chunk is full
 * it takes a new one, twice the size of the last up to CHUNK_MAX, from the
 * thread's chunk cache (or malloc).  Requests above SMALL_MAX, and every
 * request on a heap flagged HF_INDIVIDUAL (the global heap and the staging
 * heaps of global_heap blocks), get a malloc block of their own with an
 * embedded node, so they can be freed and moved one by one.
 *
 * The fast path (room in the current chunk) writes the 16-byte header and
 * moves the bump pointer; nothing else.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

HIDDEN TLS struct tstate txc__ts;
HIDDEN size_t txc__mapped_bytes;

#ifdef TXC_FAULT_INJECTION
HIDDEN TLS unsigned long txc__fault_countdown;
HIDDEN TLS unsigned long txc__fault_requests;

unsigned long txc__fault_inject(unsigned long nth)
{
    unsigned long seen = txc__fault_requests;
    txc__fault_requests = 0;
    txc__fault_countdown = nth;
    return seen;
}
#endif

#define CACHE_PER_CLASS 8
#define CHUNK_SLACK 32

#ifdef TXC_DEBUG
void poison(void* p, int byte, size_t n)
{
    memset(p, byte, n);
    __asm__ volatile("" : : "r"(p) : "memory"); /* keep the stores before free() */
}
#endif

static unsigned chunk_class(size_t size)
{
    unsigned k = 0;
    while ((CHUNK_MIN << k) < size)
        k++;
    return k;
}

static struct txc__chunk* chunk_get(unsigned k)
{
    struct tstate* ts = &txc__ts;
    struct txc__chunk* c = ts->cache[k];
    if (c) {
        ts->cache[k] = c->next;
        ts->ncache[k]--;
    } else {
        /* A little under a power of two: malloc adds its own header, and a
         * chunk it maps (256 KiB is above its initial mmap threshold) would
         * otherwise take a whole extra page. */
        size_t size = (CHUNK_MIN << k) - CHUNK_SLACK;
        c = sys_malloc(size);
        if (!c)
            return NULL;
        c->size = (uint32_t)size;
    }
    c->refs = 1;
    c->converted = c->converted_bytes = 0;
    c->seq_delta = 0;
    c->outer = NULL;
    c->keep = NULL;
    return c;
}

void chunk_release(struct txc__chunk* c)
{
    if (c->outer) { /* a lent chunk whose last pin went */
        chunk_unref(c->outer);
        return;
    }
    struct tstate* ts = &txc__ts;
    unsigned k = chunk_class(c->size);
    poison(c + 1, 0xfe, c->size - sizeof *c);
    if (ts->ncache[k] < CACHE_PER_CLASS) {
        c->next = ts->cache[k];
        ts->cache[k] = c;
        ts->ncache[k]++;
    } else {
        free(c);
    }
}

/* Nodes are cached per thread like chunks: escape/import of a small
 * allocation then takes no malloc. */
#define NODE_CACHE 256

struct txc__node* node_get(void)
{
    struct tstate* ts = &txc__ts;
    struct txc__node* n = ts->nodes;
    if (n) {
        ts->nodes = n->next;
        ts->nnodes--;
        return n;
    }
    return sys_malloc(sizeof *n);
}

void node_put(struct txc__node* n)
{
    struct tstate* ts = &txc__ts;
    if (ts->nnodes < NODE_CACHE) {
        n->next = ts->nodes;
        ts->nodes = n;
        ts->nnodes++;
    } else {
        free(n);
    }
}

void chunk_cache_drain(void)
{
    struct tstate* ts = &txc__ts;
    while (ts->nodes) {
        struct txc__node* n = ts->nodes;
        ts->nodes = n->next;
        free(n);
    }
    ts->nnodes = 0;
    for (unsigned k = 0; k < CHUNK_CLASSES; k++) {
        while (ts->cache[k]) {
            struct txc__chunk* c = ts->cache[k];
            ts->cache[k] = c->next;
            free(c);
        }
        ts->ncache[k] = 0;
    }
    block_cache_drain();
}

static void* alloc_large(txc_heap_t* h, size_t size, int zero)
{
    if (size > SIZE_MAX - sizeof(struct large))
        return NULL;
    struct large* l = sys_malloc(sizeof *l + size);
    if (!l)
        return NULL;
    void* p = l + 1;
    memset(&l->node, 0, sizeof l->node);
    l->node.ptr = p;
    l->node.size = size;
    l->hdr.word = (uint64_t)(uintptr_t)&l->node;
    l->hdr.size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    l->hdr.tag = TAG_LIVE | TF_TRACKED | TF_LARGE;
    heap_link(h, &l->node);
    if (zero)
        memset(p, 0, size);
    else
        poison(p, 0xa0, size);
    return p;
}

/* Make a new current chunk able to hold need bytes. */
static bool heap_grow(txc_heap_t* h, size_t need);

/* A sub heap's first chunk is the free end of its parent's current chunk
 * (the parent gets one if it has none or too little room): sub heaps nest
 * like the blocks that run them, so the parent cannot use that room until
 * the sub heap is freed, which gives it back (chunk_give_back).  A sub heap
 * that allocates then takes no chunk from the cache, and an allocation
 * escaped to the parent stays in the parent's chunk. */
/* Lend the free end of p's current chunk to h (which has no chunk). */
static inline __attribute__((always_inline)) void lend(txc_heap_t* h, txc_heap_t* p)
{
    heap_settle(p);
    struct txc__chunk* c = (struct txc__chunk*)p->bump;
    c->next = NULL;
    c->home = h;
    c->size = (uint32_t)(p->end - p->bump);
    c->refs = 1;
    c->converted = c->converted_bytes = 0;
    c->seq_delta = 0;
    c->outer = p->chunk;
    c->lender = p;
    c->fill = NULL;
    c->keep = (char*)c;
    p->bump = p->counted = p->end;
    h->chunk = c;
    h->bump = h->counted = (char*)(c + 1);
    h->end = p->end;
}

/* 1: borrowed; 0: no memory; -1: h cannot borrow, take a chunk of its own. */
static int heap_borrow(txc_heap_t* h, size_t need)
{
    txc_heap_t* p = h->self.heap;
    size_t want = need + sizeof(struct txc__chunk);
    if (!p || (p->flags & HF_INDIVIDUAL))
        return -1;
    if ((size_t)(p->end - p->bump) < want && !heap_grow(p, want))
        return 0;
    lend(h, p);
    return 1;
}

static bool heap_grow(txc_heap_t* h, size_t need)
{
    if (!h->chunk && (h->flags & HF_BORROW)) {
        int r = heap_borrow(h, need);
        if (r >= 0)
            return r;
    }
    heap_settle(h);
    if (h->chunk && h->chunk->outer)
        h->chunk->fill = h->bump;
    unsigned k = h->nchunks < CHUNK_CLASSES ? h->nchunks : CHUNK_CLASSES - 1;
    unsigned kmin = chunk_class(need + sizeof(struct txc__chunk) + CHUNK_SLACK);
    if (k < kmin)
        k = kmin;
    struct txc__chunk* c = chunk_get(k);
    if (!c)
        return false;
    c->home = h;
    c->next = h->chunk;
    h->chunk = c;
    h->bump = h->counted = (char*)(c + 1);
    h->end = (char*)c + c->size;
    h->nchunks++;
    return true;
}

static inline void* bump(txc_heap_t* h, size_t size, size_t need, int zero)
{
    void* p = txc__bump(h, size, need);
    if (zero)
        memset(p, 0, size);
    else
        poison(p, 0xa0, size);
    return p;
}

/* Allocate on h; NULL when memory cannot be had. */
void* heap_alloc_try(txc_heap_t* h, size_t size, int zero)
{
    if (LIKELY(size <= SMALL_MAX)) {
        size_t need = HDR_SIZE + round_up(size);
        if (LIKELY((size_t)(h->end - h->bump) >= need))
            return bump(h, size, need, zero);
        if (!(h->flags & HF_INDIVIDUAL)) {
            if (!heap_grow(h, need))
                return NULL;
            return bump(h, size, need, zero);
        }
    }
    global_lock(h);
    void* p = alloc_large(h, size, zero);
    global_unlock(h);
    return p;
}

void* heap_alloc(txc_heap_t* h, size_t size, int zero)
{
    void* p = heap_alloc_try(h, size, zero);
    if (UNLIKELY(!p))
        THROW_NOMEM("cannot allocate %zu bytes", size);
    return p;
}

/* Everything but the bump, out of line so that the fast path saves no
 * registers. */
static __attribute__((noinline)) void* alloc_slow(size_t size, int zero)
{
    txc_heap_t* h = ctx_get()->current;
    if (!h->chunk && (h->flags & HF_BORROW) && size <= SMALL_MAX) {
        size_t need = HDR_SIZE + round_up(size);
        int r = heap_borrow(h, need);
        if (r > 0)
            return bump(h, size, need, zero);
        if (r == 0)
            THROW_NOMEM("cannot allocate %zu bytes", size);
    }
    return heap_alloc(h, size, zero);
}

static inline void* alloc_fast(size_t size, int zero)
{
    txc_heap_t* h = txc__ctx.current;
    size_t need = txc__bump_fits(h, size);
    if (LIKELY(need != 0))
        return bump(h, size, need, zero);
    return alloc_slow(size, zero);
}

TXC_API void* (txc_alloc)(size_t size)
{
    return alloc_fast(size, 0);
}

/* Where the inline txc_alloc goes when the bump cannot serve it: most often
 * the first allocation of a sub heap, whose parent has room to lend. */
TXC_API void* txc__alloc_slow(size_t size)
{
    txc_heap_t* h = txc__ctx.current;
    if (LIKELY(h && !h->chunk && (h->flags & HF_BORROW) && size <= SMALL_MAX)) {
        txc_heap_t* p = h->self.heap;
        size_t need = HDR_SIZE + round_up(size);
        if (LIKELY(p && !(p->flags & HF_INDIVIDUAL) &&
                   (size_t)(p->end - p->bump) >= need + sizeof(struct txc__chunk))) {
            lend(h, p);
            return txc__bump(h, size, need);
        }
    }
    return alloc_slow(size, 0);
}

TXC_API void* (txc_alloc_zero)(size_t size)
{
    return alloc_fast(size, 1);
}

TXC_API void* txc_alloc_buffer(size_t min_size, size_t* size_out)
{
    txc_heap_t* h = ctx_get()->current;
    void* p = heap_alloc(h, min_size, 0);
    size_t size = min_size;
    struct txc__hdr* hd = hdr_of(p);
    if (!(hd->tag & TF_TRACKED)) {
        /* The newest allocation of the chunk: give it the rest of the chunk. */
        size_t room = (size_t)(h->end - (char*)p);
        size = room;
        heap_settle(h);
        h->bytes += size - min_size;
        hd->size = (uint32_t)size;
        h->bump = h->counted = h->end;
        poison((char*)p + min_size, 0xa0, size - min_size);
    }
    if (size_out)
        *size_out = size;
    return p;
}

TXC_API void* txc_realloc(void* p, size_t size)
{
    if (!p)
        return txc_alloc(size);
    struct txc__hdr* hd = check_ptr(p, "txc_realloc");
    if (hd->tag & (TF_HEAP | TF_EXC))
        THROW_ARG("txc_realloc: %p is a heap or an exception, which cannot be reallocated", p);
    txc_heap_t* h = hdr_owner(hd);
    if (!(hd->tag & TF_TRACKED) && size <= SMALL_MAX && !txc__ctx.txn) {
        size_t old = hd->size;
        char* end_old = (char*)p + round_up(old);
        char* end_new = (char*)p + round_up(size);
        if (end_new <= end_old || (end_old == h->bump && end_new <= h->end && hdr_chunk(hd) == h->chunk)) {
            heap_settle(h);
            if (end_old == h->bump)
                h->bump = h->counted = end_new;
            h->bytes = h->bytes - old + size;
            hd->size = (uint32_t)size;
            if (size > old)
                poison((char*)p + old, 0xa0, size - old);
            return p;
        }
    }
    size_t old = (hd->tag & TF_TRACKED) ? hdr_node(hd)->size : hd->size;
    void* q = heap_alloc(h, size, 0);
    memcpy(q, p, old < size ? old : size);
    if (hd->tag & TF_TRACKED) {
        struct txc__node* n = hdr_node(hd);
        if (n->dtor) {
            void (*fn)(void*) = n->dtor;
            txc_set_destructor(q, fn);
            n->dtor = NULL;
        }
    }
    txc_free(p);
    return q;
}
