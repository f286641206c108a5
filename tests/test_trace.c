/*
 * test_trace.c: the event trace (runtime/trace.c, runtime/tracejson.c):
 * its JSON parses, a known program's events come out in causal order,
 * drops are counted and written, GORT_TRACE traces a whole run, and the
 * API's errors.
 *
 * The JSON is checked by python3's json module (Debian's python3, run
 * through system()): a parser nobody here wrote. The checks of order
 * read timestamps only as "before or at", never as durations.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gort.h>

#include "runtime.h" /* white-box: struct g's status, to see a park */

#include "helpers/harness.h"

/* tmp_trace makes an empty temporary file for a trace; returns its fd and
 * leaves its name in path. */
static int tmp_trace(char *path, size_t len)
{
    snprintf(path, len, "/tmp/gort-trace-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(ge(int, fd, 0));
    return fd;
}

/* Prints what a failed check saw; exits 1 on any failure. argv: path,
 * then what to check ("parse", "drops=0", "drops>0", "order GOID"). */
static const char checker[] =
    "import json,sys\n"
    "path, what = sys.argv[1], sys.argv[2]\n"
    "d = json.load(open(path))\n"
    "ev = d['traceEvents']\n"
    "drops = d['otherData']['drops']\n"
    "assert any(e.get('name') == 'trace drops' and e['ph'] == 'C' and\n"
    "           e['args']['drops'] == drops for e in ev), 'no drop counter'\n"
    "assert d['otherData']['events'] > 0, 'no events'\n"
    "for e in ev:\n"
    "    assert 'ph' in e and 'pid' in e, e\n"
    "    if e['ph'] == 'X': assert e['dur'] >= 0, e\n"
    "if what == 'drops=0': assert drops == 0, drops\n"
    "if what == 'drops>0': assert drops > 0, drops\n"
    "if what.startswith('flows '):\n"
    "    s = {e['id'] for e in ev if e['ph'] == 's'}\n"
    "    f = [e for e in ev if e['ph'] == 'f']\n"
    "    assert len(f) >= 2 * int(what.split()[1]), len(f)\n"
    "    assert all(e['id'] in s for e in f), 'a start without its ready'\n"
    "if what == 'kinds':\n"
    "    def has(f): return any(f(e) for e in ev)\n"
    "    assert has(lambda e: e.get('name') == 'gomaxprocs' and e['ph'] == 'i'\n"
    "               and e['args'] == {'new': 2, 'old': 1}), 'no gomaxprocs'\n"
    "    assert has(lambda e: e.get('name') == 'timer'), 'no timer'\n"
    "    assert has(lambda e: e['ph'] == 'X' and e.get('args', {})\n"
    "               .get('reason') == 'sleep'), 'no sleep park'\n"
    "    assert has(lambda e: e['ph'] == 'X' and e['pid'] == 2 and\n"
    "               e['name'] == 'syscall'), 'no syscall slice'\n"
    "if what.startswith('order '):\n"
    "    g = int(what.split()[1])\n"
    "    sl = sorted((e for e in ev if e['ph'] == 'X' and e['pid'] == 1\n"
    "                 and e.get('args', {}).get('g') == g),\n"
    "                key=lambda e: e['ts'])\n"
    "    assert len(sl) >= 2, sl\n"
    "    src = {e['id']: e for e in ev if e['ph'] == 's'\n"
    "           and e['args'].get('g') == g}\n"
    "    dst = {e['id']: e for e in ev if e['ph'] == 'f'\n"
    "           and e['args'].get('g') == g}\n"
    "    # slices before the park can only be cut by preemption (slow\n"
    "    # sanitizer builds): nothing readies the waiter before it parks\n"
    "    first = sl[0]\n"
    "    parks = [e for e in sl if e['args']['end'] == 'park']\n"
    "    assert parks, sl\n"
    "    park = parks[0]\n"
    "    assert all(e['args']['end'] in ('preempt', 'yield')\n"
    "               for e in sl if e['ts'] < park['ts']), sl\n"
    "    assert park['args']['reason'] == 'chan receive', park\n"
    "    assert sl[-1]['args']['end'] == 'end', sl[-1]\n"
    "    # create before the first start, joined by a flow\n"
    "    made = [src[i] for i in dst if dst[i]['ts'] == first['ts']]\n"
    "    assert made and made[0]['ts'] <= first['ts'], (made, first)\n"
    "    # park before ready, ready before the next start\n"
    "    end = park['ts'] + park['dur']\n"
    "    woke = sorted((e for e in src.values() if e['ts'] >= end),\n"
    "                  key=lambda e: e['ts'])\n"
    "    assert woke, 'no ready after the park'\n"
    "    r = woke[0]\n"
    "    assert r['id'] in dst, 'the ready has no start'\n"
    "    nxt = dst[r['id']]\n"
    "    assert nxt['ts'] >= r['ts'], (r, nxt)\n"
    "    assert any(e['ts'] == nxt['ts'] for e in sl if e['ts'] > end), nxt\n"
    "    assert not [e for e in src.values() if e['ts'] < end and\n"
    "                e['id'] != made[0]['id']], 'a ready before the park'\n";

/* check runs the checker on path; true if every check held. */
static bool check(const char *path, const char *what)
{
    char script[] = "/tmp/gort-trace-check-XXXXXX";
    int fd = mkstemp(script);
    cr_assert(ge(int, fd, 0));
    cr_assert(eq(sz, (size_t)write(fd, checker, sizeof checker - 1),
                 sizeof checker - 1));
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 %s %s '%s' >&2", script, path, what);
    int rc = system(cmd);
    unlink(script);
    return rc == 0;
}

/* ---- A known program ------------------------------------------------------ */

static gort_chan *kch;
static struct g *_Atomic waiter_g;
static _Atomic uint64_t waiter_id;
static int trace_fd;

static void waiter(void *arg)
{
    (void)arg;
    waiter_g = gort__getg();
    atomic_store(&waiter_id, gort_id());
    int v;
    CHECK(gort_chan_recv(kch, &v));
    CHECK_EQ(v, 42);
}

static int known_main(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_trace_start(trace_fd), 0);
    kch = gort_chan_make(sizeof(int), 0);
    CHECK_EQ(gort_go(waiter, NULL), 0);
    /* Send only once the waiter is parked on the channel, so the park
     * and the ready that the checker expects both happen. */
    struct g *gp;
    while (!(gp = atomic_load(&waiter_g)) ||
           atomic_load(&gp->status) != G_WAITING)
        gort_yield();
    int v = 42;
    gort_chan_send(kch, &v);
    settle();
    CHECK_EQ(gort_trace_stop(), 0);
    gort_chan_free(kch);
    return 0;
}

Test(trace, known_program_events_are_in_causal_order)
{
    char path[64];
    trace_fd = tmp_trace(path, sizeof path);
    run(2, known_main, NULL);
    close(trace_fd);
    char what[64];
    snprintf(what, sizeof what, "order %llu",
             (unsigned long long)atomic_load(&waiter_id));
    bool ok = check(path, what);
    unlink(path);
    cr_assert(ok, "the trace of the known program is out of order");
}

/* ---- Ping-pong at 2 Ps: no drops, every start has its ready ------------- */

static gort_chan *ping, *pong;
static int64_t rounds;

static void ponger(void *arg)
{
    (void)arg;
    int v;
    for (int64_t i = 0; i < rounds; i++) {
        gort_chan_recv(ping, &v);
        gort_chan_send(pong, &v);
    }
}

static int pingpong_main(void *arg)
{
    (void)arg;
    ping = gort_chan_make(sizeof(int), 0);
    pong = gort_chan_make(sizeof(int), 0);
    CHECK_EQ(gort_trace_start(trace_fd), 0);
    CHECK_EQ(gort_go(ponger, NULL), 0);
    for (int i = 0; i < rounds; i++) {
        int v;
        gort_chan_send(ping, &i);
        gort_chan_recv(pong, &v);
        CHECK_EQ(v, i);
    }
    settle();
    CHECK_EQ(gort_trace_stop(), 0);
    gort_chan_free(ping);
    gort_chan_free(pong);
    return 0;
}

Test(trace, pingpong_at_two_ps_drops_nothing_and_flows_match)
{
    char path[64];
    trace_fd = tmp_trace(path, sizeof path);
    rounds = SCALE(20000, 2000);
    run(2, pingpong_main, NULL);
    close(trace_fd);
    char what[64];
    snprintf(what, sizeof what, "flows %lld", (long long)rounds);
    bool ok = check(path, "drops=0") && check(path, what);
    unlink(path);
    cr_assert(ok);
}

/* ---- Drops ----------------------------------------------------------------- */

static void yielder(void *arg)
{
    for (intptr_t i = 0; i < (intptr_t)arg; i++)
        gort_yield();
}

static int drops_main(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_trace_start(trace_fd), 0);
    /* Two yielders, ~40 bytes of events a yield: 4 MiB through a budget
     * of one 64 KiB chunk. Whenever it fills, the writer has it for the
     * time of a 64 KiB write, and the events of that time are lost. */
    CHECK_EQ(gort_go(yielder, (void *)(intptr_t)50000), 0);
    CHECK_EQ(gort_go(yielder, (void *)(intptr_t)50000), 0);
    settle();
    CHECK_EQ(gort_trace_stop(), 0);
    return 0;
}

Test(trace, events_past_the_buffer_cap_are_dropped_and_counted)
{
    char path[64];
    trace_fd = tmp_trace(path, sizeof path);
    setenv("GORT_TRACEBUF", "64k", 1);
    run(1, drops_main, NULL);
    close(trace_fd);
    bool ok = check(path, "drops>0");
    unlink(path);
    cr_assert(ok);
}

/* ---- Other kinds of event ------------------------------------------------- */

static int kinds_main(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_trace_start(trace_fd), 0);
    CHECK_EQ(gort_maxprocs(2), 1);
    gort_sleep(GORT_MS(1));
    gort_syscall_enter();
    CHECK(getpid() > 0);
    gort_syscall_exit();
    CHECK_EQ(gort_trace_stop(), 0);
    return 0;
}

Test(trace, maxprocs_timers_sleeps_and_syscalls_are_recorded)
{
    char path[64];
    trace_fd = tmp_trace(path, sizeof path);
    run(1, kinds_main, NULL);
    close(trace_fd);
    bool ok = check(path, "kinds");
    unlink(path);
    cr_assert(ok);
}

/* ---- GORT_TRACE and the API's errors ------------------------------------ */

static void sleeper(void *arg)
{
    (void)arg;
    gort_sleep(GORT_MS(1));
}

static int env_main(void *arg)
{
    (void)arg;
    /* GORT_TRACE started a trace already. */
    CHECK_EQ(gort_trace_start(1), -EBUSY);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(gort_go(sleeper, NULL), 0);
    settle();
    return 0;
}

Test(trace, gort_trace_env_traces_the_whole_run)
{
    char path[64];
    close(tmp_trace(path, sizeof path));
    setenv("GORT_TRACE", path, 1);
    run(2, env_main, NULL);
    unsetenv("GORT_TRACE");
    bool ok = check(path, "parse");
    unlink(path);
    cr_assert(ok);
}

static int errors_main(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_trace_stop(), -ENOENT);
    CHECK_EQ(gort_trace_start(-1), -EBADF);
    CHECK_EQ(gort_trace_start(trace_fd), 0);
    CHECK_EQ(gort_trace_start(trace_fd), -EBUSY);
    CHECK_EQ(gort_trace_stop(), 0);
    CHECK_EQ(gort_trace_stop(), -ENOENT);
    return 0;
}

Test(trace, start_and_stop_report_misuse)
{
    char path[64];
    trace_fd = tmp_trace(path, sizeof path);
    run(1, errors_main, NULL);
    close(trace_fd);
    bool ok = check(path, "parse");
    unlink(path);
    cr_assert(ok);
}
