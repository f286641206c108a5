/*
 * signalctx.c: gort_signal_notify_ctx, Go's signal.NotifyContext: a
 * context canceled when one of the given signals arrives, on top of
 * gort_signal_notify (chan/signal.c) and gort_ctx (context.c).
 *
 * One watcher goroutine per context waits for the first of: a signal on
 * the context's own channel (buffered 1, as Go's), or the context's end.
 * A signal cancels the context with cause -EINTR.
 *
 * Invariants: refs counts the watcher and the stop handle, and the last
 * to let go frees the channel; stop unhooks the channel from delivery
 * (gort_signal_stop) before it lets go, so the channel is never freed
 * while a signal may still be sent to it.
 * Locking: none of its own.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ctx.h"

struct gort_signal_ctx {
    _Atomic int refs;  /* the watcher's and the stop handle's */
    gort_ctx *ctx;     /* a reference of our own */
    gort_chan *ch;     /* int, buffered 1: gets the signals */
};

static void put(gort_signal_ctx *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    gort_ctx_release(s->ctx);
    gort_chan_free(s->ch);
    free(s);
}

static void watch(void *arg)
{
    gort_signal_ctx *s = arg;
    int sig;
    gort_select_case cases[2] = {
        GORT_RECV(s->ch, &sig, NULL),
        GORT_RECV(gort_ctx_done(s->ctx), NULL, NULL),
    };
    if (gort_select(cases, 2) == 0)
        gort_ctx_cancel_cause(s->ctx, -EINTR);
    put(s);
}

gort_ctx *gort_signal_notify_ctx(gort_ctx *parent, const int *sigs, int n,
                                 gort_signal_ctx **stop)
{
    if (stop == NULL)
        return NULL;
    *stop = NULL;
    gort_signal_ctx *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    atomic_init(&s->refs, 2);
    s->ctx = gort_ctx_with_cancel(parent);
    s->ch = gort_chan_make(sizeof(int), 1);
    if (s->ctx == NULL || s->ch == NULL ||
        gort_signal_notify(s->ch, sigs, n) != 0)
        goto fail;
    if (gort_go(watch, s) != 0) {
        gort_signal_stop(s->ch);
        goto fail;
    }
    *stop = s;
    return gort_ctx_retain(s->ctx);
fail:
    if (s->ctx)
        gort_ctx_release(s->ctx);
    if (s->ch)
        gort_chan_free(s->ch);
    free(s);
    return NULL;
}

void gort_signal_ctx_stop(gort_signal_ctx *s)
{
    if (s == NULL)
        return;
    gort_ctx_cancel(s->ctx); /* ends the watcher */
    gort_signal_stop(s->ch);
    put(s);
}
