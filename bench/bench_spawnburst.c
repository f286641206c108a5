/*
 * bench_spawnburst.c: a burst of spawns while every P computes (an accept
 * loop's shape under CPU load). W = 4 x procs workers (-w) compute as in
 * bench_schedlat.c: chunks of spin_kernel calibrated to ~50 us (-chunk),
 * each followed by one non-blocking channel operation on a shared
 * buffered channel (gort_chan_trysend on even chunks, gort_chan_tryrecv
 * on odd ones; Go: select with default) and a clock read. The root
 * sleeps until -delay (10 ms) after it began spawning them (the workers
 * own the Ps by then) and then spawns n short goroutines (-n, 100,000) back to back: for each
 * it reads the clock just before gort_go_copy and passes the reading (and
 * the child's index) by value; the child's first instruction reads the
 * clock again and stores the difference, its spawn latency. The last
 * child to finish reads the clock once more. The workers stop when the
 * burst is over, or at -cap (5 s) after they started, so a runtime that
 * never preempts them still ends (with a spawner that woke that late).
 *
 * Result: ops = n, wall = first spawn to the last child done (total).
 * Extras: p50_us, p99_us, max_us (nearest rank over the n spawn
 * latencies), spawner_late_us (how late the burst began, the root's
 * lateness for -delay: the total does not include it), capped (1 if
 * the burst ended after -cap, when the workers stop on their own: then it
 * ran partly or wholly without the load, and run.sh's verdicts for it
 * read "unloaded"), workers, chunk_iters, chunks (all workers' chunks:
 * the CPU work done).
 *
 * Invariants: child i writes lat[i] alone; `left` counts the children not
 * yet done and the one that takes it to 0 writes t_last before
 * gort_wg_done(&burst). The workers see `stop` only after the burst.
 * Locking: left, stop, chunks and mix are atomic; lat and t_last are read
 * after gort_wg_wait(&burst).
 * See also: bench/go/spawnburst/main.go, bench/spin.h,
 * bench/bench_schedlat.c, docs/benchmarks.md.
 */
#include <gort/atomic.h>

#include "spin.h"

struct spawn_arg {
    int64_t t_spawn;
    int64_t i;
};

static int64_t n = 100000, workers = 0, chunk_ns = 50000;
static int64_t delay_ns = 10000000, cap_ns = 5000000000; /* 10 ms, 5 s */
static int64_t chunk_iters, cap_deadline;
static gort_chan *ch;
static int64_t *lat, t_last;
/* touched only through gort/atomic.h: */
static int64_t left, chunks;
static int32_t stop;
static uint64_t mix; /* the workers' kernel results, kept alive */
static gort_wg wg, burst;

static void worker(void *arg)
{
    uint64_t x = (uint64_t)*(const int64_t *)arg + 1;
    int64_t c = 0;
    do {
        x = spin_kernel(x, chunk_iters);
        int64_t v = (int64_t)x;
        if (c & 1)
            gort_chan_tryrecv(ch, &v, NULL);
        else
            gort_chan_trysend(ch, &v);
        c++;
    } while (!gort_atomic_load_int32(&stop) && bench_now() < cap_deadline);
    gort_atomic_add_uint64(&mix, x);
    gort_atomic_add_int64(&chunks, c);
    gort_wg_done(&wg);
}

static void child(void *arg)
{
    int64_t t = bench_now();
    const struct spawn_arg *a = arg;
    lat[a->i] = t - a->t_spawn;
    if (gort_atomic_add_int64(&left, -1) == 0) {
        t_last = bench_now();
        gort_wg_done(&burst);
    }
}

static int run(void *arg)
{
    (void)arg;
    if (workers == 0)
        workers = 4 * (int64_t)gort_maxprocs(0);
    chunk_iters = spin_calibrate(chunk_ns);
    lat = malloc((size_t)n * sizeof *lat);
    ch = gort_chan_make(sizeof(int64_t), 64);
    if (!lat || !ch)
        bench_fail("spawnburst: out of memory");
    gort_atomic_store_int64(&left, n);

    int64_t t0 = bench_now(), want = t0 + delay_ns;
    cap_deadline = t0 + cap_ns;
    gort_wg_add(&wg, (int)workers);
    for (int64_t i = 0; i < workers; i++)
        bench_check_spawn(gort_go_copy(worker, &i, sizeof i));

    int64_t now = bench_now();
    if (now < want)
        gort_sleep(want - now);
    int64_t t_first = bench_now();
    gort_wg_add(&burst, 1);
    for (int64_t i = 0; i < n; i++) {
        struct spawn_arg a = {bench_now(), i};
        bench_check_spawn(gort_go_copy(child, &a, sizeof a));
    }
    gort_wg_wait(&burst);
    gort_atomic_store_int32(&stop, 1);
    gort_wg_wait(&wg);

    spin_sort(lat, n);
    bench_print("spawnburst", n, n, t_last - t_first,
                "p50_us=%.1f p99_us=%.1f max_us=%.1f spawner_late_us=%.1f "
                "capped=%d workers=%lld chunk_iters=%lld chunks=%lld",
                (double)spin_pct(lat, n, 50) / 1e3,
                (double)spin_pct(lat, n, 99) / 1e3,
                (double)lat[n - 1] / 1e3, (double)(t_first - want) / 1e3,
                t_last >= cap_deadline ? 1 : 0, (long long)workers,
                (long long)chunk_iters,
                (long long)gort_atomic_load_int64(&chunks));
    gort_chan_free(ch);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "goroutines spawned in the burst"},
        {"w", BENCH_INT, &workers, "computing workers (0: 4 x procs)"},
        {"chunk", BENCH_DURATION, &chunk_ns,
         "compute between channel operations (calibrated)"},
        {"delay", BENCH_DURATION, &delay_ns, "sleep before the burst"},
        {"cap", BENCH_DURATION, &cap_ns, "the workers stop by then anyway"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1 || n > INT32_MAX || workers < 0 || workers > INT32_MAX ||
        chunk_ns < 1 || delay_ns < 0 || cap_ns < 0)
        bench_fail("spawnburst: need -n in [1, 2^31), -w >= 0, -chunk > 0, "
                   "-delay >= 0, -cap >= 0");
    return bench_start(run, NULL);
}
