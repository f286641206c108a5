/*
 * errgroup.c: gort_errgroup (Go: golang.org/x/sync/errgroup): goroutines
 * counted by a gort_wg, the first error kept under a mutex, an optional
 * context canceled by that error, and an optional limit kept as a
 * weighted semaphore of `limit` units, one per active goroutine.
 *
 * Invariants:
 *  - _err is written once, from 0 to the first nonzero task result, under
 *    _mu, and the context is canceled (cause: that error) in the same
 *    critical section, so every task that sees the context done sees the
 *    error set.
 *  - _ctx is the group's own reference; wait drops it under _mu and sets
 *    it to NULL, so a task that fails after wait cancels nothing freed.
 *  - A task started under a limit releases its unit when it ends, before
 *    wg_done, so wait returning means every unit is back. Each task
 *    remembers whether it took one, so removing the limit while tasks run
 *    cannot unbalance the semaphore.
 *
 * Locking: _mu (a gort_mutex) is held only around _err/_ctx/_limited and
 * the cancel, which never parks.
 *
 * See also: include/gort/errgroup.h, ctx/context.c, sync/semaphore.c.
 */
#include <stdio.h>

#include "ctx.h"

/* One task, copied onto its goroutine's stack by gort_go_copy. */
struct task {
    gort_errgroup *g;
    int (*fn)(void *);
    void *arg;
    bool limited; /* took a unit of g->_sem */
};

static void run_task(void *p)
{
    struct task *t = p;
    gort_errgroup *g = t->g;
    int err = t->fn(t->arg);
    if (err != 0) {
        gort_mutex_lock(&g->_mu);
        if (g->_err == 0) {
            g->_err = err;
            if (g->_ctx != NULL)
                gort_ctx_cancel_cause(g->_ctx, err);
        }
        gort_mutex_unlock(&g->_mu);
    }
    if (t->limited)
        gort_sema_release(&g->_sem, 1);
    gort_wg_done(&g->_wg);
}

/* start runs fn in a goroutine once its unit (if limited) is taken. */
static int start(gort_errgroup *g, int (*fn)(void *), void *arg,
                 bool limited)
{
    gort_wg_add(&g->_wg, 1);
    struct task t = {.g = g, .fn = fn, .arg = arg, .limited = limited};
    int rc = gort_go_copy(run_task, &t, sizeof t);
    if (rc != 0) {
        gort_wg_add(&g->_wg, -1);
        if (limited)
            gort_sema_release(&g->_sem, 1);
    }
    return rc;
}

/* limited reads whether a limit is set; Go reads g.sem unlocked too, as
 * SetLimit may not run while tasks are active. */
static bool limited(gort_errgroup *g)
{
    gort_mutex_lock(&g->_mu);
    bool l = g->_limited;
    gort_mutex_unlock(&g->_mu);
    return l;
}

int gort_errgroup_go(gort_errgroup *g, int (*fn)(void *), void *arg)
{
    if (g == NULL || fn == NULL)
        return -EINVAL;
    bool lim = limited(g);
    /* gort_sema_acquire refuses what can never be served (a limit of
     * 0), where Go would block forever. */
    if (lim) {
        int rc = gort_sema_acquire(&g->_sem, 1);
        if (rc != 0)
            return rc;
    }
    return start(g, fn, arg, lim);
}

bool gort_errgroup_try_go(gort_errgroup *g, int (*fn)(void *), void *arg)
{
    if (g == NULL || fn == NULL)
        return false;
    bool lim = limited(g);
    if (lim && !gort_sema_try_acquire(&g->_sem, 1))
        return false;
    return start(g, fn, arg, lim) == 0;
}

int gort_errgroup_set_limit(gort_errgroup *g, int n)
{
    if (g == NULL)
        return -EINVAL;
    gort_mutex_lock(&g->_mu);
    if (n < 0) {
        g->_limited = false;
        gort_mutex_unlock(&g->_mu);
        return 0;
    }
    gort_mutex_lock(&g->_sem._mu);
    int64_t active = g->_sem._cur;
    gort_mutex_unlock(&g->_sem._mu);
    if (active != 0) {
        gort_mutex_unlock(&g->_mu);
        char msg[96];
        snprintf(msg, sizeof msg,
                 "errgroup: modify limit while %lld goroutines in the group "
                 "are still active",
                 (long long)active);
        gort__panic(msg);
    }
    gort_sema_init(&g->_sem, n);
    g->_limited = true;
    gort_mutex_unlock(&g->_mu);
    return 0;
}

int gort_errgroup_with_ctx(gort_errgroup *g, gort_ctx *parent, gort_ctx **ctx)
{
    if (g == NULL || parent == NULL || ctx == NULL)
        return -EINVAL;
    *g = (gort_errgroup)GORT_ERRGROUP_INIT;
    gort_ctx *c = gort_ctx_with_cancel_cause(parent);
    if (c == NULL)
        return -ENOMEM;
    g->_ctx = c;
    *ctx = gort_ctx_retain(c);
    return 0;
}

int gort_errgroup_wait(gort_errgroup *g)
{
    if (g == NULL)
        return -EINVAL;
    gort_wg_wait(&g->_wg);
    gort_mutex_lock(&g->_mu);
    gort_ctx *c = g->_ctx;
    g->_ctx = NULL;
    int err = g->_err;
    gort_mutex_unlock(&g->_mu);
    if (c != NULL) {
        gort_ctx_cancel_cause(c, err);
        gort_ctx_release(c);
    }
    return err;
}
