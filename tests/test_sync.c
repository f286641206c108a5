/*
 * test_sync.c: the sync suite: mutex, rwmutex, waitgroup, once, cond,
 * weighted semaphore, pool, foreign threads, and Go's fatal messages.
 *
 * Death tests run a scenario in a forked child (tests/helpers/harness.h
 * expect_death) and check the exit status (2) and the message on stderr.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <pthread.h> /* pthreads, not C11 threads: TSan intercepts these */
#include <time.h>
#include <unistd.h>

#include <gort.h>

#include "runtime.h" /* timers: run a callback on g0 for a death test */

#include "helpers/harness.h"

/* busy holds the CPU for about ns nanoseconds without calling gort. */
static void busy(int64_t ns)
{
    int64_t end = now_ns() + ns;
    while (now_ns() < end)
        ;
}

static void yield_n(int n)
{
    for (int i = 0; i < n; i++)
        gort_yield();
}

/* ---- Mutex -------------------------------------------------------------- */

enum { MU_GS = 8 };
static gort_mutex mu;
static gort_wg wg;
static long counter;
static int in_cs, overlaps;

static void mu_incr(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n; i++) {
        gort_mutex_lock(&mu);
        if (in_cs++ != 0)
            overlaps++;
        counter++;
        in_cs--;
        gort_mutex_unlock(&mu);
    }
    gort_wg_done(&wg);
}

static int mu_main(void *arg)
{
    long per_g = (long)arg;
    gort_wg_add(&wg, MU_GS);
    for (int i = 0; i < MU_GS; i++)
        cr_assert(eq(int, gort_go(mu_incr, (void *)per_g), 0));
    gort_wg_wait(&wg);
    return 0;
}

static void check_exclusion(int procs, long per_g)
{
    cr_assert(eq(int, run_rc(procs, mu_main, (void *)per_g), 0));
    cr_assert(eq(long, counter, per_g * MU_GS));
    cr_assert(eq(int, overlaps, 0));
}

Test(sync, mutex_excludes_with_1_proc)
{
    check_exclusion(1, SCALE(250000, 25000));
}

Test(sync, mutex_excludes_with_2_procs)
{
    check_exclusion(2, SCALE(250000, 25000));
}

Test(sync, mutex_excludes_with_8_procs)
{
    check_exclusion(8, SCALE(250000, 25000));
}

static int trylock_main(void *arg)
{
    (void)arg;
    cr_assert(gort_mutex_trylock(&mu));
    cr_assert(not(gort_mutex_trylock(&mu)));
    gort_mutex_unlock(&mu);
    gort_mutex_lock(&mu);
    cr_assert(not(gort_mutex_trylock(&mu)));
    gort_mutex_unlock(&mu);
    cr_assert(eq(i32, mu._state, 0));
    return 0;
}

Test(sync, mutex_trylock_fails_only_while_locked)
{
    cr_assert(eq(int, run_rc(1, trylock_main, NULL), 0));
}

static int handed;

static void unlock_other(void *arg)
{
    (void)arg;
    handed = 1;
    gort_mutex_unlock(&mu); /* a mutex is not owned by a goroutine */
    gort_wg_done(&wg);
}

static int unlock_other_main(void *arg)
{
    (void)arg;
    gort_mutex_lock(&mu);
    gort_wg_add(&wg, 1);
    gort_go(unlock_other, NULL);
    gort_mutex_lock(&mu); /* parks until the other goroutine unlocks */
    cr_assert(eq(int, handed, 1));
    gort_mutex_unlock(&mu);
    gort_wg_wait(&wg);
    return 0;
}

Test(sync, mutex_may_be_unlocked_by_another_goroutine)
{
    cr_assert(eq(int, run_rc(1, unlock_other_main, NULL), 0));
}

/* Go's TestMutexFairness: a goroutine that relocks at once must not keep a
 * waiter out forever: after 1 ms the mutex starves over to the waiter. */
static _Atomic int stop;

static void hog(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        gort_mutex_lock(&mu);
        busy(100000); /* 100 us under the lock, as Go's test sleeps */
        gort_mutex_unlock(&mu);
    }
    gort_wg_done(&wg);
}

static void fair_waiter(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        busy(100000);
        gort_mutex_lock(&mu);
        gort_mutex_unlock(&mu);
    }
    atomic_store(&stop, 1);
    gort_wg_done(&wg);
}

static int fairness_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 2);
    gort_go(hog, NULL);
    gort_go(fair_waiter, NULL);
    gort_wg_wait(&wg);
    return 0;
}

Test(sync, mutex_starving_waiter_acquires_with_2_procs, .timeout = 20)
{
    cr_assert(eq(int, run_rc(2, fairness_main, NULL), 0));
    cr_assert(eq(int, atomic_load(&stop), 1));
}

Test(sync, mutex_starving_waiter_acquires_with_8_procs, .timeout = 20)
{
    cr_assert(eq(int, run_rc(8, fairness_main, NULL), 0));
    cr_assert(eq(int, atomic_load(&stop), 1));
}

/* The same, step by step on one P: a waiter that was kept out for over
 * 1 ms puts the mutex in starvation mode, where it cannot be barged
 * (trylock fails while unlocked) and Unlock hands it over directly. */
static int starved_got;

static void starved_waiter(void *arg)
{
    (void)arg;
    gort_mutex_lock(&mu);
    starved_got = 1;
    gort_mutex_unlock(&mu);
    gort_wg_done(&wg);
}

static int starvation_main(void *arg)
{
    (void)arg;
    enum { STARVING_BIT = 4, WAITER_SHIFT = 3 };
    gort_mutex_lock(&mu);
    gort_wg_add(&wg, 1);
    gort_go(starved_waiter, NULL);
    while ((mu._state >> WAITER_SHIFT) == 0)
        gort_yield(); /* until the waiter queues on the semaphore */
    busy(2000000); /* keep it out for 2 ms */
    gort_mutex_unlock(&mu); /* wakes it (normal mode) ... */
    gort_mutex_lock(&mu);   /* ... but we barge in first */
    /* It runs, sees it waited > 1 ms, starves the mutex, parks again. */
    for (int i = 0; i < 1000 && !(mu._state & STARVING_BIT); i++)
        gort_yield();
    cr_assert(eq(int, mu._state & STARVING_BIT, STARVING_BIT));
    cr_assert(eq(int, starved_got, 0));
    gort_mutex_unlock(&mu); /* direct handoff, and we yield to it */
    /* Ownership went to the waiter: until it has run, nobody can barge. */
    if (!starved_got)
        cr_assert(not(gort_mutex_trylock(&mu)));
    while (!starved_got)
        gort_yield();
    gort_wg_wait(&wg);
    cr_assert(eq(i32, mu._state, 0)); /* back to normal mode, unlocked */
    return 0;
}

Test(sync, mutex_waiter_starved_over_1ms_gets_direct_handoff)
{
    cr_assert(eq(int, run_rc(1, starvation_main, NULL), 0));
}

/* ---- RWMutex ------------------------------------------------------------ */

static gort_rwmutex rw;
static _Atomic int wrote, reader2_done, reader2_saw;

static void rw_writer(void *arg)
{
    (void)arg;
    gort_rwmutex_lock(&rw);
    atomic_store(&wrote, 1);
    gort_rwmutex_unlock(&rw);
    gort_wg_done(&wg);
}

static void rw_reader2(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&rw);
    atomic_store(&reader2_saw, atomic_load(&wrote));
    gort_rwmutex_runlock(&rw);
    atomic_store(&reader2_done, 1);
    gort_wg_done(&wg);
}

static int rw_pending_main(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&rw);
    gort_wg_add(&wg, 2);
    gort_go(rw_writer, NULL);
    /* Wait until the writer is pending: then try_rlock fails. */
    while (gort_rwmutex_try_rlock(&rw)) {
        gort_rwmutex_runlock(&rw);
        gort_yield();
    }
    cr_assert(eq(int, atomic_load(&wrote), 0)); /* we still read-hold it */
    gort_go(rw_reader2, NULL);
    yield_n(100);
    cr_assert(eq(int, atomic_load(&reader2_done), 0)); /* blocked by writer */
    gort_rwmutex_runlock(&rw);
    gort_wg_wait(&wg);
    cr_assert(eq(int, atomic_load(&reader2_saw), 1)); /* writer went first */
    return 0;
}

Test(sync, rwmutex_pending_writer_blocks_new_readers)
{
    cr_assert(eq(int, run_rc(2, rw_pending_main, NULL), 0));
}

enum { RW_READERS = 4 };
static _Atomic int writes_done;

static void busy_reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        gort_rwmutex_rlock(&rw);
        busy(20000);
        gort_rwmutex_runlock(&rw);
    }
    gort_wg_done(&wg);
}

static void starving_writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        gort_rwmutex_lock(&rw);
        atomic_fetch_add(&writes_done, 1);
        gort_rwmutex_unlock(&rw);
        busy(10000);
    }
    atomic_store(&stop, 1);
    gort_wg_done(&wg);
}

static int rw_starve_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, RW_READERS + 1);
    for (int i = 0; i < RW_READERS; i++)
        gort_go(busy_reader, NULL);
    gort_go(starving_writer, NULL);
    gort_wg_wait(&wg);
    return 0;
}

Test(sync, rwmutex_readers_cannot_starve_a_waiting_writer, .timeout = 20)
{
    cr_assert(eq(int, run_rc(8, rw_starve_main, NULL), 0));
    cr_assert(eq(int, atomic_load(&writes_done), 50));
}

static long pair_a, pair_b;
static _Atomic int torn;

static void rw_mixed(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < SCALE(20000, 2000); i++) {
        if ((i + id) % 8 == 0) {
            gort_rwmutex_lock(&rw);
            pair_a++;
            gort_yield(); /* widen the window a reader could see */
            pair_b++;
            gort_rwmutex_unlock(&rw);
        } else {
            gort_rwmutex_rlock(&rw);
            if (pair_a != pair_b)
                atomic_store(&torn, 1);
            gort_rwmutex_runlock(&rw);
        }
    }
    gort_wg_done(&wg);
}

static int rw_mixed_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 8);
    for (long i = 0; i < 8; i++)
        gort_go(rw_mixed, (void *)i);
    gort_wg_wait(&wg);
    return 0;
}

Test(sync, rwmutex_writers_exclude_readers_with_8_procs)
{
    cr_assert(eq(int, run_rc(8, rw_mixed_main, NULL), 0));
    cr_assert(eq(int, atomic_load(&torn), 0));
    cr_assert(eq(long, pair_a, pair_b));
    cr_assert(eq(long, pair_a, 8 * SCALE(20000, 2000) / 8));
}

static int rw_try_main(void *arg)
{
    (void)arg;
    cr_assert(gort_rwmutex_trylock(&rw));
    cr_assert(not(gort_rwmutex_try_rlock(&rw)));
    cr_assert(not(gort_rwmutex_trylock(&rw)));
    gort_rwmutex_unlock(&rw);
    cr_assert(gort_rwmutex_try_rlock(&rw));
    cr_assert(gort_rwmutex_try_rlock(&rw));
    cr_assert(not(gort_rwmutex_trylock(&rw)));
    gort_rwmutex_runlock(&rw);
    gort_rwmutex_runlock(&rw);
    cr_assert(gort_rwmutex_trylock(&rw));
    gort_rwmutex_unlock(&rw);
    return 0;
}

Test(sync, rwmutex_try_calls_respect_readers_and_writer)
{
    cr_assert(eq(int, run_rc(1, rw_try_main, NULL), 0));
}

/* ---- WaitGroup ---------------------------------------------------------- */

static _Atomic int round_hits;

static void wg_worker(void *arg)
{
    (void)arg;
    gort_yield();
    atomic_fetch_add(&round_hits, 1);
    gort_wg_done(&wg);
}

static int wg_rounds_main(void *arg)
{
    (void)arg;
    for (int round = 0; round < SCALE(200, 20); round++) {
        gort_wg_add(&wg, 10);
        for (int i = 0; i < 10; i++)
            gort_go(wg_worker, NULL);
        gort_wg_wait(&wg);
        cr_assert(eq(int, atomic_load(&round_hits), (round + 1) * 10));
    }
    gort_wg_wait(&wg); /* counter is zero: returns at once */
    return 0;
}

Test(sync, waitgroup_is_reusable_across_rounds_with_8_procs)
{
    cr_assert(eq(int, run_rc(8, wg_rounds_main, NULL), 0));
}

static gort_wg wg2;
static _Atomic int waiters_back;

static void wg_second_waiter(void *arg)
{
    (void)arg;
    gort_wg_wait(&wg2);
    atomic_fetch_add(&waiters_back, 1);
    gort_wg_done(&wg);
}

static void wg_go_body(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

static int wg_multi_main(void *arg)
{
    (void)arg;
    static _Atomic int ran;
    gort_wg_add(&wg2, 1);
    gort_wg_add(&wg, 5);
    for (int i = 0; i < 5; i++)
        gort_go(wg_second_waiter, NULL);
    yield_n(20);
    cr_assert(eq(int, atomic_load(&waiters_back), 0));
    gort_wg_done(&wg2); /* releases all five waiters */
    gort_wg_wait(&wg);
    cr_assert(eq(int, atomic_load(&waiters_back), 5));
    for (int i = 0; i < 100; i++)
        cr_assert(eq(int, gort_wg_go(&wg2, wg_go_body, (void *)&ran), 0));
    gort_wg_wait(&wg2);
    cr_assert(eq(int, atomic_load(&ran), 100));
    cr_assert(eq(int, gort_wg_go(&wg2, NULL, NULL), -EINVAL));
    return 0;
}

Test(sync, waitgroup_releases_every_waiter_and_go_joins)
{
    cr_assert(eq(int, run_rc(2, wg_multi_main, NULL), 0));
}

/* gort_wg_go_copy: each goroutine gets its own copy of the loop's
 * variable, the caller's buffer may be reused at once, and the largest
 * copy (GORT_GO_COPY_MAX bytes) arrives intact. */
struct wg_copy_arg {
    int i;
    _Atomic int64_t *sum;
    unsigned char big[GORT_GO_COPY_MAX - 16];
};

static void wg_copy_body(void *arg)
{
    struct wg_copy_arg *a = arg;
    gort_yield(); /* the spawner has overwritten its own variable by now */
    for (size_t k = 0; k < sizeof a->big; k++)
        if (a->big[k] != (unsigned char)(a->i + k))
            return;
    atomic_fetch_add(a->sum, a->i);
}

static int wg_go_copy_main(void *arg)
{
    (void)arg;
    gort_wg group = GORT_WG_INIT;
    _Atomic int64_t sum = 0;
    struct wg_copy_arg a;
    cr_assert(eq(sz, sizeof a, (size_t)GORT_GO_COPY_MAX));
    for (int i = 1; i <= 100; i++) {
        a.i = i;
        a.sum = &sum;
        for (size_t k = 0; k < sizeof a.big; k++)
            a.big[k] = (unsigned char)(i + k);
        cr_assert(eq(int, gort_wg_go_copy(&group, wg_copy_body, &a, sizeof a),
                     0));
    }
    memset(&a, 0, sizeof a);
    gort_wg_wait(&group);
    cr_assert(eq(i64, atomic_load(&sum), 5050));
    cr_assert(eq(int, gort_wg_go_copy(&group, NULL, &a, 1), -EINVAL));
    cr_assert(eq(int, gort_wg_go_copy(&group, wg_copy_body, NULL, 1), -EINVAL));
    cr_assert(eq(int, gort_wg_go_copy(&group, wg_copy_body, &a,
                                      GORT_GO_COPY_MAX + 1), -EINVAL));
    cr_assert(eq(int, gort_wg_go_copy(NULL, wg_copy_body, &a, 1), -EINVAL));
    return 0;
}

Test(sync, waitgroup_go_copy_gives_each_goroutine_its_own_copy)
{
    cr_assert(eq(int, run_rc(2, wg_go_copy_main, NULL), 0));
}

/* ---- Once --------------------------------------------------------------- */

enum { ONCE_GS = 1000 };
static gort_once once;
static _Atomic int once_runs, once_finished, once_early;

static void once_fn(void *arg)
{
    cr_assert(eq(ptr, arg, (void *)&once));
    atomic_fetch_add(&once_runs, 1);
    yield_n(20); /* let the other callers pile up behind us */
    busy(1000000);
    atomic_store(&once_finished, 1);
}

static void once_caller(void *arg)
{
    (void)arg;
    gort_once_do(&once, once_fn, &once);
    if (!atomic_load(&once_finished))
        atomic_fetch_add(&once_early, 1);
    gort_wg_done(&wg);
}

static int once_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, ONCE_GS);
    for (int i = 0; i < ONCE_GS; i++)
        cr_assert(eq(int, gort_go(once_caller, NULL), 0));
    gort_wg_wait(&wg);
    return 0;
}

Test(sync, once_runs_once_and_every_caller_returns_after_it_with_8_procs)
{
    cr_assert(eq(int, run_rc(8, once_main, NULL), 0));
    cr_assert(eq(int, atomic_load(&once_runs), 1));
    cr_assert(eq(int, atomic_load(&once_early), 0));
}

/* ---- Cond --------------------------------------------------------------- */

enum { COND_GS = 100 };
static gort_cond cond;
static int go_flag, cond_waiting, cond_woke, tokens;

static void bcast_waiter(void *arg)
{
    (void)arg;
    gort_mutex_lock(&mu);
    cond_waiting++;
    while (!go_flag)
        gort_cond_wait(&cond, &mu);
    cond_woke++;
    gort_mutex_unlock(&mu);
    gort_wg_done(&wg);
}

static void wait_for_waiters(int n)
{
    for (;;) {
        gort_mutex_lock(&mu);
        int w = cond_waiting;
        gort_mutex_unlock(&mu);
        if (w == n)
            return;
        gort_yield();
    }
}

static int bcast_main(void *arg)
{
    (void)arg;
    gort_cond_broadcast(&cond); /* nobody waits: nothing happens */
    gort_cond_signal(&cond);
    gort_wg_add(&wg, COND_GS);
    for (int i = 0; i < COND_GS; i++)
        gort_go(bcast_waiter, NULL);
    wait_for_waiters(COND_GS);
    gort_mutex_lock(&mu);
    go_flag = 1;
    gort_cond_broadcast(&cond);
    gort_mutex_unlock(&mu);
    gort_wg_wait(&wg);
    cr_assert(eq(int, cond_woke, COND_GS));
    return 0;
}

Test(sync, cond_broadcast_wakes_every_waiter_with_8_procs)
{
    cr_assert(eq(int, run_rc(8, bcast_main, NULL), 0));
}

static void token_waiter(void *arg)
{
    (void)arg;
    gort_mutex_lock(&mu);
    cond_waiting++;
    while (tokens == 0)
        gort_cond_wait(&cond, &mu);
    tokens--;
    cond_woke++;
    gort_mutex_unlock(&mu);
    gort_wg_done(&wg);
}

static int signal_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, COND_GS);
    for (int i = 0; i < COND_GS; i++)
        gort_go(token_waiter, NULL);
    wait_for_waiters(COND_GS);
    for (int i = 0; i < COND_GS; i++) {
        gort_mutex_lock(&mu);
        tokens++;
        gort_mutex_unlock(&mu);
        gort_cond_signal(&cond); /* outside the lock: allowed */
    }
    gort_wg_wait(&wg);
    cr_assert(eq(int, cond_woke, COND_GS));
    cr_assert(eq(int, tokens, 0));
    return 0;
}

Test(sync, cond_signal_wakes_one_waiter_per_call_without_loss)
{
    cr_assert(eq(int, run_rc(8, signal_main, NULL), 0));
}

/* ---- Weighted semaphore ------------------------------------------------- */

static gort_sema sem;
static _Atomic int64_t sem_in_use, sem_max;

static void sem_user(void *arg)
{
    int64_t w = (int64_t)(long)arg;
    for (int i = 0; i < SCALE(2000, 200); i++) {
        cr_assert(eq(int, gort_sema_acquire(&sem, w), 0));
        int64_t now = atomic_fetch_add(&sem_in_use, w) + w;
        int64_t m = atomic_load(&sem_max);
        while (now > m && !atomic_compare_exchange_weak(&sem_max, &m, now))
            ;
        if (i % 4 == 0)
            gort_yield();
        atomic_fetch_sub(&sem_in_use, w);
        gort_sema_release(&sem, w);
    }
    gort_wg_done(&wg);
}

static int sem_weights_main(void *arg)
{
    (void)arg;
    cr_assert(eq(int, gort_sema_init(&sem, 10), 0));
    cr_assert(eq(int, gort_sema_init(NULL, 10), -EINVAL));
    cr_assert(eq(int, gort_sema_acquire(&sem, 11), -EINVAL));
    cr_assert(eq(int, gort_sema_acquire(&sem, -1), -EINVAL));
    gort_wg_add(&wg, 16);
    for (long i = 0; i < 16; i++)
        gort_go(sem_user, (void *)(i % 5 + 1));
    gort_wg_wait(&wg);
    cr_assert(le(i64, atomic_load(&sem_max), 10));
    cr_assert(gt(i64, atomic_load(&sem_max), 5)); /* it was shared */
    cr_assert(gort_sema_try_acquire(&sem, 10)); /* all given back */
    gort_sema_release(&sem, 10);
    return 0;
}

Test(sync, sema_weights_are_respected_with_8_procs)
{
    cr_assert(eq(int, run_rc(8, sem_weights_main, NULL), 0));
}

static _Atomic int sem_order[2], sem_seq;

static void sem_big(void *arg)
{
    (void)arg;
    gort_sema_acquire(&sem, 10);
    atomic_store(&sem_order[0], atomic_fetch_add(&sem_seq, 1) + 1);
    gort_sema_release(&sem, 10);
    gort_wg_done(&wg);
}

static void sem_small(void *arg)
{
    (void)arg;
    gort_sema_acquire(&sem, 1);
    atomic_store(&sem_order[1], atomic_fetch_add(&sem_seq, 1) + 1);
    gort_sema_release(&sem, 1);
    gort_wg_done(&wg);
}

static int sem_fifo_main(void *arg)
{
    (void)arg;
    sem = (gort_sema)GORT_SEMA_INIT(10);
    cr_assert(gort_sema_try_acquire(&sem, 5));
    gort_wg_add(&wg, 2);
    gort_go(sem_big, NULL);
    /* Once the big request waits, nobody may jump it: try fails although
     * five units are free. */
    while (gort_sema_try_acquire(&sem, 1)) {
        gort_sema_release(&sem, 1);
        gort_yield();
    }
    gort_go(sem_small, NULL);
    yield_n(50);
    cr_assert(eq(int, atomic_load(&sem_seq), 0));
    gort_sema_release(&sem, 5);
    gort_wg_wait(&wg);
    cr_assert(eq(int, atomic_load(&sem_order[0]), 1));
    cr_assert(eq(int, atomic_load(&sem_order[1]), 2));
    return 0;
}

Test(sync, sema_large_waiter_is_served_before_later_small_ones)
{
    cr_assert(eq(int, run_rc(2, sem_fifo_main, NULL), 0));
}

/* ---- Pool --------------------------------------------------------------- */

static _Atomic int pool_news, pool_frees;
static int pool_items[64];

static void *pool_new(void *arg)
{
    cr_assert(eq(ptr, arg, (void *)pool_items));
    atomic_fetch_add(&pool_news, 1);
    return malloc(16);
}

static void pool_free(void *item, void *arg)
{
    cr_assert(eq(ptr, arg, (void *)pool_items));
    atomic_fetch_add(&pool_frees, 1);
    if ((int *)item < pool_items || (int *)item >= pool_items + 64)
        free(item);
}

static int pool_same_p_main(void *arg)
{
    (void)arg;
    gort_pool pool = GORT_POOL_INIT(pool_new, pool_free, pool_items);
    gort_pool_put(&pool, &pool_items[0]);
    cr_assert(eq(ptr, gort_pool_get(&pool), (void *)&pool_items[0]));
    gort_pool_put(&pool, &pool_items[1]);
    gort_pool_put(&pool, &pool_items[2]);
    gort_pool_put(&pool, NULL); /* ignored */
    void *a = gort_pool_get(&pool), *b = gort_pool_get(&pool);
    cr_assert(eq(int, (a == &pool_items[1] && b == &pool_items[2]) ||
                          (a == &pool_items[2] && b == &pool_items[1]),
                 1));
    cr_assert(eq(int, atomic_load(&pool_news), 0));
    void *fresh = gort_pool_get(&pool); /* empty: new_fn */
    cr_assert(eq(int, atomic_load(&pool_news), 1));
    free(fresh);
    /* The bound: beyond GORT_POOL_PER_P per P, puts drop (free_fn). */
    for (int i = 0; i < GORT_POOL_PER_P + 5; i++)
        gort_pool_put(&pool, &pool_items[i]);
    cr_assert(eq(int, atomic_load(&pool_frees), 5));
    gort_pool_destroy(&pool);
    cr_assert(eq(int, atomic_load(&pool_frees), GORT_POOL_PER_P + 5));
    gort_pool zero = {0};
    cr_assert(eq(ptr, gort_pool_get(&zero), NULL));
    gort_pool_put(&zero, &pool_items[0]);
    cr_assert(eq(ptr, gort_pool_get(&zero), (void *)&pool_items[0]));
    gort_pool_destroy(&zero);
    return 0;
}

Test(sync, pool_get_returns_what_put_stored_on_the_same_p)
{
    cr_assert(eq(int, run_rc(1, pool_same_p_main, NULL), 0));
}

static gort_pool spool;
static _Atomic int pool_dup;

struct pitem {
    _Atomic int in_use;
};

static void *pitem_new(void *arg)
{
    (void)arg;
    atomic_fetch_add(&pool_news, 1);
    return calloc(1, sizeof(struct pitem));
}

static void pitem_free(void *item, void *arg)
{
    (void)arg;
    atomic_fetch_add(&pool_frees, 1);
    free(item);
}

static void pool_user(void *arg)
{
    (void)arg;
    for (int i = 0; i < SCALE(20000, 2000); i++) {
        struct pitem *a = gort_pool_get(&spool), *b = gort_pool_get(&spool);
        if (atomic_exchange(&a->in_use, 1) || atomic_exchange(&b->in_use, 1))
            atomic_store(&pool_dup, 1); /* handed out twice */
        if (i % 16 == 0)
            gort_yield();
        atomic_store(&a->in_use, 0);
        atomic_store(&b->in_use, 0);
        gort_pool_put(&spool, b);
        gort_pool_put(&spool, a);
    }
    gort_wg_done(&wg);
}

static int pool_stress_main(void *arg)
{
    (void)arg;
    gort_pool_init(&spool, pitem_new, pitem_free, NULL);
    gort_wg_add(&wg, 16);
    for (int i = 0; i < 16; i++)
        gort_go(pool_user, NULL);
    gort_wg_wait(&wg);
    gort_pool_destroy(&spool);
    return 0;
}

Test(sync, pool_never_hands_out_an_object_twice_with_8_procs)
{
    cr_assert(eq(int, run_rc(8, pool_stress_main, NULL), 0));
    cr_assert(eq(int, atomic_load(&pool_dup), 0));
    /* Every object made was eventually freed: nothing leaks. */
    cr_assert(eq(int, atomic_load(&pool_news), atomic_load(&pool_frees)));
}

/* ---- Foreign threads ---------------------------------------------------- */

static _Atomic int threads_running;

/* keeper stays runnable while foreign threads run: the deadlock detector
 * cannot know that a foreign thread will wake the parked goroutines. */
static void keeper(void *arg)
{
    (void)arg;
    while (atomic_load(&threads_running) > 0)
        gort_yield();
}

static void *thread_incr(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n; i++) {
        gort_mutex_lock(&mu); /* blocks the thread on a futex if needed */
        if (in_cs++ != 0)
            overlaps++;
        counter++;
        in_cs--;
        gort_mutex_unlock(&mu);
    }
    gort_wg_done(&wg); /* safe from a foreign thread */
    atomic_fetch_sub(&threads_running, 1);
    return NULL;
}

static int foreign_main(void *arg)
{
    long per = (long)arg;
    pthread_t t[2];
    gort_wg_add(&wg, 6);
    atomic_store(&threads_running, 2);
    gort_go(keeper, NULL);
    for (int i = 0; i < 2; i++)
        cr_assert(eq(int, pthread_create(&t[i], NULL, thread_incr,
                                         (void *)per), 0));
    for (int i = 0; i < 4; i++)
        gort_go(mu_incr, (void *)per);
    gort_wg_wait(&wg);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return 0;
}

Test(sync, foreign_threads_share_a_mutex_with_goroutines)
{
    long per = SCALE(50000, 5000);
    cr_assert(eq(int, run_rc(2, foreign_main, (void *)per), 0));
    cr_assert(eq(long, counter, 6 * per));
    cr_assert(eq(int, overlaps, 0));
}

static void *thread_waits(void *arg)
{
    (void)arg;
    gort_wg_wait(&wg2); /* a foreign thread may wait too */
    gort_mutex_lock(&mu);
    go_flag = 1;
    gort_cond_signal(&cond);
    gort_mutex_unlock(&mu);
    atomic_fetch_sub(&threads_running, 1);
    return NULL;
}



static void wg2_done(void *arg)
{
    (void)arg;
    gort_yield();
    gort_wg_done(&wg2);
}

static int foreign_wait_main(void *arg)
{
    (void)arg;
    pthread_t t;
    gort_wg_add(&wg2, 3);
    atomic_store(&threads_running, 1);
    cr_assert(eq(int, pthread_create(&t, NULL, thread_waits, NULL), 0));
    gort_go(keeper, NULL);
    for (int i = 0; i < 3; i++)
        gort_go(wg2_done, NULL);
    gort_mutex_lock(&mu);
    while (!go_flag)
        gort_cond_wait(&cond, &mu); /* signalled by the thread */
    gort_mutex_unlock(&mu);
    pthread_join(t, NULL);
    return 0;
}

Test(sync, foreign_thread_waits_on_a_waitgroup_and_signals_a_cond)
{
    cr_assert(eq(int, run_rc(2, foreign_wait_main, NULL), 0));
}

/* ---- Fatal errors (death tests) ----------------------------------------- */

static int d_unlock_unlocked(void *arg)
{
    (void)arg;
    gort_mutex_unlock(&mu);
    return 0;
}

static int d_runlock_unlocked(void *arg)
{
    (void)arg;
    gort_rwmutex_runlock(&rw);
    return 0;
}

static int d_rw_unlock_unlocked(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&rw);
    gort_rwmutex_unlock(&rw);
    return 0;
}

static int d_wg_negative(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 1);
    gort_wg_done(&wg);
    gort_wg_done(&wg);
    return 0;
}

static void reuse_waiter(void *arg)
{
    (void)arg;
    gort_wg_wait(&wg);
}

static int d_wg_reused(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 1);
    gort_go(reuse_waiter, NULL);
    while ((uint32_t)__atomic_load_n(&wg._state, __ATOMIC_SEQ_CST) == 0)
        gort_yield(); /* until the waiter has registered */
    gort_wg_done(&wg); /* readies the waiter into our runnext slot ... */
    gort_wg_add(&wg, 1); /* ... and we reuse the group before it returns */
    yield_n(10);
    return 0;
}

static int d_wg_add_during_wait(void *arg)
{
    (void)arg;
    /* The state an Add finds when the counter is zero while a Wait is
     * still registered: counter 0, one waiter. */
    __atomic_store_n(&wg._state, 1, __ATOMIC_SEQ_CST);
    gort_wg_add(&wg, 1);
    return 0;
}

static int d_sema_overrelease(void *arg)
{
    (void)arg;
    gort_sema_init(&sem, 3);
    gort_sema_acquire(&sem, 2);
    gort_sema_release(&sem, 3);
    return 0;
}

static int d_cond_copied(void *arg)
{
    (void)arg;
    gort_cond_signal(&cond);
    gort_cond copy = cond;
    gort_cond_signal(&copy);
    return 0;
}

static int d_double_lock(void *arg)
{
    (void)arg;
    gort_mutex_lock(&mu);
    gort_mutex_lock(&mu); /* nobody else can unlock: deadlock */
    return 0;
}

/* A timer callback runs on g0 (a runtime thread, no goroutine): a wait
 * there would stall the P, so it must die with a clear message. */
static struct timer g0_timer;

static void g0_waits(void *arg, uintptr_t seq, int64_t when)
{
    (void)arg;
    (void)seq;
    (void)when;
    gort_wg_wait(&wg);
}

static int d_g0_block(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 1);
    gort__timer_init(&g0_timer, g0_waits, NULL);
    gort__timer_reset(&g0_timer, gort__nanotime() + 1000000, 0, 0);
    int64_t end = now_ns() + GORT_S(5);
    while (now_ns() < end)
        gort_yield(); /* the timer fires meanwhile */
    return 0;
}

Test(sync_death, unlock_of_unlocked_mutex_is_fatal)
{
    expect_death(d_unlock_unlocked,
                 "fatal error: sync: unlock of unlocked mutex");
}

Test(sync_death, runlock_of_unlocked_rwmutex_is_fatal)
{
    expect_death(d_runlock_unlocked,
                 "fatal error: sync: RUnlock of unlocked RWMutex");
}

Test(sync_death, unlock_of_unlocked_rwmutex_is_fatal)
{
    expect_death(d_rw_unlock_unlocked,
                 "fatal error: sync: Unlock of unlocked RWMutex");
}

Test(sync_death, negative_waitgroup_counter_panics)
{
    expect_death(d_wg_negative, "panic: sync: negative WaitGroup counter");
}

Test(sync_death, waitgroup_reuse_before_wait_returned_panics)
{
    expect_death(d_wg_reused, "panic: sync: WaitGroup is reused before "
                              "previous Wait has returned");
}

Test(sync_death, waitgroup_add_concurrent_with_wait_panics)
{
    expect_death(d_wg_add_during_wait, "panic: sync: WaitGroup misuse: Add "
                                       "called concurrently with Wait");
}

Test(sync_death, sema_release_of_more_than_held_panics)
{
    expect_death(d_sema_overrelease,
                 "panic: semaphore: released more than held");
}

Test(sync_death, copied_cond_panics)
{
    expect_death(d_cond_copied, "panic: sync.Cond is copied");
}

Test(sync_death, locking_a_held_mutex_alone_is_a_deadlock)
{
    expect_death(d_double_lock,
                 "fatal error: all goroutines are asleep - deadlock!");
}

Test(sync_death, blocking_on_g0_is_fatal_with_the_call_named)
{
    expect_death(d_g0_block,
                 "fatal error: gort: gort_wg_wait called outside a goroutine");
}
