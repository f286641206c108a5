/*
 * signal.c: the one place that installs signal handlers.
 *
 *  - SIGSEGV, SIGBUS, SIGFPE: faults. Every M gets an alternate signal
 *    stack, so the SIGSEGV raised by a goroutine running into its guard
 *    region can be handled even though its own stack is exhausted: Go's
 *    "stack overflow" and the goroutine's stack. A fault in a goroutine's
 *    own code is Go's run-time panic ("invalid memory address or nil
 *    pointer dereference", "integer divide by zero"); one in gort's code
 *    or on g0 is "unexpected signal during runtime execution"; both print
 *    the [signal ...] line and the stack (runtime/traceback.c) and exit
 *    2. A fault on a thread that is not an M, or one sent with kill(2),
 *    is passed on to the handler installed before ours (or to the default
 *    action, which dumps core). SA_NODEFER: a fault while printing comes
 *    back here and ends the process (traceback.c, enter_crash).
 *  - SIGQUIT: every goroutine's stack, then exit 2 (Go's SIGQUIT dump),
 *    unless the program installed a handler for it before gort_run.
 *  - SIGURG: asynchronous preemption (runtime/asyncpreempt.c decides).
 *    A SIGURG that is not gort's (not a tgkill from this process that
 *    sysmon announced in the M) goes to the handler installed before
 *    gort_run, if any; SIGURG's default action is to ignore it, so a
 *    stray one never kills the program.
 *  - SIGPIPE: ignored if nobody handles it.
 *  - Notified signals (gort_signal_notify, chan/signal.c): on_notify sets
 *    the signal's bit in a pending mask and writes the notify eventfd;
 *    chan/signal.c's delivery thread reads the fd, takes the mask and
 *    sends to the channels. Here are only the handler, the mask and the
 *    sigaction calls: the first time a signal is notified or ignored its
 *    disposition is saved, and disabling or resetting it puts that back
 *    (Go: sigenable/sigdisable/sigignore with fwdSig).
 *
 * Invariants: the handlers only use async-signal-safe calls (write,
 * _exit, tgkill, libunwind's local unwinding) and read their M through TLS, which is set before the M
 * runs any goroutine; each keeps errno as it found it. Handlers run on
 * the M's alternate stack (SA_ONSTACK) and SIGURG has SA_RESTART, so a
 * system call it interrupts restarts where the kernel allows.
 * Locking: none for the fault and SIGURG handlers; the notify calls are
 * serialised by chan/signal.c's lock (they are never called concurrently).
 * See also: runtime/stack.c (guards), runtime/asyncpreempt.c, peer
 * pitfall 4.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "proc.h"
#include "stack.h"
#include "traceback.h"

enum { ALTSTACK_SIZE = 64 << 10 };

static struct sigaction old_segv, old_bus, old_fpe, old_urg;
static bool installed;

/* fmt_u64 writes v in decimal into buf (async-signal-safe). */
static size_t fmt_u64(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

static void put(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

extern const char __start_gort_text[] __attribute__((visibility("hidden")));
extern const char __stop_gort_text[] __attribute__((visibility("hidden")));

static uintptr_t uc_pc(const void *uc)
{
    const ucontext_t *u = uc;
#if defined(__x86_64__)
    return (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
#else
    return (uintptr_t)u->uc_mcontext.pc;
#endif
}

static void overflow(struct g *gp, siginfo_t *si, void *uc)
{
    char buf[96];
    size_t n = 0;
    const char *a = "runtime: goroutine stack exceeds ";
    memcpy(buf, a, strlen(a));
    n += strlen(a);
    n += fmt_u64(buf + n, gp->stk.hi - gp->stk.lo);
    const char *b = "-byte limit\n";
    memcpy(buf + n, b, strlen(b));
    n += strlen(b);
    put(buf, n);
    struct crash c = {.prefix = "fatal error: ", .msg = "stack overflow",
                      .in_handler = true, .uc = uc, .pc = uc_pc(uc)};
    (void)si;
    gort__dopanic(&c);
}

/* fault_panic is a fault in a goroutine's own code: Go's run-time panic,
 * or for a wild address its "unexpected fault address" throw. */
static void fault_panic(int sig, siginfo_t *si, void *uc)
{
    uintptr_t addr = (uintptr_t)si->si_addr;
    struct crash c = {.prefix = "panic: ", .in_handler = true, .si = si,
                      .uc = uc, .pc = uc_pc(uc)};
    if (sig == SIGFPE) {
        c.msg = si->si_code == FPE_INTDIV ? "runtime error: integer divide "
                                            "by zero"
              : si->si_code == FPE_INTOVF ? "runtime error: integer overflow"
                                          : "runtime error: floating point "
                                            "error";
    } else if (sig == SIGSEGV && addr < 0x1000) {
        c.msg = "runtime error: invalid memory address or nil pointer "
                "dereference";
    } else {
        char buf[64];
        size_t n = 0;
        const char *a = "unexpected fault address 0x";
        memcpy(buf, a, strlen(a));
        n += strlen(a);
        int sh = 60;
        while (sh > 0 && !(addr >> sh))
            sh -= 4;
        for (; sh >= 0; sh -= 4)
            buf[n++] = "0123456789abcdef"[(addr >> sh) & 15];
        buf[n++] = '\n';
        put(buf, n);
        c.prefix = "fatal error: ";
        c.msg = "fault";
        c.runtime = true;
    }
    gort__dopanic(&c);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    struct m *mp = gort__getm();
    struct g *gp = mp ? mp->curg : NULL;
    uintptr_t addr = (uintptr_t)si->si_addr;
    if (gp && sig != SIGFPE && gort__stack_is_guard(gp, addr))
        overflow(gp, si, uc);
    if (mp && si->si_code > 0) { /* raised by the CPU, on one of our Ms */
        uintptr_t pc = uc_pc(uc);
        if (gp && !(pc >= (uintptr_t)__start_gort_text &&
                    pc < (uintptr_t)__stop_gort_text))
            fault_panic(sig, si, uc);
        struct crash c = {.prefix = "fatal error: ",
                          .msg = "unexpected signal during runtime "
                                 "execution",
                          .runtime = true, .in_handler = true, .si = si,
                          .uc = uc, .pc = pc};
        gort__dopanic(&c);
    }
    /* Not ours: hand it to whoever was there before. */
    struct sigaction *old = sig == SIGBUS ? &old_bus
                          : sig == SIGFPE ? &old_fpe : &old_segv;
    if (old->sa_flags & SA_SIGINFO && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN &&
        old->sa_handler) {
        old->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL); /* returning re-executes the fault: core dump */
}

static void on_quit(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    struct crash c = {.msg = "SIGQUIT: quit", .runtime = true,
                      .in_handler = true, .si = si, .uc = uc,
                      .pc = uc_pc(uc)};
    gort__dopanic(&c);
}

/* chain passes a signal that is not ours to the handler installed before
 * ours; the default action and SIG_IGN both mean nothing for SIGURG. */
static void chain(const struct sigaction *old, int sig, siginfo_t *si,
                  void *uc)
{
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction)
            old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN &&
        old->sa_handler)
        old->sa_handler(sig);
}

static void on_urg(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    if (!gort__asyncpreempt_handle(si, uc))
        chain(&old_urg, sig, si, uc);
    errno = saved;
}

bool gort__signal_urg_ours(void)
{
    struct sigaction cur;
    return sigaction(SIGURG, NULL, &cur) == 0 &&
           (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_urg;
}

int gort__signal_init(void)
{
    if (installed)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) ||
        sigaction(SIGBUS, &sa, &old_bus) || sigaction(SIGFPE, &sa, &old_fpe))
        return -errno;
    /* SIGQUIT: unless the program installed a handler of its own. An
     * inherited SIG_IGN is overridden, as Go does (a shell starts
     * background jobs with SIGQUIT ignored; Go respects that only for
     * SIGHUP and SIGINT). */
    struct sigaction quit;
    if (sigaction(SIGQUIT, NULL, &quit) == 0 &&
        !(quit.sa_flags & SA_SIGINFO) &&
        (quit.sa_handler == SIG_DFL || quit.sa_handler == SIG_IGN)) {
        sa.sa_sigaction = on_quit;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigaction(SIGQUIT, &sa, NULL);
    }
    /* SIGURG: SA_RESTART so that a call it lands in (it should land in
     * none: asyncpreempt.c) restarts where the kernel allows. */
    sa.sa_sigaction = on_urg;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    if (sigaction(SIGURG, &sa, &old_urg))
        return -errno;
    /* A peer closing a socket must not kill the process (Go ignores
     * SIGPIPE for non-stdout fds; gort's net calls also use MSG_NOSIGNAL). */
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    struct sigaction cur;
    if (sigaction(SIGPIPE, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL) {
        ign.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ign, NULL);
    }
    installed = true;
    return 0;
}

int gort__signal_m_init(struct m *mp)
{
    void *mem = malloc(ALTSTACK_SIZE);
    if (!mem)
        return -ENOMEM;
    stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        free(mem);
        return -errno;
    }
    mp->altstack = mem;
    return 0;
}

void gort__signal_m_fini(struct m *mp)
{
    if (!mp->altstack)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    free(mp->altstack);
    mp->altstack = NULL;
}

/* ---- Notified signals (gort_signal_notify; chan/signal.c) ---------------- */

/* Bit (sig - 1) of notify_pending: the signal arrived and its delivery has
 * not taken it yet. notify_on: on_notify is sig's handler now. */
static _Atomic uint64_t notify_pending[2], notify_on[2];
static _Atomic int notify_fd = -1;
static struct sigaction notify_saved[NSIG]; /* dispositions before us */
static bool notify_has_saved[NSIG];

static inline uint64_t sigbit(int sig)
{
    return (uint64_t)1 << ((sig - 1) % 64);
}

/* on_notify queues sig (Go: sighandler -> sigsend). Two atomic RMWs and a
 * write(2), so it is safe in any thread at any moment, including threads
 * the runtime does not know, and a burst of one signal costs one bit. */
static void on_notify(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    int saved = errno;
    atomic_fetch_or(&notify_pending[(sig - 1) / 64], sigbit(sig));
    int fd = atomic_load_explicit(&notify_fd, memory_order_acquire);
    if (fd >= 0) {
        uint64_t one = 1;
        /* EAGAIN: the counter is full, a wake-up is pending anyway. */
        while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {
        }
    }
    errno = saved;
}

void gort__signal_notify_setfd(int fd)
{
    atomic_store_explicit(&notify_fd, fd, memory_order_release);
}

/* save_once records sig's disposition the first time gort changes it. */
static int save_once(int sig)
{
    if (notify_has_saved[sig])
        return 0;
    if (sigaction(sig, NULL, &notify_saved[sig]) != 0)
        return -errno;
    notify_has_saved[sig] = true;
    return 0;
}

int gort__signal_notify_enable(int sig)
{
    if (atomic_load(&notify_on[(sig - 1) / 64]) & sigbit(sig))
        return 0;
    int err = save_once(sig);
    if (err)
        return err;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_notify;
    /* SA_RESTART: a read in the program's own code is not cut short by a
     * signal it only asked to hear about on a channel. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0)
        return -errno;
    atomic_fetch_or(&notify_on[(sig - 1) / 64], sigbit(sig));
    return 0;
}

int gort__signal_notify_disable(int sig)
{
    atomic_fetch_and(&notify_on[(sig - 1) / 64], ~sigbit(sig));
    if (!notify_has_saved[sig])
        return 0; /* never touched: nothing to put back */
    return sigaction(sig, &notify_saved[sig], NULL) != 0 ? -errno : 0;
}

int gort__signal_notify_ignore(int sig)
{
    int err = save_once(sig);
    if (err)
        return err;
    atomic_fetch_and(&notify_on[(sig - 1) / 64], ~sigbit(sig));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    return sigaction(sig, &sa, NULL) != 0 ? -errno : 0;
}

bool gort__signal_notify_ignored(int sig)
{
    struct sigaction cur;
    return sigaction(sig, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
           cur.sa_handler == SIG_IGN;
}

uint64_t gort__signal_notify_take(int word)
{
    return atomic_exchange(&notify_pending[word], 0);
}

uint64_t gort__signal_notify_enabled(int word)
{
    return atomic_load(&notify_on[word]);
}

bool gort__signal_notifying(void)
{
    return (atomic_load(&notify_on[0]) | atomic_load(&notify_on[1])) != 0;
}
