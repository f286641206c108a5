/*
 * kvhttp.c: an HTTP/1.1 key-value service over Redis (issue 18, item 5;
 * the gort side of bench/go/kvhttp). A goroutine per connection, with
 * keep-alive; its handlers call Redis through hiredis's blocking API on
 * connections from a gort_connpool.
 *
 *   GET /k/KEY             Redis GET: 200 and the value, 404 when absent
 *   PUT or POST /k/KEY     Redis SET KEY <body>: 200 "OK"
 *   GET or POST /incr/KEY  Redis INCR: 200 and the new value
 *
 *   kvhttp [-port N] [-redis ADDR] [-pool N] [-wrap]
 *
 * listens on 127.0.0.1:N (default 8080); ADDR is a Unix socket path (it
 * holds a '/') or HOST:PORT (default 127.0.0.1:6379); the pool keeps up
 * to N connections open and idle (default 64).
 *
 * Two ways to let hiredis block without holding the processor: built
 * with libgort-hook linked ahead of libc and -DKVHTTP_HOOKS=1 (the
 * binary kvhttp-hook), hiredis's own read, write and connect go through
 * the hooks (docs/blocking.md, "Hooks") and the code below calls it
 * plainly; built without (kvhttp), or with -wrap, every hiredis call is
 * wrapped in GORT_SYSCALL (inside which the hooks, when linked, step
 * aside). `make kvhttp` builds both; bench row kvhttp compares them with
 * the Go twin.
 *
 * Errors: a malformed request line or header, a missing Host on 1.1 or a
 * bad Content-Length gets 400, a chunked body 501, a body over 1 MiB 413,
 * a head over 64 KiB 431, HTTP/2.0 505; each closes the connection. No
 * pool connection within 1 s (Redis down, pool exhausted) gets 503; a
 * Redis connection that fails mid-command (hiredis's c->err: EOF, reset,
 * its 2 s timeout) gets 502 and is dropped from the pool (released
 * broken); a Redis error reply (INCR of a non-number) gets 500 with
 * Redis's text. Unknown paths get 404, other methods 405.
 *
 * Requests are read by http.c's reader (httpreq.h: Go's refusals, all
 * answered 400 here but HTTP/2.0's 505); kv_request adds the method and
 * target, 413 and 501. tests/test_kvhttp.c checks the answers. Signals, listening, accepting
 * and the closing sequence come from serve.h, as in http.c; on SIGINT or
 * SIGTERM it prints
 *   bench=kvhttp-server impl=gort procs=P peak_rss_kb=K
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

#include <hiredis/hiredis.h>

#include "httpreq.h"
#include "serve.h"

#ifndef KVHTTP_HOOKS
#define KVHTTP_HOOKS 0
#endif

#define HEAD_MAX (64 * 1024)
#define BODY_MAX (1024 * 1024)

static int port = 8080;
static const char *redis_addr = "127.0.0.1:6379";
static int pool_size = 64;
static bool wrap = !KVHTTP_HOOKS; /* wrap hiredis calls in GORT_SYSCALL */
static gort_connpool *pool;

/* KV makes one hiredis call: plainly when the hooks carry it, else inside
 * the system-call hand-off. */
#define KV(expr) (wrap ? GORT_SYSCALL(expr) : (expr))

/* ---- The pool's connections --------------------------------------------- */

static redisContext *redis_dial(void)
{
    struct timeval tmo = {.tv_sec = 2};
    const char *colon = strrchr(redis_addr, ':');
    if (strchr(redis_addr, '/') || !colon)
        return redisConnectUnixWithTimeout(redis_addr, tmo);
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - redis_addr), redis_addr);
    return redisConnectWithTimeout(host, atoi(colon + 1), tmo);
}

static int kv_connect(void *ctx, void **conn)
{
    (void)ctx;
    redisContext *c = KV(redis_dial());
    if (c == NULL)
        return -ENOMEM;
    if (c->err) {
        redisFree(c);
        return -ECONNREFUSED;
    }
    /* A command that gets no answer in 2 s fails (c->err), so a hung
     * server costs its callers 502s, not a hang. */
    redisSetTimeout(c, (struct timeval){.tv_sec = 2});
    *conn = c;
    return 0;
}

static void kv_close(void *ctx, void *conn)
{
    (void)ctx;
    redisFree(conn);
}

/* kv_check: a connection that failed once is not handed out again. */
static bool kv_check(void *ctx, void *conn)
{
    (void)ctx;
    return ((redisContext *)conn)->err == 0;
}

static const gort_connpool_ops kv_ops = {kv_connect, kv_close, kv_check, NULL};

/* ---- Responses ---------------------------------------------------------- */

/* The output buffer for one batch of responses: on the goroutine's
 * stack, moved to the heap only for a batch that outgrows it. */
struct out {
    char *p;
    size_t n, cap;
    bool oom, heap;
};

static void out_put(struct out *o, const void *s, size_t n)
{
    if (o->oom)
        return;
    if (o->n + n > o->cap) {
        size_t cap = o->cap * 2;
        while (cap < o->n + n)
            cap *= 2;
        char *np = o->heap ? realloc(o->p, cap) : malloc(cap);
        if (!np) {
            o->oom = true;
            return;
        }
        if (!o->heap)
            memcpy(np, o->p, o->n);
        o->p = np;
        o->cap = cap;
        o->heap = true;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

struct kvreq {
    char method[8];
    const char *target;
    size_t tlen;
    bool http10, close;
    uint64_t body;
};

/* date_get: the Date value for now, cached per connection and second. */
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

static const char *status_text(int st)
{
    switch (st) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Request Entity Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "HTTP Version Not Supported";
    }
}

/* respond appends one response; r NULL: a refused request (closes). */
static void respond(struct out *o, const struct kvreq *r, int st,
                    const char *body, size_t len, char date[32], time_t *last)
{
    bool http10 = r && r->http10, close = !r || r->close;
    const char *conn = close ? (http10 ? "" : "Connection: close\r\n")
                             : (http10 ? "Connection: keep-alive\r\n" : "");
    char head[256];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.%c %d %s\r\nContent-Type: text/plain\r\n"
                     "Date: %s\r\nContent-Length: %zu\r\n%s\r\n",
                     http10 ? '0' : '1', st, status_text(st),
                     date_get(date, last), len, conn);
    out_put(o, head, (size_t)h);
    if (!(r && strcmp(r->method, "HEAD") == 0))
        out_put(o, body, len);
}

/* ---- The request reader: http.c's (httpreq.h), and this service's own */

/* has_field: the head [p, end) has a field line called name. */
static bool has_field(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL)
        if ((size_t)(end - ++p) > n && strncasecmp(p, name, n) == 0 &&
            p[n] == ':')
            return true;
    return false;
}

/* kv_request completes r from the head [p, end) that httpreq.h's reader
 * accepted as h: method and target from its checked request line, then
 * this service's refusals, 413 for a body over BODY_MAX and 501 for a
 * Transfer-Encoding (chunked bodies are not read). Returns 0 or those. */
static int kv_request(const char *p, const char *end, const struct req *h,
                      struct kvreq *r)
{
    *r = (struct kvreq){.http10 = h->http10, .close = h->close,
                        .body = h->body};
    const char *sp = memchr(p, ' ', (size_t)(end - p)); /* both checked */
    r->target = sp + 1;
    r->tlen = (size_t)((const char *)memchr(sp + 1, ' ', (size_t)(end - sp)) -
                       r->target);
    if ((size_t)(sp - p) < sizeof r->method) /* else none: 404 or 405 */
        memcpy(r->method, p, (size_t)(sp - p));
    if (h->body > BODY_MAX)
        return 413;
    if (has_field(p, end, "Transfer-Encoding"))
        return 501;
    return 0;
}

/* ---- Handlers ----------------------------------------------------------- */

/* redis_do runs one command on a pool connection and answers the request
 * from its reply. */
static void redis_do(struct out *o, const struct kvreq *r, const char *cmd,
                     const char *key, size_t klen, const char *val,
                     size_t vlen, char date[32], time_t *last)
{
    gort_pconn *pc;
    int rc = gort_connpool_acquire(pool, gort_now() + GORT_S(1), &pc);
    if (rc != 0) {
        char msg[96];
        int n = snprintf(msg, sizeof msg, "redis unavailable: %s\n",
                         gort_strerror(rc));
        respond(o, r, 503, msg, (size_t)n, date, last);
        return;
    }
    redisContext *c = gort_connpool_raw(pc);
    redisReply *rep =
        val ? KV((redisReply *)redisCommand(c, "%s %b %b", cmd, key, klen, val,
                                            vlen))
            : KV((redisReply *)redisCommand(c, "%s %b", cmd, key, klen));
    if (rep == NULL) { /* the connection failed: drop it */
        char msg[160];
        int n = snprintf(msg, sizeof msg, "redis: %s\n", c->errstr);
        gort_connpool_release(pc, true);
        respond(o, r, 502, msg, (size_t)n, date, last);
        return;
    }
    gort_connpool_release(pc, false);
    char num[32];
    switch (rep->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        respond(o, r, 200, rep->str, rep->len, date, last);
        break;
    case REDIS_REPLY_INTEGER:
        respond(o, r, 200, num,
                (size_t)snprintf(num, sizeof num, "%lld", rep->integer), date,
                last);
        break;
    case REDIS_REPLY_NIL:
        respond(o, r, 404, "not found\n", 10, date, last);
        break;
    default: /* REDIS_REPLY_ERROR and the unexpected */
        respond(o, r, 500, rep->str ? rep->str : "", rep->str ? rep->len : 0,
                date, last);
    }
    freeReplyObject(rep);
}

/* route answers one request whose body is [body, body + r->body). */
static void route(struct out *o, const struct kvreq *r, const char *body,
                  char date[32], time_t *last)
{
    const char *t = r->target, *m = r->method;
    bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    bool put = !strcmp(m, "PUT") || !strcmp(m, "POST");
    if (r->tlen > 3 && memcmp(t, "/k/", 3) == 0) {
        if (get)
            redis_do(o, r, "GET", t + 3, r->tlen - 3, NULL, 0, date, last);
        else if (put)
            redis_do(o, r, "SET", t + 3, r->tlen - 3, body, (size_t)r->body,
                     date, last);
        else
            respond(o, r, 405, "", 0, date, last);
    } else if (r->tlen > 6 && memcmp(t, "/incr/", 6) == 0) {
        if (!strcmp(m, "GET") || !strcmp(m, "POST"))
            redis_do(o, r, "INCR", t + 6, r->tlen - 6, NULL, 0, date, last);
        else
            respond(o, r, 405, "", 0, date, last);
    } else {
        respond(o, r, 404, "not found\n", 10, date, last);
    }
}

/* ---- Connections -------------------------------------------------------- */

/* serve_batch answers the complete requests in in[*off, have); false once
 * the connection must close. Needs more input when it stops early. */
static bool serve_batch(const char *in, size_t have, size_t *off,
                        struct out *o, char date[32], time_t *last)
{
    for (;;) {
        const char *req = in + *off;
        struct req h;
        int st;
        size_t hl = httpreq_head(req, have - *off, &h, &st);
        if (hl == 0) {
            if (have - *off <= HEAD_MAX)
                return true;
            respond(o, NULL, 431, "", 0, date, last);
            return false;
        }
        const char *end = req + hl;
        struct kvreq r;
        if (st == 0)
            st = kv_request(req, end, &h, &r);
        if (st != 0) { /* Go's refusals with their own text: plain 400 */
            respond(o, NULL, st >= 4000 ? 400 : st, "", 0, date, last);
            return false;
        }
        if ((size_t)(in + have - end) < r.body)
            return true; /* the body is still coming */
        route(o, &r, end, date, last);
        *off = (size_t)(end - in) + (size_t)r.body;
        if (r.close || o->oom)
            return false;
    }
}

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    /* Both buffers start on the stack, as in http.c; in moves to the
     * heap only for a long head or a large body. */
    char small[16 * 1024], osmall[8 * 1024], date[32] = "";
    char *in = small;
    size_t cap = sizeof small, have = 0;
    time_t last = 0;
    struct out o = {.p = osmall, .cap = sizeof osmall};
    bool open = true, linger = false;
    while (open) {
        if (have == cap) { /* a long head or a large body: grow */
            char *nb = cap >= HEAD_MAX + BODY_MAX ? NULL
                       : in == small           ? malloc(cap * 2)
                                               : realloc(in, cap * 2);
            if (nb == NULL)
                break;
            if (in == small)
                memcpy(nb, small, have);
            in = nb;
            cap *= 2;
        }
        ssize_t n = gort_read(fd, in + have, cap - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t off = 0;
        open = serve_batch(in, have, &off, &o, date, &last);
        linger = !open;
        if (o.oom) /* out of memory: no half-written responses */
            break;
        if (o.n && gort_write(fd, o.p, o.n) < 0)
            open = linger = false;
        o.n = 0;
        memmove(in, in + off, have - off);
        have -= off;
        /* Back to the stack buffers between requests: an idle
         * connection holds no heap memory. */
        if (o.heap) {
            free(o.p);
            o = (struct out){.p = osmall, .cap = sizeof osmall};
        }
        if (in != small && have <= sizeof small) {
            memcpy(small, in, have);
            free(in);
            in = small;
            cap = sizeof small;
        }
    }
    /* Free first: the close may drain the client for 500 ms. */
    if (in != small)
        free(in);
    if (o.heap)
        free(o.p);
    serve_close(fd, linger);
}

static int kv_main(void *arg)
{
    (void)arg;
    gort_connpool_config cfg = {.max_open = pool_size, .max_idle = pool_size};
    if (gort_connpool_new(&pool, &kv_ops, &cfg) != 0)
        return 1;
    gort_chan *sig = serve_notify("kvhttp");
    char addr[32];
    int lfd = sig ? serve_listen("kvhttp", port, addr) : -1;
    if (lfd < 0)
        return 1;
    static struct serve_acceptor acc = {.who = "kvhttp", .serve = serve};
    acc.lfd = lfd;
    gort_go(serve_accept_loop, &acc);
    fprintf(stderr, "kvhttp: listening on %s (redis %s, pool %d, %s)\n", addr,
            redis_addr, pool_size, wrap ? "GORT_SYSCALL" : "hooks");
    serve_wait(sig);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("bench=kvhttp-server impl=gort procs=%d peak_rss_kb=%ld\n",
           gort_maxprocs(0), ru.ru_maxrss);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i] + (argv[i][0] == '-' && argv[i][1] == '-');
        if (!strcmp(a, "-port") && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (!strcmp(a, "-redis") && i + 1 < argc) {
            redis_addr = argv[++i];
        } else if (!strcmp(a, "-pool") && i + 1 < argc &&
                   (pool_size = atoi(argv[++i])) > 0) {
        } else if (!strcmp(a, "-wrap")) {
            wrap = true;
        } else {
            fprintf(stderr, "usage: kvhttp [-port N] [-redis ADDR] "
                            "[-pool N] [-wrap]\n");
            return 2;
        }
    }
    serve_block_signals(); /* before gort_run: every M inherits it */
    return gort_run(kv_main, NULL);
}
