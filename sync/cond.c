/*
 * cond.c: gort_cond, condition variables (Go: sync/cond.go over the
 * runtime's notifyList in sema.c).
 *
 * Invariants:
 *  - A waiter takes a ticket before unlocking the mutex, so a Signal or
 *    Broadcast made after that unlock (under the mutex or not) covers it:
 *    no lost wake-ups, even though it parks after the unlock.
 *  - Signal wakes the oldest ticket not yet notified; Broadcast notifies
 *    every ticket handed out so far.
 *  - _checker holds the cond's own address after first use; a different
 *    address means the struct was copied (Go: copyChecker).
 *
 * Locking: the notify list is guarded by the semaphore-table root lock of
 * its address (sema.c); the user's mutex is never held while parked.
 *
 * See also: runtime/sema.c (gort__notifylist_*), docs/sync.md.
 */
#include "../runtime/sema.h"

/* check_copy is Go's copyChecker.check. */
static void check_copy(gort_cond *c)
{
    uintptr_t self = (uintptr_t)c;
    uintptr_t v = __atomic_load_n(&c->_checker, __ATOMIC_RELAXED);
    if (v == self)
        return;
    if (v == 0 && __atomic_compare_exchange_n(&c->_checker, &v, self, false,
                                              __ATOMIC_RELAXED,
                                              __ATOMIC_RELAXED))
        return;
    if (v != self)
        gort__panic("sync.Cond is copied");
}

void gort_cond_wait(gort_cond *c, gort_mutex *mu)
{
    RT_ENTRY();
    check_copy(c);
    gort__sync_check_block("gort: gort_cond_wait called outside a goroutine");
    uint32_t t = gort__notifylist_add(&c->_nl);
    gort_mutex_unlock(mu);
    gort__notifylist_wait(&c->_nl, t, WAIT_COND);
    gort_mutex_lock(mu);
}

void gort_cond_wait_rw(gort_cond *c, gort_rwmutex *rw)
{
    RT_ENTRY();
    check_copy(c);
    gort__sync_check_block("gort: gort_cond_wait called outside a goroutine");
    uint32_t t = gort__notifylist_add(&c->_nl);
    gort_rwmutex_unlock(rw);
    gort__notifylist_wait(&c->_nl, t, WAIT_COND);
    gort_rwmutex_lock(rw);
}

void gort_cond_signal(gort_cond *c)
{
    RT_ENTRY();
    check_copy(c);
    gort__notifylist_notify_one(&c->_nl);
}

void gort_cond_broadcast(gort_cond *c)
{
    RT_ENTRY();
    check_copy(c);
    gort__notifylist_notify_all(&c->_nl);
}
