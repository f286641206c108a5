/*
 * bench_pingpong.c: a pinger and a ponger bounce an int over two
 * unbuffered channels, n round trips. ops = n.
 *
 * Invariants: the pinger's i-th reply must be i.
 * Locking: only channel operations; bad is written by the pinger alone and
 * read after gort_wg_wait.
 * See also: bench/go/pingpong/main.go, docs/benchmarks.md.
 */
#include "bench.h"

static int64_t n = 1000000;
static gort_chan *ping, *pong;
static gort_wg wg;
static int64_t bad;

static void pinger(void *arg)
{
    (void)arg;
    for (int i = 0; i < n; i++) {
        int v;
        gort_chan_send(ping, &i);
        gort_chan_recv(pong, &v);
        if (v != i)
            bad++;
    }
    gort_wg_done(&wg);
}

static void ponger(void *arg)
{
    (void)arg;
    for (int i = 0; i < n; i++) {
        int v;
        gort_chan_recv(ping, &v);
        gort_chan_send(pong, &v);
    }
    gort_wg_done(&wg);
}

static int run(void *arg)
{
    (void)arg;
    ping = gort_chan_make(sizeof(int), 0);
    pong = gort_chan_make(sizeof(int), 0);
    if (!ping || !pong)
        bench_fail("pingpong: gort_chan_make");

    int64_t t0 = bench_now();
    gort_wg_add(&wg, 2);
    bench_check_spawn(gort_go(pinger, NULL));
    bench_check_spawn(gort_go(ponger, NULL));
    gort_wg_wait(&wg);
    int64_t wall = bench_now() - t0;

    gort_chan_free(ping);
    gort_chan_free(pong);
    if (bad != 0)
        bench_fail("pingpong: %lld wrong replies", (long long)bad);
    bench_print("pingpong", n, n, wall, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "round trips"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1 || n > INT32_MAX)
        bench_fail("pingpong: -n must be in [1, 2^31)");
    return bench_start(run, NULL);
}
