/*
 * asyncpreempt.h: what runtime/asyncpreempt.c shares with the preemption
 * trampolines (arch/asyncpreempt_amd64_sysv.S,
 * arch/asyncpreempt_arm64_aapcs.S): the entry points, and on AArch64 the
 * layout of the register block the signal handler writes on the
 * goroutine's stack.
 */
#ifndef GORT_ARCH_ASYNCPREEMPT_H
#define GORT_ARCH_ASYNCPREEMPT_H

#if defined(__aarch64__)
/* The AArch64 block, from the new sp upwards (16-byte aligned). */
#define AP_X0 0          /* x0..x30, 8 bytes each */
#define AP_SP 248        /* the interrupted sp */
#define AP_PC 256        /* the interrupted pc */
#define AP_PSTATE 264    /* NZCV and the rest of PSTATE */
#define AP_FPSR 272      /* FPSR (low 32 bits), FPCR (high 32 bits) */
#define AP_Q0 288        /* q0..q31, 16 bytes each */
#define AP_FRAME 800     /* frame record: caller's x29, interrupted pc */
#define AP_ARM64_FRAME 816
#endif

#ifndef __ASSEMBLER__
#include <stdint.h>

/* gort__asyncpreempt is where the handler makes the interrupted thread
 * go; never called. */
__attribute__((visibility("hidden"))) void gort__asyncpreempt(void);
/* gort__asyncpreempt_park yields the goroutine (the trampoline calls it
 * with every register saved). */
__attribute__((visibility("hidden"))) void gort__asyncpreempt_park(void);
#if defined(__aarch64__)
/* gort__asyncpreempt_resume reloads the block through a signal. */
__attribute__((visibility("hidden"))) _Noreturn void
gort__asyncpreempt_resume(void *blk);
#endif
/* The PCs where the last 64 preemptions stopped a goroutine, index
 * npcs % 64 next (tests and debuggers read them). */
__attribute__((visibility("hidden"))) extern _Atomic uintptr_t
    gort__asyncpreempt_pcs[64];
__attribute__((visibility("hidden"))) extern _Atomic uint32_t
    gort__asyncpreempt_npcs;
#if defined(__x86_64__)
/* The trampoline's XSAVE mask (0: FXSAVE) and save-area bytes. */
__attribute__((visibility("hidden"))) extern uint64_t gort__xsave_mask;
__attribute__((visibility("hidden"))) extern uint64_t gort__xsave_size;
#endif
#endif

#endif /* GORT_ARCH_ASYNCPREEMPT_H */
