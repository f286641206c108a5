/*
 * globrunq.c: the global run queues (Go: sched.runq, globrunqput,
 * globrunqget): the queue proper, which Go's fairness pick serves every 61
 * schedules, and the overflow, work a P set aside (runq.c's spills,
 * spawners under back-pressure, goroutines preempted at the end of their
 * slice), which that pick serves only once its head's hold has passed.
 *
 * Invariants:
 *  - Each is a growable FIFO ring of (G, hold) pairs (struct gring) whose
 *    Gs are G_RUNNABLE and on no other queue. Go links the descriptors
 *    through schedlink instead; a ring lets a take copy pointers under
 *    sched.lock without touching a descriptor, each a likely cache miss.
 *  - sched.runqsize == runq.n + overflow.n; sched.runq_proper == runq.n;
 *    sched.overflow_next is the overflow head's hold, 0 when it is empty.
 *    All three are written under sched.lock and read lock-free as hints.
 *  - Between gort__globrunq_take and gort__globrunq_install a taken G is
 *    on no queue, held by the taking M, whose P keeps it from looking
 *    deadlocked.
 *
 * Locking: sched.lock guards both rings; gort__globrunq_install runs
 * without it (it touches the taker's own P only).
 * See also: runtime/runq.c (the per-P rings), runtime/sched.c (who takes
 * when), docs/scheduler.md ("The overflow queue").
 */
#include <stdlib.h>

#include "proc.h"
#include "ring.h"

/* gring_room makes room for n more entries in r. */
static void gring_room(struct gring *r, uint32_t n)
{
    if (r->n + n <= r->cap)
        return;
    uint32_t cap = r->cap ? r->cap : 256;
    while (cap < r->n + n)
        cap *= 2;
    r->slot = ring_regrow(r->slot, sizeof *r->slot, r->head, r->n, r->cap,
                          cap, "out of memory growing the global run queue");
    r->head = 0;
    r->cap = cap;
}

/* gring_put appends gs[0..n) to r, each held until after. */
static void gring_put(struct gring *r, struct g *const *gs, uint32_t n,
                      int64_t after)
{
    gring_room(r, n);
    for (uint32_t i = 0; i < n; i++)
        r->slot[(r->head + r->n + i) & (r->cap - 1)] =
            (struct gring_slot){gs[i], after};
    r->n += n;
}

/* published updates the lock-free copies the fairness pick looks at, and
 * runqsize by delta. */
static void published(int32_t delta)
{
    struct sched *s = &gort__sched;
    atomic_fetch_add_explicit(&s->runqsize, delta, memory_order_relaxed);
    if (atomic_load_explicit(&s->runq_proper, memory_order_relaxed) !=
        (int32_t)s->runq.n)
        atomic_store_explicit(&s->runq_proper, (int32_t)s->runq.n,
                              memory_order_relaxed);
    int64_t next = 0;
    if (s->overflow.n > 0) {
        next = s->overflow.slot[s->overflow.head].after;
        if (next == 0)
            next = 1; /* "0: empty" */
    }
    if (atomic_load_explicit(&s->overflow_next, memory_order_relaxed) != next)
        atomic_store_explicit(&s->overflow_next, next, memory_order_relaxed);
}

/* gort__globrunq_put appends gp to the global queue. Caller holds
 * sched.lock. */
void gort__globrunq_put(struct g *gp)
{
    gring_put(&gort__sched.runq, &gp, 1, 0);
    published(1);
}

/* gort__globrunq_put_overflow appends gp, held back by its P's overflow,
 * to sched.overflow. Caller holds sched.lock and set gp->fair_after. */
void gort__globrunq_put_overflow(struct g *gp)
{
    gring_put(&gort__sched.overflow, &gp, 1, gp->fair_after);
    published(1);
}

/* gort__globrunq_put_spill appends gs[0..n), spilled from a full ring and
 * held until after, to sched.overflow. Caller holds sched.lock. */
void gort__globrunq_put_spill(struct g *const *gs, uint32_t n, int64_t after)
{
    gring_put(&gort__sched.overflow, gs, n, after);
    published((int32_t)n);
}

/* gort__globrunq_putbatch appends q to the global queue, taking
 * sched.lock itself, once per chunk: the list is walked outside it. */
void gort__globrunq_putbatch(struct gqueue *q)
{
    struct g *chunk[64];
    while (q->head) {
        uint32_t n = 0;
        while (n < 64 && q->head)
            chunk[n++] = gort__gqueue_pop(q);
        gort__lock(&gort__sched.lock);
        gring_put(&gort__sched.runq, chunk, n, 0);
        published((int32_t)n);
        gort__unlock(&gort__sched.lock);
    }
}

/* gort__globrunq_take takes a batch of up to max Gs (0: a fair share; Go:
 * globrunqget) off the global queue into out, and returns how many; the
 * overflow is served only once the queue proper is empty, and with
 * fair_now != 0 only if its head's hold has passed at fair_now: that,
 * with max 1, is the GLOBAL_FAIR_TICK pick (Go: globrunqget(pp, 1) every
 * 61 ticks). Caller holds sched.lock, and hands the
 * batch to gort__globrunq_install, preferably after dropping it: only
 * pointers move under the lock. */
int32_t gort__globrunq_take(struct p *pp, int32_t max, int64_t fair_now,
                            struct g **out)
{
    struct gring *r = &gort__sched.runq;
    if (r->n == 0)
        r = &gort__sched.overflow;
    if (r->n == 0)
        return 0;
    if (fair_now && r == &gort__sched.overflow &&
        r->slot[r->head].after > fair_now)
        return 0;
    int32_t procs = atomic_load_explicit(&gort__sched.gomaxprocs,
                                         memory_order_relaxed);
    int32_t n = (int32_t)r->n / procs + 1;
    if (n > (int32_t)r->n)
        n = (int32_t)r->n;
    if (max > 0 && n > max)
        n = max;
    if (n > RUNQ_SIZE / 2)
        n = RUNQ_SIZE / 2;
    /* Never overflow pp's ring: runq_putslow would take sched.lock. Only
     * thieves touch it meanwhile, and they only make room. */
    int32_t room = (int32_t)(RUNQ_SIZE - gort__runq_len(pp));
    if (n > room + 1)
        n = room + 1;
    for (int32_t i = 0; i < n; i++)
        out[i] = r->slot[(r->head + (uint32_t)i) & (r->cap - 1)].g;
    r->head = (r->head + (uint32_t)n) & (r->cap - 1);
    r->n -= (uint32_t)n;
    published(-n);
    return n;
}

/* gort__globrunq_install runs after gort__globrunq_take: got[0] is
 * returned to run, the rest go on pp's ring. Owner of pp only. */
struct g *gort__globrunq_install(struct p *pp, struct g **got, int32_t n)
{
    if (n == 0)
        return NULL;
    for (int32_t i = 1; i < n; i++)
        __builtin_prefetch(got[i], 1);
    got[0]->fair_after = 0;
    for (int32_t i = 1; i < n; i++) {
        got[i]->fair_after = 0;
        gort__runq_put(pp, got[i], false);
    }
    return got[0];
}

/* gort__globrunq_fini frees the rings (runtime_fini; nothing queued). */
void gort__globrunq_fini(void)
{
    free(gort__sched.runq.slot);
    free(gort__sched.overflow.slot);
}
