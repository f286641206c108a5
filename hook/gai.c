/*
 * gai.c: libgort-hook's getaddrinfo: on a goroutine, the lookup runs on a
 * small pool of the hook's own threads while the goroutine parks, so it
 * never holds a P nor a thread of the scheduler's (Go: the cgo resolver's
 * calls are limited in number too, by a semaphore of 500).
 *
 * Invariants: at most GAI_THREADS pool threads exist; a request lives on
 * its goroutine's stack and the goroutine does not return before the
 * worker has finished with it (done, then the eventfd's write). Requests
 * are served in arrival order. A pool thread is not a goroutine, so the
 * calls glibc makes inside getaddrinfo go straight to libc.
 *
 * Locking: `mu` protects the queue and the thread counts; it is never
 * held across a lookup or a park.
 *
 * See also: hook.c, docs/blocking.md ("Hooks").
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"

#define GAI_THREADS 4
#define GAI_IDLE_S 10 /* an idle pool thread exits after this */

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
                      struct addrinfo **);
REAL(gai_fn, getaddrinfo)
typedef int (*close_fn)(int);
REAL(close_fn, close)

struct gai_req {
    const char *node, *service;
    const struct addrinfo *hints;
    struct addrinfo **res;
    int ret, err, efd;
    int done; /* __atomic: the worker sets it, the goroutine reads it */
    struct gai_req *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct gai_req *head, *tail;
static int nthreads, nidle;

/* next_req takes the oldest request, waiting GAI_IDLE_S at most; NULL
 * when the thread should exit. Caller holds mu. */
static struct gai_req *next_req(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += GAI_IDLE_S;
    while (!head) {
        nidle++;
        int r = pthread_cond_timedwait(&cv, &mu, &until);
        nidle--;
        if (r == ETIMEDOUT && !head)
            return NULL;
    }
    struct gai_req *q = head;
    head = q->next;
    if (!head)
        tail = NULL;
    return q;
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        struct gai_req *q = next_req();
        if (!q)
            break;
        pthread_mutex_unlock(&mu);
        q->ret = libc_getaddrinfo_fn()(q->node, q->service, q->hints, q->res);
        q->err = errno;
        int efd = q->efd; /* q may be gone once done is seen */
        __atomic_store_n(&q->done, 1, __ATOMIC_RELEASE);
        eventfd_write(efd, 1);
        pthread_mutex_lock(&mu);
    }
    nthreads--;
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* submit queues q, starting a pool thread if none is idle and the pool
 * is not full. 0 or an error number (no thread could start, none runs). */
static int submit(struct gai_req *q)
{
    int err = 0;
    pthread_mutex_lock(&mu);
    if (tail)
        tail->next = q;
    else
        head = q;
    tail = q;
    if (nidle > 0) {
        pthread_cond_signal(&cv);
    } else if (nthreads < GAI_THREADS) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        err = pthread_create(&t, &a, worker, NULL);
        pthread_attr_destroy(&a);
        if (err == 0)
            nthreads++;
        else if (nthreads > 0)
            err = 0; /* a running thread will get to it */
        else
            head = tail = NULL; /* q was alone: take it back */
    }
    pthread_mutex_unlock(&mu);
    return err;
}

HOOK int getaddrinfo(const char *node, const char *service,
                     const struct addrinfo *hints, struct addrinfo **res)
{
    gai_fn libc = libc_getaddrinfo_fn();
    if (!gort__hook_may_wrap())
        return libc(node, service, hints, res);
    struct gai_req q = {node, service, hints, res, 0, 0, -1, 0, NULL};
    q.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q.efd < 0 || gort_fd_register(q.efd) != 0 || submit(&q) != 0) {
        if (q.efd >= 0) {
            gort_fd_unregister(q.efd);
            libc_close_fn()(q.efd);
        }
        return HANDOFF_CALL(libc(node, service, hints, res));
    }
    /* Not wired, unlike poll's wait (sock.c): getaddrinfo reports its
     * errors in its return value (errno only for EAI_SYSTEM), and a wired
     * wait would hold a sleeping thread per lookup in flight. */
    while (!__atomic_load_n(&q.done, __ATOMIC_ACQUIRE))
        gort_fd_wait_read(q.efd);
    /* The worker's eventfd_write may still be under way: its count says
     * when it is done with the fd. */
    eventfd_t v;
    while (eventfd_read(q.efd, &v) != 0)
        gort_fd_wait_read(q.efd);
    gort_fd_unregister(q.efd);
    libc_close_fn()(q.efd);
    errno = q.err;
    return q.ret;
}
