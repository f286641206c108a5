/*
 * bench_sleep.c: n goroutines each call gort_sleep(d) k times (the
 * runtime's timer sleep, which parks the goroutine; Go: time.Sleep).
 * ops = n*k sleeps. Extras: overhead_ms = wall_ms - k*d, sleeps_per_g,
 * sleep_us.
 *
 * Invariants: none beyond the join.
 * Locking: none.
 * See also: bench/go/sleep/main.go, docs/benchmarks.md.
 */
#include "bench.h"

static int64_t n = 100000, k = 10, d = 1000000; /* d: 1ms */
static gort_wg wg;

static void sleeper(void *arg)
{
    (void)arg;
    for (int64_t j = 0; j < k; j++)
        gort_sleep(d);
    gort_wg_done(&wg);
}

static int run(void *arg)
{
    (void)arg;
    int64_t wall = bench_spawn_wait(&wg, n, sleeper);

    bench_print("sleep", n, n * k, wall,
                "overhead_ms=%.3f sleeps_per_g=%lld sleep_us=%lld",
                (double)(wall - k * d) / 1e6, (long long)k,
                (long long)(d / 1000));
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "goroutines"},
        {"k", BENCH_INT, &k, "sleeps per goroutine"},
        {"d", BENCH_DURATION, &d, "one sleep (Go duration: 1ms, 500us)"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1 || n > INT32_MAX || k < 1 || d < 0)
        bench_fail("sleep: need -n >= 1, -k >= 1, -d >= 0");
    return bench_start(run, NULL);
}
