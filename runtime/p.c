/*
 * p.c: Ps, the processors: the idle P list, acquiring and releasing,
 * handing a P on when its M blocks (Go: handoffp), and changing their
 * number while goroutines run (Go: procresize, GOMAXPROCS).
 *
 * Invariants:
 *  - allp[0, gomaxprocs) are live; a higher one is retired (P_DEAD) as soon
 *    as nobody runs on it, its queue, timers, stacks and descriptors handed
 *    to the rest.
 *  - A P on sched.pidle has an empty run queue and no M.
 *  - sched.solo implies exactly one P is not P_DEAD and the kernel has
 *    membarrier; it is set and cleared under sched.lock (solo mode, below).
 *  - p.idle_listed is true exactly while p is on sched.pidle; a change
 *    of the list that leaves one P running announces it
 *    (gort__sched_alone, implemented above the scheduler by
 *    chan/chanowner.c).
 * Locking: sched.lock guards the idle list and gomaxprocs changes.
 * See also: runtime/m.c, runtime/sched.c, docs/scheduler.md.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "determ.h"
#include "fiber.h"
#include "proc.h"
#include "stack.h"
#include "trace.h"

static int maxprocs_next; /* gort_maxprocs before gort_run */

/* ---- Solo mode -----------------------------------------------------------
 *
 * Thieves are Ms holding another P, so with one live P nobody steals from
 * it, and its owner may take Gs from runnext and the ring with plain loads
 * and stores instead of a locked CAS each (runq.c, solo_enter): a
 * revocable section (revocable.h) whose busy word is the P's runq_plain
 * and whose revoke is the clearing of sched.solo. Entering needs nothing
 * special: once the last other P is dead no thief exists. Leaving
 * (gort_maxprocs growing) is the revoker's side: clear sched.solo, barrier,
 * and wait for every P's runq_plain before any other P comes to life. The
 * P that runs alone is announced (gort__sched_alone: for good on
 * entering; gort__sched_alone_end on leaving, which returns once the
 * announcement's user, the channel owner, has no plain lock left).
 * Without membarrier solo mode stays off.
 */
static bool membarrier_ok;

void gort__solo_init(void)
{
    /* GORT_DEBUG=membarrier=0 runs as on a kernel without it: every
     * handshake takes its fallback (tests force it so). */
    membarrier_ok = gort__rv_init(gort__debug.membarrier);
}

/* gort__solo_update enters solo mode when exactly one P is live. Caller
 * holds sched.lock. */
void gort__solo_update(void)
{
    ASSERT_HELD(&gort__sched.lock);
    int live = 0;
    struct p *only = NULL;
    for (int i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        struct p *pp = gort__sched.allp[i];
        if (pp && atomic_load(&pp->status) != P_DEAD) {
            live++;
            only = pp;
        }
    }
    if (live == 1 && membarrier_ok && gort__debug.solo) {
        /* Announced first: a foreign channel locker that misses the
         * owner's plain_ok counted itself before any plain lock can see
         * the name (chan/chanowner.c). */
        gort__sched_alone(only, true);
        atomic_store(&gort__sched.solo, true);
    }
}

/* solo_leave ends solo mode before a second P comes to life. Caller holds
 * sched.lock (the owner's plain section never takes it). */
static void solo_leave(void)
{
    ASSERT_HELD(&gort__sched.lock);
    if (!atomic_load(&gort__sched.solo))
        return;
    atomic_store(&gort__sched.solo, false); /* seq_cst: the revoke */
    gort__rv_barrier();
    /* Whoever steals next sees the owner's plain stores (rv_wait's
     * load-acquire). */
    for (int i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        struct p *pp = gort__sched.allp[i];
        if (pp)
            gort__rv_wait(&pp->runq_plain);
    }
    /* Plain channel locks too (chan/chanowner.c): the name goes, and
     * the owner's plain section ends, before another P can lock. */
    gort__sched_alone_end();
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

/* alone_note announces the one P off the idle list, if one alone is
 * (taken: the P just taken from it, or NULL), outside solo mode, which
 * announced its P for good. Caller holds sched.lock. */
static void alone_note(struct p *taken)
{
    struct sched *s = &gort__sched;
    if (atomic_load_explicit(&s->solo, memory_order_relaxed))
        return;
    int32_t procs = atomic_load(&s->gomaxprocs);
    if (atomic_load(&s->npidle) != procs - 1)
        return; /* several Ps run */
    struct p *pp = sole_runner(procs, taken);
    if (pp)
        gort__sched_alone(pp, false);
}

/* gort__pidleput puts pp on the idle list, or retires it if gort_maxprocs
 * shrank below it. Caller holds sched.lock. */
void gort__pidleput(struct p *pp)
{
    ASSERT_HELD(&gort__sched.lock);
    if (pp->id >= atomic_load(&gort__sched.gomaxprocs)) {
        gort__retire_p(pp);
        alone_note(NULL);
        return;
    }
    if (!gort__runq_empty(pp))
        gort__throw("pidleput: P has non-empty run queue");
    atomic_store_explicit(&pp->status, P_IDLE, memory_order_release);
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELAXED); /* sysmon reads it */
    pp->link = gort__sched.pidle;
    pp->idle_listed = true;
    gort__sched.pidle = pp;
    atomic_fetch_add(&gort__sched.npidle, 1);
    alone_note(NULL);
}

/* gort__pidleget takes an idle P or returns NULL. Caller holds
 * sched.lock. */
struct p *gort__pidleget(void)
{
    ASSERT_HELD(&gort__sched.lock);
    struct p *pp = gort__sched.pidle;
    if (pp) {
        gort__sched.pidle = pp->link;
        pp->link = NULL;
        pp->idle_listed = false;
        atomic_fetch_sub(&gort__sched.npidle, 1);
        alone_note(pp);
    }
    return pp;
}
void gort__acquirep(struct m *mp, struct p *pp)
{
    if (mp->p || __atomic_load_n(&pp->m, __ATOMIC_RELAXED))
        gort__throw("acquirep: already in go");
    mp->p = pp;
    __atomic_store_n(&pp->m, mp, __ATOMIC_RELEASE);
    atomic_store_explicit(&pp->status, P_RUNNING, memory_order_release);
    TRACE(TEV_P_ACQUIRE, 0, pp->id, 0);
}

struct p *gort__releasep(struct m *mp)
{
    struct p *pp = mp->p;
    if (!pp || pp->m != mp)
        gort__throw("releasep: invalid p state");
    mp->p = NULL;
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELEASE);
    TRACE(TEV_P_RELEASE, 0, pp->id, 0);
    return pp;
}
/* gort__handoffp finds a new owner for pp, whose M blocks in a syscall or
 * gives it up (Go: handoffp). */
void gort__handoffp(struct p *pp)
{
    TRACE(TEV_HANDOFF, 0, pp->id, 0);
    if (!gort__runq_empty(pp) ||
        atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed)) {
        gort__startm(pp, false);
        return;
    }
    int32_t zero = 0;
    if (atomic_load(&gort__sched.nmspinning) == 0 &&
        atomic_load(&gort__sched.npidle) == 0 &&
        atomic_compare_exchange_strong(&gort__sched.nmspinning, &zero, 1)) {
        gort__startm(pp, true);
        return;
    }
    gort__lock(&gort__sched.lock);
    int32_t procs = atomic_load(&gort__sched.gomaxprocs);
    if (atomic_load(&gort__sched.npidle) == procs - 1 &&
        atomic_load(&gort__sched.lastpoll) != 0 &&
        (gort__netpoll_waiting() || gort__timers_pending())) {
        /* Last running P and nobody waits on the poller or the timers:
         * start an M so someone does. */
        gort__unlock(&gort__sched.lock);
        gort__startm(pp, false);
        return;
    }
    gort__pidleput(pp);
    gort__unlock(&gort__sched.lock);
    int64_t when = atomic_load(&pp->timers.minwhen);
    if (when)
        gort__sched_timer_added(when);
}
struct p *gort__p_alloc(int32_t id)
{
    struct p *pp = calloc(1, sizeof *pp);
    if (!pp)
        return NULL;
    pp->stackcache = calloc(1, gort__stack_cache_size());
    if (!pp->stackcache) {
        free(pp);
        return NULL;
    }
    pp->id = id;
    gort__timers_init(&pp->timers, pp);
    atomic_init(&pp->status, P_IDLE);
    return pp;
}

/* gort__retire_p hands a P beyond gomaxprocs its work away and marks it
 * dead (Go: procresize's destroy). Caller holds sched.lock. */
void gort__retire_p(struct p *pp)
{
    ASSERT_HELD(&gort__sched.lock);
    struct gqueue q = {0};
    bool inherit;
    struct g *gp;
    while ((gp = gort__runq_get(pp, &inherit)))
        gort__gqueue_push(&q, gp);
    while ((gp = gort__gqueue_pop(&q)))
        gort__globrunq_put(gp);
    gort__timers_move(&pp->timers, &gort__sched.allp[0]->timers);
    gort__stack_cache_flush(pp);
    gort__g_flush(pp);
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELAXED);
    atomic_store(&pp->status, P_DEAD);
    gort__solo_update();
}

int gort__default_procs(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int gort_maxprocs(int n)
{
    RT_ENTRY();
    if (!atomic_load(&gort__running)) {
        int old = maxprocs_next ? maxprocs_next : gort__default_procs();
        if (n > 0)
            maxprocs_next = n > GORT_MAXPROCS_LIMIT ? GORT_MAXPROCS_LIMIT
                                                         : n;
        return old;
    }
    if (DETERM())
        return gort__determ_maxprocs(n); /* virtual Ps */
    gort__lock(&gort__sched.lock);
    int old = atomic_load(&gort__sched.gomaxprocs);
    if (n <= 0 || n == old) {
        gort__unlock(&gort__sched.lock);
        return old;
    }
    if (n > GORT_MAXPROCS_LIMIT)
        n = GORT_MAXPROCS_LIMIT;
    if (n > old)
        solo_leave();
    int added = 0, target = n;
    for (int i = old; i < n; i++) {
        struct p *pp = gort__sched.allp[i];
        bool fresh = pp == NULL;
        if (fresh && !(pp = gort__sched.allp[i] = gort__p_alloc(i))) {
            target = i; /* out of memory: grow as far as we could */
            break;
        }
        /* A P not yet retired from an earlier shrink is simply live
         * again; a new or dead one goes onto the idle list. */
        if (fresh || atomic_load(&pp->status) == P_DEAD) {
            atomic_store(&gort__sched.gomaxprocs, i + 1);
            gort__pidleput(pp);
            added++;
        }
    }
    atomic_store(&gort__sched.gomaxprocs, target);
    if (n < old) {
        /* Idle Ps beyond n retire now; running ones when their M next
         * schedules (findrunnable checks the id). */
        struct p **link = &gort__sched.pidle;
        while (*link) {
            struct p *pp = *link;
            if (pp->id >= n) {
                *link = pp->link;
                atomic_fetch_sub(&gort__sched.npidle, 1);
                gort__retire_p(pp);
            } else {
                link = &pp->link;
            }
        }
    }
    gort__unlock(&gort__sched.lock);
    TRACE(TEV_PROCS, 0, target, old);
    for (int i = 0; i < added; i++)
        gort__wakep();
    return old;
}

/* gort__maxprocs_take returns (and forgets) the count gort_maxprocs set
 * before gort_run, or 0. */
int gort__maxprocs_take(void)
{
    int n = maxprocs_next;
    maxprocs_next = 0;
    return n;
}
