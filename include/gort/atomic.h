/*
 * gort/atomic.h: Go's sync/atomic for C (include it yourself; <gort.h>
 * does not). Header-only: every call is a static inline function over the
 * GCC/Clang __atomic builtins, so it compiles to the same instruction Go
 * uses (x86-64: `lock xadd` for add, `xchg` for store and swap, `lock
 * cmpxchg` for compare-and-swap, a plain `mov` for load).
 *
 * Shape: the functions take plain pointers (`int64_t *`, not `_Atomic
 * int64_t *`), as Go's take `*int64`, so Go code ports line by line:
 *
 *     atomic.AddInt64(&n, 1)              gort_atomic_add_int64(&n, 1)
 *     atomic.CompareAndSwapUint32(&f,0,1) gort_atomic_cas_uint32(&f, 0, 1)
 *     atomic.LoadPointer(&p)              gort_atomic_load_pointer(&p)
 *
 * Every operation is sequentially consistent (memory_order_seq_cst), as
 * all of sync/atomic is in the Go memory model. The same variable may also
 * be read with C11 <stdatomic.h> calls if it is declared _Atomic; mixing
 * plain non-atomic accesses with these on one variable at the same time is
 * a data race, as in Go. 64-bit operands must be 8-byte aligned (always
 * true for int64_t/uint64_t objects on the supported 64-bit targets). All
 * calls are safe from any thread, inside or outside the runtime, and never
 * park.
 *
 * Families (T in int32, int64, uint32, uint64, uintptr):
 *   gort_atomic_add_T(p, delta)     *p += delta; returns the NEW value
 *                                   (Go: AddT). Subtract with a negative
 *                                   delta, or for unsigned T with
 *                                   ~(T)(n - 1) as Go does.
 *   gort_atomic_load_T(p)           returns *p (Go: LoadT)
 *   gort_atomic_store_T(p, v)       *p = v (Go: StoreT)
 *   gort_atomic_swap_T(p, v)        *p = v; returns the OLD value (Go: SwapT)
 *   gort_atomic_cas_T(p, old, new)  if *p == old { *p = new; true } else
 *                                   false (Go: CompareAndSwapT)
 *   gort_atomic_and_T(p, mask)      *p &= mask; returns the OLD value
 *   gort_atomic_or_T(p, mask)       *p |= mask; returns the OLD value
 *                                   (Go 1.23: AndT / OrT)
 * Pointers (Go: LoadPointer, StorePointer, SwapPointer,
 * CompareAndSwapPointer on *unsafe.Pointer): gort_atomic_load_pointer,
 * gort_atomic_store_pointer, gort_atomic_swap_pointer,
 * gort_atomic_cas_pointer on `void **`. For a typed pointer variable
 * (`struct node *head`) use the type-generic macros GORT_ATOMIC_LOAD,
 * GORT_ATOMIC_STORE, GORT_ATOMIC_SWAP and GORT_ATOMIC_CAS below, which work
 * on any scalar or pointer lvalue of size 1, 2, 4 or 8 and avoid casts.
 */
#ifndef GORT_ATOMIC_H
#define GORT_ATOMIC_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* GORT_ATOMIC_DEFINE_ defines the seven calls for one integer type. */
#define GORT_ATOMIC_DEFINE_(name, T)                                         \
    /* gort_atomic_add_##name: *p += delta; returns the new value. */        \
    static inline T gort_atomic_add_##name(T *p, T delta)                    \
    {                                                                        \
        return __atomic_add_fetch(p, delta, __ATOMIC_SEQ_CST);               \
    }                                                                        \
    /* gort_atomic_load_##name: returns *p. */                               \
    static inline T gort_atomic_load_##name(const T *p)                      \
    {                                                                        \
        return __atomic_load_n(p, __ATOMIC_SEQ_CST);                         \
    }                                                                        \
    /* gort_atomic_store_##name: *p = v. */                                  \
    static inline void gort_atomic_store_##name(T *p, T v)                   \
    {                                                                        \
        __atomic_store_n(p, v, __ATOMIC_SEQ_CST);                            \
    }                                                                        \
    /* gort_atomic_swap_##name: *p = v; returns the old value. */            \
    static inline T gort_atomic_swap_##name(T *p, T v)                       \
    {                                                                        \
        return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);                  \
    }                                                                        \
    /* gort_atomic_cas_##name: *p = new if *p == old; true if swapped. */    \
    static inline bool gort_atomic_cas_##name(T *p, T old, T new_)           \
    {                                                                        \
        return __atomic_compare_exchange_n(p, &old, new_, 0,                 \
                                           __ATOMIC_SEQ_CST,                 \
                                           __ATOMIC_SEQ_CST);                \
    }                                                                        \
    /* gort_atomic_and_##name: *p &= mask; returns the old value. */         \
    static inline T gort_atomic_and_##name(T *p, T mask)                     \
    {                                                                        \
        return __atomic_fetch_and(p, mask, __ATOMIC_SEQ_CST);                \
    }                                                                        \
    /* gort_atomic_or_##name: *p |= mask; returns the old value. */          \
    static inline T gort_atomic_or_##name(T *p, T mask)                      \
    {                                                                        \
        return __atomic_fetch_or(p, mask, __ATOMIC_SEQ_CST);                 \
    }

GORT_ATOMIC_DEFINE_(int32, int32_t)
GORT_ATOMIC_DEFINE_(int64, int64_t)
GORT_ATOMIC_DEFINE_(uint32, uint32_t)
GORT_ATOMIC_DEFINE_(uint64, uint64_t)
GORT_ATOMIC_DEFINE_(uintptr, uintptr_t)

/* gort_atomic_load_pointer returns *p (Go: LoadPointer). */
static inline void *gort_atomic_load_pointer(void *const *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

/* gort_atomic_store_pointer sets *p = v (Go: StorePointer). */
static inline void gort_atomic_store_pointer(void **p, void *v)
{
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

/* gort_atomic_swap_pointer sets *p = v and returns the old value (Go:
 * SwapPointer). */
static inline void *gort_atomic_swap_pointer(void **p, void *v)
{
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}

/* gort_atomic_cas_pointer sets *p = new_ if *p == old and returns whether
 * it did (Go: CompareAndSwapPointer). */
static inline bool gort_atomic_cas_pointer(void **p, void *old, void *new_)
{
    return __atomic_compare_exchange_n(p, &old, new_, 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

/* Type-generic forms for any scalar or pointer lvalue `*p` (seq_cst). */
#define GORT_ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define GORT_ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define GORT_ATOMIC_SWAP(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
/* GORT_ATOMIC_CAS evaluates to true if *p was old and is now new_. */
#define GORT_ATOMIC_CAS(p, old, new_)                                        \
    __extension__({                                                          \
        __typeof__(*(p)) gort_atomic_old_ = (old);                           \
        __atomic_compare_exchange_n((p), &gort_atomic_old_, (new_), 0,       \
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);     \
    })

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GORT_ATOMIC_H */
