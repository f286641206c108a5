/*
 * criterion-lite: the subset of Criterion's API that gort's tests use,
 * for the ThreadSanitizer build only. Criterion cannot start under TSan:
 * its inheritable arena looks for free address space where TSan keeps its
 * shadow (Snaipe/Criterion#274), so `make SAN=thread` compiles the same
 * test files against this header and links tests/lite/runner.c instead.
 * Like Criterion, each test runs in its own forked process, with a
 * timeout, and the runner prints Criterion's synthesis line.
 */
#ifndef CRITERION_LITE_H
#define CRITERION_LITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct crl_opts {
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    int exit_code;
    int signal;
    bool disabled;
    const char *description;
};

struct crl_test {
    const char *suite, *name;
    void (*fn)(void);
    struct crl_opts opts;
    struct crl_test *next;
};

struct crl_suite {
    const char *name;
    struct crl_opts opts;
    struct crl_suite *next;
};

void crl_register(struct crl_test *t);
void crl_register_suite(struct crl_suite *s);
void crl_fail(const char *file, int line, const char *expr, const char *fmt,
              ...) __attribute__((noreturn));

#define Test(suite, name, ...)                                               \
    static void crl_fn_##suite##_##name(void);                               \
    static struct crl_test crl_t_##suite##_##name = {                       \
        #suite, #name, crl_fn_##suite##_##name, {__VA_ARGS__}, NULL};       \
    __attribute__((constructor)) static void crl_r_##suite##_##name(void)   \
    {                                                                        \
        crl_register(&crl_t_##suite##_##name);                               \
    }                                                                        \
    static void crl_fn_##suite##_##name(void)

#define TestSuite(suite, ...)                                                \
    static struct crl_suite crl_s_##suite = {#suite, {__VA_ARGS__}, NULL};  \
    __attribute__((constructor)) static void crl_rs_##suite(void)           \
    {                                                                        \
        crl_register_suite(&crl_s_##suite);                                  \
    }

#define CRL_MSG(...) CRL_MSG_(__VA_ARGS__, "")
#define CRL_MSG_(cond, ...) __VA_ARGS__
#define cr_assert(...)                                                       \
    do {                                                                     \
        if (!(CRL_COND(__VA_ARGS__, 0)))                                     \
            crl_fail(__FILE__, __LINE__, #__VA_ARGS__, CRL_MSG(__VA_ARGS__)); \
    } while (0)
#define CRL_COND(cond, ...) (cond)
#define cr_expect cr_assert
#define cr_log_warn(...) (fprintf(stderr, "[WARN] " __VA_ARGS__), fputc('\n', stderr))
#define cr_log_info(...) (fprintf(stderr, "[INFO] " __VA_ARGS__), fputc('\n', stderr))

#endif
