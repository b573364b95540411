/*
 * txn.c - transactions.  For now only the hooks that the heap module calls
 * while a transaction is active; none can be active yet.
 */
#include "internal.h"

uint64_t txc__txn_clock;

void* txn_log(uint64_t born, void (*undo)(void* rec), void (*drop)(void* rec), size_t size)
{
    (void)born, (void)undo, (void)drop, (void)size;
    return NULL;
}

bool txn_free_hook(struct txc__hdr* hd, txc_heap_t* owner)
{
    (void)hd, (void)owner;
    return false;
}

void txn_move_hook(struct txc__hdr* hd, txc_heap_t* src)
{
    (void)hd, (void)src;
}

void txn_unwind(struct txc__frame* f)
{
    txc__ctx.top = f->prev;
    txc__ctx.current = f->saved;
}
