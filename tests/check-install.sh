#!/bin/sh
# make install DESTDIR=... installs the shared and static libraries, every
# header, txc.pc and every manual page; examples/demo.c builds against the
# installed files with nothing but pkg-config, both dynamically and
# statically (pkg-config --static, -static: libtxc.a), and both binaries run;
# make uninstall then leaves no file behind, nor the include/txc directory.
# The static link is skipped in sanitizer builds (ASan cannot link
# statically).  Skips (77) without pkg-config.
set -u
src=${top_srcdir:-.}
build=${top_builddir:-.}
cc=${CC:-cc}
make=${MAKE:-make}
command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: pkg-config is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
fail=0
bad() { echo "FAIL: $*"; fail=1; }

if ! $make -C "$build" install DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "FAIL: make install DESTDIR=$dest"
    exit 1
fi

# what must be there
(cd "$dest" && find . -type f -o -type l) | sed 's|^\./|/|' | sort >"$tmp/files"
has() { grep -qE "$1" "$tmp/files" || bad "not installed: $2"; }
has '/libtxc\.so\.[0-9]+$' "libtxc.so.N"
has '/libtxc\.so$' "libtxc.so"
has '/libtxc\.a$' "libtxc.a"
has '/pkgconfig/txc\.pc$' "txc.pc"
has '/include/txc\.h$' "txc.h"
for h in "$src"/include/txc/*.h; do
    has "/include/txc/$(basename "$h")\$" "txc/$(basename "$h")"
done
for m in "$src"/man/*.3; do
    has "/man3/$(basename "$m")\$" "man page $(basename "$m")"
done

# build and run the demo against the installed files, with pkg-config only
pc=$(grep '/txc\.pc$' "$tmp/files" | head -1)
PKG_CONFIG_PATH="$dest$(dirname "$pc")"
PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
libdir="$dest$(dirname "$(dirname "$pc")")"
flags="-std=gnu11 -Wall -Wextra -Werror -O2"
# shellcheck disable=SC2046,SC2086
if $cc ${BUILD_CFLAGS:-} $flags -o "$tmp/demo-shared" "$src/examples/demo.c" \
    $(pkg-config --cflags --libs txc) ${BUILD_LDFLAGS:-} 2>"$tmp/err"; then
    if LD_LIBRARY_PATH="$libdir" "$tmp/demo-shared" >"$tmp/out-shared" 2>&1; then
        echo "ok: demo linked with \$(pkg-config --cflags --libs txc) runs"
    else
        cat "$tmp/out-shared"
        bad "the dynamically linked demo fails"
    fi
else
    cat "$tmp/err"
    bad "the demo does not build with \$(pkg-config --cflags --libs txc)"
fi

case " ${BUILD_CFLAGS:-} ${BUILD_LDFLAGS:-} " in
*-fsanitize=*) echo "ok: static link skipped (sanitizer build)" ;;
*)
    # shellcheck disable=SC2046,SC2086
    if $cc $flags -static -o "$tmp/demo-static" "$src/examples/demo.c" \
        $(pkg-config --static --cflags --libs txc) 2>"$tmp/err"; then
        if readelf -d "$tmp/demo-static" 2>/dev/null | grep -q NEEDED; then
            bad "the -static demo still needs shared libraries"
        fi
        if "$tmp/demo-static" >"$tmp/out-static" 2>&1; then
            if [ -f "$tmp/out-shared" ] && ! cmp -s "$tmp/out-shared" "$tmp/out-static"; then
                diff "$tmp/out-shared" "$tmp/out-static"
                bad "the static and dynamic demos print different things"
            else
                echo "ok: demo linked -static with \$(pkg-config --static --cflags --libs txc) runs"
            fi
        else
            cat "$tmp/out-static"
            bad "the statically linked demo fails"
        fi
    else
        cat "$tmp/err"
        bad "the demo does not link with -static \$(pkg-config --static --cflags --libs txc)"
    fi ;;
esac

# uninstall leaves nothing
if ! $make -C "$build" uninstall DESTDIR="$dest" >"$tmp/uninstall.log" 2>&1; then
    cat "$tmp/uninstall.log"
    bad "make uninstall DESTDIR=$dest"
fi
left=$(cd "$dest" && find . -type f -o -type l -o -type d -path '*/include/txc')
if [ -n "$left" ]; then
    echo "$left"
    bad "make uninstall left files behind"
else
    echo "ok: make uninstall removes all $(wc -l <"$tmp/files") installed files"
fi
exit "$fail"
