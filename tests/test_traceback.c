/*
 * test_traceback.c: goroutine tracebacks in Go's format (runtime/
 * traceback.c): the deadlock report, the SIGQUIT dump, fatal signals in
 * a goroutine, panics and GORT_TRACEBACK's levels.
 *
 * Every program here ends the process, so each runs in a forked child
 * (harness_run_child) whose stderr the test reads. The user functions the
 * stacks must show are noinline and do something after the blocking call,
 * so that neither inlining nor a tail call removes their frames.
 * Locking: none.
 * See also: docs/debugging.md.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gort.h>

#include "helpers/harness.h"

static char out[65536];
static gort_chan *never;
static gort_mutex held = GORT_MUTEX_INIT;
static volatile int sink;

static int child(int procs, int (*fn)(void *))
{
    gort_maxprocs(procs);
    return harness_run_child(fn, NULL, out, sizeof out);
}

static void want(const char *s)
{
    cr_assert(ne(ptr, strstr(out, s), NULL), "want \"%s\" in:\n%s", s, out);
}

static void want_not(const char *s)
{
    cr_assert(eq(ptr, strstr(out, s), NULL), "did not want \"%s\" in:\n%s", s,
              out);
}

/* count is how often s occurs in the output. */
static int count(const char *s)
{
    int n = 0;
    for (const char *p = out; (p = strstr(p, s)); p += strlen(s))
        n++;
    return n;
}

__attribute__((noinline)) void tb_recv_forever(void *arg)
{
    (void)arg;
    int v = 0;
    bool ok = gort_chan_recv(never, &v);
    sink = ok + v;
}

__attribute__((noinline)) void tb_lock_forever(void *arg)
{
    (void)arg;
    gort_mutex_lock(&held);
    sink = 1;
    gort_mutex_unlock(&held);
}

__attribute__((noinline)) int tb_deadlock_main(void *arg)
{
    (void)arg;
    never = gort_chan_make(sizeof(int), 0);
    gort_mutex_lock(&held);
    gort_go(tb_recv_forever, NULL);
    gort_go(tb_lock_forever, NULL);
    int v = 0;
    bool ok = gort_chan_recv(never, &v);
    sink = ok;
    return v;
}

Test(traceback, deadlock_report_lists_every_goroutine_and_its_frames,
     .timeout = 60)
{
    int st = child(2, tb_deadlock_main);
    cr_assert(eq(int, st, 2), "exit %d:\n%s", st, out);
    want("fatal error: all goroutines are asleep - deadlock!\n\n");
    want("goroutine 1 [chan receive]:\n");
    cr_assert(eq(int, count("[chan receive]:\n"), 2), "%s", out);
    cr_assert(eq(int, count("[sync.Mutex.Lock]:\n"), 1), "%s", out);
    cr_assert(eq(int, count("\ngoroutine "), 3), "%s", out);
    /* The user's frames, with file:line, and the public call they
     * blocked in; gort's internals stay out at the default level. */
    want("\ntb_recv_forever(...)\n\t");
    want("\ntb_lock_forever(...)\n\t");
    want("\ntb_deadlock_main(...)\n\t");
    want("gort_chan_recv(...)\n\t");
    want("test_traceback.c:");
    want_not("gort__park");
    cr_assert(eq(int, count("created by tb_deadlock_main in goroutine 1\n"),
                 2), "%s", out);
}

Test(traceback, deadlock_report_shows_gort_frames_at_level_system,
     .timeout = 60)
{
    setenv("GORT_TRACEBACK", "system", 1);
    int st = child(1, tb_deadlock_main);
    cr_assert(eq(int, st, 2), "exit %d:\n%s", st, out);
    want("gort__switch_out(...)\n\t");
    want("\ntb_recv_forever(...)\n\t");
}

Test(traceback, level_none_prints_the_message_only, .timeout = 60)
{
    setenv("GORT_TRACEBACK", "none", 1);
    int st = child(1, tb_deadlock_main);
    cr_assert(eq(int, st, 2), "exit %d:\n%s", st, out);
    want("fatal error: all goroutines are asleep - deadlock!\n");
    want_not("goroutine ");
}

__attribute__((noinline)) void tb_quit_parked(void *arg)
{
    (void)arg;
    int v = 7;
    gort_chan_send(never, &v);
    sink = v;
}

__attribute__((noinline)) int tb_quit_main(void *arg)
{
    (void)arg;
    never = gort_chan_make(sizeof(int), 0);
    gort_go(tb_quit_parked, NULL);
    /* One P: sleeping lets tb_quit_parked run until it parks. */
    gort_sleep(GORT_MS(20));
    kill(getpid(), SIGQUIT);
    gort_sleep(GORT_S(30));
    return 0;
}

Test(traceback, sigquit_dumps_every_goroutine_and_exits_2, .timeout = 60)
{
    int st = child(1, tb_quit_main);
    cr_assert(eq(int, st, 2), "exit %d:\n%s", st, out);
    want("SIGQUIT: quit\nPC=0x");
    want("[chan send]:\n");
    want("\ntb_quit_parked(...)\n\t");
    want("created by tb_quit_main in goroutine 1\n");
}

__attribute__((noinline)) void tb_nil_deref(void *arg)
{
    volatile int *p = arg;
    *p = 1;
    sink = 2;
}

__attribute__((noinline)) int tb_nil_main(void *arg)
{
    gort_go(tb_nil_deref, arg);
    gort_sleep(GORT_S(30));
    return 0;
}

Test(traceback, nil_dereference_in_a_goroutine_panics_as_go_does,
     .timeout = 60)
{
    int st = child(1, tb_nil_main);
    cr_assert(eq(int, st, 2), "exit %d:\n%s", st, out);
    want("panic: runtime error: invalid memory address or nil pointer "
         "dereference\n[signal SIGSEGV: segmentation violation code=0x1 "
         "addr=0x0 pc=0x");
    want(" [running]:\ntb_nil_deref(...)\n\t");
    want("created by tb_nil_main in goroutine 1\n");
    /* Level single: the failing goroutine only. */
    want_not("goroutine 1 [");
}

Test(traceback, level_all_adds_the_other_goroutines_to_a_panic,
     .timeout = 60)
{
    setenv("GORT_TRACEBACK", "all", 1);
    int st = child(1, tb_nil_main);
    cr_assert(eq(int, st, 2), "exit %d:\n%s", st, out);
    want(" [running]:\ntb_nil_deref(...)\n\t");
    want("goroutine 1 [sleep]:\n");
    want("\ntb_nil_main(...)\n\t");
}

__attribute__((noinline)) int tb_close_twice_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(0, 0);
    gort_chan_close(c);
    gort_chan_close(c);
    sink = 3;
    return 0;
}

Test(traceback, panic_prints_the_running_goroutine_stack, .timeout = 60)
{
    int st = child(1, tb_close_twice_main);
    cr_assert(eq(int, st, 2), "exit %d:\n%s", st, out);
    want("panic: close of closed channel\n\ngoroutine 1 [running]:\n");
    want("\ntb_close_twice_main(...)\n\t");
}

__attribute__((noinline)) int tb_divide(int d)
{
    volatile int n = 10;
    return n / d;
}

__attribute__((noinline)) void tb_divide_by_zero(void *arg)
{
    sink = tb_divide((int)(intptr_t)arg);
}

__attribute__((noinline)) int tb_divide_main(void *arg)
{
    (void)arg;
    gort_go(tb_divide_by_zero, NULL);
    gort_sleep(GORT_S(30));
    return 0;
}

Test(traceback, integer_division_by_zero_panics_as_go_does, .timeout = 60)
{
    int st = child(1, tb_divide_main);
    cr_assert(eq(int, st, 2), "exit %d:\n%s", st, out);
    want("panic: runtime error: integer divide by zero\n[signal SIGFPE: "
         "floating-point exception code=0x1 addr=0x");
    want("\ntb_divide(...)\n\t");
    want("\ntb_divide_by_zero(...)\n\t");
}

__attribute__((noinline)) int tb_recurse(int depth)
{
    volatile char pad[256];
    pad[0] = (char)depth;
    if (sink < 0) /* never: keeps the recursion from looking infinite */
        return pad[0];
    return tb_recurse(depth + 1) + pad[0];
}

__attribute__((noinline)) void tb_overflow(void *arg)
{
    (void)arg;
    sink = tb_recurse(0);
}

__attribute__((noinline)) int tb_overflow_main(void *arg)
{
    (void)arg;
    gort_go(tb_overflow, NULL);
    gort_sleep(GORT_S(30));
    return 0;
}

Test(traceback, stack_overflow_prints_the_stack_cut_at_100_frames,
     .timeout = 60)
{
    setenv("GORT_STACK_MAX", "64K", 1);
    int st = child(1, tb_overflow_main);
    cr_assert(eq(int, st, 2), "exit %d:\n%s", st, out);
    want("fatal error: stack overflow\n\ngoroutine ");
    want(" [running]:\ntb_recurse(...)\n\t");
    want("...additional frames elided...\n");
}

__attribute__((noinline)) int tb_unlock_main(void *arg)
{
    (void)arg;
    never = gort_chan_make(sizeof(int), 0);
    gort_go(tb_recv_forever, NULL);
    gort_sleep(GORT_MS(5));
    gort_mutex mu = GORT_MUTEX_INIT;
    gort_mutex_unlock(&mu);
    sink = 4;
    return 0;
}

Test(traceback, user_fatal_error_prints_the_goroutine_that_erred,
     .timeout = 60)
{
    int st = child(1, tb_unlock_main);
    cr_assert(eq(int, st, 2), "exit %d:\n%s", st, out);
    want("fatal error: sync: unlock of unlocked mutex\n\n"
         "goroutine 1 [running]:\n");
    want("\ntb_unlock_main(...)\n\t");
    /* Go's fatal: user frames, and only the goroutine that erred. */
    want_not("gort__");
    want_not("[chan receive]");
}
