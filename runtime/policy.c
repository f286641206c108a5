/*
 * policy.c: GORT_SCHED, the scheduling policy knobs for scheduler
 * research: steal amount, victim order, the end thieves take from, spawn
 * order, runnext, the global-queue check interval, the time slice, the
 * spinning-thread limit and where a preempted goroutine goes.
 *
 * Invariants: policy.h. The defaults are gort's own scheduler as it is
 * without GORT_SCHED; a setting equal to its default leaves
 * gort__pol.custom false, so naming the defaults costs nothing either.
 * Unknown keys and bad values are errors (gort_run fails with -EINVAL
 * after one line on stderr), unlike GORT_DEBUG's unknown keys, which are
 * only warned about: a mistyped policy would otherwise measure the
 * default one under the wrong name.
 * No locks: parsed once by runtime_init before any other thread exists.
 * See also: runtime/policy.h, docs/research.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvlist.h"
#include "policy.h"
#include "runtime.h"

#define POLICY_DEFAULTS                                                      \
    {                                                                        \
        .steal = POL_STEAL_HALF, .victim = POL_VICTIM_RANDOM,                \
        .thief = POL_THIEF_HEAD, .spawn = POL_SPAWN_DEPTHFIRST,              \
        .preempt = POL_PREEMPT_GLOBAL, .runnext = true,                      \
        .fairtick = GLOBAL_FAIR_TICK, .spin = 0,                             \
        .slice_ns = FORCE_PREEMPT_NS,                                        \
    }

/* Initialised, not only parsed: white-box tests (tests/internal) use the
 * run queues without starting the runtime. */
struct policy gort__pol = POLICY_DEFAULTS;
static const struct policy defaults = POLICY_DEFAULTS;

/* pick returns the index of v in names (NULL-terminated), or -1. */
static int pick(const char *v, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    return -1;
}

/* parse_count reads a decimal integer in [lo, hi]. */
static bool parse_count(const char *v, long long lo, long long hi,
                        long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

/* parse_duration reads NUMBER followed by ns, us, ms or s. */
static bool parse_duration(const char *v, int64_t *ns)
{
    static const struct { const char *suffix; int64_t mul; } units[] = {
        {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000},
    };
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || errno || n <= 0)
        return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suffix) == 0) {
            if (n > INT64_MAX / units[i].mul)
                return false;
            *ns = n * units[i].mul;
            return true;
        }
    return false;
}

#define SLICE_MIN_NS 100000LL          /* 100us */
#define SLICE_MAX_NS 60000000000LL     /* 60s */

static const char *const steal_names[] = {"half", "one", "allbutone", NULL};
static const char *const victim_names[] = {"random", "roundrobin", "nearest",
                                           NULL};
static const char *const thief_names[] = {"head", "oldest", NULL};
static const char *const spawn_names[] = {"depthfirst", "go", "fifo", NULL};
static const char *const preempt_names[] = {"global", "local", NULL};
static const char *const onoff_names[] = {"off", "on", NULL};

/* set_enum stores v's index in names into *field; false if v is none. */
static bool set_enum(uint8_t *field, const char *v, const char *const *names)
{
    int i = pick(v, names);
    if (i < 0)
        return false;
    *field = (uint8_t)i;
    return true;
}

/* set_one applies key=v to p; returns a description of the values the
 * key takes when v is not one of them, "" for an unknown key, NULL when
 * it was applied. */
static const char *set_one(struct policy *p, const char *key, const char *v)
{
    long long n;
    if (strcmp(key, "steal") == 0)
        return set_enum(&p->steal, v, steal_names) ? NULL
                                                   : "half, one or allbutone";
    if (strcmp(key, "victim") == 0)
        return set_enum(&p->victim, v, victim_names)
                   ? NULL : "random, roundrobin or nearest";
    if (strcmp(key, "thief") == 0)
        return set_enum(&p->thief, v, thief_names) ? NULL : "head or oldest";
    if (strcmp(key, "spawn") == 0)
        return set_enum(&p->spawn, v, spawn_names)
                   ? NULL : "depthfirst, go or fifo";
    if (strcmp(key, "preempt") == 0)
        return set_enum(&p->preempt, v, preempt_names) ? NULL
                                                       : "global or local";
    if (strcmp(key, "runnext") == 0) {
        uint8_t on;
        if (!set_enum(&on, v, onoff_names))
            return "on or off";
        p->runnext = on;
        return NULL;
    }
    if (strcmp(key, "globalcheck") == 0) {
        /* Not 1: a preempted goroutine goes to the global queue, and
         * serving it first at every pick would run it again at once,
         * starving the local queue (tests/policies.sh found it). */
        if (!parse_count(v, 2, 1000000, &n))
            return "a count of picks from 2 to 1000000";
        p->fairtick = (uint32_t)n;
        return NULL;
    }
    if (strcmp(key, "spin") == 0) {
        if (strcmp(v, "half") == 0)
            p->spin = 0;
        else if (strcmp(v, "all") == 0)
            p->spin = -1;
        else if (parse_count(v, 1, GORT_MAXPROCS_LIMIT, &n))
            p->spin = (int32_t)n;
        else
            return "half, all or a count from 1 to 256";
        return NULL;
    }
    if (strcmp(key, "slice") == 0) {
        int64_t ns;
        if (!parse_duration(v, &ns) || ns < SLICE_MIN_NS || ns > SLICE_MAX_NS)
            return "a duration from 100us to 60s (ns, us, ms or s)";
        p->slice_ns = ns;
        return NULL;
    }
    return "";
}

static bool is_default(const struct policy *p)
{
    return p->steal == defaults.steal && p->victim == defaults.victim &&
           p->thief == defaults.thief && p->spawn == defaults.spawn &&
           p->preempt == defaults.preempt && p->runnext == defaults.runnext &&
           p->fairtick == defaults.fairtick && p->spin == defaults.spin &&
           p->slice_ns == defaults.slice_ns;
}

/* policy_set applies one GORT_SCHED item to the policy at arg. */
static int policy_set(char *key, char *value, void *arg)
{
    const char *want = set_one(arg, key, value);
    if (want && !*want) {
        fprintf(stderr, "gort: GORT_SCHED: unknown setting %s (want steal, "
                "victim, thief, spawn, runnext, globalcheck, slice, spin "
                "or preempt)\n", key);
        return -EINVAL;
    }
    if (want) {
        fprintf(stderr, "gort: GORT_SCHED: %s=%s: want %s\n", key, value,
                want);
        return -EINVAL;
    }
    return 0;
}

int gort__policy_parse_str(const char *s)
{
    struct policy p = defaults;
    gort__pol = defaults;
    int rc = gort__kvlist_each("GORT_SCHED", s, policy_set, &p);
    if (rc != 0)
        return rc;
    p.custom = !is_default(&p);
    gort__pol = p;
    return 0;
}

int gort__policy_parse(void)
{
    return gort__policy_parse_str(getenv("GORT_SCHED"));
}

/* nearest_at returns the k-th P by distance from self: self+1, self-1,
 * self+2, self-2, ... modulo procs, each index once. P ids stand for
 * distance: Ps are not pinned to CPUs, so this is the order a
 * topology-aware thief would use if P i ran on CPU i. */
static uint32_t nearest_at(int32_t self, int32_t k, int32_t procs)
{
    if (k == procs - 1)
        return (uint32_t)self; /* the caller skips itself */
    int32_t d = k / 2 + 1;
    int32_t i = k % 2 == 0 ? self + d : self - d;
    return (uint32_t)(((i % procs) + procs) % procs);
}

uint32_t gort__pol_victim(int32_t self, uint32_t start, int32_t k,
                          int32_t procs)
{
    switch (gort__pol.victim) {
    case POL_VICTIM_ROUNDROBIN:
        return (uint32_t)(self + 1 + k) % (uint32_t)procs;
    case POL_VICTIM_NEAREST:
        return nearest_at(self, k, procs);
    default:
        return (start + (uint32_t)k) % (uint32_t)procs;
    }
}
