/*
 * chan.c: channels (Go: runtime/chan.go): make, send, receive, close, the
 * non-blocking forms, len/cap and reference counting.
 *
 * Invariants:
 *  - At least one of c->sendq and c->recvq is empty. Buffered: qcount > 0
 *    implies recvq is empty; qcount < dataqsiz implies sendq is empty.
 *  - A sudog lives on its goroutine's stack and is linked into a wait queue
 *    only while that goroutine is parked (or, for a select, until its
 *    clean-up pass): stacks never move, so no sudog is ever allocated.
 *  - A sudog is completed (success set, gp->param = sudog) by exactly one
 *    waker, under the channel lock, before the goroutine is readied.
 *  - closed goes 0 -> 1 once, under the lock; a closed channel has no
 *    waiting senders and gets no new waiters.
 *
 * Locking: one c->lock per operation (struct chanlock, chan.h: a spinlock
 * held only for a few loads and a memcpy, never across a park;
 * chanparkcommit drops it once the goroutine is off its stack). While
 * one P runs alone its thread takes it with plain stores, other Ps'
 * threads revoke that first, and threads without a P count themselves
 * (chan.h, "Plain channel locks"): every locker says which it is
 * (chan_caller_p).
 * gort__ready is called after the lock is dropped. select.c holds
 * several channel locks, in address order (docs/channels.md). Lock-free
 * reads: the fast-fail paths of the
 * non-blocking calls and gort_chan_len read qcount, closed and
 * recvq/sendq.first atomically, as Go's do.
 *
 * See also: chan/chan.h (types, shared helpers), chan/select.c,
 * docs/channels.md, Go's src/runtime/chan.go.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"

/* The ring starts at this alignment after the header, enough for any
 * element type (max_align_t). */
#define CHAN_BUF_ALIGN alignof(max_align_t)
#define CHAN_HDR_SIZE                                                        \
    ((sizeof(struct hchan) + CHAN_BUF_ALIGN - 1) & ~(CHAN_BUF_ALIGN - 1))

gort_chan *gort_chan_make(size_t elem_size, size_t cap)
{
    size_t bytes;
    if (elem_size >= CHAN_MAX_ELEM)
        return NULL; /* Go: "makechan: invalid channel element type" */
    if (__builtin_mul_overflow(elem_size, cap, &bytes) ||
        bytes > SIZE_MAX / 2 - CHAN_HDR_SIZE)
        return NULL; /* Go: "makechan: size out of range" */
    struct hchan *c = malloc(CHAN_HDR_SIZE + bytes);
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof *c);
    c->elemsize = (uint32_t)elem_size;
    c->dataqsiz = cap;
    /* With no bytes to hold, buf points at the channel itself so slot
     * addresses stay valid (Go does the same for zero-size elements). */
    c->buf = bytes != 0 ? (char *)c + CHAN_HDR_SIZE : (char *)c;
    atomic_init(&c->refs, 1);
    return (gort_chan *)(void *)c;
}

void gort__chan_destroy(struct hchan *c)
{
    free(c);
}

gort_chan *gort_chan_retain(gort_chan *ch)
{
    if (ch != NULL) /* fetch_add relaxed: a holder already owns one */
        atomic_fetch_add_explicit(&hchan_of(ch)->refs, 1,
                                  memory_order_relaxed);
    return ch;
}

/* has_blocked_waiters reports whether a goroutine is really blocked on c:
 * a plain waiter, or a select's sudog that no case has won yet. Caller
 * holds c->lock. */
static bool has_blocked_waiters(struct hchan *c)
{
    struct waitq *qs[2] = {&c->recvq, &c->sendq};
    for (int i = 0; i < 2; i++) {
        struct sudog *sg =
            atomic_load_explicit(&qs[i]->first, memory_order_relaxed);
        for (; sg != NULL; sg = sg->next) {
            /* load-acquire; pairs with the CAS in waitq_dequeue */
            if (!sg->isselect ||
                atomic_load_explicit(&sg->g->selectdone,
                                     memory_order_acquire) == 0)
                return true;
        }
    }
    return false;
}

void gort_chan_free(gort_chan *ch)
{
    /* It may lock the channel with the caller's P: a thread back from a
     * call that blocked outside GORT_SYSCALL must first learn whether
     * sysmon took that P (runtime.h, "Entering the runtime"). */
    RT_ENTRY();
    if (ch == NULL)
        return;
    struct hchan *c = hchan_of(ch);
    /* fetch_sub acq_rel: the last dropper sees every other holder's
     * writes before it frees. */
    uint32_t old = atomic_fetch_sub_explicit(&c->refs, 1,
                                             memory_order_acq_rel);
    if (old != 1) {
        if (old == 0)
            gort__throw("gort_chan_free: channel already freed");
        return;
    }
    chan_lock(c, chan_caller_p(NULL));
    if (has_blocked_waiters(c)) {
        chan_unlock(c);
        gort__throw("gort_chan_free: goroutines blocked on channel");
    }
    if (c->nselect != 0) {
        /* A woken select still has to unlink itself from c: it frees c
         * when it leaves (select.c, select_cleanup). */
        c->freed = true;
        chan_unlock(c);
        return;
    }
    chan_unlock(c);
    gort__chan_destroy(c);
}

/* Spin rounds of CHANLOCK_PAUSES pause instructions before a contended
 * chan_lock starts yielding the CPU (Go's lock_futex: 4 x 30, then
 * osyield). */
enum { CHANLOCK_SPINS = 4, CHANLOCK_PAUSES = 30 };

/* spin_or_yield is one round of waiting for a lock holder. */
static void spin_or_yield(int *spins)
{
    if (*spins < CHANLOCK_SPINS) {
        gort__procyield(CHANLOCK_PAUSES);
        (*spins)++;
    } else {
        gort__osyield(); /* the holder may be descheduled */
    }
}

void gort__chanlock_wait(struct chanlock *l, uint32_t mode)
{
    for (int spins = 0;;) {
        /* Wait for it to look free before trying again, so waiters spin
         * on a shared cache line instead of bouncing it. */
        while (atomic_load_explicit(&l->key, memory_order_relaxed) !=
               CHANLOCK_FREE)
            spin_or_yield(&spins);
        uint32_t free = CHANLOCK_FREE;
        /* CAS-acquire; pairs with the store-release in chan_unlock */
        if (atomic_compare_exchange_strong_explicit(&l->key, &free, mode,
                                                    memory_order_acquire,
                                                    memory_order_relaxed))
            return;
    }
}

/* gort__chanlock_foreign locks l for a thread without a P ("Plain channel
 * locks" in chan.h): counted first, then past any plain section. */
void gort__chanlock_foreign(struct chanlock *l)
{
    atomic_fetch_add(&gort__chown.foreign, 1); /* seq_cst */
    /* The count is the revoke; the wait's load-acquire makes the plain
     * holder's writes visible here. */
    if (atomic_load(&gort__chown.plain_ok))
        gort__rv_revoke_wait(&gort__chown.plain_held);
    uint32_t free = CHANLOCK_FREE;
    if (!atomic_compare_exchange_strong_explicit(
            &l->key, &free, CHANLOCK_FOREIGN, memory_order_acquire,
            memory_order_relaxed))
        gort__chanlock_wait(l, CHANLOCK_FOREIGN);
}

void gort__chanlock_foreign_done(void)
{
    /* fetch_sub-release; pairs with chan_plain_enter's read of the count,
     * so a plain locker that sees 0 sees this holder's writes. */
    atomic_fetch_sub_explicit(&gort__chown.foreign, 1,
                              memory_order_release);
}

/* chanparkcommit releases the channel lock once the parking goroutine is
 * off its stack (Go: chanparkcommit). Runs on g0. */
static bool chanparkcommit(struct g *gp, void *arg)
{
    (void)gp;
    chan_unlock(arg);
    return true;
}

/* park_forever parks the caller with nothing that can wake it (a NULL
 * channel, an empty select). The scheduler's deadlock check counts it. */
_Noreturn static void park_forever(enum waitreason reason, const char *what)
{
    if (gort__getg() == NULL)
        gort__throw(what);
    gort__park(NULL, NULL, reason);
    gort__throw("gort: goroutine blocked forever was woken");
}

/* need_g checks that the caller is a goroutine (gp, from gort__getg);
 * outside one, where parking is impossible, it drops c->lock and throws
 * `what`. */
static void need_g(struct hchan *c, struct g *gp, const char *what)
{
    if (gp == NULL) {
        chan_unlock(c);
        gort__throw(what);
    }
}

/* send_park blocks the caller on c->sendq until a receiver takes *ep or c
 * is closed (Go: the tail of chansend). Caller holds c->lock; it is
 * released. Kept out of line so the fast paths stay small. */
__attribute__((noinline)) static void send_park(struct hchan *c,
                                                const void *ep, struct g *gp)
{
    ASSERT_CHAN_HELD(c);
    need_g(c, gp, "gort_chan_send: blocking send outside a goroutine");
    struct sudog sg = {.g = gp, .elem = (void *)ep, .c = c};
    gp->waiting = &sg;
    gp->param = NULL;
    waitq_enqueue(&c->sendq, &sg);
    gort__park_g(gp, chanparkcommit, c, WAIT_CHAN_SEND);
    /* Woken: the receiver or close filled in sg (before gort__ready). */
    gp->waiting = NULL;
    gp->param = NULL;
    if (!sg.success)
        gort__panic("send on closed channel");
}

/* recv_park blocks the caller on c->recvq until a value arrives at ep or
 * c is closed (ep is zeroed then). Caller holds c->lock; it is released.
 * Returns whether a value was received. */
__attribute__((noinline)) static bool recv_park(struct hchan *c, void *ep,
                                               struct g *gp)
{
    ASSERT_CHAN_HELD(c);
    need_g(c, gp, "gort_chan_recv: blocking receive outside a goroutine");
    struct sudog sg = {.g = gp, .elem = ep, .c = c};
    gp->waiting = &sg;
    gp->param = NULL;
    waitq_enqueue(&c->recvq, &sg);
    gort__park_g(gp, chanparkcommit, c, WAIT_CHAN_RECV);
    gp->waiting = NULL;
    gp->param = NULL;
    return sg.success;
}

/*
 * chansend sends *ep on c (Go: chansend). block false: returns false
 * instead of parking. Returns true once the value is sent.
 */
static inline __attribute__((always_inline)) bool
chansend(struct hchan *c, const void *ep, bool block)
{
    if (c == NULL) {
        if (!block)
            return false;
        park_forever(WAIT_CHAN_SEND_NIL,
                     "gort_chan_send: send on NULL channel outside a "
                     "goroutine blocks forever");
    }
    /* A blocking operation is a preemption point (Go: the prologue
     * check); gp is kept for parking. NULL outside a goroutine. */
    struct g *gp = NULL;
    if (block) {
        gp = gort__getg();
        gort__maybe_preempt(gp);
    } else {
        gort__preempt_point(); /* one load: no TLS read on this path */
    }
    /* Fast fail without the lock (Go: the same check, same order). Seeing
     * "not closed" and then "full" implies a moment when both held, as a
     * closed channel never becomes full again. Acquire keeps the order. */
    if (!block &&
        atomic_load_explicit(&c->closed, memory_order_acquire) == 0 &&
        chan_send_would_block(c))
        return false;

    chan_lock(c, chan_caller_p(gp));
    if (atomic_load_explicit(&c->closed, memory_order_relaxed) != 0) {
        chan_unlock(c);
        gort__panic("send on closed channel");
    }
    struct sudog *sg = waitq_dequeue(&c->recvq);
    if (sg != NULL) {
        struct g *peer = chan_send_to(c, sg, ep);
        chan_unlock(c);
        gort__ready(peer);
        return true;
    }
    if (chan_qcount(c) < c->dataqsiz) {
        chan_buf_put(c, ep);
        chan_unlock(c);
        return true;
    }
    if (!block) {
        chan_unlock(c);
        return false;
    }
    send_park(c, ep, gp);
    return true;
}

/*
 * chanrecv receives from c into ep (Go: chanrecv). block false: returns
 * false instead of parking. Returns true when the receive completed
 * ("selected"); *received is then false if c was closed and drained.
 */
static inline __attribute__((always_inline)) bool
chanrecv(struct hchan *c, void *ep, bool block, bool *received)
{
    if (c == NULL) {
        if (!block)
            return false;
        park_forever(WAIT_CHAN_RECV_NIL,
                     "gort_chan_recv: receive on NULL channel outside a "
                     "goroutine blocks forever");
    }
    struct g *gp = NULL;
    if (block) {
        gp = gort__getg();
        gort__maybe_preempt(gp);
    } else {
        gort__preempt_point(); /* one load: no TLS read on this path */
    }
    if (!block && chan_recv_would_block(c)) {
        /* Go's order: empty, then closed, then empty again; each load
         * is acquire so they happen in this order. */
        if (atomic_load_explicit(&c->closed, memory_order_acquire) == 0)
            return false;
        if (chan_recv_would_block(c)) {
            chan_elem_zero(c, ep);
            *received = false;
            return true;
        }
    }

    chan_lock(c, chan_caller_p(gp));
    if (atomic_load_explicit(&c->closed, memory_order_relaxed) != 0) {
        if (chan_qcount(c) == 0) {
            chan_unlock(c);
            chan_elem_zero(c, ep);
            *received = false;
            return true;
        }
        /* Closed but buffered values remain: drain them first. */
    } else {
        struct sudog *sg = waitq_dequeue(&c->sendq);
        if (sg != NULL) {
            struct g *peer = chan_recv_from(c, sg, ep);
            chan_unlock(c);
            gort__ready(peer);
            *received = true;
            return true;
        }
    }
    if (chan_qcount(c) > 0) {
        chan_buf_get(c, ep);
        chan_unlock(c);
        *received = true;
        return true;
    }
    if (!block) {
        chan_unlock(c);
        return false;
    }
    *received = recv_park(c, ep, gp);
    return true;
}

bool gort__chan_send(struct hchan *c, const void *ep, bool block)
{
    return chansend(c, ep, block);
}

bool gort__chan_recv(struct hchan *c, void *ep, bool block, bool *received)
{
    return chanrecv(c, ep, block, received);
}

void gort_chan_send(gort_chan *c, const void *elem)
{
    RT_ENTRY();
    chansend(hchan_of(c), elem, true);
}

bool gort_chan_recv(gort_chan *c, void *elem)
{
    RT_ENTRY();
    bool received = false;
    chanrecv(hchan_of(c), elem, true, &received);
    return received;
}

bool gort_chan_trysend(gort_chan *c, const void *elem)
{
    RT_ENTRY();
    return chansend(hchan_of(c), elem, false);
}

bool gort_chan_tryrecv(gort_chan *c, void *elem, bool *ok)
{
    RT_ENTRY();
    bool received = false;
    if (!chanrecv(hchan_of(c), elem, false, &received))
        return false;
    if (ok != NULL)
        *ok = received;
    return true;
}

/*
 * gort_chan_close closes c (Go: closechan): every waiting receiver gets
 * its zero value and false, every waiting sender is woken to panic. The
 * woken goroutines are collected on a list through g->schedlink (free
 * while a goroutine is parked) and readied after the lock is dropped.
 */
void gort_chan_close(gort_chan *ch)
{
    RT_ENTRY();
    struct hchan *c = hchan_of(ch);
    if (c == NULL)
        gort__panic("close of nil channel");
    chan_lock(c, chan_caller_p(NULL));
    if (atomic_load_explicit(&c->closed, memory_order_relaxed) != 0) {
        chan_unlock(c);
        gort__panic("close of closed channel");
    }
    /* store-release; pairs with the acquire loads of the fast paths */
    atomic_store_explicit(&c->closed, 1, memory_order_release);

    struct g *head = NULL, **tail = &head;
    struct sudog *sg;
    while ((sg = waitq_dequeue(&c->recvq)) != NULL) {
        chan_elem_zero(c, sg->elem);
        struct g *gp = chan_wake_prepare(sg, false);
        *tail = gp;
        tail = &gp->schedlink;
    }
    while ((sg = waitq_dequeue(&c->sendq)) != NULL) {
        struct g *gp = chan_wake_prepare(sg, false);
        *tail = gp;
        tail = &gp->schedlink;
    }
    *tail = NULL;
    chan_unlock(c);

    while (head != NULL) {
        struct g *gp = head;
        head = gp->schedlink;
        gp->schedlink = NULL;
        gort__ready(gp);
    }
}

size_t gort_chan_len(gort_chan *c)
{
    return c == NULL ? 0 : chan_qcount(hchan_of(c));
}

size_t gort_chan_cap(gort_chan *c)
{
    return c == NULL ? 0 : hchan_of(c)->dataqsiz;
}
