#!/bin/sh
# README.md shows what is true:
#  - every ```c block compiles on its own, warning-free (-Wall -Wextra
#    -Werror -O2), against the source tree's headers; a block with a main()
#    is linked with the built library and run, and a block marked
#    "<!-- check-readme: output of the block above -->" must print exactly
#    the fenced block that follows the mark;
#  - the output shown after "<!-- check-readme: output of examples/X.c -->"
#    is exactly what examples/X.c prints when run from the top of the source
#    tree (a mark that ends in "(resident figures vary)" ignores the trailing
#    number of each line and the "+N KiB" figures), and every examples/*.c
#    has its output shown.
# Without a built static library (--disable-static) the blocks are only
# compiled.
set -u
src=${top_srcdir:-.}
build=${top_builddir:-.}
cc=${CC:-cc}
abs() { (cd "$1" && pwd); }
src=$(abs "$src")
build=$(abs "$build")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

lib=
[ -f "$build/.libs/libtxc.a" ] && lib="$build/.libs/libtxc.a"
cflags="${BUILD_CFLAGS:-} -std=gnu11 -Wall -Wextra -Werror -O2 -I$src/include"
ldflags="${BUILD_CFLAGS:-} ${BUILD_LDFLAGS:-}"
# ASan's quarantine would make the resident set of examples/requests.c grow.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
export ASAN_OPTIONS

# Split README.md: blk.N.c for the ```c blocks, blk.N.out and ex.NAME.out
# for the marked outputs (ex.NAME.vary when figures vary).
awk -v dir="$tmp" '
    /^```/ && !infence {
        infence = 1; kind = substr($0, 4); body = ""; next
    }
    /^```/ && infence {
        infence = 0
        if (target != "") { f = dir "/" target; printf "%s", body > f; close(f); target = "" }
        else if (kind == "c") { n++; f = dir "/blk." n ".c"; printf "%s", body > f; close(f) }
        next
    }
    infence { body = body $0 "\n"; next }
    /<!-- check-readme: output of the block above -->/ { target = "blk." n ".out"; next }
    /<!-- check-readme: output of examples\/[a-z_0-9]*\.c/ {
        name = $0; sub(/.*output of examples\//, "", name); sub(/\.c.*/, "", name)
        target = "ex." name ".out"
        if ($0 ~ /\(resident figures vary\)/) { f = dir "/ex." name ".vary"; printf "" > f; close(f) }
        next
    }' "$src/README.md"

mask() { sed -E 's/[0-9]+$/N/; s/[-+][0-9]+ KiB/N KiB/g' "$1"; }

# run label program expected [mask] -- runs program in $src, compares
run_and_compare() {
    label=$1 prog=$2 expected=$3 vary=${4:-}
    if ! (cd "$src" && timeout 120 "$prog") >"$prog.got" 2>&1; then
        bad "$label exits with an error:"
        cat "$prog.got"
        return
    fi
    [ -f "$expected" ] || { echo "ok: $label runs"; return; }
    if [ -n "$vary" ]; then
        mask "$expected" >"$expected.m"
        mask "$prog.got" >"$prog.got.m"
        set -- "$expected.m" "$prog.got.m"
    else
        set -- "$expected" "$prog.got"
    fi
    if cmp -s "$1" "$2"; then
        echo "ok: $label prints what README.md shows"
    else
        bad "$label does not print what README.md shows:"
        diff "$1" "$2"
    fi
}

blocks=0
for c in "$tmp"/blk.*.c; do
    [ -f "$c" ] || continue
    blocks=$((blocks + 1))
    b=${c%.c}
    label="README.md block $(basename "$b" | sed 's/blk\.//')"
    # shellcheck disable=SC2086
    if ! $cc $cflags -c "$c" -o "$b.o" 2>"$b.err"; then
        bad "$label does not compile:"
        cat "$b.err"
        sed = "$c" | sed 'N;s/\n/: /'
        continue
    fi
    grep -q 'main(' "$c" || { echo "ok: $label compiles"; continue; }
    [ -n "$lib" ] || { echo "ok: $label compiles (no static library to link)"; continue; }
    # shellcheck disable=SC2086
    if ! $cc $ldflags "$b.o" "$lib" ${BUILD_LIBS:-} -o "$b" 2>"$b.err"; then
        bad "$label does not link:"
        cat "$b.err"
        continue
    fi
    run_and_compare "$label" "$b" "$b.out"
done
[ "$blocks" -gt 0 ] || bad "no \`\`\`c blocks in README.md"

for e in "$src"/examples/*.c; do
    name=$(basename "$e" .c)
    [ -f "$tmp/ex.$name.out" ] || { bad "README.md does not show the output of examples/$name.c"; continue; }
    [ -n "$lib" ] || continue
    # shellcheck disable=SC2086
    if ! (cd "$src" && $cc $cflags "examples/$name.c" -o "$tmp/$name" $ldflags "$lib" ${BUILD_LIBS:-}) 2>"$tmp/$name.err"; then
        bad "examples/$name.c does not build:"
        cat "$tmp/$name.err"
        continue
    fi
    vary=
    [ -f "$tmp/ex.$name.vary" ] && vary=1
    run_and_compare "examples/$name.c" "$tmp/$name" "$tmp/ex.$name.out" "$vary"
done
exit "$fail"
