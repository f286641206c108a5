/*
 * determ.h: the deterministic mode (GORT_DEBUG=deterministic=SEED,
 * runtime/determ.c, docs/deterministic.md): N virtual Ps on one thread,
 * every scheduling choice from a seeded generator, virtual time.
 *
 * The hooks sit where the scheduler makes a choice (runq.c, globrunq.c,
 * sched.c) or reads the clock (debug.c, trace.c); each is one test of
 * gort__determ_active, false unless the mode is on.
 */
#ifndef GORT_DETERM_H
#define GORT_DETERM_H

#include "runtime.h"

GORT_HIDDEN extern bool gort__determ_active;
#define DETERM() __builtin_expect(gort__determ_active, 0)

/* Where gort__determ_put queues a goroutine. */
enum determ_put {
    DPUT_NEXT,   /* readied: the readier's virtual P, its runnext slot */
    DPUT_TAIL,   /* yielded: the tail of its own virtual P */
    DPUT_SPAWN,  /* spawned: the spawner's runnext (old one to the tail) */
    DPUT_GLOBAL, /* preempted or readied off-P: a virtual P the seed picks */
};

/* gort__determ_start turns the mode on for a run asked for `procs` Ps
 * with `seed`; returns the real P count to make (1). _stop turns it off
 * and frees its tables; gort_run calls it at the end. */
GORT_HIDDEN int gort__determ_start(int procs, uint64_t seed);
GORT_HIDDEN void gort__determ_stop(void);

/* The run queue of the virtual Ps (runq.c's hooks): put, take the next
 * goroutine (NULL: none, or the caller is not on g0: every pick is made
 * by the scheduler loop, after the leaving goroutine was queued, so a
 * yielder alone on its virtual P may be picked again), and count. */
GORT_HIDDEN void gort__determ_put(struct g *gp, int where);
GORT_HIDDEN struct g *gort__determ_get(bool *inherit);
GORT_HIDDEN uint32_t gort__determ_len(void);

/* Virtual time in ns (gort__nanotime's answer in this mode). */
GORT_HIDDEN int64_t gort__determ_now(void);
/* A preemption point reached by gp: charges virtual time and asks gp to
 * yield once its virtual slice is used. */
GORT_HIDDEN void gort__determ_entry(struct g *gp);
/* Everything is blocked (sched.c's poll_block): poll without waiting,
 * else jump virtual time to `until` (0: no timer), else wait for the
 * network. */
GORT_HIDDEN void gort__determ_poll_block(int64_t until, struct gqueue *q);
/* Reorders q as the seed says (poller order). */
GORT_HIDDEN void gort__determ_shuffle(struct gqueue *q);
/* The trace's name for an address: 1, 2, ... in order of first use. */
GORT_HIDDEN uint64_t gort__determ_objid(uint64_t addr);
/* 64 bits from the seeded generator (an M's fastrand seed). */
GORT_HIDDEN uint64_t gort__determ_rand64(void);
/* gort_maxprocs while the mode runs: sets the virtual P count. */
GORT_HIDDEN int gort__determ_maxprocs(int n);

#endif /* GORT_DETERM_H */
