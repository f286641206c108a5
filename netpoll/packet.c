/*
 * packet.c: datagram calls of <gort/net.h>: gort_read_from, gort_write_to
 * and gort_addr_string (Go: net.PacketConn's ReadFrom and WriteTo,
 * Addr.String). Sockets come from gort_listen_packet or gort_dial with a
 * datagram network (dial.c); gort_read, gort_write, deadlines and
 * gort_close work on them as on any registered fd (net.c).
 *
 * Each call makes one recvfrom/sendto with MSG_DONTWAIT and parks on the
 * poller only on EAGAIN, holding the fd's read or write op as net.c's
 * calls do, so deadlines and close wake it the same way. These go
 * straight to the kernel, not through the system-call batcher: a
 * datagram call carries an address the batcher's recv/send do not.
 *
 * Invariants: one datagram per call; a datagram larger than the buffer is
 * cut to it (the rest is lost), as Go's ReadFrom does on Linux.
 * Locking: none here; see netpoll.c.
 * See also: dial.c, net.c, netpoll.c, docs/netpoll.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../runtime/runtime.h"
#include "netpoll.h"

ssize_t gort_read_from(int fd, void *buf, size_t n, struct sockaddr *from,
                       socklen_t *fromlen)
{
    RT_ENTRY();
    if ((from == NULL) != (fromlen == NULL) || (buf == NULL && n > 0) ||
        n > SSIZE_MAX)
        return -EINVAL;
    int err;
    struct polldesc *pd = gort__pd_acquire(fd, PD_OP_READ, &err);
    if (pd == NULL)
        return err;
    ssize_t r = gort__pd_prepare(pd, POLL_READ);
    socklen_t cap = fromlen ? *fromlen : 0;
    while (r == 0) {
        if (fromlen)
            *fromlen = cap;
        ssize_t got = recvfrom(fd, buf, n, MSG_DONTWAIT, from, fromlen);
        if (got >= 0) {
            r = got;
            break;
        }
        if (errno == EAGAIN)
            r = gort__pd_wait(pd, POLL_READ);
        else if (errno != EINTR)
            r = -errno;
    }
    gort__pd_release(pd, PD_OP_READ);
    return r;
}

ssize_t gort_write_to(int fd, const void *buf, size_t n,
                      const struct sockaddr *to, socklen_t tolen)
{
    RT_ENTRY();
    if ((buf == NULL && n > 0) || n > SSIZE_MAX || (to == NULL && tolen))
        return -EINVAL;
    int err;
    struct polldesc *pd = gort__pd_acquire(fd, PD_OP_WRITE, &err);
    if (pd == NULL)
        return err;
    ssize_t r = gort__pd_prepare(pd, POLL_WRITE);
    while (r == 0) {
        ssize_t sent = sendto(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, to,
                              tolen);
        if (sent >= 0) {
            r = sent;
            break;
        }
        if (errno == EAGAIN)
            r = gort__pd_wait(pd, POLL_WRITE);
        else if (errno != EINTR)
            r = -errno;
    }
    gort__pd_release(pd, PD_OP_WRITE);
    return r;
}

int gort_addr_string(const struct sockaddr *sa, socklen_t len, char *buf,
                     size_t size)
{
    if (sa == NULL || buf == NULL || size == 0 ||
        len < (socklen_t)sizeof sa->sa_family)
        return -EINVAL;
    char ip[INET6_ADDRSTRLEN];
    int n;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
        n = snprintf(buf, size, "%s:%u", ip, ntohs(sin->sin_port));
    } else if (sa->sa_family == AF_INET6 &&
               len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
        n = snprintf(buf, size, "[%s]:%u", ip, ntohs(sin6->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t plen = len > off ? len - off : 0;
        if (plen > sizeof sun->sun_path)
            return -EINVAL;
        if (plen > 0 && sun->sun_path[0] == '\0') /* abstract: "@name" */
            n = snprintf(buf, size, "@%.*s", (int)(plen - 1),
                         sun->sun_path + 1);
        else /* a path, or "" for an unbound socket */
            n = snprintf(buf, size, "%.*s", (int)strnlen(sun->sun_path, plen),
                         sun->sun_path);
    } else {
        return -EAFNOSUPPORT;
    }
    if (n < 0)
        return -EINVAL;
    return (size_t)n < size ? n : -ENOSPC;
}
