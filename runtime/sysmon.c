/*
 * sysmon.c: the system monitor, a thread without a P (Go: sysmon, retake,
 * preemptone), and the schedtrace printer.
 *
 * Each round it sleeps 20us, doubling after 50 idle rounds up to 10ms,
 * then: retakes Ps stuck in system calls (handoffp), takes the P of a
 * goroutine blocked in the kernel for a whole slice outside the runtime
 * (an unwrapped call: stuck_take), flags goroutines that
 * ran a whole 10ms slice (they yield at their next runtime call), wakes an
 * idle P for work queued behind a goroutine that keeps running, polls the
 * network if nobody did for 10ms, returns cold stack pages to the kernel,
 * and prints schedtrace lines when GORT_DEBUG asks. With every P idle and
 * nothing in a syscall it sleeps until woken (deep sleep), so an idle
 * program costs no wake-ups.
 *
 * Invariants: sysmon never holds a P and never runs goroutine code; it
 * reads other Ms' fields only through atomics, and G descriptors are
 * type-stable, so a stale curg pointer at worst flags the wrong G. Of a
 * running P it writes only the P's side (status, m) and only after the
 * revocable-section handshake proved its thread outside the runtime;
 * the thread fixes its own M and G (syscall.c, gort__rt_revoked).
 * Locking: sched.lock (handoffp, stuck_take), the stack pool lock
 * (scavenging).
 * See also: runtime/syscall.c, runtime/debug.c.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "stack.h"

enum { SYSMON_MIN_US = 20, SYSMON_MAX_US = 10000, IDLE_ROUNDS = 50 };
#define NETPOLL_STALE_NS 10000000
#define SCAVENGE_NS 1000000000 /* stacks idle this long give pages back */
#define WAITSTAMP_NS 10000000000LL /* stamp waiting Gs' start this often */

static struct {
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    _Atomic uint32_t wait;      /* futex: bumped by gort__sysmon_wake */
    _Atomic bool deep;          /* sleeping until woken */
    _Atomic int64_t until;      /* a light sleep's end (0: awake or deep) */
} sm;

void gort__sysmon_wake(void)
{
    if (atomic_load_explicit(&sm.deep, memory_order_relaxed)) {
        atomic_fetch_add(&sm.wait, 1);
        gort__futex_wake(&sm.wait, 1);
    }
}

/* running_g is the goroutine running on pp, or in a system call holding
 * it, or NULL (a stale answer at worst: G descriptors are type-stable). */
static struct g *running_g(struct p *pp)
{
    if (atomic_load(&pp->status) == P_SYSCALL)
        return __atomic_load_n(&pp->syscall_g, __ATOMIC_RELAXED);
    struct m *mp = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    return mp ? __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE) : NULL;
}

/* preemptone flags the goroutine running on pp (Go: preemptone), and
 * raises the hint that the public headers' inline fast paths load; and
 * signals it as well if it ran the whole slice and asked for that
 * (asyncpreempt.c): a loop without a gort call never sees the flag. */
static void preemptone(struct p *pp, struct sysmontick *pd, int64_t now)
{
    struct g *gp = running_g(pp);
    if (!gp)
        return;
    atomic_store_explicit(&gp->preempt, true, memory_order_relaxed);
    __atomic_store_n(&gort__preempt_hint, 1, __ATOMIC_RELAXED);
    if (gp == pd->slice_g && pd->slice_gwhen + gort__pol.slice_ns <= now)
        gort__asyncpreempt_signal(pp, gp);
}

/* flagged says whether the goroutine running on pp still has to yield. */
static bool flagged(struct p *pp)
{
    struct g *gp = running_g(pp);
    return gp && atomic_load_explicit(&gp->preempt, memory_order_relaxed);
}

/* stranded_check wakes an idle P when pp's queue waits behind a goroutine
 * that has kept running since our last look while Ps idle and nobody looks
 * for work: the repair for a wake-up lost to the unfenced runnext store
 * (runq.c, runnext_swap). A chain of hand-offs through runnext keeps the
 * schedtick too, so the goroutine itself must be the same. */
static void stranded_check(struct p *pp, struct sysmontick *pd, int64_t now)
{
    /* slice_g was seen running at the last look too (retake). */
    bool same = pd->slice_g && pd->slice_gwhen != now;
    if (same && atomic_load(&gort__sched.npidle) > 0 &&
        atomic_load(&gort__sched.nmspinning) == 0 && !gort__runq_empty(pp))
        gort__wakep();
}

/* ---- The stuck-thread hand-off -------------------------------------------
 *
 * A goroutine that blocks its thread in the kernel outside GORT_SYSCALL (a
 * plain sleep, read, or library call) would hold its P, and every
 * goroutine queued there, for the whole call. Go retakes such Ps because
 * its system calls all go through entersyscall; C code makes them behind
 * our back. So when a P has run the same goroutine for a whole slice, its
 * thread is asleep in the kernel, and that thread is outside the runtime,
 * sysmon takes the P and hands it on, as retake does for P_SYSCALL. The
 * thread finds out at its next runtime call (runtime.h, gort__rt_enter).
 * docs/scheduler.md has the protocol and its proof.
 */


/* stuck_warn prints the GORT_DEBUG=stuckwarn line, once per goroutine.
 * Caller holds sched.lock (the goroutine cannot exit meanwhile: its
 * thread's next runtime call waits for the lock). */
static void stuck_warn(struct g *gp)
{
    ASSERT_HELD(&gort__sched.lock);
    if (!gort__debug.stuckwarn || !gp ||
        atomic_exchange_explicit(&gp->stuck_warned, true,
                                 memory_order_relaxed))
        return;
    fprintf(stderr, "gort: goroutine %llu blocked in the kernel for over "
            "%dms without GORT_SYSCALL; its P was handed off (wrap the "
            "call in GORT_SYSCALL)\n", (unsigned long long)gp->goid,
            FORCE_PREEMPT_NS / 1000000);
}

/*
 * stuck_take takes pp from mp, whose goroutine gp has held it for a slice
 * while mp's thread sleeps in the kernel, and hands it to another M.
 * Returns true if it did. The revocable-section handshake (revocable.h)
 * on mp's rt_busy and rt_revoked words decides, all under sched.lock:
 * set rt_revoked, barrier, read rt_busy. Busy: the thread is inside the
 * runtime (or just entering it), where it may use its P: withdraw. Not
 * busy: it is in user code and its next runtime call will see the revoke
 * and wait for sched.lock, so until we drop the lock it cannot touch, take
 * or give up any P; the P is still mp's if pp->m says so, and we detach
 * it (P_IDLE, no M) before unlocking. Leaving rt_revoked set is how the
 * thread learns that the P is gone (gort__rt_revoked).
 */
/* thread_blocked: the kernel has thread tid asleep (S, interruptible, or
 * D, uninterruptible), not running or runnable. One read of its stat
 * file, for Ps that did not reschedule for a slice only. */
static bool thread_blocked(int32_t tid)
{
    char st = gort__thread_state(tid);
    return st == 'S' || st == 'D';
}

static bool stuck_take(struct p *pp, struct m *mp, struct g *gp)
{
    struct sched *s = &gort__sched;
    gort__lock(&s->lock);
    bool took = false;
    if (!atomic_load(&s->stopping) &&
        gort__rv_revoke(&mp->rt_revoked, &mp->rt_busy)) {
        /* load-acquire; pairs with acquirep's store-release. */
        if (atomic_load(&pp->status) == P_RUNNING &&
            __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE) == mp &&
            __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE) == gp) {
            __atomic_store_n(&pp->m, NULL, __ATOMIC_RELEASE);
            atomic_store(&pp->status, P_IDLE);
            took = true;
            stuck_warn(gp);
        }
    }
    if (!took)
        gort__rv_unrevoke(&mp->rt_revoked);
    gort__unlock(&s->lock);
    if (!took)
        return false;
    atomic_fetch_add_explicit(&s->nstuckhandoffs, 1, memory_order_relaxed);
    /* The stuck M still counts as running, as an M in a system call
     * does, so checkdead sees no window with nobody running. */
    gort__handoffp(pp);
    return true;
}

/* stuck_check runs for a P that has not rescheduled for a whole slice:
 * if the same goroutine ran all along and its thread is asleep in the
 * kernel outside the runtime, take the P (stuck_take). A thread running
 * user code is left to preemption. */
static bool stuck_check(struct p *pp, struct sysmontick *pd, int64_t now)
{
    if (!gort__debug.stuckhandoff)
        return false;
    struct m *mp = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    if (!mp)
        return false;
    struct g *gp = __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE);
    /* Cheap filters first: the thread inside the runtime (or on g0, or a
     * goroutine that has not run a whole slice) is never robbed. */
    if (!gp || gp != pd->slice_g || pd->slice_gwhen + FORCE_PREEMPT_NS > now ||
        atomic_load_explicit(&mp->rt_busy, memory_order_relaxed) ||
        !thread_blocked(mp->tid))
        return false;
    return stuck_take(pp, mp, gp);
}

/*
 * Timers due on a P whose goroutine keeps running: a P checks its timers
 * whenever it switches, so one still pending past its due time means the
 * goroutine running there has not switched since, and a sleeper due there
 * would wait for the end of the slice (10-20 ms; Go waits so too). sysmon
 * asks that goroutine to yield at its next runtime call, and the P's next
 * pick fires the timer (a goroutine that asked for asynchronous preemption
 * is signalled too). busy_timer_next is the earliest timer of a running
 * P not due yet: sysmon sleeps no longer than until then, but at least
 * TIMER_LOOK_NS, so Ps that keep firing timers themselves (they switch
 * all the time) do not wake sysmon more than a thousand times a second.
 */
#define TIMER_LOOK_NS 1000000
static int64_t busy_timer_next;

static void timer_due_check(struct p *pp, struct g *cur, int64_t now)
{
    int64_t due = atomic_load_explicit(&pp->timers.minwhen,
                                       memory_order_relaxed);
    if (!due || !cur)
        return;
    if (due > now) {
        if (!busy_timer_next || due < busy_timer_next)
            busy_timer_next = due;
        return;
    }
    if (!atomic_load_explicit(&cur->preempt, memory_order_relaxed)) {
        atomic_store_explicit(&cur->preempt, true, memory_order_relaxed);
        __atomic_store_n(&gort__preempt_hint, 1, __ATOMIC_RELAXED);
        /* A loop without gort calls never sees the flag: signal it where
         * it asked for that (asyncpreempt.c checks which). */
        gort__asyncpreempt_signal(pp, cur);
    }
}

void gort__sysmon_timer_added(int64_t when)
{
    int64_t until = atomic_load_explicit(&sm.until, memory_order_relaxed);
    if (until && until - when > TIMER_LOOK_NS) {
        atomic_fetch_add(&sm.wait, 1);
        gort__futex_wake(&sm.wait, 1);
    }
}

/* retake handles each P's time slice and syscall (Go: retake). Returns
 * how many Ps were taken from syscalls or stuck threads. */
static int retake(int64_t now)
{
    int n = 0;
    bool asked = false; /* some running goroutine still has to yield */
    busy_timer_next = 0;
    int32_t procs = atomic_load(&gort__sched.gomaxprocs);
    for (int32_t i = 0; i < procs; i++) {
        struct p *pp = gort__sched.allp[i];
        if (!pp)
            continue;
        struct sysmontick *pd = &pp->sysmontick;
        uint32_t st = atomic_load(&pp->status);
        /* A P in a system call is still its goroutine's: its slice and
         * due timers are checked as for a running one (Go: _Psyscall in
         * retake), the flag seen when the call returns; the signal and
         * the stuck check need a running thread and pass it by. */
        if (st == P_RUNNING || st == P_SYSCALL) {
            uint32_t t = __atomic_load_n(&pp->schedtick, __ATOMIC_RELAXED);
            /* Since when the same goroutine runs there: a slice passed on
             * through runnext keeps its schedtick (asyncpreempt.c, and
             * stuck_check below, act only on one goroutine's whole
             * slice). */
            struct g *cur = running_g(pp);
            if (cur != pd->slice_g || pd->schedtick != t) {
                pd->slice_g = cur;
                pd->slice_gwhen = now;
            }
            if (pd->schedtick != t) {
                pd->schedtick = t;
                pd->schedwhen = now;
                pd->flagged_g = NULL;
            } else {
                stranded_check(pp, pd, now);
                /* The slice expired. It stays expired until the P picks
                 * afresh, as in Go, so a goroutine that inherits it
                 * through runnext after the flagged one yielded is
                 * flagged at the next look; the same goroutine, and the
                 * stuck check, once per FORCE_PREEMPT_NS. */
                if (pd->schedwhen + gort__pol.slice_ns <= now &&
                    (cur != pd->flagged_g ||
                     pd->flagwhen + gort__pol.slice_ns <= now)) {
                    if (stuck_check(pp, pd, now)) {
                        pd->schedwhen = now;
                        pd->slice_g = NULL;
                        pd->flagged_g = NULL;
                        n++;
                        continue;
                    }
                    preemptone(pp, pd, now);
                    pd->flagged_g = cur;
                    pd->flagwhen = now;
                }
            }
            timer_due_check(pp, cur, now);
            asked = asked || flagged(pp);
        }
        if (st != P_SYSCALL)
            continue;
        uint32_t t = atomic_load(&pp->syscalltick);
        if (pd->syscalltick != t) {
            pd->syscalltick = t;
            pd->syscallwhen = now;
            continue;
        }
        /* Nobody needs the P yet: leave it for a cheap return. */
        if (gort__runq_empty(pp) &&
            atomic_load(&gort__sched.nmspinning) +
                    atomic_load(&gort__sched.npidle) > 0 &&
            pd->syscallwhen + FORCE_PREEMPT_NS > now)
            continue;
        uint32_t want = P_SYSCALL;
        /* CAS-acq_rel; pairs with gort_syscall_exit's CAS. */
        if (atomic_compare_exchange_strong(&pp->status, &want, P_IDLE)) {
            atomic_fetch_add(&pp->syscalltick, 1);
            atomic_fetch_add_explicit(&gort__sched.nhandoffs, 1,
                                      memory_order_relaxed);
            /* The M in the syscall still counts as running, so checkdead
             * sees no window with nobody running (Go's incidlelocked dance
             * is not needed). */
            gort__handoffp(pp);
            n++;
        }
    }
    /* Whoever was asked has yielded: the fast paths stop calling out. */
    if (!asked && __atomic_load_n(&gort__preempt_hint, __ATOMIC_RELAXED))
        __atomic_store_n(&gort__preempt_hint, 0, __ATOMIC_RELAXED);
    return n;
}

static void poll_stale(int64_t now)
{
    int64_t last = atomic_load(&gort__sched.lastpoll);
    if (!gort__netpoll_inited() || last == 0 ||
        last + NETPOLL_STALE_NS > now)
        return;
    if (!atomic_compare_exchange_strong(&gort__sched.lastpoll, &last, now))
        return;
    /* While the goroutines the poll wakes are in q they are neither
     * waiting (the poller and the batcher dropped them from their counts)
     * nor runnable, and sysmon is not an M: count it as a running one
     * meanwhile, or an M going idle could see "all goroutines are asleep"
     * (Go: sysmon's incidlelocked(-1) around injectglist). */
    gort__lock(&gort__sched.lock);
    gort__sched.nmidlelocked--;
    gort__unlock(&gort__sched.lock);
    struct gqueue q = {0};
    gort__netpoll(0, &q);
    gort__ready_list(&q);
    gort__lock(&gort__sched.lock);
    gort__sched.nmidlelocked++;
    gort__checkdead();
    gort__unlock(&gort__sched.lock);
}

static bool all_idle(void)
{
    return atomic_load(&gort__sched.npidle) ==
               atomic_load(&gort__sched.gomaxprocs) &&
           atomic_load(&gort__sched.nsyscall) == 0 &&
           gort__debug.schedtrace_ms == 0;
}

static void *sysmon(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    uint32_t idle = 0, delay = SYSMON_MIN_US;
    int64_t last_trace = gort__nanotime(), last_scavenge = last_trace;
    int64_t last_stamp = last_trace;
    while (!atomic_load(&sm.stop)) {
        delay = idle == 0 ? SYSMON_MIN_US
                : idle > IDLE_ROUNDS ? delay * 2 : delay;
        if (delay > SYSMON_MAX_US)
            delay = SYSMON_MAX_US;
        /* A shorter slice (GORT_SCHED) is looked at twice per slice. */
        if (gort__pol.slice_ns < FORCE_PREEMPT_NS &&
            delay > gort__pol.slice_ns / 2000)
            delay = (uint32_t)(gort__pol.slice_ns / 2000);
        uint32_t w = atomic_load(&sm.wait);
        if (all_idle()) {
            atomic_store(&sm.deep, true);
            if (all_idle() && !atomic_load(&sm.stop)) {
                int64_t next = gort__timers_next();
                int64_t ns = next ? next - gort__nanotime() : 1000000000;
                if (ns > WAITSTAMP_NS) /* stamp waits on time (below) */
                    ns = WAITSTAMP_NS;
                gort__futex_wait(&sm.wait, w, ns > 0 ? ns : 0);
            }
            atomic_store(&sm.deep, false);
            idle = 0;
        } else {
            int64_t ns = (int64_t)delay * 1000;
            int64_t t = gort__nanotime();
            if (busy_timer_next) { /* see timer_due_check */
                int64_t until = busy_timer_next - t;
                if (until < TIMER_LOOK_NS)
                    until = TIMER_LOOK_NS;
                if (until < ns)
                    ns = until;
            }
            atomic_store(&sm.until, t + ns);
            gort__futex_wait(&sm.wait, w, ns);
            atomic_store(&sm.until, 0);
        }
        int64_t now = gort__nanotime();
        poll_stale(now);
        if (retake(now))
            idle = 0;
        else
            idle++;
        if (now - last_scavenge >= SCAVENGE_NS) {
            gort__stack_scavenge();
            last_scavenge = now;
        }
        if (now - last_stamp >= WAITSTAMP_NS) {
            /* Tracebacks' ", N minutes" (Go stamps at each GC). */
            gort__stamp_waiting(now);
            last_stamp = now;
        }
        if (gort__debug.schedtrace_ms &&
            now - last_trace >= gort__debug.schedtrace_ms * 1000000) {
            gort__schedtrace(gort__debug.scheddetail, false);
            last_trace = now;
        }
    }
    return NULL;
}

int gort__sysmon_start(void)
{
    atomic_store(&sm.stop, false);
    int err = pthread_create(&sm.thread, NULL, sysmon, NULL);
    if (err)
        return -err;
    sm.started = true;
    return 0;
}

void gort__sysmon_stop(void)
{
    if (!sm.started)
        return;
    atomic_store(&sm.stop, true);
    atomic_fetch_add(&sm.wait, 1);
    gort__futex_wake(&sm.wait, 1);
    pthread_join(sm.thread, NULL);
    sm.started = false;
}
