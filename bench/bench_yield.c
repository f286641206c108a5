/*
 * bench_yield.c: two goroutines call gort_yield (Go: runtime.Gosched) n
 * times each. ops = 2n.
 *
 * Invariants: none beyond the join.
 * Locking: none.
 * See also: bench/go/yield/main.go, docs/benchmarks.md.
 */
#include "bench.h"

enum { YIELDERS = 2 };

static int64_t n = 1000000;
static gort_wg wg;

static void yielder(void *arg)
{
    (void)arg;
    for (int64_t i = 0; i < n; i++)
        gort_yield();
    gort_wg_done(&wg);
}

static int run(void *arg)
{
    (void)arg;
    int64_t t0 = bench_now();
    gort_wg_add(&wg, YIELDERS);
    for (int g = 0; g < YIELDERS; g++)
        bench_check_spawn(gort_go(yielder, NULL));
    gort_wg_wait(&wg);
    int64_t wall = bench_now() - t0;

    bench_print("yield", n, YIELDERS * n, wall, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "gort_yield calls per goroutine"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1)
        bench_fail("yield: -n must be >= 1");
    return bench_start(run, NULL);
}
