/*
 * bench_threadring.c: the Benchmarks Game thread-ring. ring goroutines
 * (ids 1..ring) linked by unbuffered channels pass a token that starts at
 * n and drops by one per pass; the one that receives 0 reports its id on
 * the result channel. Building the ring is not timed. ops = n passes.
 * Extras: result (361 for the default n = 10^7, ring = 503).
 *
 * Invariants: after j passes the token holds n-j at goroutine
 * (j mod ring)+1. The other ring-1 goroutines stay blocked when the root
 * returns; gort_run abandons them, as Go's main does, so their channels
 * are deliberately never freed.
 * Locking: only channel operations.
 * See also: bench/go/threadring/main.go, docs/benchmarks.md.
 */
#include "bench.h"

struct link {
    int id;
    gort_chan *in, *out, *result;
};

static int64_t n = 10000000, ring = 503;

static void worker(void *arg)
{
    const struct link *l = arg;
    for (;;) {
        int t;
        gort_chan_recv(l->in, &t);
        if (t == 0) {
            gort_chan_send(l->result, &l->id);
            return;
        }
        t--;
        gort_chan_send(l->out, &t);
    }
}

static int run(void *arg)
{
    gort_chan **chs = arg;
    for (int64_t i = 0; i < ring; i++)
        if (!(chs[i] = gort_chan_make(sizeof(int), 0)))
            bench_fail("threadring: gort_chan_make");
    gort_chan *result = gort_chan_make(sizeof(int), 0);
    if (!result)
        bench_fail("threadring: gort_chan_make");
    /* Goroutine id reads chs[id-1] and writes chs[id mod ring]. */
    for (int id = 1; id <= ring; id++) {
        struct link l = {id, chs[id - 1], chs[id % ring], result};
        bench_check_spawn(gort_go_copy(worker, &l, sizeof l));
    }

    int token = (int)n, winner;
    int64_t t0 = bench_now();
    gort_chan_send(chs[0], &token);
    gort_chan_recv(result, &winner);
    int64_t wall = bench_now() - t0;

    if (winner != n % ring + 1)
        bench_fail("threadring: result=%d want %lld", winner,
                   (long long)(n % ring + 1));
    bench_print("threadring", n, n, wall, "result=%d", winner);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "token passes"},
        {"ring", BENCH_INT, &ring, "goroutines in the ring"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1 || n > INT32_MAX || ring < 1 || ring > 1000000)
        bench_fail("threadring: need -n in [1, 2^31) and -ring in [1, 10^6]");
    gort_chan **chs = calloc((size_t)ring, sizeof *chs);
    if (!chs)
        bench_fail("threadring: out of memory");
    return bench_start(run, chs);
}
