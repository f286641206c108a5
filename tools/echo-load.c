/*
 * echo-load.c: the TCP echo load client of the benchmark suite, used against
 * both the gort and the Go echo servers (bench/run.sh).
 *
 *   echo-load [-h 127.0.0.1] [-p 9000] [-c 100] [-t 1] [-s 64] [-d SECS | -n MSGS]
 *
 * Opens -c connections (blocking connect, one after another, TCP_NODELAY,
 * then non-blocking) before the clock starts and splits them into -t
 * contiguous groups, one thread with its own epoll each. Every connection
 * runs in lockstep: send an -s byte message whose byte j is
 * (id*131 + seq*31 + j*7) mod 256, read until -s bytes are back, check every
 * byte, record the latency, send the next. No message starts after -d
 * seconds (default 5) or after -n messages in all. Echoes in flight at the
 * end of the window are awaited and checked but only counted in `drained`.
 * Output, one line on stdout:
 *
 *   bench=echo conns=C msgs=N msgs_per_s=X p50_us=A p99_us=B errors=E
 *   threads=T size=S secs=W p999_us=Q max_us=M drained=D
 *
 * Exits 1 if any connection failed (connect/send error, reset, EOF before
 * the full echo, a wrong byte, no echo for 10 s); the first five failures
 * are described on stderr.
 *
 * Invariants: a connection has at most one message in flight; `got` counts
 * the echoed bytes of that message, `sent` the bytes written of it.
 * Locking: each thread owns its connections and histogram; the threads
 * share only atomics (started, errors, reported). The histograms are merged
 * after the joins.
 * See also: bench/run.sh, docs/benchmarks.md.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#define NS_PER_US 1000LL
#define NS_PER_S 1000000000LL
#define STALL_NS (10 * NS_PER_S)   /* no echo for this long: a failure */
#define STALL_SCAN_NS NS_PER_S     /* how often each thread looks for stalls */
#define MAX_REPORTED 5             /* failures described on stderr */
#define MAX_EVENTS 1024
#define MAX_SIZE (1 << 20)

/* Latency histogram in microseconds: exact below 2^EXACT_BITS, above that
 * 2^SUB_BITS linear buckets per power of two, so a bucket is at most
 * 1/512 (0.195 %) of its value wide. */
#define EXACT_BITS 10
#define SUB_BITS 9
#define MAX_EXP 42
#define EXACT_N (1 << EXACT_BITS)
#define HIST_N (EXACT_N + (MAX_EXP - EXACT_BITS + 1) * (1 << SUB_BITS))

struct hist {
    uint64_t count[HIST_N];
    uint64_t total;
    int64_t max_ns;
};

struct conn {
    int fd;
    int id;
    uint32_t seq;      /* number of the message in flight or next */
    int sent;          /* bytes of the message in flight written so far */
    int got;           /* bytes of it echoed so far */
    bool busy;         /* a message is in flight */
    bool dead;         /* failed and closed */
    bool want_out;     /* EPOLLOUT registered (a partial send is pending) */
    int64_t t_send;    /* when the message in flight started */
};

struct worker {
    pthread_t tid;
    int ep;
    struct conn *conns;
    int n;
    int busy;          /* connections with a message in flight */
    uint64_t msgs;     /* echoes completed inside the window */
    uint64_t drained;  /* echoes completed after it */
    int64_t last_done; /* time of the last completed echo */
    struct hist h;
};

static struct {
    const char *host;
    int port, conns, threads, size;
    double secs;
    int64_t max_msgs;  /* -n; 0: no limit */
    int64_t start, end; /* monotonic ns; end 0: no time limit */
    _Atomic int64_t started;
    _Atomic int errors;
    _Atomic int reported;
} cfg = {.host = "127.0.0.1", .port = 9000, .conns = 100, .threads = 1,
         .size = 64};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static uint8_t pattern(int id, uint32_t seq, int j)
{
    return (uint8_t)((uint32_t)id * 131u + seq * 31u + (uint32_t)j * 7u);
}

/* fail counts one failure and describes the first few on stderr. */
static void fail(int id, const char *what, int err)
{
    atomic_fetch_add_explicit(&cfg.errors, 1, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&cfg.reported, 1, memory_order_relaxed) >=
        MAX_REPORTED)
        return;
    if (err)
        fprintf(stderr, "echo-load: conn %d: %s: %s\n", id, what, strerror(err));
    else
        fprintf(stderr, "echo-load: conn %d: %s\n", id, what);
}

static int hist_index(int64_t us)
{
    if (us < EXACT_N)
        return (int)(us < 0 ? 0 : us);
    int e = 63 - __builtin_clzll((unsigned long long)us);
    if (e > MAX_EXP)
        return HIST_N - 1;
    int sub = (int)((us >> (e - SUB_BITS)) & ((1 << SUB_BITS) - 1));
    return EXACT_N + (e - EXACT_BITS) * (1 << SUB_BITS) + sub;
}

/* hist_value is the lowest latency (us) that falls into bucket i. */
static int64_t hist_value(int i)
{
    if (i < EXACT_N)
        return i;
    int e = (i - EXACT_N) / (1 << SUB_BITS) + EXACT_BITS;
    int64_t sub = (i - EXACT_N) % (1 << SUB_BITS);
    return ((int64_t)1 << e) + (sub << (e - SUB_BITS));
}

static void hist_add(struct hist *h, int64_t ns)
{
    h->count[hist_index(ns / NS_PER_US)]++;
    h->total++;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

/* hist_quantile returns the latency (us) at quantile q (0..1]. */
static int64_t hist_quantile(const struct hist *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_N; i++) {
        seen += h->count[i];
        if (seen >= rank)
            return hist_value(i);
    }
    return h->max_ns / NS_PER_US;
}

static void conn_kill(struct worker *w, struct conn *c, const char *what,
                      int err)
{
    fail(c->id, what, err);
    if (c->busy)
        w->busy--;
    c->busy = false;
    c->dead = true;
    close(c->fd); /* also removes it from the epoll set */
}

static void set_out(struct worker *w, struct conn *c, bool on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = on;
}

/* may_start says whether another message may begin now. */
static bool may_start(int64_t t)
{
    if (cfg.end && t >= cfg.end)
        return false;
    if (cfg.max_msgs &&
        atomic_fetch_add_explicit(&cfg.started, 1, memory_order_relaxed) >=
            cfg.max_msgs)
        return false;
    return true;
}

/* conn_send writes what is left of the message in flight. */
static void conn_send(struct worker *w, struct conn *c)
{
    uint8_t buf[4096];
    while (c->sent < cfg.size) {
        int len = cfg.size - c->sent;
        if (len > (int)sizeof buf)
            len = (int)sizeof buf;
        for (int j = 0; j < len; j++)
            buf[j] = pattern(c->id, c->seq, c->sent + j);
        ssize_t r = send(c->fd, buf, (size_t)len, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                set_out(w, c, true);
                return;
            }
            conn_kill(w, c, "send", errno);
            return;
        }
        c->sent += (int)r;
    }
    set_out(w, c, false);
}

static void conn_start(struct worker *w, struct conn *c, int64_t t)
{
    if (!may_start(t))
        return;
    c->busy = true;
    w->busy++;
    c->sent = 0;
    c->got = 0;
    c->t_send = t;
    conn_send(w, c);
}

/* conn_complete records a finished echo and starts the next message. */
static void conn_complete(struct worker *w, struct conn *c)
{
    int64_t t = now_ns();
    c->busy = false;
    w->busy--;
    c->seq++;
    w->last_done = t;
    if (cfg.end && t > cfg.end) {
        w->drained++;
        return;
    }
    w->msgs++;
    hist_add(&w->h, t - c->t_send);
    conn_start(w, c, t);
}

static void conn_recv(struct worker *w, struct conn *c)
{
    uint8_t buf[4096];
    for (;;) {
        int want = c->busy ? cfg.size - c->got : (int)sizeof buf;
        if (want > (int)sizeof buf)
            want = (int)sizeof buf;
        ssize_t r = recv(c->fd, buf, (size_t)want, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                conn_kill(w, c, "recv", errno);
            return;
        }
        if (r == 0) {
            conn_kill(w, c, c->busy ? "EOF before the full echo" : "EOF", 0);
            return;
        }
        if (!c->busy) {
            conn_kill(w, c, "data with no message in flight", 0);
            return;
        }
        for (int j = 0; j < (int)r; j++) {
            if (buf[j] != pattern(c->id, c->seq, c->got + j)) {
                conn_kill(w, c, "echoed byte does not match", 0);
                return;
            }
        }
        c->got += (int)r;
        if (c->got == cfg.size) {
            /* Done with this socket until epoll says otherwise: the echo
             * of the message just started cannot be back yet, and a recv
             * to find that out would add a failing system call to every
             * message (epoll is level-triggered, so nothing is missed). */
            conn_complete(w, c);
            return;
        }
    }
}

static void scan_stalls(struct worker *w, int64_t t)
{
    for (int i = 0; i < w->n; i++) {
        struct conn *c = &w->conns[i];
        if (!c->dead && c->busy && t - c->t_send > STALL_NS)
            conn_kill(w, c, "no echo for 10 s", 0);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    int64_t t = now_ns();
    for (int i = 0; i < w->n; i++)
        if (!w->conns[i].dead)
            conn_start(w, &w->conns[i], t);
    int64_t next_scan = t + STALL_SCAN_NS;
    while (w->busy > 0) {
        int timeout = 100;
        if (cfg.end && t < cfg.end && (cfg.end - t) / 1000000 < timeout)
            timeout = (int)((cfg.end - t) / 1000000) + 1;
        int ne = epoll_wait(w->ep, evs, MAX_EVENTS, timeout);
        if (ne < 0 && errno != EINTR) {
            perror("echo-load: epoll_wait");
            exit(1);
        }
        for (int i = 0; i < ne; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->dead)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                conn_recv(w, c);
            if (!c->dead && c->busy && (evs[i].events & EPOLLOUT))
                conn_send(w, c);
        }
        t = now_ns();
        if (t >= next_scan) {
            scan_stalls(w, t);
            next_scan = t + STALL_SCAN_NS;
        }
    }
    return NULL;
}

/* dial opens connection id: blocking connect, TCP_NODELAY, non-blocking. */
static int dial(const struct sockaddr_in *sa, int id)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(id, "socket", errno);
        return -1;
    }
    int one = 1;
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0) {
        fail(id, "connect", errno);
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: echo-load [-h 127.0.0.1] [-p 9000] [-c 100] "
                    "[-t 1] [-s 64] [-d SECS | -n MSGS]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "h:p:c:t:s:d:n:")) != -1) {
        switch (opt) {
        case 'h': cfg.host = optarg; break;
        case 'p': cfg.port = atoi(optarg); break;
        case 'c': cfg.conns = atoi(optarg); break;
        case 't': cfg.threads = atoi(optarg); break;
        case 's': cfg.size = atoi(optarg); break;
        case 'd': cfg.secs = atof(optarg); break;
        case 'n': cfg.max_msgs = atoll(optarg); break;
        default: usage();
        }
    }
    if (optind != argc || cfg.conns < 1 || cfg.threads < 1 || cfg.size < 1 ||
        cfg.size > MAX_SIZE || cfg.port < 1 || cfg.port > 65535 ||
        cfg.secs < 0 || cfg.max_msgs < 0)
        usage();
    if (cfg.threads > cfg.conns)
        cfg.threads = cfg.conns;
    if (cfg.secs == 0 && cfg.max_msgs == 0)
        cfg.secs = 5;
}

/* open_all connects every connection and hands them to the workers. */
static struct worker *open_all(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)cfg.port)};
    if (inet_pton(AF_INET, cfg.host, &sa.sin_addr) != 1) {
        fprintf(stderr, "echo-load: bad IPv4 address %s\n", cfg.host);
        exit(2);
    }
    struct worker *ws = calloc((size_t)cfg.threads, sizeof *ws);
    struct conn *cs = calloc((size_t)cfg.conns, sizeof *cs);
    if (!ws || !cs) {
        fprintf(stderr, "echo-load: out of memory\n");
        exit(1);
    }
    for (int k = 0; k < cfg.threads; k++) {
        struct worker *w = &ws[k];
        int lo = (int)((int64_t)cfg.conns * k / cfg.threads);
        int hi = (int)((int64_t)cfg.conns * (k + 1) / cfg.threads);
        w->conns = cs + lo;
        w->n = hi - lo;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0) {
            perror("echo-load: epoll_create1");
            exit(1);
        }
        for (int i = 0; i < w->n; i++) {
            struct conn *c = &w->conns[i];
            c->id = lo + i;
            c->fd = dial(&sa, c->id);
            c->dead = c->fd < 0;
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            if (!c->dead && epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
                perror("echo-load: epoll_ctl");
                exit(1);
            }
        }
    }
    return ws;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    struct worker *ws = open_all();

    cfg.start = now_ns();
    if (cfg.secs > 0)
        cfg.end = cfg.start + (int64_t)(cfg.secs * (double)NS_PER_S);
    for (int k = 0; k < cfg.threads; k++) {
        if (pthread_create(&ws[k].tid, NULL, worker_main, &ws[k]) != 0) {
            fprintf(stderr, "echo-load: pthread_create failed\n");
            exit(1);
        }
    }
    static struct hist all;
    uint64_t msgs = 0, drained = 0;
    int64_t last = cfg.start;
    for (int k = 0; k < cfg.threads; k++) {
        struct worker *w = &ws[k];
        pthread_join(w->tid, NULL);
        msgs += w->msgs;
        drained += w->drained;
        if (w->last_done > last)
            last = w->last_done;
        for (int i = 0; i < HIST_N; i++)
            all.count[i] += w->h.count[i];
        all.total += w->h.total;
        if (w->h.max_ns > all.max_ns)
            all.max_ns = w->h.max_ns;
        for (int i = 0; i < w->n; i++)
            if (!w->conns[i].dead)
                close(w->conns[i].fd);
    }
    /* With -d the window is the measure; with only -n, until the last echo. */
    double secs = cfg.end ? cfg.secs : (double)(last - cfg.start) / NS_PER_S;
    int errors = atomic_load(&cfg.errors);
    printf("bench=echo conns=%d msgs=%llu msgs_per_s=%.1f p50_us=%lld "
           "p99_us=%lld errors=%d threads=%d size=%d secs=%.3f p999_us=%lld "
           "max_us=%lld drained=%llu\n",
           cfg.conns, (unsigned long long)msgs,
           secs > 0 ? (double)msgs / secs : 0.0,
           (long long)hist_quantile(&all, 0.50),
           (long long)hist_quantile(&all, 0.99), errors, cfg.threads,
           cfg.size, secs, (long long)hist_quantile(&all, 0.999),
           (long long)(all.max_ns / NS_PER_US), (unsigned long long)drained);
    return errors ? 1 : 0;
}
