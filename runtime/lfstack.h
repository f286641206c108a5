/*
 * lfstack.h: a lock-free LIFO of nodes that are never freed while in use
 * (Go: lfstack.go). ABA is prevented by pairing the top pointer with a
 * counter updated by one double-width CAS, the primitive C11 does not give
 * portably and libatomic_ops does (AO_compare_double_and_swap_double).
 *
 * Invariants: a node is on at most one stack; its link word belongs to the
 * stack while it is on it. A pop may read the link of a node that another
 * thread just popped and reused; the counter then makes the CAS fail, and
 * the read is harmless because nodes stay mapped (type-stable memory).
 */
#ifndef GORT_LFSTACK_H
#define GORT_LFSTACK_H

#include <stddef.h>

/* On x86-64 the Makefile passes -mcx16, which makes the compiler announce
 * cmpxchg16b and libatomic_ops use it inline. */
#include <atomic_ops.h>

#ifndef AO_HAVE_compare_double_and_swap_double_full
#error "gort: libatomic_ops offers no double-width CAS on this target"
#endif

struct lfstack {
    volatile AO_double_t top; /* AO_val1: node, AO_val2: push count */
#if defined(__SANITIZE_THREAD__)
    _Atomic int tsan_lock;    /* see lfstack_tsan_lock */
#endif
};

#if defined(__SANITIZE_THREAD__)
/* TSan cannot see the happens-before that cmpxchg16b in inline assembly
 * creates, and would report every reuse of a popped node as a race. Under
 * TSan the stack is therefore serialised by a C11 spinlock it does see. */
#include <stdatomic.h>
static inline void lfstack_tsan_lock(struct lfstack *s)
{
    while (atomic_exchange_explicit(&s->tsan_lock, 1, memory_order_acquire))
        ;
}
static inline void lfstack_tsan_unlock(struct lfstack *s)
{
    atomic_store_explicit(&s->tsan_lock, 0, memory_order_release);
}
#else
#define lfstack_tsan_lock(s) ((void)(s))
#define lfstack_tsan_unlock(s) ((void)(s))
#endif

/* lfstack_push pushes node, whose link word is *link. */
static inline void lfstack_push(struct lfstack *s, void *node, void **link)
{
    lfstack_tsan_lock(s);
    for (;;) {
        AO_double_t old = s->top; /* torn reads fail the CAS below */
        __atomic_store_n(link, (void *)old.AO_val1, __ATOMIC_RELAXED);
        /* CAS-full: publishes *link with node; pairs with lfstack_pop. */
        if (AO_compare_double_and_swap_double_full(
                &s->top, old.AO_val1, old.AO_val2, (AO_t)node,
                old.AO_val2 + 1))
            break;
    }
    lfstack_tsan_unlock(s);
}

/* lfstack_pop pops a node (link_off: offset of its link word) or returns
 * NULL when the stack is empty. */
static inline void *lfstack_pop(struct lfstack *s, size_t link_off)
{
    lfstack_tsan_lock(s);
    for (;;) {
        AO_double_t old = s->top;
        char *node = (char *)old.AO_val1;
        if (!node) {
            lfstack_tsan_unlock(s);
            return NULL;
        }
        void *next = __atomic_load_n((void **)(node + link_off),
                                     __ATOMIC_ACQUIRE);
        if (AO_compare_double_and_swap_double_full(
                &s->top, old.AO_val1, old.AO_val2, (AO_t)next,
                old.AO_val2 + 1)) {
            lfstack_tsan_unlock(s);
            return node;
        }
    }
}

#endif /* GORT_LFSTACK_H */
