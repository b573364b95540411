/*
 * dict.c - dict(T): a hash map from byte-string keys to fixed-size values,
 * iterated in insertion order.
 *
 * Two structures, both owned by the dict (cont_store: malloc'ed, or mapped
 * in huge pages when big; freed by its destructor):
 *
 *  - The entries.  An entry (struct dent) holds the key's hash fragment, its
 *    length, the key itself (inline when shorter than DKEY_INLINE, else a
 *    malloc'ed copy), the value, and prev/next links that chain the live
 *    entries in insertion order.  Entries live in a pool of blocks that
 *    never move - block b holds POOL_BASE << b entries - so a value's
 *    address stays valid until its entry is deleted (dict_read promises
 *    that), and an entry is named by its index in the pool.  Deleted entries
 *    go on a free list (LIFO, linked through prev) and are reused before the
 *    pool grows; a free entry keeps its next link, so a foreach that stands
 *    on it can go on.
 *
 *  - The index: an open-addressing table of 64-bit words, 0 when empty,
 *    else (fragment << 32) | (entry index + 1), with linear probing.  The
 *    fragment is the top 32 bits of the key's 64-bit hash, and its own top
 *    bits give the home slot, so the table can be doubled (at 3/4 load)
 *    and entries deleted (backward-shift deletion: no tombstones) without
 *    touching an entry.  A probe compares fragments first and fetches an
 *    entry only on a match: a hit costs the index line plus the entry.
 *
 * The hash is keyed per dict from a process-wide secret taken from
 * getrandom(), so that an attacker who does not know the key cannot choose
 * keys that collide and make the table degrade to long probe chains (hash
 * flooding).  Keys of up to 16 bytes -- the common case, where the hash is
 * a large part of a lookup -- are read as two NUL-padded words (one-to-one
 * for a given length), each XORed with a secret word and multiplied
 * together 64x64->128; the product's halves, XORed with the secret words
 * again, are multiplied the same way and that product's halves folded (the
 * mixing step of wyhash and of Go's fallback map hash; every operand is
 * masked by a secret, so no input is known to zero a product).  Longer
 * keys use SipHash-1-3 (Aumasson and Bernstein), a keyed PRF.  Iteration
 * follows insertion order, so it reveals nothing of the hash.
 *
 * Invariants:
 *  - count == the number of live entries == the number of non-zero index
 *    words == the length of the order chain head..tail.
 *  - an entry is live iff klen != DKEY_DEAD; the free list holds exactly
 *    the dead entries below used; used <= cap (entries the blocks hold).
 *  - count <= grow_at < index slots, so a probe always meets an empty word
 *    (an insertion doubles the index first when count == grow_at).
 *  - nlong == the number of live entries whose key is out of line.
 *
 * The mutators are txc__dict_set (insert or replace) and txc__dict_del;
 * each logs one undo record (see "undo" below) before it changes anything.
 */
#include "container.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define HAVE_GETRANDOM 1
#endif
#endif

#define DICT_MAGIC ((size_t)0x6463740000000000ull) /* "dct" */
#define NIL UINT32_MAX
#define DKEY_DEAD UINT32_MAX
#define DKEY_MAX (UINT32_MAX - 1)     /* longest key */
#define DKEY_INLINE 16                /* keys shorter than this live in the entry */
#define POOL_BASE_LOG 3
#define POOL_BASE ((size_t)1 << POOL_BASE_LOG)
#define POOL_BLOCKS 30                /* POOL_BASE * (2^30 - 1) > UINT32_MAX entries */
#define INDEX_MIN 8

union dkey {
    char in[DKEY_INLINE]; /* NUL-padded */
    uint64_t w[DKEY_INLINE / 8];
    char* ptr;
};

struct dent {
    uint32_t frag;       /* top 32 bits of the key's hash */
    uint32_t klen;       /* DKEY_DEAD: free entry */
    uint32_t prev, next; /* insertion order (NIL at the ends); free list: prev */
    union dkey key;
    /* the value follows at voff */
};

struct txc_dict {
    size_t check;         /* esize ^ DICT_MAGIC; 0 once freed */
    size_t count;
    uint64_t* index;      /* NULL until the first insertion */
    size_t mask;          /* index slots - 1 */
    unsigned shift;       /* home slot = frag >> shift */
    unsigned lean_below;  /* reads of shorter keys take the lean path: DKEY_INLINE; 0 with test_hash */
    size_t grow_at;       /* the index doubles before count exceeds this */
    uint32_t head, tail;  /* insertion order */
    uint32_t free;        /* free list of dead entries */
    uint32_t used;        /* entries ever handed out (the rest of the pool is unused) */
    size_t cap;           /* entries the blocks hold */
    unsigned nblocks;
    size_t nlong;         /* live out-of-line keys */
    size_t esize, align, voff, stride;
    uint64_t k0, k1;      /* the hash key (secret) */
    uint64_t (*test_hash)(const void* key, size_t len); /* tests only: replaces the hash */
    uint64_t born;        /* txn clock at creation */
    uintptr_t base[POOL_BLOCKS]; /* entry i of block b is at base[b] + (i + 1) * stride */
};

enum { D_INSERT, D_REPLACE, D_INSERT_N, D_REPLACE_N, D_READ, D_READ_N, D_DELETE, D_DELETE_N, D_COUNT,
       D_FOREACH, D_NEW };
static const char* const dict_who[] = {
    "txc_dict_insert", "txc_dict_replace",  "txc_dict_insert_n", "txc_dict_replace_n",
    "txc_dict_read",   "txc_dict_read_n",   "txc_dict_delete",   "txc_dict_delete_n",
    "txc_dict_count",  "txc_dict_foreach",  "txc_new_dict"};

/* ---- hashing ---- */

static inline uint64_t rotl64(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static inline uint64_t load_le64(const unsigned char* p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t load_le32(const unsigned char* p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

#define SIPROUND                                                                 \
    do {                                                                         \
        v0 += v1, v1 = rotl64(v1, 13), v1 ^= v0, v0 = rotl64(v0, 32);            \
        v2 += v3, v3 = rotl64(v3, 16), v3 ^= v2;                                 \
        v0 += v3, v3 = rotl64(v3, 21), v3 ^= v0;                                 \
        v2 += v1, v1 = rotl64(v1, 17), v1 ^= v2, v2 = rotl64(v2, 32);            \
    } while (0)

/* SipHash-c-d of p[0..len) under the key (k0, k1); c and d are constants
 * once inlined. */
static inline __attribute__((always_inline)) uint64_t siphash(uint64_t k0, uint64_t k1, const void* data,
                                                              size_t len, int c, int d)
{
    const unsigned char* p = data;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    for (const unsigned char* end = p + (len & ~(size_t)7); p != end; p += 8) {
        uint64_t m = load_le64(p);
        v3 ^= m;
        for (int i = 0; i < c; i++)
            SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    switch (len & 7) {
    case 7: b |= (uint64_t)p[6] << 48; /* fall through */
    case 6: b |= (uint64_t)p[5] << 40; /* fall through */
    case 5: b |= (uint64_t)p[4] << 32; /* fall through */
    case 4: b |= (uint64_t)p[3] << 24; /* fall through */
    case 3: b |= (uint64_t)p[2] << 16; /* fall through */
    case 2: b |= (uint64_t)p[1] << 8;  /* fall through */
    case 1: b |= (uint64_t)p[0]; break;
    case 0: break;
    }
    v3 ^= b;
    for (int i = 0; i < c; i++)
        SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < d; i++)
        SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* For the tests: SipHash-2-4 with a 16-byte key, against the reference
 * vectors. */
HIDDEN uint64_t dict_siphash24(const unsigned char key[16], const void* data, size_t len)
{
    return siphash(load_le64(key), load_le64(key + 8), data, len, 2, 4);
}

/* ---- the per-dict key ---- */

static uint64_t secret[2];
static pthread_once_t secret_once = PTHREAD_ONCE_INIT;
static uint64_t dict_serial;

static uint64_t mix64(uint64_t x) /* splitmix64's finaliser */
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void secret_init(void)
{
#ifdef HAVE_GETRANDOM
    if (getrandom(secret, sizeof secret, GRND_NONBLOCK) == (ssize_t)sizeof secret)
        return;
#endif
    /* No entropy source: the best we can do without one. */
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    clock_gettime(CLOCK_MONOTONIC, &ts[1]);
    uint64_t x = (uint64_t)ts[0].tv_nsec ^ ((uint64_t)ts[0].tv_sec << 30) ^ (uint64_t)(uintptr_t)&ts;
    secret[0] = mix64(x ^ (uint64_t)getpid());
    secret[1] = mix64(secret[0] ^ (uint64_t)ts[1].tv_nsec ^ (uint64_t)(uintptr_t)&secret_init);
}

/* ---- entries ---- */

/* The index of block b's first entry. */
static inline size_t pool_first(unsigned b) { return (POOL_BASE << b) - POOL_BASE; }

/* Entry i + 1 (an index word's low half), with no subtraction: block b
 * holds the entries numbered (POOL_BASE << b) - POOL_BASE + 1 and up. */
static inline struct dent* dent_at1(const struct txc_dict* d, size_t i1)
{
    unsigned b = 63 ^ (unsigned)__builtin_clzll((i1 + POOL_BASE - 1) >> POOL_BASE_LOG);
    return (struct dent*)(d->base[b] + i1 * d->stride);
}

/* Entry i. */
static inline struct dent* dent_at(const struct txc_dict* d, uint32_t i)
{
    return dent_at1(d, (size_t)i + 1);
}

static inline void* dent_val(const struct txc_dict* d, struct dent* e) { return (char*)e + d->voff; }
static inline const char* dent_key(struct dent* e) { return e->klen < DKEY_INLINE ? e->key.in : e->key.ptr; }

/* ---- checks ---- */

static __attribute__((noreturn, cold)) void dict_fail(const struct txc_dict* d, size_t esize, int what)
{
    const char* who = dict_who[what];
    if (!d)
        THROW_ARG("%s: NULL dict", who);
    if ((d->check & ~(size_t)0xffffffffu) != DICT_MAGIC)
        THROW_ARG("%s: %p is not a dict (or was freed)", who, (const void*)d);
    THROW_ARG("%s: value type of %zu bytes used on a dict of %zu-byte values", who, esize, d->esize);
}

/* Whether d is a live dict of esize-byte values. */
static inline bool dict_ok(const struct txc_dict* d, size_t esize)
{
    return d && d->check == (esize ^ DICT_MAGIC);
}

static inline void dict_check(const struct txc_dict* d, size_t esize, int what)
{
    if (UNLIKELY(!dict_ok(d, esize)))
        dict_fail(d, esize, what);
}

static __attribute__((noreturn, cold)) void key_fail(int what)
{
    THROW_ARG("%s: NULL key", dict_who[what]);
}

/* The key's length (strlen for the plain forms); exception_arg for a NULL
 * key. */
static inline size_t key_len(const char* key, size_t len, int what)
{
    if (UNLIKELY(!key))
        key_fail(what);
    return len == TXC__DICT_NTS ? strlen(key) : len;
}

/* What is wrong with the arguments of a read, which the caller has found
 * wrong: the name of the call is worked out only here, off the lean path. */
static __attribute__((noreturn, cold, noinline)) void dict_read_fail(const struct txc_dict* d, size_t esize,
                                                                     size_t len)
{
    int what = len == TXC__DICT_NTS ? D_READ : D_READ_N;
    dict_check(d, esize, what); /* throws if d is wrong, else the key is NULL */
    key_fail(what);
}

/* ---- the index ---- */

/* A key prepared for hashing and comparing: up to 16 bytes as two
 * NUL-padded words, exactly the bytes of an inline key (union dkey). */
struct qkey {
    const char* p;
    size_t len;
    uint64_t w[2];
};

#define QKEY_WORDS 16 /* keys of at most this many bytes have words */

/* qkey_make for a key shorter than DKEY_INLINE. */
static inline void qkey_make_short(struct qkey* q, const char* key, size_t len)
{
    q->p = key;
    q->len = len;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Overlapping loads instead of a byte loop (byte k goes to bit 8k). */
    const unsigned char* p = (const unsigned char*)key;
    uint64_t w0 = 0, w1 = 0;
    if (len >= 8) {
        w0 = load_le64(p);
        w1 = load_le64(p + len - 8) >> 8 >> ((15 - len) * 8); /* two shifts: 0 for len 8 */
    } else if (len >= 4) {
        w0 = (uint64_t)load_le32(p) | ((uint64_t)load_le32(p + len - 4) << ((len - 4) * 8));
    } else if (len) {
        w0 = (uint64_t)p[0] | ((uint64_t)p[len >> 1] << ((len >> 1) * 8)) |
             ((uint64_t)p[len - 1] << ((len - 1) * 8));
    }
    q->w[0] = w0;
    q->w[1] = w1;
#else
    q->w[0] = q->w[1] = 0;
    memcpy(q->w, key, len);
#endif
}

static inline void qkey_make(struct qkey* q, const char* key, size_t len)
{
    if (len < DKEY_INLINE) {
        qkey_make_short(q, key, len);
        return;
    }
    q->p = key;
    q->len = len;
    q->w[0] = q->w[1] = 0;
    if (len == QKEY_WORDS)
        memcpy(q->w, key, QKEY_WORDS); /* the words qkey_make_short would read, one byte more */
}

static inline uint64_t mix128(uint64_t a, uint64_t b)
{
    __uint128_t m = (__uint128_t)a * b;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

static __attribute__((noinline)) uint64_t dict_hash_slow(const struct txc_dict* d, const struct qkey* q)
{
    if (d->test_hash)
        return d->test_hash(q->p, q->len);
    return siphash(d->k0, d->k1, q->p, q->len, 1, 3);
}

/* The hash fragment of a key of at most QKEY_WORDS bytes (no test hash). */
static inline uint32_t dict_frag_short(const struct txc_dict* d, const struct qkey* q)
{
    __uint128_t m = (__uint128_t)(q->w[0] ^ d->k0) * (q->w[1] ^ d->k1 ^ q->len);
    return (uint32_t)(mix128((uint64_t)m ^ d->k1, (uint64_t)(m >> 64) ^ d->k0) >> 32);
}

/* The key's hash fragment: the top 32 bits of its 64-bit hash. */
static inline uint32_t dict_frag(const struct txc_dict* d, const struct qkey* q)
{
    if (LIKELY(q->len <= QKEY_WORDS && !d->test_hash))
        return dict_frag_short(d, q);
    return (uint32_t)(dict_hash_slow(d, q) >> 32);
}

/* short_key: q is known to be shorter than DKEY_INLINE (a constant once
 * inlined). */
static inline bool key_equal(const struct dent* e, const struct qkey* q, bool short_key)
{
    if (e->klen != q->len)
        return false;
    if (short_key || q->len < DKEY_INLINE)
        return ((e->key.w[0] ^ q->w[0]) | (e->key.w[1] ^ q->w[1])) == 0;
    return memcmp(e->key.ptr, q->p, q->len) == 0;
}

/* The entry holding q, or NULL; *pos receives its index slot, or the empty
 * slot where it would go, and *eip its index.  short_key as for
 * key_equal. */
static inline struct dent* index_find(const struct txc_dict* d, const struct qkey* q, uint32_t frag,
                                      size_t* pos, uint32_t* eip, bool short_key)
{
    size_t i = frag >> d->shift;
    for (;;) {
        uint64_t s = d->index[i];
        if (UNLIKELY(!s))
            break;
        if ((uint32_t)(s >> 32) == frag) {
            struct dent* e = dent_at1(d, (uint32_t)s);
            if (LIKELY(key_equal(e, q, short_key))) {
                *pos = i;
                *eip = (uint32_t)s - 1;
                return e;
            }
        }
        i = (i + 1) & d->mask;
    }
    *pos = i;
    return NULL;
}

/* The index slot of entry ei (which is in the index). */
static size_t index_slot_of(const struct txc_dict* d, uint32_t frag, uint32_t ei)
{
    uint64_t want = ((uint64_t)frag << 32) | ((uint64_t)ei + 1);
    size_t i = frag >> d->shift;
    while (d->index[i] != want) {
        assert(d->index[i] != 0);
        i = (i + 1) & d->mask;
    }
    return i;
}

/* Put word s in the first empty slot from its home. */
static inline void index_put(uint64_t* index, size_t mask, unsigned shift, uint64_t s)
{
    size_t i = (uint32_t)(s >> 32) >> shift;
    while (index[i])
        i = (i + 1) & mask;
    index[i] = s;
}

/* Empty slot i, moving back the words after it that may move (their home
 * is not in the cyclic range (i, j]), so that no probe chain breaks. */
static void index_remove(struct txc_dict* d, size_t i)
{
    size_t mask = d->mask;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        uint64_t s = d->index[j];
        if (!s)
            break;
        size_t home = (uint32_t)(s >> 32) >> d->shift;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            d->index[i] = s;
            i = j;
        }
    }
    d->index[i] = 0;
}

static void index_free(struct txc_dict* d)
{
    if (d->index)
        cont_store_free(d->index, (d->mask + 1) * sizeof *d->index, 8);
}

/* Double the index (or make the first one); exception_nomem, d unchanged. */
static void index_grow(struct txc_dict* d, int what)
{
    size_t slots = d->index ? (d->mask + 1) * 2 : INDEX_MIN;
    unsigned shift = d->index ? d->shift - 1 : 32 - 3;
    if (d->index && d->shift == 0)
        THROW_NOMEM("%s: a dict cannot index more than %zu entries", dict_who[what], d->grow_at);
    uint64_t* index = cont_store(slots * sizeof *index, 8, true);
    if (!index)
        THROW_NOMEM("%s: cannot grow a dict's index to %zu slots", dict_who[what], slots);
    if (d->index) {
        for (size_t i = 0; i <= d->mask; i++)
            if (d->index[i])
                index_put(index, slots - 1, shift, d->index[i]);
        index_free(d);
    }
    d->index = index;
    d->mask = slots - 1;
    d->shift = shift;
    d->grow_at = slots / 4 * 3;
}

/* One more block of entries; exception_nomem, d unchanged. */
static void pool_grow(struct txc_dict* d, int what)
{
    unsigned b = d->nblocks;
    size_t n = POOL_BASE << b;
    if (b == POOL_BLOCKS || d->cap + n > (size_t)NIL)
        THROW_NOMEM("%s: a dict cannot hold more than %zu entries", dict_who[what], d->cap);
    char* p = cont_store(cont_bytes(n, d->stride), d->align, false);
    if (!p)
        THROW_NOMEM("%s: cannot allocate %zu dict entries of %zu bytes", dict_who[what], n, d->stride);
    d->base[b] = (uintptr_t)p - (pool_first(b) + 1) * d->stride; /* wraps for a low p: unsigned, defined */
    d->nblocks = b + 1;
    d->cap += n;
}

static void order_unlink(struct txc_dict* d, const struct dent* e)
{
    if (e->prev == NIL)
        d->head = e->next;
    else
        dent_at(d, e->prev)->next = e->next;
    if (e->next == NIL)
        d->tail = e->prev;
    else
        dent_at(d, e->next)->prev = e->prev;
}

/* ---- undo ----
 *
 * insert: the entry is the newest (the tail), taken from the free list or
 *   from the unused pool; undo removes it and gives the entry back where it
 *   came from, which restores the free list exactly (it is LIFO).
 * replace: the old value; undo copies it back.
 * delete: the entry's index, links, fragment, key (an out-of-line key's
 *   block passes to the record: drop frees it) and value; the entry went to
 *   the head of the free list, so undo takes it back from there, at the
 *   same index (values keep their addresses), and relinks it between its
 *   old neighbours, which are neighbours again by then. */

struct dict_rec {
    struct txc_dict* d; /* NULL: the change did not happen */
    uint32_t ei;
    uint32_t from_free;        /* insert */
    uint32_t prev, next, frag, klen; /* delete */
    union dkey key;            /* delete */
    char val[];                /* replace, delete */
};

static void dict_undo_insert(void* p)
{
    struct dict_rec* r = p;
    struct txc_dict* d = r->d;
    if (!d)
        return;
    struct dent* e = dent_at(d, r->ei);
    assert(d->tail == r->ei);
    index_remove(d, index_slot_of(d, e->frag, r->ei));
    order_unlink(d, e);
    if (e->klen >= DKEY_INLINE) {
        free(e->key.ptr);
        d->nlong--;
    }
    e->klen = DKEY_DEAD;
    if (r->from_free) {
        e->prev = d->free;
        d->free = r->ei;
    } else {
        assert(r->ei == d->used - 1);
        d->used--;
    }
    d->count--;
}

static void dict_undo_replace(void* p)
{
    struct dict_rec* r = p;
    if (r->d)
        memcpy(dent_val(r->d, dent_at(r->d, r->ei)), r->val, r->d->esize);
}

static void dict_undo_delete(void* p)
{
    struct dict_rec* r = p;
    struct txc_dict* d = r->d;
    if (!d)
        return;
    struct dent* e = dent_at(d, r->ei);
    assert(d->free == r->ei && e->klen == DKEY_DEAD);
    d->free = e->prev;
    e->frag = r->frag;
    e->klen = r->klen;
    e->key = r->key;
    e->prev = r->prev;
    e->next = r->next;
    memcpy(dent_val(d, e), r->val, d->esize);
    if (r->prev == NIL)
        d->head = r->ei;
    else
        dent_at(d, r->prev)->next = r->ei;
    if (r->next == NIL)
        d->tail = r->ei;
    else
        dent_at(d, r->next)->prev = r->ei;
    index_put(d->index, d->mask, d->shift, ((uint64_t)r->frag << 32) | ((uint64_t)r->ei + 1));
    if (r->klen >= DKEY_INLINE)
        d->nlong++;
    d->count++;
    r->d = NULL; /* the key belongs to the dict again */
}

static void dict_drop_delete(void* p)
{
    struct dict_rec* r = p;
    if (r->d && r->klen >= DKEY_INLINE)
        free(r->key.ptr);
}

/* ---- life ---- */

static void dict_dtor(void* p)
{
    struct txc_dict* d = p;
    for (uint32_t i = 0; d->nlong && i < d->used; i++) {
        struct dent* e = dent_at(d, i);
        if (e->klen != DKEY_DEAD && e->klen >= DKEY_INLINE) {
            free(e->key.ptr);
            d->nlong--;
        }
    }
    for (unsigned b = 0; b < d->nblocks; b++)
        cont_store_free((void*)(d->base[b] + (pool_first(b) + 1) * d->stride), (POOL_BASE << b) * d->stride,
                        d->align);
    index_free(d);
    d->index = NULL;
    d->nblocks = 0;
    d->count = 0;
    d->check = 0;
}

TXC_API struct txc_dict* txc__dict_new(size_t esize, size_t align)
{
    struct txc_dict* d = cont_new(sizeof *d, dict_dtor, esize, dict_who[D_NEW]);
    pthread_once(&secret_once, secret_init);
    uint64_t n = __atomic_add_fetch(&dict_serial, 1, __ATOMIC_RELAXED);
    d->k0 = secret[0] ^ mix64(n);
    d->k1 = secret[1] ^ mix64(n ^ 0x5bd1e9955bd1e995ull);
    if (align < 8)
        align = 8;
    d->check = esize ^ DICT_MAGIC;
    d->esize = esize;
    d->align = align;
    d->voff = (sizeof(struct dent) + align - 1) & ~(align - 1);
    d->stride = (d->voff + esize + align - 1) & ~(align - 1);
    d->head = d->tail = d->free = NIL;
    d->lean_below = DKEY_INLINE;
    d->born = txn_now();
    return d;
}

/* For the tests: make every key of the (empty) dict d hash with fn. */
HIDDEN void dict_test_set_hash(struct txc_dict* d, uint64_t (*fn)(const void* key, size_t len))
{
    if (d->count || d->used)
        THROW_ARG("dict_test_set_hash: the dict is not empty");
    d->test_hash = fn;
    d->lean_below = 0;
}

TXC_API size_t txc_dict_count(const struct txc_dict* d)
{
    if (UNLIKELY(!d || (d->check & ~(size_t)0xffffffffu) != DICT_MAGIC))
        dict_fail(d, 0, D_COUNT);
    return d->count;
}

/* ---- operations ---- */

TXC_API void* txc__dict_set(struct txc_dict* d, size_t esize, const char* key, size_t len, int op, bool* added)
{
    dict_check(d, esize, op);
    len = key_len(key, len, op);
    if (UNLIKELY(len > DKEY_MAX))
        THROW_ARG("%s: a key of %zu bytes is too long (at most %u)", dict_who[op], len, (unsigned)DKEY_MAX);
    struct qkey q;
    qkey_make(&q, key, len);
    uint32_t frag = dict_frag(d, &q);
    size_t pos = 0;
    if (LIKELY(d->index != NULL)) {
        uint32_t ei;
        struct dent* e = index_find(d, &q, frag, &pos, &ei, false);
        if (e) {
            *added = false;
            if (!(op & 1))
                return NULL; /* insert: present, nothing changes */
            void* val = dent_val(d, e);
            struct dict_rec* r = txn_log_if(d->born, dict_undo_replace, NULL, sizeof *r + esize);
            if (UNLIKELY(r)) {
                r->ei = ei;
                memcpy(r->val, val, esize);
                r->d = d;
            }
            return val;
        }
    }

    /* A new entry: take all the memory it needs, then change. */
    struct dict_rec* r = txn_log_if(d->born, dict_undo_insert, NULL, sizeof *r);
    if (UNLIKELY(d->count + 1 > d->grow_at)) {
        uint32_t ei;
        index_grow(d, op);
        index_find(d, &q, frag, &pos, &ei, false);
    }
    if (UNLIKELY(d->free == NIL && d->used == d->cap))
        pool_grow(d, op);
    char* kp = NULL;
    if (UNLIKELY(len >= DKEY_INLINE)) {
        kp = cont_malloc(len + 1);
        if (!kp)
            THROW_NOMEM("%s: cannot copy a key of %zu bytes", dict_who[op], len);
        memcpy(kp, key, len);
        kp[len] = '\0';
    }

    uint32_t ei;
    struct dent* e;
    bool from_free = d->free != NIL;
    if (from_free) {
        ei = d->free;
        e = dent_at(d, ei);
        d->free = e->prev;
    } else {
        ei = d->used++;
        e = dent_at(d, ei);
    }
    if (UNLIKELY(r)) {
        r->ei = ei;
        r->from_free = from_free;
        r->d = d;
    }
    e->frag = frag;
    e->klen = (uint32_t)len;
    if (kp) {
        e->key.ptr = kp;
        d->nlong++;
    } else {
        e->key.w[0] = q.w[0];
        e->key.w[1] = q.w[1];
    }
    e->prev = d->tail;
    e->next = NIL;
    if (d->tail == NIL)
        d->head = ei;
    else
        dent_at(d, d->tail)->next = ei;
    d->tail = ei;
    d->index[pos] = ((uint64_t)frag << 32) | ((uint64_t)ei + 1);
    d->count++;
    *added = true;
    return dent_val(d, e);
}

/* For read and delete: the entry holding key (len bytes, checked), or NULL
 * (a key too long to have been inserted is simply absent); *pos and *eip
 * as for index_find. */
static inline struct dent* dict_locate(const struct txc_dict* d, const char* key, size_t len, size_t* pos,
                                       uint32_t* eip)
{
    if (!d->count || len > DKEY_MAX)
        return NULL;
    struct qkey q;
    qkey_make(&q, key, len);
    return index_find(d, &q, dict_frag(d, &q), pos, eip, false);
}

static __attribute__((noinline)) void* dict_read_any(const struct txc_dict* d, const char* key, size_t len)
{
    size_t pos;
    uint32_t ei;
    struct dent* e = dict_locate(d, key, len, &pos, &ei);
    return e ? dent_val(d, e) : NULL;
}

/* dict_read.  A read of a short key, the common case, takes a lean path:
 * in a big dict a lookup waits on cache misses (the key, the index, the
 * entry), and the fewer instructions a lookup takes, the more of them the
 * processor keeps in flight at once, so every instruction saved here shows
 * in the time of a run of lookups. */
TXC_API void* txc__dict_find(const struct txc_dict* d, size_t esize, const char* key, size_t len)
{
    if (UNLIKELY(!dict_ok(d, esize) || !key))
        dict_read_fail(d, esize, len);
    if (len == TXC__DICT_NTS)
        len = strlen(key);
    if (UNLIKELY(len >= d->lean_below || !d->count))
        return dict_read_any(d, key, len);
    struct qkey q;
    qkey_make_short(&q, key, len);
    size_t pos;
    uint32_t ei;
    struct dent* e = index_find(d, &q, dict_frag_short(d, &q), &pos, &ei, true);
    return e ? dent_val(d, e) : NULL;
}

TXC_API bool txc__dict_del(struct txc_dict* d, size_t esize, const char* key, size_t len)
{
    size_t pos;
    uint32_t ei;
    int what = len == TXC__DICT_NTS ? D_DELETE : D_DELETE_N;
    dict_check(d, esize, what);
    struct dent* e = dict_locate(d, key, key_len(key, len, what), &pos, &ei);
    if (!e)
        return false;
    struct dict_rec* r = txn_log_if(d->born, dict_undo_delete, dict_drop_delete, sizeof *r + esize);
    if (UNLIKELY(r)) {
        r->ei = ei;
        r->prev = e->prev;
        r->next = e->next;
        r->frag = e->frag;
        r->klen = e->klen;
        r->key = e->key;
        memcpy(r->val, dent_val(d, e), esize);
        r->d = d;
    }
    index_remove(d, pos);
    order_unlink(d, e);
    if (e->klen >= DKEY_INLINE) {
        if (!r)
            free(e->key.ptr);
        d->nlong--;
    }
    e->klen = DKEY_DEAD; /* e->next stays: a foreach standing here goes on */
    e->prev = d->free;
    d->free = ei;
    d->count--;
    return true;
}

/* ---- iteration ---- */

TXC_API void* txc__dict_it_init(struct txc__dict_it* it, struct txc_dict* d, size_t esize)
{
    dict_check(d, esize, D_FOREACH);
    it->dict = d;
    it->cur = NIL;
    it->nxt = d->head;
    it->go1 = it->go2 = it->brk = 0;
    return it;
}

/* Next live entry.  A dead entry's next link leads to an entry inserted
 * after it (an entry reused goes to the tail), so the walk ends. */
TXC_API bool txc__dict_it_next(struct txc__dict_it* it)
{
    if (it->brk)
        return false;
    const struct txc_dict* d = it->dict;
    uint32_t c = it->nxt;
    struct dent* e = NULL;
    while (c != NIL) {
        e = dent_at(d, c);
        if (e->klen != DKEY_DEAD)
            break;
        c = e->next;
    }
    if (c == NIL)
        return false;
    it->cur = c;
    it->nxt = e->next;
    it->key = dent_key(e);
    it->klen = e->klen;
    it->val = dent_val(d, e);
    it->go1 = it->go2 = it->brk = 1;
    return true;
}
