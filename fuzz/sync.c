/*
 * sync.c: libFuzzer target for <gort/sync.h>: mutex, rwmutex, waitgroup,
 * once, cond and the weighted semaphore, driven by up to 4 goroutines
 * whose operations are decoded from the input (decode below).
 *
 * What is checked, for every interleaving the runtime picks:
 *   - exclusion: one holder of the mutex; one writer and no reader, or
 *     readers and no writer, in the rwmutex; at most SEM_SIZE units of the
 *     semaphore held; each checked while the holder yields inside;
 *   - once: its function ran exactly once before any gort_once_do returns;
 *   - cond: a token counter under the mutex, taken in the usual
 *     `while (tokens == 0) wait` loop, put with signal or broadcast;
 *   - no lost wake-up: whenever every unfinished goroutine is parked (the
 *     runtime's G_WAITING, nothing moving), each must be waiting for
 *     something that is really missing: a cond token while there are
 *     none, a waitgroup whose counter is above zero. Anything else (a
 *     goroutine parked on a free mutex, rwmutex, semaphore or once) is a
 *     lost wake-up. The main goroutine then supplies what is missing (a
 *     token, a Done) and waits again, so every program finishes.
 *
 * Critical sections never park, so at such a moment no lock is held. A
 * failed check prints why and aborts (a libFuzzer crash). Runs in the
 * long-lived runtime of rt.h.
 */
#include <gort.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"
#include "rt.h"

#define MAXG 4
#define MAXOPS 32
#define SEM_SIZE 3

enum kind { LOCK, TRYLOCK, RLOCK, TRYRLOCK, WLOCK, TRYWLOCK, SEM, TRYSEM,
            ONCE, PUT, TAKE, WG_DONE, WG_WAIT, NKIND };

struct op {
    uint8_t kind, flags, arg;
};

struct worker {
    int id;
    _Atomic(struct g *) gp;
    _Atomic int done, in_op; /* in_op: index + 1 of the op running, or 0 */
    struct op ops[MAXOPS];
    int n;
};

static struct {
    int ng;
    struct worker w[MAXG];
    gort_mutex mu;
    gort_rwmutex rw;
    gort_wg wg;
    gort_once once;
    gort_cond cond;
    gort_sema sem;
    _Atomic int owner;            /* mutex holder + 1, 0: free */
    _Atomic int readers, writers; /* rwmutex holders */
    _Atomic int sem_held;
    _Atomic int once_runs;
    _Atomic int tokens;           /* guarded by mu; atomic for the checker */
    _Atomic int wg_left;          /* Dones still due before the counter is 0 */
    _Atomic int wg_credit;        /* worker Dones the main goroutine made */
    int wg_extra;                 /* Dones only the main goroutine makes */
    _Atomic int ndone, progress;
} S;

#define fail(...)                                                            \
    do {                                                                     \
        fprintf(stderr, "fuzz sync: " __VA_ARGS__);                          \
        fputc('\n', stderr);                                                 \
        abort();                                                             \
    } while (0)

static void pause_if(const struct op *o)
{
    if (o->flags & 1)
        gort_yield();
}

/* ---- exclusion ---------------------------------------------------------- */

static void mu_enter(int id)
{
    int was = atomic_exchange(&S.owner, id + 1);
    if (was != 0)
        fail("goroutine %d holds the mutex that %d holds", id, was - 1);
}

static void mu_leave(int id)
{
    if (atomic_exchange(&S.owner, 0) != id + 1)
        fail("goroutine %d lost the mutex while holding it", id);
}

static void mutex_cs(struct worker *w, const struct op *o, bool try)
{
    if (try) {
        if (!gort_mutex_trylock(&S.mu))
            return;
    } else {
        gort_mutex_lock(&S.mu);
    }
    mu_enter(w->id);
    pause_if(o);
    mu_leave(w->id);
    gort_mutex_unlock(&S.mu);
}

static void read_cs(const struct op *o, bool try)
{
    if (try) {
        if (!gort_rwmutex_try_rlock(&S.rw))
            return;
    } else {
        gort_rwmutex_rlock(&S.rw);
    }
    atomic_fetch_add(&S.readers, 1);
    if (atomic_load(&S.writers) != 0)
        fail("a reader got in beside a writer");
    pause_if(o);
    if (atomic_load(&S.writers) != 0)
        fail("a writer got in beside a reader");
    atomic_fetch_sub(&S.readers, 1);
    gort_rwmutex_runlock(&S.rw);
}

static void write_cs(const struct op *o, bool try)
{
    if (try) {
        if (!gort_rwmutex_trylock(&S.rw))
            return;
    } else {
        gort_rwmutex_lock(&S.rw);
    }
    if (atomic_fetch_add(&S.writers, 1) != 0 || atomic_load(&S.readers))
        fail("a writer got in beside %d readers, %d writers",
             atomic_load(&S.readers), atomic_load(&S.writers) - 1);
    pause_if(o);
    if (atomic_load(&S.readers) != 0 || atomic_load(&S.writers) != 1)
        fail("someone got in beside a writer");
    atomic_fetch_sub(&S.writers, 1);
    gort_rwmutex_unlock(&S.rw);
}

static void sem_cs(const struct op *o, bool try)
{
    int n = 1 + o->arg % SEM_SIZE;
    if (try) {
        if (!gort_sema_try_acquire(&S.sem, n))
            return;
    } else if (gort_sema_acquire(&S.sem, n) != 0) {
        fail("gort_sema_acquire(%d) failed", n);
    }
    int held = atomic_fetch_add(&S.sem_held, n) + n;
    if (held > SEM_SIZE)
        fail("%d units of %d held", held, SEM_SIZE);
    pause_if(o);
    atomic_fetch_sub(&S.sem_held, n);
    gort_sema_release(&S.sem, n);
}

/* ---- once, cond, waitgroup ---------------------------------------------- */

static void once_fn(void *arg)
{
    if (atomic_fetch_add(&S.once_runs, 1) != 0)
        fail("once ran twice");
    if (arg)
        gort_yield();
}

static void once_op(const struct op *o)
{
    gort_once_do(&S.once, once_fn, (o->flags & 1) ? &S : NULL);
    if (atomic_load(&S.once_runs) != 1)
        fail("gort_once_do returned with %d runs", atomic_load(&S.once_runs));
}

static void put(int id, bool broadcast)
{
    gort_mutex_lock(&S.mu);
    mu_enter(id);
    atomic_fetch_add(&S.tokens, 1);
    mu_leave(id);
    if (broadcast)
        gort_cond_broadcast(&S.cond);
    else
        gort_cond_signal(&S.cond);
    gort_mutex_unlock(&S.mu);
}

static void take(int id)
{
    gort_mutex_lock(&S.mu);
    mu_enter(id);
    while (atomic_load(&S.tokens) == 0) {
        mu_leave(id);
        gort_cond_wait(&S.cond, &S.mu);
        mu_enter(id);
    }
    atomic_fetch_sub(&S.tokens, 1);
    mu_leave(id);
    gort_mutex_unlock(&S.mu);
}

/* wg_done: a worker's Done, unless the main goroutine made it already. */
static void wg_done(void)
{
    int c = atomic_load(&S.wg_credit);
    while (c > 0)
        if (atomic_compare_exchange_weak(&S.wg_credit, &c, c - 1))
            return;
    atomic_fetch_sub(&S.wg_left, 1);
    gort_wg_done(&S.wg);
}

static void wg_wait(void)
{
    gort_wg_wait(&S.wg);
    if (atomic_load(&S.wg_left) != 0)
        fail("gort_wg_wait returned with %d Dones due",
             atomic_load(&S.wg_left));
}

static void run_op(struct worker *w, const struct op *o)
{
    switch (o->kind) {
    case LOCK: mutex_cs(w, o, false); break;
    case TRYLOCK: mutex_cs(w, o, true); break;
    case RLOCK: read_cs(o, false); break;
    case TRYRLOCK: read_cs(o, true); break;
    case WLOCK: write_cs(o, false); break;
    case TRYWLOCK: write_cs(o, true); break;
    case SEM: sem_cs(o, false); break;
    case TRYSEM: sem_cs(o, true); break;
    case ONCE: once_op(o); break;
    case PUT: put(w->id, o->flags & 2); break;
    case TAKE: take(w->id); break;
    case WG_DONE: wg_done(); break;
    default: wg_wait(); break;
    }
}

static void worker_fn(void *arg)
{
    struct worker *w = arg;
    atomic_store(&w->gp, gort__getg());
    for (int i = 0; i < w->n; i++) {
        atomic_store(&w->in_op, i + 1);
        atomic_fetch_add(&S.progress, 1);
        run_op(w, &w->ops[i]);
        atomic_store(&w->in_op, 0);
        atomic_fetch_add(&S.progress, 1);
    }
    atomic_store(&w->done, 1);
    atomic_fetch_add(&S.ndone, 1);
    atomic_fetch_add(&S.progress, 1);
}

/* ---- quiescence ---------------------------------------------------------- */

static bool parked(struct worker *w)
{
    struct g *gp = atomic_load(&w->gp);
    return gp && atomic_load(&gp->status) == G_WAITING;
}

/* quiescent: every unfinished worker is parked in an operation and
 * nothing moved while we looked. */
static bool quiescent(void)
{
    int p0 = atomic_load(&S.progress);
    for (int i = 0; i < S.ng; i++)
        if (!atomic_load(&S.w[i].done) &&
            (!atomic_load(&S.w[i].in_op) || !parked(&S.w[i])))
            return false;
    return atomic_load(&S.progress) == p0;
}

/* stuck_check: with everything parked, what each waits for is missing.
 * Returns a complaint, or NULL; *takers and *waiters count the goroutines
 * waiting for a token and for the waitgroup. */
static const char *stuck_check(int *takers, int *waiters)
{
    static char why[128];
    *takers = *waiters = 0;
    if (atomic_load(&S.owner) || atomic_load(&S.readers) ||
        atomic_load(&S.writers) || atomic_load(&S.sem_held))
        return "a lock is held with every goroutine parked";
    for (int i = 0; i < S.ng; i++) {
        struct worker *w = &S.w[i];
        if (atomic_load(&w->done))
            continue;
        int k = w->ops[atomic_load(&w->in_op) - 1].kind;
        if (k == TAKE && atomic_load(&S.tokens) == 0) {
            (*takers)++;
        } else if (k == WG_WAIT && atomic_load(&S.wg_left) > 0) {
            (*waiters)++;
        } else {
            snprintf(why, sizeof why, "lost wake-up: goroutine %d parked in "
                     "op %d (tokens %d, Dones due %d)", i, k,
                     atomic_load(&S.tokens), atomic_load(&S.wg_left));
            return why;
        }
    }
    return NULL;
}

/* unstick supplies what the parked goroutines wait for: a token, or a
 * Done (the main goroutine's own first, then a worker's in advance). */
static void unstick(int takers, int waiters)
{
    if (takers)
        put(MAXG, false); /* the main goroutine's id */
    if (waiters) {
        if (S.wg_extra > 0)
            S.wg_extra--;
        else
            atomic_fetch_add(&S.wg_credit, 1);
        atomic_fetch_sub(&S.wg_left, 1);
        gort_wg_done(&S.wg);
    }
}

static void settle(void)
{
    struct rt_stall st = {0};
    for (long q = 0; atomic_load(&S.ndone) != S.ng;) {
        if (rt_stalled(&st, atomic_load(&S.progress)))
            fail("nothing moved for 30 s, and not all parked");
        if (!quiescent()) {
            q = 0;
            gort_yield();
            continue;
        }
        if (++q < 3) {
            gort_sleep(20000);
            continue;
        }
        int p = atomic_load(&S.progress), takers, waiters;
        const char *e = stuck_check(&takers, &waiters);
        if (!quiescent() || atomic_load(&S.progress) != p) {
            q = 0;
            continue;
        }
        if (e)
            fail("%s", e);
        unstick(takers, waiters);
        q = 0;
    }
}

static void fuzz_main(void)
{
    int dones = 0;
    for (int i = 0; i < S.ng; i++)
        for (int k = 0; k < S.w[i].n; k++)
            dones += S.w[i].ops[k].kind == WG_DONE;
    atomic_store(&S.wg_left, dones + S.wg_extra);
    if (dones + S.wg_extra)
        gort_wg_add(&S.wg, dones + S.wg_extra);
    if (gort_sema_init(&S.sem, SEM_SIZE) != 0)
        fail("gort_sema_init");
    for (int i = 0; i < S.ng; i++)
        if (gort_go(worker_fn, &S.w[i]) != 0)
            fail("gort_go");
    settle();
    while (S.wg_extra-- > 0) {
        atomic_fetch_sub(&S.wg_left, 1);
        gort_wg_done(&S.wg);
    }
    if (atomic_load(&S.wg_left) != 0 || atomic_load(&S.wg_credit) != 0)
        fail("waitgroup: %d Dones due, %d made ahead at the end",
             atomic_load(&S.wg_left), atomic_load(&S.wg_credit));
    gort_wg_wait(&S.wg);
    int runs = atomic_load(&S.once_runs);
    bool used = false;
    for (int i = 0; i < S.ng; i++)
        for (int k = 0; k < S.w[i].n; k++)
            used |= S.w[i].ops[k].kind == ONCE;
    if (runs != used)
        fail("once ran %d times", runs);
}

/* decode: byte 0 the shape, then 3 bytes an operation: goroutine|kind,
 * flags (1: yield inside, 2: broadcast), argument. */
static bool decode(const uint8_t *d, size_t n)
{
    if (n < 1)
        return false;
    memset(&S, 0, sizeof S);
    S.ng = 1 + d[0] % MAXG;
    S.wg_extra = (d[0] >> 2) & 1;
    for (int g = 0; g < S.ng; g++)
        S.w[g].id = g;
    for (size_t i = 1; i + 3 <= n; i += 3) {
        struct worker *w = &S.w[(d[i] >> 4) % S.ng];
        if (w->n < MAXOPS)
            w->ops[w->n++] = (struct op){.kind = (d[i] & 15) % NKIND,
                                         .flags = d[i + 1], .arg = d[i + 2]};
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (decode(data, size))
        rt_call(fuzz_main);
    return 0;
}
