/*
 * signal.c: catching stack overflow. Every M gets an alternate signal
 * stack, so the SIGSEGV raised by a goroutine running into its guard
 * region can be handled even though its own stack is exhausted. The
 * handler prints Go's message with the goroutine id and exits; a fault
 * anywhere else is passed on to the handler that was installed before
 * ours (or to the default action, which dumps core).
 *
 * Invariants: the handler only uses async-signal-safe calls (write,
 * _exit) and reads its M through TLS, which is set before the M runs any
 * goroutine.
 * Locking: none.
 * See also: runtime/stack.c (guards), peer pitfall 4.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "stack.h"

enum { ALTSTACK_SIZE = 64 << 10 };

static struct sigaction old_segv, old_bus;
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

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    struct m *mp = gort__getm();
    struct g *gp = mp ? mp->curg : NULL;
    uintptr_t addr = (uintptr_t)si->si_addr;
    if (gp && gort__stack_is_guard(gp, addr)) {
        char buf[160];
        size_t n = 0;
        const char *a = "runtime: goroutine stack exceeds ";
        memcpy(buf, a, strlen(a));
        n += strlen(a);
        n += fmt_u64(buf + n, gp->stk.hi - gp->stk.lo);
        const char *b = "-byte limit\nfatal error: stack overflow\n\n"
                        "goroutine ";
        memcpy(buf + n, b, strlen(b));
        n += strlen(b);
        n += fmt_u64(buf + n, gp->goid);
        const char *c = " [running]\n";
        memcpy(buf + n, c, strlen(c));
        n += strlen(c);
        put(buf, n);
        _exit(2);
    }
    /* Not ours: hand it to whoever was there before. */
    struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
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

int gort__signal_init(void)
{
    if (installed)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) || sigaction(SIGBUS, &sa, &old_bus))
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
