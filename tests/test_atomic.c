/*
 * test_atomic.c: gort/atomic.h keeps Go's sync/atomic semantics: exact
 * counts under contention, new-value add, old-value swap/and/or, CAS.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdint.h>

#include <gort.h>
#include <gort/atomic.h>

#include "helpers/harness.h"

static gort_wg wg;

static int64_t acount;

static void atomic_incr(void *arg)
{
    for (long i = 0; i < (long)arg; i++)
        gort_atomic_add_int64(&acount, 1);
    gort_wg_done(&wg);
}

static int atomic_main(void *arg)
{
    long per = (long)arg;
    gort_wg_add(&wg, 8);
    for (int i = 0; i < 8; i++)
        gort_go(atomic_incr, (void *)per);
    gort_wg_wait(&wg);
    return 0;
}

Test(atomic, add_is_exact_with_8_procs)
{
    long per = SCALE(200000, 20000);
    cr_assert(eq(int, (gort_maxprocs(8), gort_run(atomic_main, (void *)per)), 0));
    cr_assert(eq(i64, gort_atomic_load_int64(&acount), 8 * per));
}

Test(atomic, calls_follow_go_semantics)
{
    uint32_t u = 5;
    cr_assert(eq(u32, gort_atomic_add_uint32(&u, ~(uint32_t)0), 4)); /* -1 */
    cr_assert(eq(u32, gort_atomic_swap_uint32(&u, 9), 4));
    cr_assert(not(gort_atomic_cas_uint32(&u, 4, 1)));
    cr_assert(gort_atomic_cas_uint32(&u, 9, 1));
    cr_assert(eq(u32, gort_atomic_or_uint32(&u, 6), 1));
    cr_assert(eq(u32, gort_atomic_and_uint32(&u, 3), 7));
    cr_assert(eq(u32, gort_atomic_load_uint32(&u), 3));
    int32_t i = 0;
    gort_atomic_store_int32(&i, -7);
    cr_assert(eq(i32, gort_atomic_add_int32(&i, 2), -5));
    uint64_t big = UINT64_MAX;
    cr_assert(eq(u64, gort_atomic_add_uint64(&big, 1), 0));
    uintptr_t up = 1;
    cr_assert(eq(u64, gort_atomic_add_uintptr(&up, 1), 2));
    int x, y;
    void *p = &x;
    cr_assert(eq(ptr, gort_atomic_load_pointer(&p), (void *)&x));
    cr_assert(gort_atomic_cas_pointer(&p, &x, &y));
    cr_assert(eq(ptr, gort_atomic_swap_pointer(&p, NULL), (void *)&y));
    gort_atomic_store_pointer(&p, &x);
    int *typed = &x;
    cr_assert(GORT_ATOMIC_CAS(&typed, &x, &y));
    cr_assert(eq(ptr, GORT_ATOMIC_LOAD(&typed), &y));
    cr_assert(eq(ptr, GORT_ATOMIC_SWAP(&typed, &x), &y));
}

