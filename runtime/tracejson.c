/*
 * tracejson.c: writing a stopped trace session (trace.c) as Chrome /
 * Perfetto trace-event JSON (docs/trace.md has the format).
 *
 * The spill file (trace.c) is read in order: each thread's records come
 * in the order it wrote them. Each is converted with a little
 * state per thread: the goroutine slice it has open on its P's track, the
 * P it holds, and its open system call and idle periods. Slices become
 * complete ("X") events, so the output needs no sorting: viewers order by
 * ts. A slice with no start event (running when the session began, or
 * resumed by a path that records none) starts at its thread's previous
 * event; one open when the session stopped ends there.
 *
 * Tracks: process 1 "Ps", one thread per P (tid = P id); process 2 "Ms",
 * one thread per M (tid = M id) and one per thread without an M (tid
 * 100000 + buffer index). Flows (ph s/f, cat "sched") join a ready or a
 * create to the start it caused.
 *
 * Invariants: runs with tracing off, the writer thread gone and every
 * chunk spilled (trace.c's stop_locked); reads the spill file only.
 * Locking: none (the caller holds trace.c's ctl.mu).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "trace.h"

/* ---- A buffered writer ----------------------------------------------- */

struct jw {
    int fd;
    int err;
    size_t n;
    bool first;
    char buf[1 << 16];
};

static void jw_flush(struct jw *j)
{
    size_t off = 0;
    while (off < j->n && !j->err) {
        ssize_t r = write(j->fd, j->buf + off, j->n - off);
        if (r < 0) {
            if (errno != EINTR)
                j->err = -errno;
        } else {
            off += (size_t)r;
        }
    }
    j->n = 0;
}

__attribute__((format(printf, 2, 3))) static void jw_raw(struct jw *j,
                                                         const char *fmt, ...)
{
    if (sizeof j->buf - j->n < 512)
        jw_flush(j);
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(j->buf + j->n, sizeof j->buf - j->n, fmt, ap);
    va_end(ap);
    if (r > 0)
        j->n += (size_t)r < sizeof j->buf - j->n ? (size_t)r
                                                 : sizeof j->buf - j->n - 1;
}

/* jw_ev opens one event object: the separator, then fmt. */
#define jw_ev(j, ...)                                                       \
    do {                                                                    \
        jw_raw((j), "%s\n", (j)->first ? "" : ",");                         \
        (j)->first = false;                                                 \
        jw_raw((j), __VA_ARGS__);                                           \
    } while (0)

/* ---- Tracks and per-thread state ---------------------------------------- */

enum { PID_P = 1, PID_M = 2, TID_NOM = 100000 };

struct conv {
    struct jw *j;
    const struct trace_session *s;
    uint64_t events;
    /* Tracks that received events, for their names. */
    bool p_seen[GORT_MAXPROCS_LIMIT];
};

struct tstate {
    long mtid;              /* this thread's track in PID_M */
    bool g_open;            /* a goroutine slice on a P track */
    uint64_t g_id;
    int g_p;
    uint64_t g_t0;          /* times: ns since the session began */
    bool p_open;            /* the M holds a P: a slice on its M track */
    int p_id;
    uint64_t p_t0;
    bool sys_open;          /* a system call */
    uint64_t sys_g;
    uint64_t sys_t0;
    bool idle_open;
    uint64_t idle_t0;
    uint64_t last_t;        /* the thread's previous event */
    bool any;               /* it recorded something */
};

static uint64_t ns(const struct conv *c, uint64_t ticks)
{
    return (uint64_t)((double)ticks * c->s->ns_per_tick);
}

/* Timestamps and durations are written in microseconds with three
 * decimals (trace-event JSON's unit), from integers: printf's %f costs
 * several times more, and a trace has millions of them. */
#define US "%llu.%03llu"
#define USV(x) (unsigned long long)((x) / 1000), (unsigned long long)((x) % 1000)

static const char *end_name(unsigned ev)
{
    switch (ev) {
    case TEV_GO_END: return "end";
    case TEV_GO_PARK: return "park";
    case TEV_GO_YIELD: return "yield";
    case TEV_GO_PREEMPT: return "preempt";
    case TEV_SYSCALL_ENTER: return "syscall";
    default: return "trace stopped";
    }
}

static void p_track_seen(struct conv *c, int p)
{
    if (p >= 0 && p < GORT_MAXPROCS_LIMIT)
        c->p_seen[p] = true;
}

/* g_close ends the open goroutine slice at t: "end" says why, and for a
 * park the wait reason and the object. */
static void g_close(struct conv *c, struct tstate *st, uint64_t t, unsigned ev,
                    unsigned reason, uint64_t obj)
{
    if (!st->g_open)
        return;
    st->g_open = false;
    p_track_seen(c, st->g_p);
    if (ev == TEV_GO_PARK)
        jw_ev(c->j,
              "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":" US ",\"dur\":" US ","
              "\"name\":\"G%llu\",\"cat\":\"g\",\"args\":{\"g\":%llu,"
              "\"end\":\"park\",\"reason\":\"%s\",\"obj\":\"0x%llx\"}}",
              PID_P, st->g_p, USV(st->g_t0), USV(t - st->g_t0),
              (unsigned long long)st->g_id, (unsigned long long)st->g_id,
              gort__waitreason_str((enum waitreason)reason),
              (unsigned long long)obj);
    else
        jw_ev(c->j,
              "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":" US ",\"dur\":" US ","
              "\"name\":\"G%llu\",\"cat\":\"g\",\"args\":{\"g\":%llu,"
              "\"end\":\"%s\"}}",
              PID_P, st->g_p, USV(st->g_t0), USV(t - st->g_t0),
              (unsigned long long)st->g_id, (unsigned long long)st->g_id,
              end_name(ev));
}

static void g_open(struct tstate *st, uint64_t goid, int p, uint64_t t)
{
    st->g_open = true;
    st->g_id = goid;
    st->g_p = p;
    st->g_t0 = t;
}

static void p_close(struct conv *c, struct tstate *st, uint64_t t)
{
    if (!st->p_open)
        return;
    st->p_open = false;
    jw_ev(c->j,
          "{\"ph\":\"X\",\"pid\":%d,\"tid\":%ld,\"ts\":" US ",\"dur\":" US ","
          "\"name\":\"P%d\",\"cat\":\"m\"}",
          PID_M, st->mtid, USV(st->p_t0), USV(t - st->p_t0), st->p_id);
}

static void p_open(struct conv *c, struct tstate *st, int p, uint64_t t)
{
    if (st->p_open && st->p_id == p)
        return;
    p_close(c, st, t);
    st->p_open = true;
    st->p_id = p;
    st->p_t0 = t;
}

/* instant writes a thread-scoped instant event on (pid, tid). */
static void instant(struct conv *c, int pid, long tid, uint64_t t,
                    const char *name, const char *args)
{
    jw_ev(c->j,
          "{\"ph\":\"i\",\"s\":\"t\",\"pid\":%d,\"tid\":%ld,\"ts\":" US ","
          "\"name\":\"%s\",\"cat\":\"sched\",\"args\":{%s}}",
          pid, tid, USV(t), name, args);
}

/* flow_out starts flow id at t from the slice running on this thread: the
 * open goroutine slice, or else a 1 ns slice named `name` made for it. */
static void flow_out(struct conv *c, struct tstate *st, int p, uint64_t t,
                     uint64_t id, const char *name, uint64_t goid)
{
    int pid = PID_P;
    long tid;
    if (st->g_open) {
        tid = st->g_p;
    } else {
        if (p >= 0) {
            tid = p;
            p_track_seen(c, p);
        } else {
            pid = PID_M;
            tid = st->mtid;
        }
        jw_ev(c->j,
              "{\"ph\":\"X\",\"pid\":%d,\"tid\":%ld,\"ts\":" US ","
              "\"dur\":0.001,\"name\":\"%s G%llu\",\"cat\":\"sched\"}",
              pid, tid, USV(t), name, (unsigned long long)goid);
    }
    jw_ev(c->j,
          "{\"ph\":\"s\",\"pid\":%d,\"tid\":%ld,\"ts\":" US ",\"id\":%llu,"
          "\"name\":\"wake\",\"cat\":\"sched\",\"args\":{\"g\":%llu}}",
          pid, tid, USV(t), (unsigned long long)id, (unsigned long long)goid);
}

/* ---- One event -------------------------------------------------------- */

static void conv_ev(struct conv *c, struct tstate *st, const uint64_t *w)
{
    unsigned ev = (unsigned)(w[0] >> 8 & 0xff);
    unsigned small = (unsigned)(w[0] & 0xff);
    uint64_t t = ns(c, w[0] >> 16);
    int p = (int)(w[1] >> 48) - 1;
    uint64_t goid = w[1] & 0xffffffffffffull;
    uint64_t a = w[2], b = w[3];
    char args[160];

    /* Every event names the P its thread held: follow it on the M's
     * track even where no acquire was seen (a session begun mid-run). */
    if (p >= 0 && ev != TEV_P_RELEASE && ev != TEV_SYSCALL_ENTER)
        p_open(c, st, p, t);
    switch (ev) {
    case TEV_GO_CREATE:
        flow_out(c, st, p, t, b, "go", a);
        break;
    case TEV_GO_START:
        g_close(c, st, t, TEV_NONE, 0, 0);
        g_open(st, goid, p, t);
        if (a)
            jw_ev(c->j,
                  "{\"ph\":\"f\",\"bp\":\"e\",\"pid\":%d,\"tid\":%d,"
                  "\"ts\":" US ",\"id\":%llu,\"name\":\"wake\","
                  "\"cat\":\"sched\",\"args\":{\"g\":%llu}}",
                  PID_P, p, USV(t), (unsigned long long)a,
                  (unsigned long long)goid);
        break;
    case TEV_GO_END:
    case TEV_GO_PARK:
    case TEV_GO_YIELD:
    case TEV_GO_PREEMPT:
    case TEV_SYSCALL_ENTER:
        /* A goroutine running since before the session, or resumed
         * without a start event (a cancelled park, a syscall exit on g0):
         * from the thread's previous event, when it ran already. */
        if (!st->g_open && goid && p >= 0)
            g_open(st, goid, p, st->last_t);
        g_close(c, st, t, ev, small, a);
        if (ev == TEV_SYSCALL_ENTER) {
            p_close(c, st, t);
            st->sys_open = true;
            st->sys_g = goid;
            st->sys_t0 = t;
        }
        break;
    case TEV_SYSCALL_EXIT:
        if (!st->sys_open) {
            st->sys_g = goid;
            st->sys_t0 = 0.0;
        }
        st->sys_open = false;
        jw_ev(c->j,
              "{\"ph\":\"X\",\"pid\":%d,\"tid\":%ld,\"ts\":" US ","
              "\"dur\":" US ",\"name\":\"syscall\",\"cat\":\"m\","
              "\"args\":{\"g\":%llu,\"kept_p\":%u}}",
              PID_M, st->mtid, USV(st->sys_t0), USV(t - st->sys_t0),
              (unsigned long long)st->sys_g, small);
        if (p >= 0)
            g_open(st, goid, p, t);
        break;
    case TEV_GO_BLOCKSYS:
        snprintf(args, sizeof args, "\"g\":%llu", (unsigned long long)goid);
        instant(c, PID_M, st->mtid, t, "no P after syscall", args);
        break;
    case TEV_GO_READY:
        flow_out(c, st, p, t, b, "ready", a);
        break;
    case TEV_STEAL:
        snprintf(args, sizeof args, "\"victim\":%llu,\"n\":%llu",
                 (unsigned long long)a, (unsigned long long)b);
        p_track_seen(c, p);
        instant(c, p >= 0 ? PID_P : PID_M, p >= 0 ? p : st->mtid, t, "steal",
                args);
        break;
    case TEV_HANDOFF:
        snprintf(args, sizeof args, "\"p\":%llu", (unsigned long long)a);
        instant(c, PID_M, st->mtid, t, "handoff", args);
        break;
    case TEV_NETPOLL:
    case TEV_TIMER:
        if (ev == TEV_NETPOLL)
            snprintf(args, sizeof args, "\"n\":%llu", (unsigned long long)a);
        else
            snprintf(args, sizeof args, "\"timer\":\"0x%llx\",\"late_ns\":%llu",
                     (unsigned long long)a, (unsigned long long)b);
        p_track_seen(c, p);
        instant(c, p >= 0 ? PID_P : PID_M, p >= 0 ? p : st->mtid, t,
                ev == TEV_NETPOLL ? "netpoll" : "timer", args);
        break;
    case TEV_PROCS:
        jw_ev(c->j,
              "{\"ph\":\"i\",\"s\":\"g\",\"pid\":%d,\"tid\":0,\"ts\":" US ","
              "\"name\":\"gomaxprocs\",\"cat\":\"sched\","
              "\"args\":{\"new\":%llu,\"old\":%llu}}",
              PID_P, USV(t), (unsigned long long)a, (unsigned long long)b);
        jw_ev(c->j,
              "{\"ph\":\"C\",\"pid\":%d,\"ts\":" US ",\"name\":\"gomaxprocs\","
              "\"args\":{\"procs\":%llu}}",
              PID_P, USV(t), (unsigned long long)a);
        break;
    case TEV_M_START:
        g_close(c, st, t, TEV_NONE, 0, 0);
        p_close(c, st, t);
        st->mtid = (int64_t)a >= 0 ? (long)a : st->mtid;
        instant(c, PID_M, st->mtid, t, "M start", "");
        break;
    case TEV_M_STOP:
        g_close(c, st, t, TEV_NONE, 0, 0);
        p_close(c, st, t);
        instant(c, PID_M, st->mtid, t, "M stop", "");
        break;
    case TEV_M_IDLE:
        st->idle_open = true;
        st->idle_t0 = t;
        break;
    case TEV_M_WAKE:
        if (st->idle_open)
            jw_ev(c->j,
                  "{\"ph\":\"X\",\"pid\":%d,\"tid\":%ld,\"ts\":" US ","
                  "\"dur\":" US ",\"name\":\"idle\",\"cat\":\"m\"}",
                  PID_M, st->mtid, USV(st->idle_t0), USV(t - st->idle_t0));
        st->idle_open = false;
        break;
    case TEV_P_ACQUIRE:
        p_open(c, st, (int)a, t);
        break;
    case TEV_P_RELEASE:
        p_close(c, st, t);
        break;
    default:
        break;
    }
    st->last_t = t;
}

/* ---- A session ----------------------------------------------------------- */

/* conv_end closes what a thread left open when the session stopped. */
static void conv_end(struct conv *c, struct tstate *st)
{
    uint64_t t = ns(c, c->s->ticks_end);
    g_close(c, st, t, TEV_NONE, 0, 0);
    p_close(c, st, t);
    if (st->sys_open)
        jw_ev(c->j,
              "{\"ph\":\"X\",\"pid\":%d,\"tid\":%ld,\"ts\":" US ","
              "\"dur\":" US ",\"name\":\"syscall\",\"cat\":\"m\"}",
              PID_M, st->mtid, USV(st->sys_t0), USV(t - st->sys_t0));
    if (st->idle_open)
        jw_ev(c->j,
              "{\"ph\":\"X\",\"pid\":%d,\"tid\":%ld,\"ts\":" US ","
              "\"dur\":" US ",\"name\":\"idle\",\"cat\":\"m\"}",
              PID_M, st->mtid, USV(st->idle_t0), USV(t - st->idle_t0));
}

/* read_full reads exactly n bytes of fd; false at end of file or error. */
static bool read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* conv_spill converts every record of the spill file, each with its
 * thread's state. */
static int conv_spill(struct conv *c, struct tstate *sts, bool *m_seen,
                      size_t m_cap)
{
    uint64_t *w = malloc(sizeof(uint64_t) * TRACE_CHUNK_WORDS);
    if (!w)
        return -ENOMEM;
    if (lseek(c->s->spill, 0, SEEK_SET) < 0) {
        free(w);
        return -errno;
    }
    uint32_t hdr[2];
    while (read_full(c->s->spill, hdr, sizeof hdr)) {
        uint32_t idx = hdr[0], len = hdr[1];
        if (idx >= c->s->nbufs || len > TRACE_CHUNK_WORDS ||
            !read_full(c->s->spill, w, len * sizeof *w))
            break; /* cannot happen: a torn file; convert what came before */
        struct tstate *st = &sts[idx];
        for (uint32_t i = 0; i < len;) {
            unsigned ev = (unsigned)(w[i] >> 8 & 0xff);
            if (ev == TEV_NONE || ev >= TEV_COUNT)
                break;
            if (st->mtid >= 0 && (size_t)st->mtid < m_cap)
                m_seen[st->mtid] = true;
            conv_ev(c, st, w + i);
            c->events++;
            st->any = true;
            i += 2 + gort__trace_ev_nargs(ev);
        }
    }
    free(w);
    return 0;
}

int gort__trace_write(int fd, const struct trace_session *s)
{
    enum { M_CAP = MAX_MPROCS };
    struct jw *j = malloc(sizeof *j);
    struct conv *c = calloc(1, sizeof *c);
    bool *m_seen = calloc(M_CAP, 1);
    struct tstate *sts = calloc(s->nbufs ? s->nbufs : 1, sizeof *sts);
    int err = -ENOMEM;
    if (!j || !c || !m_seen || !sts)
        goto out;
    j->fd = fd;
    j->err = 0;
    j->n = 0;
    j->first = true;
    c->j = j;
    c->s = s;
    for (uint32_t i = 0; i < s->nbufs; i++)
        sts[i].mtid = s->mid0[i] >= 0 ? (long)s->mid0[i] : TID_NOM + (long)i;
    jw_raw(j, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
    jw_ev(j, "{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\","
             "\"args\":{\"name\":\"Ps\"}}", PID_P);
    jw_ev(j, "{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\","
             "\"args\":{\"name\":\"Ms (threads)\"}}", PID_M);
    if ((err = conv_spill(c, sts, m_seen, M_CAP)))
        goto out;
    for (uint32_t i = 0; i < s->nbufs; i++) {
        if (!sts[i].any)
            continue;
        conv_end(c, &sts[i]);
        if (sts[i].mtid >= TID_NOM)
            jw_ev(j, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%ld,"
                     "\"name\":\"thread_name\",\"args\":{\"name\":"
                     "\"thread %ld (no M)\"}}",
                  PID_M, sts[i].mtid, sts[i].mtid - TID_NOM);
    }
    for (int p = 0; p < GORT_MAXPROCS_LIMIT; p++)
        if (c->p_seen[p]) {
            jw_ev(j, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
                     "\"name\":\"thread_name\",\"args\":{\"name\":\"P%d\"}}",
                  PID_P, p, p);
            jw_ev(j, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
                     "\"name\":\"thread_sort_index\",\"args\":"
                     "{\"sort_index\":%d}}", PID_P, p, p);
        }
    for (int m = 0; m < M_CAP; m++)
        if (m_seen[m])
            jw_ev(j, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
                     "\"name\":\"thread_name\",\"args\":{\"name\":\"M%d\"}}",
                  PID_M, m, m);
    uint64_t end = ns(c, s->ticks_end);
    jw_ev(j, "{\"ph\":\"C\",\"pid\":%d,\"ts\":" US ",\"name\":\"trace drops\","
             "\"args\":{\"drops\":%llu}}",
          PID_P, USV(end), (unsigned long long)s->drops);
    jw_raw(j, "\n],\"otherData\":{\"generator\":\"gort\",\"drops\":%llu,"
              "\"events\":%llu,\"clock\":\"%s\",\"ns_per_tick\":%.6f,"
              "\"duration_us\":" US "}}\n",
           (unsigned long long)s->drops, (unsigned long long)c->events,
           s->clock, s->ns_per_tick, USV(end));
    jw_flush(j);
    err = j->err;
out:
    free(j);
    free(c);
    free(m_seen);
    free(sts);
    return err;
}
