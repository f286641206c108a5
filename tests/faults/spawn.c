/*
 * spawn.c: the fault driver's goroutine and channel program
 * (tests/faults/run.sh). Consumers drain a buffered channel that
 * producers fill, send their sums on an unbuffered one, and main collects
 * them with selects; the producers are started both with gort_go and
 * gort_go_copy. Every error return is reported (prog.h) after the
 * goroutines already started are wound down.
 */
#include "prog.h"

#include <errno.h>
#include <stdint.h>

const char *prog_name = "spawn";

enum { NCONS = 4, NPROD = 48, PER = 32 };

static gort_chan *work, *sums;
static gort_wg producers;

static void consumer(void *arg)
{
    (void)arg;
    long sum = 0, v;
    while (gort_chan_recv(work, &v))
        sum += v;
    gort_chan_send(sums, &sum);
}

static void produce(long base)
{
    for (long i = 0; i < PER; i++) {
        long v = base + i;
        gort_chan_send(work, &v);
        if (i % 8 == 0)
            gort_yield();
    }
    gort_wg_done(&producers);
}

static void producer(void *arg) { produce((long)(intptr_t)arg); }
static void producer_copy(void *arg) { produce(*(long *)arg); }

/* collect receives n sums, with a select against a nil case and a
 * never-ready channel as a real program's shutdown case would be. */
static long collect(int n, gort_chan *never)
{
    long total = 0;
    for (int i = 0; i < n; i++) {
        long s;
        bool ok;
        int k = gort_select((gort_select_case[]){GORT_RECV(never, NULL, NULL),
                                                 GORT_RECV(NULL, NULL, NULL),
                                                 GORT_RECV(sums, &s, &ok)},
                            3);
        if (k != 2 || !ok)
            return -1;
        total += s;
    }
    return total;
}

static int spawn_main(void *arg)
{
    (void)arg;
    int rc = 0, ncons = 0, nprod = 0;
    work = gort_chan_make(sizeof(long), 4);
    sums = gort_chan_make(sizeof(long), 0);
    gort_chan *never = gort_chan_make(sizeof(long), 1);
    if (work == NULL || sums == NULL || never == NULL) {
        rc = report("gort_chan_make", -ENOMEM);
        goto out;
    }
    for (; ncons < NCONS; ncons++) {
        int err = gort_go(consumer, NULL);
        if (err != 0) {
            rc = report("gort_go", err);
            break;
        }
    }
    for (; ncons > 0 && nprod < NPROD; nprod++) {
        long base = (long)nprod * PER;
        gort_wg_add(&producers, 1);
        int err = nprod % 2 ? gort_go_copy(producer_copy, &base, sizeof base)
                            : gort_go(producer, (void *)(intptr_t)base);
        if (err != 0) {
            gort_wg_done(&producers);
            rc = report(nprod % 2 ? "gort_go_copy" : "gort_go", err);
            break;
        }
    }
    gort_wg_wait(&producers);
    gort_chan_close(work);
    long n = (long)nprod * PER;
    long want = n * (n - 1) / 2, got = collect(ncons, never);
    if (got != want) {
        fprintf(stderr, "spawn: FAIL: sum %ld, want %ld\n", got, want);
        rc = 1;
    }
out:
    gort_chan_free(work);
    gort_chan_free(sums);
    gort_chan_free(never);
    return rc;
}

int main(void) { return main_of(spawn_main); }
