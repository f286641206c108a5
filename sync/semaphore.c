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
 *
 * Locking: _mu (a gort_mutex, may park) guards _cur and the list; a waiter
 * parks on its own ready word through sema.c after dropping _mu.
 *
 * See also: sync/sema.c, include/gort/sync.h, docs/sync.md.
 */
#include <errno.h>

#include "sema.h"

/* semwaiter is one goroutine (or thread) waiting for n units. */
struct semwaiter {
    int64_t n;
    uint32_t ready;          /* semaphore word released once served */
    struct semwaiter *next;
};

int gort_sema_init(gort_sema *s, int64_t n)
{
    if (s == NULL || n < 0)
        return -EINVAL;
    *s = (gort_sema)GORT_SEMA_INIT(n);
    return 0;
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
    struct semwaiter *tail = s->_tail;
    if (tail)
        tail->next = &w;
    else
        s->_head = &w;
    s->_tail = &w;
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
        if (s->_size - s->_cur < w->n)
            break; /* not enough for the head: keep FIFO, stop here */
        s->_cur += w->n;
        s->_head = w->next;
        if (s->_head == NULL)
            s->_tail = NULL;
        /* w may be gone once released: everything is read above. */
        gort__semrelease(&w->ready, false);
    }
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
