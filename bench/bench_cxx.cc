/*
 * bench_cxx.cc - the C++ peer of bench_txc's throw figure: throw and catch
 * through depth noinline frames, built by g++ and linked into bench_txc so
 * that both are measured in the same process run.
 */
#include <stdexcept>

extern "C" long bench_cxx_throw(long n, int depth);

namespace {

__attribute__((noinline)) void rec(int d)
{
    if (d == 1)
        throw std::runtime_error("boom");
    rec(d - 1);
    __asm__ volatile(""); // no tail call: every frame stays
}

} // namespace

extern "C" long bench_cxx_throw(long n, int depth)
{
    long caught = 0;
    for (long i = 0; i < n; i++) {
        try {
            rec(depth);
        } catch (const std::exception& e) {
            __asm__ volatile("" : : "r"(e.what()) : "memory");
            caught++;
        }
    }
    return caught;
}
