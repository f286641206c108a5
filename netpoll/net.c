/*
 * net.c: the fd-level calls of <gort/net.h>: read, write, accept,
 * the accept back-off, shutdown, close, deadlines, the callback calls (gort_read_with,
 * gort_write_with) and the pollable-fd API (Go: internal/poll's FD methods
 * and RawConn).
 *
 * Every call tries the system call first and parks only on EAGAIN, so the
 * fast path is the syscall plus two atomic operations (the op lock, Go's
 * fdMutex) and no allocation; the exception is a read after one that the
 * kernel said emptied a stream socket (the drained hint, below). A
 * socket's reads and writes go through the system-call batcher
 * (sysbatch.c), which shares one kernel entry among the calls of many
 * goroutines.
 *
 * Invariants: a call holds its op (PD_OP_READ, PD_OP_WRITE or PD_OP_REF)
 * from gort__pd_acquire to gort__pd_release, so the fd number cannot be
 * closed and reused under a system call in progress.
 *
 * Locking: none here; see netpoll.c.
 *
 * See also: netpoll.c, dial.c, include/gort/net.h, docs/netpoll.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../runtime/runtime.h"
#include "netpoll.h"

#define MAX_RW (1 << 30) /* Go: maxRW, bytes per read/write system call */

/*
 * The drained hint. A reader that just emptied a stream socket would find
 * nothing on its next try: Go's read loop makes that read, gets EAGAIN and
 * only then parks. When the kernel says a read left nothing behind (the
 * batcher's recv, on kernels that report it), the read-op holder sets
 * pd->rdrained, and the next gort_read or gort_read_with waits for an
 * edge before it tries. It skips the prepare's drop of an older
 * notification too: that notification may be for data that came after
 * the emptying read, which no later edge would announce again.
 *
 * Why this cannot lose data: the socket was empty when the read returned,
 * so all data now there arrived later; each arrival makes an epoll edge,
 * which sets rg to PD_READY or wakes the waiter, and only a read-op holder
 * that then reads consumes it. So the wait returns at once if anything
 * came. Only the op holder sets or clears the hint (under the op lock,
 * so hints and reads are in order), and only for SOCK_STREAM, where one
 * read empties the queue; a datagram socket keeps the next datagram. A
 * gort_sys_read outside gort_read_with's callback (pd->rdop_g is not its
 * goroutine) leaves the hint alone: its data left no pending edge behind
 * anyway.
 */
static inline bool read_was_drained(struct polldesc *pd)
{
    if (!atomic_load_explicit(&pd->rdrained, memory_order_relaxed))
        return false;
    atomic_store_explicit(&pd->rdrained, false, memory_order_relaxed);
    return true;
}

/* read_hint records the hint after a read by the op holder. */
static inline void read_hint(struct polldesc *pd, bool drained)
{
    if (pd->is_stream &&
        atomic_load_explicit(&pd->rdrained, memory_order_relaxed) != drained)
        atomic_store_explicit(&pd->rdrained, drained, memory_order_relaxed);
}

/* read_start is the start of a read-op holder's call: the error check and
 * the drop of an old notification (gort__pd_prepare), or, after a read
 * that drained the socket, a wait for the next edge. */
static int read_start(struct polldesc *pd)
{
    if (read_was_drained(pd)) {
        struct m *mp = gort__getm();
        if (mp && mp->p)
            P_STAT_INC(mp->p->ndrainwaits, 1);
        return gort__pd_wait(pd, POLL_READ);
    }
    return gort__pd_prepare(pd, POLL_READ);
}

/* read_once is one non-blocking read of pd's fd: a socket's goes through
 * the system-call batcher (sysbatch.c). Returns bytes or -errno. The
 * caller holds the read op. */
static ssize_t read_once(struct polldesc *pd, void *buf, size_t n)
{
    if (pd->is_sock) {
        bool drained;
        ssize_t r = gort__sysbatch_recv(pd->fd, buf, n, &drained);
        read_hint(pd, drained);
        return r;
    }
    ssize_t r = read(pd->fd, buf, n);
    return r < 0 ? -errno : r;
}

ssize_t gort_read(int fd, void *buf, size_t n)
{
    RT_ENTRY();
    int err;
    struct polldesc *pd = gort__pd_acquire(fd, PD_OP_READ, &err);
    if (pd == NULL)
        return err;
    ssize_t r = n > 0 ? read_start(pd) : gort__pd_prepare(pd, POLL_READ);
    if (r == 0 && n > 0) {
        if (n > MAX_RW)
            n = MAX_RW;
        for (;;) {
            r = read_once(pd, buf, n);
            if (r >= 0 || (r != -EINTR && r != -EAGAIN))
                break;
            if (r == -EAGAIN && (r = gort__pd_wait(pd, POLL_READ)) < 0)
                break;
        }
    }
    gort__pd_release(pd, PD_OP_READ);
    return r;
}

/* rw_with runs try_fn under fd's op for `mode` until it returns something
 * other than -EAGAIN, parking on the poller in between (Go: RawConn.Read
 * and Write). The prepare comes before the first try, so an edge that
 * arrives between a try's EAGAIN and the park is kept, not lost. -EINTR
 * from the callback is retried at once, as gort_read retries it. */
static ssize_t rw_with(int fd, int mode, ssize_t (*try_fn)(int, void *),
                       void *arg)
{
    int err;
    enum pd_op op = mode == POLL_READ ? PD_OP_READ : PD_OP_WRITE;
    struct polldesc *pd = gort__pd_acquire(fd, op, &err);
    if (pd == NULL)
        return err;
    ssize_t r;
    struct g *gp = NULL;
    if (mode == POLL_READ) {
        r = read_start(pd);
        gp = gort__getg();
    } else {
        r = gort__pd_prepare(pd, mode);
    }
    while (r == 0) {
        /* The callback's gort_sys_read on fd runs under our op; relaxed:
         * only gp itself compares it with itself. */
        if (gp)
            atomic_store_explicit(&pd->rdop_g, (uintptr_t)gp,
                                  memory_order_relaxed);
        r = try_fn(fd, arg);
        if (gp)
            atomic_store_explicit(&pd->rdop_g, 0, memory_order_relaxed);
        if (r == -EINTR)
            r = 0;
        else if (r == -EAGAIN)
            r = gort__pd_wait(pd, mode);
        else
            break;
    }
    gort__pd_release(pd, op);
    return r;
}

ssize_t gort_read_with(int fd, ssize_t (*try_read)(int fd, void *arg),
                       void *arg)
{
    RT_ENTRY();
    if (try_read == NULL)
        return -EINVAL;
    return rw_with(fd, POLL_READ, try_read, arg);
}

ssize_t gort_write_with(int fd, ssize_t (*try_write)(int fd, void *arg),
                        void *arg)
{
    RT_ENTRY();
    if (try_write == NULL)
        return -EINVAL;
    return rw_with(fd, POLL_WRITE, try_write, arg);
}

/* write_once is one non-blocking write of pd's fd, as read_once. */
static ssize_t write_once(struct polldesc *pd, const char *p, size_t n)
{
    if (n > MAX_RW)
        n = MAX_RW;
    if (pd->is_sock)
        return gort__sysbatch_send(pd->fd, p, n);
    ssize_t r = write(pd->fd, p, n);
    return r < 0 ? -errno : r;
}

ssize_t gort_write(int fd, const void *buf, size_t n)
{
    RT_ENTRY();
    if (n > SSIZE_MAX)
        return -EINVAL;
    int err;
    struct polldesc *pd = gort__pd_acquire(fd, PD_OP_WRITE, &err);
    if (pd == NULL)
        return err;
    ssize_t r = gort__pd_prepare(pd, POLL_WRITE);
    size_t done = 0;
    while (r == 0 && done < n) {
        ssize_t w = write_once(pd, (const char *)buf + done, n - done);
        if (w >= 0)
            done += (size_t)w;
        else if (w == -EAGAIN)
            r = gort__pd_wait(pd, POLL_WRITE);
        else if (w != -EINTR)
            r = w;
    }
    gort__pd_release(pd, PD_OP_WRITE);
    return r < 0 ? r : (ssize_t)n;
}

/* sys_rw is gort_sys_read (mode POLL_READ) and gort_sys_write. A
 * registered socket's call goes through the batcher holding a reference,
 * so the fd number cannot be closed and reused while the call is queued;
 * anything else gets the plain system call (and read(2) of 0 bytes is 0,
 * where recv would wait for data). write(2) does not write to buf. */
static ssize_t sys_rw(int fd, void *buf, size_t n, int mode)
{
    if (n > MAX_RW)
        n = MAX_RW;
    int err;
    struct polldesc *pd = n > 0 ? gort__pd_acquire(fd, PD_OP_REF, &err) : NULL;
    if (pd && !pd->is_sock) {
        gort__pd_release(pd, PD_OP_REF);
        pd = NULL;
    }
    ssize_t r;
    if (pd == NULL) {
        r = mode == POLL_READ ? read(fd, buf, n) : write(fd, buf, n);
        return r < 0 ? -errno : r;
    }
    if (mode == POLL_READ) {
        bool drained;
        r = gort__sysbatch_recv(fd, buf, n, &drained);
        struct g *gp = gort__getg();
        if (gp && atomic_load_explicit(&pd->rdop_g, memory_order_relaxed) ==
                      (uintptr_t)gp)
            read_hint(pd, drained); /* inside gort_read_with: we hold the op */
    } else {
        r = gort__sysbatch_send(fd, buf, n);
    }
    gort__pd_release(pd, PD_OP_REF);
    return r;
}

ssize_t gort_sys_read(int fd, void *buf, size_t n)
{
    RT_ENTRY();
    return sys_rw(fd, buf, n, POLL_READ);
}

ssize_t gort_sys_write(int fd, const void *buf, size_t n)
{
    RT_ENTRY();
    return sys_rw(fd, (void *)buf, n, POLL_WRITE);
}

/* conn_setup applies Go's defaults to a new TCP connection: no Nagle, and
 * keep-alive probes after 15 s idle every 15 s. Failures are ignored, as
 * Go ignores them for accepted connections. */
void gort__net_conn_setup(int fd, int family)
{
    if (family != AF_INET && family != AF_INET6)
        return;
    int one = 1, secs = 15;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof secs);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs);
}

int gort_accept(int lfd)
{
    RT_ENTRY();
    int err;
    struct polldesc *pd = gort__pd_acquire(lfd, PD_OP_READ, &err);
    if (pd == NULL)
        return err;
    int r = gort__pd_prepare(pd, POLL_READ);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    while (r == 0) {
        len = sizeof ss;
        int cfd = accept4(lfd, (struct sockaddr *)&ss, &len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd >= 0) {
            r = cfd;
            break;
        }
        err = errno;
        if (err == EINTR || err == ECONNABORTED)
            continue;
        if (err != EAGAIN)
            r = -err;
        else
            r = gort__pd_wait(pd, POLL_READ);
    }
    gort__pd_release(pd, PD_OP_READ);
    if (r < 0)
        return r;
    gort__net_conn_setup(r, len > 0 ? ss.ss_family : AF_UNSPEC);
    err = gort__pd_register(r, SOCK_STREAM); /* tcp and unix listeners */
    if (err) {
        close(r);
        return err;
    }
    return r;
}

/*
 * The accept back-off (Go: net/http's Server.Serve). Out of fds or kernel
 * memory, accept fails at once while connections wait in the backlog: a
 * loop that retried at once would spin a CPU and flood the log just when
 * the machine is short of everything. Go sleeps 5 ms, doubling to 1 s,
 * and starts again at 5 ms after a success; so does this. Go logs every
 * retry; one line a second at most tells the same story.
 */
#define BACKOFF_MIN GORT_MS(5)
#define BACKOFF_MAX GORT_MS(1000)

static bool accept_temporary(int err)
{
    return err == -EMFILE || err == -ENFILE || err == -ENOBUFS ||
           err == -ENOMEM;
}

int gort_accept_backoff(int lfd, struct gort_backoff *b)
{
    RT_ENTRY();
    if (b == NULL)
        return -EINVAL;
    for (;;) {
        int r = gort_accept(lfd);
        if (!accept_temporary(r)) {
            if (r >= 0)
                b->delay = 0;
            return r;
        }
        b->delay = b->delay < BACKOFF_MIN ? BACKOFF_MIN : b->delay * 2;
        if (b->delay > BACKOFF_MAX)
            b->delay = BACKOFF_MAX;
        b->retries++;
        int64_t now = gort_now();
        if (!b->quiet &&
            (b->logged_at == 0 || now - b->logged_at >= GORT_MS(1000))) {
            b->logged_at = now;
            fprintf(stderr, "gort: accept: %s; retrying in %lldms\n",
                    gort_strerror(r), (long long)(b->delay / GORT_MS(1)));
        }
        gort_sleep(b->delay);
    }
}

int gort_shutdown(int fd, int how)
{
    RT_ENTRY();
    int err;
    struct polldesc *pd = gort__pd_acquire(fd, PD_OP_REF, &err);
    if (pd == NULL)
        return err;
    int r = shutdown(fd, how) < 0 ? -errno : 0;
    gort__pd_release(pd, PD_OP_REF);
    return r;
}

int gort_close(int fd)
{
    RT_ENTRY();
    return gort__pd_close(fd, false);
}

static int set_deadline(int fd, int64_t t, int mode)
{
    int err;
    struct polldesc *pd = gort__pd_acquire(fd, PD_OP_REF, &err);
    if (pd == NULL)
        return err;
    gort__pd_set_deadline(pd, t, mode);
    gort__pd_release(pd, PD_OP_REF);
    return 0;
}

int gort_set_deadline(int fd, int64_t t)
{
    RT_ENTRY();
    return set_deadline(fd, t, POLL_READ | POLL_WRITE);
}

int gort_set_read_deadline(int fd, int64_t t)
{
    RT_ENTRY();
    return set_deadline(fd, t, POLL_READ);
}

int gort_set_write_deadline(int fd, int64_t t)
{
    RT_ENTRY();
    return set_deadline(fd, t, POLL_WRITE);
}

int gort_fd_register(int fd)
{
    RT_ENTRY();
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    int type;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type <= 0)
        type = 0; /* not a socket */
    int err = gort__pd_register(fd, type);
    /* epoll_ctl says EPERM for a file it cannot poll; gort's -EPERM
     * means "called outside a goroutine", so give this its own code. */
    return err == -EPERM ? -EOPNOTSUPP : err;
}

/* gort__hook_fd_register is gort_fd_register for libgort-hook: the fd's
 * flags stay the user's (hook/sock.c waits with gort_fd_wait_* and makes
 * its own calls non-blocking with MSG_DONTWAIT). */
int gort__hook_fd_register(int fd)
{
    RT_ENTRY();
    int type;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        return -errno;
    int err = gort__pd_register(fd, type);
    return err == -EPERM ? -EOPNOTSUPP : err;
}

int gort_fd_unregister(int fd)
{
    RT_ENTRY();
    return gort__pd_close(fd, true);
}

/* poll_level is fd_wait's try: edge-triggered epoll reports changes, not
 * levels, so look at the level; rw_with's prepare comes first, so no edge
 * can fall between that look and the park. */
static ssize_t poll_level(int fd, void *arg)
{
    struct pollfd pfd = {.fd = fd, .events = *(short *)arg};
    int n = poll(&pfd, 1, 0);
    if (n < 0)
        return -errno;
    return n > 0 ? 0 : -EAGAIN;
}

static int fd_wait(int fd, int mode)
{
    short events = mode == POLL_READ ? POLLIN : POLLOUT;
    return (int)rw_with(fd, mode, poll_level, &events);
}

int gort_fd_wait_read(int fd)
{
    RT_ENTRY();
    return fd_wait(fd, POLL_READ);
}

int gort_fd_wait_write(int fd)
{
    RT_ENTRY();
    return fd_wait(fd, POLL_WRITE);
}
