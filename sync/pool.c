/*
 * pool.c: gort_pool, a per-P cache of reusable objects (Go:
 * sync/pool.go).
 *
 * Each P has a poollocal: a private slot only that P touches, and a small
 * shared stack that other Ps may steal from. Get tries the private slot,
 * its own shared stack (top), other Ps' stacks in order (pid+i+1)%n, then
 * new_fn. Go keeps the shared part unbounded (a lock-free chain of rings)
 * and lets the GC empty the pool; gort has no GC, so each P holds at most
 * GORT_POOL_PER_P objects and a Put beyond that drops the object (free_fn).
 *
 * Invariants:
 *  - The private slot of P i is touched only by the goroutine running on
 *    P i, with the M pinned (m->locks > 0, Go: procPin) so the goroutine
 *    cannot be preempted onto another P in between. Foreign threads have
 *    no P and use only the shared stacks (of slot 0 when putting).
 *  - locals[i] is created once (CAS) and lives until gort_pool_destroy;
 *    nlocal is one past the highest index created.
 *
 * Locking: poollocal.lock (a runtime lock, held for a few instructions,
 * never across new_fn/free_fn) guards the shared stack. Stealers use
 * trylock and skip a busy P.
 *
 * See also: include/gort/sync.h, docs/sync.md.
 */
#include <errno.h>
#include <stdlib.h>

#include "../runtime/sema.h"

enum { SHARED_CAP = GORT_POOL_PER_P - 1 };

/* poollocal is one P's cache, alone on its cache lines (Go pads to 128). */
struct poollocal {
    _Alignas(128) void *private_; /* owner P only, pinned */
    struct lock lock;             /* guards n and shared */
    uint32_t n;
    void *shared[SHARED_CAP];
};

/* poollocals is what gort_pool._locals points at. */
struct poollocals {
    _Atomic int32_t nlocal;
    struct poollocal *_Atomic local[GORT_MAXPROCS_LIMIT];
};

static struct poollocals *locals_of(gort_pool *p)
{
    /* load-acquire; pairs with the CAS-release below. */
    struct poollocals *ls = __atomic_load_n((struct poollocals **)&p->_locals,
                                            __ATOMIC_ACQUIRE);
    if (ls)
        return ls;
    struct poollocals *fresh = calloc(1, sizeof *fresh);
    if (fresh == NULL)
        return NULL; /* out of memory: the pool acts as if empty/full */
    if (__atomic_compare_exchange_n((struct poollocals **)&p->_locals, &ls,
                                    fresh, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return fresh;
    free(fresh);
    return ls;
}

/* local_at returns (creating if asked) the cache of P index i. */
static struct poollocal *local_at(struct poollocals *ls, int32_t i,
                                  bool create)
{
    struct poollocal *l = atomic_load_explicit(&ls->local[i],
                                               memory_order_acquire);
    if (l || !create)
        return l;
    struct poollocal *fresh = aligned_alloc(128, sizeof *fresh);
    if (fresh == NULL)
        return NULL;
    *fresh = (struct poollocal){0};
    gort__lock_init(&fresh->lock, LOCKRANK_POOL);
    /* CAS-release publishes the zeroed struct; pairs with the acquire. */
    if (!atomic_compare_exchange_strong(&ls->local[i], &l, fresh)) {
        free(fresh);
        return l;
    }
    int32_t n = atomic_load(&ls->nlocal);
    while (n < i + 1 && !atomic_compare_exchange_weak(&ls->nlocal, &n, i + 1))
        ;
    return fresh;
}

/* pin pins the caller to its P and returns the P's index, or -1 on a
 * thread without a P (Go: procPin). */
static int32_t pin(struct m **mpp)
{
    struct m *mp = gort__getm();
    *mpp = mp;
    if (mp == NULL || mp->p == NULL)
        return -1;
    mp->locks++; /* no preemption until unpin */
    return mp->p->id;
}

static void unpin(struct m *mp, int32_t pid)
{
    if (pid >= 0)
        mp->locks--;
}

static bool shared_push(struct poollocal *l, void *x)
{
    gort__lock(&l->lock);
    uint32_t n = l->n;
    bool ok = n < SHARED_CAP;
    if (ok) {
        l->shared[n] = x;
        /* store-relaxed: thieves peek at n without the lock (shared_pop) */
        __atomic_store_n(&l->n, n + 1, __ATOMIC_RELAXED);
    }
    gort__unlock(&l->lock);
    return ok;
}

static void *shared_pop(struct poollocal *l, bool steal)
{
    if (steal) {
        if (__atomic_load_n(&l->n, __ATOMIC_RELAXED) == 0 ||
            !gort__trylock(&l->lock))
            return NULL; /* empty or busy: try the next P */
    } else {
        gort__lock(&l->lock);
    }
    uint32_t n = l->n;
    void *x = NULL;
    if (n > 0) {
        x = l->shared[n - 1];
        __atomic_store_n(&l->n, n - 1, __ATOMIC_RELAXED);
    }
    gort__unlock(&l->lock);
    return x;
}

void gort_pool_put(gort_pool *p, void *x)
{
    RT_ENTRY();
    if (x == NULL)
        return;
    struct poollocals *ls = locals_of(p);
    struct m *mp;
    int32_t pid = pin(&mp);
    struct poollocal *l = ls ? local_at(ls, pid < 0 ? 0 : pid, true) : NULL;
    bool kept = false;
    if (l && pid >= 0 && l->private_ == NULL) {
        l->private_ = x;
        kept = true;
    } else if (l) {
        kept = shared_push(l, x);
    }
    unpin(mp, pid);
    if (!kept && p->free_fn)
        p->free_fn(x, p->arg); /* the bound: drop it */
}

void *gort_pool_get(gort_pool *p)
{
    RT_ENTRY();
    struct poollocals *ls = locals_of(p);
    void *x = NULL;
    if (ls) {
        struct m *mp;
        int32_t pid = pin(&mp);
        struct poollocal *l = pid >= 0 ? local_at(ls, pid, false) : NULL;
        if (l) {
            x = l->private_;
            l->private_ = NULL;
            if (x == NULL)
                x = shared_pop(l, false);
        }
        if (x == NULL) {
            /* Steal from the others (Go: getSlow), starting after us. */
            int32_t n = atomic_load_explicit(&ls->nlocal,
                                             memory_order_acquire);
            int32_t start = pid < 0 ? 0 : pid + 1;
            for (int32_t i = 0; i < n && x == NULL; i++) {
                struct poollocal *v = local_at(ls, (start + i) % n, false);
                if (v && v != l)
                    x = shared_pop(v, true);
            }
        }
        unpin(mp, pid);
    }
    if (x == NULL && p->new_fn)
        x = p->new_fn(p->arg);
    return x;
}

int gort_pool_init(gort_pool *p, void *(*new_fn)(void *arg),
                   void (*free_fn)(void *item, void *arg), void *arg)
{
    if (p == NULL)
        return -EINVAL;
    *p = (gort_pool)GORT_POOL_INIT(new_fn, free_fn, arg);
    return 0;
}

void gort_pool_destroy(gort_pool *p)
{
    RT_ENTRY();
    struct poollocals *ls = p->_locals;
    if (ls == NULL)
        return;
    p->_locals = NULL;
    for (int32_t i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        struct poollocal *l = atomic_load(&ls->local[i]);
        if (l == NULL)
            continue;
        if (l->private_ && p->free_fn)
            p->free_fn(l->private_, p->arg);
        for (uint32_t j = 0; j < l->n && p->free_fn; j++)
            p->free_fn(l->shared[j], p->arg);
        free(l);
    }
    free(ls);
}
