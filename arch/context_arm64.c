/*
 * context_arm64.c: builds the first frame of a new AArch64 context, in the
 * layout switch_arm64_aapcs.S loads (arch/context.h, CTX_*).
 *
 * Invariants: the saved sp is 16-byte aligned (AAPCS64 requires it at every
 * public interface and the hardware faults on a misaligned sp base), so
 * gort__ctx_start and the entry it calls run with sp % 16 == 0. A new
 * context starts with fp = 0, lr = gort__ctx_start and the ABI's initial
 * FPCR (0: round to nearest, no flush-to-zero, no default NaN, no traps),
 * whatever the creating context has set (same rule as context_amd64.c).
 * Locking: none; the frame belongs to the caller until the first switch.
 * See also: arch/switch_arm64_aapcs.S, arch/context.h, docs/arch.md.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "context.h"

/* The frame gort__ctx_switch stores, as C sees it (style rule 25). */
struct arm64_frame {
    uint64_t x19_x28[10]; /* x19 = entry function, x20 = its argument */
    uint64_t fp;          /* x29 */
    uint64_t lr;          /* x30: where the switch resumes */
    uint64_t d8_d15[8];   /* low halves of v8..v15 */
    uint64_t fpcr;
    uint64_t pad;         /* keeps the frame a multiple of 16 bytes */
};

#define FRAME_X(n) (offsetof(struct arm64_frame, x19_x28) + 8 * ((n) - 19))
#define FRAME_D(n) (offsetof(struct arm64_frame, d8_d15) + 8 * ((n) - 8))

_Static_assert(FRAME_X(19) == CTX_X19, "CTX_X19");
_Static_assert(FRAME_X(20) == CTX_X20, "CTX_X20");
_Static_assert(FRAME_X(21) == CTX_X21, "CTX_X21");
_Static_assert(FRAME_X(22) == CTX_X22, "CTX_X22");
_Static_assert(FRAME_X(23) == CTX_X23, "CTX_X23");
_Static_assert(FRAME_X(24) == CTX_X24, "CTX_X24");
_Static_assert(FRAME_X(25) == CTX_X25, "CTX_X25");
_Static_assert(FRAME_X(26) == CTX_X26, "CTX_X26");
_Static_assert(FRAME_X(27) == CTX_X27, "CTX_X27");
_Static_assert(FRAME_X(28) == CTX_X28, "CTX_X28");
_Static_assert(offsetof(struct arm64_frame, fp) == CTX_FP, "CTX_FP");
_Static_assert(offsetof(struct arm64_frame, lr) == CTX_LR, "CTX_LR");
_Static_assert(CTX_FP + 8 == CTX_LR, "stp x29, x30 stores a pair");
_Static_assert(FRAME_D(8) == CTX_D8, "CTX_D8");
_Static_assert(FRAME_D(9) == CTX_D9, "CTX_D9");
_Static_assert(FRAME_D(10) == CTX_D10, "CTX_D10");
_Static_assert(FRAME_D(11) == CTX_D11, "CTX_D11");
_Static_assert(FRAME_D(12) == CTX_D12, "CTX_D12");
_Static_assert(FRAME_D(13) == CTX_D13, "CTX_D13");
_Static_assert(FRAME_D(14) == CTX_D14, "CTX_D14");
_Static_assert(FRAME_D(15) == CTX_D15, "CTX_D15");
_Static_assert(offsetof(struct arm64_frame, fpcr) == CTX_FPCR, "CTX_FPCR");
_Static_assert(sizeof(struct arm64_frame) == CTX_FRAME, "CTX_FRAME");
_Static_assert(CTX_FRAME % 16 == 0, "sp must stay 16-byte aligned");
_Static_assert(CTX_FRAME <= 504, "stp/ldp immediates reach 504 bytes");

/* AAPCS64 / Linux initial FPCR: RMode = 0 (nearest), FZ = DN = 0. */
enum { FPCR_DEFAULT = 0 };

void gort__ctx_make(struct gort_ctx *ctx, void *top, void (*entry)(void *),
                    void *arg)
{
    uintptr_t sp = ((uintptr_t)top & ~(uintptr_t)15) - CTX_FRAME;
    struct arm64_frame *frame = (struct arm64_frame *)sp;

    memset(frame, 0, sizeof *frame);
    frame->x19_x28[0] = (uint64_t)(uintptr_t)entry;
    frame->x19_x28[1] = (uint64_t)(uintptr_t)arg;
    frame->fp = 0;
    frame->lr = (uint64_t)(uintptr_t)gort__ctx_start;
    frame->fpcr = FPCR_DEFAULT;
    ctx->sp = frame;
}
