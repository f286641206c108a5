/*
 * once.c: the slow path of gort_once_do (Go: sync/once.go, doSlow).
 *
 * Invariants:
 *  - _done goes 0 -> 1 once, after fn returned, with a store-release; the
 *    inline fast path's load-acquire then sees all of fn's effects.
 *  - Callers that find _done == 0 serialise on _m, so fn runs once and the
 *    others return only after it finished (Go's "all callers return only
 *    after f returns" guarantee).
 *
 * Locking: _m is held while fn runs; fn must not use the same gort_once.
 *
 * See also: include/gort/sync.h, sync/mutex.c.
 */
#include "../runtime/sema.h"

void gort__once_do_slow(gort_once *o, void (*fn)(void *), void *arg)
{
    /* No RT_ENTRY: fn is user code, and the mutex's own slow paths enter
     * the runtime when they need the P. */
    gort_mutex_lock(&o->_m);
    /* relaxed: _m orders this against the store below. */
    if (__atomic_load_n(&o->_done, __ATOMIC_RELAXED) == 0) {
        fn(arg);
        /* store-release; pairs with the load-acquire in gort_once_do. */
        __atomic_store_n(&o->_done, 1, __ATOMIC_RELEASE);
    }
    gort_mutex_unlock(&o->_m);
}
