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

/* The headers compile as C++ too (tests/cxx/smoke.cpp): declarations have
 * C linkage and C11-only keywords get their C++ spelling. */
#ifdef __cplusplus
#define GORT_NORETURN __attribute__((__noreturn__))
#else
#define GORT_NORETURN _Noreturn
#endif

#ifdef __cplusplus
extern "C" {
#endif

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
GORT_API GORT_NORETURN void gort_goexit(void);

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

/* For libgort-hook (docs/blocking.md, "Hooks"), not for programs: true
 * when the caller is a goroutine running its own code, outside the
 * runtime and outside gort_syscall_enter/exit. */
GORT_API bool gort__hook_may_wrap(void);
/* For libgort-hook, not for programs: gort_fd_register without setting
 * O_NONBLOCK (the hook keeps the user's flag and makes its own calls with
 * MSG_DONTWAIT). 0 or -errno (-EEXIST: registered already). */
GORT_API int gort__hook_fd_register(int fd);

/* ---- Introspection ------------------------------------------------------ */

/* Scheduling latency: how long goroutines waited runnable before they ran,
 * in GORT_LATENCY_BUCKETS log2 buckets. Bucket i counts waits of at most
 * GORT_LATENCY_BUCKET_NS(i) nanoseconds (and more than bucket i-1's bound);
 * the last bucket has no upper bound. */
#define GORT_LATENCY_BUCKETS 32
#define GORT_LATENCY_BUCKET_NS(i) (UINT64_C(64) << (i))

/* GORT_STATS_HAS(st, field): true when the library filled `field` of *st
 * (gort_stats_t or gort_proc_stats_t, after a call that set st->size). A
 * program built against a newer header than the library it runs with
 * sees the newer fields left at zero and this false. */
#define GORT_STATS_HAS(st, field)                                           \
    ((size_t)((const char *)&(st)->field - (const char *)(st)) +           \
         sizeof (st)->field <= (size_t)(st)->size)

/* Counters of the scheduler, read with gort_stats. Monotonic counters count
 * since gort_run started; the others are a snapshot.
 *
 * Growing it: fields are only ever appended, after `size`. gort_stats(st) is
 * a macro that passes sizeof *st to gort_stats_sized, which fills at most
 * that many bytes (the fields the caller was compiled with) and records in
 * st->size how many it filled (the fields the library knows). So a program
 * built against an older header keeps working with a newer library, and
 * one built against a newer header finds out with GORT_STATS_HAS which
 * fields an older library left at zero. The fields before `size` are the
 * original set; programs built before `size` existed call the exported
 * function gort_stats, which fills exactly those. */
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
    /* ---- Fields from here on are checked with GORT_STATS_HAS. ---- */
    uint32_t size;            /* bytes of this struct the library filled */
    /* Scheduling latency (docs/metrics.md): one in sched_latency_period
     * transitions to runnable of each goroutine is timed until the
     * goroutine next starts running (Go: /sched/latencies:seconds), so
     * the buckets count samples, not every switch. */
    uint32_t sched_latency_period;
    uint64_t sched_latency[GORT_LATENCY_BUCKETS]; /* samples per bucket */
    uint64_t sched_latency_sum_ns; /* the sampled waits added up */
    uint64_t exited;          /* goroutines that ended (monotonic) */
} gort_stats_t;

/* gort_stats_sized fills *st, a gort_stats_t of `size` bytes as the
 * caller's header declared it (see above); use the gort_stats macro.
 * Returns 0, or -EINVAL if st is NULL or size is smaller than the fields
 * up to and including `size`. Safe from any thread; outside gort_run it
 * reports zeros. */
GORT_API int gort_stats_sized(gort_stats_t *st, size_t size);
/* The entry point of programs built before gort_stats_t had `size`: fills
 * the fields before `size` only. */
GORT_API int(gort_stats)(gort_stats_t *st);
#define gort_stats(st) gort_stats_sized((st), sizeof *(st))

/* Counters of one processor (P), read with gort_proc_stats; sized and
 * grown like gort_stats_t (GORT_STATS_HAS), with `size` first. Monotonic
 * counters count since the P was first created; a P beyond
 * gort_maxprocs keeps its counts and resumes them if it comes back. */
typedef struct gort_proc_stats_t {
    uint32_t size;            /* bytes of this struct the library filled */
    int32_t id;               /* the P's index, 0 .. procs-1 */
    int32_t status;           /* 0 idle, 1 running goroutines, 2 its thread
                               * is in a system call */
    int32_t runq;             /* goroutines on its local queue now */
    uint64_t spawned;         /* goroutines created on it */
    uint64_t exited;          /* goroutines that ended on it */
    uint64_t steals;          /* successful steals it made */
    uint64_t stolen_gs;       /* goroutines those steals moved to it */
    uint64_t parks;           /* goroutines that parked on it */
    uint64_t yields;          /* gort_yield calls on it */
    uint64_t drained_reads;   /* as gort_stats_t.drained_reads */
    uint64_t sched_latency[GORT_LATENCY_BUCKETS]; /* sampled waits of the
                               * goroutines it started (gort_stats_t) */
    uint64_t sched_latency_sum_ns;
} gort_proc_stats_t;

/* gort_proc_stats_sized fills *ps with processor p's counters; use the
 * gort_proc_stats macro. Returns 0; -EINVAL if ps is NULL, size too small
 * to hold `size`, or p not in [0, gort_maxprocs(0)); -ESRCH outside
 * gort_run. Safe from any thread; the counters are read without locks, so
 * a snapshot taken while the P runs is a little behind. */
GORT_API int gort_proc_stats_sized(int32_t p, gort_proc_stats_t *ps,
                                   size_t size);
#define gort_proc_stats(p, ps) gort_proc_stats_sized((p), (ps), sizeof *(ps))

/* gort_metrics_format writes every gort_stats and gort_proc_stats figure
 * to buf in Prometheus text exposition format (version 0.0.4;
 * docs/metrics.md lists the names), NUL-terminated and cut short if len
 * is too small, as snprintf does. Returns the length of the whole text
 * (without the NUL), or a negative errno (-EINVAL: buf NULL with len >
 * 0). Call it with len 0 to learn the length; the figures move between
 * two calls, so retry while the result is >= len. Never parks; safe from
 * any thread. */
GORT_API int gort_metrics_format(char *buf, size_t len);
/* gort_metrics_write writes the same text to fd, a blocking descriptor
 * (file, pipe, terminal), retrying short writes. Returns the bytes
 * written or a negative errno. From a goroutine the write runs as a
 * system call (gort_syscall_enter), so a slow reader blocks only the
 * caller. For a gort network connection, format into a buffer and send it
 * with gort_write instead. */
GORT_API int gort_metrics_write(int fd);

/* gort_strerror returns a static description of a negative error code
 * returned by a gort call: Go's words where the code carries Go's meaning
 * (-EBADF "use of closed network connection", -ETIMEDOUT "i/o timeout"),
 * "called outside a goroutine" for -EPERM, strerror's text otherwise, and
 * "not an error code" for positive values and INT_MIN. */
GORT_API const char *gort_strerror(int err);

#ifdef __cplusplus
} /* extern "C" */
#endif

#include <gort/chan.h>
#include <gort/time.h>
#include <gort/sync.h>
#include <gort/net.h>
#include <gort/context.h>
#include <gort/errgroup.h>
#include <gort/trace.h>
#include <gort/pool.h>
#include <gort/signal.h>

#endif /* GORT_H */
