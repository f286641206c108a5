/*
 * ctx_smoke.c: smoke test of the bare context switch (arch/context.h) with
 * no runtime: it links only arch/context_$(ARCH).c and the switch .S, so it
 * runs natively and under qemu-user for another architecture
 * (tools/cross-arm64.sh). Plain C; only the register check has an #if per
 * architecture. Prints "ctx_smoke (<arch>): N passed, M failed", exits 0
 * only if nothing failed.
 *
 * Invariants: every context runs on its own malloc'd stack and is abandoned,
 * never returned from (entry functions must not return; one that does is
 * tested in a forked child). Nothing here is thread-safe: one thread.
 * Locking: none.
 * See also: arch/switch_amd64_sysv.S, arch/switch_arm64_aapcs.S,
 * tests/arch/run-smoke.sh, docs/arch.md.
 */
#include <fenv.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unwind.h>

#include "context.h"

#if defined(__aarch64__)
#define ARCH_NAME "arm64"
#elif defined(__x86_64__)
#define ARCH_NAME "amd64"
#endif

enum { STACK_SIZE = 256 * 1024, PINGPONG_ROUNDS = 100000, RING = 16 };

static int checks_failed; /* failed checks in the current test */

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "  check failed at line %d: %s\n", __LINE__,   \
                    #cond);                                                \
            checks_failed++;                                               \
        }                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                     \
    do {                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);              \
        if (va_ != vb_) {                                                  \
            fprintf(stderr, "  check failed at line %d: %s == %s "         \
                    "(%lld != %lld)\n", __LINE__, #a, #b, va_, vb_);       \
            checks_failed++;                                               \
        }                                                                  \
    } while (0)

static struct gort_ctx main_ctx;

/* new_stack returns the top of a fresh stack; stacks are never freed (the
 * contexts on them are abandoned, not finished). */
static void *new_stack(void)
{
    char *lo = malloc(STACK_SIZE);
    if (lo == NULL) {
        perror("malloc");
        exit(1);
    }
    return lo + STACK_SIZE;
}

/* in_trampoline: is pc a return address inside gort__ctx_start? */
static int in_trampoline(const void *pc)
{
    uintptr_t off = (uintptr_t)pc - (uintptr_t)gort__ctx_start;
    return off > 0 && off < 64;
}

/* ---- ping-pong: main -> a -> b -> main, PINGPONG_ROUNDS times ---------- */

static struct gort_ctx ctx_a, ctx_b;
static long count_a, count_b;
static const char *arg_seen;
static char fmt_seen[32];

static void pingpong_a(void *arg)
{
    long local = 0; /* lives on a's stack across every switch */
    arg_seen = arg;
    snprintf(fmt_seen, sizeof fmt_seen, "%.3f", 2.0 / 3.0);
    for (;;) {
        local++;
        count_a = local;
        gort__ctx_switch(&ctx_a, &ctx_b);
    }
}

static void pingpong_b(void *arg)
{
    (void)arg;
    for (;;) {
        count_b++;
        gort__ctx_switch(&ctx_b, &main_ctx);
    }
}

static void test_pingpong_survives_many_rounds(void)
{
    static char tag[] = "pingpong";
    gort__ctx_make(&ctx_a, new_stack(), pingpong_a, tag);
    gort__ctx_make(&ctx_b, new_stack(), pingpong_b, NULL);
    for (long i = 0; i < PINGPONG_ROUNDS; i++)
        gort__ctx_switch(&main_ctx, &ctx_a);
    CHECK_EQ(count_a, PINGPONG_ROUNDS);
    CHECK_EQ(count_b, PINGPONG_ROUNDS);
    CHECK(arg_seen == tag);
    CHECK(strcmp(fmt_seen, "0.667") == 0);
}

/* ---- a ring of contexts switching directly to each other ---------------- */

static struct gort_ctx ring[RING];
static long ring_hops;

static void ring_entry(void *arg)
{
    uintptr_t me = (uintptr_t)arg;
    for (;;) {
        ring_hops++;
        struct gort_ctx *next = me + 1 < RING ? &ring[me + 1] : &main_ctx;
        gort__ctx_switch(&ring[me], next);
    }
}

static void test_ring_of_contexts_hands_off_in_order(void)
{
    for (uintptr_t i = 0; i < RING; i++)
        gort__ctx_make(&ring[i], new_stack(), ring_entry, (void *)i);
    for (int round = 0; round < 1000; round++)
        gort__ctx_switch(&main_ctx, &ring[0]);
    CHECK_EQ(ring_hops, 1000L * RING);
}

/* ---- callee-saved registers survive a switch ----------------------------- */

#if defined(__aarch64__)
#define NREG 18 /* x19..x28, d8..d15 */
#elif defined(__x86_64__)
#define NREG 5 /* rbx, r12..r15 */
#endif

struct regblk {
    uint64_t in[NREG];  /* loaded into the registers before the switch */
    uint64_t out[NREG]; /* stored from them after it returns */
    struct gort_ctx *from;
    const struct gort_ctx *to;
};
_Static_assert(offsetof(struct regblk, out) == 8 * NREG, "out");
_Static_assert(offsetof(struct regblk, from) == 16 * NREG, "from");
_Static_assert(offsetof(struct regblk, to) == 16 * NREG + 8, "to");

/* regs_roundtrip loads b->in into every callee-saved register, switches
 * b->from -> b->to, and stores the registers into b->out when resumed. The
 * block pointer crosses the switch on the stack, since every other
 * register is clobbered. */
__attribute__((noinline)) static void regs_roundtrip(struct regblk *b)
{
#if defined(__aarch64__)
    register struct regblk *x0 __asm__("x0") = b;
    __asm__ volatile(
        "str x0, [sp, #-16]!\n\t"
        "ldp x19, x20, [x0, #0]\n\t"
        "ldp x21, x22, [x0, #16]\n\t"
        "ldp x23, x24, [x0, #32]\n\t"
        "ldp x25, x26, [x0, #48]\n\t"
        "ldp x27, x28, [x0, #64]\n\t"
        "ldp d8, d9, [x0, #80]\n\t"
        "ldp d10, d11, [x0, #96]\n\t"
        "ldp d12, d13, [x0, #112]\n\t"
        "ldp d14, d15, [x0, #128]\n\t"
        "ldp x0, x1, [x0, #288]\n\t"
        "bl gort__ctx_switch\n\t"
        "ldr x0, [sp], #16\n\t"
        "stp x19, x20, [x0, #144]\n\t"
        "stp x21, x22, [x0, #160]\n\t"
        "stp x23, x24, [x0, #176]\n\t"
        "stp x25, x26, [x0, #192]\n\t"
        "stp x27, x28, [x0, #208]\n\t"
        "stp d8, d9, [x0, #224]\n\t"
        "stp d10, d11, [x0, #240]\n\t"
        "stp d12, d13, [x0, #256]\n\t"
        "stp d14, d15, [x0, #272]\n\t"
        : "+r"(x0)
        :
        : "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10",
          "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19",
          "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
          "x30", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9",
          "v10", "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18",
          "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27",
          "v28", "v29", "v30", "v31", "cc", "memory");
#elif defined(__x86_64__)
    __asm__ volatile(
        "movq %%rsp, %%rax\n\t"
        "subq $128, %%rsp\n\t" /* step over the red zone */
        "andq $-16, %%rsp\n\t"
        "pushq %%rax\n\t"
        "pushq %%rdi\n\t"
        "movq 0(%%rdi), %%rbx\n\t"
        "movq 8(%%rdi), %%r12\n\t"
        "movq 16(%%rdi), %%r13\n\t"
        "movq 24(%%rdi), %%r14\n\t"
        "movq 32(%%rdi), %%r15\n\t"
        "movq 88(%%rdi), %%rsi\n\t"
        "movq 80(%%rdi), %%rdi\n\t"
        "call gort__ctx_switch\n\t"
        "popq %%rdi\n\t"
        "popq %%rsp\n\t"
        "movq %%rbx, 40(%%rdi)\n\t"
        "movq %%r12, 48(%%rdi)\n\t"
        "movq %%r13, 56(%%rdi)\n\t"
        "movq %%r14, 64(%%rdi)\n\t"
        "movq %%r15, 72(%%rdi)\n\t"
        : "+D"(b)
        :
        : "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "rbx",
          "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3",
          "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
#endif
}

static struct gort_ctx ctx_r;
static struct regblk main_blk, other_blk;
static int other_regs_ok;

static void fill(struct regblk *b, uint64_t seed)
{
    for (int i = 0; i < NREG; i++)
        b->in[i] = seed * 0x9e3779b97f4a7c15u + (uint64_t)i * 0x0101010101u;
    memset(b->out, 0, sizeof b->out);
}

static void regs_entry(void *arg)
{
    (void)arg;
    fill(&other_blk, 2);
    other_blk.from = &ctx_r;
    other_blk.to = &main_ctx;
    regs_roundtrip(&other_blk); /* main ran with its own values meanwhile */
    other_regs_ok = memcmp(other_blk.in, other_blk.out, sizeof other_blk.in)
                    == 0;
    for (;;)
        gort__ctx_switch(&ctx_r, &main_ctx);
}

static void test_callee_saved_registers_survive_a_switch(void)
{
    gort__ctx_make(&ctx_r, new_stack(), regs_entry, NULL);
    fill(&main_blk, 1);
    main_blk.from = &main_ctx;
    main_blk.to = &ctx_r;
    regs_roundtrip(&main_blk); /* r loads its own values, switches back */
    for (int i = 0; i < NREG; i++)
        if (main_blk.out[i] != main_blk.in[i])
            fprintf(stderr, "  register slot %d: %#llx != %#llx\n", i,
                    (unsigned long long)main_blk.out[i],
                    (unsigned long long)main_blk.in[i]);
    CHECK(memcmp(main_blk.in, main_blk.out, sizeof main_blk.in) == 0);
    gort__ctx_switch(&main_ctx, &ctx_r);
    CHECK(other_regs_ok);
}

/* ---- floating-point rounding mode (FPCR / MXCSR + x87 CW) --------------- */

static struct gort_ctx ctx_f;
static int round_at_start, round_after;
static double quot_in_f;

__attribute__((noinline)) static double divide(double a, double b)
{
    volatile double x = a, y = b;
    return x / y;
}

static void round_entry(void *arg)
{
    (void)arg;
    round_at_start = fegetround();
    fesetround(FE_TOWARDZERO);
    gort__ctx_switch(&ctx_f, &main_ctx); /* main runs rounding upward */
    round_after = fegetround();
    quot_in_f = divide(2.0, 3.0);
    for (;;)
        gort__ctx_switch(&ctx_f, &main_ctx);
}

static void test_rounding_mode_does_not_leak_between_contexts(void)
{
    fesetround(FE_UPWARD);
    gort__ctx_make(&ctx_f, new_stack(), round_entry, NULL);
    gort__ctx_switch(&main_ctx, &ctx_f);
    CHECK_EQ(round_at_start, FE_TONEAREST); /* new context: ABI default */
    CHECK_EQ(fegetround(), FE_UPWARD);      /* f's change did not leak */
    double up = divide(2.0, 3.0);
    gort__ctx_switch(&main_ctx, &ctx_f);
    CHECK_EQ(round_after, FE_TOWARDZERO); /* main's did not leak either */
    CHECK_EQ(fegetround(), FE_UPWARD);
    CHECK(quot_in_f < up); /* and the arithmetic really used each mode */
    fesetround(FE_TONEAREST);
}

/* ---- alignment, outermost frame, unwinding ------------------------------ */

static struct gort_ctx ctx_s;
static uintptr_t frame_addr;
static void *caller_fp, *ret_addr;
static int bt_depth, bt_ends_in_trampoline;

/* count_frame: one step of the DWARF unwinder (.eh_frame, the CFI of the
 * switch and trampoline). It gives up after 32 frames, so a trampoline
 * that failed to end the chain shows up as a deep (looping) backtrace. */
static _Unwind_Reason_Code count_frame(struct _Unwind_Context *uc, void *arg)
{
    (void)arg;
    uintptr_t ip = _Unwind_GetIP(uc);
    if (ip == 0) /* the end: the outermost frame's return address */
        return _URC_END_OF_STACK;
    bt_ends_in_trampoline = in_trampoline((void *)ip);
    return ++bt_depth < 32 ? _URC_NO_REASON : _URC_END_OF_STACK;
}

__attribute__((noinline)) static void start_entry(void *arg)
{
    void **fp = __builtin_frame_address(0);
    frame_addr = (uintptr_t)fp;
    caller_fp = fp[0]; /* saved fp: 0 marks the outermost frame */
    ret_addr = __builtin_return_address(0);
    if (arg != NULL) {
        bt_depth = 0;
        _Unwind_Backtrace(count_frame, NULL);
    }
    for (;;)
        gort__ctx_switch(&ctx_s, &main_ctx);
}

static void test_new_context_starts_aligned_with_an_outermost_frame(void)
{
    char *top = new_stack();
    for (int skew = 0; skew < 16; skew++) {
        frame_addr = 1;
        caller_fp = &frame_addr;
        gort__ctx_make(&ctx_s, top - skew, start_entry, NULL);
        gort__ctx_switch(&main_ctx, &ctx_s);
        CHECK_EQ(frame_addr % 16, 0);
        CHECK(caller_fp == NULL);
        CHECK(in_trampoline(ret_addr));
    }
}

static void test_backtrace_stops_at_the_trampoline(void)
{
    gort__ctx_make(&ctx_s, new_stack(), start_entry, &ctx_s);
    gort__ctx_switch(&main_ctx, &ctx_s);
    CHECK(bt_depth >= 2 && bt_depth <= 6); /* entry, trampoline */
    CHECK(bt_ends_in_trampoline);
}

/* ---- an entry that returns traps ---------------------------------------- */

static void returning_entry(void *arg)
{
    (void)arg;
}

static void test_entry_that_returns_traps(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        checks_failed++;
        return;
    }
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        alarm(10); /* a trampoline that runs on must fail, not hang */
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(3);
        struct gort_ctx c;
        gort__ctx_make(&c, new_stack(), returning_entry, NULL);
        gort__ctx_switch(&main_ctx, &c);
        _exit(0); /* not reached: the trampoline traps */
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st));
    CHECK(WIFSIGNALED(st) &&
          (WTERMSIG(st) == SIGILL || WTERMSIG(st) == SIGTRAP));
}

/* ------------------------------------------------------------------------- */

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"pingpong_survives_many_rounds", test_pingpong_survives_many_rounds},
    {"ring_of_contexts_hands_off_in_order",
     test_ring_of_contexts_hands_off_in_order},
    {"callee_saved_registers_survive_a_switch",
     test_callee_saved_registers_survive_a_switch},
    {"rounding_mode_does_not_leak_between_contexts",
     test_rounding_mode_does_not_leak_between_contexts},
    {"new_context_starts_aligned_with_an_outermost_frame",
     test_new_context_starts_aligned_with_an_outermost_frame},
    {"backtrace_stops_at_the_trampoline",
     test_backtrace_stops_at_the_trampoline},
    {"entry_that_returns_traps", test_entry_that_returns_traps},
};

int main(void)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        checks_failed = 0;
        tests[i].fn();
        printf("[%s] ctx_smoke::%s\n", checks_failed ? "FAIL" : " OK ",
               tests[i].name);
        if (checks_failed)
            failed++;
        else
            passed++;
    }
    printf("ctx_smoke (%s): %d passed, %d failed\n", ARCH_NAME, passed,
           failed);
    return failed != 0;
}
