/*
 * runq.c: run queues: each P's lock-free ring plus runnext slot (Go:
 * runqput, runqget, runqgrab, runqsteal); a full ring spills half of
 * itself to the global queue (globrunq.c).
 *
 * Invariants:
 *  - The ring is single-producer (the owner P) and multi-consumer (the
 *    owner and thieves). runqtail is written only by the owner; runqhead is
 *    changed by CAS: consumers advance it, the owner may also move it
 *    back one slot to push a G at the head. tail - head <= RUNQ_SIZE.
 *  - runqhead carries a version in its high 32 bits that every change
 *    bumps. Go's head only grows, so a thief's CAS on a stale head must
 *    fail; a head that can also shrink could come back to the same
 *    position with a different G in the slot (ABA), and the version keeps
 *    the CAS failing in that case too.
 *  - Only the owner sets runnext to a G; anyone may CAS it to NULL.
 *  - In solo mode (one live P, so no thieves) the owner changes runqhead
 *    and runnext with plain atomic stores instead of CAS, inside a
 *    revocable section (below, "Plain sections").
 *  - A G is on at most one queue, and queued Gs are G_RUNNABLE.
 *
 * Spawn order. Go puts a new goroutine in runnext and kicks the previous
 * runnext to the ring's tail, so a tree of spawns runs breadth-first and
 * every interior goroutine of the tree is parked, holding its stack, at
 * once. gort kicks it to the ring's head instead: spawn trees run
 * depth-first (the newest child first, as Cilk's work-first rule does) and
 * only one path of the tree is parked at a time. Thieves take from the
 * head, so they get the kicked Gs first. Fairness bound: while Gs that were
 * queued at the tail wait behind head pushes, the owner serves at most
 * LIFO_STREAK_MAX head-pushed Gs in a row; then it stops pushing at the
 * head until everything queued at that moment has been taken (lifo_off),
 * so a tail-queued G waits at most LIFO_STREAK_MAX + RUNQ_SIZE of its P's
 * schedules, as against RUNQ_SIZE in Go. Wake-ups (gort__ready) keep Go's
 * order exactly.
 *
 * Stealing. Thieves take half a victim's ring, rounded up, as Go does,
 * except a lone goroutine of a running victim, which they treat as Go
 * treats runnext (gort__runq_lone_wait): last pass only, after a back-off.
 *
 * Locking: the global queue (globrunq.c) is under sched.lock; the rings
 * take no lock.
 * See also: runtime/runqring.h (the head word, slots, solo sections),
 * runtime/runqpolicy.c (GORT_SCHED's variants of these paths),
 * runtime/globrunq.c, runtime/sched.c (who puts where), Go's proc.go,
 * docs/scheduler.md ("Run queues").
 */
#include <unistd.h>

#include "determ.h"
#include "proc.h"
#include "runqring.h"

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

/* ---- The owner's side --------------------------------------------------- */

/* runq_spill moves the older half of pp's full ring to the global queue
 * (Go: runqputslow), where every P's fairness pick serves them. Returns
 * false if a thief emptied the ring meanwhile. Go sends the G being queued
 * along; here it stays on the ring's tail (gort__runq_put_tail_slow): a yielder
 * or a spawner whose turn ended would otherwise wait behind everything in
 * the global queue, 61 picks per goroutine there, and a crowd of n
 * yielders spawned by one goroutine took time quadratic in n. */
static bool runq_spill(struct p *pp, uint64_t head, uint32_t tail)
{
    enum { HALF = RUNQ_SIZE / 2 };
    uint32_t h = head_pos(head);
    if (tail - h != RUNQ_SIZE)
        return false;
    struct g *batch[HALF];
    for (uint32_t i = 0; i < HALF; i++)
        batch[i] = slot_load(pp, h + i);
    if (!head_cas(pp, &head, h + HALF))
        return false;
    /* The head-pushed Gs were the first to go. */
    pp->runq_front = pp->runq_front > HALF ? pp->runq_front - HALF : 0;
    gort__lock(&gort__sched.lock);
    gort__globrunq_put_many(batch, HALF);
    gort__unlock(&gort__sched.lock);
    return true;
}

/* gort__runq_put_tail_slow is runq_put_tail when the ring looked full: move
 * half of it to the global queue (or find that a thief made room), then
 * queue gp. */
__attribute__((noinline)) void gort__runq_put_tail_slow(struct p *pp,
                                                  struct g *gp)
{
    for (;;) {
        uint64_t head = head_load(pp);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - head_pos(head) < RUNQ_SIZE) {
            slot_store(pp, t, gp);
            atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
            return;
        }
        runq_spill(pp, head, t);
    }
}

/* gort__runq_put_head pushes gp in front of the ring's head. The slot written
 * is free: it is outside [head, tail) and, as tail - head < RUNQ_SIZE, not
 * the tail's either. A thief reading it holds a stale head, so its CAS
 * fails. Returns false when the ring is full. */
bool gort__runq_put_head(struct p *pp, struct g *gp)
{
    bool solo = solo_enter(pp), put;
    for (;;) {
        uint64_t head = head_load(pp);
        uint32_t h = head_pos(head);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - h >= RUNQ_SIZE) {
            put = false;
            break;
        }
        slot_store(pp, h - 1, gp);
        if (head_move(pp, &head, h - 1, solo)) {
            pp->runq_front++;
            put = true;
            break;
        }
    }
    if (solo)
        plain_exit(pp);
    return put;
}

/* gort__runq_lifo_allowed says whether a kicked runnext may go to the head: not while
 * the Gs queued when the last depth-first streak was cut short remain. */
bool gort__runq_lifo_allowed(struct p *pp)
{
    if (!pp->lifo_off)
        return true;
    if ((int32_t)(head_pos(head_load(pp)) - pp->lifo_barrier) < 0)
        return false;
    pp->lifo_off = false;
    return true;
}

/* gort__runq_put puts gp on pp's local queue: in runnext if next (kicking
 * the old runnext to the tail), else at the tail. Owner only. */
void gort__runq_put(struct p *pp, struct g *gp, bool next)
{
    if (DETERM()) {
        gort__determ_put(gp, next ? DPUT_NEXT : DPUT_TAIL);
        return;
    }
    if (__builtin_expect(gort__pol.custom, 0)) {
        gort__runq_put_custom(pp, gp, next);
        return;
    }
    if (next) {
        struct g *old = runnext_swap(pp, gp);
        if (!old)
            return;
        gp = old;
    }
    runq_put_tail(pp, gp);
}

/* gort__runq_put_spawn puts a new G in runnext and kicks the old runnext
 * to the ring's head (depth-first spawn order, see the file comment).
 * Owner only. */
void gort__runq_put_spawn(struct p *pp, struct g *gp)
{
    if (DETERM()) {
        gort__determ_put(gp, DPUT_SPAWN);
        return;
    }
    if (__builtin_expect(gort__pol.custom, 0)) {
        gort__runq_put_spawn_custom(pp, gp);
        return;
    }
    struct g *old = runnext_swap(pp, gp);
    if (!old)
        return;
    if (gort__runq_lifo_allowed(pp) && gort__runq_put_head(pp, old))
        return;
    runq_put_tail(pp, old);
}

/* account_pop updates the depth-first bookkeeping after the owner took the
 * head of a ring that held len Gs, cutting a streak of head-pushed Gs that
 * made older ones wait LIFO_STREAK_MAX times. */
static void account_pop(struct p *pp, uint32_t len, uint32_t tail)
{
    if (pp->runq_front > len) /* thieves took some */
        pp->runq_front = len;
    if (pp->runq_front == 0) {
        pp->lifo_streak = 0;
        return;
    }
    pp->runq_front--;
    if (len - 1 == pp->runq_front) { /* nothing older waits */
        pp->lifo_streak = 0;
        return;
    }
    if (++pp->lifo_streak < LIFO_STREAK_MAX)
        return;
    pp->runq_front = 0;
    pp->lifo_streak = 0;
    pp->lifo_off = true;
    pp->lifo_barrier = tail;
}

/* count_runnext_take counts the owner's takes of runnext (runq_grab
 * reads it). */
static inline void count_runnext_take(struct p *pp)
{
    atomic_store_explicit(
        &pp->runnext_taken,
        atomic_load_explicit(&pp->runnext_taken, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

/* runnext_take takes pp's runnext, or returns NULL if it is empty or a
 * thief took it first. */
static inline struct g *runnext_take(struct p *pp, bool solo)
{
    struct g *next = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
    if (!next)
        return NULL;
    if (solo) {
        atomic_store_explicit(&pp->runnext, NULL, memory_order_relaxed);
    } else if (!atomic_compare_exchange_strong_explicit(
                 &pp->runnext, &next, NULL, memory_order_acquire,
                 memory_order_relaxed))
        return NULL;
    count_runnext_take(pp);
    return next;
}

/* ring_take takes the G at the head of pp's ring, or returns NULL. */
static inline struct g *ring_take(struct p *pp, bool solo)
{
    for (;;) {
        uint64_t head = head_load(pp);
        uint32_t h = head_pos(head);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t == h) {
            pp->runq_front = 0;
            return NULL;
        }
        struct g *gp = slot_load(pp, h);
        if (head_move(pp, &head, h + 1, solo)) {
            account_pop(pp, t - h, t);
            return gp;
        }
    }
}

/* gort__runq_get takes the next G of pp: runnext first (*inherit = true:
 * it shares the current time slice), then the ring head. Owner only. */
struct g *gort__runq_get(struct p *pp, bool *inherit)
{
    if (DETERM())
        return gort__determ_get(inherit);
    bool solo = solo_enter(pp);
    struct g *gp = runnext_take(pp, solo);
    *inherit = gp != NULL;
    if (!gp)
        gp = __builtin_expect(gort__pol.thief == POL_THIEF_OLDEST, 0)
                 ? gort__runq_take_oldest(pp, solo)
                 : ring_take(pp, solo);
    if (solo)
        plain_exit(pp);
    return gp;
}

bool gort__runq_empty(struct p *pp)
{
    if (DETERM())
        return gort__determ_len() == 0;
    /* Go's runqempty: read head, tail, runnext, and re-read the ring ends
     * so a runnext kicked to the ring in between is not missed. */
    for (;;) {
        uint64_t head = head_load(pp);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        struct g *next = atomic_load_explicit(&pp->runnext,
                                              memory_order_acquire);
        if (t == atomic_load_explicit(&pp->runqtail, memory_order_acquire) &&
            head == head_load(pp))
            return head_pos(head) == t && next == NULL;
    }
}

uint32_t gort__runq_len(struct p *pp)
{
    if (DETERM())
        return gort__determ_len();
    uint32_t h = head_pos(head_load(pp));
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
    return t - h;
}

/* ---- Thieves ------------------------------------------------------------ */

/* victim_busy: the victim runs a goroutine now, so whatever waits in its
 * queue will probably be run there soon. */
static inline bool victim_busy(struct p *victim)
{
    return atomic_load_explicit(&victim->status, memory_order_relaxed) ==
           P_RUNNING;
}

/*
 * gort__runq_lone_wait decides whether a thief may take the only goroutine in a busy
 * victim's ring, at head position h. This is gort's rule, not Go's (Go
 * takes half rounded up, so one of one): the lone goroutine is treated as
 * Go treats runnext. Only the last pass takes it, after the same back-off,
 * and only if the victim's head did not move meanwhile. A head that moves
 * means the victim is cycling goroutines through its queue, as a select
 * consumer readying one producer after another does; stealing each one as
 * it appears moves goroutines, and their channels' cache lines, between
 * CPUs for nothing. On the reference VM the select benchmark at 2 Ps made
 * 120,000-300,000 steals per run without this and 25,000-35,000 with it,
 * and ran 10-25% faster. A lone goroutine behind a long-running one is
 * still taken after the back-off, as a runnext is.
 */
bool gort__runq_lone_wait(struct p *victim, uint32_t h, bool last)
{
    if (!victim_busy(victim))
        return true;
    if (!last)
        return false;
    usleep(3);
    uint64_t head = head_load(victim);
    uint32_t t = atomic_load_explicit(&victim->runqtail, memory_order_acquire);
    /* The same goroutine still waits, or the ring grew (a spawn pushed
     * work at its head): take from it. */
    return head_pos(head) == h || t - head_pos(head) >= 2;
}

/* gort__runq_grab_runnext takes victim's runnext for a thief on its last pass, after
 * a back-off: 1 (batch[0] is it), 0 (nothing to take), or -1 (it changed
 * under us: look at the ring again). */
int gort__runq_grab_runnext(struct p *victim, struct g **batch)
{
    struct g *next = atomic_load_explicit(&victim->runnext,
                                          memory_order_acquire);
    if (!next)
        return 0;
    /* The victim is probably about to run its runnext itself
     * (a channel hand-off is ~50ns): back off first, as Go does
     * with usleep(3), which timer slack stretches to tens of us.
     * If it took its runnext meanwhile, it is handing goroutines
     * back and forth and will take this one too: stealing would
     * split the pair across Ps (and a CAS on the same G coming
     * back, ABA, would succeed). A runnext left waiting behind a
     * long-running goroutine is still taken. */
    uint32_t taken = atomic_load_explicit(&victim->runnext_taken,
                                          memory_order_relaxed);
    if (victim_busy(victim)) {
        usleep(3);
        if (atomic_load_explicit(&victim->runnext_taken,
                                 memory_order_relaxed) != taken)
            return 0;
    }
    bool took = atomic_compare_exchange_strong_explicit(
        &victim->runnext, &next, NULL, memory_order_acq_rel,
        memory_order_relaxed);
    if (!took)
        return -1;
    batch[0] = next;
    return 1;
}

/* runq_grab copies half of victim's ring (rounded up; GORT_SCHED's
 * steal= may choose otherwise) into batch and commits by CAS on victim's
 * head; a lone goroutine is subject to gort__runq_lone_wait. With stealnext (the last pass), an empty ring yields victim's
 * runnext instead (Go: runqgrab). Returns the count taken. */
static uint32_t runq_grab(struct p *victim, struct g **batch, bool stealnext)
{
    if (__builtin_expect(gort__pol.thief == POL_THIEF_OLDEST, 0))
        return gort__runq_grab_oldest(victim, batch, stealnext);
    bool lone_checked = false;
    for (;;) {
        uint64_t head = head_load(victim);
        uint32_t h = head_pos(head);
        uint32_t t = atomic_load_explicit(&victim->runqtail,
                                          memory_order_acquire);
        uint32_t n = t - h;
        if (n > RUNQ_SIZE)
            continue; /* read an inconsistent head/tail pair: retry */
        if (n == 1 && !lone_checked) {
            if (!gort__runq_lone_wait(victim, h, stealnext))
                return 0;
            lone_checked = true;
            continue; /* reload: the ring may have changed meanwhile */
        }
        n = gort__pol_steal_n(n); /* half, rounded up, by default */
        if (n == 0) {
            if (!stealnext)
                return 0;
            int r = gort__runq_grab_runnext(victim, batch);
            if (r >= 0)
                return (uint32_t)r;
            continue;
        }
        for (uint32_t i = 0; i < n; i++)
            batch[i] = slot_load(victim, h + i);
        if (head_cas(victim, &head, h + n))
            return n;
    }
}

/* gort__runq_steal moves half of victim's queue to pp and returns one G to
 * run (Go: runqsteal). pp's ring is empty when this is called. */
struct g *gort__runq_steal(struct p *pp, struct p *victim, bool stealnext)
{
    struct g *batch[RUNQ_SIZE]; /* steal=allbutone takes up to 255 */
    uint32_t n = runq_grab(victim, batch, stealnext);
    if (n == 0)
        return NULL;
    struct g *gp = batch[--n];
    if (n == 0)
        return gp;
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++)
        slot_store(pp, t + i, batch[i]);
    /* store-release; pairs with load-acquire of consumers. */
    atomic_store_explicit(&pp->runqtail, t + n, memory_order_release);
    return gp;
}
