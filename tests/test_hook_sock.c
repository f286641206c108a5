/*
 * test_hook_sock.c: libgort-hook's socket calls on the netpoller
 * (hook/sock.c), getaddrinfo's pool (hook/gai.c), and errno as Debian's
 * hiredis reads it after hooked reads that parked, at 1, 2 and 4 Ps.
 *
 * Checks: blocked reads hold no thread; the user's O_NONBLOCK across dup
 * and fork; SO_RCVTIMEO/SO_SNDTIMEO; close waking a parked reader and a
 * parked poll; bad fds get libc's errors; calls off goroutines are
 * libc's; blocking connect and accept; the lookup pool's bound.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <gort.h>

#include "extlibs/servers.h"
#include "helpers/harness.h"

static gort_wg wg;

/* ---- Sockets on the poller ---------------------------------------------- */

static int threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void pair(int sv[2])
{
    cr_assert(eq(int, socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0));
}

static void blocked_reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b = 0;
    CHECK_EQ(read(fd, &b, 1), 1L);
    CHECK_EQ(b, 'r');
    gort_wg_done(&wg);
}

/* Many goroutines blocked in hooked reads at one P hold no thread each:
 * the thread count stays near what the runtime started with (a hand-off
 * per blocked read would add about one each). */
static int readers_main(void *arg)
{
    (void)arg;
    int n = SCALE3(300, 100, 40);
    int (*sv)[2] = calloc((size_t)n, sizeof *sv);
    cr_assert(sv != NULL);
    gort_sleep(GORT_MS(50)); /* let the runtime's own threads start */
    int before = threads();
    gort_wg_add(&wg, n);
    for (int i = 0; i < n; i++) {
        pair(sv[i]);
        cr_assert(eq(int, gort_go(blocked_reader, (void *)(intptr_t)sv[i][0]),
                     0));
    }
    gort_sleep(GORT_MS(300)); /* all of them reach their read and park */
    int during = threads();
    fprintf(stderr, "hook: %d readers blocked: threads %d -> %d\n", n, before,
            during);
    cr_assert(lt(int, during - before, 16));
    for (int i = 0; i < n; i++)
        cr_assert(eq(long, (long)write(sv[i][1], "r", 1), 1L));
    gort_wg_wait(&wg);
    for (int i = 0; i < n; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
    free(sv);
    return 0;
}

Test(hook, blocked_socket_reads_hold_no_thread_at_1_proc)
{
    run(1, readers_main, NULL);
}

/* child_sees forks a child that reports whether fd's O_NONBLOCK is set. */
static int child_sees(int fd)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit((fcntl(fd, F_GETFL) & O_NONBLOCK) ? 1 : 0);
    int st = 0;
    GORT_SYSCALL(waitpid(pid, &st, 0));
    bool exited = WIFEXITED(st);
    cr_assert(exited);
    return WEXITSTATUS(st);
}

static int nonblock_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    char b;
    /* The user's O_NONBLOCK: EAGAIN at once, on every fd of the file. */
    cr_assert(eq(int, fcntl(sv[0], F_SETFL, O_NONBLOCK), 0));
    errno = 0;
    cr_assert(eq(long, (long)read(sv[0], &b, 1), -1L));
    cr_assert(eq(int, errno, EAGAIN));
    int d = dup(sv[0]);
    cr_assert(ge(int, d, 0));
    cr_assert(ne(int, fcntl(d, F_GETFL) & O_NONBLOCK, 0));
    errno = 0;
    cr_assert(eq(long, (long)recv(d, &b, 1, 0), -1L));
    cr_assert(eq(int, errno, EAGAIN));
    cr_assert(eq(int, child_sees(sv[0]), 1));
    /* Cleared through the dup: a read of the original blocks (parks), and
     * while it waits neither fd nor a forked child sees the runtime's
     * own non-blocking mode. */
    cr_assert(eq(int, fcntl(d, F_SETFL, 0), 0));
    gort_wg_add(&wg, 1);
    cr_assert(eq(int, gort_go(blocked_reader, (void *)(intptr_t)sv[0]), 0));
    gort_sleep(GORT_MS(100));
    cr_assert(eq(int, fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0));
    cr_assert(eq(int, fcntl(d, F_GETFL) & O_NONBLOCK, 0));
    cr_assert(eq(int, child_sees(d), 0));
    cr_assert(eq(long, (long)write(sv[1], "r", 1), 1L));
    gort_wg_wait(&wg);
    close(d);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

Test(hook, users_nonblock_flag_is_kept_across_dup_and_fork)
{
    run(2, nonblock_main, NULL);
}

static int timeo_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    struct timeval tv = {0, 100000};
    cr_assert(
        eq(int, setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0));
    cr_assert(
        eq(int, setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0));
    char b;
    int64_t t0 = gort_now();
    errno = 0;
    cr_assert(eq(long, (long)read(sv[0], &b, 1), -1L));
    cr_assert(eq(int, errno, EAGAIN));
    int64_t took = gort_now() - t0;
    cr_assert(ge(i64, took, GORT_MS(90)));
    cr_assert(lt(i64, took, GORT_S(10)));
    /* SO_SNDTIMEO: a write larger than the socket buffers returns what it
     * wrote once the timeout passes, the next one EAGAIN. */
    size_t big = 8 << 20;
    char *buf = calloc(1, big);
    cr_assert(buf != NULL);
    ssize_t w = write(sv[1], buf, big);
    cr_assert(gt(long, (long)w, 0L));
    cr_assert(lt(long, (long)w, (long)big));
    errno = 0;
    cr_assert(eq(long, (long)send(sv[1], buf, big, 0), -1L));
    cr_assert(eq(int, errno, EAGAIN));
    free(buf);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

Test(hook, so_rcvtimeo_and_so_sndtimeo_end_waits_with_eagain)
{
    run(1, timeo_main, NULL);
}

static void closed_reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b;
    errno = 0;
    CHECK_EQ(read(fd, &b, 1), -1L);
    CHECK_EQ(errno, EBADF);
    gort_wg_done(&wg);
}

static void closed_poller(void *arg)
{
    struct pollfd p = {.fd = (int)(intptr_t)arg, .events = POLLIN};
    CHECK_EQ(poll(&p, 1, -1), 1);
    CHECK(p.revents & POLLNVAL);
    gort_wg_done(&wg);
}

static int close_main(void *arg)
{
    (void)arg;
    int sv[2], sp[2];
    pair(sv);
    pair(sp);
    gort_wg_add(&wg, 2);
    cr_assert(eq(int, gort_go(closed_reader, (void *)(intptr_t)sv[0]), 0));
    cr_assert(eq(int, gort_go(closed_poller, (void *)(intptr_t)sp[0]), 0));
    gort_sleep(GORT_MS(100));
    cr_assert(eq(int, close(sv[0]), 0));
    cr_assert(eq(int, close(sp[0]), 0));
    gort_wg_wait(&wg);
    close(sv[1]);
    close(sp[1]);
    return 0;
}

Test(hook, close_wakes_a_blocked_reader_and_poller_with_ebadf)
{
    run(1, close_main, NULL);
}

/* Bad input on a goroutine: a closed fd, a number never opened, a file,
 * and a socket's number reused for a pipe behind the hook's back. */
static int badfd_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    /* Closed, and high: no other thread's open gets the number back. */
    int fd = fcntl(sv[0], F_DUPFD, 5000);
    cr_assert(ge(int, fd, 5000));
    close(fd);
    close(sv[0]);
    char b;
    struct sockaddr_un_ {
        sa_family_t f;
        char p[8];
    } sa = {AF_UNIX, "x"};
    int bad[] = {fd, 1 << 20, -1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int f = bad[i];
        errno = 0;
        cr_assert(eq(long, (long)read(f, &b, 1), -1L));
        cr_assert(eq(int, errno, EBADF));
        errno = 0;
        cr_assert(eq(long, (long)send(f, "x", 1, 0), -1L));
        cr_assert(eq(int, errno, EBADF));
        errno = 0;
        cr_assert(eq(int, connect(f, (struct sockaddr *)&sa, sizeof sa), -1));
        cr_assert(eq(int, errno, EBADF));
        errno = 0;
        cr_assert(eq(int, accept(f, NULL, NULL), -1));
        cr_assert(eq(int, errno, EBADF));
        errno = 0;
        cr_assert(eq(int, close(f), -1));
        cr_assert(eq(int, errno, EBADF));
        if (f >= 0) {
            struct pollfd p = {.fd = f, .events = POLLIN};
            cr_assert(eq(int, poll(&p, 1, 100), 1));
            cr_assert(ne(int, p.revents & POLLNVAL, 0));
        }
    }
    /* A file: read works (in the hand-off), recv says ENOTSOCK. */
    int pf[2];
    cr_assert(eq(int, pipe(pf), 0));
    errno = 0;
    cr_assert(eq(long, (long)recv(pf[0], &b, 1, 0), -1L));
    cr_assert(eq(int, errno, ENOTSOCK));
    /* sv[1] registered by a parked read, then its number taken by the
     * pipe without the hook seeing it: read and write still work. */
    int s2[2];
    pair(s2);
    gort_wg_add(&wg, 1);
    cr_assert(eq(int, gort_go(blocked_reader, (void *)(intptr_t)s2[0]), 0));
    gort_sleep(GORT_MS(50));
    cr_assert(eq(long, (long)write(s2[1], "r", 1), 1L));
    gort_wg_wait(&wg);
    cr_assert(eq(long, syscall(SYS_dup3, pf[0], s2[0], 0), (long)s2[0]));
    cr_assert(eq(long, (long)write(pf[1], "p", 1), 1L));
    cr_assert(eq(long, (long)read(s2[0], &b, 1), 1L));
    cr_assert(eq(int, b, 'p'));
    close(s2[0]);
    close(s2[1]);
    close(pf[0]);
    close(pf[1]);
    close(sv[1]);
    return 0;
}

Test(hook, bad_fds_get_libc_errors_on_a_goroutine)
{
    run(1, badfd_main, NULL);
}

/* A thread of the program's own: libc's blocking read with its timeout,
 * nothing of the poller's. */
static void *plain_reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b;
    errno = 0;
    ssize_t r = read(fd, &b, 1);
    return (void *)(intptr_t)(r == -1 && errno == EAGAIN);
}

static int plain_thread_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    struct timeval tv = {0, 50000};
    cr_assert(
        eq(int, setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0));
    pthread_t th;
    void *ok = NULL;
    cr_assert(eq(int, pthread_create(&th, NULL, plain_reader,
                                     (void *)(intptr_t)sv[0]),
                 0));
    gort_syscall_enter();
    pthread_join(th, &ok);
    gort_syscall_exit();
    cr_assert(eq(ptr, ok, (void *)1));
    close(sv[0]);
    close(sv[1]);
    return 0;
}

Test(hook, socket_calls_off_goroutines_are_libcs)
{
    run(1, plain_thread_main, NULL);
}

/* A poll waits on the poller wired: the goroutine comes back on the
 * thread it parked on (hiredis keeps &errno across its poll), while the
 * busy goroutines below keep both Ps and other threads turning. */
static atomic_int spin_stop;

static void spinner(void *arg)
{
    (void)arg;
    while (!atomic_load(&spin_stop))
        gort_yield();
    gort_wg_done(&wg);
}

static void poll_writer(void *arg)
{
    gort_sleep(GORT_MS(30));
    CHECK_EQ(write((int)(intptr_t)arg, "w", 1), 1L);
}

static int poll_thread_main(void *arg)
{
    (void)arg;
    atomic_store(&spin_stop, 0);
    gort_wg_add(&wg, 2);
    for (int i = 0; i < 2; i++)
        cr_assert(eq(int, gort_go(spinner, NULL), 0));
    int sv[2];
    pair(sv);
    for (int i = 0; i < 20; i++) {
        long before = syscall(SYS_gettid);
        cr_assert(eq(int, gort_go(poll_writer, (void *)(intptr_t)sv[1]), 0));
        struct pollfd p = {.fd = sv[0], .events = POLLIN};
        cr_assert(eq(int, poll(&p, 1, 10000), 1));
        cr_assert(eq(long, syscall(SYS_gettid), before));
        char b;
        cr_assert(eq(long, (long)read(sv[0], &b, 1), 1L));
    }
    atomic_store(&spin_stop, 1);
    gort_wg_wait(&wg);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

Test(hook, poll_resumes_on_the_thread_it_parked_on_at_2_procs)
{
    run(2, poll_thread_main, NULL);
}

/* ---- connect and accept on the poller ---------------------------------- */

static void acceptor(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    int c = accept(lfd, NULL, NULL); /* parks until the connect below */
    CHECK(c >= 0);
    char b = 0;
    CHECK_EQ(read(c, &b, 1), 1L);
    CHECK_EQ(b, 'c');
    CHECK_EQ(write(c, "a", 1), 1L);
    close(c);
    gort_wg_done(&wg);
}

static int connect_main(void *arg)
{
    (void)arg;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(ge(int, lfd, 0));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert(eq(int, bind(lfd, (struct sockaddr *)&sa, len), 0));
    cr_assert(eq(int, listen(lfd, 16), 0));
    cr_assert(eq(int, getsockname(lfd, (struct sockaddr *)&sa, &len), 0));
    /* A blocking accept with SO_RCVTIMEO: EAGAIN after it, as libc. */
    struct timeval tv = {0, 50000};
    cr_assert(
        eq(int, setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0));
    errno = 0;
    cr_assert(eq(int, accept(lfd, NULL, NULL), -1));
    cr_assert(eq(int, errno, EAGAIN));
    tv.tv_usec = 0;
    cr_assert(
        eq(int, setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0));
    gort_wg_add(&wg, 1);
    cr_assert(eq(int, gort_go(acceptor, (void *)(intptr_t)lfd), 0));
    gort_sleep(GORT_MS(50)); /* the acceptor parks in accept */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(ge(int, c, 0));
    cr_assert(eq(int, connect(c, (struct sockaddr *)&sa, len), 0));
    cr_assert(eq(int, fcntl(c, F_GETFL) & O_NONBLOCK, 0));
    cr_assert(eq(long, (long)write(c, "c", 1), 1L));
    char b = 0;
    cr_assert(eq(long, (long)read(c, &b, 1), 1L));
    cr_assert(eq(int, b, 'a'));
    gort_wg_wait(&wg);
    close(c);
    close(lfd);
    /* Nobody listens there now: libc's ECONNREFUSED. */
    c = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    cr_assert(eq(int, connect(c, (struct sockaddr *)&sa, len), -1));
    cr_assert(eq(int, errno, ECONNREFUSED));
    close(c);
    return 0;
}

Test(hook, blocking_connect_and_accept_wait_on_the_poller)
{
    run(1, connect_main, NULL);
}

/* ---- getaddrinfo on the pool --------------------------------------------- */

static void resolver(void *arg)
{
    (void)arg;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    CHECK_EQ(getaddrinfo("127.0.0.1", "6379", &hints, &res), 0);
    if (res) {
        struct sockaddr_in *in = (struct sockaddr_in *)res->ai_addr;
        CHECK_EQ(ntohs(in->sin_port), 6379);
        freeaddrinfo(res);
    }
    hints.ai_flags |= AI_NUMERICHOST; /* fails without asking a server */
    CHECK_EQ(getaddrinfo("no such host", NULL, &hints, &res), EAI_NONAME);
    gort_wg_done(&wg);
}

static int gai_main(void *arg)
{
    (void)arg;
    int n = SCALE3(200, 50, 20);
    int before = threads();
    gort_wg_add(&wg, n);
    for (int i = 0; i < n; i++)
        cr_assert(eq(int, gort_go(resolver, NULL), 0));
    gort_wg_wait(&wg);
    /* The pool's threads, at most 4, not one per lookup. */
    cr_assert(le(int, threads() - before, 4 + 4));
    return 0;
}

Test(hook, getaddrinfo_runs_on_a_bounded_pool)
{
    run(1, gai_main, NULL);
}

/* ---- errno from Debian's hiredis at several Ps --------------------------- */

static atomic_int churn_stop;

/* churner sets errno to other values on whatever thread it runs on. It
 * parks between rounds rather than yielding: a P kept busy by yield loops
 * runs its timers late (under TSan the 50 ms timeouts below fired after
 * a second), and those timers are the SO_RCVTIMEO deadlines. */
static void churner(void *arg)
{
    (void)arg;
    char b;
    while (!atomic_load(&churn_stop)) {
        (void)!read(-1, &b, 1); /* EBADF */
        gort_sleep(GORT_MS(1));
    }
    gort_wg_done(&wg);
}

static gort_wg timeo_wg;

/* A command past its timeout: hiredis reads errno after a hooked read
 * that parked on the poller and says libc's EAGAIN. */
static void redis_timeout_worker(void *arg)
{
    (void)arg;
    redisContext *c = redisConnectUnix(redis_sock);
    CHECK(c && !c->err);
    if (c && !c->err) {
        struct timeval tv = {0, 50000};
        CHECK_EQ(redisSetTimeout(c, tv), REDIS_OK);
        /* The server would answer after 5 s; the timeout comes first. */
        redisReply *r = redisCommand(c, "BLPOP empty:%llu 5", gort_id());
        CHECK(r == NULL);
        CHECK_EQ(c->err, REDIS_ERR_IO);
        CHECK(strcmp(c->errstr, strerror(EAGAIN)) == 0);
        if (strcmp(c->errstr, strerror(EAGAIN)) != 0)
            fprintf(stderr, "hook: hiredis said \"%s\"\n", c->errstr);
        freeReplyObject(r);
    }
    redisFree(c);
    gort_wg_done(&timeo_wg);
}

static int redis_errno_main(void *arg)
{
    (void)arg;
    int n = SCALE3(100, 30, 10), nchurn = 4;
    atomic_store(&churn_stop, 0);
    gort_wg_add(&wg, nchurn);
    for (int i = 0; i < nchurn; i++)
        cr_assert(eq(int, gort_go(churner, NULL), 0));
    gort_wg_add(&timeo_wg, n);
    for (int i = 0; i < n; i++)
        cr_assert(eq(int, gort_go(redis_timeout_worker, NULL), 0));
    gort_wg_wait(&timeo_wg);
    atomic_store(&churn_stop, 1);
    gort_wg_wait(&wg);
    return 0;
}

Test(hook, hiredis_reads_libc_errno_after_parked_reads_at_1_2_4_procs,
     .init = start_redis, .fini = stop_redis)
{
    for (int procs = 1; procs <= 4; procs *= 2)
        run(procs, redis_errno_main, NULL);
}
