/*
 * bench_select.c: one consumer does n 4-way select receives (no default)
 * over four unbuffered channels of int64, each fed by its own producer
 * sending [n*k/4, n*(k+1)/4). ops = n messages.
 *
 * Invariants: sum is written by the consumer alone, read after the join.
 * Locking: only channel and select operations.
 * See also: bench/go/select/main.go, docs/benchmarks.md.
 */
#include "bench.h"

enum { NCHAN = 4 };

struct feed {
    gort_chan *ch;
    int64_t lo, hi;
};

static int64_t n = 4000000;
static gort_chan *chs[NCHAN];
static gort_wg wg;
static int64_t sum;

static void consumer(void *arg)
{
    (void)arg;
    for (int64_t got = 0; got < n; got++) {
        int64_t v;
        /* Rebuilt each time, as Go's compiler builds the select's cases. */
        gort_select_case cases[NCHAN] = {
            GORT_RECV(chs[0], &v, NULL), GORT_RECV(chs[1], &v, NULL),
            GORT_RECV(chs[2], &v, NULL), GORT_RECV(chs[3], &v, NULL),
        };
        int i = gort_select(cases, NCHAN);
        if (i < 0)
            bench_fail("select: gort_select returned %d", i);
        sum += v;
    }
    gort_wg_done(&wg);
}

static void producer(void *arg)
{
    const struct feed *f = arg;
    for (int64_t v = f->lo; v < f->hi; v++)
        gort_chan_send(f->ch, &v);
    gort_wg_done(&wg);
}

static int run(void *arg)
{
    (void)arg;
    for (int i = 0; i < NCHAN; i++)
        if (!(chs[i] = gort_chan_make(sizeof(int64_t), 0)))
            bench_fail("select: gort_chan_make");

    int64_t t0 = bench_now();
    gort_wg_add(&wg, NCHAN + 1);
    bench_check_spawn(gort_go(consumer, NULL));
    for (int k = 0; k < NCHAN; k++) {
        struct feed f = {chs[k], n * k / NCHAN, n * (k + 1) / NCHAN};
        bench_check_spawn(gort_go_copy(producer, &f, sizeof f));
    }
    gort_wg_wait(&wg);
    int64_t wall = bench_now() - t0;

    for (int i = 0; i < NCHAN; i++)
        gort_chan_free(chs[i]);
    if (sum != n * (n - 1) / 2)
        bench_fail("select: sum=%lld want %lld", (long long)sum,
                   (long long)(n * (n - 1) / 2));
    bench_print("select", n, n, wall, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "messages in total"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1)
        bench_fail("select: -n must be >= 1");
    return bench_start(run, NULL);
}
