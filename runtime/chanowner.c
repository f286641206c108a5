/*
 * chanowner.c: which P's thread may take channel locks with a plain store
 * instead of a locked compare-and-swap: the channel owner
 * (sched.chan_owner; the lock side is in chan/chan.h, "Plain channel
 * locks").
 *
 * A channel lock needs the locked instruction (23 ns on the reference VM,
 * a fifth of a threadring hop) only because another thread might take the
 * same lock at the same moment. While one P runs and every other live P
 * sits on the idle list, the only other lockers are threads without a P,
 * which count themselves in chan_foreign. So whenever a P becomes the one
 * live P off the idle list, the scheduler names it the owner, and its
 * thread locks plainly; with one live P (solo mode, p.c) it is named for
 * good. The owner's locks are a revocable section (runtime/revocable.h)
 * whose busy word is chan_plain. A thread holding any other P that is
 * about to lock a channel while plain locks may exist (chan_plain_ok)
 * revokes the ownership first: it clears chan_owner and waits out the
 * section (gort__rv_revoke_wait). The owner pays a relaxed store, a
 * compiler barrier and four loads per section; the revoker pays the
 * membarrier, 1 us on the reference VM with no other thread of ours
 * running and 15 us with one.
 *
 * Invariants:
 *  - chan_plain_ok is false => no plain lock is held, and none is taken
 *    until it rises again. It rises before an owner is named and falls
 *    only after a revoker saw chan_plain at 0.
 *  - Only the owner's thread raises chan_plain. Revoked inside a plain
 *    section (a select locking several channels), it is named in
 *    chan_revoked_owner and its further locks stay plain until chan_plain
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
 *   for chan_plain under it, as leaving solo mode does: a channel lock is
 *   never held while waiting for sched.lock (goroutines are readied after
 *   the unlock), so the plain section ends.
 * See also: chan/chan.h, runtime/p.c ("Solo mode"), docs/channels.md.
 */
#include "proc.h"

#define CHAN_OWNER_HOLD_NS 1000000 /* 1 ms */

static bool dynamic_ok; /* membarrier works and GORT_DEBUG allows it */

void gort__chan_owner_init(bool membarrier_ok)
{
    dynamic_ok = membarrier_ok && gort__debug.plainchan &&
                 gort__debug.chanowner;
}

/* name makes pp the owner. Caller holds sched.lock. */
static void name(struct p *pp)
{
    ASSERT_HELD(&gort__sched.lock);
    struct sched *s = &gort__sched;
    if (atomic_load_explicit(&s->chan_owner, memory_order_relaxed) == pp &&
        atomic_load_explicit(&s->chan_plain_ok, memory_order_relaxed))
        return;
    atomic_store_explicit(&s->chan_revoked_owner, NULL,
                          memory_order_relaxed);
    /* chan_plain_ok first: a foreign locker that misses it counted
     * itself before any owner can read chan_foreign (chan/chan.h). */
    atomic_store(&s->chan_plain_ok, true);
    /* store-release; pairs with chan_plain_enter's load-acquire. */
    atomic_store_explicit(&s->chan_owner, pp, memory_order_release);
}

void gort__chan_owner_name_solo(struct p *pp)
{
    if (gort__debug.plainchan)
        name(pp);
}

/* sole_runner returns the one live P off the idle list, given that
 * exactly one of allp[0, procs) is off it, or NULL if a P beyond procs
 * (retiring) still runs. `taken` is that P when the caller knows it. */
static struct p *sole_runner(int32_t procs, struct p *taken)
{
    struct p *found = taken;
    for (int32_t i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        struct p *pp = gort__sched.allp[i];
        if (pp == NULL)
            break;
        if (i >= procs) {
            if (atomic_load(&pp->status) != P_DEAD)
                return NULL;
        } else if (!found && !pp->idle_listed) {
            found = pp;
        }
    }
    return found;
}

void gort__chan_owner_note(struct p *taken)
{
    struct sched *s = &gort__sched;
    if (!dynamic_ok || atomic_load_explicit(&s->solo, memory_order_relaxed))
        return;
    int32_t procs = atomic_load(&s->gomaxprocs);
    if (atomic_load(&s->npidle) != procs - 1)
        return; /* several Ps run: whoever else locks revokes */
    if (s->chan_revoked_at &&
        gort__nanotime() - s->chan_revoked_at < CHAN_OWNER_HOLD_NS)
        return;
    struct p *pp = sole_runner(procs, taken);
    if (pp)
        name(pp);
}

/* drop ends any ownership and waits out the plain section. Caller holds
 * sched.lock. */
static void drop(void)
{
    ASSERT_HELD(&gort__sched.lock);
    struct sched *s = &gort__sched;
    /* Before the clear (a release): the owner that loads the cleared name
     * with its load-acquire sees itself here. */
    atomic_store_explicit(&s->chan_revoked_owner,
                          atomic_load_explicit(&s->chan_owner,
                                               memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store(&s->chan_owner, NULL); /* seq_cst: the revoke */
    /* The wait's load-acquire: the next locker sees the plain holder's
     * writes. */
    gort__rv_revoke_wait(&s->chan_plain);
    atomic_store(&s->chan_plain_ok, false);
}

void gort__chan_owner_drop_solo(void)
{
    if (atomic_load(&gort__sched.chan_plain_ok))
        drop();
}

void gort__chan_owner_revoke(struct p *pp)
{
    struct sched *s = &gort__sched;
    gort__lock(&s->lock);
    /* Named meanwhile (gort_maxprocs made pp the only live P): the
     * caller's CAS is as good as a plain store for this one lock. */
    if (atomic_load(&s->chan_plain_ok) &&
        atomic_load_explicit(&s->chan_owner, memory_order_relaxed) != pp) {
        if (atomic_load_explicit(&s->solo, memory_order_relaxed))
            gort__throw("chan_lock: a second P locks in solo mode");
        drop();
        s->chan_revoked_at = gort__nanotime();
    }
    gort__unlock(&s->lock);
}

bool gort__chan_plain_enter_slow(struct p *pp)
{
    struct sched *s = &gort__sched;
    uint32_t n = atomic_load_explicit(&s->chan_plain, memory_order_relaxed);
    if (n > 0 && atomic_load_explicit(&s->chan_revoked_owner,
                                      memory_order_relaxed) == pp) {
        /* Our own section, revoked meanwhile: finish it plainly; the
         * revoker waits for chan_plain to reach 0. */
        atomic_store_explicit(&s->chan_plain, n + 1, memory_order_relaxed);
        return true;
    }
    gort__chan_owner_revoke(pp);
    return false;
}
