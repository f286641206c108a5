/*
 * revocable.h: a plain section that a rare other thread can revoke (an
 * asymmetric Dekker handshake on membarrier(2)). Every such mode in the
 * runtime runs on these calls: the stuck-thread hand-off (m.rt_busy),
 * solo mode (p.runq_plain; runq.c, p.c), and the
 * channel owner and its foreign lockers (chown.plain_held; chan/chan.h,
 * chan/chanowner.c).
 *
 * Two sides and two kinds of word. The owner, one thread, writes a busy
 * word: nonzero while it is inside its section (a count, for a section
 * that nests). Revokers write revoke words, which the owner reads after
 * raising busy: a count of revokers, a cleared flag, another name. The
 * owner's side is the hot one, so it pays no locked instruction and no
 * fence; the rare revoker pays a barrier in every thread of the process:
 *
 *   owner   (rv_open, rv_peek):     busy = n; barrier A; r = revoke-words
 *   revoker (store, rv_barrier, rv_wait): revoke-word = x; barrier B;
 *                                   wait until busy == 0
 *
 * Barrier A is a compiler barrier and barrier B is
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) when the kernel has it.
 *
 * The claim: once barrier B returns, either the revoker's next load of
 * busy sees the owner's section, or the owner's rv_peek of that section
 * sees the revoke; never both misses. So a revoker that waited for busy
 * to read 0 may act as if the owner were out of its section until its
 * next rv_open, whose rv_peek sees the revoke and takes the slow path.
 *
 * Proof, with membarrier: it returns only after every thread of the
 * process that was running has executed a full memory barrier, and a
 * thread that was not running has passed a context switch, itself a full
 * barrier. Call F the point in the owner's instruction stream where that
 * barrier fell; the revoker's store precedes F (the system call is a full
 * barrier on the revoker's side too) and F precedes the revoker's load of
 * busy. Take any section of the owner. The compiler barrier keeps its
 * store of busy before its loads of the revoke words in the instruction
 * stream, and the hardware may reorder them only inside its store buffer,
 * which F drains. If a load comes after F, it sees the revoke. If it comes
 * before F, the store of busy was globally visible at F, so the revoker's
 * load sees it, unless the owner's rv_close, also before that load,
 * cleared it: then that section is over, and the owner's next rv_open
 * peeks after F and sees the revoke.
 *
 * Without membarrier (an old kernel, a seccomp filter, gVisor,
 * GORT_DEBUG=membarrier=0) the owner's store and loads are seq_cst
 * instead (rv_open and rv_peek check gort__rv_fenced; on x86-64 the store
 * is an xchg, a full barrier) and barrier B is nothing: the two stores
 * and the loads sit in C11's single total order S. If the owner's store
 * of busy precedes the revoker's store in S, the revoker's load, after its
 * store, reads busy != 0 or a later value (0 only from an rv_close: that
 * section is over, and the next rv_open's peek follows the revoke in S);
 * otherwise the owner's peek, after its store, reads the revoke. Not
 * atomic_thread_fence: TSan does not support it. This costs the owner
 * about what the locked instruction it spares costs, so the fast-path
 * modes (solo, the channel owner) stay off without membarrier and use
 * the _asym calls, which skip the check: their gate (sched.solo,
 * chown.plain_ok) is never set then.
 * Only the stuck-thread hand-off, which has no off path, runs fenced.
 *
 * Memory order beyond the claim: rv_close's store-release of busy pairs
 * with the revoker's load-acquire in rv_wait, so a revoker that saw the
 * owner out also sees every write of its sections; rv_peek is a
 * load-acquire, so a revoke withdrawn with a store-release orders the
 * revoker's writes (a thief's CAS) before the owner's section.
 *
 * Revokers serialise among themselves (a lock of their own, or a count
 * the owner reads as "any"); the calls here do not.
 */
#ifndef GORT_REVOCABLE_H
#define GORT_REVOCABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* gort__rv_fenced: membarrier is unavailable or turned off, so both sides
 * use seq_cst accesses (set once at start-up by gort__rv_init). */
__attribute__((visibility("hidden"))) extern bool gort__rv_fenced;

/* gort__rv_init registers for membarrier(2) (unless allowed is false) and
 * says whether it works; before any thread but the caller of gort_run
 * exists. */
__attribute__((visibility("hidden"))) bool gort__rv_init(bool allowed);

/* gort__rv_barrier is barrier B: membarrier(2); nothing when fenced
 * (the seq_cst accesses around it do the work). */
__attribute__((visibility("hidden"))) void gort__rv_barrier(void);

/* gort__rv_wait waits until the owner's busy word reads 0 (spinning,
 * then yielding the CPU: the owner may have been descheduled). */
__attribute__((visibility("hidden"))) void gort__rv_wait(
    _Atomic uint32_t *busy);

/* ---- The owner's side --------------------------------------------------- */

/* gort__rv_open_asym raises busy to n and orders that store before the
 * peeks that follow (barrier A). For a mode on only where membarrier
 * works. Only the owner's thread calls it. */
static inline void gort__rv_open_asym(_Atomic uint32_t *busy, uint32_t n)
{
    atomic_store_explicit(busy, n, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* compiler order only */
}

/* gort__rv_peek_asym reads a revoke word after gort__rv_open_asym. A
 * macro: revoke words are counts, flags and pointers. */
#define gort__rv_peek_asym(word) \
    atomic_load_explicit((word), memory_order_acquire)

/* gort__rv_open and gort__rv_peek are the same on any kernel. */
static inline void gort__rv_open(_Atomic uint32_t *busy, uint32_t n)
{
    if (__builtin_expect(gort__rv_fenced, 0))
        atomic_store_explicit(busy, n, memory_order_seq_cst);
    else
        gort__rv_open_asym(busy, n);
}

#define gort__rv_peek(word)                                   \
    (__builtin_expect(gort__rv_fenced, 0)                     \
         ? atomic_load_explicit((word), memory_order_seq_cst) \
         : gort__rv_peek_asym(word))

/* gort__rv_close lowers busy to n (0: the section ends), publishing the
 * section's writes to whoever waits for it. */
static inline void gort__rv_close(_Atomic uint32_t *busy, uint32_t n)
{
    /* store-release; pairs with gort__rv_wait's load-acquire. */
    atomic_store_explicit(busy, n, memory_order_release);
}

/* gort__rv_enter opens a one-word section and returns true if nobody
 * revoked it (revoke reads 0); false leaves busy set, and the caller takes
 * its slow path (and ends with gort__rv_leave if it gives the section
 * up). */
static inline bool gort__rv_enter(_Atomic uint32_t *busy,
                                  _Atomic uint32_t *revoke)
{
    gort__rv_open(busy, 1);
    return gort__rv_peek(revoke) == 0;
}

static inline void gort__rv_leave(_Atomic uint32_t *busy)
{
    gort__rv_close(busy, 0);
}

/* ---- The revoker's side ------------------------------------------------- */

/* gort__rv_revoke sets a one-word revoke and returns true if the owner is
 * out of its section: then it stays out until its next gort__rv_enter,
 * which fails. False: the owner is inside; the caller waits
 * (gort__rv_wait) or withdraws the revoke (gort__rv_unrevoke). */
static inline bool gort__rv_revoke(_Atomic uint32_t *revoke,
                                   _Atomic uint32_t *busy)
{
    /* seq_cst: the fallback's half of the handshake (free beside the
     * membarrier otherwise). */
    atomic_store_explicit(revoke, 1, memory_order_seq_cst);
    gort__rv_barrier();
    /* load-acquire (and seq_cst, for the fallback); pairs with
     * gort__rv_close's store-release. */
    return atomic_load_explicit(busy, memory_order_seq_cst) == 0;
}

/* gort__rv_unrevoke withdraws a revoke that found the owner inside. */
static inline void gort__rv_unrevoke(_Atomic uint32_t *revoke)
{
    /* store-release; pairs with gort__rv_peek's load-acquire. */
    atomic_store_explicit(revoke, 0, memory_order_release);
}

/* gort__rv_revoke_wait is the usual revoker: its revoke word is already
 * stored (seq_cst); barrier B, then wait for the owner's section to
 * end. */
static inline void gort__rv_revoke_wait(_Atomic uint32_t *busy)
{
    gort__rv_barrier();
    gort__rv_wait(busy);
}

#endif /* GORT_REVOCABLE_H */
