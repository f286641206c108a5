/*
 * runq.c: run queues: each P's lock-free ring plus runnext slot, and the
 * global queue (Go: runqput, runqget, runqgrab, runqsteal, globrunqput).
 *
 * Invariants:
 *  - The ring is single-producer (the owner P) and multi-consumer (the
 *    owner and thieves). runqtail is written only by the owner; runqhead is
 *    advanced by CAS by anyone. tail - head <= RUNQ_SIZE.
 *  - Only the owner sets runnext to a G; anyone may CAS it to NULL.
 *  - A G is on at most one queue, and queued Gs are G_RUNNABLE.
 * Locking: the global queue is under sched.lock; the rings take no lock.
 * See also: runtime/sched.c (who puts where), Go's proc.go.
 */
#include <unistd.h>

#include "runtime.h"

void gort__gqueue_push(struct gqueue *q, struct g *gp)
{
    gp->schedlink = NULL;
    if (q->tail)
        q->tail->schedlink = gp;
    else
        q->head = gp;
    q->tail = gp;
    q->n++;
}

struct g *gort__gqueue_pop(struct gqueue *q)
{
    struct g *gp = q->head;
    if (gp) {
        q->head = gp->schedlink;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        gp->schedlink = NULL;
    }
    return gp;
}

/* runq_putslow moves half of pp's full ring plus gp to the global queue
 * (Go: runqputslow). Returns false if a thief emptied the ring meanwhile. */
static bool runq_putslow(struct p *pp, struct g *gp, uint32_t head,
                         uint32_t tail)
{
    enum { HALF = RUNQ_SIZE / 2 };
    if (tail - head != RUNQ_SIZE)
        return false;
    struct g *batch[HALF + 1];
    for (uint32_t i = 0; i < HALF; i++)
        batch[i] = atomic_load_explicit(&pp->runq[(head + i) % RUNQ_SIZE],
                                        memory_order_relaxed);
    /* CAS-release on head commits the grab; pairs with the thieves'
     * load-acquire of head. */
    if (!atomic_compare_exchange_strong_explicit(&pp->runqhead, &head,
                                                 head + HALF,
                                                 memory_order_release,
                                                 memory_order_relaxed))
        return false;
    batch[HALF] = gp;
    struct gqueue q = {0};
    for (uint32_t i = 0; i <= HALF; i++)
        gort__gqueue_push(&q, batch[i]);
    gort__globrunq_putbatch(&q);
    return true;
}

/* gort__runq_put puts gp on pp's local queue: in runnext if next (kicking
 * the old runnext to the tail), else at the tail. Owner only. */
void gort__runq_put(struct p *pp, struct g *gp, bool next)
{
    if (next) {
        struct g *old = atomic_exchange_explicit(&pp->runnext, gp,
                                                 memory_order_acq_rel);
        if (!old)
            return;
        gp = old;
    }
    for (;;) {
        /* load-acquire head; pairs with the CAS-release of consumers. */
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - h < RUNQ_SIZE) {
            atomic_store_explicit(&pp->runq[t % RUNQ_SIZE], gp,
                                  memory_order_relaxed);
            /* store-release tail; pairs with the load-acquire in
             * runq_grab and runq_get. */
            atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
            return;
        }
        if (runq_putslow(pp, gp, h, t))
            return;
    }
}

/* gort__runq_get takes the next G of pp: runnext first (*inherit = true:
 * it shares the current time slice), then the ring head. Owner only. */
struct g *gort__runq_get(struct p *pp, bool *inherit)
{
    struct g *next = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
    if (next && atomic_compare_exchange_strong_explicit(
                    &pp->runnext, &next, NULL, memory_order_acquire,
                    memory_order_relaxed)) {
        *inherit = true;
        return next;
    }
    *inherit = false;
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t == h)
            return NULL;
        struct g *gp = atomic_load_explicit(&pp->runq[h % RUNQ_SIZE],
                                            memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&pp->runqhead, &h, h + 1,
                                                  memory_order_release,
                                                  memory_order_relaxed))
            return gp;
    }
}

bool gort__runq_empty(struct p *pp)
{
    /* Go's runqempty: read head, tail, runnext, and re-read tail so a
     * runnext kicked to the ring in between is not missed. */
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        struct g *next = atomic_load_explicit(&pp->runnext,
                                              memory_order_acquire);
        if (t == atomic_load_explicit(&pp->runqtail, memory_order_acquire))
            return h == t && next == NULL;
    }
}

uint32_t gort__runq_len(struct p *pp)
{
    uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
    return t - h;
}

/* runq_grab copies half of victim's ring (rounded up) into batch and
 * commits by CAS on victim's head. With stealnext, an empty ring yields
 * victim's runnext instead (Go: runqgrab). Returns the count taken. */
static uint32_t runq_grab(struct p *victim, struct g **batch, bool stealnext)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&victim->runqhead,
                                          memory_order_acquire);
        uint32_t t = atomic_load_explicit(&victim->runqtail,
                                          memory_order_acquire);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (!stealnext)
                return 0;
            struct g *next = atomic_load_explicit(&victim->runnext,
                                                  memory_order_acquire);
            if (!next)
                return 0;
            /* The victim is probably about to run its runnext itself
             * (a channel hand-off is ~50ns): back off first, as Go does
             * with usleep(3), which timer slack stretches to tens of us. */
            if (atomic_load_explicit(&victim->status, memory_order_relaxed) ==
                P_RUNNING)
                usleep(3);
            if (!atomic_compare_exchange_strong_explicit(
                    &victim->runnext, &next, NULL, memory_order_acq_rel,
                    memory_order_relaxed))
                continue;
            batch[0] = next;
            return 1;
        }
        if (n > RUNQ_SIZE / 2)
            continue; /* read an inconsistent head/tail pair: retry */
        for (uint32_t i = 0; i < n; i++)
            batch[i] = atomic_load_explicit(&victim->runq[(h + i) % RUNQ_SIZE],
                                            memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&victim->runqhead, &h,
                                                    h + n,
                                                    memory_order_release,
                                                    memory_order_relaxed))
            return n;
    }
}

/* gort__runq_steal moves half of victim's queue to pp and returns one G to
 * run (Go: runqsteal). pp's ring is empty when this is called. */
struct g *gort__runq_steal(struct p *pp, struct p *victim, bool stealnext)
{
    struct g *batch[RUNQ_SIZE / 2 + 1];
    uint32_t n = runq_grab(victim, batch, stealnext);
    if (n == 0)
        return NULL;
    struct g *gp = batch[--n];
    if (n == 0)
        return gp;
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++)
        atomic_store_explicit(&pp->runq[(t + i) % RUNQ_SIZE], batch[i],
                              memory_order_relaxed);
    /* store-release; pairs with load-acquire of consumers. */
    atomic_store_explicit(&pp->runqtail, t + n, memory_order_release);
    return gp;
}

/* gort__globrunq_put appends gp to the global queue. Caller holds
 * sched.lock. */
void gort__globrunq_put(struct g *gp)
{
    gort__gqueue_push(&gort__sched.runq, gp);
    atomic_fetch_add_explicit(&gort__sched.runqsize, 1, memory_order_relaxed);
}

/* gort__globrunq_putbatch appends q to the global queue, taking
 * sched.lock itself. */
void gort__globrunq_putbatch(struct gqueue *q)
{
    if (!q->head)
        return;
    gort__lock(&gort__sched.lock);
    struct gqueue *gq = &gort__sched.runq;
    if (gq->tail)
        gq->tail->schedlink = q->head;
    else
        gq->head = q->head;
    gq->tail = q->tail;
    gq->n += q->n;
    atomic_fetch_add_explicit(&gort__sched.runqsize, q->n,
                              memory_order_relaxed);
    gort__unlock(&gort__sched.lock);
    q->head = q->tail = NULL;
    q->n = 0;
}

/* gort__globrunq_get takes a batch from the global queue for pp: returns
 * one G and moves up to max-1 more onto pp's ring (Go: globrunqget).
 * max 0 means "a fair share". Caller holds sched.lock. */
struct g *gort__globrunq_get(struct p *pp, int32_t max)
{
    struct gqueue *gq = &gort__sched.runq;
    if (gq->n == 0)
        return NULL;
    int32_t procs = atomic_load_explicit(&gort__sched.gomaxprocs,
                                         memory_order_relaxed);
    int32_t n = gq->n / procs + 1;
    if (n > gq->n)
        n = gq->n;
    if (max > 0 && n > max)
        n = max;
    if (n > RUNQ_SIZE / 2)
        n = RUNQ_SIZE / 2;
    /* Never overflow pp's ring here: runq_putslow would retake sched.lock. */
    int32_t room = (int32_t)(RUNQ_SIZE - gort__runq_len(pp));
    if (n > room + 1)
        n = room + 1;
    atomic_fetch_sub_explicit(&gort__sched.runqsize, n, memory_order_relaxed);
    struct g *gp = gort__gqueue_pop(gq);
    while (--n > 0)
        gort__runq_put(pp, gort__gqueue_pop(gq), false);
    return gp;
}
