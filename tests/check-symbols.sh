#!/bin/sh
# The shared library exports only txc_ symbols.
lib="${top_builddir:-.}/.libs/libtxc.so"
[ -f "$lib" ] || { echo "SKIP: no shared library"; exit 77; }
bad=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -v '^txc_' | grep -v '^_init$' | grep -v '^_fini$')
if [ -n "$bad" ]; then
    echo "symbols exported without the txc_ prefix:"; echo "$bad"; exit 1
fi
n=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -c '^txc_')
[ "$n" -gt 10 ] || { echo "only $n txc_ symbols exported"; exit 1; }
echo "ok: $n symbols, all txc_"
