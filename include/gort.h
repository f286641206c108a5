/*
 * gort.h: Go's concurrency model for C11.
 *
 * Goroutines are scheduled M:N by GORT_MAXPROCS processors onto OS threads.
 * Everything a program needs is declared here or in the <gort/...> headers
 * this file includes. Every call documents whether it can park (block the
 * calling goroutine, letting others run on the thread) and what it returns.
 *
 * Preemption: every call into gort is a preemption point. A goroutine that
 * has run for a whole 10 ms time slice while others wait for its processor
 * yields to them at its next gort call, even one documented as "never
 * parks" (a non-blocking channel operation, gort_now, an uncontended
 * gort_mutex_lock): it comes back after at most a bounded number of other
 * goroutines' turns (docs/scheduler.md, "Bounded waiting").
 *
 * Error policy: calls return 0 (or a count) on success and a negative errno
 * value on failure; errno is never the error channel, because a goroutine
 * may resume on another thread after parking. Misuse that Go reports as a
 * panic prints Go's message on stderr and exits with status 2.
 */
#ifndef GORT_H
#define GORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#error "gort supports Linux (x86-64 and AArch64) only"
#endif

#define GORT_API __attribute__((visibility("default")))

#define GORT_VERSION_MAJOR 0
#define GORT_VERSION_MINOR 1
#define GORT_VERSION_PATCH 0

/* Durations are int64_t nanoseconds. */
#define GORT_NS(x) ((int64_t)(x))
#define GORT_US(x) ((int64_t)(x) * 1000)
#define GORT_MS(x) ((int64_t)(x) * 1000000)
#define GORT_S(x) ((int64_t)(x) * 1000000000)
/* An absolute deadline that never expires. */
#define GORT_FOREVER ((int64_t)-1)

/* ---- Lifecycle ---------------------------------------------------------- */

/*
 * gort_run starts the runtime and runs main_fn(arg) as the main goroutine
 * (goroutine 1). The number of processors comes from GORT_MAXPROCS, else the
 * CPUs this process may run on. gort_run returns when main_fn returns;
 * goroutines still alive then are abandoned and their stacks freed, as
 * when Go's main returns.
 *
 * Returns main_fn's value, or:
 *   -EINVAL  main_fn is NULL, or GORT_MAXPROCS / GORT_STACK_MAX is malformed.
 *   -EBUSY   the runtime is already running (gort_run does not nest), or a
 *            previous run left goroutines blocked in system calls.
 *   -ENOMEM  the runtime could not allocate its first thread or stack.
 * Must be called from a thread the runtime does not own.
 */
GORT_API int gort_run(int (*main_fn)(void *), void *arg);

/* ---- Goroutines --------------------------------------------------------- */

/*
 * gort_go starts fn(arg) in a new goroutine (Go: `go fn(arg)`). The new
 * goroutine is runnable at once; with one processor it runs when the caller
 * next parks or yields. Does not park.
 *
 * Returns 0, or:
 *   -EINVAL  fn is NULL.
 *   -ENOMEM  no stack could be reserved (the caller decides what to do).
 *   -EPERM   called from a thread the runtime does not own.
 */
GORT_API int gort_go(void (*fn)(void *), void *arg);

/*
 * gort_go_copy is gort_go with `size` bytes at `args` copied onto the new
 * goroutine's stack; fn receives a pointer to the copy, which lives as long
 * as the goroutine. This is Go's capture-by-value: a spawn loop needs no
 * malloc per goroutine. Does not park.
 *
 * Returns 0, or -EINVAL (fn NULL, args NULL with size > 0, or size above
 * GORT_GO_COPY_MAX), -ENOMEM, -EPERM as gort_go.
 */
#define GORT_GO_COPY_MAX 1024
GORT_API int gort_go_copy(void (*fn)(void *), const void *args, size_t size);

/* gort_yield lets other goroutines run (Go: runtime.Gosched). The caller
 * goes to the tail of its processor's run queue and resumes after the
 * goroutines queued there (and any stolen by idle processors) had a turn.
 * Outside a goroutine it calls sched_yield. */
GORT_API void gort_yield(void);

/* gort_goexit ends the calling goroutine (Go: runtime.Goexit). As in Go,
 * when the main goroutine calls it the other goroutines run on, and once
 * none is left the program dies with "no goroutines (main called
 * runtime.Goexit) - deadlock!". Never returns. Outside a goroutine it is a
 * fatal error. */
GORT_API _Noreturn void gort_goexit(void);

/* gort_id returns the calling goroutine's id (the main goroutine is 1), or
 * 0 outside a goroutine. */
GORT_API uint64_t gort_id(void);

/* gort_num_goroutine returns the number of goroutines that exist now
 * (Go: runtime.NumGoroutine). Exact while no goroutine starts or exits;
 * read while they do, it may be off by those in flight, as Go's is (each
 * P counts its own; at least 1 when called from a goroutine). */
GORT_API int gort_num_goroutine(void);

/*
 * gort_maxprocs sets the number of processors to n and returns the previous
 * value (Go: runtime.GOMAXPROCS). n <= 0 only reads. Values above
 * GORT_MAXPROCS_LIMIT are clamped. Safe while goroutines run: Ps beyond the
 * new count hand their run queues and timers to the remaining ones.
 * Before gort_run it sets the count the next gort_run starts with.
 */
#define GORT_MAXPROCS_LIMIT 256
GORT_API int gort_maxprocs(int n);

/*
 * gort_lock_os_thread wires the calling goroutine to its current thread:
 * until the matching gort_unlock_os_thread, it runs only there and no other
 * goroutine runs on that thread (Go: runtime.LockOSThread). Calls nest.
 * A goroutine that exits while wired takes its thread with it.
 */
GORT_API void gort_lock_os_thread(void);
GORT_API void gort_unlock_os_thread(void);

/*
 * gort_async_preempt turns asynchronous preemption on or off for the
 * calling goroutine and returns whether it was on. Goroutines preempt
 * themselves only at gort calls; with this on, one that runs a whole
 * 10 ms slice on a CPU without a gort call is stopped by a signal
 * (SIGURG) when its thread is in the program's own code, and resumes
 * later on the same thread. Off by default; GORT_DEBUG=asyncpreempt=1
 * turns it on for every goroutine that did not choose. The caveat: the
 * signal cannot see locks the goroutine holds (a pthread mutex, a
 * library's own state): while it is stopped those stay held, and other
 * threads that want them wait (docs/scheduler.md, "Asynchronous
 * preemption"). Outside a goroutine, and in TSan builds, it does nothing
 * and returns false.
 */
GORT_API bool gort_async_preempt(bool on);

/* ---- Blocking system calls ---------------------------------------------- */

/*
 * gort_syscall_enter / gort_syscall_exit bracket a call that may block the
 * thread and cannot go through the netpoller (file I/O, getaddrinfo, a
 * blocking library). While inside, the goroutine keeps its thread but its
 * processor may be handed to another thread by sysmon after about 20 us,
 * so other goroutines keep running. gort_syscall_exit may park until a
 * processor is free. Do not call other gort functions in between.
 * Outside a goroutine both do nothing. A call left unwrapped that blocks
 * for over a time slice (10 ms) loses its processor too, later, and the
 * goroutine gets one back at its next gort call (which may park until
 * one is free); GORT_DEBUG=stuckwarn=1 names such goroutines.
 */
GORT_API void gort_syscall_enter(void);
GORT_API void gort_syscall_exit(void);

/* GORT_SYSCALL(expr) evaluates expr between enter and exit and yields its
 * value, e.g. `ssize_t n = GORT_SYSCALL(read(fd, buf, len));`. */
#define GORT_SYSCALL(expr)                                                   \
    __extension__({                                                          \
        gort_syscall_enter();                                                \
        __typeof__(expr) gort_syscall_r_ = (expr);                           \
        gort_syscall_exit();                                                 \
        gort_syscall_r_;                                                     \
    })

/* ---- Introspection ------------------------------------------------------ */

/* Counters of the scheduler, read with gort_stats. Monotonic counters count
 * since gort_run started; the others are a snapshot. */
typedef struct gort_stats_t {
    uint64_t goroutines;      /* alive now */
    uint64_t spawned;         /* created (monotonic) */
    uint64_t steals;          /* successful steals (monotonic) */
    uint64_t stolen_gs;       /* goroutines moved by steals (monotonic) */
    uint64_t parks;           /* park calls (monotonic) */
    uint64_t yields;          /* gort_yield calls (monotonic) */
    uint64_t preempts;        /* slices cut by sysmon (monotonic) */
    uint64_t syscalls;        /* gort_syscall_enter calls (monotonic) */
    uint64_t handoffs;        /* Ps retaken from syscalls (monotonic) */
    uint64_t netpoll_waits;   /* goroutines parked on the poller (monotonic) */
    int32_t procs;            /* processors (GOMAXPROCS) */
    int32_t idle_procs;       /* processors idle now */
    int32_t threads;          /* Ms alive, sysmon excluded */
    int32_t idle_threads;     /* Ms asleep on their futex */
    int32_t spinning_threads; /* Ms looking for work */
    int32_t global_runq;      /* goroutines on the global queue */
    int32_t runq[GORT_MAXPROCS_LIMIT]; /* local queue length per P */
    uint64_t stacks_cached;   /* free stacks kept for reuse */
    uint64_t stack_reserved_bytes; /* virtual memory reserved for stacks */
    uint32_t guards_madvise;  /* stacks guarded by MADV_GUARD_INSTALL */
    uint32_t guards_mprotect; /* stacks guarded by an mprotect'ed page */
    uint32_t guards_canary;   /* stacks guarded by a canary only */
    uint64_t batched_calls;   /* socket calls through the system-call
                               * batcher (monotonic; docs/netpoll.md) */
    uint64_t batch_flushes;   /* io_uring_enter calls that completed them
                               * (monotonic) */
    int32_t batcher;          /* 1 when the batcher is on (io_uring works
                               * and GORT_DEBUG has no batch=0), else 0 */
    int32_t batch_inq;        /* 1 when its reads tell whether they left
                               * the socket empty (Linux 6.0+), else 0 */
    uint64_t drained_reads;   /* reads of a stream socket that waited for
                               * readiness without a first try, because
                               * the read before emptied the socket
                               * (monotonic; docs/netpoll.md) */
    uint64_t preempt_signals; /* preemption signals sysmon sent (monotonic;
                               * docs/scheduler.md, "Asynchronous
                               * preemption") */
    uint64_t async_preempts;  /* goroutines those signals switched out
                               * (monotonic; also counted in preempts) */
    uint64_t stuck_handoffs;  /* Ps taken from goroutines blocked in the
                               * kernel for over a time slice in a call not
                               * wrapped in GORT_SYSCALL, and handed to
                               * another thread (monotonic;
                               * docs/scheduler.md) */
} gort_stats_t;

/* gort_stats fills *st. Returns 0, or -EINVAL if st is NULL. Safe from any
 * thread; outside gort_run it reports zeros. */
GORT_API int gort_stats(gort_stats_t *st);

/* gort_strerror returns a static description of a negative error code
 * returned by a gort call. */
GORT_API const char *gort_strerror(int err);

#include <gort/chan.h>
#include <gort/time.h>
#include <gort/sync.h>
#include <gort/net.h>
#include <gort/signal.h>

#endif /* GORT_H */
