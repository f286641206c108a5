/*
 * stack.h: goroutine stacks: lazily committed virtual reservations with a
 * guard below each, carved from slabs, cached per P and in a global pool.
 */
#ifndef GORT_STACK_H
#define GORT_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct p;
struct g;
struct stack;
struct stack_cache;

/* How a stack's overflow is caught (struct stack.guard). */
enum stack_guard {
    GUARD_NONE = 0,     /* carved, not yet primed (stack.c): never on a G */
    GUARD_MADVISE = 1,  /* MADV_GUARD_INSTALL pages: no extra mapping */
    GUARD_MPROTECT = 2, /* PROT_NONE pages: splits the mapping (2 VMAs) */
    GUARD_CANARY = 3,   /* a canary word checked at every switch */
};

#define STACK_CANARY 0x9e3779b97f4a7c15ull

/* gort__stack_init reads GORT_STACK_MAX and probes the guard mechanism.
 * Returns 0 or -EINVAL (malformed GORT_STACK_MAX). */
__attribute__((visibility("hidden"))) int gort__stack_init(void);
/* gort__parse_stack_max reads a GORT_STACK_MAX value: decimal bytes with an
 * optional K/M/G suffix, between 16 KiB and 1 GiB. 0 or -EINVAL. */
__attribute__((visibility("hidden"))) int gort__parse_stack_max(
    const char *s, uint64_t *bytes);
/* gort__stack_fini unmaps every slab (runtime shut down cleanly). */
__attribute__((visibility("hidden"))) void gort__stack_fini(void);

/*
 * Slots are reserved at spawn (so gort_go can fail with -ENOMEM rather than
 * abort later) and attached when the goroutine first runs.
 * gort__stack_reserve claims one slot for pp (NULL: no P); returns 0 or
 * -ENOMEM. gort__stack_unreserve gives a claim back (the G exited).
 */
__attribute__((visibility("hidden"))) int gort__stack_reserve(struct p *pp);
__attribute__((visibility("hidden"))) void gort__stack_unreserve(struct p *pp);

/* gort__stack_alloc attaches a stack to *st, from pp's cache, the global
 * pool, or a fresh slot. The caller holds a reservation. */
__attribute__((visibility("hidden"))) void gort__stack_alloc(struct p *pp,
                                                             struct stack *st);
/* gort__stack_free returns *st to pp's cache or the global pool. */
__attribute__((visibility("hidden"))) void gort__stack_free(struct p *pp,
                                                            struct stack *st);
/* gort__stack_cache_flush moves pp's cached stacks and spare reservations
 * to the global pool (P destroyed). */
__attribute__((visibility("hidden"))) void gort__stack_cache_flush(
    struct p *pp);
/* gort__stack_scavenge gives the pages of pooled stacks beyond the warm
 * watermark back to the kernel (sysmon calls it periodically). */
__attribute__((visibility("hidden"))) void gort__stack_scavenge(void);

/* gort__stack_check_canary aborts with "stack overflow" if gp's canary is
 * gone (canary-guarded stacks only). */
__attribute__((visibility("hidden"))) void gort__stack_check_canary(
    struct g *gp);

/* gort__stack_is_guard: addr lies in gp's guard region. */
__attribute__((visibility("hidden"))) bool gort__stack_is_guard(struct g *gp,
                                                                uintptr_t addr);

/* gort__stack_cache_size: bytes of a per-P struct stack_cache. */
__attribute__((visibility("hidden"))) size_t gort__stack_cache_size(void);

struct stack_stats {
    uint64_t cached, reserved;
    uint32_t madvise, mprotect, canary;
};
__attribute__((visibility("hidden"))) void gort__stack_stats(
    struct stack_stats *st);

#endif /* GORT_STACK_H */
