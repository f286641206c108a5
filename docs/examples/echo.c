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
 * Signals: SIGINT and SIGTERM arrive on a channel (gort_signal_notify,
 * Go's signal.Notify) that the main goroutine parks on, costing no
 * thread. serve.h holds what this server shares with http.c and kvhttp.c.
 */
#include <gort.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "serve.h"

static int port = 9000;

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

static int echo_main(void *arg)
{
    (void)arg;
    gort_chan *sig = serve_notify("echo");
    char addr[32];
    int lfd = sig ? serve_listen("echo", port, addr) : -1;
    if (lfd < 0)
        return 1;
    static struct serve_acceptor acc = {.who = "echo", .serve = serve};
    acc.lfd = lfd;
    gort_go(serve_accept_loop, &acc);
    fprintf(stderr, "echo: listening on %s\n", addr);
    serve_wait(sig);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    gort_stats_t st;
    gort_stats(&st);
    printf("bench=echo-server impl=gort procs=%d accepted=%ld "
           "peak_rss_kb=%ld batched_calls=%llu batch_flushes=%llu "
           "drained_reads=%llu\n",
           gort_maxprocs(0), atomic_load(&acc.accepted), ru.ru_maxrss,
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
    serve_block_signals(); /* before gort_run: every M inherits it */
    /* gort_run's own error is negative: an exit status of 256 - errno
     * would read as a signal, so say what it was and exit 1. */
    int rc = gort_run(echo_main, NULL);
    if (rc < 0) {
        fprintf(stderr, "FAIL: echo: gort_run: %s\n", strerror(-rc));
        return 1;
    }
    return rc;
}
