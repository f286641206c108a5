/*
 * echo.c: TCP echo server, one goroutine per connection (the gort side of
 * bench-go/echo). Each connection's goroutine reads up to 4 KiB and writes
 * it all back until EOF.
 *
 * Memory: the 4 KiB buffer is taken from a gort_pool only once data is
 * there, inside a gort_read_with callback, and put back before the next
 * wait. An idle connection's goroutine, parked in gort_read_with, holds no
 * buffer, so it costs one stack page. A `char buf[4096]` on its stack would
 * sit between the handler's frames and the parked read's and pin a second
 * page per connection (C stacks cannot shrink).
 *
 *   echo [-port N]     listens on 127.0.0.1:N (default 9000; 0: any free)
 *
 * Prints "echo: listening on 127.0.0.1:PORT" on stderr once it listens,
 * with the port the kernel chose for -port 0. On SIGINT or
 * SIGTERM it prints one line on stdout and exits:
 *   bench=echo-server impl=gort procs=P accepted=A peak_rss_kb=K
 *
 * Signals: main() blocks SIGINT and SIGTERM before gort_run (every runtime
 * thread inherits the mask) and reads them from a signalfd that
 * gort_fd_register made goroutine-aware: the main goroutine parks in
 * gort_read until a signal arrives, costing no thread.
 */
#include <gort.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

static int port = 9000;
static int sigfd = -1;
static _Atomic long accepted;

enum { BUFSZ = 4096 };

static void *buf_new(void *arg)
{
    (void)arg;
    return malloc(BUFSZ);
}

static void buf_free(void *buf, void *arg)
{
    (void)arg;
    free(buf);
}

/* Get and put touch only the caller's P's cache: no lock, no malloc once
 * warm. */
static gort_pool bufs = GORT_POOL_INIT(buf_new, buf_free, NULL);

/* echo_once runs with fd's read op held: one read into a pooled buffer,
 * and the bytes written back. -EAGAIN (nothing there yet) makes
 * gort_read_with park, holding no buffer. gort_sys_read rather than
 * read(2): its system call shares one kernel entry with other
 * connections' calls. */
static ssize_t echo_once(int fd, void *arg)
{
    (void)arg;
    char *buf = gort_pool_get(&bufs);
    if (buf == NULL)
        return -ENOMEM;
    ssize_t n = gort_sys_read(fd, buf, BUFSZ);
    if (n > 0) {
        ssize_t w = gort_write(fd, buf, (size_t)n); /* may park */
        if (w < 0)
            n = w;
    }
    gort_pool_put(&bufs, buf);
    return n;
}

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    while (gort_read_with(fd, echo_once, NULL) > 0)
        ; /* 0 is EOF, < 0 an error: both end the connection */
    gort_close(fd);
}

static void accept_loop(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    /* Out of fds, gort_accept_backoff sleeps 5 ms doubling to 1 s (Go's
     * Server.Serve) and logs once a second; other errors come back. */
    struct gort_backoff bo = {0};
    for (;;) {
        int fd = gort_accept_backoff(lfd, &bo);
        if (fd < 0) {
            fprintf(stderr, "echo: accept: %s\n", strerror(-fd));
            if (fd == -EBADF)
                return;
            gort_sleep(GORT_MS(10));
            continue;
        }
        atomic_fetch_add(&accepted, 1);
        if (gort_go(serve, (void *)(intptr_t)fd) != 0)
            gort_close(fd);
    }
}

static int echo_main(void *arg)
{
    (void)arg;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    int lfd = gort_listen("tcp", addr);
    if (lfd < 0) {
        fprintf(stderr, "FAIL: echo: listen %s: %s\n", addr, strerror(-lfd));
        return 1;
    }
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    if (getsockname(lfd, (struct sockaddr *)&sa, &salen) == 0)
        snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    gort_go(accept_loop, (void *)(intptr_t)lfd);
    fprintf(stderr, "echo: listening on %s\n", addr);

    struct signalfd_siginfo si;
    ssize_t n = gort_fd_register(sigfd);
    if (n == 0)
        n = gort_read(sigfd, &si, sizeof si);
    if (n != (ssize_t)sizeof si) {
        fprintf(stderr, "FAIL: echo: signalfd: %s\n",
                n < 0 ? strerror((int)-n) : "short read");
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    gort_stats_t st;
    gort_stats(&st);
    printf("bench=echo-server impl=gort procs=%d accepted=%ld "
           "peak_rss_kb=%ld batched_calls=%llu batch_flushes=%llu "
           "drained_reads=%llu\n",
           gort_maxprocs(0), atomic_load(&accepted), ru.ru_maxrss,
           (unsigned long long)st.batched_calls,
           (unsigned long long)st.batch_flushes,
           (unsigned long long)st.drained_reads);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-port") || !strcmp(argv[i], "--port")) &&
            i + 1 < argc) {
            port = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: echo [-port N]\n");
            return 2;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        perror("echo: signalfd");
        return 1;
    }
    /* gort_run's own error is negative: an exit status of 256 - errno
     * would read as a signal, so say what it was and exit 1. */
    int rc = gort_run(echo_main, NULL);
    if (rc < 0) {
        fprintf(stderr, "FAIL: echo: gort_run: %s\n", strerror(-rc));
        return 1;
    }
    return rc;
}
