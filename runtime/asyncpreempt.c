/*
 * asyncpreempt.c: asynchronous preemption of goroutines that run a whole
 * time slice without a gort call (Go: preemptM, doSigPreempt,
 * asyncPreempt). Off unless GORT_DEBUG=asyncpreempt=1 or a goroutine asks
 * (gort_async_preempt). docs/scheduler.md, "Asynchronous preemption",
 * states the rule; in brief:
 *
 *  - sysmon signals (SIGURG, tgkill) only the thread of a P that is
 *    P_RUNNING the same goroutine for the whole slice, and only while the
 *    kernel says that thread is on a CPU or runnable ('R' in
 *    /proc/self/task/TID/stat): a thread blocked in the kernel is never
 *    signalled, so no blocking call of the program sees EINTR from us.
 *  - The handler switches only when the goroutine is the one flagged and
 *    still runs on its own stack with room to spare, the M holds no
 *    runtime lock or pin (m.locks), and the interrupted PC lies in the
 *    program's own code: the executable's text minus gort's own section
 *    (gort_text, made by the Makefile), or a library outside the system
 *    directories that is not a known runtime (libc, the loader,
 *    allocators, sanitizers, libgort.so). gort calls program code only
 *    with no runtime lock held (timer callbacks, pool and once functions,
 *    the goroutine's entry), so "PC in program code" implies "no runtime
 *    lock held".
 *  - It then makes the thread return from the signal into the
 *    gort__asyncpreempt trampoline (arch/asyncpreempt_*.S), which saves
 *    every register, calls gort__asyncpreempt_park, and restores them.
 *    The park wires the goroutine to its thread for the switch, so it
 *    resumes there: the compiler may hold a TLS or errno address in any
 *    register at any instruction.
 *
 * Invariants: the handler reads only the published code table (immutable
 * once published; tables replaced by a rescan are kept until _fini),
 * fields of its own M, and its goroutine; it calls nothing but
 * async-signal-safe code. The table is built outside the handler, at
 * start-up and by sysmon when dl_iterate_phdr's counters show a dlopen or
 * dlclose.
 * Locking: none of its own; sysmon is the only writer of the table, and
 * dl_iterate_phdr takes the loader's lock (never from the handler).
 * See also: runtime/signal.c (the handler), runtime/sysmon.c (the hook),
 * arch/asyncpreempt_amd64_sysv.S, arch/asyncpreempt_arm64_aapcs.S.
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#if defined(__aarch64__)
#include <asm/sigcontext.h>
#include <sys/auxv.h>
#endif

#include "../arch/asyncpreempt.h"
#include "fiber.h"
#include "proc.h"

/* gort_async_preempt's choice, per goroutine (struct g.asyncpreempt). */
enum asyncpreempt_mode { ASYNC_DEFAULT = 0, ASYNC_ON = 1, ASYNC_OFF = 2 };

/* Room a preemption needs below the interrupted sp beyond the register
 * block: the park's calls down to the context switch and back (a few
 * hundred bytes; ASan frames are several times larger). A goroutine
 * closer than this to its guard is left alone: it yields at its next
 * gort call as before. */
#ifdef GORT_SAN
#define ROOM_SLACK (24u << 10)
#else
#define ROOM_SLACK (8u << 10)
#endif

/* gort_text: every gort object's code, renamed by the Makefile so that
 * the linker keeps it together and brackets it (in libgort.so these name
 * the library's own section; the whole library is excluded anyway). */
extern const char __start_gort_text[] __attribute__((visibility("hidden")));
extern const char __stop_gort_text[] __attribute__((visibility("hidden")));

/* Read by the amd64 trampoline: the XSAVE feature mask (0: use FXSAVE)
 * and the bytes its save area takes, a multiple of 64. */
uint64_t gort__xsave_mask;
uint64_t gort__xsave_size = 512;

/* The PCs where the last preemptions stopped a goroutine, for tests and
 * debuggers (the handler writes them; AP_PCS_N a power of two). */
#define AP_PCS_N 64
_Atomic uintptr_t gort__asyncpreempt_pcs[AP_PCS_N];
_Atomic uint32_t gort__asyncpreempt_npcs;

struct range {
    uintptr_t lo, hi;
};
/* A published code table: the ranges where preemption may happen,
 * sorted, disjoint. */
struct table {
    unsigned long long adds, subs; /* dl_iterate_phdr's counters */
    struct table *retired;         /* older tables, freed at _fini */
    int n;
    struct range r[];
};

static struct {
    bool usable;            /* this build and CPU can do it */
    pid_t pid;              /* si_pid of our own signals */
    struct table *_Atomic table;
} ap;

/* ---- The code table -------------------------------------------------------- */

/* system_object: code the rule forbids, by path: anything under the
 * system library directories (libc, the loader, libm, jemalloc, the
 * sanitizer runtimes, test runners...), the vDSO, and the runtimes named
 * here wherever they are installed. Conservative: a program library
 * installed in /usr/lib is not preempted in, which costs latency only. */
static bool system_object(const char *name)
{
    static const char *const dirs[] = {"/lib/", "/lib32/", "/lib64/",
                                       "/usr/lib", "/usr/libexec/",
                                       "/usr/local/lib/"};
    static const char *const libs[] = {
        "ld-", "libc.", "libc-", "libpthread", "libm.", "libm-", "libdl",
        "librt", "libjemalloc", "libtcmalloc", "libmimalloc", "libgort",
        "libasan", "libtsan", "libubsan", "liblsan", "libgcc_s",
        "libstdc++", "libunwind", "linux-vdso", "linux-gate"};
    if (!name || !*name)
        return false; /* the executable */
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (strstr(name, dirs[i]))
            return true;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
        if (strncmp(base, libs[i], strlen(libs[i])) == 0)
            return true;
    return false;
}

struct scan {
    struct table *t;        /* NULL: count only */
    int n;
    unsigned long long adds, subs;
    bool first;
};

static void scan_add(struct scan *s, uintptr_t lo, uintptr_t hi)
{
    if (lo >= hi)
        return;
    if (s->t) {
        s->t->r[s->n].lo = lo;
        s->t->r[s->n].hi = hi;
    }
    s->n++;
}

static int scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct scan *s = arg;
    if (s->first) {
        s->first = false;
        if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
                        sizeof info->dlpi_subs) {
            s->adds = info->dlpi_adds;
            s->subs = info->dlpi_subs;
        }
    }
    /* The vDSO has no path; the executable's name is empty and it comes
     * first. */
    bool exe = info->dlpi_name == NULL || info->dlpi_name[0] == '\0';
    if (system_object(info->dlpi_name))
        return 0;
    uintptr_t glo = (uintptr_t)__start_gort_text;
    uintptr_t ghi = (uintptr_t)__stop_gort_text;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        uintptr_t hi = lo + ph->p_memsz;
        if (glo < hi && ghi > lo) {
            if (!exe)
                return 0; /* libgort.so under another name: all of it */
            scan_add(s, lo, glo); /* the executable, minus gort_text */
            scan_add(s, ghi, hi);
        } else {
            scan_add(s, lo, hi);
        }
    }
    return 0;
}

static int range_cmp(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* build_table scans the loaded objects; NULL if out of memory. The vDSO
 * is skipped by name (linux-vdso.so.1) when the loader names it, and it
 * is never code a goroutine spins in for a slice anyway. */
static struct table *build_table(void)
{
    for (int tries = 0; tries < 4; tries++) {
        struct scan s = {.first = true};
        dl_iterate_phdr(scan_object, &s);
        int cap = s.n + 8; /* objects loaded between the two passes */
        struct table *t = calloc(1, sizeof *t + (size_t)cap * sizeof t->r[0]);
        if (!t)
            return NULL;
        struct scan f = {.t = t, .first = true};
        dl_iterate_phdr(scan_object, &f);
        if (f.n > cap) {
            free(t);
            continue;
        }
        t->n = f.n;
        t->adds = f.adds;
        t->subs = f.subs;
        qsort(t->r, (size_t)t->n, sizeof t->r[0], range_cmp);
        return t;
    }
    return NULL;
}

static int read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
    unsigned long long *c = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
                    sizeof info->dlpi_subs) {
        c[0] = info->dlpi_adds;
        c[1] = info->dlpi_subs;
    }
    return 1; /* the first object carries the counters: stop */
}

/* refresh_table rebuilds the table if an object came or went since it was
 * built (sysmon only). */
static void refresh_table(void)
{
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(read_counters, c);
    struct table *old = atomic_load_explicit(&ap.table, memory_order_relaxed);
    if (old && old->adds == c[0] && old->subs == c[1])
        return;
    struct table *t = build_table();
    if (!t)
        return;
    t->retired = old;
    /* store-release; pairs with the handler's load-acquire. */
    atomic_store_explicit(&ap.table, t, memory_order_release);
}

/* pc_allowed: pc lies in the program's own code (async-signal-safe). */
static bool pc_allowed(uintptr_t pc)
{
    /* load-acquire; pairs with refresh_table's store-release. */
    const struct table *t =
        atomic_load_explicit(&ap.table, memory_order_acquire);
    if (!t)
        return false;
    int lo = 0, hi = t->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (pc < t->r[mid].lo)
            hi = mid;
        else if (pc >= t->r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* ---- CPU state ------------------------------------------------------------- */

#if defined(__x86_64__)
static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

/* xsave_setup picks what the trampoline saves: with OS-enabled XSAVE,
 * the x87, SSE, AVX and AVX-512 components XCR0 enables (not AMX tiles,
 * whose 8 KiB a compiler never holds live across arbitrary code, nor
 * PKRU or MPX); else FXSAVE's 512 bytes (x87 and SSE). The size is
 * where the highest saved component ends in the standard layout
 * (CPUID leaf 0xD). */
static void xsave_setup(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    uint32_t maxleaf = r[0];
    cpuid(1, 0, r);
    bool osxsave = (r[2] >> 27) & 1;
    if (!osxsave || maxleaf < 0xD) {
        gort__xsave_mask = 0;
        gort__xsave_size = 512;
        return;
    }
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    uint64_t mask = ((uint64_t)hi << 32 | lo) & 0xE7; /* bits 0-2, 5-7 */
    uint64_t size = 576; /* legacy area and header */
    for (uint32_t i = 2; i < 8; i++) {
        if (!(mask >> i & 1))
            continue;
        cpuid(0xD, i, r);
        if (r[0] + r[1] > size)
            size = r[0] + r[1];
    }
    gort__xsave_mask = mask;
    gort__xsave_size = (size + 63) & ~(uint64_t)63;
}

/* The block the trampoline pushes below the red zone before its save
 * area: return address, flags, 15 registers, alignment. */
#define FRAME_FIXED (128 + 8 + 8 + 15 * 8 + 64)
#define FRAME_BYTES() (FRAME_FIXED + gort__xsave_size)

#elif defined(__aarch64__)
#define FRAME_BYTES() ((uint64_t)AP_ARM64_FRAME)
/* fpsimd_record finds the FP/SIMD record in a signal frame, or NULL;
 * *sve is set when an SVE record carries register data. */
static struct fpsimd_context *fpsimd_record(ucontext_t *uc, bool *sve)
{
    unsigned char *p = (unsigned char *)uc->uc_mcontext.__reserved;
    unsigned char *end = p + sizeof uc->uc_mcontext.__reserved;
    struct fpsimd_context *fp = NULL;
    *sve = false;
    while (p + sizeof(struct _aarch64_ctx) <= end) {
        struct _aarch64_ctx *h = (struct _aarch64_ctx *)p;
        if (h->magic == 0 || h->size == 0)
            break;
        if (h->magic == FPSIMD_MAGIC)
            fp = (struct fpsimd_context *)p;
#ifdef SVE_MAGIC
        if (h->magic == SVE_MAGIC && h->size > sizeof(struct sve_context))
            *sve = true;
#endif
        p += h->size;
    }
    return fp;
}
#endif

/* ---- Set-up ------------------------------------------------------------------ */

void gort__asyncpreempt_init(void)
{
    ap.pid = getpid();
#if defined(__x86_64__)
    xsave_setup();
#endif
#if defined(GORT_TSAN)
    /* TSan runs a signal handler at its next interceptor or sync point,
     * not where the signal landed, and on a copy of the context: the
     * handler cannot redirect the thread. */
    ap.usable = false;
    if (gort__debug.asyncpreempt)
        fprintf(stderr, "gort: GORT_DEBUG=asyncpreempt=1: not available "
                "under TSan, ignored\n");
    return;
#elif defined(__aarch64__)
#ifdef HWCAP_SVE
    if (getauxval(AT_HWCAP) & HWCAP_SVE) {
        /* An SVE thread's signal frame carries its Z registers apart
         * from the FP/SIMD record this file saves and reloads. */
        ap.usable = false;
        if (gort__debug.asyncpreempt)
            fprintf(stderr, "gort: GORT_DEBUG=asyncpreempt=1: not "
                    "available on SVE CPUs yet, ignored\n");
        return;
    }
#endif
#endif
    if (sigismember(&gort__sigmask, SIGURG) == 1) {
        /* Blocked in every M: a signal would wait for who knows when. */
        ap.usable = false;
        if (gort__debug.asyncpreempt)
            fprintf(stderr, "gort: GORT_DEBUG=asyncpreempt=1: SIGURG is "
                    "blocked in the thread that called gort_run, ignored\n");
        return;
    }
    if (!atomic_load_explicit(&ap.table, memory_order_relaxed))
        atomic_store(&ap.table, build_table());
    ap.usable = atomic_load(&ap.table) != NULL;
}

void gort__asyncpreempt_fini(void)
{
    struct table *t = atomic_exchange(&ap.table, NULL);
    while (t) {
        struct table *next = t->retired;
        free(t);
        t = next;
    }
    ap.usable = false;
}

/* ---- sysmon's side --------------------------------------------------------- */

static bool enabled_for(struct g *gp)
{
    uint8_t mode = atomic_load_explicit(&gp->asyncpreempt,
                                        memory_order_relaxed);
    return mode == ASYNC_ON || (mode == ASYNC_DEFAULT &&
                                gort__debug.asyncpreempt);
}

bool gort__asyncpreempt_signal(struct p *pp, struct g *gp)
{
    if (!ap.usable || !enabled_for(gp))
        return false;
    struct m *mp = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    if (!mp || atomic_load(&pp->status) != P_RUNNING ||
        __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE) != gp)
        return false;
    int32_t tid = atomic_load_explicit(&mp->tid, memory_order_acquire);
    if (tid <= 0 || !gort__signal_urg_ours() || gort__thread_state(tid) != 'R')
        return false;
    refresh_table();
    atomic_store_explicit(&mp->urg_g, gp, memory_order_relaxed);
    /* fetch_add-release: the handler's exchange-acquire sees urg_g. */
    atomic_fetch_add_explicit(&mp->urg_sent, 1, memory_order_release);
    if (syscall(SYS_tgkill, ap.pid, tid, SIGURG) != 0) {
        atomic_store(&mp->urg_sent, 0);
        return false;
    }
    atomic_fetch_add_explicit(&gort__sched.nasyncsignals, 1,
                              memory_order_relaxed);
    return true;
}

/* ---- The handler's side --------------------------------------------------- */

static void note_pc(uintptr_t pc)
{
    uint32_t i = atomic_fetch_add_explicit(&gort__asyncpreempt_npcs, 1,
                                           memory_order_relaxed);
    atomic_store_explicit(&gort__asyncpreempt_pcs[i % AP_PCS_N], pc,
                          memory_order_relaxed);
}

#if defined(__aarch64__)
/* resume_here reloads the registers the trampoline's block holds into a
 * resume signal's context: returning from the handler continues the
 * goroutine exactly where the first signal stopped it. */
static void resume_here(ucontext_t *uc, const uint64_t *blk)
{
    mcontext_t *mc = &uc->uc_mcontext;
    for (int i = 0; i < 31; i++)
        mc->regs[i] = blk[AP_X0 / 8 + i];
    mc->sp = blk[AP_SP / 8];
    mc->pc = blk[AP_PC / 8];
    mc->pstate = blk[AP_PSTATE / 8];
    bool sve;
    struct fpsimd_context *fp = fpsimd_record(uc, &sve);
    if (fp) {
        fp->fpsr = (uint32_t)blk[AP_FPSR / 8];
        fp->fpcr = (uint32_t)(blk[AP_FPSR / 8] >> 32);
        memcpy(fp->vregs, (const unsigned char *)blk + AP_Q0,
               sizeof fp->vregs);
    }
}
#endif

/* safe_to_switch applies the rule's checks to the interrupted state. */
static bool safe_to_switch(struct m *mp, struct g *gp, uintptr_t pc,
                           uintptr_t sp)
{
    struct p *pp = mp->p;
    if (!gp || gp != atomic_load_explicit(&mp->urg_g, memory_order_relaxed))
        return false;
    if (!atomic_load_explicit(&gp->preempt, memory_order_relaxed) ||
        atomic_load_explicit(&gp->status, memory_order_relaxed) !=
            G_RUNNING ||
        gp->m != mp || mp->locks != 0 || !pp || pp->m != mp ||
        atomic_load_explicit(&pp->status, memory_order_relaxed) != P_RUNNING)
        return false;
    if ((mp->lockedg && mp->lockedg != gp) ||
        (gp->lockedm && gp->lockedm != mp))
        return false;
    /* On its own stack, with room for the block and the park. */
    if (sp > gp->stk.hi || sp < gp->stk.lo ||
        sp - gp->stk.lo < FRAME_BYTES() + ROOM_SLACK)
        return false;
    return pc_allowed(pc);
}

bool gort__asyncpreempt_handle(siginfo_t *si, void *ucv)
{
    struct m *mp = gort__getm();
    if (!mp || si->si_code != SI_TKILL || si->si_pid != ap.pid)
        return false;
    ucontext_t *uc = ucv;
#if defined(__aarch64__)
    if (mp->urg_resume) {
        resume_here(uc, mp->urg_resume);
        mp->urg_resume = NULL;
        return true;
    }
#endif
    /* exchange-acquire; pairs with sysmon's fetch_add-release. */
    if (atomic_exchange_explicit(&mp->urg_sent, 0, memory_order_acquire) == 0)
        return false; /* the program's own SIGURG */
    struct g *gp = mp->curg;
#if defined(__x86_64__)
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (!safe_to_switch(mp, gp, pc, sp))
        return true;
    /* Below the red zone, the interrupted PC as a return address: the
     * trampoline looks called from there, and `ret $128` goes back. */
    note_pc(pc);
    sp -= 128 + 8;
    *(uintptr_t *)sp = pc;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)gort__asyncpreempt;
#elif defined(__aarch64__)
    mcontext_t *mc = &uc->uc_mcontext;
    uintptr_t pc = mc->pc, sp = mc->sp;
    bool sve;
    struct fpsimd_context *fp = fpsimd_record(uc, &sve);
    if (!fp || sve || !safe_to_switch(mp, gp, pc, sp))
        return true;
    note_pc(pc);
    /* AAPCS64 has no red zone; keep sp 16-byte aligned. */
    uint64_t *blk = (uint64_t *)((sp - AP_ARM64_FRAME) & ~(uintptr_t)15);
    for (int i = 0; i < 31; i++)
        blk[AP_X0 / 8 + i] = mc->regs[i];
    blk[AP_SP / 8] = sp;
    blk[AP_PC / 8] = pc;
    blk[AP_PSTATE / 8] = mc->pstate;
    blk[AP_FPSR / 8] = (uint64_t)fp->fpcr << 32 | fp->fpsr;
    memcpy((unsigned char *)blk + AP_Q0, fp->vregs, sizeof fp->vregs);
    /* A frame record naming the interrupted PC, for unwinders. */
    blk[AP_FRAME / 8] = mc->regs[29];
    blk[AP_FRAME / 8 + 1] = pc;
    mc->regs[29] = (uint64_t)(uintptr_t)(blk + AP_FRAME / 8);
    mc->regs[30] = pc;
    mc->sp = (uint64_t)(uintptr_t)blk;
    mc->pc = (uint64_t)(uintptr_t)gort__asyncpreempt;
#endif
    return true;
}

/* ---- The goroutine's side --------------------------------------------------- */

/*
 * gort__asyncpreempt_park runs on the goroutine's stack, called by the
 * trampoline with every register saved. It wires the goroutine to this
 * thread for the switch (as gort_lock_os_thread does: the scheduler hands
 * the P away and parks the M until the goroutine is chosen again, then
 * hands the P to this M), yields it as an ordinary end of slice does, and
 * unwires it unless the program had wired it itself.
 */
void gort__asyncpreempt_park(void)
{
    struct m *mp = gort__getm();
    struct g *gp = mp->curg;
    bool wired = gp->lockcount > 0;
    /* Wired before the runtime is entered: if sysmon took the P while the
     * thread sat in a page fault, the way back (gort__rt_revoked) also
     * resumes the goroutine on this thread. */
    gp->lockedm = mp;
    mp->lockedg = gp;
    {
        RT_ENTRY();
        atomic_fetch_add_explicit(&gort__sched.nasyncpreempts, 1,
                                  memory_order_relaxed);
        gort__preempt_park();
    }
    if (gort__getm() != mp)
        gort__throw("asyncpreempt: goroutine resumed on another thread");
    if (!wired) {
        gp->lockedm = NULL;
        mp->lockedg = NULL;
    }
}

#if defined(__aarch64__)
/* gort__asyncpreempt_resume reloads the block at blk through a second
 * signal: AAPCS64 leaves no register free to branch through once all
 * are restored (Go reserves R27; C code may use every one), so the
 * kernel's sigreturn restores them all at once. */
_Noreturn void gort__asyncpreempt_resume(void *blk)
{
    struct m *mp = gort__getm();
    mp->urg_resume = blk;
    syscall(SYS_tgkill, ap.pid, (pid_t)atomic_load(&mp->tid), SIGURG);
    gort__throw("asyncpreempt: the resume signal returned");
}
#endif

bool gort_async_preempt(bool on)
{
    struct g *gp = gort__getg();
#if defined(GORT_TSAN)
    (void)on;
    (void)gp;
    return false;
#else
    if (!gp)
        return false;
    bool was = enabled_for(gp);
    atomic_store_explicit(&gp->asyncpreempt, on ? ASYNC_ON : ASYNC_OFF,
                          memory_order_relaxed);
    return was;
#endif
}
