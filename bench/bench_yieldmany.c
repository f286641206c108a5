/*
 * bench_yieldmany.c: n goroutines each call gort_yield (Go:
 * runtime.Gosched) k times; the root spawns them all, then waits. With
 * n = 100,000 the runnable set is far larger than a P's local run queue,
 * so this is the yield path under an overflowing queue (the yield row has
 * only two goroutines). ops = n*k yields; the timed region includes the n
 * spawns and exits (about 1/k of the operations).
 *
 * Invariants: every goroutine yields exactly k times before gort_wg_done;
 * yields counts them all (checked).
 * Locking: yields is atomic; wg is gort's WaitGroup.
 * See also: bench/go/yieldmany/main.go, bench/bench_yield.c,
 * docs/benchmarks.md.
 */
#include <gort/atomic.h>

#include "bench.h"

static int64_t n = 1000, k = 100;
static int64_t yields; /* touched only through gort/atomic.h */
static gort_wg wg;

static void yielder(void *arg)
{
    (void)arg;
    for (int64_t i = 0; i < k; i++)
        gort_yield();
    gort_atomic_add_int64(&yields, k);
    gort_wg_done(&wg);
}

static int run(void *arg)
{
    (void)arg;
    int64_t wall = bench_spawn_wait(&wg, n, yielder);

    if (gort_atomic_load_int64(&yields) != n * k)
        bench_fail("yieldmany: yields=%lld want %lld",
                   (long long)gort_atomic_load_int64(&yields),
                   (long long)(n * k));
    bench_print("yieldmany", n, n * k, wall, "yields_per_g=%lld",
                (long long)k);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "goroutines"},
        {"k", BENCH_INT, &k, "gort_yield calls per goroutine"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1 || n > INT32_MAX || k < 1)
        bench_fail("yieldmany: need -n in [1, 2^31) and -k >= 1");
    return bench_start(run, NULL);
}
