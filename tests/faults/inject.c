/*
 * inject.c: the fault injector of `make check-faults` (tests/faults/run.sh,
 * docs/faults.md). Never part of libgort: the driver's build copies
 * libgort.a with every reference to the calls below renamed to fault_NAME
 * (objcopy --redefine-syms=tests/faults/syms), so only gort's own calls
 * come here; the program's, libc's and the sanitizer's go straight to libc.
 *
 *   GORT_FAULT=CALL:N[:ERRNO]   the N-th call (from 1) to CALL fails, once,
 *                               with ERRNO (a number; default per call below)
 *
 * CALL is one of the names in `calls` below; "malloc" counts every
 * allocation call (malloc, calloc, realloc, aligned_alloc, posix_memalign)
 * as one sequence; "io_uring_setup" and "io_uring_enter" are the raw
 * syscall(2) numbers (netpoll/sysbatch.c makes them through syscall(2)).
 * When the fault fires, one line goes to stderr:
 *
 *   gort-fault: CALL call N fails with ERRNO
 *
 * which is how the driver tells a run that hit the fault from one that made
 * fewer than N calls. A malformed GORT_FAULT prints a line and exits 3.
 * GORT_FAULT_COUNTS=1 prints every call's count at exit.
 *
 * Invariants: each call's counter only grows (an atomic add per call, so
 * calls from several threads get distinct numbers); at most one call in a
 * run fails. No locks: this runs under gort's runtime locks and in its
 * signal-free startup paths, so it may only take atomics and write(2).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum call {
    C_MMAP, C_MUNMAP, C_MADVISE, C_MPROTECT, C_MALLOC, C_PTHREAD_CREATE,
    C_EPOLL_CREATE1, C_EPOLL_CTL, C_EVENTFD, C_TIMERFD_CREATE,
    C_IO_URING_SETUP, C_IO_URING_ENTER, C_ACCEPT, C_SOCKET, C_NCALLS
};

/* What each call fails with unless GORT_FAULT names an errno: the error
 * the kernel or libc gives when the resource behind it runs out. */
static const struct {
    const char *name;
    int err;
} calls[C_NCALLS] = {
    [C_MMAP] = {"mmap", ENOMEM},
    [C_MUNMAP] = {"munmap", ENOMEM},          /* a split over max_map_count */
    [C_MADVISE] = {"madvise", ENOMEM},
    [C_MPROTECT] = {"mprotect", ENOMEM},      /* likewise */
    [C_MALLOC] = {"malloc", ENOMEM},
    [C_PTHREAD_CREATE] = {"pthread_create", EAGAIN},
    [C_EPOLL_CREATE1] = {"epoll_create1", EMFILE},
    [C_EPOLL_CTL] = {"epoll_ctl", ENOSPC},    /* max_user_watches */
    [C_EVENTFD] = {"eventfd", EMFILE},
    [C_TIMERFD_CREATE] = {"timerfd_create", EMFILE},
    [C_IO_URING_SETUP] = {"io_uring_setup", ENOMEM},
    [C_IO_URING_ENTER] = {"io_uring_enter", EAGAIN},
    [C_ACCEPT] = {"accept", EMFILE},          /* accept and accept4 */
    [C_SOCKET] = {"socket", EMFILE},
};

static _Atomic long counts[C_NCALLS];
/* -2: GORT_FAULT not read yet; -1: no fault; else the call to fail. */
static _Atomic int target = -2;
static long target_n;
static int target_err;

static void die_usage(const char *v)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "gort-fault: GORT_FAULT=%s: want CALL:N[:ERRNO], N >= 1\n",
                     v);
    if (write(2, msg, (size_t)n) < 0)
        _exit(3);
    _exit(3);
}

/* parse reads GORT_FAULT once. Two threads may both parse it; they store
 * the same values. */
static int parse(void)
{
    int t = atomic_load_explicit(&target, memory_order_acquire);
    if (t != -2)
        return t;
    const char *v = getenv("GORT_FAULT");
    t = -1;
    if (v != NULL && *v != '\0') {
        const char *colon = strchr(v, ':');
        if (colon == NULL)
            die_usage(v);
        for (int i = 0; i < C_NCALLS; i++)
            if (strlen(calls[i].name) == (size_t)(colon - v) &&
                memcmp(calls[i].name, v, (size_t)(colon - v)) == 0)
                t = i;
        char *end;
        long n = strtol(colon + 1, &end, 10);
        long err = t >= 0 ? calls[t].err : 0;
        if (*end == ':')
            err = strtol(end + 1, &end, 10);
        if (t < 0 || n < 1 || *end != '\0' || err < 1 || err > 4095)
            die_usage(v);
        target_n = n;
        target_err = (int)err;
    }
    atomic_store_explicit(&target, t, memory_order_release);
    return t;
}

/* fails counts one call to c and says whether it is the one to fail; if so
 * it sets errno and reports the fault on stderr. */
static bool fails(enum call c)
{
    long n = atomic_fetch_add_explicit(&counts[c], 1, memory_order_relaxed) + 1;
    if (parse() != (int)c || n != target_n)
        return false;
    char msg[128];
    int len = snprintf(msg, sizeof msg, "gort-fault: %s call %ld fails with %d\n",
                       calls[c].name, n, target_err);
    if (write(2, msg, (size_t)len) < 0) {
        /* nothing to do: the driver then sees a run without the fault */
    }
    errno = target_err;
    return true;
}

/* GORT_FAULT_COUNTS=1 prints how many calls of each kind gort made, at
 * exit: the driver's measure of how far N goes for each call. */
__attribute__((destructor)) static void print_counts(void)
{
    const char *v = getenv("GORT_FAULT_COUNTS");
    if (v == NULL || strcmp(v, "1") != 0)
        return;
    char msg[512];
    int len = snprintf(msg, sizeof msg, "gort-fault: counts");
    for (int i = 0; i < C_NCALLS && len < (int)sizeof msg - 40; i++)
        len += snprintf(msg + len, sizeof msg - (size_t)len, " %s=%ld",
                        calls[i].name, atomic_load(&counts[i]));
    len += snprintf(msg + len, sizeof msg - (size_t)len, "\n");
    if (write(2, msg, (size_t)len) < 0) {
        /* nothing to do */
    }
}

void *fault_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return fails(C_MMAP) ? MAP_FAILED : mmap(addr, len, prot, flags, fd, off);
}

int fault_munmap(void *addr, size_t len)
{
    return fails(C_MUNMAP) ? -1 : munmap(addr, len);
}

int fault_madvise(void *addr, size_t len, int advice)
{
    return fails(C_MADVISE) ? -1 : madvise(addr, len, advice);
}

int fault_mprotect(void *addr, size_t len, int prot)
{
    return fails(C_MPROTECT) ? -1 : mprotect(addr, len, prot);
}

void *fault_malloc(size_t size)
{
    return fails(C_MALLOC) ? NULL : malloc(size);
}

void *fault_calloc(size_t n, size_t size)
{
    return fails(C_MALLOC) ? NULL : calloc(n, size);
}

void *fault_realloc(void *p, size_t size)
{
    return fails(C_MALLOC) ? NULL : realloc(p, size);
}

void *fault_aligned_alloc(size_t align, size_t size)
{
    return fails(C_MALLOC) ? NULL : aligned_alloc(align, size);
}

int fault_posix_memalign(void **p, size_t align, size_t size)
{
    return fails(C_MALLOC) ? ENOMEM : posix_memalign(p, align, size);
}

int fault_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                         void *(*fn)(void *), void *arg)
{
    return fails(C_PTHREAD_CREATE) ? target_err : pthread_create(t, attr, fn, arg);
}

int fault_epoll_create1(int flags)
{
    return fails(C_EPOLL_CREATE1) ? -1 : epoll_create1(flags);
}

int fault_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    return fails(C_EPOLL_CTL) ? -1 : epoll_ctl(epfd, op, fd, ev);
}

int fault_eventfd(unsigned int initval, int flags)
{
    return fails(C_EVENTFD) ? -1 : eventfd(initval, flags);
}

int fault_timerfd_create(int clockid, int flags)
{
    return fails(C_TIMERFD_CREATE) ? -1 : timerfd_create(clockid, flags);
}

int fault_accept(int fd, struct sockaddr *sa, socklen_t *len)
{
    return fails(C_ACCEPT) ? -1 : accept(fd, sa, len);
}

int fault_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    return fails(C_ACCEPT) ? -1 : accept4(fd, sa, len, flags);
}

int fault_socket(int domain, int type, int proto)
{
    return fails(C_SOCKET) ? -1 : socket(domain, type, proto);
}

/* syscall(2) takes up to six register-sized arguments; reading six is what
 * every syscall(2) forwarder does (unused ones are whatever the registers
 * hold, and the kernel ignores them). The sixth comes from the caller's
 * stack, which ASan would report as an underflow when fewer were passed. */
__attribute__((no_sanitize_address)) long fault_syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if ((nr == SYS_io_uring_setup && fails(C_IO_URING_SETUP)) ||
        (nr == SYS_io_uring_enter && fails(C_IO_URING_ENTER)))
        return -1;
    return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
