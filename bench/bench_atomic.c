/*
 * bench_atomic.c: g goroutines increment one shared int64 with an atomic
 * add (Go: atomic.AddInt64, a sequentially consistent LOCK XADD);
 * goroutine i does n*(i+1)/g - n*i/g increments. ops = n increments.
 *
 * Invariants: counter is only touched atomically.
 * Locking: none.
 * See also: bench/go/atomic/main.go, bench_mutex.c, docs/benchmarks.md.
 */
#include <gort/atomic.h>

#include "bench.h"

static int64_t n = 10000000, g = 8;
static int64_t counter; /* touched only through gort/atomic.h */
static gort_wg wg;

static void worker(void *arg)
{
    int64_t k = *(const int64_t *)arg;
    for (int64_t j = 0; j < k; j++)
        gort_atomic_add_int64(&counter, 1); /* Go: atomic.AddInt64 */
    gort_wg_done(&wg);
}

static int run(void *arg)
{
    (void)arg;
    int64_t wall = bench_split_wait(&wg, n, g, worker);

    int64_t got = gort_atomic_load_int64(&counter);
    if (got != n)
        bench_fail("atomic: counter=%lld want %lld", (long long)got,
                   (long long)n);
    bench_print("atomic", n, n, wall, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    return bench_main_ng(argc, argv, "atomic", &n, &g, run);
}
