/*
 * g.c: goroutines: type-stable descriptors (Go: gfget, gfput), spawning
 * (Go: newproc), the first frame, exit (Go: goexit), yielding, and thread
 * wiring (Go: LockOSThread).
 *
 * Invariants:
 *  - A G is reachable from exactly one place: a run queue, a wait queue,
 *    an M (running), or a free list (dead).
 *  - Every runnable G holds a stack reservation, so attaching its stack
 *    when it first runs cannot fail; gort_go reports -ENOMEM instead.
 *  - Descriptors are never freed while the runtime runs (lfstack needs
 *    type-stable nodes).
 * Locking: gs.lock (allglock) guards the chunk list only.
 * See also: runtime/park.c, runtime/stack.c, docs/scheduler.md.
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
#include "lfstack.h"
#include "proc.h"
#include "stack.h"
#include "trace.h"

enum { G_CHUNK = 256, GFREE_MAX = 64, GFREE_KEEP = 32 };

struct gchunk {
    struct gchunk *next;
    struct g g[G_CHUNK];
};

static struct {
    struct lock lock;            /* allglock */
    struct gchunk *chunks;
    struct lfstack gfree;        /* dead Gs spilled from Ps (lock-free) */
} gs = {.lock = LOCK_INIT(LOCKRANK_ALLG)};

/* ---- G descriptors --------------------------------------------------------- */

/*
 * The global free list of dead Gs is a lock-free ABA-safe stack (lfstack.h)
 * linked through each G's schedlink word; descriptors are never freed
 * while the runtime runs, as lfstack requires. Ps move Gs to and from it
 * in batches.
 */
static void gfree_push_global(struct g *gp)
{
    lfstack_push(&gs.gfree, gp, (void **)&gp->schedlink);
}

static struct g *gfree_pop_global(void)
{
    return lfstack_pop(&gs.gfree, offsetof(struct g, schedlink));
}

/* galloc_chunk carves a new chunk of descriptors onto the global list and
 * returns one of them, or NULL (ENOMEM). */
static struct g *galloc_chunk(void)
{
    struct gchunk *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    gort__lock(&gs.lock);
    c->next = gs.chunks;
    /* Release: gort__forallg walks the list without the lock. */
    __atomic_store_n(&gs.chunks, c, __ATOMIC_RELEASE);
    gort__unlock(&gs.lock);
    for (int i = 1; i < G_CHUNK; i++) {
        atomic_init(&c->g[i].status, G_DEAD);
        gort__lat_init(&c->g[i], (unsigned)i);
        gfree_push_global(&c->g[i]);
    }
    atomic_init(&c->g[0].status, G_DEAD);
    gort__lat_init(&c->g[0], 0);
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
    /* The goroutine's own code runs outside the runtime, where its P may
     * be taken if it blocks in the kernel; gort_goexit comes back in. */
    gort__rt_leave(true);
    gp->fn(gp->arg);
    gort_goexit();
}

/* attach gives gp a stack from pp's cache (or the pool), copies `size`
 * bytes of arguments to its top, and builds the frame that enters g_entry.
 * A reused stack may still carry ASan poison from frames its previous
 * goroutine never returned from (peer pitfall 7): clear it first. */
static void attach(struct g *gp, struct p *pp, const void *args, size_t size)
{
    gort__stack_alloc(pp, &gp->stk);
    fiber_asan_unpoison((void *)gp->stk.lo, gp->stk.hi - gp->stk.lo);
    uintptr_t top = gp->stk.hi;
    if (size) {
        top = (top - size) & ~(uintptr_t)15;
        memcpy((void *)top, args, size);
        gp->arg = (void *)top;
    }
    gp->argsize = 0;
    gort__ctx_make(&gp->ctx, (void *)top, g_entry, gp);
    if (!gp->tsan_fiber) /* a TSan fiber costs ~800 KiB: keep it with the G */
        gp->tsan_fiber = fiber_tsan_create();
}

/* gort__g_start attaches a stack to gp when it first runs. Runs with a P,
 * on g0 or on the goroutine switching to gp. */
void gort__g_start(struct g *gp)
{
    attach(gp, gort__getm()->p, gp->args, gp->argsize);
}

/* newproc creates a runnable G for fn (Go: newproc1). */
int gort__newproc(void (*fn)(void *), void *arg, const void *args,
                   size_t size, bool is_main, const void *gopc)
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
            attach(gp, pp, args, size);
        } else {
            memcpy(gp->args, args, size);
        }
    }
    gp->goid = new_goid(pp);
    /* Who made it, for tracebacks' "created by F in goroutine K". */
    gp->gopc = (uintptr_t)gopc;
    gp->parentgoid = mp && mp->curg ? mp->curg->goid : 0;
    gp->schedlink = NULL;
    gp->lockedm = NULL;
    gp->lockcount = 0;
    gp->saved_errno = 0;
    gp->param = NULL;
    gp->waiting = NULL;
    gp->waitreason = WAIT_NONE;
    atomic_store_explicit(&gp->waitsince, 0, memory_order_relaxed);
    atomic_store_explicit(&gp->preempt, false, memory_order_relaxed);
    atomic_store_explicit(&gp->asyncpreempt, 0, memory_order_relaxed);
    atomic_store_explicit(&gp->stuck_warned, false, memory_order_relaxed);
    gort__g_setstatus(gp, G_DEAD, G_RUNNABLE);
    if (TRACE_ON())
        gort__trace_create(gp);
    if (pp) {
        P_STAT_INC(pp->nspawned, 1);
        gort__runq_put_spawn(pp, gp);
        if (!is_main) /* main starts on m0, before any other M exists */
            gort__wakep();
    } else {
        atomic_fetch_add_explicit(&gort__sched.ngoroutines_nop, 1,
                                  memory_order_relaxed);
        gort__lock(&gort__sched.lock);
        gort__globrunq_put(gp);
        gort__unlock(&gort__sched.lock);
    }
    return 0;
}

/*
 * spawn_turn_over says whether the goroutine running on pp has spawned
 * SPAWN_TURN_MAX goroutines in its current turn (one time slice, runnext
 * hand-offs included: the turn is pp's schedtick) while nothing waits in
 * the global queue. It then yields to the tail of its P's ring, so the
 * children it queued run before it queues more: a spawn loop keeps about
 * half a ring of them alive, their descriptors and stacks reused while
 * hot, where Go lets a spawner run its whole 10 ms slice and queue tens of
 * thousands (each a fresh descriptor and stack page in C). The spawner
 * waits no longer than any yielder (docs/scheduler.md, "Spawn loops"), and
 * not at all while other work waits globally: a fairness pick would give
 * that work a whole slice first, every 61 picks, and a spawner beside
 * CPU-bound goroutines (an accept loop under load) would crawl. Owner of
 * pp only.
 */
static bool spawn_turn_over(struct p *pp)
{
    if (pp->spawn_tick != pp->schedtick) {
        pp->spawn_tick = pp->schedtick;
        pp->spawn_turn = 0;
    }
    return ++pp->spawn_turn >= SPAWN_TURN_MAX &&
           atomic_load_explicit(&gort__sched.runqsize,
                                memory_order_relaxed) == 0;
}

/* spawn is gort_go and gort_go_copy: from a goroutine, or from g0 holding
 * a P (timer callbacks: Go's AfterFunc runs `go f()` there). */
static int spawn(void (*fn)(void *), void *arg, const void *args, size_t size,
                 const void *gopc)
{
    struct m *mp = gort__getm();
    if (!mp || (!mp->curg && !mp->p))
        return -EPERM;
    struct g *gp = mp->curg;
    int err = gort__newproc(fn, arg, args, size, false, gopc);
    if (gp && err == 0 && spawn_turn_over(gp->m->p) && !gp->m->locks) {
        P_STAT_INC(gp->m->p->nyields, 1);
        gort__switch_out(gp, AFTER_YIELD);
        return 0;
    }
    gort__maybe_preempt(gp);
    return err;
}

int gort_go(void (*fn)(void *), void *arg)
{
    RT_ENTRY();
    if (!fn)
        return -EINVAL;
    return spawn(fn, arg, NULL, 0, __builtin_return_address(0));
}

int gort_go_copy(void (*fn)(void *), const void *args, size_t size)
{
    RT_ENTRY();
    if (!fn || (!args && size) || size > GORT_GO_COPY_MAX)
        return -EINVAL;
    return spawn(fn, NULL, args, size, __builtin_return_address(0));
}

int gort__go_copy(void (*fn)(void *), const void *args, size_t size)
{
    return spawn(fn, NULL, args, size, __builtin_return_address(0));
}

/* gort__g_destroy frees an exited G's stack and descriptor. Runs on g0. */
void gort__g_destroy(struct m *mp, struct g *gp)
{
    struct p *pp = mp->p;
    gort__g_setstatus(gp, G_RUNNING, G_DEAD);
    gp->m = NULL;
    gort__stack_free(pp, &gp->stk);
    gort__stack_unreserve(pp);
    if (pp)
        P_STAT_INC(pp->nexited, 1);
    else
        atomic_fetch_sub_explicit(&gort__sched.ngoroutines_nop, 1,
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
    RT_ENTRY(); /* never left: whatever runs next on the M is inside */
    struct g *gp = gort__getg();
    if (!gp)
        gort__throw("gort_goexit called outside a goroutine");
    gort__switch_out(gp, AFTER_EXIT);
    gort__throw("goexit: dead goroutine resumed");
}

/* The hint the inline fast paths of the public headers load (sync.h):
 * sysmon sets it when it flags a goroutine and clears it once no running
 * goroutine is flagged (sysmon.c, retake). */
uint32_t gort__preempt_hint;

/* gort__preempt_check is the out-of-line half of gort__preempt_point: the
 * hint was set, so yield if the caller is the goroutine that was asked. */
void gort__preempt_check(void)
{
    RT_ENTRY();
    if (DETERM()) /* the hint stays set: charge virtual time */
        gort__determ_entry(gort__getg());
    gort__maybe_preempt(gort__getg());
}

void gort__preempt_park(void)
{
    struct g *gp = gort__getg();
    if (gp->m->locks) /* a pinned section (sync/pool.c): not here */
        return;
    atomic_store_explicit(&gp->preempt, false, memory_order_relaxed);
    atomic_fetch_add_explicit(&gort__sched.npreempts, 1, memory_order_relaxed);
    gort__switch_out(gp, AFTER_PREEMPT);
}

void gort_yield(void)
{
    RT_ENTRY();
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

/*
 * gort__gcount is the number of goroutines alive (Go: gcount). Each P
 * counts the Gs it created and destroyed: one shared counter, bumped by
 * every spawn and exit, cost a cache-line transfer per goroutine at 2 Ps
 * (and shared its line with fields every scheduling loop reads). The sum
 * is exact when the Ps are quiet (checkdead, which holds sched.lock with
 * every M idle); read while goroutines come and go, it may be off by
 * those in flight, as Go's is: a G created on one P after that P was read
 * and destroyed on another before it was. Callers clamp.
 */
int64_t gort__gcount(void)
{
    int64_t n = atomic_load_explicit(&gort__sched.ngoroutines_nop,
                                     memory_order_relaxed);
    for (int32_t i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        struct p *pp = __atomic_load_n(&gort__sched.allp[i],
                                       __ATOMIC_ACQUIRE);
        if (!pp)
            continue;
        n += (int64_t)atomic_load_explicit(&pp->nspawned,
                                           memory_order_relaxed);
        n -= (int64_t)atomic_load_explicit(&pp->nexited,
                                           memory_order_relaxed);
    }
    return n;
}

int gort_num_goroutine(void)
{
    int64_t n = gort__gcount();
    if (n < 1 && gort__getg() != NULL)
        n = 1; /* the caller, at least (Go clamps to 1 likewise) */
    return n < 0 ? 0 : n > INT32_MAX ? INT32_MAX : (int)n;
}
/* ---- Thread wiring --------------------------------------------------------- */

void gort_lock_os_thread(void)
{
    struct g *gp = gort__getg();
    if (!gp)
        return;
    if (DETERM()) /* a wired goroutine needs a second thread */
        gort__panic("gort_lock_os_thread: not supported in the "
                    "deterministic mode");
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

/* gort__g_flush moves pp's dead descriptors to the global list (pp is
 * being retired). */
void gort__g_flush(struct p *pp)
{
    struct g *gp;
    while ((gp = gort__gqueue_pop(&pp->gfree)))
        gfree_push_global(gp);
}

/* gort__forallg calls fn on every descriptor ever made, dead ones
 * included, without a lock (chunks are only ever prepended, with a
 * release store): callable from a signal handler. */
void gort__forallg(void (*fn)(struct g *gp, void *arg), void *arg)
{
    for (struct gchunk *c = __atomic_load_n(&gs.chunks, __ATOMIC_ACQUIRE); c;
         c = c->next)
        for (int i = 0; i < G_CHUNK; i++)
            fn(&c->g[i], arg);
}

struct stamp {
    int64_t now;
};

static void stamp_one(struct g *gp, void *arg)
{
    if (atomic_load_explicit(&gp->status, memory_order_relaxed) ==
            G_WAITING &&
        atomic_load_explicit(&gp->waitsince, memory_order_relaxed) == 0)
        atomic_store_explicit(&gp->waitsince, ((struct stamp *)arg)->now,
                              memory_order_relaxed);
}

/* gort__stamp_waiting gives every waiting G without a wait start the
 * time now (sysmon, every WAITSTAMP_NS). A G readied and parked again
 * meanwhile may get a stamp a moment early: the figure is in minutes. */
void gort__stamp_waiting(int64_t now)
{
    struct stamp s = {now};
    gort__forallg(stamp_one, &s);
}

/* gort__g_fini frees every descriptor chunk (the runtime stopped). */
void gort__g_fini(void)
{
    for (struct gchunk *c = gs.chunks, *next; c; c = next) {
        next = c->next;
        for (int i = 0; i < G_CHUNK; i++)
            if (c->g[i].tsan_fiber)
                fiber_tsan_destroy(c->g[i].tsan_fiber);
        free(c);
    }
    gs.chunks = NULL;
    gs.gfree = (struct lfstack){0};
}
