/*
 * ratelimit.c: five queued requests served at most one per 20 ms tick of
 * a gort_tick limiter. A port of ratelimit.go with typed channels,
 * GORT_CHAN_RANGE and gort_tick; docs/porting-from-go.md counts its lines
 * beside the Go program's.
 */
#include <gort.h>
#include <gort/typed.h>
#include <stdio.h>

GORT_CHAN_DECLARE(intch, int);

static int main_fn(void *arg)
{
    (void)arg;
    intch requests = intch_make(5);
    for (int i = 1; i <= 5; i++)
        intch_send(requests, i);
    intch_close(requests);
    gort_chan *limiter = gort_tick(GORT_MS(20));
    int64_t start = gort_now();
    GORT_CHAN_RANGE(int, req, requests.c) {
        gort_chan_recv(limiter, NULL);
        printf("request %d\n", req);
    }
    printf("took at least 100ms: %s\n",
           gort_now() - start >= GORT_MS(100) ? "true" : "false");
    intch_free(requests);
    return 0;
}

int main(void) { return gort_run(main_fn, NULL); }
