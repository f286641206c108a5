/*
 * sock.c: libgort-hook's socket calls: read, write, readv, writev, recv,
 * send, recvfrom, sendto, recvmsg, sendmsg, connect, accept, accept4 and
 * poll wait on gort's netpoller when made on a goroutine; close, dup,
 * dup2, dup3, socket and socketpair keep the hook's fd table right.
 *
 * How a socket call waits (Go: internal/poll.FD.Read's loop). The call is
 * made non-blocking per call, never per file: recv/send/recvmsg/sendmsg
 * with MSG_DONTWAIT (read and write of a socket are recv and send with no
 * flags, readv and writev recvmsg and sendmsg). Only when it says EAGAIN
 * does the hook look at the file's own O_NONBLOCK (fcntl F_GETFL): set,
 * the user asked for EAGAIN and gets it; clear, the goroutine parks on
 * the poller (gort_fd_wait_read/write, no thread held) until the socket
 * is ready, honouring SO_RCVTIMEO/SO_SNDTIMEO as a deadline (EAGAIN when
 * it passes, as libc), and tries again.
 *
 * The user's O_NONBLOCK: the hook never sets O_NONBLOCK on the open file
 * (except around a blocking connect, below), so the kernel's flag, which
 * dup, fork and SCM_RIGHTS share because it belongs to the open file
 * description, is exactly the user's view: fcntl needs no hook, and no
 * table keyed by open file (st_dev/st_ino, or kcmp(2) pairs) can go out
 * of date when another process sharing the file changes the flag.
 *
 * The fd table: per fd number, what it is (a stream socket, another
 * socket, something else) and whether the hook registered it with the
 * poller, with the socket's inode. Numbers are reused behind the hook's
 * back (glibc's own close, close_range), so each entry is a hint checked
 * where it matters: a "socket" that says ENOTSOCK is looked at again, and
 * before each park the registration's inode is compared with fstat's.
 * Files, pipes, ttys and fds beyond the table keep the hand-off (hook.h).
 *
 * Locking: none; the table's fields are atomics and racing updates only
 * cost a second look.
 *
 * See also: hook.c (overview, sleeps), docs/blocking.md ("Hooks").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hook.h"

/* ---- The fd table -------------------------------------------------------- */

enum { K_UNKNOWN, K_OTHER, K_STREAM, K_SOCK };

#define FDS (1 << 16)
static struct hfd {
    _Atomic unsigned char kind; /* K_* */
    _Atomic unsigned char reg;  /* the hook registered it */
    _Atomic unsigned long ino;  /* its inode when registered */
} tab[FDS];

static int kind_of(int fd)
{
    if (fd < 0 || fd >= FDS)
        return K_OTHER;
    int k = tab[fd].kind;
    if (k != K_UNKNOWN)
        return k;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return K_OTHER; /* not cached: libc's call says EBADF */
    k = K_OTHER;
    if (S_ISSOCK(st.st_mode)) {
        int type;
        socklen_t len = sizeof type;
        k = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
                    type == SOCK_STREAM
                ? K_STREAM
                : K_SOCK;
    }
    tab[fd].kind = (unsigned char)k;
    return k;
}

/* forget drops what the table knows of fd, and the hook's registration:
 * the number is being closed or now names another file. */
static void forget(int fd)
{
    if (fd < 0 || fd >= FDS)
        return;
    if (tab[fd].reg) {
        tab[fd].reg = 0;
        int saved = errno;
        gort_fd_unregister(fd); /* wakes its waiters with EBADF */
        errno = saved;
    }
    tab[fd].kind = K_UNKNOWN;
}

/* registered makes sure fd is known to the poller as the socket it is
 * now. 0, or -errno: the caller then falls back to the hand-off. */
static int registered(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (tab[fd].reg && tab[fd].ino == st.st_ino)
        return 0;
    forget(fd); /* closed behind our back; the number is a new socket */
    int err = gort__hook_fd_register(fd);
    if (err == -EEXIST)
        return 0; /* the program's own registration (gort_fd_register) */
    if (err)
        return err;
    tab[fd].ino = st.st_ino;
    tab[fd].reg = 1;
    return 0;
}

/* ---- Parking ------------------------------------------------------------- */

enum { R = 1, W = 2 };
#define USE_HANDOFF 1 /* park()'s answer: make libc's call in the hand-off */

/* timeo_deadline turns SO_RCVTIMEO/SO_SNDTIMEO into an absolute deadline,
 * or -1 for none. */
static int64_t timeo_deadline(int fd, int mode)
{
    struct timeval tv = {0, 0};
    socklen_t len = sizeof tv;
    getsockopt(fd, SOL_SOCKET, mode == R ? SO_RCVTIMEO : SO_SNDTIMEO, &tv,
               &len);
    if (tv.tv_sec == 0 && tv.tv_usec == 0)
        return -1;
    return gort_now() + GORT_S(tv.tv_sec) + GORT_US(tv.tv_usec);
}

/* wait_ready parks until fd may be ready for mode, or the deadline dl
 * (-1: none) passes. 0, -ETIMEDOUT, -EBADF (closed meanwhile). */
static int wait_ready(int fd, int mode, int64_t dl)
{
    int (*set)(int, int64_t) =
        mode == R ? gort_set_read_deadline : gort_set_write_deadline;
    if (dl > 0)
        set(fd, dl);
    int r = mode == R ? gort_fd_wait_read(fd) : gort_fd_wait_write(fd);
    if (dl > 0)
        set(fd, 0);
    return r;
}

/* park is the slow path of a call that said EAGAIN: 0 to try again,
 * USE_HANDOFF, or -errno to fail with. *dl is 0 before the first park. */
static int park(int fd, int mode, int64_t *dl)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (fl & O_NONBLOCK)
        return -EAGAIN; /* the user's own non-blocking socket */
    if (registered(fd) != 0)
        return USE_HANDOFF;
    if (*dl == 0)
        *dl = timeo_deadline(fd, mode);
    int r = wait_ready(fd, mode, *dl);
    return r == -ETIMEDOUT ? -EAGAIN : r;
}

/* may_poll says whether a call on fd may wait on the poller: a goroutine
 * running its own code, and a socket. */
static int may_poll(int fd)
{
    if (!gort__hook_may_wrap())
        return 0;
    return kind_of(fd);
}

/* fail sets errno and returns -1. */
static long fail(int err)
{
    errno = err;
    return -1;
}

#define NOT_OURS (-2) /* sock_rw's answer for a call it leaves to libc */

/* ---- recv and send --------------------------------------------------------
 * A message call with MSG_DONTWAIT, its blocking twin for the hand-off,
 * and the loop between them. */

typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
REAL(recvmsg_fn, recvmsg)
REAL(sendmsg_fn, sendmsg)

/* try_msg is one recvmsg/sendmsg; flags already hold MSG_DONTWAIT or not. */
static ssize_t try_msg(int fd, int mode, struct msghdr *m, int flags)
{
    return mode == R ? libc_recvmsg_fn()(fd, m, flags)
                     : libc_sendmsg_fn()(fd, m, flags);
}

/* advance moves m's iovecs past n bytes done. */
static void advance(struct msghdr *m, size_t n)
{
    while (n > 0 && m->msg_iovlen > 0) {
        struct iovec *v = m->msg_iov;
        if (n < v->iov_len) {
            v->iov_base = (char *)v->iov_base + n;
            v->iov_len -= n;
            return;
        }
        n -= v->iov_len;
        m->msg_iov++;
        m->msg_iovlen--;
    }
}

static size_t msg_len(const struct msghdr *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->msg_iovlen; i++)
        n += m->msg_iov[i].iov_len;
    return n;
}

/*
 * msg_io is every socket read and write on a goroutine. A blocking
 * stream socket's write (and a recv with MSG_WAITALL) goes on until all
 * n bytes are done, as the kernel's blocking call does; an error or a
 * timeout after some progress returns the progress, as it does too.
 * *m's iovecs are the caller's copy and get advanced.
 */
static ssize_t msg_io(int fd, int kind, int mode, struct msghdr *m, int flags)
{
    bool all = kind == K_STREAM && (mode == W || (flags & MSG_WAITALL));
    size_t want = all ? msg_len(m) : 0, done = 0;
    int64_t dl = 0;
    for (;;) {
        ssize_t r = try_msg(fd, mode, m, flags | MSG_DONTWAIT);
        if (r > 0 && all && done + (size_t)r < want) {
            done += (size_t)r;
            advance(m, (size_t)r);
            continue;
        }
        if (r >= 0)
            return (ssize_t)done + r;
        int err = errno, w = err == EAGAIN ? park(fd, mode, &dl) : -err;
        if (w == 0)
            continue;
        if (done > 0)
            return (ssize_t)done;
        if (w == USE_HANDOFF)
            return HANDOFF_CALL(try_msg(fd, mode, m, flags));
        if (w == -ENOTSOCK) { /* the number now names a file: libc's */
            tab[fd].kind = K_UNKNOWN;
            return NOT_OURS;
        }
        return fail(-w);
    }
}

/* sock_rw is the entry of every read and write below: it returns
 * NOT_OURS (never a call's result, nor errno set) for a call that is not
 * the poller's: off a goroutine, not a socket, or asking for MSG_DONTWAIT
 * itself; the caller then makes libc's call (OTHER). */
#define IOV_MAX_COPY 64

static ssize_t sock_rw(int fd, int mode, struct msghdr *m, int flags)
{
    int kind = may_poll(fd);
    if (kind < K_STREAM || (flags & MSG_DONTWAIT))
        return NOT_OURS;
    if (m->msg_iovlen > IOV_MAX_COPY)
        return NOT_OURS; /* libc's, in the hand-off: a small stack copy */
    struct iovec iov[m->msg_iovlen ? m->msg_iovlen : 1];
    memcpy(iov, m->msg_iov, m->msg_iovlen * sizeof *iov);
    struct msghdr copy = *m;
    copy.msg_iov = iov;
    ssize_t r = msg_io(fd, kind, mode, &copy, flags);
    m->msg_flags = copy.msg_flags;
    m->msg_namelen = copy.msg_namelen;
    m->msg_controllen = copy.msg_controllen;
    return r;
}

/* other is libc's call for what sock_rw did not take: in the hand-off on
 * a goroutine, straight elsewhere. */
#define OTHER(call)                                                            \
    (gort__hook_may_wrap() ? HANDOFF_CALL(call) : (call))

typedef ssize_t (*rw_fn)(int, void *, size_t);
typedef ssize_t (*wr_fn)(int, const void *, size_t);
typedef ssize_t (*rwv_fn)(int, const struct iovec *, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *,
                               socklen_t *);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int,
                             const struct sockaddr *, socklen_t);
REAL(rw_fn, read)
REAL(wr_fn, write)
REAL(rwv_fn, readv)
REAL(rwv_fn, writev)
REAL(recvfrom_fn, recvfrom)
REAL(sendto_fn, sendto)

/* SOCK_RW makes a one-buffer call through sock_rw, or fallback when the
 * call is not the poller's. */
#define SOCK_RW(mode, fd, base, len, name, addrlen, flags, fallback)           \
    do {                                                                       \
        struct iovec v_ = {(void *)(base), (len)};                             \
        struct msghdr m_ = {.msg_name = (void *)(name),                        \
                            .msg_namelen = (addrlen),                          \
                            .msg_iov = &v_,                                    \
                            .msg_iovlen = 1};                                  \
        ssize_t r_ = sock_rw((fd), (mode), &m_, (flags));                      \
        if (r_ != NOT_OURS)                                                    \
            return r_;                                                         \
        return OTHER(fallback);                                                \
    } while (0)

HOOK ssize_t read(int fd, void *buf, size_t n)
{
    if (n == 0) /* read(2) of 0 bytes never consumes a datagram */
        return libc_read_fn()(fd, buf, n);
    SOCK_RW(R, fd, buf, n, NULL, 0, 0, libc_read_fn()(fd, buf, n));
}

HOOK ssize_t write(int fd, const void *buf, size_t n)
{
    SOCK_RW(W, fd, buf, n, NULL, 0, 0, libc_write_fn()(fd, buf, n));
}

HOOK ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    SOCK_RW(R, fd, buf, n, NULL, 0, flags,
            libc_recvfrom_fn()(fd, buf, n, flags, NULL, NULL));
}

HOOK ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    SOCK_RW(W, fd, buf, n, NULL, 0, flags,
            libc_sendto_fn()(fd, buf, n, flags, NULL, 0));
}

HOOK ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
                      struct sockaddr *sa, socklen_t *len)
{
    if (sa == NULL || len == NULL)
        SOCK_RW(R, fd, buf, n, NULL, 0, flags,
                libc_recvfrom_fn()(fd, buf, n, flags, sa, len));
    struct iovec v = {buf, n};
    struct msghdr m = {.msg_name = sa, .msg_namelen = *len, .msg_iov = &v,
                       .msg_iovlen = 1};
    ssize_t r = sock_rw(fd, R, &m, flags);
    if (r == NOT_OURS)
        return OTHER(libc_recvfrom_fn()(fd, buf, n, flags, sa, len));
    if (r >= 0)
        *len = m.msg_namelen;
    return r;
}

HOOK ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                    const struct sockaddr *sa, socklen_t len)
{
    SOCK_RW(W, fd, buf, n, sa, len, flags,
            libc_sendto_fn()(fd, buf, n, flags, sa, len));
}

HOOK ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    if (cnt > 0 && iov) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov,
                           .msg_iovlen = (size_t)cnt};
        ssize_t r = sock_rw(fd, R, &m, 0);
        if (r != NOT_OURS)
            return r;
    }
    return OTHER(libc_readv_fn()(fd, iov, cnt));
}

HOOK ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (cnt > 0 && iov) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov,
                           .msg_iovlen = (size_t)cnt};
        ssize_t r = sock_rw(fd, W, &m, 0);
        if (r != NOT_OURS)
            return r;
    }
    return OTHER(libc_writev_fn()(fd, iov, cnt));
}

HOOK ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    /* MSG_WAITALL across a message's control data: libc's, in the
     * hand-off. */
    if (msg && !(flags & MSG_WAITALL)) {
        ssize_t r = sock_rw(fd, R, msg, flags);
        if (r != NOT_OURS)
            return r;
    }
    return OTHER(libc_recvmsg_fn()(fd, msg, flags));
}

HOOK ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (msg) {
        struct msghdr m = *msg;
        ssize_t r = sock_rw(fd, W, &m, flags);
        if (r != NOT_OURS)
            return r;
    }
    return OTHER(libc_sendmsg_fn()(fd, msg, flags));
}

/* ---- connect and accept -------------------------------------------------- */

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
REAL(connect_fn, connect)
REAL(accept4_fn, accept4)

/*
 * connect_wait is a blocking connect on the poller. connect has no
 * MSG_DONTWAIT, so O_NONBLOCK is set for the call itself and put back at
 * once (the one moment the runtime's flag shows: another user of the same
 * open file, a dup or a forked child, could see it only while the kernel
 * starts the connect); then the goroutine waits for writability, and
 * SO_ERROR is the connect's result, as Go's connect does. SO_SNDTIMEO
 * ends the wait with EINPROGRESS, as libc's.
 */
static int connect_wait(int fd, int fl, const struct sockaddr *sa,
                        socklen_t len)
{
    if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return HANDOFF_CALL(libc_connect_fn()(fd, sa, len));
    int r = libc_connect_fn()(fd, sa, len), err = errno;
    fcntl(fd, F_SETFL, fl);
    if (r == 0 || err != EINPROGRESS) {
        if (r != 0 && err == EAGAIN) /* a Unix listener's full backlog */
            return HANDOFF_CALL(libc_connect_fn()(fd, sa, len));
        errno = err;
        return r;
    }
    if (registered(fd) != 0)
        return HANDOFF_CALL(libc_connect_fn()(fd, sa, len)); /* EALREADY.. */
    int w = wait_ready(fd, W, timeo_deadline(fd, W));
    if (w == -ETIMEDOUT)
        return (int)fail(EINPROGRESS);
    if (w < 0)
        return (int)fail(-w);
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        return -1;
    return err ? (int)fail(err) : 0;
}

HOOK int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (may_poll(fd) < K_STREAM)
        return OTHER(libc_connect_fn()(fd, sa, len));
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_NONBLOCK))
        return libc_connect_fn()(fd, sa, len); /* cannot block */
    return connect_wait(fd, fl, sa, len);
}

/* accept_new: a new fd's table entry starts afresh. */
static int accept_new(int r)
{
    if (r >= 0)
        forget(r);
    return r;
}

/*
 * accept4 on the poller. accept has no MSG_DONTWAIT either, and a
 * listening socket is often shared with other processes, whose accepts
 * must not see O_NONBLOCK; so the goroutine waits on the poller for a
 * pending connection (honouring SO_RCVTIMEO), then accepts in the
 * hand-off, which returns at once unless another process took the
 * connection first (then it blocks as libc's would, its thread held).
 */
HOOK int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    if (may_poll(fd) < K_STREAM)
        return accept_new(OTHER(libc_accept4_fn()(fd, sa, len, flags)));
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_NONBLOCK) || registered(fd) != 0)
        return accept_new(HANDOFF_CALL(libc_accept4_fn()(fd, sa, len, flags)));
    int w = wait_ready(fd, R, timeo_deadline(fd, R));
    if (w < 0)
        return (int)fail(w == -ETIMEDOUT ? EAGAIN : -w);
    return accept_new(HANDOFF_CALL(libc_accept4_fn()(fd, sa, len, flags)));
}

HOOK int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
    return accept4(fd, sa, len, 0);
}

/* ---- poll ------------------------------------------------------------- */

typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
REAL(poll_fn, poll)

/*
 * poll of one socket for reading or for writing waits on the poller
 * (libpq's and hiredis's waits are such polls). More fds, both
 * directions at once, or a file: libc's poll in the hand-off, since a
 * goroutine waits on the poller for one fd and one direction at a time.
 */
/*
 * poll_wait is poll's wait on the poller, made wired to the thread
 * (gort_lock_os_thread): the goroutine parks, and resumes on the thread
 * it parked on, which sleeps meanwhile. Debian's libhiredis 0.14 keeps
 * &errno in a register across its poll (redisContextWaitReady stores
 * ETIMEDOUT through it after a timeout), so a poll must not come back on
 * another thread. The cost is a sleeping thread per goroutine waiting in
 * poll: libpq's waits, bounded by its pool (docs/blocking.md).
 */
static int poll_wait(poll_fn libc, struct pollfd *fds, int timeout, short dir,
                     int64_t dl)
{
    for (;;) {
        int r = libc(fds, 1, 0);
        if (r != 0 || (dl > 0 && gort_now() >= dl))
            return r;
        if (registered(fds[0].fd) != 0) {
            int left = dl < 0 ? -1 : (int)((dl - gort_now()) / GORT_MS(1)) + 1;
            return HANDOFF_CALL(libc(fds, 1, left));
        }
        int w = wait_ready(fds[0].fd, dir == POLLIN ? R : W, dl);
        if (w == -ETIMEDOUT)
            return libc(fds, 1, 0);
        if (w == -EBADF) { /* closed meanwhile: what libc's says after */
            fds[0].revents = POLLNVAL;
            return 1;
        }
        if (w < 0)
            return HANDOFF_CALL(libc(fds, 1, timeout));
    }
}

HOOK int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    poll_fn libc = libc_poll_fn();
    if (timeout == 0 || !gort__hook_may_wrap())
        return libc(fds, n, timeout);
    /* POLLPRI (urgent data) is no readiness the poller reports. */
    short dir = n == 1 && !(fds[0].events & POLLPRI)
                    ? fds[0].events & (POLLIN | POLLOUT)
                    : 0;
    if ((dir != POLLIN && dir != POLLOUT) || kind_of(fds[0].fd) < K_STREAM)
        return HANDOFF_CALL(libc(fds, n, timeout));
    int64_t dl = timeout > 0 ? gort_now() + GORT_MS(timeout) : -1;
    gort_lock_os_thread(); /* see poll_wait */
    int r = poll_wait(libc, fds, timeout, dir, dl);
    gort_unlock_os_thread();
    return r;
}

/* ---- Calls that make or end fds ------------------------------------------- */

typedef int (*close_fn)(int);
typedef int (*dup_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*socket_fn)(int, int, int);
typedef int (*socketpair_fn)(int, int, int, int[2]);
REAL(close_fn, close)
REAL(dup_fn, dup)
REAL(dup2_fn, dup2)
REAL(dup3_fn, dup3)
REAL(socket_fn, socket)
REAL(socketpair_fn, socketpair)

/* close takes fd off the poller first, waking its waiters with EBADF (as
 * Go's Close wakes them with ErrNetClosing), then closes it; on any
 * thread, since the registration must not outlive the number. */
HOOK int close(int fd)
{
    forget(fd);
    return libc_close_fn()(fd);
}

HOOK int dup(int fd)
{
    return accept_new(libc_dup_fn()(fd));
}

HOOK int dup2(int fd, int fd2)
{
    if (fd != fd2 && fcntl(fd, F_GETFD) >= 0)
        forget(fd2); /* dup2 closes fd2 */
    return libc_dup2_fn()(fd, fd2);
}

HOOK int dup3(int fd, int fd2, int flags)
{
    if (fd != fd2 && fcntl(fd, F_GETFD) >= 0)
        forget(fd2);
    return libc_dup3_fn()(fd, fd2, flags);
}

HOOK int socket(int domain, int type, int proto)
{
    return accept_new(libc_socket_fn()(domain, type, proto));
}

HOOK int socketpair(int domain, int type, int proto, int sv[2])
{
    int r = libc_socketpair_fn()(domain, type, proto, sv);
    if (r == 0) {
        forget(sv[0]);
        forget(sv[1]);
    }
    return r;
}
