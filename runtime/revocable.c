/*
 * revocable.c: the out-of-line half of revocable.h: membarrier(2)
 * registration, the revoker's barrier and its wait.
 *
 * Invariants: gort__rv_fenced is written once per run, before any thread
 * but the caller of gort_run exists (p.c, gort__solo_init), so both sides
 * of every handshake agree on the barriers.
 * Locking: none; revokers serialise with a lock of their own.
 * See also: runtime/revocable.h (the protocol and its proof),
 * docs/scheduler.md.
 */
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc.h"

bool gort__rv_fenced = true;

static long membarrier(int cmd)
{
    return syscall(SYS_membarrier, cmd, 0, 0);
}

bool gort__rv_init(bool allowed)
{
    long cmds = allowed ? membarrier(MEMBARRIER_CMD_QUERY) : -1;
    bool ok = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
              membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    gort__rv_fenced = !ok;
    return ok;
}

void gort__rv_barrier(void)
{
    if (!gort__rv_fenced &&
        membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
        gort__throw("membarrier failed after registration");
}

void gort__rv_wait(_Atomic uint32_t *busy)
{
    /* seq_cst, so also a load-acquire: pairs with gort__rv_close's
     * store-release; seq_cst for the fenced handshake's first load. */
    for (int i = 0; atomic_load_explicit(busy, memory_order_seq_cst); i++) {
        if (i < 100)
            gort__procyield(10);
        else
            gort__osyield(); /* the owner was descheduled mid-section */
    }
}
