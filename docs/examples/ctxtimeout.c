/*
 * ctxtimeout.c: a request bounded by a context's deadline, and one that
 * its caller cancels with a cause: the C port of the Go program in
 * docs/porting-from-go.md ("Context"), line for line where C allows.
 *
 *   make && build/default/examples/ctxtimeout
 *   fast: done after 10ms
 *   slow: abandoned: context deadline exceeded
 *   canceled: abandoned: Interrupted system call
 */
#include <stdio.h>

#include <gort.h>

struct req {
    gort_ctx *ctx;
    int64_t d;
    gort_chan *out;
};

/* slow_request "works" for r->d unless r->ctx ends first. */
static void slow_request(void *arg)
{
    struct req *r = arg;
    char msg[64];
    if (gort_ctx_sleep(r->ctx, r->d) == 0)
        snprintf(msg, sizeof msg, "done after %lldms",
                 (long long)(r->d / GORT_MS(1)));
    else
        snprintf(msg, sizeof msg, "abandoned: %s",
                 gort_strerror(gort_ctx_cause(r->ctx)));
    gort_chan_send(r->out, msg);
}

static void start(gort_ctx *ctx, int64_t d, gort_chan *out)
{
    struct req r = {ctx, d, out};
    gort_go_copy(slow_request, &r, sizeof r);
}

static int main_fn(void *arg)
{
    (void)arg;
    char msg[64];
    gort_chan *out = gort_chan_make(sizeof msg, 0);
    gort_ctx *ctx = gort_ctx_with_timeout(gort_ctx_background(), GORT_MS(50));
    start(ctx, GORT_MS(10), out);
    gort_chan_recv(out, msg);
    printf("fast: %s\n", msg);
    start(ctx, GORT_S(1), out);
    gort_chan_recv(out, msg);
    printf("slow: %s\n", msg);
    gort_ctx_cancel(ctx);
    gort_ctx_release(ctx);

    gort_ctx *ctx2 = gort_ctx_with_cancel_cause(gort_ctx_background());
    start(ctx2, GORT_S(1), out);
    gort_sleep(GORT_MS(10));
    gort_ctx_cancel_cause(ctx2, -EINTR); /* Go: errors.New("user pressed ^C") */
    gort_chan_recv(out, msg);
    printf("canceled: %s\n", msg);
    gort_ctx_release(ctx2);
    gort_chan_free(out);
    return 0;
}

int main(void)
{
    return gort_run(main_fn, NULL);
}
