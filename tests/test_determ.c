/*
 * test_determ.c: the deterministic mode, GORT_DEBUG=deterministic=SEED
 * (runtime/determ.c, docs/deterministic.md): one seed gives one schedule
 * (a byte-identical trace in two fresh processes), seeds differ, a lost
 * update is found by some seed and replayed by it, virtual time jumps,
 * select and timer ties follow the seed, and the scheduling guarantees
 * hold in picks and virtual time.
 *
 * A schedule is observed as a log: the order in which goroutines reached
 * their steps. Runs are whole gort_run calls in this test's process
 * (Criterion forks one per test), or in forked children where the test
 * says fresh processes.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gort.h>

#include "helpers/harness.h"

/* run_seed runs fn as the main goroutine on procs virtual Ps with seed. */
static void run_seed(unsigned long long seed, int procs, int (*fn)(void *),
                     void *arg)
{
    char kv[64];
    snprintf(kv, sizeof kv, "deterministic=%llu", seed);
    debug_set(kv);
    run(procs, fn, arg);
    debug_set(NULL);
}

/* ---- A schedule, as a log -------------------------------------------------- */

enum { WORKERS = 4, STEPS = 6, LOGMAX = 256 };

static struct {
    char log[LOGMAX];
    int n;
    gort_chan *ch;
    gort_mutex mu;
} sched_log;

static void log_step(char c)
{
    if (sched_log.n < LOGMAX - 1)
        sched_log.log[sched_log.n++] = c;
}

/* worker logs its letter at each step, between yields, a channel hop and
 * a short sleep: a schedule of picks, wake-ups and timers. */
static void worker(void *arg)
{
    char c = (char)(uintptr_t)arg;
    for (int i = 0; i < STEPS; i++) {
        log_step(c);
        if (i % 3 == 0) {
            gort_yield();
        } else if (i % 3 == 1) {
            int v = i;
            gort_chan_send(sched_log.ch, &v);
        } else {
            gort_mutex_lock(&sched_log.mu);
            gort_sleep(1000);
            gort_mutex_unlock(&sched_log.mu);
        }
    }
}

static void drain(void *arg)
{
    (void)arg;
    int v;
    for (int i = 0; i < WORKERS * (STEPS / 3); i++)
        gort_chan_recv(sched_log.ch, &v);
}

static int schedule_main(void *arg)
{
    (void)arg;
    memset(&sched_log, 0, sizeof sched_log);
    sched_log.ch = gort_chan_make(sizeof(int), 0);
    gort_wg wg = {0};
    gort_wg_go(&wg, drain, NULL);
    for (int i = 0; i < WORKERS; i++)
        gort_wg_go(&wg, worker, (void *)(uintptr_t)('a' + i));
    gort_wg_wait(&wg);
    gort_chan_free(sched_log.ch);
    settle();
    return 0;
}

static void schedule_of(unsigned long long seed, char *out)
{
    run_seed(seed, 4, schedule_main, NULL);
    sched_log.log[sched_log.n] = '\0';
    strcpy(out, sched_log.log);
}

Test(determ, one_seed_gives_one_schedule)
{
    char a[LOGMAX], b[LOGMAX];
    schedule_of(42, a);
    schedule_of(42, b);
    cr_assert(eq(int, (int)strlen(a), WORKERS * STEPS));
    cr_assert(eq(str, a, b));
}

Test(determ, seeds_give_different_schedules)
{
    char first[LOGMAX], other[LOGMAX];
    schedule_of(1, first);
    int differ = 0;
    for (unsigned long long s = 2; s <= 16; s++) {
        schedule_of(s, other);
        differ += strcmp(first, other) != 0;
    }
    cr_assert(gt(int, differ, 0), "16 seeds, one schedule: %s", first);
}

/* ---- Byte-identical traces in fresh processes ---------------------------- */

/* trace_child runs the schedule workload traced, in a fresh child. */
static void trace_child(unsigned long long seed, const char *path)
{
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        setenv("GORT_TRACE", path, 1);
        char kv[64];
        snprintf(kv, sizeof kv, "deterministic=%llu", seed);
        debug_set(kv);
        gort_maxprocs(4);
        int rc = gort_run(schedule_main, NULL);
        _exit(rc == 0 && !atomic_load(&harness_failed) ? 0 : 1);
    }
    int st;
    cr_assert(eq(int, waitpid(pid, &st, 0), pid));
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    cr_assert(ok, "child status %d", st);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert(buf != NULL);
    cr_assert(eq(sz, fread(buf, 1, (size_t)n, f), (size_t)n));
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

Test(determ, same_seed_gives_byte_identical_trace)
{
    char p1[] = "/tmp/gort-determ-XXXXXX", p2[] = "/tmp/gort-determ-XXXXXX",
         p3[] = "/tmp/gort-determ-XXXXXX";
    close(mkstemp(p1));
    close(mkstemp(p2));
    close(mkstemp(p3));
    trace_child(7, p1);
    trace_child(7, p2);
    trace_child(8, p3);
    size_t n1, n2, n3;
    char *a = slurp(p1, &n1), *b = slurp(p2, &n2), *c = slurp(p3, &n3);
    unlink(p1);
    unlink(p2);
    unlink(p3);
    cr_assert(gt(sz, n1, 1000), "the trace is nearly empty");
    cr_assert(strstr(a, "\"virtual\"") != NULL, "no virtual clock named");
    cr_assert(eq(sz, n1, n2));
    cr_assert(memcmp(a, b, n1) == 0, "one seed, two traces");
    cr_assert(n1 != n3 || memcmp(a, c, n1) != 0, "seeds 7 and 8 alike");
    free(a);
    free(b);
    free(c);
}

/* ---- A lost update, found and replayed ----------------------------------- */

static long counter;

/* bump is the bug: read, yield, write, without a lock. */
static void bump(void *arg)
{
    (void)arg;
    long v = counter;
    gort_yield();
    counter = v + 1;
}

static int lost_main(void *arg)
{
    (void)arg;
    counter = 0;
    gort_wg wg = {0};
    gort_wg_go(&wg, bump, NULL);
    gort_wg_go(&wg, bump, NULL);
    gort_wg_wait(&wg);
    settle();
    return 0;
}

static bool lost_with(unsigned long long seed)
{
    run_seed(seed, 2, lost_main, NULL);
    return counter != 2;
}

Test(determ, lost_update_found_by_a_seed_and_replayed)
{
    long bad = -1, good = -1;
    for (unsigned long long s = 0; s < 64 && (bad < 0 || good < 0); s++) {
        if (lost_with(s))
            bad = bad < 0 ? (long)s : bad;
        else
            good = good < 0 ? (long)s : good;
    }
    cr_assert(ge(long, bad, 0), "no seed of 64 lost the update");
    cr_assert(ge(long, good, 0), "every seed lost it: not the schedule's");
    for (int i = 0; i < 5; i++) {
        bool again = lost_with((unsigned long long)bad);
        cr_assert(again, "seed %ld: not again", bad);
        bool lost = lost_with((unsigned long long)good);
        cr_assert(not(lost), "seed %ld lost it", good);
    }
}

/* ---- Virtual time -------------------------------------------------------- */

static int64_t slept_virtual;

static int hour_main(void *arg)
{
    (void)arg;
    int64_t t0 = gort_now();
    gort_sleep(3600LL * 1000000000);
    slept_virtual = gort_now() - t0;
    return 0;
}

Test(determ, hour_sleep_ends_at_once_in_wall_time)
{
    int64_t t0 = now_ns();
    run_seed(3, 2, hour_main, NULL);
    int64_t wall = now_ns() - t0;
    cr_assert(ge(i64, slept_virtual, 3600LL * 1000000000));
    cr_assert(lt(i64, slept_virtual, 3601LL * 1000000000));
    cr_assert(lt(i64, wall, 30LL * 1000000000), "wall %lld ns",
              (long long)wall);
}

/* A deadlock is still reported: virtual time cannot help a goroutine that
 * waits on nothing with a deadline. */
static int deadlock_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    int v;
    gort_chan_recv(c, &v);
    return 0;
}

Test(determ, deadlock_reported_in_the_mode)
{
    debug_set("deterministic=5");
    char buf[4096];
    int st = harness_run_child(deadlock_main, NULL, buf, sizeof buf);
    debug_set(NULL);
    cr_assert(eq(int, st, 2));
    cr_assert(strstr(buf, "all goroutines are asleep - deadlock!") != NULL,
              "%s", buf);
}

/* ---- select and timer ties ---------------------------------------------- */

static int select_first;

static int select_main(void *arg)
{
    (void)arg;
    gort_chan *a = gort_chan_make(sizeof(int), 1);
    gort_chan *b = gort_chan_make(sizeof(int), 1);
    int x = 1, y = 2, got;
    gort_chan_send(a, &x);
    gort_chan_send(b, &y);
    select_first = gort_select((gort_select_case[]){GORT_RECV(a, &got, NULL),
                                                    GORT_RECV(b, &got, NULL)},
                               2);
    gort_chan_free(a);
    gort_chan_free(b);
    return 0;
}

Test(determ, select_choice_follows_the_seed)
{
    int seen[2] = {0, 0};
    for (unsigned long long s = 0; s < 32; s++) {
        run_seed(s, 2, select_main, NULL);
        cr_assert(select_first == 0 || select_first == 1);
        int again = select_first;
        run_seed(s, 2, select_main, NULL);
        cr_assert(eq(int, select_first, again), "seed %llu", s);
        seen[select_first]++;
    }
    cr_assert(gt(int, seen[0], 0));
    cr_assert(gt(int, seen[1], 0));
}

static char tie_order[8];
static _Atomic int tie_n;

static void tie_sleeper(void *arg)
{
    gort_sleep(5000000); /* both made in one slice: one deadline */
    tie_order[atomic_fetch_add(&tie_n, 1)] = (char)(uintptr_t)arg;
}

static int tie_main(void *arg)
{
    (void)arg;
    atomic_store(&tie_n, 0);
    memset(tie_order, 0, sizeof tie_order);
    gort_wg wg = {0};
    gort_wg_go(&wg, tie_sleeper, (void *)(uintptr_t)'x');
    gort_wg_go(&wg, tie_sleeper, (void *)(uintptr_t)'y');
    gort_wg_wait(&wg);
    return 0;
}

Test(determ, equal_deadlines_fire_in_seeded_order)
{
    int xy = 0, yx = 0;
    for (unsigned long long s = 0; s < 32; s++) {
        run_seed(s, 4, tie_main, NULL);
        char first[8];
        memcpy(first, tie_order, sizeof first);
        run_seed(s, 4, tie_main, NULL);
        cr_assert(eq(str, first, tie_order), "seed %llu", s);
        xy += strcmp(first, "xy") == 0;
        yx += strcmp(first, "yx") == 0;
    }
    cr_assert(gt(int, xy, 0));
    cr_assert(gt(int, yx, 0));
}

/* ---- Guarantees in picks and virtual time -------------------------------- */

enum { YIELDERS = 6, ROUNDS = 300 };
static _Atomic long runs[YIELDERS];
static int64_t max_gap[YIELDERS];
static _Atomic bool stop_all;

/* yielder counts its turns and the longest virtual gap between two. */
static void yielder(void *arg)
{
    int i = (int)(uintptr_t)arg;
    int64_t last = gort_now();
    while (!atomic_load(&stop_all)) {
        atomic_fetch_add(&runs[i], 1);
        gort_yield();
        int64_t t = gort_now();
        if (t - last > max_gap[i])
            max_gap[i] = t - last;
        last = t;
    }
}

static int fair_main(void *arg)
{
    (void)arg;
    atomic_store(&stop_all, false);
    for (int i = 0; i < YIELDERS; i++) {
        atomic_store(&runs[i], 0);
        max_gap[i] = 0;
    }
    gort_wg wg = {0};
    for (int i = 0; i < YIELDERS; i++)
        gort_wg_go(&wg, yielder, (void *)(uintptr_t)i);
    for (int r = 0; r < ROUNDS; r++)
        gort_yield();
    atomic_store(&stop_all, true);
    gort_wg_wait(&wg);
    return 0;
}

Test(determ, yielders_are_fair_and_wait_bounded_picks)
{
    for (unsigned long long s = 0; s < 8; s++) {
        run_seed(s, 3, fair_main, NULL);
        long total = 0;
        for (int i = 0; i < YIELDERS; i++)
            total += atomic_load(&runs[i]);
        for (int i = 0; i < YIELDERS; i++) {
            /* Every yielder got a fair part of the turns... */
            cr_assert(gt(long, atomic_load(&runs[i]) * YIELDERS * 4, total),
                      "seed %llu: yielder %d ran %ld of %ld", s, i,
                      atomic_load(&runs[i]), total);
            /* ... and never waited more than ~8 picks per runnable
             * goroutine (1 us of virtual time each, plus gort_now's). */
            cr_assert(lt(i64, max_gap[i], 200000), "seed %llu: gap %lld ns",
                      s, (long long)max_gap[i]);
        }
    }
}

static _Atomic bool spin_flag;

/* spinner never blocks; it passes a preemption point (gort_now) only. */
static void spinner(void *arg)
{
    (void)arg;
    while (!atomic_load(&spin_flag))
        (void)gort_now();
}

static void flagger(void *arg)
{
    (void)arg;
    atomic_store(&spin_flag, true);
}

static int spin_main(void *arg)
{
    (void)arg;
    atomic_store(&spin_flag, false);
    gort_wg wg = {0};
    gort_wg_go(&wg, spinner, NULL);
    gort_wg_go(&wg, spinner, NULL);
    gort_yield(); /* let the spinners start and hold the one thread */
    gort_wg_go(&wg, flagger, NULL);
    gort_wg_wait(&wg);
    return 0;
}

Test(determ, spinners_are_preempted_by_virtual_slice)
{
    for (unsigned long long s = 0; s < 4; s++)
        run_seed(s, 2, spin_main, NULL); /* returns: flagger got a turn */
}

/* ---- Loopback I/O --------------------------------------------------------- */

enum { CLIENTS = 3, MSGS = 4 };
static int echo_port;
static char net_log[64];
static _Atomic int net_n;

static void echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[8];
    ssize_t n;
    while ((n = gort_read(fd, buf, sizeof buf)) > 0)
        CHECK_EQ(gort_write(fd, buf, (size_t)n), n);
    gort_close(fd);
}

static void echo_client(void *arg)
{
    char c = (char)(uintptr_t)arg, addr[32], b;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", echo_port);
    int fd = gort_dial("tcp", addr, 0);
    CHECK(fd >= 0);
    for (int i = 0; i < MSGS && fd >= 0; i++) {
        CHECK_EQ(gort_write(fd, &c, 1), 1);
        CHECK_EQ(gort_read(fd, &b, 1), 1);
        CHECK_EQ(b, c);
        net_log[atomic_fetch_add(&net_n, 1)] = c;
    }
    if (fd >= 0)
        gort_close(fd);
}

static int net_main(void *arg)
{
    (void)arg;
    atomic_store(&net_n, 0);
    memset(net_log, 0, sizeof net_log);
    int lfd = gort_listen("tcp", "127.0.0.1:0");
    CHECK(lfd >= 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    CHECK_EQ(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    echo_port = ntohs(sa.sin_port);
    gort_wg wg = {0};
    for (int i = 0; i < CLIENTS; i++)
        gort_wg_go(&wg, echo_client, (void *)(uintptr_t)('a' + i));
    for (int i = 0; i < CLIENTS; i++) {
        int fd = gort_accept(lfd);
        CHECK(fd >= 0);
        if (fd >= 0)
            gort_wg_go(&wg, echo_conn, (void *)(intptr_t)fd);
    }
    gort_wg_wait(&wg);
    gort_close(lfd);
    return 0;
}

Test(determ, loopback_echo_replays_with_its_seed)
{
    for (unsigned long long s = 0; s < 4; s++) {
        run_seed(s, 2, net_main, NULL);
        char first[64];
        memcpy(first, net_log, sizeof first);
        cr_assert(eq(int, (int)strlen(first), CLIENTS * MSGS));
        run_seed(s, 2, net_main, NULL);
        cr_assert(eq(str, first, net_log), "seed %llu", s);
    }
}

/* ---- Bad settings ---------------------------------------------------------- */

static int never_main(void *arg)
{
    (void)arg;
    return 0;
}

Test(determ, bad_seed_is_refused_with_einval)
{
    const char *bad[] = {"deterministic=x", "deterministic=-1",
                         "deterministic="};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        debug_set(bad[i]);
        int rc = gort_run(never_main, NULL);
        debug_set(NULL);
        cr_assert(eq(int, rc, -EINVAL), "%s: %d", bad[i], rc);
    }
}

/* ---- gort_maxprocs in the mode --------------------------------------------- */

static int procs_seen[3];

static void forever_yielder(void *arg)
{
    (void)arg;
    for (;;)
        gort_yield();
}

static int procs_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++)
        gort_go(forever_yielder, NULL);
    gort_yield();
    procs_seen[0] = gort_maxprocs(0);  /* the virtual count */
    procs_seen[1] = gort_maxprocs(2);  /* shrink: queued ones move */
    gort_yield();
    procs_seen[2] = gort_maxprocs(0);
    return 0; /* the yielders are still runnable: main's return ends all */
}

Test(determ, maxprocs_sets_the_virtual_count_and_main_ends_the_run)
{
    run_seed(9, 4, procs_main, NULL);
    cr_assert(eq(int, procs_seen[0], 4));
    cr_assert(eq(int, procs_seen[1], 4));
    cr_assert(eq(int, procs_seen[2], 2));
}

static int wire_main(void *arg)
{
    (void)arg;
    gort_lock_os_thread();
    return 0;
}

Test(determ, lock_os_thread_panics_in_the_mode)
{
    debug_set("deterministic=1");
    expect_death(wire_main, "gort_lock_os_thread: not supported in the "
                            "deterministic mode");
    debug_set(NULL);
}

static gort_chan *foreign_ch;

/* foreign_sender, a thread outside the run, sends once the run waits on
 * the poller (500 ms: the run gets there in microseconds), which readies
 * the receiving goroutine from outside. */
static void *foreign_sender(void *arg)
{
    (void)arg;
    usleep(500000);
    int v = 1;
    gort_chan_send(foreign_ch, &v);
    return NULL;
}

static void foreign_receiver(void *arg)
{
    (void)arg;
    int v;
    gort_chan_recv(foreign_ch, &v);
}

static int foreign_main(void *arg)
{
    (void)arg;
    foreign_ch = gort_chan_make(sizeof(int), 1);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(gort_fd_register(p[0]), 0);
    gort_go(foreign_receiver, NULL);
    pthread_t t;
    pthread_create(&t, NULL, foreign_sender, NULL);
    char c;
    gort_read(p[0], &c, 1); /* nobody writes: the run waits in epoll */
    return 0;
}

Test(determ, foreign_thread_ready_is_a_fatal_error)
{
    debug_set("deterministic=1");
    char buf[4096];
    int st = harness_run_child(foreign_main, NULL, buf, sizeof buf);
    debug_set(NULL);
    cr_assert(eq(int, st, 2), "%s", buf);
    cr_assert(strstr(buf, "readied by a thread outside the run") != NULL,
              "%s", buf);
}
