/*
 * test_connpool.c: the connection pool (include/gort/pool.h): reuse,
 * max_open, max_idle, idle time and lifetime, deadlines, arrival order,
 * broken connections, failed connects, health checks, statistics and
 * shutdown.
 *
 * The connections are real pipes: acquiring one, a goroutine writes a
 * value into it and reads it back, so a connection handed to two
 * goroutines at once shows as a wrong value. A counter of open pipes
 * checks that every connection the pool opened it also closed.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <gort.h>

#include "helpers/harness.h"

struct pipeconn {
    int fd[2];
    int id;
    bool bad; /* the health check fails */
};

static atomic_int opened, closed_n, using_now, using_max, fail_connects;

static int pipe_connect(void *ctx, void **conn)
{
    (void)ctx;
    if (atomic_load(&fail_connects) > 0) {
        atomic_fetch_sub(&fail_connects, 1);
        return -ECONNREFUSED;
    }
    struct pipeconn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    if (pipe(c->fd) < 0) {
        free(c);
        return -EMFILE;
    }
    c->id = atomic_fetch_add(&opened, 1) + 1;
    *conn = c;
    return 0;
}

static void pipe_close(void *ctx, void *conn)
{
    (void)ctx;
    struct pipeconn *c = conn;
    close(c->fd[0]);
    close(c->fd[1]);
    free(c);
    atomic_fetch_add(&closed_n, 1);
}

static bool pipe_check(void *ctx, void *conn)
{
    (void)ctx;
    return !((struct pipeconn *)conn)->bad;
}

static const gort_connpool_ops ops = {pipe_connect, pipe_close, pipe_check,
                                      NULL};

static void reset_counts(void)
{
    opened = closed_n = using_now = using_max = fail_connects = 0;
}

/* One use of a connection: a round trip of v through the pipe, with a
 * park in between so that other goroutines run while it is held. */
static void use(gort_pconn *pc, int v)
{
    struct pipeconn *c = gort_connpool_raw(pc);
    int now = atomic_fetch_add(&using_now, 1) + 1;
    int max = atomic_load(&using_max);
    while (now > max && !atomic_compare_exchange_weak(&using_max, &max, now))
        ;
    CHECK_EQ(write(c->fd[1], &v, sizeof v), sizeof v);
    /* Held across a park long enough that other goroutines come to wait:
     * the tests count on contention for waits and timeouts. */
    gort_sleep(GORT_US(100));
    int got = 0;
    CHECK_EQ(read(c->fd[0], &got, sizeof got), sizeof got);
    CHECK_EQ(got, v);
    atomic_fetch_sub(&using_now, 1);
}

static gort_connpool *new_pool(int max_open, int max_idle, int64_t idle_time,
                               int64_t lifetime)
{
    gort_connpool *p = NULL;
    gort_connpool_config cfg = {max_open, max_idle, idle_time, lifetime};
    cr_assert(eq(int, gort_connpool_new(&p, &ops, &cfg), 0));
    return p;
}

static gort_connpool_stats_t stats(gort_connpool *p)
{
    gort_connpool_stats_t st;
    cr_assert(eq(int, gort_connpool_stats(p, &st), 0));
    return st;
}

/* Yields until n acquirers wait on p (gives up after 10 s). */
static void await_waiting(gort_connpool *p, int n)
{
    int64_t end = gort_now() + GORT_S(10);
    while (stats(p).waiting != n && gort_now() < end)
        gort_sleep(GORT_US(100));
    cr_assert(eq(int, stats(p).waiting, n));
}

/* ---- Reuse and limits --------------------------------------------------- */

static int reuse_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(0, 0, 0, 0);
    gort_pconn *a, *b;
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &a), 0));
    void *raw = gort_connpool_raw(a);
    use(a, 7);
    gort_connpool_release(a, false);
    cr_assert(eq(int, stats(p).idle, 1));
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &b), 0));
    cr_assert(eq(ptr, gort_connpool_raw(b), raw));
    cr_assert(eq(int, atomic_load(&opened), 1));
    gort_connpool_release(b, false);
    cr_assert(eq(int, gort_connpool_close(p), 0));
    cr_assert(eq(int, atomic_load(&closed_n), 1));
    return 0;
}

Test(connpool, released_connection_is_reused)
{
    reset_counts();
    run(1, reuse_main, NULL);
}

struct worker_arg {
    gort_connpool *p;
    gort_wg *wg;
    int rounds;
};

static void worker(void *arg)
{
    struct worker_arg *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        gort_pconn *pc;
        int r = gort_connpool_acquire(w->p, GORT_FOREVER, &pc);
        CHECK_EQ(r, 0);
        if (r < 0)
            break;
        use(pc, (int)gort_id() * 1000 + i);
        gort_connpool_release(pc, false);
    }
    gort_wg_done(w->wg);
}

static int limit_main(void *arg)
{
    int gs = (int)(intptr_t)arg;
    gort_connpool *p = new_pool(4, 2, 0, 0);
    gort_wg wg = GORT_WG_INIT;
    struct worker_arg w = {p, &wg, SCALE3(50, 10, 5)};
    gort_wg_add(&wg, gs);
    for (int i = 0; i < gs; i++)
        cr_assert(eq(int, gort_go(worker, &w), 0));
    gort_wg_wait(&wg);
    gort_connpool_stats_t st = stats(p);
    cr_assert(le(int, atomic_load(&using_max), 4));
    cr_assert(le(int, st.open, 4));
    cr_assert(eq(int, st.in_use, 0));
    cr_assert(eq(int, st.idle, 2)); /* max_idle kept, the rest closed */
    cr_assert(eq(int, st.waiting, 0));
    cr_assert(gt(u64, st.wait_count, 0));
    cr_assert(gt(i64, st.wait_duration, 0));
    cr_assert(
        eq(u64, st.max_idle_closed, (uint64_t)(atomic_load(&opened) - 2)));
    cr_assert(eq(int, gort_connpool_close(p), 0));
    cr_assert(eq(int, atomic_load(&closed_n), atomic_load(&opened)));
    settle();
    return 0;
}

Test(connpool, max_open_bounds_connections_in_use_with_1_proc)
{
    reset_counts();
    run(1, limit_main, (void *)(intptr_t)SCALE3(200, 50, 16));
}

Test(connpool, max_open_bounds_connections_in_use_with_4_procs)
{
    reset_counts();
    run(4, limit_main, (void *)(intptr_t)SCALE3(200, 50, 16));
}

static int idle_limit_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(0, 1, 0, 0);
    gort_pconn *pc[3];
    for (int i = 0; i < 3; i++)
        cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &pc[i]), 0));
    for (int i = 0; i < 3; i++)
        gort_connpool_release(pc[i], false);
    gort_connpool_stats_t st = stats(p);
    cr_assert(eq(int, st.idle, 1));
    cr_assert(eq(int, st.open, 1));
    cr_assert(eq(u64, st.max_idle_closed, 2));
    cr_assert(eq(int, atomic_load(&closed_n), 2));
    cr_assert(eq(int, gort_connpool_close(p), 0));
    cr_assert(eq(int, atomic_load(&closed_n), 3));
    return 0;
}

Test(connpool, releases_beyond_max_idle_close_the_connection)
{
    reset_counts();
    run(1, idle_limit_main, NULL);
}

/* ---- Deadlines and waiting ---------------------------------------------- */

static int deadline_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(1, 0, 0, 0);
    gort_pconn *held, *pc;
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &held), 0));
    int64_t t0 = gort_now();
    int r = gort_connpool_acquire(p, t0 + GORT_MS(30), &pc);
    int64_t waited = gort_now() - t0;
    cr_assert(eq(int, r, -ETIMEDOUT));
    cr_assert(ge(i64, waited, GORT_MS(30)));
    cr_assert(lt(i64, waited, GORT_S(10)));
    gort_connpool_stats_t st = stats(p);
    cr_assert(eq(u64, st.wait_count, 1));
    cr_assert(ge(i64, st.wait_duration, GORT_MS(30)));
    cr_assert(eq(int, st.waiting, 0));
    /* A deadline already past fails at once, even with a free one. */
    gort_connpool_release(held, false);
    cr_assert(
        eq(int, gort_connpool_acquire(p, gort_now() - 1, &pc), -ETIMEDOUT));
    cr_assert(eq(int, gort_connpool_acquire(p, -5, &pc), -EINVAL));
    cr_assert(
        eq(int, gort_connpool_acquire(p, gort_now() + GORT_S(5), &pc), 0));
    gort_connpool_release(pc, false);
    cr_assert(eq(int, gort_connpool_close(p), 0));
    return 0;
}

Test(connpool, acquire_past_its_deadline_returns_etimedout)
{
    reset_counts();
    run(2, deadline_main, NULL);
}

struct order_arg {
    gort_connpool *p;
    gort_chan *order;
    int me;
};

static void ordered_waiter(void *arg)
{
    struct order_arg *a = arg;
    gort_pconn *pc;
    CHECK_EQ(gort_connpool_acquire(a->p, GORT_FOREVER, &pc), 0);
    gort_chan_send(a->order, &a->me);
    gort_connpool_release(pc, false);
}

static int order_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(1, 0, 0, 0);
    gort_chan *order = gort_chan_make(sizeof(int), 8);
    struct order_arg args[5];
    gort_pconn *held;
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &held), 0));
    for (int i = 0; i < 5; i++) {
        args[i] = (struct order_arg){p, order, i};
        cr_assert(eq(int, gort_go(ordered_waiter, &args[i]), 0));
        await_waiting(p, i + 1);
    }
    gort_connpool_release(held, false);
    for (int i = 0; i < 5; i++) {
        int who = -1;
        gort_chan_recv(order, &who);
        cr_assert(eq(int, who, i));
    }
    settle();
    cr_assert(eq(int, atomic_load(&opened), 1));
    cr_assert(eq(int, gort_connpool_close(p), 0));
    gort_chan_free(order);
    return 0;
}

Test(connpool, waiters_are_served_in_arrival_order)
{
    reset_counts();
    run(2, order_main, NULL);
}

/* ---- Broken connections, failed connects, checks ------------------------ */

static void one_acquire(void *arg)
{
    struct order_arg *a = arg;
    gort_pconn *pc;
    int r = gort_connpool_acquire(a->p, GORT_FOREVER, &pc);
    gort_chan_send(a->order, &r);
    if (r == 0)
        gort_connpool_release(pc, false);
}

static int broken_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(1, 0, 0, 0);
    gort_chan *res = gort_chan_make(sizeof(int), 1);
    struct order_arg a = {p, res, 0};
    gort_pconn *held;
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &held), 0));
    cr_assert(eq(int, gort_go(one_acquire, &a), 0));
    await_waiting(p, 1);
    /* The waiter gets the freed slot and opens a new connection. */
    gort_connpool_release(held, true);
    int r = -1;
    gort_chan_recv(res, &r);
    cr_assert(eq(int, r, 0));
    settle();
    cr_assert(eq(int, atomic_load(&opened), 2));
    cr_assert(eq(int, atomic_load(&closed_n), 1));
    cr_assert(eq(int, stats(p).open, 1));
    cr_assert(eq(int, gort_connpool_close(p), 0));
    gort_chan_free(res);
    return 0;
}

Test(connpool, broken_connection_is_closed_and_its_slot_goes_to_a_waiter)
{
    reset_counts();
    run(1, broken_main, NULL);
}

static int connect_fail_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(1, 0, 0, 0);
    gort_pconn *pc;
    atomic_store(&fail_connects, 1);
    cr_assert(
        eq(int, gort_connpool_acquire(p, GORT_FOREVER, &pc), -ECONNREFUSED));
    cr_assert(eq(int, stats(p).open, 0));
    /* The slot came back: the next acquire opens one. */
    cr_assert(
        eq(int, gort_connpool_acquire(p, gort_now() + GORT_S(5), &pc), 0));
    gort_connpool_release(pc, false);
    cr_assert(eq(int, gort_connpool_close(p), 0));
    return 0;
}

Test(connpool, failed_connect_returns_its_error_and_frees_the_slot)
{
    reset_counts();
    run(1, connect_fail_main, NULL);
}

static int check_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(0, 0, 0, 0);
    gort_pconn *pc;
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &pc), 0));
    struct pipeconn *first = gort_connpool_raw(pc);
    first->bad = true;
    gort_connpool_release(pc, false);
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &pc), 0));
    /* Ids, not addresses: malloc may reuse the first one's. */
    cr_assert(eq(int, ((struct pipeconn *)gort_connpool_raw(pc))->id, 2));
    cr_assert(eq(int, atomic_load(&closed_n), 1));
    cr_assert(eq(int, stats(p).open, 1));
    gort_connpool_release(pc, false);
    cr_assert(eq(int, gort_connpool_close(p), 0));
    return 0;
}

Test(connpool, idle_connection_failing_its_check_is_replaced)
{
    reset_counts();
    run(1, check_main, NULL);
}

/* ---- Idle time and lifetime --------------------------------------------- */

static int idle_time_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(0, 4, GORT_MS(20), 0);
    gort_pconn *pc;
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &pc), 0));
    gort_connpool_release(pc, false);
    /* The cleaner closes it; wait for that, not for a fixed time. */
    int64_t end = gort_now() + GORT_S(10);
    while (stats(p).idle != 0 && gort_now() < end)
        gort_sleep(GORT_MS(5));
    gort_connpool_stats_t st = stats(p);
    cr_assert(eq(int, st.idle, 0));
    cr_assert(eq(int, st.open, 0));
    cr_assert(eq(u64, st.max_idle_time_closed, 1));
    cr_assert(eq(int, atomic_load(&closed_n), 1));
    cr_assert(eq(int, gort_connpool_close(p), 0));
    settle();
    return 0;
}

Test(connpool, idle_connection_is_closed_after_max_idle_time)
{
    reset_counts();
    run(1, idle_time_main, NULL);
}

static int lifetime_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(0, 4, 0, GORT_MS(30));
    gort_pconn *pc;
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &pc), 0));
    gort_sleep(GORT_MS(40));
    gort_connpool_release(pc, false); /* too old: closed, not kept */
    cr_assert(eq(int, atomic_load(&closed_n), 1));
    cr_assert(eq(u64, stats(p).max_lifetime_closed, 1));
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &pc), 0));
    cr_assert(eq(int, atomic_load(&opened), 2));
    gort_connpool_release(pc, false);
    cr_assert(eq(int, gort_connpool_close(p), 0));
    settle();
    return 0;
}

Test(connpool, connection_past_max_lifetime_is_not_reused)
{
    reset_counts();
    run(1, lifetime_main, NULL);
}

/* ---- Shutdown and bad input --------------------------------------------- */

struct close_arg {
    gort_connpool *p;
    gort_chan *done;
};

static void closer(void *arg)
{
    struct close_arg *a = arg;
    int r = gort_connpool_close(a->p);
    gort_chan_send(a->done, &r);
}

static int close_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(1, 0, 0, GORT_S(60));
    gort_chan *res = gort_chan_make(sizeof(int), 1);
    gort_chan *done = gort_chan_make(sizeof(int), 1);
    struct order_arg a = {p, res, 0};
    struct close_arg c = {p, done};
    gort_pconn *held;
    cr_assert(eq(int, gort_connpool_acquire(p, GORT_FOREVER, &held), 0));
    cr_assert(eq(int, gort_go(one_acquire, &a), 0));
    await_waiting(p, 1);
    cr_assert(eq(int, gort_go(closer, &c), 0));
    int r = 0;
    gort_chan_recv(res, &r); /* the waiter is told first */
    cr_assert(eq(int, r, -ESHUTDOWN));
    bool ok = true;
    cr_assert(not(gort_chan_tryrecv(done, &r, &ok))); /* close still waits */
    use(held, 42);
    gort_connpool_release(held, false);
    gort_chan_recv(done, &r);
    cr_assert(eq(int, r, 0));
    cr_assert(eq(int, atomic_load(&closed_n), atomic_load(&opened)));
    settle();
    gort_chan_free(res);
    gort_chan_free(done);
    return 0;
}

Test(connpool, close_fails_waiters_and_waits_for_connections_in_use)
{
    reset_counts();
    run(2, close_main, NULL);
}

static int bad_args_main(void *arg)
{
    (void)arg;
    gort_connpool *p;
    gort_connpool_ops no_close = {pipe_connect, NULL, NULL, NULL};
    cr_assert(eq(int, gort_connpool_new(NULL, &ops, NULL), -EINVAL));
    cr_assert(eq(int, gort_connpool_new(&p, NULL, NULL), -EINVAL));
    cr_assert(eq(int, gort_connpool_new(&p, &no_close, NULL), -EINVAL));
    cr_assert(
        eq(int, gort_connpool_acquire(NULL, GORT_FOREVER, NULL), -EINVAL));
    cr_assert(eq(int, gort_connpool_stats(NULL, NULL), -EINVAL));
    cr_assert(eq(int, gort_connpool_close(NULL), -EINVAL));
    cr_assert(eq(int, gort_connpool_new(&p, &ops, NULL), 0));
    cr_assert(eq(int, gort_connpool_close(p), 0));
    return 0;
}

Test(connpool, bad_arguments_return_einval)
{
    gort_connpool *p;
    cr_assert(eq(int, gort_connpool_new(&p, &ops, NULL), -EPERM));
    run(1, bad_args_main, NULL);
}

/* ---- Deadlines racing releases ------------------------------------------ */

static atomic_int timeouts;

static void hurried_worker(void *arg)
{
    struct worker_arg *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        gort_pconn *pc;
        int64_t wait = GORT_US(50) * (int64_t)((gort_id() + (uint64_t)i) % 8);
        int r = gort_connpool_acquire(w->p, gort_now() + wait, &pc);
        if (r == -ETIMEDOUT) {
            atomic_fetch_add(&timeouts, 1);
            continue;
        }
        CHECK_EQ(r, 0);
        if (r < 0)
            break;
        use(pc, (int)gort_id() * 1000 + i);
        /* Now and then a connection breaks: its slot becomes a grant. */
        gort_connpool_release(pc, i % 7 == 3);
    }
    gort_wg_done(w->wg);
}

static int race_main(void *arg)
{
    (void)arg;
    gort_connpool *p = new_pool(2, 2, 0, 0);
    gort_wg wg = GORT_WG_INIT;
    struct worker_arg w = {p, &wg, SCALE3(200, 40, 16)};
    int gs = SCALE3(100, 20, 8);
    gort_wg_add(&wg, gs);
    for (int i = 0; i < gs; i++)
        cr_assert(eq(int, gort_go(hurried_worker, &w), 0));
    gort_wg_wait(&wg);
    gort_connpool_stats_t st = stats(p);
    cr_assert(le(int, atomic_load(&using_max), 2));
    cr_assert(eq(int, st.in_use, 0));
    cr_assert(eq(int, st.waiting, 0));
    cr_assert(eq(int, st.open, st.idle));
    cr_assert(eq(int, atomic_load(&opened) - atomic_load(&closed_n), st.open));
    cr_assert(gt(int, atomic_load(&timeouts), 0));
    cr_assert(eq(int, gort_connpool_close(p), 0));
    cr_assert(eq(int, atomic_load(&closed_n), atomic_load(&opened)));
    settle();
    return 0;
}

Test(connpool, deadlines_racing_releases_lose_no_connection)
{
    reset_counts();
    timeouts = 0;
    run(4, race_main, NULL);
}
