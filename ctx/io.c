/*
 * io.c: the calls that park, with a context (Go: the select on
 * ctx.Done() that ported code would write around each of them, and
 * net.Dialer.DialContext): gort_ctx_sleep, gort_ctx_select,
 * gort_dial_ctx, gort_read_ctx, gort_write_ctx.
 *
 * Sleep and select add ctx's done channel as one more select case. The
 * fd calls cannot: a goroutine parked on the poller waits on no channel.
 * They put a watcher (ctx.h) on ctx whose fire makes the parked goroutine
 * retry (gort__pd_wake), and their retry checks the context first. The
 * check happens after the watcher is linked and before every system call,
 * and cancel sets the error before it fires watchers, so a cancellation
 * is either seen by the check or wakes the wait: none is lost. Data is
 * never dropped: the check is before a read, never after one.
 *
 * Locking: none of its own; watchers fire under a ctx lock (ctx.h).
 *
 * See also: ctx/context.c, include/gort/context.h, netpoll/netpoll.c
 * (gort__pd_wake), netpoll/dial.c (gort__dial).
 */
#include <stdlib.h>
#include <string.h>

#include "../netpoll/netpoll.h"
#include "ctx.h"

/* ---- Sleep and select --------------------------------------------------- */

int gort_ctx_select(gort_ctx *ctx, gort_select_case *cases, int n)
{
    RT_ENTRY();
    if (ctx == NULL || n < 0 || n >= GORT_SELECT_MAX ||
        (cases == NULL && n > 0))
        return -EINVAL;
    gort_select_case stack[GORT_SELECT_STACK_CASES];
    gort_select_case *all = stack;
    if (n + 1 > GORT_SELECT_STACK_CASES &&
        (all = malloc((size_t)(n + 1) * sizeof *all)) == NULL)
        return -ENOMEM;
    if (n > 0)
        memcpy(all, cases, (size_t)n * sizeof *all);
    all[n] = GORT_RECV(gort_ctx_done(ctx), NULL, NULL);
    int i = gort_select(all, n + 1);
    if (all != stack)
        free(all);
    return i == n ? gort_ctx_err(ctx) : i;
}

int gort_ctx_sleep(gort_ctx *ctx, int64_t ns)
{
    RT_ENTRY();
    if (ctx == NULL)
        return -EINVAL;
    int err = gort_ctx_err(ctx);
    if (err != 0)
        return err;
    if (ns <= 0)
        return 0;
    if (gort_ctx_done(ctx) == NULL) {
        gort_sleep(ns); /* nothing can cut it short */
        return 0;
    }
    gort_timer *t = gort_timer_new(ns);
    if (t == NULL)
        return -ENOMEM;
    gort_select_case c[] = {
        GORT_RECV(gort_timer_chan(t), NULL, NULL),
        GORT_RECV(gort_ctx_done(ctx), NULL, NULL),
    };
    int i = gort_select(c, 2);
    gort_timer_free(t);
    return i == 0 ? 0 : gort_ctx_err(ctx);
}

/* ---- The fd calls ------------------------------------------------------- */

/* An fd call's watcher: fire wakes the call's waiter on fd. */
struct fdwatch {
    struct ctx_node node;
    gort_ctx *ctx;
    int fd;
    int mode;        /* POLL_READ or POLL_WRITE */
    const char *buf; /* the caller's buffer, for the callbacks */
    size_t n;
};

static void fdwatch_fire(struct ctx_node *n, int err, int cause)
{
    (void)err;
    (void)cause;
    struct fdwatch *w = (struct fdwatch *)(void *)n;
    gort__pd_wake(w->fd, w->mode);
}

static ssize_t try_read(int fd, void *arg)
{
    struct fdwatch *w = arg;
    int err = gort_ctx_err(w->ctx);
    if (err != 0)
        return err;
    return gort_sys_read(fd, (void *)w->buf, w->n);
}

static ssize_t try_write(int fd, void *arg)
{
    struct fdwatch *w = arg;
    int err = gort_ctx_err(w->ctx);
    if (err != 0)
        return err;
    return gort_sys_write(fd, w->buf, w->n);
}

ssize_t gort_read_ctx(gort_ctx *ctx, int fd, void *buf, size_t n)
{
    RT_ENTRY();
    if (ctx == NULL)
        return -EINVAL;
    struct fdwatch w = {.node.fire = fdwatch_fire, .ctx = ctx, .fd = fd,
                        .mode = POLL_READ, .buf = buf, .n = n};
    int err;
    gort_ctx *owner = gort__ctx_watch(ctx, &w.node, &err);
    if (err != 0)
        return err;
    if (n == 0) {
        gort__ctx_unwatch(owner, &w.node);
        return 0; /* as gort_read: nothing to wait for */
    }
    if (owner == NULL)
        return gort_read(fd, buf, n); /* ctx can never end: plain read */
    ssize_t r = gort_read_with(fd, try_read, &w);
    gort__ctx_unwatch(owner, &w.node);
    return r;
}

ssize_t gort_write_ctx(gort_ctx *ctx, int fd, const void *buf, size_t n)
{
    RT_ENTRY();
    if (ctx == NULL)
        return -EINVAL;
    struct fdwatch w = {.node.fire = fdwatch_fire, .ctx = ctx, .fd = fd,
                        .mode = POLL_WRITE};
    int err;
    gort_ctx *owner = gort__ctx_watch(ctx, &w.node, &err);
    if (err != 0)
        return err;
    if (owner == NULL)
        return gort_write(fd, buf, n);
    ssize_t r = 0;
    size_t off = 0;
    /* gort_write_with stops at the first partial write: go on until all
     * of buf is out, as gort_write does. */
    while (off < n) {
        w.buf = (const char *)buf + off;
        w.n = n - off;
        r = gort_write_with(fd, try_write, &w);
        if (r < 0)
            break;
        off += (size_t)r;
    }
    gort__ctx_unwatch(owner, &w.node);
    return r < 0 ? r : (ssize_t)n;
}

/* ---- Dial --------------------------------------------------------------- */

struct dialwatch {
    struct ctx_node node;
    gort_ctx *ctx;
    struct gort__dial_cancel dc;
};

static void dialwatch_fire(struct ctx_node *n, int err, int cause)
{
    (void)err;
    (void)cause;
    struct dialwatch *w = (struct dialwatch *)(void *)n;
    int fd = atomic_load(&w->dc.fd); /* seq_cst: after the error store */
    if (fd >= 0)
        gort__pd_wake(fd, POLL_WRITE);
}

static int dial_stop(void *arg)
{
    return gort_ctx_err(arg);
}

int gort_dial_ctx(gort_ctx *ctx, const char *network, const char *address)
{
    RT_ENTRY();
    if (ctx == NULL)
        return -EINVAL;
    struct dialwatch w = {.node.fire = dialwatch_fire, .ctx = ctx,
                          .dc = {.stop = dial_stop, .arg = ctx}};
    atomic_init(&w.dc.fd, -1);
    int err;
    gort_ctx *owner = gort__ctx_watch(ctx, &w.node, &err);
    if (err != 0)
        return err;
    int64_t deadline = 0;
    gort_ctx_deadline(ctx, &deadline);
    int fd = gort__dial(network, address, deadline,
                        owner != NULL ? &w.dc : NULL);
    gort__ctx_unwatch(owner, &w.node);
    /* The fd's deadline is ctx's: if it expired before ctx's own timer
     * ran, the dial still failed because of ctx's deadline. */
    if (fd == -ETIMEDOUT && deadline != 0 && gort__nanotime() >= deadline)
        fd = GORT_EDEADLINE;
    return fd;
}
