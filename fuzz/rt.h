/*
 * rt.h: the runtime side of the fuzz targets that run goroutines (chan.c,
 * sync.c). One gort_run lasts the whole fuzzing session, started on its
 * own thread at the first input; each input's function runs in its main
 * goroutine, which waits for the next on an eventfd registered with the
 * poller. A gort_run per input would cost a few milliseconds (threads,
 * stacks) and cap a target near 150 inputs a second; this way the same
 * runtime also carries its caches and timers from input to input, as a
 * long-lived program does. Two Ps, on the two CPUs of the CI machine.
 * An input must leave no goroutine behind.
 * Included by one file only.
 */
#include <gort.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int efd;
    unsigned long posted, done; /* inputs handed over, inputs finished */
    void (*fn)(void);
} rt = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
        .efd = -1};

static int rt_main(void *arg)
{
    (void)arg;
    if (gort_fd_register(rt.efd) != 0)
        abort();
    for (;;) {
        uint64_t n;
        if (gort_read(rt.efd, &n, sizeof n) != (ssize_t)sizeof n)
            abort();
        rt.fn();
        pthread_mutex_lock(&rt.mu);
        rt.done++;
        pthread_cond_signal(&rt.cv);
        pthread_mutex_unlock(&rt.mu);
    }
    return 0;
}

static void *rt_thread(void *arg)
{
    (void)arg;
    int rc = gort_run(rt_main, NULL);
    fprintf(stderr, "fuzz: gort_run returned %d\n", rc);
    abort();
}

/* rt_stall tells a target's wait loop that nothing moved for 30 s
 * (progress: a counter its goroutines bump); generous, as a loaded CI
 * machine may hold a thread off its CPU for long. */
struct rt_stall {
    int seen;
    int64_t since;
};

static bool rt_stalled(struct rt_stall *st, int progress)
{
    int64_t now = gort_now();
    if (st->since == 0 || progress != st->seen) {
        st->seen = progress;
        st->since = now;
    }
    return now - st->since > GORT_MS(30000);
}

/* rt_call runs fn in the runtime's main goroutine and waits for it. */
static void rt_call(void (*fn)(void))
{
    if (rt.efd < 0) {
        pthread_t t;
        gort_maxprocs(2); /* two Ps: goroutines really run in parallel */
        rt.efd = eventfd(0, EFD_CLOEXEC);
        if (rt.efd < 0 || pthread_create(&t, NULL, rt_thread, NULL) != 0)
            abort();
    }
    pthread_mutex_lock(&rt.mu);
    rt.fn = fn;
    unsigned long want = ++rt.posted;
    uint64_t one = 1;
    if (write(rt.efd, &one, sizeof one) != (ssize_t)sizeof one)
        abort();
    while (rt.done != want)
        pthread_cond_wait(&rt.cv, &rt.mu);
    pthread_mutex_unlock(&rt.mu);
}
