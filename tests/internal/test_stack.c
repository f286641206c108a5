/*
 * test_stack.c: white-box tests of the stack allocator's bookkeeping
 * (runtime/stack.c): reservations, per-P caches and slabs, driven with two
 * fake Ps as a scheduler would, without running goroutines.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdlib.h>

#include "runtime.h"
#include "stack.h"

enum { N = 64 }; /* one slab, one cache, one credit batch */

static struct p *pa, *pb;
static struct stack st[N];

static struct p *fake_p(int id)
{
    struct p *pp = calloc(1, sizeof *pp);
    pp->id = id;
    pp->stackcache = calloc(1, gort__stack_cache_size());
    return pp;
}

static void setup(void)
{
    cr_assert(eq(int, gort__stack_init(), 0));
    pa = fake_p(0);
    pb = fake_p(1);
}

static void teardown(void)
{
    gort__stack_cache_flush(pa);
    gort__stack_cache_flush(pb);
    gort__stack_fini();
    free(pa->stackcache);
    free(pb->stackcache);
    free(pa);
    free(pb);
}

TestSuite(stack, .init = setup, .fini = teardown);

/* Goroutines spawned on one P and started on another leave the free stacks
 * in the first P's cache, where only its owner looks: a start elsewhere
 * must still find a stack (a new slab), not die with "reservation without
 * a slab" (seen on 16 CPUs in sysbatch::many_goroutines_round_trips). */
Test(stack, a_goroutine_started_on_another_p_gets_a_stack)
{
    /* A spawns N goroutines that start there: one slab, all carved. */
    for (int i = 0; i < N; i++) {
        cr_assert(eq(int, gort__stack_reserve(pa), 0));
        gort__stack_alloc(pa, &st[i]);
    }
    /* They exit on B: B caches their stacks and keeps their claims. */
    for (int i = 0; i < N; i++) {
        gort__stack_free(pb, &st[i]);
        gort__stack_unreserve(pb);
    }
    /* B spawns N goroutines with those claims; thieves start them on A. */
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, gort__stack_reserve(pb), 0));
    for (int i = 0; i < N; i++) {
        gort__stack_alloc(pa, &st[i]);
        cr_assert(ne(u64, st[i].hi, 0));
        cr_assert(gt(u64, st[i].hi, st[i].lo));
        *(volatile char *)(st[i].hi - 1) = 1; /* the top page is usable */
    }
    for (int i = 0; i < N; i++) {
        gort__stack_free(pa, &st[i]);
        gort__stack_unreserve(pa);
    }
}

/* The usual path, for contrast: what one P frees it reuses, and no slab
 * beyond the first is carved. */
Test(stack, stacks_freed_on_a_p_are_reused_there)
{
    uintptr_t lo[N];
    for (int i = 0; i < N; i++) {
        cr_assert(eq(int, gort__stack_reserve(pa), 0));
        gort__stack_alloc(pa, &st[i]);
        lo[i] = st[i].lo;
    }
    for (int i = 0; i < N; i++) {
        gort__stack_free(pa, &st[i]);
        gort__stack_unreserve(pa);
    }
    for (int i = 0; i < N; i++) {
        cr_assert(eq(int, gort__stack_reserve(pa), 0));
        gort__stack_alloc(pa, &st[i]);
        bool seen = false;
        for (int k = 0; k < N; k++)
            seen |= st[i].lo == lo[k];
        cr_assert(seen);
    }
    for (int i = 0; i < N; i++) {
        gort__stack_free(pa, &st[i]);
        gort__stack_unreserve(pa);
    }
}
