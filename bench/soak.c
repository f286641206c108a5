/*
 * soak.c: the server side of `make soak` (bench/soak.sh, docs/soak.md). One
 * gort program runs three workloads at once for as long as it lives, and
 * samples its own resource use into a CSV:
 *
 *   echo     an echo server (as docs/examples/echo.c: one goroutine per
 *            connection, a pooled 4 KiB buffer taken only while data is
 *            there) for tools/soak-load, which keeps 8,000 connections
 *            open and closes and reopens each after a few messages;
 *   timers   -timers goroutines looping over sleeps, timers stopped,
 *            reset or received, tickers reset and stopped, gort_after
 *            channels dropped before or after they fire, AfterFunc
 *            timers, and selects that time out;
 *   spawn    -spawners goroutines that start batches of children, each
 *            recursing to a random depth with a frame of random size (so
 *            stacks come back touched to different depths), some starting
 *            a grandchild that nobody waits for, then wait for the batch.
 *
 *   soak [-port N] [-secs S] [-interval S] [-csv FILE] [-timers N]
 *        [-spawners N]
 *
 * Listens on 127.0.0.1:N (0, the default: a free port) and prints
 * "soak: listening on 127.0.0.1:PORT" on stderr. Every -interval seconds
 * until -secs have passed it appends one row to the CSV:
 *
 *   t_s,rss_kb,fds,goroutines,stack_reserved_kb,stacks_cached,threads,
 *   live_conns,accepted,echoed_bytes,timer_ops,spawned,peak_goroutines,
 *   stack_rss_kb
 *
 * (/proc/self/statm, /proc/self/fd, gort_stats; accepted to spawned count
 * since the start; peak_goroutines is the most goroutines seen so far, by
 * a goroutine that looks every 10 ms: stack slabs are kept once mapped, so
 * their size follows that peak, and a leak shows as slabs beyond it;
 * stack_rss_kb is the part of rss_kb in stack slabs, the anonymous
 * mappings that /proc/self/smaps flags both "nr" (MAP_NORESERVE) and "nh"
 * (MADV_NOHUGEPAGE), which runtime/stack.c alone makes here: glibc's
 * arenas are "nr" only, thread stacks "nh" only).
 * On SIGINT or SIGTERM it stops the workloads, waits up to
 * 10 s for the client's connections to be gone, and prints one line on
 * stdout; it exits 1 if a connection's goroutine, a workload goroutine or
 * a socket was left behind (a leak the slope test could miss if it came at
 * the end), else 0.
 *
 * Invariants: the counters are atomics, written by any goroutine and read
 * by the sampler; `stopping` only ever goes from 0 to 1. No locks.
 */
#include <gort.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve.h" /* docs/examples: signals, listen, accept */

static struct {
    int port, timers, spawners;
    double secs, interval;
    const char *csv;
} cfg = {.port = 0, .timers = 500, .spawners = 4, .secs = 600,
         .interval = 5, .csv = "soak.csv"};

static _Atomic int stopping;
static _Atomic long live_conns, workers;
static _Atomic uint64_t echoed, timer_ops, spawned, func_fired, peak;

/* The workloads are paced (timer durations up to T_MAX_US, a pause of up
 * to SPAWN_PAUSE_US between spawn batches) so that, with the client's idle
 * times, the program stays below saturation on a shared 2-CPU machine: an
 * overloaded one measures its backlog (connections waiting in the accept
 * queue), not its steady state. */
enum { BUFSZ = 4096, MAX_FRAME = 2048, MAX_DEPTH = 48, T_MAX_US = 50000,
       MAX_BATCH = 100, SPAWN_PAUSE_US = 100000 };

/* ---- echo --------------------------------------------------------------- */

static void *buf_new(void *arg)
{
    (void)arg;
    return malloc(BUFSZ);
}

static void buf_free(void *buf, void *arg)
{
    (void)arg;
    free(buf);
}

static gort_pool bufs = GORT_POOL_INIT(buf_new, buf_free, NULL);

/* echo_once: one read into a pooled buffer and the bytes written back,
 * with fd's read op held (docs/examples/echo.c). */
static ssize_t echo_once(int fd, void *arg)
{
    (void)arg;
    char *buf = gort_pool_get(&bufs);
    if (buf == NULL)
        return -ENOMEM;
    ssize_t n = gort_sys_read(fd, buf, BUFSZ);
    if (n > 0) {
        ssize_t w = gort_write(fd, buf, (size_t)n);
        if (w < 0)
            n = w;
        else
            atomic_fetch_add_explicit(&echoed, (uint64_t)n,
                                      memory_order_relaxed);
    }
    gort_pool_put(&bufs, buf);
    return n;
}

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    while (gort_read_with(fd, echo_once, NULL) > 0)
        ;
    gort_close(fd);
    atomic_fetch_sub(&live_conns, 1);
}

/* The accept loop (serve.h) counts a connection live before serve runs,
 * so that finish never sees 0 while one is on its way. */
static struct serve_acceptor acc = {
    .who = "soak", .serve = serve, .live = &live_conns};

/* ---- timers ------------------------------------------------------------- */

/* rnd is a per-goroutine xorshift64: the state lives on the caller's stack. */
static uint32_t rnd(uint64_t *s, uint32_t n)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)((*s >> 11) % n);
}

static int64_t rnd_ns(uint64_t *s, int64_t max_us)
{
    return GORT_US(rnd(s, (uint32_t)max_us + 1));
}

static void on_func(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&func_fired, 1, memory_order_relaxed);
}

/* timer_round: a timer reset a few times, then received or stopped. */
static void timer_round(uint64_t *s)
{
    gort_timer *t = gort_timer_new(rnd_ns(s, T_MAX_US));
    if (t == NULL)
        return;
    for (uint32_t k = rnd(s, 4); k > 0; k--)
        gort_timer_reset(t, rnd_ns(s, T_MAX_US));
    if (rnd(s, 2))
        gort_chan_recv(gort_timer_chan(t), NULL);
    else
        gort_timer_stop(t);
    gort_timer_free(t);
}

/* ticker_round: a few ticks, a reset to another period, stop. */
static void ticker_round(uint64_t *s)
{
    gort_ticker *tk = gort_ticker_new(GORT_MS(1) + rnd_ns(s, T_MAX_US / 4));
    if (tk == NULL)
        return;
    for (uint32_t k = 1 + rnd(s, 3); k > 0; k--)
        gort_chan_recv(gort_ticker_chan(tk), NULL);
    gort_ticker_reset(tk, GORT_MS(1) + rnd_ns(s, T_MAX_US / 4));
    gort_chan_recv(gort_ticker_chan(tk), NULL);
    gort_ticker_stop(tk);
    gort_ticker_free(tk);
}

/* after_round: a gort_after channel received, or dropped unfired. */
static void after_round(uint64_t *s)
{
    gort_chan *c = gort_after(rnd_ns(s, T_MAX_US));
    if (c == NULL)
        return;
    if (rnd(s, 2))
        gort_chan_recv(c, NULL);
    gort_chan_free(c);
}

/* func_round: an AfterFunc timer, stopped half the time. */
static void func_round(uint64_t *s)
{
    gort_timer *t = gort_timer_func(rnd_ns(s, T_MAX_US), on_func, NULL);
    if (t == NULL)
        return;
    if (rnd(s, 2))
        gort_sleep(rnd_ns(s, T_MAX_US));
    gort_timer_stop(t);
    gort_timer_free(t);
}

/* select_round: a select on a channel nobody sends to, timing out. */
static void select_round(uint64_t *s, gort_chan *never)
{
    int v;
    gort_select_timeout((gort_select_case[]){GORT_RECV(never, &v, NULL)}, 1,
                        rnd_ns(s, T_MAX_US));
}

static void timer_worker(void *arg)
{
    uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)arg;
    gort_chan *never = gort_chan_make(sizeof(int), 0);
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        switch (rnd(&s, 6)) {
        case 0: gort_sleep(rnd_ns(&s, T_MAX_US)); break;
        case 1: timer_round(&s); break;
        case 2: ticker_round(&s); break;
        case 3: after_round(&s); break;
        case 4: func_round(&s); break;
        default: select_round(&s, never); break;
        }
        atomic_fetch_add_explicit(&timer_ops, 1, memory_order_relaxed);
    }
    gort_chan_free(never);
    atomic_fetch_sub(&workers, 1);
}

/* ---- spawn -------------------------------------------------------------- */

static void orphan(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&spawned, 1, memory_order_relaxed);
    gort_yield();
}

/* dive recurses depth levels, each with a frame of `frame` bytes that it
 * touches, so the stack is used down to about depth * frame bytes. */
static __attribute__((noinline)) unsigned dive(int depth, unsigned frame,
                                               uint64_t *s)
{
    volatile char pad[MAX_FRAME];
    for (unsigned i = 0; i < frame; i += 64)
        pad[i] = (char)i;
    if (depth == 0) {
        if (rnd(s, 8) == 0)
            gort_yield();
        return pad[0];
    }
    return dive(depth - 1, frame, s) + pad[frame / 2];
}

static void child(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg * 0x2545f4914f6cdd1dull + 1;
    atomic_fetch_add_explicit(&spawned, 1, memory_order_relaxed);
    dive((int)rnd(&s, MAX_DEPTH + 1), 64 + rnd(&s, MAX_FRAME - 64), &s);
    if (rnd(&s, 16) == 0 && gort_go(orphan, NULL) != 0)
        fprintf(stderr, "soak: gort_go failed\n");
}

static void spawner(void *arg)
{
    uint64_t s = 0xdeadbeefcafef00dull ^ (uint64_t)(uintptr_t)arg;
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        gort_wg wg = GORT_WG_INIT;
        uint32_t n = 1 + rnd(&s, MAX_BATCH);
        for (uint32_t i = 0; i < n; i++)
            if (gort_wg_go(&wg, child, (void *)(uintptr_t)(s + i)) != 0)
                fprintf(stderr, "soak: gort_wg_go failed\n");
        gort_wg_wait(&wg);
        gort_sleep(rnd_ns(&s, SPAWN_PAUSE_US));
    }
    atomic_fetch_sub(&workers, 1);
}

/* ---- sampling ----------------------------------------------------------- */

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* open_fds counts /proc/self/fd's entries, less the directory's own fd;
 * with sockets_only, only the sockets. */
static long open_fds(bool sockets_only)
{
    DIR *d = opendir("/proc/self/fd");
    long n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char target[32];
        if (e->d_name[0] == '.')
            continue;
        ssize_t len = sockets_only ? readlinkat(dirfd(d), e->d_name, target,
                                                sizeof target)
                                   : 0;
        n += !sockets_only || (len > 7 && !memcmp(target, "socket:", 7));
    }
    closedir(d);
    return sockets_only ? n : n - 1;
}

/* stack_rss sums the resident kilobytes of the stack slabs (see above). */
static long stack_rss(void)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    long sum = 0, rss = 0;
    bool anon = false;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        int name = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &name) == 2 &&
            name > 0) {
            anon = line[name] == '\n' || line[name] == '\0';
        } else if (!strncmp(line, "Rss:", 4)) {
            rss = atol(line + 4);
        } else if (!strncmp(line, "VmFlags:", 8) && anon &&
                   strstr(line, " nr") && strstr(line, " nh")) {
            sum += rss;
        }
    }
    fclose(f);
    return sum;
}

static void sample(FILE *out, int64_t t0)
{
    gort_stats_t st;
    gort_stats(&st);
    fprintf(out, "%.1f,%ld,%ld,%llu,%llu,%llu,%d,%ld,%ld,%llu,%llu,%llu,"
                 "%llu,%ld\n",
            (double)(gort_now() - t0) / 1e9, rss_kb(), open_fds(false),
            (unsigned long long)st.goroutines,
            (unsigned long long)(st.stack_reserved_bytes / 1024),
            (unsigned long long)st.stacks_cached, st.threads,
            atomic_load(&live_conns), atomic_load(&acc.accepted),
            (unsigned long long)atomic_load(&echoed),
            (unsigned long long)atomic_load(&timer_ops),
            (unsigned long long)atomic_load(&spawned),
            (unsigned long long)atomic_load(&peak), stack_rss());
    fflush(out);
}

/* peaker keeps `peak` at the most goroutines seen, every 10 ms. */
static void peaker(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        gort_stats_t st;
        gort_stats(&st);
        if (st.goroutines > atomic_load(&peak))
            atomic_store(&peak, st.goroutines);
        gort_sleep(GORT_MS(10));
    }
    atomic_fetch_sub(&workers, 1);
}

/* sampler writes a row every interval until secs have passed; the last
 * one a second before the end, while the client still runs. */
static void sampler(void *arg)
{
    FILE *out = arg;
    int64_t t0 = gort_now();
    int64_t step = (int64_t)(cfg.interval * 1e9);
    int64_t end = t0 + (int64_t)(cfg.secs * 1e9) - GORT_MS(1000);
    fprintf(out, "t_s,rss_kb,fds,goroutines,stack_reserved_kb,stacks_cached,"
                 "threads,live_conns,accepted,echoed_bytes,timer_ops,"
                 "spawned,peak_goroutines,stack_rss_kb\n");
    for (int64_t next = t0 + step; next <= end; next += step) {
        gort_sleep(next - gort_now());
        if (atomic_load(&stopping))
            break;
        sample(out, t0);
    }
    fclose(out);
    atomic_fetch_sub(&workers, 1);
}

/* ---- main --------------------------------------------------------------- */

/* finish stops the workloads and checks that nothing was left behind once
 * the client's connections are gone: goroutines back to main + accept
 * loop, sockets back to the listener alone. Other fds are not compared:
 * the runtime opens some lazily (the symbol table's shared objects, the
 * system-call batcher's ring). */
static int finish(long socks0)
{
    atomic_store(&stopping, 1);
    int64_t deadline = gort_now() + GORT_MS(10000);
    while ((atomic_load(&workers) > 0 || atomic_load(&live_conns) > 0) &&
           gort_now() < deadline)
        gort_sleep(GORT_MS(10));
    gort_sleep(GORT_MS(100)); /* orphans and AfterFunc goroutines end */
    gort_stats_t st;
    gort_stats(&st);
    long socks = open_fds(true);
    int bad = atomic_load(&workers) != 0 || atomic_load(&live_conns) != 0 ||
              st.goroutines != 2 || socks != socks0;
    printf("soak: accepted=%ld echoed_bytes=%llu timer_ops=%llu spawned=%llu "
           "after: live_conns=%ld workers=%ld goroutines=%llu sockets=%ld "
           "(before %ld) %s\n",
           atomic_load(&acc.accepted), (unsigned long long)atomic_load(&echoed),
           (unsigned long long)atomic_load(&timer_ops),
           (unsigned long long)atomic_load(&spawned),
           atomic_load(&live_conns), atomic_load(&workers),
           (unsigned long long)st.goroutines, socks, socks0,
           bad ? "LEAK" : "ok");
    fflush(stdout);
    return bad;
}

static int soak_main(void *arg)
{
    (void)arg;
    FILE *out = fopen(cfg.csv, "w");
    if (out == NULL) {
        fprintf(stderr, "soak: open %s: %s\n", cfg.csv, strerror(errno));
        return 1;
    }
    gort_chan *sig = serve_notify("soak");
    char addr[32];
    int lfd = sig ? serve_listen("soak", cfg.port, addr) : -1;
    if (lfd < 0)
        return 1;
    long socks0 = open_fds(true);
    acc.lfd = lfd;
    gort_go(serve_accept_loop, &acc);
    atomic_store(&workers, cfg.timers + cfg.spawners + 2);
    gort_go(peaker, NULL);
    for (int i = 0; i < cfg.timers; i++)
        gort_go(timer_worker, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < cfg.spawners; i++)
        gort_go(spawner, (void *)(uintptr_t)(i + 1));
    gort_go(sampler, out);
    fprintf(stderr, "soak: listening on %s\n", addr);
    serve_wait(sig);
    return finish(socks0);
}

static void usage(void)
{
    fprintf(stderr, "usage: soak [-port N] [-secs S] [-interval S] "
                    "[-csv FILE] [-timers N] [-spawners N]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (v == NULL)
            usage();
        i++;
        if (!strcmp(k, "-csv")) {
            cfg.csv = v;
            continue;
        }
        double x = strtod(v, &end);
        if (end == v || *end != '\0' || x < 0)
            usage();
        if (!strcmp(k, "-port") && x <= 65535) cfg.port = (int)x;
        else if (!strcmp(k, "-secs") && x >= 2) cfg.secs = x;
        else if (!strcmp(k, "-interval") && x > 0) cfg.interval = x;
        else if (!strcmp(k, "-timers") && x <= 100000) cfg.timers = (int)x;
        else if (!strcmp(k, "-spawners") && x <= 1000) cfg.spawners = (int)x;
        else usage();
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    /* 8,000 connections need more than the usual soft limit of 1,024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    serve_block_signals(); /* before gort_run: every M inherits it */
    return gort_run(soak_main, NULL);
}
