/*
 * hook.c: libgort-hook, the opt-in library that lets unmodified C code
 * and libraries make blocking libc calls on goroutines without wrapping
 * them (docs/blocking.md, "Hooks"). This file: the overview, select and
 * the sleeps; sock.c: the socket calls and the fd table; gai.c:
 * getaddrinfo on a thread pool.
 *
 * Linked into a program (libgort-hook.a before libc, or libgort-hook.so
 * ahead of libc), its definitions take the place of libc's for the
 * program and every shared library it loads. On a goroutine running its
 * own code (gort__hook_may_wrap):
 *  - a socket's read, write, readv, writev, recv, send, recvfrom, sendto,
 *    recvmsg, sendmsg, connect, accept, accept4, and a poll of one socket
 *    for one direction, wait on gort's netpoller: the goroutine parks, no
 *    thread is held (sock.c), honouring the file's own O_NONBLOCK and
 *    SO_RCVTIMEO/SO_SNDTIMEO;
 *  - the same calls on files, pipes and other fds, select, and poll of
 *    several fds run libc's call inside the system-call hand-off: the P
 *    goes to another thread while the call blocks;
 *  - getaddrinfo runs on the hook's small thread pool while the goroutine
 *    parks (gai.c);
 *  - the sleeps (sleep, usleep, nanosleep, clock_nanosleep on
 *    CLOCK_MONOTONIC or CLOCK_REALTIME) become gort_sleep, a timer;
 *    arguments libc rejects are rejected the same way, a signal never
 *    ends them early, and *rem is zeroed;
 *  - close, dup, dup2, dup3, socket and socketpair keep sock.c's fd table
 *    right (close also takes the fd off the poller, on any thread).
 * Elsewhere (a thread of the program's own, g0, sysmon, the runtime's own
 * calls, calls already inside gort_syscall_enter/exit) every call goes
 * straight to libc's, found with dlsym(RTLD_NEXT).
 *
 * Thread-bound state: a hand-off, a sleep and poll's wait on the poller
 * are made wired to the thread (gort_lock_os_thread), so the goroutine
 * resumes where it started (Debian's hiredis keeps &errno across its
 * poll). The socket reads, writes, connect, accept and getaddrinfo are
 * not: wiring would hold a thread per waiting goroutine, the cost the
 * poller removes. There errno is set on the thread the call returns on,
 * which is right for every caller that takes &errno after the call;
 * docs/blocking.md ("Thread-bound state") says why the Debian-built
 * libraries the hook serves are such callers.
 * Not part of libgort: the default path never sees it.
 *
 * See also: docs/blocking.md ("Hooks"), tests/test_hook.c.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"

/* select waits in the hand-off: neither library the hook serves waits in
 * it, and an fd_set of several fds is not one poller wait. A zero timeout
 * (a readiness check) goes straight to libc. */
static void *real_select;

HOOK int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    int (*libc)(int, fd_set *, fd_set *, fd_set *, struct timeval *) =
        (int (*)(int, fd_set *, fd_set *, fd_set *, struct timeval *))real(
            &real_select, "select");
    if ((tv && tv->tv_sec == 0 && tv->tv_usec == 0) || !gort__hook_may_wrap())
        return libc(n, r, w, e, tv);
    return HANDOFF_CALL(libc(n, r, w, e, tv));
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
        return HANDOFF_CALL(libc(clk, flags, req, rem));
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
