/*
 * trace.c: recording the event trace: the global on flag, the cheap
 * clock, the emission calls the scheduler makes, gort_trace_start /
 * gort_trace_stop and GORT_TRACE. tracebuf.c holds the buffers and spills
 * them; tracejson.c turns the spilled session into JSON at stop
 * (docs/trace.md).
 *
 * Invariants:
 *  - A buffer (struct trace_buf) is written by its thread only, and only
 *    between its busy word going to 1 and back to 0; the stopper reads it
 *    only after clearing the flag and seeing busy at 0. Emitter and
 *    stopper form a Dekker pair on (busy, flag), both sequentially
 *    consistent (or, where membarrier(2) works, a plain store on the
 *    emitter's side and a membarrier on the stopper's: see enter):
 *    either the emitter sees the flag off and writes nothing, or the
 *    stopper waits for its event to end.
 *  - At most one session at a time (ctl.mu serializes start and stop).
 * Locking: ctl.mu (a pthread mutex) around start and stop only; emission
 * takes no lock, so it is safe under any runtime lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "determ.h"
#include "proc.h"
#include "trace.h"

/* The flag on a line of its own: nothing written often shares it. */
struct gort__trace_flag gort__trace = {0};

static struct {
    pthread_mutex_t mu;
    bool running;
    int fd;                       /* where stop writes */
    bool env_fd;                  /* fd was opened for GORT_TRACE */
    bool asym;                    /* membarrier(2) works: see enter */
    uint64_t gen;                 /* sessions started */
    uint64_t ticks0;              /* clock at start */
    int64_t ns0;                  /* CLOCK_MONOTONIC at start */
} ctl = {.mu = PTHREAD_MUTEX_INITIALIZER};

static __thread struct trace_buf *tls_buf;
static __thread uintptr_t tls_park_obj; /* gort__trace_park_obj's */

/* ---- The clock -------------------------------------------------------------
 * The time-stamp counter where it ticks at a constant rate in every state
 * and on every CPU (invariant TSC, CPUID 0x80000007 EDX bit 8; on arm64
 * the generic timer always does): one instruction, 12 ns of CPU time on
 * the development VM against 30 ns for clock_gettime (loops of 5 million
 * each). Ticks are turned into
 * nanoseconds at stop from two readings of CLOCK_MONOTONIC, one at start,
 * one at stop. Elsewhere, CLOCK_MONOTONIC itself. */
static bool use_tsc;

static void clock_probe(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
                     : "a"(0x80000000u), "c"(0));
    if (a >= 0x80000007u) {
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
                         : "a"(0x80000007u), "c"(0));
        use_tsc = (d >> 8) & 1;
    }
#elif defined(__aarch64__)
    use_tsc = true;
#endif
}

static const char *clock_name(void)
{
#if defined(__aarch64__)
    return "cntvct";
#else
    return use_tsc ? "tsc" : "monotonic";
#endif
}

static inline uint64_t ticks_now(void)
{
    if (DETERM()) /* virtual ns: two runs of one seed stamp alike */
        return (uint64_t)gort__determ_now();
#if defined(__x86_64__)
    if (__builtin_expect(use_tsc, 1)) {
        unsigned lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return ((uint64_t)hi << 32 | lo);
    }
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
#endif
    return (uint64_t)gort__nanotime();
}

/* ---- Emitting ---------------------------------------------------------- */

static const uint8_t ev_nargs[TEV_COUNT] = {
    [TEV_GO_CREATE] = 2, [TEV_GO_START] = 1, [TEV_GO_PARK] = 1,
    [TEV_GO_READY] = 2,  [TEV_STEAL] = 2,    [TEV_HANDOFF] = 1,
    [TEV_NETPOLL] = 1,   [TEV_TIMER] = 2,    [TEV_PROCS] = 2,
    [TEV_P_ACQUIRE] = 1, [TEV_P_RELEASE] = 1, [TEV_M_START] = 1,
};

unsigned gort__trace_ev_nargs(unsigned ev)
{
    return ev < TEV_COUNT ? ev_nargs[ev] : 0;
}

/* p_word is the P an event names, plus one (0: none): in the
 * deterministic mode the virtual P the goroutine runs on. */
static inline uint64_t p_word(struct m *mp, struct g *gp)
{
    if (!mp->p)
        return 0;
    if (DETERM() && gp)
        return (uint64_t)gp->determ_vp + 1;
    return (uint64_t)mp->p->id + 1;
}

static inline uint64_t ctx_word(struct m *mp)
{
    if (!mp)
        return 0;
    uint64_t p = p_word(mp, mp->curg);
    uint64_t goid = mp->curg ? mp->curg->goid : 0;
    return p << 48 | (goid & 0xffffffffffffull);
}

/*
 * Writing events: enter opens the buffer's busy section and returns its
 * chunk with room for two events (or NULL: the flag went off, or no chunk
 * is left, a drop), put appends one event, leave closes the section.
 *
 * The Dekker pair with the stopper: busy = 1, then the flag; the stopper
 * clears the flag, then reads busy. Where membarrier(2) works (ctl.asym)
 * the emitter's half is a plain store and a compiler fence, and the
 * stopper runs a membarrier that makes every thread's store visible
 * (revocable.h's asymmetric Dekker): an xchg less per event.
 */
enum { ROOM = 12 }; /* an M_START and two of the largest events (4 words) */

static inline struct trace_chunk *enter(struct trace_buf *tb)
{
    if (ctl.asym) {
        atomic_store_explicit(&tb->busy, 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    } else {
        atomic_store(&tb->busy, 1);
    }
    if (!atomic_load_explicit(&gort__trace.on, memory_order_relaxed)) {
        atomic_store_explicit(&tb->busy, 0, memory_order_release);
        return NULL;
    }
    struct trace_chunk *c = tb->cur;
    if (__builtin_expect(!c || c->len + ROOM > TRACE_CHUNK_WORDS, 0) &&
        !(c = gort__tracebuf_full(tb))) {
        gort__tracebuf_drop();
        atomic_store_explicit(&tb->busy, 0, memory_order_release);
        return NULL;
    }
    return c;
}

static inline void put(struct trace_chunk *c, uint64_t t, unsigned ev,
                       unsigned small, uint64_t ctx, uint64_t a, uint64_t b)
{
    uint64_t *w = c->w + c->len;
    w[0] = t << 16 | (uint64_t)ev << 8 | (small & 0xff);
    w[1] = ctx;
    w[2] = a;  /* unused words are overwritten by the next event */
    w[3] = b;
    c->len += 2 + ev_nargs[ev];
}

static inline void leave(struct trace_buf *tb)
{
    atomic_store_explicit(&tb->busy, 0, memory_order_release);
}

/* stamp reads the clock for the events about to be put, first naming the
 * thread's new M if it changed since its buffer was made (gort_run's
 * caller becomes m0). */
static inline uint64_t stamp(struct trace_buf *tb, struct trace_chunk *c,
                             struct m *mp, uint64_t ctx)
{
    uint64_t t = ticks_now() - ctl.ticks0;
    int64_t mid = mp ? mp->id : -1;
    if (__builtin_expect(mid != tb->mid, 0)) {
        tb->mid = mid;
        put(c, t, TEV_M_START, 0, ctx, (uint64_t)mid, 0);
    }
    return t;
}

static inline struct trace_buf *my_buf(void)
{
    struct trace_buf *tb = tls_buf;
    if (__builtin_expect(!tb, 0)) {
        if ((tb = gort__tracebuf_new()))
            tls_buf = tb;
        else
            gort__tracebuf_drop();
    }
    return tb;
}

/* emit writes one event with context word ctx. */
static void emit(struct m *mp, unsigned ev, unsigned small, uint64_t ctx,
                 uint64_t a, uint64_t b)
{
    struct trace_buf *tb = my_buf();
    struct trace_chunk *c;
    if (!tb || !(c = enter(tb)))
        return;
    put(c, stamp(tb, c, mp, ctx), ev, small, ctx, a, b);
    leave(tb);
}

void gort__trace_ev(unsigned ev, unsigned small, uint64_t a, uint64_t b)
{
    if (DETERM() && ev == TEV_TIMER) /* an address: name it by an id */
        a = gort__determ_objid(a);
    struct m *mp = gort__getm();
    emit(mp, ev, small, ctx_word(mp), a, b);
}

/* A flow id: the session in the top 8 bits, the thread's buffer next,
 * then its own count, so ids are unique without a shared counter. */
static uint64_t flow_new(void)
{
    struct trace_buf *tb = my_buf();
    if (!tb)
        return 0;
    return (ctl.gen & 0xff) << 56 | (uint64_t)(tb->idx & 0xfffff) << 36 |
           (++tb->nflow & 0xfffffffffull);
}

void gort__trace_ready(struct g *gp)
{
    gp->trace_flow = flow_new();
    gort__trace_ev(TEV_GO_READY, 0, gp->goid, gp->trace_flow);
}

void gort__trace_create(struct g *gp)
{
    gp->trace_flow = flow_new();
    gort__trace_ev(TEV_GO_CREATE, 0, gp->goid, gp->trace_flow);
}

static inline uint64_t start_ctx(struct m *mp, struct g *gp)
{
    uint64_t p = p_word(mp, gp);
    return p << 48 | (gp->goid & 0xffffffffffffull);
}

static void start_g(struct m *mp, struct g *gp)
{
    emit(mp, TEV_GO_START, 0, start_ctx(mp, gp), gp->trace_flow, 0);
    gp->trace_flow = 0;
}

void gort__trace_park_obj(const void *obj)
{
    tls_park_obj = (uintptr_t)obj;
}

void gort__trace_start_g(struct g *gp)
{
    start_g(gort__getm(), gp);
}

/* gort__trace_switch puts gp's end and next's start in one busy section
 * with one clock reading: a direct switch is one instant. */
void gort__trace_switch(struct g *gp, int action, struct g *next)
{
    struct m *mp = gp->m;
    unsigned ev;
    uint64_t obj = 0;
    switch (action) {
    case AFTER_PARK:
        ev = TEV_GO_PARK;
        obj = tls_park_obj ? tls_park_obj : (uintptr_t)mp->waitlock;
        tls_park_obj = 0;
        if (DETERM()) /* ids, not addresses, which differ run to run */
            obj = gort__determ_objid(obj);
        break;
    case AFTER_YIELD: ev = TEV_GO_YIELD; break;
    case AFTER_PREEMPT: ev = TEV_GO_PREEMPT; break;
    case AFTER_EXIT: ev = TEV_GO_END; break;
    case AFTER_SYSCALL: ev = TEV_GO_BLOCKSYS; break;
    default: return;
    }
    struct trace_buf *tb = my_buf();
    struct trace_chunk *c;
    if (!tb || !(c = enter(tb)))
        return;
    uint64_t ctx = ctx_word(mp);
    uint64_t t = stamp(tb, c, mp, ctx);
    put(c, t, ev, action == AFTER_PARK ? gp->waitreason : 0, ctx, obj, 0);
    if (next) {
        put(c, t, TEV_GO_START, 0, start_ctx(mp, next), next->trace_flow, 0);
        next->trace_flow = 0;
    }
    leave(tb);
}

/* ---- Start and stop ---------------------------------------------------- */

/* asym_ok registers for expedited membarrier(2) and says whether the
 * stopper may use it (enter). Not under TSan, which cannot see the
 * barrier's ordering. */
static bool asym_ok(void)
{
#if defined(__SANITIZE_THREAD__)
    return false;
#else
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    return cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
           syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                   0, 0) == 0;
#endif
}

static int start_locked(int fd)
{
    if (ctl.running)
        return -EBUSY;
    int err = gort__tracebuf_begin();
    if (err)
        return err;
    clock_probe();
    ctl.fd = fd;
    ctl.gen++;
    ctl.asym = asym_ok();
    ctl.ns0 = gort__nanotime();
    ctl.ticks0 = ticks_now();
    ctl.running = true;
    atomic_store(&gort__trace.on, 1);
    /* The caller's own goroutine is running already: say so, so its
     * track does not begin blank. */
    struct m *mp = gort__getm();
    if (mp && mp->curg)
        start_g(mp, mp->curg);
    else if (mp && mp->p)
        gort__trace_ev(TEV_P_ACQUIRE, 0, (uint64_t)mp->p->id, 0);
    return 0;
}

int gort_trace_start(int fd)
{
    RT_ENTRY(); /* start_locked reads the caller's P */
    if (fd < 0)
        return -EBADF;
    pthread_mutex_lock(&ctl.mu);
    int err = start_locked(fd);
    pthread_mutex_unlock(&ctl.mu);
    return err;
}

/* stop_locked ends the session: quiesces the emitters, stops the writer,
 * spills what is left, converts and frees the session's chunks. */
static int stop_locked(void)
{
    if (!ctl.running)
        return -ENOENT;
    atomic_store(&gort__trace.on, 0);
    /* Every emitter's busy store is now visible, or its flag load will
     * see 0 (enter). */
    if (ctl.asym &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        gort__throw("membarrier failed after registration");
    uint64_t ticks_end = ticks_now();
    int64_t ns_end = gort__nanotime();
    struct trace_session s = {0};
    int err = gort__tracebuf_end(&s);
    /* Short sessions: widen the calibration window to 2 ms, so ticks per
     * ns is known to about 0.1%. */
    int64_t span = ns_end - ctl.ns0;
    bool tsc = use_tsc && !DETERM();
    if (tsc && span < 2000000) {
        struct timespec ts = {0, 2000000 - span};
        nanosleep(&ts, NULL);
    }
    uint64_t t1 = ticks_now() - ctl.ticks0;
    int64_t n1 = gort__nanotime() - ctl.ns0;
    s.ticks_end = ticks_end - ctl.ticks0;
    s.ns_per_tick = tsc && t1 ? (double)n1 / (double)t1 : 1.0;
    s.clock = DETERM() ? "virtual" : clock_name();
    if (!err)
        err = gort__trace_write(ctl.fd, &s);
    gort__tracebuf_close(&s);
    if (ctl.env_fd)
        close(ctl.fd);
    ctl.env_fd = false;
    ctl.running = false;
    return err;
}

int gort_trace_stop(void)
{
    /* Converting takes a while: from a goroutine, let the P go on
     * without us, as in any long system call. */
    struct m *mp = gort__getm();
    bool sys = mp && mp->curg && mp->p;
    if (sys)
        gort_syscall_enter();
    pthread_mutex_lock(&ctl.mu);
    int err = stop_locked();
    pthread_mutex_unlock(&ctl.mu);
    if (sys)
        gort_syscall_exit();
    return err;
}

/* ---- gort_run's hooks ---------------------------------------------------- */

void gort__trace_run_begin(void)
{
    const char *path = getenv("GORT_TRACE");
    if (!path || !*path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "gort: GORT_TRACE=%s: %s\n", path, strerror(errno));
        return;
    }
    pthread_mutex_lock(&ctl.mu);
    int err = start_locked(fd); /* -EBUSY: a trace started by hand goes on */
    if (err == 0)
        ctl.env_fd = true;
    pthread_mutex_unlock(&ctl.mu);
    if (err)
        close(fd);
}

void gort__trace_run_end(void)
{
    pthread_mutex_lock(&ctl.mu);
    if (ctl.running) {
        int err = stop_locked();
        if (err)
            fprintf(stderr, "gort: writing the trace: %s\n", strerror(-err));
    }
    pthread_mutex_unlock(&ctl.mu);
}
