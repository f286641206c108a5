/*
 * time.c: the runtime's side of Go's time package: the clocks (gort_now,
 * the wall clock) and sleep. Timers with channels or functions, After and
 * tickers live in chan/timechan.c, on the runtime timers of timer.c.
 *
 * Invariants: a sleeping goroutine is its own timer-heap entry (timer.c,
 * E_SLEEPER), put there by the park commit function (Go: resetForSleep),
 * so it cannot fire before the goroutine is parked; the firing readies
 * it. A sleep allocates nothing and needs no cleanup.
 * Locking: none here; the heap's lock is taken in timer.c.
 * See also: include/gort/time.h, runtime/timer.c, chan/timechan.c,
 * docs/time.md.
 */
#include <errno.h>
#include <time.h>

#include "runtime.h"

int64_t gort_now(void)
{
    gort__preempt_point();
    return gort__nanotime();
}

/* ---- Sleep -------------------------------------------------------------- */

/* sleep_commit puts the sleeper on a timer heap once it is off its stack
 * (Go: resetForSleep), so even a 1 ns sleep cannot fire before it is
 * parked. Runs on g0 with the P. */
static bool sleep_commit(struct g *gp, void *arg)
{
    gort__timers_sleep(gp, *(int64_t *)arg);
    return true;
}

/* thread_sleep blocks a thread the runtime does not schedule. */
static void thread_sleep(int64_t ns)
{
    int saved = errno;
    int64_t when = gort__when_of(ns);
    struct timespec ts = {.tv_sec = when / 1000000000,
                          .tv_nsec = when % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR)
        ;
    errno = saved;
}

void gort_sleep(int64_t ns)
{
    RT_ENTRY();
    if (ns <= 0)
        return;
    struct g *gp = gort__getg();
    if (gp == NULL) {
        thread_sleep(ns);
        return;
    }
    int64_t now = gort__nanotime();
    int64_t when = gort__when_after(now, ns);
    /* The switch checks for due timers next: spare it a clock read. */
    gp->m->now_hint = now;
    gort__park(sleep_commit, &when, WAIT_SLEEP);
}
/* ---- Wall clock --------------------------------------------------------- */

int64_t gort_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t gort_wall_of(int64_t mono)
{
    /* Read the monotonic clock between two wall readings and take their
     * midpoint, so a wall step between the reads costs at most their gap. */
    int64_t w0 = gort_wall_now();
    int64_t m = gort__nanotime();
    int64_t w1 = gort_wall_now();
    return w0 + (w1 - w0) / 2 - (m - mono);
}
