/*
 * lock.c: runtime locks (futex mutex) and notes (one-shot futex wake-ups).
 * These block the thread, not the goroutine: they guard short critical
 * sections in the scheduler and sleep idle Ms.
 *
 * Invariants: lock key is 0 (unlocked), 1 (locked) or 2 (locked, maybe
 * sleepers); only the 2 state makes unlock issue FUTEX_WAKE. A note's key
 * goes 0 -> 1 exactly once between clears.
 * Locking: no lock is taken here; callers follow the order in runtime.h.
 * See also: Go's lock_futex.go; runtime/runtime.h.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

enum { MUTEX_UNLOCKED = 0, MUTEX_LOCKED = 1, MUTEX_SLEEPING = 2 };
enum { ACTIVE_SPIN = 4, ACTIVE_SPIN_CNT = 30, PASSIVE_SPIN = 1 };

void gort__procyield(uint32_t n)
{
    while (n--) {
#if defined(__x86_64__)
        __asm__ volatile("pause");
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
    }
}

void gort__osyield(void)
{
    sched_yield();
}

void gort__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts, *tsp = NULL;
    if (ns >= 0) {
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        tsp = &ts;
    }
    /* EINTR, EAGAIN and ETIMEDOUT all mean "look again": callers loop. */
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

void gort__futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void m_locks_add(int32_t d);

bool gort__trylock(struct lock *l)
{
    uint32_t v = MUTEX_UNLOCKED;
    /* CAS-acquire; pairs with the store-release in gort__unlock. */
    bool ok = atomic_compare_exchange_strong_explicit(
        &l->key, &v, MUTEX_LOCKED, memory_order_acquire, memory_order_relaxed);
    if (ok) {
        m_locks_add(1); /* gort__unlock takes it back */
#if GORT_LOCKRANK
        LOCKRANK_ACQUIRE(l, l->rank, true);
#endif
    }
    return ok;
}

/* grab_if_free takes l if it is seen unlocked, storing `as` (LOCKED, or
 * SLEEPING when others may sleep on it). */
static bool grab_if_free(struct lock *l, uint32_t as)
{
    while (atomic_load_explicit(&l->key, memory_order_relaxed) ==
           MUTEX_UNLOCKED) {
        uint32_t z = MUTEX_UNLOCKED;
        /* CAS-acquire; pairs with the store-release in gort__unlock. */
        if (atomic_compare_exchange_weak_explicit(&l->key, &z, as,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    }
    return false;
}

/* gort__lock acquires l: spin briefly (the holder is on a CPU, critical
 * sections are short), yield the CPU once, then sleep in the kernel
 * (Go's lock_futex.go). */
static void lock_slow(struct lock *l, uint32_t v);

/* m_locks_add counts a runtime lock held by this thread's M (Go: m.locks):
 * a goroutine holding one is never preempted, since a preemption point
 * reached inside (a timer's channel drained under its lock calls
 * gort_chan_tryrecv) would leave the lock held while the goroutine waits,
 * and every M that wants it would block in the kernel with its P.
 * Foreign threads have no M to count on. */
static inline void m_locks_add(int32_t d)
{
    struct m *mp = gort__getm();
    if (mp)
        mp->locks += (uint32_t)d;
}

void gort__lock(struct lock *l)
{
#if GORT_LOCKRANK
    LOCKRANK_ACQUIRE(l, l->rank, false); /* before it can deadlock */
#endif
    m_locks_add(1);
    /* Speculative grab: xchg-acquire; pairs with gort__unlock. */
    uint32_t v = atomic_exchange_explicit(&l->key, MUTEX_LOCKED,
                                          memory_order_acquire);
    if (v != MUTEX_UNLOCKED)
        lock_slow(l, v);
}

static void lock_slow(struct lock *l, uint32_t v)
{
    /* v is what we must restore if we take it: SLEEPING if anybody was
     * sleeping, so that our unlock wakes them. */
    uint32_t wait = v;
    for (;;) {
        for (int i = 0; i < ACTIVE_SPIN; i++) {
            if (grab_if_free(l, wait))
                return;
            gort__procyield(ACTIVE_SPIN_CNT);
        }
        for (int i = 0; i < PASSIVE_SPIN; i++) {
            if (grab_if_free(l, wait))
                return;
            gort__osyield();
        }
        v = atomic_exchange_explicit(&l->key, MUTEX_SLEEPING,
                                     memory_order_acquire);
        if (v == MUTEX_UNLOCKED)
            return;
        wait = MUTEX_SLEEPING;
        gort__futex_wait(&l->key, MUTEX_SLEEPING, -1);
    }
}

void gort__unlock(struct lock *l)
{
#if GORT_LOCKRANK
    LOCKRANK_RELEASE(l, l->rank);
#endif
    /* xchg-release; pairs with the acquires in gort__lock. */
    uint32_t v = atomic_exchange_explicit(&l->key, MUTEX_UNLOCKED,
                                          memory_order_release);
    if (v == MUTEX_UNLOCKED)
        gort__throw("unlock of unlocked lock");
    if (v == MUTEX_SLEEPING)
        gort__futex_wake(&l->key, 1);
    m_locks_add(-1);
}

void gort__note_clear(struct note *n)
{
    atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}

void gort__note_wakeup(struct note *n)
{
    /* xchg-release; pairs with the load-acquire in note_tsleep. */
    uint32_t old = atomic_exchange_explicit(&n->key, 1, memory_order_release);
    if (old != 0)
        gort__throw("notewakeup - double wakeup");
    gort__futex_wake(&n->key, 1);
}

void gort__note_sleep(struct note *n)
{
    gort__note_tsleep(n, -1);
}

bool gort__note_tsleep(struct note *n, int64_t ns)
{
    int64_t deadline = ns >= 0 ? gort__nanotime() + ns : -1;
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0) {
        int64_t left = -1;
        if (deadline >= 0) {
            left = deadline - gort__nanotime();
            if (left <= 0)
                return false;
        }
        gort__futex_wait(&n->key, 0, left);
    }
    return true;
}
