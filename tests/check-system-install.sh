#!/bin/sh
# A literal system install (issue 7), as a user would do it: configure with
# the default prefix (/usr/local) in BUILDDIR, make, make install, ldconfig;
# then a small program builds with exactly
#     gcc prog.c $(pkg-config --cflags --libs txc)
# (no PKG_CONFIG_PATH, no rpath, no LD_LIBRARY_PATH), loads libtxc.so from
# /usr/local/lib through ld.so's cache and prints what it should; make
# uninstall and ldconfig then leave no file in /usr/local that was not there
# before (a listing before and after), and pkg-config and ld.so no longer
# find txc.  Whatever step fails, the exit trap uninstalls and removes what
# the install added, so /usr/local is left as it was.
#
# It writes to /usr/local, so make check (and distcheck) never run it;
# quickstart.sh check does, as root.
# Usage, from the top of the source tree after autoreconf:
#     tests/check-system-install.sh BUILDDIR
# Exit status: 0 passed, 1 failed, 77 skipped (not root, no gcc, or txc is
# already installed somewhere pkg-config looks: an install of someone else's
# is not touched).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: $0 BUILDDIR}
prefix=/usr/local
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "the system install writes to $prefix: run as root"
for tool in gcc make pkg-config ldconfig; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
[ -x "$src/configure" ] || { echo "FAIL: no $src/configure (run autoreconf -fi)"; exit 1; }
# what a user's shell would not have: nothing may point at another install
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR LD_LIBRARY_PATH LD_RUN_PATH \
    LIBRARY_PATH CPATH C_INCLUDE_PATH CFLAGS LDFLAGS
# one system install at a time on this machine
if command -v flock >/dev/null 2>&1; then
    exec 9>/tmp/txc-system-install.lock
    flock 9
fi
if pkg-config --exists txc || [ -e "$prefix/include/txc.h" ]; then
    skip "txc is already installed ($(pkg-config --variable=prefix txc 2>/dev/null || echo "$prefix")); not touching it"
fi

tmp=$(mktemp -d)
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# find prints directories with a trailing / so that they can be told apart
listing() { find "$prefix" -mindepth 1 \( -type d -printf '%p/\n' -o -printf '%p\n' \) | LC_ALL=C sort; }
installed=0
cleanup() {
    if [ "$installed" = 1 ]; then
        make -s -C "$build" uninstall >/dev/null 2>&1
        ldconfig
    fi
    # anything the install put there and make uninstall left: the files
    # first (only those of the staged install), then the new directories,
    # deepest first (only if empty)
    if [ -s "$tmp/before" ]; then
        listing >"$tmp/now"
        LC_ALL=C comm -13 "$tmp/before" "$tmp/now" >"$tmp/added"
        grep -v '/$' "$tmp/added" | while read -r f; do
            grep -qxF "$f" "$tmp/files" && rm -f "$f"
        done
        grep '/$' "$tmp/added" | sort -r | while read -r d; do rmdir "$d" 2>/dev/null; done
        ldconfig
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

mkdir -p "$build"
if ! (cd "$build" && "$src/configure" --quiet && make -s -j2) >"$tmp/build.log" 2>&1; then
    tail -40 "$tmp/build.log"
    echo "FAIL: configure && make (default prefix)"
    exit 1
fi
grep -q "^prefix = $prefix\$" "$build/Makefile" || { echo "FAIL: the default prefix is not $prefix"; exit 1; }

# What make install puts where: staged first, so that the cleanup removes
# exactly these files and nothing else.
if ! make -s -C "$build" install DESTDIR="$tmp/stage" >"$tmp/stage.log" 2>&1; then
    cat "$tmp/stage.log"
    echo "FAIL: make install DESTDIR=$tmp/stage"
    exit 1
fi
(cd "$tmp/stage" && find . ! -type d) | sed 's|^\.||' | LC_ALL=C sort >"$tmp/files"
outside=$(grep -v "^$prefix/" "$tmp/files")
[ -z "$outside" ] || { echo "$outside"; echo "FAIL: files installed outside $prefix"; exit 1; }

listing >"$tmp/before"
installed=1
if ! make -s -C "$build" install >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "FAIL: make install"
    exit 1
fi
ldconfig
echo "ok: make install put $(wc -l <"$tmp/files") files in $prefix; ldconfig"

version=$(pkg-config --modversion txc 2>&1) || bad "pkg-config does not find txc after make install: $version"
[ "$(pkg-config --variable=prefix txc 2>/dev/null)" = "$prefix" ] || bad "pkg-config's txc is not the one in $prefix"

mkdir "$tmp/user"
cat >"$tmp/user/prog.c" <<'EOF'
#include <stdio.h>
#include <txc.h>

int main(void)
{
    char* kept = NULL;
    sub_heap {
        for (int i = 0; i < 100; i++)
            txc_sprintf("scratch %d", i);
        kept = txc_sprintf("kept from a sub heap: %d", 42);
        escape(kept);
    }
    try {
        throw(exception_io, "thrown by %s", "libtxc.so");
    } catch (exception_io, e) {
        printf("caught %s: %s\n", e->type->name, e->message);
        txc_free(e);
    }
    printf("%s\n", kept);
    txc_free(kept);
    txc_heap_stats_t s;
    txc_heap_stats(txc_heap_current(), &s);
    printf("live allocations: %zu\n", s.allocs);
    return 0;
}
EOF
cat >"$tmp/user/expected" <<'EOF'
caught exception_io: thrown by libtxc.so
kept from a sub heap: 42
live allocations: 0
EOF
# shellcheck disable=SC2046
if (cd "$tmp/user" && gcc prog.c $(pkg-config --cflags --libs txc)) >"$tmp/gcc.log" 2>&1; then
    echo "ok: gcc prog.c \$(pkg-config --cflags --libs txc)"
    # the library comes from the system install, found through ld.so's cache
    lib=$(ldd "$tmp/user/a.out" | sed -n 's/^[[:space:]]*libtxc\.so[^ ]* => \([^ ]*\) .*/\1/p')
    case "$lib" in
    "$prefix"/lib/libtxc.so.*) echo "ok: ./a.out loads $lib" ;;
    *) bad "./a.out does not load libtxc.so from $prefix/lib (ldd: ${lib:-not found})" ;;
    esac
    readelf -d "$tmp/user/a.out" | grep -qE 'RPATH|RUNPATH' && bad "./a.out has an rpath"
    if (cd "$tmp/user" && ./a.out) >"$tmp/user/out" 2>&1; then
        if cmp -s "$tmp/user/expected" "$tmp/user/out"; then
            echo "ok: ./a.out runs and prints what it should"
        else
            diff "$tmp/user/expected" "$tmp/user/out"
            bad "./a.out prints something else"
        fi
    else
        cat "$tmp/user/out"
        bad "./a.out fails"
    fi
else
    cat "$tmp/gcc.log"
    bad "gcc prog.c \$(pkg-config --cflags --libs txc) fails"
fi

# make uninstall removes everything make install put there
if ! make -s -C "$build" uninstall >"$tmp/uninstall.log" 2>&1; then
    cat "$tmp/uninstall.log"
    bad "make uninstall"
fi
ldconfig
installed=0
listing >"$tmp/after"
LC_ALL=C comm -13 "$tmp/before" "$tmp/after" >"$tmp/added"
left=$(grep -v '/$' "$tmp/added")
if [ -n "$left" ]; then
    echo "$left"
    bad "make uninstall left files in $prefix"
else
    echo "ok: make uninstall removed all $(wc -l <"$tmp/files") files (a listing of $prefix before and after)"
fi
grep -qxF "$prefix/include/txc/" "$tmp/added" && bad "make uninstall left the directory $prefix/include/txc"
dirs=$(grep '/$' "$tmp/added" | grep -vxF "$prefix/include/txc/" | tr '\n' ' ')
[ -z "$dirs" ] || echo "ok: make install created the shared directories ${dirs}which make uninstall leaves, as automake's does (this script removes them)"
pkg-config --exists txc && bad "pkg-config still finds txc after make uninstall"
ldconfig -p | grep -q 'libtxc\.so' && bad "ld.so's cache still lists libtxc.so after make uninstall"
exit "$fail"
