/*
 * test_time.c: sleeping, gort_after, timers, AfterFunc, tickers, and the
 * per-P timer heaps under stress (runtime/time.c, runtime/timer.c).
 *
 * Timing is asserted only as lower bounds plus generous upper bounds
 * (LATE): the machine is shared and noisy.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gort.h>

#include "runtime.h" /* white-box: struct timer, gort__getm */

#define LATE GORT_S(2) /* "fired in reasonable time", never a tight bound */

#include "helpers/harness.h"

/* wait_for sleeps until *n reaches want or LATE*5 passes; returns *n. */
static int wait_for(_Atomic int *n, int want)
{
    int64_t deadline = gort_now() + 5 * LATE;
    while (atomic_load(n) < want && gort_now() < deadline)
        gort_sleep(GORT_MS(1));
    return atomic_load(n);
}

static bool recv_time(gort_chan *c, int64_t *v)
{
    return gort_chan_recv(c, v);
}

static bool tryrecv_time(gort_chan *c)
{
    int64_t v;
    bool ok;
    return gort_chan_tryrecv(c, &v, &ok);
}

/* ---- Sleep ---------------------------------------------------------------- */

static int sleep_main(void *arg)
{
    (void)arg;
    int64_t t0 = gort_now();
    gort_sleep(GORT_MS(20));
    int64_t dt = gort_now() - t0;
    cr_assert(ge(i64, dt, GORT_MS(20)));
    cr_assert(lt(i64, dt, LATE));
    return 0;
}

Test(time, sleep_lasts_at_least_the_requested_time)
{
    cr_assert(eq(int, run_rc(1, sleep_main, NULL), 0));
    cr_assert(eq(int, run_rc(2, sleep_main, NULL), 0));
}

static int sleep_zero_main(void *arg)
{
    (void)arg;
    int64_t t0 = gort_now();
    for (int i = 0; i < 1000; i++) {
        gort_sleep(0);
        gort_sleep(-GORT_S(1));
    }
    cr_assert(lt(i64, gort_now() - t0, LATE));
    return 0;
}

Test(time, sleep_of_zero_or_less_returns_at_once)
{
    cr_assert(eq(int, run_rc(1, sleep_zero_main, NULL), 0));
}

static _Atomic bool sleeper_done;

static void sleeper(void *arg)
{
    (void)arg;
    gort_sleep(GORT_MS(100));
    atomic_store(&sleeper_done, true);
}

static int others_run_main(void *arg)
{
    (void)arg;
    cr_assert(eq(int, gort_go(sleeper, NULL), 0));
    gort_yield(); /* the sleeper runs and parks; we run again at once */
    int work = 0;
    while (work < 1000)
        work++;
    cr_assert(not(atomic_load(&sleeper_done)),
              "main ran only after the sleeper woke: sleep blocked the P");
    while (!atomic_load(&sleeper_done))
        gort_sleep(GORT_MS(1));
    return work;
}

Test(time, sleeping_goroutine_lets_others_run_on_its_processor)
{
    cr_assert(eq(int, run_rc(1, others_run_main, NULL), 1000));
}

Test(time, sleep_outside_a_goroutine_blocks_the_thread)
{
    int64_t t0 = gort_now();
    gort_sleep(GORT_MS(10));
    cr_assert(ge(i64, gort_now() - t0, GORT_MS(10)));
}

static int only_sleeper_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        gort_sleep(GORT_MS(30));
    return 7;
}

Test(time, program_whose_only_goroutine_sleeps_is_not_deadlocked)
{
    cr_assert(eq(int, run_rc(1, only_sleeper_main, NULL), 7));
    cr_assert(eq(int, run_rc(4, only_sleeper_main, NULL), 7));
}

static void send_after_sleep(void *arg)
{
    gort_sleep(GORT_MS(50));
    int v = 1;
    gort_chan_send(arg, &v);
}

static int blocked_on_sleeper_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_go(send_after_sleep, c);
    int v = 0;
    cr_assert(gort_chan_recv(c, &v)); /* main blocked, other one sleeps */
    gort_chan_free(c);
    return v;
}

Test(time, receiver_waiting_on_a_sleeper_is_not_deadlocked)
{
    cr_assert(eq(int, run_rc(2, blocked_on_sleeper_main, NULL), 1));
}

/* ---- Many sleepers ------------------------------------------------------ */

struct many {
    _Atomic int done;
    _Atomic int early; /* sleeps that returned before their time */
    int sleeps;
};

static void many_sleeper(void *arg)
{
    struct many *m = arg;
    for (int i = 0; i < m->sleeps; i++) {
        int64_t t0 = gort_now();
        gort_sleep(GORT_MS(1));
        if (gort_now() - t0 < GORT_MS(1))
            atomic_fetch_add(&m->early, 1);
    }
    atomic_fetch_add(&m->done, 1);
}

static int many_main(void *arg)
{
    int n = *(int *)arg;
    struct many m = {.sleeps = 10};
    for (int i = 0; i < n; i++)
        cr_assert(eq(int, gort_go(many_sleeper, &m), 0));
    int64_t deadline = gort_now() + GORT_S(60);
    while (atomic_load(&m.done) < n && gort_now() < deadline)
        gort_sleep(GORT_MS(5));
    cr_assert(eq(int, atomic_load(&m.done), n));
    cr_assert(eq(int, atomic_load(&m.early), 0));
    return 0;
}

Test(time, hundred_thousand_goroutines_sleeping_ten_times_all_finish,
     .timeout = 120)
{
    int n = SCALE(100000, 10000);
    cr_assert(eq(int, run_rc(2, many_main, &n), 0));
}

Test(time, many_sleepers_on_eight_procs_all_finish, .timeout = 60)
{
    int n = SCALE(20000, 2000);
    cr_assert(eq(int, run_rc(8, many_main, &n), 0));
}

/* ---- gort_after --------------------------------------------------------- */

static int after_main(void *arg)
{
    (void)arg;
    int64_t t0 = gort_now();
    gort_chan *c = gort_after(GORT_MS(10));
    cr_assert(not(eq(ptr, c, NULL)));
    int64_t v = 0;
    cr_assert(recv_time(c, &v));
    int64_t t1 = gort_now();
    cr_assert(ge(i64, t1 - t0, GORT_MS(10)));
    cr_assert(ge(i64, v, t0 + GORT_MS(10)), "value is the due time");
    cr_assert(le(i64, v, t1));
    gort_sleep(GORT_MS(30));
    cr_assert(not(tryrecv_time(c)), "gort_after sends exactly once");
    gort_chan_free(c);
    return 0;
}

Test(time, after_delivers_the_time_once)
{
    cr_assert(eq(int, run_rc(2, after_main, NULL), 0));
}

static int after_free_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        gort_chan_free(gort_after(GORT_MS(i % 5)));
    gort_sleep(GORT_MS(50)); /* they fire into channels nobody holds */
    return 0;
}

Test(time, after_channel_freed_before_it_fires_is_safe)
{
    cr_assert(eq(int, run_rc(2, after_free_main, NULL), 0));
}

static int after_select_main(void *arg)
{
    (void)arg;
    gort_chan *never = gort_chan_make(sizeof(int), 0);
    int timeouts = 0;
    for (int i = 0; i < 20; i++) {
        gort_chan *to = gort_after(GORT_MS(1));
        int x;
        int64_t v;
        bool ok;
        int k = gort_select((gort_select_case[]){GORT_RECV(never, &x, &ok),
                                                 GORT_RECV(to, &v, &ok)},
                            2);
        timeouts += k == 1;
        gort_chan_free(to);
    }
    gort_chan_free(never);
    return timeouts;
}

Test(time, after_works_as_a_select_timeout)
{
    cr_assert(eq(int, run_rc(2, after_select_main, NULL), 20));
}

/* ---- Timers ------------------------------------------------------------- */

static int stop_before_main(void *arg)
{
    (void)arg;
    gort_timer *t = gort_timer_new(GORT_MS(50));
    cr_assert(gort_timer_stop(t), "stopping a pending timer returns true");
    gort_sleep(GORT_MS(100));
    cr_assert(not(tryrecv_time(gort_timer_chan(t))));
    cr_assert(not(gort_timer_stop(t)), "a stopped timer stops no more");
    gort_timer_free(t);
    return 0;
}

Test(time, timer_stopped_before_firing_returns_true_and_sends_nothing)
{
    cr_assert(eq(int, run_rc(2, stop_before_main, NULL), 0));
}

static int stop_after_recv_main(void *arg)
{
    (void)arg;
    gort_timer *t = gort_timer_new(GORT_MS(5));
    int64_t v;
    cr_assert(recv_time(gort_timer_chan(t), &v));
    cr_assert(not(gort_timer_stop(t)), "stop after receive returns false");
    gort_timer_free(t);
    return 0;
}

Test(time, timer_stopped_after_its_value_was_received_returns_false)
{
    cr_assert(eq(int, run_rc(2, stop_after_recv_main, NULL), 0));
}

static int stop_unreceived_main(void *arg)
{
    (void)arg;
    gort_timer *t = gort_timer_new(GORT_MS(1));
    gort_sleep(GORT_MS(30)); /* fired; value waits in the channel */
    cr_assert(gort_timer_stop(t), "Go 1.23: unreceived counts as active");
    cr_assert(not(tryrecv_time(gort_timer_chan(t))),
              "no stale value after Stop");
    gort_timer_free(t);
    return 0;
}

Test(time, timer_stopped_after_firing_but_before_receive_leaves_no_value)
{
    cr_assert(eq(int, run_rc(2, stop_unreceived_main, NULL), 0));
}

static int reset_stale_main(void *arg)
{
    (void)arg;
    gort_timer *t = gort_timer_new(GORT_MS(1));
    gort_sleep(GORT_MS(30)); /* fired; stale value in the channel */
    int64_t t0 = gort_now();
    cr_assert(gort_timer_reset(t, GORT_MS(50)));
    cr_assert(not(tryrecv_time(gort_timer_chan(t))),
              "no stale value after Reset");
    int64_t v;
    cr_assert(recv_time(gort_timer_chan(t), &v));
    cr_assert(ge(i64, v, t0 + GORT_MS(50)), "the value is the new one");
    cr_assert(ge(i64, gort_now() - t0, GORT_MS(50)));
    gort_timer_free(t);
    return 0;
}

Test(time, timer_reset_drops_the_stale_value)
{
    cr_assert(eq(int, run_rc(2, reset_stale_main, NULL), 0));
}

static int reset_pending_main(void *arg)
{
    (void)arg;
    gort_timer *t = gort_timer_new(GORT_S(100));
    int64_t t0 = gort_now();
    cr_assert(gort_timer_reset(t, GORT_MS(10)), "was pending");
    int64_t v;
    cr_assert(recv_time(gort_timer_chan(t), &v));
    cr_assert(lt(i64, gort_now() - t0, LATE), "deadline moved earlier");
    cr_assert(not(gort_timer_reset(t, GORT_MS(5))), "fired and received");
    cr_assert(recv_time(gort_timer_chan(t), &v), "a reset timer fires again");
    cr_assert(not(gort_timer_stop(t)));
    cr_assert(not(gort_timer_reset(t, GORT_MS(1))), "was stopped");
    cr_assert(recv_time(gort_timer_chan(t), &v));
    gort_timer_free(t);
    return 0;
}

Test(time, timer_reset_reports_whether_it_was_active)
{
    cr_assert(eq(int, run_rc(1, reset_pending_main, NULL), 0));
}

static int free_pending_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++)
        gort_timer_free(gort_timer_new(GORT_US(i % 50)));
    gort_sleep(GORT_MS(20));
    return 0;
}

Test(time, timers_freed_while_pending_or_firing_are_safe)
{
    cr_assert(eq(int, run_rc(2, free_pending_main, NULL), 0));
}

/* ---- AfterFunc ---------------------------------------------------------- */

struct fn_rec {
    _Atomic int calls;
    _Atomic uint64_t goid;
};

static void record(void *arg)
{
    struct fn_rec *r = arg;
    atomic_store(&r->goid, gort_id());
    atomic_fetch_add(&r->calls, 1);
}

static int func_main(void *arg)
{
    (void)arg;
    struct fn_rec r = {0};
    gort_timer *t = gort_timer_func(GORT_MS(5), record, &r);
    cr_assert(eq(ptr, gort_timer_chan(t), NULL));
    cr_assert(eq(int, wait_for(&r.calls, 1), 1));
    uint64_t id = atomic_load(&r.goid);
    cr_assert(not(eq(u64, id, 0)), "fn ran in a goroutine");
    cr_assert(not(eq(u64, id, gort_id())), "fn ran in its own goroutine");
    cr_assert(not(gort_timer_stop(t)), "already started");
    gort_sleep(GORT_MS(20));
    cr_assert(eq(int, atomic_load(&r.calls), 1), "runs once");
    cr_assert(not(gort_timer_reset(t, GORT_MS(1))));
    cr_assert(eq(int, wait_for(&r.calls, 2), 2), "reset runs it again");
    gort_timer_free(t);
    return 0;
}

Test(time, after_func_runs_fn_once_in_its_own_goroutine)
{
    cr_assert(eq(int, run_rc(2, func_main, NULL), 0));
}

static int func_stop_main(void *arg)
{
    (void)arg;
    struct fn_rec r = {0};
    gort_timer *t = gort_timer_func(GORT_MS(30), record, &r);
    cr_assert(gort_timer_stop(t));
    gort_sleep(GORT_MS(80));
    cr_assert(eq(int, atomic_load(&r.calls), 0));
    gort_timer_free(t);
    return 0;
}

Test(time, after_func_stopped_before_firing_never_runs)
{
    cr_assert(eq(int, run_rc(2, func_stop_main, NULL), 0));
}

/* ---- Tickers ------------------------------------------------------------ */

static int ticker_main(void *arg)
{
    (void)arg;
    int64_t t0 = gort_now(), prev = t0;
    gort_ticker *tk = gort_ticker_new(GORT_MS(5));
    for (int i = 0; i < 5; i++) {
        int64_t v;
        cr_assert(recv_time(gort_ticker_chan(tk), &v));
        cr_assert(gt(i64, v, prev), "ticks move forward");
        prev = v;
    }
    int64_t dt = gort_now() - t0;
    cr_assert(ge(i64, dt, GORT_MS(25)));
    cr_assert(lt(i64, dt, 5 * LATE));
    gort_ticker_stop(tk);
    gort_sleep(GORT_MS(30));
    cr_assert(not(tryrecv_time(gort_ticker_chan(tk))), "no tick after stop");
    gort_ticker_reset(tk, GORT_MS(2));
    int64_t v;
    cr_assert(recv_time(gort_ticker_chan(tk), &v), "reset restarts it");
    gort_ticker_free(tk);
    return 0;
}

Test(time, ticker_ticks_until_stopped_and_restarts_on_reset)
{
    cr_assert(eq(int, run_rc(2, ticker_main, NULL), 0));
}

static int ticker_slow_main(void *arg)
{
    (void)arg;
    gort_ticker *tk = gort_ticker_new(GORT_MS(1));
    gort_sleep(GORT_MS(30)); /* about 30 ticks due, at most 1 buffered */
    cr_assert(le(u64, gort_chan_len(gort_ticker_chan(tk)), 1));
    gort_ticker_free(tk);
    return 0;
}

Test(time, ticker_drops_ticks_for_a_slow_receiver)
{
    cr_assert(eq(int, run_rc(1, ticker_slow_main, NULL), 0));
}

/* death_output runs fn in a child's gort_run and returns its stderr and
 * exit status. */
static int death_output(int (*fn)(void *), char *buf, size_t len)
{
    int fds[2];
    cr_assert(eq(int, pipe(fds), 0));
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        _exit(gort_run(fn, NULL));
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < len && (r = read(fds[0], buf + n, len - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int ticker_zero_main(void *arg)
{
    (void)arg;
    gort_ticker_new(0);
    return 0;
}

static int ticker_reset_zero_main(void *arg)
{
    (void)arg;
    gort_ticker *tk = gort_ticker_new(GORT_MS(1));
    gort_ticker_reset(tk, -1);
    return 0;
}

Test(time, ticker_with_non_positive_period_panics_as_go_does)
{
    char buf[4096];
    cr_assert(eq(int, death_output(ticker_zero_main, buf, sizeof buf), 2));
    cr_assert(not(eq(ptr,
                     strstr(buf, "panic: non-positive interval for NewTicker"),
                     NULL)),
              "stderr: %s", buf);
    cr_assert(eq(int, death_output(ticker_reset_zero_main, buf, sizeof buf),
                 2));
    cr_assert(not(eq(ptr,
                     strstr(buf,
                            "panic: non-positive interval for Ticker.Reset"),
                     NULL)),
              "stderr: %s", buf);
}

/* ---- Heaps: order, idle Ps, moves --------------------------------------- */

enum { ORDER_N = 2000 };

struct order {
    struct timer t[ORDER_N];
    int64_t fired[ORDER_N]; /* when of each firing, in firing order */
    int nfired;
};

static void order_fire(void *arg, uintptr_t seq, int64_t when)
{
    (void)when;
    struct order *o = arg;
    o->fired[o->nfired++] = o->t[seq].when;
}

/* await_fired sleeps until *nfired reaches want or deadline passes. */
static void await_fired(const int *nfired, int want, int64_t deadline)
{
    gort_sleep(GORT_MS(80));
    while (*nfired < want && gort_now() < deadline)
        gort_sleep(GORT_MS(1));
}

/* assert_in_order checks that want firings were recorded in fired, due
 * times never going back. */
static void assert_in_order(const int64_t *fired, int nfired, int want)
{
    cr_assert(eq(int, nfired, want));
    for (int i = 1; i < nfired; i++)
        cr_assert(le(i64, fired[i - 1], fired[i]), "fired in order");
}

static int order_main(void *arg)
{
    struct order *o = arg;
    int64_t base = gort_now() + GORT_MS(50);
    int armed = 0;
    for (int i = 0; i < ORDER_N; i++) {
        gort__timer_init(&o->t[i], order_fire, o);
        gort__timer_reset(&o->t[i], base + (int64_t)(rand() % 20000) * 1000,
                          0, (uintptr_t)i);
    }
    for (int i = 0; i < ORDER_N; i++) {
        if (i % 3 == 0) /* stop some, move others: exercise heap_del/fix */
            gort__timer_stop(&o->t[i]);
        else if (i % 3 == 1)
            gort__timer_reset(&o->t[i], base + (int64_t)(rand() % 20000) *
                                                   1000, 0, (uintptr_t)i);
        armed += i % 3 != 0;
    }
    await_fired(&o->nfired, armed, base + LATE);
    for (int i = 0; i < ORDER_N; i++)
        gort__timer_wait(&o->t[i]);
    assert_in_order(o->fired, o->nfired, armed);
    return 0;
}

Test(time, heap_fires_timers_in_deadline_order)
{
    /* One P: every callback runs on it, one after another. */
    struct order *o = calloc(1, sizeof *o);
    srand(42);
    cr_assert(eq(int, run_rc(1, order_main, o), 0));
    free(o);
}

/* Handoff timers (gort_after's kind) armed partly in due order, which the
 * in-order queue takes, and partly out of it, which the heap takes,
 * interleaved with plain timers: one P must fire all of them in due order
 * whichever structure holds each. */
enum { MIXED_N = 3000 };

struct mixed {
    struct timer t[MIXED_N];
    int64_t fired[MIXED_N];
    int nfired;
};

static void mixed_fire(void *arg, uintptr_t seq, int64_t when)
{
    (void)seq;
    struct mixed *m = arg;
    m->fired[m->nfired++] = when;
}

static int mixed_main(void *arg)
{
    struct mixed *m = arg;
    int64_t base = gort_now() + GORT_MS(50), ordered = base;
    for (int i = 0; i < MIXED_N; i++) {
        int64_t when;
        if (i % 3 == 0) {
            gort__timer_init(&m->t[i], mixed_fire, m);
            when = base + (int64_t)(rand() % 20000) * 1000;
        } else {
            gort__timer_init_handoff(&m->t[i], mixed_fire, m);
            if (i % 3 == 1) /* in order: the in-order queue */
                when = ordered += (rand() % 3) * 5000;
            else /* early or late: the heap, or the queue's new tail */
                when = base + (int64_t)(rand() % 20000) * 1000;
        }
        gort__timer_reset(&m->t[i], when, 0, (uintptr_t)i);
    }
    await_fired(&m->nfired, MIXED_N, base + GORT_MS(20) + LATE);
    for (int i = 0; i < MIXED_N; i += 3) /* handoff timers: never waited */
        gort__timer_wait(&m->t[i]);
    assert_in_order(m->fired, m->nfired, MIXED_N);
    return 0;
}

Test(time, timers_armed_in_and_out_of_order_fire_in_deadline_order)
{
    struct mixed *m = calloc(1, sizeof *m);
    srand(7);
    cr_assert(eq(int, run_rc(1, mixed_main, m), 0));
    free(m);
}

/* Sleepers of three durations, started in an order that puts some in the
 * in-order queue and some on the heap: each sleeps at least its time. */
struct sleepers {
    gort_wg wg;
    _Atomic int early;
};

static void mixed_sleeper(void *arg)
{
    struct sleepers *s = arg;
    int64_t d = GORT_MS(1 + (int64_t)(gort_id() % 3) * 2);
    for (int i = 0; i < 5; i++) {
        int64_t t0 = gort_now();
        gort_sleep(d);
        if (gort_now() - t0 < d)
            atomic_fetch_add(&s->early, 1);
    }
    gort_wg_done(&s->wg);
}

static int mixed_sleep_main(void *arg)
{
    struct sleepers *s = arg;
    gort_wg_add(&s->wg, 3000);
    for (int i = 0; i < 3000; i++)
        cr_assert(eq(int, gort_go(mixed_sleeper, s), 0));
    gort_wg_wait(&s->wg);
    cr_assert(eq(int, atomic_load(&s->early), 0), "a sleep ended early");
    return 0;
}

Test(time, sleepers_of_mixed_durations_each_sleep_their_time)
{
    struct sleepers s = {0};
    cr_assert(eq(int, run_rc(1, mixed_sleep_main, &s), 0));
    cr_assert(eq(int, run_rc(4, mixed_sleep_main, &s), 0));
}

struct idle {
    _Atomic int fired;
    _Atomic bool created;
    struct p *creator_p;
    gort_timer *t[40];
    _Atomic int nt;
};

static void count_fn(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

static void idle_creator(void *arg)
{
    struct idle *s = arg;
    s->creator_p = gort__getm()->p;
    for (int i = 0; i < 10; i++)
        s->t[i] = gort_timer_func(GORT_MS(20 + i), count_fn, &s->fired);
    atomic_store(&s->created, true);
    /* exits: its P has nothing left to run but the timers */
}

/* idle_round spawns a creator and busy-waits, so the creator normally
 * runs on the other P, which then goes idle holding the timers. Returns
 * whether it did (the case under test); the timers must fire either way. */
static bool idle_round(struct idle *s)
{
    struct p *mine = gort__getm()->p;
    atomic_store(&s->fired, 0);
    atomic_store(&s->created, false);
    gort_go(idle_creator, s);
    /* Busy-wait without parking: this P stays busy with us. */
    int64_t deadline = gort_now() + 5 * LATE;
    while (!atomic_load(&s->created) && gort_now() < deadline)
        ;
    cr_assert(atomic_load(&s->created));
    bool idle_p = s->creator_p != mine;
    while (atomic_load(&s->fired) < 10 && gort_now() < deadline)
        ;
    cr_assert(eq(int, atomic_load(&s->fired), 10));
    for (int i = 0; i < 10; i++)
        gort_timer_free(s->t[i]);
    return idle_p;
}

static int idle_main(void *arg)
{
    /* Sysmon may preempt the busy-waiting main goroutine, or a loaded
     * machine may not run the other P's thread in time, and then the
     * creator runs on main's P: retry until a round exercised the idle P.
     * Every round checks that all the timers fire. No warning when none
     * did: Criterion exits 1 on a logged warning. */
    bool exercised = false;
    for (int round = 0; round < 20 && !exercised; round++)
        exercised = idle_round(arg);
    return 0;
}

Test(time, timers_of_an_idle_processor_still_fire)
{
    struct idle s = {0};
    cr_assert(eq(int, run_rc(2, idle_main, &s), 0));
}

static void spread_creator(void *arg)
{
    struct idle *s = arg;
    s->t[atomic_fetch_add(&s->nt, 1)] =
        gort_timer_func(GORT_MS(50), count_fn, &s->fired);
}

static int shrink_main(void *arg)
{
    struct idle *s = arg;
    for (int i = 0; i < 40; i++) {
        gort_go(spread_creator, s);
        if (i % 4 == 0)
            gort_sleep(GORT_US(100)); /* let other Ps pick some up */
    }
    gort_sleep(GORT_MS(5));
    cr_assert(eq(int, gort_maxprocs(1), 4));
    cr_assert(eq(int, wait_for(&s->fired, 40), 40),
              "timers of removed processors moved and fired");
    for (int i = 0; i < 40; i++)
        gort_timer_free(s->t[i]);
    return 0;
}

Test(time, timers_survive_shrinking_maxprocs)
{
    struct idle s = {0};
    cr_assert(eq(int, run_rc(4, shrink_main, &s), 0));
}

static void long_sleeper(void *arg)
{
    gort_sleep(GORT_MS(30));
    atomic_fetch_add((_Atomic int *)arg, 1);
}

static int shrink_sleep_main(void *arg)
{
    _Atomic int *woke = arg;
    for (int i = 0; i < 400; i++) {
        gort_go(long_sleeper, woke);
        if (i % 20 == 0)
            gort_sleep(GORT_US(100)); /* let other Ps pick some up */
    }
    gort_sleep(GORT_MS(5));
    cr_assert(eq(int, gort_maxprocs(1), 4));
    cr_assert(eq(int, wait_for(woke, 400), 400),
              "sleepers of removed processors moved and woke");
    return 0;
}

Test(time, sleepers_survive_shrinking_maxprocs)
{
    _Atomic int woke = 0;
    cr_assert(eq(int, run_rc(4, shrink_sleep_main, &woke), 0));
}

/* ---- Stress ------------------------------------------------------------- */

struct stress {
    _Atomic int done;
    _Atomic int bad;
    int rounds;
};

static void stress_worker(void *arg)
{
    struct stress *st = arg;
    gort_timer *t = gort_timer_new(GORT_US(gort_id() % 300));
    gort_chan *c = gort_timer_chan(t);
    for (int i = 0; i < st->rounds; i++) {
        int64_t ns = GORT_US((gort_id() * 7 + (uint64_t)i * 13) % 500);
        int64_t v;
        switch (i % 4) {
        case 0: /* reset, then the value must be the new one */
        {
            int64_t t0 = gort_now();
            gort_timer_reset(t, ns);
            if (!recv_time(c, &v) || v < t0 + ns)
                atomic_fetch_add(&st->bad, 1);
            break;
        }
        case 1: /* stop: nothing may arrive afterwards */
            gort_timer_reset(t, ns / 4);
            gort_sleep(ns / 4);
            gort_timer_stop(t);
            if (tryrecv_time(c))
                atomic_fetch_add(&st->bad, 1);
            break;
        case 2: /* sleep, racing the timers of others */
            gort_sleep(ns);
            break;
        default: /* a throwaway gort_after */
            gort_chan_free(gort_after(ns));
            break;
        }
    }
    gort_timer_free(t);
    atomic_fetch_add(&st->done, 1);
}

static int stress_main(void *arg)
{
    int n = 64;
    struct stress st = {.rounds = *(int *)arg};
    for (int i = 0; i < n; i++)
        gort_go(stress_worker, &st);
    cr_assert(eq(int, wait_for(&st.done, n), n));
    cr_assert(eq(int, atomic_load(&st.bad), 0),
              "stale or early timer values seen");
    gort_sleep(GORT_MS(20)); /* let the last gort_after timers fire */
    return 0;
}

Test(time, stress_timers_stop_and_reset_concurrently_on_one_proc,
     .timeout = 60)
{
    int rounds = SCALE(400, 40);
    cr_assert(eq(int, run_rc(1, stress_main, &rounds), 0));
}

Test(time, stress_timers_stop_and_reset_concurrently_on_two_procs,
     .timeout = 60)
{
    int rounds = SCALE(400, 40);
    cr_assert(eq(int, run_rc(2, stress_main, &rounds), 0));
}

Test(time, stress_timers_stop_and_reset_concurrently_on_eight_procs,
     .timeout = 60)
{
    int rounds = SCALE(400, 40);
    cr_assert(eq(int, run_rc(8, stress_main, &rounds), 0));
}

/* ---- By-value AfterFunc, Tick, select with a timeout, wall clock ------- */

struct tf_arg {
    int v;
    gort_chan *out;
};

static void tf_body(void *arg)
{
    struct tf_arg *a = arg;
    gort_chan_send(a->out, &a->v);
}

static int timer_func_copy_main(void *arg)
{
    (void)arg;
    gort_chan *out = gort_chan_make(sizeof(int), 4);
    gort_timer *ts[3];
    for (int i = 0; i < 3; i++) {
        struct tf_arg a = {10 + i, out}; /* dies with this iteration */
        ts[i] = gort_timer_func_copy(GORT_MS(1), tf_body, &a, sizeof a);
        cr_assert(ne(ptr, ts[i], NULL));
    }
    int sum = 0, v;
    for (int i = 0; i < 3; i++) {
        cr_assert(gort_chan_recv(out, &v));
        sum += v;
    }
    cr_assert(eq(int, sum, 33));
    /* A reset fires again, with a fresh copy of the same bytes. */
    cr_assert(not(gort_timer_reset(ts[1], GORT_MS(1))));
    cr_assert(gort_chan_recv(out, &v));
    cr_assert(eq(int, v, 11));
    for (int i = 0; i < 3; i++)
        gort_timer_free(ts[i]);
    struct tf_arg a = {0, out};
    cr_assert(eq(ptr, gort_timer_func_copy(1, NULL, &a, sizeof a), NULL));
    cr_assert(eq(ptr, gort_timer_func_copy(1, tf_body, NULL, 4), NULL));
    cr_assert(eq(ptr, gort_timer_func_copy(1, tf_body, &a,
                                           GORT_GO_COPY_MAX + 1), NULL));
    gort_chan_free(out);
    return 0;
}

Test(time, timer_func_copy_runs_fn_on_its_own_copy_each_firing)
{
    cr_assert(eq(int, run_rc(2, timer_func_copy_main, NULL), 0));
}

static int tick_main(void *arg)
{
    (void)arg;
    cr_assert(eq(ptr, gort_tick(0), NULL));
    cr_assert(eq(ptr, gort_tick(-5), NULL));
    int64_t t0 = gort_now(), prev = 0, v; /* before the ticker starts */
    gort_chan *c = gort_tick(GORT_MS(2));
    cr_assert(ne(ptr, c, NULL));
    for (int i = 0; i < 3; i++) {
        cr_assert(gort_chan_recv(c, &v));
        cr_assert(gt(i64, v, prev)); /* due times move forward */
        prev = v;
    }
    cr_assert(ge(i64, gort_now() - t0, GORT_MS(4))); /* at least 2 periods */
    return 0;
}

Test(time, tick_ticks_without_a_handle)
{
    cr_assert(eq(int, run_rc(2, tick_main, NULL), 0));
}

static void late_sender(void *arg)
{
    gort_sleep(GORT_MS(5));
    gort_chan_send(arg, &(int){7});
}

static int select_timeout_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    int v = 0;
    bool ok = false;
    gort_select_case cs[] = {GORT_RECV(c, &v, &ok)};
    /* Nothing comes: the timeout, no sooner than asked. */
    int64_t t0 = gort_now();
    cr_assert(eq(int, gort_select_timeout(cs, 1, GORT_MS(5)),
                 GORT_SELECT_TIMEOUT));
    cr_assert(ge(i64, gort_now() - t0, GORT_MS(5)));
    cr_assert(not(ok));
    /* A value before the timeout wins, with its ok. */
    cr_assert(eq(int, gort_go(late_sender, c), 0));
    cr_assert(eq(int, gort_select_timeout(cs, 1, LATE * 5), 0));
    cr_assert(ok);
    cr_assert(eq(int, v, 7));
    /* A ready case beats an expired timeout more often than never. */
    gort_chan *ready = gort_chan_make(sizeof(int), 1);
    gort_select_case rs[] = {GORT_RECV(ready, &v, NULL)};
    int won = 0;
    for (int i = 0; i < 50; i++) {
        gort_chan_trysend(ready, &i);
        if (gort_select_timeout(rs, 1, 0) == 0)
            won++;
        else
            gort_chan_tryrecv(ready, NULL, NULL);
    }
    cr_assert(gt(int, won, 0));
    /* No cases: a plain sleep that reports the timeout. */
    cr_assert(eq(int, gort_select_timeout(NULL, 0, GORT_MS(1)),
                 GORT_SELECT_TIMEOUT));
    cr_assert(eq(int, gort_select_timeout(NULL, 1, 1), -EINVAL));
    cr_assert(eq(int, gort_select_timeout(cs, -1, 1), -EINVAL));
    settle();
    gort_chan_free(ready);
    gort_chan_free(c);
    return 0;
}

Test(time, select_timeout_returns_a_case_or_the_timeout)
{
    cr_assert(eq(int, run_rc(2, select_timeout_main, NULL), 0));
}

static int wall_main(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t before = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int64_t w = gort_wall_now();
    cr_assert(ge(i64, w, before));
    cr_assert(lt(i64, w - before, LATE));
    /* A tick's wall time lies between the wall clock before it was due
     * and after it was received (minus nothing: it was due earlier). */
    gort_timer *t = gort_timer_new(GORT_MS(2));
    int64_t due;
    cr_assert(gort_chan_recv(gort_timer_chan(t), &due));
    int64_t after = gort_wall_now();
    int64_t wall_due = gort_wall_of(due);
    cr_assert(ge(i64, wall_due, before), "%lld < %lld", (long long)wall_due,
              (long long)before);
    cr_assert(le(i64, wall_due, after));
    cr_assert(ge(i64, wall_due, w + GORT_MS(2) - GORT_MS(1)));
    gort_timer_free(t);
    return 0;
}

Test(time, wall_clock_reading_of_a_tick_is_its_due_time)
{
    cr_assert(eq(int, run_rc(2, wall_main, NULL), 0));
}
