/*
 * signal.c (chan/): signal channels, the calls of <gort/signal.h> (Go:
 * os/signal's Notify/Stop/Ignore/Reset and runtime/sigqueue.go's
 * signal_recv loop).
 *
 * The handler, its pending mask and every sigaction call live in
 * runtime/signal.c, the one module that installs handlers; this file keeps
 * the table of channels and runs the delivery thread:
 *
 *   signal -> on_notify (any thread): pending |= bit; write(evfd)
 *   delivery thread: read(evfd); pending -> 0; for each signal taken and
 *                    each channel that wants it: gort_chan_trysend
 *
 * Why a thread and not a goroutine parked on the poller: a channel send
 * from a thread without a P is allowed (the receiver is readied like one
 * the poller wakes), the thread works before gort_run and across runs (a
 * goroutine would be abandoned when gort_run returns, still holding the
 * eventfd's read op), and it can keep the notified signals unblocked in
 * its own mask so they arrive even when every other thread blocks them
 * (Go's ensureSigM). Go spends an M on this too (signal_recv sleeps in
 * notetsleepg).
 *
 * Invariants:
 *  - refs[sig] is the number of watchers whose mask has sig; the queueing
 *    handler is installed exactly while refs[sig] > 0 (a signal reset or
 *    ignored has refs 0 and its own disposition).
 *  - Sends happen only under mu, and stop removes its watcher under mu,
 *    so once gort_signal_stop returns its channel gets nothing more.
 *  - Each watcher holds one reference to its channel (gort_chan_retain),
 *    dropped after it left the table.
 *
 * Locking: mu (a pthread mutex: callers may be any thread) guards the
 * table and serialises the runtime/signal.c notify calls; it is taken
 * before a channel's lock (the sends), never the other way round.
 *
 * See also: runtime/signal.c, include/gort/signal.h, docs/signals.md.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../runtime/proc.h"
#include "chan.h"

#define MAXSIG 64 /* signals 1..64; bit sig-1 of a two-word mask */

struct watcher {
    gort_chan *c;
    uint64_t mask[2];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct watcher *watchers; /* mu */
static size_t nwatchers, capwatchers; /* mu */
static int refs[MAXSIG + 1];     /* mu */
static int evfd = -1;            /* mu; -1 until the thread runs */

static inline int word(int sig) { return (sig - 1) / 64; }
static inline uint64_t bit(int sig) { return (uint64_t)1 << ((sig - 1) % 64); }

/* catchable: the signals a program may have relayed (gort/signal.h). */
static bool catchable(int sig)
{
    if (sig < 1 || sig > MAXSIG || sig >= NSIG)
        return false;
    switch (sig) {
    case SIGKILL: case SIGSTOP:             /* cannot be caught */
    case SIGSEGV: case SIGBUS:              /* faults: returning loops, */
    case SIGFPE: case SIGILL:               /* and stack overflows */
    case SIGURG:                            /* preemption */
        return false;
    default:
        return sig < 32 || sig >= SIGRTMIN; /* 32, 33: glibc's */
    }
}

/* check validates a list; n == 0 means every catchable signal. */
static int check(const int *sigs, int n)
{
    if (n < 0 || (n > 0 && sigs == NULL))
        return -EINVAL;
    for (int i = 0; i < n; i++)
        if (!catchable(sigs[i]))
            return -EINVAL;
    return 0;
}

/* nth returns the i-th signal of the list, or with n == 0 the i-th
 * number, which the caller skips when it is not catchable. */
static int nth(const int *sigs, int n, int i)
{
    return n > 0 ? sigs[i] : i + 1;
}

static int count(int n) { return n > 0 ? n : MAXSIG; }

/* kick wakes the delivery thread, which re-reads the set to unblock. */
static void kick(void)
{
    uint64_t one = 1;
    while (write(evfd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

/* update_mask unblocks exactly the notified signals on this thread, so a
 * signal every other thread blocks still has a thread to land on. */
static void update_mask(void)
{
    sigset_t set;
    sigfillset(&set);
    for (int sig = 1; sig <= MAXSIG; sig++)
        if (catchable(sig) &&
            (gort__signal_notify_enabled(word(sig)) & bit(sig)))
            sigdelset(&set, sig);
    pthread_sigmask(SIG_SETMASK, &set, NULL);
}

/* abandoned reports a receiver queued on c while no gort_run runs: a
 * goroutine abandoned when the last run returned, whose wait record lies
 * on a freed stack. Handing it the value would touch that stack, so the
 * signal is dropped for c instead (a program that exits after gort_run
 * returned, while a goroutine still waited for SIGTERM, does not hear a
 * SIGTERM that comes in between). No goroutine can start waiting outside
 * a run, so the check never drops a signal a live receiver waits for. */
static bool abandoned(gort_chan *c)
{
    return !atomic_load(&gort__running) &&
           atomic_load(&hchan_of(c)->recvq.first) != NULL;
}

/* deliver sends sig to every channel that wants it, without blocking
 * (Go: os/signal.process). Caller holds mu. */
static void deliver(int sig)
{
    for (size_t i = 0; i < nwatchers; i++)
        if ((watchers[i].mask[word(sig)] & bit(sig)) &&
            !abandoned(watchers[i].c))
            gort_chan_trysend(watchers[i].c, &sig);
}

static void *delivery_main(void *arg)
{
    (void)arg;
    for (;;) {
        /* Wait in poll(2), then read: TSan runs a handler at once only
         * in calls it knows to block (poll is one, read(2) is not) and
         * otherwise defers it to the thread's next intercepted call, so a
         * signal that only this thread takes would wait behind a read
         * that waits for it. Without TSan it is one more system call per
         * wake-up. EINTR: a notified signal landed here; look again. */
        struct pollfd pfd = {.fd = evfd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0)
            continue;
        uint64_t v;
        if (read(evfd, &v, sizeof v) < 0)
            continue;
        update_mask();
        uint64_t p[2] = {gort__signal_notify_take(0),
                         gort__signal_notify_take(1)};
        if ((p[0] | p[1]) == 0)
            continue;
        pthread_mutex_lock(&mu);
        for (int sig = 1; sig <= MAXSIG; sig++)
            if (p[word(sig)] & bit(sig))
                deliver(sig);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

/* start runs the delivery thread once. It is created with every signal
 * blocked and unblocks the notified ones itself. Caller holds mu. */
static int start(void)
{
    if (evfd >= 0)
        return 0;
    int fd = eventfd(0, EFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    evfd = fd;
    int err = pthread_create(&t, &attr, delivery_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        evfd = -1;
        close(fd);
        return -err;
    }
    gort__signal_notify_setfd(fd);
    return 0;
}

static struct watcher *find(gort_chan *c)
{
    for (size_t i = 0; i < nwatchers; i++)
        if (watchers[i].c == c)
            return &watchers[i];
    return NULL;
}

static struct watcher *add(gort_chan *c)
{
    if (nwatchers == capwatchers) {
        size_t cap = capwatchers ? capwatchers * 2 : 4;
        struct watcher *w = realloc(watchers, cap * sizeof *w);
        if (w == NULL)
            return NULL;
        watchers = w;
        capwatchers = cap;
    }
    struct watcher *w = &watchers[nwatchers++];
    w->c = gort_chan_retain(c);
    w->mask[0] = w->mask[1] = 0;
    return w;
}

/* unwatch drops sig from w; the last watcher restores its disposition
 * (only when `restore`: ignore sets its own). Caller holds mu. */
static void unwatch(struct watcher *w, int sig, bool restore)
{
    if (!(w->mask[word(sig)] & bit(sig)))
        return;
    w->mask[word(sig)] &= ~bit(sig);
    if (--refs[sig] == 0 && restore)
        gort__signal_notify_disable(sig);
}

int gort_signal_notify(gort_chan *c, const int *sigs, int n)
{
    int err = check(sigs, n);
    if (err)
        return err;
    if (c == NULL || hchan_of(c)->elemsize != sizeof(int))
        return -EINVAL;
    pthread_mutex_lock(&mu);
    err = start();
    struct watcher *w = err ? NULL : find(c);
    if (err == 0 && w == NULL && (w = add(c)) == NULL)
        err = -ENOMEM;
    for (int i = 0; err == 0 && i < count(n); i++) {
        int sig = nth(sigs, n, i);
        if (!catchable(sig) || (w->mask[word(sig)] & bit(sig)))
            continue;
        if ((err = gort__signal_notify_enable(sig)) != 0)
            break;
        w->mask[word(sig)] |= bit(sig);
        refs[sig]++;
    }
    if (evfd >= 0)
        kick(); /* the thread unblocks the new signals */
    pthread_mutex_unlock(&mu);
    return err;
}

int gort_signal_stop(gort_chan *c)
{
    pthread_mutex_lock(&mu);
    struct watcher *w = find(c);
    if (w == NULL) {
        pthread_mutex_unlock(&mu);
        return 0;
    }
    for (int sig = 1; sig <= MAXSIG; sig++)
        unwatch(w, sig, true);
    *w = watchers[--nwatchers];
    if (evfd >= 0)
        kick();
    pthread_mutex_unlock(&mu);
    gort_chan_free(c);
    return 0;
}

/* cancel drops the signals from every watcher and then ignores or
 * restores them (Go: os/signal.cancel). */
static int cancel(const int *sigs, int n, bool ignore)
{
    int err = check(sigs, n);
    if (err)
        return err;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < count(n); i++) {
        int sig = nth(sigs, n, i);
        if (!catchable(sig))
            continue;
        for (size_t j = 0; j < nwatchers; j++)
            unwatch(&watchers[j], sig, false);
        int e = ignore ? gort__signal_notify_ignore(sig)
                       : gort__signal_notify_disable(sig);
        if (e && err == 0)
            err = e;
    }
    if (evfd >= 0)
        kick();
    pthread_mutex_unlock(&mu);
    return err;
}

int gort_signal_ignore(const int *sigs, int n)
{
    return cancel(sigs, n, true);
}

int gort_signal_reset(const int *sigs, int n)
{
    return cancel(sigs, n, false);
}

int gort_signal_ignored(int sig)
{
    if (!catchable(sig))
        return -EINVAL;
    return gort__signal_notify_ignored(sig) ? 1 : 0;
}
