/*
 * sched.c: the scheduler loop: finding work (local and global queues,
 * timers, the poller, stealing), wired threads, and the deadlock check
 * (Go: schedule, findRunnable, stealWork, checkdead).
 *
 * Every M runs gort__schedule on its g0, the thread's own stack, and
 * comes here whenever a goroutine that parks, yields or exits has no local
 * successor it can switch to directly (park.c decides). The switch names
 * what must happen to the goroutine leaving (enum after_switch), and it is
 * done on the next stack, never on the leaving one.
 *
 * Invariants:
 *  - An M runs goroutines only while it holds a P; a P has at most one M.
 *  - nmspinning counts Ms with m.spinning set; at most half the busy Ps
 *    spin (2*nmspinning < gomaxprocs - npidle), as Go bounds it.
 *  - A spinning M that stops spinning rechecks every run queue after the
 *    decrement (the "delicate dance"), so work submitted while wakep saw a
 *    spinner is never stranded.
 *  - sched.lastpoll == 0 iff one M is blocked waiting for the next timer or
 *    network event; that M is not idle, so checkdead sees it running.
 * Locking: sched.lock guards the idle M and P lists and the global queue;
 * it is never held across a switch or a sleep. See runtime.h for the order.
 * See also: runtime/runq.c, runtime/park.c, runtime/m.c, runtime/p.c,
 * docs/scheduler.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "determ.h"
#include "fiber.h"
#include "proc.h"
#include "stack.h"
#include "trace.h"

struct sched gort__sched = {.lock = LOCK_INIT(LOCKRANK_SCHED)};

/* ---- Deadlock detection -------------------------------------------------- */

/* gort__checkdead reports a deadlock when no M is running (Go: checkdead).
 * Caller holds sched.lock. */
void gort__checkdead(void)
{
    ASSERT_HELD(&gort__sched.lock);
    struct sched *s = &gort__sched;
    if (atomic_load(&s->stopping))
        return;
    int64_t run = (s->mnext - s->nmfreed) - s->nmidle - s->nmidlelocked;
    if (run > 0)
        return;
    if (run < 0) {
        fprintf(stderr, "runtime: checkdead: nmidle=%d nmidlelocked=%d "
                "mcount=%lld\n", s->nmidle, s->nmidlelocked,
                (long long)(s->mnext - s->nmfreed));
        gort__throw("checkdead: inconsistent counts");
    }
    if (atomic_load(&s->runqsize) > 0)
        gort__throw("checkdead: runnable g");
    int32_t procs = atomic_load(&s->gomaxprocs);
    for (int32_t i = 0; i < procs; i++)
        if (s->allp[i] && !gort__runq_empty(s->allp[i]))
            gort__throw("checkdead: runnable g");
    if (gort__gcount() == 0)
        gort__fatal("no goroutines (main called runtime.Goexit) - deadlock!");
    if (gort__timers_pending() || gort__netpoll_waiting())
        return; /* a sleeper will wake: nothing is stuck for good */
    if (gort__signal_notifying())
        return; /* a signal may come (Go: the signal_recv goroutine) */
    gort__fatal("all goroutines are asleep - deadlock!");
}
/* ---- Timers and the poller ----------------------------------------------- */

static _Atomic uint32_t pollwake; /* futex for a poller without epoll */

void gort__sched_poll_break(void)
{
    atomic_fetch_add_explicit(&pollwake, 1, memory_order_release);
    gort__futex_wake(&pollwake, 1);
    if (gort__netpoll_inited())
        gort__netpoll_break();
}

void gort__sched_timer_added(int64_t when)
{
    ASSERT_BELOW(LOCKRANK_TIMER);
    gort__sysmon_timer_added(when);
    if (atomic_load(&gort__sched.lastpoll) == 0) {
        int64_t until = atomic_load(&gort__sched.polluntil);
        if (until == 0 || until > when)
            gort__sched_poll_break();
    } else {
        gort__wakep();
    }
}

/* poll_block waits for the network or until `until` (0: no timer) on an M
 * that gave up its P and won sched.lastpoll. */
static void poll_block(int64_t until, struct gqueue *q)
{
    int64_t delay = -1;
    if (until) {
        delay = until - gort__nanotime();
        if (delay < 0)
            delay = 0;
    }
    atomic_store(&gort__sched.polluntil, until);
    if (DETERM()) /* no waiting: time jumps (determ.c) */
        gort__determ_poll_block(until, q);
    else if (gort__netpoll_inited()) {
        gort__netpoll(delay, q);
    } else {
        uint32_t w = atomic_load_explicit(&pollwake, memory_order_acquire);
        if (!gort__netpoll_inited() && delay != 0)
            gort__futex_wait(&pollwake, w, delay);
    }
    atomic_store(&gort__sched.polluntil, 0);
    atomic_store(&gort__sched.lastpoll, gort__nanotime());
}

/* ---- Finding work --------------------------------------------------------- */

/* steal_work tries to take work from other Ps: half of a victim's queue,
 * in a random order, four passes; the last pass also runs victims'
 * expired timers and takes runnext (Go: stealWork). */
static struct g *steal_work(struct p *pp, bool *inherit)
{
    int32_t procs = atomic_load(&gort__sched.gomaxprocs);
    int64_t now = gort__nanotime();
    for (int pass = 0; pass < STEAL_TRIES; pass++) {
        bool last = pass == STEAL_TRIES - 1;
        uint32_t start = gort__fastrandn((uint32_t)procs);
        for (int32_t k = 0; k < procs; k++) {
            if (atomic_load_explicit(&gort__sched.stopping,
                                     memory_order_relaxed))
                return NULL;
            struct p *v = gort__sched.allp[gort__pol_victim(pp->id, start, k,
                                                            procs)];
            if (!v || v == pp)
                continue;
            if (last) {
                int64_t w = atomic_load_explicit(&v->timers.minwhen,
                                                 memory_order_relaxed);
                if (w && w <= now) {
                    gort__timers_check(&v->timers, now);
                    struct g *gp = gort__runq_get(pp, inherit);
                    if (gp)
                        return gp;
                }
            }
            if (atomic_load_explicit(&v->status, memory_order_relaxed) ==
                P_IDLE)
                continue;
            struct g *gp = gort__runq_steal(pp, v, last);
            if (gp) {
                TRACE(TEV_STEAL, 0, v->id, 1 + gort__runq_len(pp));
                P_STAT_INC(pp->nsteals, 1);
                P_STAT_INC(pp->nstolen, 1 + gort__runq_len(pp));
                *inherit = false;
                return gp;
            }
        }
    }
    return NULL;
}

/* global_get takes up to max Gs from the global queue (0: a fair share)
 * and returns one to run; the rest go on pp's ring. With max 1 it is the
 * GLOBAL_FAIR_TICK pick (Go: globrunqget(pp, 1) when schedtick%61 == 0). */
static struct g *global_get(struct p *pp, int32_t max)
{
    if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) == 0)
        return NULL;
    struct g *got[RUNQ_SIZE / 2];
    gort__lock(&gort__sched.lock);
    int32_t n = gort__globrunq_take(pp, max, got);
    gort__unlock(&gort__sched.lock);
    return gort__globrunq_install(pp, got, n);
}

/* run_first readies every goroutine of q but the first, which it returns
 * for the caller to run (or NULL if q is empty). */
static struct g *run_first(struct gqueue *q)
{
    if (q->n)
        TRACE(TEV_NETPOLL, 0, q->n, 0);
    struct g *gp = gort__gqueue_pop(q);
    if (!gp)
        return NULL;
    gort__ready_list(q);
    gort__g_setstatus(gp, G_WAITING, G_RUNNABLE);
    if (TRACE_ON())
        gort__trace_ready(gp);
    return gp;
}

static struct g *netpoll_get(int64_t delay)
{
    if (!gort__netpoll_inited() || !gort__netpoll_waiting() ||
        atomic_load(&gort__sched.lastpoll) == 0)
        return NULL;
    struct gqueue q = {0};
    gort__netpoll(delay, &q);
    if (DETERM())
        gort__determ_shuffle(&q);
    return run_first(&q);
}

/* batch_get submits the system-call batch (netpoll/sysbatch.c) and
 * returns one goroutine whose call completed, readying the others
 * (netpoll_get's twin). Unlike netpoll_get it does not need lastpoll: the
 * batch never blocks, and a P must flush before it goes idle. */
static struct g *batch_get(void)
{
    struct gqueue q = {0};
    gort__sysbatch_flush(&q);
    return run_first(&q);
}

/* recheck_runqs looks at the global queue and every P's queue after a
 * spinning M stopped spinning; returns an idle P if work exists somewhere.
 * The global queue matters as much as the rings: a G readied from a
 * thread without a P goes there, and its wakep saw us spinning. */
static struct p *recheck_runqs(void)
{
    bool work = atomic_load(&gort__sched.runqsize) > 0;
    int32_t procs = atomic_load(&gort__sched.gomaxprocs);
    for (int32_t i = 0; !work && i < procs; i++) {
        struct p *v = gort__sched.allp[i];
        work = v && !gort__runq_empty(v);
    }
    if (!work)
        return NULL;
    gort__lock(&gort__sched.lock);
    struct p *pp = gort__pidleget();
    gort__unlock(&gort__sched.lock);
    return pp;
}

/* findrunnable returns a G to run, blocking until one exists; NULL when
 * the runtime is stopping (Go: findRunnable). */
static struct g *findrunnable(struct m *mp, bool *inherit)
{
    struct sched *s = &gort__sched;
top:
    if (atomic_load_explicit(&s->stopping, memory_order_relaxed))
        return NULL;
    struct p *pp = mp->p;
    if (pp->id >= atomic_load_explicit(&s->gomaxprocs, memory_order_relaxed))
        goto drop; /* gort_maxprocs shrank past us: retire pp */
    *inherit = false;
    if (atomic_load_explicit(&pp->timers.minwhen, memory_order_relaxed))
        gort__timers_check(&pp->timers, gort__nanotime());

    struct g *gp;
    if (SYSBATCH_AGED(pp) && (gp = batch_get()))
        return gp;
    if (GLOBAL_FAIR_DUE(pp) && (gp = global_get(pp, 1)))
        return gp;
    if ((gp = gort__runq_get(pp, inherit)))
        return gp;
    if ((gp = global_get(pp, 0)))
        return gp;
    if (pp->sb_queued && (gp = batch_get()))
        return gp;
    if ((gp = netpoll_get(0)))
        return gp;

    int32_t procs = atomic_load(&s->gomaxprocs);
    if (mp->spinning ||
        gort__pol_may_spin(atomic_load(&s->nmspinning),
                           procs - atomic_load(&s->npidle))) {
        if (!mp->spinning) {
            mp->spinning = true;
            atomic_fetch_add(&s->nmspinning, 1);
        }
        if ((gp = steal_work(pp, inherit)))
            return gp;
    }

drop:
    gort__lock(&s->lock);
    if (atomic_load(&s->stopping)) {
        gort__unlock(&s->lock);
        return NULL;
    }
    if (pp->id < atomic_load(&s->gomaxprocs)) {
        struct g *got[RUNQ_SIZE / 2];
        int32_t n = gort__globrunq_take(pp, 0, got);
        if (n > 0) {
            gort__unlock(&s->lock);
            return gort__globrunq_install(pp, got, n);
        }
        if (!gort__runq_empty(pp)) {
            /* We came to retire pp, but gort_maxprocs grew back in the
             * meantime: pp is live again, with work. */
            gort__unlock(&s->lock);
            goto top;
        }
    }
    bool retiring = pp->id >= atomic_load(&s->gomaxprocs);
    gort__releasep(mp);
    gort__pidleput(pp); /* retires pp if gort_maxprocs shrank past it */
    if (retiring && atomic_load(&s->runqsize) > 0 &&
        (pp = gort__pidleget())) {
        /* Retiring moved pp's queue to the global one: carry that work
         * on a live P instead of leaving it to nobody. */
        gort__unlock(&s->lock);
        gort__acquirep(mp, pp);
        goto top;
    }
    gort__unlock(&s->lock);

    if (mp->spinning) {
        mp->spinning = false;
        if (atomic_fetch_sub(&s->nmspinning, 1) <= 0)
            gort__throw("findrunnable: negative nmspinning");
        /* The delicate dance: recheck after the decrement, so a producer
         * that saw us spinning and skipped wakep is not stranded. */
        if ((pp = recheck_runqs())) {
            gort__acquirep(mp, pp);
            mp->spinning = true;
            atomic_fetch_add(&s->nmspinning, 1);
            goto top;
        }
    }

    int64_t until = gort__timers_next();
    if ((until || gort__netpoll_waiting()) &&
        atomic_exchange(&s->lastpoll, 0) != 0) {
        struct gqueue q = {0};
        poll_block(until, &q);
        gort__lock(&s->lock);
        pp = gort__pidleget();
        gort__unlock(&s->lock);
        if (!pp) {
            if (q.n)
                TRACE(TEV_NETPOLL, 0, q.n, 0);
            gort__ready_list(&q);
        } else {
            gort__acquirep(mp, pp);
            gort__sysmon_wake();
            if ((gp = run_first(&q)))
                return gp;
            goto top; /* timers expired: run them with this P */
        }
    }
    if (!gort__stopm(mp))
        return NULL;
    goto top;
}
/* resetspinning: mp found work while spinning; let another M take over
 * the search (Go: resetspinning). */
static void resetspinning(struct m *mp)
{
    mp->spinning = false;
    if (atomic_fetch_sub(&gort__sched.nmspinning, 1) <= 0)
        gort__throw("resetspinning: negative nmspinning");
    gort__wakep();
}

/* stoplockedm: mp is wired to a G that is not runnable: give the P away
 * and sleep until the G is handed back with a P (Go: stoplockedm). */
static bool stoplockedm(struct m *mp)
{
    if (mp->p)
        gort__handoffp(gort__releasep(mp));
    gort__lock(&gort__sched.lock);
    if (atomic_load(&gort__sched.stopping)) {
        gort__unlock(&gort__sched.lock);
        return false;
    }
    if (!mp->nextp) { /* not handed its G yet: idle until it is */
        mp->idlelocked = true;
        gort__sched.nmidlelocked++;
        gort__checkdead();
    }
    gort__unlock(&gort__sched.lock);
    gort__note_sleep(&mp->park);
    gort__note_clear(&mp->park);
    struct p *pp = mp->nextp;
    if (!pp)
        return false;
    mp->nextp = NULL;
    gort__acquirep(mp, pp);
    return true;
}

/* startlockedm hands our P to the M that gp is wired to, then parks us
 * (Go: startlockedm). */
static void startlockedm(struct m *mp, struct g *gp)
{
    struct m *lm = gp->lockedm;
    struct p *pp = gort__releasep(mp);
    gort__lock(&gort__sched.lock);
    lm->nextp = pp;
    if (lm->idlelocked) {
        lm->idlelocked = false;
        gort__sched.nmidlelocked--;
    }
    gort__unlock(&gort__sched.lock);
    gort__note_wakeup(&lm->park);
}

/* gort__schedule is every M's loop (Go: schedule). Returns when the
 * runtime stops or when mp must exit (its wired goroutine died). */
void gort__schedule(struct m *mp)
{
    for (;;) {
        if (atomic_load_explicit(&gort__sched.stopping, memory_order_relaxed))
            return;
        if (mp->dead_locked)
            return;
        if (mp->lockedg) {
            /* Our wired G is parked or queued: sleep until whoever
             * dequeues it hands it back to us with a P. */
            if (!stoplockedm(mp))
                return;
            if (TRACE_ON())
                gort__trace_start_g(mp->lockedg);
            gort__execute(mp, mp->lockedg, false);
            continue;
        }
        if (!mp->p) {
            if (!gort__stopm(mp))
                return;
            continue;
        }
        bool inherit = mp->nextg_inherit;
        struct g *gp = mp->nextg;
        mp->nextg = NULL;
        if (!gp)
            gp = findrunnable(mp, &inherit);
        if (!gp)
            continue;
        if (mp->spinning)
            resetspinning(mp);
        if (gp->lockedm && gp->lockedm != mp) {
            startlockedm(mp, gp);
            continue;
        }
        /* Here, not in execute: after_switch inlines execute, and a test
         * there costs the yield path an instruction (trace.h). The two
         * rarer paths through after_switch (a cancelled park, a syscall
         * exit without a P) start with no event; tracejson.c dates such
         * a slice from its thread's previous event. */
        if (TRACE_ON())
            gort__trace_start_g(gp);
        gort__execute(mp, gp, inherit);
    }
}
