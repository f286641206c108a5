/*
 * test_preempt.c: asynchronous preemption (runtime/asyncpreempt.c): loops
 * without a gort call give up their processor when asked to, with every
 * register and errno intact, only in the program's own code, never by
 * interrupting a blocking call, without stealing the program's SIGURGs,
 * and never unless asked.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gort.h>

#include "helpers/harness.h"

/* gort_text's bounds (the Makefile renames every library object's code;
 * hidden symbols of the static library this test links). */
extern const char __start_gort_text[] __attribute__((visibility("hidden")));
extern const char __stop_gort_text[] __attribute__((visibility("hidden")));
/* The PCs the last 64 preemptions stopped at (runtime/asyncpreempt.c). */
extern _Atomic uintptr_t gort__asyncpreempt_pcs[64]
    __attribute__((visibility("hidden")));
extern _Atomic uint32_t gort__asyncpreempt_npcs
    __attribute__((visibility("hidden")));

static gort_wg wg;
static _Atomic long ticks;
static _Atomic bool stop_flag;
static volatile uint64_t spin_counter;

/* spin_for runs ns of a loop with no gort call (the clock is read only
 * every 100k increments). */
static void spin_for(int64_t ns)
{
    int64_t end = now_ns() + ns;
    while (now_ns() < end)
        for (int i = 0; i < 100000; i++)
            spin_counter++;
}

static gort_stats_t stats(void)
{
    gort_stats_t st;
    gort_stats(&st);
    return st;
}

/* ticker counts 20 ms sleeps until stop_flag. */
static void ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_flag)) {
        gort_sleep(GORT_MS(20));
        atomic_fetch_add(&ticks, 1);
    }
    gort_wg_done(&wg);
}

/* The code of this file is the program's: never in gort_text. */
Test(preempt, gort_code_lies_in_its_own_section_and_the_programs_does_not)
{
    uintptr_t lo = (uintptr_t)__start_gort_text;
    uintptr_t hi = (uintptr_t)__stop_gort_text;
    cr_assert(gt(u64, hi - lo, 10000), "gort_text is %zu bytes",
              (size_t)(hi - lo));
    uintptr_t in[] = {(uintptr_t)gort_run, (uintptr_t)gort_yield,
                      (uintptr_t)gort_chan_send, (uintptr_t)gort_wg_wait};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        cr_assert(lo <= in[i] && in[i] < hi, "gort function %zu outside", i);
    uintptr_t out[] = {(uintptr_t)spin_for, (uintptr_t)ticker,
                       (uintptr_t)stats};
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        cr_assert(out[i] < lo || out[i] >= hi, "test function %zu inside", i);
}

#if !defined(__SANITIZE_THREAD__)

static void noop(void *arg)
{
    (void)arg;
}

/* ---- the ticker keeps ticking ------------------------------------------- */

static _Atomic long ticks_during;

static void spinner_1s(void *arg)
{
    (void)arg;
    long before = atomic_load(&ticks);
    spin_for(GORT_MS(1000));
    atomic_store(&ticks_during, atomic_load(&ticks) - before);
    atomic_store(&stop_flag, true);
    gort_wg_done(&wg);
}

/* One P: without preemption the spinner holds it for the whole second
 * and the ticker cannot run at all. 50 ticks fit; 3 is plenty of
 * margin for a loaded machine. */
static int ticker_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 2);
    gort_go(ticker, NULL);
    gort_sleep(GORT_MS(30)); /* the ticker is asleep in its first tick */
    gort_go(spinner_1s, NULL);
    gort_wg_wait(&wg);
    gort_stats_t st = stats();
    cr_assert(ge(long, atomic_load(&ticks_during), 3), "ticked %ld times",
              atomic_load(&ticks_during));
    cr_assert(ge(u64, st.async_preempts, 1));
    cr_assert(ge(u64, st.preempt_signals, st.async_preempts));
    cr_assert(ge(u64, st.preempts, st.async_preempts));
    return 0;
}

Test(preempt, a_loop_with_no_runtime_call_does_not_stop_a_ticker_with_async_preemption)
{
    debug_set("asyncpreempt=1");
    run(1, ticker_main, NULL);
}

/* ---- registers and errno survive ---------------------------------------- */

struct acc {
    double d[8];
    uint64_t u[8];
};

/* crunch keeps 8 doubles and 8 integers live in registers through n
 * rounds of arithmetic that depends on all of them; a register a
 * preemption lost or mixed up changes the result. */
__attribute__((noinline)) static void crunch(uint64_t seed, long n,
                                             struct acc *out)
{
    double d0 = 1, d1 = 2, d2 = 3, d3 = 4, d4 = 5, d5 = 6, d6 = 7, d7 = 8;
    uint64_t u0 = seed, u1 = seed ^ 1, u2 = seed * 3, u3 = seed + 7,
             u4 = ~seed, u5 = seed << 3, u6 = seed >> 2, u7 = seed * 11;
    for (long i = 0; i < n; i++) {
        u0 = u0 * 6364136223846793005ull + u7;
        u1 ^= u0 >> 7;
        u2 += u1 * 31;
        u3 = (u3 << 5 | u3 >> 59) ^ u2;
        u4 -= u3;
        u5 ^= u4 * 17;
        u6 += u5 >> 3;
        u7 = u7 * 2862933555777941757ull + u6;
        d0 = d0 * 0.999 + (double)(u0 & 255) * 1e-3;
        d1 = d1 * 0.998 + d0 * 1e-3;
        d2 = d2 * 0.997 + (double)(u2 & 255) * 1e-3 - d1 * 1e-4;
        d3 = d3 * 0.996 + d2 * 1e-3;
        d4 = d4 * 0.995 + (double)(u4 & 255) * 1e-3 + d3 * 1e-4;
        d5 = d5 * 0.994 + d4 * 1e-3;
        d6 = d6 * 0.993 + (double)(u6 & 255) * 1e-3 - d5 * 1e-4;
        d7 = d7 * 0.992 + d6 * 1e-3 + d0 * 1e-5;
    }
    double d[8] = {d0, d1, d2, d3, d4, d5, d6, d7};
    uint64_t u[8] = {u0, u1, u2, u3, u4, u5, u6, u7};
    memcpy(out->d, d, sizeof d);
    memcpy(out->u, u, sizeof u);
}

#if defined(__x86_64__)
typedef double v4d __attribute__((vector_size(32)));
/* crunch_avx keeps 8 vectors of 4 doubles live: the upper halves of the
 * ymm registers, which only XSAVE saves. */
__attribute__((noinline, target("avx2"))) static void
crunch_avx(uint64_t seed, long n, double out[32])
{
    v4d a[8];
    for (int k = 0; k < 8; k++)
        for (int j = 0; j < 4; j++)
            a[k][j] = (double)((seed + (uint64_t)(k * 4 + j)) % 97);
    v4d m = {0.999, 0.998, 0.997, 0.996};
    v4d c = {1e-3, 2e-3, 3e-3, 4e-3};
    for (long i = 0; i < n; i++) {
        a[0] = a[0] * m + a[7] * c;
        a[1] = a[1] * m + a[0] * c;
        a[2] = a[2] * m + a[1] * c;
        a[3] = a[3] * m + a[2] * c;
        a[4] = a[4] * m + a[3] * c;
        a[5] = a[5] * m + a[4] * c;
        a[6] = a[6] * m + a[5] * c;
        a[7] = a[7] * m + a[6] * c + c;
    }
    memcpy(out, a, sizeof a);
}
#endif

enum { CRUNCHERS = 3 };
static long crunch_n;
static struct acc crunch_ref;
static bool have_avx;
static double avx_ref[32];
static _Atomic long crunch_rounds, crunch_bad;

static void cruncher(void *arg)
{
    (void)arg;
    gort_async_preempt(true);
    errno = 4242;
    int64_t end = now_ns() + GORT_MS(2500);
    while (now_ns() < end) {
        struct acc a;
        crunch(12345, crunch_n, &a);
        if (memcmp(&a, &crunch_ref, sizeof a) != 0)
            atomic_fetch_add(&crunch_bad, 1);
#if defined(__x86_64__)
        if (have_avx) {
            double v[32];
            crunch_avx(777, crunch_n, v);
            if (memcmp(v, avx_ref, sizeof v) != 0)
                atomic_fetch_add(&crunch_bad, 1);
        }
#endif
        atomic_fetch_add(&crunch_rounds, 1);
    }
    CHECK_EQ(errno, 4242);
    gort_wg_done(&wg);
}

static int registers_main(void *arg)
{
    (void)arg;
    /* Rounds of ~20 ms: longer than a slice, so signals land inside. */
    int64_t t0 = now_ns();
    crunch(12345, 1000000, &crunch_ref);
    int64_t per_million = now_ns() - t0;
    crunch_n = (long)(1000000.0 * GORT_MS(20) /
                      (double)(per_million > 0 ? per_million : 1));
    if (crunch_n < 100000)
        crunch_n = 100000;
    crunch(12345, crunch_n, &crunch_ref);
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_avx = __builtin_cpu_supports("avx2");
    if (have_avx)
        crunch_avx(777, crunch_n, avx_ref);
#endif
    gort_wg_add(&wg, CRUNCHERS);
    for (int i = 0; i < CRUNCHERS; i++)
        gort_go(cruncher, NULL);
    gort_wg_wait(&wg);
    gort_stats_t st = stats();
    cr_assert(eq(long, atomic_load(&crunch_bad), 0), "%ld of %ld rounds "
              "differ", atomic_load(&crunch_bad), atomic_load(&crunch_rounds));
    cr_assert(ge(u64, st.async_preempts, 20), "%llu preemptions",
              (unsigned long long)st.async_preempts);
    return 0;
}

Test(preempt, registers_and_errno_survive_async_preemptions_at_two_procs)
{
    run(2, registers_main, NULL);
}

/* ---- only in the program's own code --------------------------------------- */

static int *sort_buf;
enum { SORT_N = 1 << 18 };
static _Atomic long sorts;

/* A comparator with some work of its own: the sort spends its time
 * between qsort's frames (libc) and these (the program). */
static int cmp_slow(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    for (int i = 0; i < 20; i++)
        spin_counter++;
    return (x > y) - (x < y);
}

static void sorter(void *arg)
{
    (void)arg;
    gort_async_preempt(true);
    long before = atomic_load(&ticks);
    int64_t end = now_ns() + GORT_MS(1000);
    unsigned seed = 1;
    while (now_ns() < end) {
        for (int i = 0; i < SORT_N; i++)
            sort_buf[i] = (int)(rand_r(&seed) % 100000);
        memset(sort_buf + SORT_N, 0x5a, SORT_N * sizeof(int));
        qsort(sort_buf, SORT_N, sizeof(int), cmp_slow);
        for (int i = 1; i < SORT_N; i++)
            CHECK(sort_buf[i - 1] <= sort_buf[i]);
        atomic_fetch_add(&sorts, 1);
    }
    atomic_store(&ticks_during, atomic_load(&ticks) - before);
    atomic_store(&stop_flag, true);
    gort_wg_done(&wg);
}

static int libc_main(void *arg)
{
    (void)arg;
    sort_buf = malloc(2 * SORT_N * sizeof(int));
    CHECK(sort_buf != NULL);
    atomic_store(&gort__asyncpreempt_npcs, 0);
    gort_wg_add(&wg, 2);
    gort_go(ticker, NULL);
    gort_sleep(GORT_MS(30));
    gort_go(sorter, NULL);
    gort_wg_wait(&wg);
    free(sort_buf);
    gort_stats_t st = stats();
    cr_assert(ge(long, atomic_load(&ticks_during), 3), "ticked %ld times",
              atomic_load(&ticks_during));
    cr_assert(ge(u64, st.async_preempts, 1));
    /* Every stop was in this executable's code, outside gort's. */
    Dl_info self, at;
    cr_assert(dladdr((void *)cmp_slow, &self) != 0);
    uint32_t n = atomic_load(&gort__asyncpreempt_npcs);
    cr_assert(ge(u32, n, 1));
    for (uint32_t i = 0; i < n && i < 64; i++) {
        uintptr_t pc = atomic_load(&gort__asyncpreempt_pcs[i]);
        cr_assert(pc < (uintptr_t)__start_gort_text ||
                      pc >= (uintptr_t)__stop_gort_text,
                  "stopped in gort at %#lx", (unsigned long)pc);
        cr_assert(dladdr((void *)pc, &at) != 0 &&
                      at.dli_fbase == self.dli_fbase,
                  "stopped at %#lx in %s", (unsigned long)pc,
                  at.dli_fname ? at.dli_fname : "?");
    }
    return 0;
}

Test(preempt, a_goroutine_in_qsort_is_preempted_only_in_its_own_comparator)
{
    run(1, libc_main, NULL);
}

/* ---- the program's SIGURGs ------------------------------------------------- */

static _Atomic int user_urgs;

static void user_urg(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    atomic_fetch_add(&user_urgs, 1);
}

enum { KILLS = 20, SELF_KILLS = 10 };
static _Atomic bool killer_done;

/* wait_urgs waits (up to 5 s) until the handler counted n. */
static bool wait_urgs(int n, bool in_goroutine)
{
    for (int i = 0; i < 5000 && atomic_load(&user_urgs) < n; i++) {
        if (in_goroutine)
            gort_sleep(GORT_MS(1));
        else
            usleep(1000);
    }
    return atomic_load(&user_urgs) >= n;
}

/* A plain thread sends process-directed SIGURGs one at a time (the kernel
 * merges a pending one): some M gets each, and gort must pass it on. */
static void *killer(void *arg)
{
    (void)arg;
    sigset_t urg;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    pthread_sigmask(SIG_BLOCK, &urg, NULL);
    for (int i = 0; i < KILLS; i++) {
        kill(getpid(), SIGURG);
        if (!wait_urgs(i + 1, false))
            break;
    }
    atomic_store(&killer_done, true);
    return NULL;
}

static void spinner_until_stop(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_flag))
        spin_for(GORT_MS(1));
    gort_wg_done(&wg);
}

static int sigurg_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 1);
    gort_go(spinner_until_stop, NULL); /* keeps gort's signals coming */
    pthread_t th;
    CHECK(pthread_create(&th, NULL, killer, NULL) == 0);
    while (!atomic_load(&killer_done))
        gort_sleep(GORT_MS(5));
    pthread_join(th, NULL);
    /* This goroutine opts out, so its thread has no signal of gort's
     * pending when it signals itself. */
    gort_async_preempt(false);
    for (int i = 0; i < SELF_KILLS; i++) {
        pthread_kill(pthread_self(), SIGURG);
        wait_urgs(KILLS + i + 1, true);
    }
    spin_for(GORT_MS(100)); /* let sysmon signal the spinner once more */
    atomic_store(&stop_flag, true);
    gort_wg_wait(&wg);
    gort_stats_t st = stats();
    cr_assert(eq(int, atomic_load(&user_urgs), KILLS + SELF_KILLS));
    cr_assert(ge(u64, st.preempt_signals, 1));
    return 0;
}

Test(preempt, a_sigurg_handler_installed_before_gort_run_still_gets_its_signals)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = user_urg;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    cr_assert(eq(int, sigaction(SIGURG, &sa, &old), 0));
    debug_set("asyncpreempt=1");
    run(2, sigurg_main, NULL);
    sigaction(SIGURG, &old, NULL);
}

/* ---- blocking calls ---------------------------------------------------- */

static int poll_pipe[2];

static void *late_writer(void *arg)
{
    (void)arg;
    usleep(300000);
    CHECK(write(poll_pipe[1], "x", 1) == 1);
    return NULL;
}

/* poll(2) is never restarted after a handler (signal(7)), so a signal
 * gort sent to a thread blocked in it would show as EINTR. The goroutine
 * holds the only P for 300 ms without a gort call: sysmon hands its P to
 * another thread, and must not signal it. */
static int poll_main(void *arg)
{
    (void)arg;
    gort_async_preempt(true);
    CHECK(pipe(poll_pipe) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, late_writer, NULL) == 0);
    struct pollfd pfd = {.fd = poll_pipe[0], .events = POLLIN};
    /* A fresh slice, so that sysmon's first look comes once the thread
     * is asleep in poll, not while it still set the test up. */
    gort_yield();
    uint64_t sent = stats().preempt_signals;
    errno = 0;
    int r = poll(&pfd, 1, 5000);
    int e = errno;
    char b = 0;
    ssize_t n = read(poll_pipe[0], &b, 1);
    uint64_t sent_during = stats().preempt_signals - sent;
    gort_go(noop, NULL); /* a safe point: the flag shows in preempts */
    gort_stats_t st = stats();
    pthread_join(th, NULL);
    close(poll_pipe[0]);
    close(poll_pipe[1]);
    cr_assert(eq(int, r, 1), "poll returned %d (%s)", r, strerror(e));
    cr_assert(eq(long, (long)n, 1));
    cr_assert(eq(int, b, 'x'));
    cr_assert(eq(u64, sent_during, 0));
    /* sysmon did look at it: a thread asleep in the kernel for a slice
     * has its P handed off (docs/scheduler.md), not a signal. */
    cr_assert(ge(u64, st.preempts + st.stuck_handoffs, 1));
    return 0;
}

Test(preempt, a_blocking_poll_is_never_interrupted_by_async_preemption)
{
    run(1, poll_main, NULL);
}

/* ---- off unless asked ---------------------------------------------------- */

static int quiet_main(void *arg)
{
    bool opt_out = arg != NULL;
    if (opt_out)
        cr_assert(gort_async_preempt(false), "the knob did not turn it on");
    spin_for(GORT_MS(300));
    gort_go(noop, NULL); /* a safe point */
    gort_stats_t st = stats();
    cr_assert(ge(u64, st.preempts, 1)); /* a slice did run out */
    cr_assert(eq(u64, st.preempt_signals, 0));
    cr_assert(eq(u64, st.async_preempts, 0));
    return 0;
}

Test(preempt, async_preemption_is_off_by_default)
{
    debug_set(NULL);
    run(1, quiet_main, NULL);
}

Test(preempt, a_goroutine_that_opts_out_is_not_signalled_under_the_knob)
{
    debug_set("asyncpreempt=1");
    run(1, quiet_main, (void *)1);
}

#else /* TSan */

static int tsan_main(void *arg)
{
    (void)arg;
    cr_assert(!gort_async_preempt(true));
    cr_assert(!gort_async_preempt(true));
    spin_for(GORT_MS(100));
    cr_assert(eq(u64, stats().preempt_signals, 0));
    return 0;
}

Test(preempt, async_preemption_is_disabled_under_tsan)
{
    debug_set("asyncpreempt=1");
    run(1, tsan_main, NULL);
}
#endif
