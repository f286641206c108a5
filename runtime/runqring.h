/*
 * runqring.h: the words of a P's run-queue ring and the owner's fast
 * puts, shared by runq.c (the default paths) and runqpolicy.c
 * (GORT_SCHED's variants). runq.c's opening comment states the ring's
 * invariants: single producer, a versioned head moved by CAS, runnext
 * set only by its owner.
 * Locking: none; the ordering of each access is said where it is made.
 */
#ifndef GORT_RUNQRING_H
#define GORT_RUNQRING_H

#include "proc.h"

/* runq.c: the owner's slower puts and the thieves' shared steps. */
void gort__runq_put_tail_slow(struct p *pp, struct g *gp);
bool gort__runq_put_head(struct p *pp, struct g *gp);
bool gort__runq_lifo_allowed(struct p *pp);
bool gort__runq_lone_wait(struct p *victim, uint32_t h, bool last);
int gort__runq_grab_runnext(struct p *victim, struct g **batch);

/* runqpolicy.c: the variants, reached only when gort__pol.custom is set
 * (puts) or thief=oldest (takes, steals). */
void gort__runq_put_custom(struct p *pp, struct g *gp, bool next);
void gort__runq_put_spawn_custom(struct p *pp, struct g *gp);
struct g *gort__runq_take_oldest(struct p *pp, bool solo);
uint32_t gort__runq_grab_oldest(struct p *victim, struct g **batch,
                                bool stealnext);

/* ---- The head word ------------------------------------------------------ */

static inline uint32_t head_pos(uint64_t word)
{
    return (uint32_t)word;
}

/* head_moved is old's successor: position pos, version bumped. */
static inline uint64_t head_moved(uint64_t old, uint32_t pos)
{
    return ((old >> 32) + 1) << 32 | pos;
}

static inline uint64_t head_load(struct p *pp)
{
    /* load-acquire; pairs with the CAS-release of whoever moved it. */
    return atomic_load_explicit(&pp->runqhead, memory_order_acquire);
}

/* head_cas commits a move of pp's head from *old to pos: CAS-release so
 * the slot reads and writes before it are ordered before the commit. */
static inline bool head_cas(struct p *pp, uint64_t *old, uint32_t pos)
{
    return atomic_compare_exchange_strong_explicit(
        &pp->runqhead, old, head_moved(*old, pos), memory_order_release,
        memory_order_relaxed);
}

/* head_move commits a move of pp's head from *old to pos: a plain
 * store-release inside a solo section (nobody else moves it), else
 * head_cas, which fails if somebody moved it first. */
static inline bool head_move(struct p *pp, uint64_t *old, uint32_t pos,
                             bool solo)
{
    if (!solo)
        return head_cas(pp, old, pos);
    atomic_store_explicit(&pp->runqhead, head_moved(*old, pos),
                          memory_order_release);
    return true;
}

static inline struct g *slot_load(struct p *pp, uint32_t pos)
{
    return atomic_load_explicit(&pp->runq[pos % RUNQ_SIZE],
                                memory_order_relaxed);
}

static inline void slot_store(struct p *pp, uint32_t pos, struct g *gp)
{
    atomic_store_explicit(&pp->runq[pos % RUNQ_SIZE], gp,
                          memory_order_relaxed);
}

/* ---- The solo section ----------------------------------------------------
 *
 * Solo mode (p.c) lets the owner change its run queue with plain stores
 * inside a revocable section (revocable.h) whose busy word is
 * p.runq_plain: with one live P there are no thieves, so runnext and the
 * ring's head move plainly; the revoke is the clearing of sched.solo,
 * before a second P comes to life. It is off without membarrier (its
 * gate, sched.solo, is never set then). Stores in a section stay atomic
 * (relaxed or release) so a later thief reads whole values.
 *
 * With several Ps, runnext is replaced by an exchange and taken by a CAS
 * as in Go. A plain-store variant guarded by the same primitive (thieves
 * revoking the owner's section) measured no gain over 10% on any row of
 * bench/modes.sh and was removed (docs/benchmarks.md, "Fast paths
 * against their off paths").
 */
static inline bool solo_enter(struct p *pp)
{
    if (!atomic_load_explicit(&gort__sched.solo, memory_order_relaxed))
        return false;
    gort__rv_open_asym(&pp->runq_plain, 1);
    if (gort__rv_peek_asym(&gort__sched.solo))
        return true;
    gort__rv_close(&pp->runq_plain, 0);
    return false;
}

static inline void plain_exit(struct p *pp)
{
    gort__rv_close(&pp->runq_plain, 0);
}

/* runq_put_tail appends gp to pp's ring (owner only). The fast path is a
 * leaf: no loop, no call, nothing to save. */
static inline void runq_put_tail(struct p *pp, struct g *gp)
{
    uint64_t head = head_load(pp);
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    if (__builtin_expect(t - head_pos(head) >= RUNQ_SIZE, 0)) {
        gort__runq_put_tail_slow(pp, gp);
        return;
    }
    slot_store(pp, t, gp);
    /* store-release tail; pairs with the load-acquire in runq_grab and
     * gort__runq_get. */
    atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
}

/* runnext_swap puts gp in pp's runnext and returns the G it displaced.
 * Only the owner stores a G there and thieves only clear it, so an empty
 * slot stays empty until the owner fills it: a plain store-release does,
 * sparing the locked exchange on most hand-offs. That store, like Go's
 * store-release of the ring's tail, is not a StoreLoad fence before
 * wakep's look at the idle Ps; a wake-up lost to it costs parallelism,
 * never the G (its own P runs it), and sysmon wakes an idle P for work
 * that waits behind a long-running goroutine (sysmon.c, retake). */
static inline struct g *runnext_swap(struct p *pp, struct g *gp)
{
    struct g *old = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
    if (!old) {
        atomic_store_explicit(&pp->runnext, gp, memory_order_release);
        return NULL;
    }
    if (solo_enter(pp)) {
        /* Nobody can clear it under us now; re-read it, as a thief may
         * have taken old before we entered. */
        old = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
        atomic_store_explicit(&pp->runnext, gp, memory_order_release);
        plain_exit(pp);
        return old;
    }
    return atomic_exchange_explicit(&pp->runnext, gp, memory_order_acq_rel);
}

#endif /* GORT_RUNQRING_H */
