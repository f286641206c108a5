/*
 * context_amd64.c: builds the first frame of a new x86-64 context, in the
 * layout switch_amd64_sysv.S pops (arch/context.h, CTX_*).
 *
 * Invariants: the saved sp is 16-byte aligned, so gort__ctx_start runs with
 * rsp % 16 == 0 and its call of the entry leaves (rsp + 8) % 16 == 0 in the
 * callee, as the psABI requires.
 * See also: arch/switch_amd64_sysv.S.
 */
#include <stdint.h>
#include <string.h>

#include "context.h"

_Static_assert(CTX_FRAME == 64, "switch_amd64_sysv.S pushes 8 slots");

/* The psABI's initial values: all exceptions masked, round to nearest,
 * double-extended x87 precision. */
enum { MXCSR_DEFAULT = 0x1f80, X87CW_DEFAULT = 0x037f };

void gort__ctx_make(struct gort_ctx *ctx, void *top, void (*entry)(void *),
                    void *arg)
{
    uintptr_t sp = ((uintptr_t)top & ~(uintptr_t)15) - 16 - CTX_FRAME;
    unsigned char *frame = (unsigned char *)sp;

    memset(frame, 0, CTX_FRAME);
    uint32_t mxcsr = MXCSR_DEFAULT;
    uint16_t x87cw = X87CW_DEFAULT;
    memcpy(frame + CTX_FPU, &mxcsr, sizeof mxcsr);
    memcpy(frame + CTX_FPU + 4, &x87cw, sizeof x87cw);
    uintptr_t fn = (uintptr_t)entry, a = (uintptr_t)arg;
    uintptr_t start = (uintptr_t)gort__ctx_start;
    memcpy(frame + CTX_R12, &fn, sizeof fn);
    memcpy(frame + CTX_R13, &a, sizeof a);
    memcpy(frame + CTX_RIP, &start, sizeof start);
    ctx->sp = frame;
}
