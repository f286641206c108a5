/*
 * gort/signal.h: signals as channel values (Go: os/signal). Included by
 * <gort.h>.
 *
 * gort_signal_notify makes the process catch the given signals and send
 * each arrival, as an int (the signal number), to the channel without
 * blocking: a channel whose buffer is full misses the signal, as in Go, so
 * give it a buffer (one value is enough to hear about "at least one
 * SIGTERM"). Arrivals of one signal that come before the first is
 * delivered are merged into one. Delivery works whichever thread the
 * kernel picks, threads the program made itself included, and at any
 * moment: before gort_run, while goroutines run on many processors, and
 * while every goroutine is blocked (a goroutine waiting on a signal
 * channel is not a deadlock while some signal is notified).
 *
 * How (docs/signals.md): the handler only sets the signal's bit in a
 * pending mask and writes an eventfd; a thread that gort starts on the
 * first notify reads the eventfd, takes the mask and does the
 * non-blocking sends. That thread keeps exactly the notified signals
 * unblocked, so they arrive even if every other thread blocks them (Go's
 * ensureSigM).
 *
 * Signals gort refuses (-EINVAL): numbers outside 1..64, SIGKILL and
 * SIGSTOP (nobody can catch them), SIGSEGV, SIGBUS, SIGFPE and SIGILL
 * (a handler that returns from a fault re-runs the faulting instruction;
 * gort owns SIGSEGV/SIGBUS for stack overflows), SIGURG (gort's
 * preemption signal), and 32 and 33 (glibc's own). Calls with n == 0 mean
 * every signal gort can catch, as Go's calls with no signal do.
 *
 * Differences from Go: a signal nobody notifies keeps the disposition the
 * program gave it (Go installs its handler for every signal at start and
 * re-raises); the process exits the same way (e.g. killed by SIGTERM).
 * Stop a channel before closing it: a send on a closed channel panics.
 * The state is per process and does not survive fork() in the child.
 */
#ifndef GORT_SIGNAL_H
#define GORT_SIGNAL_H

#include <signal.h> /* SIGINT, SIGTERM, ... for the calls below */
#include <stdbool.h>

#ifndef GORT_API /* so the header also compiles alone (make check-headers) */
#define GORT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_chan gort_chan;

/*
 * gort_signal_notify relays the n signals at sigs (n == 0: all) to c, a
 * channel of int (Go: signal.Notify). Calling it again for c adds signals;
 * several channels may ask for one signal and each gets it. c is retained
 * until gort_signal_stop. A notified signal that was ignored (SIG_IGN,
 * also one ignored since the shell started the program) is caught from
 * now on, as in Go. Callable from any thread, at any time. Does not park.
 *
 * Returns 0, or -EINVAL (c NULL, its element is not an int, n < 0, sigs
 * NULL with n > 0, or a signal gort refuses: none is then changed),
 * -ENOMEM, or the error of eventfd(2) or pthread_create(3) when the
 * first call starts the delivery thread.
 */
GORT_API int gort_signal_notify(gort_chan *c, const int *sigs, int n);

/*
 * gort_signal_stop stops all relaying to c and releases it (Go:
 * signal.Stop). When it returns, c gets no more signals. A signal that
 * no channel wants any more gets back the disposition it had before gort
 * first changed it (default, ignored, or the program's handler). Unknown
 * channels are fine. Returns 0.
 */
GORT_API int gort_signal_stop(gort_chan *c);

/*
 * gort_signal_ignore stops relaying the given signals (n == 0: all) to
 * every channel and sets them to SIG_IGN (Go: signal.Ignore). A later
 * notify catches them again. Returns 0 or -EINVAL as gort_signal_notify.
 */
GORT_API int gort_signal_ignore(const int *sigs, int n);

/*
 * gort_signal_reset stops relaying the given signals (n == 0: all) to
 * every channel and gives them back the disposition they had before gort
 * first changed them (Go: signal.Reset). Returns 0 or -EINVAL.
 */
GORT_API int gort_signal_reset(const int *sigs, int n);

/* gort_signal_ignored reports whether sig is ignored now (SIG_IGN, by
 * gort_signal_ignore or from the start) (Go: signal.Ignored). Returns 1,
 * 0, or -EINVAL for a signal gort refuses. */
GORT_API int gort_signal_ignored(int sig);

/* GORT_SIGNALS(SIGINT, SIGTERM) expands to the `sigs, n` pair the calls
 * above take (C only: a compound literal). */
#define GORT_SIGNALS(...)                                                    \
    (const int[]){__VA_ARGS__},                                              \
        (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

#ifdef __cplusplus
}
#endif

#endif /* GORT_SIGNAL_H */
