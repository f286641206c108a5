/*
 * globrunq.c: the global run queue (Go: sched.runq, globrunqput,
 * globrunqget). Goroutines land here when no P can take them locally:
 * readied by a thread without a P, back from a system call, half of a
 * full ring (runq.c's spill), a retired P's queue. Every P takes one
 * every GLOBAL_FAIR_TICK schedules (the fairness pick), and a batch when
 * it runs out of local work, so nothing queued here waits for a timer:
 * a G at position k is taken within k fairness picks of any P.
 *
 * Invariants:
 *  - The queue is a growable FIFO ring of Gs (struct gring) that are
 *    G_RUNNABLE and on no other queue. Go links the descriptors through
 *    schedlink instead; a ring lets a take copy pointers under sched.lock
 *    without touching a descriptor, each a likely cache miss.
 *  - sched.runqsize == runq.n, written under sched.lock and read
 *    lock-free as a hint.
 *  - Between gort__globrunq_take and gort__globrunq_install a taken G is
 *    on no queue, held by the taking M, whose P keeps it from looking
 *    deadlocked.
 *
 * Locking: sched.lock guards the ring; gort__globrunq_install runs
 * without it (it touches the taker's own P only).
 * See also: runtime/runq.c (the per-P rings), runtime/sched.c (who takes
 * when), docs/scheduler.md ("Bounded waiting").
 */
#include <stdlib.h>

#include "determ.h"
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

/* gring_put appends gs[0..n) to r. */
static void gring_put(struct gring *r, struct g *const *gs, uint32_t n)
{
    gring_room(r, n);
    for (uint32_t i = 0; i < n; i++)
        r->slot[(r->head + r->n + i) & (r->cap - 1)] = gs[i];
    r->n += n;
}

/* gort__globrunq_put appends gp to the global queue. Caller holds
 * sched.lock. */
void gort__globrunq_put(struct g *gp)
{
    gort__globrunq_put_many(&gp, 1);
}

/* gort__globrunq_put_many appends gs[0..n) to the global queue in order.
 * Caller holds sched.lock. */
void gort__globrunq_put_many(struct g *const *gs, uint32_t n)
{
    ASSERT_HELD(&gort__sched.lock);
    if (DETERM()) { /* the seed picks a virtual P for each */
        for (uint32_t i = 0; i < n; i++)
            gort__determ_put(gs[i], DPUT_GLOBAL);
        return;
    }
    gring_put(&gort__sched.runq, gs, n);
    atomic_fetch_add_explicit(&gort__sched.runqsize, (int32_t)n,
                              memory_order_relaxed);
}

/* gort__globrunq_putbatch appends q to the global queue, taking
 * sched.lock itself, once per chunk: the list is walked outside it. */
void gort__globrunq_putbatch(struct gqueue *q)
{
    ASSERT_BELOW(LOCKRANK_SCHED);
    struct g *chunk[64];
    while (q->head) {
        uint32_t n = 0;
        while (n < 64 && q->head)
            chunk[n++] = gort__gqueue_pop(q);
        gort__lock(&gort__sched.lock);
        gort__globrunq_put_many(chunk, n);
        gort__unlock(&gort__sched.lock);
    }
}

/* gort__globrunq_take takes a batch of up to max Gs (0: a fair share; Go:
 * globrunqget) off the global queue into out, and returns how many. With
 * max 1 it is the GLOBAL_FAIR_TICK pick (Go: globrunqget(pp, 1) every 61
 * ticks). Caller holds sched.lock, and hands the batch to
 * gort__globrunq_install, preferably after dropping it: only pointers
 * move under the lock. */
int32_t gort__globrunq_take(struct p *pp, int32_t max, struct g **out)
{
    ASSERT_HELD(&gort__sched.lock);
    struct gring *r = &gort__sched.runq;
    if (r->n == 0)
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
    /* Never overflow pp's ring: runq_spill would take sched.lock. Only
     * thieves touch it meanwhile, and they only make room. */
    int32_t room = (int32_t)(RUNQ_SIZE - gort__runq_len(pp));
    if (n > room + 1)
        n = room + 1;
    for (int32_t i = 0; i < n; i++)
        out[i] = r->slot[(r->head + (uint32_t)i) & (r->cap - 1)];
    r->head = (r->head + (uint32_t)n) & (r->cap - 1);
    r->n -= (uint32_t)n;
    atomic_fetch_sub_explicit(&gort__sched.runqsize, n, memory_order_relaxed);
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
    for (int32_t i = 1; i < n; i++)
        gort__runq_put(pp, got[i], false);
    return got[0];
}

/* gort__globrunq_fini frees the ring (runtime_fini; nothing queued). */
void gort__globrunq_fini(void)
{
    free(gort__sched.runq.slot);
    gort__sched.runq = (struct gring){0};
}
