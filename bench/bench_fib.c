/*
 * bench_fib.c: fib(m) where every call with m >= cutoff computes fib(m-1)
 * in a new goroutine (result through a 1-slot channel) and fib(m-2)
 * itself; smaller calls recurse serially. The root call runs in the root
 * goroutine. ops = goroutines spawned: s(m) = 0 for m < cutoff, else
 * 1 + s(m-1) + s(m-2) (1,346,268 for fib(32), cutoff 4). Extras: result,
 * cutoff.
 *
 * Invariants: a caller frees its channel after receiving the one value;
 * the child has finished with the channel once its send returned.
 * Locking: only channel operations.
 * See also: bench/go/fib/main.go, docs/benchmarks.md.
 */
#include "bench.h"

struct call {
    int m, cutoff;
    gort_chan *ch;
};

static int64_t n = 32, cutoff = 4;

static int64_t fib_serial(int m)
{
    return m < 2 ? m : fib_serial(m - 1) + fib_serial(m - 2);
}

static int64_t fib(int m, int cut);

static void child(void *arg)
{
    const struct call *c = arg;
    int64_t v = fib(c->m, c->cutoff);
    gort_chan_send(c->ch, &v);
}

static int64_t fib(int m, int cut)
{
    if (m < cut)
        return fib_serial(m);
    struct call c = {m - 1, cut, gort_chan_make(sizeof(int64_t), 1)};
    if (!c.ch)
        bench_fail("fib: gort_chan_make");
    bench_check_spawn(gort_go_copy(child, &c, sizeof c));
    int64_t y = fib(m - 2, cut), x;
    gort_chan_recv(c.ch, &x);
    gort_chan_free(c.ch);
    return x + y;
}

static int run(void *arg)
{
    (void)arg;
    /* Expected value and goroutine count, not timed. */
    int64_t f[94] = {0, 1}, s[94] = {0};
    for (int m = 2; m <= n; m++) {
        f[m] = f[m - 1] + f[m - 2];
        s[m] = m >= cutoff ? 1 + s[m - 1] + s[m - 2] : 0;
    }

    int64_t t0 = bench_now();
    int64_t result = fib((int)n, (int)cutoff);
    int64_t wall = bench_now() - t0;

    if (result != f[n])
        bench_fail("fib: result=%lld want %lld", (long long)result,
                   (long long)f[n]);
    int64_t ops = s[n] > 0 ? s[n] : 1;
    bench_print("fib", n, ops, wall, "result=%lld cutoff=%lld",
                (long long)result, (long long)cutoff);
    return 0;
}

int main(int argc, char **argv)
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, &n, "fib argument"},
        {"cutoff", BENCH_INT, &cutoff,
         "calls with argument >= cutoff spawn (>= 2)"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (cutoff < 2 || n < 0 || n > 92)
        bench_fail("fib: need -cutoff >= 2 and -n in [0, 92]");
    return bench_start(run, NULL);
}
