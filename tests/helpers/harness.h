/*
 * harness.h: shared test harness for the tests/test_*.c suites: build-size
 * scaling, failure recording from goroutines, run wrappers, death tests.
 *
 * Invariants: harness_failmsg holds the first CHECK failure of the process
 * (empty when none); harness_run asserts it is empty after gort_run.
 * Locking: the first failure wins a CAS on harness_failed; no locks.
 * See also: tests/helpers/harness.c, tests/lite/ (the TSan Criterion shim:
 * only Test, cr_assert with eq/ne/lt/le/gt/ge/not are used here).
 */
#ifndef GORT_TESTS_HARNESS_H
#define GORT_TESTS_HARNESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SCALE3(n, san, tsan): the size of a test for this build: n by default,
 * san under sanitizers (GORT_SAN), tsan under TSan, where every live
 * goroutine is a TSan fiber of ~800 KiB and at most 8128 exist. */
#if defined(__SANITIZE_THREAD__)
#define SCALE3(n, san, tsan) (tsan)
#elif defined(GORT_SAN)
#define SCALE3(n, san, tsan) (san)
#else
#define SCALE3(n, san, tsan) (n)
#endif
/* SCALE(n, san): as SCALE3 with a tenth of san (at least 1) under TSan. */
#define SCALE(n, san) SCALE3(n, san, ((san) / 10 > 0 ? (san) / 10 : 1))

/* ---- Failures recorded by goroutines (they cannot cr_assert) ---------- */

extern _Atomic int harness_failed;
extern char harness_failmsg[512];

/* harness_fail_at records the first failure: line, expression, values. */
void harness_fail_at(int line, const char *what, long long a, long long b);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond))                                                         \
            harness_fail_at(__LINE__, #cond, 0, 0);                          \
    } while (0)
#define CHECK_EQ(a, b)                                                       \
    do {                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                  \
        if (a_ != b_)                                                        \
            harness_fail_at(__LINE__, #a " == " #b, a_, b_);                 \
    } while (0)

/* ---- Time and runs ------------------------------------------------------ */

/* now_ns is CLOCK_MONOTONIC in nanoseconds (never parks). */
int64_t now_ns(void);

/* settle waits (yielding) until only the caller is left, then CHECKs it:
 * every goroutine a test started must have ended (style rule 33). */
void settle(void);

/* run_rc runs fn(arg) as the main goroutine on procs Ps; returns its rc. */
int run_rc(int procs, int (*fn)(void *), void *arg);

/* run is run_rc that asserts no CHECK failed and fn returned 0. */
void run(int procs, int (*fn)(void *), void *arg);

/* ---- GORT_DEBUG knobs ---------------------------------------------------- */

/* debug_set sets GORT_DEBUG to kv after whatever the suite was started
 * with (CI runs the whole suite once more with every fast path off,
 * GORT_DEBUG=solo=0,...): a test's own knob must not turn those back on.
 * The runtime reads keys in order, so kv wins where both name a key.
 * NULL: back to the suite's own setting. */
void debug_set(const char *kv);

/* debug_off says whether the suite's GORT_DEBUG sets key to 0. */
bool debug_off(const char *key);

/* ---- Death tests -------------------------------------------------------- */

/* harness_run_child runs gort_run(fn, arg) in a forked child with stderr
 * captured into buf (NUL-terminated, truncated to len - 1); returns the
 * child's exit status, or 128 + signal. */
int harness_run_child(int (*fn)(void *), void *arg, char *buf, size_t len);

/* expect_death runs fn on one P in a child and asserts it exits with
 * status 2 (Go's fatal/panic) and prints msg on stderr. */
void expect_death(int (*fn)(void *), const char *msg);

#endif /* GORT_TESTS_HARNESS_H */
