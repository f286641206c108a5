/*
 * http.c: HTTP/1.1 hello-world server with keep-alive (the gort side of
 * bench-go/http). Every request gets Go net/http's exact response:
 *
 *   HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: <RFC 1123>\r\n
 *   Content-Length: 13\r\n\r\nHello, World!
 *
 *   http [-port N] [-work-us U]
 *
 * listens on 127.0.0.1:N (default 8080). -work-us U (default 0) makes
 * every request compute about U microseconds first, in the serving
 * goroutine and without calling the runtime (the bench row httpcpu): a
 * dependent xorshift-multiply chain, bench/spin.h's kernel, whose length
 * is calibrated at start-up.
 *
 * GET /metrics answers with gort_metrics_format's Prometheus text
 * (docs/metrics.md), sized up front for its Content-Length.
 *
 * Pipelined requests are answered in order with one write per batch read;
 * a partial request waits for more bytes. As Go's server: HEAD gets the
 * headers only; HTTP/1.0 is answered as HTTP/1.0 and closed after the
 * response unless it asked for keep-alive (then "Connection: keep-alive");
 * an HTTP/1.1 "Connection: close" is answered with "Connection: close"
 * and closes; a malformed request line or header, a Content-Length that
 * is not a plain non-negative 63-bit number, a missing or repeated Host
 * or a control byte in a header value gets 400, HTTP/2.0 505 (in Go's
 * order: httpreq.h), and a head over 1 MB (Go's DefaultMaxHeaderBytes) 431,
 * each with Go's text, then the connection closes the way Go closes it
 * (write side first, then up to 500 ms to drain). Request bodies (by
 * Content-Length) are skipped; chunked bodies are not understood.
 * tests/test_http.c checks these answers. Signals, listening, accepting
 * and the closing sequence come from serve.h, as in echo.c; on SIGINT or
 * SIGTERM it prints
 *   bench=http-server impl=gort procs=P peak_rss_kb=K
 */
#include <gort.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpreq.h" /* the request reader, shared with fuzz/http.c */
#include "serve.h"

#define BUF 4096
#define RESP_MAX 256 /* one response is at most 171 bytes */

static int port = 8080;
static int64_t work_iters;  /* kernel rounds per request (-work-us) */
static uint64_t work_sink;  /* the results, kept alive (relaxed atomic) */

static uint64_t work_kernel(uint64_t x, int64_t k)
{
    for (int64_t i = 0; i < k; i++) {
        x ^= x >> 31;
        x *= 0x9E3779B97F4A7C15ull;
        x += (uint64_t)i;
    }
    return x;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* work_calibrate: the kernel rounds that take about us microseconds (as
 * bench/spin.h: double until one run takes 2 ms, best of 5, scale). */
static int64_t work_calibrate(int us)
{
    int64_t k = 1024, el, t;
    uint64_t x = 1;
    for (;; k *= 2) {
        t = mono_ns();
        x = work_kernel(x, k);
        if ((el = mono_ns() - t) >= 2000000)
            break;
    }
    for (int r = 0; r < 5; r++) {
        t = mono_ns();
        x = work_kernel(x, k);
        int64_t e = mono_ns() - t;
        if (e < el)
            el = e;
    }
    work_sink = x;
    int64_t iters = (int64_t)((double)k * us * 1000.0 / (double)el);
    return iters < 1 ? 1 : iters;
}

/* date_get returns the Date value for now, cached per connection and
 * second (no shared state between goroutines). */
static const char *date_get(char date[32], time_t *last)
{
    time_t now = time(NULL);
    if (now != *last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        *last = now;
    }
    return date;
}

/* ---- The response writer (the reader: httpreq.h) ------------------------ */

/* Go's DefaultMaxHeaderBytes (1 MB) and the 4096 bytes of slack its
 * reader adds: a request head up to this size is read, a longer one gets
 * 431. The buffer starts on the stack and grows only for such heads. */
#define HEAD_MAX ((1 << 20) + 4096)

/* error_response writes Go's answer to a request it refuses; the
 * connection closes after it. Returns the bytes written to out. */
static size_t error_response(char *out, int status)
{
    const char *text =
        status == 400    ? "400 Bad Request"
        : status == HTTPREQ_NO_HOST
            ? "400 Bad Request: missing required Host header"
        : status == HTTPREQ_MANY_HOSTS
            ? "400 Bad Request: too many Host headers"
        : status == HTTPREQ_BAD_VALUE
            ? "400 Bad Request: invalid header value"
        : status == 431  ? "431 Request Header Fields Too Large"
                         : "505 HTTP Version Not Supported: unsupported "
                           "protocol version";
    return (size_t)snprintf(out, RESP_MAX,
                            "HTTP/1.1 %s\r\nContent-Type: text/plain; "
                            "charset=utf-8\r\nConnection: close\r\n\r\n%s",
                            text, text);
}

/* send_metrics writes one response carrying the runtime's metrics. */
static int send_metrics(int fd, const char *date)
{
    char *body = NULL;
    int n = gort_metrics_format(NULL, 0);
    for (int size = 0; n >= size;) { /* the figures move: retry to fit */
        size = n + 1024;
        char *nb = n < 0 ? NULL : realloc(body, (size_t)size);
        if (!nb) {
            free(body);
            return -ENOMEM;
        }
        body = nb;
        n = gort_metrics_format(body, (size_t)size);
    }
    char head[192];
    int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: "
                     "text/plain; version=0.0.4; charset=utf-8\r\nDate: "
                     "%s\r\nContent-Length: %d\r\n\r\n", date, n);
    int rc = gort_write(fd, head, (size_t)h) < 0 ||
                     gort_write(fd, body, (size_t)n) < 0 ? -EIO : 0;
    free(body);
    return rc;
}

/* respond appends the responses to the complete requests at in[*off..have)
 * to out, as many as fit; false once the connection must close (the
 * request asked to, or was refused). A GET /metrics ends the batch with
 * *metrics set: the caller writes out, then the metrics, then calls again
 * for the requests after it. */
static bool respond(const char *in, size_t have, size_t *off, size_t *skip,
                    char *out, size_t cap, size_t *outn, char date[32],
                    time_t *last, bool *metrics)
{
    for (;;) {
        const char *req = in + *off;
        struct req r;
        int status;
        size_t hl = httpreq_head(req, have - *off, &r, &status);
        if (hl == 0 || *outn + RESP_MAX > cap)
            return true;
        const char *end = req + hl;
        if (status != 0) {
            *outn += error_response(out + *outn, status);
            return false;
        }
        *metrics = !r.head && end - req >= 13 &&
                   memcmp(req, "GET /metrics ", 13) == 0;
        if (work_iters && !*metrics)
            __atomic_fetch_add(&work_sink,
                               work_kernel((uint64_t)*off, work_iters),
                               __ATOMIC_RELAXED);
        /* Go: "Connection: close" when a 1.1 connection closes after the
         * reply, "keep-alive" when a 1.0 one stays open; HEAD: no body. */
        const char *conn = r.close ? (r.http10 ? "" : "Connection: close\r\n")
                                   : (r.http10 ? "Connection: keep-alive\r\n"
                                               : "");
        if (*metrics)
            date_get(date, last);
        else
            *outn += (size_t)snprintf(out + *outn, RESP_MAX,
                                      "HTTP/1.%c 200 OK\r\nContent-Type: "
                                      "text/plain\r\nDate: %s\r\n"
                                      "Content-Length: 13\r\n%s\r\n%s",
                                      r.http10 ? '0' : '1',
                                      date_get(date, last), conn,
                                      r.head ? "" : "Hello, World!");
        *off = (size_t)(end - in);
        size_t now = r.body < have - *off ? (size_t)r.body : have - *off;
        *off += now;
        *skip = (size_t)(r.body - now);
        if (r.close)
            return false;
        if (*metrics)
            return true;
    }
}

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char small[BUF], out[8 * 1024], date[32] = "";
    char *in = small; /* a heap buffer only for heads over BUF bytes */
    size_t cap = sizeof small;
    time_t last = 0;
    size_t have = 0, skip = 0; /* skip: body bytes still to discard */
    bool linger = false; /* the server ends the connection: close as Go */
    for (bool open = true; open;) {
        if (have == cap) { /* an incomplete head fills the buffer */
            if (cap == HEAD_MAX) {
                size_t outn = error_response(out, 431);
                linger = gort_write(fd, out, outn) >= 0;
                break;
            }
            size_t ncap = cap * 16 < HEAD_MAX ? cap * 16 : HEAD_MAX;
            char *nb = in == small ? malloc(ncap) : realloc(in, ncap);
            if (nb == NULL)
                break;
            if (in == small)
                memcpy(nb, small, have);
            in = nb;
            cap = ncap;
        }
        ssize_t n = gort_read(fd, in + have, cap - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t off = skip < have ? skip : have, before;
        skip -= off;
        do { /* answer every complete request before reading again */
            size_t outn = 0;
            bool metrics = false;
            before = off;
            open = respond(in, have, &off, &skip, out, sizeof out, &outn,
                           date, &last, &metrics);
            linger = !open;
            if (outn && gort_write(fd, out, outn) < 0)
                open = linger = false;
            if (metrics && send_metrics(fd, date) < 0)
                open = linger = false;
        } while (open && off != before && skip == 0);
        memmove(in, in + off, have - off);
        have -= off;
    }
    /* Free first: the close may drain the client for 500 ms. */
    if (in != small)
        free(in);
    serve_close(fd, linger);
}

static int http_main(void *arg)
{
    (void)arg;
    gort_chan *sig = serve_notify("http");
    char addr[32];
    int lfd = sig ? serve_listen("http", port, addr) : -1;
    if (lfd < 0)
        return 1;
    static struct serve_acceptor acc = {.who = "http", .serve = serve};
    acc.lfd = lfd;
    gort_go(serve_accept_loop, &acc);
    fprintf(stderr, "http: listening on %s (work: %lld rounds a request)\n",
            addr, (long long)work_iters);
    serve_wait(sig);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("bench=http-server impl=gort procs=%d peak_rss_kb=%ld\n",
           gort_maxprocs(0), ru.ru_maxrss);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-port") || !strcmp(argv[i], "--port")) &&
            i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if ((!strcmp(argv[i], "-work-us") ||
                    !strcmp(argv[i], "--work-us")) &&
                   i + 1 < argc) {
            int us = atoi(argv[++i]);
            work_iters = us > 0 ? work_calibrate(us) : 0;
        } else {
            fprintf(stderr, "usage: http [-port N] [-work-us U]\n");
            return 2;
        }
    }
    serve_block_signals(); /* before gort_run: every M inherits it */
    return gort_run(http_main, NULL);
}
