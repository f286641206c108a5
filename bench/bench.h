/*
 * bench.h: what every bench/bench_<name>.c shares: Go-style flag parsing,
 * the monotonic clock, RSS readings and the one result line
 *
 *   bench=NAME impl=gort procs=P n=N ns_per_op=F ops_per_s=F peak_rss_kb=K
 *   ops=OPS wall_ms=F [extra key=value...]
 *
 * which is the same line, key for key, as the Go twins in bench/go print
 * (contract: /work/shared/bench-go/README.md, "The result line").
 *
 * Invariants: the timed region never includes flag parsing, runtime start,
 * result checks or printing; peak_rss_kb is read just before printing.
 * Locking: none; only the root goroutine calls these.
 * See also: bench/run.sh, docs/benchmarks.md, bench/go/internal/res.
 */
#ifndef GORT_BENCH_H
#define GORT_BENCH_H

#include <gort.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* One command-line flag: -name V, -name=V, --name V or --name=V. */
enum bench_flag_kind { BENCH_INT, BENCH_DURATION };
struct bench_flag {
    const char *name;
    enum bench_flag_kind kind;
    int64_t *val; /* BENCH_DURATION: nanoseconds */
    const char *help;
};

/* bench_fail prints "FAIL: ..." on stderr and exits with status 1. */
__attribute__((format(printf, 1, 2), noreturn)) static inline void
bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stdout);
    exit(1);
}

/* bench_now is the monotonic clock in nanoseconds (Go: time.Now's
 * monotonic reading). It never parks. */
static inline int64_t bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* bench_peak_rss_kb is getrusage(RUSAGE_SELF).ru_maxrss (KiB on Linux). */
static inline long bench_peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss;
}

/* bench_cur_rss_bytes is field 2 of /proc/self/statm times the page size. */
static inline int64_t bench_cur_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, resident = 0;
    if (!f)
        bench_fail("open /proc/self/statm");
    int got = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    if (got != 2)
        bench_fail("parse /proc/self/statm");
    return (int64_t)resident * sysconf(_SC_PAGESIZE);
}

/* parse_duration reads a Go duration ("1ms", "250us", "1.5s", "100ns"). */
static inline int parse_duration(const char *s, int64_t *out)
{
    static const struct { const char *unit; double ns; } units[] = {
        {"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
        {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
    };
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return -1;
    if (*end == 0 && v == 0) {
        *out = 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            *out = (int64_t)(v * units[i].ns);
            return 0;
        }
    }
    return -1;
}

static inline void bench_usage(const char *prog, const struct bench_flag *fl)
{
    fprintf(stderr, "usage: %s", prog);
    for (const struct bench_flag *f = fl; f->name; f++)
        fprintf(stderr, " [-%s %s]", f->name,
                f->kind == BENCH_DURATION ? "DURATION" : "N");
    fputc('\n', stderr);
    for (const struct bench_flag *f = fl; f->name; f++)
        fprintf(stderr, "  -%s\t%s\n", f->name, f->help);
    exit(2);
}

/* bench_set_flag stores text into f; returns 0 or -1 if malformed. */
static inline int bench_set_flag(const struct bench_flag *f, const char *text)
{
    if (f->kind == BENCH_DURATION)
        return parse_duration(text, f->val);
    char *end;
    long long v = strtoll(text, &end, 0);
    if (end == text || *end)
        return -1;
    *f->val = v;
    return 0;
}

/* bench_flags parses argv as Go's flag package does (flags only, no
 * positional arguments). Each flag's default is what *val holds on entry.
 * Exits 2 with a usage message on an unknown or malformed flag. */
static inline void bench_flags(int argc, char **argv,
                               const struct bench_flag *fl)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            bench_usage(argv[0], fl);
        a += (a[1] == '-') ? 2 : 1;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const struct bench_flag *f = fl;
        while (f->name && (strlen(f->name) != len || strncmp(f->name, a, len)))
            f++;
        if (!f->name)
            bench_usage(argv[0], fl);
        const char *text = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!text || bench_set_flag(f, text) < 0)
            bench_usage(argv[0], fl);
    }
}

/* bench_print writes the result line; extra_fmt (may be NULL) formats the
 * workload's extra key=value pairs. Call it from inside gort_run so procs
 * is the processor count in effect. */
__attribute__((format(printf, 5, 6))) static inline void
bench_print(const char *name, int64_t n, int64_t ops, int64_t wall_ns,
            const char *extra_fmt, ...)
{
    double ns = (double)wall_ns;
    printf("bench=%s impl=gort procs=%d n=%lld ns_per_op=%.2f ops_per_s=%.1f "
           "peak_rss_kb=%ld ops=%lld wall_ms=%.3f",
           name, gort_maxprocs(0), (long long)n, ns / (double)ops,
           (double)ops * 1e9 / ns, bench_peak_rss_kb(), (long long)ops,
           ns / 1e6);
    if (extra_fmt) {
        va_list ap;
        va_start(ap, extra_fmt);
        putchar(' ');
        vprintf(extra_fmt, ap);
        va_end(ap);
    }
    putchar('\n');
    fflush(stdout);
    if (getenv("BENCH_STATS")) {
        /* Where the time went, for studying a result; not part of the line
         * run.sh parses. */
        gort_stats_t st;
        gort_stats(&st);
        fprintf(stderr,
                "stats: steals=%llu stolen=%llu parks=%llu yields=%llu "
                "preempts=%llu threads=%d stack_reserved_mb=%llu\n",
                (unsigned long long)st.steals,
                (unsigned long long)st.stolen_gs,
                (unsigned long long)st.parks, (unsigned long long)st.yields,
                (unsigned long long)st.preempts, st.threads,
                (unsigned long long)(st.stack_reserved_bytes >> 20));
    }
}

/* bench_check_spawn fails the run if gort_go / gort_go_copy returned an
 * error (Go would have aborted the process on out-of-memory). */
static inline void bench_check_spawn(int rc)
{
    if (rc != 0)
        bench_fail("spawn: %s", gort_strerror(rc));
}

/* bench_start runs main_fn as the root goroutine and exits with its value,
 * or fails if the runtime could not start. */
static inline int bench_start(int (*main_fn)(void *), void *arg)
{
    int rc = gort_run(main_fn, arg);
    if (rc < 0)
        bench_fail("gort_run: %s", gort_strerror(rc));
    return rc;
}

/* bench_spawn_wait times starting count goroutines fn(NULL) on wg and
 * waiting for all of them (each calls gort_wg_done); returns the wall time
 * in ns. It parks (gort_wg_wait). */
static inline int64_t bench_spawn_wait(gort_wg *wg, int64_t count,
                                       void (*fn)(void *))
{
    int64_t t0 = bench_now();
    gort_wg_add(wg, (int)count);
    for (int64_t i = 0; i < count; i++)
        bench_check_spawn(gort_go(fn, NULL));
    gort_wg_wait(wg);
    return bench_now() - t0;
}

/* bench_split_wait times g goroutines sharing n work items on wg:
 * goroutine i gets fn(&k), k = n*(i+1)/g - n*i/g (an int64_t); returns the
 * wall time in ns. It parks (gort_wg_wait). */
static inline int64_t bench_split_wait(gort_wg *wg, int64_t n, int64_t g,
                                       void (*fn)(void *))
{
    int64_t t0 = bench_now();
    gort_wg_add(wg, (int)g);
    for (int64_t i = 0; i < g; i++) {
        int64_t k = n * (i + 1) / g - n * i / g;
        bench_check_spawn(gort_go_copy(fn, &k, sizeof k));
    }
    gort_wg_wait(wg);
    return bench_now() - t0;
}

/* bench_main_ng is main for benchmarks with flags -n (work items in total)
 * and -g (goroutines): parses them and runs main_fn as the root goroutine. */
static inline int bench_main_ng(int argc, char **argv, const char *name,
                                int64_t *n, int64_t *g,
                                int (*main_fn)(void *))
{
    const struct bench_flag flags[] = {
        {"n", BENCH_INT, n, "increments in total"},
        {"g", BENCH_INT, g, "goroutines"},
        {0},
    };
    bench_flags(argc, argv, flags);
    if (*n < 1 || *g < 1 || *g > INT32_MAX)
        bench_fail("%s: need -n >= 1 and -g >= 1", name);
    return bench_start(main_fn, NULL);
}

#endif /* GORT_BENCH_H */
