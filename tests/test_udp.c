/*
 * test_udp.c: datagram sockets (gort_listen_packet, gort_dial with udp and
 * unixgram, gort_read_from, gort_write_to, gort_resolve_addr,
 * gort_addr_string): echo on loopback over udp4, udp6 and unixgram,
 * deadlines, close, bad addresses, and the ICMP answer of a closed port.
 * Timing is never asserted.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <stdatomic.h>

#include <gort.h>

#define ROUNDS 200

static int run(int procs, int (*fn)(void *), void *arg)
{
    gort_maxprocs(procs);
    return gort_run(fn, arg);
}

/* local_addr formats fd's bound address as "host:port" or a unix name. */
static void local_addr(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&ss, &len), 0));
    cr_assert(gt(int, gort_addr_string((struct sockaddr *)&ss, len, buf, size),
                 0));
}

/* echo_server answers every datagram to its sender until it reads "quit"
 * or its fd is closed. */
static void echo_server(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[2048];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t len = sizeof from;
        ssize_t n = gort_read_from(fd, buf, sizeof buf,
                                   (struct sockaddr *)&from, &len);
        if (n < 0)
            return;
        if (n == 4 && memcmp(buf, "quit", 4) == 0)
            return;
        cr_assert(eq(sz, (size_t)gort_write_to(fd, buf, (size_t)n,
                                                (struct sockaddr *)&from, len),
                     (size_t)n));
    }
}

/* ping_pong sends ROUNDS numbered datagrams through a connected fd and
 * checks each echo. */
static void ping_pong(int fd)
{
    for (int i = 0; i < ROUNDS; i++) {
        char out[64], in[64];
        int n = snprintf(out, sizeof out, "ping %d", i);
        cr_assert(eq(sz, (size_t)gort_write(fd, out, (size_t)n), (size_t)n));
        ssize_t got = gort_read(fd, in, sizeof in);
        cr_assert(eq(sz, (size_t)got, (size_t)n));
        cr_assert(eq(int, memcmp(in, out, (size_t)n), 0));
    }
}

/* echo_over starts a server on (network, address), then talks to it from a
 * dialed socket and from an unconnected one with write_to/read_from. */
static void echo_over(const char *network, const char *address,
                      const char *client_addr)
{
    int srv = gort_listen_packet(network, address);
    if (srv == -EADDRNOTAVAIL || srv == -EAFNOSUPPORT) {
        /* No IPv6 here (criterion-lite has no skip): say so. */
        fprintf(stderr, "udp: %s not available here, not tested\n", network);
        return;
    }
    cr_assert(gt(int, srv, 0), "listen_packet: %s", gort_strerror(srv));
    char saddr[128];
    local_addr(srv, saddr, sizeof saddr);
    cr_assert(eq(int, gort_go(echo_server, (void *)(intptr_t)srv), 0));

    int c = gort_dial(network, saddr, GORT_S(5));
    if (client_addr == NULL) { /* a dialed unix datagram socket is unbound */
        cr_assert(gt(int, c, 0), "dial %s: %s", saddr, gort_strerror(c));
        ping_pong(c);
        cr_assert(eq(int, gort_close(c), 0));
    } else if (c >= 0) {
        gort_close(c);
    }

    int u = gort_listen_packet(network, client_addr ? client_addr : address);
    cr_assert(gt(int, u, 0), "%s", gort_strerror(u));
    struct sockaddr_storage to;
    socklen_t tolen;
    cr_assert(eq(int, gort_resolve_addr(network, saddr, &to, &tolen), 0));
    for (int i = 0; i < ROUNDS; i++) {
        char out[64], in[64];
        int n = snprintf(out, sizeof out, "dgram %d", i);
        cr_assert(eq(sz, (size_t)gort_write_to(u, out, (size_t)n,
                                                (struct sockaddr *)&to, tolen),
                     (size_t)n));
        struct sockaddr_storage from;
        socklen_t flen = sizeof from;
        ssize_t got = gort_read_from(u, in, sizeof in,
                                     (struct sockaddr *)&from, &flen);
        cr_assert(eq(sz, (size_t)got, (size_t)n));
        cr_assert(eq(int, memcmp(in, out, (size_t)n), 0));
        char fs[128];
        cr_assert(gt(int, gort_addr_string((struct sockaddr *)&from, flen, fs,
                                           sizeof fs), 0));
        cr_assert(eq(str, fs, saddr)); /* the answer came from the server */
    }
    cr_assert(eq(sz, (size_t)gort_write_to(u, "quit", 4,
                                            (struct sockaddr *)&to, tolen),
                 4));
    cr_assert(eq(int, gort_close(u), 0));
}

static int udp4_main(void *arg)
{
    (void)arg;
    echo_over("udp", "127.0.0.1:0", NULL);
    echo_over("udp4", "127.0.0.1:0", NULL);
    return 0;
}

Test(udp, udp4_echo_round_trips_and_names_the_sender_procs_2)
{
    cr_assert(eq(int, run(2, udp4_main, NULL), 0));
}

static int udp6_main(void *arg)
{
    (void)arg;
    echo_over("udp6", "[::1]:0", NULL);
    return 0;
}

Test(udp, udp6_echo_round_trips_and_names_the_sender)
{
    cr_assert(eq(int, run(1, udp6_main, NULL), 0));
}

static int unixgram_main(void *arg)
{
    (void)arg;
    char srv[64], cli[64];
    snprintf(srv, sizeof srv, "@gort-udp-test-srv-%d", (int)getpid());
    snprintf(cli, sizeof cli, "@gort-udp-test-cli-%d", (int)getpid());
    echo_over("unixgram", srv, cli);
    return 0;
}

Test(udp, unixgram_echo_round_trips_and_names_the_sender_procs_2)
{
    cr_assert(eq(int, run(2, unixgram_main, NULL), 0));
}

static int deadline_main(void *arg)
{
    (void)arg;
    int fd = gort_listen_packet("udp4", "127.0.0.1:0");
    cr_assert(gt(int, fd, 0));
    char buf[16];
    struct sockaddr_storage from;
    socklen_t len = sizeof from;
    int64_t t0 = gort_now();
    cr_assert(eq(int, gort_set_read_deadline(fd, gort_now() + GORT_MS(30)), 0));
    cr_assert(eq(sz, (size_t)gort_read_from(fd, buf, sizeof buf,
                                             (struct sockaddr *)&from, &len),
                 (size_t)-ETIMEDOUT));
    cr_assert(ge(i64, gort_now() - t0, GORT_MS(30)));
    /* It sticks, for gort_read too, until moved. */
    cr_assert(eq(sz, (size_t)gort_read(fd, buf, sizeof buf),
                 (size_t)-ETIMEDOUT));
    cr_assert(eq(int, gort_set_read_deadline(fd, 0), 0));
    char self[64];
    local_addr(fd, self, sizeof self);
    struct sockaddr_storage to;
    socklen_t tolen;
    cr_assert(eq(int, gort_resolve_addr("udp4", self, &to, &tolen), 0));
    cr_assert(eq(sz, (size_t)gort_write_to(fd, "hi", 2, (struct sockaddr *)&to,
                                            tolen), 2));
    cr_assert(eq(sz, (size_t)gort_read_from(fd, buf, sizeof buf, NULL, NULL),
                 2));
    /* A write deadline in the past fails writes at once. */
    cr_assert(eq(int, gort_set_write_deadline(fd, gort_now() - 1), 0));
    cr_assert(eq(sz, (size_t)gort_write_to(fd, "hi", 2, (struct sockaddr *)&to,
                                            tolen), (size_t)-ETIMEDOUT));
    cr_assert(eq(int, gort_close(fd), 0));
    return 0;
}

Test(udp, read_deadline_times_out_with_etimedout_and_can_be_cleared)
{
    cr_assert(eq(int, run(1, deadline_main, NULL), 0));
}

/* The reader's result; reader_done (a release) publishes it to main,
 * which may run on another thread. */
static int reader_rc;
static _Atomic int reader_done;

static void parked_reader(void *arg)
{
    int *fdp = arg;
    char buf[8];
    reader_rc = (int)gort_read_from(fdp[0], buf, sizeof buf, NULL, NULL);
    atomic_store(&reader_done, 1);
}

static int closed_main(void *arg)
{
    (void)arg;
    int st[1] = {gort_listen_packet("udp", "127.0.0.1:0")};
    atomic_store(&reader_done, 0);
    cr_assert(gt(int, st[0], 0));
    cr_assert(eq(int, gort_go(parked_reader, st), 0));
    gort_sleep(GORT_MS(10)); /* most likely parked by now; either way */
    cr_assert(eq(int, gort_close(st[0]), 0));
    while (!atomic_load(&reader_done))
        gort_sleep(GORT_MS(1));
    cr_assert(eq(int, reader_rc, -EBADF));
    char buf[4];
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons(9)};
    cr_assert(eq(sz, (size_t)gort_read_from(st[0], buf, 4, NULL, NULL),
                 (size_t)-EBADF));
    cr_assert(eq(sz, (size_t)gort_write_to(st[0], buf, 4,
                                            (struct sockaddr *)&sin,
                                            sizeof sin), (size_t)-EBADF));
    cr_assert(eq(int, gort_close(st[0]), -EBADF));
    return 0;
}

Test(udp, closed_socket_wakes_its_reader_and_fails_later_calls_with_ebadf)
{
    cr_assert(eq(int, run(2, closed_main, NULL), 0));
}

static int bad_main(void *arg)
{
    (void)arg;
    struct sockaddr_storage ss;
    socklen_t len;
    const char *bad[] = {"127.0.0.1", "[::1", "127.0.0.1:99999", "1:2:3",
                         "127.0.0.1:x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert(eq(int, gort_dial("udp", bad[i], 0), -EINVAL), "%s", bad[i]);
        cr_assert(eq(int, gort_resolve_addr("udp", bad[i], &ss, &len),
                     -EINVAL), "%s", bad[i]);
    }
    cr_assert(eq(int, gort_listen_packet("udp", "[::1"), -EINVAL));
    cr_assert(eq(int, gort_listen_packet("udp", "127.0.0.1:70000"), -EINVAL));
    cr_assert(eq(int, gort_listen_packet("udp4", "[::1]:0"), -EINVAL));
    cr_assert(eq(int, gort_listen_packet("udpx", ":0"), -EINVAL));
    cr_assert(eq(int, gort_listen_packet(NULL, ":0"), -EINVAL));
    cr_assert(eq(int, gort_listen_packet("udp", NULL), -EINVAL));
    cr_assert(eq(int, gort_listen_packet("unixgram", ""), -EINVAL));
    cr_assert(eq(int, gort_listen_packet("tcp", ":0"), -EPROTONOSUPPORT));
    cr_assert(eq(int, gort_listen("udp", ":0"), -EPROTONOSUPPORT));
    cr_assert(eq(int, gort_resolve_addr("udp", "127.0.0.1:1", NULL, &len),
                 -EINVAL));

    int fd = gort_listen_packet("udp4", "127.0.0.1:0");
    cr_assert(gt(int, fd, 0));
    char buf[4];
    cr_assert(eq(sz, (size_t)gort_write_to(fd, buf, 4, NULL, 8),
                 (size_t)-EINVAL));
    cr_assert(eq(sz, (size_t)gort_write_to(fd, NULL, 4, NULL, 0),
                 (size_t)-EINVAL));
    cr_assert(eq(sz, (size_t)gort_read_from(fd, buf, 4,
                                             (struct sockaddr *)&ss, NULL),
                 (size_t)-EINVAL));
    /* No peer on an unconnected socket: the kernel's answer. */
    cr_assert(eq(sz, (size_t)gort_write_to(fd, buf, 4, NULL, 0),
                 (size_t)-EDESTADDRREQ));
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(9),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    ssize_t r = gort_write_to(fd, buf, 4, (struct sockaddr *)&v6, sizeof v6);
    cr_assert(r == -EINVAL || r == -EAFNOSUPPORT, "got %zd", r);
    cr_assert(eq(int, gort_close(fd), 0));

    char s[8];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert(eq(int, gort_addr_string((struct sockaddr *)&sin, sizeof sin, s,
                                       sizeof s), -ENOSPC));
    cr_assert(eq(int, gort_addr_string(NULL, sizeof sin, s, sizeof s),
                 -EINVAL));
    return 0;
}

Test(udp, bad_addresses_networks_and_arguments_get_einval)
{
    cr_assert(eq(int, run(1, bad_main, NULL), 0));
}

static int refused_main(void *arg)
{
    (void)arg;
    /* A port that was just free: nothing listens on it now. */
    int tmp = gort_listen_packet("udp4", "127.0.0.1:0");
    cr_assert(gt(int, tmp, 0));
    char addr[64];
    local_addr(tmp, addr, sizeof addr);
    cr_assert(eq(int, gort_close(tmp), 0));
    int c = gort_dial("udp4", addr, 0);
    cr_assert(gt(int, c, 0), "dial: %s", gort_strerror(c));
    cr_assert(eq(int, gort_set_read_deadline(c, gort_now() + GORT_S(10)), 0));
    cr_assert(eq(sz, (size_t)gort_write(c, "x", 1), 1));
    char buf[4];
    ssize_t r = gort_read(c, buf, sizeof buf);
    cr_assert(eq(sz, (size_t)r, (size_t)-ECONNREFUSED), "%s",
              gort_strerror((int)r));
    cr_assert(eq(int, gort_close(c), 0));
    return 0;
}

Test(udp, dialed_udp_to_a_closed_port_reads_econnrefused)
{
    cr_assert(eq(int, run(1, refused_main, NULL), 0));
}

Test(udp, addr_string_formats_as_go_does)
{
    char s[64];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert(eq(int, gort_addr_string((struct sockaddr *)&sin, sizeof sin, s,
                                       sizeof s), 12));
    cr_assert(eq(str, s, "127.0.0.1:53"));
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(80),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    cr_assert(gt(int, gort_addr_string((struct sockaddr *)&v6, sizeof v6, s,
                                       sizeof s), 0));
    cr_assert(eq(str, s, "[::1]:80"));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, "\0abc", 4);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 4);
    cr_assert(gt(int, gort_addr_string((struct sockaddr *)&sun, len, s,
                                       sizeof s), 0));
    cr_assert(eq(str, s, "@abc"));
    strcpy(sun.sun_path, "/tmp/x");
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 7);
    cr_assert(gt(int, gort_addr_string((struct sockaddr *)&sun, len, s,
                                       sizeof s), 0));
    cr_assert(eq(str, s, "/tmp/x"));
}
