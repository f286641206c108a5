/*
 * timer.c: the fault driver's timer program (tests/faults/run.sh): sleep,
 * After, a Timer stopped and reset, a Ticker, a func timer, a select with
 * a timeout, and sleepers on several goroutines. Every error return is
 * reported (prog.h) after the goroutines already started are wound down.
 */
#include "prog.h"

#include <errno.h>

const char *prog_name = "timer";

enum { NSLEEPERS = 8 };

static gort_wg sleepers;

static void sleeper(void *arg)
{
    int i = *(int *)arg;
    gort_sleep(GORT_MS(1 + i % 3));
}

static void fired(void *arg)
{
    long one = 1;
    gort_chan_send((gort_chan *)arg, &one); /* buffered: never parks */
}

static int channels(void)
{
    gort_chan *c = gort_after(GORT_MS(1));
    if (c == NULL)
        return report("gort_after", -ENOMEM);
    gort_chan_recv(c, NULL);
    gort_chan_free(c);

    gort_timer *t = gort_timer_new(GORT_MS(500));
    if (t == NULL)
        return report("gort_timer_new", -ENOMEM);
    gort_timer_stop(t);
    gort_timer_reset(t, GORT_MS(1));
    gort_chan_recv(gort_timer_chan(t), NULL);
    gort_timer_free(t);

    gort_ticker *tk = gort_ticker_new(GORT_MS(1));
    if (tk == NULL)
        return report("gort_ticker_new", -ENOMEM);
    for (int i = 0; i < 3; i++)
        gort_chan_recv(gort_ticker_chan(tk), NULL);
    gort_ticker_stop(tk);
    gort_ticker_free(tk);
    return 0;
}

static int funcs(void)
{
    gort_chan *done = gort_chan_make(sizeof(long), 1);
    if (done == NULL)
        return report("gort_chan_make", -ENOMEM);
    int rc = 0;
    gort_timer *t = gort_timer_func(GORT_MS(1), fired, done);
    if (t == NULL) {
        rc = report("gort_timer_func", -ENOMEM);
    } else {
        gort_chan_recv(done, NULL);
        gort_timer_free(t);
    }
    if (rc == 0) {
        int k = gort_select_timeout(
            (gort_select_case[]){GORT_RECV(done, NULL, NULL)}, 1, GORT_MS(2));
        if (k < 0 && k != GORT_SELECT_TIMEOUT)
            rc = report("gort_select_timeout", k);
    }
    gort_chan_free(done);
    return rc;
}

static int timer_main(void *arg)
{
    (void)arg;
    int rc = 0;
    gort_sleep(GORT_MS(1));
    for (int i = 0; i < NSLEEPERS && rc == 0; i++) {
        int err = gort_wg_go_copy(&sleepers, sleeper, &i, sizeof i);
        if (err != 0)
            rc = report("gort_wg_go_copy", err);
    }
    if (rc == 0)
        rc = channels();
    if (rc == 0)
        rc = funcs();
    gort_wg_wait(&sleepers);
    return rc;
}

int main(void) { return main_of(timer_main); }
