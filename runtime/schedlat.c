/*
 * schedlat.c: the scheduling-latency histogram (how long goroutines wait
 * runnable before they run; Go: sched.timeToRun, /sched/latencies:seconds)
 * and the per-P counters behind gort_proc_stats.
 *
 * Sampling: gort__g_setstatus stamps one in gort__lat_period (default 64,
 * GORT_DEBUG=schedlat=N) transitions to G_RUNNABLE of each goroutine
 * (runtime.h, gort__lat_runnable); the M that starts a stamped goroutine
 * (park.c, prepare_run; it knows from the count, gort__lat_timed) adds
 * the wait to its P's buckets here and clears the stamp. Timing every
 * switch would cost two clock reads per switch; a per-G count rather than
 * a per-P one samples each goroutine alike whichever P readies it.
 *
 * Invariants: a P's buckets and sum are written only by the M holding it,
 * with P_STAT_INC (no locked instruction), and read racily by anyone:
 * a snapshot may miss a sample in flight, or see the bucket before the
 * sum. Buckets are log2: bucket i holds waits in (64 << (i-1), 64 << i]
 * ns, bucket 0 everything up to 64 ns, the last everything beyond.
 * Locking: none.
 * See also: runtime/debug.c (gort_stats), runtime/metrics.c.
 */
#include <errno.h>
#include <string.h>

#include "proc.h"

uint8_t gort__lat_period = LAT_PERIOD_DEFAULT;

/* gort__lat_set_period makes the period n rounded up to a power of two in
 * [1, LAT_PERIOD_MAX]; 0 restores the default. Before gort_run only. */
void gort__lat_set_period(int64_t n)
{
    if (n <= 0)
        n = LAT_PERIOD_DEFAULT;
    if (n > LAT_PERIOD_MAX)
        n = LAT_PERIOD_MAX;
    unsigned p = 1;
    while (p < (unsigned)n)
        p <<= 1;
    gort__lat_period = (uint8_t)p;
}

/* gort__lat_init gives the i-th G of a new chunk of descriptors its first
 * count: spread over the period, so goroutines that live for a few
 * switches are sampled as often as long-lived ones, as Go's random
 * initial trackingSeq does. */
void gort__lat_init(struct g *gp, unsigned i)
{
    gp->lat_seq = (uint8_t)(1 + i % gort__lat_period);
    gp->lat_stamp = 0;
}

/* lat_bucket maps a wait in ns to its bucket. */
static unsigned lat_bucket(int64_t ns)
{
    if (ns <= 64)
        return 0;
    /* ceil(log2(ns)) - 6: 65..128 -> 1, 129..256 -> 2, ... */
    unsigned b = 64u - (unsigned)__builtin_clzll((uint64_t)ns - 1) - 6u;
    return b < GORT_LATENCY_BUCKETS ? b : GORT_LATENCY_BUCKETS - 1;
}

void gort__lat_record(struct p *pp, struct g *gp)
{
    if (gp->lat_stamp == 0)
        return; /* the count passed the period unstamped (runtime.h) */
    int64_t ns = gort__nanotime() - gp->lat_stamp;
    gp->lat_stamp = 0;
    if (ns < 0)
        ns = 0;
    P_STAT_INC(pp->lat_bucket[lat_bucket(ns)], 1);
    P_STAT_INC(pp->lat_sum_ns, (uint64_t)ns);
}

/* gort__lat_add adds pp's buckets and sum to the caller's. */
void gort__lat_add(struct p *pp, uint64_t *buckets, uint64_t *sum)
{
    for (int i = 0; i < GORT_LATENCY_BUCKETS; i++)
        buckets[i] += atomic_load_explicit(&pp->lat_bucket[i],
                                           memory_order_relaxed);
    *sum += atomic_load_explicit(&pp->lat_sum_ns, memory_order_relaxed);
}

int gort_proc_stats_sized(int32_t id, gort_proc_stats_t *ps, size_t size)
{
    if (!ps || size < offsetof(gort_proc_stats_t, size) + sizeof ps->size)
        return -EINVAL;
    gort_proc_stats_t st;
    memset(&st, 0, sizeof st);
    struct sched *s = &gort__sched;
    int32_t procs = atomic_load(&s->gomaxprocs);
    if (procs == 0)
        return -ESRCH;
    if (id < 0 || id >= procs)
        return -EINVAL;
    /* allp entries are published once and never freed while gort_run
     * runs (a retired P is kept for reuse). */
    struct p *pp = __atomic_load_n(&s->allp[id], __ATOMIC_ACQUIRE);
    if (!pp)
        return -EINVAL;
    st.id = id;
    uint32_t status = atomic_load_explicit(&pp->status, memory_order_relaxed);
    st.status = status == P_SYSCALL ? 2 : status == P_RUNNING ? 1 : 0;
    st.runq = (int32_t)gort__runq_len(pp);
    st.spawned = atomic_load_explicit(&pp->nspawned, memory_order_relaxed);
    st.exited = atomic_load_explicit(&pp->nexited, memory_order_relaxed);
    st.steals = atomic_load_explicit(&pp->nsteals, memory_order_relaxed);
    st.stolen_gs = atomic_load_explicit(&pp->nstolen, memory_order_relaxed);
    st.parks = atomic_load_explicit(&pp->nparks, memory_order_relaxed);
    st.yields = atomic_load_explicit(&pp->nyields, memory_order_relaxed);
    st.drained_reads = atomic_load_explicit(&pp->ndrainwaits,
                                            memory_order_relaxed);
    gort__lat_add(pp, st.sched_latency, &st.sched_latency_sum_ns);
    gort__copy_sized(ps, size, &st, sizeof st,
                     offsetof(gort_proc_stats_t, size));
    return 0;
}
