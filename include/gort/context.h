/*
 * gort/context.h: cancellation, deadlines and request-scoped values (Go:
 * package context), and context-taking forms of the calls that park
 * (sleep, select, dial, read, write, weighted-semaphore acquire).
 * Included by <gort.h>.
 *
 * A gort_ctx is a node of a tree rooted at gort_ctx_background(). A
 * cancelable context (with_cancel, with_timeout, with_deadline) is
 * canceled by gort_ctx_cancel, by its deadline, or when an ancestor is;
 * canceling one cancels every descendant, closes its done channel, stops
 * its deadline timer and runs its after-functions, as in Go.
 *
 * Errors. gort_ctx_err returns 0 while the context is live, then one of:
 *   GORT_ECANCELED  (-ECANCELED) Go's context.Canceled, "context canceled"
 *   GORT_EDEADLINE  (-ETIME)     Go's context.DeadlineExceeded, "context
 *                                deadline exceeded"
 * Both are distinct from the -ETIMEDOUT of an fd's own deadline, so a
 * caller of gort_read_ctx can tell which one ended the read. A cause
 * (gort_ctx_cancel_cause, the *_cause constructors) is any nonzero int the
 * program picks, conventionally a negative errno; gort_ctx_cause returns it.
 *
 * Ownership (C has no garbage collector, so this replaces Go's):
 *  - Every constructor returns a context holding one reference, owned by
 *    the caller. gort_ctx_retain adds one (e.g. for a goroutine that
 *    outlives the caller's use), gort_ctx_release drops one. The memory
 *    goes with the last reference.
 *  - A context holds a reference to its parent, so a parent released
 *    before its children stays alive (and is NOT canceled by the release)
 *    until its last child is gone. Releasing is not canceling: Go's
 *    `defer cancel()` is gort_ctx_cancel(ctx) then gort_ctx_release(ctx).
 *  - When the last reference of a context that nobody canceled goes, it
 *    is detached from its parent and its deadline timer is stopped: no
 *    resource outlives the references (Go needs the cancel call for that;
 *    here it is only needed to cancel).
 *  - An after-function registration (gort_ctx_after_func) holds a
 *    reference until gort_ctx_after_stop, which must be called once.
 *  - gort_ctx_background() and gort_ctx_todo() are static: retain and
 *    release do nothing on them.
 *  - gort_ctx_done's channel belongs to the context: valid while the
 *    caller holds a reference; never gort_chan_free it.
 *
 * Threads: every call works from goroutines and from threads the runtime
 * does not own, except the parking helpers (sleep, select, dial, read,
 * write, acquire), which need a goroutine, and with_timeout/with_deadline,
 * which need to run inside gort_run (they arm a runtime timer). Cancel
 * never parks, so a thread or a signal-handling goroutine may cancel;
 * but a context with after-functions registered must be canceled inside
 * gort_run (from a goroutine), where their goroutines can be started.
 */
#ifndef GORT_CONTEXT_H
#define GORT_CONTEXT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef GORT_API /* so the header also compiles alone (make check-headers) */
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_chan gort_chan;
typedef struct gort_select_case gort_select_case;
typedef struct gort_sema gort_sema;

/* The two errors of a finished context (Go: Canceled, DeadlineExceeded). */
#define GORT_ECANCELED (-ECANCELED)
#define GORT_EDEADLINE (-ETIME)

typedef struct gort_context gort_ctx; /* struct gort_ctx is arch's */

/* gort_ctx_background returns the root context: never canceled, no
 * values, no deadline (Go: context.Background). Static; never parks. */
GORT_API gort_ctx *gort_ctx_background(void);
/* gort_ctx_todo is a second such root, for code not yet given a context
 * (Go: context.TODO). */
GORT_API gort_ctx *gort_ctx_todo(void);

/*
 * gort_ctx_with_cancel returns a child of parent that gort_ctx_cancel
 * cancels, as does the cancellation of parent (Go: WithCancel). If parent
 * is already canceled the child is born canceled with parent's error and
 * cause. Returns NULL if parent is NULL or memory ran out. Never parks.
 */
GORT_API gort_ctx *gort_ctx_with_cancel(gort_ctx *parent);
/* gort_ctx_with_cancel_cause is gort_ctx_with_cancel (Go:
 * WithCancelCause). Go returns a different cancel function; in C every
 * cancelable context takes gort_ctx_cancel_cause, so the two are the same
 * call under both names, kept for ported code to read like the Go. */
GORT_API gort_ctx *gort_ctx_with_cancel_cause(gort_ctx *parent);

/*
 * gort_ctx_with_deadline returns a cancelable child of parent that is
 * canceled with GORT_EDEADLINE at the absolute gort_now() time `when`
 * (Go: WithDeadline). If parent's deadline is earlier, the child keeps
 * parent's (and just follows parent's cancellation); a `when` already past
 * gives a child that is canceled already. The timer is a runtime timer,
 * stopped on cancel or on the last release. Returns NULL if parent is NULL
 * or memory ran out. Must be called inside gort_run. Never parks.
 */
GORT_API gort_ctx *gort_ctx_with_deadline(gort_ctx *parent, int64_t when);
/* gort_ctx_with_timeout is gort_ctx_with_deadline(parent, gort_now() +
 * ns) (Go: WithTimeout). */
GORT_API gort_ctx *gort_ctx_with_timeout(gort_ctx *parent, int64_t ns);
/* gort_ctx_with_deadline_cause / _with_timeout_cause: as above, and when
 * the deadline cancels the context its cause is `cause` (Go:
 * WithDeadlineCause, WithTimeoutCause). cause 0 means GORT_EDEADLINE. */
GORT_API gort_ctx *gort_ctx_with_deadline_cause(gort_ctx *parent,
                                                int64_t when, int cause);
GORT_API gort_ctx *gort_ctx_with_timeout_cause(gort_ctx *parent, int64_t ns,
                                               int cause);

/*
 * gort_ctx_with_value returns a child of parent that carries val for key
 * (Go: WithValue). Keys are compared by address: use the address of a
 * static object of your own (`static const char user_key;` then
 * &user_key), which, like Go's unexported key types, cannot collide with
 * another package's. val is not owned: keep it alive as long as the
 * context. The child is canceled with parent. Returns NULL if parent or
 * key is NULL, or memory ran out. Never parks.
 */
GORT_API gort_ctx *gort_ctx_with_value(gort_ctx *parent, const void *key,
                                       void *val);
/* gort_ctx_value returns the value of the nearest context up the chain
 * whose key is key, or NULL (Go: Context.Value). Never parks. */
GORT_API void *gort_ctx_value(gort_ctx *ctx, const void *key);

/*
 * gort_ctx_without_cancel returns a child of parent that keeps parent's
 * values but is never canceled and has no deadline (Go: WithoutCancel).
 * Returns NULL if parent is NULL or memory ran out. Never parks.
 */
GORT_API gort_ctx *gort_ctx_without_cancel(gort_ctx *parent);

/*
 * gort_ctx_cancel cancels ctx with GORT_ECANCELED (Go: the CancelFunc of
 * WithCancel/WithTimeout/WithDeadline); gort_ctx_cancel_cause sets cause
 * as its cause too (0: GORT_ECANCELED; Go: CancelCauseFunc). Every
 * descendant is canceled with the same error and cause, the done channels
 * close, deadline timers stop, and after-functions start. Later calls do
 * nothing: the first cancellation (by anyone, deadline included) wins.
 * Never parks; callable from any thread.
 * Returns 0, or -EINVAL if ctx is NULL or not cancelable (background,
 * todo, with_value, without_cancel).
 */
GORT_API int gort_ctx_cancel(gort_ctx *ctx);
GORT_API int gort_ctx_cancel_cause(gort_ctx *ctx, int cause);

/*
 * gort_ctx_done returns a channel that is closed when ctx is canceled
 * (Go: Context.Done): receive on it, or put GORT_RECV(gort_ctx_done(ctx),
 * NULL, NULL) in a gort_select. Returns NULL for a context that can never
 * be canceled (background, or a value chain under it), which in a select
 * is a case that is never ready, as Go's nil Done channel. ctx owns the
 * channel. Never parks.
 */
GORT_API gort_chan *gort_ctx_done(gort_ctx *ctx);

/* gort_ctx_err returns 0 while ctx is live, else GORT_ECANCELED or
 * GORT_EDEADLINE (Go: Context.Err). Once nonzero it never changes.
 * Lock-free; never parks. */
GORT_API int gort_ctx_err(gort_ctx *ctx);

/* gort_ctx_cause returns the cause ctx was canceled with: the cause
 * given to gort_ctx_cancel_cause or a *_cause constructor, else its
 * error; 0 while live (Go: context.Cause). Never parks. */
GORT_API int gort_ctx_cause(gort_ctx *ctx);

/* gort_ctx_deadline stores ctx's deadline (an absolute gort_now() time)
 * in *when and returns true, or returns false when it has none (Go:
 * Context.Deadline). when may be NULL. Never parks. */
GORT_API bool gort_ctx_deadline(gort_ctx *ctx, int64_t *when);

/* gort_ctx_retain adds a reference to ctx and returns it (NULL stays
 * NULL). gort_ctx_release drops one (NULL ignored); see "Ownership".
 * Never park; any thread. */
GORT_API gort_ctx *gort_ctx_retain(gort_ctx *ctx);
GORT_API void gort_ctx_release(gort_ctx *ctx);

/* ---- After-functions ---------------------------------------------------- */

typedef struct gort_ctx_after gort_ctx_after;

/*
 * gort_ctx_after_func arranges for fn(arg) to run in a new goroutine once
 * ctx is canceled (at once if it already is), at most once (Go:
 * context.AfterFunc). The registration holds a reference to ctx. Returns
 * a handle to pass to gort_ctx_after_stop exactly once, whether or not fn
 * ran; NULL if ctx or fn is NULL or memory ran out. Never parks.
 */
GORT_API gort_ctx_after *gort_ctx_after_func(gort_ctx *ctx,
                                             void (*fn)(void *), void *arg);
/*
 * gort_ctx_after_stop unregisters a and frees it (Go: the stop function
 * AfterFunc returns). Returns true if that kept fn from running, false if
 * fn has been started already (stop does not wait for it to finish).
 * Never parks; any thread.
 */
GORT_API bool gort_ctx_after_stop(gort_ctx_after *a);

/* ---- Calls that park, with a context ------------------------------------ */

/*
 * gort_ctx_sleep pauses for ns nanoseconds or until ctx is canceled,
 * whichever comes first (Go: select { case <-time.After(d): case
 * <-ctx.Done(): }). Returns 0 after the full sleep, gort_ctx_err(ctx) if
 * ctx ended it (at once if ctx is already done), -ENOMEM if no timer
 * could be made, -EINVAL if ctx is NULL. Parks.
 */
GORT_API int gort_ctx_sleep(gort_ctx *ctx, int64_t ns);

/*
 * gort_ctx_select is gort_select(cases, n) with one more case, ctx's done
 * channel (Go: select { ... case <-ctx.Done(): return ctx.Err() }).
 * Returns the index of the case performed, or gort_ctx_err(ctx) if ctx
 * was canceled first; when both are ready at once the choice is random,
 * as in Go. A select that would start on a done context still returns a
 * ready case half the time, as Go's does: check gort_ctx_err first to
 * prefer cancellation. Returns -EINVAL as gort_select (ctx NULL too),
 * -ENOMEM if n >= GORT_SELECT_STACK_CASES and memory ran out. Parks.
 */
GORT_API int gort_ctx_select(gort_ctx *ctx, gort_select_case *cases, int n);

/*
 * gort_dial_ctx is gort_dial bounded by ctx instead of a timeout (Go:
 * Dialer.DialContext): a cancellation wakes the connect at once and the
 * dial returns gort_ctx_err(ctx); ctx's deadline bounds it too (name
 * resolution still cannot be interrupted). Returns the connected fd, the
 * errors of gort_dial, GORT_ECANCELED or GORT_EDEADLINE. Parks.
 */
GORT_API int gort_dial_ctx(gort_ctx *ctx, const char *network,
                           const char *address);

/*
 * gort_read_ctx is gort_read that also ends when ctx is canceled: a
 * reader parked on fd wakes and returns gort_ctx_err(ctx), and a call on
 * a done context returns it without reading. This is the C form of Go's
 * `stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(past)
 * })` idiom, without touching fd's deadline: fd's own deadline still
 * applies (-ETIMEDOUT), and other readers of fd are not disturbed. Bytes
 * are never lost: a read that got data returns it even if ctx ended
 * meanwhile. Parks.
 */
GORT_API ssize_t gort_read_ctx(gort_ctx *ctx, int fd, void *buf, size_t n);
/*
 * gort_write_ctx is gort_write that also ends when ctx is canceled: it
 * returns gort_ctx_err(ctx) once ctx is done, having written some prefix
 * of buf (how much is not reported, as for gort_write's errors). Parks.
 */
GORT_API ssize_t gort_write_ctx(gort_ctx *ctx, int fd, const void *buf,
                                size_t n);

/*
 * gort_sema_acquire_ctx is gort_sema_acquire that gives up when ctx is
 * canceled (Go: Weighted.Acquire(ctx, n)): returns 0 with the n units
 * held, or gort_ctx_err(ctx) holding none (a waiter served at the moment
 * of the cancellation keeps its units and returns 0, as Go's). A request
 * larger than the semaphore waits for ctx, as Go's does. -EINVAL if n < 0
 * or ctx is NULL. Parks.
 */
GORT_API int gort_sema_acquire_ctx(gort_sema *s, int64_t n, gort_ctx *ctx);

/* ---- Signals (Go: signal.NotifyContext) ---------------------------------- */

typedef struct gort_signal_ctx gort_signal_ctx;

/*
 * gort_signal_notify_ctx returns a child of parent that is canceled, with
 * cause -EINTR, when one of the n signals at sigs (n == 0: all) arrives
 * (Go: signal.NotifyContext). The signals are relayed as by
 * gort_signal_notify from now until gort_signal_ctx_stop(*stop), which
 * the caller must call once, as Go's stop: it cancels the context, stops
 * the relaying and frees the handle. The context returned is the caller's
 * reference (gort_ctx_release it, after the stop or before). Call it from
 * a goroutine: a goroutine of its own waits for the signal.
 *
 * Returns the context, or NULL with *stop NULL: stop or parent NULL, a
 * refused signal or bad sigs/n (as gort_signal_notify), no memory, or not
 * on a goroutine.
 */
GORT_API gort_ctx *gort_signal_notify_ctx(gort_ctx *parent, const int *sigs,
                                          int n, gort_signal_ctx **stop);
/* gort_signal_ctx_stop: see gort_signal_notify_ctx. NULL is ignored. */
GORT_API void gort_signal_ctx_stop(gort_signal_ctx *stop);

#ifdef __cplusplus
}
#endif

#endif /* GORT_CONTEXT_H */
