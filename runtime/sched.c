/*
 * sched.c: the scheduler loop: finding work, running it, parking and
 * readying goroutines, spinning and idle Ms, idle Ps, and the deadlock
 * check (Go: schedule, findRunnable, execute, gopark, goready, wakep,
 * startm, stopm, handoffp, checkdead).
 *
 * Every M runs gort__schedule on its g0, the thread's own stack. Running a
 * goroutine is a switch from g0 to the G; the G comes back to g0 by a
 * switch naming what g0 must do next (enum after_switch): finish a park,
 * requeue a yield, destroy an exited G. Because the G is off its stack
 * before g0 acts, a park's unlock can publish the G to a waker without any
 * window in which two Ms run on one stack.
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
 * See also: runtime/runq.c, runtime/proc.c, docs/scheduler.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fiber.h"
#include "proc.h"
#include "stack.h"

struct sched gort__sched = {.lock = LOCK_INIT};

static __thread struct m *tls_m;

/* gort__getm reads TLS behind an opaque call (see runtime.h). */
__attribute__((noinline)) struct m *gort__getm(void)
{
    struct m *mp = tls_m;
    __asm__ volatile("" : "+r"(mp));
    return mp;
}

void gort__setm(struct m *mp)
{
    tls_m = mp;
}

struct g *gort__getg(void)
{
    struct m *mp = gort__getm();
    return mp ? mp->curg : NULL;
}

uint32_t gort__fastrand(void)
{
    struct m *mp = gort__getm();
    static _Atomic uint64_t global_seed = 0x9e3779b97f4a7c15ull;
    uint64_t x = mp ? mp->fastrand
                    : atomic_fetch_add(&global_seed, 0x9e3779b97f4a7c15ull);
    /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    if (mp)
        mp->fastrand = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

uint32_t gort__fastrandn(uint32_t n)
{
    return (uint32_t)(((uint64_t)gort__fastrand() * n) >> 32);
}

static _Noreturn void bad_status(struct g *gp, uint32_t from, uint32_t to,
                                 uint32_t old)
{
    char msg[96];
    snprintf(msg, sizeof msg, "bad g status transition %u -> %u (is %u, "
             "goroutine %llu)", from, to, old, (unsigned long long)gp->goid);
    gort__throw(msg);
}

/* gort__g_setstatus moves gp from `from` to `to`, throwing if gp is not in
 * `from`. Every transition is made by the G's sole owner of the moment
 * (the M running it, or the waker that dequeued it from a wait queue under
 * that queue's lock), so a checked store-release is enough: it pairs with
 * the load-acquire of the next owner, catches double wake-ups in practice,
 * and keeps locked instructions off the switch path (they cost ~20ns each
 * on the VMs measured here). */
void gort__g_setstatus(struct g *gp, uint32_t from, uint32_t to)
{
    /* load-acquire; pairs with the store-release of the previous owner. */
    uint32_t old = atomic_load_explicit(&gp->status, memory_order_acquire);
    if (old != from)
        bad_status(gp, from, to, old);
    atomic_store_explicit(&gp->status, to, memory_order_release);
}

/* ---- Idle Ps and Ms ------------------------------------------------------ */

/* gort__pidleput puts pp on the idle list, or retires it if gort_maxprocs
 * shrank below it. Caller holds sched.lock. */
void gort__pidleput(struct p *pp)
{
    if (pp->id >= atomic_load(&gort__sched.gomaxprocs)) {
        gort__retire_p(pp);
        return;
    }
    if (!gort__runq_empty(pp))
        gort__throw("pidleput: P has non-empty run queue");
    atomic_store_explicit(&pp->status, P_IDLE, memory_order_release);
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELAXED); /* sysmon reads it */
    pp->link = gort__sched.pidle;
    gort__sched.pidle = pp;
    atomic_fetch_add(&gort__sched.npidle, 1);
}

/* gort__pidleget takes an idle P or returns NULL. Caller holds
 * sched.lock. */
struct p *gort__pidleget(void)
{
    struct p *pp = gort__sched.pidle;
    if (pp) {
        gort__sched.pidle = pp->link;
        pp->link = NULL;
        atomic_fetch_sub(&gort__sched.npidle, 1);
    }
    return pp;
}

/* mput / mget: the idle M list. Caller holds sched.lock. */
static void mput(struct m *mp)
{
    mp->link = gort__sched.midle;
    gort__sched.midle = mp;
    gort__sched.nmidle++;
    gort__checkdead();
}

static struct m *mget(void)
{
    struct m *mp = gort__sched.midle;
    if (mp) {
        gort__sched.midle = mp->link;
        mp->link = NULL;
        gort__sched.nmidle--;
    }
    return mp;
}

void gort__acquirep(struct m *mp, struct p *pp)
{
    if (mp->p || __atomic_load_n(&pp->m, __ATOMIC_RELAXED))
        gort__throw("acquirep: already in go");
    mp->p = pp;
    __atomic_store_n(&pp->m, mp, __ATOMIC_RELEASE);
    atomic_store_explicit(&pp->status, P_RUNNING, memory_order_release);
}

struct p *gort__releasep(struct m *mp)
{
    struct p *pp = mp->p;
    if (!pp || pp->m != mp)
        gort__throw("releasep: invalid p state");
    mp->p = NULL;
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELEASE);
    return pp;
}

/* stopm parks mp until someone hands it a P (Go: stopm). Returns false if
 * it was woken because the runtime is stopping. */
static bool stopm(struct m *mp)
{
    if (mp->p)
        gort__throw("stopm holding p");
    if (mp->spinning)
        gort__throw("stopm spinning");
    gort__lock(&gort__sched.lock);
    if (atomic_load(&gort__sched.stopping)) {
        gort__unlock(&gort__sched.lock);
        return false;
    }
    mput(mp);
    gort__unlock(&gort__sched.lock);
    gort__note_sleep(&mp->park);
    gort__note_clear(&mp->park);
    struct p *pp = mp->nextp;
    if (!pp)
        return false; /* woken by gort__stop_wake_all */
    mp->nextp = NULL;
    gort__acquirep(mp, pp);
    return true;
}

/* gort__startm runs pp (or any idle P if NULL) on an idle or new M
 * (Go: startm). spinning: the caller already counted it in nmspinning. */
void gort__startm(struct p *pp, bool spinning)
{
    gort__lock(&gort__sched.lock);
    if (!pp) {
        pp = gort__pidleget();
        if (!pp) {
            gort__unlock(&gort__sched.lock);
            if (spinning)
                atomic_fetch_sub(&gort__sched.nmspinning, 1);
            return;
        }
    }
    struct m *nmp = mget();
    if (!nmp && !atomic_load(&gort__sched.stopping)) {
        /* Reserve the M's id under the lock so checkdead counts it. */
        gort__unlock(&gort__sched.lock);
        if (gort__newm(pp, spinning) != 0) {
            gort__lock(&gort__sched.lock);
            gort__pidleput(pp);
            gort__unlock(&gort__sched.lock);
            if (spinning)
                atomic_fetch_sub(&gort__sched.nmspinning, 1);
        }
        return;
    }
    if (!nmp) {
        gort__pidleput(pp);
        gort__unlock(&gort__sched.lock);
        if (spinning)
            atomic_fetch_sub(&gort__sched.nmspinning, 1);
        return;
    }
    gort__unlock(&gort__sched.lock);
    nmp->spinning = spinning;
    nmp->nextp = pp;
    gort__note_wakeup(&nmp->park);
    gort__sysmon_wake();
}

/* gort__wakep starts a spinning M if there is an idle P and nobody is
 * spinning already: at most one thread is woken per submission, and the
 * spinner that finds work wakes the next (Go: wakep). */
void gort__wakep(void)
{
    if (atomic_load_explicit(&gort__sched.npidle, memory_order_relaxed) == 0)
        return;
    int32_t zero = 0;
    if (atomic_load_explicit(&gort__sched.nmspinning, memory_order_relaxed) ||
        !atomic_compare_exchange_strong(&gort__sched.nmspinning, &zero, 1))
        return;
    gort__startm(NULL, true);
}

/* gort__handoffp finds a new owner for pp, whose M blocks in a syscall or
 * gives it up (Go: handoffp). */
void gort__handoffp(struct p *pp)
{
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

/* ---- Deadlock detection -------------------------------------------------- */

/* gort__checkdead reports a deadlock when no M is running (Go: checkdead).
 * Caller holds sched.lock. */
void gort__checkdead(void)
{
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
    if (s->runq.n > 0)
        gort__throw("checkdead: runnable g");
    int32_t procs = atomic_load(&s->gomaxprocs);
    for (int32_t i = 0; i < procs; i++)
        if (s->allp[i] && !gort__runq_empty(s->allp[i]))
            gort__throw("checkdead: runnable g");
    if (atomic_load(&s->ngoroutines) == 0)
        gort__throw("no goroutines (main called runtime.Goexit) - deadlock!");
    if (gort__timers_pending() || gort__netpoll_waiting())
        return; /* a sleeper will wake: nothing is stuck for good */
    gort__throw("all goroutines are asleep - deadlock!");
}

/* ---- Parking and readying ------------------------------------------------ */

void gort__park(bool (*unlockf)(struct g *, void *), void *arg,
                enum waitreason reason)
{
    struct g *gp = gort__getg();
    if (!gp)
        gort__throw("park outside a goroutine");
    struct m *mp = gp->m;
    mp->waitunlockf = unlockf;
    mp->waitlock = arg;
    gp->waitreason = reason;
    gort__switch_out(gp, AFTER_PARK);
}

static bool unlock_lock(struct g *gp, void *l)
{
    (void)gp;
    gort__unlock(l);
    return true;
}

void gort__park_unlock(struct lock *l, enum waitreason reason)
{
    gort__park(unlock_lock, l, reason);
}

void gort__ready(struct g *gp)
{
    gort__g_setstatus(gp, G_WAITING, G_RUNNABLE);
    struct m *mp = gort__getm();
    struct p *pp = mp ? mp->p : NULL;
    if (pp) {
        gort__runq_put(pp, gp, true);
    } else {
        gort__lock(&gort__sched.lock);
        gort__globrunq_put(gp);
        gort__unlock(&gort__sched.lock);
    }
    gort__wakep();
}

/* gort__ready_list readies q (Go: injectglist): one G per idle P goes to
 * the global queue with an M started for it; the rest go to our P. */
void gort__ready_list(struct gqueue *q)
{
    if (!q->head)
        return;
    for (struct g *gp = q->head; gp; gp = gp->schedlink)
        gort__g_setstatus(gp, G_WAITING, G_RUNNABLE);
    struct m *mp = gort__getm();
    struct p *pp = mp ? mp->p : NULL;
    int32_t npidle = atomic_load(&gort__sched.npidle);
    if (!pp) {
        int32_t n = q->n;
        gort__globrunq_putbatch(q);
        for (int32_t i = 0; i < n && i < npidle; i++)
            gort__startm(NULL, false);
        return;
    }
    struct gqueue global = {0};
    for (int32_t i = 0; i < npidle && q->head; i++)
        gort__gqueue_push(&global, gort__gqueue_pop(q));
    int32_t n = global.n;
    gort__globrunq_putbatch(&global);
    for (int32_t i = 0; i < n; i++)
        gort__startm(NULL, false);
    struct g *gp;
    while ((gp = gort__gqueue_pop(q)))
        gort__runq_put(pp, gp, false);
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
    if (gort__netpoll_inited()) {
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
            struct p *v = gort__sched.allp[(start + (uint32_t)k) % procs];
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
                P_STAT_INC(pp->nsteals, 1);
                P_STAT_INC(pp->nstolen, 1 + gort__runq_len(pp));
                *inherit = false;
                return gp;
            }
        }
    }
    return NULL;
}

static struct g *global_get(struct p *pp, int32_t max)
{
    if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) == 0)
        return NULL;
    gort__lock(&gort__sched.lock);
    struct g *gp = gort__globrunq_get(pp, max);
    gort__unlock(&gort__sched.lock);
    return gp;
}

static struct g *netpoll_get(bool block_ok, int64_t delay)
{
    (void)block_ok;
    if (!gort__netpoll_inited() || !gort__netpoll_waiting() ||
        atomic_load(&gort__sched.lastpoll) == 0)
        return NULL;
    struct gqueue q = {0};
    gort__netpoll(delay, &q);
    struct g *gp = gort__gqueue_pop(&q);
    if (!gp)
        return NULL;
    gort__ready_list(&q);
    gort__g_setstatus(gp, G_WAITING, G_RUNNABLE);
    return gp;
}

/* recheck_runqs looks at every P's queue after a spinning M stopped
 * spinning; returns an idle P if work exists somewhere. */
static struct p *recheck_runqs(void)
{
    int32_t procs = atomic_load(&gort__sched.gomaxprocs);
    for (int32_t i = 0; i < procs; i++) {
        struct p *v = gort__sched.allp[i];
        if (v && !gort__runq_empty(v)) {
            gort__lock(&gort__sched.lock);
            struct p *pp = gort__pidleget();
            gort__unlock(&gort__sched.lock);
            return pp;
        }
    }
    return NULL;
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
    if (pp->schedtick % GLOBAL_FAIR_TICK == 0 && (gp = global_get(pp, 1)))
        return gp;
    if ((gp = gort__runq_get(pp, inherit)))
        return gp;
    if ((gp = global_get(pp, 0)))
        return gp;
    if ((gp = netpoll_get(false, 0)))
        return gp;

    int32_t procs = atomic_load(&s->gomaxprocs);
    if (mp->spinning ||
        2 * atomic_load(&s->nmspinning) < procs - atomic_load(&s->npidle)) {
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
    if (pp->id < atomic_load(&s->gomaxprocs) &&
        (gp = gort__globrunq_get(pp, 0))) {
        gort__unlock(&s->lock);
        return gp;
    }
    gort__releasep(mp);
    gort__pidleput(pp);
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
            gort__ready_list(&q);
        } else {
            gort__acquirep(mp, pp);
            gort__sysmon_wake();
            if ((gp = gort__gqueue_pop(&q))) {
                gort__ready_list(&q);
                gort__g_setstatus(gp, G_WAITING, G_RUNNABLE);
                return gp;
            }
            goto top; /* timers expired: run them with this P */
        }
    }
    if (!stopm(mp))
        return NULL;
    goto top;
}

/* ---- Running goroutines -------------------------------------------------- */

/*
 * A switch always names what must happen to the goroutine leaving (struct
 * m.prev and m.after_switch), and whoever runs next on that M finishes it
 * on its own stack (gort__finish_switch): g0 after execute's switch, or a
 * goroutine resuming from gort__switch_out or starting in g_entry. So the
 * leaving G is published (to a wait queue, a run queue, the free list)
 * only once its registers are saved and nobody runs on its stack, whether
 * the M went through g0 or switched straight to the next G.
 */

static void after_switch(struct m *mp, struct g *gp, int action);
static void execute(struct m *mp, struct g *gp, bool inherit);

/* prepare_run makes gp the M's current goroutine, attaching its stack if
 * it never ran. */
static void prepare_run(struct m *mp, struct g *gp, bool inherit)
{
    struct p *pp = mp->p;
    if (!inherit) /* relaxed: sysmon only compares it with its last look */
        __atomic_store_n(&pp->schedtick, pp->schedtick + 1, __ATOMIC_RELAXED);
    if (gp->stk.hi == 0)
        gort__g_start(gp);
    gort__g_setstatus(gp, G_RUNNABLE, G_RUNNING);
    gp->m = mp;
    __atomic_store_n(&mp->curg, gp, __ATOMIC_RELEASE);
}

void gort__finish_switch(void)
{
    struct m *mp = gort__getm();
    struct g *prev = mp->prev;
    if (!prev)
        return;
    mp->prev = NULL;
    gort__stack_check_canary(prev);
    after_switch(mp, prev, mp->after_switch);
}

/* execute runs gp on mp until some goroutine switches back to g0. Runs
 * on g0. */
static void execute(struct m *mp, struct g *gp, bool inherit)
{
    prepare_run(mp, gp, inherit);
    fiber_asan_start(&mp->asan_fake_stack, (void *)gp->stk.lo,
                     gp->stk.hi - gp->stk.lo);
    fiber_tsan_switch(gp->tsan_fiber);
    gort__ctx_switch(&mp->g0ctx, &gp->ctx);
    fiber_asan_finish(mp->asan_fake_stack, NULL, NULL);
    __atomic_store_n(&mp->curg, NULL, __ATOMIC_RELEASE);
    gort__finish_switch();
}

/* direct_next picks the goroutine gp can switch straight to, skipping g0,
 * or NULL when the scheduler proper must decide: no local work, a fairness
 * tick for the global queue, due timers, a wired thread, or a stop. */
static struct g *direct_next(struct m *mp, struct g *gp, int action,
                             bool *inherit)
{
    struct p *pp = mp->p;
    if (action == AFTER_SYSCALL || action == AFTER_PREEMPT || !pp ||
        mp->lockedg || (pp->schedtick + 1) % GLOBAL_FAIR_TICK == 0 ||
        atomic_load_explicit(&gort__sched.stopping, memory_order_relaxed) ||
        pp->id >= atomic_load_explicit(&gort__sched.gomaxprocs,
                                       memory_order_relaxed))
        return NULL;
    int64_t when = atomic_load_explicit(&pp->timers.minwhen,
                                        memory_order_relaxed);
    if (when && when <= gort__nanotime())
        return NULL;
    struct g *next = gort__runq_get(pp, inherit);
    if (next && next->lockedm) {
        /* Only the scheduler hands a G to its wired M: give it back. */
        mp->nextg = next;
        mp->nextg_inherit = *inherit;
        return NULL;
    }
    (void)gp;
    return next;
}

/* gort__switch_out suspends gp, which must be the running goroutine, and
 * runs the next one; `action` says what happens to gp once it is off its
 * stack. Returns when gp runs again (maybe on another M). */
void gort__switch_out(struct g *gp, int action)
{
    int saved_errno = errno; /* errno belongs to the M, not the G */
    struct m *mp = gp->m;
    bool inherit = false;
    struct g *next = direct_next(mp, gp, action, &inherit);
    mp->prev = gp;
    mp->after_switch = action;
    void **fake = action == AFTER_EXIT ? NULL : &gp->asan_fake_stack;
    if (next) {
        prepare_run(mp, next, inherit);
        fiber_asan_start(fake, (void *)next->stk.lo,
                         next->stk.hi - next->stk.lo);
        fiber_tsan_switch(next->tsan_fiber);
        gort__ctx_switch(&gp->ctx, &next->ctx);
    } else {
        fiber_asan_start(fake, mp->asan_stack_bottom, mp->asan_stack_size);
        fiber_tsan_switch(mp->tsan_fiber);
        gort__ctx_switch(&gp->ctx, &mp->g0ctx);
    }
    fiber_asan_finish(gp->asan_fake_stack, NULL, NULL);
    gort__finish_switch();
    errno = saved_errno;
}

static void after_switch(struct m *mp, struct g *gp, int action)
{
    struct p *pp = mp->p;
    switch (action) {
    case AFTER_PARK: {
        gort__g_setstatus(gp, G_RUNNING, G_WAITING);
        gp->m = NULL;
        P_STAT_INC(pp->nparks, 1);
        bool (*f)(struct g *, void *) = mp->waitunlockf;
        void *arg = mp->waitlock;
        mp->waitunlockf = NULL;
        mp->waitlock = NULL;
        if (f && !f(gp, arg)) {
            gort__g_setstatus(gp, G_WAITING, G_RUNNABLE);
            if (mp->curg)
                gort__runq_put(pp, gp, true); /* finishing on a G */
            else
                execute(mp, gp, true);
        }
        break;
    }
    case AFTER_YIELD:
        gort__g_setstatus(gp, G_RUNNING, G_RUNNABLE);
        gp->m = NULL;
        gort__runq_put(pp, gp, false);
        break;
    case AFTER_PREEMPT:
        gort__g_setstatus(gp, G_RUNNING, G_RUNNABLE);
        gp->m = NULL;
        gort__lock(&gort__sched.lock);
        gort__globrunq_put(gp);
        gort__unlock(&gort__sched.lock);
        break;
    case AFTER_EXIT:
        gort__g_destroy(mp, gp);
        break;
    case AFTER_SYSCALL:
        gort__g_setstatus(gp, G_SYSCALL, G_RUNNABLE);
        gp->m = NULL;
        gort__lock(&gort__sched.lock);
        if ((pp = gort__pidleget())) {
            gort__unlock(&gort__sched.lock);
            gort__acquirep(mp, pp);
            execute(mp, gp, false);
            break;
        }
        gort__globrunq_put(gp);
        gort__unlock(&gort__sched.lock);
        break;
    default:
        gort__throw("bad after_switch");
    }
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
    gort__sched.nmidlelocked++;
    gort__checkdead();
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
    gort__sched.nmidlelocked--;
    gort__unlock(&gort__sched.lock);
    lm->nextp = pp;
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
            execute(mp, mp->lockedg, false);
            continue;
        }
        if (!mp->p) {
            if (!stopm(mp))
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
        execute(mp, gp, inherit);
    }
}
