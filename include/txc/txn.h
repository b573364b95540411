/*
 * txc/txn.h - transactions: memory and changes kept only if a block
 * finishes normally.
 *
 *   sub_heap_txn(h) { ... }   a sub_heap, and h, a new heap on it.  Left
 *                             normally (end, break, continue, return, goto):
 *                             everything on h moves to the heap that was
 *                             current before the block, then the sub heap is
 *                             freed.  Left by an exception: the sub heap is
 *                             freed with h and all on it.
 *   switch_txn(h) { ... }     sub_heap_txn(h) switch_heap(h): what the block
 *                             allocates is kept only if it finishes normally.
 *   global_heap { ... }       (see <txc/heap.h>) is a transaction too.
 *
 * Inside a transaction, besides its memory:
 *  - every change to a txc list, dict or vec that existed before the
 *    transaction began is undone if it aborts: the container is left exactly
 *    as it was (contents and order);
 *  - txn_set(lvalue, value) assigns and logs the old bytes; an abort
 *    restores them, newest first.  The lvalue must outlive the transaction
 *    (no locals of a function that returns inside it);
 *  - txc_free() of an allocation older than the transaction (one not on the
 *    transaction's sub heap, on the heap of a block entered since it began,
 *    or below one) is deferred until the outermost transaction commits;
 *    escape/import of one is undone on abort: until then its free is
 *    deferred too, and if the heap it moved to ends first, it waits for the
 *    outcome in a heap of the outermost transaction instead of being freed;
 *  - txc_on_abort(fn, arg) runs fn(arg) if the transaction aborts;
 *    txc_on_commit(fn, arg) runs fn(arg) when the outermost enclosing
 *    transaction commits, never if any enclosing one aborts.
 *
 * The memory a transaction discards is its own: its sub heap, with h and all
 * on it, and the heaps of the blocks entered in it.  A new allocation it
 * makes on a heap older than itself (by switch_heap to that heap) is kept
 * whatever the outcome, like a plain write to memory; free it from an abort
 * hook if it must go too.
 *
 * Undo steps and abort hooks run in reverse order of the changes, during
 * the unwind, before any memory is freed (sub heaps inside the transaction
 * included).  A nested transaction commits into its parent: its undo steps,
 * deferred frees and hooks join the parent's, and memory it moved into a
 * heap older than the parent is taken back if the parent aborts.  The
 * outermost commit drops the undo records, then performs the deferred
 * frees, then runs the commit hooks in the order they were registered; an
 * exception thrown by a commit hook propagates from the end of the
 * transaction, with all its memory in place (the remaining hooks do not
 * run).  An exception escaping an abort hook or an undo step is fatal.
 *
 * Outside any transaction each of these costs one predictable branch:
 * txn_set is a plain assignment, txc_on_commit runs fn at once and
 * txc_on_abort does nothing.  Transactions are per thread and do not isolate
 * threads from each other.
 *
 * Costs: entering a transaction pushes a frame and takes one heap (a
 * malloc); a commit moves h's chunks and tracked allocations to the parent
 * heap (one step per chunk and per tracked allocation, not per allocation);
 * each logged change bump-allocates one record.
 */
#ifndef TXC_TXN_H
#define TXC_TXN_H

#include <txc/heap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Is a transaction active in this thread? */
TXC_API bool txc_in_txn(void);
TXC_API void txc_on_abort(void (*fn)(void* arg), void* arg);
TXC_API void txc_on_commit(void (*fn)(void* arg), void* arg);

TXC_API void txc__txn_save(void* p, size_t size);

TXC__INLINE void txc__txn_save_if(void* p, size_t size)
{
    if (__builtin_expect(txc__ctx.txn != NULL, 0))
        txc__txn_save(p, size);
}

#define TXC_SUB_HEAP_TXN(h)                                                   \
    for (struct txc__txn txc__tx __attribute__((cleanup(txc__txn_leave))),    \
         *txc__txp __attribute__((unused)) = txc__txn_enter(&txc__tx, 0);     \
         txc__tx.once; txc__tx.once = 0)                                      \
        for (txc_heap_t* const h __attribute__((unused)) = txc__tx.heap;      \
             txc__tx.once; txc__tx.once = 0)

#define TXC_SWITCH_TXN(h) TXC_SUB_HEAP_TXN(h) TXC_SWITCH_HEAP(h)

/* Assigns value to lvalue (each evaluated once), logging the old bytes. */
#define TXC_TXN_SET(lvalue, value)                                            \
    ((void)({                                                                 \
        __typeof__(lvalue)* txc__sp = &(lvalue);                              \
        __typeof__(lvalue) txc__sv = (value);                                 \
        txc__txn_save_if((void*)txc__sp, sizeof *txc__sp);                           \
        *txc__sp = txc__sv;                                                   \
    }))

#if !defined(TXC_NO_SHORT_NAMES) && !defined(__cplusplus)
#define sub_heap_txn(h) TXC_SUB_HEAP_TXN(h)
#define switch_txn(h) TXC_SWITCH_TXN(h)
#define txn_set(lvalue, value) TXC_TXN_SET(lvalue, value)
#endif

#ifdef __cplusplus
}
#endif

#endif
