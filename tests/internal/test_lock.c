/*
 * test_lock.c: runtime locks (runtime/lock.c) and, in the checked build
 * (make DEBUG=1), the lock-rank checker (runtime/lockrank.c): every rule
 * it enforces is broken once here and must stop the program.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "../helpers/harness.h"
#include "proc.h"
#include "runtime.h"

/* ---- m.locks -------------------------------------------------------------- */

static int trylock_main(void *arg)
{
    (void)arg;
    struct lock l = LOCK_INIT(LOCKRANK_POOL);
    struct m *mp = gort__getm();
    uint32_t before = mp->locks;
    CHECK(gort__trylock(&l));
    CHECK(mp->locks == before + 1); /* not preemptible while held */
    CHECK(!gort__trylock(&l));
    gort__unlock(&l);
    CHECK(mp->locks == before);
    gort__lock(&l);
    gort__unlock(&l);
    CHECK(mp->locks == before);
    return 0;
}

/* A lock taken by trylock counts in m.locks like any other: its unlock
 * takes one back, and an uncounted one would wrap m.locks and leave the
 * M's goroutines unpreemptible for good (sync/pool.c steals so). */
Test(lock, trylock_and_unlock_keep_m_locks_balanced)
{
    run(1, trylock_main, NULL);
}

#if GORT_LOCKRANK
/* ---- The rank checker ----------------------------------------------------- */

static int out_of_order_main(void *arg)
{
    (void)arg;
    static struct lock stack = LOCK_INIT(LOCKRANK_STACK);
    static struct lock sched = LOCK_INIT(LOCKRANK_SCHED);
    gort__lock(&stack);
    gort__lock(&sched); /* sched ranks below the stack pool */
    return 1;
}

Test(lock, a_lock_below_one_held_is_fatal)
{
    expect_death(out_of_order_main, "acquire out of rank order");
}

static int unranked_main(void *arg)
{
    (void)arg;
    static struct lock l; /* zeroed: never given a rank */
    gort__lock(&l);
    return 1;
}

Test(lock, a_lock_without_a_rank_is_fatal)
{
    expect_death(unranked_main, "acquire of a lock without a rank");
}

static int not_held_main(void *arg)
{
    (void)arg;
    gort__pidleget(); /* "Caller holds sched.lock" */
    return 1;
}

Test(lock, a_caller_holds_rule_broken_is_fatal)
{
    expect_death(not_held_main, "caller must hold &gort__sched.lock");
}

static struct lock pair[2];

static int same_rank_main(void *arg)
{
    bool descending = arg != NULL;
    gort__lock_init(&pair[0], LOCKRANK_TIMERS);
    gort__lock_init(&pair[1], LOCKRANK_TIMERS);
    struct lock *a = &pair[descending], *b = &pair[!descending];
    gort__lock(a);
    gort__lock(b);
    gort__unlock(a); /* out of order is fine */
    gort__unlock(b);
    return 0;
}

static int same_rank_descending_main(void *arg)
{
    (void)arg;
    return same_rank_main((void *)1);
}

/* Two P heaps nest in ascending address order (gort__timers_move). */
Test(lock, same_rank_locks_nest_only_in_address_order)
{
    run(1, same_rank_main, NULL);
    expect_death(same_rank_descending_main, "acquire out of rank order");
}

static int relock_main(void *arg)
{
    (void)arg;
    static struct lock l = LOCK_INIT(LOCKRANK_TIMER);
    gort__lock(&l);
    gort__lock(&l);
    return 1;
}

Test(lock, relocking_a_held_lock_is_fatal_not_a_hang)
{
    expect_death(relock_main, "acquire of a lock this thread holds");
}

static int below_main(void *arg)
{
    (void)arg;
    static struct lock l = LOCK_INIT(LOCKRANK_TIMERS);
    gort__lock(&l);
    gort__sched_timer_added(1); /* "Call it with NO timer lock held" */
    return 1;
}

Test(lock, a_no_lock_held_rule_broken_is_fatal)
{
    expect_death(below_main, "caller must hold nothing from LOCKRANK_TIMER");
}
#endif
