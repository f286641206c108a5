/*
 * m.c: Ms, the OS threads: thread-local identity, creation (Go: newm,
 * mstart), the idle M list, stopping and starting Ms, and spinning (Go:
 * stopm, startm, wakep).
 *
 * Invariants:
 *  - An M on sched.midle holds no P and sleeps on its note; whoever takes
 *    it off the list sets m.nextp (or NULL: the runtime is stopping) and
 *    wakes it exactly once.
 *  - nmspinning counts Ms with m.spinning set; wakep starts a spinner only
 *    when there is an idle P and nobody spins, so one submission wakes at
 *    most one thread.
 * Locking: sched.lock guards midle, nmidle and mnext.
 * See also: runtime/sched.c (the loop), runtime/p.c, docs/scheduler.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fiber.h"
#include "proc.h"
#include "stack.h"
#include "trace.h"

_Atomic int32_t gort__mlive;
sigset_t gort__sigmask;

/* The calling thread's M (runtime.h: gort__getm reads it). */
__thread struct m *gort__tls_m;

#ifdef GORT_GETM_CALL
/* The out-of-line read, for architectures without the inline one: a call
 * the compiler cannot see into, so it cannot keep the TLS address across a
 * park either. */
__attribute__((noinline)) struct m *gort__getm(void)
{
    struct m *mp = gort__tls_m;
    __asm__ volatile("" : "+r"(mp));
    return mp;
}
#endif

void gort__setm(struct m *mp)
{
    gort__tls_m = mp;
}

uint32_t gort__fastrand(void)
{
    struct m *mp = gort__getm();
    static _Atomic uint64_t global_seed = 0x9e3779b97f4a7c15ull;
    uint64_t x = mp ? mp->fastrand
                    : atomic_fetch_add(&global_seed, 0x9e3779b97f4a7c15ull);
    /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    if (mp)
        mp->fastrand = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

uint64_t gort__fastrand64(void)
{
    struct m *mp = gort__getm();
    if (!mp)
        return (uint64_t)gort__fastrand() << 32 | gort__fastrand();
    uint64_t x = mp->fastrand, r;
    /* two xorshift64* steps; the high half of each output */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r = (x * 0x2545f4914f6cdd1dull) >> 32 << 32;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r |= (x * 0x2545f4914f6cdd1dull) >> 32;
    mp->fastrand = x;
    return r;
}

uint32_t gort__fastrandn(uint32_t n)
{
    return (uint32_t)(((uint64_t)gort__fastrand() * n) >> 32);
}

/* mput / mget: the idle M list. Caller holds sched.lock. */
static void mput(struct m *mp)
{
    ASSERT_HELD(&gort__sched.lock);
    mp->link = gort__sched.midle;
    gort__sched.midle = mp;
    gort__sched.nmidle++;
    gort__checkdead();
}

static struct m *mget(void)
{
    ASSERT_HELD(&gort__sched.lock);
    struct m *mp = gort__sched.midle;
    if (mp) {
        gort__sched.midle = mp->link;
        mp->link = NULL;
        gort__sched.nmidle--;
    }
    return mp;
}
/* stopm parks mp until someone hands it a P (Go: stopm). Returns false if
 * it was woken because the runtime is stopping. */
bool gort__stopm(struct m *mp)
{
    if (mp->p)
        gort__throw("stopm holding p");
    if (mp->spinning)
        gort__throw("stopm spinning");
    gort__lock(&gort__sched.lock);
    if (atomic_load(&gort__sched.stopping)) {
        gort__unlock(&gort__sched.lock);
        return false;
    }
    mput(mp);
    gort__unlock(&gort__sched.lock);
    TRACE(TEV_M_IDLE, 0, 0, 0);
    gort__note_sleep(&mp->park);
    gort__note_clear(&mp->park);
    TRACE(TEV_M_WAKE, 0, 0, 0);
    struct p *pp = mp->nextp;
    if (!pp)
        return false; /* woken by gort__stop_wake_all */
    mp->nextp = NULL;
    gort__acquirep(mp, pp);
    return true;
}

/* gort__m_reserve_id counts a new M in sched.mnext and returns its id.
 * Caller holds sched.lock. */
int64_t gort__m_reserve_id(void)
{
    ASSERT_HELD(&gort__sched.lock);
    if (gort__sched.mnext - gort__sched.nmfreed >= MAX_MPROCS) {
        fprintf(stderr, "runtime: program exceeds %d-thread limit\n",
                MAX_MPROCS);
        gort__throw("thread exhaustion");
    }
    return gort__sched.mnext++;
}

/* gort__startm runs pp (or any idle P if NULL) on an idle or new M
 * (Go: startm). spinning: the caller already counted it in nmspinning. */
void gort__startm(struct p *pp, bool spinning)
{
    gort__lock(&gort__sched.lock);
    if (!pp) {
        pp = gort__pidleget();
        if (!pp) {
            gort__unlock(&gort__sched.lock);
            if (spinning)
                atomic_fetch_sub(&gort__sched.nmspinning, 1);
            return;
        }
    }
    struct m *nmp = mget();
    if (!nmp && !atomic_load(&gort__sched.stopping)) {
        /* Count the new M before the lock goes (Go: mReserveID): pp left
         * the idle list, so until the thread runs nobody else may look
         * like the last M awake to checkdead. */
        int64_t id = gort__m_reserve_id();
        gort__unlock(&gort__sched.lock);
        if (gort__newm(pp, spinning, id) != 0) {
            gort__lock(&gort__sched.lock);
            gort__pidleput(pp);
            gort__unlock(&gort__sched.lock);
            if (spinning)
                atomic_fetch_sub(&gort__sched.nmspinning, 1);
        }
        return;
    }
    if (!nmp) {
        gort__pidleput(pp);
        gort__unlock(&gort__sched.lock);
        if (spinning)
            atomic_fetch_sub(&gort__sched.nmspinning, 1);
        return;
    }
    gort__unlock(&gort__sched.lock);
    nmp->spinning = spinning;
    nmp->nextp = pp;
    gort__note_wakeup(&nmp->park);
    gort__sysmon_wake();
}

/* gort__wakep starts a spinning M if there is an idle P and nobody is
 * spinning already: at most one thread is woken per submission, and the
 * spinner that finds work wakes the next (Go: wakep). */
void gort__wakep(void)
{
    if (atomic_load_explicit(&gort__sched.npidle, memory_order_relaxed) == 0)
        return;
    int32_t zero = 0;
    if (atomic_load_explicit(&gort__sched.nmspinning, memory_order_relaxed) ||
        !atomic_compare_exchange_strong(&gort__sched.nmspinning, &zero, 1))
        return;
    gort__startm(NULL, true);
}
/* ---- Thread state --------------------------------------------------------- */

char gort__thread_state(int32_t tid)
{
    char path[48], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "tid (comm) S ...": comm may hold spaces and parentheses. */
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' ? rp[2] : 0;
}

/* ---- Ms -------------------------------------------------------------------- */

/* mstart is an M thread's body: set up, then schedule until told to stop. */
static void *mstart(void *arg)
{
    struct m *mp = arg;
    pthread_sigmask(SIG_SETMASK, &gort__sigmask, NULL);
    gort__setm(mp);
    mp->tid = (int32_t)syscall(SYS_gettid); /* before acquirep publishes mp */
    mp->errnop = &errno;
    gort__signal_m_init(mp);
    mp->tsan_fiber = fiber_tsan_current();
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        pthread_attr_getstack(&attr, &addr, &size);
        mp->asan_stack_bottom = addr;
        mp->asan_stack_size = size;
        pthread_attr_destroy(&attr);
    }
    TRACE(TEV_M_START, 0, mp->id, 0);
    struct p *pp = mp->nextp;
    mp->nextp = NULL;
    gort__acquirep(mp, pp);
    gort__schedule(mp);
    /* Stopping, or our wired goroutine died: give the P away and go. */
    if (mp->p) {
        pp = gort__releasep(mp);
        if (!atomic_load(&gort__sched.stopping))
            gort__handoffp(pp);
    }
    TRACE(TEV_M_STOP, 0, 0, 0);
    gort__signal_m_fini(mp);
    gort__lock(&gort__sched.lock);
    gort__sched.nmfreed++;
    gort__checkdead();
    gort__unlock(&gort__sched.lock);
    atomic_store(&mp->exited, true);
    atomic_fetch_sub(&gort__mlive, 1);
    gort__futex_wake((_Atomic uint32_t *)&gort__mlive, 1);
    return NULL;
}

/* m_alloc_id makes the M whose id was reserved (sched.mnext bumped under
 * sched.lock, Go: mReserveID), or undoes the reservation and returns
 * NULL. */
static struct m *m_alloc_id(int64_t id)
{
    struct m *mp = calloc(1, sizeof *mp);
    if (!mp) {
        gort__lock(&gort__sched.lock);
        gort__sched.nmfreed++;
        gort__unlock(&gort__sched.lock);
        return NULL;
    }
    mp->fastrand = (uint64_t)gort__nanotime() * 0x9e3779b97f4a7c15ull |
                   1;
    mp->id = id;
    /* g0 is always inside the runtime (runtime.h, gort__rt_enter). */
    atomic_init(&mp->rt_busy, 1);
    gort__lock(&gort__sched.lock);
    mp->alllink = gort__sched.allm;
    gort__sched.allm = mp;
    gort__unlock(&gort__sched.lock);
    return mp;
}

struct m *gort__m_alloc(void)
{
    gort__lock(&gort__sched.lock);
    int64_t id = gort__m_reserve_id();
    gort__unlock(&gort__sched.lock);
    return m_alloc_id(id);
}

/* gort__newm starts a thread that runs pp as M number id, which the caller
 * reserved with gort__m_reserve_id (Go: newm). */
int gort__newm(struct p *pp, bool spinning, int64_t id)
{
    struct m *mp = m_alloc_id(id);
    if (!mp)
        return -ENOMEM;
    mp->nextp = pp;
    mp->spinning = spinning;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_t th;
    atomic_fetch_add(&gort__mlive, 1);
    int err = pthread_create(&th, &attr, mstart, mp);
    pthread_attr_destroy(&attr);
    if (err) {
        atomic_fetch_sub(&gort__mlive, 1);
        gort__lock(&gort__sched.lock);
        gort__sched.nmfreed++;
        gort__unlock(&gort__sched.lock);
        atomic_store(&mp->exited, true);
        return -err;
    }
    mp->thread = (uintptr_t)th;
    return 0;
}
