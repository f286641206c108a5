/*
 * context.h: the saved-register context of a goroutine or of an M's g0, and
 * the two operations on it. The switch itself is assembly, one file per ABI
 * (arch/switch_amd64_sysv.S, arch/switch_arm64_aapcs.S); the frame layout
 * each one pushes is described by the CTX_* offsets below, shared by the .S
 * and by context.c, which builds the first frame of a new goroutine.
 */
#ifndef GORT_ARCH_CONTEXT_H
#define GORT_ARCH_CONTEXT_H

#if defined(__x86_64__)
/* Frame pushed by gort__ctx_switch on x86-64, from the saved sp upwards. */
#define CTX_FPU 0     /* MXCSR (4 bytes) and x87 control word (2 bytes) */
#define CTX_R15 8
#define CTX_R14 16
#define CTX_R13 24    /* new goroutine: argument of the entry function */
#define CTX_R12 32    /* new goroutine: entry function */
#define CTX_RBX 40
#define CTX_RBP 48
#define CTX_RIP 56    /* return address: where the switch resumes */
#define CTX_FRAME 64
#elif defined(__aarch64__)
/* Frame pushed by gort__ctx_switch on AArch64, from the saved sp upwards. */
#define CTX_X19 0     /* new goroutine: entry function */
#define CTX_X20 8     /* new goroutine: argument of the entry function */
#define CTX_X21 16
#define CTX_X22 24
#define CTX_X23 32
#define CTX_X24 40
#define CTX_X25 48
#define CTX_X26 56
#define CTX_X27 64
#define CTX_X28 72
#define CTX_FP 80     /* x29 */
#define CTX_LR 88     /* x30: where the switch resumes */
#define CTX_D8 96     /* d8..d15: callee-saved low halves of v8..v15 */
#define CTX_D9 104
#define CTX_D10 112
#define CTX_D11 120
#define CTX_D12 128
#define CTX_D13 136
#define CTX_D14 144
#define CTX_D15 152
#define CTX_FPCR 160  /* FPCR mode bits; 168..175 pad to keep sp % 16 == 0 */
#define CTX_FRAME 176
#else
#error "gort: unsupported architecture"
#endif

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* A suspended context: everything else lives on its own stack. */
struct gort_ctx {
    void *sp;
};

/*
 * gort__ctx_switch saves the callee-saved state on the current stack,
 * stores the stack pointer in from->sp, loads to->sp and resumes there.
 * Returns when something switches back to `from`. Opaque to the compiler
 * (an external assembly function), so no TLS address survives it in a
 * register the caller relies on.
 */
__attribute__((visibility("hidden"))) void gort__ctx_switch(
    struct gort_ctx *from, const struct gort_ctx *to);

/*
 * gort__ctx_make prepares ctx so that the first switch to it calls
 * entry(arg) on the stack whose highest usable address is `top` (exclusive).
 * entry must never return: the start trampoline traps if it does.
 */
__attribute__((visibility("hidden"))) void gort__ctx_make(
    struct gort_ctx *ctx, void *top, void (*entry)(void *), void *arg);

/* gort__ctx_start is the trampoline a new context starts in (assembly). */
__attribute__((visibility("hidden"))) void gort__ctx_start(void);
#endif

#endif /* GORT_ARCH_CONTEXT_H */
