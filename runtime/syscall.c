/*
 * syscall.c: blocking system calls without blocking the scheduler (Go:
 * entersyscall, exitsyscall, exitsyscallfast, exitsyscall0).
 *
 * gort_syscall_enter detaches the P from the M with a few stores and marks
 * it P_SYSCALL; no futex, no thread switch. If the call is quick,
 * gort_syscall_exit takes the P back with one CAS. If it blocks, sysmon
 * sees the P still in P_SYSCALL after a tick (>= 20us) and hands it to
 * another M (retake + handoffp), so the other goroutines keep running.
 *
 * A thread that blocked outside them (an unwrapped call) and lost its P
 * to sysmon's stuck-thread hand-off comes back through the same slow
 * path, at its next runtime call (gort__rt_revoked).
 *
 * Invariants: while G_SYSCALL the goroutine keeps its M and stack but owns
 * no P; the only transitions of a P_SYSCALL P are the owner's CAS back to
 * P_RUNNING and sysmon's CAS to P_IDLE. m.rt_revoked is decided (set and
 * kept, or withdrawn) by sysmon under sched.lock, and read and cleared by
 * its thread under sched.lock.
 * Locking: sched.lock only in the slow paths (via g0 when parking).
 * See also: runtime/sysmon.c (retake, stuck_take), runtime/park.c
 * (AFTER_SYSCALL), runtime/revocable.h.
 */
#include <errno.h>

#include "proc.h"
#include "trace.h"

void gort_syscall_enter(void)
{
    RT_ENTRY();
    struct g *gp = gort__getg();
    if (!gp)
        return;
    TRACE(TEV_SYSCALL_ENTER, 0, 0, 0);
    struct m *mp = gp->m;
    struct p *pp = mp->p;
    atomic_fetch_add_explicit(&gort__sched.nsyscalls, 1, memory_order_relaxed);
    mp->syscalltick = atomic_load_explicit(&pp->syscalltick,
                                           memory_order_relaxed);
    gort__g_setstatus(gp, G_RUNNING, G_SYSCALL);
    mp->oldp = pp;
    mp->p = NULL;
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&pp->syscall_g, gp, __ATOMIC_RELAXED);
    /* store-release; pairs with sysmon's CAS in retake. */
    atomic_store_explicit(&pp->status, P_SYSCALL, memory_order_release);
    atomic_fetch_add_explicit(&gort__sched.nsyscall, 1, memory_order_relaxed);
    gort__sysmon_wake();
}

/* reacquire takes pp for the returning goroutine. */
static void reacquire(struct m *mp, struct g *gp, struct p *pp)
{
    mp->p = pp;
    __atomic_store_n(&pp->m, mp, __ATOMIC_RELEASE);
    atomic_fetch_add_explicit(&pp->syscalltick, 1, memory_order_relaxed);
    gort__g_setstatus(gp, G_SYSCALL, G_RUNNING);
}

/* exit_slow finds gp, whose P is gone, another one: any idle P, else it
 * queues gp globally and parks this M (Go: exitsyscall's slow path and
 * exitsyscall0). gp is G_SYSCALL; returns G_RUNNING on an M with a P. */
static void exit_slow(struct m *mp, struct g *gp)
{
    gort__lock(&gort__sched.lock);
    struct p *pp = gort__pidleget();
    gort__unlock(&gort__sched.lock);
    if (pp) {
        atomic_store(&pp->status, P_RUNNING);
        reacquire(mp, gp, pp);
        TRACE(TEV_SYSCALL_EXIT, 0, 0, 0);
        return;
    }
    /* None: queue ourselves on g0 and let this M sleep. */
    TRACE(TEV_SYSCALL_EXIT, 0, 0, 0);
    gort__switch_out(gp, AFTER_SYSCALL);
}

void gort_syscall_exit(void)
{
    RT_ENTRY();
    struct g *gp = gort__getg();
    if (!gp)
        return;
    int saved = errno; /* the caller may read errno after the call */
    struct m *mp = gp->m;
    struct p *pp = mp->oldp;
    mp->oldp = NULL;
    atomic_fetch_sub_explicit(&gort__sched.nsyscall, 1, memory_order_relaxed);
    uint32_t want = P_SYSCALL;
    /* Fast path: nobody took our P (CAS-acquire; pairs with retake). */
    if (pp->id < atomic_load(&gort__sched.gomaxprocs) &&
        atomic_compare_exchange_strong_explicit(&pp->status, &want, P_RUNNING,
                                                memory_order_acquire,
                                                memory_order_relaxed)) {
        reacquire(mp, gp, pp);
        TRACE(TEV_SYSCALL_EXIT, 1, 0, 0);
        /* A goroutine that keeps its P across short calls keeps its
         * slice too: when sysmon asks (the slice ran out, or a timer on
         * this P is due), it yields here, as Go's exitsyscall arranges,
         * or the P's timers and queue wait for as long as it loops. */
        gort__maybe_preempt(gp);
        errno = saved;
        return;
    }
    exit_slow(mp, gp);
    errno = saved;
}

/*
 * gort__rt_revoked is gort__rt_enter's slow path: the thread, back from
 * user code, saw its rt_revoked word set. sysmon sets it under sched.lock
 * and, before it drops the lock, either withdraws it (we were inside the
 * runtime after all) or takes our P; so under the lock the word tells
 * which. If the P is gone, it left us while our goroutine ran user code
 * as G_RUNNING with mp->p still naming it: sysmon writes only the P's
 * side, and we fix ours here, then come back exactly as from a system
 * call whose P was retaken. Runs on a goroutine (g0 is always inside the
 * runtime), at the outermost runtime call, holding no runtime lock.
 */
void gort__rt_revoked(struct m *mp)
{
    int saved = errno; /* the user's, from the call that blocked */
    gort__lock(&gort__sched.lock);
    bool taken = atomic_load_explicit(&mp->rt_revoked,
                                      memory_order_relaxed) != 0;
    if (taken)
        atomic_store_explicit(&mp->rt_revoked, 0, memory_order_relaxed);
    gort__unlock(&gort__sched.lock);
    if (taken) {
        struct g *gp = mp->curg;
        if (!gp || !mp->p || __atomic_load_n(&mp->p->m, __ATOMIC_RELAXED) ==
                                 mp)
            gort__throw("stuck hand-off: P taken from a thread that "
                        "still holds it");
        mp->p = NULL;
        gort__g_setstatus(gp, G_RUNNING, G_SYSCALL);
        exit_slow(mp, gp);
    }
    errno = saved;
}

/*
 * gort__hook_may_wrap tells libgort-hook (hook/hook.c) whether a libc call
 * it intercepted may enter the hand-off or park: only on a goroutine
 * running user code. Not on g0 or a thread of the program's own, not from
 * inside the runtime (rt_busy: the runtime's own reads, writes and sleeps
 * go straight to libc), not under a runtime lock, and not between
 * gort_syscall_enter and exit (G_SYSCALL: the caller wrapped the call
 * already). Exported for the hook library only; declared in <gort.h>.
 */
bool gort__hook_may_wrap(void)
{
    struct g *gp = gort__getg();
    if (!gp)
        return false;
    struct m *mp = gp->m;
    return !atomic_load_explicit(&mp->rt_busy, memory_order_relaxed) &&
           mp->locks == 0 &&
           atomic_load_explicit(&gp->status, memory_order_relaxed) ==
               G_RUNNING;
}
