/*
 * metrics.c: gort_stats and gort_proc_stats as Prometheus text exposition
 * (format 0.0.4): gort_metrics_format into a buffer, gort_metrics_write to
 * a descriptor.
 *
 * Names follow Prometheus conventions: a gort_ prefix, base units
 * (seconds, bytes), counters end in _total, the latency histogram has
 * cumulative _bucket{le=...} series ending at le="+Inf" plus _sum and
 * _count; per-P series carry a proc="N" label. docs/metrics.md lists them.
 *
 * Invariants: the text is built from one gort_stats snapshot and one
 * gort_proc_stats snapshot per P, each racy by design (debug.c); the
 * histogram is made cumulative here from per-bucket counts, so _count
 * always equals the +Inf bucket. Formatting never parks and allocates
 * only in gort_metrics_write.
 * Locking: none of its own (gort_stats takes sched.lock briefly).
 * See also: runtime/debug.c, runtime/schedlat.c, docs/metrics.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

/* An snprintf-style appender: writes what fits, counts everything. */
struct out {
    char *buf;
    size_t len, n;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->n < o->len ? o->len - o->n : 0;
    int k = vsnprintf(room ? o->buf + o->n : NULL, room, fmt, ap);
    va_end(ap);
    if (k > 0)
        o->n += (size_t)k;
}

static void family(struct out *o, const char *name, const char *type,
                   const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(struct out *o, const char *name, const char *type,
                   const char *help, unsigned long long v)
{
    family(o, name, type, help);
    put(o, "%s %llu\n", name, v);
}

/* histogram writes the series of one latency histogram; labels is "" or
 * `proc="N",` (a trailing comma, since le follows). */
static void histogram(struct out *o, const char *name, const char *labels,
                      const uint64_t *bucket, uint64_t sum_ns)
{
    unsigned long long cum = 0;
    for (int i = 0; i < GORT_LATENCY_BUCKETS - 1; i++) {
        cum += bucket[i];
        put(o, "%s_bucket{%sle=\"%.12g\"} %llu\n", name, labels,
            (double)GORT_LATENCY_BUCKET_NS(i) / 1e9, cum);
    }
    cum += bucket[GORT_LATENCY_BUCKETS - 1];
    put(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, cum);
    size_t l = strlen(labels);
    /* _sum and _count take the labels without the trailing comma. */
    put(o, "%s_sum%s%.*s%s %.9f\n", name, l ? "{" : "", l ? (int)l - 1 : 0,
        labels, l ? "}" : "", (double)sum_ns / 1e9);
    put(o, "%s_count%s%.*s%s %llu\n", name, l ? "{" : "", l ? (int)l - 1 : 0,
        labels, l ? "}" : "", cum);
}

/* A per-P series: the gort_proc_stats_t field at `off`. */
struct pseries {
    const char *name, *type, *help;
    size_t off;
    bool is32;
};

#define PS64(name, type, field, help)                                        \
    {name, type, help, offsetof(gort_proc_stats_t, field), false}
static const struct pseries pseries[] = {
    {"gort_proc_runq_goroutines", "gauge",
     "Goroutines on the processor's local run queue.",
     offsetof(gort_proc_stats_t, runq), true},
    {"gort_proc_running", "gauge",
     "1 while the processor runs goroutines or is in a system call, 0 when "
     "idle.", offsetof(gort_proc_stats_t, status), true},
    PS64("gort_proc_goroutines_created_total", "counter", spawned,
         "Goroutines created on the processor."),
    PS64("gort_proc_goroutines_exited_total", "counter", exited,
         "Goroutines that ended on the processor."),
    PS64("gort_proc_steals_total", "counter", steals,
         "Successful steals the processor made from others."),
    PS64("gort_proc_stolen_goroutines_total", "counter", stolen_gs,
         "Goroutines the processor's steals moved to it."),
    PS64("gort_proc_parks_total", "counter", parks,
         "Goroutines that parked on the processor."),
    PS64("gort_proc_yields_total", "counter", yields,
         "gort_yield calls on the processor."),
};

static void format_all(struct out *o)
{
    gort_stats_t st;
    gort_stats(&st);
    int32_t procs = st.procs;
    family(o, "gort_goroutines", "gauge", "Goroutines alive.");
    put(o, "gort_goroutines %llu\n", (unsigned long long)st.goroutines);
    scalar(o, "gort_goroutines_created_total", "counter",
           "Goroutines created.", st.spawned);
    scalar(o, "gort_goroutines_exited_total", "counter",
           "Goroutines that ended.", st.exited);
    scalar(o, "gort_sched_procs", "gauge",
           "Processors (GOMAXPROCS).", (unsigned long long)st.procs);
    scalar(o, "gort_sched_procs_idle", "gauge", "Processors idle now.",
           (unsigned long long)st.idle_procs);
    scalar(o, "gort_threads", "gauge",
           "Threads running the scheduler, sysmon excluded.",
           (unsigned long long)st.threads);
    scalar(o, "gort_threads_idle", "gauge",
           "Scheduler threads asleep with nothing to run.",
           (unsigned long long)st.idle_threads);
    scalar(o, "gort_threads_spinning", "gauge",
           "Scheduler threads looking for work.",
           (unsigned long long)st.spinning_threads);
    scalar(o, "gort_sched_global_runq_goroutines", "gauge",
           "Goroutines on the global run queue.",
           (unsigned long long)st.global_runq);
    scalar(o, "gort_sched_steals_total", "counter",
           "Successful steals between processors.", st.steals);
    scalar(o, "gort_sched_stolen_goroutines_total", "counter",
           "Goroutines moved by steals.", st.stolen_gs);
    scalar(o, "gort_sched_parks_total", "counter", "Goroutine parks.",
           st.parks);
    scalar(o, "gort_sched_yields_total", "counter", "gort_yield calls.",
           st.yields);
    scalar(o, "gort_sched_preemptions_total", "counter",
           "Time slices cut by sysmon.", st.preempts);
    scalar(o, "gort_sched_preempt_signals_total", "counter",
           "Preemption signals sysmon sent.", st.preempt_signals);
    scalar(o, "gort_sched_async_preemptions_total", "counter",
           "Goroutines switched out by a preemption signal.",
           st.async_preempts);
    scalar(o, "gort_syscalls_total", "counter",
           "gort_syscall_enter calls.", st.syscalls);
    scalar(o, "gort_sched_handoffs_total", "counter",
           "Processors retaken from system calls.", st.handoffs);
    scalar(o, "gort_sched_stuck_handoffs_total", "counter",
           "Processors taken from threads stuck in the kernel outside "
           "gort_syscall_enter.", st.stuck_handoffs);
    scalar(o, "gort_netpoll_waits_total", "counter",
           "Goroutines parked on the network poller.", st.netpoll_waits);
    scalar(o, "gort_net_drained_reads_total", "counter",
           "Stream reads that waited for readiness without a first try.",
           st.drained_reads);
    scalar(o, "gort_sysbatch_calls_total", "counter",
           "Socket calls through the system-call batcher.",
           st.batched_calls);
    scalar(o, "gort_sysbatch_flushes_total", "counter",
           "io_uring_enter calls that completed batched calls.",
           st.batch_flushes);
    scalar(o, "gort_stacks_cached", "gauge",
           "Free goroutine stacks kept for reuse.", st.stacks_cached);
    scalar(o, "gort_stack_reserved_bytes", "gauge",
           "Virtual memory reserved for goroutine stacks.",
           st.stack_reserved_bytes);
    family(o, "gort_sched_latency_seconds", "histogram",
           "Time goroutines waited runnable before they ran; one in "
           "gort_sched_latency_sample_period waits is sampled.");
    histogram(o, "gort_sched_latency_seconds", "", st.sched_latency,
              st.sched_latency_sum_ns);
    scalar(o, "gort_sched_latency_sample_period", "gauge",
           "Each goroutine's waits are timed one in this many.",
           st.sched_latency_period);

    /* Per-P: one snapshot per P, then one family at a time, as the
     * format wants every series of a family together. */
    gort_proc_stats_t *ps = NULL;
    if (procs > 0 && (ps = calloc((size_t)procs, sizeof *ps)) == NULL)
        procs = 0;
    int32_t np = 0;
    for (int32_t i = 0; i < procs; i++)
        if (gort_proc_stats(i, &ps[np]) == 0)
            np++;
    for (size_t k = 0; k < sizeof pseries / sizeof pseries[0]; k++) {
        const struct pseries *f = &pseries[k];
        family(o, f->name, f->type, f->help);
        for (int32_t i = 0; i < np; i++) {
            const char *base = (const char *)&ps[i] + f->off;
            unsigned long long v;
            if (f->is32) {
                int32_t x;
                memcpy(&x, base, sizeof x);
                v = f->off == offsetof(gort_proc_stats_t, status) ? x != 0
                                                                  : (unsigned)x;
            } else {
                uint64_t x;
                memcpy(&x, base, sizeof x);
                v = x;
            }
            put(o, "%s{proc=\"%d\"} %llu\n", f->name, ps[i].id, v);
        }
    }
    family(o, "gort_proc_sched_latency_seconds", "histogram",
           "Sampled runnable-to-running waits of the goroutines the "
           "processor started.");
    for (int32_t i = 0; i < np; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "proc=\"%d\",", ps[i].id);
        histogram(o, "gort_proc_sched_latency_seconds", labels,
                  ps[i].sched_latency, ps[i].sched_latency_sum_ns);
    }
    free(ps);
}

int gort_metrics_format(char *buf, size_t len)
{
    if (!buf && len)
        return -EINVAL;
    struct out o = {buf, len, 0};
    format_all(&o);
    if (len)
        buf[o.n < len ? o.n : len - 1] = '\0';
    return o.n > (size_t)__INT_MAX__ ? -EOVERFLOW : (int)o.n;
}

int gort_metrics_write(int fd)
{
    if (fd < 0)
        return -EBADF;
    size_t cap = 16384;
    char *buf = NULL;
    int n;
    for (;;) {
        char *nb = realloc(buf, cap);
        if (!nb) {
            free(buf);
            return -ENOMEM;
        }
        buf = nb;
        n = gort_metrics_format(buf, cap);
        if (n < 0 || (size_t)n < cap)
            break;
        cap = (size_t)n + 4096; /* the figures may grow meanwhile */
    }
    if (n < 0) {
        free(buf);
        return n;
    }
    /* A slow reader must block only this goroutine, not its P. */
    bool on_g = gort__getg() != NULL;
    if (on_g)
        gort_syscall_enter();
    size_t done = 0;
    int err = 0;
    while (done < (size_t)n) {
        ssize_t w = write(fd, buf + done, (size_t)n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            break;
        }
        done += (size_t)w;
    }
    if (on_g)
        gort_syscall_exit();
    free(buf);
    return err ? err : n;
}
