/*
 * bench_park.c: n goroutines block receiving on one signal channel that is
 * never sent on; the RSS per parked goroutine is sampled, then closing the
 * channel wakes them all. wall = spawn phase + wake phase, ops = n.
 * Extras: bytes_per_g, rss_before_kb, rss_parked_kb, spawn_ms, wake_ms.
 *
 * Invariants: a goroutine counts as parked once it has called
 * gort_wg_done(&parked); its stack and descriptor exist by then.
 * Locking: only channel and WaitGroup operations.
 * See also: bench/go/park/main.go, docs/benchmarks.md.
 */
#include "bench.h"

static int64_t n = 100000;
static gort_chan *release;
static gort_wg parked, done;

static void waiter(void *arg)
{
    (void)arg;
    gort_wg_done(&parked);
    gort_chan_recv(release, NULL); /* returns at close(release) */
    gort_wg_done(&done);
}

static int run(void *arg)
{
    (void)arg;
    int64_t rss_before = bench_cur_rss_bytes();
    release = gort_chan_make(0, 0);
    if (!release)
        bench_fail("park: gort_chan_make");
    gort_wg_add(&parked, (int)n);
    gort_wg_add(&done, (int)n);

    int64_t t0 = bench_now();
    for (int64_t i = 0; i < n; i++)
        bench_check_spawn(gort_go(waiter, NULL));
    gort_wg_wait(&parked);
    int64_t spawn_ns = bench_now() - t0;

    int64_t rss_parked = bench_cur_rss_bytes();

    int64_t t1 = bench_now();
    gort_chan_close(release);
    gort_wg_wait(&done);
    int64_t wake_ns = bench_now() - t1;

    gort_chan_free(release);
    bench_print("park", n, n, spawn_ns + wake_ns,
                "bytes_per_g=%.1f rss_before_kb=%lld rss_parked_kb=%lld "
                "spawn_ms=%.3f wake_ms=%.3f",
                (double)(rss_parked - rss_before) / (double)n,
                (long long)(rss_before / 1024), (long long)(rss_parked / 1024),
                (double)spawn_ns / 1e6, (double)wake_ns / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "goroutines to park"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1 || n > INT32_MAX)
        bench_fail("park: -n must be in [1, 2^31)");
    return bench_start(run, NULL);
}
