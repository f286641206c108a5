/*
 * bench_alive.c: n goroutines spin on gort_yield until released. The
 * root spawns n goroutines that each mark themselves started (gort_wg_done
 * on `started`) and then loop on gort_yield until `release` is set; it
 * waits until all have started, sets `release`, and waits for all to
 * finish. wall = spawn + start phase + drain phase, ops = n, so ns_per_op
 * is the time per goroutine (flat in n when the scheduler is linear).
 * Extras: start_ms (spawn until the last one started), drain_ms (release
 * until the last one finished), yields (all of them; how often each
 * goroutine ran while the n were alive).
 *
 * Invariants: a goroutine counts as started once it has called
 * gort_wg_done(&started); after that it yields until it sees release.
 * Locking: release and yields are atomic; started and done are
 * WaitGroups.
 * See also: bench/go/alive/main.go, docs/benchmarks.md.
 */
#include <gort/atomic.h>

#include "bench.h"

static int64_t n = 10000;
static int32_t release; /* touched only through gort/atomic.h */
static int64_t yields;
static gort_wg started, done;

static void spinner(void *arg)
{
    (void)arg;
    int64_t y = 0;
    gort_wg_done(&started);
    while (!gort_atomic_load_int32(&release)) {
        gort_yield();
        y++;
    }
    gort_atomic_add_int64(&yields, y);
    gort_wg_done(&done);
}

static int run(void *arg)
{
    (void)arg;
    gort_wg_add(&started, (int)n);
    gort_wg_add(&done, (int)n);

    int64_t t0 = bench_now();
    for (int64_t i = 0; i < n; i++)
        bench_check_spawn(gort_go(spinner, NULL));
    gort_wg_wait(&started);
    int64_t t1 = bench_now();
    gort_atomic_store_int32(&release, 1);
    gort_wg_wait(&done);
    int64_t t2 = bench_now();

    bench_print("alive", n, n, t2 - t0,
                "start_ms=%.3f drain_ms=%.3f yields=%lld",
                (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6,
                (long long)gort_atomic_load_int64(&yields));
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "goroutines"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1 || n > INT32_MAX)
        bench_fail("alive: -n must be in [1, 2^31)");
    return bench_start(run, NULL);
}
