/*
 * hang.c: a program with Go's classic pipeline bug, for the walk-through
 * in docs/debugging.md. Two workers send their results on an unbuffered
 * channel, but main waits for the workers to finish before it reads any
 * result: the workers block in their send, main in the WaitGroup.
 *
 *   hang          every goroutine blocks: the runtime reports a deadlock
 *                 and prints each goroutine's stack (exit 2)
 *   hang -tick    a heartbeat goroutine keeps a timer pending, so the
 *                 runtime cannot call it a deadlock: the program hangs
 *                 until SIGQUIT (kill -QUIT, or Ctrl-\) dumps it, or gdb
 *                 looks inside
 *   hang -crash   a worker also stores its result through a NULL pointer:
 *                 Go's nil-dereference panic (exit 2)
 *
 * The fix is the one Go's is: read the results in a goroutine of their
 * own, or make the results channel as large as the number of jobs.
 */
#include <gort.h>

#include <stdio.h>
#include <string.h>

enum { JOBS = 4, WORKERS = 2 };

static gort_chan *jobs, *results;
static gort_wg wg;
static bool crash;
static int *last; /* -crash leaves it NULL */

static int square(int v)
{
    return v * v;
}

static void worker(void *arg)
{
    (void)arg;
    int job;
    while (gort_chan_recv(jobs, &job)) {
        int r = square(job);
        if (crash)
            *last = r; /* SIGSEGV: last is NULL */
        gort_chan_send(results, &r); /* blocks: nobody receives yet */
    }
    gort_wg_done(&wg);
}

static void heartbeat(void *arg)
{
    (void)arg;
    for (;;)
        gort_sleep(GORT_S(1));
}

static int run(void *arg)
{
    bool tick = arg != NULL;
    jobs = gort_chan_make(sizeof(int), JOBS);
    results = gort_chan_make(sizeof(int), 0);
    if (tick)
        gort_go(heartbeat, NULL);
    for (int i = 0; i < WORKERS; i++) {
        gort_wg_add(&wg, 1);
        gort_go(worker, NULL);
    }
    for (int i = 1; i <= JOBS; i++)
        gort_chan_send(jobs, &i);
    gort_chan_close(jobs);
    gort_wg_wait(&wg); /* the bug: waits before reading results */
    int sum = 0, r;
    while (gort_chan_recv(results, &r))
        sum += r;
    printf("sum %d\n", sum);
    return 0;
}

int main(int argc, char **argv)
{
    bool tick = argc > 1 && strcmp(argv[1], "-tick") == 0;
    crash = argc > 1 && strcmp(argv[1], "-crash") == 0;
    return gort_run(run, tick ? (void *)1 : NULL);
}
