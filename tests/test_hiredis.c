/*
 * test_hiredis.c: Debian's hiredis, unmodified, on goroutines, called
 * through explicit GORT_SYSCALL wrapping (docs/blocking.md), against a
 * redis-server the suite starts (tests/extlibs/servers.c).
 *
 * 1,000 goroutines at one P (GORT_MAXPROCS=1), a connection each, run
 * 100 commands each and check every reply. Each opens with a BLPOP the
 * server holds HOLD_MS: a goroutine blocked in hiredis keeps its thread
 * and sysmon hands the P on, so the holds overlap (about one hold, not
 * their sum) while a ticker goroutine keeps ticking. Figures go to
 * stderr ("extlibs: ...").
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <hiredis/hiredis.h>

#include <gort.h>

#include "helpers/harness.h"
#include "extlibs/servers.h"

static gort_wg wg;

static bool reply_is(redisReply *r, int type)
{
    return r && r->type == type;
}

static void redis_worker(void *arg)
{
    (void)arg;
    uint64_t id = gort_id();
    redisContext *c = GORT_SYSCALL(redisConnectUnix(redis_sock));
    CHECK(c && !c->err);
    if (!c || c->err) {
        redisFree(c);
        gort_wg_done(&wg);
        return;
    }
    long long incr = 0;
    char val[64];
    for (int i = 0; i < CMDS; i++) {
        redisReply *r;
        if (i == 0) { /* the server holds it HOLD_MS, then nil */
            int64_t t0;
            hold_begin(&t0);
            r = GORT_SYSCALL(redisCommand(c, "BLPOP empty:%llu %.3f",
                                          (unsigned long long)id,
                                          HOLD_MS / 1000.0));
            hold_end(t0);
            CHECK(reply_is(r, REDIS_REPLY_NIL));
        } else if (i % 3 == 1) {
            snprintf(val, sizeof val, "v-%llu-%d", (unsigned long long)id, i);
            r = GORT_SYSCALL(
                redisCommand(c, "SET k:%llu %s", (unsigned long long)id, val));
            CHECK(reply_is(r, REDIS_REPLY_STATUS) && !strcmp(r->str, "OK"));
        } else if (i % 3 == 2) {
            r = GORT_SYSCALL(
                redisCommand(c, "GET k:%llu", (unsigned long long)id));
            CHECK(reply_is(r, REDIS_REPLY_STRING) && !strcmp(r->str, val));
        } else {
            r = GORT_SYSCALL(
                redisCommand(c, "INCR n:%llu", (unsigned long long)id));
            CHECK(reply_is(r, REDIS_REPLY_INTEGER));
            if (r)
                CHECK_EQ(r->integer, ++incr);
        }
        freeReplyObject(r);
    }
    gort_syscall_enter();
    redisFree(c);
    gort_syscall_exit();
    gort_wg_done(&wg);
}

static int redis_main(void *arg)
{
    (void)arg;
    struct ticking t;
    ticker_start(&t);
    int64_t t0 = gort_now();
    gort_wg_add(&wg, GS);
    for (int i = 0; i < GS; i++)
        cr_assert(eq(int, gort_go(redis_worker, NULL), 0));
    gort_wg_wait(&wg);
    int64_t took = gort_now() - t0;
    ticker_stop(&t);
    check_overlap("hiredis", took, &t);
    return 0;
}

Test(hiredis, connection_per_goroutine_wrapped_at_1_proc, .init = start_redis,
     .fini = stop_redis)
{
    run(1, redis_main, NULL);
}

static void blpop_forever(void *arg)
{
    gort_chan *res = arg;
    redisContext *c = GORT_SYSCALL(redisConnectUnix(redis_sock));
    CHECK(c && !c->err);
    int err = -1;
    if (c && !c->err) {
        redisReply *r = GORT_SYSCALL(redisCommand(c, "BLPOP never 0"));
        err = r ? 0 : c->err;
        freeReplyObject(r);
    }
    gort_syscall_enter();
    redisFree(c);
    gort_syscall_exit();
    gort_chan_send(res, &err);
}

static int redis_gone_main(void *arg)
{
    (void)arg;
    gort_chan *res = gort_chan_make(sizeof(int), 1);
    cr_assert(eq(int, gort_go(blpop_forever, res), 0));
    /* Wait until the server reports the client blocked, then stop it. */
    redisContext *c = GORT_SYSCALL(redisConnectUnix(redis_sock));
    cr_assert(c && !c->err);
    long long blocked = 0;
    for (int i = 0; i < 1000 && blocked < 1; i++) {
        gort_sleep(GORT_MS(10));
        redisReply *r = GORT_SYSCALL(redisCommand(c, "INFO clients"));
        const char *p = r && r->str ? strstr(r->str, "blocked_clients:") : NULL;
        blocked = p ? atoll(p + strlen("blocked_clients:")) : 0;
        freeReplyObject(r);
    }
    cr_assert(eq(i64, blocked, 1));
    gort_syscall_enter();
    redisFree(c);
    reap(&redis_pid, SIGKILL);
    gort_syscall_exit();
    int err = 0;
    gort_chan_recv(res, &err);
    cr_assert(err == REDIS_ERR_EOF || err == REDIS_ERR_IO,
              "hiredis error %d, want EOF or I/O", err);
    gort_chan_free(res);
    return 0;
}

Test(hiredis, server_going_away_gives_hiredis_error, .init = start_redis,
     .fini = stop_redis)
{
    run(1, redis_gone_main, NULL);
}
