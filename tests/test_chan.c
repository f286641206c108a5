/*
 * test_chan.c: channels: rendezvous, buffering, FIFO order, close, the
 * non-blocking forms, zero-size elements, NULL channels, reference counts,
 * Go's panics, and stress runs with more Ps than CPUs.
 *
 * Each test runs the runtime with gort_run. Goroutines never call
 * Criterion's asserts (those unwind the test's own thread): they record
 * the first failed CHECK, and the test asserts on it after gort_run
 * returns. Death tests run a scenario in a forked child and check its exit
 * status and stderr (tests/helpers/harness.h).
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gort.h>

#include "helpers/harness.h"

/* ---- Small helpers ------------------------------------------------------ */

/* done channel: each worker sends one token when it ends. */
static void wait_n(gort_chan *done, int n)
{
    for (int i = 0; i < n; i++)
        CHECK(gort_chan_recv(done, NULL));
}

/* ---- make, len, cap ----------------------------------------------------- */

static int make_limits_main(void *arg)
{
    (void)arg;
    CHECK(gort_chan_make(65536, 0) == NULL);
    CHECK(gort_chan_make(1 << 20, 1) == NULL);
    CHECK(gort_chan_make(8, SIZE_MAX / 4) == NULL);
    gort_chan *c = gort_chan_make(65535, 2);
    CHECK(c != NULL);
    CHECK_EQ(gort_chan_cap(c), 2);
    CHECK_EQ(gort_chan_len(c), 0);
    gort_chan_free(c);
    CHECK_EQ(gort_chan_len(NULL), 0);
    CHECK_EQ(gort_chan_cap(NULL), 0);
    return 0;
}

Test(chan, make_rejects_elements_of_64k_and_overflowing_sizes)
{
    run(1, make_limits_main, NULL);
}

/* ---- Unbuffered rendezvous ---------------------------------------------- */

struct rv {
    gort_chan *c;
    _Atomic int sent;
};

static void rv_sender(void *arg)
{
    struct rv *r = arg;
    int v = 42;
    gort_chan_send(r->c, &v);
    atomic_store(&r->sent, 1);
}

static int unbuffered_main(void *arg)
{
    (void)arg;
    struct rv r = {.c = gort_chan_make(sizeof(int), 0)};
    CHECK_EQ(gort_go(rv_sender, &r), 0);
    for (int i = 0; i < 100; i++)
        gort_yield();
    CHECK_EQ(atomic_load(&r.sent), 0); /* nobody received yet */
    int v = 0;
    CHECK(gort_chan_recv(r.c, &v));
    CHECK_EQ(v, 42);
    settle();
    CHECK_EQ(atomic_load(&r.sent), 1);
    gort_chan_free(r.c);
    return 0;
}

Test(chan, unbuffered_send_blocks_until_received)
{
    run(1, unbuffered_main, NULL);
}

Test(chan, unbuffered_send_blocks_until_received_8p)
{
    run(8, unbuffered_main, NULL);
}

/* ---- FIFO --------------------------------------------------------------- */

static int buffered_fifo_main(void *arg)
{
    (void)arg;
    enum { N = 100 };
    gort_chan *c = gort_chan_make(sizeof(long), N);
    for (long i = 0; i < N; i++) {
        gort_chan_send(c, &i);
        CHECK_EQ(gort_chan_len(c), i + 1);
    }
    CHECK(!gort_chan_trysend(c, &(long){-1}));
    for (long i = 0; i < N; i++) {
        long v = -1;
        CHECK(gort_chan_recv(c, &v));
        CHECK_EQ(v, i);
    }
    CHECK_EQ(gort_chan_len(c), 0);
    gort_chan_free(c);
    return 0;
}

Test(chan, buffered_values_come_out_in_send_order)
{
    run(1, buffered_fifo_main, NULL);
}

struct fifo {
    gort_chan *c;     /* the channel under test */
    gort_chan *ready; /* goroutine i announces itself just before parking */
    gort_chan *out;   /* receivers report (index, value) */
    int idx;
};

static void fifo_receiver(void *arg)
{
    struct fifo *f = arg;
    int idx = f->idx;
    gort_chan_send(f->ready, NULL);
    /* With one P nothing else runs until this goroutine parks below
     * (the send readied main into runnext), so goroutine i is queued
     * before goroutine i+1 starts. */
    int v = -1;
    CHECK(gort_chan_recv(f->c, &v));
    int rep[2] = {idx, v};
    gort_chan_send(f->out, rep);
}

static void fifo_sender(void *arg)
{
    struct fifo *f = arg;
    int idx = f->idx;
    gort_chan_send(f->ready, NULL);
    gort_chan_send(f->c, &idx);
    gort_chan_send(f->out, (int[2]){idx, idx});
}

/* sched_events counts what can reorder a queue being set up: time-slice
 * preemptions and hand-offs of a P stuck in the kernel. */
static uint64_t sched_events(void)
{
    gort_stats_t st;
    gort_stats(&st);
    return st.preempts + st.stuck_handoffs;
}

/* fifo_attempt queues N receivers, then N senders behind cap buffered
 * values, and checks that each queue is served in the order it was
 * filled. The order checks are made only when no preemption happened
 * while the queue was being filled (returns false then): a goroutine
 * whose slice ran out yields at its next channel call, before it queues,
 * and one round can outlast a 10 ms slice under a sanitizer on a loaded
 * machine even though each starts on a fresh slice. */
static bool fifo_attempt(size_t cap)
{
    enum { N = 50 };
    struct fifo f = {.c = gort_chan_make(sizeof(int), cap),
                     .ready = gort_chan_make(0, 0),
                     .out = gort_chan_make(2 * sizeof(int), N)};
    /* Receivers: queued in order 0..N-1, so value k goes to receiver k.
     * Each round starts with a yield so it runs on a fresh time slice. */
    uint64_t ev = sched_events();
    for (int i = 0; i < N; i++) {
        gort_yield();
        f.idx = i;
        CHECK_EQ(gort_go(fifo_receiver, &f), 0);
        CHECK(gort_chan_recv(f.ready, NULL));
    }
    bool ordered = sched_events() == ev;
    for (int i = 0; i < N; i++)
        gort_chan_send(f.c, &i);
    for (int i = 0; i < N; i++) {
        int rep[2];
        CHECK(gort_chan_recv(f.out, rep));
        if (ordered)
            CHECK_EQ(rep[0], rep[1]);
    }
    /* Senders: fill the buffer, then queue senders 0..N-1; values come out
     * as the buffered ones first, then the senders' in queue order. */
    for (size_t i = 0; i < cap; i++)
        gort_chan_send(f.c, &(int){-1});
    ev = sched_events();
    for (int i = 0; i < N; i++) {
        gort_yield();
        f.idx = i;
        CHECK_EQ(gort_go(fifo_sender, &f), 0);
        CHECK(gort_chan_recv(f.ready, NULL));
    }
    bool sorted = sched_events() == ev;
    for (size_t i = 0; i < cap; i++) {
        int v = 0;
        CHECK(gort_chan_recv(f.c, &v));
        CHECK_EQ(v, -1);
    }
    for (int i = 0; i < N; i++) {
        int v = -1;
        CHECK(gort_chan_recv(f.c, &v));
        if (sorted)
            CHECK_EQ(v, i);
    }
    wait_n(f.out, N);
    settle();
    gort_chan_free(f.c);
    gort_chan_free(f.ready);
    gort_chan_free(f.out);
    return ordered && sorted;
}

/* Up to ten attempts, until one ran undisturbed and so checked both
 * orders (the first one does, but on a machine too loaded to give a
 * goroutine 10 ms of CPU in a row). */
static int fifo_waiters_main(void *arg)
{
    size_t cap = (size_t)(uintptr_t)arg;
    bool checked = false;
    for (int attempt = 0; attempt < 10 && !checked; attempt++)
        checked = fifo_attempt(cap);
    CHECK(checked);
    return 0;
}

Test(chan, blocked_receivers_and_senders_are_served_in_fifo_order)
{
    run(1, fifo_waiters_main, (void *)(uintptr_t)0);
}

Test(chan, blocked_senders_follow_buffered_values_in_fifo_order)
{
    run(1, fifo_waiters_main, (void *)(uintptr_t)5);
}

/* ---- Prime sieve -------------------------------------------------------- */

struct filt {
    gort_chan *in, *out;
    int prime;
};

static void generate(void *arg)
{
    struct filt *f = arg;
    for (int i = 2; i <= f->prime; i++)
        gort_chan_send(f->out, &i);
    gort_chan_close(f->out);
}

static void filter(void *arg)
{
    struct filt f = *(struct filt *)arg;
    int v;
    while (gort_chan_recv(f.in, &v))
        if (v % f.prime != 0)
            gort_chan_send(f.out, &v);
    gort_chan_close(f.out);
    gort_chan_free(f.in);
}

static int sieve_main(void *arg)
{
    (void)arg;
    enum { NPRIMES = 1000, LIMIT = 7919 }; /* the 1000th prime is 7919 */
    static bool composite[LIMIT + 1];
    int want[NPRIMES], nw = 0;
    for (int i = 2; i <= LIMIT && nw < NPRIMES; i++) {
        if (composite[i])
            continue;
        want[nw++] = i;
        for (int j = i * i; j <= LIMIT; j += i)
            composite[j] = true;
    }
    CHECK_EQ(nw, NPRIMES);

    gort_chan *ch = gort_chan_make(sizeof(int), 0);
    struct filt g = {.out = ch, .prime = LIMIT};
    CHECK_EQ(gort_go(generate, &g), 0);
    for (int i = 0; i < NPRIMES; i++) {
        int p = 0;
        CHECK(gort_chan_recv(ch, &p));
        CHECK_EQ(p, want[i]);
        gort_chan *next = gort_chan_make(sizeof(int), 0);
        struct filt f = {.in = ch, .out = next, .prime = p};
        CHECK_EQ(gort_go_copy(filter, &f, sizeof f), 0);
        ch = next;
    }
    int v;
    CHECK(!gort_chan_recv(ch, &v)); /* nothing above 7919 up to 7919 */
    CHECK_EQ(v, 0);
    gort_chan_free(ch);
    settle();
    return 0;
}

Test(chan, prime_sieve_finds_the_first_1000_primes)
{
    run(1, sieve_main, NULL);
}

Test(chan, prime_sieve_finds_the_first_1000_primes_8p)
{
    run(8, sieve_main, NULL);
}

/* ---- Chain of goroutines ------------------------------------------------ */

static void whisper(void *arg)
{
    gort_chan **lr = arg;
    long v;
    CHECK(gort_chan_recv(lr[1], &v));
    v++;
    gort_chan_send(lr[0], &v);
    gort_chan_free(lr[1]);
}

static int chain_main(void *arg)
{
    (void)arg;
    const int n = SCALE(10000, 2000);
    gort_chan *leftmost = gort_chan_make(sizeof(long), 0);
    gort_chan *right = leftmost, *left = leftmost;
    for (int i = 0; i < n; i++) {
        right = gort_chan_make(sizeof(long), 0);
        CHECK(right != NULL);
        gort_chan *lr[2] = {left, gort_chan_retain(right)};
        CHECK_EQ(gort_go_copy(whisper, lr, sizeof lr), 0);
        if (left != leftmost)
            gort_chan_free(left);
        left = right;
    }
    long v = 1;
    gort_chan_send(right, &v);
    gort_chan_free(right);
    CHECK(gort_chan_recv(leftmost, &v));
    CHECK_EQ(v, n + 1);
    gort_chan_free(leftmost);
    settle();
    return 0;
}

Test(chan, chain_of_10000_goroutines_passes_one_value)
{
    run(1, chain_main, NULL);
}

Test(chan, chain_of_10000_goroutines_passes_one_value_8p)
{
    run(8, chain_main, NULL);
}

/* ---- Non-blocking forms ------------------------------------------------- */

static void nb_receiver(void *arg)
{
    gort_chan **cs = arg;
    int v = 0;
    CHECK(gort_chan_recv(cs[0], &v));
    gort_chan_send(cs[1], &v);
}

static void nb_sender(void *arg)
{
    gort_chan **cs = arg;
    int v = 7;
    gort_chan_send(cs[0], &v);
    gort_chan_send(cs[1], &v);
}

static int nonblock_main(void *arg)
{
    size_t cap = (size_t)(uintptr_t)arg;
    gort_chan *c = gort_chan_make(sizeof(int), cap);
    gort_chan *res = gort_chan_make(sizeof(int), 1);
    int v = 5;
    bool ok = true;

    /* Empty: tryrecv fails and leaves its outputs alone. */
    CHECK(!gort_chan_tryrecv(c, &v, &ok));
    CHECK_EQ(v, 5);
    CHECK(ok);
    if (cap == 1) {
        CHECK(gort_chan_trysend(c, &(int){1}));
        CHECK(!gort_chan_trysend(c, &(int){2})); /* full */
        CHECK(gort_chan_tryrecv(c, &v, &ok));
        CHECK(ok);
        CHECK_EQ(v, 1);
        CHECK(!gort_chan_tryrecv(c, &v, NULL));
    } else {
        CHECK(!gort_chan_trysend(c, &(int){1})); /* no receiver */
    }

    /* A parked receiver makes trysend succeed (cap 0: straight into it). */
    gort_chan *cs[2] = {c, res};
    CHECK_EQ(gort_go(nb_receiver, cs), 0);
    int tries = 0;
    while (!gort_chan_trysend(c, &(int){9}) && tries++ < 1000000)
        gort_yield();
    CHECK(gort_chan_recv(res, &v));
    CHECK_EQ(v, 9);

    /* A parked sender makes tryrecv succeed. */
    CHECK_EQ(gort_go(nb_sender, cs), 0);
    tries = 0;
    v = 0;
    while (!gort_chan_tryrecv(c, &v, &ok) && tries++ < 1000000)
        gort_yield();
    CHECK(ok);
    CHECK_EQ(v, 7);
    CHECK(gort_chan_recv(res, NULL));

    /* Closed: tryrecv completes with ok false and a zeroed value. */
    gort_chan_close(c);
    v = 3;
    ok = true;
    CHECK(gort_chan_tryrecv(c, &v, &ok));
    CHECK(!ok);
    CHECK_EQ(v, 0);

    /* NULL channel: never ready. */
    CHECK(!gort_chan_trysend(NULL, &v));
    CHECK(!gort_chan_tryrecv(NULL, &v, &ok));
    settle();
    gort_chan_free(c);
    gort_chan_free(res);
    return 0;
}

Test(chan, nonblocking_ops_on_unbuffered_channel)
{
    run(1, nonblock_main, (void *)(uintptr_t)0);
}

Test(chan, nonblocking_ops_on_capacity_1_channel)
{
    run(1, nonblock_main, (void *)(uintptr_t)1);
}

Test(chan, nonblocking_ops_on_unbuffered_channel_2p)
{
    run(2, nonblock_main, (void *)(uintptr_t)0);
}

Test(chan, nonblocking_ops_on_capacity_1_channel_8p)
{
    run(8, nonblock_main, (void *)(uintptr_t)1);
}

/* Non-blocking calls need no goroutine: before gort_run, on the test's
 * own thread. */
Test(chan, nonblocking_ops_and_close_work_outside_goroutines)
{
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    int v = 0;
    bool ok = false;
    cr_assert(gort_chan_trysend(c, &(int){4}));
    cr_assert(gort_chan_tryrecv(c, &v, &ok));
    cr_assert(ok);
    cr_assert(eq(int, v, 4));
    gort_chan_send(c, &(int){6}); /* buffer room: completes at once */
    cr_assert(gort_chan_recv(c, &v));
    cr_assert(eq(int, v, 6));
    gort_chan_close(c);
    cr_assert(not(gort_chan_recv(c, &v)));
    gort_chan_free(c);
}

/* ---- Multi-consumer ------------------------------------------------------ */

static const int mc_primes[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31};
#define MC_NP ((int)(sizeof mc_primes / sizeof mc_primes[0]))

struct mc {
    gort_chan *q, *r, *done;
    int niter, nwork;
    long expect;
};

static void mc_worker(void *arg)
{
    struct mc *m = ((void **)arg)[0];
    int w = (int)(intptr_t)((void **)arg)[1];
    int v;
    while (gort_chan_recv(m->q, &v)) {
        if (v == mc_primes[w % MC_NP]) /* disturb the FIFO-ish order */
            gort_yield();
        gort_chan_send(m->r, &v);
    }
    gort_chan_send(m->done, NULL);
}

static void mc_feeder(void *arg)
{
    struct mc *m = arg;
    long expect = 0;
    for (int i = 0; i < m->niter; i++) {
        int v = mc_primes[i % MC_NP];
        expect += v;
        gort_chan_send(m->q, &v);
    }
    m->expect = expect;
    gort_chan_close(m->q);
    wait_n(m->done, m->nwork);
    gort_chan_close(m->r);
}

static int multiconsumer_main(void *arg)
{
    (void)arg;
    struct mc m = {.nwork = 23, .niter = SCALE(271828, 50000)};
    m.q = gort_chan_make(sizeof(int), (size_t)m.nwork * 3);
    m.r = gort_chan_make(sizeof(int), (size_t)m.nwork * 3);
    m.done = gort_chan_make(0, 0);
    for (int i = 0; i < m.nwork; i++) {
        void *a[2] = {&m, (void *)(intptr_t)i};
        CHECK_EQ(gort_go_copy(mc_worker, a, sizeof a), 0);
    }
    CHECK_EQ(gort_go(mc_feeder, &m), 0);
    long n = 0, s = 0;
    int v;
    while (gort_chan_recv(m.r, &v)) {
        n++;
        s += v;
    }
    CHECK_EQ(n, m.niter);
    CHECK_EQ(s, m.expect);
    settle();
    gort_chan_free(m.q);
    gort_chan_free(m.r);
    gort_chan_free(m.done);
    return 0;
}

Test(chan, multiple_consumers_receive_every_item_once)
{
    run(2, multiconsumer_main, NULL);
}

Test(chan, multiple_consumers_receive_every_item_once_8p)
{
    run(8, multiconsumer_main, NULL);
}

/* ---- Close --------------------------------------------------------------- */

struct cl {
    gort_chan *c, *res;
};

static void cl_receiver(void *arg)
{
    struct cl *x = arg;
    long v = 99;
    bool got = gort_chan_recv(x->c, &v);
    long rep = got ? v : (v == 0 ? -1 : -2); /* -2: not zeroed */
    gort_chan_send(x->res, &rep);
}

static int close_wakes_main(void *arg)
{
    (void)arg;
    const int n = 100;
    struct cl x = {gort_chan_make(sizeof(long), 0),
                   gort_chan_make(sizeof(long), (size_t)n)};
    for (int i = 0; i < n; i++)
        CHECK_EQ(gort_go(cl_receiver, &x), 0);
    for (int i = 0; i < 10; i++)
        gort_yield();
    gort_chan_close(x.c);
    for (int i = 0; i < n; i++) {
        long rep = 0;
        CHECK(gort_chan_recv(x.res, &rep));
        CHECK_EQ(rep, -1);
    }
    settle();
    gort_chan_free(x.c);
    gort_chan_free(x.res);
    return 0;
}

Test(chan, close_wakes_every_blocked_receiver_with_zero_and_false)
{
    run(1, close_wakes_main, NULL);
}

Test(chan, close_wakes_every_blocked_receiver_with_zero_and_false_8p)
{
    run(8, close_wakes_main, NULL);
}

static int drain_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 3);
    for (int i = 1; i <= 3; i++)
        gort_chan_send(c, &i);
    gort_chan_close(c);
    CHECK_EQ(gort_chan_len(c), 3);
    for (int i = 1; i <= 3; i++) {
        int v = 0;
        CHECK(gort_chan_recv(c, &v));
        CHECK_EQ(v, i);
    }
    int v = 5;
    CHECK(!gort_chan_recv(c, &v));
    CHECK_EQ(v, 0);
    CHECK(!gort_chan_recv(c, NULL));
    gort_chan_free(c);
    return 0;
}

Test(chan, receivers_drain_buffered_values_before_seeing_closed)
{
    run(1, drain_main, NULL);
}

/* Close racing with receivers: senders push values through a small
 * buffer while receivers block and drain; the closer runs as soon as the
 * last send completed, while receivers are still blocked or draining.
 * Every value must arrive exactly once and every receiver must end. */
struct race {
    gort_chan *c, *sent, *res;
    int per;
};

static void race_sender(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < r->per; i++)
        gort_chan_send(r->c, &(long){1});
    gort_chan_send(r->sent, NULL);
}

static void race_receiver(void *arg)
{
    struct race *r = arg;
    long sum = 0, v;
    while (gort_chan_recv(r->c, &v))
        sum += v;
    gort_chan_send(r->res, &sum);
}

static void race_closer(void *arg)
{
    struct race *r = arg;
    wait_n(r->sent, 4);
    gort_chan_close(r->c);
}

static int close_race_main(void *arg)
{
    (void)arg;
    const int rounds = SCALE(200, 40), nrecv = 6;
    for (int round = 0; round < rounds; round++) {
        struct race r = {gort_chan_make(sizeof(long), (size_t)(round % 3)),
                         gort_chan_make(0, 4),
                         gort_chan_make(sizeof(long), (size_t)nrecv), 50};
        for (int i = 0; i < nrecv; i++)
            CHECK_EQ(gort_go(race_receiver, &r), 0);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(gort_go(race_sender, &r), 0);
        CHECK_EQ(gort_go(race_closer, &r), 0);
        long total = 0;
        for (int i = 0; i < nrecv; i++) {
            long s = 0;
            CHECK(gort_chan_recv(r.res, &s));
            total += s;
        }
        CHECK_EQ(total, 4 * r.per);
        settle();
        gort_chan_free(r.c);
        gort_chan_free(r.sent);
        gort_chan_free(r.res);
    }
    return 0;
}

Test(chan, close_racing_with_blocked_receivers_loses_no_value)
{
    run(2, close_race_main, NULL);
}

Test(chan, close_racing_with_blocked_receivers_loses_no_value_8p)
{
    run(8, close_race_main, NULL);
}

/* ---- Zero-size elements ------------------------------------------------- */

static void zs_signal(void *arg)
{
    gort_chan_send(arg, NULL);
}

static int zerosize_main(void *arg)
{
    (void)arg;
    gort_chan *b = gort_chan_make(0, 3);
    CHECK(b != NULL);
    for (int i = 0; i < 3; i++)
        gort_chan_send(b, NULL);
    CHECK_EQ(gort_chan_len(b), 3);
    CHECK(!gort_chan_trysend(b, NULL));
    char x = 'x'; /* a zero-size receive writes nothing */
    CHECK(gort_chan_recv(b, &x));
    CHECK_EQ(x, 'x');
    CHECK(gort_chan_tryrecv(b, NULL, NULL));
    CHECK_EQ(gort_chan_len(b), 1);
    gort_chan_close(b);
    CHECK(gort_chan_recv(b, NULL));
    CHECK(!gort_chan_recv(b, NULL));

    gort_chan *u = gort_chan_make(0, 0);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(gort_go(zs_signal, u), 0);
    for (int i = 0; i < 100; i++)
        CHECK(gort_chan_recv(u, NULL));
    CHECK(!gort_chan_tryrecv(u, NULL, NULL));
    settle();
    gort_chan_free(b);
    gort_chan_free(u);
    return 0;
}

Test(chan, zero_size_elements_count_without_copying)
{
    run(1, zerosize_main, NULL);
}

Test(chan, zero_size_elements_count_without_copying_8p)
{
    run(8, zerosize_main, NULL);
}

/* ---- Values are copied, including large ones ---------------------------- */

struct big {
    unsigned char b[1000];
};

static void big_sender(void *arg)
{
    gort_chan *c = arg;
    for (int k = 0; k < 200; k++) {
        struct big v;
        memset(v.b, k, sizeof v.b);
        gort_chan_send(c, &v);
    }
}

static int big_main(void *arg)
{
    size_t cap = (size_t)(uintptr_t)arg;
    gort_chan *c = gort_chan_make(sizeof(struct big), cap);
    CHECK_EQ(gort_go(big_sender, c), 0);
    for (int k = 0; k < 200; k++) {
        struct big v;
        CHECK(gort_chan_recv(c, &v));
        for (size_t i = 0; i < sizeof v.b; i++)
            if (v.b[i] != (unsigned char)k) {
                CHECK_EQ(v.b[i], k);
                break;
            }
    }
    settle();
    gort_chan_free(c);
    return 0;
}

Test(chan, large_elements_arrive_intact_unbuffered)
{
    run(2, big_main, (void *)(uintptr_t)0);
}

Test(chan, large_elements_arrive_intact_buffered)
{
    run(2, big_main, (void *)(uintptr_t)7);
}

/* ---- Reference counting ------------------------------------------------- */

static int refs_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    CHECK(gort_chan_retain(c) == c);
    CHECK(gort_chan_retain(NULL) == NULL);
    gort_chan_free(c); /* one reference left */
    gort_chan_send(c, &(int){1});
    CHECK(gort_chan_recv(c, NULL));
    gort_chan_free(c);
    gort_chan_free(NULL);
    return 0;
}

Test(chan, retain_keeps_the_channel_until_the_last_free)
{
    run(1, refs_main, NULL);
}

/* ---- Stress: ping-pong and many-to-many at 8 Ps ------------------------- */

struct pp {
    gort_chan *ping, *pong;
    int n;
};

static void ponger(void *arg)
{
    struct pp *p = arg;
    long v;
    for (int i = 0; i < p->n; i++) {
        CHECK(gort_chan_recv(p->ping, &v));
        gort_chan_send(p->pong, &v);
    }
}

static int pingpong_main(void *arg)
{
    (void)arg;
    struct pp p = {gort_chan_make(sizeof(long), 0),
                   gort_chan_make(sizeof(long), 0), SCALE(200000, 20000)};
    CHECK_EQ(gort_go(ponger, &p), 0);
    for (long i = 0; i < p.n; i++) {
        long v = -1;
        gort_chan_send(p.ping, &i);
        CHECK(gort_chan_recv(p.pong, &v));
        if (v != i) {
            CHECK_EQ(v, i);
            break;
        }
    }
    settle();
    gort_chan_free(p.ping);
    gort_chan_free(p.pong);
    return 0;
}

Test(chan, pingpong_returns_every_value_in_order_2p)
{
    run(2, pingpong_main, NULL);
}

Test(chan, pingpong_returns_every_value_in_order_8p)
{
    run(8, pingpong_main, NULL);
}

/* ---- Threads without a P share channels with goroutines ----------------
 *
 * With one P its goroutines lock channels with plain stores (chan/chan.h,
 * "Plain channel locks"); threads the runtime does not own use the
 * non-blocking calls on the same channels at the same time. Any lapse of
 * mutual exclusion shows as a value lost, doubled or torn in the buffer.
 * The flipping variant also grows and shrinks the P count meanwhile, so
 * plain sections start and end under the lockers' feet.
 */
enum { SHARE_FOREIGN = 2, SHARE_GOROUTINES = 4 };

struct share {
    gort_chan *c, *idle;
    long per_sender;
    _Atomic long received, sum;
    _Atomic int foreign_sent, foreign_done;
    _Atomic bool flipping;
    gort_wg wg;
};

static long share_value(long id, long k)
{
    return k * (SHARE_FOREIGN + SHARE_GOROUTINES) + id + 1;
}

static void share_take(struct share *s, long v)
{
    atomic_fetch_add(&s->received, 1);
    atomic_fetch_add(&s->sum, v);
}

static void *share_foreign_sender(void *arg)
{
    struct share *s = arg;
    static _Atomic long ids;
    long id = atomic_fetch_add(&ids, 1) % SHARE_FOREIGN;
    for (long k = 0; k < s->per_sender; k++) {
        long v = share_value(id, k);
        while (!gort_chan_trysend(s->c, &v))
            sched_yield();
    }
    atomic_fetch_add(&s->foreign_sent, 1);
    return NULL;
}

static void *share_foreign_receiver(void *arg)
{
    struct share *s = arg;
    for (;;) {
        long v;
        bool ok;
        if (!gort_chan_tryrecv(s->c, &v, &ok)) {
            sched_yield();
            continue;
        }
        if (!ok)
            break; /* closed and drained */
        share_take(s, v);
    }
    atomic_fetch_add(&s->foreign_done, 1);
    return NULL;
}

static void share_sender(void *arg)
{
    struct share *s = arg;
    static _Atomic long ids;
    long id = SHARE_FOREIGN + atomic_fetch_add(&ids, 1) % SHARE_GOROUTINES;
    for (long k = 0; k < s->per_sender; k++) {
        long v = share_value(id, k);
        gort_chan_send(s->c, &v);
    }
    gort_wg_done(&s->wg);
}

/* Half the goroutine receivers select over c and a channel that is never
 * ready, so they hold two locks at once. */
static void share_receiver(void *arg)
{
    struct share *s = arg;
    static _Atomic int n;
    bool selecting = atomic_fetch_add(&n, 1) % 2;
    for (;;) {
        long v;
        bool ok;
        if (selecting) {
            gort_select_case cs[2] = {GORT_RECV(s->idle, NULL, NULL),
                                      GORT_RECV(s->c, &v, &ok)};
            CHECK_EQ(gort_select(cs, 2), 1);
        } else {
            ok = gort_chan_recv(s->c, &v);
        }
        if (!ok)
            break;
        share_take(s, v);
    }
    gort_wg_done(&s->wg);
}

static void *share_flipper(void *arg)
{
    struct share *s = arg;
    for (int i = 0; atomic_load(&s->flipping); i++) {
        gort_maxprocs(2 + i % 2);
        usleep(100 + i % 200);
        gort_maxprocs(1);
        usleep(100 + i % 300);
    }
    return NULL;
}

/* wait_count sleeps (parking) until *n reaches want. */
static void wait_count(_Atomic int *n, int want)
{
    while (atomic_load(n) < want)
        gort_sleep(1000000);
}

static int share_main(void *arg)
{
    bool flip = arg != NULL;
    static struct share s;
    memset(&s, 0, sizeof s);
    s.c = gort_chan_make(sizeof(long), 16);
    s.idle = gort_chan_make(sizeof(long), 0);
    s.per_sender = SCALE3(20000, 5000, 1000);
    pthread_t th[2 * SHARE_FOREIGN + 1];
    int nth = 0;
    if (flip) {
        atomic_store(&s.flipping, true);
        CHECK(pthread_create(&th[nth++], NULL, share_flipper, &s) == 0);
    }
    gort_wg_add(&s.wg, 2 * SHARE_GOROUTINES);
    for (int i = 0; i < SHARE_GOROUTINES; i++) {
        CHECK_EQ(gort_go(share_sender, &s), 0);
        CHECK_EQ(gort_go(share_receiver, &s), 0);
    }
    for (int i = 0; i < SHARE_FOREIGN; i++) {
        CHECK(pthread_create(&th[nth++], NULL, share_foreign_sender, &s) ==
              0);
        CHECK(pthread_create(&th[nth++], NULL, share_foreign_receiver,
                             &s) == 0);
    }
    /* The goroutine senders end first; then the threads' sends. */
    wait_count(&s.foreign_sent, SHARE_FOREIGN);
    while (atomic_load(&s.received) <
           (SHARE_FOREIGN + SHARE_GOROUTINES) * s.per_sender)
        gort_sleep(1000000);
    gort_chan_close(s.c);
    gort_wg_wait(&s.wg);
    wait_count(&s.foreign_done, SHARE_FOREIGN);
    atomic_store(&s.flipping, false);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL); /* all have ended or end at once */
    gort_maxprocs(1);

    long n = (SHARE_FOREIGN + SHARE_GOROUTINES) * s.per_sender;
    CHECK_EQ(atomic_load(&s.received), n);
    CHECK_EQ(atomic_load(&s.sum), n * (n + 1) / 2); /* values 1..n */
    CHECK_EQ(gort_chan_len(s.c), 0);
    settle();
    gort_chan_free(s.c);
    gort_chan_free(s.idle);
    return 0;
}

Test(chan, threads_without_a_p_and_one_p_share_channels_without_losing_values)
{
    run(1, share_main, NULL);
}

Test(chan, threads_without_a_p_share_channels_while_the_p_count_flips)
{
    run(1, share_main, (void *)1);
}

/* ---- The channel owner ----------------------------------------------------
 *
 * At 4 Ps the channel owner (chan/chanowner.c) is named whenever one P
 * runs alone and revoked whenever another wakes up to lock. Goroutines that
 * nap now and then keep Ps going idle and waking while the others send,
 * receive and select on one channel: the values must add up, and a P that
 * locked without revoking would meet the owner's plain lock (`plain lock
 * of a held channel`, or a value lost or doubled). No thread without a P
 * takes part: its count would make the owner use the CAS.
 */
enum { CHURN_SENDERS = 4, CHURN_RECEIVERS = 4 };

static struct churn {
    gort_chan *c, *never;
    gort_wg senders, receivers;
    long per_sender;
    _Atomic long ids, received, sum;
} churn;

static void churn_nap(long k)
{
    if (k % 97 == 0)
        gort_sleep(20000 + (k % 5) * 30000); /* 20-140 us */
}

static void churn_sender(void *arg)
{
    (void)arg;
    long id = atomic_fetch_add(&churn.ids, 1);
    for (long k = 0; k < churn.per_sender; k++) {
        long v = k * CHURN_SENDERS + id + 1;
        gort_chan_send(churn.c, &v);
        churn_nap(k + id);
    }
    gort_wg_done(&churn.senders);
}

static void churn_receiver(void *arg)
{
    bool selecting = arg != NULL;
    for (long k = 0;; k++) {
        long v;
        bool ok;
        if (selecting) {
            gort_select_case cs[2] = {GORT_RECV(churn.never, NULL, NULL),
                                      GORT_RECV(churn.c, &v, &ok)};
            CHECK_EQ(gort_select(cs, 2), 1);
        } else {
            ok = gort_chan_recv(churn.c, &v);
        }
        if (!ok)
            break;
        atomic_fetch_add(&churn.received, 1);
        atomic_fetch_add(&churn.sum, v);
        churn_nap(k);
    }
    gort_wg_done(&churn.receivers);
}

static int churn_main(void *arg)
{
    (void)arg;
    memset(&churn, 0, sizeof churn);
    churn.c = gort_chan_make(sizeof(long), 4);
    churn.never = gort_chan_make(sizeof(long), 0);
    churn.per_sender = SCALE3(50000, 10000, 2000);
    gort_wg_add(&churn.senders, CHURN_SENDERS);
    gort_wg_add(&churn.receivers, CHURN_RECEIVERS);
    for (long i = 0; i < CHURN_RECEIVERS; i++)
        CHECK_EQ(gort_go(churn_receiver, (void *)(i % 2)), 0);
    for (int i = 0; i < CHURN_SENDERS; i++)
        CHECK_EQ(gort_go(churn_sender, NULL), 0);
    gort_wg_wait(&churn.senders);
    gort_chan_close(churn.c);
    gort_wg_wait(&churn.receivers);
    long n = CHURN_SENDERS * churn.per_sender;
    CHECK_EQ(atomic_load(&churn.received), n);
    CHECK_EQ(atomic_load(&churn.sum), n * (n + 1) / 2); /* values 1..n */
    settle();
    gort_chan_free(churn.c);
    gort_chan_free(churn.never);
    return 0;
}

Test(chan, goroutines_on_several_ps_share_channels_as_the_owner_changes,
     .timeout = 120)
{
    run(4, churn_main, NULL);
}

/* ---- Death tests --------------------------------------------------------- */

static int d_send_closed(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_chan_close(c);
    gort_chan_send(c, &(int){1});
    return 0;
}

static int d_trysend_closed(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_chan_close(c);
    gort_chan_trysend(c, &(int){1});
    return 0;
}

static void d_closer(void *arg)
{
    gort_chan_close(arg);
}

static int d_blocked_sender_closed(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_go(d_closer, c);
    gort_chan_send(c, &(int){1}); /* parks; close wakes it to panic */
    return 0;
}

static int d_close_closed(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(0, 0);
    gort_chan_close(c);
    gort_chan_close(c);
    return 0;
}

static int d_close_nil(void *arg)
{
    (void)arg;
    gort_chan_close(NULL);
    return 0;
}

static int d_recv_nil(void *arg)
{
    (void)arg;
    gort_chan_recv(NULL, NULL);
    return 0;
}

static int d_send_nil(void *arg)
{
    (void)arg;
    gort_chan_send(NULL, &(int){1});
    return 0;
}

static void d_blocked(void *arg)
{
    gort_chan_recv(arg, NULL);
}

static int d_free_blocked(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(0, 0);
    gort_go(d_blocked, c);
    for (int i = 0; i < 1000; i++)
        gort_yield();
    gort_chan_free(c);
    return 0;
}

Test(chan, send_on_closed_channel_panics)
{
    expect_death(d_send_closed, "panic: send on closed channel");
}

Test(chan, trysend_on_closed_channel_panics)
{
    expect_death(d_trysend_closed, "panic: send on closed channel");
}

Test(chan, close_wakes_a_blocked_sender_to_panic)
{
    expect_death(d_blocked_sender_closed, "panic: send on closed channel");
}

Test(chan, close_of_closed_channel_panics)
{
    expect_death(d_close_closed, "panic: close of closed channel");
}

Test(chan, close_of_nil_channel_panics)
{
    expect_death(d_close_nil, "panic: close of nil channel");
}

Test(chan, receive_on_nil_channel_blocks_forever_and_deadlocks)
{
    expect_death(d_recv_nil,
                 "fatal error: all goroutines are asleep - deadlock!");
}

Test(chan, send_on_nil_channel_blocks_forever_and_deadlocks)
{
    expect_death(d_send_nil,
                 "fatal error: all goroutines are asleep - deadlock!");
}

Test(chan, freeing_a_channel_with_blocked_goroutines_is_fatal)
{
    expect_death(d_free_blocked,
                 "fatal error: gort_chan_free: goroutines blocked on channel");
}
