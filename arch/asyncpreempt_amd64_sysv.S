/*
 * asyncpreempt_amd64_sysv.S: the asynchronous preemption trampoline for
 * x86-64, System V ABI (runtime/asyncpreempt.c).
 *
 *   void gort__asyncpreempt(void);   (never called: a signal handler
 *                                     makes an interrupted thread go here)
 *
 * The thread can be stopped at any instruction of the program's own code,
 * so nothing is dead: every register is saved, not only the callee-saved
 * ones gort__ctx_switch keeps. The handler moved rsp below the 128-byte
 * red zone (the leaf code interrupted may keep data there) and pushed the
 * interrupted rip as a return address, so unwinders see this frame as
 * called from the interrupted instruction.
 *
 *   where (from the entry rsp down)   what              why
 *   --------------------------------  ----------------  --------------------
 *   entry rsp + 8 .. + 136            red zone          the code's, untouched
 *   entry rsp                         interrupted rip   `ret $128` returns
 *   -8                                rflags            cmp/test results,
 *                                                       DF, live anywhere
 *   -16 .. -128                       rax rbx rcx rdx   any may be live
 *                                     rsi rdi rbp r8-r15
 *   below, 64-byte aligned            XSAVE area        x87, SSE, AVX,
 *                                     (FXSAVE: 512 B)   AVX-512 state incl.
 *                                                       MXCSR and x87 CW
 *
 * The XSAVE mask and area size come from CPUID at start-up
 * (gort__xsave_mask, gort__xsave_size; 0 mask: no OS XSAVE, FXSAVE
 * instead). XSAVE writes only XSTATE_BV of the header and XRSTOR faults
 * on junk in the rest, so the header is zeroed first. DF is cleared for
 * the C call as the ABI requires; popfq restores the program's.
 * rbp anchors the frame across the variable-size area. The park may
 * switch goroutines; it returns on this same thread.
 */
#include "asyncpreempt.h"

    .text

    .globl  gort__asyncpreempt
    .hidden gort__asyncpreempt
    .type   gort__asyncpreempt, @function
    .p2align 4
gort__asyncpreempt:
    .cfi_startproc
    /* The caller's rsp is CFA + 128, above the red zone: DW_CFA_val_offset_sf
     * rsp (7), -16 * data alignment (-8), spelled out for assemblers
     * without .cfi_val_offset (clang's before LLVM 18). */
    .cfi_escape 0x15, 0x07, 0x70
    pushfq
    .cfi_adjust_cfa_offset 8
    pushq   %rax
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rax, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq   %rcx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rcx, 0
    pushq   %rdx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rdx, 0
    pushq   %rsi
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rsi, 0
    pushq   %rdi
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rdi, 0
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    pushq   %r8
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r8, 0
    pushq   %r9
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r9, 0
    pushq   %r10
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r10, 0
    pushq   %r11
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r11, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r15, 0
    movq    %rsp, %rbp              /* anchor: the area's size varies */
    .cfi_def_cfa_register rbp
    subq    gort__xsave_size(%rip), %rsp
    andq    $-64, %rsp              /* XSAVE wants 64-byte alignment */
    movq    gort__xsave_mask(%rip), %rax
    testq   %rax, %rax
    jz      1f
    xorl    %ecx, %ecx              /* zero the XSAVE header */
    movq    %rcx, 512(%rsp)
    movq    %rcx, 520(%rsp)
    movq    %rcx, 528(%rsp)
    movq    %rcx, 536(%rsp)
    movq    %rcx, 544(%rsp)
    movq    %rcx, 552(%rsp)
    movq    %rcx, 560(%rsp)
    movq    %rcx, 568(%rsp)
    movq    %rax, %rdx
    shrq    $32, %rdx               /* edx:eax = component mask */
    xsave64 (%rsp)
    jmp     2f
1:  fxsave64 (%rsp)
2:  cld                             /* the ABI's DF = 0 at a call */
    call    gort__asyncpreempt_park
    movq    gort__xsave_mask(%rip), %rax
    testq   %rax, %rax
    jz      3f
    movq    %rax, %rdx
    shrq    $32, %rdx
    xrstor64 (%rsp)
    jmp     4f
3:  fxrstor64 (%rsp)
4:  movq    %rbp, %rsp
    .cfi_def_cfa_register rsp
    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore r12
    popq    %r11
    .cfi_adjust_cfa_offset -8
    .cfi_restore r11
    popq    %r10
    .cfi_adjust_cfa_offset -8
    .cfi_restore r10
    popq    %r9
    .cfi_adjust_cfa_offset -8
    .cfi_restore r9
    popq    %r8
    .cfi_adjust_cfa_offset -8
    .cfi_restore r8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbp
    popq    %rdi
    .cfi_adjust_cfa_offset -8
    .cfi_restore rdi
    popq    %rsi
    .cfi_adjust_cfa_offset -8
    .cfi_restore rsi
    popq    %rdx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rdx
    popq    %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rcx
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    popq    %rax
    .cfi_adjust_cfa_offset -8
    .cfi_restore rax
    popfq                           /* flags last: nothing after sets them */
    .cfi_adjust_cfa_offset -8
    ret     $128                    /* to the interrupted rip, rsp as was */
    .cfi_endproc
    .size   gort__asyncpreempt, .-gort__asyncpreempt

    .section .note.GNU-stack,"",@progbits
