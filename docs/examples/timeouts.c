/*
 * timeouts.c: two slow results, one that misses its 50 ms deadline and
 * one that makes its 300 ms one, and a ticker that counts three ticks.
 * A port of timeouts.go with gort_select_timeout (Go's `case
 * <-time.After(d)` with nothing to free), gort_tick and gort_wall_of
 * (the wall-clock reading of a tick);
 * docs/porting-from-go.md counts its lines beside the Go program's.
 */
#include <gort.h>
#include <gort/typed.h>
#include <stdio.h>

typedef const char *str;
GORT_CHAN_DECLARE(strch, str);

struct slow_args {
    int64_t d;
    str msg;
    strch_sendonly out;
};

static void slow(void *arg)
{
    struct slow_args *a = arg;
    gort_sleep(a->d);
    strch_sendonly_send(a->out, a->msg);
    strch_sendonly_free(a->out); /* the goroutine's own reference */
}

static void wait_for(str msg, int64_t timeout, str timeout_msg)
{
    strch c = strch_make(1);
    struct slow_args a = {GORT_MS(100), msg,
                          strch_sendonly_retain(strch_sender(c))};
    gort_go_copy(slow, &a, sizeof a);
    str res;
    gort_select_case cs[] = {strch_recv_case(c, &res, NULL)};
    if (gort_select_timeout(cs, 1, timeout) == 0)
        printf("%s\n", res);
    else
        printf("%s\n", timeout_msg);
    strch_free(c); /* slow holds its own reference; its late send lands
                    * in the buffer and never blocks, as in Go */
}

static int main_fn(void *arg)
{
    (void)arg;
    wait_for("result 1", GORT_MS(50), "timeout 1");
    wait_for("result 2", GORT_MS(300), "timeout 2");
    gort_chan *tick = gort_tick(GORT_MS(10));
    for (int i = 1; i <= 3; i++) {
        int64_t t;
        gort_chan_recv(tick, &t);
        printf("tick %d late by %s\n", i,
               gort_wall_now() - gort_wall_of(t) < GORT_S(1) ? "< 1s" : "more");
    }
    return 0;
}

int main(void) { return gort_run(main_fn, NULL); }
