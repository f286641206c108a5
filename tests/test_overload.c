/*
 * test_overload.c: an accept loop out of file descriptors
 * (gort_accept_backoff, Go's net/http Server.Serve back-off). A server in
 * a forked child lowers its own RLIMIT_NOFILE so that only a few
 * connections fit, the parent connects more than that, and the server must
 * sleep on EMFILE (a bounded number of retries, not a spin), log at most
 * once a second, and accept every pending connection once it frees fds.
 *
 * The server runs in a child so that neither its rlimit nor its runtime
 * touch the parent, whose clients are plain blocking sockets (a connect
 * completes in the backlog before any accept). Times are only used as
 * upper bounds on how often the loop may have retried.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gort.h>

#include "symtab.h" /* gort__symtab_prepare */

#define HOLD 4          /* connections that fit under the lowered limit */
#define CONNS (HOLD + 8)
#define EXHAUSTED_MS 300 /* how long the server stays out of fds */

struct server {
    int portpipe[2], gopipe[2];
    int held[HOLD];
    _Atomic int nheld;
    _Atomic bool released;
    struct gort_backoff bo;
};

/* max_retries is how many retries the back-off schedule (5 ms doubling to
 * 1 s) can have made in ns: a loop slowed down makes fewer, never more. */
static uint64_t max_retries(int64_t ns)
{
    uint64_t n = 0;
    int64_t slept = 0, d = GORT_MS(5);
    while (slept <= ns) {
        n++;
        slept += d;
        d = d * 2 > GORT_MS(1000) ? GORT_MS(1000) : d * 2;
    }
    return n;
}

/* lower_nofile sets the soft fd limit so that exactly HOLD numbers below it
 * are free; fds already open above it stay usable. */
static int lower_nofile(int any_fd)
{
    int fds[HOLD];
    for (int i = 0; i < HOLD; i++)
        if ((fds[i] = dup(any_fd)) < 0)
            return -1;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)fds[HOLD - 1] + 1;
    for (int i = 0; i < HOLD; i++)
        close(fds[i]);
    return setrlimit(RLIMIT_NOFILE, &rl);
}

/* release waits until the process has no fd left (a dup fails with EMFILE
 * while the server holds connections), keeps it so for a while, then
 * closes the held connections. */
static void release(void *arg)
{
    struct server *s = arg;
    for (;;) {
        int fd = dup(s->portpipe[1]); /* any open fd: stdin may be closed */
        if (fd < 0 && errno == EMFILE && atomic_load(&s->nheld) > 0)
            break;
        if (fd >= 0)
            close(fd);
        gort_sleep(GORT_MS(2));
    }
    gort_sleep(GORT_MS(EXHAUSTED_MS));
    atomic_store(&s->released, true);
    int n = atomic_load(&s->nheld);
    for (int i = 0; i < n; i++)
        gort_close(s->held[i]);
}

static int serve(void *arg)
{
    struct server *s = arg;
    int lfd = gort_listen("tcp", "127.0.0.1:0");
    if (lfd < 0)
        return 10;
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    getsockname(lfd, (struct sockaddr *)&sin, &len);
    int port = ntohs(sin.sin_port);
    char go;
    if (write(s->portpipe[1], &port, sizeof port) != sizeof port ||
        read(s->gopipe[0], &go, 1) != 1) /* every client has connected */
        return 11;
    /* The traceback tables' thread opens the program's files, and keeps
     * them: let it finish before the fds are counted out, or it may take
     * the last ones and no accept ever succeeds (seen at 8 Ps). */
    gort__symtab_prepare();
    if (lower_nofile(lfd) != 0)
        return 12;
    int64_t start = gort_now();
    gort_go(release, s);
    for (int accepted = 0; accepted < CONNS; accepted++) {
        int fd = gort_accept_backoff(lfd, &s->bo);
        if (fd < 0)
            return 13;
        int n = atomic_load(&s->nheld);
        if (!atomic_load(&s->released) && n < HOLD) {
            s->held[n] = fd;
            atomic_store(&s->nheld, n + 1);
        } else {
            gort_close(fd);
        }
    }
    int64_t took = gort_now() - start;
    fprintf(stderr, "retries=%llu took_ms=%lld\n",
            (unsigned long long)s->bo.retries, (long long)(took / GORT_MS(1)));
    if (s->bo.retries == 0)
        return 14; /* never ran out: the test proved nothing */
    if (s->bo.retries > max_retries(took))
        return 15; /* retried faster than the schedule: a spin */
    if (s->bo.delay != 0)
        return 16; /* a success must reset the delay */
    gort_close(lfd);
    return 0;
}

/* count_lines counts lines starting with prefix in buf. */
static int count_lines(const char *buf, const char *prefix)
{
    int n = 0;
    for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
    return n;
}

Test(overload, accept_out_of_fds_backs_off_logs_rarely_and_recovers,
     .timeout = 60)
{
    struct server s = {0};
    int errpipe[2];
    cr_assert(eq(int, pipe(s.portpipe), 0));
    cr_assert(eq(int, pipe(s.gopipe), 0));
    cr_assert(eq(int, pipe(errpipe), 0));
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        /* Never outlive the test: a server left behind would hold the
         * runner's output pipe open (tests/run.sh waits for its EOF). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(errpipe[1], 2);
        close(errpipe[0]);
        close(errpipe[1]);
        _exit(gort_run(serve, &s));
    }
    close(errpipe[1]);
    int port;
    cr_assert(eq(int, (int)read(s.portpipe[0], &port, sizeof port),
                 (int)sizeof port));
    int cfd[CONNS];
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < CONNS; i++) {
        cfd[i] = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(ge(int, cfd[i], 0));
        cr_assert(eq(int, connect(cfd[i], (struct sockaddr *)&sin, sizeof sin),
                     0));
    }
    cr_assert(eq(int, (int)write(s.gopipe[1], "g", 1), 1));
    int64_t start = gort_now();
    static char log[1 << 16];
    size_t have = 0;
    ssize_t n;
    while ((n = read(errpipe[0], log + have, sizeof log - 1 - have)) > 0)
        have += (size_t)n;
    log[have] = 0;
    int64_t took = gort_now() - start;
    int st;
    cr_assert(eq(int, waitpid(pid, &st, 0), pid));
    for (int i = 0; i < CONNS; i++)
        close(cfd[i]);
    cr_assert(eq(int, WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0),
              "server failed (status %d):\n%s", st, log);
    int lines = count_lines(log, "gort: accept: ");
    cr_assert(ge(int, lines, 1), "no back-off log line:\n%s", log);
    cr_assert(le(int, lines, 1 + (int)(took / GORT_MS(1000))),
              "more than one line a second:\n%s", log);
    cr_assert(not(eq(ptr, strstr(log, "Too many open files"), NULL)),
              "log does not name the error:\n%s", log);
}
