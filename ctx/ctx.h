/*
 * ctx.h: the contract between ctx/context.c and the code that waits on a
 * context from inside the library (ctx/io.c, sync/semaphore.c).
 *
 * A watcher is a struct ctx_node linked into the children list of the
 * nearest cancelable ancestor of a context (gort__ctx_watch). When that
 * ancestor is canceled, fire(n, err, cause) runs once, under the ancestor's lock and
 * on whatever thread cancels (a goroutine, g0 of a timer callback, a
 * foreign thread): it must not park, allocate or touch the context, only
 * wake whoever waits (gort__ready, gort__pd_wake, a semaphore word).
 * gort__ctx_unwatch returns once fire is either done or will never run,
 * so a watcher may live on its owner's stack.
 *
 * Lock order: ctx locks rank below channel locks (cancel closes the done
 * channel and fires watchers under its lock), an ancestor's before a
 * descendant's.
 */
#ifndef GORT_CTX_H
#define GORT_CTX_H

#include "../runtime/runtime.h"

struct ctx_node {
    struct ctx_node *prev, *next; /* NULL while not linked */
    void (*fire)(struct ctx_node *n, int err, int cause);
};

/*
 * gort__ctx_watch links n under ctx's nearest cancelable ancestor and
 * returns that ancestor (pass it to gort__ctx_unwatch), or NULL: then
 * *err is 0 if ctx can never be canceled, or ctx's error if it already
 * is (n is not linked in either case).
 */
GORT_HIDDEN gort_ctx *gort__ctx_watch(gort_ctx *ctx, struct ctx_node *n,
                                      int *err);
/* gort__ctx_unwatch unlinks n if cancel has not fired it; once it
 * returns, fire(n) is finished or never runs. owner NULL: nothing. */
GORT_HIDDEN void gort__ctx_unwatch(gort_ctx *owner, struct ctx_node *n);

#endif /* GORT_CTX_H */
