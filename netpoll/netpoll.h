/*
 * netpoll.h: the poller's internal contract: poll descriptors, the
 * portable core (netpoll.c) and the OS backend (netpoll_epoll.c).
 *
 * Backend contract (Go: netpoll.go's list; Redis: the aeApi* functions).
 * A backend is one file, netpoll/netpoll_<name>.c, picked by the Makefile
 * (NETPOLL=epoll). It implements exactly these five calls and nothing else:
 *
 *   gort__netpoll_backend_init()        create the kernel poller and the
 *                                       break channel. Called once, under
 *                                       the init lock. 0 or -errno.
 *   gort__netpoll_backend_open(fd, tag) register fd for read and write
 *                                       readiness, edge-triggered, once for
 *                                       the fd's life; `tag` (never 0) comes
 *                                       back with every event. 0 or -errno.
 *   gort__netpoll_backend_close(fd)     deregister fd. 0 or -errno.
 *   gort__netpoll_backend_poll(delay, q) wait up to delay ns (<0: forever,
 *                                       0: just look) and, per event, call
 *                                       gort__netpoll_ready(tag, mode, q).
 *                                       Returns early (possibly with no
 *                                       event) after a break or a signal.
 *   gort__netpoll_backend_break()       make a blocked or the next poll
 *                                       return soon; concurrent breaks may
 *                                       coalesce. Async-signal-unsafe.
 *
 * The backend never looks inside a descriptor: it stores and returns tags.
 * A tag is a descriptor address with its generation (seq) in the high
 * bits; gort__netpoll_ready drops events whose generation is stale, so an
 * event queued for a closed fd whose descriptor now serves another fd wakes
 * nobody.
 */
#ifndef GORT_NETPOLL_H
#define GORT_NETPOLL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../runtime/lock.h"
#include "../runtime/timer.h"

struct g;
struct gqueue;

/* Readiness modes reported by a backend (bit set). */
enum {
    POLL_READ = 1,  /* readable, read side hung up, or error */
    POLL_WRITE = 2, /* writable, hung up, or error */
};

/*
 * struct polldesc is one registered fd (Go: pollDesc plus the fdMutex of
 * internal/poll.FD). Descriptors are allocated in blocks, never freed and
 * reused through a free list, so a stale pointer (an event, a timer, a
 * racing lookup) always points at a polldesc; `seq` tells whether it still
 * describes the same registration.
 */
struct polldesc {
    /* Written while the descriptor is free or being set up, read-only
     * while registered. */
    int fd;
    bool is_sock;              /* send(MSG_NOSIGNAL) instead of write */
    bool is_stream;            /* SOCK_STREAM: rdrained may be set */
    bool noclose;              /* unregister: do not close(2) the fd */
    struct polldesc *link;     /* free list (pollcache lock) */

    /* Lock-free state. */
    _Atomic uint32_t seq;      /* generation; +1 each time it is freed */
    _Atomic uintptr_t rg, wg;  /* PD_NIL, PD_READY, PD_WAIT or a struct g * */
    _Atomic uint32_t info;     /* INFO_* bits, a snapshot of the locked
                                * fields for lock-free error checks */
    _Atomic uint64_t fdmu;     /* fd reference count and op locks */
    _Atomic bool rdrained;     /* the read-op holder's last read left the
                                * socket empty: the next read waits for an
                                * edge before it tries (net.c) */
    _Atomic uintptr_t rdop_g;  /* the struct g * that holds the read op
                                * while it runs a gort_read_with callback,
                                * else 0 (net.c) */
    /* Op semaphores on runtime/sema.c's table (Go: fdMutex.rsema/wsema and
     * FD.csema). */
    uint32_t rsema, wsema, csema;

    /* lock protects everything below. */
    struct lock lock;
    bool closing;
    bool closer_waits;         /* the closer parks on csema until destroy */
    int64_t rd, wd;            /* deadlines: 0 none, -1 expired, else when */
    uintptr_t rseq, wseq;      /* deadline generations; never reset */
    struct timer rt, wt;       /* deadline timers; initialised once */
};

/* ---- Backend (netpoll_<name>.c) ----------------------------------------- */

__attribute__((visibility("hidden"))) int gort__netpoll_backend_init(void);
__attribute__((visibility("hidden"))) int gort__netpoll_backend_open(
    int fd, uint64_t tag);
__attribute__((visibility("hidden"))) int gort__netpoll_backend_close(int fd);
__attribute__((visibility("hidden"))) void gort__netpoll_backend_poll(
    int64_t delay, struct gqueue *q);
__attribute__((visibility("hidden"))) void gort__netpoll_backend_break(void);

/* ---- Portable core (netpoll.c), called by the backend and net.c --------- */

/* gort__netpoll_ready handles one event: wakes the goroutines waiting on
 * the descriptor behind tag in `mode` (POLL_* bits), appending them to q.
 * Runs on the polling thread, with or without a P. */
__attribute__((visibility("hidden"))) void gort__netpoll_ready(
    uint64_t tag, int mode, struct gqueue *q);

/* gort__netpoll_init starts the poller if it is not running. 0 or -errno. */
__attribute__((visibility("hidden"))) int gort__netpoll_init(void);

/* Operations that hold an fd (Go: fdMutex rwlock(true/false) and incref). */
enum pd_op {
    PD_OP_REF,   /* keeps the fd open; no exclusion */
    PD_OP_READ,  /* one reader at a time; others park in line */
    PD_OP_WRITE, /* one writer at a time */
};

/*
 * gort__pd_register makes fd (already O_NONBLOCK) known to the poller.
 * sotype is the socket's SO_TYPE, or 0 for anything else: a socket's
 * writes use send(MSG_NOSIGNAL), and a SOCK_STREAM socket's reads keep the
 * rdrained hint. 0, or -EEXIST (already registered), -EBADF, -EMFILE (fd
 * beyond the table), -ENOMEM, or the backend's error (-EPERM for a regular
 * file).
 */
__attribute__((visibility("hidden"))) int gort__pd_register(int fd,
                                                            int sotype);

/*
 * gort__pd_acquire looks fd up and takes `op` on it, parking behind another
 * reader or writer. Returns the descriptor, or NULL with *err = -EBADF (not
 * registered, or closed) or -EPERM (it would park off a goroutine).
 */
__attribute__((visibility("hidden"))) struct polldesc *gort__pd_acquire(
    int fd, enum pd_op op, int *err);
/* gort__pd_release drops `op`; the last release after a close destroys the
 * descriptor and closes the fd. */
__attribute__((visibility("hidden"))) void gort__pd_release(
    struct polldesc *pd, enum pd_op op);

/* gort__pd_prepare clears a stale readiness notification for `mode`
 * before the caller's first syscall attempt (Go: pollReset). Returns 0 or
 * the error the operation must fail with (-EBADF, -ETIMEDOUT). */
__attribute__((visibility("hidden"))) int gort__pd_prepare(
    struct polldesc *pd, int mode);

/* gort__pd_wait parks until fd may be ready for `mode` (POLL_READ or
 * POLL_WRITE), its deadline expires or it is closed (Go: pollWait).
 * Returns 0, -ETIMEDOUT, -EBADF, or -EPERM off a goroutine. */
__attribute__((visibility("hidden"))) int gort__pd_wait(struct polldesc *pd,
                                                        int mode);

/* gort__pd_set_deadline sets the absolute deadline t (0: none) for the
 * modes in `mode`; a past t expires at once and wakes waiters. */
__attribute__((visibility("hidden"))) void gort__pd_set_deadline(
    struct polldesc *pd, int64_t t, int mode);

/* gort__pd_close marks fd closed, wakes all its waiters with -EBADF and
 * returns once the last user released it (on a goroutine). 0 or -EBADF. */
__attribute__((visibility("hidden"))) int gort__pd_close(int fd,
                                                         bool noclose);

/* gort__pd_wake makes the goroutine waiting on fd for mode (POLL_READ
 * or POLL_WRITE) retry its call, as a spurious readiness would (netpoll.c
 * says why that is safe). Lock-free; any thread. */
__attribute__((visibility("hidden"))) void gort__pd_wake(int fd, int mode);

/* A dial's cancellation (ctx/io.c: gort_dial_ctx). dial.c stores the
 * connecting fd in fd (-1 when none) before it checks stop, and calls
 * stop(arg) before each wait: nonzero ends the dial with that error. The
 * canceler sets its error, then wakes fd's writer: one of the two sees
 * the other. */
struct gort__dial_cancel {
    _Atomic int fd;
    int (*stop)(void *arg);
    void *arg;
};
/* gort__dial is gort_dial with an absolute deadline (0: none) and an
 * optional cancellation. */
__attribute__((visibility("hidden"))) int gort__dial(
    const char *network, const char *address, int64_t deadline,
    struct gort__dial_cancel *dc);

/* ---- System-call batcher (sysbatch.c) ----------------------------------- */

/* gort__sysbatch_init sets up the io_uring ring, or leaves the batcher off
 * (no io_uring, GORT_DEBUG=batch=0, or a kernel that fails the probe).
 * Called once, under the poller's init lock. */
__attribute__((visibility("hidden"))) void gort__sysbatch_init(void);
/* gort__sysbatch_recv / _send: one recv(2) / send(2) of a socket with
 * MSG_DONTWAIT (send also MSG_NOSIGNAL), batched when that pays; returns
 * bytes or -errno (-EAGAIN: would block). The caller holds fd's op or a
 * reference. May park (briefly, until the batch is submitted). recv sets
 * *drained when the kernel said the socket held nothing more after this
 * read (a batched recv on a kernel that reports it; false when unknown). */
__attribute__((visibility("hidden"))) ssize_t gort__sysbatch_recv(
    int fd, void *buf, size_t n, bool *drained);
__attribute__((visibility("hidden"))) ssize_t gort__sysbatch_send(
    int fd, const void *buf, size_t n);

/* gort__net_conn_setup gives a new TCP connection Go's defaults
 * (TCP_NODELAY, 15 s keep-alive); other families are left alone. */
__attribute__((visibility("hidden"))) void gort__net_conn_setup(int fd,
                                                                int family);

/* Address parsing (dial.c), internal entry points for fuzz/net_addr.c:
 * gort__parse_port reads a port as Go's LookupPort reads a numeric one;
 * gort__split_hostport splits an address into host (at most
 * GORT_HOST_MAX bytes with the NUL) and port (-1: none). 0 or -EINVAL. */
#define GORT_HOST_MAX 256
__attribute__((visibility("hidden"))) int gort__parse_port(const char *s,
                                                           int *port);
__attribute__((visibility("hidden"))) int gort__split_hostport(
    const char *addr, char *host, int *port);

#endif /* GORT_NETPOLL_H */
