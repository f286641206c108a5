/*
 * proc.c: the runtime's lifecycle: gort_run starts the Ps, m0 and sysmon,
 * runs the main goroutine, and when it returns winds every M down and
 * frees what the run allocated (Go: runtime.main, exit).
 *
 * Invariants: at most one gort_run at a time (gort__running); after a
 * clean stop nothing of the run is left, so gort_run can run again.
 * Locking: sched.lock while waking Ms to stop.
 * See also: runtime/sched.c, docs/scheduler.md ("Shutdown").
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "determ.h"
#include "fiber.h"
#include "proc.h"
#include "stack.h"
#include "trace.h"
#include "traceback.h"

_Atomic bool gort__running;

static struct {
    int (*main_fn)(void *);
    void *main_arg;
    bool poisoned;               /* a previous run left Ms in syscalls */
} proc;

/* ---- gort_run -------------------------------------------------------------- */

static void main_goroutine(void *arg)
{
    (void)arg;
    int code = proc.main_fn(proc.main_arg);
    gort__sched.exit_code = code;
    atomic_store(&gort__sched.stopping, true);
    gort__stop_wake_all();
}

/* gort__stop_wake_all wakes every sleeping M so it sees `stopping`. */
void gort__stop_wake_all(void)
{
    gort__lock(&gort__sched.lock);
    struct m *mp;
    while ((mp = gort__sched.midle)) {
        gort__sched.midle = mp->link;
        gort__sched.nmidle--;
        mp->nextp = NULL;
        gort__note_wakeup(&mp->park);
    }
    /* Wired Ms asleep waiting for their goroutine; one that is being
     * handed it right now (idlelocked already cleared) wakes anyway. */
    for (mp = gort__sched.allm; mp; mp = mp->alllink)
        if (mp->idlelocked) {
            mp->idlelocked = false;
            gort__sched.nmidlelocked--;
            mp->nextp = NULL;
            gort__note_wakeup(&mp->park);
        }
    gort__unlock(&gort__sched.lock);
    gort__sched_poll_break();
    gort__sysmon_wake();
}

static int runtime_init(int procs)
{
    struct sched *s = &gort__sched;
    memset(s, 0, sizeof *s);
    gort__lock_init(&s->lock, LOCKRANK_SCHED);
    s->start_ns = gort__nanotime();
    atomic_store(&s->lastpoll, s->start_ns);
    int err = gort__stack_init();
    if (err)
        return err;
    if ((err = gort__debug_parse()) || (err = gort__policy_parse()) ||
        (err = gort__signal_init()))
        return err;
    gort__traceback_init();
    if (gort__debug.deterministic) /* N virtual Ps on one real one */
        procs = gort__determ_start(procs, gort__debug.determ_seed);
    for (int i = 0; i < procs; i++)
        if (!(s->allp[i] = gort__p_alloc(i)))
            return -ENOMEM;
    atomic_store(&s->gomaxprocs, procs);
    /* Alone so far, but the rules of these calls hold here too. */
    gort__lock(&s->lock);
    for (int i = procs - 1; i > 0; i--)
        gort__pidleput(s->allp[i]);
    gort__unlock(&s->lock);
    gort__solo_init();
    gort__lock(&s->lock);
    gort__solo_update();
    gort__unlock(&s->lock);
    return 0;
}

static int env_procs(int *procs)
{
    const char *env = getenv("GORT_MAXPROCS");
    int asked = gort__maxprocs_take();
    *procs = asked ? asked : gort__default_procs();
    if (asked || !env || !*env)
        return 0;
    if (gort__parse_maxprocs(env, procs) != 0) {
        fprintf(stderr, "gort: GORT_MAXPROCS=%s: want a positive integer\n",
                env);
        return -EINVAL;
    }
    return 0;
}

int gort__parse_maxprocs(const char *s, int *procs)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*s == '\0' || *end || n < 1)
        return -EINVAL;
    *procs = n > GORT_MAXPROCS_LIMIT ? GORT_MAXPROCS_LIMIT : (int)n;
    return 0;
}

/* wait_ms waits (bounded) for every other M to exit; Ms stuck in a
 * system call are abandoned. Returns false if any M is still alive. */
static bool wait_ms(void)
{
    int64_t deadline = gort__nanotime() + 2000000000;
    for (;;) {
        int32_t live = atomic_load(&gort__mlive);
        if (live == 0)
            return true;
        if (gort__nanotime() > deadline)
            return false;
        gort__stop_wake_all();
        for (struct m *mp = gort__sched.allm; mp; mp = mp->alllink) {
            struct g *gp = __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE);
            if (gp) {
                atomic_store(&gp->preempt, true);
                __atomic_store_n(&gort__preempt_hint, 1, __ATOMIC_RELAXED);
            }
        }
        gort__futex_wait((_Atomic uint32_t *)&gort__mlive, (uint32_t)live,
                         10000000);
    }
}

static void runtime_fini(bool clean)
{
    struct sched *s = &gort__sched;
    if (!clean) {
        /* An M is still inside a system call and will touch its P, its
         * G and the stack when it returns: leak them all, and refuse to
         * start again (gort_run returns -EBUSY). */
        proc.poisoned = true;
        return;
    }
    for (struct m *mp = s->allm, *next; mp; mp = next) {
        next = mp->alllink;
        free(mp);
    }
    for (int i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        struct p *pp = s->allp[i];
        if (!pp)
            continue;
        gort__timers_destroy(&pp->timers);
        free(pp->stackcache);
        free(pp);
    }
    gort__g_fini();
    gort__stack_fini();
    gort__globrunq_fini();
    memset(s, 0, sizeof *s);
}

int gort_run(int (*main_fn)(void *), void *arg)
{
    if (!main_fn)
        return -EINVAL;
    bool f = false;
    if (proc.poisoned ||
        !atomic_compare_exchange_strong(&gort__running, &f, true))
        return -EBUSY;
    int procs, err;
    if ((err = env_procs(&procs)) || (err = runtime_init(procs))) {
        gort__determ_stop();
        atomic_store(&gort__running, false);
        return err;
    }
    gort__trace_run_begin(); /* GORT_TRACE */
    pthread_sigmask(SIG_SETMASK, NULL, &gort__sigmask);
    gort__asyncpreempt_init();
    struct m *m0 = gort__m_alloc();
    if (!m0) {
        atomic_store(&gort__running, false);
        return -ENOMEM;
    }
    m0->is_m0 = true;
    if (DETERM()) /* select's case order comes from the seed too */
        m0->fastrand = gort__determ_rand64() | 1;
    gort__setm(m0);
    m0->tid = (int32_t)syscall(SYS_gettid);
    m0->errnop = &errno;
    gort__signal_m_init(m0);
    m0->tsan_fiber = fiber_tsan_current();
    gort__acquirep(m0, gort__sched.allp[0]);
    proc.main_fn = main_fn;
    proc.main_arg = arg;
    if ((err = gort__newproc(main_goroutine, NULL, NULL, 0, true, NULL)) ||
        (err = DETERM() ? 0 : gort__sysmon_start())) {
        gort__setm(NULL);
        gort__determ_stop();
        atomic_store(&gort__running, false);
        return err;
    }
    gort__schedule(m0);

    /* Main returned: wind down the other Ms, then free everything. */
    atomic_store(&gort__sched.stopping, true);
    bool clean = wait_ms();
    gort__sysmon_stop();
    gort__signal_m_fini(m0);
    if (clean)
        gort__asyncpreempt_fini();
    gort__trace_run_end(); /* every M is gone (or abandoned) */
    gort__setm(NULL);
    int code = gort__sched.exit_code;
    gort__determ_stop();
    runtime_fini(clean);
    atomic_store(&gort__running, false);
    return code;
}
