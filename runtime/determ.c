/*
 * determ.c: the deterministic mode, GORT_DEBUG=deterministic=SEED
 * (docs/deterministic.md): the run gets one real P and one M (gort_run's
 * caller), and this file simulates the GORT_MAXPROCS Ps asked for as
 * virtual Ps, each a runnext slot and a FIFO, on that one thread. Every
 * choice Go leaves open comes from one generator seeded by SEED: which
 * virtual P runs next, which idle one steals and from whom, where a
 * preempted or timer-woken goroutine goes, the poller's order; the M's
 * fastrand (select's case order) is seeded from it too. Time is virtual:
 * gort__nanotime answers `now`, which moves by PICK_NS per pick and
 * ENTRY_NS per preemption point, and jumps to the next timer when nothing
 * can run. Same program, seed and input: same choices, same trace.
 *
 * Guarantees (the scheduling issue's, in picks and virtual time):
 *  - a virtual P with work that was not picked for starve() picks is
 *    picked next (the oldest such first), so every P gets a turn within
 *    starve() + nvp picks;
 *  - a P takes its runnext at most RUNNEXT_MAX times in a row before its
 *    FIFO head, so a goroutine k-th in a FIFO runs within
 *    (k + 1) * (RUNNEXT_MAX + 1) turns of its P;
 *  - a goroutine that passes preemption points is preempted once it used
 *    SLICE_NS of virtual time (Go's 10 ms slice).
 *
 * Invariants: only the run's one M touches this state (the mode makes no
 * other M and starts no sysmon); a runnable goroutine is on exactly one
 * virtual P, linked through g.schedlink, and g.determ_vp names that P.
 * Locking: none; every entry point may be called holding any runtime
 * lock, and takes none.
 * See also: runtime/determ.h (the hooks), tests/test_determ.c,
 * tools/seed-explore.sh.
 */
#include <stdlib.h>
#include <string.h>

#include "determ.h"
#include "proc.h"
#include "trace.h"

bool gort__determ_active;

enum {
    RUNNEXT_MAX = 4,   /* runnext takes in a row before the FIFO head */
    POLL_EVERY = 61,   /* picks between polls while goroutines wait on I/O */
    STEAL_ODDS = 4,    /* an idle virtual P tries a steal 1 pick in 4 */
};
#define DETERM_T0 1000000000ll /* virtual time at start: 1 s */
#define PICK_NS 1000ll         /* virtual cost of a pick: 1 us */
#define ENTRY_NS 1000ll        /* ... of a preemption point: 1 us */
#define SLICE_NS 10000000ll    /* the time slice: 10 ms, as Go's */

struct vp {
    struct g *next;            /* runnext */
    struct gqueue q;           /* FIFO */
    uint32_t streak;           /* runnext takes since the last FIFO take */
    uint64_t since;            /* pick count when it last ran or got work */
};

static struct {
    uint64_t rng;              /* splitmix64 state */
    int nvp;
    uint32_t total;            /* runnable goroutines on every virtual P */
    uint64_t picks;
    int64_t now;               /* virtual time */
    int64_t slice0;            /* when the running goroutine's slice began */
    struct vp vp[GORT_MAXPROCS_LIMIT];
    uint64_t *keys, *vals;     /* the object id map, open addressing */
    size_t cap, used;
} d;

/* ---- The generator --------------------------------------------------------- */

uint64_t gort__determ_rand64(void)
{
    uint64_t z = (d.rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t randn(uint32_t n)
{
    return (uint32_t)((gort__determ_rand64() >> 32) * n >> 32);
}

/* ---- Start and stop -------------------------------------------------------- */

int gort__determ_start(int procs, uint64_t seed)
{
    memset(&d, 0, sizeof d);
    d.rng = seed;
    d.nvp = procs < 1 ? 1 : procs;
    d.now = DETERM_T0;
    d.slice0 = d.now;
    gort__determ_active = true;
    /* Every preemption point calls gort__preempt_check, which charges
     * virtual time: nobody clears the hint (no sysmon runs). */
    __atomic_store_n(&gort__preempt_hint, 1, __ATOMIC_RELAXED);
    return 1;
}

void gort__determ_stop(void)
{
    if (!gort__determ_active)
        return;
    gort__determ_active = false;
    __atomic_store_n(&gort__preempt_hint, 0, __ATOMIC_RELAXED);
    free(d.keys);
    free(d.vals);
    d.keys = d.vals = NULL;
}

int gort__determ_maxprocs(int n)
{
    int old = d.nvp;
    if (n > 0)
        d.nvp = n > GORT_MAXPROCS_LIMIT ? GORT_MAXPROCS_LIMIT : n;
    /* Goroutines on virtual Ps beyond the new count move to the first. */
    for (int v = d.nvp; v < GORT_MAXPROCS_LIMIT; v++) {
        struct vp *x = &d.vp[v];
        if (x->next) {
            gort__gqueue_push(&d.vp[0].q, x->next);
            x->next->determ_vp = 0;
            x->next = NULL;
        }
        struct g *gp;
        while ((gp = gort__gqueue_pop(&x->q))) {
            gp->determ_vp = 0;
            gort__gqueue_push(&d.vp[0].q, gp);
        }
    }
    return old;
}

/* ---- Virtual Ps ------------------------------------------------------------ */

static bool has_work(const struct vp *x)
{
    return x->next || x->q.n;
}

static void push_tail(int v, struct g *gp)
{
    struct vp *x = &d.vp[v];
    if (!has_work(x))
        x->since = d.picks;
    gp->determ_vp = (uint16_t)v;
    gort__gqueue_push(&x->q, gp);
}

void gort__determ_put(struct g *gp, int where)
{
    if (!gort__getm()) /* the virtual Ps are the run thread's alone */
        gort__throw("deterministic mode: a goroutine readied by a thread "
                    "outside the run (a signal, a foreign thread)");
    struct g *cur = gort__getg();
    d.total++;
    int v;
    switch (where) {
    case DPUT_NEXT:
    case DPUT_SPAWN: {
        if (!cur) { /* g0: a timer or the poller; Go: that P's runnext */
            push_tail(where == DPUT_SPAWN ? 0 : (int)randn((uint32_t)d.nvp),
                      gp);
            return;
        }
        v = cur->determ_vp < d.nvp ? cur->determ_vp : 0;
        struct vp *x = &d.vp[v];
        if (!has_work(x))
            x->since = d.picks;
        struct g *old = x->next;
        x->next = gp;
        gp->determ_vp = (uint16_t)v;
        if (old)
            push_tail(v, old);
        return;
    }
    case DPUT_TAIL:
        push_tail(gp->determ_vp < d.nvp ? gp->determ_vp : 0, gp);
        return;
    default:
        push_tail((int)randn((uint32_t)d.nvp), gp);
        return;
    }
}

uint32_t gort__determ_len(void)
{
    return d.total;
}

/* starve: picks a virtual P with work may wait before it is forced. */
static uint64_t starve(void)
{
    return 4 * (uint64_t)d.nvp;
}

/* maybe_steal lets an idle virtual P, chosen by the seed, take half of a
 * victim's FIFO, visiting victims from a seeded start (Go: stealWork). */
static void maybe_steal(void)
{
    if (d.nvp < 2 || randn(STEAL_ODDS) != 0)
        return;
    int idle[GORT_MAXPROCS_LIMIT], nidle = 0;
    for (int v = 0; v < d.nvp; v++)
        if (!has_work(&d.vp[v]))
            idle[nidle++] = v;
    if (nidle == 0)
        return;
    int thief = idle[randn((uint32_t)nidle)];
    uint32_t start = randn((uint32_t)d.nvp);
    for (int k = 0; k < d.nvp; k++) {
        int v = (int)((start + (uint32_t)k) % (uint32_t)d.nvp);
        struct vp *x = &d.vp[v];
        if (v == thief || x->q.n < 1)
            continue;
        int32_t n = (x->q.n + 1) / 2;
        for (int32_t i = 0; i < n; i++)
            push_tail(thief, gort__gqueue_pop(&x->q));
        TRACE(TEV_STEAL, 0, v, n);
        return;
    }
}

/* choose returns the virtual P to run next: the longest-starved one past
 * starve(), else one the seed picks among those with work. */
static int choose(void)
{
    int forced = -1, n = 0;
    int cand[GORT_MAXPROCS_LIMIT];
    for (int v = 0; v < d.nvp; v++) {
        struct vp *x = &d.vp[v];
        if (!has_work(x))
            continue;
        cand[n++] = v;
        if (d.picks - x->since >= starve() &&
            (forced < 0 || x->since < d.vp[forced].since))
            forced = v;
    }
    if (forced >= 0)
        return forced;
    return cand[randn((uint32_t)n)];
}

static void poll_now(void)
{
    struct gqueue q = {0};
    gort__netpoll(0, &q);
    if (!q.n)
        return;
    TRACE(TEV_NETPOLL, 0, q.n, 0);
    gort__determ_shuffle(&q);
    gort__ready_list(&q); /* to each one's own virtual P, by DPUT_TAIL */
}

struct g *gort__determ_get(bool *inherit)
{
    *inherit = false; /* every pick starts a slice: see the file comment */
    if (d.total == 0 || gort__getg())
        return NULL; /* a goroutine's direct switch: go through g0 */
    if ((d.picks + 1) % POLL_EVERY == 0 && gort__netpoll_inited() &&
        gort__netpoll_waiting())
        poll_now();
    d.picks++;
    d.now += PICK_NS;
    maybe_steal();
    int v = choose();
    struct vp *x = &d.vp[v];
    struct g *gp;
    if (x->next && (x->streak < RUNNEXT_MAX || x->q.n == 0)) {
        gp = x->next;
        x->next = NULL;
        x->streak++;
    } else {
        gp = gort__gqueue_pop(&x->q);
        x->streak = 0;
    }
    x->since = d.picks;
    d.total--;
    d.slice0 = d.now;
    gp->determ_vp = (uint16_t)v;
    return gp;
}

/* ---- Virtual time ---------------------------------------------------------- */

int64_t gort__determ_now(void)
{
    return d.now;
}

void gort__determ_entry(struct g *gp)
{
    d.now += ENTRY_NS;
    if (gp && d.now - d.slice0 >= SLICE_NS)
        atomic_store_explicit(&gp->preempt, true, memory_order_relaxed);
}

void gort__determ_poll_block(int64_t until, struct gqueue *q)
{
    if (gort__netpoll_inited()) {
        gort__netpoll(0, q);
        if (q->n) {
            gort__determ_shuffle(q);
            return;
        }
    }
    if (until) {
        if (until > d.now)
            d.now = until; /* nothing can run: time jumps */
        return;
    }
    if (gort__netpoll_inited()) {
        /* Only the outside world can wake us: wait for it. */
        gort__netpoll(-1, q);
        gort__determ_shuffle(q);
    }
}

void gort__determ_shuffle(struct gqueue *q)
{
    if (q->n < 2)
        return;
    struct g *a[256];
    struct gqueue rest = {0};
    int32_t n = 0;
    struct g *gp;
    while (n < 256 && (gp = gort__gqueue_pop(q)))
        a[n++] = gp;
    while ((gp = gort__gqueue_pop(q)))
        gort__gqueue_push(&rest, gp);
    for (int32_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int32_t j = (int32_t)randn((uint32_t)i + 1);
        struct g *t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
    for (int32_t i = 0; i < n; i++)
        gort__gqueue_push(q, a[i]);
    while ((gp = gort__gqueue_pop(&rest)))
        gort__gqueue_push(q, gp);
}

/* ---- Object ids for the trace ---------------------------------------------- */

static size_t slot_of(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

static bool map_grow(void)
{
    size_t cap = d.cap ? d.cap * 2 : 1024;
    uint64_t *keys = calloc(cap, sizeof *keys);
    uint64_t *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return false;
    }
    for (size_t i = 0; i < d.cap; i++) {
        if (!d.keys[i])
            continue;
        size_t s = slot_of(d.keys[i], cap);
        while (keys[s])
            s = (s + 1) & (cap - 1);
        keys[s] = d.keys[i];
        vals[s] = d.vals[i];
    }
    free(d.keys);
    free(d.vals);
    d.keys = keys;
    d.vals = vals;
    d.cap = cap;
    return true;
}

uint64_t gort__determ_objid(uint64_t addr)
{
    if (!addr)
        return 0;
    if (2 * (d.used + 1) > d.cap && !map_grow())
        return ~0ull; /* no memory: one id for all the rest */
    size_t s = slot_of(addr, d.cap);
    while (d.keys[s] && d.keys[s] != addr)
        s = (s + 1) & (d.cap - 1);
    if (!d.keys[s]) {
        d.keys[s] = addr;
        d.vals[s] = ++d.used;
    }
    return d.vals[s];
}
