/*
 * revocable.h: a plain section that a rare other thread can revoke (an
 * asymmetric Dekker handshake on membarrier(2)): enter, leave,
 * revoke-and-check, revoke-and-wait.
 *
 * Two words. `busy` is written by one thread only, the owner: nonzero
 * while it is inside its section. `revoke` is written by revokers:
 * nonzero asks the owner out. The owner's side is the hot one, so it pays
 * no locked instruction and no fence; the rare revoker pays a barrier in
 * every thread of the process instead.
 *
 *   owner (rv_enter):   busy = 1; barrier A; r = revoke; r ? slow : section
 *   revoker (rv_revoke): revoke = 1; barrier B; b = busy
 *
 * Barrier A is a compiler barrier and barrier B is
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) when the kernel has it.
 * Without it (an old kernel, a seccomp filter, GORT_DEBUG=membarrier=0)
 * both sides' store and load are seq_cst instead (on x86-64 the store is
 * an xchg, a full barrier): correct, and dearer on the owner's side.
 * Not atomic_thread_fence: TSan does not support it.
 *
 * The claim: after rv_revoke returns, either it saw busy != 0 or the
 * owner's next rv_enter sees the revoke; never both misses. So a revoker
 * that saw busy == 0 may act as if the owner were out of its section
 * until the owner's next rv_enter, which takes its slow path.
 *
 * Proof, with membarrier: it returns only after every thread of the
 * process that was running has executed a full memory barrier, and a
 * thread that was not running has passed a context switch, itself a full
 * barrier. Call F the point in the owner's instruction stream where that
 * barrier fell; the revoker's store precedes F (the system call is a full
 * barrier on the revoker's side too) and F precedes the revoker's load of
 * busy. Take any rv_enter of the owner. The compiler barrier keeps its
 * store of busy before its load of revoke in the instruction stream, and
 * the hardware may reorder them only inside its store buffer, which F
 * drains. If the load comes after F, it sees the revoke. If it comes
 * before F, the store of busy was globally visible at F, so the revoker's
 * load sees it, unless the owner's rv_leave, also before that load,
 * cleared it: then that section is over, and the owner's next rv_enter
 * loads after F and sees the revoke. Without membarrier: the two stores
 * and two loads are seq_cst, so they sit in C11's single total order S.
 * If the owner's store of busy precedes the revoker's store of revoke in
 * S, the revoker's load, after its store, reads busy = 1 or a later
 * value (0 only from a rv_leave: that section is over, and the next
 * rv_enter's load follows the revoke in S); otherwise the owner's load,
 * after its store, reads the revoke.
 *
 * Memory order beyond the claim: rv_leave's store-release of busy = 0
 * pairs with the revoker's load-acquire, so a revoker that saw the owner
 * out also sees every write of its sections.
 *
 * Users: the stuck-thread hand-off (struct m's rt_busy and rt_revoked;
 * runtime.h, gort__rt_enter; sysmon.c). Solo mode, plain runnext and the
 * channel owner run the same handshake with their own code (p.c, runq.c,
 * chanowner.c); they can move onto these calls as they are: their busy
 * words are solo_busy and chan_plain, their revoke words runnext_thieves,
 * !sched.solo and chan_owner != pp.
 */
#ifndef GORT_REVOCABLE_H
#define GORT_REVOCABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* gort__rv_fenced: membarrier is unavailable or turned off, so both sides
 * use seq_cst fences (set once at start-up by gort__rv_init, p.c). */
__attribute__((visibility("hidden"))) extern bool gort__rv_fenced;

/* gort__rv_init picks membarrier or fences for this run. */
__attribute__((visibility("hidden"))) void gort__rv_init(bool membarrier_ok);

/* gort__rv_barrier is barrier B: membarrier(2); nothing when fenced
 * (the seq_cst accesses around it do the work). */
__attribute__((visibility("hidden"))) void gort__rv_barrier(void);

/* gort__rv_wait waits until the owner's busy word drops to 0 (spinning,
 * then yielding the CPU: the owner may have been descheduled). */
__attribute__((visibility("hidden"))) void gort__rv_wait(
    _Atomic uint32_t *busy);

/* gort__rv_enter opens the owner's section and returns true if nobody
 * revoked it; false leaves busy set, and the caller takes its slow path
 * (and ends with gort__rv_leave if it gives the section up). Only the
 * owner's thread calls it. */
static inline bool gort__rv_enter(_Atomic uint32_t *busy,
                                  _Atomic uint32_t *revoke)
{
    if (__builtin_expect(gort__rv_fenced, 0)) {
        atomic_store_explicit(busy, 1, memory_order_seq_cst);
        return atomic_load_explicit(revoke, memory_order_seq_cst) == 0;
    }
    atomic_store_explicit(busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* compiler order only */
    /* load-acquire: a revoke withdrawn with a store-release orders the
     * revoker's writes before our section. */
    return atomic_load_explicit(revoke, memory_order_acquire) == 0;
}

/* gort__rv_leave ends the owner's section. */
static inline void gort__rv_leave(_Atomic uint32_t *busy)
{
    /* store-release; pairs with the revoker's load-acquire in
     * gort__rv_revoke / gort__rv_wait. */
    atomic_store_explicit(busy, 0, memory_order_release);
}

/* gort__rv_revoke asks the owner out and returns true if it is out of its
 * section: then it stays out until its next gort__rv_enter, which fails.
 * False: the owner is inside; the caller waits (gort__rv_wait) or
 * withdraws the revoke (gort__rv_unrevoke). Revokers serialise among
 * themselves (a lock of their own). */
static inline bool gort__rv_revoke(_Atomic uint32_t *revoke,
                                   _Atomic uint32_t *busy)
{
    /* seq_cst: the fallback's half of the handshake (free beside the
     * membarrier otherwise). */
    atomic_store_explicit(revoke, 1, memory_order_seq_cst);
    gort__rv_barrier();
    /* load-acquire (and seq_cst, for the fallback); pairs with
     * gort__rv_leave's store-release. */
    return atomic_load_explicit(busy, memory_order_seq_cst) == 0;
}

/* gort__rv_unrevoke withdraws a revoke that found the owner inside. */
static inline void gort__rv_unrevoke(_Atomic uint32_t *revoke)
{
    /* store-release; pairs with gort__rv_enter's load-acquire. */
    atomic_store_explicit(revoke, 0, memory_order_release);
}

#endif /* GORT_REVOCABLE_H */
