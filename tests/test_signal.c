/*
 * test_signal.c: signal channels (<gort/signal.h>, chan/signal.c and the
 * notify handler of runtime/signal.c): delivery from kill(2) and from
 * threads the program made, late notify on several processors, stop,
 * ignore, reset, the dispositions put back, refused signals, and a
 * goroutine waiting on a signal channel not being a deadlock.
 *
 * Tests whose outcome is the death or survival of a process run it in a
 * child forked before gort_run and look at its wait status.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gort.h>

/* TSan runs a handler only when the thread that took the signal next
 * enters a call it intercepts, and an M that goes to sleep in a raw futex
 * never does: a kill(2) the kernel gives to such an M then waits for good
 * (seen: notify_with_no_signals waiting until killed). So under TSan the
 * tests that only need delivery block their signals in every M, as
 * signal_blocked_in_every_runtime_thread does, and the delivery thread,
 * which waits in a call TSan knows to block, takes them. The forked tests
 * that need a default action set keep_mask. */
static bool keep_mask;

static void block_test_signals(int how)
{
    sigset_t set;
    sigemptyset(&set);
    int sigs[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGHUP, SIGWINCH, SIGRTMIN + 1};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaddset(&set, sigs[i]);
    pthread_sigmask(how, &set, NULL);
}

static int run(int procs, int (*fn)(void *), void *arg)
{
#if defined(__SANITIZE_THREAD__)
    if (!keep_mask)
        block_test_signals(SIG_BLOCK);
#else
    (void)block_test_signals;
#endif
    gort_maxprocs(procs);
    return gort_run(fn, arg);
}

/* recv_sig receives one int from c (parks). */
static int recv_sig(gort_chan *c)
{
    int sig = 0;
    cr_assert(gort_chan_recv(c, &sig));
    return sig;
}

/* in_child runs fn in a forked child and returns its wait status. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    cr_assert(ne(int, pid, -1));
    if (pid == 0)
        _exit(fn());
    int st;
    cr_assert(eq(int, waitpid(pid, &st, 0), pid));
    return st;
}

static int kill_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    cr_assert(eq(int, gort_signal_notify(c, GORT_SIGNALS(SIGUSR1)), 0));
    cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
    cr_assert(eq(int, recv_sig(c), SIGUSR1));
    cr_assert(eq(int, gort_signal_stop(c), 0));
    gort_chan_free(c);
    return 0;
}

Test(signal, kill_of_the_process_is_delivered_to_the_channel)
{
    cr_assert(eq(int, run(1, kill_main, NULL), 0));
}

/* A plain pthread raises the signal at itself, so the handler runs on a
 * thread the runtime does not know. */
static void *raiser(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL); /* most likely the receiver waits by now */
    block_test_signals(SIG_UNBLOCK); /* it inherited an M's mask */
    raise(SIGUSR2);
    return NULL;
}

static int thread_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    cr_assert(eq(int, gort_signal_notify(c, GORT_SIGNALS(SIGUSR2)), 0));
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, raiser, NULL), 0));
    /* Only a signal can wake this: not a deadlock while one is notified. */
    cr_assert(eq(int, recv_sig(c), SIGUSR2));
    pthread_join(t, NULL);
    gort_signal_stop(c);
    gort_chan_free(c);
    return 0;
}

Test(signal, signal_raised_on_a_thread_the_program_made_is_delivered)
{
    cr_assert(eq(int, run(2, thread_main, NULL), 0));
}

static void spinner(void *arg)
{
    _Atomic int *stop = arg;
    while (!atomic_load(stop))
        gort_sleep(GORT_US(100));
}

/* Goroutines on both processors first, so both threads run, then notify
 * and kill: the signal may land on any thread, and must not be fatal. */
static int late_main(void *arg)
{
    (void)arg;
    _Atomic int stop = 0;
    for (int i = 0; i < 4; i++)
        gort_go(spinner, &stop);
    gort_sleep(GORT_MS(20));
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    cr_assert(eq(int, gort_signal_notify(c, GORT_SIGNALS(SIGTERM)), 0));
    for (int i = 0; i < 3; i++) {
        cr_assert(eq(int, kill(getpid(), SIGTERM), 0));
        cr_assert(eq(int, recv_sig(c), SIGTERM));
    }
    atomic_store(&stop, 1);
    gort_signal_stop(c);
    gort_chan_free(c);
    return 0;
}

Test(signal, notify_after_start_on_two_procs_makes_sigterm_a_value_not_death)
{
    cr_assert(eq(int, run(2, late_main, NULL), 0));
}

static int stop_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_chan *d = gort_chan_make(sizeof(int), 1);
    cr_assert(eq(int, gort_signal_notify(c, GORT_SIGNALS(SIGUSR1)), 0));
    cr_assert(eq(int, gort_signal_notify(d, GORT_SIGNALS(SIGUSR1)), 0));
    cr_assert(eq(int, gort_signal_stop(c), 0));
    cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
    cr_assert(eq(int, recv_sig(d), SIGUSR1));
    /* d got it in the same pass that would have sent to c. */
    cr_assert(eq(sz, gort_chan_len(c), 0));
    cr_assert(eq(int, gort_signal_stop(c), 0)); /* twice: fine */
    gort_signal_stop(d);
    gort_chan_free(c);
    gort_chan_free(d);
    return 0;
}

Test(signal, stop_ends_delivery_to_that_channel_only)
{
    cr_assert(eq(int, run(1, stop_main, NULL), 0));
}

static int two_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_chan *d = gort_chan_make(sizeof(int), 4);
    cr_assert(eq(int, gort_signal_notify(c, GORT_SIGNALS(SIGUSR1)), 0));
    cr_assert(eq(int, gort_signal_notify(d, GORT_SIGNALS(SIGUSR2)), 0));
    cr_assert(eq(int, gort_signal_notify(d, GORT_SIGNALS(SIGUSR1)), 0));
    cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
    cr_assert(eq(int, recv_sig(c), SIGUSR1));
    cr_assert(eq(int, recv_sig(d), SIGUSR1));
    cr_assert(eq(int, kill(getpid(), SIGUSR2), 0));
    cr_assert(eq(int, recv_sig(d), SIGUSR2));
    cr_assert(eq(sz, gort_chan_len(c), 0)); /* c did not ask for SIGUSR2 */
    gort_signal_stop(c);
    gort_signal_stop(d);
    gort_chan_free(c);
    gort_chan_free(d);
    return 0;
}

Test(signal, two_channels_each_get_the_signal_they_asked_for)
{
    cr_assert(eq(int, run(2, two_main, NULL), 0));
}

static int reset_gort(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_signal_notify(c, GORT_SIGNALS(SIGUSR1));
    kill(getpid(), SIGUSR1);
    if (recv_sig(c) != SIGUSR1)
        return 3;
    if (gort_signal_reset(GORT_SIGNALS(SIGUSR1)) != 0)
        return 4;
    kill(getpid(), SIGUSR1); /* the default action: death */
    gort_sleep(GORT_S(10));
    return 5;
}

static int reset_child(void)
{
    keep_mask = true;
    return run(2, reset_gort, NULL);
}

Test(signal, reset_gives_back_the_default_action)
{
    int st = in_child(reset_child);
    bool killed = WIFSIGNALED(st);
    cr_assert(killed, "child exited with %d", WEXITSTATUS(st));
    cr_assert(eq(int, WTERMSIG(st), SIGUSR1));
}

/* The shell ignored SIGINT (nohup, `&`): it stays ignored until notified,
 * is caught while notified, and is ignored again after stop (Go's rule). */
static int ignored_gort(void *arg)
{
    (void)arg;
    if (gort_signal_ignored(SIGINT) != 1)
        return 3;
    kill(getpid(), SIGINT); /* ignored: nothing happens */
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_signal_notify(c, GORT_SIGNALS(SIGINT));
    if (gort_signal_ignored(SIGINT) != 0)
        return 4;
    kill(getpid(), SIGINT);
    if (recv_sig(c) != SIGINT)
        return 5;
    gort_signal_stop(c);
    if (gort_signal_ignored(SIGINT) != 1)
        return 6;
    kill(getpid(), SIGINT);
    gort_chan_free(c);
    return 0;
}

static int ignored_child(void)
{
    keep_mask = true;
    signal(SIGINT, SIG_IGN);
    return run(2, ignored_gort, NULL);
}

Test(signal, sigint_ignored_at_start_is_caught_only_while_notified)
{
    int st = in_child(ignored_child);
    bool exited = WIFEXITED(st);
    cr_assert(exited, "child killed by signal %d", WTERMSIG(st));
    cr_assert(eq(int, WEXITSTATUS(st), 0));
}

static int ignore_gort(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_signal_notify(c, GORT_SIGNALS(SIGUSR1));
    if (gort_signal_ignore(GORT_SIGNALS(SIGUSR1)) != 0)
        return 3;
    if (gort_signal_ignored(SIGUSR1) != 1)
        return 4;
    kill(getpid(), SIGUSR1); /* ignored: survives, nothing delivered */
    gort_sleep(GORT_MS(20));
    if (gort_chan_len(c) != 0)
        return 5;
    gort_signal_notify(c, GORT_SIGNALS(SIGUSR1)); /* caught again */
    kill(getpid(), SIGUSR1);
    if (recv_sig(c) != SIGUSR1)
        return 6;
    gort_signal_stop(c); /* back to before gort: the default */
    kill(getpid(), SIGUSR1);
    gort_sleep(GORT_S(10));
    return 7;
}

static int ignore_child(void)
{
    keep_mask = true;
    return run(1, ignore_gort, NULL);
}

Test(signal, ignore_drops_the_signal_until_notified_again)
{
    int st = in_child(ignore_child);
    bool killed = WIFSIGNALED(st);
    cr_assert(killed, "child exited with %d", WEXITSTATUS(st));
    cr_assert(eq(int, WTERMSIG(st), SIGUSR1));
}

/* Every runtime thread inherits a mask that blocks SIGUSR1 (the old
 * signalfd recipe's first step): the delivery thread still takes it. */
static int blocked_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    cr_assert(eq(int, gort_signal_notify(c, GORT_SIGNALS(SIGUSR1)), 0));
    cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
    cr_assert(eq(int, recv_sig(c), SIGUSR1));
    gort_signal_stop(c);
    gort_chan_free(c);
    return 0;
}

Test(signal, signal_blocked_in_every_runtime_thread_is_still_delivered)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    cr_assert(eq(int, run(2, blocked_main, NULL), 0));
}

/* Notify before gort_run: the signal waits in the channel's buffer. */
static int early_main(void *arg)
{
    gort_chan *c = arg;
    cr_assert(eq(int, recv_sig(c), SIGHUP));
    gort_signal_stop(c);
    return 0;
}

Test(signal, notify_before_gort_run_buffers_the_signal)
{
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    cr_assert(eq(int, gort_signal_notify(c, GORT_SIGNALS(SIGHUP)), 0));
    cr_assert(eq(int, kill(getpid(), SIGHUP), 0));
    cr_assert(eq(int, run(1, early_main, c), 0));
    gort_chan_free(c);
}

/* A full channel misses the signal instead of blocking the delivery of
 * the others (Go: "Package signal will not block sending to c"). */
static int full_main(void *arg)
{
    (void)arg;
    gort_chan *full = gort_chan_make(sizeof(int), 1);
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    int x = 0;
    cr_assert(gort_chan_trysend(full, &x));
    gort_signal_notify(full, GORT_SIGNALS(SIGUSR1));
    gort_signal_notify(c, GORT_SIGNALS(SIGUSR1));
    kill(getpid(), SIGUSR1);
    cr_assert(eq(int, recv_sig(c), SIGUSR1));
    cr_assert(eq(int, recv_sig(full), 0)); /* only what was there */
    cr_assert(eq(sz, gort_chan_len(full), 0));
    gort_signal_stop(full);
    gort_signal_stop(c);
    gort_chan_free(full);
    gort_chan_free(c);
    return 0;
}

Test(signal, full_channel_misses_the_signal_without_blocking_others)
{
    cr_assert(eq(int, run(1, full_main, NULL), 0));
}

static int bad_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 1);
    gort_chan *wide = gort_chan_make(sizeof(int64_t), 1);
    int refused[] = {0, -1, 65, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE,
                     SIGILL, SIGURG, 32, 33};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        cr_assert(eq(int, gort_signal_notify(c, &refused[i], 1), -EINVAL),
                  "signal %d", refused[i]);
        cr_assert(eq(int, gort_signal_ignore(&refused[i], 1), -EINVAL));
        cr_assert(eq(int, gort_signal_reset(&refused[i], 1), -EINVAL));
        cr_assert(eq(int, gort_signal_ignored(refused[i]), -EINVAL));
    }
    /* One bad signal in a list changes nothing. */
    cr_assert(eq(int, gort_signal_notify(c, GORT_SIGNALS(SIGUSR1, SIGKILL)),
                 -EINVAL));
    cr_assert(eq(int, gort_signal_ignored(SIGUSR1), 0));
    cr_assert(eq(int, gort_signal_notify(NULL, GORT_SIGNALS(SIGUSR1)),
                 -EINVAL));
    cr_assert(eq(int, gort_signal_notify(wide, GORT_SIGNALS(SIGUSR1)),
                 -EINVAL));
    cr_assert(eq(int, gort_signal_notify(c, NULL, 1), -EINVAL));
    cr_assert(eq(int, gort_signal_notify(c, NULL, -1), -EINVAL));
    gort_chan_free(c);
    gort_chan_free(wide);
    return 0;
}

Test(signal, refused_signals_and_bad_arguments_get_einval)
{
    cr_assert(eq(int, run(1, bad_main, NULL), 0));
}

/* n == 0 relays every signal gort can catch. */
static int all_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_chan_make(sizeof(int), 4);
    cr_assert(eq(int, gort_signal_notify(c, NULL, 0), 0));
    kill(getpid(), SIGWINCH);
    cr_assert(eq(int, recv_sig(c), SIGWINCH));
    kill(getpid(), SIGRTMIN + 1);
    int got = recv_sig(c);
    cr_assert(eq(int, got, SIGRTMIN + 1), "got signal %d", got);
    gort_signal_stop(c);
    gort_chan_free(c);
    return 0;
}

Test(signal, notify_with_no_signals_relays_all_of_them)
{
    cr_assert(eq(int, run(1, all_main, NULL), 0));
}

/* A goroutine still waiting on the channel when main returns is
 * abandoned; a signal after gort_run returned must not be handed to it. */
static void waiter(void *arg)
{
    int sig;
    gort_chan_recv(arg, &sig);
}

static int abandon_main(void *arg)
{
    gort_chan *c = arg;
    cr_assert(eq(int, gort_signal_notify(c, GORT_SIGNALS(SIGUSR1)), 0));
    gort_go(waiter, c);
    while (gort_num_goroutine() < 2)
        gort_yield();
    gort_sleep(GORT_MS(10)); /* the waiter is most likely parked by now */
    return 0;
}

Test(signal, signal_after_gort_run_returned_skips_an_abandoned_receiver)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_chan *d = gort_chan_make(sizeof(int), 1);
    cr_assert(eq(int, run(2, abandon_main, c), 0));
    cr_assert(eq(int, gort_signal_notify(d, GORT_SIGNALS(SIGUSR1)), 0));
    cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
    /* d's value proves a delivery pass, which also looked at c. */
    int sig = 0;
    bool ok;
    while (!gort_chan_tryrecv(d, &sig, &ok)) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert(eq(int, sig, SIGUSR1));
    gort_signal_stop(d);
    gort_chan_free(d);
}

/* The delivery thread readies receivers without a P. Between its put on
 * the global queue and the M it starts, the only M going idle once threw
 * "checkdead: runnable g" (one run in five of this test under TSan on a
 * loaded 2-CPU machine before the fix in gort__ready; rarer without
 * TSan). Many hand-offs at 1 P, each to a receiver that is most likely
 * parked, give that window its chances. */
#define HANDOFFS 20000

struct handoff {
    gort_chan *c;
    _Atomic int turn;
};

static void *handoff_sender(void *arg)
{
    struct handoff *h = arg;
    for (int i = 0; i < HANDOFFS; i++) {
        /* Spin: a yield here gives the M time to go idle first and
         * hides the window. */
        while (atomic_load(&h->turn) <= i) {
        }
        while (!gort_chan_trysend(h->c, &i)) {
        }
    }
    return NULL;
}

static int handoff_main(void *arg)
{
    (void)arg;
    struct handoff h = {.c = gort_chan_make(sizeof(int), 1)};
    gort_chan *sigc = gort_chan_make(sizeof(int), 1);
    /* As in a program waiting for signals: checkdead stays quiet. */
    cr_assert(eq(int, gort_signal_notify(sigc, GORT_SIGNALS(SIGUSR2)), 0));
    pthread_t t;
    cr_assert(eq(int, pthread_create(&t, NULL, handoff_sender, &h), 0));
    for (int i = 0; i < HANDOFFS; i++) {
        atomic_store(&h.turn, i + 1);
        int v = -1;
        cr_assert(gort_chan_recv(h.c, &v));
        cr_assert(eq(int, v, i));
    }
    pthread_join(t, NULL);
    gort_signal_stop(sigc);
    gort_chan_free(sigc);
    gort_chan_free(h.c);
    return 0;
}

Test(signal, readies_from_a_thread_without_a_p_never_look_like_a_deadlock)
{
    cr_assert(eq(int, run(1, handoff_main, NULL), 0));
}

/* ---- gort_signal_notify_ctx (Go: signal.NotifyContext) ------------------- */

static int notify_ctx_main(void *arg)
{
    (void)arg;
    gort_signal_ctx *stop;
    gort_ctx *ctx = gort_signal_notify_ctx(gort_ctx_background(),
                                           GORT_SIGNALS(SIGUSR1), &stop);
    cr_assert(ne(ptr, ctx, NULL));
    cr_assert(ne(ptr, stop, NULL));
    cr_assert(eq(int, gort_ctx_err(ctx), 0));
    cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
    /* Only the signal can close it: no deadline, nobody cancels. */
    gort_chan_recv(gort_ctx_done(ctx), NULL);
    cr_assert(eq(int, gort_ctx_err(ctx), GORT_ECANCELED));
    cr_assert(eq(int, gort_ctx_cause(ctx), -EINTR));
    gort_signal_ctx_stop(stop);
    gort_ctx_release(ctx);
    return 0;
}

Test(signal, notify_ctx_is_canceled_by_its_signal_with_cause_eintr)
{
    cr_assert(eq(int, run(2, notify_ctx_main, NULL), 0));
}

static int notify_ctx_stop_main(void *arg)
{
    (void)arg;
    /* stop cancels (Go: stop is cancel plus signal.Stop). */
    gort_signal_ctx *stop;
    gort_ctx *ctx = gort_signal_notify_ctx(gort_ctx_background(),
                                           GORT_SIGNALS(SIGUSR2), &stop);
    cr_assert(ne(ptr, ctx, NULL));
    gort_signal_ctx_stop(stop);
    cr_assert(eq(int, gort_ctx_err(ctx), GORT_ECANCELED));
    cr_assert(eq(int, gort_ctx_cause(ctx), GORT_ECANCELED));
    gort_ctx_release(ctx);
    /* A parent's cancel reaches it, with the parent's cause. */
    gort_ctx *parent = gort_ctx_with_cancel(gort_ctx_background());
    ctx = gort_signal_notify_ctx(parent, GORT_SIGNALS(SIGUSR2), &stop);
    cr_assert(ne(ptr, ctx, NULL));
    gort_ctx_cancel_cause(parent, -EPIPE);
    gort_chan_recv(gort_ctx_done(ctx), NULL);
    cr_assert(eq(int, gort_ctx_cause(ctx), -EPIPE));
    gort_signal_ctx_stop(stop);
    gort_ctx_release(ctx);
    gort_ctx_release(parent);
    /* Bad arguments: NULL, and *stop is NULL too. */
    stop = (gort_signal_ctx *)1;
    cr_assert(eq(ptr, gort_signal_notify_ctx(gort_ctx_background(),
                                             GORT_SIGNALS(SIGKILL), &stop),
                 NULL));
    cr_assert(eq(ptr, stop, NULL));
    cr_assert(eq(ptr, gort_signal_notify_ctx(NULL, GORT_SIGNALS(SIGUSR2),
                                             &stop),
                 NULL));
    cr_assert(eq(ptr, gort_signal_notify_ctx(gort_ctx_background(),
                                             GORT_SIGNALS(SIGUSR2), NULL),
                 NULL));
    gort_signal_ctx_stop(NULL);
    return 0;
}

Test(signal, notify_ctx_stop_and_parent_cancel_end_it)
{
    cr_assert(eq(int, run(1, notify_ctx_stop_main, NULL), 0));
}
