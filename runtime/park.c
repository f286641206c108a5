/*
 * park.c: switching between goroutines: parking and readying (Go: gopark,
 * goready), the switch itself with what must happen to the goroutine that
 * leaves, and running a goroutine from g0 (Go: execute).
 *
 * Invariants:
 *  - A G is published (to a wait queue, a run queue, the free list) only
 *    by gort__finish_switch, on the stack of whoever runs next, so never
 *    while its own stack is still in use.
 *  - Every status change goes through gort__g_setstatus, which checks it.
 * Locking: none of its own; park callbacks release the caller's lock.
 * See also: runtime/sched.c, docs/HACKING.md (the park/ready contract).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiber.h"
#include "proc.h"
#include "stack.h"
#include "trace.h"

_Noreturn void gort__g_badstatus(struct g *gp, uint32_t from, uint32_t to,
                                 uint32_t old)
{
    char msg[96];
    snprintf(msg, sizeof msg, "bad g status transition %u -> %u (is %u, "
             "goroutine %llu)", from, to, old, (unsigned long long)gp->goid);
    gort__throw(msg);
}

/* ---- Parking and readying ------------------------------------------------ */

void gort__park(bool (*unlockf)(struct g *, void *), void *arg,
                enum waitreason reason)
{
    struct g *gp = gort__getg();
    if (!gp)
        gort__throw("park outside a goroutine");
    gort__park_g(gp, unlockf, arg, reason);
}

void gort__park_g(struct g *gp, bool (*unlockf)(struct g *, void *),
                  void *arg, enum waitreason reason)
{
    struct m *mp = gp->m;
    mp->waitunlockf = unlockf;
    mp->waitlock = arg;
    gp->waitreason = reason;
    atomic_store_explicit(&gp->waitsince, 0, memory_order_relaxed);
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
    if (TRACE_ON())
        gort__trace_ready(gp);
    struct m *mp = gort__getm();
    struct p *pp = mp ? mp->p : NULL;
    if (pp) {
        gort__runq_put(pp, gp, true);
        gort__wakep();
        return;
    }
    /* No P (a thread of the program sending on a channel, the signal
     * delivery thread): between the put and wakep's startm taking an idle
     * P, the last M going idle would see a runnable G and nobody running
     * and throw "checkdead: runnable g" (seen under TSan). Count this
     * thread as a running M meanwhile, as sysmon does around its
     * injection (Go: incidlelocked(-1) around injectglist), and check
     * for a deadlock the idle M skipped once done. */
    gort__lock(&gort__sched.lock);
    gort__globrunq_put(gp);
    gort__sched.nmidlelocked--;
    gort__unlock(&gort__sched.lock);
    gort__wakep();
    gort__lock(&gort__sched.lock);
    gort__sched.nmidlelocked++;
    gort__checkdead();
    gort__unlock(&gort__sched.lock);
}

/* gort__ready_list readies q (Go: injectglist): one G per idle P goes to
 * the global queue with an M started for it; the rest go to our P. */
void gort__ready_list(struct gqueue *q)
{
    if (!q->head)
        return;
    for (struct g *gp = q->head; gp; gp = gp->schedlink) {
        gort__g_setstatus(gp, G_WAITING, G_RUNNABLE);
        if (TRACE_ON())
            gort__trace_ready(gp);
    }
    struct m *mp = gort__getm();
    struct p *pp = mp ? mp->p : NULL;
    if (!pp) {
        int32_t n = q->n;
        gort__globrunq_putbatch(q);
        /* Count idle Ps only now (Go: startIdle): a P released after we
         * looked but before the batch was queued would have found the
         * global queue empty and gone idle, stranding the batch. */
        for (int32_t i = 0; i < n && atomic_load(&gort__sched.npidle) > 0;
             i++)
            gort__startm(NULL, false);
        return;
    }
    int32_t npidle = atomic_load(&gort__sched.npidle);
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

/* prepare_run makes gp the M's current goroutine, attaching its stack if
 * it never ran. */
static void prepare_run(struct m *mp, struct g *gp, bool inherit)
{
    struct p *pp = mp->p;
    if (!inherit) /* relaxed: sysmon only compares it with its last look */
        __atomic_store_n(&pp->schedtick, pp->schedtick + 1, __ATOMIC_RELAXED);
    if (gp->stk.hi == 0)
        gort__g_start(gp);
    /* A request to yield is spent once the G is off its CPU (Go clears
     * it in execute too): a flag left by a park that did not check it
     * would cut this run short for nothing. */
    if (atomic_load_explicit(&gp->preempt, memory_order_relaxed))
        atomic_store_explicit(&gp->preempt, false, memory_order_relaxed);
    gort__g_setstatus(gp, G_RUNNABLE, G_RUNNING);
    gort__lat_running(pp, gp);
    gp->m = mp;
    __atomic_store_n(&mp->curg, gp, __ATOMIC_RELEASE);
}

struct m *gort__finish_switch(void)
{
    struct m *mp = gort__getm();
    struct g *prev = mp->prev;
    if (!prev)
        return mp;
    mp->prev = NULL;
    if (prev->stk.guard == GUARD_CANARY)
        gort__stack_check_canary(prev);
    after_switch(mp, prev, mp->after_switch);
    return mp;
}

/* execute runs gp on mp until some goroutine switches back to g0. Runs
 * on g0. */
void gort__execute(struct m *mp, struct g *gp, bool inherit)
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
 * tick for the global queue, due timers, an old batch of system calls, a
 * wired thread, or a stop. */
static struct g *direct_next(struct m *mp, struct g *gp, int action,
                             bool *inherit)
{
    struct p *pp = mp->p;
    if (action == AFTER_SYSCALL || !pp ||
        mp->lockedg || GLOBAL_FAIR_DUE(pp) ||
        atomic_load_explicit(&gort__sched.stopping, memory_order_relaxed) ||
        pp->id >= atomic_load_explicit(&gort__sched.gomaxprocs,
                                       memory_order_relaxed))
        return NULL;
    int64_t when = atomic_load_explicit(&pp->timers.minwhen,
                                        memory_order_relaxed);
    if (when && when <= (mp->now_hint ? mp->now_hint : gort__nanotime()))
        return NULL;
    if (SYSBATCH_AGED(pp))
        return NULL; /* findrunnable flushes the batch */
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
    struct m *mp = gp->m;
    /* Whoever resumes here, or runs next on this M, is inside the
     * runtime: a public call that parks without RT_ENTRY would let sysmon
     * take the P of a thread running the scheduler (runtime.h). */
    if (__builtin_expect(!atomic_load_explicit(&mp->rt_busy,
                                               memory_order_relaxed), 0))
        gort__throw("switch outside the runtime (a call without RT_ENTRY)");
    /* errno belongs to the thread, not the goroutine: carry it across. The
     * M caches its thread's &errno, which spares two calls per switch. */
    int saved_errno = *mp->errnop;
    bool inherit = false;
    struct g *next = direct_next(mp, gp, action, &inherit);
    if (TRACE_ON()) /* gp's end, and next's start when direct */
        gort__trace_switch(gp, action, next);
    mp->now_hint = 0;
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
    mp = gort__finish_switch(); /* maybe another M than before */
    *mp->errnop = saved_errno;
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
                gort__execute(mp, gp, true);
        }
        break;
    }
    case AFTER_YIELD:
        gort__g_setstatus(gp, G_RUNNING, G_RUNNABLE);
        gp->m = NULL;
        gort__runq_put(pp, gp, false);
        break;
    case AFTER_PREEMPT:
        /* To the global queue, as Go's gopreempt_m does: every P's
         * fairness pick takes its head every 61 schedules, and an idle P
         * at once (docs/scheduler.md, "Bounded waiting"). Not the local
         * tail: a preempted goroutine there counts as older work waiting,
         * and cutting the depth-first streak for it makes spawn trees run
         * breadth-first (fib and skynet went from 4 MB to 30-55 MB). */
        gort__g_setstatus(gp, G_RUNNING, G_RUNNABLE);
        gp->m = NULL;
        if (gort__pol.preempt == POL_PREEMPT_LOCAL) { /* GORT_SCHED */
            gort__runq_put(pp, gp, false);
            break;
        }
        gort__lock(&gort__sched.lock);
        gort__globrunq_put(gp);
        gort__unlock(&gort__sched.lock);
        gort__wakep();
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
            gort__execute(mp, gp, false);
            break;
        }
        gort__globrunq_put(gp);
        gort__unlock(&gort__sched.lock);
        break;
    default:
        gort__throw("bad after_switch");
    }
}
