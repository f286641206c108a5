/*
 * context.c: gort_ctx, Go's package context: the tree of contexts,
 * cancellation and its propagation, deadlines on runtime timers, values,
 * after-functions, and the watchers other library code parks behind.
 *
 * Invariants:
 *  - A context holds one reference on its parent for its whole life, so
 *    every ancestor outlives it; `reg` (the nearest cancelable ancestor
 *    whose children list holds our node) is set before the context is
 *    returned and never changes.
 *  - err goes from 0 to its final value once, under mu, after cause; the
 *    release store lets gort_ctx_err and gort_ctx_cause read both without
 *    the lock. The done channel is closed by that same cancellation only.
 *  - A children list holds child contexts, after-function registrations
 *    and watchers (ctx.h). Canceling unlinks each one and fires it, still
 *    under mu, so whoever unlinks its own node under the same mu knows
 *    afterwards that fire has finished or will never run; that is what
 *    lets watchers live on stacks and lets a context free itself.
 *  - A child never outlives its parent's memory (it holds a reference),
 *    and a parent's list never names a freed child: the last release
 *    unlinks the child under the parent's lock before freeing it.
 *  - timer_armed: the deadline timer may still fire; the last release
 *    stops it and waits out a firing in flight (gort__timer_wait).
 *
 * Lock order: a context's mu before its descendants' (cancel recurses
 * down holding each), every ctx mu before channel locks (the done close)
 * and before timer locks (the stop). Nothing holding a channel, timer or
 * poll descriptor lock takes a ctx lock. A context takes its reg's mu
 * only while holding no mu of its own.
 *
 * Cancel recurses down the tree (one frame pair per level, under each
 * level's lock), so its stack use grows with the depth of the tree; a
 * deadline cancels on g0's stack (256 KiB), enough for chains of a few
 * thousand contexts, far beyond what request-scoped code builds.
 *
 * See also: include/gort/context.h, ctx/ctx.h, ctx/io.c, docs/api.md.
 */
#include <stdlib.h>

#include "ctx.h"

enum kind {
    K_ROOT,    /* background, todo: static, never canceled */
    K_CANCEL,  /* with_cancel, with_deadline */
    K_VALUE,   /* with_value: carries one key/value, delegates the rest */
    K_WITHOUT, /* without_cancel: values of the parent, nothing else */
};

struct gort_context {
    _Atomic int32_t refs;
    enum kind kind;
    gort_ctx *parent;           /* holds a reference; NULL for roots */
    const void *key;            /* K_VALUE */
    void *val;

    /* K_CANCEL only below. */
    struct lock mu;             /* guards the list, cause, the timer */
    _Atomic int32_t err;        /* 0 live; set once under mu (release) */
    int32_t cause;              /* written before err */
    gort_chan *done;            /* closed by the cancellation */
    struct ctx_node children;   /* circular list sentinel */
    gort_ctx *reg;              /* whose list holds `node`, or NULL */
    struct ctx_node node;       /* our entry in reg's list */
    int64_t deadline;           /* 0: none of its own */
    int32_t dl_cause;           /* cause when the deadline cancels */
    bool has_timer;             /* t was initialised */
    bool timer_armed;           /* t may still fire (mu) */
    struct timer t;
};

struct gort_ctx_after {
    struct ctx_node node;
    gort_ctx *ctx;              /* the registration's reference */
    gort_ctx *reg;              /* the list it is on, or NULL: never fires */
    void (*fn)(void *);
    void *arg;
};

static gort_ctx background = {.refs = 1, .kind = K_ROOT};
static gort_ctx todo = {.refs = 1, .kind = K_ROOT};

#define NODE_OWNER(n, type, field)                                           \
    ((type *)(void *)((char *)(n) - offsetof(type, field)))

/* ---- Lists (under the owner's mu) --------------------------------------- */

static void list_init(struct ctx_node *s)
{
    s->prev = s->next = s;
}

static void list_add(struct ctx_node *s, struct ctx_node *n)
{
    n->prev = s->prev;
    n->next = s;
    s->prev->next = n;
    s->prev = n;
}

static void list_del(struct ctx_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

/* ---- Lookups ------------------------------------------------------------ */

/* cancel_owner returns the nearest context at or above c that can be
 * canceled, or NULL if none (Go: parentCancelCtx; WithoutCancel stops it). */
static gort_ctx *cancel_owner(gort_ctx *c)
{
    while (c != NULL && c->kind == K_VALUE)
        c = c->parent;
    return c != NULL && c->kind == K_CANCEL ? c : NULL;
}

gort_ctx *gort_ctx_background(void)
{
    return &background;
}

gort_ctx *gort_ctx_todo(void)
{
    return &todo;
}

int gort_ctx_err(gort_ctx *ctx)
{
    gort_ctx *c = cancel_owner(ctx);
    /* load-acquire; pairs with the store-release in cancel. */
    return c ? atomic_load_explicit(&c->err, memory_order_acquire) : 0;
}

int gort_ctx_cause(gort_ctx *ctx)
{
    gort_ctx *c = cancel_owner(ctx);
    if (c == NULL || atomic_load_explicit(&c->err, memory_order_acquire) == 0)
        return 0;
    return c->cause; /* written before err, never again */
}

gort_chan *gort_ctx_done(gort_ctx *ctx)
{
    gort_ctx *c = cancel_owner(ctx);
    return c ? c->done : NULL;
}

bool gort_ctx_deadline(gort_ctx *ctx, int64_t *when)
{
    for (gort_ctx *c = ctx; c != NULL; c = c->parent) {
        if (c->kind == K_WITHOUT || c->kind == K_ROOT)
            break;
        if (c->kind == K_CANCEL && c->deadline != 0) {
            if (when)
                *when = c->deadline;
            return true;
        }
    }
    return false;
}

void *gort_ctx_value(gort_ctx *ctx, const void *key)
{
    for (gort_ctx *c = ctx; c != NULL; c = c->parent)
        if (c->kind == K_VALUE && c->key == key)
            return c->val;
    return NULL;
}

/* ---- Cancellation ------------------------------------------------------- */

/*
 * cancel ends c with err and cause (Go: cancelCtx.cancel): the first call
 * wins. Children and watchers fire under c->mu (ctx.h); detach unlinks c
 * from its reg, which a parent canceling c does itself.
 */
static void cancel(gort_ctx *c, bool detach, int err, int cause)
{
    gort__lock(&c->mu);
    if (atomic_load_explicit(&c->err, memory_order_relaxed) != 0) {
        gort__unlock(&c->mu);
        return;
    }
    c->cause = cause != 0 ? cause : err;
    /* store-release; pairs with the load-acquire in gort_ctx_err. */
    atomic_store_explicit(&c->err, err, memory_order_release);
    if (c->timer_armed) {
        gort__timer_stop(&c->t);
        c->timer_armed = false;
    }
    gort_chan_close(c->done);
    struct ctx_node *n;
    while ((n = c->children.next) != &c->children) {
        list_del(n);
        n->fire(n, err, c->cause);
    }
    gort__unlock(&c->mu);
    if (detach && c->reg != NULL) {
        gort__lock(&c->reg->mu);
        if (c->node.next != NULL)
            list_del(&c->node);
        gort__unlock(&c->reg->mu);
    }
}

/* child_fire: the parent of a child context was canceled. */
static void child_fire(struct ctx_node *n, int err, int cause)
{
    cancel(NODE_OWNER(n, gort_ctx, node), false, err, cause);
}

/* deadline_fire is the deadline timer's callback, on g0 with a P. */
static void deadline_fire(void *arg, uintptr_t seq, int64_t when)
{
    (void)seq;
    (void)when;
    gort_ctx *c = arg;
    cancel(c, true, GORT_EDEADLINE, c->dl_cause);
}

int gort_ctx_cancel_cause(gort_ctx *ctx, int cause)
{
    if (ctx == NULL || ctx->kind != K_CANCEL)
        return -EINVAL;
    gort__preempt_point();
    cancel(ctx, true, GORT_ECANCELED, cause);
    return 0;
}

int gort_ctx_cancel(gort_ctx *ctx)
{
    return gort_ctx_cancel_cause(ctx, 0);
}

/* ---- References --------------------------------------------------------- */

gort_ctx *gort_ctx_retain(gort_ctx *ctx)
{
    if (ctx != NULL && ctx->kind != K_ROOT)
        atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
    return ctx;
}

/* destroy frees c, whose last reference is gone: nobody can see it, and
 * its list is empty (children and registrations hold references). */
static void destroy(gort_ctx *c)
{
    if (c->kind == K_CANCEL) {
        gort__lock(&c->mu);
        if (c->timer_armed) {
            gort__timer_stop(&c->t);
            c->timer_armed = false;
        }
        gort__unlock(&c->mu);
        if (c->reg != NULL) {
            /* A cancel of reg in progress fires us under reg->mu; once
             * we hold it, reg no longer names us. */
            gort__lock(&c->reg->mu);
            if (c->node.next != NULL)
                list_del(&c->node);
            gort__unlock(&c->reg->mu);
        }
        if (c->has_timer)
            gort__timer_wait(&c->t); /* a firing in flight still uses c */
        gort_chan_free(c->done);
    }
    free(c);
}

void gort_ctx_release(gort_ctx *ctx)
{
    /* A loop, not recursion: a long chain goes with its last child. */
    while (ctx != NULL && ctx->kind != K_ROOT) {
        /* acq_rel: the last release sees every other holder's writes. */
        if (atomic_fetch_sub_explicit(&ctx->refs, 1,
                                      memory_order_acq_rel) != 1)
            return;
        gort_ctx *parent = ctx->parent;
        destroy(ctx);
        ctx = parent;
    }
}

/* ---- Constructors ------------------------------------------------------- */

static gort_ctx *ctx_alloc(gort_ctx *parent, enum kind kind)
{
    gort_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    atomic_init(&c->refs, 1);
    gort__lock_init(&c->mu, LOCKRANK_CTX);
    c->kind = kind;
    c->parent = gort_ctx_retain(parent);
    return c;
}

/* attach links c under its parent's cancel owner, or cancels it at once
 * if that owner is already done (Go: propagateCancel). */
static void attach(gort_ctx *c)
{
    gort_ctx *owner = cancel_owner(c->parent);
    if (owner == NULL)
        return;
    gort__lock(&owner->mu);
    int err = atomic_load_explicit(&owner->err, memory_order_relaxed);
    int cause = owner->cause;
    if (err == 0) {
        c->node.fire = child_fire;
        list_add(&owner->children, &c->node);
        c->reg = owner;
    }
    gort__unlock(&owner->mu);
    if (err != 0)
        cancel(c, false, err, cause);
}

static gort_ctx *new_cancel(gort_ctx *parent)
{
    gort_ctx *c = ctx_alloc(parent, K_CANCEL);
    if (c == NULL)
        return NULL;
    list_init(&c->children);
    if ((c->done = gort_chan_make(0, 0)) == NULL) {
        gort_ctx_release(c);
        return NULL;
    }
    attach(c);
    return c;
}

gort_ctx *gort_ctx_with_cancel(gort_ctx *parent)
{
    if (parent == NULL)
        return NULL;
    gort__preempt_point();
    return new_cancel(parent);
}

gort_ctx *gort_ctx_with_cancel_cause(gort_ctx *parent)
{
    return gort_ctx_with_cancel(parent);
}

gort_ctx *gort_ctx_with_deadline_cause(gort_ctx *parent, int64_t when,
                                       int cause)
{
    RT_ENTRY();
    if (parent == NULL)
        return NULL;
    int64_t cur;
    if (gort_ctx_deadline(parent, &cur) && cur <= when)
        return new_cancel(parent); /* the parent's deadline comes first */
    gort_ctx *c = new_cancel(parent);
    if (c == NULL)
        return NULL;
    c->deadline = when;
    c->dl_cause = cause;
    if (when <= gort__nanotime()) {
        cancel(c, true, GORT_EDEADLINE, cause);
        return c;
    }
    gort__timer_init(&c->t, deadline_fire, c);
    c->has_timer = true;
    gort__lock(&c->mu);
    if (atomic_load_explicit(&c->err, memory_order_relaxed) == 0) {
        gort__timer_reset(&c->t, when, 0, 0);
        c->timer_armed = true;
    }
    gort__unlock(&c->mu);
    return c;
}

gort_ctx *gort_ctx_with_deadline(gort_ctx *parent, int64_t when)
{
    return gort_ctx_with_deadline_cause(parent, when, 0);
}

/* timeout_when is now + ns, saturating (a huge timeout never wraps into
 * the past). */
static int64_t timeout_when(int64_t ns)
{
    int64_t now = gort__nanotime();
    if (ns <= 0)
        return now;
    return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

gort_ctx *gort_ctx_with_timeout_cause(gort_ctx *parent, int64_t ns,
                                      int cause)
{
    return gort_ctx_with_deadline_cause(parent, timeout_when(ns), cause);
}

gort_ctx *gort_ctx_with_timeout(gort_ctx *parent, int64_t ns)
{
    return gort_ctx_with_deadline_cause(parent, timeout_when(ns), 0);
}

gort_ctx *gort_ctx_with_value(gort_ctx *parent, const void *key, void *val)
{
    if (parent == NULL || key == NULL)
        return NULL;
    gort_ctx *c = ctx_alloc(parent, K_VALUE);
    if (c != NULL) {
        c->key = key;
        c->val = val;
    }
    return c;
}

gort_ctx *gort_ctx_without_cancel(gort_ctx *parent)
{
    return parent ? ctx_alloc(parent, K_WITHOUT) : NULL;
}

/* ---- Watchers and after-functions --------------------------------------- */

gort_ctx *gort__ctx_watch(gort_ctx *ctx, struct ctx_node *n, int *errp)
{
    *errp = 0;
    gort_ctx *owner = cancel_owner(ctx);
    if (owner == NULL)
        return NULL;
    gort__lock(&owner->mu);
    int err = atomic_load_explicit(&owner->err, memory_order_relaxed);
    if (err == 0)
        list_add(&owner->children, n);
    gort__unlock(&owner->mu);
    *errp = err;
    return err == 0 ? owner : NULL;
}

void gort__ctx_unwatch(gort_ctx *owner, struct ctx_node *n)
{
    if (owner == NULL)
        return;
    gort__lock(&owner->mu);
    if (n->next != NULL)
        list_del(n);
    gort__unlock(&owner->mu);
}

/* start_after runs an after-function in its own goroutine. From a thread
 * the runtime does not own there is no way to start one: that is fatal,
 * as a lost callback would be a silent hang. */
static void start_after(void (*fn)(void *), void *arg)
{
    if (gort_go(fn, arg) != 0)
        gort__throw("context: cannot start AfterFunc goroutine");
}

static void after_fire(struct ctx_node *n, int err, int cause)
{
    (void)err;
    (void)cause;
    struct gort_ctx_after *a = NODE_OWNER(n, struct gort_ctx_after, node);
    start_after(a->fn, a->arg);
}

gort_ctx_after *gort_ctx_after_func(gort_ctx *ctx, void (*fn)(void *),
                                    void *arg)
{
    if (ctx == NULL || fn == NULL)
        return NULL;
    struct gort_ctx_after *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->ctx = gort_ctx_retain(ctx);
    a->fn = fn;
    a->arg = arg;
    a->node.fire = after_fire;
    int err;
    a->reg = gort__ctx_watch(ctx, &a->node, &err);
    if (err != 0) {
        a->reg = cancel_owner(ctx); /* so stop reports false */
        start_after(fn, arg);
    }
    return a;
}

bool gort_ctx_after_stop(gort_ctx_after *a)
{
    if (a == NULL)
        return false;
    bool stopped = true; /* a context that is never canceled */
    if (a->reg != NULL) {
        gort__lock(&a->reg->mu);
        stopped = a->node.next != NULL;
        if (stopped)
            list_del(&a->node);
        gort__unlock(&a->reg->mu);
    }
    gort_ctx_release(a->ctx);
    free(a);
    return stopped;
}
