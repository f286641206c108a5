/*
 * timerq.h: a P's timer queue (timerq.c): its entries and the calls that
 * timer.c makes on it. Internal; caller holds ts->lock throughout.
 */
#ifndef GORT_TIMERQ_H
#define GORT_TIMERQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime.h"
#include "timer.h"

/*
 * A heap entry is a tagged word. Untagged, it is a timer whose idx the
 * heap keeps. Tagged, it is one that is never taken off a heap except by
 * firing, so no idx is kept for it, and sifting moves entries within the
 * two dense arrays without ever writing outside them:
 *  - E_HANDOFF: a TIMER_HANDOFF timer (gort_after's);
 *  - E_SLEEPER: a goroutine in gort_sleep, named directly, since all its
 *    firing does is ready it (Go: goroutineReady). A sleeper's timer on
 *    its own stack would be a TLB miss and a cache miss per firing: its
 *    descriptor is dense and touched by gort__ready anyway.
 */
#define E_HANDOFF ((uintptr_t)1)
#define E_SLEEPER ((uintptr_t)2)
#define E_TAGS (E_HANDOFF | E_SLEEPER)
_Static_assert(_Alignof(struct timer) > E_TAGS && _Alignof(struct g) > E_TAGS,
               "heap entries keep their tags in the low bits of a pointer");

static inline struct timer *entry_timer(uintptr_t e)
{
    return (struct timer *)(e & ~E_TAGS);
}

/* entry_g returns the goroutine an E_SLEEPER entry names. */
static inline struct g *entry_g(uintptr_t e)
{
    return (struct g *)(e & ~E_TAGS);
}

static inline uintptr_t timer_entry(struct timer *t)
{
    return (uintptr_t)t | ((t->state & TIMER_HANDOFF) ? E_HANDOFF : 0);
}

static inline int64_t heap_min(const struct timers *ts)
{
    return ts->len ? ts->whens[0] : 0;
}

static inline int64_t fifo_min(const struct timers *ts)
{
    return ts->fifo.len ? ts->fifo.slot[ts->fifo.head].when : 0;
}

/* ts_next returns the earliest when on ts, 0 if it holds nothing. */
static inline int64_t ts_next(const struct timers *ts)
{
    int64_t h = heap_min(ts), f = fifo_min(ts);
    return !h ? f : !f ? h : h < f ? h : f;
}

/* due_head says where the earliest entry due at now is, if any. */
enum due { DUE_NONE, DUE_FIFO, DUE_HEAP_TAGGED, DUE_HEAP_TIMER };

static inline enum due due_head(const struct timers *ts, int64_t now)
{
    int64_t h = heap_min(ts), f = fifo_min(ts);
    if (f && f <= now && (!h || f <= h))
        return DUE_FIFO;
    if (h && h <= now)
        return (ts->heap[0] & E_TAGS) ? DUE_HEAP_TAGGED : DUE_HEAP_TIMER;
    return DUE_NONE;
}

/* gort__tq_heap_put puts entry e on ts's heap, due at when. */
__attribute__((visibility("hidden"))) void gort__tq_heap_put(
    struct timers *ts, uintptr_t e, int64_t when);
/* gort__tq_heap_del takes the entry at heap slot i off and returns it. */
__attribute__((visibility("hidden"))) uintptr_t gort__tq_heap_del(
    struct timers *ts, size_t i);
/* gort__tq_heap_fix restores heap order after whens[i] changed. */
__attribute__((visibility("hidden"))) void gort__tq_heap_fix(
    struct timers *ts, size_t i);
/* gort__tq_put_tagged puts tagged entry e on ts, due at when: on the
 * in-order queue if it keeps it in order, else on the heap. */
__attribute__((visibility("hidden"))) void gort__tq_put_tagged(
    struct timers *ts, uintptr_t e, int64_t when);
/* gort__tq_fifo_pop takes the in-order queue's head off and returns it. */
__attribute__((visibility("hidden"))) uintptr_t gort__tq_fifo_pop(
    struct timers *ts);
/* gort__tq_free frees ts's arrays. */
__attribute__((visibility("hidden"))) void gort__tq_free(struct timers *ts);

#endif /* GORT_TIMERQ_H */
