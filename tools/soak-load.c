/*
 * soak-load.c: the client of `make soak` (bench/soak.sh, docs/soak.md).
 * Keeps -c connections to an echo server open and churns them: each
 * connection sends 1 to -m messages of 1 to -s bytes, in lockstep (send a
 * message, read its whole echo, check every byte, stay idle for 0 to -i
 * milliseconds), then closes, and its slot at once connects again. Runs
 * for -d seconds, then lets each connection finish its message in flight
 * and close.
 *
 *   soak-load [-h 127.0.0.1] -p PORT [-c 8000] [-t 2] [-d 600] [-m 16]
 *             [-s 2048] [-i 10000] [-w 60]
 *
 * The idle time keeps the server below saturation on a small machine, so
 * that the run reaches a steady state (most connections idle, as on a
 * real server) rather than a backlog of connections waiting for accept.
 *
 * Byte j of message seq of connection serial is (serial*131 + seq*31 +
 * j*7) mod 256, serial being unique over the run, so a byte echoed on the
 * wrong connection, twice, late or out of order is caught, not only a
 * lost one. Any failure (connect error other than a busy port, reset,
 * EOF before the full echo, a wrong or unexpected byte, no progress for
 * -w seconds) counts; the first five are described on stderr. Output, one
 * line on stdout:
 *
 *   soak-load conns=C secs=S cycled=N msgs=M bytes=B errors=E
 *   connect_retries=R
 *
 * (cycled: connections closed after their last echo; bytes: echoed bytes
 * checked). Exits 1 if errors > 0.
 *
 * Invariants: a slot has at most one connection and that one at most one
 * message in flight. Each thread owns its slots and epoll set; threads
 * share only atomics. Connects are non-blocking, so a full accept queue
 * stalls one slot, not the thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define MAX_REPORTED 5
#define MAX_EVENTS 1024
#define MAX_SIZE (1 << 20)
#define SCAN_NS (10 * 1000000LL) /* idle slots start within 10 ms */

enum state { IDLE, CONNECTING, OPEN, WAIT, RETRY };

struct slot {
    int fd;
    enum state st;
    uint32_t serial;   /* of the connection now in the slot */
    uint32_t seq;      /* message in flight */
    int left;          /* messages still to send on this connection */
    int size, sent, got;
    bool want_out;
    int64_t t_last;    /* last progress */
    int64_t t_next;    /* WAIT: when the next message starts */
};

struct worker {
    pthread_t tid;
    int ep, k;
    struct slot *slots;
    int n, active;     /* slots with a connection or a retry pending */
    uint64_t rnd;
    uint64_t cycled, msgs, bytes, retries;
};

static struct {
    const char *host;
    int port, conns, threads, max_msgs, max_size, idle_ms;
    double secs, stall;
    struct sockaddr_in sa;
    int64_t end;
    _Atomic uint32_t serial;
    _Atomic int errors, reported;
} cfg = {.host = "127.0.0.1", .conns = 8000, .threads = 2, .secs = 600,
         .max_msgs = 16, .max_size = 2048, .idle_ms = 10000, .stall = 60};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static uint32_t rnd(struct worker *w, uint32_t n)
{
    w->rnd ^= w->rnd << 13;
    w->rnd ^= w->rnd >> 7;
    w->rnd ^= w->rnd << 17;
    return (uint32_t)((w->rnd >> 11) % n);
}

static uint8_t pattern(uint32_t serial, uint32_t seq, int j)
{
    return (uint8_t)(serial * 131u + seq * 31u + (uint32_t)j * 7u);
}

static void fail(struct slot *s, const char *what, int err)
{
    atomic_fetch_add(&cfg.errors, 1);
    if (atomic_fetch_add(&cfg.reported, 1) >= MAX_REPORTED)
        return;
    fprintf(stderr, "soak-load: conn %u msg %u: %s%s%s\n", s->serial, s->seq,
            what, err ? ": " : "", err ? strerror(err) : "");
}

static void slot_close(struct worker *w, struct slot *s)
{
    close(s->fd); /* also leaves the epoll set */
    s->fd = -1;
    s->st = IDLE;
    w->active--;
}

static void slot_kill(struct worker *w, struct slot *s, const char *what,
                      int err)
{
    fail(s, what, err);
    slot_close(w, s);
}

static void set_events(struct worker *w, struct slot *s, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
                             .data.ptr = s};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, s->fd, &ev);
    s->want_out = out;
}

static void msg_send(struct worker *w, struct slot *s)
{
    uint8_t buf[4096];
    while (s->sent < s->size) {
        int len = s->size - s->sent;
        if (len > (int)sizeof buf)
            len = (int)sizeof buf;
        for (int j = 0; j < len; j++)
            buf[j] = pattern(s->serial, s->seq, s->sent + j);
        ssize_t r = send(s->fd, buf, (size_t)len, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) {
            if (!s->want_out)
                set_events(w, s, true);
            return;
        }
        if (r < 0) {
            slot_kill(w, s, "send", errno);
            return;
        }
        s->sent += (int)r;
    }
    if (s->want_out)
        set_events(w, s, false);
}

static void msg_start(struct worker *w, struct slot *s)
{
    s->size = 1 + (int)rnd(w, (uint32_t)cfg.max_size);
    s->sent = s->got = 0;
    msg_send(w, s);
}

/* slot_open starts a connection in slot s; a busy local port (all
 * ephemeral ports in TIME_WAIT) is retried at the next scan. */
static void slot_open(struct worker *w, struct slot *s, int64_t t)
{
    s->t_last = t;
    s->serial = atomic_fetch_add(&cfg.serial, 1);
    s->seq = 0;
    s->left = 1 + (int)rnd(w, (uint32_t)cfg.max_msgs);
    s->want_out = true;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        fail(s, "socket", errno);
        return;
    }
    w->active++;
    if (connect(s->fd, (struct sockaddr *)&cfg.sa, sizeof cfg.sa) < 0 &&
        errno != EINPROGRESS) {
        if (errno == EADDRNOTAVAIL || errno == EAGAIN) {
            close(s->fd);
            s->fd = -1;
            s->st = RETRY;
            w->retries++;
            return;
        }
        slot_kill(w, s, "connect", errno);
        return;
    }
    s->st = CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
        slot_kill(w, s, "epoll_ctl", errno);
}

static void on_connected(struct worker *w, struct slot *s)
{
    int err = 0, one = 1;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        slot_kill(w, s, "connect", err);
        return;
    }
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->st = OPEN;
    set_events(w, s, false);
    msg_start(w, s);
}

/* msg_done: the echo is complete; next message, or close and reopen. */
static void msg_done(struct worker *w, struct slot *s, int64_t t)
{
    w->msgs++;
    w->bytes += (uint64_t)s->size;
    s->seq++;
    if (--s->left > 0 && t < cfg.end) {
        s->st = WAIT;
        s->t_next = t + (int64_t)rnd(w, (uint32_t)cfg.idle_ms + 1) * 1000000;
        return;
    }
    slot_close(w, s);
    w->cycled++;
    if (t < cfg.end)
        slot_open(w, s, t);
}

static void on_readable(struct worker *w, struct slot *s, int64_t t)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t r = recv(s->fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            if (errno != EAGAIN)
                slot_kill(w, s, "recv", errno);
            return;
        }
        if (r == 0) {
            slot_kill(w, s, "EOF before the full echo", 0);
            return;
        }
        if (s->st != OPEN || s->got + r > s->sent) {
            slot_kill(w, s, "more bytes echoed than sent", 0);
            return;
        }
        for (int j = 0; j < (int)r; j++) {
            if (buf[j] != pattern(s->serial, s->seq, s->got + j)) {
                slot_kill(w, s, "echoed byte does not match", 0);
                return;
            }
        }
        s->got += (int)r;
        s->t_last = t;
        if (s->got == s->size) {
            msg_done(w, s, t);
            return;
        }
    }
}

/* scan starts the messages of idle slots that are due, retries slots
 * whose port was busy and fails those that stalled. */
static void scan(struct worker *w, int64_t t)
{
    for (int i = 0; i < w->n; i++) {
        struct slot *s = &w->slots[i];
        if (s->st == WAIT && t >= cfg.end) {
            slot_close(w, s);
            w->cycled++;
        } else if (s->st == WAIT) {
            if (t >= s->t_next) {
                s->st = OPEN;
                s->t_last = t;
                msg_start(w, s);
            }
        } else if (s->st == RETRY) {
            w->active--;
            s->st = IDLE;
            if (t < cfg.end)
                slot_open(w, s, t);
        } else if (s->st != IDLE &&
                   t - s->t_last > (int64_t)(cfg.stall * NS_PER_S)) {
            slot_kill(w, s, s->st == CONNECTING ? "connect stalled"
                                                 : "no echo: stalled", 0);
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    int64_t t = now_ns(), next_scan = t + SCAN_NS;
    for (int i = 0; i < w->n; i++)
        slot_open(w, &w->slots[i], t);
    while (w->active > 0) {
        int ne = epoll_wait(w->ep, evs, MAX_EVENTS, SCAN_NS / 1000000);
        if (ne < 0 && errno != EINTR) {
            perror("soak-load: epoll_wait");
            exit(1);
        }
        t = now_ns();
        for (int i = 0; i < ne; i++) {
            struct slot *s = evs[i].data.ptr;
            if (s->st == CONNECTING)
                on_connected(w, s);
            else if (s->st == OPEN || s->st == WAIT) {
                if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                    on_readable(w, s, t);
                if (s->st == OPEN && (evs[i].events & EPOLLOUT))
                    msg_send(w, s);
            }
        }
        if (t >= next_scan) {
            scan(w, t);
            next_scan = t + SCAN_NS;
        }
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: soak-load [-h 127.0.0.1] -p PORT [-c 8000] "
                    "[-t 2] [-d 600] [-m 16] [-s 2048] [-i 10000] [-w 60]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "h:p:c:t:d:m:s:i:w:")) != -1) {
        switch (opt) {
        case 'h': cfg.host = optarg; break;
        case 'p': cfg.port = atoi(optarg); break;
        case 'c': cfg.conns = atoi(optarg); break;
        case 't': cfg.threads = atoi(optarg); break;
        case 'd': cfg.secs = atof(optarg); break;
        case 'm': cfg.max_msgs = atoi(optarg); break;
        case 's': cfg.max_size = atoi(optarg); break;
        case 'i': cfg.idle_ms = atoi(optarg); break;
        case 'w': cfg.stall = atof(optarg); break;
        default: usage();
        }
    }
    if (optind != argc || cfg.port < 1 || cfg.port > 65535 || cfg.conns < 1 ||
        cfg.threads < 1 || cfg.secs <= 0 || cfg.max_msgs < 1 ||
        cfg.max_size < 1 || cfg.max_size > MAX_SIZE || cfg.idle_ms < 0 ||
        cfg.stall <= 0)
        usage();
    if (cfg.threads > cfg.conns)
        cfg.threads = cfg.conns;
    cfg.sa.sin_family = AF_INET;
    cfg.sa.sin_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET, cfg.host, &cfg.sa.sin_addr) != 1) {
        fprintf(stderr, "soak-load: bad IPv4 address %s\n", cfg.host);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct worker *ws = calloc((size_t)cfg.threads, sizeof *ws);
    struct slot *ss = calloc((size_t)cfg.conns, sizeof *ss);
    if (!ws || !ss) {
        fprintf(stderr, "soak-load: out of memory\n");
        return 1;
    }
    int64_t start = now_ns();
    cfg.end = start + (int64_t)(cfg.secs * NS_PER_S);
    for (int k = 0; k < cfg.threads; k++) {
        struct worker *w = &ws[k];
        int lo = (int)((int64_t)cfg.conns * k / cfg.threads);
        int hi = (int)((int64_t)cfg.conns * (k + 1) / cfg.threads);
        w->k = k;
        w->slots = ss + lo;
        w->n = hi - lo;
        w->rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(k + 1);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0 || pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            fprintf(stderr, "soak-load: epoll or thread creation failed\n");
            return 1;
        }
    }
    uint64_t cycled = 0, msgs = 0, bytes = 0, retries = 0;
    for (int k = 0; k < cfg.threads; k++) {
        pthread_join(ws[k].tid, NULL);
        cycled += ws[k].cycled;
        msgs += ws[k].msgs;
        bytes += ws[k].bytes;
        retries += ws[k].retries;
    }
    int errors = atomic_load(&cfg.errors);
    printf("soak-load conns=%d secs=%.1f cycled=%llu msgs=%llu bytes=%llu "
           "errors=%d connect_retries=%llu\n",
           cfg.conns, (double)(now_ns() - start) / NS_PER_S,
           (unsigned long long)cycled, (unsigned long long)msgs,
           (unsigned long long)bytes, errors, (unsigned long long)retries);
    return errors ? 1 : 0;
}
