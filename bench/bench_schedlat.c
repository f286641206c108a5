/*
 * bench_schedlat.c: timer wake-up lateness under CPU load that reaches a
 * preemption point every ~50 us (the schedlat row), or never (-hog 1, the
 * hog row). For a window of n ms, W = 4 x procs workers (-w) compute in
 * chunks of spin_kernel calibrated to ~50 us (-chunk), and after each
 * chunk make one non-blocking channel operation on a shared buffered
 * channel (even chunks gort_chan_trysend, odd ones gort_chan_tryrecv; Go:
 * select with default; none with -hog) and read the clock (bench_now:
 * clock_gettime from libc, not a gort call; Go: runtime.nanotime by
 * go:linkname, which is nosplit, so not a preemption point, unlike
 * time.Now); they stop at the window's end. With -hog a worker can only
 * lose its P to asynchronous preemption: run.sh runs gort with
 * GORT_DEBUG=asyncpreempt=1 (Go preempts asynchronously by default);
 * without it the row still ends after n ms, with lateness about the
 * window itself. Meanwhile one sleeper loops on
 * gort_sleep(1ms) (Go: time.Sleep) and records, per sleep, lateness =
 * wake time - (time before the call + 1 ms). The sleeper stops after the
 * first wake-up past the window's end, so every sample was taken under
 * load (at least one is).
 *
 * Result: ops = samples, n = window in ms (samples ~ n when wake-ups are
 * on time). Extras: p50_us, p99_us, max_us (nearest rank over all the
 * run's samples), samples, workers, chunk_iters (the calibrated kernel
 * size), chunks (all workers' chunks: the CPU work done).
 *
 * Invariants: the window's deadline is fixed before any goroutine starts;
 * the sleeper has started (and so holds its first sleep's start time)
 * before the workers are spawned. A worker runs at least one chunk.
 * Locking: lat/nlat are written by the sleeper alone and read after
 * gort_wg_wait; chunks and mix are atomic.
 * See also: bench/go/schedlat/main.go, bench/spin.h, docs/benchmarks.md.
 */
#include <gort/atomic.h>

#include "spin.h"

static int64_t n = 2000, workers = 0, chunk_ns = 50000, hog = 0;
static int64_t sleep_ns = 1000000; /* 1 ms */
static int64_t chunk_iters, deadline;
static gort_chan *ch;
static int64_t *lat, nlat, cap_lat;
static int64_t chunks; /* these two: only through gort/atomic.h */
static uint64_t mix;   /* the workers' kernel results, kept alive */
static gort_wg wg, sleeper_started;

static void worker(void *arg)
{
    uint64_t x = (uint64_t)*(const int64_t *)arg + 1;
    int64_t c = 0;
    do {
        x = spin_kernel(x, chunk_iters);
        int64_t v = (int64_t)x;
        if (!hog && (c & 1))
            gort_chan_tryrecv(ch, &v, NULL);
        else if (!hog)
            gort_chan_trysend(ch, &v);
        c++;
    } while (bench_now() < deadline);
    gort_atomic_add_uint64(&mix, x);
    gort_atomic_add_int64(&chunks, c);
    gort_wg_done(&wg);
}

static void sleeper(void *arg)
{
    (void)arg;
    gort_wg_done(&sleeper_started);
    do {
        int64_t want = bench_now() + sleep_ns;
        gort_sleep(sleep_ns);
        int64_t late = bench_now() - want;
        if (nlat < cap_lat)
            lat[nlat++] = late;
    } while (bench_now() < deadline);
    gort_wg_done(&wg);
}

static int run(void *arg)
{
    (void)arg;
    if (workers == 0)
        workers = 4 * (int64_t)gort_maxprocs(0);
    chunk_iters = spin_calibrate(chunk_ns);
    cap_lat = n + 16; /* each sample takes >= 1 ms */
    lat = malloc((size_t)cap_lat * sizeof *lat);
    ch = gort_chan_make(sizeof(int64_t), 64);
    if (!lat || !ch)
        bench_fail("schedlat: out of memory");

    int64_t t0 = bench_now();
    deadline = t0 + n * 1000000;
    gort_wg_add(&wg, (int)workers + 1);
    gort_wg_add(&sleeper_started, 1);
    bench_check_spawn(gort_go(sleeper, NULL));
    gort_wg_wait(&sleeper_started);
    for (int64_t i = 0; i < workers; i++)
        bench_check_spawn(gort_go_copy(worker, &i, sizeof i));
    gort_wg_wait(&wg);
    int64_t wall = bench_now() - t0;

    spin_sort(lat, nlat);
    bench_print(hog ? "hog" : "schedlat", n, nlat, wall,
                "p50_us=%.1f p99_us=%.1f max_us=%.1f samples=%lld "
                "workers=%lld chunk_iters=%lld chunks=%lld",
                (double)spin_pct(lat, nlat, 50) / 1e3,
                (double)spin_pct(lat, nlat, 99) / 1e3,
                (double)lat[nlat - 1] / 1e3, (long long)nlat,
                (long long)workers, (long long)chunk_iters,
                (long long)gort_atomic_load_int64(&chunks));
    gort_chan_free(ch);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "window in ms (the sleeper's 1 ms sleeps)"},
        {"w", BENCH_INT, &workers, "computing workers (0: 4 x procs)"},
        {"chunk", BENCH_DURATION, &chunk_ns,
         "compute between channel operations (calibrated)"},
        {"hog", BENCH_INT, &hog,
         "1: no channel operation, the loops never call gort (the hog row)"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1 || workers < 0 || workers > INT32_MAX - 1 || chunk_ns < 1 ||
        (hog != 0 && hog != 1))
        bench_fail("schedlat: need -n >= 1, -w >= 0, -chunk > 0, -hog 0|1");
    return bench_start(run, NULL);
}
