/*
 * test_extlibs.c: unmodified blocking C libraries on goroutines, called
 * through explicit GORT_SYSCALL wrapping (docs/blocking.md): hiredis
 * against a redis-server and libpq, through gort_connpool, against a
 * PostgreSQL server. Both are Debian's builds (without gort's const fix);
 * the servers are started by the tests in temporary directories, on Unix
 * sockets only, and stopped at the end. A server that cannot start fails
 * the test and says why.
 *
 * The runs are at one P (GORT_MAXPROCS=1): a goroutine blocked in the
 * library keeps its thread, sysmon hands the P to another thread, and the
 * server holds some commands for a while (Redis BLPOP with a timeout,
 * PostgreSQL pg_sleep), so the run takes about the longest hold, not the
 * sum of them, while a ticker goroutine keeps ticking. Every reply is
 * checked. Figures go to stderr ("extlibs: ...").
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <gort.h>

#include "helpers/harness.h"

/* 1,000 goroutines x 100 commands (the size); figures for this
 * size on the 2-CPU reference machine are in docs/blocking.md. */
#define GS SCALE3(1000, 100, 20)
#define CMDS 100
#define HOLD_MS 500 /* how long the server holds one command */

/* ---- Servers ------------------------------------------------------------ */

static char dir[64];

/* sh runs a shell command line; returns its exit status. */
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void make_dir(const char *what)
{
    snprintf(dir, sizeof dir, "/tmp/gort-%s-XXXXXX", what);
    cr_assert(ne(ptr, mkdtemp(dir), NULL), "mkdtemp: %s", strerror(errno));
}

/* spawn starts argv as a child that dies with this process (a failed
 * assertion must not leave a server behind), as user `as` when set, its
 * output going to the file log. */
static pid_t spawn(const char *as, int deathsig, const char *log,
                   char *const argv[])
{
    uid_t uid = 0;
    gid_t gid = 0;
    if (as) {
        struct passwd *pw = getpwnam(as);
        cr_assert(ne(ptr, pw, NULL), "no user %s", as);
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        if (as && (setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
                   setuid(uid) < 0)) {
            fprintf(stderr, "extlibs: cannot become %s: %s\n", as,
                    strerror(errno));
            _exit(127);
        }
        /* After setuid, which clears it. */
        prctl(PR_SET_PDEATHSIG, deathsig);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        execvp(argv[0], argv);
        fprintf(stderr, "extlibs: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    return pid;
}

static void reap(pid_t *pid, int sig)
{
    if (*pid > 0) {
        kill(*pid, sig);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

static pid_t redis_pid;
static char redis_sock[128];

static void start_redis(void)
{
    make_dir("redis");
    snprintf(redis_sock, sizeof redis_sock, "%s/redis.sock", dir);
    char log[128];
    snprintf(log, sizeof log, "%s/server.log", dir);
    redis_pid = spawn(NULL, SIGTERM, log, (char *[]){"redis-server", "--port", "0",
                                       "--unixsocket", redis_sock, "--dir",
                                       dir, "--save", "", "--appendonly",
                                       "no", "--maxclients", "4000", NULL});
    for (int i = 0; i < 1000; i++) { /* up to 10 s */
        redisContext *c = redisConnectUnix(redis_sock);
        bool up = c && !c->err;
        redisFree(c);
        if (up)
            return;
        int st;
        if (waitpid(redis_pid, &st, WNOHANG) == redis_pid) {
            redis_pid = 0;
            sh("cat '%s' >&2", log);
            cr_fatal("extlibs: redis-server exited (status %d) before "
                     "listening on %s (apt-get install redis-server)", st,
                     redis_sock);
        }
        usleep(10000);
    }
    cr_fatal("extlibs: redis-server did not listen on %s within 10 s",
             redis_sock);
}

static void stop_redis(void)
{
    reap(&redis_pid, SIGTERM);
    if (dir[0])
        sh("rm -rf '%s'", dir);
    dir[0] = '\0';
}

static pid_t pg_pid;
static char pg_conninfo[256];

/* initdb refuses to run as root (and CI runs as root): then the cluster
 * belongs to nobody, in a directory nobody owns. The postmaster runs in
 * the foreground as a child of the test, not through pg_ctl, so that it
 * dies with the test. */
static void start_pg(void)
{
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0)
        cr_fatal("extlibs: no initdb under /usr/lib/postgresql "
                 "(apt-get install postgresql)");
    char bin[256];
    snprintf(bin, sizeof bin, "%s", g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    *strrchr(bin, '/') = '\0';
    make_dir("pg");
    const char *as = geteuid() == 0 ? "nobody" : NULL;
    if (as)
        cr_assert(eq(int, sh("chown nobody '%s'", dir), 0));
    if (sh("%s%s/initdb -D '%s/data' -U gort --auth=trust --no-sync "
           ">'%s/initdb.log' 2>&1", as ? "runuser -u nobody -- " : "", bin,
           dir, dir) != 0) {
        sh("cat '%s/initdb.log' >&2", dir);
        cr_fatal("extlibs: initdb failed (log above)");
    }
    char postgres[300], data[128], sockdir[160];
    snprintf(postgres, sizeof postgres, "%s/postgres", bin);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(sockdir, sizeof sockdir, "unix_socket_directories=%s", dir);
    /* SIGQUIT: immediate shutdown, the postmaster ends its children. */
    char log[128];
    snprintf(log, sizeof log, "%s/server.log", dir);
    pg_pid = spawn(as, SIGQUIT, log, (char *[]){postgres, "-D", data, "-c",
                                  "listen_addresses=", "-c", sockdir, "-c",
                                  "max_connections=100", "-c", "fsync=off",
                                  "-c", "synchronous_commit=off", NULL});
    snprintf(pg_conninfo, sizeof pg_conninfo,
             "host=%s dbname=postgres user=gort", dir);
    for (int i = 0; i < 3000; i++) { /* up to 30 s */
        if (PQping(pg_conninfo) == PQPING_OK)
            return;
        int st;
        if (waitpid(pg_pid, &st, WNOHANG) == pg_pid) {
            pg_pid = 0;
            sh("cat '%s' >&2", log);
            cr_fatal("extlibs: postgres exited (status %d) before "
                     "accepting connections in %s", st, dir);
        }
        usleep(10000);
    }
    cr_fatal("extlibs: postgres did not accept connections within 30 s");
}

static void stop_pg(void)
{
    reap(&pg_pid, SIGINT); /* fast shutdown */
    if (dir[0])
        sh("rm -rf '%s'", dir);
    dir[0] = '\0';
}

/* ---- A ticker that must keep ticking -------------------------------------- */

struct ticking {
    gort_chan *stop;
    gort_chan *done;
    int ticks;
    int64_t max_gap;
    int64_t start;
    int hold_ticks; /* ticks while some command was held */
    int max_threads; /* Ms alive, most seen at a tick */
};
static atomic_int holding; /* commands held now */

static void ticker_g(void *arg)
{
    struct ticking *t = arg;
    gort_ticker *tk = gort_ticker_new(GORT_MS(10));
    int64_t last = gort_now();
    for (;;) {
        int got = gort_select(
            (gort_select_case[]){GORT_RECV(t->stop, NULL, NULL),
                                 GORT_RECV(gort_ticker_chan(tk), NULL, NULL)},
            2);
        if (got == 0)
            break;
        int64_t now = gort_now();
        if (now - last > t->max_gap)
            t->max_gap = now - last;
        if (now - last > GORT_MS(500))
            fprintf(stderr, "extlibs: tick gap %.1f ms at +%.2f s\n",
                    (now - last) / 1e6, (now - t->start) / 1e9);
        last = now;
        t->ticks++;
        gort_stats_t st;
        if (gort_stats(&st) == 0 && st.threads > t->max_threads)
            t->max_threads = st.threads;
        if (atomic_load(&holding) > 0)
            t->hold_ticks++;
    }
    gort_ticker_free(tk);
    gort_chan_send(t->done, &t->ticks);
}

static void ticker_start(struct ticking *t)
{
    *t = (struct ticking){gort_chan_make(0, 0), gort_chan_make(sizeof(int), 1),
                          0, 0, gort_now(), 0, 0};
    cr_assert(eq(int, gort_go(ticker_g, t), 0));
}

static void ticker_stop(struct ticking *t)
{
    int n;
    gort_chan_close(t->stop);
    gort_chan_recv(t->done, &n);
    gort_chan_free(t->stop);
    gort_chan_free(t->done);
}

/* Every goroutine that makes the server hold a command records when it
 * started and ended; the holds start at once (each holder's first
 * command), so at one P they must overlap: the span from the first start
 * to the last end is about one hold, far from their sum. The ticker must
 * have kept ticking meanwhile (generous bounds). */
static _Atomic int64_t hold_first = INT64_MAX, hold_last;
static atomic_int holds;

static void hold_begin(int64_t *t0)
{
    atomic_fetch_add(&holding, 1);
    *t0 = gort_now();
    int64_t cur = atomic_load(&hold_first);
    while (*t0 < cur && !atomic_compare_exchange_weak(&hold_first, &cur, *t0))
        ;
}

static void hold_end(int64_t t0)
{
    int64_t t1 = gort_now();
    CHECK(t1 - t0 >= GORT_MS(HOLD_MS) - GORT_MS(1));
    int64_t cur = atomic_load(&hold_last);
    while (t1 > cur && !atomic_compare_exchange_weak(&hold_last, &cur, t1))
        ;
    atomic_fetch_add(&holds, 1);
    atomic_fetch_sub(&holding, 1);
}

static void check_overlap(const char *what, int64_t took, struct ticking *t)
{
    int n = atomic_load(&holds);
    int64_t sum = (int64_t)n * GORT_MS(HOLD_MS);
    int64_t span = atomic_load(&hold_last) - atomic_load(&hold_first);
    fprintf(stderr,
            "extlibs: %s: %d goroutines x %d commands at 1 P in %.2f s; "
            "%d holds of %d ms (sum %.1f s) within %.2f s; ticker: %d "
            "ticks (%d during holds), max gap %.1f ms; threads: %d\n",
            what, GS, CMDS, took / 1e9, n, HOLD_MS, sum / 1e9, span / 1e9,
            t->ticks, t->hold_ticks, t->max_gap / 1e6, t->max_threads);
    cr_assert(gt(int, n, 1));
    cr_assert(lt(i64, span, sum / 4), "%s: %d holds of %d ms spanned "
              "%.1f s: they did not overlap", what, n, HOLD_MS, span / 1e9);
    /* A 10 ms ticker over at least one 500 ms hold: 50 ticks if the
     * machine were idle; CI machines are not. */
    cr_assert(ge(int, t->hold_ticks, 5));
}

/* ---- hiredis --------------------------------------------------------------- */

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
            r = GORT_SYSCALL(redisCommand(c, "SET k:%llu %s",
                                          (unsigned long long)id, val));
            CHECK(reply_is(r, REDIS_REPLY_STATUS) && !strcmp(r->str, "OK"));
        } else if (i % 3 == 2) {
            r = GORT_SYSCALL(redisCommand(c, "GET k:%llu",
                                          (unsigned long long)id));
            CHECK(reply_is(r, REDIS_REPLY_STRING) && !strcmp(r->str, val));
        } else {
            r = GORT_SYSCALL(redisCommand(c, "INCR n:%llu",
                                          (unsigned long long)id));
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

Test(extlibs, hiredis_connection_per_goroutine_wrapped_at_1_proc,
     .init = start_redis, .fini = stop_redis)
{
    run(1, redis_main, NULL);
}

/* ---- libpq through the pool ----------------------------------------------- */

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
    PGresult *res = GORT_SYSCALL(
        PQexecParams(db, sql, 1, NULL, vals, NULL, NULL, 0));
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
    fprintf(stderr, "extlibs: pool: open %d, waits %llu, waited %.1f s in "
            "all\n", st.open, (unsigned long long)st.wait_count,
            st.wait_duration / 1e9);
    cr_assert(le(int, st.open, PG_CONNS));
    cr_assert(eq(int, st.in_use, 0));
    cr_assert(eq(int, gort_connpool_close(pg_pool), 0));
    gort_chan_free(holders_go);
    check_overlap("libpq", took, &t);
    return 0;
}

Test(extlibs, libpq_through_pool_of_32_wrapped_at_1_proc, .init = start_pg,
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

Test(extlibs, libpq_server_going_away_fails_the_call_and_drops_the_conn,
     .init = start_pg, .fini = stop_pg)
{
    run(2, gone_main, NULL);
}
