/*
 * test_kvhttp.c: docs/examples/kvhttp.c, the HTTP key-value service over
 * Redis (issue 18, item 5), in both builds: kvhttp-hook (hiredis through
 * libgort-hook) and kvhttp (hiredis wrapped in GORT_SYSCALL). Each test
 * starts redis-server (tests/extlibs/servers.c) and the example at 2 Ps
 * with a pool of 4, talks to it over plain blocking sockets (this process
 * runs no gort runtime) and checks GET, PUT and INCR against Redis, 400
 * and friends for bad requests, and 502/503 while Redis is away, then
 * recovery once it is back (the pool dropped the dead connections).
 *
 * The example reaches Redis through a symbolic link in a directory of the
 * test's own, so that a restarted server (in a new directory) is found at
 * the same address. Bounds are generous: 20 s socket timeouts, 10 s to
 * recover.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "extlibs/servers.h"
#include "helpers/child.h"

static struct child_server kv;
static char link_dir[64], link_path[128];

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, ms % 1000 * 1000000}, NULL);
}

/* relink points link_path at the running redis-server's socket. */
static void relink(void)
{
    unlink(link_path);
    cr_assert(eq(int, symlink(redis_sock, link_path), 0));
}

/* start_kv runs $B/examples/NAME against Redis through link_path and
 * waits until it accepts connections. */
static void start_kv(const char *name)
{
    start_redis();
    snprintf(link_dir, sizeof link_dir, "/tmp/gort-kvlink-XXXXXX");
    cr_assert(ne(ptr, mkdtemp(link_dir), NULL));
    snprintf(link_path, sizeof link_path, "%s/redis.sock", link_dir);
    relink();

    /* stderr kept: a failure's message belongs in the test's log */
    const char *const args[] = {"-redis", link_path, "-pool", "4", NULL};
    const char *const env[] = {"GORT_MAXPROCS=2", NULL};
    child_server_start(&kv, name, args, env, true);
}

static void stop_kv(void)
{
    int status = child_server_stop(&kv);
    stop_redis();
    unlink(link_path);
    rmdir(link_dir);
    cr_assert(eq(int, status, 0)); /* it exits 0 on SIGTERM */
}

/* exchange sends req, shuts the write side and reads the whole reply
 * into a static buffer. */
static const char *exchange(const char *req)
{
    static char out[1 << 20];
    exchange_all(kv.port, req, strlen(req), out, sizeof out);
    return out;
}

/* status: the status code of the first response in r (0: none). */
static int status(const char *r)
{
    return strncmp(r, "HTTP/1.", 7) == 0 ? atoi(r + 9) : 0;
}

static const char *body(const char *r)
{
    const char *b = strstr(r, "\r\n\r\n");
    return b ? b + 4 : "";
}

/* expect sends req and checks the status and, when want_body is set, the
 * body of the one response. */
static void expect(const char *req, int want, const char *want_body)
{
    const char *r = exchange(req);
    cr_assert(eq(int, status(r), want), "request %.60s: %.200s", req, r);
    if (want_body)
        cr_assert(eq(str, (char *)body(r), (char *)want_body),
                  "request %.60s", req);
}

#define H " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"

static void check_get_put_incr(const char *name)
{
    start_kv(name);
    expect("PUT /k/greeting" H "Content-Length: 5\r\n\r\nhello", 200, "OK");
    expect("GET /k/greeting" H "\r\n", 200, "hello");
    expect("POST /k/greeting" H "Content-Length: 3\r\n\r\nbye", 200, "OK");
    expect("GET /k/greeting" H "\r\n", 200, "bye");
    expect("GET /k/absent" H "\r\n", 404, NULL);
    expect("GET /incr/hits" H "\r\n", 200, "1");
    expect("POST /incr/hits" H "\r\n", 200, "2");
    expect("GET /incr/greeting" H "\r\n", 500, NULL); /* not a number */
    /* Keep-alive: three requests on one connection, answered in order. */
    const char *r = exchange("GET /incr/hits HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /incr/hits HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /k/greeting HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *p3 = strstr(r, "\r\n\r\n3"), *p4 = strstr(r, "\r\n\r\n4"),
               *pb = strstr(r, "\r\n\r\nbye");
    cr_assert(p3 && p4 && pb && p3 < p4 && p4 < pb, "%s", r);
    /* A 200 KiB value: both buffers outgrow the stack. */
    enum { BIG = 200 * 1024 };
    char *req = malloc(BIG + 128), *val = malloc(BIG + 1);
    cr_assert(req && val);
    for (int i = 0; i < BIG; i++)
        val[i] = (char)('a' + i % 26);
    val[BIG] = '\0';
    snprintf(req, BIG + 128, "PUT /k/big" H "Content-Length: %d\r\n\r\n%s",
             BIG, val);
    expect(req, 200, "OK");
    expect("GET /k/big" H "\r\n", 200, val);
    free(req);
    free(val);
    stop_kv();
}

static void check_bad_requests(const char *name)
{
    start_kv(name);
    static const char *const bad[] = {
        "garbage\r\n\r\n",
        "GET /k/a\r\n\r\n",
        "GET /k/a HTTP/1.1\r\n\r\n", /* no Host */
        "GET /k/a HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n",
        "PUT /k/a HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        ("PUT /k/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
         "Content-Length: 2\r\n\r\n"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        /* A good request after the bad one: never answered. */
        char req[256];
        snprintf(req, sizeof req, "%sGET /k/a HTTP/1.1\r\nHost: x\r\n\r\n",
                 bad[i]);
        const char *r = exchange(req);
        cr_assert(eq(int, status(r), 400), "request %s: %s", bad[i], r);
        cr_assert(eq(ptr, strstr(r + 1, "HTTP/1."), NULL), "%s", r);
    }
    expect("PUT /k/a" H "Content-Length: 99999999\r\n\r\n", 413, NULL);
    expect("PUT /k/a" H "Transfer-Encoding: chunked\r\n\r\n", 501, NULL);
    expect("GET /k/a HTTP/2.0\r\nHost: x\r\n\r\n", 505, NULL);
    expect("GET /nowhere" H "\r\n", 404, NULL);
    expect("DELETE /k/a" H "\r\n", 405, NULL);
    /* Still serving. */
    expect("GET /incr/n" H "\r\n", 200, "1");
    stop_kv();
}

static void check_redis_goes_away(const char *name)
{
    start_kv(name);
    /* One pooled connection, idle when Redis dies. */
    expect("PUT /k/x" H "Content-Length: 1\r\n\r\n1", 200, "OK");
    reap(&redis_pid, SIGKILL);
    int bad = 0;
    for (int i = 0; i < 8; i++) { /* dead idle ones: 502; then 503 */
        int st = status(exchange("GET /k/x" H "\r\n"));
        cr_assert(st == 502 || st == 503, "status %d with Redis away", st);
        bad += st == 503;
    }
    cr_assert(gt(int, bad, 0), "never 503: a dead connection kept");
    cr_assert(eq(int, kill(kv.pid, 0), 0), "%s died", name);
    stop_redis();
    start_redis(); /* empty, in a new directory */
    relink();
    int st = 0;
    for (int i = 0; i < 100 && st != 200; i++) { /* up to ~10 s */
        st = status(exchange("PUT /k/y" H "Content-Length: 2\r\n\r\nok"));
        if (st != 200)
            sleep_ms(100);
    }
    cr_assert(eq(int, st, 200), "no recovery once Redis was back");
    expect("GET /k/y" H "\r\n", 200, "ok");
    stop_kv();
}

Test(kvhttp, hooked_get_put_incr_reach_redis_and_keep_alive_works)
{
    check_get_put_incr("kvhttp-hook");
}

Test(kvhttp, wrapped_get_put_incr_reach_redis_and_keep_alive_works)
{
    check_get_put_incr("kvhttp");
}

Test(kvhttp, hooked_bad_requests_get_4xx_or_5xx_and_close)
{
    check_bad_requests("kvhttp-hook");
}

Test(kvhttp, wrapped_bad_requests_get_4xx_or_5xx_and_close)
{
    check_bad_requests("kvhttp");
}

Test(kvhttp, hooked_redis_away_gives_502_503_and_recovers)
{
    check_redis_goes_away("kvhttp-hook");
}

Test(kvhttp, wrapped_redis_away_gives_502_503_and_recovers)
{
    check_redis_goes_away("kvhttp");
}
