/*
 * test_syscall.c: blocking calls the user did not wrap in GORT_SYSCALL:
 * sysmon takes the P of a goroutine stuck in the kernel and hands it to
 * another thread (the stuck-thread hand-off, docs/scheduler.md), while
 * wrapped calls keep the system-call path and running code keeps its P.
 *
 * Every test waits for events, never for a time: "the other goroutine
 * ran N times while the call was in the kernel" is counted from inside
 * the call by a plain thread, since at one P nothing else can run then
 * unless the P was handed off.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gort.h>

#include "helpers/harness.h"

/* ---- a ticker and a plain-thread witness --------------------------------- */

static _Atomic long counter;
static _Atomic bool stop_flag;
static gort_wg wg;

/* ticker counts its runs until stop_flag, with a scheduling point each. */
static void ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_flag)) {
        atomic_fetch_add(&counter, 1);
        gort_yield();
    }
    gort_wg_done(&wg);
}

static void ticker_start(void)
{
    atomic_store(&counter, 0);
    atomic_store(&stop_flag, false);
    gort_wg_add(&wg, 1);
    CHECK_EQ(gort_go(ticker, NULL), 0);
}

static void ticker_stop(void)
{
    atomic_store(&stop_flag, true);
    gort_wg_wait(&wg);
}

/* The witness, a plain thread, waits until the blocking call has begun
 * (in_call), takes the count then, and waits until the ticker has run
 * `want` more times or the call has ended. during is what it saw while
 * the call was still in the kernel. With release_fd >= 0 it then writes
 * one byte there (the pipe the call reads). */
static _Atomic bool in_call;
static _Atomic long during;
static int release_fd = -1;
enum { WANT_RUNS = 1000, GIVE_UP_MS = 20000 };

static void *witness(void *arg)
{
    (void)arg;
    int ms = 0;
    for (; ms < GIVE_UP_MS && !atomic_load(&in_call); ms++)
        usleep(1000);
    long base = atomic_load(&counter);
    for (; ms < GIVE_UP_MS && atomic_load(&in_call) &&
           atomic_load(&counter) < base + WANT_RUNS;
         ms++)
        usleep(1000);
    long seen = atomic_load(&counter) - base;
    if (atomic_load(&in_call))
        atomic_store(&during, seen);
    if (release_fd >= 0)
        CHECK(write(release_fd, "x", 1) == 1);
    return NULL;
}

static pthread_t witness_start(int fd)
{
    atomic_store(&in_call, false);
    atomic_store(&during, 0);
    release_fd = fd;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, witness, NULL) == 0);
    return th;
}

static uint64_t stuck_handoffs(void)
{
    gort_stats_t st;
    gort_stats(&st);
    return st.stuck_handoffs;
}

/* ---- unwrapped calls at one P ------------------------------------------- */

/* The call is a plain usleep of 300 ms: at one P, with its thread in the
 * kernel, the ticker can run only on the P sysmon handed off. */
static int unwrapped_sleep_main(void *arg)
{
    (void)arg;
    uint64_t before = stuck_handoffs();
    ticker_start();
    pthread_t th = witness_start(-1);
    atomic_store(&in_call, true);
    usleep(300000);
    atomic_store(&in_call, false);
    ticker_stop();
    pthread_join(th, NULL);
    CHECK(atomic_load(&during) >= WANT_RUNS);
    CHECK(stuck_handoffs() > before);
    return 0;
}

Test(syscall, an_unwrapped_sleep_does_not_stop_other_goroutines_at_one_p,
     .timeout = 60)
{
    run(1, unwrapped_sleep_main, NULL);
}

/* The same with every handshake on its fallback (seq_cst fences instead
 * of membarrier), as on a kernel without membarrier(2). */
Test(syscall, an_unwrapped_sleep_is_handed_off_without_membarrier_too,
     .timeout = 60)
{
    debug_set("membarrier=0");
    run(1, unwrapped_sleep_main, NULL);
}

/* A blocking read of a pipe that a plain thread writes only once the
 * ticker has run WANT_RUNS times since the read began (or after 20 s). */
static int unwrapped_read_main(void *arg)
{
    (void)arg;
    int fds[2];
    CHECK(pipe(fds) == 0);
    uint64_t before = stuck_handoffs();
    ticker_start();
    pthread_t th = witness_start(fds[1]);
    char b = 0;
    errno = 0;
    atomic_store(&in_call, true);
    ssize_t r = read(fds[0], &b, 1);
    int e = errno;
    atomic_store(&in_call, false);
    long seen = atomic_load(&during);
    ticker_stop();
    pthread_join(th, NULL);
    close(fds[0]);
    close(fds[1]);
    CHECK_EQ(r, 1);
    CHECK_EQ(e, 0);
    CHECK_EQ(b, 'x');
    CHECK(seen >= WANT_RUNS);
    CHECK(stuck_handoffs() > before);
    return 0;
}

Test(syscall, an_unwrapped_pipe_read_does_not_stop_other_goroutines_at_one_p,
     .timeout = 60)
{
    run(1, unwrapped_read_main, NULL);
}

/* ---- what keeps its path -------------------------------------------------- */

/* A wrapped call detaches its P itself (P_SYSCALL): sysmon retakes it the
 * syscall way, and the stuck-thread hand-off never sees it. */
static int wrapped_sleep_main(void *arg)
{
    (void)arg;
    gort_stats_t st0, st1;
    gort_stats(&st0);
    ticker_start();
    pthread_t th = witness_start(-1);
    GORT_SYSCALL((atomic_store(&in_call, true), usleep(300000)));
    atomic_store(&in_call, false);
    ticker_stop();
    pthread_join(th, NULL);
    gort_stats(&st1);
    CHECK(atomic_load(&during) >= WANT_RUNS);
    CHECK(st1.handoffs > st0.handoffs);
    CHECK_EQ(st1.stuck_handoffs, st0.stuck_handoffs);
    return 0;
}

Test(syscall, a_wrapped_call_takes_the_syscall_path, .timeout = 60)
{
    run(1, wrapped_sleep_main, NULL);
}

/* A goroutine that computes for 100 ms without a runtime call is running,
 * not blocked: its P stays (preemption is another mechanism's job). */
static int spinning_main(void *arg)
{
    (void)arg;
    uint64_t before = stuck_handoffs();
    ticker_start();
    int64_t end = gort_now() + GORT_MS(100);
    volatile unsigned long x = 0;
    while (gort_now() < end)
        x++;
    ticker_stop();
    CHECK_EQ(stuck_handoffs(), before);
    return 0;
}

Test(syscall, a_goroutine_computing_in_user_code_keeps_its_p, .timeout = 60)
{
    run(1, spinning_main, NULL);
}

/* With stuckhandoff=0 the P stays with the stuck thread (Go's behaviour
 * for a call it cannot see; the switch is for comparisons): at one P the
 * ticker cannot run while the call is in the kernel. */
static int off_main(void *arg)
{
    (void)arg;
    uint64_t before = stuck_handoffs();
    ticker_start();
    pthread_t th = witness_start(-1);
    atomic_store(&in_call, true);
    usleep(100000);
    atomic_store(&in_call, false);
    ticker_stop();
    pthread_join(th, NULL);
    CHECK_EQ(atomic_load(&during), 0);
    CHECK_EQ(stuck_handoffs(), before);
    return 0;
}

Test(syscall, the_hand_off_can_be_turned_off, .timeout = 60)
{
    debug_set("stuckhandoff=0");
    run(1, off_main, NULL);
}

/* ---- edges ----------------------------------------------------------------- */

/* A goroutine wired to its thread keeps the thread: its P goes, and it
 * comes back on the same thread with a P again. */
static _Atomic long wired_tid_before, wired_tid_after;
static gort_wg side;

static void wired_sleeper(void *arg)
{
    (void)arg;
    gort_lock_os_thread();
    atomic_store(&wired_tid_before, syscall(SYS_gettid));
    atomic_store(&in_call, true);
    usleep(300000);
    atomic_store(&in_call, false);
    gort_yield(); /* the first runtime call after the hand-off */
    atomic_store(&wired_tid_after, syscall(SYS_gettid));
    gort_unlock_os_thread();
    gort_wg_done(&side);
}

static int wired_main(void *arg)
{
    (void)arg;
    uint64_t before = stuck_handoffs();
    pthread_t th = witness_start(-1);
    gort_wg_add(&side, 1);
    CHECK_EQ(gort_go(wired_sleeper, NULL), 0);
    ticker_start();
    gort_wg_wait(&side);
    ticker_stop();
    pthread_join(th, NULL);
    CHECK(atomic_load(&during) >= WANT_RUNS);
    CHECK(stuck_handoffs() > before);
    CHECK_EQ(atomic_load(&wired_tid_after), atomic_load(&wired_tid_before));
    return 0;
}

Test(syscall, a_wired_goroutine_stuck_in_the_kernel_keeps_its_thread,
     .timeout = 60)
{
    run(1, wired_main, NULL);
}

/* A goroutine that returns from the kernel and ends without another
 * runtime call comes back in through its exit. */
static _Atomic bool exiter_done;

static void sleep_then_exit(void *arg)
{
    (void)arg;
    atomic_store(&in_call, true);
    usleep(200000);
    atomic_store(&in_call, false);
    atomic_store(&exiter_done, true);
}

static int exit_main(void *arg)
{
    (void)arg;
    uint64_t before = stuck_handoffs();
    pthread_t th = witness_start(-1);
    atomic_store(&exiter_done, false);
    CHECK_EQ(gort_go(sleep_then_exit, NULL), 0);
    ticker_start();
    while (!atomic_load(&exiter_done))
        gort_sleep(GORT_MS(1));
    ticker_stop();
    pthread_join(th, NULL);
    settle();
    CHECK(atomic_load(&during) >= WANT_RUNS);
    CHECK(stuck_handoffs() > before);
    return 0;
}

Test(syscall, a_goroutine_that_exits_straight_from_the_kernel_comes_back,
     .timeout = 60)
{
    run(1, exit_main, NULL);
}

/* Goroutines stuck in the kernel on both Ps lose them; meanwhile the
 * main goroutine shrinks to one P, so one of theirs retires and solo
 * mode names the other the channel owner. Each then frees a channel with
 * no other runtime call first: gort_chan_free must find out that its P
 * is gone before it locks, or it locks as a second P in solo mode
 * ("fatal error: chan_lock: a second P locks in solo mode", seen in CI
 * under GORT_SCHED=spawn=go,runnext=off). */
static _Atomic int freed_after_stuck;

static void stuck_then_free(void *arg)
{
    usleep(200000); /* plain: sysmon takes the P after a slice */
    gort_chan_free(arg);
    atomic_fetch_add(&freed_after_stuck, 1);
    gort_wg_done(&wg);
}

static int stuck_free_main(void *arg)
{
    (void)arg;
    atomic_store(&freed_after_stuck, 0);
    uint64_t before = stuck_handoffs();
    gort_wg_add(&wg, 2);
    for (int i = 0; i < 2; i++)
        gort_go(stuck_then_free, gort_chan_make(sizeof(int), 0));
    /* Let both start and get stuck, then shrink while they sleep. */
    for (int j = 0; j < 40 && stuck_handoffs() < before + 2; j++)
        gort_sleep(GORT_MS(5));
    gort_maxprocs(1);
    gort_wg_wait(&wg);
    CHECK_EQ(atomic_load(&freed_after_stuck), 2);
    CHECK(stuck_handoffs() > before);
    gort_maxprocs(2);
    return 0;
}

Test(syscall, a_goroutine_whose_p_was_taken_frees_a_channel_on_its_new_p,
     .timeout = 60)
{
    run(2, stuck_free_main, NULL);
}

/* GORT_DEBUG=stuckwarn=1 names the goroutine once, however often it is
 * stuck. */
static int warn_main(void *arg)
{
    (void)arg;
    ticker_start();
    for (int i = 0; i < 3; i++) {
        uint64_t before = stuck_handoffs();
        /* Each round waits until this round's hand-off happened. */
        for (int j = 0; j < 100 && stuck_handoffs() == before; j++)
            usleep(50000);
        gort_yield();
    }
    ticker_stop();
    return 0;
}

Test(syscall, stuckwarn_names_a_stuck_goroutine_once, .timeout = 60)
{
    char buf[8192];
    debug_set("stuckwarn=1");
    gort_maxprocs(1);
    int st = harness_run_child(warn_main, NULL, buf, sizeof buf);
    cr_assert(eq(int, st, 0), "%s", buf);
    const char *want = "gort: goroutine 1 blocked in the kernel for over "
                       "10ms without GORT_SYSCALL; its P was handed off "
                       "(wrap the call in GORT_SYSCALL)\n";
    const char *at = strstr(buf, want);
    cr_assert(not(eq(ptr, (void *)at, NULL)), "%s", buf);
    cr_assert(eq(ptr, (void *)strstr(at + strlen(want), "blocked in the kernel"), NULL),
              "%s", buf);
}

/* ---- stress ---------------------------------------------------------------- */

/*
 * Workers alternate short unwrapped blocking calls (usleep of 1-20 ms, a
 * read of their own pipe, which a plain feeder thread fills every 2 ms)
 * with channel traffic, yields and spawns, so Ps are taken from stuck
 * threads while other threads steal, spawn and hand off. Nothing may be
 * lost or run twice: every spawned child runs once, every token sent is
 * received once, every worker finishes all its rounds.
 */
enum { WORKERS = SCALE3(12, 8, 6), ROUNDS = SCALE3(40, 20, 12) };

static int wpipe[WORKERS][2];
static _Atomic bool wwaiting[WORKERS];
static _Atomic bool feeder_stop;
static _Atomic long children_spawned, children_run, tokens_sent,
    tokens_recv, rounds_done;
static gort_chan *tokens;
static gort_wg children;

static void *feeder(void *arg)
{
    (void)arg;
    while (!atomic_load(&feeder_stop)) {
        for (int i = 0; i < WORKERS; i++)
            if (atomic_exchange(&wwaiting[i], false))
                CHECK(write(wpipe[i][1], "y", 1) == 1);
        usleep(2000);
    }
    return NULL;
}

static void child(void *arg)
{
    (void)arg;
    atomic_fetch_add(&children_run, 1);
    gort_wg_done(&children);
}

static void worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned seed = (unsigned)id * 2654435761u + 1;
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        switch ((seed >> 16) % 4) {
        case 0: /* an unwrapped sleep */
            usleep(1000 + (seed >> 8) % 19000);
            break;
        case 1: { /* an unwrapped pipe read */
            char b;
            atomic_store(&wwaiting[id], true);
            CHECK_EQ(read(wpipe[id][0], &b, 1), 1);
            break;
        }
        case 2: { /* channel traffic */
            long v = r;
            gort_chan_send(tokens, &v);
            atomic_fetch_add(&tokens_sent, 1);
            if (gort_chan_recv(tokens, &v))
                atomic_fetch_add(&tokens_recv, 1);
            break;
        }
        default: /* spawn and yield */
            gort_wg_add(&children, 1);
            CHECK_EQ(gort_go(child, NULL), 0);
            atomic_fetch_add(&children_spawned, 1);
            gort_yield();
            break;
        }
        atomic_fetch_add(&rounds_done, 1);
    }
    gort_wg_done(&wg);
}

static int stress_main(void *arg)
{
    (void)arg;
    atomic_store(&feeder_stop, false);
    atomic_store(&children_spawned, 0);
    atomic_store(&children_run, 0);
    atomic_store(&tokens_sent, 0);
    atomic_store(&tokens_recv, 0);
    atomic_store(&rounds_done, 0);
    tokens = gort_chan_make(sizeof(long), WORKERS);
    for (int i = 0; i < WORKERS; i++) {
        CHECK(pipe(wpipe[i]) == 0);
        atomic_store(&wwaiting[i], false);
    }
    pthread_t th;
    CHECK(pthread_create(&th, NULL, feeder, NULL) == 0);
    uint64_t before = stuck_handoffs();
    gort_wg_add(&wg, WORKERS);
    for (int i = 0; i < WORKERS; i++)
        CHECK_EQ(gort_go(worker, (void *)(intptr_t)i), 0);
    gort_wg_wait(&wg);
    gort_wg_wait(&children);
    atomic_store(&feeder_stop, true);
    pthread_join(th, NULL);
    for (int i = 0; i < WORKERS; i++) {
        close(wpipe[i][0]);
        close(wpipe[i][1]);
    }
    gort_chan_free(tokens);
    settle();
    CHECK_EQ(atomic_load(&rounds_done), (long)WORKERS * ROUNDS);
    CHECK_EQ(atomic_load(&tokens_sent), atomic_load(&tokens_recv));
    CHECK_EQ(atomic_load(&children_run), atomic_load(&children_spawned));
    CHECK(stuck_handoffs() > before);
    return 0;
}

Test(syscall, stuck_threads_lose_and_repeat_nothing_procs_1, .timeout = 120)
{
    run(1, stress_main, NULL);
}

Test(syscall, stuck_threads_lose_and_repeat_nothing_procs_2, .timeout = 120)
{
    run(2, stress_main, NULL);
}

Test(syscall, stuck_threads_lose_and_repeat_nothing_procs_8, .timeout = 120)
{
    run(8, stress_main, NULL);
}

Test(syscall, stuck_threads_lose_and_repeat_nothing_without_membarrier,
     .timeout = 120)
{
    debug_set("membarrier=0");
    run(2, stress_main, NULL);
}

/* ---- A goroutine that loops on short wrapped calls ----------------------- */

static _Atomic bool looper_stop;
static _Atomic bool looper_gave_up;

static void short_call_looper(void *arg)
{
    (void)arg;
    int64_t give_up = now_ns() + 30 * 1000000000LL;
    while (!atomic_load(&looper_stop)) {
        GORT_SYSCALL(getppid()); /* back before sysmon sees it inside */
        if (now_ns() > give_up) {
            atomic_store(&looper_gave_up, true);
            break;
        }
    }
    gort_wg_done(&wg);
}

static int short_calls_main(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 1);
    gort_go(short_call_looper, NULL);
    gort_yield(); /* the looper holds the only P from now on */
    for (int i = 0; i < 20; i++)
        gort_sleep(10 * 1000000); /* a timer on the looper's P */
    atomic_store(&looper_stop, true);
    gort_wg_wait(&wg);
    CHECK(!atomic_load(&looper_gave_up));
    return 0;
}

/* Each return from a short call finds the P still free and keeps it, so
 * the goroutine never switches and nothing else runs there: not the
 * sleeper's timer, not the queue. sysmon sees the P held by one goroutine
 * through its calls as through a running slice and asks it to yield,
 * which it does on the way out of a call (Go: exitsyscall). Before, the
 * first sleep here never ended; they must all end long before the
 * looper's 30 s give-up. */
Test(syscall, a_goroutine_looping_on_short_calls_lets_timers_fire_at_one_p,
     .timeout = 60)
{
    run(1, short_calls_main, NULL);
}
