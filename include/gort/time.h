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
 * which the timer was due (Go sends the time too). They have a one-value
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
#include <stdint.h>

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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GORT_TIME_H */
