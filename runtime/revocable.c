/*
 * revocable.c: the out-of-line half of revocable.h: the revoker's barrier
 * and wait, and the choice between membarrier(2) and fences.
 *
 * Invariants: gort__rv_fenced is written once per run, before any thread
 * but the caller of gort_run exists (p.c, gort__solo_init), so both sides
 * of every handshake agree on the barriers.
 * Locking: none; revokers serialise with a lock of their own.
 * See also: runtime/revocable.h (the protocol and its proof), runtime/p.c
 * (membarrier registration), docs/scheduler.md.
 */
#include "proc.h"

bool gort__rv_fenced;

void gort__rv_init(bool membarrier_ok)
{
    gort__rv_fenced = !membarrier_ok;
}

void gort__rv_barrier(void)
{
    if (!gort__rv_fenced)
        gort__membarrier();
}

void gort__rv_wait(_Atomic uint32_t *busy)
{
    /* load-acquire; pairs with gort__rv_leave's store-release. */
    for (int i = 0; atomic_load_explicit(busy, memory_order_acquire); i++) {
        if (i < 100)
            gort__procyield(10);
        else
            gort__osyield(); /* the owner was descheduled mid-section */
    }
}
