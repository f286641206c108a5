/*
 * test_sysbatch.c: the system-call batcher (netpoll/sysbatch.c): socket
 * reads and writes of many goroutines sharing io_uring submissions, the
 * results of gort_sys_read / gort_sys_write against their system calls,
 * deadlines and close around batched calls, and GORT_DEBUG=batch=0.
 *
 * Pairs are AF_UNIX socketpairs made goroutine-aware with
 * gort_fd_register, so no ports or client processes are involved.
 * "Batched" is asserted from gort_stats: calls that went through the ring
 * outnumber the io_uring_enter calls that completed them. The binary's
 * own syscall(2) can fail the N-th io_uring_enter, for the probe's tests.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gort.h>

#include "helpers/harness.h"

#if defined(__SANITIZE_THREAD__)
#define PAIRS 100 /* every live goroutine is a TSan fiber */
#else
#define PAIRS 600 /* beyond the ring's 256 slots */
#endif
#define ROUNDS 20
#define MSG 48


/* ---- A failing io_uring_enter --------------------------------------------- */

/* This binary's syscall(2) stands in front of libc's (the executable's
 * definition wins for the libgort.a objects linked into it). When
 * fail_enter is N > 0, the N-th io_uring_enter fails with EAGAIN, as the
 * fault driver (make check-faults, docs/faults.md) makes it fail. Other
 * calls go to the kernel directly: a static link has no libc syscall
 * to find with dlsym. */
static _Atomic int fail_enter, enters;

static long raw_syscall(long nr, const long a[6])
{
    long ret;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = a[3];
    register long r8 __asm__("r8") = a[4];
    register long r9 __asm__("r9") = a[5];
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10),
                       "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a[0];
    register long x1 __asm__("x1") = a[1];
    register long x2 __asm__("x2") = a[2];
    register long x3 __asm__("x3") = a[3];
    register long x4 __asm__("x4") = a[4];
    register long x5 __asm__("x5") = a[5];
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    ret = x0;
#else
#error "test_sysbatch: raw_syscall needs this architecture's trap"
#endif
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

/* Six arguments are read whatever the caller passed, as libc's syscall(2)
 * loads six registers: the sixth comes from the caller's stack, which
 * ASan would report as an underflow when fewer were passed. */
__attribute__((no_sanitize_address)) long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    int n = atomic_load(&fail_enter);
    if (nr == __NR_io_uring_enter && n > 0 &&
        atomic_fetch_add(&enters, 1) + 1 == n) {
        errno = EAGAIN;
        return -1;
    }
    return raw_syscall(nr, a);
}

/* uring_usable: whether this kernel lets us make an io_uring at all; when
 * it does, the batcher must be on (unless GORT_DEBUG turned it off). */
static bool uring_usable(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = (int)syscall(__NR_io_uring_setup, 4, &p);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void mkpair(int *a, int *b)
{
    int sv[2];
    cr_assert(eq(int, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                 0));
    cr_assert(eq(int, gort_fd_register(sv[0]), 0));
    cr_assert(eq(int, gort_fd_register(sv[1]), 0));
    *a = sv[0];
    *b = sv[1];
}

static void fill(char *m, int id, int round)
{
    for (int j = 0; j < MSG; j++)
        m[j] = (char)(id * 131 + round * 31 + j * 7);
}

/* ---- Many goroutines' round trips ----------------------------------------- */

struct pair {
    int cfd, sfd, id;
};

static gort_wg wg;
static _Atomic long bad;

static ssize_t echo_cb(int fd, void *arg)
{
    char *buf = arg;
    ssize_t n = gort_sys_read(fd, buf, MSG);
    if (n > 0 && gort_write(fd, buf, (size_t)n) != n)
        return -EIO;
    return n;
}

static void server(void *arg)
{
    struct pair *p = arg;
    char buf[MSG];
    while (gort_read_with(p->sfd, echo_cb, buf) > 0)
        ;
    gort_close(p->sfd);
}

static void client(void *arg)
{
    struct pair *p = arg;
    char out[MSG], in[MSG];
    for (int r = 0; r < ROUNDS; r++) {
        fill(out, p->id, r);
        if (gort_write(p->cfd, out, MSG) != MSG)
            atomic_fetch_add(&bad, 1);
        size_t got = 0;
        while (got < MSG) {
            ssize_t n = gort_read(p->cfd, in + got, MSG - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got != MSG || memcmp(in, out, MSG) != 0)
            atomic_fetch_add(&bad, 1);
    }
    gort_shutdown(p->cfd, SHUT_WR);
    char c;
    if (gort_read(p->cfd, &c, 1) != 0) /* the server's close */
        atomic_fetch_add(&bad, 1);
    gort_close(p->cfd);
    gort_wg_done(&wg);
}

static int round_trips_main(void *arg)
{
    (void)arg;
    static struct pair pairs[PAIRS];
    raise_nofile();
    gort_wg_add(&wg, PAIRS);
    for (int i = 0; i < PAIRS; i++) {
        pairs[i].id = i;
        mkpair(&pairs[i].cfd, &pairs[i].sfd);
        cr_assert(eq(int, gort_go(server, &pairs[i]), 0));
        cr_assert(eq(int, gort_go(client, &pairs[i]), 0));
    }
    gort_wg_wait(&wg);
    cr_assert(eq(long, atomic_load(&bad), 0), "bad round trips");
    return 0;
}

static void expect_batching(bool want)
{
    gort_stats_t st;
    gort_stats(&st);
    if (!want || !uring_usable() || debug_off("batch")) {
        cr_assert(eq(u64, st.batched_calls, 0));
        cr_assert(eq(i32, st.batcher, 0));
        return;
    }
    cr_assert(eq(i32, st.batcher, 1), "io_uring works but the batcher is off");
    cr_assert(gt(u64, st.batched_calls, 2 * st.batch_flushes),
              "%llu calls in %llu flushes: not batched",
              (unsigned long long)st.batched_calls,
              (unsigned long long)st.batch_flushes);
    /* Each server reads whole messages: the next read after one waits for
     * its edge without a first try (the drained hint, netpoll/net.c). */
    if (st.batch_inq)
        cr_assert(gt(u64, st.drained_reads, 0),
                  "no read used the drained hint");
}

static int round_trips_and_stats_main(void *arg)
{
    round_trips_main(arg);
    expect_batching(*(bool *)arg);
    return 0;
}

Test(sysbatch, many_goroutines_round_trips_share_kernel_entries_procs_1)
{
    bool on = true;
    cr_assert(eq(int, run_rc(1, round_trips_and_stats_main, &on), 0));
}

/* The batcher's start-up probe makes three io_uring_enter calls. One that
 * failed in the second or third left its request in the ring, and the
 * first flush then reaped it as a batch's request at address 1 (found by
 * make check-faults). A failed probe must leave the batcher off and every
 * byte delivered. */
static void probe_enter_fails(int n)
{
    if (!uring_usable() || debug_off("batch"))
        return;
    atomic_store(&fail_enter, n);
    bool off = false;
    cr_assert(eq(int, run_rc(1, round_trips_and_stats_main, &off), 0));
    cr_assert(ge(int, atomic_load(&enters), n), "the probe made no call %d", n);
}

Test(sysbatch, a_probe_whose_second_kernel_entry_fails_turns_batching_off)
{
    probe_enter_fails(2);
}

Test(sysbatch, a_probe_whose_third_kernel_entry_fails_turns_batching_off)
{
    probe_enter_fails(3);
}

Test(sysbatch, many_goroutines_round_trips_lose_no_byte_procs_8)
{
    bool on = true;
    cr_assert(eq(int, run_rc(8, round_trips_and_stats_main, &on), 0));
}

Test(sysbatch, batch_off_makes_direct_calls_with_the_same_results)
{
    debug_set("batch=0");
    bool on = false;
    cr_assert(eq(int, run_rc(2, round_trips_and_stats_main, &on), 0));
}

/* ---- gort_sys_read / gort_sys_write results ------------------------------- */

static _Atomic bool stop_spinning;

/* spinner keeps its P's run queue non-empty, so the calls under test take
 * the batched path rather than the direct one. */
static void spinner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_spinning))
        gort_yield();
    gort_wg_done(&wg);
}

static void check_sys_calls(void)
{
    int a, b;
    mkpair(&a, &b);
    char buf[8];
    cr_assert(eq(long, gort_sys_read(a, buf, sizeof buf), -EAGAIN));
    cr_assert(eq(long, gort_sys_write(b, "abc", 3), 3));
    cr_assert(eq(long, gort_sys_read(a, buf, sizeof buf), 3));
    cr_assert(eq(int, memcmp(buf, "abc", 3), 0));
    cr_assert(eq(long, gort_sys_read(a, buf, 0), 0));
    cr_assert(eq(int, gort_shutdown(b, SHUT_WR), 0));
    cr_assert(eq(long, gort_sys_read(a, buf, sizeof buf), 0)); /* EOF */
    cr_assert(eq(int, gort_close(a), 0));
    /* The peer is gone: EPIPE, and no SIGPIPE kills us. */
    cr_assert(eq(long, gort_sys_write(b, "x", 1), -EPIPE));
    cr_assert(eq(int, gort_close(b), 0));
    /* Never opened: the plain call's EBADF. Not b's number, now closed:
     * another thread may take it (the one gort_run starts to read the
     * traceback tables opens the program's files). */
    cr_assert(eq(long, gort_sys_read(INT_MAX, buf, 1), -EBADF));
    cr_assert(eq(long, gort_sys_write(-1, "x", 1), -EBADF));
    /* Not a registered socket: a pipe gets plain read(2)/write(2). */
    int pfd[2];
    cr_assert(eq(int, pipe(pfd), 0));
    cr_assert(eq(long, gort_sys_write(pfd[1], "pq", 2), 2));
    cr_assert(eq(long, gort_sys_read(pfd[0], buf, sizeof buf), 2));
    close(pfd[0]);
    close(pfd[1]);
}

static int sys_calls_main(void *arg)
{
    (void)arg;
    check_sys_calls(); /* alone on the P: direct calls */
    gort_stats_t before, after;
    gort_stats(&before);
    atomic_store(&stop_spinning, false);
    gort_wg_add(&wg, 2);
    gort_go(spinner, NULL);
    gort_go(spinner, NULL);
    check_sys_calls(); /* with company: batched calls */
    gort_stats(&after);
    atomic_store(&stop_spinning, true);
    gort_wg_wait(&wg);
    if (uring_usable())
        cr_assert(gt(u64, after.batched_calls, before.batched_calls),
                  "the calls beside runnable goroutines were not batched");
    return 0;
}

Test(sysbatch, sys_read_and_sys_write_return_what_the_system_call_returns)
{
    cr_assert(eq(int, run_rc(1, sys_calls_main, NULL), 0));
}

/* ---- Deadlines and close around batched calls ----------------------------- */

enum { WAITERS = 64 };
static _Atomic int timed_out, closed_out;

static void deadline_reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char c;
    gort_set_read_deadline(fd, gort_now() + GORT_MS(30));
    if (gort_read(fd, &c, 1) == -ETIMEDOUT)
        atomic_fetch_add(&timed_out, 1);
    gort_wg_done(&wg);
}

static int deadline_main(void *arg)
{
    (void)arg;
    int a[WAITERS], b[WAITERS];
    atomic_store(&stop_spinning, false);
    gort_wg_add(&wg, WAITERS + 2);
    gort_go(spinner, NULL);
    gort_go(spinner, NULL);
    for (int i = 0; i < WAITERS; i++) {
        mkpair(&a[i], &b[i]);
        gort_go(deadline_reader, (void *)(intptr_t)a[i]);
    }
    while (atomic_load(&timed_out) < WAITERS)
        gort_sleep(GORT_MS(1));
    atomic_store(&stop_spinning, true);
    gort_wg_wait(&wg);
    for (int i = 0; i < WAITERS; i++) {
        gort_close(a[i]);
        gort_close(b[i]);
    }
    return 0;
}

Test(sysbatch, read_deadlines_expire_for_readers_beside_busy_goroutines)
{
    cr_assert(eq(int, run_rc(2, deadline_main, NULL), 0));
}

static void close_reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char c;
    ssize_t r;
    while ((r = gort_read(fd, &c, 1)) == 1)
        ;
    if (r == -EBADF)
        atomic_fetch_add(&closed_out, 1);
    gort_wg_done(&wg);
}

static void close_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    while (gort_sys_write(fd, "z", 1) == 1)
        gort_yield();
}

static int close_main(void *arg)
{
    (void)arg;
    int a[WAITERS], b[WAITERS];
    gort_wg_add(&wg, WAITERS);
    for (int i = 0; i < WAITERS; i++) {
        mkpair(&a[i], &b[i]);
        gort_go(close_reader, (void *)(intptr_t)a[i]);
        gort_go(close_writer, (void *)(intptr_t)b[i]);
    }
    gort_sleep(GORT_MS(20));
    for (int i = 0; i < WAITERS; i++)
        cr_assert(eq(int, gort_close(a[i]), 0));
    gort_wg_wait(&wg);
    cr_assert(eq(int, atomic_load(&closed_out), WAITERS));
    for (int i = 0; i < WAITERS; i++)
        gort_close(b[i]); /* its writer now fails and ends */
    return 0;
}

Test(sysbatch, close_wakes_every_reader_amid_batched_reads_and_writes)
{
    cr_assert(eq(int, run_rc(2, close_main, NULL), 0));
}

/* ---- The drained hint (netpoll/net.c) ------------------------------------ */

static void spinners_start(void)
{
    atomic_store(&stop_spinning, false);
    gort_wg_add(&wg, 2);
    gort_go(spinner, NULL);
    gort_go(spinner, NULL);
}

static void spinners_stop(void)
{
    atomic_store(&stop_spinning, true);
    gort_wg_wait(&wg);
}

static void idle_reader(void *arg)
{
    char c;
    (void)gort_read((int)(intptr_t)arg, &c, 1); /* until the close */
}

/*
 * After a read that emptied the socket, the next read waits for an edge
 * instead of trying. The edge of data that came in between may already
 * have been taken by the poller while nobody waited (rg = ready): that
 * read must use it, not drop it as a plain read's prepare does, or it
 * would wait for an edge that never comes (here: until its deadline).
 */
static int drained_main(void *arg)
{
    (void)arg;
    int a, b, c, d;
    mkpair(&a, &b);
    mkpair(&c, &d);
    /* A goroutine parked on the poller, so the idle P blocks in epoll_wait
     * and takes b's edge while nobody reads b. */
    gort_go(idle_reader, (void *)(intptr_t)c);
    gort_stats_t before, after;
    gort_stats(&before);
    char buf[64];
    cr_assert(eq(long, gort_write(a, "first", 5), 5));
    spinners_start(); /* company on the P: the read is batched */
    cr_assert(eq(long, gort_read(b, buf, sizeof buf), 5));
    spinners_stop();
    cr_assert(eq(long, gort_write(a, "second", 6), 6));
    gort_sleep(GORT_MS(20)); /* the poller takes b's edge meanwhile */
    gort_set_read_deadline(b, gort_now() + GORT_S(5));
    cr_assert(eq(long, gort_read(b, buf, sizeof buf), 6),
              "the edge that came after the draining read was lost");
    cr_assert(eq(int, memcmp(buf, "second", 6), 0));
    gort_stats(&after);
    if (after.batch_inq)
        cr_assert(gt(u64, after.drained_reads, before.drained_reads),
                  "the read after a draining read still tried first");

    /* And a read after a partial one, with data left, does not wait: a
     * 4-byte read of 12 reports data behind it. */
    static const char twelve[] = "abcdefghijkl";
    cr_assert(eq(long, gort_write(a, twelve, 12), 12));
    spinners_start();
    for (int i = 0; i < 3; i++) {
        cr_assert(eq(long, gort_read(b, buf, 4), 4));
        cr_assert(eq(int, memcmp(buf, &twelve[4 * i], 4), 0));
    }
    spinners_stop();
    gort_set_read_deadline(b, 0);
    gort_close(a);
    gort_close(b);
    gort_close(c);
    gort_close(d);
    return 0;
}

Test(sysbatch, read_after_a_draining_read_keeps_the_edge_that_came_meanwhile)
{
    cr_assert(eq(int, run_rc(1, drained_main, NULL), 0));
}

/* A datagram read takes one datagram and leaves the next, whatever the
 * kernel says about the rest: the hint is for stream sockets only. */
static int dgram_main(void *arg)
{
    (void)arg;
    int sv[2];
    cr_assert(eq(int, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv),
                 0));
    cr_assert(eq(int, gort_fd_register(sv[0]), 0));
    cr_assert(eq(int, gort_fd_register(sv[1]), 0));
    for (int i = 0; i < 3; i++)
        cr_assert(eq(long, gort_write(sv[1], "dg", 2), 2));
    gort_set_read_deadline(sv[0], gort_now() + GORT_S(5));
    spinners_start();
    char buf[64];
    for (int i = 0; i < 3; i++)
        cr_assert(eq(long, gort_read(sv[0], buf, sizeof buf), 2),
                  "datagram %d", i);
    spinners_stop();
    gort_close(sv[0]);
    gort_close(sv[1]);
    return 0;
}

Test(sysbatch, datagram_reads_never_wait_for_an_edge_while_datagrams_wait)
{
    cr_assert(eq(int, run_rc(1, dgram_main, NULL), 0));
}
