/*
 * debug.c: GORT_DEBUG settings, schedtrace lines, gort_stats
 * and error strings: how the runtime explains itself.
 *
 * gort__throw, gort__fatal and gort__panic live in runtime/traceback.c.
 * Locking: schedtrace and gort_stats read counters without locks (racy
 * snapshots by design, as Go's schedtrace).
 * See also: runtime/sysmon.c (who prints schedtrace).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "determ.h"
#include "kvlist.h"
#include "proc.h"
#include "stack.h"

struct debug_settings gort__debug;

int64_t gort__nanotime(void)
{
    if (DETERM())
        return gort__determ_now(); /* virtual time */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* used: tools/gdb/gort-gdb.py reads this table by name, and clang at -O2
 * would otherwise fold it into gort__waitreason_str and leave gdb only
 * the numbers. */
__attribute__((used)) static const char *const waitreasons[WAIT_REASON_COUNT] = {
    [WAIT_NONE] = "",
    [WAIT_CHAN_RECV] = "chan receive",
    [WAIT_CHAN_SEND] = "chan send",
    [WAIT_CHAN_RECV_NIL] = "chan receive (nil chan)",
    [WAIT_CHAN_SEND_NIL] = "chan send (nil chan)",
    [WAIT_SELECT] = "select",
    [WAIT_SELECT_NO_CASES] = "select (no cases)",
    [WAIT_SLEEP] = "sleep",
    [WAIT_IO] = "IO wait",
    [WAIT_SEMACQUIRE] = "semacquire",
    [WAIT_MUTEX] = "sync.Mutex.Lock",
    [WAIT_RWMUTEX_R] = "sync.RWMutex.RLock",
    [WAIT_RWMUTEX_W] = "sync.RWMutex.Lock",
    [WAIT_WAITGROUP] = "sync.WaitGroup.Wait",
    [WAIT_COND] = "sync.Cond.Wait",
    [WAIT_FOREVER] = "forever",
    [WAIT_LOCKED_THREAD] = "locked to thread",
    [WAIT_SYSCALL_EXIT] = "syscall exit",
};

const char *gort__waitreason_str(enum waitreason r)
{
    return (unsigned)r < WAIT_REASON_COUNT ? waitreasons[r] : "?";
}

/* The on/off knobs of GORT_DEBUG: where each lives, its value when
 * unset, and whether key=0 sets the field (batch=0 sets nobatch). */
static const struct debug_flag {
    const char *key;
    size_t field;
    bool dflt, inverted;
} debug_flags[] = {
    {"scheddetail", offsetof(struct debug_settings, scheddetail), false, false},
    {"solo", offsetof(struct debug_settings, solo), true, false},
    {"plainchan", offsetof(struct debug_settings, plainchan), true, false},
    {"chanowner", offsetof(struct debug_settings, chanowner), true, false},
    {"asyncpreempt", offsetof(struct debug_settings, asyncpreempt), false,
     false},
    {"batch", offsetof(struct debug_settings, nobatch), false, true},
    {"membarrier", offsetof(struct debug_settings, membarrier), true, false},
    {"stuckhandoff", offsetof(struct debug_settings, stuckhandoff), true,
     false},
    {"stuckwarn", offsetof(struct debug_settings, stuckwarn), false, false},
};
#define NDEBUG_FLAGS (sizeof debug_flags / sizeof *debug_flags)

static bool *flag_at(const struct debug_flag *f)
{
    return (bool *)((char *)&gort__debug + f->field);
}

/* debug_set applies one GORT_DEBUG item: a value that strtoll reads
 * whole (empty: 0) and not negative. Unknown keys are only warned about
 * (policy.c explains why GORT_SCHED's are errors). */
static int debug_set(char *key, char *value, void *arg)
{
    const char *env = arg;
    char *end;
    long long v = strtoll(value, &end, 10);
    if (*end || v < 0) {
        fprintf(stderr, "gort: GORT_DEBUG=%s: want key=value[,key=value]\n",
                env);
        return -EINVAL;
    }
    for (size_t i = 0; i < NDEBUG_FLAGS; i++)
        if (strcmp(key, debug_flags[i].key) == 0) {
            *flag_at(&debug_flags[i]) = (v != 0) != debug_flags[i].inverted;
            return 0;
        }
    if (strcmp(key, "schedtrace") == 0) {
        gort__debug.schedtrace_ms = v;
    } else if (strcmp(key, "schedlat") == 0) {
        gort__lat_set_period(v);
    } else if (strcmp(key, "deterministic") == 0) {
        if (end == value) { /* the seed is the point: no default */
            fprintf(stderr, "gort: GORT_DEBUG: deterministic wants a seed\n");
            return -EINVAL;
        }
        gort__debug.deterministic = true;
        gort__debug.determ_seed = (uint64_t)v;
        gort__debug.nobatch = true; /* no batcher thread */
    } else {
        fprintf(stderr, "gort: GORT_DEBUG: unknown setting %s\n", key);
    }
    return 0;
}

/* gort__debug_parse reads
 * GORT_DEBUG=schedtrace=MS,scheddetail=1,solo=0,batch=0,
 * plainchan=0,chanowner=0,asyncpreempt=1,membarrier=0,stuckhandoff=0,
 * stuckwarn=1,schedlat=N,deterministic=SEED. */
int gort__debug_parse(void)
{
    memset(&gort__debug, 0, sizeof gort__debug);
    for (size_t i = 0; i < NDEBUG_FLAGS; i++)
        *flag_at(&debug_flags[i]) = debug_flags[i].dflt;
    gort__lat_set_period(0);
    const char *env = getenv("GORT_DEBUG");
    return gort__kvlist_each("GORT_DEBUG", env, debug_set, (void *)env);
}

static int32_t count_ms(int32_t *idle, int32_t *threads)
{
    int32_t n = 0;
    for (struct m *mp = gort__sched.allm; mp; mp = mp->alllink)
        if (!atomic_load(&mp->exited))
            n++;
    *threads = n;
    *idle = gort__sched.nmidle;
    return n;
}

/* print_m prints one M line. Its P is found from the Ps' side (pp->m is
 * published atomically), since an M's own fields are its thread's. */
static void print_m(struct m *mp)
{
    int32_t pid = -1, procs = atomic_load(&gort__sched.gomaxprocs);
    for (int32_t i = 0; i < procs; i++) {
        struct p *pp = gort__sched.allp[i];
        if (pp && __atomic_load_n(&pp->m, __ATOMIC_RELAXED) == mp)
            pid = i;
    }
    struct g *gp = __atomic_load_n(&mp->curg, __ATOMIC_RELAXED);
    fprintf(stderr, "  M%lld: p=%d curg=%lld\n", (long long)mp->id, pid,
            gp ? (long long)gp->goid : -1LL);
}

/* gort__schedtrace prints Go's SCHED line (and with detail, P and M
 * lines) to stderr. It holds sched.lock for a consistent M list, as Go's
 * schedtrace does; when crashing it only tries, because the failing code
 * may hold the lock, and the snapshot is then best effort. */
void gort__schedtrace(bool detail, bool crashing)
{
    struct sched *s = &gort__sched;
    bool locked = true;
    if (crashing)
        locked = gort__trylock(&s->lock);
    else
        gort__lock(&s->lock);
    int32_t procs = atomic_load(&s->gomaxprocs), idle, threads;
    count_ms(&idle, &threads);
    char line[4096];
    int n = snprintf(line, sizeof line,
                     "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d "
                     "spinningthreads=%d idlethreads=%d runqueue=%d [",
                     (long long)((gort__nanotime() - s->start_ns) / 1000000),
                     procs, atomic_load(&s->npidle), threads + 1,
                     atomic_load(&s->nmspinning), idle,
                     atomic_load(&s->runqsize));
    for (int32_t i = 0; i < procs && n < (int)sizeof line - 16; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, "%s%u",
                      i ? " " : "", s->allp[i] ? gort__runq_len(s->allp[i])
                                               : 0);
    /* Go appends its own extra fields after the bracket likewise. */
    fprintf(stderr, "%s] stuckhandoffs=%llu\n", line,
            (unsigned long long)atomic_load(&s->nstuckhandoffs));
    for (int32_t i = 0; detail && i < procs; i++) {
        struct p *pp = s->allp[i];
        if (!pp)
            continue;
        struct m *mp = __atomic_load_n(&pp->m, __ATOMIC_RELAXED);
        long long timers = -1; /* unknown if the heap is busy */
        if (gort__trylock(&pp->timers.lock)) {
            timers = pp->timers.len;
            gort__unlock(&pp->timers.lock);
        }
        fprintf(stderr, "  P%d: status=%u schedtick=%u syscalltick=%u m=%lld "
                "runqsize=%u timerslen=%lld\n", i, atomic_load(&pp->status),
                __atomic_load_n(&pp->schedtick, __ATOMIC_RELAXED),
                atomic_load(&pp->syscalltick), mp ? (long long)mp->id : -1LL,
                gort__runq_len(pp), timers);
    }
    for (struct m *mp = s->allm; detail && mp; mp = mp->alllink)
        if (!atomic_load(&mp->exited))
            print_m(mp);
    if (locked)
        gort__unlock(&s->lock);
}

static void stats_fill(gort_stats_t *st);

void gort__copy_sized(void *dst, size_t dst_size, void *src,
                      size_t src_size, size_t size_off)
{
    size_t n = dst_size < src_size ? dst_size : src_size;
    uint32_t n32 = (uint32_t)n;
    memcpy((char *)src + size_off, &n32, sizeof n32);
    memcpy(dst, src, n);
    if (dst_size > n)
        memset((char *)dst + n, 0, dst_size - n);
}

/* gort_stats_sized builds the whole snapshot in a local gort_stats_t and
 * copies out as much of it as the caller's struct holds (include/gort.h,
 * "Growing it"). */
int gort_stats_sized(gort_stats_t *out, size_t size)
{
    if (!out || size < offsetof(gort_stats_t, size) + sizeof out->size)
        return -EINVAL;
    gort_stats_t all;
    stats_fill(&all);
    gort__copy_sized(out, size, &all, sizeof all,
                     offsetof(gort_stats_t, size));
    return 0;
}

/* The original entry point: fills the fields before `size`, the struct
 * programs built before it existed know. */
int(gort_stats)(gort_stats_t *out)
{
    if (!out)
        return -EINVAL;
    gort_stats_t all;
    stats_fill(&all);
    memcpy(out, &all, offsetof(gort_stats_t, size));
    return 0;
}

static void stats_fill(gort_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->sched_latency_period = gort__lat_period;
    struct sched *s = &gort__sched;
    int32_t procs = atomic_load(&s->gomaxprocs);
    if (procs == 0)
        return;
    int64_t ng = gort__gcount();
    st->goroutines = ng > 0 ? (uint64_t)ng : 0;
    st->procs = procs;
    st->idle_procs = atomic_load(&s->npidle);
    int32_t idle, threads;
    gort__lock(&s->lock);
    count_ms(&idle, &threads);
    gort__unlock(&s->lock);
    st->threads = threads;
    st->idle_threads = idle;
    st->spinning_threads = atomic_load(&s->nmspinning);
    st->global_runq = atomic_load(&s->runqsize);
    st->preempts = atomic_load(&s->npreempts);
    st->syscalls = atomic_load(&s->nsyscalls);
    st->handoffs = atomic_load(&s->nhandoffs);
    st->stuck_handoffs = atomic_load(&s->nstuckhandoffs);
    st->netpoll_waits = atomic_load(&s->nnetpollwaits);
    st->preempt_signals = atomic_load(&s->nasyncsignals);
    st->async_preempts = atomic_load(&s->nasyncpreempts);
    st->batched_calls = atomic_load(&s->nbatched);
    st->batch_flushes = atomic_load(&s->nbatchflushes);
    st->batcher = gort__sysbatch_on();
    st->batch_inq = gort__sysbatch_inq();
    for (int32_t i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        struct p *pp = s->allp[i];
        if (!pp)
            continue;
        if (i < procs)
            st->runq[i] = (int32_t)gort__runq_len(pp);
        st->spawned += atomic_load(&pp->nspawned);
        st->steals += atomic_load(&pp->nsteals);
        st->stolen_gs += atomic_load(&pp->nstolen);
        st->parks += atomic_load(&pp->nparks);
        st->yields += atomic_load(&pp->nyields);
        st->drained_reads += atomic_load(&pp->ndrainwaits);
        st->exited += atomic_load(&pp->nexited);
        gort__lat_add(pp, st->sched_latency, &st->sched_latency_sum_ns);
    }
    struct stack_stats ss;
    gort__stack_stats(&ss);
    st->stacks_cached = ss.cached;
    st->stack_reserved_bytes = ss.reserved;
    st->guards_madvise = ss.madvise;
    st->guards_mprotect = ss.mprotect;
    st->guards_canary = ss.canary;
}

/* gort_strerror gives Go's words where gort's codes carry Go's meaning
 * (include/gort/net.h): -EBADF is a closed connection, -ETIMEDOUT a
 * deadline, -EPERM a call that would park outside a goroutine. */
const char *gort_strerror(int err)
{
    if (err > 0 || err == INT_MIN) /* -INT_MIN would overflow */
        return "not an error code";
    switch (-err) {
    case 0:
        return "success";
    case ETIMEDOUT:
        return "i/o timeout";
    case EBADF:
        return "use of closed network connection";
    case ECANCELED: /* GORT_ECANCELED */
        return "context canceled";
    case ETIME: /* GORT_EDEADLINE */
        return "context deadline exceeded";
    case EPERM:
        return "called outside a goroutine";
    default:
        return strerror(-err);
    }
}
