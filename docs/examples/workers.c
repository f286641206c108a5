/*
 * workers.c: a pool of three workers squares the numbers 1..9 sent on a
 * jobs channel; main closes jobs, waits for the pool, and sums the
 * results. A port of workers.go with typed channels (<gort/typed.h>),
 * by-value goroutine arguments (gort_wg_go_copy) and GORT_CHAN_RANGE;
 * docs/porting-from-go.md counts its lines beside the Go program's.
 */
#include <gort.h>
#include <gort/typed.h>
#include <stdio.h>

GORT_CHAN_DECLARE(intch, int);

struct worker_args {
    int id;
    intch_recvonly jobs;
    intch_sendonly results;
};

static void worker(void *arg)
{
    struct worker_args *a = arg;
    GORT_CHAN_RANGE(int, j, a->jobs.c)
        intch_sendonly_send(a->results, j * j);
}

static int main_fn(void *arg)
{
    (void)arg;
    intch jobs = intch_make(9), results = intch_make(9);
    gort_wg wg = GORT_WG_INIT;
    for (int w = 1; w <= 3; w++) {
        struct worker_args a = {w, intch_receiver(jobs), intch_sender(results)};
        gort_wg_go_copy(&wg, worker, &a, sizeof a);
    }
    for (int j = 1; j <= 9; j++)
        intch_send(jobs, j);
    intch_close(jobs);
    gort_wg_wait(&wg);
    intch_close(results);
    int sum = 0;
    GORT_CHAN_RANGE(int, r, results.c)
        sum += r;
    printf("sum of squares: %d\n", sum);
    intch_free(jobs);
    intch_free(results);
    return 0;
}

int main(void) { return gort_run(main_fn, NULL); }
