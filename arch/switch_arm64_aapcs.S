/*
 * switch_arm64_aapcs.S: goroutine context switch for AArch64, AAPCS64.
 *
 *   void gort__ctx_switch(struct gort_ctx *from, const struct gort_ctx *to);
 *   void gort__ctx_start(void);   (trampoline; never called directly)
 *
 * What is saved, and why (AAPCS64, "Procedure Call Standard for the Arm
 * 64-bit Architecture", section 6.1 "Machine Registers":
 * https://github.com/ARM-software/abi-aa/blob/main/aapcs64/aapcs64.rst):
 *
 *   offset  value        why
 *   ------  -----------  ---------------------------------------------------
 *     0     x19          callee-saved (6.1.1); a new context's entry function
 *     8     x20          callee-saved; a new context's entry argument
 *    16     x21          callee-saved
 *    24     x22          callee-saved
 *    32     x23          callee-saved
 *    40     x24          callee-saved
 *    48     x25          callee-saved
 *    56     x26          callee-saved
 *    64     x27          callee-saved
 *    72     x28          callee-saved
 *    80     x29 (fp)     callee-saved frame pointer; 0 in a new context
 *    88     x30 (lr)     return address: where the context resumes
 *    96     d8           callee-saved: only the low 64 bits of v8-v15 are
 *   104     d9           preserved across calls (6.1.2); the upper halves
 *   112     d10          and v0-v7, v16-v31 are caller-saved, so the
 *   120     d11          compiler has already spilled what it needs
 *   128     d12          (peer pitfall 3: generator-rs and odyssey forgot
 *   136     d13          these)
 *   144     d14
 *   152     d15
 *   160     FPCR         rounding mode, flush-to-zero, default-NaN (6.1.2): the
 *                        analogue of x86-64's MXCSR control bits; they are
 *                        preserved across calls, so a goroutine that changes
 *                        them must not leak the change to another
 *   168     (pad)        keeps the frame a multiple of 16 bytes
 *
 * sp itself goes to ctx->sp. x18 (platform register) is not ours to touch;
 * x0-x17 and FPSR (the cumulative exception flags) are caller-saved.
 * Alignment: sp % 16 == 0 always (AArch64 faults on a misaligned sp used as
 * a base, and the ABI requires it at every public interface); the frame is
 * 176 bytes, so ctx->sp is 16-byte aligned too. AArch64 Linux has no red
 * zone, so subtracting from sp first is safe.
 * The offsets are mirrored in arch/context.h (CTX_*), which context_arm64.c
 * checks with _Static_assert and uses to build a new context's first frame.
 */
#include "context.h"

    .text

    .globl  gort__ctx_switch
    .hidden gort__ctx_switch
    .type   gort__ctx_switch, %function
    .p2align 4
gort__ctx_switch:
    .cfi_startproc
    hint    #34                         /* bti c: indirect-call landing pad */
    sub     sp, sp, #CTX_FRAME          /* room for the callee-saved frame */
    .cfi_def_cfa_offset CTX_FRAME
    stp     x19, x20, [sp, #CTX_X19]    /* save x19, x20 */
    .cfi_rel_offset x19, CTX_X19
    .cfi_rel_offset x20, CTX_X20
    stp     x21, x22, [sp, #CTX_X21]    /* save x21, x22 */
    .cfi_rel_offset x21, CTX_X21
    .cfi_rel_offset x22, CTX_X22
    stp     x23, x24, [sp, #CTX_X23]    /* save x23, x24 */
    .cfi_rel_offset x23, CTX_X23
    .cfi_rel_offset x24, CTX_X24
    stp     x25, x26, [sp, #CTX_X25]    /* save x25, x26 */
    .cfi_rel_offset x25, CTX_X25
    .cfi_rel_offset x26, CTX_X26
    stp     x27, x28, [sp, #CTX_X27]    /* save x27, x28 */
    .cfi_rel_offset x27, CTX_X27
    .cfi_rel_offset x28, CTX_X28
    stp     x29, x30, [sp, #CTX_FP]     /* save fp and lr (resume address) */
    .cfi_rel_offset x29, CTX_FP
    .cfi_rel_offset x30, CTX_LR
    stp     d8, d9, [sp, #CTX_D8]       /* save d8, d9 */
    .cfi_rel_offset d8, CTX_D8
    .cfi_rel_offset d9, CTX_D9
    stp     d10, d11, [sp, #CTX_D10]    /* save d10, d11 */
    .cfi_rel_offset d10, CTX_D10
    .cfi_rel_offset d11, CTX_D11
    stp     d12, d13, [sp, #CTX_D12]    /* save d12, d13 */
    .cfi_rel_offset d12, CTX_D12
    .cfi_rel_offset d13, CTX_D13
    stp     d14, d15, [sp, #CTX_D14]    /* save d14, d15 */
    .cfi_rel_offset d14, CTX_D14
    .cfi_rel_offset d15, CTX_D15
    mrs     x9, fpcr                    /* our FPCR */
    str     x9, [sp, #CTX_FPCR]         /* save FPCR */

    mov     x10, sp                     /* our stack pointer */
    str     x10, [x0]                   /* from->sp = our stack */
    ldr     x10, [x1]                   /* to->sp */
    mov     sp, x10                     /* switch stacks: same frame layout */

    ldr     x10, [sp, #CTX_FPCR]        /* to's FPCR */
    cmp     x9, x10                     /* same as ours? */
    b.eq    1f                          /* yes: skip the write (may be slow) */
    msr     fpcr, x10                   /* restore FPCR */
1:  ldp     d8, d9, [sp, #CTX_D8]       /* restore d8, d9 */
    .cfi_restore d8
    .cfi_restore d9
    ldp     d10, d11, [sp, #CTX_D10]    /* restore d10, d11 */
    .cfi_restore d10
    .cfi_restore d11
    ldp     d12, d13, [sp, #CTX_D12]    /* restore d12, d13 */
    .cfi_restore d12
    .cfi_restore d13
    ldp     d14, d15, [sp, #CTX_D14]    /* restore d14, d15 */
    .cfi_restore d14
    .cfi_restore d15
    ldp     x19, x20, [sp, #CTX_X19]    /* restore x19, x20 */
    .cfi_restore x19
    .cfi_restore x20
    ldp     x21, x22, [sp, #CTX_X21]    /* restore x21, x22 */
    .cfi_restore x21
    .cfi_restore x22
    ldp     x23, x24, [sp, #CTX_X23]    /* restore x23, x24 */
    .cfi_restore x23
    .cfi_restore x24
    ldp     x25, x26, [sp, #CTX_X25]    /* restore x25, x26 */
    .cfi_restore x25
    .cfi_restore x26
    ldp     x27, x28, [sp, #CTX_X27]    /* restore x27, x28 */
    .cfi_restore x27
    .cfi_restore x28
    ldp     x29, x30, [sp, #CTX_FP]     /* restore fp and the resume address */
    .cfi_restore x29
    .cfi_restore x30
    add     sp, sp, #CTX_FRAME          /* pop the frame */
    .cfi_def_cfa_offset 0
    ret                                 /* resume at the saved lr */
    .cfi_endproc
    .size   gort__ctx_switch, .-gort__ctx_switch

/*
 * gort__ctx_start: first code a new context runs, entered by the `ret` of
 * gort__ctx_switch with sp % 16 == 0, x19 = entry, x20 = its argument.
 * It is the outermost frame: lr is undefined for unwinders and fp is
 * zeroed, so gdb, perf and frame-pointer walkers stop here. entry must not
 * return; if it does we trap rather than run off the stack.
 */
    .globl  gort__ctx_start
    .hidden gort__ctx_start
    .type   gort__ctx_start, %function
    .p2align 4
gort__ctx_start:
    .cfi_startproc
    .cfi_undefined x30                  /* outermost frame: stop unwinding */
    hint    #34                         /* bti c: landing pad if branched to */
    mov     x29, xzr                    /* no caller frame: fp chain ends */
    mov     x0, x20                     /* entry's argument */
    blr     x19                         /* entry(arg); never returns */
    brk     #0                          /* entry returned: crash loudly */
    .cfi_endproc
    .size   gort__ctx_start, .-gort__ctx_start

/*
 * With -mbranch-protection=bti (default on some distributions) every object
 * must say it is BTI-compatible or the linker turns BTI off for the whole
 * binary. Both entry points above carry `bti c`; gort__ctx_start is reached
 * by `ret`, which BTI does not check. PAC is not claimed: the saved lr is
 * not signed (a new context's lr is written by C, which holds no key).
 */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT == 1
    .pushsection .note.gnu.property, "a"
    .balign 8
    .long   4                           /* name size: "GNU\0" */
    .long   16                          /* descriptor size */
    .long   5                           /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"                       /* owner */
    .long   0xc0000000                  /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .long   4                           /* property size */
    .long   1                           /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
    .long   0                           /* pad to 8 bytes */
    .popsection
#endif

    .section .note.GNU-stack,"",%progbits
