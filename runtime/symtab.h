/*
 * symtab.h: symbol data for tracebacks (runtime/symtab.c): prepared in a
 * normal context, read by anyone, signal handlers included.
 */
#ifndef GORT_SYMTAB_H
#define GORT_SYMTAB_H

#include <stdbool.h>
#include <stdint.h>

/* elfutils' libdwfl reads the symbols and lines where its headers exist;
 * elsewhere (a cross build without it) only the module list is kept. */
#if defined(__has_include)
#if __has_include(<elfutils/libdwfl.h>)
#define GORT_HAVE_LIBDW 1
#endif
#endif
#ifndef GORT_HAVE_LIBDW
#define GORT_HAVE_LIBDW 0
#endif

/* What is known about one code address; NULL / 0 where unknown. */
struct symloc {
    const char *func;      /* function name */
    uintptr_t entry;       /* its first byte */
    const char *file;      /* source file of the line row covering pc */
    uint32_t line;
    const char *module;    /* the object it lies in (path) */
    uintptr_t modoff;      /* pc minus the module's load bias */
};

/* gort__symtab_init takes the module list (once per process) and, when
 * full, starts a thread that prepares the full table. gort_run calls it. */
__attribute__((visibility("hidden"))) void gort__symtab_init(bool full);
/* gort__symtab_prepare builds the full table now unless it exists; may
 * wait for the thread building it. Normal context only (mallocs). */
__attribute__((visibility("hidden"))) void gort__symtab_prepare(void);
__attribute__((visibility("hidden"))) bool gort__symtab_ready(void);
/* gort__symtab_wait waits up to ns for the preparing thread, if one runs
 * (async-signal-safe: nanosleep). A crash early in a program gets names;
 * the bound (traceback.c: 10 s, for loaded machines and sanitizer builds)
 * keeps a handler that interrupted malloc from waiting for good on a
 * thread that needs malloc's lock. */
__attribute__((visibility("hidden"))) void gort__symtab_wait(int64_t ns);
/* gort__symtab_lookup fills out for pc; true if a function was found.
 * Async-signal-safe: reads published tables only. */
__attribute__((visibility("hidden"))) bool gort__symtab_lookup(
    uintptr_t pc, struct symloc *out);

#endif /* GORT_SYMTAB_H */
