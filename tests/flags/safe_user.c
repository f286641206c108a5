/*
 * safe_user.c: user code built only with the flags `pkg-config --cflags
 * gort` gives (tests/flags/run.sh), checking that thread-bound values a
 * goroutine reads after a park belong to the thread it resumed on.
 *
 *   safe_user errno     errno set before a park reads the same after it
 *                       (the runtime saves it per goroutine; the const fix
 *                       makes the compiler reload &errno), and pthread_self
 *                       after a park names the thread the goroutine now
 *                       runs on (checked against gettid, which glibc does
 *                       not declare const). Run at several GORT_MAXPROCS.
 *   safe_user overflow  a goroutine with a frame larger than its stack
 *                       must stop with "fatal error: stack overflow"
 *                       (stack-clash probes walk into the guard page page
 *                       by page instead of jumping it).
 *
 * Prints one summary line; exits 0 when every read was right.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gort.h>

#define NG 64
#define ROUNDS 2000

static atomic_long bad_errno, bad_self, moves, reads;
static int procs;

static long tid(void)
{
    return syscall(SYS_gettid);
}

static void worker(void *arg)
{
    gort_wg *wg = arg;
    int base = (int)(gort_id() * 100000);
    for (int i = 0; i < ROUNDS; i++) {
        pthread_t self0 = pthread_self();
        long tid0 = tid();
        errno = base + i;
        if (i % 8 == 0)
            gort_sleep(GORT_US(50)); /* readied by a timer, maybe elsewhere */
        else
            gort_yield();
        if (errno != base + i)
            atomic_fetch_add(&bad_errno, 1);
        pthread_t self1 = pthread_self();
        long tid1 = tid();
        /* Same thread iff same pthread_t: a cached pthread_self keeps
         * saying "same" after the goroutine moved. */
        if ((tid1 == tid0) != (pthread_equal(self0, self1) != 0))
            atomic_fetch_add(&bad_self, 1);
        if (tid1 != tid0)
            atomic_fetch_add(&moves, 1);
        atomic_fetch_add(&reads, 1);
    }
    gort_wg_done(wg);
}

static int errno_main(void *arg)
{
    (void)arg;
    procs = gort_maxprocs(0);
    gort_wg wg = GORT_WG_INIT;
    gort_wg_add(&wg, NG);
    for (int i = 0; i < NG; i++)
        gort_go(worker, &wg);
    gort_wg_wait(&wg);
    return 0;
}

/* 282 KiB, larger than the 256 KiB default stack plus its 16 KiB guard:
 * without stack-clash probes the one store below lands past the guard, in
 * the next stack slot, where a parked goroutine keeps its frames. */
__attribute__((noinline)) static void store_first(char *p, int v)
{
    p[0] = (char)v; /* the lowest address of the frame */
    __asm__ volatile("" : : "r"(p) : "memory");
}

__attribute__((noinline)) static int big_frame(int seed)
{
    char buf[282 * 1024];
    store_first(buf, seed);
    __asm__ volatile("" : : "r"(buf) : "memory");
    return buf[0];
}

static void parked_g(void *arg)
{
    gort_chan *never = arg;
    int v;
    gort_chan_recv(never, &v);
}

static void overflow_g(void *arg)
{
    gort_chan *done = arg;
    int r = big_frame((int)gort_id());
    gort_chan_send(done, &r);
}

static int overflow_main(void *arg)
{
    (void)arg;
    gort_chan *never = gort_chan_make(sizeof(int), 0);
    /* Neighbours, so that the slot below the overflowing stack is in use. */
    for (int i = 0; i < 16; i++)
        gort_go(parked_g, never);
    gort_yield();
    gort_chan *done = gort_chan_make(sizeof(int), 1);
    gort_go(overflow_g, done);
    for (int i = 0; i < 16; i++)
        gort_go(parked_g, never);
    int r;
    gort_chan_recv(done, &r);
    printf("overflow: returned %d without a fault\n", r);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "overflow") == 0)
        return gort_run(overflow_main, NULL);
    int rc = gort_run(errno_main, NULL);
    if (rc != 0) {
        printf("errno: gort_run: %s\n", gort_strerror(rc));
        return 1;
    }
    printf("errno: procs=%d reads=%ld moves=%ld bad_errno=%ld bad_self=%ld\n",
           procs, atomic_load(&reads), atomic_load(&moves),
           atomic_load(&bad_errno), atomic_load(&bad_self));
    /* A run without a single move would check nothing about migration. */
    return atomic_load(&bad_errno) || atomic_load(&bad_self) ||
           (procs > 1 && atomic_load(&moves) == 0);
}
