/*
 * bench_skynet.c: a div-ary tree of goroutines over n leaves. Leaves send
 * their number; an inner node receives div values on its own unbuffered
 * channel, sums them and sends the sum up. ops = every goroutine of the
 * tree, root included (1,111,111 for n = 10^6). Extras: result.
 *
 * Invariants: an inner node frees its children channel only after it has
 * received all div values, so no goroutine is still blocked on it.
 * Locking: only channel operations.
 * See also: bench/go/skynet/main.go, docs/benchmarks.md.
 */
#include "bench.h"

struct node {
    gort_chan *out;
    int64_t num, size, div;
};

static int64_t n = 1000000, div_ = 10;

static void skynet(void *arg)
{
    const struct node *a = arg; /* lives on this goroutine's stack */
    if (a->size == 1) {
        gort_chan_send(a->out, &a->num);
        return;
    }
    gort_chan *children = gort_chan_make(sizeof(int64_t), 0);
    if (!children)
        bench_fail("skynet: gort_chan_make");
    int64_t step = a->size / a->div;
    for (int64_t i = 0; i < a->div; i++) {
        struct node child = {children, a->num + i * step, step, a->div};
        bench_check_spawn(gort_go_copy(skynet, &child, sizeof child));
    }
    int64_t sum = 0;
    for (int64_t i = 0; i < a->div; i++) {
        int64_t v;
        gort_chan_recv(children, &v);
        sum += v;
    }
    gort_chan_free(children);
    gort_chan_send(a->out, &sum);
}

static int run(void *arg)
{
    int64_t ops = *(int64_t *)arg;
    int64_t t0 = bench_now();
    gort_chan *out = gort_chan_make(sizeof(int64_t), 0);
    if (!out)
        bench_fail("skynet: gort_chan_make");
    struct node root = {out, 0, n, div_};
    bench_check_spawn(gort_go_copy(skynet, &root, sizeof root));
    int64_t result;
    gort_chan_recv(out, &result);
    int64_t wall = bench_now() - t0;

    gort_chan_free(out);
    if (result != n * (n - 1) / 2)
        bench_fail("skynet: result=%lld want %lld", (long long)result,
                   (long long)(n * (n - 1) / 2));
    bench_print("skynet", n, ops, wall, "result=%lld", (long long)result);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "leaves (a power of -div)"},
        {"div", BENCH_INT, &div_, "children per inner node"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (div_ < 2)
        bench_fail("skynet: -div must be >= 2");
    /* ops: every goroutine of the tree, root included. */
    int64_t ops = 0;
    for (int64_t level = n;; level /= div_) {
        ops += level;
        if (level == 1)
            break;
        if (level < 1 || level % div_ != 0)
            bench_fail("skynet: -n %lld is not a power of %lld",
                       (long long)n, (long long)div_);
    }
    return bench_start(run, &ops);
}
