/*
 * netpoll.c: the portable poller (Go: netpoll.go + internal/poll's fdMutex):
 * poll descriptors, the fd table, park/ready per direction, deadlines on
 * runtime timers, and the hooks the scheduler calls.
 *
 * Invariants:
 *  - A polldesc is never freed. While free its fdmu has MU_CLOSED set, so a
 *    stale lookup fails; seq grows by one each time it is freed, so a stale
 *    epoll event (tagged with the old seq) or a racing lookup that took a
 *    reference after reuse can tell.
 *  - rg/wg hold PD_NIL, PD_READY, PD_WAIT or the one goroutine parked for
 *    that direction (Go's binary semaphores). Only the holder of the
 *    direction's op lock (PD_OP_READ / PD_OP_WRITE) waits, so two waiters
 *    per direction is a fatal error ("runtime: double wait").
 *  - fdtab[fd] points at the live descriptor of fd from registration until
 *    destroy, which clears it before close(2) gives the number back.
 *  - rseq/wseq only grow (across reuse too), so a deadline timer armed for
 *    an earlier deadline or an earlier fd never matches.
 *  - nwaiters counts goroutines parked in pd_block (gort__netpoll_waiting).
 *
 * Locking: pd->lock guards deadlines, timers and `closing`; the op
 * semaphores are runtime/sema.c's (its root locks, never under
 * pd->lock);
 * pd->lock is taken before a timer's locks (gort__timer_reset under
 * pd->lock, as Go's pollSetDeadline does) and before sched.lock (readying).
 * cachelock guards the free list and initlock the lazy init; neither is
 * held with another lock. Everything else is atomic.
 *
 * See also: netpoll.h (the backend contract), netpoll_epoll.c, net.c,
 * docs/netpoll.md.
 */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

#include "../runtime/runtime.h"
#include "../runtime/sema.h"
#include "netpoll.h"

/* rg/wg states below any goroutine address (Go: pdNil, pdReady, pdWait). */
#define PD_NIL ((uintptr_t)0)
#define PD_READY ((uintptr_t)1)
#define PD_WAIT ((uintptr_t)2)

/* info bits: a lock-free snapshot of the locked fields (Go: atomicInfo). */
#define INFO_CLOSING 1u
#define INFO_EXPIRED_R 2u
#define INFO_EXPIRED_W 4u

/* fdmu layout (Go: fdMutex.state): closed bit, op lock bits, then 20-bit
 * counts of references, waiting readers and waiting writers. */
#define MU_CLOSED ((uint64_t)1)
#define MU_RLOCK ((uint64_t)2)
#define MU_WLOCK ((uint64_t)4)
#define MU_REF ((uint64_t)1 << 3)
#define MU_REF_MASK (((uint64_t)1 << 20) - 1) << 3
#define MU_RWAIT ((uint64_t)1 << 23)
#define MU_RWAIT_MASK (((uint64_t)1 << 20) - 1) << 23
#define MU_WWAIT ((uint64_t)1 << 43)
#define MU_WWAIT_MASK (((uint64_t)1 << 20) - 1) << 43

/* Tags: a descriptor address in the low 48 bits, the low 16 bits of its
 * seq above. */
#define TAG_SHIFT 48
#define TAG_PTR_MASK (((uint64_t)1 << TAG_SHIFT) - 1)

/* The fd table: FDTAB_L1 chunks of FDTAB_L2 slots, chunks made on demand
 * and never freed (so lookups need no lock). */
#define FDTAB_SHIFT 12
#define FDTAB_L2 (1 << FDTAB_SHIFT)
#define FDTAB_L1 4096
#define FDTAB_MAX (FDTAB_L1 * FDTAB_L2)
#define PD_BLOCK 64 /* descriptors per allocation */

typedef struct polldesc *_Atomic pdslot;
static pdslot *_Atomic fdtab[FDTAB_L1];

static struct lock cachelock = LOCK_INIT(LOCKRANK_PDCACHE);
static struct polldesc *cachefree; /* cachelock */
static struct lock initlock = LOCK_INIT(LOCKRANK_PDINIT);
static _Atomic bool inited;
static _Atomic int32_t nwaiters;

static void rt_fire(void *arg, uintptr_t seq, int64_t when);
static void wt_fire(void *arg, uintptr_t seq, int64_t when);

/* ---- Descriptor cache (Go: pollCache) ----------------------------------- */

static struct polldesc *pd_alloc(void)
{
    gort__lock(&cachelock);
    if (cachefree == NULL) {
        struct polldesc *blk = calloc(PD_BLOCK, sizeof *blk);
        if (blk == NULL) {
            gort__unlock(&cachelock);
            return NULL;
        }
        if ((uintptr_t)(blk + PD_BLOCK) > TAG_PTR_MASK)
            gort__throw("netpoll: descriptor address does not fit a tag");
        for (int i = 0; i < PD_BLOCK; i++) {
            struct polldesc *pd = &blk[i];
            atomic_init(&pd->fdmu, MU_CLOSED);
            gort__lock_init(&pd->lock, LOCKRANK_PD);
            gort__timer_init(&pd->rt, rt_fire, pd);
            gort__timer_init(&pd->wt, wt_fire, pd);
            pd->link = cachefree;
            cachefree = pd;
        }
    }
    struct polldesc *pd = cachefree;
    cachefree = pd->link;
    gort__unlock(&cachelock);
    return pd;
}

/* pd_free returns pd to the cache; its seq moved on in pd_destroy. */
static void pd_free(struct polldesc *pd)
{
    gort__lock(&cachelock);
    pd->link = cachefree;
    cachefree = pd;
    gort__unlock(&cachelock);
}

static pdslot *fdtab_slot(int fd, bool make)
{
    if (fd < 0 || fd >= FDTAB_MAX)
        return NULL;
    /* load-acquire; pairs with the CAS-release that installs a chunk. */
    pdslot *chunk = atomic_load_explicit(&fdtab[fd >> FDTAB_SHIFT],
                                         memory_order_acquire);
    if (chunk == NULL && make) {
        pdslot *fresh = calloc(FDTAB_L2, sizeof *fresh);
        if (fresh == NULL)
            return NULL;
        if (atomic_compare_exchange_strong_explicit(
                &fdtab[fd >> FDTAB_SHIFT], &chunk, fresh,
                memory_order_acq_rel, memory_order_acquire))
            chunk = fresh;
        else
            free(fresh); /* lost the race; chunk holds the winner */
    }
    return chunk ? &chunk[fd & (FDTAB_L2 - 1)] : NULL;
}

/* ---- Op semaphores (Go: runtime_Semacquire on fdMutex sema) -------------
 *
 * The semaphore table of runtime/sema.c, as Go's internal/poll waits on the
 * runtime's: a waiter woken without the unit competes again. Callers are
 * goroutines (mu_lock and gort__pd_close return -EPERM or do not wait off
 * one) and hold no lock of the descriptor. */
static void sema_acquire(uint32_t *s)
{
    gort__semacquire(s, false, WAIT_SEMACQUIRE);
}

static void sema_release(uint32_t *s)
{
    gort__semrelease(s, false);
}

/* ---- fd reference count and op locks (Go: fdMutex) ---------------------- */

static void pd_destroy(struct polldesc *pd);

/* mu_unlock drops op and one reference; true if that was the last
 * reference of a closed descriptor (the caller destroys it). */
static bool mu_unlock(struct polldesc *pd, enum pd_op op)
{
    if (op == PD_OP_REF) {
        /* RMW acq_rel: the last release sees every user's writes. */
        uint64_t old = atomic_fetch_sub_explicit(&pd->fdmu, MU_REF,
                                                 memory_order_acq_rel);
        return ((old - MU_REF) & (MU_CLOSED | MU_REF_MASK)) == MU_CLOSED;
    }
    uint64_t bit = op == PD_OP_READ ? MU_RLOCK : MU_WLOCK;
    uint64_t wait = op == PD_OP_READ ? MU_RWAIT : MU_WWAIT;
    uint64_t mask = op == PD_OP_READ ? MU_RWAIT_MASK : MU_WWAIT_MASK;
    uint64_t old = atomic_load_explicit(&pd->fdmu, memory_order_relaxed);
    for (;;) {
        if (!(old & bit) || !(old & MU_REF_MASK))
            gort__throw("netpoll: inconsistent fd lock");
        uint64_t new = (old & ~bit) - MU_REF;
        if (old & mask)
            new -= wait;
        if (atomic_compare_exchange_weak_explicit(&pd->fdmu, &old, new,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            if (old & mask)
                sema_release(op == PD_OP_READ ? &pd->rsema : &pd->wsema);
            return (new & (MU_CLOSED | MU_REF_MASK)) == MU_CLOSED;
        }
    }
}

static void mu_release(struct polldesc *pd, enum pd_op op)
{
    if (mu_unlock(pd, op))
        pd_destroy(pd);
}

/* mu_lock takes a reference and op. A goroutine that must wait for the op
 * keeps its reference while parked, so pd cannot be destroyed (and its
 * semaphore reused) under it. Returns 0, -EBADF (closed) or -EPERM. */
static int mu_lock(struct polldesc *pd, enum pd_op op)
{
    uint64_t old = atomic_load_explicit(&pd->fdmu, memory_order_relaxed);
    if (op == PD_OP_REF) {
        do {
            if (old & MU_CLOSED)
                return -EBADF;
            if ((old & MU_REF_MASK) == MU_REF_MASK)
                gort__panic("too many concurrent operations on a single "
                            "file or socket (max 1048575)");
        } while (!atomic_compare_exchange_weak_explicit(
            &pd->fdmu, &old, old + MU_REF, memory_order_acquire,
            memory_order_relaxed));
        return 0;
    }
    uint64_t bit = op == PD_OP_READ ? MU_RLOCK : MU_WLOCK;
    uint64_t wait = op == PD_OP_READ ? MU_RWAIT : MU_WWAIT;
    uint64_t ref = MU_REF;
    for (;;) {
        if (old & MU_CLOSED) {
            if (ref == 0) /* we hold a reference from waiting */
                mu_release(pd, PD_OP_REF);
            return -EBADF;
        }
        if ((old & MU_REF_MASK) == MU_REF_MASK)
            gort__panic("too many concurrent operations on a single file "
                        "or socket (max 1048575)");
        if ((old & bit) && gort__getg() == NULL)
            return -EPERM; /* would have to park off a goroutine */
        uint64_t new = (old & bit) ? old + wait + ref : (old | bit) + ref;
        /* CAS-acquire; pairs with the CAS-release in mu_unlock. */
        if (!atomic_compare_exchange_weak_explicit(&pd->fdmu, &old, new,
                                                   memory_order_acquire,
                                                   memory_order_relaxed))
            continue;
        if (!(old & bit))
            return 0;
        ref = 0;
        /* On a goroutine (checked above), so this parks rather than
         * failing. The releaser subtracted our wait count. */
        sema_acquire(op == PD_OP_READ ? &pd->rsema : &pd->wsema);
        old = atomic_load_explicit(&pd->fdmu, memory_order_relaxed);
    }
}

/* ---- Park and unblock per direction (Go: netpollblock/unblock) ---------- */

static inline _Atomic uintptr_t *pd_gp(struct polldesc *pd, int mode)
{
    return mode == POLL_READ ? &pd->rg : &pd->wg;
}

static int pd_check(struct polldesc *pd, int mode)
{
    /* load-acquire; pairs with the store-release in publish_info. */
    uint32_t info = atomic_load_explicit(&pd->info, memory_order_acquire);
    if (info & INFO_CLOSING)
        return -EBADF;
    if (info & (mode == POLL_READ ? INFO_EXPIRED_R : INFO_EXPIRED_W))
        return -ETIMEDOUT;
    return 0;
}

/* publish_info snapshots the locked fields. Caller holds pd->lock. */
static void publish_info(struct polldesc *pd)
{
    ASSERT_HELD(&pd->lock);
    uint32_t info = (pd->closing ? INFO_CLOSING : 0) |
                    (pd->rd < 0 ? INFO_EXPIRED_R : 0) |
                    (pd->wd < 0 ? INFO_EXPIRED_W : 0);
    atomic_store_explicit(&pd->info, info, memory_order_release);
}

static bool block_commit(struct g *gp, void *arg)
{
    uintptr_t expect = PD_WAIT;
    /* CAS-release; pairs with the CAS in pd_unblock, which readies gp. */
    bool ok = atomic_compare_exchange_strong_explicit(
        (_Atomic uintptr_t *)arg, &expect, (uintptr_t)gp,
        memory_order_acq_rel, memory_order_relaxed);
    if (ok) {
        atomic_fetch_add_explicit(&nwaiters, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&gort__sched.nnetpollwaits, 1,
                                  memory_order_relaxed);
    }
    return ok;
}

/* pd_block parks until mode is ready; true if woken by readiness, false
 * by a close, a deadline or a spurious reset. */
static bool pd_block(struct polldesc *pd, int mode)
{
    _Atomic uintptr_t *gpp = pd_gp(pd, mode);
    for (;;) {
        uintptr_t old = PD_READY;
        if (atomic_compare_exchange_strong(gpp, &old, PD_NIL))
            return true; /* consumed a pending notification */
        old = PD_NIL;
        if (atomic_compare_exchange_strong(gpp, &old, PD_WAIT))
            break;
        if (old != PD_READY && old != PD_NIL)
            gort__throw("runtime: double wait");
    }
    /* Re-check after PD_WAIT is visible: a close or deadline that came
     * before it found nothing to wake. */
    if (pd_check(pd, mode) == 0)
        gort__park(block_commit, (void *)gpp, WAIT_IO);
    uintptr_t old = atomic_exchange(gpp, PD_NIL);
    if (old > PD_WAIT)
        gort__throw("runtime: corrupted polldesc");
    return old == PD_READY;
}

/* pd_unblock moves mode to PD_READY (ioready) or PD_NIL and returns the
 * goroutine to ready, if one was parked. */
static struct g *pd_unblock(struct polldesc *pd, int mode, bool ioready)
{
    _Atomic uintptr_t *gpp = pd_gp(pd, mode);
    uintptr_t old = atomic_load_explicit(gpp, memory_order_acquire);
    for (;;) {
        if (old == PD_READY || (old == PD_NIL && !ioready))
            return NULL;
        uintptr_t new = ioready ? PD_READY : PD_NIL;
        if (atomic_compare_exchange_weak_explicit(gpp, &old, new,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    if (old == PD_NIL || old == PD_WAIT)
        return NULL;
    atomic_fetch_sub_explicit(&nwaiters, 1, memory_order_relaxed);
    return (struct g *)old;
}

/*
 * gort__pd_wake wakes the goroutine waiting on fd for mode as if fd were
 * ready, or leaves a readiness notification if none waits yet: the waiter
 * tries its call again. To the waiter that is a spurious edge, which it
 * already tolerates (it retries and parks again on EAGAIN), so a stale fd
 * number or a reused descriptor wakes nobody wrongly. Callers have their
 * own reason to make the waiter look again: a canceled context (ctx/io.c)
 * that the retry checks. Lock-free; any thread, g0 included.
 */
void gort__pd_wake(int fd, int mode)
{
    pdslot *slot = fdtab_slot(fd, false);
    /* load-acquire; pairs with the CAS-release in gort__pd_register. */
    struct polldesc *pd =
        slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
    if (pd == NULL)
        return;
    struct g *gp = pd_unblock(pd, mode, true);
    if (gp)
        gort__ready(gp);
}

/* ---- Hooks called by the scheduler -------------------------------------- */

bool gort__netpoll_inited(void)
{
    /* load-acquire; pairs with the store-release in gort__netpoll_init. */
    return atomic_load_explicit(&inited, memory_order_acquire);
}

bool gort__netpoll_waiting(void)
{
    return atomic_load_explicit(&nwaiters, memory_order_relaxed) > 0 ||
           gort__sysbatch_pending();
}

void gort__netpoll(int64_t delay, struct gqueue *q)
{
    if (!gort__netpoll_inited())
        return;
    /* Batched calls first: they complete at once, so if any goroutine is
     * ready because of them this poll must not sleep. */
    gort__sysbatch_flush(q);
    gort__netpoll_backend_poll(q->head ? 0 : delay, q);
}

void gort__netpoll_break(void)
{
    if (gort__netpoll_inited())
        gort__netpoll_backend_break();
}

void gort__netpoll_ready(uint64_t tag, int mode, struct gqueue *q)
{
    struct polldesc *pd = (struct polldesc *)(uintptr_t)(tag & TAG_PTR_MASK);
    uint32_t seq = atomic_load_explicit(&pd->seq, memory_order_acquire);
    if ((seq & 0xffff) != (uint32_t)(tag >> TAG_SHIFT))
        return; /* the fd was closed; pd may serve another fd now */
    struct g *rg = (mode & POLL_READ) ? pd_unblock(pd, POLL_READ, true) : NULL;
    struct g *wg = (mode & POLL_WRITE) ? pd_unblock(pd, POLL_WRITE, true)
                                       : NULL;
    if (rg)
        gort__gqueue_push(q, rg);
    if (wg)
        gort__gqueue_push(q, wg);
}

int gort__netpoll_init(void)
{
    if (gort__netpoll_inited())
        return 0;
    int err = 0;
    gort__lock(&initlock);
    if (!atomic_load_explicit(&inited, memory_order_relaxed)) {
        err = gort__netpoll_backend_init();
        if (err == 0) {
            gort__sysbatch_init();
            /* A write to a pipe whose reader is gone must fail with EPIPE,
             * not kill the process (sockets also use MSG_NOSIGNAL). A
             * handler the program installed is left alone. */
            struct sigaction sa;
            if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
                signal(SIGPIPE, SIG_IGN);
            atomic_store_explicit(&inited, true, memory_order_release);
        }
    }
    gort__unlock(&initlock);
    if (err == 0)
        gort__sched_poll_break(); /* a timer sleeper starts polling */
    return err;
}

/* ---- Registration, lookup, close ---------------------------------------- */

int gort__pd_register(int fd, int sotype)
{
    if (fd < 0)
        return -EBADF;
    if (fd >= FDTAB_MAX)
        return -EMFILE;
    int err = gort__netpoll_init();
    if (err)
        return err;
    pdslot *slot = fdtab_slot(fd, true);
    if (slot == NULL)
        return -ENOMEM;
    if (atomic_load_explicit(slot, memory_order_acquire) != NULL)
        return -EEXIST;
    struct polldesc *pd = pd_alloc();
    if (pd == NULL)
        return -ENOMEM;
    pd->fd = fd;
    pd->is_sock = sotype != 0;
    pd->is_stream = sotype == SOCK_STREAM;
    pd->noclose = false;
    pd->closing = false;
    pd->closer_waits = false;
    pd->rd = pd->wd = 0;
    atomic_store_explicit(&pd->info, 0, memory_order_relaxed);
    atomic_store_explicit(&pd->rdrained, false, memory_order_relaxed);
    atomic_store_explicit(&pd->rdop_g, 0, memory_order_relaxed);
    atomic_store_explicit(&pd->rg, PD_NIL, memory_order_relaxed);
    atomic_store_explicit(&pd->wg, PD_NIL, memory_order_relaxed);
    pd->rsema = pd->wsema = pd->csema = 0;
    /* store-release; pairs with the CAS-acquire in mu_lock. */
    atomic_store_explicit(&pd->fdmu, 0, memory_order_release);
    uint32_t seq = atomic_load_explicit(&pd->seq, memory_order_relaxed);
    uint64_t tag = (uint64_t)(uintptr_t)pd | ((uint64_t)(seq & 0xffff)
                                              << TAG_SHIFT);
    err = gort__netpoll_backend_open(fd, tag);
    struct polldesc *none = NULL;
    if (err == 0 && !atomic_compare_exchange_strong_explicit(
                        slot, &none, pd, memory_order_release,
                        memory_order_relaxed)) {
        gort__netpoll_backend_close(fd); /* a racing register won */
        err = -EEXIST;
    }
    if (err) {
        atomic_store_explicit(&pd->fdmu, MU_CLOSED, memory_order_relaxed);
        atomic_fetch_add_explicit(&pd->seq, 1, memory_order_release);
        pd_free(pd);
    }
    return err;
}

struct polldesc *gort__pd_acquire(int fd, enum pd_op op, int *err)
{
    pdslot *slot = fdtab_slot(fd, false);
    /* load-acquire; pairs with the CAS-release in gort__pd_register. */
    struct polldesc *pd =
        slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
    if (pd == NULL) {
        *err = -EBADF;
        return NULL;
    }
    uint32_t seq = atomic_load_explicit(&pd->seq, memory_order_acquire);
    int e = mu_lock(pd, op);
    if (e) {
        *err = e;
        return NULL;
    }
    /* The descriptor may have been freed and reused between the slot load
     * and the lock: then it serves another registration. */
    if (pd->fd != fd ||
        atomic_load_explicit(&pd->seq, memory_order_relaxed) != seq) {
        mu_release(pd, op);
        *err = -EBADF;
        return NULL;
    }
    return pd;
}

void gort__pd_release(struct polldesc *pd, enum pd_op op)
{
    mu_release(pd, op);
}

/* pd_destroy runs once, on the last release of a closed descriptor. */
static void pd_destroy(struct polldesc *pd)
{
    int fd = pd->fd;
    /* A stale event or lookup now sees another generation. */
    atomic_fetch_add_explicit(&pd->seq, 1, memory_order_release);
    pdslot *slot = fdtab_slot(fd, false);
    atomic_store_explicit(slot, NULL, memory_order_release);
    if (pd->noclose)
        gort__netpoll_backend_close(fd);
    else
        close(fd); /* the kernel drops the epoll registration with it */
    if (pd->closer_waits)
        sema_release(&pd->csema); /* the closer frees pd */
    else
        pd_free(pd);
}

/* pd_unblock_all wakes everything parked on pd for a close (Go:
 * pollUnblock). */
static void pd_unblock_all(struct polldesc *pd)
{
    gort__lock(&pd->lock);
    pd->closing = true;
    pd->rseq++; /* in-flight deadline timers become stale */
    pd->wseq++;
    if (pd->rd > 0)
        gort__timer_stop(&pd->rt);
    if (pd->wd > 0)
        gort__timer_stop(&pd->wt);
    pd->rd = pd->wd = 0;
    publish_info(pd);
    struct g *rg = pd_unblock(pd, POLL_READ, false);
    struct g *wg = pd_unblock(pd, POLL_WRITE, false);
    gort__unlock(&pd->lock);
    if (rg)
        gort__ready(rg);
    if (wg)
        gort__ready(wg);
}

int gort__pd_close(int fd, bool noclose)
{
    int err;
    struct polldesc *pd = gort__pd_acquire(fd, PD_OP_REF, &err);
    if (pd == NULL)
        return err;
    uint64_t old = atomic_load_explicit(&pd->fdmu, memory_order_relaxed);
    uint64_t new;
    do {
        if (old & MU_CLOSED) {
            mu_release(pd, PD_OP_REF);
            return -EBADF; /* someone else closed it first */
        }
        new = (old | MU_CLOSED) & ~(MU_RWAIT_MASK | MU_WWAIT_MASK);
    } while (!atomic_compare_exchange_weak_explicit(
        &pd->fdmu, &old, new, memory_order_acq_rel, memory_order_relaxed));
    /* We won the close. These fields are read by pd_destroy, which runs
     * only after our own release below. */
    pd->noclose = noclose;
    pd->closer_waits = gort__getg() != NULL;
    bool waits = pd->closer_waits;
    /* Waiters for the op locks wake, see MU_CLOSED and drop out. */
    for (uint64_t n = (old & MU_RWAIT_MASK) / MU_RWAIT; n > 0; n--)
        sema_release(&pd->rsema);
    for (uint64_t n = (old & MU_WWAIT_MASK) / MU_WWAIT; n > 0; n--)
        sema_release(&pd->wsema);
    pd_unblock_all(pd);
    mu_release(pd, PD_OP_REF);
    if (waits) {
        /* Like Go's FD.Close: return once the fd is really closed. */
        sema_acquire(&pd->csema);
        pd_free(pd);
    }
    return 0;
}

/* ---- Waiting and deadlines ---------------------------------------------- */

int gort__pd_prepare(struct polldesc *pd, int mode)
{
    int err = pd_check(pd, mode);
    if (err)
        return err;
    /* Drop a notification older than the caller's coming syscall (Go:
     * pollReset). We hold the direction's op lock, so nobody waits here. */
    _Atomic uintptr_t *gpp = pd_gp(pd, mode);
    if (atomic_load_explicit(gpp, memory_order_relaxed) != PD_NIL)
        atomic_store_explicit(gpp, PD_NIL, memory_order_relaxed);
    return 0;
}

int gort__pd_wait(struct polldesc *pd, int mode)
{
    int err = pd_check(pd, mode);
    if (err)
        return err;
    if (gort__getg() == NULL)
        return -EPERM;
    while (!pd_block(pd, mode)) {
        err = pd_check(pd, mode);
        if (err)
            return err;
        /* A deadline fired and was moved before we ran: wait again. */
    }
    return 0;
}

static void deadline_fire(struct polldesc *pd, uintptr_t seq, int mode)
{
    gort__lock(&pd->lock);
    uintptr_t cur = mode == POLL_READ ? pd->rseq : pd->wseq;
    int64_t *d = mode == POLL_READ ? &pd->rd : &pd->wd;
    if (seq != cur || pd->closing || *d <= 0) {
        gort__unlock(&pd->lock); /* moved, stopped or closed since */
        return;
    }
    *d = -1;
    publish_info(pd);
    struct g *gp = pd_unblock(pd, mode, false);
    gort__unlock(&pd->lock);
    if (gp)
        gort__ready(gp);
}

static void rt_fire(void *arg, uintptr_t seq, int64_t when)
{
    (void)when;
    deadline_fire(arg, seq, POLL_READ);
}

static void wt_fire(void *arg, uintptr_t seq, int64_t when)
{
    (void)when;
    deadline_fire(arg, seq, POLL_WRITE);
}

/* set_one updates one direction's deadline. Caller holds pd->lock. */
static struct g *set_one(struct polldesc *pd, int64_t d, int mode)
{
    ASSERT_HELD(&pd->lock);
    int64_t *dp = mode == POLL_READ ? &pd->rd : &pd->wd;
    uintptr_t *seq = mode == POLL_READ ? &pd->rseq : &pd->wseq;
    struct timer *t = mode == POLL_READ ? &pd->rt : &pd->wt;
    if (*dp == d && d >= 0)
        return NULL; /* unchanged (Go skips these too) */
    bool armed = *dp > 0;
    (*seq)++;
    *dp = d;
    if (d > 0)
        gort__timer_reset(t, d, 0, *seq);
    else if (armed)
        gort__timer_stop(t);
    return d < 0 ? pd_unblock(pd, mode, false) : NULL;
}

void gort__pd_set_deadline(struct polldesc *pd, int64_t t, int mode)
{
    int64_t d = t;
    if (t != 0 && t <= gort__nanotime())
        d = -1; /* already expired */
    gort__lock(&pd->lock);
    if (pd->closing) {
        gort__unlock(&pd->lock);
        return;
    }
    struct g *rg = (mode & POLL_READ) ? set_one(pd, d, POLL_READ) : NULL;
    struct g *wg = (mode & POLL_WRITE) ? set_one(pd, d, POLL_WRITE) : NULL;
    publish_info(pd);
    gort__unlock(&pd->lock);
    if (rg)
        gort__ready(rg);
    if (wg)
        gort__ready(wg);
}
