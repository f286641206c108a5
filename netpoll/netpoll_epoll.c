/*
 * netpoll_epoll.c: the Linux epoll backend (Go: netpoll_epoll.go), the five
 * calls of the contract in netpoll.h.
 *
 * Invariants:
 *  - Every fd is added once, for EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, with
 *    its tag as the event data; a tag is never 0, which marks the eventfd.
 *  - wakesig is 1 from a break until a blocking poll drains the eventfd, so
 *    a burst of breaks costs one write(2).
 *
 * Locking: none. epoll_ctl and epoll_wait are thread-safe; at most one M
 * polls with a non-zero delay at a time (the scheduler's contract).
 *
 * See also: netpoll.h, netpoll.c, docs/netpoll.md.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../runtime/runtime.h"
#include "netpoll.h"

#define EVENTS_PER_WAIT 128 /* Go: netpoll_epoll.go */
#define BREAK_TAG 0         /* event data of the eventfd */
#define NS_PER_MS 1000000

static int epfd = -1;
static int evfd = -1;
static _Atomic uint32_t wakesig;

int gort__netpoll_backend_init(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -errno;
    evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (evfd < 0) {
        int err = -errno;
        close(epfd);
        return err;
    }
    /* Level-triggered: a break seen by a non-blocking poll stays pending
     * for the next blocking one. */
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = BREAK_TAG};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) < 0) {
        int err = -errno;
        close(evfd);
        close(epfd);
        return err;
    }
    return 0;
}

int gort__netpoll_backend_open(int fd, uint64_t tag)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u64 = tag,
    };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int gort__netpoll_backend_close(int fd)
{
    struct epoll_event ev = {0}; /* kernels before 2.6.9 need non-NULL */
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) < 0 ? -errno : 0;
}

void gort__netpoll_backend_break(void)
{
    uint32_t zero = 0;
    /* CAS 0->1 dedupes concurrent breaks (Go: netpollWakeSig). */
    if (!atomic_compare_exchange_strong(&wakesig, &zero, 1))
        return;
    uint64_t one = 1;
    while (write(evfd, &one, sizeof one) < 0 && errno == EINTR) {
        /* retry; EAGAIN means a wake-up is already pending */
    }
}

/* wait_ms converts a delay to epoll_wait's milliseconds, rounding a
 * positive sub-millisecond delay up so it does not become a busy poll. */
static int wait_ms(int64_t delay)
{
    if (delay < 0)
        return -1;
    if (delay == 0)
        return 0;
    if (delay < NS_PER_MS)
        return 1;
    if (delay < (int64_t)1e15)
        return (int)(delay / NS_PER_MS);
    return 1000000000; /* about 11.5 days, as Go caps it */
}

void gort__netpoll_backend_poll(int64_t delay, struct gqueue *q)
{
    struct epoll_event events[EVENTS_PER_WAIT];
    int ms = wait_ms(delay);
    int n;
    for (;;) {
        n = epoll_wait(epfd, events, EVENTS_PER_WAIT, ms);
        if (n >= 0)
            break;
        if (errno != EINTR)
            gort__throw("netpoll: epoll_wait failed");
        if (ms > 0)
            return; /* the caller recomputes its timeout */
    }
    for (int i = 0; i < n; i++) {
        uint32_t ev = events[i].events;
        if (events[i].data.u64 == BREAK_TAG) {
            if (delay != 0) {
                uint64_t buf;
                while (read(evfd, &buf, sizeof buf) < 0 && errno == EINTR) {
                }
                atomic_store(&wakesig, 0);
            }
            continue;
        }
        int mode = 0;
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            mode |= POLL_READ;
        if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            mode |= POLL_WRITE;
        if (mode)
            gort__netpoll_ready(events[i].data.u64, mode, q);
    }
}
