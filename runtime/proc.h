/*
 * proc.h: what the scheduler's files share with each other (sched.c,
 * proc.c, sysmon.c, syscall.c, debug.c) and nobody else.
 */
#ifndef GORT_PROC_H
#define GORT_PROC_H

#include <signal.h>

#include "runtime.h"

/* What g0 does after a goroutine switched to it (struct m.after_switch). */
enum after_switch {
    AFTER_PARK = 1,    /* gort__park: run waitunlockf */
    AFTER_YIELD,       /* gort_yield: to the tail of the local queue */
    AFTER_PREEMPT,     /* time slice used up: to the global queue */
    AFTER_EXIT,        /* the goroutine ended */
    AFTER_SYSCALL,     /* gort_syscall_exit found no P */
};

/* sched.c */
__attribute__((visibility("hidden"))) void gort__schedule(struct m *mp);
__attribute__((visibility("hidden"))) void gort__switch_out(struct g *gp,
                                                            int action);
__attribute__((visibility("hidden"))) struct m *gort__finish_switch(void);
__attribute__((visibility("hidden"))) void gort__wakep(void);
__attribute__((visibility("hidden"))) void gort__startm(struct p *pp,
                                                        bool spinning);
__attribute__((visibility("hidden"))) void gort__handoffp(struct p *pp);
__attribute__((visibility("hidden"))) void gort__acquirep(struct m *mp,
                                                          struct p *pp);
__attribute__((visibility("hidden"))) struct p *gort__releasep(struct m *mp);
__attribute__((visibility("hidden"))) struct p *gort__pidleget(void);
__attribute__((visibility("hidden"))) void gort__pidleput(struct p *pp);
__attribute__((visibility("hidden"))) void gort__checkdead(void);
__attribute__((visibility("hidden"))) void gort__setm(struct m *mp);

/* park.c */
__attribute__((visibility("hidden"))) void gort__execute(struct m *mp,
                                                         struct g *gp,
                                                         bool inherit);

/* g.c */
__attribute__((visibility("hidden"))) void gort__g_destroy(struct m *mp,
                                                           struct g *gp);
__attribute__((visibility("hidden"))) void gort__g_start(struct g *gp);
__attribute__((visibility("hidden"))) int gort__newproc(
    void (*fn)(void *), void *arg, const void *args, size_t size,
    bool is_main, const void *gopc);
__attribute__((visibility("hidden"))) void gort__g_flush(struct p *pp);
__attribute__((visibility("hidden"))) void gort__g_fini(void);
/* g.c: stamp waiting Gs' wait start (sysmon). */
__attribute__((visibility("hidden"))) void gort__stamp_waiting(int64_t now);
/* g.c: fn on every G descriptor, lock-free (traceback.c). */
__attribute__((visibility("hidden"))) void gort__forallg(
    void (*fn)(struct g *gp, void *arg), void *arg);
/* g.c: goroutines alive, summed over the Ps' counters (Go: gcount). */
__attribute__((visibility("hidden"))) int64_t gort__gcount(void);

/* m.c */
__attribute__((visibility("hidden"))) int64_t gort__m_reserve_id(void);

/* p.c: solo mode (one live P, so nobody steals: runq.c skips its CAS). */
__attribute__((visibility("hidden"))) void gort__solo_init(void);
__attribute__((visibility("hidden"))) void gort__solo_update(void);
__attribute__((visibility("hidden"))) int gort__newm(struct p *pp,
                                                     bool spinning,
                                                     int64_t id);
__attribute__((visibility("hidden"))) bool gort__stopm(struct m *mp);
__attribute__((visibility("hidden"))) struct m *gort__m_alloc(void);
__attribute__((visibility("hidden"))) extern _Atomic int32_t gort__mlive;
__attribute__((visibility("hidden"))) extern sigset_t gort__sigmask;

/* p.c */
__attribute__((visibility("hidden"))) struct p *gort__p_alloc(int32_t id);
__attribute__((visibility("hidden"))) void gort__retire_p(struct p *pp);
__attribute__((visibility("hidden"))) int gort__default_procs(void);
__attribute__((visibility("hidden"))) int gort__maxprocs_take(void);

/* proc.c */
__attribute__((visibility("hidden"))) extern _Atomic bool gort__running;
__attribute__((visibility("hidden"))) void gort__stop_wake_all(void);

/* sysmon.c */
__attribute__((visibility("hidden"))) int gort__sysmon_start(void);
__attribute__((visibility("hidden"))) void gort__sysmon_stop(void);
__attribute__((visibility("hidden"))) void gort__sysmon_wake(void);
/* sysmon.c: a timer due at `when` became the earliest of its P; wakes
 * sysmon if it sleeps much past that (timer_due_check). */
__attribute__((visibility("hidden"))) void gort__sysmon_timer_added(
    int64_t when);
__attribute__((visibility("hidden"))) void gort__schedtrace(bool detail,
                                                          bool crashing);

/* signal.c */
__attribute__((visibility("hidden"))) int gort__signal_init(void);
__attribute__((visibility("hidden"))) int gort__signal_m_init(struct m *mp);
__attribute__((visibility("hidden"))) void gort__signal_m_fini(struct m *mp);

/* asyncpreempt.c: asynchronous preemption (docs/scheduler.md). _init runs
 * in gort_run before any M (CPU features, the code table); _m_init on each
 * M's thread before it runs a goroutine; _signal is sysmon's hook at the
 * end of a slice (true: a signal went); _handle is the SIGURG handler's
 * body (true: the signal was gort's, consumed); _fini after every M
 * stopped. */
__attribute__((visibility("hidden"))) void gort__asyncpreempt_init(void);
/* m.c: the state letter of thread tid in /proc/self/task/TID/stat ('R'
 * running or runnable, 'S' asleep, 'D' in uninterruptible wait, ...), or
 * 0 when it cannot be read. One open, read and close. */
__attribute__((visibility("hidden"))) char gort__thread_state(int32_t tid);
__attribute__((visibility("hidden"))) bool gort__asyncpreempt_signal(
    struct p *pp, struct g *gp);
__attribute__((visibility("hidden"))) bool gort__asyncpreempt_handle(
    siginfo_t *si, void *uc);
__attribute__((visibility("hidden"))) void gort__asyncpreempt_fini(void);
/* signal.c: SIGURG reaches gort's handler now (nobody replaced it). */
__attribute__((visibility("hidden"))) bool gort__signal_urg_ours(void);

/* debug.c: copies a versioned struct (one with a uint32_t `size` field
 * at size_off) out to a caller whose copy may be older (smaller) or newer
 * (larger): what both know is copied with `size` set to its length, and
 * the caller's unknown tail is zeroed. */
__attribute__((visibility("hidden"))) void gort__copy_sized(
    void *dst, size_t dst_size, void *src, size_t src_size, size_t size_off);

/* schedlat.c: adds P pp's latency buckets and sum to the caller's. */
__attribute__((visibility("hidden"))) void gort__lat_add(struct p *pp,
                                                         uint64_t *buckets,
                                                         uint64_t *sum);

/* schedlat.c: GORT_DEBUG=schedlat=N (the latency sampling period). */
__attribute__((visibility("hidden"))) void gort__lat_set_period(int64_t n);
/* schedlat.c: the first sampling count of the i-th G of a new chunk. */
__attribute__((visibility("hidden"))) void gort__lat_init(struct g *gp,
                                                          unsigned i);

/* Debug settings from GORT_DEBUG (debug.c). */
struct debug_settings {
    int64_t schedtrace_ms;
    bool scheddetail;
    bool solo;         /* solo mode allowed (default; solo=0 turns it off) */
    bool plainchan;    /* plain channel locks (default; plainchan=0) */
    bool chanowner;    /* ... also with several Ps, while one runs
                        * (default; chanowner=0: only with one live P) */
    bool asyncpreempt; /* asyncpreempt=1: signal goroutines that run
                        * past their slice (off by default) */
    bool nobatch;      /* batch=0: no system-call batcher (zero, the
                        * default, holds before gort_run parses too) */
    bool membarrier;   /* membarrier(2) allowed (default; membarrier=0:
                        * every handshake uses its fallback) */
    bool stuckhandoff; /* take the P of a thread stuck in the kernel
                        * (default; stuckhandoff=0 turns it off) */
    bool stuckwarn;    /* stuckwarn=1: one line per goroutine whose P
                        * was taken that way */
    bool deterministic; /* deterministic=SEED: determ.c's mode */
    uint64_t determ_seed;
};
__attribute__((visibility("hidden"))) extern struct debug_settings gort__debug;
__attribute__((visibility("hidden"))) int gort__debug_parse(void);
/* gort__parse_maxprocs reads a GORT_MAXPROCS value: a positive decimal
 * integer, capped at GORT_MAXPROCS_LIMIT. 0 or -EINVAL (proc.c). */
__attribute__((visibility("hidden"))) int gort__parse_maxprocs(const char *s,
                                                               int *procs);

#endif /* GORT_PROC_H */
