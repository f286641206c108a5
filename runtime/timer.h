/*
 * timer.h: per-P timer heaps (Go: time.go), the contract between the
 * scheduler and runtime/timer.c.
 *
 * Each P owns a 4-ary min-heap of timers ordered by `when`, under its own
 * lock. The scheduler runs expired timers on the P it holds (and on other
 * Ps while stealing, so timers of an idle P still fire), and sleeps no
 * longer than the earliest `when` of all Ps.
 *
 * Lock order (runtime.h): sched.lock < timer.mu < timers.lock. Callbacks
 * and gort__sched_timer_added run with no timer lock held; gort_maxprocs
 * calls gort__timers_move while holding sched.lock.
 */
#ifndef GORT_TIMER_H
#define GORT_TIMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lock.h"

struct g;
struct p;
struct timer;

/*
 * struct timer: one runtime timer (Go: runtime.timer). Embedded by its
 * owner (a sleeping G, a gort_timer, a poll descriptor's deadline), never
 * allocated by the heap code. f runs on g0 with a P when the timer fires,
 * holding no timer lock; it must not park. Its third argument is the time
 * the firing was due (its `when`), not the clock when f runs: a caller's
 * `now` can be milliseconds stale when the OS preempts the M, and ticks
 * derived from it would not increase. seq lets an owner that reuses
 * a timer tell a stale firing from a current one (netpoll deadlines).
 * Fields after `seq` belong to timer.c.
 */
struct timer {
    int64_t when;                /* absolute gort__nanotime(); 0: not set */
    int64_t period;              /* >0: re-arm every period after firing */
    void (*f)(void *arg, uintptr_t seq, int64_t when);
    void *arg;
    uintptr_t seq;
    struct lock mu;              /* protects the fields above and below */
    struct timers *ts;           /* heap it is on, or NULL */
    int32_t idx;                 /* index in ts->heap, or -1 */
    uint32_t state;              /* timer.c's flags */

    /* Added by timer.c (fields after `seq` are its own). Callbacks of t
     * that the firing path has started and not finished; incremented
     * under the heap lock before t leaves the heap, decremented
     * (release) after f returns. Never counted for TIMER_HANDOFF. */
    _Atomic uint32_t running;
};

/* Bits of timer.state, set at init and never changed while t is armed. */
enum {
    /* TIMER_HANDOFF: once f is called, the firing path never touches t
     * again, so f may free t or wake a goroutine whose stack holds it.
     * Such a timer must be one-shot (period 0), and is never stopped or
     * re-armed while pending (its heap index is not kept). */
    TIMER_HANDOFF = 1u << 0,
};

/* gort__timer_init prepares t with callback f(arg, seq, when). */
__attribute__((visibility("hidden"))) void gort__timer_init(
    struct timer *t, void (*f)(void *, uintptr_t, int64_t), void *arg);
/*
 * gort__timer_reset (re)arms t to fire at `when` (absolute ns), then every
 * `period` ns if period > 0, with a new seq; returns true if t was pending
 * (Go: timer.modify). Callable from a goroutine or from g0 with a P.
 */
__attribute__((visibility("hidden"))) bool gort__timer_reset(
    struct timer *t, int64_t when, int64_t period, uintptr_t seq);
/* gort__timer_stop disarms t; true if it was pending (Go: timer.stop). */
__attribute__((visibility("hidden"))) bool gort__timer_stop(struct timer *t);

/* gort__timer_init_handoff is gort__timer_init for a one-shot timer whose
 * callback takes ownership of t (TIMER_HANDOFF): a sleeping goroutine's
 * on-stack timer, or a timer that frees itself from f. */
__attribute__((visibility("hidden"))) void gort__timer_init_handoff(
    struct timer *t, void (*f)(void *, uintptr_t, int64_t), void *arg);
/*
 * gort__timer_wait returns once no callback of t is running (Linux's
 * del_timer_sync half). Call it after gort__timer_stop and before freeing
 * or reusing t's memory. Spins, then yields the thread: a callback never
 * parks, so the wait is short. Never call it from t's own callback, nor
 * on a TIMER_HANDOFF timer.
 */
__attribute__((visibility("hidden"))) void gort__timer_wait(struct timer *t);

/* A FIFO ring of tagged entries in nondecreasing due order (timer.c: the
 * in-order queue). */
struct tfifo {
    struct tfifo_slot {
        int64_t when;
        uintptr_t e;
    } *slot;
    uint32_t head, len, cap;   /* cap: 0 or a power of two */
};

/* A P's heap and in-order queue. minwhen is read without the lock by
 * other Ms (0: empty). */
struct timers {
    struct lock lock;
    uintptr_t *heap;            /* tagged entries: timer.c */
    uint32_t len, cap;
    struct p *pp;

    /* Added by timer.c, protected by lock. whens[i] is heap[i]'s when,
     * kept beside the pointers so sifting never touches a timer (Go's
     * timerWhen). closed: gort__timers_move emptied this heap because its
     * P is going away; adders go elsewhere until the P is live again. */
    int64_t *whens;
    struct tfifo fifo;
    bool closed;

    /* On a line of its own: other Ps read it whenever they look for work
     * or compute how long to sleep, and would otherwise keep pulling the
     * line of the lock that every sleep and check of this P takes. */
    _Alignas(64) _Atomic int64_t minwhen;
};

/*
 * gort__timers_sleep puts gp, parked for gort_sleep, on the caller's heap
 * (or the first open one): at `when` the firing path readies it (Go:
 * resetForSleep + goroutineReady). No struct timer is involved: gp is its
 * own heap entry until it fires, and nobody else may ready it meanwhile.
 */
__attribute__((visibility("hidden"))) void gort__timers_sleep(struct g *gp,
                                                              int64_t when);

/* gort__timers_init / _destroy set up and free a P's heap. */
__attribute__((visibility("hidden"))) void gort__timers_init(struct timers *ts,
                                                             struct p *pp);
__attribute__((visibility("hidden"))) void gort__timers_destroy(
    struct timers *ts);

/*
 * gort__timers_check runs the timers of ts that expired at `now` (their
 * callbacks may ready goroutines onto the caller's P) and returns the
 * earliest remaining `when`, or 0 if ts is empty. Caller holds a P and runs
 * on g0. Cheap when nothing expired (one atomic load).
 */
__attribute__((visibility("hidden"))) int64_t gort__timers_check(
    struct timers *ts, int64_t now);

/* gort__timers_next returns the earliest `when` over all Ps, 0 if none. */
__attribute__((visibility("hidden"))) int64_t gort__timers_next(void);

/* gort__timers_move moves every timer of `from` onto `to` (a P being
 * destroyed by gort_maxprocs). Caller holds no timer lock. */
__attribute__((visibility("hidden"))) void gort__timers_move(
    struct timers *from, struct timers *to);

/* gort__timers_pending: some timer exists on some P (checkdead). */
__attribute__((visibility("hidden"))) bool gort__timers_pending(void);

#endif /* GORT_TIMER_H */
