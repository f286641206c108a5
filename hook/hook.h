/*
 * hook.h: what the files of libgort-hook share: resolving libc's own
 * definitions and the system-call hand-off used for the calls that do
 * not wait on the poller.
 *
 * Invariants: real() returns libc's definition (dlsym RTLD_NEXT) for a
 * name the hook defines; code in hook/ never calls a hooked name
 * directly, always through its resolved pointer, or it would call itself.
 */
#ifndef GORT_HOOK_H
#define GORT_HOOK_H

#include <dlfcn.h>

#include <gort.h>

#define HOOK __attribute__((visibility("default")))
#define INTERNAL __attribute__((visibility("hidden")))

/* libc's own, resolved on first use (two threads racing resolve it to the
 * same address). */
static inline void *real(void **slot, const char *name)
{
    void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!f) {
        f = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f;
}

/* REAL(type, name) declares `libc_name`, libc's name of that type. */
#define REAL(type, name)                                                       \
    static void *slot_##name;                                                  \
    static inline type libc_##name##_fn(void)                                  \
    {                                                                          \
        return (type)real(&slot_##name, #name);                                \
    }

/* HANDOFF_CALL(expr) evaluates expr inside the system-call hand-off, wired
 * to the thread: a call that blocks in the kernel holds its thread anyway,
 * and wiring brings the goroutine back to it (docs/blocking.md, "Hooks"). */
#define HANDOFF_CALL(expr)                                                     \
    __extension__({                                                            \
        gort_lock_os_thread();                                                 \
        gort_syscall_enter();                                                  \
        __typeof__(expr) hook_r_ = (expr);                                          \
        gort_syscall_exit(); /* keeps errno */                                 \
        gort_unlock_os_thread();                                               \
        hook_r_;                                                                  \
    })

#endif /* GORT_HOOK_H */
