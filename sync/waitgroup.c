/*
 * waitgroup.c: gort_wg, waiting for a set of goroutines (Go:
 * sync/waitgroup.go).
 *
 * Invariants:
 *  - _state = counter << 32 | waiters, both changed by one 64-bit atomic
 *    so a Wait that registers itself and an Add that reaches zero never
 *    miss each other.
 *  - When the counter reaches zero with waiters, the Add that got it there
 *    resets _state to 0 and releases _sema once per waiter. Until those
 *    waiters have returned the group must not be reused: an Add from zero
 *    while waiters are registered is misuse, and a woken waiter that finds
 *    _state non-zero reports reuse (both as Go does).
 *  - Done happens-before the return of the Wait it unblocks (seq_cst
 *    atomics, then the semaphore wake).
 *
 * Locking: none; parking goes through sema.c.
 *
 * See also: runtime/sema.c, docs/sync.md.
 */
#include <errno.h>
#include <string.h>

#include "../runtime/sema.h"

#define REUSE_MSG "sync: WaitGroup is reused before previous Wait has returned"
#define MISUSE_MSG "sync: WaitGroup misuse: Add called concurrently with Wait"

void gort_wg_add(gort_wg *wg, int delta)
{
    RT_ENTRY();
    gort__preempt_point();
    uint64_t state = __atomic_add_fetch(&wg->_state,
                                        (uint64_t)(int64_t)delta << 32,
                                        __ATOMIC_SEQ_CST);
    int32_t v = (int32_t)(state >> 32); /* counter */
    uint32_t w = (uint32_t)state;       /* waiters */
    if (v < 0)
        gort__panic("sync: negative WaitGroup counter");
    if (w != 0 && delta > 0 && v == delta)
        gort__panic(MISUSE_MSG);
    if (v > 0 || w == 0)
        return;
    /* Counter is 0 and there are waiters. Nobody may change the state now:
     * Adds must not happen concurrently with the Wait, and Wait does not
     * register itself once the counter is zero. Still, a cheap check
     * catches misuse. */
    if (__atomic_load_n(&wg->_state, __ATOMIC_SEQ_CST) != state)
        gort__panic(MISUSE_MSG);
    __atomic_store_n(&wg->_state, 0, __ATOMIC_SEQ_CST);
    for (; w != 0; w--)
        gort__semrelease(&wg->_sema, false);
}

void gort_wg_done(gort_wg *wg)
{
    RT_ENTRY();
    gort_wg_add(wg, -1);
}

void gort_wg_wait(gort_wg *wg)
{
    RT_ENTRY();
    gort__preempt_point();
    uint64_t state = __atomic_load_n(&wg->_state, __ATOMIC_SEQ_CST);
    for (;;) {
        if ((int32_t)(state >> 32) == 0)
            return; /* counter is zero: nothing to wait for */
        /* Register as a waiter (CAS; state is reloaded on failure). */
        if (__atomic_compare_exchange_n(&wg->_state, &state, state + 1, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            gort__semacquire(&wg->_sema, false, WAIT_WAITGROUP);
            if (__atomic_load_n(&wg->_state, __ATOMIC_SEQ_CST) != 0)
                gort__panic(REUSE_MSG);
            return;
        }
    }
}

/* The arguments gort_wg_go copies onto the new goroutine's stack. */
struct wg_go_args {
    gort_wg *wg;
    void (*fn)(void *);
    void *arg;
};

static void wg_go_main(void *p)
{
    struct wg_go_args *a = p;
    a->fn(a->arg);
    gort_wg_done(a->wg);
}

/* gort_wg_go_copy's goroutine argument: this header, then the caller's
 * bytes, all on the new goroutine's stack. 16 bytes keep the bytes as
 * aligned as gort_go_copy's own copy is. */
struct wg_go_copy_hdr {
    gort_wg *wg;
    void (*fn)(void *);
};

static void wg_go_copy_main(void *p)
{
    struct wg_go_copy_hdr *h = p;
    h->fn(h + 1);
    gort_wg_done(h->wg);
}

int gort_wg_go_copy(gort_wg *wg, void (*fn)(void *), const void *args,
                    size_t size)
{
    RT_ENTRY();
    if (wg == NULL || fn == NULL || (args == NULL && size > 0) ||
        size > GORT_GO_COPY_MAX)
        return -EINVAL;
    _Alignas(16) unsigned char buf[sizeof(struct wg_go_copy_hdr) +
                                   GORT_GO_COPY_MAX];
    struct wg_go_copy_hdr h = {wg, fn};
    memcpy(buf, &h, sizeof h);
    if (size > 0)
        memcpy(buf + sizeof h, args, size);
    gort_wg_add(wg, 1);
    int err = gort__go_copy(wg_go_copy_main, buf, sizeof h + size);
    if (err != 0)
        gort_wg_add(wg, -1);
    return err;
}

int gort_wg_go(gort_wg *wg, void (*fn)(void *), void *arg)
{
    RT_ENTRY();
    if (wg == NULL || fn == NULL)
        return -EINVAL;
    struct wg_go_args a = {wg, fn, arg};
    gort_wg_add(wg, 1);
    int err = gort_go_copy(wg_go_main, &a, sizeof a);
    if (err != 0)
        gort_wg_add(wg, -1);
    return err;
}
