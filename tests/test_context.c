/*
 * test_context.c: gort_ctx (ctx/context.c) and the calls that park with a
 * context (ctx/io.c, gort_sema_acquire_ctx), after the scenarios of Go's
 * context_test.go and x/sync/semaphore's tests: roots, cancellation and
 * its propagation, deadlines, values, causes, WithoutCancel, AfterFunc,
 * the ownership rules, and sleep/select/read/write/dial/acquire.
 *
 * Timing is asserted only as lower bounds plus generous upper bounds.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gort.h>

#include "runtime.h" /* white-box: gort__timers_pending */

#include "helpers/harness.h"

#define LATE GORT_S(5) /* "in reasonable time", never a tight bound */

/* done_now: ctx's done channel is closed (a receive completes at once). */
static bool done_now(gort_ctx *ctx)
{
    gort_chan *d = gort_ctx_done(ctx);
    bool ok = true;
    return d != NULL && gort_chan_tryrecv(d, NULL, &ok) && !ok;
}

/* ---- Roots ---------------------------------------------------------------- */

static int background_main(void *arg)
{
    (void)arg;
    gort_ctx *roots[] = {gort_ctx_background(), gort_ctx_todo()};
    for (int i = 0; i < 2; i++) {
        gort_ctx *c = roots[i];
        CHECK(c != NULL);
        CHECK(gort_ctx_done(c) == NULL);
        CHECK_EQ(gort_ctx_err(c), 0);
        CHECK_EQ(gort_ctx_cause(c), 0);
        CHECK(!gort_ctx_deadline(c, NULL));
        CHECK(gort_ctx_value(c, &roots) == NULL);
        CHECK_EQ(gort_ctx_cancel(c), -EINVAL);
        gort_ctx_release(gort_ctx_retain(c)); /* no-ops on roots */
    }
    CHECK(roots[0] != roots[1]);
    return 0;
}

Test(context, background_and_todo_are_never_canceled)
{
    run(1, background_main, NULL);
}

/* ---- Cancellation --------------------------------------------------------- */

static int cancel_main(void *arg)
{
    (void)arg;
    gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
    CHECK(c != NULL);
    CHECK(gort_ctx_done(c) != NULL);
    CHECK(!done_now(c));
    CHECK_EQ(gort_ctx_err(c), 0);
    CHECK_EQ(gort_ctx_cancel(c), 0);
    CHECK(done_now(c));
    CHECK_EQ(gort_ctx_err(c), GORT_ECANCELED);
    CHECK_EQ(gort_ctx_cause(c), GORT_ECANCELED);
    CHECK_EQ(gort_ctx_cancel(c), 0); /* a second cancel does nothing */
    CHECK_EQ(gort_ctx_err(c), GORT_ECANCELED);
    gort_ctx_release(c);
    return 0;
}

Test(context, cancel_closes_done_and_sets_canceled)
{
    run(1, cancel_main, NULL);
}

/* Go: TestWithCancel: a tree of two children and a grandchild. */
static int propagate_main(void *arg)
{
    (void)arg;
    gort_ctx *c1 = gort_ctx_with_cancel(gort_ctx_background());
    gort_ctx *o = gort_ctx_with_value(c1, &c1, NULL); /* a value in between */
    gort_ctx *c2 = gort_ctx_with_cancel(o);
    gort_ctx *c3 = gort_ctx_with_timeout(c2, GORT_S(3600));
    gort_ctx *sib = gort_ctx_with_cancel(c1);
    gort_ctx *all[] = {c1, o, c2, c3, sib};
    for (int i = 0; i < 5; i++)
        CHECK(!done_now(all[i]));
    CHECK_EQ(gort_ctx_cancel(sib), 0); /* a child does not cancel its parent */
    CHECK(!done_now(c1));
    CHECK(!done_now(c3));
    CHECK_EQ(gort_ctx_cancel(c1), 0);
    for (int i = 0; i < 5; i++) {
        CHECK(done_now(all[i]));
        CHECK_EQ(gort_ctx_err(all[i]), GORT_ECANCELED);
    }
    for (int i = 4; i >= 0; i--)
        gort_ctx_release(all[i]);
    return 0;
}

Test(context, cancel_propagates_to_every_descendant_not_to_parents)
{
    run(1, propagate_main, NULL);
}

static int born_canceled_main(void *arg)
{
    (void)arg;
    gort_ctx *p = gort_ctx_with_cancel_cause(gort_ctx_background());
    CHECK_EQ(gort_ctx_cancel_cause(p, -EPIPE), 0);
    gort_ctx *c = gort_ctx_with_timeout(p, GORT_S(10));
    CHECK(done_now(c));
    CHECK_EQ(gort_ctx_err(c), GORT_ECANCELED);
    CHECK_EQ(gort_ctx_cause(c), -EPIPE);
    gort_ctx_release(c);
    gort_ctx_release(p);
    return 0;
}

Test(context, child_of_a_canceled_parent_is_born_canceled)
{
    run(1, born_canceled_main, NULL);
}

/* Many goroutines parked on done are all woken by one cancel. */
static _Atomic int woken;

static void done_waiter(void *arg)
{
    gort_ctx *c = arg;
    CHECK(!gort_chan_recv(gort_ctx_done(c), NULL));
    CHECK_EQ(gort_ctx_err(c), GORT_ECANCELED);
    atomic_fetch_add(&woken, 1);
    gort_ctx_release(c);
}

static int all_waiters_main(void *arg)
{
    (void)arg;
    int n = SCALE(200, 50);
    atomic_store(&woken, 0);
    gort_ctx *root = gort_ctx_with_cancel(gort_ctx_background());
    for (int i = 0; i < n; i++) {
        /* Half wait on the root, half on children of it. */
        gort_ctx *c = i % 2 ? gort_ctx_retain(root) : gort_ctx_with_cancel(root);
        CHECK_EQ(gort_go(done_waiter, c), 0);
    }
    gort_sleep(GORT_MS(10));
    CHECK_EQ(atomic_load(&woken), 0);
    gort_ctx_cancel(root);
    int64_t end = gort_now() + LATE;
    while (atomic_load(&woken) < n && gort_now() < end)
        gort_sleep(GORT_MS(1));
    CHECK_EQ(atomic_load(&woken), n);
    gort_ctx_release(root);
    return 0;
}

Test(context, cancel_wakes_every_goroutine_waiting_on_done)
{
    run(2, all_waiters_main, NULL);
}

/* Concurrent cancels of a deep chain from both ends (Go: the race tests):
 * the first one wins, every node ends canceled once. */
static void cancel_leaf(void *arg)
{
    gort_ctx_cancel_cause(arg, -EIO);
}

static int race_main(void *arg)
{
    (void)arg;
    for (int round = 0; round < SCALE(200, 20); round++) {
        enum { DEPTH = 64 };
        gort_ctx *chain[DEPTH];
        chain[0] = gort_ctx_with_cancel(gort_ctx_background());
        for (int i = 1; i < DEPTH; i++)
            chain[i] = gort_ctx_with_cancel(chain[i - 1]);
        gort_wg wg = GORT_WG_INIT;
        gort_wg_go(&wg, cancel_leaf, chain[DEPTH - 1]);
        gort_wg_go(&wg, cancel_leaf, chain[DEPTH / 2]);
        gort_ctx_cancel(chain[0]);
        gort_wg_wait(&wg);
        for (int i = 0; i < DEPTH; i++)
            CHECK(done_now(chain[i]));
        CHECK_EQ(gort_ctx_cause(chain[0]), GORT_ECANCELED);
        /* Release the root first: the chain keeps it alive. */
        for (int i = 0; i < DEPTH; i++)
            gort_ctx_release(chain[i]);
    }
    return 0;
}

Test(context, concurrent_cancels_of_a_chain_are_safe)
{
    run(2, race_main, NULL);
}

/* A deadline cancels on g0's stack: a deep chain under it must fit. */
static int deep_main(void *arg)
{
    (void)arg;
    int depth = SCALE(2000, 500);
    gort_ctx **chain = calloc((size_t)depth, sizeof *chain);
    chain[0] = gort_ctx_with_timeout(gort_ctx_background(), GORT_MS(10));
    for (int i = 1; i < depth; i++)
        chain[i] = gort_ctx_with_cancel(chain[i - 1]);
    CHECK(!gort_chan_recv(gort_ctx_done(chain[depth - 1]), NULL));
    CHECK_EQ(gort_ctx_err(chain[depth - 1]), GORT_EDEADLINE);
    for (int i = depth - 1; i >= 0; i--)
        gort_ctx_release(chain[i]);
    free(chain);
    return 0;
}

Test(context, deadline_cancels_a_deep_chain)
{
    run(2, deep_main, NULL);
}

/* ---- Ownership ------------------------------------------------------------ */

static const char key_a;

static int parent_first_main(void *arg)
{
    (void)arg;
    gort_ctx *p = gort_ctx_with_timeout(gort_ctx_background(), GORT_S(3600));
    gort_ctx *v = gort_ctx_with_value(p, &key_a, (void *)&key_a);
    gort_ctx *c = gort_ctx_with_cancel(v);
    gort_ctx *keep = gort_ctx_retain(p);
    gort_ctx_release(v); /* the parents go first... */
    gort_ctx_release(p);
    /* ...and are neither freed nor canceled: c still reaches them. */
    CHECK(!done_now(c));
    CHECK(gort_ctx_value(c, &key_a) == &key_a);
    CHECK(gort_ctx_deadline(c, NULL));
    gort_ctx_cancel(keep); /* the parent can still cancel c */
    CHECK_EQ(gort_ctx_err(c), GORT_ECANCELED);
    gort_ctx_release(keep);
    gort_ctx_release(c); /* the last reference frees the chain (ASan) */
    return 0;
}

Test(context, parent_released_before_child_stays_alive_and_uncanceled)
{
    run(1, parent_first_main, NULL);
}

static int release_timer_main(void *arg)
{
    (void)arg;
    CHECK(!gort__timers_pending());
    gort_ctx *c = gort_ctx_with_timeout(gort_ctx_background(), GORT_S(3600));
    CHECK(gort__timers_pending());
    gort_ctx_cancel(c);
    CHECK(!gort__timers_pending()); /* cancel stops the timer */
    gort_ctx_release(c);
    c = gort_ctx_with_timeout(gort_ctx_background(), GORT_S(3600));
    gort_ctx *child = gort_ctx_with_timeout(c, GORT_S(1800));
    CHECK(gort__timers_pending());
    gort_ctx_release(child); /* never canceled: the release stops it */
    gort_ctx_release(c);
    CHECK(!gort__timers_pending());
    return 0;
}

Test(context, cancel_and_last_release_stop_the_deadline_timer)
{
    run(1, release_timer_main, NULL);
}

/* ---- Deadlines ------------------------------------------------------------ */

static int deadline_main(void *arg)
{
    (void)arg;
    int64_t t0 = gort_now();
    gort_ctx *c = gort_ctx_with_deadline(gort_ctx_background(),
                                         t0 + GORT_MS(50));
    int64_t when = 0;
    CHECK(gort_ctx_deadline(c, &when));
    CHECK_EQ(when, t0 + GORT_MS(50));
    CHECK_EQ(gort_ctx_err(c), 0);
    CHECK(!gort_chan_recv(gort_ctx_done(c), NULL));
    int64_t dt = gort_now() - t0;
    CHECK(dt >= GORT_MS(50));
    CHECK(dt < LATE);
    CHECK_EQ(gort_ctx_err(c), GORT_EDEADLINE);
    CHECK_EQ(gort_ctx_cause(c), GORT_EDEADLINE);
    gort_ctx_release(c);
    return 0;
}

Test(context, deadline_cancels_with_deadline_exceeded)
{
    run(1, deadline_main, NULL);
    run(2, deadline_main, NULL);
}

/* Go: TestDeadline's cases: a parent with an earlier deadline wins, a
 * later one does not; a deadline in the past is exceeded at once. */
static int deadline_inherit_main(void *arg)
{
    (void)arg;
    int64_t now = gort_now(), when = 0;
    gort_ctx *p = gort_ctx_with_timeout(gort_ctx_background(), GORT_MS(50));
    int64_t pw = 0;
    CHECK(gort_ctx_deadline(p, &pw));
    gort_ctx *later = gort_ctx_with_timeout(p, GORT_S(3600));
    CHECK(gort_ctx_deadline(later, &when));
    CHECK_EQ(when, pw);
    gort_ctx *sooner = gort_ctx_with_deadline(p, now + GORT_MS(10));
    CHECK(gort_ctx_deadline(sooner, &when));
    CHECK_EQ(when, now + GORT_MS(10));
    CHECK(!gort_chan_recv(gort_ctx_done(later), NULL));
    CHECK_EQ(gort_ctx_err(later), GORT_EDEADLINE);
    CHECK_EQ(gort_ctx_err(sooner), GORT_EDEADLINE);
    gort_ctx *past = gort_ctx_with_deadline(gort_ctx_background(), now - 1);
    CHECK(done_now(past));
    CHECK_EQ(gort_ctx_err(past), GORT_EDEADLINE);
    gort_ctx_release(past);
    gort_ctx_release(sooner);
    gort_ctx_release(later);
    gort_ctx_release(p);
    return 0;
}

Test(context, earlier_parent_deadline_wins_and_past_deadline_expires_at_once)
{
    run(1, deadline_inherit_main, NULL);
}

static int cancel_before_deadline_main(void *arg)
{
    (void)arg;
    gort_ctx *c = gort_ctx_with_timeout(gort_ctx_background(), GORT_MS(30));
    gort_ctx_cancel(c);
    gort_sleep(GORT_MS(60)); /* the stopped timer must not change err */
    CHECK_EQ(gort_ctx_err(c), GORT_ECANCELED);
    gort_ctx_release(c);
    return 0;
}

Test(context, cancel_before_the_deadline_keeps_canceled)
{
    run(1, cancel_before_deadline_main, NULL);
}

/* ---- Values ----------------------------------------------------------- */

static const char key_b, key_c;

/* Go: TestValues. */
static int values_main(void *arg)
{
    (void)arg;
    int one = 1, two = 2, three = 3;
    gort_ctx *bg = gort_ctx_background();
    CHECK(gort_ctx_with_value(bg, NULL, &one) == NULL);
    gort_ctx *c1 = gort_ctx_with_value(bg, &key_a, &one);
    gort_ctx *c2 = gort_ctx_with_value(c1, &key_b, &two);
    gort_ctx *c3 = gort_ctx_with_value(c2, &key_a, &three); /* shadows */
    gort_ctx *c4 = gort_ctx_with_cancel(c3);
    gort_ctx *c5 = gort_ctx_without_cancel(c4);
    CHECK(gort_ctx_value(c1, &key_a) == &one);
    CHECK(gort_ctx_value(c1, &key_b) == NULL);
    CHECK(gort_ctx_value(c2, &key_a) == &one);
    CHECK(gort_ctx_value(c2, &key_b) == &two);
    CHECK(gort_ctx_value(c3, &key_a) == &three);
    CHECK(gort_ctx_value(c4, &key_a) == &three);
    CHECK(gort_ctx_value(c5, &key_b) == &two);
    CHECK(gort_ctx_value(c5, &key_c) == NULL);
    CHECK_EQ(gort_ctx_cancel(c3), -EINVAL); /* a value ctx has no cancel */
    CHECK(gort_ctx_done(c3) == NULL);
    gort_ctx *all[] = {c5, c4, c3, c2, c1};
    for (int i = 0; i < 5; i++)
        gort_ctx_release(all[i]);
    return 0;
}

Test(context, values_are_found_up_the_chain_and_shadowed)
{
    run(1, values_main, NULL);
}

/* Go: TestWithoutCancel. */
static int without_cancel_main(void *arg)
{
    (void)arg;
    gort_ctx *p = gort_ctx_with_timeout(gort_ctx_background(), GORT_S(60));
    gort_ctx *v = gort_ctx_with_value(p, &key_a, (void *)&key_b);
    gort_ctx *w = gort_ctx_without_cancel(v);
    gort_ctx *wc = gort_ctx_with_cancel(w);
    gort_ctx_cancel(p);
    CHECK_EQ(gort_ctx_err(v), GORT_ECANCELED);
    CHECK_EQ(gort_ctx_err(w), 0);
    CHECK(gort_ctx_done(w) == NULL);
    CHECK(!gort_ctx_deadline(w, NULL));
    CHECK(gort_ctx_value(w, &key_a) == (void *)&key_b);
    CHECK_EQ(gort_ctx_cancel(w), -EINVAL);
    CHECK_EQ(gort_ctx_err(wc), 0); /* its child is cut off from p too */
    CHECK(!gort_ctx_deadline(wc, NULL));
    gort_ctx_cancel(wc);
    CHECK_EQ(gort_ctx_err(wc), GORT_ECANCELED);
    gort_ctx_release(wc);
    gort_ctx_release(w);
    gort_ctx_release(v);
    gort_ctx_release(p);
    return 0;
}

Test(context, without_cancel_keeps_values_and_drops_cancellation)
{
    run(1, without_cancel_main, NULL);
}

/* ---- Causes (Go: TestCause) ----------------------------------------------- */

static int cause_main(void *arg)
{
    (void)arg;
    gort_ctx *bg = gort_ctx_background();
    /* WithCancelCause, canceled with a cause, and its child. */
    gort_ctx *c = gort_ctx_with_cancel_cause(bg);
    gort_ctx *child = gort_ctx_with_cancel(c);
    CHECK_EQ(gort_ctx_cause(c), 0);
    gort_ctx_cancel_cause(c, -EPIPE);
    CHECK_EQ(gort_ctx_err(c), GORT_ECANCELED);
    CHECK_EQ(gort_ctx_cause(c), -EPIPE);
    CHECK_EQ(gort_ctx_cause(child), -EPIPE);
    gort_ctx_cancel_cause(c, -EIO); /* the first cause stays */
    CHECK_EQ(gort_ctx_cause(c), -EPIPE);
    gort_ctx_release(child);
    gort_ctx_release(c);
    /* Cause 0 means "canceled". */
    c = gort_ctx_with_cancel_cause(bg);
    gort_ctx_cancel_cause(c, 0);
    CHECK_EQ(gort_ctx_cause(c), GORT_ECANCELED);
    gort_ctx_release(c);
    /* WithTimeoutCause: the cause when the deadline cancels... */
    c = gort_ctx_with_timeout_cause(bg, GORT_MS(5), -EHOSTDOWN);
    gort_chan_recv(gort_ctx_done(c), NULL);
    CHECK_EQ(gort_ctx_err(c), GORT_EDEADLINE);
    CHECK_EQ(gort_ctx_cause(c), -EHOSTDOWN);
    gort_ctx_release(c);
    /* ...but not when canceled first. */
    c = gort_ctx_with_timeout_cause(bg, GORT_S(60), -EHOSTDOWN);
    gort_ctx_cancel(c);
    CHECK_EQ(gort_ctx_cause(c), GORT_ECANCELED);
    gort_ctx_release(c);
    /* A deadline child of a cause-canceled parent gets the parent's. */
    gort_ctx *p = gort_ctx_with_cancel_cause(bg);
    c = gort_ctx_with_deadline_cause(p, gort_now() + GORT_S(60), -EHOSTDOWN);
    gort_ctx_cancel_cause(p, -ENOTCONN);
    CHECK_EQ(gort_ctx_cause(c), -ENOTCONN);
    gort_ctx_release(c);
    gort_ctx_release(p);
    return 0;
}

Test(context, cause_is_the_first_cancellations_cause)
{
    run(1, cause_main, NULL);
}

Test(context, strerror_names_the_context_errors)
{
    cr_assert(eq(str, (char *)gort_strerror(GORT_ECANCELED),
                 "context canceled"));
    cr_assert(eq(str, (char *)gort_strerror(GORT_EDEADLINE),
                 "context deadline exceeded"));
    cr_assert(ne(int, GORT_ECANCELED, GORT_EDEADLINE));
    cr_assert(ne(int, GORT_EDEADLINE, -ETIMEDOUT));
}

/* ---- AfterFunc (Go: TestAfterFunc*) --------------------------------------- */

static _Atomic int after_runs;

static void after_fn(void *arg)
{
    CHECK(arg == &after_runs);
    atomic_fetch_add(&after_runs, 1);
}

static int wait_runs(int want)
{
    int64_t end = gort_now() + LATE;
    while (atomic_load(&after_runs) < want && gort_now() < end)
        gort_sleep(GORT_MS(1));
    gort_sleep(GORT_MS(5)); /* a second run would show up meanwhile */
    return atomic_load(&after_runs);
}

static int after_main(void *arg)
{
    (void)arg;
    atomic_store(&after_runs, 0);
    /* Runs once after cancel; stop then reports false. */
    gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
    gort_ctx_after *a = gort_ctx_after_func(c, after_fn, &after_runs);
    CHECK(a != NULL);
    gort_sleep(GORT_MS(5));
    CHECK_EQ(atomic_load(&after_runs), 0);
    gort_ctx_cancel(c);
    gort_ctx_cancel(c);
    CHECK_EQ(wait_runs(1), 1);
    CHECK(!gort_ctx_after_stop(a));
    gort_ctx_release(c);
    /* Stopped before cancel: never runs, stop reports true. */
    c = gort_ctx_with_cancel(gort_ctx_background());
    a = gort_ctx_after_func(c, after_fn, &after_runs);
    CHECK(gort_ctx_after_stop(a));
    gort_ctx_cancel(c);
    CHECK_EQ(wait_runs(2), 1);
    gort_ctx_release(c);
    /* Registered on a done context: runs at once. */
    c = gort_ctx_with_cancel(gort_ctx_background());
    gort_ctx_cancel(c);
    a = gort_ctx_after_func(c, after_fn, &after_runs);
    CHECK_EQ(wait_runs(2), 2);
    CHECK(!gort_ctx_after_stop(a));
    gort_ctx_release(c);
    /* On a context that is never canceled: never runs, stop is true. */
    a = gort_ctx_after_func(gort_ctx_background(), after_fn, &after_runs);
    CHECK(gort_ctx_after_stop(a));
    /* Through a value context and a deadline, and the registration keeps
     * the context alive after the caller's release. */
    gort_ctx *t = gort_ctx_with_timeout(gort_ctx_background(), GORT_MS(10));
    gort_ctx *v = gort_ctx_with_value(t, &key_a, NULL);
    a = gort_ctx_after_func(v, after_fn, &after_runs);
    gort_ctx_release(v);
    gort_ctx_release(t);
    CHECK_EQ(wait_runs(3), 3);
    CHECK(!gort_ctx_after_stop(a));
    CHECK(gort_ctx_after_func(NULL, after_fn, NULL) == NULL);
    return 0;
}

Test(context, after_func_runs_once_after_cancel_unless_stopped)
{
    run(1, after_main, NULL);
    run(2, after_main, NULL);
}

/* Stop racing with cancel: exactly one of "stop returned true" and "fn
 * ran" happens, every round (Go: AfterFunc's stop/run exclusion). */
static void cancel_now(void *arg)
{
    gort_ctx_cancel(arg);
}

static int after_race_main(void *arg)
{
    (void)arg;
    int rounds = SCALE(500, 100), stopped = 0;
    atomic_store(&after_runs, 0);
    for (int i = 0; i < rounds; i++) {
        gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
        gort_ctx_after *a = gort_ctx_after_func(c, after_fn, &after_runs);
        gort_wg wg = GORT_WG_INIT;
        gort_wg_go(&wg, cancel_now, c);
        if (i % 2)
            gort_yield();
        stopped += gort_ctx_after_stop(a);
        gort_wg_wait(&wg);
        gort_ctx_release(c);
    }
    CHECK_EQ(wait_runs(rounds - stopped) + stopped, rounds);
    return 0;
}

Test(context, after_func_stop_and_cancel_race_run_fn_at_most_once)
{
    run(2, after_race_main, NULL);
}

/* ---- Sleep and select ----------------------------------------------------- */

static void cancel_later(void *arg)
{
    gort_sleep(GORT_MS(20));
    gort_ctx_cancel(arg);
}

static int sleep_main(void *arg)
{
    (void)arg;
    gort_ctx *bg = gort_ctx_background();
    int64_t t0 = gort_now();
    CHECK_EQ(gort_ctx_sleep(bg, GORT_MS(10)), 0);
    CHECK(gort_now() - t0 >= GORT_MS(10));
    gort_ctx *c = gort_ctx_with_cancel(bg);
    CHECK_EQ(gort_ctx_sleep(c, GORT_MS(10)), 0);
    gort_wg wg = GORT_WG_INIT;
    gort_wg_go(&wg, cancel_later, c);
    t0 = gort_now();
    CHECK_EQ(gort_ctx_sleep(c, GORT_S(60)), GORT_ECANCELED);
    CHECK(gort_now() - t0 < LATE);
    gort_wg_wait(&wg);
    CHECK_EQ(gort_ctx_sleep(c, GORT_S(60)), GORT_ECANCELED); /* at once */
    gort_ctx_release(c);
    c = gort_ctx_with_timeout(bg, GORT_MS(20));
    t0 = gort_now();
    CHECK_EQ(gort_ctx_sleep(c, GORT_S(60)), GORT_EDEADLINE);
    CHECK(gort_now() - t0 >= GORT_MS(20));
    CHECK(gort_now() - t0 < LATE);
    gort_ctx_release(c);
    return 0;
}

Test(context, sleep_ends_early_with_the_contexts_error)
{
    run(1, sleep_main, NULL);
}

static void send_later(void *arg)
{
    gort_sleep(GORT_MS(5));
    int v = 42;
    gort_chan_send(arg, &v);
}

static int select_main(void *arg)
{
    (void)arg;
    gort_chan *ch = gort_chan_make(sizeof(int), 0);
    gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
    int v = 0;
    gort_wg wg = GORT_WG_INIT;
    gort_wg_go(&wg, send_later, ch);
    gort_select_case cs[] = {GORT_RECV(ch, &v, NULL)};
    CHECK_EQ(gort_ctx_select(c, cs, 1), 0);
    CHECK_EQ(v, 42);
    gort_wg_wait(&wg);
    gort_wg_go(&wg, cancel_later, c);
    CHECK_EQ(gort_ctx_select(c, cs, 1), GORT_ECANCELED);
    gort_wg_wait(&wg);
    /* A select of many cases (past the stack array). */
    gort_select_case many[40];
    for (int i = 0; i < 40; i++)
        many[i] = GORT_RECV(NULL, NULL, NULL);
    CHECK_EQ(gort_ctx_select(c, many, 40), GORT_ECANCELED);
    CHECK_EQ(gort_ctx_select(NULL, cs, 1), -EINVAL);
    gort_ctx_release(c);
    gort_chan_free(ch);
    return 0;
}

Test(context, select_adds_the_done_case)
{
    run(1, select_main, NULL);
}

/* ---- Reads, writes, dials ------------------------------------------------- */

static int sockpair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    if (gort_fd_register(sv[0]) != 0 || gort_fd_register(sv[1]) != 0)
        return -1;
    return 0;
}

static int read_main(void *arg)
{
    (void)arg;
    int sv[2];
    CHECK_EQ(sockpair(sv), 0);
    char buf[16];
    /* Data there: read_ctx returns it. */
    gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
    CHECK_EQ(gort_write(sv[1], "hi", 2), 2);
    CHECK_EQ(gort_read_ctx(c, sv[0], buf, sizeof buf), 2);
    /* A parked reader wakes with the cancellation. */
    gort_wg wg = GORT_WG_INIT;
    gort_wg_go(&wg, cancel_later, c);
    int64_t t0 = gort_now();
    CHECK_EQ(gort_read_ctx(c, sv[0], buf, sizeof buf), GORT_ECANCELED);
    CHECK(gort_now() - t0 < LATE);
    gort_wg_wait(&wg);
    CHECK_EQ(gort_read_ctx(c, sv[0], buf, sizeof buf), GORT_ECANCELED);
    gort_ctx_release(c);
    /* A deadline ends it with deadline exceeded, and leaves the fd's own
     * deadline alone: a plain read afterwards still works. */
    c = gort_ctx_with_timeout(gort_ctx_background(), GORT_MS(20));
    CHECK_EQ(gort_read_ctx(c, sv[0], buf, sizeof buf), GORT_EDEADLINE);
    gort_ctx_release(c);
    CHECK_EQ(gort_write(sv[1], "abc", 3), 3);
    CHECK_EQ(gort_read(sv[0], buf, sizeof buf), 3);
    /* The fd's deadline still applies under a live context. */
    c = gort_ctx_with_cancel(gort_ctx_background());
    gort_set_read_deadline(sv[0], gort_now() + GORT_MS(10));
    CHECK_EQ(gort_read_ctx(c, sv[0], buf, sizeof buf), -ETIMEDOUT);
    gort_set_read_deadline(sv[0], 0);
    /* Background: a plain read. */
    CHECK_EQ(gort_write(sv[1], "z", 1), 1);
    CHECK_EQ(gort_read_ctx(gort_ctx_background(), sv[0], buf, 1), 1);
    gort_ctx_release(c);
    gort_close(sv[0]);
    gort_close(sv[1]);
    return 0;
}

Test(context, read_ctx_wakes_a_parked_reader_with_the_contexts_error)
{
    run(1, read_main, NULL);
    run(2, read_main, NULL);
}

static int write_main(void *arg)
{
    (void)arg;
    int sv[2];
    CHECK_EQ(sockpair(sv), 0);
    static char big[1 << 22]; /* more than the socket buffers hold */
    gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
    CHECK_EQ(gort_write_ctx(c, sv[1], "ok", 2), 2);
    char buf[2];
    CHECK_EQ(gort_read(sv[0], buf, 2), 2);
    gort_wg wg = GORT_WG_INIT;
    gort_wg_go(&wg, cancel_later, c);
    CHECK_EQ(gort_write_ctx(c, sv[1], big, sizeof big), GORT_ECANCELED);
    gort_wg_wait(&wg);
    gort_ctx_release(c);
    gort_close(sv[0]);
    gort_close(sv[1]);
    return 0;
}

Test(context, write_ctx_wakes_a_blocked_writer_with_the_contexts_error)
{
    run(1, write_main, NULL);
}

static int dial_main(void *arg)
{
    (void)arg;
    int lfd = gort_listen("tcp4", "127.0.0.1:0");
    CHECK(lfd >= 0);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(lfd, (struct sockaddr *)&ss, &len);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d",
             ntohs(((struct sockaddr_in *)&ss)->sin_port));
    gort_ctx *c = gort_ctx_with_timeout(gort_ctx_background(), GORT_S(10));
    int fd = gort_dial_ctx(c, "tcp", addr);
    CHECK(fd >= 0);
    gort_close(fd);
    gort_ctx_cancel(c);
    CHECK_EQ(gort_dial_ctx(c, "tcp", addr), GORT_ECANCELED);
    gort_ctx_release(c);
    CHECK_EQ(gort_dial_ctx(gort_ctx_background(), "tcp", "127.0.0.1:bad"),
             -EINVAL);
    gort_close(lfd);
    return 0;
}

Test(context, dial_ctx_connects_and_refuses_a_done_context)
{
    run(1, dial_main, NULL);
}

/* A connect that hangs (the listener's accept queue is full, so the
 * kernel drops the SYNs) is woken by the cancellation and by the
 * deadline. Skipped where the kernel completes such connects anyway. */
static int dial_hang_main(void *arg)
{
    (void)arg;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_EQ(listen(lfd, 0), 0);
    socklen_t len = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &len);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    /* Fill the queue: these complete, later ones hang. */
    int filled[4], nfilled = 0, hang = 0;
    for (int i = 0; i < 4 && !hang; i++) {
        gort_ctx *t = gort_ctx_with_timeout(gort_ctx_background(),
                                            GORT_MS(100));
        int fd = gort_dial_ctx(t, "tcp", addr);
        gort_ctx_release(t);
        if (fd >= 0)
            filled[nfilled++] = fd;
        else
            hang = fd == GORT_EDEADLINE;
    }
    if (hang) {
        gort_ctx *c = gort_ctx_with_cancel(gort_ctx_background());
        gort_wg wg = GORT_WG_INIT;
        gort_wg_go(&wg, cancel_later, c);
        int64_t t0 = gort_now();
        CHECK_EQ(gort_dial_ctx(c, "tcp", addr), GORT_ECANCELED);
        CHECK(gort_now() - t0 >= GORT_MS(20));
        CHECK(gort_now() - t0 < LATE);
        gort_wg_wait(&wg);
        gort_ctx_release(c);
    } else {
        fprintf(stderr, "dial_hang: connects did not hang; skipped\n");
    }
    for (int i = 0; i < nfilled; i++)
        gort_close(filled[i]);
    close(lfd);
    return 0;
}

Test(context, dial_ctx_wakes_a_hanging_connect)
{
    run(1, dial_hang_main, NULL);
}

/* ---- Weighted semaphore (x/sync/semaphore tests) -------------------------- */

static int sema_main(void *arg)
{
    (void)arg;
    gort_sema s = GORT_SEMA_INIT(2);
    gort_ctx *bg = gort_ctx_background();
    CHECK_EQ(gort_sema_acquire_ctx(&s, 2, bg), 0);
    /* Full: a deadline gives up holding nothing. */
    gort_ctx *t = gort_ctx_with_timeout(bg, GORT_MS(20));
    CHECK_EQ(gort_sema_acquire_ctx(&s, 1, t), GORT_EDEADLINE);
    gort_ctx_release(t);
    /* A done context fails even with units free (Go prefers failing). */
    gort_sema_release(&s, 2);
    gort_ctx *c = gort_ctx_with_cancel(bg);
    gort_ctx_cancel(c);
    CHECK_EQ(gort_sema_acquire_ctx(&s, 1, c), GORT_ECANCELED);
    gort_ctx_release(c);
    CHECK(gort_sema_try_acquire(&s, 2)); /* nothing leaked */
    gort_sema_release(&s, 2);
    /* More than the size waits for the context. */
    t = gort_ctx_with_timeout(bg, GORT_MS(10));
    CHECK_EQ(gort_sema_acquire_ctx(&s, 3, t), GORT_EDEADLINE);
    gort_ctx_release(t);
    CHECK_EQ(gort_sema_acquire_ctx(&s, -1, bg), -EINVAL);
    return 0;
}

Test(context, sema_acquire_ctx_gives_up_holding_nothing)
{
    run(1, sema_main, NULL);
}

/* Go: TestAllocCancelDoesntStarve: a big waiter at the head that gives up
 * lets the small ones queued behind it through. */
static gort_sema starve_sem;

static void small_acquirer(void *arg)
{
    CHECK_EQ(gort_sema_acquire_ctx(&starve_sem, 1, gort_ctx_background()), 0);
    atomic_fetch_add((_Atomic int *)arg, 1);
}

static int behind_main(void *arg)
{
    (void)arg;
    gort_sema_init(&starve_sem, 10);
    gort_ctx *bg = gort_ctx_background();
    CHECK_EQ(gort_sema_acquire_ctx(&starve_sem, 1, bg), 0);
    gort_ctx *c = gort_ctx_with_timeout(bg, GORT_MS(30));
    _Atomic int got = 0;
    gort_wg small = GORT_WG_INIT;
    /* The big one waits first (it starts before the small goroutines
     * run on this one P), the small ones queue behind it. */
    for (int i = 0; i < 5; i++)
        gort_wg_go(&small, small_acquirer, &got);
    CHECK_EQ(gort_sema_acquire_ctx(&starve_sem, 10, c), GORT_EDEADLINE);
    gort_wg_wait(&small);
    CHECK_EQ(atomic_load(&got), 5);
    gort_sema_release(&starve_sem, 6);
    CHECK(gort_sema_try_acquire(&starve_sem, 10));
    gort_ctx_release(c);
    return 0;
}

Test(context, small_waiters_behind_a_canceled_big_one_get_through)
{
    run(1, behind_main, NULL);
}
