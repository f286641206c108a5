/*
 * bench_chanmpmc.c: p producers and c consumers share one buffered channel
 * of int64 (capacity 1024). Producer k sends [n*k/p, n*(k+1)/p) in order;
 * the root waits for the producers, closes the channel and waits for the
 * consumers. ops = n messages.
 *
 * Invariants: each consumer writes only its own slot of sums, read after
 * gort_wg_wait(&consumers).
 * Locking: only channel and WaitGroup operations.
 * See also: bench/go/chanmpmc/main.go, docs/benchmarks.md.
 */
#include "bench.h"

struct range {
    int64_t lo, hi;
};

static int64_t n = 10000000, np = 4, nc = 4, cap_ = 1024;
static gort_chan *ch;
static gort_wg producers, consumers;

static void consumer(void *arg)
{
    int64_t *slot = *(int64_t **)arg;
    int64_t sum = 0, v;
    while (gort_chan_recv(ch, &v)) /* Go: for v := range ch */
        sum += v;
    *slot = sum;
    gort_wg_done(&consumers);
}

static void producer(void *arg)
{
    const struct range *r = arg;
    for (int64_t v = r->lo; v < r->hi; v++)
        gort_chan_send(ch, &v);
    gort_wg_done(&producers);
}

static int run(void *arg)
{
    int64_t *sums = arg;
    ch = gort_chan_make(sizeof(int64_t), (size_t)cap_);
    if (!ch)
        bench_fail("chanmpmc: gort_chan_make");

    int64_t t0 = bench_now();
    gort_wg_add(&consumers, (int)nc);
    for (int64_t c = 0; c < nc; c++) {
        int64_t *slot = &sums[c];
        bench_check_spawn(gort_go_copy(consumer, &slot, sizeof slot));
    }
    gort_wg_add(&producers, (int)np);
    for (int64_t k = 0; k < np; k++) {
        struct range r = {n * k / np, n * (k + 1) / np};
        bench_check_spawn(gort_go_copy(producer, &r, sizeof r));
    }
    gort_wg_wait(&producers);
    gort_chan_close(ch);
    gort_wg_wait(&consumers);
    int64_t wall = bench_now() - t0;

    gort_chan_free(ch);
    int64_t total = 0;
    for (int64_t c = 0; c < nc; c++)
        total += sums[c];
    if (total != n * (n - 1) / 2)
        bench_fail("chanmpmc: sum=%lld want %lld", (long long)total,
                   (long long)(n * (n - 1) / 2));
    bench_print("chanmpmc", n, n, wall, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "messages in total"},
        {"p", BENCH_INT, &np, "producers"},
        {"c", BENCH_INT, &nc, "consumers"},
        {"cap", BENCH_INT, &cap_, "channel capacity"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (n < 1 || np < 1 || nc < 1 || np > INT32_MAX || nc > INT32_MAX ||
        cap_ < 0)
        bench_fail("chanmpmc: need -n, -p, -c >= 1 and -cap >= 0");
    int64_t *sums = calloc((size_t)nc, sizeof *sums);
    if (!sums)
        bench_fail("chanmpmc: out of memory");
    int rc = bench_start(run, sums);
    free(sums);
    return rc;
}
