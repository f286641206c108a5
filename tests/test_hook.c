/*
 * test_hook.c: libgort-hook (hook/hook.c) linked into the test: libc's
 * blocking calls made by unmodified code, Debian's hiredis included,
 * without GORT_SYSCALL.
 *
 * The hiredis run is test_hiredis's (1,000 goroutines x 100 commands at
 * one P, a held BLPOP each, a ticker) with every wrapper removed: the
 * hooked socket calls wait on the netpoller, so the holds overlap, no
 * thread is held per blocked goroutine, and sysmon does not have to take
 * a P from a goroutine stuck in the kernel (check_no_stuck_holds). libpq
 * runs the same way through the pool. The rest checks the sleeps, libc's
 * errors, and that calls from threads of the program's own and from
 * inside GORT_SYSCALL go straight to libc. test_hook_sock.c checks the
 * socket calls on the poller one by one.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <pthread.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <gort.h>

#include "extlibs/servers.h"
#include "helpers/harness.h"

static gort_wg wg;

/* ---- hiredis, unwrapped ---------------------------------------------- */

static void redis_worker(void *arg)
{
    (void)arg;
    unsigned long long id = gort_id();
    redisContext *c = redisConnectUnix(redis_sock);
    CHECK(c && !c->err);
    if (!c || c->err) {
        redisFree(c);
        gort_wg_done(&wg);
        return;
    }
    long long incr = 0;
    char val[64] = "";
    for (int i = 0; i < CMDS; i++) {
        redisReply *r;
        if (i == 0) {
            int64_t t0;
            hold_begin(&t0);
            r = redisCommand(c, "BLPOP empty:%llu %.3f", id, HOLD_MS / 1e3);
            hold_end(t0);
            CHECK(r && r->type == REDIS_REPLY_NIL);
        } else if (i % 3 == 1) {
            snprintf(val, sizeof val, "v-%llu-%d", id, i);
            r = redisCommand(c, "SET k:%llu %s", id, val);
            CHECK(r && r->type == REDIS_REPLY_STATUS);
        } else if (i % 3 == 2) {
            r = redisCommand(c, "GET k:%llu", id);
            CHECK(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, val));
        } else {
            r = redisCommand(c, "INCR n:%llu", id);
            CHECK(r && r->type == REDIS_REPLY_INTEGER);
            if (r)
                CHECK_EQ(r->integer, ++incr);
        }
        freeReplyObject(r);
    }
    redisFree(c);
    gort_wg_done(&wg);
}

/* check_no_stuck_holds: sysmon took no P from a goroutine stuck in the
 * kernel for the holds; without the hooks it would take one per hold (16 for
 * libpq, hundreds for hiredis). A thread that waits briefly in the
 * kernel (a page fault, a futex) just as the machine deschedules it for
 * a whole slice reads as stuck too: once, at a load average of about 20
 * (a 963 ms tick gap in that run). Hence "a few", not 0. */
static void check_no_stuck_holds(void)
{
    gort_stats_t st;
    gort_stats(&st);
    fprintf(stderr, "extlibs: hooks: handoffs %llu, stuck handoffs %llu\n",
            (unsigned long long)st.handoffs,
            (unsigned long long)st.stuck_handoffs);
    cr_assert(le(u64, st.stuck_handoffs, 2));
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
    check_no_stuck_holds();
    /* The blocked reads wait on the poller: no thread each (the hand-off
     * hooks reached 752-967 threads here). */
    cr_assert(lt(int, t.max_threads, 64));
    check_overlap("hiredis through hooks", took, &t);
    return 0;
}

Test(hook, hiredis_unwrapped_overlaps_held_commands_at_1_proc,
     .init = start_redis, .fini = stop_redis)
{
    run(1, redis_main, NULL);
}

/* ---- libpq through the pool, unwrapped --------------------------------- */

static int pg_connect(void *ctx, void **conn)
{
    (void)ctx;
    PGconn *db = PQconnectdb(pg_conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "extlibs: connect: %s", PQerrorMessage(db));
        PQfinish(db);
        return -ECONNREFUSED;
    }
    *conn = db;
    return 0;
}

static void pg_close(void *ctx, void *conn)
{
    (void)ctx;
    PQfinish(conn);
}

static const gort_connpool_ops pg_ops = {pg_connect, pg_close, NULL, NULL};
static gort_connpool *pg_pool;
static gort_wg holders_in, holders_begun, holders_done;
static gort_chan *holders_go;

/* query runs one query on a pooled connection and checks its value; a
 * holder's first one holds the connection HOLD_MS. */
static void query(long v, bool hold)
{
    gort_pconn *pc;
    int r = gort_connpool_acquire(pg_pool, gort_now() + GORT_S(120), &pc);
    CHECK_EQ(r, 0);
    if (r < 0)
        return;
    PGconn *db = gort_connpool_raw(pc);
    if (hold) {
        /* All holders hold at once, whatever their connects took. */
        gort_wg_done(&holders_in);
        gort_chan_recv(holders_go, NULL);
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    const char *vals[1] = {buf};
    int64_t t0 = 0;
    if (hold) {
        hold_begin(&t0);
        gort_wg_done(&holders_begun);
    }
    PGresult *res =
        PQexecParams(db,
                     hold ? "SELECT $1::bigint * 2 FROM pg_sleep(0.5)"
                          : "SELECT $1::bigint * 2",
                     1, NULL, vals, NULL, NULL, 0);
    if (hold) {
        hold_end(t0);
        gort_wg_done(&holders_done);
    }
    CHECK_EQ(PQresultStatus(res), PGRES_TUPLES_OK);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        CHECK_EQ(atol(PQgetvalue(res, 0, 0)), 2 * v);
    PQclear(res);
    gort_connpool_release(pc, PQstatus(db) != CONNECTION_OK);
}

static void pg_worker(void *arg)
{
    long id = (long)gort_id();
    for (int i = 0; i < CMDS; i++)
        query(id * 1000 + i, arg != NULL && i == 0);
    gort_wg_done(&wg);
}

static int pg_main(void *arg)
{
    (void)arg;
    gort_connpool_config cfg = {.max_open = 32, .max_idle = 32};
    cr_assert(eq(int, gort_connpool_new(&pg_pool, &pg_ops, &cfg), 0));
    struct ticking t;
    ticker_start(&t);
    int64_t t0 = gort_now();
    /* 16 holders first: each takes a connection, and once all have one
     * they hold them HOLD_MS together while the ticker ticks. */
    gort_wg_add(&wg, GS);
    holders_go = gort_chan_make(0, 0);
    gort_wg_add(&holders_in, 16);
    gort_wg_add(&holders_begun, 16);
    gort_wg_add(&holders_done, 16);
    for (int i = 0; i < 16; i++)
        cr_assert(eq(int, gort_go(pg_worker, (void *)1), 0));
    gort_wg_wait(&holders_in);
    gort_chan_close(holders_go);
    gort_wg_wait(&holders_begun);
    /* The crowd comes after the holds here, as it had to with the
     * hand-off hooks (a wired goroutine back from a hooked poll queued
     * behind it, and at one P the 16 returns took 2-7 s). */
    gort_wg_wait(&holders_done);
    for (int i = 16; i < GS; i++)
        cr_assert(eq(int, gort_go(pg_worker, NULL), 0));
    gort_wg_wait(&wg);
    int64_t took = gort_now() - t0;
    ticker_stop(&t);
    check_no_stuck_holds();
    cr_assert(eq(int, gort_connpool_close(pg_pool), 0));
    gort_chan_free(holders_go);
    check_overlap("libpq through hooks", took, &t);
    return 0;
}

Test(hook, libpq_unwrapped_through_pool_overlaps_held_queries_at_1_proc,
     .init = start_pg, .fini = stop_pg)
{
    run(1, pg_main, NULL);
}

/* ---- Sleeps ----------------------------------------------------------------
 */

static void sleeper(void *arg)
{
    int kind = (int)(intptr_t)arg % 4;
    if (kind == 0) {
        CHECK_EQ(usleep(200000), 0);
    } else if (kind == 1) {
        struct timespec ts = {0, 200000000}, rem = {1, 1};
        CHECK_EQ(nanosleep(&ts, &rem), 0);
        CHECK(rem.tv_sec == 0 && rem.tv_nsec == 0);
    } else if (kind == 2) {
        struct timespec ts = {0, 200000000};
        CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        CHECK_EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL), 0);
    }
    gort_wg_done(&wg);
}

static int sleep_main(void *arg)
{
    (void)arg;
    int n = SCALE3(100, 40, 16);
    int64_t t0 = gort_now();
    gort_wg_add(&wg, n);
    for (int i = 0; i < n; i++)
        cr_assert(eq(int, gort_go(sleeper, (void *)(intptr_t)i), 0));
    gort_wg_wait(&wg);
    int64_t took = gort_now() - t0;
    /* Each slept at least 200 ms; together they took about that, not the
     * sum (n x 200 ms). */
    cr_assert(ge(i64, took, GORT_MS(200)));
    cr_assert(lt(i64, took, (int64_t)n * GORT_MS(200) / 4));
    /* Arguments libc rejects, rejected the same way, without sleeping. */
    struct timespec bad = {0, 1000000000};
    errno = 0;
    cr_assert(eq(int, nanosleep(&bad, NULL), -1));
    cr_assert(eq(int, errno, EINVAL));
    cr_assert(eq(int, clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL));
    return 0;
}

Test(hook, sleeps_park_the_goroutine_at_1_proc)
{
    run(1, sleep_main, NULL);
}

/* ---- libc's errors, errno, the thread ------------------------------------ */

static int errors_main(void *arg)
{
    (void)arg;
    char b;
    errno = 0;
    cr_assert(eq(long, (long)read(-1, &b, 1), -1L));
    cr_assert(eq(int, errno, EBADF));
    int sv[2];
    cr_assert(eq(int, socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0));
    /* A closed fd: libc's answer, no crash. Moved high first, so that no
     * other thread's open gets the number once it is closed. */
    int hi = fcntl(sv[1], F_DUPFD, 5000);
    cr_assert(ge(int, hi, 5000));
    close(sv[1]);
    close(hi);
    errno = 0;
    cr_assert(eq(int, close(hi), -1));
    cr_assert(eq(int, errno, EBADF));
    errno = 0;
    cr_assert(eq(long, (long)write(hi, "x", 1), -1L));
    cr_assert(eq(int, errno, EBADF));
    /* A blocking read with SO_RCVTIMEO: libc's EAGAIN after the timeout,
     * waited for on the poller while the goroutine below kept the P. */
    struct timeval tv = {0, 100000};
    cr_assert(
        eq(int, setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0));
    errno = 0;
    cr_assert(eq(long, (long)read(sv[0], &b, 1), 0L)); /* peer closed: EOF */
    int sv2[2];
    cr_assert(eq(int, socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0));
    cr_assert(eq(
        int, setsockopt(sv2[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0));
    cr_assert(eq(long, (long)read(sv2[0], &b, 1), -1L));
    cr_assert(eq(int, errno, EAGAIN));
    close(sv[0]);
    close(sv2[0]);
    close(sv2[1]);
    return 0;
}

static atomic_int spin_stop;

static void spinner(void *arg)
{
    (void)arg;
    /* Keeps the P busy while the reader waits on the poller. */
    while (!atomic_load(&spin_stop))
        gort_yield();
    gort_wg_done(&wg);
}

static int errors_with_spinner_main(void *arg)
{
    gort_wg_add(&wg, 1);
    cr_assert(eq(int, gort_go(spinner, NULL), 0));
    int r = errors_main(arg);
    atomic_store(&spin_stop, 1);
    gort_wg_wait(&wg);
    return r;
}

Test(hook, hooked_calls_return_libc_errors_with_a_busy_proc)
{
    run(1, errors_with_spinner_main, NULL);
}

/* ---- Straight to libc --------------------------------------------------- */

static void *own_thread(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 1000000};
    return (void *)(intptr_t)(nanosleep(&ts, NULL) == 0 && usleep(1000) == 0);
}

static int passthrough_main(void *arg)
{
    (void)arg;
    /* Inside an explicit hand-off: libc's sleep, no park. */
    uint64_t parks0, parks1;
    gort_stats_t st;
    gort_stats(&st);
    parks0 = st.parks;
    gort_syscall_enter();
    int r = usleep(20000);
    gort_syscall_exit();
    gort_stats(&st);
    parks1 = st.parks;
    cr_assert(eq(int, r, 0));
    cr_assert(eq(u64, parks1, parks0));
    /* A thread of the program's own. */
    pthread_t th;
    void *ok = NULL;
    cr_assert(eq(int, pthread_create(&th, NULL, own_thread, NULL), 0));
    gort_syscall_enter();
    pthread_join(th, &ok);
    gort_syscall_exit();
    cr_assert(eq(ptr, ok, (void *)1));
    return 0;
}

Test(hook, calls_outside_goroutine_code_go_straight_to_libc)
{
    run(1, passthrough_main, NULL);
    /* And outside gort_run altogether. */
    cr_assert(eq(int, usleep(1000), 0));
}
