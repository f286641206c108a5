/*
 * policy.h: the scheduling policy knobs chosen at start-up with
 * GORT_SCHED=key=value,... (policy.c parses them; docs/research.md says
 * what each one does, what Go does and what the literature knows of the
 * alternatives).
 *
 * Invariants:
 *  - gort__pol is written only by gort__policy_parse, before any P or M
 *    exists, and read without synchronisation afterwards.
 *  - gort__pol.custom is false iff every knob is at its default (today's
 *    behaviour). Hot paths (the fairness tick, runnext, the ring pop)
 *    test only that one byte and take their default code when it is
 *    false, so a default run pays one predicted branch per test and
 *    nothing else; the knobs themselves are read on slow paths only.
 * No locks.
 * See also: runtime/policy.c, runtime/runqpolicy.c (the run-queue variants), docs/research.md.
 */
#ifndef GORT_POLICY_H
#define GORT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

enum pol_steal { POL_STEAL_HALF, POL_STEAL_ONE, POL_STEAL_ALLBUTONE };
enum pol_victim { POL_VICTIM_RANDOM, POL_VICTIM_ROUNDROBIN, POL_VICTIM_NEAREST };
enum pol_thief { POL_THIEF_HEAD, POL_THIEF_OLDEST };
enum pol_spawn { POL_SPAWN_DEPTHFIRST, POL_SPAWN_GO, POL_SPAWN_FIFO };
enum pol_preempt { POL_PREEMPT_GLOBAL, POL_PREEMPT_LOCAL };

struct policy {
    bool custom;        /* some knob is off its default */
    uint8_t steal;      /* enum pol_steal: how much a thief takes */
    uint8_t victim;     /* enum pol_victim: the order victims are tried */
    uint8_t thief;      /* enum pol_thief: which end a thief takes from */
    uint8_t spawn;      /* enum pol_spawn: where a new goroutine goes */
    uint8_t preempt;    /* enum pol_preempt: where a preempted G goes */
    bool runnext;       /* readied and spawned Gs may take runnext */
    uint32_t fairtick;  /* take from the global queue every fairtick picks */
    int32_t spin;       /* spinning Ms allowed: 0 half the busy Ps (Go),
                         * -1 all of them, else that many */
    int64_t slice_ns;   /* time slice before sysmon preempts */
};

__attribute__((visibility("hidden"))) extern struct policy gort__pol;

/* gort__policy_parse resets gort__pol to the defaults and applies
 * GORT_SCHED; 0, or -EINVAL after printing what was wrong. */
__attribute__((visibility("hidden"))) int gort__policy_parse(void);

/* gort__policy_parse_str is gort__policy_parse on a given string (NULL
 * or "": the defaults); tests call it directly. */
__attribute__((visibility("hidden"))) int gort__policy_parse_str(const char *s);

/* gort__pol_fair_due is GLOBAL_FAIR_DUE for a non-default policy. */
static inline bool gort__pol_fair_due(uint32_t nexttick)
{
    return nexttick % gort__pol.fairtick == 0;
}

/* gort__pol_steal_n says how many of the n Gs a thief saw it takes. */
static inline uint32_t gort__pol_steal_n(uint32_t n)
{
    if (__builtin_expect(gort__pol.steal == POL_STEAL_HALF, 1))
        return n - n / 2;
    if (gort__pol.steal == POL_STEAL_ONE)
        return n ? 1 : 0;
    return n > 1 ? n - 1 : n;
}

/* gort__pol_may_spin says whether an M may start spinning on its own
 * while nspinning Ms spin and busy Ps run goroutines. */
static inline bool gort__pol_may_spin(int32_t nspinning, int32_t busy)
{
    if (__builtin_expect(gort__pol.spin == 0, 1))
        return 2 * nspinning < busy;
    if (gort__pol.spin < 0)
        return nspinning < busy;
    return nspinning < gort__pol.spin;
}

/* gort__pol_victim returns the index of the k-th P (of procs) that P self
 * tries to rob in one pass; start is the pass's random start. */
__attribute__((visibility("hidden"))) uint32_t
gort__pol_victim(int32_t self, uint32_t start, int32_t k, int32_t procs);

#endif /* GORT_POLICY_H */
