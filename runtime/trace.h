/*
 * trace.h: the event trace's emission API (runtime/trace.c records,
 * runtime/tracejson.c writes; docs/trace.md tells the whole story).
 *
 * Every emission site is one TRACE_ON() test of a global flag, false
 * unless a trace is being recorded, followed by an out-of-line call:
 * that keeps the cost of the trace, when off, to a load and a branch the
 * CPU predicts. Sites in chan/, sync/ and netpoll/ may include this
 * header; the runtime knows nothing of them.
 *
 * An event is recorded in the calling thread's own buffer (trace.c), so
 * emission takes no lock and shares no cache line. Each event names the
 * P the thread held and the goroutine it ran when it was emitted.
 *
 * Invariants: emission never parks, never takes a runtime lock, and may
 * be called from any thread (an M, sysmon, a foreign thread), on g0 or on
 * a goroutine, holding any runtime lock; never from a signal handler (it
 * may allocate a chunk).
 */
#ifndef GORT_TRACE_H
#define GORT_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Event kinds of the binary buffers (trace.c's layout). Arguments a and b
 * are per kind, as listed; `small` is an 8-bit argument. */
enum trace_ev {
    TEV_NONE = 0,
    TEV_GO_CREATE,     /* a: new goid, b: flow id (create -> start) */
    TEV_GO_START,      /* the goroutine in the header starts running;
                        * a: flow id of its ready or create (0: none) */
    TEV_GO_END,        /* it returned */
    TEV_GO_PARK,       /* it parked; small: enum waitreason, a: object */
    TEV_GO_YIELD,      /* it yielded (gort_yield or a spawn turn) */
    TEV_GO_PREEMPT,    /* it used its slice and was preempted */
    TEV_GO_READY,      /* a: goid made runnable, b: flow id */
    TEV_GO_BLOCKSYS,   /* back from a syscall with no P: queued globally */
    TEV_STEAL,         /* a: victim P, b: goroutines taken */
    TEV_SYSCALL_ENTER, /* the goroutine entered a system call */
    TEV_SYSCALL_EXIT,  /* ... and is back; small: 1 if it kept its P */
    TEV_HANDOFF,       /* a: P handed to another M (or the idle list) */
    TEV_NETPOLL,       /* a: goroutines the poller or batcher made ready */
    TEV_TIMER,         /* a: timer address, b: lateness in ns */
    TEV_PROCS,         /* a: new GOMAXPROCS, b: old */
    TEV_M_START,       /* a: the M id the thread runs as from now on
                        * (-1: none): an M thread's start, or a thread
                        * that became an M (gort_run's caller) */
    TEV_M_STOP,        /* the thread ends */
    TEV_M_IDLE,        /* the M sleeps without a P */
    TEV_M_WAKE,        /* ... and woke */
    TEV_P_ACQUIRE,     /* a: the P this M takes */
    TEV_P_RELEASE,     /* a: the P this M gives up */
    TEV_COUNT
};

struct g;

/* The flag every site tests: nonzero only while events are recorded. On
 * a line of its own, so no write elsewhere ever evicts it. */
struct gort__trace_flag {
    _Alignas(64) _Atomic uint8_t on;
    char pad[63];
};
__attribute__((visibility("hidden"))) extern struct gort__trace_flag
    gort__trace;

/* gort__trace_on_now reads the flag (a relaxed load). On x86-64 it is one
 * cmpb against memory whose flags the branch uses: an atomic load would
 * be a movzbl and a test besides, a third instruction at every site, 1.2%
 * of a yield's instructions instead of 0.8% (callgrind). The asm is not
 * volatile: the compiler may merge two reads with no call between, as it
 * may merge relaxed loads. */
static inline bool gort__trace_on_now(void)
{
#if defined(__x86_64__)
    bool on;
    __asm__("cmpb $0, %1" : "=@ccne"(on) : "m"(gort__trace.on));
    return on;
#else
    return atomic_load_explicit(&gort__trace.on, memory_order_relaxed);
#endif
}

#define TRACE_ON() __builtin_expect(gort__trace_on_now(), 0)

/* gort__trace_ev records one event of kind ev for the calling thread. */
__attribute__((visibility("hidden"))) void gort__trace_ev(unsigned ev,
                                                          unsigned small,
                                                          uint64_t a,
                                                          uint64_t b);
/* gort__trace_ready records that gp was made runnable by the caller and
 * leaves the flow id in gp, for the start that follows (TEV_GO_READY). */
__attribute__((visibility("hidden"))) void gort__trace_ready(struct g *gp);
/* gort__trace_create is gort__trace_ready for a new goroutine. */
__attribute__((visibility("hidden"))) void gort__trace_create(struct g *gp);
/* gort__trace_switch records gp leaving (action: enum after_switch,
 * proc.h) and next, if not NULL, starting on the same M. */
__attribute__((visibility("hidden"))) void gort__trace_switch(struct g *gp,
                                                              int action,
                                                              struct g *next);
/* gort__trace_park_obj names the object the calling goroutine's next
 * park waits on, where the park's own argument is not it (a semaphore's
 * word rather than its hash bucket's lock). */
__attribute__((visibility("hidden"))) void gort__trace_park_obj(
    const void *obj);
/* gort__trace_start_g records gp starting, reached from g0. */
__attribute__((visibility("hidden"))) void gort__trace_start_g(struct g *gp);

#define TRACE(ev, small, a, b)                                              \
    do {                                                                    \
        if (TRACE_ON())                                                     \
            gort__trace_ev((ev), (small), (uint64_t)(a), (uint64_t)(b));    \
    } while (0)

/* gort_run's hooks (proc.c): begin starts a trace if GORT_TRACE names a
 * file (a file it cannot open is reported on stderr, and the run goes
 * on untraced); end stops whatever trace is still running and writes it. */
__attribute__((visibility("hidden"))) void gort__trace_run_begin(void);
__attribute__((visibility("hidden"))) void gort__trace_run_end(void);

/* ---- Shared by trace.c and tracejson.c ---------------------------------- */

/*
 * A thread's buffer: a list of chunks written by that thread only. An
 * event is a header word, ticks << 16 | kind << 8 | small, a context word,
 * (P + 1) << 48 | goid of the running goroutine (0: none), and the
 * arguments its kind takes (trace_ev_nargs).
 */
enum { TRACE_CHUNK_WORDS = 8192 - 4 }; /* a chunk is 64 KiB */

struct trace_chunk {
    struct trace_chunk *next;      /* full list or free pool link */
    struct trace_chunk *all;       /* every chunk of the session */
    uint32_t idx;                  /* the buffer (thread) that fills it */
    uint32_t len;                  /* words used */
    uint64_t w[TRACE_CHUNK_WORDS];
};

struct trace_buf {
    struct trace_buf *next;        /* every buffer ever made (never freed) */
    _Atomic uint32_t busy;         /* the owner is writing an event */
    uint32_t idx;                  /* creation order, names the thread */
    int64_t mid;                   /* the thread's M id, -1: none */
    int64_t mid0;                  /* ... when the session began */
    struct trace_chunk *cur;       /* the chunk being filled, or NULL */
    uint64_t nflow;                /* flow ids made by this thread */
};

__attribute__((visibility("hidden"))) unsigned gort__trace_ev_nargs(
    unsigned ev);

/* What a session hands tracejson.c to convert: the spill file holds
 * records of (uint32 buffer index, uint32 word count, the words), each
 * thread's in the order written. */
struct trace_session {
    int spill;                     /* read from offset 0 */
    const int64_t *mid0;           /* per buffer index: M id at start */
    uint32_t nbufs;
    uint64_t drops;
    uint64_t ticks_end;            /* ticks at stop */
    double ns_per_tick;
    const char *clock;             /* "tsc", "cntvct" or "monotonic" */
};

/* tracebuf.c: gort__tracebuf_new makes the calling thread's buffer (NULL:
 * no memory); gort__tracebuf_full hands its full chunk to the writer and
 * returns an empty one, or NULL (the event is dropped: count it with
 * gort__tracebuf_drop); begin opens the spill file and starts the writer
 * (0 or a negative errno); end, once tracing is off and fenced, waits for
 * every busy section, stops the writer, spills what is left and fills
 * *s's spill, mid0, nbufs and drops (0 or a negative errno: the spill is
 * then incomplete); close frees what end left in *s. */
__attribute__((visibility("hidden"))) struct trace_buf *gort__tracebuf_new(
    void);
__attribute__((visibility("hidden"))) struct trace_chunk *gort__tracebuf_full(
    struct trace_buf *b);
__attribute__((visibility("hidden"))) void gort__tracebuf_drop(void);
__attribute__((visibility("hidden"))) int gort__tracebuf_begin(void);
__attribute__((visibility("hidden"))) int gort__tracebuf_end(
    struct trace_session *s);
__attribute__((visibility("hidden"))) void gort__tracebuf_close(
    struct trace_session *s);

/* gort__trace_write converts a stopped session to JSON on fd. Returns 0
 * or a negative errno. */
__attribute__((visibility("hidden"))) int gort__trace_write(
    int fd, const struct trace_session *s);

#endif /* GORT_TRACE_H */
