/*
 * bench_mutex.c: g goroutines increment one shared int64 under one
 * gort_mutex (the goroutine-parking mutex, Go: sync.Mutex); goroutine i does
 * n*(i+1)/g - n*i/g increments. ops = n increments.
 *
 * Invariants: counter is only touched with mu held.
 * Locking: mu.
 * See also: bench/go/mutex/main.go, bench_atomic.c, docs/benchmarks.md.
 */
#include "bench.h"

static int64_t n = 10000000, g = 8;
static gort_mutex mu;
static int64_t counter; /* protected by mu */
static gort_wg wg;

static void worker(void *arg)
{
    int64_t k = *(const int64_t *)arg;
    for (int64_t j = 0; j < k; j++) {
        gort_mutex_lock(&mu);
        counter++;
        gort_mutex_unlock(&mu);
    }
    gort_wg_done(&wg);
}

static int run(void *arg)
{
    (void)arg;
    int64_t wall = bench_split_wait(&wg, n, g, worker);

    if (counter != n)
        bench_fail("mutex: counter=%lld want %lld", (long long)counter,
                   (long long)n);
    bench_print("mutex", n, n, wall, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    return bench_main_ng(argc, argv, "mutex", &n, &g, run);
}
