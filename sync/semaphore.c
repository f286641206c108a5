/*
 * semaphore.c: gort_sema, the weighted semaphore (Go:
 * golang.org/x/sync/semaphore, Weighted).
 *
 * Invariants:
 *  - 0 <= _cur <= _size, under _mu.
 *  - Waiters form a FIFO under _mu; each record lives on its waiter's stack
 *    until the waiter returns. A waiter is removed from the list, and its
 *    units added to _cur, by the releaser that wakes it, so a woken waiter
 *    owns its units (no barging past the head: a large request at the head
 *    blocks smaller ones behind it, which is what keeps it from starving).
 *  - Acquire takes the fast path only when nobody waits.
 *  - A waiter of gort_sema_acquire_ctx also watches its context (ctx.h):
 *    the releaser and the watcher race on w->state and only the winner
 *    releases w->ready; a canceled waiter unlinks itself (or a releaser
 *    skips it) under _mu and takes no units.
 *
 * Locking: _mu (a gort_mutex, may park) guards _cur and the list; a waiter
 * parks on its own ready word through sema.c after dropping _mu. The
 * context watcher fires under the context's lock and takes no _mu.
 *
 * See also: runtime/sema.c, include/gort/sync.h, docs/sync.md.
 */
#include <errno.h>

#include "../ctx/ctx.h"
#include "../runtime/sema.h"

/* semwaiter is one goroutine (or thread) waiting for n units. A waiter
 * of gort_sema_acquire_ctx may be canceled: whoever moves state from
 * W_WAIT (the releaser to W_SERVED, the context's watcher to W_CANCELED)
 * releases `ready`, so it is released once. A canceled waiter stays on
 * the list until it or a releaser unlinks it under _mu (queued false). */
enum { W_WAIT, W_SERVED, W_CANCELED };
struct semwaiter {
    int64_t n;
    uint32_t ready;          /* semaphore word released once served */
    struct semwaiter *next;
    _Atomic uint32_t state;  /* W_* */
    bool queued;             /* on the list (_mu) */
    struct ctx_node node;    /* the context watcher (acquire_ctx) */
};

int gort_sema_init(gort_sema *s, int64_t n)
{
    if (s == NULL || n < 0)
        return -EINVAL;
    *s = (gort_sema)GORT_SEMA_INIT(n);
    return 0;
}

/* enqueue appends w to the FIFO. Caller holds s->_mu. */
static void enqueue(gort_sema *s, struct semwaiter *w)
{
    struct semwaiter *tail = s->_tail;
    if (tail)
        tail->next = w;
    else
        s->_head = w;
    s->_tail = w;
    w->queued = true;
}

int gort_sema_acquire(gort_sema *s, int64_t n)
{
    RT_ENTRY();
    if (n < 0)
        return -EINVAL;
    gort_mutex_lock(&s->_mu);
    if (s->_size - s->_cur >= n && s->_head == NULL) {
        s->_cur += n;
        gort_mutex_unlock(&s->_mu);
        return 0;
    }
    if (n > s->_size) {
        /* Go blocks until its context ends; without a context that is
         * forever, so report the misuse instead. */
        gort_mutex_unlock(&s->_mu);
        return -EINVAL;
    }
    gort__sync_check_block(
        "gort: gort_sema_acquire called outside a goroutine");
    struct semwaiter w = {.n = n};
    enqueue(s, &w);
    gort_mutex_unlock(&s->_mu);
    gort__semacquire(&w.ready, false, WAIT_SEMACQUIRE);
    return 0;
}

bool gort_sema_try_acquire(gort_sema *s, int64_t n)
{
    RT_ENTRY();
    if (n < 0)
        return false;
    gort_mutex_lock(&s->_mu);
    bool ok = s->_size - s->_cur >= n && s->_head == NULL;
    if (ok)
        s->_cur += n;
    gort_mutex_unlock(&s->_mu);
    return ok;
}

/* notify_waiters serves waiters from the head while their units fit (Go:
 * notifyWaiters). Caller holds s->_mu. */
static void notify_waiters(gort_sema *s)
{
    struct semwaiter *w;
    while ((w = s->_head) != NULL) {
        bool canceled = atomic_load(&w->state) == W_CANCELED;
        if (!canceled && s->_size - s->_cur < w->n)
            break; /* not enough for the head: keep FIFO, stop here */
        s->_head = w->next;
        if (s->_head == NULL)
            s->_tail = NULL;
        w->queued = false;
        uint32_t wait = W_WAIT;
        if (canceled || !atomic_compare_exchange_strong(&w->state, &wait,
                                                        W_SERVED))
            continue; /* its context won: it leaves without units */
        s->_cur += w->n;
        /* w may be gone once released: everything is read above. */
        gort__semrelease(&w->ready, false);
    }
}

/* unlink removes w from the FIFO if it is still there. Caller holds
 * s->_mu. */
static void unlink_waiter(gort_sema *s, struct semwaiter *w)
{
    if (!w->queued)
        return;
    struct semwaiter *prev = NULL, *it = s->_head;
    while (it != w) {
        prev = it;
        it = it->next;
    }
    if (prev)
        prev->next = w->next;
    else
        s->_head = w->next;
    if (s->_tail == w)
        s->_tail = prev;
    w->queued = false;
}

/* sem_fire: the waiter's context was canceled (under the ctx lock, on
 * any thread): wake the waiter unless a releaser served it first. */
static void sem_fire(struct ctx_node *n, int err, int cause)
{
    (void)err;
    (void)cause;
    struct semwaiter *w = (struct semwaiter *)(void *)((char *)n -
                                            offsetof(struct semwaiter, node));
    uint32_t wait = W_WAIT;
    if (atomic_compare_exchange_strong(&w->state, &wait, W_CANCELED))
        gort__semrelease(&w->ready, false);
}

int gort_sema_acquire_ctx(gort_sema *s, int64_t n, gort_ctx *ctx)
{
    RT_ENTRY();
    if (n < 0 || s == NULL || ctx == NULL)
        return -EINVAL;
    gort_mutex_lock(&s->_mu);
    /* A context done before the call, or while we waited for _mu,
     * fails it even if units are free (Go prefers to fail early). */
    int err = gort_ctx_err(ctx);
    if (err != 0 || (s->_size - s->_cur >= n && s->_head == NULL)) {
        if (err == 0)
            s->_cur += n;
        gort_mutex_unlock(&s->_mu);
        return err;
    }
    if (n > s->_size) {
        /* It can never be served: wait for the context, as Go does. */
        gort_mutex_unlock(&s->_mu);
        return gort_ctx_select(ctx, NULL, 0);
    }
    gort__sync_check_block(
        "gort: gort_sema_acquire_ctx called outside a goroutine");
    struct semwaiter w = {.n = n, .node.fire = sem_fire};
    enqueue(s, &w);
    gort_ctx *owner = gort__ctx_watch(ctx, &w.node, &err);
    if (err != 0) /* canceled after the check: never parked */
        atomic_store(&w.state, W_CANCELED);
    gort_mutex_unlock(&s->_mu);
    if (err == 0)
        gort__semacquire(&w.ready, false, WAIT_SEMACQUIRE);
    /* After this, sem_fire is done or will never run: w may go. */
    gort__ctx_unwatch(owner, &w.node);
    if (atomic_load(&w.state) == W_SERVED)
        return 0;
    gort_mutex_lock(&s->_mu);
    unlink_waiter(s, &w);
    notify_waiters(s); /* we may have held up the ones behind us */
    gort_mutex_unlock(&s->_mu);
    return gort_ctx_err(ctx);
}

void gort_sema_release(gort_sema *s, int64_t n)
{
    RT_ENTRY();
    if (n < 0)
        gort__panic("gort: gort_sema_release with a negative count");
    gort_mutex_lock(&s->_mu);
    s->_cur -= n;
    if (s->_cur < 0) {
        gort_mutex_unlock(&s->_mu);
        gort__panic("semaphore: released more than held");
    }
    notify_waiters(s);
    gort_mutex_unlock(&s->_mu);
}
