#!/bin/sh
# The public headers compile as C++ (short names are off there).
set -e
src="${top_srcdir:-.}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/t.cc" <<'CC'
#include <txc.h>
#include <txc.h>
int main() {
    txc_heap_t* h = txc_heap_current();
    txc_heap_stats_t s;
    txc_heap_stats(h, &s);
    const txc_exception_type_t* t = TXC_E_IO;
    return t->parent == TXC_E_ANY ? 0 : 1;
}
CC
${CXX:-g++} -std=c++11 -Wall -Wextra -Werror -I"$src/include" -c "$tmp/t.cc" -o "$tmp/t.o"
echo "ok: headers compile as C++"
