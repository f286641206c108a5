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
 *  - p.idle_listed is true exactly while p is on sched.pidle; every change
 *    of the list tells chanowner.c (gort__chan_owner_note).
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
#include <linux/membarrier.h>
#include <sys/syscall.h>
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
 * and stores instead of a locked CAS each (runq.c: solo_enter). Entering
 * needs nothing special: once the last other P is dead no thief exists.
 * Leaving (gort_maxprocs growing) is the rare side of an asymmetric Dekker
 * handshake: clear sched.solo, then membarrier(2), which makes every
 * thread's earlier stores visible and its later loads see the clear, then
 * wait until the owner is out of its plain section (solo_busy) before any
 * other P comes to life. The owner's side costs a relaxed store, a
 * compiler barrier and a load. Channel locks use the same handshake,
 * and not only in solo mode: the P that runs alone is the channel owner
 * (chanowner.c), which solo mode names for good on entering and drops on
 * leaving, after the owner's plain locks are gone. Without membarrier (an
 * old kernel, a seccomp filter) solo mode stays off.
 */
static bool membarrier_ok;

static long membarrier(int cmd)
{
    return syscall(SYS_membarrier, cmd, 0, 0);
}

void gort__solo_init(void)
{
    long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    /* GORT_DEBUG=membarrier=0 runs as on a kernel without it: every
     * handshake takes its fallback (tests force it so). */
    membarrier_ok = gort__debug.membarrier && cmds > 0 &&
                    (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
                    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    gort__rv_init(membarrier_ok);
    gort__sched.plain_runnext = membarrier_ok && gort__debug.plainnext;
    gort__chan_owner_init(membarrier_ok);
}

/* gort__membarrier makes every thread of the process execute a full
 * memory barrier before it returns (only called when plain_runnext or
 * solo mode proved membarrier works). */
void gort__membarrier(void)
{
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
        gort__throw("membarrier failed after registration");
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
        /* The channel owner first: a foreign locker that misses its
         * chan_plain_ok counted itself before any plain lock can see
         * the name (chanowner.c). */
        gort__chan_owner_name_solo(only);
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
    atomic_store(&gort__sched.solo, false);
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
        gort__throw("membarrier failed after registration");
    for (int i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        struct p *pp = gort__sched.allp[i];
        /* load-acquire; pairs with solo_exit's store-release, so whoever
         * steals next sees the owner's plain stores. */
        while (pp && atomic_load_explicit(&pp->solo_busy,
                                          memory_order_acquire))
            gort__procyield(10);
    }
    /* Plain channel locks too (chanowner.c): the name goes, and the
     * owner's plain section ends, before another P can lock. */
    gort__chan_owner_drop_solo();
}

/* gort__pidleput puts pp on the idle list, or retires it if gort_maxprocs
 * shrank below it. Caller holds sched.lock. */
void gort__pidleput(struct p *pp)
{
    ASSERT_HELD(&gort__sched.lock);
    if (pp->id >= atomic_load(&gort__sched.gomaxprocs)) {
        gort__retire_p(pp);
        gort__chan_owner_note(NULL);
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
    gort__chan_owner_note(NULL);
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
        gort__chan_owner_note(pp);
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
