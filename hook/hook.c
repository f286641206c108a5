/*
 * hook.c: libgort-hook, the opt-in library that lets unmodified C code
 * and libraries make blocking libc calls on goroutines without wrapping
 * them (issue 18, item 2; a first step: hand-off and timers, not yet the
 * netpoller).
 *
 * Linked into a program (libgort-hook.a before libc, or libgort-hook.so
 * ahead of libc), its definitions below take the place of libc's for the
 * program and every shared library it loads. On a goroutine running its
 * own code (gort__hook_may_wrap):
 *  - the I/O and waiting calls (read, write, readv, writev, recv, send,
 *    recvfrom, sendto, recvmsg, sendmsg, connect, accept, accept4, poll
 *    and select with a timeout, getaddrinfo) run libc's call inside the
 *    system-call hand-off, as GORT_SYSCALL would: the P goes to another
 *    thread while the call blocks. The fd's own flags decide blocking
 *    (O_NONBLOCK, SO_RCVTIMEO and SO_SNDTIMEO work as in libc, since the
 *    hook changes none of them), and results and errno are libc's;
 *  - the sleeps (sleep, usleep, nanosleep, clock_nanosleep on
 *    CLOCK_MONOTONIC or CLOCK_REALTIME) become gort_sleep, a timer;
 *    arguments libc rejects are rejected the same way, a signal never
 *    ends them early, and *rem is zeroed.
 * Elsewhere (a thread of the program's own, g0, sysmon, the runtime's own
 * calls, calls already inside gort_syscall_enter/exit) every call goes
 * straight to libc's, found with dlsym(RTLD_NEXT).
 *
 * Thread-bound state: Debian builds its libraries without gort's const
 * fix, so a library may keep &errno or its own __thread addresses in a
 * register across the call it made. Each hooked call that may park is
 * made wired to its thread (gort_lock_os_thread): when it parks (a sleep,
 * or a hand-off whose P was taken), the goroutine resumes on the thread
 * it parked on, where those addresses still belong to it. The cost: a
 * sleeping or blocked goroutine holds its thread, as it did without the
 * hook.
 *
 * Not yet: sockets waiting on the netpoller (no thread held), poll and
 * select on the netpoller, getaddrinfo on a pool; the calls not listed.
 * Not part of libgort: the default path never sees it.
 *
 * See also: docs/blocking.md ("Hooks"), tests/test_hook.c.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <gort.h>

#define HOOK __attribute__((visibility("default")))

/* libc's own, resolved on first use (two threads racing resolve it to the
 * same address). */
static void *real(void **slot, const char *name)
{
    void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!f) {
        f = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f;
}

/* HANDOFF defines name(params) as libc's call, made inside the hand-off
 * and wired to the thread when the caller is a goroutine's own code. */
#define HANDOFF(ret, name, params, args)                                       \
    HOOK ret name params                                                       \
    {                                                                          \
        static void *slot_;                                                    \
        ret(*libc_) params = (ret(*) params)real(&slot_, #name);               \
        if (!gort__hook_may_wrap())                                            \
            return libc_ args;                                                 \
        gort_lock_os_thread();                                                 \
        gort_syscall_enter();                                                  \
        ret r_ = libc_ args;                                                   \
        gort_syscall_exit(); /* keeps errno */                                 \
        gort_unlock_os_thread();                                               \
        return r_;                                                             \
    }

HANDOFF(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n))
HANDOFF(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n))
HANDOFF(ssize_t, readv, (int fd, const struct iovec *iov, int cnt),
        (fd, iov, cnt))
HANDOFF(ssize_t, writev, (int fd, const struct iovec *iov, int cnt),
        (fd, iov, cnt))
HANDOFF(ssize_t, recv, (int fd, void *buf, size_t n, int flags),
        (fd, buf, n, flags))
HANDOFF(ssize_t, send, (int fd, const void *buf, size_t n, int flags),
        (fd, buf, n, flags))
HANDOFF(ssize_t, recvfrom,
        (int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
         socklen_t *len),
        (fd, buf, n, flags, sa, len))
HANDOFF(ssize_t, sendto,
        (int fd, const void *buf, size_t n, int flags,
         const struct sockaddr *sa, socklen_t len),
        (fd, buf, n, flags, sa, len))
HANDOFF(ssize_t, recvmsg, (int fd, struct msghdr *msg, int flags),
        (fd, msg, flags))
HANDOFF(ssize_t, sendmsg, (int fd, const struct msghdr *msg, int flags),
        (fd, msg, flags))
HANDOFF(int, connect, (int fd, const struct sockaddr *sa, socklen_t len),
        (fd, sa, len))
HANDOFF(int, accept, (int fd, struct sockaddr *sa, socklen_t *len),
        (fd, sa, len))
HANDOFF(int, accept4, (int fd, struct sockaddr *sa, socklen_t *len, int fl),
        (fd, sa, len, fl))
HANDOFF(int, getaddrinfo,
        (const char *node, const char *service, const struct addrinfo *hints,
         struct addrinfo **res),
        (node, service, hints, res))

/* poll and select that cannot block go straight to libc: no hand-off for
 * a readiness check. */
static void *real_poll, *real_select;

HOOK int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    int (*libc)(struct pollfd *, nfds_t, int) =
        (int (*)(struct pollfd *, nfds_t, int))real(&real_poll, "poll");
    if (timeout == 0 || !gort__hook_may_wrap())
        return libc(fds, n, timeout);
    gort_lock_os_thread();
    gort_syscall_enter();
    int r = libc(fds, n, timeout);
    gort_syscall_exit();
    gort_unlock_os_thread();
    return r;
}

HOOK int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    int (*libc)(int, fd_set *, fd_set *, fd_set *, struct timeval *) =
        (int (*)(int, fd_set *, fd_set *, fd_set *, struct timeval *))real(
            &real_select, "select");
    if ((tv && tv->tv_sec == 0 && tv->tv_usec == 0) || !gort__hook_may_wrap())
        return libc(n, r, w, e, tv);
    gort_lock_os_thread();
    gort_syscall_enter();
    int res = libc(n, r, w, e, tv);
    gort_syscall_exit();
    gort_unlock_os_thread();
    return res;
}

/* ---- Sleeps: timers ------------------------------------------------------ */

static void *real_nanosleep, *real_clock_nanosleep, *real_usleep, *real_sleep;

static bool bad_timespec(const struct timespec *ts)
{
    return ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000 || ts->tv_sec < 0;
}

static int64_t ns_of(const struct timespec *ts)
{
    if (ts->tv_sec >= INT64_MAX / 1000000000)
        return INT64_MAX;
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* wired_sleep parks the goroutine ns, resuming on the same thread. */
static void wired_sleep(int64_t ns)
{
    gort_lock_os_thread();
    gort_sleep(ns);
    gort_unlock_os_thread();
}

HOOK int nanosleep(const struct timespec *req, struct timespec *rem)
{
    int (*libc)(const struct timespec *, struct timespec *) =
        (int (*)(const struct timespec *, struct timespec *))real(
            &real_nanosleep, "nanosleep");
    if (!req || !gort__hook_may_wrap())
        return libc(req, rem);
    if (bad_timespec(req)) {
        errno = EINVAL;
        return -1;
    }
    wired_sleep(ns_of(req));
    if (rem)
        *rem = (struct timespec){0, 0};
    return 0;
}

HOOK int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
                         struct timespec *rem)
{
    int (*libc)(clockid_t, int, const struct timespec *, struct timespec *) =
        (int (*)(clockid_t, int, const struct timespec *, struct timespec *))
            real(&real_clock_nanosleep, "clock_nanosleep");
    if (!req || !gort__hook_may_wrap())
        return libc(clk, flags, req, rem);
    if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME) {
        /* A CPU-time clock: libc's, in the hand-off. */
        gort_lock_os_thread();
        gort_syscall_enter();
        int r = libc(clk, flags, req, rem);
        gort_syscall_exit();
        gort_unlock_os_thread();
        return r;
    }
    if (bad_timespec(req))
        return EINVAL; /* returned, not in errno, as libc does */
    int64_t ns = ns_of(req);
    if (flags & TIMER_ABSTIME) {
        struct timespec now;
        clock_gettime(clk, &now);
        ns -= ns_of(&now);
    } else if (rem) {
        *rem = (struct timespec){0, 0};
    }
    wired_sleep(ns); /* ns <= 0 returns at once */
    return 0;
}

HOOK int usleep(useconds_t us)
{
    int (*libc)(useconds_t) = (int (*)(useconds_t))real(&real_usleep, "usleep");
    if (!gort__hook_may_wrap())
        return libc(us);
    wired_sleep(GORT_US(us));
    return 0;
}

HOOK unsigned sleep(unsigned s)
{
    unsigned (*libc)(unsigned) =
        (unsigned (*)(unsigned))real(&real_sleep, "sleep");
    if (!gort__hook_may_wrap())
        return libc(s);
    wired_sleep(GORT_S(s));
    return 0;
}
