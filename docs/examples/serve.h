/*
 * serve.h: what the example servers share (echo.c, http.c, kvhttp.c and
 * bench/soak.c): SIGINT and SIGTERM as channel values, listening on a
 * loopback port, the accept loop with Go's back-off, and Go's close after
 * a reply that ends the connection. Static functions in a header, so that
 * each example stays one file to compile.
 */
#ifndef GORT_EXAMPLES_SERVE_H
#define GORT_EXAMPLES_SERVE_H

#include <gort.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* serve_block_signals blocks SIGINT and SIGTERM in the calling thread,
 * and so in every thread gort starts from it: call it in main() before
 * gort_run. The thread that delivers notified signals unblocks them for
 * itself, so they always land on a thread that waits in poll(2). Without
 * TSan any thread would do; under TSan a handler runs only when its
 * thread next enters a call TSan intercepts, and a processor's thread
 * asleep in a raw futex never does, so a SIGTERM it took would wait for
 * good (docs/signals.md, "Under TSan"). */
static inline void serve_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* serve_notify relays SIGINT and SIGTERM to a new channel (Go:
 * signal.Notify). Call it before listening: a signal sent once the port
 * answers then always reaches the channel, never the default action.
 * Returns NULL after saying why. */
static inline gort_chan *serve_notify(const char *who)
{
    static const int sigs[] = {SIGINT, SIGTERM};
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    int rc = c ? gort_signal_notify(c, sigs, 2) : -ENOMEM;
    if (rc != 0) {
        fprintf(stderr, "FAIL: %s: signals: %s\n", who, gort_strerror(rc));
        gort_chan_free(c); /* NULL is fine */
        return NULL;
    }
    return c;
}

/* serve_wait parks until c delivers a signal, then stops the relay and
 * drops c. */
static inline void serve_wait(gort_chan *c)
{
    int sig;
    gort_chan_recv(c, &sig);
    gort_signal_stop(c);
    gort_chan_free(c);
}

/* serve_listen listens on 127.0.0.1:port (0: a port the kernel picks)
 * and writes the address it got into addr ("127.0.0.1:PORT"). Returns
 * the listener, or -1 after saying why. */
static inline int serve_listen(const char *who, int port, char addr[32])
{
    snprintf(addr, 32, "127.0.0.1:%d", port);
    int lfd = gort_listen("tcp", addr);
    if (lfd < 0) {
        fprintf(stderr, "FAIL: %s: listen %s: %s\n", who, addr,
                gort_strerror(lfd));
        return -1;
    }
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    if (getsockname(lfd, (struct sockaddr *)&sa, &salen) == 0)
        snprintf(addr, 32, "127.0.0.1:%d", ntohs(sa.sin_port));
    return lfd;
}

/* A listener and what to run for each connection it accepts. */
struct serve_acceptor {
    const char *who;          /* names the server in messages */
    int lfd;
    void (*serve)(void *arg); /* a goroutine per connection; arg: the fd */
    _Atomic long accepted;    /* connections handed to serve */
    /* live, when set, counts connections being served: one is added
     * before serve starts (so a count of 0 means none is on its way) and
     * serve takes it off as it ends. */
    _Atomic long *live;
};

/* serve_accept_loop runs as a goroutine (arg: a struct serve_acceptor)
 * until the listener is closed. Out of fds, gort_accept_backoff sleeps
 * 5 ms doubling to 1 s, as Go's Server.Serve, and says so once a second;
 * other errors are said and retried after 10 ms. */
static inline void serve_accept_loop(void *arg)
{
    struct serve_acceptor *a = arg;
    struct gort_backoff bo = {0};
    for (;;) {
        int fd = gort_accept_backoff(a->lfd, &bo);
        if (fd == -EBADF)
            return;
        if (fd < 0) {
            fprintf(stderr, "%s: accept: %s\n", a->who, gort_strerror(fd));
            gort_sleep(GORT_MS(10));
            continue;
        }
        if (a->live)
            atomic_fetch_add(a->live, 1);
        if (gort_go(a->serve, (void *)(intptr_t)fd) != 0) {
            gort_close(fd);
            if (a->live)
                atomic_fetch_sub(a->live, 1);
            continue;
        }
        atomic_fetch_add_explicit(&a->accepted, 1, memory_order_relaxed);
    }
}

/* serve_close closes fd the way Go's server does after a reply that ends
 * the connection (closeWriteAndWait): shut the write side, then read and
 * drop what the client still sends, for at most 500 ms, so that unread
 * bytes do not turn the close into a reset that loses the reply. */
static inline void serve_close(int fd, bool linger)
{
    if (linger && gort_shutdown(fd, SHUT_WR) == 0) {
        char sink[512];
        gort_set_read_deadline(fd, gort_now() + GORT_MS(500));
        while (gort_read(fd, sink, sizeof sink) > 0)
            ;
    }
    gort_close(fd);
}

#endif /* GORT_EXAMPLES_SERVE_H */
