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

struct lock {
    _Atomic uint32_t key;
};
#define LOCK_INIT {0}

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
/* gort__membarrier makes every thread of the process run a full memory
 * barrier before it returns (runtime/p.c; only once solo mode or plain
 * runnext proved membarrier(2) works). */
__attribute__((visibility("hidden"))) void gort__membarrier(void);

#endif /* GORT_LOCK_H */
