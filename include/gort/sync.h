/*
 * gort/sync.h: Go's package sync for goroutines (Go: sync, and the
 * weighted semaphore of golang.org/x/sync/semaphore).
 *
 * Every object here is ready to use when zero-initialised, as in Go
 * (`gort_mutex mu = {0};` or GORT_MUTEX_INIT), except gort_sema, which
 * needs its size (gort_sema_init or GORT_SEMA_INIT). The fields are
 * private: their names start with an underscore and their meaning may
 * change between releases. Do not copy an object after first use (Go's
 * vet rule "copylocks"; a copied gort_cond is detected and fatal).
 *
 * Blocking calls park the calling goroutine, never its thread. Called from
 * a thread the runtime does not own (a plain pthread, or main before
 * gort_run), they block that thread on a futex instead, so foreign threads
 * may share these objects with goroutines. Called from runtime code that is
 * not a goroutine (a scheduler thread, a timer callback) a call that would
 * block is a fatal error "gort: <call> called outside a goroutine".
 * docs/sync.md gives the details, the memory-model guarantees (the same as
 * Go's) and the porting notes.
 *
 * Misuse that Go reports as a fatal error or a panic prints Go's words on
 * stderr and exits with status 2.
 */
#ifndef GORT_SYNC_H
#define GORT_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef GORT_API
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Preemption points of the inline fast paths ------------------------ */

/*
 * Private, not for direct use. gort__preempt_hint is nonzero while sysmon
 * has asked a running goroutine to yield because its 10 ms time slice ran
 * out. The inline fast paths below load it (one load of a line nobody
 * writes meanwhile) and only then call gort__preempt_check, which yields
 * the caller if it is a goroutine that was asked. So a loop that only
 * locks and unlocks an uncontended mutex still lets the rest of its P run
 * (Go checks for preemption in every function prologue).
 */
GORT_API extern uint32_t gort__preempt_hint;
GORT_API void gort__preempt_check(void);

static inline void gort__preempt_point(void)
{
    if (__builtin_expect(__atomic_load_n(&gort__preempt_hint,
                                         __ATOMIC_RELAXED) != 0, 0))
        gort__preempt_check();
}

/* ---- Mutex -------------------------------------------------------------- */

/*
 * gort_mutex is Go's sync.Mutex: a mutual-exclusion lock with Go's two
 * modes. In normal mode waiters queue FIFO but a woken waiter competes with
 * newly arriving lockers (which usually win: they are on a CPU); a waiter
 * that fails to get the lock for more than 1 ms switches the mutex to
 * starvation mode, where Unlock hands ownership straight to the oldest
 * waiter. A gort_mutex is not tied to a goroutine: one may lock it and
 * another unlock it.
 */
typedef struct gort_mutex {
    int32_t _state;  /* locked | woken | starving bits, waiters << 3 */
    uint32_t _sema;  /* the semaphore waiters park on */
} gort_mutex;
#define GORT_MUTEX_INIT {0, 0}

/* Slow paths of the inline calls below; not for direct use. */
GORT_API void gort__mutex_lock_slow(gort_mutex *mu);
GORT_API void gort__mutex_unlock_slow(gort_mutex *mu, int32_t state);

/*
 * gort_mutex_lock locks mu (Go: Mutex.Lock). May park until mu is free.
 * The uncontended case is a single compare-and-swap, inlined.
 */
static inline void gort_mutex_lock(gort_mutex *mu)
{
    gort__preempt_point();
    int32_t unlocked = 0;
    /* CAS-acquire; pairs with the release in gort_mutex_unlock. */
    if (__builtin_expect(__atomic_compare_exchange_n(&mu->_state, &unlocked,
                                                     1, 0, __ATOMIC_ACQUIRE,
                                                     __ATOMIC_RELAXED),
                         1))
        return;
    gort__mutex_lock_slow(mu);
}

/*
 * gort_mutex_trylock locks mu if it is free and returns true, else returns
 * false at once (Go: Mutex.TryLock; it also fails in starvation mode, when
 * the lock belongs to the oldest waiter). Never parks.
 */
static inline bool gort_mutex_trylock(gort_mutex *mu)
{
    gort__preempt_point();
    int32_t old = __atomic_load_n(&mu->_state, __ATOMIC_RELAXED);
    if (old & 5) /* locked or starving */
        return false;
    /* CAS-acquire; pairs with the release in gort_mutex_unlock. */
    return __atomic_compare_exchange_n(&mu->_state, &old, old | 1, 0,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/*
 * gort_mutex_unlock unlocks mu (Go: Mutex.Unlock). Never parks, except that
 * in starvation mode the caller yields so the waiter it handed the lock to
 * runs at once. Unlocking an unlocked mutex is a fatal error:
 * "fatal error: sync: unlock of unlocked mutex".
 */
static inline void gort_mutex_unlock(gort_mutex *mu)
{
    /* add-release; pairs with the acquire in gort_mutex_lock. */
    int32_t state = __atomic_sub_fetch(&mu->_state, 1, __ATOMIC_RELEASE);
    if (__builtin_expect(state != 0, 0))
        gort__mutex_unlock_slow(mu, state);
}

/* ---- RWMutex ------------------------------------------------------------ */

/*
 * gort_rwmutex is Go's sync.RWMutex: any number of readers or one writer.
 * A writer waiting in gort_rwmutex_lock blocks new readers, so readers
 * cannot starve a writer (and recursive read locking can deadlock, as in
 * Go).
 */
typedef struct gort_rwmutex {
    gort_mutex _w;          /* held by the writer, pending or active */
    uint32_t _writer_sem;   /* the writer waits here for readers to leave */
    uint32_t _reader_sem;   /* readers wait here for the writer */
    int32_t _reader_count;  /* readers; minus 1<<30 while a writer is in */
    int32_t _reader_wait;   /* readers the pending writer waits for */
} gort_rwmutex;
#define GORT_RWMUTEX_INIT {GORT_MUTEX_INIT, 0, 0, 0, 0}

/* gort_rwmutex_rlock locks rw for reading (Go: RWMutex.RLock). May park
 * while a writer holds or waits for rw. */
GORT_API void gort_rwmutex_rlock(gort_rwmutex *rw);
/* gort_rwmutex_try_rlock read-locks rw and returns true if no writer holds
 * or waits for it, else returns false (Go: TryRLock). Never parks. */
GORT_API bool gort_rwmutex_try_rlock(gort_rwmutex *rw);
/* gort_rwmutex_runlock undoes one gort_rwmutex_rlock (Go: RUnlock). Never
 * parks. Without a read lock held: "fatal error: sync: RUnlock of unlocked
 * RWMutex". */
GORT_API void gort_rwmutex_runlock(gort_rwmutex *rw);
/* gort_rwmutex_lock locks rw for writing (Go: RWMutex.Lock). May park until
 * other writers and the readers already inside have left. */
GORT_API void gort_rwmutex_lock(gort_rwmutex *rw);
/* gort_rwmutex_trylock write-locks rw and returns true if it is free, else
 * returns false (Go: TryLock). Never parks. */
GORT_API bool gort_rwmutex_trylock(gort_rwmutex *rw);
/* gort_rwmutex_unlock releases the write lock and lets the readers that
 * waited in (Go: RWMutex.Unlock). Never parks. Without the write lock held:
 * "fatal error: sync: Unlock of unlocked RWMutex". */
GORT_API void gort_rwmutex_unlock(gort_rwmutex *rw);

/* ---- WaitGroup ---------------------------------------------------------- */

/*
 * gort_wg is Go's sync.WaitGroup: a counter of outstanding tasks. Adds that
 * start from zero must happen before gort_wg_wait; a gort_wg may be reused
 * once every wait of the previous round has returned.
 */
typedef struct gort_wg {
#ifdef __cplusplus
    alignas(8) uint64_t _state; /* counter << 32 | waiters */
#else
    _Alignas(8) uint64_t _state; /* counter << 32 | waiters */
#endif
    uint32_t _sema;
} gort_wg;
#define GORT_WG_INIT {0, 0}

/*
 * gort_wg_add adds delta (which may be negative) to the counter (Go:
 * WaitGroup.Add); at zero every waiter is released. Never parks.
 * A negative counter is a panic: "panic: sync: negative WaitGroup counter".
 * A positive delta while the counter is zero and goroutines wait is a
 * panic: "sync: WaitGroup misuse: Add called concurrently with Wait".
 */
GORT_API void gort_wg_add(gort_wg *wg, int delta);
/* gort_wg_done is gort_wg_add(wg, -1) (Go: WaitGroup.Done). */
GORT_API void gort_wg_done(gort_wg *wg);
/*
 * gort_wg_wait parks until the counter is zero (Go: WaitGroup.Wait); at
 * zero it returns at once. If the group is reused (a new Add) before this
 * wait has returned: "panic: sync: WaitGroup is reused before previous Wait
 * has returned".
 */
GORT_API void gort_wg_wait(gort_wg *wg);
/*
 * gort_wg_go adds 1 and starts fn(arg) in a new goroutine that calls
 * gort_wg_done when fn returns (Go 1.25: WaitGroup.Go). Does not park.
 * Returns 0, or gort_go's error (then the counter is left unchanged).
 */
GORT_API int gort_wg_go(gort_wg *wg, void (*fn)(void *), void *arg);
/*
 * gort_wg_go_copy is gort_wg_go with size bytes at args copied onto the
 * new goroutine's stack, as gort_go_copy does: fn receives a pointer to
 * the copy, which lives until fn returns (Go: wg.Go with a closure that
 * captured values). Does not park. Returns 0, or -EINVAL (wg or fn NULL,
 * args NULL with size > 0, size above GORT_GO_COPY_MAX) or gort_go's
 * error, the counter then unchanged.
 */
GORT_API int gort_wg_go_copy(gort_wg *wg, void (*fn)(void *),
                             const void *args, size_t size);

/* ---- Once --------------------------------------------------------------- */

/* gort_once is Go's sync.Once: runs a function once. */
typedef struct gort_once {
    uint32_t _done;  /* 1 once fn has returned */
    gort_mutex _m;   /* serialises the first callers */
} gort_once;
#define GORT_ONCE_INIT {0, GORT_MUTEX_INIT}

/* Slow path of gort_once_do; not for direct use. */
GORT_API void gort__once_do_slow(gort_once *o, void (*fn)(void *), void *arg);

/*
 * gort_once_do calls fn(arg) if and only if this is the first call of
 * gort_once_do on o (Go: Once.Do). Every caller returns only after fn has
 * returned, so fn's effects are visible to all of them. May park while
 * another goroutine runs fn. fn must not call gort_once_do on the same o
 * (deadlock, as in Go) and must return (gort_goexit inside fn leaves o
 * locked forever: Go would mark it done in a defer, C has none).
 */
static inline void gort_once_do(gort_once *o, void (*fn)(void *), void *arg)
{
    gort__preempt_point();
    /* load-acquire; pairs with the store-release after fn in once.c. */
    if (__builtin_expect(__atomic_load_n(&o->_done, __ATOMIC_ACQUIRE), 1))
        return;
    gort__once_do_slow(o, fn, arg);
}

/* ---- Cond --------------------------------------------------------------- */

/* Private: Go's runtime notifyList (tickets handed out and notified). */
struct gort__notifylist {
    uint32_t wait;   /* next ticket to hand out */
    uint32_t notify; /* next ticket to notify */
    void *head;      /* parked waiters, under the semaphore table's lock */
    void *tail;
};

/*
 * gort_cond is Go's sync.Cond: a rendezvous for goroutines waiting for or
 * announcing an event. Its mutex is passed to gort_cond_wait (Go stores it
 * in Cond.L). Copying a gort_cond after first use is detected:
 * "panic: sync.Cond is copied".
 */
typedef struct gort_cond {
    struct gort__notifylist _nl;
    uintptr_t _checker; /* its own address once used (Go: copyChecker) */
} gort_cond;
#define GORT_COND_INIT {{0, 0, NULL, NULL}, 0}

/*
 * gort_cond_wait unlocks mu, parks until woken by gort_cond_signal or
 * gort_cond_broadcast, and locks mu again before returning (Go: Cond.Wait).
 * The caller must hold mu. As in Go, wake-ups may be for a state that has
 * changed again: wait in a loop that checks the condition.
 */
GORT_API void gort_cond_wait(gort_cond *c, gort_mutex *mu);
/* gort_cond_wait_rw is gort_cond_wait with a write-locked gort_rwmutex (Go:
 * a Cond whose L is an RWMutex). */
GORT_API void gort_cond_wait_rw(gort_cond *c, gort_rwmutex *rw);
/* gort_cond_signal wakes the longest-waiting waiter, if any (Go:
 * Cond.Signal). Never parks; holding the mutex is allowed, not required. */
GORT_API void gort_cond_signal(gort_cond *c);
/* gort_cond_broadcast wakes every waiter (Go: Cond.Broadcast). Never
 * parks. */
GORT_API void gort_cond_broadcast(gort_cond *c);

/* ---- Weighted semaphore ------------------------------------------------- */

/*
 * gort_sema is a weighted semaphore (Go: golang.org/x/sync/semaphore
 * Weighted): `size` units that acquirers take n at a time. Waiters are
 * served strictly FIFO: a large request at the head blocks smaller ones
 * behind it, so it cannot starve.
 */
typedef struct gort_sema {
    int64_t _size;   /* units in all */
    int64_t _cur;    /* units held now */
    gort_mutex _mu;  /* protects _cur and the waiter list */
    void *_head;     /* FIFO of waiters (on their stacks) */
    void *_tail;
} gort_sema;
#define GORT_SEMA_INIT(n) {(n), 0, GORT_MUTEX_INIT, NULL, NULL}

/* gort_sema_init makes s a semaphore of n units, none held (Go:
 * semaphore.NewWeighted). Returns 0, or -EINVAL if s is NULL or n < 0. */
GORT_API int gort_sema_init(gort_sema *s, int64_t n);
/*
 * gort_sema_acquire takes n units, parking until they are free and every
 * earlier waiter is served (Go: Weighted.Acquire). Returns 0, or -EINVAL
 * if n < 0 or n exceeds the size (Go's Acquire would block until its
 * context ends). gort_sema_acquire_ctx (<gort/context.h>) is Go's
 * Acquire(ctx, n), which gives up when the context ends.
 */
GORT_API int gort_sema_acquire(gort_sema *s, int64_t n);
/* gort_sema_try_acquire takes n units and returns true if they are free and
 * nobody waits, else returns false (Go: Weighted.TryAcquire). Never
 * parks. */
GORT_API bool gort_sema_try_acquire(gort_sema *s, int64_t n);
/* gort_sema_release gives back n units and wakes the waiters that now fit
 * (Go: Weighted.Release). Never parks. Releasing more than is held is a
 * panic: "panic: semaphore: released more than held". */
GORT_API void gort_sema_release(gort_sema *s, int64_t n);

/* ---- Pool --------------------------------------------------------------- */

/*
 * gort_pool is Go's sync.Pool: a cache of reusable objects, with a private
 * slot and a bounded shared stack per processor (P), so Get and Put on one
 * P touch no shared cache line. Go drops pooled objects at garbage
 * collection; gort has no GC, so the memory a pool holds is bounded
 * instead: at most GORT_POOL_PER_P objects per P. A Put beyond that drops
 * the object, calling free_fn (if set) on it; gort_pool_destroy drops the
 * rest. Set the public fields, or use GORT_POOL_INIT / gort_pool_init; a
 * zero pool works (Get returns NULL when empty, drops are not freed).
 */
#define GORT_POOL_PER_P 33 /* 1 private + 32 shared */
typedef struct gort_pool {
    void *(*new_fn)(void *arg);           /* Go: New; may be NULL */
    void (*free_fn)(void *item, void *arg); /* called on dropped items */
    void *arg;                            /* passed to both */
    void *_locals;                        /* per-P caches, made on first use */
} gort_pool;
#define GORT_POOL_INIT(new_fn, free_fn, arg) {(new_fn), (free_fn), (arg), NULL}

/* gort_pool_init sets p's functions and empties it (p must not hold
 * objects: destroy a used pool first). Returns 0, or -EINVAL if p is
 * NULL. */
GORT_API int gort_pool_init(gort_pool *p, void *(*new_fn)(void *arg),
                            void (*free_fn)(void *item, void *arg), void *arg);
/*
 * gort_pool_get takes an object from the pool: the caller's P's private
 * slot, then its shared stack, then other Ps' stacks; when all are empty it
 * returns new_fn(arg), or NULL without new_fn (Go: Pool.Get). Never parks
 * (new_fn may).
 */
GORT_API void *gort_pool_get(gort_pool *p);
/* gort_pool_put puts x in the caller's P's cache; if that is full, x is
 * dropped (free_fn is called on it). NULL is ignored (Go: Pool.Put). Never
 * parks. */
GORT_API void gort_pool_put(gort_pool *p, void *x);
/* gort_pool_destroy drops every cached object (free_fn on each) and frees
 * the per-P caches; p is then empty and reusable. No goroutine may use p
 * during the call. */
GORT_API void gort_pool_destroy(gort_pool *p);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GORT_SYNC_H */
