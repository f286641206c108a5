/*
 * test_fairness.c: Go's progress guarantees (docs/scheduler.md, "Bounded
 * waiting"): every runnable goroutine runs after a bounded number of
 * other picks on its P; nothing runnable waits for a timer or a hold; a
 * goroutine whose slice ran out yields at its next runtime call, fast
 * paths included.
 *
 * Each test asserts events and counts of picks, with generous completion
 * timeouts, never tight timings: the machines these run on are noisy.
 * Tests that need one P pin it (run(1, ...)), so the stress pass at
 * GORT_MAXPROCS=8 runs them unchanged.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <gort.h>

#include "helpers/harness.h"

/* ---- a crowd of yielding goroutines --------------------------------------
 *
 * Main spawns n goroutines that each loop on gort_yield until a flag is
 * set, waits until all have started, sets the flag and waits for them.
 * Before the holds were removed, the spawner under back-pressure and the
 * spilled children waited in an overflow queue for up to a second each
 * time, and n = 100,000 took minutes at one P.
 */
static _Atomic long crowd_started;
static _Atomic bool crowd_release;
static gort_wg crowd_wg;

static void crowd_member(void *arg)
{
    (void)arg;
    atomic_fetch_add(&crowd_started, 1);
    while (!atomic_load(&crowd_release))
        gort_yield();
    gort_wg_done(&crowd_wg);
}

static int crowd_main(void *arg)
{
    long n = *(long *)arg;
    atomic_store(&crowd_started, 0);
    atomic_store(&crowd_release, false);
    gort_wg_add(&crowd_wg, (int)n);
    for (long i = 0; i < n; i++)
        CHECK_EQ(gort_go(crowd_member, NULL), 0);
    while (atomic_load(&crowd_started) < n)
        gort_yield();
    atomic_store(&crowd_release, true);
    gort_wg_wait(&crowd_wg);
    settle();
    return 0;
}

Test(fairness, a_crowd_of_ten_thousand_yielders_completes_at_one_p,
     .timeout = 120)
{
    long n = SCALE3(10000, 10000, 2000);
    run(1, crowd_main, &n);
}

Test(fairness, a_crowd_of_one_hundred_thousand_yielders_completes_at_one_p,
     .timeout = 300)
{
    long n = SCALE3(100000, 20000, 4000);
    run(1, crowd_main, &n);
}

Test(fairness, a_crowd_of_one_hundred_thousand_yielders_completes_at_two_ps,
     .timeout = 300)
{
    long n = SCALE3(100000, 20000, 4000);
    run(2, crowd_main, &n);
}

/* ---- a loop that only locks and unlocks ----------------------------------
 *
 * Two goroutines relock one mutex in a loop, with a short computation
 * inside that reads the clock; every lock is the inline fast path (a CAS)
 * while nobody waits, and nothing in the loop ever parks. A third calls
 * gort_mutex_lock and must get the mutex. At one P it runs only if those
 * calls are preemption points. The relockers start after it and take the
 * P first (a new goroutine runs before older ones), and a relocker
 * preempted inside its critical section makes the third park on the
 * mutex: it then gets the mutex only through Go's starvation mode, once
 * the relockers let it run again.
 */
static gort_mutex hog_mu = GORT_MUTEX_INIT;
static _Atomic bool waiter_got_it;
static volatile unsigned long sink;

static void spin_a_little(void)
{
    for (int i = 0; i < 2000; i++)
        sink += (unsigned long)i;
    sink += (unsigned long)gort_now();
}

static void relocker(void *arg)
{
    (void)arg;
    while (!atomic_load(&waiter_got_it)) {
        gort_mutex_lock(&hog_mu);
        spin_a_little();
        gort_mutex_unlock(&hog_mu);
    }
    gort_wg_done(&crowd_wg);
}

static void lock_waiter(void *arg)
{
    (void)arg;
    gort_mutex_lock(&hog_mu);
    atomic_store(&waiter_got_it, true);
    gort_mutex_unlock(&hog_mu);
    gort_wg_done(&crowd_wg);
}

static int lock_hog_main(void *arg)
{
    (void)arg;
    atomic_store(&waiter_got_it, false);
    gort_wg_add(&crowd_wg, 3);
    gort_go(lock_waiter, NULL);
    gort_go(relocker, NULL);
    gort_go(relocker, NULL);
    gort_wg_wait(&crowd_wg);
    CHECK(atomic_load(&waiter_got_it));
    settle();
    return 0;
}

Test(fairness, a_lock_only_loop_does_not_starve_a_waiter_at_one_p,
     .timeout = 60)
{
    run(1, lock_hog_main, NULL);
}

/* ---- CPU-bound loops whose only runtime calls are fast paths -------------
 *
 * Four goroutines share one P; each loops on one kind of call that never
 * parks: gort_now, a non-blocking send, a non-blocking receive, an
 * uncontended lock and unlock (and, fifth, gort_once_do on a done once).
 * Each loops until all of them have started, so the test ends only if
 * every one of them got a turn while the others were still looping.
 */
enum { FAST_KINDS = 5 };
static _Atomic int fast_started;
static gort_chan *fast_ch;
static gort_mutex fast_mu = GORT_MUTEX_INIT;
static gort_once fast_once = GORT_ONCE_INIT;

static void noop(void *arg)
{
    (void)arg;
}

static void fast_looper(void *arg)
{
    int kind = (int)(intptr_t)arg;
    int v = 0;
    bool ok;
    atomic_fetch_add(&fast_started, 1);
    while (atomic_load(&fast_started) < FAST_KINDS) {
        switch (kind) {
        case 0:
            sink += (unsigned long)gort_now();
            break;
        case 1:
            gort_chan_trysend(fast_ch, &v);
            break;
        case 2:
            gort_chan_tryrecv(fast_ch, &v, &ok);
            break;
        case 3:
            gort_mutex_lock(&fast_mu);
            gort_mutex_unlock(&fast_mu);
            break;
        default:
            gort_once_do(&fast_once, noop, NULL);
            break;
        }
    }
    gort_wg_done(&crowd_wg);
}

static int fast_paths_main(void *arg)
{
    (void)arg;
    atomic_store(&fast_started, 0);
    fast_ch = gort_chan_make(sizeof(int), 1);
    gort_once_do(&fast_once, noop, NULL);
    gort_wg_add(&crowd_wg, FAST_KINDS);
    for (intptr_t k = 0; k < FAST_KINDS; k++)
        gort_go(fast_looper, (void *)k);
    gort_wg_wait(&crowd_wg);
    gort_chan_free(fast_ch);
    gort_stats_t st;
    gort_stats(&st);
    CHECK(st.preempts >= 1); /* nobody parked: only preemption let them in */
    settle();
    return 0;
}

Test(fairness, loops_of_fast_path_calls_share_one_p, .timeout = 60)
{
    run(1, fast_paths_main, NULL);
}

/* ---- a preempted goroutine runs again within a bounded number of picks ----
 *
 * At one P, YIELDERS goroutines yield in a loop, each counting its turns
 * in `picks`. A hog computes in a loop whose only runtime call is gort_now.
 * When sysmon cuts its slice, it yields there to the global queue, and
 * `picks` tells how many other goroutines ran before it got the P back.
 * With nothing else in the global queue, the fairness pick takes it within
 * GLOBAL_FAIR_TICK picks (docs/scheduler.md, "Bounded waiting"). Before the
 * holds were removed, a preempted goroutine whose P stayed busy waited
 * 100 ms: millions of picks.
 */
enum { YIELDERS = 200, FAIR_TICK = 61, WANT_PREEMPTS = 5 };
#define PICK_BOUND FAIR_TICK

static _Atomic long picks, yielders_started;
static _Atomic bool hog_done;
static _Atomic long worst_wait, hog_preempts;

static void counting_yielder(void *arg)
{
    (void)arg;
    atomic_fetch_add(&yielders_started, 1);
    while (!atomic_load(&hog_done)) {
        atomic_fetch_add(&picks, 1);
        gort_yield();
    }
    gort_wg_done(&crowd_wg);
}

static void hog(void *arg)
{
    (void)arg;
    int64_t give_up = now_ns() + 60 * 1000000000LL;
    /* Measure once the spawning is over: a goroutine run through runnext
     * inherits the slice, and the spawn phase hands each new yielder
     * that way, so picks then outnumber the ticks the fairness pick
     * counts (CI saw 128, one spawn turn, against the bound of 61). */
    while (atomic_load(&yielders_started) < YIELDERS)
        gort_yield();
    while (atomic_load(&hog_preempts) < WANT_PREEMPTS && now_ns() < give_up) {
        long before = atomic_load(&picks);
        sink += (unsigned long)gort_now();
        long waited = atomic_load(&picks) - before;
        if (waited > 0) {
            atomic_fetch_add(&hog_preempts, 1);
            if (waited > atomic_load(&worst_wait))
                atomic_store(&worst_wait, waited);
        }
    }
    atomic_store(&hog_done, true);
    gort_wg_done(&crowd_wg);
}

static int bounded_wait_main(void *arg)
{
    (void)arg;
    atomic_store(&picks, 0);
    atomic_store(&yielders_started, 0);
    atomic_store(&hog_done, false);
    atomic_store(&worst_wait, 0);
    atomic_store(&hog_preempts, 0);
    gort_wg_add(&crowd_wg, YIELDERS + 1);
    gort_go(hog, NULL);
    for (int i = 0; i < YIELDERS; i++)
        gort_go(counting_yielder, NULL);
    gort_wg_wait(&crowd_wg);
    settle();
    return 0;
}

Test(fairness, a_preempted_goroutine_runs_again_within_a_bounded_number_of_picks,
     .timeout = 120)
{
    run(1, bounded_wait_main, NULL);
    cr_assert(eq(long, atomic_load(&hog_preempts), WANT_PREEMPTS),
              "the hog was preempted %ld times", atomic_load(&hog_preempts));
    cr_assert(le(long, atomic_load(&worst_wait), PICK_BOUND),
              "a preempted goroutine waited %ld picks (bound %d)",
              atomic_load(&worst_wait), PICK_BOUND);
}

/* ---- a spawn loop lets its children run as it goes ------------------------
 *
 * A goroutine that spawns half a ring's worth of goroutines in one turn,
 * while nothing waits in the global queue, yields to them
 * (docs/scheduler.md, "Spawn loops"), so a spawn loop keeps a bounded
 * number alive instead of everything it spawns in its slice. While other
 * work waits globally the spawner does not yield, by design, and once its
 * ring spills that lasts to the end of the loop: CI's checked build saw
 * that once in a loaded stress pass. The bound is therefore asked of the
 * best of three loops; without spawn turns every loop breaks it.
 */
enum { SPAWNS = 20000, LIVE_BOUND = 2 * 256, LOOPS = 3 };
static _Atomic long children_done;
static long most_alive;

static void short_child(void *arg)
{
    (void)arg;
    atomic_fetch_add(&children_done, 1);
    gort_wg_done(&crowd_wg);
}

/* one_spawn_loop returns the most children alive at once in one loop. */
static long one_spawn_loop(void)
{
    long most = 0;
    atomic_store(&children_done, 0);
    gort_wg_add(&crowd_wg, SPAWNS);
    for (long i = 1; i <= SPAWNS; i++) {
        CHECK_EQ(gort_go(short_child, NULL), 0);
        long alive = i - atomic_load(&children_done);
        if (alive > most)
            most = alive;
    }
    gort_wg_wait(&crowd_wg);
    return most;
}

static int spawn_loop_main(void *arg)
{
    (void)arg;
    most_alive = LONG_MAX;
    for (int i = 0; i < LOOPS && most_alive > LIVE_BOUND; i++) {
        long most = one_spawn_loop();
        if (most < most_alive)
            most_alive = most;
    }
    settle();
    return 0;
}

Test(fairness, a_spawn_loop_lets_its_children_run_as_it_goes, .timeout = 60)
{
    run(1, spawn_loop_main, NULL);
    cr_assert(le(long, most_alive, LIVE_BOUND),
              "%ld children were alive at once", most_alive);
}
