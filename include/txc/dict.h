/*
 * txc/dict.h - dict(T), a map from string keys to T, in insertion order,
 * living on the heap stack.
 *
 *   dict(int)* d = new_dict(int);             an empty dict on the current heap
 *   dict_insert(d, int, "a", 1);              true; false if "a" is there already
 *   dict_replace(d, int, "a", 2);             insert or overwrite (order kept)
 *   int* p = dict_read(d, int, "a");          pointer to the value, or NULL
 *   dict_delete(d, int, "a");                 true; false if absent
 *   dict_foreach(d, int, k, v) { ... }        const char* k, int v, oldest first
 *
 * Keys are byte strings copied into the dict.  The plain forms take a
 * NUL-terminated key; the _n forms (dict_insert_n, dict_replace_n,
 * dict_read_n, dict_delete_n, dict_foreach_n) take or give its length, so a
 * key may hold any bytes, NUL included.  A stored key is always
 * NUL-terminated too.  Keys are at most 4 GiB - 2 bytes.
 *
 * Costs: insert, replace, read and delete are O(1) on average: an
 * open-addressing index of hash fragments finds the entry, compared by its
 * full key; a hit costs about two cache misses (the index, then the entry).
 * The hash is keyed per dict from a random process secret, so keys chosen
 * by an attacker cannot be made to collide: keys of up to 16 bytes go
 * through a keyed 128-bit multiply mix (as wyhash and Go's map hash do),
 * longer ones through SipHash-1-3.  Iteration follows insertion order and
 * reveals nothing of the hash.  The index doubles when three quarters full
 * (it is never shrunk); entries live in blocks that never move, linked in
 * insertion order, and a deleted entry is reused by a later insertion.
 * Keys of up to 15 bytes are stored in the entry itself, longer ones in a
 * malloc block of their own.  Memory: 32 bytes per entry plus the value
 * (rounded up to 8), plus 8 to 16 bytes of index.  A table (the index, a
 * block of entries) of 2 MiB or more is mapped on its own in whole 2 MiB
 * pages, which the system is asked to back with transparent huge pages, so
 * that reads at random in a big dict take far fewer TLB misses.

 * A dict is one allocation on the heap that is current when it is created
 * (new_dict), with a destructor that frees its index, entries and keys:
 * escape(d) or import(d) moves it with everything in it, and freeing its
 * heap frees them.  Do not txc_realloc it.  Values are copied in by value;
 * dict_read gives a pointer to the stored value, valid (and stable: other
 * insertions and deletions do not move it) until that entry is replaced or
 * deleted or the dict is freed.
 *
 * T is a single identifier naming a complete type (int, a typedef of a
 * pointer or of a struct).  dict(T) is one type for every T (struct
 * txc_dict), so it can be named anywhere - a variable, a struct member, a
 * parameter or return type - with no declaration beforehand.  The dict
 * stores the size of its values and every macro checks sizeof(T) against it
 * (exception_arg on a mismatch; a T of the same size goes unnoticed).
 *
 * Every macro evaluates each of its arguments once, in no specified order
 * except that a value argument (v) is evaluated before the dict is touched.
 *
 * Errors: exception_arg for a NULL dict or key, a T whose size differs from
 * the dict's values, and a key of 4 GiB - 1 bytes or more given to insert
 * or replace (read and delete simply do not find it); exception_nomem when
 * memory cannot be had, and then the dict is left exactly as it was.
 *
 * Transactions: inside a transaction (<txc/txn.h>), changes to a dict
 * created before it began are undone if it aborts: contents and order come
 * back as they were (a deleted entry returns to its place, at its old
 * address).  A deleted out-of-line key is kept until the outermost
 * transaction commits.
 *
 * Threads: a dict is not synchronised; threads that share one must lock
 * around every use of it.
 */
#ifndef TXC_DICT_H
#define TXC_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <txc/heap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dict(T): the type of a dict of T; use dict(T)*. */
#define TXC_DICT(T) struct txc_dict

/* new_dict(T): a new empty dict(T)* on the current heap.  O(1); the index
 * and entries are taken at the first insertion.  Throws exception_nomem;
 * exception_arg if sizeof(T) is 0. */
#define TXC_NEW_DICT(T) txc__dict_new(sizeof(T), __alignof__(T))

/* dict_count(d): the number of entries, a size_t.  O(1). */
#define TXC_DICT_COUNT(d) txc_dict_count(d)

/* dict_insert(d, T, key, v): adds key with value v; true.  If key is there
 * already nothing changes and the result is false.  O(1) on average. */
#define TXC_DICT_INSERT(d, T, key, v) TXC__DICT_SET(d, T, key, TXC__DICT_NTS, v, 0)
#define TXC_DICT_INSERT_N(d, T, key, len, v) TXC__DICT_SET(d, T, key, len, v, 2)

/* dict_replace(d, T, key, v): adds key with value v, or, if key is there,
 * overwrites its value in place (it keeps its position in the order).  The
 * result (a bool, may be ignored) is true if key was added.  O(1) on
 * average. */
#define TXC_DICT_REPLACE(d, T, key, v) TXC__DICT_SET(d, T, key, TXC__DICT_NTS, v, 1)
#define TXC_DICT_REPLACE_N(d, T, key, len, v) TXC__DICT_SET(d, T, key, len, v, 3)

/* dict_read(d, T, key): a T* to key's value, or NULL if key is absent.
 * Valid until that entry is replaced or deleted or the dict is freed; write
 * through it only outside transactions (such writes are not undone).  O(1)
 * on average. */
#define TXC_DICT_READ(d, T, key) ((T*)txc__dict_find((d), sizeof(T), (key), TXC__DICT_NTS))
#define TXC_DICT_READ_N(d, T, key, len) ((T*)txc__dict_find((d), sizeof(T), (key), (len)))

/* dict_delete(d, T, key): removes key and its value; true, or false if key
 * was absent.  O(1) on average. */
#define TXC_DICT_DELETE(d, T, key) txc__dict_del((d), sizeof(T), (key), TXC__DICT_NTS)
#define TXC_DICT_DELETE_N(d, T, key, len) txc__dict_del((d), sizeof(T), (key), (len))

/* dict_foreach(d, T, k, v) { ... }: runs the block for each entry, oldest
 * first, with const char* k its key (NUL-terminated) and T v a copy of its
 * value; dict_foreach_n(d, T, k, len, v) also gives size_t len, the key's
 * length.  break leaves the loop, continue goes to the next entry, as in
 * any loop.  The block may replace values and delete the entry being
 * visited (k is then no longer valid); other insertions and deletions make
 * it unspecified which of the remaining entries the loop visits (it never
 * visits memory that is not the dict's).  k, len and v need not be used.
 * O(1) per step. */
#define TXC_DICT_FOREACH(d, T, k, v)                                             \
    for (struct txc__dict_it txc__di = {NULL, 0, 0, NULL, 0, NULL, 0, 0, 0},     \
                             *txc__dip __attribute__((unused)) =                \
                                 txc__dict_it_init(&txc__di, (d), sizeof(T));   \
         txc__dict_it_next(&txc__di);)                                           \
        for (const char* k __attribute__((unused)) = txc__di.key; txc__di.go1; txc__di.go1 = 0) \
            for (T v __attribute__((unused)) = *(const T*)txc__di.val; txc__di.brk; txc__di.brk = 0)

#define TXC_DICT_FOREACH_N(d, T, k, len, v)                                      \
    for (struct txc__dict_it txc__di = {NULL, 0, 0, NULL, 0, NULL, 0, 0, 0},     \
                             *txc__dip __attribute__((unused)) =                \
                                 txc__dict_it_init(&txc__di, (d), sizeof(T));   \
         txc__dict_it_next(&txc__di);)                                           \
        for (const char* k __attribute__((unused)) = txc__di.key; txc__di.go1; txc__di.go1 = 0) \
            for (size_t len __attribute__((unused)) = txc__di.klen; txc__di.go2; txc__di.go2 = 0) \
                for (T v __attribute__((unused)) = *(const T*)txc__di.val; txc__di.brk; txc__di.brk = 0)

/* Long lower-case forms (API.md: txc_dict_insert ...). */
#define txc_dict(T) TXC_DICT(T)
#define txc_new_dict(T) TXC_NEW_DICT(T)
#define txc_dict_insert(d, T, key, v) TXC_DICT_INSERT(d, T, key, v)
#define txc_dict_insert_n(d, T, key, len, v) TXC_DICT_INSERT_N(d, T, key, len, v)
#define txc_dict_replace(d, T, key, v) TXC_DICT_REPLACE(d, T, key, v)
#define txc_dict_replace_n(d, T, key, len, v) TXC_DICT_REPLACE_N(d, T, key, len, v)
#define txc_dict_read(d, T, key) TXC_DICT_READ(d, T, key)
#define txc_dict_read_n(d, T, key, len) TXC_DICT_READ_N(d, T, key, len)
#define txc_dict_delete(d, T, key) TXC_DICT_DELETE(d, T, key)
#define txc_dict_delete_n(d, T, key, len) TXC_DICT_DELETE_N(d, T, key, len)
#define txc_dict_foreach(d, T, k, v) TXC_DICT_FOREACH(d, T, k, v)
#define txc_dict_foreach_n(d, T, k, len, v) TXC_DICT_FOREACH_N(d, T, k, len, v)

/* ------------------------------------------------------------------------
 * Internals used by the macros.  Layouts may change between versions; do
 * not touch them.
 * ------------------------------------------------------------------------ */

struct txc_dict; /* defined in src/dict.c */

/* The key length of the plain forms: the key is NUL-terminated. */
#define TXC__DICT_NTS ((size_t)-1)

/* Member names must differ from the parameters of TXC_DICT_FOREACH_N. */
struct txc__dict_it {
    struct txc_dict* dict;
    uint32_t cur, nxt;   /* entry visited and the one after it */
    const char* key;
    size_t klen;
    const void* val;
    int go1, go2, brk;
};

/* dict_count(d): the number of entries.  O(1).  exception_arg if d is
 * NULL. */
TXC_API size_t txc_dict_count(const struct txc_dict* d);

/* op: 0 insert, 1 replace, +2 for the _n forms (for messages).  The result
 * is the slot to write the value to, NULL when an insert finds the key
 * present; *added says whether the key was added.  len TXC__DICT_NTS: key
 * is NUL-terminated. */
TXC_API struct txc_dict* txc__dict_new(size_t esize, size_t align);
TXC_API void* txc__dict_set(struct txc_dict* d, size_t esize, const char* key, size_t len, int op,
                            bool* added);
TXC_API void* txc__dict_find(const struct txc_dict* d, size_t esize, const char* key, size_t len);
TXC_API bool txc__dict_del(struct txc_dict* d, size_t esize, const char* key, size_t len);
TXC_API void* txc__dict_it_init(struct txc__dict_it* it, struct txc_dict* d, size_t esize);
TXC_API bool txc__dict_it_next(struct txc__dict_it* it);

#define TXC__DICT_SET(d, T, key, len, v, op)                                     \
    __extension__({                                                              \
        T txc__v = (v);                                                          \
        bool txc__added;                                                         \
        T* txc__p = (T*)txc__dict_set((d), sizeof(T), (key), (len), (op), &txc__added); \
        if (txc__p)                                                              \
            *txc__p = txc__v;                                                    \
        txc__added;                                                              \
    })

#if !defined(TXC_NO_SHORT_NAMES) && !defined(__cplusplus)
#define dict(T) TXC_DICT(T)
#define new_dict(T) TXC_NEW_DICT(T)
#define dict_count(d) TXC_DICT_COUNT(d)
#define dict_insert(d, T, key, v) TXC_DICT_INSERT(d, T, key, v)
#define dict_insert_n(d, T, key, len, v) TXC_DICT_INSERT_N(d, T, key, len, v)
#define dict_replace(d, T, key, v) TXC_DICT_REPLACE(d, T, key, v)
#define dict_replace_n(d, T, key, len, v) TXC_DICT_REPLACE_N(d, T, key, len, v)
#define dict_read(d, T, key) TXC_DICT_READ(d, T, key)
#define dict_read_n(d, T, key, len) TXC_DICT_READ_N(d, T, key, len)
#define dict_delete(d, T, key) TXC_DICT_DELETE(d, T, key)
#define dict_delete_n(d, T, key, len) TXC_DICT_DELETE_N(d, T, key, len)
#define dict_foreach(d, T, k, v) TXC_DICT_FOREACH(d, T, k, v)
#define dict_foreach_n(d, T, k, len, v) TXC_DICT_FOREACH_N(d, T, k, len, v)
#endif

#ifdef __cplusplus
}
#endif

#endif
