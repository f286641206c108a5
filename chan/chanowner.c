/*
 * chanowner.c: which P's thread may take channel locks with a plain store
 * instead of a locked compare-and-swap: the channel owner (gort__chown;
 * the lock side is in chan.h, "Plain channel locks"). The scheduler only
 * announces when one P runs alone (gort__sched_alone, runtime.h); the
 * policy and its state live here.
 *
 * A channel lock needs the locked instruction (23 ns on the reference VM,
 * a fifth of a threadring hop) only because another thread might take the
 * same lock at the same moment. While one P runs and every other live P
 * sits on the idle list, the only other lockers are threads without a P,
 * which count themselves in chown.foreign. So whenever the scheduler
 * announces a P as the one live P off the idle list, it is named the
 * owner, and its thread locks plainly; with one live P (solo mode,
 * runtime/p.c) it is named for good. The owner's locks are a revocable section (runtime/revocable.h)
 * whose busy word is plain_held. A thread holding any other P that is
 * about to lock a channel while plain locks may exist (plain_ok)
 * revokes the ownership first: it clears owner and waits out the
 * section (gort__rv_revoke_wait). The owner pays a relaxed store, a
 * compiler barrier and four loads per section; the revoker pays the
 * membarrier, 1 us on the reference VM with no other thread of ours
 * running and 15 us with one.
 *
 * Invariants:
 *  - plain_ok is false => no plain lock is held, and none is taken
 *    until it rises again. It rises before an owner is named and falls
 *    only after a revoker saw plain_held at 0.
 *  - Only the owner's thread raises plain_held. Revoked inside a plain
 *    section (a select locking several channels), it is named in
 *    revoked_owner and its further locks stay plain until plain_held
 *    is back at 0, which the revoker waits for under sched.lock: nobody
 *    is named meanwhile.
 *  - A P is named only when it is the sole live P off the idle list
 *    (no P beyond gomaxprocs still running), so no other thread with a P
 *    holds a channel lock then: it would be off the idle list too. Its
 *    predecessor is idle or dead, so holds no plain lock; its unlock's
 *    store-release, then sched.lock, then the store-release of the new
 *    name publish its writes to the new owner's load-acquire.
 *  - A thread holding another P revokes before its first channel lock
 *    (chan_plain_enter), so it holds no channel lock while it waits.
 *  - For CHAN_OWNER_HOLD_NS after a revocation nobody is named: Ps that
 *    keep waking to lock channels pay at most one membarrier per hold.
 * Locking: sched.lock serializes naming and revoking. The revoker waits
 *   for plain_held under it, as leaving solo mode does: a channel lock is
 *   never held while waiting for sched.lock (goroutines are readied after
 *   the unlock), so the plain section ends.
 * See also: chan.h, runtime/p.c ("Solo mode"), runtime/revocable.h,
 * docs/channels.md.
 */
#include "../runtime/proc.h" /* gort__debug */
#include "chan.h"

struct chan_owner_state gort__chown;

#define CHAN_OWNER_HOLD_NS 1000000 /* 1 ms */

/* dynamic_ok: owners may be named while other Ps exist (membarrier works
 * and GORT_DEBUG allows it). */
static bool dynamic_ok(void)
{
    return !gort__rv_fenced && gort__debug.plainchan &&
           gort__debug.chanowner;
}

/* name makes pp the owner. Caller holds sched.lock. */
static void name(struct p *pp)
{
    ASSERT_HELD(&gort__sched.lock);
    struct chan_owner_state *s = &gort__chown;
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) == pp &&
        atomic_load_explicit(&s->plain_ok, memory_order_relaxed))
        return;
    atomic_store_explicit(&s->revoked_owner, NULL,
                          memory_order_relaxed);
    /* plain_ok first: a foreign locker that misses it counted itself
     * before any owner can read chown.foreign (chan.h). */
    atomic_store(&s->plain_ok, true);
    /* store-release; pairs with chan_plain_enter's load-acquire. */
    atomic_store_explicit(&s->owner, pp, memory_order_release);
}

void gort__sched_alone(struct p *pp, bool solo)
{
    ASSERT_HELD(&gort__sched.lock);
    if (solo) {
        /* For good: solo mode implies membarrier. */
        if (gort__debug.plainchan)
            name(pp);
        return;
    }
    struct chan_owner_state *s = &gort__chown;
    if (!dynamic_ok())
        return;
    if (s->revoked_at &&
        gort__nanotime() - s->revoked_at < CHAN_OWNER_HOLD_NS)
        return;
    name(pp);
}

/* drop ends any ownership and waits out the plain section. Caller holds
 * sched.lock. */
static void drop(void)
{
    ASSERT_HELD(&gort__sched.lock);
    struct chan_owner_state *s = &gort__chown;
    /* Before the clear (a release): the owner that loads the cleared name
     * with its load-acquire sees itself here. */
    atomic_store_explicit(&s->revoked_owner,
                          atomic_load_explicit(&s->owner,
                                               memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store(&s->owner, NULL); /* seq_cst: the revoke */
    /* The wait's load-acquire: the next locker sees the plain holder's
     * writes. */
    gort__rv_revoke_wait(&s->plain_held);
    atomic_store(&s->plain_ok, false);
}

void gort__sched_alone_end(void)
{
    ASSERT_HELD(&gort__sched.lock);
    if (atomic_load(&gort__chown.plain_ok))
        drop();
}

void gort__chan_owner_revoke(struct p *pp)
{
    struct chan_owner_state *s = &gort__chown;
    gort__lock(&gort__sched.lock);
    /* Named meanwhile (gort_maxprocs made pp the only live P): the
     * caller's CAS is as good as a plain store for this one lock. */
    if (atomic_load(&s->plain_ok) &&
        atomic_load_explicit(&s->owner, memory_order_relaxed) != pp) {
        if (atomic_load_explicit(&gort__sched.solo, memory_order_relaxed))
            gort__throw("chan_lock: a second P locks in solo mode");
        drop();
        s->revoked_at = gort__nanotime();
    }
    gort__unlock(&gort__sched.lock);
}

bool gort__chan_plain_enter_slow(struct p *pp)
{
    struct chan_owner_state *s = &gort__chown;
    uint32_t n = atomic_load_explicit(&s->plain_held, memory_order_relaxed);
    if (n > 0 && atomic_load_explicit(&s->revoked_owner,
                                      memory_order_relaxed) == pp) {
        /* Our own section, revoked meanwhile: finish it plainly; the
         * revoker waits for plain_held to reach 0. */
        atomic_store_explicit(&s->plain_held, n + 1, memory_order_relaxed);
        return true;
    }
    gort__chan_owner_revoke(pp);
    return false;
}
