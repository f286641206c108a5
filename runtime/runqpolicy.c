/*
 * runqpolicy.c: GORT_SCHED's variants of the run-queue paths (runq.c),
 * reached only when a knob is off its default (policy.h). runnext=off
 * sends what would take runnext to the ring instead; spawn=go kicks the
 * displaced runnext to the tail as Go does, spawn=fifo queues the new G
 * behind everything.
 *
 * thief=oldest turns the ring into a Cilk-style work-stealing deque (the
 * THE protocol of Frigo, Leiserson and Randall, in Chase and Lev's form):
 * the owner pushes and pops at the tail, newest first, and thieves take
 * at the head, oldest first, one G per CAS. The owner's pop publishes the
 * smaller tail and only then reads the head, a thief reads the head and
 * then the tail, all four by seq_cst accesses (Chase-Lev's StoreLoad
 * order). So they can
 * both aim at the same G only when one is left, and then both CAS the
 * head. That order on every pop from the ring is the owner's cost (the
 * default owner takes the head by a CAS it already pays for; runnext
 * hand-offs touch neither). Batched thieves (the default ones) would race
 * the pop for any G of their batch, hence one CAS per G.
 * Gs that Go queues at the back (yields, wake-ups without runnext) go to
 * the head here, the back of the owner's order. Bounded waiting: after
 * LIFO_STREAK_MAX pops in a row, new work goes to the head too until the
 * owner has popped through every G that was queued then (lifo_off, with
 * lifo_barrier the head's position then), so a queued G waits at most
 * LIFO_STREAK_MAX + RUNQ_SIZE of its P's pops, as in the default order.
  *
 * Invariants: those of runq.c's ring; under thief=oldest the tail end
 * belongs to the owner, which may lower runqtail, and thieves move only
 * the head. A G is on at most one queue.
 * Locking: none (the rings take no lock).
 * See also: runtime/runq.c, runtime/runqring.h, runtime/policy.h,
 * docs/research.md.
 */
#include "policy.h"
#include "proc.h"
#include "runqring.h"

/* oldest_lifo_ok says whether a G may go to the owner's end (thief=oldest):
 * not while Gs queued when the last streak ended remain. */
static bool oldest_lifo_ok(struct p *pp)
{
    if (!pp->lifo_off)
        return true;
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    if ((int32_t)(t - pp->lifo_barrier) > 0)
        return false;
    pp->lifo_off = false;
    pp->lifo_streak = 0;
    return true;
}

/* put_back queues gp at the back of the owner's order. */
static void put_back(struct p *pp, struct g *gp)
{
    if (gort__pol.thief == POL_THIEF_OLDEST && gort__runq_put_head(pp, gp))
        return;
    runq_put_tail(pp, gp);
}

/* put_kicked queues a G displaced from runnext (or a new G without
 * runnext) that goes to the owner's end under thief=oldest. */
static void put_kicked(struct p *pp, struct g *gp)
{
    if (gort__pol.thief == POL_THIEF_OLDEST && !oldest_lifo_ok(pp))
        put_back(pp, gp);
    else
        runq_put_tail(pp, gp);
}

void gort__runq_put_custom(struct p *pp, struct g *gp, bool next)
{
    if (next && gort__pol.runnext) {
        gp = runnext_swap(pp, gp);
        if (gp)
            put_kicked(pp, gp);
        return;
    }
    put_back(pp, gp);
}

void gort__runq_put_spawn_custom(struct p *pp, struct g *gp)
{
    if (gort__pol.spawn == POL_SPAWN_FIFO) {
        put_back(pp, gp);
        return;
    }
    if (gort__pol.runnext) {
        gp = runnext_swap(pp, gp); /* gp is now the displaced G */
        if (!gp)
            return;
    }
    /* thief=oldest: the tail is the owner's end, so this is depth-first
     * whatever the spawn order. */
    if (gort__pol.thief == POL_THIEF_OLDEST ||
        gort__pol.spawn == POL_SPAWN_GO) {
        put_kicked(pp, gp);
        return;
    }
    if (gort__runq_lifo_allowed(pp) && gort__runq_put_head(pp, gp))
        return;
    runq_put_tail(pp, gp);
}

/* ring_pop_tail takes the newest G of pp's ring (thief=oldest), or NULL. */
static struct g *ring_pop_tail(struct p *pp, bool solo)
{
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    uint64_t head = head_load(pp);
    if (t == head_pos(head))
        return NULL;
    t--;
    struct g *gp = slot_load(pp, t);
    if (solo) { /* no thieves */
        atomic_store_explicit(&pp->runqtail, t, memory_order_release);
        return gp;
    }
    /* Chase-Lev's StoreLoad: the tail store and the head load are
     * seq_cst, as are the thief's loads (gort__runq_grab_oldest), so either the
     * thief sees the lowered tail or the owner sees its moved head. (A
     * seq_cst fence does the same; TSan does not support fences.) This
     * is the owner's cost. */
    atomic_store_explicit(&pp->runqtail, t, memory_order_seq_cst);
    head = atomic_load_explicit(&pp->runqhead, memory_order_seq_cst);
    int32_t left = (int32_t)(t - head_pos(head));
    if (left > 0)
        return gp;
    /* The last G (left 0), or thieves took it (left -1): the head
     * decides, and the ring is empty either way. */
    bool won = left == 0 && atomic_compare_exchange_strong_explicit(
                                &pp->runqhead, &head, head_moved(head, t + 1),
                                memory_order_seq_cst, memory_order_relaxed);
    atomic_store_explicit(&pp->runqtail, t + 1, memory_order_relaxed);
    return won ? gp : NULL;
}

struct g *gort__runq_take_oldest(struct p *pp, bool solo)
{
    struct g *gp = ring_pop_tail(pp, solo);
    if (!gp) { /* nothing waits */
        pp->lifo_off = false;
        pp->lifo_streak = 0;
    } else if (!pp->lifo_off && ++pp->lifo_streak >= LIFO_STREAK_MAX) {
        pp->lifo_off = true;
        pp->lifo_barrier = head_pos(head_load(pp));
    }
    return gp;
}

/* gort__runq_grab_oldest is runq_grab for thief=oldest: the victim's oldest Gs, one
 * CAS each, as many as the steal amount says of what it first saw. */
uint32_t gort__runq_grab_oldest(struct p *victim, struct g **batch,
                            bool stealnext)
{
    uint32_t got = 0, want = 0;
    bool lone_checked = false;
again:
    for (;;) {
        /* seq_cst, pairing with ring_pop_tail's tail store and head load */
        uint64_t head = atomic_load_explicit(&victim->runqhead,
                                             memory_order_seq_cst);
        uint32_t h = head_pos(head);
        uint32_t t = atomic_load_explicit(&victim->runqtail,
                                          memory_order_seq_cst);
        int32_t len = (int32_t)(t - h);
        if (len > RUNQ_SIZE)
            continue; /* an inconsistent head/tail pair */
        if (len <= 0 || (got > 0 && got >= want))
            break;
        if (got == 0) {
            if (len == 1 && !lone_checked) {
                if (!gort__runq_lone_wait(victim, h, stealnext))
                    return 0;
                lone_checked = true;
                continue;
            }
            want = gort__pol_steal_n((uint32_t)len);
        }
        struct g *gp = slot_load(victim, h);
        if (atomic_compare_exchange_strong_explicit(
                &victim->runqhead, &head, head_moved(head, h + 1),
                memory_order_seq_cst, memory_order_relaxed))
            batch[got++] = gp;
    }
    if (got || !stealnext)
        return got;
    int r = gort__runq_grab_runnext(victim, batch);
    if (r < 0)
        goto again;
    return (uint32_t)r;
}
