/*
 * runtime.h: the runtime's internal contract: G, M and P, the park/ready
 * interface every blocking subsystem uses, runtime locks, and the hooks the
 * scheduler calls in the timer and netpoll subsystems.
 *
 * Never installed; included by runtime/, chan/, sync/ and netpoll/ only.
 * docs/HACKING.md tells the same story for readers.
 *
 * Lock order (lowest rank first: a lock may be taken while holding only
 * locks of lower rank; runtime/lockrank.h has every rank and why, and the
 * DEBUG=1 build checks it on every acquire):
 *   ctx mu < gort_timer.mu < channel locks (several only in address order, for
 *   select) < pool < sema root < poll descriptor < sched.lock
 *   < timer (struct timer.mu) < timers (per-P heap) < allglock
 *   < stack pool
 * So timer callbacks and gort__sched_timer_added run with no timer lock
 * held, and gort_maxprocs may move a retired P's timers under sched.lock.
 * A runtime lock blocks the M, never just the G: never park while holding
 * one except through gort__park's unlock callback.
 */
#ifndef GORT_RUNTIME_H
#define GORT_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gort.h>

#include "../arch/context.h"
#include "lock.h"
#include "policy.h"
#include "revocable.h"
#include "timer.h"

#define GORT_HIDDEN __attribute__((visibility("hidden")))

/* Constants from Go's runtime (docs/scheduler.md says where each comes from). */
enum {
    RUNQ_SIZE = 256,          /* local ring per P (Go: len(p.runq)) */
    GLOBAL_FAIR_TICK = 61,    /* check the global queue every 61st tick */
    LIFO_STREAK_MAX = 61,     /* depth-first pops before older work's turn */
    SPAWN_TURN_MAX = RUNQ_SIZE / 2, /* spawns in one turn before a yield */
    STEAL_TRIES = 4,          /* passes over all Ps in stealWork */
    GOID_BATCH = 16,          /* goids cached per P */
    MAX_MPROCS = 10000,       /* thread cap (Go: sched.maxmcount) */
};
#define FORCE_PREEMPT_NS 10000000 /* 10ms time slice (Go: forcePreemptNS) */
/* A P's next pick takes one goroutine from the global queue first when
 * this holds (Go: schedtick%61 == 0 in findRunnable). It names the pick
 * about to happen, schedtick + 1, because direct_next (park.c), which
 * decides whether to enter findrunnable at all, and findrunnable must test
 * the same tick: a test that direct_next passes and findrunnable fails
 * starves the global queue for as long as local goroutines keep
 * switching. */
#define GLOBAL_FAIR_DUE(pp)                                                   \
    (__builtin_expect(!gort__pol.custom, 1)                                   \
         ? ((pp)->schedtick + 1) % GLOBAL_FAIR_TICK == 0                      \
         : gort__pol_fair_due((pp)->schedtick + 1))

/*
 * G states. Each says who owns the stack, whether the G is queued and
 * whether it has an M. Transitions go through gort__g_setstatus, which
 * asserts legality in debug builds.
 */
enum gstatus {
    G_IDLE = 0,     /* just allocated: nobody runs it, not queued */
    G_RUNNABLE = 1, /* on a run queue; stack not in use; no M */
    G_RUNNING = 2,  /* owns its stack, has an M and a P */
    G_SYSCALL = 3,  /* in a system call: has an M, its P may be retaken */
    G_WAITING = 4,  /* parked: recorded on some wait queue; no M */
    G_DEAD = 6,     /* exited; stack about to be freed or cached */
};

/* Why a G is waiting; printed by schedtrace and fatal errors as Go does. */
enum waitreason {
    WAIT_NONE,
    WAIT_CHAN_RECV,       /* "chan receive" */
    WAIT_CHAN_SEND,       /* "chan send" */
    WAIT_CHAN_RECV_NIL,   /* "chan receive (nil chan)" */
    WAIT_CHAN_SEND_NIL,   /* "chan send (nil chan)" */
    WAIT_SELECT,          /* "select" */
    WAIT_SELECT_NO_CASES, /* "select (no cases)" */
    WAIT_SLEEP,           /* "sleep" */
    WAIT_IO,              /* "IO wait" */
    WAIT_SEMACQUIRE,      /* "semacquire" */
    WAIT_MUTEX,           /* "sync.Mutex.Lock" */
    WAIT_RWMUTEX_R,       /* "sync.RWMutex.RLock" */
    WAIT_RWMUTEX_W,       /* "sync.RWMutex.Lock" */
    WAIT_WAITGROUP,       /* "sync.WaitGroup.Wait" */
    WAIT_COND,            /* "sync.Cond.Wait" */
    WAIT_FOREVER,         /* "forever" (park that nothing can end) */
    WAIT_LOCKED_THREAD,   /* "locked to thread" (waiting for its M) */
    WAIT_SYSCALL_EXIT,    /* "syscall exit" (waiting for a P) */
    WAIT_REASON_COUNT
};
GORT_HIDDEN const char *gort__waitreason_str(enum waitreason r);

struct m;
struct p;
struct g;
struct stack_cache;

/* A FIFO of Gs linked through schedlink (Go: gQueue). */
struct gqueue {
    struct g *head, *tail;
    int32_t n;
};

/* A growable FIFO ring of runnable Gs (the global queue, globrunq.c): a
 * take copies pointers and touches no queued G's descriptor under
 * sched.lock. */
struct gring {
    struct g **slot;
    uint32_t head, n, cap;     /* cap: 0 or a power of two */
};


/* A goroutine stack: usable bytes [lo, hi); a guard region lies below lo. */
struct stack {
    uintptr_t lo;              /* lowest usable byte (above the guard) */
    uintptr_t hi;              /* one past the highest byte; 0: none yet */
    uint32_t guard;            /* enum stack_guard (stack.h) */
};

enum { G_INLINE_ARGS = 48 };   /* gort_go_copy bytes kept in the G itself */

/*
 * struct g is a goroutine's descriptor. Descriptors are type-stable: a dead
 * G goes to its P's free list and is reused, never returned to malloc
 * while the runtime runs (Go: gfput/gfget). The stack is attached lazily
 * when the G first runs and returned when it exits, so a goroutine that
 * runs to completion without parking reuses a hot cached stack.
 * Fields are owned by whoever owns the G's state: the M running it
 * (G_RUNNING), the queue holding it (G_RUNNABLE), or the wait queue and its
 * lock (G_WAITING).
 */
struct g {
    struct gort_ctx ctx;       /* saved registers while not running */
    struct stack stk;
    _Atomic uint32_t status;   /* enum gstatus */
    uint32_t waitreason;       /* enum waitreason, set by gort__park */
    uint64_t goid;
    struct g *schedlink;       /* run queue / free list / wait list link */
    struct g *alllink;         /* every G ever made (allglock) */
    struct m *m;               /* M running it, or NULL */
    struct m *lockedm;         /* M it is wired to (lock_os_thread) */
    uint32_t lockcount;        /* gort_lock_os_thread nesting */
    int saved_errno;           /* errno belongs to the M; carried per G */
    _Atomic bool preempt;      /* sysmon asks it to yield at the next call */
    /* gort_async_preempt's choice (enum asyncpreempt_mode, asyncpreempt.c):
     * written by the G itself, read by sysmon. */
    _Atomic uint8_t asyncpreempt;
    /* sysmon took its P while it was stuck in the kernel, and said so
     * under GORT_DEBUG=stuckwarn=1 (once per goroutine; sysmon.c). */
    _Atomic bool stuck_warned;
    /* Transitions to runnable left before the next timed one
     * (gort__lat_runnable): in a padding byte of a line every switch
     * touches, so an untimed switch costs no extra cache line. Owned
     * like lat_stamp below. */
    uint8_t lat_seq;
    uint16_t argsize;          /* gort_go_copy bytes (0: plain arg) */

    void (*fn)(void *);        /* entry point and its argument */
    void *arg;
    /* The creator, for tracebacks (traceback.c): the return address of
     * its gort_go call (0: the main goroutine) and its goid (0: made on
     * g0, by a timer callback). Written at spawn beside fn and arg. */
    uintptr_t gopc;
    uint64_t parentgoid;
    /* When the current wait began, roughly (Go: waitsince, stamped by
     * its GC): 0 at each park; sysmon stamps waiting Gs that have 0 every
     * few seconds (gort__stamp_waiting). Tracebacks print ", N minutes". */
    _Atomic int64_t waitsince;
    /* gort_go_copy arguments up to G_INLINE_ARGS; larger ones are copied
     * to the top of a stack attached at spawn time. */
    _Alignas(16) unsigned char args[G_INLINE_ARGS];

    /* Parking. param carries a wake-up value from the waker to the woken
     * (Go: g.param, e.g. the winning sudog of a select). */
    void *param;

    /* Channels: the sudogs this G waits with (select), and the select's
     * winner flag. Owned by chan/. */
    void *waiting;
    _Atomic uint32_t selectdone;
    /* Deterministic mode (determ.c): the virtual P it is queued on or ran
     * on last. In the padding before the next pointer. */
    uint16_t determ_vp;

    /* Sanitizer state (empty fields cost nothing in normal builds). */
    void *asan_fake_stack;
    void *tsan_fiber;

    /* Scheduling latency sampling (schedlat.c): when the G last became
     * runnable, if that transition was timed; else 0. Owned like the
     * status: written by whoever makes it runnable, before
     * the store-release of G_RUNNABLE, read by the M that starts it. */
    int64_t lat_stamp;
    /* Event trace (trace.c): the flow id of the ready or create that made
     * this G runnable, for its start event; 0: none. */
    uint64_t trace_flow;
};

/*
 * struct p is a processor: the licence to run goroutines, with a run queue,
 * timers and caches. Fields marked "owner" are touched only by the M that
 * holds the P; the run queue is the lock-free exception (thieves read it).
 */
enum pstatus {
    P_IDLE = 0,    /* on sched.pidle; run queue empty; no M */
    P_RUNNING = 1, /* owned by one M */
    P_SYSCALL = 2, /* its M is in a syscall; sysmon may take it */
    P_DEAD = 4,    /* beyond GOMAXPROCS; kept for reuse */
};

struct sysmontick {
    uint32_t schedtick;
    int64_t schedwhen;
    uint32_t syscalltick;
    int64_t syscallwhen;
    struct g *slice_g;         /* the goroutine seen running since */
    int64_t slice_gwhen;       /* ... this time, in the same slice */
    struct g *flagged_g;       /* the last goroutine flagged in this */
    int64_t flagwhen;          /* ... expired slice, and when */
};

struct p {
    int32_t id;
    _Atomic uint32_t status;   /* enum pstatus */
    struct p *link;            /* sched.pidle list (sched.lock) */
    struct m *m;               /* owning M, or NULL when idle */
    struct g *syscall_g;       /* P_SYSCALL: the goroutine in the call,
                                * which still holds its slice (sysmon) */
    uint32_t schedtick;        /* owner: +1 per fresh time slice */
    _Atomic uint32_t syscalltick; /* +1 per syscall */
    struct sysmontick sysmontick; /* sysmon only */

    /* Run queue: single producer (owner), many consumers (thieves).
     * runqhead packs the head position (low 32 bits) with a version
     * (high 32 bits) that every CAS bumps: see runq.c. */
    _Atomic uint64_t runqhead;
    _Atomic uint32_t runqtail;
    struct g *_Atomic runq[RUNQ_SIZE];
    struct g *_Atomic runnext;
    /* Times the owner took runnext (owner-written): a thief that sees it
     * move during its back-off leaves runnext alone (runq.c). */
    _Atomic uint32_t runnext_taken;
    /* Owner-only depth-first bookkeeping (runq.c): how many Gs at the
     * ring's head were pushed there, how many pops in a row served them
     * while older Gs waited, and, while lifo_off, the tail position that
     * must be consumed before the next push at the head. */
    uint32_t runq_front, lifo_streak, lifo_barrier;
    bool lifo_off;
    /* Owner-only: spawns by the running goroutine in the turn that began
     * at schedtick spawn_tick (g.c, spawn_turn_over). */
    uint32_t spawn_tick, spawn_turn;
    /* 1 while the owner is inside a plain (non-locked) run-queue
     * operation of solo mode: the busy word of its revocable section
     * (runq.c, "The solo section"); read by whoever leaves solo mode. */
    _Atomic uint32_t runq_plain;
    bool idle_listed;          /* on sched.pidle (sched.lock) */
    /* Owner-only: a goroutine of ours queued a call for the system-call
     * batcher at schedtick sb_tick, and we have not flushed since. */
    bool sb_queued;
    uint32_t sb_tick;

    /* Owner-only caches. */
    uint64_t goidcache, goidcacheend;
    struct stack_cache *stackcache; /* stack.c */
    struct gqueue gfree;       /* dead Gs for reuse (Go: p.gFree) */
    int32_t stack_credit;      /* stack slots reserved for this P's spawns */

    struct timers timers;      /* timer.h; its own lock */
    /* Counters for gort_stats: written by the owner only, read racily by
     * anyone, so bumped with P_STAT_INC (no locked instruction). */
    _Atomic uint64_t nspawned, nsteals, nstolen, nparks, nyields;
    _Atomic uint64_t nexited;  /* Gs destroyed here (gort__gcount) */
    _Atomic uint64_t ndrainwaits; /* netpoll/net.c: reads that skipped
                                   * their first try (the drained hint) */
    /* Sampled runnable-to-running waits of the Gs this P started, in
     * GORT_LATENCY_BUCKETS log2 buckets, and their sum (schedlat.c);
     * owner-written with P_STAT_INC like the counters above. */
    _Atomic uint64_t lat_bucket[GORT_LATENCY_BUCKETS];
    _Atomic uint64_t lat_sum_ns;
};

/* struct m is an OS thread. Fields are owned by the thread itself unless a
 * comment says otherwise. */
struct m {
    int64_t id;
    struct gort_ctx g0ctx;     /* the scheduler context (thread stack) */
    struct g *curg;            /* goroutine running now, or NULL on g0 */
    struct p *p;               /* attached P, or NULL */
    struct p *nextp;           /* P handed over with a wake-up (sched.lock) */
    struct p *oldp;            /* P held before a syscall */
    struct m *link;            /* sched.midle list (sched.lock) */
    struct m *alllink;         /* sched.allm list */
    struct note park;          /* futex the M sleeps on when idle */
    bool spinning;             /* looking for work (counts in nmspinning) */
    bool is_m0;                /* the thread that called gort_run */
    _Atomic bool exited;
    uint32_t syscalltick;
    uint32_t locks;            /* >0: runtime locks held; no preemption */
    struct g *lockedg;         /* goroutine wired to this M */
    bool idlelocked;           /* asleep until lockedg is handed back
                                * (sched.lock; counted in nmidlelocked) */
    struct g *dead_locked;     /* a wired G that exited: M must exit */

    /* Set by gort__park for the g0 side (Go: waitunlockf/waitlock). */
    bool (*waitunlockf)(struct g *gp, void *arg);
    void *waitlock;
    int after_switch;          /* enum after_switch (sched.c) */
    /* A clock reading the G switching out took just before (gort_sleep):
     * the switch's due-timer check uses it instead of reading the clock
     * again, and clears it (park.c, gort__switch_out). 0: none. */
    int64_t now_hint;
    struct g *prev;            /* G that just switched out, to finish */
    struct g *nextg;           /* G to run next, picked by a switch */
    bool nextg_inherit;

    uint64_t fastrand;
    int *errnop;               /* this thread's &errno */
    void *altstack;            /* sigaltstack memory */
    uintptr_t thread;          /* pthread_t */
    /* Asynchronous preemption (asyncpreempt.c): the thread's kernel id,
     * set before the M runs a goroutine; the preemption signals sysmon
     * sent that the handler has not consumed yet, and the goroutine they
     * were for (written by sysmon, read by the handler on this thread). */
    _Atomic int32_t tid;
    _Atomic uint32_t urg_sent;
    struct g *_Atomic urg_g;
    /* arm64: the register block a resume signal reloads (NULL: none). */
    void *urg_resume;
    void *tsan_fiber;          /* g0's TSan fiber */
    void *asan_fake_stack;
    const void *asan_stack_bottom; /* g0's stack for ASan fiber calls */
    size_t asan_stack_size;

    /* The stuck-thread hand-off (docs/scheduler.md; gort__rt_enter
     * below; sysmon.c). Only sysmon reads them from another thread, and
     * only for a P that has not rescheduled for a whole slice. rt_busy is the busy word
     * of a revocable section (revocable.h): nonzero while the thread runs
     * runtime code (always on g0; on a goroutine from the first
     * gort__rt_enter of a public call to its gort__rt_leave), written by
     * the thread only. rt_revoked is its revoke word: sysmon sets it under
     * sched.lock to take the P of a thread stuck in the kernel outside
     * the runtime, and withdraws it under the lock if the thread was
     * inside; the thread clears it, under the lock, once it knows. */
    _Atomic uint32_t rt_busy;
    _Atomic uint32_t rt_revoked;
};

/* Global scheduler state (Go: sched). */
struct sched {
    struct lock lock;          /* protects the fields below it */
    struct m *midle;           /* idle Ms */
    int32_t nmidle;
    int32_t nmidlelocked;      /* idle Ms with a locked G */
    int64_t mnext;             /* Ms created so far = next id */
    int32_t nmfreed;           /* Ms that exited */
    struct p *pidle;
    _Atomic int32_t npidle;
    _Atomic int32_t nmspinning;
    _Atomic bool needspinning;
    struct gring runq;         /* global run queue (globrunq.c) */
    _Atomic int32_t runqsize;  /* runq.n, for lock-free looks */
    struct m *allm;
    _Atomic uint64_t goidgen;
    /* Goroutines created minus destroyed by Ms without a P; those with
     * one count in their P's nspawned and nexited instead, so spawning
     * and exiting write no line that other Ps read (gort__gcount). */
    _Atomic int64_t ngoroutines_nop;
    _Atomic int32_t nsyscall;  /* Ms inside a syscall */

    /* The blocking poller's, written each time an M starts or ends one. */
    _Alignas(64) _Atomic int64_t lastpoll; /* 0: an M is blocked in
                                * netpoll/timer sleep */
    _Atomic int64_t polluntil; /* when that M wakes */

    /* Read by every switch (stopping), run-queue operation (solo) and
     * steal or timer search (gomaxprocs, allp); written only at start-up,
     * by gort_maxprocs and at the end. On lines of their own: a counter
     * beside them would pull them from every other P's cache. */
    _Alignas(64) _Atomic bool stopping; /* main returned: Ms wind down */
    _Atomic bool solo;         /* one live P: no thieves (p.c, solo mode);
                                * read by every run-queue operation */
    int exit_code;
    _Atomic int32_t gomaxprocs;
    struct p *allp[GORT_MAXPROCS_LIMIT];
    _Atomic uint64_t npreempts, nsyscalls, nhandoffs, nnetpollwaits;
    _Atomic uint64_t nasyncsignals, nasyncpreempts; /* asyncpreempt.c */
    _Atomic uint64_t nstuckhandoffs; /* Ps taken from threads stuck in
                                * the kernel outside the runtime (sysmon.c) */
    _Atomic uint64_t nbatched, nbatchflushes; /* netpoll/sysbatch.c */
    int64_t start_ns;
};

GORT_HIDDEN extern struct sched gort__sched;

/* "One P runs alone now", for the layer above (chan/chanowner.c, the
 * channel owner): gort__sched_alone names pp, the only P off the idle
 * list (solo: the only live P, until gort__sched_alone_end); the end
 * comes before a second P comes to life and returns once the users of
 * the announcement have stopped relying on it. Both under sched.lock. */
GORT_HIDDEN void gort__sched_alone(struct p *pp, bool solo);
GORT_HIDDEN void gort__sched_alone_end(void);

/* P_STAT_INC adds n to an owner-written counter: a relaxed load and store,
 * which, unlike a fetch-add, costs no locked instruction. */
#define P_STAT_INC(field, n)                                                 \
    atomic_store_explicit(&(field),                                          \
                          atomic_load_explicit(&(field),                     \
                                               memory_order_relaxed) + (n),  \
                          memory_order_relaxed)

/* ---- Current M and G ---------------------------------------------------- */

/*
 * gort__getm returns the calling thread's M, or NULL on a thread the runtime
 * does not own. A goroutine may resume on another thread after any park
 * (peer pitfall 1), but a compiler takes the thread pointer for a constant
 * within a function and may keep a TLS address in a register across the
 * call that parked. So the read is one volatile asm statement that loads
 * the thread pointer afresh every time, and its "memory" clobber keeps it
 * from moving across a call. It was an out-of-line function doing the
 * same: inline it saves a call and return in every channel operation and
 * switch (pingpong at 1 P 73 -> 66 ns, chanmpmc 9.6 -> 8.4 ns; m.c). The
 * variable is initial-exec, reached through the GOT, so the same code
 * works in the static and the shared library. Other architectures keep
 * the out-of-line read.
 */
GORT_HIDDEN extern __thread struct m *gort__tls_m;
#if defined(__x86_64__)
static inline struct m *gort__getm(void)
{
    struct m *mp;
    __asm__ volatile("movq gort__tls_m@gottpoff(%%rip), %0\n\t"
                     "movq %%fs:(%0), %0"
                     : "=r"(mp)
                     :
                     : "memory");
    return mp;
}
#elif defined(__aarch64__)
static inline struct m *gort__getm(void)
{
    struct m *mp;
    uintptr_t off;
    __asm__ volatile("mrs %0, tpidr_el0\n\t"
                     "adrp %1, :gottprel:gort__tls_m\n\t"
                     "ldr %1, [%1, #:gottprel_lo12:gort__tls_m]\n\t"
                     "ldr %0, [%0, %1]"
                     : "=&r"(mp), "=&r"(off)
                     :
                     : "memory");
    return mp;
}
#else
#define GORT_GETM_CALL 1
GORT_HIDDEN struct m *gort__getm(void);
#endif

/* gort__getg returns the running goroutine, or NULL on g0 / foreign threads. */
static inline struct g *gort__getg(void)
{
    struct m *mp = gort__getm();
    return mp ? mp->curg : NULL;
}

/* ---- Entering the runtime (the stuck-thread hand-off) ------------------- */

/*
 * A goroutine whose thread blocks in the kernel outside the runtime (a
 * plain read or sleep, not wrapped in GORT_SYSCALL) may lose its P to
 * sysmon (sysmon.c, stuck_take), which hands it to another thread. The
 * thread learns it at its next runtime call, so every public function
 * that touches P-owned state (run queues, runnext, the stack, descriptor
 * and goid caches, timers, the channel owner's plain locks, the batcher)
 * or may switch opens with RT_ENTRY(): a revocable section (revocable.h)
 * on the M's rt_busy and rt_revoked words, closed when the function
 * returns. Inside it, mp->p is the thread's own. g0 is always inside
 * (rt_busy is 1 from M creation on), and a goroutine resumes only inside
 * the runtime call that switched it out, so a switch never happens
 * outside. Nesting is free: an inner call sees rt_busy set, skips the
 * check (the outer one's still holds) and leaves nothing to clear.
 * Functions that touch no P state need no mark: gort_id, gort_now,
 * gort_stats, gort_chan_len, the inline fast paths of <gort/sync.h>
 * (a CAS or a load on the user's own word) and <gort/atomic.h>.
 *
 * gort__rt_enter returns true if the caller opened the section (and
 * gort__rt_leave must close it); false on g0, nested, or on a thread
 * without an M.
 */
GORT_HIDDEN void gort__rt_revoked(struct m *mp);

static inline bool gort__rt_enter(void)
{
    struct m *mp = gort__getm();
    if (!mp || atomic_load_explicit(&mp->rt_busy, memory_order_relaxed))
        return false;
    if (__builtin_expect(!gort__rv_enter(&mp->rt_busy, &mp->rt_revoked), 0))
        gort__rt_revoked(mp); /* syscall.c: maybe our P is gone */
    return true;
}

/* gort__rt_leave closes the section on the thread we return on, which
 * after a park may not be the one we entered on. */
static inline void gort__rt_leave(bool entered)
{
    if (entered)
        gort__rv_leave(&gort__getm()->rt_busy);
}

static inline void gort__rt_leave_at(const bool *entered)
{
    gort__rt_leave(*entered);
}

/* RT_ENTRY() opens the section for the rest of the enclosing block: the
 * cleanup attribute closes it on every return path. */
#define RT_ENTRY()                                                           \
    __attribute__((cleanup(gort__rt_leave_at), unused)) const bool           \
        rt_entered_ = gort__rt_enter()

/* ---- Park and ready (Go: gopark / goready) ------------------------------ */

/*
 * gort__park blocks the calling goroutine. It switches to the M's g0 and,
 * once the goroutine is off its stack, calls unlockf(gp, arg) there. If
 * unlockf returns false the goroutine is made runnable again at once (Go's
 * gopark semantics); if it returns true the goroutine stays G_WAITING until
 * someone calls gort__ready(gp). unlockf may be NULL (keep parked).
 *
 * The contract (docs/HACKING.md):
 *  - Publish gp on a wait queue while holding the queue's lock, then pass
 *    that lock to gort__park_unlock (or release it in unlockf). A waker that
 *    takes the lock afterwards finds gp; because gp is off its stack before
 *    the lock is released, gort__ready can never race with the switch.
 *  - unlockf runs on g0 with the P held: it must not park or allocate a
 *    stack, and should be short.
 *  - Returns when readied, with gp->param as the waker left it.
 * Must be called on a goroutine (not g0), holding no runtime lock other
 * than the one unlockf releases.
 */
GORT_HIDDEN void gort__park(bool (*unlockf)(struct g *gp, void *arg),
                            void *arg, enum waitreason reason);
/* gort__park_g is gort__park for a caller that already holds gp, the
 * running goroutine (gort__getg()), sparing the TLS lookup. */
GORT_HIDDEN void gort__park_g(struct g *gp,
                              bool (*unlockf)(struct g *gp, void *arg),
                              void *arg, enum waitreason reason);

/* gort__park_unlock parks and releases l once off the stack (Go:
 * goparkunlock). */
GORT_HIDDEN void gort__park_unlock(struct lock *l, enum waitreason reason);

/*
 * gort__ready makes a G_WAITING goroutine runnable (Go: goready). It goes to
 * the caller's P's runnext slot, inheriting the time slice, and an idle P is
 * woken if one is free. Callable from a goroutine, from g0 with a P (timers),
 * or from a thread without a P (netpoll, sysmon): then it goes to the global
 * queue. Never parks.
 */
GORT_HIDDEN void gort__ready(struct g *gp);
/* gort__go_copy is gort_go_copy for wrappers that prepend a header of
 * their own to the caller's bytes (gort_wg_go_copy, gort_timer_func_copy):
 * size may exceed GORT_GO_COPY_MAX by that header (g.c). */
GORT_HIDDEN int gort__go_copy(void (*fn)(void *), const void *args,
                              size_t size);

/* gort__ready_list readies a whole list (netpoll results): one G per idle P
 * to the global queue with a woken M each, the rest to the local queue. */
GORT_HIDDEN void gort__ready_list(struct gqueue *q);

/*
 * gort__preempt_park yields the calling goroutine to the global queue
 * because sysmon flagged it (Go: gopreempt_m), unless its M holds a
 * pinned section (m.locks). gort__maybe_preempt is the cheap check that
 * runtime calls holding gp make first, and gort__preempt_point (sync.h)
 * the one for calls that do not: a goroutine that ran past its 10ms slice
 * yields at its next runtime call, whichever it is.
 */
GORT_HIDDEN void gort__preempt_park(void);
static inline void gort__maybe_preempt(struct g *gp)
{
    if (gp && atomic_load_explicit(&gp->preempt, memory_order_relaxed))
        gort__preempt_park();
}

/* ---- Scheduler services for timers and netpoll -------------------------- */

/* gort__sched_timer_added is called after a timer with `when` is added or
 * moved earlier on pp: wakes the M sleeping until the next timer if it would
 * sleep past `when` (Go: wakeNetPoller). Call it with NO timer lock held:
 * it may take sched.lock, which ranks below the timer locks. */
GORT_HIDDEN void gort__sched_timer_added(int64_t when);

/* gort__sched_poll_break interrupts an M blocked waiting for the next timer
 * or in netpoll. */
GORT_HIDDEN void gort__sched_poll_break(void);

/* gort__nanotime: CLOCK_MONOTONIC in ns (vDSO). */
GORT_HIDDEN int64_t gort__nanotime(void);

/* gort__when_after returns the absolute time ns after now, saturating;
 * gort__when_of, ns from now (Go: when). For sleeps and timers alike. */
static inline int64_t gort__when_after(int64_t now, int64_t ns)
{
    if (ns <= 0)
        return now;
    if (ns > INT64_MAX - now)
        return INT64_MAX;
    return now + ns;
}

static inline int64_t gort__when_of(int64_t ns)
{
    return gort__when_after(gort__nanotime(), ns);
}

/* gort__fastrand: a per-M xorshift; cheap, not cryptographic. */
GORT_HIDDEN uint32_t gort__fastrand(void);
GORT_HIDDEN uint32_t gort__fastrandn(uint32_t n);
/* gort__fastrand64: 64 random bits for one TLS look-up (two steps). */
GORT_HIDDEN uint64_t gort__fastrand64(void);

/* gort__throw prints "fatal error: msg", the scheduler state when
 * GORT_DEBUG asks and every goroutine's stack with gort's own frames,
 * and exits with status 2 (Go: throw). All three: runtime/traceback.c. */
GORT_HIDDEN _Noreturn void gort__throw(const char *msg);
/* gort__fatal prints "fatal error: msg" and exits 2, for errors that are
 * the user's (Go's fatal): the goroutine that erred, or every goroutine
 * when raised off one (the deadlock report), user frames only. */
GORT_HIDDEN _Noreturn void gort__fatal(const char *msg);
/* gort__panic prints "panic: msg" plus the goroutine's stack and exits
 * 2 (Go's unrecovered panic, e.g. "sync: negative WaitGroup counter"). */
GORT_HIDDEN _Noreturn void gort__panic(const char *msg);
#ifdef GORT_FUZZ
/* Fuzz build only: called by gort__panic instead of exiting (traceback.c). */
GORT_HIDDEN extern void (*gort__fuzz_panic_hook)(const char *msg);
#endif

/* ---- Netpoll hooks (implemented in netpoll/) ---------------------------- */

/* gort__netpoll_inited: the poller exists (false until the first fd). */
GORT_HIDDEN bool gort__netpoll_inited(void);
/* gort__netpoll_waiting: goroutines are parked on the poller now. */
GORT_HIDDEN bool gort__netpoll_waiting(void);
/*
 * gort__netpoll waits up to delay ns (<0: forever, 0: no wait) and appends
 * the goroutines that became ready to *q (already G_WAITING -> readied by
 * the caller through gort__ready_list). Called by at most one M at a time
 * with delay != 0 (the one that won sched.lastpoll).
 */
GORT_HIDDEN void gort__netpoll(int64_t delay, struct gqueue *q);
/* gort__netpoll_break interrupts a blocking gort__netpoll. */
GORT_HIDDEN void gort__netpoll_break(void);
/* gort__sysbatch_on: the batcher has a ring (it starts with the poller). */
GORT_HIDDEN bool gort__sysbatch_on(void);
/* gort__sysbatch_inq: its reads also report whether they left the socket
 * empty (the drained hint of netpoll/net.c). */
GORT_HIDDEN bool gort__sysbatch_inq(void);
/* gort__sysbatch_pending: socket calls are queued in or out for the
 * system-call batcher (netpoll/sysbatch.c). */
GORT_HIDDEN bool gort__sysbatch_pending(void);
/* gort__sysbatch_flush submits the batch and appends the goroutines whose
 * calls completed to *q (G_WAITING, for gort__ready_list). Never blocks
 * for long: every batched call is non-blocking. */
GORT_HIDDEN void gort__sysbatch_flush(struct gqueue *q);
/* A P whose run queue never empties still flushes calls its goroutines
 * queued this many time slices ago (the batch normally spans one pass
 * over the run queue, and a pass over a full ring is 256 slices). */
#define SYSBATCH_AGE_TICKS 256u
#define SYSBATCH_AGED(pp)                                                    \
    ((pp)->sb_queued && (pp)->schedtick - (pp)->sb_tick >= SYSBATCH_AGE_TICKS)

/* ---- Run queues (runq.c) ------------------------------------------------ */

GORT_HIDDEN void gort__gqueue_push(struct gqueue *q, struct g *gp);
GORT_HIDDEN struct g *gort__gqueue_pop(struct gqueue *q);

GORT_HIDDEN void gort__runq_put(struct p *pp, struct g *gp, bool next);
GORT_HIDDEN void gort__runq_put_spawn(struct p *pp, struct g *gp);
GORT_HIDDEN struct g *gort__runq_get(struct p *pp, bool *inherit);
GORT_HIDDEN struct g *gort__runq_steal(struct p *pp, struct p *victim,
                                       bool stealnext);
GORT_HIDDEN bool gort__runq_empty(struct p *pp);
GORT_HIDDEN uint32_t gort__runq_len(struct p *pp);
GORT_HIDDEN void gort__globrunq_put(struct g *gp);
GORT_HIDDEN void gort__globrunq_put_many(struct g *const *gs, uint32_t n);
GORT_HIDDEN void gort__globrunq_putbatch(struct gqueue *q);
GORT_HIDDEN int32_t gort__globrunq_take(struct p *pp, int32_t max,
                                        struct g **out);
GORT_HIDDEN struct g *gort__globrunq_install(struct p *pp, struct g **got,
                                            int32_t n);
GORT_HIDDEN void gort__globrunq_fini(void);

/* ---- G state ------------------------------------------------------------ */

GORT_HIDDEN _Noreturn void gort__g_badstatus(struct g *gp, uint32_t from,
                                             uint32_t to, uint32_t old);

/* ---- Scheduling latency (schedlat.c) ------------------------------------ */

/* One in gort__lat_period transitions to runnable of each G is timed (Go:
 * gTrackingPeriod, 8). A timed one costs two clock reads, about 30 ns each
 * on a VM's kvm-clock, a third of a pingpong round trip, so the default
 * period is LAT_PERIOD_DEFAULT, not Go's 8 (docs/metrics.md gives the
 * figures); GORT_DEBUG=schedlat=N picks another power of two. Written only
 * before the first goroutine runs (debug.c).
 *
 * struct g.lat_seq counts down to the next timed transition: each one
 * decrements it, and the one that reaches 0 is timed and sets it back to
 * the period. So an untimed transition costs one decrement-and-branch,
 * and a start knows its wait was timed when lat_seq equals the period (a
 * load and a compare), without reading lat_stamp's line. A count left
 * above the period by an earlier, larger period passes the period
 * without a stamp: lat_stamp is 0 then, and gort__lat_record ignores it. */
#define LAT_PERIOD_DEFAULT 64
#define LAT_PERIOD_MAX 128 /* struct g.lat_seq is one byte */
GORT_HIDDEN extern uint8_t gort__lat_period;

/* gort__lat_runnable: gp is about to become runnable; stamp one time in
 * the period. */
static inline void gort__lat_runnable(struct g *gp)
{
    if (__builtin_expect(--gp->lat_seq == 0, 0)) {
        gp->lat_seq = gort__lat_period;
        gp->lat_stamp = gort__nanotime();
    }
}

/* gort__lat_timed: gp's latest transition to runnable was (probably)
 * stamped. */
static inline bool gort__lat_timed(const struct g *gp)
{
    return __builtin_expect(gp->lat_seq == gort__lat_period, 0);
}

/* gort__lat_record adds a stamped G's wait to pp's histogram and clears
 * the stamp; nothing if gp has no stamp. Called by the M that starts gp,
 * holding pp. */
GORT_HIDDEN void gort__lat_record(struct p *pp, struct g *gp);

/* gort__lat_running: gp starts running on pp. */
static inline void gort__lat_running(struct p *pp, struct g *gp)
{
    if (gort__lat_timed(gp))
        gort__lat_record(pp, gp);
}

/* gort__g_setstatus moves gp from `from` to `to`, throwing if gp is not in
 * `from`. Every transition is made by the G's sole owner of the moment
 * (the M running it, or the waker that dequeued it from a wait queue under
 * that queue's lock), so a checked store-release is enough: it pairs with
 * the load-acquire of the next owner, catches double wake-ups in practice,
 * and keeps locked instructions off the switch path. Inline: it is on
 * every park, ready and switch. */
static inline void gort__g_setstatus(struct g *gp, uint32_t from, uint32_t to)
{
    /* load-acquire; pairs with the store-release of the previous owner. */
    uint32_t old = atomic_load_explicit(&gp->status, memory_order_acquire);
    if (__builtin_expect(old != from, 0))
        gort__g_badstatus(gp, from, to, old);
    /* `to` is a constant at every call: this folds away elsewhere. */
    if (to == G_RUNNABLE)
        gort__lat_runnable(gp);
    atomic_store_explicit(&gp->status, to, memory_order_release);
}

/* ---- Notified signals (signal.c; driven by chan/signal.c) ------------- */

/* sig is 1..64 and one gort may catch; the callers serialise. _setfd names
 * the eventfd the handler writes after queueing a signal; _enable installs
 * the queueing handler; _disable puts back the disposition saved before
 * gort first changed sig; _ignore sets SIG_IGN; _ignored: SIG_IGN now;
 * _take returns and clears word w of the pending mask (bit sig-1);
 * _enabled reads word w of the set whose handler is installed;
 * _notifying: some signal is, so a goroutine blocked on a signal channel
 * is not deadlocked (checkdead). */
GORT_HIDDEN void gort__signal_notify_setfd(int fd);
GORT_HIDDEN int gort__signal_notify_enable(int sig);
GORT_HIDDEN int gort__signal_notify_disable(int sig);
GORT_HIDDEN int gort__signal_notify_ignore(int sig);
GORT_HIDDEN bool gort__signal_notify_ignored(int sig);
GORT_HIDDEN uint64_t gort__signal_notify_take(int w);
GORT_HIDDEN uint64_t gort__signal_notify_enabled(int w);
GORT_HIDDEN bool gort__signal_notifying(void);

#endif /* GORT_RUNTIME_H */
