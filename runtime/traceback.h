/*
 * traceback.h: printing goroutines as Go does, and the one crash path
 * behind gort__throw, gort__fatal, gort__panic and the fatal signals
 * (runtime/traceback.c).
 */
#ifndef GORT_TRACEBACK_H
#define GORT_TRACEBACK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct g;

/* GORT_TRACEBACK levels, Go's GOTRACEBACK. */
enum tb_level { TB_NONE, TB_SINGLE, TB_ALL, TB_SYSTEM, TB_CRASH };

/* What a crash prints: "<prefix><msg>", the [signal ...] line when si is
 * set, then goroutines as the level and the kind of crash ask. */
struct crash {
    const char *prefix;    /* "fatal error: ", "panic: " or NULL */
    const char *msg;
    bool runtime;          /* a runtime throw: gort's frames, every G */
    bool all;              /* every goroutine even at level single */
    bool schedtrace;       /* GORT_DEBUG=scheddetail=1: the P and M lines */
    bool in_handler;       /* inside a signal handler: prepare nothing */
    const siginfo_t *si;   /* the signal, or NULL */
    uintptr_t pc;          /* the signal's pc */
    void *uc;              /* the signal's ucontext_t, or NULL */
};

__attribute__((visibility("hidden"))) _Noreturn void gort__dopanic(
    const struct crash *c);
/* gort__traceback_init reads GORT_TRACEBACK and starts preparing the
 * symbol tables (gort_run). */
__attribute__((visibility("hidden"))) void gort__traceback_init(void);
__attribute__((visibility("hidden"))) int gort__traceback_level(void);
/* gort__traceback_g prints one goroutine: the caller's own from uc (a
 * signal's context) or from here, another from its saved context. */
__attribute__((visibility("hidden"))) void gort__traceback_g(struct g *gp,
                                                             void *uc,
                                                             bool system);
/* gort__traceback_all prints every live goroutine but skip, each after a
 * blank line. */
__attribute__((visibility("hidden"))) void gort__traceback_all(
    struct g *skip, bool system);

#endif /* GORT_TRACEBACK_H */
