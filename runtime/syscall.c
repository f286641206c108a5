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
 * Invariants: while G_SYSCALL the goroutine keeps its M and stack but owns
 * no P; the only transitions of a P_SYSCALL P are the owner's CAS back to
 * P_RUNNING and sysmon's CAS to P_IDLE.
 * Locking: sched.lock only in the slow path (via g0).
 * See also: runtime/sysmon.c (retake), runtime/sched.c (AFTER_SYSCALL).
 */
#include <errno.h>

#include "proc.h"

void gort_syscall_enter(void)
{
    struct g *gp = gort__getg();
    if (!gp)
        return;
    struct m *mp = gp->m;
    struct p *pp = mp->p;
    atomic_fetch_add_explicit(&gort__sched.nsyscalls, 1, memory_order_relaxed);
    mp->syscalltick = atomic_load_explicit(&pp->syscalltick,
                                           memory_order_relaxed);
    gort__g_setstatus(gp, G_RUNNING, G_SYSCALL);
    mp->oldp = pp;
    mp->p = NULL;
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELAXED);
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

void gort_syscall_exit(void)
{
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
        errno = saved;
        return;
    }
    /* Any idle P will do. */
    gort__lock(&gort__sched.lock);
    pp = gort__pidleget();
    gort__unlock(&gort__sched.lock);
    if (pp) {
        atomic_store(&pp->status, P_RUNNING);
        reacquire(mp, gp, pp);
        errno = saved;
        return;
    }
    /* None: queue ourselves on g0 and let this M sleep. */
    errno = saved; /* gort__switch_out carries it across */
    gort__switch_out(gp, AFTER_SYSCALL);
}
