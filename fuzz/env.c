/*
 * env.c: libFuzzer target for the GORT_* environment parsers: GORT_DEBUG
 * (runtime/debug.c: gort__debug_parse, through setenv, and the list
 * tokenizer it shares with GORT_SCHED, runtime/kvlist.c), GORT_MAXPROCS
 * (gort__parse_maxprocs) and GORT_STACK_MAX (gort__parse_stack_max).
 *
 * Each input, cut at its first NUL, goes to all three. Each parser is
 * checked against a reference of the grammar its message and docs state,
 * written here without the libc number parsers it uses: the two must
 * agree on accepting and on the value, and accepted values must stay in
 * range and read back the same when printed again. A disagreement aborts
 * (a libFuzzer crash); ASan and UBSan catch the rest.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "stack.h"

static bool is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* decimal reads what strtoll/strtol accept as a whole string: spaces, a
 * sign, at least one digit, nothing after; the magnitude saturates at
 * `cap`. */
static bool decimal(const char *s, bool *neg, unsigned long long cap,
                    unsigned long long *v)
{
    while (is_space(*s))
        s++;
    *neg = false;
    if (*s == '+' || *s == '-')
        *neg = *s++ == '-';
    if (*s < '0' || *s > '9')
        return false;
    *v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        *v = *v > (cap - d) / 10 ? cap : *v * 10 + d;
    }
    return true;
}

static void check_maxprocs(const char *s)
{
    int got = -1;
    bool ok = gort__parse_maxprocs(s, &got) == 0;
    bool neg;
    unsigned long long v;
    bool want = decimal(s, &neg, LONG_MAX, &v) && !neg && v >= 1;
    if (ok != want)
        abort();
    if (!ok)
        return;
    if (got != (v > GORT_MAXPROCS_LIMIT ? GORT_MAXPROCS_LIMIT : (int)v))
        abort();
    char buf[32];
    int again = -1;
    snprintf(buf, sizeof buf, "%d", got);
    if (gort__parse_maxprocs(buf, &again) != 0 || again != got)
        abort();
}

static void check_stack_max(const char *s)
{
    uint64_t got = 0;
    bool ok = gort__parse_stack_max(s, &got) == 0;
    /* digits, then one optional K/M/G, then nothing; 16 KiB .. 1 GiB */
    unsigned long long v = 0;
    const char *p = s;
    bool want = *p >= '0' && *p <= '9';
    for (; *p >= '0' && *p <= '9'; p++)
        v = v > (ULLONG_MAX - 9) / 10 ? ULLONG_MAX : v * 10 + (unsigned)(*p - '0');
    int shift = 0;
    if (*p && strchr("kK", *p))
        shift = 10, p++;
    else if (*p && strchr("mM", *p))
        shift = 20, p++;
    else if (*p && strchr("gG", *p))
        shift = 30, p++;
    want = want && *p == '\0' && v <= (1ull << 30) >> shift &&
           (v << shift) >= (16u << 10);
    if (ok != want || (ok && got != v << shift))
        abort();
    if (!ok)
        return;
    char buf[32];
    uint64_t again = 0;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)got);
    if (gort__parse_stack_max(buf, &again) != 0 || again != got)
        abort();
}

/* The boolean knobs: where each lives and what it is when unset. */
static const struct knob {
    const char *key;
    bool *field;
    bool dflt, inverted;
} knobs[] = {
    {"scheddetail", &gort__debug.scheddetail, false, false},
    {"solo", &gort__debug.solo, true, false},
    {"plainchan", &gort__debug.plainchan, true, false},
    {"chanowner", &gort__debug.chanowner, true, false},
    {"asyncpreempt", &gort__debug.asyncpreempt, false, false},
    {"batch", &gort__debug.nobatch, false, true},
    {"membarrier", &gort__debug.membarrier, true, false},
    {"stuckhandoff", &gort__debug.stuckhandoff, true, false},
    {"stuckwarn", &gort__debug.stuckwarn, false, false},
};
#define NKNOBS (sizeof knobs / sizeof *knobs)
#define BATCH 5 /* knobs[BATCH] is "batch" */

static void check_debug(const char *s)
{
    setenv("GORT_DEBUG", s, 1);
    bool ok = gort__debug_parse() == 0;
    /* The reference: comma-separated key=value, empty items skipped, a
     * value strtoll reads whole (or empty: 0) and not negative. */
    bool want = true;
    bool val[NKNOBS];
    for (size_t i = 0; i < NKNOBS; i++)
        val[i] = knobs[i].dflt;
    long long trace = 0;
    bool determ = false;
    unsigned long long seed = 0;
    if (strlen(s) >= 256)
        want = false; /* too long to be a list of gort's knobs */
    char *copy = strdup(s), *save;
    for (char *kv = strtok_r(copy, ",", &save); kv && want;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        bool neg = false;
        unsigned long long v = 0;
        if (eq == NULL) {
            want = false;
            break;
        }
        *eq = '\0';
        if (eq[1] != '\0' && (!decimal(eq + 1, &neg, LLONG_MAX, &v) ||
                              (neg && v != 0))) {
            want = false;
            break;
        }
        if (strcmp(kv, "schedtrace") == 0)
            trace = (long long)v;
        if (strcmp(kv, "deterministic") == 0) {
            /* a seed is required, and the mode has no batcher thread:
             * it sets batch=0 where it stands in the list */
            if (eq[1] == '\0') {
                want = false;
                break;
            }
            determ = true;
            seed = v;
            val[BATCH] = true;
        }
        for (size_t i = 0; i < NKNOBS; i++)
            if (strcmp(kv, knobs[i].key) == 0)
                val[i] = (v != 0) != knobs[i].inverted;
    }
    free(copy);
    if (ok != want)
        abort();
    if (!ok)
        return;
    if (gort__debug.schedtrace_ms != trace ||
        gort__debug.deterministic != determ ||
        (determ && gort__debug.determ_seed != seed))
        abort();
    for (size_t i = 0; i < NKNOBS; i++)
        if (*knobs[i].field != val[i])
            abort();
    /* Printed back in canonical form, the settings read the same. */
    struct debug_settings was = gort__debug;
    if (strcmp(knobs[BATCH].key, "batch") != 0)
        abort();
    char buf[512];
    int n = snprintf(buf, sizeof buf, "schedtrace=%lld",
                     (long long)gort__debug.schedtrace_ms);
    for (size_t i = 0; i < NKNOBS; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, ",%s=%d", knobs[i].key,
                      *knobs[i].field != knobs[i].inverted);
    setenv("GORT_DEBUG", buf, 1);
    if (gort__debug_parse() != 0 ||
        gort__debug.schedtrace_ms != was.schedtrace_ms)
        abort();
    for (size_t i = 0; i < NKNOBS; i++)
        if (*knobs[i].field != *(const bool *)((const char *)&was +
                                               ((const char *)knobs[i].field -
                                                (const char *)&gort__debug)))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[1024];
    if (size >= sizeof s)
        size = sizeof s - 1;
    memcpy(s, data, size);
    s[size] = '\0';
    check_maxprocs(s);
    check_stack_max(s);
    check_debug(s);
    return 0;
}
