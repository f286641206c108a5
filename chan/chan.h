/*
 * chan.h: the channel internals shared by chan.c and select.c (Go: the
 * hchan, sudog and waitq types of chan.go and runtime2.go).
 *
 * A channel is one allocation: struct gort_chan followed by its ring
 * buffer. Waiting goroutines are described by sudogs that live on the
 * waiting goroutine's own stack (gort stacks never move, so a pointer to
 * a local stays valid while the goroutine is parked).
 *
 * Never installed. docs/channels.md tells the same story for readers.
 */
#ifndef GORT_CHAN_INTERNAL_H
#define GORT_CHAN_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <gort.h>

#include "../runtime/runtime.h"

#define CHAN_HIDDEN __attribute__((visibility("hidden")))

/* Go's limit on element types (hchan.elemsize is a uint16). */
#define CHAN_MAX_ELEM 65536

struct g;
struct hchan;

/*
 * struct sudog is one goroutine waiting on one channel (Go: sudog). A plain
 * send or receive uses one; a select uses one per case, chained through
 * waitlink from g->waiting in lock order.
 *
 * next, prev, elem and success are protected by the lock of channel c.
 * The owning goroutine reads success and the data at elem only after it is
 * woken (gort__ready happens-before its return from gort__park).
 */
struct sudog {
    struct g *g;               /* the waiting goroutine */
    struct sudog *next, *prev; /* links in c's sendq or recvq */
    void *elem;                /* value to send, or slot to receive into
                                * (NULL: receive and discard) */
    struct hchan *c;           /* the channel it waits on */
    struct sudog *waitlink;    /* g->waiting list (select) */
    bool isselect;             /* part of a select: win selectdone first */
    bool success;              /* true: a value moved; false: closed */
    bool releasechan;          /* select clean-up: free c after unlocking
                                * (owner only) */
};

/* A FIFO of sudogs (Go: waitq). `first` is atomic only so the lock-free
 * fast paths of the non-blocking calls may peek at it; it is written under
 * the channel lock like everything else. */
struct waitq {
    struct sudog *_Atomic first;
    struct sudog *last;
};

/*
 * struct chanlock is the channel lock: a test-and-set spinlock that falls
 * back to sched_yield, never to a futex sleep. Why not the runtime's
 * struct lock (a futex mutex, Go's lock_futex): its unlock must learn
 * whether anyone sleeps, which costs a second atomic read-modify-write
 * per operation, and on the machines we measured one such instruction
 * costs about as much as the rest of an uncontended channel operation.
 * Here lock is one compare-and-swap and unlock a plain store-release.
 * This is safe because a channel lock is held only for a few loads, a
 * memcpy and queue links, never across a park or a call that can block,
 * so a waiter spins only while the holder runs (or was descheduled by the
 * kernel, for which it yields the CPU). docs/channels.md has the
 * measurements.
 *
 * The key says how the lock is held (chan_lock, "Plain channel locks"),
 * so chan_unlock needs no context. That is also why lockers compare and
 * swap instead of exchanging: a failed attempt must leave the holder's
 * mode alone.
 */
enum {
    CHANLOCK_FREE,
    CHANLOCK_HELD,    /* by a P's thread, with the CAS */
    CHANLOCK_PLAIN,   /* by the solo P's thread, with a plain store */
    CHANLOCK_FOREIGN, /* by a thread without a P, counted in chown.foreign */
};

struct chanlock {
    _Atomic uint32_t key; /* CHANLOCK_* */
};

/* gort__chanlock_wait is the contended half of chan_lock: it takes l for
 * a holder of the given mode (CHANLOCK_HELD or CHANLOCK_FOREIGN). */
CHAN_HIDDEN void gort__chanlock_wait(struct chanlock *l, uint32_t mode);
/* gort__chanlock_foreign and _done bracket a lock held without a P. */
CHAN_HIDDEN void gort__chanlock_foreign(struct chanlock *l);
CHAN_HIDDEN void gort__chanlock_foreign_done(void);

/*
 * struct hchan is a channel (Go: hchan); the public gort_chan is this type.
 *
 * lock protects every field below it except where noted. closed and qcount
 * are atomic only so the lock-free fast paths and gort_chan_len can read
 * them; they are written under lock.
 *
 * Invariants (Go chan.go):
 *  - at least one of sendq and recvq is empty;
 *  - buffered (dataqsiz > 0): qcount > 0 implies recvq empty,
 *    qcount < dataqsiz implies sendq empty;
 *  - 0 <= qcount <= dataqsiz, sendx == (recvx + qcount) % dataqsiz.
 */
struct hchan {
    struct chanlock lock;
    _Atomic uint32_t closed;   /* 0 open, 1 closed; never reopens */
    uint32_t elemsize;         /* < CHAN_MAX_ELEM */
    _Atomic size_t qcount;     /* values in the buffer */
    size_t dataqsiz;           /* capacity of the ring (immutable) */
    size_t sendx;              /* next slot to fill */
    size_t recvx;              /* next slot to drain */
    struct waitq recvq;        /* blocked receivers */
    struct waitq sendq;        /* blocked senders */
    char *buf;                 /* ring of dataqsiz elements (immutable);
                                * points at the hchan when it has no bytes */
    uint32_t nselect;          /* selects between enqueue and their
                                * clean-up pass on this channel */
    bool freed;                /* last reference gone; the last select to
                                * leave (nselect -> 0) frees it */
    _Atomic uint32_t refs;     /* references; atomic, no lock needed */
};

/* chanbuf returns the address of slot i of c's ring (Go: chanbuf). */
static inline void *chanbuf(struct hchan *c, size_t i)
{
    return c->buf + i * (size_t)c->elemsize;
}

/* chan_elem_copy copies one element; common small sizes become a single
 * move instead of a library call. */
static inline void chan_elem_copy(void *dst, const void *src, uint32_t n)
{
    switch (n) {
    case 0:
        break;
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    default:
        memcpy(dst, src, n);
        break;
    }
}

/* chan_qcount_set stores qcount (caller holds c->lock); relaxed, pairs
 * with the relaxed/acquire loads of the lock-free readers. */
static inline void chan_qcount_set(struct hchan *c, size_t n)
{
    ASSERT_CHAN_HELD(c);
    atomic_store_explicit(&c->qcount, n, memory_order_relaxed);
}

static inline size_t chan_qcount(struct hchan *c)
{
    return atomic_load_explicit(&c->qcount, memory_order_relaxed);
}

/* ---- Plain channel locks ----------------------------------------------
 *
 * While one P runs and every other live P is idle, the scheduler names it
 * the channel owner (gort__chown.owner, chanowner.c; with one live
 * P, solo mode, for good). Its goroutines take their channel locks one at
 * a time on one thread, so they may take them with a plain store instead
 * of a locked instruction, which is about a fifth of a threadring hop.
 * Other threads lock channels too: threads with another P (once it woke
 * up, or an M holding it that fires a timer whose callback sends), and
 * threads without a P (a foreign thread in a non-blocking call, a
 * goroutine between gort_syscall_enter and _exit). So the owner's locks
 * are a revocable section (runtime/revocable.h) in which the rare side
 * pays; its busy word is chown.plain_held, how many locks the owner's
 * thread holds plainly, and its revoke words are owner (cleared) and
 * foreign (counted):
 *  - the owner's thread raises plain_held from 0 (gort__rv_open_asym),
 *    then peeks at owner and foreign; still the owner and no
 *    foreign locker, it locks plainly, else it lowers plain_held again
 *    and uses the CAS. While plain_held > 0 its further locks (a
 *    select's) are plain without the check, even once a revoker cleared
 *    owner (revoked_owner names it then).
 *  - a thread with another P revokes the name before its first lock while
 *    plain_ok is set: it clears owner and waits out the section
 *    (gort__rv_revoke_wait; gort__owner_revoke).
 *  - a thread without a P counts itself in foreign from before its
 *    lock until after its unlock; if plain_ok is set it waits out
 *    the section the same way before its CAS.
 *  - plain_ok rises before an owner is named and falls only after a
 *    revoker saw plain_held at 0, so a locker that read it as false was
 *    counted (or revoked) before any owner could read foreign.
 * The mode is off without membarrier (plain_ok never rises).
 */

/* The channel owner's state (chanowner.c), on a line of its own: the
 * owner's thread writes plain_held at every channel lock. */
struct chan_owner_state {
    /* Channel locks the owner holds plainly: the busy word of its
     * revocable section; written by its thread only. */
    _Alignas(64) _Atomic uint32_t plain_held;
    /* Plain locks may exist: set before an owner is named, cleared once
     * a revoker saw plain_held at 0. */
    _Atomic bool plain_ok;
    /* Lockers without a P between chan_lock and chan_unlock. */
    _Atomic int32_t foreign;
    /* The P whose thread may lock plainly (NULL: none); named and
     * revoked under sched.lock. */
    struct p *_Atomic owner;
    /* The owner a revoker just cleared (NULL once another is named): its
     * thread, inside a plain section still, goes on locking plainly (a
     * select) while the revoker waits for the section to end. */
    struct p *_Atomic revoked_owner;
    int64_t revoked_at; /* sched.lock; the 1 ms hold after a revocation */
};

CHAN_HIDDEN extern struct chan_owner_state gort__chown;

/* gort__chan_owner_revoke ends the channel owner's plain locking before
 * the thread holding P pp, another P, takes a channel lock. */
CHAN_HIDDEN void gort__chan_owner_revoke(struct p *pp);
/* gort__chan_plain_enter_slow is chan_plain_enter for a caller that is
 * not the owner: true if it is the owner just revoked, inside its plain
 * section still; else it revokes and returns false. */
CHAN_HIDDEN bool gort__chan_plain_enter_slow(struct p *pp);

/* chan_caller_p returns the calling thread's P, or NULL if it holds none
 * (then it locks as a foreign thread). gp is the running goroutine when
 * the caller has it, else NULL. */
static inline struct p *chan_caller_p(const struct g *gp)
{
    if (gp != NULL)
        return gp->m->p;
    const struct m *mp = gort__getm();
    return mp != NULL ? mp->p : NULL;
}

/* chan_plain_enter opens or extends the owner's plain section; true if
 * the caller, pp's thread, may lock plainly. Forced inline, with
 * chan_lock: an out-of-line call costs a quarter of a channel operation
 * at one P (chanmpmc), and the revocation call made them look big. */
static inline __attribute__((always_inline)) bool
chan_plain_enter(struct p *pp)
{
    struct chan_owner_state *s = &gort__chown;
    /* With several Ps running this load is the whole check. Acquire:
     * false may have been stored by a revoker that waited for the last
     * owner's plain section, whose writes our CAS must then see (the
     * key's FREE was a relaxed store); free on x86-64. */
    if (!atomic_load_explicit(&s->plain_ok, memory_order_acquire))
        return false;
    /* load-acquire; pairs with the store-release that named us, so the
     * previous owner's plain writes are visible. */
    if (atomic_load_explicit(&s->owner, memory_order_acquire) != pp)
        return gort__chan_plain_enter_slow(pp);
    /* Only the owner's thread raises the count: one above 0 is ours (a
     * select's further lock), and needs no new handshake. */
    uint32_t n = atomic_load_explicit(&s->plain_held, memory_order_relaxed);
    if (n > 0) {
        atomic_store_explicit(&s->plain_held, n + 1, memory_order_relaxed);
        return true;
    }
    gort__rv_open_asym(&s->plain_held, 1);
    if (__builtin_expect(gort__rv_peek_asym(&s->owner) == pp &&
                             gort__rv_peek_asym(&s->foreign) == 0,
                         1))
        return true;
    gort__rv_close(&s->plain_held, 0);
    return false;
}

/* chan_lock acquires c's lock for a caller holding P pp (NULL: none): a
 * plain store in the owner's plain section, else a CAS-acquire that pairs
 * with the store-release in chan_unlock. */
static inline __attribute__((always_inline)) void
chan_lock(struct hchan *c, struct p *pp)
{
    LOCKRANK_ACQUIRE(&c->lock, LOCKRANK_CHAN, false);
    if (pp == NULL) {
        gort__chanlock_foreign(&c->lock);
        return;
    }
    if (chan_plain_enter(pp)) {
        if (__builtin_expect(atomic_load_explicit(&c->lock.key,
                                                  memory_order_relaxed) !=
                                 CHANLOCK_FREE,
                             0))
            gort__throw("chan_lock: plain lock of a held channel");
        atomic_store_explicit(&c->lock.key, CHANLOCK_PLAIN,
                              memory_order_relaxed);
        return;
    }
    uint32_t free = CHANLOCK_FREE;
    if (!atomic_compare_exchange_strong_explicit(
            &c->lock.key, &free, CHANLOCK_HELD, memory_order_acquire,
            memory_order_relaxed))
        gort__chanlock_wait(&c->lock, CHANLOCK_HELD);
}

/* chan_unlock releases c's lock however it was taken. */
static inline void chan_unlock(struct hchan *c)
{
    LOCKRANK_RELEASE(&c->lock, LOCKRANK_CHAN);
    uint32_t mode = atomic_load_explicit(&c->lock.key, memory_order_relaxed);
    if (mode == CHANLOCK_PLAIN) {
        atomic_store_explicit(&c->lock.key, CHANLOCK_FREE,
                              memory_order_relaxed);
        /* Publishes the section to whoever waits for it to end (a
         * foreign locker, a revoker). */
        gort__rv_close(&gort__chown.plain_held,
                       atomic_load_explicit(&gort__chown.plain_held,
                                            memory_order_relaxed) - 1);
        return;
    }
    /* store-release; pairs with the CAS-acquire of the next holder. */
    atomic_store_explicit(&c->lock.key, CHANLOCK_FREE, memory_order_release);
    if (mode == CHANLOCK_FOREIGN)
        gort__chanlock_foreign_done();
}

/* hchan_of converts the public handle: a gort_chan is an hchan. */
static inline struct hchan *hchan_of(gort_chan *c)
{
    return (struct hchan *)(void *)c;
}

/* ---- Wait queues (caller holds the channel lock) ----------------------- */

/* waitq_enqueue appends sg to q (Go: waitq.enqueue). */
static inline void waitq_enqueue(struct waitq *q, struct sudog *sg)
{
    sg->next = NULL;
    struct sudog *x = q->last;
    sg->prev = x;
    q->last = sg;
    if (x == NULL) {
        /* store-relaxed; the lock-free readers only compare it to NULL */
        atomic_store_explicit(&q->first, sg, memory_order_relaxed);
        return;
    }
    x->next = sg;
}

/*
 * waitq_dequeue pops the first sudog whose goroutine may be woken (Go:
 * waitq.dequeue). A select's sudog must win its goroutine's selectdone
 * flag: if another case already won, the sudog is dropped (its goroutine
 * is about to remove it anyway, once it holds this lock) and the next one
 * is tried. Returns NULL when none is left.
 */
static inline struct sudog *waitq_dequeue(struct waitq *q)
{
    for (;;) {
        struct sudog *sg =
            atomic_load_explicit(&q->first, memory_order_relaxed);
        if (sg == NULL)
            return NULL;
        struct sudog *y = sg->next;
        if (y == NULL) {
            atomic_store_explicit(&q->first, NULL, memory_order_relaxed);
            q->last = NULL;
        } else {
            y->prev = NULL;
            atomic_store_explicit(&q->first, y, memory_order_relaxed);
            sg->next = NULL;
        }
        if (sg->isselect) {
            uint32_t zero = 0;
            /* CAS acq_rel; pairs with the other channels' CAS on the same
             * flag and with the store in select's clean-up pass. */
            if (!atomic_compare_exchange_strong_explicit(
                    &sg->g->selectdone, &zero, 1, memory_order_acq_rel,
                    memory_order_relaxed))
                continue;
        }
        return sg;
    }
}

/* waitq_remove unlinks sg from q if it is still queued (Go:
 * waitq.dequeueSudoG); a sudog dropped by waitq_dequeue is not. */
static inline void waitq_remove(struct waitq *q, struct sudog *sg)
{
    struct sudog *x = sg->prev, *y = sg->next;
    if (x != NULL) {
        if (y != NULL) {
            x->next = y;
            y->prev = x;
        } else {
            x->next = NULL;
            q->last = x;
        }
    } else if (y != NULL) {
        y->prev = NULL;
        atomic_store_explicit(&q->first, y, memory_order_relaxed);
    } else if (atomic_load_explicit(&q->first, memory_order_relaxed) == sg) {
        atomic_store_explicit(&q->first, NULL, memory_order_relaxed);
        q->last = NULL;
    }
    sg->next = sg->prev = NULL;
}

/* ---- Moving values (caller holds c->lock) ------------------------------ */

/*
 * chan_wake_prepare records that sg's operation completed (success) or
 * that the channel closed under it, and returns the goroutine to ready once
 * the caller has dropped its channel locks (Go: the tail of send/recv).
 * The goroutine is parked, so its sudog stays valid until it is readied.
 */
static inline struct g *chan_wake_prepare(struct sudog *sg, bool success)
{
    struct g *gp = sg->g;
    sg->success = success;
    gp->param = sg;
    return gp;
}

/* chan_send_to copies ep straight into the waiting receiver sg, which was
 * dequeued from c->recvq (Go: send + sendDirect). Returns its goroutine. */
static inline struct g *chan_send_to(struct hchan *c, struct sudog *sg,
                                     const void *ep)
{
    if (sg->elem != NULL)
        chan_elem_copy(sg->elem, ep, c->elemsize);
    return chan_wake_prepare(sg, true);
}

/*
 * chan_recv_from takes a value for ep (NULL: discard) from the sender sg,
 * dequeued from c->sendq (Go: recv). Unbuffered: straight from the
 * sender's memory. Buffered, which means full: the head of the ring, and
 * the sender's value goes into the freed slot, which becomes the tail, so
 * FIFO order holds. Returns the sender's goroutine.
 */
static inline struct g *chan_recv_from(struct hchan *c, struct sudog *sg,
                                       void *ep)
{
    if (c->dataqsiz == 0) {
        if (ep != NULL)
            chan_elem_copy(ep, sg->elem, c->elemsize);
    } else {
        void *qp = chanbuf(c, c->recvx);
        if (ep != NULL)
            chan_elem_copy(ep, qp, c->elemsize);
        chan_elem_copy(qp, sg->elem, c->elemsize);
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        c->sendx = c->recvx;
    }
    return chan_wake_prepare(sg, true);
}

/* chan_buf_put appends ep to the ring. Precondition: qcount < dataqsiz. */
static inline void chan_buf_put(struct hchan *c, const void *ep)
{
    chan_elem_copy(chanbuf(c, c->sendx), ep, c->elemsize);
    if (++c->sendx == c->dataqsiz)
        c->sendx = 0;
    chan_qcount_set(c, chan_qcount(c) + 1);
}

/* chan_buf_get takes the ring's head into ep (NULL: discard).
 * Precondition: qcount > 0. */
static inline void chan_buf_get(struct hchan *c, void *ep)
{
    if (ep != NULL)
        chan_elem_copy(ep, chanbuf(c, c->recvx), c->elemsize);
    if (++c->recvx == c->dataqsiz)
        c->recvx = 0;
    chan_qcount_set(c, chan_qcount(c) - 1);
}

/* chan_elem_zero zeroes a receive slot (a closed channel's zero value). */
static inline void chan_elem_zero(struct hchan *c, void *ep)
{
    if (ep != NULL && c->elemsize != 0)
        memset(ep, 0, c->elemsize);
}

/* ---- Lock-free readiness (no lock held) ------------------------------ */

/* chan_send_would_block is Go's full(): the lock-free test that a non-blocking
 * send on an open channel cannot proceed. Loads are acquire so that, on
 * the receive side, the caller's later load of closed stays after them. */
static inline bool chan_send_would_block(struct hchan *c)
{
    if (c->dataqsiz == 0)
        return atomic_load_explicit(&c->recvq.first, memory_order_acquire) ==
               NULL;
    return atomic_load_explicit(&c->qcount, memory_order_acquire) ==
           c->dataqsiz;
}

/* chan_recv_would_block is Go's empty(), the receive-side twin. */
static inline bool chan_recv_would_block(struct hchan *c)
{
    if (c->dataqsiz == 0)
        return atomic_load_explicit(&c->sendq.first, memory_order_acquire) ==
               NULL;
    return atomic_load_explicit(&c->qcount, memory_order_acquire) == 0;
}

/* ---- Cross-file entry points (chan.c) ---------------------------------- */

/* gort__chan_send / gort__chan_recv are the whole operations (Go: chansend,
 * chanrecv), used by select for its one-case form. chanrecv returns
 * whether the receive completed ("selected") and sets *received. */
CHAN_HIDDEN bool gort__chan_send(struct hchan *c, const void *ep, bool block);
CHAN_HIDDEN bool gort__chan_recv(struct hchan *c, void *ep, bool block,
                                 bool *received);

/* gort__chan_destroy releases c's memory after its last reference and its
 * last select are gone. Caller does not hold c->lock. */
CHAN_HIDDEN void gort__chan_destroy(struct hchan *c);

#endif /* GORT_CHAN_INTERNAL_H */
