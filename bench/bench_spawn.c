/*
 * bench_spawn.c: spawn n goroutines that each do one atomic add and
 * gort_wg_done; the spawning loop runs in the root goroutine, which then
 * waits for all of them. ops = n (one goroutine created, run and exited).
 *
 * Invariants: wg counts the goroutines not yet finished.
 * Locking: counter is atomic; wg is gort's WaitGroup.
 * See also: bench/go/spawn/main.go, docs/benchmarks.md.
 */
#include <gort/atomic.h>

#include "bench.h"

static int64_t n = 1000000;
static int64_t counter; /* touched only through gort/atomic.h */
static gort_wg wg;

static void worker(void *arg)
{
    (void)arg;
    gort_atomic_add_int64(&counter, 1); /* Go: atomic.AddInt64 */
    gort_wg_done(&wg);
}

static int run(void *arg)
{
    (void)arg;
    int64_t wall = bench_spawn_wait(&wg, n, worker);

    if (gort_atomic_load_int64(&counter) != n)
        bench_fail("spawn: counter=%lld want %lld",
                   (long long)gort_atomic_load_int64(&counter), (long long)n);
    bench_print("spawn", n, n, wall, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "goroutines to spawn"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1 || n > INT32_MAX)
        bench_fail("spawn: -n must be in [1, 2^31)");
    return bench_start(run, NULL);
}
