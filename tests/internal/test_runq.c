/*
 * test_runq.c: white-box tests of the run queues (Go's export_test.go
 * drives runqput/runqget the same way): ordering, runnext, a full ring
 * spilling to the global queue, and stealing half.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <pthread.h>
#include <sched.h>
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
    gort__globrunq_fini();
}

/* take is one pick off the global queues as the scheduler makes it: a
 * batch of up to max (0: a fair share), or the fairness pick. */
static struct g *take(int32_t max)
{
    struct g *got[RUNQ_SIZE / 2];
    gort__lock(&gort__sched.lock);
    int32_t n = gort__globrunq_take(pp, max, got);
    gort__unlock(&gort__sched.lock);
    return gort__globrunq_install(pp, got, n);
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
    cr_assert(eq(u32, gort__runq_len(pp), RUNQ_SIZE / 2 + 1));
    cr_assert(eq(i32, atomic_load(&gort__sched.runqsize), RUNQ_SIZE / 2));
    /* The oldest half went to the global queue, in order, and nothing
     * holds them back: the fairness pick (max 1) takes the oldest at
     * once. The new G stays on the ring's tail (Go sends it along: a
     * yielder would then wait behind the whole global queue). */
    struct gring *r = &gort__sched.runq;
    cr_assert(eq(u32, r->n, RUNQ_SIZE / 2));
    for (uint32_t i = 0; i < RUNQ_SIZE / 2; i++)
        cr_assert(eq(ptr, r->slot[(r->head + i) & (r->cap - 1)], &gs[i]));
    cr_assert(eq(ptr, take(1), &gs[0]));
    struct g *last = NULL;
    while (gort__runq_len(pp) > 0) {
        bool inherit;
        last = gort__runq_get(pp, &inherit);
    }
    cr_assert(eq(ptr, last, &gs[RUNQ_SIZE]));
    /* A P out of work takes a fair share of the 127 left with 2 Ps: 64,
     * one to run and 63 queued. */
    cr_assert(eq(ptr, take(0), &gs[1]));
    cr_assert(eq(u32, gort__runq_len(pp), 63));
    cr_assert(eq(i32, atomic_load(&gort__sched.runqsize), 63));
}

Test(runq, global_queue_grows_and_keeps_fifo_order_across_the_wrap)
{
    /* Put and take in rounds so the ring's head wraps while it grows. */
    int put = 0, got = 0;
    for (int round = 0; round < 8; round++) {
        gort__lock(&gort__sched.lock);
        for (int i = 0; i < 100 && put < 1024; i++)
            gort__globrunq_put(&gs[put++]);
        gort__unlock(&gort__sched.lock);
        for (int i = 0; i < 60; i++) {
            struct g *gp = take(1);
            cr_assert(eq(ptr, gp, &gs[got++]));
        }
    }
    cr_assert(eq(i32, atomic_load(&gort__sched.runqsize), put - got));
    while (got < put)
        cr_assert(eq(ptr, take(1), &gs[got++]));
    cr_assert(eq(ptr, take(1), NULL));
    cr_assert(eq(i32, atomic_load(&gort__sched.runqsize), 0));
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
    cr_assert(eq(ptr, q.head, NULL));
    struct g *gp = take(0);
    cr_assert(eq(ptr, gp, &gs[0]));
    /* 100 / 2 procs + 1 = 51: one returned, 50 on the local ring. */
    cr_assert(eq(u32, gort__runq_len(pp), 50));
    cr_assert(eq(i32, atomic_load(&gort__sched.runqsize), 49));
}

Test(runq, spawns_run_depth_first)
{
    /* Each spawn takes runnext and kicks the previous one to the head, so
     * the newest child runs first and older siblings follow newest-first,
     * ahead of work queued at the tail. */
    gort__runq_put(pp, &gs[100], false);
    for (int i = 0; i < 5; i++)
        gort__runq_put_spawn(pp, &gs[i]);
    bool inherit;
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), &gs[4]));
    cr_assert(inherit);
    for (int i = 3; i >= 0; i--) {
        cr_assert(eq(ptr, gort__runq_get(pp, &inherit), &gs[i]));
        cr_assert(not(inherit));
    }
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), &gs[100]));
    cr_assert(gort__runq_empty(pp));
}

Test(runq, wake_ups_keep_go_order)
{
    gort__runq_put(pp, &gs[0], true);
    gort__runq_put(pp, &gs[1], true); /* kicks gs[0] to the tail */
    gort__runq_put(pp, &gs[2], false);
    bool inherit;
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), &gs[1]));
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), &gs[0]));
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), &gs[2]));
}

Test(runq, depth_first_order_cannot_starve_older_work)
{
    /* An endless spawn tree, one G queued at the tail before it: every G
     * taken from the ring spawns two (the newest goes to runnext and runs
     * next as a leaf, the other is kicked to the head). Runnext chains are
     * bounded by the time slice, not by the ring, so only ring pops count:
     * the tail G must come within LIFO_STREAK_MAX + RUNQ_SIZE of them. */
    gort__runq_put(pp, &gs[1023], false);
    int next = 0, ring_pops = 0;
    bool inherit, found = false;
    gort__runq_put_spawn(pp, &gs[next++]);
    gort__runq_put_spawn(pp, &gs[next++]); /* kicks the root to the head */
    while (ring_pops <= LIFO_STREAK_MAX + RUNQ_SIZE && next < 1023) {
        struct g *gp = gort__runq_get(pp, &inherit);
        cr_assert(not(eq(ptr, gp, NULL)));
        if (inherit)
            continue; /* a leaf */
        ring_pops++;
        if (gp == &gs[1023]) {
            found = true;
            break;
        }
        for (int k = 0; k < 2 && next < 1023; k++)
            gort__runq_put_spawn(pp, &gs[next++]);
    }
    cr_assert(found, "tail G still waiting after %d ring pops", ring_pops);
    cr_assert(gt(i32, ring_pops, LIFO_STREAK_MAX)); /* depth-first before */
}

Test(runq, head_pushes_count_against_a_full_ring)
{
    for (int i = 0; i < RUNQ_SIZE; i++)
        gort__runq_put_spawn(pp, &gs[i]);
    cr_assert(eq(u32, gort__runq_len(pp), RUNQ_SIZE - 1));
    gort__runq_put_spawn(pp, &gs[RUNQ_SIZE]);
    cr_assert(eq(u32, gort__runq_len(pp), RUNQ_SIZE));
    gort__runq_put_spawn(pp, &gs[RUNQ_SIZE + 1]); /* full: half goes global */
    cr_assert(eq(u32, gort__runq_len(pp), RUNQ_SIZE / 2 + 1));
    cr_assert(eq(i32, atomic_load(&gort__sched.runqsize), RUNQ_SIZE / 2));
    /* Nothing lost: runnext + ring + global hold every G once. */
    static bool seen[RUNQ_SIZE + 2];
    bool inherit;
    struct g *gp;
    int n = 0;
    while ((gp = gort__runq_get(pp, &inherit))) {
        cr_assert(not(seen[gp->goid]));
        seen[gp->goid] = true;
        n++;
    }
    struct gring *r = &gort__sched.runq;
    for (uint32_t i = 0; i < r->n; i++) {
        gp = r->slot[(r->head + i) & (r->cap - 1)];
        cr_assert(not(seen[gp->goid]));
        seen[gp->goid] = true;
        n++;
    }
    cr_assert(eq(int, n, RUNQ_SIZE + 2));
}

/* A thief thread steals while the owner spawns (head pushes) and pops:
 * every G must come out exactly once. This is the ABA case the versioned
 * head exists for. */
enum { RACE_GS = 1024, RACE_ROUNDS = 2000 };
static _Atomic int taken[RACE_GS];
static _Atomic bool race_done;

static void *race_thief(void *arg)
{
    struct p *mine = arg;
    bool inherit;
    while (!atomic_load(&race_done)) {
        struct g *gp = gort__runq_steal(mine, pp, false);
        while (gp) {
            atomic_fetch_add(&taken[gp->goid], 1);
            gp = gort__runq_get(mine, &inherit);
        }
    }
    return NULL;
}

Test(runq, head_pushes_race_thieves_without_loss_or_duplicates)
{
    pthread_t th;
    pthread_create(&th, NULL, race_thief, thief);
    bool inherit;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        for (int i = 0; i < RACE_GS; i++)
            atomic_store(&taken[i], 0);
        int next = 0;
        while (next < RACE_GS) {
            for (int k = 0; k < 3 && next < RACE_GS; k++)
                gort__runq_put_spawn(pp, &gs[next++]);
            struct g *gp = gort__runq_get(pp, &inherit);
            if (gp)
                atomic_fetch_add(&taken[gp->goid], 1);
        }
        struct g *gp;
        while ((gp = gort__runq_get(pp, &inherit)))
            atomic_fetch_add(&taken[gp->goid], 1);
        /* The thief may still hold a batch: wait for its count. */
        struct g *got[RUNQ_SIZE / 2];
        int32_t n;
        gort__lock(&gort__sched.lock);
        while ((n = gort__globrunq_take(pp, RUNQ_SIZE / 2, got)) > 0)
            for (int32_t i = 0; i < n; i++)
                atomic_fetch_add(&taken[got[i]->goid], 1);
        gort__unlock(&gort__sched.lock);
        for (int i = 0; i < RACE_GS; i++) {
            for (int spin = 0; atomic_load(&taken[i]) == 0 && spin < 1000000;
                 spin++)
                sched_yield();
            cr_assert(eq(int, atomic_load(&taken[i]), 1),
                      "round %d: G %d taken %d times", round, i,
                      atomic_load(&taken[i]));
        }
    }
    atomic_store(&race_done, true);
    pthread_join(th, NULL);
}

Test(runq, solo_mode_takes_in_the_same_order)
{
    /* With one live P the owner skips the CAS (solo mode); the order must
     * be exactly the order with it: runnext, head pushes, then FIFO. */
    atomic_store(&gort__sched.solo, true);
    gort__runq_put(pp, &gs[100], false);
    gort__runq_put(pp, &gs[101], false);
    for (int i = 0; i < 4; i++)
        gort__runq_put_spawn(pp, &gs[i]);
    gort__runq_put(pp, &gs[50], true); /* a wake-up kicks gs[3] to the tail */
    int want[] = {50, 2, 1, 0, 100, 101, 3};
    bool inherit;
    for (int i = 0; i < 7; i++) {
        struct g *gp = gort__runq_get(pp, &inherit);
        cr_assert(eq(ptr, gp, &gs[want[i]]), "pop %d", i);
        cr_assert(eq(int, inherit, i == 0));
    }
    cr_assert(eq(ptr, gort__runq_get(pp, &inherit), NULL));
    cr_assert(eq(u32, atomic_load(&pp->runq_plain), 0));
    atomic_store(&gort__sched.solo, false);
}

Test(runq, runnext_left_waiting_is_stolen_after_the_back_off)
{
    atomic_store(&pp->status, P_RUNNING);
    gort__runq_put(pp, &gs[9], true);
    cr_assert(eq(ptr, gort__runq_steal(thief, pp, true), &gs[9]));
    cr_assert(gort__runq_empty(pp));
}

/* An owner handing two goroutines back and forth through runnext (a
 * channel ping-pong) keeps them: a thief that sees runnext taken during
 * its back-off leaves it alone instead of splitting the pair across Ps. */
static _Atomic bool chain_running;

static void *handoff_chain(void *arg)
{
    (void)arg;
    bool inherit;
    struct g *cur = &gs[0];
    while (atomic_load(&chain_running)) {
        struct g *other = cur == &gs[0] ? &gs[1] : &gs[0];
        gort__runq_put(pp, other, true);
        for (volatile int spin = 0; spin < 200; spin++)
            ; /* the waker's work until it parks */
        struct g *gp = gort__runq_get(pp, &inherit);
        if (gp == NULL) { /* a thief took it: keep the chain going */
            gort__runq_put(pp, other, true);
            continue;
        }
        cur = gp;
    }
    return NULL;
}

Test(runq, runnext_of_an_active_handoff_is_not_stolen)
{
    atomic_store(&pp->status, P_RUNNING);
    atomic_store(&chain_running, true);
    pthread_t th;
    pthread_create(&th, NULL, handoff_chain, NULL);
    while (atomic_load(&pp->runnext_taken) < 1000)
        sched_yield(); /* the chain is running */
    int stolen = 0, tries = 200;
    for (int i = 0; i < tries; i++)
        if (gort__runq_steal(thief, pp, true))
            stolen++;
    atomic_store(&chain_running, false);
    pthread_join(th, NULL);
    /* Comparing runnext alone (ABA) let ~10% of the tries through here;
     * now only a chain descheduled for a whole back-off can lose one. */
    cr_assert(le(int, stolen, tries / 40), "stole %d of %d", stolen, tries);
}

/* ---- A lone goroutine in a busy P's ring (runq.c, gort__runq_lone_wait) ------------- */

Test(runq, lone_goroutine_of_a_busy_p_is_left_until_the_last_pass)
{
    atomic_store(&pp->status, P_RUNNING);
    gort__runq_put(pp, &gs[3], false);
    cr_assert(eq(ptr, gort__runq_steal(thief, pp, false), NULL));
    cr_assert(eq(u32, gort__runq_len(pp), 1));
    /* Still waiting after the back-off: a long-running G holds the P. */
    cr_assert(eq(ptr, gort__runq_steal(thief, pp, true), &gs[3]));
    cr_assert(gort__runq_empty(pp));
}

Test(runq, lone_goroutine_of_a_p_in_a_syscall_is_taken_at_once)
{
    atomic_store(&pp->status, P_SYSCALL);
    gort__runq_put(pp, &gs[4], false);
    cr_assert(eq(ptr, gort__runq_steal(thief, pp, false), &gs[4]));
}

Test(runq, two_goroutines_of_a_busy_p_are_split_at_once)
{
    atomic_store(&pp->status, P_RUNNING);
    gort__runq_put(pp, &gs[5], false);
    gort__runq_put(pp, &gs[6], false);
    cr_assert(eq(ptr, gort__runq_steal(thief, pp, false), &gs[5]));
    cr_assert(eq(u32, gort__runq_len(pp), 1));
}

static uint32_t head_pos_of(struct p *p)
{
    return (uint32_t)atomic_load(&p->runqhead); /* the low half */
}

/* An owner that readies one goroutine after another through its ring and
 * runs each soon after (a select consumer and its producers) keeps them:
 * the thief sees the head move during its back-off and leaves it. */
static void *ring_cycle(void *arg)
{
    (void)arg;
    bool inherit;
    int i = 0;
    while (atomic_load(&chain_running)) {
        gort__runq_put(pp, &gs[10 + (i++ & 7)], false);
        for (volatile int spin = 0; spin < 2000; spin++)
            ; /* the waker's work until it parks */
        while (gort__runq_get(pp, &inherit) != NULL)
            ; /* run it (or find a thief took it) */
    }
    return NULL;
}

Test(runq, goroutines_cycled_through_a_busy_ring_are_not_stolen)
{
    atomic_store(&pp->status, P_RUNNING);
    atomic_store(&chain_running, true);
    pthread_t th;
    pthread_create(&th, NULL, ring_cycle, NULL);
    while (head_pos_of(pp) < 1000)
        sched_yield(); /* the cycle is running */
    int stolen = 0, tries = 400;
    for (int i = 0; i < tries; i++)
        if (gort__runq_steal(thief, pp, true)) {
            stolen++;
            bool inherit;
            while (gort__runq_get(thief, &inherit))
                ;
        }
    atomic_store(&chain_running, false);
    pthread_join(th, NULL);
    /* Taking a lone goroutine at once stole 4-5% of the tries here. */
    cr_assert(le(int, stolen, tries / 80), "stole %d of %d", stolen, tries);
}
