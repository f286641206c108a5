/*
 * lock.h: runtime locks and notes: the two primitives that block an M (a
 * thread), not a G. Goroutine-level blocking goes through gort__park.
 *
 * struct lock is Go's futex mutex (lock_futex.go): 0 unlocked, 1 locked,
 * 2 locked with sleepers; a short spin, then FUTEX_WAIT. Held only for
 * short critical sections that never park.
 *
 * struct note is a one-shot wake-up (Go: note): sleep until wakeup; clear
 * before reuse.
 */
#ifndef GORT_LOCK_H
#define GORT_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lockrank.h"

/* Every lock has a rank (lockrank.h): LOCK_INIT(rank) for static locks,
 * gort__lock_init for the others. The debug build checks the order. */
struct lock {
    _Atomic uint32_t key;
#if GORT_LOCKRANK
    uint32_t rank; /* enum lockrank */
#endif
};
#if GORT_LOCKRANK
#define LOCK_INIT(r) {.key = 0, .rank = (r)}
#else
#define LOCK_INIT(r) {0}
#endif

/* gort__lock_init makes l an unlocked lock of the given rank. */
static inline void gort__lock_init(struct lock *l, enum lockrank rank)
{
    atomic_store_explicit(&l->key, 0, memory_order_relaxed);
#if GORT_LOCKRANK
    l->rank = rank;
#else
    (void)rank;
#endif
}

struct note {
    _Atomic uint32_t key;
};

__attribute__((visibility("hidden"))) void gort__lock(struct lock *l);
__attribute__((visibility("hidden"))) void gort__unlock(struct lock *l);
__attribute__((visibility("hidden"))) bool gort__trylock(struct lock *l);

__attribute__((visibility("hidden"))) void gort__note_clear(struct note *n);
__attribute__((visibility("hidden"))) void gort__note_wakeup(struct note *n);
__attribute__((visibility("hidden"))) void gort__note_sleep(struct note *n);
/* gort__note_tsleep sleeps at most ns (<0: forever); true if woken. */
__attribute__((visibility("hidden"))) bool gort__note_tsleep(struct note *n,
                                                             int64_t ns);

/* gort__futex_wait / _wake: FUTEX_WAIT_PRIVATE while *addr == val, with a
 * relative timeout in ns (<0: none); and FUTEX_WAKE_PRIVATE of n waiters. */
__attribute__((visibility("hidden"))) void gort__futex_wait(
    _Atomic uint32_t *addr, uint32_t val, int64_t ns);
__attribute__((visibility("hidden"))) void gort__futex_wake(
    _Atomic uint32_t *addr, int n);

/* gort__procyield spins n PAUSE instructions; gort__osyield is
 * sched_yield. */
__attribute__((visibility("hidden"))) void gort__procyield(uint32_t n);
__attribute__((visibility("hidden"))) void gort__osyield(void);

#endif /* GORT_LOCK_H */
