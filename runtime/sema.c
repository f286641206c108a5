/*
 * sema.c: the semaphore table and notify lists (Go: runtime/sema.go): where
 * sync objects and the poller's fd locks park and wake goroutines. It
 * sits in runtime/, as in Go, so that sync/ and netpoll/ both use it.
 *
 * Invariants:
 *  - A root's `heads` list holds one record per distinct address with
 *    waiters; the other waiters for that address hang off the head in FIFO
 *    order through wnext, and the head's wtail points at the last one (the
 *    head itself when alone). Go keeps the heads in a treap; a list is
 *    enough here because few distinct addresses share one of 251 roots.
 *  - root.nwait counts the records queued on the root (all addresses),
 *    plus acquirers between their increment and their re-check. It is read
 *    without the lock by releasers: the release increments *addr before
 *    reading nwait and the acquirer increments nwait before re-reading
 *    *addr, both sequentially consistent, so one of them sees the other
 *    (Dekker) and no wake-up is lost.
 *  - A wait record lives on the waiter's stack. The waker reads what it
 *    needs from it before waking it and never touches it afterwards (a
 *    thread waiter's futex word excepted: waking a stale futex address is
 *    harmless, as with Go's notes).
 *  - A woken semaphore waiter owns a unit only if ticket == 1 (handoff);
 *    otherwise it competes again (and may park again: a wake-up is a hint).
 *
 * Locking: root.lock (rank "sema root", runtime.h) guards heads and the
 * notify lists hashed to the root. It is a leaf: nothing else is locked
 * under it and gort__ready is called after dropping it.
 *
 * See also: runtime/sema.h, runtime/runtime.h (gort__park_unlock,
 * gort__ready), docs/sync.md.
 */
#include "sema.h"
#include "trace.h"

#include <stdatomic.h>
#include <stddef.h>

/* Go: semTabSize. A prime, so addresses spread over all roots. */
enum { SEM_TAB_SIZE = 251 };

/* semawaiter is one parked waiter (Go: sudog, as used by sema.go). */
struct semawaiter {
    struct g *g;               /* the goroutine, or NULL for a thread */
    _Atomic uint32_t woken;    /* thread waiters: futex word, 1 when woken */
    uint32_t *addr;            /* semaphore or notify list waited on */
    struct semawaiter *next;   /* next head in the root / next in notify list */
    struct semawaiter *wnext;  /* next waiter for the same address */
    struct semawaiter *wtail;  /* heads only: last waiter for the address */
    uint32_t ticket;           /* sema: 1 = unit handed over; notify: ticket */
};

/* semaroot is one bucket of the table, alone on its cache line. */
struct semaroot {
    _Alignas(64) struct lock lock;
    struct semawaiter *heads;  /* under lock */
    _Atomic uint32_t nwait;    /* see Invariants */
};

static struct semaroot semtable[SEM_TAB_SIZE] = {
    [0 ... SEM_TAB_SIZE - 1] = {.lock = LOCK_INIT(LOCKRANK_SEMA)},
};

static struct semaroot *semroot(const void *addr)
{
    return &semtable[((uintptr_t)addr >> 3) % SEM_TAB_SIZE];
}

/* cansemacquire takes a unit of *addr if there is one (Go: cansemacquire).
 * Sequentially consistent: part of the Dekker pair with nwait. */
static bool cansemacquire(uint32_t *addr)
{
    uint32_t v = __atomic_load_n(addr, __ATOMIC_SEQ_CST);
    while (v != 0) {
        if (__atomic_compare_exchange_n(addr, &v, v - 1, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return true;
    }
    return false;
}

/* root_queue adds s to r's waiters for addr, at the back or (lifo) at the
 * front (Go: semaRoot.queue). Caller holds r->lock. */
static void root_queue(struct semaroot *r, uint32_t *addr,
                       struct semawaiter *s, bool lifo)
{
    ASSERT_HELD(&r->lock);
    s->addr = addr;
    s->wnext = NULL;
    s->wtail = s;
    for (struct semawaiter **pp = &r->heads; *pp; pp = &(*pp)->next) {
        struct semawaiter *h = *pp;
        if (h->addr != addr)
            continue;
        if (lifo) {
            /* s becomes the head and takes over h's place and list. */
            s->next = h->next;
            s->wnext = h;
            s->wtail = h->wtail;
            h->next = NULL;
            *pp = s;
        } else {
            h->wtail->wnext = s;
            h->wtail = s;
            s->next = NULL;
        }
        return;
    }
    s->next = r->heads;
    r->heads = s;
}

/* root_dequeue removes and returns the first waiter for addr, or NULL
 * (Go: semaRoot.dequeue). Caller holds r->lock. */
static struct semawaiter *root_dequeue(struct semaroot *r, uint32_t *addr)
{
    ASSERT_HELD(&r->lock);
    for (struct semawaiter **pp = &r->heads; *pp; pp = &(*pp)->next) {
        struct semawaiter *h = *pp;
        if (h->addr != addr)
            continue;
        struct semawaiter *n = h->wnext;
        if (n) {
            n->next = h->next;
            n->wtail = h->wtail;
            *pp = n;
        } else {
            *pp = h->next;
        }
        h->next = h->wnext = NULL;
        return h;
    }
    return NULL;
}

/* wait_on parks s's goroutine, or sleeps s's thread, releasing r->lock once
 * the waiter is safely off its stack (or, for a thread, at once: the woken
 * word cannot miss the store that precedes the futex wake). */
static void wait_on(struct semaroot *r, struct semawaiter *s,
                    enum waitreason reason)
{
    if (s->g) {
        if (TRACE_ON()) /* the park names the user's word, not r */
            gort__trace_park_obj(s->addr);
        gort__park_unlock(&r->lock, reason);
        return;
    }
    gort__unlock(&r->lock);
    /* load-acquire; pairs with the store-release in wake. */
    while (atomic_load_explicit(&s->woken, memory_order_acquire) == 0)
        gort__futex_wait(&s->woken, 0, -1);
}

/* wake readies s's goroutine or wakes its thread. s may be gone when this
 * returns. */
static void wake(struct semawaiter *s)
{
    struct g *gp = s->g;
    if (gp) {
        gort__ready(gp);
        return;
    }
    /* store-release; pairs with the load-acquire in wait_on. */
    atomic_store_explicit(&s->woken, 1, memory_order_release);
    gort__futex_wake(&s->woken, 1);
}

static const char *block_msg(enum waitreason reason)
{
    switch (reason) {
    case WAIT_MUTEX:
        return "gort: gort_mutex_lock called outside a goroutine";
    case WAIT_RWMUTEX_R:
        return "gort: gort_rwmutex_rlock called outside a goroutine";
    case WAIT_RWMUTEX_W:
        return "gort: gort_rwmutex_lock called outside a goroutine";
    case WAIT_WAITGROUP:
        return "gort: gort_wg_wait called outside a goroutine";
    case WAIT_COND:
        return "gort: gort_cond_wait called outside a goroutine";
    default:
        return "gort: gort_sema_acquire called outside a goroutine";
    }
}

void gort__sync_check_block(const char *fatal_msg)
{
    if (gort__getg() == NULL && gort__getm() != NULL)
        gort__throw(fatal_msg);
}

/* A goroutine parks; a foreign thread sleeps; g0 must not block. */
static struct g *waiter_g(enum waitreason reason)
{
    struct g *gp = gort__getg();
    if (gp == NULL && gort__getm() != NULL)
        gort__throw(block_msg(reason));
    return gp;
}

void gort__semacquire(uint32_t *addr, bool lifo, enum waitreason reason)
{
    if (cansemacquire(addr))
        return;
    struct semawaiter s = {.g = waiter_g(reason)};
    struct semaroot *r = semroot(addr);
    for (;;) {
        gort__lock(&r->lock);
        /* seq_cst; the Dekker partner of the load in gort__semrelease. */
        atomic_fetch_add(&r->nwait, 1);
        if (cansemacquire(addr)) {
            atomic_fetch_sub(&r->nwait, 1);
            gort__unlock(&r->lock);
            return;
        }
        s.ticket = 0;
        atomic_store_explicit(&s.woken, 0, memory_order_relaxed);
        root_queue(r, addr, &s, lifo);
        wait_on(r, &s, reason);
        if (s.ticket != 0 || cansemacquire(addr))
            return;
        /* Woken without the unit: someone barged in. Wait again, at the
         * front if asked (Go does the same). */
    }
}

void gort__semrelease(uint32_t *addr, bool handoff)
{
    struct semaroot *r = semroot(addr);
    /* seq_cst; the Dekker partner of the nwait increment above. */
    __atomic_fetch_add(addr, 1, __ATOMIC_SEQ_CST);
    if (atomic_load(&r->nwait) == 0)
        return;
    gort__lock(&r->lock);
    if (atomic_load(&r->nwait) == 0) {
        gort__unlock(&r->lock);
        return;
    }
    struct semawaiter *s = root_dequeue(r, addr);
    if (s)
        atomic_fetch_sub(&r->nwait, 1);
    gort__unlock(&r->lock);
    if (!s)
        return;
    if (s->ticket != 0)
        gort__throw("corrupted semaphore ticket");
    bool handed = handoff && cansemacquire(addr);
    if (handed)
        s->ticket = 1;
    wake(s);
    /* Direct handoff (Go: goyield in semrelease1): the waiter sits in our
     * runnext slot; yield so it runs now rather than after our slice. */
    if (handed && gort__getg() != NULL)
        gort_yield();
}

/* ---- Notify lists (Go: notifyList, for sync.Cond) ----------------------- */

/* less reports whether ticket a comes before b, with wrap-around. */
static bool less(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

uint32_t gort__notifylist_add(struct gort__notifylist *l)
{
    /* seq_cst; ordered before the caller's unlock of its mutex. */
    return __atomic_fetch_add(&l->wait, 1, __ATOMIC_SEQ_CST);
}

void gort__notifylist_wait(struct gort__notifylist *l, uint32_t t,
                           enum waitreason reason)
{
    struct g *gp = waiter_g(reason);
    struct semaroot *r = semroot(l);
    gort__lock(&r->lock);
    /* notify only changes under the lock; a relaxed read suffices. */
    if (less(t, __atomic_load_n(&l->notify, __ATOMIC_RELAXED))) {
        gort__unlock(&r->lock);
        return;
    }
    struct semawaiter s = {.g = gp, .ticket = t};
    s.addr = &l->notify;
    struct semawaiter *tail = l->tail;
    if (tail)
        tail->next = &s;
    else
        l->head = &s;
    l->tail = &s;
    wait_on(r, &s, reason);
}

void gort__notifylist_notify_all(struct gort__notifylist *l)
{
    /* Fast path: nobody took a ticket since the last notification. */
    if (__atomic_load_n(&l->wait, __ATOMIC_SEQ_CST) ==
        __atomic_load_n(&l->notify, __ATOMIC_SEQ_CST))
        return;
    struct semaroot *r = semroot(l);
    gort__lock(&r->lock);
    struct semawaiter *s = l->head;
    l->head = l->tail = NULL;
    __atomic_store_n(&l->notify, __atomic_load_n(&l->wait, __ATOMIC_SEQ_CST),
                     __ATOMIC_SEQ_CST);
    gort__unlock(&r->lock);
    while (s) {
        struct semawaiter *next = s->next;
        s->next = NULL;
        wake(s);
        s = next;
    }
}

void gort__notifylist_notify_one(struct gort__notifylist *l)
{
    if (__atomic_load_n(&l->wait, __ATOMIC_SEQ_CST) ==
        __atomic_load_n(&l->notify, __ATOMIC_SEQ_CST))
        return;
    struct semaroot *r = semroot(l);
    gort__lock(&r->lock);
    uint32_t t = l->notify;
    if (t == __atomic_load_n(&l->wait, __ATOMIC_SEQ_CST)) {
        gort__unlock(&r->lock);
        return;
    }
    __atomic_store_n(&l->notify, t + 1, __ATOMIC_SEQ_CST);
    /* The waiter with ticket t may not have queued yet (it is between
     * notifylist_add and notifylist_wait); then it sees notify > t and
     * does not park. Tickets may be out of order in the list. */
    struct semawaiter *p = NULL;
    for (struct semawaiter *s = l->head; s; p = s, s = s->next) {
        if (s->ticket != t)
            continue;
        struct semawaiter *n = s->next;
        if (p)
            p->next = n;
        else
            l->head = n;
        if (!n)
            l->tail = p;
        gort__unlock(&r->lock);
        s->next = NULL;
        wake(s);
        return;
    }
    gort__unlock(&r->lock);
}
