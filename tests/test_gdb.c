/*
 * test_gdb.c: the gdb commands shipped with the library (tools/gdb/
 * gort-gdb.py, auto-loaded from the .debug_gdb_scripts section).
 *
 * The test runs gdb in batch mode on this very binary with
 * GORT_GDB_SCENARIO=1 set: a constructor then runs the scenario instead
 * of the test runner (goroutines parked on a channel, a mutex and the
 * poller, and a breakpoint in gdb_stop_here, hit until they all parked),
 * and the test checks what
 * `info goroutines` and `goroutine all bt` print. The script is loaded by
 * gdb's auto-load (safe-path opened to /), not with -x, so the section is
 * tested too. Skipped where gdb is missing (tools/deps.sh installs it).
 * Locking: none.
 * See also: docs/debugging.md.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gort.h>

#include "helpers/harness.h"

static gort_chan *gdb_ch;
static gort_mutex gdb_mu = GORT_MUTEX_INIT;
static int gdb_sv[2];
static volatile int gdb_sink;

__attribute__((noinline)) void gdb_chan_waiter(void *arg)
{
    (void)arg;
    int v = 0;
    bool ok = gort_chan_recv(gdb_ch, &v);
    gdb_sink = ok + v;
}

__attribute__((noinline)) void gdb_mutex_waiter(void *arg)
{
    (void)arg;
    gort_mutex_lock(&gdb_mu);
    gdb_sink = 1;
    gort_mutex_unlock(&gdb_mu);
}

__attribute__((noinline)) void gdb_poll_waiter(void *arg)
{
    (void)arg;
    char c;
    ssize_t n = gort_read(gdb_sv[0], &c, 1);
    gdb_sink = (int)n;
}

__attribute__((noinline)) void gdb_stop_here(void)
{
    __asm__ volatile("" ::: "memory");
}

/* The scenario stops at gdb_stop_here every 10 ms, for good: gdb
 * continues until all three waiters show as parked (how long they take
 * depends on the machine and the sanitizer), then kills it. */
static int gdb_scenario(void *arg)
{
    (void)arg;
    gdb_ch = gort_chan_make(sizeof(int), 0);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, gdb_sv) ||
        gort_fd_register(gdb_sv[0]))
        return 1;
    gort_mutex_lock(&gdb_mu);
    gort_go(gdb_chan_waiter, NULL);
    gort_go(gdb_mutex_waiter, NULL);
    gort_go(gdb_poll_waiter, NULL);
    for (;;) {
        gort_sleep(GORT_MS(10));
        gdb_stop_here();
    }
}

__attribute__((constructor)) static void maybe_scenario(void)
{
    if (!getenv("GORT_GDB_SCENARIO"))
        return;
    gort_maxprocs(1);
    _exit(gort_run(gdb_scenario, NULL));
}

static char out[1 << 16];

static void want(const char *s)
{
    cr_assert(ne(ptr, strstr(out, s), NULL), "want \"%s\" in:\n%s", s, out);
}

Test(gdb, lists_goroutines_and_prints_their_stacks, .timeout = 240)
{
    if (system("command -v gdb >/dev/null 2>&1") != 0) {
        /* criterion-lite (the TSan build) has no cr_skip. */
        cr_log_warn("gdb is not installed (tools/deps.sh test installs "
                    "it): skipped");
        return;
    }
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    cr_assert(gt(sz, (size_t)(n > 0 ? n : 0), 0));
    exe[n] = '\0';
    /* gdb commands: continue (up to 3000 stops) until the three
     * waiters are parked, then list and print them. */
    char script[] = "/tmp/gort-test-gdb-XXXXXX";
    int fd = mkstemp(script);
    cr_assert(ge(int, fd, 0));
    FILE *f = fdopen(fd, "w");
    cr_assert(ne(ptr, f, NULL));
    fputs("set startup-with-shell off\n"
          "set environment GORT_GDB_SCENARIO 1\n"
          "set environment ASAN_OPTIONS detect_leaks=0\n"
          "break gdb_stop_here\n"
          "run\n"
          "python\n"
          "for _ in range(3000):\n"
          "    if gdb.execute('info goroutines', to_string=True)"
          ".count(' waiting [') >= 3:\n"
          "        break\n"
          "    gdb.execute('continue', to_string=True)\n"
          "end\n"
          "echo ==info\\n\n"
          "info goroutines\n"
          "echo ==bt\\n\n"
          "goroutine all bt\n"
          "echo ==end\\n\n"
          "kill\n",
          f);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "gdb -batch -nx -iex 'set auto-load safe-path /' -x %s '%s' "
             "2>&1",
             script, exe);
    FILE *p = popen(cmd, "r");
    cr_assert(ne(ptr, p, NULL));
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    pclose(p);
    unlink(script);
    want("==info\n");
    want("* 1 running gdb_stop_here at ");
    want(" waiting [chan receive] gdb_chan_waiter at ");
    want(" waiting [sync.Mutex.Lock] gdb_mutex_waiter at ");
    want(" waiting [IO wait] gdb_poll_waiter at ");
    want("test_gdb.c:");
    want("==bt\n");
    want("goroutine 1 [running]:\n#0  gdb_stop_here ()");
    want("[chan receive]:\n");
    want(" gort_chan_recv (");
    want(" in gdb_chan_waiter (");
    want(" gdb_mutex_waiter (");
    want(" gort_read (");
    want(" in gdb_poll_waiter (");
    want("==end\n");
}
