#!/bin/sh
# The manual pages (man/*.3):
#  - groff -ww finds nothing to warn about in any of them;
#  - each is installed (listed in Makefile.am);
#  - each module header include/txc/X.h has a page txc_X.3 that names every
#    public name the header defines (txc_/TXC_ names and the short names),
#    and txc.3 refers to the page of every header txc.h includes;
#  - every example program in a page (an .EX block with an #include) compiles
#    warning-free with -Wall -Wextra -Werror -O2, and, when the built library
#    can be linked, runs and prints what the page says it prints (the .EX
#    block after a "prints" line).
# Skips (77) when groff is not installed.
set -u
src=${top_srcdir:-.}
build=${top_builddir:-.}
cc=${CC:-cc}
command -v groff >/dev/null 2>&1 || { echo "SKIP: groff is not installed"; exit 77; }
command -v perl >/dev/null 2>&1 || { echo "SKIP: perl is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# The page's source as plain text: font and character escapes removed.
plain() {
    sed -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' \
        -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\e/\\/g' "$1"
}

# Public names of a header: txc_/TXC_ identifiers outside comments (not the
# internal txc__/TXC__ ones, TXC_API or the include guard) and the short
# names defined in its TXC_NO_SHORT_NAMES block.
names() {
    perl -0777 -pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$1" |
        grep -oE '\b(txc_[a-z0-9_]+|TXC_[A-Z0-9_]+)\b' |
        grep -vE '^(txc__|TXC__)|^TXC_API$|^TXC_[A-Z]+_H$'
    sed -n '/!defined(TXC_NO_SHORT_NAMES)/,/^#endif/s/^#define \([a-z_][a-z_0-9]*\).*/\1/p' "$1"
}

# A linkable library, if the build has one, and the flags of the build.
lib=
[ -f "$build/.libs/libtxc.a" ] && lib="$build/.libs/libtxc.a"
link_flags="${BUILD_CFLAGS:-} ${BUILD_LDFLAGS:-}"

pages=0
for page in "$src"/man/*.3; do
    name=$(basename "$page" .3)
    pages=$((pages + 1))

    # groff warnings
    if ! groff -ww -z -man "$page" >"$tmp/groff.out" 2>&1 || [ -s "$tmp/groff.out" ]; then
        bad "$name.3: groff -ww:"
        cat "$tmp/groff.out"
    fi

    # installed
    grep -q "man/$name\.3" "$src/Makefile.am" || bad "$name.3 is not listed in Makefile.am"

    # every public name of the module
    plain "$page" >"$tmp/page.txt"
    case "$name" in
    txc)
        for h in $(sed -n 's/^#include <txc\/\([a-z]*\)\.h>.*/\1/p' "$src/include/txc.h"); do
            grep -qE "txc_$h ?\(3\)" "$tmp/page.txt" || bad "txc.3 does not refer to txc_$h(3)"
        done ;;
    txc_*)
        header="$src/include/txc/${name#txc_}.h"
        if [ ! -f "$header" ]; then
            bad "$name.3 has no header $header"
        else
            for n in $(names "$header" | sort -u); do
                grep -qE "(^|[^A-Za-z0-9_])$n([^A-Za-z0-9_]|\$)" "$tmp/page.txt" ||
                    bad "$name.3 does not mention $n (from $(basename "$header"))"
            done
        fi ;;
    esac

    # examples: .EX blocks with an #include; the .EX block that follows a
    # "prints" line is the expected output of the program before it
    rm -f "$tmp"/ex.*
    plain "$page" | awk -v dir="$tmp" '
        /^\.EX/ { inex = 1; n++; body = ""; next }
        /^\.EE/ {
            inex = 0
            if (body ~ /#include/) { prog = n; f = dir "/ex." n ".c"; printf "%s", body > f; close(f) }
            else if (expect_out && prog) { f = dir "/ex." prog ".out"; printf "%s", body > f; close(f) }
            expect_out = 0; next
        }
        inex { body = body $0 "\n"; next }
        /^prints$/ { expect_out = 1; next }
        /^\.PP$/ { next }
        { if (!inex) expect_out = 0 }'
    for c in "$tmp"/ex.*.c; do
        [ -f "$c" ] || continue
        o=${c%.c}
        if ! $cc -std=gnu11 -Wall -Wextra -Werror -O2 -I"$src/include" -c "$c" -o "$o.o" 2>"$o.err"; then
            bad "$name.3: example $(basename "$c") does not compile:"
            cat "$o.err"
            sed = "$c" | sed 'N;s/\n/: /'
            continue
        fi
        [ -n "$lib" ] || continue
        # shellcheck disable=SC2086
        if ! $cc $link_flags "$o.o" "$lib" ${BUILD_LIBS:-} -o "$o" 2>"$o.err"; then
            bad "$name.3: example $(basename "$c") does not link:"
            cat "$o.err"
            continue
        fi
        if ! "$o" >"$o.got" 2>&1; then
            bad "$name.3: example $(basename "$c") exits with $?:"
            cat "$o.got"
        elif [ -f "$o.out" ] && ! cmp -s "$o.out" "$o.got"; then
            bad "$name.3: example $(basename "$c") does not print what the page says:"
            diff "$o.out" "$o.got"
        elif [ -f "$o.out" ]; then
            echo "ok: $name.3: example $(basename "$c") prints what the page says"
        else
            echo "ok: $name.3: example $(basename "$c") runs"
        fi
    done
done

# every module header has a page
for h in "$src"/include/txc/*.h; do
    m=$(basename "$h" .h)
    [ -f "$src/man/txc_$m.3" ] || bad "include/txc/$m.h has no page man/txc_$m.3"
done

[ "$pages" -gt 0 ] || bad "no pages in $src/man"
[ "$fail" = 0 ] && echo "ok: $pages pages"
exit "$fail"
