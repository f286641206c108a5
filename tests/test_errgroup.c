/*
 * test_errgroup.c: gort_errgroup (ctx/errgroup.c), after the scenarios of
 * golang.org/x/sync/errgroup's tests: the zero group, WithContext, TryGo,
 * SetLimit, and the panic of a limit changed while goroutines run.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <stdatomic.h>

#include <gort.h>

#include "helpers/harness.h"

#define LATE GORT_S(5)

static int ret_arg(void *arg)
{
    gort_sleep(GORT_MS(1));
    return (int)(intptr_t)arg;
}

/* Go: TestZeroGroup: Wait returns the first error of the tasks, nil when
 * none failed; later errors do not replace it. */
static int zero_main(void *arg)
{
    (void)arg;
    const int cases[][3] = {{0, 0, 0}, {-EIO, 0, 0}, {0, -EIO, 0},
                            {-EIO, -EPIPE, -EINTR}};
    for (int k = 0; k < 4; k++) {
        gort_errgroup g = GORT_ERRGROUP_INIT;
        int first = 0;
        for (int i = 0; i < 3; i++) {
            CHECK_EQ(gort_errgroup_go(&g, ret_arg,
                                      (void *)(intptr_t)cases[k][i]),
                     0);
            /* Wait for each task so "first" is well defined: a group
             * may be reused after Wait and keeps its first error. */
            if (first == 0)
                first = cases[k][i];
            CHECK_EQ(gort_errgroup_wait(&g), first);
        }
        CHECK_EQ(gort_errgroup_wait(&g), first);
        CHECK_EQ(gort_errgroup_wait(&g), first); /* wait again: the same */
    }
    gort_errgroup z = {0}; /* a zeroed group works too */
    CHECK_EQ(gort_errgroup_go(&z, ret_arg, (void *)(intptr_t)-ENOENT), 0);
    CHECK_EQ(gort_errgroup_wait(&z), -ENOENT);
    CHECK_EQ(gort_errgroup_go(NULL, ret_arg, NULL), -EINVAL);
    CHECK_EQ(gort_errgroup_go(&z, NULL, NULL), -EINVAL);
    return 0;
}

Test(errgroup, zero_group_wait_returns_the_first_error)
{
    run(2, zero_main, NULL);
}

/* A task that waits for the group's context and reports how it ended. */
static int wait_ctx(void *arg)
{
    gort_ctx *ctx = arg;
    if (!gort_chan_recv(gort_ctx_done(ctx), NULL))
        return gort_ctx_err(ctx) == GORT_ECANCELED ? 0 : -EFAULT;
    return -EFAULT;
}

/* Go: TestWithContext: the first error cancels the context, with the
 * error as its cause; Wait returns it. */
static int with_ctx_main(void *arg)
{
    (void)arg;
    gort_errgroup g;
    gort_ctx *ctx = NULL;
    CHECK_EQ(gort_errgroup_with_ctx(&g, gort_ctx_background(), &ctx), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(gort_errgroup_go(&g, wait_ctx, ctx), 0);
    gort_sleep(GORT_MS(5));
    CHECK_EQ(gort_ctx_err(ctx), 0);
    CHECK_EQ(gort_errgroup_go(&g, ret_arg, (void *)(intptr_t)-EPIPE), 0);
    CHECK_EQ(gort_errgroup_wait(&g), -EPIPE);
    CHECK_EQ(gort_ctx_err(ctx), GORT_ECANCELED);
    CHECK_EQ(gort_ctx_cause(ctx), -EPIPE);
    gort_ctx_release(ctx);
    /* No error: Wait still cancels the context, with "canceled". */
    CHECK_EQ(gort_errgroup_with_ctx(&g, gort_ctx_background(), &ctx), 0);
    CHECK_EQ(gort_errgroup_go(&g, ret_arg, NULL), 0);
    CHECK_EQ(gort_errgroup_wait(&g), 0);
    CHECK_EQ(gort_ctx_err(ctx), GORT_ECANCELED);
    CHECK_EQ(gort_ctx_cause(ctx), GORT_ECANCELED);
    gort_ctx_release(ctx);
    /* A canceled parent cancels the group's context. */
    gort_ctx *p = gort_ctx_with_cancel(gort_ctx_background());
    CHECK_EQ(gort_errgroup_with_ctx(&g, p, &ctx), 0);
    CHECK_EQ(gort_errgroup_go(&g, wait_ctx, ctx), 0);
    gort_ctx_cancel(p);
    CHECK_EQ(gort_errgroup_wait(&g), 0);
    gort_ctx_release(ctx);
    gort_ctx_release(p);
    CHECK_EQ(gort_errgroup_with_ctx(&g, NULL, &ctx), -EINVAL);
    return 0;
}

Test(errgroup, with_ctx_first_error_cancels_the_context)
{
    run(1, with_ctx_main, NULL);
    run(2, with_ctx_main, NULL);
}

/* ---- Limits --------------------------------------------------------------- */

static _Atomic int active, peak;
static gort_chan *gate;

static int limited_task(void *arg)
{
    (void)arg;
    int now = atomic_fetch_add(&active, 1) + 1;
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
        ;
    gort_sleep(GORT_MS(1));
    atomic_fetch_sub(&active, 1);
    return 0;
}

/* Go: TestGoLimit: never more than the limit run at once. */
static int limit_main(void *arg)
{
    (void)arg;
    const int limit = 3;
    atomic_store(&active, 0);
    atomic_store(&peak, 0);
    gort_errgroup g = GORT_ERRGROUP_INIT;
    CHECK_EQ(gort_errgroup_set_limit(&g, limit), 0);
    for (int i = 0; i < SCALE(60, 20); i++)
        CHECK_EQ(gort_errgroup_go(&g, limited_task, NULL), 0);
    CHECK_EQ(gort_errgroup_wait(&g), 0);
    CHECK(atomic_load(&peak) <= limit);
    CHECK(atomic_load(&peak) >= 1);
    /* A negative limit removes it. */
    CHECK_EQ(gort_errgroup_set_limit(&g, -1), 0);
    atomic_store(&peak, 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(gort_errgroup_go(&g, limited_task, NULL), 0);
    CHECK_EQ(gort_errgroup_wait(&g), 0);
    /* A limit of 0: Go blocks forever; gort refuses. */
    CHECK_EQ(gort_errgroup_set_limit(&g, 0), 0);
    CHECK_EQ(gort_errgroup_go(&g, limited_task, NULL), -EINVAL);
    CHECK(!gort_errgroup_try_go(&g, limited_task, NULL));
    return 0;
}

Test(errgroup, set_limit_caps_the_active_goroutines)
{
    run(2, limit_main, NULL);
}

static int gated_task(void *arg)
{
    (void)arg;
    gort_chan_recv(gate, NULL);
    return 0;
}

/* Go: TestTryGo. */
static int try_go_main(void *arg)
{
    (void)arg;
    gate = gort_chan_make(0, 0);
    gort_errgroup g = GORT_ERRGROUP_INIT;
    CHECK(gort_errgroup_try_go(&g, ret_arg, NULL)); /* no limit: starts */
    CHECK_EQ(gort_errgroup_wait(&g), 0);
    const int n = 4;
    gort_errgroup_set_limit(&g, n);
    for (int i = 0; i < n; i++)
        CHECK(gort_errgroup_try_go(&g, gated_task, NULL));
    CHECK(!gort_errgroup_try_go(&g, gated_task, NULL)); /* full */
    gort_chan_close(gate);
    CHECK_EQ(gort_errgroup_wait(&g), 0);
    CHECK(gort_errgroup_try_go(&g, ret_arg, (void *)(intptr_t)-EIO));
    CHECK_EQ(gort_errgroup_wait(&g), -EIO);
    gort_chan_free(gate);
    return 0;
}

Test(errgroup, try_go_starts_only_below_the_limit)
{
    run(1, try_go_main, NULL);
}

/* A blocked Go resumes when a slot frees up. */
static void releaser(void *arg)
{
    (void)arg;
    gort_sleep(GORT_MS(10));
    gort_chan_close(gate);
}

static int go_blocks_main(void *arg)
{
    (void)arg;
    gate = gort_chan_make(0, 0);
    gort_errgroup g = GORT_ERRGROUP_INIT;
    gort_errgroup_set_limit(&g, 1);
    CHECK_EQ(gort_errgroup_go(&g, gated_task, NULL), 0);
    gort_wg wg = GORT_WG_INIT;
    gort_wg_go(&wg, releaser, NULL);
    int64_t t0 = gort_now();
    CHECK_EQ(gort_errgroup_go(&g, ret_arg, NULL), 0); /* parks until then */
    CHECK(gort_now() - t0 >= GORT_MS(10));
    CHECK(gort_now() - t0 < LATE);
    CHECK_EQ(gort_errgroup_wait(&g), 0);
    gort_wg_wait(&wg);
    gort_chan_free(gate);
    return 0;
}

Test(errgroup, go_waits_for_a_free_slot_under_the_limit)
{
    run(1, go_blocks_main, NULL);
}

static int d_limit_active(void *arg)
{
    (void)arg;
    gate = gort_chan_make(0, 0);
    gort_errgroup g = GORT_ERRGROUP_INIT;
    gort_errgroup_set_limit(&g, 2);
    gort_errgroup_go(&g, gated_task, NULL);
    gort_errgroup_set_limit(&g, 5);
    return 0;
}

Test(errgroup, set_limit_while_active_panics)
{
    expect_death(d_limit_active,
                 "panic: errgroup: modify limit while 1 goroutines in the "
                 "group are still active");
}
