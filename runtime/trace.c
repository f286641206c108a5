/*
 * trace.c: recording the event trace: the global on flag, each thread's
 * buffer, the chunks they fill, the writer thread that spills full chunks
 * to a temporary file, the cheap clock, the emission calls the scheduler
 * makes, gort_trace_start / gort_trace_stop and GORT_TRACE. tracejson.c
 * turns the spilled session into JSON at stop (docs/trace.md).
 *
 * Why spill, and convert only at stop: a ping-pong records 6 events per
 * round trip, some 40 million a second at 2 Ps, while turning one into
 * JSON takes ~0.3 us; converting as it runs would drop most events or
 * steal a CPU from the program (two CPUs here). Keeping every chunk in
 * memory instead costs a first touch of a fresh page every 28 round trips,
 * which on this VM (65 us a page) made tracing 10x slower. So full chunks
 * go, as they are, to an unlinked temporary file (write(2) is fast: the
 * page cache recycles its pages) and come back to a free pool: a session
 * touches a bounded set of pages however long it runs.
 *
 * Invariants:
 *  - A buffer (struct trace_buf) is written by its thread only, and only
 *    between its busy word going to 1 and back to 0; the stopper reads it
 *    only after clearing the flag and seeing busy at 0. Emitter and
 *    stopper form a Dekker pair on (busy, flag), both sequentially
 *    consistent: either the emitter sees the flag off and writes nothing,
 *    or the stopper waits for its event to end.
 *  - A chunk belongs to one of: a thread (its buffer's cur), the full list
 *    (pushed by its thread, taken whole by the writer), the writer, or the
 *    free pool. Chunks of one thread reach the spill file in the order
 *    they were filled, since each thread pushes its own in order and the
 *    writer takes the whole list and reverses it.
 *  - Buffers are never freed (a thread's TLS pointer may outlive any
 *    session); chunks are freed at stop, once the writer has exited.
 *  - At most one session at a time (ctl.mu serializes start and stop).
 * Locking: ctl.mu (a pthread mutex) around start and stop only; emission
 * takes no lock, so it is safe under any runtime lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lfstack.h"
#include "proc.h"
#include "trace.h"

/* The flag on a line of its own: nothing written often shares it. */
struct gort__trace_flag gort__trace = {0};

static struct {
    pthread_mutex_t mu;
    bool running;
    int fd;                       /* where stop writes */
    bool env_fd;                  /* fd was opened for GORT_TRACE */
    int spill;                    /* the temporary file, or -1 */
    pthread_t writer;
    _Atomic bool writer_stop;
    _Atomic uint32_t writer_wake; /* futex word: bumped to wake it */
    _Atomic int spill_err;        /* first write error (negative errno) */
    uint64_t gen;                 /* sessions started */
    uint64_t ticks0;              /* clock at start */
    int64_t ns0;                  /* CLOCK_MONOTONIC at start */
    uint64_t cap_chunks;          /* chunks a session may allocate */
    _Atomic uint64_t nchunks;     /* chunks allocated this session */
    _Atomic uint64_t drops;       /* events lost: pool empty, no memory */
    struct trace_chunk *_Atomic full; /* filled, newest first */
    struct lfstack pool;          /* empty chunks */
    bool asym;                    /* membarrier(2) works: see enter */
    struct trace_chunk *_Atomic all;  /* every chunk of the session */
    struct trace_buf *_Atomic bufs; /* every buffer, newest first */
    _Atomic uint32_t nbufs;
} ctl = {.mu = PTHREAD_MUTEX_INITIALIZER, .spill = -1};

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

/* ---- Buffers ----------------------------------------------------------- */

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

/* buf_new makes the calling thread's buffer and links it for the stopper
 * (a lock-free push: buffers are never unlinked). */
static struct trace_buf *buf_new(void)
{
    struct trace_buf *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    struct m *mp = gort__getm();
    b->mid = mp ? mp->id : -1;
    b->mid0 = b->mid;
    b->idx = atomic_fetch_add(&ctl.nbufs, 1);
    b->next = atomic_load(&ctl.bufs);
    while (!atomic_compare_exchange_weak(&ctl.bufs, &b->next, b))
        ;
    tls_buf = b;
    return b;
}

/* chunk_get gives b an empty chunk: from the pool, else a new one within
 * the session's budget; NULL when neither (the event is dropped). */
static struct trace_chunk *chunk_get(struct trace_buf *b)
{
    struct trace_chunk *c =
        lfstack_pop(&ctl.pool, offsetof(struct trace_chunk, next));
    if (!c) {
        if (atomic_fetch_add_explicit(&ctl.nchunks, 1,
                                      memory_order_relaxed) >= ctl.cap_chunks)
            return NULL;
        if (!(c = malloc(sizeof *c)))
            return NULL;
        c->all = atomic_load(&ctl.all);
        while (!atomic_compare_exchange_weak(&ctl.all, &c->all, c))
            ;
    }
    c->next = NULL;
    c->len = 0;
    c->idx = b->idx;
    b->cur = c;
    return c;
}

/* chunk_full hands b's chunk to the writer (a Treiber push: the writer
 * takes the whole list at once, so no ABA), waking it if the list was
 * empty, and takes another. */
static struct trace_chunk *chunk_full(struct trace_buf *b)
{
    struct trace_chunk *c = b->cur;
    b->cur = NULL;
    if (c) {
        struct trace_chunk *head = atomic_load(&ctl.full);
        do
            c->next = head;
        while (!atomic_compare_exchange_weak(&ctl.full, &head, c));
        if (!head) {
            atomic_fetch_add(&ctl.writer_wake, 1);
            gort__futex_wake(&ctl.writer_wake, 1);
        }
    }
    return chunk_get(b);
}

/* spill_chunk appends c to the temporary file: its thread, its length,
 * its words. */
static void spill_chunk(const struct trace_chunk *c)
{
    if (!c->len || atomic_load(&ctl.spill_err))
        return;
    uint32_t hdr[2] = {c->idx, c->len};
    struct iovec iov[2] = {{hdr, sizeof hdr},
                           {(void *)c->w, c->len * sizeof c->w[0]}};
    size_t want = iov[0].iov_len + iov[1].iov_len;
    ssize_t n;
    do
        n = writev(ctl.spill, iov, 2);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)want) {
        int zero = 0;
        atomic_compare_exchange_strong(&ctl.spill_err, &zero,
                                       n < 0 ? -errno : -EIO);
    }
}

/* writer is the spilling thread: it takes the full list, writes it oldest
 * first, and returns the chunks to the pool; at writer_stop it drains the
 * list once more and ends. It never emits events. */
static void *writer(void *arg)
{
    (void)arg;
    for (;;) {
        uint32_t w = atomic_load(&ctl.writer_wake);
        bool stop = atomic_load(&ctl.writer_stop);
        struct trace_chunk *c = atomic_exchange(&ctl.full, NULL), *fifo = NULL;
        while (c) { /* reverse: oldest first */
            struct trace_chunk *next = c->next;
            c->next = fifo;
            fifo = c;
            c = next;
        }
        for (c = fifo; c;) {
            struct trace_chunk *next = c->next;
            spill_chunk(c);
            lfstack_push(&ctl.pool, c, (void **)&c->next);
            c = next;
        }
        if (stop)
            return NULL;
        if (!fifo)
            gort__futex_wait(&ctl.writer_wake, w, 100000000);
    }
}

static inline uint64_t ctx_word(struct m *mp)
{
    if (!mp)
        return 0;
    uint64_t p = mp->p ? (uint64_t)mp->p->id + 1 : 0;
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
        !(c = chunk_full(tb))) {
        atomic_fetch_add_explicit(&ctl.drops, 1, memory_order_relaxed);
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
    if (__builtin_expect(!tb, 0) && !(tb = buf_new()))
        atomic_fetch_add_explicit(&ctl.drops, 1, memory_order_relaxed);
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
    struct m *mp = gort__getm();
    emit(mp, ev, small, ctx_word(mp), a, b);
}

/* A flow id: the session in the top 8 bits, the thread's buffer next,
 * then its own count, so ids are unique without a shared counter. */
static uint64_t flow_new(void)
{
    struct trace_buf *tb = tls_buf;
    if (!tb && !(tb = buf_new()))
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
    uint64_t p = mp->p ? (uint64_t)mp->p->id + 1 : 0;
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

/* The chunk budget: GORT_TRACEBUF bytes, with an optional k, m or g
 * suffix (default 64m). Chunks come back from the writer, so this bounds
 * the events waiting to be spilled, not the trace. */
static uint64_t budget_chunks(void)
{
    uint64_t bytes = 64ull << 20;
    const char *env = getenv("GORT_TRACEBUF");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        int shift = *end == 'k' || *end == 'K'   ? 10
                    : *end == 'm' || *end == 'M' ? 20
                    : *end == 'g' || *end == 'G' ? 30
                                                 : 0;
        if (shift)
            end++;
        if (!*end && v > 0 && v < (1ull << (63 - shift)))
            bytes = (uint64_t)v << shift;
    }
    uint64_t n = bytes / sizeof(struct trace_chunk);
    return n ? n : 1;
}

/* spill_open makes the unlinked temporary file chunks go to. */
static int spill_open(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[4096];
    snprintf(path, sizeof path, "%s/gort-trace-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unlink(path);
    return fd;
}

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
    int spill = spill_open();
    if (spill < 0)
        return spill;
    clock_probe();
    ctl.fd = fd;
    ctl.spill = spill;
    ctl.cap_chunks = budget_chunks();
    atomic_store(&ctl.nchunks, 0);
    atomic_store(&ctl.drops, 0);
    atomic_store(&ctl.spill_err, 0);
    atomic_store(&ctl.writer_stop, false);
    ctl.gen++;
    /* Every buffer starts the session empty: the last stop freed the
     * chunks, and nobody writes a buffer while the flag is off. */
    for (struct trace_buf *b = atomic_load(&ctl.bufs); b; b = b->next) {
        b->cur = NULL;
        b->mid0 = b->mid;
        b->nflow = 0;
    }
    /* The writer takes no signals: they are the program's and gort's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&ctl.writer, NULL, writer, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        close(spill);
        ctl.spill = -1;
        return -err;
    }
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
    uint32_t nbufs = atomic_load(&ctl.nbufs);
    struct trace_buf *bufs = atomic_load(&ctl.bufs);
    for (struct trace_buf *b = bufs; b; b = b->next)
        while (atomic_load(&b->busy))
            sched_yield(); /* an event being written: a few instructions */
    atomic_store(&ctl.writer_stop, true);
    atomic_fetch_add(&ctl.writer_wake, 1);
    gort__futex_wake(&ctl.writer_wake, 1);
    pthread_join(ctl.writer, NULL);
    /* What the threads were filling goes last: after their full chunks. */
    int64_t *mid0 = calloc(nbufs ? nbufs : 1, sizeof *mid0);
    for (struct trace_buf *b = bufs; b; b = b->next) {
        if (b->cur)
            spill_chunk(b->cur);
        b->cur = NULL;
        if (mid0 && b->idx < nbufs)
            mid0[b->idx] = b->mid0;
    }
    for (struct trace_chunk *c = atomic_exchange(&ctl.all, NULL), *next; c;
         c = next) {
        next = c->all;
        free(c);
    }
    ctl.pool = (struct lfstack){0};
    /* Short sessions: widen the calibration window to 2 ms, so ticks per
     * ns is known to about 0.1%. */
    int64_t span = ns_end - ctl.ns0;
    if (use_tsc && span < 2000000) {
        struct timespec ts = {0, 2000000 - span};
        nanosleep(&ts, NULL);
    }
    uint64_t t1 = ticks_now() - ctl.ticks0;
    int64_t n1 = gort__nanotime() - ctl.ns0;
    struct trace_session s = {
        .spill = ctl.spill,
        .mid0 = mid0,
        .nbufs = nbufs,
        .drops = atomic_load(&ctl.drops),
        .ticks_end = ticks_end - ctl.ticks0,
        .ns_per_tick = use_tsc && t1 ? (double)n1 / (double)t1 : 1.0,
        .clock = clock_name(),
    };
    int err = atomic_load(&ctl.spill_err);
    if (!mid0)
        err = -ENOMEM;
    if (!err)
        err = gort__trace_write(ctl.fd, &s);
    free(mid0);
    close(ctl.spill);
    ctl.spill = -1;
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
