/*
 * test_runq.c: white-box tests of the run queues (Go's export_test.go
 * drives runqput/runqget the same way): ordering, runnext, overflow to
 * the global queue, and stealing half.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdlib.h>

#include "runtime.h"

static struct g gs[1024];
static struct p *pp, *thief;

static void setup(void)
{
    pp = calloc(1, sizeof *pp);
    thief = calloc(1, sizeof *thief);
    thief->id = 1;
    atomic_store(&gort__sched.gomaxprocs, 2);
    for (int i = 0; i < 1024; i++)
        gs[i].goid = (uint64_t)i;
}

static void teardown(void)
{
    free(pp);
    free(thief);
}

TestSuite(runq, .init = setup, .fini = teardown);

Test(runq, ring_is_fifo)
{
    for (int i = 0; i < 10; i++)
        gort__runq_put(pp, &gs[i], false);
    cr_assert(eq(u32, gort__runq_len(pp), 10));
    bool inherit;
    for (int i = 0; i < 10; i++) {
        struct g *gp = gort__runq_get(pp, &inherit);
        cr_assert(eq(ptr, gp, &gs[i]));
        cr_assert(not(inherit));
    }
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), NULL));
    cr_assert(gort__runq_empty(pp));
}

Test(runq, runnext_runs_first_and_inherits_the_slice)
{
    gort__runq_put(pp, &gs[0], false);
    gort__runq_put(pp, &gs[1], true);
    gort__runq_put(pp, &gs[2], true); /* kicks gs[1] to the tail */
    bool inherit;
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), &gs[2]));
    cr_assert(inherit);
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), &gs[0]));
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), &gs[1]));
    cr_assert(not(inherit));
}

Test(runq, full_ring_moves_half_to_the_global_queue)
{
    for (int i = 0; i < RUNQ_SIZE; i++)
        gort__runq_put(pp, &gs[i], false);
    cr_assert(eq(u32, gort__runq_len(pp), RUNQ_SIZE));
    gort__runq_put(pp, &gs[RUNQ_SIZE], false);
    cr_assert(eq(u32, gort__runq_len(pp), RUNQ_SIZE / 2));
    cr_assert(eq(i32, atomic_load(&gort__sched.runqsize), RUNQ_SIZE / 2 + 1));
    /* The oldest half went global, in order, followed by the new G. */
    struct g *gp = gort__sched.runq.head;
    for (int i = 0; i < RUNQ_SIZE / 2; i++, gp = gp->schedlink)
        cr_assert(eq(ptr, gp, &gs[i]));
    cr_assert(eq(ptr, gp, &gs[RUNQ_SIZE]));
}

Test(runq, thief_takes_half_rounded_up)
{
    for (int i = 0; i < 9; i++)
        gort__runq_put(pp, &gs[i], false);
    atomic_store(&pp->status, P_RUNNING);
    struct g *gp = gort__runq_steal(thief, pp, false);
    cr_assert(not(eq(ptr, gp, NULL)));
    /* 5 taken: 4 queued on the thief, 1 returned to run. */
    cr_assert(eq(u32, gort__runq_len(thief), 4));
    cr_assert(eq(u32, gort__runq_len(pp), 4));
    cr_assert(eq(ptr, gp, &gs[4]));
    bool inherit;
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), &gs[5]));
}

Test(runq, runnext_is_stolen_only_on_request)
{
    gort__runq_put(pp, &gs[7], true);
    cr_assert(eq(ptr, gort__runq_steal(thief, pp, false), NULL));
    cr_assert(eq(ptr, gort__runq_steal(thief, pp, true), &gs[7]));
    cr_assert(gort__runq_empty(pp));
}

Test(runq, global_batch_is_a_fair_share)
{
    struct gqueue q = {0};
    for (int i = 0; i < 100; i++)
        gort__gqueue_push(&q, &gs[i]);
    gort__globrunq_putbatch(&q);
    gort__lock(&gort__sched.lock);
    struct g *gp = gort__globrunq_get(pp, 0);
    gort__unlock(&gort__sched.lock);
    cr_assert(eq(ptr, gp, &gs[0]));
    /* 100 / 2 procs + 1 = 51: one returned, 50 on the local ring. */
    cr_assert(eq(u32, gort__runq_len(pp), 50));
    cr_assert(eq(i32, atomic_load(&gort__sched.runqsize), 49));
}
