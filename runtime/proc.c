/*
 * proc.c: the runtime's lifecycle and goroutine creation: gort_run, M
 * threads, G descriptors, spawn and exit, GOMAXPROCS changes and thread
 * wiring (Go: runtime.main, newm/mstart, newproc, goexit, procresize,
 * LockOSThread).
 *
 * Invariants:
 *  - A G is reachable from exactly one place: a run queue, a wait queue,
 *    an M (running), or a P's free list (dead).
 *  - Every runnable G holds a stack reservation, so attaching its stack
 *    when it first runs cannot fail; gort_go reports -ENOMEM instead.
 *  - allp[0, gomaxprocs) are live Ps; higher ones are retired (P_DEAD) as
 *    soon as their M notices, their queues and timers handed over.
 * Locking: sched.lock for Ms, Ps and the global G list; allglock guards
 * the descriptor chunks.
 * See also: runtime/sched.c, docs/scheduler.md.
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
#include "lfstack.h"
#include "proc.h"
#include "stack.h"

enum { G_CHUNK = 256, GFREE_MAX = 64, GFREE_KEEP = 32 };

struct gchunk {
    struct gchunk *next;
    struct g g[G_CHUNK];
};

static struct {
    struct lock lock;            /* allglock */
    struct gchunk *chunks;
    struct lfstack gfree;        /* dead Gs spilled from Ps (lock-free) */
    int (*main_fn)(void *);
    void *main_arg;
    int maxprocs_next;           /* gort_maxprocs before gort_run */
    _Atomic bool running;
    _Atomic int32_t mlive;       /* M threads alive besides m0 */
    bool poisoned;               /* a previous run left Ms in syscalls */
    sigset_t sigmask;            /* what every new M starts with */
} proc = {.lock = LOCK_INIT};

/* ---- G descriptors --------------------------------------------------------- */

/*
 * The global free list of dead Gs is a lock-free ABA-safe stack (lfstack.h)
 * linked through each G's schedlink word; descriptors are never freed
 * while the runtime runs, as lfstack requires. Ps move Gs to and from it
 * in batches.
 */
static void gfree_push_global(struct g *gp)
{
    lfstack_push(&proc.gfree, gp, (void **)&gp->schedlink);
}

static struct g *gfree_pop_global(void)
{
    return lfstack_pop(&proc.gfree, offsetof(struct g, schedlink));
}

/* galloc_chunk carves a new chunk of descriptors onto the global list and
 * returns one of them, or NULL (ENOMEM). */
static struct g *galloc_chunk(void)
{
    struct gchunk *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    gort__lock(&proc.lock);
    c->next = proc.chunks;
    proc.chunks = c;
    gort__unlock(&proc.lock);
    for (int i = 1; i < G_CHUNK; i++) {
        atomic_init(&c->g[i].status, G_DEAD);
        gfree_push_global(&c->g[i]);
    }
    atomic_init(&c->g[0].status, G_DEAD);
    return &c->g[0];
}

/* galloc returns a dead G from pp's free list, the global one, or a fresh
 * chunk (Go: gfget / malg). */
static struct g *galloc(struct p *pp)
{
    struct g *gp = pp ? gort__gqueue_pop(&pp->gfree) : NULL;
    if (gp)
        return gp;
    for (int i = 0; pp && i < GFREE_KEEP; i++) {
        struct g *x = gfree_pop_global();
        if (!x)
            break;
        gort__gqueue_push(&pp->gfree, x);
    }
    if (pp && (gp = gort__gqueue_pop(&pp->gfree)))
        return gp;
    if ((gp = gfree_pop_global()))
        return gp;
    return galloc_chunk();
}

/* gfree puts a dead G on pp's list, spilling to the global list when the
 * P holds too many (Go: gfput). */
static void gfree(struct p *pp, struct g *gp)
{
    if (!pp) {
        gfree_push_global(gp);
        return;
    }
    gort__gqueue_push(&pp->gfree, gp);
    if (pp->gfree.n < GFREE_MAX)
        return;
    while (pp->gfree.n > GFREE_KEEP)
        gfree_push_global(gort__gqueue_pop(&pp->gfree));
}

static uint64_t new_goid(struct p *pp)
{
    if (!pp)
        return atomic_fetch_add(&gort__sched.goidgen, 1) + 1;
    if (pp->goidcache == pp->goidcacheend) {
        pp->goidcache = atomic_fetch_add(&gort__sched.goidgen, GOID_BATCH) + 1;
        pp->goidcacheend = pp->goidcache + GOID_BATCH;
    }
    return pp->goidcache++;
}

/* g_entry is the first C function on a goroutine's stack. */
static void g_entry(void *arg)
{
    struct g *gp = arg;
    fiber_asan_finish(NULL, NULL, NULL);
    gort__finish_switch();
    gp->fn(gp->arg);
    gort_goexit();
}

/* gort__g_start attaches a stack to gp when it first runs and builds the
 * frame that enters g_entry. Runs on g0 with a P. */
void gort__g_start(struct g *gp)
{
    struct m *mp = gort__getm();
    if (gp->argsize > G_INLINE_ARGS)
        gort__throw("g_start: large arguments without a stack");
    gort__stack_alloc(mp->p, &gp->stk);
    fiber_asan_unpoison((void *)gp->stk.lo, gp->stk.hi - gp->stk.lo);
    uintptr_t top = gp->stk.hi;
    if (gp->argsize) {
        top = (top - gp->argsize) & ~(uintptr_t)15;
        memcpy((void *)top, gp->args, gp->argsize);
        gp->arg = (void *)top;
    }
    gort__ctx_make(&gp->ctx, (void *)top, g_entry, gp);
    if (!gp->tsan_fiber) /* a TSan fiber costs ~800 KiB: keep it with the G */
        gp->tsan_fiber = fiber_tsan_create();
}

/* newproc creates a runnable G for fn (Go: newproc1). */
static int newproc(void (*fn)(void *), void *arg, const void *args,
                   size_t size, bool is_main)
{
    struct m *mp = gort__getm();
    struct p *pp = mp ? mp->p : NULL;
    int err = gort__stack_reserve(pp);
    if (err)
        return err;
    struct g *gp = galloc(pp);
    if (!gp) {
        gort__stack_unreserve(pp);
        return -ENOMEM;
    }
    gp->fn = fn;
    gp->arg = arg;
    gp->argsize = (uint16_t)size;
    if (size) {
        if (size > G_INLINE_ARGS) {
            /* Too big to carry in the descriptor: attach the stack now. */
            gort__stack_alloc(pp, &gp->stk);
            uintptr_t top = (gp->stk.hi - size) & ~(uintptr_t)15;
            memcpy((void *)top, args, size);
            gp->arg = (void *)top;
            gp->argsize = 0;
            gort__ctx_make(&gp->ctx, (void *)top, g_entry, gp);
            if (!gp->tsan_fiber)
                gp->tsan_fiber = fiber_tsan_create();
        } else {
            memcpy(gp->args, args, size);
        }
    }
    gp->goid = new_goid(pp);
    gp->is_main = is_main;
    gp->schedlink = NULL;
    gp->lockedm = NULL;
    gp->lockcount = 0;
    gp->saved_errno = 0;
    gp->param = NULL;
    gp->waiting = NULL;
    gp->waitreason = WAIT_NONE;
    atomic_store_explicit(&gp->preempt, false, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__sched.ngoroutines, 1,
                              memory_order_relaxed);
    gort__g_setstatus(gp, G_DEAD, G_RUNNABLE);
    if (pp) {
        P_STAT_INC(pp->nspawned, 1);
        gort__runq_put(pp, gp, true);
        if (!is_main) /* main starts on m0, before any other M exists */
            gort__wakep();
        /* Back-pressure: a spawner that filled its P's queue lets the
         * children run before it goes on (it resumes from the global
         * queue within GLOBAL_FAIR_TICK schedules). Go would spill half
         * the queue to the global list and keep spawning for the rest
         * of its slice; running the children now keeps their
         * descriptors and stacks hot in cache and memory bounded. */
        struct g *cur = mp->curg;
        if (cur && gort__runq_len(pp) >= RUNQ_SIZE)
            atomic_store_explicit(&cur->preempt, true, memory_order_relaxed);
    } else {
        gort__lock(&gort__sched.lock);
        gort__globrunq_put(gp);
        gort__unlock(&gort__sched.lock);
    }
    return 0;
}

/* spawn is gort_go and gort_go_copy: from a goroutine, or from g0 holding
 * a P (timer callbacks: Go's AfterFunc runs `go f()` there). */
static int spawn(void (*fn)(void *), void *arg, const void *args, size_t size)
{
    struct m *mp = gort__getm();
    if (!mp || (!mp->curg && !mp->p))
        return -EPERM;
    struct g *gp = mp->curg;
    int err = newproc(fn, arg, args, size, false);
    gort__maybe_preempt(gp);
    return err;
}

int gort_go(void (*fn)(void *), void *arg)
{
    if (!fn)
        return -EINVAL;
    return spawn(fn, arg, NULL, 0);
}

int gort_go_copy(void (*fn)(void *), const void *args, size_t size)
{
    if (!fn || (!args && size) || size > GORT_GO_COPY_MAX)
        return -EINVAL;
    return spawn(fn, NULL, args, size);
}

/* gort__g_destroy frees an exited G's stack and descriptor. Runs on g0. */
void gort__g_destroy(struct m *mp, struct g *gp)
{
    struct p *pp = mp->p;
    gort__g_setstatus(gp, G_RUNNING, G_DEAD);
    gp->m = NULL;
    gort__stack_free(pp, &gp->stk);
    gort__stack_unreserve(pp);
    atomic_fetch_sub_explicit(&gort__sched.ngoroutines, 1,
                              memory_order_relaxed);
    if (gp->lockcount && mp->lockedg == gp) {
        /* Go kills a thread whose wired goroutine exits: its state may be
         * poisoned. m0 belongs to the caller of gort_run, so it stays. */
        mp->lockedg = NULL;
        if (!mp->is_m0)
            mp->dead_locked = gp;
    }
    gp->lockedm = NULL;
    gp->lockcount = 0;
    gfree(pp, gp);
}

_Noreturn void gort_goexit(void)
{
    struct g *gp = gort__getg();
    if (!gp)
        gort__throw("gort_goexit called outside a goroutine");
    gort__switch_out(gp, AFTER_EXIT);
    gort__throw("goexit: dead goroutine resumed");
}

void gort__preempt_park(void)
{
    struct g *gp = gort__getg();
    atomic_store_explicit(&gp->preempt, false, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__sched.npreempts, 1, memory_order_relaxed);
    gort__switch_out(gp, AFTER_PREEMPT);
}

void gort_yield(void)
{
    struct g *gp = gort__getg();
    if (!gp) {
        sched_yield();
        return;
    }
    atomic_store_explicit(&gp->preempt, false, memory_order_relaxed);
    P_STAT_INC(gp->m->p->nyields, 1);
    gort__switch_out(gp, AFTER_YIELD);
}

uint64_t gort_id(void)
{
    struct g *gp = gort__getg();
    return gp ? gp->goid : 0;
}

int gort_num_goroutine(void)
{
    return (int)atomic_load(&gort__sched.ngoroutines);
}

/* ---- Ms -------------------------------------------------------------------- */

/* mstart is an M thread's body: set up, then schedule until told to stop. */
static void *mstart(void *arg)
{
    struct m *mp = arg;
    pthread_sigmask(SIG_SETMASK, &proc.sigmask, NULL);
    gort__setm(mp);
    gort__signal_m_init(mp);
    mp->tsan_fiber = fiber_tsan_current();
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        pthread_attr_getstack(&attr, &addr, &size);
        mp->asan_stack_bottom = addr;
        mp->asan_stack_size = size;
        pthread_attr_destroy(&attr);
    }
    struct p *pp = mp->nextp;
    mp->nextp = NULL;
    gort__acquirep(mp, pp);
    gort__schedule(mp);
    /* Stopping, or our wired goroutine died: give the P away and go. */
    if (mp->p) {
        pp = gort__releasep(mp);
        if (!atomic_load(&gort__sched.stopping))
            gort__handoffp(pp);
    }
    gort__signal_m_fini(mp);
    gort__lock(&gort__sched.lock);
    gort__sched.nmfreed++;
    gort__checkdead();
    gort__unlock(&gort__sched.lock);
    atomic_store(&mp->exited, true);
    atomic_fetch_sub(&proc.mlive, 1);
    gort__futex_wake((_Atomic uint32_t *)&proc.mlive, 1);
    return NULL;
}

static struct m *m_alloc(void)
{
    struct m *mp = calloc(1, sizeof *mp);
    if (!mp)
        return NULL;
    mp->fastrand = (uint64_t)gort__nanotime() * 0x9e3779b97f4a7c15ull |
                   1;
    gort__lock(&gort__sched.lock);
    mp->id = gort__sched.mnext++;
    mp->alllink = gort__sched.allm;
    gort__sched.allm = mp;
    gort__unlock(&gort__sched.lock);
    return mp;
}

/* gort__newm starts a thread that runs pp (Go: newm). */
int gort__newm(struct p *pp, bool spinning)
{
    if (gort__sched.mnext - gort__sched.nmfreed >= MAX_MPROCS) {
        fprintf(stderr, "runtime: program exceeds %d-thread limit\n",
                MAX_MPROCS);
        gort__throw("thread exhaustion");
    }
    struct m *mp = m_alloc();
    if (!mp)
        return -ENOMEM;
    mp->nextp = pp;
    mp->spinning = spinning;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_t th;
    atomic_fetch_add(&proc.mlive, 1);
    int err = pthread_create(&th, &attr, mstart, mp);
    pthread_attr_destroy(&attr);
    if (err) {
        atomic_fetch_sub(&proc.mlive, 1);
        gort__lock(&gort__sched.lock);
        gort__sched.nmfreed++;
        gort__unlock(&gort__sched.lock);
        atomic_store(&mp->exited, true);
        return -err;
    }
    mp->thread = (uintptr_t)th;
    return 0;
}

/* ---- Ps -------------------------------------------------------------------- */

static struct p *p_alloc(int32_t id)
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
    pp->rand_state = (uint64_t)id * 0x9e3779b97f4a7c15ull + 1;
    gort__timers_init(&pp->timers, pp);
    atomic_init(&pp->status, P_IDLE);
    return pp;
}

/* gort__retire_p hands a P beyond gomaxprocs its work away and marks it
 * dead (Go: procresize's destroy). Caller holds sched.lock. */
void gort__retire_p(struct p *pp)
{
    struct gqueue q = {0};
    bool inherit;
    struct g *gp;
    while ((gp = gort__runq_get(pp, &inherit)))
        gort__gqueue_push(&q, gp);
    while ((gp = gort__gqueue_pop(&q)))
        gort__globrunq_put(gp);
    gort__timers_move(&pp->timers, &gort__sched.allp[0]->timers);
    gort__stack_cache_flush(pp);
    while ((gp = gort__gqueue_pop(&pp->gfree)))
        gfree_push_global(gp);
    __atomic_store_n(&pp->m, NULL, __ATOMIC_RELAXED);
    atomic_store(&pp->status, P_DEAD);
}

static int default_procs(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int gort_maxprocs(int n)
{
    if (!atomic_load(&proc.running)) {
        int old = proc.maxprocs_next ? proc.maxprocs_next : default_procs();
        if (n > 0)
            proc.maxprocs_next = n > GORT_MAXPROCS_LIMIT ? GORT_MAXPROCS_LIMIT
                                                         : n;
        return old;
    }
    gort__lock(&gort__sched.lock);
    int old = atomic_load(&gort__sched.gomaxprocs);
    if (n <= 0 || n == old) {
        gort__unlock(&gort__sched.lock);
        return old;
    }
    if (n > GORT_MAXPROCS_LIMIT)
        n = GORT_MAXPROCS_LIMIT;
    int added = 0, target = n;
    for (int i = old; i < n; i++) {
        struct p *pp = gort__sched.allp[i];
        if (!pp && !(pp = gort__sched.allp[i] = p_alloc(i))) {
            target = i; /* out of memory: grow as far as we could */
            break;
        }
        /* A P not yet retired from an earlier shrink is simply live
         * again; a dead one is revived onto the idle list. */
        if (atomic_load(&pp->status) == P_DEAD) {
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
    for (int i = 0; i < added; i++)
        gort__wakep();
    return old;
}

/* ---- Thread wiring --------------------------------------------------------- */

void gort_lock_os_thread(void)
{
    struct g *gp = gort__getg();
    if (!gp)
        return;
    gp->lockcount++;
    gp->lockedm = gp->m;
    gp->m->lockedg = gp;
}

void gort_unlock_os_thread(void)
{
    struct g *gp = gort__getg();
    if (!gp || gp->lockcount == 0)
        return;
    if (--gp->lockcount == 0) {
        gp->m->lockedg = NULL;
        gp->lockedm = NULL;
    }
}

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
    for (mp = gort__sched.allm; mp; mp = mp->alllink)
        if (mp->lockedg && !atomic_load(&mp->exited) &&
            atomic_load(&mp->park.key) == 0 && !mp->p) {
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
    s->start_ns = gort__nanotime();
    atomic_store(&s->lastpoll, s->start_ns);
    int err = gort__stack_init();
    if (err)
        return err;
    if ((err = gort__debug_parse()) || (err = gort__signal_init()))
        return err;
    for (int i = 0; i < procs; i++)
        if (!(s->allp[i] = p_alloc(i)))
            return -ENOMEM;
    atomic_store(&s->gomaxprocs, procs);
    for (int i = procs - 1; i > 0; i--)
        gort__pidleput(s->allp[i]);
    return 0;
}

static int env_procs(int *procs)
{
    const char *env = getenv("GORT_MAXPROCS");
    *procs = proc.maxprocs_next ? proc.maxprocs_next : default_procs();
    if (proc.maxprocs_next || !env || !*env)
        return 0;
    char *end;
    long n = strtol(env, &end, 10);
    if (*end || n < 1) {
        fprintf(stderr, "gort: GORT_MAXPROCS=%s: want a positive integer\n",
                env);
        return -EINVAL;
    }
    *procs = n > GORT_MAXPROCS_LIMIT ? GORT_MAXPROCS_LIMIT : (int)n;
    return 0;
}

/* wait_ms waits (bounded) for every other M to exit; Ms stuck in a
 * system call are abandoned. Returns false if any M is still alive. */
static bool wait_ms(void)
{
    int64_t deadline = gort__nanotime() + 2000000000;
    for (;;) {
        int32_t live = atomic_load(&proc.mlive);
        if (live == 0)
            return true;
        if (gort__nanotime() > deadline)
            return false;
        gort__stop_wake_all();
        for (struct m *mp = gort__sched.allm; mp; mp = mp->alllink) {
            struct g *gp = __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE);
            if (gp)
                atomic_store(&gp->preempt, true);
        }
        gort__futex_wait((_Atomic uint32_t *)&proc.mlive, (uint32_t)live,
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
    for (struct gchunk *c = proc.chunks, *next; c; c = next) {
        next = c->next;
        for (int i = 0; i < G_CHUNK; i++)
            if (c->g[i].tsan_fiber)
                fiber_tsan_destroy(c->g[i].tsan_fiber);
        free(c);
    }
    proc.chunks = NULL;
    proc.gfree = (struct lfstack){0};
    gort__stack_fini();
    memset(s, 0, sizeof *s);
}

int gort_run(int (*main_fn)(void *), void *arg)
{
    if (!main_fn)
        return -EINVAL;
    bool f = false;
    if (proc.poisoned ||
        !atomic_compare_exchange_strong(&proc.running, &f, true))
        return -EBUSY;
    int procs, err;
    if ((err = env_procs(&procs)) || (err = runtime_init(procs))) {
        atomic_store(&proc.running, false);
        return err;
    }
    pthread_sigmask(SIG_SETMASK, NULL, &proc.sigmask);
    struct m *m0 = m_alloc();
    if (!m0) {
        atomic_store(&proc.running, false);
        return -ENOMEM;
    }
    m0->is_m0 = true;
    gort__setm(m0);
    gort__signal_m_init(m0);
    m0->tsan_fiber = fiber_tsan_current();
    gort__acquirep(m0, gort__sched.allp[0]);
    proc.main_fn = main_fn;
    proc.main_arg = arg;
    if ((err = newproc(main_goroutine, NULL, NULL, 0, true)) ||
        (err = gort__sysmon_start())) {
        gort__setm(NULL);
        atomic_store(&proc.running, false);
        return err;
    }
    gort__schedule(m0);

    /* Main returned: wind down the other Ms, then free everything. */
    atomic_store(&gort__sched.stopping, true);
    bool clean = wait_ms();
    gort__sysmon_stop();
    gort__signal_m_fini(m0);
    gort__setm(NULL);
    int code = gort__sched.exit_code;
    runtime_fini(clean);
    proc.maxprocs_next = 0;
    atomic_store(&proc.running, false);
    return code;
}
