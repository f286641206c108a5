/*
 * gort/net.h: goroutine-aware sockets and pollable fds (Go: net, and the
 * runtime poller under it). Included by <gort.h>.
 *
 * Sockets are plain int fds, non-blocking underneath. A call that cannot
 * complete at once parks only the calling goroutine on the netpoller
 * (edge-triggered epoll); -EAGAIN never reaches the caller. Errors are
 * negative errno values, never errno.
 *
 * Common return codes:
 *   -EBADF      fd is not open in gort (never registered, or closed with
 *               gort_close). This is Go's "use of closed network
 *               connection": a goroutine parked on an fd that another
 *               goroutine closes wakes with -EBADF.
 *   -ETIMEDOUT  the fd's deadline for that direction has expired (Go's
 *               os.ErrDeadlineExceeded, "i/o timeout"). It keeps failing
 *               calls until the deadline is moved.
 *   -EPERM      the call would have to park, but the caller is not a
 *               goroutine (a thread the runtime does not own, or before
 *               gort_run). Calls that complete at once work on any thread.
 *
 * SIGPIPE never kills the program because of these calls: sockets are
 * written with MSG_NOSIGNAL, and when the poller starts it sets SIGPIPE to
 * SIG_IGN if it was SIG_DFL (as Go does), so a closed pipe yields -EPIPE.
 *
 * Deadlines are absolute gort_now() times (GORT_MS(...) + gort_now()); 0
 * means none.
 */
#ifndef GORT_NET_H
#define GORT_NET_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifndef GORT_API
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * gort_listen opens a listening stream socket (Go: net.Listen).
 * network: "tcp" (IPv4 or IPv6; an empty host listens on both where the
 * system allows), "tcp4", "tcp6" or "unix". address: "host:port",
 * "[v6addr]:port", ":port" (every address), or a host alone ("localhost"),
 * which means port 0 (any free port; read it back with getsockname); ""
 * is ":0". A port is decimal digits after at most one sign, as Go reads
 * it: "+80" is 80, "-0" and an empty port are 0; spaces, service names
 * ("http") and values beyond 0..65535 are -EINVAL. For
 * "unix" the address is a path, or "@name" for the abstract namespace.
 * TCP listeners set SO_REUSEADDR; the backlog is
 * /proc/sys/net/core/somaxconn. Host names resolve through getaddrinfo
 * inside gort_syscall_enter/exit. Does not park.
 *
 * Returns the listening fd, or:
 *   -EINVAL           malformed address or unknown network;
 *   -EPROTONOSUPPORT  a Go network gort does not offer ("ip", ...), or a
 *                     datagram one ("udp": gort_listen_packet);
 *   -ENXIO            the host name does not resolve ("no such host");
 *   -EADDRINUSE       the address is taken; other errors of socket/bind.
 */
GORT_API int gort_listen(const char *network, const char *address);

/*
 * gort_accept waits for and returns a new connection on the listener lfd
 * (Go: Listener.Accept). The new fd is non-blocking, close-on-exec,
 * registered with the poller and, for TCP, has TCP_NODELAY and 15 s
 * keep-alive set, as Go does. ECONNABORTED and EINTR are retried. Can park.
 *
 * Returns the fd, or -EBADF, -ETIMEDOUT (lfd's read deadline), -EPERM,
 * -EMFILE/-ENFILE (out of fds) and other accept4 errors.
 */
GORT_API int gort_accept(int lfd);

/*
 * struct gort_backoff: the retry state of one accept loop, for
 * gort_accept_backoff. Zero it before the first call (set quiet if
 * wanted); the call updates the rest.
 */
struct gort_backoff {
    int64_t delay;     /* the last sleep; 0 after a success */
    int64_t logged_at; /* gort_now() of the last log line, 0: none yet */
    uint64_t retries;  /* resource errors slept on, in all */
    int quiet;         /* nonzero: never log */
};

/*
 * gort_accept_backoff is gort_accept for a server's accept loop (Go:
 * net/http's Server.Serve). When accept fails for want of resources
 * (-EMFILE, -ENFILE, -ENOBUFS, -ENOMEM) it does not return: it sleeps
 * 5 ms, twice as long after each further failure up to 1 s, and tries
 * again; a success starts the next wait at 5 ms. Unless b->quiet it
 * prints "gort: accept: <error>; retrying in <n>ms" to stderr, at most
 * once a second. Can park.
 *
 * Returns as gort_accept, without those four errors, or -EINVAL if b is
 * NULL.
 */
GORT_API int gort_accept_backoff(int lfd, struct gort_backoff *b);

/*
 * gort_dial connects to address on network (as gort_listen; a host is
 * required, e.g. "127.0.0.1:80" or "localhost:80") (Go: net.Dialer).
 * timeout_ns > 0 bounds the whole dial including name resolution (which
 * itself cannot be interrupted); 0 means no timeout. Addresses are tried
 * in the order getaddrinfo returns them until one connects. TCP
 * connections get TCP_NODELAY and 15 s keep-alive. Can park.
 *
 * The datagram networks "udp", "udp4", "udp6" and "unixgram" give a
 * connected datagram socket (Go: DialUDP, DialUnix): gort_read and
 * gort_write then receive and send one datagram per call, and only
 * datagrams from the dialed address arrive. Connecting a UDP socket
 * sends nothing, so it succeeds even when nobody listens; a later read
 * may then fail with -ECONNREFUSED (the peer's ICMP answer).
 *
 * Returns the connected fd, or -ETIMEDOUT, -ECONNREFUSED, -ENXIO (no such
 * host), -EINVAL, -EPROTONOSUPPORT, -EPERM, or another connect error.
 */
GORT_API int gort_dial(const char *network, const char *address,
                       int64_t timeout_ns);

/*
 * gort_read reads up to n bytes (Go: Conn.Read); it parks until at least
 * one byte, EOF or an error. n == 0 returns 0 at once. Can park.
 *
 * Returns the byte count, 0 at end of file, or -EBADF, -ETIMEDOUT,
 * -EPERM, -ECONNRESET and other read errors.
 */
GORT_API ssize_t gort_read(int fd, void *buf, size_t n);

/*
 * gort_write writes all n bytes, parking as often as needed (Go:
 * Conn.Write). Concurrent writers on one fd are serialised, so each call's
 * bytes stay contiguous. Can park.
 *
 * Returns n, or -EPIPE / -ECONNRESET (peer gone), -EBADF, -ETIMEDOUT,
 * -EPERM or another write error; on an error, how many bytes went out
 * before it is not reported.
 */
GORT_API ssize_t gort_write(int fd, const void *buf, size_t n);

/*
 * gort_read_with calls try_read(fd, arg) holding fd's read op, and while it
 * returns -EAGAIN parks until fd is readable and calls it again (Go:
 * syscall.RawConn.Read). try_read should do one non-blocking read
 * (gort_sys_read, which shares kernel entries with other goroutines'
 * calls; read(2), recvmsg, a TLS library's read) and return its result as
 * -errno:
 * -EAGAIN means "not ready, wait"; -EINTR is retried at once; anything else
 * ends the call. Honours fd's read deadline and close as gort_read does.
 * Can park.
 *
 * Why: a goroutine parked here holds no buffer. With gort_read the caller's
 * buffer (usually on its stack) stays pinned across the park, and C stacks
 * cannot shrink, so an idle connection with a 4 KiB stack buffer costs two
 * stack pages; with gort_read_with the callback takes a buffer (from a
 * gort_pool) only once data is there, and an idle connection costs one.
 *
 * try_read may call gort_write on fd (and park in it: the read and write
 * ops are separate), but must not call gort_read, gort_read_with,
 * gort_accept or gort_fd_wait_read on fd (it already holds the read op:
 * that would wait for itself), nor gort_close on fd.
 *
 * Returns try_read's first result other than -EAGAIN and -EINTR (a byte
 * count, 0 at end of file, or its -errno, passed through), or -EBADF,
 * -ETIMEDOUT, -EPERM from the wait, or -EINVAL if try_read is NULL.
 */
GORT_API ssize_t gort_read_with(int fd, ssize_t (*try_read)(int fd, void *arg),
                                void *arg);
/*
 * gort_write_with: as gort_read_with for the write side (Go:
 * syscall.RawConn.Write). try_write runs holding fd's write op, parks on
 * -EAGAIN until fd is writable, honours the write deadline. It may call
 * gort_read on fd, but not gort_write, gort_write_with or
 * gort_fd_wait_write (it holds the write op), nor gort_close. Write sockets
 * with send(MSG_NOSIGNAL), as gort_write does, in case the program handles
 * SIGPIPE. Can park.
 *
 * Returns try_write's first result other than -EAGAIN and -EINTR, or
 * -EBADF, -ETIMEDOUT, -EPERM, -EINVAL as gort_read_with.
 */
GORT_API ssize_t gort_write_with(int fd,
                                 ssize_t (*try_write)(int fd, void *arg),
                                 void *arg);

/*
 * gort_sys_read and gort_sys_write make one non-blocking read(2) or
 * write(2) of fd and return what it returns, as -errno: a byte count, 0 at
 * end of file, -EAGAIN when it would block. They never wait for
 * readiness; they are the calls to make inside a gort_read_with or
 * gort_write_with callback. Writes to sockets use MSG_NOSIGNAL.
 *
 * On a socket registered with gort (gort_accept, gort_dial, gort_listen,
 * gort_fd_register), the call goes through the system-call batcher when
 * other goroutines are runnable or have calls waiting: it joins one
 * io_uring submission shared with their calls, and the goroutine parks
 * until its processor submits the batch, at the latest when it runs out
 * of goroutines (docs/netpoll.md). gort_read and gort_write do the same.
 * Other fds, and every fd when the batcher is off (no io_uring, or
 * GORT_DEBUG=batch=0), get the plain system call. Can park (briefly).
 */
GORT_API ssize_t gort_sys_read(int fd, void *buf, size_t n);
GORT_API ssize_t gort_sys_write(int fd, const void *buf, size_t n);

/* gort_shutdown shuts down the read side (SHUT_RD), the write side
 * (SHUT_WR, Go: CloseWrite) or both. Does not park. Returns 0, -EBADF or
 * another shutdown(2) error (-ENOTCONN). */
GORT_API int gort_shutdown(int fd, int how);

/*
 * gort_close closes fd (Go: Conn.Close). Goroutines parked on it, and any
 * later call with it, get -EBADF. On a goroutine it returns once fd is
 * really closed: when the calls still inside it have left, which they do
 * at once. Can park (briefly).
 *
 * Returns 0, or -EBADF if fd is not open in gort (e.g. closed twice).
 */
GORT_API int gort_close(int fd);

/*
 * gort_set_deadline sets the read and write deadlines of fd to the
 * absolute gort_now() time t; 0 clears them (Go: SetDeadline). A deadline
 * in the past, or one that expires, fails pending and later calls in that
 * direction with -ETIMEDOUT until it is moved; moving it into the future
 * lets later calls proceed. Deadlines ride on the runtime's timers. Does
 * not park.
 *
 * Returns 0 or -EBADF.
 */
GORT_API int gort_set_deadline(int fd, int64_t t);
/* gort_set_read_deadline: as gort_set_deadline, read side only (reads,
 * accepts, gort_fd_wait_read). */
GORT_API int gort_set_read_deadline(int fd, int64_t t);
/* gort_set_write_deadline: as gort_set_deadline, write side only (writes,
 * gort_fd_wait_write). */
GORT_API int gort_set_write_deadline(int fd, int64_t t);

/*
 * gort_fd_register makes any pollable fd (pipe, eventfd, signalfd, timerfd,
 * a socket made elsewhere, a tty) goroutine-aware: it sets O_NONBLOCK and
 * registers it with the poller. Afterwards gort_read, gort_write,
 * gort_set_*deadline, gort_fd_wait_* and gort_close work on it. Does not
 * park.
 *
 * Returns 0, or -EEXIST (already registered), -EBADF (not open),
 * -EOPNOTSUPP (not pollable: a regular file or directory; use
 * GORT_SYSCALL instead), -EMFILE (fd number beyond 2^24), -ENOMEM.
 */
GORT_API int gort_fd_register(int fd);

/*
 * gort_fd_unregister removes fd from the poller without closing it.
 * Goroutines parked on it wake with -EBADF. fd stays O_NONBLOCK. On a
 * goroutine it returns once no gort call uses fd any more. Can park
 * (briefly).
 *
 * Returns 0 or -EBADF (not registered).
 */
GORT_API int gort_fd_unregister(int fd);

/*
 * gort_fd_wait_read parks until fd is readable (or at end of file or in
 * error), honouring its read deadline (Go: syscall.RawConn.Read's wait).
 * The check is level-triggered: if fd is readable now it returns at once.
 * Meant for fds whose reads go through another library. Can park.
 *
 * Returns 0, or -EBADF, -ETIMEDOUT, -EPERM.
 */
GORT_API int gort_fd_wait_read(int fd);
/* gort_fd_wait_write: as gort_fd_wait_read, for writability and the write
 * deadline. */
GORT_API int gort_fd_wait_write(int fd);

/* ---- Datagram sockets (Go: net.ListenPacket, net.PacketConn) ----------- */

/*
 * gort_listen_packet opens a datagram socket bound to address (Go:
 * net.ListenPacket). network: "udp" (IPv4 and IPv6 where the system
 * allows, for an empty host), "udp4", "udp6" or "unixgram". address as
 * gort_listen: "host:port", "[v6addr]:port", ":port", a host alone (port
 * 0: any free port, read it back with getsockname), or for "unixgram" a
 * path or "@name". UDP sockets get SO_BROADCAST, as Go gives them. The fd
 * is registered with the poller: gort_read_from, gort_write_to,
 * gort_read, gort_write, gort_set_*deadline and gort_close work on it.
 * Does not park (except for host names: getaddrinfo, as gort_listen).
 *
 * Returns the fd, or -EINVAL (malformed address or unknown network),
 * -EPROTONOSUPPORT (a stream network such as "tcp": gort_listen), -ENXIO
 * (no such host), -EADDRINUSE, or another socket/bind error.
 */
GORT_API int gort_listen_packet(const char *network, const char *address);

/*
 * gort_read_from receives one datagram into buf (at most n bytes: a longer
 * one is cut and its rest lost, as Go's ReadFrom on Linux) and stores the
 * sender's address in *from, whose size *fromlen gives on entry and which
 * it sets to the address's length (recvfrom(2) semantics; both may be
 * NULL). An empty datagram reads as 0 (datagram sockets have no end of
 * file). Honours the read deadline. Can park.
 *
 * Returns the byte count, or -EBADF, -ETIMEDOUT, -EPERM, -EINVAL (only one
 * of from/fromlen, or buf NULL with n > 0), -ECONNREFUSED (a connected UDP
 * socket's peer port is closed) and other recvfrom errors.
 */
GORT_API ssize_t gort_read_from(int fd, void *buf, size_t n,
                                struct sockaddr *from, socklen_t *fromlen);

/*
 * gort_write_to sends buf (n bytes, possibly 0) as one datagram to the
 * address `to` (Go: PacketConn.WriteTo); to == NULL with tolen 0 sends to
 * the connected peer. Make `to` with gort_resolve_addr or take it from
 * gort_read_from. Honours the write deadline. Can park (while the socket's
 * send buffer is full).
 *
 * Returns n, or -EBADF, -ETIMEDOUT, -EPERM, -EINVAL (bad argument, or an
 * address of the wrong family), -EMSGSIZE (too large for one datagram),
 * -EISCONN (an address given on a connected socket), -EDESTADDRREQ, and
 * other sendto errors.
 */
GORT_API ssize_t gort_write_to(int fd, const void *buf, size_t n,
                               const struct sockaddr *to, socklen_t tolen);

/*
 * gort_resolve_addr turns (network, address) into a socket address, as
 * gort_dial would resolve it (Go: net.ResolveUDPAddr, ResolveUnixAddr):
 * a host is resolved (getaddrinfo, inside gort_syscall_enter/exit) and the
 * first address kept; an empty host means this machine. Any network
 * gort_dial takes. Returns 0, or -EINVAL, -EPROTONOSUPPORT, -ENXIO.
 */
GORT_API int gort_resolve_addr(const char *network, const char *address,
                               struct sockaddr_storage *sa, socklen_t *len);

/*
 * gort_addr_string writes sa as Go's Addr.String does into buf: "ip:port",
 * "[ipv6]:port", a unix path, "@name" for the abstract namespace, "" for
 * an unbound unix socket. Never parks; any thread.
 *
 * Returns the length written (without the NUL), or -EINVAL (bad
 * arguments), -EAFNOSUPPORT (another family), -ENOSPC (buf too small;
 * "[ffff:...]:65535" needs 48 bytes with the NUL).
 */
GORT_API int gort_addr_string(const struct sockaddr *sa, socklen_t len,
                              char *buf, size_t size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GORT_NET_H */
