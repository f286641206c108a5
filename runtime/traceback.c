/*
 * traceback.c: printing goroutines as Go does, and the crash paths that
 * use it (Go: traceback.go, panic.go's dopanic_m and fatalthrow).
 *
 *   goroutine 7 [chan receive, locked to thread]:
 *   gort_chan_recv(...)
 *   	/src/gort/chan/chan.c:412 +0x5e
 *   worker(...)
 *   	/src/app/main.c:20 +0x1c
 *   created by main_fn in goroutine 1
 *   	/src/app/main.c:31 +0x33
 *
 * Frames come from libunwind (DWARF CFI, so code built without frame
 * pointers unwinds too): the running goroutine from its own registers or
 * from the signal's ucontext, a parked or runnable one from the frame its
 * last gort__ctx_switch pushed (arch/context.h), turned into a context
 * libunwind starts from. Names and lines come from runtime/symtab.c.
 *
 * GORT_TRACEBACK (Go's GOTRACEBACK): none (messages only), single (the
 * failing goroutine; the default), all (every goroutine), system (also
 * gort's own frames), crash (system, then abort for a core dump). Runtime
 * fatal errors print every goroutine with gort's frames, as Go's throw
 * does; a fatal error raised on g0 (the deadlock report) prints every
 * goroutine at the level asked for.
 *
 * Invariants: everything here is async-signal-safe once the symbol
 * tables exist (write(2) through a stack buffer, lock-free reads of the
 * G descriptors and of the published tables); only gort__dopanic from a
 * normal context prepares the tables first. A goroutine another thread
 * resumes while it is being printed may show a torn stack: a dump of a
 * running program is best effort, as Go's is for the goroutines it
 * cannot stop; the deadlock report, taken with every M idle, is exact.
 * Locking: none. The first thread to crash prints; others crashing meanwhile
 * wait; a fault while printing ends the process at once.
 * See also: runtime/symtab.c, runtime/signal.c, docs/debugging.md.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "proc.h"
#include "symtab.h"
#include "traceback.h"

#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<libunwind.h>)
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#define GORT_HAVE_LIBUNWIND 1
#endif
#endif
#ifndef GORT_HAVE_LIBUNWIND
#define GORT_HAVE_LIBUNWIND 0
#endif

/* gort_text (Makefile): every gort object's code, for telling gort's
 * frames from the user's. */
extern const char __start_gort_text[] __attribute__((visibility("hidden")));
extern const char __stop_gort_text[] __attribute__((visibility("hidden")));

/* The gdb commands (tools/gdb/gort-gdb.py) travel inside every program
 * linked with gort: gdb runs an inlined script (kind 4) it finds in the
 * .debug_gdb_scripts section of an objfile in its auto-load safe-path.
 * This object is always linked (gort__throw lives here). The path is
 * relative to the top of the tree, where make runs the compiler. */
__asm__(".pushsection .debug_gdb_scripts, \"MS\", @progbits, 1\n"
        ".byte 4\n"
        ".ascii \"gdb.inlined-script\\n\"\n"
        ".incbin \"tools/gdb/gort-gdb.py\"\n"
        ".byte 0\n"
        ".popsection\n");

enum { MAX_FRAMES = 100 }; /* Go's tracebacks stop at 100 frames too */

static int tb_level = -1; /* enum tb_level; -1: not parsed yet */

/* ---- Output -------------------------------------------------------------- */

struct out {
    char buf[512];
    size_t n;
};

static void out_flush(struct out *o)
{
    const char *p = o->buf;
    while (o->n > 0) {
        ssize_t w = write(2, p, o->n);
        if (w <= 0)
            break;
        p += w;
        o->n -= (size_t)w;
    }
    o->n = 0;
}

static void out_str(struct out *o, const char *s)
{
    for (; s && *s; s++) {
        if (o->n == sizeof o->buf)
            out_flush(o);
        o->buf[o->n++] = *s;
    }
}

static void out_u64(struct out *o, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp;
    tmp[--n] = '\0';
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_str(o, tmp + n);
}

static void out_hex(struct out *o, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp;
    tmp[--n] = '\0';
    do {
        tmp[--n] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    tmp[--n] = 'x';
    tmp[--n] = '0';
    out_str(o, tmp + n);
}

/* ---- Levels -------------------------------------------------------------- */

static int parse_level(void)
{
    const char *e = getenv("GORT_TRACEBACK");
    if (!e || !*e || !strcmp(e, "single") || !strcmp(e, "1"))
        return TB_SINGLE;
    if (!strcmp(e, "none") || !strcmp(e, "0"))
        return TB_NONE;
    if (!strcmp(e, "all") || !strcmp(e, "2"))
        return TB_ALL;
    if (!strcmp(e, "system"))
        return TB_SYSTEM;
    if (!strcmp(e, "crash"))
        return TB_CRASH;
    return TB_SINGLE;
}

int gort__traceback_level(void)
{
    if (tb_level < 0) /* before gort_run: getenv is read-only here */
        tb_level = parse_level();
    return tb_level;
}

void gort__traceback_init(void)
{
    tb_level = parse_level();
    gort__symtab_init(tb_level != TB_NONE);
}

/* ---- Frames -------------------------------------------------------------- */

/* print_loc prints "\tfile:line +0xoff" for pc (the frame's pc; look is
 * the address looked up: pc - 1 for return addresses). */
static void print_loc(struct out *o, uintptr_t pc, const struct symloc *loc)
{
    out_str(o, "\t");
    if (loc->file) {
        out_str(o, loc->file);
        out_str(o, ":");
        out_u64(o, loc->line);
    } else if (loc->module) {
        out_str(o, loc->module);
        out_str(o, "+");
        out_hex(o, loc->modoff);
    } else {
        out_str(o, "?");
    }
    if (loc->func) {
        out_str(o, " +");
        out_hex(o, pc - loc->entry);
    }
    if (!loc->file) {
        out_str(o, " pc=");
        out_hex(o, pc);
    }
    out_str(o, "\n");
}

static void print_frame(struct out *o, uintptr_t pc, bool exact)
{
    struct symloc loc;
    gort__symtab_lookup(exact ? pc : pc - 1, &loc);
    out_str(o, loc.func ? loc.func : "?");
    out_str(o, "(...)\n");
    print_loc(o, pc, &loc);
}

#if GORT_HAVE_LIBUNWIND
static bool in_gort(uintptr_t pc)
{
    return pc >= (uintptr_t)__start_gort_text &&
           pc < (uintptr_t)__stop_gort_text;
}

/* A frame of gort's own code is shown only at level system and above,
 * except the public API (gort_ but not gort__), the user's way in: as Go
 * shows exported runtime functions. */
static bool show_frame(uintptr_t pc, const struct symloc *loc, bool system)
{
    if (system || !in_gort(pc))
        return true;
    return loc->func && !strncmp(loc->func, "gort_", 5) &&
           strncmp(loc->func, "gort__", 6) != 0;
}

/* walk prints the frames of the cursor's stack, innermost first; the
 * first pc is exact (a signal's faulting instruction) or a return
 * address. Returns the number printed. */
static int walk(struct out *o, unw_cursor_t *cur, bool exact, bool system)
{
    int shown = 0;
    for (int i = 0; i < MAX_FRAMES * 4; i++) {
        unw_word_t ip = 0;
        if (unw_get_reg(cur, UNW_REG_IP, &ip) || ip == 0)
            break;
        bool first_exact = exact && i == 0;
        struct symloc loc;
        gort__symtab_lookup(first_exact ? ip : ip - 1, &loc);
        if (show_frame(ip, &loc, system)) {
            if (shown == MAX_FRAMES) {
                out_str(o, "...additional frames elided...\n");
                break;
            }
            print_frame(o, ip, first_exact);
            shown++;
        }
        if (unw_step(cur) <= 0)
            break;
    }
    return shown;
}

/* walk_ctx unwinds a goroutine that is not running from the frame its
 * last switch pushed (arch/context.h): the resume pc, the stack pointer
 * above the frame and the callee-saved registers, which is all the CFI of
 * the functions above needs. */
static void walk_ctx(struct out *o, const struct gort_ctx *ctx, bool system)
{
    const unsigned char *f = ctx->sp;
    if (!f)
        return;
    uint64_t r[8];
    memcpy(r, f, sizeof r);
    if ((uintptr_t)r[CTX_RIP / 8] == (uintptr_t)gort__ctx_start)
        return; /* never ran: nothing on its stack yet */
    unw_context_t uc;
    memset(&uc, 0, sizeof uc);
    greg_t *g = uc.uc_mcontext.gregs;
    g[REG_R15] = (greg_t)r[CTX_R15 / 8];
    g[REG_R14] = (greg_t)r[CTX_R14 / 8];
    g[REG_R13] = (greg_t)r[CTX_R13 / 8];
    g[REG_R12] = (greg_t)r[CTX_R12 / 8];
    g[REG_RBX] = (greg_t)r[CTX_RBX / 8];
    g[REG_RBP] = (greg_t)r[CTX_RBP / 8];
    g[REG_RIP] = (greg_t)r[CTX_RIP / 8];
    g[REG_RSP] = (greg_t)((uintptr_t)f + CTX_FRAME);
    unw_cursor_t cur;
    if (unw_init_local(&cur, &uc) == 0)
        walk(o, &cur, false, system);
}

static void walk_uc(struct out *o, void *uc, bool system)
{
    unw_cursor_t cur;
    if (unw_init_local2(&cur, uc, UNW_INIT_SIGNAL_FRAME) == 0)
        walk(o, &cur, true, system);
}

static void walk_self(struct out *o, bool system)
{
    unw_context_t uc;
    unw_cursor_t cur;
    if (unw_getcontext(&uc) == 0 && unw_init_local(&cur, &uc) == 0)
        walk(o, &cur, false, system);
}
#else
/* Without libunwind (a cross build): the one pc known for sure. */
static void walk_ctx(struct out *o, const struct gort_ctx *ctx, bool system)
{
    (void)system;
    uintptr_t pc;
    if (!ctx->sp)
        return;
#if defined(__x86_64__)
    memcpy(&pc, (const char *)ctx->sp + CTX_RIP, sizeof pc);
#else
    memcpy(&pc, (const char *)ctx->sp + CTX_LR, sizeof pc);
#endif
    if (pc != (uintptr_t)gort__ctx_start)
        print_frame(o, pc, false);
}

static void walk_uc(struct out *o, void *uc, bool system)
{
    (void)system;
    ucontext_t *u = uc;
#if defined(__x86_64__)
    print_frame(o, (uintptr_t)u->uc_mcontext.gregs[REG_RIP], true);
#else
    print_frame(o, (uintptr_t)u->uc_mcontext.pc, true);
#endif
}

static void walk_self(struct out *o, bool system)
{
    (void)o;
    (void)system;
}
#endif

/* ---- Goroutines ---------------------------------------------------------- */

static const char *status_str(const struct g *gp, uint32_t st)
{
    switch (st) {
    case G_IDLE:
        return "idle";
    case G_RUNNABLE:
        return "runnable";
    case G_RUNNING:
        return "running";
    case G_SYSCALL:
        return "syscall";
    case G_WAITING:
        return gort__waitreason_str((enum waitreason)gp->waitreason);
    default:
        return "dead";
    }
}

static void header(struct out *o, struct g *gp, uint32_t st)
{
    out_str(o, "goroutine ");
    out_u64(o, gp->goid);
    out_str(o, " [");
    out_str(o, status_str(gp, st));
    int64_t since = atomic_load_explicit(&gp->waitsince,
                                         memory_order_relaxed);
    if (st == G_WAITING && since > 0) {
        int64_t min = (gort__nanotime() - since) / 60000000000LL;
        if (min >= 1) { /* Go prints "1 minutes" too */
            out_str(o, ", ");
            out_u64(o, (uint64_t)min);
            out_str(o, " minutes");
        }
    }
    if (gp->lockedm)
        out_str(o, ", locked to thread");
    out_str(o, "]:\n");
}

static void created_by(struct out *o, const struct g *gp)
{
    if (!gp->gopc)
        return;
    struct symloc loc;
    gort__symtab_lookup(gp->gopc - 1, &loc);
    out_str(o, "created by ");
    out_str(o, loc.func ? loc.func : "?");
    if (gp->parentgoid) {
        out_str(o, " in goroutine ");
        out_u64(o, gp->parentgoid);
    }
    out_str(o, "\n");
    print_loc(o, gp->gopc, &loc);
}

void gort__traceback_g(struct g *gp, void *uc, bool system)
{
    struct out o = {.n = 0};
    uint32_t st = atomic_load_explicit(&gp->status, memory_order_acquire);
    struct g *self = gort__getg();
    header(&o, gp, gp == self ? G_RUNNING : st);
    if (gp == self) {
        if (uc)
            walk_uc(&o, uc, system);
        else
            walk_self(&o, system);
    } else if (st == G_RUNNING || st == G_SYSCALL) {
        out_str(&o, "\tgoroutine running on other thread; stack "
                    "unavailable\n");
    } else if ((st == G_RUNNABLE || st == G_WAITING) && gp->stk.hi) {
        /* No stack yet: it never ran, and ctx is a previous life's. */
        walk_ctx(&o, &gp->ctx, system);
    }
    created_by(&o, gp);
    out_flush(&o);
}

struct others {
    struct g *skip;
    bool system;
};

static void other(struct g *gp, void *arg)
{
    struct others *a = arg;
    uint32_t st = atomic_load_explicit(&gp->status, memory_order_acquire);
    if (gp == a->skip || st == G_DEAD || st == G_IDLE || gp->goid == 0)
        return;
    struct out o = {.n = 0};
    out_str(&o, "\n");
    out_flush(&o);
    gort__traceback_g(gp, NULL, a->system);
}

void gort__traceback_all(struct g *skip, bool system)
{
    struct others a = {skip, system};
    gort__forallg(other, &a);
}

/* ---- Crashing ------------------------------------------------------------ */

static struct m *_Atomic crashing; /* the M (or 1) printing a crash */

static const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV: segmentation violation";
    case SIGBUS:
        return "SIGBUS: bus error";
    case SIGFPE:
        return "SIGFPE: floating-point exception";
    case SIGILL:
        return "SIGILL: illegal instruction";
    case SIGQUIT:
        return "SIGQUIT: quit";
    default:
        return "signal";
    }
}

/* enter_crash lets one thread print; a second crash on the same thread
 * (a fault while printing) exits at once, one on another thread waits. */
static void enter_crash(void)
{
    struct m *me = gort__getm();
    struct m *want = NULL;
    struct m *tag = me ? me : (struct m *)1;
    if (atomic_compare_exchange_strong(&crashing, &want, tag))
        return;
    if (want == tag) {
        static const char msg[] = "fatal error: fault while printing a "
                                  "traceback\n";
        ssize_t r = write(2, msg, sizeof msg - 1);
        (void)r;
        _exit(2);
    }
    for (;;)
        pause();
}

_Noreturn static void finish(int level)
{
    if (level >= TB_CRASH) {
        /* Go's GOTRACEBACK=crash: die by SIGABRT so the system can take
         * a core dump. */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGABRT, &sa, NULL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGABRT);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        raise(SIGABRT);
    }
    _exit(2);
}

_Noreturn void gort__dopanic(const struct crash *c)
{
    enter_crash();
    int level = gort__traceback_level();
    if (!c->in_handler) {
        fflush(stdout);
        fflush(stderr);
        if (level > TB_NONE)
            gort__symtab_prepare();
    } else if (level > TB_NONE) {
        gort__symtab_wait(10000000000);
    }
    struct out o = {.n = 0};
    if (c->prefix)
        out_str(&o, c->prefix);
    out_str(&o, c->msg);
    out_str(&o, "\n");
    if (c->si && c->si->si_signo == SIGQUIT) {
        struct m *mp = gort__getm();
        out_str(&o, "PC=");
        out_hex(&o, c->pc);
        out_str(&o, " m=");
        if (mp)
            out_u64(&o, (uint64_t)mp->id);
        else
            out_str(&o, "?");
        out_str(&o, " sigcode=");
        out_u64(&o, (uint64_t)(int64_t)c->si->si_code);
        out_str(&o, "\n");
    } else if (c->si) {
        out_str(&o, "[signal ");
        out_str(&o, signame(c->si->si_signo));
        out_str(&o, " code=");
        out_hex(&o, (uint64_t)(int64_t)c->si->si_code);
        out_str(&o, " addr=");
        out_hex(&o, (uintptr_t)c->si->si_addr);
        out_str(&o, " pc=");
        out_hex(&o, c->pc);
        out_str(&o, "]\n");
    }
    out_flush(&o);
    if (c->schedtrace)
        gort__schedtrace(true, true);
    if (level == TB_NONE)
        _exit(2);
    /* A runtime throw shows gort's frames and every goroutine (Go's
     * throw); a fatal error raised on g0 shows every goroutine. */
    bool system = level >= TB_SYSTEM || c->runtime;
    bool all = level >= TB_ALL || c->runtime || c->all;
    struct g *self = gort__getg();
    if (self) {
        out_str(&o, "\n");
        out_flush(&o);
        gort__traceback_g(self, c->uc, system);
    } else if (system && gort__getm()) {
        out_str(&o, "\nruntime stack:\n");
        out_flush(&o);
        if (c->uc)
            walk_uc(&o, c->uc, true);
        else
            walk_self(&o, true);
        out_flush(&o);
    }
    if (all || !self)
        gort__traceback_all(self, system);
    finish(level);
}

_Noreturn void gort__throw(const char *msg)
{
    struct crash c = {.prefix = "fatal error: ", .msg = msg, .runtime = true,
                      .schedtrace = gort__debug.scheddetail};
    gort__dopanic(&c);
}

_Noreturn void gort__fatal(const char *msg)
{
    struct crash c = {.prefix = "fatal error: ", .msg = msg,
                      .schedtrace = gort__debug.scheddetail};
    gort__dopanic(&c);
}

#ifdef GORT_FUZZ
/* The fuzz build only (make fuzz defines GORT_FUZZ; docs/fuzzing.md): a
 * target that checks Go's panics against a model sets this hook, and a
 * panic raised by a goroutine holding no runtime lock calls it and then
 * ends that goroutine (gort_goexit) instead of the process, so that
 * libFuzzer does not count an expected "exit 2" as a crash. Every panic
 * site in chan/ and sync/ drops its locks first. */
void (*gort__fuzz_panic_hook)(const char *msg);
#endif

_Noreturn void gort__panic(const char *msg)
{
#ifdef GORT_FUZZ
    struct m *mp = gort__getm();
    if (gort__fuzz_panic_hook && gort__getg() && mp && mp->locks == 0) {
        gort__fuzz_panic_hook(msg);
        gort_goexit();
    }
#endif
    struct crash c = {.prefix = "panic: ", .msg = msg};
    gort__dopanic(&c);
}
