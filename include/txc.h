/*
 * txc.h - fallible, transactional C: heaps that follow the call stack,
 * exceptions whose unwinding frees them, transactions, and containers that
 * live on the heaps.  See txc(3) and the module headers included below.
 *
 * Short names (sub_heap, try, catch, throw, new, list, ...) are defined
 * unless TXC_NO_SHORT_NAMES is defined before the first include, and never
 * in C++, where the headers declare only the long txc_/TXC_ names.
 */
#ifndef TXC_H
#define TXC_H

#include <txc/heap.h>
#include <txc/except.h>
#include <txc/str.h>
#include <txc/txn.h>
#include <txc/list.h>
#include <txc/dict.h>
#include <txc/vec.h>

#endif
