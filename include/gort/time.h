/*
 * gort/time.h: sleeping, timers and tickers (Go: time.Sleep, time.After,
 * time.NewTimer, time.AfterFunc, time.NewTicker). Included by <gort.h>.
 *
 * Times are int64_t nanoseconds of the monotonic clock (gort_now);
 * durations are int64_t nanoseconds (GORT_MS(5) etc., from <gort.h>).
 * Timers live on per-processor heaps run by the scheduler, so a sleeping
 * goroutine costs no thread and no allocation.
 *
 * Timer and ticker channels carry one int64_t: the gort_now() time at
 * which the timer was due, which is what Go 1.23 and later send (Go 1.19
 * sent the time of sending, a little later); gort_wall_of turns it into
 * wall-clock time, the other half of Go's time.Time. They have a one-value
 * buffer, but follow Go 1.23's synchronous-timer rules: once
 * gort_timer_stop, gort_timer_reset, gort_ticker_stop or gort_ticker_reset
 * has returned, no value from before the call can be received, and a value
 * sent but not yet received counts as "timer still active".
 * Differences from Go: gort_chan_cap reports 1 (Go 1.23 reports 0), and
 * timers are freed explicitly (C has no garbage collector).
 */
#ifndef GORT_TIME_H
#define GORT_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gort/chan.h>

#ifndef GORT_API /* so the header also compiles alone (make check-headers) */
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_chan gort_chan;

/* gort_now returns the monotonic clock in nanoseconds (CLOCK_MONOTONIC;
 * Go: the monotonic reading of time.Now). Never parks; any thread. */
GORT_API int64_t gort_now(void);

/*
 * gort_sleep pauses the calling goroutine for at least ns nanoseconds
 * (Go: time.Sleep). Parks: other goroutines run meanwhile, and a program
 * whose goroutines all sleep is not deadlocked. ns <= 0 returns at once.
 * Outside a goroutine it blocks the thread (nanosleep). No allocation.
 */
GORT_API void gort_sleep(int64_t ns);

/*
 * gort_after returns a channel that receives the time once, ns
 * nanoseconds from now (Go: time.After). The caller owns one reference
 * and drops it with gort_chan_free when done, before or after the value
 * arrives; the timer holds its own reference until it has fired. It
 * cannot be stopped: use gort_timer_new for timeouts in long loops.
 * Never parks. Returns NULL if memory ran out.
 */
GORT_API gort_chan *gort_after(int64_t ns);

/* A one-shot timer (Go: *time.Timer); opaque, freed with gort_timer_free. */
typedef struct gort_timer gort_timer;

/*
 * gort_timer_new starts a timer that sends the time on its channel
 * (gort_timer_chan) once, ns nanoseconds from now (ns <= 0: at once; Go:
 * time.NewTimer). Never parks. Returns NULL if memory ran out. Must be
 * called inside gort_run (from a goroutine or a runtime-owned thread).
 */
GORT_API gort_timer *gort_timer_new(int64_t ns);

/*
 * gort_timer_func starts a timer that calls fn(arg) in a new goroutine
 * (gort_go) once, ns nanoseconds from now (Go: time.AfterFunc). Its
 * channel is NULL. Never parks. Returns NULL if fn is NULL or memory ran
 * out.
 */
GORT_API gort_timer *gort_timer_func(int64_t ns, void (*fn)(void *),
                                     void *arg);

/*
 * gort_timer_func_copy is gort_timer_func with size bytes at args copied
 * into the timer when it is made (the by-value rule of gort_go_copy and
 * gort_wg_go_copy): each firing starts fn in a new goroutine with its own
 * copy of those bytes, on its stack, so the caller's variable may die at
 * once (Go: AfterFunc with a closure that captured values). Never parks.
 * Returns NULL if fn is NULL, args is NULL with size > 0, size exceeds
 * GORT_GO_COPY_MAX, or memory ran out.
 */
GORT_API gort_timer *gort_timer_func_copy(int64_t ns, void (*fn)(void *),
                                          const void *args, size_t size);

/* gort_timer_chan returns t's channel (Go: t.C), or NULL for a timer made
 * by gort_timer_func. The timer owns it: it lives until gort_timer_free.
 * Never parks. */
GORT_API gort_chan *gort_timer_chan(gort_timer *t);

/*
 * gort_timer_stop prevents t from firing (Go 1.23: Timer.Stop). After it
 * returns, no value can be received from t's channel until t is reset.
 * Never parks (takes short locks).
 * Returns true if the call stopped t: it had not fired, or (channel
 * timers) its value had not been received yet; false if t had already
 * fired and its value was received (or its function started), or t was
 * already stopped. For gort_timer_func, false means fn has been or will
 * be started; Stop does not wait for fn.
 */
GORT_API bool gort_timer_stop(gort_timer *t);

/*
 * gort_timer_reset makes t fire ns nanoseconds from now, whatever its
 * state (Go 1.23: Timer.Reset). After it returns no value from before the
 * call can be received. Never parks.
 * Returns true if t was active (as gort_timer_stop would have returned
 * true), false if it had expired and been received, or been stopped.
 */
GORT_API bool gort_timer_reset(gort_timer *t, int64_t ns);

/* gort_timer_free stops t and frees it, its channel reference included
 * (other references to the channel, from gort_chan_retain, stay valid).
 * NULL is ignored. Never parks; it may wait briefly for a firing that is
 * in progress on another thread. Call it within the gort_run that made t:
 * when gort_run returns, armed timers are abandoned with their heaps. */
GORT_API void gort_timer_free(gort_timer *t);

/* A periodic timer (Go: *time.Ticker); opaque, freed with gort_ticker_free. */
typedef struct gort_ticker gort_ticker;

/*
 * gort_ticker_new starts a ticker that sends the time on its channel
 * every period nanoseconds (Go: time.NewTicker). A slow receiver misses
 * ticks rather than queueing them. Never parks. Returns NULL if memory
 * ran out. period <= 0 panics with "non-positive interval for NewTicker".
 */
GORT_API gort_ticker *gort_ticker_new(int64_t period);

/* gort_ticker_chan returns t's channel (Go: t.C); t owns it. Never parks. */
GORT_API gort_chan *gort_ticker_chan(gort_ticker *t);

/* gort_ticker_stop stops t: no tick, pending or future, is received after
 * it returns (Go 1.23: Ticker.Stop). The channel is not closed. Never
 * parks. */
GORT_API void gort_ticker_stop(gort_ticker *t);

/*
 * gort_ticker_reset stops t and restarts it with a new period, the next
 * tick period nanoseconds from now (Go 1.23: Ticker.Reset); works on a
 * stopped ticker too. Never parks. period <= 0 panics with "non-positive
 * interval for Ticker.Reset".
 */
GORT_API void gort_ticker_reset(gort_ticker *t, int64_t period);

/* gort_ticker_free stops t and frees it, its channel reference included.
 * NULL is ignored. Never parks (may wait briefly, as gort_timer_free). */
GORT_API void gort_ticker_free(gort_ticker *t);

/*
 * gort_tick returns the channel of a ticker that nobody stops (Go:
 * time.Tick): for loops that tick for the whole program. There is no
 * handle, so the ticker ticks until gort_run returns and its memory (and
 * its channel's) is never freed, as Go's was not before 1.23, when the
 * garbage collector learnt to take them;
 * use gort_ticker_new for anything that ends. Never parks. Returns NULL
 * if period <= 0 (as Go returns nil) or memory ran out.
 */
GORT_API gort_chan *gort_tick(int64_t period);

/* ---- Select with a timeout ---------------------------------------------- */

/* gort_select_timeout's result when the time ran out first. */
#define GORT_SELECT_TIMEOUT (-2)

/*
 * gort_select_timeout is gort_select with one more case, Go's `case
 * <-time.After(d):`, and nothing to free afterwards: it waits until one
 * of the n cases proceeds and returns its index, or returns
 * GORT_SELECT_TIMEOUT once ns nanoseconds have passed (ns <= 0: the
 * cases still get their chance if ready, as Go's select with an expired
 * After). Can park. It makes and frees a timer per call: in a loop that
 * times out often, a gort_timer reused with gort_timer_reset is cheaper.
 * Returns the index, GORT_SELECT_TIMEOUT, or -EINVAL (as gort_select;
 * n must be below GORT_SELECT_MAX) or -ENOMEM.
 */
GORT_API int gort_select_timeout(gort_select_case *cases, int n, int64_t ns);

/* ---- Wall clock --------------------------------------------------------- */

/* gort_wall_now returns the wall clock, nanoseconds since the Unix epoch
 * (CLOCK_REALTIME; Go: the wall reading of time.Now). It may jump when
 * the system clock is set: measure durations with gort_now. Never parks;
 * any thread. */
GORT_API int64_t gort_wall_now(void);

/* gort_wall_of returns the wall-clock time (as gort_wall_now) of the
 * monotonic time mono (a gort_now value, such as a timer or ticker
 * value): the wall clock now minus the monotonic time elapsed since mono.
 * Go's time.Time carries both readings; in gort a tick carries the
 * monotonic one and this gives the other. Never parks; any thread. */
GORT_API int64_t gort_wall_of(int64_t mono);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GORT_TIME_H */
