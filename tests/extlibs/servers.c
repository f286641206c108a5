/*
 * servers.c: what the suites driving real C libraries share
 * (tests/test_hiredis.c, tests/test_libpq.c): redis-server and PostgreSQL
 * started in temporary directories on Unix sockets and stopped again, a
 * ticker goroutine that must keep ticking, and the record of commands the
 * server held, whose overlap the suites check.
 *
 * Servers are children of the test process with a parent-death signal,
 * so a failed assertion never leaves one behind. Linked only into those
 * two suites (Makefile), with hiredis and libpq.
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
#include "extlibs/servers.h"

/* ---- Servers ------------------------------------------------------------ */

char dir[64];

/* sh runs a shell command line; returns its exit status. */
int sh(const char *fmt, ...)
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
        if (as &&
            (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)) {
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

void reap(pid_t *pid, int sig)
{
    if (*pid > 0) {
        kill(*pid, sig);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

pid_t redis_pid;
char redis_sock[128];

void start_redis(void)
{
    make_dir("redis");
    snprintf(redis_sock, sizeof redis_sock, "%s/redis.sock", dir);
    char log[128];
    snprintf(log, sizeof log, "%s/server.log", dir);
    redis_pid =
        spawn(NULL, SIGTERM, log,
              (char *[]){"redis-server", "--port", "0", "--unixsocket",
                         redis_sock, "--dir", dir, "--save", "", "--appendonly",
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
            cr_assert(false,
                      "extlibs: redis-server exited (status %d) before "
                      "listening on %s (apt-get install redis-server)",
                      st, redis_sock);
        }
        usleep(10000);
    }
    cr_assert(false, "extlibs: redis-server did not listen on %s within 10 s",
              redis_sock);
}

void stop_redis(void)
{
    reap(&redis_pid, SIGTERM);
    if (dir[0])
        sh("rm -rf '%s'", dir);
    dir[0] = '\0';
}

pid_t pg_pid;
char pg_conninfo[256];

/* initdb refuses to run as root (and CI runs as root): then the cluster
 * belongs to nobody, in a directory nobody owns. The postmaster runs in
 * the foreground as a child of the test, not through pg_ctl, so that it
 * dies with the test. */
void start_pg(void)
{
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0)
        cr_assert(false, "extlibs: no initdb under /usr/lib/postgresql "
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
           ">'%s/initdb.log' 2>&1",
           as ? "runuser -u nobody -- " : "", bin, dir, dir) != 0) {
        sh("cat '%s/initdb.log' >&2", dir);
        cr_assert(false, "extlibs: initdb failed (log above)");
    }
    char postgres[300], data[128], sockdir[160];
    snprintf(postgres, sizeof postgres, "%s/postgres", bin);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(sockdir, sizeof sockdir, "unix_socket_directories=%s", dir);
    /* SIGQUIT: immediate shutdown, the postmaster ends its children. */
    char log[128];
    snprintf(log, sizeof log, "%s/server.log", dir);
    pg_pid =
        spawn(as, SIGQUIT, log,
              (char *[]){postgres, "-D", data, "-c", "listen_addresses=", "-c",
                         sockdir, "-c", "max_connections=100", "-c",
                         "fsync=off", "-c", "synchronous_commit=off", NULL});
    snprintf(pg_conninfo, sizeof pg_conninfo,
             "host=%s dbname=postgres user=gort", dir);
    for (int i = 0; i < 3000; i++) { /* up to 30 s */
        if (PQping(pg_conninfo) == PQPING_OK)
            return;
        int st;
        if (waitpid(pg_pid, &st, WNOHANG) == pg_pid) {
            pg_pid = 0;
            sh("cat '%s' >&2", log);
            cr_assert(false,
                      "extlibs: postgres exited (status %d) before "
                      "accepting connections in %s",
                      st, dir);
        }
        usleep(10000);
    }
    cr_assert(false, "extlibs: postgres did not accept connections "
                     "within 30 s");
}

void stop_pg(void)
{
    reap(&pg_pid, SIGINT); /* fast shutdown */
    if (dir[0])
        sh("rm -rf '%s'", dir);
    dir[0] = '\0';
}

/* ---- A ticker that must keep ticking ------------------------------------ */

atomic_int holding; /* commands held now */

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

void ticker_start(struct ticking *t)
{
    *t = (struct ticking){gort_chan_make(0, 0),
                          gort_chan_make(sizeof(int), 1),
                          0,
                          0,
                          gort_now(),
                          0,
                          0};
    cr_assert(eq(int, gort_go(ticker_g, t), 0));
}

void ticker_stop(struct ticking *t)
{
    int n;
    gort_chan_close(t->stop);
    gort_chan_recv(t->done, &n);
    gort_chan_free(t->stop);
    gort_chan_free(t->done);
}

/* Every goroutine that makes the server hold a command records when it
 * started and ended; the holds start at once (each holder's first
 * command), so at one P they must overlap: many holds are in progress
 * at once. Serial holds (a held P) would never have two. Not the span
 * from the first start to the last end, which is printed: that adds how
 * long each returning holder waits for the one P among a thousand
 * runnable goroutines, which is scheduling, not overlap. The ticker must
 * have kept ticking meanwhile (generous bounds). */
static _Atomic int64_t hold_first = INT64_MAX, hold_last;
static atomic_int holding_peak;
static atomic_int holds;

void hold_begin(int64_t *t0)
{
    atomic_fetch_add(&holding, 1);
    *t0 = gort_now();
    int64_t cur = atomic_load(&hold_first);
    while (*t0 < cur && !atomic_compare_exchange_weak(&hold_first, &cur, *t0))
        ;
    int now = atomic_load(&holding), peak = atomic_load(&holding_peak);
    while (now > peak &&
           !atomic_compare_exchange_weak(&holding_peak, &peak, now))
        ;
}

void hold_end(int64_t t0)
{
    int64_t t1 = gort_now();
    CHECK(t1 - t0 >= GORT_MS(HOLD_MS) - GORT_MS(1));
    int64_t cur = atomic_load(&hold_last);
    while (t1 > cur && !atomic_compare_exchange_weak(&hold_last, &cur, t1))
        ;
    atomic_fetch_add(&holds, 1);
    atomic_fetch_sub(&holding, 1);
}

void check_overlap(const char *what, int64_t took, struct ticking *t)
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
    int peak = atomic_load(&holding_peak), want = (n < 16 ? n : 16) / 2;
    cr_assert(ge(int, peak, want),
              "%s: at most %d of %d holds of %d ms were in progress at "
              "once: they did not overlap", what, peak, n, HOLD_MS);
    /* A 10 ms ticker over at least one 500 ms hold: 50 ticks if the
     * machine were idle; CI machines are not. */
    cr_assert(ge(int, t->hold_ticks, 5));
}
