/*
 * gort/errgroup.h: groups of goroutines working on subtasks of one task,
 * with the first error kept and, optionally, a context canceled by it
 * (Go: golang.org/x/sync/errgroup). Included by <gort.h>.
 *
 * A task is `int fn(void *arg)`: 0 for success, any other value is its
 * error (conventionally a negative errno, as gort's own calls return).
 *
 * A zero gort_errgroup (or GORT_ERRGROUP_INIT) is a group without a
 * context and without a limit, ready to use, as Go's zero Group. The
 * fields are private. A group needs no destroy call: gort_errgroup_wait
 * leaves nothing behind. Do not copy a group after first use.
 */
#ifndef GORT_ERRGROUP_H
#define GORT_ERRGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include <gort/sync.h>

#ifndef GORT_API /* so the header also compiles alone (make check-headers) */
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_context gort_ctx; /* struct gort_ctx is arch's */

typedef struct gort_errgroup {
    gort_wg _wg;         /* the goroutines started and not finished */
    gort_mutex _mu;      /* guards the fields below */
    int _err;            /* the first error, 0 if none */
    gort_ctx *_ctx;      /* with_ctx: canceled by the first error or wait */
    gort_sema _sem;      /* the limit's slots when _limited */
    bool _limited;
} gort_errgroup;
#define GORT_ERRGROUP_INIT {GORT_WG_INIT, GORT_MUTEX_INIT, 0, NULL,         \
                            GORT_SEMA_INIT(0), false}

/*
 * gort_errgroup_with_ctx initialises g as a new group and stores in *ctx
 * a new context derived from parent (Go: errgroup.WithContext). The
 * context is canceled, with the error as its cause, the first time a task
 * of g fails, or when gort_errgroup_wait returns, whichever comes first.
 * The caller owns one reference to *ctx (gort_ctx_release it when done,
 * after wait); the group holds another until wait returns, so call wait.
 * Returns 0, or -EINVAL (g, parent or ctx NULL), -ENOMEM. Never parks.
 */
GORT_API int gort_errgroup_with_ctx(gort_errgroup *g, gort_ctx *parent,
                                    gort_ctx **ctx);

/*
 * gort_errgroup_go runs fn(arg) in a new goroutine (Go: Group.Go). With a
 * limit set, it first parks until the number of the group's active
 * goroutines is below the limit. The first nonzero return of any task is
 * kept for wait and cancels the group's context. Returns 0, or -EINVAL
 * (g or fn NULL, or a limit of 0, where Go blocks forever), or gort_go's
 * error (then nothing started).
 */
GORT_API int gort_errgroup_go(gort_errgroup *g, int (*fn)(void *), void *arg);

/*
 * gort_errgroup_try_go starts fn(arg) as gort_errgroup_go does, only if
 * that needs no wait for the limit, and returns true if it started it (Go:
 * Group.TryGo). Never parks.
 */
GORT_API bool gort_errgroup_try_go(gort_errgroup *g, int (*fn)(void *),
                                   void *arg);

/*
 * gort_errgroup_set_limit caps the group's active goroutines at n; n < 0
 * removes the cap (Go: Group.SetLimit). Changing it while goroutines of
 * the group are active panics as Go does: "errgroup: modify limit while N
 * goroutines in the group are still active". Returns 0 or -EINVAL (g
 * NULL). Never parks.
 */
GORT_API int gort_errgroup_set_limit(gort_errgroup *g, int n);

/*
 * gort_errgroup_wait parks until every goroutine the group started has
 * returned, cancels the group's context, and returns the first error (0
 * if none) (Go: Group.Wait). After it returns the group holds no
 * reference to the context, and may be used again (keeping its first
 * error, as Go's does).
 */
GORT_API int gort_errgroup_wait(gort_errgroup *g);

#ifdef __cplusplus
}
#endif

#endif /* GORT_ERRGROUP_H */
