/*
 * asyncpreempt_arm64_aapcs.S: the asynchronous preemption trampoline for
 * AArch64, AAPCS64 (runtime/asyncpreempt.c).
 *
 *   void gort__asyncpreempt(void);   (never called: a signal handler
 *                                     makes an interrupted thread go here)
 *
 * On AArch64 the signal handler itself saves the interrupted state, from
 * the signal frame, into a block on the goroutine's stack (layout in
 * arch/asyncpreempt.h): restoring it from here would need one register
 * to branch through after all 31 are back, and C code may have every one
 * live (Go reserves R27 for this; AAPCS64 reserves nothing, and x16/x17
 * are free only at calls). So the way back is a second signal:
 * gort__asyncpreempt_resume sends SIGURG to its own thread and the
 * handler copies the block into that signal's frame, which the kernel's
 * sigreturn loads exactly.
 *
 *   block offset  what              why
 *   ------------  ----------------  ------------------------------------
 *     0..247      x0..x30           any may be live; x30 is the code's lr
 *   248           sp                the interrupted sp (no red zone)
 *   256           pc                where the goroutine resumes
 *   264           pstate            NZCV flags, live anywhere
 *   272           fpsr, fpcr        FP status and control
 *   288..799      q0..q31           all 128 bits of every vector register
 *   800..815      frame record      caller's x29 and the interrupted pc
 *
 * Entry state (set by the handler): sp = the block (16-byte aligned),
 * x29 = the frame record, x30 = the interrupted pc, so unwinders see this
 * frame as called from the interrupted instruction.
 */
#include "asyncpreempt.h"

    .text

    .globl  gort__asyncpreempt
    .hidden gort__asyncpreempt
    .type   gort__asyncpreempt, %function
    .p2align 4
gort__asyncpreempt:
    .cfi_startproc
    .cfi_def_cfa x29, 16
    .cfi_offset x30, -8
    .cfi_offset x29, -16
    .cfi_offset x19, 19 * 8 - AP_ARM64_FRAME
    .cfi_offset x20, 20 * 8 - AP_ARM64_FRAME
    .cfi_offset x21, 21 * 8 - AP_ARM64_FRAME
    .cfi_offset x22, 22 * 8 - AP_ARM64_FRAME
    .cfi_offset x23, 23 * 8 - AP_ARM64_FRAME
    .cfi_offset x24, 24 * 8 - AP_ARM64_FRAME
    .cfi_offset x25, 25 * 8 - AP_ARM64_FRAME
    .cfi_offset x26, 26 * 8 - AP_ARM64_FRAME
    .cfi_offset x27, 27 * 8 - AP_ARM64_FRAME
    .cfi_offset x28, 28 * 8 - AP_ARM64_FRAME
    bl      gort__asyncpreempt_park /* yield; back on this thread */
    mov     x0, sp                  /* the block */
    bl      gort__asyncpreempt_resume /* never returns */
    brk     #0
    .cfi_endproc
    .size   gort__asyncpreempt, .-gort__asyncpreempt

    .section .note.GNU-stack,"",@progbits
