/*
 * spin.h: the compute kernel and latency statistics the CPU-load
 * workloads share (schedlat, hog, spawnburst; the http example's -work-us
 * has its own copy of the kernel):
 *
 *   spin_kernel(x, k)    k rounds of a dependent 64-bit xorshift-multiply
 *                        chain; no memory, no calls, nothing a compiler
 *                        can fold or vectorize (each round needs the last)
 *   spin_calibrate(ns)   the k for which spin_kernel takes about ns here
 *   spin_pct(s, n, p)    nearest-rank percentile p of n sorted samples
 *
 * Go twin: bench/go/internal/spin (the same kernel, calibration and
 * percentile, statement for statement). Both sides calibrate at start-up,
 * outside the timed region, so a "chunk" is about the same time on both
 * whatever each compiler makes of the loop; the k found is printed as
 * chunk_iters in the result line.
 *
 * Invariants: spin_kernel never calls anything (not the runtime, not
 * libc): a goroutine inside it can only be preempted asynchronously.
 * Locking: none; spin_calibrate runs in the root goroutine, before any
 * other goroutine exists.
 * See also: bench/bench_schedlat.c (schedlat and hog),
 * bench/bench_spawnburst.c, docs/benchmarks.md.
 */
#ifndef GORT_BENCH_SPIN_H
#define GORT_BENCH_SPIN_H

#include "bench.h"

/* spin_sink keeps every kernel result alive. */
static volatile uint64_t spin_sink;

static inline uint64_t spin_kernel(uint64_t x, int64_t k)
{
    for (int64_t i = 0; i < k; i++) {
        x ^= x >> 31;
        x *= 0x9E3779B97F4A7C15ull;
        x += (uint64_t)i;
    }
    return x;
}

/* spin_calibrate doubles k until one kernel run takes >= 2 ms, then takes
 * the fastest of 5 runs at that k (the machine is shared) and scales k to
 * target_ns. Returns at least 1. Takes about 20 ms. */
static inline int64_t spin_calibrate(int64_t target_ns)
{
    uint64_t x = 1;
    int64_t k = 1024, el;
    for (;;) {
        int64_t t = bench_now();
        x = spin_kernel(x, k);
        el = bench_now() - t;
        if (el >= 2000000)
            break;
        k *= 2;
    }
    for (int r = 0; r < 5; r++) {
        int64_t t = bench_now();
        x = spin_kernel(x, k);
        int64_t e = bench_now() - t;
        if (e < el)
            el = e;
    }
    spin_sink = x;
    int64_t iters = (int64_t)((double)k * (double)target_ns / (double)el);
    return iters < 1 ? 1 : iters;
}

static int spin_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* spin_sort sorts n int64 samples ascending. */
static inline void spin_sort(int64_t *s, int64_t n)
{
    qsort(s, (size_t)n, sizeof *s, spin_cmp_i64);
}

/* spin_pct is the nearest-rank percentile: s[ceil(p*n/100) - 1] of the
 * sorted s; 0 when n is 0. */
static inline int64_t spin_pct(const int64_t *s, int64_t n, int p)
{
    if (n <= 0)
        return 0;
    int64_t i = (p * n + 99) / 100 - 1;
    return s[i < 0 ? 0 : i];
}

#endif /* GORT_BENCH_SPIN_H */
