/*
 * harness.c: shared test harness linked into every test binary (see
 * harness.h): failure recording, run wrappers, fork-based death tests.
 *
 * Invariants: the death-test child never returns into Criterion: it leaves
 * with _exit (gort's fatal paths _exit(2) themselves).
 * Locking: none; harness_failed is a CAS flag.
 * See also: tests/helpers/harness.h.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gort.h>

#include "harness.h"

_Atomic int harness_failed;
char harness_failmsg[512];

void harness_fail_at(int line, const char *what, long long a, long long b)
{
    int expect = 0;
    if (atomic_compare_exchange_strong(&harness_failed, &expect, 1))
        snprintf(harness_failmsg, sizeof harness_failmsg,
                 "line %d: %s (%lld vs %lld)", line, what, a, b);
}

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void settle(void)
{
    int64_t until = now_ns() + 5000000000LL;
    while (gort_num_goroutine() > 1 && now_ns() < until)
        gort_yield();
    CHECK_EQ(gort_num_goroutine(), 1);
}

int run_rc(int procs, int (*fn)(void *), void *arg)
{
    gort_maxprocs(procs);
    return gort_run(fn, arg);
}

void run(int procs, int (*fn)(void *), void *arg)
{
    int rc = run_rc(procs, fn, arg);
    cr_assert(eq(str, harness_failmsg, ""));
    cr_assert(eq(int, rc, 0));
}

int harness_run_child(int (*fn)(void *), void *arg, char *buf, size_t len)
{
    int fds[2];
    cr_assert(eq(int, pipe(fds), 0));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        int rc = gort_run(fn, arg);
        _exit(rc);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < len && (r = read(fds[0], buf + n, len - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fds[0]);
    int st = 0;
    cr_assert(eq(int, waitpid(pid, &st, 0), pid));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void expect_death(int (*fn)(void *), const char *msg)
{
    static char out[8192];
    gort_maxprocs(1);
    int st = harness_run_child(fn, NULL, out, sizeof out);
    cr_assert(eq(int, st, 2), "stderr: %s", out);
    cr_assert(ne(ptr, strstr(out, msg), NULL), "want \"%s\" in stderr: %s", msg,
              out);
}

/* suite_debug is GORT_DEBUG as the suite was started (NULL: unset), read
 * before any test changes it. */
static const char *suite_debug(void)
{
    static bool read;
    static char saved[256];
    static const char *val;
    if (!read) {
        const char *env = getenv("GORT_DEBUG");
        if (env) {
            snprintf(saved, sizeof saved, "%s", env);
            val = saved;
        }
        read = true;
    }
    return val;
}

void debug_set(const char *kv)
{
    const char *base = suite_debug();
    if (!kv) {
        if (base)
            setenv("GORT_DEBUG", base, 1);
        else
            unsetenv("GORT_DEBUG");
        return;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s%s", base ? base : "", base ? "," : "",
             kv);
    setenv("GORT_DEBUG", buf, 1);
}

bool debug_off(const char *key)
{
    const char *base = suite_debug();
    size_t n = strlen(key);
    for (const char *s = base; s && *s;) {
        if (strncmp(s, key, n) == 0 && s[n] == '=' && s[n + 1] == '0' &&
            (s[n + 2] == ',' || s[n + 2] == '\0'))
            return true;
        s = strchr(s, ',');
        s = s ? s + 1 : NULL;
    }
    return false;
}
