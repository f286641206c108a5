/*
 * mutex.c: the slow paths of gort_mutex (Go: sync/mutex.go, whose comment
 * "Mutex fairness" this mirrors). The fast paths are inline in
 * <gort/sync.h>: lock is one CAS 0 -> LOCKED, unlock one atomic subtract.
 *
 * Normal mode: waiters queue FIFO on the semaphore, but a woken waiter does
 * not own the mutex: it competes with new arrivals, which often win since
 * they are already running. A waiter that loses is queued at the front. A
 * waiter that fails to get the mutex for more than 1 ms switches the mutex
 * to starvation mode.
 * Starvation mode: Unlock hands ownership straight to the waiter at the
 * front (semaphore handoff) and new arrivals neither spin nor take the
 * mutex: they queue at the back. The mutex returns to normal mode when a
 * waiter that gets it is the last one or waited less than 1 ms.
 *
 * Invariants:
 *  - state = LOCKED | WOKEN | STARVING | waiters << WAITER_SHIFT.
 *  - WOKEN is set while a waiter is awake and competing (woken by Unlock or
 *    spinning), so Unlock does not wake another one.
 *  - In starvation mode LOCKED is clear while ownership is in flight to the
 *    woken waiter, which sets it (and decrements waiters) itself.
 *  - The n-th unlock happens-before the m-th lock returns, n < m (release
 *    subtract in unlock, acquire CAS/add in lock).
 *
 * Locking: no runtime lock is held here; parking goes through the
 * semaphore table (sema.c), which takes its root lock.
 *
 * See also: include/gort/sync.h, runtime/sema.c, sync/rwmutex.c,
 * docs/sync.md.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "../runtime/sema.h"

enum {
    LOCKED = 1,
    WOKEN = 2,
    STARVING = 4,
    WAITER_SHIFT = 3,
    ACTIVE_SPIN = 4,     /* Go: active_spin */
    ACTIVE_SPIN_CNT = 30 /* Go: active_spin_cnt (PAUSEs per round) */
};
/* Go: starvationThresholdNs. */
#define STARVATION_THRESHOLD_NS 1000000

_Static_assert(LOCKED == 1 && (LOCKED | STARVING) == 5,
              "the inline fast paths in gort/sync.h hard-code these bits");

static int32_t load_state(gort_mutex *mu)
{
    /* relaxed: only a hint for the CAS that follows (or an acquire). */
    return __atomic_load_n(&mu->_state, __ATOMIC_RELAXED);
}

static bool cas_state(gort_mutex *mu, int32_t old, int32_t new)
{
    /* CAS-acq_rel: acquires the mutex when it sets LOCKED; pairs with the
     * release subtract in gort_mutex_unlock. */
    return __atomic_compare_exchange_n(&mu->_state, &old, new, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* ncpu is the number of CPUs this process may use (Go: ncpu). */
static int ncpu(void)
{
    static _Atomic int cached;
    int n = atomic_load_explicit(&cached, memory_order_relaxed);
    if (n == 0) {
        long v = sysconf(_SC_NPROCESSORS_ONLN);
        n = v > 0 ? (int)v : 1;
        atomic_store_explicit(&cached, n, memory_order_relaxed);
    }
    return n;
}

/*
 * can_spin reports whether spinning round iter makes sense (Go:
 * sync_runtime_canSpin): few rounds, a multicore machine, another P running
 * that could release the mutex, and no goroutine waiting on our P's run
 * queue that spinning would delay.
 */
static bool can_spin(int iter)
{
    if (iter >= ACTIVE_SPIN || ncpu() <= 1)
        return false;
    int32_t procs = atomic_load_explicit(&gort__sched.gomaxprocs,
                                         memory_order_relaxed);
    int32_t idle = atomic_load_explicit(&gort__sched.npidle,
                                        memory_order_relaxed);
    int32_t spinning = atomic_load_explicit(&gort__sched.nmspinning,
                                            memory_order_relaxed);
    if (procs <= idle + spinning + 1)
        return false;
    struct m *mp = gort__getm();
    if (mp && mp->p && !gort__runq_empty(mp->p))
        return false;
    return true;
}

/* take_handoff fixes the state after a starvation-mode handoff made the
 * caller the owner; returns nothing: the caller holds the mutex. */
static void take_handoff(gort_mutex *mu, int32_t old, bool starving)
{
    if ((old & (LOCKED | WOKEN)) != 0 || (old >> WAITER_SHIFT) == 0)
        gort__throw("sync: inconsistent mutex state");
    int32_t delta = LOCKED - (1 << WAITER_SHIFT);
    if (!starving || (old >> WAITER_SHIFT) == 1) {
        /* Leave starvation mode: we did not wait long, or we are the last
         * waiter. Staying in it would make the mutex hand over in lock
         * step forever (Go's comment). */
        delta -= STARVING;
    }
    /* add-acquire: the previous owner's release subtract precedes it. */
    __atomic_fetch_add(&mu->_state, delta, __ATOMIC_ACQ_REL);
}

/* gort__mutex_lock_slow is Go's Mutex.lockSlow. */
void gort__mutex_lock_slow(gort_mutex *mu)
{
    RT_ENTRY();
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = load_state(mu);
    for (;;) {
        /* Spin while locked in normal mode, if spinning can pay off. */
        if ((old & (LOCKED | STARVING)) == LOCKED && can_spin(iter)) {
            /* Set WOKEN so Unlock does not wake a waiter we would race. */
            if (!awoke && (old & WOKEN) == 0 && (old >> WAITER_SHIFT) != 0 &&
                cas_state(mu, old, old | WOKEN))
                awoke = true;
            gort__procyield(ACTIVE_SPIN_CNT);
            iter++;
            old = load_state(mu);
            continue;
        }
        int32_t new = old;
        if ((old & STARVING) == 0)
            new |= LOCKED; /* never grab a starving mutex: queue instead */
        if ((old & (LOCKED | STARVING)) != 0)
            new += 1 << WAITER_SHIFT;
        if (starving && (old & LOCKED) != 0)
            new |= STARVING; /* an unlocked mutex needs no starvation mode */
        if (awoke) {
            if ((new & WOKEN) == 0)
                gort__throw("sync: inconsistent mutex state");
            new &= ~WOKEN;
        }
        if (!cas_state(mu, old, new)) {
            old = load_state(mu);
            continue;
        }
        if ((old & (LOCKED | STARVING)) == 0)
            return; /* locked with the CAS */
        /* Waiters that waited before go to the front of the queue. */
        bool lifo = wait_start != 0;
        if (wait_start == 0)
            wait_start = gort__nanotime();
        gort__semacquire(&mu->_sema, lifo, WAIT_MUTEX);
        starving = starving ||
                   gort__nanotime() - wait_start > STARVATION_THRESHOLD_NS;
        old = __atomic_load_n(&mu->_state, __ATOMIC_ACQUIRE);
        if (old & STARVING) {
            /* Handed over: we own the mutex. */
            take_handoff(mu, old, starving);
            return;
        }
        awoke = true;
        iter = 0;
    }
}

/* gort__mutex_unlock_slow is Go's Mutex.unlockSlow; state is the value
 * after the fast path subtracted LOCKED. */
void gort__mutex_unlock_slow(gort_mutex *mu, int32_t state)
{
    RT_ENTRY();
    if (((state + LOCKED) & LOCKED) == 0)
        gort__fatal("sync: unlock of unlocked mutex");
    if (state & STARVING) {
        /* Hand ownership to the front waiter and let it run now. LOCKED
         * stays clear; the waiter sets it. New arrivals see STARVING and
         * queue behind. */
        gort__semrelease(&mu->_sema, true);
        return;
    }
    int32_t old = state;
    for (;;) {
        /* No waiters, or one is already awake, or the mutex was taken
         * again (or starved) meanwhile: nobody to wake. */
        if ((old >> WAITER_SHIFT) == 0 ||
            (old & (LOCKED | WOKEN | STARVING)) != 0)
            return;
        int32_t new = (old - (1 << WAITER_SHIFT)) | WOKEN;
        if (cas_state(mu, old, new)) {
            gort__semrelease(&mu->_sema, false);
            return;
        }
        old = load_state(mu);
    }
}
