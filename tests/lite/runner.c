/*
 * runner.c: criterion-lite's main (see criterion/criterion.h): runs each
 * registered test in a forked child with its timeout, checks the expected
 * exit code or signal, and prints Criterion's synthesis line. Accepts
 * --filter GLOB (suite/name), --list, and ignores Criterion's other flags.
 */
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criterion/criterion.h"

static struct crl_test *tests, **tail = &tests;
static struct crl_suite *suites;

void crl_register(struct crl_test *t)
{
    *tail = t;
    tail = &t->next;
}

void crl_register_suite(struct crl_suite *s)
{
    s->next = suites;
    suites = s;
}

void crl_fail(const char *file, int line, const char *expr, const char *fmt,
              ...)
{
    fprintf(stderr, "[----] %s:%d: Assertion Failed\n[----]   %s\n", file,
            line, expr);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "[----]   ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    }
    fflush(NULL);
    _exit(101);
}

static const struct crl_opts *suite_opts(const char *name)
{
    for (struct crl_suite *s = suites; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return &s->opts;
    return NULL;
}

/* run_one returns 0 pass, 1 fail, 2 crash. */
static int run_one(struct crl_test *t)
{
    const struct crl_opts *so = suite_opts(t->suite);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        double to = t->opts.timeout ? t->opts.timeout
                    : so && so->timeout ? so->timeout : 0;
        if (to > 0)
            alarm((unsigned)(to + 0.999));
        if (so && so->init)
            so->init();
        if (t->opts.init)
            t->opts.init();
        t->fn();
        if (t->opts.fini)
            t->opts.fini();
        if (so && so->fini)
            so->fini();
        fflush(NULL);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    int want_code = t->opts.exit_code, want_sig = t->opts.signal;
    if (WIFEXITED(st)) {
        int code = WEXITSTATUS(st);
        if (code == want_code && !want_sig)
            return 0;
        fprintf(stderr, "[FAIL] %s::%s: exit code %d\n", t->suite, t->name,
                code);
        return 1;
    }
    int sig = WTERMSIG(st);
    if (want_sig && sig == want_sig)
        return 0;
    fprintf(stderr, "[FAIL] %s::%s: %s (signal %d)\n", t->suite, t->name,
            sig == SIGALRM ? "Timed out" : "crashed", sig);
    return 2;
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
            filter = argv[++i];
        else if (strncmp(argv[i], "--filter=", 9) == 0)
            filter = argv[i] + 9;
        else if (strcmp(argv[i], "--list") == 0)
            list = true;
        else if (strcmp(argv[i], "--jobs") == 0 || strcmp(argv[i], "-j") == 0)
            i++;
    }
    int n = 0, pass = 0, fail = 0, crash = 0;
    for (struct crl_test *t = tests; t; t = t->next) {
        char full[256];
        snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
        if (t->opts.disabled || (filter && fnmatch(filter, full, 0) != 0))
            continue;
        if (list) {
            printf("%s\n", full);
            continue;
        }
        n++;
        int r = run_one(t);
        pass += r == 0;
        fail += r == 1;
        crash += r == 2;
    }
    printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | "
           "Crashing: %d \n", n, pass, fail, crash);
    return fail + crash ? 1 : 0;
}
