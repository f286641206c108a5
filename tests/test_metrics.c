/*
 * test_metrics.c: gort_stats' versioning (size), the scheduling-latency
 * histogram, per-P counters (gort_proc_stats) and the Prometheus text
 * export (gort_metrics_format / gort_metrics_write), read back with the
 * official Prometheus parser (tests/prom_parse.py, Debian's
 * python3-prometheus-client), also as the http example serves it.
 *
 * Latency tests assert counts and lower bounds only: a wait can take
 * longer on a busy machine, never shorter than the spin that forced it.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gort.h>

#include "helpers/child.h"
#include "helpers/harness.h"

static uint64_t lat_count(const uint64_t *b)
{
    uint64_t n = 0;
    for (int i = 0; i < GORT_LATENCY_BUCKETS; i++)
        n += b[i];
    return n;
}

/* stats_still: the figures the tests compare did not move from a to b. */
static bool stats_still(const gort_stats_t *a, const gort_stats_t *b)
{
    return a->parks == b->parks && a->spawned == b->spawned &&
           a->exited == b->exited &&
           a->sched_latency_sum_ns == b->sched_latency_sum_ns &&
           memcmp(a->sched_latency, b->sched_latency,
                  sizeof a->sched_latency) == 0;
}

/* ---- versioning ------------------------------------------------------------ */

static int size_main(void *arg)
{
    (void)arg;
    gort_stats_t st;
    memset(&st, 0xAA, sizeof st);
    CHECK_EQ(gort_stats(&st), 0);
    CHECK_EQ(st.size, sizeof st);
    CHECK(GORT_STATS_HAS(&st, sched_latency_sum_ns));
    CHECK(GORT_STATS_HAS(&st, exited));
    CHECK_EQ(st.goroutines, 1);
    CHECK_EQ(st.sched_latency_period, 64);
    return 0;
}

Test(stats, size_says_the_whole_struct_was_filled)
{
    unsetenv("GORT_DEBUG");
    run(1, size_main, NULL);
}

/* A caller compiled against an older, shorter struct: only its bytes are
 * written, and size says how many. */
static int older_main(void *arg)
{
    (void)arg;
    unsigned char buf[sizeof(gort_stats_t) + 64];
    size_t old = offsetof(gort_stats_t, size) + sizeof(uint32_t);
    memset(buf, 0xAA, sizeof buf);
    CHECK_EQ(gort_stats_sized((gort_stats_t *)buf, old), 0);
    gort_stats_t *st = (gort_stats_t *)buf;
    CHECK_EQ(st->size, old);
    CHECK_EQ(st->goroutines, 1);
    CHECK(!GORT_STATS_HAS(st, sched_latency));
    for (size_t i = old; i < sizeof buf; i++)
        CHECK_EQ(buf[i], 0xAA);
    /* A newer, longer struct: what the library does not know is zeroed. */
    memset(buf, 0xAA, sizeof buf);
    CHECK_EQ(gort_stats_sized(st, sizeof buf), 0);
    CHECK_EQ(st->size, sizeof(gort_stats_t));
    for (size_t i = sizeof(gort_stats_t); i < sizeof buf; i++)
        CHECK_EQ(buf[i], 0);
    return 0;
}

Test(stats, an_older_struct_gets_only_its_own_fields)
{
    run(1, older_main, NULL);
}

/* The exported function programs built before `size` call. */
static int legacy_main(void *arg)
{
    (void)arg;
    gort_stats_t st;
    memset(&st, 0xAA, sizeof st);
    CHECK_EQ((gort_stats)(&st), 0);
    CHECK_EQ(st.goroutines, 1);
    CHECK_EQ(st.procs, 2);
    const unsigned char *b = (const unsigned char *)&st;
    for (size_t i = offsetof(gort_stats_t, size); i < sizeof st; i++)
        CHECK_EQ(b[i], 0xAA);
    return 0;
}

Test(stats, the_legacy_entry_fills_the_original_fields_only)
{
    run(2, legacy_main, NULL);
}

Test(stats, bad_arguments_are_einval)
{
    gort_stats_t st;
    cr_assert(eq(int, gort_stats_sized(NULL, sizeof st), -EINVAL));
    cr_assert(eq(int, gort_stats_sized(&st, 8), -EINVAL));
    cr_assert(eq(int, (gort_stats)(NULL), -EINVAL));
    gort_proc_stats_t ps;
    cr_assert(eq(int, gort_proc_stats(0, &ps), -ESRCH)); /* no gort_run */
    cr_assert(eq(int, gort_proc_stats_sized(0, NULL, sizeof ps), -EINVAL));
    cr_assert(eq(int, gort_metrics_format(NULL, 1), -EINVAL));
    cr_assert(eq(int, gort_metrics_write(-1), -EBADF));
}

/* ---- latency ------------------------------------------------------------- */

enum { YIELDS = 6400 };

/* With the default period, one wait in 64 of each goroutine is timed:
 * main alone yielding YIELDS times adds YIELDS / 64 samples (a few more if
 * sysmon preempts it, which is another transition to runnable). */
static int sampled_main(void *arg)
{
    (void)arg;
    gort_stats_t a, b;
    gort_stats(&a);
    for (int i = 0; i < YIELDS; i++)
        gort_yield();
    gort_stats(&b);
    uint64_t n = lat_count(b.sched_latency) - lat_count(a.sched_latency);
    CHECK_EQ(b.sched_latency_period, 64);
    CHECK(n >= YIELDS / 64);
    CHECK(n <= YIELDS / 64 + 4);
    CHECK(b.sched_latency_sum_ns > a.sched_latency_sum_ns);
    return 0;
}

Test(stats, latency_samples_one_wait_in_sixty_four)
{
    unsetenv("GORT_DEBUG");
    run(1, sampled_main, NULL);
}

static int every_main(void *arg)
{
    (void)arg;
    gort_stats_t a, b;
    gort_stats(&a);
    for (int i = 0; i < 1000; i++)
        gort_yield();
    gort_stats(&b);
    CHECK_EQ(b.sched_latency_period, 1);
    CHECK(lat_count(b.sched_latency) - lat_count(a.sched_latency) >= 1000);
    return 0;
}

Test(stats, schedlat_1_times_every_wait)
{
    setenv("GORT_DEBUG", "schedlat=1", 1);
    run(1, every_main, NULL);
    unsetenv("GORT_DEBUG");
}

/* A goroutine made runnable while its only P spins for 5 ms waits at
 * least that long: its sample lands in a bucket bounded by >= 5 ms.
 * The bound holds only if the spinner kept the P the whole time; on a
 * loaded machine sysmon may preempt it (the slice is wall time), and
 * the waiter then runs early.  An attempt counts only when the waiter
 * had still not started once the spin ended. */
static _Atomic int64_t waited_ready;

static void note_start(void *arg)
{
    (void)arg;
    atomic_store(&waited_ready, 1);
}

static int one_known_wait(void)
{
    gort_stats_t a, b;
    gort_yield(); /* a fresh slice for the spin */
    atomic_store(&waited_ready, 0);
    gort_stats(&a);
    CHECK_EQ(gort_go(note_start, NULL), 0);
    int64_t t0 = now_ns();
    while (now_ns() - t0 < 5000000)
        ; /* under the 10 ms slice: nothing else runs on this P */
    int kept_p = !atomic_load(&waited_ready);
    while (!atomic_load(&waited_ready))
        gort_yield();
    gort_stats(&b);
    if (!kept_p)
        return 0;
    uint64_t slow = 0;
    for (int i = 0; i < GORT_LATENCY_BUCKETS; i++)
        if (i == GORT_LATENCY_BUCKETS - 1 ||
            GORT_LATENCY_BUCKET_NS(i) >= 5000000)
            slow += b.sched_latency[i] - a.sched_latency[i];
    CHECK(slow >= 1);
    CHECK(b.sched_latency_sum_ns - a.sched_latency_sum_ns >= 5000000);
    return 1;
}

static int known_wait_main(void *arg)
{
    (void)arg;
    int measured = 0;
    for (int i = 0; i < 20 && !measured; i++)
        measured = one_known_wait();
    CHECK(measured);
    settle();
    return 0;
}

Test(stats, a_long_wait_lands_in_a_slow_bucket)
{
    setenv("GORT_DEBUG", "schedlat=1", 1);
    run(1, known_wait_main, NULL);
    unsetenv("GORT_DEBUG");
}

/* ---- per-P counters ------------------------------------------------------- */

static gort_wg procs_wg;

static void parker(void *arg)
{
    gort_chan *c = arg;
    int v;
    gort_chan_recv(c, &v);
    gort_wg_done(&procs_wg);
}

static int procs_main(void *arg)
{
    (void)arg;
    enum { N = 200 };
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_wg_add(&procs_wg, N);
    for (int i = 0; i < N; i++)
        CHECK_EQ(gort_go(parker, c), 0);
    for (int i = 0; i < N; i++)
        gort_chan_send(c, &i);
    gort_wg_wait(&procs_wg);
    settle();
    /* Per-P figures read between two equal snapshots of the totals (a
     * sysmon preemption of main could add a sample in between). */
    gort_stats_t st, st2;
    uint64_t parks, spawned, exited, lat, latsum;
    for (int tries = 0;; tries++) {
        gort_stats(&st);
        parks = spawned = exited = lat = latsum = 0;
        for (int32_t i = 0; i < st.procs; i++) {
            gort_proc_stats_t ps;
            CHECK_EQ(gort_proc_stats(i, &ps), 0);
            parks += ps.parks;
            spawned += ps.spawned;
            exited += ps.exited;
            lat += lat_count(ps.sched_latency);
            latsum += ps.sched_latency_sum_ns;
        }
        gort_stats(&st2);
        if (stats_still(&st, &st2) || tries == 20)
            break;
    }
    for (int32_t i = 0; i < st.procs; i++) {
        gort_proc_stats_t ps;
        memset(&ps, 0xAA, sizeof ps);
        CHECK_EQ(gort_proc_stats(i, &ps), 0);
        CHECK_EQ(ps.size, sizeof ps);
        CHECK_EQ(ps.id, i);
        CHECK(GORT_STATS_HAS(&ps, sched_latency_sum_ns));
    }
    gort_proc_stats_t ps;
    CHECK_EQ(gort_proc_stats(st.procs, &ps), -EINVAL);
    CHECK_EQ(gort_proc_stats(-1, &ps), -EINVAL);
    CHECK_EQ(parks, st.parks);
    CHECK_EQ(spawned, st.spawned);
    CHECK_EQ(exited, st.exited);
    CHECK_EQ(lat, lat_count(st.sched_latency));
    CHECK_EQ(latsum, st.sched_latency_sum_ns);
    CHECK(st.spawned >= N + 1);
    CHECK(st.exited >= N);
    CHECK(st.parks >= N / 2); /* most receivers block before the send */
    gort_chan_free(c);
    return 0;
}

Test(stats, per_p_counters_add_up_to_the_totals)
{
    run(2, procs_main, NULL);
}

/* ---- Prometheus export ------------------------------------------------------ */

static char prom[256 * 1024];
static int prom_len;
static gort_stats_t prom_st;
static int prom_nparked;
static gort_chan *prom_block;

static void blocked(void *arg)
{
    (void)arg;
    int v;
    gort_chan_recv(prom_block, &v);
}

/* Main leaves prom_nparked goroutines parked, so gort_goroutines is known,
 * and formats while nothing else runs, so the figures hold still (nothing
 * else parks here: only those goroutines count in parks). */
static int prom_main(void *arg)
{
    (void)arg;
    prom_nparked = 5;
    prom_block = gort_chan_make(sizeof(int), 0);
    for (int i = 0; i < prom_nparked; i++)
        CHECK_EQ(gort_go(blocked, NULL), 0);
    for (int i = 0; i < 3000; i++)
        gort_yield();
    /* Alive is not parked: wait until all of them are in the channel. */
    gort_stats_t st;
    do {
        gort_yield();
        gort_stats(&st);
    } while (st.parks < (uint64_t)prom_nparked);
    int need = gort_metrics_format(NULL, 0);
    CHECK(need > 0);
    /* A sysmon preemption of main in between would add a transition (and
     * maybe a sample): format again until the figures held still. */
    for (int tries = 0; tries < 20; tries++) {
        gort_stats(&prom_st);
        prom_len = gort_metrics_format(prom, sizeof prom);
        gort_stats(&st);
        if (stats_still(&prom_st, &st))
            break;
    }
    CHECK(stats_still(&prom_st, &st));
    CHECK(prom_len > 0);
    CHECK(prom_len < (int)sizeof prom);
    CHECK(prom_len >= need - 64 && prom_len <= need + 64);
    CHECK_EQ(strlen(prom), prom_len);
    /* Cut short like snprintf: NUL-terminated, full length returned. */
    char small[16];
    CHECK(gort_metrics_format(small, sizeof small) > (int)sizeof small);
    CHECK_EQ(strlen(small), sizeof small - 1);
    CHECK(memcmp(small, prom, sizeof small - 1) == 0);
    gort_chan_close(prom_block);
    settle();
    gort_chan_free(prom_block);
    return 0;
}

/* parsed: the parser's output, "sample NAME{LABELS} VALUE" lines. */
static char parsed[512 * 1024];

/* value returns the sample `key` ("name{labels}") or -1 if absent. */
static double value(const char *key)
{
    char pat[256];
    snprintf(pat, sizeof pat, "\nsample %s ", key);
    const char *p = strstr(parsed, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

static bool has_family(const char *name, const char *type)
{
    char pat[256];
    snprintf(pat, sizeof pat, "family %s %s\n", name, type);
    return strstr(parsed, pat) != NULL;
}

static void parse_prom(void)
{
    char in[] = "/tmp/gort-metrics-XXXXXX";
    int fd = mkstemp(in);
    cr_assert(ge(int, fd, 0));
    cr_assert(eq(long, (long)write(fd, prom, (size_t)prom_len),
                 (long)prom_len));
    close(fd);
    char cmd[512];
    /* The test runs from the repository root (make test). */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/prom_parse.py < %s",
             in);
    FILE *f = popen(cmd, "r");
    cr_assert(ne(ptr, f, NULL));
    parsed[0] = '\n';
    size_t n = fread(parsed + 1, 1, sizeof parsed - 2, f);
    parsed[n + 1] = '\0';
    int rc = pclose(f);
    unlink(in);
    cr_assert(eq(int, rc, 0), "tests/prom_parse.py failed (is Debian's "
              "python3-prometheus-client installed? tools/deps.sh test)");
}

Test(metrics, the_prometheus_parser_reads_our_values, .timeout = 60)
{
    run(2, prom_main, NULL);
    parse_prom();
    cr_assert(has_family("gort_goroutines", "gauge"));
    cr_assert(has_family("gort_goroutines_created", "counter"));
    cr_assert(has_family("gort_sched_latency_seconds", "histogram"));
    cr_assert(has_family("gort_proc_parks", "counter"));
    cr_assert(eq(dbl, value("gort_goroutines{}"), prom_nparked + 1));
    cr_assert(eq(dbl, value("gort_sched_procs{}"), 2));
    cr_assert(ge(dbl, value("gort_goroutines_created_total{}"),
                 prom_nparked + 1));
    cr_assert(eq(dbl, value("gort_goroutines_created_total{}"),
                 (double)prom_st.spawned));
    cr_assert(eq(dbl, value("gort_sched_latency_sample_period{}"), 64));
    /* The histogram: cumulative buckets, +Inf equal to _count and to the
     * samples gort_stats reports, and _sum in seconds. */
    uint64_t total = lat_count(prom_st.sched_latency);
    cr_assert(ge(u64, total, 3000 / 64));
    cr_assert(eq(dbl, value("gort_sched_latency_seconds_count{}"),
                 (double)total));
    cr_assert(eq(dbl, value("gort_sched_latency_seconds_bucket{le=+Inf}"),
                 (double)total));
    double sum = value("gort_sched_latency_seconds_sum{}");
    cr_assert(gt(dbl, sum, 0));
    cr_assert(lt(dbl, sum - (double)prom_st.sched_latency_sum_ns / 1e9, 1e-6));
    cr_assert(gt(dbl, sum - (double)prom_st.sched_latency_sum_ns / 1e9, -1e-6));
    double prev = 0;
    uint64_t cum = 0;
    for (int i = 0; i < GORT_LATENCY_BUCKETS - 1; i++) {
        char key[128], le[32];
        snprintf(le, sizeof le, "%.12g",
                 (double)GORT_LATENCY_BUCKET_NS(i) / 1e9);
        snprintf(key, sizeof key,
                 "gort_sched_latency_seconds_bucket{le=%s}", le);
        double v = value(key);
        cum += prom_st.sched_latency[i];
        cr_assert(eq(dbl, v, (double)cum), "bucket %s", le);
        cr_assert(ge(dbl, v, prev));
        prev = v;
    }
    /* Per-P series: one per P, labelled, adding up to the total. */
    double parks = value("gort_proc_parks_total{proc=0}") +
                   value("gort_proc_parks_total{proc=1}");
    cr_assert(eq(dbl, parks, (double)prom_st.parks));
    cr_assert(eq(dbl, value("gort_proc_parks_total{proc=2}"), -1));
    cr_assert(eq(dbl, value("gort_sched_parks_total{}"),
                 (double)prom_st.parks));
    cr_assert(ge(dbl, value("gort_proc_sched_latency_seconds_count{proc=0}"),
                 0));
}

/* gort_metrics_write from a goroutine sends the whole text down a pipe. */
static int write_fds[2];
static int write_rc;

static int write_main(void *arg)
{
    (void)arg;
    write_rc = gort_metrics_write(write_fds[1]);
    return 0;
}

Test(metrics, write_sends_the_whole_text_to_a_descriptor, .timeout = 60)
{
    cr_assert(eq(int, pipe(write_fds), 0));
    /* The text is a few KiB: it fits a pipe's 64 KiB buffer. */
    run(1, write_main, NULL);
    close(write_fds[1]);
    cr_assert(gt(int, write_rc, 0));
    prom_len = 0;
    ssize_t n;
    while ((n = read(write_fds[0], prom + prom_len,
                     sizeof prom - 1 - (size_t)prom_len)) > 0)
        prom_len += (int)n;
    close(write_fds[0]);
    prom[prom_len] = '\0';
    cr_assert(eq(int, prom_len, write_rc));
    cr_assert(eq(int, strncmp(prom, "# HELP gort_goroutines ", 23), 0));
    cr_assert(eq(chr, prom[prom_len - 1], '\n'));
    parse_prom();
    cr_assert(eq(dbl, value("gort_goroutines{}"), 1));
    cr_assert(eq(dbl, value("gort_sched_procs{}"), 1));
}

/* ---- the http example's /metrics ------------------------------------------ */

/* fetch_metrics asks the example on connection fd for /metrics, checks
 * the response's framing and parses its body into prom; closes fd. */
static void fetch_metrics(int fd)
{
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n"
                       "Connection: close\r\n\r\n";
    bool sent = write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1);
    static char resp[sizeof prom];
    size_t have = 0;
    ssize_t n;
    while (sent && (n = read(fd, resp + have, sizeof resp - 1 - have)) > 0)
        have += (size_t)n;
    resp[have] = '\0';
    close(fd);
    cr_assert(sent);
    cr_assert(eq(int, strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), 0));
    char *body = strstr(resp, "\r\n\r\n");
    cr_assert(ne(ptr, body, NULL));
    *body = '\0';
    body += 4;
    char *cl = strcasestr(resp, "\r\nContent-Length: ");
    cr_assert(ne(ptr, cl, NULL));
    cr_assert(eq(long, strtol(cl + 18, NULL, 10), (long)strlen(body)));
    cr_assert(ne(ptr, strstr(resp, "Content-Type: text/plain; version=0.0.4"),
                 NULL));
    prom_len = (int)strlen(body);
    memcpy(prom, body, (size_t)prom_len + 1);
    parse_prom();
}

Test(metrics, the_http_example_serves_them_with_a_content_length,
     .timeout = 60)
{
    struct child_server http;
    child_server_start(&http, "http", NULL, NULL, false);
    int fd = connect_port(http.port);
    cr_assert(ge(int, fd, 0));
    fetch_metrics(fd);
    /* The accept loop parks on the poller once it finds no connection
     * waiting; under load it may have accepted ours before ever finding
     * none, so ask again (a new connection) until it has parked. */
    for (int i = 0; i < 100 && value("gort_netpoll_waits_total{}") < 1; i++) {
        usleep(100000);
        fd = connect_port(http.port);
        cr_assert(ge(int, fd, 0));
        fetch_metrics(fd);
    }
    cr_assert(eq(int, child_server_stop(&http), 0)); /* exit 0 on SIGTERM */
    /* main, the accept loop and the goroutine serving us, at least. */
    cr_assert(ge(dbl, value("gort_goroutines{}"), 3));
    cr_assert(ge(dbl, value("gort_sched_procs{}"), 1));
    cr_assert(ge(dbl, value("gort_netpoll_waits_total{}"), 1));
}
