#!/usr/bin/env bash
# quickstart.sh        build txc, install it into ./_install, build the examples
#                      against the installed library with pkg-config, run the demo
# quickstart.sh check  the same set-up, then every example run and every test:
#                      the gcc build, a clang build and an AddressSanitizer+UBSan
#                      build, each with `make check`; the core suites with gcc
#                      and clang at -O0, -O1, -Os, -O3 and -std=gnu17 (gcc's
#                      -O1, -Os and -O3 with -DTXC_LIBC_SETJMP); an
#                      aarch64 cross build whose demos and cmocka suites run
#                      under qemu-user; the cmocka suites under valgrind, the
#                      thread tests under ThreadSanitizer and a short libFuzzer
#                      run of tests/fuzz_model (FUZZ_SECONDS, default 60);
#                      make distcheck; and, as root, a real install into
#                      /usr/local that a program then uses through pkg-config
#                      and ldconfig, and make uninstall removes again
#                      (tests/check-system-install.sh).  The last line counts
#                      the tests: `check: N passed, N failed`.
#
# As root it installs the Debian packages it needs with apt-get; otherwise it
# prints the apt-get line and stops.  The aarch64 step is optional: its cross
# tools, qemu-user and cmocka for arm64 (multiarch: it adds the arm64
# architecture to dpkg) are installed if they can be, and skipped if not.
set -euo pipefail
shopt -s nullglob
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
mode=${1:-demo}
case "$mode" in
demo | check) ;;
*) echo "usage: $0 [check]" >&2; exit 2 ;;
esac

jobs=$(nproc 2>/dev/null || echo 2)
prefix="$here/_install"

# ---- packages ----
packages=(autoconf automake libtool pkg-config make gcc g++ libcmocka-dev)
[ "$mode" = check ] && packages+=(clang groff-base) # groff: tests/check-man.sh
[ "$mode" = check ] && packages+=(valgrind) # make check-valgrind (issue 6); clang brings TSan and libFuzzer
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "== installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "missing packages; run:  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

# ---- build and install ----
build() { # dir, configure args...
    local dir=$1
    shift
    mkdir -p "$dir"
    (cd "$dir" && "$here/configure" --quiet "$@" && make -s -j"$jobs")
}

echo "== autoreconf"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
echo "== configure, make, make install (prefix $prefix)"
build _build --prefix="$prefix"
make -s -C _build install >/dev/null

# ---- examples, against the installed library ----
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
mkdir -p _build/examples
echo "== examples: cc \$(pkg-config --cflags --libs txc)"
for src in examples/*.c; do
    name=$(basename "$src" .c)
    # shellcheck disable=SC2046
    cc -std=gnu11 -Wall -Wextra -Werror -O2 -o "_build/examples/$name" "$src" $(pkg-config --cflags --libs txc)
done
run_example() {
    LD_LIBRARY_PATH="$prefix/lib" "_build/examples/$1" "${@:2}"
}

if [ "$mode" = demo ]; then
    echo "== demo: heaps, escape and an exception (examples/demo.c)"
    run_example demo
    echo "== demo: a bank ledger whose transfers run in transactions (examples/ledger.c)"
    run_example ledger
    exit 0
fi

# ---- check ----
echo "== examples run"
step_passed=0 step_failed=0
for src in examples/*.c; do # each finds its sample input from the top of the tree
    name=$(basename "$src" .c)
    if run_example "$name" >"_build/examples/$name.out" 2>&1; then
        echo "PASS: examples/$name"
        step_passed=$((step_passed + 1))
    else
        echo "FAIL: examples/$name (exit status $?)"
        tail -20 "_build/examples/$name.out"
        step_failed=$((step_failed + 1))
    fi
done
logs=()
check() { # dir, label[, make target and variables; default: check]
    local args=("${@:3}")
    ((${#args[@]})) || args=(check)
    echo "== make ${args[0]} ($2)"
    if ! make -s -C "$1" -j"$jobs" "${args[@]}" >"$1/check.out" 2>&1; then
        cat "$1/check.out"
        for f in "$1"/tests/*.log; do
            grep -q -E '^:test-result: (FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null && { echo "---- $f"; tail -50 "$f"; }
        done
        status=1
    fi
    grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS):' "$1/check.out" || true
    logs+=("$1"/tests/*.log)
}
status=0
[ "$step_failed" = 0 ] || status=1
check _build "gcc"
build _build-clang CC=clang CXX=clang++ --enable-debug
check _build-clang "clang, --enable-debug"
build _build-asan --enable-sanitizers --enable-debug --enable-fault-injection
check _build-asan "gcc, AddressSanitizer+UBSan, --enable-debug --enable-fault-injection"

# The optimisation levels where setjmp and volatile bite: the core suites
# built with gcc and clang at -O0, -O1, -Os and -O3 (-O2 is the builds
# above), and at -O2 with -std=gnu17.
matrix_tests="tests/test_heap tests/test_except tests/test_txn tests/test_names tests/test_list tests/test_dict tests/test_vec"
for cc in gcc clang; do
    for o in O0 O1 Os O3 gnu17; do
        dir=_build-$cc-$o
        cxx=g++
        [ "$cc" = clang ] && cxx=clang++
        flags="-g -$o"
        [ "$o" = gnu17 ] && flags="-g -O2 -std=gnu17" # later than the build's -std=gnu11
        # gcc's -Wclobbered speaks only where a try calls _setjmp: these
        # builds take that path (the others, __builtin_setjmp on x86-64)
        case "$cc-$o" in gcc-O1 | gcc-Os | gcc-O3) flags="$flags -DTXC_LIBC_SETJMP" ;; esac
        build "$dir" CC=$cc CXX=$cxx CFLAGS="$flags" --disable-shared
        echo "== make check ($cc $flags: the core suites)"
        if ! make -s -C "$dir" -j"$jobs" check TESTS="$matrix_tests" >"$dir/check.out" 2>&1; then
            cat "$dir/check.out"
            status=1
        fi
        grep -E '^(PASS|FAIL|ERROR):' "$dir/check.out" || true
        logs+=("$dir"/tests/*.log)
    done
done

# ---- aarch64: a cross build (-Werror), the demos and the cmocka suites under qemu-user ----
# Optional: skipped (not failed) when the cross tools cannot be installed.
# The suites need cmocka for arm64 (Debian multiarch: libcmocka-dev:arm64,
# after `dpkg --add-architecture arm64`); without it they are skipped.  They
# link it dynamically (Debian ships no static libcmocka), so they run on the
# multiarch libc6:arm64 that it brings (/lib/ld-linux-aarch64.so.1), never
# with `qemu-aarch64 -L /usr/aarch64-linux-gnu` (or QEMU_LD_PREFIX): that
# loads the cross sysroot's ld.so and then, through the host's ld.so.cache,
# the multiarch libc.so.6 of another Debian revision, a mismatched pair
# whose fork() children hang, and with them every death test.
unset QEMU_LD_PREFIX
if [ "$(id -u)" = 0 ]; then
    missing=()
    for p in gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if ((${#missing[@]})); then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null 2>&1 || true
    fi
    if command -v aarch64-linux-gnu-gcc >/dev/null && ! dpkg -s libcmocka-dev:arm64 >/dev/null 2>&1; then
        added_arm64=
        if ! dpkg --print-foreign-architectures | grep -qx arm64; then
            dpkg --add-architecture arm64 && added_arm64=1
        fi
        if ! { apt-get update -qq >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                libcmocka-dev:arm64 >/dev/null 2>&1; }; then
            # leave apt as it was: no arm64 lists to fetch on the next update
            if [ -n "$added_arm64" ] && dpkg --remove-architecture arm64 2>/dev/null; then
                apt-get update -qq >/dev/null 2>&1 || true
            fi
        fi
    fi
fi
if command -v aarch64-linux-gnu-gcc >/dev/null; then
    echo "== aarch64 cross build (gcc-aarch64-linux-gnu, -Werror)"
    mkdir -p _build-aarch64
    # pkg-config sees only arm64 packages: cmocka if libcmocka-dev:arm64 is there
    if (cd _build-aarch64 && "$here/configure" --quiet --host=aarch64-linux-gnu --disable-shared \
            CC=aarch64-linux-gnu-gcc PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig >/dev/null 2>&1 &&
        make -s -j"$jobs" >/dev/null 2>&1); then
        echo "PASS: aarch64 cross build"
        step_passed=$((step_passed + 1))
        if command -v qemu-aarch64 >/dev/null; then
            for name in demo ledger; do
                if aarch64-linux-gnu-gcc -std=gnu11 -Wall -Wextra -Werror -O2 -static -Iinclude \
                        -o "_build-aarch64/$name" "examples/$name.c" _build-aarch64/.libs/libtxc.a -lpthread &&
                    qemu-aarch64 "_build-aarch64/$name" >"_build-aarch64/$name.out" 2>&1 &&
                    cmp -s "_build-aarch64/$name.out" "_build/examples/$name.out"; then
                    echo "PASS: examples/$name on aarch64 (qemu-user), same output as on this machine"
                    step_passed=$((step_passed + 1))
                else
                    echo "FAIL: examples/$name on aarch64 (qemu-user)"
                    step_failed=$((step_failed + 1))
                    status=1
                fi
            done
            if grep -q '^CMOCKA_LIBS = .*-lcmocka' _build-aarch64/Makefile; then # configure found cmocka
                # every cmocka suite of this configuration, each run as
                # `timeout 300 qemu-aarch64 tests/test_X` by the test driver
                check _build-aarch64 "aarch64: every cmocka suite under qemu-user" \
                    check 'TESTS=$(check_PROGRAMS)' "LOG_COMPILER=timeout 300 qemu-aarch64"
            else
                echo "SKIP: the cmocka suites on aarch64 (no cmocka for arm64: apt-get install libcmocka-dev:arm64)"
            fi
        else
            echo "SKIP: the demos and suites on aarch64 (no qemu-aarch64: apt-get install qemu-user)"
        fi
    else
        echo "FAIL: aarch64 cross build"
        step_failed=$((step_failed + 1))
        status=1
    fi
else
    echo "SKIP: aarch64 (no aarch64-linux-gnu-gcc: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)"
fi

# ---- reliability (issue 6): valgrind, ThreadSanitizer, fuzzing ----
echo "== make check-valgrind (gcc build: every cmocka suite under valgrind memcheck)"
if ! make -s -C _build check-valgrind >_build/check-valgrind.out 2>&1; then
    cat _build/check-valgrind.out
    status=1
fi
grep -E '^(PASS|FAIL):' _build/check-valgrind.out || true
logs+=(_build/tests/*.vglog)
build _build-tsan CC=clang CXX=clang++ --enable-tsan
check _build-tsan "clang, ThreadSanitizer: the thread tests" check-tsan
build _build-fuzz CC=clang CXX=clang++ --enable-fuzzing --disable-shared
fuzz_seconds=${FUZZ_SECONDS:-60}
echo "== make fuzz (clang, libFuzzer+ASan+UBSan: tests/fuzz_model for $fuzz_seconds s)"
if make -s -C _build-fuzz fuzz FUZZ_SECONDS="$fuzz_seconds" >_build-fuzz/fuzz.out 2>&1; then
    echo "PASS: tests/fuzz_model ($(sed -n 's/^stat::number_of_executed_units: *//p' _build-fuzz/fuzz.out) runs," \
        "$(grep -o 'cov: [0-9]*' _build-fuzz/fuzz.out | tail -1))"
    step_passed=$((step_passed + 1))
else
    tail -60 _build-fuzz/fuzz.out
    echo "FAIL: tests/fuzz_model (the input is in _build-fuzz/fuzz-work/)"
    step_failed=$((step_failed + 1))
    status=1
fi

echo "== make distcheck (the tarball builds, checks, installs and uninstalls)"
if make -s -C _build -j"$jobs" distcheck >_build/distcheck.out 2>&1; then
    echo "PASS: make distcheck"
    step_passed=$((step_passed + 1))
else
    tail -40 _build/distcheck.out
    echo "FAIL: make distcheck"
    step_failed=$((step_failed + 1))
    status=1
fi

# ---- a literal system install (issue 7), as root only ----
echo "== system install: make install into /usr/local, ldconfig, gcc prog.c \$(pkg-config --cflags --libs txc), make uninstall"
rc=0
tests/check-system-install.sh _build-system >_build/system-install.out 2>&1 || rc=$?
case $rc in
0)
    echo "PASS: tests/check-system-install.sh"
    step_passed=$((step_passed + 1)) ;;
77) grep '^SKIP:' _build/system-install.out ;;
*)
    cat _build/system-install.out
    echo "FAIL: tests/check-system-install.sh"
    step_failed=$((step_failed + 1))
    status=1 ;;
esac

passed=$step_passed failed=$step_failed
for f in "${logs[@]}"; do
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$f" | tail -1)
    q=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$f" | tail -1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${q:-0}))
    case "$f" in *.sh.log)
        grep -q '^:test-result: PASS' "${f%.log}.trs" 2>/dev/null && passed=$((passed + 1))
        grep -q -E '^:test-result: (FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null && failed=$((failed + 1)) ;;
    esac
done
[ "$status" = 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "check: $passed passed, $failed failed"
exit "$status"
