/*
 * timechan.c: the channel side of Go's time package (After, NewTimer,
 * AfterFunc, NewTicker, Tick) on top of the runtime timers of
 * runtime/timer.c: the scheduler runs timers, this file makes their
 * firings channel sends or new goroutines. Sleep and the clocks stay in
 * runtime/time.c.
 *
 * Invariants:
 *  - A gort_timer/gort_ticker firing sends only if the seq it was armed
 *    with is still gt->seq. Stop and Reset bump gt->seq and drain the
 *    one-value buffer under gt->mu, and the firing send also happens under
 *    gt->mu: so no value from before a Stop/Reset can be received after it
 *    returns (Go 1.23 synchronous timers, done with a buffer of one).
 *  - gt->active: a one-shot timer armed with gt->seq has not delivered
 *    yet (it is on a heap, or its firing is in flight).
 *  - A gort_after timer has no handle: its firing sends, drops the timer's
 *    channel reference and frees the timer itself (TIMER_HANDOFF).
 *
 * Locking: gt->mu, then the runtime timer's t->mu and heap lock (inside
 * gort__timer_reset/_stop), or gt->mu then a channel lock (sends and
 * drains). gt->mu ranks below channel locks: chan/ never takes it. The
 * firing path (timer.c) calls the callbacks here with no lock held.
 *
 * See also: include/gort/time.h, runtime/timer.c, runtime/time.c,
 * docs/time.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../runtime/runtime.h"

struct gort_timer {
    struct timer t;          /* the runtime timer; its arg is this */
    /* mu protects the fields below (and orders sends against Stop). */
    struct lock mu;
    gort_chan *c;            /* NULL for a func timer */
    void (*fn)(void *);      /* func timer: run in a new goroutine */
    void *arg;               /* its argument, or (copy) the bytes after
                              * this struct */
    size_t argsize;          /* copy: bytes each goroutine gets a copy of */
    bool copy;               /* gort_timer_func_copy */
    uintptr_t seq;           /* current arming; older firings are stale */
    int64_t last_when;       /* due time of this arming's latest firing */
    bool active;             /* one-shot armed and not yet delivered */
};

/* A ticker is a periodic gort_timer; a distinct type keeps the API's
 * timer and ticker calls from being mixed up at compile time. */
struct gort_ticker {
    struct gort_timer tm;
    struct gort_ticker *tick_next; /* gort_tick: the next in tick_list */
};

/* Every gort_tick ticker, never freed: no handle exists to free one by,
 * and an abandoned goroutine may still wait on its channel after
 * gort_run. Kept reachable, so leak checkers see memory in use, not
 * lost. Pushed with a CAS, never popped. */
static _Atomic(struct gort_ticker *) tick_list;

/* An unstoppable gort_after timer, freed by its own firing. */
struct after {
    struct timer t;
    gort_chan *c;            /* the timer's own channel reference */
};

/* ---- After -------------------------------------------------------------- */

/* after_fire sends the due time, then frees the timer (TIMER_HANDOFF).
 * The buffer is empty: this is the only send. */
static void after_fire(void *arg, uintptr_t seq, int64_t when)
{
    (void)seq;
    struct after *a = arg;
    gort_chan_trysend(a->c, &when);
    gort_chan_free(a->c);
    free(a);
}

gort_chan *gort_after(int64_t ns)
{
    RT_ENTRY();
    gort_chan *c = gort_chan_make(sizeof(int64_t), 1);
    if (c == NULL)
        return NULL;
    struct after *a = malloc(sizeof *a);
    if (a == NULL) {
        gort_chan_free(c);
        return NULL;
    }
    a->c = gort_chan_retain(c);
    gort__timer_init_handoff(&a->t, after_fire, a);
    /* a may fire and be freed on another thread as soon as it is armed. */
    gort__timer_reset(&a->t, gort__when_of(ns), 0, 0);
    return c;
}

/* ---- Timers and tickers ------------------------------------------------- */

/* chan_fire is a channel timer's callback (Go: sendTime). It sends the
 * due time, which Go approximates as Now() minus the lateness it measured.
 * A slow ticker receiver finds the buffer full and the tick is dropped,
 * as in Go. */
static void chan_fire(void *arg, uintptr_t seq, int64_t when)
{
    struct gort_timer *gt = arg;
    gort__lock(&gt->mu);
    /* A firing whose M the OS descheduled between the heap and here can
     * arrive after a later one of the same arming: drop it, as a tick
     * that met a full buffer is dropped, so ticks only move forward. */
    if (seq == gt->seq && when > gt->last_when) {
        gt->last_when = when;
        if (gt->t.period == 0)
            gt->active = false;
        gort_chan_trysend(gt->c, &when);
    }
    gort__unlock(&gt->mu);
}

/* go_from_g0 starts fn(arg) in a new goroutine from a timer callback,
 * which runs on g0 with a P: gort_go accepts that, as Go's goFunc does. */
static void go_from_g0(void (*fn)(void *), void *arg)
{
    if (gort_go(fn, arg) != 0)
        gort__throw("time: cannot start AfterFunc goroutine");
}

/* func_fire is a func timer's callback (Go: goFunc). */
static void func_fire(void *arg, uintptr_t seq, int64_t when)
{
    (void)when;
    struct gort_timer *gt = arg;
    gort__lock(&gt->mu);
    bool run = seq == gt->seq && gt->active;
    gt->active = false;
    void (*fn)(void *) = gt->fn;
    void *fnarg = gt->arg;
    gort__unlock(&gt->mu);
    /* gt stays valid: gort_timer_free waits for this callback. So do the
     * bytes of a copy timer, which the new goroutine copies here. */
    if (run && gt->copy && gort__go_copy(fn, fnarg, gt->argsize) != 0)
        gort__throw("time: cannot start AfterFunc goroutine");
    else if (run && !gt->copy)
        go_from_g0(fn, fnarg);
}

/* drain empties gt's channel buffer; true if a value was there. Caller
 * holds gt->mu, so no firing can refill it meanwhile. */
static bool drain(struct gort_timer *gt)
{
    bool any = false, ok;
    while (gt->c != NULL && gort_chan_tryrecv(gt->c, NULL, &ok) && ok)
        any = true;
    return any;
}

/* timer_alloc makes a stopped timer with callback f and channel if chan. */
static struct gort_timer *timer_alloc(size_t size, bool chan,
                                      void (*f)(void *, uintptr_t, int64_t))
{
    struct gort_timer *gt = calloc(1, size);
    if (gt == NULL)
        return NULL;
    if (chan && (gt->c = gort_chan_make(sizeof(int64_t), 1)) == NULL) {
        free(gt);
        return NULL;
    }
    gort__timer_init(&gt->t, f, gt);
    gort__lock_init(&gt->mu, LOCKRANK_TIMECHAN);
    return gt;
}

/* arm (re)starts gt at when (every period if > 0) with a new seq and
 * drains stale values. Returns whether gt was active (Go 1.23 Reset).
 * Caller holds gt->mu. */
static bool arm(struct gort_timer *gt, int64_t when, int64_t period)
{
    ASSERT_HELD(&gt->mu);
    gt->seq++;
    gt->last_when = 0;
    bool pending = gt->active;
    gort__timer_reset(&gt->t, when, period, gt->seq);
    gt->active = true;
    if (drain(gt))
        pending = true;
    return pending;
}

/* disarm stops gt and drains its channel; returns whether gt was active.
 * Caller holds gt->mu. */
static bool disarm(struct gort_timer *gt)
{
    ASSERT_HELD(&gt->mu);
    gt->seq++;
    gort__timer_stop(&gt->t);
    bool pending = gt->active;
    gt->active = false;
    if (drain(gt))
        pending = true;
    return pending;
}

gort_timer *gort_timer_new(int64_t ns)
{
    RT_ENTRY();
    struct gort_timer *gt = timer_alloc(sizeof *gt, true, chan_fire);
    if (gt == NULL)
        return NULL;
    gort__lock(&gt->mu);
    arm(gt, gort__when_of(ns), 0);
    gort__unlock(&gt->mu);
    return gt;
}

gort_timer *gort_timer_func(int64_t ns, void (*fn)(void *), void *arg)
{
    RT_ENTRY();
    if (fn == NULL)
        return NULL;
    struct gort_timer *gt = timer_alloc(sizeof *gt, false, func_fire);
    if (gt == NULL)
        return NULL;
    gt->fn = fn;
    gt->arg = arg;
    gort__lock(&gt->mu);
    arm(gt, gort__when_of(ns), 0);
    gort__unlock(&gt->mu);
    return gt;
}

gort_timer *gort_timer_func_copy(int64_t ns, void (*fn)(void *),
                                 const void *args, size_t size)
{
    RT_ENTRY();
    if (fn == NULL || (args == NULL && size > 0) || size > GORT_GO_COPY_MAX)
        return NULL;
    struct gort_timer *gt = timer_alloc(sizeof *gt + size, false, func_fire);
    if (gt == NULL)
        return NULL;
    gt->fn = fn;
    gt->arg = gt + 1;
    gt->argsize = size;
    gt->copy = true;
    if (size > 0)
        memcpy(gt + 1, args, size);
    gort__lock(&gt->mu);
    arm(gt, gort__when_of(ns), 0);
    gort__unlock(&gt->mu);
    return gt;
}

gort_chan *gort_timer_chan(gort_timer *gt)
{
    return gt->c;
}

bool gort_timer_stop(gort_timer *gt)
{
    RT_ENTRY();
    gort__lock(&gt->mu);
    bool pending = disarm(gt);
    gort__unlock(&gt->mu);
    return pending;
}

bool gort_timer_reset(gort_timer *gt, int64_t ns)
{
    RT_ENTRY();
    gort__lock(&gt->mu);
    bool pending = arm(gt, gort__when_of(ns), 0);
    gort__unlock(&gt->mu);
    return pending;
}

void gort_timer_free(gort_timer *gt)
{
    RT_ENTRY();
    if (gt == NULL)
        return;
    gort__lock(&gt->mu);
    disarm(gt);
    gort__unlock(&gt->mu);
    gort__timer_wait(&gt->t); /* a firing in flight still uses gt */
    gort_chan_free(gt->c);
    free(gt);
}

gort_ticker *gort_ticker_new(int64_t period)
{
    RT_ENTRY();
    if (period <= 0)
        gort__panic("non-positive interval for NewTicker");
    struct gort_ticker *tk = (struct gort_ticker *)timer_alloc(
        sizeof *tk, true, chan_fire);
    if (tk == NULL)
        return NULL;
    gort__lock(&tk->tm.mu);
    arm(&tk->tm, gort__when_of(period), period);
    gort__unlock(&tk->tm.mu);
    return tk;
}

gort_chan *gort_ticker_chan(gort_ticker *tk)
{
    return tk->tm.c;
}

void gort_ticker_stop(gort_ticker *tk)
{
    RT_ENTRY();
    gort__lock(&tk->tm.mu);
    disarm(&tk->tm);
    gort__unlock(&tk->tm.mu);
}

void gort_ticker_reset(gort_ticker *tk, int64_t period)
{
    RT_ENTRY();
    if (period <= 0)
        gort__panic("non-positive interval for Ticker.Reset");
    gort__lock(&tk->tm.mu);
    arm(&tk->tm, gort__when_of(period), period);
    gort__unlock(&tk->tm.mu);
}

void gort_ticker_free(gort_ticker *tk)
{
    RT_ENTRY();
    if (tk != NULL)
        gort_timer_free(&tk->tm);
}

gort_chan *gort_tick(int64_t period)
{
    RT_ENTRY();
    if (period <= 0)
        return NULL; /* Go: Tick returns nil for d <= 0 */
    gort_ticker *tk = gort_ticker_new(period);
    /* The ticker has no handle: it ticks until gort_run returns, when the
     * heaps it lives on are abandoned (Go before 1.23: it leaks). */
    if (tk == NULL)
        return NULL;
    tk->tick_next = atomic_load_explicit(&tick_list, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        &tick_list, &tk->tick_next, tk, memory_order_release,
        memory_order_relaxed))
        ;
    return gort_ticker_chan(tk);
}

/* ---- Select with a timeout ---------------------------------------------- */

/* select_timeout_run is gort_select_timeout with room for n + 1 cases. */
static int select_timeout_run(gort_select_case *cases, int n, int64_t ns,
                              gort_select_case *all)
{
    gort_timer *t = gort_timer_new(ns);
    if (t == NULL)
        return -ENOMEM;
    int64_t due;
    if (n > 0) /* cases may be NULL when n is 0 */
        memcpy(all, cases, (size_t)n * sizeof *all);
    all[n] = (gort_select_case){gort_timer_chan(t), GORT_SELECT_RECV, &due,
                                NULL};
    int r = gort_select(all, n + 1);
    gort_timer_free(t);
    return r == n ? GORT_SELECT_TIMEOUT : r; /* targets were written
                                               * through the copied cases */
}

int gort_select_timeout(gort_select_case *cases, int n, int64_t ns)
{
    RT_ENTRY();
    if (n < 0 || n >= GORT_SELECT_MAX || (n > 0 && cases == NULL))
        return -EINVAL;
    if (n < GORT_SELECT_STACK_CASES) {
        gort_select_case all[GORT_SELECT_STACK_CASES];
        return select_timeout_run(cases, n, ns, all);
    }
    gort_select_case *all = malloc(((size_t)n + 1) * sizeof *all);
    if (all == NULL)
        return -ENOMEM;
    int r = select_timeout_run(cases, n, ns, all);
    free(all);
    return r;
}
