/*
 * sysbatch.c: the system-call batcher. The non-blocking socket reads and
 * writes of many goroutines (gort_read, gort_write, gort_sys_read,
 * gort_sys_write on registered sockets) go into one io_uring submission
 * queue, and a P submits the whole batch with one io_uring_enter(2) when
 * it runs out of goroutines. N connections' calls then cost one kernel
 * entry instead of N. Go makes one system call per operation.
 *
 * Why: a kernel entry is the largest fixed cost of a small message. On the
 * reference VM (docs/benchmarks.md) getppid(2) takes 1.3 us, and an echo
 * server at one processor spends about 30% of its CPU entering and leaving
 * the kernel for its read, its write and the read that finds nothing.
 *
 * This is not an io_uring poller: readiness, deadlines and close stay on
 * epoll (netpoll.c). Every request carries MSG_DONTWAIT, so the kernel
 * completes it inside the io_uring_enter that submits it, with a byte
 * count or -EAGAIN, just what recv(2) or send(2) would have returned; the
 * caller then waits for readiness exactly as before. A recv's completion
 * also says whether it left the socket empty, on kernels that report it
 * (the probe checks); net.c's drained hint uses that. Kernels without
 * io_uring, with it disabled (sysctl, seccomp), or that would not complete
 * a DONTWAIT request inline (the start-up probe) make direct calls, as
 * does GORT_DEBUG=batch=0.
 *
 * Invariants:
 *  - A request (struct sb_req) lives on its goroutine's stack from queueing
 *    until the reaper stores its result. The goroutine holds fd's op or a
 *    reference (PD_OP_*), so the fd number cannot be reused meanwhile.
 *  - req.state is SB_NEW until the reaper publishes the result (SB_DONE).
 *    The goroutine's park commit CASes SB_NEW to its g, so exactly one of
 *    "the goroutine sees SB_DONE and does not park" and "the reaper finds
 *    the g and readies it" happens (pd_block's handshake, netpoll.c).
 *  - Every request submitted by a flush is reaped before that flush
 *    returns, so after a flush nothing is in the kernel, and nobody ever
 *    has to wait for the ring in a blocking poll.
 *  - pending counts requests queued and not yet reaped; while it is not 0
 *    gort__netpoll_waiting is true (checkdead sees I/O waiters).
 *  - A P that queued requests flushes before it goes idle (findrunnable
 *    flushes before it polls, steals or drops its P), so no request waits
 *    for a P that sleeps.
 *
 * When a batch is submitted:
 *  - a P finds no runnable goroutine (findrunnable): the usual case;
 *  - the queue holds SB_BATCH_MAX requests (the goroutine that fills it);
 *  - a P queued requests SB_AGE_TICKS time slices ago and its run queue
 *    never emptied since (findrunnable via direct_next);
 *  - any gort__netpoll, sysmon's 10 ms one included.
 * A request skips the batch when its P has nothing else to run and the
 * queue is empty: nothing would share the kernel entry, and a direct call
 * is cheaper than a park.
 *
 * Locking: sqlock guards appends to the submission queue (its tail);
 * enterlock guards io_uring_enter and the completion queue (its head).
 * Neither is held with the other or with any other lock, and both are held
 * only for a few instructions or one io_uring_enter.
 *
 * See also: netpoll.h, net.c, runtime/sched.c (findrunnable),
 * docs/netpoll.md ("The system-call batcher").
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../runtime/proc.h"
#include "../runtime/runtime.h"
#include "netpoll.h"

#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_CQE_F_SOCK_NONEMPTY
#define IORING_CQE_F_SOCK_NONEMPTY (1U << 2)
#endif

enum {
    SB_ENTRIES = 256,  /* submission queue slots; the CQ gets twice that */
    SB_BATCH_MAX = 128, /* the goroutine that queues this many flushes */
};

#define SB_NEW ((uintptr_t)0)
#define SB_DONE ((uintptr_t)1)

struct sb_req {
    _Atomic uintptr_t state; /* SB_NEW, SB_DONE or the parked struct g * */
    int32_t res;             /* the CQE's result, valid once SB_DONE */
    uint32_t flags;          /* the CQE's flags, valid once SB_DONE */
};

static struct {
    int fd;                        /* the ring; -1: direct calls */
    uint32_t sq_mask, sq_entries, cq_mask;
    _Atomic uint32_t *sq_head;     /* advanced by the kernel */
    _Atomic uint32_t *sq_tail;     /* ours (sqlock) */
    uint32_t *sq_array;
    struct io_uring_sqe *sqes;
    _Atomic uint32_t *cq_head;     /* ours (enterlock) */
    _Atomic uint32_t *cq_tail;     /* advanced by the kernel */
    struct io_uring_cqe *cqes;
    void *ring_mem, *sqe_mem;
    size_t ring_len, sqe_len;

    struct lock sqlock, enterlock;
    _Atomic uint32_t queued;       /* in the SQ, not submitted */
    _Atomic int32_t pending;       /* queued or submitted, not reaped */
    uint64_t submitted;            /* enterlock: since start */
    uint64_t reaped;               /* enterlock */
    bool inq;                      /* a recv's CQE tells whether the socket
                                    * still holds data (set once, at init) */
} sb = {.fd = -1,
        .sqlock = LOCK_INIT(LOCKRANK_SYSBATCH_SQ),
        .enterlock = LOCK_INIT(LOCKRANK_SYSBATCH_ENTER)};

/* sb_on mirrors sb.fd >= 0 for readers that did not come through the
 * poller's init (gort_stats). */
static _Atomic bool sb_on;

static int ring_enter(uint32_t to_submit, uint32_t min_complete)
{
    return (int)syscall(__NR_io_uring_enter, sb.fd, to_submit, min_complete,
                        IORING_ENTER_GETEVENTS, NULL, 0);
}

/* ---- Setting up ----------------------------------------------------------- */

static void ring_unmap(void)
{
    if (sb.sqe_mem && sb.sqe_mem != MAP_FAILED)
        munmap(sb.sqe_mem, sb.sqe_len);
    if (sb.ring_mem && sb.ring_mem != MAP_FAILED)
        munmap(sb.ring_mem, sb.ring_len);
    if (sb.fd >= 0)
        close(sb.fd);
    sb.fd = -1;
    sb.ring_mem = sb.sqe_mem = NULL;
}

static int ring_map(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* COOP_TASKRUN: no interrupt for task work we never create. */
    p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    int fd = (int)syscall(__NR_io_uring_setup, SB_ENTRIES, &p);
    if (fd < 0 && errno == EINVAL) { /* kernels before 5.19 */
        memset(&p, 0, sizeof p);
        fd = (int)syscall(__NR_io_uring_setup, SB_ENTRIES, &p);
    }
    if (fd < 0)
        return -errno;
    sb.fd = fd;
    if (!(p.features & IORING_FEAT_SINGLE_MMAP))
        return -ENOSYS; /* before 5.4: not worth a second mapping */
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    sb.ring_len = sq_len > cq_len ? sq_len : cq_len;
    sb.ring_mem = mmap(NULL, sb.ring_len, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    sb.sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
    sb.sqe_mem = mmap(NULL, sb.sqe_len, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (sb.ring_mem == MAP_FAILED || sb.sqe_mem == MAP_FAILED)
        return -ENOMEM;
    char *r = sb.ring_mem;
    sb.sq_head = (_Atomic uint32_t *)(r + p.sq_off.head);
    sb.sq_tail = (_Atomic uint32_t *)(r + p.sq_off.tail);
    sb.sq_mask = *(uint32_t *)(r + p.sq_off.ring_mask);
    sb.sq_entries = p.sq_entries;
    sb.sq_array = (uint32_t *)(r + p.sq_off.array);
    sb.cq_head = (_Atomic uint32_t *)(r + p.cq_off.head);
    sb.cq_tail = (_Atomic uint32_t *)(r + p.cq_off.tail);
    sb.cq_mask = *(uint32_t *)(r + p.cq_off.ring_mask);
    sb.cqes = (struct io_uring_cqe *)(r + p.cq_off.cqes);
    sb.sqes = sb.sqe_mem;
    return 0;
}

/* sqe_fill writes one request into slot `tail`. Caller holds sqlock (or
 * owns the ring, during the probe). */
static void sqe_fill(uint32_t tail, uint8_t op, int fd, const void *buf,
                     size_t n, int flags, uint64_t user_data)
{
    uint32_t i = tail & sb.sq_mask;
    struct io_uring_sqe *e = &sb.sqes[i];
    memset(e, 0, sizeof *e);
    e->opcode = op;
    e->fd = fd;
    e->addr = (uint64_t)(uintptr_t)buf;
    e->len = n > 0x7ffff000 ? 0x7ffff000 : (uint32_t)n;
    e->msg_flags = (uint32_t)flags;
    e->user_data = user_data;
    sb.sq_array[i] = i;
}

/* probe_round submits `count` requests already in the SQ and collects
 * their completions into res[] and flags[] by user_data (1-based);
 * returns false unless io_uring_enter took them all and every one
 * completed before it returned. Owns the ring (init). */
static bool probe_round(uint32_t count, int32_t *res, uint32_t *flags)
{
    if (ring_enter(count, 0) != (int)count)
        return false;
    uint32_t seen = 0;
    uint32_t h = atomic_load_explicit(sb.cq_head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(sb.cq_tail, memory_order_acquire);
    for (; h != tail; h++) {
        struct io_uring_cqe *c = &sb.cqes[h & sb.cq_mask];
        if (c->user_data >= 1 && c->user_data <= count) {
            res[c->user_data - 1] = c->res;
            flags[c->user_data - 1] = c->flags;
            seen++;
        }
    }
    atomic_store_explicit(sb.cq_head, h, memory_order_release);
    return seen == count;
}

static void probe_queue(uint8_t op, int fd, void *buf, size_t n, int flags,
                        uint64_t user_data)
{
    uint32_t t = atomic_load_explicit(sb.sq_tail, memory_order_relaxed);
    sqe_fill(t, op, fd, buf, n, flags, user_data);
    atomic_store_explicit(sb.sq_tail, t + 1, memory_order_release);
}

/*
 * probe checks that this kernel completes DONTWAIT socket requests inline:
 * a recv on an empty socket must fail with -EAGAIN and a send must succeed,
 * both before io_uring_enter returns. Older kernels park such a recv on
 * their internal poll, which would hang a goroutine past its deadline.
 * It also learns whether a recv's completion reports data left behind
 * (IORING_CQE_F_SOCK_NONEMPTY, the socket's "inq"; Linux 6.0 and later):
 * a 2-byte recv of the 4 sent must carry the flag and a recv of the other
 * 2 must not.
 */
static bool probe(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0)
        return false;
    char in[8], out[4] = "ping";
    int32_t res[2];
    uint32_t flags[2];
    probe_queue(IORING_OP_RECV, sv[0], in, sizeof in, MSG_DONTWAIT, 1);
    probe_queue(IORING_OP_SEND, sv[1], out, sizeof out,
                MSG_DONTWAIT | MSG_NOSIGNAL, 2);
    bool ok = probe_round(2, res, flags) && res[0] == -EAGAIN &&
              res[1] == (int32_t)sizeof out;
    /* A round that fails leaves its request in the rings, where the
     * first flush would reap it as a batch's (user_data 1 taken for a
     * request's address): then the whole probe fails and the ring goes. */
    bool first = false, second = false;
    if (ok) {
        probe_queue(IORING_OP_RECV, sv[0], in, 2, MSG_DONTWAIT, 1);
        ok = probe_round(1, res, flags);
        first = ok && res[0] == 2 && (flags[0] & IORING_CQE_F_SOCK_NONEMPTY);
    }
    if (ok) {
        probe_queue(IORING_OP_RECV, sv[0], in, sizeof in, MSG_DONTWAIT, 1);
        ok = probe_round(1, res, flags);
        second = ok && res[0] == 2 && !(flags[0] & IORING_CQE_F_SOCK_NONEMPTY);
    }
    sb.inq = first && second;
    close(sv[0]); /* also ends a recv the kernel kept waiting */
    close(sv[1]);
    return ok;
}

void gort__sysbatch_init(void)
{
    if (gort__debug.nobatch)
        return;
    if (ring_map() != 0 || !probe())
        ring_unmap(); /* direct calls */
    else
        atomic_store_explicit(&sb_on, true, memory_order_release);
}

bool gort__sysbatch_inq(void)
{
    return gort__sysbatch_on() && sb.inq;
}

bool gort__sysbatch_on(void)
{
    return atomic_load_explicit(&sb_on, memory_order_acquire);
}

/* ---- Flushing ------------------------------------------------------------- */

/* reap publishes every completion in the CQ and appends the goroutines
 * that parked for them to q. Caller holds enterlock. */
static int32_t reap(struct gqueue *q)
{
    ASSERT_HELD(&sb.enterlock);
    uint32_t h = atomic_load_explicit(sb.cq_head, memory_order_relaxed);
    /* load-acquire; pairs with the kernel's store-release of the tail. */
    uint32_t tail = atomic_load_explicit(sb.cq_tail, memory_order_acquire);
    int32_t n = 0;
    for (; h != tail; h++, n++) {
        struct io_uring_cqe *c = &sb.cqes[h & sb.cq_mask];
        struct sb_req *req = (struct sb_req *)(uintptr_t)c->user_data;
        req->res = c->res;
        req->flags = c->flags;
        /* RMW acq_rel: publishes res to the goroutine; it may return (and
         * its frame, req, vanish) at once, so req is not touched after. */
        uintptr_t old = atomic_exchange_explicit(&req->state, SB_DONE,
                                                 memory_order_acq_rel);
        if (old > SB_DONE)
            gort__gqueue_push(q, (struct g *)old);
    }
    /* store-release: the slots may be reused once we are past them. */
    atomic_store_explicit(sb.cq_head, h, memory_order_release);
    sb.reaped += (uint32_t)n;
    return n;
}

/* flush submits everything queued and reaps it all (see the invariants),
 * appending the goroutines to ready to q. */
static void flush(struct gqueue *q)
{
    gort__lock(&sb.enterlock);
    int32_t done = 0;
    for (;;) {
        uint32_t head = atomic_load_explicit(sb.sq_head, memory_order_acquire);
        uint32_t tail = atomic_load_explicit(sb.sq_tail, memory_order_acquire);
        uint32_t n = tail - head;
        if (n == 0 && sb.submitted == sb.reaped)
            break;
        /* Nothing new to submit but some still out: wait for one. */
        int r = ring_enter(n, n == 0 ? 1 : 0);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EBUSY) {
                done += reap(q);
                continue;
            }
            gort__throw("sysbatch: io_uring_enter failed");
        }
        sb.submitted += (uint32_t)r;
        atomic_fetch_sub_explicit(&sb.queued, (uint32_t)r,
                                  memory_order_relaxed);
        done += reap(q);
    }
    gort__unlock(&sb.enterlock);
    if (done) {
        atomic_fetch_sub_explicit(&sb.pending, done, memory_order_relaxed);
        atomic_fetch_add_explicit(&gort__sched.nbatched, (uint64_t)done,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&gort__sched.nbatchflushes, 1,
                                  memory_order_relaxed);
    }
}

bool gort__sysbatch_pending(void)
{
    return atomic_load_explicit(&sb.pending, memory_order_relaxed) > 0;
}

void gort__sysbatch_flush(struct gqueue *q)
{
    struct m *mp = gort__getm();
    if (mp && mp->p)
        mp->p->sb_queued = false;
    if (sb.fd >= 0 && gort__sysbatch_pending())
        flush(q);
}

/* ---- Queueing a call ------------------------------------------------------ */

static bool sb_commit(struct g *gp, void *arg)
{
    uintptr_t expect = SB_NEW;
    /* CAS-release; pairs with the exchange in reap, which readies gp. */
    return atomic_compare_exchange_strong_explicit(
        (_Atomic uintptr_t *)arg, &expect, (uintptr_t)gp,
        memory_order_acq_rel, memory_order_acquire);
}

/* worth_batching: false when a direct call is cheaper (see the head
 * comment): off a goroutine, or nothing to share the kernel entry with. */
static bool worth_batching(struct p *pp)
{
    return sb.fd >= 0 && pp &&
           (atomic_load_explicit(&sb.queued, memory_order_relaxed) > 0 ||
            !gort__runq_empty(pp));
}

/* queue appends one request; false if the SQ is full (caller flushes). */
static bool queue(uint8_t op, int fd, const void *buf, size_t n, int flags,
                  struct sb_req *req)
{
    gort__lock(&sb.sqlock);
    uint32_t tail = atomic_load_explicit(sb.sq_tail, memory_order_relaxed);
    if (tail - atomic_load_explicit(sb.sq_head, memory_order_acquire) >=
        sb.sq_entries) {
        gort__unlock(&sb.sqlock);
        return false;
    }
    sqe_fill(tail, op, fd, buf, n, flags, (uint64_t)(uintptr_t)req);
    /* store-release; pairs with the kernel's load-acquire of the tail. */
    atomic_store_explicit(sb.sq_tail, tail + 1, memory_order_release);
    atomic_fetch_add_explicit(&sb.pending, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sb.queued, 1, memory_order_relaxed);
    gort__unlock(&sb.sqlock);
    return true;
}

/* sb_call runs recv or send of fd through the batch, parking until it is
 * reaped; returns the result as -errno, and the CQE's flags in *cflags
 * unless it is NULL. */
static ssize_t sb_call(struct g *gp, uint8_t op, int fd, const void *buf,
                       size_t n, int flags, uint32_t *cflags)
{
    struct sb_req req = {.state = SB_NEW};
    struct gqueue q = {0};
    while (!queue(op, fd, buf, n, flags, &req))
        flush(&q); /* full: make room */
    struct p *pp = gort__getm()->p;
    if (!pp->sb_queued) {
        pp->sb_queued = true;
        pp->sb_tick = pp->schedtick;
    }
    if (atomic_load_explicit(&sb.queued, memory_order_relaxed) >=
        SB_BATCH_MAX)
        flush(&q);
    gort__ready_list(&q);
    /* load-acquire; pairs with the exchange in reap. A flush of our own
     * may have reaped req already: then there is nothing to wait for. */
    if (atomic_load_explicit(&req.state, memory_order_acquire) == SB_NEW)
        gort__park_g(gp, sb_commit, &req.state, WAIT_IO);
    if (cflags)
        *cflags = req.flags;
    return req.res;
}

ssize_t gort__sysbatch_recv(int fd, void *buf, size_t n, bool *drained)
{
    struct g *gp = gort__getg();
    *drained = false;
    if (gp && worth_batching(gort__getm()->p)) {
        uint32_t cflags;
        ssize_t r = sb_call(gp, IORING_OP_RECV, fd, buf, n, MSG_DONTWAIT,
                            &cflags);
        *drained = sb.inq && r > 0 && !(cflags & IORING_CQE_F_SOCK_NONEMPTY);
        return r;
    }
    ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);
    return r < 0 ? -errno : r;
}

ssize_t gort__sysbatch_send(int fd, const void *buf, size_t n)
{
    struct g *gp = gort__getg();
    if (gp && worth_batching(gort__getm()->p))
        return sb_call(gp, IORING_OP_SEND, fd, buf, n,
                       MSG_DONTWAIT | MSG_NOSIGNAL, NULL);
    ssize_t r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    return r < 0 ? -errno : r;
}
