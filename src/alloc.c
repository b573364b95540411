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

void poison(void* p, int byte, size_t n)
{
#ifdef TXC_DEBUG
    memset(p, byte, n);
    __asm__ volatile("" : : "r"(p) : "memory"); /* keep the stores before free() */
#else
    (void)p, (void)byte, (void)n;
#endif
}

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
        c = sys_malloc(CHUNK_MIN << k);
        if (!c)
            return NULL;
        c->size = CHUNK_MIN << k;
    }
    c->refs = 1;
    c->seq_delta = 0;
    return c;
}

void chunk_release(struct txc__chunk* c)
{
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

void chunk_cache_drain(void)
{
    struct tstate* ts = &txc__ts;
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
static bool heap_grow(txc_heap_t* h, size_t need)
{
    unsigned k = h->nchunks < CHUNK_CLASSES ? h->nchunks : CHUNK_CLASSES - 1;
    unsigned kmin = chunk_class(need + sizeof(struct txc__chunk));
    if (k < kmin)
        k = kmin;
    struct txc__chunk* c = chunk_get(k);
    if (!c)
        return false;
    c->home = h;
    c->next = h->chunk;
    h->chunk = c;
    h->bump = (char*)(c + 1);
    h->end = (char*)c + c->size;
    h->nchunks++;
    return true;
}

static inline void* bump(txc_heap_t* h, size_t size, size_t need, int zero)
{
    char* b = h->bump;
    struct txc__hdr* hd = (struct txc__hdr*)b;
    h->bump = b + need;
    hd->word = (h->seq++ << SEQ_SHIFT) | (uint64_t)((b - (char*)h->chunk) / ALIGN);
    hd->size = (uint32_t)size;
    hd->tag = TAG_LIVE;
    h->allocs++;
    h->bytes += size;
    if (zero)
        memset(hd + 1, 0, size);
    else
        poison(hd + 1, 0xa0, size);
    return hd + 1;
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

TXC_API void* txc_alloc(size_t size)
{
    return heap_alloc(ctx_get()->current, size, 0);
}

TXC_API void* txc_alloc_zero(size_t size)
{
    return heap_alloc(ctx_get()->current, size, 1);
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
        h->bytes += size - min_size;
        hd->size = (uint32_t)size;
        h->bump = h->end;
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
            if (end_old == h->bump)
                h->bump = end_new;
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
