/*
 * test_libpq.c: Debian's libpq, unmodified, on goroutines through
 * gort_connpool (32 connections), called through explicit GORT_SYSCALL
 * wrapping (docs/blocking.md), against a PostgreSQL cluster the suite
 * starts (tests/extlibs/servers.c).
 *
 * 1,000 goroutines at one P (GORT_MAXPROCS=1) run 100 queries each and
 * check every value; 16 of them first hold a connection HOLD_MS in
 * pg_sleep, together, while the others go on and a ticker ticks. A
 * backend killed mid-query must give libpq's error and the pool must drop
 * the connection. Figures go to stderr ("extlibs: ...").
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <libpq-fe.h>

#include <gort.h>

#include "helpers/harness.h"
#include "extlibs/servers.h"

static gort_wg wg;

#define PG_CONNS 32 /* under PostgreSQL's default limit of 100 */
#define PG_HOLDERS 16

static int pg_connect(void *ctx, void **conn)
{
    (void)ctx;
    PGconn *db = GORT_SYSCALL(PQconnectdb(pg_conninfo));
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "extlibs: connect: %s", PQerrorMessage(db));
        gort_syscall_enter();
        PQfinish(db);
        gort_syscall_exit();
        return -ECONNREFUSED;
    }
    *conn = db;
    return 0;
}

static void pg_close(void *ctx, void *conn)
{
    (void)ctx;
    gort_syscall_enter();
    PQfinish(conn);
    gort_syscall_exit();
}

static const gort_connpool_ops pg_ops = {pg_connect, pg_close, NULL, NULL};
static gort_connpool *pg_pool;

/* query runs sql with one int parameter on a pooled connection and
 * returns the first column of the only row, or -1 (recorded) on error. */
static long query_int(const char *sql, long param)
{
    gort_pconn *pc;
    int r = gort_connpool_acquire(pg_pool, gort_now() + GORT_S(120), &pc);
    CHECK_EQ(r, 0);
    if (r < 0)
        return -1;
    PGconn *db = gort_connpool_raw(pc);
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", param);
    const char *vals[1] = {buf};
    PGresult *res =
        GORT_SYSCALL(PQexecParams(db, sql, 1, NULL, vals, NULL, NULL, 0));
    long v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        v = atol(PQgetvalue(res, 0, 0));
    else
        fprintf(stderr, "extlibs: %s: %s", sql, PQerrorMessage(db));
    PQclear(res);
    gort_connpool_release(pc, PQstatus(db) != CONNECTION_OK);
    return v;
}

static void pg_worker(void *arg)
{
    long id = (long)gort_id();
    for (int i = 0; i < CMDS; i++) {
        long v = id * 1000 + i;
        CHECK_EQ(query_int("SELECT $1::bigint * 2", v), 2 * v);
    }
    gort_wg_done(arg);
}

/* A holder's first query holds its connection HOLD_MS; the rest of the
 * pool keeps serving the others. The holders take their connections
 * before the crowd arrives and start holding together: pg_main waits for
 * them through a WaitGroup and a channel, not a timer, because timers
 * may wait while goroutines loop on short wrapped calls at one P
 * (docs/blocking.md, "What it costs"). */
static gort_wg holders_in, holders_begun;
static gort_chan *holders_go;

static void pg_holder(void *arg)
{
    long id = (long)gort_id();
    gort_pconn *pc;
    int r = gort_connpool_acquire(pg_pool, GORT_FOREVER, &pc);
    CHECK_EQ(r, 0);
    gort_wg_done(&holders_in);
    gort_chan_recv(holders_go, NULL); /* closed when all are in */
    if (r == 0) {
        PGconn *db = gort_connpool_raw(pc);
        int64_t t0;
        hold_begin(&t0);
        gort_wg_done(&holders_begun);
        PGresult *res = GORT_SYSCALL(PQexec(db, "SELECT pg_sleep(0.5)"));
        hold_end(t0);
        CHECK_EQ(PQresultStatus(res), PGRES_TUPLES_OK);
        PQclear(res);
        gort_connpool_release(pc, PQstatus(db) != CONNECTION_OK);
    } else {
        gort_wg_done(&holders_begun);
    }
    for (int i = 1; i < CMDS; i++) {
        long v = id * 1000 + i;
        CHECK_EQ(query_int("SELECT $1::bigint * 2", v), 2 * v);
    }
    gort_wg_done(arg);
}

static int pg_main(void *arg)
{
    (void)arg;
    gort_connpool_config cfg = {.max_open = PG_CONNS, .max_idle = PG_CONNS};
    cr_assert(eq(int, gort_connpool_new(&pg_pool, &pg_ops, &cfg), 0));
    struct ticking t;
    ticker_start(&t);
    int64_t t0 = gort_now();
    gort_wg_add(&wg, GS);
    holders_go = gort_chan_make(0, 0);
    gort_wg_add(&holders_in, PG_HOLDERS);
    gort_wg_add(&holders_begun, PG_HOLDERS);
    for (int i = 0; i < PG_HOLDERS; i++)
        cr_assert(eq(int, gort_go(pg_holder, &wg), 0));
    gort_wg_wait(&holders_in);
    gort_chan_close(holders_go);
    gort_wg_wait(&holders_begun);
    for (int i = PG_HOLDERS; i < GS; i++)
        cr_assert(eq(int, gort_go(pg_worker, &wg), 0));
    gort_wg_wait(&wg);
    int64_t took = gort_now() - t0;
    ticker_stop(&t);
    gort_connpool_stats_t st;
    gort_connpool_stats(pg_pool, &st);
    fprintf(stderr,
            "extlibs: pool: open %d, waits %llu, waited %.1f s in "
            "all\n",
            st.open, (unsigned long long)st.wait_count, st.wait_duration / 1e9);
    cr_assert(le(int, st.open, PG_CONNS));
    cr_assert(eq(int, st.in_use, 0));
    cr_assert(eq(int, gort_connpool_close(pg_pool), 0));
    gort_chan_free(holders_go);
    check_overlap("libpq", took, &t);
    return 0;
}

Test(libpq, through_pool_of_32_wrapped_at_1_proc, .init = start_pg,
     .fini = stop_pg)
{
    run(1, pg_main, NULL);
}

/* A server that goes away mid-command: the library's own error reaches
 * the caller and the pool drops the connection. */
static void victim(void *arg)
{
    gort_chan *res = arg;
    gort_pconn *pc;
    int r = gort_connpool_acquire(pg_pool, GORT_FOREVER, &pc);
    CHECK_EQ(r, 0);
    PGconn *db = gort_connpool_raw(pc);
    PGresult *res1 = GORT_SYSCALL(PQexec(db, "SELECT pg_sleep(30)"));
    int status = PQresultStatus(res1);
    PQclear(res1);
    bool bad = PQstatus(db) != CONNECTION_OK;
    gort_connpool_release(pc, bad);
    gort_chan_send(res, &status);
}

static int gone_main(void *arg)
{
    (void)arg;
    gort_connpool_config cfg = {.max_open = 2};
    cr_assert(eq(int, gort_connpool_new(&pg_pool, &pg_ops, &cfg), 0));
    gort_chan *res = gort_chan_make(sizeof(int), 1);
    cr_assert(eq(int, gort_go(victim, res), 0));
    /* Once the victim's query runs, end its backend from another
     * connection of the same pool. */
    long killed = 0;
    for (int i = 0; i < 1000 && killed != 1; i++) {
        gort_sleep(GORT_MS(10));
        killed = query_int(
            "SELECT count(pg_terminate_backend(pid))::int + 0 * $1::int "
            "FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'",
            0);
    }
    cr_assert(eq(i64, killed, 1));
    int status = 0;
    gort_chan_recv(res, &status);
    cr_assert(eq(int, status, PGRES_FATAL_ERROR));
    gort_connpool_stats_t st;
    gort_connpool_stats(pg_pool, &st);
    cr_assert(eq(int, st.open, 1)); /* only the killer's connection */
    cr_assert(eq(int, gort_connpool_close(pg_pool), 0));
    gort_chan_free(res);
    return 0;
}

Test(libpq, server_going_away_fails_the_call_and_drops_the_conn,
     .init = start_pg, .fini = stop_pg)
{
    run(2, gone_main, NULL);
}

/* A Redis server that goes away in the middle of a held command: hiredis
 * reports its own error (an EOF or I/O error on the context) to the
 * goroutine, and the other goroutines and the ticker carry on. */
