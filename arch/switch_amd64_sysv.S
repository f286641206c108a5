/*
 * switch_amd64_sysv.S: goroutine context switch for x86-64, System V ABI.
 *
 *   void gort__ctx_switch(struct gort_ctx *from, const struct gort_ctx *to);
 *   void gort__ctx_start(void);   (trampoline; never called directly)
 *
 * What is saved, and why (psABI 1.0, section 3.2.1, "Registers"):
 *
 *   offset  value        why
 *   ------  -----------  ---------------------------------------------------
 *     0     MXCSR (4 B)  its control bits (rounding, exception masks) are
 *     4     x87 CW (2 B) callee-saved; a goroutine that changes them must
 *                        not leak the change to another (peer pitfall 3)
 *     8     r15          callee-saved
 *    16     r14          callee-saved
 *    24     r13          callee-saved; a new context's entry argument
 *    32     r12          callee-saved; a new context's entry function
 *    40     rbx          callee-saved
 *    48     rbp          callee-saved (frame pointer)
 *    56     rip          pushed by the call: where the context resumes
 *
 * rsp itself goes to ctx->sp. Caller-saved registers (rax, rcx, rdx, rsi,
 * rdi, r8-r11, xmm0-15) are dead across a call, so the compiler has already
 * spilled whatever it needs. The red zone is never touched: everything is
 * pushed below rsp. Alignment: at entry (rsp + 8) % 16 == 0; after the
 * seven 8-byte slots rsp % 16 == 0, which is what ctx->sp always holds.
 * The offsets are mirrored in arch/context.h (CTX_*), which context.c uses
 * to build a new context's first frame.
 */
#include "context.h"

    .text

    .globl  gort__ctx_switch
    .hidden gort__ctx_switch
    .type   gort__ctx_switch, @function
    .p2align 4
gort__ctx_switch:
    .cfi_startproc
    pushq   %rbp                    /* save rbp */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    pushq   %rbx                    /* save rbx */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq   %r12                    /* save r12 */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq   %r13                    /* save r13 */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    pushq   %r14                    /* save r14 */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r14, 0
    pushq   %r15                    /* save r15 */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r15, 0
    subq    $8, %rsp                /* room for the FPU control words */
    .cfi_adjust_cfa_offset 8
    stmxcsr CTX_FPU(%rsp)           /* save MXCSR */
    fnstcw  CTX_FPU+4(%rsp)         /* save x87 control word */

    movq    %rsp, (%rdi)            /* from->sp = our stack */
    movq    (%rsi), %rsp            /* switch to to->sp: same frame layout */

    ldmxcsr CTX_FPU(%rsp)           /* restore MXCSR */
    fldcw   CTX_FPU+4(%rsp)         /* restore x87 control word */
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15                    /* restore r15 */
    .cfi_adjust_cfa_offset -8
    .cfi_restore r15
    popq    %r14                    /* restore r14 */
    .cfi_adjust_cfa_offset -8
    .cfi_restore r14
    popq    %r13                    /* restore r13 */
    .cfi_adjust_cfa_offset -8
    .cfi_restore r13
    popq    %r12                    /* restore r12 */
    .cfi_adjust_cfa_offset -8
    .cfi_restore r12
    popq    %rbx                    /* restore rbx */
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    popq    %rbp                    /* restore rbp */
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbp
    ret                             /* resume at the saved rip */
    .cfi_endproc
    .size   gort__ctx_switch, .-gort__ctx_switch

/*
 * gort__ctx_start: first code a new context runs, entered by the `ret` of
 * gort__ctx_switch with rsp % 16 == 0, r12 = entry, r13 = its argument.
 * It is the outermost frame: rip is undefined for unwinders and rbp is
 * zeroed, so gdb and perf stop here. entry must not return; if it does we
 * trap rather than run off the stack.
 */
    .globl  gort__ctx_start
    .hidden gort__ctx_start
    .type   gort__ctx_start, @function
    .p2align 4
gort__ctx_start:
    .cfi_startproc
    .cfi_undefined rip              /* outermost frame: stop unwinding */
    xorl    %ebp, %ebp              /* no caller frame */
    movq    %r13, %rdi              /* entry's argument */
    callq   *%r12                   /* entry(arg); never returns */
    ud2                             /* entry returned: crash loudly */
    .cfi_endproc
    .size   gort__ctx_start, .-gort__ctx_start

    .section .note.GNU-stack,"",@progbits
