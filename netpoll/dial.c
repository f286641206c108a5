/*
 * dial.c: gort_listen, gort_listen_packet, gort_dial and
 * gort_resolve_addr: networks, address parsing, name resolution,
 * binding and connecting (Go: net/dial.go, ipsock.go, sock_posix.go).
 * Datagram networks (udp, udp4, udp6, unixgram) share the parser and
 * differ only in the socket type: no listen(2), no TCP options.
 *
 * Invariants: a socket is registered with the poller before any call on
 * it can park; a failed dial closes what it opened.
 *
 * Locking: none. getaddrinfo may block on files or DNS, so it runs between
 * gort_syscall_enter and gort_syscall_exit, where sysmon can hand the
 * processor to another thread.
 *
 * See also: net.c, netpoll.c, include/gort/net.h, docs/netpoll.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../runtime/runtime.h"
#include "netpoll.h"

#define MAX_ADDRS 8   /* addresses tried per dial */
#define HOST_MAX GORT_HOST_MAX

struct addrs {
    int n;
    socklen_t len[MAX_ADDRS];
    struct sockaddr_storage sa[MAX_ADDRS];
};

/* packet_network reports whether network is a datagram network (udp,
 * udp4, udp6, unixgram), which gort_listen_packet and gort_dial take. */
static bool packet_network(const char *network)
{
    return network && (strcmp(network, "udp") == 0 ||
                       strcmp(network, "udp4") == 0 ||
                       strcmp(network, "udp6") == 0 ||
                       strcmp(network, "unixgram") == 0);
}

/* net_family maps a network name to a family: AF_INET/AF_INET6/AF_UNSPEC
 * for TCP and UDP, AF_UNIX, or a negative error. */
static int net_family(const char *network)
{
    static const char *const unsupported[] = {
        "ip", "ip4", "ip6", "unixpacket",
    };
    if (network == NULL)
        return -EINVAL;
    if (strcmp(network, "tcp") == 0 || strcmp(network, "udp") == 0)
        return AF_UNSPEC;
    if (strcmp(network, "tcp4") == 0 || strcmp(network, "udp4") == 0)
        return AF_INET;
    if (strcmp(network, "tcp6") == 0 || strcmp(network, "udp6") == 0)
        return AF_INET6;
    if (strcmp(network, "unix") == 0 || strcmp(network, "unixgram") == 0)
        return AF_UNIX;
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
        if (strcmp(network, unsupported[i]) == 0)
            return -EPROTONOSUPPORT;
    return -EINVAL;
}

/*
 * parse_port reads a port the way Go's LookupPort does for a numeric
 * service: an empty string is port 0 (Go's legacy rule), one optional
 * '+' or '-' sign, then decimal digits only. Anything else would be a
 * service name for Go to look up ("unknown port" for " 80", "\t85");
 * gort looks none up, so it is -EINVAL, as is a value outside 0..65535
 * ("invalid port"). So "+80" is 80 and "-0" is 0, as in Go (checked
 * against Go 1.19's net.Listen).
 */
int gort__parse_port(const char *s, int *port)
{
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    long v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        if (v <= 65535) /* past it the value is invalid anyway */
            v = v * 10 + (*s - '0');
    }
    if (neg)
        v = -v;
    if (v < 0 || v > 65535)
        return -EINVAL;
    *port = (int)v;
    return 0;
}

/* gort__split_hostport splits "host:port", "[v6]:port", ":port" or "host"
 * (port -1) into host (GORT_HOST_MAX bytes) and port (Go:
 * net.SplitHostPort). 0 or -EINVAL. */
int gort__split_hostport(const char *addr, char *host, int *port)
{
    const char *h = addr, *colon;
    size_t hlen;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (end == NULL || (end[1] != ':' && end[1] != '\0'))
            return -EINVAL;
        h = addr + 1;
        hlen = (size_t)(end - h);
        colon = end[1] == ':' ? end + 1 : NULL;
    } else {
        colon = strrchr(addr, ':');
        if (colon && memchr(addr, ':', (size_t)(colon - addr)))
            return -EINVAL; /* "too many colons": IPv6 needs brackets */
        hlen = colon ? (size_t)(colon - addr) : strlen(addr);
    }
    if (hlen >= HOST_MAX)
        return -EINVAL;
    /* Go: "unexpected '[' in address" (or ']'); getaddrinfo would only
     * have said "no such host" (fuzz/net_addr.c found it). */
    if (memchr(h, '[', hlen) || memchr(h, ']', hlen))
        return -EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = -1;
    if (colon)
        return gort__parse_port(colon + 1, port);
    return 0;
}

static void add_ip(struct addrs *a, int family, const void *ip, int port)
{
    struct sockaddr_storage *ss = &a->sa[a->n];
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        memcpy(&sin->sin_addr, ip, sizeof sin->sin_addr);
        a->len[a->n++] = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        memcpy(&sin6->sin6_addr, ip, sizeof sin6->sin6_addr);
        a->len[a->n++] = sizeof *sin6;
    }
}

static int gai_errno(int rc, int saved_errno)
{
    switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -ENXIO; /* Go: "no such host" */
    case EAI_AGAIN:
        return -ETIMEDOUT; /* the resolver gave up for now */
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return saved_errno ? -saved_errno : -EIO;
    default:
        return -EINVAL;
    }
}

/* resolve fills a with the addresses of host for family (AF_UNSPEC: both);
 * an empty host is the wildcard to listen on, or this machine to dial. */
static int resolve(int family, const char *host, int port, bool listening,
                   struct addrs *a)
{
    unsigned char ip[sizeof(struct in6_addr)];
    a->n = 0;
    if (host[0] == '\0') {
        bool v6 = family == AF_INET6;
        if (listening)
            memcpy(ip, v6 ? (const void *)&in6addr_any : "\0\0\0\0",
                   v6 ? sizeof in6addr_any : 4);
        else
            memcpy(ip, v6 ? (const void *)&in6addr_loopback : "\x7f\0\0\1",
                   v6 ? sizeof in6addr_loopback : 4);
        add_ip(a, v6 ? AF_INET6 : AF_INET, ip, port);
        return 0;
    }
    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1) {
        int f = strchr(host, ':') ? AF_INET6 : AF_INET;
        if (family != AF_UNSPEC && family != f)
            return -EINVAL; /* Go: "no suitable address found" */
        add_ip(a, f, ip, port);
        return 0;
    }
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    gort_syscall_enter();
    int rc = getaddrinfo(host, NULL, &hints, &res);
    int saved = errno;
    gort_syscall_exit();
    if (rc != 0)
        return gai_errno(rc, saved);
    /* IPv4 first, as Go orders them for "tcp" (RFC 6724 would too here). */
    for (int pass = 0; pass < 2; pass++)
        for (struct addrinfo *ai = res; ai && a->n < MAX_ADDRS; ai = ai->ai_next) {
            if ((pass == 0) != (ai->ai_family == AF_INET))
                continue;
            if (ai->ai_family == AF_INET)
                add_ip(a, AF_INET,
                       &((struct sockaddr_in *)ai->ai_addr)->sin_addr, port);
            else if (ai->ai_family == AF_INET6)
                add_ip(a, AF_INET6,
                       &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, port);
        }
    freeaddrinfo(res);
    return a->n > 0 ? 0 : -ENXIO;
}

/* unix_addr builds a sockaddr_un from a path or an "@abstract" name. */
static int unix_addr(const char *path, struct addrs *a)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa[0];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sun->sun_path)
        return -EINVAL;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n);
    if (path[0] == '@')
        sun->sun_path[0] = '\0'; /* Linux abstract namespace, as Go does */
    a->len[0] = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                            (path[0] == '@' ? 0 : 1));
    a->n = 1;
    return 0;
}

/* parse turns (network, address) into socket addresses. */
static int parse(const char *network, const char *address, bool listening,
                 struct addrs *a)
{
    int family = net_family(network);
    if (family < 0)
        return family;
    if (address == NULL)
        return -EINVAL;
    if (family == AF_UNIX)
        return unix_addr(address, a);
    /* Go's Listen takes "" as ":0": every address, any free port. */
    if (listening && address[0] == '\0')
        address = ":0";
    char host[HOST_MAX];
    int port;
    int err = gort__split_hostport(address, host, &port);
    if (err)
        return err;
    if (port < 0) {
        if (!listening || host[0] == '\0')
            return -EINVAL; /* Go: "missing port in address" */
        port = 0;
    }
    /* "tcp" with no host listens on IPv6 and IPv4 together when it can. */
    if (listening && family == AF_UNSPEC && host[0] == '\0')
        family = AF_INET6;
    return resolve(family, host, port, listening, a);
}

static int somaxconn(void)
{
    static _Atomic int cached;
    int n = atomic_load_explicit(&cached, memory_order_relaxed);
    if (n > 0)
        return n;
    n = SOMAXCONN;
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "re");
    if (f) {
        if (fscanf(f, "%d", &n) != 1 || n <= 0)
            n = SOMAXCONN;
        fclose(f);
    }
    atomic_store_explicit(&cached, n, memory_order_relaxed);
    return n;
}

/* packet_setup gives a new UDP socket Go's default: SO_BROADCAST, so a
 * write to a broadcast address is not refused. */
static void packet_setup(int fd, int family, int sotype)
{
    int one = 1;
    if (sotype == SOCK_DGRAM && family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
}

/* listen_one binds a socket of sotype to ss; a stream socket listens
 * (with SO_REUSEADDR for TCP, as Go), a datagram socket is ready. */
static int listen_one(const struct sockaddr_storage *ss, socklen_t len,
                      bool v6only, int sotype)
{
    int family = ss->ss_family;
    int fd = socket(family, sotype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, zero = 0, err = 0;
    if (family != AF_UNIX && sotype == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    packet_setup(fd, family, sotype);
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? &one : &zero,
                   sizeof one);
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        (sotype == SOCK_STREAM && listen(fd, somaxconn()) < 0))
        err = -errno;
    if (err == 0)
        err = gort__pd_register(fd, sotype);
    if (err) {
        close(fd);
        return err;
    }
    return fd;
}

/* listen_any is gort_listen and gort_listen_packet for sotype. */
static int listen_any(const char *network, const char *address, int sotype)
{
    struct addrs a;
    int err = parse(network, address, true, &a);
    if (err)
        return err;
    bool v6only = strcmp(network, "tcp6") == 0 || strcmp(network, "udp6") == 0;
    int fd = listen_one(&a.sa[0], a.len[0], v6only, sotype);
    /* No IPv6 on this machine: a wildcard "tcp"/"udp" socket falls back. */
    if (fd == -EAFNOSUPPORT &&
        (strcmp(network, "tcp") == 0 || strcmp(network, "udp") == 0) &&
        address[0] == ':') {
        struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa[0];
        uint16_t port = ((struct sockaddr_in6 *)&a.sa[0])->sin6_port;
        memset(sin, 0, sizeof *sin);
        sin->sin_family = AF_INET;
        sin->sin_port = port;
        fd = listen_one(&a.sa[0], sizeof *sin, false, sotype);
    }
    return fd;
}

int gort_listen(const char *network, const char *address)
{
    RT_ENTRY();
    if (packet_network(network))
        return -EPROTONOSUPPORT; /* Go: Listen takes stream networks */
    return listen_any(network, address, SOCK_STREAM);
}

int gort_listen_packet(const char *network, const char *address)
{
    RT_ENTRY();
    if (network == NULL || !packet_network(network))
        return net_family(network) < 0 ? net_family(network)
                                       : -EPROTONOSUPPORT;
    return listen_any(network, address, SOCK_DGRAM);
}

int gort_resolve_addr(const char *network, const char *address,
                      struct sockaddr_storage *sa, socklen_t *len)
{
    RT_ENTRY();
    if (sa == NULL || len == NULL)
        return -EINVAL;
    struct addrs a;
    int err = parse(network, address, false, &a);
    if (err)
        return err;
    memcpy(sa, &a.sa[0], sizeof *sa);
    *len = a.len[0];
    return 0;
}

/* connect_wait waits for a non-blocking connect on fd to finish. */
static int connect_wait(int fd, int64_t deadline,
                        struct gort__dial_cancel *dc)
{
    int err;
    struct polldesc *pd = gort__pd_acquire(fd, PD_OP_WRITE, &err);
    if (pd == NULL)
        return err;
    gort__pd_set_deadline(pd, deadline, POLL_WRITE);
    for (;;) {
        /* After dc->fd is published (dial_one): a cancel that came
         * earlier is seen here, a later one wakes the wait. */
        if (dc != NULL && (err = dc->stop(dc->arg)) != 0)
            break;
        err = gort__pd_wait(pd, POLL_WRITE);
        if (err)
            break;
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
            err = -errno;
            break;
        }
        if (soerr == EINPROGRESS || soerr == EALREADY || soerr == EINTR)
            continue;
        if (soerr != 0 && soerr != EISCONN) {
            err = -soerr;
            break;
        }
        /* The poller may wake us early (Go issue 19289): make sure. */
        struct sockaddr_storage peer;
        len = sizeof peer;
        if (soerr == EISCONN ||
            getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
            break;
    }
    gort__pd_set_deadline(pd, 0, POLL_WRITE);
    gort__pd_release(pd, PD_OP_WRITE);
    return err;
}

/* unix_connect_blocking connects a unix socket whose listener's backlog is
 * full: the kernel queues a blocking connect (bounded by SO_SNDTIMEO), so
 * it runs as a system call that may hand off the processor. */
static int unix_connect_blocking(int fd, const struct sockaddr *sa,
                                 socklen_t len, int64_t deadline)
{
    if (gort__getg() == NULL)
        return -EPERM;
    struct timeval tv = {0, 0};
    if (deadline > 0) {
        int64_t left = deadline - gort__nanotime();
        if (left <= 0)
            return -ETIMEDOUT;
        tv.tv_sec = left / 1000000000;
        tv.tv_usec = (left % 1000000000) / 1000 + 1;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    gort_syscall_enter();
    int r = connect(fd, sa, len);
    int e = errno; /* saved on this thread, before exit may move us */
    gort_syscall_exit();
    struct timeval none = {0, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (r == 0)
        return 0;
    return e == EAGAIN || e == EINPROGRESS ? -ETIMEDOUT : -e;
}

static int dial_one(const struct sockaddr_storage *ss, socklen_t len,
                    int64_t deadline, int sotype,
                    struct gort__dial_cancel *dc)
{
    int family = ss->ss_family;
    int fd = socket(family, sotype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (sotype == SOCK_STREAM)
        gort__net_conn_setup(fd, family);
    packet_setup(fd, family, sotype);
    int err = 0;
    int r = connect(fd, (const struct sockaddr *)ss, len);
    int e = r < 0 ? errno : 0;
    if (e == EAGAIN && family == AF_UNIX)
        err = unix_connect_blocking(fd, (const struct sockaddr *)ss, len,
                                    deadline);
    else if (e != 0 && e != EINPROGRESS && e != EINTR)
        err = -e;
    if (err) {
        close(fd);
        return err;
    }
    err = gort__pd_register(fd, sotype);
    if (err) {
        close(fd);
        return err;
    }
    if (e == EINPROGRESS || e == EINTR) {
        if (dc != NULL)
            atomic_store(&dc->fd, fd); /* seq_cst: before dc->stop */
        err = connect_wait(fd, deadline, dc);
        if (dc != NULL)
            atomic_store(&dc->fd, -1);
        if (err) {
            gort__pd_close(fd, false);
            return err;
        }
    }
    return fd;
}

int gort_dial(const char *network, const char *address, int64_t timeout_ns)
{
    RT_ENTRY();
    int64_t deadline = timeout_ns > 0 ? gort__nanotime() + timeout_ns : 0;
    return gort__dial(network, address, deadline, NULL);
}

int gort__dial(const char *network, const char *address, int64_t deadline,
               struct gort__dial_cancel *dc)
{
    struct addrs a;
    int err = parse(network, address, false, &a);
    if (err)
        return err;
    for (int i = 0; i < a.n; i++) {
        if (deadline > 0 && gort__nanotime() >= deadline)
            return -ETIMEDOUT;
        if (dc != NULL && (err = dc->stop(dc->arg)) != 0)
            return err;
        int fd = dial_one(&a.sa[i], a.len[i], deadline,
                          packet_network(network) ? SOCK_DGRAM : SOCK_STREAM,
                          dc);
        if (fd >= 0)
            return fd;
        err = fd;
    }
    return err;
}
